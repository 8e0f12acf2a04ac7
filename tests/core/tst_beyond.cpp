// What ThreadPoolExecutor offers beyond Python's (docs/library.md): live
// resize (grow at once, shrink by retiring after the current task, no task
// lost or run twice), pause/resume, priorities, post() without a future whose
// exceptions are never swallowed, cooperative stop of a running task
// (requestStop), in-task progress, and exact counters.

#include "testutil.h"

#include <poolscope/threadpool.h>

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QtTest>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <memory>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

using namespace poolscope;
using namespace std::chrono_literals;
using tst::Arrivals;
using tst::Gate;
using tst::Recorder;

namespace {

struct TaskError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// A task that holds the only worker of a 1-worker pool until `gate` opens.
Future<void> occupy(ThreadPoolExecutor& pool, const Gate& gate)
{
    Arrivals started;
    auto f = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
    });
    started.waitFor(1);
    return f;
}

std::optional<WorkerInfo> workerRunning(ThreadPoolExecutor& pool, quint64 taskId)
{
    TelemetryBatch batch;
    pool.collectTelemetry(batch, 0);
    for (const WorkerInfo& w : batch.workers)
        if (w.currentTask == taskId)
            return w;
    return std::nullopt;
}

} // namespace

class TstBeyond : public QObject {
    Q_OBJECT
private slots:
    void workerNiceLowersWorkerPriority_data();
    void workerNiceLowersWorkerPriority();
    void workerNiceOutOfRangeRefused_data();
    void workerNiceOutOfRangeRefused();
    void growsAtOnce();
    void shrinksByRetiringAfterCurrentTask();
    void idleWorkersRetireAtOnce();
    void growingBackBeforeRetirementKeepsWorkersIdle();
    void resizeUnderLoadLosesNothing_data();
    void resizeUnderLoadLosesNothing();
    void pauseStopsDispatch();
    void pauseLetsRunningTasksFinish();
    void shutdownOverridesPause();
    void waitForIdleWakesWhenQueuedWorkIsCancelled();
    void priorities_data();
    void priorities();
    void queueHeadInDispatchOrder();
    void postRuns();
    void postedExceptionsAreCountedAndSignalled();
    void requestStopEndsRunningTaskCancelled_data();
    void requestStopEndsRunningTaskCancelled();
    void requestStopOfPendingAndFinished();
    void requestStopIgnoredByTaskThatDoesNotLook();
    void taskContextKnowsItsTask();
    void progressVisibleInTelemetry();
    void countersExactWhileBlocked();
    void countersExactAfterManyTasks_data();
    void countersExactAfterManyTasks();
};

void TstBeyond::growsAtOnce()
{
    ThreadPoolExecutor pool(1);
    Gate gate;
    Arrivals started;
    for (int i = 0; i < 4; ++i)
        pool.submit([gate, started] {
            started.arrive();
            gate.wait();
        });
    QVERIFY(started.waitFor(1));
    QCOMPARE(pool.workerCount(), 1);
    QCOMPARE(pool.counters().queued, quint64(3));
    pool.setMaxWorkers(4);
    QCOMPARE(pool.maxWorkers(), 4);
    QCOMPARE(pool.workerCount(), 4); // started by setMaxWorkers itself, not later
    QVERIFY(started.waitFor(4));     // the queued tasks run now, in parallel
    QCOMPARE(pool.counters().running, quint64(4));
    QCOMPARE(pool.counters().queued, quint64(0));
    gate.open();
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    QCOMPARE(pool.counters().succeeded, quint64(4));
}

