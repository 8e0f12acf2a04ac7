// ui/teaching: lessons (every file loads and its scenarios validate against
// the workload catalogue), the lesson panel's requests, the pool-size sweep
// (Amdahl fit on synthetic points, a small real sweep, cancel), record and
// replay of a real run's trace, malformed traces, slow motion, presenter
// mode, the decomposition bar, the analysis panel and the A/B comparison.

#include "charts/chartadapter.h"
#include "models/futuresmodel.h"
#include "teaching/abcompare.h"
#include "teaching/analysispanel.h"
#include "teaching/decompositionbar.h"
#include "teaching/lesson.h"
#include "teaching/pacing.h"
#include "teaching/presenter.h"
#include "teaching/replay.h"
#include "teaching/replaycharts.h"
#include "teaching/slowmotion.h"
#include "teaching/sweepchart.h"
#include "teaching/sweeprunner.h"
#include "timeline/timelinewidget.h"

#include <poolscope/amdahl.h>
#include <poolscope/cpusampler.h>
#include <poolscope/monitor.h>
#include <poolscope/threadpool.h>
#include <poolscope/traceexport.h>
#include <poolscope/workloads.h>

#include <QAbstractAxis>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <map>

using namespace poolscope;

namespace {

constexpr qint64 kMs = 1'000'000;

TaskSpan span(quint64 id, int worker, qint64 start, qint64 end, qint64 cpu, qint64 gil = 0)
{
    TaskSpan s;
    s.taskId = id;
    s.worker = worker;
    s.enqueueNs = 1'000 * kMs;
    s.startNs = start;
    s.endNs = end;
    s.cpuNs = cpu;
    s.gilWaitNs = gil;
    s.nameId = NameTable::intern(QStringLiteral("primes"));
    return s;
}

/// A run of n tasks, back to back on `workers` lanes, each taskMs long.
TraceData syntheticTrace(int n, int workers, qint64 taskMs, qint64 origin)
{
    TraceData t;
    t.title = QStringLiteral("synthetic");
    t.poolKind = QStringLiteral("thread");
    t.originNs = origin;
    for (int w = 0; w < workers; ++w)
        t.workers.append(TraceWorker{w, QStringLiteral("w%1").arg(w), 0, 0});
    for (int i = 0; i < n; ++i) {
        const int w = i % workers;
        const qint64 start = origin + (i / workers) * taskMs * kMs;
        TaskSpan s = span(quint64(i + 1), w, start, start + taskMs * kMs, taskMs * kMs / 2);
        s.enqueueNs = origin;
        t.record->add(s);
    }
    return t;
}

QPushButton* button(QWidget& w, const char* name)
{
    auto* b = w.findChild<QPushButton*>(QLatin1String(name));
    if (!b)
        qFatal("no button %s", name);
    return b;
}

} // namespace

