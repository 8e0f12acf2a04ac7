// wait() and asCompleted() keep Python's concurrent.futures.wait /
// as_completed rules (docs/library.md), ported in spirit from CPython's
// Lib/test/test_concurrent_futures/test_wait.py and test_as_completed.py.
//
// Futures in a row are named by tokens; the first letter says what it is:
//   S  already finished with a value      E  already finished with an exception
//   C  cancelled                          P  pending (queued on a paused pool)
//   B  running, blocked for the whole wait
//   L  finishes with a value during the wait (a helper thread releases it)
//   F  finishes with an exception during the wait

#include "testutil.h"

#include <poolscope/threadpool.h>
#include <poolscope/waiting.h>

#include <QElapsedTimer>
#include <QtTest>

#include <array>
#include <atomic>
#include <map>
#include <set>
#include <thread>

using namespace poolscope;
using namespace std::chrono_literals;
using tst::Arrivals;
using tst::Gate;

Q_DECLARE_METATYPE(poolscope::ReturnWhen)

namespace {

struct TaskError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Builds named futures in known states. Members are destroyed gates first
/// (they open), then pools (they drain), so a failing test never hangs.
class Kit {
public:
    Kit() { m_paused.pause(); }

    Future<int> make(const QString& token)
    {
        const QChar kind = token.at(0);
        const int value = int(m_names.size());
        Future<int> f;
        if (kind == 'S') {
            f = m_pool.submit([value] { return value; });
            f.waitForDone();
        } else if (kind == 'E') {
            f = m_pool.submit([]() -> int { throw TaskError("E"); });
            f.waitForDone();
        } else if (kind == 'C') {
            f = m_paused.submit([value] { return value; });
            f.cancel();
        } else if (kind == 'P') {
            f = m_paused.submit([value] { return value; });
        } else if (kind == 'B') {
            Gate g = blocked;
            Arrivals a = blockedStarted;
            f = m_pool.submit([g, a, value] {
                a.arrive();
                g.wait();
                return value;
            });
            ++m_blockedCount;
        } else if (kind == 'L' || kind == 'F') {
            Gate g = later;
            const bool fail = kind == 'F';
            f = m_pool.submit([g, value, fail] {
                g.wait();
                if (fail)
                    throw TaskError("F");
                return value;
            });
        } else {
            qFatal("unknown token %s", qPrintable(token));
        }
        m_names[f.node()] = token;
        return f;
    }

    std::vector<Future<int>> makeAll(const QString& spec)
    {
        std::vector<Future<int>> fs;
        for (const QString& t : spec.split(' ', Qt::SkipEmptyParts))
            fs.push_back(make(t));
        return fs;
    }

    /// Blocked tasks are running (not merely queued) before the wait starts.
    bool blockedRunning() const { return blockedStarted.waitFor(m_blockedCount); }

    template<class F>
    QString names(const std::vector<F>& fs) const
    {
        QStringList out;
        for (const auto& f : fs)
            out << m_names.at(f.node());
        return out.join(' ');
    }
    QString name(const FutureBase& f) const { return m_names.at(f.node()); }

private:
    ThreadPoolExecutor m_pool{12};
    ThreadPoolExecutor m_paused{1};
    std::map<const void*, QString> m_names;
    int m_blockedCount = 0;

public:
    Gate blocked;
    Gate later;
    Arrivals blockedStarted;
};

} // namespace

class TstWaiting : public QObject {
    Q_OBJECT
private slots:
    void waitRules_data();
    void waitRules();
    void waitDuplicatesOnce_data();
    void waitDuplicatesOnce();
    void waitOnMixedTypes();
    void waitRejectsInvalidFuture();
    void waitPendingCallsRace();
    void waitLeavesNoCallbacksBehind_data();
    void waitLeavesNoCallbacksBehind();
    void asCompletedGivenUpLeavesNoCallbacks();
    void removeCallbackRacesCompletion();
    void asCompletedAlreadyFinishedFirst();
    void asCompletedDuplicatesOnce();
    void asCompletedTimeoutMessage_data();
    void asCompletedTimeoutMessage();
    void asCompletedTimeoutCountsFromCall();
    void asCompletedRangeFor();
    void asCompletedEmpty();
};