void TstBeyond::shrinksByRetiringAfterCurrentTask()
{
    ThreadPoolExecutor pool(4);
    Gate first;
    Gate second;
    Arrivals started;
    std::vector<Future<int>> fs;
    for (int i = 0; i < 4; ++i)
        fs.push_back(pool.submit([first, started, i] {
            started.arrive();
            first.wait();
            return i;
        }));
    QVERIFY(started.waitFor(4));
    pool.setMaxWorkers(1);
    QCOMPARE(pool.maxWorkers(), 1);
    // Busy workers are not interrupted: they retire after their task.
    QCOMPARE(pool.workerCount(), 4);
    QCOMPARE(pool.counters().running, quint64(4));
    Arrivals secondStarted;
    for (int i = 0; i < 3; ++i)
        fs.push_back(pool.submit([second, secondStarted, i] {
            secondStarted.arrive();
            second.wait();
            return 10 + i;
        }));
    first.open();
    QTRY_COMPARE_WITH_TIMEOUT(pool.workerCount(), 1, 20000);
    // From now on one task at a time.
    QVERIFY(secondStarted.waitFor(1));
    QCOMPARE(pool.counters().running, quint64(1));
    QCOMPARE(pool.counters().queued, quint64(2));
    second.open();
    for (int i = 0; i < 4; ++i)
        QCOMPARE(fs[std::size_t(i)].result(), i);
    for (int i = 0; i < 3; ++i)
        QCOMPARE(fs[std::size_t(4 + i)].result(), 10 + i);
    QCOMPARE(pool.workerCount(), 1);
}

void TstBeyond::idleWorkersRetireAtOnce()
{
    ThreadPoolExecutor pool(4);
    auto rendezvous = [&pool](int n) {
        Arrivals here;
        std::vector<Future<bool>> fs;
        for (int i = 0; i < n; ++i)
            fs.push_back(pool.submit([here, n] {
                here.arrive();
                return here.waitFor(n, 10s);
            }));
        bool all = true;
        for (auto& f : fs)
            all = f.result() && all;
        return all;
    };
    QVERIFY(rendezvous(4));
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    QCOMPARE(pool.workerCount(), 4);
    pool.setMaxWorkers(2);
    QTRY_COMPARE_WITH_TIMEOUT(pool.workerCount(), 2, 20000); // no task needed to retire
    QVERIFY(rendezvous(2));
    pool.setMaxWorkers(3); // grows back when work needs it
    QVERIFY(rendezvous(3));
    QCOMPARE(pool.workerCount(), 3);
}

void TstBeyond::growingBackBeforeRetirementKeepsWorkersIdle()
{
    // Shrink then grow back at once: workers told to retire that had not left
    // yet are kept, and must not stay labelled "retiring" in telemetry.
    ThreadPoolExecutor pool(4);
    for (int round = 0; round < 20; ++round) {
        Arrivals here;
        std::vector<Future<bool>> fs;
        for (int i = 0; i < 4; ++i) // four idle workers
            fs.push_back(pool.submit([here] {
                here.arrive();
                return here.waitFor(4, 10s);
            }));
        for (auto& f : fs)
            QVERIFY(f.result());
        QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
        pool.setMaxWorkers(2);
        pool.setMaxWorkers(4);
        TelemetryBatch batch;
        pool.collectTelemetry(batch, 0);
        QCOMPARE(batch.workers.size(), qsizetype(pool.workerCount()));
        for (const WorkerInfo& w : batch.workers)
            QVERIFY2(w.state != WorkerState::Retiring,
                     qPrintable(QStringLiteral("round %1: worker %2 is %3")
                                    .arg(round)
                                    .arg(w.index)
                                    .arg(QLatin1String(nameOf(w.state)))));
    }
}

void TstBeyond::resizeUnderLoadLosesNothing_data()
{
    QTest::addColumn<int>("initialWorkers");
    QTest::addColumn<int>("tasks");
    QTest::newRow("from 1") << 1 << 20000;
    QTest::newRow("from 4") << 4 << 20000;
}

