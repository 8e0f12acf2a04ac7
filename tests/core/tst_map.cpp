// ThreadPoolExecutor::map keeps Python's Executor.map contract
// (docs/library.md): results in submission order, a chunk runs as one task,
// the timeout
// counts from the call, remaining work is cancelled when a result raises or
// times out, and a bounded number of chunks is in flight (3.14's buffersize),
// so a huge input is never submitted all at once. Ported in spirit from
// CPython's Lib/test/test_concurrent_futures/executor.py (test_map*).

#include "testutil.h"

#include <poolscope/threadpool.h>

#include <QElapsedTimer>
#include <QtTest>

#include <atomic>
#include <memory>
#include <thread>

using namespace poolscope;
using namespace std::chrono_literals;
using tst::Arrivals;
using tst::Gate;

namespace {

struct ItemError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::vector<int> iota(int n)
{
    std::vector<int> v(std::size_t(std::max(0, n)));
    for (int i = 0; i < n; ++i)
        v[std::size_t(i)] = i;
    return v;
}

/// One flag per input item: how many times it ran.
struct RunCounts {
    explicit RunCounts(int n)
        : counts(std::size_t(n))
    {}
    std::vector<std::atomic<int>> counts;
    int total() const
    {
        int t = 0;
        for (const auto& c : counts)
            t += c.load();
        return t;
    }
};

} // namespace

class TstMap : public QObject {
    Q_OBJECT
private slots:
    void order_data();
    void order();
    void rangeFor();
    void movesInputsIn();
    void chunkRunsAsOneTask_data();
    void chunkRunsAsOneTask();
    void failureEndsChunkAndCancelsRest();
    void timeoutKeepsEarlierResults();
    void timeoutCountsFromCallAndCancelsRest();
    void generousTimeoutDoesNotFire();
    void destroyingIteratorCancelsPending();
    void maxInFlightBoundsSubmissions_data();
    void maxInFlightBoundsSubmissions();
    void hugeInputIsNotSubmittedAtOnce();
    void chunkSizeZeroRejected();
    void emptyInput_data();
    void emptyInput();
    void mapAfterShutdownThrows();
};

void TstMap::order_data()
{
    QTest::addColumn<int>("workers");
    QTest::addColumn<int>("chunkSize");
    QTest::addColumn<int>("maxInFlight");
    QTest::addColumn<int>("n");
    for (int workers : {1, 2, 4}) {
        for (int chunk : {1, 3, 7, 64}) {
            for (int inflight : {0, 2}) {
                QTest::addRow("w%d c%d b%d", workers, chunk, inflight)
                    << workers << chunk << inflight << 257;
            }
        }
    }
    QTest::newRow("one item") << 2 << 1 << 0 << 1;
    QTest::newRow("n == chunk") << 2 << 8 << 0 << 8;
    QTest::newRow("chunk > n") << 2 << 100 << 1 << 9;
}

void TstMap::order()
{
    QFETCH(int, workers);
    QFETCH(int, chunkSize);
    QFETCH(int, maxInFlight);
    QFETCH(int, n);
    ThreadPoolExecutor pool(workers);
    MapOptions o;
    o.chunkSize = std::size_t(chunkSize);
    o.maxInFlight = std::size_t(maxInFlight);
    // Uneven work so later chunks often finish before earlier ones.
    auto results = pool.map(
                           [](int x) {
                               if (x % 5 == 0)
                                   std::this_thread::sleep_for(100us); // simulated work
                               return qint64(x) * x + 1;
                           },
                           iota(n), o)
                       .toList();
    QCOMPARE(results.size(), std::size_t(n));
    for (int i = 0; i < n; ++i)
        QCOMPARE(results[std::size_t(i)], qint64(i) * i + 1);
    const quint64 chunks = quint64((n + chunkSize - 1) / chunkSize);
    QCOMPARE(pool.counters().submitted, chunks);
}

void TstMap::rangeFor()
{
    ThreadPoolExecutor pool(3);
    MapOptions o;
    o.chunkSize = 4;
    QStringList out;
    for (const QString& s : pool.map([](int x) { return QString::number(x, 16); }, iota(20), o))
        out << s;
    QCOMPARE(out.join(','), QStringLiteral("0,1,2,3,4,5,6,7,8,9,a,b,c,d,e,f,10,11,12,13"));
}

