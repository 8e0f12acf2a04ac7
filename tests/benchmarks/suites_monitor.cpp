// Monitor suites (issue #3): what watching a pool costs.
//
//   monitor.tick_cost     wall time of one Monitor::tick() (one snapshot)
//                         while the pool completes ~1M+ tasks/s
//   monitor.loop_lag_p99  lateness of a 16 ms timer on an event loop that
//                         holds a Monitor at 30 Hz, same load
//   monitor.rss_growth    RSS growth over 10M tasks with a Monitor attached,
//                         beside the same run without one
//
// The throughput cost (poolscope.thread.monitored.*) is measured in the
// thread.submit and thread.post suites, in the same rotation as the
// unmonitored figures (suites_thread.cpp), with the MonitorThread below.

#include "batches.h"
#include "bench.h"
#include "monitorthread.h"

#include <poolscope/monitor.h>
#include <poolscope/recording.h>
#include <poolscope/registry.h>
#include <poolscope/threadpool.h>

#include <QCborArray>
#include <QCborValue>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QProcess>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace bench {

// ------------------------------------------------------------ MonitorThread

MonitorThread::MonitorThread(const poolscope::MonitorOptions& options)
{
    m_thread.setObjectName(QStringLiteral("bench-monitor"));
    m_thread.start();
    m_context = new QObject;
    m_context->moveToThread(&m_thread);
    // The Monitor's QTimer is a member, not a child: create the Monitor in
    // the thread it ticks in.
    runThere([this, options] {
        m_monitor = new poolscope::Monitor(options);
        QObject::connect(m_monitor, &poolscope::Monitor::snapshotReady, m_context,
                         [this](const poolscope::Snapshot& s) {
                             doNotOptimize(s.tick);
                             m_snapshots.fetch_add(1, std::memory_order_relaxed);
                         });
    });
}

MonitorThread::~MonitorThread()
{
    runThere([this] {
        delete m_monitor;
        m_monitor = nullptr;
    });
    m_context->deleteLater();
    m_thread.quit();
    m_thread.wait();
}

void MonitorThread::runThere(const std::function<void()>& fn)
{
    QMetaObject::invokeMethod(m_context, fn, Qt::BlockingQueuedConnection);
}

void MonitorThread::attach(poolscope::Executor* executor)
{
    runThere([this, executor] {
        if (executor) {
            m_monitor->attach(executor);
            m_monitor->startRun(); // a fresh record, as the window's Start begins one
        } else {
            m_monitor->detach();
            m_recorded.store(m_monitor->record()->size(), std::memory_order_relaxed);
        }
    });
}

double MonitorThread::cpuSeconds()
{
    double s = 0;
    runThere([&s] { s = threadCpuSeconds(); });
    return s;
}

void MonitorThread::tick()
{
    runThere([this] { m_monitor->tick(); });
}

