// The simulated GIL at pool level: who holds it is visible, CPU-bound tasks
// take turns (GIL wait recorded per task), I/O-bound ones still overlap.
#include <poolscope/monitor.h>
#include <poolscope/threadpool.h>
#include <poolscope/workloads.h>

#include <QtTest>

using namespace poolscope;
using namespace std::chrono_literals;

namespace {
/// Highest number of spans running at the same instant.
int maxOverlap(const std::deque<TaskSpan>& spans)
{
    std::vector<std::pair<qint64, int>> edges;
    for (const auto& s : spans) {
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
        for (const auto& s : mon.spanHistory())
            gilWait += s.gilWaitNs;
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
        QTRY_COMPARE(mon.spanHistory().size(), std::size_t(4));
        // Sleeping releases the GIL, so the four sleeps run at the same time.
        QVERIFY2(maxOverlap(mon.spanHistory()) >= 3,
                 qPrintable(QString::number(maxOverlap(mon.spanHistory()))));
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
