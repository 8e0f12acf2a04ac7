#include "poolscope/patterns.h"

#include <QHash>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace poolscope {

namespace {

/// "850 ns", "12.3 µs", "4.56 ms", "1.23 s": core has no ui/display helpers.
QString duration(qint64 ns)
{
    const double v = double(ns);
    if (std::llabs(ns) < 1'000)
        return QStringLiteral("%1 ns").arg(ns);
    if (std::llabs(ns) < 1'000'000)
        return QStringLiteral("%1 µs").arg(v / 1e3, 0, 'f', v < 1e4 ? 1 : 0);
    if (std::llabs(ns) < 1'000'000'000)
        return QStringLiteral("%1 ms").arg(v / 1e6, 0, 'f', v < 1e7 ? 2 : 1);
    return QStringLiteral("%1 s").arg(v / 1e9, 0, 'f', 2);
}

QString percent(double fraction)
{
    return QStringLiteral("%1%").arg(std::lround(fraction * 100.0));
}

QString number(double v, int decimals = 2)
{
    return QString::number(v, 'f', decimals);
}

qint64 median(std::vector<qint64> v)
{
    if (v.empty())
        return 0;
    const auto mid = v.begin() + std::ptrdiff_t(v.size() / 2);
    std::nth_element(v.begin(), mid, v.end());
    if (v.size() % 2 == 1)
        return *mid;
    const qint64 hi = *mid;
    const qint64 lo = *std::max_element(v.begin(), mid);
    return lo + (hi - lo) / 2;
}

qint64 runStart(const TaskSpan& s)
{
    return s.enqueueNs > 0 && s.enqueueNs <= s.startNs ? s.enqueueNs : s.startNs;
}

/// One worker's tasks in start order, as (submit, start, end): adds the gaps
/// between runStart, the tasks and runEnd to overhead (the next task was
/// already submitted) or idle (it was not yet, or nothing followed).
struct LaneGaps {
    qint64 prevEnd;
    qint64 overhead = 0;
    qint64 idle = 0;

    explicit LaneGaps(qint64 runStart)
        : prevEnd(runStart)
    {}
    void task(qint64 submit, qint64 start, qint64 end)
    {
        if (start > prevEnd) {
            // Unknown submit times (0) count the whole gap as idle.
            const qint64 ready = submit > 0 ? std::clamp(submit, prevEnd, start) : start;
            idle += ready - prevEnd;
            overhead += start - ready;
        }
        prevEnd = std::max(prevEnd, end);
    }
    void finish(qint64 runEnd) { idle += std::max<qint64>(0, runEnd - prevEnd); }
};

template<class Container>
TimeDecomposition decomposeAll(const Container& spans)
{
    TimeDecomposition d;
    for (const TaskSpan& s : spans)
        d += decompose(s);
    qint64 begin = std::numeric_limits<qint64>::max();
    qint64 end = std::numeric_limits<qint64>::min();
    QHash<int, std::vector<const TaskSpan*>> byWorker;
    for (const TaskSpan& s : spans) {
        if (!s.started)
            continue;
        begin = std::min(begin, runStart(s));
        end = std::max(end, s.endNs);
        byWorker[s.worker].push_back(&s);
    }
    // Worker -1 (unknown, as in other tools' traces) is many lanes in one.
    if (byWorker.isEmpty() || byWorker.contains(-1))
        return d;
    d.overheadNs = d.idleNs = 0;
    d.workers = int(byWorker.size());
    for (auto& lane : byWorker) {
        std::sort(lane.begin(), lane.end(),
                  [](const TaskSpan* a, const TaskSpan* b) { return a->startNs < b->startNs; });
        LaneGaps g(begin);
        for (const TaskSpan* s : lane)
            g.task(s->enqueueNs, s->startNs, s->endNs);
        g.finish(end);
        d.overheadNs += g.overhead;
        d.idleNs += g.idle;
    }
    return d;
}

} // namespace

// ------------------------------------------------------------ decomposition

TimeDecomposition& TimeDecomposition::operator+=(const TimeDecomposition& o)
{
    queuedNs += o.queuedNs;
    gilWaitNs += o.gilWaitNs;
    cpuNs += o.cpuNs;
    waitingNs += o.waitingNs;
    unmeasuredNs += o.unmeasuredNs;
    tasks += o.tasks;
    const bool both = hasWorkerTime() && o.hasWorkerTime();
    overheadNs = both ? overheadNs + o.overheadNs : -1;
    idleNs = both ? idleNs + o.idleNs : -1;
    workers = both ? workers + o.workers : 0;
    return *this;
}

TimeDecomposition decompose(const TaskSpan& span)
{
    TimeDecomposition d;
    d.tasks = 1;
    if (span.enqueueNs > 0)
        d.queuedNs = std::max<qint64>(0, span.startNs - span.enqueueNs);
    const qint64 run = std::max<qint64>(0, span.endNs - span.startNs);
    d.gilWaitNs = std::max<qint64>(0, span.gilWaitNs);
    if (span.cpuNs >= 0) {
        d.cpuNs = span.cpuNs;
        d.waitingNs = std::max<qint64>(0, run - span.cpuNs - d.gilWaitNs);
    } else {
        d.unmeasuredNs = std::max<qint64>(0, run - d.gilWaitNs);
    }
    return d;
}

TimeDecomposition decompose(const std::vector<TaskSpan>& spans)
{
    return decomposeAll(spans);
}

TimeDecomposition decompose(const std::deque<TaskSpan>& spans)
{
    return decomposeAll(spans);
}

// ------------------------------------------------------------------- facts

double RunFacts::cpuPerWall() const
{
    if (totalCpuNs < 0 || wallNs <= 0)
        return -1;
    return double(totalCpuNs) / double(wallNs);
}

double RunFacts::meanRunning() const
{
    return wallNs > 0 ? double(totalRunNs) / double(wallNs) : 0.0;
}

RunFacts fromSpans(const std::vector<TaskSpan>& spans, const RunContext& context)
{
    RunFacts f;
    f.cores = context.cores;
    f.gil = context.gil;
    f.systemCpuBusy = context.systemCpuBusy;
    f.tasks = qint64(spans.size());
    if (spans.empty()) {
        f.workers = context.workers;
        f.totalCpuNs = context.workerCpuNs;
        f.dispatchOverheadNs = context.fallbackDispatchOverheadNs;
        return f;
    }

    qint64 start = std::numeric_limits<qint64>::max();
    qint64 end = std::numeric_limits<qint64>::min();
    qint64 cpu = 0;
    bool cpuKnown = false;
    QHash<int, std::vector<const TaskSpan*>> byWorker;
    f.taskRunNs.reserve(spans.size());
    for (const TaskSpan& s : spans) {
        start = std::min(start, runStart(s));
        end = std::max(end, s.endNs);
        const qint64 run = std::max<qint64>(0, s.endNs - s.startNs);
        f.taskRunNs.push_back(run);
        f.totalRunNs += run;
        f.totalGilWaitNs += std::max<qint64>(0, s.gilWaitNs);
        f.maxTaskNs = std::max(f.maxTaskNs, run);
        if (s.cpuNs >= 0) {
            cpu += s.cpuNs;
            cpuKnown = true;
        }
        byWorker[s.worker].push_back(&s);
    }
    f.startNs = start;
    f.endNs = end;
    f.wallNs = std::max<qint64>(0, end - start);
    f.totalCpuNs = cpuKnown ? cpu : context.workerCpuNs;
    f.workers = context.workers > 0 ? context.workers : int(byWorker.size());
    f.medianTaskNs = median(f.taskRunNs);
    f.meanTaskNs = f.totalRunNs / f.tasks;

    // Hand-over cost: the gap on one worker between a task's end and the
    // next task's start, when that next task was already waiting.
    std::vector<qint64> gaps;
    for (auto& list : byWorker) {
        std::sort(list.begin(), list.end(),
                  [](const TaskSpan* a, const TaskSpan* b) { return a->startNs < b->startNs; });
        for (std::size_t i = 1; i < list.size(); ++i) {
            const TaskSpan& a = *list[i - 1];
            const TaskSpan& b = *list[i];
            if (b.enqueueNs > 0 && b.enqueueNs <= a.endNs)
                gaps.push_back(std::max<qint64>(0, b.startNs - a.endNs));
        }
    }
    // The mean, not the median: every nanosecond a worker spends between two
    // tasks while work waits is overhead, the rare long gaps included.
    f.dispatchGapSamples = qint64(gaps.size());
    qint64 gapSum = 0;
    for (qint64 g : gaps)
        gapSum += g;
    f.dispatchOverheadNs =
        gaps.empty() ? context.fallbackDispatchOverheadNs : gapSum / qint64(gaps.size());

    // Running tasks over time: +1 at each start, -1 at each end.
    std::vector<std::pair<qint64, int>> events;
    events.reserve(spans.size() * 2);
    for (const TaskSpan& s : spans) {
        events.emplace_back(s.startNs, +1);
        events.emplace_back(std::max(s.startNs, s.endNs), -1);
    }
    std::sort(events.begin(), events.end());
    f.busy.push_back({start, 0});
    int running = 0;
    for (std::size_t i = 0; i < events.size();) {
        const qint64 t = events[i].first;
        while (i < events.size() && events[i].first == t)
            running += events[i++].second;
        if (f.busy.back().timeNs == t)
            f.busy.back().running = running;
        else if (f.busy.back().running != running)
            f.busy.push_back({t, running});
    }
    return f;
}

RunFacts fromSpans(const std::deque<TaskSpan>& spans, const RunContext& context)
{
    return fromSpans(std::vector<TaskSpan>(spans.begin(), spans.end()), context);
}

// ------------------------------------------------------------------- hints

QList<PatternHint> detectPatterns(const RunFacts& f, const PatternThresholds& t)
{
    QList<PatternHint> out;
    if (f.tasks == 0 || f.wallNs <= 0)
        return out;

    const double cpuPerWall = f.cpuPerWall();
    const qint64 onCpuTime = std::max<qint64>(1, f.totalRunNs - f.totalGilWaitNs);
    const double taskCpuShare = f.totalCpuNs >= 0 ? double(f.totalCpuNs) / double(onCpuTime) : -1;
    const double gilShare = f.totalRunNs > 0 ? double(f.totalGilWaitNs) / double(f.totalRunNs) : 0;
    const bool gilBound = f.gil && f.workers >= 2 && gilShare >= t.gilWaitShare
                          && (cpuPerWall < 0 || cpuPerWall <= t.gilMaxCpuPerWall);
    const double meanRunning = f.meanRunning();

    // ---- oversubscription
    if (f.cores > 0 && f.workers > f.cores && cpuPerWall >= 0 && !gilBound
        && meanRunning >= t.oversubMeanRunningPerCore * f.cores
        && cpuPerWall >= t.oversubCoresBusy * f.cores && taskCpuShare >= 0
        && taskCpuShare < t.oversubTaskCpuShare && gilShare < t.gilWaitShare) {
        out.append(PatternHint{
            QString::fromLatin1(kHintOversubscription),
            QStringLiteral("More busy workers than cores"),
            QStringLiteral("The tasks want the CPU, and there are more of them running than the "
                           "machine has cores, so they take turns: each task's wall time "
                           "stretches while the run as a whole gets no faster. For CPU-bound "
                           "work use about as many workers as cores."),
            QStringLiteral("on average %1 tasks were running on %2 cores; CPU/wall = %3 (the "
                           "cores were full); each task got only %4 of a core while it ran "
                           "(%5 CPU in %6 of task time)")
                .arg(number(meanRunning, 1))
                .arg(f.cores)
                .arg(number(cpuPerWall))
                .arg(percent(taskCpuShare), duration(f.totalCpuNs), duration(onCpuTime))});
    }

    // ---- load imbalance: a tail where at most half of the workers are busy
    if (f.workers >= 2 && f.tasks >= f.workers && f.busy.size() >= 2) {
        std::size_t k = f.busy.size();
        while (k > 0 && f.busy[k - 1].running * 2 <= f.workers)
            --k;
        if (k > 0 && k < f.busy.size()) {
            const qint64 tailStart = f.busy[k].timeNs;
            const qint64 tail = f.endNs - tailStart;
            const double tailShare = double(tail) / double(f.wallNs);
            int maxBusy = 0;
            for (std::size_t i = k; i < f.busy.size(); ++i)
                maxBusy = std::max(maxBusy, f.busy[i].running);
            // A stair-step tail: the pool was well used before it (tiny
            // tasks keep the busy count low all along; that is overhead).
            double before = 0;
            for (std::size_t i = 0; i + 1 <= k && i + 1 < f.busy.size(); ++i)
                before +=
                    double(f.busy[i].running) * double(f.busy[i + 1].timeNs - f.busy[i].timeNs);
            const qint64 headNs = tailStart - f.startNs;
            const double usedBefore = headNs > 0 ? before / double(headNs) : 0;
            if (tailShare >= t.imbalanceTailFraction && maxBusy > 0
                && usedBefore >= t.imbalanceBusyBefore * f.workers) {
                const double skew =
                    f.medianTaskNs > 0 ? double(f.maxTaskNs) / double(f.medianTaskNs) : 0.0;
                out.append(PatternHint{
                    QString::fromLatin1(kHintLoadImbalance),
                    QStringLiteral("Load imbalance: a long tail"),
                    QStringLiteral("Near the end only a few workers still have work while the "
                                   "others sit idle: the run waits for its longest tasks "
                                   "(stragglers). Split the work into smaller or more even "
                                   "tasks, or submit the longest ones first."),
                    QStringLiteral(
                        "no more than %1 of %2 workers busy during the last %3 of the run "
                        "(%4 of %5); the longest task ran %6, %7x the median (%8)")
                        .arg(maxBusy)
                        .arg(f.workers)
                        .arg(percent(tailShare), duration(tail), duration(f.wallNs),
                             duration(f.maxTaskNs), number(skew, 1), duration(f.medianTaskNs))});
            }
        }
    }

    // ---- GIL-bound
    if (gilBound) {
        out.append(PatternHint{
            QString::fromLatin1(kHintGilBound), QStringLiteral("GIL-bound: threads take turns"),
            QStringLiteral("Only the thread holding the GIL runs interpreted code, so CPU-bound "
                           "threads take turns on about one core: more threads add waiting, not "
                           "speed. Use processes (each has its own GIL) or native code that "
                           "releases the GIL."),
            QStringLiteral("%1 workers with the GIL on; CPU/wall = %2 (about one core); tasks "
                           "spent %3 of their run time waiting for the GIL (%4 of %5)")
                .arg(f.workers)
                .arg(cpuPerWall >= 0 ? number(cpuPerWall) : QStringLiteral("unknown"))
                .arg(percent(gilShare), duration(f.totalGilWaitNs), duration(f.totalRunNs))});
    }

    // ---- overhead-bound (decided first: with tiny tasks the time outside
    // tasks is hand-over, and their CPU share says nothing about I/O)
    std::optional<PatternHint> overhead;
    if (f.tasks >= t.overheadMinTasks) {
        const bool tiny = f.medianTaskNs < t.overheadTinyTaskNs;
        const double share =
            f.dispatchOverheadNs >= 0
                ? double(f.dispatchOverheadNs)
                      / double(std::max<qint64>(1, f.dispatchOverheadNs + f.medianTaskNs))
                : -1;
        if (tiny || share >= t.overheadShare) {
            QString evidence = QStringLiteral("median task %1 over %2 tasks")
                                   .arg(duration(f.medianTaskNs))
                                   .arg(f.tasks);
            if (share >= 0)
                evidence += QStringLiteral("; handing a task to a worker takes about %1 (%2 of "
                                           "each task's turn is overhead)")
                                .arg(duration(f.dispatchOverheadNs), percent(share));
            else
                evidence += QStringLiteral(", shorter than %1").arg(duration(t.overheadTinyTaskNs));
            overhead = PatternHint{
                QString::fromLatin1(kHintOverheadBound),
                QStringLiteral("Overhead-bound: tasks too small"),
                QStringLiteral("Each task is so short that queueing it, handing it to a worker "
                               "and recording its result cost about as much as the work. Batch "
                               "the items: map() with a chunk size, or fewer, bigger tasks."),
                evidence};
        }
    }

    // ---- CPU contention (other programs) or I/O-bound: tasks off the CPU
    const int usable = f.cores > 0 ? std::min(f.workers, f.cores) : f.workers;
    const bool contended = f.systemCpuBusy >= t.contentionSystemBusy && cpuPerWall >= 0
                           && cpuPerWall < t.contentionCoresUsed * std::max(1, usable)
                           && taskCpuShare >= 0 && taskCpuShare < t.oversubTaskCpuShare
                           && !gilBound;
    if (contended) {
        out.append(PatternHint{
            QString::fromLatin1(kHintCpuContention),
            QStringLiteral("The machine was busy with other work"),
            QStringLiteral("The cores were almost fully used while this run got only a small "
                           "part of them: other programs (or another run) held the CPU, so "
                           "the tasks waited for a core. Timings and speedups from this run "
                           "are not representative: close other programs and run it again."),
            QStringLiteral("the machine's CPUs were %1 busy; this run used %2 of %3 usable "
                           "cores (CPU/wall); tasks got the CPU %4 of their running time")
                .arg(percent(f.systemCpuBusy), number(cpuPerWall))
                .arg(usable)
                .arg(percent(taskCpuShare))});
    } else if (!overhead && taskCpuShare >= 0 && taskCpuShare < t.ioCpuShare && cpuPerWall >= 0
               && cpuPerWall < t.ioCoresBusy * std::max(1, usable)) {
        out.append(PatternHint{
            QString::fromLatin1(kHintIoBound), QStringLiteral("I/O-bound: tasks mostly wait"),
            QStringLiteral("While they run, the tasks barely use the CPU: they wait for a "
                           "sleep, the disk or the network. Waiting needs no core (and releases "
                           "the GIL), so many more threads than cores help here. (If the work "
                           "should be CPU-bound, check that no other program kept the cores "
                           "busy.)"),
            QStringLiteral("tasks used the CPU %1 of their running time (%2 CPU in %3 of task "
                           "time); CPU/wall = %4 with %5 workers")
                .arg(percent(taskCpuShare), duration(f.totalCpuNs), duration(onCpuTime),
                     number(cpuPerWall))
                .arg(f.workers)});
    }

    if (overhead)
        out.append(*overhead);
    return out;
}

// ----------------------------------------------------------------- numbers

RunNumbers summarize(const std::vector<TaskSpan>& spans)
{
    RunNumbers n;
    n.tasks = qint64(spans.size());
    if (spans.empty())
        return n;
    qint64 start = std::numeric_limits<qint64>::max();
    qint64 end = std::numeric_limits<qint64>::min();
    qint64 cpu = 0;
    bool cpuKnown = false;
    std::vector<qint64> runs;
    runs.reserve(spans.size());
    for (const TaskSpan& s : spans) {
        start = std::min(start, runStart(s));
        end = std::max(end, s.endNs);
        if (s.status == TaskStatus::Failed)
            ++n.failed;
        else if (s.status == TaskStatus::Cancelled)
            ++n.cancelled;
        if (s.cpuNs >= 0) {
            cpu += s.cpuNs;
            cpuKnown = true;
        }
        n.gilWaitNs += std::max<qint64>(0, s.gilWaitNs);
        runs.push_back(std::max<qint64>(0, s.endNs - s.startNs));
    }
    n.wallNs = std::max<qint64>(0, end - start);
    n.tasksPerSecond = n.wallNs > 0 ? double(n.tasks) * 1e9 / double(n.wallNs) : 0;
    n.cpuPerWall = cpuKnown && n.wallNs > 0 ? double(cpu) / double(n.wallNs) : -1;
    n.medianTaskNs = median(std::move(runs));
    n.decomposition = decompose(spans);
    return n;
}

TimeDecomposition decompose(const RunRecord& record)
{
    const RunTotals& t = record.totals();
    TimeDecomposition d;
    d.tasks = qint64(t.tasks);
    d.queuedNs = t.queuedNs;
    d.gilWaitNs = t.gilWaitNs;
    d.cpuNs = t.cpuNs;
    d.waitingNs = t.waitingNs;
    d.unmeasuredNs = t.unmeasuredNs;
    // Gaps need every task of a lane: a sample would call its holes overhead.
    if (!record.stats().complete() || t.wallNs() <= 0 || record.workers().contains(-1))
        return d;
    d.overheadNs = d.idleNs = 0;
    for (qint32 w : record.workers()) {
        const std::vector<quint32>* rows = record.laneRows(w);
        if (!rows || rows->empty())
            continue;
        ++d.workers;
        LaneGaps g(t.firstNs);
        for (quint32 r : *rows)
            g.task(record.submitNs(r), record.startNs(r), record.endNs(r));
        g.finish(t.lastEndNs);
        d.overheadNs += g.overhead;
        d.idleNs += g.idle;
    }
    return d;
}

RunFacts fromRecord(const RunRecord& record, const RunContext& context)
{
    std::vector<TaskSpan> ran;
    ran.reserve(std::size_t(record.size()));
    for (quint64 r = 0; r < record.size(); ++r) {
        if (record.started(r))
            ran.push_back(record.span(r));
    }
    RunFacts f = fromSpans(ran, context);
    const RunTotals& t = record.totals();
    if (record.sampling() > 1 && t.tasks > t.neverStarted) {
        // A sample: the sums and the run's extent from the exact totals.
        f.tasks = qint64(t.tasks - t.neverStarted);
        f.startNs = t.firstNs;
        f.endNs = t.lastEndNs;
        f.wallNs = t.wallNs();
        f.totalRunNs = t.runNs;
        f.totalGilWaitNs = t.gilWaitNs;
        f.totalCpuNs = t.cpuTasks > 0 ? t.cpuNs : context.workerCpuNs;
        f.meanTaskNs = f.tasks > 0 ? f.totalRunNs / f.tasks : 0;
    }
    return f;
}

RunNumbers summarize(const RunRecord& record)
{
    const RunTotals& t = record.totals();
    RunNumbers n;
    n.tasks = qint64(t.tasks + record.stats().lost);
    n.failed = qint64(t.failed);
    n.cancelled = qint64(t.cancelled);
    n.wallNs = t.wallNs();
    n.tasksPerSecond = n.wallNs > 0 ? double(t.tasks) * 1e9 / double(n.wallNs) : 0;
    n.cpuPerWall = t.cpuTasks > 0 && n.wallNs > 0 ? double(t.cpuNs) / double(n.wallNs) : -1;
    n.gilWaitNs = t.gilWaitNs;
    std::vector<qint64> runs;
    runs.reserve(std::size_t(record.size()));
    for (quint64 r = 0; r < record.size(); ++r) {
        if (record.started(r))
            runs.push_back(std::max<qint64>(0, record.endNs(r) - record.startNs(r)));
    }
    n.medianTaskNs = median(std::move(runs));
    n.decomposition = decompose(record);
    return n;
}

RunNumbers summarize(const TraceData& trace)
{
    return summarize(*trace.record);
}

} // namespace poolscope
