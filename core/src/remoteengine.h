#pragma once
// RemoteEngine: the task bookkeeping of the pools whose tasks run in other
// processes, the process pool (processpool.cpp) and the MPI pool
// (core/mpi/mpipool.cpp). It owns the queue, the counters, the rules for the
// worker's 'started', 'progress', 'skipped' and 'result' frames, pause/step,
// the broken state, the cancel of tasks written ahead but not started
// (skip/skipped), the rebalancing of such tasks to an idle worker, the run
// record and the telemetry. Each pool derives from it and keeps only its
// transport: how frames reach a worker, how a worker starts, dies and is
// replaced (pipes and QProcess; an MPI communicator and heartbeats).
//
// Everything marked "Locked" runs under `m`. The pool owns its workers (its
// own type derived from RemoteWorker) and shows them to the engine through
// workerCountLocked()/workerAt().

#include "poolscope/executor.h"
#include "poolscope/protocol.h"
#include "poolscope/recording.h"
#include "taskgates.h"
#include "taskqueue.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace poolscope::detail {

/// Futures to complete once the pool's lock is released (their callbacks
/// may call back into the pool).
using Completion = std::vector<std::pair<TaskNode*, FutureState>>;

/// The worker program when the options name none: $POOLSCOPE_WORKER, else
/// poolscope-worker next to this program, else on PATH.
QString defaultWorkerProgram();

/// Work kept queued at each worker by pipelining.
inline constexpr qint64 kBudgetNs = 2'000'000;

/// How long a task may run before its worker counts as held up: no more
/// tasks are pipelined behind it, and the ones already there may be taken
/// back for an idle worker (RemoteEngine::rebalanceLocked).
qint64 overrunNs(qint64 avgTaskNs);

/// What the engine knows of one worker (a process, an MPI rank).
struct RemoteWorker {
    struct InFlight {
        TaskNode* node; // the worker's reference; PENDING until the worker says 'started'
        bool started = false;
        bool skipSent = false; // asked back ('skip'): 'skipped' or 'started' answers
        bool discard = false;  // started after its future was cancelled: result dropped
        qint64 startNs = 0;
        qint64 deadlineNs = 0; // 0 = none
        qint64 sentNs = 0;     // when its 'run' frame was written
        int core = -1;
    };

    virtual ~RemoteWorker() = default;

    std::shared_ptr<WorkerSlot> slot;
    protocol::FrameReader reader;
    std::deque<InFlight> inflight; // sent, not finished, in the order sent
    bool ready = false;            // answered 'hello'
    bool gated = false;            // maps the pool's gates (said so in 'ready')
    qint64 pid = 0;
    qint64 lastHeardNs = 0; // its last frame
};

class RemoteEngine : public CancelHook {
public:
    virtual ~RemoteEngine();

    // ---- shared, under m
    mutable std::mutex m;
    mutable std::condition_variable cv; // idle / ready / shutdown waiters
    TaskQueue queue;
    std::vector<std::shared_ptr<WorkerSlot>> deadSlots; // gone workers, for the next telemetry
    int maxWorkers = 1;
    bool shutdown = false;
    bool stopping = false; // tear-down: tasks not started are not requeued
    bool paused = false;
    int stepBudget = 0; // tasks step() may still dispatch while paused
    bool broken = false;
    QString brokenReason;
    bool monitorAttached = false;
    bool recording = false;                 // a Monitor records the pool: stage every finished task
    std::atomic<bool> recordingFlag{false}; // `recording` for readers without m
    // Rows staged under m (the workers' frames, failures of the pool).
    std::shared_ptr<RecordWriter> writer = std::make_shared<RecordWriter>(false);
    // Rows of tasks cancelled by their futures (any thread, no m held).
    std::mutex sideMutex;
    std::shared_ptr<RecordWriter> sideWriter = std::make_shared<RecordWriter>(false);
    quint64 nextTaskId = 1;
    quint64 submitted = 0, started = 0, succeeded = 0, failed = 0, cancelledRun = 0,
            brokenFailed = 0;
    quint64 dispatchedNotStartedFailed = 0; // failed before a worker reported start
    std::atomic<quint64> cancelledPending{0};
    int inflightTotal = 0; // dispatched, not finished
    QString lastName;
    quint32 lastNameId = 0;
    qint64 avgTaskNs = -1; // running average of started -> result wall time; -1: none yet
    int skipsOut = 0;      // 'skip' frames not answered yet (no rebalancing meanwhile)
    // Start/cancel words shared with the workers (taskgates.h); null when
    // the pool has none (the MPI pool: its ranks may be on other hosts).
    // A reference, dropped by the destructor.
    TaskGates* gates = nullptr;

    // ---- the Executor API (any thread; takes m)
    void enqueue(TaskNode* node, const TaskOptions& opts);
    void pause();
    void resume();
    void step();
    bool isPaused() const;
    bool isShutdown() const;
    bool isBroken() const;
    QString brokenReasonText() const;
    int maxWorkersNow() const;
    Counters counters() const;
    bool waitForIdle(const Deadline& deadline) const;
    void setRecording(bool on);
    void setStagingCapacity(std::size_t rows);
    void collectTelemetry(TelemetryBatch& out, int queueHeadMax);

