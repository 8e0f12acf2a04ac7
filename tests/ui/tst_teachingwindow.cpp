// The teaching tools as the main window wires them (offscreen): the A/B and
// Replay docks with their actions and shortcuts, a real exported trace
// replayed, bad replay files refused with a visible error, a lesson's run A
// and run B compared, slow motion and Step, chunked runs on a process pool,
// the machine's CPU figure in the run analysis, presenter mode, settings.
// QSignalSpy + QTRY_* on observable state, no fixed sleeps.
#include <charts/chartadapter.h>
#include <charts/percorechart.h>
#include <charts/throughputchart.h>
#include <controlbar.h>
#include <mainwindow.h>
#include <models/futuresmodel.h>
#include <runcontroller.h>
#include <teaching/abcompare.h>
#include <teaching/analysispanel.h>
#include <teaching/continuations.h>
#include <teaching/decompositionbar.h>
#include <teaching/lesson.h>
#include <teaching/pacing.h>
#include <teaching/presenter.h>
#include <teaching/replay.h>
#include <teaching/replaycharts.h>
#include <teaching/slowmotion.h>
#include <timeline/timelinewidget.h>

#include <poolscope/cpusampler.h>
#include <poolscope/executor.h>
#include <poolscope/monitor.h>
#include <poolscope/traceexport.h>
#include <poolscope/workloads.h>

#include <QAbstractItemModelTester>
#include <QAbstractScrollArea>
#include <QAction>
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QLocale>
#include <QMenu>
#include <QMenuBar>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTest>
#include <QToolBar>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <numeric>

using namespace poolscope;

namespace {
constexpr int kLong = 60'000;
constexpr qint64 kMs = 1'000'000;

/// Shown and active, so window-wide shortcuts reach its actions.
/// classroom: the defaults a class gets (lesson runs paced to about 5 s,
/// A/B and sweeps measured three times); off, lessons run as written and
/// once, which keeps tests that are not about those short.
std::unique_ptr<MainWindow> makeWindow(bool settings = false, bool classroom = false)
{
    MainWindow::Options o;
    o.useSettings = settings;
    auto w = std::make_unique<MainWindow>(o);
    if (!classroom) {
        w->action(QStringLiteral("lessonPacing"))->setChecked(false);
        w->action(QStringLiteral("repeatMeasurements"))->setChecked(false);
    }
    w->show();
    QApplication::setActiveWindow(w.get());
    if (!QTest::qWaitForWindowActive(w.get()))
        qWarning("the window did not become active");
    return w;
}

/// Pixels inside the set over the Mandelbrot tiles of a run's batched
/// results (RunController::resultsReady): the sum lesson 9's gather must show,
/// counted here without ContinuationsView.
struct BatchedBands {
    int bands = 0;
    qint64 inside = 0;
};
BatchedBands insidePixels(const QSignalSpy& results, quint64 runId)
{
    BatchedBands out;
    for (const auto& args : results) {
        for (const TaskResult& r : args.first().value<QList<TaskResult>>()) {
            if (r.runId != runId)
                continue;
            ++out.bands;
            const QByteArray px = r.value.toMap().value(QStringLiteral("iterations")).toByteArray();
            for (char c : px)
                out.inside += quint8(c) == 255 ? 1 : 0;
        }
    }
    return out;
}

QLabel* label(QWidget* parent, const char* name)
{
    return parent->findChild<QLabel*>(QLatin1String(name));
}

QMenu* menu(MainWindow& w, const QString& title)
{
    for (QAction* a : w.menuBar()->actions()) {
        if (a->text().remove(QLatin1Char('&')) == title)
            return a->menu();
    }
    return nullptr;
}

bool menuHas(QMenu* m, QAction* a)
{
    if (!m)
        return false;
    for (QAction* x : m->actions()) {
        if (x == a || (x->menu() && menuHas(x->menu(), a)))
            return true;
    }
    return false;
}

RunSpec spec(const QString& workload, int tasks, qint64 size, const QString& pool, int workers)
{
    RunSpec s;
    s.workload = workload;
    s.run = Workloads::find(workload)->defaultRun();
    s.run.tasks = tasks;
    s.run.size = size;
    s.poolKind = pool;
    s.workers = workers;
    return s;
}

/// Starts spec from the window and waits for its summary.
RunSummary runToEnd(MainWindow& w, const RunSpec& s)
{
    QSignalSpy finished(w.controller(), &RunController::runFinished);
    QSignalSpy snapshots(w.controller(), &RunController::snapshotReady);
    QSignalSpy views(&w, &MainWindow::viewsUpdated);
    const quint64 id = w.startSpec(s);
    if (!id)
        qWarning("could not start: %s", qPrintable(w.controlBar()->hint()));
    if (!id || !QTest::qWaitFor([&] { return finished.count() > 0; }, kLong))
        return {};
    // The views take each snapshot in later events (MainWindow::onSnapshot):
    // the run is over for the tests once they show its end too.
    if (!QTest::qWaitFor([&] { return views.count() >= snapshots.count(); }, kLong))
        qWarning("the views did not take the last snapshot");
    return finished.first().first().value<RunSummary>();
}

TraceData smallTrace(int n, qint16 core = -1)
{
    TraceData t;
    t.title = QStringLiteral("hand-made");
    t.poolKind = QStringLiteral("thread");
    t.originNs = 1'000 * kMs;
    t.workers = {TraceWorker{0, QStringLiteral("w0"), 0, 0}};
    for (int i = 0; i < n; ++i) {
        TaskSpan s;
        s.taskId = quint64(i + 1);
        s.enqueueNs = t.originNs;
        s.startNs = t.originNs + i * 10 * kMs;
        s.endNs = s.startNs + 10 * kMs;
        s.cpuNs = 5 * kMs;
        s.worker = 0;
        s.core = core;
        t.record->add(s);
    }
    return t;
}
} // namespace

class TstTeachingWindow : public QObject {
    Q_OBJECT
private slots:
    void lessonOneNamesTheFailingTasksAsTheTableDoes();
    void initTestCase();
    void everyLessonSetsUpAndResets_data();
    void everyLessonSetsUpAndResets();
    void docksAreToggledByTheirActions_data();
    void docksAreToggledByTheirActions();
    void shortcutsAreUniqueAndInMenus_data();
    void shortcutsAreUniqueAndInMenus();
    void replayLoadsAnExportedTrace();
    void replayOfTheLastRunNeedsNoFile();
    void replayBadFilesShowAnError_data();
    void replayBadFilesShowAnError();
    void abRunsLessonAThenB();
    void abStoppingAMeansNoB();
    void abKeepsTwoPoolKinds();
    void chunkLessonShowsOverhead();
    void abRepeatsInterleaved();
    void lessonRunsArePacedToWatch();
    void stepStartsExactlyOneTask();
    void slowMotionLengthensTheSubmittedRun();
    void chunkedProcessRunFromTheWindow();
    void analysisGetsTheMachinesCpu();
    void timelineKeepsTheFinishedRunFramed();
    void fitsClassroomScreens_data();
    void fitsClassroomScreens();
    void presenterHidesAdvancedControls();
    void presenterThickensLines();
    void teachingStatePersists();
    void eventLoopLessonDeliversOnTheGuiThread();
    void eventLoopLessonResetsAndRunsAgain();

private:
    QTemporaryDir m_settingsDir;
};

void TstTeachingWindow::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(m_settingsDir.isValid());
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_settingsDir.path());
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, m_settingsDir.path());
    qputenv("POOLSCOPE_WORKER", POOLSCOPE_WORKER_PATH);
}

void TstTeachingWindow::everyLessonSetsUpAndResets_data()
{
    QTest::addColumn<QString>("id");
    for (const Lesson& l : LessonLibrary::all())
        QTest::newRow(qPrintable(l.id)) << l.id;
    QVERIFY(LessonLibrary::all().size() == 11);
}