void TstWaiting::waitRules_data()
{
    QTest::addColumn<QString>("spec");
    QTest::addColumn<ReturnWhen>("when");
    QTest::addColumn<int>("timeoutMs"); // -1: no timeout
    QTest::addColumn<QString>("done");
    QTest::addColumn<QString>("notDone");
    QTest::addColumn<int>("minElapsedMs"); // the wait must not return earlier

    const auto FC = ReturnWhen::FirstCompleted;
    const auto FE = ReturnWhen::FirstException;
    const auto AC = ReturnWhen::AllCompleted;
    // Python's test_first_completed
    QTest::newRow("FIRST_COMPLETED one finishes later") << "L B" << FC << -1 << "L"
                                                        << "B" << 0;
    // test_first_completed_some_already_completed (cancelled counts as done)
    QTest::newRow("FIRST_COMPLETED some already done") << "C S B P" << FC << -1 << "C S"
                                                       << "B P" << 0;
    QTest::newRow("FIRST_COMPLETED timeout") << "B P" << FC << 30 << ""
                                             << "B P" << 30;
    // test_first_exception
    QTest::newRow("FIRST_EXCEPTION raised later") << "S F B" << FE << -1 << "S F"
                                                  << "B" << 0;
    // test_first_exception_some_already_complete
    QTest::newRow("FIRST_EXCEPTION some already complete") << "S C F B" << FE << -1 << "S C F"
                                                           << "B" << 0;
    // test_first_exception_one_already_failed: returns at once
    QTest::newRow("FIRST_EXCEPTION one already failed") << "E B" << FE << -1 << "E"
                                                        << "B" << 0;
    QTest::newRow("FIRST_EXCEPTION already failed among pending") << "B P E S" << FE << -1 << "E S"
                                                                  << "B P" << 0;
    // None raises: acts as ALL_COMPLETED (so it waits past the first completion)
    QTest::newRow("FIRST_EXCEPTION none raises") << "S L1 L2" << FE << -1 << "S L1 L2"
                                                 << "" << 0;
    QTest::newRow("FIRST_EXCEPTION none raises, times out like ALL_COMPLETED")
        << "S C B" << FE << 60 << "S C"
        << "B" << 60;
    QTest::newRow("FIRST_EXCEPTION cancelled is not an exception") << "C1 C2" << FE << -1 << "C1 C2"
                                                                   << "" << 0;
    // test_all_completed
    QTest::newRow("ALL_COMPLETED") << "S C E L1 F1" << AC << -1 << "S C E L1 F1"
                                   << "" << 0;
    // test_timeout: no exception, not-done returned
    QTest::newRow("ALL_COMPLETED timeout") << "C E S B" << AC << 60 << "C E S"
                                           << "B" << 60;
    QTest::newRow("ALL_COMPLETED zero timeout") << "S P B" << AC << 0 << "S"
                                                << "P B" << 0;
    QTest::newRow("empty FIRST_COMPLETED") << "" << FC << -1 << ""
                                           << "" << 0;
    QTest::newRow("empty FIRST_EXCEPTION") << "" << FE << -1 << ""
                                           << "" << 0;
    QTest::newRow("empty ALL_COMPLETED") << "" << AC << -1 << ""
                                         << "" << 0;
}

void TstWaiting::waitRules()
{
    QFETCH(QString, spec);
    QFETCH(ReturnWhen, when);
    QFETCH(int, timeoutMs);
    QFETCH(QString, done);
    QFETCH(QString, notDone);
    QFETCH(int, minElapsedMs);

    Kit kit;
    const auto fs = kit.makeAll(spec);
    QVERIFY(kit.blockedRunning());

    Gate later = kit.later;
    std::thread opener([later] { later.open(); }); // "L"/"F" finish during the wait
    QElapsedTimer timer;
    timer.start();
    WaitResult<Future<int>> r;
    try {
        r = timeoutMs < 0 ? poolscope::wait(fs, when)
                          : poolscope::wait(fs, when, std::chrono::milliseconds(timeoutMs));
    } catch (...) {
        opener.join();
        QFAIL("wait() must not throw, not even on timeout");
    }
    const qint64 elapsed = timer.elapsed();
    opener.join();

    // Both lists keep input order.
    QCOMPARE(kit.names(r.done), done);
    QCOMPARE(kit.names(r.notDone), notDone);
    for (const auto& f : r.done)
        QVERIFY(f.done());
    if (minElapsedMs > 0)
        QVERIFY2(elapsed >= minElapsedMs - 1, // steady clock vs QElapsedTimer rounding
                 qPrintable(QStringLiteral("returned after %1 ms").arg(elapsed)));
}

