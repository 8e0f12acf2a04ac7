// patterns.h: time decomposition, run facts from spans and the teaching
// hints. Runs are built by hand (exact times), one row per pattern; a clean
// run must give no hint at all.

#include <poolscope/patterns.h>
#include <poolscope/recording.h>

#include <QtTest>

#include <functional>
#include <limits>

using namespace poolscope;

namespace {

constexpr qint64 kUs = 1'000;
constexpr qint64 kMs = 1'000'000;
constexpr qint64 kSec = 1'000'000'000;
constexpr qint64 kT0 = 10 * kSec; // monotonic time of the run's first enqueue

TaskSpan span(quint64 id, int worker, qint64 start, qint64 end, qint64 cpu, qint64 gil = 0,
              qint64 enqueue = kT0)
{
    TaskSpan s;
    s.taskId = id;
    s.worker = worker;
    s.enqueueNs = enqueue;
    s.startNs = start;
    s.endNs = end;
    s.cpuNs = cpu;
    s.gilWaitNs = gil;
    return s;
}

struct Built {
    std::vector<TaskSpan> spans;
    RunContext ctx;
};
using Builder = std::function<Built()>;

/// Tasks back to back on each worker, all queued at kT0; cpu = cpuShare * run.
Built backToBack(int workers, int cores, int tasksPerWorker, qint64 runNs, qint64 gapNs,
                 double cpuShare)
{
    Built b;
    b.ctx.workers = workers;
    b.ctx.cores = cores;
    quint64 id = 1;
    for (int w = 0; w < workers; ++w) {
        qint64 t = kT0 + gapNs;
        for (int i = 0; i < tasksPerWorker; ++i) {
            b.spans.push_back(span(id++, w, t, t + runNs, qint64(double(runNs) * cpuShare)));
            t += runNs + gapNs;
        }
    }
    return b;
}

Built oversubscribed()
{
    // 8 CPU-bound tasks at once on 2 cores: each gets a quarter of a core.
    Built b;
    b.ctx.workers = 8;
    b.ctx.cores = 2;
    for (int w = 0; w < 8; ++w)
        b.spans.push_back(span(quint64(w + 1), w, kT0, kT0 + kSec, kSec / 4));
    return b;
}

Built imbalanced()
{
    // 4 workers: two rounds of 100 ms, but worker 3's second task takes 400 ms.
    Built b;
    b.ctx.workers = 4;
    b.ctx.cores = 4;
    quint64 id = 1;
    for (int w = 0; w < 4; ++w)
        b.spans.push_back(span(id++, w, kT0, kT0 + 100 * kMs, 100 * kMs));
    for (int w = 0; w < 3; ++w)
        b.spans.push_back(span(id++, w, kT0 + 100 * kMs, kT0 + 200 * kMs, 100 * kMs));
    b.spans.push_back(span(id++, 3, kT0 + 100 * kMs, kT0 + 500 * kMs, 400 * kMs));
    return b;
}

Built gilBound()
{
    // 4 threads with the GIL, 4 s each: 1 s CPU, 3 s waiting for the GIL.
    Built b;
    b.ctx.workers = 4;
    b.ctx.cores = 2;
    b.ctx.gil = true;
    for (int w = 0; w < 4; ++w)
        b.spans.push_back(span(quint64(w + 1), w, kT0, kT0 + 4 * kSec, kSec, 3 * kSec));
    return b;
}

Built ioBound()
{
    // 20 threads sleeping 100 ms, 2 ms of CPU each.
    Built b;
    b.ctx.workers = 20;
    b.ctx.cores = 2;
    b.ctx.gil = true; // sleeping releases the GIL: no GIL wait
    for (int w = 0; w < 20; ++w)
        b.spans.push_back(span(quint64(w + 1), w, kT0, kT0 + 100 * kMs, 2 * kMs));
    return b;
}

/// 2 workers on 2 cores, tasks on the CPU a quarter of their time, the
/// machine `busy` (RunContext::systemCpuBusy).
Built quarterOnCpu(double busy)
{
    Built b;
    b.ctx.workers = 2;
    b.ctx.cores = 2;
    b.ctx.systemCpuBusy = busy;
    for (int w = 0; w < 2; ++w)
        b.spans.push_back(span(quint64(w + 1), w, kT0, kT0 + kSec, kSec / 4));
    return b;
}

} // namespace

