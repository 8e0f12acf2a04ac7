// Monitor: one batched snapshot per tick, exact counts, bounded detail.
#include <poolscope/monitor.h>
#include <poolscope/threadpool.h>

#include <QSignalSpy>
#include <QtTest>

#include <atomic>
#include <latch>
#include <thread>

using namespace poolscope;

namespace {
/// Posts `n` no-op tasks and waits until the pool is idle.
[[nodiscard]] bool postNoOpsAndWait(ThreadPoolExecutor& pool, int n)
{
    for (int i = 0; i < n; ++i)
        pool.post([] {});
    return pool.waitForIdle();
}
} // namespace

class TstMonitor : public QObject {
    Q_OBJECT
private slots:
    void countsExactWithTinyRings_data();
    void countsExactWithTinyRings();
    void scriptedSnapshot();
    void recordsCarryResultsAndErrors();
    void attachDetachUnderLoad();
    void historyIsBounded();
    void clearHistoryForgetsGoneWorkers();
    void detailSamplingKeepsCountsExact();
    void samplingFollowsTheRate();
    void samplingSetBeforeTheFirstTick();
    void detailBudgetBoundsTimedTasks_data();
    void detailBudgetBoundsTimedTasks();
    void recordSamplingThinsRecords();
    void burstBeforeTheFirstTickIsBounded_data();
    void burstBeforeTheFirstTickIsBounded();
    void recordBudgetWithoutSpanSampling_data();
    void recordBudgetWithoutSpanSampling();
    void oneSignalPerTick();
};

void TstMonitor::countsExactWithTinyRings_data()
{
    QTest::addColumn<int>("tasks");
    QTest::addColumn<int>("workers");
    QTest::newRow("1M on 2 workers") << 1'000'000 << 2;
    QTest::newRow("200k on 4 workers") << 200'000 << 4;
}

