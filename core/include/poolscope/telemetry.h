#pragma once
// Telemetry records written by workers and read by a Monitor.
//
// Rule (DESIGN.md §2): never one cross-thread signal per task. Each worker
// owns bounded single-producer/single-consumer rings; the Monitor drains them
// at its own rate. Counters are exact (per-worker, single writer, summed by
// the reader); detail that does not fit a ring is dropped and counted.

#include "cpusampler.h"
#include "future.h"

#include <QList>
#include <QString>
#include <QVariant>

#include <atomic>
#include <cstdint>
#include <memory>
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

enum class WorkerState : quint8 { Starting = 0, Idle = 1, Running = 2, Retiring = 3, Dead = 4 };
const char* nameOf(WorkerState s) noexcept;

/// One finished task, as the timeline draws it. POD on purpose.
struct TaskSpan {
    quint64 taskId = 0;
    qint64 enqueueNs = 0; // 0 when unknown (submitted before a monitor attached)
    qint64 startNs = 0;
    qint64 endNs = 0;
    qint64 cpuNs = -1; // -1 when not measured
    qint64 gilWaitNs = 0;
    quint32 nameId = 0;
    qint32 worker = -1; // worker index
    qint16 core = -1;   // CPU the task started on (sched_getcpu)
    TaskStatus status = TaskStatus::Succeeded;
};

/// A completed task with its texts, for the futures table and CSV export.
struct TaskRecord {
    TaskSpan span;
    QString args;
    QVariant result; // cheap types only; see ResultNode::resultVariant
    QString error;   // "<type>: <what>" when failed
};

namespace detail {

/// Bounded lock-free ring: exactly one producer thread, one consumer thread.
template<class T>
class SpscRing {
public:
    explicit SpscRing(std::size_t capacityPow2 = 1024) { resize(capacityPow2); }
    /// Only while neither side runs.
    void resize(std::size_t capacity)
    {
        std::size_t c = 2;
        while (c < capacity)
            c <<= 1;
        m_buf.assign(c, T{});
        m_mask = c - 1;
        m_head.store(0);
        m_tail.store(0);
    }
    std::size_t capacity() const { return m_mask + 1; }
    /// Producer: true when a push would fail.
    bool full() const noexcept
    {
        const auto h = m_head.load(std::memory_order_relaxed);
        if (h - m_tailCache < capacity())
            return false;
        m_tailCache = m_tail.load(std::memory_order_acquire);
        return h - m_tailCache >= capacity();
    }
    /// Producer: false (and nothing written) when full.
    template<class U>
    bool push(U&& v) noexcept
    {
        const auto h = m_head.load(std::memory_order_relaxed);
        if (h - m_tailCache >= capacity()) {
            m_tailCache = m_tail.load(std::memory_order_acquire);
            if (h - m_tailCache >= capacity())
                return false;
        }
        m_buf[h & m_mask] = std::forward<U>(v);
        m_head.store(h + 1, std::memory_order_release);
        return true;
    }
    /// Consumer: moves everything available into out; returns the count.
    template<class Out>
    std::size_t drain(Out& out, std::size_t max = SIZE_MAX)
    {
        const auto t = m_tail.load(std::memory_order_relaxed);
        const auto h = m_head.load(std::memory_order_acquire);
        std::size_t n = std::min<std::size_t>(h - t, max);
        for (std::size_t i = 0; i < n; ++i)
            out.push_back(std::move(m_buf[(t + i) & m_mask]));
        m_tail.store(t + n, std::memory_order_release);
        return n;
    }

private:
    std::vector<T> m_buf;
    std::size_t m_mask = 0;
    alignas(64) std::atomic<std::size_t> m_head{0};
    mutable std::size_t m_tailCache = 0; // producer's view of m_tail
    alignas(64) std::atomic<std::size_t> m_tail{0};
};

/// Everything one worker publishes. Counters have a single writer (the
/// worker) so they cost a relaxed store, never a contended RMW.
struct alignas(64) WorkerSlot {
    WorkerSlot(int idx, std::size_t spanCap, std::size_t recordCap)
        : index(idx)
        , spans(spanCap)
        , records(recordCap)
    {}
    const int index;
    QString name;
    std::atomic<qint64> pid{0}; // process id (process pools) or 0
    std::atomic<qint64> tid{0}; // kernel thread id
    std::atomic<int> state{int(WorkerState::Starting)};
    std::atomic<quint64> currentTask{0};
    std::atomic<quint32> currentName{0};
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
    std::atomic<qint64> busyNs{0};
    std::atomic<quint64> dropped{0};
    std::atomic<quint64> sampledOut{0}; // tasks run without detail (sampling)

