#pragma once
// RunController: what the GUI asks of the core, without any widget, so it can
// be tested headless. It owns the current executor (thread or process pool)
// and a Monitor, launches workload runs on it, and turns the Monitor's one
// snapshot per tick into everything the views need (docs/architecture.md):
//
//   * snapshotReady(): the Monitor's snapshot, forwarded as is;
//   * resultsReady(): the results of tasks that finished since the last tick,
//     ONE batch per tick (never one cross-thread signal per task), for the
//     workloads whose results a view shows (Mandelbrot tiles) or for every
//     workload with setCollectAllResults(true). Futures are polled on the GUI
//     thread at each tick from a per-run cursor (plus a bounded look-ahead
//     window, so out-of-order completions show up early); workers never call
//     back into the controller;
//   * runStarted() / runFinished(): one summary per run.
//
// Several runs can be queued on one pool: start() while a run is active adds
// a run. A different pool kind or GIL setting needs a new pool, which is only
// made while no run is active (error() says so otherwise); a different worker
// count on a live pool resizes it (Executor::setMaxWorkers).
//
// Chunk size: with chunk > 1, consecutive items of a workload are grouped
// into one task (Executor::submitNamedBatch, Python's map chunksize) on
// either pool kind: one future, one timeline span, one queue entry per
// chunk, and on a process pool one message each way per chunk; a chunk fails
// as a whole and its result is the array of its items' results (harvested
// item by item). The pipeline workload submits its own two-stage tasks and
// refuses chunk > 1 with a clear error.
//
// QFutures (lesson 9, event-loop integration): a small run (at most
// kMaxQFutureTasks futures) started with RunSpec::qfutures gets one QFuture
// per task, made when the task is submitted (Future::qfuture()), and
// qfuturesReady() hands them out ONCE, on the GUI thread, as soon as the run
// is submitted. Receivers attach their own .then(context, ...) and
// QtFuture::whenAll continuations: those are the only per-task deliveries,
// and only for runs that asked for them; the views still get one batch per
// tick.

#include <poolscope/executor.h>
#include <poolscope/monitor.h>
#include <poolscope/workloads.h>

#include <QCborValue>
#include <QElapsedTimer>
#include <QFuture>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>

#include <memory>

namespace poolscope {

/// What one press of Start asks for.
struct RunSpec {
    QString workload = QStringLiteral("primes");
    WorkloadRun run;                             // tasks, size, knobs (see Workload::defaultRun)
    QString poolKind = QStringLiteral("thread"); // "thread", "process" or "mpi" (if built)
    int workers = 0;                             // 0 = the pool kind's default
    bool gil = false;                            // simulated GIL (thread pools only)
    double switchIntervalMs = 5.0;               // GIL switch interval
    int chunkSize = 1;                           // items per task (see above)
    int priority = 0;                            // higher runs first (not for pipeline)
    int timeoutMs = 0;                           // per-task timeout, 0 = none (not for pipeline)
    bool qfutures = false; // hand the run's futures out as QFutures (qfuturesReady)
};

/// The pool settings a run needs.
struct PoolConfig {
    QString kind = QStringLiteral("thread");
    int workers = 0;
    bool gil = false;
    double switchIntervalMs = 5.0;
};

/// How a run ended.
struct RunSummary {
    quint64 runId = 0;
    QString workload;
    QString poolKind;
    int workers = 0;
    int items = 0;     // items asked for (WorkloadRun::tasks)
    int tasks = 0;     // futures made (items / chunk, rounded up)
    int succeeded = 0; // tasks
    int failed = 0;
    int cancelled = 0;      // includes tasks never submitted because of stop/cancel
    double wallSeconds = 0; // start() to the tick that saw the last task done
    qint64 startNs = 0;     // monotonicNs() at start(), the time base of TaskSpan
    qint64 endNs = 0;       // monotonicNs() when the run was seen finished
    double tasksPerSecond = 0;
    /// Mean cores other programs kept busy during the run (LoadMeter); -1
    /// when unknown.
    double otherCores = -1;
    /// Mean cores the window's GUI thread used drawing the run (-1 unknown):
    /// cores the pool's workers did not have.
    double windowCores = -1;
    /// Cores of this machine (QThread::idealThreadCount() at the end).
    int machineCores = 0;
    /// "the machine was busy: other programs used 1.42 cores", or empty.
    QString busyText() const;
    /// When the workers wanted every core and the window took a share
    /// (>= kWindowCores): "this window used 0.13 of the 2 cores drawing the
    /// run; the workers had at most 1.87", or empty.
    QString sharedText() const;
    static constexpr double kWindowCores = 0.05;
    QString text() const; // one line for the status bar and the log
};

/// One finished task's result, harvested on the GUI thread.
struct TaskResult {
    quint64 runId = 0;
    quint64 taskId = 0;
    QString workload;
    QString taskName;
    QCborValue value;
};

class RunController : public QObject {
    Q_OBJECT
public:
    /// Nice value of the thread pools it makes (ThreadPoolOptions::workerNice).
    static constexpr int kWorkerNice = 5;
    /// Most futures a run with RunSpec::qfutures may have (check() refuses more).
    static constexpr int kMaxQFutureTasks = 256;

