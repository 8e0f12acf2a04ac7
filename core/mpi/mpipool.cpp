// MpiPoolExecutor: the master side. One communication thread per pool makes
// every MPI call of the pool: it sends hello/run/exit frames with MPI_Isend
// (never blocking on a rank busy in a long task), polls for frames and
// heartbeats with MPI_Iprobe, and sleeps with a backoff when there is nothing
// to do (Open MPI's blocking receive would busy-poll a core the workers need).
// The task bookkeeping is the process pool's own: both pools derive from
// RemoteEngine (core/src/remoteengine.h); this file is the MPI transport.

#include "mpicommon.h"

#include "poolscope/mpipool.h"
#include "poolscope/protocol.h"
#include "poolscope/recording.h"
#include "remoteengine.h"
#include "taskqueue.h"

#include <QCborArray>
#include <QCborMap>
#include <QCborValue>
#include <QDebug>
#include <QFileInfo>
#include <QSet>
#include <QThread>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <deque>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <utility>

namespace poolscope {
namespace detail {

namespace {

using mpi::detail::kTagFrame;
using mpi::detail::kTagHeartbeat;
using mpi::detail::kTagTerminate;

int worldSize()
{
    int n = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

} // namespace

/// One worker rank: what the engine knows of it (RemoteWorker) plus where
/// it is and how it is. Touched under the core's mutex.
struct RankWorker final : RemoteWorker {
    int peer = -1;            // rank in the pool's communicator
    bool sessionOver = false; // exit sent, or its initializer failed
    bool lost = false;        // died or went silent
    QString host;
    qint64 taskCpuNs = 0; // sum of the tasks' CPU time
    CpuUsage cpu;
};

/// The MPI pool: the engine's bookkeeping (RemoteEngine) over MPI ranks.
/// It owns the communicator and the one thread that makes every MPI call,
/// and what only ranks have: heartbeats, the loss of a rank, sessions (a
/// static rank serves pool after pool).
class MpiPoolCore final : public RemoteEngine {
public:
    explicit MpiPoolCore(const MpiPoolOptions& o)
        : opts(o)
    {}

    MpiPoolOptions opts;
    MPI_Comm comm = MPI_COMM_NULL;
    bool spawned = false;
    QString myHost;

    // ---- shared, under m (the task bookkeeping is RemoteEngine's)
    std::condition_variable wake; // the comm thread's idle sleep
    bool wakeup = false;
    std::vector<std::unique_ptr<RankWorker>> workers; // all ranks, in rank order
    bool finished = false; // every session closed; the comm thread is leaving
    QMap<QString, CpuUsage> hostCpu;

    // ---- comm thread only
    struct PendingSend {
        QByteArray buf;
        MPI_Request req = MPI_REQUEST_NULL;
    };
    std::deque<PendingSend> sends;
    std::thread thread;
    qint64 lastLivenessNs = 0;

    void wakeLocked() override
    {
        wakeup = true;
        wake.notify_one();
    }

    // ---- the transport for RemoteEngine (under m)
    std::size_t workerCountLocked() const override { return workers.size(); }
    RemoteWorker& workerAt(std::size_t i) const override { return *workers[i]; }
    void sendFramesLocked(RemoteWorker& w, const QByteArray& frames) override
    {
        post(rank(w).peer, kTagFrame, frames);
    }
    bool acceptsSkipLocked(const RemoteWorker& w) const override
    {
        return !rank(w).lost && !rank(w).sessionOver;
    }
    bool mayGiveBackLocked(const RemoteWorker& w) const override
    {
        return !rank(w).lost && !rank(w).sessionOver;
    }
    bool takesWorkLocked(const RemoteWorker& w) const override
    {
        return w.ready && !rank(w).lost && !rank(w).sessionOver && w.slot->index < maxWorkers;
    }
    void describeWorkersLocked(TelemetryBatch& out) override;
    static const RankWorker& rank(const RemoteWorker& w)
    {
        return static_cast<const RankWorker&>(w);
    }

    // ------------------------------------------------------------ sending

    void post(int peer, int tag, QByteArray bytes);

    /// Completes finished sends; true when any did.
    bool progressSends();

    RankWorker* workerOf(int peer);

    void sendHellos();

    // ------------------------------------------------------------ receiving

    /// Receives what has arrived; true when anything did.
    bool receive();

    void onHeartbeat(int peer, const QByteArray& bytes);

    void onFrames(int peer, const QByteArray& bytes);

    bool handleLocked(RankWorker* w, const protocol::Message& msg, Completion& complete,
                      QString* error);

    // CancelHook (recordCancelled() is RemoteEngine's): a task's future was
    // cancelled while PENDING: if it was sent to a rank already, the pool's
    // thread asks for it back (sweepCancelledLocked).
    void pendingCancelled() noexcept override
    {
        sweepWanted.store(true, std::memory_order_release);
    }
    std::atomic<bool> sweepWanted{false};

