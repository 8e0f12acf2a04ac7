// RunController, headless: runs start, finish with exact counts, resize live,
// pause, cancel, stop, refuse bad specs, export, and hand results over in one
// batch per tick. No fixed sleeps: QSignalSpy + QTRY_* on observable state.
#include <runcontroller.h>

#include <poolscope/cpusampler.h>
#include <poolscope/executor.h>
#include <poolscope/recording.h>
#include <poolscope/traceexport.h>

#include <QFile>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <sys/resource.h>
#include <unistd.h>

using namespace poolscope;

namespace {
constexpr int kLong = 60'000; // ms: bound on things that must happen

RunSpec makeSpec(const QString& workload, int tasks, qint64 size, const QString& pool = "thread",
                 int workers = 2)
{
    RunSpec s;
    s.workload = workload;
    s.run = Workloads::find(workload)->defaultRun();
    s.run.tasks = tasks;
    s.run.size = size;
    s.poolKind = pool;
    s.workers = workers;
    return s;
}

RunSummary summaryAt(const QSignalSpy& spy, int i)
{
    return spy.at(i).at(0).value<RunSummary>();
}

qint64 countPrimes(qint64 lo, qint64 hi)
{
    qint64 n = 0;
    for (qint64 x = std::max<qint64>(lo, 2); x < hi; ++x) {
        bool prime = true;
        for (qint64 d = 2; d * d <= x; ++d) {
            if (x % d == 0) {
                prime = false;
                break;
            }
        }
        n += prime;
    }
    return n;
}

void useBuiltWorker(RunController& c)
{
    c.setWorkerProgram(QStringLiteral(POOLSCOPE_WORKER_PATH));
}
} // namespace

class TstRunController : public QObject {
    Q_OBJECT
private slots:
    void sharedTextSaysTheWindowsShare_data();
    void sharedTextSaysTheWindowsShare();
    void runFinishesWithExactCounts_data();
    void runFinishesWithExactCounts();
    void workersChangeResizesLivePool();
    void pauseStopsDispatch();
    void cancelPendingCancelsQueued();
    void stopStopsRunningTasks_data();
    void stopStopsRunningTasks();
    void stopWhilePausedEndsTheRun();
    void resizeMessagesOnlyForAPoolThatRan();
    void cpuSampledAtTenHertzDuringARun();
    void busyCoresSlowTheDrawing_data();
    void busyCoresSlowTheDrawing();
    void workerLifecycle();
    void invalidSpecIsRefused_data();
    void invalidSpecIsRefused();
    void poolSwitchWhileRunningIsRefused();
    void severalRunsQueueByPriority();
    void exportTraceAndCsv();
    void exportsHoldEveryTask_data();
    void exportsHoldEveryTask();
    void eachStartBeginsARecord();
    void exportErrorsAreClear();
    void resultsComeInOneBatchPerTick_data();
    void resultsComeInOneBatchPerTick();
    void qfuturesAreHandedOutOnce_data();
    void qfuturesAreHandedOutOnce();
};

void TstRunController::runFinishesWithExactCounts_data()
{
    QTest::addColumn<QString>("workload");
    QTest::addColumn<QString>("pool");
    QTest::addColumn<bool>("gil");
    QTest::addColumn<int>("chunk");
    QTest::addColumn<int>("tasks");
    QTest::addColumn<int>("expectTasks");
    QTest::addColumn<int>("expectFailed");

    QTest::newRow("primes on threads") << "primes"
                                       << "thread" << false << 1 << 12 << 12 << 0;
    QTest::newRow("primes on threads with GIL") << "primes"
                                                << "thread" << true << 1 << 12 << 12 << 0;
    QTest::newRow("primes chunked by 5") << "primes"
                                         << "thread" << false << 5 << 12 << 3 << 0;
    QTest::newRow("primes on processes") << "primes"
                                         << "process" << false << 1 << 12 << 12 << 0;
    QTest::newRow("primes on processes chunked by 5") << "primes"
                                                      << "process" << false << 5 << 12 << 3 << 0;
    // A chunk fails as a whole: items 4 and 9 throw, so chunks [0..4] and [5..9] fail.
    QTest::newRow("throws on processes chunked by 5") << "throws"
                                                      << "process" << false << 5 << 12 << 3 << 2;
    // every 5th task throws: tasks 0, 5 of 10 (index % every == 0 or similar)
    QTest::newRow("throws on threads") << "throws"
                                       << "thread" << false << 1 << 10 << 10 << 2;
}

