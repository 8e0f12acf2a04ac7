// ThreadPoolExecutor's life cycle keeps Python's ThreadPoolExecutor contract
// (docs/library.md): shutdown(wait, cancel_futures), submit after shutdown,
// the destructor as `with` exit, initializer failure (BrokenThreadPool),
// max_workers validation and default, thread_name_prefix, lazy thread start
// and saturation. Ported in spirit from CPython's
// Lib/test/test_concurrent_futures/test_shutdown.py, test_thread_pool.py and
// test_init.py.

#include "testutil.h"

#include <poolscope/threadpool.h>

#include <QDir>
#include <QFile>
#include <QtTest>

#include <atomic>
#include <climits>
#include <future>
#include <pthread.h>
#include <sched.h>
#include <thread>

using namespace poolscope;
using namespace std::chrono_literals;
using tst::Arrivals;
using tst::Gate;

namespace {

thread_local bool t_initialized = false;

QByteArray currentThreadName()
{
    char buf[64] = {};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    return QByteArray(buf);
}

QByteArrayList processThreadNames()
{
    QByteArrayList names;
    const QDir dir(QStringLiteral("/proc/self/task"));
    for (const QString& tid : dir.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        QFile f(dir.filePath(tid + QStringLiteral("/comm")));
        if (f.open(QIODevice::ReadOnly))
            names << f.readAll().trimmed();
    }
    return names;
}

int affinityCpus()
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return int(std::thread::hardware_concurrency());
    return CPU_COUNT(&set);
}

} // namespace

class TstShutdown : public QObject {
    Q_OBJECT
private slots:
    void shutdownIsIdempotent();
    void submitAfterShutdownThrows_data();
    void submitAfterShutdownThrows();
    void shutdownWaitRunsEverythingQueued();
    void shutdownNoWaitReturnsAtOnce();
    void cancelFuturesCancelsOnlyPending_data();
    void cancelFuturesCancelsOnlyPending();
    void cancelledCallbacksMayCallTheExecutor();
    void concurrentSubmitAndShutdown();
    void destructorWaitsForQueuedWork();
    void futuresOutliveThePool();
    void destroyGraceStopsRunningTasks();
    void initializerRunsInEachWorker();
    void initializerFailureBreaksPool_data();
    void initializerFailureBreaksPool();
    void invalidMaxWorkersRejected_data();
    void invalidMaxWorkersRejected();
    void maxWorkersBoundsAccepted();
    void defaultMaxWorkers();
    void threadNamePrefix_data();
    void threadNamePrefix();
    void threadsStartLazilyAndAreReused();
    void saturation();
    void allWorkersRunConcurrently_data();
    void allWorkersRunConcurrently();
};

void TstShutdown::shutdownIsIdempotent()
{
    ThreadPoolExecutor pool(2);
    auto f = pool.submit([] { return 1; });
    QVERIFY(!pool.isShutdown());
    pool.shutdown();
    QVERIFY(pool.isShutdown());
    QCOMPARE(f.result(), 1);
    pool.shutdown();
    pool.shutdown(false, true);
    pool.shutdown(true, true);
    QVERIFY(pool.isShutdown());
    QCOMPARE(pool.workerCount(), 0);
    QCOMPARE(pool.counters().succeeded, quint64(1));
    QCOMPARE(pool.counters().cancelled, quint64(0));
}

void TstShutdown::submitAfterShutdownThrows_data()
{
    QTest::addColumn<QString>("how");
    QTest::addColumn<bool>("wait");
    for (const char* how : {"submit", "submitWith", "post", "map"}) {
        QTest::addRow("%s after shutdown(wait)", how) << QString::fromLatin1(how) << true;
        QTest::addRow("%s after shutdown(no wait)", how) << QString::fromLatin1(how) << false;
    }
}

