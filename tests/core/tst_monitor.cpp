// Monitor: one batched snapshot per tick, exact counts, every task recorded
// (up to the record limit, a stated sample past it).
#include <poolscope/monitor.h>
#include <poolscope/registry.h>
#include <poolscope/threadpool.h>

#include <QSignalSpy>
#include <QtTest>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

using namespace poolscope;

static qint64 monitorTestTwice(qint64 a)
{
    return 2 * a;
}
POOLSCOPE_TASK(monitorTestTwice, "2 * a");

namespace {
/// Posts `n` no-op tasks and waits until the pool is idle.
[[nodiscard]] bool postNoOpsAndWait(ThreadPoolExecutor& pool, int n)
{
    for (int i = 0; i < n; ++i)
        pool.post([] {});
    return pool.waitForIdle();
}

/// Every id in [first, first + n) exactly once among the record's rows.
bool everyIdOnce(const RunRecord& rec, quint64 first, quint64 n, QString* why)
{
    std::vector<quint8> seen(std::size_t(n), 0);
    for (quint64 r = 0; r < rec.size(); ++r) {
        const quint64 id = rec.taskId(r);
        if (id < first || id >= first + n) {
            *why = QStringLiteral("row %1 has id %2, outside the run").arg(r).arg(id);
            return false;
        }
        if (seen[std::size_t(id - first)]++) {
            *why = QStringLiteral("id %1 recorded twice").arg(id);
            return false;
        }
    }
    for (quint64 i = 0; i < n; ++i) {
        if (!seen[std::size_t(i)]) {
            *why = QStringLiteral("id %1 not recorded").arg(first + i);
            return false;
        }
    }
    return true;
}
/// Options of a Monitor the test ticks by hand (its timer never fires),
/// yielding rows to other voters or not.
MonitorOptions handTicked(bool yieldRows)
{
    MonitorOptions o;
    o.yieldRows = yieldRows;
    o.intervalMs = 60'000;
    return o;
}
} // namespace

class TstMonitor : public QObject {
    Q_OBJECT
private slots:
    void everyTaskRecorded_data();
    void everyTaskRecorded();
    void rowsAreConsistent();
    void timesAgreeWithTheMonotonicClock();
    void stagingFullLosesRowsNotCounts();
    void scriptedSnapshot();
    void recordsCarryResultsAndErrors();
    void recordsEveryKindOfResult_data();
    void recordsEveryKindOfResult();
    void cpuTimeOfLongTasksOnly();
    void cancelledAndBrokenTasksAreRecorded();
    void attachDetachUnderLoad();
    void recordLimitSamplesAndSaysSo();
    void baseSamplingFromTheOptions();
    void noRecordWithLimitZero();
    void yieldingMonitorLeavesRowsToTheOther_data();
    void yieldingMonitorLeavesRowsToTheOther();
    void yieldingMonitorLeavesGoneWorkersRows_data();
    void yieldingMonitorLeavesGoneWorkersRows();
    void destroyedMonitorTakesItsStagedRows();
    void startRunForgetsGoneWorkers();
    void pastRunsAreBounded();
    void oneSignalPerTick();
    void everyCpuSampleReachesASnapshot_data();
    void everyCpuSampleReachesASnapshot();
};

void TstMonitor::everyTaskRecorded_data()
{
    QTest::addColumn<int>("tasks");
    QTest::addColumn<int>("workers");
    QTest::addColumn<int>("intervalMs");
    QTest::newRow("1M on 2 workers") << 1'000'000 << 2 << 33;
    QTest::newRow("200k on 4 workers, 10 ms ticks") << 200'000 << 4 << 10;
    QTest::newRow("100 on 6 workers") << 100 << 6 << 33;
}

