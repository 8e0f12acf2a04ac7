#include "percorechart.h"

#include "chartadapter.h"

#include <poolscope/cpusampler.h>

#include <QLabel>
#include <QVBoxLayout>

#include <algorithm>
#include <thread>

namespace poolscope {

PerCoreChart::PerCoreChart(QWidget* parent)
    : QWidget(parent)
{
    // A placeholder that rebuild() below replaces (and takes the window
    // from); rebuild() sets the axes, titles and lines.
    m_chart = new ChartAdapter(this);
    m_chart->setWindow(60);
    m_summary = new QLabel(this);
    m_summary->setTextFormat(Qt::PlainText);
    m_summary->setText(tr("Waiting for the first CPU sample..."));
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->setSpacing(2);
    lay->addWidget(m_chart, 1);
    lay->addWidget(m_summary);
    // The machine's cores now, not at the first CPU sample: that sample
    // comes during a run, and building the chart then took the GUI thread
    // ~5 ms from the run's workers. A machine whose online cores differ
    // (cpu0 offline, a host's) is rebuilt at its first sample.
    QList<int> machine;
    for (int c = 0, n = int(std::thread::hardware_concurrency()); c < n; ++c)
        machine << c;
    rebuild(machine);
    const QString tip = tr("<p>Per-core utilisation from /proc/stat deltas.</p><p>%1</p>"
                           "<p><b>Pool</b> is the sum of the pool workers' CPU load (CPU time "
                           "of each worker thread or process over wall time since the last "
                           "tick, from /proc/self/task/TID/stat or /proc/PID/stat), in cores "
                           "and as a share of the machine; <b>rest of system</b> is everything "
                           "else the machine ran.</p>")
                            .arg(CpuSampler::formula().toHtmlEscaped());
    setToolTip(tip);
}

void PerCoreChart::rebuild(const QList<int>& cores)
{
    // Lines cannot be removed from the adapter: make a fresh one.
    auto* old = m_chart;
    m_chart = new ChartAdapter(this);
    m_chart->setWindow(old->window());
    m_chart->setRunFrame(old->runFrame());
    m_chart->setMaxPoints(1200); // two minutes at 10 Hz: a framed run stays
    m_chart->setYRange(ChartAdapter::Axis::Left, 0, 100);
    m_chart->setYTitle(ChartAdapter::Axis::Left, tr("% busy"));
    m_chart->setXTitle(tr("seconds"));
    // replaceWidget() hands the old widget's QLayoutItem to the caller
    // (LeakSanitizer found it leaking once per rebuild).
    delete layout()->replaceWidget(old, m_chart);
    old->deleteLater();
    m_cores = cores;
    QStringList cats;
    for (int c : cores) {
        m_chart->addLine(tr("cpu%1").arg(c), {}, ChartAdapter::Axis::Left, 1.2);
        cats << QString::number(c);
    }
    m_chart->addLine(tr("pool"), palette().color(QPalette::Text), ChartAdapter::Axis::Left, 2.5);
    m_chart->setBarCategories(cats);
    m_chart->setBarRange(0, 100);
    m_chart->setLegendVisible(cores.size() <= 16);
}

void PerCoreChart::setWindow(double seconds)
{
    m_chart->setWindow(seconds);
}

void PerCoreChart::frameRun(const ChartAdapter::RunWindowNs& run)
{
    m_run = run;
    m_chart->setRunFrame(run.inChart(m_originNs));
}

void PerCoreChart::clear()
{
    m_chart->clear();
    m_poolSum = 0;
    m_poolTicks = 0;
}

QString PerCoreChart::summaryText() const
{
    return m_summary->text();
}

void PerCoreChart::applySnapshot(const Snapshot& s)
{
    // Seconds since the Monitor attached: the timeline's origin too, so a
    // moment reads the same on every panel (issue #15).
    if (m_originNs < 0) {
        m_originNs = s.timeNs - std::max<qint64>(0, s.sinceStartNs);
        frameRun(m_run); // a frame asked for before the first snapshot
    }
    double pool = 0;
    for (const auto& w : s.workers) {
        if (w.cpuLoad > 0 && !hasEnded(w.state))
            pool += w.cpuLoad;
    }
    m_poolSum += pool;
    ++m_poolTicks;
    if (!s.cpuFresh || !s.cpu.valid)
        return;
    // s.cpu is the last of s.cpuSamples (a snapshot drawn at 5 Hz carries
    // the two samples taken at 10 Hz since the one before).
    const QList<int> cores = s.cpu.perCore.keys();
    if (cores != m_cores)
        rebuild(cores);
    const int n = std::max<int>(1, int(cores.size()));
    const double poolCores = m_poolTicks > 0 ? m_poolSum / m_poolTicks : 0;
    m_poolSum = 0;
    m_poolTicks = 0;
    const double machineCores = std::max(0.0, s.cpu.total) * n;
    // Sampling windows differ a little (per tick vs /proc/stat period): clamp.
    const double poolShown = std::min(poolCores, double(n));
    const double other = std::max(0.0, machineCores - poolShown);
    m_lastPoolCores = poolShown;
    m_lastOtherCores = other;

    QList<double> times;
    QList<QList<double>> rows;
    QList<double> bars;
    for (const CpuUsage& u : s.freshCpu()) {
        if (!u.valid || u.perCore.keys() != cores)
            continue;
        QList<double> values;
        values.reserve(cores.size() + 1);
        for (int c : cores)
            values.append(100.0 * u.perCore.value(c));
        bars = values;
        values.append(100.0 * poolShown / n);
        times.append(double((u.timeNs > 0 ? u.timeNs : s.timeNs) - m_originNs) / 1e9);
        rows.append(std::move(values));
    }
    m_chart->appendRows(times, rows);
    m_chart->setBarValues(bars);
    m_summary->setText(tr("Machine %1 % busy (%2 cores) - pool workers %3 cores (%4 %) - rest "
                          "of system %5 cores")
                           .arg(100.0 * s.cpu.total, 0, 'f', 0)
                           .arg(n)
                           .arg(poolShown, 0, 'f', 2)
                           .arg(100.0 * poolShown / n, 0, 'f', 0)
                           .arg(other, 0, 'f', 2));
}

} // namespace poolscope
