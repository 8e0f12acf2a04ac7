#pragma once
// Telemetry written by workers and read by a Monitor.
//
// Rule (docs/architecture.md): never one cross-thread signal per task. Each worker
// publishes exact counters (single writer, summed by the reader) and its
// state in a WorkerSlot, and stages every finished task in a writer of its
// own (recording.h); the Monitor reads and drains them at its own rate.

#include "cpusampler.h"
#include "future.h"
#include "gil.h"

#include <QList>
#include <QString>
#include <QVariant>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace poolscope {

/// Display names of tasks are interned once so per-task records stay POD.
/// Id 0 is the default name "task". Thread-safe.
class NameTable {
public:
    static quint32 intern(const QString& name);
    static QString name(quint32 id);
};

/// Dead: the worker ended unexpectedly (crashed, killed from outside, its
/// rank lost). Retired: it ended because it was asked to (the pool shrank or
/// shut down, recycling, a timed-out or stopped task's process replaced).
enum class WorkerState : quint8 {
    Starting = 0,
    Idle = 1,
    Running = 2,
    Retiring = 3,
    Dead = 4,
    Retired = 5
};
const char* nameOf(WorkerState s) noexcept;
/// Dead or Retired: the worker is gone.
constexpr bool hasEnded(WorkerState s) noexcept
{
    return s == WorkerState::Dead || s == WorkerState::Retired;
}

/// One finished task, as the timeline draws it. POD on purpose.
struct TaskSpan {
    quint64 taskId = 0;
    qint64 enqueueNs = 0; // 0 when unknown (submitted before a monitor attached)
    qint64 startNs = 0;
    qint64 endNs = 0;
    qint64 cpuNs = -1; // -1 when not measured
    qint64 gilWaitNs = 0;
    quint32 nameId = 0;
    qint32 worker = -1; // worker index; -1 when none or unknown (other tools' traces)
    qint16 core = -1;   // CPU the task started on (sched_getcpu)
    TaskStatus status = TaskStatus::Succeeded;
    /// False for a task that ended without running: cancelled (or failed,
    /// the pool broken) while queued. Its start == end is when it ended.
    bool started = true;
};

/// A completed task with its texts, for the futures table and CSV export.
struct TaskRecord {
    TaskSpan span;
    QString args;
    QVariant result; // cheap types only; see ResultNode::resultVariant
    QString error;   // "<type>: <what>" when failed
};

namespace detail {

class RecordWriter;

/// Everything one worker publishes. Counters have a single writer (the
/// worker) so they cost a relaxed store, never a contended RMW.
struct alignas(64) WorkerSlot {
    explicit WorkerSlot(int idx)
        : index(idx)
    {}
    const int index;
    QString name;
    std::atomic<qint64> pid{0}; // process id (process pools) or 0
    std::atomic<qint64> tid{0}; // kernel thread id
    std::atomic<int> state{int(WorkerState::Starting)};
    std::atomic<quint64> currentTask{0};
    std::atomic<quint32> currentName{0};
    // A stamp (stamps.h: TSC ticks on the thread pool, ns elsewhere; see
    // TelemetryBatch::ticks); 0 when unknown.
    std::atomic<qint64> currentStartNs{0};
    std::atomic<qint64> progressValue{-1};
    std::atomic<qint64> progressMax{0};
    std::atomic<int> lastCore{-1};
    std::atomic<bool> holdsGil{false};
    std::atomic<qint64> cpuNs{-1};               // last known CPU time of the worker
    const std::atomic<bool>* poolStop = nullptr; // pool-wide stop request

    // exact counters, single writer
    std::atomic<quint64> started{0};
    std::atomic<quint64> succeeded{0};
    std::atomic<quint64> failed{0};
    std::atomic<quint64> cancelled{0};
    std::atomic<qint64> busyNs{0}; // in stamps, like currentStartNs

    // Finished tasks, staged for the Monitor (recording.h). Thread pools:
    // one per worker, written by that worker; other pools stage elsewhere.
    std::shared_ptr<RecordWriter> writer;

