#pragma once
// MainWindow: the control bar, the dock panels and the menus. It only wires
// things: the RunController's one snapshot per tick goes to every model and
// view (each takes the whole batch), the controls edit a RunSpec, the
// actions drive the controller (docs/architecture.md).

#include "charts/chartadapter.h"
#include "runcontroller.h"

#include <poolscope/patterns.h>
#include <poolscope/traceexport.h>

#include <QHash>
#include <QMainWindow>
#include <QPointer>

#include <optional>
#include <utility>
#include <vector>

class QAction;
class QComboBox;
class QDockWidget;
class QLabel;
class QLineEdit;
class QTableView;
class QToolBar;

namespace poolscope {

class ABCompare;
class AttachController;
class AnalysisPanel;
class ControlBar;
class DecompositionBar;
class ReplayController;
class SlowMotionBar;
class FuturesFilterModel;
class LessonPanel;
class LessonPacer;
class ProgramRun;
struct Lesson;
class SweepChart;
class SweepRunner;
class FuturesModel;
class MandelbrotView;
class HostCpuCharts;
class PerCoreChart;
class QueueModel;
class ThroughputChart;
class TimelineWidget;
class WorkersModel;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    struct Options {
        /// Read and write QSettings (organisation "PoolScope"). Off for
        /// tests, screenshots and measurements.
        bool useSettings = true;
    };

    explicit MainWindow(QWidget* parent = nullptr);
    MainWindow(const Options& options, QWidget* parent = nullptr);
    ~MainWindow() override;

    RunController* controller() const { return m_controller; }
    /// Tasks of a run recorded in full before the record samples (View >
    /// Record limit, --record-limit, saved in the settings); 0: counts only.
    void setRecordLimit(quint64 tasks);
    quint64 recordLimit() const;
    ControlBar* controlBar() const { return m_controls; }

    /// Docks by object name: queueDock, workersDock, cpuDock, timelineDock,
    /// futuresDock, throughputDock, mandelbrotDock (the panels), and the
    /// teaching docks lessonDock, analysisDock, sweepDock, abDock, replayDock
    /// (closed until used).
    QList<QDockWidget*> docks() const { return m_docks; }
    QDockWidget* dock(const QString& objectName) const;
    /// Open and not behind another dock's tab (Qt keeps a background tab
    /// "visible", moved out of sight, so isVisible() cannot tell).
    bool isDockOnTop(QDockWidget* dock) const;
    /// Actions by object name: start, pause, cancel, stop, shutdown,
    /// exportTrace, exportCsv, savePng, quit, resetLayout, presenter, and for
    /// teaching: step, slowMotionCycle, slowMotion1/2/5/10/50 (the factors),
    /// abPanel, keepAsA, keepAsB, runAB, replayPanel, openReplay,
    /// replayLastRun.
    QAction* action(const QString& objectName) const;

