// HostCpuCharts (ui/charts), offscreen, fed scripted Snapshots of an MPI
// pool whose ranks run on two fake hosts: one chart per host in name order,
// one line per core plus the host's total, one bar per core, the values of
// the samples, a new point only per new sample, titles with ranks, hosts
// that leave, and nothing for local pools.

#include "charts/chartadapter.h"
#include "charts/hostcpucharts.h"
#include "charts/percorechart.h"
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
    void aRunIsFramed_data();
    void aRunIsFramed();
    void aFinishedRunStaysFramedWhileItsPointsAre();
    void rateWindowFitsTheRun_data();
    void rateWindowFitsTheRun();
    void framesAskedBeforeTheFirstSnapshot();
    void sparseCompletionsWidenTheRateWindow();
    void perCoreChartTakesEverySample();
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

// A snapshot drawn at 5 Hz carries the CPU samples taken at 10 Hz since
// the last one: the per-core chart plots each at its own time, the bars
// show the last.
void TstHostCpuCharts::perCoreChartTakesEverySample()
{
    PerCoreChart w;
    Snapshot s;
    s.poolKind = QStringLiteral("thread");
    s.timeNs = kSec;
    s.sinceStartNs = kSec;
    s.cpuSamples = {usage(kSec, {0.5, 0.5})};
    s.cpu = s.cpuSamples.last();
    s.cpuFresh = true;
    w.applySnapshot(s);
    QCOMPARE(w.chart()->pointCount(0), 1);
    s.timeNs = kSec + kSec / 5;
    s.cpuSamples = {usage(kSec + kSec / 10, {0.2, 0.4}), usage(kSec + kSec / 5, {0.9, 0.7})};
    s.cpu = s.cpuSamples.last();
    w.applySnapshot(s);
    QCOMPARE(w.chart()->pointCount(0), 3);
    QCOMPARE(w.chart()->pointCount(1), 3);
    QCOMPARE(w.chart()->lastValue(0), 90.0);
    QCOMPARE(w.chart()->lastValue(1), 70.0);
    QCOMPARE(w.chart()->barCount(), 2);
    QCOMPARE(w.chart()->barValue(0), 90.0);
    // nothing sampled since: no point
    s.timeNs += kSec / 5;
    s.cpuSamples.clear();
    s.cpuFresh = false;
    w.applySnapshot(s);
    QCOMPARE(w.chart()->pointCount(0), 3);
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

// Issue #15: a 5 s lesson run filled a twelfth of a rolling minute. The x
// axis frames the run: while it runs, to its expected length (or what has
// elapsed) in round steps; once ended, start to end; longer than the window,
// it rolls as before.
void TstHostCpuCharts::aRunIsFramed_data()
{
    QTest::addColumn<double>("start");
    QTest::addColumn<double>("end"); // < 0: running
    QTest::addColumn<double>("expected");
    QTest::addColumn<double>("now"); // last point
    QTest::addColumn<double>("lo");  // the axis, +- 0.01 s
    QTest::addColumn<double>("hi");
    // 5 s expected: 5.25 s in 1 s steps = 6 s, 2 % margins
    QTest::newRow("running, expected 5 s") << 10.0 << -1.0 << 5.0 << 11.0 << 9.88 << 16.12;
    // unknown length, 3 s elapsed: 3.3 s in 0.5 s steps = 3.5 s
    QTest::newRow("running, 3 s so far") << 10.0 << -1.0 << 0.0 << 13.0 << 9.93 << 13.57;
    QTest::newRow("running past its estimate") << 10.0 << -1.0 << 2.0 << 17.0 << 9.84 << 18.16;
    QTest::newRow("ended") << 10.0 << 15.0 << 5.0 << 20.0 << 9.9 << 15.1;
    QTest::newRow("starts at 0: no negative time") << 0.0 << 4.0 << 0.0 << 5.0 << 0.0 << 4.08;
    // 100 s does not fit the 60 s window: the rolling window
    QTest::newRow("longer than the window") << 10.0 << 110.0 << 0.0 << 111.0 << 51.0 << 111.0;
}

void TstHostCpuCharts::aRunIsFramed()
{
    QFETCH(double, start);
    QFETCH(double, end);
    QFETCH(double, expected);
    QFETCH(double, now);
    QFETCH(double, lo);
    QFETCH(double, hi);
    ChartAdapter chart;
    chart.addLine(QStringLiteral("x"));
    for (double t = 0; t <= now + 1e-9; t += 0.5)
        chart.appendPoints(t, {1.0});
    const QPointF rolling = chart.xRange();
    chart.setRunFrame({start, end, expected});
    QVERIFY(chart.runFrame().isSet());
    const QPointF r = chart.xRange();
    QVERIFY2(std::abs(r.x() - lo) < 0.011 && std::abs(r.y() - hi) < 0.011,
             qPrintable(QStringLiteral("%1..%2").arg(r.x()).arg(r.y())));
    chart.clearRunFrame(); // back to the rolling window
    QCOMPARE(chart.xRange(), rolling);
}

// After the run, idle samples keep coming: the run stays framed with its
// points (the rolling minute would have dropped them), until the most
// points a chart keeps pushes its start out; then the chart rolls again.
void TstHostCpuCharts::aFinishedRunStaysFramedWhileItsPointsAre()
{
    ChartAdapter chart;
    chart.setMaxPoints(300);
    chart.addLine(QStringLiteral("x"));
    chart.setRunFrame({2.0, 7.0, 0});
    double t = 0;
    for (; t < 100; t += 0.5) // 200 points: 93 s after the run
        chart.appendPoints(t, {1.0});
    QVERIFY(chart.runFrame().isSet());
    QCOMPARE(chart.xRange(), QPointF(1.9, 7.1));
    QCOMPARE(chart.pointCount(0), 197); // from the last point before the run (1.5 s) on
    for (; t < 200; t += 0.5)
        chart.appendPoints(t, {1.0});
    QVERIFY(!chart.runFrame().isSet()); // its start is gone: rolling
    QCOMPARE(chart.xRange(), QPointF(139.5, 199.5));
    QVERIFY(chart.pointCount(0) <= 300);
}

// The rate's window is a tenth of the expected run (0.25..1 s; 1 s when
// unknown), and a run's first window starts at the run: the idle second
// before it is not averaged in.
void TstHostCpuCharts::rateWindowFitsTheRun_data()
{
    QTest::addColumn<double>("expected");
    QTest::addColumn<qint64>("windowMs");
    QTest::newRow("unknown") << 0.0 << qint64(1000);
    QTest::newRow("5 s lesson run") << 5.0 << qint64(500);
    QTest::newRow("1 s") << 1.0 << qint64(250);
    QTest::newRow("a minute") << 60.0 << qint64(1000);
}

void TstHostCpuCharts::rateWindowFitsTheRun()
{
    QFETCH(double, expected);
    QFETCH(qint64, windowMs);
    ThroughputChart chart;
    Snapshot s;
    s.timeNs = 10 * kSec;
    chart.applySnapshot(s); // idle
    s.timeNs += 2 * kSec;
    chart.applySnapshot(s);
    const qint64 start = s.timeNs;
    chart.frameRun({start, -1, expected});
    QCOMPARE(chart.rateWindowNs(), windowMs * 1'000'000);
    QCOMPARE(chart.pointIntervalMs(), std::min<int>(200, int(windowMs / 4)));
    // 1,000 tasks/s from the start: every point says 1,000, none a ramp
    // from the idle time before it
    int points = chart.chart()->pointCount(0);
    for (int i = 1; i <= 20; ++i) {
        s.timeNs = start + i * kSec / 10;
        s.counters.succeeded = quint64(i) * 100;
        chart.applySnapshot(s);
        if (chart.chart()->pointCount(0) == points)
            continue; // between two points
        ++points;
        QVERIFY2(std::abs(chart.lastTasksPerSecond() - 1000.0) < 1.0,
                 qPrintable(QStringLiteral("%1 at %2").arg(chart.lastTasksPerSecond()).arg(i)));
    }
    QVERIFY(points >= 10);
    // the axis frames the run in the chart's seconds (time 0: the first snapshot)
    QVERIFY(chart.chart()->runFrame().isSet());
    QCOMPARE(chart.chart()->runFrame().startS, 2.0);
}

// A run may start before the chart's first snapshot (its time origin): the
// frame waits for it, on every kind of chart.
void TstHostCpuCharts::framesAskedBeforeTheFirstSnapshot()
{
    ThroughputChart tp;
    HostCpuCharts hosts;
    const ChartAdapter::RunWindowNs run{5 * kSec, 9 * kSec, 0};
    tp.frameRun(run);
    hosts.frameRun(run);
    QVERIFY(!tp.chart()->runFrame().isSet()); // no origin yet
    const Snapshot s = twoHosts(4 * kSec, 4 * kSec, 4 * kSec);
    tp.applySnapshot(s);
    hosts.applySnapshot(s);
    for (const ChartAdapter* c :
         {tp.chart(), hosts.chart(QStringLiteral("nodeA")), hosts.chart(QStringLiteral("nodeB"))}) {
        QVERIFY(c);
        QCOMPARE(c->runFrame().startS, 1.0);
        QCOMPARE(c->runFrame().endS, 5.0);
        QCOMPARE(c->xRange(), QPointF(0.92, 5.08));
    }
}

// Lesson 1 (20 tasks of ~0.35 s on 2 threads, 6 s paced) finishes 3 tasks a
// second: over its 0.5 s window the rate was a comb of 0, 2, 4 and 6. Fewer
// than kMinTasks in the window: it reaches back further (up to kWidenBy
// windows), and reads 3/s.
void TstHostCpuCharts::sparseCompletionsWidenTheRateWindow()
{
    ThroughputChart chart;
    Snapshot s;
    s.timeNs = 10 * kSec;
    chart.applySnapshot(s);
    const qint64 start = s.timeNs;
    chart.frameRun({start, -1, 5.0});
    QCOMPARE(chart.rateWindowNs(), kSec / 2);
    double lo = 1e9, hi = 0;
    int points = chart.chart()->pointCount(0);
    for (int ms = 50; ms <= 8000; ms += 50) { // a task ends every 1/3 s
        s.timeNs = start + qint64(ms) * 1'000'000;
        s.counters.succeeded = quint64(ms * 3 / 1000);
        chart.applySnapshot(s);
        if (chart.chart()->pointCount(0) == points)
            continue;
        ++points;
        if (ms >= 2500) { // past the widest window (4 x 0.5 s)
            lo = std::min(lo, chart.lastTasksPerSecond());
            hi = std::max(hi, chart.lastTasksPerSecond());
        }
    }
    QVERIFY2(lo >= 2.4 && hi <= 3.6, qPrintable(QStringLiteral("%1..%2 tasks/s").arg(lo).arg(hi)));
    // many finished tasks: the 0.5 s window itself (a step shows at once)
    for (int ms = 8050; ms <= 9000; ms += 50) {
        s.timeNs = start + qint64(ms) * 1'000'000;
        s.counters.succeeded += 500; // 10,000/s
        chart.applySnapshot(s);
    }
    QCOMPARE(qRound(chart.lastTasksPerSecond()), 10'000);
}

#include "tst_hostcpucharts.moc"