void TstTeachingWindow::everyLessonSetsUpAndResets()
{
    QFETCH(QString, id);
    const Lesson lesson = *LessonLibrary::find(id);
    const RunSpec want = lesson.scenario.runSpec();
    auto w = makeWindow();
    ControlBar* cb = w->controlBar();
    auto same = [&want](const RunSpec& got) {
        return got.workload == want.workload && got.run.tasks == want.run.tasks
               && got.run.size == want.run.size && got.poolKind == want.poolKind
               && got.gil == (want.gil && want.poolKind == QLatin1String("thread"))
               && got.chunkSize == want.chunkSize
               && (want.workers == 0 || got.workers == want.workers) && [&] {
                      for (auto it = want.run.knobs.cbegin(); it != want.run.knobs.cend(); ++it) {
                          if (got.run.knobs.value(it.key()) != it.value())
                              return false;
                      }
                      return true;
                  }();
    };
    // Set-up: the controls show the scenario and the pool it needs is made.
    QVERIFY(w->openLesson(id));
    // A program lesson (11) runs a Python script, not the controls' workload
    // (tst_lessonprogram covers it); the controls keep what they had.
    if (!lesson.scenario.isProgram())
        QVERIFY2(same(cb->spec()), qPrintable(lesson.scenario.describe()));
    // Opened at its question: nothing else on screen, nothing running.
    QCOMPARE(w->lessonPanel()->stage(), LessonPanel::Stage::Predict);
    QVERIFY(!w->controller()->isRunning());
    // F4 (Teach > Explain) shows the explanation on request and hides it.
    QAction* explain = w->action(QStringLiteral("explain"));
    QCOMPARE(explain->shortcut(), QKeySequence(Qt::Key_F4));
    explain->trigger();
    QVERIFY(w->lessonPanel()->isExplained());
    QVERIFY(explain->isChecked());
    explain->trigger();
    QVERIFY(!w->lessonPanel()->isExplained());
    QVERIFY(!explain->isChecked());
    w->lessonPanel()->setRevealed(false);
    // The rest is about the controls and the pool a workload lesson sets
    // up; a program lesson's pools are its script's (tst_lessonprogram).
    if (lesson.scenario.isProgram())
        return;
    QVERIFY2(!cb->isHintVisible(), qPrintable(cb->hint()));
    QVERIFY(w->action(QStringLiteral("start"))->isEnabled());
    QVERIFY(w->controller()->hasPool());
    QCOMPARE(w->controller()->executor()->kind(), want.poolKind);
    if (want.workers > 0)
        QCOMPARE(w->controller()->executor()->maxWorkers(), want.workers);
    QCOMPARE(w->lessonPanel()->currentLesson().id, lesson.id);
    // Run A then B is offered exactly when the lesson has a run B.
    QCOMPARE(w->action(QStringLiteral("runAB"))->isEnabled(), lesson.compare.has_value());

    // The class changes things; Reset puts the lesson's scenario back.
    cb->tasksSpin()->setValue(want.run.tasks == 1 ? 2 : 1);
    cb->chunkSpin()->setValue(want.chunkSize == 1 ? 3 : 1);
    QVERIFY(!same(cb->spec()));
    auto* reset = w->lessonPanel()->findChild<QPushButton*>(QStringLiteral("resetButton"));
    QVERIFY(reset);
    QTest::mouseClick(reset, Qt::LeftButton);
    QVERIFY2(same(cb->spec()), qPrintable(lesson.scenario.describe()));
    QVERIFY(!w->lessonPanel()->isRevealed()); // predict first, again
    QVERIFY(!w->controller()->isRunning());
}

void TstTeachingWindow::docksAreToggledByTheirActions_data()
{
    QTest::addColumn<QString>("dockName");
    QTest::addColumn<QString>("actionName");
    QTest::addColumn<QKeySequence>("keys");
    QTest::addColumn<QString>("otherAction");
    QTest::newRow("A/B") << "abDock"
                         << "abPanel" << QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_A)
                         << "replayPanel";
    QTest::newRow("replay") << "replayDock"
                            << "replayPanel" << QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R)
                            << "abPanel";
}

void TstTeachingWindow::docksAreToggledByTheirActions()
{
    QFETCH(QString, dockName);
    QFETCH(QString, actionName);
    QFETCH(QKeySequence, keys);
    QFETCH(QString, otherAction);
    auto w = makeWindow();
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    QDockWidget* d = w->dock(dockName);
    QVERIFY(d);
    QVERIFY(d->widget());
    QVERIFY(!d->toggleViewAction()->isChecked()); // closed until used
    QVERIFY(menuHas(menu(*w, QStringLiteral("View")), d->toggleViewAction()));
    QAction* a = w->action(actionName);
    QVERIFY(a);
    QCOMPARE(a->shortcut(), keys);
    QVERIFY(menuHas(menu(*w, QStringLiteral("Teach")), a));

    // The shortcut opens the dock on top (a tab over the live timeline)...
    QTest::keySequence(w.get(), keys);
    QTRY_VERIFY(w->isDockOnTop(d));
    QVERIFY(w->dockWidgetArea(d) != Qt::NoDockWidgetArea);
    QVERIFY(w->tabifiedDockWidgets(d).contains(w->dock(QStringLiteral("timelineDock"))));
    // ...and closes it again.
    QTest::keySequence(w.get(), keys);
    QTRY_VERIFY(!d->isVisible());
    QVERIFY(!d->toggleViewAction()->isChecked());
    // The menu action does the same.
    a->trigger();
    QTRY_VERIFY(w->isDockOnTop(d));
    // A dock open behind another tab is brought to the front, not closed.
    w->action(otherAction)->trigger(); // the other teaching dock, on top of d
    QTRY_VERIFY(!w->isDockOnTop(d));
    QVERIFY(w->isDockOnTop(w->dock(otherAction == QLatin1String("abPanel")
                                       ? QStringLiteral("abDock")
                                       : QStringLiteral("replayDock"))));
    QVERIFY(d->toggleViewAction()->isChecked());
    a->trigger();
    QTRY_VERIFY(w->isDockOnTop(d));
    // Reset layout closes the teaching docks again.
    w->action(QStringLiteral("resetLayout"))->trigger();
    QVERIFY(!d->isVisible());
}

void TstTeachingWindow::shortcutsAreUniqueAndInMenus_data()
{
    QTest::addColumn<QString>("actionName");
    QTest::addColumn<QKeySequence>("keys");
    QTest::addColumn<QString>("menuTitle");
    QTest::newRow("step") << "step" << QKeySequence(Qt::Key_F10) << "Run";
    QTest::newRow("next slow-motion factor")
        << "slowMotionCycle" << QKeySequence(Qt::Key_F9) << "Run";
    QTest::newRow("slow motion 10x") << "slowMotion10" << QKeySequence() << "Run";
    QTest::newRow("open replay") << "openReplay" << QKeySequence(QKeySequence::Open) << "File";
    QTest::newRow("replay last run")
        << "replayLastRun" << QKeySequence(Qt::CTRL | Qt::Key_R) << "Teach";
    QTest::newRow("keep as A") << "keepAsA" << QKeySequence(Qt::CTRL | Qt::Key_1) << "Teach";
    QTest::newRow("keep as B") << "keepAsB" << QKeySequence(Qt::CTRL | Qt::Key_2) << "Teach";
    QTest::newRow("run A then B") << "runAB" << QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_B)
                                  << "Teach";
    QTest::newRow("presenter") << "presenter" << QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_P)
                               << "View";
}

void TstTeachingWindow::shortcutsAreUniqueAndInMenus()
{
    QFETCH(QString, actionName);
    QFETCH(QKeySequence, keys);
    QFETCH(QString, menuTitle);
    auto w = makeWindow();
    QAction* a = w->action(actionName);
    QVERIFY2(a, qPrintable(actionName));
    QCOMPARE(a->shortcut(), keys);
    QVERIFY2(menuHas(menu(*w, menuTitle), a), qPrintable(menuTitle));
    // No two actions of the window share a shortcut (Qt would make both
    // ambiguous and neither fire).
    QList<QKeySequence> all;
    for (QAction* x : w->actions()) {
        if (!x->shortcut().isEmpty()) {
            QVERIFY2(!all.contains(x->shortcut()),
                     qPrintable(x->shortcut().toString() + QStringLiteral(" twice")));
            all << x->shortcut();
        }
    }
}