class TstTeaching : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        Q_INIT_RESOURCE(lessons); // what the app does (static library resources)
        qRegisterMetaType<poolscope::Lesson>();
        qRegisterMetaType<poolscope::SweepPoint>();
    }

    // ---------------------------------------------------------------- lessons
    void everyLessonFileLoadsAndValidates_data()
    {
        QTest::addColumn<QString>("file");
        const QStringList files = QDir(LessonLibrary::resourceDir())
                                      .entryList({QStringLiteral("*.md")}, QDir::Files, QDir::Name);
        QCOMPARE(files.size(), 11);
        for (const QString& f : files)
            QTest::newRow(qPrintable(f)) << f;
    }
    void everyLessonFileLoadsAndValidates()
    {
        QFETCH(QString, file);
        QString error;
        const auto lesson =
            LessonLibrary::fromFile(QDir(LessonLibrary::resourceDir()).filePath(file), &error);
        QVERIFY2(lesson, qPrintable(error));
        QVERIFY(!lesson->id.isEmpty());
        QVERIFY(lesson->number >= 1 && lesson->number <= 11);
        QVERIFY(
            file.startsWith(QStringLiteral("%1-").arg(lesson->number, 2, 10, QLatin1Char('0'))));
        QVERIFY(!lesson->title.isEmpty());
        QVERIFY(lesson->predict.contains(QLatin1Char('?'))); // it asks the class something
        QVERIFY(lesson->observe.size() >= 3);
        QVERIFY(lesson->explanation.size() > 200);
        // the scenario names a catalogue workload with acceptable parameters,
        // or (lesson 11) a Python example shipped in the repository
        const LessonScenario& sc = lesson->scenario;
        if (sc.isProgram()) {
            QVERIFY2(sc.workload.isEmpty(), qPrintable(sc.workload));
            QVERIFY2(QFileInfo::exists(QStringLiteral(POOLSCOPE_SOURCE_DIR "/") + sc.program),
                     qPrintable(sc.program));
            QCOMPARE(lesson->validate(), QString());
            return;
        }
        QVERIFY2(Workloads::find(sc.workload), qPrintable(sc.workload));
        QCOMPARE(Workloads::validate(sc.workload, sc.run, sc.poolKind), QString());
        if (lesson->compare)
            QCOMPARE(Workloads::validate(lesson->compare->workload, lesson->compare->run,
                                         lesson->compare->poolKind),
                     QString());
        QCOMPARE(lesson->validate(), QString()); // pool rules and the sweep too
        const RunSpec spec = sc.runSpec();
        QCOMPARE(spec.workload, sc.workload);
        QCOMPARE(spec.run.tasks, sc.run.tasks);
        QCOMPARE(spec.gil, sc.gil);
        QCOMPARE(spec.poolKind, sc.poolKind);
        QCOMPARE(spec.workers, sc.workers);
        QCOMPARE(spec.chunkSize, sc.chunkSize);
        QCOMPARE(spec.timeoutMs, sc.timeoutMs);
    }

    void libraryOrderAndFind()
    {
        const QList<Lesson> all = LessonLibrary::all();
        QCOMPARE(all.size(), 11);
        QStringList ids;
        for (int i = 0; i < all.size(); ++i) {
            QCOMPARE(all[i].number, i + 1);
            ids << all[i].id;
        }
        ids.removeDuplicates();
        QCOMPARE(ids.size(), 11);
        QCOMPARE(LessonLibrary::find(QStringLiteral("gil"))->number, 3);
        QCOMPARE(LessonLibrary::find(QStringLiteral("3"))->id, QStringLiteral("gil"));
        QCOMPARE(LessonLibrary::find(QStringLiteral("03-gil"))->id, QStringLiteral("gil"));
        QCOMPARE(LessonLibrary::find(QStringLiteral("06-amdahl.md"))->id, QStringLiteral("amdahl"));
        QVERIFY(!LessonLibrary::find(QStringLiteral("no-such-lesson")));
    }

    void lessonContents()
    {
        // the facts the lessons teach are in their scenarios
        const Lesson gil = *LessonLibrary::find(QStringLiteral("gil"));
        QVERIFY(gil.scenario.gil);
        QCOMPARE(gil.scenario.switchIntervalMs, 5.0);
        QVERIFY(gil.scenario.workers > 1);
        QCOMPARE(gil.compare->workers, 1);
        QVERIFY(gil.explanation.contains(QStringLiteral("5 ms")));

        const Lesson io = *LessonLibrary::find(QStringLiteral("io-threads"));
        QCOMPARE(io.scenario.workload, QStringLiteral("sleep"));
        QVERIFY(io.scenario.workers >= 16); // far past the cores of a classroom machine
        QCOMPARE(io.compare->workers, 2);

        const Lesson amdahl = *LessonLibrary::find(QStringLiteral("amdahl"));
        QVERIFY(amdahl.sweep);
        QCOMPARE(amdahl.sweep->series,
                 (QList<SweepSeries>{SweepSeries::Threads, SweepSeries::ThreadsGil,
                                     SweepSeries::Processes}));
        const auto req = amdahl.sweepRequest();
        QVERIFY(req);
        QCOMPARE(req->workers, SweepRequest::autoWorkers());
        QVERIFY(amdahl.explanation.contains(QStringLiteral("1 / (s + (1 - s) / n)")));

        const Lesson chunks = *LessonLibrary::find(QStringLiteral("chunks"));
        QCOMPARE(chunks.scenario.chunkSize, 1);
        QCOMPARE(chunks.compare->chunkSize, 100);

        // run B of lesson 8 switches workload, drops the crash-only knob, adds a timeout
        const Lesson crash = *LessonLibrary::find(QStringLiteral("crash"));
        QCOMPARE(crash.scenario.poolKind, QStringLiteral("process"));
        QCOMPARE(crash.compare->workload, QStringLiteral("hang"));
        QVERIFY(!crash.compare->run.knobs.contains(QStringLiteral("mode")));
        QCOMPARE(crash.compare->run.knobs.value(QStringLiteral("every")), 4);
        QCOMPARE(crash.compare->timeoutMs, 1000);
        QCOMPARE(crash.compare->runSpec().timeoutMs, 1000);
        QCOMPARE(crash.compare->run.tasks, 8);
        // only lessons that need a process pool use one
        for (const Lesson& l : LessonLibrary::all()) {
            if (l.scenario.isProgram())
                continue; // a Python script's own pools (lesson 11)
            if (Workloads::find(l.scenario.workload)->processOnly)
                QCOMPARE(l.scenario.poolKind, QStringLiteral("process"));
        }
    }

    void describeNamesThePool_data()
    {
        QTest::addColumn<QString>("pool");
        QTest::addColumn<int>("workers");
        QTest::addColumn<QString>("expected");
        QTest::newRow("2 processes") << "process" << 2 << "; 2 processes";
        QTest::newRow("1 process") << "process" << 1 << "; 1 process";
        QTest::newRow("4 threads") << "thread" << 4 << "; 4 threads, GIL off";
        QTest::newRow("1 thread") << "thread" << 1 << "; 1 thread, GIL off";
        QTest::newRow("default process pool") << "process" << 0 << "; process pool, default size";
    }

    void describeNamesThePool()
    {
        QFETCH(QString, pool);
        QFETCH(int, workers);
        QFETCH(QString, expected);
        LessonScenario sc;
        sc.workload = QStringLiteral("primes");
        sc.run = Workloads::find(sc.workload)->defaultRun();
        sc.poolKind = pool;
        sc.workers = workers;
        const QString text = sc.describe();
        QVERIFY2(text.contains(expected), qPrintable(text));
        QVERIFY2(!text.contains(QStringLiteral("processs")), qPrintable(text));
        // The lesson panel shows it as is: lesson 5 runs on 2 processes.
        const Lesson l = *LessonLibrary::find(QStringLiteral("processes"));
        QVERIFY2(l.scenario.describe().contains(QStringLiteral("2 processes")),
                 qPrintable(l.scenario.describe()));
    }

    void parseErrors_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("expected");
        const QString body =
            QStringLiteral("---\n## Predict\nWhat?\n## Observe\n- a\n## Explain\nBecause.\n");
        const QString head = QStringLiteral("id: x\ntitle: T\nworkload: sleep\n");
        QTest::newRow("no header end") << QStringLiteral("id: x\ntitle: T\nworkload: sleep\n")
                                       << QStringLiteral("no '---' line");
        QTest::newRow("no id") << QString(QStringLiteral("title: T\nworkload: sleep\n") + body)
                               << QStringLiteral("no 'id:' line");
        QTest::newRow("not key: value") << QString(head + QStringLiteral("workers 4\n") + body)
                                        << QStringLiteral(":4: expected 'key: value'");
        QTest::newRow("unknown key") << QString(head + QStringLiteral("wrokers: 4\n") + body)
                                     << QStringLiteral("unknown key 'wrokers'");
        QTest::newRow("unknown workload")
            << QString(QStringLiteral("id: x\ntitle: T\nworkload: nope\n") + body)
            << QStringLiteral("unknown workload 'nope'");
        QTest::newRow("bad bool") << QString(head + QStringLiteral("gil: maybe\n") + body)
                                  << QStringLiteral("'gil: maybe': expected on or off");
        QTest::newRow("bad continuations")
            << QString(head + QStringLiteral("continuations: sometimes\n") + body)
            << QStringLiteral("'continuations: sometimes': expected on or off");
        QTest::newRow("bad series")
            << QString(head + QStringLiteral("sweep.series: threads, fibers\n") + body)
            << QStringLiteral("unknown sweep series 'fibers'");
        QTest::newRow("bad sweep workers")
            << QString(head + QStringLiteral("sweep.workers: 4..2\n") + body)
            << QStringLiteral("sweep.workers must be");
        QTest::newRow("bad run B")
            << QString(head + QStringLiteral("compare.pool: fork\n") + body)
            << QStringLiteral("run B: 'pool: fork': expected thread or process");
        QTest::newRow("unknown section")
            << QString(head + QStringLiteral("---\n## Predict\nQ?\n## Answer\nx\n"))
            << QStringLiteral("unknown section 'Answer'");
        QTest::newRow("no observe list")
            << QString(head + QStringLiteral("---\n## Predict\nQ?\n## Explain\nx\n"))
            << QStringLiteral("no '## Observe' list");
        QTest::newRow("bad pace") << QString(head + QStringLiteral("pace: slow\n") + body)
                                  << QStringLiteral("'pace' must be size, tasks or off");
    }

    // --------------------------------------------------------------- pacing
    void lessonsDeclareTheirPace()
    {
        QCOMPARE(LessonLibrary::find(QStringLiteral("gil"))->pace, Lesson::Pace::Size);
        QCOMPARE(LessonLibrary::find(QStringLiteral("chunks"))->pace, Lesson::Pace::Tasks);
        QCOMPARE(LessonLibrary::find(QStringLiteral("crash"))->pace, Lesson::Pace::Off);
    }

    void pacingEstimate_data()
    {
        QTest::addColumn<QString>("workload");
        QTest::addColumn<QString>("pool");
        QTest::addColumn<bool>("gil");
        QTest::addColumn<int>("workers");
        QTest::addColumn<int>("tasks");
        QTest::addColumn<double>("probeSeconds");
        QTest::addColumn<int>("probeTasks");
        QTest::addColumn<double>("expected");
        // 2 cores
        QTest::newRow("interpreted under the GIL: one at a time")
            << "primes"
            << "thread" << true << 4 << 8 << 0.3 << 3 << 0.8;
        QTest::newRow("GIL off: min(workers, cores) in rounds")
            << "primes"
            << "thread" << false << 4 << 8 << 0.3 << 3 << 0.4;
        QTest::newRow("processes: rounds of 2, the last one partial")
            << "primes"
            << "process" << false << 2 << 5 << 0.3 << 3 << 0.3;
        QTest::newRow("native code under the GIL scales")
            << "matmul_native"
            << "thread" << true << 2 << 8 << 0.3 << 3 << 0.4;
        QTest::newRow("sleeps: every worker waits at once")
            << "sleep"
            << "thread" << true << 20 << 40 << 0.6 << 3 << 0.4;
        QTest::newRow("many tiny tasks: tasks / parallelism")
            << "primes"
            << "thread" << false << 2 << 20000 << 0.02 << 2000 << 0.1;
    }
    void pacingEstimate()
    {
        QFETCH(QString, workload);
        QFETCH(QString, pool);
        QFETCH(bool, gil);
        QFETCH(int, workers);
        QFETCH(int, tasks);
        QFETCH(double, probeSeconds);
        QFETCH(int, probeTasks);
        QFETCH(double, expected);
        LessonScenario sc;
        sc.workload = workload;
        sc.poolKind = pool;
        sc.gil = gil;
        sc.workers = workers;
        sc.run.tasks = tasks;
        QVERIFY(qAbs(LessonPacer::estimateSeconds(sc, probeSeconds, probeTasks, 2) - expected)
                < 1e-9);
    }

    void pacingFactor_data()
    {
        QTest::addColumn<double>("seconds");
        QTest::addColumn<int>("factor");
        QTest::newRow("0.4 s -> 12x (4.8 s)") << 0.4 << 12;
        QTest::newRow("already long enough") << 6.0 << 1;
        QTest::newRow("just under the target") << 4.9 << 1;
        QTest::newRow("tiny: capped at 50x") << 0.001 << 50;
        QTest::newRow("unknown") << 0.0 << 1;
    }
    void pacingFactor()
    {
        QFETCH(double, seconds);
        QFETCH(int, factor);
        QCOMPARE(LessonPacer::factorFor(seconds), factor);
    }

    void pacingProbeIndexes_data()
    {
        QTest::addColumn<qsizetype>("size");
        QTest::addColumn<int>("n");
        QTest::addColumn<bool>("spread");
        QTest::addColumn<QList<qsizetype>>("expected");
        QTest::newRow("lesson 1: 20 tasks, 5 spread")
            << qsizetype(20) << 5 << true << QList<qsizetype>{0, 10, 5, 15, 2};
        QTest::newRow("fewer tasks than the probe: all")
            << qsizetype(3) << 5 << true << QList<qsizetype>{0, 1, 2};
        QTest::newRow("duplicates skipped")
            << qsizetype(7) << 5 << true << QList<qsizetype>{0, 3, 1, 5, 4};
        QTest::newRow("one task") << qsizetype(1) << 5 << true << QList<qsizetype>{0};
        QTest::newRow("empty plan") << qsizetype(0) << 5 << true << QList<qsizetype>{};
        QTest::newRow("tasks probe: evenly spaced")
            << qsizetype(9) << 3 << false << QList<qsizetype>{0, 4, 8};
    }
    void pacingProbeIndexes()
    {
        QFETCH(qsizetype, size);
        QFETCH(int, n);
        QFETCH(bool, spread);
        QFETCH(QList<qsizetype>, expected);
        QCOMPARE(LessonPacer::probeIndexes(size, n, spread), expected);
    }

    // Lesson 1's every 5th task stops half-way: a probe that hits them more
    // often than they occur estimates the run short (first, middle and last
    // hit two of four: 0.48 s estimated, 0.84 s as written, 10 s paced).
    void pacingProbeDoesNotAliasLessonOne()
    {
        const Lesson l = *LessonLibrary::find(QStringLiteral("futures"));
        const Workload* w = Workloads::find(l.scenario.workload);
        QVERIFY(w && w->plan);
        const QList<QCborArray> plan = w->plan(l.scenario.run);
        const qint64 every = l.scenario.run.knobs.value(QStringLiteral("every"));
        QVERIFY(every > 1);
        const QList<qsizetype> probe = LessonPacer::probeIndexes(plan.size(), 5, true);
        QCOMPARE(probe.size(), 5);
        int throwing = 0;
        for (const qsizetype i : probe)
            throwing += (i + 1) % every == 0;
        QVERIFY2(
            double(throwing) / probe.size() <= 1.0 / double(every) + 1e-9,
            qPrintable(
                QStringLiteral("%1 of %2 probed tasks throw").arg(throwing).arg(probe.size())));
    }

    void pacingAppliesByTheLessonsMode()
    {
        Lesson gil = *LessonLibrary::find(QStringLiteral("gil"));
        LessonPace pace = LessonPacer::paceFor(gil, 0.4);
        QCOMPARE(pace.factor, 12);
        QVERIFY2(pace.description.contains(QStringLiteral("each task 12x longer")),
                 qPrintable(pace.description));
        RunSpec a = LessonPacer::paced(gil, gil.scenario, pace);
        RunSpec b = LessonPacer::paced(gil, *gil.compare, pace);
        QCOMPARE(a.run.tasks, gil.scenario.run.tasks);
        QCOMPARE(a.run.size, gil.scenario.run.size * 12);
        QCOMPARE(b.run.size, gil.compare->run.size * 12); // the same work on both sides
        QCOMPARE(b.workers, gil.compare->workers);

        Lesson chunks = *LessonLibrary::find(QStringLiteral("chunks"));
        pace = LessonPacer::paceFor(chunks, 0.25);
        QCOMPARE(pace.factor, 20);
        a = LessonPacer::paced(chunks, chunks.scenario, pace);
        QCOMPARE(a.run.tasks, chunks.scenario.run.tasks * 20);
        QCOMPARE(a.run.size, chunks.scenario.run.size); // tasks stay tiny
        QVERIFY(a.run.tasks <= Workloads::find(QStringLiteral("primes"))->maxTasks);
        // past the workload's task limit: capped, and said
        pace = LessonPacer::paceFor(chunks, 0.01);
        QCOMPARE(pace.factor, 50);
        chunks.scenario.run.tasks = 100'000;
        chunks.compare->run.tasks = 100'000;
        pace = LessonPacer::paceFor(chunks, 0.01);
        QCOMPARE(pace.factor, 10); // 1,000,000 tasks at most
        QVERIFY(pace.capped);
        QVERIFY(pace.description.contains(QStringLiteral("capped")));

        Lesson crash = *LessonLibrary::find(QStringLiteral("crash"));
        pace = LessonPacer::paceFor(crash, 0.1);
        QCOMPARE(pace.factor, 1);
        QCOMPARE(LessonPacer::paced(crash, crash.scenario, pace).run.size, crash.scenario.run.size);
    }

    void pacerCalibratesInTheBackground()
    {
        LessonPacer pacer;
        QSignalSpy done(&pacer, &LessonPacer::calibrated);
        const Lesson gil = *LessonLibrary::find(QStringLiteral("gil"));
        QVERIFY(!pacer.pace(gil.id));
        pacer.calibrate(gil);
        pacer.calibrate(gil); // once
        QTRY_COMPARE_WITH_TIMEOUT(done.count(), 1, 60'000);
        QCOMPARE(done.first().first().toString(), gil.id);
        const auto pace = pacer.pace(gil.id);
        QVERIFY(pace);
        QVERIFY(pace->estimatedSeconds > 0);
        QVERIFY(pace->factor >= 1 && pace->factor <= LessonPacer::kMaxFactor);
        QCOMPARE(pace->pacedSeconds, pace->estimatedSeconds * pace->factor);
        // not paced: known at once, no probe
        const Lesson crash = *LessonLibrary::find(QStringLiteral("crash"));
        pacer.calibrate(crash);
        QCOMPARE(done.count(), 2);
        QVERIFY(pacer.waitForPace(crash, 0));
        // a blocking wait returns the answer
        const Lesson native = *LessonLibrary::find(QStringLiteral("native"));
        QVERIFY(pacer.waitForPace(native, 60'000));
    }
    void parseErrors()
    {
        QFETCH(QString, text);
        QFETCH(QString, expected);
        QString error;
        QVERIFY(!LessonLibrary::parse(text, &error, QStringLiteral("t.md")));
        QVERIFY2(error.contains(expected), qPrintable(error));
        QVERIFY(error.startsWith(QStringLiteral("t.md")));
    }

    void invalidScenarioIsReported()
    {
        // parses, but the catalogue refuses it: validate() says why
        const auto l = LessonLibrary::parse(
            QStringLiteral("id: x\ntitle: T\nworkload: crash\npool: thread\n---\n## Predict\nQ?\n"
                           "## Observe\n- a\n## Explain\nB.\n"));
        QVERIFY(l);
        QVERIFY(l->validate().contains(QStringLiteral("process pool")));
        // continuations are one delivery per task: small runs only
        const auto big = LessonLibrary::parse(
            QStringLiteral("id: x\ntitle: T\nworkload: sleep\ntasks: 300\ncontinuations: on\n"
                           "---\n## Predict\nQ?\n## Observe\n- a\n## Explain\nB.\n"));
        QVERIFY(big);
        QVERIFY(big->scenario.runSpec().qfutures);
        QVERIFY2(big->validate().contains(QStringLiteral("at most 256 tasks")),
                 qPrintable(big->validate()));
    }

    // ----------------------------------------------------------- lesson panel
    void panelEmitsRequests_data()
    {
        QTest::addColumn<QString>("id");
        QTest::addColumn<bool>("hasCompare");
        QTest::addColumn<bool>("hasSweep");
        QTest::newRow("futures") << QStringLiteral("futures") << false << false;
        QTest::newRow("gil") << QStringLiteral("gil") << true << false;
        QTest::newRow("amdahl (by number)") << QStringLiteral("6") << false << true;
        QTest::newRow("pipeline") << QStringLiteral("pipeline") << true << false;
    }
    void panelEmitsRequests()
    {
        QFETCH(QString, id);
        QFETCH(bool, hasCompare);
        QFETCH(bool, hasSweep);
        LessonPanel panel;
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        QSignalSpy changed(&panel, &LessonPanel::lessonChanged);
        QSignalSpy run(&panel, &LessonPanel::runRequested);
        QSignalSpy reset(&panel, &LessonPanel::resetRequested);
        QSignalSpy compare(&panel, &LessonPanel::compareRequested);
        QSignalSpy sweep(&panel, &LessonPanel::sweepRequested);
        QVERIFY(panel.selectLesson(id));
        const Lesson expected = *LessonLibrary::find(id);
        QCOMPARE(panel.currentLesson().id, expected.id);
        if (expected.number != 1) // lesson 1 is shown first: no change
            QCOMPARE(changed.size(), 1);
        QVERIFY(panel.findChild<QLabel*>(QStringLiteral("lessonPredict"))->isVisible());
        QVERIFY(!panel.findChild<QWidget*>(QStringLiteral("lessonObserve"))->isVisible());
        QCOMPARE(button(panel, "compareButton")->isVisible(), hasCompare);
        QCOMPARE(button(panel, "sweepButton")->isVisible(), hasSweep);

        QTest::mouseClick(button(panel, "runButton"), Qt::LeftButton);
        QCOMPARE(run.size(), 1);
        QCOMPARE(run.at(0).at(0).value<Lesson>().id, expected.id);
        QCOMPARE(run.at(0).at(0).value<Lesson>().scenario.workload, expected.scenario.workload);
        QVERIFY(panel.isRevealed()); // after Run: what to look for
        QVERIFY(panel.findChild<QWidget*>(QStringLiteral("lessonObserve"))->isVisible());
        // ... but never the explanation: the teacher asks for it.
        QVERIFY(!panel.isExplained());
        QVERIFY(!panel.findChild<QWidget*>(QStringLiteral("lessonExplain"))->isVisible());

        if (hasCompare) {
            QTest::mouseClick(button(panel, "compareButton"), Qt::LeftButton);
            QCOMPARE(compare.size(), 1);
            QCOMPARE(compare.at(0).at(0).value<Lesson>().id, expected.id);
        }
        if (hasSweep) {
            QTest::mouseClick(button(panel, "sweepButton"), Qt::LeftButton);
            QCOMPARE(sweep.size(), 1);
            QCOMPARE(sweep.at(0).at(0).value<Lesson>().id, expected.id);
        }
        QTest::mouseClick(button(panel, "resetButton"), Qt::LeftButton);
        QCOMPARE(reset.size(), 1);
        QCOMPARE(reset.at(0).at(0).value<Lesson>().id, expected.id);
        QVERIFY(!panel.isRevealed());
        QCOMPARE(run.size(), 1); // nothing else ran

        panel.setRunEnabled(false);
        QVERIFY(!button(panel, "runButton")->isEnabled());
        QTest::mouseClick(button(panel, "runButton"), Qt::LeftButton);
        QCOMPARE(run.size(), 1);
    }

    // Predict, observe, explain: the question alone (shown whole), then what
    // to look for on Run, the explanation only on request; the class's
    // prediction is shown beside the measured result.
    void panelRevealsInThreeSteps()
    {
        LessonPanel panel;
        panel.resize(420, 640);
        panel.show();
        QVERIFY(QTest::qWaitForWindowExposed(&panel));
        QVERIFY(panel.selectLesson(QStringLiteral("3")));
        auto* predict = panel.findChild<QLabel*>(QStringLiteral("lessonPredict"));
        auto* observe = panel.findChild<QWidget*>(QStringLiteral("lessonObserve"));
        auto* explain = panel.findChild<QWidget*>(QStringLiteral("lessonExplain"));
        auto* prediction = panel.findChild<QLineEdit*>(QStringLiteral("lessonPrediction"));
        auto* measured = panel.findChild<QLabel*>(QStringLiteral("lessonMeasured"));
        QVERIFY(predict && observe && explain && prediction && measured);
        QSignalSpy stages(&panel, &LessonPanel::stageChanged);
        QCOMPARE(panel.stage(), LessonPanel::Stage::Predict);
        QVERIFY(predict->isVisible() && !observe->isVisible() && !explain->isVisible());
        // The question is not cut: the label has the height its text needs.
        QVERIFY2(predict->height() >= predict->heightForWidth(predict->width()),
                 qPrintable(QStringLiteral("%1 < %2")
                                .arg(predict->height())
                                .arg(predict->heightForWidth(predict->width()))));

        QTest::keyClicks(prediction, QStringLiteral("about 2x slower"));
        QCOMPARE(panel.prediction(), QStringLiteral("about 2x slower"));
        QVERIFY(!measured->isVisible()); // nothing measured yet

        QTest::mouseClick(button(panel, "runButton"), Qt::LeftButton);
        QCOMPARE(panel.stage(), LessonPanel::Stage::Observe);
        QVERIFY(observe->isVisible() && !explain->isVisible());
        QCOMPARE(stages.size(), 1);
        QTest::mouseClick(button(panel, "runButton"), Qt::LeftButton); // again: still no answer
        QCOMPARE(panel.stage(), LessonPanel::Stage::Observe);

        panel.setMeasured(QStringLiteral("B took 1.2 s, 1.9x slower than A (640 ms)"));
        QVERIFY(measured->isVisible());
        QVERIFY(measured->text().contains(QStringLiteral("Predicted: about 2x slower")));
        QVERIFY(measured->text().contains(QStringLiteral("1.9x slower than A")));

        QTest::mouseClick(button(panel, "explainButton"), Qt::LeftButton);
        QCOMPARE(panel.stage(), LessonPanel::Stage::Explain);
        QVERIFY(observe->isVisible() && explain->isVisible());
        QVERIFY(button(panel, "explainButton")->isChecked());
        QTest::mouseClick(button(panel, "explainButton"), Qt::LeftButton); // hide it again
        QCOMPARE(panel.stage(), LessonPanel::Stage::Observe);
        QVERIFY(!explain->isVisible());

        // Explain straight from the question shows what to look for too.
        QTest::mouseClick(button(panel, "resetButton"), Qt::LeftButton);
        QCOMPARE(panel.stage(), LessonPanel::Stage::Predict);
        QVERIFY(!measured->isVisible()); // Reset clears the result, keeps the prediction
        QCOMPARE(panel.prediction(), QStringLiteral("about 2x slower"));
        panel.setExplained(true);
        QVERIFY(observe->isVisible() && explain->isVisible());
        QVERIFY(button(panel, "revealButton")->isChecked());

        // Another lesson: its question alone, no old answer.
        QVERIFY(panel.selectLesson(QStringLiteral("4")));
        QCOMPARE(panel.stage(), LessonPanel::Stage::Predict);
        QVERIFY(!observe->isVisible() && !explain->isVisible());
        QVERIFY(panel.prediction().isEmpty());
    }

    void panelComboSwitchesLesson()
    {
        LessonPanel panel;
        QSignalSpy changed(&panel, &LessonPanel::lessonChanged);
        auto* combo = panel.findChild<QComboBox*>(QStringLiteral("lessonCombo"));
        QCOMPARE(combo->count(), 11);
        combo->setCurrentIndex(4);
        QCOMPARE(changed.size(), 1);
        QCOMPARE(changed.at(0).at(0).value<Lesson>().number, 5);
        QCOMPARE(panel.findChild<QLabel*>(QStringLiteral("lessonTitle"))->text(),
                 LessonLibrary::find(QStringLiteral("5"))->displayName());
        QVERIFY(!panel.selectLesson(QStringLiteral("nope")));
        QCOMPARE(panel.currentLesson().number, 5);
    }

    // ------------------------------------------------------------------ sweep
    void sweepChartRecoversSerialFraction_data()
    {
        QTest::addColumn<double>("serial");
        QTest::addColumn<int>("cores");
        QTest::addColumn<int>("maxWorkers");
        QTest::newRow("s = 0, 16 cores") << 0.0 << 16 << 8;
        QTest::newRow("s = 0.1, 16 cores") << 0.1 << 16 << 8;
        QTest::newRow("s = 0.25, 16 cores") << 0.25 << 16 << 6;
        QTest::newRow("s = 1 (GIL-like), 16 cores") << 1.0 << 16 << 4;
        // past 2 cores the speedup is flat at amdahl(s, 2): still s
        QTest::newRow("s = 0.2, 2 cores, 1..8 workers") << 0.2 << 2 << 8;
    }
    void sweepChartRecoversSerialFraction()
    {
        QFETCH(double, serial);
        QFETCH(int, cores);
        QFETCH(int, maxWorkers);
        SweepChart chart;
        chart.setCoreCount(cores);
        const double t1 = 2.0;
        for (int n = 1; n <= maxWorkers; ++n) {
            SweepPoint p;
            p.series = SweepSeries::Processes;
            p.workers = n;
            p.wallS = t1 / amdahlSpeedup(serial, std::min(n, cores));
            chart.addPoint(p);
        }
        const double fitted = chart.serialFraction(SweepSeries::Processes);
        QVERIFY2(qAbs(fitted - serial) < 1e-6, qPrintable(QString::number(fitted)));
        // what the chart shows: the legend carries the fitted value
        const QString legend = chart.amdahlLegend(SweepSeries::Processes);
        QVERIFY2(legend.contains(QStringLiteral("s = %1").arg(serial, 0, 'f', 3)),
                 qPrintable(legend));
        QVERIFY2(chart.legendLabels().contains(legend),
                 qPrintable(chart.legendLabels().join(" | ")));
        QVERIFY(chart.legendLabels().contains(QStringLiteral("cores (%1)").arg(cores)));
        QVERIFY(chart.legendLabels().contains(QStringLiteral("processes")));
        QCOMPARE(chart.speedup(SweepSeries::Processes, 1), 1.0);
        QVERIFY(qAbs(chart.speedup(SweepSeries::Processes, 2) - amdahlSpeedup(serial, 2)) < 1e-9);
        QVERIFY(chart.summaryText().contains(QStringLiteral("fitted serial fraction")));
        QVERIFY(chart.serialFraction(SweepSeries::Threads) < 0); // no such series
    }

    void sweepChartDrawsRanges()
    {
        SweepChart chart;
        chart.setCoreCount(4);
        // 1 worker: 4.0 s (3.8-4.4); 2 workers: 2.1 s (2.0-2.4); 4: 1.2 s (1.0-1.6)
        auto point = [](int n, double med, double lo, double hi, double busy) {
            SweepPoint p{SweepSeries::Threads, n, med, 0};
            p.minS = lo;
            p.maxS = hi;
            p.samplesS = {hi, med, lo};
            p.otherCores = busy;
            return p;
        };
        chart.setPoints({point(1, 4.0, 3.8, 4.4, 0.0), point(2, 2.1, 2.0, 2.4, 0.02),
                         point(4, 1.2, 1.0, 1.6, 1.3)});
        QCOMPARE(chart.speedup(SweepSeries::Threads, 2), 4.0 / 2.1);
        const auto [lo, hi] = chart.speedupRange(SweepSeries::Threads, 2);
        QCOMPARE(lo, 3.8 / 2.4);
        QCOMPARE(hi, 4.4 / 2.0);
        QCOMPARE(chart.speedupRange(SweepSeries::Threads, 1), std::make_pair(1.0, 1.0));
        QCOMPARE(chart.speedupRange(SweepSeries::Threads, 3), std::make_pair(-1.0, -1.0));
        const auto [sLo, sHi] = chart.serialFractionRange(SweepSeries::Threads);
        const double s = chart.serialFraction(SweepSeries::Threads);
        QVERIFY2(sLo >= 0 && sLo <= s && s <= sHi && sHi > sLo,
                 qPrintable(QStringLiteral("%1 <= %2 <= %3").arg(sLo).arg(s).arg(sHi)));
        QVERIFY2(
            chart.amdahlLegend(SweepSeries::Threads).contains(QStringLiteral("over the ranges")),
            qPrintable(chart.amdahlLegend(SweepSeries::Threads)));
        const QString summary = chart.summaryText();
        QVERIFY2(summary.contains(QStringLiteral("median of 3 measurements")), qPrintable(summary));
        QVERIFY2(summary.contains(QStringLiteral("busy during 1 of 3 points")),
                 qPrintable(summary));
        QVERIFY2(summary.contains(QStringLiteral("1.30 cores")), qPrintable(summary));
        QVERIFY(!chart.render().isNull());
        // single measurements: no range, no repeat line, no busy line
        chart.setPoints({{SweepSeries::Threads, 1, 2.0, 0}, {SweepSeries::Threads, 2, 1.0, 0}});
        QCOMPARE(chart.speedupRange(SweepSeries::Threads, 2), std::make_pair(2.0, 2.0));
        QVERIFY(!chart.amdahlLegend(SweepSeries::Threads).contains(QStringLiteral("ranges")));
        QVERIFY(!chart.summaryText().contains(QStringLiteral("median")));
        QVERIFY(!chart.summaryText().contains(QStringLiteral("busy")));
    }

    // A short dock (a projector) keeps the tick labels and drops the axis
    // titles; Qt Charts would elide the labels to "..." otherwise.
    void chartsDropAxisTitlesWhenShort_data()
    {
        QTest::addColumn<int>("height");
        QTest::addColumn<bool>("titles");
        QTest::newRow("short dock") << 180 << false;
        QTest::newRow("room") << 500 << true;
    }
    void chartsDropAxisTitlesWhenShort()
    {
        QFETCH(int, height);
        QFETCH(bool, titles);
        SweepChart sweep;
        sweep.setPoints({{SweepSeries::Threads, 1, 2.0, 0}, {SweepSeries::Threads, 2, 1.0, 0}});
        ChartAdapter line;
        line.setXTitle(QStringLiteral("seconds"));
        line.setYTitle(ChartAdapter::Axis::Left, QStringLiteral("%"));
        line.addLine(QStringLiteral("a"), Qt::blue);
        for (QWidget* w : {static_cast<QWidget*>(&sweep), static_cast<QWidget*>(&line)}) {
            w->resize(700, height + 120);
            w->show();
            QVERIFY(QTest::qWaitForWindowExposed(w));
        }
        auto* view = sweep.findChild<QChartView*>(QStringLiteral("sweepSpeedupView"));
        QVERIFY(view);
        view->resize(view->width(), height); // the layout's share of a dock
        QTRY_VERIFY(!view->chart()->axes().isEmpty());
        for (QAbstractAxis* a : view->chart()->axes())
            QCOMPARE(a->isTitleVisible(), titles);
        auto* lineView = line.findChild<QChartView*>();
        QVERIFY(lineView);
        lineView->resize(lineView->width(), height);
        for (QAbstractAxis* a : lineView->chart()->axes())
            QCOMPARE(a->isTitleVisible(), titles);
    }

    void sweepChartNeedsOneWorkerBaseline()
    {
        SweepChart chart;
        chart.addPoint({SweepSeries::Threads, 2, 1.0, 0});
        QCOMPARE(chart.speedup(SweepSeries::Threads, 2), -1.0);
        QVERIFY(chart.serialFraction(SweepSeries::Threads) < 0);
        chart.addPoint({SweepSeries::Threads, 1, 2.0, 0});
        QCOMPARE(chart.speedup(SweepSeries::Threads, 2), 2.0);
        QVERIFY(qAbs(chart.serialFraction(SweepSeries::Threads)) < 1e-9);
        chart.clear();
        QVERIFY(chart.points().isEmpty());
        QVERIFY(chart.series().isEmpty());
    }

    void smallRealSweep()
    {
        SweepRunner runner;
        QSignalSpy started(&runner, &SweepRunner::started);
        QSignalSpy progress(&runner, &SweepRunner::progress);
        QSignalSpy points(&runner, &SweepRunner::pointMeasured);
        QSignalSpy finished(&runner, &SweepRunner::finished);
        QSignalSpy errors(&runner, &SweepRunner::error);
        SweepRequest req;
        req.workload = QStringLiteral("primes");
        req.run = Workloads::find(req.workload)->defaultRun();
        req.run.tasks = 4;
        req.run.size = 2000;
        req.series = {SweepSeries::Threads};
        req.workers = {1, 2};
        QVERIFY(runner.start(req));
        QVERIFY(runner.isRunning());
        QCOMPARE(started.size(), 1);
        QCOMPARE(started.at(0).at(0).toInt(), 2);
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 120'000);
        QCOMPARE(errors.size(), 0);
        QCOMPARE(finished.at(0).at(0).toBool(), false);
        QVERIFY(!runner.isRunning());
        QCOMPARE(points.size(), 2);
        QList<int> workers;
        for (const auto& args : points) {
            const SweepPoint p = args.at(0).value<SweepPoint>();
            QCOMPARE(p.series, SweepSeries::Threads);
            QVERIFY(p.wallS > 0);
            QCOMPARE(p.failed, 0);
            workers << p.workers;
        }
        QCOMPARE(workers, (QList<int>{1, 2}));
        QVERIFY(!progress.isEmpty());
        QCOMPARE(progress.last().at(1).toInt(), 2);              // total points
        QCOMPARE(progress.last().at(3).toLongLong(), qint64(4)); // tasks per point
        // the chart takes the runner's points
        SweepChart chart;
        chart.setPoints(runner.points());
        QCOMPARE(chart.speedup(SweepSeries::Threads, 1), 1.0);
        QVERIFY(chart.speedup(SweepSeries::Threads, 2) > 0);
        QVERIFY(chart.serialFraction(SweepSeries::Threads) >= 0);
    }

    void sweepRepeatsEachPoint()
    {
        SweepRunner runner;
        QSignalSpy points(&runner, &SweepRunner::pointMeasured);
        QSignalSpy finished(&runner, &SweepRunner::finished);
        SweepRequest req;
        QCOMPARE(req.repeats, 3); // the default: a median of three
        req.workload = QStringLiteral("primes");
        req.run = Workloads::find(req.workload)->defaultRun();
        req.run.tasks = 4;
        req.run.size = 2000;
        req.series = {SweepSeries::Threads};
        req.workers = {1, 2};
        QVERIFY(runner.start(req));
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 120'000);
        QCOMPARE(points.size(), 2); // one point per worker count, not per measurement
        for (const auto& args : points) {
            const SweepPoint p = args.at(0).value<SweepPoint>();
            QCOMPARE(p.samplesS.size(), 3);
            QList<double> sorted = p.samplesS;
            std::sort(sorted.begin(), sorted.end());
            QCOMPARE(p.wallS, sorted.at(1));
            QCOMPARE(p.minS, sorted.first());
            QCOMPARE(p.maxS, sorted.last());
            QVERIFY(p.minS > 0);
            QVERIFY(p.otherCores >= 0); // measured (Linux /proc/stat)
        }
        // once, when asked
        req.repeats = 1;
        QVERIFY(runner.start(req));
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 2, 120'000);
        QCOMPARE(points.last().at(0).value<SweepPoint>().samplesS.size(), 1);
    }

    void smallProcessSweep()
    {
        // The process series: a pool of worker processes per point, started
        // (warm-up) before the clock runs and shut down without blocking.
        SweepRunner runner;
        QSignalSpy points(&runner, &SweepRunner::pointMeasured);
        QSignalSpy finished(&runner, &SweepRunner::finished);
        QSignalSpy errors(&runner, &SweepRunner::error);
        SweepRequest req;
        req.workload = QStringLiteral("primes");
        req.run = Workloads::find(req.workload)->defaultRun();
        req.run.tasks = 4;
        req.run.size = 2000;
        req.series = {SweepSeries::Processes};
        req.workers = {1, 2};
        req.workerProgram = QStringLiteral(POOLSCOPE_WORKER_PATH);
        QVERIFY(runner.start(req));
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 120'000);
        QCOMPARE(errors.size(), 0);
        QCOMPARE(finished.at(0).at(0).toBool(), false);
        QCOMPARE(points.size(), 2);
        for (const auto& args : points) {
            const SweepPoint p = args.at(0).value<SweepPoint>();
            QCOMPARE(p.series, SweepSeries::Processes);
            QVERIFY(p.wallS > 0);
            QCOMPARE(p.failed, 0);
        }
    }

    void sweepCancel()
    {
        SweepRunner runner;
        QSignalSpy points(&runner, &SweepRunner::pointMeasured);
        QSignalSpy finished(&runner, &SweepRunner::finished);
        QSignalSpy progress(&runner, &SweepRunner::progress);
        SweepRequest req;
        req.workload = QStringLiteral("sleep");
        req.run.tasks = 50;
        req.run.size = 200; // 10 s at one worker: must be cut short
        req.series = {SweepSeries::Threads, SweepSeries::ThreadsGil};
        req.workers = {1, 2, 3};
        QVERIFY(runner.start(req));
        QTRY_VERIFY_WITH_TIMEOUT(!progress.isEmpty(), 30'000); // the batch is running
        runner.cancel();
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 30'000);
        QCOMPARE(finished.at(0).at(0).toBool(), true);
        QCOMPARE(points.size(), 0);
        QVERIFY(!runner.isRunning());
        // and it can run again afterwards
        req.run.tasks = 2;
        req.run.size = 1;
        req.series = {SweepSeries::ThreadsGil};
        req.workers = {1};
        QVERIFY(runner.start(req));
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 2, 60'000);
        QCOMPARE(finished.at(1).at(0).toBool(), false);
        QCOMPARE(points.size(), 1);
    }

    void sweepRejects_data()
    {
        QTest::addColumn<QString>("workload");
        QTest::addColumn<QList<int>>("workers");
        QTest::addColumn<QString>("expected");
        QTest::newRow("not from 1")
            << QStringLiteral("primes") << QList<int>{2, 4} << QStringLiteral("starts at 1 worker");
        QTest::newRow("not ascending")
            << QStringLiteral("primes") << QList<int>{1, 3, 2} << QStringLiteral("ascending");
        QTest::newRow("process-only on threads")
            << QStringLiteral("crash") << QList<int>{1, 2} << QStringLiteral("process pool");
        QTest::newRow("unknown workload")
            << QStringLiteral("nope") << QList<int>{1} << QStringLiteral("unknown workload");
        QTest::newRow("no measurement")
            << QStringLiteral("primes") << QList<int>{1, 2} << QStringLiteral("1 to 9 times");
        QTest::newRow("too many measurements")
            << QStringLiteral("primes") << QList<int>{1, 2} << QStringLiteral("1 to 9 times");
    }
    void sweepRejects()
    {
        QFETCH(QString, workload);
        QFETCH(QList<int>, workers);
        QFETCH(QString, expected);
        SweepRunner runner;
        QSignalSpy errors(&runner, &SweepRunner::error);
        SweepRequest req;
        req.workload = workload;
        req.run.tasks = 2;
        req.run.size = 10;
        req.workers = workers;
        if (QByteArray(QTest::currentDataTag()) == "no measurement")
            req.repeats = 0;
        if (QByteArray(QTest::currentDataTag()) == "too many measurements")
            req.repeats = 10;
        QVERIFY(!runner.start(req));
        QCOMPARE(errors.size(), 1);
        QVERIFY2(errors.at(0).at(0).toString().contains(expected),
                 qPrintable(errors.at(0).at(0).toString()));
        QVERIFY(!runner.isRunning());
    }

    // ----------------------------------------------------------------- replay
    void replayRoundTrip()
    {
        // A real small run, recorded by a Monitor and written as a trace.
        ThreadPoolExecutor pool(2);
        Monitor monitor;
        monitor.attach(&pool);
        WorkloadRun run = Workloads::find(QStringLiteral("primes"))->defaultRun();
        run.tasks = 6;
        run.size = 3000;
        const auto futures = Workloads::submit(pool, QStringLiteral("primes"), run);
        QTRY_VERIFY_WITH_TIMEOUT(
            std::all_of(futures.begin(), futures.end(), [](const auto& f) { return f.done(); }),
            60'000);
        pool.shutdown(true);
        monitor.tick(); // the last rows
        const TraceData recorded = monitor.traceData(QStringLiteral("round trip"));
        QCOMPARE(recorded.size(), quint64(6));
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(QStringLiteral("run.json"));
        QString err;
        QVERIFY2(writeChromeTrace(path, recorded, &err), qPrintable(err));

        TimelineWidget timeline;
        FuturesModel model;
        ReplayController replay;
        replay.setTimeline(&timeline);
        replay.setFuturesModel(&model);
        QSignalSpy loaded(&replay, &ReplayController::loaded);
        QSignalSpy errors(&replay, &ReplayController::error);
        QVERIFY(replay.load(path));
        QCOMPARE(errors.size(), 0);
        QCOMPARE(loaded.size(), 1);
        QCOMPARE(loaded.at(0).at(0).toString(), QStringLiteral("round trip"));
        QCOMPARE(loaded.at(0).at(1).toInt(), 6);
        QCOMPARE(replay.sourceName(), QStringLiteral("run.json"));

        // Whole run: the same task count and the same spans.
        QCOMPARE(replay.positionNs(), replay.durationNs());
        QCOMPARE(timeline.spanCount(), std::size_t(6));
        QCOMPARE(model.rowCount(), 6);
        std::map<quint64, TaskSpan> original;
        std::map<quint64, QString> originalArgs;
        for (quint64 r = 0; r < recorded.size(); ++r) {
            original[recorded.record->taskId(r)] = recorded.record->span(r);
            originalArgs[recorded.record->taskId(r)] = recorded.record->args(r);
        }
        std::size_t seen = 0;
        for (int w : timeline.laneWorkers()) {
            for (const TaskSpan& s : timeline.laneSpans(w)) {
                QVERIFY(original.count(s.taskId));
                const TaskSpan& o = original[s.taskId];
                QCOMPARE(s.worker, o.worker);
                QCOMPARE(s.startNs, o.startNs);
                QCOMPARE(s.endNs, o.endNs);
                QCOMPARE(s.status, o.status);
                QCOMPARE(NameTable::name(s.nameId), NameTable::name(o.nameId));
                ++seen;
            }
        }
        QCOMPARE(seen, std::size_t(6));
        for (int row = 0; row < model.rowCount(); ++row) {
            const TaskRecord r = model.taskRecord(row);
            QVERIFY(original.count(r.span.taskId));
            QCOMPARE(r.args, originalArgs[r.span.taskId]); // args came along
            QVERIFY(!r.args.isEmpty());
        }

        // Scrub: at mid-run only what had started / finished by then.
        qint64 start = 0;
        for (const auto& [id, s] : original)
            start = start == 0 || s.enqueueNs < start ? s.enqueueNs : start;
        QVERIFY(start > 0);
        const qint64 mid = replay.durationNs() / 2;
        replay.setPosition(mid);
        int started = 0, done = 0;
        for (const auto& [id, s] : original) {
            started += s.startNs <= start + mid;
            done += s.endNs <= start + mid;
        }
        QCOMPARE(replay.visibleSpanCount(), started);
        QCOMPARE(int(timeline.spanCount()), started);
        QCOMPARE(model.rowCount(), done);
        QCOMPARE(replay.finishedCount(), done);
        replay.setPosition(0);
        QCOMPARE(model.rowCount(), 0);

        // Play at 16x to the end.
        QSignalSpy finished(&replay, &ReplayController::finished);
        QSignalSpy playing(&replay, &ReplayController::playingChanged);
        replay.setSpeed(16);
        replay.play();
        QVERIFY(replay.isPlaying());
        QTRY_COMPARE_WITH_TIMEOUT(finished.size(), 1, 30'000);
        QVERIFY(!replay.isPlaying());
        QCOMPARE(playing.size(), 2);
        QCOMPARE(replay.positionNs(), replay.durationNs());
        QCOMPARE(model.rowCount(), 6);
        QCOMPARE(timeline.spanCount(), std::size_t(6));

        // The bar follows the controller.
        ReplayBar bar(&replay);
        QCOMPARE(bar.slider()->maximum(), int(replay.durationNs() / bar.sliderUnitNs()));
        bar.slider()->setValue(0);
        QCOMPARE(replay.positionNs(), 0);
    }

    void replayMalformed_data()
    {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<bool>("createFile");
        QTest::addColumn<QString>("expected");
        QTest::newRow("missing file") << QByteArray() << false << QStringLiteral("Cannot open");
        QTest::newRow("empty file") << QByteArray() << true << QStringLiteral("empty");
        QTest::newRow("not JSON") << QByteArray("hello, class") << true
                                  << QStringLiteral("not a readable PoolScope trace");
        QTest::newRow("truncated") << QByteArray("{\"traceEvents\":[{\"ph\":\"X\",\"ts\":1") << true
                                   << QStringLiteral("not a readable PoolScope trace");
        QTest::newRow("wrong shape")
            << QByteArray("[1, 2, 3]") << true << QStringLiteral("not a readable PoolScope trace");
        QTest::newRow("no tasks") << QByteArray("{\"traceEvents\":[]}") << true
                                  << QStringLiteral("no finished tasks");
    }
    void replayMalformed()
    {
        QFETCH(QByteArray, content);
        QFETCH(bool, createFile);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("bad.json"));
        if (createFile) {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(content);
        }
        ReplayController replay;
        TimelineWidget timeline;
        replay.setTimeline(&timeline);
        // a good recording first: a bad file must not replace it
        replay.setTrace(syntheticTrace(4, 2, 10, 5'000 * kMs));
        QSignalSpy errors(&replay, &ReplayController::error);
        QSignalSpy loaded(&replay, &ReplayController::loaded);
        QVERIFY(!replay.load(path));
        QCOMPARE(errors.size(), 1);
        const QString msg = errors.at(0).at(0).toString();
        QVERIFY2(msg.contains(expected), qPrintable(msg));
        QVERIFY(msg.contains(QStringLiteral("bad.json")));
        QCOMPARE(loaded.size(), 0);
        QVERIFY(replay.isLoaded());
        QCOMPARE(replay.trace().size(), quint64(4));
        QCOMPARE(timeline.spanCount(), std::size_t(4));
    }

    // ---------------------------------------------------------- replay charts
    void replaySeriesThroughput_data()
    {
        QTest::addColumn<int>("tasks");
        QTest::addColumn<int>("workers");
        QTest::addColumn<qint64>("taskMs");
        QTest::addColumn<int>("buckets");
        // 30 ms: shorter than one 50 ms bucket.
        QTest::newRow("30 ms, one bucket") << 3 << 1 << qint64(10) << 1;
        // 200 ms: 50 ms buckets (1/100 would be 2 ms).
        QTest::newRow("200 ms, 50 ms buckets") << 40 << 2 << qint64(10) << 4;
        // 12 s: 1/100 of the recording (120 ms).
        QTest::newRow("12 s, 100 buckets") << 300 << 5 << qint64(200) << 100;
        // Tasks ending at odd times: 7 x 13 ms = 91 ms, one 91 ms bucket.
        QTest::newRow("odd length") << 7 << 1 << qint64(13) << 1;
    }
    void replaySeriesThroughput()
    {
        QFETCH(int, tasks);
        QFETCH(int, workers);
        QFETCH(qint64, taskMs);
        QFETCH(int, buckets);
        const TraceData t = syntheticTrace(tasks, workers, taskMs, 7'000 * kMs);
        const ReplaySeries r = replaySeries(t);
        const qint64 duration = (tasks + workers - 1) / workers * taskMs * kMs;
        QCOMPARE(r.startNs, 7'000 * kMs);
        QCOMPARE(r.durationNs, duration);
        QCOMPARE(r.bucketCount(), buckets);
        QCOMPARE(r.edges.front(), 0);
        QCOMPARE(r.edges.back(), duration);
        qint64 finished = 0;
        double fromRates = 0;
        for (int i = 0; i < r.bucketCount(); ++i) {
            // Never shorter than 50 ms or 1/100 of the recording (unless the
            // whole recording is shorter).
            QVERIFY(r.bucketNs(i) >= std::min(duration, kReplayMinBucketNs));
            QVERIFY(r.bucketNs(i) >= duration / kReplayMaxBuckets);
            finished += r.finished[std::size_t(i)];
            fromRates += r.tasksPerSecond[std::size_t(i)] * double(r.bucketNs(i)) / 1e9;
        }
        // Every finished task is counted once, and the rates say the same.
        QCOMPARE(finished, qint64(tasks));
        QCOMPARE(qRound(fromRates), tasks);
        QVERIFY(std::abs(fromRates - tasks) < 1e-6);
        // The scrubber: nothing at 0, everything at the end.
        QCOMPARE(r.bucketsUpTo(0), 0);
        QCOMPARE(r.bucketsUpTo(duration), buckets);
        QCOMPARE(r.bucketsUpTo(duration - 1), buckets - 1);
    }

    void replaySeriesQueueDepth()
    {
        // 40 tasks of 10 ms on 2 workers, all submitted at 0: 4 buckets of 50 ms.
        TraceData t = syntheticTrace(40, 2, 10, 7'000 * kMs);
        ReplaySeries r = replaySeries(t);
        QVERIFY(!r.queueFromCounters);
        QCOMPARE(r.bucketCount(), 4);
        // At 50 ms: 12 started (0..50 ms on each worker), 10 ended.
        QCOMPARE(r.queued[0], 28.0);
        QCOMPARE(r.running[0], 2.0);
        QCOMPARE(r.queued[3], 0.0); // the end: all done
        QCOMPARE(r.running[3], 0.0);
        // With the trace's counter samples those are used instead (the last
        // sample at or before each bucket's end).
        t.counters = {TraceCounterSample{7'060 * kMs, 5, 2}, TraceCounterSample{7'020 * kMs, 9, 2},
                      TraceCounterSample{7'150 * kMs, 1, 1}};
        r = replaySeries(t);
        QVERIFY(r.queueFromCounters);
        QCOMPARE(r.queued[0], 9.0); // 50 ms: the 20 ms sample (samples sorted)
        QCOMPARE(r.queued[1], 5.0); // 100 ms: the 60 ms one
        QCOMPARE(r.queued[2], 1.0); // 150 ms: exactly then
        QCOMPARE(r.running[2], 1.0);
        t.counters = {TraceCounterSample{7'120 * kMs, 3, 1}};
        r = replaySeries(t);
        QVERIFY(std::isnan(r.queued[0])); // no sample yet: no point
        QCOMPARE(r.queued[3], 3.0);
    }

    void replaySeriesPerCore()
    {
        // One second from position 0 (all submitted at 0): 20 buckets of 50 ms.
        const qint64 t0 = 3'000 * kMs;
        TraceData t;
        t.originNs = t0;
        quint64 id = 0;
        auto add = [&](int core, qint64 fromMs, qint64 toMs) {
            TaskSpan s;
            s.taskId = ++id;
            s.enqueueNs = t0;
            s.startNs = t0 + fromMs * kMs;
            s.endNs = t0 + toMs * kMs;
            s.core = qint16(core);
            t.record->add(s);
        };
        add(0, 0, 1'000); // core 0 busy the whole time...
        add(0, 200, 700); // ...twice over here: still 100 %
        for (int b = 0; b < 20; ++b)
            add(2, b * 50, b * 50 + 25); // core 2: half of every bucket
        add(5, 10, 135);                 // core 5: 80 %, 100 %, 70 % of buckets 0-2
        add(-1, 0, 1'000);               // no core known: not charted
        // core 1 never used: absent
        const ReplaySeries r = replaySeries(t);
        QCOMPARE(r.durationNs, 1'000 * kMs);
        QCOMPARE(r.bucketCount(), 20);
        QCOMPARE(r.cores, (QList<int>{0, 2, 5}));
        QCOMPARE(r.busy.size(), std::size_t(3));
        for (int i = 0; i < 20; ++i) {
            QCOMPARE(r.busy[0][std::size_t(i)], 1.0);
            QCOMPARE(r.busy[1][std::size_t(i)], 0.5);
        }
        QCOMPARE(r.busy[2][0], 0.8);
        QCOMPARE(r.busy[2][1], 1.0);
        QCOMPARE(r.busy[2][2], 0.7);
        for (int i = 3; i < 20; ++i)
            QCOMPARE(r.busy[2][std::size_t(i)], 0.0);
        // A trace without core numbers has no per-core lines.
        const ReplaySeries none = replaySeries(syntheticTrace(4, 2, 10, t0));
        QVERIFY(none.cores.isEmpty());
        QVERIFY(none.busy.empty());
        // Nothing at all: no buckets.
        QCOMPARE(replaySeries(TraceData{}).bucketCount(), 0);
        QCOMPARE(ReplaySeries{}.bucketsUpTo(5), 0);
    }

    void replayChartsFollowTheScrubber()
    {
        ReplayController replay;
        ReplayCharts charts(&replay);
        ChartAdapter* rate = charts.throughputChart();
        ChartAdapter* cores = charts.coreChart();
        QCOMPARE(cores->lineCount(), 0); // nothing loaded
        QCOMPARE(rate->pointCount(ReplayCharts::RateLine), 0);

        // 40 tasks of 10 ms on 2 workers (cores 4 and 6): 4 buckets of 50 ms.
        TraceData t = syntheticTrace(40, 2, 10, 9'000 * kMs);
        {
            // Cores 4 and 6 by worker: rebuild the record with them.
            auto withCores = std::make_shared<RunRecord>();
            for (TaskSpan s : *t.record) {
                s.core = qint16(s.worker == 0 ? 4 : 6);
                withCores->add(s);
            }
            t.record = withCores;
        }
        replay.setTrace(t);
        QCOMPARE(charts.series().bucketCount(), 4);
        // Loaded at the end: the whole recording.
        QCOMPARE(charts.shownBuckets(), 4);
        QCOMPARE(rate->pointCount(ReplayCharts::RateLine), 4);
        QCOMPARE(rate->pointCount(ReplayCharts::QueuedLine), 4);
        // [150 ms, 200 ms]: the end of the recording is in the last bucket, so
        // 12 tasks (ends at 150 .. 200 ms on two workers) in 50 ms.
        QCOMPARE(rate->lastValue(ReplayCharts::RateLine), 240.0);
        QCOMPARE(cores->lineCount(), 2);
        QCOMPARE(cores->pointCount(0), 4);
        QCOMPARE(cores->lastValue(1), 100.0);
        // Scrubbed to the middle: the first half only.
        replay.setPosition(replay.durationNs() / 2);
        QCOMPARE(charts.shownBuckets(), 2);
        QCOMPARE(rate->pointCount(ReplayCharts::RateLine), 2);
        QCOMPARE(cores->pointCount(0), 2);
        QCOMPARE(cores->pointCount(1), 2);
        replay.setPosition(0);
        QCOMPARE(rate->pointCount(ReplayCharts::RateLine), 0);
        QCOMPARE(cores->pointCount(0), 0);
        // Played to the end: all of it again.
        replay.setSpeed(16);
        replay.play();
        QTRY_COMPARE_WITH_TIMEOUT(charts.shownBuckets(), 4, 30'000);
        QCOMPARE(cores->pointCount(1), 4);

        // A bad file keeps the charts of the recording loaded.
        QVERIFY(!replay.loadData("not a trace", QStringLiteral("bad.json")));
        QCOMPARE(charts.series().bucketCount(), 4);
        QCOMPARE(rate->pointCount(ReplayCharts::RateLine), 4);
        QCOMPARE(cores->lineCount(), 2);

        // Another recording replaces them: no core numbers, one bucket.
        replay.setTrace(syntheticTrace(3, 1, 10, 1'000 * kMs));
        QCOMPARE(charts.series().bucketCount(), 1);
        QCOMPARE(rate->pointCount(ReplayCharts::RateLine), 1);
        QCOMPARE(cores->lineCount(), 0);
        QVERIFY(!charts.findChild<QLabel*>(QStringLiteral("replayNoCores"))->isHidden());

        // Unloaded: empty.
        replay.unload();
        QCOMPARE(charts.shownBuckets(), -1);
        QCOMPARE(rate->pointCount(ReplayCharts::RateLine), 0);
        QCOMPARE(cores->lineCount(), 0);
    }

    // ------------------------------------------------------------ slow motion
    void slowMotionEveryWorkload_data()
    {
        QTest::addColumn<QString>("workload");
        for (const Workload& w : Workloads::all())
            QTest::newRow(qPrintable(w.name)) << w.name;
    }
    void slowMotionEveryWorkload()
    {
        QFETCH(QString, workload);
        const Workload* w = Workloads::find(workload);
        const WorkloadRun run = w->defaultRun();
        const SlowMotionResult same = SlowMotion::apply(workload, run, 1);
        QCOMPARE(same.run.size, run.size);
        QCOMPARE(same.run.knobs, run.knobs);
        QCOMPARE(same.appliedFactor, 1.0);
        for (int factor : SlowMotion::factors()) {
            const SlowMotionResult r = SlowMotion::apply(workload, run, factor);
            QCOMPARE(Workloads::validate(workload, r.run), QString()); // limits respected
            QCOMPARE(r.run.tasks, run.tasks);                          // same batch
            QVERIFY(r.appliedFactor <= factor * 1.02);
            if (factor > 1) {
                QVERIFY2(r.appliedFactor > 1.5, qPrintable(r.description)); // slower
                QVERIFY(r.capped == (r.appliedFactor < factor * 0.98));
            }
        }
        QVERIFY(SlowMotion::howItSlows(workload).startsWith(workload));
    }

    void slowMotionRules_data()
    {
        QTest::addColumn<QString>("workload");
        QTest::addColumn<qint64>("size");
        QTest::addColumn<int>("factor");
        QTest::addColumn<qint64>("expectedSize");
        QTest::addColumn<bool>("capped");
        QTest::newRow("sleep x10")
            << QStringLiteral("sleep") << qint64(100) << 10 << qint64(1000) << false;
        QTest::newRow("primes x50")
            << QStringLiteral("primes") << qint64(300'000) << 50 << qint64(15'000'000) << false;
        QTest::newRow("matmul x8: n x 2")
            << QStringLiteral("matmul") << qint64(100) << 8 << qint64(200) << false;
        QTest::newRow("matmul x10 capped at 1024")
            << QStringLiteral("matmul") << qint64(768) << 10 << qint64(1024) << true;
        QTest::newRow("sleep capped at 1 h")
            << QStringLiteral("sleep") << qint64(3'000'000) << 2 << qint64(3'600'000) << true;
    }
    void slowMotionRules()
    {
        QFETCH(QString, workload);
        QFETCH(qint64, size);
        QFETCH(int, factor);
        QFETCH(qint64, expectedSize);
        QFETCH(bool, capped);
        WorkloadRun run = Workloads::find(workload)->defaultRun();
        run.size = size;
        const SlowMotionResult r = SlowMotion::apply(workload, run, factor);
        QCOMPARE(r.run.size, expectedSize);
        QCOMPARE(r.capped, capped);
    }

    void slowMotionKnobs()
    {
        WorkloadRun run = Workloads::find(QStringLiteral("cpu_then_wait"))->defaultRun();
        const SlowMotionResult r = SlowMotion::apply(QStringLiteral("cpu_then_wait"), run, 5);
        QCOMPARE(r.run.size, run.size * 5);
        QCOMPARE(r.run.knobs.value(QStringLiteral("wait_ms")), 60 * 5);
        const WorkloadRun m = Workloads::find(QStringLiteral("mandelbrot"))->defaultRun();
        const SlowMotionResult mr = SlowMotion::apply(QStringLiteral("mandelbrot"), m, 4);
        QCOMPARE(mr.run.size, m.size * 2); // rows x 2, width x 2: the shape stays
        QCOMPARE(mr.run.knobs.value(QStringLiteral("width")), m.knobs.value("width") * 2);
        QCOMPARE(mr.appliedFactor, 4.0);
    }

    void slowMotionBarStep()
    {
        SlowMotionBar bar;
        QSignalSpy step(&bar, &SlowMotionBar::stepRequested);
        QSignalSpy factor(&bar, &SlowMotionBar::factorChanged);
        QPushButton* b = button(bar, "stepButton");
        QVERIFY(!b->isEnabled()); // only while paused
        QTest::mouseClick(b, Qt::LeftButton);
        QCOMPARE(step.size(), 0);
        bar.setPaused(true);
        QVERIFY(b->isEnabled());
        QTest::mouseClick(b, Qt::LeftButton);
        QTest::mouseClick(b, Qt::LeftButton);
        QCOMPARE(step.size(), 2);
        bar.setPaused(false);
        QVERIFY(!b->isEnabled());
        bar.setFactor(10);
        QCOMPARE(bar.factor(), 10);
        QCOMPARE(factor.size(), 1);
        QCOMPARE(factor.at(0).at(0).toInt(), 10);
    }

    // ---------------------------------------------------------- presenter mode
    void presenterMode()
    {
        QWidget window;
        auto* layout = new QVBoxLayout(&window);
        auto* plain = new QLabel(QStringLiteral("inherits"), &window);
        auto* heading = new QLabel(QStringLiteral("own font"), &window);
        QFont hf = heading->font();
        hf.setBold(true);
        hf.setPointSizeF(hf.pointSizeF() * 1.3);
        heading->setFont(hf);
        auto* advanced = new QPushButton(QStringLiteral("advanced"), &window);
        advanced->setProperty("advanced", true);
        auto* hiddenAdvanced = new QPushButton(QStringLiteral("hidden already"), &window);
        hiddenAdvanced->setProperty("advanced", true);
        hiddenAdvanced->hide();
        for (QWidget* w : {static_cast<QWidget*>(plain), static_cast<QWidget*>(heading),
                           static_cast<QWidget*>(advanced), static_cast<QWidget*>(hiddenAdvanced)})
            layout->addWidget(w);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        const double plainSize = plain->font().pointSizeF();
        const double headingSize = heading->font().pointSizeF();
        const QColor windowColor = window.palette().color(QPalette::Window);
        QVERIFY(plainSize > 0);
        QVERIFY(advanced->isVisible());

        applyPresenterMode(&window, true);
        QVERIFY(isPresenterMode(&window));
        QCOMPARE(plain->font().pointSizeF(), plainSize * kPresenterFontScale);
        QCOMPARE(heading->font().pointSizeF(), headingSize * kPresenterFontScale);
        QVERIFY(heading->font().bold());
        QVERIFY(!advanced->isVisible());
        QVERIFY(hiddenAdvanced->isHidden());
        QCOMPARE(window.palette().color(QPalette::Window), QColor(Qt::black));
        QCOMPARE(plain->palette().color(QPalette::WindowText), QColor(Qt::white));
        QVERIFY(plain->property("presenter").toBool());

        applyPresenterMode(&window, true); // idempotent: no double scaling
        QCOMPARE(plain->font().pointSizeF(), plainSize * kPresenterFontScale);

        applyPresenterMode(&window, false);
        QVERIFY(!isPresenterMode(&window));
        QCOMPARE(plain->font().pointSizeF(), plainSize);
        QCOMPARE(heading->font().pointSizeF(), headingSize);
        QVERIFY(heading->font().bold());
        QVERIFY(advanced->isVisible());
        QVERIFY(hiddenAdvanced->isHidden()); // was hidden before: stays hidden
        QCOMPARE(window.palette().color(QPalette::Window), windowColor);
        QVERIFY(!plain->property("presenter").toBool());
        QCOMPARE(presenterShortcut(), QKeySequence(QStringLiteral("Ctrl+Shift+P")));
    }

    // ------------------------------------------- decomposition, hints, A/B
    void decompositionBar()
    {
        DecompositionBar bar;
        TimeDecomposition d;
        d.queuedNs = 100 * kMs;
        d.cpuNs = 500 * kMs;
        d.waitingNs = 300 * kMs;
        d.gilWaitNs = 100 * kMs;
        d.tasks = 4;
        bar.setDecomposition(d);
        double sum = 0;
        QStringList names;
        for (const auto& s : bar.segments()) {
            sum += s.fraction;
            names << s.name;
        }
        QCOMPARE(sum, 1.0);
        QCOMPARE(names, (QStringList{"queued", "GIL wait", "CPU", "waiting", "not measured"}));
        QCOMPARE(bar.segments().at(2).fraction, 0.5);
        QVERIFY2(bar.legendText().contains(QStringLiteral("CPU 50%")),
                 qPrintable(bar.legendText()));
        QVERIFY(!bar.legendText().contains(QStringLiteral("not measured"))); // zero parts omitted
        bar.resize(400, 60);
        QVERIFY(!bar.grab().isNull()); // paints without data issues
        bar.clear();
        QCOMPARE(bar.decomposition().totalNs(), 0);
    }

    void decompositionBarWorkerTime()
    {
        DecompositionBar bar;
        TimeDecomposition d;
        d.tasks = 4;
        d.queuedNs = 800 * kMs; // not worker time
        d.cpuNs = 100 * kMs;
        d.waitingNs = 20 * kMs;
        d.overheadNs = 60 * kMs;
        d.idleNs = 20 * kMs;
        d.workers = 2;
        bar.setDecomposition(d);
        QCOMPARE(bar.shownView(), DecompositionBar::View::WorkerTime);
        QStringList names;
        double sum = 0;
        for (const auto& s : bar.segments()) {
            names << s.name;
            sum += s.fraction;
        }
        QCOMPARE(names,
                 (QStringList{"CPU", "GIL wait", "waiting", "not measured", "overhead", "idle"}));
        QCOMPARE(sum, 1.0);
        QCOMPARE(bar.segments().at(4).fraction, 0.3); // 60 of 200 ms of worker time
        QVERIFY2(bar.legendText().contains(QStringLiteral("overhead 30%")),
                 qPrintable(bar.legendText()));
        QVERIFY(!bar.legendText().contains(QStringLiteral("queued")));
        QVERIFY2(bar.queueText().contains(QStringLiteral("800")), qPrintable(bar.queueText()));
        QVERIFY(bar.toolTip().contains(QStringLiteral("2 worker(s)")));
        // the task view: queue first, no overhead
        bar.setView(DecompositionBar::View::TaskTime);
        QCOMPARE(bar.segments().first().name, QStringLiteral("queued"));
        QVERIFY(bar.queueText().isEmpty());
        // without worker time (a sample, a trace without workers) the task
        // view is shown whatever was asked
        bar.setView(DecompositionBar::View::WorkerTime);
        d.overheadNs = d.idleNs = -1;
        bar.setDecomposition(d);
        QCOMPARE(bar.shownView(), DecompositionBar::View::TaskTime);
        QCOMPARE(bar.segments().first().name, QStringLiteral("queued"));

        // the panel's switch and its queue line
        AnalysisPanel panel;
        d.overheadNs = 60 * kMs;
        d.idleNs = 20 * kMs;
        panel.setResults(d, {});
        auto* queue = panel.findChild<QLabel*>(QStringLiteral("decompositionQueue"));
        auto* taskView = panel.findChild<QCheckBox*>(QStringLiteral("decompositionTaskView"));
        QVERIFY(queue && taskView);
        QVERIFY(!queue->isHidden());
        QVERIFY(queue->text().contains(QStringLiteral("queue")));
        taskView->setChecked(true);
        QCOMPARE(panel.bar()->shownView(), DecompositionBar::View::TaskTime);
        QVERIFY(queue->isHidden());
        // a busy machine is said over the hints, and cleared with them
        auto* busy = panel.findChild<QLabel*>(QStringLiteral("busyLabel"));
        QVERIFY(busy && busy->isHidden());
        panel.setBusyText(LoadMeter::busyText(1.25));
        QVERIFY(!busy->isHidden());
        QVERIFY2(panel.busyText().contains(QStringLiteral("The machine was busy: other programs "
                                                          "used 1.25 cores during this run")),
                 qPrintable(panel.busyText()));
        panel.clear();
        QVERIFY(busy->isHidden());
    }

    void analysisPanel()
    {
        AnalysisPanel panel;
        std::vector<TaskSpan> spans;
        for (int w = 0; w < 4; ++w)
            spans.push_back(
                span(quint64(w + 1), w, 1'000 * kMs, 5'000 * kMs, 1'000 * kMs, 3'000 * kMs));
        RunContext ctx;
        ctx.workers = 4;
        ctx.cores = 2;
        ctx.gil = true;
        panel.analyse(spans, ctx);
        QCOMPARE(panel.hints().size(), 1);
        QCOMPARE(panel.hints().first().id, QString::fromLatin1(kHintGilBound));
        QVERIFY(panel.hintsText().contains(QStringLiteral("waiting for the GIL")));
        QCOMPARE(panel.bar()->decomposition(), decompose(spans));
        panel.clear();
        QVERIFY(panel.hints().isEmpty());
    }

    void abCompareSharesTheTimeAxis()
    {
        ABCompare ab;
        ab.resize(900, 700);
        ab.show();
        QVERIFY(QTest::qWaitForWindowExposed(&ab));
        // A: 8 tasks of 100 ms on 1 worker (0.8 s); B: on 4 workers (0.2 s),
        // recorded at a different time.
        ab.setRun(ABCompare::Slot::A, syntheticTrace(8, 1, 100, 50'000 * kMs),
                  QStringLiteral("1 worker"));
        QVERIFY(ab.comparisonText().isEmpty());
        ab.setRun(ABCompare::Slot::B, syntheticTrace(8, 4, 100, 90'000 * kMs),
                  QStringLiteral("4 workers"));
        QCOMPARE(ab.numbers(ABCompare::Slot::A).wallNs, 800 * kMs);
        QCOMPARE(ab.numbers(ABCompare::Slot::B).wallNs, 200 * kMs);
        QVERIFY2(ab.comparisonText().contains(QStringLiteral("4.00x faster")),
                 qPrintable(ab.comparisonText()));
        QVERIFY(ab.summaryText(ABCompare::Slot::B).contains(QStringLiteral("8 tasks")));
        QVERIFY(ab.summaryText(ABCompare::Slot::A).contains(QStringLiteral("CPU/wall 0.50")));
        TimelineWidget* a = ab.timeline(ABCompare::Slot::A);
        TimelineWidget* b = ab.timeline(ABCompare::Slot::B);
        // finished runs: no "live / paused view" badge
        QVERIFY(!a->liveBadgeVisible());
        QVERIFY(!b->liveBadgeVisible());
        QCOMPARE(a->laneCount(), 1);
        QCOMPARE(b->laneCount(), 4);
        // A worker that ran nothing in the run (retired by a resize) gets no lane.
        TraceData shrunk = syntheticTrace(8, 1, 100, 50'000 * kMs);
        shrunk.workers.append(TraceWorker{7, QStringLiteral("w7"), 0, 0});
        ab.setRun(ABCompare::Slot::A, shrunk, QStringLiteral("1 worker"));
        QCOMPARE(a->laneCount(), 1);
        // one scale for both, each starting at its own run's start
        QCOMPARE(a->nsPerPixel(), b->nsPerPixel());
        QCOMPARE(a->viewStartNs() - 50'000.0 * kMs, b->viewStartNs() - 90'000.0 * kMs);
        // zoom / pan one: the other follows
        a->zoomBy(2.0, a->plotRect().center().x());
        QCOMPARE(b->nsPerPixel(), a->nsPerPixel());
        QCOMPARE(a->viewStartNs() - 50'000.0 * kMs, b->viewStartNs() - 90'000.0 * kMs);
        b->panBy(37);
        QCOMPARE(a->viewStartNs() - 50'000.0 * kMs, b->viewStartNs() - 90'000.0 * kMs);
        ab.clearRun(ABCompare::Slot::A);
        QVERIFY(!ab.hasRun(ABCompare::Slot::A));
        QVERIFY(ab.comparisonText().isEmpty());
    }

    void abCompareSaysWhenTasksSlowEachOther_data()
    {
        QTest::addColumn<int>("aTasks");
        QTest::addColumn<int>("aMs");
        QTest::addColumn<int>("bTasks");
        QTest::addColumn<int>("bMs");
        QTest::addColumn<QString>("expected"); // empty: nothing said
        QTest::newRow("same task time") << 8 << 100 << 8 << 100 << QString();
        QTest::newRow("within 5 %") << 8 << 100 << 8 << 104 << QString();
        QTest::newRow("B's tasks slower")
            << 8 << 100 << 8 << 117
            << QStringLiteral("each of B's tasks took 1.17x as long as A's");
        QTest::newRow("A's tasks slower")
            << 8 << 150 << 8 << 100
            << QStringLiteral("each of A's tasks took 1.50x as long as B's");
        QTest::newRow("other tasks (chunks)") << 8 << 100 << 4 << 200 << QString();
    }

    void abCompareSaysWhenTasksSlowEachOther()
    {
        QFETCH(int, aTasks);
        QFETCH(int, aMs);
        QFETCH(int, bTasks);
        QFETCH(int, bMs);
        QFETCH(QString, expected);
        ABCompare ab;
        ab.setRun(ABCompare::Slot::A, syntheticTrace(aTasks, 1, aMs, 1'000 * kMs),
                  QStringLiteral("1 worker"));
        ab.setRun(ABCompare::Slot::B, syntheticTrace(bTasks, 2, bMs, 9'000 * kMs),
                  QStringLiteral("2 workers"));
        const QString cmp = ab.comparisonText();
        QVERIFY2(cmp.contains(QStringLiteral("faster")), qPrintable(cmp));
        if (expected.isEmpty()) {
            QVERIFY2(!cmp.contains(QStringLiteral("as long as")), qPrintable(cmp));
        } else {
            QVERIFY2(cmp.contains(expected), qPrintable(cmp));
            QVERIFY2(cmp.contains(QStringLiteral("slow each other")), qPrintable(cmp));
        }
    }

    void abCompareShowsTheMedianOfRepeats()
    {
        ABCompare ab;
        // A: 0.8, 1.0, 0.9 s; B: 0.2, 0.3, 0.25 s (tasks of 100/125/... ms)
        ab.addRun(ABCompare::Slot::A, syntheticTrace(8, 1, 100, 1'000 * kMs), QStringLiteral("A"),
                  0.0);
        ab.addRun(ABCompare::Slot::B, syntheticTrace(8, 4, 100, 2'000 * kMs), QStringLiteral("B"),
                  0.01);
        ab.addRun(ABCompare::Slot::A, syntheticTrace(8, 1, 125, 3'000 * kMs), QStringLiteral("A"),
                  0.0);
        ab.addRun(ABCompare::Slot::B, syntheticTrace(8, 4, 150, 4'000 * kMs), QStringLiteral("B"),
                  0.9);
        ab.addRun(ABCompare::Slot::A, syntheticTrace(8, 1, 112, 5'000 * kMs), QStringLiteral("A"),
                  0.0);
        ab.addRun(ABCompare::Slot::B, syntheticTrace(8, 4, 125, 6'000 * kMs), QStringLiteral("B"),
                  0.0);
        QCOMPARE(ab.runCount(ABCompare::Slot::A), 3);
        QCOMPARE(ab.walls(ABCompare::Slot::A), (QList<qint64>{800 * kMs, 1000 * kMs, 896 * kMs}));
        QCOMPARE(ab.medianWallNs(ABCompare::Slot::A), 896 * kMs);
        QCOMPARE(ab.medianWallNs(ABCompare::Slot::B), 250 * kMs);
        // the run shown is the median one
        QCOMPARE(ab.numbers(ABCompare::Slot::A).wallNs, 896 * kMs);
        const QString a = ab.summaryText(ABCompare::Slot::A);
        QVERIFY2(a.contains(QStringLiteral("median of 3 runs")), qPrintable(a));
        QVERIFY(!a.contains(QStringLiteral("busy")));
        const QString b = ab.summaryText(ABCompare::Slot::B);
        QVERIFY2(b.contains(QStringLiteral("busy during 1 of 3 runs")), qPrintable(b));
        QVERIFY2(b.contains(QStringLiteral("0.90 cores")), qPrintable(b));
        const QString cmp = ab.comparisonText();
        // 896 / 250 = 3.58x; range 800/300 = 2.67x to 1000/200 = 5.00x
        QVERIFY2(cmp.contains(QStringLiteral("3.58x faster")), qPrintable(cmp));
        QVERIFY2(cmp.contains(QStringLiteral("ratio 2.67x - 5.00x")), qPrintable(cmp));
        // setRun starts over with one run
        ab.setRun(ABCompare::Slot::A, syntheticTrace(8, 1, 100, 1'000 * kMs), QStringLiteral("A"));
        QCOMPARE(ab.runCount(ABCompare::Slot::A), 1);
        QVERIFY(!ab.summaryText(ABCompare::Slot::A).contains(QStringLiteral("median")));
        ab.clearRun(ABCompare::Slot::B);
        QCOMPARE(ab.runCount(ABCompare::Slot::B), 0);
    }
};

QTEST_MAIN(TstTeaching)
#include "tst_teaching.moc"