    QString placeOf(const RankWorker& w) const;

    // ------------------------------------------------------------ failures

    /// A rank died or stopped answering. Its running task fails with
    /// RankLost; tasks it had not started go back to the queue when its death
    /// is certain (its process is gone), else they fail too: a rank that is
    /// only silent might still run them, and nothing may run twice.
    void loseLocked(RankWorker* w, const QString& why, bool certainlyDead, Completion& complete);

    /// Every 100 ms: a rank on this host whose process is gone is lost at
    /// once; any rank silent for heartbeatTimeout is lost.
    void checkLivenessLocked(Completion& complete);

    // ------------------------------------------------------------ dispatch

    void dispatchLocked();

    int feedLocked(RankWorker& w, int depth);

    /// After shutdown, once nothing is left: exit to every rank that is
    /// ready (a rank still saying hello is waited for, so its 'ready' cannot
    /// reach the next pool). True when every session is closed.
    bool closeSessionsLocked();

    /// Spawned pools, after kTagTerminate went out: receives (and drops)
    /// whatever the ranks still send until each has answered kTagTerminate
    /// (it sends nothing after that), or 5 s pass. A message left unreceived
    /// here stays queued for the intercommunicator's context id, which Open
    /// MPI hands to the next spawned pool's intercommunicator; there it
    /// collides with the new ranks' messages and a real frame is lost (seen
    /// as "out-of-order 'result' frame" in the second spawned pool of a
    /// process).
    /// Returns whether every rank confirmed (only then is the collective
    /// MPI_Comm_disconnect safe: it would wait for a silent rank for ever).
    bool drainUntilRanksLeft(qint64 deadline);