void TstTeachingWindow::replayLoadsAnExportedTrace()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    auto w = makeWindow();
    QAbstractItemModelTester tester(w->replayFuturesModel(),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    // A real run, exported as the user does (File > Export trace).
    const RunSummary s =
        runToEnd(*w, spec(QStringLiteral("primes"), 12, 20'000, QStringLiteral("thread"), 2));
    QCOMPARE(s.succeeded, 12);
    const QString path = dir.filePath(QStringLiteral("run.json"));
    QVERIFY(w->exportTraceTo(path));
    const std::vector<TaskSpan> live(w->controller()->monitor()->record()->begin(),
                                     w->controller()->monitor()->record()->end());
    QCOMPARE(live.size(), std::size_t(12));

    QSignalSpy loaded(w->replay(), &ReplayController::loaded);
    QVERIFY(w->openReplay(path));
    QCOMPARE(loaded.count(), 1);
    QDockWidget* d = w->dock(QStringLiteral("replayDock"));
    QTRY_VERIFY(d->isVisible());
    QVERIFY(d->windowTitle().contains(QStringLiteral("run.json")));
    QVERIFY(w->replayErrorLabel()->isHidden());
    QVERIFY2(w->findChild<QLabel*>(QStringLiteral("replaySummary"))
                 ->text()
                 .contains(QStringLiteral("12 tasks")),
             qPrintable(w->findChild<QLabel*>(QStringLiteral("replaySummary"))->text()));

    // The same tasks with the same spans (the trace keeps ns precision),
    // compared from each run's first start.
    const TraceData& t = w->replay()->trace();
    QCOMPARE(t.size(), quint64(live.size()));
    const std::vector<TaskSpan> replayed(t.record->begin(), t.record->end());
    auto firstStart = [](const auto& spans) {
        qint64 m = std::numeric_limits<qint64>::max();
        for (const TaskSpan& sp : spans)
            m = std::min(m, sp.startNs);
        return m;
    };
    const qint64 t0 = firstStart(replayed), l0 = firstStart(live);
    std::map<quint64, TaskSpan> byId;
    for (const TaskSpan& sp : live)
        byId[sp.taskId] = sp;
    for (const TaskSpan& sp : replayed) {
        QVERIFY(byId.count(sp.taskId));
        const TaskSpan& o = byId[sp.taskId];
        QCOMPARE(sp.endNs - sp.startNs, o.endNs - o.startNs);
        QCOMPARE(sp.startNs - t0, o.startNs - l0);
        QCOMPARE(sp.worker, o.worker);
        QCOMPARE(sp.status, o.status);
    }
    // Whole run shown: every span on the replay timeline, every task listed.
    QCOMPARE(w->replayTimeline()->spanCount(), std::size_t(12));
    QCOMPARE(w->replayFuturesModel()->rowCount(), 12);
    QCOMPARE(w->replayTimeline()->laneCount(), 2);
    QCOMPARE(w->replayDecomposition()->decomposition(), decompose(replayed));
    QCOMPARE(w->replayDecomposition()->decomposition().tasks, qint64(12));
    // The charts replay the run: every task in the throughput buckets, a
    // per-core line for each CPU the tasks ran on, all buckets drawn.
    auto* charts = w->findChild<ReplayCharts*>(QStringLiteral("replayCharts"));
    QVERIFY(charts);
    QVERIFY(charts->isVisible());
    const ReplaySeries& rs = charts->series();
    const int buckets = rs.bucketCount();
    QVERIFY(buckets > 0);
    QCOMPARE(std::accumulate(rs.finished.begin(), rs.finished.end(), qint64(0)), qint64(12));
    QCOMPARE(rs.durationNs, w->replay()->durationNs());
    ChartAdapter* rate = charts->throughputChart();
    ChartAdapter* cores = charts->coreChart();
    QCOMPARE(rate->pointCount(ReplayCharts::RateLine), buckets);
    QVERIFY(rate->lastValue(ReplayCharts::RateLine) >= 0);
    QVERIFY2(!rs.cores.isEmpty(), "a thread-pool run records the CPU of each task");
    QCOMPARE(cores->lineCount(), int(rs.cores.size()));
    for (int c = 0; c < cores->lineCount(); ++c)
        QCOMPARE(cores->pointCount(c), buckets);

    // The scrubber: at 0 nothing has finished; at the end all has.
    auto* bar = w->findChild<ReplayBar*>(QStringLiteral("replayBar"));
    QVERIFY(bar);
    bar->slider()->setValue(0);
    QCOMPARE(w->replay()->positionNs(), qint64(0));
    QCOMPARE(w->replayFuturesModel()->rowCount(), 0);
    QVERIFY(w->replay()->visibleSpanCount() < 12);
    QCOMPARE(w->replayDecomposition()->decomposition().tasks, qint64(0));
    QCOMPARE(rate->pointCount(ReplayCharts::RateLine), 0);
    QCOMPARE(cores->pointCount(0), 0);
    // Half-way: the bar and the table agree on how many have finished, and
    // the charts show the buckets of the first half only.
    bar->slider()->setValue(bar->slider()->maximum() / 2);
    QCOMPARE(w->replayDecomposition()->decomposition().tasks,
             qint64(w->replayFuturesModel()->rowCount()));
    const qint64 mid = w->replay()->positionNs();
    QVERIFY(mid <= w->replay()->durationNs() / 2);
    QCOMPARE(charts->shownBuckets(), rs.bucketsUpTo(mid));
    QVERIFY(charts->shownBuckets() <= buckets / 2);
    QCOMPARE(rate->pointCount(ReplayCharts::RateLine), charts->shownBuckets());
    QCOMPARE(cores->pointCount(0), charts->shownBuckets());
    bar->slider()->setValue(bar->slider()->maximum());
    QCOMPARE(w->replayFuturesModel()->rowCount(), 12);
    QCOMPARE(w->replay()->visibleSpanCount(), 12);
    QCOMPARE(w->replayDecomposition()->decomposition().tasks, qint64(12));
    QCOMPARE(rate->pointCount(ReplayCharts::RateLine), buckets);
    QCOMPARE(cores->pointCount(0), buckets);
    // The live views are not touched by the replay (they take the run's
    // last futures on their own tick, which under ThreadSanitizer can come
    // after all of the above: 10 of 12 were there once).
    QTRY_COMPARE(w->futuresModel()->rowCount(), 12);
}

void TstTeachingWindow::replayOfTheLastRunNeedsNoFile()
{
    auto w = makeWindow();
    QAction* a = w->action(QStringLiteral("replayLastRun"));
    QVERIFY(!a->isEnabled()); // nothing ran yet
    QVERIFY(!w->replayLastRun());
    QVERIFY(w->replayErrorLabel()->text().contains(QStringLiteral("no run has finished")));
    runToEnd(*w, spec(QStringLiteral("sleep"), 4, 20, QStringLiteral("thread"), 2));
    // A second run: the recording holds the last run only.
    const RunSummary s =
        runToEnd(*w, spec(QStringLiteral("sleep"), 6, 20, QStringLiteral("thread"), 3));
    QCOMPARE(s.succeeded, 6);
    QVERIFY(a->isEnabled());
    QTest::keySequence(w.get(), a->shortcut());
    QTRY_VERIFY(w->dock(QStringLiteral("replayDock"))->isVisible());
    QCOMPARE(w->replay()->trace().size(), quint64(6));
    QCOMPARE(w->replayFuturesModel()->rowCount(), 6);
    QVERIFY(w->replayErrorLabel()->isHidden());
}

void TstTeachingWindow::replayBadFilesShowAnError_data()
{
    QTest::addColumn<QString>("kind");
    QTest::addColumn<QString>("expected");
    QTest::newRow("over the size limit") << "huge"
                                         << "too large to replay";
    QTest::newRow("unreadable: a directory") << "directory"
                                             << "Cannot open the trace";
    QTest::newRow("unreadable: missing") << "missing"
                                         << "Cannot open the trace";
    QTest::newRow("unreadable: read fails (I/O error)") << "ioerror"
                                                        << "Cannot read the trace";
    QTest::newRow("unreadable: no permission") << "noperm"
                                               << "Cannot open the trace";
    QTest::newRow("not a trace") << "garbage"
                                 << "not a readable PoolScope trace";
}

void TstTeachingWindow::replayBadFilesShowAnError()
{
    QFETCH(QString, kind);
    QFETCH(QString, expected);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QString path = dir.filePath(QStringLiteral("bad.json"));
    if (kind == QLatin1String("huge")) {
        // A sparse file one byte over the limit: refused before reading.
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        if (!f.resize(ReplayController::maxFileBytes() + 1))
            QSKIP("this file system cannot make a sparse 2 GiB file");
        f.close();
    } else if (kind == QLatin1String("directory")) {
        QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("bad.json")));
    } else if (kind == QLatin1String("ioerror")) {
        // Opens fine, but reading fails (address 0 is not mapped).
        path = QStringLiteral("/proc/self/mem");
        if (!QFile::exists(path))
            QSKIP("no /proc/self/mem here");
    } else if (kind == QLatin1String("noperm")) {
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(toChromeTrace(smallTrace(2)));
        f.close();
        QVERIFY(f.setPermissions(QFileDevice::WriteOwner));
        QFile probe(path);
        if (probe.open(QIODevice::ReadOnly))
            QSKIP("this user reads files without read permission (root)");
    } else if (kind == QLatin1String("garbage")) {
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"traceEvents\": [ this is not json");
    } // "missing": nothing there

    auto w = makeWindow();
    // A good recording first: a bad file must not replace it.
    const QString good = dir.filePath(QStringLiteral("good.json"));
    QVERIFY(writeChromeTrace(good, smallTrace(3)));
    QVERIFY(w->openReplay(good));
    QCOMPARE(w->replayFuturesModel()->rowCount(), 3);
    auto* charts = w->findChild<ReplayCharts*>(QStringLiteral("replayCharts"));
    QVERIFY(charts);
    const std::vector<qint64> goodBuckets = charts->series().finished;
    QCOMPARE(std::accumulate(goodBuckets.begin(), goodBuckets.end(), qint64(0)), qint64(3));
    const int goodPoints = charts->throughputChart()->pointCount(ReplayCharts::RateLine);
    QVERIFY(goodPoints > 0);

    QSignalSpy errors(w->replay(), &ReplayController::error);
    QVERIFY(!w->openReplay(path));
    QCOMPARE(errors.count(), 1);
    QLabel* label = w->replayErrorLabel();
    QTRY_VERIFY(label->isVisible()); // in the Replay dock, which is open
    QVERIFY(w->dock(QStringLiteral("replayDock"))->isVisible());
    QVERIFY2(label->text().contains(expected), qPrintable(label->text()));
    const QString name = QFileInfo(path).fileName();
    QVERIFY2(label->text().contains(name), qPrintable(label->text()));
    QVERIFY2(w->statusBar()->currentMessage().contains(expected),
             qPrintable(w->statusBar()->currentMessage()));
    // The recording already loaded stays.
    QCOMPARE(w->replay()->trace().size(), quint64(3));
    QCOMPARE(w->replayFuturesModel()->rowCount(), 3);
    // And so do its charts.
    QCOMPARE(charts->series().finished, goodBuckets);
    QCOMPARE(charts->throughputChart()->pointCount(ReplayCharts::RateLine), goodPoints);
    // A good file again clears the error.
    QVERIFY(w->openReplay(good));
    QVERIFY(label->isHidden());
}

