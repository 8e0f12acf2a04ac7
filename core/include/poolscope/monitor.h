#pragma once
// Monitor: the one place where telemetry crosses into the receiver's thread.
// It ticks at a fixed rate, reads exact counters, worker states and the CPU
// sampler, drains every finished task the workers staged into the run
// record (recording.h), and emits ONE snapshotReady() per tick (docs/architecture.md). The run
// record holds every task of the run up to its limit (default 1,000,000), a stated uniform sample
// past it; a bounded ring keeps the records of earlier runs.

#include "cpusampler.h"
#include "executor.h"
#include "recording.h"
#include "telemetry.h"
#include "traceexport.h"

#include <QObject>
#include <QPointer>
#include <QTimer>

#include <deque>
#include <memory>

namespace poolscope {

namespace detail {
class StampConverter;
}

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
    /// The current run's record (every finished task, see recording.h). It
    /// grows on the Monitor's thread; views keep a row cursor and start over
    /// when record->generation() or the record itself changes.
    std::shared_ptr<const RunRecord> record;
    quint64 newRows = 0;     // rows added to record since the last snapshot (0 after a re-sampling)
    RecordStats recordStats; // record->stats() at this tick
    double tasksPerSecond = 0; // completions per second over the last tick
    CpuUsage cpu;              // latest system sample (refreshed every cpu period)
    bool cpuFresh = false;     // cpu was sampled since the last snapshot
    /// Every system sample since the last snapshot, oldest first, each with
    /// its own timeNs (cpu is the last): the CPU is sampled on its own timer
    /// when its period is shorter than the tick, so a window that draws
    /// less often still gets every sample.
    QList<CpuUsage> cpuSamples;
    /// cpuSamples, or cpu alone for a snapshot made by hand with cpuFresh
    /// and no list; empty when nothing was sampled since the last snapshot.
    QList<CpuUsage> freshCpu() const
    {
        if (!cpuFresh)
            return {};
        return cpuSamples.isEmpty() ? QList<CpuUsage>{cpu} : cpuSamples;
    }
    // Remote hosts' CPU (MPI pool): latest sample per host name.
    QMap<QString, CpuUsage> hostCpu;
};

struct MonitorOptions {
    int intervalMs = 33;   // ~30 Hz
    int cpuPeriodMs = 500; // /proc/stat sampling period
    int queueHeadSize = 20;
    /// Most tasks a run record holds before it keeps a uniform sample
    /// (RunRecord); 0 = no per-task record at all (counters and worker
    /// states only: the pool then stamps nothing).
    quint64 recordLimit = RunRecord::kDefaultLimit;
    /// Keep only tasks whose id is a multiple of this from the start (the
    /// CLI's --sample N); 1 = every task.
    quint64 recordSampling = 1;
    /// Rows each worker may stage between two ticks before rows are lost
    /// (a stalled receiver thread; RecordStats::lost counts them).
    std::size_t stagingRows = detail::RecordWriter::kDefaultMaxRows;
    /// Records of earlier runs kept (startRun()), and the most rows they may
    /// hold together; the oldest go first (droppedRuns()).
    int keptRuns = 4;
    quint64 keptRunRows = 2 * RunRecord::kDefaultLimit;
    /// Most GIL turns a run record holds (pools with a simulated GIL): the
    /// first ones of the run; later ones are counted (RunRecord::gilTurnNote).
    quint64 gilTurnLimit = RunRecord::kDefaultGilTurnLimit;
    std::size_t historyCounters = 100'000; // one counter sample per tick
    /// A pool's staged rows go to one consumer. With this set, while another
    /// client of the pool (the program's own Monitor) holds a recording
    /// vote, this Monitor takes no rows: they are that client's, every one
    /// (checked before each drain step). It takes rows again once it is the
    /// only voter. For a Monitor that watches beside the program's own (an
    /// attach publisher); yieldingRows() says which it does now.
    bool yieldRows = false;
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
    /// Collects once more, stops ticking and turns recording off; counters
    /// keep running.
    void detach();
    Executor* executor() const { return m_executor; }
    bool isAttached() const { return m_executor != nullptr; }

    void setIntervalMs(int ms);
    int intervalMs() const { return m_opts.intervalMs; }
    /// How often the system CPU is sampled. Shorter than the tick: on a
    /// timer of its own (Snapshot::cpuSamples carries every sample), else at
    /// the first tick after each period.
    void setCpuPeriodMs(int ms);
    /// Reads CPU usage from another file (tests feed recorded /proc/stat).
    void setCpuSource(const QString& procStatPath);
    const MonitorOptions& options() const { return m_opts; }

    /// Collects and emits one snapshot now, with every row staged so far in
    /// the record. (The timer's ticks drain rows in slices of a few ms, the
    /// rest between other events, so that a million tasks a second never
    /// hold the receiver's thread for a frame.)
    const Snapshot& tick();
    /// The latest snapshot.
    const Snapshot& last() const { return m_last; }