void TstMonitor::countsExactWithTinyRings()
{
    QFETCH(int, tasks);
    QFETCH(int, workers);
    ThreadPoolExecutor pool(workers);
    MonitorOptions o;
    o.intervalMs = 10;
    o.spanRing = 4; // deliberately tiny: detail must drop, counts must not
    o.records = false;
    Monitor mon(o);
    quint64 spansSeen = 0;
    connect(&mon, &Monitor::snapshotReady, this,
            [&](const Snapshot& s) { spansSeen += s.spans.size(); });
    mon.attach(&pool);
    std::atomic<int> ran{0};
    for (int i = 0; i < tasks; ++i)
        pool.post([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
    QTRY_COMPARE_WITH_TIMEOUT(mon.last().counters.succeeded, quint64(tasks), 60000);
    mon.tick(); // drain what the last timer tick left
    const Counters c = mon.last().counters;
    QCOMPARE(ran.load(), tasks);
    QCOMPARE(c.submitted, quint64(tasks));
    QCOMPARE(c.queued, quint64(0));
    QCOMPARE(c.running, quint64(0));
    QCOMPARE(c.failed, quint64(0));
    QVERIFY2(c.droppedEvents > 0, "tiny rings must have dropped detail");
    // Every task: its span seen, or dropped, or not timed (the detail
    // budget: no tick ran while the loop above submitted).
    QCOMPARE(spansSeen + c.droppedEvents + c.sampledOut, quint64(tasks));
}

void TstMonitor::scriptedSnapshot()
{
    ThreadPoolExecutor pool(ThreadPoolOptions{1, QStringLiteral("scripted"), {}, {}});
    Monitor mon;
    mon.attach(&pool);
    std::latch started(1), release(1);
    auto blocker = pool.submitWith({QStringLiteral("blocker"), 0}, [&](TaskContext& ctx) {
        ctx.setProgress(3, 10);
        started.count_down();
        release.wait();
        return 42;
    });
    started.wait();
    auto b = pool.submitWith({QStringLiteral("second"), 0}, [] { return 2; });
    auto c = pool.submitWith({QStringLiteral("third"), 0}, [] { return 3; });
    auto d = pool.submitWith({QStringLiteral("fourth"), 0}, [] { return 4; });

    const Snapshot& s = mon.tick();
    QCOMPARE(s.workers.size(), 1);
    const WorkerInfo& w = s.workers.first();
    QCOMPARE(w.state, WorkerState::Running);
    QCOMPARE(w.currentTask, blocker.id());
    QCOMPARE(NameTable::name(w.currentName), QStringLiteral("blocker"));
    QCOMPARE(w.name, QStringLiteral("scripted_0"));
    QVERIFY(qAbs(w.progress - 0.3) < 1e-9);
    QVERIFY(w.tid > 0);
    QCOMPARE(s.counters.queued, quint64(3));
    QCOMPARE(s.counters.running, quint64(1));
    QCOMPARE(s.queueHead.size(), 3);
    QCOMPARE(s.queueHead[0].id, b.id());
    QCOMPARE(s.queueHead[1].id, c.id());
    QCOMPARE(s.queueHead[2].id, d.id());
    QCOMPARE(NameTable::name(s.queueHead[0].nameId), QStringLiteral("second"));
    QVERIFY(s.queueHead[0].enqueueNs > 0);

    release.count_down();
    QCOMPARE(d.result(), 4);
    pool.waitForIdle();
    const Snapshot& s2 = mon.tick();
    QCOMPARE(s2.counters.succeeded, quint64(4));
    QCOMPARE(s2.queueHead.size(), 0);
    QCOMPARE(int(s2.spans.size()), 4);
    QCOMPARE(s2.spans.front().taskId, blocker.id());
    QCOMPARE(s2.spans.front().worker, 0);
    QVERIFY(s2.spans.front().endNs >= s2.spans.front().startNs);
    QVERIFY(s2.spans.front().startNs >= s2.spans.front().enqueueNs);
    QCOMPARE(s2.workers.first().state, WorkerState::Idle);
    QCOMPARE(s2.workers.first().tasksDone, quint64(4));
}

void TstMonitor::recordsCarryResultsAndErrors()
{
    ThreadPoolExecutor pool(2);
    Monitor mon;
    mon.attach(&pool);
    auto ok = pool.submitWith({QStringLiteral("answer"), 0}, [] { return 42; });
    auto bad = pool.submitWith({QStringLiteral("thrower"), 0},
                               []() -> int { throw std::runtime_error("bad input 7"); });
    ok.waitForDone();
    bad.waitForDone();
    QTRY_COMPARE(mon.recordHistory().size(), std::size_t(2));
    bool sawOk = false, sawBad = false;
    for (const auto& r : mon.recordHistory()) {
        if (r.span.taskId == ok.id()) {
            sawOk = true;
            QCOMPARE(r.span.status, TaskStatus::Succeeded);
            QCOMPARE(r.result.toInt(), 42);
            QVERIFY(r.span.cpuNs >= 0);
        } else if (r.span.taskId == bad.id()) {
            sawBad = true;
            QCOMPARE(r.span.status, TaskStatus::Failed);
            QVERIFY2(r.error.contains(QStringLiteral("std::runtime_error")), qPrintable(r.error));
            QVERIFY(r.error.contains(QStringLiteral("bad input 7")));
        }
    }
    QVERIFY(sawOk && sawBad);
}

void TstMonitor::attachDetachUnderLoad()
{
    ThreadPoolExecutor pool(3);
    Monitor mon;
    std::atomic<bool> stop{false};
    std::atomic<quint64> posted{0};
    std::thread producer([&] {
        while (!stop.load()) {
            for (int i = 0; i < 100; ++i)
                pool.post([] {});
            posted += 100;
        }
    });
    for (int i = 0; i < 60; ++i) {
        mon.attach(&pool);
        QCoreApplication::processEvents();
        mon.tick();
        mon.detach();
        if (i % 3 == 0)
            pool.setMaxWorkers(1 + i % 4);
    }
    stop = true;
    producer.join();
    QVERIFY(pool.waitForIdle());
    const Counters c = pool.counters();
    QCOMPARE(c.submitted, posted.load());
    QCOMPARE(c.succeeded, posted.load());
    QCOMPARE(c.queued + c.running, quint64(0));
}

void TstMonitor::clearHistoryForgetsGoneWorkers()
{
    // Run 1 on 4 workers, shrink to 1, clear, run 2: the trace of run 2 has
    // one lane, not four, and only run 2's spans.
    ThreadPoolExecutor pool(4);
    Monitor mon;
    mon.attach(&pool);
    std::latch all(4);
    std::vector<Future<void>> fs;
    for (int i = 0; i < 4; ++i) // each waits for the others: 4 workers busy
        fs.push_back(pool.submit([&all] { all.arrive_and_wait(); }));
    for (auto& f : fs)
        f.result();
    pool.setMaxWorkers(1);
    QTRY_COMPARE_WITH_TIMEOUT((mon.tick(), mon.last().workers.size()), qsizetype(1), 30000);
    QCOMPARE(mon.traceData().workers.size(), 4);
    mon.clearHistory();
    QCOMPARE(mon.spanHistory().size(), std::size_t(0));
    QCOMPARE(mon.traceData().workers.size(), 1); // the live one
    pool.submit([] {}).result();
    QTRY_COMPARE_WITH_TIMEOUT((mon.tick(), mon.spanHistory().size()), std::size_t(1), 30000);
    const TraceData t = mon.traceData();
    QCOMPARE(t.workers.size(), 1);
    QCOMPARE(t.spans.size(), std::size_t(1));
    QCOMPARE(t.spans.front().worker, t.workers.front().index);
}

void TstMonitor::detailSamplingKeepsCountsExact()
{
    // Detail for one task in 8: task ids are consecutive, so exactly 1 in 8
    // of a batch is timed; every other task is counted as sampled out.
    ThreadPoolExecutor pool(2);
    MonitorOptions o;
    o.maxSpansPerSecond = 0; // no automatic sampling: set it by hand
    Monitor mon(o);
    mon.attach(&pool);
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, pool.setDetailSampling(3));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, pool.setDetailSampling(0));
    pool.setDetailSampling(8);
    QCOMPARE(pool.detailSampling(), 8);
    std::vector<Future<int>> fs;
    for (int i = 0; i < 8000; ++i)
        fs.push_back(pool.submit([i] { return i; }));
    for (auto& f : fs)
        f.result();
    QVERIFY(pool.waitForIdle());
    QTRY_COMPARE_WITH_TIMEOUT((mon.tick(), mon.last().counters.succeeded), quint64(8000), 30000);
    const Counters c = mon.last().counters;
    QCOMPARE(c.sampledOut, quint64(7000));
    QCOMPARE(mon.spanHistory().size() + c.droppedEvents, quint64(1000));
    for (const auto& sp : mon.spanHistory()) {
        QVERIFY(sp.startNs > 0 && sp.endNs >= sp.startNs);
        QVERIFY(sp.enqueueNs > 0);
    }
    QCOMPARE(mon.last().detailSampling, 8);
    mon.detach();
    QCOMPARE(pool.detailSampling(), 1); // detaching restores full detail
}

