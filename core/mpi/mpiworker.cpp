// MPI worker ranks and the process-wide MPI environment.
//
// A worker rank runs the process pool's worker loop (serveWorker, worker.h)
// over an MpiTransport: frames arrive as MPI messages from the master instead
// of bytes on stdin. A side thread sends heartbeats with the host's CPU use.

#include "mpicommon.h"

#include <QFileInfo>

#include <QCoreApplication>

#include "poolscope/cpusampler.h"
#include "poolscope/errors.h"
#include "poolscope/mpipool.h"
#include "poolscope/worker.h"

#include <QCborArray>
#include <QCborValue>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <unistd.h>

namespace poolscope::mpi {
namespace detail {

World& world()
{
    static World w;
    return w;
}

QString errorText(int code)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS)
        return QStringLiteral("MPI error %1").arg(code);
    return QString::fromLocal8Bit(text, len);
}

namespace {
void finalizeAtExit()
{
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && !world().skipFinalize)
        MPI_Finalize();
}
} // namespace

namespace {
/// A job PoolScope starts itself on this host (a singleton that will
/// spawn its ranks here) keeps Open MPI's sockets on the loopback
/// interface: its TCP transports use only `lo`, and their listeners bind
/// 127.0.0.1 / [::1] instead of every address (loopbackbind.cpp; Open MPI
/// 4.1 ignores *_if_include when it binds). Not under mpirun (its job may
/// span hosts), not with a default hostfile, not with
/// POOLSCOPE_MPI_NETWORK=all; parameters the user set are kept. Returns
/// the LD_PRELOAD to put back once MPI is up (orted has been forked by then):
/// the program's later children (a process pool's workers, a script it
/// runs) must not get the module.
std::optional<QByteArray> keepJobLocal()
{
#ifdef POOLSCOPE_MPI_LOOPBACK_MODULE
    for (const char* launched :
         {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "OMPI_MCA_orte_default_hostfile"}) {
        if (qEnvironmentVariableIsSet(launched))
            return std::nullopt;
    }
    if (qEnvironmentVariable("POOLSCOPE_MPI_NETWORK") == QLatin1String("all"))
        return std::nullopt;
    auto setIfUnset = [](const char* name, const char* value) {
        if (!qEnvironmentVariableIsSet(name))
            qputenv(name, value);
    };
    if (!qEnvironmentVariableIsSet("OMPI_MCA_btl_tcp_if_exclude"))
        setIfUnset("OMPI_MCA_btl_tcp_if_include", "lo");
    if (!qEnvironmentVariableIsSet("OMPI_MCA_oob_tcp_if_exclude"))
        setIfUnset("OMPI_MCA_oob_tcp_if_include", "lo");
    // orted is Open MPI's program: the bind() override reaches it preloaded.
    // PoolScope's own programs export it (poolscope_mpi_use_loopback()).
    const QString here = QCoreApplication::instance() ? QCoreApplication::applicationDirPath()
                                                      : QFileInfo(QStringLiteral("/proc/self/exe"))
                                                            .symLinkTarget()
                                                            .section(QLatin1Char('/'), 0, -2);
    QString module = here + QStringLiteral("/" POOLSCOPE_MPI_LOOPBACK_MODULE);
    if (!QFileInfo::exists(module))
        module = QStringLiteral(POOLSCOPE_MPI_LOOPBACK_INSTALLED);
    if (!QFileInfo::exists(module))
        module = QStringLiteral(POOLSCOPE_MPI_LOOPBACK_BUILT);
    if (!QFileInfo::exists(module)) {
        qWarning("poolscope: %s not found: Open MPI's listeners will bind every address "
                 "(docs/scale-out.md, \"Ports\")",
                 POOLSCOPE_MPI_LOOPBACK_MODULE);
        return std::nullopt;
    }
    const QByteArray old = qgetenv("LD_PRELOAD");
    qputenv("LD_PRELOAD", old.isEmpty() ? module.toLocal8Bit() : module.toLocal8Bit() + ' ' + old);
    qputenv("POOLSCOPE_MPI_LOOPBACK", "1");
    return old;
#else
    return std::nullopt;
#endif
}
} // namespace

void ensureInitialized(int* argc, char*** argv)
{
    World& w = world();
    std::lock_guard lk(w.m);
    int up = 0;
    MPI_Initialized(&up);
    int provided = 0;
    if (!up) {
        const std::optional<QByteArray> preload = keepJobLocal();
        const int rc = MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided);
        if (preload) {
            if (preload->isEmpty())
                qunsetenv("LD_PRELOAD");
            else
                qputenv("LD_PRELOAD", *preload);
        }
        if (rc != MPI_SUCCESS)
            throw Error("MPI_Init_thread failed: " + errorText(rc).toStdString());
        w.initializedByUs = true;
        // Errors come back as codes; PoolScope reports them (the default
        // handler would abort the whole job on the first one).
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_set_errhandler(MPI_COMM_SELF, MPI_ERRORS_RETURN);
        if (!argc) { // lazily, from a pool: nobody else will finalise
            w.finalizeAtExit = true;
            std::atexit(finalizeAtExit);
        }
    } else {
        MPI_Query_thread(&provided);
    }
    if (provided < MPI_THREAD_MULTIPLE)
        throw Error("this MPI library does not provide MPI_THREAD_MULTIPLE (got level "
                    + std::to_string(provided)
                    + "); PoolScope's MPI pool needs it (Debian's Open MPI provides it)");
}

