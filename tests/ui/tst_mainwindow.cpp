// MainWindow on the offscreen platform: every panel exists, the controls and
// buttons drive the RunController and the views follow, bad input is refused
// in the widgets with a visible hint, shortcuts and settings work. No fixed
// sleeps: QSignalSpy + QTRY_* on observable state.
#include <charts/chartadapter.h>
#include <charts/percorechart.h>
#include <charts/throughputchart.h>
#include <controlbar.h>
#include <mainwindow.h>
#include <mandelbrot/mandelbrotview.h>
#include <models/futuresmodel.h>
#include <models/queuemodel.h>
#include <models/workersmodel.h>
#include <runcontroller.h>
#include <teaching/analysispanel.h>
#include <teaching/decompositionbar.h>
#include <teaching/lesson.h>
#include <timeline/timelinewidget.h>

#include <poolscope/executor.h>

#include <QAbstractItemModelTester>
#include <QAction>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QDialog>
#include <QDockWidget>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTabBar>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QToolButton>

#include <memory>

using namespace poolscope;

namespace {
constexpr int kLong = 60'000;

std::unique_ptr<MainWindow> makeWindow(bool settings = false)
{
    MainWindow::Options o;
    o.useSettings = settings;
    auto w = std::make_unique<MainWindow>(o);
    w->show();
    return w;
}

QToolButton* button(MainWindow& w, const char* action)
{
    return w.controlBar()->findChild<QToolButton*>(QLatin1String(action) + QLatin1String("Button"));
}

QLineEdit* editorOf(QWidget* spin)
{
    return spin->findChild<QLineEdit*>();
}

void chooseWorkload(MainWindow& w, const QString& name)
{
    QComboBox* c = w.controlBar()->workloadCombo();
    c->setCurrentIndex(c->findData(name));
    QCOMPARE(w.controlBar()->spec().workload, name);
}

/// Clears an editor the way a user does (select all, delete), then types keys.
void retype(QWidget* spin, const QString& keys)
{
    QLineEdit* le = editorOf(spin);
    QVERIFY(le);
    le->selectAll();
    QTest::keyClick(le, Qt::Key_Backspace);
    if (!keys.isEmpty())
        QTest::keyClicks(le, keys);
}
} // namespace

class TstMainWindow : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void buildsWithAllPanels();
    void workersSliderResizesLivePool();
    void buttonsDriveTheControllerAndViewsFollow();
    void badInputIsRefusedWithHint_data();
    void badInputIsRefusedWithHint();
    void outOfRangeKeystrokesAreRefused();
    void workloadDescriptionIsShown();
    void crossFieldProblemsAreHinted();
    void shortcutsExist_data();
    void shortcutsExist();
    void keyboardDrivesARun();
    void shutdownFromTheWindowEndsThePool();
    void mandelbrotTilesReachTheView();
    void doubleClickOpensDetails();
    void panelsShowTheRun();
    void viewsTakeEachSnapshotInStages();
    void futuresFollowNewRowsUntilScrolledAway();
    void exportsFromTheWindow();
    void futuresSayWhenTheyAreASample_data();
    void futuresSayWhenTheyAreASample();
    void lessonRunsFromItsPanel();
    void settingsPersist();
    void chartsDropAntialiasingWhileDrawingLight();

private:
    QTemporaryDir m_settingsDir;
};

void TstMainWindow::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_settingsDir.isValid());
    // Never touch the user's settings.
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_settingsDir.path());
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_settingsDir.path());
    qputenv("POOLSCOPE_WORKER", POOLSCOPE_WORKER_PATH);
}

void TstMainWindow::buildsWithAllPanels()
{
    auto w = makeWindow();
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    const QStringList expected = {QStringLiteral("queueDock"),     QStringLiteral("workersDock"),
                                  QStringLiteral("cpuDock"),       QStringLiteral("timelineDock"),
                                  QStringLiteral("futuresDock"),   QStringLiteral("throughputDock"),
                                  QStringLiteral("mandelbrotDock")};
    const QStringList teaching = {QStringLiteral("lessonDock"), QStringLiteral("analysisDock"),
                                  QStringLiteral("sweepDock"), QStringLiteral("abDock"),
                                  QStringLiteral("replayDock")};
    QCOMPARE(w->docks().size(), expected.size() + teaching.size());
    for (const QString& name : teaching) { // there, but closed until a lesson needs them
        QVERIFY2(w->dock(name), qPrintable(name));
        QVERIFY2(!w->dock(name)->toggleViewAction()->isChecked(), qPrintable(name));
    }
    QMenu* view = nullptr;
    for (QAction* a : w->menuBar()->actions()) {
        if (a->text().remove(QLatin1Char('&')) == QLatin1String("View"))
            view = a->menu();
    }
    QVERIFY(view);
    for (const QString& name : expected) {
        QDockWidget* d = w->dock(name);
        QVERIFY2(d, qPrintable(name));
        QVERIFY(d->widget());
        // Open (a dock behind another's tab is open but not visible).
        QVERIFY2(d->toggleViewAction()->isChecked(), qPrintable(name));
        QVERIFY(d->features() & QDockWidget::DockWidgetMovable);
        QVERIFY(w->dockWidgetArea(d) != Qt::NoDockWidgetArea);
        QVERIFY2(view->actions().contains(d->toggleViewAction()), qPrintable(name));
    }
    // Toggling from the View menu hides and shows a panel; reset brings all back.
    QDockWidget* timeline = w->dock(QStringLiteral("timelineDock"));
    timeline->toggleViewAction()->trigger();
    QVERIFY(!timeline->isVisible());
    w->action(QStringLiteral("resetLayout"))->trigger();
    QVERIFY(timeline->isVisible());
    QVERIFY(!w->tabifiedDockWidgets(w->dock(QStringLiteral("throughputDock"))).isEmpty());
    // Models and views are in place and the controls made a pool already.
    QVERIFY(w->queueModel() && w->workersModel() && w->futuresModel());
    QVERIFY(w->timeline() && w->mandelbrot() && w->perCoreChart() && w->throughputChart());
    QVERIFY(w->controller()->hasPool());
    for (const char* a : {"start", "pause", "cancel", "stop", "shutdown"})
        QVERIFY2(button(*w, a), a);
}