    QueueModel* queueModel() const { return m_queueModel; }
    WorkersModel* workersModel() const { return m_workersModel; }
    FuturesModel* futuresModel() const { return m_futuresModel; }
    QTableView* futuresView() const { return m_futuresView; }
    QComboBox* futuresStatusCombo() const { return m_statusFilter; }
    QLineEdit* futuresSearch() const { return m_search; }
    /// What the futures table holds: "1,000 tasks", "sample: 1 in 128 of
    /// 1,000,000 tasks", "12 shown (filter) of ...".
    QLabel* futuresCountLabel() const { return m_tableLabel; }
    TimelineWidget* timeline() const { return m_timeline; }
    MandelbrotView* mandelbrot() const { return m_mandelbrot; }
    PerCoreChart* perCoreChart() const { return m_perCore; }
    /// One per-core chart per host of an MPI pool (shown instead of
    /// perCoreChart() while the pool reports hosts).
    HostCpuCharts* hostCpuCharts() const { return m_hostCpu; }
    QTableView* workersView() const { return m_workersView; }
    LessonPacer* lessonPacer() const { return m_pacer; }
    LessonPanel* lessonPanel() const { return m_lesson; }
    AnalysisPanel* analysisPanel() const { return m_analysis; }
    SweepChart* sweepChart() const { return m_sweepChart; }
    SweepRunner* sweepRunner() const { return m_sweep; }
    ThroughputChart* throughputChart() const { return m_throughput; }
    ABCompare* abCompare() const { return m_ab; }
    ReplayController* replay() const { return m_replay; }
    TimelineWidget* replayTimeline() const { return m_replayTimeline; }
    FuturesModel* replayFuturesModel() const { return m_replayFutures; }
    /// Where the time of the replayed tasks went, up to the position.
    DecompositionBar* replayDecomposition() const { return m_replayDecomposition; }
    /// The Replay dock's error line (hidden while there is none).
    QLabel* replayErrorLabel() const { return m_replayError; }
    SlowMotionBar* slowMotionBar() const { return m_slowMotion; }
    QToolBar* slowMotionToolBar() const { return m_slowToolBar; }
    /// What the analysis of the last finished run was given (pool size,
    /// cores, GIL, how busy the whole machine was: systemCpuBusy).
    RunContext lastRunContext() const { return m_lastContext; }
    QString statusText() const;

    /// Loads spec into the controls and starts it (command line, lessons).
    quint64 startSpec(const RunSpec& spec);
    bool exportTraceTo(const QString& path);
    bool exportCsvTo(const QString& path);
    bool saveWidgetPng(QWidget* widget, const QString& path);
    void resetLayout();
    /// Puts every panel on screen at once (no tabs): measurements, screenshots.
    void showAllPanels();
    /// Per-tick cost of feeding the views (for --measure): with profiling on,
    /// the GUI thread's CPU time of each part of onSnapshot() is recorded per
    /// tick (CPU, not wall time: on a busy machine wall time includes being
    /// preempted), and the wall time of the whole.
    struct TickCost {
        qint64 wallNs = 0, totalNs = 0, queueNs = 0, workersNs = 0, futuresNs = 0, timelineNs = 0,
               chartsNs = 0, statusNs = 0;
    };
    void setProfiling(bool on);
    const std::vector<TickCost>& tickCosts() const { return m_tickCosts; }
    /// Snapshot::timeNs of the last snapshot every view has taken (the one
    /// viewsUpdated() was last emitted for); 0 before the first.
    qint64 viewsSnapshotNs() const { return m_viewsSnapshotNs; }
    /// Opens the Lesson dock on a lesson (id, number or file name) and puts
    /// its scenario into the controls; false when there is no such lesson.
    bool openLesson(const QString& idOrNumber);
    /// Start as the user would: the open lesson's Run, else the controls.
    void startFromControlsOrLesson();
    /// Makes the pool the controls describe (at launch; when idle).
    void preparePool();