namespace {

QByteArray heartbeat(CpuSampler& sampler, int rank)
{
    QCborMap m;
    m.insert(QStringLiteral("host"), hostName());
    m.insert(QStringLiteral("pid"), qint64(::getpid()));
    m.insert(QStringLiteral("rank"), rank);
    const CpuUsage u = sampler.sample();
    QCborArray cores;
    if (u.valid) {
        for (auto it = u.perCore.begin(); it != u.perCore.end(); ++it)
            cores.append(it.value());
        m.insert(QStringLiteral("total"), u.total);
    }
    m.insert(QStringLiteral("cores"), cores);
    return QCborValue(m).toCbor();
}

/// Frames over MPI. read() polls with a backoff: Open MPI's blocking receive
/// would spin a core for as long as the rank waits for work.
class MpiTransport final : public WorkerTransport {
public:
    MpiTransport(MPI_Comm comm, int master)
        : m_comm(comm)
        , m_master(master)
    {}

    bool write(const QByteArray& frames) override
    {
        if (frames.isEmpty())
            return true; // nothing to say (e.g. no result held back at 'exit')
        std::lock_guard lk(m_sendMutex);
        return MPI_Send(frames.constData(), int(frames.size()), MPI_BYTE, m_master, kTagFrame,
                        m_comm)
               == MPI_SUCCESS;
    }

    Read read(QByteArray* out, bool block) override
    {
        if (!m_pending.isEmpty()) {
            out->append(m_pending);
            m_pending.clear();
            return Read::Data;
        }
        return receive(out, block);
    }

    /// Waits for the next pool's first frame (kept for read()); false when
    /// the master says terminate instead.
    bool nextSession()
    {
        QByteArray first;
        if (receive(&first, true) != Read::Data)
            return false;
        m_pending = first;
        return true;
    }

    Read receive(QByteArray* out, bool block)
    {
        Backoff backoff;
        for (;;) {
            int flag = 0;
            MPI_Status st;
            if (MPI_Iprobe(m_master, MPI_ANY_TAG, m_comm, &flag, &st) != MPI_SUCCESS) {
                std::fprintf(stderr, "poolscope-worker: MPI_Iprobe failed; leaving\n");
                m_terminated = true;
                return Read::Closed;
            }
            if (!flag) {
                if (!block)
                    return Read::Empty;
                backoff.wait();
                continue;
            }
            int count = 0;
            MPI_Get_count(&st, MPI_BYTE, &count);
            QByteArray buf(qsizetype(std::max(count, 0)), Qt::Uninitialized);
            MPI_Recv(buf.data(), count, MPI_BYTE, m_master, st.MPI_TAG, m_comm, MPI_STATUS_IGNORE);
            if (st.MPI_TAG == kTagTerminate) {
                m_terminated = true;
                if (!buf.isEmpty() && buf.at(0) == 1) { // the master lost a rank
                    std::lock_guard lk(world().m);
                    world().skipFinalize = true;
                }
                return Read::Closed;
            }
            if (st.MPI_TAG != kTagFrame)
                continue; // not ours: ignore
            m_inSession.store(true, std::memory_order_relaxed);
            out->append(buf);
            return Read::Data;
        }
    }

    void sendHeartbeat(const QByteArray& payload)
    {
        std::lock_guard lk(m_sendMutex);
        MPI_Send(payload.constData(), int(payload.size()), MPI_BYTE, m_master, kTagHeartbeat,
                 m_comm);
    }

    bool terminated() const { return m_terminated; }
    std::atomic<bool> m_inSession{false};

private:
    MPI_Comm m_comm;
    int m_master;
    std::mutex m_sendMutex;
    bool m_terminated = false;
    QByteArray m_pending;
};

/// Serves sessions (one per pool) until the master says terminate.
int serveRank(MPI_Comm comm, int master, int rank)
{
    MpiTransport t(comm, master);
    std::mutex hm;
    std::condition_variable hcv;
    bool stop = false;
    std::thread beat([&] {
        CpuSampler sampler;
        sampler.sample(); // prime
        std::unique_lock lk(hm);
        while (!stop) {
            if (t.m_inSession.load(std::memory_order_relaxed)) {
                lk.unlock();
                t.sendHeartbeat(heartbeat(sampler, rank));
                lk.lock();
            }
            hcv.wait_for(lk, std::chrono::milliseconds(kHeartbeatMs));
        }
    });
    int code = 0;
    while (t.nextSession()) {
        code = serveWorker(t);
        t.m_inSession.store(false, std::memory_order_relaxed);
        if (code == 3)
            break; // protocol error: the master's state is unknown
    }
    {
        std::lock_guard lk(hm);
        stop = true;
    }
    hcv.notify_all();
    beat.join();
    return code == 4 ? 0 : code; // an initializer failure ends only that session
}

} // namespace
} // namespace detail