    SpscRing<TaskSpan> spans;
    SpscRing<TaskRecord> records;

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
    quint64 droppedEvents = 0;
    /// Tasks that ran without a span or record because the monitor asked for
    /// detail on one task in N at high rates (counts above stay exact).
    quint64 sampledOut = 0;
    quint64 completed() const { return succeeded + failed + cancelled; }
};

/// A task waiting in the queue, as the queue view shows it.
struct QueuedTask {
    quint64 id = 0;
    quint32 nameId = 0;
    qint32 priority = 0;
    qint64 enqueueNs = 0; // 0 if unknown
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
    qint64 currentStartNs = 0;
    double progress = -1; // 0..1, or -1 when the task reports none
    quint64 tasksDone = 0;
    qint64 busyNs = 0;
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

/// What an executor hands a Monitor on each tick (the raw material of a
/// Snapshot). Filled under the executor's lock; rings are drained into it.
struct TelemetryBatch {
    qint64 timeNs = 0;
    Counters counters;
    int maxWorkers = 0;
    bool paused = false;
    bool shutdown = false;
    QList<QueuedTask> queueHead;
    QList<WorkerInfo> workers;
    std::vector<TaskSpan> spans;
    std::vector<TaskRecord> records;
    /// Per-host CPU utilisation reported by remote workers (the MPI pool),
    /// keyed by host name. Empty for local pools (the Monitor samples this
    /// machine itself).
    QMap<QString, CpuUsage> hostCpu;
};

/// Implemented by every executor; the Monitor is its only client.
class TelemetrySource {
public:
    virtual ~TelemetrySource() = default;
    /// Turns per-task detail recording on or off (counters always run).
    virtual void setDetailEnabled(bool spans, bool records) = 0;
    /// Drains rings and reads counters; queueHeadMax bounds the queue head.
    virtual void collectTelemetry(TelemetryBatch& out, int queueHeadMax) = 0;
    /// Sets ring capacities for workers created from now on (tests use tiny ones).
    virtual void setRingCapacity(std::size_t spans, std::size_t records) = 0;
    /// Per-task detail (span, record) for one task in `every` (a power of
    /// two; 1 = every task). At a million tasks a second the timestamps
    /// themselves cost more than the tasks; counters stay exact whatever the
    /// sampling. Pools whose per-task cost dwarfs the detail may ignore it.
    virtual void setDetailSampling(int every) { (void)every; }
    /// The sampling in force (1 when not sampling).
    virtual int detailSampling() const { return 1; }
    /// A record (texts, result, CPU time) for one timed task in `every` (a
    /// power of two; 1 = every timed task). A record costs several times a
    /// span (two thread-CPU-clock system calls, strings), and a table of
    /// completed futures cannot show tens of thousands a second anyway.
    virtual void setRecordSampling(int every) { (void)every; }
    virtual int recordSampling() const { return 1; }
    /// At most `timedTasks` tasks are timed, and at most `records` records
    /// kept, between two collectTelemetry() calls, whatever the sampling (0 =
    /// no limit); the other tasks run counted as sampled out, the other timed
    /// ones keep their span without a record. Guards the window before the
    /// sampling has caught up with a burst (just after attach, or a pool that
    /// goes from idle to millions of tasks a second between two ticks):
    /// without it that window timed tens of thousands of tasks whose spans
    /// then did not fit the rings.
    virtual void setDetailBudget(quint64 timedTasks, quint64 records)
    {
        (void)timedTasks;
        (void)records;
    }
};

} // namespace poolscope
