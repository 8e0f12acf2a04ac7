#pragma once
// Run analysis for teaching: where the time of a run went (TimeDecomposition)
// and plain-words hints about what limited it (detectPatterns), computed from
// a run's record (Monitor::record(), a recorded trace) or from spans.
//
// Everything here is a pure function of its input (no clocks, no Qt GUI), so
// the same numbers come out of a live run, a replayed trace and a test's
// hand-made spans.
//
//     RunContext ctx;
//     ctx.workers = executor->maxWorkers();
//     ctx.cores = QThread::idealThreadCount();
//     ctx.gil = poolConfig.gil;
//     const RunFacts facts = fromRecord(*monitor->record(), ctx);
//     for (const PatternHint& h : detectPatterns(facts))
//         qInfo() << h.title << h.evidence;

#include "telemetry.h"
#include "traceexport.h"

#include <QList>
#include <QString>

#include <deque>
#include <vector>

namespace poolscope {

// ------------------------------------------------------------ decomposition

/// Where the time of one task (or the sum over a run) went:
///   queued   = start - enqueue (0 when the enqueue time is unknown);
///   gilWait  = time spent waiting for the simulated GIL;
///   cpu      = CPU time of the task (when measured);
///   waiting  = run wall - cpu - gilWait, clamped at 0: blocked on I/O,
///              sleeping, or runnable but preempted (another thread had the core).
/// Tasks whose CPU time was not measured (TaskSpan::cpuNs < 0) put their run
/// time minus GIL wait into unmeasuredNs instead of guessing.
///
/// Worker time, the other view (known when every task of the run is at hand,
/// -1 otherwise): each worker's share of the run's wall time (earliest submit
/// to last end) is its tasks' run time (gilWait + cpu + waiting + unmeasured)
/// plus the gaps between them, split at the next task's submit time:
///   overhead = a gap while the worker's next task had already been submitted:
///              hand-over, wake-up, the future and the telemetry, start-up;
///   idle     = a gap with nothing submitted for it yet, and after its last task.
/// This is what lesson 7 (docs/lessons.md) teaches: per-task overhead is
/// invisible in the task view, where queue wait dominates any batch larger
/// than the pool.
struct TimeDecomposition {
    qint64 queuedNs = 0;
    qint64 gilWaitNs = 0;
    qint64 cpuNs = 0;
    qint64 waitingNs = 0;
    qint64 unmeasuredNs = 0;
    qint64 tasks = 0;
    qint64 overheadNs = -1; // worker time between tasks while work waited; -1: unknown
    qint64 idleNs = -1;     // worker time with nothing to run; -1: unknown
    int workers = 0;        // workers that ran tasks (worker time only)

    qint64 totalNs() const { return queuedNs + gilWaitNs + cpuNs + waitingNs + unmeasuredNs; }
    bool hasWorkerTime() const { return overheadNs >= 0 && idleNs >= 0; }
    /// Sum of the worker-time parts (workers x wall when lanes do not overlap).
    qint64 workerTimeNs() const
    {
        return hasWorkerTime() ? gilWaitNs + cpuNs + waitingNs + unmeasuredNs + overheadNs + idleNs
                               : 0;
    }
    TimeDecomposition& operator+=(const TimeDecomposition& o);
    friend bool operator==(const TimeDecomposition&, const TimeDecomposition&) = default;
};

TimeDecomposition decompose(const TaskSpan& span);
/// Sum of decompose() over every span, with the worker time of the spans'
/// workers over the spans' extent.
TimeDecomposition decompose(const std::vector<TaskSpan>& spans);
TimeDecomposition decompose(const std::deque<TaskSpan>& spans);
/// The exact decomposition of every task a record saw (RunRecord::totals()),
/// sampled or not; tasks that never started count only their queue wait.
/// Worker time (overhead, idle) only when the record is complete.
TimeDecomposition decompose(const RunRecord& record);

// ------------------------------------------------------------------- facts

/// What the spans cannot tell: the pool and the machine.
struct RunContext {
    int workers = 0;  // pool size (maxWorkers); 0: the number of distinct workers in the spans
    int cores = 0;    // CPUs of the machine (QThread::idealThreadCount()); 0: unknown
    bool gil = false; // thread pool with the simulated GIL
    /// Dispatch overhead per task when it cannot be measured from the spans
    /// (see RunFacts::dispatchOverheadNs); -1: unknown.
    qint64 fallbackDispatchOverheadNs = -1;
    /// CPU time of the workers over the run when the spans carry none
    /// (e.g. summed WorkerInfo::cpuNs deltas); -1: unknown.
    qint64 workerCpuNs = -1;
    /// How busy the whole machine was during the run, 0..1 (this run
    /// included): the mean of Snapshot::cpu.total over the ticks with
    /// cpuFresh. -1: unknown. Tells "waiting for I/O" from "waiting for a
    /// core other programs hold".
    double systemCpuBusy = -1;
};

/// Number of tasks running at a moment: a step function that holds from
/// timeNs until the next sample.
struct BusySample {
    qint64 timeNs = 0;
    int running = 0;
    friend bool operator==(const BusySample&, const BusySample&) = default;
};

/// A summary of one run, the input of detectPatterns(). fromSpans() fills
/// it; tests may fill it by hand.
struct RunFacts {
    int workers = 0;
    int cores = 0;
    bool gil = false;
    qint64 tasks = 0;
    qint64 startNs = 0;     // first enqueue (or start when unknown)
    qint64 endNs = 0;       // last end
    qint64 wallNs = 0;      // endNs - startNs
    qint64 totalCpuNs = -1; // sum of span CPU, or RunContext::workerCpuNs; -1 unknown
    qint64 totalRunNs = 0;  // sum of task run (wall) times
    qint64 totalGilWaitNs = 0;
    qint64 medianTaskNs = 0; // median run time of a task
    qint64 meanTaskNs = 0;
    qint64 maxTaskNs = 0;
    /// Mean gap between two tasks on one worker when the second was already
    /// queued as the first ended (the pool's hand-over cost), or the
    /// fallback; -1 when unknown.
    qint64 dispatchOverheadNs = -1;
    qint64 dispatchGapSamples = 0; // gaps measured (0: the value is the fallback)
    double systemCpuBusy = -1;     // RunContext::systemCpuBusy
    std::vector<qint64> taskRunNs; // per task, in span order
    std::vector<BusySample> busy;  // running tasks over time, from startNs to endNs