void TstMonitor::everyTaskRecorded()
{
    QFETCH(int, tasks);
    QFETCH(int, workers);
    QFETCH(int, intervalMs);
    ThreadPoolExecutor pool(workers);
    MonitorOptions o;
    o.intervalMs = intervalMs;
    Monitor mon(o);
    quint64 newRows = 0;
    connect(&mon, &Monitor::snapshotReady, this, [&](const Snapshot& s) { newRows += s.newRows; });
    mon.attach(&pool);
    for (int i = 0; i < tasks; ++i)
        pool.post([] {});
    QVERIFY(pool.waitForIdle());
    mon.tick();
    const Counters c = mon.last().counters;
    QCOMPARE(c.succeeded, quint64(tasks));
    QCOMPARE(c.droppedEvents, quint64(0));
    const RunRecord& rec = *mon.record();
    QCOMPARE(rec.size(), quint64(tasks));
    QCOMPARE(newRows, quint64(tasks)); // the snapshots announced each row once
    QVERIFY(rec.stats().complete());
    QCOMPARE(rec.totals().tasks, quint64(tasks));
    QCOMPARE(rec.totals().succeeded, quint64(tasks));
    QString why;
    QVERIFY2(everyIdOnce(rec, 1, quint64(tasks), &why), qPrintable(why));
    quint64 inLanes = 0;
    for (qint32 w : rec.workers()) {
        QVERIFY(w >= 0);
        inLanes += rec.laneRows(w)->size();
    }
    QCOMPARE(inLanes, rec.size());
    QCOMPARE(mon.last().recordStats.rows, quint64(tasks));
}

