#pragma once
// PerCoreChart: system CPU utilisation per core over a rolling window (one
// line per core, from Snapshot::cpu when it is fresh), the current value of
// each core as a bar, and how much of the machine the pool's workers use
// (sum of the workers' CPU load) against the rest of the system.

#include "chartadapter.h"

#include <poolscope/monitor.h>

#include <QWidget>

class QLabel;

namespace poolscope {

class PerCoreChart : public QWidget {
    Q_OBJECT
public:
    explicit PerCoreChart(QWidget* parent = nullptr);

    void applySnapshot(const Snapshot& s);
    void clear();
    void setWindow(double seconds);
    /// Frames a run on the x axis (ChartAdapter::setRunFrame), as the
    /// timeline does; startNs < 0 rolls again.
    void frameRun(const ChartAdapter::RunWindowNs& run);

    ChartAdapter* chart() const { return m_chart; }
    int coreCount() const { return m_cores.size(); }
    /// Pool CPU in cores (sum of the workers' load, averaged since the last
    /// CPU sample) and the rest of the system, as last shown.
    double poolCores() const { return m_lastPoolCores; }
    double otherCores() const { return m_lastOtherCores; }
    QString summaryText() const;

    /// Time 0 of the x axis (monotonic ns): when the Monitor attached, as
    /// for the timeline; -1 before the first snapshot.
    qint64 originNs() const { return m_originNs; }

private:
    void rebuild(const QList<int>& cores);

    ChartAdapter* m_chart = nullptr;
    QLabel* m_summary = nullptr;
    QList<int> m_cores;
    qint64 m_originNs = -1;
    ChartAdapter::RunWindowNs m_run;
    double m_poolSum = 0;
    int m_poolTicks = 0;
    double m_lastPoolCores = 0;
    double m_lastOtherCores = 0;
};

} // namespace poolscope
