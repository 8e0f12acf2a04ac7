// Future<T> keeps Python's concurrent.futures.Future contract (docs/library.md):
// states, cancel(), result()/exception() with timeouts, done callbacks; and it
// interoperates with Qt's QFuture tools (.then(context), whenAll/whenAny,
// QFutureWatcher). Ported in spirit from CPython's
// Lib/test/test_concurrent_futures/test_future.py and executor.py.

#include "testutil.h"

#include <poolscope/threadpool.h>

#include <QFutureWatcher>
#include <QSignalSpy>
#include <QThread>
#include <QtTest>

#include <atomic>
#include <memory>
#include <thread>

using namespace poolscope;
using namespace std::chrono_literals;
using tst::Arrivals;
using tst::Gate;
using tst::Recorder;

namespace {

/// A task exception with its own type and payload, to check both survive.
struct MyError : std::runtime_error {
    MyError(const std::string& what, int c)
        : std::runtime_error(what)
        , code(c)
    {}
    int code;
};

enum class Setup { Pending, Running, Cancelled, Finished, Failed };

} // namespace

Q_DECLARE_METATYPE(Setup)
Q_DECLARE_METATYPE(poolscope::FutureState)

class TstFutureStates : public QObject {
    Q_OBJECT
private slots:
    void submitPassesArguments();
    void stateTransitions();
    void cancel_data();
    void cancel();
    void cancelWakesBlockedResult();
    void cancelledTaskNeverRuns();
    void resultTimeoutLeavesTaskRunning();
    void zeroTimeout_data();
    void zeroTimeout();
    void exceptionTimeoutAndValues();
    void exceptionKeepsTypeAndMessage();
    void nonStdExceptionKept();
    void voidAndMoveOnlyResults();
    void invalidFuture();
    void doneCallbacksInOrder();
    void doneCallbackAtOnceIfDone_data();
    void doneCallbackAtOnceIfDone();
    void doneCallbackRunsOnCancel();
    void doneCallbackExceptionDoesNotBreakOthers_data();
    void doneCallbackExceptionDoesNotBreakOthers();
    void qfutureThenRunsOnContextThread();
    void qfutureOfDoneFuture();
    void qfutureCarriesException();
    void qfutureWhenAll();
    void qfutureWhenAny();
    void qfutureWatcherFinished();
    void qfutureCancelled_data();
    void qfutureCancelled();
};

void TstFutureStates::submitPassesArguments()
{
    ThreadPoolExecutor pool(2);
    // Python's test_submit / test_submit_keyword: arguments are bound by value.
    auto f = pool.submit(
        [](int a, const QString& s, double d) { return s.repeated(a) + QString::number(d); }, 2,
        QStringLiteral("ab"), 0.5);
    QCOMPARE(f.result(), QStringLiteral("abab0.5"));
    std::string owned = "kept";
    auto g = pool.submit([](std::string s) { return s.size(); }, owned);
    owned.clear(); // the task holds its own copy
    QCOMPARE(g.result(), std::size_t(4));
    QVERIFY(f.id() != g.id());
    QVERIFY(f.id() > 0);
}

void TstFutureStates::stateTransitions()
{
    ThreadPoolExecutor pool(1);
    Arrivals started;
    Gate gate;
    auto f = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
        return 42;
    });
    auto queued = pool.submit([] { return 1; }); // the only worker is busy: pending
    QVERIFY(started.waitFor(1));
    TST_COMPARE_STATE(f, FutureState::Running);
    QVERIFY(f.running());
    QVERIFY(!f.done());
    QVERIFY(!f.cancelled());
    TST_COMPARE_STATE(queued, FutureState::Pending);
    QVERIFY(!queued.running());
    QVERIFY(!queued.done());
    gate.open();
    QCOMPARE(f.result(), 42);
    TST_COMPARE_STATE(f, FutureState::Finished);
    QVERIFY(f.done());
    QVERIFY(!f.running());
    QVERIFY(!f.cancelled());
    QCOMPARE(queued.result(), 1);
    TST_COMPARE_STATE(queued, FutureState::Finished);
}

void TstFutureStates::cancel_data()
{
    // Python's test_cancel: cancel() is true for pending and already cancelled
    // futures, false once running or finished.
    QTest::addColumn<Setup>("setup");
    QTest::addColumn<bool>("expected");
    QTest::addColumn<FutureState>("finalState");
    QTest::newRow("pending") << Setup::Pending << true << FutureState::Cancelled;
    QTest::newRow("running") << Setup::Running << false << FutureState::Running;
    QTest::newRow("cancelled") << Setup::Cancelled << true << FutureState::Cancelled;
    QTest::newRow("finished") << Setup::Finished << false << FutureState::Finished;
    QTest::newRow("failed") << Setup::Failed << false << FutureState::Finished;
}

