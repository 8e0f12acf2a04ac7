// The thread pool's lock-free submission path (TaskQueue's inbox, used by
// submit()/post() with the default priority and no name once every worker
// slot is filled). What it must keep from the locked path: FIFO order per
// submitter, priorities, exact counters, no lost wake-up of a sleeping
// worker, growth when maxWorkers is raised, and exactly-once outcomes when
// shutdown races submitters.
#include "testutil.h"

#include <poolscope/threadpool.h>

#include <QTest>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using namespace poolscope;
using namespace std::chrono_literals;
using tst::Arrivals;
using tst::Gate;
using tst::kGuard;

namespace {
/// Starts every worker of the pool (they start lazily, one per waiting
/// task) and lets them go idle again: the lock-free path is on from here.
bool fillEveryWorkerSlot(ThreadPoolExecutor& pool, int workers)
{
    {
        Gate gate;
        Arrivals in;
        for (int i = 0; i < workers; ++i)
            pool.post([gate, in] {
                in.arrive();
                gate.wait();
            });
        if (!in.waitFor(workers))
            return false;
    }
    return pool.waitForIdle(Deadline::after(kGuard)) && pool.workerCount() == workers;
}
} // namespace

class TstSubmission : public QObject {
    Q_OBJECT
private slots:
    void fifoPerSubmitter_data();
    void fifoPerSubmitter();
    void priorityStillWins();
    void sleepingWorkersAreWoken_data();
    void sleepingWorkersAreWoken();
    void raisingMaxWorkersServesTheInbox();
    void pausedPoolTakesLockFreePushes_data();
    void pausedPoolTakesLockFreePushes();
    void manySubmittersExactCounts();
    void shutdownRacesSubmitters_data();
    void shutdownRacesSubmitters();
};

void TstSubmission::fifoPerSubmitter_data()
{
    QTest::addColumn<int>("namedEvery"); // 0: none named (all lock-free)
    QTest::addColumn<bool>("usePost");
    QTest::newRow("submit, lock-free") << 0 << false;
    QTest::newRow("post, lock-free") << 0 << true;
    QTest::newRow("every 7th named (locked path)") << 7 << false;
    QTest::newRow("every 2nd named") << 2 << true;
}

void TstSubmission::fifoPerSubmitter()
{
    QFETCH(int, namedEvery);
    QFETCH(bool, usePost);
    ThreadPoolExecutor pool(1);
    Gate gate;
    Arrivals started;
    auto blocker = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
    });
    QVERIFY(started.waitFor(1)); // the one worker is busy: the rest queue up
    constexpr int n = 2000;
    std::mutex m;
    std::vector<int> order;
    std::vector<Future<void>> fs;
    for (int i = 0; i < n; ++i) {
        auto task = [&m, &order, i] {
            std::lock_guard lk(m);
            order.push_back(i);
        };
        const bool named = namedEvery > 0 && i % namedEvery == 0;
        const TaskOptions o = named ? TaskOptions(QStringLiteral("named")) : TaskOptions();
        if (usePost)
            pool.postWith(o, task);
        else
            fs.push_back(pool.submitWith(o, task));
    }
    QCOMPARE(pool.counters().queued, quint64(n));
    gate.open();
    QVERIFY(pool.waitForIdle(Deadline::after(kGuard)));
    QCOMPARE(int(order.size()), n);
    for (int i = 0; i < n; ++i)
        QCOMPARE(order[std::size_t(i)], i);
    for (auto& f : fs)
        QVERIFY(f.done());
}

void TstSubmission::priorityStillWins()
{
    // Lock-free pushes carry the default priority; a higher one submitted
    // after them still runs first, a lower one last.
    ThreadPoolExecutor pool(1);
    Gate gate;
    Arrivals started;
    auto blocker = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
    });
    QVERIFY(started.waitFor(1));
    std::mutex m;
    QStringList order;
    auto record = [&m, &order](const QString& what) {
        return [&m, &order, what] {
            std::lock_guard lk(m);
            order << what;
        };
    };
    for (int i = 0; i < 50; ++i)
        pool.post(record(QStringLiteral("normal")));
    TaskOptions low;
    low.priority = -1;
    pool.postWith(low, record(QStringLiteral("low")));
    TaskOptions high;
    high.priority = 5;
    pool.postWith(high, record(QStringLiteral("high")));
    for (int i = 0; i < 50; ++i)
        pool.post(record(QStringLiteral("normal")));
    gate.open();
    QVERIFY(pool.waitForIdle(Deadline::after(kGuard)));
    QCOMPARE(order.size(), 102);
    QCOMPARE(order.first(), QStringLiteral("high"));
    QCOMPARE(order.last(), QStringLiteral("low"));
}