    // ---- record, replay, compare
    /// Loads a recorded trace (RunController::exportTrace, poolscope-cli
    /// --trace) into the Replay dock and opens it. A bad file keeps what was
    /// loaded and shows why in the dock (replayErrorLabel) and the status bar.
    bool openReplay(const QString& path);
    // ---- watching another program (docs/attach.md)
    /// File > Attach to a program... (Ctrl+Shift+O) and --attach: by pid or
    /// program or pool name. False with *error when nothing matched or the
    /// program refused; the panels then keep what they showed.
    bool attachTo(const QString& target, QString* error = nullptr);
    AttachController* attachController() const { return m_attach; }
    /// The line above the panels saying which program is watched, whether
    /// it may be controlled, and how it ended (hidden when not attached).
    QLabel* attachBanner() const { return m_attachLabel; }
    /// Replays the last finished run from memory (no file needed).
    bool replayLastRun();
    /// Puts the last finished run into slot 0 (A) or 1 (B) of the A/B dock.
    bool keepLastRun(int slot);
    /// Runs the open lesson's scenario into A, then (when A is done) its
    /// run B into B, one after the other. False without a lesson that has
    /// a run B.
    bool runLessonAB();
    /// The trace of the last finished run (its spans only); empty before.
    const TraceData& lastRunTrace() const { return m_lastRun; }
    /// Opens the Sweep dock and runs the open lesson's sweep; false when the
    /// lesson has none.
    bool runLessonSweep();
    /// A program lesson's script (lesson 11): started by its Run, watched
    /// by attaching to it, killed by Stop (teaching/programlesson.cpp).
    ProgramRun* programRun() const { return m_programRun; }

signals:
    /// The window was painted for the first time (startup measurement).
    void firstPainted();
    /// Every view has taken a snapshot (the last stage of onSnapshot()).
    void viewsUpdated();

protected:
    void closeEvent(QCloseEvent* event) override;
    void showEvent(QShowEvent* event) override;
    /// 1600x1000, or the screen's available size when that is smaller.
    QSize defaultSize() const;
    /// Presenter mode: fonts and contrast (applyPresenterMode) and a
    /// projector layout of few, large panels; off restores the layout.
    void setPresenterLayout(bool on);
    bool event(QEvent* event) override;

private slots:
    void startFromControls();
    void onSnapshot(const poolscope::Snapshot& s);
    void onResults(const QList<poolscope::TaskResult>& results);
    void onRunFinished(const poolscope::RunSummary& summary);
    void onError(const QString& message);

private:
    void buildActions();
    void showSampling(const poolscope::Snapshot& s);
    // onSnapshot()'s stages (each its own event).
    void applyFutures(const poolscope::Snapshot& s);
    void applyCharts(const poolscope::Snapshot& s);
    void updateStatus(const poolscope::Snapshot& s);
    qint64 threadCpuNs() const; // 0 unless profiling
    void updateFuturesLabel();
    void buildMenus();
    void buildDocks();
    void buildStatusBar();
    void buildTeaching();
    void runNextABStep();
    /// The lesson's run A (or B) as it runs: paced to be watched when
    /// Teach > Watchable lesson runs is on (LessonPacer).
    RunSpec lessonSpec(const Lesson& lesson, bool compare);
    bool pacingOn() const;
    /// 3 with Teach > Repeat measurements on (the default), else 1.
    int measurementRepeats() const;
    void runLessonSpec(const RunSpec& spec, int timeoutMs, int abSlot = -1,
                       const QString& abLabel = {});
    void buildReplayDock();
    /// ui/attach/attachwindow.cpp: the attach actions, banner and analysis.
    void buildAttach();
    /// teaching/programlesson.cpp: program lessons' runs (ProgramRun).
    void buildProgramRun();
    void runLessonProgram(const Lesson& lesson);
    void resetLessonProgram();
    /// The watched pool's tasks so far as "the last run": analysis, replay,
    /// A/B (when it falls idle, and when its program ends).
    void takeAttachedRun();
    void buildAbDock();
    void buildSlowMotion();
    void showDock(const QString& objectName);
    void toggleDock(const QString& objectName);
    void showReplayError(const QString& message);
    void startSweep(const Lesson& lesson);
    void applyDefaultLayout();
    void updateActions();
    void updateHint();
    void showDetails(const QModelIndex& index);
    void selectTask(quint64 taskId);
    void saveSettings();
    void restoreSettings();
    QDockWidget* addPanel(const QString& objectName, const QString& title, QWidget* content);
    QAction* makeAction(const QString& objectName, const QString& text,
                        const QKeySequence& shortcut = {});

    Options m_opts;
    RunController* m_controller = nullptr;
    ControlBar* m_controls = nullptr;
    QToolBar* m_controlToolBar = nullptr;
    QList<QDockWidget*> m_docks;
    QList<QAction*> m_actions;