void TstFutureStates::cancel()
{
    QFETCH(Setup, setup);
    QFETCH(bool, expected);
    QFETCH(FutureState, finalState);

    ThreadPoolExecutor pool(1);
    Arrivals started;
    Gate gate;
    auto blocker = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
        return -1;
    });
    QVERIFY(started.waitFor(1));

    Future<int> f;
    switch (setup) {
    case Setup::Running:
        f = blocker;
        break;
    case Setup::Pending:
        f = pool.submit([] { return 1; });
        break;
    case Setup::Cancelled:
        f = pool.submit([] { return 1; });
        QVERIFY(f.cancel());
        break;
    case Setup::Finished:
    case Setup::Failed:
        gate.open();
        QCOMPARE(blocker.result(), -1);
        f = setup == Setup::Finished ? pool.submit([] { return 1; })
                                     : pool.submit([]() -> int { throw MyError("x", 1); });
        QVERIFY(f.waitForDone(tst::kGuard));
        break;
    }
    QCOMPARE(f.cancel(), expected);
    TST_COMPARE_STATE(f, finalState);
    QCOMPARE(f.cancelled(), finalState == FutureState::Cancelled);
    // A second cancel() answers the same (idempotent both ways).
    QCOMPARE(f.cancel(), expected);
    gate.open();
    if (finalState == FutureState::Cancelled) {
        QVERIFY(f.done());
        QVERIFY_THROWS_EXCEPTION(CancelledError, f.result());
        QVERIFY_THROWS_EXCEPTION(CancelledError, f.exception());
    } else if (setup == Setup::Running) {
        QCOMPARE(f.result(), -1); // a running task is not stopped by cancel()
    }
}

void TstFutureStates::cancelWakesBlockedResult()
{
    ThreadPoolExecutor pool(1);
    Arrivals started;
    Gate gate;
    auto blocker = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
    });
    QVERIFY(started.waitFor(1));
    auto f = pool.submit([] { return 7; });

    // A thread blocked in result() must wake with CancelledError.
    std::atomic<int> outcome{0}; // 1 = CancelledError, 2 = other
    Arrivals waiting;
    std::thread waiter([&] {
        waiting.arrive();
        try {
            (void)f.result();
            outcome = 2;
        } catch (const CancelledError&) {
            outcome = 1;
        } catch (...) {
            outcome = 2;
        }
    });
    QVERIFY(waiting.waitFor(1));
    QVERIFY(f.cancel());
    waiter.join();
    QCOMPARE(outcome.load(), 1);
    gate.open();
    blocker.result();
}

void TstFutureStates::cancelledTaskNeverRuns()
{
    ThreadPoolExecutor pool(1);
    Arrivals started;
    Gate gate;
    auto blocker = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
    });
    QVERIFY(started.waitFor(1));
    auto ran = std::make_shared<std::atomic<int>>(0);
    std::vector<Future<int>> fs;
    for (int i = 0; i < 10; ++i)
        fs.push_back(pool.submit([ran] { return ++*ran; }));
    for (int i = 0; i < 10; i += 2)
        QVERIFY(fs[i].cancel());
    gate.open();
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    QCOMPARE(ran->load(), 5);
    for (int i = 0; i < 10; ++i) {
        QCOMPARE(fs[i].cancelled(), i % 2 == 0);
        if (i % 2)
            QVERIFY(fs[i].result() >= 1);
    }
    const Counters c = pool.counters();
    QCOMPARE(c.cancelled, quint64(5));
    QCOMPARE(c.succeeded, quint64(6)); // 5 + the blocker
    QCOMPARE(c.submitted, quint64(11));
}

void TstFutureStates::resultTimeoutLeavesTaskRunning()
{
    ThreadPoolExecutor pool(1);
    Arrivals started;
    Gate gate;
    auto f = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
        return 5;
    });
    QVERIFY(started.waitFor(1));
    QVERIFY_THROWS_EXCEPTION(TimeoutError, f.result(20ms));
    // Python: the timeout only stops waiting; the task keeps running.
    TST_COMPARE_STATE(f, FutureState::Running);
    QVERIFY(!f.waitForDone(1ms));
    gate.open();
    QCOMPARE(f.result(5s), 5);
    TST_COMPARE_STATE(f, FutureState::Finished);
}

