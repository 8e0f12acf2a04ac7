#pragma once
// ThroughputChart: completed tasks per second and queue depth over a rolling
// window. A sample is taken from the snapshots every sampleMs (200 ms); the
// rate is the exact completed counter's growth over the last second (so slow
// tasks do not make a comb of 0 and 10/s, and no tick is lost), which keeps
// each series small whatever the tick rate.
// Mode QueueOnly is the mini chart of the Queue panel (queued and running).

#include "chartadapter.h"

#include <poolscope/monitor.h>

#include <QWidget>

#include <deque>
#include <utility>

namespace poolscope {

class ThroughputChart : public QWidget {
    Q_OBJECT
public:
    enum class Mode { Full, QueueOnly };
    explicit ThroughputChart(Mode mode = Mode::Full, QWidget* parent = nullptr);

    void applySnapshot(const Snapshot& s);
    void clear();
    void setWindow(double seconds);
    void setSampleIntervalMs(int ms) { m_sampleMs = ms; }
    /// Frames a run on the x axis (ChartAdapter::setRunFrame) and fits the
    /// rate's window to it: a tenth of the expected length, 0.25..1 s (1 s
    /// when unknown), never reaching back before the run's start. Where
    /// fewer than kMinTasks finished in it, the rate reaches back further,
    /// up to kWidenBy windows.
    static constexpr int kMinTasks = 8;
    static constexpr int kWidenBy = 4;
    void frameRun(const ChartAdapter::RunWindowNs& run);
    /// The window the rate is averaged over now (ns).
    qint64 rateWindowNs() const { return m_rateWindowNs; }
    /// Time between two points now (ms): a quarter of the rate's window,
    /// at most the sample interval.
    int pointIntervalMs() const;

    ChartAdapter* chart() const { return m_chart; }
    Mode mode() const { return m_mode; }
    /// Tasks finished (succeeded or failed; never cancelled ones) per second
    /// over the rate's window (the last second unless a run fitted it).
    double lastTasksPerSecond() const { return m_lastRate; }

    /// Time 0 of the x axis (monotonic ns): when the Monitor attached, as
    /// for the timeline; -1 before the first snapshot.
    qint64 originNs() const { return m_originNs; }

private:
    Mode m_mode;
    ChartAdapter* m_chart = nullptr;
    int m_sampleMs = 200;
    qint64 m_originNs = -1;
    ChartAdapter::RunWindowNs m_run;
    qint64 m_rateWindowNs = 1'000'000'000;
    qint64 m_lastSampleNs = -1;
    quint64 m_lastCompleted = 0;
    std::deque<std::pair<qint64, quint64>> m_history; // (time, completed), the rate's window
    double m_lastRate = 0;
    int m_rateLine = -1, m_queueLine = -1, m_runningLine = -1;
};

} // namespace poolscope
