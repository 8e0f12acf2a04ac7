#pragma once
// Lessons: predict-then-observe scenarios for class (docs/gui.md).
//
// Each lesson is a Markdown file under resources/lessons/ (compiled in as
// the Qt resource ":/lessons/NN-name.md", see docs/lessons.md). It starts
// with a header block of `key: value` lines up to a line `---`:
//
//   id, number, title               who the lesson is
//   workload, tasks, size           the run (tasks/size default to the workload's)
//   knob.NAME: VALUE                workload knobs
//   pool: thread|process, workers, gil: on|off, switch_interval_ms, chunk,
//   timeout_ms                      per-task timeout (0 = none)
//   continuations: on|off           the panel also gets the run's futures
//                                   (RunSpec::qfutures) and shows .then() /
//                                   whenAll deliveries and a GUI heartbeat
//                                   (ContinuationsView, lesson 9)
//   compare.KEY: VALUE              run B: the same scenario with KEY changed
//                                   (any key above; VALUE "-" removes a knob);
//                                   compare.label names it
//   sweep.series: threads, threads+gil, processes
//   sweep.workers: 1..N | 1,2,4 | auto
//   program: PATH                   instead of a workload: a Python script run as
//                                   `python3 -m poolscope_probe PATH ARGS`, watched
//                                   by attaching to it (lesson 11, ProgramRun); a
//                                   relative PATH is under examples/python
//                                   (ProgramPaths). Only label and program.args go
//                                   with it: the pools are the script's own.
//   program.args: ARGS              its command line (shell-like quoting)
//
// followed by the sections "## Predict" (the question to ask BEFORE Start),
// "## Observe" (a "- " list of what to look for) and "## Explain".
//
// LessonPanel shows one lesson: its title and scenario, the prediction
// question (emphasised), and, after Run or on request, what to look for and
// the explanation. It only emits requests; the main window runs them.

#include "runcontroller.h"
#include "teaching/continuations.h"
#include "teaching/sweeprunner.h"

#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <optional>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTextBrowser;

namespace poolscope {

/// One run of a lesson.
struct LessonScenario {
    QString label; // short name, e.g. "2 threads" (run B)
    QString workload;
    WorkloadRun run;
    QString poolKind = QStringLiteral("thread");
    int workers = 0; // 0 = the pool kind's default
    bool gil = false;
    double switchIntervalMs = 5.0;
    int chunkSize = 1;
    int timeoutMs = 0;          // per-task timeout, 0 = none
    bool continuations = false; // RunSpec::qfutures; the panel watches them
    /// A program lesson's script ("examples/python/x.py"; workload empty)
    /// and its arguments.
    QString program;
    QStringList programArgs;

    bool isProgram() const { return !program.isEmpty(); }

    /// Empty when the scenario can run (Workloads::validate and pool rules).
    QString validate() const;
    /// One line: "primes: 8 tasks x 300000 numbers per task, 4 threads, GIL on (5 ms)";
    /// a program: "python3 -m poolscope_probe examples/python/x.py --tasks 8".
    QString describe() const;
    /// What the main window's RunController::start() takes (timeout included).
    RunSpec runSpec() const;
};

struct LessonSweep {
    QList<SweepSeries> series;
    QList<int> workers; // empty: SweepRequest::autoWorkers()
};

struct Lesson {
    /// How the lesson's runs are lengthened to be watched (pacing.h).
    enum class Pace { Size, Tasks, Off };

    QString id;
    int number = 0;
    QString title;
    Pace pace = Pace::Size;
    LessonScenario scenario;
    std::optional<LessonScenario> compare; // run B
    std::optional<LessonSweep> sweep;
    QString predict;     // Markdown
    QStringList observe; // Markdown, one item each
    QString explanation; // Markdown
    QString source;      // file it came from

    bool isValid() const { return !id.isEmpty(); }
    /// Empty when every scenario (and the sweep) can run.
    QString validate() const;
    /// The sweep of this lesson on its scenario's batch; nullopt without a sweep.
    std::optional<SweepRequest> sweepRequest() const;
    /// "3. The GIL: CPU-bound threads take turns".
    QString displayName() const;
};

class LessonLibrary {
public:
    /// Every lesson compiled into the program, ordered by number. Parsed once.
    static QList<Lesson> all();
    /// By id ("gil"), number ("3") or file name ("03-gil", "03-gil.md").
    static std::optional<Lesson> find(const QString& idOrNumber);
    /// Parses one lesson file's text; nullopt and *error (with the line) when malformed.
    static std::optional<Lesson> parse(const QString& text, QString* error = nullptr,
                                       const QString& source = {});
    static std::optional<Lesson> fromFile(const QString& path, QString* error = nullptr);
    /// The resource folder the lessons live in (":/lessons").
    static QString resourceDir();
};

class LessonPanel : public QWidget {
    Q_OBJECT
public:
    explicit LessonPanel(QWidget* parent = nullptr);

