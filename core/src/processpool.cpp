#include "poolscope/processpool.h"

#include "poolscope/cpusampler.h"
#include "poolscope/protocol.h"
#include "poolscope/recording.h"
#include "poolscope/worker.h"
#include "remoteengine.h"
#include "taskqueue.h"

#include <QCoreApplication>
#include <QDebug>
#include <QDir>
#include <QEvent>
#include <QFile>
#include <QFileInfo>
#include <QPointer>
#include <QProcess>
#include <QStandardPaths>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <functional>
#include <mutex>
#include <optional>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

// Ordering that Qt provides with synchronisation inside libQt6Core, told to
// ThreadSanitizer where PoolScope relies on it (no-ops in other builds).
#if defined(__SANITIZE_THREAD__) || (defined(__has_feature) && __has_feature(thread_sanitizer))
#include <sanitizer/tsan_interface.h>
#define POOLSCOPE_TSAN_RELEASE(addr) __tsan_release(addr)
#define POOLSCOPE_TSAN_ACQUIRE(addr) __tsan_acquire(addr)
#else
#define POOLSCOPE_TSAN_RELEASE(addr) (void)(addr)
#define POOLSCOPE_TSAN_ACQUIRE(addr) (void)(addr)
#endif

namespace poolscope {
namespace detail {

namespace {
/// The supervisor thread. Its event dispatcher (and the eventfd other
/// threads write to wake it) exists when run() starts; the constructor waits
/// for that through a std::mutex, so ThreadSanitizer sees the eventfd made
/// before anyone posts to it (Qt's own hand-off is invisible to it).
class SupervisorThread final : public QThread {
public:
    ~SupervisorThread() override
    {
        // Deleted after wait(), whose ordering is inside Qt: taking m_m
        // orders run()'s last use of it before the free, for TSan.
        std::lock_guard lk(m_m);
    }

    void waitUntilRunning()
    {
        std::unique_lock lk(m_m);
        m_cv.wait(lk, [this] { return m_running; });
    }

    /// After quit(): lets run() return. The thread closes its eventfd on
    /// the way out; waiting here orders every wake-up written to it (quit()'s
    /// too) before that close, where ThreadSanitizer can see it.
    void allowExit()
    {
        {
            std::lock_guard lk(m_m);
            m_exitAllowed = true;
        }
        m_cv.notify_all();
    }

protected:
    void run() override
    {
        {
            std::lock_guard lk(m_m);
            m_running = true;
        }
        m_cv.notify_all();
        exec();
        std::unique_lock lk(m_m);
        m_cv.wait(lk, [this] { return m_exitAllowed; });
    }

private:
    std::mutex m_m;
    std::condition_variable m_cv;
    bool m_running = false;
    bool m_exitAllowed = false;
};

QString signalName(int sig)
{
    const char* abbrev = sigabbrev_np(sig);
    const char* desc = strsignal(sig);
    return QStringLiteral("signal %1 (SIG%2: %3)")
        .arg(sig)
        .arg(QString::fromLatin1(abbrev ? abbrev : "?"), QString::fromLocal8Bit(desc ? desc : ""));
}
} // namespace

/// One worker process: what the engine knows of it (RemoteWorker) plus its
/// process. Touched only in the supervisor thread, except `slot` (atomics)
/// and the fields marked "under m".
struct ProcWorker final : RemoteWorker {
    QProcess* proc = nullptr;
    bool exitSent = false; // under m: asked to leave
    bool retire = false;   // under m: leave when idle
    bool broke = false;    // under m: killed for breaking the protocol (a failure)
    QString killReason;    // set when we terminate it on purpose
    int tasksRun = 0;
    qint64 lastLookNs = 0; // under m: checkStalledLocked() last read its /proc state
};

int adaptivePipelineDepth(int base, qint64 avgTaskNs)
{
    constexpr int kMaxDepth = 64;
    if (base < 2 || avgTaskNs < 0)
        return base;
    const qint64 byTime = kBudgetNs / std::max<qint64>(avgTaskNs, 1000);
    return int(std::clamp<qint64>(byTime, base, std::max(base, kMaxDepth)));
}

/// The process pool: the engine's bookkeeping (RemoteEngine) over worker
/// processes. It owns the QProcesses and their pipes, on one supervisor
/// thread, and what only processes have: spawning and replacing workers,
/// recycling, killing a worker with its task (timeout, cancel, stop), and
/// the watchdog that finds stopped or hung workers.
class ProcessPoolCore final : public QObject, public RemoteEngine {
public:
    static constexpr int kMaxLostDispatches = 3;
    explicit ProcessPoolCore(const ProcessPoolOptions& o);

    ProcessPoolOptions opts;
    QString program;

    // ---- hand-offs to the supervisor thread (any thread)
    // Work for the supervisor thread goes through this inbox, under
    // inboxMutex; a plain posted QEvent only wakes it. Not
    // QMetaObject::invokeMethod with a lambda: the order Qt's posted-event
    // queue gives is made by a futex inside libQt6Core, which
    // ThreadSanitizer cannot see, so every lambda capture and completion
    // handed over that way was a reported race (docs/reliability.md,
    // "Sanitizers"). A std::mutex it sees; the code runs the same.
    static constexpr QEvent::Type kInboxEvent = QEvent::Type(QEvent::User + 71);
    std::mutex inboxMutex;
    std::vector<std::function<void()>> inbox;
    bool inboxPosted = false;

    /// Runs f on the supervisor thread, later; returns at once.
    void post(std::function<void()> f);
    /// Runs f on the supervisor thread and waits until it has run (at once
    /// when called there).
    void call(const std::function<void()>& f);
    bool event(QEvent* e) override;

    // ---- shared, under m (the task bookkeeping is RemoteEngine's)
    std::vector<std::unique_ptr<ProcWorker>> workers;
    int nextWorkerIndex = 0;
    bool pumpScheduled = false;
    int startupFailures = 0; // consecutive workers that died before ready
    // Worker processes the system refused to start (fork, pipes: ulimit -u,
    // ulimit -n), why the last one was, and when to try again: the pool
    // runs with the workers it has meanwhile, as the thread pool does.
    quint64 spawnFailures = 0;
    QString spawnError;
    qint64 spawnRetryNs = 0;          // no start before this (0: none refused yet)
    int spawnBackoffMs = 0;           // 1 s after a refusal, doubling to 16 s; 0 once one starts
    int refusedIndex = -1;            // the last refused worker's index (later ones are retries)
    int startedWorkersLocked() const; // live workers whose process runs
    bool keepFull = false;            // prestart(): keep maxWorkers workers, not only on demand
    int mostLive = 0;                 // replaceLostWorkers: the most live workers the pool has had
    std::atomic<bool> sweepPosted{false}; // a cancelled dispatched task is being asked back

    QTimer* watchdog = nullptr; // supervisor thread

    // ---- any thread
    void schedulePumpLocked();
    int liveWorkersLocked() const;
    /// How many tasks each worker may hold (adaptivePipelineDepth).
    int depthLocked() const { return adaptivePipelineDepth(opts.pipelineDepth, avgTaskNs); }

