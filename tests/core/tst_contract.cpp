// The concurrent.futures contract through `Executor&`, one suite over every
// pool kind (issue #16): the same rows run on the thread pool and on the
// process pool, by registered task name, so a difference between the pools
// is a failing row, not a surprise. The deliberate differences from Python
// are listed in docs/library.md; nothing here is one of them.
//
// This binary is its own process-pool worker (worker.h). Built again with
// POOLSCOPE_CONTRACT_MPI as tests/mpi's tst_mpi_contract, it runs the same
// rows on the MPI pool (under mpirun: rank 0 tests, ranks 1-2 serve).
#ifdef POOLSCOPE_CONTRACT_MPI
#include "mpitest.h"
#endif
#include <poolscope/processpool.h>
#include <poolscope/threadpool.h>
#include <poolscope/waiting.h>
#include <poolscope/worker.h>

#include <QtTest>

#include <memory>
#include <stdexcept>
#include <thread>

using namespace poolscope;
using namespace std::chrono_literals;

static qint64 ctAdd(qint64 a, qint64 b)
{
    return a + b;
}
POOLSCOPE_TASK(ctAdd, "a + b (contract suite)");
static qint64 ctSleep(qint64 ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return ms;
}
POOLSCOPE_TASK(ctSleep, "sleeps ms (contract suite)");
static qint64 ctFailIfOdd(qint64 x)
{
    if (x % 2)
        throw std::invalid_argument("odd input " + std::to_string(x));
    return x;
}
POOLSCOPE_TASK(ctFailIfOdd, "throws std::invalid_argument for odd x (contract suite)");

using Fut = Future<QCborValue>;

class TstContract : public QObject {
    Q_OBJECT

    /// A pool of `kind` with n workers, all started. The process pool
    /// pipelines deeply (16), so its tasks "written ahead" are covered too.
    static std::unique_ptr<Executor> make(const QString& kind, int n)
    {
        if (kind == QLatin1String("thread"))
            return std::make_unique<ThreadPoolExecutor>(n);
#ifdef POOLSCOPE_CONTRACT_MPI
        if (kind == QLatin1String("mpi")) {
            MpiPoolOptions o;
            o.launch = MpiPoolOptions::Launch::Static;
            o.maxWorkers = n;
            o.pipelineDepth = 16;
            auto pool = std::make_unique<MpiPoolExecutor>(o);
            if (!pool->waitUntilReady(Deadline::after(30s)))
                qFatal("MPI pool not ready: %s", qPrintable(pool->brokenReason()));
            return pool;
        }
#endif
        ProcessPoolOptions o;
        o.maxWorkers = n;
        o.workerProgram = QCoreApplication::applicationFilePath();
        o.pipelineDepth = 16;
        o.terminateGrace = 300ms;
        auto pool = std::make_unique<ProcessPoolExecutor>(o);
        pool->prestart();
        if (!pool->waitUntilReady(Deadline::after(30s)))
            qFatal("process pool not ready: %s", qPrintable(pool->brokenReason()));
        return pool;
    }
    static Fut add(Executor& ex, qint64 a, qint64 b)
    {
        return ex.submitNamed("ctAdd", {a, b});
    }
    static Fut nap(Executor& ex, qint64 ms)
    {
        return ex.submitNamed("ctSleep", {ms});
    }
    static Fut odd(Executor& ex, qint64 x)
    {
        return ex.submitNamed("ctFailIfOdd", {x});
    }

    static QStringList kinds()
    {
#ifdef POOLSCOPE_CONTRACT_MPI
        return {QStringLiteral("mpi")};
#else
        return {QStringLiteral("thread"), QStringLiteral("process")};
#endif
    }
    static void pools()
    {
        QTest::addColumn<QString>("kind");
        for (const QString& k : kinds())
            QTest::newRow(qPrintable(k)) << k;
    }

private slots:
    void submitAndResult_data()
    {
        pools();
    }
    void submitAndResult()
    {
        QFETCH(QString, kind);
        auto ex = make(kind, 2);
        QCOMPARE(ex->kind(), kind);
        auto f = add(*ex, 40, 2);
        QCOMPARE(f.result(30s).toInteger(), qint64(42));
        QVERIFY(f.done());
        QVERIFY(!f.running());
        QVERIFY(!f.cancelled());
        QVERIFY(!f.cancel()); // finished: cannot be cancelled
        QCOMPARE(f.exception(), std::exception_ptr());
    }

