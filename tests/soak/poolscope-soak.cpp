// poolscope-soak: many millions of trivial tasks through both pools with a
// Monitor attached and ticking, to show that memory stays flat, counts stay
// exact and nothing leaks (threads, child processes). A measurement program
// like poolscope-bench, not a pass/fail test; docs/reliability.md records
// its figures and the commands that produced them.
//
//   poolscope-soak [--tasks N] [--process-tasks M] [--chunk C]
//                  [--thread-workers W] [--process-workers P]
//
// Thread pool: N tasks (default 10M), half through submit() in windows of
// futures, half through post(). Process pool: M items (default 1M) of a
// registered task, in batches of C items per message (submitNamedBatch),
// with a bounded number of batches in flight. Each phase runs in a driver
// thread while the main thread's event loop lets the Monitor tick at 30 Hz.
//
// Output: `name value unit` lines. Exit status 1 if a count was not exact or
// a thread or child process was left behind (that is what soak_smoke checks).
// This program is its own process-pool worker.

#include "procwatch.h"

#include <poolscope/monitor.h>
#include <poolscope/processpool.h>
#include <poolscope/threadpool.h>
#include <poolscope/worker.h>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <thread>

#ifndef POOLSCOPE_SOAK_BUILD_TYPE
#define POOLSCOPE_SOAK_BUILD_TYPE "unknown"
#endif

using namespace poolscope;
using namespace std::chrono_literals;

static qint64 soakInc(qint64 x)
{
    return x + 1;
}
POOLSCOPE_TASK(soakInc, "x + 1 (poolscope-soak)");

