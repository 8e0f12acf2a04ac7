#include "mainwindow.h"

#include "attach/attachcontroller.h"

#include "appicons.h"
#include "charts/hostcpucharts.h"
#include "charts/percorechart.h"
#include "charts/throughputchart.h"
#include "controlbar.h"
#include "mandelbrot/mandelbrotview.h"
#include "models/futuresmodel.h"
#include "models/progressdelegate.h"
#include "models/queuemodel.h"
#include "models/workersmodel.h"
#include "teaching/abcompare.h"
#include "teaching/analysispanel.h"
#include "teaching/decompositionbar.h"
#include "teaching/lesson.h"
#include "teaching/pacing.h"
#include "teaching/presenter.h"
#include "teaching/programrun.h"
#include "teaching/replay.h"
#include "teaching/replaycharts.h"
#include "teaching/slowmotion.h"
#include "teaching/sweepchart.h"
#include "teaching/sweeprunner.h"
#include "timeline/timelinewidget.h"

#include <poolscope/deadline.h>

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMenu>
#include <QMenuBar>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScreen>
#include <QScrollArea>
#include <QScrollBar>
#include <QSettings>
#include <QShowEvent>
#include <QSplitter>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabBar>
#include <QTableView>
#include <QThread>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>

#include <ctime>

namespace poolscope {

namespace {
constexpr int kStateVersion = 2; // bump when the dock set changes (2: abDock, replayDock)

/// Flat, opaque scroll bars for views that change many times a second (the
/// futures table follows a million rows): the style's shaded bars are drawn
/// with blends that Qt's raster engine hands to its thread pool (see
/// ui/timeline/timelinewidget.cpp), and under load each repaint waited on
/// it. Plain fills of palette colours take the engine's memory-fill path.
void flatScrollBars(QAbstractScrollArea* area)
{
    const QString sheet = QStringLiteral(
        "QScrollBar { background: palette(base); border: none; margin: 0; }"
        "QScrollBar:vertical { width: 12px; }"
        "QScrollBar:horizontal { height: 12px; }"
        "QScrollBar::handle { background: palette(mid); border: none; }"
        "QScrollBar::handle:hover { background: palette(dark); }"
        "QScrollBar::handle:vertical { min-height: 24px; }"
        "QScrollBar::handle:horizontal { min-width: 24px; }"
        "QScrollBar::add-line, QScrollBar::sub-line { width: 0; height: 0; border: none; }"
        "QScrollBar::add-page, QScrollBar::sub-page { background: none; }");
    area->verticalScrollBar()->setStyleSheet(sheet);
    area->horizontalScrollBar()->setStyleSheet(sheet);
}

/// A table view that asks the display server where the pointer is only
/// when the pointer is over it. QAbstractItemView re-checks the hovered row
/// on every scroll with QCursor::pos(), a round trip to the X server: the
/// futures table scrolls with a live run every tick, and each round trip held
/// the GUI thread ~5 ms under load (docs/gui.md, "The window under load").
class Table : public QTableView {
public:
    using QTableView::QTableView;

protected:
    void verticalScrollbarValueChanged(int value) override
    {
        if (viewport()->underMouse())
            QTableView::verticalScrollbarValueChanged(value);
        else if (model() && value == verticalScrollBar()->maximum()
                 && model()->canFetchMore(rootIndex()))
            model()->fetchMore(rootIndex());
    }
    void horizontalScrollbarValueChanged(int value) override
    {
        if (viewport()->underMouse())
            QTableView::horizontalScrollbarValueChanged(value);
        else if (model() && value == horizontalScrollBar()->maximum()
                 && model()->canFetchMore(rootIndex()))
            model()->fetchMore(rootIndex());
    }
};

QTableView* makeTable(QAbstractItemModel* model, QWidget* parent)
{
    auto* v = new Table(parent);
    v->setModel(model);
    v->setSelectionBehavior(QAbstractItemView::SelectRows);
    v->setSelectionMode(QAbstractItemView::SingleSelection);
    v->setEditTriggers(QAbstractItemView::NoEditTriggers);
    v->setAlternatingRowColors(true);
    // No grid: its column lines span the whole view, and Qt's raster engine
    // hands lines that tall to threads (see ui/timeline/timelinewidget.cpp):
    // under load each repaint waited on them. Alternating rows suffice.
    v->setShowGrid(false);
    v->setWordWrap(false);
    v->verticalHeader()->hide();
    // Fixed row heights: the view never measures 100k rows.
    v->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    v->verticalHeader()->setDefaultSectionSize(v->fontMetrics().height() + 6);
    v->horizontalHeader()->setStretchLastSection(true);
    v->horizontalHeader()->setHighlightSections(false);
    flatScrollBars(v);
    return v;
}

/// Makes a tabbed dock the current tab. QWidget::raise() only tells the
/// layout (through a ZOrderChange event) when the dock was not already the
/// main window's last child, so a second raise() of the same dock did
/// nothing: step another child to the top first.
void raiseDock(QMainWindow* window, QDockWidget* dock)
{
    if (!dock)
        return;
    if (!window->children().isEmpty() && window->children().constLast() == dock)
        window->centralWidget()->raise();
    dock->raise();
}

void setTextIfChanged(QLabel* label, const QString& text)
{
    if (label->text() != text)
        label->setText(text);
}
} // namespace

MainWindow::MainWindow(QWidget* parent)
    : MainWindow(Options{}, parent)
{}

MainWindow::MainWindow(const Options& options, QWidget* parent)
    : QMainWindow(parent)
    , m_opts(options)
{
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(tr("PoolScope"));
    setWindowIcon(icons::get(icons::Icon::App));
    setDockNestingEnabled(true);
    setDockOptions(AnimatedDocks | AllowNestedDocks | AllowTabbedDocks);

    m_controller = new RunController(this);
    m_controls = new ControlBar(this);
    m_controlToolBar = addToolBar(tr("Run controls"));
    m_controlToolBar->setObjectName(QStringLiteral("controlsToolBar"));
    m_controlToolBar->setFloatable(false);
    m_controlToolBar->addWidget(m_controls);

    // The panels are all docks; the central widget only anchors them.
    auto* central = new QWidget(this);
    central->setObjectName(QStringLiteral("centralPlaceholder"));
    setCentralWidget(central);
    central->hide();

    buildActions();
    m_controls->setActions({action(QStringLiteral("start")), action(QStringLiteral("pause")),
                            action(QStringLiteral("cancel")), action(QStringLiteral("stop")),
                            action(QStringLiteral("shutdown"))});
    buildDocks();
    buildTeaching();
    buildAttach();
    buildProgramRun(); // after buildAttach(): lesson 11's scripts are attached to
    buildMenus();
    buildStatusBar();
    applyDefaultLayout();

    connect(m_controller, &RunController::snapshotReady, this, &MainWindow::onSnapshot);
    connect(m_controller, &RunController::resultsReady, this, &MainWindow::onResults);
    connect(m_controller, &RunController::runFinished, this, &MainWindow::onRunFinished);
    connect(m_controller, &RunController::error, this, &MainWindow::onError);
    connect(m_controller, &RunController::message, this,
            [this](const QString& text) { statusBar()->showMessage(text, 5000); });
    connect(m_controller, &RunController::pausedChanged, this, [this](bool paused) {
        QAction* a = action(QStringLiteral("pause"));
        a->setText(paused ? tr("Resume") : tr("Pause"));
        a->setIcon(icons::get(paused ? icons::Icon::Resume : icons::Icon::Pause));
        m_slowMotion->setPaused(paused);
        updateActions();
    });
    connect(m_controller, &RunController::runStarted, this,
            [this](quint64 id, const RunSpec& spec) {
                RunInfo& info = m_runs[id];
                info.spec = spec;
                m_timeline->setFollowing(true); // a new run: watch it live
                // The charts frame it too (a 5 s run fills them, not a
                // twelfth of a rolling minute), to its expected length
                // when a lesson's pace knows it.
                frameCharts({monotonicNs(), -1, std::exchange(m_nextRunExpectedS, 0.0)});
                info.cpuBusySum = m_cpuBusySum;
                info.cpuBusyTicks = m_cpuBusyTicks;
            });
    connect(m_controller, &RunController::busyChanged, this, [this] {
        updateActions();
        updateHint();
    });
    connect(m_controller, &RunController::drawLightChanged, this, [this](bool light) {
        for (ChartAdapter* chart : findChildren<ChartAdapter*>())
            chart->setAntialiased(!light);
    });
    connect(m_controller, &RunController::poolChanged, this, [this] {
        m_queueModel->clear();
        m_workersModel->clear();
        m_futuresModel->clear();
        m_timeline->clear();
        m_hostCpu->clear(); // the new pool's hosts come with its snapshots
        updateActions();
        updateHint();
    });
    connect(m_controls, &ControlBar::edited, this, [this] {
        m_lastError.clear();
        m_slowMotion->setWorkload(m_controls->spec().workload);
        updateHint();
        updateActions();
    });
    connect(m_controls, &ControlBar::workersChanged, m_controller, &RunController::setWorkers);
    connect(m_controls, &ControlBar::switchIntervalChanged, m_controller,
            &RunController::setSwitchIntervalMs);
    connect(m_controls, &ControlBar::poolKindChanged, this, [this] {
        if (!m_controller->isRunning())
            preparePool();
    });

    m_slowMotion->setWorkload(m_controls->spec().workload);
    if (m_opts.useSettings)
        restoreSettings();
    else
        resize(defaultSize());
    preparePool();
    updateActions();
    updateHint();
}

MainWindow::~MainWindow()
{
    // Views go before the controller's last signals could reach them.
    disconnect(m_controller, nullptr, this, nullptr);
    // ... and the futures table's scroll bar moves while its view and model
    // go (AddressSanitizer: the follow slot read the view being deleted).
    if (m_futuresView)
        disconnect(m_futuresView->verticalScrollBar(), nullptr, this, nullptr);
}

// ---------------------------------------------------------------- building

QAction* MainWindow::makeAction(const QString& objectName, const QString& text,
                                const QKeySequence& shortcut)
{
    auto* a = new QAction(text, this);
    a->setObjectName(objectName);
    if (!shortcut.isEmpty()) {
        a->setShortcut(shortcut);
        a->setToolTip(QStringLiteral("%1 (%2)").arg(QString(text).remove(QLatin1Char('&')),
                                                    shortcut.toString(QKeySequence::NativeText)));
    }
    a->setShortcutContext(Qt::WindowShortcut);
    addAction(a); // shortcuts work whatever has focus (and with no menu bar)
    m_actions.append(a);
    return a;
}

QAction* MainWindow::action(const QString& objectName) const
{
    for (QAction* a : m_actions) {
        if (a->objectName() == objectName)
            return a;
    }
    return nullptr;
}

QDockWidget* MainWindow::dock(const QString& objectName) const
{
    for (QDockWidget* d : m_docks) {
        if (d->objectName() == objectName)
            return d;
    }
    return nullptr;
}

bool MainWindow::isDockOnTop(QDockWidget* d) const
{
    if (!d || !d->isVisible())
        return false;
    if (d->isFloating() || tabifiedDockWidgets(d).isEmpty())
        return true;
    // The main window's tab bars name each tab's dock in the tab data.
    for (QTabBar* tb : findChildren<QTabBar*>(Qt::FindDirectChildrenOnly)) {
        for (int i = 0; i < tb->count(); ++i) {
            if (tb->tabData(i).value<quintptr>() == reinterpret_cast<quintptr>(d))
                return i == tb->currentIndex();
        }
    }
    return true;
}

void MainWindow::buildActions()
{
    QAction* a = makeAction(QStringLiteral("start"), tr("&Start"), Qt::Key_F5);
    a->setIcon(icons::get(icons::Icon::Start));
    connect(a, &QAction::triggered, this, &MainWindow::startFromControls);

    a = makeAction(QStringLiteral("pause"), tr("Pause"), Qt::Key_Space);
    a->setIcon(icons::get(icons::Icon::Pause));
    connect(a, &QAction::triggered, m_controller, &RunController::togglePause);

    a = makeAction(QStringLiteral("cancel"), tr("&Cancel pending"), Qt::Key_Escape);
    a->setIcon(icons::get(icons::Icon::Cancel));
    a->setStatusTip(tr("Cancel every task still in the queue; running tasks go on."));
    connect(a, &QAction::triggered, m_controller, &RunController::cancelPending);

    a = makeAction(QStringLiteral("stop"), tr("S&top"), QKeySequence(Qt::SHIFT | Qt::Key_F5));
    a->setIcon(icons::get(icons::Icon::Stop));
    a->setStatusTip(tr("Cancel pending tasks and stop running ones (process workers are "
                       "killed and replaced)."));
    connect(a, &QAction::triggered, this, [this] {
        if (m_programRun && m_programRun->isRunning())
            m_programRun->stop(); // a program lesson's script (lesson 11)
        else
            m_controller->stop();
    });

    // Shift+Esc: the stronger Esc (Cancel pending), as Shift+F5 is the stronger F5.
    a = makeAction(QStringLiteral("shutdown"), tr("Shut&down pool"),
                   QKeySequence(Qt::SHIFT | Qt::Key_Escape));
    a->setIcon(icons::get(icons::Icon::Shutdown));
    a->setToolTip(tr("Stop everything and shut the pool down; the next run starts a new pool "
                     "(%1).")
                      .arg(a->shortcut().toString(QKeySequence::NativeText)));
    connect(a, &QAction::triggered, m_controller, &RunController::shutdown);

    a = makeAction(QStringLiteral("exportTrace"), tr("Export &trace..."),
                   QKeySequence(Qt::CTRL | Qt::Key_E));
    a->setIcon(icons::get(icons::Icon::Export));
    a->setStatusTip(tr("Every task of the run, for ui.perfetto.dev (Perfetto's own format, "
                       "compact; or Chrome JSON)"));
    connect(a, &QAction::triggered, this, [this] {
        const QString dir = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
        // Perfetto's format first: a million tasks take ~120 MB there, ~400
        // MB as JSON.
        const QString perfetto = tr("Perfetto trace (*.pftrace)");
        const QString json = tr("Chrome trace JSON (*.json)");
        QString chosen = perfetto;
        QString path = QFileDialog::getSaveFileName(
            this, tr("Export trace"), dir + QStringLiteral("/poolscope-trace.pftrace"),
            perfetto + QStringLiteral(";;") + json, &chosen);
        if (path.isEmpty())
            return;
        if (QFileInfo(path).suffix().isEmpty())
            path += chosen == json ? QStringLiteral(".json") : QStringLiteral(".pftrace");
        exportTraceTo(path);
    });

    a = makeAction(QStringLiteral("exportCsv"), tr("Export &CSV..."),
                   QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E));
    connect(a, &QAction::triggered, this, [this] {
        const QString dir = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
        const QString path = QFileDialog::getSaveFileName(
            this, tr("Export completed tasks"), dir + QStringLiteral("/poolscope-tasks.csv"),
            tr("CSV (*.csv)"));
        if (!path.isEmpty())
            exportCsvTo(path);
    });