void TstShutdown::submitAfterShutdownThrows()
{
    // Python's test_run_after_shutdown: RuntimeError("cannot schedule new
    // futures after shutdown"), also while earlier work still runs.
    QFETCH(QString, how);
    QFETCH(bool, wait);
    ThreadPoolExecutor pool(1);
    Gate gate;
    auto running = pool.submit([gate] { gate.wait(); });
    if (!wait)
        pool.shutdown(false); // the task above still holds the worker
    else {
        gate.open();
        pool.shutdown(true);
    }
    try {
        if (how == "submit")
            pool.submit([] { return 1; });
        else if (how == "submitWith")
            pool.submitWith(TaskOptions{QStringLiteral("named"), 5}, [] { return 1; });
        else if (how == "post")
            pool.post([] {});
        else
            (void)pool.map([](int x) { return x; }, std::vector<int>{1, 2});
        QFAIL("no ShutdownError");
    } catch (const ShutdownError& e) {
        QCOMPARE(QByteArray(e.what()), QByteArray("cannot schedule new futures after shutdown"));
    }
    gate.open();
    running.result();
    QCOMPARE(pool.counters().submitted, quint64(1));
}

void TstShutdown::shutdownWaitRunsEverythingQueued()
{
    ThreadPoolExecutor pool(2);
    std::vector<Future<int>> fs;
    for (int i = 0; i < 40; ++i) {
        fs.push_back(pool.submit([i] {
            std::this_thread::sleep_for(200us); // simulated work
            return i;
        }));
    }
    pool.shutdown(true);
    // Returned only when everything ran: nothing cancelled, nothing left.
    for (int i = 0; i < 40; ++i) {
        TST_COMPARE_STATE(fs[std::size_t(i)], FutureState::Finished);
        QCOMPARE(fs[std::size_t(i)].result(0ms), i);
    }
    QCOMPARE(pool.workerCount(), 0);
    const Counters c = pool.counters();
    QCOMPARE(c.succeeded, quint64(40));
    QCOMPARE(c.queued, quint64(0));
    QCOMPARE(c.running, quint64(0));
}

void TstShutdown::shutdownNoWaitReturnsAtOnce()
{
    // Python's test_shutdown_no_wait / test_cancel_futures_wait_false without
    // cancel: returns at once, queued work still runs.
    ThreadPoolExecutor pool(1);
    Arrivals started;
    Gate gate;
    auto blocker = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
        return -1;
    });
    QVERIFY(started.waitFor(1));
    std::vector<Future<int>> queued;
    for (int i = 0; i < 5; ++i)
        queued.push_back(pool.submit([i] { return i; }));

    // Guarded: if shutdown(false) waited for the blocked task we would fail,
    // not hang.
    std::promise<void> returned;
    auto ret = returned.get_future();
    std::thread caller([&] {
        pool.shutdown(false);
        returned.set_value();
    });
    const bool atOnce = ret.wait_for(tst::kGuard) == std::future_status::ready;
    gate.open();
    caller.join();
    QVERIFY2(atOnce, "shutdown(wait=false) blocked on running work");

    QVERIFY(pool.isShutdown());
    for (int i = 0; i < 5; ++i)
        QCOMPARE(queued[std::size_t(i)].result(), i); // still ran, not cancelled
    QCOMPARE(blocker.result(), -1);
    QCOMPARE(pool.counters().cancelled, quint64(0));
}

void TstShutdown::cancelFuturesCancelsOnlyPending_data()
{
    QTest::addColumn<bool>("wait");
    QTest::newRow("wait") << true;
    QTest::newRow("no wait") << false;
}

