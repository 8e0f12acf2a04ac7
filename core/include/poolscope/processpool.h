#pragma once
// ProcessPoolExecutor: Python's ProcessPoolExecutor contract across worker
// processes, plus what its users miss: a crashed worker fails only its own
// task and is replaced; running tasks can be cancelled and timed out (the
// worker is terminated, then killed); recycling by task count and memory;
// live resize, pause, priorities and the same telemetry as the thread pool.
//
// Workers are spawned (fork + exec through QProcess), never forked copies of
// this process; tasks cross by registered name with CBOR arguments
// (registry.h) over versioned frames (protocol.h).

#include "executor.h"
#include "registry.h"
#include "remotepool.h" // WorkerCrashed, detail::RemoteNode, submit/map helpers

#include <QStringList>

#include <chrono>
#include <optional>

namespace poolscope {

struct ProcessPoolOptions {
    /// Default: the number of CPUs (Python's default). Must be 1..1024.
    std::optional<int> maxWorkers;
    /// The worker program. Empty: $POOLSCOPE_WORKER, else `poolscope-worker`
    /// next to this program, else on PATH. Any program that calls
    /// poolscope::runWorker() (worker.h) will do, e.g. this very program.
    QString workerProgram;
    /// Extra arguments for it (kWorkerFlag is always added).
    QStringList workerArguments;
    /// A registered task each worker runs once before taking tasks (Python's
    /// initializer). If it fails the pool is broken (BrokenProcessPool).
    QString initializer;
    QCborArray initializerArgs;
    /// Replace a worker after it ran this many tasks (0 = never), like
    /// Python's max_tasks_per_child.
    int maxTasksPerChild = 0;
    /// Retire a worker after a task when its RSS exceeds this (0 = never).
    qint64 maxRssBytes = 0;
    /// Time between SIGTERM and SIGKILL when a worker must go.
    std::chrono::milliseconds terminateGrace{1000};
    /// shutdown(wait=true) and the destructor wait at most this long for
    /// running tasks, then terminate the workers. Unset: wait (Python).
    std::optional<std::chrono::milliseconds> shutdownGrace;
    /// IsolateTask (default): a dead worker fails only the task it held
    /// (WorkerCrashed). BreakPool: like Python, the pool breaks and every
    /// future it has not finished fails with BrokenExecutor (Python's
    /// BrokenProcessPool), the one that was running included; the message
    /// says which worker died and how.
    enum class CrashPolicy { IsolateTask, BreakPool } crashPolicy = CrashPolicy::IsolateTask;
    /// Workers are started on demand, as in Python. With this on, a worker
    /// lost to a crash, a kill or recycling is replaced at once, back up to
    /// the most workers the pool has had (at most maxWorkers), instead of
    /// when the next task needs it: a monitor showing the pool sees it at
    /// its size again. (prestart() keeps maxWorkers from the start.)
    bool replaceLostWorkers = false;
    /// Tasks sent ahead to each worker so it never waits for the parent.
    /// From 2 up this is the minimum: when the tasks run so far were short,
    /// each worker is sent about 2 ms of work ahead (by their average run
    /// time), up to 64 tasks. 1 turns pipelining off (one task at a time).
    int pipelineDepth = 2;
    /// A worker that has not said 'ready' this long after it was started
    /// (the initializer included) is killed and counts as one that died
    /// before it was ready; three in a row break the pool. A program that is
    /// not a PoolScope worker (POOLSCOPE_WORKER pointing elsewhere) then
    /// fails the run with a clear error instead of hanging it. Raise it for
    /// a slow initializer.
    std::chrono::milliseconds readyTimeout{30'000};
    /// Largest frame accepted from a worker.
    qsizetype maxFrameBytes = 256 * 1024 * 1024;
};

namespace detail {
class ProcessPoolCore;

/// Adaptive pipelining: how many tasks a worker may hold (sent, not yet
/// finished). `base` (ProcessPoolOptions::pipelineDepth) is the minimum;
/// when the tasks run so far averaged `avgTaskNs` of wall time (negative:
/// none yet), enough to keep about 2 ms of work queued at the worker, up to
/// 64, so it never idles for a round trip through the parent after each
/// short task. A base of 1 turns pipelining off and is kept as is.
int adaptivePipelineDepth(int base, qint64 avgTaskNs);
} // namespace detail

class ProcessPoolExecutor : public Executor {
    Q_OBJECT
public:
    explicit ProcessPoolExecutor(const ProcessPoolOptions& options = {}, QObject* parent = nullptr);
    explicit ProcessPoolExecutor(int maxWorkers, QObject* parent = nullptr);
    ~ProcessPoolExecutor() override;