    a = makeAction(QStringLiteral("savePng"), tr("Save window as &PNG..."),
                   QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S));
    connect(a, &QAction::triggered, this, [this] {
        const QString dir = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
        const QString path = QFileDialog::getSaveFileName(this, tr("Save window as PNG"),
                                                          dir + QStringLiteral("/poolscope.png"),
                                                          tr("PNG image (*.png)"));
        if (!path.isEmpty())
            saveWidgetPng(this, path);
    });

    a = makeAction(QStringLiteral("quit"), tr("&Quit"), QKeySequence::Quit);
    connect(a, &QAction::triggered, this, &QWidget::close);

    a = makeAction(QStringLiteral("recordLimit"), tr("Record &limit..."));
    a->setStatusTip(tr("How many tasks of a run are recorded (table, timeline, exports) before "
                       "the record keeps a stated sample"));
    connect(a, &QAction::triggered, this, [this] {
        bool ok = false;
        const int n = QInputDialog::getInt(
            this, tr("Record limit"),
            tr("Tasks of a run recorded in full (the futures table, the timeline and the "
               "exports show every one of them; past it, a uniform sample that says so). "
               "About 40 bytes a task; the counts are always exact."),
            int(std::min<quint64>(recordLimit(), quint64(INT_MAX))), 1000,
            int(RunRecord::kMaxLimit), 100'000, &ok);
        if (ok)
            setRecordLimit(quint64(n));
    });

    a = makeAction(QStringLiteral("pythonErrors"), tr("Name errors as &Python does"));
    a->setCheckable(true);
    a->setChecked(true);
    a->setStatusTip(tr("ValueError for std::invalid_argument, RuntimeError for "
                       "std::runtime_error...; the C++ type stays in the tooltip"));
    connect(a, &QAction::toggled, this,
            [this](bool on) { m_futuresModel->setPythonErrorNames(on); });

    a = makeAction(QStringLiteral("yieldWhenBusy"), tr("Draw &less while the cores are busy"));
    a->setCheckable(true);
    a->setChecked(true);
    a->setStatusTip(tr("While a run keeps every core busy, redraw 5 times a second instead of "
                       "30, charts without antialiasing: each frame is CPU the workers do not "
                       "get. Nothing is lost"));
    connect(a, &QAction::toggled, m_controller, &RunController::setYieldWhenBusy);

    a = makeAction(QStringLiteral("timelineLastRun"), tr("Timeline: zoom to the &last run"),
                   QKeySequence(Qt::CTRL | Qt::Key_L));
    connect(a, &QAction::triggered, this, [this] {
        showDock(QStringLiteral("timelineDock"));
        m_timeline->zoomToLastRun();
    });
    a = makeAction(QStringLiteral("timelineFit"), tr("Timeline: &fit everything"),
                   QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_L));
    connect(a, &QAction::triggered, this, [this] {
        showDock(QStringLiteral("timelineDock"));
        m_timeline->setFollowing(false);
        m_timeline->fitToData();
    });

    a = makeAction(QStringLiteral("resetLayout"), tr("&Reset layout"));
    connect(a, &QAction::triggered, this, &MainWindow::resetLayout);
}

void MainWindow::buildMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(action(QStringLiteral("exportTrace")));
    file->addAction(action(QStringLiteral("exportCsv")));
    file->addSeparator();
    file->addAction(action(QStringLiteral("openReplay")));
    file->addSeparator();
    file->addAction(action(QStringLiteral("attach")));
    file->addAction(action(QStringLiteral("detach")));
    file->addSeparator();
    file->addAction(action(QStringLiteral("savePng")));
    QMenu* charts = file->addMenu(tr("Save panel as PNG"));
    for (QDockWidget* d : m_docks) {
        QAction* a = charts->addAction(d->windowTitle() + QStringLiteral("..."));
        a->setObjectName(QStringLiteral("savePng_") + d->objectName());
        connect(a, &QAction::triggered, this, [this, d] {
            const QString dir = QStandardPaths::writableLocation(QStandardPaths::PicturesLocation);
            const QString path = QFileDialog::getSaveFileName(
                this, tr("Save %1 as PNG").arg(d->windowTitle()),
                dir
                    + QStringLiteral("/poolscope-%1.png")
                          .arg(d->objectName().remove(QStringLiteral("Dock"))),
                tr("PNG image (*.png)"));
            if (!path.isEmpty())
                saveWidgetPng(d->widget(), path);
        });
    }
    file->addSeparator();
    file->addAction(action(QStringLiteral("quit")));

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    for (const char* name : {"start", "pause", "cancel", "stop", "shutdown"})
        run->addAction(action(QLatin1String(name)));
    run->addSeparator();
    run->addAction(action(QStringLiteral("step")));
    QMenu* slow = run->addMenu(tr("S&low motion"));
    slow->setObjectName(QStringLiteral("slowMotionMenu"));
    for (int f : SlowMotion::factors())
        slow->addAction(action(QStringLiteral("slowMotion%1").arg(f)));
    slow->addSeparator();
    slow->addAction(action(QStringLiteral("slowMotionCycle")));

    QMenu* teach = menuBar()->addMenu(tr("&Teach"));
    teach->setObjectName(QStringLiteral("teachMenu"));
    for (const char* name : {"abPanel", "keepAsA", "keepAsB", "runAB"})
        teach->addAction(action(QLatin1String(name)));
    teach->addSeparator();
    for (const char* name : {"replayPanel", "openReplay", "replayLastRun"})
        teach->addAction(action(QLatin1String(name)));
    teach->addSeparator();
    teach->addAction(action(QStringLiteral("explain")));
    teach->addAction(action(QStringLiteral("repeatMeasurements")));
    teach->addAction(action(QStringLiteral("lessonPacing")));
    teach->addAction(action(QStringLiteral("presenter")));

    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (QDockWidget* d : m_docks)
        view->addAction(d->toggleViewAction());
    view->addAction(m_controlToolBar->toggleViewAction());
    view->addAction(m_slowToolBar->toggleViewAction());
    view->addSeparator();
    view->addAction(action(QStringLiteral("recordLimit")));
    view->addAction(action(QStringLiteral("pythonErrors")));
    view->addAction(action(QStringLiteral("yieldWhenBusy")));
    view->addAction(action(QStringLiteral("timelineLastRun")));
    view->addAction(action(QStringLiteral("timelineFit")));
    view->addAction(action(QStringLiteral("presenter")));
    view->addAction(action(QStringLiteral("resetLayout")));
}

