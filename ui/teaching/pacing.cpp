#include "teaching/pacing.h"

#include "runcontroller.h"
#include "teaching/slowmotion.h"

#include <poolscope/deadline.h>
#include <poolscope/workloads.h>

#include <QCoreApplication>
#include <QThread>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace poolscope {

namespace {

/// Tasks a `tasks`-paced lesson's probe runs: enough that the per-task
/// overhead, which is the lesson, is measured with the work.
constexpr int kTasksProbe = 2000;
/// Tasks a `size`-paced lesson's probe runs (LessonPacer::probeIndexes()).
constexpr int kSizeProbe = 5;

int parallelism(const LessonScenario& sc, int cores)
{
    const Workload* w = Workloads::find(sc.workload);
    const int workers = sc.workers > 0 ? sc.workers
                        : sc.poolKind == QLatin1String("process")
                            ? std::max(1, cores)
                            : ThreadPoolExecutor::defaultMaxWorkers();
    if (w && w->kind == QLatin1String("io"))
        return workers; // sleeping tasks all wait at once
    if (sc.gil && sc.poolKind == QLatin1String("thread") && w && !w->releasesGil)
        return 1; // interpreted work under the GIL: one at a time
    return std::max(1, std::min(workers, std::max(1, cores)));
}

} // namespace

struct LessonPacer::Probe {
    Lesson lesson;
    int scenario = 0; // 0: A, 1: B
    QList<Future<QCborValue>> futures;
    qint64 startNs = 0;
    double slowest = 0;
};

QList<qsizetype> LessonPacer::probeIndexes(qsizetype size, int n, bool spread)
{
    QList<qsizetype> at;
    const qsizetype k = std::min<qsizetype>(n, size);
    if (k <= 0)
        return at;
    if (!spread || k == size) { // evenly spaced (every task when k == size)
        for (qsizetype i = 0; i < k; ++i)
            at << (k <= 1 ? 0 : i * (size - 1) / (k - 1));
        return at;
    }
    // Van der Corput order (0, 1/2, 1/4, 3/4, 1/8, ...): spread over the
    // plan without a period. First-middle-last hit two of lesson 1's four
    // throwing tasks (every 5th of 20 stops half-way): 0.48 s estimated for
    // a run of 0.84 s as written, and 10 s paced instead of 5.
    for (quint32 j = 0; at.size() < k; ++j) {
        double x = 0, unit = 0.5;
        for (quint32 b = j; b; b >>= 1, unit /= 2)
            if (b & 1)
                x += unit;
        const auto i = qsizetype(x * double(size));
        if (!at.contains(i))
            at << i;
    }
    return at;
}

LessonPacer::LessonPacer(QObject* parent)
    : QObject(parent)
{
    m_timer.setInterval(10);
    connect(&m_timer, &QTimer::timeout, this, &LessonPacer::poll);
}

LessonPacer::~LessonPacer()
{
    if (m_pool)
        m_pool->shutdown(true, true); // cancel what is queued, wait for the one running
}

double LessonPacer::estimateSeconds(const LessonScenario& sc, double probeSeconds, int probeTasks,
                                    int cores)
{
    if (probeTasks <= 0 || probeSeconds <= 0)
        return 0;
    const double perTask = probeSeconds / probeTasks;
    const int p = parallelism(sc, cores);
    const int tasks = std::max(1, sc.run.tasks);
    // Equal tasks in rounds of p: ceil for a few long tasks, tasks / p for many.
    return perTask * (tasks >= 100 * p ? double(tasks) / p : std::ceil(double(tasks) / p));
}

int LessonPacer::factorFor(double slowestSeconds)
{
    if (slowestSeconds <= 0)
        return 1;
    return std::clamp(int(std::floor(kTargetSeconds / slowestSeconds)), 1, kMaxFactor);
}

LessonPace LessonPacer::paceFor(const Lesson& lesson, double slowestSeconds)
{
    LessonPace p;
    p.estimatedSeconds = slowestSeconds;
    if (lesson.pace == Lesson::Pace::Off) {
        p.pacedSeconds = slowestSeconds;
        p.description = QObject::tr("Runs as written (this lesson is not paced).");
        return p;
    }
    const int want = factorFor(slowestSeconds);
    // The factor every scenario can take within its workload's limits.
    int factor = want;
    for (const LessonScenario* sc :
         {&lesson.scenario, lesson.compare ? &*lesson.compare : nullptr}) {
        if (!sc)
            continue;
        const Workload* w = Workloads::find(sc->workload);
        if (!w)
            continue;
        if (lesson.pace == Lesson::Pace::Tasks) {
            int most = sc->run.tasks > 0 ? w->maxTasks / sc->run.tasks : 1;
            if (sc->continuations)
                most = std::min(most, RunController::kMaxQFutureTasks / std::max(1, sc->run.tasks));
            factor = std::min(factor, std::max(1, most));
        } else {
            const SlowMotionResult r = SlowMotion::apply(sc->workload, sc->run, factor);
            if (r.capped)
                factor = std::max(1, int(std::floor(r.appliedFactor)));
        }
    }
    p.factor = factor;
    p.capped = factor < want;
    p.pacedSeconds = slowestSeconds * factor;
    if (factor <= 1) {
        p.description = QObject::tr("Runs as written: about %1 s a run on this machine.")
                            .arg(slowestSeconds, 0, 'f', 1);
        return p;
    }
    const QString what = lesson.pace == Lesson::Pace::Tasks
                             ? QObject::tr("%1x as many tasks").arg(factor)
                             : QObject::tr("each task %1x longer").arg(factor);
    p.description =
        QObject::tr("Paced to watch: %1, about %2 s a run on this machine (%3 s as "
                    "written)%4.")
            .arg(what)
            .arg(p.pacedSeconds, 0, 'f', 1)
            .arg(slowestSeconds, 0, 'f', 2)
            .arg(p.capped ? QObject::tr("; capped by the workload's limits") : QString());
    return p;
}