    void exceptionKeepsTypeAndText_data()
    {
        pools();
    }
    void exceptionKeepsTypeAndText()
    {
        QFETCH(QString, kind);
        auto ex = make(kind, 2);
        auto f = odd(*ex, 3);
        try {
            f.result(30s);
            QFAIL("expected std::invalid_argument");
        } catch (const std::invalid_argument& e) {
            QCOMPARE(QString::fromUtf8(e.what()), QStringLiteral("odd input 3"));
        }
        QVERIFY(f.exception() != nullptr);
        QCOMPARE(odd(*ex, 4).result(30s).toInteger(), qint64(4));
    }

    void badNameFailsOneFuture_data()
    {
        pools();
    }
    void badNameFailsOneFuture()
    {
        QFETCH(QString, kind);
        auto ex = make(kind, 1);
        auto f = ex->submitNamed("noSuchTask", {1});
        QVERIFY(f.done());
        QVERIFY_THROWS_EXCEPTION(InvalidArgument, f.result());
        QCOMPARE(ex->counters().submitted, quint64(0)); // nothing was queued
    }

    void chunkResultsInOrder_data()
    {
        pools();
    }
    void chunkResultsInOrder()
    {
        // A chunk (map's chunksize) is one task; its value the results in order.
        QFETCH(QString, kind);
        auto ex = make(kind, 2);
        QList<QCborArray> items;
        for (qint64 i = 0; i < 50; ++i)
            items.append(QCborArray{i, 1});
        const QCborArray out = ex->submitNamedBatch("ctAdd", items).result(30s).toArray();
        QCOMPARE(out.size(), 50);
        for (qint64 i = 0; i < 50; ++i)
            QCOMPARE(out.at(i).toInteger(), i + 1);
        // One failure fails the whole chunk.
        auto bad = ex->submitNamedBatch("ctFailIfOdd", {QCborArray{2}, QCborArray{3}});
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, bad.result(30s));
    }

    void waitModes_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<int>("when");
        QTest::addColumn<int>("doneAtLeast");
        for (const QString& k : kinds()) {
            QTest::addRow("%s, FIRST_COMPLETED", qPrintable(k))
                << k << int(ReturnWhen::FirstCompleted) << 1;
            QTest::addRow("%s, FIRST_EXCEPTION", qPrintable(k))
                << k << int(ReturnWhen::FirstException) << 1;
            QTest::addRow("%s, ALL_COMPLETED", qPrintable(k))
                << k << int(ReturnWhen::AllCompleted) << 3;
        }
    }
    void waitModes()
    {
        QFETCH(QString, kind);
        QFETCH(int, when);
        QFETCH(int, doneAtLeast);
        auto ex = make(kind, 2);
        std::vector<Fut> fs{odd(*ex, 1), nap(*ex, 300), add(*ex, 1, 1)};
        const auto r = wait(fs, ReturnWhen(when), 30s);
        QVERIFY(int(r.done.size()) >= doneAtLeast);
        QCOMPARE(r.done.size() + r.notDone.size(), std::size_t(3));
        if (ReturnWhen(when) == ReturnWhen::FirstException) {
            bool sawError = false;
            for (const auto& f : r.done)
                sawError = sawError || f.exception() != nullptr;
            QVERIFY(sawError);
        }
        // A timeout returns, it does not throw.
        std::vector<Fut> slow{nap(*ex, 600)};
        const auto t = wait(slow, ReturnWhen::AllCompleted, 10ms);
        QCOMPARE(t.done.size(), std::size_t(0));
        QCOMPARE(t.notDone.size(), std::size_t(1));
    }

    void asCompletedOnceEachAndTimeout_data()
    {
        pools();
    }
    void asCompletedOnceEachAndTimeout()
    {
        QFETCH(QString, kind);
        auto ex = make(kind, 2);
        auto a = add(*ex, 1, 1);
        QVERIFY(a.waitForDone(30s));
        auto b = nap(*ex, 50);
        std::vector<Fut> fs{a, b, a, b}; // duplicates: each yielded once
        int n = 0;
        for (const auto& f : asCompleted(fs, 30s)) {
            QVERIFY(f.done());
            ++n;
        }
        QCOMPARE(n, 2);
        std::vector<Fut> slow{nap(*ex, 600)};
        auto it = asCompleted(slow, 20ms);
        QVERIFY_THROWS_EXCEPTION(TimeoutError, it.next());
    }

    void cancelPendingNotRunning_data()
    {
        pools();
    }
    void cancelPendingNotRunning()
    {
        // One worker busy; the rest PENDING (on the process pool: written
        // into the worker's pipe already). cancel() true for those, false for
        // the running one, as in Python.
        QFETCH(QString, kind);
        auto ex = make(kind, 1);
        auto head = nap(*ex, 400);
        std::vector<Fut> behind;
        for (int i = 0; i < 6; ++i)
            behind.push_back(add(*ex, i, 0));
        QTRY_VERIFY_WITH_TIMEOUT(head.running(), 30000);
        for (auto& f : behind) {
            QVERIFY(!f.running());
            QVERIFY(f.cancel());
            QVERIFY(f.cancelled());
            QVERIFY(f.done()); // a cancelled future is done at once
            QVERIFY_THROWS_EXCEPTION(CancelledError, f.result());
        }
        QVERIFY(!head.cancel());
        QCOMPARE(head.result(30s).toInteger(), qint64(400));
        QVERIFY(ex->waitForIdle(Deadline::after(30s)));
        const Counters c = ex->counters();
        QCOMPARE(c.submitted, quint64(7));
        QCOMPARE(c.succeeded, quint64(1));
        QCOMPARE(c.cancelled, quint64(6));
        QCOMPARE(c.queued + c.running, quint64(0));
    }

    void shutdownVariants_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<bool>("cancelFutures");
        for (const QString& k : kinds()) {
            QTest::addRow("%s, shutdown(wait=true)", qPrintable(k)) << k << false;
            QTest::addRow("%s, shutdown(wait=true, cancel_futures=true)", qPrintable(k))
                << k << true;
        }
    }
    void shutdownVariants()
    {
        QFETCH(QString, kind);
        QFETCH(bool, cancelFutures);
        auto ex = make(kind, 1);
        auto head = nap(*ex, 300);
        std::vector<Fut> behind;
        for (int i = 0; i < 5; ++i)
            behind.push_back(add(*ex, i, 1));
        QTRY_VERIFY_WITH_TIMEOUT(head.running(), 30000);
        ex->shutdown(/*wait=*/true, cancelFutures);
        QVERIFY(ex->isShutdown());
        QCOMPARE(head.result().toInteger(), qint64(300)); // a started task always finishes
        for (int i = 0; i < 5; ++i) {
            QVERIFY(behind[std::size_t(i)].done());
            if (cancelFutures)
                QVERIFY(behind[std::size_t(i)].cancelled());
            else
                QCOMPARE(behind[std::size_t(i)].result().toInteger(), qint64(i + 1));
        }
        QVERIFY_THROWS_EXCEPTION(ShutdownError, add(*ex, 1, 1));
        ex->shutdown(); // idempotent
        const Counters c = ex->counters();
        QCOMPARE(c.cancelled, cancelFutures ? quint64(5) : quint64(0));
        QCOMPARE(c.succeeded, cancelFutures ? quint64(1) : quint64(6));
    }

    void countersAddUp_data()
    {
        pools();
    }
    void countersAddUp()
    {
        QFETCH(QString, kind);
        auto ex = make(kind, 2);
        std::vector<Fut> fs;
        for (qint64 i = 0; i < 40; ++i)
            fs.push_back(odd(*ex, i));
        for (auto& f : fs)
            QVERIFY(f.waitForDone(30s));
        QVERIFY(ex->waitForIdle(Deadline::after(30s)));
        const Counters c = ex->counters();
        QCOMPARE(c.submitted, quint64(40));
        QCOMPARE(c.succeeded, quint64(20));
        QCOMPARE(c.failed, quint64(20));
        QCOMPARE(c.cancelled, quint64(0));
        QCOMPARE(c.queued, quint64(0));
        QCOMPARE(c.running, quint64(0));
    }
};

#ifdef POOLSCOPE_CONTRACT_MPI
POOLSCOPE_MPI_TEST_MAIN(TstContract)
#else
int main(int argc, char** argv)
{
    if (isWorkerInvocation(argc, argv))
        return runWorker(argc, argv);
    QCoreApplication app(argc, argv);
    TstContract t;
    return QTest::qExec(&t, argc, argv);
}
#endif
#include "tst_contract.moc"