void TstMonitor::rowsAreConsistent()
{
    ThreadPoolExecutor pool(3);
    Monitor mon;
    mon.attach(&pool);
    QVERIFY(postNoOpsAndWait(pool, 50'000));
    mon.tick();
    const RunRecord& rec = *mon.record();
    QCOMPARE(rec.size(), quint64(50'000));
    for (qint32 w : rec.workers()) {
        // A worker runs one task at a time: its rows start in order and do
        // not overlap.
        qint64 prevEnd = 0;
        for (quint32 r : *rec.laneRows(w)) {
            const TaskSpan s = rec.span(r);
            QVERIFY(s.enqueueNs > 0);
            QVERIFY(s.enqueueNs <= s.startNs);
            QVERIFY(s.startNs <= s.endNs);
            QVERIFY2(s.startNs >= prevEnd - 1000, // ticks of two CPUs agree to ~0.1 us
                     qPrintable(QStringLiteral("row %1 starts before the last one ended").arg(r)));
            QVERIFY(s.core >= 0);
            // Tiny tasks: CPU time not measured (-1), unless recent tasks
            // ran long enough on average (under a sanitizer they may); then
            // it is a time the task could have used.
            if (s.cpuNs != -1)
                QVERIFY2(s.cpuNs >= 0 && s.cpuNs <= s.endNs - s.startNs + 1'000'000,
                         qPrintable(QString::number(s.cpuNs)));
            prevEnd = s.endNs;
        }
    }
}

void TstMonitor::timesAgreeWithTheMonotonicClock()
{
    // Each task notes CLOCK_MONOTONIC while it runs; its row's start and end
    // (TSC stamps converted by the Monitor, or monotonic ns) bracket it.
    ThreadPoolExecutor pool(2);
    Monitor mon;
    mon.attach(&pool);
    const int n = 200;
    std::vector<qint64> inside(n, 0);
    std::vector<Future<void>> fs;
    qint64 before = monotonicNs();
    for (int i = 0; i < n; ++i) {
        fs.push_back(pool.submit([&inside, i] {
            inside[std::size_t(i)] = monotonicNs();
            std::this_thread::sleep_for(std::chrono::microseconds(i % 7 == 0 ? 500 : 10));
        }));
        if (i % 50 == 49)
            mon.tick();
    }
    for (auto& f : fs)
        f.result();
    mon.tick();
    const RunRecord& rec = *mon.record();
    QCOMPARE(rec.size(), quint64(n));
    for (quint64 r = 0; r < rec.size(); ++r) {
        const TaskSpan s = rec.span(r);
        const qint64 t = inside[std::size_t(s.taskId - fs.front().id())];
        QVERIFY2(s.enqueueNs >= before - 5000, "submitted after the loop began");
        QVERIFY2(s.startNs <= t + 5000 && t <= s.endNs + 5000,
                 qPrintable(QStringLiteral("task %1: %2 not within [%3, %4]")
                                .arg(s.taskId)
                                .arg(t)
                                .arg(s.startNs)
                                .arg(s.endNs)));
    }
}

void TstMonitor::stagingFullLosesRowsNotCounts()
{
    // Staging too small for a burst between two ticks: rows are lost and
    // counted (RecordStats::lost, Counters::droppedEvents); counts stay exact
    // and nothing else is lost.
    ThreadPoolExecutor pool(2);
    MonitorOptions o;
    o.intervalMs = 60'000; // no tick while the burst runs
    o.stagingRows = 1024;
    Monitor mon(o);
    mon.attach(&pool);
    const int tasks = 100'000;
    QVERIFY(postNoOpsAndWait(pool, tasks));
    mon.tick();
    const Counters c = mon.last().counters;
    const RecordStats st = mon.record()->stats();
    QCOMPARE(c.succeeded, quint64(tasks));
    QVERIFY2(st.lost > 0, "a tiny staging must have lost rows");
    QCOMPARE(st.rows + st.lost, quint64(tasks));
    QCOMPARE(c.droppedEvents, st.lost);
    QVERIFY(!st.complete());
    QVERIFY2(mon.record()->samplingNote().contains(QStringLiteral("not recorded")),
             qPrintable(mon.record()->samplingNote()));
    QVERIFY(st.rows <= quint64(3 * 1024)); // two workers' staging and the side writer
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
    QCOMPARE(s2.newRows, quint64(4));
    const TaskSpan first = s2.record->span(0);
    QCOMPARE(first.taskId, blocker.id());
    QCOMPARE(first.worker, 0);
    QVERIFY(first.endNs >= first.startNs);
    QVERIFY(first.startNs >= first.enqueueNs);
    QCOMPARE(NameTable::name(s2.record->span(3).nameId), QStringLiteral("fourth"));
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
    auto named = pool.submitNamed(QStringLiteral("monitorTestTwice"), QCborArray{7});
    ok.waitForDone();
    bad.waitForDone();
    named.waitForDone();
    QTRY_COMPARE((mon.tick(), mon.record()->size()), quint64(3));
    const RunRecord& rec = *mon.record();
    bool sawOk = false, sawBad = false, sawNamed = false;
    for (quint64 r = 0; r < rec.size(); ++r) {
        const TaskRecord t = rec.record(r);
        if (t.span.taskId == ok.id()) {
            sawOk = true;
            QCOMPARE(t.span.status, TaskStatus::Succeeded);
            QCOMPARE(t.result.toInt(), 42);
        } else if (t.span.taskId == bad.id()) {
            sawBad = true;
            QCOMPARE(t.span.status, TaskStatus::Failed);
            QVERIFY2(t.error.contains(QStringLiteral("std::runtime_error")), qPrintable(t.error));
            QVERIFY(t.error.contains(QStringLiteral("bad input 7")));
        } else if (t.span.taskId == named.id()) {
            sawNamed = true;
            QVERIFY2(t.args.contains(QStringLiteral("7")), qPrintable(t.args));
            QCOMPARE(t.result.toString(), QStringLiteral("14"));
        }
    }
    QVERIFY(sawOk && sawBad && sawNamed);
}

void TstMonitor::recordsEveryKindOfResult_data()
{
    // Scalars go to the record's value column without a QVariant (a row per
    // task, millions a second); the rest through resultVariant() as text.
    QTest::addColumn<int>("kind");
    QTest::addColumn<QVariant>("expected");
    QTest::addRow("int") << 0 << QVariant(qint64(-7));
    QTest::addRow("unsigned") << 1 << QVariant(quint64(4'000'000'000u));
    QTest::addRow("int64") << 2 << QVariant(qint64(-(qint64(1) << 40)));
    QTest::addRow("double") << 3 << QVariant(2.5);
    QTest::addRow("float") << 4 << QVariant(0.25);
    QTest::addRow("bool") << 5 << QVariant(true);
    QTest::addRow("char") << 6 << QVariant(qint64('A'));
    QTest::addRow("QString") << 7 << QVariant(QStringLiteral("text"));
    QTest::addRow("void") << 8 << QVariant();
    QTest::addRow("not a cheap type") << 9 << QVariant();
}

void TstMonitor::recordsEveryKindOfResult()
{
    QFETCH(int, kind);
    QFETCH(QVariant, expected);
    ThreadPoolExecutor pool(1);
    Monitor mon;
    mon.attach(&pool);
    quint64 id = 0;
    auto run = [&](auto fn) {
        auto f = pool.submit(fn);
        f.waitForDone();
        id = f.id();
    };
    switch (kind) {
    case 0:
        run([] { return -7; });
        break;
    case 1:
        run([] { return 4'000'000'000u; });
        break;
    case 2:
        run([] { return -(qint64(1) << 40); });
        break;
    case 3:
        run([] { return 2.5; });
        break;
    case 4:
        run([] { return 0.25f; });
        break;
    case 5:
        run([] { return true; });
        break;
    case 6:
        run([] { return 'A'; });
        break;
    case 7:
        run([] { return QStringLiteral("text"); });
        break;
    case 8:
        run([] {});
        break;
    default:
        run([] { return std::vector<int>{1, 2}; });
        break;
    }
    QTRY_COMPARE((mon.tick(), mon.record()->size()), quint64(1));
    const TaskRecord t = mon.record()->record(0);
    QCOMPARE(t.span.taskId, id);
    QCOMPARE(t.result.isValid(), expected.isValid());
    if (expected.isValid()) {
        QCOMPARE(t.result.toString(), expected.toString());
        QCOMPARE(t.result, expected);
    }
}

void TstMonitor::cpuTimeOfLongTasksOnly()
{
    // CPU time costs two ~2 us system calls: measured only on workers whose
    // recent tasks ran >= 0.1 ms. A run of 2 ms busy tasks gets it (all but
    // the first few, while the worker's average climbs), no-ops do not.
    ThreadPoolExecutor pool(1);
    Monitor mon;
    mon.attach(&pool);
    std::vector<Future<void>> fs;
    for (int i = 0; i < 20; ++i) {
        fs.push_back(pool.submit([] {
            const qint64 until = monotonicNs() + 2'000'000;
            volatile quint64 x = 0;
            while (monotonicNs() < until)
                x = x + 1;
        }));
    }
    for (auto& f : fs)
        f.result();
    QVERIFY(postNoOpsAndWait(pool, 200));
    mon.tick();
    const RunRecord& rec = *mon.record();
    QCOMPARE(rec.size(), quint64(220));
    int measured = 0;
    for (quint64 r = 0; r < 20; ++r) {
        const qint64 cpu = rec.cpuNs(r);
        if (cpu >= 0) {
            ++measured;
            QVERIFY2(cpu <= rec.endNs(r) - rec.startNs(r) + 1'000'000,
                     "CPU time within the task's wall time");
        }
    }
    QVERIFY2(measured >= 15, qPrintable(QStringLiteral("%1 of 20 measured").arg(measured)));
    int tinyMeasured = 0;
    for (quint64 r = 60; r < 220; ++r) // the average has fallen by then (~23 tasks)
        tinyMeasured += rec.cpuNs(r) >= 0 ? 1 : 0;
    QCOMPARE(tinyMeasured, 0);
    QVERIFY(rec.totals().cpuTasks >= quint64(measured));
}

void TstMonitor::cancelledAndBrokenTasksAreRecorded()
{
    // Tasks cancelled while queued (by their future, by shutdown) end
    // without a worker; they are rows too, so rows == counters.
    ThreadPoolExecutor pool(1);
    Monitor mon;
    mon.attach(&pool);
    std::latch started(1), release(1);
    auto blocker = pool.submit([&] {
        started.count_down();
        release.wait();
    });
    started.wait();
    std::vector<Future<int>> queued;
    for (int i = 0; i < 10; ++i)
        queued.push_back(pool.submit([i] { return i; }));
    for (int i = 0; i < 3; ++i)
        QVERIFY(queued[std::size_t(i)].cancel());
    release.count_down();
    blocker.result();
    pool.shutdown(true, true); // cancels whatever is still queued
    mon.tick();
    const Counters c = mon.last().counters;
    const RunRecord& rec = *mon.record();
    QCOMPARE(rec.size(), c.completed());
    QCOMPARE(rec.size(), quint64(11));
    quint64 neverStarted = 0;
    for (quint64 r = 0; r < rec.size(); ++r) {
        if (!rec.started(r)) {
            ++neverStarted;
            QCOMPARE(rec.worker(r), -1);
            QCOMPARE(rec.status(r), TaskStatus::Cancelled);
            QCOMPARE(rec.endNs(r), rec.startNs(r));
            QVERIFY(rec.submitNs(r) > 0);
        }
    }
    QVERIFY(neverStarted >= 3);
    QCOMPARE(rec.totals().cancelled, c.cancelled);
    QCOMPARE(rec.totals().neverStarted, neverStarted);
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

void TstMonitor::recordLimitSamplesAndSaysSo()
{
    ThreadPoolExecutor pool(2);
    MonitorOptions o;
    o.recordLimit = 10'000;
    Monitor mon(o);
    mon.attach(&pool);
    const int tasks = 100'000;
    const quint64 first = pool.counters().submitted + 1;
    QVERIFY(postNoOpsAndWait(pool, tasks));
    mon.tick();
    const RunRecord& rec = *mon.record();
    QCOMPARE(mon.last().counters.succeeded, quint64(tasks)); // counts never sampled
    QCOMPARE(rec.sampling(), quint64(16));
    QCOMPARE(rec.size(), quint64(tasks / 16));
    for (quint64 r = 0; r < rec.size(); ++r)
        QCOMPARE(rec.taskId(r) % 16, quint64(0));
    QCOMPARE(rec.totals().tasks, quint64(tasks));
    QCOMPARE(rec.samplingNote(), QStringLiteral("sample: 1 in 16 of 100,000 tasks"));
    QCOMPARE(mon.last().recordStats.sampling, quint64(16));
    QVERIFY(first >= 1);
}

void TstMonitor::baseSamplingFromTheOptions()
{
    ThreadPoolExecutor pool(2);
    MonitorOptions o;
    o.recordSampling = 10;
    Monitor mon(o);
    mon.attach(&pool);
    QVERIFY(postNoOpsAndWait(pool, 1000));
    mon.tick();
    QCOMPARE(mon.record()->size(), quint64(100));
    QCOMPARE(mon.record()->sampling(), quint64(10));
    QVERIFY(mon.record()->samplingNote().startsWith(QStringLiteral("sample: 1 in 10 of 1,000")));
}

void TstMonitor::noRecordWithLimitZero()
{
    // recordLimit 0: counters and worker states only; the pool stamps nothing.
    ThreadPoolExecutor pool(2);
    MonitorOptions o;
    o.recordLimit = 0;
    Monitor mon(o);
    mon.attach(&pool);
    QVERIFY(postNoOpsAndWait(pool, 1000));
    mon.tick();
    QCOMPARE(mon.last().counters.succeeded, quint64(1000));
    QCOMPARE(mon.record()->size(), quint64(0));
    QCOMPARE(mon.record()->stats().seen, quint64(0));
}

void TstMonitor::yieldingMonitorLeavesRowsToTheOther_data()
{
    QTest::addColumn<bool>("otherFirst");
    QTest::newRow("the other Monitor attached first") << true;
    QTest::newRow("the other Monitor attached later") << false;
}

void TstMonitor::yieldingMonitorLeavesRowsToTheOther()
{
    // MonitorOptions::yieldRows (an attach publisher's Monitor): while
    // another Monitor of the pool records, it takes no row, so the other
    // gets every one; alone again, it takes rows again.
    QFETCH(bool, otherFirst);
    ThreadPoolExecutor pool(2);
    Monitor yielder(handTicked(true));
    Monitor other(handTicked(false));
    auto batch = [&pool](int n) {
        std::vector<quint64> ids;
        for (int i = 0; i < n; ++i)
            ids.push_back(pool.submit([] { return 0; }).id());
        return ids;
    };
    if (otherFirst)
        other.attach(&pool);
    yielder.attach(&pool);
    if (!otherFirst) {
        batch(500);
        QVERIFY(pool.waitForIdle());
        yielder.tick();
        QCOMPARE(yielder.record()->size(), quint64(500));
        QVERIFY(!yielder.yieldingRows());
        other.attach(&pool);
    }
    const quint64 yielderRows = yielder.record()->size();
    // The yielder ticks (and drains) while the tasks run.
    std::vector<quint64> ids;
    for (int round = 0; round < 20; ++round) {
        const auto some = batch(50);
        ids.insert(ids.end(), some.begin(), some.end());
        yielder.tick();
    }
    QVERIFY(pool.waitForIdle());
    yielder.tick();
    QVERIFY(yielder.yieldingRows());
    QCOMPARE(yielder.record()->size(), yielderRows);
    other.tick();
    QString why;
    QVERIFY2(everyIdOnce(*other.record(), ids.front(), ids.size(), &why), qPrintable(why));
    QCOMPARE(pool.recordingVotes(), 2);

    other.detach(); // alone again
    batch(300);
    QVERIFY(pool.waitForIdle());
    yielder.tick();
    QVERIFY(!yielder.yieldingRows());
    QCOMPARE(yielder.record()->size(), yielderRows + 300);

    // Its vote given back (an attach publisher's row budget): nothing is
    // staged for it any more, and it says it does not want recording.
    yielder.setRecordingWanted(false);
    QVERIFY(!yielder.recordingWanted());
    QCOMPARE(pool.recordingVotes(), 0);
    batch(100);
    QVERIFY(pool.waitForIdle());
    yielder.tick();
    QCOMPARE(yielder.record()->size(), yielderRows + 300);
    yielder.setRecordingWanted(true);
    QCOMPARE(pool.recordingVotes(), 1);
    batch(100);
    QVERIFY(pool.waitForIdle());
    yielder.tick();
    QCOMPARE(yielder.record()->size(), yielderRows + 400);
}

void TstMonitor::yieldingMonitorLeavesGoneWorkersRows_data()
{
    QTest::addColumn<bool>("shutdown");
    QTest::newRow("resized from 4 workers to 1") << false;
    QTest::newRow("shut down") << true;
}

void TstMonitor::yieldingMonitorLeavesGoneWorkersRows()
{
    // A worker that leaves hands its writer (its last rows) to one collect:
    // a yielding Monitor that collects first must leave it to the other.
    QFETCH(bool, shutdown);
    ThreadPoolExecutor pool(4);
    Monitor yielder(handTicked(true));
    Monitor other(handTicked(false));
    other.attach(&pool);
    yielder.attach(&pool);
    std::vector<quint64> ids;
    for (int i = 0; i < 400; ++i)
        ids.push_back(pool.submit([] { return 0; }).id());
    QVERIFY(pool.waitForIdle());
    if (shutdown) {
        pool.shutdown(true);
    } else {
        pool.setMaxWorkers(1);
        QTRY_COMPARE(pool.counters().running, quint64(0));
        QTRY_VERIFY(yielder.tick().workers.size() >= 1);
    }
    // The yielder collects first, then the other.
    yielder.tick();
    QCOMPARE(yielder.record()->size(), quint64(0));
    other.tick();
    QString why;
    QVERIFY2(everyIdOnce(*other.record(), ids.front(), ids.size(), &why), qPrintable(why));
    QCOMPARE(other.record()->stats().lost, quint64(0));
}

void TstMonitor::destroyedMonitorTakesItsStagedRows()
{
    // A Monitor destroyed with rows still staged for it consumes them: they
    // must not reach another Monitor of the pool, which was yielding them
    // (an attach publisher counted those tasks as not its own).
    ThreadPoolExecutor pool(2);
    Monitor yielder(handTicked(true));
    yielder.attach(&pool);
    {
        Monitor other(handTicked(false));
        other.attach(&pool);
        QVERIFY(postNoOpsAndWait(pool, 500)); // staged for `other`, never ticked
        yielder.tick();
        QVERIFY(yielder.yieldingRows());
    }
    yielder.tick();
    QVERIFY(!yielder.yieldingRows());
    QCOMPARE(yielder.record()->size(), quint64(0)); // not the other's 500
    QVERIFY(postNoOpsAndWait(pool, 100));
    yielder.tick();
    QCOMPARE(yielder.record()->size(), quint64(100));
    QCOMPARE(pool.recordingVotes(), 1);
}

void TstMonitor::startRunForgetsGoneWorkers()
{
    // Run 1 on 4 workers, shrink to 1, new run, run 2: the trace of run 2 has
    // one lane, not four, and only run 2's tasks.
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
    QCOMPARE(mon.record()->size(), quint64(4));
    mon.startRun();
    QCOMPARE(mon.record()->size(), quint64(0));
    QCOMPARE(mon.pastRuns().size(), std::size_t(1));
    QCOMPARE(mon.pastRuns().back()->size(), quint64(4));
    QCOMPARE(mon.traceData().workers.size(), 1); // the live one
    pool.submit([] {}).result();
    QTRY_COMPARE_WITH_TIMEOUT((mon.tick(), mon.record()->size()), quint64(1), 30000);
    const TraceData t = mon.traceData();
    QCOMPARE(t.workers.size(), 1);
    QCOMPARE(t.size(), quint64(1));
    QCOMPARE(t.record->worker(0), t.workers.front().index);
}

void TstMonitor::pastRunsAreBounded()
{
    ThreadPoolExecutor pool(2);
    MonitorOptions o;
    o.keptRuns = 2;
    o.keptRunRows = 1'000'000;
    Monitor mon(o);
    mon.attach(&pool);
    for (int run = 0; run < 5; ++run) {
        mon.startRun();
        QVERIFY(postNoOpsAndWait(pool, 100));
        mon.tick();
        QCOMPARE(mon.record()->size(), quint64(100));
    }
    QCOMPARE(mon.pastRuns().size(), std::size_t(2));
    QCOMPARE(mon.droppedRuns(), quint64(2)); // 4 sealed, 2 kept
    // A row budget too: runs of 100 rows, at most 150 kept -> one.
    MonitorOptions small = o;
    small.keptRunRows = 150;
    Monitor mon2(small);
    mon2.attach(&pool);
    for (int run = 0; run < 3; ++run) {
        mon2.startRun();
        QVERIFY(postNoOpsAndWait(pool, 100));
        mon2.tick();
    }
    mon2.startRun();
    QCOMPARE(mon2.pastRuns().size(), std::size_t(1));
    QCOMPARE(mon2.droppedRuns(), quint64(2));
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

// The system CPU is sampled at its own period even when the tick is longer
// (a window drawing at 5 Hz still charts the CPU at 10 Hz): each snapshot
// carries every sample since the last one, oldest first, cpu the last of
// them. With a period at or above the tick, the tick samples when due: one
// sample per snapshot at most, never two closer than the period.
void TstMonitor::everyCpuSampleReachesASnapshot_data()
{
    QTest::addColumn<int>("intervalMs");
    QTest::addColumn<int>("cpuMs");
    QTest::newRow("tick 300 ms, cpu 50 ms") << 300 << 50;
    QTest::newRow("tick 200 ms, cpu 100 ms") << 200 << 100;
    QTest::newRow("tick 40 ms, cpu 100 ms") << 40 << 100;
    QTest::newRow("tick and cpu 60 ms") << 60 << 60;
}

void TstMonitor::everyCpuSampleReachesASnapshot()
{
    QFETCH(int, intervalMs);
    QFETCH(int, cpuMs);
    ThreadPoolExecutor pool(1);
    MonitorOptions o;
    o.intervalMs = intervalMs;
    o.cpuPeriodMs = cpuMs;
    Monitor mon(o);
    QList<QList<CpuUsage>> perSnapshot;
    QList<CpuUsage> last;
    int samples = 0;
    connect(&mon, &Monitor::snapshotReady, &mon, [&](const Snapshot& s) {
        QCOMPARE(s.cpuFresh, !s.cpuSamples.isEmpty());
        if (!s.cpuFresh)
            return;
        QCOMPARE(s.cpu.timeNs, s.cpuSamples.constLast().timeNs);
        for (const CpuUsage& u : s.cpuSamples)
            QVERIFY(u.timeNs <= s.timeNs);
        perSnapshot.append(s.cpuSamples);
        samples += int(s.cpuSamples.size());
    });
    mon.attach(&pool);
    QTRY_VERIFY_WITH_TIMEOUT(samples >= 12, 20'000);
    mon.detach();
    qsizetype most = 0;
    QList<qint64> times;
    for (const auto& list : perSnapshot) {
        most = std::max(most, list.size());
        for (const CpuUsage& u : list) {
            QVERIFY(u.valid);
            times.append(u.timeNs);
        }
    }
    for (qsizetype i = 1; i < times.size(); ++i) {
        QVERIFY(times[i] > times[i - 1]); // oldest first, none twice
        if (cpuMs >= intervalMs)          // sampled by the tick when due
            QVERIFY2(times[i] - times[i - 1] >= qint64(cpuMs) * 1'000'000,
                     qPrintable(QString::number(times[i] - times[i - 1])));
    }
    // On its own timer the samples keep its period on average (a late
    // timeout is followed by an early one).
    const double meanGapMs =
        double(times.constLast() - times.constFirst()) / 1e6 / double(times.size() - 1);
    QVERIFY2(meanGapMs >= 0.8 * cpuMs, qPrintable(QString::number(meanGapMs)));
    if (cpuMs < intervalMs)
        QVERIFY2(most >= 2, qPrintable(QString::number(most))); // several per snapshot
    else
        QCOMPARE(most, 1);
}

QTEST_GUILESS_MAIN(TstMonitor)
#include "tst_monitor.moc"
