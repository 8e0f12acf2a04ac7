#pragma once
// Lesson pacing: lesson runs long enough to watch (docs/lessons.md, "Runs a
// class can watch"). A lesson's runs were written to take 0.1-1 s, shorter
// than a CPU sample or a throughput window, and too short to point at. On
// opening a lesson, LessonPacer measures five tasks spread over the plan
// (probeIndexes()) of each of its scenarios on this machine (a private 1-thread pool, off the GUI
// thread), estimates the run's wall time and picks one factor for the lesson so that its slower run
// (A or B) takes about kTargetSeconds. Both runs get the same factor: the comparison is of the same
// work.
//
// How a lesson is paced is its `pace:` header key:
//   size   (default) each task's work x factor (SlowMotion's rules: size or
//          delay, cube root for matmul, ...): the batch keeps its shape;
//   tasks  the task count x factor (lesson 7: per-task overhead is the
//          point, so tasks must stay tiny);
//   off    as written (lesson 8: its timeouts are part of the lesson).
// The factor is capped by the workload's limits, and the lesson panel says
// what was changed ("each task 12x longer: about 5 s a run on this
// machine"). Teach > Watchable lesson runs turns it off.

#include "teaching/lesson.h"

#include <poolscope/future.h>
#include <poolscope/threadpool.h>

#include <QHash>
#include <QObject>
#include <QTimer>

#include <memory>
#include <optional>

namespace poolscope {

struct LessonPace {
    int factor = 1;
    double estimatedSeconds = 0; // the slower run, before pacing
    double pacedSeconds = 0;     // ... and after (estimate)
    bool capped = false;         // a workload limit kept the factor lower
    QString description;         // one sentence for the lesson panel
};

class LessonPacer : public QObject {
    Q_OBJECT
public:
    static constexpr double kTargetSeconds = 5.0; // in 3..10 s with the estimate's error
    static constexpr int kMaxFactor = 50;

    explicit LessonPacer(QObject* parent = nullptr);
    ~LessonPacer() override;

    /// Starts measuring the lesson's scenarios (no-op when known or running).
    void calibrate(const Lesson& lesson);
    /// The lesson's pace once calibrated; nullopt before.
    std::optional<LessonPace> pace(const QString& lessonId) const;
    /// Waits (blocking, at most timeoutMs) for the lesson's calibration.
    std::optional<LessonPace> waitForPace(const Lesson& lesson, int timeoutMs = 5000);
    /// The scenario's run as paced (pace.factor applied by the lesson's mode).
    static RunSpec paced(const Lesson& lesson, const LessonScenario& scenario,
                         const LessonPace& pace);

    // ---- the model, public for tests
    /// The tasks (indexes into a plan of `size`) a probe of at most `n` runs:
    /// evenly spaced for a tasks-paced lesson (many tiny tasks); spread in
    /// van der Corput order (0, 1/2, 1/4, 3/4, 1/8 ... of the plan) for a
    /// size-paced one, so that no period in the plan (lesson 1: every 5th
    /// task throws half-way) is hit more often than it occurs.
    static QList<qsizetype> probeIndexes(qsizetype size, int n, bool spread);
    /// Wall-time estimate of a scenario whose probe of `probeTasks` tasks
    /// took `probeSeconds` on one thread: equal tasks spread on the
    /// scenario's effective parallelism (1 with the GIL on interpreted work,
    /// the workers for I/O, else min(workers, cores)).
    static double estimateSeconds(const LessonScenario& scenario, double probeSeconds,
                                  int probeTasks, int cores);
    /// The whole factor that brings `slowestSeconds` to about kTargetSeconds,
    /// 1..kMaxFactor (never shorter than written).
    static int factorFor(double slowestSeconds);
    /// The pace of a lesson from its scenarios' estimates.
    static LessonPace paceFor(const Lesson& lesson, double slowestSeconds);

signals:
    void calibrated(const QString& lessonId);

private:
    struct Probe;
    void poll();
    void startNext();

    std::unique_ptr<ThreadPoolExecutor> m_pool;
    QHash<QString, LessonPace> m_paces;
    std::unique_ptr<Probe> m_probe;
    QList<Lesson> m_waiting; // lessons to calibrate after the current one
    QTimer m_timer;
};

} // namespace poolscope
