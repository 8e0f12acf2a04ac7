#include "poolscope/monitor.h"

#include "stamps.h"

#include "poolscope/cpusampler.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace poolscope {

namespace {
/// The longest the Monitor drains rows in one go on its thread (the GUI's
/// in the window): a frame is 16 ms, and a tick's views and a paint must fit
/// in it too. At millions of tasks a second a tick's rows take longer; the
/// rest follow in more slices, between other events.
constexpr qint64 kDrainSliceNs = 2'000'000;
/// Rows drained between two looks at the clock (~0.05 ms of rows).
constexpr std::size_t kDrainStep = 2048;
} // namespace

Monitor::Monitor(QObject* parent)
    : Monitor(MonitorOptions{}, parent)
{}

Monitor::Monitor(const MonitorOptions& options, QObject* parent)
    : QObject(parent)
    , m_opts(options)
    , m_sampler(std::make_unique<CpuSampler>())
    , m_stamps(std::make_unique<detail::StampConverter>())
{
    qRegisterMetaType<poolscope::Snapshot>();
    m_opts.recordSampling = std::max<quint64>(1, m_opts.recordSampling);
    m_run = newRecord();
    // Named, so that a profile of the thread that ticks says which is which.
    m_timer.setObjectName(QStringLiteral("monitorTick"));
    m_drainTimer.setObjectName(QStringLiteral("monitorDrain"));
    m_cpuTimer.setObjectName(QStringLiteral("monitorCpu"));
    m_timer.setTimerType(Qt::PreciseTimer);
    m_cpuTimer.setTimerType(Qt::PreciseTimer);
    // Out of memory in a tick (a snapshot, a sample, a drain) skips that
    // tick and is said once; a std::bad_alloc let through Qt's event loop
    // ended the program ("Qt has caught an exception thrown from an event
    // handler"). The run record counts the rows it could not hold itself.
    auto guarded = [this](auto&& f) {
        try {
            f();
        } catch (const std::bad_alloc&) {
            if (m_outOfMemoryTicks++ == 0)
                qWarning("poolscope: the monitor ran out of memory; it skips what it cannot "
                         "hold and goes on");
        }
    };
    connect(&m_timer, &QTimer::timeout, this,
            [this, guarded] { guarded([this] { collect(true); }); });
    connect(&m_cpuTimer, &QTimer::timeout, this,
            [this, guarded] { guarded([this] { sampleCpu(monotonicNs()); }); });
    m_drainTimer.setSingleShot(true);
    m_drainTimer.setInterval(0);
    connect(&m_drainTimer, &QTimer::timeout, this, [this, guarded] {
        guarded([this] {
            if (!drainFor(kDrainSliceNs))
                m_drainTimer.start();
        });
    });
}

Monitor::~Monitor()
{
    // No final tick here: receivers may already be half destroyed.
    m_timer.stop();
    m_cpuTimer.stop();
    if (m_executor && m_recordingVote) {
        // But the rows staged for it are consumed (dropped: its record may
        // be read on another thread now, and nobody reads this Monitor's
        // rows any more). Left staged, they would reach another Monitor of
        // the pool (an attach publisher's, which counted those tasks as
        // taken by this one).
        try {
            m_batch.takesRows = m_opts.recordLimit > 0 && !yieldsNow();
            if (m_batch.takesRows) {
                m_executor->collectTelemetry(m_batch, 0);
                for (const auto& w : m_batch.writers)
                    m_draining.push_back(w);
                m_batch.writers.clear();
                for (const auto& w : m_draining)
                    w->drainRuns([](const detail::StagedTask*, std::size_t) {});
                m_draining.clear();
            }
        } catch (...) {
            // Out of memory: the rows stay staged; nothing else to do here.
        }
        m_executor->wantRecording(false);
    }
}

std::shared_ptr<RunRecord> Monitor::newRecord() const
{
    auto r = std::make_shared<RunRecord>(m_opts.recordLimit > 0 ? m_opts.recordLimit
                                                                : RunRecord::kDefaultLimit,
                                         m_opts.recordSampling);
    r->setGilTurnLimit(m_opts.gilTurnLimit);
    return r;
}

