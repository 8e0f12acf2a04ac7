#pragma once
// --measure FILE: the figures the lead puts in docs/benchmarks.md, measured
// inside the real GUI with every panel visible:
//   * launch to first painted main window (since main() and since exec);
//   * GUI-thread event-loop lag (lateness of a 16 ms timer: p50/p99/max)
//     and GUI-thread CPU (getrusage RUSAGE_THREAD), idle and while N trivial
//     tasks run (a feeder thread posts no-op tasks to the thread pool, so the
//     GUI thread only pays for watching, as with a real workload);
//   * RSS after M more tasks (memory must stay flat: all history is bounded).
// The catalogue caps runs at 100k tasks, so the load is a no-op lambda, not
// a catalogue workload.

#include <QElapsedTimer>
#include <QString>

namespace poolscope {
class MainWindow;

struct MeasureConfig {
    QString path;
    qint64 busyTasks = 1'000'000;
    qint64 rssTasks = 10'000'000;
    int workers = 2;
    int idleSeconds = 3;
};

/// Starts the measurement on the running event loop; writes the JSON to
/// config.path and quits the application (exit code 0, or 1 on failure).
void startMeasurement(MainWindow* window, const MeasureConfig& config,
                      const QElapsedTimer& sinceMain);

/// Milliseconds since this process was exec'd (from /proc/self/stat
/// starttime, 10 ms resolution); -1 if unknown.
double msSinceProcessStart();

} // namespace poolscope
