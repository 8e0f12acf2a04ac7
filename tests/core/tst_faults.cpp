// Fault injection (issue "Reliability gates"). Many tasks, while things go
// wrong on purpose, and then an exact account of every single task.
//
// Process pool: workers are SIGKILLed at random by a killer loop in the test
// thread, ~0.5% of tasks SIGSEGV themselves, ~0.5% sleep past their per-task
// timeout, ~1% throw, and some pending futures are cancelled. Every task
// creates a marker file with O_EXCL first, so a task that ran twice fails
// loudly ("ran twice") instead of passing silently.
//
// Thread pool: tasks that throw, cancels of pending futures from another
// thread, requestStop() of running tasks from that thread, and live resizes
// from a third thread, over >= 100k tasks; each task bumps a per-id run
// counter. Also runs under TSan (build/tsan), where it must stay silent.
//
// Bad inputs the other tests do not cover: invalid process-pool options, a
// function that was never registered, a result the parent cannot decode.
//
// Counts scale with POOLSCOPE_STRESS_SCALE (a factor, default 1).
// This binary is its own process-pool worker (see tst_processpool.cpp).

#include "procwatch.h"
#include "testutil.h"

#include <poolscope/processpool.h>
#include <poolscope/threadpool.h>
#include <poolscope/worker.h>

#include <QDir>
#include <QElapsedTimer>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <memory>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

using namespace poolscope;
using namespace std::chrono_literals;

namespace {

/// POOLSCOPE_STRESS_SCALE times n, at least `floor`.
int scaled(int n, int floor = 1)
{
    bool ok = false;
    const double f = qEnvironmentVariable("POOLSCOPE_STRESS_SCALE").toDouble(&ok);
    return std::max(floor, int(double(n) * (ok && f > 0 ? f : 1.0)));
}

/// splitmix64: a fixed, well-mixed function of the id, so the faulty ids are
/// the same on every run (and in the worker processes).
quint64 mix(quint64 x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

enum Mode : int { Normal = 0, Segv = 1, Oversleep = 2, Throw = 3, Slow = 4, Posted = 5 };

/// Process pool: 0.5% SIGSEGV, 0.5% oversleep their timeout, 1% throw.
Mode processMode(qint64 id)
{
    const quint64 h = mix(quint64(id)) % 1000;
    return h < 5 ? Segv : h < 10 ? Oversleep : h < 20 ? Throw : Normal;
}

/// Thread pool: 1% throw, 0.5% run slowly (polling stopRequested), 1% posted.
Mode threadMode(qint64 id)
{
    const quint64 h = mix(quint64(id) + 7) % 1000;
    return h < 10 ? Throw : h < 15 ? Slow : h < 25 ? Posted : Normal;
}

QString describe(const std::exception_ptr& e)
{
    return QString::fromStdString(describeException(e));
}

} // namespace

// ---------------------------------------------------------------- test tasks
/// Marks dir/id with O_EXCL (a second run of the same id throws "ran twice"),
/// then misbehaves as its mode says.
static qint64 faultTask(QString dir, qint64 id, qint64 mode)
{
    const QByteArray path = (dir + QLatin1Char('/') + QString::number(id)).toLocal8Bit();
    const int fd = ::open(path.constData(), O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd < 0)
        throw std::runtime_error("task " + std::to_string(id) + " ran twice");
    ::close(fd);
    switch (mode) {
    case Segv: {
        const rlimit none{0, 0};
        ::setrlimit(RLIMIT_CORE, &none); // a core file per crash would only cost time
        // The default action, as in a build without sanitizers: ASan's own
        // SIGSEGV handler would report and abort (SIGABRT) instead.
        ::signal(SIGSEGV, SIG_DFL);
        ::raise(SIGSEGV);
        return -1;
    }
    case Oversleep:
        std::this_thread::sleep_for(60s); // far beyond its 300 ms timeout
        return -2;
    case Throw:
        throw std::runtime_error("injected failure " + std::to_string(id));
    default:
        return id;
    }
}
POOLSCOPE_TASK(faultTask, "marks its id once, then succeeds, crashes, hangs or throws");

static qint64 notRegistered(qint64 x)
{
    return x;
}
static qint64 echo(qint64 x)
{
    return x;
}
POOLSCOPE_TASK(echo, "returns x");
// "skewed" is registered in main(): returning an integer in this (parent)
// process and a string in the workers, as when $POOLSCOPE_WORKER points at an
// older worker build. The parent cannot decode the worker's result.
static qint64 skewedParent()
{
    return 1;
}
static QString skewedWorker()
{
    return QStringLiteral("one");
}

class TstFaults : public QObject {
    Q_OBJECT