void MainWindow::setRecordLimit(quint64 tasks)
{
    m_controller->monitor()->setRecordLimit(tasks);
    updateFuturesLabel();
    statusBar()->showMessage(
        tasks == 0 ? tr("Tasks are not recorded (counts only)")
                   : tr("Each run records up to %1 tasks, then a stated sample of them")
                         .arg(QLocale().toString(tasks)),
        5000);
}

quint64 MainWindow::recordLimit() const
{
    return m_controller->monitor()->options().recordLimit;
}

QDockWidget* MainWindow::addPanel(const QString& objectName, const QString& title, QWidget* content)
{
    auto* d = new QDockWidget(title, this);
    d->setObjectName(objectName);
    d->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable
                   | QDockWidget::DockWidgetClosable);
    // Each panel scrolls when the screen is smaller than it would like (a
    // 1280x720 projector): its minimum never makes the window larger than
    // the screen. Given its room, it fills it as before.
    auto* scroll = new QScrollArea(d);
    scroll->setObjectName(objectName + QStringLiteral("Scroll"));
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setWidgetResizable(true);
    scroll->setWidget(content);
    d->setWidget(scroll);
    m_docks.append(d);
    return d;
}

void MainWindow::buildDocks()
{
    // Queue: the head of the queue, how many more, and the depth over time.
    {
        auto* w = new QWidget(this);
        m_queueModel = new QueueModel(this);
        auto* table = makeTable(m_queueModel, w);
        table->setObjectName(QStringLiteral("queueView"));
        m_queueFooter = new QLabel(w);
        m_queueFooter->setObjectName(QStringLiteral("queueFooter"));
        m_queueChart = new ThroughputChart(ThroughputChart::Mode::QueueOnly, w);
        m_queueChart->setObjectName(QStringLiteral("queueChart"));
        m_queueChart->setMinimumHeight(100);
        auto* lay = new QVBoxLayout(w);
        lay->setContentsMargins(2, 2, 2, 2);
        lay->setSpacing(2);
        lay->addWidget(table, 3);
        lay->addWidget(m_queueFooter);
        lay->addWidget(m_queueChart, 2);
        addPanel(QStringLiteral("queueDock"), tr("Queue"), w);
    }
    // Workers: one row per worker, progress of its current task.
    {
        m_workersModel = new WorkersModel(this);
        auto* table = makeTable(m_workersModel, this);
        table->setObjectName(QStringLiteral("workersView"));
        table->setItemDelegateForColumn(WorkersModel::ProgressColumn,
                                        new ProgressBarDelegate(table));
        table->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
        table->horizontalHeader()->setDefaultSectionSize(64);
        table->setColumnWidth(WorkersModel::NameColumn, 110);
        table->setColumnWidth(WorkersModel::HostColumn, 90);
        table->setColumnWidth(WorkersModel::RankColumn, 44);
        table->setColumnWidth(WorkersModel::StateColumn, 86);
        // Host and rank mean something for MPI pools only (onSnapshot).
        table->setColumnHidden(WorkersModel::HostColumn, true);
        table->setColumnHidden(WorkersModel::RankColumn, true);
        m_workersView = table;
        table->setColumnWidth(WorkersModel::TaskColumn, 130);
        table->setColumnWidth(WorkersModel::ProgressColumn, 110);
        addPanel(QStringLiteral("workersDock"), tr("Workers"), table);
    }
    // Per-core CPU: this machine's, or one chart per host for an MPI pool
    // (its ranks send their hosts' CPU use; onSnapshot switches).
    {
        auto* w = new QWidget(this);
        m_perCore = new PerCoreChart(w);
        m_perCore->setObjectName(QStringLiteral("perCoreChart"));
        m_hostCpu = new HostCpuCharts(w);
        m_hostCpu->setObjectName(QStringLiteral("hostCpuCharts"));
        m_hostCpu->hide();
        auto* lay = new QVBoxLayout(w);
        lay->setContentsMargins(0, 0, 0, 0);
        lay->addWidget(m_perCore);
        lay->addWidget(m_hostCpu);
        addPanel(QStringLiteral("cpuDock"), tr("Per-core CPU"), w);
    }
    // Timeline.
    m_timeline = new TimelineWidget(this);
    m_timeline->setObjectName(QStringLiteral("timeline"));
    connect(m_timeline, &TimelineWidget::taskClicked, this, &MainWindow::selectTask);
    // Following "now" again after a run: the charts roll again too.
    connect(m_timeline, &TimelineWidget::followingChanged, this, [this](bool following) {
        if (following && !m_controller->isRunning())
            frameCharts({});
    });
    addPanel(QStringLiteral("timelineDock"), tr("Timeline"), m_timeline);
    // Completed futures.
    {
        auto* w = new QWidget(this);
        m_futuresModel = new FuturesModel(this);
        m_statusFilter = new QComboBox(w);
        m_statusFilter->setObjectName(QStringLiteral("futuresStatusFilter"));
        m_statusFilter->addItem(tr("All"), int(FuturesModel::StatusFilter::All));
        m_statusFilter->addItem(tr("Succeeded"), int(FuturesModel::StatusFilter::Succeeded));
        m_statusFilter->addItem(tr("Failed"), int(FuturesModel::StatusFilter::Failed));
        m_statusFilter->addItem(tr("Cancelled"), int(FuturesModel::StatusFilter::Cancelled));
        connect(m_statusFilter, &QComboBox::currentIndexChanged, this, [this] {
            m_futuresModel->setStatusFilter(
                FuturesModel::StatusFilter(m_statusFilter->currentData().toInt()));
        });
        m_search = new QLineEdit(w);
        m_search->setObjectName(QStringLiteral("futuresSearch"));
        m_search->setPlaceholderText(tr("Filter by task, arguments, result or error"));
        m_search->setClearButtonEnabled(true);
        // Filtering a million rows per keystroke would stutter: wait for a pause.
        auto* debounce = new QTimer(this);
        debounce->setSingleShot(true);
        debounce->setInterval(200);
        connect(m_search, &QLineEdit::textChanged, debounce, qOverload<>(&QTimer::start));
        connect(debounce, &QTimer::timeout, this,
                [this] { m_futuresModel->setTextFilter(m_search->text()); });
        connect(m_search, &QLineEdit::returnPressed, this, [this, debounce] {
            debounce->stop();
            m_futuresModel->setTextFilter(m_search->text());
        });
        // What the table holds, in words: "1,000,000 tasks" (every one), or
        // "sample: 1 in 128 of 1,000,000 tasks", or "412 of 1,000,000 shown
        // (filter)".
        m_tableLabel = new QLabel(w);
        m_tableLabel->setObjectName(QStringLiteral("futuresCountLabel"));
        m_futuresView = makeTable(m_futuresModel, w);
        m_futuresView->setObjectName(QStringLiteral("futuresView"));
        m_futuresView->horizontalHeader()->setSortIndicator(-1, Qt::AscendingOrder);
        m_futuresView->setSortingEnabled(true); // FuturesModel::sort on the record's columns
        m_futuresView->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
        m_futuresView->horizontalHeader()->setDefaultSectionSize(72);
        m_futuresView->setColumnWidth(FuturesModel::IdColumn, 60);
        m_futuresView->setColumnWidth(FuturesModel::TaskColumn, 90);
        m_futuresView->setColumnWidth(FuturesModel::ArgsColumn, 150);
        m_futuresView->setColumnWidth(FuturesModel::ResultColumn, 110);
        m_futuresView->setToolTip(tr("Double-click a row for the full result or error."));
        connect(m_futuresView, &QTableView::doubleClicked, this, &MainWindow::showDetails);
        // The table follows new rows until the user scrolls away from the
        // bottom, and again once they scroll back to it. Kept as a state, not
        // read off the scroll bar each tick: a view that got shorter between
        // ticks (the window's layout settling) had stopped following.
        QScrollBar* sb = m_futuresView->verticalScrollBar();
        connect(sb, &QScrollBar::valueChanged, this, [this, sb](int v) {
            if (!m_scrollingFutures)
                m_followFutures = v >= sb->maximum() - 1;
        });
        connect(m_futuresModel, &FuturesModel::contentsChanged, this,
                &MainWindow::updateFuturesLabel);
        auto* bar = new QHBoxLayout;
        bar->addWidget(m_statusFilter);
        bar->addWidget(m_search, 1);
        bar->addSpacing(12);
        bar->addWidget(m_tableLabel);
        auto* lay = new QVBoxLayout(w);
        lay->setContentsMargins(2, 2, 2, 2);
        lay->setSpacing(2);
        lay->addLayout(bar);
        lay->addWidget(m_futuresView, 1);
        addPanel(QStringLiteral("futuresDock"), tr("Completed futures"), w);
    }
    // Throughput and queue depth.
    m_throughput = new ThroughputChart(ThroughputChart::Mode::Full, this);
    m_throughput->setObjectName(QStringLiteral("throughputChart"));
    addPanel(QStringLiteral("throughputDock"), tr("Throughput"), m_throughput);
    // Mandelbrot.
    m_mandelbrot = new MandelbrotView(this);
    m_mandelbrot->setObjectName(QStringLiteral("mandelbrotView"));
    addPanel(QStringLiteral("mandelbrotDock"), tr("Mandelbrot"), m_mandelbrot);
    m_panels = m_docks;
}