void TstBeyond::resizeUnderLoadLosesNothing()
{
    // docs/library.md: live resize, grow now, retire after the task; "no task
    // is lost or run twice" is checked by counting runs per task id.
    QFETCH(int, initialWorkers);
    QFETCH(int, tasks);
    ThreadPoolExecutor pool(initialWorkers);
    auto runs = std::make_shared<std::vector<std::atomic<int>>>(std::size_t(tasks));
    std::atomic<bool> stop{false};
    std::atomic<int> resizes{0};
    std::thread resizer([&] {
        const int sizes[] = {1, 5, 2, 8, 3, 1, 6, 2};
        for (int i = 0; !stop.load(); ++i) {
            pool.setMaxWorkers(sizes[i % 8]);
            ++resizes;
            std::this_thread::yield();
        }
    });
    std::vector<Future<int>> fs;
    fs.reserve(std::size_t(tasks));
    for (int i = 0; i < tasks; ++i) {
        fs.push_back(pool.submit([runs, i] {
            ++(*runs)[std::size_t(i)];
            if (i % 97 == 0)
                std::this_thread::sleep_for(50us); // some tasks are slower
            return i;
        }));
    }
    for (int i = 0; i < tasks; ++i)
        QCOMPARE(fs[std::size_t(i)].result(), i);
    stop = true;
    resizer.join();
    QVERIFY(resizes.load() > 0);
    for (int i = 0; i < tasks; ++i)
        QCOMPARE((*runs)[std::size_t(i)].load(), 1);
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    const Counters c = pool.counters();
    QCOMPARE(c.submitted, quint64(tasks));
    QCOMPARE(c.succeeded, quint64(tasks));
    QCOMPARE(c.queued, quint64(0));
    QCOMPARE(c.running, quint64(0));
    QCOMPARE(c.cancelled, quint64(0));
    pool.setMaxWorkers(2);
    QTRY_VERIFY_WITH_TIMEOUT(pool.workerCount() <= 2, 20000);
}

void TstBeyond::pauseStopsDispatch()
{
    ThreadPoolExecutor pool(1);
    ThreadPoolExecutor other(1);
    pool.submit([] {}).result();
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard))); // the worker sleeps
    pool.pause();
    QVERIFY(pool.isPaused());
    Recorder order;
    std::vector<Future<void>> fs;
    for (int i = 0; i < 5; ++i)
        fs.push_back(pool.submit([order, i] { order.add(QStringLiteral("L%1").arg(i)); }));
    // A round trip through another pool gives a wrongly woken worker ample
    // time to take a task.
    other.submit([] {}).result();
    QCOMPARE(pool.counters().queued, quint64(5));
    QCOMPARE(pool.counters().running, quint64(0));
    QVERIFY(order.items().isEmpty());
    // Submitted last, runs first: proof that nothing was dispatched while paused.
    fs.push_back(pool.submitWith(TaskOptions{QString(), 1}, [order] { order.add("H"); }));
    pool.resume();
    QVERIFY(!pool.isPaused());
    for (auto& f : fs)
        f.result();
    QCOMPARE(order.items(), QStringList({"H", "L0", "L1", "L2", "L3", "L4"}));
}

void TstBeyond::pauseLetsRunningTasksFinish()
{
    ThreadPoolExecutor pool(2);
    Gate gate;
    Arrivals started;
    auto running = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
        return 1;
    });
    QVERIFY(started.waitFor(1));
    pool.pause();
    auto queued = pool.submit([] { return 2; });
    gate.open();
    QCOMPARE(running.result(), 1); // pause does not stop what runs
    QTRY_COMPARE_WITH_TIMEOUT(pool.counters().running, quint64(0), 20000);
    QCOMPARE(pool.counters().queued, quint64(1));
    TST_COMPARE_STATE(queued, FutureState::Pending);
    QVERIFY(!pool.waitForIdle(Deadline::after(0ms))); // queued work: not idle
    pool.resume();
    QCOMPARE(queued.result(), 2);
}

void TstBeyond::shutdownOverridesPause()
{
    ThreadPoolExecutor pool(2);
    pool.pause();
    std::vector<Future<int>> fs;
    for (int i = 0; i < 10; ++i)
        fs.push_back(pool.submit([i] { return i; }));
    pool.shutdown(true); // would hang if pause won
    for (int i = 0; i < 10; ++i) {
        TST_COMPARE_STATE(fs[std::size_t(i)], FutureState::Finished);
        QCOMPARE(fs[std::size_t(i)].result(), i);
    }
}

void TstBeyond::waitForIdleWakesWhenQueuedWorkIsCancelled()
{
    // "Blocks until nothing is queued or running": cancelling the last queued
    // tasks of a paused pool (the UI's Pause, then Cancel) makes it idle.
    ThreadPoolExecutor pool(1);
    pool.pause();
    std::vector<Future<int>> fs;
    for (int i = 0; i < 3; ++i)
        fs.push_back(pool.submit([i] { return i; }));
    Arrivals waiting;
    std::atomic<int> result{-1};
    std::thread waiter([&] {
        waiting.arrive();
        // Bounded only so a regression fails instead of hanging; a correct
        // pool returns as soon as the last queued task is cancelled.
        result = pool.waitForIdle(Deadline::after(10s)) ? 1 : 0;
    });
    QVERIFY(waiting.waitFor(1));
    for (auto& f : fs)
        QVERIFY(f.cancel());
    QElapsedTimer timer;
    timer.start();
    waiter.join();
    QCOMPARE(result.load(), 1);
    // True at the deadline would also be "idle": it must have been woken.
    QVERIFY2(timer.elapsed() < 10000, "waitForIdle() only noticed at its deadline");
    const Counters c = pool.counters();
    QCOMPARE(c.queued, quint64(0));
    QCOMPARE(c.cancelled, quint64(3));
}