void Monitor::attach(Executor* executor)
{
    if (executor == m_executor)
        return;
    detach();
    if (!executor)
        return;
    m_executor = executor;
    m_stamps->anchor();
    executor->setStagingCapacity(m_opts.stagingRows);
    m_recordingVote = m_opts.recordLimit > 0 && m_wantRecording;
    m_yielding = false;
    if (m_recordingVote)
        executor->wantRecording(true);
    m_originNs = monotonicNs();
    m_prevTimeNs = m_originNs;
    m_prevCompleted = executor->counters().completed();
    m_prevWorkerCpu.clear();
    m_writerLost.clear();
    m_sampler->reset();
    m_sampler->sample(); // prime: the first reading is since boot
    m_lastCpuNs = m_originNs;
    m_pendingCpu.clear();
    m_timer.start(m_opts.intervalMs);
    updateCpuTimer();
    emit attachedChanged(true);
}

void Monitor::detach()
{
    m_timer.stop();
    m_cpuTimer.stop();
    if (!m_executor)
        return;
    // Drain what is left so nothing finished before detach goes unseen.
    tick();
    drainAll();
    if (std::exchange(m_recordingVote, false))
        m_executor->wantRecording(false);
    m_executor = nullptr;
    emit attachedChanged(false);
}

void Monitor::setIntervalMs(int ms)
{
    m_opts.intervalMs = std::clamp(ms, 1, 60'000);
    if (m_timer.isActive())
        m_timer.start(m_opts.intervalMs);
    updateCpuTimer();
}

void Monitor::setCpuPeriodMs(int ms)
{
    m_opts.cpuPeriodMs = std::clamp(ms, 10, 60'000);
    updateCpuTimer();
}

void Monitor::updateCpuTimer()
{
    if (m_timer.isActive() && m_opts.cpuPeriodMs < m_opts.intervalMs) {
        if (!m_cpuTimer.isActive() || m_cpuTimer.interval() != m_opts.cpuPeriodMs)
            m_cpuTimer.start(m_opts.cpuPeriodMs);
    } else {
        m_cpuTimer.stop();
    }
}

void Monitor::sampleCpu(qint64 nowNs)
{
    CpuUsage u = m_sampler->sample();
    m_lastCpuNs = nowNs;
    if (!u.valid)
        return;
    u.timeNs = nowNs;
    m_pendingCpu.append(std::move(u));
}

void Monitor::setCpuSource(const QString& procStatPath)
{
    m_sampler = std::make_unique<CpuSampler>(procStatPath);
}

void Monitor::setRecordLimit(quint64 limit)
{
    m_opts.recordLimit = std::min<quint64>(limit, RunRecord::kMaxLimit);
    if (m_opts.recordLimit > 0)
        m_run->setLimit(m_opts.recordLimit);
    const bool vote = m_opts.recordLimit > 0 && m_wantRecording;
    if (m_executor && m_recordingVote != vote) {
        m_recordingVote = vote;
        m_executor->wantRecording(vote);
    }
}

void Monitor::setRecordingWanted(bool on)
{
    m_wantRecording = on;
    const bool vote = m_opts.recordLimit > 0 && on;
    if (m_executor && m_recordingVote != vote) {
        m_recordingVote = vote;
        m_executor->wantRecording(vote);
    }
}

bool Monitor::yieldsNow()
{
    if (!m_opts.yieldRows || !m_executor)
        return false;
    m_yielding = m_executor->recordingVotes() > (m_recordingVote ? 1 : 0);
    return m_yielding;
}

void Monitor::startRun()
{
    drainAll(); // what finished so far belongs to the run that ends here
    if (!m_run->empty() || m_run->stats().seen > 0) {
        m_pastRuns.push_back(m_run);
        quint64 rows = 0;
        for (const auto& r : m_pastRuns)
            rows += r->size();
        while (!m_pastRuns.empty()
               && (int(m_pastRuns.size()) > std::max(0, m_opts.keptRuns)
                   || rows > m_opts.keptRunRows)) {
            rows -= m_pastRuns.front()->size();
            m_pastRuns.pop_front();
            ++m_droppedRuns;
        }
    }
    m_run = newRecord();
    ++m_runSerial;
    m_counterSamples.clear();
    // Workers that retired before the new run have no rows in it: keep only
    // those the last snapshot saw, so an export of the run has no empty
    // lanes for them.
    m_knownWorkers.clear();
    for (const auto& w : m_last.workers)
        m_knownWorkers.insert(w.index, w);
}

void Monitor::takeGilTurns()
{
    // Turns have one consumer too: a yielding Monitor leaves them.
    if (!m_executor || m_opts.recordLimit == 0 || m_yielding
        || !m_executor->collectGilTurns(m_gilBatch))
        return;
    // Stamps of the batch all precede this anchor.
    m_stamps->anchor();
    m_run->addGilTurns(m_gilBatch, m_stamps.get());
}

bool Monitor::drainFor(qint64 budgetNs)
{
    if (m_draining.empty()) {
        takeGilTurns();
        return true;
    }
    // The anchor taken now brackets every stamp staged so far (they were
    // all written before it).
    detail::StampConverter& stamps = *m_stamps;
    stamps.anchor();
    RunRecord& run = *m_run;
    const qint64 deadline = monotonicNs() + budgetNs;
    std::size_t done = 0;
    for (const auto& writer : m_draining) {
        detail::StampConverter* conv = writer->ticks() ? &stamps : nullptr;
        for (;;) {
            // Another voter may have come since the tick: from then on
            // its rows are its own (each step, not only each tick).
            if (m_opts.yieldRows && yieldsNow()) {
                done = m_draining.size();
                goto outOfTime;
            }
            const std::size_t n =
                writer->drainRuns([&](const detail::StagedTask* rows,
                                      std::size_t count) { run.addStaged(rows, count, conv); },
                                  kDrainStep);
            if (n < kDrainStep)
                break; // this writer is empty (for now)
            if (budgetNs > 0 && monotonicNs() >= deadline)
                goto outOfTime;
        }
        ++done;
    }
outOfTime:
    m_draining.erase(m_draining.begin(), m_draining.begin() + qsizetype(done));
    // After the rows: every task drained so far released the GIL before its
    // row was staged, so its turns are in this take.
    takeGilTurns();
    return m_draining.empty();
}

void Monitor::drainAll()
{
    m_drainTimer.stop();
    drainFor(0);
}

const Snapshot& Monitor::tick()
{
    return collect(false);
}

const Snapshot& Monitor::collect(bool sliced)
{
    if (!m_executor)
        return m_last;
    Snapshot& s = m_last;
    m_batch.hostCpu.clear(); // only pools with remote hosts fill it; none leaks into the next pool
    // Decided before collecting: a Monitor that takes no rows must not be
    // handed the writers of workers that are gone (they are handed out once).
    const bool takesRows = m_opts.recordLimit > 0 && !yieldsNow();
    m_batch.takesRows = takesRows;
    m_executor->collectTelemetry(m_batch, m_opts.queueHeadSize);
    // A Monitor that records nothing (record limit 0) holds no vote and
    // takes no row: staged rows have one consumer, and they belong to a
    // Monitor that asked for them (an attach publisher's counters-only
    // Monitor beside the program's own). Nor does one that yields them to
    // another voter (MonitorOptions::yieldRows).
    if (!takesRows) {
        m_batch.writers.clear();
        m_draining.clear(); // what they stage is the other client's
    }
    // Rows lost to full staging, counted by their producers.
    QHash<const detail::RecordWriter*, quint64> lostNow;
    for (const auto& writer : m_batch.writers) {
        const quint64 lost = writer->lost();
        const quint64 counted = m_writerLost.value(writer.get());
        if (lost > counted)
            m_run->addLost(lost - counted);
        lostNow.insert(writer.get(), lost);
    }
    // Only this batch's writers: a dead worker's writer comes in one last
    // batch, and a new writer may reuse its address.
    m_writerLost.swap(lostNow);
    // This batch's writers, and any of the last one still being drained (a
    // dead worker's writer is in no later batch), drained in slices.
    for (auto& w : m_batch.writers) {
        if (std::find(m_draining.begin(), m_draining.end(), w) == m_draining.end())
            m_draining.push_back(std::move(w));
    }
    m_batch.writers.clear(); // no reference held but the draining list
    // On the timer the rows are drained in slices of their own, not in this
    // event: the views fed by the snapshot below then cost their own time
    // only, and other events (a repaint, input) run between the slices.
    if (!sliced)
        drainAll();
    else if (!m_draining.empty() && !m_drainTimer.isActive())
        m_drainTimer.start();

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
    if (m_batch.ticks) {
        for (auto& q : s.queueHead)
            q.enqueueNs = m_stamps->toNs(q.enqueueNs);
        for (auto& w : s.workers) {
            w.currentStartNs = m_stamps->toNs(w.currentStartNs);
            w.busyNs = m_stamps->ticksToNs(w.busyNs);
        }
    }
    s.record = m_run;
    // Rows added since the last snapshot (by the drain slices between them,
    // or by this tick's drain); 0 when the record is another or re-sampled.
    const bool sameRows = m_snapRun == m_runSerial && m_snapGeneration == m_run->generation()
                          && m_run->size() >= m_snapRows;
    s.newRows = sameRows ? m_run->size() - m_snapRows : 0;
    m_snapRun = m_runSerial;
    m_snapGeneration = m_run->generation();
    m_snapRows = m_run->size();
    s.recordStats = m_run->stats();

    // Rates over the last tick.
    const qint64 dt = s.timeNs - m_prevTimeNs;
    const quint64 done = s.counters.completed();
    s.tasksPerSecond = dt > 0 ? double(done - m_prevCompleted) * 1e9 / double(dt) : 0.0;
    m_prevTimeNs = s.timeNs;
    m_prevCompleted = done;
    s.workerCount = 0;
    for (auto& w : s.workers) {
        if (!hasEnded(w.state))
            ++s.workerCount;
        auto prev = m_prevWorkerCpu.value(w.index, {0, -1});
        if (w.cpuNs >= 0 && prev.second >= 0 && s.timeNs > prev.first)
            w.cpuLoad =
                std::clamp(double(w.cpuNs - prev.second) / double(s.timeNs - prev.first), 0.0, 1.0);
        if (hasEnded(w.state))
            m_prevWorkerCpu.remove(w.index);
        else
            m_prevWorkerCpu.insert(w.index, {s.timeNs, w.cpuNs});
        m_knownWorkers.insert(w.index, w);
    }

    // On the CPU timer's samples alone while it runs: one more here, just
    // after one of its, would cover a few ms (/proc/stat counts in 10 ms).
    if (!m_cpuTimer.isActive() && s.timeNs - m_lastCpuNs >= qint64(m_opts.cpuPeriodMs) * 1'000'000)
        sampleCpu(s.timeNs);
    s.cpuSamples = std::exchange(m_pendingCpu, {});
    s.cpuFresh = !s.cpuSamples.isEmpty();
    if (s.cpuFresh)
        s.cpu = s.cpuSamples.constLast();

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
    t.record = m_run;
    for (const auto& c : m_counterSamples)
        t.counters.append(TraceCounterSample{c.timeNs, qint64(c.queued), qint64(c.running)});
    return t;
}

void Monitor::retain(const Snapshot& s)
{
    m_counterSamples.push_back(
        CounterSample{s.timeNs, s.counters.queued, s.counters.running, s.counters.completed()});
    while (m_counterSamples.size() > m_opts.historyCounters)
        m_counterSamples.pop_front();
}

} // namespace poolscope
