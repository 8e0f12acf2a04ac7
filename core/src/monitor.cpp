#include "poolscope/monitor.h"

#include "poolscope/cpusampler.h"

#include <algorithm>
#include <cmath>

namespace poolscope {

namespace {
/// The first rate probe after attach (ms); a second follows at 8 ms.
constexpr int kFirstProbeMs = 2;
} // namespace

Monitor::Monitor(QObject* parent)
    : Monitor(MonitorOptions{}, parent)
{}

Monitor::Monitor(const MonitorOptions& options, QObject* parent)
    : QObject(parent)
    , m_opts(options)
    , m_sampler(std::make_unique<CpuSampler>())
{
    qRegisterMetaType<poolscope::Snapshot>();
    m_timer.setTimerType(Qt::PreciseTimer);
    connect(&m_timer, &QTimer::timeout, this, [this] { tick(); });
}

Monitor::~Monitor()
{
    // No final tick here: receivers may already be half destroyed.
    m_timer.stop();
    if (m_executor)
        m_executor->setDetailEnabled(false, false);
}

void Monitor::attach(Executor* executor)
{
    if (executor == m_executor)
        return;
    detach();
    if (!executor)
        return;
    m_executor = executor;
    executor->setRingCapacity(m_opts.spanRing, m_opts.recordRing);
    executor->setDetailEnabled(true, m_opts.records);
    m_originNs = monotonicNs();
    m_prevTimeNs = m_originNs;
    m_prevCompleted = executor->counters().completed();
    m_prevSubmitted = executor->counters().submitted;
    executor->setDetailSampling(1);
    executor->setRecordSampling(1);
    // Only when rate probes come (see below): otherwise the first window
    // lasts until the first tick, a whole interval.
    m_beforeFirstProbe = m_opts.maxSpansPerSecond > 0;
    setDetailBudgets();
    m_prevWorkerCpu.clear();
    m_sampler->reset();
    m_sampler->sample(); // prime: the first reading is since boot
    m_lastCpuNs = m_originNs;
    m_timer.start(m_opts.intervalMs);
    // Sampling starts at "every task" and the first tick only comes after a
    // whole interval (33 ms at 30 Hz): at a few million tasks a second that
    // window alone timed ~100k tasks, a few per cent of a short batch's
    // throughput (docs/benchmarks.md, "Monitoring cost"). Two early probes
    // read the submit rate and set the sampling before the first tick.
    const quint64 generation = ++m_attachGeneration;
    if (m_opts.maxSpansPerSecond > 0) {
        for (int ms : {kFirstProbeMs, 8}) {
            if (ms < m_opts.intervalMs)
                QTimer::singleShot(ms, Qt::PreciseTimer, this,
                                   [this, generation] { probeRate(generation); });
        }
    }
    emit attachedChanged(true);
}

void Monitor::detach()
{
    m_timer.stop();
    if (!m_executor)
        return;
    // Drain what is left so nothing finished before detach goes unseen.
    tick();
    m_executor->setDetailEnabled(false, false);
    m_executor->setDetailSampling(1);
    m_executor->setRecordSampling(1);
    m_executor->setDetailBudget(0, 0);
    m_executor = nullptr;
    emit attachedChanged(false);
}

void Monitor::setIntervalMs(int ms)
{
    m_opts.intervalMs = std::clamp(ms, 1, 60'000);
    if (m_timer.isActive())
        m_timer.start(m_opts.intervalMs);
    if (m_executor)
        setDetailBudgets();
}

void Monitor::setCpuPeriodMs(int ms)
{
    m_opts.cpuPeriodMs = std::clamp(ms, 10, 60'000);
}

void Monitor::setCpuSource(const QString& procStatPath)
{
    m_sampler = std::make_unique<CpuSampler>(procStatPath);
}

void Monitor::clearHistory()
{
    m_spans.clear();
    m_records.clear();
    m_counterSamples.clear();
    m_trimmedSpans = m_trimmedRecords = 0;
    // Workers that retired before the clear have no spans left: keep only
    // those the last snapshot saw, so an export of the next run has no
    // empty lanes for them.
    m_knownWorkers.clear();
    for (const auto& w : m_last.workers)
        m_knownWorkers.insert(w.index, w);
}

void Monitor::setDetailBudgets()
{
    // Twice what each rate budget allows until the next collect or probe:
    // the samplings set from the measured rate stay well inside them; only
    // a burst the sampling has not caught up with yet (just after attach, or
    // between two ticks) meets them. Just after attach the sampling is
    // "every task" and the first probe comes after kFirstProbeMs, so the
    // budget covers those 2 ms (400 tasks at the defaults), not a whole
    // interval (6,600): a burst then no longer pays for timing thousands of
    // tasks in its first milliseconds. 0 (no limit) where the rate budget
    // is 0.
    const int windowMs =
        m_beforeFirstProbe ? std::min(kFirstProbeMs, m_opts.intervalMs) : m_opts.intervalMs;
    auto perTick = [windowMs](double perSecond) {
        return perSecond <= 0 ? quint64(0)
                              : quint64(std::ceil(2.0 * perSecond * windowMs / 1000.0));
    };
    m_executor->setDetailBudget(perTick(m_opts.maxSpansPerSecond),
                                perTick(m_opts.maxRecordsPerSecond));
}

namespace {
/// The smallest power of two that brings `rate` under `budget`. Raised at
/// once; lowered only as far as keeps the rate under half the budget, so a
/// rate near a boundary does not flip it every tick. (It used to lower only
/// when a quarter of the current sampling would do, which kept a sampling
/// of 2 in force for ever once the pool went quiet.)
int samplingFor(double rate, double budget, int current)
{
    int want = 1;
    while (want < (1 << 20) && rate / want > budget)
        want <<= 1;
    if (want >= current)
        return want;
    int lower = want;
    while (lower < current && rate / lower > budget / 2)
        lower <<= 1;
    return lower;
}
} // namespace

void Monitor::adjustSampling(double tasksPerSecond)
{
    int spans = m_executor->detailSampling();
    if (m_opts.maxSpansPerSecond > 0) {
        spans = samplingFor(tasksPerSecond, m_opts.maxSpansPerSecond, spans);
        if (spans != m_executor->detailSampling())
            m_executor->setDetailSampling(spans);
    }
    if (m_opts.maxRecordsPerSecond > 0 && m_opts.records) {
        const int current = m_executor->recordSampling();
        const int want = samplingFor(tasksPerSecond / spans, m_opts.maxRecordsPerSecond, current);
        if (want != current)
            m_executor->setRecordSampling(want);
    }
}

void Monitor::probeRate(quint64 generation)
{
    if (!m_executor || generation != m_attachGeneration)
        return; // detached (or attached elsewhere) since the probe was set
    const qint64 dt = monotonicNs() - m_prevTimeNs;
    if (dt <= 0)
        return;
    // Only the rate since the last tick (or the attach); the tick's own
    // figures stay untouched.
    const quint64 submitted = m_executor->counters().submitted;
    adjustSampling(double(submitted - m_prevSubmitted) * 1e9 / double(dt));
    endFirstWindow();
}

void Monitor::endFirstWindow()
{
    if (!m_beforeFirstProbe)
        return;
    m_beforeFirstProbe = false;
    if (m_opts.maxSpansPerSecond > 0 || m_opts.maxRecordsPerSecond > 0)
        setDetailBudgets(); // the interval's budget, refilled
}

const Snapshot& Monitor::tick()
{
    if (!m_executor)
        return m_last;
    Snapshot& s = m_last;
    m_batch.spans.clear();
    m_batch.records.clear();
    m_batch.hostCpu.clear(); // only pools with remote hosts fill it; none leaks into the next pool
    m_executor->collectTelemetry(m_batch, m_opts.queueHeadSize);
    endFirstWindow(); // a tick before the first probe (a direct tick() call) ends it too

    s.tick = ++m_tick;
    s.timeNs = m_batch.timeNs;
    s.sinceStartNs = m_batch.timeNs - m_originNs;
    s.poolKind = m_executor->kind();
    m_poolKind = s.poolKind;
    s.counters = m_batch.counters;
    s.maxWorkers = m_batch.maxWorkers;
    s.paused = m_batch.paused;
    s.shutdown = m_batch.shutdown;
    s.queueHead = m_batch.queueHead;
    s.workers = m_batch.workers;
    s.hostCpu = m_batch.hostCpu;
    s.spans.swap(m_batch.spans);
    s.completed.clear();
    s.completed.reserve(qsizetype(m_batch.records.size()));
    for (auto& r : m_batch.records)
        s.completed.append(std::move(r));

    // Rates over the last tick.
    const qint64 dt = s.timeNs - m_prevTimeNs;
    const quint64 done = s.counters.completed();
    s.tasksPerSecond = dt > 0 ? double(done - m_prevCompleted) * 1e9 / double(dt) : 0.0;
    const double submitRate =
        dt > 0 ? double(s.counters.submitted - m_prevSubmitted) * 1e9 / double(dt) : 0.0;
    m_prevTimeNs = s.timeNs;
    m_prevCompleted = done;
    m_prevSubmitted = s.counters.submitted;
    adjustSampling(std::max(s.tasksPerSecond, submitRate));
    s.detailSampling = m_executor->detailSampling();
    s.recordSampling = m_executor->recordSampling();
    s.workerCount = 0;
    for (auto& w : s.workers) {
        if (w.state != WorkerState::Dead)
            ++s.workerCount;
        auto prev = m_prevWorkerCpu.value(w.index, {0, -1});
        if (w.cpuNs >= 0 && prev.second >= 0 && s.timeNs > prev.first)
            w.cpuLoad =
                std::clamp(double(w.cpuNs - prev.second) / double(s.timeNs - prev.first), 0.0, 1.0);
        if (w.state == WorkerState::Dead)
            m_prevWorkerCpu.remove(w.index);
        else
            m_prevWorkerCpu.insert(w.index, {s.timeNs, w.cpuNs});
        m_knownWorkers.insert(w.index, w);
    }

    s.cpuFresh = false;
    if (s.timeNs - m_lastCpuNs >= qint64(m_opts.cpuPeriodMs) * 1'000'000) {
        const CpuUsage u = m_sampler->sample();
        m_lastCpuNs = s.timeNs;
        if (u.valid) {
            s.cpu = u;
            s.cpu.timeNs = s.timeNs;
            s.cpuFresh = true;
        }
    }

    retain(s);
    emit snapshotReady(s);
    return s;
}

TraceData Monitor::traceData(const QString& title) const
{
    TraceData t;
    t.title = title.isEmpty() ? QStringLiteral("PoolScope run") : title;
    t.poolKind = m_poolKind;
    t.originNs = m_originNs;
    QList<int> indices = m_knownWorkers.keys();
    std::sort(indices.begin(), indices.end());
    for (int i : indices) {
        const WorkerInfo& w = m_knownWorkers.value(i);
        t.workers.append(TraceWorker{w.index, w.name, w.pid, w.tid});
    }
    setWorkerPlaces(t, m_knownWorkers); // MPI ranks: tracks by host and rank
    t.spans.assign(m_spans.begin(), m_spans.end());
    for (const auto& c : m_counterSamples)
        t.counters.append(TraceCounterSample{c.timeNs, qint64(c.queued), qint64(c.running)});
    for (const auto& r : m_records) {
        if (!r.args.isEmpty())
            t.args.insert(r.span.taskId, r.args);
    }
    return t;
}

QList<TaskRecord> Monitor::records() const
{
    return QList<TaskRecord>(m_records.begin(), m_records.end());
}

void Monitor::retain(const Snapshot& s)
{
    for (const auto& sp : s.spans)
        m_spans.push_back(sp);
    for (const auto& r : s.completed)
        m_records.push_back(r);
    m_counterSamples.push_back(
        CounterSample{s.timeNs, s.counters.queued, s.counters.running, s.counters.completed()});

    const qint64 horizon = s.timeNs - m_opts.historySeconds * 1'000'000'000;
    while (!m_spans.empty()
           && (m_spans.size() > m_opts.historySpans || m_spans.front().endNs < horizon)) {
        m_spans.pop_front();
        ++m_trimmedSpans;
    }
    while (m_records.size() > m_opts.historyRecords) {
        m_records.pop_front();
        ++m_trimmedRecords;
    }
    while (m_counterSamples.size() > m_opts.historyCounters)
        m_counterSamples.pop_front();
}

} // namespace poolscope