void TstFutureStates::zeroTimeout_data()
{
    QTest::addColumn<Setup>("setup");
    QTest::addColumn<QString>("expected"); // "value", "timeout", "cancelled", "error"
    QTest::newRow("pending") << Setup::Pending << "timeout";
    QTest::newRow("running") << Setup::Running << "timeout";
    QTest::newRow("cancelled") << Setup::Cancelled << "cancelled";
    QTest::newRow("finished") << Setup::Finished << "value";
    QTest::newRow("failed") << Setup::Failed << "error";
}

void TstFutureStates::zeroTimeout()
{
    // result(timeout=0) never blocks: it answers from the current state.
    QFETCH(Setup, setup);
    QFETCH(QString, expected);
    ThreadPoolExecutor pool(1);
    Arrivals started;
    Gate gate;
    auto blocker = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
        return 3;
    });
    QVERIFY(started.waitFor(1));
    Future<int> f;
    if (setup == Setup::Running) {
        f = blocker;
    } else if (setup == Setup::Pending || setup == Setup::Cancelled) {
        f = pool.submit([] { return 4; });
        if (setup == Setup::Cancelled)
            QVERIFY(f.cancel());
    } else {
        gate.open();
        f = setup == Setup::Finished ? pool.submit([] { return 4; })
                                     : pool.submit([]() -> int { throw MyError("zero", 0); });
        QVERIFY(f.waitForDone(tst::kGuard));
    }
    QString got;
    try {
        got = f.result(0ms) == 4 ? "value" : "wrong value";
    } catch (const TimeoutError&) {
        got = "timeout";
    } catch (const CancelledError&) {
        got = "cancelled";
    } catch (const MyError&) {
        got = "error";
    }
    QCOMPARE(got, expected);
    // exception(0) agrees: TimeoutError/CancelledError the same way, else the error or null.
    try {
        const auto e = f.exception(0ms);
        got = e ? "error" : "value";
    } catch (const TimeoutError&) {
        got = "timeout";
    } catch (const CancelledError&) {
        got = "cancelled";
    }
    QCOMPARE(got, expected);
}

void TstFutureStates::exceptionTimeoutAndValues()
{
    ThreadPoolExecutor pool(2);
    Arrivals started;
    Gate gate;
    auto slow = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
        throw MyError("late", 9);
    });
    QVERIFY(started.waitFor(1));
    QVERIFY_THROWS_EXCEPTION(TimeoutError, slow.exception(10ms));
    TST_COMPARE_STATE(slow, FutureState::Running);
    gate.open();
    const auto e = slow.exception();
    QVERIFY(e);
    try {
        std::rethrow_exception(e);
    } catch (const MyError& err) {
        QCOMPARE(err.code, 9);
    }
    auto ok = pool.submit([] { return 1; });
    QVERIFY(!ok.exception(5s)); // Python: exception() of a success is None
}

void TstFutureStates::exceptionKeepsTypeAndMessage()
{
    ThreadPoolExecutor pool(2);
    auto f = pool.submit([]() -> int { throw MyError("disk on fire", 451); });
    // result() re-raises the task's own exception: type, message and payload.
    try {
        (void)f.result();
        QFAIL("result() did not throw");
    } catch (const MyError& e) {
        QCOMPARE(QByteArray(e.what()), QByteArray("disk on fire"));
        QCOMPARE(e.code, 451);
    }
    // Raising a second time gives the same exception again.
    QVERIFY_THROWS_EXCEPTION(MyError, f.result());
    TST_COMPARE_STATE(f, FutureState::Finished); // an exception is FINISHED, not CANCELLED
    QVERIFY(!f.cancelled());
    QVERIFY(!f.cancel());
    QCOMPARE(QString::fromStdString(describeException(f.exception())),
             QStringLiteral("(anonymous namespace)::MyError: disk on fire"));
    QCOMPARE(pool.counters().failed, quint64(1));
}

void TstFutureStates::nonStdExceptionKept()
{
    ThreadPoolExecutor pool(1);
    auto f = pool.submit([]() -> int { throw 17; });
    try {
        (void)f.result();
        QFAIL("result() did not throw");
    } catch (int v) {
        QCOMPARE(v, 17);
    }
}

