#pragma once
// SimulatedGil: a teaching model of CPython's global interpreter lock
// (docs/architecture.md). One lock in front of "interpreted" work; the holder hands
// it over every switch interval when another thread waits (CPython's
// sys.setswitchinterval, default 5 ms); sleep, I/O and native kernels release
// it. A ThreadPoolExecutor with ThreadPoolOptions::gil makes its workers take
// it around every task; tasks reach it through TaskContext.

#include <QtGlobal>

#include <chrono>
#include <cstddef>
#include <vector>

namespace poolscope {

namespace detail {
/// One GIL turn as its holder wrote it: stamps (stamps.h: TSC ticks or
/// monotonic ns, as the task rows of the same pool).
struct GilTurnStamp {
    qint64 waitStart = 0; // when `worker` queued up for this turn; 0: it found the GIL free
    qint64 start = 0;     // the GIL became `worker`'s
    qint64 end = 0;       // it gave the GIL up (or handed it over)
    qint32 worker = -1;
};
/// What SimulatedGil::takeTurns() hands the Monitor: the turns that ended
/// since the last take, oldest first, and the GIL's state at the take.
struct GilTurnBatch {
    std::vector<GilTurnStamp> turns;
    /// Turns that ended since the last take but found the pending buffer
    /// full (the Monitor fell behind): not in `turns`, counted here.
    quint64 lost = 0;
    qint64 firstLostStart = 0; // start stamp of the first of them (0: none lost)
    /// When the take happened (a stamp): every turn that ended before it is
    /// in `turns` (or counted in `lost`).
    qint64 takenAt = 0;
    /// The turn in progress at the take (-1: the GIL is free), and workers
    /// queued for the GIL then with the stamp they queued up at.
    qint32 openWorker = -1;
    qint64 openStart = 0;
    qint64 openWaitStart = 0;
    std::vector<std::pair<qint32, qint64>> waiting;
};
} // namespace detail

class SimulatedGil {
public:
    explicit SimulatedGil(std::chrono::microseconds switchInterval = std::chrono::milliseconds(5));
    ~SimulatedGil();
    SimulatedGil(const SimulatedGil&) = delete;
    SimulatedGil& operator=(const SimulatedGil&) = delete;

    void setSwitchInterval(std::chrono::microseconds interval);
    std::chrono::microseconds switchInterval() const;

    /// Blocks until the calling thread (worker `who`, >= 0 and unique per
    /// thread) holds the GIL. Waiters are served in arrival order. Not
    /// re-entrant: a holder that calls acquire() again waits for itself.
    /// Returns the nanoseconds it waited (0 when the GIL was free).
    qint64 acquire(int who);
    /// Gives the GIL up (the caller must hold it); the oldest waiter, if any,
    /// holds it when this returns.
    void release();
    /// Called often by the holder (CPython's eval breaker): once another
    /// thread has waited a whole switch interval (and so the holder has held
    /// it at least that long), hands the GIL to the oldest waiter and queues
    /// up again behind it ("forced switching": the GIL has changed hands
    /// before the caller may take it back, so a spinning holder cannot
    /// re-grab it). Returns the nanoseconds waited (0 when it kept the GIL).
    /// Its common case is one relaxed atomic load.
    qint64 checkpoint();

    /// Worker index of the holder, -1 when free. For telemetry.
    int holder() const;
    /// How many times the GIL passed from one thread to another (taking it
    /// again after releasing it with nobody waiting does not count).
    quint64 switches() const;
    /// Threads blocked in acquire() right now.
    int waiters() const;

    // ---- turns, for the timeline (docs/architecture.md, "GIL turns")
    /// Most finished turns kept between two takeTurns() calls; past it
    /// turns are counted as lost (GilTurnBatch::lost), never waited for.
    static constexpr std::size_t kDefaultPendingTurns = std::size_t(1) << 18;
    /// With it on, every hold (grant to release) is written under the GIL's
    /// own lock into a bounded buffer that takeTurns() empties. Off (the
    /// default): nothing is written.
    void setTurnRecording(bool on, std::size_t maxPending = kDefaultPendingTurns);
    bool turnRecording() const;
    /// Moves the turns that ended since the last call into `out` (its
    /// previous contents are dropped; its vector's capacity is handed back
    /// to the GIL for the next turns: no allocation in a steady run).
    void takeTurns(detail::GilTurnBatch& out);

private:
    struct Impl;
    Impl* d;
};

} // namespace poolscope