Q_DECLARE_METATYPE(Builder)
Q_DECLARE_METATYPE(poolscope::TaskSpan)

class TstPatterns : public QObject {
    Q_OBJECT
private slots:
    // ---------------------------------------------------------- decomposition
    void decomposeTask_data()
    {
        QTest::addColumn<TaskSpan>("span");
        QTest::addColumn<qint64>("queued");
        QTest::addColumn<qint64>("gil");
        QTest::addColumn<qint64>("cpu");
        QTest::addColumn<qint64>("waiting");
        QTest::addColumn<qint64>("unmeasured");

        // queued 5 ms; run 100 ms = 30 GIL + 50 CPU + 20 waiting
        QTest::newRow("all four parts")
            << span(1, 0, kT0 + 5 * kMs, kT0 + 105 * kMs, 50 * kMs, 30 * kMs) << 5 * kMs << 30 * kMs
            << 50 * kMs << 20 * kMs << qint64(0);
        QTest::newRow("sleeping task: all waiting")
            << span(2, 0, kT0, kT0 + 100 * kMs, 0) << qint64(0) << qint64(0) << qint64(0)
            << 100 * kMs << qint64(0);
        QTest::newRow("CPU above wall: waiting clamped at 0")
            << span(3, 0, kT0 + kMs, kT0 + 11 * kMs, 12 * kMs) << kMs << qint64(0) << 12 * kMs
            << qint64(0) << qint64(0);
        QTest::newRow("enqueue unknown: nothing queued")
            << span(4, 0, kT0, kT0 + 10 * kMs, 10 * kMs, 0, /*enqueue*/ 0) << qint64(0) << qint64(0)
            << 10 * kMs << qint64(0) << qint64(0);
        QTest::newRow("CPU not measured: run minus GIL is unmeasured")
            << span(5, 0, kT0 + 2 * kMs, kT0 + 12 * kMs, -1, 4 * kMs) << 2 * kMs << 4 * kMs
            << qint64(0) << qint64(0) << 6 * kMs;
    }
    void decomposeTask()
    {
        QFETCH(TaskSpan, span);
        QFETCH(qint64, queued);
        QFETCH(qint64, gil);
        QFETCH(qint64, cpu);
        QFETCH(qint64, waiting);
        QFETCH(qint64, unmeasured);
        const TimeDecomposition d = decompose(span);
        QCOMPARE(d.queuedNs, queued);
        QCOMPARE(d.gilWaitNs, gil);
        QCOMPARE(d.cpuNs, cpu);
        QCOMPARE(d.waitingNs, waiting);
        QCOMPARE(d.unmeasuredNs, unmeasured);
        QCOMPARE(d.tasks, qint64(1));
    }

