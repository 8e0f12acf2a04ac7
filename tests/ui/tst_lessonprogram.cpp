// Program lessons (lesson 11, "Your own Python code"), offscreen: the lesson
// format's program kind parses and validates with clear errors; the reveal
// steps hold; Run starts the shipped example under poolscope_probe and the
// window attaches to it, its end is said and the tasks counted equal the
// script's own JSON summary; Stop (the panel's and the window's) and closing
// the window kill it with its worker processes; a missing python3 or probe
// is a clear error and nothing hangs. QTRY_* and QSignalSpy, no fixed sleeps.
#include <attach/attachcontroller.h>
#include <mainwindow.h>
#include <runcontroller.h>
#include <teaching/lesson.h>
#include <teaching/programrun.h>

#include <poolscope/attach.h>
#include <poolscope/monitor.h>

#include <QAction>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QJsonObject>
#include <QLabel>
#include <QPushButton>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>

#include <memory>

using namespace poolscope;

namespace {
constexpr int kLong = 60'000;

std::unique_ptr<MainWindow> makeWindow()
{
    MainWindow::Options o;
    o.useSettings = false;
    auto w = std::make_unique<MainWindow>(o);
    w->resize(1280, 720);
    return w;
}

QString lessonText(const QString& header)
{
    return header
           + QStringLiteral("\n---\n## Predict\n\nWhich is faster?\n\n## Observe\n\n- the "
                            "panels\n\n## Explain\n\nBecause.\n");
}

/// A program lesson of its own (the test's choice of example and args).
Lesson programLesson(const QString& program, const QString& args)
{
    QString error;
    const auto l = LessonLibrary::parse(
        lessonText(QStringLiteral("id: test-program\nnumber: 99\ntitle: A script\nprogram: %1\n"
                                  "program.args: %2")
                       .arg(program, args)),
        &error, QStringLiteral("test.md"));
    if (!l)
        qFatal("test lesson: %s", qPrintable(error));
    return *l;
}

/// Processes of the process group `pgid` still alive (the script and its
/// pool's workers run in one group of their own).
int groupMembers(qint64 pgid)
{
    int n = 0;
    const QStringList procs = QDir(QStringLiteral("/proc")).entryList(QDir::Dirs);
    for (const QString& p : procs) {
        bool isPid = false;
        p.toLongLong(&isPid);
        if (!isPid)
            continue;
        QFile f(QStringLiteral("/proc/%1/stat").arg(p));
        if (!f.open(QIODevice::ReadOnly))
            continue;
        const QByteArray stat = f.readAll();
        // pid (comm) state ppid pgrp ...: comm may hold spaces, so after ')'
        const QList<QByteArray> rest = stat.mid(stat.lastIndexOf(')') + 2).split(' ');
        if (rest.size() > 2 && rest[0] != "Z" && rest[2].toLongLong() == pgid)
            ++n;
    }
    return n;
}

QPushButton* runButton(MainWindow* w)
{
    return w->lessonPanel()->findChild<QPushButton*>(QStringLiteral("runButton"));
}
} // namespace