namespace {

void line(const char* name, double value, const char* unit)
{
    // Integers print as integers, the rest with 3 decimals.
    if (value == double(qint64(value)))
        std::printf("%s %lld %s\n", name, static_cast<long long>(value), unit);
    else
        std::printf("%s %.3f %s\n", name, value, unit);
    std::fflush(stdout);
}

double mb(qint64 bytes)
{
    return double(bytes) / (1024.0 * 1024.0);
}

struct Options {
    qint64 tasks = 10'000'000;
    qint64 processTasks = 1'000'000;
    int chunk = 1000;
    int threadWorkers = 0;  // 0: number of CPUs
    int processWorkers = 0; // 0: number of CPUs
};

/// Runs `drive` in a thread while this thread's event loop spins (the
/// Monitor ticks on it); returns when drive() has returned.
void runWithEventLoop(QCoreApplication& app, const std::function<void()>& drive)
{
    std::thread t([&] {
        drive();
        QMetaObject::invokeMethod(
            &app, [] { QCoreApplication::quit(); }, Qt::QueuedConnection);
    });
    app.exec();
    t.join();
}

struct PhaseResult {
    bool exact = false;
    double wallS = 0;
    quint64 ticks = 0;
    quint64 dropped = 0;
    qint64 rssWarmMb = 0; // after 10% of the tasks
    qint64 rssHalfMb = 0; // after 50%
    qint64 rssEndMb = 0;  // after 100%, pool and monitor still alive
};

PhaseResult threadPhase(QCoreApplication& app, const Options& o)
{
    PhaseResult r;
    ThreadPoolOptions to;
    to.maxWorkers = o.threadWorkers > 0 ? o.threadWorkers : QThread::idealThreadCount();
    ThreadPoolExecutor pool(to);
    Monitor mon;
    mon.attach(&pool);

    const qint64 n = o.tasks;
    const qint64 viaSubmit = n / 2;
    const qint64 window = 20'000;
    std::atomic<quint64> postedSum{0};
    quint64 submitSum = 0;
    qint64 rssWarm = 0, rssHalf = 0;
    QElapsedTimer wall;
    wall.start();
    runWithEventLoop(app, [&] {
        qint64 i = 0;
        std::vector<Future<qint64>> fs;
        fs.reserve(std::size_t(window));
        // Half through submit(): a window of futures, then their results.
        while (i < viaSubmit) {
            const qint64 end = std::min(viaSubmit, i + window);
            fs.clear();
            for (qint64 k = i; k < end; ++k)
                fs.push_back(pool.submit([k] { return k; }));
            for (auto& f : fs)
                submitSum += quint64(f.result());
            i = end;
            if (rssWarm == 0 && i >= n / 10)
                rssWarm = procwatch::rssBytes(); // monitor history is full by now
        }
        rssHalf = procwatch::rssBytes(); // submit half done
        // Half through post(): no futures; keep at most ~2 windows queued.
        while (i < n) {
            const qint64 end = std::min(n, i + window);
            for (qint64 k = i; k < end; ++k)
                pool.post([k, &postedSum] {
                    postedSum.fetch_add(quint64(k), std::memory_order_relaxed);
                });
            i = end;
            while (pool.counters().queued > quint64(window))
                std::this_thread::sleep_for(200us);
        }
        pool.waitForIdle();
    });
    r.wallS = double(wall.nsecsElapsed()) / 1e9;
    mon.tick(); // a last look, after the loop stopped
    const Counters c = pool.counters();
    const Counters seen = mon.last().counters;
    const auto tri = [](qint64 a, qint64 b) { // sum of a..b-1
        return quint64((b - a)) * quint64(a + b - 1) / 2;
    };
    r.exact = c.submitted == quint64(n) && c.succeeded == quint64(n) && c.failed == 0
              && c.cancelled == 0 && c.queued == 0 && c.running == 0 && seen.succeeded == quint64(n)
              && submitSum == tri(0, viaSubmit) && postedSum.load() == tri(viaSubmit, n);
    r.ticks = mon.last().tick;
    r.dropped = c.droppedEvents;
    r.rssWarmMb = qint64(mb(rssWarm));
    r.rssHalfMb = qint64(mb(rssHalf));
    r.rssEndMb = qint64(mb(procwatch::rssBytes()));
    if (!r.exact)
        std::fprintf(stderr,
                     "thread counts: submitted %llu succeeded %llu failed %llu cancelled %llu "
                     "monitor %llu sums %d %d\n",
                     static_cast<unsigned long long>(c.submitted),
                     static_cast<unsigned long long>(c.succeeded),
                     static_cast<unsigned long long>(c.failed),
                     static_cast<unsigned long long>(c.cancelled),
                     static_cast<unsigned long long>(seen.succeeded),
                     submitSum == tri(0, viaSubmit), postedSum.load() == tri(viaSubmit, n));
    line("thread.workers", to.maxWorkers.value(), "workers");
    line("thread.tasks", double(n), "tasks");
    line("thread.wall_s", r.wallS, "s");
    line("thread.tasks_per_s", double(n) / r.wallS, "tasks/s");
    line("thread.monitor_ticks", double(r.ticks), "ticks");
    line("thread.dropped_detail_events", double(r.dropped), "events");
    line("thread.monitor_tasks_recorded", double(mon.record()->size()), "tasks");
    line("thread.counts_exact", r.exact ? 1 : 0, "bool");
    mon.detach();
    return r;
}

PhaseResult processPhase(QCoreApplication& app, const Options& o)
{
    PhaseResult r;
    ProcessPoolOptions po;
    po.maxWorkers = o.processWorkers > 0 ? o.processWorkers : QThread::idealThreadCount();
    po.workerProgram = QCoreApplication::applicationFilePath();
    ProcessPoolExecutor pool(po);
    Monitor mon;
    mon.attach(&pool);

    const qint64 n = o.processTasks;
    const qint64 chunk = std::max(1, o.chunk);
    const qint64 chunks = (n + chunk - 1) / chunk;
    const std::size_t maxInFlight = std::size_t(4 * po.maxWorkers.value());
    quint64 sum = 0;
    bool valuesOk = true;
    qint64 rssWarm = 0, rssHalf = 0;
    QSet<qint64> pids;
    QElapsedTimer wall;
    wall.start();
    runWithEventLoop(app, [&] {
        std::deque<std::pair<qint64, Future<QCborValue>>> inflight; // (first item, batch)
        auto takeOne = [&] {
            auto [first, f] = std::move(inflight.front());
            inflight.pop_front();
            const QCborArray out = f.result().toArray();
            for (qsizetype k = 0; k < out.size(); ++k) {
                const qint64 v = out.at(k).toInteger();
                valuesOk = valuesOk && v == first + k + 1;
                sum += quint64(v);
            }
        };
        for (qint64 c = 0; c < chunks; ++c) {
            const qint64 b = c * chunk, e = std::min(n, b + chunk);
            QList<QCborArray> items;
            items.reserve(e - b);
            for (qint64 x = b; x < e; ++x)
                items.append(QCborArray{x});
            inflight.emplace_back(b, pool.submitNamedBatch(QStringLiteral("soakInc"), items));
            if (inflight.size() >= maxInFlight)
                takeOne();
            if (c % 64 == 0)
                for (qint64 p : pool.workerPids())
                    pids.insert(p);
            if (rssWarm == 0 && b >= n / 10)
                rssWarm = procwatch::rssBytes();
            if (rssHalf == 0 && b >= n / 2)
                rssHalf = procwatch::rssBytes();
        }
        while (!inflight.empty())
            takeOne();
        pool.waitForIdle();
    });
    r.wallS = double(wall.nsecsElapsed()) / 1e9;
    mon.tick();
    const Counters c = pool.counters();
    const quint64 expected = quint64(n) * quint64(n + 1) / 2; // sum of x + 1
    r.exact = valuesOk && sum == expected && c.submitted == quint64(chunks)
              && c.succeeded == quint64(chunks) && c.failed == 0 && c.cancelled == 0
              && c.queued == 0 && c.running == 0
              && mon.last().counters.succeeded == quint64(chunks);
    r.ticks = mon.last().tick;
    r.dropped = c.droppedEvents;
    r.rssWarmMb = qint64(mb(rssWarm));
    r.rssHalfMb = qint64(mb(rssHalf));
    r.rssEndMb = qint64(mb(procwatch::rssBytes()));
    line("process.workers", po.maxWorkers.value(), "workers");
    line("process.tasks", double(n), "tasks");
    line("process.chunk", double(chunk), "tasks/message");
    line("process.messages", double(chunks), "messages");
    line("process.wall_s", r.wallS, "s");
    line("process.tasks_per_s", double(n) / r.wallS, "tasks/s");
    line("process.s_per_million", r.wallS * 1e6 / double(n), "s");
    line("process.monitor_ticks", double(r.ticks), "ticks");
    line("process.worker_pids_seen", double(pids.size()), "processes");
    line("process.counts_exact", r.exact ? 1 : 0, "bool");
    mon.detach();
    return r;
}

int usage(std::FILE* to)
{
    std::fprintf(to, "usage: poolscope-soak [--tasks N] [--process-tasks M] [--chunk C]\n"
                     "                      [--thread-workers W] [--process-workers P]\n"
                     "  --tasks N          thread-pool tasks (default 10000000; 0 skips)\n"
                     "  --process-tasks M  process-pool tasks (default 1000000; 0 skips)\n"
                     "  --chunk C          process tasks per message (default 1000)\n");
    return to == stdout ? 0 : 2;
}

} // namespace