void TstMonitor::samplingFollowsTheRate()
{
    // A budget of 1,000 spans/s: a burst of tasks far above it makes the
    // monitor sample; a quiet pool brings full detail back.
    ThreadPoolExecutor pool(2);
    MonitorOptions o;
    o.maxSpansPerSecond = 1000;
    o.intervalMs = 60'000; // ticks by hand only
    Monitor mon(o);
    mon.attach(&pool);
    mon.tick();
    QCOMPARE(mon.last().detailSampling, 1);
    for (int round = 0; round < 50 && mon.last().detailSampling == 1; ++round) {
        QVERIFY(postNoOpsAndWait(pool, 20'000));
        mon.tick();
    }
    QVERIFY2(mon.last().detailSampling > 1, qPrintable(QString::number(mon.last().tasksPerSecond)));
    QVERIFY(pool.detailSampling() > 1);
    // Nothing runs: the rate falls to 0 and detail comes back in full.
    QTRY_COMPARE_WITH_TIMEOUT((mon.tick(), mon.last().detailSampling), 1, 30000);
    pool.submit([] {}).result();
    QVERIFY(pool.waitForIdle());
    const quint64 spansBefore = mon.spanHistory().size();
    mon.tick();
    QCOMPARE(mon.spanHistory().size(), spansBefore + 1); // timed again
}

void TstMonitor::samplingSetBeforeTheFirstTick()
{
    // The first tick is a whole interval away (here a minute); the early
    // rate probes must already have raised the sampling for a burst.
    ThreadPoolExecutor pool(2);
    MonitorOptions o;
    o.maxSpansPerSecond = 1000;
    o.intervalMs = 60'000;
    Monitor mon(o);
    QSignalSpy ticks(&mon, &Monitor::snapshotReady);
    mon.attach(&pool);
    QCOMPARE(pool.detailSampling(), 1);
    for (int i = 0; i < 20'000; ++i)
        pool.post([] {});
    QTRY_VERIFY_WITH_TIMEOUT(pool.detailSampling() > 1, 5000);
    QCOMPARE(ticks.count(), 0); // the probes emit nothing
    QCOMPARE(mon.last().tick, quint64(0));
    // Tasks submitted from now on are sampled; counts stay exact.
    QVERIFY(postNoOpsAndWait(pool, 20'000));
    mon.tick();
    QCOMPARE(mon.last().counters.succeeded, quint64(40'000));
    QVERIFY(mon.last().counters.sampledOut >= 10'000);
}

void TstMonitor::detailBudgetBoundsTimedTasks_data()
{
    QTest::addColumn<int>("budget");
    QTest::addColumn<int>("recordBudget");
    QTest::addColumn<int>("tasks");
    QTest::newRow("100 of 5000, 40 records") << 100 << 40 << 5000;
    QTest::newRow("1 of 300, records unlimited") << 1 << 0 << 300;
    QTest::newRow("unlimited, 500 records") << 0 << 500 << 3000;
}

void TstMonitor::detailBudgetBoundsTimedTasks()
{
    // At most `budget` tasks are timed and `recordBudget` records kept
    // between two collects, whatever the sampling; the other tasks run
    // counted as sampled out, and every collect grants new budgets. One
    // submitting thread: the counts are exact.
    QFETCH(int, budget);
    QFETCH(int, recordBudget);
    QFETCH(int, tasks);
    ThreadPoolExecutor pool(2);
    MonitorOptions o;
    o.maxSpansPerSecond = 0; // no automatic sampling nor budgets: set by hand
    o.maxRecordsPerSecond = 0;
    o.intervalMs = 60'000; // ticks by hand only
    Monitor mon(o);
    mon.attach(&pool);
    pool.setDetailBudget(quint64(budget), quint64(recordBudget));
    const int timed = budget > 0 ? std::min(budget, tasks) : tasks;
    const int records = recordBudget > 0 ? std::min(recordBudget, timed) : timed;
    for (int round = 1; round <= 2; ++round) {
        QVERIFY(postNoOpsAndWait(pool, tasks));
        const Snapshot& s = mon.tick();
        QCOMPARE(s.counters.succeeded, quint64(round * tasks));
        QCOMPARE(s.counters.droppedEvents, quint64(0));
        QCOMPARE(int(s.spans.size()), timed);
        QCOMPARE(int(s.completed.size()), records);
        QCOMPARE(s.counters.sampledOut, quint64(round * (tasks - timed)));
    }
}

void TstMonitor::recordSamplingThinsRecords()
{
    // A record (texts, result, CPU time) for one timed task in N; every
    // timed task keeps its span. One worker: exactly one in N.
    ThreadPoolExecutor pool(1);
    MonitorOptions o;
    o.maxSpansPerSecond = 0;
    o.maxRecordsPerSecond = 0; // set by hand
    o.intervalMs = 60'000;
    Monitor mon(o);
    mon.attach(&pool);
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, pool.setRecordSampling(3));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, pool.setRecordSampling(0));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, pool.setRecordSampling(1 << 21));
    pool.setRecordSampling(4);
    QCOMPARE(pool.recordSampling(), 4);
    std::vector<Future<int>> fs;
    for (int i = 0; i < 400; ++i)
        fs.push_back(pool.submit([i] { return i; }));
    for (auto& f : fs)
        f.result();
    QVERIFY(pool.waitForIdle());
    const Snapshot& s = mon.tick();
    QCOMPARE(int(s.spans.size()), 400);
    QCOMPARE(s.completed.size(), 100);
    QCOMPARE(s.recordSampling, 4);
    QHash<quint64, int> resultOf;
    for (const auto& f : fs)
        resultOf.insert(f.id(), f.result());
    for (const auto& r : s.completed) {
        QVERIFY(r.span.cpuNs >= 0);
        QCOMPARE(r.result.toInt(), resultOf.value(r.span.taskId, -1));
    }
    mon.detach();
    QCOMPARE(pool.recordSampling(), 1); // detaching restores every record
}

void TstMonitor::burstBeforeTheFirstTickIsBounded_data()
{
    QTest::addColumn<int>("intervalMs");  // set after attach; 0 = the default 33
    QTest::addColumn<int>("firstBudget"); // until the first probe (2 ms) or tick
    QTest::addColumn<int>("tickBudget");  // per interval after it
    QTest::newRow("30 Hz") << 0 << 400 << 6600;
    QTest::newRow("100 Hz, set while attached") << 10 << 400 << 2000;
    QTest::newRow("1 ms, set while attached") << 1 << 200 << 200;
}

void TstMonitor::burstBeforeTheFirstTickIsBounded()
{
    // Default options: 100k spans/s. Until the first rate probe (2 ms after
    // attach) the budget is 2 x 100k x 2 ms = 400 timed tasks; from the
    // first probe or tick on, 2 x 100k x the interval (6,600 at 30 Hz). A
    // burst submitted before any probe or tick can run (no event loop turns
    // here) is timed up to the budget only: nothing overflows the rings,
    // counts stay exact. The first tick then sets a sampling for spans and
    // a thinner one for records.
    QFETCH(int, intervalMs);
    QFETCH(int, firstBudget);
    QFETCH(int, tickBudget);
    ThreadPoolExecutor pool(2);
    Monitor mon;
    mon.attach(&pool);
    if (intervalMs > 0)
        mon.setIntervalMs(intervalMs);
    const int n = 100'000;
    QVERIFY(postNoOpsAndWait(pool, n));
    const Snapshot& s = mon.tick();
    QCOMPARE(s.counters.succeeded, quint64(n));
    QCOMPARE(s.counters.droppedEvents, quint64(0));
    QCOMPARE(int(s.spans.size()), firstBudget);
    QCOMPARE(s.counters.sampledOut, quint64(n - firstBudget));
    QVERIFY2(s.recordSampling > 1, qPrintable(QString::number(s.tasksPerSecond)));

    // After the tick the interval's budget holds: a burst with twice as
    // many tasks as the sampling picks for it is timed up to that budget.
    const quint64 sampledOutBefore = s.counters.sampledOut;
    const int n2 = 2 * tickBudget * s.detailSampling;
    QVERIFY(postNoOpsAndWait(pool, n2));
    const Snapshot& s2 = mon.tick();
    QCOMPARE(s2.counters.succeeded, quint64(n + n2));
    QCOMPARE(s2.counters.droppedEvents, quint64(0));
    QCOMPARE(int(s2.spans.size()), tickBudget);
    QCOMPARE(s2.counters.sampledOut - sampledOutBefore, quint64(n2 - tickBudget));

    // A quiet pool brings every record back.
    QTRY_COMPARE_WITH_TIMEOUT((mon.tick(), mon.last().recordSampling), 1, 30000);
}

void TstMonitor::recordBudgetWithoutSpanSampling_data()
{
    QTest::addColumn<int>("intervalMs");
    QTest::addColumn<int>("records"); // 2 x 10k records/s x the interval
    QTest::newRow("30 Hz") << 33 << 660;
    QTest::newRow("100 Hz") << 10 << 200;
}

void TstMonitor::recordBudgetWithoutSpanSampling()
{
    // Every task timed (no span sampling, so no rate probes), records
    // limited: the first window lasts until the first tick, and its record
    // budget is the whole interval's.
    QFETCH(int, intervalMs);
    QFETCH(int, records);
    ThreadPoolExecutor pool(2);
    MonitorOptions o;
    o.maxSpansPerSecond = 0;
    o.intervalMs = intervalMs;
    Monitor mon(o);
    mon.attach(&pool);
    const int n = 5000;
    QVERIFY(postNoOpsAndWait(pool, n));
    const Snapshot& s = mon.tick();
    QCOMPARE(int(s.spans.size()), n);
    QCOMPARE(int(s.completed.size()), records);
}

void TstMonitor::historyIsBounded()
{
    ThreadPoolExecutor pool(2);
    MonitorOptions o;
    o.historySpans = 1000;
    o.records = false;
    o.maxSpansPerSecond = 0; // every task timed: 20x the history
    Monitor mon(o);
    mon.attach(&pool);
    for (int i = 0; i < 20'000; ++i)
        pool.post([] {});
    QTRY_COMPARE_WITH_TIMEOUT(mon.last().counters.succeeded, quint64(20'000), 30000);
    mon.tick();
    QVERIFY(mon.spanHistory().size() <= 1000);
    QVERIFY(mon.trimmedSpans() > 0);
    // Every span is retained, trimmed from history, or counted as dropped.
    QCOMPARE(mon.spanHistory().size() + mon.trimmedSpans() + mon.last().counters.droppedEvents
                 + mon.last().counters.sampledOut,
             quint64(20'000));
}

void TstMonitor::oneSignalPerTick()
{
    ThreadPoolExecutor pool(2);
    Monitor mon;
    QSignalSpy spy(&mon, &Monitor::snapshotReady);
    mon.attach(&pool);
    QVERIFY(postNoOpsAndWait(pool, 50'000));
    mon.tick();
    mon.tick();
    QCOMPARE(quint64(spy.count()), mon.last().tick); // exactly one emission per tick
    QVERIFY(spy.count() < 1000);                     // not one per task
}

QTEST_GUILESS_MAIN(TstMonitor)
#include "tst_monitor.moc"