void TstFutureStates::voidAndMoveOnlyResults()
{
    ThreadPoolExecutor pool(2);
    std::atomic<int> hits{0};
    Future<void> v = pool.submit([&hits] { ++hits; });
    v.result();
    QCOMPARE(hits.load(), 1);
    Future<std::unique_ptr<int>> m = pool.submit([] { return std::make_unique<int>(99); });
    auto p = m.takeResult();
    QVERIFY(p);
    QCOMPARE(*p, 99);
}

void TstFutureStates::invalidFuture()
{
    Future<int> f;
    QVERIFY(!f.isValid());
    QCOMPARE(f.id(), quint64(0));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, f.result());
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, f.exception());
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, f.addDoneCallback([](const Future<int>&) {}));
}

void TstFutureStates::doneCallbacksInOrder()
{
    ThreadPoolExecutor pool(1);
    Arrivals started;
    Gate gate;
    auto f = pool.submit([gate, started] {
        started.arrive();
        gate.wait();
        return 8;
    });
    QVERIFY(started.waitFor(1));
    Recorder order;
    auto callbackThread = std::make_shared<std::atomic<QThread*>>(nullptr);
    for (int i = 0; i < 6; ++i) {
        f.addDoneCallback([order, i, callbackThread](const Future<int>& done) {
            // The callback sees the finished future and its result.
            order.add(QStringLiteral("%1:%2").arg(i).arg(done.result()));
            *callbackThread = QThread::currentThread();
        });
    }
    QVERIFY(order.items().isEmpty()); // nothing ran while the task runs
    gate.open();
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard))); // callbacks run before idle
    QCOMPARE(order.items(), QStringList({"0:8", "1:8", "2:8", "3:8", "4:8", "5:8"}));
    // Run by the thread that completed the future, not the one that added them.
    QVERIFY(callbackThread->load() != QThread::currentThread());
}

void TstFutureStates::doneCallbackAtOnceIfDone_data()
{
    QTest::addColumn<Setup>("setup");
    QTest::newRow("finished") << Setup::Finished;
    QTest::newRow("failed") << Setup::Failed;
    QTest::newRow("cancelled") << Setup::Cancelled;
}

void TstFutureStates::doneCallbackAtOnceIfDone()
{
    // Python's test_done_callback_already_successful/failed/cancelled.
    QFETCH(Setup, setup);
    ThreadPoolExecutor pool(1);
    Future<int> f;
    if (setup == Setup::Cancelled) {
        pool.pause(); // keeps it pending until cancelled
        f = pool.submit([] { return 1; });
        QVERIFY(f.cancel());
    } else {
        f = setup == Setup::Finished ? pool.submit([] { return 1; })
                                     : pool.submit([]() -> int { throw MyError("f", 2); });
        QVERIFY(f.waitForDone(tst::kGuard));
    }
    int calls = 0; // plain int: the callback must run synchronously, here
    QThread* where = nullptr;
    FutureState seen = FutureState::Pending;
    f.addDoneCallback([&](const Future<int>& d) {
        ++calls;
        where = QThread::currentThread();
        seen = d.state();
    });
    QCOMPARE(calls, 1);
    QCOMPARE(where, QThread::currentThread());
    QCOMPARE(QByteArray(nameOf(seen)), QByteArray(nameOf(f.state())));
    // Type-erased form too.
    bool erased = false;
    static_cast<const FutureBase&>(f).addDoneCallback(
        [&](const FutureBase& b) { erased = b.done(); });
    QVERIFY(erased);
}

void TstFutureStates::doneCallbackRunsOnCancel()
{
    ThreadPoolExecutor pool(1);
    pool.pause();
    auto f = pool.submit([] { return 1; });
    int calls = 0;
    bool sawCancelled = false;
    f.addDoneCallback([&](const Future<int>& d) {
        ++calls;
        sawCancelled = d.cancelled();
        QVERIFY_THROWS_EXCEPTION(CancelledError, d.result());
    });
    QCOMPARE(calls, 0);
    QVERIFY(f.cancel()); // runs the callbacks in the cancelling thread
    QCOMPARE(calls, 1);
    QVERIFY(sawCancelled);
    QVERIFY(f.cancel()); // already cancelled: true, callbacks not run again
    QCOMPARE(calls, 1);
    pool.resume();
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    QCOMPARE(calls, 1);
}

void TstFutureStates::doneCallbackExceptionDoesNotBreakOthers_data()
{
    QTest::addColumn<bool>("alreadyDone");
    QTest::newRow("completed later") << false;
    QTest::newRow("already done") << true;
}

