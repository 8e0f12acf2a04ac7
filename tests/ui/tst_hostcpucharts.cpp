// HostCpuCharts (ui/charts), offscreen, fed scripted Snapshots of an MPI
// pool whose ranks run on two fake hosts: one chart per host in name order,
// one line per core plus the host's total, one bar per core, the values of
// the samples, a new point only per new sample, titles with ranks, hosts
// that leave, and nothing for local pools.

#include "charts/chartadapter.h"
#include "charts/hostcpucharts.h"
#include "charts/throughputchart.h"

#include <QApplication>
#include <QSignalSpy>
#include <QTest>

#include <cmath>

using namespace poolscope;

namespace {

constexpr qint64 kSec = 1'000'000'000;

CpuUsage usage(qint64 timeNs, const QList<double>& cores)
{
    CpuUsage u;
    u.valid = true;
    u.timeNs = timeNs;
    double sum = 0;
    for (int c = 0; c < cores.size(); ++c) {
        u.perCore.insert(c, cores[c]);
        sum += cores[c];
    }
    u.total = cores.isEmpty() ? 0 : sum / double(cores.size());
    return u;
}

WorkerInfo rank(int index, const QString& host, int r, WorkerState state = WorkerState::Running)
{
    WorkerInfo w;
    w.index = index;
    w.host = host;
    w.rank = r;
    w.name = QStringLiteral("%1/rank %2").arg(host).arg(r);
    w.state = state;
    return w;
}

/// nodeA: 2 cores, ranks 1 and 3; nodeB: 4 cores, rank 2.
Snapshot twoHosts(qint64 timeNs, qint64 sampleA, qint64 sampleB)
{
    Snapshot s;
    s.timeNs = timeNs;
    s.poolKind = QStringLiteral("mpi");
    s.workers = {rank(0, "nodeB", 2), rank(1, "nodeA", 3), rank(2, "nodeA", 1)};
    s.hostCpu.insert(QStringLiteral("nodeB"), usage(sampleB, {0.10, 0.20, 0.30, 0.40}));
    s.hostCpu.insert(QStringLiteral("nodeA"), usage(sampleA, {0.50, 1.00}));
    return s;
}

} // namespace

class TstHostCpuCharts : public QObject {
    Q_OBJECT
private slots:
    void oneChartPerHost();
    void newPointOnlyPerNewSample();
    void hostsComeAndGo();
    void localPoolShowsNothing();
    void throughputCountsFinishedTasksOnly_data();
    void throughputCountsFinishedTasksOnly();
    void coreSetChangeRebuildsTheChart();
};

void TstHostCpuCharts::oneChartPerHost()
{
    HostCpuCharts w;
    w.setLocalHost(QStringLiteral("nodeA"));
    w.resize(800, 400);
    w.show();
    QSignalSpy changed(&w, &HostCpuCharts::hostsChanged);
    w.applySnapshot(twoHosts(10 * kSec, 10 * kSec, 10 * kSec));
    QCOMPARE(changed.count(), 1);
    QCOMPARE(changed.first().at(0).toInt(), 2);
    QCOMPARE(w.hostCount(), 2);
    QCOMPARE(w.hosts(), (QStringList{"nodeA", "nodeB"}));
    QCOMPARE(w.coreCount("nodeA"), 2);
    QCOMPARE(w.coreCount("nodeB"), 4);

    ChartAdapter* a = w.chart("nodeA");
    ChartAdapter* b = w.chart("nodeB");
    QVERIFY(a && b && a != b);
    QVERIFY(!w.chart("nodeC"));
    QCOMPARE(a->lineCount(), 2 + 1); // cores + the host's total
    QCOMPARE(b->lineCount(), 4 + 1);
    QCOMPARE(a->barCount(), 2);
    QCOMPARE(b->barCount(), 4);
    // Values in percent, per core, and the host's average as the last line.
    QCOMPARE(a->lastValue(0), 50.0);
    QCOMPARE(a->lastValue(1), 100.0);
    QCOMPARE(a->lastValue(2), 75.0);
    QCOMPARE(b->lastValue(3), 40.0);
    QCOMPARE(b->lastValue(4), 25.0);
    QCOMPARE(b->barValue(0), 10.0);
    QCOMPARE(b->barValue(3), 40.0);
    QVERIFY(std::isnan(b->barValue(4)));

    // Titles: host, "this machine", its ranks in rank order, cores, busy.
    QCOMPARE(w.titleText("nodeA"), "nodeA (this machine) - ranks 1, 3 - 2 cores, 75 % busy");
    QCOMPARE(w.titleText("nodeB"), "nodeB - rank 2 - 4 cores, 25 % busy");
    // Both are on screen, side by side.
    QVERIFY(a->isVisible() && b->isVisible());
    QVERIFY(a->mapTo(&w, QPoint()).x() < b->mapTo(&w, QPoint()).x());
}

