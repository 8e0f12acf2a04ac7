// poolscope's command line: bad usage gives one clear line on stderr and exit
// code 2 before any window (or display) is needed; a workload or a lesson
// given at launch starts and --screenshot saves a real PNG of the window.
// Runs the built program.
#include <QFile>
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>

class TstGuiCommandLine : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir; // the FIFO of the bad-usage rows

private slots:
    void badUsageExitsWithTwo_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("expected");
        QTest::newRow("--compare without --lesson")
            << QStringList{QStringLiteral("--compare")} << "--compare needs --lesson NAME";
        QTest::newRow("--sweep without --lesson")
            << QStringList{QStringLiteral("--sweep")} << "--sweep needs --lesson NAME";
        QTest::newRow("--compare on a lesson without run B")
            << QStringList{QStringLiteral("--lesson"), QStringLiteral("6"),
                           QStringLiteral("--compare")}
            << "lesson '6' has no run B to compare";
        QTest::newRow("--sweep on a lesson without sweep")
            << QStringList{QStringLiteral("--lesson"), QStringLiteral("gil"),
                           QStringLiteral("--sweep")}
            << "lesson 'gil' has no sweep";
        QTest::newRow("--compare and --sweep")
            << QStringList{QStringLiteral("--lesson"), QStringLiteral("6"),
                           QStringLiteral("--compare"), QStringLiteral("--sweep")}
            << "--compare and --sweep cannot be combined";
        QTest::newRow("--compare with --start")
            << QStringList{QStringLiteral("--lesson"), QStringLiteral("gil"),
                           QStringLiteral("--compare"), QStringLiteral("--start")}
            << "--compare starts the lesson itself; drop --start";
        QTest::newRow("--slow-motion 3")
            << QStringList{QStringLiteral("--slow-motion"), QStringLiteral("3")}
            << "--slow-motion must be one of 1, 2, 5, 10, 50, got 3";
        QTest::newRow("--slow-motion x")
            << QStringList{QStringLiteral("--slow-motion"), QStringLiteral("x")}
            << "--slow-motion needs a whole number, got 'x'";
        QTest::newRow("--replay empty")
            << QStringList{QStringLiteral("--replay"), QString()} << "--replay needs a trace file";
        QTest::newRow("--pool bogus")
            << QStringList{QStringLiteral("--pool"), QStringLiteral("bogus")}
            << "--pool must be thread, process or mpi, got 'bogus'";
        QTest::newRow("unknown lesson")
            << QStringList{QStringLiteral("--lesson"), QStringLiteral("nope")}
            << "unknown lesson 'nope' (lessons: futures, ";
        QTest::newRow("--no-start with --start")
            << QStringList{QStringLiteral("--lesson"), QStringLiteral("gil"),
                           QStringLiteral("--no-start"), QStringLiteral("--start")}
            << "--start and --no-start cannot be combined";
        QTest::newRow("--no-start with --sweep")
            << QStringList{QStringLiteral("--lesson"), QStringLiteral("6"),
                           QStringLiteral("--sweep"), QStringLiteral("--no-start")}
            << "--sweep starts the lesson itself; drop --no-start";
        QTest::newRow("--no-start alone") << QStringList{QStringLiteral("--no-start")}
                                          << "--no-start needs --lesson NAME or --workload NAME";
        QTest::newRow("--quit-after-runs without a run")
            << QStringList{QStringLiteral("--quit-after-runs"), QStringLiteral("1")}
            << "--quit-after-runs needs runs to wait for: --workload, --start, --compare or "
               "--sweep";
        QTest::newRow("--quit-after-runs 0")
            << QStringList{QStringLiteral("--workload"), QStringLiteral("primes"),
                           QStringLiteral("--quit-after-runs"), QStringLiteral("0")}
            << "--quit-after-runs must be between 1 and 10000, got 0";
        QTest::newRow("--run-log empty")
            << QStringList{QStringLiteral("--workload"), QStringLiteral("primes"),
                           QStringLiteral("--run-log"), QString()}
            << "--run-log needs a file name";
        // Issue #17: a FIFO nobody reads blocked the save for ever.
        const QString fifo = m_dir.filePath(QStringLiteral("fifo"));
        if (!QFileInfo::exists(fifo))
            QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
        const QString notRegular =
            QStringLiteral(": cannot write '%1': not a regular file (a FIFO would block, a device "
                           "or folder cannot take it)")
                .arg(fifo);
        QTest::newRow("--screenshot to a FIFO") << QStringList{QStringLiteral("--screenshot"), fifo}
                                                << QStringLiteral("--screenshot") + notRegular;
        QTest::newRow("--run-log to a FIFO")
            << QStringList{QStringLiteral("--workload"), QStringLiteral("primes"),
                           QStringLiteral("--run-log"), fifo}
            << QStringLiteral("--run-log") + notRegular;
        QTest::newRow("--measure to a FIFO") << QStringList{QStringLiteral("--measure"), fifo}
                                             << QStringLiteral("--measure") + notRegular;
        const QString longName =
            m_dir.filePath(QString(296, QLatin1Char('n')) + QStringLiteral(".png"));
        QTest::newRow("--screenshot name over NAME_MAX")
            << QStringList{QStringLiteral("--screenshot"), longName}
            << QStringLiteral("--screenshot: cannot write '%1': the file name is 300 bytes long, "
                              "more than the 255 this file system allows")
                   .arg(longName);
        QTest::newRow("--chunk on the pipeline")
            << QStringList{QStringLiteral("--workload"), QStringLiteral("pipeline"),
                           QStringLiteral("--chunk"), QStringLiteral("4")}
            << "--chunk above 1 needs a workload other than pipeline";
    }

    void badUsageExitsWithTwo()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, expected);
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove(QStringLiteral("DISPLAY")); // refused before a display is needed
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(POOLSCOPE_GUI_PATH), args);
        QVERIFY(p.waitForFinished(60'000));
        const QString err = QString::fromLocal8Bit(p.readAllStandardError());
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 2);
        QVERIFY2(err.startsWith(QStringLiteral("poolscope: ")), qPrintable(err));
        QVERIFY2(err.contains(expected), qPrintable(err));
        QCOMPARE(err.count(QLatin1Char('\n')), 1); // one line
    }

    /// A script measures window runs: --run-log appends one JSON line per
    /// finished run (the figures the window showed) and --quit-after-runs
    /// ends the program after that many (scripts/window-speedup.sh).
    void runLogRecordsEachRunAndQuits_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("runs");
        QTest::addColumn<int>("tasks"); // of each run
        QTest::newRow("a workload")
            << QStringList{QStringLiteral("--workload"), QStringLiteral("primes"),
                           QStringLiteral("--tasks"),    QStringLiteral("6"),
                           QStringLiteral("--workers"),  QStringLiteral("2")}
            << 1 << 6;
        QTest::newRow("a lesson's A then B (the first two of its A, B, A, B, A, B)")
            << QStringList{QStringLiteral("--lesson"), QStringLiteral("io-threads"),
                           QStringLiteral("--compare")}
            << 2 << -1;
    }

    void runLogRecordsEachRunAndQuits()
    {
        QFETCH(QStringList, args);
        QFETCH(int, runs);
        QFETCH(int, tasks);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString log = dir.filePath(QStringLiteral("runs.jsonl"));
        QFile old(log); // appended to, never truncated
        QVERIFY(old.open(QIODevice::WriteOnly));
        old.write("{\"earlier\":true}\n");
        old.close();
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(POOLSCOPE_GUI_PATH),
                args << QStringList{QStringLiteral("--no-settings"), QStringLiteral("--run-log"),
                                    log, QStringLiteral("--quit-after-runs"),
                                    QString::number(runs)});
        QVERIFY(p.waitForFinished(120'000)); // it quits by itself
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 0);
        QFile f(log);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = f.readAll().trimmed().split('\n');
        QCOMPARE(lines.size(), runs + 1);
        QCOMPARE(lines.first(), QByteArray("{\"earlier\":true}"));
        for (int i = 1; i <= runs; ++i) {
            const QJsonObject o = QJsonDocument::fromJson(lines[i]).object();
            QVERIFY2(!o.isEmpty(), lines[i].constData());
            if (tasks > 0)
                QCOMPARE(o.value(QStringLiteral("tasks")).toInt(), tasks);
            QCOMPARE(o.value(QStringLiteral("succeeded")).toInt() + o.value("failed").toInt()
                         + o.value("cancelled").toInt(),
                     o.value(QStringLiteral("tasks")).toInt());
            const double wall = o.value(QStringLiteral("wall_s")).toDouble();
            const double span = o.value(QStringLiteral("span_s")).toDouble();
            QVERIFY2(span > 0 && span <= wall + 1e-6, lines[i].constData());
            QVERIFY(o.value(QStringLiteral("window_cores")).toDouble() >= 0);
            // a task's mean time on its worker lies within the run
            const double meanRunMs = o.value(QStringLiteral("mean_run_ms")).toDouble(-1);
            QVERIFY2(meanRunMs > 0 && meanRunMs <= span * 1000 + 1e-3, lines[i].constData());
            QVERIFY(o.contains(QStringLiteral("other_cores")));
            QVERIFY(!o.value(QStringLiteral("workload")).toString().isEmpty());
        }
    }

    /// The real program on the offscreen platform: a run given on the command
    /// line starts at launch and --screenshot saves the window with it.
    void launchStartsAndSavesAScreenshot_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<bool>("running"); // tasks were submitted before the shot
        QTest::newRow("--workload primes --start")
            << QStringList{QStringLiteral("--workload"), QStringLiteral("primes"),
                           QStringLiteral("--start")}
            << true;
        QTest::newRow("--workload primes")
            << QStringList{QStringLiteral("--workload"), QStringLiteral("primes")} << true;
        QTest::newRow("--lesson futures") // opens at the question: nothing runs
            << QStringList{QStringLiteral("--lesson"), QStringLiteral("futures")} << false;
        QTest::newRow("--lesson futures --start")
            << QStringList{QStringLiteral("--lesson"), QStringLiteral("futures"),
                           QStringLiteral("--start")}
            << true;
        // Lessons that end with work in flight when the screenshot quits the
        // app: futures with GUI-thread continuations (a late continuation
        // into the closing lesson panel crashed), a process pool, 20k tasks.
        for (const char* lesson : {"event-loop", "crash", "chunks"})
            QTest::newRow(qPrintable(QStringLiteral("--lesson %1").arg(QLatin1String(lesson))))
                << QStringList{QStringLiteral("--lesson"), QString::fromLatin1(lesson),
                               QStringLiteral("--start")}
                << true;
        QTest::newRow("--lesson 3 --presenter --start")
            << QStringList{QStringLiteral("--lesson"), QStringLiteral("3"),
                           QStringLiteral("--presenter"), QStringLiteral("--start")}
            << true;
        QTest::newRow("--lesson 1 --no-start") // opens the lesson, waits for Run
            << QStringList{QStringLiteral("--lesson"), QStringLiteral("1"),
                           QStringLiteral("--no-start")}
            << false;
    }

    void launchStartsAndSavesAScreenshot()
    {
        QFETCH(QStringList, args);
        QFETCH(bool, running);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString shot = dir.filePath(QStringLiteral("shot.png"));
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(POOLSCOPE_GUI_PATH),
                args
                    + QStringList{QStringLiteral("--no-settings"), QStringLiteral("--screenshot"),
                                  shot, QStringLiteral("--after"), QStringLiteral("1500")});
        QVERIFY(p.waitForStarted(30'000));
        if (!p.waitForFinished(120'000)) { // generous: the machine may be busy
            p.kill();
            p.waitForFinished();
            QFAIL("poolscope did not quit after its screenshot");
        }
        const QString out = QString::fromLocal8Bit(p.readAllStandardOutput());
        const QString err = QString::fromLocal8Bit(p.readAllStandardError());
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QVERIFY2(p.exitCode() == 0,
                 qPrintable(QStringLiteral("exit %1: %2%3").arg(p.exitCode()).arg(out, err)));
        QVERIFY2(out.contains(QStringLiteral("poolscope: saved ")), qPrintable(out));
        const QRegularExpressionMatch m =
            QRegularExpression(QStringLiteral("\\((\\d+) task\\(s\\) submitted\\)")).match(out);
        QVERIFY2(m.hasMatch(), qPrintable(out));
        QCOMPARE(m.captured(1).toULongLong() > 0, running);
        // A real PNG of a real window, not a blank rectangle.
        QImage img;
        QVERIFY2(img.load(shot, "PNG"), qPrintable(shot));
        QVERIFY2(img.width() > 400 && img.height() > 300,
                 qPrintable(QStringLiteral("%1x%2").arg(img.width()).arg(img.height())));
        QSet<QRgb> colours;
        for (int y = 0; y < img.height() && colours.size() < 64; y += 7) {
            for (int x = 0; x < img.width() && colours.size() < 64; x += 7)
                colours.insert(img.pixel(x, y));
        }
        QVERIFY2(colours.size() >= 16, qPrintable(QString::number(colours.size())));
    }

    /// --help names the new options; --chunk no longer says "thread pool".
    void helpListsTheTeachingOptions()
    {
        QProcess p;
        p.start(QStringLiteral(POOLSCOPE_GUI_PATH), {QStringLiteral("--help")});
        QVERIFY(p.waitForFinished(60'000));
        QCOMPARE(p.exitCode(), 0);
        const QString help = QString::fromLocal8Bit(p.readAllStandardOutput());
        for (const char* opt : {"--compare", "--sweep", "--replay", "--slow-motion", "--chunk",
                                "--no-start", "--presenter"})
            QVERIFY2(help.contains(QLatin1String(opt)), opt);
        QVERIFY(!help.contains(QStringLiteral("thread pool; default 1")));
    }
};

QTEST_GUILESS_MAIN(TstGuiCommandLine)
#include "tst_guicommandline.moc"