    void decomposeRunSums()
    {
        const std::vector<TaskSpan> spans = {
            span(1, 0, kT0 + 5 * kMs, kT0 + 105 * kMs, 50 * kMs, 30 * kMs),
            span(2, 1, kT0, kT0 + 100 * kMs, 0),
            span(3, 0, kT0 + 105 * kMs, kT0 + 115 * kMs, -1, 4 * kMs),
        };
        const TimeDecomposition run = decompose(spans);
        TimeDecomposition sum;
        for (const auto& s : spans)
            sum += decompose(s);
        QCOMPARE(run.totalNs(), sum.totalNs());
        QCOMPARE(run.cpuNs, sum.cpuNs);
        QCOMPARE(run.queuedNs, sum.queuedNs);
        QVERIFY(!sum.hasWorkerTime()); // single tasks have no lanes
        // worker time over kT0..kT0+115 ms: worker 0 waits 5 ms for its first
        // task (submitted at kT0: overhead), worker 1 is idle its last 15 ms
        QVERIFY(run.hasWorkerTime());
        QCOMPARE(run.workers, 2);
        QCOMPARE(run.overheadNs, 5 * kMs);
        QCOMPARE(run.idleNs, 15 * kMs);
        QCOMPARE(run.workerTimeNs(), 2 * 115 * kMs);
        QCOMPARE(run.tasks, qint64(3));
        QCOMPARE(run.queuedNs, 5 * kMs + 0 + 105 * kMs);
        QCOMPARE(run.gilWaitNs, 34 * kMs);
        QCOMPARE(run.cpuNs, 50 * kMs);
        QCOMPARE(run.waitingNs, 20 * kMs + 100 * kMs);
        QCOMPARE(run.unmeasuredNs, 6 * kMs);
        // every nanosecond of queue and run time is in exactly one part
        qint64 queuedPlusRun = 0;
        for (const auto& s : spans)
            queuedPlusRun += (s.startNs - s.enqueueNs) + (s.endNs - s.startNs);
        QCOMPARE(run.totalNs(), queuedPlusRun);
        // the deque overload (Monitor::spanHistory()) agrees
        QCOMPARE(decompose(std::deque<TaskSpan>(spans.begin(), spans.end())), run);
    }

    void workerTime_data()
    {
        QTest::addColumn<Builder>("build");
        QTest::addColumn<qint64>("overhead");
        QTest::addColumn<qint64>("idle");
        QTest::addColumn<bool>("known");

        QTest::newRow("back to back, all submitted at once: every gap is overhead")
            << Builder([] { return backToBack(2, 2, 3, 10 * kMs, kMs, 1.0); }) << 6 * kMs
            << qint64(0) << true;
        QTest::newRow("a late submit: idle until it, overhead after") << Builder([] {
            Built b;
            b.spans = {span(1, 0, kT0, kT0 + 10 * kMs, 10 * kMs),
                       span(2, 0, kT0 + 32 * kMs, kT0 + 40 * kMs, 8 * kMs, 0, kT0 + 30 * kMs)};
            return b;
        }) << 2 * kMs << 20 * kMs << true;
        QTest::newRow("submit unknown: the gap is idle") << Builder([] {
            Built b;
            b.spans = {span(1, 0, kT0, kT0 + 10 * kMs, 10 * kMs),
                       span(2, 0, kT0 + 32 * kMs, kT0 + 40 * kMs, 8 * kMs, 0, 0)};
            return b;
        }) << qint64(0) << 22 * kMs << true;
        QTest::newRow("a short lane is idle to the run's end") << Builder([] {
            Built b;
            b.spans = {span(1, 0, kT0, kT0 + 100 * kMs, kMs), span(2, 1, kT0, kT0 + 10 * kMs, kMs)};
            return b;
        }) << qint64(0) << 90 * kMs << true;
        QTest::newRow("worker unknown (-1): no worker time") << Builder([] {
            Built b;
            b.spans = {span(1, -1, kT0, kT0 + 10 * kMs, kMs),
                       span(2, -1, kT0, kT0 + 10 * kMs, kMs)};
            return b;
        }) << qint64(-1) << qint64(-1) << false;
    }
    void workerTime()
    {
        QFETCH(Builder, build);
        QFETCH(qint64, overhead);
        QFETCH(qint64, idle);
        QFETCH(bool, known);
        const Built b = build();
        const TimeDecomposition d = decompose(b.spans);
        QCOMPARE(d.hasWorkerTime(), known);
        QCOMPARE(d.overheadNs, overhead);
        QCOMPARE(d.idleNs, idle);
        if (known) {
            qint64 first = std::numeric_limits<qint64>::max(), last = 0;
            QSet<int> workers;
            for (const TaskSpan& s : b.spans) {
                first = std::min(first, s.enqueueNs > 0 ? s.enqueueNs : s.startNs);
                last = std::max(last, s.endNs);
                workers.insert(s.worker);
            }
            // every worker's whole wall time is in exactly one part
            QCOMPARE(d.workerTimeNs(), qint64(workers.size()) * (last - first));
        }
        // A complete record gives the same; a sample cannot (its holes are
        // not overhead), and says nothing rather than guessing.
        RunRecord complete;
        RunRecord sampled(RunRecord::kDefaultLimit, 2);
        for (const TaskSpan& s : b.spans) {
            complete.add(s);
            sampled.add(s);
        }
        const TimeDecomposition fromRecord = decompose(complete);
        QCOMPARE(fromRecord.overheadNs, d.overheadNs);
        QCOMPARE(fromRecord.idleNs, d.idleNs);
        QCOMPARE(fromRecord.workers, d.workers);
        QVERIFY(!decompose(sampled).hasWorkerTime());
    }