void TstShutdown::cancelFuturesCancelsOnlyPending()
{
    // Python's test_cancel_futures / test_cancel_futures_wait_false.
    QFETCH(bool, wait);
    ThreadPoolExecutor pool(1);
    Arrivals started;
    Gate gate;
    auto blocker = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
        return 99;
    });
    QVERIFY(started.waitFor(1));
    auto ran = std::make_shared<std::atomic<int>>(0);
    std::vector<Future<int>> pending;
    for (int i = 0; i < 6; ++i)
        pending.push_back(pool.submit([ran, i] {
            ++*ran;
            return i;
        }));
    // With wait=true shutdown() blocks until the running task ends: release it
    // once the last pending future reports its cancellation.
    Arrivals cancelledSeen;
    pending.back().addDoneCallback([cancelledSeen](const Future<int>&) { cancelledSeen.arrive(); });
    std::thread releaser([&] {
        cancelledSeen.waitFor(1);
        gate.open();
    });
    pool.shutdown(wait, /*cancelFutures=*/true);
    releaser.join();
    for (const auto& f : pending) {
        QVERIFY(f.cancelled());
        QVERIFY_THROWS_EXCEPTION(CancelledError, f.result());
    }
    QCOMPARE(blocker.result(), 99); // the running one is not cancelled
    TST_COMPARE_STATE(blocker, FutureState::Finished);
    pool.shutdown(true);
    QCOMPARE(ran->load(), 0);
    const Counters c = pool.counters();
    QCOMPARE(c.cancelled, quint64(6));
    QCOMPARE(c.succeeded, quint64(1));
    QCOMPARE(c.completed(), c.submitted);
}

void TstShutdown::cancelledCallbacksMayCallTheExecutor()
{
    // A done callback of a future cancelled by shutdown(cancelFutures) (or
    // failed by a broken pool) may call back into the executor, e.g. a
    // pipeline stage that submits the next stage: it must get ShutdownError,
    // not a self-deadlock on the pool's lock.
    ThreadPoolExecutor pool(1);
    Arrivals started;
    Gate gate;
    auto blocker = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
    });
    QVERIFY(started.waitFor(1));
    auto f = pool.submit([] { return 1; });
    auto sawShutdownError = std::make_shared<std::atomic<bool>>(false);
    auto sawCounters = std::make_shared<std::atomic<quint64>>(0);
    f.addDoneCallback([&pool, sawShutdownError, sawCounters](const Future<int>&) {
        *sawCounters = pool.counters().submitted;
        try {
            pool.submit([] { return 2; });
        } catch (const ShutdownError&) {
            *sawShutdownError = true;
        }
    });
    std::promise<void> returned;
    auto ret = returned.get_future();
    std::thread caller([&] {
        pool.shutdown(false, true);
        returned.set_value();
    });
    const bool ok = ret.wait_for(tst::kGuard) == std::future_status::ready;
    if (!ok) {
        // Deadlocked: nothing sane is left to do in this process.
        qFatal("shutdown(cancelFutures) deadlocked in a done callback that used the executor");
    }
    caller.join();
    QVERIFY(f.cancelled());
    QVERIFY(sawShutdownError->load());
    QCOMPARE(sawCounters->load(), quint64(2));
    gate.open();
    blocker.result();
}

void TstShutdown::concurrentSubmitAndShutdown()
{
    // Python's test_shutdown_race_issue12456: every submit either throws
    // ShutdownError or returns a future that completes; none is lost.
    ThreadPoolExecutor pool(3);
    std::atomic<bool> go{false};
    std::atomic<int> accepted{0};
    std::atomic<int> refused{0};
    std::atomic<int> ran{0};
    std::mutex m;
    std::vector<Future<void>> fs;
    std::vector<std::thread> submitters;
    Arrivals ready;
    for (int t = 0; t < 4; ++t) {
        submitters.emplace_back([&] {
            ready.arrive();
            while (!go.load()) {
            }
            for (int i = 0; i < 2000; ++i) {
                try {
                    auto f = pool.submit([&ran] { ++ran; });
                    ++accepted;
                    std::lock_guard lk(m);
                    fs.push_back(f);
                } catch (const ShutdownError&) {
                    ++refused;
                }
            }
        });
    }
    QVERIFY(ready.waitFor(4));
    go = true;
    pool.shutdown(true);
    for (auto& t : submitters)
        t.join();
    QCOMPARE(accepted.load() + refused.load(), 8000);
    QCOMPARE(int(fs.size()), accepted.load());
    // Everything accepted ran (shutdown(wait) drains what was accepted before
    // it; a few accepted right before the flag flipped are drained too).
    pool.shutdown(true);
    for (const auto& f : fs)
        QVERIFY(f.done());
    QCOMPARE(ran.load(), accepted.load());
    QCOMPARE(pool.counters().submitted, quint64(accepted.load()));
}

