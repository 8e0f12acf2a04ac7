// The MPI pool under `mpirun --oversubscribe -n 3`: rank 0 runs these cases,
// ranks 1 and 2 serve every pool the cases create, one after the other
// (static launch). One case also spawns ranks (dynamic launch).
#include "mpitest.h"

#include <poolscope/monitor.h>
#include <poolscope/processpool.h>
#include <poolscope/threadpool.h>
#include <poolscope/traceexport.h>
#include <poolscope/waiting.h>
#include <poolscope/workloads.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QSignalSpy>

#include <unistd.h>

using namespace poolscope;
using namespace std::chrono_literals;

namespace {
constexpr auto kGuard = 60s;

// Registered in this program, so the static worker ranks (this program too)
// know them; spawned ranks run poolscope-worker and know the built-ins only.
qint64 square(qint64 x)
{
    return x * x;
}
POOLSCOPE_TASK(square, "x * x");

qint64 failOn13(qint64 x)
{
    if (x == 13)
        throw std::runtime_error("thirteen");
    return x;
}
POOLSCOPE_TASK(failOn13, "x, but throws for 13");

/// The rank (MPI_COMM_WORLD) that ran it: shows where a task went.
qint64 whichRank(qint64 sleepMs)
{
    if (sleepMs > 0)
        ::usleep(useconds_t(sleepMs * 1000));
    int r = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}
POOLSCOPE_TASK(whichRank, "sleeps, then returns its MPI rank");

QString outcome(const Future<QCborValue>& f)
{
    if (f.state() == FutureState::Cancelled)
        return QStringLiteral("cancelled");
    if (f.node()->error)
        return QStringLiteral("error: ")
               + QString::fromStdString(describeException(f.node()->error));
    return QStringLiteral("ok: ") + QString::fromUtf8(f.result().toCbor().toHex());
}

/// A small run of a catalogue workload: at most 4 tasks, the default size
/// (the catalogue's defaults are demo-sized: well under a second a task).
WorkloadRun smallRun(const Workload& w)
{
    WorkloadRun run = w.defaultRun();
    WorkloadRun small = run;
    small.tasks = std::min(run.tasks, 4);
    if (w.findKnob(QStringLiteral("every"))) // throws: make failures happen in 4 tasks
        small.knobs.insert(QStringLiteral("every"), 2);
    if (Workloads::validate(w.name, small, QStringLiteral("process")).isEmpty())
        return small;
    return run;
}

QStringList runOn(Executor& ex, const Workload& w, const WorkloadRun& run)
{
    QList<Future<QCborValue>> fs = Workloads::submit(ex, w.name, run);
    QStringList out;
    for (auto& f : fs) {
        if (!f.waitForDone(kGuard))
            return {QStringLiteral("timed out")};
        out << outcome(f);
    }
    return out;
}
} // namespace

class TstMpiPool : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void staticLaunchUsesEveryWorkerRank();
    void resultsMatchLocalPools_data();
    void resultsMatchLocalPools();
    void monitorSeesEveryRank();
    void traceHasOneTrackPerRank();
    void mapWithChunks_data();
    void mapWithChunks();
    void mapChunkFailureCancelsTheRest();
    void asCompletedAndWait();
    void cancelPending();
    void noTaskWaitsBehindALongOneWhileARankIsIdle();
    void shutdownCancelFutures();
    void shutdownWaitsForRunningTasks();
    void poolsOneAfterAnother();
    void secondStaticPoolRefused();
    void setMaxWorkersShrinksAndRefusesGrowth();
    void pauseAndStep();
    void badInputFailsClearly();
    void spawnLaunch();
};

void TstMpiPool::initTestCase()
{
    int size = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size < 3)
        QSKIP("run under mpirun -n 3 (ctest does); this case needs two worker ranks");
    qInfo("MPI: %s; %d ranks on %s", qPrintable(mpi::libraryVersion()), size,
          qPrintable(mpi::hostName()));
}