void TstTeachingWindow::abRunsLessonAThenB()
{
    auto w = makeWindow();
    QAction* ab = w->action(QStringLiteral("runAB"));
    QVERIFY(!ab->isEnabled()); // no lesson open
    QVERIFY(w->openLesson(QStringLiteral("amdahl")));
    QVERIFY(!ab->isEnabled()); // lesson 6 has a sweep, not a run B
    QVERIFY(w->openLesson(QStringLiteral("io-threads")));
    QVERIFY(ab->isEnabled());
    w->action(QStringLiteral("repeatMeasurements"))->setChecked(false); // one A, one B
    const Lesson lesson = *LessonLibrary::find(QStringLiteral("io-threads"));
    QVERIFY(lesson.compare);

    QSignalSpy started(w->controller(), &RunController::runStarted);
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QTest::keySequence(w.get(), ab->shortcut());
    QTRY_VERIFY(w->dock(QStringLiteral("abDock"))->isVisible());
    ABCompare* cmp = w->abCompare();
    QTRY_VERIFY_WITH_TIMEOUT(cmp->hasRun(ABCompare::Slot::A) && cmp->hasRun(ABCompare::Slot::B),
                             kLong);
    QCOMPARE(finished.count(), 2);
    // A is the lesson's run, B its run B: both configurations, in order.
    const RunSpec a = started.at(0).at(1).value<RunSpec>();
    const RunSpec b = started.at(1).at(1).value<RunSpec>();
    QCOMPARE(a.workers, lesson.scenario.workers);
    QCOMPARE(b.workers, lesson.compare->workers);
    QCOMPARE(finished.at(0).at(0).value<RunSummary>().workers, lesson.scenario.workers);
    QCOMPARE(finished.at(1).at(0).value<RunSummary>().workers, lesson.compare->workers);
    // Both results are shown, each with its own tasks.
    QCOMPARE(cmp->numbers(ABCompare::Slot::A).tasks, qint64(lesson.scenario.run.tasks));
    QCOMPARE(cmp->numbers(ABCompare::Slot::B).tasks, qint64(lesson.compare->run.tasks));
    QCOMPARE(cmp->timeline(ABCompare::Slot::A)->spanCount(),
             std::size_t(lesson.scenario.run.tasks));
    QCOMPARE(cmp->timeline(ABCompare::Slot::B)->spanCount(),
             std::size_t(lesson.compare->run.tasks));
    QVERIFY2(cmp->label(ABCompare::Slot::A)
                 .contains(QStringLiteral("%1 threads").arg(lesson.scenario.workers)),
             qPrintable(cmp->label(ABCompare::Slot::A)));
    QVERIFY2(cmp->label(ABCompare::Slot::B).contains(lesson.compare->label),
             qPrintable(cmp->label(ABCompare::Slot::B)));
    QVERIFY(cmp->summaryText(ABCompare::Slot::A).contains(QStringLiteral("40 tasks")));
    QVERIFY(cmp->summaryText(ABCompare::Slot::B).contains(QStringLiteral("40 tasks")));
    QVERIFY2(!cmp->comparisonText().isEmpty(), "no comparison line");
    // One after the other, never both at once: every task of B started after
    // the last task of A ended.
    const qint64 aSeenDone = finished.at(0).at(0).value<RunSummary>().endNs;
    // Each run has a record of its own: B's is the current one, A's the
    // last of the past runs.
    qint64 aEnd = 0, bStart = std::numeric_limits<qint64>::max();
    int aTasks = 0, bTasks = 0;
    const Monitor* mon = w->controller()->monitor();
    QVERIFY(!mon->pastRuns().empty());
    for (const TaskSpan s : *mon->pastRuns().back()) {
        QVERIFY(s.enqueueNs <= aSeenDone);
        aEnd = std::max(aEnd, s.endNs);
        ++aTasks;
    }
    for (const TaskSpan s : *mon->record()) {
        bStart = std::min(bStart, s.startNs);
        ++bTasks;
    }
    QCOMPARE(aTasks, lesson.scenario.run.tasks);
    QCOMPARE(bTasks, lesson.compare->run.tasks);
    QVERIFY(aEnd <= bStart);
}

// Lesson 7's point: per-task overhead. Chunk 1 puts a large share of the
// workers' time between tasks ("overhead"); chunk 100 pays it 100 times less
// often. The queue wait (most of the task time of any large batch) is said
// apart and does not hide it.
void TstTeachingWindow::chunkLessonShowsOverhead()
{
    // As a class sees it: Repeat measurements on (A, B, A, B, A, B; each
    // side shows its median run), pacing off (short runs).
    auto w = makeWindow(false, true);
    w->action(QStringLiteral("lessonPacing"))->setChecked(false);
    QVERIFY(w->action(QStringLiteral("repeatMeasurements"))->isChecked());
    QVERIFY(w->openLesson(QStringLiteral("chunks")));
    ABCompare* cmp = w->abCompare();
    auto overhead = [cmp](ABCompare::Slot slot) {
        const DecompositionBar* bar = cmp->decompositionBar(slot);
        if (bar->shownView() != DecompositionBar::View::WorkerTime)
            return DecompositionBar::Segment{};
        for (const auto& s : bar->segments())
            if (s.name == QStringLiteral("overhead"))
                return s;
        return DecompositionBar::Segment{};
    };
    // The lesson's point: the hand-over cost is paid once per task, so 100x
    // fewer tasks spend less time between tasks. Judged on the time itself
    // (chunk 1 at least 1.5x chunk 100's) and on the shares (chunk 1's at
    // least 10 %, chunk 100's smaller). Chunk 100 keeps a floor: on 2 cores
    // the window's thread, building and submitting the chunks (~10 ms in a
    // Debug build), takes a core from one worker, and that gap is overhead
    // too (measured per lane: one lane 0.6 ms of gaps, the other 6-9 ms
    // while the chunks were submitted). So the shares are closer than the
    // times: a quiet Debug run gives 17-19 % vs 10 %, 35-39 ms vs 14 ms;
    // the earlier bound "chunk 100 below half chunk 1's share" failed on a
    // CI machine at 20 % vs 10 %. Rounds on a machine the load meter found
    // busy are not judged (the panel says so); up to three rounds.
    QString seen;
    bool shown = false;
    int quietRounds = 0;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    constexpr int rounds = 1; // not judged (below)
#else
    constexpr int rounds = 3;
#endif
    for (int attempt = 0; attempt < rounds && !shown; ++attempt) {
        QSignalSpy finished(w->controller(), &RunController::runFinished);
        QVERIFY(w->runLessonAB());
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 6, 3 * kLong);
        QTRY_COMPARE(cmp->runCount(ABCompare::Slot::B), 3);
        const DecompositionBar::Segment a = overhead(ABCompare::Slot::A);
        const DecompositionBar::Segment b = overhead(ABCompare::Slot::B);
        QVERIFY(a.ns > 0 && b.ns > 0); // both have worker time: complete records
        QVERIFY(!cmp->decompositionBar(ABCompare::Slot::A)
                     ->legendText()
                     .contains(QStringLiteral("queued")));
        double others = 0;
        for (const auto& args : finished)
            others = std::max(others, args.at(0).value<RunSummary>().otherCores);
        seen += QStringLiteral("\nother programs %1 cores; chunk 1: %2\nchunk 100: %3")
                    .arg(others, 0, 'f', 2)
                    .arg(cmp->decompositionBar(ABCompare::Slot::A)->legendText(),
                         cmp->decompositionBar(ABCompare::Slot::B)->legendText());
        if (others >= LoadMeter::kBusyCores)
            continue; // figures of a busy machine (and the panel says so)
        ++quietRounds;
        shown = a.fraction >= 0.10 && b.fraction < a.fraction && 2 * a.ns >= 3 * b.ns;
    }
    // Under a sanitizer the bookkeeping every task gets (its stamps and its
    // record, for each task of a chunk too) costs more than the tiny task
    // itself, so the gaps no longer shrink with the chunk: seen on a slow
    // TSan run, chunk 100 at 59-65 % "overhead" on a quiet machine. The
    // lesson's claim is judged on an optimised build.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    qInfo("overhead not judged under a sanitizer: %s", qPrintable(seen));
    Q_UNUSED(shown);
#else
    if (quietRounds == 0)
        QSKIP(qPrintable(QStringLiteral("the machine was busy during every round: %1").arg(seen)));
    QVERIFY2(shown, qPrintable(seen));
    qInfo("%s", qPrintable(seen));
#endif
    // the analysis panel shows the same view
    auto* panel = w->findChild<AnalysisPanel*>();
    QVERIFY(panel);
    QCOMPARE(panel->bar()->shownView(), DecompositionBar::View::WorkerTime);
}

// Teach > Repeat measurements (on by default): A, B, A, B, A, B, one at a
// time; each side shows the median of its three with the range.
void TstTeachingWindow::abRepeatsInterleaved()
{
    auto w = makeWindow(false, true);
    QVERIFY(w->action(QStringLiteral("repeatMeasurements"))->isChecked());
    w->action(QStringLiteral("lessonPacing"))->setChecked(false); // 6 short runs
    QVERIFY(w->openLesson(QStringLiteral("chunks")));
    const Lesson lesson = *LessonLibrary::find(QStringLiteral("chunks"));
    QSignalSpy started(w->controller(), &RunController::runStarted);
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QVERIFY(w->runLessonAB());
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 6, 3 * kLong);
    QCOMPARE(started.count(), 6);
    for (int i = 0; i < 6; ++i) {
        const RunSpec sp = started.at(i).at(1).value<RunSpec>();
        QCOMPARE(sp.chunkSize, i % 2 == 0 ? lesson.scenario.chunkSize : lesson.compare->chunkSize);
        const RunSummary sum = finished.at(i).at(0).value<RunSummary>();
        QCOMPARE(sum.cancelled, 0);
        QVERIFY(sum.otherCores >= 0); // the load meter measured every run
        if (i > 0) // never two at once: each starts after the last task of the one before
            QVERIFY(finished.at(i - 1).at(0).value<RunSummary>().endNs <= sum.startNs);
    }
    ABCompare* cmp = w->abCompare();
    QCOMPARE(cmp->runCount(ABCompare::Slot::A), 3);
    QCOMPARE(cmp->runCount(ABCompare::Slot::B), 3);
    QVERIFY2(cmp->summaryText(ABCompare::Slot::A).contains(QStringLiteral("median of 3 runs")),
             qPrintable(cmp->summaryText(ABCompare::Slot::A)));
    QVERIFY2(cmp->comparisonText().contains(QStringLiteral("medians of 3 and 3 runs")),
             qPrintable(cmp->comparisonText()));
    // the lesson's measured result is the comparison of the medians
    QVERIFY(!w->controller()->isRunning());
}

