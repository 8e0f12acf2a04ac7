#pragma once
// SimulatedGil: a teaching model of CPython's global interpreter lock
// (DESIGN.md §5). One lock in front of "interpreted" work; the holder hands
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

    /// Blocks until the calling thread (worker `who`) holds the GIL.
    /// Returns the nanoseconds it waited.
    qint64 acquire(int who);
    /// Gives the GIL up (the caller must hold it).
    void release();
    /// Called often by the holder: if it has held the GIL for at least the
    /// switch interval and another thread waits, hands it to a waiter (which
    /// must take it before the caller may again: no convoy starvation) and
    /// re-acquires. Returns the nanoseconds waited (0 when it kept the GIL).
    qint64 checkpoint();

    /// Worker index of the holder, -1 when free. For telemetry.
    int holder() const;
    /// How many times the GIL passed from one thread to another.
    quint64 switches() const;
    /// Threads blocked in acquire() right now.
    int waiters() const;

private:
    struct Impl;
    Impl* d;
};

} // namespace poolscope