    // ------------------------------------------------------------------ facts
    void factsFromSpans()
    {
        // worker 0: [0,10) [12,20) ms; worker 1: [5,15) ms; all queued at kT0
        const std::vector<TaskSpan> spans = {
            span(1, 0, kT0, kT0 + 10 * kMs, 8 * kMs),
            span(3, 0, kT0 + 12 * kMs, kT0 + 20 * kMs, 8 * kMs, kMs),
            span(2, 1, kT0 + 5 * kMs, kT0 + 15 * kMs, 4 * kMs),
        };
        RunContext ctx;
        ctx.cores = 4;
        const RunFacts f = fromSpans(spans, ctx);
        QCOMPARE(f.workers, 2); // distinct workers when the context gives none
        QCOMPARE(f.tasks, qint64(3));
        QCOMPARE(f.startNs, kT0);
        QCOMPARE(f.wallNs, 20 * kMs);
        QCOMPARE(f.totalCpuNs, 20 * kMs);
        QCOMPARE(f.totalRunNs, 28 * kMs);
        QCOMPARE(f.totalGilWaitNs, kMs);
        QCOMPARE(f.medianTaskNs, 10 * kMs);
        QCOMPARE(f.maxTaskNs, 10 * kMs);
        QCOMPARE(f.cpuPerWall(), 1.0);
        QCOMPARE(f.meanRunning(), 1.4);
        // worker 0's second task was queued when its first ended: a 2 ms gap
        QCOMPARE(f.dispatchGapSamples, qint64(1));
        QCOMPARE(f.dispatchOverheadNs, 2 * kMs);
        const std::vector<BusySample> busy = {{kT0, 1},
                                              {kT0 + 5 * kMs, 2},
                                              {kT0 + 10 * kMs, 1},
                                              {kT0 + 12 * kMs, 2},
                                              {kT0 + 15 * kMs, 1},
                                              {kT0 + 20 * kMs, 0}};
        QCOMPARE(f.busy, busy);
    }

    void factsFallbacks()
    {
        std::vector<TaskSpan> spans = {span(1, 0, kT0, kT0 + kMs, -1, 0, 0)};
        RunContext ctx;
        ctx.workers = 3;
        ctx.workerCpuNs = 777;
        ctx.fallbackDispatchOverheadNs = 42;
        const RunFacts f = fromSpans(spans, ctx);
        QCOMPARE(f.workers, 3);
        QCOMPARE(f.totalCpuNs, qint64(777)); // no span measured CPU
        QCOMPARE(f.dispatchOverheadNs, qint64(42));
        QCOMPARE(f.dispatchGapSamples, qint64(0));
        QCOMPARE(f.startNs, kT0); // enqueue unknown: the run starts at the first start
        QVERIFY(detectPatterns(fromSpans(std::vector<TaskSpan>{}, ctx)).isEmpty());
    }