    // ---- records
    /// The current run's record (written by this Monitor on its thread).
    std::shared_ptr<RunRecord> record() const { return m_run; }
    /// Seals the current run's record into the ring of past runs and starts
    /// a new one (the counter history and the workers that are gone start
    /// over too); the last snapshot is kept.
    void startRun();
    /// Records of earlier runs, oldest first (bounded: keptRuns, keptRunRows).
    const std::deque<std::shared_ptr<RunRecord>>& pastRuns() const { return m_pastRuns; }
    /// Past runs dropped from the ring so far.
    quint64 droppedRuns() const { return m_droppedRuns; }
    /// Changes the record limit of the current and later runs (a smaller
    /// one re-samples the current record at once).
    void setRecordLimit(quint64 limit);
    /// Holds (true, the default) or gives back this Monitor's recording vote
    /// without changing its record limit: with it given back the pool stages
    /// rows only for other voters, and this Monitor still drains every staged
    /// row (those of tasks that ended before; with MonitorOptions::yieldRows
    /// none while another voter records). An attach publisher's row budget.
    void setRecordingWanted(bool on);
    bool recordingWanted() const { return m_wantRecording; }
    /// True while MonitorOptions::yieldRows leaves the rows to another voter.
    bool yieldingRows() const { return m_yielding; }

    // ---- retained history (oldest first)
    const std::deque<CounterSample>& counterHistory() const { return m_counterSamples; }
    QHash<int, WorkerInfo> knownWorkers() const { return m_knownWorkers; }
    qint64 originNs() const { return m_originNs; }
    /// The current run as a trace (Perfetto / replay / CSV): its record, the
    /// workers seen, one counter sample per tick. Rows still staged are not
    /// in it: call drainAll() first for every task finished so far.
    TraceData traceData(const QString& title = {}) const;

    /// Moves every row the workers staged so far into the record now (the
    /// ticks do it in slices of a few ms; the end of a run or an export
    /// wants all of it).
    void drainAll();

signals:
    void snapshotReady(const poolscope::Snapshot& snapshot);
    void attachedChanged(bool attached);

private:
    const Snapshot& collect(bool sliced);
    /// Drains staged rows until nothing is left or `budgetNs` passed;
    /// true when nothing is left.
    bool drainFor(qint64 budgetNs);
    void retain(const Snapshot& s);
    /// Moves the GIL turns that ended so far into the record (pools with a
    /// GIL): after every drain of rows, so that a task row in the record
    /// has all its turns there too.
    void takeGilTurns();
    std::shared_ptr<RunRecord> newRecord() const;
    /// Reads /proc/stat once into m_pendingCpu.
    void sampleCpu(qint64 nowNs);
    /// The CPU timer runs while ticking with a CPU period below the tick.
    void updateCpuTimer();

    MonitorOptions m_opts;
    QPointer<Executor> m_executor;
    bool m_recordingVote = false; // holds one of m_executor's recording votes
    bool m_wantRecording = true;  // setRecordingWanted()
    bool m_yielding = false;      // yieldingRows()
    /// MonitorOptions::yieldRows: true (and the drain list dropped) when
    /// another client of the pool holds a recording vote now.
    bool yieldsNow();
    QTimer m_timer;
    QTimer m_cpuTimer;
    quint64 m_outOfMemoryTicks = 0; // ticks cut short by std::bad_alloc
    QList<CpuUsage> m_pendingCpu;   // samples not yet in a snapshot
    std::unique_ptr<CpuSampler> m_sampler;
    qint64 m_lastCpuNs = 0;
    Snapshot m_last;
    TelemetryBatch m_batch;
    std::unique_ptr<detail::StampConverter> m_stamps; // stamps.h (internal)
    quint64 m_tick = 0;
    qint64 m_originNs = 0;
    qint64 m_prevTimeNs = 0;
    quint64 m_prevCompleted = 0;
    QHash<int, QPair<qint64, qint64>> m_prevWorkerCpu;        // index -> (timeNs, cpuNs)
    QHash<int, WorkerInfo> m_knownWorkers;                    // every worker seen (for exports)
    QHash<const detail::RecordWriter*, quint64> m_writerLost; // lost rows already counted
    // Writers with rows still to drain (a slice ran out of time), and the
    // zero timer that continues between ticks.
    std::vector<std::shared_ptr<detail::RecordWriter>> m_draining;
    QTimer m_drainTimer;
    detail::GilTurnBatch m_gilBatch; // reused: its vector goes back to the GIL
    // The record as the last snapshot saw it (Snapshot::newRows).
    quint64 m_runSerial = 0; // startRun() counts up
    quint64 m_snapRun = 0;
    quint64 m_snapGeneration = 0;
    quint64 m_snapRows = 0;
    QString m_poolKind;
    std::shared_ptr<RunRecord> m_run;
    std::deque<std::shared_ptr<RunRecord>> m_pastRuns;
    quint64 m_droppedRuns = 0;
    std::deque<CounterSample> m_counterSamples;
};

} // namespace poolscope

Q_DECLARE_METATYPE(poolscope::Snapshot)
