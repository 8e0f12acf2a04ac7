// Destroying an executor is bounded (issue "Reliability gates"): with 100k
// tasks queued and every worker busy or hung, the destructor returns within
// its configured grace periods, every future ends (none is left pending for
// ever), no worker process is left running or unreaped, and no thread leaks.
//
//   ThreadPoolOptions::destroyGrace g: wait g for running tasks, ask them to
//     stop and cancel the queue, wait g again, then detach the stragglers
//     (with a warning). Bound asserted: 2g + 5 s (+ 10 s under TSan).
//   ProcessPoolOptions::shutdownGrace s + terminateGrace t: wait s, cancel the
//     queue and SIGTERM the workers, SIGKILL after t. Bound: s + t + 5 s.
//
// Also: cancelling at shutdown runs done callbacks that may call back into
// the process pool (no self-deadlock), and busy workers die with a parent
// that is killed without destroying its pool (no orphans).
//
// The bounds are correctness bounds with generous slack, not benchmarks: the
// figures themselves are printed (qInfo) and written up in docs/reliability.md.
// This binary is its own process-pool worker (see tst_processpool.cpp).

#include "procwatch.h"
#include "testutil.h"

#include <poolscope/processpool.h>
#include <poolscope/threadpool.h>
#include <poolscope/worker.h>

#include <QElapsedTimer>
#include <QProcess>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QtTest>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <unistd.h>

using namespace poolscope;
using namespace std::chrono_literals;

#ifdef POOLSCOPE_UNDER_TSAN
constexpr qint64 kSanitizerSlackMs = 10000;
#else
constexpr qint64 kSanitizerSlackMs = 0;
#endif

namespace {

constexpr int kQueued = 100'000;

/// Turns a hang into a failure: aborts the test binary (with a message) if
/// not disarmed in time. Destructors cannot be given a deadline any other way.
class HangGuard {
public:
    HangGuard(std::chrono::seconds limit, const char* what)
    {
        m_t = std::thread([this, limit, what] {
            std::unique_lock lk(m_m);
            if (!m_cv.wait_for(lk, limit, [this] { return m_done; })) {
                std::fprintf(stderr, "FATAL: %s did not return within %lld s\n", what,
                             static_cast<long long>(limit.count()));
                std::fflush(stderr);
                std::abort();
            }
        });
    }
    ~HangGuard()
    {
        {
            std::lock_guard lk(m_m);
            m_done = true;
        }
        m_cv.notify_all();
        m_t.join();
    }

private:
    std::mutex m_m;
    std::condition_variable m_cv;
    bool m_done = false;
    std::thread m_t;
};

enum class Busy { HonoursStop, IgnoresStop, Hung };

} // namespace

// ------------------------------------------------- process-pool test tasks
/// Burns CPU until the process is terminated (default SIGTERM action).
static qint64 spinForever()
{
    volatile quint64 x = 0;
    for (;;)
        x = x + 1;
}
POOLSCOPE_TASK(spinForever, "busy loop, dies on SIGTERM");
/// Ignores SIGTERM and sleeps for ever: only SIGKILL ends it.
static qint64 hangIgnoringTerm()
{
    ::signal(SIGTERM, SIG_IGN);
    for (;;)
        ::pause();
}
POOLSCOPE_TASK(hangIgnoringTerm, "hangs and ignores SIGTERM");

class TstShutdownBounds : public QObject {
    Q_OBJECT
private slots:
    void threadPoolDestroyIsBounded_data();
    void threadPoolDestroyIsBounded();
    void processPoolDestroyIsBounded_data();
    void processPoolDestroyIsBounded();
    void processPoolCancelCallbacksMayCallThePool_data();
    void processPoolCancelCallbacksMayCallThePool();
    void workersDieWithTheirParent();
};