void TstWaiting::waitDuplicatesOnce_data()
{
    QTest::addColumn<ReturnWhen>("when");
    QTest::newRow("FIRST_COMPLETED") << ReturnWhen::FirstCompleted;
    QTest::newRow("FIRST_EXCEPTION") << ReturnWhen::FirstException;
    QTest::newRow("ALL_COMPLETED") << ReturnWhen::AllCompleted;
}

void TstWaiting::waitDuplicatesOnce()
{
    QFETCH(ReturnWhen, when);
    Kit kit;
    auto s = kit.make("S");
    auto e = kit.make("E");
    auto b = kit.make("B");
    QVERIFY(kit.blockedRunning());
    const std::vector<Future<int>> fs{s, b, s, e, b, s, e};
    const auto r = poolscope::wait(fs, when, 20ms);
    QCOMPARE(kit.names(r.done), QStringLiteral("S E"));
    QCOMPARE(kit.names(r.notDone), QStringLiteral("B"));
}

void TstWaiting::waitOnMixedTypes()
{
    ThreadPoolExecutor pool(2);
    Gate gate;
    Future<int> a = pool.submit([] { return 1; });
    Future<QString> b = pool.submit([gate] {
        gate.wait();
        return QStringLiteral("b");
    });
    Future<void> c = pool.submit([] {});
    const std::vector<FutureBase> fs{a, b, c};
    const auto first = poolscope::wait(fs, ReturnWhen::AllCompleted, 20ms);
    QCOMPARE(first.done.size(), std::size_t(2));
    QCOMPARE(first.notDone.size(), std::size_t(1));
    QVERIFY(first.notDone.front() == FutureBase(b));
    gate.open();
    const auto all = poolscope::wait(fs);
    QCOMPARE(all.done.size(), std::size_t(3));
    QVERIFY(all.notDone.empty());
    QCOMPARE(b.result(), QStringLiteral("b"));
}

void TstWaiting::waitRejectsInvalidFuture()
{
    ThreadPoolExecutor pool(1);
    std::vector<Future<int>> fs{pool.submit([] { return 1; }), Future<int>()};
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, poolscope::wait(fs));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, asCompleted(fs));
}

void TstWaiting::waitLeavesNoCallbacksBehind_data()
{
    QTest::addColumn<ReturnWhen>("when");
    QTest::newRow("FIRST_COMPLETED") << ReturnWhen::FirstCompleted;
    QTest::newRow("FIRST_EXCEPTION") << ReturnWhen::FirstException;
    QTest::newRow("ALL_COMPLETED") << ReturnWhen::AllCompleted;
}

void TstWaiting::waitLeavesNoCallbacksBehind()
{
    // An event loop that polls wait(fs, 0) or waits FIRST_COMPLETED again
    // and again on a long task must not pile up callbacks on it (CPython
    // removes its waiter from every future when wait() returns).
    QFETCH(ReturnWhen, when);
    ThreadPoolExecutor pool(2);
    Gate gate;
    auto longTask = pool.submit([gate] {
        gate.wait();
        return 1;
    });
    auto quick = pool.submit([] { return 2; });
    QCOMPARE(quick.result(tst::kGuard), 2);
    longTask.addDoneCallback([](const FutureBase&) {}); // the user's own stays
    QCOMPARE(longTask.node()->pendingCallbacks(), 1);
    for (int i = 0; i < 10'000; ++i) {
        const auto r = poolscope::wait(std::vector{longTask}, when, 0ms);
        QCOMPARE(r.notDone.size(), std::size_t(1));
        const auto r2 = poolscope::wait(std::vector{longTask, quick}, ReturnWhen::FirstCompleted);
        QCOMPARE(r2.done.size(), std::size_t(1));
    }
    QCOMPARE(longTask.node()->pendingCallbacks(), 1);
    gate.open();
    QCOMPARE(longTask.result(tst::kGuard), 1);
    // The worker publishes the result before it runs the callbacks.
    QTRY_COMPARE(longTask.node()->pendingCallbacks(), 0);
}

