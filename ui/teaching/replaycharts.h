#pragma once
// The charts of a recording (issue #7: "the timeline, futures and charts
// replay it"). replaySeries() turns a TraceData into bucketed series, once
// per recording and without widgets (unit-tested in tst_teaching):
//   * throughput: tasks that finished in each bucket (span end times) and
//     that count per second;
//   * queue depth and running tasks at each bucket's end: from the trace's
//     "queue" counter samples when it has them, else counted from the spans
//     (enqueue <= t < start, start <= t < end);
//   * per-core utilisation: for each CPU a span names (TaskSpan::core, the
//     CPU the task started on), the busy fraction of each bucket = sum of the
//     span overlaps with the bucket / bucket length, clamped to 1. Cores no
//     span names are absent.
// Buckets split the recording (position 0 .. durationNs, as ReplayController
// plays it) into n equal parts: 1/100 of the recording or 50 ms, whichever
// is longer (one bucket when the recording is shorter than 50 ms).
//
// ReplayCharts shows the two charts on a fixed time axis (the whole
// recording) with the buckets that have ended by the scrubber's position:
// scrubbing back hides the later ones. It follows a ReplayController:
// recomputed on loaded(), cleared on unloaded(); a failed load keeps them.

#include <poolscope/traceexport.h>

#include <QList>
#include <QWidget>

#include <vector>

class QLabel;

namespace poolscope {

class ChartAdapter;
class ReplayController;

/// Position 0 and length of a recording as ReplayController plays it: from
/// the first submission (the first start when a span's enqueue time is
/// unknown) to the last end. Both 0 (start = originNs) without spans.
struct RecordingExtent {
    qint64 startNs = 0; // trace time (TaskSpan clock) of position 0
    qint64 durationNs = 0;
};
RecordingExtent recordingExtent(const TraceData& trace);

inline constexpr int kReplayMaxBuckets = 100;
inline constexpr qint64 kReplayMinBucketNs = 50'000'000;

struct ReplaySeries {
    qint64 startNs = 0;
    qint64 durationNs = 0;
    /// Bucket edges from position 0: bucketCount() + 1 values, 0 .. durationNs.
    std::vector<qint64> edges;
    /// Tasks whose span ended in each bucket (the last bucket includes its end).
    std::vector<qint64> finished;
    /// finished / bucket length in seconds.
    std::vector<double> tasksPerSecond;
    /// Queued and running tasks at each bucket's end (NaN before the first
    /// counter sample).
    std::vector<double> queued;
    std::vector<double> running;
    bool queueFromCounters = false;
    /// The CPUs named by the spans, ascending, and busy[c][i]: the busy
    /// fraction (0..1) of cores[c] in bucket i.
    QList<int> cores;
    std::vector<std::vector<double>> busy;

    int bucketCount() const { return int(finished.size()); }
    qint64 bucketNs(int i) const { return edges[std::size_t(i) + 1] - edges[std::size_t(i)]; }
    /// Buckets that have ended by positionNs (edges[i + 1] <= positionNs).
    int bucketsUpTo(qint64 positionNs) const;
};

ReplaySeries replaySeries(const TraceData& trace);

/// Throughput (tasks/s, queued, running) and per-core utilisation (% busy,
/// one line per core) of the recording a ReplayController plays.
class ReplayCharts : public QWidget {
    Q_OBJECT
public:
    explicit ReplayCharts(ReplayController* controller, QWidget* parent = nullptr);

    ChartAdapter* throughputChart() const { return m_throughput; }
    ChartAdapter* coreChart() const { return m_cores; }
    const ReplaySeries& series() const { return m_series; }
    /// Buckets drawn now (those ended by the position).
    int shownBuckets() const { return m_shown; }
    /// Line indices of the throughput chart.
    enum ThroughputLine { RateLine = 0, QueuedLine = 1, RunningLine = 2 };

private:
    void load();
    void reset();
    void showUpTo(qint64 positionNs);

    ReplayController* m_controller;
    ChartAdapter* m_throughput = nullptr;
    ChartAdapter* m_cores = nullptr;
    QLabel* m_noCores = nullptr;
    ReplaySeries m_series;
    double m_unitNs = 1e9; // x axis unit: s, or ms for short recordings
    int m_shown = -1;
};

} // namespace poolscope