    static void bump(std::atomic<quint64>& c) noexcept
    {
        c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
};

} // namespace detail

/// Exact counts of one executor.
struct Counters {
    quint64 submitted = 0;
    quint64 queued = 0;
    quint64 running = 0;
    quint64 succeeded = 0;
    quint64 failed = 0;
    quint64 cancelled = 0;
    /// Finished tasks whose row never reached the run record because the
    /// Monitor fell behind and the staging was full (the counts above stay
    /// exact; RecordStats::lost says it per run).
    quint64 droppedEvents = 0;
    quint64 completed() const { return succeeded + failed + cancelled; }
};

/// A task waiting in the queue, as the queue view shows it.
struct QueuedTask {
    quint64 id = 0;
    quint32 nameId = 0;
    qint32 priority = 0;
    qint64 enqueueNs = 0; // 0 if unknown (a stamp in TelemetryBatch, ns in a Snapshot)
};

/// One worker as the monitor sees it.
struct WorkerInfo {
    int index = -1;
    QString name;
    qint64 pid = 0;
    qint64 tid = 0;
    WorkerState state = WorkerState::Starting;
    quint64 currentTask = 0; // 0 when idle
    quint32 currentName = 0;
    qint64 currentStartNs = 0; // a stamp in TelemetryBatch, ns in a Snapshot
    double progress = -1;      // 0..1, or -1 when the task reports none
    quint64 tasksDone = 0;
    qint64 busyNs = 0; // in stamps in TelemetryBatch, ns in a Snapshot
    qint64 cpuNs = -1;
    double cpuLoad = -1; // CPU time / wall time since the last tick (Monitor fills it)
    int lastCore = -1;
    bool holdsGil = false;
    // Where the worker runs, for pools whose workers may sit on other
    // machines (the MPI pool): host name and MPI rank. Local pools leave
    // host empty and rank -1.
    QString host;
    int rank = -1;
};

namespace detail {
/// What a slot says of its worker (index, name, state, current task and its
/// progress, tasks done, busy time, last core), read relaxed; every pool
/// adds what only it knows (thread id, CPU time, GIL, host, rank).
inline WorkerInfo describeSlot(const WorkerSlot& s)
{
    WorkerInfo wi;
    wi.index = s.index;
    wi.name = s.name;
    wi.state = WorkerState(s.state.load(std::memory_order_relaxed));
    wi.currentTask = s.currentTask.load(std::memory_order_relaxed);
    if (wi.currentTask) {
        wi.currentName = s.currentName.load(std::memory_order_relaxed);
        wi.currentStartNs = s.currentStartNs.load(std::memory_order_relaxed);
        const qint64 v = s.progressValue.load(std::memory_order_relaxed);
        const qint64 mx = s.progressMax.load(std::memory_order_relaxed);
        wi.progress = (v >= 0 && mx > 0) ? double(v) / double(mx) : -1.0;
    }
    wi.tasksDone = s.succeeded.load(std::memory_order_relaxed)
                   + s.failed.load(std::memory_order_relaxed)
                   + s.cancelled.load(std::memory_order_relaxed);
    wi.busyNs = s.busyNs.load(std::memory_order_relaxed);
    wi.lastCore = s.lastCore.load(std::memory_order_relaxed);
    return wi;
}
} // namespace detail

/// What an executor hands a Monitor on each tick (the raw material of a
/// Snapshot). Filled under the executor's lock; the Monitor drains the
/// writers after it, outside the lock.
struct TelemetryBatch {
    /// Times of queueHead and workers (currentStartNs, busyNs) are TSC ticks
    /// (stamps.h) rather than ns: the Monitor converts them.
    bool ticks = false;
    qint64 timeNs = 0;
    Counters counters;
    int maxWorkers = 0;
    bool paused = false;
    bool shutdown = false;
    QList<QueuedTask> queueHead;
    QList<WorkerInfo> workers;
    /// Staged finished tasks to drain: one per live worker (thread pools) or
    /// per pool, and those of workers that died since the last collect.
    std::vector<std::shared_ptr<detail::RecordWriter>> writers;
    /// Set by the caller: false for a client that takes no rows (record
    /// limit 0, or yielding them to another Monitor). The writers of workers
    /// that are gone are then left for the client that takes rows (a gone
    /// worker's writer is handed out once), and `writers` may stay empty.
    bool takesRows = true;
    /// Per-host CPU utilisation reported by remote workers (the MPI pool),
    /// keyed by host name. Empty for local pools (the Monitor samples this
    /// machine itself).
    QMap<QString, CpuUsage> hostCpu;
};

/// Implemented by every executor; Monitors (the program's own, and an
/// attach publisher's) are its clients.
class TelemetrySource {
public:
    virtual ~TelemetrySource() = default;
    /// Turns recording on or off: with it on, every finished task is staged
    /// (recording.h) for the Monitor to collect; counters always run.
    /// Clients do not call it: they vote with wantRecording().
    virtual void setRecording(bool on) = 0;
    /// Recording is shared: each client that wants rows holds one vote
    /// (true), and gives it back (false) exactly once; the pool records while
    /// any vote is held. So a viewer that stops watching (or an attach
    /// publisher's row budget) never turns off the recording the program's
    /// own Monitor asked for. Thread-safe.
    void wantRecording(bool on)
    {
        std::lock_guard lk(m_recordingVotesMutex);
        if (on) {
            if (m_recordingVotes++ == 0)
                setRecording(true);
        } else if (m_recordingVotes > 0 && --m_recordingVotes == 0) {
            setRecording(false);
        }
    }
    /// Reads counters and worker states and lists the writers to drain;
    /// queueHeadMax bounds the queue head.
    virtual void collectTelemetry(TelemetryBatch& out, int queueHeadMax) = 0;
    /// Most rows each writer made from now on may hold before rows are lost
    /// (tests use tiny ones; RecordWriter::kDefaultMaxRows otherwise).
    virtual void setStagingCapacity(std::size_t rows) = 0;
    /// Pools with a simulated GIL: moves the GIL turns that ended since the
    /// last call into `out` (SimulatedGil::takeTurns) and returns true;
    /// others return false. Called by the Monitor after each drain of rows,
    /// outside any pool lock; turns are written only while recording is on.
    virtual bool collectGilTurns(detail::GilTurnBatch& out)
    {
        (void)out;
        return false;
    }

    /// Votes held now (wantRecording()). A pool's staged rows go to ONE
    /// consumer: a second recording Monitor would split them with the first,
    /// so a Monitor with MonitorOptions::yieldRows (an attach publisher's)
    /// takes none while another client holds a vote.
    int recordingVotes()
    {
        std::lock_guard lk(m_recordingVotesMutex);
        return m_recordingVotes;
    }

private:
    std::mutex m_recordingVotesMutex;
    int m_recordingVotes = 0;
};

} // namespace poolscope
