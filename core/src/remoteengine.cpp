#include "remoteengine.h"

#include "poolscope/errors.h"
#include "poolscope/telemetry.h"

#include <QDebug>
#include <QFileInfo>
#include <QStandardPaths>

#include <algorithm>

namespace poolscope::detail {

QString defaultWorkerProgram()
{
    const QString env = qEnvironmentVariable("POOLSCOPE_WORKER");
    if (!env.isEmpty())
        return env;
    const QString self = QFileInfo(QStringLiteral("/proc/self/exe")).canonicalFilePath();
    if (!self.isEmpty()) {
        const QString sibling =
            QFileInfo(self).absolutePath() + QStringLiteral("/poolscope-worker");
        if (QFileInfo(sibling).isExecutable())
            return sibling;
    }
    const QString onPath = QStandardPaths::findExecutable(QStringLiteral("poolscope-worker"));
    return onPath.isEmpty() ? QStringLiteral("poolscope-worker") : onPath;
}

qint64 overrunNs(qint64 avgTaskNs)
{
    return std::max<qint64>(kBudgetNs, avgTaskNs < 0 ? 0 : 4 * avgTaskNs);
}

// ------------------------------------------------------------ Executor API

void RemoteEngine::enqueue(TaskNode* node, const TaskOptions& opts)
{
    node->priority = opts.priority;
    node->cancelCounter = &cancelledPending;
    node->cancelHook = this;
    if (opts.timeout)
        node->timeoutNs = qint64(opts.timeout->count()) * 1'000'000;
    std::lock_guard lk(m);
    if (broken)
        throw BrokenExecutor(brokenReason.toStdString());
    if (shutdown)
        throw ShutdownError();
    if (recording)
        node->submitStamp = monotonicNs();
    if (!opts.name.isEmpty()) {
        if (opts.name != lastName) {
            lastName = opts.name;
            lastNameId = NameTable::intern(opts.name);
        }
        node->nameId = lastNameId;
    }
    node->id = nextTaskId++;
    node->ref();
    queue.push(node);
    ++submitted;
    wakeLocked();
}

void RemoteEngine::pause()
{
    std::lock_guard lk(m);
    paused = true;
}

void RemoteEngine::resume()
{
    std::lock_guard lk(m);
    paused = false;
    stepBudget = 0;
    wakeLocked();
}

void RemoteEngine::step()
{
    std::lock_guard lk(m);
    if (!paused)
        return;
    ++stepBudget;
    wakeLocked();
}

bool RemoteEngine::isPaused() const
{
    std::lock_guard lk(m);
    return paused;
}

bool RemoteEngine::isShutdown() const
{
    std::lock_guard lk(m);
    return shutdown;
}

bool RemoteEngine::isBroken() const
{
    std::lock_guard lk(m);
    return broken;
}

QString RemoteEngine::brokenReasonText() const
{
    std::lock_guard lk(m);
    return brokenReason;
}

int RemoteEngine::maxWorkersNow() const
{
    std::lock_guard lk(m);
    return maxWorkers;
}

Counters RemoteEngine::counters() const
{
    std::lock_guard lk(m);
    return countersLocked();
}

Counters RemoteEngine::countersLocked() const
{
    Counters c;
    c.submitted = submitted;
    c.succeeded = succeeded;
    c.failed = failed;
    const quint64 cp = cancelledPending.load(std::memory_order_acquire);
    c.cancelled = cancelledRun + cp;
    c.droppedEvents = writer->lost() + sideWriter->lost();
    c.queued = submitted - started - cp - brokenFailed - dispatchedNotStartedFailed;
    c.running =
        started - (succeeded + failed + cancelledRun - brokenFailed - dispatchedNotStartedFailed);
    return c;
}

bool RemoteEngine::waitForIdle(const Deadline& deadline) const
{
    std::unique_lock lk(m);
    auto idle = [&] { return idleLocked() || (broken && inflightTotal == 0); };
    if (deadline.isForever()) {
        cv.wait(lk, idle);
        return true;
    }
    return cv.wait_until(lk, deadline.at(), idle);
}

void RemoteEngine::setRecording(bool on)
{
    std::lock_guard lk(m);
    monitorAttached = on;
    recording = on;
    recordingFlag.store(on, std::memory_order_relaxed);
    if (!on)
        deadSlots.clear();
}

void RemoteEngine::setStagingCapacity(std::size_t rows)
{
    std::lock_guard lk(m);
    writer->setMaxRows(rows);
    sideWriter->setMaxRows(rows);
}

void RemoteEngine::collectTelemetry(TelemetryBatch& out, int queueHeadMax)
{
    std::lock_guard lk(m);
    out.timeNs = monotonicNs();
    out.counters = countersLocked();
    out.maxWorkers = maxWorkers;
    out.paused = paused;
    out.shutdown = shutdown;
    out.queueHead.clear();
    queue.head(queueHeadMax, [&](const TaskNode& n) {
        out.queueHead.append(QueuedTask{n.id, n.nameId, n.priority, n.submitStamp});
    });
    out.workers.clear();
    out.writers.clear();
    out.ticks = false;
    describeWorkersLocked(out);
    out.writers.push_back(writer);
    out.writers.push_back(sideWriter);
}

RemoteEngine::~RemoteEngine()
{
    if (gates)
        gates->deref(); // nodes still bound keep the block alive
}

void RemoteEngine::takePendingLocked(std::vector<TaskNode*>& taken)
{
    while (TaskNode* n = queue.pop())
        taken.push_back(n);
    // Cancelling the ones sent to a worker asks the worker to skip them.
    for (std::size_t i = 0, k = workerCountLocked(); i < k; ++i) {
        for (auto& f : workerAt(i).inflight) {
            if (!f.started && f.node->state() == FutureState::Pending) {
                f.node->ref();
                taken.push_back(f.node);
            }
        }
    }
}

void RemoteEngine::cancelTaken(std::vector<TaskNode*>& taken)
{
    for (TaskNode* n : taken) {
        n->cancelPending();
        n->deref();
    }
    taken.clear();
}

void RemoteEngine::finish(Completion& complete)
{
    for (auto& [n, st] : complete) {
        n->complete(st);
        n->deref();
    }
    complete.clear();
}

// ------------------------------------------------------------ frames

RemoteWorker::InFlight* RemoteEngine::onStartedLocked(RemoteWorker& w, const protocol::Message& msg,
                                                      QString* error)
{
    if (w.inflight.empty() || w.inflight.front().node->id != msg.id || w.inflight.front().started) {
        *error = QStringLiteral("out-of-order 'started' frame for task %1").arg(msg.id);
        return nullptr;
    }
    WorkerSlot& slot = *w.slot;
    auto& f = w.inflight.front();
    f.started = true;
    f.startNs = monotonicNs();
    f.core = msg.core;
    if (std::exchange(f.skipSent, false))
        --skipsOut; // it started before the 'skip' reached the worker
    const bool began = f.node->tryStart();
    releaseGateLocked(f.node); // a cancel() now finds it RUNNING (or cancelled)
    if (!began) {
        // Cancelled by its future after it was sent, and started by the
        // worker before it saw the 'skip': the future already says
        // cancelled (and counts so). Its result will be dropped.
        f.discard = true;
        return &f;
    }
    if (const qint64 t = f.node->timeoutNs)
        f.deadlineNs = f.startNs + t;
    ++started;
    slot.started.store(slot.started.load() + 1, std::memory_order_relaxed);
    slot.currentTask.store(msg.id, std::memory_order_relaxed);
    slot.currentName.store(f.node->nameId, std::memory_order_relaxed);
    slot.currentStartNs.store(f.startNs, std::memory_order_relaxed);
    slot.progressValue.store(-1, std::memory_order_relaxed);
    slot.lastCore.store(msg.core, std::memory_order_relaxed);
    slot.state.store(int(WorkerState::Running), std::memory_order_relaxed);
    return &f;
}

void RemoteEngine::onProgressLocked(RemoteWorker& w, const protocol::Message& msg)
{
    // May trail the task's result (the worker reports from a side thread),
    // or even a finished session (MPI ranks serve pool after pool): only
    // for the running task.
    if (!w.inflight.empty() && w.inflight.front().started
        && w.inflight.front().node->id == msg.id) {
        w.slot->progressMax.store(msg.progressMax, std::memory_order_relaxed);
        w.slot->progressValue.store(msg.progressValue, std::memory_order_relaxed);
    }
}

bool RemoteEngine::onSkippedLocked(RemoteWorker& w, const protocol::Message& msg, QString* error)
{
    const auto it =
        std::find_if(w.inflight.begin(), w.inflight.end(),
                     [&](const RemoteWorker::InFlight& f) { return f.node->id == msg.id; });
    // Asked back with 'skip', or skipped unasked because a cancel() won its
    // gate word first (the 'skip' the cancel sends may still be on its way).
    if (it == w.inflight.end() || it->started || !(it->skipSent || gateCancelledLocked(it->node))) {
        *error =
            QStringLiteral("'skipped' frame for task %1, which was not asked back").arg(msg.id);
        return false;
    }
    TaskNode* n = it->node;
    if (it->skipSent)
        --skipsOut;
    w.inflight.erase(it);
    --inflightTotal;
    const bool cancelling = releaseGateLocked(n);
    if (n->state() == FutureState::Pending && !cancelling && !broken && !stopping)
        queue.pushFront(n); // taken back for an idle worker
    else
        n->deref(); // cancelled (or being cancelled): its future says so
    return true;
}

RemoteEngine::ResultKind RemoteEngine::onResultLocked(RemoteWorker& w, const protocol::Message& msg,
                                                      Completion& complete, QString* error)
{
    if (w.inflight.empty() || w.inflight.front().node->id != msg.id
        || !w.inflight.front().started) {
        *error = QStringLiteral("out-of-order 'result' frame for task %1").arg(msg.id);
        return ResultKind::OutOfOrder;
    }
    auto f = w.inflight.front();
    w.inflight.pop_front();
    --inflightTotal;
    if (f.discard) { // its future was cancelled before it started: drop the result
        f.node->deref();
        return ResultKind::Discarded;
    }
    {
        const qint64 took = monotonicNs() - f.startNs;
        avgTaskNs = avgTaskNs < 0 ? took : avgTaskNs + (took - avgTaskNs) / 8;
    }
    WorkerSlot& slot = *w.slot;
    TaskNode* n = f.node;
    TaskStatus status;
    if (msg.ok) {
        n->deliver(msg.value);
        status = n->error ? TaskStatus::Failed : TaskStatus::Succeeded;
    } else {
        // The task's own exception type, rebuilt by name.
        n->error = rebuildException(msg.errorType.toStdString(), msg.errorText.toStdString());
        status = TaskStatus::Failed;
    }
    (status == TaskStatus::Succeeded ? succeeded : failed) += 1;
    WorkerSlot::bump(status == TaskStatus::Succeeded ? slot.succeeded : slot.failed);
    recordLocked(w, f, status, msg.cpuNs, msg.core);
    slot.currentTask.store(0, std::memory_order_relaxed);
    slot.state.store(int(WorkerState::Idle), std::memory_order_relaxed);
    complete.push_back({n, FutureState::Finished});
    return ResultKind::Finished;
}

// ------------------------------------------------------------ sending

bool RemoteEngine::sendNextLocked(RemoteWorker& w, QByteArray& frames, qint64 now)
{
    while (TaskNode* n = queue.pop()) {
        // Stays PENDING (running() false, cancel() true) until the worker
        // says 'started'; a task cancelled meanwhile is asked back.
        if (n->state() != FutureState::Pending) { // cancelled while queued
            n->deref();
            continue;
        }
        protocol::Message run;
        if (gates && w.gated) {
            // Its start/cancel word: written before the frame, so the
            // worker reads it after (the pipe orders the two).
            const quint32 g = gates->acquire();
            if (g != TaskGates::kNone) {
                gates->at(g).store(TaskGates::word(n->id, TaskGates::Pending));
                if (!n->bindGate(gates, g)) { // cancelled just now
                    gates->release(g);
                    n->deref();
                    continue;
                }
                run.gate = qint64(g);
            } // all words taken: written ahead without one, as the MPI pool does
        }
        const TaskNode::Remote* r = n->remote();
        run.type = protocol::MsgType::Run;
        run.id = n->id;
        run.name = r->name;
        run.args = r->args;
        run.batch = r->batch;
        frames += protocol::encode(run);
        w.inflight.push_back(RemoteWorker::InFlight{n});
        w.inflight.back().sentNs = now;
        ++inflightTotal;
        return true;
    }
    return false;
}

bool RemoteEngine::releaseGateLocked(TaskNode* n)
{
    return releaseGate(gates, n);
}

bool RemoteEngine::gateCancelledLocked(const TaskNode* n) const
{
    const quint32 g = n->gateIndex();
    return gates && g != TaskGates::kNone
           && gates->at(g).load() == TaskGates::word(n->id, TaskGates::Cancelled);
}

void RemoteEngine::sendSkipLocked(RemoteWorker::InFlight& f, QByteArray& frames)
{
    protocol::Message skip;
    skip.type = protocol::MsgType::Skip;
    skip.id = f.node->id;
    frames += protocol::encode(skip);
    f.skipSent = true;
    ++skipsOut;
}

void RemoteEngine::sweepCancelledLocked()
{
    for (std::size_t i = 0, k = workerCountLocked(); i < k; ++i) {
        RemoteWorker& w = workerAt(i);
        if (!acceptsSkipLocked(w))
            continue;
        QByteArray frames;
        for (auto& f : w.inflight) {
            if (!f.started && !f.skipSent && f.node->state() == FutureState::Cancelled)
                sendSkipLocked(f, frames);
        }
        if (!frames.isEmpty())
            sendFramesLocked(w, frames);
    }
}

bool RemoteEngine::heldUpLocked(const RemoteWorker& w, qint64 now) const
{
    const auto& f = w.inflight.front();
    return f.started && now - f.startNs > overrunNs(avgTaskNs);
}

/// No task waits in a busy worker's pipeline while another worker is idle
/// (Python's workers share one call queue). With the queue empty, each idle
/// worker takes back tasks not started yet from the worker holding the
/// most: all of them when that worker's task has run past overrunNs(), else
/// the later half (so work moves at most log2(depth) times) if they hold
/// more than the pipelining budget of work; less is not worth a round trip
/// (the adaptive depth keeps a pipeline of tiny tasks under that budget, so
/// a stream of them is never reshuffled). Asked back from the end, they
/// come back in order ('skipped' frames, each pushed to the queue's front)
/// and go to whichever worker is free; a task the worker started meanwhile
/// just runs.
void RemoteEngine::rebalanceLocked()
{
    if (paused || !queue.empty() || skipsOut > 0 || stopping)
        return;
    const std::size_t k = workerCountLocked();
    int idle = 0;
    for (std::size_t i = 0; i < k; ++i) {
        const RemoteWorker& w = workerAt(i);
        idle += (takesWorkLocked(w) && w.inflight.empty()) ? 1 : 0;
    }
    const qint64 now = monotonicNs();
    for (; idle > 0; --idle) {
        RemoteWorker* victim = nullptr;
        int most = 0;
        for (std::size_t i = 0; i < k; ++i) {
            RemoteWorker& w = workerAt(i);
            if (!mayGiveBackLocked(w))
                continue; // its unstarted tasks come back when it is gone
            int held = 0;
            for (const auto& f : w.inflight)
                held += (!f.started && !f.skipSent) ? 1 : 0;
            if (held > most) {
                most = held;
                victim = &w;
            }
        }
        if (!victim)
            return;
        int take = 0;
        if (!victim->inflight.empty() && heldUpLocked(*victim, now))
            take = most;
        else if (avgTaskNs > 0 && qint64(most) * avgTaskNs > kBudgetNs)
            take = most / 2;
        if (take == 0)
            return;
        QByteArray frames;
        for (auto it = victim->inflight.rbegin(); it != victim->inflight.rend() && take > 0; ++it) {
            if (it->started || it->skipSent)
                continue;
            sendSkipLocked(*it, frames);
            --take;
        }
        sendFramesLocked(*victim, frames);
    }
}

// ------------------------------------------------------------ failures

void RemoteEngine::failPendingLocked(Completion& complete)
{
    const auto err = std::make_exception_ptr(BrokenExecutor(brokenReason.toStdString()));
    while (TaskNode* n = queue.pop()) {
        if (n->tryStart()) {
            n->error = err;
            recordUnstartedLocked(*n, TaskStatus::Failed);
            ++brokenFailed;
            ++failed;
            complete.push_back({n, FutureState::Finished});
        } else {
            n->deref();
        }
    }
}

void RemoteEngine::failUnstartedLocked(TaskNode* n, std::exception_ptr err, Completion& complete)
{
    if (!n->tryStart()) {
        n->deref(); // cancelled by its future
        return;
    }
    n->error = std::move(err);
    recordUnstartedLocked(*n, TaskStatus::Failed);
    ++failed;
    ++dispatchedNotStartedFailed;
    complete.push_back({n, FutureState::Finished});
}

bool RemoteEngine::breakPoolLocked(const QString& why, Completion& complete)
{
    if (broken)
        return false;
    broken = true;
    brokenReason = why;
    qWarning("poolscope: %s", qPrintable(why));
    failPendingLocked(complete);
    const auto err = std::make_exception_ptr(BrokenExecutor(why.toStdString()));
    for (std::size_t i = 0, k = workerCountLocked(); i < k; ++i) {
        RemoteWorker& w = workerAt(i);
        // Tasks sent but not started fail too: nothing will run them.
        for (auto it = w.inflight.begin(); it != w.inflight.end();) {
            if (!it->started) {
                if (it->skipSent)
                    --skipsOut;
                // Failed (RUNNING) before its word is freed: a cancel() in
                // between would have found it PENDING and ungated.
                TaskNode* n = it->node;
                n->ref();
                failUnstartedLocked(n, err, complete);
                releaseGateLocked(n);
                n->deref();
                it = w.inflight.erase(it);
                --inflightTotal;
            } else {
                ++it;
            }
        }
        brokeWorkerLocked(w, err, complete);
    }
    return true;
}

void RemoteEngine::brokeWorkerLocked(RemoteWorker&, const std::exception_ptr&, Completion&)
{
    // A running task still delivers its result.
}

void RemoteEngine::recordLocked(RemoteWorker& w, const RemoteWorker::InFlight& f, TaskStatus status,
                                qint64 cpuNs, int core)
{
    WorkerSlot& slot = *w.slot;
    const qint64 end = monotonicNs();
    const qint64 start = f.started ? f.startNs : end;
    slot.busyNs.store(slot.busyNs.load(std::memory_order_relaxed) + (end - start),
                      std::memory_order_relaxed);
    if (recording)
        stageFinished(*writer, *f.node, status, start, end, cpuNs, slot.index,
                      core >= 0 ? core : f.core);
}

void RemoteEngine::recordUnstartedLocked(const TaskNode& n, TaskStatus status)
{
    if (recording)
        stageUnstarted(*writer, n, status, monotonicNs());
}

void RemoteEngine::recordCancelled(const TaskNode& node) noexcept
{
    if (!recordingFlag.load(std::memory_order_relaxed))
        return;
    std::lock_guard lk(sideMutex);
    stageUnstarted(*sideWriter, node, TaskStatus::Cancelled, monotonicNs());
}

bool RemoteEngine::readyLocked(RemoteWorker& w, qint64 pid, QString* error)
{
    if (w.ready) {
        *error = QStringLiteral("a second 'ready' frame");
        return false;
    }
    w.ready = true;
    w.pid = pid;
    w.slot->pid.store(pid, std::memory_order_relaxed);
    w.slot->tid.store(pid, std::memory_order_relaxed);
    w.slot->state.store(int(WorkerState::Idle), std::memory_order_relaxed);
    return true;
}

} // namespace poolscope::detail