// Lesson runs were 0.1-1 s: too short to watch. Paced (the default), a
// lesson's run lasts about 5 s on the machine in use, measured when the
// lesson opens, and the panel says how it was lengthened.
void TstTeachingWindow::lessonRunsArePacedToWatch()
{
    auto w = makeWindow(false, true);
    w->action(QStringLiteral("repeatMeasurements"))->setChecked(false);
    auto* pacing = w->lessonPanel()->findChild<QLabel*>(QStringLiteral("lessonPacing"));
    QVERIFY(pacing);
    // Lesson 1: CPU-bound tasks on 2 threads, written to take well under a second.
    QVERIFY(w->openLesson(QStringLiteral("futures")));
    const Lesson lesson = *LessonLibrary::find(QStringLiteral("futures"));
    QTRY_VERIFY_WITH_TIMEOUT(!pacing->text().isEmpty(), kLong); // calibrated in the background
    // Under a sanitizer on a slow machine the lesson as written may already
    // take over half the target (factor 1): it then runs as written and says
    // so. An optimised build always paces it (0.7 s as written).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    constexpr bool sanitized = true;
#else
    constexpr bool sanitized = false;
#endif
    const std::optional<LessonPace> known = w->lessonPacer()->pace(lesson.id);
    QVERIFY2(known.has_value(), qPrintable(pacing->text()));
    const LessonPace pace = *known;
    QVERIFY2(sanitized || pace.factor > 1, qPrintable(pacing->text()));
    const bool paced = pace.factor > 1;
    QVERIFY2(pacing->text().contains(paced ? QStringLiteral("Paced to watch: each task")
                                           : QStringLiteral("Runs as written")),
             qPrintable(pacing->text()));
    QSignalSpy started(w->controller(), &RunController::runStarted);
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QTest::mouseClick(w->lessonPanel()->findChild<QPushButton*>(QStringLiteral("runButton")),
                      Qt::LeftButton);
    // The charts frame the run to its expected length while it runs ...
    auto* tp = w->findChild<ThroughputChart*>(QStringLiteral("throughputChart"));
    auto* cpu = w->findChild<PerCoreChart*>(QStringLiteral("perCoreChart"));
    QVERIFY(tp && cpu);
    QTRY_COMPARE(started.count(), 1);
    if (finished.isEmpty()) {
        const ChartAdapter::RunFrame f = tp->chart()->runFrame();
        QVERIFY(f.isSet() && f.endS < 0);
        QCOMPARE(f.expectedS, w->lessonPacer()->pace(lesson.id)->pacedSeconds);
        QVERIFY(tp->rateWindowNs() < 1'000'000'000); // a tenth of ~5 s
    }
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 4 * kLong);
    { // ... and to its length once it ended, the CPU chart as the throughput
        const ChartAdapter::RunFrame f = tp->chart()->runFrame();
        const double shown = f.endS - f.startS;
        const double wall = finished.first().first().value<RunSummary>().wallSeconds;
        QVERIFY2(f.isSet() && std::abs(shown - wall) <= 0.05 * wall + 0.05,
                 qPrintable(QStringLiteral("framed %1 s of a %2 s run").arg(shown).arg(wall)));
        const QPointF x = tp->chart()->xRange();
        QVERIFY(x.x() <= f.startS && x.y() >= f.endS && x.y() - x.x() <= 1.1 * shown);
        QCOMPARE(cpu->chart()->runFrame().startS, f.startS);
        QCOMPARE(cpu->chart()->runFrame().endS, f.endS);
    }
    const RunSpec ran = started.first().at(1).value<RunSpec>();
    QCOMPARE(ran.run.tasks, lesson.scenario.run.tasks); // the same batch ...
    if (paced)
        QVERIFY(ran.run.size > lesson.scenario.run.size); // ... of longer tasks
    else
        QCOMPARE(ran.run.size, lesson.scenario.run.size);
    const RunSummary sum = finished.first().first().value<RunSummary>();
    const QString figures = QStringLiteral("%1 s, other programs %2 cores (%3)")
                                .arg(sum.wallSeconds)
                                .arg(sum.otherCores)
                                .arg(pacing->text());
    // The estimate holds on a quiet machine and an optimised build: under a
    // sanitizer contended code slows far more than the one-thread probe, and
    // other programs take cores the probe had.
    if (!sanitized && sum.otherCores < LoadMeter::kBusyCores)
        QVERIFY2(sum.wallSeconds >= 2.5 && sum.wallSeconds <= 12.0, qPrintable(figures));
    else
        qInfo("paced run not judged (sanitizer or busy machine): %s", qPrintable(figures));

    // Lesson 7 grows by its task count (tiny tasks are its point), lesson 8
    // not at all (its timeout is).
    QVERIFY(w->openLesson(QStringLiteral("chunks")));
    QTRY_VERIFY_WITH_TIMEOUT(w->lessonPacer()->pace(QStringLiteral("chunks")).has_value(), kLong);
    const bool chunksPaced = w->lessonPacer()->pace(QStringLiteral("chunks"))->factor > 1;
    QVERIFY(sanitized || chunksPaced);
    QTRY_VERIFY_WITH_TIMEOUT(pacing->text().contains(chunksPaced
                                                         ? QStringLiteral("as many tasks")
                                                         : QStringLiteral("Runs as written")),
                             kLong);
    QVERIFY(w->openLesson(QStringLiteral("crash")));
    QTRY_VERIFY_WITH_TIMEOUT(pacing->text().contains(QStringLiteral("not paced")), kLong);
    // Off: runs as written, nothing said.
    w->action(QStringLiteral("lessonPacing"))->setChecked(false);
    QVERIFY(pacing->text().isEmpty());
}

void TstTeachingWindow::abStoppingAMeansNoB()
{
    auto w = makeWindow();
    QVERIFY(w->openLesson(QStringLiteral("io-threads")));
    QSignalSpy started(w->controller(), &RunController::runStarted);
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QSignalSpy ticks(w->controller(), &RunController::snapshotReady);
    QVERIFY(w->runLessonAB());
    QCOMPARE(started.count(), 1);
    QTRY_VERIFY_WITH_TIMEOUT(w->controller()->lastSnapshot().counters.running > 0, kLong);
    w->action(QStringLiteral("stop"))->trigger();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QVERIFY(finished.first().first().value<RunSummary>().cancelled > 0);
    // B would start on the next event-loop pass: give it several ticks.
    const qsizetype at = ticks.count();
    QTRY_VERIFY_WITH_TIMEOUT(ticks.count() >= at + 5, kLong);
    QCOMPARE(started.count(), 1);
    QVERIFY(!w->controller()->isRunning());
    QVERIFY(w->abCompare()->hasRun(ABCompare::Slot::A)); // what ran of A is kept
    QVERIFY(!w->abCompare()->hasRun(ABCompare::Slot::B));
    QVERIFY2(w->statusBar()->currentMessage().contains(QStringLiteral("were not started")),
             qPrintable(w->statusBar()->currentMessage()));
}