void MainWindow::buildTeaching()
{
    // Lesson: predict, then observe. The panel only asks; we run.
    m_lesson = new LessonPanel(this);
    m_lesson->setObjectName(QStringLiteral("lessonPanel"));
    addPanel(QStringLiteral("lessonDock"), tr("Lesson"), m_lesson);
    // A lesson with a Run B records its runs into the A/B dock: Run -> A,
    // Run B -> B.
    connect(m_lesson, &LessonPanel::runRequested, this, [this](const Lesson& l) {
        if (l.scenario.isProgram()) // a Python script, watched (teaching/programlesson.cpp)
            return runLessonProgram(l);
        runLessonSpec(lessonSpec(l, false), l.scenario.timeoutMs, l.compare ? 0 : -1,
                      tr("lesson run"));
    });
    connect(m_lesson, &LessonPanel::compareRequested, this, [this](const Lesson& l) {
        if (l.compare)
            runLessonSpec(lessonSpec(l, true), l.compare->timeoutMs, 1, l.compare->label);
    });
    // Lesson runs long enough to watch: measured on this machine when the
    // lesson opens (a private pool, off the GUI thread).
    m_pacer = new LessonPacer(this);
    connect(m_lesson, &LessonPanel::lessonChanged, this, [this](const Lesson& l) {
        m_lesson->setPacing({});
        if (pacingOn() && !l.scenario.isProgram())
            m_pacer->calibrate(l);
    });
    connect(m_pacer, &LessonPacer::calibrated, this, [this](const QString& id) {
        if (!m_lesson->hasLesson() || m_lesson->currentLesson().id != id || !pacingOn())
            return;
        const Lesson& l = m_lesson->currentLesson();
        m_lesson->setPacing(m_pacer->pace(id)->description);
        if (!m_controller->isRunning())
            m_controls->setSpec(lessonSpec(l, false));
    });
    connect(m_lesson, &LessonPanel::resetRequested, this, [this](const Lesson& l) {
        if (l.scenario.isProgram())
            return resetLessonProgram();
        if (m_controller->isRunning())
            m_controller->stop();
        const auto known = pacingOn() ? m_pacer->pace(l.id) : std::nullopt;
        m_controls->setSpec(known ? LessonPacer::paced(l, l.scenario, *known)
                                  : l.scenario.runSpec());
        m_futuresModel->clear();
        m_timeline->clear();
        m_mandelbrot->clear();
        m_analysis->clear();
        preparePool();
    });
    connect(m_lesson, &LessonPanel::sweepRequested, this, &MainWindow::startSweep);
    // Lesson 9: its run's futures, for .then() / whenAll on the GUI thread.
    connect(m_controller, &RunController::qfuturesReady, m_lesson, &LessonPanel::watchFutures);

    // Analysis: where the time of the last run went, and what limited it.
    m_analysis = new AnalysisPanel(this);
    m_analysis->setObjectName(QStringLiteral("analysisPanel"));
    addPanel(QStringLiteral("analysisDock"), tr("Analysis"), m_analysis);

    // Sweep: the pool-size sweep of a lesson (its own pools, one per point).
    auto* w = new QWidget(this);
    m_sweepChart = new SweepChart(w);
    m_sweepChart->setObjectName(QStringLiteral("sweepChart"));
    m_sweepChart->setCoreCount(QThread::idealThreadCount());
    m_sweepStatus = new QLabel(tr("Run a lesson's Sweep (lesson 6) to fill this panel."), w);
    m_sweepStatus->setObjectName(QStringLiteral("sweepStatus"));
    auto* cancel = new QPushButton(tr("Cancel sweep"), w);
    cancel->setObjectName(QStringLiteral("cancelSweepButton"));
    cancel->setEnabled(false);
    auto* row = new QHBoxLayout;
    row->addWidget(m_sweepStatus, 1);
    row->addWidget(cancel);
    auto* lay = new QVBoxLayout(w);
    lay->setContentsMargins(2, 2, 2, 2);
    lay->addLayout(row);
    lay->addWidget(m_sweepChart, 1);
    addPanel(QStringLiteral("sweepDock"), tr("Sweep"), w);
    m_sweep = new SweepRunner(this);
    connect(cancel, &QPushButton::clicked, m_sweep, &SweepRunner::cancel);
    connect(m_sweep, &SweepRunner::started, this, [this, cancel](int points) {
        cancel->setEnabled(true);
        m_lesson->setRunEnabled(false);
        m_sweepStatus->setText(tr("Sweep: %1 points...").arg(points));
    });
    connect(m_sweep, &SweepRunner::progress, this,
            [this](int point, int total, qint64 done, qint64 tasks) {
                const int repeats = m_sweep->request().repeats;
                m_sweepStatus->setText(tr("Sweep: point %1 of %2%3, %4 of %5 tasks")
                                           .arg(point + 1)
                                           .arg(total)
                                           .arg(repeats > 1 ? tr(" (measurement %1 of %2)")
                                                                  .arg(m_sweep->currentRepeat() + 1)
                                                                  .arg(repeats)
                                                            : QString())
                                           .arg(done)
                                           .arg(tasks));
            });
    connect(m_sweep, &SweepRunner::pointMeasured, m_sweepChart, &SweepChart::addPoint);
    connect(m_sweep, &SweepRunner::finished, this, [this, cancel](bool cancelled) {
        cancel->setEnabled(false);
        m_lesson->setRunEnabled(true);
        // (the chart itself lists each series' best speedup and fit)
        m_sweepStatus->setText(
            cancelled
                ? tr("Sweep cancelled.")
                : tr("Sweep finished: %1 points measured.").arg(m_sweepChart->points().size()));
    });
    connect(m_sweep, &SweepRunner::error, this, &MainWindow::onError);

    // The explanation comes when the teacher asks, never with Run.
    QAction* a = makeAction(QStringLiteral("explain"), tr("&Explain the lesson"), Qt::Key_F4);
    a->setCheckable(true);
    a->setStatusTip(tr("Show the lesson's explanation, after the class has predicted and watched"));
    connect(a, &QAction::triggered, this, [this](bool on) {
        showDock(QStringLiteral("lessonDock"));
        m_lesson->setExplained(on);
    });

    // One noisy run must not decide a lesson: A/B and sweep points are
    // measured three times by default, the median shown with its range.
    a = makeAction(QStringLiteral("repeatMeasurements"), tr("&Repeat measurements (median of 3)"));
    a->setCheckable(true);
    a->setChecked(true);
    a->setStatusTip(tr("Run A then B and the pool-size sweep measure each configuration three "
                       "times and show the median with the range (off: once, faster)"));
    m_repeatAction = a;

    a = makeAction(QStringLiteral("lessonPacing"), tr("&Watchable lesson runs (about 5 s)"));
    a->setCheckable(true);
    a->setChecked(true);
    a->setStatusTip(tr("Lengthen a lesson's runs to about 5 s on this machine, measured when the "
                       "lesson opens (off: the runs as written, 0.1-1 s)"));
    connect(a, &QAction::toggled, this, [this](bool on) {
        m_lesson->setPacing({});
        if (on && m_lesson->hasLesson())
            m_pacer->calibrate(m_lesson->currentLesson());
    });
    m_pacingAction = a;

    a = makeAction(QStringLiteral("presenter"), tr("&Presenter mode"), presenterShortcut());
    a->setCheckable(true);
    a->setStatusTip(tr("Large fonts and high contrast for a projector"));
    connect(a, &QAction::toggled, this, &MainWindow::setPresenterLayout);

    buildSlowMotion();
    buildAbDock();
    buildReplayDock();
}

void MainWindow::showDock(const QString& objectName)
{
    QDockWidget* d = dock(objectName);
    d->show();
    raiseDock(this, d);
    if (!isVisible())
        m_raiseOnShow = d;
}

void MainWindow::toggleDock(const QString& objectName)
{
    // Open and on top: close it. Closed, or open behind another tab: bring
    // it to the front (a plain toggle would close a dock the user cannot see).
    QDockWidget* d = dock(objectName);
    if (isDockOnTop(d))
        d->close();
    else
        showDock(objectName);
}

void MainWindow::buildSlowMotion()
{
    // A toolbar of its own next to the controls: factor and Step.
    m_slowMotion = new SlowMotionBar(this);
    m_slowMotion->setObjectName(QStringLiteral("slowMotionBar"));
    m_slowToolBar = addToolBar(tr("Slow motion"));
    m_slowToolBar->setObjectName(QStringLiteral("slowMotionToolBar"));
    m_slowToolBar->setFloatable(false);
    m_slowToolBar->addWidget(m_slowMotion);
    connect(m_slowMotion, &SlowMotionBar::stepRequested, m_controller, &RunController::step);

    QAction* step = makeAction(QStringLiteral("step"), tr("S&tep one task"), Qt::Key_F10);
    step->setStatusTip(tr("While paused: let exactly one queued task start"));
    connect(step, &QAction::triggered, m_controller, &RunController::step);

    auto* group = new QActionGroup(this);
    group->setExclusive(true);
    for (int f : SlowMotion::factors()) {
        QAction* a = makeAction(QStringLiteral("slowMotion%1").arg(f),
                                f == 1 ? tr("Normal speed") : tr("%1x slower").arg(f));
        a->setCheckable(true);
        a->setData(f);
        a->setChecked(f == m_slowMotion->factor());
        group->addAction(a);
        connect(a, &QAction::triggered, this, [this, f] { m_slowMotion->setFactor(f); });
    }
    QAction* cycle =
        makeAction(QStringLiteral("slowMotionCycle"), tr("Next slow-motion factor"), Qt::Key_F9);
    cycle->setStatusTip(tr("1x, 2x, 5x, 10x, 50x slower, then back to normal"));
    connect(cycle, &QAction::triggered, this, [this] {
        const QList<int> fs = SlowMotion::factors();
        const qsizetype i = fs.indexOf(m_slowMotion->factor());
        m_slowMotion->setFactor(fs.at((i + 1) % fs.size()));
    });
    connect(m_slowMotion, &SlowMotionBar::factorChanged, this, [this](int f) {
        if (QAction* a = action(QStringLiteral("slowMotion%1").arg(f)))
            a->setChecked(true);
        const RunSpec spec = m_controls->spec();
        const SlowMotionResult r = SlowMotion::apply(spec.workload, spec.run, f);
        statusBar()->showMessage(
            f <= 1 ? tr("Slow motion off: the next run goes at normal speed")
                   : tr("Slow motion %1x for the next run: %2").arg(f).arg(r.description),
            8000);
    });
}