void TstMpiPool::staticLaunchUsesEveryWorkerRank()
{
    MpiPoolExecutor pool;
    QCOMPARE(pool.launchMode(), QStringLiteral("static"));
    QCOMPARE(pool.kind(), QStringLiteral("mpi"));
    QCOMPARE(pool.maxWorkers(), 2);
    QCOMPARE(MpiPoolExecutor::defaultMaxWorkers(), 2);
    QVERIFY(pool.waitUntilReady(Deadline::after(kGuard)));
    // Enough 50 ms tasks that both ranks must take some.
    QList<Future<qint64>> fs;
    for (int i = 0; i < 8; ++i)
        fs << pool.submit(&whichRank, qint64(50));
    QSet<qint64> ranks;
    for (auto& f : fs)
        ranks.insert(f.result(kGuard));
    QCOMPARE(ranks, (QSet<qint64>{1, 2}));
    const Counters c = pool.counters();
    QCOMPARE(c.submitted, 8u);
    QCOMPARE(c.succeeded, 8u);
    QCOMPARE(c.queued + c.running + c.failed + c.cancelled, 0u);
}

void TstMpiPool::resultsMatchLocalPools_data()
{
    QTest::addColumn<QString>("name");
    // Every workload of the catalogue whose results depend only on its
    // arguments; crash and hang are about failure (a rank dying is
    // tst_mpi_rankdeath's business).
    for (const Workload& w : Workloads::all()) {
        if (w.processOnly)
            continue;
        QTest::newRow(qPrintable(w.name)) << w.name;
    }
}

void TstMpiPool::resultsMatchLocalPools()
{
    QFETCH(QString, name);
    const Workload* w = Workloads::find(name);
    QVERIFY(w);
    const WorkloadRun run = smallRun(*w);

    ThreadPoolExecutor threads(3);
    const QStringList onThreads = runOn(threads, *w, run);
    threads.shutdown();

    ProcessPoolOptions po;
    po.maxWorkers = 2;
    po.workerProgram = QStringLiteral(POOLSCOPE_WORKER_PATH);
    ProcessPoolExecutor processes(po);
    const QStringList onProcesses = runOn(processes, *w, run);
    processes.shutdown();

    MpiPoolExecutor ranks;
    const QStringList onRanks = runOn(ranks, *w, run);
    ranks.shutdown();

    QCOMPARE(onRanks.size(), qsizetype(run.tasks));
    QCOMPARE(onRanks, onThreads); // failures too: a task's exception keeps its type
    QCOMPARE(onRanks, onProcesses);
    if (name == QLatin1String("throws")) // the failure rows must be there to compare
        QVERIFY(onRanks.join(QLatin1Char('\n')).contains(QStringLiteral("error: ")));
}

void TstMpiPool::monitorSeesEveryRank()
{
    MpiPoolExecutor pool;
    MonitorOptions mo;
    mo.intervalMs = 20;
    Monitor monitor(mo);
    QSignalSpy spy(&monitor, &Monitor::snapshotReady);
    monitor.attach(&pool);
    QVERIFY(pool.waitUntilReady(Deadline::after(kGuard)));
    QList<Future<qint64>> fs;
    for (int i = 0; i < 6; ++i)
        fs << pool.submit(&whichRank, qint64(30));
    for (auto& f : fs)
        QVERIFY(f.waitForDone(kGuard));
    // Every rank, with its host, MPI rank and pid; the host's CPU arrives
    // with the second heartbeat (the first only primes /proc/stat).
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            const Snapshot& s = monitor.last();
            if (s.workers.size() != 2 || !s.hostCpu.contains(mpi::hostName()))
                return false;
            for (const auto& wi : s.workers)
                if (wi.host.isEmpty() || wi.pid <= 0)
                    return false;
            return true;
        }(),
        20000);
    const Snapshot s = monitor.last();
    QSet<int> ranks;
    for (const auto& wi : s.workers) {
        QCOMPARE(wi.host, mpi::hostName());
        QVERIFY(wi.pid != qint64(::getpid())); // a rank is another process
        QCOMPARE(wi.name, QStringLiteral("%1/rank %2").arg(wi.host).arg(wi.rank));
        ranks.insert(wi.rank);
    }
    QCOMPARE(ranks, (QSet<int>{1, 2}));
    const CpuUsage cpu = s.hostCpu.value(mpi::hostName());
    QVERIFY(cpu.valid);
    QCOMPARE(cpu.perCore.size(), qsizetype(sysconf(_SC_NPROCESSORS_ONLN)));
    QVERIFY(cpu.total >= 0.0 && cpu.total <= 1.0);
    // Spans name the worker that ran them; both ranks ran some. The rows
    // come with the tick after the futures finished and are drained in
    // slices, so the snapshot above may be ahead of the record.
    QTRY_COMPARE_WITH_TIMEOUT(monitor.record()->size(), quint64(6), 20000);
    QSet<int> spanWorkers;
    for (const TaskSpan sp : *monitor.record())
        spanWorkers.insert(sp.worker);
    QCOMPARE(spanWorkers, (QSet<int>{0, 1}));
    QCOMPARE(monitor.last().counters.succeeded, 6u);
    QVERIFY(spy.count() > 0);
    // The same monitor on a local pool next: no remote hosts carried over.
    ThreadPoolExecutor local(1);
    monitor.attach(&local);
    local.submit([] { return 1; }).result();
    monitor.tick();
    QVERIFY(monitor.last().hostCpu.isEmpty());
    monitor.detach();
}