    static bool markerExists(const QString& dir, qint64 id)
    {
        return QFileInfo::exists(dir + QLatin1Char('/') + QString::number(id));
    }

private slots:
    void processPoolUnderFire();
    void threadPoolUnderFire();
    void badProcessPoolOptionsRejected_data();
    void badProcessPoolOptionsRejected();
    void badSubmissionsFailOneFuture();
    void nullCallableFailsItsFuture();
};

void TstFaults::processPoolUnderFire()
{
    const int n = scaled(10000, 200);
    const int threadsBefore = procwatch::threadCount();
    QTemporaryDir marks;
    QVERIFY(marks.isValid());

    QSet<qint64> seenPids;
    std::unique_ptr<std::atomic<int>[]> doneCalls(new std::atomic<int>[std::size_t(n) + 200]());
    std::vector<Future<qint64>> fs;
    fs.reserve(std::size_t(n));
    std::vector<char> cancelledByUs(std::size_t(n), 0);
    int kills = 0, cancels = 0;
    QElapsedTimer wall;
    wall.start();
    {
        ProcessPoolOptions o;
        o.maxWorkers = 2;
        o.workerProgram = QCoreApplication::applicationFilePath();
        o.terminateGrace = 300ms;
        ProcessPoolExecutor pool(o);

        for (int i = 0; i < n; ++i) {
            const Mode m = processMode(i);
            TaskOptions t;
            if (m == Oversleep)
                t.timeout = 300ms;
            fs.push_back(pool.submitWith(t, &faultTask, marks.path(), qint64(i), qint64(m)));
            fs.back().addDoneCallback(
                [&doneCalls, i](const FutureBase&) { doneCalls[std::size_t(i)].fetch_add(1); });
        }

        // The killer: SIGKILL a random worker about once per 100 completed
        // tasks (~1%), and cancel a random not-yet-run future about once per
        // 200. The pace of this loop is polling, not a wait for a result.
        QRandomGenerator rng(20240611);
        quint64 nextKill = 100, nextCancel = 50;
        const qint64 limitMs = 600'000;
        while (pool.counters().completed() < quint64(n) && wall.elapsed() < limitMs) {
            const QList<qint64> pids = pool.workerPids();
            for (qint64 p : pids)
                seenPids.insert(p);
            const quint64 done = pool.counters().completed();
            if (done >= nextKill) {
                if (!pids.isEmpty()
                    && ::kill(pid_t(pids.at(int(rng.bounded(quint32(pids.size()))))), SIGKILL) == 0)
                    ++kills;
                nextKill += 100;
            }
            // Mostly tasks written ahead into the workers' pipes (up to 64
            // each, just past the last completion) and the ones running:
            // a cancel() that returns true there must win against the
            // worker's start (the gate, docs/library.md), so a cancelled
            // task never runs (checked below by its marker file).
            if (done >= nextCancel && done < quint64(n)) {
                const quint32 span = quint32(std::min<quint64>(300, quint64(n) - done));
                const int i = int(done + rng.bounded(span));
                if (fs[std::size_t(i)].cancel() && !cancelledByUs[std::size_t(i)]) {
                    cancelledByUs[std::size_t(i)] = 1;
                    ++cancels;
                }
                nextCancel += 200;
            }
            QTest::qSleep(2);
        }
        QVERIFY2(wall.elapsed() < limitMs, "the process pool stopped making progress");

        // ---- every future ended exactly once, with the right outcome
        int ok = 0, failed = 0, cancelled = 0, crashed = 0, timeouts = 0, thrown = 0, segvSeen = 0;
        int segvPreempted = 0, sleepPreempted = 0, throwPreempted = 0; // killed or cancelled first
        auto preempted = [&](Mode m) {
            segvPreempted += m == Segv;
            sleepPreempted += m == Oversleep;
            throwPreempted += m == Throw;
        };
        for (int i = 0; i < n; ++i) {
            const auto& f = fs[std::size_t(i)];
            QVERIFY2(f.waitForDone(60s), qPrintable(QStringLiteral("task %1 never ended").arg(i)));
            QCOMPARE(doneCalls[std::size_t(i)].load(), 1);
            const Mode m = processMode(i);
            if (f.cancelled()) {
                ++cancelled;
                preempted(m);
                QVERIFY2(cancelledByUs[std::size_t(i)], qPrintable(QString::number(i)));
                QVERIFY2(!markerExists(marks.path(), i),
                         qPrintable(QStringLiteral("cancelled task %1 ran").arg(i)));
                continue;
            }
            QCOMPARE(QByteArray(nameOf(f.state())), QByteArray("finished"));
            const std::exception_ptr e = f.exception();
            if (!e) {
                ++ok;
                QVERIFY2(
                    m == Normal,
                    qPrintable(QStringLiteral("task %1 (mode %2) succeeded").arg(i).arg(int(m))));
                QCOMPARE(f.result(), qint64(i));
                QVERIFY(markerExists(marks.path(), i));
                continue;
            }
            ++failed;
            const QString text = describe(e);
            QVERIFY2(!text.contains(QStringLiteral("ran twice")), qPrintable(text));
            try {
                std::rethrow_exception(e);
            } catch (const WorkerCrashed&) {
                // A kill can hit any task; a SIGSEGV task always ends here.
                ++crashed;
                if (text.contains(QStringLiteral("SIGSEGV"))) {
                    QCOMPARE(int(m), int(Segv));
                    ++segvSeen;
                } else {
                    preempted(m); // our SIGKILL (or 3 lost dispatches) came first
                }
            } catch (const TimeoutError&) {
                QCOMPARE(int(m), int(Oversleep));
                QVERIFY2(text.contains(QStringLiteral("timeout of 300 ms")), qPrintable(text));
                ++timeouts;
            } catch (const std::runtime_error&) {
                // A task's own exception crosses with its type and text.
                QCOMPARE(int(m), int(Throw));
                QVERIFY2(
                    text.contains(QStringLiteral("std::runtime_error: injected failure %1").arg(i)),
                    qPrintable(text));
                ++thrown;
            } catch (...) {
                QFAIL(qPrintable(QStringLiteral("task %1: unexpected error %2").arg(i).arg(text)));
            }
        }
        qInfo("process pool: %d tasks, %d ok, %d failed (%d worker crashed, %d SIGSEGV, "
              "%d timeouts, %d thrown), %d cancelled, %d kills, %d worker pids seen, %lld ms",
              n, ok, failed, crashed, segvSeen, timeouts, thrown, cancelled, kills,
              int(seenPids.size()), wall.elapsed());
        QCOMPARE(ok + failed + cancelled, n);
        // The cancel check above is not vacuous: about one cancel per 200
        // completions, of a task among the next 300 (most not started yet,
        // so it succeeds).
        QVERIFY2(n < 1000 || cancels >= n / 400, qPrintable(QString::number(cancels)));
        QCOMPARE(cancelled, cancels);

        // Every injected fault is accounted for: it happened, or a kill (or a
        // cancel) got there first. The killer is random, so only require that
        // each kind of fault was seen at all.
        QHash<int, int> idsOf;
        for (int i = 0; i < n; ++i)
            ++idsOf[processMode(i)];
        QCOMPARE(segvSeen + segvPreempted, idsOf.value(Segv));
        QCOMPARE(timeouts + sleepPreempted, idsOf.value(Oversleep));
        QCOMPARE(thrown + throwPreempted, idsOf.value(Throw));
        QVERIFY2(segvSeen > 0 && timeouts > 0 && thrown > 0,
                 qPrintable(QStringLiteral("%1 %2 %3").arg(segvSeen).arg(timeouts).arg(thrown)));
        QVERIFY2(kills >= n / 200, qPrintable(QString::number(kills)));

        // Nothing ran twice, cancelled tasks never ran: at most one marker
        // per task that was not cancelled.
        const int markers = int(QDir(marks.path()).entryList(QDir::Files).size());
        QVERIFY(markers >= ok + thrown + timeouts);
        QVERIFY(markers <= n - cancelled);

        // ---- the counters match the futures exactly
        QVERIFY(pool.waitForIdle(Deadline::after(60s)));
        Counters c = pool.counters();
        QCOMPARE(c.submitted, quint64(n));
        QCOMPARE(c.succeeded, quint64(ok));
        QCOMPARE(c.failed, quint64(failed));
        QCOMPARE(c.cancelled, quint64(cancelled));
        QCOMPARE(c.queued, quint64(0));
        QCOMPARE(c.running, quint64(0));

        // ---- the pool ends healthy: a final batch all succeeds
        QVERIFY(!pool.isBroken());
        std::vector<Future<qint64>> last;
        for (int i = n; i < n + 200; ++i)
            last.push_back(pool.submit(&faultTask, marks.path(), qint64(i), qint64(Normal)));
        for (int i = 0; i < 200; ++i)
            QCOMPARE(last[std::size_t(i)].result(60s), qint64(n + i));
        for (qint64 p : pool.workerPids())
            seenPids.insert(p);
        c = pool.counters();
        QCOMPARE(c.submitted, quint64(n + 200));
        QCOMPARE(c.succeeded, quint64(ok + 200));
        QCOMPARE(c.completed(), quint64(n + 200));

    } // ~ProcessPoolExecutor

    // ---- no worker process is left, none unreaped, no thread leaked
    for (qint64 pid : std::as_const(seenPids))
        QTRY_VERIFY2(!procwatch::isOurChild(pid), qPrintable(QString::number(pid)));
    QTRY_VERIFY(procwatch::workerChildren().isEmpty());
    const QString unreaped = procwatch::unreapedChildren();
    QVERIFY2(unreaped.isEmpty(), qPrintable(unreaped));
    QTRY_COMPARE(procwatch::threadCount(), threadsBefore);
}

void TstFaults::threadPoolUnderFire()
{
    const int n = scaled(100000, 1000);
    const int threadsBefore = procwatch::threadCount();
    QElapsedTimer wall;
    wall.start();

    std::unique_ptr<std::atomic<int>[]> runs(new std::atomic<int>[std::size_t(n) + 1000]());
    std::unique_ptr<std::atomic<int>[]> stoppedInRun(new std::atomic<int>[std::size_t(n)]());
    std::unique_ptr<std::atomic<int>[]> doneCalls(new std::atomic<int>[std::size_t(n)]());
    std::vector<Future<qint64>> fs(static_cast<std::size_t>(n)); // empty for posted tasks
    std::vector<int> slowIds;
    for (int i = 0; i < n; ++i)
        if (threadMode(i) == Slow)
            slowIds.push_back(i);

    std::atomic<int> published{0}; // fs[0, published) are set (release/acquire)
    std::atomic<bool> stop{false};
    std::atomic<int> cancelCalls{0}, cancelTrue{0}, stopRequests{0}, resizes{0};
    {
        ThreadPoolOptions o;
        o.maxWorkers = 4;
        o.threadNamePrefix = QStringLiteral("faults");
        ThreadPoolExecutor pool(o);

        // Canceller / stopper: cancels pending futures near the tail of the
        // queue and asks running slow tasks to stop.
        std::thread canceller([&] {
            QRandomGenerator rng(42);
            std::size_t nextSlow = 0;
            while (!stop.load()) {
                const int p = published.load(std::memory_order_acquire);
                if (p > 0) {
                    const int i = p - 1 - int(rng.bounded(quint32(std::min(p, 4000))));
                    auto& f = fs[std::size_t(i)];
                    if (f.isValid()) {
                        ++cancelCalls;
                        if (rng.bounded(4) == 0 ? f.requestStop() : f.cancel())
                            ++cancelTrue;
                    }
                }
                // Slow tasks that are running now get a stop request.
                for (std::size_t k = nextSlow; k < slowIds.size() && slowIds[k] < p; ++k) {
                    auto& f = fs[std::size_t(slowIds[k])];
                    if (f.running() && f.requestStop())
                        ++stopRequests;
                    if (k == nextSlow && f.done())
                        ++nextSlow;
                }
                std::this_thread::yield();
            }
        });
        // Resizer: grows and shrinks the pool every few milliseconds.
        std::thread resizer([&] {
            QRandomGenerator rng(7);
            while (!stop.load()) {
                pool.setMaxWorkers(1 + int(rng.bounded(8)));
                ++resizes;
                std::this_thread::sleep_for(std::chrono::milliseconds(1 + rng.bounded(4)));
            }
        });

        for (int i = 0; i < n; ++i) {
            const Mode m = threadMode(i);
            auto* r = &runs[std::size_t(i)];
            auto* stopped = &stoppedInRun[std::size_t(i)];
            auto body = [r, stopped, m, i](TaskContext& ctx) -> qint64 {
                r->fetch_add(1, std::memory_order_relaxed);
                if (m == Throw)
                    throw std::runtime_error("injected failure " + std::to_string(i));
                if (m == Slow) {
                    const auto end = std::chrono::steady_clock::now() + 20ms;
                    while (std::chrono::steady_clock::now() < end) {
                        if (ctx.stopRequested()) {
                            stopped->store(1, std::memory_order_relaxed);
                            throw CancelledError("stopped on request");
                        }
                        std::this_thread::sleep_for(100us);
                    }
                }
                return i;
            };
            TaskOptions t;
            t.priority = (i % 97 == 0) ? 1 : 0; // a second priority bucket
            if (m == Posted) {
                pool.postWith(t, body);
            } else {
                Future<qint64> f = pool.submitWith(t, body);
                f.addDoneCallback(
                    [&doneCalls, i](const FutureBase&) { doneCalls[std::size_t(i)].fetch_add(1); });
                fs[std::size_t(i)] = std::move(f);
            }
            published.store(i + 1, std::memory_order_release);
            if (i % 8192 == 0)
                std::this_thread::yield(); // let the queue drain now and then
        }
        for (int i = 0; i < n; ++i)
            if (fs[std::size_t(i)].isValid())
                QVERIFY2(fs[std::size_t(i)].waitForDone(120s), qPrintable(QString::number(i)));
        stop.store(true);
        canceller.join();
        resizer.join();
        pool.setMaxWorkers(4);
        QVERIFY(pool.waitForIdle(Deadline::after(120s)));

        int ok = 0, failed = 0, cancelled = 0, stoppedRunning = 0, posted = 0;
        for (int i = 0; i < n; ++i) {
            const Mode m = threadMode(i);
            const int ran = runs[std::size_t(i)].load();
            if (m == Posted) {
                ++posted;
                ++ok;
                QCOMPARE(ran, 1);
                continue;
            }
            const auto& f = fs[std::size_t(i)];
            QCOMPARE(doneCalls[std::size_t(i)].load(), 1);
            if (f.cancelled()) {
                ++cancelled;
                if (stoppedInRun[std::size_t(i)].load()) {
                    QCOMPARE(int(m), int(Slow)); // stopped while running: it ran once
                    QCOMPARE(ran, 1);
                    ++stoppedRunning;
                } else {
                    QVERIFY2(ran == 0,
                             qPrintable(
                                 QStringLiteral("cancelled task %1 ran %2 times").arg(i).arg(ran)));
                }
                QVERIFY_THROWS_EXCEPTION(CancelledError, f.result());
                continue;
            }
            QCOMPARE(QByteArray(nameOf(f.state())), QByteArray("finished"));
            QVERIFY2(ran == 1, qPrintable(QStringLiteral("task %1 ran %2 times").arg(i).arg(ran)));
            if (const auto e = f.exception()) {
                ++failed;
                QCOMPARE(int(m), int(Throw));
                try {
                    std::rethrow_exception(e);
                } catch (const std::runtime_error& err) {
                    QCOMPARE(QByteArray(err.what()),
                             QByteArray("injected failure ") + QByteArray::number(i));
                }
            } else {
                ++ok;
                QVERIFY(m != Throw);
                QCOMPARE(f.result(), qint64(i));
            }
        }
        QCOMPARE(ok + failed + cancelled, n);
        QVERIFY2(cancelled - stoppedRunning > 0, "no pending future was cancelled");
        QVERIFY2(stoppedRunning > 0, "no running task was stopped");
        QVERIFY(resizes.load() > 10);

        const Counters c = pool.counters();
        QCOMPARE(c.submitted, quint64(n));
        QCOMPARE(c.succeeded, quint64(ok));
        QCOMPARE(c.failed, quint64(failed));
        QCOMPARE(c.cancelled, quint64(cancelled));
        QCOMPARE(c.queued, quint64(0));
        QCOMPARE(c.running, quint64(0));

        // The pool ends healthy.
        QVERIFY(!pool.isBroken());
        std::vector<Future<int>> last;
        for (int i = 0; i < 1000; ++i)
            last.push_back(pool.submit([i] { return i * 2; }));
        for (int i = 0; i < 1000; ++i)
            QCOMPARE(last[std::size_t(i)].result(60s), i * 2);
        QCOMPARE(pool.counters().succeeded, quint64(ok + 1000));

        qInfo("thread pool: %d tasks (%d posted), %d ok, %d failed, %d cancelled (%d stopped "
              "while running), %d cancel/requestStop calls (%d true), %d stop requests, %d "
              "resizes, %lld ms",
              n, posted, ok, failed, cancelled, stoppedRunning, cancelCalls.load(),
              cancelTrue.load(), stopRequests.load(), resizes.load(), wall.elapsed());
    }
    QTRY_COMPARE(procwatch::threadCount(), threadsBefore); // every worker thread joined
}

void TstFaults::badProcessPoolOptionsRejected_data()
{
    QTest::addColumn<int>("workers");
    QTest::addColumn<int>("depth");
    QTest::addColumn<int>("perChild");
    QTest::addColumn<QString>("message");
    QTest::newRow("0 workers") << 0 << 2 << 0 << "max_workers must be greater than 0 (got 0)";
    QTest::newRow("-1 workers") << -1 << 2 << 0 << "max_workers must be greater than 0 (got -1)";
    QTest::newRow("1025 workers") << 1025 << 2 << 0
                                  << "max_workers 1025 is above the limit of 1024";
    QTest::newRow("pipelineDepth 0") << 1 << 0 << 0 << "pipelineDepth must be 1..64";
    QTest::newRow("pipelineDepth 65") << 1 << 65 << 0 << "pipelineDepth must be 1..64";
    QTest::newRow("maxTasksPerChild -1") << 1 << 2 << -1 << "maxTasksPerChild must be >= 0";
}

void TstFaults::badProcessPoolOptionsRejected()
{
    QFETCH(int, workers);
    QFETCH(int, depth);
    QFETCH(int, perChild);
    QFETCH(QString, message);
    const int threadsBefore = procwatch::threadCount();
    ProcessPoolOptions o;
    o.maxWorkers = workers;
    o.pipelineDepth = depth;
    o.maxTasksPerChild = perChild;
    o.workerProgram = QCoreApplication::applicationFilePath();
    try {
        ProcessPoolExecutor pool(o);
        QFAIL("expected InvalidArgument");
    } catch (const InvalidArgument& e) {
        QCOMPARE(QString::fromUtf8(e.what()), message);
    }
    if (workers > 0 && workers <= Executor::maxWorkersLimit()) {
        ProcessPoolExecutor pool(1);
        QVERIFY_THROWS_EXCEPTION(InvalidArgument, pool.setMaxWorkers(-workers));
    }
    // No supervisor thread left behind (QThread::wait() may return just
    // before the kernel drops the thread, hence QTRY).
    QTRY_COMPARE(procwatch::threadCount(), threadsBefore);
}

void TstFaults::badSubmissionsFailOneFuture()
{
    ProcessPoolOptions o;
    o.maxWorkers = 1;
    o.workerProgram = QCoreApplication::applicationFilePath();
    ProcessPoolExecutor pool(o);
    auto expectError = [](const FutureBase& f, const QString& text) {
        QVERIFY(f.waitForDone(60s));
        const std::exception_ptr e = f.exception();
        QVERIFY(e);
        try {
            std::rethrow_exception(e);
        } catch (const InvalidArgument& err) {
            QCOMPARE(QString::fromUtf8(err.what()), text);
        } catch (...) {
            QFAIL(qPrintable(describe(e)));
        }
    };
    // A function that was never registered: fails its own future, queues nothing.
    expectError(pool.submit(&notRegistered, 1),
                QStringLiteral("this function is not a registered task (use POOLSCOPE_TASK or "
                               "registerTask)"));
    QCOMPARE(pool.counters().submitted, quint64(0));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, pool.map(&notRegistered, std::vector<qint64>{1}));
    // A batch with one bad item, map with chunk size 0: refused, nothing queued.
    expectError(pool.submitNamedBatch(QStringLiteral("echo"), {{1}, {}}),
                QStringLiteral("item 2: task 'echo' takes 1 argument(s), got 0"));
    MapOptions zero;
    zero.chunkSize = 0;
    try {
        (void)pool.map(&echo, std::vector<qint64>{1, 2}, zero);
        QFAIL("map with chunkSize 0 must throw");
    } catch (const InvalidArgument& e) {
        QCOMPARE(QByteArray(e.what()), QByteArray("map: chunkSize must be >= 1"));
    }
    QCOMPARE(pool.counters().submitted, quint64(0));
    // A result the parent cannot decode (worker built from other sources).
    expectError(pool.submit(&skewedParent),
                QStringLiteral("the worker's result for task 'skewed' does not decode into "
                               "the expected type"));
    // Neither broke anything: the same worker goes on.
    QTemporaryDir marks;
    QCOMPARE(pool.submit(&faultTask, marks.path(), qint64(7), qint64(Normal)).result(60s),
             qint64(7));
    const Counters c = pool.counters();
    QCOMPARE(c.submitted, quint64(2));
    QCOMPARE(c.failed, quint64(1));
    QCOMPARE(c.succeeded, quint64(1));
    QVERIFY(!pool.isBroken());
}

void TstFaults::nullCallableFailsItsFuture()
{
    ThreadPoolExecutor pool(1);
    std::function<int()> empty;
    auto f = pool.submit(empty);
    QVERIFY(f.waitForDone(60s));
    QVERIFY_THROWS_EXCEPTION(std::bad_function_call, f.result());
    QCOMPARE(describe(f.exception()), QStringLiteral("std::bad_function_call: bad_function_call"));
    QCOMPARE(pool.submit([] { return 5; }).result(60s), 5); // the worker survived
    QCOMPARE(pool.counters().failed, quint64(1));
}

int main(int argc, char** argv)
{
    if (isWorkerInvocation(argc, argv)) {
        registerTask(QStringLiteral("skewed"), &skewedWorker);
        return runWorker(argc, argv);
    }
    registerTask(QStringLiteral("skewed"), &skewedParent);
    QCoreApplication app(argc, argv);
    TstFaults t;
    return QTest::qExec(&t, argc, argv);
}
#include "tst_faults.moc"
