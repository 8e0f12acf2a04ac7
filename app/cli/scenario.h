#pragma once
// One CLI scenario: a workload run on a pool, watched by a Monitor, with a
// progress line, Ctrl-C handling, exports and a summary.

#include <poolscope/workloads.h>

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <atomic>
#include <optional>

namespace poolscope::cli {

struct Scenario {
    QString workload;
    WorkloadRun run;
    QString pool = QStringLiteral("thread"); // "thread" | "process" | "mpi"
    int workers = 0;                         // 0 = pool default
    bool gil = false;
    int switchIntervalMs = 5;
    int chunk = 1;
    std::optional<double> timeoutS;
    QString tracePath;
    QString csvPath;
    quint64 sample = 1;      // --sample N: record tasks whose id is a multiple of N
    quint64 recordLimit = 0; // --record-limit N; 0 = RunRecord::kDefaultLimit
};

struct Summary {
    QString workload;
    QString pool;
    int workers = 0;
    bool gil = false;
    int switchIntervalMs = 5; // the GIL's; reported whether or not the GIL is on
    int chunk = 1;
    double wallS = 0;
    qint64 tasks = 0;
    qint64 done = 0;
    qint64 failed = 0;
    qint64 cancelled = 0;
    double tasksPerS = 0;
    double meanQueueWaitMs = -1;
    double meanRunMs = -1;
    double cpuS = 0;
    double cpuWallRatio = 0;
    double gilWaitMs = 0;
    // Cores the rest of the machine kept busy during the run (/proc/stat's
    // busy time less this process's and its workers' CPU), averaged.
    double otherCores = 0;
    // Process pool: time to start every worker, before the run's clock
    // (-1: a pool started on demand).
    double poolStartS = -1;
    quint64 droppedEvents = 0;
    // The run's record (what --csv and --trace write): rows held, the
    // sampling that says which, rows lost; note in words ("" = every task).
    quint64 recorded = 0;
    quint64 sampledOneIn = 1;
    quint64 recordLost = 0;
    QString recordNote;
    /// Set when the system refused some worker threads (`ulimit -u`): the
    /// run had fewer workers than asked, and this says how many and why.
    QString workersNote;
    bool interrupted = false;
    QStringList failures; // first few, "item I (task T): <error>" (I 0-based, T the pool's id)
    QJsonObject toJson() const;
    QString toText() const;
    /// "" on a quiet machine (below LoadMeter::kBusyCores, the line the
    /// benchmarks' load meter draws too); else one sentence naming the cores
    /// others used.
    QString machineBusyNote() const;
};

/// Returns an empty string when the scenario is acceptable, else one clear
/// sentence (the CLI prints it and exits with 2).
QString validate(const Scenario& s);

enum class Progress { None, Tty, Lines };

/// Runs it to the end (or until *interrupt turns true: pending tasks are
/// cancelled, running ones asked to stop). Needs a QCoreApplication.
/// Throws poolscope::Error subclasses for pool failures; writes exports and
/// sets *exportError when they cannot be written.
Summary runScenario(const Scenario& s, Progress progress, const std::atomic<bool>* interrupt,
                    QString* exportError);

/// True when path can be created or overwritten (checked before running, by
/// opening it for writing the way the export does); else *why is one
/// sentence naming the path.
bool writablePath(const QString& path, QString* why);

/// True when this build has the MPI pool (--pool mpi).
bool haveMpiPool();

/// One paragraph on the run in progress: how many tasks completed (and how),
/// how many were running or queued and so did not complete. Thread-safe; for
/// the CLI's SIGTERM handler thread (MPI aborts the job when a rank dies).
/// Empty when no run is in progress.
QString liveRunReport();

} // namespace poolscope::cli