void TstMpiPool::traceHasOneTrackPerRank()
{
    MpiPoolExecutor pool;
    MonitorOptions mo;
    mo.intervalMs = 20;
    Monitor monitor(mo);
    monitor.attach(&pool);
    QVERIFY(pool.waitUntilReady(Deadline::after(kGuard)));
    QList<Future<qint64>> fs;
    for (int i = 0; i < 6; ++i)
        fs << pool.submit(&whichRank, qint64(20));
    for (auto& f : fs)
        QVERIFY(f.waitForDone(kGuard));
    pool.shutdown();
    monitor.tick();
    TraceData td = monitor.traceData(QStringLiteral("mpi"));
    setWorkerPlaces(td, monitor.knownWorkers());
    QCOMPARE(td.poolKind, QStringLiteral("mpi"));
    QCOMPARE(td.workers.size(), 2);
    const QJsonObject doc = QJsonDocument::fromJson(toChromeTrace(td)).object();
    QMap<QString, int> sliceTid; // track name -> tid
    QMap<QString, QJsonObject> trackArgs;
    QMap<int, int> slicesPerTid;
    for (const auto& ev : doc.value(QStringLiteral("traceEvents")).toArray()) {
        const QJsonObject e = ev.toObject();
        if (e.value(QStringLiteral("ph")) == QLatin1String("M")
            && e.value(QStringLiteral("name")) == QLatin1String("thread_name")) {
            const QJsonObject args = e.value(QStringLiteral("args")).toObject();
            sliceTid.insert(args.value(QStringLiteral("name")).toString(),
                            e.value(QStringLiteral("tid")).toInt());
            trackArgs.insert(args.value(QStringLiteral("name")).toString(), args);
        }
        if (e.value(QStringLiteral("ph")) == QLatin1String("X")
            && e.value(QStringLiteral("name")) == QLatin1String("whichRank"))
            slicesPerTid[e.value(QStringLiteral("tid")).toInt()] += 1;
    }
    for (int r : {1, 2}) {
        const QString track = QStringLiteral("%1/rank %2").arg(mpi::hostName()).arg(r);
        QVERIFY2(sliceTid.contains(track), qPrintable(QStringList(sliceTid.keys()).join(", ")));
        QVERIFY(slicesPerTid.value(sliceTid.value(track)) > 0);
        // The track says where it ran: host and rank in its args.
        QCOMPARE(trackArgs.value(track).value(QStringLiteral("host")).toString(), mpi::hostName());
        QCOMPARE(trackArgs.value(track).value(QStringLiteral("rank")).toInt(), r);
    }
    QVERIFY(sliceTid.value(QStringLiteral("%1/rank 1").arg(mpi::hostName()))
            != sliceTid.value(QStringLiteral("%1/rank 2").arg(mpi::hostName())));
    int total = 0;
    for (int n : slicesPerTid)
        total += n;
    QCOMPARE(total, 6);
}

void TstMpiPool::mapWithChunks_data()
{
    QTest::addColumn<int>("n");
    QTest::addColumn<int>("chunk");
    QTest::addColumn<int>("maxInFlight");
    QTest::newRow("50 items, chunk 1") << 50 << 1 << 0;
    QTest::newRow("50 items, chunk 7") << 50 << 7 << 0;
    QTest::newRow("50 items, chunk 7, 2 in flight") << 50 << 7 << 2;
    QTest::newRow("50 items, chunk 100") << 50 << 100 << 0;
    QTest::newRow("1000 items, chunk 64") << 1000 << 64 << 3;
    QTest::newRow("no items") << 0 << 5 << 0;
}

