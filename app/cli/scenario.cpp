#include "scenario.h"

#include <poolscope/cpusampler.h>
#include <poolscope/monitor.h>
#include <poolscope/processpool.h>
#include <poolscope/threadpool.h>
#include <poolscope/traceexport.h>
#ifdef POOLSCOPE_HAVE_MPI
#include <poolscope/mpipool.h>
#endif

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QSaveFile>
#include <QTimer>

#include <cstdio>
#include <memory>
#include <mutex>
#include <sys/resource.h>
#include <unistd.h>

namespace poolscope::cli {

namespace {
/// The run in progress, for liveRunReport() (another thread).
struct LiveRun {
    std::timed_mutex m;
    const Executor* executor = nullptr;
    const std::vector<std::pair<Future<QCborValue>, int>>* futures = nullptr; // (future, weight)
    qint64 totalItems = 0;
    QString workload;
    QString finalReport; // the last run's report, kept once it has returned
};
LiveRun& liveRun()
{
    // Never destroyed: the SIGTERM reporter thread (main.cpp) may read it
    // while the process is already running its static destructors.
    static LiveRun* r = new LiveRun;
    return *r;
}

QString bar(double fraction, int width)
{
    const int filled = int(fraction * width + 0.5);
    return QString(filled, QLatin1Char('#')) + QString(width - filled, QLatin1Char('.'));
}
} // namespace

bool haveMpiPool()
{
#ifdef POOLSCOPE_HAVE_MPI
    return true;
#else
    return false;
#endif
}

namespace {
QString reportLocked(const LiveRun& r)
{
    if (!r.executor)
        return r.finalReport;
    QString text = QStringLiteral("run of %1 on the %2 pool: ").arg(r.workload, r.executor->kind());
    if (!r.futures) {
        const Counters c = r.executor->counters();
        return text
               + QStringLiteral("interrupted while submitting: %1 task(s) succeeded, %2 failed, "
                                "%3 cancelled; %4 running and %5 queued did not complete")
                     .arg(c.succeeded)
                     .arg(c.failed)
                     .arg(c.cancelled)
                     .arg(c.running)
                     .arg(c.queued);
    }
    // From the futures alone, never from the pool: its lock may be held by
    // a thread stuck in the MPI runtime while mpirun is ending the job, and
    // this must print before mpirun's SIGKILL (1 s after its SIGTERM).
    qint64 ok = 0, bad = 0, cancelled = 0, running = 0, queued = 0;
    QStringList firstErrors;
    for (const auto& [f, weight] : *r.futures) {
        if (!f.done()) {
            (f.state() == FutureState::Running ? running : queued) += weight;
        } else if (f.state() == FutureState::Cancelled) {
            cancelled += weight;
        } else if (f.node()->error) {
            bad += weight;
            if (firstErrors.size() < 3)
                firstErrors << QString::fromStdString(describeException(f.node()->error));
        } else {
            ok += weight;
        }
    }
    text += QStringLiteral("%1 of %2 task(s) completed (%3 succeeded, %4 failed, %5 cancelled); "
                           "%6 did not complete (%7 running, %8 queued)")
                .arg(ok + bad + cancelled)
                .arg(r.totalItems)
                .arg(ok)
                .arg(bad)
                .arg(cancelled)
                .arg(running + queued)
                .arg(running)
                .arg(queued);
    for (const auto& e : firstErrors)
        text += QStringLiteral("\n  failed: ") + e;
    return text;
}
} // namespace

QString liveRunReport()
{
    LiveRun& r = liveRun();
    std::unique_lock lk(r.m, std::chrono::milliseconds(500));
    if (!lk.owns_lock())
        return QStringLiteral("the run's state could not be read within 0.5 s");
    return reportLocked(r);
}

bool writablePath(const QString& path, QString* why)
{
    const QFileInfo fi(path);
    const QFileInfo dir(fi.absolutePath());
    if (!dir.exists()) {
        *why = QStringLiteral("cannot write '%1': folder '%2' does not exist")
                   .arg(path, dir.absoluteFilePath());
        return false;
    }
    if (!dir.isDir()) {
        *why = QStringLiteral("cannot write '%1': '%2' is a file, not a folder")
                   .arg(path, dir.absoluteFilePath());
        return false;
    }
    if (fi.isDir()) {
        *why = QStringLiteral("cannot write '%1': it is a folder").arg(path);
        return false;
    }
    if (fi.exists() && !fi.isFile()) {
        // A device, FIFO or socket: the export saves through a temporary
        // file renamed over the target, which would replace it (as root,
        // --trace /dev/null would leave a regular file in its place).
        *why = QStringLiteral("cannot write '%1': not a regular file (a device, FIFO or socket "
                              "would be replaced by the export)")
                   .arg(path);
        return false;
    }
    if (const QString problem = exportTargetProblem(path); !problem.isEmpty()) {
        *why = QStringLiteral("cannot write '%1': %2").arg(path, problem);
        return false;
    }
    // Permission bits say little (root ignores them, /proc refuses new files
    // whatever they say): open it the way the export will, through a
    // QSaveFile, which creates its temporary file beside the target and
    // leaves the target itself alone; cancelling removes the temporary file.
    QSaveFile probe(path);
    if (!probe.open(QIODevice::WriteOnly)) {
        *why = fi.exists() ? QStringLiteral("cannot write '%1': %2").arg(path, probe.errorString())
                           : QStringLiteral("cannot write '%1': cannot create a file in '%2': %3")
                                 .arg(path, dir.absoluteFilePath(), probe.errorString());
        return false;
    }
    probe.cancelWriting();
    return true;
}

QString validate(const Scenario& s)
{
    if (!Workloads::find(s.workload))
        return QStringLiteral("unknown workload '%1' (try: poolscope-cli list)").arg(s.workload);
    if (s.pool == QLatin1String("mpi") && !haveMpiPool())
        return QStringLiteral("--pool mpi: this build has no MPI pool (install MPI, e.g. "
                              "libopenmpi-dev, and reconfigure; see docs/scale-out.md)");
    if (s.pool != QLatin1String("thread") && s.pool != QLatin1String("process")
        && s.pool != QLatin1String("mpi"))
        return QStringLiteral("unknown pool '%1': use thread, process or mpi").arg(s.pool);
    if (s.pool == QLatin1String("mpi") && s.timeoutS)
        return QStringLiteral("--timeout is not available on the MPI pool: a rank cannot be "
                              "terminated on its own (docs/scale-out.md)");
    if (s.workers < 0 || s.workers > Executor::maxWorkersLimit() || s.workers == 0)
        return QStringLiteral("--workers must be between 1 and %1 (got %2)")
            .arg(Executor::maxWorkersLimit())
            .arg(s.workers);
    if (s.gil && s.pool != QLatin1String("thread"))
        return QStringLiteral("--gil applies to the thread pool (every worker process has its "
                              "own interpreter lock)");
    if (s.switchIntervalMs < 1 || s.switchIntervalMs > 1000)
        return QStringLiteral("--switch-interval must be 1..1000 ms (got %1)")
            .arg(s.switchIntervalMs);
    if (s.chunk < 1 || s.chunk > 1'000'000)
        return QStringLiteral("--chunk must be 1..1000000 (got %1)").arg(s.chunk);
    // Timeouts are enforced to the millisecond: less would be a timeout of
    // 0 ms, i.e. none; NaN compares false with every bound.
    if (s.timeoutS && !(*s.timeoutS >= 0.001 && *s.timeoutS <= 86400))
        return QStringLiteral("--timeout must be between 0.001 and 86400 seconds (got %1)")
            .arg(*s.timeoutS);
    const QString why = Workloads::validate(s.workload, s.run, s.pool);
    if (!why.isEmpty())
        return why;
    if (const Workload* w = Workloads::find(s.workload); w && w->drive && s.chunk > 1)
        return QStringLiteral("workload '%1' submits its own two-stage tasks and cannot be "
                              "chunked (use --chunk 1)")
            .arg(s.workload);
    if (!s.tracePath.isEmpty() && !s.csvPath.isEmpty()
        && QFileInfo(s.tracePath).absoluteFilePath() == QFileInfo(s.csvPath).absoluteFilePath())
        return QStringLiteral("--trace and --csv name the same file '%1': one export would "
                              "replace the other")
            .arg(s.tracePath);
    QString pathWhy;
    if (!s.tracePath.isEmpty() && !writablePath(s.tracePath, &pathWhy))
        return pathWhy;
    if (!s.csvPath.isEmpty() && !writablePath(s.csvPath, &pathWhy))
        return pathWhy;
    return {};
}

Summary runScenario(const Scenario& s, Progress progress, const std::atomic<bool>* interrupt,
                    QString* exportError)
{
    const Workload* w = Workloads::find(s.workload);
    std::unique_ptr<Executor> ex;
    double poolStartS = -1;
#ifdef POOLSCOPE_HAVE_MPI
    if (s.pool == QLatin1String("mpi")) {
        MpiPoolOptions o;
        o.maxWorkers = s.workers;
        ex = std::make_unique<MpiPoolExecutor>(o);
    } else
#endif
        if (s.pool == QLatin1String("process")) {
        ProcessPoolOptions o;
        o.maxWorkers = s.workers;
        // No initializer here: a worker that is not ready in 10 s is not one
        // (three such break the pool and end the run with that error).
        o.readyTimeout = std::chrono::seconds(10);
        auto pool = std::make_unique<ProcessPoolExecutor>(o);
        // Workers started before the clock: the run's time is the work's,
        // not fork + exec of each worker (on demand, as Python does, that
        // cost a 2-worker run of 16 primes tasks 1.84x instead of 1.9x).
        QElapsedTimer start;
        start.start();
        pool->prestart();
        pool->waitUntilReady(Deadline::after(std::chrono::seconds(30))); // broken: fails below
        poolStartS = double(start.nsecsElapsed()) / 1e9;
        ex = std::move(pool);
    } else {
        ThreadPoolOptions o;
        o.maxWorkers = s.workers;
        o.threadNamePrefix = QStringLiteral("cli");
        o.gil = s.gil;
        o.gilSwitchInterval = std::chrono::milliseconds(s.switchIntervalMs);
        ex = std::make_unique<ThreadPoolExecutor>(o);
    }
    MonitorOptions mo;
    mo.intervalMs = 100;
    mo.recordSampling = s.sample;
    if (s.recordLimit > 0)
        mo.recordLimit = s.recordLimit;
    // Big runs are recordings: room for every task until the next tick.
    Monitor monitor(mo);
    monitor.attach(ex.get());

    const double cpu0 = LoadMeter::ownCpuSeconds();
    LoadMeter load; // what other programs use meanwhile
    load.start();
    QElapsedTimer wall;
    wall.start();

    // Submit: each future stands for `weight` workload items (a chunk > 1).
    struct Item {
        Future<QCborValue> future;
        int first = 0;
        int weight = 1;
    };
    std::vector<Item> items;
    std::vector<std::pair<Future<QCborValue>, int>> live; // for liveRunReport()
    {
        std::lock_guard lk(liveRun().m);
        liveRun().executor = ex.get();
        liveRun().futures = nullptr;
        liveRun().workload = s.workload;
        liveRun().finalReport.clear();
    }
    struct Unregister {
        ~Unregister()
        {
            // A SIGTERM can come after the run has returned but before its
            // summary is printed (the pool saw the rank die first, then
            // mpirun ended the job): keep the report for that moment.
            std::lock_guard lk(liveRun().m);
            liveRun().finalReport = reportLocked(liveRun());
            liveRun().executor = nullptr;
            liveRun().futures = nullptr;
        }
    } unregister;
    TaskOptions topts(w->taskName);
    if (s.timeoutS)
        topts.timeout = std::chrono::milliseconds(qint64(*s.timeoutS * 1000));
    if (w->drive) {
        int i = 0;
        for (auto& f : Workloads::submit(*ex, s.workload, s.run))
            items.push_back({f, i++, 1});
    } else {
        const QList<QCborArray> plan = w->plan(s.run);
        if (s.chunk <= 1) {
            items.reserve(std::size_t(plan.size()));
            for (int i = 0; i < plan.size(); ++i)
                items.push_back({ex->submitNamed(w->taskName, plan.at(i), topts), i, 1});
        } else {
            for (int i = 0; i < plan.size(); i += s.chunk) {
                const QList<QCborArray> batch = plan.mid(i, s.chunk);
                items.push_back(
                    {ex->submitNamedBatch(w->taskName, batch, topts), i, int(batch.size())});
            }
        }
    }
    qint64 totalItems = 0;
    for (const auto& it : items)
        totalItems += it.weight;
    live.reserve(items.size());
    for (const auto& it : items)
        live.emplace_back(it.future, it.weight);
    {
        std::lock_guard lk(liveRun().m);
        liveRun().futures = &live;
        liveRun().totalItems = totalItems;
    }

    // Wait on the event loop so the monitor ticks; redraw progress at 10 Hz.
    QEventLoop loop;
    QTimer tick;
    tick.setInterval(100);
    std::size_t doneCursor = 0; // items before it are done
    bool stopped = false;
    qint64 lastLineMs = -1000;
    auto doneItems = [&] {
        while (doneCursor < items.size() && items[doneCursor].future.done())
            ++doneCursor;
        qint64 n = 0;
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i < doneCursor || items[i].future.done())
                n += items[i].weight;
        }
        return n;
    };
    QObject::connect(&tick, &QTimer::timeout, &loop, [&] {
        if (interrupt && interrupt->load() && !stopped) {
            stopped = true;
            for (auto& it : items)
                it.future.requestStop(); // pending: cancelled; running: asked to stop
        }
        const qint64 done = doneItems();
        const Snapshot& snap = monitor.last();
        if (progress == Progress::Tty) {
            const double frac = totalItems ? double(done) / double(totalItems) : 1.0;
            std::fprintf(stderr, "\r[%s] %3d%%  %lld/%lld  %8.0f tasks/s  queue %llu  ",
                         qPrintable(bar(frac, 30)), int(frac * 100), static_cast<long long>(done),
                         static_cast<long long>(totalItems), snap.tasksPerSecond,
                         static_cast<unsigned long long>(snap.counters.queued));
            std::fflush(stderr);
        } else if (progress == Progress::Lines && wall.elapsed() - lastLineMs >= 1000) {
            lastLineMs = wall.elapsed();
            std::fprintf(stderr, "progress %lld/%lld tasks, %.0f tasks/s, queue %llu\n",
                         static_cast<long long>(done), static_cast<long long>(totalItems),
                         snap.tasksPerSecond,
                         static_cast<unsigned long long>(snap.counters.queued));
        }
        if (done == totalItems)
            loop.quit();
    });
    tick.start();
    if (doneItems() != totalItems)
        loop.exec();
    tick.stop();
    if (progress == Progress::Tty)
        std::fprintf(stderr, "\n");

    Summary sum;
    sum.wallS = double(wall.nsecsElapsed()) / 1e9;
    ex->shutdown(true);
    monitor.tick();
    monitor.drainAll(); // every task's row, before totals and exports
    sum.cpuS =
        LoadMeter::ownCpuSeconds() - cpu0; // the pool's workers included: shut down and reaped
    sum.poolStartS = poolStartS;
    // What the rest of the machine used meanwhile: busy CPU not ours. A
    // speedup measured while other programs take cores is lower than the
    // pool can reach, and the summary says so.
    // The pool's workers are reaped by now: their CPU is in getrusage's.
    sum.otherCores = std::max(0.0, load.otherCores());
    sum.workload = s.workload;
    sum.pool = s.pool;
    sum.workers = ex->maxWorkers();
    sum.gil = s.gil;
    sum.switchIntervalMs = s.switchIntervalMs;
    sum.chunk = s.chunk;
    sum.tasks = totalItems;
    sum.interrupted = stopped;
    for (const auto& it : items) {
        const auto st = it.future.state();
        if (st == FutureState::Cancelled) {
            sum.cancelled += it.weight;
        } else if (it.future.node()->error) {
            sum.failed += it.weight;
            if (sum.failures.size() < 5) {
                // The item is the workload's own 0-based index, the task id
                // the pool's (what the error text and the trace name).
                const QString which = it.weight == 1 ? QStringLiteral("item %1").arg(it.first)
                                                     : QStringLiteral("items %1..%2")
                                                           .arg(it.first)
                                                           .arg(it.first + it.weight - 1);
                // A driven workload's future (the pipeline's promise) is no
                // pool task and has no id: the error names its stage's task.
                const QString task =
                    it.future.id() ? QStringLiteral(" (task %1)").arg(it.future.id()) : QString();
                sum.failures.append(
                    QStringLiteral("%1%2: %3")
                        .arg(which, task,
                             QString::fromStdString(describeException(it.future.node()->error))));
            }
        } else {
            sum.done += it.weight;
        }
    }
    // Times from the record's exact totals: every task, sampled or not.
    const RunRecord& rec = *monitor.record();
    const RunTotals& tot = rec.totals();
    // The run's wall time is its first submit to its last task's end. The
    // loop above notices the end only at its next 100 ms tick: timing to
    // that added half a tick on average to every run, and a 1.3 s CPU-bound
    // run on 2 workers measured 1.79x instead of 1.9x. A run stopped by the
    // user keeps the time until it stopped.
    if (!stopped && tot.tasks > 0 && tot.wallNs() > 0)
        sum.wallS = std::min(sum.wallS, double(tot.wallNs()) / 1e9);
    sum.tasksPerS = sum.wallS > 0 ? double(sum.done + sum.failed) / sum.wallS : 0;
    sum.cpuWallRatio = sum.wallS > 0 ? sum.cpuS / sum.wallS : 0;
    const quint64 ran = tot.tasks - tot.neverStarted;
    sum.meanQueueWaitMs = ran ? double(tot.queuedNs) / double(ran) / 1e6 : -1;
    sum.meanRunMs = ran ? double(tot.runNs) / double(ran) / 1e6 : -1;
    sum.gilWaitMs = double(tot.gilWaitNs) / 1e6;
    sum.droppedEvents = monitor.last().counters.droppedEvents;
    const RecordStats st = rec.stats();
    sum.recorded = st.rows;
    sum.sampledOneIn = st.sampling;
    sum.recordLost = st.lost;
    sum.recordNote = rec.samplingNote();
    if (const auto* tp = dynamic_cast<const ThreadPoolExecutor*>(ex.get());
        tp && tp->workerStartFailures() > 0)
        sum.workersNote = QStringLiteral("only %1 of %2 worker thread(s) could be started: %3")
                              .arg(monitor.knownWorkers().size())
                              .arg(s.workers)
                              .arg(tp->workerStartError().section(QStringLiteral(": "), 1));
    if (const auto* pp = dynamic_cast<const ProcessPoolExecutor*>(ex.get());
        pp && pp->workerStartFailures() > 0)
        sum.workersNote = QStringLiteral("%1 worker process(es) ran, of %2 asked for; the system "
                                         "refused %3 start(s): %4")
                              .arg(monitor.knownWorkers().size())
                              .arg(s.workers)
                              .arg(pp->workerStartFailures())
                              .arg(pp->workerStartError());

    QStringList errors;
    QString err;
    if (!s.tracePath.isEmpty() && !writeTrace(s.tracePath, monitor.traceData(s.workload), &err))
        errors << err;
    if (!s.csvPath.isEmpty() && !writeCsv(s.csvPath, rec, monitor.originNs(), &err))
        errors << err;
    if (exportError)
        *exportError = errors.join(QStringLiteral("; "));
    monitor.detach();
    return sum;
}