    // ---- supervisor thread only
    void pump();
    void pumpLocked(Completion& complete);
    void spawnNeededLocked();
    void spawnLocked();
    void onReadyTimeout(ProcWorker* w);
    void dispatchLocked();
    void feedLocked(ProcWorker& w, int depth, QByteArray* out = nullptr, qint64 now = 0);
    void sweepCancelled();
    void retireIdleLocked();
    void onReadable(ProcWorker* w);
    bool handleLocked(ProcWorker* w, const protocol::Message& msg, Completion& complete,
                      QString* error, bool* needPump);
    void terminateLocked(ProcWorker* w, const QString& reason, bool hard);
    void abortRunningLocked(ProcWorker* w, std::exception_ptr err, bool cancelled,
                            const QString& reason, Completion& complete, bool hard = false);
    void breakWorkerLocked(ProcWorker* w, const QString& why, Completion& complete);
    void onFailedToStart(ProcWorker* w);
    void onFinished(ProcWorker* w, int code, QProcess::ExitStatus st);
    void removeWorkerLocked(ProcWorker* w, Completion& complete, const QString& reason = {});
    void updateWatchdog();
    void onWatchdog();
    void checkStalledLocked(ProcWorker& w, const ProcWorker::InFlight& f, qint64 now);
    static bool processStopped(qint64 pid);
    void stopAllLocked(bool hard, Completion& complete);