using namespace detail;

bool isInitialized()
{
    int up = 0;
    MPI_Initialized(&up);
    int down = 0;
    MPI_Finalized(&down);
    return up && !down;
}

QString hostName()
{
    char name[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    if (isInitialized() && MPI_Get_processor_name(name, &len) == MPI_SUCCESS)
        return QString::fromLocal8Bit(name, len);
    char h[256] = {};
    ::gethostname(h, sizeof h - 1);
    return QString::fromLocal8Bit(h);
}

QString libraryVersion()
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(v, &len);
    return QString::fromLocal8Bit(v, len).section(QLatin1Char('\n'), 0, 0).trimmed();
}

Environment::Environment(int* argc, char*** argv)
{
    ensureInitialized(argc, argv);
    World& w = world();
    std::lock_guard lk(w.m);
    w.environment = true;
    MPI_Comm parent = MPI_COMM_NULL;
    MPI_Comm_get_parent(&parent);
    if (parent == MPI_COMM_NULL && w.comm == MPI_COMM_NULL) {
        // Collective over MPI_COMM_WORLD: every rank of a static launch
        // creates an Environment (rank 0 in main, workers in main or
        // runWorkerMain). A private communicator keeps the pool's messages
        // apart from the program's own MPI traffic.
        MPI_Comm_dup(MPI_COMM_WORLD, &w.comm);
        MPI_Comm_set_errhandler(w.comm, MPI_ERRORS_RETURN);
    }
}

Environment::~Environment()
{
    World& w = world();
    {
        std::lock_guard lk(w.m);
        w.environment = false;
        if (w.comm != MPI_COMM_NULL && rank() == 0) {
            // Let the worker ranks go; a lost rank gets nothing (a send to a
            // dead process may block).
            // The one byte says whether to skip MPI_Finalize (World).
            const char lost = w.lostRanks.empty() ? 0 : 1;
            for (int r = 1; r < size(); ++r) {
                if (!w.lostRanks.count(r))
                    MPI_Send(&lost, 1, MPI_BYTE, r, kTagTerminate, w.comm);
            }
        }
    }
    if (w.initializedByUs && !w.finalizeAtExit && isInitialized()) {
        if (w.skipFinalize) {
            std::fprintf(stderr,
                         "poolscope: rank %d leaves without MPI_Finalize: a worker rank "
                         "was lost, and Open MPI's finalize may wait for it for ever\n",
                         rank());
            return;
        }
        if (w.comm != MPI_COMM_NULL)
            MPI_Comm_free(&w.comm);
        MPI_Finalize();
    }
}

int Environment::rank() const
{
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int Environment::size() const
{
    int n = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

bool Environment::isWorker() const
{
    MPI_Comm parent = MPI_COMM_NULL;
    MPI_Comm_get_parent(&parent);
    return parent != MPI_COMM_NULL || rank() > 0;
}

int Environment::runWorker()
{
    MPI_Comm parent = MPI_COMM_NULL;
    MPI_Comm_get_parent(&parent);
    if (parent != MPI_COMM_NULL) {
        // Spawned: the master is rank 0 of the parent's group.
        MPI_Comm_set_errhandler(parent, MPI_ERRORS_RETURN);
        const int code = serveRank(parent, 0, rank());
        // Nothing more comes from this rank (the heartbeat thread is
        // joined): say so, so the master can drain the intercommunicator
        // before it disconnects (MpiPoolCore::drainUntilRanksLeft).
        const char done = 0;
        MPI_Send(&done, 1, MPI_BYTE, 0, kTagTerminate, parent);
        MPI_Comm_disconnect(&parent);
        return code;
    }
    if (rank() == 0) {
        std::fprintf(stderr, "poolscope: rank 0 is the master of a static MPI launch; it does "
                             "not serve tasks\n");
        return 2;
    }
    return serveRank(world().comm, 0, rank());
}

int runWorkerMain(int argc, char** argv)
{
    try {
        Environment env(&argc, &argv);
        if (!env.isWorker()) {
            std::fprintf(stderr,
                         "poolscope-worker --mpi: this is rank 0 of its job and was not spawned; "
                         "start it next to a master, e.g.\n"
                         "  mpirun -n 1 poolscope-cli run --pool mpi ... : -n 3 "
                         "poolscope-worker --mpi\n");
            return 2;
        }
        return env.runWorker();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "poolscope-worker: %s\n", e.what());
        return 3;
    }
}

} // namespace poolscope::mpi