void TstFutureStates::doneCallbackExceptionDoesNotBreakOthers()
{
    // Python's test_done_callback_raises: the exception is logged, the other
    // callbacks still run. Here: logged with qWarning, never lost silently.
    QFETCH(bool, alreadyDone);
    ThreadPoolExecutor pool(1); // one worker: the warning comes from one thread
    Gate gate;
    auto f = pool.submit([gate] {
        gate.wait();
        return 1;
    });
    if (alreadyDone) {
        gate.open();
        QVERIFY(f.waitForDone(tst::kGuard));
    }
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression("done callback of task \\d+ threw: .*MyError: cb"));
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression("done callback of task \\d+ threw: .*int"));
    auto after = std::make_shared<std::atomic<int>>(0);
    f.addDoneCallback([after](const Future<int>&) { ++*after; });
    f.addDoneCallback([](const Future<int>&) { throw MyError("cb", 1); });
    f.addDoneCallback([after](const Future<int>&) { ++*after; });
    f.addDoneCallback([](const Future<int>&) { throw 5; });
    f.addDoneCallback([after](const Future<int>&) { ++*after; });
    gate.open();
    QCOMPARE(f.result(), 1); // the callback's error does not become the task's
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    QCOMPARE(after->load(), 3);
}

void TstFutureStates::qfutureThenRunsOnContextThread()
{
    ThreadPoolExecutor pool(2);
    Gate gate;
    auto f = pool.submit([gate] {
        gate.wait();
        return 21;
    });
    QObject context; // lives in this (the test's) thread
    bool ran = false;
    QThread* where = nullptr;
    int value = 0;
    QThread* workerThread = nullptr;
    QFuture<void> chain = f.qfuture()
                              .then([&workerThread](int v) {
                                  // no context: runs where the future completed
                                  workerThread = QThread::currentThread();
                                  return v * 2;
                              })
                              .then(&context, [&](int v) {
                                  ran = true;
                                  where = QThread::currentThread();
                                  value = v;
                              });
    QVERIFY(!ran);
    gate.open();
    QTRY_VERIFY_WITH_TIMEOUT(ran, 20000); // delivered through this thread's event loop
    QCOMPARE(where, QThread::currentThread());
    QCOMPARE(value, 42);
    QVERIFY(chain.isFinished());
    QVERIFY(workerThread != nullptr);
    QVERIFY(workerThread != QThread::currentThread());
}

void TstFutureStates::qfutureOfDoneFuture()
{
    ThreadPoolExecutor pool(1);
    auto f = pool.submit([] { return QStringLiteral("done"); });
    QCOMPARE(f.result(), QStringLiteral("done"));
    // Made after completion: finished at once, and each call is a new QFuture.
    QFuture<QString> q1 = f.qfuture();
    QFuture<QString> q2 = f;
    QVERIFY(q1.isFinished());
    QVERIFY(q2.isFinished());
    QCOMPARE(q1.result(), QStringLiteral("done"));
    QCOMPARE(q2.result(), QStringLiteral("done"));
    QCOMPARE(f.result(), QStringLiteral("done")); // the Future itself is not consumed
}

void TstFutureStates::qfutureCarriesException()
{
    ThreadPoolExecutor pool(1);
    Gate gate;
    auto f = pool.submit([gate]() -> int {
        gate.wait();
        throw MyError("through qt", 3);
    });
    QFuture<int> q = f.qfuture();
    QObject context;
    bool failedHandled = false;
    QString message;
    auto handled =
        q.then(&context, [](int v) { return v; }).onFailed(&context, [&](const MyError& e) {
            failedHandled = true;
            message = QString::fromUtf8(e.what());
            return -1;
        });
    gate.open();
    QTRY_VERIFY_WITH_TIMEOUT(failedHandled, 20000);
    QCOMPARE(message, QStringLiteral("through qt"));
    QCOMPARE(handled.result(), -1);
    // QFuture::result() re-raises the task's own exception type (docs/architecture.md, "Qt 6.4
    // pitfalls").
    QVERIFY_THROWS_EXCEPTION(MyError, q.result());
}