QJsonObject Summary::toJson() const
{
    QJsonObject o;
    o.insert(QStringLiteral("workload"), workload);
    o.insert(QStringLiteral("pool"), pool);
    o.insert(QStringLiteral("workers"), workers);
    o.insert(QStringLiteral("gil"), gil);
    o.insert(QStringLiteral("switch_interval_ms"), switchIntervalMs);
    o.insert(QStringLiteral("chunk"), chunk);
    o.insert(QStringLiteral("wall_s"), wallS);
    o.insert(QStringLiteral("tasks"), tasks);
    o.insert(QStringLiteral("done"), done);
    o.insert(QStringLiteral("failed"), failed);
    o.insert(QStringLiteral("cancelled"), cancelled);
    o.insert(QStringLiteral("tasks_per_s"), tasksPerS);
    o.insert(QStringLiteral("mean_queue_wait_ms"), meanQueueWaitMs);
    o.insert(QStringLiteral("mean_run_ms"), meanRunMs);
    o.insert(QStringLiteral("cpu_s"), cpuS);
    o.insert(QStringLiteral("cpu_wall_ratio"), cpuWallRatio);
    o.insert(QStringLiteral("gil_wait_ms"), gilWaitMs);
    o.insert(QStringLiteral("other_cores"), otherCores);
    if (poolStartS >= 0)
        o.insert(QStringLiteral("pool_start_s"), poolStartS);
    o.insert(QStringLiteral("dropped_events"), qint64(droppedEvents));
    o.insert(QStringLiteral("recorded"), qint64(recorded));
    o.insert(QStringLiteral("sampled_1_in"), qint64(sampledOneIn));
    o.insert(QStringLiteral("record_lost"), qint64(recordLost));
    o.insert(QStringLiteral("record_note"), recordNote);
    if (!workersNote.isEmpty())
        o.insert(QStringLiteral("workers_note"), workersNote);
    o.insert(QStringLiteral("interrupted"), interrupted);
    o.insert(QStringLiteral("failures"), QJsonArray::fromStringList(failures));
    return o;
}

