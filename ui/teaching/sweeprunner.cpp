#include "teaching/sweeprunner.h"

#include <poolscope/deadline.h>
#include <poolscope/processpool.h>
#include <poolscope/threadpool.h>

#include <QThread>

#include <algorithm>

namespace poolscope {

namespace {
constexpr qint64 kWarmUpSleepMs = 30;
constexpr qint64 kTeardownWaitNs = 3'000'000'000; // then delete anyway (it waits its grace)
} // namespace

QString seriesName(SweepSeries series)
{
    switch (series) {
    case SweepSeries::Threads:
        return QStringLiteral("threads");
    case SweepSeries::ThreadsGil:
        return QStringLiteral("threads+gil");
    case SweepSeries::Processes:
        return QStringLiteral("processes");
    }
    return {};
}

std::optional<SweepSeries> sweepSeriesFromString(const QString& name)
{
    const QString n = name.trimmed().toLower();
    if (n == QLatin1String("threads") || n == QLatin1String("thread"))
        return SweepSeries::Threads;
    if (n == QLatin1String("threads+gil") || n == QLatin1String("gil")
        || n == QLatin1String("thread+gil"))
        return SweepSeries::ThreadsGil;
    if (n == QLatin1String("processes") || n == QLatin1String("process"))
        return SweepSeries::Processes;
    return std::nullopt;
}

QList<int> SweepRequest::autoWorkers()
{
    const int cores = std::max(1, QThread::idealThreadCount());
    const int n = std::min(16, std::max(4, 2 * cores));
    QList<int> out;
    for (int i = 1; i <= n; ++i)
        out.append(i);
    return out;
}

QString SweepRequest::validate() const
{
    if (series.isEmpty())
        return QStringLiteral("a sweep needs at least one series (threads, threads+gil or "
                              "processes)");
    if (workers.isEmpty() || workers.first() != 1)
        return QStringLiteral("a sweep starts at 1 worker: speedups are relative to it");
    for (qsizetype i = 0; i < workers.size(); ++i) {
        if (workers[i] < 1 || workers[i] > Executor::maxWorkersLimit())
            return QStringLiteral("sweep worker counts must be between 1 and %1 (got %2)")
                .arg(Executor::maxWorkersLimit())
                .arg(workers[i]);
        if (i > 0 && workers[i] <= workers[i - 1])
            return QStringLiteral("sweep worker counts must be ascending");
    }
    if (chunkSize < 1)
        return QStringLiteral("the chunk size must be at least 1 (got %1)").arg(chunkSize);
    if (repeats < 1 || repeats > 9)
        return QStringLiteral("a sweep measures each point 1 to 9 times (got %1)").arg(repeats);
    const Workload* w = Workloads::find(workload);
    if (w && w->drive && chunkSize > 1)
        return QStringLiteral("the %1 workload cannot be chunked").arg(workload);
    if (!(switchIntervalMs >= 0.01 && switchIntervalMs <= 1000))
        return QStringLiteral("the GIL switch interval must be between 0.01 and 1000 ms");
    for (SweepSeries s : series) {
        const QString why = Workloads::validate(
            workload, run,
            s == SweepSeries::Processes ? QStringLiteral("process") : QStringLiteral("thread"));
        if (!why.isEmpty())
            return why;
    }
    return {};
}

SweepRunner::SweepRunner(QObject* parent)
    : QObject(parent)
{
    m_timer.setInterval(15);
    connect(&m_timer, &QTimer::timeout, this, &SweepRunner::poll);
}

SweepRunner::~SweepRunner()
{
    for (auto& f : m_futures) {
        f.cancel();
        f.requestStop();
    }
    m_executor.reset(); // waits at most its destroy grace
}

void SweepRunner::setPollIntervalMs(int ms)
{
    m_timer.setInterval(std::max(1, ms));
}

SweepSeries SweepRunner::currentSeries() const
{
    return m_request.series.at(m_index / m_request.workers.size());
}

int SweepRunner::currentWorkers() const
{
    return m_request.workers.at(m_index % m_request.workers.size());
}

bool SweepRunner::start(const SweepRequest& request)
{
    if (isRunning()) {
        emit error(QStringLiteral("a sweep is already running"));
        return false;
    }
    const QString why = request.validate();
    if (!why.isEmpty()) {
        emit error(why);
        return false;
    }
    m_request = request;
    m_points.clear();
    m_index = 0;
    m_samples.clear();
    m_failed = 0;
    m_otherCores = -1;
    m_cancelling = false;
    emit started(totalPoints());
    startPoint();
    return isRunning();
}

void SweepRunner::cancel()
{
    if (!isRunning() || m_cancelling)
        return;
    m_cancelling = true;
    for (auto& f : m_futures) {
        f.cancel();      // pending: cancelled
        f.requestStop(); // running: asked to stop (process workers are killed)
    }
    // poll() tears the pool down once every future is done.
}

void SweepRunner::startPoint()
{
    const SweepSeries series = currentSeries();
    const int n = currentWorkers();
    try {
        if (series == SweepSeries::Processes) {
            ProcessPoolOptions o;
            o.maxWorkers = n;
            o.workerProgram = m_request.workerProgram;
            o.shutdownGrace = std::chrono::milliseconds(2000);
            m_executor = std::make_unique<ProcessPoolExecutor>(o);
        } else {
            ThreadPoolOptions o;
            o.maxWorkers = n;
            o.threadNamePrefix = QStringLiteral("sweep");
            o.gil = series == SweepSeries::ThreadsGil;
            o.gilSwitchInterval =
                std::chrono::microseconds(std::llround(m_request.switchIntervalMs * 1000.0));
            o.destroyGrace = std::chrono::milliseconds(3000);
            m_executor = std::make_unique<ThreadPoolExecutor>(o);
        }
    } catch (const std::exception& e) {
        fail(QStringLiteral("cannot make a pool of %1 %2: %3")
                 .arg(n)
                 .arg(series == SweepSeries::Processes ? QStringLiteral("processes")
                                                       : QStringLiteral("threads"),
                      QString::fromStdString(e.what())));
        return;
    }
    m_futures.clear();
    m_weights.clear();
    m_doneCursor = 0;
    if (m_request.warmUp) {
        // Twice as many short sleeps as workers: every worker gets started.
        WorkloadRun warm;
        warm.tasks = 2 * n;
        warm.size = kWarmUpSleepMs;
        try {
            m_futures = Workloads::submit(*m_executor, QStringLiteral("sleep"), warm);
        } catch (const std::exception& e) {
            fail(QString::fromStdString(e.what()));
            return;
        }
        m_weights = QList<int>(m_futures.size(), 0);
        m_phase = Phase::WarmUp;
    } else {
        submitBatch();
        if (m_phase == Phase::Idle)
            return;
    }
    m_timer.start();
}

void SweepRunner::submitBatch()
{
    m_futures.clear();
    m_weights.clear();
    m_doneCursor = 0;
    auto lastDone = std::make_shared<std::atomic<qint64>>(0);
    m_lastDoneNs = lastDone;
    m_load.start(childPids());
    m_startNs = monotonicNs();
    try {
        const Workload* w = Workloads::find(m_request.workload);
        if (w->drive || m_request.chunkSize <= 1) {
            m_futures = Workloads::submit(*m_executor, m_request.workload, m_request.run);
            m_weights = QList<int>(m_futures.size(), 1);
        } else {
            const QList<QCborArray> plan = w->plan(m_request.run);
            TaskOptions opts(w->taskName);
            for (qsizetype i = 0; i < plan.size(); i += m_request.chunkSize) {
                const QList<QCborArray> chunk = plan.mid(i, m_request.chunkSize);
                m_futures.append(m_executor->submitNamedBatch(w->taskName, chunk, opts));
                m_weights.append(int(chunk.size()));
            }
        }
    } catch (const std::exception& e) {
        fail(QString::fromStdString(e.what()));
        return;
    }
    // The finish time is taken where each future completes (a worker or the
    // process pool's supervisor thread): one relaxed max per task, no signal.
    for (const auto& f : m_futures) {
        f.addDoneCallback([lastDone](const Future<QCborValue>&) {
            const qint64 now = monotonicNs();
            qint64 prev = lastDone->load(std::memory_order_relaxed);
            while (prev < now
                   && !lastDone->compare_exchange_weak(prev, now, std::memory_order_relaxed)) {
            }
        });
    }
    m_phase = Phase::Measure;
}

void SweepRunner::poll()
{
    if (m_phase == Phase::Teardown) {
        teardown();
        return;
    }
    while (m_doneCursor < m_futures.size() && m_futures[m_doneCursor].done())
        ++m_doneCursor;
    if (m_phase == Phase::Measure && !m_cancelling) {
        qint64 done = 0, total = 0;
        for (qsizetype i = 0; i < m_futures.size(); ++i) {
            total += m_weights[i];
            if (i < m_doneCursor || m_futures[i].done())
                done += m_weights[i];
        }
        emit progress(m_index, totalPoints(), done, total);
    }
    if (m_doneCursor < m_futures.size())
        return;
    if (m_cancelling) {
        m_phase = Phase::Teardown;
        m_executor->shutdown(false, true);
        m_teardownStartNs = monotonicNs();
        teardown();
        return;
    }
    if (m_phase == Phase::WarmUp) {
        submitBatch();
        return;
    }
    finishPoint();
}

void SweepRunner::finishPoint()
{
    const qint64 end = std::max(m_lastDoneNs->load(), m_startNs);
    m_samples.append(double(end - m_startNs) / 1e9);
    m_otherCores = std::max(m_otherCores, m_load.otherCores(childPids()));
    int failed = 0;
    for (qsizetype i = 0; i < m_futures.size(); ++i) {
        if (m_futures[i].state() == FutureState::Cancelled || m_futures[i].exception())
            failed += m_weights[i];
    }
    m_failed = std::max(m_failed, failed);
    if (m_samples.size() < m_request.repeats && !m_cancelling) {
        submitBatch(); // the same pool again, warm already
        return;
    }
    SweepPoint p;
    p.series = currentSeries();
    p.workers = currentWorkers();
    p.samplesS = m_samples;
    QList<double> sorted = m_samples;
    std::sort(sorted.begin(), sorted.end());
    p.wallS = sorted.at((sorted.size() - 1) / 2);
    p.minS = sorted.first();
    p.maxS = sorted.last();
    p.failed = m_failed;
    p.otherCores = m_otherCores;
    m_samples.clear();
    m_failed = 0;
    m_otherCores = -1;
    m_points.append(p);
    emit pointMeasured(p);
    m_phase = Phase::Teardown;
    m_executor->shutdown(false);
    m_teardownStartNs = monotonicNs();
    teardown();
}

void SweepRunner::teardown()
{
    // Delete the pool once its workers are gone, so its destructor does not
    // wait on the GUI thread.
    if (m_executor && m_executor->workerCount() > 0
        && monotonicNs() - m_teardownStartNs < kTeardownWaitNs)
        return;
    m_futures.clear();
    m_executor.reset();
    if (m_cancelling) {
        m_timer.stop();
        m_phase = Phase::Idle;
        emit finished(true);
        return;
    }
    ++m_index;
    if (m_index >= totalPoints()) {
        m_timer.stop();
        m_phase = Phase::Idle;
        emit finished(false);
        return;
    }
    startPoint();
}

QList<qint64> SweepRunner::childPids() const
{
    // A process pool's workers: their CPU is the sweep's, not another program's.
    QList<qint64> pids;
    if (auto* pp = dynamic_cast<ProcessPoolExecutor*>(m_executor.get()))
        pids = pp->workerPids();
    return pids;
}

void SweepRunner::fail(const QString& message)
{
    m_timer.stop();
    for (auto& f : m_futures) {
        f.cancel();
        f.requestStop();
    }
    m_futures.clear();
    m_executor.reset();
    m_phase = Phase::Idle;
    emit error(message);
    emit finished(true);
}

} // namespace poolscope