void TstSubmission::sleepingWorkersAreWoken_data()
{
    QTest::addColumn<int>("workers");
    QTest::newRow("1 worker") << 1;
    QTest::newRow("2 workers") << 2;
    QTest::newRow("8 workers") << 8;
}

void TstSubmission::sleepingWorkersAreWoken()
{
    // The submitter pushes without the lock and then reads the sleeper
    // count; a worker counts itself and then looks at the inbox once more.
    // A lost wake-up would leave a task queued with every worker asleep:
    // each result below would then time out. Submits come at the moment
    // workers go to sleep (right after the previous task), and after pauses
    // long enough that they are asleep.
    QFETCH(int, workers);
    ThreadPoolExecutor pool(workers);
    QVERIFY(fillEveryWorkerSlot(pool, workers));
    for (int round = 0; round < 400; ++round) {
        if (round % 50 == 0)
            std::this_thread::sleep_for(20ms); // everyone asleep
        auto f = pool.submit([round] { return round; });
        QCOMPARE(f.result(10s), round);
    }
    const Counters c = pool.counters();
    QCOMPARE(c.succeeded, quint64(400 + workers));
    QCOMPARE(c.queued, quint64(0));
}

void TstSubmission::raisingMaxWorkersServesTheInbox()
{
    // A occupies the only worker and waits for B, which is pushed lock-free
    // behind it. Raising maxWorkers must start a worker for B (the pool
    // re-checks after the change), or A and B wait for each other for ever.
    ThreadPoolExecutor pool(1);
    Arrivals aRunning;
    std::shared_ptr<Future<int>> b = std::make_shared<Future<int>>();
    Gate bSubmitted;
    auto a = pool.submit([&pool, b, bSubmitted, aRunning] {
        aRunning.arrive();
        *b = pool.submit([] { return 7; });
        bSubmitted.open();
        return b->result(kGuard) + 1;
    });
    QVERIFY(aRunning.waitFor(1));
    QVERIFY(bSubmitted.waitFor(kGuard));
    QCOMPARE(pool.counters().queued, quint64(1));
    pool.setMaxWorkers(2);
    QCOMPARE(a.result(kGuard), 8);
    QCOMPARE(pool.workerCount(), 2);
}

void TstSubmission::pausedPoolTakesLockFreePushes_data()
{
    QTest::addColumn<int>("workers");
    QTest::newRow("1 worker") << 1;
    QTest::newRow("2 workers") << 2;
}

void TstSubmission::pausedPoolTakesLockFreePushes()
{
    QFETCH(int, workers);
    // Paused, with tasks in the rings and more arriving lock-free: a worker
    // used to find "inbox not empty" on every look without ever draining it
    // (the rings were not empty), and spun there holding the pool's lock.
    ThreadPoolExecutor pool(workers);
    QVERIFY(fillEveryWorkerSlot(pool, workers));
    pool.pause();
    std::atomic<int> ran{0};
    for (int i = 0; i < 100; ++i)
        pool.post([&ran] { ran.fetch_add(1); });
    // Every control call needs the lock: each must return.
    auto counters = std::async(std::launch::async, [&pool] { return pool.counters(); });
    QVERIFY(counters.wait_for(10s) == std::future_status::ready);
    QCOMPARE(counters.get().queued, quint64(100));
    QCOMPARE(ran.load(), 0);
    pool.step();
    QTRY_COMPARE_WITH_TIMEOUT(ran.load(), 1, 10000);
    for (int i = 0; i < 100; ++i)
        pool.post([&ran] { ran.fetch_add(1); });
    QCOMPARE(pool.counters().queued, quint64(199));
    pool.resume();
    QVERIFY(pool.waitForIdle(Deadline::after(kGuard)));
    QCOMPARE(ran.load(), 200);
}