void MainWindow::buildAbDock()
{
    auto* w = new QWidget(this);
    m_ab = new ABCompare(w);
    m_ab->setObjectName(QStringLiteral("abCompare"));
    auto* row = new QHBoxLayout;
    auto button = [w, row](const QString& name, QAction* a) {
        auto* b = new QPushButton(a->text().remove(QLatin1Char('&')), w);
        b->setObjectName(name);
        b->setToolTip(a->toolTip());
        QObject::connect(b, &QPushButton::clicked, a, &QAction::trigger);
        QObject::connect(a, &QAction::changed, b, [a, b] { b->setEnabled(a->isEnabled()); });
        b->setEnabled(a->isEnabled());
        row->addWidget(b);
    };
    QAction* a = makeAction(QStringLiteral("keepAsA"), tr("Keep last run as &A"),
                            QKeySequence(Qt::CTRL | Qt::Key_1));
    a->setEnabled(false);
    connect(a, &QAction::triggered, this, [this] { keepLastRun(0); });
    button(QStringLiteral("keepAButton"), a);
    a = makeAction(QStringLiteral("keepAsB"), tr("Keep last run as &B"),
                   QKeySequence(Qt::CTRL | Qt::Key_2));
    a->setEnabled(false);
    connect(a, &QAction::triggered, this, [this] { keepLastRun(1); });
    button(QStringLiteral("keepBButton"), a);
    a = makeAction(QStringLiteral("runAB"), tr("&Run lesson A, then B"),
                   QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_B));
    a->setStatusTip(tr("The open lesson's run, then its Run B, one after the other, into A and B"));
    a->setEnabled(false);
    connect(a, &QAction::triggered, this, &MainWindow::runLessonAB);
    button(QStringLiteral("runABButton"), a);
    row->addStretch(1);
    auto* lay = new QVBoxLayout(w);
    lay->setContentsMargins(2, 2, 2, 2);
    lay->addLayout(row);
    lay->addWidget(m_ab, 1);
    addPanel(QStringLiteral("abDock"), tr("A/B comparison"), w);

    a = makeAction(QStringLiteral("abPanel"), tr("A/B &comparison panel"),
                   QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_A));
    connect(a, &QAction::triggered, this, [this] { toggleDock(QStringLiteral("abDock")); });
    connect(m_lesson, &LessonPanel::lessonChanged, this, [this] { updateActions(); });
    connect(m_lesson, &LessonPanel::stageChanged, this,
            [this] { action(QStringLiteral("explain"))->setChecked(m_lesson->isExplained()); });
}

void MainWindow::buildReplayDock()
{
    auto* w = new QWidget(this);
    m_replay = new ReplayController(this);
    m_replayTimeline = new TimelineWidget(w);
    m_replayTimeline->setObjectName(QStringLiteral("replayTimeline"));
    m_replayTimeline->setFollowing(false); // a recording, never "live"
    m_replayFutures = new FuturesModel(this);
    auto* table = makeTable(m_replayFutures, w);
    table->setObjectName(QStringLiteral("replayFuturesView"));
    table->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    table->horizontalHeader()->setDefaultSectionSize(72);
    table->setColumnWidth(FuturesModel::ArgsColumn, 150);
    table->setColumnWidth(FuturesModel::ResultColumn, 110);
    m_replay->setTimeline(m_replayTimeline);
    m_replay->setFuturesModel(m_replayFutures);
    auto* bar = new ReplayBar(m_replay, w);
    bar->setObjectName(QStringLiteral("replayBar"));
    m_replayError = new QLabel(w);
    m_replayError->setObjectName(QStringLiteral("replayError"));
    m_replayError->setWordWrap(true);
    m_replayError->setTextFormat(Qt::PlainText);
    m_replayError->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_replayError->setStyleSheet(QStringLiteral("color: #c62828; font-weight: bold;"));
    m_replayError->hide();
    m_replaySummary = new QLabel(tr("No recording loaded: File > Open trace for replay "
                                    "(Ctrl+O), or Teach > Replay the last run."),
                                 w);
    m_replaySummary->setObjectName(QStringLiteral("replaySummary"));
    m_replaySummary->setWordWrap(true);
    m_replaySummary->setTextFormat(Qt::PlainText);
    // The charts replay too: throughput and per-core use up to the position.
    auto* charts = new ReplayCharts(m_replay, w);
    charts->setObjectName(QStringLiteral("replayCharts"));
    auto* split = new QSplitter(Qt::Vertical, w);
    split->addWidget(m_replayTimeline);
    split->addWidget(charts);
    split->addWidget(table);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    split->setStretchFactor(2, 2);
    auto* lay = new QVBoxLayout(w);
    lay->setContentsMargins(2, 2, 2, 2);
    lay->setSpacing(2);
    lay->addWidget(bar);
    lay->addWidget(m_replayError);
    lay->addWidget(m_replaySummary);
    m_replayDecomposition = new DecompositionBar(w);
    m_replayDecomposition->setObjectName(QStringLiteral("replayDecomposition"));
    m_replayDecomposition->setToolTip(tr("Where the time of the tasks finished by this position "
                                         "went (queued, GIL wait, CPU, waiting)"));
    lay->addWidget(m_replayDecomposition);
    lay->addWidget(split, 1);
    QDockWidget* d = addPanel(QStringLiteral("replayDock"), tr("Replay"), w);
    connect(m_replay, &ReplayController::error, this, &MainWindow::showReplayError);
    // The time bar replays too: the tasks finished by the position.
    connect(m_replay, &ReplayController::positionChanged, this, [this](qint64 pos) {
        std::vector<TaskSpan> ended;
        const qint64 now = m_replay->startNs() + pos;
        for (const TaskSpan sp : *m_replay->trace().record) {
            if (sp.endNs <= now)
                ended.push_back(sp);
        }
        m_replayDecomposition->setDecomposition(decompose(ended));
    });
    connect(m_replay, &ReplayController::loaded, this,
            [this, d](const QString& title, int tasks, qint64 durationNs) {
                m_replayError->hide();
                m_replayError->clear();
                const RunNumbers n = summarize(m_replay->trace());
                QString text =
                    tr("%1: %2 tasks over %3")
                        .arg(m_replay->sourceName().isEmpty() ? title : m_replay->sourceName())
                        .arg(tasks)
                        .arg(QStringLiteral("%1 s").arg(double(durationNs) / 1e9, 0, 'f', 2));
                if (n.failed || n.cancelled)
                    text += tr(", %1 failed, %2 cancelled").arg(n.failed).arg(n.cancelled);
                if (n.cpuPerWall >= 0)
                    text += tr(", CPU/wall %1").arg(n.cpuPerWall, 0, 'f', 2);
                // A recording past its limit replays a sample: say so.
                const QString note = m_replay->trace().record->samplingNote();
                if (!note.isEmpty())
                    text += tr(" (timeline and table: %1)").arg(note);
                m_replaySummary->setText(text);
                d->setWindowTitle(tr("Replay: %1")
                                      .arg(m_replay->sourceName().isEmpty()
                                               ? tr("last run")
                                               : m_replay->sourceName()));
            });

    QAction* a = makeAction(QStringLiteral("openReplay"), tr("&Open trace for replay..."),
                            QKeySequence::Open);
    a->setStatusTip(tr("Load a trace saved with Export trace (or poolscope-cli --trace) and "
                       "replay it"));
    connect(a, &QAction::triggered, this, [this] {
        const QString dir = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
        const QString path =
            QFileDialog::getOpenFileName(this, tr("Replay a recorded run"), dir,
                                         tr("PoolScope traces (*.pftrace *.perfetto-trace *.json "
                                            "*.trace);;All files (*)"));
        if (!path.isEmpty())
            openReplay(path);
    });
    a = makeAction(QStringLiteral("replayLastRun"), tr("Replay the &last run"),
                   QKeySequence(Qt::CTRL | Qt::Key_R));
    a->setEnabled(false);
    connect(a, &QAction::triggered, this, &MainWindow::replayLastRun);
    a = makeAction(QStringLiteral("replayPanel"), tr("R&eplay panel"),
                   QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R));
    connect(a, &QAction::triggered, this, [this] { toggleDock(QStringLiteral("replayDock")); });
}

void MainWindow::showReplayError(const QString& message)
{
    m_replayError->setText(message);
    m_replayError->show();
    statusBar()->showMessage(message, 10000);
}

bool MainWindow::openReplay(const QString& path)
{
    showDock(QStringLiteral("replayDock"));
    return m_replay->load(path);
}

bool MainWindow::replayLastRun()
{
    if (m_lastRun.record->empty()) {
        showReplayError(tr("Nothing to replay yet: no run has finished"));
        return false;
    }
    showDock(QStringLiteral("replayDock"));
    m_replay->setTrace(m_lastRun);
    return true;
}

bool MainWindow::keepLastRun(int slot)
{
    if (m_lastRun.record->empty()) {
        onError(tr("No finished run to keep yet: run something first"));
        return false;
    }
    m_ab->setRun(slot == 0 ? ABCompare::Slot::A : ABCompare::Slot::B, m_lastRun, m_lastRunLabel);
    showDock(QStringLiteral("abDock"));
    return true;
}

bool MainWindow::runLessonAB()
{
    if (!m_lesson->hasLesson() || !m_lesson->currentLesson().compare) {
        onError(tr("Run A then B needs a lesson with a Run B (lessons 2, 3, 4, 5, 7, 8, 10)"));
        return false;
    }
    const Lesson& l = m_lesson->currentLesson();
    m_ab->clearRun(ABCompare::Slot::A);
    m_ab->clearRun(ABCompare::Slot::B);
    showDock(QStringLiteral("abDock"));
    // Interleaved (A, B, A, B, ...) so a change on the machine meanwhile
    // touches both sides alike; each side shows its median.
    m_abPlan.clear();
    const RunSpec a = lessonSpec(l, false);
    const RunSpec b = lessonSpec(l, true);
    for (int i = 0; i < measurementRepeats(); ++i) {
        m_abPlan.append({a, l.scenario.timeoutMs, 0, tr("lesson run")});
        m_abPlan.append({b, l.compare->timeoutMs, 1, l.compare->label});
    }
    runNextABStep();
    return true;
}

RunSpec MainWindow::lessonSpec(const Lesson& lesson, bool compare)
{
    const LessonScenario& sc = compare && lesson.compare ? *lesson.compare : lesson.scenario;
    if (!pacingOn())
        return sc.runSpec();
    // Calibrated when the lesson opened; a Run pressed at once waits for it
    // (a few tasks, in the background) rather than run unwatchably short.
    const auto pace = m_pacer->waitForPace(lesson);
    if (!pace)
        return sc.runSpec();
    m_lesson->setPacing(pace->description);
    return LessonPacer::paced(lesson, sc, *pace);
}

void MainWindow::runNextABStep()
{
    if (m_abPlan.isEmpty())
        return;
    const ABStep step = m_abPlan.takeFirst();
    if (!m_abPlan.isEmpty() || step.slot == 1)
        statusBar()->showMessage(
            tr("A/B: measuring %1 (%2 more run(s) after it)")
                .arg(step.slot == 0 ? QStringLiteral("A") : QStringLiteral("B"))
                .arg(m_abPlan.size()),
            10000);
    runLessonSpec(step.spec, step.timeoutMs, step.slot, step.label);
}

bool MainWindow::pacingOn() const
{
    return m_pacingAction && m_pacingAction->isChecked();
}