void TstBeyond::priorities_data()
{
    QTest::addColumn<QList<int>>("priorities");
    QTest::newRow("mixed") << QList<int>{0, 10, -5, 10, 0, -5, 5, 0};
    QTest::newRow("all equal: FIFO") << QList<int>{3, 3, 3, 3, 3};
    QTest::newRow("ascending") << QList<int>{1, 2, 3, 4, 5};
    QTest::newRow("descending") << QList<int>{5, 4, 3, 2, 1};
    QTest::newRow("default then high") << QList<int>{0, 0, 0, 100, 0};
    QTest::newRow("extremes") << QList<int>{INT_MIN, 0, INT_MAX, INT_MIN, INT_MAX};
}

void TstBeyond::priorities()
{
    // Higher priority runs first; FIFO within one priority.
    QFETCH(QList<int>, priorities);
    ThreadPoolExecutor pool(1);
    Gate gate;
    auto blocker = occupy(pool, gate);
    Recorder order;
    std::vector<Future<void>> fs;
    QStringList expected;
    std::vector<std::pair<int, QString>> byPriority;
    for (int i = 0; i < priorities.size(); ++i) {
        const QString label = QStringLiteral("p%1#%2").arg(priorities[i]).arg(i);
        fs.push_back(pool.submitWith(TaskOptions{QString(), priorities[i]},
                                     [order, label] { order.add(label); }));
        byPriority.emplace_back(priorities[i], label);
    }
    std::stable_sort(byPriority.begin(), byPriority.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& p : byPriority)
        expected << p.second;
    gate.open();
    for (auto& f : fs)
        f.result();
    QCOMPARE(order.items(), expected);
}

void TstBeyond::queueHeadInDispatchOrder()
{
    ThreadPoolExecutor pool(1);
    Gate gate;
    auto blocker = occupy(pool, gate);
    auto a = pool.submitWith(TaskOptions{QStringLiteral("alpha"), 0}, [] {});
    auto b = pool.submitWith(TaskOptions{QStringLiteral("beta"), 7}, [] {});
    auto c = pool.submitWith(TaskOptions{QStringLiteral("gamma"), 0}, [] {});
    auto d = pool.submit([] {});
    QVERIFY(c.cancel()); // cancelled tasks are not shown as queued
    TelemetryBatch batch;
    pool.collectTelemetry(batch, 10);
    QCOMPARE(batch.queueHead.size(), qsizetype(3));
    QCOMPARE(batch.queueHead[0].id, b.id());
    QCOMPARE(batch.queueHead[0].priority, 7);
    QCOMPARE(NameTable::name(batch.queueHead[0].nameId), QStringLiteral("beta"));
    QCOMPARE(batch.queueHead[1].id, a.id());
    QCOMPARE(NameTable::name(batch.queueHead[1].nameId), QStringLiteral("alpha"));
    QCOMPARE(batch.queueHead[2].id, d.id());
    QCOMPARE(NameTable::name(batch.queueHead[2].nameId), QStringLiteral("task"));
    pool.collectTelemetry(batch, 1); // bounded
    QCOMPARE(batch.queueHead.size(), qsizetype(1));
    QCOMPARE(batch.counters.queued, quint64(3));
    gate.open();
}

