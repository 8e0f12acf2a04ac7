#pragma once
// A poolscope::Monitor that lives in its own QThread with an event loop and
// ticks there at its own rate (30 Hz by default), the way a GUI thread
// watches a pool that other threads feed. For the monitored.* figures.

#include <poolscope/monitor.h>

#include <QThread>

#include <atomic>
#include <functional>

namespace bench {

class MonitorThread {
public:
    explicit MonitorThread(const poolscope::MonitorOptions& options = {});
    ~MonitorThread();
    MonitorThread(const MonitorThread&) = delete;
    MonitorThread& operator=(const MonitorThread&) = delete;

    /// Attaches the monitor to `executor` (nullptr detaches, which also
    /// drains what is left); returns when done in the monitor's thread.
    void attach(poolscope::Executor* executor);
    /// snapshotReady() signals received so far (by a slot in that thread).
    quint64 snapshots() const { return m_snapshots.load(std::memory_order_relaxed); }
    /// CPU time the monitor's thread has used so far, in seconds.
    double cpuSeconds();
    /// One Monitor::tick() there, now (e.g. to take a snapshot of a full
    /// queue before a timed phase).
    void tick();
    /// Rows the record held at the last detach (each attach starts a run).
    quint64 recorded() const { return m_recorded.load(std::memory_order_relaxed); }

private:
    void runThere(const std::function<void()>& fn);

    QThread m_thread;
    QObject* m_context = nullptr; // lives in m_thread
    poolscope::Monitor* m_monitor = nullptr;
    std::atomic<quint64> m_snapshots{0};
    std::atomic<quint64> m_recorded{0};
};

} // namespace bench
