// SimulatedGil (gil.h) and the TaskContext members that reach it (future.h).
//
// Model (CPython's "new GIL", Python 3.2+, simplified):
// - A thread that finds the GIL taken queues up. The first waiter arms a
//   drop deadline one switch interval ahead (CPython: the waiter's timed wait
//   on the GIL condition, after which it sets gil_drop_request).
// - The holder polls checkpoint() (CPython: the eval breaker). Once the drop
//   deadline has passed it releases, and the GIL goes straight to the oldest
//   waiter. The old holder then queues behind it: "forced switching", so a
//   spinning holder can never re-grab the GIL it just offered.
// - Hand-over is FIFO (baton passing): ownership moves to the head waiter
//   inside release(), before anyone else can look at the lock. CPython does
//   not promise FIFO, but with it N threads share the GIL round-robin, which
//   is what the monitor should show.
//
// Cost: checkpoint() is called every few microseconds by "interpreted" loops,
// so its common case is one relaxed atomic load (no waiter: deadline 0) or a
// clock read (a waiter, deadline not reached yet). The mutex is only taken
// when a hand-over is due.
//
// Turns (setTurnRecording): grantLocked() and releaseLocked() run under the
// mutex anyway, so a turn costs two stamps and a push_back into a buffer of
// reserved capacity there; nothing at all while recording is off.
#include "poolscope/gil.h"

#include "stamps.h"

#include "poolscope/errors.h"
#include "poolscope/future.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace poolscope {

namespace {
qint64 nowNs() noexcept
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::chrono::microseconds checkedInterval(std::chrono::microseconds interval)
{
    if (interval.count() < 0)
        throw InvalidArgument("SimulatedGil: the switch interval must not be negative");
    return interval;
}
} // namespace

struct SimulatedGil::Impl {
    /// A thread blocked in acquire(); lives on that thread's stack.
    struct Waiter {
        explicit Waiter(int w)
            : who(w)
        {}
        const int who;
        qint64 waitStart = 0; // a stamp, when turns are recorded
        bool granted = false;
        std::condition_variable cv;
    };

    mutable std::mutex m;
    std::deque<Waiter*> queue; // FIFO, guarded by m
    bool locked = false;       // guarded by m
    int lastHolder = -1;       // guarded by m; who held it before (for switches)

    // Turns, all guarded by m (recordTurns off: none of it is touched).
    bool recordTurns = false;
    std::size_t maxPending = kDefaultPendingTurns;
    std::vector<detail::GilTurnStamp> pending;
    quint64 lost = 0;
    qint64 firstLostStart = 0;
    qint64 holdStart = 0;     // stamp of the current turn's start, 0: not recorded
    qint64 holdWaitStart = 0; // when its holder queued up for it

    // Read without the lock (telemetry, checkpoint's fast path).
    std::atomic<qint64> intervalNs{0};
    std::atomic<qint64> dropDeadlineNs{0}; // 0: nobody waits, no hand-over due
    std::atomic<int> holder{-1};
    std::atomic<int> waiters{0};
    std::atomic<quint64> switches{0};

    /// The GIL goes to `who` (m held), who queued up at `waitStart` (a
    /// stamp; 0: it found the GIL free). `now`: a stamp taken under m, or 0.
    void grantLocked(int who, qint64 waitStart = 0, qint64 now = 0)
    {
        if (recordTurns) {
            holdStart = now ? now : detail::stampNow();
            holdWaitStart = waitStart;
        }
        locked = true;
        holder.store(who, std::memory_order_relaxed);
        if (lastHolder != -1 && lastHolder != who)
            switches.fetch_add(1, std::memory_order_relaxed);
        lastHolder = who;
        // Someone still waits: the new holder gets one full interval.
        dropDeadlineNs.store(queue.empty() ? 0
                                           : nowNs() + intervalNs.load(std::memory_order_relaxed),
                             std::memory_order_relaxed);
    }

    /// Gives the GIL up and passes it to the oldest waiter, if any (m held).
    void releaseLocked()
    {
        // One stamp ends this turn and starts the next: turns abut, never overlap.
        const qint64 now = recordTurns ? endTurnLocked() : 0;
        if (queue.empty()) {
            locked = false;
            holder.store(-1, std::memory_order_relaxed);
            dropDeadlineNs.store(0, std::memory_order_relaxed);
            return;
        }
        Waiter* w = queue.front();
        queue.pop_front();
        waiters.store(int(queue.size()), std::memory_order_relaxed);
        w->granted = true;
        grantLocked(w->who, w->waitStart, now);
        w->cv.notify_one(); // under m: w cannot leave (and destroy cv) before we are done
    }

    /// Blocks until `who` holds the GIL (m held through lk). Returns ns waited.
    qint64 acquireLocked(std::unique_lock<std::mutex>& lk, int who)
    {
        if (!locked && queue.empty()) {
            grantLocked(who);
            return 0;
        }
        const qint64 t0 = nowNs();
        Waiter w(who);
        if (recordTurns)
            w.waitStart = detail::stampNow();
        queue.push_back(&w);
        waiters.store(int(queue.size()), std::memory_order_relaxed);
        if (dropDeadlineNs.load(std::memory_order_relaxed) == 0)
            dropDeadlineNs.store(t0 + intervalNs.load(std::memory_order_relaxed),
                                 std::memory_order_relaxed);
        w.cv.wait(lk, [&] { return w.granted; });
        return nowNs() - t0;
    }