void TstBeyond::postRuns()
{
    ThreadPoolExecutor pool(3);
    std::atomic<int> plain{0};
    std::atomic<int> sum{0};
    std::atomic<int> withContext{0};
    for (int i = 0; i < 100; ++i)
        pool.post([&plain] { ++plain; });
    for (int i = 1; i <= 10; ++i)
        pool.post([&sum](int x) { sum += x; }, i);
    pool.post([&withContext](TaskContext& ctx, int x) { withContext = ctx.taskId() > 0 ? x : -1; },
              7);
    pool.post([] { return 5; }); // a result nobody reads is fine
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    QCOMPARE(plain.load(), 100);
    QCOMPARE(sum.load(), 55);
    QCOMPARE(withContext.load(), 7);
    const Counters c = pool.counters();
    QCOMPARE(c.submitted, quint64(112));
    QCOMPARE(c.succeeded, quint64(112));
    QCOMPARE(c.failed, quint64(0));
}

void TstBeyond::postedExceptionsAreCountedAndSignalled()
{
    // docs/library.md / C++ users: fire-and-forget exceptions are never
    // swallowed: counted as failed, logged, and signalled (coalesced).
    ThreadPoolExecutor pool(1); // one worker: the warnings come from one thread
    QSignalSpy spy(&pool, &Executor::unhandledExceptions);
    for (int i = 0; i < 51; ++i)
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression("posted task threw.*TaskError: boom"));
    for (int i = 0; i < 50; ++i)
        pool.post([i] {
            if (i >= 0)
                throw TaskError(QStringLiteral("boom %1").arg(i).toStdString());
        });
    pool.post([] {}); // a succeeding post says nothing
    // This thread runs no event loop meanwhile: one emission carries them all.
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    QCOMPARE(pool.counters().failed, quint64(50));
    QCOMPARE(pool.counters().succeeded, quint64(1));
    QTRY_COMPARE_WITH_TIMEOUT(spy.count(), 1, 20000);
    QCOMPARE(spy.at(0).at(0).toInt(), 50);
    QVERIFY2(spy.at(0).at(1).toString().contains(QStringLiteral("boom 49")),
             qPrintable(spy.at(0).at(1).toString()));
    // Later failures make a new emission.
    pool.post([] { throw TaskError("boom again"); });
    QTRY_COMPARE_WITH_TIMEOUT(spy.count(), 2, 20000);
    QCOMPARE(spy.at(1).at(0).toInt(), 1);
    QVERIFY(spy.at(1).at(1).toString().contains(QStringLiteral("boom again")));
    QCOMPARE(pool.counters().failed, quint64(51));
}

void TstBeyond::requestStopEndsRunningTaskCancelled_data()
{
    QTest::addColumn<QString>("how");
    QTest::newRow("polls stopRequested() and returns") << "poll";
    QTest::newRow("throwIfStopRequested()") << "throwIf";
    QTest::newRow("sees the stop, throws its own error") << "own";
}

void TstBeyond::requestStopEndsRunningTaskCancelled()
{
    // docs/library.md: a running task can be cancelled (cooperatively).
    QFETCH(QString, how);
    ThreadPoolExecutor pool(1);
    Arrivals started;
    auto f = pool.submit([started, how](TaskContext& ctx) {
        started.arrive();
        for (;;) {
            if (how == "throwIf") {
                ctx.throwIfStopRequested();
            } else if (ctx.stopRequested()) {
                if (how == "own")
                    throw TaskError("stopping");
                return 1;
            }
            std::this_thread::sleep_for(200us); // a long computation's step
        }
    });
    auto seen = std::make_shared<std::atomic<int>>(-1);
    f.addDoneCallback([seen](const Future<int>& d) { *seen = int(d.state()); });
    QVERIFY(started.waitFor(1));
    QVERIFY(!f.cancel()); // Python's rule stands: cancel() cannot stop it
    TST_COMPARE_STATE(f, FutureState::Running);
    QVERIFY(f.requestStop());
    QVERIFY(f.waitForDone(tst::kGuard));
    TST_COMPARE_STATE(f, FutureState::Cancelled);
    QVERIFY(f.cancelled());
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.result());
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    QCOMPARE(seen->load(), int(FutureState::Cancelled));
    const Counters c = pool.counters();
    QCOMPARE(c.cancelled, quint64(1));
    QCOMPARE(c.failed, quint64(0));
    QCOMPARE(c.succeeded, quint64(0));
    // The worker is fine afterwards.
    QCOMPARE(pool.submit([] { return 3; }).result(), 3);
}