    // ------------------------------------------------------------------ hints
    void detect_data()
    {
        QTest::addColumn<Builder>("build");
        QTest::addColumn<QStringList>("expected"); // hint ids, in order
        QTest::addColumn<QStringList>("evidence"); // substrings of the (single) hint's evidence

        QTest::newRow("oversubscription: 8 CPU-bound workers on 2 cores")
            << Builder(oversubscribed) << QStringList{kHintOversubscription}
            << QStringList{"on average 8.0 tasks were running on 2 cores", "CPU/wall = 2.00",
                           "only 25% of a core"};
        QTest::newRow("load imbalance: one straggler")
            << Builder(imbalanced) << QStringList{kHintLoadImbalance}
            << QStringList{"no more than 1 of 4 workers busy during the last 60% of the run",
                           "300.0 ms of 500.0 ms", "4.0x the median"};
        QTest::newRow("GIL-bound: 4 threads, one core's worth of CPU")
            << Builder(gilBound) << QStringList{kHintGilBound}
            << QStringList{"4 workers with the GIL on", "CPU/wall = 1.00",
                           "75% of their run time waiting for the GIL"};
        QTest::newRow("I/O-bound: 20 sleeping threads")
            << Builder(ioBound) << QStringList{kHintIoBound}
            << QStringList{"tasks used the CPU 2% of their running time", "CPU/wall = 0.40",
                           "20 workers"};
        QTest::newRow("CPU contention: the machine busy, the run got a quarter")
            << Builder([] { return quarterOnCpu(0.97); }) << QStringList{kHintCpuContention}
            << QStringList{"the machine's CPUs were 97% busy",
                           "this run used 0.50 of 2 usable cores",
                           "got the CPU 25% of their running time"};
        QTest::newRow("same run, machine idle otherwise: I/O-bound")
            << Builder([] { return quarterOnCpu(0.3); }) << QStringList{kHintIoBound}
            << QStringList{"tasks used the CPU 25% of their running time"};
        QTest::newRow("same run, machine load unknown: I/O-bound")
            << Builder([] { return quarterOnCpu(-1); }) << QStringList{kHintIoBound}
            << QStringList{"CPU/wall = 0.50 with 2 workers"};
        QTest::newRow("overhead-bound: 1000 tasks of 5 µs, 10 µs hand-over")
            << Builder([] { return backToBack(2, 2, 500, 5 * kUs, 10 * kUs, 1.0); })
            << QStringList{kHintOverheadBound}
            << QStringList{"median task 5.0 µs over 1000 tasks",
                           "takes about 10 µs (67% of each task's turn is overhead)"};
        QTest::newRow("overhead-bound: 60 µs tasks, 150 µs process hand-over")
            << Builder([] { return backToBack(2, 2, 40, 60 * kUs, 150 * kUs, 1.0); })
            << QStringList{kHintOverheadBound}
            << QStringList{"median task 60 µs over 80 tasks", "(71% of each task's turn"};
        QTest::newRow("overhead-bound, not misread as I/O or imbalance") << Builder([] {
            // sub-µs tasks whose CPU share is tiny (the pool's time is
            // outside them) and one late 10 ms task: still only overhead
            Built b = backToBack(2, 2, 500, 600, 1500, 0.06);
            const qint64 t = b.spans.back().endNs + 1500;
            b.spans.push_back(span(9999, 1, t, t + 10 * kMs, kMs));
            return b;
        }) << QStringList{kHintOverheadBound} << QStringList{"median task 600 ns over 1001 tasks"};
        QTest::newRow("clean: balanced CPU-bound, workers = cores")
            << Builder([] { return backToBack(2, 2, 8, 100 * kMs, 5 * kUs, 0.98); })
            << QStringList{} << QStringList{};
        QTest::newRow("clean: GIL on but one worker") << Builder([] {
            Built b = backToBack(1, 2, 8, 50 * kMs, 5 * kUs, 0.99);
            b.ctx.gil = true;
            return b;
        }) << QStringList{} << QStringList{};
        QTest::newRow("clean: 4 workers on 4 cores, native kernels")
            << Builder([] { return backToBack(4, 4, 16, 20 * kMs, 8 * kUs, 0.95); })
            << QStringList{} << QStringList{};
    }
    void detect()
    {
        QFETCH(Builder, build);
        QFETCH(QStringList, expected);
        QFETCH(QStringList, evidence);
        const Built b = build();
        const QList<PatternHint> hints = detectPatterns(fromSpans(b.spans, b.ctx));
        QStringList ids;
        for (const auto& h : hints)
            ids << h.id;
        QCOMPARE(ids, expected);
        for (const auto& h : hints) {
            QVERIFY(!h.title.isEmpty());
            QVERIFY(h.explanation.size() > 60); // says in plain words what it means
            for (const QString& part : evidence)
                QVERIFY2(h.evidence.contains(part),
                         qPrintable(QStringLiteral("'%1' not in '%2'").arg(part, h.evidence)));
        }
    }