void TstSubmission::manySubmittersExactCounts()
{
    // Four threads post and submit at full speed while a reader samples the
    // counters: queued never goes below zero (it would wrap to a huge
    // number), submitted never runs ahead of what the submitters did, and at
    // the end every task ran exactly once.
    ThreadPoolExecutor pool(2);
    constexpr int perThread = 50000;
    constexpr int threads = 4;
    std::unique_ptr<std::atomic<int>[]> runs(new std::atomic<int>[perThread * threads]);
    for (int i = 0; i < perThread * threads; ++i)
        runs[std::size_t(i)] = 0;
    std::atomic<quint64> pushed{0};
    std::atomic<bool> done{false};
    std::atomic<int> badSamples{0};
    std::thread reader([&] {
        while (!done.load()) {
            const quint64 before = pushed.load();
            const Counters c = pool.counters();
            const quint64 after = pushed.load();
            if (c.queued > quint64(perThread * threads) || c.submitted < before
                || c.submitted > after + threads)
                ++badSamples;
        }
    });
    std::vector<std::thread> submitters;
    for (int t = 0; t < threads; ++t) {
        submitters.emplace_back([&, t] {
            for (int i = 0; i < perThread; ++i) {
                const int id = t * perThread + i;
                auto task = [&runs, id] { runs[std::size_t(id)].fetch_add(1); };
                if (i % 2)
                    pool.post(task);
                else
                    pool.submit(task);
                pushed.fetch_add(1);
            }
        });
    }
    for (auto& s : submitters)
        s.join();
    QVERIFY(pool.waitForIdle(Deadline::after(kGuard)));
    done = true;
    reader.join();
    QCOMPARE(badSamples.load(), 0);
    for (int i = 0; i < perThread * threads; ++i)
        QCOMPARE(runs[std::size_t(i)].load(), 1);
    const Counters c = pool.counters();
    QCOMPARE(c.submitted, quint64(perThread * threads));
    QCOMPARE(c.succeeded, quint64(perThread * threads));
    QCOMPARE(c.queued, quint64(0));
    QCOMPARE(c.running, quint64(0));
}

void TstSubmission::shutdownRacesSubmitters_data()
{
    QTest::addColumn<bool>("cancelFutures");
    QTest::newRow("shutdown(wait)") << false;
    QTest::newRow("shutdown(wait, cancelFutures)") << true;
}

void TstSubmission::shutdownRacesSubmitters()
{
    // Submitters push lock-free while shutdown closes the inbox: each
    // submit either throws ShutdownError or returns a future that ends
    // exactly once, run or (cancelFutures) cancelled; none stays pending.
    QFETCH(bool, cancelFutures);
    ThreadPoolExecutor pool(2);
    QVERIFY(fillEveryWorkerSlot(pool, 2));
    std::atomic<int> ran{0}, refused{0};
    std::mutex m;
    std::vector<Future<void>> accepted;
    Arrivals ready;
    std::atomic<bool> go{false};
    std::vector<std::thread> submitters;
    for (int t = 0; t < 4; ++t) {
        submitters.emplace_back([&] {
            ready.arrive();
            while (!go.load()) {
            }
            for (;;) {
                try {
                    auto f = pool.submit([&ran] { ran.fetch_add(1); });
                    std::lock_guard lk(m);
                    accepted.push_back(f);
                } catch (const ShutdownError&) {
                    refused.fetch_add(1);
                    return;
                }
            }
        });
    }
    QVERIFY(ready.waitFor(4));
    go = true;
    std::this_thread::sleep_for(5ms); // let the submitters run ahead of the workers
    pool.shutdown(true, cancelFutures);
    for (auto& s : submitters)
        s.join();
    QCOMPARE(refused.load(), 4);
    int cancelled = 0, finished = 0;
    for (const auto& f : accepted) {
        QVERIFY(f.done());
        (f.cancelled() ? cancelled : finished) += 1;
    }
    QCOMPARE(finished, ran.load());
    QCOMPARE(cancelled + finished, int(accepted.size()));
    if (!cancelFutures)
        QCOMPARE(cancelled, 0);
    const Counters c = pool.counters();
    QCOMPARE(c.submitted, quint64(accepted.size() + 2));
    QCOMPARE(c.succeeded, quint64(finished + 2));
    QCOMPARE(c.cancelled, quint64(cancelled));
    QCOMPARE(c.queued, quint64(0));
}

QTEST_GUILESS_MAIN(TstSubmission)
#include "tst_submission.moc"