void TstBeyond::requestStopOfPendingAndFinished()
{
    ThreadPoolExecutor pool(1);
    Gate gate;
    auto blocker = occupy(pool, gate);
    auto ran = std::make_shared<std::atomic<bool>>(false);
    auto pending = pool.submit([ran] { *ran = true; });
    QVERIFY(pending.requestStop()); // pending: cancelled like cancel()
    QVERIFY(pending.cancelled());
    QVERIFY(pending.requestStop()); // already cancelled: true, like cancel()
    gate.open();
    blocker.result();
    QVERIFY(!blocker.requestStop()); // finished: false
    TST_COMPARE_STATE(blocker, FutureState::Finished);
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    QVERIFY(!ran->load());
}

void TstBeyond::requestStopIgnoredByTaskThatDoesNotLook()
{
    ThreadPoolExecutor pool(1);
    Gate gate;
    Arrivals started;
    auto f = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
        return 11;
    });
    QVERIFY(started.waitFor(1));
    QVERIFY(f.requestStop()); // asked...
    gate.open();
    QCOMPARE(f.result(), 11); // ...but a task that never looks finishes normally
    TST_COMPARE_STATE(f, FutureState::Finished);
    QCOMPARE(pool.counters().succeeded, quint64(1));
}

void TstBeyond::taskContextKnowsItsTask()
{
    ThreadPoolExecutor pool(3);
    Gate gate;
    std::vector<Future<std::pair<quint64, int>>> fs;
    for (int i = 0; i < 6; ++i)
        fs.push_back(pool.submit([gate](TaskContext& ctx) {
            gate.wait();
            return std::make_pair(ctx.taskId(), ctx.workerIndex());
        }));
    gate.open();
    for (auto& f : fs) {
        const auto [id, worker] = f.result();
        QCOMPARE(id, f.id());
        QVERIFY(worker >= 0 && worker < 3);
    }
}

void TstBeyond::progressVisibleInTelemetry()
{
    ThreadPoolExecutor pool(2);
    Gate g1;
    Gate g2;
    Arrivals step;
    auto f = pool.submit([g1, g2, step](TaskContext& ctx) {
        ctx.setProgress(3, 4);
        step.arrive();
        g1.wait();
        ctx.setProgress(0.5);
        step.arrive();
        g2.wait();
        return 0;
    });
    Gate quiet;
    Arrivals quietStarted;
    auto silent = pool.submit([quiet, quietStarted] {
        quietStarted.arrive();
        quiet.wait();
    });
    QVERIFY(step.waitFor(1));
    QVERIFY(quietStarted.waitFor(1));
    auto w = workerRunning(pool, f.id());
    QVERIFY(w.has_value());
    QCOMPARE(int(w->state), int(WorkerState::Running)); // not the enum: see testutil.h
    QCOMPARE(w->progress, 0.75);
    auto s = workerRunning(pool, silent.id());
    QVERIFY(s.has_value());
    QCOMPARE(s->progress, -1.0); // a task that reports nothing
    g1.open();
    QVERIFY(step.waitFor(2));
    w = workerRunning(pool, f.id());
    QVERIFY(w.has_value());
    QCOMPARE(w->progress, 0.5);
    g2.open();
    quiet.open();
    f.result();
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    TelemetryBatch batch;
    pool.collectTelemetry(batch, 0);
    for (const WorkerInfo& wi : batch.workers) {
        QCOMPARE(wi.currentTask, quint64(0));
        QCOMPARE(wi.progress, -1.0);
    }
}

void TstBeyond::countersExactWhileBlocked()
{
    ThreadPoolExecutor pool(2);
    Gate gate;
    Arrivals started;
    std::vector<Future<void>> fs;
    for (int i = 0; i < 12; ++i)
        fs.push_back(pool.submit([gate, started] {
            started.arrive();
            gate.wait();
        }));
    QVERIFY(started.waitFor(2));
    QVERIFY(fs[5].cancel());
    QVERIFY(fs[6].cancel());
    Counters c = pool.counters();
    QCOMPARE(c.submitted, quint64(12));
    QCOMPARE(c.running, quint64(2));
    QCOMPARE(c.queued, quint64(8));
    QCOMPARE(c.cancelled, quint64(2));
    QCOMPARE(c.succeeded, quint64(0));
    TelemetryBatch batch;
    pool.collectTelemetry(batch, 100);
    QCOMPARE(batch.counters.running, c.running);
    QCOMPARE(batch.queueHead.size(), qsizetype(8));
    gate.open();
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    c = pool.counters();
    QCOMPARE(c.succeeded, quint64(10));
    QCOMPARE(c.completed(), quint64(12));
    QCOMPARE(c.queued + c.running, quint64(0));
}