void TstRunController::runFinishesWithExactCounts()
{
    QFETCH(QString, workload);
    QFETCH(QString, pool);
    QFETCH(bool, gil);
    QFETCH(int, chunk);
    QFETCH(int, tasks);
    QFETCH(int, expectTasks);
    QFETCH(int, expectFailed);

    RunController c;
    useBuiltWorker(c);
    QSignalSpy started(&c, &RunController::runStarted);
    QSignalSpy finished(&c, &RunController::runFinished);
    QSignalSpy errors(&c, &RunController::error);
    RunSpec spec = makeSpec(workload, tasks, 2000, pool);
    spec.gil = gil;
    spec.chunkSize = chunk;
    const quint64 id = c.start(spec);
    QVERIFY2(id != 0, qPrintable(errors.isEmpty() ? QString() : errors.first().first().toString()));
    QCOMPARE(started.count(), 1);
    QCOMPARE(started.first().first().value<quint64>(), id);
    QVERIFY(c.isRunning());
    QCOMPARE(c.executor()->kind(), pool);

    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    const RunSummary s = summaryAt(finished, 0);
    QCOMPARE(s.runId, id);
    QCOMPARE(s.workload, workload);
    QCOMPARE(s.poolKind, pool);
    QCOMPARE(s.items, tasks);
    QCOMPARE(s.tasks, expectTasks);
    QCOMPARE(s.failed, expectFailed);
    QCOMPARE(s.succeeded, expectTasks - expectFailed);
    QCOMPARE(s.cancelled, 0);
    QVERIFY(s.wallSeconds > 0);
    QVERIFY(s.tasksPerSecond > 0);
    // The load meter ran: other programs' cores, the pool's worker
    // processes not among them; the line says a busy machine, and only then.
    QVERIFY(s.otherCores >= 0);
    QCOMPARE(s.text().contains(QStringLiteral("the machine was busy")),
             s.otherCores >= LoadMeter::kBusyCores);
    // ... and what the GUI thread used drawing it (here: none drawn).
    QVERIFY(s.windowCores >= 0); // measured
    QCOMPARE(s.machineCores, QThread::idealThreadCount());
    QVERIFY(!c.isRunning());
    // The pool's exact counters agree with the summary.
    QTRY_COMPARE_WITH_TIMEOUT(c.lastSnapshot().counters.completed(), quint64(expectTasks), kLong);
    QCOMPARE(c.lastSnapshot().counters.failed, quint64(expectFailed));
    QVERIFY(errors.isEmpty());
}

void TstRunController::workersChangeResizesLivePool()
{
    RunController c;
    QSignalSpy finished(&c, &RunController::runFinished);
    QVERIFY(c.start(makeSpec(QStringLiteral("sleep"), 12, 300, QStringLiteral("thread"), 2)));
    Executor* before = c.executor();
    QCOMPARE(before->maxWorkers(), 2);
    QTRY_COMPARE_WITH_TIMEOUT(c.lastSnapshot().counters.running, quint64(2), kLong);

    c.setWorkers(5);
    QCOMPARE(c.executor(), before); // same pool, resized live
    QCOMPARE(c.executor()->maxWorkers(), 5);
    // The grown pool really runs more tasks at once.
    QTRY_VERIFY_WITH_TIMEOUT(c.lastSnapshot().counters.running > 2, kLong);
    QCOMPARE(c.lastSnapshot().maxWorkers, 5);
    // Its workers run below the GUI thread (ThreadPoolOptions::workerNice).
    {
        errno = 0;
        const int base = getpriority(PRIO_PROCESS, id_t(gettid()));
        QCOMPARE(errno, 0);
        int seen = 0;
        for (const WorkerInfo& w : c.lastSnapshot().workers) {
            if (w.tid <= 0 || w.state != WorkerState::Running)
                continue;
            QCOMPARE(getpriority(PRIO_PROCESS, id_t(w.tid)),
                     std::min(19, base + RunController::kWorkerNice));
            ++seen;
        }
        QVERIFY(seen >= 2);
    }

    c.setWorkers(1);
    QCOMPARE(c.executor()->maxWorkers(), 1);
    QTRY_VERIFY_WITH_TIMEOUT(c.lastSnapshot().counters.running <= 1, kLong);
    c.stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QCOMPARE(summaryAt(finished, 0).tasks, 12);
}

void TstRunController::pauseStopsDispatch()
{
    RunController c;
    QSignalSpy finished(&c, &RunController::runFinished);
    QVERIFY(c.start(makeSpec(QStringLiteral("sleep"), 6, 150, QStringLiteral("thread"), 1)));
    QSignalSpy paused(&c, &RunController::pausedChanged); // the new pool said "not paused"
    QTRY_COMPARE_WITH_TIMEOUT(c.lastSnapshot().counters.running, quint64(1), kLong);

    c.pause();
    QVERIFY(c.isPaused());
    QCOMPARE(paused.count(), 1);
    QCOMPARE(paused.last().first().toBool(), true);
    // The running task finishes; nothing else starts.
    QTRY_VERIFY_WITH_TIMEOUT(
        c.lastSnapshot().counters.running == 0 && c.lastSnapshot().counters.queued > 0, kLong);
    QVERIFY(c.lastSnapshot().paused);
    const Counters frozen = c.lastSnapshot().counters;
    // Counters stay still over many ticks (several task lengths).
    QSignalSpy ticks(&c, &RunController::snapshotReady);
    QTRY_VERIFY_WITH_TIMEOUT(ticks.count() >= 15, kLong);
    QCOMPARE(c.lastSnapshot().counters.succeeded, frozen.succeeded);
    QCOMPARE(c.lastSnapshot().counters.queued, frozen.queued);
    QCOMPARE(c.lastSnapshot().counters.running, quint64(0));
    QCOMPARE(finished.count(), 0);

    c.resume();
    QVERIFY(!c.isPaused());
    QCOMPARE(paused.last().first().toBool(), false);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QCOMPARE(summaryAt(finished, 0).succeeded, 6);
}

