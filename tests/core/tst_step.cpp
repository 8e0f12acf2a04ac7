// Executor::step(): while paused, exactly one more task starts per step.
#include <poolscope/processpool.h>
#include <poolscope/threadpool.h>
#include <poolscope/worker.h>

#include <QtTest>

using namespace poolscope;
using namespace std::chrono_literals;

static qint64 twice(qint64 x)
{
    return 2 * x;
}
POOLSCOPE_TASK(twice, "2x");

class TstStep : public QObject {
    Q_OBJECT
private slots:
    void stepReleasesOneTask_data()
    {
        QTest::addColumn<bool>("processes");
        QTest::newRow("threads") << false;
        QTest::newRow("processes") << true;
    }
    void stepReleasesOneTask()
    {
        QFETCH(bool, processes);
        std::unique_ptr<Executor> ex;
        if (processes) {
            ProcessPoolOptions o;
            o.maxWorkers = 2;
            o.workerProgram = QCoreApplication::applicationFilePath();
            ex = std::make_unique<ProcessPoolExecutor>(o);
        } else {
            ex = std::make_unique<ThreadPoolExecutor>(2);
        }
        ex->pause();
        std::vector<Future<QCborValue>> fs;
        for (int i = 0; i < 3; ++i)
            fs.push_back(ex->submitNamed(QStringLiteral("twice"), {i}));
        QCOMPARE(ex->counters().queued, quint64(3));
        ex->step();
        QTRY_COMPARE_WITH_TIMEOUT(ex->counters().succeeded, quint64(1), 20000);
        QCOMPARE(ex->counters().queued, quint64(2));
        QCOMPARE(fs[0].result().toInteger(), 0); // FIFO: the first one went
        QVERIFY(!fs[1].done());
        ex->step();
        QTRY_COMPARE_WITH_TIMEOUT(ex->counters().succeeded, quint64(2), 20000);
        QCOMPARE(ex->counters().queued, quint64(1));
        ex->resume();
        QCOMPARE(fs[2].result(20s).toInteger(), 4);
        ex->step(); // not paused: no-op
        QCOMPARE(ex->counters().succeeded, quint64(3));
    }
};

int main(int argc, char** argv)
{
    if (isWorkerInvocation(argc, argv))
        return runWorker(argc, argv);
    QCoreApplication app(argc, argv);
    TstStep t;
    return QTest::qExec(&t, argc, argv);
}
#include "tst_step.moc"