void TstBeyond::countersExactAfterManyTasks_data()
{
    QTest::addColumn<int>("tasks");
    QTest::addColumn<bool>("mixed"); // some fail, some are cancelled while queued
    QTest::newRow("100k trivial") << 100000 << false;
    QTest::newRow("30k mixed") << 30000 << true;
}

void TstBeyond::countersExactAfterManyTasks()
{
    QFETCH(int, tasks);
    QFETCH(bool, mixed);
    ThreadPoolExecutor pool(4);
    if (mixed)
        pool.pause(); // so that cancel() finds them queued
    std::vector<Future<int>> fs;
    fs.reserve(std::size_t(tasks));
    for (int i = 0; i < tasks; ++i) {
        if (mixed && i % 3 == 0)
            fs.push_back(pool.submit([]() -> int { throw TaskError("x"); }));
        else
            fs.push_back(pool.submit([i] { return i; }));
    }
    quint64 expectCancelled = 0, expectFailed = 0;
    if (mixed) {
        for (int i = 0; i < tasks; i += 5) {
            QVERIFY(fs[std::size_t(i)].cancel());
            ++expectCancelled;
        }
        for (int i = 0; i < tasks; ++i)
            expectFailed += (i % 3 == 0 && i % 5 != 0) ? 1 : 0;
        pool.resume();
    }
    QVERIFY(pool.waitForIdle(Deadline::after(60s)));
    for (const auto& f : fs)
        QVERIFY(f.done());
    const Counters c = pool.counters();
    QCOMPARE(c.submitted, quint64(tasks));
    QCOMPARE(c.cancelled, expectCancelled);
    QCOMPARE(c.failed, expectFailed);
    QCOMPARE(c.succeeded, quint64(tasks) - expectCancelled - expectFailed);
    QCOMPARE(c.queued, quint64(0));
    QCOMPARE(c.running, quint64(0));
    QCOMPARE(c.completed(), quint64(tasks));
}

void TstBeyond::workerNiceLowersWorkerPriority_data()
{
    QTest::addColumn<int>("nice");
    QTest::newRow("0: unchanged") << 0;
    QTest::newRow("5") << 5;
    QTest::newRow("19: lowest") << 19;
}

void TstBeyond::workerNiceLowersWorkerPriority()
{
    QFETCH(int, nice);
    errno = 0;
    const int base = getpriority(PRIO_PROCESS, id_t(gettid()));
    QCOMPARE(errno, 0);
    ThreadPoolOptions o;
    o.maxWorkers = 2;
    o.workerNice = nice;
    ThreadPoolExecutor pool(o);
    Arrivals both;
    std::vector<Future<int>> fs;
    for (int i = 0; i < 2; ++i)
        fs.push_back(pool.submit([both] {
            both.arrive();
            both.waitFor(2); // two different workers
            return getpriority(PRIO_PROCESS, id_t(gettid()));
        }));
    for (auto& f : fs)
        QCOMPARE(f.result(tst::kGuard), std::min(19, base + nice));
    // The submitting thread keeps its own priority.
    QCOMPARE(getpriority(PRIO_PROCESS, id_t(gettid())), base);
}

void TstBeyond::workerNiceOutOfRangeRefused_data()
{
    QTest::addColumn<int>("nice");
    QTest::newRow("-1: would raise priority") << -1;
    QTest::newRow("20") << 20;
    QTest::newRow("INT_MIN") << INT_MIN;
}

void TstBeyond::workerNiceOutOfRangeRefused()
{
    QFETCH(int, nice);
    ThreadPoolOptions o;
    o.workerNice = nice;
    try {
        ThreadPoolExecutor pool(o);
        QFAIL("expected InvalidArgument");
    } catch (const InvalidArgument& e) {
        QCOMPARE(QString::fromUtf8(e.what()),
                 QStringLiteral("workerNice must be 0..19 (a lower priority for the workers), "
                                "got %1")
                     .arg(nice));
    }
}

QTEST_GUILESS_MAIN(TstBeyond)
#include "tst_beyond.moc"
