// poolscope: the desktop task monitor (docs/architecture.md).
//
//   poolscope [--workload NAME [--tasks N] [--size S] [--knob K=V]...]
//             [--pool thread|process|mpi] [--workers W] [--gil] [--switch-interval MS]
//             [--chunk C] [--priority P]
//             [--screenshot FILE [--after MS]] [--startup-time] [--measure FILE]
//             [--lesson NAME [--compare | --sweep]] [--start | --no-start] [--replay TRACE]
//             [--slow-motion F] [--presenter] [--no-settings]
//             [--run-log FILE] [--quit-after-runs N]
//             [--attach PID|NAME [--attach-wait MS]]
//
// --workload starts its run at launch (--no-start only sets it up); --lesson
// opens the lesson at its question and runs only with --start; --attach
// watches another program's pools (docs/attach.md) instead.
//
// The command line is parsed before QApplication exists, so bad usage gives
// one clear line on stderr and exit code 2 even without a display.
#include "measure.h"

#include <attach/attachcontroller.h>
#include <controlbar.h>
#include <mainwindow.h>
#include <runcontroller.h>
#include <teaching/lesson.h>
#include <teaching/programrun.h>
#include <teaching/replay.h>
#include <teaching/slowmotion.h>

#include <poolscope/monitor.h>
#include <poolscope/processpool.h>
#include <poolscope/threadpool.h>
#include <poolscope/traceexport.h>
#include <poolscope/workloads.h>

#include <QApplication>
#include <QCommandLineParser>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QIcon>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>

#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

using namespace poolscope;

namespace {

/// A run asked for at launch starts at the first paint, or after this long
/// if the window is never exposed.
constexpr int kStartFallbackMs = 3000;

[[noreturn]] void usageError(const QString& message)
{
    std::fprintf(stderr, "poolscope: %s (see poolscope --help)\n", qPrintable(message));
    std::exit(2);
}

/// A file the window writes (--screenshot, --measure, --run-log) is a
/// regular file or a new one: opening a FIFO that nobody reads blocks for
/// ever (issue #17: `--screenshot` to one hung), and a device would be
/// replaced by the saved file.
void requireRegularTarget(const QString& option, const QString& path)
{
    const QFileInfo fi(path);
    if (fi.exists() && !fi.isFile())
        usageError(QStringLiteral("%1: cannot write '%2': not a regular file (a FIFO would block, "
                                  "a device or folder cannot take it)")
                       .arg(option, path));
    if (const QString problem = exportTargetProblem(path); !problem.isEmpty())
        usageError(QStringLiteral("%1: cannot write '%2': %3").arg(option, path, problem));
}

/// Qt's own GUI options (-platform, -style, ...) are for QApplication; drop
/// them before our parser sees the arguments.
QStringList withoutQtOptions(const QStringList& args)
{
    static const QStringList withValue = {QStringLiteral("-platform"),
                                          QStringLiteral("-platformpluginpath"),
                                          QStringLiteral("-platformtheme"),
                                          QStringLiteral("-plugin"),
                                          QStringLiteral("-qwindowgeometry"),
                                          QStringLiteral("-qwindowtitle"),
                                          QStringLiteral("-qwindowicon"),
                                          QStringLiteral("-display"),
                                          QStringLiteral("-geometry"),
                                          QStringLiteral("-style"),
                                          QStringLiteral("-stylesheet"),
                                          QStringLiteral("-session"),
                                          QStringLiteral("-name"),
                                          QStringLiteral("-title")};
    static const QStringList flags = {QStringLiteral("-reverse"), QStringLiteral("-widgetcount"),
                                      QStringLiteral("-nograb"), QStringLiteral("-dograb"),
                                      QStringLiteral("-sync")};
    QStringList out;
    for (qsizetype i = 0; i < args.size(); ++i) {
        const QString& a = args[i];
        if (i > 0 && withValue.contains(a)) {
            ++i;
            continue;
        }
        if (i > 0
            && (flags.contains(a) || a.startsWith(QLatin1String("-style="))
                || a.startsWith(QLatin1String("-platform="))))
            continue;
        out << a;
    }
    return out;
}

qint64 number(const QCommandLineParser& p, const QString& opt, qint64 min, qint64 max)
{
    bool ok = false;
    const qint64 v = p.value(opt).toLongLong(&ok);
    if (!ok)
        usageError(QStringLiteral("--%1 needs a whole number, got '%2'").arg(opt, p.value(opt)));
    if (v < min || v > max)
        usageError(QStringLiteral("--%1 must be between %2 and %3, got %4")
                       .arg(opt)
                       .arg(min)
                       .arg(max)
                       .arg(v));
    return v;
}

} // namespace

