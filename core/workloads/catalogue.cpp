// Workloads: the catalogue of demo runs (workloads.h). Each entry names a
// registered task (cpu.cpp, io.cpp, mixed.cpp) and plans its arguments.
//
// Default sizes are tuned so a default run takes about 1-3 s on one core in
// a Release build: the CPU-bound ones measured 1.2-1.8 s of CPU on the dev
// VM; sleep, file_io and cpu_then_wait about 2 s, 1-2 s and 1.5 s of wall.
#include "poolscope/workloads.h"

#include "kernels.h"

#include "poolscope/errors.h"

#include <QCborMap>

#include <cmath>
#include <memory>

namespace poolscope {

// ------------------------------------------------------------------ Workload

WorkloadRun Workload::defaultRun() const
{
    WorkloadRun run;
    run.tasks = defaultTasks;
    run.size = defaultSize;
    for (const auto& k : knobs)
        run.knobs.insert(k.name, k.defaultValue);
    return run;
}

const WorkloadParam* Workload::findKnob(const QString& knobName) const
{
    for (const auto& k : knobs) {
        if (k.name == knobName)
            return &k;
    }
    return nullptr;
}

qint64 Workload::knob(const WorkloadRun& run, const QString& knobName) const
{
    const auto it = run.knobs.constFind(knobName);
    if (it != run.knobs.cend())
        return *it;
    const WorkloadParam* k = findKnob(knobName);
    return k ? k->defaultValue : 0;
}

namespace workloads {

qint64 longTailFactor(qint64 index, qint64 seed, qint64 alphaPercent, qint64 cap)
{
    quint64 state = quint64(seed) * 1000003ULL + quint64(index);
    const double u = double(splitmix64(state) >> 11) / double(quint64(1) << 53); // [0, 1)
    const double alpha = double(std::max<qint64>(1, alphaPercent)) / 100.0;
    const double f = std::floor(std::pow(1.0 - u, -1.0 / alpha));
    return std::clamp<qint64>(f >= double(cap) ? cap : qint64(f), 1, std::max<qint64>(1, cap));
}

namespace {

using Args = QList<QCborArray>;

WorkloadParam param(const char* name, const char* description, qint64 def, qint64 lo, qint64 hi)
{
    return WorkloadParam{QString::fromLatin1(name), QString::fromUtf8(description), def, lo, hi};
}

WorkloadParam startKnob(qint64 def)
{
    return param("start", "first number of task 0's range (later tasks continue from it)", def, 0,
                 1'000'000'000'000LL);
}

WorkloadParam seedKnob(qint64 def)
{
    return param("seed", "seed of task 0 (task i uses seed + i)", def, 0, 1'000'000'000);
}

/// Task i counts over [start + i * size, start + (i + 1) * size): its
/// arguments are (lo, hi).
std::function<Args(const WorkloadRun&)> consecutiveRanges(const Workload& w)
{
    return [w](const WorkloadRun& run) {
        const qint64 start = w.knob(run, QStringLiteral("start"));
        Args out;
        out.reserve(run.tasks);
        for (qint64 i = 0; i < run.tasks; ++i)
            out.append(QCborArray{start + i * run.size, start + (i + 1) * run.size});
        return out;
    };
}

/// Task i gets (size, seed + i).
std::function<Args(const WorkloadRun&)> sizeAndSeed(const Workload& w)
{
    return [w](const WorkloadRun& run) {
        const qint64 seed = w.knob(run, QStringLiteral("seed"));
        Args out;
        out.reserve(run.tasks);
        for (qint64 i = 0; i < run.tasks; ++i)
            out.append(QCborArray{run.size, seed + i});
        return out;
    };
}

QList<Future<QCborValue>> drivePipeline(Executor& ex, const Workload& w, const WorkloadRun& run)
{
    const Args stage1 = w.plan(run);
    const qint64 failEvery = w.knob(run, QStringLiteral("fail_every"));
    const qint64 failStage2 = w.knob(run, QStringLiteral("fail_stage")) == 2 ? failEvery : 0;
    QList<Future<QCborValue>> out;
    out.reserve(stage1.size());
    Executor* exec = &ex;
    for (qsizetype i = 0; i < stage1.size(); ++i) {
        auto promise = std::make_shared<Promise<QCborValue>>();
        out.append(promise->future());
        Future<QCborValue> parse = ex.submitNamed(QStringLiteral("pipeline_parse"), stage1.at(i));
        // Runs in the thread that finished stage 1 (or here, if it already has).
        parse.addDoneCallback([exec, promise, i, failStage2](const Future<QCborValue>& f) {
            if (f.cancelled()) {
                promise->cancel();
                return;
            }
            if (auto e = f.exception()) {
                promise->setException(e);
                return;
            }
            try {
                const QCborArray args{qint64(i), f.result(), failStage2};
                Future<QCborValue> reduce =
                    exec->submitNamed(QStringLiteral("pipeline_reduce"), args);
                reduce.addDoneCallback([promise](const Future<QCborValue>& g) {
                    if (g.cancelled())
                        promise->cancel();
                    else if (auto e = g.exception())
                        promise->setException(e);
                    else
                        promise->setValue(g.result());
                });
            } catch (...) { // e.g. ShutdownError: the pool closed between the stages
                promise->setException(std::current_exception());
            }
        });
    }
    return out;
}

QList<Workload> buildCatalogue()
{
    QList<Workload> all;
    auto make = [](const char* name, const char* kind, const char* taskName, const char* unit,
                   const char* description) {
        Workload w;
        w.name = QString::fromLatin1(name);
        w.kind = QString::fromLatin1(kind);
        w.taskName = QString::fromLatin1(taskName);
        w.sizeUnit = QString::fromLatin1(unit);
        w.description = QString::fromUtf8(description);
        return w;
    };

    // ---- CPU-bound
    for (const bool native : {false, true}) {
        Workload w = make(native ? "primes_native" : "primes", "cpu",
                          native ? "primes_native" : "primes", "numbers per task",
                          native ? "Counts primes by trial division in a \"native\" kernel that "
                                   "releases the GIL: threads scale like processes."
                                 : "Counts primes by trial division, holding the GIL like pure "
                                   "Python: with the GIL on, threads share one core.");
        w.defaultTasks = 16;
        // Up to the run record's default limit: lesson 7 paces its tiny
        // tasks by their count (docs/lessons.md).
        w.maxTasks = 1'000'000;
        w.defaultSize = 300'000;
        w.minSize = 1;
        w.maxSize = 1'000'000'000;
        w.knobs = {startKnob(10'000'000)};
        w.releasesGil = native;
        w.plan = consecutiveRanges(w);
        all.append(w);
    }
    {
        Workload w = make("mandelbrot", "cpu", "mandelbrot", "rows per band",
                          "Renders the Mandelbrot set band by band; bands through the set cost "
                          "far more than the rest, so work is uneven.");
        w.defaultTasks = 16;
        w.maxTasks = 65'536;
        w.defaultSize = 64;
        w.minSize = 1;
        w.maxSize = 65'536;
        w.knobs = {param("width", "image width in pixels", 1600, 1, 65'536),
                   param("max_iter", "iteration cap per pixel", 2000, 1, 100'000)};
        w.check = [w](const WorkloadRun& run) -> QString {
            const qint64 height = qint64(run.tasks) * run.size;
            const qint64 width = w.knob(run, QStringLiteral("width"));
            if (height > 65'536)
                return QStringLiteral("the mandelbrot image would be %1 pixels high (tasks x "
                                      "size); the limit is 65536")
                    .arg(height);
            if (width * run.size > (qint64(1) << 28))
                return QStringLiteral("a mandelbrot band of %1 x %2 pixels is too large; the "
                                      "limit is 2^28 pixels per band")
                    .arg(width)
                    .arg(run.size);
            return {};
        };
        w.plan = [w](const WorkloadRun& run) {
            const qint64 width = w.knob(run, QStringLiteral("width"));
            const qint64 maxIter = w.knob(run, QStringLiteral("max_iter"));
            const qint64 height = qint64(run.tasks) * run.size;
            Args out;
            for (qint64 i = 0; i < run.tasks; ++i)
                out.append(QCborArray{0, i * run.size, width, run.size, width, height, maxIter});
            return out;
        };
        all.append(w);
    }
    for (const bool native : {false, true}) {
        Workload w = make(native ? "matmul_native" : "matmul", "cpu",
                          native ? "matmul_native" : "matmul", "matrix order n",
                          native ? "Multiplies n x n matrices in a \"native\" kernel that "
                                   "releases the GIL, like NumPy."
                                 : "Multiplies n x n matrices in \"interpreted\" loops that hold "
                                   "the GIL.");
        w.defaultTasks = 8;
        w.maxTasks = 10'000;
        w.defaultSize = 768;
        w.minSize = 1;
        w.maxSize = 1024;
        w.knobs = {seedKnob(1)};
        w.releasesGil = native;
        w.plan = sizeAndSeed(w);
        all.append(w);
    }
    {
        Workload w = make("montecarlo_pi", "cpu", "montecarlo_pi", "samples per task",
                          "Estimates pi by throwing seeded random darts; add the hits of all "
                          "tasks: pi ~ 4 * hits / samples.");
        w.defaultTasks = 16;
        w.maxTasks = 100'000;
        w.defaultSize = 10'000'000;
        w.minSize = 1;
        w.maxSize = 10'000'000'000LL;
        w.knobs = {seedKnob(42)};
        w.plan = sizeAndSeed(w);
        all.append(w);
    }
    for (const bool native : {false, true}) {
        Workload w = make(native ? "hash_native" : "hash", "cpu", native ? "hash_native" : "hash",
                          "bytes per task",
                          native ? "Hashes generated data with the GIL released, as hashlib "
                                   "does for large buffers."
                                 : "Hashes generated data (FNV-1a) byte by byte, holding the "
                                   "GIL.");
        w.defaultTasks = 16;
        w.maxTasks = 100'000;
        w.defaultSize = 64 << 20;
        w.minSize = 0;
        w.maxSize = qint64(1) << 32;
        w.knobs = {seedKnob(1)};
        w.releasesGil = native;
        w.plan = sizeAndSeed(w);
        all.append(w);
    }

    // ---- I/O-bound
    {
        Workload w = make("sleep", "io", "sleep", "ms",
                          "Sleeps without the GIL, like waiting for a server: threads overlap "
                          "the waits even with the GIL on.");
        w.defaultTasks = 20;
        w.maxTasks = 1'000'000; // size 0: tasks that return at once (recording at scale)
        w.defaultSize = 100;
        w.minSize = 0;
        w.maxSize = 3'600'000;
        w.releasesGil = true;
        w.plan = [](const WorkloadRun& run) {
            Args out;
            for (qint64 i = 0; i < run.tasks; ++i)
                out.append(QCborArray{run.size});
            return out;
        };
        all.append(w);
    }
    {
        Workload w = make("file_io", "io", "file_io", "bytes per task",
                          "Writes a real temporary file, fsyncs it, reads it back and checks "
                          "it; the file is removed however the task ends.");
        w.defaultTasks = 16;
        w.maxTasks = 10'000;
        w.defaultSize = 32 << 20;
        w.minSize = 0;
        w.maxSize = 1 << 30;
        w.knobs = {seedKnob(1)};
        w.releasesGil = true;
        w.plan = sizeAndSeed(w);
        all.append(w);
    }

    // ---- mixed and pathological
    {
        Workload w = make("cpu_then_wait", "mixed", "cpu_then_wait", "numbers per task",
                          "Counts primes, then waits: like a request handler that computes and "
                          "then queries a database.");
        w.defaultTasks = 16;
        w.maxTasks = 100'000;
        w.defaultSize = 100'000;
        w.minSize = 0;
        w.maxSize = 1'000'000'000;
        w.knobs = {
            startKnob(10'000'000),
            param("wait_ms", "milliseconds each task waits after computing", 60, 0, 3'600'000)};
        w.plan = [w, ranges = consecutiveRanges(w)](const WorkloadRun& run) {
            Args out = ranges(run); // (lo, hi) + (wait_ms)
            const qint64 wait = w.knob(run, QStringLiteral("wait_ms"));
            for (auto& a : out)
                a.append(wait);
            return out;
        };
        all.append(w);
    }
    {
        Workload w = make("long_tail", "mixed", "long_tail", "base numbers per task",
                          "Counts primes over ranges whose lengths follow a heavy-tailed "
                          "(Pareto) law: a few stragglers decide when the batch ends.");
        w.defaultTasks = 32;
        w.maxTasks = 100'000;
        w.defaultSize = 50'000;
        w.minSize = 1;
        w.maxSize = 100'000'000;
        w.knobs = {startKnob(10'000'000),
                   param("alpha_percent",
                         "Pareto shape x 100: smaller means a heavier tail (150 = 1.5)", 150, 101,
                         1000),
                   param("cap", "largest size multiplier", 50, 1, 10'000), seedKnob(1)};
        w.plan = [w](const WorkloadRun& run) {
            const qint64 start = w.knob(run, QStringLiteral("start"));
            const qint64 alpha = w.knob(run, QStringLiteral("alpha_percent"));
            const qint64 cap = w.knob(run, QStringLiteral("cap"));
            const qint64 seed = w.knob(run, QStringLiteral("seed"));
            // Consecutive ranges, as the start knob says: each task its own
            // numbers (and its own result), only their lengths skewed.
            Args out;
            qint64 lo = start;
            for (qint64 i = 0; i < run.tasks; ++i) {
                const qint64 hi = lo + run.size * longTailFactor(i, seed, alpha, cap);
                out.append(QCborArray{lo, hi});
                lo = hi;
            }
            return out;
        };
        all.append(w);
    }
    {
        Workload w = make("throws", "pathological", "throws", "numbers per task",
                          "Counts primes; every k-th task throws half-way. The futures carry "
                          "the exceptions; the pool keeps going.");
        w.defaultTasks = 20;
        w.maxTasks = 100'000;
        w.defaultSize = 240'000;
        w.minSize = 0;
        w.maxSize = 1'000'000'000;
        w.knobs = {param("every", "every k-th task throws (k)", 5, 1, 100'000),
                   startKnob(10'000'000)};
        w.plan = [w, ranges = consecutiveRanges(w)](const WorkloadRun& run) {
            const qint64 every = w.knob(run, QStringLiteral("every"));
            Args out = ranges(run); // (index, every) + (lo, hi)
            for (qsizetype i = 0; i < out.size(); ++i) {
                QCborArray a{qint64(i), every};
                for (const auto& v : out.at(i))
                    a.append(v);
                out[i] = a;
            }
            return out;
        };
        all.append(w);
    }
    {
        Workload w = make("crash", "pathological", "crash", "ms",
                          "Every k-th task kills its worker process (segfault, abort or exit): "
                          "the process pool survives and reports it. Process pool only.");
        w.defaultTasks = 8;
        w.maxTasks = 10'000;
        w.defaultSize = 200;
        w.minSize = 0;
        w.maxSize = 3'600'000;
        w.knobs = {
            param("every", "every k-th task crashes (k)", 4, 1, 10'000),
            param("mode", "0 = segfault (raise SIGSEGV), 1 = abort(), 2 = _exit(code)", 0, 0, 2),
            param("exit_code", "exit code for mode 2", 3, 0, 255)};
        w.processOnly = true;
        w.releasesGil = true;
        w.plan = [w](const WorkloadRun& run) {
            static const char* const modes[] = {"segfault", "abort", "exit"};
            const qint64 every = w.knob(run, QStringLiteral("every"));
            const QString mode = QString::fromLatin1(
                modes[std::clamp<qint64>(w.knob(run, QStringLiteral("mode")), 0, 2)]);
            const qint64 code = w.knob(run, QStringLiteral("exit_code"));
            Args out;
            for (qint64 i = 0; i < run.tasks; ++i)
                out.append(QCborArray{i, every, mode, code, run.size});
            return out;
        };
        all.append(w);
    }
    {
        Workload w = make("hang", "pathological", "hang", "ms",
                          "Every k-th task never ends unless stopped: shows timeouts and "
                          "stopping. Process pool only.");
        w.defaultTasks = 8;
        w.maxTasks = 10'000;
        w.defaultSize = 200;
        w.minSize = 0;
        w.maxSize = 3'600'000;
        w.knobs = {param("every", "every k-th task hangs (k)", 4, 1, 10'000)};
        w.processOnly = true;
        w.releasesGil = true;
        w.plan = [w](const WorkloadRun& run) {
            const qint64 every = w.knob(run, QStringLiteral("every"));
            Args out;
            for (qint64 i = 0; i < run.tasks; ++i)
                out.append(QCborArray{i, every, run.size});
            return out;
        };
        all.append(w);
    }

    // ---- pipeline
    {
        Workload w = make("pipeline", "pipeline", "pipeline_parse", "numbers per item",
                          "Two stages per item: pipeline_parse makes the data, pipeline_reduce "
                          "summarises it and starts when its parse is done. Errors of either "
                          "stage reach the item's future.");
        w.defaultTasks = 16;
        w.maxTasks = 10'000;
        w.defaultSize = 800'000;
        w.minSize = 0;
        w.maxSize = qint64(1) << 24;
        w.knobs = {seedKnob(7),
                   param("fail_every", "every k-th item fails (0 = none)", 0, 0, 10'000),
                   param("fail_stage", "the stage that fails: 1 (parse) or 2 (reduce)", 2, 1, 2)};
        w.plan = [w](const WorkloadRun& run) {
            const qint64 seed = w.knob(run, QStringLiteral("seed"));
            const qint64 failEvery = w.knob(run, QStringLiteral("fail_every"));
            const qint64 fail1 = w.knob(run, QStringLiteral("fail_stage")) == 1 ? failEvery : 0;
            Args out;
            for (qint64 i = 0; i < run.tasks; ++i)
                out.append(QCborArray{i, run.size, seed, fail1});
            return out;
        };
        w.drive = [w](Executor& ex, const WorkloadRun& run) { return drivePipeline(ex, w, run); };
        all.append(w);
    }
    return all;
}

} // namespace
} // namespace workloads

// ----------------------------------------------------------------- Workloads

const QList<Workload>& Workloads::all()
{
    static const QList<Workload> catalogue = workloads::buildCatalogue();
    return catalogue;
}

QStringList Workloads::names()
{
    QStringList out;
    for (const auto& w : all())
        out.append(w.name);
    return out;
}

const Workload* Workloads::find(const QString& name)
{
    for (const auto& w : all()) {
        if (w.name == name)
            return &w;
    }
    return nullptr;
}

QString Workloads::validate(const QString& name, const WorkloadRun& run, const QString& poolKind)
{
    const Workload* w = find(name);
    if (!w)
        return QStringLiteral("unknown workload '%1' (known workloads: %2)")
            .arg(name, names().join(QStringLiteral(", ")));
    if (run.tasks < 1)
        return QStringLiteral("workload '%1' needs at least 1 task, got %2")
            .arg(name)
            .arg(run.tasks);
    if (run.tasks > w->maxTasks)
        return QStringLiteral("workload '%1' allows at most %2 tasks, got %3")
            .arg(name)
            .arg(w->maxTasks)
            .arg(run.tasks);
    if (run.size < w->minSize || run.size > w->maxSize)
        return QStringLiteral("the size of workload '%1' (%2) must be between %3 and %4, got %5")
            .arg(name, w->sizeUnit)
            .arg(w->minSize)
            .arg(w->maxSize)
            .arg(run.size);
    for (auto it = run.knobs.cbegin(); it != run.knobs.cend(); ++it) {
        const WorkloadParam* k = w->findKnob(it.key());
        if (!k) {
            QStringList known;
            for (const auto& p : w->knobs)
                known.append(p.name);
            return known.isEmpty()
                       ? QStringLiteral("workload '%1' has no knob '%2' (it has no knobs)")
                             .arg(name, it.key())
                       : QStringLiteral("workload '%1' has no knob '%2' (its knobs: %3)")
                             .arg(name, it.key(), known.join(QStringLiteral(", ")));
        }
        if (*it < k->minimum || *it > k->maximum)
            return QStringLiteral("knob '%1' of workload '%2' must be between %3 and %4, got %5")
                .arg(k->name, name)
                .arg(k->minimum)
                .arg(k->maximum)
                .arg(*it);
    }
    if (w->check) {
        const QString why = w->check(run);
        if (!why.isEmpty())
            return why;
    }
    if (w->processOnly && poolKind == QLatin1String("thread"))
        return QStringLiteral("workload '%1' can only run on a process pool: on a thread pool "
                              "it would take the whole program down")
            .arg(name);
    return {};
}

QList<Future<QCborValue>> Workloads::submit(Executor& executor, const QString& name,
                                            const WorkloadRun& run)
{
    const QString why = validate(name, run, executor.kind());
    if (!why.isEmpty())
        throw InvalidArgument(why.toStdString());
    const Workload* w = find(name);
    if (w->drive)
        return w->drive(executor, run);
    QList<Future<QCborValue>> out;
    const QList<QCborArray> plan = w->plan(run);
    out.reserve(plan.size());
    for (const auto& args : plan)
        out.append(executor.submitNamed(w->taskName, args));
    return out;
}

} // namespace poolscope