RunSpec LessonPacer::paced(const Lesson& lesson, const LessonScenario& scenario,
                           const LessonPace& pace)
{
    RunSpec spec = scenario.runSpec();
    if (pace.factor <= 1 || lesson.pace == Lesson::Pace::Off)
        return spec;
    if (lesson.pace == Lesson::Pace::Tasks)
        spec.run.tasks *= pace.factor;
    else
        spec.run = SlowMotion::apply(scenario.workload, scenario.run, pace.factor).run;
    return spec;
}

void LessonPacer::calibrate(const Lesson& lesson)
{
    if (m_paces.contains(lesson.id) || (m_probe && m_probe->lesson.id == lesson.id))
        return;
    for (const Lesson& l : std::as_const(m_waiting))
        if (l.id == lesson.id)
            return;
    if (lesson.pace == Lesson::Pace::Off) {
        m_paces.insert(lesson.id, paceFor(lesson, 0));
        emit calibrated(lesson.id);
        return;
    }
    m_waiting.append(lesson);
    if (!m_probe)
        startNext();
}

void LessonPacer::startNext()
{
    while (!m_probe && !m_waiting.isEmpty()) {
        auto probe = std::make_unique<Probe>();
        probe->lesson = m_waiting.takeFirst();
        m_probe = std::move(probe);
    }
    if (!m_probe)
        return;
    const Lesson& l = m_probe->lesson;
    const LessonScenario& sc = m_probe->scenario == 0 ? l.scenario : *l.compare;
    const Workload* w = Workloads::find(sc.workload);
    if (!m_pool)
        m_pool = std::make_unique<ThreadPoolExecutor>(1);
    m_probe->futures.clear();
    try {
        if (!w || !w->plan || w->processOnly)
            throw std::runtime_error("no plan");
        const QList<QCborArray> plan = w->plan(sc.run);
        // Tasks differ (a Mandelbrot band through the set costs many times
        // one above it; long_tail's are skewed): three spread over the plan.
        const bool tasks = l.pace == Lesson::Pace::Tasks;
        m_probe->startNs = monotonicNs();
        for (const qsizetype at :
             probeIndexes(plan.size(), tasks ? kTasksProbe : kSizeProbe, !tasks))
            m_probe->futures.append(m_pool->submitNamed(w->taskName, plan.at(at)));
    } catch (const std::exception&) {
        // Nothing to measure (a process-only or driven workload): as written.
        m_paces.insert(l.id, paceFor(l, 0));
        const QString id = l.id;
        m_probe.reset();
        emit calibrated(id);
        startNext();
        return;
    }
    m_timer.start();
}

void LessonPacer::poll()
{
    if (!m_probe) {
        m_timer.stop();
        return;
    }
    qint64 lastEnd = 0;
    for (const auto& f : std::as_const(m_probe->futures)) {
        if (!f.done())
            return;
    }
    lastEnd = monotonicNs();
    const Lesson& l = m_probe->lesson;
    const LessonScenario& sc = m_probe->scenario == 0 ? l.scenario : *l.compare;
    const double secs = double(lastEnd - m_probe->startNs) / 1e9;
    m_probe->slowest =
        std::max(m_probe->slowest, estimateSeconds(sc, secs, int(m_probe->futures.size()),
                                                   QThread::idealThreadCount()));
    if (m_probe->scenario == 0 && l.compare) {
        m_probe->scenario = 1;
        m_timer.stop();
        startNext();
        return;
    }
    m_timer.stop();
    m_paces.insert(l.id, paceFor(l, m_probe->slowest));
    const QString id = l.id;
    m_probe.reset();
    emit calibrated(id);
    startNext();
}

std::optional<LessonPace> LessonPacer::pace(const QString& lessonId) const
{
    const auto it = m_paces.constFind(lessonId);
    if (it == m_paces.cend())
        return std::nullopt;
    return *it;
}

std::optional<LessonPace> LessonPacer::waitForPace(const Lesson& lesson, int timeoutMs)
{
    calibrate(lesson);
    const Deadline d = Deadline::after(std::chrono::milliseconds(timeoutMs));
    while (!m_paces.contains(lesson.id) && !d.expired()) {
        if (m_probe) {
            for (const auto& f : std::as_const(m_probe->futures))
                f.waitForDone(d);
        }
        poll();
        if (!m_paces.contains(lesson.id))
            QCoreApplication::processEvents(QEventLoop::ExcludeUserInputEvents, 5);
    }
    return pace(lesson.id);
}

} // namespace poolscope
