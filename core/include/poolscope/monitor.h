#pragma once
// Monitor: the one place where telemetry crosses into the receiver's thread.
// It ticks at a fixed rate, drains the executor's per-worker rings, reads
// exact counters and the CPU sampler, and emits ONE snapshotReady() per tick
// (DESIGN.md §2). It also keeps bounded history for exports and replay.

#include "cpusampler.h"
#include "executor.h"
#include "telemetry.h"
#include "traceexport.h"

#include <QObject>
#include <QPointer>
#include <QTimer>

#include <deque>
#include <memory>

namespace poolscope {

/// Everything the UI needs for one frame.
struct Snapshot {
    quint64 tick = 0;
    qint64 timeNs = 0;       // monotonic
    qint64 sinceStartNs = 0; // since the monitor attached
    QString poolKind;
    Counters counters;
    int maxWorkers = 0;
    int workerCount = 0;
    bool paused = false;
    bool shutdown = false;
    QList<QueuedTask> queueHead; // first N pending tasks, dispatch order
    QList<WorkerInfo> workers;   // alive and just-died workers
    std::vector<TaskSpan> spans; // finished since the last tick
    QList<TaskRecord> completed; // newly completed records (bounded by the rings)
    double tasksPerSecond = 0;   // completions per second over the last tick
    int detailSampling = 1;      // spans/records for one task in N (see MonitorOptions)
    int recordSampling = 1;      // records for one timed task in N (see MonitorOptions)
    CpuUsage cpu;                // latest system sample (refreshed every cpu period)
    bool cpuFresh = false;       // cpu was sampled on this tick
    // Remote hosts' CPU (MPI pool): latest sample per host name.
    QMap<QString, CpuUsage> hostCpu;
};

struct MonitorOptions {
    int intervalMs = 33;   // ~30 Hz
    int cpuPeriodMs = 500; // /proc/stat sampling period
    int queueHeadSize = 20;
    std::size_t spanRing = 8192;   // per worker
    std::size_t recordRing = 1024; // per worker
    bool records = true;           // collect completed-task records (texts)
    // Detail budget: above this many tasks per second the pool records spans
    // and records for one task in N (N a power of two, so about this many
    // spans a second), because timing every task of a million a second costs
    // more than the tasks. Counters stay exact; Counters::sampledOut counts
    // the tasks run without detail. 0 = detail for every task.
    double maxSpansPerSecond = 100'000;
    // Records (texts, result, CPU time: several times the cost of a span)
    // for one timed task in N above this many a second; 0 = no limit.
    double maxRecordsPerSecond = 10'000;
    // Retained history (for exports, timeline and replay). Bounded: memory
    // stays flat however many tasks run.
    std::size_t historySpans = 250'000; // ~14 MB of TaskSpan
    qint64 historySeconds = 600;
    std::size_t historyRecords = 100'000;
    std::size_t historyCounters = 100'000;
};

/// A retained queue/running sample (one per tick).
struct CounterSample {
    qint64 timeNs = 0;
    quint64 queued = 0;
    quint64 running = 0;
    quint64 completed = 0;
};

class Monitor : public QObject {
    Q_OBJECT
public:
    explicit Monitor(QObject* parent = nullptr);
    explicit Monitor(const MonitorOptions& options, QObject* parent = nullptr);
    ~Monitor() override;

    /// Attaches to one executor (detaching from any previous one) and starts
    /// ticking. Safe while tasks run. The executor may live in any thread.
    void attach(Executor* executor);
    /// Stops ticking and turns detail recording off; counters keep running.
    void detach();
    Executor* executor() const { return m_executor; }
    bool isAttached() const { return m_executor != nullptr; }

    void setIntervalMs(int ms);
    int intervalMs() const { return m_opts.intervalMs; }
    void setCpuPeriodMs(int ms);
    /// Reads CPU usage from another file (tests feed recorded /proc/stat).
    void setCpuSource(const QString& procStatPath);
    const MonitorOptions& options() const { return m_opts; }

    /// Collects and emits one snapshot now (also what the timer calls).
    const Snapshot& tick();
    /// The latest snapshot.
    const Snapshot& last() const { return m_last; }

    // ---- retained history (oldest first)
    const std::deque<TaskSpan>& spanHistory() const { return m_spans; }
    const std::deque<TaskRecord>& recordHistory() const { return m_records; }
    const std::deque<CounterSample>& counterHistory() const { return m_counterSamples; }
    QHash<int, WorkerInfo> knownWorkers() const { return m_knownWorkers; }
    quint64 trimmedSpans() const { return m_trimmedSpans; }
    quint64 trimmedRecords() const { return m_trimmedRecords; }
    qint64 originNs() const { return m_originNs; }
    /// Forgets retained spans, records and counter samples (a new run), and
    /// the workers that are gone; the last snapshot is kept.
    void clearHistory();
    /// Retained history as a trace (Perfetto / replay) and as CSV records.
    TraceData traceData(const QString& title = {}) const;
    QList<TaskRecord> records() const;

signals:
    void snapshotReady(const poolscope::Snapshot& snapshot);
    void attachedChanged(bool attached);

private:
    void adjustSampling(double tasksPerSecond);
    void setDetailBudgets();
    void probeRate(quint64 generation);
    void endFirstWindow();
    void retain(const Snapshot& s);

    MonitorOptions m_opts;
    QPointer<Executor> m_executor;
    QTimer m_timer;
    std::unique_ptr<CpuSampler> m_sampler;
    qint64 m_lastCpuNs = 0;
    Snapshot m_last;
    TelemetryBatch m_batch;
    quint64 m_tick = 0;
    qint64 m_originNs = 0;
    qint64 m_prevTimeNs = 0;
    quint64 m_prevCompleted = 0;
    QHash<int, QPair<qint64, qint64>> m_prevWorkerCpu; // index -> (timeNs, cpuNs)
    quint64 m_prevSubmitted = 0;
    quint64 m_attachGeneration = 0;        // tells a rate probe its attach is still current
    bool m_beforeFirstProbe = false;       // the detail budget covers only up to the first probe
    QHash<int, WorkerInfo> m_knownWorkers; // every worker seen (for exports)
    QString m_poolKind;
    std::deque<TaskSpan> m_spans;
    std::deque<TaskRecord> m_records;
    std::deque<CounterSample> m_counterSamples;
    quint64 m_trimmedSpans = 0;
    quint64 m_trimmedRecords = 0;
};

} // namespace poolscope

Q_DECLARE_METATYPE(poolscope::Snapshot)