void TstMpiPool::mapWithChunks()
{
    QFETCH(int, n);
    QFETCH(int, chunk);
    QFETCH(int, maxInFlight);
    MpiPoolExecutor pool;
    QList<qint64> in;
    for (int i = 0; i < n; ++i)
        in << qint64(i - 10);
    MapOptions mo;
    mo.chunkSize = std::size_t(chunk);
    mo.maxInFlight = std::size_t(maxInFlight);
    auto it = pool.map(&square, in, mo);
    const std::vector<qint64> out = it.toList();
    QCOMPARE(int(out.size()), n);
    for (int i = 0; i < n; ++i)
        QCOMPARE(out[std::size_t(i)], qint64(i - 10) * (i - 10));
    // One message per chunk.
    QCOMPARE(pool.counters().succeeded, quint64((n + chunk - 1) / chunk));
}

void TstMpiPool::mapChunkFailureCancelsTheRest()
{
    MpiPoolExecutor pool;
    QList<qint64> in;
    for (int i = 0; i < 40; ++i)
        in << i;
    MapOptions mo;
    mo.chunkSize = 5;
    auto it = pool.map(&failOn13, in, mo);
    QList<qint64> got;
    try {
        while (auto v = it.next())
            got << *v;
        QFAIL("the chunk holding 13 must raise");
    } catch (const std::runtime_error& e) { // the task's own exception type
        QCOMPARE(QString::fromUtf8(e.what()), QStringLiteral("thirteen"));
    }
    QCOMPARE(got, (QList<qint64>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})); // chunks before the bad one
    QVERIFY(pool.waitForIdle(Deadline::after(kGuard)));
    const Counters c = pool.counters();
    QCOMPARE(c.failed, 1u);
    QCOMPARE(c.submitted, 8u);
    QCOMPARE(c.succeeded + c.failed + c.cancelled, 8u);
}

void TstMpiPool::asCompletedAndWait()
{
    MpiPoolExecutor pool;
    std::vector<Future<qint64>> fs;
    for (qint64 ms : {300, 10, 10, 10})
        fs.push_back(pool.submit(&whichRank, ms));
    auto first = poolscope::wait(fs, ReturnWhen::FirstCompleted, kGuard);
    QVERIFY(!first.done.empty());
    int seen = 0;
    for (auto& f : asCompleted(fs, kGuard)) {
        QVERIFY(f.done());
        ++seen;
    }
    QCOMPARE(seen, 4);
    auto all = poolscope::wait(fs, ReturnWhen::AllCompleted, kGuard);
    QCOMPARE(all.done.size(), std::size_t(4));
    QCOMPARE(all.notDone.size(), std::size_t(0));
    // The 300 ms task was submitted first but is not the first to finish.
    QVERIFY(!fs[0].done() || first.done.front().result() != -1);
}

void TstMpiPool::cancelPending()
{
    MpiPoolExecutor pool;
    QVERIFY(pool.waitUntilReady(Deadline::after(kGuard)));
    pool.pause();
    QList<Future<qint64>> fs;
    for (int i = 0; i < 10; ++i)
        fs << pool.submit(&whichRank, qint64(0));
    for (int i = 0; i < 10; i += 2)
        QVERIFY(fs[i].cancel()); // pending: Python's cancel() succeeds
    QCOMPARE(pool.counters().cancelled, 5u);
    QCOMPARE(pool.counters().queued, 5u);
    pool.resume();
    for (int i = 0; i < 10; ++i) {
        QVERIFY(fs[i].waitForDone(kGuard));
        if (i % 2 == 0) {
            QCOMPARE(fs[i].state(), FutureState::Cancelled);
        } else {
            QVERIFY(!fs[i].cancel()); // finished: too late
            const qint64 rank = fs[i].result();
            QVERIFY(rank == 1 || rank == 2);
        }
    }
    const Counters c = pool.counters();
    QCOMPARE(c.succeeded, 5u);
    QCOMPARE(c.cancelled, 5u);
    QCOMPARE(c.queued + c.running, 0u);
}

