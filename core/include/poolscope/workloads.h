#pragma once
// The demo workload catalogue (docs/architecture.md).
//
// A workload is a registered task (registry.h, so it runs on either pool by
// name) plus a plan that turns "how many tasks, how big" into the arguments
// of each task. The GUI and the CLI list Workloads::all(), let the user pick
// tasks / size / knobs, check them with validate() and launch them with
// submit() on whichever executor is selected.
//
//     WorkloadRun run = Workloads::find("primes")->defaultRun();
//     run.tasks = 8;
//     for (auto& f : Workloads::submit(pool, "primes", run))
//         total += f.result().toInteger();
//
// Every task reports progress (TaskContext::setProgress), honours stop
// requests, and gives results that depend only on its arguments, so the same
// run gives the same results on every pool and machine. "Interpreted" tasks
// poll the simulated GIL every few microseconds; "native" ones
// (releasesGil) and I/O release it (gil.h).
//
// The catalogue, with the size unit and what the result is:
//   primes, primes_native   numbers per task   prime count of the task's range
//   mandelbrot              rows per band      {x, y, w, h, width, height,
//                                              max_iter, iterations: bytes}
//   matmul, matmul_native   matrix order n     checksum (integer)
//   montecarlo_pi           samples per task   hits in the quarter circle
//   hash, hash_native       bytes per task     FNV-1a 64 hex digest
//   sleep                   milliseconds       ms
//   file_io                 bytes per task     bytes verified
//   cpu_then_wait           numbers per task   prime count (then waits)
//   long_tail               base numbers       prime count (skewed ranges)
//   throws                  numbers per task   prime count, or an exception
//   crash, hang             milliseconds       task index (process pool only)
//   pipeline                numbers per item   {index, count, sum, min, max, median}

#include "executor.h"
#include "future.h"

#include <QCborArray>
#include <QCborValue>
#include <QList>
#include <QMap>
#include <QString>
#include <QStringList>

#include <functional>

namespace poolscope {

/// An integer knob of a workload beyond task count and size.
struct WorkloadParam {
    QString name;
    QString description;
    qint64 defaultValue = 0;
    qint64 minimum = 0;
    qint64 maximum = 0;
};

/// What the user asked for. Knobs not given take their default.
struct WorkloadRun {
    int tasks = 0;   // how many tasks (pipeline: items, each two tasks)
    qint64 size = 0; // per-task work unit, see Workload::sizeUnit
    QMap<QString, qint64> knobs;
};

struct Workload {
    QString name;
    QString description; // one or two sentences for the lesson panel
    QString kind;        // "cpu", "io", "mixed", "pathological" or "pipeline"
    QString taskName;    // the registered task each item runs (pipeline: stage 1)
    QString sizeUnit;    // what size counts, e.g. "numbers per task", "ms"
    int defaultTasks = 1;
    int maxTasks = 1;
    qint64 defaultSize = 1;
    qint64 minSize = 1;
    qint64 maxSize = 1;
    QList<WorkloadParam> knobs;
    /// Crashes or hangs: refused on a thread pool (it would take the program down).
    bool processOnly = false;
    /// "Native" kernel or I/O: gives the simulated GIL up while it works.
    bool releasesGil = false;
    /// Arguments of each task, in submission order (run already validated).
    std::function<QList<QCborArray>(const WorkloadRun&)> plan;
    /// Optional: submits everything itself and returns one future per final
    /// result (pipeline). When set, submit() calls it instead of plan.
    std::function<QList<Future<QCborValue>>(Executor&, const WorkloadRun&)> drive;
    /// Optional cross-parameter rule (e.g. image height); empty when fine.
    std::function<QString(const WorkloadRun&)> check;

    /// defaultTasks, defaultSize and every knob at its default.
    WorkloadRun defaultRun() const;
    /// The knob's value in run, or its default; 0 for an unknown knob.
    qint64 knob(const WorkloadRun& run, const QString& knobName) const;
    const WorkloadParam* findKnob(const QString& knobName) const;
};

class Workloads {
public:
    /// The whole catalogue, in display order. Built once; thread-safe.
    static const QList<Workload>& all();
    static QStringList names();
    /// nullptr when unknown.
    static const Workload* find(const QString& name);
    /// Empty when run is acceptable for the workload, else one clear sentence
    /// (unknown workload, task count, size or knob out of range, unknown knob).
    /// With poolKind "thread", process-only workloads are refused too.
    static QString validate(const QString& name, const WorkloadRun& run,
                            const QString& poolKind = {});
    /// Submits the run to executor (through submitNamed, so any pool works)
    /// and returns one future per task (pipeline: per item, completing when
    /// its stage 2 does). Throws InvalidArgument with validate()'s sentence
    /// (pool kind included); ShutdownError / BrokenExecutor like submitNamed.
    /// For a pipeline, stage 2 is submitted from stage 1's done callback: keep
    /// the executor alive until the futures are done; if it was shut down in
    /// between, the item fails with ShutdownError.
    static QList<Future<QCborValue>> submit(Executor& executor, const QString& name,
                                            const WorkloadRun& run);
};

namespace workloads {
/// The long_tail plan's size multiplier of task `index`: a Pareto(alpha)
/// draw, alpha = alphaPercent / 100, from u = (splitmix64(seed * 1000003 +
/// index) >> 11) / 2^53 as floor((1 - u)^(-1 / alpha)), capped at cap.
/// Deterministic and >= 1. Exposed for tests and the lesson panel.
qint64 longTailFactor(qint64 index, qint64 seed, qint64 alphaPercent, qint64 cap);
} // namespace workloads

} // namespace poolscope