void TstHostCpuCharts::newPointOnlyPerNewSample()
{
    HostCpuCharts w;
    w.applySnapshot(twoHosts(10 * kSec, 10 * kSec, 10 * kSec));
    QCOMPARE(w.chart("nodeA")->pointCount(0), 1);
    // The monitor ticks at 30 Hz, a host's sample changes every ~500 ms:
    // ticks that bring the same sample add nothing.
    w.applySnapshot(twoHosts(10 * kSec + kSec / 30, 10 * kSec, 10 * kSec));
    w.applySnapshot(twoHosts(10 * kSec + 2 * kSec / 30, 10 * kSec, 10 * kSec));
    QCOMPARE(w.chart("nodeA")->pointCount(0), 1);
    QCOMPARE(w.chart("nodeB")->pointCount(0), 1);
    // nodeA sends a new sample, nodeB does not.
    Snapshot s = twoHosts(10 * kSec + kSec / 2, 10 * kSec + kSec / 2, 10 * kSec);
    s.hostCpu[QStringLiteral("nodeA")] = usage(10 * kSec + kSec / 2, {0.0, 0.25});
    w.applySnapshot(s);
    QCOMPARE(w.chart("nodeA")->pointCount(0), 2);
    QCOMPARE(w.chart("nodeB")->pointCount(0), 1);
    QCOMPARE(w.chart("nodeA")->lastValue(1), 25.0);
    QCOMPARE(w.chart("nodeA")->barValue(0), 0.0);
    QVERIFY(w.titleText("nodeA").endsWith("13 % busy"));
}

void TstHostCpuCharts::hostsComeAndGo()
{
    HostCpuCharts w;
    QSignalSpy changed(&w, &HostCpuCharts::hostsChanged);
    // Only nodeB has reported yet.
    Snapshot s = twoHosts(kSec, kSec, kSec);
    s.hostCpu.remove(QStringLiteral("nodeA"));
    w.applySnapshot(s);
    QCOMPARE(w.hosts(), QStringList{"nodeB"});
    ChartAdapter* b = w.chart("nodeB");
    w.applySnapshot(twoHosts(2 * kSec, 2 * kSec, 2 * kSec));
    QCOMPARE(w.hosts(), (QStringList{"nodeA", "nodeB"}));
    QCOMPARE(w.chart("nodeB"), b); // kept with its points
    QCOMPARE(b->pointCount(0), 2);
    QCOMPARE(changed.count(), 2);
    // A rank died: the title stops listing it.
    s = twoHosts(3 * kSec, 2 * kSec, 2 * kSec);
    s.workers[1].state = WorkerState::Dead; // nodeA rank 3
    w.applySnapshot(s);
    QVERIFY2(w.titleText("nodeA").contains(" - rank 1 - "), qPrintable(w.titleText("nodeA")));
    // A new pool on nodeC only: the others go.
    s = Snapshot{};
    s.timeNs = 4 * kSec;
    s.workers = {rank(0, "nodeC", 1)};
    s.hostCpu.insert(QStringLiteral("nodeC"), usage(4 * kSec, {0.5}));
    w.applySnapshot(s);
    QCOMPARE(w.hosts(), QStringList{"nodeC"});
    QCOMPARE(w.titleText("nodeC"), "nodeC - rank 1 - 1 cores, 50 % busy");
    w.clear();
    QCOMPARE(w.hostCount(), 0);
    QCOMPARE(changed.count(), 4);
    QCOMPARE(changed.last().at(0).toInt(), 0);
}