    explicit RunController(QObject* parent = nullptr);
    ~RunController() override;

    /// Validates spec (Workloads::validate plus the pool rules above), makes or
    /// reuses the pool and submits the run. On a bad spec emits error() with
    /// one clear sentence, starts nothing and returns 0; else the run's id.
    quint64 start(const RunSpec& spec);
    /// The error start() would report for spec, or empty. Changes nothing.
    QString check(const RunSpec& spec) const;

    /// Makes the pool now (e.g. at launch, so the CPU chart and the workers
    /// table are live before the first run). Refused while a run is active
    /// and the config needs a new pool.
    bool configurePool(const PoolConfig& config);

    /// Live resize of the current pool (remembered for the next one).
    void setWorkers(int n);
    /// Live GIL switch interval (thread pool with GIL).
    void setSwitchIntervalMs(double ms);
    void pause();
    void resume();
    void togglePause();
    /// While paused: lets exactly one queued task start (Executor::step(),
    /// slow motion). Returns false, with error(), when there is no pool or it
    /// is not paused.
    bool step();
    /// cancel() on every pending future of every active run (running ones go
    /// on); items not yet submitted are dropped.
    void cancelPending();
    /// cancelPending() and requestStop() on every running future: thread
    /// tasks see TaskContext::stopRequested(), process workers are killed
    /// and respawned.
    void stop();
    /// stop(), then shuts the pool down (without blocking the GUI); the next
    /// start() makes a new pool.
    void shutdown();

    /// Watches a pool of another program (an AttachedPool, docs/attach.md)
    /// instead of a pool of its own: the Monitor and every view follow it
    /// and start() is refused (the program runs its own tasks) until
    /// releasePool(). Pause, step, resize and cancel act on it only as far
    /// as the program allowed (an error() says what was refused). Refused,
    /// with error(), while runs of its own are active.
    bool adoptPool(std::unique_ptr<Executor> pool, const QString& description);
    /// Drops the adopted pool (the views keep its last run); the next start()
    /// makes a pool of its own.
    void releasePool();
    /// An adopted pool is being watched; what it is, in words.
    bool watchesOtherProgram() const { return m_adopted; }
    QString adoptedDescription() const { return m_adoptedText; }

    bool exportTrace(const QString& path);
    bool exportCsv(const QString& path);

