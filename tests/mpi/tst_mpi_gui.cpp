// The MPI pool kind in the GUI, offscreen: the control bar offers it, the
// run controller spawns MPI ranks for it (this program is a lone MPI process:
// MPI_Comm_spawn of poolscope-worker), runs a workload to the end with the
// same results as threads, and the snapshots name every worker host/rank.
#include "spawnhung.h"

#include <controlbar.h>
#include <runcontroller.h>

#include <poolscope/mpipool.h>
#include <poolscope/threadpool.h>

#include <QApplication>
#include <QComboBox>
#include <QSignalSpy>
#include <QTest>

using namespace poolscope;

class TstMpiGui : public QObject {
    Q_OBJECT
private slots:
    void controlBarOffersMpi();
    void runOnMpiRanks();
    void refusedOnMpi_data();
    void refusedOnMpi();
    void spawnedPoolsOneAfterAnother();
    void loopbackModuleOnlyForTheJob();
};

void TstMpiGui::spawnedPoolsOneAfterAnother()
{
    // Each RunController spawns its own ranks; the process spawns one pool
    // after another (the window does when the pool kind goes MPI -> threads
    // -> MPI). The second pool used to lose frames after its 6th task: a
    // message the first pool's ranks sent while leaving stayed queued for
    // the intercommunicator's context id, which Open MPI gives the next
    // spawned pool (fixed by draining before MPI_Comm_disconnect).
    for (const int tasks : {6, 24, 24}) {
        RunController c;
        c.setWorkerProgram(QStringLiteral(POOLSCOPE_WORKER_PATH));
        QSignalSpy finished(&c, &RunController::runFinished);
        QSignalSpy errors(&c, &RunController::error);
        RunSpec spec;
        spec.workload = QStringLiteral("primes");
        spec.run = Workloads::find(spec.workload)->defaultRun();
        spec.run.tasks = tasks;
        spec.poolKind = QStringLiteral("mpi");
        spec.workers = 2;
        const bool started = c.start(spec) != 0;
        POOLSCOPE_SKIP_IF_SPAWN_HUNG(errors);
        QVERIFY(started);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
        QCOMPARE(errors.count(), 0);
        const RunSummary sum = finished.at(0).at(0).value<RunSummary>();
        QCOMPARE(sum.succeeded, tasks);
        QCOMPARE(sum.failed, 0);
    }
}

void TstMpiGui::loopbackModuleOnlyForTheJob()
{
    // A lone program spawning its ranks keeps Open MPI on loopback
    // (docs/scale-out.md, "Ports"): the module is preloaded into orted while
    // MPI starts, then LD_PRELOAD is put back, so what the program starts
    // later (a process pool's workers, a script) does not get it.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    QSKIP("the loopback bind() is not built under a sanitizer");
#endif
    RunController c;
    c.setWorkerProgram(QStringLiteral(POOLSCOPE_WORKER_PATH));
    QSignalSpy finished(&c, &RunController::runFinished);
    QSignalSpy errors(&c, &RunController::error);
    RunSpec spec;
    spec.workload = QStringLiteral("primes");
    spec.run = Workloads::find(spec.workload)->defaultRun();
    spec.run.tasks = 4;
    spec.poolKind = QStringLiteral("mpi");
    spec.workers = 2;
    const bool started = c.start(spec) != 0;
    POOLSCOPE_SKIP_IF_SPAWN_HUNG(errors);
    QVERIFY(started);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QCOMPARE(errors.count(), 0);
    // (this program's environment holds no such module of its own)
    QVERIFY2(!qgetenv("LD_PRELOAD").contains("libpoolscope-mpi-loopback"),
             qgetenv("LD_PRELOAD").constData());
    QCOMPARE(qgetenv("POOLSCOPE_MPI_LOOPBACK"), QByteArray("1")); // MPI was started here
}

void TstMpiGui::controlBarOffersMpi()
{
    ControlBar bar;
    const int i = bar.poolCombo()->findData(QStringLiteral("mpi"));
    QVERIFY(i >= 0);
    bar.poolCombo()->setCurrentIndex(i);
    QCOMPARE(bar.spec().poolKind, QStringLiteral("mpi"));
    QVERIFY(!bar.spec().gil); // the GIL is a thread-pool setting
}

void TstMpiGui::runOnMpiRanks()
{
    RunController c;
    c.setWorkerProgram(QStringLiteral(POOLSCOPE_WORKER_PATH));
    c.setCollectAllResults(true);
    QSignalSpy finished(&c, &RunController::runFinished);
    QSignalSpy results(&c, &RunController::resultsReady);
    QSignalSpy errors(&c, &RunController::error);
    RunSpec spec;
    spec.workload = QStringLiteral("primes");
    spec.run = Workloads::find(spec.workload)->defaultRun();
    spec.run.tasks = 6;
    spec.poolKind = QStringLiteral("mpi");
    spec.workers = 2;
    const bool started = c.start(spec) != 0;
    POOLSCOPE_SKIP_IF_SPAWN_HUNG(errors);
    QVERIFY(started);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
    QCOMPARE(errors.count(), 0);
    const RunSummary s = finished.at(0).at(0).value<RunSummary>();
    QCOMPARE(s.poolKind, QStringLiteral("mpi"));
    QCOMPARE(s.succeeded, 6);
    QCOMPARE(s.failed, 0);
    // The same numbers as a thread pool gives.
    QMap<quint64, QCborValue> got;
    for (const auto& args : results)
        for (const TaskResult& r : args.at(0).value<QList<TaskResult>>())
            got.insert(r.taskId, r.value);
    QCOMPARE(got.size(), 6);
    ThreadPoolExecutor threads(2);
    QList<QCborValue> expect;
    for (auto& f : Workloads::submit(threads, spec.workload, spec.run))
        expect << f.result();
    QCOMPARE(got.values(), expect);
    // Every worker is a rank with a host, named host/rank N.
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            const auto& ws = c.lastSnapshot().workers;
            if (ws.size() != 2)
                return false;
            for (const auto& w : ws)
                if (w.host != mpi::hostName() || w.rank < 0
                    || w.name != QStringLiteral("%1/rank %2").arg(w.host).arg(w.rank))
                    return false;
            return true;
        }(),
        20000);
}

void TstMpiGui::refusedOnMpi_data()
{
    QTest::addColumn<QString>("workload");
    QTest::addColumn<int>("timeoutMs");
    QTest::addColumn<QString>("because");
    QTest::newRow("crash kills a rank")
        << QStringLiteral("crash") << 0 << QStringLiteral("would kill an MPI rank");
    QTest::newRow("timeout") << QStringLiteral("primes") << 500
                             << QStringLiteral("timeouts are not available on the MPI pool");
}

void TstMpiGui::refusedOnMpi()
{
    QFETCH(QString, workload);
    QFETCH(int, timeoutMs);
    QFETCH(QString, because);
    RunController c;
    RunSpec spec;
    spec.workload = workload;
    spec.run = Workloads::find(workload)->defaultRun();
    spec.poolKind = QStringLiteral("mpi");
    spec.timeoutMs = timeoutMs;
    QVERIFY2(c.check(spec).contains(because), qPrintable(c.check(spec)));
    QSignalSpy errors(&c, &RunController::error);
    QCOMPARE(c.start(spec), 0u);
    QCOMPARE(errors.count(), 1);
}

QTEST_MAIN(TstMpiGui)
#include "tst_mpi_gui.moc"