    static int defaultMaxWorkers();
    /// The worker program this pool starts (after resolving the defaults).
    QString workerProgram() const;

    /// submit(registeredFunction, args...): reads like the thread pool's.
    /// The function must be registered (POOLSCOPE_TASK / registerTask);
    /// otherwise the future fails with InvalidArgument.
    template<class R, class... A, class... Args>
    Future<R> submit(R (*fn)(A...), Args&&... args)
    {
        return submitWith(TaskOptions{}, fn, std::forward<Args>(args)...);
    }
    template<class R, class... A, class... Args>
    Future<R> submitWith(const TaskOptions& opts, R (*fn)(A...), Args&&... args)
    {
        const TaskInfo* info = detail::registeredTask(fn);
        if (!info)
            return failedFuture<R>(detail::notRegisteredError());
        using Params = typename detail::TaskSig<A...>::Params;
        QCborArray cargs =
            detail::encodeArgs(std::type_identity<Params>{}, std::forward<Args>(args)...);
        return submitRemote<R>(info->name, std::move(cargs), false, opts);
    }

    Future<QCborValue> submitNamed(const QString& name, const QCborArray& args,
                                   const TaskOptions& options = {}) override;
    Future<QCborValue> submitNamedBatch(const QString& name, const QList<QCborArray>& items,
                                        const TaskOptions& options = {}) override;

    /// map(registeredFunction, inputs, {chunkSize, timeout, maxInFlight}):
    /// a chunk is one message to one worker and fails as a whole.
    template<class R, class A, class Container>
    MapIterator<R> map(R (*fn)(A), Container inputs, const MapOptions& opts = {})
    {
        return detail::remoteMap(
            fn, std::move(inputs), opts,
            [this](const QString& name, QCborArray batch, const TaskOptions& task) {
                return submitRemote<std::vector<R>>(name, std::move(batch), true, task);
            });
    }

    /// Starts every worker now instead of on demand, and from then on keeps
    /// maxWorkers() workers: one that crashes, is recycled or is killed with
    /// its task (timeout, cancel, stop) is replaced at once, not when the
    /// next task needs it. (Python starts workers on demand only.)
    void prestart();
    /// Blocks until maxWorkers() workers are up and ready, or, when the
    /// system refused some (workerStartFailures()), until every worker it
    /// did start is ready. False when the pool broke or the deadline passed.
    bool waitUntilReady(const Deadline& deadline = Deadline::never()) const;
    /// Python 3.14: stop at once. Pending futures are cancelled, running ones
    /// fail; terminateWorkers() sends SIGTERM (then SIGKILL after the grace
    /// period), killWorkers() SIGKILL. The pool is shut down afterwards.
    void terminateWorkers();
    void killWorkers();
    /// Pids of the live worker processes.
    QList<qint64> workerPids() const;
    /// Worker processes the system refused to start so far (fork or pipes:
    /// `ulimit -u`, `ulimit -n`), and why the last one was. The pool runs
    /// with the workers it has meanwhile and tries again a second later;
    /// it breaks (BrokenExecutor, with this reason) only when it has no
    /// worker at all. As ThreadPoolExecutor::workerStartFailures().
    quint64 workerStartFailures() const;
    QString workerStartError() const;

    // Executor
    QString kind() const override { return QStringLiteral("process"); }
    void shutdown(bool wait = true, bool cancelFutures = false) override;
    bool isShutdown() const override;
    bool isBroken() const override;
    QString brokenReason() const override;
    void setMaxWorkers(int n) override;
    int maxWorkers() const override;
    int workerCount() const override;
    void pause() override;
    void resume() override;
    void step() override;
    bool isPaused() const override;
    Counters counters() const override;
    bool waitForIdle(const Deadline& deadline = Deadline::never()) const override;

    // TelemetrySource
    void setRecording(bool on) override;
    void collectTelemetry(TelemetryBatch& out, int queueHeadMax) override;
    void setStagingCapacity(std::size_t rows) override;

private:
    template<class R>
    Future<R> submitRemote(const QString& name, QCborArray args, bool batch,
                           const TaskOptions& opts)
    {
        return detail::submitRemoteNode<R>(
            name, std::move(args), batch, opts,
            [this](detail::TaskNode* node, const TaskOptions& o) { enqueue(node, o); });
    }
    void enqueue(detail::TaskNode* node, const TaskOptions& opts);
    void stopWorkers(bool kill);

    detail::ProcessPoolCore* m_core;
};

} // namespace poolscope
