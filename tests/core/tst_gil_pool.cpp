// The simulated GIL at pool level: who holds it is visible, CPU-bound tasks
// take turns (GIL wait recorded per task), I/O-bound ones still overlap.
#include <poolscope/monitor.h>
#include <poolscope/threadpool.h>
#include <poolscope/workloads.h>

#include <QtTest>

#include <chrono>
#include <ctime>
#include <thread>

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
        const BatchTime one = primesBatch(1, n, gil);
        const BatchTime many = primesBatch(n, n, gil);
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
