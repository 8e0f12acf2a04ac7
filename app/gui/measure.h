#pragma once
// --measure FILE: the figures the lead puts in docs/benchmarks.md, measured
// inside the real GUI with every panel visible:
//   * launch to first painted main window (since main() and since exec);
//   * GUI-thread event-loop lag (lateness of a 16 ms timer: p50/p99/max)
//     and GUI-thread CPU (getrusage RUSAGE_THREAD), idle and while N trivial
//     tasks run (a feeder thread posts no-op tasks to the thread pool, so the
//     GUI thread only pays for watching, as with a real workload);
//   * RSS after M more tasks in a second run (memory must stay flat once
//     that run's record reaches its limit and samples; the first run goes
//     to the bounded ring of past runs).
// The load is a no-op lambda posted from a feeder thread, not a catalogue
// workload: what it measures is the cost of watching, not of the tasks.

#include <QApplication>
#include <QElapsedTimer>
#include <QHash>
#include <QString>

#include <vector>

namespace poolscope {
class MainWindow;

struct MeasureConfig {
    QString path;
    qint64 busyTasks = 1'000'000;
    qint64 rssTasks = 10'000'000;
    int workers = 2;
    int idleSeconds = 3;
};

/// The window's QApplication: while --measure records, it times every event
/// the GUI thread dispatches, so that a lag figure comes with the events that
/// made it (slowEvents()). Otherwise notify() costs one branch.
class TimedApplication : public QApplication {
public:
    TimedApplication(int& argc, char** argv);
    bool notify(QObject* receiver, QEvent* event) override;

    struct SlowEvent {
        double ms = 0;
        double cpuMs = 0; // of it, on the GUI thread's CPU (the rest: waiting for a core)
        int type = 0;     // QEvent::Type
        QString receiver; // class name and object name
    };
    /// Starts timing events (forgetting earlier ones); events of at least
    /// `thresholdMs` are kept, the slowest `keep` of them.
    void startTiming(double thresholdMs, std::size_t keep = 12);
    /// Stops; the slowest events since startTiming(), slowest first, and
    /// how many events reached the threshold.
    std::vector<SlowEvent> stopTiming(quint64* overThreshold = nullptr);
    /// Paint events of each widget class (nested in the window's update
    /// request) since startTiming(): count, total and longest ms.
    struct PaintCost {
        quint64 count = 0;
        double totalMs = 0;
        double maxMs = 0;
    };
    const QHash<QString, PaintCost>& paintCosts() const { return m_paint; }

private:
    bool m_timing = false;
    int m_depth = 0; // nested notify(): only the outermost event is timed
    qint64 m_thresholdNs = 0;
    std::size_t m_keep = 0;
    quint64 m_over = 0;
    std::vector<SlowEvent> m_slow;
    QHash<QString, PaintCost> m_paint;
};

/// Starts the measurement on the running event loop; writes the JSON to
/// config.path and quits the application (exit code 0, or 1 on failure).
void startMeasurement(MainWindow* window, const MeasureConfig& config,
                      const QElapsedTimer& sinceMain);

/// Milliseconds since this process was exec'd (from /proc/self/stat
/// starttime, 10 ms resolution); -1 if unknown.
double msSinceProcessStart();

} // namespace poolscope