void TstMap::movesInputsIn()
{
    ThreadPoolExecutor pool(2);
    MapIterator<qsizetype> it = [&] {
        QStringList words{"a", "bb", "ccc", "dddd"};
        // The container dies here; the iterator owns its own copy.
        return pool.map([](const QString& w) { return w.size(); }, std::move(words));
    }();
    QCOMPARE(it.toList(), (std::vector<qsizetype>{1, 2, 3, 4}));
}

void TstMap::chunkRunsAsOneTask_data()
{
    QTest::addColumn<int>("chunkSize");
    QTest::addColumn<int>("n");
    QTest::newRow("4 of 10") << 4 << 10;
    QTest::newRow("1 of 5") << 1 << 5;
    QTest::newRow("10 of 10") << 10 << 10;
    QTest::newRow("3 of 100") << 3 << 100;
}

void TstMap::chunkRunsAsOneTask()
{
    QFETCH(int, chunkSize);
    QFETCH(int, n);
    ThreadPoolExecutor pool(4);
    MapOptions o;
    o.chunkSize = std::size_t(chunkSize);
    // Each item reports the thread it ran in: items of one chunk run one after
    // the other in one task, so they share a thread.
    auto threads = pool.map([](int) { return std::this_thread::get_id(); }, iota(n), o).toList();
    QCOMPARE(threads.size(), std::size_t(n));
    for (int i = 0; i < n; ++i) {
        const int first = i - i % chunkSize;
        QVERIFY(threads[std::size_t(i)] == threads[std::size_t(first)]);
    }
    const quint64 chunks = quint64((n + chunkSize - 1) / chunkSize);
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    const Counters c = pool.counters();
    QCOMPARE(c.submitted, chunks); // one task per chunk, not per item
    QCOMPARE(c.succeeded, chunks);
}

void TstMap::failureEndsChunkAndCancelsRest()
{
    // One worker. Chunk 0 runs first; chunk 1 raises at item 7 (items 8, 9 of
    // that chunk never run: the chunk is one task). Chunk 2 may start before
    // next() reports the error (then it holds the worker and finishes) or be
    // cancelled; chunks 3.. cannot start before chunk 2 ends, so they are
    // certainly pending when next() raises and must be cancelled.
    ThreadPoolExecutor pool(1);
    Gate hold;
    RunCounts runs(30);
    auto* counts = &runs;
    MapOptions o;
    o.chunkSize = 5;
    auto it = pool.map(
        [counts, hold](int x) {
            ++counts->counts[std::size_t(x)];
            if (x == 7)
                throw ItemError("item 7 failed");
            if (x == 10)
                hold.wait();
            return x * 10;
        },
        iota(30), o);
    std::vector<int> got;
    try {
        while (auto v = it.next())
            got.push_back(*v);
        QFAIL("the error was not raised");
    } catch (const ItemError& e) {
        QCOMPARE(QByteArray(e.what()), QByteArray("item 7 failed")); // type and text kept
    }
    QCOMPARE(got, (std::vector<int>{0, 10, 20, 30, 40})); // chunk 0 only
    QCOMPARE(it.inFlight(), std::size_t(0));
    QVERIFY(!it.next().has_value()); // ended for good, Python's generator is closed
    hold.open();
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    for (int x : {8, 9})
        QCOMPARE(runs.counts[std::size_t(x)].load(), 0);
    for (int x = 15; x < 30; ++x) // chunks 3..5 never ran
        QCOMPARE(runs.counts[std::size_t(x)].load(), 0);
    const bool chunk2Ran = runs.counts[10].load() == 1;
    for (int x = 11; x < 15; ++x) // a chunk runs whole or not at all
        QCOMPARE(runs.counts[std::size_t(x)].load(), chunk2Ran ? 1 : 0);
    const Counters c = pool.counters();
    QCOMPARE(c.submitted, quint64(6));
    QCOMPARE(c.failed, quint64(1));
    // A running chunk is not cancelled (Python's cancel() rule): it finishes.
    QCOMPARE(c.cancelled, quint64(chunk2Ran ? 3 : 4));
    QCOMPARE(c.succeeded, quint64(chunk2Ran ? 2 : 1));
}

