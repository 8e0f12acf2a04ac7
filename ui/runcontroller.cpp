#include "runcontroller.h"

#include <poolscope/attach.h>

#include <poolscope/cpusampler.h>
#include <poolscope/errors.h>
#include <poolscope/processpool.h>
#include <poolscope/registry.h>
#ifdef POOLSCOPE_HAVE_MPI
#include <poolscope/mpipool.h>
#endif
#include <poolscope/threadpool.h>
#include <poolscope/traceexport.h>

#include <QCoreApplication>
#include <QLocale>
#include <QThread>

#include <algorithm>
#include <cmath>
#include <utility>

namespace poolscope {

namespace {
// Futures examined beyond a run's cursor on each tick: enough to see
// out-of-order completions early (a Mandelbrot band through the set finishes
// long after its neighbours) at a bounded cost per tick.
constexpr qsizetype kLookahead = 4096;
// Time one event-loop pass may spend submitting a big run.
constexpr qint64 kSubmitBudgetNs = 6'000'000;

bool validKind(const QString& kind)
{
#ifdef POOLSCOPE_HAVE_MPI
    if (kind == QLatin1String("mpi")) // MPI ranks (docs/scale-out.md)
        return true;
#endif
    return kind == QLatin1String("thread") || kind == QLatin1String("process");
}
} // namespace

QString RunSummary::text() const
{
    const QLocale l;
    return QStringLiteral("%1 on %2 %3 pool: %4 tasks in %5 s (%6 tasks/s) - %7 done, %8 failed, "
                          "%9 cancelled")
               .arg(workload, QString::number(workers), poolKind, l.toString(tasks),
                    QString::number(wallSeconds, 'f', 2),
                    l.toString(qint64(std::llround(tasksPerSecond))), l.toString(succeeded),
                    l.toString(failed), l.toString(cancelled))
           + (busyText().isEmpty() ? QString() : QStringLiteral(" - ") + busyText())
           + (sharedText().isEmpty() ? QString() : QStringLiteral(" - ") + sharedText());
}

QString RunSummary::busyText() const
{
    return LoadMeter::busyText(otherCores);
}

QString RunSummary::sharedText() const
{
    if (windowCores < kWindowCores || machineCores <= 0 || workers < machineCores)
        return {};
    return QStringLiteral("this window used %1 of the %2 cores drawing the run; the workers had "
                          "at most %3")
        .arg(windowCores, 0, 'f', 2)
        .arg(machineCores)
        .arg(std::max(0.0, machineCores - windowCores), 0, 'f', 2);
}

struct RunController::Run {
    quint64 id = 0;
    RunSpec spec;
    const Workload* workload = nullptr;
    QString taskName;       // display name of each task
    QList<QCborArray> plan; // items still to submit start at nextItem
    qsizetype nextItem = 0;
    bool submitted = false; // everything that will be submitted is
    bool collect = false;   // harvest result values
    int chunk = 1;
    QList<Future<QCborValue>> futures;
    QList<QFuture<QCborValue>> qfutures; // RunSpec::qfutures: handed out once
    bool qfuturesSent = false;
    std::vector<quint8> seen; // harvested already (look-ahead window)
    qsizetype cursor = 0;     // futures before it are all harvested
    // Every future was done at the last snapshot. The run ends at the next
    // one: a task's span reaches its worker's ring before its future
    // completes, but that snapshot's telemetry may have been collected just
    // before, and runFinished() slots read the monitor's history (the
    // analysis missed a run's last task now and then).
    bool allDoneSeen = false;
    int succeeded = 0, failed = 0, cancelled = 0;
    QElapsedTimer clock;
    LoadMeter load;     // other programs' cores during the run
    double guiCpuS = 0; // the GUI thread's CPU when it started
    qint64 startNs = 0;
    // The run record this run started (Monitor::startRun()); another run
    // started while this one was active shares it.
    std::shared_ptr<RunRecord> record;
};

RunController::RunController(QObject* parent)
    : QObject(parent)
{
    qRegisterMetaType<poolscope::RunSpec>();
    qRegisterMetaType<poolscope::RunSummary>();
    qRegisterMetaType<poolscope::TaskResult>();
    qRegisterMetaType<poolscope::PoolConfig>();
    qRegisterMetaType<QList<poolscope::TaskResult>>();
    MonitorOptions mo;
    mo.intervalMs = m_idleTickMs;
    m_monitor = new Monitor(mo, this);
    connect(m_monitor, &Monitor::snapshotReady, this, &RunController::onSnapshot);
    m_pump.setInterval(0);
    connect(&m_pump, &QTimer::timeout, this, &RunController::pump);
}

RunController::~RunController()
{
    // Receivers of our signals may be half destroyed: no more snapshots.
    disconnect(m_monitor, nullptr, this, nullptr);
    m_pump.stop();
    for (auto& r : m_runs) {
        r->plan.clear();
        for (auto& f : r->futures) {
            if (f.isValid() && !f.done())
                f.requestStop();
        }
    }
    m_runs.clear();
    destroyPool();
}

bool RunController::resultsWanted(const QString& workload)
{
    return workload == QLatin1String("mandelbrot");
}

void RunController::setTickIntervals(int activeMs, int idleMs)
{
    m_activeTickMs = std::max(1, activeMs);
    m_idleTickMs = std::max(1, idleMs);
    updateTickRate();
}

void RunController::setYieldWhenBusy(bool on)
{
    m_yieldWhenBusy = on;
    updateTickRate();
}

bool RunController::isPaused() const
{
    return m_executor && m_executor->isPaused();
}

// ------------------------------------------------------------------ pools

bool RunController::needsNewPool(const PoolConfig& want) const
{
    if (!m_executor || m_executor->isShutdown() || m_executor->isBroken())
        return true;
    if (m_executor->kind() != want.kind)
        return true;
    return want.kind == QLatin1String("thread") && want.gil != m_config.gil;
}

QString RunController::poolProblem(const PoolConfig& want) const
{
    if (!validKind(want.kind))
        return QStringLiteral("unknown pool kind '%1' (use thread or process)").arg(want.kind);
    if (want.workers < 0 || want.workers > Executor::maxWorkersLimit())
        return QStringLiteral("the pool needs 1 to %1 workers, got %2")
            .arg(Executor::maxWorkersLimit())
            .arg(want.workers);
    if (want.gil && want.kind == QLatin1String("thread")
        && !(want.switchIntervalMs >= 0.01 && want.switchIntervalMs <= 1000))
        return QStringLiteral("the GIL switch interval must be between 0.01 and 1000 ms, got %1")
            .arg(want.switchIntervalMs);
    if (needsNewPool(want) && m_executor) {
        if (!m_runs.empty())
            return QStringLiteral("%1 run(s) are still active on the %2 pool: stop them "
                                  "(Shift+F5) or let them finish before switching to a %3 pool%4")
                .arg(m_runs.size())
                .arg(m_executor->kind(), want.kind,
                     want.kind == m_executor->kind() ? QStringLiteral(" with the GIL toggled")
                                                     : QString());
        const Counters c = m_executor->counters();
        if (c.queued + c.running > 0)
            return QStringLiteral("the previous pool is still finishing %1 task(s); try again in "
                                  "a moment")
                .arg(c.queued + c.running);
    }
    return {};
}

bool RunController::configurePool(const PoolConfig& config)
{
    if (m_adopted)
        return false; // the watched program's pool is not ours to remake
    const QString why = poolProblem(config);
    if (!why.isEmpty()) {
        emit error(why);
        return false;
    }
    if (needsNewPool(config)) {
        if (!makePool(config))
            return false;
    } else {
        if (config.workers > 0 && config.workers != m_executor->maxWorkers())
            setWorkers(config.workers);
        if (config.gil && config.switchIntervalMs != m_config.switchIntervalMs)
            setSwitchIntervalMs(config.switchIntervalMs);
    }
    return true;
}

bool RunController::makePool(const PoolConfig& config)
{
    destroyPool();
    m_config = config;
#ifdef POOLSCOPE_HAVE_MPI
    if (config.kind == QLatin1String("mpi")) {
        // Spawned ranks of poolscope-worker (or the job's ranks when the GUI
        // itself runs under mpirun); the MPI runtime may refuse.
        MpiPoolOptions o;
        if (config.workers > 0)
            o.maxWorkers = config.workers;
        o.workerProgram = m_workerProgram;
        // The spawn blocks this (GUI) thread; a local spawn takes well under
        // a second, and a hung one (Open MPI 4.1 + PMIx 4, now and then)
        // becomes an error message instead of a frozen window.
        o.spawnTimeout = std::chrono::seconds(20);
        try {
            m_executor = std::make_unique<MpiPoolExecutor>(o);
        } catch (const std::exception& e) {
            emit error(QStringLiteral("cannot start the MPI pool: %1").arg(e.what()));
            return false;
        }
    } else
#endif
        if (config.kind == QLatin1String("process")) {
        ProcessPoolOptions o;
        if (config.workers > 0)
            o.maxWorkers = config.workers;
        o.workerProgram = m_workerProgram;
        o.shutdownGrace = std::chrono::milliseconds(2000);
        // Workers start on demand as in Python (lesson 5 shows the first
        // tasks waiting for them); one lost to a crash or a Stop is replaced
        // at once, so the Workers panel shows the pool at its size again.
        o.replaceLostWorkers = true;
        m_executor = std::make_unique<ProcessPoolExecutor>(o);
    } else {
        ThreadPoolOptions o;
        if (config.workers > 0)
            o.maxWorkers = config.workers;
        o.gil = config.gil;
        o.gilSwitchInterval =
            std::chrono::microseconds(std::llround(config.switchIntervalMs * 1000.0));
        // Tasks honour stop requests; never hang the GUI on exit.
        o.destroyGrace = std::chrono::milliseconds(3000);
        // A pool that saturates every core must not starve the GUI thread
        // (docs/benchmarks.md, "The window under load").
        o.workerNice = kWorkerNice;
        m_executor = std::make_unique<ThreadPoolExecutor>(o);
    }
    m_config.workers = m_executor->maxWorkers();
    connect(
        m_executor.get(), &Executor::unhandledExceptions, this,
        [this](int count, const QString& last) {
            emit error(
                QStringLiteral("%1 fire-and-forget task(s) failed; last: %2").arg(count).arg(last));
        });
    m_monitor->startRun();
    m_monitor->attach(m_executor.get());
    updateTickRate();
    emit poolChanged(m_config);
    emit pausedChanged(false);
    return true;
}

bool RunController::adoptPool(std::unique_ptr<Executor> pool, const QString& description)
{
    if (!pool)
        return false;
    if (!m_runs.empty()) {
        emit error(QStringLiteral("%1 run(s) are still active: stop them (Shift+F5) or let them "
                                  "finish before watching another program")
                       .arg(m_runs.size()));
        return false;
    }
    destroyPool();
    m_executor = std::move(pool);
    m_adopted = true;
    m_adoptedText = description;
    m_config.kind = m_executor->kind();
    m_config.workers = m_executor->maxWorkers();
    m_config.gil = false;
    m_monitor->startRun();
    m_monitor->attach(m_executor.get());
    updateTickRate();
    emit poolChanged(m_config);
    emit pausedChanged(m_executor->isPaused());
    emit adoptedChanged(true);
    return true;
}

void RunController::releasePool()
{
    if (!m_adopted)
        return;
    m_monitor->drainAll();
    destroyPool();
    emit adoptedChanged(false);
    emit pausedChanged(false);
}

void RunController::destroyPool()
{
    if (!m_executor)
        return;
    const bool adopted = std::exchange(m_adopted, false);
    m_adoptedText.clear();
    if (adopted) {
        // Another program's pool: nothing of ours runs on it; drop the proxy.
        m_monitor->detach();
        m_executor.reset();
        return;
    }
    m_monitor->detach();
    // The pool is idle here (poolProblem() refuses otherwise), or we are being
    // destroyed after stop(): the destructor waits at most its grace period.
    m_executor.reset();
}

void RunController::setWorkers(int n)
{
    n = std::clamp(n, 1, Executor::maxWorkersLimit());
    m_config.workers = n;
    if (!m_executor || m_executor->isShutdown())
        return;
    if (m_executor->maxWorkers() == n)
        return;
    try {
        const int before = m_executor->maxWorkers();
        const Counters c = m_executor->counters();
        m_executor->setMaxWorkers(n);
        // Setting a pool up (a lesson's size applied to the pool made at
        // start-up) is no resize the user needs told about: only a pool that
        // has run something says it.
        if (c.submitted > 0)
            emit message(QStringLiteral("pool resized from %1 to %2 worker(s)").arg(before).arg(n));
    } catch (const std::exception& e) {
        emit error(QString::fromStdString(e.what()));
    }
}

void RunController::setSwitchIntervalMs(double ms)
{
    if (!(ms >= 0.01 && ms <= 1000)) {
        emit error(QStringLiteral("the GIL switch interval must be between 0.01 and 1000 ms"));
        return;
    }
    m_config.switchIntervalMs = ms;
    if (auto* tp = dynamic_cast<ThreadPoolExecutor*>(m_executor.get())) {
        if (SimulatedGil* gil = tp->gil())
            gil->setSwitchInterval(std::chrono::microseconds(std::llround(ms * 1000.0)));
    }
}

// ------------------------------------------------------------------- runs

QString RunController::check(const RunSpec& spec) const
{
    if (m_adopted)
        return QStringLiteral("watching %1: that program runs its own tasks; File > Detach "
                              "(Ctrl+Shift+D) to run workloads here")
            .arg(m_adoptedText);
    if (!validKind(spec.poolKind))
        return QStringLiteral("unknown pool kind '%1' (use thread or process)").arg(spec.poolKind);
    const QString why = Workloads::validate(spec.workload, spec.run, spec.poolKind);
    if (!why.isEmpty())
        return why;
    const Workload* w = Workloads::find(spec.workload);
    if (spec.poolKind == QLatin1String("mpi") && w->processOnly)
        return QStringLiteral("workload '%1' would kill an MPI rank, and Open MPI then ends the "
                              "whole job, this window included (run it from poolscope-cli: "
                              "docs/scale-out.md)")
            .arg(spec.workload);
    if (spec.poolKind == QLatin1String("mpi") && spec.timeoutMs > 0)
        return QStringLiteral("per-task timeouts are not available on the MPI pool: a rank cannot "
                              "be terminated on its own");
    if (spec.chunkSize < 1 || spec.chunkSize > 100'000)
        return QStringLiteral("the chunk size must be between 1 and 100000, got %1")
            .arg(spec.chunkSize);
    if (spec.timeoutMs < 0 || spec.timeoutMs > 86'400'000)
        return QStringLiteral("the per-task timeout must be between 0 (none) and 86400000 ms, "
                              "got %1")
            .arg(spec.timeoutMs);
    if (spec.qfutures) {
        const qint64 futures = w->drive ? qint64(spec.run.tasks)
                                        : (qint64(spec.run.tasks) + std::max(1, spec.chunkSize) - 1)
                                              / std::max(1, spec.chunkSize);
        if (futures > kMaxQFutureTasks)
            return QStringLiteral("a run whose futures are handed to the GUI thread one by one "
                                  "may have at most %1 tasks, got %2 (the views take results in "
                                  "batches; use fewer, larger tasks)")
                .arg(kMaxQFutureTasks)
                .arg(futures);
    }
    if (spec.chunkSize > 1 && w->drive)
        return QStringLiteral("workload '%1' submits its own two-stage tasks and cannot be "
                              "chunked (use chunk 1)")
            .arg(spec.workload);
    PoolConfig want{spec.poolKind, spec.workers, spec.gil, spec.switchIntervalMs};
    return poolProblem(want);
}

quint64 RunController::start(const RunSpec& spec)
{
    const QString why = check(spec);
    if (!why.isEmpty()) {
        emit error(why);
        return 0;
    }
    const PoolConfig want{spec.poolKind, spec.workers, spec.gil, spec.switchIntervalMs};
    if (needsNewPool(want)) {
        if (!makePool(want))
            return 0;
    } else {
        configurePool(want);
    }

    auto run = std::make_unique<Run>();
    run->id = m_nextRunId++;
    run->spec = spec;
    run->workload = Workloads::find(spec.workload);
    run->chunk = std::max(1, spec.chunkSize);
    run->collect = m_collectAll || resultsWanted(spec.workload);
    run->taskName = run->chunk > 1
                        ? QStringLiteral("%1 x%2").arg(run->workload->taskName).arg(run->chunk)
                        : run->workload->taskName;
    const bool wasBusy = !m_runs.empty();
    // A Start on an idle pool begins a new run record (the last one goes to
    // the monitor's ring of past runs); runs queued behind an active one
    // share its record.
    if (!wasBusy) {
        const quint64 droppedBefore = m_monitor->droppedRuns();
        m_monitor->startRun();
        const quint64 dropped = m_monitor->droppedRuns() - droppedBefore;
        if (dropped > 0) {
            // Memory stays bounded over a session of many runs: say so when
            // an old record goes, rather than let it vanish unnoticed.
            const MonitorOptions& o = m_monitor->options();
            emit message(tr("%n earlier run record(s) dropped: the monitor keeps the last %1 "
                            "runs, %2 tasks at most",
                            nullptr, int(dropped))
                             .arg(o.keptRuns)
                             .arg(QLocale().toString(o.keptRunRows)));
        }
    }
    run->record = m_monitor->record();
    run->clock.start();
    run->load.start(childPids());
    run->guiCpuS = LoadMeter::threadCpuSeconds(); // start() runs on the GUI thread
    run->startNs = monotonicNs();

    if (run->workload->drive) {
        // The pipeline submits its own stage-2 tasks from stage-1 callbacks.
        try {
            run->futures = Workloads::submit(*m_executor, spec.workload, spec.run);
            if (spec.qfutures) {
                for (const auto& f : std::as_const(run->futures))
                    run->qfutures.append(f.qfuture());
            }
        } catch (const std::exception& e) {
            emit error(QString::fromStdString(e.what()));
            return 0;
        }
        run->submitted = true;
    } else {
        run->plan = run->workload->plan(spec.run);
        run->futures.reserve((run->plan.size() + run->chunk - 1) / run->chunk);
    }
    const quint64 id = run->id;
    m_runs.push_back(std::move(run));
    emit runStarted(id, spec);
    if (!wasBusy) {
        // Until the first CPU sample says otherwise: a pool that can fill
        // every core will (the first 100-200 ms of a short run count too).
        const int cores = QThread::idealThreadCount();
        const int workers = m_config.workers > 0 ? m_config.workers : cores;
        m_machineBusy =
            workers >= cores && !(m_config.gil && m_config.kind == QLatin1String("thread"));
        emit busyChanged(true);
    }
    pump(); // first slice now, the rest from the event loop
    updateTickRate();
    return id;
}

void RunController::pump()
{
    QElapsedTimer budget;
    budget.start();
    bool more = false;
    for (auto& rp : m_runs) {
        Run& r = *rp;
        if (r.submitted)
            continue;
        const Workload& w = *r.workload;
        TaskOptions opts(r.taskName, r.spec.priority);
        if (r.spec.timeoutMs > 0)
            opts.timeout = std::chrono::milliseconds(r.spec.timeoutMs);
        try {
            while (r.nextItem < r.plan.size()) {
                const qsizetype b = r.nextItem;
                const qsizetype e = std::min(r.plan.size(), b + r.chunk);
                // Chunks go through the pool's own batch submission: one
                // task, one future, one queue entry per chunk on both kinds
                // (a process pool ships the chunk in one message).
                r.futures.append(
                    r.chunk == 1
                        ? m_executor->submitNamed(w.taskName, r.plan.at(b), opts)
                        : m_executor->submitNamedBatch(w.taskName, r.plan.mid(b, e - b), opts));
                if (r.spec.qfutures) // made now: harvest() drops the Future later
                    r.qfutures.append(r.futures.last().qfuture());
                r.nextItem = e;
                if ((r.futures.size() & 255) == 0 && budget.nsecsElapsed() > kSubmitBudgetNs)
                    break;
            }
        } catch (const std::exception& e) {
            emit error(QStringLiteral("run %1 (%2): %3")
                           .arg(r.id)
                           .arg(r.spec.workload, QString::fromStdString(e.what())));
            dropUnsubmitted(r);
        }
        if (r.nextItem >= r.plan.size()) {
            r.plan = {};
            r.submitted = true;
        } else {
            more = true;
            break; // out of budget
        }
    }
    // Hand out the QFutures of runs now fully submitted (after the loop: a
    // receiver may start another run).
    std::vector<std::pair<quint64, QList<QFuture<QCborValue>>>> ready;
    for (auto& r : m_runs) {
        r->seen.resize(std::size_t(r->futures.size()), 0);
        if (r->spec.qfutures && r->submitted && !r->qfuturesSent) {
            r->qfuturesSent = true;
            ready.emplace_back(r->id, std::exchange(r->qfutures, {}));
        }
    }
    if (more && !m_pump.isActive())
        m_pump.start();
    else if (!more)
        m_pump.stop();
    for (const auto& [id, futures] : ready)
        emit qfuturesReady(id, futures);
}

void RunController::dropUnsubmitted(Run& r)
{
    const qsizetype left = r.plan.size() - r.nextItem;
    if (left > 0)
        r.cancelled += int((left + r.chunk - 1) / r.chunk);
    r.plan = {};
    r.nextItem = 0;
    r.submitted = true;
}

void RunController::pause()
{
    if (!m_executor || m_executor->isPaused())
        return;
    try { // an adopted pool refuses what its program did not allow
        m_executor->pause();
    } catch (const std::exception& e) {
        emit error(QString::fromStdString(e.what()));
        return;
    }
    emit pausedChanged(true);
}

void RunController::resume()
{
    if (!m_executor || !m_executor->isPaused())
        return;
    try {
        m_executor->resume();
    } catch (const std::exception& e) {
        emit error(QString::fromStdString(e.what()));
        return;
    }
    emit pausedChanged(false);
}

void RunController::togglePause()
{
    if (isPaused())
        resume();
    else
        pause();
}

bool RunController::step()
{
    if (!m_executor || m_executor->isShutdown()) {
        emit error(QStringLiteral("there is no pool to step: start a run first"));
        return false;
    }
    if (!m_executor->isPaused()) {
        emit error(QStringLiteral("Step lets one task start while the pool is paused: pause it "
                                  "first (Space)"));
        return false;
    }
    try {
        m_executor->step();
    } catch (const std::exception& e) {
        emit error(QString::fromStdString(e.what()));
        return false;
    }
    updateTickRate();
    return true;
}

void RunController::cancelPending()
{
    if (m_adopted) {
        // Another program's futures: ask it (AttachedPool::cancelPending).
        if (auto* pool = qobject_cast<AttachedPool*>(m_executor.get())) {
            try {
                pool->cancelPending();
                emit message(
                    QStringLiteral("asked %1 to cancel its pending tasks").arg(m_adoptedText));
            } catch (const std::exception& e) {
                emit error(QString::fromStdString(e.what()));
            }
        }
        return;
    }
    int n = 0;
    for (auto& r : m_runs) {
        if (!r->submitted)
            dropUnsubmitted(*r);
        for (qsizetype i = r->cursor; i < r->futures.size(); ++i) {
            auto& f = r->futures[i];
            if (f.isValid() && f.state() == FutureState::Pending && f.cancel())
                ++n;
        }
    }
    m_pump.stop();
    emit message(QStringLiteral("cancelled %1 pending task(s)").arg(n));
}

void RunController::stop()
{
    const int n = stopRuns();
    // Stop ends the run: the queue is empty now, so a paused pool is
    // resumed, and the next Start runs at once instead of waiting silently.
    const bool wasPaused = m_executor && m_executor->isPaused();
    if (wasPaused)
        resume();
    emit message(wasPaused ? QStringLiteral("asked %1 running task(s) to stop; the pool is ready "
                                            "(no longer paused)")
                                 .arg(n)
                           : QStringLiteral("asked %1 running task(s) to stop").arg(n));
}

int RunController::stopRuns()
{
    cancelPending();
    int n = 0;
    for (auto& r : m_runs) {
        for (qsizetype i = r->cursor; i < r->futures.size(); ++i) {
            auto& f = r->futures[i];
            if (f.isValid() && !f.done() && f.requestStop())
                ++n;
        }
    }
    return n;
}

void RunController::shutdown()
{
    if (!m_executor)
        return;
    if (m_adopted) {
        emit error(QStringLiteral("the pool of %1 is that program's own: PoolScope does not shut "
                                  "it down (File > Detach stops watching it)")
                       .arg(m_adoptedText));
        return;
    }
    stopRuns();
    m_executor->shutdown(/*wait=*/false, /*cancelFutures=*/true);
    emit message(QStringLiteral("pool shut down; the next run starts a new one"));
}

// --------------------------------------------------------------- harvest

void RunController::harvest(Run& r, QList<TaskResult>& results)
{
    const qsizetype n = r.futures.size();
    const qsizetype end = std::min(n, r.cursor + kLookahead);
    for (qsizetype i = r.cursor; i < end; ++i) {
        if (r.seen[std::size_t(i)])
            continue;
        Future<QCborValue>& f = r.futures[i];
        if (!f.done())
            continue;
        r.seen[std::size_t(i)] = 1;
        if (f.cancelled()) {
            ++r.cancelled;
        } else if (f.node()->error) {
            ++r.failed;
        } else {
            ++r.succeeded;
            if (r.collect) {
                const QCborValue v = f.result();
                if (r.chunk > 1 && v.isArray()) {
                    for (const auto& item : v.toArray())
                        results.append({r.id, f.id(), r.spec.workload, r.taskName, item});
                } else {
                    results.append({r.id, f.id(), r.spec.workload, r.taskName, v});
                }
            }
        }
        f = Future<QCborValue>(); // frees the task and its result now
    }
    while (r.cursor < n && r.seen[std::size_t(r.cursor)])
        ++r.cursor;
}

void RunController::onSnapshot(const Snapshot& s)
{
    QList<TaskResult> results;
    for (auto& r : m_runs)
        harvest(*r, results);
    emit snapshotReady(s);
    if (!results.isEmpty())
        emit resultsReady(results);
    // Take finished runs out first, so slots of runFinished() see the
    // controller as it is now (isRunning() false after the last one).
    std::vector<std::unique_ptr<Run>> done;
    for (auto it = m_runs.begin(); it != m_runs.end();) {
        Run& r = **it;
        const bool allDone = r.submitted && r.cursor >= r.futures.size();
        if (allDone && r.allDoneSeen) {
            done.push_back(std::move(*it));
            it = m_runs.erase(it);
        } else {
            r.allDoneSeen = allDone;
            ++it;
        }
    }
    if (!done.empty())
        m_monitor->drainAll(); // every row of the runs that end is in their record
    for (auto& r : done)
        finishRun(*r);
    if (!done.empty() && m_runs.empty())
        emit busyChanged(false);
    if (s.cpuFresh && s.cpu.valid)
        m_machineBusy = s.cpu.total >= (m_machineBusy ? kBusyLeave : kBusyEnter);
    updateTickRate();
}

QList<qint64> RunController::childPids() const
{
    QList<qint64> pids;
    const qint64 self = QCoreApplication::applicationPid();
    for (const WorkerInfo& w : m_monitor->last().workers) {
        if (w.pid > 0 && w.pid != self && !pids.contains(w.pid))
            pids << w.pid;
    }
    return pids;
}

void RunController::finishRun(Run& r)
{
    RunSummary sum;
    sum.runId = r.id;
    sum.workload = r.spec.workload;
    sum.poolKind = m_executor ? m_executor->kind() : r.spec.poolKind;
    sum.workers = m_executor ? m_executor->maxWorkers() : r.spec.workers;
    sum.items = r.spec.run.tasks;
    sum.succeeded = r.succeeded;
    sum.failed = r.failed;
    sum.cancelled = r.cancelled;
    sum.tasks = sum.succeeded + sum.failed + sum.cancelled;
    sum.startNs = r.startNs;
    sum.endNs = monotonicNs();
    sum.wallSeconds = double(r.clock.nsecsElapsed()) / 1e9;
    // A run alone in its record: the exact wall time, first submit to last
    // end (the A/B panel and the analysis read the same figure), not the
    // tick that saw it end.
    const RunTotals& t = r.record->totals();
    if (m_runs.empty() && r.record == m_monitor->record() && t.wallNs() > 0) {
        sum.wallSeconds = double(t.wallNs()) / 1e9;
        sum.startNs = t.firstNs;
        sum.endNs = t.lastEndNs;
    }
    sum.tasksPerSecond = sum.wallSeconds > 0 ? sum.tasks / sum.wallSeconds : 0;
    sum.otherCores = r.load.otherCores(childPids());
    // over the same interval as the GUI thread's CPU: start() to now
    if (const double measured = double(r.clock.nsecsElapsed()) / 1e9; measured > 0)
        sum.windowCores =
            std::clamp((LoadMeter::threadCpuSeconds() - r.guiCpuS) / measured, 0.0, 1.0);
    sum.machineCores = QThread::idealThreadCount();
    emit runFinished(sum);
}

void RunController::updateTickRate()
{
    bool active = !m_runs.empty();
    if (!active && m_executor) {
        const Counters& c = m_monitor->last().counters;
        active = c.queued + c.running > 0;
    }
    const bool light = active && m_yieldWhenBusy && m_machineBusy;
    const int want = !active ? m_idleTickMs
                     : light ? std::max(m_activeTickMs, kBusyTickMs)
                             : m_activeTickMs;
    if (m_monitor->intervalMs() != want)
        m_monitor->setIntervalMs(want);
    // CPU at 10 Hz while something runs (a 3 s lesson run gets 30 points,
    // a 0.3 s one 3), every 500 ms when idle (10 ms /proc/stat ticks make a
    // 100 ms sample +-10 %; the chart's lines average that out).
    const int cpu = active ? kActiveCpuPeriodMs : CpuSampler::kDefaultPeriodMs;
    if (m_monitor->options().cpuPeriodMs != cpu)
        m_monitor->setCpuPeriodMs(cpu);
    if (light != m_drawLight) {
        m_drawLight = light;
        emit drawLightChanged(light);
    }
}

// ---------------------------------------------------------------- export

namespace {
/// "1,000 tasks", or "62,500 tasks (sample: 1 in 16 of 1,000,000 tasks)".
QString exportedWhat(const RunRecord& r)
{
    const QLocale l;
    const QString n = QStringLiteral("%1 task(s)").arg(l.toString(r.size()));
    return r.samplingNote().isEmpty() ? n : QStringLiteral("%1 (%2)").arg(n, r.samplingNote());
}
} // namespace

bool RunController::exportTrace(const QString& path)
{
    m_monitor->drainAll();
    if (m_monitor->record()->empty()) {
        emit error(QStringLiteral("nothing to export yet: no task of this run has finished"));
        return false;
    }
    QString why;
    TraceData data = m_monitor->traceData(
        QStringLiteral("PoolScope %1 pool, %2 worker(s)").arg(m_config.kind).arg(m_config.workers));
    if (!writeTrace(path, data, &why)) {
        emit error(QStringLiteral("could not write the trace to %1: %2").arg(path, why));
        return false;
    }
    emit message(QStringLiteral("trace of %1 written to %2").arg(exportedWhat(*data.record), path));
    return true;
}

bool RunController::exportCsv(const QString& path)
{
    m_monitor->drainAll();
    const RunRecord& rec = *m_monitor->record();
    if (rec.empty()) {
        emit error(QStringLiteral("nothing to export yet: no task of this run has finished"));
        return false;
    }
    QString why;
    if (!writeCsv(path, rec, m_monitor->originNs(), &why)) {
        emit error(QStringLiteral("could not write the CSV to %1: %2").arg(path, why));
        return false;
    }
    emit message(QStringLiteral("%1 written to %2").arg(exportedWhat(rec), path));
    return true;
}

} // namespace poolscope