void TstShutdown::destructorWaitsForQueuedWork()
{
    // Python's `with ThreadPoolExecutor() as e:` exit == shutdown(wait=True).
    std::atomic<int> ran{0};
    std::vector<Future<void>> fs;
    {
        ThreadPoolExecutor pool(2);
        for (int i = 0; i < 30; ++i)
            fs.push_back(pool.submit([&ran] {
                std::this_thread::sleep_for(300us); // simulated work
                ++ran;
            }));
    }
    QCOMPARE(ran.load(), 30);
    for (const auto& f : fs)
        TST_COMPARE_STATE(f, FutureState::Finished);
}

void TstShutdown::futuresOutliveThePool()
{
    Future<QString> f;
    Future<int> bad;
    {
        ThreadPoolExecutor pool(1);
        f = pool.submit([] { return QStringLiteral("still here"); });
        bad = pool.submit([]() -> int { throw std::logic_error("kept"); });
    }
    QCOMPARE(f.result(), QStringLiteral("still here"));
    QVERIFY_THROWS_EXCEPTION(std::logic_error, bad.result());
    QVERIFY(!f.cancel());
    QVERIFY(!f.requestStop());
    int calls = 0;
    f.addDoneCallback([&calls](const Future<QString>&) { ++calls; });
    QCOMPARE(calls, 1);
    QVERIFY(f.qfuture().isFinished());
}

void TstShutdown::destroyGraceStopsRunningTasks()
{
    // Beyond Python (docs/library.md): a destructor with a grace period asks
    // stuck tasks to stop instead of hanging forever.
    Future<int> f;
    Arrivals started;
    {
        ThreadPoolOptions o;
        o.maxWorkers = 1;
        o.destroyGrace = 100ms;
        ThreadPoolExecutor pool(o);
        f = pool.submit([started](TaskContext& ctx) {
            started.arrive();
            while (!ctx.stopRequested())
                std::this_thread::sleep_for(1ms); // a cooperative long task
            return 1;
        });
        QVERIFY(started.waitFor(1));
    }
    QVERIFY(f.waitForDone(tst::kGuard));
    QVERIFY(f.cancelled());
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.result());
}

void TstShutdown::initializerRunsInEachWorker()
{
    // Python's test_initializer (success case): the initializer ran in the
    // very thread that runs the task, once per worker.
    auto inits = std::make_shared<std::atomic<int>>(0);
    ThreadPoolOptions o;
    o.maxWorkers = 3;
    o.initializer = [inits] {
        t_initialized = true;
        ++*inits;
    };
    ThreadPoolExecutor pool(o);
    Gate gate;
    Arrivals started;
    std::vector<Future<bool>> fs;
    for (int i = 0; i < 3; ++i) // three at once: three workers
        fs.push_back(pool.submit([gate, started] {
            started.arrive();
            gate.wait();
            return t_initialized;
        }));
    QVERIFY(started.waitFor(3));
    gate.open();
    for (int i = 0; i < 20; ++i)
        fs.push_back(pool.submit([] { return t_initialized; }));
    for (auto& f : fs)
        QVERIFY(f.result());
    QCOMPARE(inits->load(), 3);
    QCOMPARE(pool.workerCount(), 3);
    QVERIFY(!t_initialized); // not in the test's thread
}

void TstShutdown::initializerFailureBreaksPool_data()
{
    QTest::addColumn<int>("workers");
    QTest::newRow("1 worker") << 1;
    QTest::newRow("3 workers") << 3;
}