    // CancelHook (recordCancelled() is RemoteEngine's)
    void pendingCancelled() noexcept override;

protected:
    // RemoteEngine: the transport
    std::size_t workerCountLocked() const override { return workers.size(); }
    RemoteWorker& workerAt(std::size_t i) const override { return *workers[i]; }
    void wakeLocked() override { schedulePumpLocked(); }
    void sendFramesLocked(RemoteWorker& w, const QByteArray& frames) override;
    bool acceptsSkipLocked(const RemoteWorker& w) const override;
    bool mayGiveBackLocked(const RemoteWorker& w) const override;
    bool takesWorkLocked(const RemoteWorker& w) const override;
    void brokeWorkerLocked(RemoteWorker& w, const std::exception_ptr& err,
                           Completion& complete) override;
    void describeWorkersLocked(TelemetryBatch& out) override;

private:
    static ProcWorker& proc(RemoteWorker& w) { return static_cast<ProcWorker&>(w); }
    static const ProcWorker& proc(const RemoteWorker& w)
    {
        return static_cast<const ProcWorker&>(w);
    }
};

ProcessPoolCore::ProcessPoolCore(const ProcessPoolOptions& o)
    : opts(o)
{
    program = opts.workerProgram.isEmpty() ? defaultWorkerProgram() : opts.workerProgram;
    // The words through which a cancel() and a worker's start decide who
    // wins a task written ahead (taskgates.h). Without them the pool still
    // works, with the race documented in docs/library.md.
    QString why;
    gates = TaskGates::create(TaskGates::kDefaultCapacity, &why);
    if (!gates)
        qWarning("poolscope: process pool without task gates (%s): a cancel() may race "
                 "its worker's start",
                 qPrintable(why));
}

// ------------------------------------------------------------ hand-offs

void ProcessPoolCore::post(std::function<void()> f)
{
    bool wake = false;
    {
        std::lock_guard lk(inboxMutex);
        inbox.push_back(std::move(f));
        wake = !std::exchange(inboxPosted, true);
    }
    if (wake) {
        auto* e = new QEvent(kInboxEvent);
        POOLSCOPE_TSAN_RELEASE(e); // acquired in event(): Qt's queue orders the two
        QCoreApplication::postEvent(this, e);
    }
}

void ProcessPoolCore::call(const std::function<void()>& f)
{
    if (QThread::currentThread() == thread()) {
        f();
        return;
    }
    std::mutex dm;
    std::condition_variable dcv;
    bool done = false;
    post([&] {
        f();
        std::lock_guard lk(dm);
        done = true;
        dcv.notify_one();
    });
    std::unique_lock lk(dm);
    dcv.wait(lk, [&] { return done; });
}

bool ProcessPoolCore::event(QEvent* e)
{
    POOLSCOPE_TSAN_ACQUIRE(e); // see post(); a no-op for events nobody released
    if (e->type() != kInboxEvent)
        return QObject::event(e);
    std::vector<std::function<void()>> batch;
    {
        std::lock_guard lk(inboxMutex);
        batch.swap(inbox);
        inboxPosted = false;
    }
    for (auto& f : batch)
        f();
    return true;
}

// ------------------------------------------------------------ the transport for RemoteEngine

void ProcessPoolCore::sendFramesLocked(RemoteWorker& w, const QByteArray& frames)
{
    proc(w).proc->write(frames);
}

bool ProcessPoolCore::acceptsSkipLocked(const RemoteWorker& w) const
{
    const ProcWorker& p = proc(w);
    return p.killReason.isEmpty() && p.proc->state() != QProcess::NotRunning;
}

bool ProcessPoolCore::mayGiveBackLocked(const RemoteWorker& w) const
{
    const ProcWorker& p = proc(w);
    return p.killReason.isEmpty() && !p.exitSent;
}

bool ProcessPoolCore::takesWorkLocked(const RemoteWorker& w) const
{
    const ProcWorker& p = proc(w);
    return p.ready && !p.retire && !p.exitSent && p.killReason.isEmpty()
           && (opts.maxTasksPerChild == 0 || p.tasksRun < opts.maxTasksPerChild);
}

void ProcessPoolCore::brokeWorkerLocked(RemoteWorker& w, const std::exception_ptr& err,
                                        Completion& complete)
{
    // Its running task fails with the pool (Python's BrokenProcessPool).
    ProcWorker& p = proc(w);
    if (p.proc->state() != QProcess::NotRunning)
        abortRunningLocked(&p, err, false, brokenReason, complete);
}

void ProcessPoolCore::describeWorkersLocked(TelemetryBatch& out)
{
    auto describe = [&](const WorkerSlot& s, bool alive) {
        WorkerInfo wi = describeSlot(s);
        wi.pid = s.pid.load(std::memory_order_relaxed);
        wi.tid = wi.pid;
        if (alive && wi.pid > 0) {
            if (auto st = readTaskStat(wi.pid)) {
                wi.cpuNs = st->cpuNs;
                wi.lastCore = st->lastCpu;
            }
        }
        out.workers.append(wi);
    };
    for (auto& w : workers)
        describe(*w->slot, true);
    std::vector<std::shared_ptr<WorkerSlot>> dead;
    dead.swap(deadSlots);
    for (auto& s : dead)
        describe(*s, false);
}

// ------------------------------------------------------------ pumping

void ProcessPoolCore::schedulePumpLocked()
{
    if (pumpScheduled)
        return;
    pumpScheduled = true;
    post([this] { pump(); });
}

int ProcessPoolCore::startedWorkersLocked() const
{
    int n = 0;
    for (auto& w : workers)
        n += (w->retire || w->exitSent || w->proc->state() == QProcess::NotRunning) ? 0 : 1;
    return n;
}

int ProcessPoolCore::liveWorkersLocked() const
{
    int n = 0;
    for (auto& w : workers)
        n += (w->retire || w->exitSent) ? 0 : 1;
    return n;
}

void ProcessPoolCore::pump()
{
    Completion complete;
    {
        std::lock_guard lk(m);
        pumpLocked(complete);
        cv.notify_all();
    }
    finish(complete);
    updateWatchdog();
}

void ProcessPoolCore::pumpLocked(Completion& complete)
{
    pumpScheduled = false;
    if (broken) {
        failPendingLocked(complete);
    } else {
        spawnNeededLocked();
        dispatchLocked();
        rebalanceLocked();
    }
    retireIdleLocked();
}

void ProcessPoolCore::spawnNeededLocked()
{
    if (shutdown && queue.empty())
        return;
    if (spawnBackoffMs > 0) {
        // The system refused the last start: one try at the retry time,
        // the rest once a worker starts again.
        if (monotonicNs() < spawnRetryNs || startedWorkersLocked() < liveWorkersLocked())
            return;
        // Only when a worker is wanted: a prestarted pool, or work queued
        // (an idle pool does not probe the limit every 16 s for nothing).
        if (liveWorkersLocked() < maxWorkers && (keepFull || !queue.empty()))
            spawnLocked();
        return;
    }
    int live = liveWorkersLocked();
    if (keepFull && !shutdown && !broken) {
        // Prestarted: a worker that crashed, was recycled or was killed
        // with its task is replaced at once, so the pool stays at its
        // size (the window showed 1 of 2 workers after a crash).
        for (; live < maxWorkers; ++live)
            spawnLocked();
        return;
    }
    if (opts.replaceLostWorkers && !shutdown && !broken) {
        // Back up to the most workers it has had: lost ones are replaced
        // at once, new ones still start on demand (below).
        for (const int want = std::min(mostLive, maxWorkers); live < want; ++live)
            spawnLocked();
    }
    // As Python's pool: a task that finds no idle worker gets a new one
    // (up to maxWorkers). Idle = holding nothing (a starting worker
    // holds nothing yet and counts). Pipelining fills busy workers
    // deeper, but must not stand in for a worker the pool may still
    // start: two long tasks after a run of short ones ran one after the
    // other in a single worker when busy workers counted as capacity
    // (tst_processpool longTasksAfterShortOnesGetTheirOwnWorkers).
    qint64 idle = 0;
    for (auto& w : workers) {
        if (!w->retire && !w->exitSent && w->inflight.empty())
            ++idle;
    }
    const qint64 queued = qint64(queue.size());
    while (live < maxWorkers && queued > idle) {
        spawnLocked();
        ++live;
        ++idle;
    }
    mostLive = std::max(mostLive, live);
}

void ProcessPoolCore::spawnLocked()
{
    auto w = std::make_unique<ProcWorker>();
    w->slot = std::make_shared<WorkerSlot>(nextWorkerIndex++);
    w->slot->name = QStringLiteral("process_%1").arg(w->slot->index);
    w->reader = protocol::FrameReader(opts.maxFrameBytes);
    auto* p = new QProcess(this);
    w->proc = p;
    ProcWorker* raw = w.get();
    p->setProgram(program);
    QStringList args{QString::fromLatin1(kWorkerFlag)};
    args += opts.workerArguments;
    p->setArguments(args);
    p->setProcessChannelMode(QProcess::ForwardedErrorChannel);
    if (gates) {
        // The worker inherits the gates' memfd (close-on-exec here, so no
        // other child of this program gets it); fcntl is async-signal-safe.
        const int fd = gates->fd();
        p->setChildProcessModifier([fd] { ::fcntl(fd, F_SETFD, 0); });
    }
    connect(p, &QProcess::readyReadStandardOutput, this, [this, raw] { onReadable(raw); });
    connect(p, &QProcess::finished, this,
            [this, raw](int code, QProcess::ExitStatus st) { onFinished(raw, code, st); });
    // Queued: QProcess::start() below reports a refused fork or pipe
    // (`ulimit -u`, `ulimit -n`) at once, from inside start(), while m is
    // held here; handled directly it took m again and the pool deadlocked
    // (issue #17).
    connect(
        p, &QProcess::errorOccurred, this,
        [this, raw](QProcess::ProcessError e) {
            if (e == QProcess::FailedToStart)
                onFailedToStart(raw);
        },
        Qt::QueuedConnection);
    workers.push_back(std::move(w));
    p->start(QIODevice::ReadWrite | QIODevice::Unbuffered);
    protocol::Message hello;
    hello.type = protocol::MsgType::Hello;
    hello.worker = raw->slot->index;
    if (!opts.initializer.isEmpty()) {
        hello.hasInit = true;
        hello.name = opts.initializer;
        hello.args = opts.initializerArgs;
    }
    if (gates) {
        hello.gatesFd = gates->fd();
        hello.gatesCount = gates->capacity();
    }
    p->write(protocol::encode(hello));
    QTimer::singleShot(opts.readyTimeout, p, [this, raw] { onReadyTimeout(raw); });
}

/// readyTimeout passed (supervisor thread; the timer dies with its
/// QProcess, so `w` is still one of ours).
void ProcessPoolCore::onReadyTimeout(ProcWorker* w)
{
    std::lock_guard lk(m);
    if (w->ready || !w->killReason.isEmpty())
        return;
    w->broke = true; // dead, not retired: it never worked
    terminateLocked(w,
                    QStringLiteral("worker %1 (pid %2) did not say 'ready' within %3 ms: is "
                                   "'%4' a PoolScope worker program?")
                        .arg(w->slot->index)
                        .arg(w->proc->processId())
                        .arg(opts.readyTimeout.count())
                        .arg(program),
                    /*hard=*/true);
}

void ProcessPoolCore::dispatchLocked()
{
    if (paused && !shutdown) {
        // step(): one task to the first ready idle worker per grant.
        for (auto& w : workers) {
            if (stepBudget == 0)
                break;
            if (w->inflight.empty() && !queue.empty()) {
                const int before = int(w->inflight.size());
                feedLocked(*w, 1);
                if (int(w->inflight.size()) > before)
                    --stepBudget;
            }
        }
        return;
    }
    // Level 1 gives every ready worker one task; deeper levels pipeline
    // more (up to depthLocked()), one task per worker per level so a
    // batch is split evenly, and only when no worker is still starting,
    // so a burst at start-up is not all queued behind the first worker
    // ready. Each worker's frames go out in one write.
    bool starting = false;
    for (auto& w : workers)
        starting = starting || (!w->ready && w->killReason.isEmpty() && !w->retire);
    const int depth = starting ? 1 : depthLocked();
    const qint64 now = monotonicNs();
    std::vector<QByteArray> frames(workers.size());
    for (int level = 1; level <= depth && !queue.empty(); ++level) {
        for (std::size_t i = 0; i < workers.size(); ++i)
            feedLocked(*workers[i], level, &frames[i], now);
    }
    for (std::size_t i = 0; i < workers.size(); ++i) {
        if (!frames[i].isEmpty())
            workers[i]->proc->write(frames[i]);
    }
}

/// Sends w tasks until it holds `depth`. With `out`, the frames are
/// appended there for the caller to write; otherwise written here.
void ProcessPoolCore::feedLocked(ProcWorker& w, int depth, QByteArray* out, qint64 now)
{
    if (!w.ready || w.retire || w.exitSent || !w.killReason.isEmpty())
        return;
    // With max_tasks_per_child, never send a worker more than it may run.
    auto mayTake = [&] {
        return opts.maxTasksPerChild == 0
               || w.tasksRun + int(w.inflight.size()) < opts.maxTasksPerChild;
    };
    // Nothing more behind a task that has run past its time: what is
    // queued may go to a worker that frees up first.
    if (!w.inflight.empty() && w.inflight.front().started
        && heldUpLocked(w, now ? now : monotonicNs()))
        return;
    QByteArray frames;
    const qint64 sentNs = now ? now : monotonicNs();
    while (int(w.inflight.size()) < depth && !queue.empty() && mayTake())
        sendNextLocked(w, frames, sentNs);
    if (out)
        *out += frames;
    else if (!frames.isEmpty())
        w.proc->write(frames);
}

/// Asks back every task sent to a worker and cancelled by its future
/// before the worker started it (supervisor thread, after
/// pendingCancelled()).
void ProcessPoolCore::sweepCancelled()
{
    sweepPosted.exchange(false, std::memory_order_acq_rel);
    std::lock_guard lk(m);
    sweepCancelledLocked();
}

/// Workers beyond maxWorkers, or all of them when shutting down with
/// nothing left to do, are asked to leave once idle.
void ProcessPoolCore::retireIdleLocked()
{
    int live = liveWorkersLocked();
    for (auto it = workers.rbegin(); it != workers.rend(); ++it) {
        auto& w = *it;
        if (w->exitSent || !w->killReason.isEmpty())
            continue;
        const bool excess = !w->retire && live > maxWorkers;
        if (excess) {
            w->retire = true;
            --live;
            w->slot->state.store(int(WorkerState::Retiring), std::memory_order_relaxed);
        }
        const bool done = (shutdown || broken) && queue.empty();
        if ((w->retire || done) && w->inflight.empty() && w->ready) {
            protocol::Message bye;
            bye.type = protocol::MsgType::Exit;
            w->proc->write(protocol::encode(bye));
            w->proc->closeWriteChannel();
            w->exitSent = true;
            w->slot->state.store(int(WorkerState::Retiring), std::memory_order_relaxed);
        }
    }
}

void ProcessPoolCore::onReadable(ProcWorker* w)
{
    // A frame the parent has no memory for (a huge result under ulimit -v)
    // breaks that worker, with the reason; std::bad_alloc let through Qt's
    // event loop ended the whole program.
    if (w->broke) { // being killed: nothing it says counts anymore
        w->proc->readAllStandardOutput();
        return;
    }
    bool noMemory = false;
    try {
        w->reader.feed(w->proc->readAllStandardOutput());
    } catch (const std::bad_alloc&) {
        noMemory = true;
    }
    w->lastHeardNs = monotonicNs();
    Completion complete;
    QString error;
    bool needPump = false;
    {
        std::lock_guard lk(m);
        while (!noMemory) {
            QByteArray payload;
            const auto st = w->reader.next(&payload, &error);
            if (st == protocol::FrameReader::Status::NeedMore)
                break;
            if (st == protocol::FrameReader::Status::Error)
                break;
            std::optional<protocol::Message> msg;
            try {
                msg = protocol::decode(payload, /*fromWorker=*/true, &error);
            } catch (const std::bad_alloc&) {
                noMemory = true;
                break;
            }
            if (!msg)
                break;
            if (!handleLocked(w, *msg, complete, &error, &needPump))
                break;
            error.clear();
        }
        if (noMemory) {
            w->reader = protocol::FrameReader(opts.maxFrameBytes); // frees the partial frame
            breakWorkerLocked(w,
                              QStringLiteral("sent more than the parent had memory for (the "
                                             "limit on memory, ulimit -v, or the machine's)"),
                              complete);
        } else if (!error.isEmpty()) {
            breakWorkerLocked(w, QStringLiteral("sent a malformed frame: %1").arg(error), complete);
        }
        // Refill the workers now (we are the supervisor thread) rather
        // than through a queued pump(): one event-loop round trip less
        // per result, and the worker gets its next tasks sooner.
        if (needPump)
            pumpLocked(complete);
        cv.notify_all();
    }
    finish(complete);
    if (needPump)
        updateWatchdog();
}

bool ProcessPoolCore::handleLocked(ProcWorker* w, const protocol::Message& msg,
                                   Completion& complete, QString* error, bool* needPump)
{
    using protocol::MsgType;
    WorkerSlot& slot = *w->slot;
    switch (msg.type) {
    case MsgType::Ready:
        if (!readyLocked(*w, msg.pid, error))
            return false;
        w->gated = msg.gatesMapped && gates;
        startupFailures = 0;
        if (w->slot->index > refusedIndex)
            spawnBackoffMs = 0; // a retry started: start the rest (refused again: from 1 s)
        *needPump = true;
        return true;
    case MsgType::InitFailed: {
        const QString why = QStringLiteral("the worker initializer '%1' failed (%2: %3); "
                                           "the pool is not usable anymore")
                                .arg(opts.initializer, msg.errorType, msg.errorText);
        breakPoolLocked(why, complete);
        return true;
    }
    case MsgType::Started: {
        const RemoteWorker::InFlight* f = onStartedLocked(*w, msg, error);
        if (!f)
            return false;
        if (f->discard) {
            // Cancelled by its future after it was sent, and started before
            // the worker saw the 'skip': its result will be dropped; if it
            // runs past overrunNs(), the watchdog stops it as a running
            // task's cancel does.
            slot.state.store(int(WorkerState::Running), std::memory_order_relaxed);
            post([this] { updateWatchdog(); });
        } else if (f->deadlineNs) {
            post([this] { updateWatchdog(); });
        }
        return true;
    }
    case MsgType::Progress:
        onProgressLocked(*w, msg);
        return true;
    case MsgType::Skipped:
        if (!onSkippedLocked(*w, msg, error))
            return false;
        *needPump = true;
        return true;
    case MsgType::Result: {
        const ResultKind kind = onResultLocked(*w, msg, complete, error);
        if (kind == ResultKind::OutOfOrder)
            return false;
        ++w->tasksRun;
        if (kind == ResultKind::Discarded) {
            slot.state.store(int(WorkerState::Idle), std::memory_order_relaxed);
        } else if ((opts.maxTasksPerChild > 0 && w->tasksRun >= opts.maxTasksPerChild)
                   || (opts.maxRssBytes > 0 && msg.rssBytes > opts.maxRssBytes)) {
            // Recycling: by task count or memory, after the task.
            w->retire = true;
            slot.state.store(int(WorkerState::Retiring), std::memory_order_relaxed);
        }
        *needPump = true;
        return true;
    }
    default:
        *error = QStringLiteral("unexpected '%1' frame").arg(protocol::nameOf(msg.type));
        return false;
    }
}

/// Terminates a worker we no longer trust or need; its running task gets
/// `outcome` (already set on the node by the caller when failing).
void ProcessPoolCore::terminateLocked(ProcWorker* w, const QString& reason, bool hard)
{
    if (w->killReason.isEmpty())
        w->killReason = reason;
    w->slot->state.store(int(WorkerState::Retiring), std::memory_order_relaxed);
    QPointer<QProcess> p = w->proc;
    if (hard) {
        p->kill();
    } else {
        p->terminate();
        QTimer::singleShot(opts.terminateGrace, this, [p] {
            if (p && p->state() != QProcess::NotRunning)
                p->kill();
        });
    }
}

/// Ends the running task of w with an error or cancellation and kills w.
void ProcessPoolCore::abortRunningLocked(ProcWorker* w, std::exception_ptr err, bool cancelled,
                                         const QString& reason, Completion& complete, bool hard)
{
    if (!w->inflight.empty() && w->inflight.front().started && w->inflight.front().discard) {
        // Its outcome is its future's cancel; nothing to count.
    } else if (!w->inflight.empty() && w->inflight.front().started) {
        auto f = w->inflight.front();
        w->inflight.pop_front();
        --inflightTotal;
        TaskNode* n = f.node;
        TaskStatus status;
        if (cancelled) {
            ++cancelledRun;
            WorkerSlot::bump(w->slot->cancelled);
            status = TaskStatus::Cancelled;
            complete.push_back({n, FutureState::Cancelled});
        } else {
            n->error = err;
            ++failed;
            WorkerSlot::bump(w->slot->failed);
            status = TaskStatus::Failed;
            complete.push_back({n, FutureState::Finished});
        }
        recordLocked(*w, f, status, -1, -1);
        w->slot->currentTask.store(0, std::memory_order_relaxed);
    }
    terminateLocked(w, reason, hard);
}

void ProcessPoolCore::breakWorkerLocked(ProcWorker* w, const QString& why, Completion& complete)
{
    const QString text = QStringLiteral("worker %1 (pid %2) %3")
                             .arg(w->slot->index)
                             .arg(w->pid ? w->pid : w->proc->processId()) // before 'ready'
                             .arg(why);
    qWarning("poolscope: %s; replacing it", qPrintable(text));
    w->broke = true;
    abortRunningLocked(w, std::make_exception_ptr(WorkerCrashed(text.toStdString())), false, text,
                       complete, /*hard=*/true);
}

/// Why a worker process could not be started, in words that name the
/// cause: Qt reports a refused pipe (`ulimit -n`) with the errno of an
/// earlier call ("No such file or directory" for a program that exists).
static QString spawnFailureText(const QString& program, const QString& qtText)
{
    const QString path =
        QFileInfo(program).isAbsolute() ? program : QStandardPaths::findExecutable(program);
    const QFileInfo fi(path);
    if (path.isEmpty() || !fi.exists())
        return QStringLiteral("cannot start the worker program '%1': it does not exist "
                              "(set ProcessPoolOptions::workerProgram or POOLSCOPE_WORKER)")
            .arg(program);
    if (!fi.isExecutable())
        return QStringLiteral("cannot start the worker program '%1': it is not executable")
            .arg(path);
    auto limit = [](int resource) {
        rlimit r{};
        if (::getrlimit(resource, &r) != 0 || r.rlim_cur == RLIM_INFINITY)
            return QStringLiteral("unlimited");
        return QString::number(qulonglong(r.rlim_cur));
    };
    const qsizetype openFds =
        QDir(QStringLiteral("/proc/self/fd")).entryList(QDir::Files | QDir::System).size();
    QString text = QStringLiteral("cannot start a worker process of '%1': the system refused a "
                                  "new process or its pipes (open files %2 of %3, ulimit -n; "
                                  "processes limit %4, ulimit -u")
                       .arg(path)
                       .arg(openFds)
                       .arg(limit(RLIMIT_NOFILE), limit(RLIMIT_NPROC));
    // Qt's own text, unless it is the stale errno it reports a refused
    // pipe with ("No such file or directory", for a program that exists).
    if (!qtText.contains(QLatin1String("No such file or directory")))
        text += QStringLiteral("; %1").arg(qtText);
    return text + QLatin1Char(')');
}

void ProcessPoolCore::onFailedToStart(ProcWorker* w)
{
    Completion complete;
    int retryMs = 0;
    {
        std::lock_guard lk(m);
        const QString why = spawnFailureText(program, w->proc->errorString());
        ++spawnFailures;
        spawnError = why;
        refusedIndex = std::max(refusedIndex, w->slot->index);
        removeWorkerLocked(w, complete);
        // Workers whose process runs (the others of a batch started in one
        // go may be refused too: their reports are on their way).
        const int running = startedWorkersLocked();
        if (running == 0) {
            // No worker at all: nothing would ever run the queue.
            breakPoolLocked(
                QStringLiteral("%1; the pool has no worker and is not usable anymore").arg(why),
                complete);
        } else if (!broken && !shutdown) {
            // Run with the workers it has (as the thread pool does), and
            // try one more at growing intervals rather than in a loop of
            // refusals. The refusals of one batch count as one.
            const qint64 now = monotonicNs();
            if (now >= spawnRetryNs) {
                if (spawnBackoffMs == 0)
                    qWarning("poolscope: %s; the pool goes on with %d of %d workers",
                             qPrintable(why), running, maxWorkers);
                spawnBackoffMs = spawnBackoffMs ? std::min(spawnBackoffMs * 2, 16000) : 1000;
                spawnRetryNs = now + qint64(spawnBackoffMs) * 1'000'000;
                retryMs = spawnBackoffMs;
            }
        }
        cv.notify_all();
    }
    finish(complete);
    if (retryMs)
        QTimer::singleShot(retryMs, this, [this] { pump(); });
}

void ProcessPoolCore::onFinished(ProcWorker* w, int code, QProcess::ExitStatus st)
{
    Completion complete;
    {
        std::lock_guard lk(m);
        // Frames still buffered (e.g. a result written just before exit).
        w->reader.feed(w->proc->readAllStandardOutput());
        const QString how = st == QProcess::CrashExit
                                ? QStringLiteral("was killed by %1").arg(signalName(code))
                                : QStringLiteral("exited with code %1").arg(code);
        const bool expected = w->exitSent && w->inflight.empty();
        if (!expected && w->killReason.isEmpty()) {
            if (!w->ready)
                ++startupFailures;
            QString text =
                QStringLiteral("worker %1 (pid %2) %3").arg(w->slot->index).arg(w->pid).arg(how);
            if (!w->inflight.empty() && w->inflight.front().started) {
                const TaskNode* n = w->inflight.front().node;
                text +=
                    QStringLiteral(" while running task %1 '%2'").arg(n->id).arg(n->remote()->name);
            }
            qWarning("poolscope: %s", qPrintable(text));
            if (opts.crashPolicy == ProcessPoolOptions::CrashPolicy::BreakPool) {
                breakPoolLocked(text
                                    + QStringLiteral("; the pool is broken (crash policy "
                                                     "BreakPool)"),
                                complete);
            } else if (startupFailures >= 3) {
                breakPoolLocked(QStringLiteral("%1 workers in a row died before they "
                                               "were ready (last: %2)")
                                    .arg(startupFailures)
                                    .arg(text),
                                complete);
            }
            if (!w->inflight.empty() && w->inflight.front().started) {
                auto f = w->inflight.front();
                w->inflight.pop_front();
                --inflightTotal;
                // A pool this crash broke fails the running task as it
                // fails every other one, as Python's BrokenProcessPool
                // does (the crash in the message); otherwise the task
                // alone failed and the pool goes on.
                f.node->error =
                    broken ? std::make_exception_ptr(BrokenExecutor(brokenReason.toStdString()))
                           : std::make_exception_ptr(WorkerCrashed(text.toStdString()));
                ++failed;
                WorkerSlot::bump(w->slot->failed);
                recordLocked(*w, f, TaskStatus::Failed, -1, -1);
                complete.push_back({f.node, FutureState::Finished});
            }
        }
        if (!w->ready && w->broke && ++startupFailures >= 3) {
            // It never worked (no 'ready' in time, or a malformed frame
            // before it): replacing it for ever was a hang.
            breakPoolLocked(QStringLiteral("%1 workers in a row died before they were ready "
                                           "(last: %2)")
                                .arg(startupFailures)
                                .arg(w->killReason),
                            complete);
        }
        removeWorkerLocked(
            w, complete,
            w->killReason.isEmpty()
                ? QStringLiteral("worker %1 (pid %2) %3").arg(w->slot->index).arg(w->pid).arg(how)
                : w->killReason);
        schedulePumpLocked();
        cv.notify_all();
    }
    finish(complete);
}

/// Drops a dead worker: tasks it had not started go back to the front of
/// the queue (they never ran, so nothing runs twice).
void ProcessPoolCore::removeWorkerLocked(ProcWorker* w, Completion& complete, const QString& reason)
{
    // Only the first task the worker had not started yet can be what
    // killed it (it decodes its frames one at a time, in order); the
    // ones queued behind it in the pipe are innocent and do not count a
    // lost dispatch (with deep pipelining there may be dozens).
    const TaskNode* suspect = nullptr;
    for (const auto& f : w->inflight) {
        if (!f.started) {
            suspect = f.node;
            break;
        }
    }
    for (auto it = w->inflight.rbegin(); it != w->inflight.rend(); ++it) {
        TaskNode* n = it->node;
        --inflightTotal;
        if (it->skipSent)
            --skipsOut;    // no answer will come
        if (it->started) { // killed on purpose after its outcome was set elsewhere
            n->deref();
            continue;
        }
        // Not started: still PENDING, unless its future was (or is being)
        // cancelled.
        if (releaseGateLocked(n)) { // a cancel() won its word: it completes the future
            n->deref();
            continue;
        }
        const bool requeue =
            !broken && !stopping && !(n == suspect && ++n->lostDispatches >= kMaxLostDispatches);
        if (requeue && n->state() == FutureState::Pending) {
            queue.pushFront(n); // it never ran, so nothing runs twice
            continue;
        }
        if (broken) {
            failUnstartedLocked(
                n, std::make_exception_ptr(BrokenExecutor(brokenReason.toStdString())), complete);
        } else if (stopping) {
            // Tear-down (shutdown grace over, terminateWorkers, killWorkers):
            // a task its worker never started is cancelled like the queued
            // ones. Requeueing it started a new worker for it, and with a
            // hung task ~ProcessPoolExecutor then waited for ever
            // (tst_shutdown_bounds). Counted as a cancelled pending task.
            if (!n->tryStart()) { // cancelled by its future
                n->deref();
                continue;
            }
            recordUnstartedLocked(*n, TaskStatus::Cancelled);
            cancelledPending.fetch_add(1, std::memory_order_seq_cst);
            complete.push_back({n, FutureState::Cancelled});
        } else {
            // Three workers died holding it before it started: the task
            // (or its arguments) is what kills them. Fail it, do not loop.
            failUnstartedLocked(
                n,
                std::make_exception_ptr(WorkerCrashed(
                    QStringLiteral("%1 workers died before task %2 '%3' could start (last: %4)")
                        .arg(kMaxLostDispatches)
                        .arg(n->id)
                        .arg(n->remote()->name, reason.isEmpty() ? w->killReason : reason)
                        .toStdString())),
                complete);
        }
    }
    w->inflight.clear();
    WorkerSlot& slot = *w->slot;
    // Asked to go (retire, recycle: exitSent), killed on purpose with its
    // task (timeout, cancel, stop: killReason) or torn down: retired. A
    // crash, also of a worker marked to retire after its task, and a
    // worker that broke the protocol: dead.
    const bool onPurpose = stopping || w->exitSent || (!w->killReason.isEmpty() && !w->broke);
    slot.state.store(int(onPurpose ? WorkerState::Retired : WorkerState::Dead),
                     std::memory_order_relaxed);
    slot.currentTask.store(0, std::memory_order_relaxed);
    if (monitorAttached)
        deadSlots.push_back(w->slot);
    w->proc->disconnect(this); // no signal may reach the ProcWorker we free below
    w->proc->deleteLater();
    auto it =
        std::find_if(workers.begin(), workers.end(), [w](const auto& p) { return p.get() == w; });
    if (it != workers.end())
        workers.erase(it);
}

/// Polls running tasks for timeouts and stop requests while any exist.
void ProcessPoolCore::updateWatchdog()
{
    bool need = false;
    {
        std::lock_guard lk(m);
        need = inflightTotal > 0;
    }
    if (need && !watchdog->isActive())
        watchdog->start();
    else if (!need && watchdog->isActive())
        watchdog->stop();
}

void ProcessPoolCore::onWatchdog()
{
    Completion complete;
    {
        std::lock_guard lk(m);
        const qint64 now = monotonicNs();
        for (auto& w : workers) {
            if (w->inflight.empty() || !w->killReason.isEmpty())
                continue;
            auto& f = w->inflight.front();
            if (!f.started) {
                checkStalledLocked(*w, f, now);
                continue;
            }
            TaskNode* n = f.node;
            if (f.discard) {
                if (now - f.startNs > overrunNs(avgTaskNs))
                    terminateLocked(w.get(),
                                    QStringLiteral("its task %1 was cancelled before it "
                                                   "started, and ran anyway")
                                        .arg(n->id),
                                    false);
                continue;
            }
            if (n->stopRequested.load(std::memory_order_relaxed)) {
                abortRunningLocked(w.get(), nullptr, true,
                                   QStringLiteral("its task %1 was cancelled").arg(n->id),
                                   complete);
            } else if (f.deadlineNs && now >= f.deadlineNs) {
                const QString text =
                    QStringLiteral("task %1 '%2' exceeded its timeout of %3 ms; its "
                                   "worker (pid %4) was terminated")
                        .arg(n->id)
                        .arg(n->remote()->name)
                        .arg(n->timeoutNs / 1'000'000)
                        .arg(w->pid);
                abortRunningLocked(w.get(),
                                   std::make_exception_ptr(TimeoutError(text.toStdString())), false,
                                   text, complete);
            }
        }
        // A worker held up by a long task holds tasks an idle worker
        // could run, also when no frame arrives to prompt a pump.
        if (!broken)
            rebalanceLocked();
        if (!complete.empty())
            cv.notify_all();
    }
    finish(complete);
    updateWatchdog();
}

/// A worker holding a task it has not started, that said nothing since
/// it was sent: a healthy one starts it within milliseconds. After 1 s
/// its state is read from /proc: a stopped one (SIGSTOP, 'T') can run
/// nothing, and after kStallNs a silent one is hung. Either is killed;
/// the tasks it held go back to the queue (they never started), and
/// the per-task timeout, which counts from the start, cannot cover them.
void ProcessPoolCore::checkStalledLocked(ProcWorker& w, const ProcWorker::InFlight& f, qint64 now)
{
    constexpr qint64 kLookNs = 1'000'000'000, kStallNs = 10'000'000'000;
    constexpr qint64 kLookEveryNs = 250'000'000; // the watchdog ticks every 5 ms
    const qint64 silent = now - std::max(f.sentNs, w.lastHeardNs);
    if (silent < kLookNs || w.pid <= 0 || now - w.lastLookNs < kLookEveryNs)
        return;
    w.lastLookNs = now;
    QString why;
    if (processStopped(w.pid))
        why =
            QStringLiteral("is stopped (SIGSTOP?) with %1 task(s) waiting").arg(w.inflight.size());
    else if (silent >= kStallNs)
        why =
            QStringLiteral("did not start its next task within %1 s").arg(kStallNs / 1'000'000'000);
    if (why.isEmpty())
        return;
    w.broke = true; // dead, not retired
    const QString text =
        QStringLiteral("worker %1 (pid %2) %3; killed").arg(w.slot->index).arg(w.pid).arg(why);
    qWarning("poolscope: %s", qPrintable(text));
    terminateLocked(&w, text, /*hard=*/true);
}

/// /proc/PID/stat's state is T (stopped) or t (stopped by a tracer).
bool ProcessPoolCore::processStopped(qint64 pid)
{
    QFile f(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return false;
    const QByteArray stat = f.read(512);
    const qsizetype paren = stat.lastIndexOf(')'); // the name may hold spaces
    return paren > 0 && paren + 2 < stat.size()
           && (stat.at(paren + 2) == 'T' || stat.at(paren + 2) == 't');
}

void ProcessPoolCore::stopAllLocked(bool hard, Completion& complete)
{
    const QString why = hard ? QStringLiteral("its worker was killed by killWorkers()")
                             : QStringLiteral("its worker was terminated by terminateWorkers()");
    const auto err = std::make_exception_ptr(WorkerCrashed(why.toStdString()));
    stopping = true;
    for (auto& w : workers) {
        if (w->proc->state() == QProcess::NotRunning)
            continue;
        abortRunningLocked(w.get(), err, false, why, complete, hard);
    }
}

// A task's future was cancelled while it was PENDING: if it was already
// sent to a worker, ask for it back (coalesced: one sweep per burst).
void ProcessPoolCore::pendingCancelled() noexcept
{
    // acq_rel on both sides: a sweep that resets the flag sees every
    // cancel whose exchange came before its own.
    if (sweepPosted.exchange(true, std::memory_order_acq_rel))
        return;
    try {
        post([this] { sweepCancelled(); });
    } catch (...) {
        // Out of memory: no sweep. A cancelled task the worker then
        // starts is stopped at its 'started' (handleLocked).
        sweepPosted.store(false, std::memory_order_release);
    }
}

} // namespace detail

using detail::ProcessPoolCore;

// ---------------------------------------------------------- ProcessPoolExecutor

namespace {
QThread* supervisorThreadOf(QObject* o)
{
    return o->thread();
}
} // namespace

int ProcessPoolExecutor::defaultMaxWorkers()
{
    return std::max(1, QThread::idealThreadCount());
}

ProcessPoolExecutor::ProcessPoolExecutor(int maxWorkers, QObject* parent)
    : ProcessPoolExecutor(
        [maxWorkers] {
            ProcessPoolOptions o;
            o.maxWorkers = maxWorkers;
            return o;
        }(),
        parent)
{}

ProcessPoolExecutor::ProcessPoolExecutor(const ProcessPoolOptions& options, QObject* parent)
    : Executor(parent)
{
    const int n = options.maxWorkers.value_or(defaultMaxWorkers());
    checkMaxWorkers(n);
    if (options.pipelineDepth < 1 || options.pipelineDepth > 64)
        throw InvalidArgument("pipelineDepth must be 1..64");
    if (options.maxTasksPerChild < 0)
        throw InvalidArgument("maxTasksPerChild must be >= 0");
    m_core = new ProcessPoolCore(options);
    m_core->maxWorkers = n;
    auto* thread = new detail::SupervisorThread();
    thread->setObjectName(QStringLiteral("poolscope-supervisor"));
    m_core->moveToThread(thread);
    thread->start();
    if (!thread->isRunning()) {
        // pthread_create refused (ulimit -u, or ulimit -v: no room for its
        // stack). Waiting for it to run hung the program (issue #17).
        delete m_core;
        delete thread;
        throw Error("cannot start the process pool's supervisor thread: the system refused a "
                    "thread (the limit on threads, ulimit -u, or on memory, ulimit -v)");
    }
    thread->waitUntilRunning();
    m_core->call([c = m_core] {
        c->watchdog = new QTimer(c);
        c->watchdog->setInterval(5);
        QObject::connect(c->watchdog, &QTimer::timeout, c, [c] { c->onWatchdog(); });
    });
    detail::notifyExecutorHook(this, true);
}

ProcessPoolExecutor::~ProcessPoolExecutor()
{
    detail::notifyExecutorHook(this, false);
    shutdown(true);
    auto* thread = static_cast<detail::SupervisorThread*>(supervisorThreadOf(m_core));
    // Delete the core (and its QProcess children) in its own thread: a
    // deferred delete runs when the thread's event loop exits, before
    // wait() returns, and never under the inbox's own drain.
    m_core->call([c = m_core] {
        for (auto& w : c->workers) {
            if (w->proc->state() != QProcess::NotRunning) {
                w->proc->kill();
                w->proc->waitForFinished(1000);
            }
        }
        c->deleteLater();
    });
    thread->quit();
    thread->allowExit();
    thread->wait();
    delete thread;
}

QString ProcessPoolExecutor::workerProgram() const
{
    return m_core->program;
}

void ProcessPoolExecutor::enqueue(detail::TaskNode* node, const TaskOptions& opts)
{
    m_core->enqueue(node, opts);
}

Future<QCborValue> ProcessPoolExecutor::submitNamed(const QString& name, const QCborArray& args,
                                                    const TaskOptions& options)
{
    const QString why = validateNamed(name, {args}, false);
    if (!why.isEmpty())
        return failedFuture<QCborValue>(
            std::make_exception_ptr(InvalidArgument(why.toStdString())));
    return submitRemote<QCborValue>(name, args, false, options);
}

Future<QCborValue> ProcessPoolExecutor::submitNamedBatch(const QString& name,
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

void ProcessPoolExecutor::prestart()
{
    std::lock_guard lk(m_core->m);
    if (m_core->shutdown || m_core->broken)
        return;
    m_core->post([c = m_core] {
        {
            std::lock_guard l2(c->m);
            c->keepFull = true;
            while (!c->shutdown && !c->broken && c->liveWorkersLocked() < c->maxWorkers)
                c->spawnLocked();
        }
        c->pump();
    });
}

bool ProcessPoolExecutor::waitUntilReady(const Deadline& deadline) const
{
    auto& c = *m_core;
    std::unique_lock lk(c.m);
    auto ready = [&] {
        if (c.broken)
            return true;
        int n = 0, starting = 0;
        for (auto& w : c.workers) {
            n += w->ready && !w->exitSent ? 1 : 0;
            starting += !w->ready && !w->exitSent && !w->retire ? 1 : 0;
        }
        // All it asked for; or, when the system refused some, all the ones
        // it got (workerStartFailures() says how many were refused).
        return n >= c.maxWorkers || (c.spawnBackoffMs > 0 && starting == 0 && n > 0);
    };
    if (deadline.isForever()) {
        c.cv.wait(lk, ready);
        return !c.broken;
    }
    return c.cv.wait_until(lk, deadline.at(), ready) && !c.broken;
}

void ProcessPoolExecutor::stopWorkers(bool kill)
{
    shutdown(false, true);
    m_core->call([c = m_core, kill] {
        std::vector<std::pair<detail::TaskNode*, FutureState>> complete;
        {
            std::lock_guard lk(c->m);
            c->stopAllLocked(kill, complete);
            c->cv.notify_all();
        }
        ProcessPoolCore::finish(complete);
    });
    shutdown(true);
}

void ProcessPoolExecutor::terminateWorkers()
{
    stopWorkers(false);
}

void ProcessPoolExecutor::killWorkers()
{
    stopWorkers(true);
}

QList<qint64> ProcessPoolExecutor::workerPids() const
{
    std::lock_guard lk(m_core->m);
    QList<qint64> pids;
    for (auto& w : m_core->workers) {
        if (w->pid > 0)
            pids.append(w->pid);
    }
    return pids;
}

void ProcessPoolExecutor::shutdown(bool wait, bool cancelFutures)
{
    auto& c = *m_core;
    // Cancelling runs done callbacks, which may call back into this pool:
    // take the nodes out under the lock, cancel them after releasing it.
    std::vector<detail::TaskNode*> taken;
    std::unique_lock lk(c.m);
    c.shutdown = true;
    if (cancelFutures)
        c.takePendingLocked(taken);
    c.schedulePumpLocked();
    lk.unlock();
    ProcessPoolCore::cancelTaken(taken);
    if (!wait)
        return;
    lk.lock();
    if (QThread::currentThread() == supervisorThreadOf(m_core)) {
        qWarning("poolscope: shutdown(wait=true) from the pool's own supervisor thread "
                 "(a done callback?) cannot wait; not waiting");
        return;
    }
    auto gone = [&] { return c.workers.empty() && c.queue.empty(); };
    if (c.opts.shutdownGrace) {
        if (!c.cv.wait_for(lk, *c.opts.shutdownGrace, gone)) {
            lk.unlock();
            m_core->post([core = m_core] {
                std::vector<std::pair<detail::TaskNode*, FutureState>> complete;
                std::vector<detail::TaskNode*> pending;
                {
                    std::lock_guard l2(core->m);
                    while (detail::TaskNode* n = core->queue.pop())
                        pending.push_back(n);
                    core->stopAllLocked(false, complete);
                }
                for (detail::TaskNode* n : pending) { // outside the lock: callbacks
                    n->cancelPending();
                    n->deref();
                }
                ProcessPoolCore::finish(complete);
            });
            lk.lock();
        }
    }
    c.cv.wait(lk, gone);
}

bool ProcessPoolExecutor::isShutdown() const
{
    return m_core->isShutdown();
}

bool ProcessPoolExecutor::isBroken() const
{
    return m_core->isBroken();
}

QString ProcessPoolExecutor::brokenReason() const
{
    return m_core->brokenReasonText();
}

quint64 ProcessPoolExecutor::workerStartFailures() const
{
    std::lock_guard lk(m_core->m);
    return m_core->spawnFailures;
}

QString ProcessPoolExecutor::workerStartError() const
{
    std::lock_guard lk(m_core->m);
    return m_core->spawnError;
}

void ProcessPoolExecutor::setMaxWorkers(int n)
{
    checkMaxWorkers(n);
    std::lock_guard lk(m_core->m);
    m_core->maxWorkers = n;
    // Growing back: workers marked to retire (but not yet gone) stay.
    int live = m_core->liveWorkersLocked();
    for (auto& w : m_core->workers) {
        if (live >= n)
            break;
        if (w->retire && !w->exitSent && w->killReason.isEmpty()
            && (m_core->opts.maxTasksPerChild == 0
                || w->tasksRun < m_core->opts.maxTasksPerChild)) {
            w->retire = false;
            w->slot->state.store(
                int(w->inflight.empty() ? WorkerState::Idle : WorkerState::Running),
                std::memory_order_relaxed);
            ++live;
        }
    }
    m_core->schedulePumpLocked();
}

int ProcessPoolExecutor::maxWorkers() const
{
    return m_core->maxWorkersNow();
}

int ProcessPoolExecutor::workerCount() const
{
    std::lock_guard lk(m_core->m);
    return int(m_core->workers.size());
}

void ProcessPoolExecutor::pause()
{
    m_core->pause();
}

void ProcessPoolExecutor::step()
{
    m_core->step();
}

void ProcessPoolExecutor::resume()
{
    m_core->resume();
}

bool ProcessPoolExecutor::isPaused() const
{
    return m_core->isPaused();
}

Counters ProcessPoolExecutor::counters() const
{
    return m_core->counters();
}

bool ProcessPoolExecutor::waitForIdle(const Deadline& deadline) const
{
    return m_core->waitForIdle(deadline);
}

void ProcessPoolExecutor::setRecording(bool on)
{
    m_core->setRecording(on);
}

void ProcessPoolExecutor::setStagingCapacity(std::size_t rows)
{
    m_core->setStagingCapacity(rows);
}

void ProcessPoolExecutor::collectTelemetry(TelemetryBatch& out, int queueHeadMax)
{
    m_core->collectTelemetry(out, queueHeadMax);
}

} // namespace poolscope