void TstWaiting::asCompletedGivenUpLeavesNoCallbacks()
{
    ThreadPoolExecutor pool(2);
    Gate gate;
    auto longTask = pool.submit([gate] {
        gate.wait();
        return 1;
    });
    auto quick = pool.submit([] { return 2; });
    QCOMPARE(quick.result(tst::kGuard), 2);
    for (int i = 0; i < 1000; ++i) {
        auto it = poolscope::asCompleted(std::vector{quick, longTask}, 0ms);
        QCOMPARE(it.next()->result(), 2);
        QVERIFY_THROWS_EXCEPTION(TimeoutError, it.next());
    } // each iterator unregisters from longTask here
    QCOMPARE(longTask.node()->pendingCallbacks(), 0);
    gate.open();
    QCOMPARE(longTask.result(tst::kGuard), 1);
}

void TstWaiting::removeCallbackRacesCompletion()
{
    // Removal and completion race: every callback either runs exactly once
    // or is removed (removeCallback() says which), never both, never lost.
    ThreadPoolExecutor pool(2);
    for (int round = 0; round < 200; ++round) {
        Gate gate;
        auto f = pool.submit([gate] {
            gate.wait();
            return 0;
        });
        constexpr int kCallbacks = 50;
        auto ran = std::make_shared<std::array<std::atomic<int>, kCallbacks>>();
        std::vector<detail::TaskNode::CallbackToken> tokens;
        for (int i = 0; i < kCallbacks; ++i)
            tokens.push_back(f.node()->addCallback([ran, i](detail::TaskNode&) { ++(*ran)[i]; }));
        std::vector<bool> removed(kCallbacks, false);
        std::thread remover([&] {
            for (int i = 0; i < kCallbacks; i += 2)
                removed[std::size_t(i)] = f.node()->removeCallback(tokens[std::size_t(i)]);
        });
        gate.open();
        QCOMPARE(f.result(tst::kGuard), 0);
        remover.join();
        QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
        for (int i = 0; i < kCallbacks; ++i) {
            const int runs = (*ran)[std::size_t(i)].load();
            QVERIFY2(runs == (removed[std::size_t(i)] ? 0 : 1),
                     qPrintable(QStringLiteral("round %1 callback %2 ran %3 times, removed %4")
                                    .arg(round)
                                    .arg(i)
                                    .arg(runs)
                                    .arg(removed[std::size_t(i)])));
        }
        QVERIFY(!f.node()->removeCallback(tokens[1])); // ran: nothing to remove
        QVERIFY(!f.node()->removeCallback(0));
    }
}

void TstWaiting::waitPendingCallsRace()
{
    // CPython issue #14406: many futures finishing while wait() registers.
    ThreadPoolExecutor pool(4);
    for (int round = 0; round < 20; ++round) {
        Gate gate;
        std::vector<Future<int>> fs;
        for (int i = 0; i < 100; ++i)
            fs.push_back(pool.submit([gate, i] {
                gate.wait();
                return i;
            }));
        gate.open();
        const auto r = poolscope::wait(fs, ReturnWhen::AllCompleted);
        QCOMPARE(r.done.size(), std::size_t(100));
        QVERIFY(r.notDone.empty());
    }
}

void TstWaiting::asCompletedAlreadyFinishedFirst()
{
    // Python's test_no_timeout, with the completion order under our control.
    ThreadPoolExecutor pool(4);
    Kit kit;
    Gate g1;
    Gate g2;
    auto l1 = pool.submit([g1] {
        g1.wait();
        return 1;
    });
    auto l2 = pool.submit([g2] {
        g2.wait();
        return 2;
    });
    auto s = kit.make("S");
    auto c = kit.make("C");
    auto e = kit.make("E");
    AsCompleted<Future<int>> ac(std::vector<Future<int>>{l1, s, c, l2, e});

    std::set<QString> first;
    for (int i = 0; i < 3; ++i) {
        auto f = ac.next();
        QVERIFY(f.has_value());
        QVERIFY(f->done());
        first.insert(kit.name(*f));
    }
    QCOMPARE(first, (std::set<QString>{"S", "C", "E"}));
    g2.open(); // l2 finishes first, so it comes first
    auto f = ac.next();
    QVERIFY(f.has_value());
    QVERIFY(*f == l2);
    g1.open();
    f = ac.next();
    QVERIFY(f.has_value());
    QVERIFY(*f == l1);
    QVERIFY(!ac.next().has_value());
    QVERIFY(!ac.next().has_value()); // stays exhausted
}