    /// Writes the turn that ends now (m held, recording on); returns the
    /// stamp it ended at.
    qint64 endTurnLocked()
    {
        const qint64 now = detail::stampNow();
        if (holdStart == 0) // held since before recording was turned on
            return now;
        if (pending.size() < maxPending) {
            if (pending.capacity() == 0)
                pending.reserve(std::min<std::size_t>(maxPending, 4096));
            pending.push_back(detail::GilTurnStamp{holdWaitStart, holdStart, now,
                                                   qint32(holder.load(std::memory_order_relaxed))});
        } else {
            if (lost++ == 0)
                firstLostStart = holdStart;
        }
        holdStart = 0;
        return now;
    }
};

SimulatedGil::SimulatedGil(std::chrono::microseconds switchInterval)
    : d(new Impl)
{
    setSwitchInterval(switchInterval);
}

SimulatedGil::~SimulatedGil()
{
    delete d;
}

void SimulatedGil::setSwitchInterval(std::chrono::microseconds interval)
{
    // Takes effect from the next deadline armed (as sys.setswitchinterval).
    d->intervalNs.store(std::chrono::nanoseconds(checkedInterval(interval)).count(),
                        std::memory_order_relaxed);
}

std::chrono::microseconds SimulatedGil::switchInterval() const
{
    return std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::nanoseconds(d->intervalNs.load(std::memory_order_relaxed)));
}

qint64 SimulatedGil::acquire(int who)
{
    std::unique_lock lk(d->m);
    return d->acquireLocked(lk, who);
}

void SimulatedGil::release()
{
    std::lock_guard lk(d->m);
    Q_ASSERT_X(d->locked, "SimulatedGil::release", "the GIL is not held");
    if (!d->locked)
        return;
    d->releaseLocked();
}

qint64 SimulatedGil::checkpoint()
{
    // Fast path, lock-free: no hand-over is due.
    const qint64 deadline = d->dropDeadlineNs.load(std::memory_order_relaxed);
    if (deadline == 0 || nowNs() < deadline)
        return 0;

    std::unique_lock lk(d->m);
    if (!d->locked || d->queue.empty())
        return 0; // the waiter gave up on us meanwhile (cannot happen today) or not held
    const int who = d->holder.load(std::memory_order_relaxed);
    const qint64 t0 = nowNs();
    // Forced switch: the head waiter takes the GIL inside releaseLocked(), so
    // by the time we queue up again it has already changed hands.
    d->releaseLocked();
    d->acquireLocked(lk, who);
    return nowNs() - t0;
}

void SimulatedGil::setTurnRecording(bool on, std::size_t maxPending)
{
    std::lock_guard lk(d->m);
    d->maxPending = std::max<std::size_t>(1, maxPending);
    if (on == d->recordTurns)
        return;
    d->recordTurns = on;
    // A turn in progress is recorded from now on (its start is unknown
    // before); turning it off forgets the one in progress.
    d->holdStart = on && d->locked ? detail::stampNow() : 0;
    d->holdWaitStart = 0;
    if (!on) {
        d->pending.clear();
        d->pending.shrink_to_fit();
        d->lost = 0;
        d->firstLostStart = 0;
    }
}

bool SimulatedGil::turnRecording() const
{
    std::lock_guard lk(d->m);
    return d->recordTurns;
}

void SimulatedGil::takeTurns(detail::GilTurnBatch& out)
{
    out.turns.clear();
    out.waiting.clear();
    std::lock_guard lk(d->m);
    // Double buffering: the caller's emptied vector (its capacity kept)
    // becomes the next pending one, so a steady run allocates nothing
    // under the lock.
    std::swap(out.turns, d->pending);
    out.lost = d->lost;
    out.firstLostStart = d->firstLostStart;
    d->lost = 0;
    d->firstLostStart = 0;
    out.takenAt = detail::stampNow();
    out.openWorker = d->locked && d->holdStart ? d->holder.load(std::memory_order_relaxed) : -1;
    out.openStart = out.openWorker >= 0 ? d->holdStart : 0;
    out.openWaitStart = out.openWorker >= 0 ? d->holdWaitStart : 0;
    if (d->recordTurns) {
        for (const Impl::Waiter* w : d->queue)
            out.waiting.emplace_back(qint32(w->who), w->waitStart);
    }
}

int SimulatedGil::holder() const
{
    return d->holder.load(std::memory_order_relaxed);
}

quint64 SimulatedGil::switches() const
{
    return d->switches.load(std::memory_order_relaxed);
}

int SimulatedGil::waiters() const
{
    return d->waiters.load(std::memory_order_relaxed);
}

// ------------------------------------------------------ TaskContext GIL hooks

void TaskContext::gilCheckpoint() noexcept
{
    // Only the holder may hand the GIL over: a checkpoint inside a
    // GilRelease scope (or any time this worker does not hold it) is a no-op.
    if (!m_gil || m_gil->holder() != workerIndex())
        return;
    if (const qint64 waited = m_gil->checkpoint())
        addGilWait(waited);
}

TaskContext::GilRelease::GilRelease(TaskContext& ctx) noexcept
    : m_ctx(ctx)
{
    // Nested scopes (a native kernel that sleeps, say) release only once.
    if (!ctx.m_gil || ctx.m_gil->holder() != ctx.workerIndex())
        return;
    ctx.m_gil->release();
    m_released = true;
}

TaskContext::GilRelease::~GilRelease()
{
    if (m_released)
        m_ctx.addGilWait(m_ctx.m_gil->acquire(m_ctx.workerIndex()));
}

} // namespace poolscope