void TstMap::timeoutKeepsEarlierResults()
{
    // Python's test_map_timeout: results before the slow one are delivered,
    // then TimeoutError.
    ThreadPoolExecutor pool(2);
    Gate hold;
    MapOptions o;
    o.timeout = 100ms;
    auto it = pool.map(
        [hold](int x) {
            if (x == 2)
                hold.wait();
            return x;
        },
        iota(3), o);
    std::vector<int> got;
    try {
        for (int v : it)
            got.push_back(v);
        QFAIL("no TimeoutError");
    } catch (const TimeoutError&) {
    }
    QCOMPARE(got, (std::vector<int>{0, 1}));
}

void TstMap::timeoutCountsFromCallAndCancelsRest()
{
    const auto timeout = 1000ms;
    ThreadPoolExecutor pool(1);
    ThreadPoolExecutor other(1);
    Gate hold;
    Arrivals started;
    RunCounts runs(8);
    auto* counts = &runs;
    MapOptions o;
    o.timeout = timeout;
    auto it = pool.map(
        [counts, hold, started](int x) {
            ++counts->counts[std::size_t(x)];
            if (x == 0) {
                started.arrive();
                hold.wait();
            }
            return x;
        },
        iota(8), o);
    const Deadline passed = Deadline::after(timeout);
    QVERIFY(started.waitFor(1));
    // Let the whole timeout pass before the first next() (a task simulating work).
    other
        .submit([passed] {
            while (!passed.expired())
                std::this_thread::sleep_for(5ms);
        })
        .result();
    QElapsedTimer timer;
    timer.start();
    QVERIFY_THROWS_EXCEPTION(TimeoutError, it.next());
    // Counted from next() it would have waited the whole timeout again.
    QVERIFY2(timer.elapsed() < 1000, qPrintable(QString::number(timer.elapsed())));
    // Pending items were cancelled at once; the running one goes on.
    const Counters mid = pool.counters();
    QCOMPARE(mid.cancelled, quint64(7));
    QCOMPARE(mid.running, quint64(1));
    hold.open();
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    QCOMPARE(runs.total(), 1);
    QCOMPARE(pool.counters().succeeded, quint64(1));
}

void TstMap::generousTimeoutDoesNotFire()
{
    ThreadPoolExecutor pool(2);
    MapOptions o;
    o.timeout = 60s;
    o.chunkSize = 2;
    QCOMPARE(pool.map([](int x) { return -x; }, iota(5), o).toList(),
             (std::vector<int>{0, -1, -2, -3, -4}));
}

void TstMap::destroyingIteratorCancelsPending()
{
    // Python's test_executor_map_current_future_cancel: closing the result
    // iterator early cancels what has not started.
    ThreadPoolExecutor pool(1);
    Gate hold;
    Arrivals started;
    RunCounts runs(6);
    auto* counts = &runs;
    {
        auto it = pool.map(
            [counts, hold, started](int x) {
                ++counts->counts[std::size_t(x)];
                if (x == 0) {
                    started.arrive();
                    hold.wait();
                }
                return x;
            },
            iota(6));
        QVERIFY(started.waitFor(1));
        QCOMPARE(pool.counters().submitted, quint64(6));
    } // iterator destroyed without being consumed
    QCOMPARE(pool.counters().cancelled, quint64(5));
    hold.open();
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    QCOMPARE(runs.total(), 1);
    QCOMPARE(pool.counters().succeeded, quint64(1));
}

void TstMap::maxInFlightBoundsSubmissions_data()
{
    QTest::addColumn<int>("maxInFlight");
    QTest::addColumn<int>("chunkSize");
    QTest::addColumn<int>("n");
    QTest::newRow("1 x 1") << 1 << 1 << 40;
    QTest::newRow("3 x 1") << 3 << 1 << 40;
    QTest::newRow("8 x 1") << 8 << 1 << 40;
    QTest::newRow("2 x 5") << 2 << 5 << 41;
    QTest::newRow("more than chunks") << 50 << 4 << 40;
}