void TstRunController::cancelPendingCancelsQueued()
{
    RunController c;
    QSignalSpy finished(&c, &RunController::runFinished);
    QVERIFY(c.start(makeSpec(QStringLiteral("sleep"), 6, 1500, QStringLiteral("thread"), 1)));
    QTRY_COMPARE_WITH_TIMEOUT(c.lastSnapshot().counters.running, quint64(1), kLong);
    c.cancelPending();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    const RunSummary s = summaryAt(finished, 0);
    QCOMPARE(s.tasks, 6);
    QCOMPARE(s.cancelled, 5); // everything that was still queued
    QCOMPARE(s.succeeded, 1); // the running one went on
    QCOMPARE(s.failed, 0);
    QTRY_COMPARE_WITH_TIMEOUT(c.lastSnapshot().counters.cancelled, quint64(5), kLong);
}

void TstRunController::stopStopsRunningTasks_data()
{
    QTest::addColumn<QString>("pool");
    QTest::newRow("thread") << "thread";
    QTest::newRow("process") << "process";
}

void TstRunController::stopStopsRunningTasks()
{
    QFETCH(QString, pool);
    RunController c;
    useBuiltWorker(c);
    QSignalSpy finished(&c, &RunController::runFinished);
    // Tasks of ten minutes: only stop() can end this run in time.
    QVERIFY(c.start(makeSpec(QStringLiteral("sleep"), 4, 600'000, pool, 2)));
    QTRY_COMPARE_WITH_TIMEOUT(c.lastSnapshot().counters.running, quint64(2), kLong);
    c.stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    const RunSummary s = summaryAt(finished, 0);
    QCOMPARE(s.succeeded, 0);
    QCOMPARE(s.tasks, 4);
    QCOMPARE(s.cancelled + s.failed, 4);
    QVERIFY(s.cancelled >= 2); // at least the two that were queued
    QTRY_COMPARE_WITH_TIMEOUT(c.lastSnapshot().counters.running, quint64(0), kLong);
}

void TstRunController::stopWhilePausedEndsTheRun()
{
    RunController c;
    QSignalSpy messages(&c, &RunController::message);
    QSignalSpy finished(&c, &RunController::runFinished);
    QVERIFY(c.start(makeSpec(QStringLiteral("sleep"), 6, 600'000, QStringLiteral("thread"), 1)));
    QTRY_COMPARE_WITH_TIMEOUT(c.lastSnapshot().counters.running, quint64(1), kLong);
    c.pause();
    c.stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    const RunSummary s = summaryAt(finished, 0);
    QCOMPARE(s.succeeded, 0);
    QCOMPARE(s.cancelled + s.failed, 6);
    // Stop ends the run and leaves the pool ready, and says so: the next
    // Start runs at once instead of waiting silently in a paused pool.
    QVERIFY(!c.isPaused());
    QCOMPARE(messages.last().first().toString(),
             QStringLiteral("asked 1 running task(s) to stop; the pool is ready (no longer "
                            "paused)"));
    QVERIFY(c.start(makeSpec(QStringLiteral("sleep"), 2, 1, QStringLiteral("thread"), 1)));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, kLong);
    QCOMPARE(summaryAt(finished, 1).succeeded, 2);
}

// A short run still gets a CPU curve: /proc/stat is read every 100 ms while
// something runs (every 500 ms when idle).
void TstRunController::cpuSampledAtTenHertzDuringARun()
{
    RunController c;
    QSignalSpy finished(&c, &RunController::runFinished);
    int fresh = 0;
    bool running = false;
    connect(&c, &RunController::snapshotReady, &c, [&](const Snapshot& s) {
        if (running)
            fresh += int(s.freshCpu().size());
    });
    QVERIFY(c.start(makeSpec(QStringLiteral("sleep"), 2, 1500, QStringLiteral("thread"), 2)));
    running = true;
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    running = false;
    // 1.5 s: ~14 samples at 10 Hz (on the CPU's own timer while the window
    // draws at 5 Hz, else at the first 33 ms tick after each 100 ms), 3 at
    // the idle rate.
    QVERIFY2(fresh >= 8, qPrintable(QString::number(fresh)));
    QCOMPARE(c.monitor()->options().cpuPeriodMs, CpuSampler::kDefaultPeriodMs); // idle again
}

// While a run keeps every core busy the window draws at kBusyTickMs (the
// CPU still sampled at 10 Hz), else at the active tick; with the option off
// always at the active tick. The machine's load comes from a fake
// /proc/stat that a timer advances: every core busy, or every core idle.
void TstRunController::busyCoresSlowTheDrawing_data()
{
    QTest::addColumn<bool>("busy");
    QTest::addColumn<bool>("yield");
    QTest::addColumn<int>("expectedTickMs");
    QTest::newRow("cores busy") << true << true << RunController::kBusyTickMs;
    QTest::newRow("cores idle") << false << true << 33;
    QTest::newRow("cores busy, option off") << true << false << 33;
}

void TstRunController::busyCoresSlowTheDrawing()
{
    QFETCH(bool, busy);
    QFETCH(bool, yield);
    QFETCH(int, expectedTickMs);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString stat = dir.filePath(QStringLiteral("stat"));
    quint64 step = 0;
    auto advance = [&] {
        ++step;
        const quint64 work = busy ? 1000 + 100 * step : 1000,
                      idle = busy ? 1000 : 1000 + 100 * step;
        QFile f(stat);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(QStringLiteral("cpu  %1 0 0 %2 0 0 0 0 0 0\ncpu0 %3 0 0 %4 0 0 0 0 0 0\n"
                               "cpu1 %3 0 0 %4 0 0 0 0 0 0\n")
                    .arg(2 * work)
                    .arg(2 * idle)
                    .arg(work)
                    .arg(idle)
                    .toLatin1());
    };
    advance();
    QTimer ticker;
    connect(&ticker, &QTimer::timeout, &ticker, advance);
    ticker.start(10);

    RunController c;
    c.monitor()->setCpuSource(stat);
    c.setYieldWhenBusy(yield);
    QCOMPARE(c.yieldsWhenBusy(), yield);
    QSignalSpy finished(&c, &RunController::runFinished);
    QSignalSpy light(&c, &RunController::drawLightChanged);
    QVERIFY(!c.drawsLight());
    // as many sleeping workers as cores: the pool could fill every core, so
    // the first tick of the run already draws less (when allowed)
    const int cores = QThread::idealThreadCount();
    QVERIFY(
        c.start(makeSpec(QStringLiteral("sleep"), cores, 60'000, QStringLiteral("thread"), cores)));
    QCOMPARE(c.monitor()->intervalMs(), yield ? RunController::kBusyTickMs : 33);
    QCOMPARE(c.drawsLight(), yield);
    QCOMPARE(light.count(), yield ? 1 : 0);
    // then the CPU samples decide
    QTRY_COMPARE_WITH_TIMEOUT(c.machineBusy(), busy, kLong);
    QTRY_COMPARE_WITH_TIMEOUT(c.monitor()->intervalMs(), expectedTickMs, kLong);
    QCOMPARE(c.drawsLight(), expectedTickMs == RunController::kBusyTickMs);
    QCOMPARE(c.monitor()->options().cpuPeriodMs, 100); // still 10 Hz
    c.stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QTRY_COMPARE_WITH_TIMEOUT(c.monitor()->intervalMs(), 100, kLong); // idle rate
    // light only while something runs; every change signalled once
    QVERIFY(!c.drawsLight());
    for (int i = 0; i < light.count(); ++i)
        QCOMPARE(light.at(i).first().toBool(), i % 2 == 0);
    if (!light.isEmpty())
        QCOMPARE(light.last().first().toBool(), false);
}

// Status messages only for what happened: setting a fresh pool to another
// size (a lesson applied at start-up) is no resize; resizing a pool that
// has run something is, and says from what to what.
void TstRunController::resizeMessagesOnlyForAPoolThatRan()
{
    RunController c;
    QSignalSpy messages(&c, &RunController::message);
    QVERIFY(c.configurePool({QStringLiteral("thread"), 3, false, 5.0}));
    c.setWorkers(2);
    QCOMPARE(c.executor()->maxWorkers(), 2);
    for (const auto& m : messages)
        QVERIFY2(!m.first().toString().contains(QStringLiteral("resized")),
                 qPrintable(m.first().toString()));
    QSignalSpy finished(&c, &RunController::runFinished);
    QVERIFY(c.start(makeSpec(QStringLiteral("sleep"), 2, 1, QStringLiteral("thread"), 2)));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    c.setWorkers(4);
    QCOMPARE(messages.last().first().toString(),
             QStringLiteral("pool resized from 2 to 4 worker(s)"));
}

// A worker retired by a resize reports "retired", a crashed one "dead"; the
// process pool is back at its size after a crash without new work.
void TstRunController::workerLifecycle()
{
    RunController c;
    c.setWorkerProgram(QStringLiteral(POOLSCOPE_WORKER_PATH));
    QSignalSpy finished(&c, &RunController::runFinished);
    QSet<int> seen; // WorkerState values seen in any snapshot
    connect(&c, &RunController::snapshotReady, &c, [&](const Snapshot& s) {
        for (const WorkerInfo& w : s.workers)
            seen.insert(int(w.state));
    });
    auto live = [&] {
        int n = 0;
        for (const WorkerInfo& w : c.lastSnapshot().workers)
            n += hasEnded(w.state) ? 0 : 1;
        return n;
    };
    // Threads: 3 -> 1 retires two.
    QVERIFY(c.start(makeSpec(QStringLiteral("sleep"), 3, 1, QStringLiteral("thread"), 3)));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    c.setWorkers(1);
    QTRY_VERIFY_WITH_TIMEOUT(seen.contains(int(WorkerState::Retired)), kLong);
    QVERIFY(!seen.contains(int(WorkerState::Dead)));

    // Processes: every task crashes its worker; the pool refills to 2.
    seen.clear();
    RunSpec crash = makeSpec(QStringLiteral("crash"), 2, 0, QStringLiteral("process"), 2);
    crash.run.knobs.insert(QStringLiteral("every"), 1);
    crash.run.knobs.insert(QStringLiteral("mode"), 2); // _exit(3): quick, no core dump
    QVERIFY(c.start(crash));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, kLong);
    QCOMPARE(summaryAt(finished, 1).failed, 2);
    QTRY_VERIFY_WITH_TIMEOUT(seen.contains(int(WorkerState::Dead)), kLong);
    QTRY_COMPARE_WITH_TIMEOUT(c.executor()->workerCount(), 2, kLong);
    QTRY_COMPARE_WITH_TIMEOUT(live(), 2, kLong);
    QVERIFY(!seen.contains(int(WorkerState::Retired)));
}

void TstRunController::invalidSpecIsRefused_data()
{
    QTest::addColumn<RunSpec>("spec");
    QTest::addColumn<QString>("needle");

    RunSpec unknown = makeSpec(QStringLiteral("primes"), 4, 100);
    unknown.workload = QStringLiteral("no_such_workload");
    QTest::newRow("unknown workload") << unknown << "unknown workload";
    QTest::newRow("zero tasks") << makeSpec(QStringLiteral("primes"), 0, 100) << "at least 1 task";
    QTest::newRow("crash on threads")
        << makeSpec(QStringLiteral("crash"), 4, 10) << "only run on a process pool";
    QTest::newRow("size out of range") << makeSpec(QStringLiteral("matmul"), 4, 5000) << "size";
    RunSpec chunked = makeSpec(QStringLiteral("pipeline"), 4, 100);
    chunked.chunkSize = 2;
    QTest::newRow("chunk on the pipeline") << chunked << "cannot be chunked";
    RunSpec hugeChunk = makeSpec(QStringLiteral("primes"), 4, 100, QStringLiteral("process"));
    hugeChunk.chunkSize = 100'001;
    QTest::newRow("chunk out of range") << hugeChunk << "chunk size";
    RunSpec badPool = makeSpec(QStringLiteral("primes"), 4, 100);
    badPool.poolKind = QStringLiteral("fibers");
    QTest::newRow("unknown pool kind") << badPool << "pool kind";
    RunSpec badKnob = makeSpec(QStringLiteral("primes"), 4, 100);
    badKnob.run.knobs[QStringLiteral("nope")] = 1;
    QTest::newRow("unknown knob") << badKnob << "no knob";
    RunSpec manyQFutures = makeSpec(QStringLiteral("primes"), 300, 10);
    manyQFutures.qfutures = true;
    QTest::newRow("qfutures of a big run") << manyQFutures << "at most 256 tasks";
}

void TstRunController::invalidSpecIsRefused()
{
    QFETCH(RunSpec, spec);
    QFETCH(QString, needle);
    RunController c;
    QSignalSpy errors(&c, &RunController::error);
    QSignalSpy started(&c, &RunController::runStarted);
    QCOMPARE(c.check(spec).isEmpty(), false);
    QCOMPARE(c.start(spec), quint64(0));
    QCOMPARE(errors.count(), 1);
    const QString msg = errors.first().first().toString();
    QVERIFY2(msg.contains(needle, Qt::CaseInsensitive), qPrintable(msg));
    QCOMPARE(started.count(), 0);
    QVERIFY(!c.isRunning());
    // Nothing started: no pool was even made.
    QVERIFY(!c.hasPool());
}

void TstRunController::poolSwitchWhileRunningIsRefused()
{
    RunController c;
    QSignalSpy errors(&c, &RunController::error);
    QSignalSpy finished(&c, &RunController::runFinished);
    QVERIFY(c.start(makeSpec(QStringLiteral("sleep"), 4, 600'000, QStringLiteral("thread"), 2)));
    Executor* pool = c.executor();
    QCOMPARE(c.start(makeSpec(QStringLiteral("sleep"), 2, 10, QStringLiteral("process"))),
             quint64(0));
    QCOMPARE(errors.count(), 1);
    QVERIFY(errors.first().first().toString().contains(QStringLiteral("still active")));
    RunSpec gil = makeSpec(QStringLiteral("sleep"), 2, 10);
    gil.gil = true;
    QCOMPARE(c.start(gil), quint64(0));
    QCOMPARE(errors.count(), 2);
    QCOMPARE(c.executor(), pool); // untouched
    QCOMPARE(c.activeRuns(), 1);
    c.stop();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    // Idle now: switching is fine.
    QTRY_COMPARE_WITH_TIMEOUT(c.lastSnapshot().counters.running, quint64(0), kLong);
    QVERIFY(c.configurePool({QStringLiteral("thread"), 2, true, 5.0}));
    QVERIFY(c.executor() != nullptr);
    QCOMPARE(c.poolConfig().gil, true);
}

void TstRunController::severalRunsQueueByPriority()
{
    RunController c;
    QSignalSpy finished(&c, &RunController::runFinished);
    QVERIFY(c.configurePool({QStringLiteral("thread"), 1, false, 5.0}));
    c.pause(); // both runs queue up before anything is dispatched
    RunSpec low = makeSpec(QStringLiteral("sleep"), 3, 20, QStringLiteral("thread"), 1);
    RunSpec high = low;
    high.priority = 10;
    const quint64 lowId = c.start(low);
    const quint64 highId = c.start(high);
    QVERIFY(lowId && highId);
    QCOMPARE(c.activeRuns(), 2);
    QTRY_COMPARE_WITH_TIMEOUT(c.lastSnapshot().counters.queued, quint64(6), kLong);
    c.resume();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, kLong);
    // The later but higher-priority run went first: on the one worker its
    // three tasks (submitted after the low run's, so with higher ids) all
    // started before any of the low run's. Judged from the record, not from
    // the order of runFinished(): two runs seen done on the same tick (a
    // slow machine, or the 100 ms tick of a busy one) end in start order.
    const auto record = c.monitor()->record();
    QCOMPARE(record->size(), quint64(6));
    std::vector<TaskSpan> spans;
    for (quint64 i = 0; i < record->size(); ++i)
        spans.push_back(record->span(i));
    std::sort(spans.begin(), spans.end(),
              [](const TaskSpan& a, const TaskSpan& b) { return a.startNs < b.startNs; });
    for (int hi = 0; hi < 3; ++hi) {
        for (int lo = 3; lo < 6; ++lo)
            QVERIFY2(spans[std::size_t(hi)].taskId > spans[std::size_t(lo)].taskId,
                     qPrintable(QStringLiteral("task %1 started before task %2")
                                    .arg(spans[std::size_t(lo)].taskId)
                                    .arg(spans[std::size_t(hi)].taskId)));
    }
    QSet<quint64> ids;
    for (int i = 0; i < 2; ++i) {
        ids.insert(summaryAt(finished, i).runId);
        QCOMPARE(summaryAt(finished, i).succeeded, 3);
    }
    QCOMPARE(ids, (QSet<quint64>{lowId, highId}));
}

void TstRunController::exportTraceAndCsv()
{
    RunController c;
    QSignalSpy finished(&c, &RunController::runFinished);
    QVERIFY(c.start(makeSpec(QStringLiteral("primes"), 20, 500)));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    // The run finishes on the tick after the one that saw its last future:
    // every task's row is in the run's record by then.
    QCOMPARE(c.monitor()->record()->size(), quint64(20));

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString trace = dir.filePath(QStringLiteral("trace.json"));
    const QString csv = dir.filePath(QStringLiteral("tasks.csv"));
    QVERIFY(c.exportTrace(trace));
    QVERIFY(c.exportCsv(csv));

    QFile tf(trace);
    QVERIFY(tf.open(QIODevice::ReadOnly));
    QString why;
    const auto data = readChromeTrace(tf.readAll(), &why);
    QVERIFY2(data.has_value(), qPrintable(why));
    QCOMPARE(data->size(), quint64(20));
    QCOMPARE(data->poolKind, QStringLiteral("thread"));
    for (const TaskSpan s : *data->record) {
        QVERIFY(s.endNs >= s.startNs);
        QCOMPARE(s.status, TaskStatus::Succeeded);
    }

    QFile cf(csv);
    QVERIFY(cf.open(QIODevice::ReadOnly));
    QList<QByteArray> lines = cf.readAll().split('\n');
    while (!lines.isEmpty() && lines.last().trimmed().isEmpty())
        lines.removeLast();
    QCOMPARE(lines.size(), 21); // header + one row per task
    QVERIFY(lines.first().startsWith("id,task,args,status,result"));
    for (int i = 1; i < lines.size(); ++i)
        QVERIFY2(lines[i].contains(",primes,") && lines[i].contains("succeeded"),
                 lines[i].constData());
}

void TstRunController::exportsHoldEveryTask_data()
{
    QTest::addColumn<int>("tasks");
    QTest::addColumn<quint64>("limit");
    QTest::newRow("10k") << 10'000 << quint64(0);
    QTest::newRow("100k") << 100'000 << quint64(0);
    QTest::newRow("1M") << 1'000'000 << quint64(0);
    QTest::newRow("100k past a 20k limit") << 100'000 << quint64(20'000);
}

void TstRunController::exportsHoldEveryTask()
{
    // What the window exports is the run: rows == tasks == counters, or a
    // sample that says so in every file.
    QFETCH(int, tasks);
    QFETCH(quint64, limit);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    if (tasks >= 1'000'000)
        QSKIP("the 1M-task row runs in the plain suite (a sanitizer makes it minutes)");
#endif
    RunController c;
    if (limit > 0)
        c.monitor()->setRecordLimit(limit);
    QSignalSpy finished(&c, &RunController::runFinished);
    QVERIFY(c.start(makeSpec(QStringLiteral("sleep"), tasks, 0, QStringLiteral("thread"), 2)));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 240'000);
    const RunSummary sum = summaryAt(finished, 0);
    const Counters counters = c.lastSnapshot().counters;
    QCOMPARE(sum.tasks, tasks);
    QCOMPARE(counters.succeeded, quint64(tasks));
    const RunRecord& rec = *c.monitor()->record();
    QCOMPARE(rec.stats().seen, quint64(tasks));
    const quint64 rows = limit == 0 ? quint64(tasks) : rec.size();
    QCOMPARE(rec.size(), rows);
    if (limit > 0) {
        QVERIFY(rec.sampling() > 1);
        QVERIFY(rec.size() <= limit);
    }
    // The summary's wall time is the record's: first submit to last end.
    QCOMPARE(qint64(std::llround(sum.wallSeconds * 1e9)), rec.totals().wallNs());

    QTemporaryDir dir;
    const QString csv = dir.filePath(QStringLiteral("tasks.csv"));
    const QString pb = dir.filePath(QStringLiteral("trace.pftrace"));
    QVERIFY(c.exportCsv(csv));
    QVERIFY(c.exportTrace(pb));
    QFile cf(csv);
    QVERIFY(cf.open(QIODevice::ReadOnly));
    qsizetype lines = 0;
    QByteArray last;
    while (!cf.atEnd()) {
        last = cf.readLine();
        ++lines;
    }
    QCOMPARE(quint64(lines - 1), rows); // header + one row per recorded task
    // Every row says what it stands for: 1 in N of the run's tasks.
    QVERIFY2(last.trimmed().endsWith(QByteArray(",") + QByteArray::number(rec.sampling()) + ","
                                     + QByteArray::number(tasks)),
             last.constData());
    QFile tf(pb);
    QVERIFY(tf.open(QIODevice::ReadOnly));
    QString why;
    const auto back = readTrace(tf.readAll(), &why);
    QVERIFY2(back, qPrintable(why));
    QCOMPARE(back->size(), rows);
    QCOMPARE(back->record->stats().seen, quint64(tasks));
    QCOMPARE(back->record->samplingNote(), rec.samplingNote());
}

void TstRunController::eachStartBeginsARecord()
{
    // A Start on an idle pool begins a new run record; the last one goes to
    // the ring of past runs. Runs queued behind an active one share it.
    RunController c;
    QSignalSpy finished(&c, &RunController::runFinished);
    QVERIFY(c.start(makeSpec(QStringLiteral("sleep"), 30, 0)));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    const std::shared_ptr<RunRecord> first = c.monitor()->record();
    QCOMPARE(first->size(), quint64(30));
    QVERIFY(c.start(makeSpec(QStringLiteral("sleep"), 20, 0)));
    QVERIFY(c.monitor()->record() != first);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, kLong);
    QCOMPARE(c.monitor()->record()->size(), quint64(20));
    QVERIFY(!c.monitor()->pastRuns().empty());
    QCOMPARE(c.monitor()->pastRuns().back(), first);

    // The ring of past runs is bounded (MonitorOptions::keptRuns, 4): the
    // run that falls out of it is said, once.
    QSignalSpy messages(&c, &RunController::message);
    const int kept = c.monitor()->options().keptRuns;
    for (int i = 0; i < kept; ++i) {
        QVERIFY(c.start(makeSpec(QStringLiteral("sleep"), 5, 0)));
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 3 + i, kLong);
    }
    QCOMPARE(int(c.monitor()->pastRuns().size()), kept);
    QCOMPARE(c.monitor()->droppedRuns(), quint64(1));
    QVERIFY(std::find(c.monitor()->pastRuns().begin(), c.monitor()->pastRuns().end(), first)
            == c.monitor()->pastRuns().end());
    QStringList said;
    for (const auto& m : messages)
        said << m.at(0).toString();
    QCOMPARE(said.filter(QStringLiteral("dropped")).size(), 1);
    QVERIFY2(said.filter(QStringLiteral("dropped"))
                 .first()
                 .contains(QStringLiteral("keeps the last %1 runs").arg(kept)),
             qPrintable(said.join(QLatin1Char('\n'))));
}

void TstRunController::exportErrorsAreClear()
{
    RunController c;
    QSignalSpy errors(&c, &RunController::error);
    QTemporaryDir dir;
    QVERIFY(!c.exportTrace(dir.filePath(QStringLiteral("t.json"))));
    QCOMPARE(errors.count(), 1);
    QVERIFY(errors.last().first().toString().contains(QStringLiteral("nothing to export")));
    QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("t.json"))));

    QSignalSpy finished(&c, &RunController::runFinished);
    QVERIFY(c.start(makeSpec(QStringLiteral("primes"), 4, 100)));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QVERIFY(!c.monitor()->record()->empty());
    const QString bad = dir.filePath(QStringLiteral("no/such/dir/t.json"));
    QVERIFY(!c.exportTrace(bad));
    QCOMPARE(errors.count(), 2);
    QVERIFY2(errors.last().first().toString().contains(bad),
             qPrintable(errors.last().first().toString()));
    QVERIFY(!c.exportCsv(dir.filePath(QStringLiteral("no/such/dir/t.csv"))));
    QCOMPARE(errors.count(), 3);
}

void TstRunController::resultsComeInOneBatchPerTick_data()
{
    QTest::addColumn<QString>("workload");
    QTest::addColumn<int>("tasks");
    QTest::addColumn<qint64>("size");
    QTest::addColumn<bool>("collectAll");
    QTest::addColumn<int>("chunk");
    QTest::addColumn<QString>("pool");
    QTest::newRow("primes, all results") << "primes" << 3000 << qint64(10) << true << 1 << "thread";
    QTest::newRow("primes chunked, all results")
        << "primes" << 3000 << qint64(10) << true << 7 << "thread";
    QTest::newRow("primes chunked on processes, all results")
        << "primes" << 3000 << qint64(10) << true << 7 << "process";
    QTest::newRow("mandelbrot tiles by default")
        << "mandelbrot" << 64 << qint64(2) << false << 1 << "thread";
    QTest::newRow("mandelbrot chunked on processes")
        << "mandelbrot" << 64 << qint64(2) << false << 5 << "process";
}

void TstRunController::resultsComeInOneBatchPerTick()
{
    QFETCH(QString, workload);
    QFETCH(int, tasks);
    QFETCH(qint64, size);
    QFETCH(bool, collectAll);
    QFETCH(int, chunk);
    QFETCH(QString, pool);

    RunController c;
    useBuiltWorker(c);
    c.setCollectAllResults(collectAll);
    QSignalSpy results(&c, &RunController::resultsReady);
    QSignalSpy ticks(&c, &RunController::snapshotReady);
    QSignalSpy finished(&c, &RunController::runFinished);
    RunSpec spec = makeSpec(workload, tasks, size, pool);
    spec.chunkSize = chunk;
    if (workload == QLatin1String("mandelbrot")) {
        spec.run.knobs[QStringLiteral("width")] = 64;
        spec.run.knobs[QStringLiteral("max_iter")] = 50;
    }
    const quint64 id = c.start(spec);
    QVERIFY(id);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);

    QList<TaskResult> all;
    for (const auto& args : results)
        all += args.first().value<QList<TaskResult>>();
    // Every item's result arrived before runFinished, each exactly once.
    QCOMPARE(all.size(), tasks);
    // ...in batches: at most one per tick, far fewer than tasks.
    QVERIFY2(
        results.count() <= ticks.count(),
        qPrintable(QStringLiteral("%1 batches, %2 ticks").arg(results.count()).arg(ticks.count())));
    if (tasks >= 1000)
        QVERIFY2(results.count() < tasks / 10, qPrintable(QString::number(results.count())));
    for (const TaskResult& r : all) {
        QCOMPARE(r.runId, id);
        QCOMPARE(r.workload, workload);
    }
    if (workload == QLatin1String("primes")) {
        const qint64 start = Workloads::find(workload)->knob(spec.run, QStringLiteral("start"));
        qint64 sum = 0;
        for (const TaskResult& r : all) {
            QVERIFY(r.value.isInteger());
            sum += r.value.toInteger();
        }
        QCOMPARE(sum, countPrimes(start, start + qint64(tasks) * size));
    } else {
        QSet<qint64> rows;
        for (const TaskResult& r : all) {
            QVERIFY(r.value.isMap());
            rows.insert(r.value.toMap().value(QStringLiteral("y")).toInteger());
        }
        QCOMPARE(rows.size(), tasks); // one tile per band, none twice
    }
}

void TstRunController::qfuturesAreHandedOutOnce_data()
{
    QTest::addColumn<int>("chunk");
    QTest::addColumn<bool>("asked");
    QTest::newRow("one per task") << 1 << true;
    QTest::newRow("one per chunk") << 3 << true;
    QTest::newRow("not asked for") << 1 << false;
}

void TstRunController::qfuturesAreHandedOutOnce()
{
    QFETCH(int, chunk);
    QFETCH(bool, asked);
    RunController c;
    QSignalSpy ready(&c, &RunController::qfuturesReady);
    QSignalSpy finished(&c, &RunController::runFinished);
    RunSpec spec = makeSpec(QStringLiteral("primes"), 12, 2000);
    spec.chunkSize = chunk;
    spec.qfutures = asked;
    const quint64 id = c.start(spec);
    QVERIFY(id);
    // Inside start(), once, before any tick.
    QCOMPARE(ready.count(), asked ? 1 : 0);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QCOMPARE(ready.count(), asked ? 1 : 0); // never again
    if (!asked)
        return;
    QCOMPARE(ready.first().at(0).value<quint64>(), id);
    const auto futures = ready.first().at(1).value<QList<QFuture<QCborValue>>>();
    QCOMPARE(futures.size(), (12 + chunk - 1) / chunk);
    // They complete with the tasks, even though harvest() dropped the Futures.
    const qint64 start = Workloads::find(spec.workload)->knob(spec.run, QStringLiteral("start"));
    qint64 sum = 0;
    for (const QFuture<QCborValue>& f : futures) {
        QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), kLong);
        const QCborValue v = f.result();
        if (chunk > 1) {
            for (const QCborValue& item : v.toArray())
                sum += item.toInteger();
        } else {
            sum += v.toInteger();
        }
    }
    QCOMPARE(sum, countPrimes(start, start + 12 * 2000));
}