    /// Fills the lesson chooser (LessonLibrary::all() by default).
    void setLessons(const QList<Lesson>& lessons);
    QList<Lesson> lessons() const { return m_lessons; }
    /// Selects by id, number or file name; false when unknown.
    bool selectLesson(const QString& idOrNumber);
    const Lesson& currentLesson() const;
    bool hasLesson() const { return m_current >= 0; }

    /// Predict, observe, explain: before Run only the question shows; Run
    /// (or Run B, Sweep, "What to look for") adds what to look for; the
    /// explanation shows only when the teacher asks for it (Explain, F4 in
    /// the main window), never on Run or at launch.
    enum class Stage { Predict, Observe, Explain };
    Stage stage() const { return m_stage; }
    /// "What to look for" is on screen (Observe or Explain).
    bool isRevealed() const { return m_stage != Stage::Predict; }
    bool isExplained() const { return m_stage == Stage::Explain; }
    /// What the class predicted (typed into the panel; "" when nothing).
    QString prediction() const;

    // Child widgets by object name (tests, the main window's layout):
    // lessonCombo, lessonTitle, lessonScenario, lessonPredict, lessonObserve,
    // lessonExplain, lessonPrediction (the class's answer), lessonMeasured,
    // runButton, compareButton, sweepButton, resetButton, revealButton,
    // explainButton, continuationsView (shown for lessons with continuations: on),
    // and for program lessons lessonProgramCombo (the example to run) and
    // lessonProgramStatus (what the script does, or why it cannot run).
    ContinuationsView* continuationsView() const { return m_continuations; }

public slots:
    /// Observe (true) or back to the question only (false).
    void setRevealed(bool revealed);
    /// The explanation (true; what to look for shows too) or not.
    void setExplained(bool explained);
    /// The measured result of the last run, shown beside the prediction
    /// ("" hides it).
    void setMeasured(const QString& text);
    /// How the lesson's runs are paced (LessonPacer), shown under the
    /// scenario; empty hides it.
    void setPacing(const QString& text);
    QString pacingText() const;
    /// Enables/disables Run, Run B and Sweep (e.g. while a sweep runs).
    void setRunEnabled(bool enabled);
    /// RunController::qfuturesReady: the current lesson's continuations view
    /// watches them (ignored when the lesson has no continuations).
    void watchFutures(quint64 runId, const QList<QFuture<QCborValue>>& futures);
    /// A program lesson's script runs: Run becomes Stop (stopRequested).
    void setProgramRunning(bool running);
    /// What the script does now, how it ended, or why it cannot run ("" hides it).
    void setProgramStatus(const QString& text, bool isError = false);

public:
    bool isProgramRunning() const { return m_programRunning; }
    QString programStatus() const;
    /// The example a program lesson runs now (the combo's choice): the
    /// lesson's own program unless another example was chosen.
    QString chosenProgram() const;

signals:
    void lessonChanged(const poolscope::Lesson& lesson);
    /// Run the lesson's scenario (lesson.scenario.runSpec()).
    void runRequested(const poolscope::Lesson& lesson);
    /// Run B (lesson.compare->runSpec()); only for lessons with a compare block.
    void compareRequested(const poolscope::Lesson& lesson);
    /// Stop the program a program lesson runs (its Run button, as Stop).
    void stopRequested();
    /// Run the lesson's sweep (lesson.sweepRequest()).
    void sweepRequested(const poolscope::Lesson& lesson);
    /// Put the controls back to the lesson's scenario and clear the views.
    void resetRequested(const poolscope::Lesson& lesson);
    /// Predict, observe or explain changed (stage()).
    void stageChanged();

private:
    void showLesson(int index);
    void setStage(Stage stage);
    void updateMeasured();

    QList<Lesson> m_lessons;
    int m_current = -1;
    Stage m_stage = Stage::Predict;
    QString m_measuredText;
    QComboBox* m_combo = nullptr;
    QLabel* m_title = nullptr;
    QLabel* m_scenario = nullptr;
    QLabel* m_pacing = nullptr;
    QLabel* m_predict = nullptr;
    QLabel* m_observe = nullptr;
    QTextBrowser* m_explain = nullptr;
    QPushButton* m_run = nullptr;
    QPushButton* m_compare = nullptr;
    QPushButton* m_sweep = nullptr;
    QPushButton* m_reset = nullptr;
    QPushButton* m_reveal = nullptr;
    QPushButton* m_explainButton = nullptr;
    QLineEdit* m_prediction = nullptr;
    QLabel* m_measured = nullptr;
    ContinuationsView* m_continuations = nullptr;
    QComboBox* m_programCombo = nullptr;
    QLabel* m_programStatus = nullptr;
    bool m_programRunning = false;
};

} // namespace poolscope

Q_DECLARE_METATYPE(poolscope::Lesson)