int MainWindow::measurementRepeats() const
{
    return m_repeatAction && m_repeatAction->isChecked() ? 3 : 1;
}

bool MainWindow::runLessonSweep()
{
    if (!m_lesson->hasLesson() || !m_lesson->currentLesson().sweepRequest())
        return false;
    startSweep(m_lesson->currentLesson());
    return true;
}

void MainWindow::frameCharts(const ChartAdapter::RunWindowNs& run)
{
    m_throughput->frameRun(run);
    m_queueChart->frameRun(run);
    m_perCore->frameRun(run);
    m_hostCpu->frameRun(run);
}

void MainWindow::runLessonSpec(const RunSpec& lessonSpec, int timeoutMs, int abSlot,
                               const QString& abLabel)
{
    RunSpec spec = lessonSpec;
    spec.timeoutMs = timeoutMs;
    auto start = [this, abSlot, abLabel](const RunSpec& s) {
        if (pacingOn() && m_lesson->hasLesson())
            if (const auto pace = m_pacer->pace(m_lesson->currentLesson().id))
                m_nextRunExpectedS = pace->pacedSeconds; // the slower side: A and B alike
        const quint64 id = startSpec(s);
        m_nextRunExpectedS = 0;
        if (id && abSlot >= 0 && m_runs.contains(id)) {
            m_runs[id].abSlot = abSlot;
            m_runs[id].abLabel = abLabel;
            if (!m_abPlan.isEmpty())
                m_abPlanRun = id; // (not an older run that is still stopping)
        }
        if (!id && abSlot >= 0)
            m_abPlan.clear(); // a step did not start: none of the rest either
    };
    if (m_controller->isRunning()) { // a lesson run replaces what is going on
        m_controller->stop();
    }
    // A different pool kind or GIL needs the old runs gone: they are
    // stopping; start when the controller says it is idle.
    if (!m_controller->check(spec).isEmpty() && m_controller->isRunning()) {
        auto* once = new QObject(this);
        connect(m_controller, &RunController::busyChanged, once, [spec, once, start](bool busy) {
            if (busy)
                return;
            once->deleteLater();
            start(spec);
        });
        return;
    }
    start(spec);
}

void MainWindow::startSweep(const Lesson& lesson)
{
    std::optional<SweepRequest> req = lesson.sweepRequest();
    if (!req)
        return;
    req->repeats = measurementRepeats();
    m_sweepChart->clear();
    QDockWidget* d = dock(QStringLiteral("sweepDock"));
    d->show();
    raiseDock(this, d);
    m_sweep->start(*req);
}

void MainWindow::startFromControlsOrLesson()
{
    QDockWidget* d = dock(QStringLiteral("lessonDock"));
    if (d->isVisible() && m_lesson->hasLesson()) {
        if (auto* run = m_lesson->findChild<QPushButton*>(QStringLiteral("runButton"))) {
            run->click(); // reveals "what to look for", as in class
            return;
        }
    }
    startFromControls();
}

bool MainWindow::openLesson(const QString& idOrNumber)
{
    if (!m_lesson->selectLesson(idOrNumber))
        return false;
    // (the lesson already selected emits no lessonChanged: calibrate it here)
    const bool program = m_lesson->currentLesson().scenario.isProgram();
    if (pacingOn() && !program) {
        const Lesson& l = m_lesson->currentLesson();
        if (const auto known = m_pacer->pace(l.id))
            m_lesson->setPacing(known->description);
        else
            m_pacer->calibrate(l);
    }
    QDockWidget* d = dock(QStringLiteral("lessonDock"));
    d->show();
    raiseDock(this, d);
    if (!isVisible())
        m_raiseOnShow = d; // tabs are laid out on the first show: raise it then
    if (!program) {        // a program lesson's pools are its script's own
        m_controls->setSpec(m_lesson->currentLesson().scenario.runSpec());
        preparePool();
    }
    return true;
}

void MainWindow::buildStatusBar()
{
    auto make = [this](const QString& name, const QString& tip) {
        auto* l = new QLabel(this);
        l->setObjectName(name);
        l->setToolTip(tip);
        l->setTextFormat(Qt::PlainText);
        statusBar()->addPermanentWidget(l);
        return l;
    };
    m_poolLabel = make(QStringLiteral("poolLabel"), tr("The pool the runs go to."));
    m_countersLabel =
        make(QStringLiteral("countersLabel"),
             tr("Exact counters of the pool (never sampled): every task is counted once."));
    m_rateLabel = make(QStringLiteral("rateLabel"), tr("Completed tasks per second."));
    m_droppedLabel = make(QStringLiteral("droppedLabel"),
                          tr("Finished tasks whose record was lost because the window fell "
                             "behind and a worker's staging was full. Counters stay exact."));
    m_droppedLabel->hide();
    m_notShownLabel = make(QStringLiteral("notShownLabel"),
                           tr("The run's record keeps every task up to its limit (View > Record "
                              "limit), then a uniform sample of them; counters stay exact."));
    m_notShownLabel->hide();
}

void MainWindow::applyDefaultLayout()
{
    // Left column: workers, queue, completed futures. Right: timeline on top,
    // then per-core CPU | throughput | Mandelbrot.
    auto d = [this](const char* n) { return dock(QLatin1String(n)); };
    for (QDockWidget* w : m_docks) {
        removeDockWidget(w);
        w->setFloating(false);
    }
    addDockWidget(Qt::LeftDockWidgetArea, d("workersDock"));
    addDockWidget(Qt::RightDockWidgetArea, d("timelineDock"));
    splitDockWidget(d("workersDock"), d("queueDock"), Qt::Vertical);
    splitDockWidget(d("queueDock"), d("futuresDock"), Qt::Vertical);
    splitDockWidget(d("timelineDock"), d("cpuDock"), Qt::Vertical);
    splitDockWidget(d("cpuDock"), d("throughputDock"), Qt::Horizontal);
    // The Mandelbrot image shares a tab with Throughput; a mandelbrot run
    // raises it (startSpec).
    tabifyDockWidget(d("throughputDock"), d("mandelbrotDock"));
    // Teaching docks, closed until used: the lesson and its analysis as tabs
    // over the queue.
    if (d("lessonDock")) {
        tabifyDockWidget(d("queueDock"), d("lessonDock"));
        tabifyDockWidget(d("lessonDock"), d("analysisDock"));
    }
    // A/B and Replay have timelines of their own, and a sweep runs on pools
    // of its own (the live timeline shows nothing of it): tabs over the live
    // timeline, where there is room for them.
    if (d("abDock")) {
        tabifyDockWidget(d("timelineDock"), d("sweepDock"));
        tabifyDockWidget(d("sweepDock"), d("abDock"));
        tabifyDockWidget(d("abDock"), d("replayDock"));
    }
    for (QDockWidget* w : m_docks)
        w->setVisible(m_panels.contains(w));
    raiseDock(this, d("throughputDock"));
    raiseDock(this, d("queueDock"));
    raiseDock(this, d("timelineDock"));
    resizeDocks({d("workersDock"), d("timelineDock")}, {600, 1000}, Qt::Horizontal);
    resizeDocks({d("workersDock"), d("queueDock"), d("futuresDock")}, {200, 290, 350},
                Qt::Vertical);
    resizeDocks({d("timelineDock"), d("cpuDock")}, {450, 390}, Qt::Vertical);
    resizeDocks({d("cpuDock"), d("throughputDock")}, {560, 440}, Qt::Horizontal);
}

void MainWindow::showAllPanels()
{
    QDockWidget* mandel = dock(QStringLiteral("mandelbrotDock"));
    removeDockWidget(mandel);
    splitDockWidget(dock(QStringLiteral("throughputDock")), mandel, Qt::Horizontal);
    for (QDockWidget* d : m_panels) {
        d->setFloating(false);
        d->show();
    }
}

void MainWindow::resetLayout()
{
    m_controlToolBar->show();
    m_slowToolBar->show();
    applyDefaultLayout();
}

// ------------------------------------------------------------------ state

void MainWindow::updateActions()
{
    const bool valid =
        m_controls->problem().isEmpty() && m_controller->check(m_controls->spec()).isEmpty();
    const bool pool = m_controller->hasPool() && !m_controller->executor()->isShutdown();
    const bool busy = m_controller->isRunning();
    action(QStringLiteral("start"))->setEnabled(valid);
    action(QStringLiteral("pause"))->setEnabled(pool);
    action(QStringLiteral("cancel"))->setEnabled(busy);
    action(QStringLiteral("stop"))->setEnabled(busy);
    action(QStringLiteral("shutdown"))->setEnabled(pool);
    action(QStringLiteral("step"))->setEnabled(pool && m_controller->isPaused());
    if (m_attach) {
        action(QStringLiteral("detach"))->setEnabled(m_attach->isAttached());
        if (const AttachedPool* watched = m_attach->pool(); watched && m_attach->isAttached()) {
            // Another program's pool: only what it allowed (the banner says which).
            const bool live = !m_attach->programEnded();
            action(QStringLiteral("pause"))
                ->setEnabled(live && watched->allows(QStringLiteral("pause")));
            action(QStringLiteral("step"))
                ->setEnabled(live && watched->allows(QStringLiteral("step"))
                             && m_controller->isPaused());
            action(QStringLiteral("cancel"))
                ->setEnabled(live && watched->allows(QStringLiteral("cancel_pending")));
            action(QStringLiteral("stop"))->setEnabled(false);
            action(QStringLiteral("shutdown"))->setEnabled(false);
        }
    }
    if (m_programRun && m_programRun->isRunning())
        action(QStringLiteral("stop"))->setEnabled(true); // kills the lesson's script
    const bool haveRun = !m_lastRun.record->empty();
    action(QStringLiteral("keepAsA"))->setEnabled(haveRun);
    action(QStringLiteral("keepAsB"))->setEnabled(haveRun);
    action(QStringLiteral("replayLastRun"))->setEnabled(haveRun);
    action(QStringLiteral("runAB"))
        ->setEnabled(m_lesson->hasLesson() && m_lesson->currentLesson().compare.has_value());
}

void MainWindow::updateHint()
{
    QString text = m_controls->problem();
    if (text.isEmpty())
        text = m_controller->check(m_controls->spec());
    if (text.isEmpty())
        text = m_controls->refusedHint();
    if (text.isEmpty())
        text = m_lastError;
    m_controls->showHint(text);
}

void MainWindow::preparePool()
{
    if (m_controller->isRunning() || !m_controls->problem().isEmpty())
        return;
    const RunSpec s = m_controls->spec();
    const PoolConfig want{s.poolKind, s.workers, s.gil, s.switchIntervalMs};
    if (m_controller->check(s).isEmpty())
        m_controller->configurePool(want);
}