    void thresholdsAreHonoured()
    {
        // The same straggler run is no imbalance when the tail must be 70%.
        const Built b = imbalanced();
        PatternThresholds t;
        t.imbalanceTailFraction = 0.7;
        QVERIFY(detectPatterns(fromSpans(b.spans, b.ctx), t).isEmpty());
        t.imbalanceTailFraction = 0.6;
        QCOMPARE(detectPatterns(fromSpans(b.spans, b.ctx), t).size(), 1);
    }

    // ---------------------------------------------------------------- numbers
    void summarizeRun()
    {
        std::vector<TaskSpan> spans = {
            span(1, 0, kT0 + kMs, kT0 + 101 * kMs, 100 * kMs),
            span(2, 1, kT0 + kMs, kT0 + 201 * kMs, 100 * kMs, 50 * kMs),
            span(3, 0, kT0 + 101 * kMs, kT0 + 201 * kMs, 0),
            span(4, 1, kT0 + 201 * kMs, kT0 + 401 * kMs, 200 * kMs),
        };
        spans[2].status = TaskStatus::Failed;
        spans[3].status = TaskStatus::Cancelled;
        const RunNumbers n = summarize(spans);
        QCOMPARE(n.tasks, qint64(4));
        QCOMPARE(n.failed, qint64(1));
        QCOMPARE(n.cancelled, qint64(1));
        QCOMPARE(n.wallNs, 401 * kMs);
        QCOMPARE(n.tasksPerSecond, 4.0 / 0.401);
        QCOMPARE(n.cpuPerWall, 400.0 / 401.0);
        QCOMPARE(n.gilWaitNs, 50 * kMs);
        QCOMPARE(n.medianTaskNs, 150 * kMs);
        QCOMPARE(n.decomposition, decompose(spans));
        TraceData t;
        for (const TaskSpan& s : spans)
            t.record->add(s);
        const RunNumbers fromRecord = summarize(t);
        QCOMPARE(fromRecord.wallNs, n.wallNs);
        QCOMPARE(fromRecord.tasks, n.tasks);
        QCOMPARE(fromRecord.failed, n.failed);
        QCOMPARE(fromRecord.cancelled, n.cancelled);
        QCOMPARE(fromRecord.cpuPerWall, n.cpuPerWall);
        QCOMPARE(fromRecord.medianTaskNs, n.medianTaskNs);
        QCOMPARE(fromRecord.decomposition, n.decomposition);
        QCOMPARE(summarize(std::vector<TaskSpan>{}).tasks, qint64(0));
    }
};

QTEST_GUILESS_MAIN(TstPatterns)
#include "tst_patterns.moc"