    /// CPU time per wall time of the whole run (~ cores kept busy); -1 unknown.
    double cpuPerWall() const;
    /// Mean number of tasks running at once (task run time / wall).
    double meanRunning() const;
};

/// Builds facts from spans (any order). Spans of the same run only: the run
/// starts at the first enqueue (or start) and ends at the last end.
RunFacts fromSpans(const std::vector<TaskSpan>& spans, const RunContext& context);
RunFacts fromSpans(const std::deque<TaskSpan>& spans, const RunContext& context);
/// Facts of a run's record: tasks, wall time, run, CPU and GIL totals are
/// exact (RunRecord::totals()) even when the record is a sample; medians,
/// hand-over gaps and the busy profile come from the rows it holds. Tasks
/// that never started (cancelled or failed while queued) are not counted
/// as tasks that ran.
RunFacts fromRecord(const RunRecord& record, const RunContext& context);

// ------------------------------------------------------------------- hints

/// One thing the run shows, in plain words, with its numbers.
struct PatternHint {
    QString id;          // stable: see the kHint* ids below
    QString title;       // a few words
    QString explanation; // what it means and what to try
    QString evidence;    // the numbers of this run that show it
};

inline constexpr const char* kHintOversubscription = "oversubscription";
inline constexpr const char* kHintLoadImbalance = "load_imbalance";
inline constexpr const char* kHintGilBound = "gil_bound";
inline constexpr const char* kHintIoBound = "io_bound";
inline constexpr const char* kHintOverheadBound = "overhead_bound";
inline constexpr const char* kHintCpuContention = "cpu_contention";

/// Thresholds of detectPatterns() (named so docs and tests can quote them).
struct PatternThresholds {
    // oversubscription: more tasks running than cores, the cores full, and
    // each task getting a small share of a core while it runs
    double oversubMeanRunningPerCore = 1.25; // mean running >= this * cores
    double oversubCoresBusy = 0.75;          // CPU/wall >= this * cores
    double oversubTaskCpuShare = 0.7;        // task CPU / (run - GIL wait) < this
    // load imbalance: at most half of the workers busy over the tail, after
    // the pool was well used
    double imbalanceTailFraction = 0.2; // tail >= this share of the wall time
    double imbalanceBusyBefore = 0.75;  // mean busy before the tail >= this * workers
    // GIL-bound
    double gilMaxCpuPerWall = 1.3; // CPU/wall <= this (about one core)
    double gilWaitShare = 0.3;     // GIL wait / task run time >= this
    // I/O-bound
    double ioCpuShare = 0.3;  // task CPU / (run - GIL wait) < this
    double ioCoresBusy = 0.5; // and CPU/wall < this * min(workers, cores)
    // overhead-bound
    qint64 overheadTinyTaskNs = 20'000; // median task shorter than 20 µs
    double overheadShare = 0.3;         // overhead / (overhead + median task) >= this
    qint64 overheadMinTasks = 50;       // too few tasks say nothing about overhead
    // CPU contention: the machine was busy, this run got little of it
    double contentionSystemBusy = 0.85; // RunContext::systemCpuBusy >= this
    double contentionCoresUsed = 0.7;   // and CPU/wall < this * min(workers, cores)
};

/// The hints the facts support, in this order: oversubscription, load
/// imbalance, GIL-bound, CPU contention or I/O-bound, overhead-bound. A clean run
/// (CPU-bound, balanced, workers = cores, tasks much longer than the
/// hand-over) gives none. With the machine busy (systemCpuBusy known and
/// high) while this run got little CPU, "cpu_contention" replaces
/// "io_bound": time off the CPU cannot be blamed on I/O then, and timings
/// of this run are not representative.
QList<PatternHint> detectPatterns(const RunFacts& facts, const PatternThresholds& t = {});

// ----------------------------------------------------------------- numbers

/// Summary numbers of a recorded run (A/B comparison, replay).
struct RunNumbers {
    qint64 tasks = 0;
    qint64 failed = 0;
    qint64 cancelled = 0;
    qint64 wallNs = 0; // first enqueue/start to last end
    double tasksPerSecond = 0;
    double cpuPerWall = -1; // -1 when no span carries CPU time
    qint64 gilWaitNs = 0;
    qint64 medianTaskNs = 0;
    TimeDecomposition decomposition;
};

RunNumbers summarize(const std::vector<TaskSpan>& spans);
/// From the record's exact totals (tasks, failed, cancelled, wall, CPU, GIL,
/// decomposition; lost rows count as tasks); the median task time from the
/// rows held.
RunNumbers summarize(const RunRecord& record);
RunNumbers summarize(const TraceData& trace);

} // namespace poolscope