namespace {

constexpr int kWorkers = 2;

void require(bool ok, const std::string& what)
{
    if (!ok)
        throw std::runtime_error("sanity check failed: " + what);
}

/// Posts no-op tasks from its own thread until stop() (or `limit` tasks),
/// keeping at most ~`window` queued so memory holds only a window.
class Feeder {
public:
    explicit Feeder(poolscope::ThreadPoolExecutor& pool, long long limit = -1,
                    long long window = 20000)
        : m_pool(pool)
        , m_limit(limit)
        , m_window(window)
    {
        m_thread = std::thread([this] { run(); });
    }
    ~Feeder() { stop(); }
    void stop()
    {
        m_stop.store(true);
        if (m_thread.joinable())
            m_thread.join();
    }
    bool done() const { return m_done.load(); }
    long long posted() const { return m_posted.load(); }

private:
    void run()
    {
        long long i = 0;
        while (!m_stop.load(std::memory_order_relaxed) && (m_limit < 0 || i < m_limit)) {
            const long long end = m_limit < 0 ? i + m_window : std::min(m_limit, i + m_window);
            for (; i < end; ++i)
                m_pool.post([i] { doNotOptimize(i); });
            m_posted.store(i);
            while (m_pool.counters().queued > quint64(m_window)
                   && !m_stop.load(std::memory_order_relaxed))
                std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
        m_pool.waitForIdle();
        m_done.store(true);
    }
    poolscope::ThreadPoolExecutor& m_pool;
    long long m_limit, m_window;
    std::atomic<bool> m_stop{false}, m_done{false};
    std::atomic<long long> m_posted{0};
    std::thread m_thread;
};

/// Runs this thread's event loop for `ms` milliseconds.
void spinEventLoop(int ms)
{
    QEventLoop loop;
    QTimer::singleShot(ms, &loop, &QEventLoop::quit);
    loop.exec();
}

std::string fmtRate(double perSecond)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f M tasks/s", perSecond / 1e6);
    return buf;
}

// ---------------------------------------------------------- monitor.tick_cost

void tickCostSuite(Context& ctx)
{
    if (!ctx.wants("monitor.tick_cost"))
        return;
    const int runMs = ctx.quick ? 150 : 1500;
    poolscope::ThreadPoolExecutor pool(kWorkers);
    poolscope::Monitor mon; // default options: 30 Hz, records on (as the GUI)
    Samples perRep, cpuPerRep, rates;
    std::vector<double> all;
    double spansPerTick = 0;
    for (int r = 0; r <= ctx.reps; ++r) { // r == 0: warm-up
        mon.attach(&pool);
        mon.setIntervalMs(60'000); // the timer below calls tick() instead
        std::vector<double> wall, cpu;
        std::size_t spans = 0;
        QTimer timer;
        timer.setTimerType(Qt::PreciseTimer);
        timer.setInterval(33);
        QObject::connect(&timer, &QTimer::timeout, [&] {
            const double c0 = threadCpuSeconds();
            Timer t;
            const auto& s = mon.tick();
            wall.push_back(t.seconds() * 1e6);
            cpu.push_back((threadCpuSeconds() - c0) * 1e6);
            spans += std::size_t(s.newRows);
        });
        const quint64 done0 = pool.counters().completed();
        Timer t;
        {
            Feeder feed(pool);
            timer.start();
            spinEventLoop(runMs);
            while (wall.empty() && t.seconds() < 20.0) // a slow build: see loopLagSuite
                spinEventLoop(33);
            timer.stop();
            feed.stop();
        }
        const double rate = double(pool.counters().completed() - done0) / t.seconds();
        mon.detach();
        require(!wall.empty(), "the monitor ticked");
        if (r == 0)
            continue;
        perRep.add(percentile(wall, 50));
        cpuPerRep.add(percentile(cpu, 50));
        rates.add(rate);
        all.insert(all.end(), wall.begin(), wall.end());
        spansPerTick = double(spans) / double(wall.size());
    }
    char note[256];
    std::snprintf(note, sizeof note,
                  "median tick per rep of %.1f s; all ticks p99 %.0f us; thread CPU %.0f us/tick; "
                  "pool at %s (median), %.0f spans/tick",
                  runMs / 1000.0, percentile(all, 99), cpuPerRep.median(),
                  fmtRate(rates.median()).c_str(), spansPerTick);
    ctx.report("monitor.tick_cost", perRep, "us", note);
    // Wall time above includes time the tick spent preempted (4 busy threads
    // on 2 cores); its own CPU time is the cost the monitor's thread pays.
    ctx.report("monitor.tick_cpu", cpuPerRep, "us",
               "thread CPU time of one tick, median per rep, same ticks");
    if (rates.median() < 1e6)
        ctx.comment("monitor.tick_cost: the pool ran below 1M tasks/s (a busy machine); the "
                    "issue asks for the cost at 1M tasks/s");
}

// -------------------------------------------------------- monitor.loop_lag_p99

void loopLagSuite(Context& ctx)
{
    constexpr std::size_t kMinLagSamples = 6;
    if (!ctx.wants("monitor.loop_lag_p99"))
        return;
    const int runMs = ctx.quick ? 300 : 3000;
    poolscope::ThreadPoolExecutor pool(kWorkers);
    poolscope::Monitor mon; // 30 Hz, in this (the event loop's) thread
    quint64 snapshots = 0;
    QObject::connect(&mon, &poolscope::Monitor::snapshotReady,
                     [&](const poolscope::Snapshot&) { ++snapshots; });
    Samples p99, p50, maxLag, rates, ticksPerSecond;
    for (int r = 0; r <= ctx.reps; ++r) { // r == 0: warm-up
        mon.attach(&pool);
        std::vector<double> lateMs;
        QElapsedTimer clock;
        qint64 last = -1;
        QTimer probe;
        probe.setTimerType(Qt::PreciseTimer);
        probe.setInterval(16);
        QObject::connect(&probe, &QTimer::timeout, [&] {
            const qint64 now = clock.nsecsElapsed();
            if (last >= 0)
                lateMs.push_back(std::max(0.0, double(now - last) / 1e6 - 16.0));
            last = now;
        });
        const quint64 done0 = pool.counters().completed();
        const quint64 snaps0 = snapshots;
        Timer t;
        {
            Feeder feed(pool);
            clock.start();
            probe.start();
            spinEventLoop(runMs);
            // A slow (debug, sanitised or loaded) build may turn the loop so
            // rarely that the short --quick run holds too few intervals for a
            // percentile: keep measuring, under the same load, until it does.
            // A stalled loop then shows as lateness, not as a failed suite.
            while (lateMs.size() < kMinLagSamples && t.seconds() < 20.0)
                spinEventLoop(16);
            probe.stop();
            feed.stop();
        }
        const double secs = t.seconds();
        const double rate = double(pool.counters().completed() - done0) / secs;
        mon.detach();
        require(lateMs.size() >= kMinLagSamples, "the 16 ms timer fired 6 times in 20 s");
        if (r == 0)
            continue;
        p99.add(percentile(lateMs, 99));
        p50.add(percentile(lateMs, 50));
        maxLag.add(*std::max_element(lateMs.begin(), lateMs.end()));
        rates.add(rate);
        ticksPerSecond.add(double(snapshots - snaps0) / secs);
    }
    char note[256];
    std::snprintf(note, sizeof note,
                  "16 ms PreciseTimer lateness, p99 per rep of %.1f s; p50 %.2f ms, max %.1f ms "
                  "(medians); Monitor at %.0f snapshots/s; pool at %s (median)",
                  runMs / 1000.0, p50.median(), maxLag.median(), ticksPerSecond.median(),
                  fmtRate(rates.median()).c_str());
    ctx.report("monitor.loop_lag_p99", p99, "ms", note);
    if (rates.median() < 1e6)
        ctx.comment("monitor.loop_lag_p99: the pool ran below 1M tasks/s (a busy machine); the "
                    "issue asks for the lag at >= 1M tasks/s");
}

// ---------------------------------------------------------- monitor.rss_growth

void rssGrowthSuite(Context& ctx)
{
    if (!ctx.wants("monitor.rss_growth"))
        return;
    // Measured in a fresh child process (this program with
    // --rss-growth-child N): after the other suites this process already
    // holds hundreds of MB its allocator keeps, which would hide any growth.
    // One run: a repetition in the same process would start warm. A second
    // child runs the same tasks without a Monitor: the pool's own memory,
    // the harness's future windows and backlog and the allocator's arenas
    // are in both, so the difference is what the Monitor adds.
    const long long n = ctx.n(10'000'000, 200'000);
    struct ChildFigures {
        // "growth_mb start_mb after_warm_mb tasks_per_s rows sampling
        //  snapshots after_full_mb tasks_done_when_full"
        double growth = 0, start = 0, afterWarm = 0, rate = 0, spans = 0, records = 0, snaps = 0,
               afterFull = 0, doneAtFull = 0;
    };
    auto runChild = [&](bool withMonitor) {
        QProcess child;
        child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        QStringList args{QStringLiteral("--rss-growth-child"), QString::number(n)};
        if (!withMonitor)
            args << QStringLiteral("--without-monitor");
        child.start(QCoreApplication::applicationFilePath(), args);
        require(child.waitForStarted(10000), "rss child started");
        require(child.waitForFinished(600000) && child.exitStatus() == QProcess::NormalExit
                    && child.exitCode() == 0,
                "rss child finished (exit code " + std::to_string(child.exitCode()) + ")");
        std::istringstream in(child.readAllStandardOutput().toStdString());
        ChildFigures c;
        require(bool(in >> c.growth >> c.start >> c.afterWarm >> c.rate >> c.spans >> c.records
                     >> c.snaps >> c.afterFull >> c.doneAtFull),
                "rss child printed its figures");
        return c;
    };
    const ChildFigures m = runChild(true);
    Samples s;
    s.add(m.growth);
    char note[360];
    std::snprintf(note, sizeof note,
                  "N=%lld (half submit() with futures, half post()) at %s in a fresh process; "
                  "from before the pool and Monitor existed (%.0f MB) to the end, both alive; "
                  "%.1f MB of it after the first 10%%; the run record held %.0f tasks (a sample: "
                  "1 in %.0f); "
                  "%.0f snapshots; one run",
                  n, fmtRate(m.rate).c_str(), m.start, m.afterWarm, m.spans, m.records, m.snaps);
    ctx.report("monitor.rss_growth", s, "MB", note);

    const ChildFigures u = runChild(false);
    Samples su;
    su.add(u.growth);
    std::snprintf(note, sizeof note,
                  "the same N and tasks at %s in a fresh process without a Monitor (the pool, "
                  "the future windows, the feeder's backlog, the allocator's arenas); %.1f MB "
                  "of it after the first 10%%; one run",
                  fmtRate(u.rate).c_str(), u.afterWarm);
    ctx.report("monitor.rss_growth_unmonitored", su, "MB", note);
    Samples share;
    share.add(m.growth - u.growth);
    std::snprintf(note, sizeof note,
                  "monitor.rss_growth - monitor.rss_growth_unmonitored: what the Monitor "
                  "(staging, the run record of %.0f tasks sampled 1 in %.0f, snapshots) adds",
                  m.spans, m.records);
    ctx.report("monitor.rss_growth_of_monitor", share, "MB", note);

    // The part that is not the record filling up to its limit
    // (MonitorOptions::recordLimit): growth from the moment it was full.
    if (m.afterFull < 0) {
        ctx.skip("monitor.rss_growth_after_record_full",
                 "the run record never filled: too few tasks");
        return;
    }
    Samples f;
    f.add(m.afterFull);
    std::snprintf(note, sizeof note,
                  "same run, from the moment the run record was full (its limit reached, "
                  "%.0f tasks done; it samples from then on) to the end",
                  m.doneAtFull);
    ctx.report("monitor.rss_growth_after_record_full", f, "MB", note);
}

// Monitoring cost as a paired figure: one pool, and in each repetition the
// same batch without a Monitor, with a Monitor that records every task (the
// window's: default options, 30 Hz, its own event-loop thread) and with one
// that keeps counters and worker states only (recordLimit 0), in rotating
// order; the figures are medians of per-repetition ratios against the
// unmonitored batch of the same repetition. The ratio.monitored_vs_
// unmonitored.* lines divide two medians taken over the same rounds, which
// a run whose halves land in different scheduler regimes moves by several
// per cent; pairing takes that out. CPU per task (the process's user+sys
// time over the batch) is paired the same way: what recording costs the
// machine, not only the batch's wall time.
void pairedCostSuite(Context& ctx)
{
    const long long postN = ctx.n(1000000, 2000);
    const long long submitN = ctx.n(200000, 2000);
    poolscope::ThreadPoolExecutor pool(kWorkers);
    MonitorThread recording;
    poolscope::MonitorOptions countersOnly;
    countersOnly.recordLimit = 0;
    MonitorThread counters(countersOnly);
    std::vector<poolscope::Future<int>> fs;
    fs.reserve(std::size_t(submitN));
    auto watched = [&](MonitorThread* m, const std::function<double()>& batch) {
        if (!m)
            return batch();
        m->attach(&pool);
        const double rate = batch();
        m->attach(nullptr);
        return rate;
    };
    struct Case {
        std::string name; // post or submit_future
        std::string what;
        long long n;
        std::function<double()> batch;
    };
    const std::vector<Case> cases{
        {"post", "N=" + std::to_string(postN) + " post()", postN,
         [&] { return postBatchRate(pool, postN); }},
        {"submit_future", "N=" + std::to_string(submitN) + " submit() with a Future<int> each",
         submitN, [&] { return submitBatchRate(pool, submitN, fs); }}};
    for (const auto& c : cases) {
        const std::string full = "monitor.paired_cost." + c.name;
        const std::string lean = "monitor.paired_cost_counters_only." + c.name;
        if (!ctx.wants(full) && !ctx.wants(lean))
            continue;
        c.batch(); // warm-up: workers started, node caches primed
        watched(&recording, c.batch);
        Samples fullRatio, leanRatio, plainRate;
        for (int r = 0; r < ctx.reps; ++r) {
            // Rotate the order so no configuration always runs first.
            MonitorThread* order[3][3] = {{nullptr, &recording, &counters},
                                          {&recording, &counters, nullptr},
                                          {&counters, nullptr, &recording}};
            double without = 0, with = 0, lean2 = 0;
            for (MonitorThread* m : order[r % 3]) {
                const double rate = watched(m, c.batch);
                (m == nullptr ? without : m == &recording ? with : lean2) = rate;
            }
            require(recording.recorded() == quint64(c.n), "the record holds every task");
            fullRatio.add(with / without);
            leanRatio.add(lean2 / without);
            plainRate.add(without);
        }
        char note[320];
        std::snprintf(note, sizeof note,
                      "%s on one ThreadPoolExecutor(%d), median of per-repetition ratios with a "
                      "Monitor recording every task / without one (unmonitored median %.2f M "
                      "tasks/s)",
                      c.what.c_str(), kWorkers, plainRate.median() / 1e6);
        ctx.report(full, fullRatio, "x", note);
        std::snprintf(note, sizeof note,
                      "%s, the same repetitions with a Monitor keeping counters and worker "
                      "states only (MonitorOptions::recordLimit 0): the live view without the "
                      "record",
                      c.what.c_str());
        ctx.report(lean, leanRatio, "x", note);
    }
}

// ------------------------------------------------------ record.cost_per_task

// What recording every task costs, taken apart so that the pool's wake-up
// dynamics (which move the throughput of a 2-core run by +-30 % from one
// repetition to the next) do not hide a cost of a few %: one worker, a queue
// filled while the worker is held, then released and timed while it drains
// it alone on its core; then the Monitor, which did not tick meanwhile,
// drains the staged rows in one tick on its own thread.
//   submitter  post() of N tasks into the held pool: the submit stamp
//   worker     the drain of the N tasks: start/end stamps, the staged row
//   Monitor    its thread's CPU for that tick: reading the rows another core
//              wrote, converting the stamps, adding them to the record
//              (minus the same tick of a Monitor keeping counters only)
// The sum is the recording's CPU per task. It is set against post()'s cost
// per task two ways: the core time per task of post() at full speed on 2
// workers (cores / tasks per s, measured in the same repetition), and the
// bare CPU of post() on the held pool (submitter + worker, no contention,
// no wake-ups: the strictest reference).
void recordCostSuite(Context& ctx)
{
    const long long n = ctx.n(1'000'000, 5'000);
    poolscope::ThreadPoolExecutor pool(1);
    poolscope::ThreadPoolExecutor pool2(kWorkers); // the same calls at full speed
    poolscope::MonitorOptions all;
    all.recordLimit = quint64(n) + 1; // the gate task too: every task, no sampling
    all.intervalMs = 60'000;          // no tick but the one timed
    MonitorThread recording(all);
    poolscope::MonitorOptions countersOnly = all;
    countersOnly.recordLimit = 0;
    MonitorThread counters(countersOnly);
    std::vector<poolscope::Future<int>> fs;
    struct Phase {
        double postNs = 0;    // per task
        double drainNs = 0;   // per task
        double monitorNs = 0; // per task
    };
    auto run = [&](MonitorThread* m, bool submit) {
        if (m)
            m->attach(&pool);
        std::atomic<bool> go{false};
        pool.post([&go] { go.wait(false, std::memory_order_acquire); });
        fs.reserve(std::size_t(n));
        Phase p;
        Timer tp;
        if (submit) {
            for (long long i = 0; i < n; ++i)
                fs.push_back(pool.submit([i] { return int(i); }));
        } else {
            for (long long i = 0; i < n; ++i)
                pool.post([i] { doNotOptimize(i); });
        }
        p.postNs = tp.seconds() * 1e9 / double(n);
        Timer td;
        go.store(true, std::memory_order_release);
        go.notify_one();
        require(pool.waitForIdle(), "idle");
        p.drainNs = td.seconds() * 1e9 / double(n);
        if (m) {
            const double m0 = m->cpuSeconds();
            m->tick(); // drains every staged row
            p.monitorNs = (m->cpuSeconds() - m0) * 1e9 / double(n);
            m->attach(nullptr);
        }
        if (submit) {
            long long sum = 0;
            for (const auto& f : fs)
                sum += f.result();
            require(sum == expectedSum(n), "submit results");
            fs.clear();
        }
        return p;
    };
    struct Case {
        std::string name;
        bool submit;
        std::string what;
    };
    const std::vector<Case> cases{{"post", false, "post()"},
                                  {"submit_future", true, "submit() with a Future<int> each"}};
    for (const Case& c : cases) {
        const std::string figCost = "record.cost_ns_per_task." + c.name;
        const std::string figKept = "record.throughput_kept." + c.name;
        const std::string figStrict = "record.throughput_kept_bare." + c.name;
        if (!ctx.wants(figCost) && !ctx.wants(figKept) && !ctx.wants(figStrict))
            continue;
        auto fullSpeed = [&] {
            return c.submit ? submitBatchRate(pool2, n, fs) : postBatchRate(pool2, n);
        };
        run(nullptr, c.submit); // warm-up: the worker started, node caches primed
        run(&recording, c.submit);
        require(recording.recorded() == quint64(n) + 1, "the record holds every task");
        fullSpeed();
        Samples cost, kept, bare, postExtra, drainExtra, monitorCost, plainBare, coreNs;
        for (int r = 0; r < ctx.reps; ++r) {
            MonitorThread* order[3][3] = {{nullptr, &recording, &counters},
                                          {&recording, &counters, nullptr},
                                          {&counters, nullptr, &recording}};
            Phase without, with, lean;
            for (MonitorThread* m : order[r % 3]) {
                const Phase p = run(m, c.submit);
                (m == nullptr ? without : m == &recording ? with : lean) = p;
            }
            require(recording.recorded() == quint64(n) + 1, "the record holds every task");
            // Core time per task of the same calls at full speed: cores / rate.
            const double full = double(QThread::idealThreadCount()) * 1e9 / fullSpeed();
            const double base = without.postNs + without.drainNs;
            const double extra =
                std::max(0.0, (with.postNs - without.postNs) + (with.drainNs - without.drainNs)
                                  + (with.monitorNs - lean.monitorNs));
            postExtra.add(with.postNs - without.postNs);
            drainExtra.add(with.drainNs - without.drainNs);
            monitorCost.add(with.monitorNs - lean.monitorNs);
            plainBare.add(base);
            coreNs.add(full);
            cost.add(extra);
            kept.add(full / (full + extra));
            bare.add(base / (base + extra));
        }
        char note[400];
        std::snprintf(note, sizeof note,
                      "N=%lld %s into a held 1-worker pool, drained, then one Monitor tick: "
                      "recording CPU per task, paired per repetition (median parts: submit "
                      "stamp %+.1f ns, worker stamps and row %+.1f ns, Monitor %.1f ns)",
                      n, c.what.c_str(), postExtra.median(), drainExtra.median(),
                      monitorCost.median());
        ctx.report(figCost, cost, "ns", note);
        std::snprintf(note, sizeof note,
                      "core time per task of %s at full speed on %d workers (median %.0f ns) / "
                      "(the same + the recording's CPU): the throughput kept by a CPU-bound "
                      "stream with every task recorded",
                      c.what.c_str(), kWorkers, coreNs.median());
        ctx.report(figKept, kept, "x", note);
        std::snprintf(note, sizeof note,
                      "the same against the bare CPU per task on the held pool (median %.0f ns: "
                      "no contention, no wake-ups), the strictest reference",
                      plainBare.median());
        ctx.report(figStrict, bare, "x", note);
    }
}

// ------------------------------------------------------------ record.add_cost

// The Monitor's side of recording, on its (the GUI's) thread: adding staged
// rows to a RunRecord, and re-sampling a full one (1,000,000 rows to 500,000:
// the longest single step a tick can take).
void recordAddSuite(Context& ctx)
{
    if (!ctx.wants("record.add_ns_per_task") && !ctx.wants("record.resample_ms"))
        return;
    const quint64 n = quint64(ctx.n(1'000'000, 20'000));
    Samples add, resample;
    for (int r = 0; r < ctx.reps; ++r) {
        poolscope::RunRecord rec(n);
        poolscope::detail::StagedTask row;
        Timer t;
        for (quint64 i = 1; i <= n; ++i) {
            row.id = i;
            row.submit = qint64(i) * 100;
            row.start = row.submit + 50;
            row.end = row.start + 80;
            row.worker = qint32(i & 1);
            row.core = qint16(i & 1);
            rec.add(row);
        }
        add.add(t.seconds() * 1e9 / double(n));
        require(rec.size() == n, "rows");
        Timer t2;
        row.id = n + 2; // even: kept after the re-sampling it triggers
        rec.add(row);
        resample.add(t2.seconds() * 1e3);
        require(rec.sampling() == 2, "re-sampled");
    }
    char note[200];
    std::snprintf(note, sizeof note,
                  "RunRecord::add() of %llu staged rows on 2 workers (columns + lane index), "
                  "per row",
                  static_cast<unsigned long long>(n));
    ctx.report("record.add_ns_per_task", add, "ns", note);
    std::snprintf(note, sizeof note,
                  "one re-sampling of a full record of %llu rows (keeps the even ids, rebuilds "
                  "the lanes): the longest step of a tick",
                  static_cast<unsigned long long>(n));
    ctx.report("record.resample_ms", resample, "ms", note);
}

// ---------------------------------------------------------------- summary.cost

// What a worker pays to summarise a named task's arguments or result
// (cborSummary, 120 characters) for the futures table: an array of doubles
// of about 1 KB, 1 MB and 10 MB as CBOR. Beside it the unbounded way it was
// done before (the whole diagnostic notation, then cut).
void summaryCostSuite(Context& ctx)
{
    struct Size {
        const char* name;
        int items;
    };
    for (const Size& sz : {Size{"1kb", 110}, Size{"1mb", 116'000}, Size{"10mb", 1'160'000}}) {
        const std::string bounded = std::string("summary.cost_us.") + sz.name;
        const std::string whole = std::string("summary.cost_us_unbounded.") + sz.name;
        if (!ctx.wants(bounded) && !ctx.wants(whole))
            continue;
        QCborArray a;
        for (int i = 0; i < sz.items; ++i)
            a.append(i * 1.5);
        const QCborValue v(a);
        const qsizetype bytes = v.toCbor().size();
        Samples fast, slow;
        for (int r = 0; r < ctx.reps; ++r) {
            constexpr int kCalls = 1000;
            Timer t;
            qsizetype n = 0;
            for (int i = 0; i < kCalls; ++i)
                n += poolscope::cborSummary(v).size();
            fast.add(t.seconds() * 1e6 / kCalls);
            require(n == qsizetype(kCalls) * 120, "summary length");
            Timer t2;
            QString s = v.toDiagnosticNotation(QCborValue::Compact);
            if (s.size() > 120)
                s = s.left(117) + QStringLiteral("...");
            slow.add(t2.seconds() * 1e6);
            require(s == poolscope::cborSummary(v), "same text");
        }
        char note[200];
        std::snprintf(note, sizeof note,
                      "cborSummary(120 chars) of an array of %d doubles (%lld bytes of CBOR), per "
                      "call",
                      sz.items, static_cast<long long>(bytes));
        ctx.report(bounded, fast, "us", note);
        std::snprintf(note, sizeof note,
                      "the same value through toDiagnosticNotation() whole, then cut (before "
                      "issue #15)");
        ctx.report(whole, slow, "us", note);
    }
}

// ------------------------------------------------------ record.bytes_per_task

// Memory of the run record per task, after real runs on the pool with a
// Monitor: RunRecord::bytes() (columns, texts, lane index) / rows held.
void bytesPerTaskSuite(Context& ctx)
{
    if (!ctx.wants("record.bytes_per_task"))
        return;
    QCoreApplication* app = QCoreApplication::instance();
    require(app != nullptr, "a QCoreApplication");
    struct Case {
        std::string figure;
        std::string what;
        long long n;
        bool named;
    };
    const std::vector<Case> cases{
        {"record.bytes_per_task.post", "post() of no-op lambdas", ctx.n(1'000'000, 20'000), false},
        {"record.bytes_per_task.named",
         "submitNamed(\"sleep\", [0]) (arguments and a result kept as text, as workloads do)",
         ctx.n(1'000'000, 5'000), true}};
    for (const auto& c : cases) {
        if (!ctx.wants(c.figure))
            continue;
        poolscope::ThreadPoolExecutor pool(kWorkers);
        poolscope::Monitor mon;
        mon.attach(&pool);
        for (long long i = 0; i < c.n; ++i) {
            if (c.named)
                (void)pool.submitNamed(QStringLiteral("sleep"), QCborArray{0});
            else
                pool.post([i] { doNotOptimize(i); });
            if (i % 50'000 == 0)
                QCoreApplication::processEvents(); // let the Monitor tick
        }
        require(pool.waitForIdle(), "idle");
        mon.detach(); // drains the last rows
        const poolscope::RunRecord& rec = *mon.record();
        require(rec.size() == quint64(c.n), "every task recorded");
        Samples s;
        s.add(double(rec.bytes()) / double(rec.size()));
        char note[240];
        std::snprintf(note, sizeof note,
                      "%s: RunRecord::bytes() / %llu rows (columns, texts, per-worker lane "
                      "index; the last 64k-row chunk counted whole)",
                      c.what.c_str(), static_cast<unsigned long long>(rec.size()));
        ctx.report(c.figure, s, "B", note);
    }
}

} // namespace

/// monitor.rss_growth's child: n tasks on a 2-worker pool with a Monitor
/// (default options: 30 Hz, every task recorded up to the limit) ticking on this
/// thread's event loop, or without one; prints one line of figures (see
/// rssGrowthSuite).
int runRssGrowthChild(long long n, bool withMonitor)
{
    const double mb = 1024.0 * 1024.0;
    const long long rss0 = rssBytes();
    long long rssWarm = 0;
    long long rssFull = -1; // when the record first was full (it then samples)
    quint64 doneAtFull = 0;
    quint64 snapshots = 0;
    poolscope::ThreadPoolExecutor pool(kWorkers);
    std::optional<poolscope::Monitor> mon;
    if (withMonitor) {
        mon.emplace();
        QObject::connect(&*mon, &poolscope::Monitor::snapshotReady,
                         [&](const poolscope::Snapshot&) { ++snapshots; });
        mon->attach(&pool);
    }
    Timer t;
    {
        // Half the tasks with a future each (in windows), half post().
        std::atomic<bool> submitsDone{false};
        long long sum = 0;
        std::thread submitter([&] {
            const long long half = n / 2, window = 20000;
            std::vector<poolscope::Future<int>> fs;
            fs.reserve(std::size_t(window));
            for (long long i = 0; i < half;) {
                const long long end = std::min(half, i + window);
                for (; i < end; ++i)
                    fs.push_back(pool.submit([] { return 1; }));
                for (auto& f : fs)
                    sum += f.result();
                fs.clear();
                if (rssWarm == 0 && i >= n / 10)
                    rssWarm = rssBytes();
            }
            submitsDone.store(true);
        });
        // The Monitor lives in this thread: its record is read between spins.
        auto noteFull = [&] {
            // The record is full once it had to sample (RunRecord's limit).
            if (mon && rssFull < 0 && mon->record()->sampling() > 1) {
                rssFull = rssBytes();
                doneAtFull = pool.counters().completed();
            }
        };
        while (!submitsDone.load()) {
            spinEventLoop(50);
            noteFull();
        }
        submitter.join();
        require(sum == n / 2, "submit results");
        Feeder feed(pool, n - n / 2);
        while (!feed.done()) {
            spinEventLoop(50);
            noteFull();
        }
    }
    const double secs = t.seconds();
    const auto c = pool.counters();
    require(c.succeeded == quint64(n) && c.submitted == quint64(n), "task count");
    if (mon) {
        mon->detach();
        require(mon->last().counters.succeeded == quint64(n), "the monitor's count");
    }
    const long long rssEnd = rssBytes();
    std::printf("%.3f %.3f %.3f %.0f %zu %zu %llu %.3f %llu\n", double(rssEnd - rss0) / mb,
                double(rss0) / mb, double(rssEnd - rssWarm) / mb, double(n) / secs,
                mon ? std::size_t(mon->record()->size()) : 0,
                mon ? std::size_t(mon->record()->sampling()) : 0,
                static_cast<unsigned long long>(snapshots),
                rssFull < 0 ? -1.0 : double(rssEnd - rssFull) / mb,
                static_cast<unsigned long long>(doneAtFull));
    std::fflush(stdout);
    return 0;
}

void addMonitorSuites(Registry& r)
{
    r.add({"monitor.tick_cost", "time of one Monitor snapshot while the pool runs ~1M tasks/s",
           tickCostSuite});
    r.add({"monitor.loop_lag_p99",
           "lateness of a 16 ms timer on an event loop holding a 30 Hz Monitor, pool at full "
           "speed",
           loopLagSuite});
    r.add({"monitor.rss_growth", "RSS growth over 10M tasks with a Monitor attached",
           rssGrowthSuite});
    r.add({"monitor.paired_cost",
           "monitored / unmonitored throughput of post() and submit(), paired per repetition "
           "on one pool",
           pairedCostSuite});
    r.add(
        {"record.bytes_per_task", "memory of the run record per recorded task", bytesPerTaskSuite});
    r.add({"summary.cost", "a task's argument/result summary: bounded vs whole notation",
           summaryCostSuite});
    r.add({"record.add_cost", "the Monitor's cost of recording: adding rows, re-sampling",
           recordAddSuite});
    r.add({"record.cost_per_task",
           "recording's CPU per post()ed task (submit stamp, worker stamps and row, the "
           "Monitor's drain), taken apart on a held 1-worker pool",
           recordCostSuite});
    // Issue #14: recording every task costs <= 10 % of post() throughput (aim 5 %).
    r.check({"record.throughput_kept.post", Target{0.90, 0.95}});
    r.check({"record.throughput_kept.submit_future", Target{0.90, 0.95}});
    // Issue #3's target as a paired figure (see pairedCostSuite).
    // Issue #3's target, now with every task recorded (issue #14 asks the
    // recording to cost <= 10 %, aim 5 %: the 0.95 target covers it).
    r.check({"monitor.paired_cost.post", Target{0.95, 0.98}});
    r.check({"monitor.paired_cost.submit_future", Target{0.95, 0.98}});

    r.ratio({"ratio.monitored_vs_unmonitored.submit_future",
             "poolscope.thread.monitored.submit_future", "poolscope.thread.submit_future",
             Target{0.95, 0.98}});
    r.ratio({"ratio.monitored_vs_unmonitored.post", "poolscope.thread.monitored.post",
             "poolscope.thread.post", Target{0.95, 0.98}});
    // Issue #3's target: monitoring costs <= 5 % throughput (aim <= 2 %).
    r.cost("ratio.monitored_vs_unmonitored.submit_future", "monitoring costs");
    r.cost("ratio.monitored_vs_unmonitored.post", "monitoring costs");
}

} // namespace bench