void TstMainWindow::workersSliderResizesLivePool()
{
    auto w = makeWindow();
    ControlBar* cb = w->controlBar();
    QSlider* slider = cb->workersSlider();
    slider->setValue(3);
    QCOMPARE(cb->workersSpin()->value(), 3);
    QCOMPARE(w->controller()->executor()->maxWorkers(), 3);

    // While a run is going: the same pool grows.
    chooseWorkload(*w, QStringLiteral("sleep"));
    cb->tasksSpin()->setValue(30);
    cb->sizeSpin()->setValue(300);
    QTest::mouseClick(button(*w, "start"), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(w->controller()->isRunning(), kLong);
    Executor* pool = w->controller()->executor();
    QTRY_COMPARE_WITH_TIMEOUT(w->controller()->lastSnapshot().counters.running, quint64(3), kLong);
    slider->setValue(6);
    QCOMPARE(w->controller()->executor(), pool);
    QCOMPARE(pool->maxWorkers(), 6);
    QTRY_COMPARE_WITH_TIMEOUT(w->workersModel()->rowCount(), 6, kLong);
    QTRY_VERIFY_WITH_TIMEOUT(w->controller()->lastSnapshot().counters.running > 3, kLong);
    // The spin box drives it too, beyond the slider's range.
    cb->workersSpin()->setValue(slider->maximum() + 1);
    QCOMPARE(pool->maxWorkers(), slider->maximum() + 1);
    QCOMPARE(slider->value(), slider->maximum());
    w->controller()->stop();
    QTRY_VERIFY_WITH_TIMEOUT(!w->controller()->isRunning(), kLong);
}

void TstMainWindow::buttonsDriveTheControllerAndViewsFollow()
{
    auto w = makeWindow();
    RunController* c = w->controller();
    ControlBar* cb = w->controlBar();
    // The live model is checked by the model tester the whole time.
    QAbstractItemModelTester tester(w->futuresModel(),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy started(c, &RunController::runStarted);
    QSignalSpy finished(c, &RunController::runFinished);

    chooseWorkload(*w, QStringLiteral("sleep"));
    cb->tasksSpin()->setValue(60);
    cb->sizeSpin()->setValue(40);
    cb->workersSpin()->setValue(2);
    QVERIFY(!w->action(QStringLiteral("cancel"))->isEnabled()); // nothing to cancel yet
    QTest::mouseClick(button(*w, "start"), Qt::LeftButton);
    QCOMPARE(started.count(), 1);
    QVERIFY(c->isRunning());
    QVERIFY(w->action(QStringLiteral("cancel"))->isEnabled());
    QVERIFY(w->action(QStringLiteral("stop"))->isEnabled());

    // Completed futures appear and the row count grows.
    QTRY_VERIFY_WITH_TIMEOUT(w->futuresModel()->rowCount() >= 2, kLong);
    const int rowsBefore = w->futuresModel()->rowCount();
    QTRY_VERIFY_WITH_TIMEOUT(w->futuresModel()->rowCount() > rowsBefore, kLong);
    QTRY_VERIFY_WITH_TIMEOUT(w->queueModel()->rowCount() > 0, kLong);

    // Filtering while rows arrive (the tester watches every change).
    w->futuresSearch()->setText(QStringLiteral("sleep"));
    QTRY_COMPARE_WITH_TIMEOUT(w->futuresModel()->textFilter(), QStringLiteral("sleep"), kLong);
    QTRY_VERIFY_WITH_TIMEOUT(w->futuresModel()->rowCount() > 0, kLong);
    QTRY_VERIFY_WITH_TIMEOUT(w->futuresCountLabel()->text().contains(QStringLiteral("(filter)")),
                             kLong);
    w->futuresStatusCombo()->setCurrentIndex(
        w->futuresStatusCombo()->findData(int(FuturesModel::StatusFilter::Failed)));
    QCOMPARE(w->futuresModel()->rowCount(), 0); // sleep never fails
    w->futuresStatusCombo()->setCurrentIndex(0);
    QVERIFY(w->futuresModel()->rowCount() > 0);

    // Pause: the button drives the controller; the action reads "Resume".
    QTest::mouseClick(button(*w, "pause"), Qt::LeftButton);
    QVERIFY(c->isPaused());
    QCOMPARE(w->action(QStringLiteral("pause"))->text(), QStringLiteral("Resume"));
    QTRY_VERIFY_WITH_TIMEOUT(c->lastSnapshot().paused && c->lastSnapshot().counters.running == 0,
                             kLong);
    QVERIFY(w->statusText().contains(QStringLiteral("PAUSED")));
    const quint64 queued = c->lastSnapshot().counters.queued;
    QVERIFY(queued > 0);

    // Cancel pending: every queued task is cancelled; the run ends.
    QTest::mouseClick(button(*w, "cancel"), Qt::LeftButton);
    QTest::mouseClick(button(*w, "pause"), Qt::LeftButton); // resume
    QVERIFY(!c->isPaused());
    QCOMPARE(w->action(QStringLiteral("pause"))->text(), QStringLiteral("Pause"));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    const RunSummary s = finished.first().first().value<RunSummary>();
    QCOMPARE(s.cancelled, int(queued));
    QCOMPARE(s.succeeded + s.cancelled, 60);
    QTRY_VERIFY_WITH_TIMEOUT(
        w->statusText().contains(QStringLiteral("cancelled %1").arg(QLocale().toString(queued))),
        kLong);
    QVERIFY(!w->action(QStringLiteral("cancel"))->isEnabled());
    // Every task has its row, the cancelled ones too (they never started).
    QTRY_COMPARE_WITH_TIMEOUT(w->futuresModel()->rowCount(), 60, kLong);
    w->futuresStatusCombo()->setCurrentIndex(
        w->futuresStatusCombo()->findData(int(FuturesModel::StatusFilter::Cancelled)));
    QCOMPARE(w->futuresModel()->rowCount(), s.cancelled);
    QCOMPARE(w->futuresModel()->index(0, FuturesModel::WorkerColumn).data().toString(),
             QStringLiteral("— (never started)"));
}

void TstMainWindow::badInputIsRefusedWithHint_data()
{
    QTest::addColumn<QString>("editor");
    QTest::addColumn<QString>("keys");
    QTest::addColumn<QString>("needle");
    QTest::newRow("tasks empty") << "tasksSpin"
                                 << ""
                                 << "Tasks";
    QTest::newRow("tasks zero") << "tasksSpin"
                                << "0"
                                << "Tasks";
    QTest::newRow("size empty") << "sizeSpin"
                                << ""
                                << "Size";
    QTest::newRow("workers empty") << "workersSpin"
                                   << ""
                                   << "Workers";
    QTest::newRow("knob empty") << "knob_start"
                                << ""
                                << "start";
}

void TstMainWindow::badInputIsRefusedWithHint()
{
    QFETCH(QString, editor);
    QFETCH(QString, keys);
    QFETCH(QString, needle);
    auto w = makeWindow();
    chooseWorkload(*w, QStringLiteral("primes"));
    ControlBar* cb = w->controlBar();
    QVERIFY(!cb->isHintVisible());
    QVERIFY(w->action(QStringLiteral("start"))->isEnabled());
    QWidget* e = cb->findChild<QWidget*>(editor);
    QVERIFY2(e, qPrintable(editor));
    const RunSpec before = cb->spec();

    retype(e, keys);
    QVERIFY(cb->isHintVisible());
    QVERIFY2(cb->hint().contains(needle), qPrintable(cb->hint()));
    QVERIFY(cb->hintLabel()->isVisible());
    QVERIFY(!w->action(QStringLiteral("start"))->isEnabled());
    // Neither the button, the shortcut nor the slot reaches the core.
    QSignalSpy started(w->controller(), &RunController::runStarted);
    QTest::mouseClick(button(*w, "start"), Qt::LeftButton);
    QMetaObject::invokeMethod(w.get(), "startFromControls");
    QCOMPARE(started.count(), 0);
    QVERIFY(!w->controller()->isRunning());
    QCOMPARE(w->controller()->lastSnapshot().counters.submitted, quint64(0));

    // Fixing the input clears the hint and enables Start.
    retype(e, editor == QLatin1String("tasksSpin")     ? QString::number(before.run.tasks)
              : editor == QLatin1String("sizeSpin")    ? QString::number(before.run.size)
              : editor == QLatin1String("workersSpin") ? QString::number(before.workers)
                                                       : QStringLiteral("1000"));
    QVERIFY2(!cb->isHintVisible(), qPrintable(cb->hint()));
    QVERIFY(w->action(QStringLiteral("start"))->isEnabled());
}

void TstMainWindow::outOfRangeKeystrokesAreRefused()
{
    auto w = makeWindow();
    chooseWorkload(*w, QStringLiteral("primes"));
    ControlBar* cb = w->controlBar();
    const int maxTasks = Workloads::find(QStringLiteral("primes"))->maxTasks;
    QCOMPARE(cb->tasksSpin()->maximum(), maxTasks);
    QVERIFY(!cb->isHintVisible());
    retype(cb->tasksSpin(), QStringLiteral("99999999"));
    // The keys that would leave the range were refused, and the hint says why.
    QVERIFY(cb->tasksSpin()->value() <= maxTasks);
    QVERIFY(cb->tasksSpin()->hasAcceptableInput());
    QCOMPARE(cb->spec().run.tasks, cb->tasksSpin()->value());
    QVERIFY(cb->isHintVisible());
    QVERIFY(cb->hintLabel()->isVisible());
    const QString tasksHint = QStringLiteral("Tasks: max is %1").arg(QLocale().toString(maxTasks));
    QVERIFY2(cb->hint().contains(tasksHint), qPrintable(cb->hint()));
    // The value in the editor is still valid: Start stays enabled.
    QVERIFY(w->action(QStringLiteral("start"))->isEnabled());
    // The next accepted key clears the note.
    retype(cb->tasksSpin(), QStringLiteral("12"));
    QCOMPARE(cb->tasksSpin()->value(), 12);
    QVERIFY2(!cb->isHintVisible(), qPrintable(cb->hint()));

    const qint64 maxSize = Workloads::find(QStringLiteral("primes"))->maxSize;
    retype(cb->sizeSpin(), QStringLiteral("99999999999999"));
    QVERIFY(cb->sizeSpin()->value() <= maxSize);
    QVERIFY(cb->sizeSpin()->hasAcceptableInput());
    QVERIFY(cb->isHintVisible());
    QVERIFY2(
        cb->hint().contains(QStringLiteral("Size: max is %1").arg(QLocale().toString(maxSize))),
        qPrintable(cb->hint()));
    retype(cb->sizeSpin(), QStringLiteral("12x"));
    QCOMPARE(cb->sizeSpin()->value(), 12); // the letter was refused
    QVERIFY(cb->isHintVisible());
    QVERIFY2(cb->hint().contains(QStringLiteral("Size: only a whole number")),
             qPrintable(cb->hint()));
    // A workload change starts afresh.
    chooseWorkload(*w, QStringLiteral("sleep"));
    QVERIFY2(!cb->isHintVisible(), qPrintable(cb->hint()));
}

void TstMainWindow::workloadDescriptionIsShown()
{
    auto w = makeWindow();
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    ControlBar* cb = w->controlBar();
    QLabel* d = cb->descriptionLabel();
    QVERIFY(d);
    for (const char* name : {"primes", "sleep", "mandelbrot"}) {
        chooseWorkload(*w, QLatin1String(name));
        const Workload* wl = Workloads::find(QLatin1String(name));
        QVERIFY(!wl->description.isEmpty());
        QCOMPARE(d->text(), wl->description);
        QVERIFY2(d->isVisible(), name); // on screen, not only in a tooltip
    }
}

void TstMainWindow::crossFieldProblemsAreHinted()
{
    auto w = makeWindow();
    ControlBar* cb = w->controlBar();
    // A Mandelbrot image taller than the workload allows.
    chooseWorkload(*w, QStringLiteral("mandelbrot"));
    cb->tasksSpin()->setValue(65'536);
    cb->sizeSpin()->setValue(48);
    QVERIFY(cb->isHintVisible());
    QVERIFY2(cb->hint().contains(QStringLiteral("65536")), qPrintable(cb->hint()));
    QVERIFY(!w->action(QStringLiteral("start"))->isEnabled());
    cb->tasksSpin()->setValue(16);
    QVERIFY2(!cb->isHintVisible(), qPrintable(cb->hint()));

    // Crash needs processes: the pool switches; back to threads is refused.
    chooseWorkload(*w, QStringLiteral("crash"));
    QCOMPARE(cb->spec().poolKind, QStringLiteral("process"));
    QVERIFY2(!cb->isHintVisible(), qPrintable(cb->hint()));
    cb->poolCombo()->setCurrentIndex(cb->poolCombo()->findData(QStringLiteral("thread")));
    QVERIFY(cb->isHintVisible());
    QVERIFY2(cb->hint().contains(QStringLiteral("process pool")), qPrintable(cb->hint()));
    QVERIFY(!w->action(QStringLiteral("start"))->isEnabled());
    // The GIL only makes sense for threads; chunks work on both pool kinds,
    // but not for the pipeline (it submits its own two-stage tasks).
    cb->poolCombo()->setCurrentIndex(cb->poolCombo()->findData(QStringLiteral("process")));
    QVERIFY(!cb->gilCheck()->isEnabled());
    QVERIFY(cb->chunkSpin()->isEnabled());
    chooseWorkload(*w, QStringLiteral("pipeline"));
    QVERIFY(!cb->chunkSpin()->isEnabled());
}

void TstMainWindow::shortcutsExist_data()
{
    QTest::addColumn<QString>("action");
    QTest::addColumn<QKeySequence>("keys");
    QTest::newRow("start") << "start" << QKeySequence(Qt::Key_F5);
    QTest::newRow("pause") << "pause" << QKeySequence(Qt::Key_Space);
    QTest::newRow("cancel") << "cancel" << QKeySequence(Qt::Key_Escape);
    QTest::newRow("stop") << "stop" << QKeySequence(Qt::SHIFT | Qt::Key_F5);
    QTest::newRow("shutdown") << "shutdown" << QKeySequence(Qt::SHIFT | Qt::Key_Escape);
    QTest::newRow("export trace") << "exportTrace" << QKeySequence(Qt::CTRL | Qt::Key_E);
    QTest::newRow("quit") << "quit" << QKeySequence(QKeySequence::Quit);
}

void TstMainWindow::shortcutsExist()
{
    QFETCH(QString, action);
    QFETCH(QKeySequence, keys);
    auto w = makeWindow();
    QAction* a = w->action(action);
    QVERIFY2(a, qPrintable(action));
    QCOMPARE(a->shortcut(), keys);
    QVERIFY(w->actions().contains(a)); // active whatever has focus
}

void TstMainWindow::keyboardDrivesARun()
{
    auto w = makeWindow();
    QApplication::setActiveWindow(w.get());
    QVERIFY(QTest::qWaitForWindowActive(w.get()));
    chooseWorkload(*w, QStringLiteral("sleep"));
    w->controlBar()->tasksSpin()->setValue(8);
    w->controlBar()->sizeSpin()->setValue(600'000); // only Stop ends it
    QSignalSpy started(w->controller(), &RunController::runStarted);
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QTest::keyClick(w.get(), Qt::Key_F5);
    QCOMPARE(started.count(), 1);
    QTRY_VERIFY_WITH_TIMEOUT(w->controller()->lastSnapshot().counters.running > 0, kLong);
    QTest::keyClick(w.get(), Qt::Key_F5, Qt::ShiftModifier);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    const RunSummary s = finished.first().first().value<RunSummary>();
    QCOMPARE(s.succeeded, 0);
    QCOMPARE(s.cancelled + s.failed, 8);

    // Space pauses the pool, except where it is text: the search box keeps it.
    QLineEdit* search = w->futuresSearch();
    search->setFocus();
    QTRY_COMPARE(QApplication::focusWidget(), search);
    QTest::keyClick(QApplication::focusWidget(), Qt::Key_Space);
    QCOMPARE(search->text(), QStringLiteral(" "));
    QVERIFY(!w->controller()->isPaused());
    w->futuresView()->setFocus();
    QTRY_COMPARE(QApplication::focusWidget(), w->futuresView());
    QTest::keyClick(QApplication::focusWidget(), Qt::Key_Space);
    QVERIFY(w->controller()->isPaused());
    QCOMPARE(w->action(QStringLiteral("pause"))->text(), QStringLiteral("Resume"));
}

void TstMainWindow::shutdownFromTheWindowEndsThePool()
{
    auto w = makeWindow();
    QApplication::setActiveWindow(w.get());
    QVERIFY(QTest::qWaitForWindowActive(w.get()));
    RunController* c = w->controller();
    chooseWorkload(*w, QStringLiteral("sleep"));
    w->controlBar()->tasksSpin()->setValue(8);
    w->controlBar()->sizeSpin()->setValue(600'000); // only Stop or Shutdown ends it
    w->controlBar()->workersSpin()->setValue(2);
    QSignalSpy finished(c, &RunController::runFinished);
    QSignalSpy poolChanged(c, &RunController::poolChanged);
    QTest::mouseClick(button(*w, "start"), Qt::LeftButton);
    QTRY_VERIFY_WITH_TIMEOUT(c->lastSnapshot().counters.running > 0, kLong);
    QVERIFY(w->action(QStringLiteral("shutdown"))->isEnabled());
    QVERIFY(!w->statusText().contains(QStringLiteral("shut down")));
    const int poolsBefore = poolChanged.count();

    // Shift+Esc: stop everything and shut the executor down.
    QTest::keyClick(w.get(), Qt::Key_Escape, Qt::ShiftModifier);
    QVERIFY(c->hasPool());
    QVERIFY(c->executor()->isShutdown());
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    const RunSummary s = finished.first().first().value<RunSummary>();
    QCOMPARE(s.succeeded, 0);
    QCOMPARE(s.cancelled + s.failed, 8);
    QVERIFY(!c->isRunning());
    // The views follow: status bar, disabled pool actions, no task running.
    QTRY_VERIFY_WITH_TIMEOUT(w->statusText().contains(QStringLiteral("shut down")), kLong);
    QTRY_COMPARE_WITH_TIMEOUT(c->lastSnapshot().counters.running, quint64(0), kLong);
    QVERIFY(!w->action(QStringLiteral("shutdown"))->isEnabled());
    QVERIFY(!w->action(QStringLiteral("pause"))->isEnabled());
    QVERIFY(!w->action(QStringLiteral("stop"))->isEnabled());
    QVERIFY(w->action(QStringLiteral("start"))->isEnabled());
    QCOMPARE(poolChanged.count(), poolsBefore); // no new pool until the next Start

    // The next Start makes a new pool and runs on it.
    w->controlBar()->sizeSpin()->setValue(5);
    QTest::mouseClick(button(*w, "start"), Qt::LeftButton);
    QCOMPARE(poolChanged.count(), poolsBefore + 1);
    QVERIFY(!c->executor()->isShutdown());
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, kLong);
    QCOMPARE(finished.last().first().value<RunSummary>().succeeded, 8);
    QTRY_VERIFY_WITH_TIMEOUT(!w->statusText().contains(QStringLiteral("shut down")), kLong);
    QVERIFY(w->action(QStringLiteral("shutdown"))->isEnabled());
}

void TstMainWindow::mandelbrotTilesReachTheView()
{
    auto w = makeWindow();
    RunSpec spec;
    spec.workload = QStringLiteral("mandelbrot");
    spec.run = Workloads::find(spec.workload)->defaultRun();
    spec.run.tasks = 16;
    spec.run.size = 4;
    spec.run.knobs[QStringLiteral("width")] = 96;
    spec.run.knobs[QStringLiteral("max_iter")] = 60;
    spec.workers = 2;
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QVERIFY(w->startSpec(spec));
    QVERIFY(w->dock(QStringLiteral("mandelbrotDock"))->isVisible());
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QCOMPARE(w->mandelbrot()->tileCount(), 16);
    QVERIFY(w->mandelbrot()->isComplete());
    QCOMPARE(w->mandelbrot()->imageSize(), QSize(96, 64));

    // A new run starts a new image.
    spec.run.tasks = 8;
    QVERIFY(w->startSpec(spec));
    QCOMPARE(w->mandelbrot()->tileCount(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, kLong);
    QCOMPARE(w->mandelbrot()->tileCount(), 8);
}

void TstMainWindow::doubleClickOpensDetails()
{
    auto w = makeWindow();
    RunSpec spec;
    spec.workload = QStringLiteral("throws");
    spec.run = Workloads::find(spec.workload)->defaultRun();
    spec.run.tasks = 5;
    spec.run.size = 100;
    spec.run.knobs[QStringLiteral("every")] = 5;
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QVERIFY(w->startSpec(spec));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QTRY_COMPARE_WITH_TIMEOUT(w->futuresModel()->rowCount(), 5, kLong);

    // Only the failed one, then open it.
    w->futuresStatusCombo()->setCurrentIndex(
        w->futuresStatusCombo()->findData(int(FuturesModel::StatusFilter::Failed)));
    QCOMPARE(w->futuresModel()->rowCount(), 1);
    QTableView* view = w->futuresView();
    const QModelIndex idx = w->futuresModel()->index(0, FuturesModel::TaskColumn);
    view->scrollTo(idx);
    const QPoint at = view->visualRect(idx).center();
    QSignalSpy doubleClicked(view, &QAbstractItemView::doubleClicked);
    // What a real double-click delivers: press, release, then the double-click.
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, at);
    QTest::mouseDClick(view->viewport(), Qt::LeftButton, {}, at);
    QCOMPARE(doubleClicked.count(), 1);
    QDialog* dlg = nullptr;
    QTRY_VERIFY_WITH_TIMEOUT((dlg = w->findChild<QDialog*>(QStringLiteral("futureDetails"))),
                             kLong);
    QTRY_VERIFY(dlg->isVisible());
    const QString text = dlg->findChild<QPlainTextEdit*>()->toPlainText();
    QVERIFY2(text.contains(QStringLiteral("failed on purpose")), qPrintable(text));
    dlg->close();
}

void TstMainWindow::viewsTakeEachSnapshotInStages()
{
    // A tick's snapshot reaches the heavy views (futures, timeline, charts)
    // in later events than the status bar, so input and paints get in
    // between; every snapshot reaches them all the same, in order.
    auto w = makeWindow();
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    // Each snapshot is known by its time: a stage of a snapshot made before
    // these connections may still be in flight (ASan counted one view
    // update ahead of every snapshot, 24 times), so counts would not do.
    QList<qint64> ticks, viewed;
    int sameEvent = 0;
    connect(w->controller(), &RunController::snapshotReady, w.get(), [&](const Snapshot& s) {
        ticks << s.timeNs;
        sameEvent += w->viewsSnapshotNs() == s.timeNs ? 1 : 0;
    });
    connect(w.get(), &MainWindow::viewsUpdated, w.get(), [&] { viewed << w->viewsSnapshotNs(); });
    RunSpec spec;
    spec.workload = QStringLiteral("sleep");
    spec.run = Workloads::find(spec.workload)->defaultRun();
    spec.run.tasks = 30;
    spec.run.size = 5;
    spec.workers = 2;
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QVERIFY(w->startSpec(spec));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QTRY_COMPARE_WITH_TIMEOUT(w->timeline()->spanCount(), std::size_t(30), kLong);
    QVERIFY(!ticks.isEmpty());
    QTRY_VERIFY(!viewed.isEmpty() && viewed.last() == ticks.last());
    // every snapshot reached the views, in order (after at most one that
    // was on its way when the test connected)
    while (!viewed.isEmpty() && !ticks.contains(viewed.first()))
        viewed.removeFirst();
    QCOMPARE(viewed, ticks);
    QCOMPARE(sameEvent, 0);
    QCOMPARE(w->futuresModel()->rowCount(), 30);
    QVERIFY2(w->statusText().contains(QStringLiteral("done 30")), qPrintable(w->statusText()));
}

void TstMainWindow::futuresFollowNewRowsUntilScrolledAway()
{
    auto w = makeWindow();
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    QTableView* view = w->futuresView();
    QScrollBar* sb = view->verticalScrollBar();
    RunSpec spec;
    spec.workload = QStringLiteral("sleep");
    spec.run = Workloads::find(spec.workload)->defaultRun();
    spec.run.tasks = 400;
    spec.run.size = 10;
    spec.workers = 2;
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QVERIFY(w->startSpec(spec));
    QTRY_VERIFY_WITH_TIMEOUT(sb->maximum() > 0, kLong);
    // The view gets shorter while following (a layout settling): it keeps
    // following, to the last row of the run.
    view->setFixedHeight(view->height() / 2);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QTRY_COMPARE_WITH_TIMEOUT(w->futuresModel()->rowCount(), 400, kLong);
    QTRY_COMPARE(sb->value(), sb->maximum());
    const QModelIndex last = w->futuresModel()->index(399, 0);
    QVERIFY(view->viewport()->rect().intersects(view->visualRect(last)));

    // Scrolled away by the user: the next run's rows do not pull it down.
    spec.run.tasks = 200;
    QVERIFY(w->startSpec(spec));
    QTRY_VERIFY_WITH_TIMEOUT(sb->maximum() > 20, kLong);
    sb->setValue(0);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, kLong);
    QTRY_COMPARE_WITH_TIMEOUT(w->futuresModel()->rowCount(), 200, kLong);
    QCOMPARE(sb->value(), 0);
}

void TstMainWindow::panelsShowTheRun()
{
    auto w = makeWindow();
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    RunSpec spec;
    spec.workload = QStringLiteral("primes");
    spec.run = Workloads::find(spec.workload)->defaultRun();
    spec.run.tasks = 40;
    spec.run.size = 3000;
    spec.workers = 2;
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QVERIFY(w->startSpec(spec));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QTRY_COMPARE_WITH_TIMEOUT(w->futuresModel()->rowCount(), 40, kLong);
    QTRY_COMPARE(w->timeline()->spanCount(), std::size_t(40)); // the stage after the futures'
    QCOMPARE(w->timeline()->laneCount(), 2);
    QCOMPARE(w->workersModel()->rowCount(), 2);
    QTRY_VERIFY_WITH_TIMEOUT(w->throughputChart()->chart()->pointCount(0) > 0, kLong);
    // The CPU sampler runs every 500 ms, also while idle.
    QTRY_VERIFY_WITH_TIMEOUT(w->perCoreChart()->coreCount() > 0, kLong);
    QCOMPARE(w->perCoreChart()->chart()->lineCount(), w->perCoreChart()->coreCount() + 1);
    QCOMPARE(w->perCoreChart()->chart()->barCount(), w->perCoreChart()->coreCount());
    QVERIFY(w->perCoreChart()->toolTip().contains(QStringLiteral("iowait")));
    QVERIFY2(w->statusText().contains(QStringLiteral("done 40")), qPrintable(w->statusText()));
    // Every task recorded: nothing lost or sampled, so no such words.
    QVERIFY(!w->statusText().contains(QStringLiteral("not recorded")));
    QVERIFY(!w->statusText().contains(QStringLiteral("sample")));
    QCOMPARE(w->futuresCountLabel()->text(), QStringLiteral("40 tasks"));
}

void TstMainWindow::futuresSayWhenTheyAreASample_data()
{
    QTest::addColumn<quint64>("limit");
    QTest::addColumn<int>("tasks");
    QTest::addColumn<QString>("label"); // the table's count label after the run
    QTest::newRow("every task") << quint64(0) << 300 << QStringLiteral("300 tasks");
    QTest::newRow("past the limit")
        << quint64(100) << 300 << QStringLiteral("sample: 1 in 4 of 300 tasks");
}

void TstMainWindow::futuresSayWhenTheyAreASample()
{
    // The table lists a sample only past the record limit, and then says so
    // in its label and in the status bar, with the exact counts.
    QFETCH(quint64, limit);
    QFETCH(int, tasks);
    QFETCH(QString, label);
    auto w = makeWindow();
    if (limit > 0)
        w->controller()->monitor()->setRecordLimit(limit);
    RunSpec spec;
    spec.workload = QStringLiteral("sleep");
    spec.run = Workloads::find(spec.workload)->defaultRun();
    spec.run.tasks = tasks;
    spec.run.size = 0;
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QVERIFY(w->startSpec(spec));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    // The futures table takes the last snapshot an event later.
    QTRY_COMPARE_WITH_TIMEOUT(w->futuresCountLabel()->text(), label, kLong);
    QTRY_COMPARE(w->futuresModel()->rowCount(), int(w->controller()->monitor()->record()->size()));
    if (limit > 0) {
        QVERIFY2(w->statusText().contains(label), qPrintable(w->statusText()));
        QVERIFY(w->futuresCountLabel()->toolTip().contains(QStringLiteral("exact")));
    } else {
        QVERIFY(!w->statusText().contains(QStringLiteral("sample")));
    }
}

void TstMainWindow::exportsFromTheWindow()
{
    auto w = makeWindow();
    RunSpec spec;
    spec.workload = QStringLiteral("primes");
    spec.run = Workloads::find(spec.workload)->defaultRun();
    spec.run.tasks = 10;
    spec.run.size = 500;
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QVERIFY(w->startSpec(spec));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QCOMPARE(w->controller()->monitor()->record()->size(), quint64(10));
    QTemporaryDir dir;
    QVERIFY(w->exportTraceTo(dir.filePath(QStringLiteral("t.json"))));
    QVERIFY(w->exportCsvTo(dir.filePath(QStringLiteral("t.csv"))));
    QVERIFY(QFileInfo(dir.filePath(QStringLiteral("t.json"))).size() > 0);
    QVERIFY(w->saveWidgetPng(w.get(), dir.filePath(QStringLiteral("w.png"))));
    QImage img(dir.filePath(QStringLiteral("w.png")));
    QVERIFY(!img.isNull());
    QVERIFY(img.width() >= w->width());
    // A failure is said in the hint, never silently.
    QVERIFY(!w->exportTraceTo(dir.filePath(QStringLiteral("missing/dir/t.json"))));
    QVERIFY(w->controlBar()->isHintVisible());
    QVERIFY(w->controlBar()->hint().contains(QStringLiteral("could not write")));
}

void TstMainWindow::lessonRunsFromItsPanel()
{
    auto w = makeWindow();
    QVERIFY(!w->openLesson(QStringLiteral("no-such-lesson")));
    QVERIFY(w->openLesson(QStringLiteral("futures")));
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    // The Lesson tab is the current one of its tab group (it shares it with Queue).
    auto currentTabs = [&w] {
        QStringList out;
        for (QTabBar* tb : w->findChildren<QTabBar*>()) {
            if (tb->isVisible())
                out << tb->tabText(tb->currentIndex());
        }
        return out;
    };
    QTRY_VERIFY2(currentTabs().contains(QStringLiteral("Lesson")),
                 qPrintable(currentTabs().join(QLatin1Char(','))));
    const Lesson lesson = *LessonLibrary::find(QStringLiteral("futures"));
    // The controls show the lesson's scenario before anything runs.
    QCOMPARE(w->controlBar()->spec().workload, lesson.scenario.workload);
    QCOMPARE(w->controlBar()->spec().run.tasks, lesson.scenario.run.tasks);
    QVERIFY(!w->controller()->isRunning());

    QSignalSpy finished(w->controller(), &RunController::runFinished);
    auto* run = w->lessonPanel()->findChild<QPushButton*>(QStringLiteral("runButton"));
    QVERIFY(run);
    QTest::mouseClick(run, Qt::LeftButton);
    QVERIFY(w->controller()->isRunning());
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    const RunSummary s = finished.first().first().value<RunSummary>();
    QCOMPARE(s.workload, lesson.scenario.workload);
    QCOMPARE(s.items, lesson.scenario.run.tasks);
    // Lesson 1: every 5th task raises; the futures carry it, the pool goes on.
    QCOMPARE(s.failed, lesson.scenario.run.tasks / 5);
    QCOMPARE(s.succeeded, lesson.scenario.run.tasks - s.failed);
    // The analysis covers exactly that run's tasks.
    QCOMPARE(w->analysisPanel()->bar()->decomposition().tasks, qint64(lesson.scenario.run.tasks));
    QVERIFY(w->analysisPanel()->bar()->decomposition().totalNs() > 0);
}

void TstMainWindow::settingsPersist()
{
    {
        auto w = makeWindow(true);
        ControlBar* cb = w->controlBar();
        chooseWorkload(*w, QStringLiteral("sleep"));
        cb->tasksSpin()->setValue(7);
        cb->sizeSpin()->setValue(123);
        cb->workersSpin()->setValue(3);
        cb->gilCheck()->setChecked(true);
        chooseWorkload(*w, QStringLiteral("primes"));
        cb->tasksSpin()->setValue(77);
        w->close(); // saves
    }
    auto w = makeWindow(true);
    const RunSpec s = w->controlBar()->spec();
    QCOMPARE(s.workload, QStringLiteral("primes"));
    QCOMPARE(s.run.tasks, 77);
    QCOMPARE(s.workers, 3);
    QCOMPARE(s.gil, true);
    chooseWorkload(*w, QStringLiteral("sleep"));
    QCOMPARE(w->controlBar()->spec().run.tasks, 7);
    QCOMPARE(w->controlBar()->spec().run.size, 123);
    // The pool follows the restored controls.
    QCOMPARE(w->controller()->executor()->maxWorkers(), 3);
    QCOMPARE(w->controller()->poolConfig().gil, true);
}

// While the controller draws light (a run keeps every core busy, see
// tst_runcontroller::busyCoresSlowTheDrawing) every chart of the window
// draws without antialiasing, and with it again afterwards.
void TstMainWindow::chartsDropAntialiasingWhileDrawingLight()
{
    auto w = makeWindow();
    const QList<ChartAdapter*> charts = w->findChildren<ChartAdapter*>();
    QVERIFY(charts.size() >= 3); // per-core, throughput, queue
    for (const ChartAdapter* c : charts)
        QVERIFY(c->antialiased());
    emit w->controller()->drawLightChanged(true);
    for (const ChartAdapter* c : charts)
        QVERIFY(!c->antialiased());
    for (const QChartView* v : w->findChildren<QChartView*>()) {
        if (qobject_cast<ChartAdapter*>(v->parentWidget()))
            QVERIFY(!v->renderHints().testFlag(QPainter::Antialiasing));
    }
    emit w->controller()->drawLightChanged(false);
    for (const ChartAdapter* c : charts)
        QVERIFY(c->antialiased());
}

QTEST_MAIN(TstMainWindow)
#include "tst_mainwindow.moc"