void TstShutdownBounds::threadPoolDestroyIsBounded_data()
{
    QTest::addColumn<int>("busy");
    QTest::newRow("busy, honours stop") << int(Busy::HonoursStop);
    QTest::newRow("busy, ignores stop") << int(Busy::IgnoresStop);
    QTest::newRow("hung") << int(Busy::Hung);
}

void TstShutdownBounds::threadPoolDestroyIsBounded()
{
    QFETCH(int, busy);
    const auto kind = Busy(busy);
    constexpr int workers = 2;
    constexpr auto grace = 300ms;
    const int threadsBefore = procwatch::threadCount();

    tst::Gate release; // opens when this test function ends, whatever happens
    tst::Arrivals started;
    // The same body for the running and the queued tasks: a worker that gets
    // to the queue after the grace period is as busy as the first ones.
    auto body = [kind, release, started](TaskContext& ctx) {
        started.arrive();
        switch (kind) {
        case Busy::HonoursStop:
            while (!ctx.stopRequested())
                std::this_thread::sleep_for(1ms);
            break;
        case Busy::IgnoresStop: // "works" in 1 ms steps, never looks at the stop flag
            for (int i = 0; i < 30'000 && !release.isOpen(); ++i)
                std::this_thread::sleep_for(1ms);
            break;
        case Busy::Hung:
            release.wait();
            break;
        }
    };

    std::vector<Future<void>> fs;
    fs.reserve(kQueued + workers);
    qint64 destroyMs = 0;
    {
        ThreadPoolOptions o;
        o.maxWorkers = workers;
        o.destroyGrace = grace;
        o.threadNamePrefix = QStringLiteral("bounds");
        auto pool = std::make_unique<ThreadPoolExecutor>(o);
        for (int i = 0; i < workers; ++i)
            fs.push_back(pool->submit(body));
        QVERIFY(started.waitFor(workers));
        for (int i = 0; i < kQueued; ++i)
            fs.push_back(pool->submit(body));
        QCOMPARE(pool->counters().queued, quint64(kQueued));
        QCOMPARE(pool->counters().running, quint64(workers));

        if (kind == Busy::HonoursStop)
            QTest::failOnWarning(QRegularExpression(QStringLiteral("detaching")));
        else
            QTest::ignoreMessage(QtWarningMsg,
                                 QRegularExpression(QStringLiteral(
                                     "worker thread\\(s\\) still busy after the destroy grace "
                                     "period; detaching them")));
        HangGuard guard(60s, "~ThreadPoolExecutor");
        QElapsedTimer t;
        t.start();
        pool.reset();
        destroyMs = t.elapsed();
    }
    // TSan makes the 100k cancels at the end of the grace period ~20x slower.
    const qint64 bound = 2 * grace.count() + 5000 + kSanitizerSlackMs;
    qInfo("thread pool destroy with %d queued (%s): %lld ms (bound %lld ms)", kQueued,
          QTest::currentDataTag(), destroyMs, bound);
    QVERIFY2(destroyMs <= bound, qPrintable(QString::number(destroyMs)));

    // No queued future is left pending for ever: only tasks a worker still
    // holds may be unfinished when the destructor returns.
    int notDone = 0;
    for (const auto& f : fs)
        notDone += f.done() ? 0 : 1;
    QVERIFY2(notDone <= workers,
             qPrintable(QStringLiteral("%1 futures still pending").arg(notDone)));
    release.open(); // the hung tasks may finish now
    for (const auto& f : fs)
        QVERIFY(f.waitForDone(20s));
    // Every worker thread, detached or not, is gone.
    QTRY_COMPARE_WITH_TIMEOUT(procwatch::threadCount(), threadsBefore, 20000);
}

void TstShutdownBounds::processPoolDestroyIsBounded_data()
{
    QTest::addColumn<QString>("task");
    QTest::newRow("busy (dies on SIGTERM)") << QStringLiteral("spinForever");
    QTest::newRow("hung (ignores SIGTERM)") << QStringLiteral("hangIgnoringTerm");
}

void TstShutdownBounds::processPoolDestroyIsBounded()
{
    QFETCH(QString, task);
    constexpr int workers = 2;
    constexpr auto shutdownGrace = 300ms;
    constexpr auto terminateGrace = 300ms;
    const int threadsBefore = procwatch::threadCount();

    std::vector<Future<QCborValue>> fs;
    fs.reserve(kQueued + workers);
    QList<qint64> pids;
    qint64 destroyMs = 0;
    {
        ProcessPoolOptions o;
        o.maxWorkers = workers;
        o.workerProgram = QCoreApplication::applicationFilePath();
        o.shutdownGrace = shutdownGrace;
        o.terminateGrace = terminateGrace;
        auto pool = std::make_unique<ProcessPoolExecutor>(o);
        for (int i = 0; i < kQueued + workers; ++i)
            fs.push_back(pool->submitNamed(task, {}));
        QTRY_COMPARE_WITH_TIMEOUT(pool->counters().running, quint64(workers), 20000);
        pids = pool->workerPids();
        QCOMPARE(pids.size(), workers);

        HangGuard guard(60s, "~ProcessPoolExecutor");
        QElapsedTimer t;
        t.start();
        pool.reset();
        destroyMs = t.elapsed();
    }
    const qint64 bound = shutdownGrace.count() + terminateGrace.count() + 5000;
    qInfo("process pool destroy with %d queued (%s): %lld ms (bound %lld ms)", kQueued,
          QTest::currentDataTag(), destroyMs, bound);
    QVERIFY2(destroyMs <= bound, qPrintable(QString::number(destroyMs)));

    // Every future ended: the running ones failed, the queued ones were cancelled.
    int failed = 0, cancelled = 0;
    for (const auto& f : fs) {
        QVERIFY(f.done());
        if (f.cancelled()) {
            ++cancelled;
        } else {
            QVERIFY_THROWS_EXCEPTION(WorkerCrashed, f.result());
            ++failed;
        }
    }
    QCOMPARE(failed, workers);
    QCOMPARE(cancelled, kQueued);

    // No worker process is left, alive or zombie.
    for (qint64 pid : std::as_const(pids))
        QTRY_VERIFY2(!procwatch::isOurChild(pid), qPrintable(QString::number(pid)));
    QVERIFY(procwatch::workerChildren().isEmpty());
    const QString unreaped = procwatch::unreapedChildren();
    QVERIFY2(unreaped.isEmpty(), qPrintable(unreaped));
    // The supervisor thread is gone too.
    QTRY_COMPARE_WITH_TIMEOUT(procwatch::threadCount(), threadsBefore, 20000);
}

void TstShutdownBounds::processPoolCancelCallbacksMayCallThePool_data()
{
    QTest::addColumn<bool>("viaGrace");
    QTest::newRow("shutdown(cancelFutures)") << false;
    QTest::newRow("destructor after shutdownGrace") << true;
}

void TstShutdownBounds::processPoolCancelCallbacksMayCallThePool()
{
    // A done callback of a cancelled future may call back into the pool
    // (counters, isShutdown, a submit that gets ShutdownError), as on the
    // thread pool (tst_shutdown cancelledCallbacksMayCallTheExecutor). If the
    // pool cancelled under its own lock, this would self-deadlock.
    QFETCH(bool, viaGrace);
    ProcessPoolOptions o;
    o.maxWorkers = 1;
    o.pipelineDepth = 1;
    o.workerProgram = QCoreApplication::applicationFilePath();
    o.shutdownGrace = 300ms;
    o.terminateGrace = 300ms;
    auto pool = std::make_unique<ProcessPoolExecutor>(o);
    ProcessPoolExecutor* raw = pool.get();
    auto running = pool->submitNamed(QStringLiteral("spinForever"), {});
    QTRY_COMPARE_WITH_TIMEOUT(pool->counters().running, quint64(1), 20000);
    auto calls = std::make_shared<std::atomic<int>>(0);
    std::vector<Future<QCborValue>> queued;
    for (int i = 0; i < 20; ++i) {
        queued.push_back(pool->submitNamed(QStringLiteral("spinForever"), {}));
        queued.back().addDoneCallback([raw, calls](const FutureBase&) {
            (void)raw->counters();
            (void)raw->isShutdown();
            try {
                raw->submitNamed(QStringLiteral("spinForever"), {});
            } catch (const ShutdownError& e) {
                if (QByteArray(e.what()) == "cannot schedule new futures after shutdown")
                    calls->fetch_add(1);
            }
        });
    }
    HangGuard guard(60s, "cancelling futures whose callbacks call the pool");
    if (viaGrace) {
        pool.reset(); // grace runs out: the queue is cancelled on the supervisor thread
    } else {
        pool->shutdown(false, true);
        QCOMPARE(calls->load(), 20); // ran in this thread, before shutdown() returned
        pool->killWorkers();
        pool.reset();
    }
    QCOMPARE(calls->load(), 20);
    for (const auto& f : queued)
        QVERIFY(f.cancelled());
    QVERIFY(running.done());
}

void TstShutdownBounds::workersDieWithTheirParent()
{
    // A parent that dies without destroying its pool (crash, kill -9) must
    // not leave busy workers behind: an idle worker sees its stdin close,
    // but one in the middle of a long task never reads it.
    QProcess parent;
    parent.setProgram(QCoreApplication::applicationFilePath());
    parent.setArguments({QStringLiteral("--spawn-busy-pool")});
    parent.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    parent.start();
    QVERIFY(parent.waitForStarted(20000));
    QTRY_VERIFY_WITH_TIMEOUT(parent.canReadLine(), 20000);
    const qint64 worker = parent.readLine().trimmed().toLongLong();
    QVERIFY(worker > 0);
    // If this test fails, do not leave the orphan spinning for ever.
    const auto reapOrphan = qScopeGuard([worker] {
        procwatch::ProcStat s;
        if (procwatch::readStat(worker, &s) && s.state != 'Z'
            && procwatch::cmdline(worker).contains(QStringLiteral("--poolscope-worker")))
            ::kill(pid_t(worker), SIGKILL);
    });
    procwatch::ProcStat st;
    QVERIFY(procwatch::readStat(worker, &st));
    QCOMPARE(st.ppid, parent.processId());
    ::kill(pid_t(parent.processId()), SIGKILL);
    QVERIFY(parent.waitForFinished(20000));
    // Gone (or at worst a zombie waiting for init to reap it), not running.
    QTRY_VERIFY2_WITH_TIMEOUT(
        !procwatch::readStat(worker, &st) || st.state == 'Z',
        qPrintable(QStringLiteral("worker %1 outlived its parent").arg(worker)), 10000);
}

/// --spawn-busy-pool: starts a pool, keeps its one worker busy, prints the
/// worker's pid and waits to be killed.
static int spawnBusyPool(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    ProcessPoolOptions o;
    o.maxWorkers = 1;
    o.workerProgram = QCoreApplication::applicationFilePath();
    ProcessPoolExecutor pool(o);
    auto f = pool.submitNamed(QStringLiteral("spinForever"), {});
    while (pool.counters().running == 0)
        std::this_thread::sleep_for(5ms);
    std::printf("%lld\n", static_cast<long long>(pool.workerPids().value(0)));
    std::fflush(stdout);
    for (;;)
        ::pause();
}

int main(int argc, char** argv)
{
    if (isWorkerInvocation(argc, argv))
        return runWorker(argc, argv);
    if (argc > 1 && std::strcmp(argv[1], "--spawn-busy-pool") == 0)
        return spawnBusyPool(argc, argv);
    QCoreApplication app(argc, argv);
    TstShutdownBounds t;
    return QTest::qExec(&t, argc, argv);
}
#include "tst_shutdown_bounds.moc"