    /// shutdown(cancelFutures): takes every PENDING task, queued or sent to a
    /// worker and not started (as in Python, only the calls a worker has
    /// begun escape cancel_futures), each with a reference.
    void takePendingLocked(std::vector<TaskNode*>& taken);
    /// Cancels what takePendingLocked() took; outside the lock (callbacks).
    static void cancelTaken(std::vector<TaskNode*>& taken);
    /// Completes nodes outside the lock: their callbacks may submit again.
    static void finish(Completion& complete);

    Counters countersLocked() const;
    bool idleLocked() const { return inflightTotal == 0 && queue.empty(); }

    // ---- the workers' frames
    /// 'started': the task at the front turns RUNNING. Null (and *error)
    /// when out of order. A task its future cancelled meanwhile comes back
    /// with `discard` set: its result will be dropped.
    RemoteWorker::InFlight* onStartedLocked(RemoteWorker& w, const protocol::Message& msg,
                                            QString* error);
    void onProgressLocked(RemoteWorker& w, const protocol::Message& msg);
    /// 'skipped': a task asked back goes to the queue's front (or is dropped
    /// when its future was cancelled). False (and *error) when not asked back.
    bool onSkippedLocked(RemoteWorker& w, const protocol::Message& msg, QString* error);
    enum class ResultKind { OutOfOrder, Discarded, Finished };
    /// 'result': completes the task at the front (into `complete`).
    ResultKind onResultLocked(RemoteWorker& w, const protocol::Message& msg, Completion& complete,
                              QString* error);

    // ---- sending
    /// Pops queued tasks until one is sent to w (its 'run' frame appended to
    /// `frames`); tasks cancelled while queued are dropped. False when the
    /// queue ran dry first.
    bool sendNextLocked(RemoteWorker& w, QByteArray& frames, qint64 now);
    /// The task left its worker's pipeline unstarted, or started: its gate
    /// word (if any) is freed (taskgates.h, releaseGate()). True when a
    /// cancel() had won the word: the task must not be sent again.
    bool releaseGateLocked(TaskNode* n);
    /// Its gate word says a cancel() won it (the worker skips it unasked).
    bool gateCancelledLocked(const TaskNode* n) const;
    /// Asks w for f back: a 'skip' frame appended to `frames`.
    void sendSkipLocked(RemoteWorker::InFlight& f, QByteArray& frames);
    /// Asks back every task sent and cancelled by its future before its
    /// worker started it (after pendingCancelled()).
    void sweepCancelledLocked();
    /// w's running task has run past overrunNs().
    bool heldUpLocked(const RemoteWorker& w, qint64 now) const;
    /// Idle workers take back unstarted tasks from the most loaded worker.
    void rebalanceLocked();

    // ---- failures and the run record
    void failPendingLocked(Completion& complete);
    /// Breaks the pool: every future it has not finished fails with
    /// BrokenExecutor(why): the queued ones and the ones sent but not
    /// started; then brokeWorkerLocked() for each worker. False when it
    /// was broken already.
    bool breakPoolLocked(const QString& why, Completion& complete);
    /// A task sent to a worker that will never start it fails with err
    /// (unless its future was cancelled: then it is only released).
    void failUnstartedLocked(TaskNode* n, std::exception_ptr err, Completion& complete);
    void recordLocked(RemoteWorker& w, const RemoteWorker::InFlight& f, TaskStatus status,
                      qint64 cpuNs, int core);
    /// A task that ends without having started on a worker. Under m.
    void recordUnstartedLocked(const TaskNode& n, TaskStatus status);

    // CancelHook: a queued task was cancelled by its future (any thread).
    void recordCancelled(const TaskNode& node) noexcept override;

protected:
    // ---- the pool's transport (called under m)
    virtual std::size_t workerCountLocked() const = 0;
    virtual RemoteWorker& workerAt(std::size_t i) const = 0;
    /// Have the pool's thread look at the queue (a pump, a wake-up).
    virtual void wakeLocked() = 0;
    virtual void sendFramesLocked(RemoteWorker& w, const QByteArray& frames) = 0;
    /// w may be asked back a cancelled task (it is still reading frames).
    virtual bool acceptsSkipLocked(const RemoteWorker& w) const = 0;
    /// w's unstarted tasks may be asked back for an idle worker (it is not
    /// going away, which would bring them back anyway).
    virtual bool mayGiveBackLocked(const RemoteWorker& w) const = 0;
    /// w may be given tasks now.
    virtual bool takesWorkLocked(const RemoteWorker& w) const = 0;
    /// breakPoolLocked() failed w's unstarted tasks; err is the pool's error.
    virtual void brokeWorkerLocked(RemoteWorker& w, const std::exception_ptr& err,
                                   Completion& complete);
    /// Appends the workers to out.workers (and what else the pool shows).
    virtual void describeWorkersLocked(TelemetryBatch& out) = 0;

    /// A worker's 'ready' frame: it is idle with this pid; false (*error
    /// set) for a second one.
    static bool readyLocked(RemoteWorker& w, qint64 pid, QString* error);
};

} // namespace poolscope::detail