    void loop();
};

void MpiPoolCore::post(int peer, int tag, QByteArray bytes)
{
    sends.push_back(PendingSend{std::move(bytes)});
    PendingSend& s = sends.back();
    const int rc =
        MPI_Isend(s.buf.constData(), int(s.buf.size()), MPI_BYTE, peer, tag, comm, &s.req);
    if (rc != MPI_SUCCESS) {
        qWarning("poolscope: MPI_Isend to rank %d failed: %s", peer,
                 qPrintable(mpi::detail::errorText(rc)));
        s.req = MPI_REQUEST_NULL;
    }
}

bool MpiPoolCore::progressSends()
{
    bool any = false;
    while (!sends.empty()) {
        PendingSend& s = sends.front();
        if (s.req != MPI_REQUEST_NULL) {
            int done = 0;
            MPI_Test(&s.req, &done, MPI_STATUS_IGNORE);
            if (!done)
                break; // FIFO is enough: sends to one rank complete in order
        }
        sends.pop_front();
        any = true;
    }
    return any;
}

RankWorker* MpiPoolCore::workerOf(int peer)
{
    for (auto& w : workers)
        if (w->peer == peer)
            return w.get();
    return nullptr;
}

void MpiPoolCore::sendHellos()
{
    std::lock_guard lk(m);
    for (auto& w : workers) {
        if (w->lost)
            continue;
        protocol::Message hello;
        hello.type = protocol::MsgType::Hello;
        hello.worker = w->slot->index;
        if (!opts.initializer.isEmpty()) {
            hello.hasInit = true;
            hello.name = opts.initializer;
            hello.args = opts.initializerArgs;
        }
        post(w->peer, kTagFrame, protocol::encode(hello));
        w->lastHeardNs = monotonicNs();
    }
}

bool MpiPoolCore::receive()
{
    bool any = false;
    for (int i = 0; i < 256; ++i) {
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm, &flag, &st) != MPI_SUCCESS || !flag)
            break;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        QByteArray buf(qsizetype(std::max(count, 0)), Qt::Uninitialized);
        MPI_Recv(buf.data(), count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, comm, MPI_STATUS_IGNORE);
        any = true;
        if (st.MPI_TAG == kTagFrame)
            onFrames(st.MPI_SOURCE, buf);
        else if (st.MPI_TAG == kTagHeartbeat)
            onHeartbeat(st.MPI_SOURCE, buf);
    }
    return any;
}

void MpiPoolCore::onHeartbeat(int peer, const QByteArray& bytes)
{
    const QCborMap map = QCborValue::fromCbor(bytes).toMap();
    std::lock_guard lk(m);
    RankWorker* w = workerOf(peer);
    if (!w || w->lost)
        return;
    w->lastHeardNs = monotonicNs();
    const QString host = map.value(QStringLiteral("host")).toString();
    if (!host.isEmpty() && host != w->host) {
        w->host = host;
        cv.notify_all(); // waitUntilReady waits for the host too
    }
    if (const qint64 pid = map.value(QStringLiteral("pid")).toInteger(); pid > 0 && !w->pid)
        w->pid = pid;
    const QCborArray cores = map.value(QStringLiteral("cores")).toArray();
    if (!cores.isEmpty() && !w->host.isEmpty()) {
        CpuUsage u;
        u.valid = true;
        u.timeNs = w->lastHeardNs;
        u.total = std::clamp(map.value(QStringLiteral("total")).toDouble(), 0.0, 1.0);
        for (qsizetype c = 0; c < cores.size(); ++c)
            u.perCore.insert(int(c), std::clamp(cores.at(c).toDouble(), 0.0, 1.0));
        w->cpu = u;
        hostCpu.insert(w->host, u);
    }
}

void MpiPoolCore::onFrames(int peer, const QByteArray& bytes)
{
    Completion complete;
    {
        std::lock_guard lk(m);
        RankWorker* w = workerOf(peer);
        if (!w || w->lost)
            return;
        w->lastHeardNs = monotonicNs();
        w->reader.feed(bytes);
        QString error;
        for (;;) {
            QByteArray payload;
            const auto st = w->reader.next(&payload, &error);
            if (st != protocol::FrameReader::Status::Frame)
                break;
            auto msg = protocol::decode(payload, /*fromWorker=*/true, &error);
            if (!msg || !handleLocked(w, *msg, complete, &error))
                break;
            error.clear();
        }
        if (!error.isEmpty())
            loseLocked(w, QStringLiteral("sent a malformed frame: %1").arg(error), false, complete);
        cv.notify_all();
    }
    finish(complete);
}

bool MpiPoolCore::handleLocked(RankWorker* w, const protocol::Message& msg, Completion& complete,
                               QString* error)
{
    using protocol::MsgType;
    switch (msg.type) {
    case MsgType::Ready:
        return readyLocked(*w, msg.pid, error);
    case MsgType::InitFailed:
        w->sessionOver = true; // the rank left this session
        breakPoolLocked(QStringLiteral("the worker initializer '%1' failed on %2 (%3: %4); "
                                       "the pool is not usable anymore")
                            .arg(opts.initializer, placeOf(*w), msg.errorType, msg.errorText),
                        complete);
        return true;
    case MsgType::Started:
        // A task started after its future was cancelled comes back with
        // `discard`: its result is dropped (a rank is not stopped
        // mid-task).
        return onStartedLocked(*w, msg, error) != nullptr;
    case MsgType::Progress:
        onProgressLocked(*w, msg);
        return true;
    case MsgType::Skipped:
        return onSkippedLocked(*w, msg, error);
    case MsgType::Result: {
        const ResultKind kind = onResultLocked(*w, msg, complete, error);
        if (kind == ResultKind::OutOfOrder)
            return false;
        if (kind == ResultKind::Finished && msg.cpuNs > 0)
            w->taskCpuNs += msg.cpuNs;
        return true;
    }
    default:
        *error = QStringLiteral("unexpected '%1' frame").arg(protocol::nameOf(msg.type));
        return false;
    }
}

QString MpiPoolCore::placeOf(const RankWorker& w) const
{
    QString s = QStringLiteral("rank %1").arg(w.peer);
    if (!w.host.isEmpty())
        s += QStringLiteral(" on %1").arg(w.host);
    if (w.pid > 0)
        s += QStringLiteral(" (pid %1)").arg(w.pid);
    return s;
}

void MpiPoolCore::loseLocked(RankWorker* w, const QString& why, bool certainlyDead,
                             Completion& complete)
{
    if (w->lost)
        return;
    w->lost = true;
    QString text = QStringLiteral("%1 %2").arg(placeOf(*w), why);
    if (!w->inflight.empty() && w->inflight.front().started) {
        const TaskNode* n = w->inflight.front().node;
        text += QStringLiteral(" while running task %1 '%2'").arg(n->id).arg(n->remote()->name);
    }
    qWarning("poolscope: MPI pool: %s", qPrintable(text));
    const auto err = std::make_exception_ptr(RankLost(text.toStdString()));
    for (auto it = w->inflight.rbegin(); it != w->inflight.rend(); ++it) {
        TaskNode* n = it->node;
        --inflightTotal;
        if (it->skipSent)
            --skipsOut; // no answer will come
        if (it->started && it->discard) {
            n->deref(); // its future was cancelled before it started
        } else if (it->started) {
            n->error = err;
            ++failed;
            WorkerSlot::bump(w->slot->failed);
            recordLocked(*w, *it, TaskStatus::Failed, -1, -1);
            complete.push_back({n, FutureState::Finished});
        } else if (certainlyDead && !broken && n->state() == FutureState::Pending) {
            queue.pushFront(n); // it never ran, so nothing runs twice
        } else {
            failUnstartedLocked(
                n,
                std::make_exception_ptr(
                    RankLost(QStringLiteral("task %1 '%2' was sent to %3, which was lost before it "
                                            "started; it did not run here and was not retried")
                                 .arg(n->id)
                                 .arg(n->remote()->name, placeOf(*w))
                                 .toStdString())),
                complete);
        }
    }
    w->inflight.clear();
    WorkerSlot& slot = *w->slot;
    slot.state.store(int(slot.state.load(std::memory_order_relaxed) == int(WorkerState::Retiring)
                             ? WorkerState::Retired
                             : WorkerState::Dead),
                     std::memory_order_relaxed);
    slot.currentTask.store(0, std::memory_order_relaxed);
    {
        std::lock_guard lw(mpi::detail::world().m);
        if (!spawned)
            mpi::detail::world().lostRanks.insert(w->peer);
        mpi::detail::world().skipFinalize = true;
    }
    bool anyLeft = false;
    for (auto& o : workers)
        anyLeft = anyLeft || !o->lost;
    if (!anyLeft)
        breakPoolLocked(QStringLiteral("every worker rank was lost (last: %1)").arg(text),
                        complete);
    wakeLocked();
}

void MpiPoolCore::checkLivenessLocked(Completion& complete)
{
    const qint64 now = monotonicNs();
    if (now - lastLivenessNs < 100'000'000)
        return;
    lastLivenessNs = now;
    const qint64 limit = qint64(opts.heartbeatTimeout.count()) * 1'000'000;
    for (auto& w : workers) {
        if (w->lost || (w->sessionOver && w->inflight.empty()))
            continue;
        if (w->pid > 0 && w->host == myHost && ::kill(pid_t(w->pid), 0) != 0 && errno == ESRCH) {
            loseLocked(w.get(), QStringLiteral("died (its process is gone)"), true, complete);
            continue;
        }
        if (now - w->lastHeardNs > limit)
            loseLocked(w.get(),
                       QStringLiteral("sent nothing for %1 ms (heartbeat timeout)")
                           .arg(opts.heartbeatTimeout.count()),
                       false, complete);
    }
}

void MpiPoolCore::dispatchLocked()
{
    if (paused && !shutdown) {
        for (int i = 0; i < maxWorkers && stepBudget > 0; ++i) {
            RankWorker& w = *workers[std::size_t(i)];
            if (w.inflight.empty() && !queue.empty() && feedLocked(w, 1) > 0)
                --stepBudget;
        }
        return;
    }
    // One task to every ready rank first, then pipeline more, so a burst
    // is spread over the ranks rather than queued behind the first.
    for (int depth : {1, opts.pipelineDepth})
        for (int i = 0; i < maxWorkers && !queue.empty(); ++i)
            feedLocked(*workers[std::size_t(i)], depth);
}

int MpiPoolCore::feedLocked(RankWorker& w, int depth)
{
    if (!w.ready || w.lost || w.sessionOver)
        return 0;
    // Nothing more behind a task that has run past its time: what is
    // queued may go to a rank that frees up first.
    const qint64 now = monotonicNs();
    if (!w.inflight.empty() && w.inflight.front().started && heldUpLocked(w, now))
        return 0;
    int sent = 0;
    QByteArray frames;
    while (int(w.inflight.size()) < depth && sendNextLocked(w, frames, now))
        ++sent;
    if (!frames.isEmpty())
        post(w.peer, kTagFrame, std::move(frames));
    return sent;
}

bool MpiPoolCore::closeSessionsLocked()
{
    if (!(shutdown || broken) || !queue.empty() || inflightTotal > 0)
        return false;
    bool all = true;
    for (auto& w : workers) {
        if (w->lost || w->sessionOver)
            continue;
        if (!w->ready) {
            all = false;
            continue;
        }
        protocol::Message bye;
        bye.type = protocol::MsgType::Exit;
        post(w->peer, kTagFrame, protocol::encode(bye));
        w->sessionOver = true;
        w->slot->state.store(int(WorkerState::Retiring), std::memory_order_relaxed);
    }
    return all;
}

bool MpiPoolCore::drainUntilRanksLeft(qint64 deadline)
{
    QSet<int> waiting;
    for (auto& w : workers)
        if (!w->lost)
            waiting.insert(w->peer);
    mpi::detail::Backoff b;
    while (!waiting.isEmpty() && monotonicNs() < deadline) {
        int flag = 0;
        MPI_Status st;
        MPI_Message msg = MPI_MESSAGE_NULL;
        if (MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm, &flag, &msg, &st) != MPI_SUCCESS)
            break;
        if (!flag) {
            b.wait();
            continue;
        }
        b.reset();
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        QByteArray buf(qsizetype(std::max(count, 0)), Qt::Uninitialized);
        MPI_Mrecv(buf.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
        if (st.MPI_TAG == kTagTerminate)
            waiting.remove(st.MPI_SOURCE);
    }
    if (!waiting.isEmpty())
        qWarning("poolscope: MPI pool: %d spawned rank(s) did not confirm leaving within 5 s; "
                 "not disconnecting from them",
                 int(waiting.size()));
    return waiting.isEmpty();
}

void MpiPoolCore::loop()
{
    sendHellos();
    mpi::detail::Backoff backoff;
    for (;;) {
        bool activity = receive();
        Completion complete;
        bool done = false;
        {
            std::lock_guard lk(m);
            if (sweepWanted.exchange(false, std::memory_order_acq_rel))
                sweepCancelledLocked();
            if (broken) {
                failPendingLocked(complete);
            } else {
                dispatchLocked();
                // An idle rank takes back what waits behind a long task
                // on another (every turn of this loop, as the process
                // pool's 5 ms watchdog does).
                rebalanceLocked();
            }
            checkLivenessLocked(complete);
            done = closeSessionsLocked();
            if (!complete.empty())
                cv.notify_all();
        }
        activity = !complete.empty() || activity;
        finish(complete);
        activity = progressSends() || activity;
        if (done && sends.empty())
            break;
        if (activity) {
            backoff.reset();
            continue;
        }
        const auto d = backoff.next();
        std::unique_lock lk(m);
        if (wakeup) {
            wakeup = false;
            continue;
        }
        if (d.count() == 0) {
            lk.unlock();
            std::this_thread::yield();
        } else {
            wake.wait_for(lk, d, [this] { return wakeup; });
            wakeup = false;
        }
    }
    if (spawned) {
        // The spawned ranks leave for good; then the intercommunicator
        // is disconnected (collective: only when no rank was lost, else
        // it would wait for the dead one for ever).
        // The byte tells them whether to skip MPI_Finalize (World).
        bool anyLost = false;
        for (auto& w : workers)
            anyLost = anyLost || w->lost;
        for (auto& w : workers) {
            if (!w->lost)
                post(w->peer, kTagTerminate, QByteArray(1, anyLost ? 1 : 0));
        }
        // Bounded: a rank that stopped receiving must not hang shutdown.
        const qint64 deadline = monotonicNs() + 5'000'000'000;
        mpi::detail::Backoff b;
        while (!sends.empty() && monotonicNs() < deadline) {
            progressSends();
            b.wait();
        }
        const bool sent = sends.empty();
        if (!sent) {
            qWarning("poolscope: MPI pool: %d send(s) to spawned ranks did not complete "
                     "within 5 s; abandoning them",
                     int(sends.size()));
            // MPI may still read these buffers: they are leaked on purpose.
            new std::deque<PendingSend>(std::exchange(sends, {}));
        }
        const bool allLeft = sent && drainUntilRanksLeft(deadline);
        if (!anyLost && allLeft) {
            MPI_Comm_disconnect(&comm);
        } else if (!anyLost) {
            // Open MPI's finalize would wait for the silent ranks too.
            std::lock_guard wl(mpi::detail::world().m);
            mpi::detail::world().skipFinalize = true;
        }
    }
    std::lock_guard lk(m);
    finished = true;
    for (auto& w : workers)
        if (!w->lost) // the pool ended: its ranks leave with it
            w->slot->state.store(int(WorkerState::Retired), std::memory_order_relaxed);
    cv.notify_all();
}

void MpiPoolCore::describeWorkersLocked(TelemetryBatch& out)
{
    for (auto& w : workers) {
        WorkerInfo wi = describeSlot(*w->slot);
        wi.host = w->host;
        wi.rank = w->peer;
        wi.name =
            w->host.isEmpty() ? w->slot->name : QStringLiteral("%1/%2").arg(w->host, w->slot->name);
        wi.pid = w->pid;
        wi.tid = w->pid;
        wi.cpuNs = w->taskCpuNs; // finished tasks' CPU time (the rank may be remote)
        out.workers.append(wi);
    }
    out.hostCpu = hostCpu;
}

/// MPI_Comm_spawn, bounded. Open MPI 4.1 with an external PMIx 4 (Debian
/// 12's pairing) now and then never returns from a spawn (openpmix#2735;
/// seen once here in CI: a 300 s test timeout). The call runs on a helper
/// thread; after `timeout` the caller gets BrokenExecutor instead of a hang.
/// The helper thread stays blocked inside MPI for ever, so it is detached
/// with its state, the process's MPI is marked wedged (later spawns are
/// refused at once) and MPI_Finalize is skipped at exit (it would wait for
/// the stuck spawn). timeout 0 waits as long as the spawn takes.
static std::pair<int, MPI_Comm> spawnBounded(const QByteArray& program, QList<QByteArray> args,
                                             int n, MPI_Info info,
                                             std::chrono::milliseconds timeout)
{
    auto& world = mpi::detail::world();
    {
        std::lock_guard lk(world.m);
        if (world.spawnWedged)
            throw BrokenExecutor("an earlier MPI_Comm_spawn of this process never returned; "
                                 "its MPI runtime cannot spawn again (restart the program)");
    }
    struct Call {
        std::mutex m;
        std::condition_variable cv;
        bool done = false;
        int rc = MPI_ERR_OTHER;
        MPI_Comm inter = MPI_COMM_NULL;
        QByteArray program;
        QList<QByteArray> args;
        MPI_Info info = MPI_INFO_NULL;
        int n = 0;
    };
    auto call = std::make_shared<Call>();
    call->program = program;
    call->args = std::move(args);
    call->info = info;
    call->n = n;
    auto body = [call] {
        std::vector<char*> argv;
        for (auto& a : call->args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        std::vector<int> errcodes(std::size_t(call->n), MPI_SUCCESS);
        MPI_Comm inter = MPI_COMM_NULL;
        const int rc = MPI_Comm_spawn(call->program.constData(), argv.data(), call->n, call->info,
                                      0, MPI_COMM_SELF, &inter, errcodes.data());
        if (call->info != MPI_INFO_NULL)
            MPI_Info_free(&call->info);
        std::lock_guard lk(call->m);
        call->rc = rc;
        call->inter = inter;
        call->done = true;
        call->cv.notify_all();
    };
    if (timeout.count() == 0) {
        body();
        return {call->rc, call->inter};
    }
    std::thread t(body);
    std::unique_lock lk(call->m);
    if (call->cv.wait_for(lk, timeout, [&] { return call->done; })) {
        lk.unlock();
        t.join();
        return {call->rc, call->inter};
    }
    lk.unlock();
    t.detach();
    {
        std::lock_guard wl(world.m);
        world.spawnWedged = true;
        world.skipFinalize = true;
    }
    qWarning("poolscope: MPI_Comm_spawn of %d rank(s) did not return within %lld ms", n,
             qlonglong(timeout.count()));
    throw BrokenExecutor(
        QStringLiteral("MPI_Comm_spawn of %1 rank(s) of '%2' did not return within %3 s (Open "
                       "MPI 4.1 with PMIx 4 is known to hang in spawn now and then: "
                       "openpmix#2735); this process's MPI cannot spawn again: restart it, or "
                       "launch statically with mpirun -n N")
            .arg(n)
            .arg(QString::fromLocal8Bit(program))
            .arg(double(timeout.count()) / 1000.0)
            .toStdString());
}

} // namespace detail

using detail::MpiPoolCore;

// ------------------------------------------------------------ MpiPoolExecutor

int MpiPoolExecutor::defaultMaxWorkers()
{
    if (mpi::isInitialized() && detail::worldSize() > 1)
        return detail::worldSize() - 1;
    return std::max(1, QThread::idealThreadCount());
}

MpiPoolExecutor::MpiPoolExecutor(const MpiPoolOptions& options, QObject* parent)
    : Executor(parent)
{
    using Launch = MpiPoolOptions::Launch;
    if (options.pipelineDepth < 1 || options.pipelineDepth > 64)
        throw InvalidArgument("pipelineDepth must be 1..64");
    if (options.heartbeatTimeout < std::chrono::milliseconds(3 * mpi::detail::kHeartbeatMs))
        throw InvalidArgument("heartbeatTimeout must be at least 1500 ms (ranks send a "
                              "heartbeat every 500 ms)");
    if (options.maxWorkers)
        checkMaxWorkers(*options.maxWorkers);
    mpi::detail::ensureInitialized(nullptr, nullptr);
    auto& world = mpi::detail::world();
    const int size = detail::worldSize();
    Launch launch = options.launch;
    if (launch == Launch::Auto)
        launch = size > 1 ? Launch::Static : Launch::Spawn;

    auto core = std::make_unique<MpiPoolCore>(options);
    core->myHost = mpi::hostName();
    std::vector<int> peers;
    if (launch == Launch::Static) {
        int rank = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        std::lock_guard lk(world.m);
        if (rank != 0)
            throw InvalidArgument("a static MPI pool lives on rank 0; ranks 1.."
                                  + std::to_string(size - 1)
                                  + " serve it (mpi::Environment::runWorker)");
        if (world.comm == MPI_COMM_NULL)
            throw InvalidArgument("a static MPI pool needs a poolscope::mpi::Environment created "
                                  "first thing in main() on every rank");
        if (size < 2)
            throw InvalidArgument("a static MPI pool needs worker ranks: run the program with "
                                  "mpirun -n N (N >= 2), or use the spawn launch");
        if (world.staticPoolActive)
            throw InvalidArgument("another static MpiPoolExecutor is using the worker ranks; "
                                  "shut it down first (ranks serve one pool at a time)");
        for (int r = 1; r < size; ++r)
            if (!world.lostRanks.count(r))
                peers.push_back(r);
        if (peers.empty())
            throw BrokenExecutor("every worker rank of this MPI job was lost by an earlier pool");
        const int want = options.maxWorkers.value_or(int(peers.size()));
        if (want > int(peers.size()))
            throw InvalidArgument(
                QStringLiteral("maxWorkers %1 is more than the %2 worker rank(s) of this MPI job "
                               "(mpirun -n %3 gives ranks 1..%4 to the pool)")
                    .arg(want)
                    .arg(peers.size())
                    .arg(size)
                    .arg(size - 1)
                    .toStdString());
        core->comm = world.comm;
        core->maxWorkers = want;
        world.staticPoolActive = true;
    } else {
        const int n = options.maxWorkers.value_or(std::max(1, QThread::idealThreadCount()));
        const QString program = options.workerProgram.isEmpty() ? detail::defaultWorkerProgram()
                                                                : options.workerProgram;
        if (!QFileInfo(program).isExecutable())
            throw InvalidArgument(
                QStringLiteral("cannot spawn MPI workers: '%1' is not an executable program")
                    .arg(program)
                    .toStdString());
        if (options.spawnTimeout < std::chrono::milliseconds(0))
            throw InvalidArgument("spawnTimeout must be >= 0 (0: wait as long as MPI_Comm_spawn "
                                  "takes)");
        const QByteArray prog = program.toLocal8Bit();
        QList<QByteArray> argBytes{QByteArray(mpi::kWorkerFlag)};
        for (const auto& a : options.workerArguments)
            argBytes.append(a.toLocal8Bit());
        MPI_Info info = MPI_INFO_NULL;
        if (options.oversubscribe) {
            MPI_Info_create(&info);
            MPI_Info_set(info, "map_by", ":OVERSUBSCRIBE");
        }
        const auto [rc, inter] =
            detail::spawnBounded(prog, std::move(argBytes), n, info, options.spawnTimeout);
        if (rc != MPI_SUCCESS || inter == MPI_COMM_NULL)
            throw BrokenExecutor(
                QStringLiteral("MPI_Comm_spawn of %1 rank(s) of '%2' failed: %3 (the MPI "
                               "runtime may not allow spawning here; launch statically with "
                               "mpirun -n N instead)")
                    .arg(n)
                    .arg(program, mpi::detail::errorText(rc))
                    .toStdString());
        MPI_Comm_set_errhandler(inter, MPI_ERRORS_RETURN);
        for (int r = 0; r < n; ++r)
            peers.push_back(r);
        core->comm = inter;
        core->spawned = true;
        core->maxWorkers = n;
    }
    for (std::size_t i = 0; i < peers.size(); ++i) {
        auto w = std::make_unique<detail::RankWorker>();
        w->peer = peers[i];
        w->slot = std::make_shared<detail::WorkerSlot>(int(i));
        w->slot->name = QStringLiteral("rank %1").arg(peers[i]);
        w->reader = protocol::FrameReader(options.maxFrameBytes);
        core->workers.push_back(std::move(w));
    }
    m_core = core.release();
    m_core->thread = std::thread([c = m_core] { c->loop(); });
}

MpiPoolExecutor::~MpiPoolExecutor()
{
    shutdown(true);
    if (m_core->thread.joinable())
        m_core->thread.join();
    if (!m_core->spawned) {
        auto& world = mpi::detail::world();
        std::lock_guard lk(world.m);
        world.staticPoolActive = false;
    }
    delete m_core;
}

QString MpiPoolExecutor::launchMode() const
{
    return m_core->spawned ? QStringLiteral("spawn") : QStringLiteral("static");
}

void MpiPoolExecutor::enqueue(detail::TaskNode* node, const TaskOptions& opts)
{
    m_core->enqueue(node, opts);
}

Future<QCborValue> MpiPoolExecutor::submitNamed(const QString& name, const QCborArray& args,
                                                const TaskOptions& options)
{
    const QString why = validateNamed(name, {args}, false);
    if (!why.isEmpty())
        return failedFuture<QCborValue>(
            std::make_exception_ptr(InvalidArgument(why.toStdString())));
    return submitRemote<QCborValue>(name, args, false, options);
}

Future<QCborValue> MpiPoolExecutor::submitNamedBatch(const QString& name,
                                                     const QList<QCborArray>& items,
                                                     const TaskOptions& options)
{
    const QString why = validateNamed(name, items, false);
    if (!why.isEmpty())
        return failedFuture<QCborValue>(
            std::make_exception_ptr(InvalidArgument(why.toStdString())));
    QCborArray all;
    for (const auto& a : items)
        all.append(a);
    return submitRemote<QCborValue>(name, std::move(all), true, options);
}

bool MpiPoolExecutor::waitUntilReady(const Deadline& deadline) const
{
    auto& c = *m_core;
    std::unique_lock lk(c.m);
    auto ready = [&] {
        if (c.broken)
            return true;
        for (auto& w : c.workers)
            if (!w->lost && (!w->ready || w->host.isEmpty()))
                return false;
        return true;
    };
    if (deadline.isForever()) {
        c.cv.wait(lk, ready);
        return !c.broken;
    }
    return c.cv.wait_until(lk, deadline.at(), ready) && !c.broken;
}

QStringList MpiPoolExecutor::workerPlaces() const
{
    std::lock_guard lk(m_core->m);
    QStringList out;
    for (auto& w : m_core->workers)
        out << QStringLiteral("%1/rank %2 (pid %3)%4")
                   .arg(w->host.isEmpty() ? QStringLiteral("?") : w->host)
                   .arg(w->peer)
                   .arg(w->pid)
                   .arg(w->lost ? QStringLiteral(" lost") : QString());
    return out;
}

void MpiPoolExecutor::shutdown(bool wait, bool cancelFutures)
{
    auto& c = *m_core;
    std::vector<detail::TaskNode*> taken;
    std::unique_lock lk(c.m);
    c.shutdown = true;
    if (cancelFutures)
        c.takePendingLocked(taken); // sent to a rank but not started: the ranks skip them
    c.wakeLocked();
    lk.unlock();
    MpiPoolCore::cancelTaken(taken); // outside the lock: callbacks
    if (!wait)
        return;
    if (std::this_thread::get_id() == c.thread.get_id()) {
        qWarning("poolscope: shutdown(wait=true) from the MPI pool's own thread (a done "
                 "callback?) cannot wait; not waiting");
        return;
    }
    lk.lock();
    c.cv.wait(lk, [&] { return c.finished; });
}

bool MpiPoolExecutor::isShutdown() const
{
    return m_core->isShutdown();
}

bool MpiPoolExecutor::isBroken() const
{
    return m_core->isBroken();
}

QString MpiPoolExecutor::brokenReason() const
{
    return m_core->brokenReasonText();
}

void MpiPoolExecutor::setMaxWorkers(int n)
{
    checkMaxWorkers(n);
    std::lock_guard lk(m_core->m);
    const int have = int(m_core->workers.size());
    if (n > have)
        throw InvalidArgument(QStringLiteral("the MPI pool has %1 worker rank(s); it cannot "
                                             "grow to %2 (ranks come from mpirun -n or the "
                                             "spawn count)")
                                  .arg(have)
                                  .arg(n)
                                  .toStdString());
    m_core->maxWorkers = n;
    for (int i = 0; i < have; ++i) {
        auto& w = *m_core->workers[std::size_t(i)];
        if (w.lost || !w.ready || w.sessionOver)
            continue;
        if (i >= n)
            w.slot->state.store(int(WorkerState::Retiring), std::memory_order_relaxed);
        else if (w.inflight.empty())
            w.slot->state.store(int(WorkerState::Idle), std::memory_order_relaxed);
    }
    m_core->wakeLocked();
}

int MpiPoolExecutor::maxWorkers() const
{
    return m_core->maxWorkersNow();
}

int MpiPoolExecutor::workerCount() const
{
    std::lock_guard lk(m_core->m);
    int n = 0;
    for (auto& w : m_core->workers)
        n += (!w->lost && !m_core->finished) ? 1 : 0;
    return n;
}

void MpiPoolExecutor::pause()
{
    m_core->pause();
}

void MpiPoolExecutor::resume()
{
    m_core->resume();
}

void MpiPoolExecutor::step()
{
    m_core->step();
}

bool MpiPoolExecutor::isPaused() const
{
    return m_core->isPaused();
}

Counters MpiPoolExecutor::counters() const
{
    return m_core->counters();
}

bool MpiPoolExecutor::waitForIdle(const Deadline& deadline) const
{
    return m_core->waitForIdle(deadline);
}

void MpiPoolExecutor::setRecording(bool on)
{
    m_core->setRecording(on);
}

void MpiPoolExecutor::setStagingCapacity(std::size_t rows)
{
    m_core->setStagingCapacity(rows);
}

void MpiPoolExecutor::collectTelemetry(TelemetryBatch& out, int queueHeadMax)
{
    m_core->collectTelemetry(out, queueHeadMax);
}

} // namespace poolscope