QString Summary::machineBusyNote() const
{
    if (otherCores < LoadMeter::kBusyCores)
        return {};
    return QStringLiteral("other programs used %1 cores during the run; times and speedups "
                          "are worse than on a quiet machine")
        .arg(otherCores, 0, 'f', 2);
}

QString Summary::toText() const
{
    QString t;
    auto line = [&t](const char* key, const QString& value) {
        t += QStringLiteral("%1 %2\n").arg(QLatin1String(key), -14).arg(value);
    };
    line("workload", workload);
    line("pool", QStringLiteral("%1, %2 worker(s)%3%4")
                     .arg(pool)
                     .arg(workers)
                     .arg(gil ? QStringLiteral(", simulated GIL (switch interval %1 ms)")
                                    .arg(switchIntervalMs)
                              : QString())
                     .arg(chunk > 1 ? QStringLiteral(", chunk %1").arg(chunk) : QString()));
    if (!workersNote.isEmpty())
        line("workers", workersNote);
    line("wall time", QStringLiteral("%1 s").arg(wallS, 0, 'f', 3));
    if (poolStartS >= 0)
        line("pool start",
             QStringLiteral("%1 s (workers started before the clock)").arg(poolStartS, 0, 'f', 3));
    line("tasks", QStringLiteral("%1: %2 done, %3 failed, %4 cancelled%5")
                      .arg(tasks)
                      .arg(done)
                      .arg(failed)
                      .arg(cancelled)
                      .arg(interrupted ? QStringLiteral(" (interrupted)") : QString()));
    line("throughput", QStringLiteral("%1 tasks/s").arg(tasksPerS, 0, 'f', 1));
    if (meanQueueWaitMs >= 0)
        line("queue wait", QStringLiteral("%1 ms mean").arg(meanQueueWaitMs, 0, 'f', 3));
    if (meanRunMs >= 0)
        line("run time", QStringLiteral("%1 ms mean").arg(meanRunMs, 0, 'f', 3));
    line("CPU / wall",
         QStringLiteral("%1 (%2 s CPU)").arg(cpuWallRatio, 0, 'f', 2).arg(cpuS, 0, 'f', 3));
    if (gil)
        line("GIL wait", QStringLiteral("%1 ms total").arg(gilWaitMs, 0, 'f', 1));
    if (const QString busy = machineBusyNote(); !busy.isEmpty())
        line("machine busy", busy);
    line("recorded", recordNote.isEmpty() ? QStringLiteral("every task (%1)").arg(recorded)
                                          : QStringLiteral("%1 tasks: %2 (counts above are exact)")
                                                .arg(recorded)
                                                .arg(recordNote));
    for (const auto& f : failures)
        line("failure", f);
    return t;
}

} // namespace poolscope::cli