    /// Collect results of every workload, not only those a view shows.
    void setCollectAllResults(bool all) { m_collectAll = all; }
    /// Process pools: the worker program (empty: the core's default lookup).
    void setWorkerProgram(const QString& path) { m_workerProgram = path; }
    /// Monitor tick while runs are active / while idle.
    void setTickIntervals(int activeMs, int idleMs);
    /// While a run is active and the machine's cores are all busy (the CPU
    /// sample reads >= kBusyEnter of every core, until it falls under
    /// kBusyLeave), the window draws light: at kBusyTickMs instead of the
    /// active tick, and its charts without antialiasing (drawsLight(),
    /// drawLightChanged()). Every frame it draws is CPU the workers do not
    /// get (at 30 Hz the window took 0.12 of a core from a 2-worker run on
    /// 2 cores). No data is lost: each snapshot carries everything since
    /// the last. On by default; View > "Draw less while the cores are busy".
    void setYieldWhenBusy(bool on);
    bool yieldsWhenBusy() const { return m_yieldWhenBusy; }
    /// The machine read busy at the last CPU sample (with hysteresis).
    bool machineBusy() const { return m_machineBusy; }
    /// Something runs, the cores are busy and the option is on.
    bool drawsLight() const { return m_drawLight; }
    static constexpr int kBusyTickMs = 200;
    static constexpr double kBusyEnter = 0.9, kBusyLeave = 0.75;

    Executor* executor() const { return m_executor.get(); }
    Monitor* monitor() const { return m_monitor; }
    PoolConfig poolConfig() const { return m_config; }
    bool hasPool() const { return m_executor != nullptr; }
    bool isRunning() const { return !m_runs.empty(); }
    bool isPaused() const;
    int activeRuns() const { return int(m_runs.size()); }
    const Snapshot& lastSnapshot() const { return m_monitor->last(); }

    static bool resultsWanted(const QString& workload);

signals:
    void snapshotReady(const poolscope::Snapshot& snapshot);
    void resultsReady(const QList<poolscope::TaskResult>& results);
    void runStarted(quint64 runId, const poolscope::RunSpec& spec);
    void runFinished(const poolscope::RunSummary& summary);
    void poolChanged(const poolscope::PoolConfig& config);
    /// adoptPool() / releasePool().
    void adoptedChanged(bool adopted);
    void pausedChanged(bool paused);
    void busyChanged(bool busy);
    /// drawsLight() changed: views drop what is costly to draw (the charts'
    /// antialiasing) while it is true.
    void drawLightChanged(bool light);
    /// Once per run started with RunSpec::qfutures, when all its tasks are
    /// submitted: inside start(), as such runs are submitted in one slice
    /// (after runStarted(), before start() returns). One QFuture per task, in
    /// submission order, completing with the task (value, exception or
    /// cancellation). Tasks dropped before submission are not in the list.
    void qfuturesReady(quint64 runId, const QList<QFuture<QCborValue>>& futures);
    void error(const QString& message);
    void message(const QString& text);

private:
    /// Cancels pending tasks and asks running ones to stop; how many running.
    int stopRuns();
    struct Run;
    QString poolProblem(const PoolConfig& want) const;
    bool needsNewPool(const PoolConfig& want) const;
    /// False (after error()) when the pool cannot be made (MPI refused).
    bool makePool(const PoolConfig& config);
    void destroyPool();
    void pump();
    void onSnapshot(const Snapshot& s);
    void harvest(Run& run, QList<TaskResult>& results);
    void finishRun(Run& run);
    /// Live worker processes of the pool (their CPU is this program's).
    QList<qint64> childPids() const;
    void dropUnsubmitted(Run& run);
    void updateTickRate();

    Monitor* m_monitor = nullptr;
    std::unique_ptr<Executor> m_executor;
    bool m_adopted = false; // m_executor is another program's pool (adoptPool)
    QString m_adoptedText;
    PoolConfig m_config;
    QString m_workerProgram;
    std::vector<std::unique_ptr<Run>> m_runs;
    QTimer m_pump; // spreads submission of big runs over event-loop passes
    quint64 m_nextRunId = 1;
    bool m_collectAll = false;
    int m_activeTickMs = 33;
    bool m_yieldWhenBusy = true;
    bool m_machineBusy = false;
    bool m_drawLight = false;
    static constexpr int kActiveCpuPeriodMs = 100; // CPU sampled at 10 Hz during a run
    int m_idleTickMs = 100;
};

} // namespace poolscope

Q_DECLARE_METATYPE(poolscope::RunSpec)
Q_DECLARE_METATYPE(poolscope::RunSummary)
Q_DECLARE_METATYPE(poolscope::TaskResult)
Q_DECLARE_METATYPE(poolscope::PoolConfig)
