#include <poolscope/processpool.h>
#include <poolscope/waiting.h>
#include <poolscope/worker.h>

#include <QtTest>
#include <csignal>

using namespace poolscope;
using namespace std::chrono_literals;

static qint64 addInts(qint64 a, qint64 b)
{
    return a + b;
}
POOLSCOPE_TASK(addInts, "a + b");
static qint64 dieBySignal(qint64 sig)
{
    ::raise(int(sig));
    return 0;
}
POOLSCOPE_TASK(dieBySignal, "raise a signal");
static qint64 sleepForever(TaskContext&)
{
    for (;;)
        ::pause();
}
POOLSCOPE_TASK(sleepForever, "hang");

class TstProcessPoolSmoke : public QObject {
    Q_OBJECT
    ProcessPoolOptions opts(int n)
    {
        ProcessPoolOptions o;
        o.maxWorkers = n;
        o.workerProgram = QCoreApplication::applicationFilePath();
        return o;
    }
private slots:
    void roundTrip()
    {
        ProcessPoolExecutor pool(opts(2));
        auto f = pool.submit(&addInts, 2, 3);
        QCOMPARE(f.result(10s), qint64(5));
        std::vector<Future<qint64>> fs;
        for (int i = 0; i < 1000; ++i)
            fs.push_back(pool.submit(&addInts, i, i));
        for (int i = 0; i < 1000; ++i)
            QCOMPARE(fs[i].result(10s), qint64(2 * i));
    }
    void crashFailsOnlyItsTask()
    {
        ProcessPoolExecutor pool(opts(2));
        auto bad = pool.submit(&dieBySignal, qint64(SIGKILL));
        std::vector<Future<qint64>> fs;
        for (int i = 0; i < 50; ++i)
            fs.push_back(pool.submit(&addInts, i, 1));
        QVERIFY_THROWS_EXCEPTION(WorkerCrashed, bad.result(10s));
        try {
            bad.result();
        } catch (const WorkerCrashed& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains("SIGKILL"), e.what());
        }
        for (int i = 0; i < 50; ++i)
            QCOMPARE(fs[i].result(10s), qint64(i + 1));
    }
    void timeoutKills()
    {
        ProcessPoolExecutor pool(opts(1));
        TaskOptions t;
        t.timeout = 200ms;
        auto f = pool.submitWith(t, &sleepForever);
        QVERIFY_THROWS_EXCEPTION(TimeoutError, f.result(10s));
        QCOMPARE(pool.submit(&addInts, 1, 1).result(10s), qint64(2));
    }
};

int main(int argc, char** argv)
{
    if (poolscope::isWorkerInvocation(argc, argv))
        return poolscope::runWorker(argc, argv);
    QCoreApplication app(argc, argv);
    TstProcessPoolSmoke t;
    return QTest::qExec(&t, argc, argv);
}
#include "tst_processpool_smoke.moc"
