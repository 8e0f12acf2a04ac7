// poolscope-cli driven as a real process: exit codes, JSON summary, exports,
// and the bad-input table (docs/reliability.md lists the same rows).
#include <poolscope/traceexport.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>

#include <QTemporaryDir>
#include <QtTest>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <sys/stat.h>
#include <sys/types.h>

class TstCli : public QObject {
    Q_OBJECT
    struct Result {
        int code = -1;
        QByteArray out, err;
    };
    Result run(const QStringList& args, int timeoutMs = 120000,
               const QProcessEnvironment& env = QProcessEnvironment::systemEnvironment())
    {
        QProcess p;
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(POOLSCOPE_CLI), args);
        if (!p.waitForFinished(timeoutMs)) {
            p.kill();
            p.waitForFinished();
            return {};
        }
        return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2,
                p.readAllStandardOutput(), p.readAllStandardError()};
    }
    static QStringList args(std::initializer_list<const char*> list)
    {
        QStringList a;
        for (const char* e : list)
            a << QString::fromUtf8(e);
        return a;
    }

    // Paths that cannot be written even by root (the tests run as root, so
    // permission bits prove nothing): a folder, a path below a regular file,
    // a FIFO (the export would replace it).
    QTemporaryDir m_tmp;
    QString aFolder() const { return m_tmp.filePath(QStringLiteral("a-folder")); }
    QString aFile() const { return m_tmp.filePath(QStringLiteral("a-file")); }
    QString aFifo() const { return m_tmp.filePath(QStringLiteral("a-fifo")); }