void TstMap::maxInFlightBoundsSubmissions()
{
    // 3.14's buffersize: at most maxInFlight chunks submitted ahead of the
    // consumer; each consumed chunk lets one more in.
    QFETCH(int, maxInFlight);
    QFETCH(int, chunkSize);
    QFETCH(int, n);
    ThreadPoolExecutor pool(2);
    MapOptions o;
    o.maxInFlight = std::size_t(maxInFlight);
    o.chunkSize = std::size_t(chunkSize);
    const quint64 chunks = quint64((n + chunkSize - 1) / chunkSize);
    auto it = pool.map([](int x) { return x; }, iota(n), o);
    QCOMPARE(pool.counters().submitted, std::min<quint64>(chunks, quint64(maxInFlight)));
    // Let the submitted chunks finish: nothing more may be submitted meanwhile.
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    QCOMPARE(pool.counters().submitted, std::min<quint64>(chunks, quint64(maxInFlight)));
    int i = 0;
    while (auto v = it.next()) {
        QCOMPARE(*v, i);
        const quint64 chunkIndex = quint64(i / chunkSize);
        // Taking chunk k submits up to chunk k + maxInFlight.
        QCOMPARE(pool.counters().submitted,
                 std::min<quint64>(chunks, chunkIndex + 1 + quint64(maxInFlight)));
        QVERIFY(it.inFlight() <= std::size_t(maxInFlight));
        ++i;
    }
    QCOMPARE(i, n);
    QCOMPARE(pool.counters().submitted, chunks);
}

void TstMap::hugeInputIsNotSubmittedAtOnce()
{
    // Python users' complaint (docs/library.md): map over a huge input submits
    // everything. With maxInFlight it submits a handful.
    ThreadPoolExecutor pool(2);
    const int n = 2'000'000;
    MapOptions o;
    o.chunkSize = 1000;
    o.maxInFlight = 4;
    {
        auto it = pool.map([](int x) { return x + 1; }, iota(n), o);
        QCOMPARE(pool.counters().submitted, quint64(4));
        for (int i = 0; i < 2500; ++i) // two and a half chunks
            QCOMPARE(*it.next(), i + 1);
        QVERIFY(pool.counters().submitted <= 3 + 4);
    } // dropping the iterator cancels what is queued
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    const Counters c = pool.counters();
    QVERIFY(c.submitted <= 7);
    QCOMPARE(c.completed(), c.submitted);
    // Without a bound, Python's behaviour: every chunk is submitted at the call.
    ThreadPoolExecutor eager(2);
    MapOptions all;
    all.chunkSize = 1000;
    auto it2 = eager.map([](int x) { return x; }, iota(50'000), all);
    QCOMPARE(eager.counters().submitted, quint64(50));
}

void TstMap::chunkSizeZeroRejected()
{
    ThreadPoolExecutor pool(1);
    MapOptions o;
    o.chunkSize = 0;
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, pool.map([](int x) { return x; }, iota(3), o));
    QCOMPARE(pool.counters().submitted, quint64(0));
}

void TstMap::emptyInput_data()
{
    QTest::addColumn<int>("maxInFlight");
    QTest::newRow("unbounded") << 0;
    QTest::newRow("bounded") << 2;
}

void TstMap::emptyInput()
{
    QFETCH(int, maxInFlight);
    ThreadPoolExecutor pool(1);
    MapOptions o;
    o.maxInFlight = std::size_t(maxInFlight);
    o.timeout = 0ms; // nothing to wait for, so no TimeoutError
    auto it = pool.map([](int x) { return x; }, std::vector<int>{}, o);
    QVERIFY(!it.next().has_value());
    QVERIFY(it.begin() == it.end());
    QCOMPARE(pool.counters().submitted, quint64(0));
    QCOMPARE(pool.workerCount(), 0); // no thread started for nothing
}

void TstMap::mapAfterShutdownThrows()
{
    ThreadPoolExecutor pool(1);
    pool.shutdown();
    try {
        (void)pool.map([](int x) { return x; }, iota(3));
        QFAIL("map() after shutdown did not throw");
    } catch (const ShutdownError& e) {
        QCOMPARE(QByteArray(e.what()), QByteArray("cannot schedule new futures after shutdown"));
    }
}

QTEST_GUILESS_MAIN(TstMap)
#include "tst_map.moc"