int main(int argc, char** argv)
{
    QElapsedTimer sinceMain;
    sinceMain.start();

    QStringList args;
    for (int i = 0; i < argc; ++i)
        args << QString::fromLocal8Bit(argv[i]);

    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "PoolScope: watch thread and process pools run demo workloads, resize them live, "
        "export traces."));
    const QCommandLineOption help({QStringLiteral("h"), QStringLiteral("help")},
                                  QStringLiteral("Show this help and exit."));
    const QCommandLineOption version(QStringLiteral("version"),
                                     QStringLiteral("Show the version and exit."));
    p.addOption(help);
    p.addOption(version);
    auto opt = [&p](const char* name, const char* desc, const char* value = nullptr) {
        QCommandLineOption o(QString::fromLatin1(name), QString::fromLatin1(desc));
        if (value)
            o.setValueName(QString::fromLatin1(value));
        p.addOption(o);
    };
    opt("workload", "Start this workload at launch (see the Workload list).", "name");
    opt("tasks", "Number of tasks (default: the workload's).", "n");
    opt("size", "Size of each task in the workload's unit.", "s");
    opt("knob", "Set a workload knob, e.g. --knob max_iter=500 (repeatable).", "name=value");
    opt("pool", "thread, process or mpi (MPI ranks, when built with MPI; default: thread).",
        "kind");
    opt("workers", "Pool size (default: the pool's default).", "w");
    opt("gil", "Thread pool with the simulated GIL.");
    opt("switch-interval", "GIL switch interval in ms (default 5).", "ms");
    opt("chunk", "Items per task (default 1).", "c");
    opt("priority", "Priority of the run's tasks (-100..100).", "p");
    opt("start", "Start the run the controls describe at launch (--workload starts by itself; "
                 "with --lesson, press its Run: what to look for shows, the explanation does "
                 "not).");
    opt("no-start",
        "With --workload: set the run up but do not start it. (--lesson never starts without "
        "--start: the class predicts first.)");
    opt("screenshot", "Save a PNG of the whole window and quit.", "file");
    opt("after", "Take the screenshot this long after launch (default 3000).", "ms");
    opt("startup-time", "Print the time from launch to the first painted window.");
    opt("measure", "Measure startup, event-loop lag, GUI CPU and RSS; write JSON; quit.", "file");
    opt("measure-tasks", "Trivial tasks for the busy phase of --measure (default 1000000).", "n");
    opt("measure-rss-tasks", "More tasks before reading RSS (default 10000000; 0 skips).", "n");
    opt("lesson",
        "Open a lesson in the Lesson panel (id, number or file name) at its question; add "
        "--start to run it.",
        "name");
    opt("compare", "With --lesson: run the lesson's run A, then its run B, into the A/B panel.");
    opt("sweep", "With --lesson: run the lesson's pool-size sweep (lesson 6).");
    opt("replay",
        "Open a recorded trace (Export trace, poolscope-cli --trace) in the Replay "
        "panel.",
        "file");
    opt("slow-motion", "Make every task of the runs F times longer (1, 2, 5, 10 or 50).", "f");
    opt("presenter", "Start in presenter mode (large fonts, high contrast, a projector layout; "
                     "Ctrl+Shift+P toggles it).");
    opt("record-limit",
        "Tasks of a run recorded in full before the record keeps a stated sample (default "
        "1000000; View > Record limit).",
        "n");
    opt("no-settings", "Neither read nor write saved settings.");
    opt("attach",
        "Watch the pools of another program of yours (by pid, or by program or pool name): a "
        "Python script under python3 -m poolscope_probe, or a C++ program that publishes its "
        "executors (docs/attach.md). File > Attach lists them.",
        "pid|name");
    opt("attach-wait", "With --attach: wait up to this long for the program to publish.", "ms");
    opt("run-log",
        "Append one JSON line per finished run (workload, pool, workers, tasks, wall_s, "
        "span_s, other_cores ...) to FILE: a script's measurement of window runs.",
        "file");
    opt("quit-after-runs",
        "Quit once N runs have finished (with --workload, --start, --compare or --sweep).", "n");

    if (!p.parse(withoutQtOptions(args))) {
        QString why = p.errorText();
        if (why.endsWith(QLatin1Char('.')))
            why.chop(1);
        usageError(why);
    }
    if (p.isSet(help)) {
        // No QCoreApplication yet, so the parser cannot know our name.
        std::fprintf(stdout, "%s",
                     qPrintable(p.helpText().replace(QStringLiteral("<executable_name>"),
                                                     QStringLiteral("poolscope"))));
        return 0;
    }
    if (p.isSet(version)) {
        std::fprintf(stdout, "poolscope %s\n", POOLSCOPE_VERSION);
        return 0;
    }
    if (!p.positionalArguments().isEmpty())
        usageError(QStringLiteral("unexpected argument '%1'").arg(p.positionalArguments().first()));

    // ---- the scenario
    RunSpec spec;
    const bool scenario = p.isSet(QStringLiteral("workload"));
    for (const char* needs : {"tasks", "size", "knob", "chunk", "priority"}) {
        if (p.isSet(QLatin1String(needs)) && !scenario)
            usageError(QStringLiteral("--%1 needs --workload NAME").arg(QLatin1String(needs)));
    }
    if (scenario) {
        spec.workload = p.value(QStringLiteral("workload"));
        const Workload* w = Workloads::find(spec.workload);
        if (!w)
            usageError(QStringLiteral("unknown workload '%1' (known: %2)")
                           .arg(spec.workload, Workloads::names().join(QStringLiteral(", "))));
        spec.run = w->defaultRun();
        if (p.isSet(QStringLiteral("tasks")))
            spec.run.tasks = int(number(p, QStringLiteral("tasks"), 1, w->maxTasks));
        if (p.isSet(QStringLiteral("size")))
            spec.run.size = number(p, QStringLiteral("size"), w->minSize, w->maxSize);
        for (const QString& kv : p.values(QStringLiteral("knob"))) {
            const qsizetype eq = kv.indexOf(QLatin1Char('='));
            bool ok = false;
            const qint64 v = eq > 0 ? kv.mid(eq + 1).toLongLong(&ok) : 0;
            if (eq <= 0 || !ok)
                usageError(QStringLiteral("--knob needs name=integer, got '%1'").arg(kv));
            spec.run.knobs[kv.left(eq)] = v;
        }
    }
    const QString pool = p.value(QStringLiteral("pool"));
    if (p.isSet(QStringLiteral("pool"))) {
        if (pool == QLatin1String("thread") || pool == QLatin1String("threads"))
            spec.poolKind = QStringLiteral("thread");
        else if (pool == QLatin1String("process") || pool == QLatin1String("processes"))
            spec.poolKind = QStringLiteral("process");
        else if (pool == QLatin1String("mpi"))
#ifdef POOLSCOPE_HAVE_MPI
            spec.poolKind = QStringLiteral("mpi");
#else
            usageError(QStringLiteral("--pool mpi: this build has no MPI pool (configure with "
                                      "MPI installed; docs/scale-out.md)"));
#endif
        else
            usageError(QStringLiteral("--pool must be thread, process or mpi, got '%1'").arg(pool));
    } else if (scenario && Workloads::find(spec.workload)->processOnly) {
        spec.poolKind = QStringLiteral("process");
    }
    if (p.isSet(QStringLiteral("workers")))
        spec.workers = int(number(p, QStringLiteral("workers"), 1, Executor::maxWorkersLimit()));
    spec.gil = p.isSet(QStringLiteral("gil"));
    if (spec.gil && spec.poolKind != QLatin1String("thread"))
        usageError(QStringLiteral("--gil needs --pool thread (each process has its own GIL)"));
    if (p.isSet(QStringLiteral("switch-interval"))) {
        bool ok = false;
        spec.switchIntervalMs = p.value(QStringLiteral("switch-interval")).toDouble(&ok);
        if (!ok || spec.switchIntervalMs < 0.1 || spec.switchIntervalMs > 1000)
            usageError(QStringLiteral("--switch-interval must be a number of ms from 0.1 to 1000, "
                                      "got '%1'")
                           .arg(p.value(QStringLiteral("switch-interval"))));
    }
    if (p.isSet(QStringLiteral("chunk")))
        spec.chunkSize = int(number(p, QStringLiteral("chunk"), 1, 100'000));
    if (p.isSet(QStringLiteral("priority")))
        spec.priority = int(number(p, QStringLiteral("priority"), -100, 100));
    if (scenario) {
        // Same rules as the controls and the controller (one sentence each).
        const QString why = Workloads::validate(spec.workload, spec.run, spec.poolKind);
        if (!why.isEmpty())
            usageError(why);
        if (spec.chunkSize > 1 && Workloads::find(spec.workload)->drive)
            usageError(QStringLiteral("--chunk above 1 needs a workload other than %1 (it "
                                      "submits its own two-stage tasks)")
                           .arg(spec.workload));
    }

    const QString lesson = p.value(QStringLiteral("lesson"));
    if (p.isSet(QStringLiteral("lesson"))) {
        if (scenario)
            usageError(QStringLiteral("--lesson sets up its own run; drop --workload"));
        if (!LessonLibrary::find(lesson)) {
            QStringList ids;
            for (const Lesson& l : LessonLibrary::all())
                ids << l.id;
            usageError(QStringLiteral("unknown lesson '%1' (lessons: %2)")
                           .arg(lesson, ids.join(QStringLiteral(", "))));
        }
    }

    const bool compare = p.isSet(QStringLiteral("compare"));
    const bool sweep = p.isSet(QStringLiteral("sweep"));
    if ((compare || sweep) && !p.isSet(QStringLiteral("lesson")))
        usageError(QStringLiteral("--%1 needs --lesson NAME").arg(compare ? "compare" : "sweep"));
    if (compare && sweep)
        usageError(QStringLiteral("--compare and --sweep cannot be combined"));
    if ((compare || sweep) && p.isSet(QStringLiteral("start")))
        usageError(QStringLiteral("--%1 starts the lesson itself; drop --start")
                       .arg(compare ? "compare" : "sweep"));
    const bool noStart = p.isSet(QStringLiteral("no-start"));
    if (noStart) {
        if (p.isSet(QStringLiteral("start")))
            usageError(QStringLiteral("--start and --no-start cannot be combined"));
        if (compare || sweep)
            usageError(QStringLiteral("--%1 starts the lesson itself; drop --no-start")
                           .arg(compare ? "compare" : "sweep"));
        if (!scenario && !p.isSet(QStringLiteral("lesson")))
            usageError(QStringLiteral("--no-start needs --lesson NAME or --workload NAME"));
    }
    if (p.isSet(QStringLiteral("lesson"))) {
        const Lesson l = *LessonLibrary::find(lesson);
        if (compare && !l.compare)
            usageError(QStringLiteral("lesson '%1' has no run B to compare (lessons with one: "
                                      "2, 3, 4, 5, 7, 8, 10)")
                           .arg(lesson));
        if (sweep && !l.sweep)
            usageError(QStringLiteral("lesson '%1' has no sweep (lesson 6 has)").arg(lesson));
    }
    int slowMotion = 1;
    if (p.isSet(QStringLiteral("slow-motion"))) {
        slowMotion = int(number(p, QStringLiteral("slow-motion"), 1, 50));
        if (!SlowMotion::factors().contains(slowMotion)) {
            QStringList fs;
            for (int f : SlowMotion::factors())
                fs << QString::number(f);
            usageError(QStringLiteral("--slow-motion must be one of %1, got %2")
                           .arg(fs.join(QStringLiteral(", ")))
                           .arg(slowMotion));
        }
    }
    quint64 recordLimit = 0; // 0: the saved setting or the default
    if (p.isSet(QStringLiteral("record-limit")))
        recordLimit =
            quint64(number(p, QStringLiteral("record-limit"), 1, qint64(RunRecord::kMaxLimit)));
    const QString replayPath = p.value(QStringLiteral("replay"));
    if (p.isSet(QStringLiteral("replay")) && replayPath.isEmpty())
        usageError(QStringLiteral("--replay needs a trace file"));

    const bool screenshot = p.isSet(QStringLiteral("screenshot"));
    if (p.isSet(QStringLiteral("after")) && !screenshot)
        usageError(QStringLiteral("--after needs --screenshot FILE"));
    const int afterMs = p.isSet(QStringLiteral("after"))
                            ? int(number(p, QStringLiteral("after"), 0, 3'600'000))
                            : 3000;
    const QString shotPath = p.value(QStringLiteral("screenshot"));
    if (screenshot && shotPath.isEmpty())
        usageError(QStringLiteral("--screenshot needs a file name"));
    if (screenshot)
        requireRegularTarget(QStringLiteral("--screenshot"), shotPath);
    const bool measure = p.isSet(QStringLiteral("measure"));
    MeasureConfig mc;
    if (measure) {
        mc.path = p.value(QStringLiteral("measure"));
        requireRegularTarget(QStringLiteral("--measure"), mc.path);
        if (screenshot)
            usageError(QStringLiteral("--measure and --screenshot cannot be combined"));
        if (scenario || p.isSet(QStringLiteral("start")) || p.isSet(QStringLiteral("lesson")))
            usageError(QStringLiteral(
                "--measure runs its own load; drop --workload, --lesson and --start"));
        if (p.isSet(QStringLiteral("measure-tasks")))
            mc.busyTasks = number(p, QStringLiteral("measure-tasks"), 1, 1'000'000'000);
        if (p.isSet(QStringLiteral("measure-rss-tasks")))
            mc.rssTasks = number(p, QStringLiteral("measure-rss-tasks"), 0, 10'000'000'000LL);
        if (spec.workers > 0)
            mc.workers = spec.workers;
    } else if (p.isSet(QStringLiteral("measure-tasks"))
               || p.isSet(QStringLiteral("measure-rss-tasks"))) {
        usageError(QStringLiteral("--measure-tasks and --measure-rss-tasks need --measure FILE"));
    }

    const QString attachTarget = p.value(QStringLiteral("attach"));
    if (p.isSet(QStringLiteral("attach"))) {
        if (attachTarget.isEmpty())
            usageError(QStringLiteral("--attach needs a pid or a program name"));
        for (const char* other : {"workload", "lesson", "start", "compare", "sweep", "measure"}) {
            if (p.isSet(QLatin1String(other)))
                usageError(QStringLiteral("--attach watches another program's own tasks; drop --%1")
                               .arg(QLatin1String(other)));
        }
    }
    if (p.isSet(QStringLiteral("attach-wait")) && !p.isSet(QStringLiteral("attach")))
        usageError(QStringLiteral("--attach-wait needs --attach PID|NAME"));
    const int attachWaitMs = p.isSet(QStringLiteral("attach-wait"))
                                 ? int(number(p, QStringLiteral("attach-wait"), 0, 3'600'000))
                                 : 0;
    const int quitAfterRuns = p.isSet(QStringLiteral("quit-after-runs"))
                                  ? int(number(p, QStringLiteral("quit-after-runs"), 1, 10'000))
                                  : 0;
    const bool startsRuns = (scenario && !p.isSet(QStringLiteral("no-start")))
                            || p.isSet(QStringLiteral("start")) || compare || sweep;
    if (quitAfterRuns > 0 && !startsRuns)
        usageError(QStringLiteral(
            "--quit-after-runs needs runs to wait for: --workload, --start, --compare or --sweep"));
    const QString runLogPath = p.value(QStringLiteral("run-log"));
    if (p.isSet(QStringLiteral("run-log")) && runLogPath.isEmpty())
        usageError(QStringLiteral("--run-log needs a file name"));
    if (!runLogPath.isEmpty())
        requireRegularTarget(QStringLiteral("--run-log"), runLogPath);

    // ---- the application
    TimedApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("PoolScope"));
    QApplication::setApplicationName(QStringLiteral("PoolScope"));
    QApplication::setApplicationVersion(QStringLiteral(POOLSCOPE_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("poolscope"));

    MainWindow::Options wo;
    wo.useSettings = !p.isSet(QStringLiteral("no-settings")) && !screenshot && !measure;
    MainWindow window(wo);
    QApplication::setWindowIcon(window.windowIcon());
    if (recordLimit > 0)
        window.setRecordLimit(recordLimit);

    // Pool options alone (no workload) set up the controls and the pool.
    {
        RunSpec shown = window.controlBar()->spec();
        if (scenario) {
            shown = spec;
        } else {
            shown.poolKind = spec.poolKind;
            if (spec.workers > 0)
                shown.workers = spec.workers;
            shown.gil = spec.gil;
            if (p.isSet(QStringLiteral("switch-interval")))
                shown.switchIntervalMs = spec.switchIntervalMs;
        }
        if (shown.workers <= 0)
            shown.workers = shown.poolKind != QLatin1String("thread") // one per core
                                ? ProcessPoolExecutor::defaultMaxWorkers()
                                : ThreadPoolExecutor::defaultMaxWorkers();
        if (scenario || p.isSet(QStringLiteral("pool")) || p.isSet(QStringLiteral("workers"))
            || spec.gil) {
            window.controlBar()->setSpec(shown);
            window.preparePool();
        }
    }

    if (p.isSet(QStringLiteral("lesson")))
        window.openLesson(lesson); // checked above
    if (slowMotion > 1)
        window.slowMotionBar()->setFactor(slowMotion);
    if (p.isSet(QStringLiteral("presenter")))
        window.action(QStringLiteral("presenter"))->setChecked(true);
    if (!replayPath.isEmpty()) {
        // A bad file is a runtime error shown in the Replay panel (as from
        // File > Open), and on stderr for scripts.
        QObject::connect(
            window.replay(), &ReplayController::error, &window,
            [](const QString& why) { std::fprintf(stderr, "poolscope: %s\n", qPrintable(why)); });
        window.openReplay(replayPath);
    }

    if (p.isSet(QStringLiteral("startup-time"))) {
        QObject::connect(
            &window, &MainWindow::firstPainted, &window,
            [&sinceMain] {
                std::fprintf(stdout,
                             "poolscope: first paint %.1f ms after main() (%.0f ms after exec)\n",
                             double(sinceMain.nsecsElapsed()) / 1e6, msSinceProcessStart());
                std::fflush(stdout);
            },
            Qt::SingleShotConnection);
    }
    if (measure)
        startMeasurement(&window, mc, sinceMain);

    int exitCode = 0;
    // --run-log / --quit-after-runs: a script measures window runs (the
    // 1-vs-2-worker speedup as a class sees it: scripts/window-speedup.sh).
    QFile runLog(runLogPath);
    if (!runLogPath.isEmpty() && !runLog.open(QIODevice::WriteOnly | QIODevice::Append)) {
        std::fprintf(stderr, "poolscope: cannot write the run log %s: %s\n", qPrintable(runLogPath),
                     qPrintable(runLog.errorString()));
        return 2;
    }
    int runsFinished = 0;
    QObject::connect(
        window.controller(), &RunController::runFinished, &window,
        [&window, &runLog, &runsFinished, &exitCode, quitAfterRuns](const RunSummary& s) {
            if (runLog.isOpen()) {
                // The record's first submit to last end: exact, where wall_s
                // ends at the tick that saw the last task.
                const RunTotals& t = window.controller()->monitor()->record()->totals();
                QJsonObject o;
                o.insert(QStringLiteral("workload"), s.workload);
                o.insert(QStringLiteral("pool"), s.poolKind);
                o.insert(QStringLiteral("workers"), s.workers);
                o.insert(QStringLiteral("tasks"), s.tasks);
                o.insert(QStringLiteral("succeeded"), s.succeeded);
                o.insert(QStringLiteral("failed"), s.failed);
                o.insert(QStringLiteral("cancelled"), s.cancelled);
                o.insert(QStringLiteral("wall_s"), s.wallSeconds);
                o.insert(QStringLiteral("span_s"),
                         t.lastEndNs > t.firstNs ? double(t.lastEndNs - t.firstNs) / 1e9 : 0.0);
                o.insert(QStringLiteral("tasks_per_s"), s.tasksPerSecond);
                // As the CLI's JSON names it: how long a task ran on its
                // worker, so a 1-vs-2 pair tells cores that slow each other
                // (shared caches, memory) from cores the workers did not get.
                o.insert(QStringLiteral("mean_run_ms"),
                         t.tasks > 0 ? double(t.runNs) / 1e6 / double(t.tasks) : 0.0);
                o.insert(QStringLiteral("other_cores"), s.otherCores);
                o.insert(QStringLiteral("window_cores"), s.windowCores);
                const QByteArray line = QJsonDocument(o).toJson(QJsonDocument::Compact) + '\n';
                if (runLog.write(line) != line.size() || !runLog.flush()) {
                    std::fprintf(stderr, "poolscope: could not write the run log: %s\n",
                                 qPrintable(runLog.errorString()));
                    exitCode = 1;
                }
            }
            if (quitAfterRuns > 0 && ++runsFinished == quitAfterRuns)
                QTimer::singleShot(0, &window, [&exitCode] { QCoreApplication::exit(exitCode); });
        });
    // The screenshot is taken --after ms after the run starts (or after launch).
    auto scheduleShot = [&window, shotPath, afterMs, &exitCode] {
        QTimer::singleShot(afterMs, &window, [&window, shotPath, &exitCode] {
            if (window.saveWidgetPng(&window, shotPath)) {
                // The count says whether a run was going (scripts and tests read it).
                RunController* c = window.controller();
                const quint64 submitted =
                    c->hasPool() ? c->executor()->counters().submitted : quint64(0);
                std::fprintf(stdout, "poolscope: saved %s (%llu task(s) submitted)\n",
                             qPrintable(QFileInfo(shotPath).absoluteFilePath()),
                             static_cast<unsigned long long>(submitted));
            } else {
                std::fprintf(stderr, "poolscope: could not save %s\n", qPrintable(shotPath));
                exitCode = 1;
            }
            std::fflush(stdout);
            window.controller()->stop();
            QCoreApplication::exit(exitCode);
        });
    };
    // --lesson opens the lesson at its question (predict first); --start
    // also presses its Run, which shows what to look for but never the
    // explanation.
    const bool startControls = p.isSet(QStringLiteral("start")) && !scenario && !noStart;
    // A run asked for at launch starts once the window has painted itself
    // whole: the first paint (fonts, charts, polish) costs the GUI thread
    // about a quarter of a second, which would otherwise be taken from the
    // run's workers and from the class watching it. The X server draws that
    // first frame after Qt has handed it over (about 60 ms of its CPU under
    // Xvfb at 1600x1000), so wait for it too: sync() is a round trip that
    // returns once the server has processed every request before it. The
    // fallback covers a window that is never exposed.
    auto whenShown = [&window](auto start) {
        auto started = std::make_shared<bool>(false);
        auto once = [started, start] {
            if (std::exchange(*started, true))
                return;
            QGuiApplication::sync();
            start();
        };
        QObject::connect(&window, &MainWindow::firstPainted, &window, once,
                         Qt::SingleShotConnection);
        QTimer::singleShot(kStartFallbackMs, &window, once);
    };
    if (compare || sweep) {
        whenShown([&window, compare, screenshot, scheduleShot] {
            if (compare)
                window.runLessonAB();
            else
                window.runLessonSweep();
            if (screenshot)
                scheduleShot();
        });
    } else if (startControls) {
        whenShown([&window, screenshot, scheduleShot, &exitCode] {
            window.startFromControlsOrLesson();
            // A program lesson (lesson 11) runs a script, not a run of the window's own.
            const ProgramRun* program = window.programRun();
            if (!window.controller()->isRunning() && !(program && program->isRunning())) {
                const bool failed = program && program->state() == ProgramRun::State::Failed;
                std::fprintf(
                    stderr, "poolscope: could not start the run: %s\n",
                    qPrintable(failed ? program->errorString() : window.controlBar()->hint()));
                if (screenshot) { // a screenshot of nothing would prove nothing
                    exitCode = 1;
                    QCoreApplication::exit(1);
                    return;
                }
            }
            if (screenshot)
                scheduleShot();
        });
    } else if (scenario && !noStart) {
        whenShown([&window, spec, screenshot, scheduleShot, &exitCode] {
            if (!window.startSpec(spec)) {
                std::fprintf(stderr, "poolscope: could not start %s: %s\n",
                             qPrintable(spec.workload), qPrintable(window.controlBar()->hint()));
                if (screenshot) {
                    exitCode = 1;
                    QCoreApplication::exit(1);
                    return;
                }
            }
            if (screenshot)
                scheduleShot();
        });
    } else if (!attachTarget.isEmpty()) {
        // Tries at once, then every 250 ms up to --attach-wait (a script
        // started just after the window has not published yet).
        auto deadline = std::make_shared<QDeadlineTimer>(attachWaitMs);
        auto tryAttach = std::make_shared<std::function<void()>>();
        *tryAttach = [&window, attachTarget, deadline, tryAttach, screenshot, scheduleShot,
                      &exitCode] {
            QString why;
            if (window.attachController()->attachTo(attachTarget, &why)) {
                if (screenshot)
                    scheduleShot();
                return;
            }
            if (!deadline->hasExpired()) {
                QTimer::singleShot(250, &window, *tryAttach);
                return;
            }
            std::fprintf(stderr, "poolscope: cannot attach: %s\n", qPrintable(why));
            window.attachTo(attachTarget); // the window says it too
            if (screenshot) {
                exitCode = 1;
                QCoreApplication::exit(1);
            }
        };
        whenShown([tryAttach] { (*tryAttach)(); });
    } else if (screenshot) {
        scheduleShot();
    }

    window.show();
    const int rc = app.exec();
    return exitCode ? exitCode : rc;
}