void MainWindow::startFromControls()
{
    const QString why = m_controls->problem();
    if (!why.isEmpty()) { // refused here: bad input never reaches the core
        m_controls->showHint(why);
        return;
    }
    startSpec(m_controls->spec());
}

quint64 MainWindow::startSpec(const RunSpec& spec)
{
    m_controls->setSpec(spec);
    m_lastError.clear();
    // Slow motion changes the submitted run, not the controls: turning it
    // off gives the normal run back.
    RunSpec submitted = spec;
    const int factor = m_slowMotion->factor();
    if (factor > 1) {
        const SlowMotionResult r = SlowMotion::apply(spec.workload, spec.run, factor);
        submitted.run = r.run;
        statusBar()->showMessage(tr("Slow motion %1x: %2").arg(factor).arg(r.description), 8000);
    }
    const quint64 id = m_controller->start(submitted);
    if (id && spec.workload == QLatin1String("mandelbrot")) {
        m_mandelbrot->clear();
        m_mandelbrotRun = id;
        if (QDockWidget* d = dock(QStringLiteral("mandelbrotDock"))) {
            d->show();
            raiseDock(this, d);
        }
    }
    updateHint();
    updateActions();
    return id;
}

// -------------------------------------------------------------- snapshots

void MainWindow::setProfiling(bool on)
{
    m_profiling = on;
    m_tickCosts.clear();
}

