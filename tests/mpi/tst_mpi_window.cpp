// The main window on a spawned MPI pool (offscreen; this program is a lone
// MPI process that spawns two poolscope-worker ranks): workers grouped by
// host and rank with the host and rank columns shown, one per-core chart for
// the ranks' host with this machine's cores, and back to the local views
// when the pool becomes a thread pool; the exported trace says where each
// rank ran.
#include "spawnhung.h"

#include <charts/chartadapter.h>
#include <charts/hostcpucharts.h>
#include <charts/percorechart.h>
#include <mainwindow.h>
#include <models/workersmodel.h>
#include <runcontroller.h>

#include <poolscope/cpusampler.h>
#include <poolscope/mpipool.h>
#include <poolscope/traceexport.h>

#include <QApplication>
#include <QFile>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

using namespace poolscope;

class TstMpiWindow : public QObject {
    Q_OBJECT
private slots:
    void windowGroupsRanksAndChartsTheirHost();
};

void TstMpiWindow::windowGroupsRanksAndChartsTheirHost()
{
    MainWindow::Options o;
    o.useSettings = false;
    MainWindow w(o);
    w.controller()->setWorkerProgram(QStringLiteral(POOLSCOPE_WORKER_PATH));
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    // A local pool first: no host columns, this machine's chart.
    QVERIFY(w.workersView()->isColumnHidden(WorkersModel::HostColumn));
    QCOMPARE(w.hostCpuCharts()->hostCount(), 0);

    RunSpec spec;
    spec.workload = QStringLiteral("primes");
    spec.run = Workloads::find(spec.workload)->defaultRun();
    spec.run.tasks = 24;
    spec.poolKind = QStringLiteral("mpi");
    spec.workers = 2;
    QSignalSpy finished(w.controller(), &RunController::runFinished);
    QSignalSpy errors(w.controller(), &RunController::error);
    const bool started = w.startSpec(spec);
    POOLSCOPE_SKIP_IF_SPAWN_HUNG(errors);
    QVERIFY(started);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QCOMPARE(finished.at(0).at(0).value<RunSummary>().succeeded, 24);

    // Workers: the two spawned ranks, on this host, in rank order, with the
    // host and rank columns shown.
    const QString host = mpi::hostName();
    WorkersModel* m = w.workersModel();
    QTRY_COMPARE_WITH_TIMEOUT(m->rowCount(), 2, 20000);
    QTRY_VERIFY_WITH_TIMEOUT(m->hasHosts(), 20000);
    QCOMPARE(m->hosts(), QStringList{host});
    QList<int> ranks;
    for (int r = 0; r < m->rowCount(); ++r) {
        QCOMPARE(m->index(r, WorkersModel::HostColumn).data().toString(), host);
        ranks << m->index(r, WorkersModel::RankColumn).data(WorkersModel::SortRole).toInt();
    }
    QVERIFY2(ranks.size() == 2 && ranks[0] >= 0 && ranks[0] < ranks[1],
             qPrintable(QStringLiteral("ranks %1, %2").arg(ranks.value(0)).arg(ranks.value(1))));
    QVERIFY(!w.workersView()->isColumnHidden(WorkersModel::HostColumn));
    QVERIFY(!w.workersView()->isColumnHidden(WorkersModel::RankColumn));

    // CPU: one chart, for this host, with this machine's cores (as many as
    // /proc/stat lists), the total line, a bar per core, and the ranks.
    HostCpuCharts* charts = w.hostCpuCharts();
    QTRY_COMPARE_WITH_TIMEOUT(charts->hostCount(), 1, 20000);
    QCOMPARE(charts->hosts(), QStringList{host});
    QFile stat(QStringLiteral("/proc/stat"));
    QVERIFY(stat.open(QIODevice::ReadOnly));
    const ProcStat ps = parseProcStat(stat.readAll());
    QVERIFY(ps.valid);
    QCOMPARE(charts->coreCount(host), int(ps.cores.size()));
    ChartAdapter* chart = charts->chart(host);
    QCOMPARE(chart->lineCount(), int(ps.cores.size()) + 1);
    QCOMPARE(chart->barCount(), int(ps.cores.size()));
    // Heartbeats every 500 ms: the chart grows while the ranks live.
    QTRY_VERIFY_WITH_TIMEOUT(chart->pointCount(0) >= 2, 20000);
    for (int c = 0; c <= int(ps.cores.size()); ++c) {
        const double v = chart->lastValue(c);
        QVERIFY2(v >= 0 && v <= 100, qPrintable(QString::number(v)));
    }
    QVERIFY2(charts->titleText(host).contains(
                 QStringLiteral("ranks %1, %2").arg(ranks[0]).arg(ranks[1])),
             qPrintable(charts->titleText(host)));
    QVERIFY(charts->isVisible());
    QVERIFY(!w.perCoreChart()->isVisible());
    QVERIFY2(w.statusText().contains(QStringLiteral("MPI pool")), qPrintable(w.statusText()));

    // File > Export trace: one track per rank, each saying its host and rank.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString tracePath = dir.filePath(QStringLiteral("mpi.json"));
    QVERIFY(w.exportTraceTo(tracePath));
    QFile traceFile(tracePath);
    QVERIFY(traceFile.open(QIODevice::ReadOnly));
    QString why;
    const auto trace = readChromeTrace(traceFile.readAll(), &why);
    QVERIFY2(trace, qPrintable(why));
    QCOMPARE(trace->poolKind, QStringLiteral("mpi"));
    QCOMPARE(trace->workers.size(), 2);
    QCOMPARE(trace->places.size(), 2);
    QList<int> traceRanks;
    for (const TraceWorker& tw : trace->workers) {
        QCOMPARE(trace->places.value(tw.index).host, host);
        traceRanks << trace->places.value(tw.index).rank;
        QCOMPARE(tw.name, QStringLiteral("%1/rank %2").arg(host).arg(traceRanks.last()));
    }
    std::sort(traceRanks.begin(), traceRanks.end());
    QCOMPARE(traceRanks, ranks);
    QCOMPARE(trace->size(), quint64(24));

    // Back to threads: the host views go, this machine's chart returns.
    RunSpec threads = spec;
    threads.poolKind = QStringLiteral("thread");
    threads.run.tasks = 4;
    QVERIFY(w.startSpec(threads));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 60000);
    QTRY_VERIFY_WITH_TIMEOUT(!m->hasHosts() && m->rowCount() > 0, 20000);
    QTRY_VERIFY(w.workersView()->isColumnHidden(WorkersModel::HostColumn));
    QCOMPARE(charts->hostCount(), 0);
    QVERIFY(!charts->isVisible());
    QVERIFY(w.perCoreChart()->isVisible());
}

QTEST_MAIN(TstMpiWindow)
#include "tst_mpi_window.moc"
