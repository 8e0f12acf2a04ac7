#pragma once
// SweepRunner: the pool-size sweep of lesson 6. Runs the same batch at 1..N
// workers for each requested series (threads, threads with the simulated
// GIL, processes), one point after another, and reports each point's wall
// time.
//
// Nothing blocks the GUI thread: every point gets its own executor (its
// workers do the work), completion is observed through the futures (a done
// callback records the finish time on the worker's side, a QTimer polls on
// this side) and the executor is shut down without waiting before it is
// deleted. Cancel at any time.
//
// The wall time of a point runs from the submission of its batch to the
// moment its last future completes (measured where it completes, so the
// polling interval does not add to it). Before timing, each point's pool is
// warmed up with a few short sleep tasks, so thread creation and worker
// process start-up are not counted (they would look like serial work).

#include <poolscope/cpusampler.h>
#include <poolscope/executor.h>
#include <poolscope/workloads.h>

#include <QList>
#include <QMetaType>
#include <QObject>
#include <QString>
#include <QTimer>

#include <atomic>
#include <memory>
#include <optional>

namespace poolscope {

enum class SweepSeries { Threads, ThreadsGil, Processes };

/// "threads", "threads+gil", "processes". (Not named toString: QtTest looks that up by ADL.)
QString seriesName(SweepSeries series);
/// Accepts the names above (case-insensitive, also "thread", "gil",
/// "process"); nullopt otherwise.
std::optional<SweepSeries> sweepSeriesFromString(const QString& name);

struct SweepRequest {
    QString workload = QStringLiteral("primes");
    WorkloadRun run;               // tasks, size, knobs
    int chunkSize = 1;             // items per task (not for the pipeline workload)
    double switchIntervalMs = 5.0; // GIL switch interval of the threads+gil series
    QList<SweepSeries> series = {SweepSeries::Threads};
    QList<int> workers = {1, 2}; // ascending, starting at 1 (speedups are relative to it)
    bool warmUp = true;
    /// Measurements per point (1..9): the point's wall time is their median,
    /// its range their min and max. Three by default: one noisy measurement
    /// must not decide a lesson.
    int repeats = 3;
    QString workerProgram; // process series: empty = the core's default lookup

    /// 1..max(4, 2 x cores), capped at 16: past the cores the curves flatten.
    static QList<int> autoWorkers();
    /// Empty when the request can run, else one clear sentence.
    QString validate() const;
};

struct SweepPoint {
    SweepSeries series = SweepSeries::Threads;
    int workers = 1;
    double wallS = 0; // median of the measurements
    int failed = 0;   // tasks that failed, most in one measurement (the point still counts)
    double minS = 0;  // fastest measurement (0: wallS is the only one)
    double maxS = 0;  // slowest
    QList<double> samplesS = {}; // every measurement, in order
    /// Most cores other programs kept busy during one measurement
    /// (LoadMeter); -1 unknown.
    double otherCores = -1;
};

class SweepRunner : public QObject {
    Q_OBJECT
public:
    explicit SweepRunner(QObject* parent = nullptr);
    ~SweepRunner() override;

    /// Starts the sweep; false (and error()) when the request is invalid or a
    /// sweep is already running.
    bool start(const SweepRequest& request);
    /// Cancels queued tasks, asks running ones to stop, then emits
    /// finished(true). No-op when idle.
    void cancel();
    bool isRunning() const { return m_phase != Phase::Idle; }

    const SweepRequest& request() const { return m_request; }
    /// Points measured so far, in order.
    QList<SweepPoint> points() const { return m_points; }
    int totalPoints() const { return int(m_request.series.size() * m_request.workers.size()); }
    /// The measurement of the current point being taken, 0-based.
    int currentRepeat() const { return int(m_samples.size()); }

    /// How often futures are polled (default 15 ms).
    void setPollIntervalMs(int ms);

signals:
    void started(int totalPoints);
    /// pointIndex: 0-based index of the point being measured.
    void progress(int pointIndex, int totalPoints, qint64 tasksDone, qint64 tasksTotal);
    void pointMeasured(const poolscope::SweepPoint& point);
    void finished(bool cancelled);
    void error(const QString& message);

private:
    enum class Phase { Idle, WarmUp, Measure, Teardown };
    void startPoint();
    void poll();
    void submitBatch();
    void finishPoint();
    void teardown();
    void fail(const QString& message);
    QList<qint64> childPids() const;
    SweepSeries currentSeries() const;
    int currentWorkers() const;

    SweepRequest m_request;
    QList<SweepPoint> m_points;
    int m_index = 0; // point index: series-major
    Phase m_phase = Phase::Idle;
    bool m_cancelling = false;
    std::unique_ptr<Executor> m_executor;
    QList<Future<QCborValue>> m_futures;
    qsizetype m_doneCursor = 0;
    QList<int> m_weights; // items per future (chunks)
    qint64 m_startNs = 0;
    std::shared_ptr<std::atomic<qint64>> m_lastDoneNs;
    qint64 m_teardownStartNs = 0;
    QList<double> m_samples; // the current point's measurements so far
    int m_failed = 0;
    double m_otherCores = -1;
    LoadMeter m_load;
    QTimer m_timer;
};

} // namespace poolscope

Q_DECLARE_METATYPE(poolscope::SweepPoint)
