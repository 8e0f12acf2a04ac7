#include "poolscope/threadpool.h"

#include "stamps.h"
#include "taskqueue.h"

#include "poolscope/recording.h"

#include <QDebug>
#include <QMetaObject>
#include <QPointer>
#include <QThread>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

namespace poolscope {
namespace detail {

namespace {
qint64 threadCpuNs(clockid_t clk)
{
    timespec ts;
    if (clock_gettime(clk, &ts) != 0)
        return -1;
    return qint64(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

/// One iteration of a busy-wait: tells the core we spin (x86 `pause`).
inline void cpuRelax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

// Why an idle worker polls a little before it sleeps: a submitter usually
// refills the queue within microseconds, and sleeping costs a futex wake
// and a context switch per task.
//
// The pool does NOT spin on its mutex. An earlier version spun 64 try_locks
// (tuned under load 7 from other jobs, where it broke a lock convoy);
// on a quiet 2-core machine it was the opposite: a submitter and two workers
// on two cores, a spinner often shares its core with the lock holder it
// waits for, and post() fell to 1.1-1.6 M tasks/s at 1.2-1.8 us of CPU per
// task, against 3.6-5.0 M/s and ~0.3 us with plain lock() (docs/benchmarks.md,
// "Lock spinning removed").

/// Polls of the queue-size hint before an idle worker sleeps, with a
/// sched_yield() every kSpinYieldEvery: the yield hands the core to the
/// submitter that shares it, which then refills the queue. Quiet-machine
/// runs with 0, 32, 64, 128 and 256 polls were within noise of each other
/// (3.4-4.0 M tasks/s); 256 cost more context switches.
constexpr int kIdleSpins = 64;
/// Tasks whose workers' recent tasks ran shorter than this get no CPU time
/// (CpuPolicy): reading the thread CPU clock twice costs ~2-4 µs here.
constexpr qint64 kCpuMinTaskNs = 100'000;
constexpr int kSpinYieldEvery = 32;
} // namespace

/// Everything the pool's threads share. Owned through shared_ptr so a thread
/// that outlives a (grace-limited) destructor never touches freed memory.
class ThreadPoolCore final : public std::enable_shared_from_this<ThreadPoolCore>,
                             public CancelHook {
public:
    struct Worker {
        std::shared_ptr<WorkerSlot> slot;
        std::thread thread;
        pthread_t handle{};
        bool retire = false;
    };

    explicit ThreadPoolCore(const ThreadPoolOptions& o)
        : maxSpinners(QThread::idealThreadCount() > 1 ? QThread::idealThreadCount() : 0)
        , opts(o)
    {
        if (o.gil)
            gil = std::make_unique<SimulatedGil>(o.gilSwitchInterval);
    }
    std::unique_ptr<SimulatedGil> gil;
    // Idle workers allowed to spin at once: one per core, so a pool with
    // many workers does not burn every core when it runs dry. Allowing only
    // one per two cores was measured worse on 2 cores (the second worker
    // slept and was woken by futex again and again: 7-33 k context switches
    // per 6 M tasks against 3-8 k, 150-360 ns CPU per task against ~100).
    // None on a single core, where the spinner would only delay the thread
    // it waits for.
    const int maxSpinners;

    // ---- shared state, guarded by m unless atomic
    mutable std::mutex m;
    std::condition_variable workCv;         // workers wait here for tasks
    mutable std::condition_variable idleCv; // waitForIdle / shutdown wait here
    TaskQueue queue;
    std::vector<std::unique_ptr<Worker>> workers;       // alive, including retiring
    std::vector<std::shared_ptr<WorkerSlot>> deadSlots; // for the monitor's last look
    std::vector<std::thread> toJoin;
    ThreadPoolOptions opts;
    int maxWorkers = 1;
    // ---- read by lock-free submitters on every push: on cache lines of
    // their own, away from the fields workers write per task (queuedHint,
    // active...), which cost the submitter a miss per push when they shared
    // a line (perf: most of enqueue's time on the first store after them).
    // Workers blocked on workCv. Changed under m; atomic because a lock-free
    // submitter reads it (enqueue's fast path, paired seq_cst with the
    // inbox: a worker counts itself and then looks at the inbox once more).
    alignas(64) std::atomic<int> sleepers{0};
    // Submitters may skip `m` and use the queue's lock-free inbox: true
    // while nothing but a push is needed (every worker slot is filled, no
    // thread to join, not shut down or broken). Stored under m, seq_cst: a
    // submitter reads it again after its push, so a change made before the
    // next drain either is seen by the submitter or sees its node.
    std::atomic<bool> fastPush{false};
    // Written by submitters only.
    alignas(64) std::atomic<quint64> nextTaskId{1};
    // Stamp every task (a Monitor records the pool): read by submitters.
    std::atomic<bool> recording{false};
    // notify_one() calls made for sleepers that have not re-taken `m` yet.
    // enqueue() wakes a sleeper only while sleepers > wakePending, so a burst
    // of submits does not signal the same waking worker again and again.
    // Every wake-up (signalled or spurious) decrements it (not below 0), so
    // it can only under-count, which costs a spare notify, never a lost one.
    // (alignas: the submitters' lines above end here.)
    alignas(64) int wakePending = 0;
    int spinners = 0; // workers polling queuedHint before they sleep
    // queue.size(), stored under `m` whenever the queue changes; an idle
    // worker polls it without the lock before it goes to sleep.
    std::atomic<std::size_t> queuedHint{0};
    int active = 0; // workers between taking a task and finishing it
    // Threads blocked on idleCv. Changed under m; atomic so that
    // pendingCancelled() can skip the lock when nobody waits.
    std::atomic<int> idleWaiters{0};
    int nextWorkerIndex = 0;
    bool shutdown = false;
    bool paused = false;
    int stepBudget = 0; // tasks step() may still dispatch while paused
    bool broken = false;
    QString brokenReason;
    // A worker thread that could not be started (the limit on threads,
    // `ulimit -u`, or on memory, `ulimit -v`): the pool goes on with the
    // workers it has and tries again at the next submit; with none at all it
    // breaks, and the queued tasks it failed wait in failedOnSpawn until the
    // caller that tried has released m (issue #17: a pool with no thread
    // hung in shutdown, or std::terminate ended the program).
    QString spawnError;
    quint64 spawnFailures = 0;
    std::vector<TaskNode*> failedOnSpawn;
    std::atomic<bool> hasFailedOnSpawn{false};
    // Ids taken by a lock-free push that found the inbox closed (the locked
    // path then threw): not submitted. See submittedLocked().
    quint64 burnedIds = 0;
    Counters retired; // folded counters of workers that exited
    quint64 retiredStarted = 0;
    qint64 retiredBusyNs = 0;
    quint64 brokenFailed = 0;
    std::atomic<quint64> cancelledPending{0};
    std::atomic<bool> stopAll{false};
    bool monitorAttached = false;
    std::size_t stagingRows = RecordWriter::kDefaultMaxRows;
    // A task's CPU time is read (two thread-CPU-clock system calls, ~2 µs
    // here) only on workers whose recent tasks ran at least this long, in
    // stamps (see runOne).
    std::atomic<qint64> cpuMinStamps{0};
    // Rows of tasks that end without a worker (cancelled or failed while
    // queued), from any thread: producers take sideMutex (after m when both).
    std::mutex sideMutex;
    std::shared_ptr<RecordWriter> sideWriter = std::make_shared<RecordWriter>(stampsAreTicks());
    QString lastName;
    quint32 lastNameId = 0;

    // unhandled exceptions of posted tasks
    std::mutex ownerMutex;
    ThreadPoolExecutor* owner = nullptr;
    int pendingUnhandled = 0;
    QString lastUnhandled;

    // ---- called with m held
    // The rings only: spinners look at the inbox themselves (inboxHasWork).
    void queueChangedLocked() { queuedHint.store(queue.ringSize(), std::memory_order_relaxed); }
    /// Every accepted task took one id; the count needs no look at the
    /// inbox (a drain walks every node in it: a monitor's tick did that
    /// under the lock and cost workers ~10 % of post() throughput). A task
    /// whose submit has taken its id but not yet pushed counts as queued.
    quint64 submittedLocked() const
    {
        return nextTaskId.load(std::memory_order_seq_cst) - 1 - burnedIds;
    }
    void updateFastPushLocked()
    {
        int live = 0;
        for (auto& w : workers)
            live += w->retire ? 0 : 1;
        fastPush.store(!shutdown && !broken && toJoin.empty() && live >= maxWorkers,
                       std::memory_order_seq_cst);
    }
    /// Shutdown or broken: no more lock-free pushes; those already made are
    /// in the queue now.
    void closeLocked()
    {
        updateFastPushLocked();
        queue.closeInbox();
        queueChangedLocked();
    }
    /// After a push under m: wake a sleeper, start a worker, join exited
    /// threads, as needed. Returns whether to notify one sleeper (do it
    /// after unlocking).
    bool afterPushLocked(std::vector<std::thread>& join)
    {
        // A sleeper stays counted in `sleepers` until it wakes and re-takes
        // the lock, so two quick submits could both "use" the same sleeper
        // and the second task would wait behind the first with free worker
        // slots (a deadlock if the first waits for the second). So wake a
        // sleeper nobody has signalled yet (wakePending) unless each queued
        // task already has a worker on its way: a signalled one, or a
        // spinning one, which sees queuedHint, re-checks the queue under m
        // and needs no signal. Still grow when queued tasks outnumber
        // sleepers; growLocked() decides exactly (queued > live - active),
        // this is only a cheap pre-check that never skips a needed worker.
        bool wake = false;
        const int sleeping = sleepers.load(std::memory_order_relaxed);
        if (sleeping > wakePending && queue.size() > std::size_t(wakePending + spinners)) {
            ++wakePending;
            wake = true;
        }
        if (int(workers.size()) < maxWorkers && queue.size() > std::size_t(sleeping))
            growLocked();
        if (!toJoin.empty())
            reapLocked(join);
        return wake;
    }
    void notifyAllWorkersLocked()
    {
        workCv.notify_all();
        wakePending = sleepers.load(std::memory_order_relaxed);
    }

    /// Starts one worker thread; false (spawnError says why) when the
    /// system refuses one.
    bool spawnLocked()
    {
        try {
            auto w = std::make_unique<Worker>();
            w->slot = std::make_shared<WorkerSlot>(nextWorkerIndex);
            w->slot->writer = std::make_shared<RecordWriter>(stampsAreTicks(), stagingRows);
            w->slot->name = QStringLiteral("%1_%2").arg(opts.threadNamePrefix).arg(w->slot->index);
            w->slot->poolStop = &stopAll;
            // Started before it is listed: a worker that never ran must not
            // be waited for (and listing it cannot fail once it runs).
            workers.reserve(workers.size() + 1);
            w->thread =
                std::thread([self = shared_from_this(), raw = w.get()] { self->workerMain(raw); });
            w->handle = w->thread.native_handle();
            ++nextWorkerIndex;
            workers.push_back(std::move(w));
        } catch (const std::exception& e) {
            ++spawnFailures;
            spawnError = QStringLiteral("cannot start a worker thread: %1 (the limit on threads, "
                                        "ulimit -u, or on memory, ulimit -v)")
                             .arg(QString::fromLocal8Bit(e.what()));
            return false;
        }
        updateFastPushLocked();
        return true;
    }

    /// No worker thread could be started and none is left: nothing would
    /// ever run the queued tasks. They fail with BrokenExecutor (completed
    /// by takeFailedOnSpawn() once m is released), as do later submits.
    void breakOnSpawnLocked()
    {
        broken = true;
        brokenReason =
            QStringLiteral("%1; the pool has no worker and is not usable anymore").arg(spawnError);
        qWarning("poolscope: %s", qPrintable(brokenReason));
        closeLocked();
        failPendingLocked(brokenReason, failedOnSpawn);
        hasFailedOnSpawn.store(true, std::memory_order_release);
        notifyAllWorkersLocked();
    }

    /// Completes what breakOnSpawnLocked() failed: call without m.
    void takeFailedOnSpawn()
    {
        if (!hasFailedOnSpawn.load(std::memory_order_acquire))
            return;
        std::vector<TaskNode*> failed;
        {
            std::lock_guard lk(m);
            failed.swap(failedOnSpawn);
            hasFailedOnSpawn.store(false, std::memory_order_relaxed);
        }
        completeTaken(failed);
    }

    /// Starts workers for queued work, up to maxWorkers (Python spawns lazily
    /// on submit; we also grow at once on setMaxWorkers).
    void growLocked()
    {
        if (shutdown || broken)
            return;
        int live = 0;
        for (auto& w : workers)
            live += w->retire ? 0 : 1;
        // Workers not busy with a task will take queued work first; add more
        // only while queued tasks outnumber them.
        const qint64 queued = queuedLocked();
        while (live < maxWorkers && queued > qint64(live - active)) {
            if (!spawnLocked()) {
                if (live == 0)
                    breakOnSpawnLocked();
                return;
            }
            ++live;
        }
    }

    qint64 queuedLocked() const
    {
        quint64 started = retiredStarted;
        for (auto& w : workers)
            started += w->slot->started.load(std::memory_order_relaxed);
        // seq_cst load: see pendingCancelled(). Before submittedLocked(): a
        // cancelled task took its id before its cancel, so the id count read
        // after it includes the task (the other way round, queued could dip
        // below 0).
        const quint64 cp = cancelledPending.load(std::memory_order_seq_cst);
        return qint64(submittedLocked() - started - cp - brokenFailed);
    }

    void reapLocked(std::vector<std::thread>& out)
    {
        for (auto& t : toJoin)
            out.push_back(std::move(t));
        toJoin.clear();
        updateFastPushLocked();
    }

    // Completing or cancelling a node runs its done callbacks, which may call
    // back into the executor (submit the next pipeline stage, read counters).
    // So the *Locked helpers below only take nodes out of the queue (and
    // count them) under `m`; completeTaken()/cancelTaken() finish them after
    // the caller released `m`. Doing it under `m` self-deadlocked.

    /// Takes every queued node and marks it failed with BrokenExecutor
    /// (counted now); completeTaken() must be called without `m`.
    void failPendingLocked(const QString& why, std::vector<TaskNode*>& taken)
    {
        const auto err = std::make_exception_ptr(BrokenExecutor(why.toStdString()));
        queuedHint.store(0, std::memory_order_relaxed);
        while (TaskNode* n = queue.pop()) {
            if (n->tryStart()) {
                n->error = err;
                recordUnstarted(*n, TaskStatus::Failed);
                n->dropCallable();
                ++brokenFailed;
                ++retired.failed;
                taken.push_back(n);
            } else {
                n->deref(); // was cancelled while queued
            }
        }
    }
    static void completeTaken(std::vector<TaskNode*>& taken) noexcept
    {
        for (TaskNode* n : taken) {
            n->complete(FutureState::Finished);
            n->deref();
        }
        taken.clear();
    }

    /// Takes every queued node; cancelTaken() must be called without `m`.
    void takeQueuedLocked(std::vector<TaskNode*>& taken)
    {
        while (TaskNode* n = queue.pop())
            taken.push_back(n);
        queueChangedLocked();
    }
    /// (pendingCancelled() wakes waitForIdle() for each one.)
    static void cancelTaken(std::vector<TaskNode*>& taken) noexcept
    {
        for (TaskNode* n : taken) {
            n->cancelPending();
            n->deref();
        }
        taken.clear();
    }

    /// Stages the row of a task that ends without a worker (any thread; may
    /// hold m).
    void recordUnstarted(const TaskNode& n, TaskStatus status) noexcept
    {
        if (!recording.load(std::memory_order_relaxed))
            return;
        std::lock_guard lk(sideMutex);
        stageUnstarted(*sideWriter, n, status, stampNow());
    }

    /// CancelHook: a queued task was cancelled; its row comes first.
    void recordCancelled(const TaskNode& node) noexcept override
    {
        recordUnstarted(node, TaskStatus::Cancelled);
    }

    /// CancelHook: a queued task was cancelled by its future (no lock held).
    /// The queued count dropped with no worker involved, so nothing else
    /// would wake waitForIdle(). Dekker-style pairing, all seq_cst: we bump
    /// cancelledPending then read idleWaiters; a waiter bumps idleWaiters
    /// (under m) then reads cancelledPending in its predicate. Either it sees
    /// our cancel, or we see it and notify under m.
    void pendingCancelled() noexcept override
    {
        if (idleWaiters.load(std::memory_order_seq_cst) == 0)
            return;
        std::lock_guard lk(m);
        notifyIdleLocked();
    }

    bool idleLocked() const { return active == 0 && queuedLocked() <= 0; }

    void notifyIdleLocked()
    {
        if (idleWaiters > 0 && (idleLocked() || workers.empty()))
            idleCv.notify_all();
    }

    // ---- worker thread
    void workerMain(Worker* self)
    {
        WorkerSlot& slot = *self->slot;
        {
            QByteArray nm = slot.name.toUtf8().left(15);
            pthread_setname_np(pthread_self(), nm.constData());
        }
        slot.tid.store(qint64(gettid()), std::memory_order_relaxed);
        if (opts.workerNice > 0) {
            // Per-thread on Linux: `who` is the thread id. Relative to the
            // nice value inherited from the thread that started this one.
            errno = 0;
            const int base = getpriority(PRIO_PROCESS, id_t(gettid()));
            if (errno == 0
                && setpriority(PRIO_PROCESS, id_t(gettid()), std::min(19, base + opts.workerNice))
                       != 0)
                qWarning("poolscope: could not lower the priority of %s: %s", qPrintable(slot.name),
                         strerror(errno));
        }
        clockid_t cpuClock;
        if (pthread_getcpuclockid(pthread_self(), &cpuClock) != 0)
            cpuClock = CLOCK_THREAD_CPUTIME_ID;

        if (opts.initializer) {
            try {
                opts.initializer();
            } catch (...) {
                const QString why =
                    QStringLiteral("A thread initializer failed, the pool is "
                                   "not usable anymore (%1)")
                        .arg(QString::fromStdString(describeException(std::current_exception())));
                qWarning("poolscope: %s", qPrintable(why));
                std::vector<TaskNode*> failed;
                {
                    std::lock_guard lk(m);
                    if (!broken) {
                        broken = true;
                        brokenReason = why;
                        closeLocked();
                        failPendingLocked(why, failed);
                    }
                    notifyAllWorkersLocked();
                }
                // Still listed in `workers`, so shutdown()/the destructor wait
                // until these futures are complete.
                completeTaken(failed);
                std::lock_guard lk(m);
                exitLocked(self);
                return;
            }
        }
        slot.state.store(int(WorkerState::Idle), std::memory_order_relaxed);

        CpuPolicy cpu;
        std::unique_lock lk(m);
        bool spun = false; // spun once since the last task: next time, sleep
        for (;;) {
            // Wait for work or a reason to leave.
            while (!broken && !self->retire && !shutdown
                   && (queue.empty() || (paused && stepBudget == 0))) {
                if (!spun && !paused && spinners < maxSpinners) {
                    // The queue ran dry: a submitter usually refills it
                    // within microseconds. Poll without the lock first;
                    // sleeping now costs a futex wake and a context switch
                    // per task (see kIdleSpins).
                    spun = true;
                    ++spinners;
                    lk.unlock();
                    for (int i = 0; i < kIdleSpins; ++i) {
                        if (queuedHint.load(std::memory_order_relaxed) != 0 || queue.inboxHasWork())
                            break;
                        cpuRelax();
                        if ((i + 1) % kSpinYieldEvery == 0)
                            sched_yield();
                    }
                    lk.lock();
                    --spinners;
                    continue; // re-check everything under m
                }
                // Count ourselves, then look at the inbox once more (both
                // seq_cst): a lock-free submitter pushes, then reads
                // `sleepers`; one of us sees the other (enqueue).
                // Drain it here: the loop condition does not look at the
                // inbox while the rings hold tasks (paused), and this check
                // would then come back to it for ever, holding `m`.
                sleepers.fetch_add(1, std::memory_order_seq_cst);
                if (queue.inboxHasWork()) {
                    sleepers.fetch_sub(1, std::memory_order_relaxed);
                    queue.drain();
                    queueChangedLocked();
                    continue;
                }
                workCv.wait(lk);
                sleepers.fetch_sub(1, std::memory_order_relaxed);
                if (wakePending > 0)
                    --wakePending;
            }
            if (broken || self->retire || (shutdown && queue.empty()))
                break;
            // Here the queue has work and we are not paused, or we are shutting
            // down: shutdown overrides pause so it cannot hang.
            TaskNode* node = queue.pop();
            queueChangedLocked();
            if (!node)
                continue;
            spun = false;
            if (paused && !shutdown && stepBudget > 0)
                --stepBudget;        // a step() grant, even if the task was cancelled
            if (!node->tryStart()) { // cancelled while queued
                lk.unlock();
                node->deref();
                lk.lock();
                continue;
            }
            WorkerSlot::bump(slot.started); // under m: see collectTelemetry
            ++active;
            const bool record = recording.load(std::memory_order_relaxed);
            lk.unlock();

            runOne(slot, node, record, cpuClock, cpu);

            lk.lock();
            --active;
            if (int(workers.size()) > maxWorkers && !self->retire) {
                // Shrink: the first workers to finish a task retire.
                int retiring = 0;
                for (auto& w : workers)
                    retiring += w->retire ? 1 : 0;
                if (int(workers.size()) - retiring > maxWorkers) {
                    self->retire = true;
                    updateFastPushLocked();
                }
            }
            notifyIdleLocked();
        }
        exitLocked(self);
    }

    /// When to read a task's CPU time: only where tasks run long enough
    /// for two ~2 µs system calls not to matter (cpuMinStamps), judged by
    /// the worker's recent tasks (an average over about 8). A short task
    /// after long ones is still measured; a long one after short ones is
    /// not (its CPU time is "not measured", never guessed).
    struct CpuPolicy {
        qint64 avgStamps = 0;
        bool wants(qint64 minStamps) const { return avgStamps >= minStamps; }
        void saw(qint64 stamps) { avgStamps += (stamps - avgStamps) / 8; }
    };

    void runOne(WorkerSlot& slot, TaskNode* node, bool record, clockid_t cpuClock, CpuPolicy& cpu)
    {
        slot.currentTask.store(node->id, std::memory_order_relaxed);
        slot.currentName.store(node->nameId, std::memory_order_relaxed);
        slot.progressValue.store(-1, std::memory_order_relaxed);
        slot.state.store(int(WorkerState::Running), std::memory_order_relaxed);

        qint64 start = 0;
        qint16 core = -1;
        qint64 cpu0 = -1;
        if (record) {
            start = stampNow();
            slot.currentStartNs.store(start, std::memory_order_relaxed);
            core = qint16(sched_getcpu());
            slot.lastCore.store(core, std::memory_order_relaxed);
            if (cpu.wants(cpuMinStamps.load(std::memory_order_relaxed)))
                cpu0 = threadCpuNs(cpuClock);
        } else {
            slot.currentStartNs.store(0, std::memory_order_relaxed);
        }

        if (node->timeoutNs)
            node->deadlineNs = monotonicNs() + node->timeoutNs;
        TaskContext ctx(node, &slot, gil.get());
        if (gil)
            ctx.addGilWait(gil->acquire(slot.index));
        node->run(ctx);
        if (gil)
            gil->release();
        // A task that ran past its timeout fails with TimeoutError, whether it
        // noticed (stopRequested) or not: threads cannot be killed.
        if (node->deadlineNs && (node->timedOut || monotonicNs() >= node->deadlineNs)) {
            node->timedOut = true;
            node->dropValue();
            node->error = std::make_exception_ptr(
                TimeoutError("task " + std::to_string(node->id) + " exceeded its timeout of "
                             + std::to_string(node->timeoutNs / 1'000'000) + " ms"));
        }

        TaskStatus status = TaskStatus::Succeeded;
        if (node->timedOut) {
            status = TaskStatus::Failed;
        } else if (node->error) {
            bool cancelled = node->stopObserved;
            if (!cancelled) {
                try {
                    std::rethrow_exception(node->error);
                } catch (const CancelledError&) {
                    cancelled = node->stopRequested.load(std::memory_order_relaxed)
                                || stopAll.load(std::memory_order_relaxed);
                } catch (...) {
                }
            }
            status = cancelled ? TaskStatus::Cancelled : TaskStatus::Failed;
        } else if (node->stopObserved) {
            status = TaskStatus::Cancelled;
        }
        if (record) {
            // Staged before the counters move and the future completes, so
            // a Monitor that sees the task done also finds its row.
            const qint64 end = stampNow();
            cpu.saw(end - start);
            slot.busyNs.store(slot.busyNs.load(std::memory_order_relaxed) + (end - start),
                              std::memory_order_relaxed);
            if (StagedTask* row = slot.writer->next()) {
                row->id = node->id;
                row->submit = node->submitStamp;
                row->start = start;
                row->end = end;
                if (cpu0 >= 0) {
                    const qint64 cpu1 = threadCpuNs(cpuClock);
                    row->cpuNs = cpu1 >= cpu0 ? cpu1 - cpu0 : -1;
                }
                row->gilWaitNs = ctx.gilWaitNs();
                row->nameId = node->nameId;
                row->worker = slot.index;
                row->core = core;
                row->status = quint8(status);
                // A post()ed task has no result and no arguments: only
                // its error, if any, is text.
                if (!node->posted || status != TaskStatus::Succeeded)
                    stageTexts(*row, *node, status);
                slot.writer->commit();
            }
        }
        slot.currentTask.store(0, std::memory_order_relaxed);
        slot.state.store(int(WorkerState::Idle), std::memory_order_relaxed);

        const bool posted = node->posted;
        std::exception_ptr postedError =
            posted && status == TaskStatus::Failed ? node->error : nullptr;
        // Count before completing so a waiter woken by complete() sees exact counters.
        WorkerSlot::bump(status == TaskStatus::Succeeded ? slot.succeeded
                         : status == TaskStatus::Failed  ? slot.failed
                                                         : slot.cancelled);
        node->complete(status == TaskStatus::Cancelled ? FutureState::Cancelled
                                                       : FutureState::Finished);
        node->deref();
        if (postedError)
            reportUnhandled(postedError);
    }

    void reportUnhandled(const std::exception_ptr& e)
    {
        const QString msg = QString::fromStdString(describeException(e));
        qWarning("poolscope: a posted task threw and nobody holds its future: %s", qPrintable(msg));
        std::lock_guard lk(ownerMutex);
        if (!owner)
            return;
        lastUnhandled = msg;
        if (pendingUnhandled++ > 0)
            return; // an emission is already queued; it will carry the count
        // Under ownerMutex: the destructor clears `owner` under it first, and
        // Qt drops posted calls to an object that is deleted.
        QMetaObject::invokeMethod(owner, "deliverUnhandled", Qt::QueuedConnection);
    }

    void exitLocked(Worker* self)
    {
        WorkerSlot& slot = *self->slot;
        // A thread never crashes (tasks' exceptions are caught): it leaves
        // because the pool shrank, shut down or let an idle thread go.
        slot.state.store(int(WorkerState::Retired), std::memory_order_relaxed);
        retiredStarted += slot.started.load(std::memory_order_relaxed);
        retired.succeeded += slot.succeeded.load(std::memory_order_relaxed);
        retired.failed += slot.failed.load(std::memory_order_relaxed);
        retired.cancelled += slot.cancelled.load(std::memory_order_relaxed);
        retired.droppedEvents += slot.writer->lost();
        retiredBusyNs += slot.busyNs.load(std::memory_order_relaxed);
        if (monitorAttached)
            deadSlots.push_back(self->slot);
        auto it = std::find_if(workers.begin(), workers.end(),
                               [self](const auto& w) { return w.get() == self; });
        toJoin.push_back(std::move(self->thread));
        workers.erase(it); // destroys *self
        updateFastPushLocked();
        if (idleWaiters > 0)
            idleCv.notify_all();
    }

    Counters countersLocked() const
    {
        Counters c;
        quint64 started = retiredStarted;
        c.succeeded = retired.succeeded;
        c.failed = retired.failed;
        c.cancelled = retired.cancelled;
        c.droppedEvents = retired.droppedEvents + sideWriter->lost();
        // Finished counters first, then started (see runOne): running >= 0.
        for (auto& w : workers) {
            c.succeeded += w->slot->succeeded.load(std::memory_order_acquire);
            c.failed += w->slot->failed.load(std::memory_order_acquire);
            c.cancelled += w->slot->cancelled.load(std::memory_order_acquire);
            c.droppedEvents += w->slot->writer->lost();
        }
        for (auto& w : workers)
            started += w->slot->started.load(std::memory_order_acquire);
        const quint64 cp = cancelledPending.load(std::memory_order_acquire);
        c.cancelled += cp;
        c.submitted = submittedLocked(); // after cp: see queuedLocked()
        const quint64 finishedByWorkers = c.succeeded + c.failed + c.cancelled - cp - brokenFailed;
        c.running = started - finishedByWorkers;
        c.queued = c.submitted - started - cp - brokenFailed;
        return c;
    }
};

} // namespace detail

using detail::ThreadPoolCore;

namespace detail {
/// A registered task called by name with CBOR arguments (batch: once per
/// argument array, the value is the array of results).
class NamedNode final : public ResultNode<QCborValue> {
public:
    NamedNode(const TaskInfo* info, QCborArray args, bool batch)
        : m_info(info)
        , m_args(std::move(args))
        , m_batch(batch)
    {}
    void run(TaskContext& ctx) noexcept override
    {
        try {
            if (m_batch) {
                QCborArray out;
                for (const auto& item : m_args)
                    out.append(m_info->invoke(ctx, item.toArray()));
                value.emplace(out);
            } else {
                value.emplace(m_info->invoke(ctx, m_args));
            }
        } catch (...) {
            error = std::current_exception();
        }
    }
    QString argsSummary() const override { return cborSummary(QCborValue(m_args)); }
    QVariant resultVariant() const override
    {
        return value ? QVariant(cborSummary(*value)) : QVariant();
    }

private:
    const TaskInfo* m_info;
    QCborArray m_args;
    bool m_batch;
};
} // namespace detail

Future<QCborValue> ThreadPoolExecutor::submitNamed(const QString& name, const QCborArray& args,
                                                   const TaskOptions& options)
{
    const QString why = validateNamed(name, {args}, true);
    if (!why.isEmpty())
        return failedFuture<QCborValue>(
            std::make_exception_ptr(InvalidArgument(why.toStdString())));
    auto* node = new detail::NamedNode(TaskRegistry::global().find(name), args, false);
    detail::NodeRef ref(node, true);
    TaskOptions o = options;
    if (o.name.isEmpty())
        o.name = name;
    enqueue(node, o);
    return Future<QCborValue>(std::move(ref));
}

Future<QCborValue> ThreadPoolExecutor::submitNamedBatch(const QString& name,
                                                        const QList<QCborArray>& items,
                                                        const TaskOptions& options)
{
    const QString why = validateNamed(name, items, true);
    if (!why.isEmpty())
        return failedFuture<QCborValue>(
            std::make_exception_ptr(InvalidArgument(why.toStdString())));
    QCborArray all;
    for (const auto& a : items)
        all.append(a);
    auto* node = new detail::NamedNode(TaskRegistry::global().find(name), all, true);
    detail::NodeRef ref(node, true);
    TaskOptions o = options;
    if (o.name.isEmpty())
        o.name = name;
    enqueue(node, o);
    return Future<QCborValue>(std::move(ref));
}

// ---------------------------------------------------------- ThreadPoolExecutor

int ThreadPoolExecutor::defaultMaxWorkers()
{
    const int cpus = std::max(1, QThread::idealThreadCount());
    return std::min(32, cpus + 4);
}

ThreadPoolExecutor::ThreadPoolExecutor(int maxWorkers, QObject* parent)
    : ThreadPoolExecutor(ThreadPoolOptions{maxWorkers, QStringLiteral("poolscope"), {}, {}}, parent)
{}

void ThreadPoolExecutor::deliverUnhandled()
{
    int n;
    QString last;
    {
        std::lock_guard guard(m_core->ownerMutex);
        n = std::exchange(m_core->pendingUnhandled, 0);
        last = m_core->lastUnhandled;
    }
    if (n > 0)
        emit unhandledExceptions(n, last);
}

ThreadPoolExecutor::ThreadPoolExecutor(const ThreadPoolOptions& options, QObject* parent)
    : Executor(parent)
{
    const int n = options.maxWorkers.value_or(defaultMaxWorkers());
    checkMaxWorkers(n);
    if (options.workerNice < 0 || options.workerNice > 19)
        throw InvalidArgument("workerNice must be 0..19 (a lower priority for the workers), got "
                              + std::to_string(options.workerNice));
    m_core = std::make_shared<ThreadPoolCore>(options);
    m_core->maxWorkers = n;
    m_core->owner = this;
    detail::notifyExecutorHook(this, true);
}

ThreadPoolExecutor::~ThreadPoolExecutor()
{
    detail::notifyExecutorHook(this, false);
    {
        std::lock_guard lk(m_core->ownerMutex);
        m_core->owner = nullptr;
    }
    auto& c = *m_core;
    if (!c.opts.destroyGrace) {
        shutdown(true);
        return;
    }
    shutdown(false);
    std::vector<std::thread> join;
    std::vector<detail::TaskNode*> taken;
    {
        std::unique_lock lk(c.m);
        ++c.idleWaiters;
        const auto grace = *c.opts.destroyGrace;
        if (!c.idleCv.wait_for(lk, grace, [&] { return c.workers.empty(); })) {
            // Grace is over: queued tasks are cancelled (as shutdown's
            // cancelFutures would) before running ones are asked to stop.
            // Otherwise workers detached below went on through the whole
            // queue after the destructor returned, and those futures stayed
            // pending meanwhile (tst_shutdown_bounds).
            c.takeQueuedLocked(taken);
            c.stopAll.store(true);
            --c.idleWaiters; // we wait for workers, not for these cancels
            lk.unlock();
            c.cancelTaken(taken); // outside m: done callbacks may call back in
            lk.lock();
            ++c.idleWaiters;
            c.idleCv.wait_for(lk, grace, [&] { return c.workers.empty(); });
        }
        --c.idleWaiters;
        if (!c.workers.empty()) {
            qWarning("poolscope: %d worker thread(s) still busy after the destroy grace "
                     "period; detaching them",
                     int(c.workers.size()));
            for (auto& w : c.workers)
                w->thread.detach();
        }
        c.reapLocked(join);
    }
    for (auto& t : join)
        t.join();
}

void ThreadPoolExecutor::enqueue(detail::TaskNode* node, const TaskOptions& opts, bool adopt)
{
    auto& c = *m_core;
    node->priority = opts.priority;
    node->cancelCounter = &c.cancelledPending;
    node->cancelHook = &c;
    if (opts.timeout)
        node->timeoutNs = qint64(opts.timeout->count()) * 1'000'000;
    if (c.recording.load(std::memory_order_relaxed))
        node->submitStamp = detail::stampNow();
    std::vector<std::thread> join;
    bool wake = false;
    bool burned = false;
    if (!adopt)
        node->ref(); // the queue's reference, taken before the lock to keep it short
    // Fast path: no lock, a push onto the queue's lock-free inbox, which
    // workers drain under `m`. Only when nothing else is needed: no name to
    // intern, the default priority (TaskQueue::pushConcurrent), every worker
    // slot filled, nobody asleep (checked after the
    // push; see the sleepers/fastPush comments). Shutdown closes the inbox,
    // so a push either lands before it (and the task runs or is cancelled
    // like any queued one) or fails and the locked path below throws.
    if (opts.name.isEmpty() && opts.priority == 0 && c.fastPush.load(std::memory_order_seq_cst)) {
        node->id = c.nextTaskId.fetch_add(1, std::memory_order_relaxed);
        if (c.queue.pushConcurrent(node)) {
            if (c.sleepers.load(std::memory_order_seq_cst) == 0
                && c.fastPush.load(std::memory_order_seq_cst))
                return;
            {
                std::lock_guard lk(c.m);
                c.queueChangedLocked();
                wake = c.afterPushLocked(join);
            }
            if (wake)
                c.workCv.notify_one();
            for (auto& t : join)
                t.join();
            c.takeFailedOnSpawn();
            return;
        }
        burned = true; // closed: the locked path below throws
    }
    {
        std::unique_lock lk(c.m);
        if (burned)
            ++c.burnedIds;
        if (c.broken || c.shutdown) {
            const bool broken = c.broken;
            const std::string why = c.brokenReason.toStdString();
            lk.unlock();
            // The queue's reference; adopted, this frees the node, whose
            // captures' destructors must not run under m.
            node->deref();
            if (broken)
                throw BrokenExecutor(why);
            throw ShutdownError();
        }
        if (!opts.name.isEmpty()) {
            if (opts.name != c.lastName) {
                c.lastName = opts.name;
                c.lastNameId = NameTable::intern(opts.name);
            }
            node->nameId = c.lastNameId;
        }
        node->id = c.nextTaskId.fetch_add(1, std::memory_order_relaxed);
        c.queue.push(node);
        c.queueChangedLocked();
        wake = c.afterPushLocked(join);
    }
    // Signal after unlocking: the woken worker's first act is to take `m`,
    // which it would otherwise find still held by us.
    if (wake)
        c.workCv.notify_one();
    for (auto& t : join)
        t.join();
    c.takeFailedOnSpawn();
}

void ThreadPoolExecutor::shutdown(bool wait, bool cancelFutures)
{
    m_core->takeFailedOnSpawn();
    auto& c = *m_core;
    std::vector<std::thread> join;
    std::vector<detail::TaskNode*> taken;
    {
        std::lock_guard lk(c.m);
        c.shutdown = true;
        c.closeLocked();
        if (cancelFutures)
            c.takeQueuedLocked(taken);
        c.notifyAllWorkersLocked();
    }
    c.cancelTaken(taken); // outside m: callbacks may call back into the pool
    {
        std::unique_lock lk(c.m);
        if (wait) {
            ++c.idleWaiters;
            c.idleCv.wait(lk, [&] { return c.workers.empty(); });
            --c.idleWaiters;
        }
        c.reapLocked(join);
        // Nodes left in the queue (no worker ever started, e.g. broken pool)
        // must still complete.
        if (wait && !c.queue.empty())
            c.takeQueuedLocked(taken);
    }
    c.cancelTaken(taken);
    for (auto& t : join)
        t.join();
}

bool ThreadPoolExecutor::isShutdown() const
{
    std::lock_guard lk(m_core->m);
    return m_core->shutdown;
}

bool ThreadPoolExecutor::isBroken() const
{
    std::lock_guard lk(m_core->m);
    return m_core->broken;
}

quint64 ThreadPoolExecutor::workerStartFailures() const
{
    std::lock_guard lk(m_core->m);
    return m_core->spawnFailures;
}

QString ThreadPoolExecutor::workerStartError() const
{
    std::lock_guard lk(m_core->m);
    return m_core->spawnError;
}

QString ThreadPoolExecutor::brokenReason() const
{
    std::lock_guard lk(m_core->m);
    return m_core->brokenReason;
}

void ThreadPoolExecutor::setMaxWorkers(int n)
{
    checkMaxWorkers(n);
    auto& c = *m_core;
    std::vector<std::thread> join;
    {
        std::lock_guard lk(c.m);
        c.maxWorkers = n;
        c.updateFastPushLocked(); // before growLocked() drains the inbox
        // Un-retire workers if we grow back before they left.
        int live = 0;
        for (auto& w : c.workers) {
            if (!w->retire)
                ++live;
        }
        for (auto& w : c.workers) {
            if (w->retire && live < n) {
                w->retire = false;
                // Undo the "retiring" label set below for idle workers, or
                // telemetry shows a kept worker as retiring until its next task.
                int retiring = int(WorkerState::Retiring);
                w->slot->state.compare_exchange_strong(retiring, int(WorkerState::Idle),
                                                       std::memory_order_relaxed);
                ++live;
            }
        }
        // Shrink: idle workers beyond n retire now, busy ones after their task.
        int excess = live - n;
        for (auto it = c.workers.rbegin(); it != c.workers.rend() && excess > 0; ++it) {
            auto& w = *it;
            if (!w->retire
                && w->slot->state.load(std::memory_order_relaxed) != int(WorkerState::Running)) {
                w->retire = true;
                w->slot->state.store(int(WorkerState::Retiring), std::memory_order_relaxed);
                --excess;
            }
        }
        c.notifyAllWorkersLocked();
        c.growLocked();
        c.reapLocked(join); // also updates fastPush
    }
    for (auto& t : join)
        t.join();
    c.takeFailedOnSpawn();
}

SimulatedGil* ThreadPoolExecutor::gil() const
{
    return m_core->gil.get();
}

int ThreadPoolExecutor::maxWorkers() const
{
    std::lock_guard lk(m_core->m);
    return m_core->maxWorkers;
}

int ThreadPoolExecutor::workerCount() const
{
    std::lock_guard lk(m_core->m);
    return int(m_core->workers.size());
}

void ThreadPoolExecutor::pause()
{
    std::lock_guard lk(m_core->m);
    m_core->paused = true;
}

void ThreadPoolExecutor::step()
{
    {
        std::lock_guard lk(m_core->m);
        if (!m_core->paused)
            return;
        ++m_core->stepBudget;
        m_core->workCv.notify_one();
        m_core->growLocked();
    }
    m_core->takeFailedOnSpawn();
}

void ThreadPoolExecutor::resume()
{
    {
        std::lock_guard lk(m_core->m);
        m_core->paused = false;
        m_core->stepBudget = 0;
        m_core->notifyAllWorkersLocked();
        m_core->growLocked();
    }
    m_core->takeFailedOnSpawn();
}

bool ThreadPoolExecutor::isPaused() const
{
    std::lock_guard lk(m_core->m);
    return m_core->paused;
}

Counters ThreadPoolExecutor::counters() const
{
    std::lock_guard lk(m_core->m);
    return m_core->countersLocked();
}

bool ThreadPoolExecutor::waitForIdle(const Deadline& deadline) const
{
    auto& c = *m_core;
    std::unique_lock lk(c.m);
    ++c.idleWaiters;
    auto idle = [&] { return c.idleLocked() || (c.broken && c.active == 0); };
    bool ok;
    if (deadline.isForever()) {
        c.idleCv.wait(lk, idle);
        ok = true;
    } else {
        ok = c.idleCv.wait_until(lk, deadline.at(), idle);
    }
    --c.idleWaiters;
    return ok;
}

void ThreadPoolExecutor::setRecording(bool on)
{
    const qint64 cpuMin = on ? qint64(detail::stampsPerNs() * double(detail::kCpuMinTaskNs)) : 0;
    std::lock_guard lk(m_core->m);
    m_core->monitorAttached = on;
    m_core->cpuMinStamps.store(cpuMin, std::memory_order_relaxed);
    m_core->recording.store(on, std::memory_order_relaxed);
    if (!on)
        m_core->deadSlots.clear();
    // The GIL's turns are recorded with the tasks (its own lock; it never
    // takes the pool's, so taking it under m_core->m cannot deadlock).
    if (m_core->gil)
        m_core->gil->setTurnRecording(on);
}

bool ThreadPoolExecutor::collectGilTurns(detail::GilTurnBatch& out)
{
    if (!m_core->gil)
        return false;
    m_core->gil->takeTurns(out);
    return true;
}

void ThreadPoolExecutor::setStagingCapacity(std::size_t rows)
{
    std::lock_guard lk(m_core->m);
    m_core->stagingRows = rows;
    for (auto& w : m_core->workers)
        w->slot->writer->setMaxRows(rows);
    m_core->sideWriter->setMaxRows(rows);
}

void ThreadPoolExecutor::collectTelemetry(TelemetryBatch& out, int queueHeadMax)
{
    auto& c = *m_core;
    std::vector<std::shared_ptr<detail::WorkerSlot>> dead;
    {
        std::lock_guard lk(c.m);
        out.timeNs = monotonicNs();
        out.counters = c.countersLocked();
        out.maxWorkers = c.maxWorkers;
        out.paused = c.paused;
        out.shutdown = c.shutdown;
        out.queueHead.clear();
        c.queue.head(queueHeadMax, [&](const detail::TaskNode& n) {
            out.queueHead.append(QueuedTask{n.id, n.nameId, n.priority, n.submitStamp});
        });
        out.workers.clear();
        out.writers.clear();
        out.ticks = detail::stampsAreTicks();
        auto describe = [&](const detail::WorkerSlot& s, pthread_t* handle, bool retiring) {
            WorkerInfo wi = detail::describeSlot(s);
            wi.tid = s.tid.load(std::memory_order_relaxed);
            if (retiring && !hasEnded(wi.state))
                wi.state = WorkerState::Retiring;
            wi.holdsGil = c.gil && c.gil->holder() == s.index;
            wi.cpuNs = s.cpuNs.load(std::memory_order_relaxed);
            if (handle) {
                clockid_t clk;
                if (pthread_getcpuclockid(*handle, &clk) == 0)
                    wi.cpuNs = detail::threadCpuNs(clk);
            }
            out.workers.append(wi);
        };
        for (auto& w : c.workers) {
            describe(*w->slot, &w->handle, w->retire);
            out.writers.push_back(w->slot->writer);
        }
        if (out.takesRows) {
            dead.swap(c.deadSlots);
            for (auto& s : dead) {
                describe(*s, nullptr, false);
                out.writers.push_back(s->writer);
            }
        } else {
            // Left for the Monitor that takes rows: their last rows are its.
            for (auto& s : c.deadSlots)
                describe(*s, nullptr, false);
        }
        out.writers.push_back(c.sideWriter);
    }
}

} // namespace poolscope