qint64 MainWindow::threadCpuNs() const
{
    if (!m_profiling)
        return 0;
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return qint64(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void MainWindow::onSnapshot(const Snapshot& s)
{
    // A tick feeds the views in three events, not one: the cheap panels and
    // the status bar now, the futures table next, then the timeline and the
    // charts. Each is a few ms at 2-4 M tasks/s; together they were 10-15 ms
    // in one event, which input and paints had to wait for (docs/gui.md,
    // "The window under load"). Each view still sees every snapshot, in order.
    auto cost = std::make_shared<TickCost>();
    QElapsedTimer clock;
    clock.start();
    const qint64 cpu0 = threadCpuNs();
    qint64 mark = cpu0;
    auto lap = [&](qint64& into) {
        const qint64 now = threadCpuNs();
        into = now - mark;
        mark = now;
    };
    // How busy the whole machine is while runs are active (RunContext::
    // systemCpuBusy: tells waiting for I/O from waiting for a core).
    if (m_controller->isRunning()) {
        for (const CpuUsage& u : s.freshCpu()) {
            if (u.valid && u.total >= 0) {
                m_cpuBusySum += u.total;
                ++m_cpuBusyTicks;
            }
        }
    }
    m_queueModel->applySnapshot(s);
    lap(cost->queueNs);
    m_workersModel->applySnapshot(s);
    if (m_workersModel->hasHosts() == m_workersView->isColumnHidden(WorkersModel::HostColumn)) {
        m_workersView->setColumnHidden(WorkersModel::HostColumn, !m_workersModel->hasHosts());
        m_workersView->setColumnHidden(WorkersModel::RankColumn, !m_workersModel->hasHosts());
    }
    lap(cost->workersNs);
    updateStatus(s);
    lap(cost->statusNs);
    cost->wallNs = clock.nsecsElapsed();
    cost->totalNs = threadCpuNs() - cpu0;

    auto snap = std::make_shared<const Snapshot>(s);
    QMetaObject::invokeMethod(
        this,
        [this, snap, cost] {
            QElapsedTimer stage;
            stage.start();
            const qint64 c0 = threadCpuNs();
            applyFutures(*snap);
            cost->futuresNs = threadCpuNs() - c0;
            cost->totalNs += cost->futuresNs;
            cost->wallNs += stage.nsecsElapsed();
            QMetaObject::invokeMethod(
                this,
                [this, snap, cost] {
                    QElapsedTimer stage2;
                    stage2.start();
                    qint64 c = threadCpuNs();
                    m_timeline->applySnapshot(*snap);
                    cost->timelineNs = threadCpuNs() - c;
                    c += cost->timelineNs;
                    applyCharts(*snap);
                    cost->chartsNs = threadCpuNs() - c;
                    cost->totalNs += cost->timelineNs + cost->chartsNs;
                    cost->wallNs += stage2.nsecsElapsed();
                    if (m_profiling)
                        m_tickCosts.push_back(*cost);
                    m_viewsSnapshotNs = snap->timeNs;
                    emit viewsUpdated();
                },
                Qt::QueuedConnection);
        },
        Qt::QueuedConnection);
}

void MainWindow::applyFutures(const Snapshot& s)
{
    const bool follow =
        m_followFutures && m_futuresView->horizontalHeader()->sortIndicatorSection() < 0;
    m_futuresModel->applySnapshot(s);
    if (follow && s.newRows > 0) {
        m_scrollingFutures = true;
        m_futuresView->scrollToBottom();
        m_scrollingFutures = false;
    }
}

void MainWindow::applyCharts(const Snapshot& s)
{
    m_perCore->applySnapshot(s);
    m_hostCpu->applySnapshot(s);
    if (const bool hosts = m_hostCpu->hostCount() > 0; hosts != m_hostCpu->isVisibleTo(this)) {
        m_hostCpu->setVisible(hosts);
        m_perCore->setVisible(!hosts);
    }
    m_throughput->applySnapshot(s);
    m_queueChart->applySnapshot(s);
    setTextIfChanged(
        m_rateLabel,
        tr("%1 tasks/s").arg(QLocale().toString(qint64(m_throughput->lastTasksPerSecond()))));
}

void MainWindow::updateStatus(const Snapshot& s)
{
    const QLocale l;
    setTextIfChanged(m_queueFooter, m_queueModel->footerText());
    const Counters& c = s.counters;
    setTextIfChanged(m_countersLabel,
                     tr("submitted %1 | queued %2 | running %3 | done %4 | failed %5 | "
                        "cancelled %6")
                         .arg(l.toString(c.submitted), l.toString(c.queued), l.toString(c.running),
                              l.toString(c.succeeded), l.toString(c.failed),
                              l.toString(c.cancelled)));
    m_droppedLabel->setVisible(c.droppedEvents > 0);
    if (c.droppedEvents > 0)
        setTextIfChanged(m_droppedLabel,
                         tr("%1 tasks not recorded").arg(l.toString(c.droppedEvents)));
    showSampling(s);
    QString pool = tr("%1 pool | %2/%3 workers")
                       .arg(s.poolKind == QLatin1String("process") ? tr("process")
                            : s.poolKind == QLatin1String("mpi")   ? tr("MPI")
                            : s.poolKind == QLatin1String("thread") || s.poolKind.isEmpty()
                                ? tr("thread")
                                : s.poolKind) // a watched program's: python-thread ...
                       .arg(s.workerCount)
                       .arg(s.maxWorkers);
    if (s.poolKind == QLatin1String("thread") && m_controller->poolConfig().gil)
        pool += tr(" | GIL %1 ms").arg(m_controller->poolConfig().switchIntervalMs);
    if (s.paused)
        pool += tr(" | PAUSED");
    if (s.shutdown)
        pool += tr(" | shut down");
    setTextIfChanged(m_poolLabel, pool);
}

void MainWindow::showSampling(const Snapshot& s)
{
    // The run's record past its limit: the table and timeline show a
    // sample, and say so; the counters never are one.
    const QString note = s.record ? s.record->samplingNote() : QString();
    m_notShownLabel->setVisible(!note.isEmpty());
    if (!note.isEmpty())
        setTextIfChanged(m_notShownLabel, note);
}

void MainWindow::updateFuturesLabel()
{
    const FuturesModel& m = *m_futuresModel;
    const QLocale l;
    QString text;
    if (m.record() && m.runTasks() > 0) {
        const QString note = m.sampleNote();
        const quint64 held = m.record()->size();
        text = note.isEmpty() ? tr("%1 tasks").arg(l.toString(held)) : note;
        if (m.isFiltered())
            text = tr("%1 shown (filter) of %2").arg(l.toString(m.rowCount()), text);
    }
    setTextIfChanged(m_tableLabel, text);
    const QString tip =
        tr("Every completed task of the run, up to the record limit (%1 tasks); past it a "
           "uniform sample, which this label then names. The status bar counts are exact.")
            .arg(l.toString(m_controller->monitor()->options().recordLimit));
    if (m_tableLabel->toolTip() != tip)
        m_tableLabel->setToolTip(tip);
}

void MainWindow::onResults(const QList<TaskResult>& results)
{
    QList<QCborValue> tiles;
    for (const TaskResult& r : results) {
        if (r.runId == m_mandelbrotRun && r.workload == QLatin1String("mandelbrot"))
            tiles.append(r.value);
    }
    if (!tiles.isEmpty())
        m_mandelbrot->addTiles(tiles); // one repaint per tick
}

void MainWindow::onRunFinished(const RunSummary& summary)
{
    statusBar()->showMessage(summary.text(), 20000);
    updateActions();
    const RunInfo info = m_runs.take(summary.runId);
    RunContext ctx;
    ctx.workers = summary.workers;
    ctx.cores = QThread::idealThreadCount();
    ctx.gil = summary.poolKind == QLatin1String("thread") && m_controller->poolConfig().gil;
    const qint64 ticks = m_cpuBusyTicks - info.cpuBusyTicks;
    if (ticks > 0)
        ctx.systemCpuBusy = (m_cpuBusySum - info.cpuBusySum) / double(ticks);
    m_lastContext = ctx;
    // What limited this run: its record (every task; a sample past the
    // limit, with exact totals).
    const std::shared_ptr<RunRecord> record = m_controller->monitor()->record();
    m_analysis->analyse(*record, ctx);
    // Who else had the cores: other programs, and this window's drawing
    // when the workers wanted every core (a 2-worker CPU-bound run on 2
    // cores cannot reach 2x while the window draws it).
    m_analysis->setBusyText(summary.busyText(), summary.sharedText());
    // The timeline stops following and keeps the finished run framed (it
    // scrolled away within seconds); L or Ctrl+L brings it back.
    if (!m_controller->isRunning()) {
        const RunTotals& t = record->totals();
        if (t.firstNs > 0 && t.lastEndNs > t.firstNs) {
            m_timeline->showRun(t.firstNs, t.lastEndNs);
            frameCharts({t.firstNs, t.lastEndNs, 0});
        }
    }
    // In a lesson, the analysis is part of "observe": open it (as a tab).
    if (dock(QStringLiteral("lessonDock"))->isVisible())
        dock(QStringLiteral("analysisDock"))->show();

    // Keep it: this run's record as a trace, for replay and A/B (shared,
    // not copied: the next Start begins a new record).
    TraceData trace = m_controller->monitor()->traceData(summary.text());
    trace.counters.clear();
    m_lastRun = std::move(trace);
    const RunSpec& rs = info.spec;
    m_lastRunLabel = tr("%1 on %2 %3%4%5")
                         .arg(summary.workload)
                         .arg(summary.workers)
                         .arg(summary.poolKind == QLatin1String("process")
                                  ? (summary.workers == 1 ? tr("process") : tr("processes"))
                                  : (summary.workers == 1 ? tr("thread") : tr("threads")))
                         .arg(ctx.gil ? tr(", GIL on") : QString())
                         .arg(rs.chunkSize > 1 ? tr(", chunk %1").arg(rs.chunkSize) : QString());
    updateActions();
    if (info.abSlot >= 0 && !m_lastRun.record->empty()) {
        m_ab->addRun(info.abSlot == 0 ? ABCompare::Slot::A : ABCompare::Slot::B, m_lastRun,
                     info.abLabel.isEmpty() ? m_lastRunLabel
                                            : info.abLabel + QStringLiteral(": ") + m_lastRunLabel,
                     summary.otherCores);
        showDock(QStringLiteral("abDock"));
    }
    // The class's prediction meets the measurement: the A/B ratio once B
    // ran, else this run's time.
    if (info.abSlot == 1 && !m_ab->comparisonText().isEmpty())
        m_lesson->setMeasured(m_ab->comparisonText());
    else
        m_lesson->setMeasured(tr("%1 took %2 s (%3 tasks/s)")
                                  .arg(m_lastRunLabel)
                                  .arg(summary.wallSeconds, 0, 'f', 2)
                                  .arg(summary.tasksPerSecond, 0, 'f', 1));
    if (!m_abPlan.isEmpty() && summary.runId == m_abPlanRun) {
        m_abPlanRun = 0;
        if (summary.cancelled > 0) { // stopped or cancelled by the user: no more
            m_abPlan.clear();
            statusBar()->showMessage(tr("The A/B run was stopped: the runs after it were not "
                                        "started"),
                                     10000);
        } else {
            // This run is done: the next alone on the machine (never two at once).
            QTimer::singleShot(0, this, [this] { runNextABStep(); });
        }
    }
}

void MainWindow::onError(const QString& message)
{
    m_lastError = message;
    m_controls->showHint(message);
    statusBar()->showMessage(message, 10000);
}

QString MainWindow::statusText() const
{
    QStringList parts;
    for (QLabel* l : {m_poolLabel, m_countersLabel, m_rateLabel, m_droppedLabel, m_notShownLabel}) {
        if (!l->isHidden() && !l->text().isEmpty())
            parts << l->text();
    }
    return parts.join(QStringLiteral(" | "));
}

// ------------------------------------------------------------ futures UI

void MainWindow::showDetails(const QModelIndex& index)
{
    if (!index.isValid())
        return;
    const int row = index.row();
    if (row < 0 || row >= m_futuresModel->rowCount())
        return;
    auto* dlg = new QDialog(this);
    dlg->setObjectName(QStringLiteral("futureDetails"));
    dlg->setAttribute(Qt::WA_DeleteOnClose);
    dlg->setWindowTitle(tr("Task %1").arg(m_futuresModel->taskRecord(row).span.taskId));
    auto* text = new QPlainTextEdit(dlg);
    text->setObjectName(QStringLiteral("detailsText"));
    text->setReadOnly(true);
    text->setPlainText(m_futuresModel->detailsText(row));
    text->setLineWrapMode(QPlainTextEdit::WidgetWidth);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, dlg);
    QPushButton* copy = buttons->addButton(tr("Copy"), QDialogButtonBox::ActionRole);
    connect(copy, &QPushButton::clicked, text,
            [text] { QApplication::clipboard()->setText(text->toPlainText()); });
    connect(buttons, &QDialogButtonBox::rejected, dlg, &QDialog::close);
    auto* lay = new QVBoxLayout(dlg);
    lay->addWidget(text);
    lay->addWidget(buttons);
    dlg->resize(560, 360);
    dlg->show();
}

void MainWindow::selectTask(quint64 taskId)
{
    const int row = m_futuresModel->rowOfTask(taskId);
    if (row < 0) {
        statusBar()->showMessage(
            m_futuresModel->isFiltered()
                ? tr("task %1 is not in the completed futures table: the filter hides it")
                      .arg(taskId)
                : tr("task %1 is not in the completed futures table (%2)")
                      .arg(taskId)
                      .arg(m_futuresModel->sampleNote().isEmpty() ? tr("not finished yet")
                                                                  : m_futuresModel->sampleNote()),
            5000);
        return;
    }
    const QModelIndexList hits{m_futuresModel->index(row, 0)};
    if (QDockWidget* d = dock(QStringLiteral("futuresDock"))) {
        d->show();
        raiseDock(this, d);
    }
    m_futuresView->selectRow(hits.first().row());
    m_futuresView->scrollTo(hits.first(), QAbstractItemView::PositionAtCenter);
}

// ---------------------------------------------------------------- files

bool MainWindow::exportTraceTo(const QString& path)
{
    return m_controller->exportTrace(path);
}

bool MainWindow::exportCsvTo(const QString& path)
{
    return m_controller->exportCsv(path);
}

bool MainWindow::saveWidgetPng(QWidget* widget, const QString& path)
{
    const QPixmap pm = widget->grab();
    if (pm.isNull() || !pm.save(path, "PNG")) {
        onError(tr("could not save the PNG to %1").arg(QDir::toNativeSeparators(path)));
        return false;
    }
    statusBar()->showMessage(tr("saved %1").arg(QDir::toNativeSeparators(path)), 5000);
    return true;
}

// -------------------------------------------------------------- settings

void MainWindow::saveSettings()
{
    QSettings st(QStringLiteral("PoolScope"), QStringLiteral("PoolScope"));
    m_controls->save(st);
    st.setValue(QStringLiteral("teaching/slowMotion"), m_slowMotion->factor());
    st.setValue(QStringLiteral("record/limit"), recordLimit());
    st.setValue(QStringLiteral("view/pythonErrors"),
                action(QStringLiteral("pythonErrors"))->isChecked());
    st.setValue(QStringLiteral("view/yieldWhenBusy"),
                action(QStringLiteral("yieldWhenBusy"))->isChecked());
    st.setValue(QStringLiteral("teach/repeatMeasurements"), m_repeatAction->isChecked());
    st.setValue(QStringLiteral("teach/lessonPacing"), m_pacingAction->isChecked());
    st.setValue(QStringLiteral("window/geometry"), saveGeometry());
    // The layout the user made, not the projector one presenter mode shows.
    st.setValue(QStringLiteral("window/state"), m_layoutBeforePresenter.isEmpty()
                                                    ? saveState(kStateVersion)
                                                    : m_layoutBeforePresenter);
}

void MainWindow::restoreSettings()
{
    QSettings st(QStringLiteral("PoolScope"), QStringLiteral("PoolScope"));
    m_controls->restore(st);
    m_slowMotion->setFactor(st.value(QStringLiteral("teaching/slowMotion"), 1).toInt());
    action(QStringLiteral("pythonErrors"))
        ->setChecked(st.value(QStringLiteral("view/pythonErrors"), true).toBool());
    action(QStringLiteral("yieldWhenBusy"))
        ->setChecked(st.value(QStringLiteral("view/yieldWhenBusy"), true).toBool());
    m_repeatAction->setChecked(st.value(QStringLiteral("teach/repeatMeasurements"), true).toBool());
    m_pacingAction->setChecked(st.value(QStringLiteral("teach/lessonPacing"), true).toBool());
    const quint64 limit =
        st.value(QStringLiteral("record/limit"), RunRecord::kDefaultLimit).toULongLong();
    if (limit >= 1 && limit <= RunRecord::kMaxLimit)
        m_controller->monitor()->setRecordLimit(limit);
    if (!restoreGeometry(st.value(QStringLiteral("window/geometry")).toByteArray()))
        resize(defaultSize());
    else if (const QScreen* sc = screen()) // saved on a larger screen: fit this one
        resize(size().boundedTo(sc->availableSize()));
    restoreState(st.value(QStringLiteral("window/state")).toByteArray(), kStateVersion);
}

void MainWindow::setPresenterLayout(bool on)
{
    if (on) {
        // A projector layout: the lesson, the timeline, the A/B result and
        // the CPU chart, large; the rest (workers, queue, futures, ...) is
        // one View menu click away. Off puts the layout back as it was.
        m_layoutBeforePresenter = saveState(kStateVersion);
        applyPresenterMode(this, true);
        static const QStringList kept{QStringLiteral("lessonDock"), QStringLiteral("timelineDock"),
                                      QStringLiteral("abDock"), QStringLiteral("cpuDock")};
        for (QDockWidget* d : m_docks) {
            if (!kept.contains(d->objectName()))
                d->hide();
        }
        if (m_lesson->hasLesson() && !dock(QStringLiteral("lessonDock"))->isHidden())
            raiseDock(this, dock(QStringLiteral("lessonDock")));
        raiseDock(this, dock(QStringLiteral("timelineDock")));
        return;
    }
    applyPresenterMode(this, false);
    if (!m_layoutBeforePresenter.isEmpty())
        restoreState(m_layoutBeforePresenter, kStateVersion);
    m_layoutBeforePresenter.clear();
}

QSize MainWindow::defaultSize() const
{
    // 1600x1000 where it fits, else the screen (a 1280x720 projector).
    const QScreen* sc = screen();
    return sc ? QSize(1600, 1000).boundedTo(sc->availableSize()) : QSize(1600, 1000);
}

void MainWindow::showEvent(QShowEvent* event)
{
    QMainWindow::showEvent(event);
    if (m_raiseOnShow) {
        QTimer::singleShot(0, this, [this, d = m_raiseOnShow] { raiseDock(this, d); });
        m_raiseOnShow = nullptr;
    }
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    if (m_opts.useSettings)
        saveSettings();
    m_controller->stop();
    QMainWindow::closeEvent(event);
}

bool MainWindow::event(QEvent* event)
{
    const bool r = QMainWindow::event(event);
    if (!m_painted && event->type() == QEvent::Paint) {
        m_painted = true;
        // Queued: runs once this paint pass (children included) is done.
        QMetaObject::invokeMethod(this, &MainWindow::firstPainted, Qt::QueuedConnection);
    }
    return r;
}

} // namespace poolscope