void TstWaiting::asCompletedDuplicatesOnce()
{
    // Python's test_duplicate_futures.
    ThreadPoolExecutor pool(2);
    Gate gate;
    auto a = pool.submit([] { return 1; });
    auto b = pool.submit([gate] {
        gate.wait();
        return 2;
    });
    a.waitForDone();
    const std::vector<Future<int>> fs{a, a, b, a, b};
    int yields = 0;
    std::set<quint64> ids;
    auto ac = asCompleted(fs);
    gate.open();
    while (auto f = ac.next()) {
        ++yields;
        ids.insert(f->id());
    }
    QCOMPARE(yields, 2);
    QCOMPARE(ids, (std::set<quint64>{a.id(), b.id()}));
}

void TstWaiting::asCompletedTimeoutMessage_data()
{
    QTest::addColumn<int>("timeoutMs");
    QTest::newRow("zero") << 0; // Python's test_zero_timeout
    QTest::newRow("20 ms") << 20;
}

void TstWaiting::asCompletedTimeoutMessage()
{
    // Python's test_correct_timeout_exception_msg: finished futures are
    // yielded first even when the time is already up; then TimeoutError names
    // the count of unfinished futures out of the (unique) total.
    QFETCH(int, timeoutMs);
    Kit kit;
    const auto fs = kit.makeAll("C P B S");
    QVERIFY(kit.blockedRunning());
    auto ac = asCompleted(fs, std::chrono::milliseconds(timeoutMs));
    std::set<QString> yielded;
    for (int i = 0; i < 2; ++i) {
        auto f = ac.next();
        QVERIFY(f.has_value());
        yielded.insert(kit.name(*f));
    }
    QCOMPARE(yielded, (std::set<QString>{"C", "S"}));
    try {
        (void)ac.next();
        QFAIL("no TimeoutError");
    } catch (const TimeoutError& e) {
        QCOMPARE(QByteArray(e.what()), QByteArray("2 (of 4) futures unfinished"));
    }
    // Duplicates do not count twice in the total either.
    auto dup = asCompleted(std::vector<Future<int>>{fs[1], fs[2], fs[1]}, 0ms);
    try {
        (void)dup.next();
        QFAIL("no TimeoutError");
    } catch (const TimeoutError& e) {
        QCOMPARE(QByteArray(e.what()), QByteArray("2 (of 2) futures unfinished"));
    }
}

void TstWaiting::asCompletedTimeoutCountsFromCall()
{
    // The deadline is fixed when asCompleted() is called, not per next():
    // once it has passed, next() on an unfinished future raises at once.
    const auto timeout = 1000ms;
    ThreadPoolExecutor pool(2);
    Gate gate;
    auto blocked = pool.submit([gate] {
        gate.wait();
        return 0;
    });
    auto ac = asCompleted(std::vector<Future<int>>{blocked}, timeout);
    const Deadline passed = Deadline::after(timeout);
    // A task that simulates work until the deadline is behind us.
    pool.submit([passed] {
            while (!passed.expired())
                std::this_thread::sleep_for(5ms);
        })
        .result();
    QElapsedTimer timer;
    timer.start();
    QVERIFY_THROWS_EXCEPTION(TimeoutError, ac.next());
    // Counted per next(), it would have waited the whole timeout again.
    QVERIFY2(timer.elapsed() < 1000, qPrintable(QString::number(timer.elapsed())));
    TST_COMPARE_STATE(blocked, FutureState::Running); // the timeout does not touch the task
}

void TstWaiting::asCompletedRangeFor()
{
    ThreadPoolExecutor pool(4);
    std::vector<Future<int>> fs;
    for (int i = 0; i < 50; ++i)
        fs.push_back(pool.submit([i] { return i; }));
    std::set<quint64> seen;
    int sum = 0;
    for (const Future<int>& f : asCompleted(fs, 30s)) {
        QVERIFY(f.done());
        QVERIFY(seen.insert(f.id()).second);
        sum += f.result();
    }
    QCOMPARE(seen.size(), std::size_t(50));
    QCOMPARE(sum, 49 * 50 / 2);
}

void TstWaiting::asCompletedEmpty()
{
    std::vector<Future<int>> none;
    auto ac = asCompleted(none, 0ms);
    QVERIFY(ac.begin() == ac.end());
    QVERIFY(!ac.next().has_value()); // no TimeoutError: nothing is unfinished
}

QTEST_GUILESS_MAIN(TstWaiting)
#include "tst_waiting.moc"