int main(int argc, char** argv)
{
    if (isWorkerInvocation(argc, argv))
        return runWorker(argc, argv);
    QCoreApplication app(argc, argv);
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto num = [&](qint64 lo) -> qint64 {
            if (i + 1 >= argc)
                return -1;
            char* end = nullptr;
            const long long v = std::strtoll(argv[++i], &end, 10);
            return (end && *end == 0 && v >= lo) ? qint64(v) : -1;
        };
        qint64 v = 0;
        if (a == "--help" || a == "-h")
            return usage(stdout);
        else if (a == "--tasks" && (v = num(0)) >= 0)
            o.tasks = v;
        else if (a == "--process-tasks" && (v = num(0)) >= 0)
            o.processTasks = v;
        else if (a == "--chunk" && (v = num(1)) >= 1)
            o.chunk = int(v);
        else if (a == "--thread-workers" && (v = num(1)) >= 1)
            o.threadWorkers = int(v);
        else if (a == "--process-workers" && (v = num(1)) >= 1)
            o.processWorkers = int(v);
        else {
            std::fprintf(stderr, "poolscope-soak: bad argument '%s'\n", a.c_str());
            return usage(stderr);
        }
    }

    std::printf("# poolscope-soak, %s build, %d CPUs\n", POOLSCOPE_SOAK_BUILD_TYPE,
                QThread::idealThreadCount());
    const int threadsBefore = procwatch::threadCount();
    const int childrenBefore = int(procwatch::children().size());
    const qint64 rssStart = procwatch::rssBytes();
    QElapsedTimer wall;
    wall.start();

    bool exact = true;
    qint64 rssWarm = 0;
    if (o.tasks > 0) {
        const PhaseResult t = threadPhase(app, o);
        exact = exact && t.exact;
        rssWarm = t.rssWarmMb;
        line("thread.rss_after_10pct_mb", double(t.rssWarmMb), "MB");
        line("thread.rss_after_50pct_mb", double(t.rssHalfMb), "MB");
        line("thread.rss_at_100pct_mb", double(t.rssEndMb), "MB");
        line("thread.rss_after_pool_gone_mb", double(qint64(mb(procwatch::rssBytes()))), "MB");
    }
    if (o.processTasks > 0) {
        const PhaseResult p = processPhase(app, o);
        exact = exact && p.exact;
        line("process.rss_after_10pct_mb", double(p.rssWarmMb), "MB");
        line("process.rss_after_50pct_mb", double(p.rssHalfMb), "MB");
        line("process.rss_at_100pct_mb", double(p.rssEndMb), "MB");
        line("process.rss_after_pool_gone_mb", double(qint64(mb(procwatch::rssBytes()))), "MB");
    }

    // Pools and monitors are gone: threads and children must be back to
    // where they were (give the kernel a moment to drop exited threads).
    int threadsAfter = procwatch::threadCount();
    int childrenAfter = int(procwatch::children().size());
    for (int i = 0; i < 100 && (threadsAfter != threadsBefore || childrenAfter != childrenBefore);
         ++i) {
        std::this_thread::sleep_for(50ms);
        threadsAfter = procwatch::threadCount();
        childrenAfter = int(procwatch::children().size());
    }
    const qint64 rssEnd = procwatch::rssBytes();
    line("tasks", double(o.tasks + o.processTasks), "tasks");
    line("counts_exact", exact ? 1 : 0, "bool");
    line("rss_start_mb", mb(rssStart), "MB");
    line("rss_end_mb", mb(rssEnd), "MB");
    line("rss_growth_mb", mb(rssEnd - rssStart), "MB");
    if (rssWarm > 0)
        line("rss_growth_after_warmup_mb", mb(rssEnd) - double(rssWarm), "MB");
    line("threads_before", threadsBefore, "threads");
    line("threads_after", threadsAfter, "threads");
    line("children_before", childrenBefore, "processes");
    line("children_after", childrenAfter, "processes");
    line("wall_s", double(wall.nsecsElapsed()) / 1e9, "s");
    const bool clean = exact && threadsAfter == threadsBefore && childrenAfter == childrenBefore;
    if (!clean)
        std::fprintf(stderr,
                     "poolscope-soak: FAILED (counts exact %d, threads %d -> %d, "
                     "children %d -> %d)\n",
                     int(exact), threadsBefore, threadsAfter, childrenBefore, childrenAfter);
    return clean ? 0 : 1;
}