void TstMpiPool::noTaskWaitsBehindALongOneWhileARankIsIdle()
{
    // Issue #16, as on the process pool (tst_processpool
    // noTaskWaitsBehindALongOneWhileAWorkerIsIdle): a task written ahead
    // behind a long one must not wait for it while the other rank idles; it
    // is taken back ('skip') and runs there. The rebalancing is the shared
    // engine's (core/src/remoteengine.cpp).
    MpiPoolExecutor pool;
    QVERIFY(pool.waitUntilReady(Deadline::after(kGuard)));
    QList<Future<qint64>> warm; // gives the pool an average task time
    for (int i = 0; i < 20; ++i)
        warm << pool.submit(&whichRank, qint64(1));
    for (auto& f : warm)
        QVERIFY(f.waitForDone(kGuard));
    auto longOne = pool.submit(&whichRank, qint64(1500));
    QList<Future<qint64>> shorts;
    for (int i = 0; i < 20; ++i)
        shorts << pool.submit(&whichRank, qint64(10));
    for (auto& f : shorts)
        QVERIFY(f.waitForDone(kGuard));
    QVERIFY2(!longOne.done(), "a short task waited behind the 1.5 s task on its rank");
    const qint64 longRank = longOne.result(kGuard);
    for (auto& f : shorts)
        QVERIFY2(f.result() != longRank, "a short task ran after the long one, on its rank");
    QCOMPARE(pool.counters().succeeded, 41u);
}

void TstMpiPool::shutdownCancelFutures()
{
    MpiPoolExecutor pool;
    QVERIFY(pool.waitUntilReady(Deadline::after(kGuard)));
    QList<Future<qint64>> fs;
    for (int i = 0; i < 12; ++i)
        fs << pool.submit(&whichRank, qint64(200));
    QTRY_COMPARE_WITH_TIMEOUT(pool.counters().running, 2u, 20000);
    pool.shutdown(true, true);
    int ok = 0, cancelled = 0;
    for (auto& f : fs) {
        QVERIFY(f.done());
        if (f.state() == FutureState::Cancelled) {
            ++cancelled;
        } else {
            QVERIFY(f.result() == 1 || f.result() == 2);
            ++ok;
        }
    }
    // What was running or already sent to a rank (pipelined) ran; the rest
    // was cancelled. Nothing is lost.
    QVERIFY(ok >= 2);
    QCOMPARE(ok + cancelled, 12);
    QVERIFY(cancelled >= 12 - 2 * 2);
    QVERIFY_THROWS_EXCEPTION(ShutdownError, pool.submit(&whichRank, qint64(0)));
    QVERIFY(pool.isShutdown());
    pool.shutdown(); // idempotent
}

void TstMpiPool::shutdownWaitsForRunningTasks()
{
    MpiPoolExecutor pool;
    QList<Future<qint64>> fs;
    for (int i = 0; i < 6; ++i)
        fs << pool.submit(&whichRank, qint64(50));
    pool.shutdown(true);
    for (auto& f : fs)
        QCOMPARE(f.state(), FutureState::Finished);
    QCOMPARE(pool.counters().succeeded, 6u);
    QCOMPARE(pool.workerCount(), 0);
}

void TstMpiPool::poolsOneAfterAnother()
{
    // Static ranks serve one pool after another; nothing of one session
    // leaks into the next.
    for (int round = 0; round < 4; ++round) {
        MpiPoolOptions o;
        o.maxWorkers = 1 + round % 2;
        MpiPoolExecutor pool(o);
        QList<Future<qint64>> fs;
        for (int i = 0; i < 5; ++i)
            fs << pool.submit(&square, qint64(round * 10 + i));
        for (int i = 0; i < 5; ++i)
            QCOMPARE(fs[i].result(kGuard), qint64(round * 10 + i) * (round * 10 + i));
    }
}

void TstMpiPool::secondStaticPoolRefused()
{
    MpiPoolExecutor first;
    try {
        MpiPoolExecutor second;
        QFAIL("a second static pool must be refused while the first holds the ranks");
    } catch (const InvalidArgument& e) {
        QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("another static")), e.what());
    }
    QCOMPARE(first.submit(&square, qint64(9)).result(kGuard), 81);
}