void TstTeachingWindow::abKeepsTwoPoolKinds()
{
    auto w = makeWindow();
    QAction* keepA = w->action(QStringLiteral("keepAsA"));
    QAction* keepB = w->action(QStringLiteral("keepAsB"));
    QVERIFY(!keepA->isEnabled() && !keepB->isEnabled());
    RunSummary s =
        runToEnd(*w, spec(QStringLiteral("primes"), 6, 20'000, QStringLiteral("thread"), 2));
    QCOMPARE(s.succeeded, 6);
    QVERIFY(keepA->isEnabled());
    QTest::keySequence(w.get(), keepA->shortcut());
    QTRY_VERIFY(w->dock(QStringLiteral("abDock"))->isVisible());
    s = runToEnd(*w, spec(QStringLiteral("primes"), 8, 20'000, QStringLiteral("process"), 2));
    QCOMPARE(s.succeeded, 8);
    // The button in the dock does what the action does.
    auto* button = w->findChild<QPushButton*>(QStringLiteral("keepBButton"));
    QVERIFY(button && button->isEnabled());
    QTest::mouseClick(button, Qt::LeftButton);
    ABCompare* cmp = w->abCompare();
    QVERIFY(cmp->hasRun(ABCompare::Slot::A) && cmp->hasRun(ABCompare::Slot::B));
    QVERIFY2(cmp->label(ABCompare::Slot::A).contains(QStringLiteral("2 threads")),
             qPrintable(cmp->label(ABCompare::Slot::A)));
    QVERIFY2(cmp->label(ABCompare::Slot::B).contains(QStringLiteral("2 processes")),
             qPrintable(cmp->label(ABCompare::Slot::B)));
    QCOMPARE(cmp->numbers(ABCompare::Slot::A).tasks, qint64(6));
    QCOMPARE(cmp->numbers(ABCompare::Slot::B).tasks, qint64(8));
    QVERIFY(!cmp->comparisonText().isEmpty());
}

void TstTeachingWindow::stepStartsExactlyOneTask()
{
    auto w = makeWindow();
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    RunController* c = w->controller();
    QAction* step = w->action(QStringLiteral("step"));
    auto* stepButton =
        w->slowMotionToolBar()->findChild<QPushButton*>(QStringLiteral("stepButton"));
    QVERIFY(stepButton);
    QVERIFY(!step->isEnabled());
    QVERIFY(!stepButton->isEnabled());
    QVERIFY(w->slowMotionToolBar()->isVisible());

    // Pause first (Space), then submit: everything waits in the queue.
    QTest::keyClick(w.get(), Qt::Key_Space);
    QVERIFY(c->isPaused());
    QVERIFY(step->isEnabled());
    QVERIFY(stepButton->isEnabled());
    QSignalSpy finished(c, &RunController::runFinished);
    QVERIFY(w->startSpec(spec(QStringLiteral("sleep"), 5, 30, QStringLiteral("thread"), 2)));
    QSignalSpy ticks(c, &RunController::snapshotReady);
    QTRY_COMPARE_WITH_TIMEOUT(c->lastSnapshot().counters.queued, quint64(5), kLong);
    QCOMPARE(c->lastSnapshot().counters.running + c->lastSnapshot().counters.succeeded, quint64(0));

    // F10: exactly one task goes from the queue to a worker to done.
    auto settled = [&](quint64 done) {
        // wait for the task, then for three more ticks: no other task moved
        if (!QTest::qWaitFor([&] { return c->lastSnapshot().counters.succeeded == done; }, kLong))
            return false;
        const qsizetype at = ticks.count();
        return QTest::qWaitFor([&] { return ticks.count() >= at + 3; }, kLong);
    };
    QTest::keyClick(w.get(), Qt::Key_F10);
    QVERIFY(settled(1));
    QCOMPARE(c->lastSnapshot().counters.succeeded, quint64(1));
    QCOMPARE(c->lastSnapshot().counters.running, quint64(0));
    QCOMPARE(c->lastSnapshot().counters.queued, quint64(4));
    // The toolbar's Step button does the same.
    QTest::mouseClick(stepButton, Qt::LeftButton);
    QVERIFY(settled(2));
    QCOMPARE(c->lastSnapshot().counters.succeeded, quint64(2));
    QCOMPARE(c->lastSnapshot().counters.running, quint64(0));
    QCOMPARE(c->lastSnapshot().counters.queued, quint64(3));
    QCOMPARE(w->futuresModel()->rowCount(), 2);
    QCOMPARE(finished.count(), 0);

    // Resume: the rest runs; Step is off again (and refuses with a reason).
    QTest::keyClick(w.get(), Qt::Key_Space);
    QVERIFY(!step->isEnabled());
    QVERIFY(!stepButton->isEnabled());
    QSignalSpy errors(c, &RunController::error);
    QVERIFY(!c->step());
    QCOMPARE(errors.count(), 1);
    QVERIFY(errors.first().first().toString().contains(QStringLiteral("paused")));
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QCOMPARE(finished.first().first().value<RunSummary>().succeeded, 5);
}

void TstTeachingWindow::slowMotionLengthensTheSubmittedRun()
{
    auto w = makeWindow();
    SlowMotionBar* bar = w->slowMotionBar();
    QCOMPARE(bar->factor(), 1);
    // F9 cycles the factors, the menu shows the current one.
    QTest::keyClick(w.get(), Qt::Key_F9);
    QCOMPARE(bar->factor(), SlowMotion::factors().at(1));
    QVERIFY(w->action(QStringLiteral("slowMotion%1").arg(bar->factor()))->isChecked());
    w->action(QStringLiteral("slowMotion5"))->trigger();
    QCOMPARE(bar->factor(), 5);

    QSignalSpy started(w->controller(), &RunController::runStarted);
    const RunSpec asked = spec(QStringLiteral("sleep"), 4, 20, QStringLiteral("thread"), 4);
    const RunSummary s = runToEnd(*w, asked);
    QCOMPARE(s.succeeded, 4);
    QCOMPARE(started.count(), 1);
    // The pool got tasks 5x longer; the controls keep what was asked.
    QCOMPARE(started.first().at(1).value<RunSpec>().run.size, qint64(100));
    QCOMPARE(started.first().at(1).value<RunSpec>().run.tasks, 4);
    QCOMPARE(w->controlBar()->spec().run.size, qint64(20));
    for (const TaskSpan sp : *w->controller()->monitor()->record())
        QVERIFY2(sp.endNs - sp.startNs >= 100 * kMs,
                 qPrintable(QString::number(sp.endNs - sp.startNs)));

    // Back to normal: the next run is the one asked for.
    w->action(QStringLiteral("slowMotion1"))->trigger();
    runToEnd(*w, asked);
    QCOMPARE(started.count(), 2);
    QCOMPARE(started.at(1).at(1).value<RunSpec>().run.size, qint64(20));
}

void TstTeachingWindow::chunkedProcessRunFromTheWindow()
{
    auto w = makeWindow();
    ControlBar* cb = w->controlBar();
    RunSpec s = spec(QStringLiteral("primes"), 12, 5'000, QStringLiteral("process"), 2);
    s.chunkSize = 4;
    cb->setSpec(s);
    QVERIFY(cb->chunkSpin()->isEnabled());
    QCOMPARE(cb->spec().chunkSize, 4);
    QVERIFY2(!cb->isHintVisible(), qPrintable(cb->hint()));
    QVERIFY(w->action(QStringLiteral("start"))->isEnabled());
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    w->action(QStringLiteral("start"))->trigger();
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    const RunSummary sum = finished.first().first().value<RunSummary>();
    QCOMPARE(sum.poolKind, QStringLiteral("process"));
    QCOMPARE(sum.items, 12);
    QCOMPARE(sum.tasks, 3);
    QCOMPARE(sum.succeeded, 3);
    // One row and one span per chunk, named as a chunk, each with the
    // array of its four items' prime counts.
    QTRY_COMPARE_WITH_TIMEOUT(w->futuresModel()->rowCount(), 3, kLong);
    for (int row = 0; row < 3; ++row) {
        const QString task =
            w->futuresModel()->index(row, FuturesModel::TaskColumn).data().toString();
        QVERIFY2(task.contains(QStringLiteral("x4")), qPrintable(task));
    }
    QCOMPARE(w->timeline()->spanCount(), std::size_t(3));
}

void TstTeachingWindow::analysisGetsTheMachinesCpu()
{
    auto w = makeWindow();
    QCOMPARE(w->lastRunContext().systemCpuBusy, -1.0);
    // Long enough for several CPU samples (every 500 ms).
    const RunSummary s =
        runToEnd(*w, spec(QStringLiteral("sleep"), 4, 800, QStringLiteral("thread"), 2));
    QCOMPARE(s.succeeded, 4);
    const RunContext ctx = w->lastRunContext();
    QVERIFY2(ctx.systemCpuBusy >= 0.0 && ctx.systemCpuBusy <= 1.0,
             qPrintable(QString::number(ctx.systemCpuBusy)));
    QCOMPARE(ctx.workers, 2);
    QVERIFY(ctx.cores >= 1);
    QVERIFY(!ctx.gil);
}

// The timeline followed "now", so a finished run scrolled away within
// seconds. At the run's end it stops following and frames the run; the
// next run follows again; Ctrl+L frames the last run after any zoom.
void TstTeachingWindow::timelineKeepsTheFinishedRunFramed()
{
    auto w = makeWindow();
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    TimelineWidget* tl = w->timeline();
    QVERIFY(tl->isFollowing());
    const RunSummary s =
        runToEnd(*w, spec(QStringLiteral("sleep"), 4, 200, QStringLiteral("thread"), 2));
    QCOMPARE(s.succeeded, 4);
    QVERIFY(!tl->isFollowing());
    const RunTotals& t = w->controller()->monitor()->record()->totals();
    QVERIFY(tl->viewStartNs() <= double(t.firstNs));
    QVERIFY(tl->viewEndNs() >= double(t.lastEndNs));
    QVERIFY(tl->viewEndNs() - tl->viewStartNs() < 1.2 * double(t.lastEndNs - t.firstNs));
    const double start = tl->viewStartNs();
    // Ticks go on while idle: the run stays where it is.
    QSignalSpy views(w.get(), &MainWindow::viewsUpdated);
    QTRY_VERIFY_WITH_TIMEOUT(views.count() >= 3, kLong);
    QCOMPARE(tl->viewStartNs(), start);
    tl->zoomOut();
    tl->zoomOut();
    QTest::keySequence(w.get(), QKeySequence(Qt::CTRL | Qt::Key_L));
    QCOMPARE(tl->viewStartNs(), start);
    // Ctrl+Shift+L fits everything: the run and "now", not following.
    tl->zoomIn();
    tl->zoomIn();
    QTest::keySequence(w.get(), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_L));
    QVERIFY(!tl->isFollowing());
    QVERIFY(tl->viewStartNs() <= double(t.firstNs));
    QVERIFY(tl->viewEndNs() >= double(tl->nowNs()));
    QTest::keySequence(w.get(), QKeySequence(Qt::CTRL | Qt::Key_L));
    QCOMPARE(tl->viewStartNs(), start);
    // A new run is watched live.
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QVERIFY(w->startSpec(spec(QStringLiteral("sleep"), 2, 300, QStringLiteral("thread"), 2)));
    QVERIFY(tl->isFollowing());
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QTRY_VERIFY(!tl->isFollowing());
    // One time origin on every panel: seconds since the Monitor attached.
    QVERIFY(tl->originNs() > 0);
    QCOMPARE(w->throughputChart()->originNs(), tl->originNs());
    QCOMPARE(w->perCoreChart()->originNs(), tl->originNs());
}

void TstTeachingWindow::fitsClassroomScreens_data()
{
    QTest::addColumn<QString>("mode");
    QTest::addColumn<QString>("workload"); // "" = the default; "lesson N" opens lesson N
    for (const char* mode : {"normal", "presenter"}) {
        for (const Workload& wl : Workloads::all()) {
            // presenter: the workloads with the most knobs (the widest bars)
            if (QLatin1String(mode) == QLatin1String("presenter") && wl.knobs.size() < 3)
                continue;
            QTest::newRow(qPrintable(QStringLiteral("%1, %2").arg(QLatin1String(mode), wl.name)))
                << QString::fromLatin1(mode) << wl.name;
        }
        for (const Lesson& l : LessonLibrary::all())
            QTest::newRow(
                qPrintable(QStringLiteral("%1, lesson %2").arg(QLatin1String(mode)).arg(l.number)))
                << QString::fromLatin1(mode) << QStringLiteral("lesson %1").arg(l.number);
    }
}

void TstTeachingWindow::fitsClassroomScreens()
{
    QFETCH(QString, mode);
    QFETCH(QString, workload);
    auto w = makeWindow();
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    if (workload.startsWith(QLatin1String("lesson "))) {
        QVERIFY(w->openLesson(workload.mid(7)));
    } else {
        RunSpec s = w->controlBar()->spec();
        s.workload = workload;
        s.run = Workloads::find(workload)->defaultRun();
        w->controlBar()->setSpec(s);
    }
    if (mode == QLatin1String("presenter"))
        w->action(QStringLiteral("presenter"))->trigger();
    // Every teaching dock open as well (A/B, replay, sweep, analysis).
    for (const char* a : {"abPanel", "replayPanel"})
        w->action(QLatin1String(a))->trigger();
    QApplication::processEvents();
    const QSize min = w->minimumSizeHint().expandedTo(w->minimumSize());
    QVERIFY2(min.width() <= 1280 && min.height() <= 720,
             qPrintable(QStringLiteral("minimum %1x%2").arg(min.width()).arg(min.height())));
    // On each classroom screen: the window takes it, and nothing lies
    // outside it (panels that are short of room scroll inside themselves).
    for (const QSize screen : {QSize(1280, 720), QSize(1920, 1080)}) {
        w->resize(screen);
        QTRY_COMPARE(w->size(), screen);
        QApplication::processEvents(); // the controls re-arrange, the toolbar follows
        QApplication::processEvents();
        for (QWidget* c : w->findChildren<QWidget*>()) {
            if (!c->isVisible() || c->isWindow())
                continue;
            bool skip = false; // inside a scroll area (it may scroll there), or a tab behind
            for (QWidget* p = c; p && p != w.get(); p = p->parentWidget()) {
                skip = skip || (p != c && qobject_cast<QAbstractScrollArea*>(p));
                if (auto* d = qobject_cast<QDockWidget*>(p))
                    skip =
                        skip
                        || (!w->tabifiedDockWidgets(d).isEmpty() && d->visibleRegion().isEmpty());
            }
            const QRect r(c->mapTo(w.get(), QPoint(0, 0)), c->size());
            // QMainWindow parks unused tab bars above-left of the window.
            skip = skip || (r.right() < 0 && r.bottom() < 0 && c->visibleRegion().isEmpty());
            if (skip)
                continue;
            QVERIFY2(
                w->rect().contains(r),
                qPrintable(QStringLiteral("%1x%2: %3 '%4' at %5,%6 %7x%8")
                               .arg(screen.width())
                               .arg(screen.height())
                               .arg(QLatin1String(c->metaObject()->className()), c->objectName())
                               .arg(r.x())
                               .arg(r.y())
                               .arg(r.width())
                               .arg(r.height())));
        }
        // The run controls are all there, none pushed into a toolbar menu.
        for (const char* b : {"startButton", "pauseButton", "stopButton"}) {
            auto* button = w->controlBar()->findChild<QWidget*>(QLatin1String(b));
            QVERIFY2(button && button->isVisible(), b);
        }
        // One row when it fits, two when not; on 1920 px the normal bar has room.
        ControlBar* cb = w->controlBar();
        QCOMPARE(cb->isNarrow(), cb->width() < cb->wideMinimumWidth());
        if (screen.width() == 1920 && mode == QLatin1String("normal"))
            QVERIFY2(
                !cb->isNarrow(),
                qPrintable(QStringLiteral("%1 < %2").arg(cb->width()).arg(cb->wideMinimumWidth())));
    }
}

void TstTeachingWindow::presenterHidesAdvancedControls()
{
    auto w = makeWindow();
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    QSpinBox* priority = w->controlBar()->prioritySpin();
    QVERIFY(priority->isVisible());
    QVERIFY(w->controlBar()->workersSpin()->isVisible());
    QTest::keySequence(w.get(), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_P));
    QVERIFY(w->action(QStringLiteral("presenter"))->isChecked());
    QVERIFY(!priority->isVisible());
    QVERIFY(w->controlBar()->workersSpin()->isVisible()); // not advanced
    QVERIFY(w->slowMotionBar()->isVisible());             // the class needs it
    // A projector layout: few, large panels; the others wait in View.
    auto visible = [&](const char* name) {
        return w->findChild<QDockWidget*>(QLatin1String(name))->isVisible();
    };
    for (const char* gone : {"workersDock", "queueDock", "futuresDock", "throughputDock"})
        QVERIFY2(!visible(gone), gone);
    for (const char* kept : {"timelineDock", "cpuDock"})
        QVERIFY2(visible(kept), kept);
    QTest::keySequence(w.get(), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_P));
    QVERIFY(priority->isVisible());
    for (const char* back : {"workersDock", "queueDock", "futuresDock", "throughputDock"})
        QVERIFY2(visible(back), back); // the layout as it was
}

void TstTeachingWindow::presenterThickensLines()
{
    auto w = makeWindow();
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    ChartAdapter* throughput = w->throughputChart()->chart();
    QVERIFY(throughput->lineCount() > 0);
    // The per-core chart gets its lines with the first CPU sample.
    QTRY_VERIFY_WITH_TIMEOUT(w->perCoreChart()->chart()->lineCount() > 0, 30'000);
    ChartAdapter* perCore = w->perCoreChart()->chart();
    const qreal rate = throughput->lineWidth(0); // tasks/s
    const qreal labels = throughput->labelPointSize();
    QVERIFY(labels > 0);
    const qreal core = perCore->lineWidth(0); // cpu0
    const qreal lastCore = perCore->lineWidth(perCore->lineCount() - 1);
    QVERIFY(rate > 0 && core > 0);
    QCOMPARE(w->timeline()->outlineWidth(), 1.0);
    const qreal replayRate = w->findChild<ReplayCharts*>(QStringLiteral("replayCharts"))
                                 ->throughputChart()
                                 ->lineWidth(ReplayCharts::RateLine);
    QVERIFY(replayRate > 0);

    w->action(QStringLiteral("presenter"))->trigger();
    QVERIFY(isPresenterMode(w.get()));
    QCOMPARE(throughput->lineWidth(0), rate * kPresenterLineScale);
    QCOMPARE(perCore->lineWidth(0), core * kPresenterLineScale);
    QCOMPARE(perCore->lineWidth(perCore->lineCount() - 1), lastCore * kPresenterLineScale);
    QCOMPARE(w->timeline()->outlineWidth(), kPresenterLineScale);
    // Legends and axis labels grow with the fonts.
    QVERIFY2(throughput->labelPointSize() >= labels * 1.25,
             qPrintable(QStringLiteral("%1 -> %2").arg(labels).arg(throughput->labelPointSize())));

    // A chart built while presenter mode is on (the per-core chart is rebuilt
    // for a new pool) draws thick lines from its first one.
    auto* late = new ChartAdapter(w->perCoreChart());
    QCOMPARE(
        late->lineWidth(late->addLine(QStringLiteral("late"), {}, ChartAdapter::Axis::Left, 1.5)),
        1.5 * kPresenterLineScale);

    // The Replay dock's charts too, including per-core lines made for a
    // recording loaded while the mode is on.
    auto* replayCharts = w->findChild<ReplayCharts*>(QStringLiteral("replayCharts"));
    QVERIFY(replayCharts);
    QCOMPARE(replayCharts->throughputChart()->lineWidth(ReplayCharts::RateLine),
             replayRate * kPresenterLineScale);
    w->replay()->setTrace(smallTrace(4, 1));
    QCOMPARE(replayCharts->coreChart()->lineCount(), 1);
    const qreal replayCore = replayCharts->coreChart()->lineWidth(0);
    QVERIFY(replayCore > 1.5); // 1.2 x the scale

    w->action(QStringLiteral("presenter"))->trigger(); // and back
    QVERIFY(!isPresenterMode(w.get()));
    QCOMPARE(replayCharts->throughputChart()->lineWidth(ReplayCharts::RateLine), replayRate);
    QCOMPARE(replayCharts->coreChart()->lineWidth(0), replayCore / kPresenterLineScale);
    QCOMPARE(throughput->lineWidth(0), rate);
    QCOMPARE(throughput->labelPointSize(), labels);
    QCOMPARE(perCore->lineWidth(0), core);
    QCOMPARE(late->lineWidth(0), 1.5);
    QCOMPARE(w->timeline()->outlineWidth(), 1.0);
}

void TstTeachingWindow::teachingStatePersists()
{
    {
        auto w = makeWindow(true, true);
        QVERIFY(QTest::qWaitForWindowExposed(w.get()));
        w->action(QStringLiteral("abPanel"))->trigger();
        QTRY_VERIFY(w->dock(QStringLiteral("abDock"))->isVisible());
        w->action(QStringLiteral("slowMotion10"))->trigger();
        QVERIFY(w->action(QStringLiteral("repeatMeasurements"))->isChecked()); // defaults
        QVERIFY(w->action(QStringLiteral("pythonErrors"))->isChecked());
        QVERIFY(w->action(QStringLiteral("lessonPacing"))->isChecked());
        QVERIFY(w->action(QStringLiteral("yieldWhenBusy"))->isChecked());
        QVERIFY(w->controller()->yieldsWhenBusy());
        w->action(QStringLiteral("repeatMeasurements"))->trigger();
        w->action(QStringLiteral("pythonErrors"))->trigger();
        w->action(QStringLiteral("yieldWhenBusy"))->trigger();
        QVERIFY(!w->controller()->yieldsWhenBusy());
        w->slowMotionToolBar()->toggleViewAction()->trigger();
        QVERIFY(!w->slowMotionToolBar()->isVisible());
        w->close(); // saves
    }
    auto w = makeWindow(true, true);
    QVERIFY(QTest::qWaitForWindowExposed(w.get()));
    QVERIFY(w->dock(QStringLiteral("abDock"))->toggleViewAction()->isChecked());
    QVERIFY(!w->dock(QStringLiteral("replayDock"))->toggleViewAction()->isChecked());
    QCOMPARE(w->slowMotionBar()->factor(), 10);
    QVERIFY(w->action(QStringLiteral("slowMotion10"))->isChecked());
    QVERIFY(!w->action(QStringLiteral("repeatMeasurements"))->isChecked());
    QVERIFY(!w->action(QStringLiteral("pythonErrors"))->isChecked());
    QVERIFY(!w->action(QStringLiteral("yieldWhenBusy"))->isChecked());
    QVERIFY(!w->controller()->yieldsWhenBusy()); // the setting reaches the controller
    QVERIFY(w->action(QStringLiteral("lessonPacing"))->isChecked()); // untouched: the default
    QVERIFY(!w->slowMotionToolBar()->isVisible());
    // Reset layout brings the toolbar back and closes the teaching docks.
    w->action(QStringLiteral("resetLayout"))->trigger();
    QVERIFY(w->slowMotionToolBar()->isVisible());
    QVERIFY(!w->dock(QStringLiteral("abDock"))->isVisible());
}

void TstTeachingWindow::eventLoopLessonDeliversOnTheGuiThread()
{
    auto w = makeWindow();
    QVERIFY(w->openLesson(QStringLiteral("9")));
    const Lesson& lesson = w->lessonPanel()->currentLesson();
    QCOMPARE(lesson.id, QStringLiteral("event-loop"));
    QVERIFY(lesson.scenario.runSpec().qfutures);
    const int n = lesson.scenario.run.tasks;
    QVERIFY(n >= 8 && n <= 32);
    ContinuationsView* view = w->lessonPanel()->continuationsView();
    QVERIFY(view);
    QVERIFY(view->isVisibleTo(w->lessonPanel()));
    QVERIFY(!view->isBeating());

    QSignalSpy started(w->controller(), &RunController::runStarted);
    QSignalSpy results(w->controller(), &RunController::resultsReady);
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QTest::mouseClick(w->lessonPanel()->findChild<QPushButton*>(QStringLiteral("runButton")),
                      Qt::LeftButton);
    QCOMPARE(started.count(), 1);
    const quint64 id = started.first().at(0).value<quint64>();
    QCOMPARE(view->expected(), n);
    QVERIFY(view->isBeating()); // the heartbeat runs while the pool works
    QTRY_VERIFY_WITH_TIMEOUT(view->isGathered(), kLong);
    QVERIFY(!view->isBeating());

    // .then(): every future delivered, each on the GUI thread.
    QCOMPARE(view->delivered(), n);
    QCOMPARE(view->failed(), 0);
    QCOMPARE(view->offGuiThread(), 0);
    const QString thenLine = label(view, "continuationsThen")->text();
    QVERIFY2(thenLine.contains(QStringLiteral("on the GUI thread by .then(): %1 of %1").arg(n)),
             qPrintable(thenLine));
    QVERIFY2(!thenLine.contains(QStringLiteral("OFF")), qPrintable(thenLine));

    // whenAll: the gather's sum is the run's, as the batched results say.
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    const BatchedBands batched = insidePixels(results, id);
    QCOMPARE(batched.bands, n);
    QVERIFY(batched.inside > 0); // bands through the set
    QCOMPARE(view->gatheredResults(), n);
    QCOMPARE(view->gatheredSum(), batched.inside);
    const QString gatherLine = label(view, "continuationsGather")->text();
    QVERIFY2(gatherLine.contains(QStringLiteral("gather (whenAll) done after")),
             qPrintable(gatherLine));
    QVERIFY2(
        gatherLine.contains(
            QStringLiteral("%1 results, sum = %2").arg(n).arg(QLocale().toString(batched.inside))),
        qPrintable(gatherLine));

    // The heartbeat beat during the run and says how late it was.
    QVERIFY(view->heartbeats() > 0);
    QVERIFY(view->lagMaxMs() >= view->lagP99Ms());
    const QString beatLine = label(view, "continuationsHeartbeat")->text();
    QVERIFY2(beatLine.contains(QStringLiteral("GUI heartbeat"))
                 && beatLine.contains(QStringLiteral("p99")),
             qPrintable(beatLine));

    // Other lessons do not get the futures, nor show the lines.
    QVERIFY(w->openLesson(QStringLiteral("futures")));
    QVERIFY(!view->isVisibleTo(w->lessonPanel()));
    QCOMPARE(view->expected(), 0);
}

void TstTeachingWindow::lessonOneNamesTheFailingTasksAsTheTableDoes()
{
    // Lesson 1 tells the class which tasks fail: the ids it names are the
    // failed rows' ids in the futures table of a fresh window.
    auto w = makeWindow();
    QVERIFY(w->openLesson(QStringLiteral("futures")));
    LessonPanel* panel = w->lessonPanel();
    QSignalSpy finished(w->controller(), &RunController::runFinished);
    QTest::mouseClick(panel->findChild<QPushButton*>(QStringLiteral("runButton")), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QTRY_COMPARE_WITH_TIMEOUT(w->futuresModel()->rowCount(), 20, kLong);
    w->futuresStatusCombo()->setCurrentIndex(
        w->futuresStatusCombo()->findData(int(FuturesModel::StatusFilter::Failed)));
    QList<qulonglong> failed;
    for (int r = 0; r < w->futuresModel()->rowCount(); ++r)
        failed.append(w->futuresModel()->index(r, 0).data().toULongLong());
    std::sort(failed.begin(), failed.end());
    QCOMPARE(failed, (QList<qulonglong>{5, 10, 15, 20}));
    const QString observe = panel->currentLesson().observe.join(u'\n');
    QVERIFY2(observe.contains(QStringLiteral("ids 5, 10, 15 and 20")), qPrintable(observe));
}

void TstTeachingWindow::eventLoopLessonResetsAndRunsAgain()
{
    auto w = makeWindow();
    QVERIFY(w->openLesson(QStringLiteral("event-loop")));
    LessonPanel* panel = w->lessonPanel();
    ContinuationsView* view = panel->continuationsView();
    auto* run = panel->findChild<QPushButton*>(QStringLiteral("runButton"));
    auto* reset = panel->findChild<QPushButton*>(QStringLiteral("resetButton"));
    const int n = panel->currentLesson().scenario.run.tasks;
    QSignalSpy started(w->controller(), &RunController::runStarted);
    QSignalSpy results(w->controller(), &RunController::resultsReady);
    QSignalSpy finished(w->controller(), &RunController::runFinished);

    // Reset in the middle of a run: the lines are cleared and stay clear,
    // although that run's futures still complete (cancelled or stopped).
    QTest::mouseClick(run, Qt::LeftButton);
    QCOMPARE(view->expected(), n);
    QTest::mouseClick(reset, Qt::LeftButton);
    QCOMPARE(view->expected(), 0);
    QVERIFY(!view->isBeating());
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, kLong);
    QTRY_VERIFY_WITH_TIMEOUT(!w->controller()->isRunning(), kLong);
    QCOMPARE(view->delivered(), 0);
    QVERIFY(!view->isGathered());
    QVERIFY2(label(view, "continuationsThen")->text().contains(QStringLiteral("press Run")),
             qPrintable(label(view, "continuationsThen")->text()));
    QVERIFY2(
        label(view, "continuationsGather")->text().contains(QStringLiteral("waiting for a run")),
        qPrintable(label(view, "continuationsGather")->text()));

    // A second run is delivered and gathered in full.
    QTest::mouseClick(run, Qt::LeftButton);
    QCOMPARE(started.count(), 2);
    const quint64 second = started.at(1).at(0).value<quint64>();
    QTRY_VERIFY_WITH_TIMEOUT(view->isGathered(), kLong);
    QCOMPARE(view->delivered(), n);
    QCOMPARE(view->offGuiThread(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, kLong);
    const BatchedBands batched = insidePixels(results, second);
    QCOMPARE(batched.bands, n);
    QCOMPARE(view->gatheredResults(), n);
    QCOMPARE(view->gatheredSum(), batched.inside);

    // Reset after it: cleared again.
    QTest::mouseClick(reset, Qt::LeftButton);
    QCOMPARE(view->delivered(), 0);
    QVERIFY(!view->isGathered());
    QVERIFY(
        label(view, "continuationsGather")->text().contains(QStringLiteral("waiting for a run")));
}

QTEST_MAIN(TstTeachingWindow)
#include "tst_teachingwindow.moc"