class TestLessonProgram : public QObject {
    Q_OBJECT
private:
    QTemporaryDir m_dir; // the publishers' socket directory (0700, ours)

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        qputenv("POOLSCOPE_ATTACH_DIR", m_dir.path().toLocal8Bit());
        qunsetenv("POOLSCOPE_PYTHON");
        qunsetenv("POOLSCOPE_PYTHON_DIR");
        qunsetenv("POOLSCOPE_EXAMPLES_DIR");
        if (ProgramPaths::findInterpreter(QStringLiteral("python3")).isEmpty())
            QSKIP("python3 is not installed");
    }

    // ---- the lesson format

    void shippedLesson()
    {
        const auto l = LessonLibrary::find(QStringLiteral("11"));
        QVERIFY(l);
        QCOMPARE(l->id, QStringLiteral("own-python"));
        QVERIFY(l->scenario.isProgram());
        QVERIFY2(l->validate().isEmpty(), qPrintable(l->validate()));
        QVERIFY(!l->compare && !l->sweep);
        QVERIFY2(l->scenario.describe().startsWith(QStringLiteral(
                     "python3 -m poolscope_probe examples/python/cpu_threads_vs_processes.py "
                     "--tasks")),
                 qPrintable(l->scenario.describe()));
        QVERIFY(l->predict.contains(QStringLiteral("2 cores")));
        QVERIFY(l->explanation.contains(QStringLiteral("ProcessPoolExecutor")));
        QVERIFY(l->explanation.contains(QStringLiteral("--attach")));
        QVERIFY(!ProgramPaths::pythonDir().isEmpty());
        QVERIFY(ProgramPaths::examples().contains(QStringLiteral("cpu_threads_vs_processes.py")));
    }

    void parsesAndValidates_data()
    {
        QTest::addColumn<QString>("header");
        QTest::addColumn<QString>("parseError");    // "" = parses
        QTest::addColumn<QString>("validateError"); // "" = valid
        const QString base = QStringLiteral("id: p\nnumber: 50\ntitle: P\n");
        QTest::newRow("an example, with args")
            << base
                   + QStringLiteral("program: examples/python/threads_submit.py\n"
                                    "program.args: --quick --workers 2")
            << QString() << QString();
        QTest::newRow("an example by file name")
            << base + QStringLiteral("program: io_threads.py") << QString() << QString();
        QTest::newRow("a missing file")
            << base + QStringLiteral("program: examples/python/nope.py") << QString()
            << QStringLiteral("program 'examples/python/nope.py': no file");
        QTest::newRow("a missing absolute path")
            << base + QStringLiteral("program: /nonexistent/dir/script.py") << QString()
            << QStringLiteral("program '/nonexistent/dir/script.py': no such file");
        QTest::newRow("no script") << base + QStringLiteral("program:\nprogram.args: --quick")
                                   << QStringLiteral("'program:' needs a script") << QString();
        QTest::newRow("args without a program")
            << base + QStringLiteral("program.args: --quick")
            << QStringLiteral("'program:' needs a script") << QString();
        QTest::newRow("a workload too")
            << base + QStringLiteral("workload: primes\nprogram: threads_submit.py")
            << QStringLiteral("a workload or a program, not both") << QString();
        QTest::newRow("a pool key")
            << base + QStringLiteral("program: threads_submit.py\nworkers: 4")
            << QStringLiteral("'workers' does not apply to a program lesson") << QString();
        QTest::newRow("a run B")
            << base + QStringLiteral("program: threads_submit.py\ncompare.program.args: --quick")
            << QStringLiteral("no run B and no sweep") << QString();
        QTest::newRow("a sweep") << base
                                        + QStringLiteral(
                                            "program: threads_submit.py\nsweep.workers: 1..2")
                                 << QStringLiteral("no run B and no sweep") << QString();
    }
    void parsesAndValidates()
    {
        QFETCH(QString, header);
        QFETCH(QString, parseError);
        QFETCH(QString, validateError);
        QString error;
        const auto l = LessonLibrary::parse(lessonText(header), &error, QStringLiteral("x.md"));
        if (!parseError.isEmpty()) {
            QVERIFY(!l);
            QVERIFY2(error.contains(parseError), qPrintable(error));
            QVERIFY2(error.startsWith(QStringLiteral("x.md")), qPrintable(error));
            return;
        }
        QVERIFY2(l, qPrintable(error));
        QVERIFY(l->scenario.isProgram());
        QCOMPARE(l->pace, Lesson::Pace::Off);
        const QString why = l->validate();
        if (validateError.isEmpty()) {
            QVERIFY2(why.isEmpty(), qPrintable(why));
        } else {
            QVERIFY2(why.contains(validateError), qPrintable(why));
            // The panel says it before anything runs, in the error colour.
            auto w = makeWindow();
            w->lessonPanel()->setLessons({*l});
            QVERIFY2(w->lessonPanel()->programStatus().contains(validateError),
                     qPrintable(w->lessonPanel()->programStatus()));
            runButton(w.get())->click();
            QCOMPARE(w->programRun()->state(), ProgramRun::State::Failed);
            QVERIFY(!w->programRun()->isRunning());
        }
    }

    // ---- the window

    void revealStepsHold()
    {
        auto w = makeWindow();
        QVERIFY(w->openLesson(QStringLiteral("11")));
        LessonPanel* p = w->lessonPanel();
        auto* observe = p->findChild<QLabel*>(QStringLiteral("lessonObserve"));
        auto* explain = p->findChild<QTextBrowser*>(QStringLiteral("lessonExplain"));
        auto* combo = p->findChild<QComboBox*>(QStringLiteral("lessonProgramCombo"));
        QVERIFY(observe && explain && combo);
        // The question only, before Run.
        QCOMPARE(p->stage(), LessonPanel::Stage::Predict);
        QVERIFY(observe->isHidden());
        QVERIFY(explain->isHidden());
        QVERIFY(!combo->isHidden());
        QCOMPARE(combo->currentText(), QStringLiteral("cpu_threads_vs_processes.py"));
        QVERIFY(p->programStatus().isEmpty()); // nothing wrong, nothing run
        QVERIFY(!w->controller()->isRunning());
        // Run: what to look for, never the explanation; the script runs.
        QSignalSpy states(w->programRun(), &ProgramRun::stateChanged);
        runButton(w.get())->click();
        QCOMPARE(p->stage(), LessonPanel::Stage::Observe);
        QVERIFY(!observe->isHidden());
        QVERIFY(explain->isHidden());
        QVERIFY(w->programRun()->isRunning());
        QVERIFY(p->isProgramRunning());
        QCOMPARE(runButton(w.get())->text(), QStringLiteral("Stop"));
        QVERIFY(!combo->isEnabled());
        QVERIFY2(p->programStatus().contains(QStringLiteral("cpu_threads_vs_processes.py")),
                 qPrintable(p->programStatus()));
        QTRY_VERIFY_WITH_TIMEOUT(w->attachController()->isAttached(), kLong);
        // Explain (F4) when the teacher asks.
        w->action(QStringLiteral("explain"))->trigger();
        QCOMPARE(p->stage(), LessonPanel::Stage::Explain);
        QVERIFY(!explain->isHidden());
        w->programRun()->stop();
        QTRY_COMPARE_WITH_TIMEOUT(w->programRun()->state(), ProgramRun::State::Ended, kLong);
        QCOMPARE(runButton(w.get())->text(), QStringLiteral("Run"));
    }

    void runAttachesAndCounts_data()
    {
        QTest::addColumn<QString>("program");
        QTest::addColumn<int>("pools"); // pools the script makes
        QTest::newRow("cpu_threads_vs_processes (threads, then processes)")
            << QStringLiteral("examples/python/cpu_threads_vs_processes.py") << 2;
        QTest::newRow("threads_submit (failures, cancellations)")
            << QStringLiteral("examples/python/threads_submit.py") << 1;
        QTest::newRow("processes_submit (a failure)")
            << QStringLiteral("examples/python/processes_submit.py") << 1;
        QTest::newRow("map_chunks (chunks)")
            << QStringLiteral("examples/python/map_chunks.py") << 2;
        QTest::newRow("asyncio_gather (run_in_executor)")
            << QStringLiteral("examples/python/asyncio_gather.py") << 2;
    }
    void runAttachesAndCounts()
    {
        QFETCH(QString, program);
        QFETCH(int, pools);
        auto w = makeWindow();
        w->lessonPanel()->setLessons({programLesson(program, QStringLiteral("--quick"))});
        ProgramRun* run = w->programRun();
        QSignalSpy states(run, &ProgramRun::stateChanged);
        runButton(w.get())->click();
        QVERIFY2(run->isRunning(), qPrintable(run->errorString()));
        QCOMPARE(run->commandLine(),
                 QStringLiteral("python3 -m poolscope_probe %1 --quick").arg(program));
        // The window attaches to it by pid; the panels show its pool.
        QTRY_VERIFY_WITH_TIMEOUT(w->attachController()->isAttached(), kLong);
        QCOMPARE(w->attachController()->publisher().pid, run->pid());
        QTRY_VERIFY_WITH_TIMEOUT(w->controller()->watchesOtherProgram(), kLong);
        QTRY_VERIFY_WITH_TIMEOUT(run->totals().submitted > 0, kLong); // the counters move
        // Its end is said: by the panel, the banner and the run's state.
        QTRY_COMPARE_WITH_TIMEOUT(run->state(), ProgramRun::State::Ended, kLong);
        QVERIFY(w->attachController()->programEnded());
        QCOMPARE(run->exitCode(), 0);
        QVERIFY(!run->wasStopped());
        QVERIFY2(w->lessonPanel()->programStatus().contains(QStringLiteral("ended")),
                 qPrintable(w->lessonPanel()->programStatus()));
        QVERIFY2(w->attachBanner()->text().contains(QStringLiteral("ended")),
                 qPrintable(w->attachBanner()->text()));
        QCOMPARE(runButton(w.get())->text(), QStringLiteral("Run"));
        // The counts equal the script's own.
        const QJsonObject own = run->summary();
        QVERIFY2(!own.isEmpty(), run->output().constData());
        const Counters t = run->totals();
        QCOMPARE(run->poolsWatched(), pools);
        QCOMPARE(qint64(t.submitted), qint64(own.value(QStringLiteral("submitted")).toInt()));
        QCOMPARE(qint64(t.succeeded), qint64(own.value(QStringLiteral("succeeded")).toInt()));
        QCOMPARE(qint64(t.failed), qint64(own.value(QStringLiteral("failed")).toInt()));
        QCOMPARE(qint64(t.cancelled), qint64(own.value(QStringLiteral("cancelled")).toInt()));
        QCOMPARE(t.queued + t.running, quint64(0));
        QVERIFY2(w->lessonPanel()->programStatus().contains(
                     QStringLiteral("%1 succeeded").arg(t.succeeded)),
                 qPrintable(w->lessonPanel()->programStatus()));
        if (pools == 1) { // the window's own counters: the one pool it watched
            Monitor* m = w->controller()->monitor();
            m->tick();
            QCOMPARE(qint64(m->last().counters.submitted), qint64(t.submitted));
            QCOMPARE(qint64(m->last().counters.succeeded), qint64(t.succeeded));
            QCOMPARE(qint64(m->last().counters.failed), qint64(t.failed));
        }
        // Run again: a new script, attached in place of the ended one.
        const qint64 first = run->pid();
        runButton(w.get())->click();
        QTRY_VERIFY_WITH_TIMEOUT(w->attachController()->isAttached()
                                     && w->attachController()->publisher().pid != first,
                                 kLong);
        QTRY_COMPARE_WITH_TIMEOUT(run->state(), ProgramRun::State::Ended, kLong);
        QCOMPARE(qint64(run->totals().submitted), qint64(t.submitted));
    }

    void stopKillsIt_data()
    {
        QTest::addColumn<QString>("how");
        QTest::newRow("the panel's Stop") << QStringLiteral("panel");
        QTest::newRow("the window's Stop (Shift+F5)") << QStringLiteral("action");
        QTest::newRow("another lesson") << QStringLiteral("lesson");
        QTest::newRow("the window closed") << QStringLiteral("close");
    }
    void stopKillsIt()
    {
        QFETCH(QString, how);
        auto w = makeWindow();
        QVERIFY(w->openLesson(QStringLiteral("own-python"))); // seconds long
        ProgramRun* run = w->programRun();
        runButton(w.get())->click();
        QTRY_VERIFY_WITH_TIMEOUT(w->attachController()->isAttached(), kLong);
        QTRY_VERIFY_WITH_TIMEOUT(run->totals().running > 0, kLong);
        const qint64 pid = run->pid();
        QVERIFY(groupMembers(pid) >= 1);
        if (how == QLatin1String("panel")) {
            QCOMPARE(runButton(w.get())->text(), QStringLiteral("Stop"));
            runButton(w.get())->click();
        } else if (how == QLatin1String("action")) {
            QVERIFY(w->action(QStringLiteral("stop"))->isEnabled());
            w->action(QStringLiteral("stop"))->trigger();
        } else if (how == QLatin1String("lesson")) {
            QVERIFY(w->openLesson(QStringLiteral("3")));
        } else {
            w.reset(); // the destructor kills it, at once
            QCOMPARE(groupMembers(pid), 0);
            return;
        }
        QTRY_COMPARE_WITH_TIMEOUT(run->state(), ProgramRun::State::Ended, kLong);
        QVERIFY(run->wasStopped());
        QVERIFY(!run->isRunning());
        QTRY_COMPARE_WITH_TIMEOUT(groupMembers(pid), 0, kLong);
        QVERIFY2(run->statusText().contains(QStringLiteral("was stopped")),
                 qPrintable(run->statusText()));
        if (how == QLatin1String("lesson")) { // detached: lesson 3 runs its own pool
            QVERIFY(!w->attachController()->isAttached());
        } else {
            QTRY_VERIFY_WITH_TIMEOUT(w->attachController()->programEnded(), kLong);
            QCOMPARE(runButton(w.get())->text(), QStringLiteral("Run"));
        }
    }

    void missingPieces_data()
    {
        QTest::addColumn<QByteArray>("envName");
        QTest::addColumn<QByteArray>("envValue");
        QTest::addColumn<QString>("interpreter"); // through the setter; "" = none
        QTest::addColumn<QString>("expected");
        QTest::newRow("python3 at a path that is not there")
            << QByteArray() << QByteArray() << QStringLiteral("/nonexistent/python3")
            << QStringLiteral("/nonexistent/python3 is not an executable file");
        QTest::newRow("no such interpreter on PATH")
            << QByteArray() << QByteArray() << QStringLiteral("no-such-python3-here")
            << QStringLiteral("no-such-python3-here was not found on PATH");
        QTest::newRow("POOLSCOPE_PYTHON")
            << QByteArray("POOLSCOPE_PYTHON") << QByteArray("/nonexistent/bin/python3") << QString()
            << QStringLiteral("/nonexistent/bin/python3");
        QTest::newRow("POOLSCOPE_PYTHON_DIR without the probe")
            << QByteArray("POOLSCOPE_PYTHON_DIR") << QByteArray("/nonexistent/python") << QString()
            << QStringLiteral("poolscope_probe package");
        QTest::newRow("POOLSCOPE_EXAMPLES_DIR without the examples")
            << QByteArray("POOLSCOPE_EXAMPLES_DIR") << QByteArray("/nonexistent/examples")
            << QString() << QStringLiteral("POOLSCOPE_EXAMPLES_DIR is set");
    }
    void missingPieces()
    {
        QFETCH(QByteArray, envName);
        QFETCH(QByteArray, envValue);
        QFETCH(QString, interpreter);
        QFETCH(QString, expected);
        if (!envName.isEmpty())
            qputenv(envName.constData(), envValue);
        auto cleanup = qScopeGuard([&envName] {
            if (!envName.isEmpty())
                qunsetenv(envName.constData());
        });
        auto w = makeWindow();
        QVERIFY(w->openLesson(QStringLiteral("11")));
        if (!interpreter.isEmpty())
            w->programRun()->setInterpreter(interpreter);
        QSignalSpy states(w->programRun(), &ProgramRun::stateChanged);
        runButton(w.get())->click(); // refused at once: nothing to wait for
        QCOMPARE(w->programRun()->state(), ProgramRun::State::Failed);
        QVERIFY(!w->programRun()->isRunning());
        QVERIFY(!w->lessonPanel()->isProgramRunning());
        QCOMPARE(runButton(w.get())->text(), QStringLiteral("Run"));
        const QString said = w->lessonPanel()->programStatus();
        QVERIFY2(said.contains(expected), qPrintable(said));
        QVERIFY(w->statusBar()->currentMessage().contains(expected));
        QVERIFY(!w->attachController()->isAttached());
    }

    void scriptThatFails()
    {
        // A script that fails: its exit code and error line are said.
        QTemporaryDir dir;
        QFile f(dir.filePath(QStringLiteral("broken.py")));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("raise SystemExit('broken on purpose')\n");
        f.close();
        auto w = makeWindow();
        w->lessonPanel()->setLessons({programLesson(f.fileName(), QString())});
        runButton(w.get())->click();
        ProgramRun* run = w->programRun();
        // The probe publishes before the script runs, so the window attaches
        // first; then the end is said with the exit code and the error line.
        QTRY_VERIFY_WITH_TIMEOUT(run->state() == ProgramRun::State::Ended
                                     || run->state() == ProgramRun::State::Failed,
                                 kLong);
        QCOMPARE(run->exitCode(), 1);
        const QString said = w->lessonPanel()->programStatus();
        QVERIFY2(said.contains(QStringLiteral("broken.py")), qPrintable(said));
        QVERIFY2(said.contains(QStringLiteral("exit code 1")), qPrintable(said));
        QVERIFY2(said.contains(QStringLiteral("broken on purpose")), qPrintable(said));
    }
};

QTEST_MAIN(TestLessonProgram)
#include "tst_lessonprogram.moc"
