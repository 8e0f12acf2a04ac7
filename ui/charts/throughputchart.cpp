#include "throughputchart.h"

#include "chartadapter.h"

#include <QVBoxLayout>

#include <algorithm>

namespace poolscope {

ThroughputChart::ThroughputChart(Mode mode, QWidget* parent)
    : QWidget(parent)
    , m_mode(mode)
{
    m_chart = new ChartAdapter(this);
    m_chart->setWindow(60);
    m_chart->setMaxPoints(1200);
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->addWidget(m_chart);
    if (mode == Mode::Full) {
        m_rateLine = m_chart->addLine(tr("tasks/s"), QColor(0x4e79a7), ChartAdapter::Axis::Left, 2);
        m_queueLine = m_chart->addLine(tr("queued"), QColor(0xf28e2b), ChartAdapter::Axis::Right);
        m_runningLine =
            m_chart->addLine(tr("running"), QColor(0x59a14f), ChartAdapter::Axis::Right, 1.5, true);
        m_chart->setYAuto(ChartAdapter::Axis::Left, 10);
        m_chart->setYAuto(ChartAdapter::Axis::Right, 4);
        m_chart->setYTitle(ChartAdapter::Axis::Left, tr("tasks/s"));
        m_chart->setYTitle(ChartAdapter::Axis::Right, tr("tasks"));
        m_chart->setXTitle(tr("seconds"));
        setToolTip(tr("Completed tasks per second over the last second, or a tenth of a "
                      "lesson run's expected length (longer, up to %1x, until it holds %2 "
                      "finished tasks; exact counter, sampled every %3 ms at most), and the "
                      "queue depth and running tasks at each sample.")
                       .arg(kWidenBy)
                       .arg(kMinTasks)
                       .arg(m_sampleMs));
    } else {
        m_queueLine = m_chart->addLine(tr("queued"), QColor(0xf28e2b), ChartAdapter::Axis::Left, 2);
        m_runningLine =
            m_chart->addLine(tr("running"), QColor(0x59a14f), ChartAdapter::Axis::Left, 1.5, true);
        m_chart->setYAuto(ChartAdapter::Axis::Left, 4);
        m_chart->setLegendAlignment(Qt::AlignRight); // a mini chart has width to spare
        setToolTip(tr("Queue depth (queued) and running tasks over the last 60 s."));
    }
}

void ThroughputChart::setWindow(double seconds)
{
    m_chart->setWindow(seconds);
}

void ThroughputChart::frameRun(const ChartAdapter::RunWindowNs& run)
{
    m_run = run;
    m_chart->setRunFrame(run.inChart(m_originNs));
    // A 5 s lesson run averaged over 1 s shows a ramp for a fifth of it.
    const double window =
        run.startNs >= 0 && run.expectedS > 0 ? std::clamp(run.expectedS / 10, 0.25, 1.0) : 1.0;
    m_rateWindowNs = qint64(window * 1e9);
}

int ThroughputChart::pointIntervalMs() const
{
    return std::min<int>(m_sampleMs, int(m_rateWindowNs / 4'000'000));
}

void ThroughputChart::clear()
{
    m_chart->clear();
    m_lastSampleNs = -1;
    m_history.clear();
}

void ThroughputChart::applySnapshot(const Snapshot& s)
{
    // Seconds since the Monitor attached: the timeline's origin too, so a
    // moment reads the same on every panel (issue #15).
    if (m_originNs < 0) {
        m_originNs = s.timeNs - std::max<qint64>(0, s.sinceStartNs);
        frameRun(m_run); // a frame asked for before the first snapshot
    }
    // Tasks that ran to an end: cancelled ones never ran, and a Stop that
    // cancels a queue of thousands is not throughput (issue #15).
    const quint64 completed = s.counters.succeeded + s.counters.failed;
    if (m_lastSampleNs < 0 || completed < m_lastCompleted) { // first, or a new pool
        m_history.clear();
        m_history.emplace_back(s.timeNs, completed);
        m_lastSampleNs = s.timeNs;
        m_lastCompleted = completed;
        return;
    }
    m_lastCompleted = completed;
    if (s.timeNs - m_lastSampleNs < qint64(pointIntervalMs()) * 1'000'000)
        return;
    m_lastSampleNs = s.timeNs;
    m_history.emplace_back(s.timeNs, completed);
    const qint64 widest = kWidenBy * m_rateWindowNs;
    while (m_history.size() > 2 && s.timeNs - m_history[1].first >= widest)
        m_history.pop_front();
    // A run's first window starts at the run: the idle time before it is
    // not averaged in (the last sample at or before its start is the base).
    if (m_run.startNs >= 0)
        while (m_history.size() > 2 && m_history[1].first <= m_run.startNs)
            m_history.pop_front();
    // The base: the last sample a whole window ago; further back (up to
    // kWidenBy windows) while fewer than kMinTasks finished since, so three
    // tasks a second read as 3/s, not as a comb of 0 and 6.
    std::size_t base = m_history.size() - 1;
    while (base > 0 && s.timeNs - m_history[base].first < m_rateWindowNs)
        --base;
    while (base > 0 && completed - m_history[base].second < kMinTasks)
        --base;
    const auto& [t0, c0] = m_history[base];
    m_lastRate = s.timeNs > t0 ? double(completed - c0) * 1e9 / double(s.timeNs - t0) : 0.0;
    QList<double> values;
    if (m_mode == Mode::Full)
        values = {m_lastRate, double(s.counters.queued), double(s.counters.running)};
    else
        values = {double(s.counters.queued), double(s.counters.running)};
    m_chart->appendPoints(double(s.timeNs - m_originNs) / 1e9, values);
}

} // namespace poolscope
