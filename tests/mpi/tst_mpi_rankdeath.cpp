// A worker rank dies mid-task. Run under `mpirun --enable-recovery -n 3`:
// without --enable-recovery Open MPI's mpirun ends the whole job when a rank
// dies (tst_mpi_cli checks what the CLI reports then). With it the master
// lives on: the task the rank held fails with RankLost naming the rank,
// every other task completes on the surviving rank, nothing that did not run
// is reported done, and later pools leave the dead rank out.
#include "mpitest.h"

#include <poolscope/monitor.h>

#include <QSet>

using namespace poolscope;
using namespace std::chrono_literals;

namespace {
constexpr auto kGuard = 60s;

QString errorOf(const Future<QCborValue>& f)
{
    return f.node()->error ? QString::fromStdString(describeException(f.node()->error)) : QString();
}
} // namespace

class TstMpiRankDeath : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void rankDiesMidTask_data();
    void rankDiesMidTask();
};

void TstMpiRankDeath::initTestCase()
{
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 3)
        QSKIP("run under mpirun --enable-recovery -n 3 (ctest does)");
}

void TstMpiRankDeath::rankDiesMidTask_data()
{
    // One row only: each row kills a rank, and a job has two to lose.
    QTest::addColumn<QString>("mode");
    QTest::newRow("segfault") << QStringLiteral("segfault");
}

void TstMpiRankDeath::rankDiesMidTask()
{
    QFETCH(QString, mode);
    QList<Future<QCborValue>> fs;
    {
        MpiPoolOptions o;
        o.heartbeatTimeout = 5000ms;
        MpiPoolExecutor pool(o);
        MonitorOptions mo;
        mo.intervalMs = 20;
        Monitor monitor(mo);
        monitor.attach(&pool);
        QVERIFY(pool.waitUntilReady(Deadline::after(kGuard)));
        // crash(index, every, mode, code, ms): task 2 kills its rank after
        // 300 ms; the others sleep 100 ms and return their index.
        for (qint64 i = 0; i < 10; ++i) {
            const qint64 every = i == 2 ? 1 : 1000;
            fs << pool.submitNamed(QStringLiteral("crash"),
                                   {i, every, mode, qint64(0), qint64(i == 2 ? 300 : 100)});
        }
        for (auto& f : fs)
            QVERIFY(f.waitForDone(kGuard));
        // The dying rank's task: RankLost, naming the rank, its host and why.
        const QString why = errorOf(fs[2]);
        QVERIFY2(why.startsWith(QStringLiteral("poolscope::RankLost: rank ")), qPrintable(why));
        QVERIFY2(why.contains(QStringLiteral(" on ") + mpi::hostName()), qPrintable(why));
        QVERIFY2(why.contains(QStringLiteral("died (its process is gone) while running task")),
                 qPrintable(why));
        // Everything else ran (tasks sent ahead to the dead rank went back to
        // the queue: it certainly never ran them) and says so truthfully.
        for (qint64 i = 0; i < 10; ++i) {
            if (i == 2)
                continue;
            QVERIFY2(!fs[i].node()->error, qPrintable(errorOf(fs[i])));
            QCOMPARE(fs[i].result().toInteger(), i);
        }
        const Counters c = pool.counters();
        QCOMPARE(c.succeeded, 9u);
        QCOMPARE(c.failed, 1u);
        QCOMPARE(c.queued + c.running, 0u);
        QVERIFY(!pool.isBroken());
        // The monitor shows the lost rank dead and the other alive.
        monitor.tick();
        QSet<WorkerState> states;
        for (const auto& wi : monitor.last().workers)
            states.insert(wi.state);
        QCOMPARE(states, (QSet<WorkerState>{WorkerState::Dead, WorkerState::Idle}));
        // The pool goes on with the survivor.
        QCOMPARE(pool.submitNamed(
                         QStringLiteral("crash"),
                         {qint64(0), qint64(1000), QStringLiteral("abort"), qint64(0), qint64(0)})
                     .result(kGuard)
                     .toInteger(),
                 0);
        QVERIFY(pool.workerPlaces().join(QLatin1Char(' ')).contains(QStringLiteral("lost")));
    }
    // A later pool leaves the dead rank out.
    MpiPoolExecutor next;
    QCOMPARE(next.maxWorkers(), 1);
    QCOMPARE(next.submitNamed(QStringLiteral("sleep"), {qint64(5)}).result(kGuard).toInteger(), 5);
}

POOLSCOPE_MPI_TEST_MAIN(TstMpiRankDeath)
#include "tst_mpi_rankdeath.moc"