void TstHostCpuCharts::localPoolShowsNothing()
{
    HostCpuCharts w;
    w.applySnapshot(twoHosts(kSec / 2, kSec / 2, kSec / 2));
    QCOMPARE(w.hostCount(), 2);
    QSignalSpy changed(&w, &HostCpuCharts::hostsChanged);
    Snapshot s;
    s.timeNs = kSec;
    s.poolKind = QStringLiteral("process");
    s.cpu = usage(kSec, {0.5, 0.5});
    s.cpuFresh = true;
    s.workers = {rank(0, QString(), -1)};
    // The Monitor keeps the previous MPI pool's host samples after it moved
    // to a local pool: no worker runs there, so no chart.
    s.hostCpu = twoHosts(kSec, kSec, kSec).hostCpu;
    w.applySnapshot(s);
    QCOMPARE(w.hostCount(), 0);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(changed.first().at(0).toInt(), 0);
}

void TstHostCpuCharts::coreSetChangeRebuildsTheChart()
{
    HostCpuCharts w;
    Snapshot s = twoHosts(kSec, kSec, kSec);
    w.applySnapshot(s);
    // nodeB brings a core online: five lines + total, values of the new sample.
    s.timeNs = 2 * kSec;
    s.hostCpu[QStringLiteral("nodeB")] = usage(2 * kSec, {0.1, 0.1, 0.1, 0.1, 0.6});
    w.applySnapshot(s);
    QCOMPARE(w.coreCount("nodeB"), 5);
    QCOMPARE(w.chart("nodeB")->lineCount(), 6);
    QCOMPARE(w.chart("nodeB")->barCount(), 5);
    QCOMPARE(w.chart("nodeB")->lastValue(4), 60.0);
    QCOMPARE(w.chart("nodeB")->pointCount(0), 1);
    QCOMPARE(w.coreCount("nodeA"), 2);
}

QTEST_MAIN(TstHostCpuCharts)
void TstHostCpuCharts::throughputCountsFinishedTasksOnly_data()
{
    QTest::addColumn<quint64>("succeeded");
    QTest::addColumn<quint64>("failed");
    QTest::addColumn<quint64>("cancelled");
    QTest::addColumn<double>("rate"); // tasks/s over the one second
    QTest::newRow("ran to an end") << quint64(300) << quint64(100) << quint64(0) << 400.0;
    QTest::newRow("a Stop cancels 5,000 queued")
        << quint64(300) << quint64(0) << quint64(5'000) << 300.0;
    QTest::newRow("only cancelled") << quint64(0) << quint64(0) << quint64(9'000) << 0.0;
}

void TstHostCpuCharts::throughputCountsFinishedTasksOnly()
{
    // The rate counts tasks that ran (succeeded or failed): cancelled ones
    // never ran, and must not show as a spike after Stop.
    QFETCH(quint64, succeeded);
    QFETCH(quint64, failed);
    QFETCH(quint64, cancelled);
    QFETCH(double, rate);
    ThroughputChart chart;
    Snapshot s;
    s.timeNs = 1'000'000'000;
    chart.applySnapshot(s);
    s.timeNs += 1'000'000'000;
    s.counters.succeeded = succeeded;
    s.counters.failed = failed;
    s.counters.cancelled = cancelled;
    chart.applySnapshot(s);
    QCOMPARE(chart.lastTasksPerSecond(), rate);
    QCOMPARE(chart.chart()->pointCount(0), 1);
}

#include "tst_hostcpucharts.moc"