void TstShutdown::initializerFailureBreaksPool()
{
    // Python's test_init failure case: pending futures fail with
    // BrokenExecutor (BrokenThreadPool), the pool reports it is broken, and
    // from then on submit() raises BrokenExecutor.
    QFETCH(int, workers);
    Gate release;
    ThreadPoolOptions o;
    o.maxWorkers = workers;
    o.initializer = [release] {
        release.wait(); // every task below is queued before any worker is ready
        throw std::runtime_error("error in initializer");
    };
    ThreadPoolExecutor pool(o);
    tst::GateOpener opener(release); // a failing test must not hang the destructor
    if (workers == 1)
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression("initializer failed.*error in initializer"));
    auto ran = std::make_shared<std::atomic<int>>(0);
    std::vector<Future<int>> fs;
    for (int i = 0; i < 5; ++i)
        fs.push_back(pool.submit([ran, i] {
            ++*ran;
            return i;
        }));
    QVERIFY(!pool.isBroken());
    QVERIFY(pool.brokenReason().isEmpty());
    release.open();
    for (auto& f : fs) {
        try {
            (void)f.result();
            QFAIL("a pending task ran on a broken pool");
        } catch (const BrokenExecutor& e) {
            QVERIFY2(QByteArray(e.what()).contains("error in initializer"), e.what());
        }
        TST_COMPARE_STATE(f, FutureState::Finished); // failed, not cancelled
    }
    QVERIFY(pool.isBroken());
    QVERIFY2(pool.brokenReason().contains(QStringLiteral("error in initializer")),
             qPrintable(pool.brokenReason()));
    QVERIFY_THROWS_EXCEPTION(BrokenExecutor, pool.submit([] { return 0; }));
    QVERIFY_THROWS_EXCEPTION(BrokenExecutor, pool.post([] {}));
    QCOMPARE(ran->load(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(pool.workerCount(), 0, 20000); // every worker left
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    const Counters c = pool.counters();
    QCOMPARE(c.submitted, quint64(5));
    QCOMPARE(c.failed, quint64(5));
    QCOMPARE(c.queued, quint64(0));
    QCOMPARE(c.running, quint64(0));
    pool.shutdown(true); // does not hang
    QVERIFY_THROWS_EXCEPTION(BrokenExecutor, pool.submit([] { return 0; }));
}

void TstShutdown::invalidMaxWorkersRejected_data()
{
    QTest::addColumn<int>("n");
    QTest::newRow("0") << 0;
    QTest::newRow("-1") << -1;
    QTest::newRow("INT_MIN") << INT_MIN;
    QTest::newRow("1025") << 1025;
    QTest::newRow("INT_MAX") << INT_MAX;
}

void TstShutdown::invalidMaxWorkersRejected()
{
    // Python's test_max_workers_negative: ValueError (here InvalidArgument).
    QFETCH(int, n);
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, ThreadPoolExecutor pool(n));
    ThreadPoolOptions o;
    o.maxWorkers = n;
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, ThreadPoolExecutor pool(o));
    ThreadPoolExecutor pool(3);
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, pool.setMaxWorkers(n));
    QCOMPARE(pool.maxWorkers(), 3);                      // unchanged
    QCOMPARE(pool.submit([] { return 4; }).result(), 4); // and still usable
}

void TstShutdown::maxWorkersBoundsAccepted()
{
    ThreadPoolExecutor one(1);
    QCOMPARE(one.maxWorkers(), 1);
    ThreadPoolExecutor many(Executor::maxWorkersLimit());
    QCOMPARE(many.maxWorkers(), 1024);
    QCOMPARE(many.workerCount(), 0); // threads start lazily, not 1024 at once
    many.setMaxWorkers(1);
    many.setMaxWorkers(1024);
    QCOMPARE(many.maxWorkers(), 1024);
}

void TstShutdown::defaultMaxWorkers()
{
    // Python 3.13: min(32, (os.process_cpu_count() or 1) + 4); the CPU count
    // honours this process's affinity mask, as os.process_cpu_count() does.
    const int expected = std::min(32, affinityCpus() + 4);
    QCOMPARE(ThreadPoolExecutor::defaultMaxWorkers(), expected);
    ThreadPoolExecutor pool;
    QCOMPARE(pool.maxWorkers(), expected);
    ThreadPoolExecutor withOptions(ThreadPoolOptions{});
    QCOMPARE(withOptions.maxWorkers(), expected);
}

