// The simulated GIL at pool level: who holds it is visible, CPU-bound tasks
// take turns (GIL wait recorded per task, and every turn in the run record),
// I/O-bound ones still overlap.
#include <poolscope/monitor.h>
#include <poolscope/threadpool.h>
#include <poolscope/workloads.h>

#include <QtTest>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <thread>
#include <vector>

using namespace poolscope;
using namespace std::chrono_literals;

namespace {
/// Highest number of spans running at the same instant.
int maxOverlap(const RunRecord& spans)
{
    std::vector<std::pair<qint64, int>> edges;
    for (const TaskSpan s : spans) {
        edges.push_back({s.startNs, +1});
        edges.push_back({s.endNs, -1});
    }
    std::sort(edges.begin(), edges.end());
    int cur = 0, best = 0;
    for (auto& e : edges)
        best = std::max(best, cur += e.second);
    return best;
}
ThreadPoolOptions gilPool(int workers)
{
    ThreadPoolOptions o;
    o.maxWorkers = workers;
    o.gil = true;
    o.gilSwitchInterval = 5ms;
    return o;
}

/// Process CPU time (all threads, user + sys), ns.
qint64 processCpuNs()
{
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return qint64(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

struct BatchTime {
    double wallS = 0;
    double busyCores = 0; // process CPU / wall over the batch
};

/// N primes tasks on a pool of `workers`, GIL on or off: wall time and busy cores.
/// A CPU-bound "interpreted" task: spins for `ms` of its own CPU time,
/// polling the GIL's eval breaker as CPython's loop does.
auto spinTask(int ms)
{
    return [ms](TaskContext& ctx) {
        timespec t0;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
        const qint64 c0 = qint64(t0.tv_sec) * 1'000'000'000 + t0.tv_nsec;
        for (;;) {
            ctx.gilCheckpoint();
            timespec t;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
            if (qint64(t.tv_sec) * 1'000'000'000 + t.tv_nsec - c0 >= qint64(ms) * 1'000'000)
                return;
        }
    };
}

/// Every turn of a record, in time order.
struct Turn {
    qint32 worker;
    qint64 start, end, wait;
};
std::vector<Turn> allTurns(const RunRecord& r)
{
    std::vector<Turn> turns;
    for (qint32 w : r.gilTurnWorkers()) {
        const RunRecord::GilTurnLane* l = r.gilTurns(w);
        for (std::size_t i = 0; i < l->size(); ++i)
            turns.push_back({w, l->start[i], l->end[i], l->waitNs(i)});
    }
    std::sort(turns.begin(), turns.end(),
              [](const Turn& a, const Turn& b) { return a.start < b.start; });
    return turns;
}

BatchTime primesBatch(int workers, int tasks, bool gil)
{
    ThreadPoolOptions o;
    o.maxWorkers = workers;
    o.gil = gil;
    ThreadPoolExecutor pool(o);
    pool.submit([] {}).result(); // a worker exists before the clock starts
    WorkloadRun run = Workloads::find(QStringLiteral("primes"))->defaultRun();
    run.tasks = tasks;
    run.size = 150000;
    const qint64 cpu0 = processCpuNs();
    const auto t0 = std::chrono::steady_clock::now();
    auto fs = Workloads::submit(pool, QStringLiteral("primes"), run);
    for (auto& f : fs)
        f.result();
    const double wallNs = double(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    return {wallNs / 1e9, double(processCpuNs() - cpu0) / wallNs};
}
} // namespace

class TstGilPool : public QObject {
    Q_OBJECT
private slots:
    void cpuBoundTasksTakeTurns()
    {
        ThreadPoolExecutor pool(gilPool(2));
        QVERIFY(pool.gil() != nullptr);
        Monitor mon;
        mon.attach(&pool);
        WorkloadRun run = Workloads::find(QStringLiteral("primes"))->defaultRun();
        run.tasks = 4;
        run.size = 60000;
        auto fs = Workloads::submit(pool, QStringLiteral("primes"), run);
        bool sawHolder = false;
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                for (const auto& w : mon.last().workers)
                    sawHolder = sawHolder || w.holdsGil;
                return std::all_of(fs.begin(), fs.end(), [](auto& f) { return f.done(); });
            }(),
            60000);
        mon.tick();
        for (auto& f : fs)
            QVERIFY(f.result().toInteger() > 0);
        QVERIFY2(sawHolder, "a running worker must show it holds the GIL");
        QVERIFY(pool.gil()->switches() > 0); // two CPU-bound threads had to hand over
        qint64 gilWait = 0;
        for (const TaskSpan s : *mon.record())
            gilWait += s.gilWaitNs;
        QCOMPARE(mon.record()->totals().gilWaitNs, gilWait);
        QVERIFY2(gilWait > 0, "GIL wait is recorded per task");
    }

    void ioBoundTasksOverlapWithTheGil()
    {
        ThreadPoolExecutor pool(gilPool(4));
        Monitor mon;
        mon.attach(&pool);
        WorkloadRun run = Workloads::find(QStringLiteral("sleep"))->defaultRun();
        run.tasks = 4;
        run.size = 150;
        auto fs = Workloads::submit(pool, QStringLiteral("sleep"), run);
        for (auto& f : fs)
            QCOMPARE(f.result(20s).toInteger(), 150);
        QTRY_COMPARE((mon.tick(), mon.record()->size()), quint64(4));
        // Sleeping releases the GIL, so the four sleeps run at the same time.
        QVERIFY2(maxOverlap(*mon.record()) >= 3,
                 qPrintable(QString::number(maxOverlap(*mon.record()))));
    }

    void nTasksOnNThreadsTakeAsLongAsOnOne_data()
    {
        QTest::addColumn<bool>("gil");
        QTest::newRow("GIL on: no faster than one thread") << true;
        QTest::newRow("GIL off: scales") << false;
    }

    void nTasksOnNThreadsTakeAsLongAsOnOne()
    {
        // Issue #5: with the GIL, N CPU-bound tasks on N threads take about as
        // long as on one thread and the pool keeps about one core busy;
        // without it they scale. Bounds are generous (behaviour, not speed);
        // "scales" needs two free cores, so that row is skipped, with the
        // measured figure, when other processes hold them.
        QFETCH(bool, gil);
        constexpr int n = 2;
        if (std::thread::hardware_concurrency() < n)
            QSKIP("needs 2 CPUs");
        // Three pairs, alternating which runs first, medians compared, and
        // four tasks per worker: one batch of N tasks each, measured once,
        // let one slow batch or the last task's tail decide (ASan: 1 worker
        // 0.47 s vs 0.37 s on 2, both at 0.99 busy cores, "speedup" 1.29x
        // with the GIL on; without it 1.41-2.77x from run to run).
        constexpr int kTasks = 4 * n;
        std::vector<BatchTime> ones, manys;
        for (int pair = 0; pair < 3; ++pair) {
            if (pair % 2) {
                manys.push_back(primesBatch(n, kTasks, gil));
                ones.push_back(primesBatch(1, kTasks, gil));
            } else {
                ones.push_back(primesBatch(1, kTasks, gil));
                manys.push_back(primesBatch(n, kTasks, gil));
            }
        }
        auto median = [](std::vector<BatchTime> v, double BatchTime::*field) {
            std::sort(v.begin(), v.end(), [field](const BatchTime& a, const BatchTime& b) {
                return a.*field < b.*field;
            });
            return v[v.size() / 2].*field;
        };
        BatchTime one{median(ones, &BatchTime::wallS), median(ones, &BatchTime::busyCores)};
        BatchTime many{median(manys, &BatchTime::wallS), median(manys, &BatchTime::busyCores)};
        const double speedup = one.wallS / many.wallS;
        qInfo("1 worker %.3f s (%.2f busy cores), %d workers %.3f s (%.2f busy cores): "
              "speedup %.2fx",
              one.wallS, one.busyCores, n, many.wallS, many.busyCores, speedup);
        if (gil) {
            // Always true, busy machine or not: the GIL keeps one core busy.
            QVERIFY2(many.busyCores < 1.3,
                     qPrintable(QStringLiteral("busy cores %1").arg(many.busyCores)));
            // Wall times compare only when neither batch was starved of its core.
            if (one.busyCores < 0.85 || many.busyCores < 0.85)
                QSKIP(qPrintable(QStringLiteral("the machine is busy (%1 / %2 busy cores): wall "
                                                "times do not compare")
                                     .arg(one.busyCores, 0, 'f', 2)
                                     .arg(many.busyCores, 0, 'f', 2)));
            QVERIFY2(speedup < 1.25, qPrintable(QStringLiteral("speedup %1").arg(speedup)));
        } else {
            if (many.busyCores <= 1.5)
                QSKIP(qPrintable(QStringLiteral("the machine is busy: %1 busy cores, so two "
                                                "threads could not run at once")
                                     .arg(many.busyCores, 0, 'f', 2)));
            QVERIFY2(speedup > 1.4, qPrintable(QStringLiteral("speedup %1").arg(speedup)));
        }
    }

    void turnsAreRecordedAsTheyHappen_data()
    {
        QTest::addColumn<int>("workers");
        QTest::newRow("2 threads") << 2;
        QTest::newRow("3 threads") << 3;
        QTest::newRow("4 threads") << 4;
    }

    void turnsAreRecordedAsTheyHappen()
    {
        // Issue: the timeline drew each task's GIL wait as one leading block.
        // The record now holds every hold of the GIL: (worker, start, end,
        // wait before it), on the clock of the task rows.
        QFETCH(int, workers);
        ThreadPoolExecutor pool(gilPool(workers));
        Monitor mon;
        mon.attach(&pool);
        std::vector<decltype(pool.submit(spinTask(60)))> fs;
        for (int i = 0; i < workers; ++i)
            fs.push_back(pool.submit(spinTask(60)));
        QTRY_VERIFY_WITH_TIMEOUT(
            std::all_of(fs.begin(), fs.end(), [](auto& f) { return f.done(); }), 60000);
        mon.tick();
        const RunRecord& rec = *mon.record();
        QCOMPARE(rec.size(), quint64(workers));
        QVERIFY(rec.hasGilTurns());
        const GilTurnStats st = rec.gilTurnStats();
        QVERIFY(st.complete());
        QCOMPARE(st.lost, quint64(0));
        QCOMPARE(rec.gilTurnNote(), QString());
        const std::vector<Turn> turns = allTurns(rec);
        QCOMPARE(quint64(turns.size()), st.held);
        // At least the switches the GIL counted (each one starts a turn).
        QVERIFY2(turns.size() > pool.gil()->switches(),
                 qPrintable(QStringLiteral("%1 turns, %2 switches")
                                .arg(turns.size())
                                .arg(pool.gil()->switches())));

        // One holder at a time: no turn overlaps another (hand-overs share
        // one stamp, so a turn may end exactly where the next starts).
        for (std::size_t i = 1; i < turns.size(); ++i)
            QVERIFY2(
                turns[i - 1].end <= turns[i].start,
                qPrintable(QStringLiteral("turn %1 of worker %2 ends %3 ns after the next starts")
                               .arg(i - 1)
                               .arg(turns[i - 1].worker)
                               .arg(turns[i - 1].end - turns[i].start)));
        // Each turn lies within a task of its worker (the task's start is
        // stamped before it queues for the GIL, its end after it let go).
        qint64 firstEnd = std::numeric_limits<qint64>::max();
        for (const TaskSpan s : rec)
            firstEnd = std::min(firstEnd, s.endNs);
        for (const Turn& t : turns) {
            bool inside = false;
            for (const TaskSpan s : rec)
                inside = inside
                         || (s.worker == t.worker && t.start - t.wait >= s.startNs - 1000
                             && t.end <= s.endNs + 1000);
            QVERIFY2(inside, qPrintable(QStringLiteral("a turn of worker %1 at %2 ns is in no task")
                                            .arg(t.worker)
                                            .arg(t.start)));
        }
        // While every task runs, the GIL goes round: consecutive turns
        // belong to different workers, and a turn lasts about the switch
        // interval (a full one: the waiter's deadline; longer when the
        // holder's thread is descheduled on a busy machine).
        std::vector<qint64> lengths;
        for (std::size_t i = 1; i < turns.size(); ++i) {
            if (turns[i].end > firstEnd)
                break;
            QVERIFY2(turns[i].worker != turns[i - 1].worker,
                     qPrintable(QStringLiteral("turns %1 and %2 both worker %3")
                                    .arg(i - 1)
                                    .arg(i)
                                    .arg(turns[i].worker)));
            lengths.push_back(turns[i].end - turns[i].start);
        }
        QVERIFY2(lengths.size() >= std::size_t(2 * workers),
                 qPrintable(QString::number(lengths.size())));
        std::sort(lengths.begin(), lengths.end());
        const qint64 median = lengths[lengths.size() / 2];
        qInfo("%zu turns, %zu while every task ran, median %.2f ms", turns.size(), lengths.size(),
              double(median) / 1e6);
        QVERIFY2(median >= 4'500'000 && median <= 30'000'000,
                 qPrintable(QStringLiteral("median turn %1 ns").arg(median)));
        // Per task: held + waited fits in its run time; the turns' waits are
        // within the wait the task measured itself (which adds its thread's
        // wake-up after each hand-over).
        for (const TaskSpan s : rec) {
            const GilUse u = rec.gilUse(s.worker, s.startNs, s.endNs);
            QVERIFY(u.turns >= 1);
            QVERIFY(u.heldNs > 0);
            QVERIFY(u.heldNs + u.waitedNs <= s.endNs - s.startNs + 2000);
            QVERIFY2(u.waitedNs <= s.gilWaitNs + qint64(u.turns) * 100'000,
                     qPrintable(QStringLiteral("turn waits %1 ns, task wait %2 ns")
                                    .arg(u.waitedNs)
                                    .arg(s.gilWaitNs)));
        }
    }

    void everyTaskInTheRecordHasItsTurns()
    {
        // The Monitor takes the GIL's turns after every drain of rows, so
        // whenever a view looks (a snapshot), each task in the record ended
        // before the turns' "complete until" time: no task is ever drawn
        // with half its turns, or with the old block for a frame.
        ThreadPoolExecutor pool(gilPool(3));
        MonitorOptions o;
        o.intervalMs = 5;
        Monitor mon(o);
        mon.attach(&pool);
        int snapshots = 0;
        QString bad;
        connect(&mon, &Monitor::snapshotReady, this, [&](const Snapshot& s) {
            ++snapshots;
            for (const TaskSpan t : *s.record) {
                if (t.endNs > s.record->gilTurnsUntilNs() && bad.isEmpty())
                    bad = QStringLiteral("task %1 ends %2 ns after the turns taken")
                              .arg(t.taskId)
                              .arg(t.endNs - s.record->gilTurnsUntilNs());
            }
        });
        std::vector<decltype(pool.submit(spinTask(8)))> fs;
        for (int i = 0; i < 12; ++i)
            fs.push_back(pool.submit(spinTask(8)));
        QTRY_VERIFY_WITH_TIMEOUT(
            std::all_of(fs.begin(), fs.end(), [](auto& f) { return f.done(); }), 60000);
        QTRY_COMPARE_WITH_TIMEOUT(mon.last().record->size(), quint64(12), 10000);
        QVERIFY2(bad.isEmpty(), qPrintable(bad));
        QVERIFY(snapshots > 3);
        QVERIFY(mon.record()->gilTurnStats().complete());
    }

    void turnsPastTheLimitAreCountedExactly()
    {
        // One task at a time on a GIL pool: each task takes the free GIL
        // once, so the run has exactly `tasks` turns; the record keeps the
        // first `limit` and counts the rest.
        constexpr int tasks = 37;
        constexpr quint64 limit = 5;
        ThreadPoolExecutor pool(gilPool(2));
        MonitorOptions o;
        o.gilTurnLimit = limit;
        Monitor mon(o);
        mon.attach(&pool);
        for (int i = 0; i < tasks; ++i)
            pool.submit([] {}).result();
        QTRY_COMPARE((mon.tick(), mon.record()->size()), quint64(tasks));
        const RunRecord& rec = *mon.record();
        const GilTurnStats st = rec.gilTurnStats();
        QCOMPARE(st.seen, quint64(tasks));
        QCOMPARE(st.held, limit);
        QCOMPARE(st.lost, quint64(0));
        QCOMPARE(st.limit, limit);
        QVERIFY(!st.complete());
        QCOMPARE(rec.gilTurnNote(), QStringLiteral("GIL turns: first 5 of 37 shown"));
        QCOMPARE(quint64(allTurns(rec).size()), limit);
        // The turns held are the first ones: they cover the first tasks; the
        // record says turns are complete only up to the first one dropped.
        std::vector<TaskSpan> spans(rec.begin(), rec.end());
        std::sort(spans.begin(), spans.end(),
                  [](const TaskSpan& a, const TaskSpan& b) { return a.startNs < b.startNs; });
        QVERIFY(rec.gilTurnsUntilNs() >= spans[limit - 1].endNs - 1000);
        QVERIFY(rec.gilTurnsUntilNs() <= spans[limit].endNs);
        for (std::size_t i = 0; i < limit; ++i)
            QCOMPARE(rec.gilUse(spans[i].worker, spans[i].startNs, spans[i].endNs).turns,
                     quint64(1));
    }

    void gilBufferLosesAndCountsWhenFull()
    {
        // The GIL's own buffer between two takes is bounded: turns past it
        // are counted, with the start of the first one lost.
        SimulatedGil gil;
        gil.setTurnRecording(true, 3);
        for (int i = 0; i < 10; ++i) {
            gil.acquire(i % 2);
            gil.release();
        }
        detail::GilTurnBatch b;
        gil.takeTurns(b);
        QCOMPARE(b.turns.size(), std::size_t(3));
        QCOMPARE(b.lost, quint64(7));
        QVERIFY(b.firstLostStart >= b.turns.back().end);
        QCOMPARE(b.openWorker, -1);
        for (std::size_t i = 0; i < b.turns.size(); ++i) {
            QCOMPARE(b.turns[i].worker, qint32(i % 2));
            QVERIFY(b.turns[i].start <= b.turns[i].end);
            QCOMPARE(b.turns[i].waitStart, qint64(0)); // the GIL was free each time
        }
        // The next take starts from zero, and sees the turn in progress.
        gil.acquire(4);
        gil.takeTurns(b);
        QCOMPARE(b.turns.size(), std::size_t(0));
        QCOMPARE(b.lost, quint64(0));
        QCOMPARE(b.openWorker, 4);
        QVERIFY(b.openStart > 0 && b.openStart <= b.takenAt);
        gil.release();
        // Off: nothing is written.
        gil.setTurnRecording(false);
        gil.acquire(1);
        gil.release();
        gil.takeTurns(b);
        QCOMPARE(b.turns.size(), std::size_t(0));
        QCOMPARE(b.lost, quint64(0));
    }

    void noGilMeansNoTurns()
    {
        ThreadPoolExecutor pool(2);
        Monitor mon;
        mon.attach(&pool);
        pool.submit(spinTask(5)).result();
        QTRY_COMPARE((mon.tick(), mon.record()->size()), quint64(1));
        QVERIFY(!mon.record()->hasGilTurns());
        QCOMPARE(mon.record()->gilTurnStats().seen, quint64(0));
        detail::GilTurnBatch b;
        QVERIFY(!pool.collectGilTurns(b));
    }

    void noGilMeansNoHolder()
    {
        ThreadPoolExecutor pool(2);
        QVERIFY(pool.gil() == nullptr);
        Monitor mon;
        mon.attach(&pool);
        auto f = pool.submit([](TaskContext& ctx) {
            ctx.gilCheckpoint(); // harmless without a GIL
            return ctx.hasGil();
        });
        QCOMPARE(f.result(), false);
        mon.tick();
        for (const auto& w : mon.last().workers)
            QVERIFY(!w.holdsGil);
    }
};

QTEST_GUILESS_MAIN(TstGilPool)
#include "tst_gil_pool.moc"
