#pragma once
// MpiPoolExecutor: the process pool's contract (registered tasks by name,
// CBOR arguments, futures, map with chunks, wait/asCompleted, cancel of
// pending tasks, shutdown) over MPI ranks, in the style of mpi4py.futures'
// MPIPoolExecutor. Built only when CMake finds MPI (POOLSCOPE_WITH_MPI,
// target poolscope_mpi / PoolScope::mpi); the rest of PoolScope never needs it.
//
// Two launch modes, as in mpi4py:
//   static  mpirun -n N ./program ...        rank 0 is the master (runs main),
//           ranks 1..N-1 serve tasks; or MPMD:
//           mpirun -n 1 ./program : -n 3 poolscope-worker --mpi
//   spawn   the master runs alone (or as a one-rank job) and starts
//           maxWorkers ranks of poolscope-worker --mpi with MPI_Comm_spawn.
// Host placement comes from the MPI runtime (hostfile, --host), never from
// PoolScope. Tasks travel as the process pool's frames (protocol.h), one MPI
// message each; every worker rank runs the same loop as a worker process
// (worker.h, serveWorker). See docs/scale-out.md.
//
// What differs from the process pool, because an MPI rank cannot be killed
// and replaced on its own: a running task cannot be cancelled (cancel() of a
// pending task works; requestStop() of a running one is ignored and its
// result is delivered) and per-task timeouts are refused at submit; the pool
// cannot grow beyond the ranks it has. When a rank dies, Open MPI's mpirun
// normally aborts the whole job (SIGTERM to every rank); run with
// `mpirun --enable-recovery` to keep the master alive: the pool then fails the
// task the dead rank held with RankLost and goes on with the others.

#include "executor.h"
#include "registry.h"
#include "remotepool.h" // WorkerCrashed, detail::RemoteNode, submit/map helpers

#include <QStringList>

#include <chrono>
#include <optional>

namespace poolscope {

/// A worker rank died or stopped answering while it held a task.
class RankLost : public WorkerCrashed {
public:
    using WorkerCrashed::WorkerCrashed;
};

namespace mpi {

/// The flag that makes poolscope-worker (or any program that calls
/// runWorkerMain) an MPI worker rank.
inline constexpr const char* kWorkerFlag = "--mpi";

/// MPI for a PoolScope program. Create it first thing in main(), before any
/// thread starts; it initialises MPI with MPI_THREAD_MULTIPLE and finalises it
/// when destroyed (rank 0 first tells the worker ranks of a static launch to
/// leave). Throws poolscope::Error when MPI cannot give MPI_THREAD_MULTIPLE.
///
///   int main(int argc, char** argv) {
///       poolscope::mpi::Environment mpi(&argc, &argv);
///       if (mpi.isWorker())           // ranks 1..N-1 of `mpirun -n N`
///           return mpi.runWorker();
///       ... // rank 0 (or a lone process): MpiPoolExecutor works here
///   }
class Environment {
public:
    Environment(int* argc, char*** argv);
    ~Environment();
    Environment(const Environment&) = delete;
    Environment& operator=(const Environment&) = delete;

