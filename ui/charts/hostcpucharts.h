#pragma once
// HostCpuCharts: per-core CPU utilisation of every host an MPI pool's ranks
// run on (Snapshot::hostCpu: the latest /proc/stat sample each host's ranks
// sent with their heartbeats). One chart per host, in host-name order: one
// line per core over a rolling window plus a thick line for the whole host,
// the current value of each core as a bar, and a title with the host name,
// its ranks (from Snapshot::workers) and how busy it is. A host gets a new
// point only when a new sample of it arrived (about every 500 ms), not per
// tick. Only hosts that some worker of the snapshot runs on are shown, so
// local pools (no hostCpu, no hosts) show nothing.

#include "chartadapter.h"

#include <poolscope/monitor.h>

#include <QStringList>
#include <QWidget>

#include <vector>

class QGridLayout;
class QLabel;

namespace poolscope {

class ChartAdapter;

class HostCpuCharts : public QWidget {
    Q_OBJECT
public:
    explicit HostCpuCharts(QWidget* parent = nullptr);
    ~HostCpuCharts() override;

    void applySnapshot(const Snapshot& s);
    /// Forgets every host (charts and points).
    void clear();
    void setWindow(double seconds);
    /// Frames a run on every host's x axis (ChartAdapter::setRunFrame).
    void frameRun(const ChartAdapter::RunWindowNs& run);
    /// The host whose title says "(this machine)"; default: this machine's
    /// host name as MPI reports it (gethostname()).
    void setLocalHost(const QString& host);

    int hostCount() const { return int(m_hosts.size()); }
    QStringList hosts() const;
    /// The chart of a host (nullptr when the host is not shown). Lines
    /// 0..cores-1 are the cores in ascending core number, the last line the
    /// host's total; one bar per core.
    ChartAdapter* chart(const QString& host) const;
    int coreCount(const QString& host) const;
    QString titleText(const QString& host) const;

    /// Time 0 of the x axis (monotonic ns): when the Monitor attached, as
    /// for the timeline; -1 before the first snapshot.
    qint64 originNs() const { return m_originNs; }

signals:
    /// The set of hosts shown changed (count 0: nothing to show).
    void hostsChanged(int count);

private:
    struct Host {
        QString name;
        QWidget* box = nullptr;
        QLabel* title = nullptr;
        ChartAdapter* chart = nullptr;
        QList<int> cores;
        qint64 lastSampleNs = -1;
    };
    const Host* find(const QString& host) const;
    void setHosts(const QStringList& names);
    void rebuildChart(Host& h, const QList<int>& cores);
    void relayout();

    QWidget* m_inner = nullptr;
    QGridLayout* m_grid = nullptr;
    QLabel* m_empty = nullptr;
    std::vector<Host> m_hosts; // sorted by name (QMap order of hostCpu)
    QString m_localHost;
    double m_window = 60;
    qint64 m_originNs = -1;
    ChartAdapter::RunWindowNs m_run;
};

} // namespace poolscope