void TstFutureStates::qfutureWhenAll()
{
    ThreadPoolExecutor pool(3);
    Gate gate;
    QList<QFuture<int>> list;
    for (int i = 1; i <= 6; ++i) {
        list << pool.submit([gate, i] {
                        gate.wait();
                        return i * i;
                    })
                    .qfuture();
    }
    // docs/architecture.md, "Qt 6.4 pitfalls": the iterator overload is the one that compiles for
    // lvalues.
    QFuture<QList<QFuture<int>>> all = QtFuture::whenAll(list.begin(), list.end());
    QVERIFY(!all.isFinished());
    gate.open();
    QTRY_VERIFY_WITH_TIMEOUT(all.isFinished(), 20000);
    const QList<QFuture<int>> results = all.result();
    QCOMPARE(results.size(), 6);
    int sum = 0;
    for (int i = 0; i < results.size(); ++i) {
        QCOMPARE(results[i].result(), (i + 1) * (i + 1)); // input order kept
        sum += results[i].result();
    }
    QCOMPARE(sum, 91);
}

void TstFutureStates::qfutureWhenAny()
{
    ThreadPoolExecutor pool(3);
    Gate slow;
    Gate fast;
    auto a = pool.submit([slow] {
        slow.wait();
        return 1;
    });
    auto b = pool.submit([fast] {
        fast.wait();
        return 2;
    });
    auto c = pool.submit([slow] {
        slow.wait();
        return 3;
    });
    QList<QFuture<int>> list{a.qfuture(), b.qfuture(), c.qfuture()};
    auto any = QtFuture::whenAny(list.begin(), list.end());
    QVERIFY(!any.isFinished());
    fast.open();
    QTRY_VERIFY_WITH_TIMEOUT(any.isFinished(), 20000);
    const QtFuture::WhenAnyResult<int> r = any.result();
    QCOMPARE(r.index, qsizetype(1));
    QCOMPARE(r.future.result(), 2);
    QVERIFY(!a.done());
    slow.open();
}

void TstFutureStates::qfutureWatcherFinished()
{
    ThreadPoolExecutor pool(2);
    Gate gate;
    auto f = pool.submit([gate] {
        gate.wait();
        return 1234;
    });
    QFutureWatcher<int> watcher;
    QSignalSpy finished(&watcher, &QFutureWatcher<int>::finished);
    QSignalSpy ready(&watcher, &QFutureWatcher<int>::resultReadyAt);
    watcher.setFuture(f.qfuture());
    QCOMPARE(finished.count(), 0);
    gate.open();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 20000);
    QCOMPARE(ready.count(), 1);
    QCOMPARE(watcher.result(), 1234);
    QVERIFY(!watcher.isCanceled());
}

void TstFutureStates::qfutureCancelled_data()
{
    QTest::addColumn<bool>("viaRequestStop");
    QTest::newRow("cancel() of pending") << false;
    QTest::newRow("requestStop() of running") << true;
}

void TstFutureStates::qfutureCancelled()
{
    QFETCH(bool, viaRequestStop);
    ThreadPoolExecutor pool(1);
    Arrivals started;
    Gate gate;
    auto blocker = pool.submit([gate, started](TaskContext& ctx) {
        started.arrive();
        while (!gate.waitFor(1ms) && !ctx.stopRequested()) {
        }
        return 0;
    });
    QVERIFY(started.waitFor(1));
    Future<int> f = viaRequestStop ? blocker : pool.submit([] { return 1; });
    QFuture<int> q = f.qfuture();
    QFutureWatcher<int> watcher;
    QSignalSpy canceled(&watcher, &QFutureWatcher<int>::canceled);
    QSignalSpy finished(&watcher, &QFutureWatcher<int>::finished);
    watcher.setFuture(q);
    bool onCanceledRan = false;
    QObject context;
    auto tail = q.then(&context, [](int v) { return v; }).onCanceled(&context, [&] {
        onCanceledRan = true;
        return -7;
    });
    if (viaRequestStop) {
        QVERIFY(f.requestStop());
        QVERIFY(f.waitForDone(tst::kGuard));
    } else {
        QVERIFY(f.cancel());
    }
    TST_COMPARE_STATE(f, FutureState::Cancelled);
    QTRY_VERIFY_WITH_TIMEOUT(q.isFinished(), 20000);
    QVERIFY(q.isCanceled()); // never call q.result() here: Qt 6.4 crashes (docs/architecture.md,
                             // "Qt 6.4 pitfalls")
    QTRY_COMPARE_WITH_TIMEOUT(canceled.count(), 1, 20000);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 20000);
    QTRY_VERIFY_WITH_TIMEOUT(onCanceledRan, 20000);
    QCOMPARE(tail.result(), -7);
}

QTEST_GUILESS_MAIN(TstFutureStates)
#include "tst_future_states.moc"