    int rank() const;
    int size() const;
    /// A rank > 0 of MPI_COMM_WORLD that was not spawned: it should serve.
    bool isWorker() const;
    /// Serves pools (one after the other) until rank 0's Environment ends.
    /// Returns the exit code.
    int runWorker();
};

/// True when MPI was initialised (by an Environment or by a pool).
bool isInitialized();
/// This machine's name as MPI reports it (MPI_Get_processor_name).
QString hostName();
/// "Open MPI v4.1.4, ..." (MPI_Get_library_version), first line.
QString libraryVersion();
/// main() of an MPI worker rank (static MPMD or spawned): initialises MPI,
/// serves until the master lets it go, finalises. poolscope-worker calls it
/// for --mpi.
int runWorkerMain(int argc, char** argv);

} // namespace mpi

struct MpiPoolOptions {
    enum class Launch {
        Auto,   ///< Static when MPI_COMM_WORLD has more than one rank, else Spawn.
        Static, ///< Use ranks 1..N-1 of MPI_COMM_WORLD (needs an Environment).
        Spawn,  ///< MPI_Comm_spawn maxWorkers ranks of workerProgram.
    };
    Launch launch = Launch::Auto;
    /// Static: how many of the worker ranks to use (default all; at most all).
    /// Spawn: how many ranks to start (default: the number of CPUs).
    std::optional<int> maxWorkers;
    /// Spawn: the worker program. Empty: $POOLSCOPE_WORKER, else
    /// poolscope-worker next to this program, else on PATH. It gets
    /// mpi::kWorkerFlag plus workerArguments.
    QString workerProgram;
    QStringList workerArguments;
    /// Spawn: allow more ranks than the runtime has slots (Open MPI's
    /// OVERSUBSCRIBE); on by default since a lone master has one slot per core.
    bool oversubscribe = true;
    /// Spawn: how long to wait for MPI_Comm_spawn. Open MPI 4.1 with PMIx 4
    /// (Debian 12) now and then never returns from it; after this the
    /// constructor throws BrokenExecutor instead of hanging, and this
    /// process spawns no more (docs/scale-out.md). 0: wait for ever.
    std::chrono::milliseconds spawnTimeout{60000};
    /// A registered task every rank runs once before taking tasks. If it
    /// fails the pool is broken.
    QString initializer;
    QCborArray initializerArgs;
    /// Tasks sent ahead to each rank so it never waits for the master.
    int pipelineDepth = 2;
    /// Ranks send a heartbeat (with their host's CPU use) every 500 ms; one
    /// silent this long is declared lost. A rank on the master's own host is
    /// declared lost at once when its process is gone.
    std::chrono::milliseconds heartbeatTimeout{10000};
    /// Largest frame accepted from a rank.
    qsizetype maxFrameBytes = 256 * 1024 * 1024;
};

namespace detail {
class MpiPoolCore;
}

class MpiPoolExecutor : public Executor {
    Q_OBJECT
public:
    explicit MpiPoolExecutor(const MpiPoolOptions& options = {}, QObject* parent = nullptr);
    ~MpiPoolExecutor() override;

    /// Static: MPI_COMM_WORLD size - 1. Spawn: the number of CPUs.
    static int defaultMaxWorkers();
    /// "static" or "spawn".
    QString launchMode() const;

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
    /// one chunk is one message to one rank and fails as a whole.
    template<class R, class A, class Container>
    MapIterator<R> map(R (*fn)(A), Container inputs, const MapOptions& opts = {})
    {
        return detail::remoteMap(
            fn, std::move(inputs), opts,
            [this](const QString& name, QCborArray batch, const TaskOptions& task) {
                return submitRemote<std::vector<R>>(name, std::move(batch), true, task);
            });
    }

    /// Blocks until every rank said it is ready (or the deadline passes).
    bool waitUntilReady(const Deadline& deadline = Deadline::never()) const;
    /// Where each worker rank runs, in rank order: "host/rank N (pid P)".
    QStringList workerPlaces() const;

    // Executor
    QString kind() const override { return QStringLiteral("mpi"); }
    void shutdown(bool wait = true, bool cancelFutures = false) override;
    bool isShutdown() const override;
    bool isBroken() const override;
    QString brokenReason() const override;
    /// 1..the ranks this pool has; ranks beyond n get no new tasks.
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
        if (opts.timeout)
            return failedFuture<R>(std::make_exception_ptr(InvalidArgument(
                "per-task timeouts are not supported on the MPI pool: a rank cannot be "
                "terminated on its own (use a thread or process pool, or stop the task "
                "cooperatively)")));
        return detail::submitRemoteNode<R>(
            name, std::move(args), batch, opts,
            [this](detail::TaskNode* node, const TaskOptions& o) { enqueue(node, o); });
    }
    void enqueue(detail::TaskNode* node, const TaskOptions& opts);

    detail::MpiPoolCore* m_core;
};

} // namespace poolscope