    QueueModel* m_queueModel = nullptr;
    QLabel* m_queueFooter = nullptr;
    ThroughputChart* m_queueChart = nullptr;
    WorkersModel* m_workersModel = nullptr;
    FuturesModel* m_futuresModel = nullptr;
    QTableView* m_futuresView = nullptr;
    QComboBox* m_statusFilter = nullptr;
    QLineEdit* m_search = nullptr;
    QLabel* m_tableLabel = nullptr;
    TimelineWidget* m_timeline = nullptr;
    MandelbrotView* m_mandelbrot = nullptr;
    PerCoreChart* m_perCore = nullptr;
    HostCpuCharts* m_hostCpu = nullptr;
    QTableView* m_workersView = nullptr;
    ThroughputChart* m_throughput = nullptr;
    QList<QDockWidget*> m_panels; // the seven live panels (not the teaching docks)
    LessonPanel* m_lesson = nullptr;
    AnalysisPanel* m_analysis = nullptr;
    SweepRunner* m_sweep = nullptr;
    SweepChart* m_sweepChart = nullptr;
    QLabel* m_sweepStatus = nullptr;
    ABCompare* m_ab = nullptr;
    ReplayController* m_replay = nullptr;
    TimelineWidget* m_replayTimeline = nullptr;
    FuturesModel* m_replayFutures = nullptr;
    QLabel* m_replayError = nullptr;
    QLabel* m_replaySummary = nullptr;
    DecompositionBar* m_replayDecomposition = nullptr;
    SlowMotionBar* m_slowMotion = nullptr;
    QToolBar* m_slowToolBar = nullptr;

    struct RunInfo {
        RunSpec spec;
        double cpuBusySum = 0; // m_cpuBusySum / m_cpuBusyTicks when it started
        qint64 cpuBusyTicks = 0;
        int abSlot = -1; // A/B slot the run goes to when it finishes
        QString abLabel;
    };
    QHash<quint64, RunInfo> m_runs; // active runs
    // How long the next run is expected to take (a lesson's pace), for the
    // charts' frame; 0 when unknown.
    double m_nextRunExpectedS = 0;
    void frameCharts(const ChartAdapter::RunWindowNs& run);
    double m_cpuBusySum = 0; // Snapshot::cpu.total over fresh ticks while busy
    qint64 m_cpuBusyTicks = 0;
    RunContext m_lastContext;
    TraceData m_lastRun;
    QString m_lastRunLabel;
    AttachController* m_attach = nullptr;
    ProgramRun* m_programRun = nullptr;
    QToolBar* m_attachBar = nullptr;
    QLabel* m_attachLabel = nullptr;
    quint64 m_attachTaken = 0;              // tasks completed when takeAttachedRun() last ran
    bool m_controlsHiddenForAttach = false; // the run controls hidden while attached
    bool m_controlsWereVisible = true;
    // Run A then B: the steps still to run (A, B, A, B, ... for repeats),
    // one at a time, each started when the previous one ends.
    struct ABStep {
        RunSpec spec;
        int timeoutMs = 0;
        int slot = 0;
        QString label;
    };
    QList<ABStep> m_abPlan;
    QAction* m_repeatAction = nullptr; // Teach > Repeat measurements
    QAction* m_pacingAction = nullptr; // Teach > Watchable lesson runs
    LessonPacer* m_pacer = nullptr;
    quint64 m_abPlanRun = 0; // the run whose end starts the next step

    QLabel* m_countersLabel = nullptr;
    QLabel* m_rateLabel = nullptr;
    QLabel* m_droppedLabel = nullptr;
    QLabel* m_notShownLabel = nullptr;
    QLabel* m_poolLabel = nullptr;

    QString m_lastError;                 // shown in the hint until the controls change
    quint64 m_mandelbrotRun = 0;         // run whose tiles the Mandelbrot view shows
    QPointer<QDockWidget> m_raiseOnShow; // a tab raised before the first show
    QByteArray m_layoutBeforePresenter;  // saveState() while presenter mode is on
    bool m_profiling = false;
    std::vector<TickCost> m_tickCosts;
    qint64 m_viewsSnapshotNs = 0;
    bool m_painted = false;
    bool m_followFutures = true;     // the futures table follows new rows
    bool m_scrollingFutures = false; // ... and is being scrolled to them now
};

} // namespace poolscope
