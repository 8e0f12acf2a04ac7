#pragma once
// SimulatedGil: a teaching model of CPython's global interpreter lock
// (docs/architecture.md). One lock in front of "interpreted" work; the holder hands
// it over every switch interval when another thread waits (CPython's
// sys.setswitchinterval, default 5 ms); sleep, I/O and native kernels release
// it. A ThreadPoolExecutor with ThreadPoolOptions::gil makes its workers take
// it around every task; tasks reach it through TaskContext.

#include <QtGlobal>

#include <chrono>

namespace poolscope {

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

private:
    struct Impl;
    Impl* d;
};

} // namespace poolscope