void TstMpiPool::setMaxWorkersShrinksAndRefusesGrowth()
{
    MpiPoolOptions o;
    o.maxWorkers = 5;
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, MpiPoolExecutor{o});
    MpiPoolExecutor pool;
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, pool.setMaxWorkers(3));
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, pool.setMaxWorkers(0));
    pool.setMaxWorkers(1);
    QCOMPARE(pool.maxWorkers(), 1);
    QList<Future<qint64>> fs;
    for (int i = 0; i < 6; ++i)
        fs << pool.submit(&whichRank, qint64(10));
    for (auto& f : fs)
        QCOMPARE(f.result(kGuard), 1); // only the first rank takes work
    pool.setMaxWorkers(2);
    fs.clear();
    for (int i = 0; i < 8; ++i)
        fs << pool.submit(&whichRank, qint64(40));
    QSet<qint64> ranks;
    for (auto& f : fs)
        ranks.insert(f.result(kGuard));
    QCOMPARE(ranks, (QSet<qint64>{1, 2}));
}

void TstMpiPool::pauseAndStep()
{
    MpiPoolExecutor pool;
    QVERIFY(pool.waitUntilReady(Deadline::after(kGuard)));
    pool.pause();
    QList<Future<qint64>> fs;
    for (int i = 0; i < 3; ++i)
        fs << pool.submit(&square, qint64(i));
    QTest::qWait(100); // paused: nothing may start (a lower bound, not a timing assertion)
    QCOMPARE(pool.counters().queued, 3u);
    pool.step();
    QTRY_COMPARE_WITH_TIMEOUT(pool.counters().succeeded, 1u, 20000);
    QCOMPARE(pool.counters().queued, 2u);
    pool.resume();
    for (auto& f : fs)
        QVERIFY(f.waitForDone(kGuard));
    QCOMPARE(pool.counters().succeeded, 3u);
}

void TstMpiPool::badInputFailsClearly()
{
    MpiPoolExecutor pool;
    auto unknown = pool.submitNamed(QStringLiteral("no_such_task"), {});
    QVERIFY(unknown.done());
    QVERIFY(outcome(unknown).contains(QStringLiteral("no_such_task")));
    auto arity = pool.submitNamed(QStringLiteral("square"), {1, 2});
    QVERIFY(outcome(arity).startsWith(QStringLiteral("error: ")));
    TaskOptions withTimeout;
    withTimeout.timeout = 100ms;
    auto timed = pool.submitNamed(QStringLiteral("square"), {3}, withTimeout);
    QVERIFY2(outcome(timed).contains(QStringLiteral("timeouts are not supported on the MPI pool")),
             qPrintable(outcome(timed)));
    QCOMPARE(pool.counters().submitted, 0u); // nothing was queued
    MpiPoolOptions o;
    o.pipelineDepth = 0;
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, MpiPoolExecutor{o});
    o = {};
    o.heartbeatTimeout = 100ms;
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, MpiPoolExecutor{o});
}

void TstMpiPool::spawnLaunch()
{
    // Dynamic launch from rank 0: MPI_Comm_spawn two ranks of
    // poolscope-worker. It only knows the built-in tasks.
    MpiPoolOptions o;
    o.launch = MpiPoolOptions::Launch::Spawn;
    o.maxWorkers = 2;
    o.workerProgram = QStringLiteral(POOLSCOPE_WORKER_PATH);
    MpiPoolExecutor pool(o);
    QCOMPARE(pool.launchMode(), QStringLiteral("spawn"));
    QVERIFY(pool.waitUntilReady(Deadline::after(kGuard)));
    const Workload* w = Workloads::find(QStringLiteral("primes"));
    const WorkloadRun run = smallRun(*w);
    ThreadPoolExecutor threads(2);
    QCOMPARE(runOn(pool, *w, run), runOn(threads, *w, run));
    const QStringList places = pool.workerPlaces();
    QCOMPARE(places.size(), 2);
    for (const auto& p : places)
        QVERIFY2(p.startsWith(mpi::hostName() + QStringLiteral("/rank ")), qPrintable(p));
    auto unknownThere = pool.submitNamed(QStringLiteral("square"), {2});
    QVERIFY(unknownThere.waitForDone(kGuard));
    // Known here (registered in this program), unknown to poolscope-worker:
    // the rank says so, nothing crashes.
    QVERIFY2(outcome(unknownThere).contains(QStringLiteral("square")),
             qPrintable(outcome(unknownThere)));
    o.workerProgram = QStringLiteral("/nonexistent/poolscope-worker");
    QVERIFY_THROWS_EXCEPTION(InvalidArgument, MpiPoolExecutor{o});
}

POOLSCOPE_MPI_TEST_MAIN(TstMpiPool)
#include "tst_mpipool.moc"