void TstShutdown::threadNamePrefix_data()
{
    QTest::addColumn<QString>("prefix"); // empty: the default
    QTest::addColumn<QByteArray>("kernelName");
    QTest::addColumn<QString>("fullName");
    QTest::newRow("default") << QString() << QByteArray("poolscope_0") << "poolscope_0";
    QTest::newRow("short") << "io" << QByteArray("io_0") << "io_0";
    // Linux keeps 15 characters of a thread name.
    QTest::newRow("long") << "renderer_workers" << QByteArray("renderer_worker")
                          << "renderer_workers_0";
}

void TstShutdown::threadNamePrefix()
{
    QFETCH(QString, prefix);
    QFETCH(QByteArray, kernelName);
    QFETCH(QString, fullName);
    ThreadPoolOptions o;
    o.maxWorkers = 1;
    if (!prefix.isEmpty())
        o.threadNamePrefix = prefix;
    ThreadPoolExecutor pool(o);
    Arrivals started;
    Gate gate;
    auto f = pool.submit([gate, started] {
        const QByteArray name = currentThreadName();
        started.arrive();
        gate.wait();
        return name;
    });
    QVERIFY(started.waitFor(1));
    QVERIFY2(processThreadNames().contains(kernelName), processThreadNames().join(' ').constData());
    TelemetryBatch batch;
    pool.collectTelemetry(batch, 0);
    QCOMPARE(batch.workers.size(), qsizetype(1));
    QCOMPARE(batch.workers.front().name, fullName);
    gate.open();
    QCOMPARE(f.result(), kernelName);
}

void TstShutdown::threadsStartLazilyAndAreReused()
{
    // Python's test_idle_thread_reuse: sequential work keeps one thread.
    ThreadPoolExecutor pool(8);
    QCOMPARE(pool.workerCount(), 0);
    for (int i = 0; i < 5; ++i) {
        QCOMPARE(pool.submit([i] { return i * 2; }).result(), i * 2);
        // Idle = the worker is back waiting for work (under the pool's lock).
        QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    }
    QCOMPARE(pool.workerCount(), 1);
}

void TstShutdown::saturation()
{
    // Python's test_saturation: never more threads than max_workers.
    ThreadPoolExecutor pool(4);
    Gate gate;
    for (int i = 0; i < 4 * 5; ++i)
        pool.submit([gate] { gate.wait(); });
    QTRY_COMPARE_WITH_TIMEOUT(pool.counters().running, quint64(4), 20000);
    QCOMPARE(pool.workerCount(), 4);
    QCOMPARE(pool.counters().queued, quint64(16));
    gate.open();
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    QCOMPARE(pool.workerCount(), 4);
    QCOMPARE(pool.counters().succeeded, quint64(20));
}

void TstShutdown::allWorkersRunConcurrently_data()
{
    QTest::addColumn<int>("workers");
    QTest::newRow("2") << 2;
    QTest::newRow("4") << 4;
    QTest::newRow("8") << 8;
}

void TstShutdown::allWorkersRunConcurrently()
{
    // max_workers tasks submitted back to back all run at the same time, also
    // when one idle worker already exists: tasks that wait for each other (a
    // rendezvous) must not deadlock. The bad interleaving (two submits both
    // "using" the one sleeping worker, so the pool does not grow) is a race,
    // hence the rounds; each round starts from exactly one sleeping worker.
    QFETCH(int, workers);
    for (int round = 0; round < 25; ++round) {
        ThreadPoolExecutor pool(workers);
        pool.submit([] {}).result();
        QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard))); // one worker, asleep
        QCOMPARE(pool.workerCount(), 1);
        Arrivals here;
        std::vector<Future<bool>> fs;
        for (int i = 0; i < workers; ++i)
            fs.push_back(pool.submit([here, workers] {
                here.arrive();
                return here.waitFor(workers, 10s); // guard: a failure, not a hang
            }));
        for (auto& f : fs)
            QVERIFY2(f.result(), qPrintable(QStringLiteral("round %1").arg(round)));
        QCOMPARE(pool.workerCount(), workers);
    }
}

QTEST_GUILESS_MAIN(TstShutdown)
#include "tst_shutdown.moc"