QTEST_GUILESS_MAIN(TstRunController)
// A 2-worker CPU-bound run on 2 cores cannot reach 2x while the window draws
// it: the summary says what the window took, when the workers wanted every
// core, and only then.
void TstRunController::sharedTextSaysTheWindowsShare_data()
{
    QTest::addColumn<double>("windowCores");
    QTest::addColumn<int>("workers");
    QTest::addColumn<int>("machineCores");
    QTest::addColumn<QString>("expected"); // empty: nothing said
    QTest::newRow("2 workers on 2 cores, window 0.13")
        << 0.13 << 2 << 2
        << "this window used 0.13 of the 2 cores drawing the run; the workers had at most 1.87";
    QTest::newRow("more workers than cores") << 0.2 << 4 << 2 << "of the 2 cores";
    QTest::newRow("1 worker: a core to spare") << 0.3 << 1 << 2 << QString();
    QTest::newRow("a window that hardly drew") << 0.04 << 2 << 2 << QString();
    QTest::newRow("unknown") << -1.0 << 2 << 2 << QString();
    QTest::newRow("cores unknown") << 0.5 << 2 << 0 << QString();
}

void TstRunController::sharedTextSaysTheWindowsShare()
{
    QFETCH(double, windowCores);
    QFETCH(int, workers);
    QFETCH(int, machineCores);
    QFETCH(QString, expected);
    RunSummary s;
    s.workload = QStringLiteral("primes");
    s.poolKind = QStringLiteral("thread");
    s.workers = workers;
    s.windowCores = windowCores;
    s.machineCores = machineCores;
    if (expected.isEmpty()) {
        QVERIFY(s.sharedText().isEmpty());
        QVERIFY(!s.text().contains(QStringLiteral("this window")));
    } else {
        QVERIFY2(s.sharedText().contains(expected), qPrintable(s.sharedText()));
        QVERIFY(s.text().contains(s.sharedText())); // the status line says it too
    }
}

#include "tst_runcontroller.moc"