private slots:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        QVERIFY(QDir().mkpath(aFolder()));
        QFile f(aFile());
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("keep me\n");
        f.close();
        QCOMPARE(::mkfifo(QFile::encodeName(aFifo()).constData(), 0600), 0);
    }

    void help()
    {
        // The exit codes, Ctrl-C's included, are documented where users look.
        const auto r = run({QStringLiteral("--help")});
        QCOMPARE(r.code, 0);
        for (const char* s :
             {"Exit codes:", "  0    every task succeeded", "  1    some tasks failed",
              "  2    bad usage", "  130  stopped by Ctrl-C", "  143  stopped by SIGTERM"})
            QVERIFY2(r.out.contains(s), s);
    }

    void list()
    {
        const auto r = run({QStringLiteral("list")});
        QCOMPARE(r.code, 0);
        const auto j = run({QStringLiteral("list"), QStringLiteral("--json")});
        QCOMPARE(j.code, 0);
        const QJsonArray all = QJsonDocument::fromJson(j.out).array();
        QVERIFY(all.size() >= 16);
        QStringList names;
        for (const auto& v : all)
            names << v.toObject().value(QStringLiteral("name")).toString();
        for (const char* w : {"primes", "mandelbrot", "sleep", "crash", "pipeline"})
            QVERIFY2(names.contains(QLatin1String(w)), w);
        // The text listing gives every workload its description and its
        // parameters by name (with defaults and limits), not just its name.
        const QString text = QString::fromUtf8(r.out);
        int knobsSeen = 0;
        for (const auto& v : all) {
            const QJsonObject w = v.toObject();
            const QString name = w.value(QStringLiteral("name")).toString();
            const int at = text.indexOf(
                QRegularExpression(QStringLiteral("^%1  \\[").arg(QRegularExpression::escape(name)),
                                   QRegularExpression::MultilineOption));
            QVERIFY2(at >= 0, qPrintable(name));
            int end = text.indexOf(
                QRegularExpression(QStringLiteral("^\\S"), QRegularExpression::MultilineOption),
                at + 1);
            if (end < 0)
                end = text.size();
            const QString block = text.mid(at, end - at);
            const QString desc = w.value(QStringLiteral("description")).toString();
            QVERIFY(!desc.isEmpty());
            QVERIFY2(block.contains(QStringLiteral("\n    ") + desc + QLatin1Char('\n')),
                     qPrintable(block));
            QVERIFY2(block.contains(QStringLiteral("--tasks %1 (1..%2)")
                                        .arg(w.value(QStringLiteral("default_tasks")).toInt())
                                        .arg(w.value(QStringLiteral("max_tasks")).toInt())),
                     qPrintable(block));
            QVERIFY2(block.contains(QStringLiteral("--size %1 %2")
                                        .arg(w.value(QStringLiteral("default_size")).toInteger())
                                        .arg(w.value(QStringLiteral("size_unit")).toString())),
                     qPrintable(block));
            for (const auto& k : w.value(QStringLiteral("knobs")).toArray()) {
                const QJsonObject knob = k.toObject();
                const QString line = QStringLiteral("--knob %1=%2 ")
                                         .arg(knob.value(QStringLiteral("name")).toString())
                                         .arg(knob.value(QStringLiteral("default")).toInteger());
                QVERIFY2(block.contains(line), qPrintable(name + QLatin1String(": ") + line));
                QVERIFY2(block.contains(knob.value(QStringLiteral("description")).toString()),
                         qPrintable(line));
                ++knobsSeen;
            }
        }
        QVERIFY(knobsSeen > 0);
    }

    void runJson_data()
    {
        QTest::addColumn<QString>("pool");
        QTest::addColumn<QStringList>("extra");
        QTest::newRow("threads") << "thread" << QStringList{};
        QTest::newRow("threads+gil") << "thread" << QStringList{QStringLiteral("--gil")};
        QTest::newRow("processes") << "process" << QStringList{};
        QTest::newRow("chunked") << "thread"
                                 << QStringList{QStringLiteral("--chunk"), QStringLiteral("3")};
    }
    void runJson()
    {
        QFETCH(QString, pool);
        QFETCH(QStringList, extra);
        QTemporaryDir dir;
        const QString trace = dir.filePath(QStringLiteral("t.json"));
        const QString csv = dir.filePath(QStringLiteral("t.csv"));
        QStringList args{QStringLiteral("run"),
                         QStringLiteral("--workload"),
                         QStringLiteral("primes"),
                         QStringLiteral("--tasks"),
                         QStringLiteral("8"),
                         QStringLiteral("--size"),
                         QStringLiteral("20000"),
                         QStringLiteral("--pool"),
                         pool,
                         QStringLiteral("--workers"),
                         QStringLiteral("2"),
                         QStringLiteral("--json"),
                         QStringLiteral("--trace"),
                         trace,
                         QStringLiteral("--csv"),
                         csv};
        args += extra;
        const auto r = run(args);
        QCOMPARE(r.code, 0);
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        for (const char* k : {"wall_s", "tasks", "done", "failed", "cancelled", "tasks_per_s",
                              "pool", "workers", "gil"})
            QVERIFY2(o.contains(QLatin1String(k)), k);
        QCOMPARE(o.value(QStringLiteral("tasks")).toInt(), 8);
        QCOMPARE(o.value(QStringLiteral("done")).toInt(), 8);
        QCOMPARE(o.value(QStringLiteral("pool")).toString(), pool);
        QCOMPARE(o.value(QStringLiteral("workers")).toInt(), 2);
        QCOMPARE(o.value(QStringLiteral("gil")).toBool(), extra.contains(QStringLiteral("--gil")));
        QFile tf(trace);
        QVERIFY(tf.open(QIODevice::ReadOnly));
        QString err;
        const auto td = poolscope::readChromeTrace(tf.readAll(), &err);
        QVERIFY2(td.has_value(), qPrintable(err));
        // Every task, chunked ones as one task per chunk.
        const int tasks = extra.contains(QStringLiteral("--chunk")) ? 3 : 8;
        QCOMPARE(td->size(), quint64(tasks));
        QCOMPARE(o.value(QStringLiteral("recorded")).toInt(), tasks);
        QCOMPARE(o.value(QStringLiteral("sampled_1_in")).toInt(), 1);
        QFile cf(csv);
        QVERIFY(cf.open(QIODevice::ReadOnly));
        QVERIFY(cf.readLine().startsWith("id,task"));
    }

    void runText_data()
    {
        QTest::addColumn<bool>("gil");
        QTest::newRow("threads") << false;
        QTest::newRow("threads+gil") << true;
    }
    void runText()
    {
        // The plain-text summary has every field the issue names; GIL wait
        // only when the GIL is on.
        QFETCH(bool, gil);
        QStringList a = args({"run", "--workload", "primes", "--tasks", "4", "--size", "20000",
                              "--workers", "2", "--quiet"});
        if (gil)
            a << QStringLiteral("--gil");
        const auto r = run(a);
        QCOMPARE(r.code, 0);
        const QString text = QString::fromUtf8(r.out);
        const QString num = QStringLiteral("[0-9]+\\.[0-9]+");
        const QStringList lines{
            QStringLiteral("workload +primes"),
            QStringLiteral("pool +thread, 2 worker\\(s\\)")
                + (gil ? QStringLiteral(", simulated GIL \\(switch interval 5 ms\\)") : QString()),
            QStringLiteral("wall time +%1 s").arg(num),
            QStringLiteral("tasks +4: 4 done, 0 failed, 0 cancelled"),
            QStringLiteral("throughput +%1 tasks/s").arg(num),
            QStringLiteral("queue wait +%1 ms mean").arg(num),
            QStringLiteral("run time +%1 ms mean").arg(num),
            QStringLiteral("CPU / wall +%1 \\(%1 s CPU\\)").arg(num),
        };
        for (const QString& l : lines)
            QVERIFY2(QRegularExpression(QLatin1Char('^') + l + QLatin1Char('$'),
                                        QRegularExpression::MultilineOption)
                         .match(text)
                         .hasMatch(),
                     qPrintable(l + QLatin1String(" in:\n") + text));
        const bool hasGilLine =
            QRegularExpression(QStringLiteral("^GIL wait +%1 ms total$").arg(num),
                               QRegularExpression::MultilineOption)
                .match(text)
                .hasMatch();
        QCOMPARE(hasGilLine, gil);
    }

    void switchIntervalIsReported()
    {
        const auto r =
            run(args({"run", "--workload", "primes", "--tasks", "2", "--size", "20000", "--workers",
                      "2", "--gil", "--switch-interval", "20", "--json", "--quiet"}));
        QCOMPARE(r.code, 0);
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o.value(QStringLiteral("gil")).toBool(), true);
        QCOMPARE(o.value(QStringLiteral("switch_interval_ms")).toInt(), 20);
        // and the default when not given
        const auto d = run(args({"run", "--workload", "primes", "--tasks", "2", "--size", "20000",
                                 "--gil", "--json", "--quiet"}));
        QCOMPARE(d.code, 0);
        QCOMPARE(QJsonDocument::fromJson(d.out)
                     .object()
                     .value(QStringLiteral("switch_interval_ms"))
                     .toInt(),
                 5);
    }

    // The wall time is the run's (first submit to last end), not the next
    // 100 ms progress tick after it: two 30 ms sleeps on two workers took
    // >= 100 ms when the tick decided.
    void wallTimeIsTheRunsNotTheProgressTicks_data()
    {
        QTest::addColumn<QString>("pool");
        QTest::newRow("thread") << QStringLiteral("thread");
        QTest::newRow("process") << QStringLiteral("process");
    }
    void wallTimeIsTheRunsNotTheProgressTicks()
    {
        QFETCH(QString, pool);
        const auto r = run(QStringList{
            QStringLiteral("run"), QStringLiteral("--workload"), QStringLiteral("sleep"),
            QStringLiteral("--tasks"), QStringLiteral("2"), QStringLiteral("--size"),
            QStringLiteral("30"), QStringLiteral("--workers"), QStringLiteral("2"),
            QStringLiteral("--pool"), pool, QStringLiteral("--json"), QStringLiteral("--quiet")});
        QCOMPARE(r.code, 0);
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        const double wall = o.value(QStringLiteral("wall_s")).toDouble();
        // Both tasks start at once: the run is one queue wait and one run.
        const double waitAndRun = (o.value(QStringLiteral("mean_queue_wait_ms")).toDouble()
                                   + o.value(QStringLiteral("mean_run_ms")).toDouble())
                                  / 1000.0;
        QVERIFY2(
            wall >= 0.030 && std::abs(wall - waitAndRun) < 0.030,
            qPrintable(QStringLiteral("wall %1 s, wait + run %2 s").arg(wall).arg(waitAndRun)));
        if (pool == QLatin1String("thread")) // no workers to start: well under one tick
            QVERIFY2(wall < 0.095, QByteArray::number(wall));
        // Process workers start before the clock, and the summary says how long that took.
        QCOMPARE(o.contains(QStringLiteral("pool_start_s")), pool == QLatin1String("process"));
        if (pool == QLatin1String("process"))
            QVERIFY(o.value(QStringLiteral("pool_start_s")).toDouble() > 0);
    }

    // Another program taking a core during the run is measured and said.
    void busyMachineIsSaid()
    {
        QProcess spinner; // one core kept busy by someone else
        spinner.start(QStringLiteral("/bin/sh"),
                      {QStringLiteral("-c"), QStringLiteral("while :; do :; done")});
        QVERIFY(spinner.waitForStarted());
        const auto r = run(args(
            {"run", "--workload", "sleep", "--tasks", "4", "--size", "200", "--workers", "1"}));
        spinner.kill();
        spinner.waitForFinished();
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("machine busy   other programs used "), r.out.constData());
        const auto j = run(args({"run", "--workload", "sleep", "--tasks", "2", "--size", "20",
                                 "--workers", "2", "--json", "--quiet"}));
        QCOMPARE(j.code, 0);
        const QJsonValue other =
            QJsonDocument::fromJson(j.out).object().value(QStringLiteral("other_cores"));
        QVERIFY(other.isDouble());
        QVERIFY(other.toDouble() >= 0.0);
    }

    void timeoutFailsTheTask_data()
    {
        QTest::addColumn<QString>("pool");
        QTest::newRow("threads") << "thread";
        QTest::newRow("processes") << "process";
    }
    void timeoutFailsTheTask()
    {
        // Tasks of 5 s with a 0.2 s timeout: each fails with a timeout error
        // long before it would have finished, and the run exits 1. The
        // failure line names the item (0-based, the workload's index) and the
        // pool's task id, and that id is the one the error text names.
        QFETCH(QString, pool);
        QElapsedTimer t;
        t.start();
        const auto r =
            run(args({"run", "--workload", "sleep", "--tasks", "2", "--size", "5000", "--workers",
                      "2", "--timeout", "0.2", "--json", "--quiet", "--pool"})
                << pool);
        QCOMPARE(r.code, 1);
        QVERIFY2(t.elapsed() < 4500, "the timeout did not cut the tasks short");
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o.value(QStringLiteral("failed")).toInt(), 2);
        QCOMPARE(o.value(QStringLiteral("done")).toInt(), 0);
        const QJsonArray failures = o.value(QStringLiteral("failures")).toArray();
        QCOMPARE(failures.size(), 2);
        const QRegularExpression re(
            QStringLiteral("^item ([0-9]+) \\(task ([0-9]+)\\): poolscope::TimeoutError: task \\2 "
                           "(?:'sleep' )?exceeded its timeout of 200 ms"));
        QSet<int> items;
        for (const auto& f : failures) {
            const auto m = re.match(f.toString());
            QVERIFY2(m.hasMatch(), qPrintable(f.toString()));
            items.insert(m.captured(1).toInt());
        }
        QCOMPARE(items, (QSet<int>{0, 1}));
    }

    void chunkFailureNamesItsItems()
    {
        // A chunk is one pool task carrying several items: the line gives
        // the item range and the one task id.
        const auto r = run(args({"run", "--workload", "throws", "--tasks", "6", "--size", "1000",
                                 "--chunk", "3", "--json", "--quiet"}));
        QCOMPARE(r.code, 1);
        const QJsonArray failures =
            QJsonDocument::fromJson(r.out).object().value(QStringLiteral("failures")).toArray();
        QCOMPARE(failures.size(), 1); // item 4 throws: the chunk of items 3..5 fails
        const QString f = failures.first().toString();
        QVERIFY2(QRegularExpression(QStringLiteral("^items 3\\.\\.5 \\(task [0-9]+\\): "))
                     .match(f)
                     .hasMatch(),
                 qPrintable(f));
    }

    void drivenFailureHasNoTaskId()
    {
        // The pipeline's futures are promises fed by two stages, not pool
        // tasks: their line names the item only (no made-up "task 0"), and
        // the error names the stage.
        const auto r = run(args({"run", "--workload", "pipeline", "--tasks", "6", "--knob",
                                 "fail_every=3", "--json", "--quiet"}));
        QCOMPARE(r.code, 1);
        const QJsonArray failures =
            QJsonDocument::fromJson(r.out).object().value(QStringLiteral("failures")).toArray();
        QCOMPARE(failures.size(), 2);
        QCOMPARE(failures.at(0).toString().left(8), QStringLiteral("item 2: "));
        QCOMPARE(failures.at(1).toString().left(8), QStringLiteral("item 5: "));
    }

    void notAWorkerEndsTheRun()
    {
        // Issue #17: POOLSCOPE_WORKER set to a program that echoes its input
        // replaced its workers for ever (thousands of "malformed frame"
        // lines) and the run never ended. Now the pool breaks after three
        // workers in a row die before they are ready, and the run fails.
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("echo.sh"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("#!/bin/sh\nexec cat\n");
        f.close();
        QVERIFY(f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("POOLSCOPE_WORKER"), path);
        const auto r = run(args({"run", "--workload", "primes", "--tasks", "4", "--pool", "process",
                                 "--workers", "2", "--timeout", "2", "--quiet"}),
                           60000, env);
        const QString err = QString::fromUtf8(r.err);
        QCOMPARE(r.code, 1);
        QVERIFY2(err.contains(QStringLiteral("workers in a row died before they were ready")),
                 qPrintable(err));
        QVERIFY2(err.count(QStringLiteral("malformed frame")) < 20, qPrintable(err));
    }

    void ctrlCStopsWritesExportsAndSummarises_data()
    {
        QTest::addColumn<QString>("pool");
        QTest::addColumn<int>("sig");
        QTest::addColumn<bool>("wholeGroup"); // as a terminal sends it: workers too
        QTest::newRow("threads, SIGINT") << "thread" << int(SIGINT) << false;
        QTest::newRow("processes, SIGINT") << "process" << int(SIGINT) << false;
        // Issue #17: these ended the run at once, no summary, no exports.
        QTest::newRow("threads, SIGTERM") << "thread" << int(SIGTERM) << false;
        QTest::newRow("processes, SIGTERM") << "process" << int(SIGTERM) << false;
        QTest::newRow("processes, SIGHUP") << "process" << int(SIGHUP) << false;
        // And Ctrl-C at a terminal killed the workers too: their tasks
        // counted as crashes ("killed by signal 2"), not as stopped.
        QTest::newRow("processes, SIGINT to the process group") << "process" << int(SIGINT) << true;
        QTest::newRow("processes, SIGHUP to the process group") << "process" << int(SIGHUP) << true;
    }
    void ctrlCStopsWritesExportsAndSummarises()
    {
        // Ctrl-C mid-run: pending tasks are cancelled, running ones stopped
        // (asked to stop on threads, their worker killed on processes), the
        // exports are written, and the summary says what completed.
        QFETCH(QString, pool);
        QFETCH(int, sig);
        QFETCH(bool, wholeGroup);
        QTemporaryDir dir;
        const QString trace = dir.filePath(QStringLiteral("t.json"));
        QProcess p;
        if (wholeGroup) // its own group, so that the signal reaches it and its workers only
            p.setChildProcessModifier([] { ::setpgid(0, 0); });
        p.start(QStringLiteral(POOLSCOPE_CLI),
                {QStringLiteral("run"), QStringLiteral("--workload"), QStringLiteral("sleep"),
                 QStringLiteral("--tasks"), QStringLiteral("40"), QStringLiteral("--size"),
                 QStringLiteral("300"), QStringLiteral("--pool"), pool, QStringLiteral("--workers"),
                 QStringLiteral("2"), QStringLiteral("--json"), QStringLiteral("--trace"), trace});
        QVERIFY(p.waitForStarted());
        // Progress lines go to stderr once a second (stderr is not a tty
        // here); wait until one reports finished tasks, so the run is
        // demonstrably under way with work left (40 x 300 ms on 2 workers
        // takes 6 s).
        QByteArray err;
        QTRY_VERIFY_WITH_TIMEOUT(
            (err += p.readAllStandardError(),
             QRegularExpression(QStringLiteral("progress [1-9][0-9]*/40 tasks"))
                 .match(QString::fromUtf8(err))
                 .hasMatch()),
            30000);
        QCOMPARE(::kill(wholeGroup ? -pid_t(p.processId()) : pid_t(p.processId()), sig), 0);
        QVERIFY(p.waitForFinished(30000));
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 128 + sig); // stopped by the signal, not "some failed" (1)
        const QJsonObject o = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
        QVERIFY2(o.value(QStringLiteral("interrupted")).toBool(),
                 qPrintable(QString::fromUtf8(err)));
        const int done = o.value(QStringLiteral("done")).toInt();
        const int failed = o.value(QStringLiteral("failed")).toInt();
        const int cancelled = o.value(QStringLiteral("cancelled")).toInt();
        QVERIFY(done >= 1);
        QVERIFY(cancelled >= 1);
        QCOMPARE(failed, 0);
        QCOMPARE(done + failed + cancelled, 40); // every task accounted for once
        QFile tf(trace);
        QVERIFY(tf.open(QIODevice::ReadOnly));
        QString why;
        const auto td = poolscope::readChromeTrace(tf.readAll(), &why);
        QVERIFY2(td.has_value(), qPrintable(why));
        // The trace holds every task: the ones that ran and the cancelled.
        QCOMPARE(td->size(), quint64(done + cancelled));
    }

    // A CLI run is a recording: --csv and --trace hold every task, read back
    // by a second, independent reader (Python's csv and json, protoc) and
    // compared with the run's own counters.
    void everyTaskExported_data()
    {
        QTest::addColumn<int>("tasks");
        QTest::addColumn<QString>("pool");
        QTest::addColumn<bool>("json"); // also a Chrome JSON trace (~400 bytes a task)
        QTest::newRow("10k threads") << 10'000 << "thread" << true;
        QTest::newRow("10k processes") << 10'000 << "process" << true;
        QTest::newRow("100k threads") << 100'000 << "thread" << true;
        QTest::newRow("1M threads") << 1'000'000 << "thread" << false;
    }
    void everyTaskExported()
    {
        QFETCH(int, tasks);
        QFETCH(QString, pool);
        QFETCH(bool, json);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        if (tasks > 10'000)
            QSKIP("the big rows run in the plain suite (a sanitizer makes them minutes)");
#endif
        if (QStandardPaths::findExecutable(QStringLiteral("protoc")).isEmpty()
            || QStandardPaths::findExecutable(QStringLiteral("python3")).isEmpty())
            QSKIP("protoc or python3 missing (scripts/setup-debian.sh installs both)");
        QTemporaryDir dir;
        const QString csv = dir.filePath(QStringLiteral("t.csv"));
        const QString pb = dir.filePath(QStringLiteral("t.pftrace"));
        const QString js = dir.filePath(QStringLiteral("t.json"));
        QStringList a = args({"run", "--workload", "sleep", "--size", "0", "--json", "--quiet"});
        a << QStringLiteral("--tasks") << QString::number(tasks) << QStringLiteral("--pool") << pool
          << QStringLiteral("--csv") << csv << QStringLiteral("--trace") << pb;
        const auto r = run(a, 600'000);
        QCOMPARE(r.code, 0);
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o.value(QStringLiteral("done")).toInt(), tasks);
        QCOMPARE(o.value(QStringLiteral("recorded")).toInt(), tasks);
        QCOMPARE(o.value(QStringLiteral("record_lost")).toInt(), 0);
        QCOMPARE(o.value(QStringLiteral("record_note")).toString(), QString());
        QStringList check{QStringLiteral(CHECK_EXPORTS),
                          QStringLiteral("--csv"),
                          csv,
                          QStringLiteral("--perfetto"),
                          pb,
                          QStringLiteral("--proto"),
                          QStringLiteral(PERFETTO_PROTO)};
        if (json) {
            // The same run again, as Chrome JSON.
            QStringList b = a;
            b[b.indexOf(pb)] = js;
            b.removeAt(b.indexOf(QStringLiteral("--csv")) + 1);
            b.removeAll(QStringLiteral("--csv"));
            QCOMPARE(run(b, 600'000).code, 0);
            check << QStringLiteral("--json") << js;
        }
        QProcess reader;
        reader.start(QStringLiteral("python3"), check);
        QVERIFY(reader.waitForFinished(900'000));
        QVERIFY2(reader.exitCode() == 0, reader.readAllStandardError().constData());
        const QJsonObject got = QJsonDocument::fromJson(reader.readAllStandardOutput()).object();
        const QJsonObject c = got.value(QStringLiteral("csv")).toObject();
        QCOMPARE(c.value(QStringLiteral("rows")).toInt(), tasks);
        QCOMPARE(c.value(QStringLiteral("run_tasks")).toInt(), tasks);
        QCOMPARE(c.value(QStringLiteral("sampled_1_in")).toInt(), 1);
        QCOMPARE(c.value(QStringLiteral("statuses")).toObject().value("succeeded").toInt(), tasks);
        const QJsonObject p = got.value(QStringLiteral("perfetto")).toObject();
        QCOMPARE(p.value(QStringLiteral("slices")).toInt(), tasks);
        QCOMPARE(p.value(QStringLiteral("tasks_meta")).toInt(), tasks);
        // The first tasks start and end at the same times in both files.
        const QJsonArray fc = c.value(QStringLiteral("few")).toArray();
        const QJsonArray fp = p.value(QStringLiteral("few")).toArray();
        QCOMPARE(fc.size(), 3);
        QCOMPARE(fp.size(), 3);
        for (int k = 0; k < 3; ++k) {
            QCOMPARE(fc.at(k).toArray().at(0).toDouble(), fp.at(k).toArray().at(0).toDouble());
            QVERIFY(
                std::abs(fc.at(k).toArray().at(1).toDouble() - fp.at(k).toArray().at(1).toDouble())
                < 1e-6);
        }
        if (json) {
            const QJsonObject j = got.value(QStringLiteral("json")).toObject();
            QCOMPARE(j.value(QStringLiteral("slices")).toInt(), tasks);
            QCOMPARE(j.value(QStringLiteral("tasks_meta")).toInt(), tasks);
        }
        // And PoolScope's own replay reader: every task, over the run's time.
        QFile f(pb);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QString why;
        const auto td = poolscope::readTrace(f.readAll(), &why);
        QVERIFY2(td, qPrintable(why));
        QCOMPARE(td->size(), quint64(tasks));
        QVERIFY(td->record->totals().wallNs() > 0);
        QVERIFY(double(td->record->totals().wallNs()) / 1e9
                <= o.value(QStringLiteral("wall_s")).toDouble() + 0.001);
    }

    void samplingIsOptInAndSaid_data()
    {
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("oneIn");
        QTest::addColumn<QString>("note");
        QTest::newRow("--sample 10") << args({"--sample", "10"}) << 1000 << 10
                                     << QStringLiteral("sample: 1 in 10 of 10,000 tasks");
        QTest::newRow("--record-limit 1000") << args({"--record-limit", "1000"}) << 625 << 16
                                             << QStringLiteral("sample: 1 in 16 of 10,000 tasks");
    }
    void samplingIsOptInAndSaid()
    {
        QFETCH(QStringList, extra);
        QFETCH(int, rows);
        QFETCH(int, oneIn);
        QFETCH(QString, note);
        QTemporaryDir dir;
        const QString csv = dir.filePath(QStringLiteral("t.csv"));
        const QString js = dir.filePath(QStringLiteral("t.json"));
        QStringList a = args(
            {"run", "--workload", "sleep", "--tasks", "10000", "--size", "0", "--json", "--quiet"});
        a << extra << QStringLiteral("--csv") << csv << QStringLiteral("--trace") << js;
        const auto r = run(a);
        QCOMPARE(r.code, 0);
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o.value(QStringLiteral("done")).toInt(), 10000); // counts: every task
        QCOMPARE(o.value(QStringLiteral("recorded")).toInt(), rows);
        QCOMPARE(o.value(QStringLiteral("sampled_1_in")).toInt(), oneIn);
        QCOMPARE(o.value(QStringLiteral("record_note")).toString(), note);
        // The text summary says it too.
        const auto t = run(QStringList(a.mid(0, a.indexOf(QStringLiteral("--json"))))
                           << a.mid(a.indexOf(QStringLiteral("--json")) + 1));
        QVERIFY2(t.out.contains(note.toUtf8()), t.out.constData());
        // Both files say what they hold.
        QFile cf(csv);
        QVERIFY(cf.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = cf.readAll().trimmed().split('\n');
        QCOMPARE(lines.size(), rows + 1);
        QVERIFY(lines.last().trimmed().endsWith(',' + QByteArray::number(oneIn) + ",10000"));
        QFile tf(js);
        QVERIFY(tf.open(QIODevice::ReadOnly));
        const QByteArray trace = tf.readAll();
        QVERIFY(trace.contains("\"note\":\"" + note.toUtf8() + "\""));
        const auto td = poolscope::readTrace(trace);
        QVERIFY(td);
        QCOMPARE(td->record->samplingNote(), note);
    }

    void failuresExitOne()
    {
        const auto r =
            run({QStringLiteral("run"), QStringLiteral("--workload"), QStringLiteral("throws"),
                 QStringLiteral("--tasks"), QStringLiteral("6"), QStringLiteral("--size"),
                 QStringLiteral("1000"), QStringLiteral("--json")});
        QCOMPARE(r.code, 1);
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QVERIFY(o.value(QStringLiteral("failed")).toInt() > 0);
        QVERIFY(!o.value(QStringLiteral("failures")).toArray().isEmpty());
    }

    void crashIsolatedOnProcesses()
    {
        const auto r =
            run({QStringLiteral("run"), QStringLiteral("--workload"), QStringLiteral("crash"),
                 QStringLiteral("--pool"), QStringLiteral("process"), QStringLiteral("--workers"),
                 QStringLiteral("2"), QStringLiteral("--json")});
        QCOMPARE(r.code, 1); // some tasks crashed...
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QVERIFY(o.value(QStringLiteral("failed")).toInt() > 0);
        QVERIFY(o.value(QStringLiteral("done")).toInt() > 0); // ...and the others completed
    }

    static double fitSerial(const QJsonArray& rows)
    {
        // Least squares on 1/S - 1/n = f (1 - 1/n) (core/amdahl.h), clamped.
        double sxy = 0, sxx = 0;
        for (const auto& v : rows) {
            const QJsonObject r = v.toObject();
            const double n = r.value(QStringLiteral("workers")).toDouble();
            const double x = 1 - 1 / n;
            sxy += x * (1 / r.value(QStringLiteral("speedup")).toDouble() - 1 / n);
            sxx += x * x;
        }
        return sxx > 0 ? std::clamp(sxy / sxx, 0.0, 1.0) : -1;
    }

    void sweep()
    {
        const auto r = run(args({"sweep", "--workload", "primes", "--tasks", "4", "--size", "20000",
                                 "--workers", "1..3", "--json"}));
        QCOMPARE(r.code, 0);
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o.value(QStringLiteral("interrupted")).toBool(true), false);
        const QJsonArray rows = o.value(QStringLiteral("rows")).toArray();
        QCOMPARE(rows.size(), 3);
        const double f = o.value(QStringLiteral("serial_fraction")).toDouble(-1);
        QVERIFY2(f >= 0 && f <= 1, qPrintable(QString::number(f)));
        QVERIFY(qAbs(f - fitSerial(rows)) < 1e-9); // it is the Amdahl fit of these rows
        const double wall1 = rows.at(0).toObject().value(QStringLiteral("wall_s")).toDouble();
        QVERIFY(wall1 > 0);
        for (int i = 0; i < rows.size(); ++i) {
            const QJsonObject row = rows.at(i).toObject();
            const int n = row.value(QStringLiteral("workers")).toInt();
            QCOMPARE(n, i + 1);
            QCOMPARE(row.value(QStringLiteral("done")).toInt(), 4);
            const double wall = row.value(QStringLiteral("wall_s")).toDouble();
            const double speedup = row.value(QStringLiteral("speedup")).toDouble();
            const double eff = row.value(QStringLiteral("efficiency")).toDouble();
            const double amdahl = row.value(QStringLiteral("amdahl_speedup")).toDouble();
            QVERIFY2(qAbs(speedup - wall1 / wall) < 1e-9 * speedup, qPrintable(QString::number(n)));
            QVERIFY(qAbs(eff - speedup / n) < 1e-12);
            QVERIFY2(qAbs(amdahl - 1 / (f + (1 - f) / n)) < 1e-9,
                     qPrintable(
                         QStringLiteral("%1 workers: amdahl %2, f %3").arg(n).arg(amdahl).arg(f)));
            QVERIFY(amdahl >= 1 - 1e-12 && amdahl <= n + 1e-12);
        }
    }

    void sweepText()
    {
        // The table as printed: each row's speedup is wall(1)/wall(n) and its
        // efficiency speedup/n, the Amdahl column follows the printed
        // serial fraction (all within the printed rounding).
        const auto r = run(args({"sweep", "--workload", "primes", "--tasks", "4", "--size",
                                 "100000", "--workers", "1..2", "--quiet"}));
        QCOMPARE(r.code, 0);
        const QString text = QString::fromUtf8(r.out);
        const QRegularExpression rowRe(
            QStringLiteral("^ +([0-9]+) +([0-9]+\\.[0-9]{3}) +([0-9]+\\.[0-9]{2})x +([0-9]+)% "
                           "+([0-9]+\\.[0-9]{2})x$"),
            QRegularExpression::MultilineOption);
        const auto fm = QRegularExpression(
                            QStringLiteral("^serial fraction \\(Amdahl fit\\): ([0-9]\\.[0-9]{3})"),
                            QRegularExpression::MultilineOption)
                            .match(text);
        QVERIFY2(fm.hasMatch(), qPrintable(text));
        const double f = fm.captured(1).toDouble();
        QVERIFY(f >= 0 && f <= 1);
        QList<QRegularExpressionMatch> rows;
        for (auto it = rowRe.globalMatch(text); it.hasNext();)
            rows << it.next();
        QCOMPARE(rows.size(), 2);
        const double wall1 = rows[0].captured(2).toDouble();
        for (int i = 0; i < rows.size(); ++i) {
            const auto& m = rows[i];
            const int n = m.captured(1).toInt();
            QCOMPARE(n, i + 1);
            const double wall = m.captured(2).toDouble(), speedup = m.captured(3).toDouble();
            // walls printed to 1 ms: allow for that rounding in the ratio
            const double lo = (wall1 - 0.0005) / (wall + 0.0005),
                         hi = (wall1 + 0.0005) / (wall - 0.0005);
            QVERIFY2(speedup >= lo - 0.005 && speedup <= hi + 0.005, qPrintable(m.captured(0)));
            QVERIFY2(qAbs(m.captured(4).toInt() - 100 * speedup / n) <= 0.5 + 100 * 0.005 / n,
                     qPrintable(m.captured(0)));
            const double amdahlAtF = 1 / (f + (1 - f) / n);
            QVERIFY2(qAbs(m.captured(5).toDouble() - amdahlAtF) <= 0.005 + 0.001 * n * n,
                     qPrintable(m.captured(0)));
        }
    }

    void sweepCtrlCKeepsMeasuredRows_data()
    {
        QTest::addColumn<int>("sizesBefore"); // sizes finished when Ctrl-C comes
        QTest::newRow("during the second size") << 1;
        QTest::newRow("during the third size") << 2;
    }
    void sweepCtrlCKeepsMeasuredRows()
    {
        // sleep: 40 x 100 ms, so 1 worker takes 4 s, 2 take 2 s, 3 take 1.3 s:
        // Ctrl-C sent as soon as a size is reported lands in the next one.
        QFETCH(int, sizesBefore);
        QProcess p;
        p.start(QStringLiteral(POOLSCOPE_CLI), args({"sweep", "--workload", "sleep", "--tasks",
                                                     "40", "--size", "100", "--workers", "1..4"}));
        QVERIFY(p.waitForStarted());
        const QRegularExpression reported(
            QStringLiteral("^  %1 worker\\(s\\): ([0-9.]+) s$").arg(sizesBefore),
            QRegularExpression::MultilineOption);
        QByteArray err;
        QTRY_VERIFY_WITH_TIMEOUT(
            (err += p.readAllStandardError(), reported.match(QString::fromUtf8(err)).hasMatch()),
            60000);
        QCOMPARE(::kill(pid_t(p.processId()), SIGINT), 0);
        QVERIFY(p.waitForFinished(30000));
        err += p.readAllStandardError();
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 130);
        const QString out = QString::fromUtf8(p.readAllStandardOutput());
        // The rows measured before Ctrl-C are printed, with the walls that
        // were reported as they finished; the size it stopped is left out.
        const QStringList walls = [&] {
            QStringList w;
            for (auto it =
                     QRegularExpression(QStringLiteral("^  [0-9]+ worker\\(s\\): ([0-9.]+) s$"),
                                        QRegularExpression::MultilineOption)
                         .globalMatch(QString::fromUtf8(err));
                 it.hasNext();)
                w << it.next().captured(1);
            return w;
        }();
        QCOMPARE(walls.size(), sizesBefore);
        for (int n = 1; n <= sizesBefore; ++n)
            QVERIFY2(QRegularExpression(QStringLiteral("^ +%1 +%2 +[0-9.]+x")
                                            .arg(n)
                                            .arg(QRegularExpression::escape(walls[n - 1])),
                                        QRegularExpression::MultilineOption)
                         .match(out)
                         .hasMatch(),
                     qPrintable(out));
        QVERIFY2(!QRegularExpression(QStringLiteral("^ +%1 +[0-9.]+ ").arg(sizesBefore + 1),
                                     QRegularExpression::MultilineOption)
                      .match(out)
                      .hasMatch(),
                 qPrintable(out));
        QVERIFY2(out.contains(QStringLiteral("interrupted (Ctrl-C) during the run with %1 "
                                             "worker(s), which is left out; %2 of 4 sizes measured")
                                  .arg(sizesBefore + 1)
                                  .arg(sizesBefore)),
                 qPrintable(out));
        if (sizesBefore >= 2)
            QVERIFY2(out.contains(QStringLiteral("serial fraction (Amdahl fit): ")),
                     qPrintable(out));
        else
            QVERIFY2(out.contains(QStringLiteral("serial fraction: not fitted, the sweep was "
                                                 "interrupted with 1 size(s) measured")),
                     qPrintable(out));
    }

    void pathCheckLeavesNoTrace()
    {
        // The up-front check opens the file for writing but must not leave
        // anything behind: a new path stays absent (no temporary file
        // either), an existing file keeps its content. `sweep` refuses
        // --trace after the scenario (and its paths) passed the check.
        QTemporaryDir dir;
        const QString fresh = dir.filePath(QStringLiteral("new.json"));
        auto r =
            run(args({"sweep", "--workload", "primes", "--workers", "1..2", "--trace"}) << fresh);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("sweep writes no trace"), r.err.constData());
        QCOMPARE(QDir(dir.path()).entryList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden),
                 QStringList{});
        r = run(args({"sweep", "--workload", "primes", "--workers", "1..2", "--csv"}) << aFile());
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("sweep writes no trace"), r.err.constData());
        QFile f(aFile());
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), QByteArray("keep me\n"));
    }

    void badInput_data()
    {
        // The rows of docs/reliability.md's CLI table: exit code 2, one line
        // on stderr, nothing on stdout, nothing run. `message` is the whole
        // line after "poolscope-cli: " (a prefix where `exact` is false).
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::addColumn<bool>("exact");
        auto w = [](std::initializer_list<const char*> extra) {
            QStringList a{QStringLiteral("run")};
            for (const char* e : extra)
                a << QString::fromUtf8(e);
            return a;
        };
        auto row = [](const char* name, const QStringList& a, const QString& message,
                      bool exact = true) { QTest::newRow(name) << a << message << exact; };
        row("no command", {},
            "give one command: list, run, sweep, demo, top or publishers (see --help)");
        row("unknown command", {QStringLiteral("fly")},
            "unknown command 'fly' (use list, run, sweep, demo, top or publishers)");
        row("unknown workload", w({"--workload", "nope"}),
            "unknown workload 'nope' (known: primes, primes_native, mandelbrot, ", false);
        row("unknown pool", w({"--workload", "primes", "--pool", "gpu"}),
            "unknown pool 'gpu': use thread, process or mpi");
        row("workers 0", w({"--workload", "primes", "--workers", "0"}),
            "--workers must be between 1 and 1024 (got 0)");
        row("workers negative", w({"--workload", "primes", "--workers", "-3"}),
            "--workers must be between 1 and 1024 (got -3)");
        row("workers 100000", w({"--workload", "primes", "--workers", "100000"}),
            "--workers must be between 1 and 1024 (got 100000)");
        row("workers not a number", w({"--workload", "primes", "--workers", "many"}),
            "--workers needs an integer (got 'many')");
        row("size out of range", w({"--workload", "primes", "--size", "0"}),
            "the size of workload 'primes' (numbers per task) must be between 1 and 1000000000, "
            "got 0");
        row("tasks 0", w({"--workload", "primes", "--tasks", "0"}),
            "--tasks must be 1..1000000 for primes (got 0)");
        row("crash on threads", w({"--workload", "crash"}),
            "workload 'crash' can only run on a process pool: on a thread pool it would take the "
            "whole program down");
        row("gil on processes", w({"--workload", "primes", "--pool", "process", "--gil"}),
            "--gil applies to the thread pool (every worker process has its own interpreter "
            "lock)");
        row("switch interval 0", w({"--workload", "primes", "--gil", "--switch-interval", "0"}),
            "--switch-interval must be 1..1000 ms (got 0)");
        row("timeout 0", w({"--workload", "primes", "--timeout", "0"}),
            "--timeout must be between 0.001 and 86400 seconds (got 0)");
        // Issue #17: accepted before, and never enforced (the run hung).
        row("timeout nan", w({"--workload", "primes", "--timeout", "nan"}),
            "--timeout must be between 0.001 and 86400 seconds (got nan)");
        row("timeout under a millisecond", w({"--workload", "primes", "--timeout", "0.0004"}),
            "--timeout must be between 0.001 and 86400 seconds (got 0.0004)");
        row("timeout 1e-300", w({"--workload", "primes", "--timeout", "1e-300"}),
            "--timeout must be between 0.001 and 86400 seconds (got 1e-300)");
        // The value given, not one clamped to fit.
        row("workers 10^18", w({"--workload", "primes", "--workers", "1000000000000000000"}),
            "--workers must be between 1 and 1024 (got 1000000000000000000)");
        row("chunk -3", w({"--workload", "primes", "--chunk", "-3"}),
            "--chunk must be 1..1000000 (got -3)");
        row("switch interval 10^12",
            w({"--workload", "primes", "--gil", "--switch-interval", "1000000000000"}),
            "--switch-interval must be 1..1000 ms (got 1000000000000)");
        row("trace without a name", w({"--workload", "primes", "--trace", ""}),
            "--trace needs a file name");
        row("csv without a name", w({"--workload", "primes", "--csv", ""}),
            "--csv needs a file name");
        row("trace given an option", w({"--workload", "primes", "--trace", "--poolscope-worker"}),
            "--trace needs a file name (got the option '--poolscope-worker'; for a file of that "
            "name, write ./--poolscope-worker)");
        row("trace and csv the same file",
            w({"--workload", "primes", "--trace", "/tmp/poolscope-same-export", "--csv",
               "/tmp/../tmp/poolscope-same-export"}),
            "--trace and --csv name the same file '/tmp/poolscope-same-export': one export would "
            "replace the other");
        row("pipeline chunked", w({"--workload", "pipeline", "--chunk", "4"}),
            "workload 'pipeline' submits its own two-stage tasks and cannot be chunked (use "
            "--chunk 1)");
        row("bad knob", w({"--workload", "primes", "--knob", "oops"}),
            "--knob must look like name=value (got 'oops')");
        row("unknown knob", w({"--workload", "primes", "--knob", "colour=3"}),
            "workload 'primes' has no knob 'colour' (its knobs: start)");
        row("chunk 0", w({"--workload", "primes", "--chunk", "0"}),
            "--chunk must be 1..1000000 (got 0)");
        row("sample 0", w({"--workload", "primes", "--sample", "0"}),
            "--sample must be 1..1000000000 (got 0)");
        row("sample not a number", w({"--workload", "primes", "--sample", "half"}),
            "--sample needs an integer (got 'half')");
        row("record limit 0", w({"--workload", "primes", "--record-limit", "0"}),
            "--record-limit must be 1..100000000 (got 0)");
        row("record limit huge", w({"--workload", "primes", "--record-limit", "100000001"}),
            "--record-limit must be 1..100000000 (got 100000001)");
        row("sample on a sweep",
            args({"sweep", "--workload", "primes", "--workers", "1..2", "--sample", "4"}),
            "sweep records no tasks (--sample, --record-limit); use run for that");
        row("sweep not from 1", args({"sweep", "--workload", "primes", "--workers", "2..4"}),
            "a sweep starts at 1 worker (speedups are relative to it), e.g. --workers 1..4");
        row("unknown option", w({"--workload", "primes", "--frobnicate"}),
            "Unknown option 'frobnicate'.");

        // Unwritable exports, refused before any task runs (the sleep batch
        // would take 12 s). Every row fails for root too.
        for (const char* opt : {"--trace", "--csv"}) {
            const QString o = QString::fromLatin1(opt);
            const QString ext =
                o == QLatin1String("--trace") ? QStringLiteral("json") : QStringLiteral("csv");
            const QStringList base = args({"run", "--workload", "sleep", "--tasks", "40", "--size",
                                           "300", "--workers", "1", o.toLatin1().constData()});
            auto name = [&](const char* what) {
                return (o + QLatin1Char(' ') + QLatin1String(what)).toLatin1();
            };
            const QString missing = QStringLiteral("/nonexistent-dir/x.") + ext;
            row(name("folder missing").constData(), base + QStringList{missing},
                QStringLiteral("cannot write '%1': folder '/nonexistent-dir' does not exist")
                    .arg(missing));
            const QString proc = QStringLiteral("/proc/poolscope-x.") + ext;
            row(name("in /proc").constData(), base + QStringList{proc},
                QStringLiteral(
                    "cannot write '%1': cannot create a file in '/proc': No such file or "
                    "directory")
                    .arg(proc));
            row(name("is a folder").constData(), base + QStringList{aFolder()},
                QStringLiteral("cannot write '%1': it is a folder").arg(aFolder()));
            const QString below = aFile() + QStringLiteral("/x.") + ext;
            row(name("below a file").constData(), base + QStringList{below},
                QStringLiteral("cannot write '%1': '%2' is a file, not a folder")
                    .arg(below, aFile()));
            row(name("fifo").constData(), base + QStringList{aFifo()},
                QStringLiteral("cannot write '%1': not a regular file (a device, FIFO or socket "
                               "would be replaced by the export)")
                    .arg(aFifo()));
            row(name("read-only proc file").constData(),
                base + QStringList{QStringLiteral("/proc/self/status")},
                QStringLiteral("cannot write '/proc/self/status': Operation not permitted"));
            // QSaveFile's unnamed temporary file let a too-long name through
            // until the run had ended (issue #17)
            const QString longName = QDir::tempPath() + QLatin1Char('/')
                                     + QString(300, QLatin1Char('n')) + QLatin1Char('.') + ext;
            row(name("name over NAME_MAX").constData(), base + QStringList{longName},
                QStringLiteral("cannot write '%1': the file name is %2 bytes long, more than the "
                               "255 this file system allows")
                    .arg(longName)
                    .arg(301 + ext.size()));
        }
    }
    // The system's limit on threads (`ulimit -u`, RLIMIT_NPROC): a thread
    // pool that gets fewer threads than asked runs its tasks on those and
    // says how many it had; one that gets none fails every task with
    // BrokenExecutor and a clear line. Both end (issue #17: a pool with no
    // thread hung in shutdown; a refused thread ended in std::terminate;
    // QThreadPool's helper hung at exit). The limit binds only users other
    // than root, so the CLI runs as `nobody` through setpriv; the whole
    // program (that user's processes and threads) has 1 or 3: none or 2 for workers.
    void threadLimit_data()
    {
        QTest::addColumn<QString>("pool");
        QTest::addColumn<int>("limit");
        QTest::addColumn<bool>("broken");
        QTest::newRow("no thread for a worker") << QStringLiteral("thread") << 1 << true;
        QTest::newRow("some threads") << QStringLiteral("thread") << 3 << false;
        // Processes count against the same limit: the process pool runs on
        // the worker processes it gets (it broke at the first refusal).
        QTest::newRow("some worker processes") << QStringLiteral("process") << 6 << false;
    }
    void threadLimit()
    {
        QFETCH(QString, pool);
        QFETCH(int, limit);
        QFETCH(bool, broken);
        if (::geteuid() != 0)
            QSKIP("RLIMIT_NPROC binds users other than root: the test runs the CLI as nobody, "
                  "which takes root");
        const QString setpriv = QStandardPaths::findExecutable(QStringLiteral("setpriv"));
        if (setpriv.isEmpty())
            QSKIP("setpriv (util-linux) not found");
#if defined(__SANITIZE_THREAD__)
        QSKIP("ThreadSanitizer's runtime starts threads of its own: under a limit of 1 to 3 "
              "threads it fails before the pool does (the asan and ci suites run this test)");
#endif
        QProcess p;
        // LeakSanitizer's check at exit needs a thread of its own too; the
        // leak check is not what this test is about.
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        const QString asan = env.value(QStringLiteral("ASAN_OPTIONS"));
        env.insert(QStringLiteral("ASAN_OPTIONS"),
                   (asan.isEmpty() ? QString() : asan + QLatin1Char(':'))
                       + QStringLiteral("detect_leaks=0"));
        p.setProcessEnvironment(env);
        p.start(setpriv,
                {QStringLiteral("--reuid=65534"), QStringLiteral("--regid=65534"),
                 QStringLiteral("--clear-groups"), QStringLiteral("/bin/bash"),
                 QStringLiteral("-c"),
                 QStringLiteral("ulimit -u %1 && exec \"$0\" run --pool %2 --workload sleep "
                                "--tasks 20 --size 10 --workers 6")
                     .arg(limit)
                     .arg(pool),
                 QStringLiteral(POOLSCOPE_CLI)});
        QVERIFY2(p.waitForFinished(60'000), "the run did not end");
        const QString out = QString::fromUtf8(p.readAllStandardOutput());
        const QString err = QString::fromUtf8(p.readAllStandardError());
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QVERIFY2(!err.contains(QStringLiteral("terminate called")), qPrintable(err));
        if (broken) {
            QCOMPARE(p.exitCode(), 1);
            QVERIFY2(err.contains(QStringLiteral("poolscope-cli: cannot start a worker thread: "))
                         && err.contains(QStringLiteral("the pool has no worker and is not usable "
                                                        "anymore")),
                     qPrintable(err));
            return;
        }
        QCOMPARE(p.exitCode(), 0);
        QVERIFY2(out.contains(QStringLiteral("20: 20 done, 0 failed, 0 cancelled")),
                 qPrintable(out));
        const QRegularExpression few(
            pool == QLatin1String("thread")
                ? QStringLiteral("workers +only ([1-5]) of 6 worker thread\\(s\\) could be "
                                 "started: Resource temporarily unavailable")
                : QStringLiteral("workers +([1-5]) worker process\\(es\\) ran, of 6 asked for; "
                                 "the system refused [0-9]+ start\\(s\\): cannot start a worker "
                                 "process of '.*': the system refused a new process or its pipes "
                                 "\\(.*processes limit %1, ulimit -u")
                      .arg(limit));
        QVERIFY2(few.match(out).hasMatch(), qPrintable(out));
    }

    // The limit on open files (`ulimit -n`) with more process workers than
    // it allows pipes for (issue #17: the run hung; then it broke the whole
    // pool for one refused worker, saying "No such file or directory"). A
    // pool that gets some workers runs its tasks on them and says how many
    // it had and why not more; one that gets none fails with a clear line
    // naming the limit. The thread pool needs no file per worker and runs.
    void fileLimit_data()
    {
        QTest::addColumn<QString>("pool");
        QTest::addColumn<int>("limit");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("says"); // a regular expression
        const QString refused = QStringLiteral(
            "cannot start a worker process of '.*poolscope-worker': the system refused a new "
            "process or its pipes \\(open files [0-9]+ of %1, ulimit -n; processes limit .*, "
            "ulimit -u");
        QTest::newRow("process pool, no worker")
            << QStringLiteral("process") << 8 << 1
            << QStringLiteral("poolscope-cli: ") + refused.arg(8)
                   + QStringLiteral(".*\\); the pool has no worker and is not usable anymore");
        QTest::newRow("process pool, some workers")
            << QStringLiteral("process") << 16 << 0
            << QStringLiteral("workers +([1-9]|[12][0-9]) worker process\\(es\\) ran, of 30 asked "
                              "for; the system refused [0-9]+ start\\(s\\): ")
                   + refused.arg(16) + QStringLiteral("(.|\\n)*tasks +60: 60 done, 0 failed");
        QTest::newRow("thread pool")
            << QStringLiteral("thread") << 16 << 0 << QStringLiteral("60: 60 done, 0 failed");
    }
    void fileLimit()
    {
        QFETCH(QString, pool);
        QFETCH(int, limit);
        QFETCH(int, code);
        QFETCH(QString, says);
#if defined(__SANITIZE_ADDRESS__)
        if (limit < 10)
            QSKIP("at 8 open files UndefinedBehaviorSanitizer itself has none left: its vptr "
                  "check reads memory through a pipe, fails, and reports every object as "
                  "invalid (the ci and tsan suites run this row)");
#endif
        QProcess p;
        p.start(QStringLiteral("/bin/bash"),
                {QStringLiteral("-c"),
                 QStringLiteral("ulimit -n %2 && exec \"$0\" run --pool %1 --workload sleep "
                                "--tasks 60 --size 10 --workers 30")
                     .arg(pool)
                     .arg(limit),
                 QStringLiteral(POOLSCOPE_CLI)});
        QVERIFY2(p.waitForFinished(60'000), "the run did not end");
        const QString all = QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError());
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), code);
        QVERIFY2(QRegularExpression(says).match(all).hasMatch(), qPrintable(all));
        QVERIFY2(!all.contains(QLatin1String("No such file or directory")), qPrintable(all));
    }

    // The limit on memory (`ulimit -v`, 64 MiB): issue #17 saw the thread
    // pool end in "Qt has caught an exception thrown from an event handler"
    // (the Monitor's record ran out of memory) and the process pool hang
    // (its supervisor thread had no room for a stack). Now the thread pool
    // runs on the threads it gets and says which rows it could not hold;
    // the process pool says why it cannot start, and both end.
    void memoryLimit_data()
    {
        QTest::addColumn<int>("limitKb");
        QTest::addColumn<QString>("run"); // arguments after "run"
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("says"); // a regular expression
        const QString sleep = QStringLiteral("--workload sleep --tasks 8 --size 10 --workers 2");
        // 72 MiB: since the CLI links Qt Network (`top`, docs/attach.md) it
        // maps ~8 MiB more at start, and at 64 MiB not even one 8 MiB thread
        // stack fits; at 72 it runs on the threads it gets.
        QTest::newRow("thread pool, 72 MiB") << 73728 << QStringLiteral("--pool thread ") + sleep
                                             << 0 << QStringLiteral("tasks +8: 8 done, 0 failed");
        QTest::newRow("process pool, 64 MiB")
            << 65536 << QStringLiteral("--pool process ") + sleep << 1
            << QStringLiteral("poolscope-cli: cannot start the process pool's supervisor thread: "
                              "the system refused a thread \\(the limit on threads, ulimit -u, "
                              "or on memory, ulimit -v\\)");
        // Valid but huge: items of 16,777,216 numbers in 512 MiB. Each task
        // fails alone with std::bad_alloc; the worker encoding a result it
        // has no memory for aborted ("killed by signal 6") before.
        for (const char* pool : {"thread", "process"})
            QTest::newRow(
                qPrintable(QStringLiteral("%1 pool, huge pipeline items").arg(QLatin1String(pool))))
                << 524288
                << QStringLiteral("--pool %1 --workload pipeline --tasks 2 --size 16777216 "
                                  "--workers 2")
                       .arg(QLatin1String(pool))
                << 1
                << QStringLiteral("failure +item 0: std::bad_alloc: out of memory \\(the limit on "
                                  "memory, ulimit -v, or the machine's\\)\\n"
                                  "failure +item 1: std::bad_alloc: out of memory");
    }
    void memoryLimit()
    {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
        QSKIP("the sanitizers' shadow memory needs far more address space than these limits");
#endif
        QFETCH(int, limitKb);
        QFETCH(QString, run);
        QFETCH(int, code);
        QFETCH(QString, says);
        QProcess p;
        p.start(QStringLiteral("/bin/bash"),
                {QStringLiteral("-c"),
                 QStringLiteral("ulimit -v %1 && exec \"$0\" run %2").arg(limitKb).arg(run),
                 QStringLiteral(POOLSCOPE_CLI)});
        QVERIFY2(p.waitForFinished(60'000), "the run did not end");
        const QString all = QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError());
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), code);
        QVERIFY2(QRegularExpression(says).match(all).hasMatch(), qPrintable(all));
        QVERIFY2(!all.contains(QLatin1String("Qt has caught an exception")), qPrintable(all));
        QVERIFY2(!all.contains(QLatin1String("WorkerCrashed")), qPrintable(all));
    }

    void badInput()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        QFETCH(bool, exact);
        QElapsedTimer t;
        t.start();
        const auto r = run(args, 30000);
        QCOMPARE(r.code, 2);
        QVERIFY2(t.elapsed() < 10000, "refused only after running"); // nothing ran
        const QString err = QString::fromUtf8(r.err);
        QVERIFY2(err.endsWith(QLatin1Char('\n')), qPrintable(err));
        QCOMPARE(err.count(QLatin1Char('\n')), 1); // one clear line
        const QString line = err.chopped(1);
        const QString expected = QStringLiteral("poolscope-cli: ") + message;
        if (exact)
            QCOMPARE(line, expected);
        else
            QVERIFY2(line.startsWith(expected), qPrintable(line));
        QVERIFY(r.out.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TstCli)
#include "tst_cli.moc"
