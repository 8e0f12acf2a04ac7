// poolscope-cli driven as a real process: exit codes, JSON summary, exports,
// and the bad-input table (docs/reliability.md lists the same rows).
#include <poolscope/traceexport.h>

#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>
#include <sys/types.h>

class TstCli : public QObject {
    Q_OBJECT
    struct Result {
        int code = -1;
        QByteArray out, err;
    };
    Result run(const QStringList& args, int timeoutMs = 120000)
    {
        QProcess p;
        p.start(QStringLiteral(POOLSCOPE_CLI), args);
        if (!p.waitForFinished(timeoutMs)) {
            p.kill();
            p.waitForFinished();
            return {};
        }
        return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2,
                p.readAllStandardOutput(), p.readAllStandardError()};
    }
private slots:
    void list()
    {
        const auto r = run({QStringLiteral("list")});
        QCOMPARE(r.code, 0);
        for (const char* w : {"primes", "mandelbrot", "sleep", "crash", "pipeline"})
            QVERIFY2(r.out.contains(w), w);
        const auto j = run({QStringLiteral("list"), QStringLiteral("--json")});
        QCOMPARE(j.code, 0);
        QVERIFY(QJsonDocument::fromJson(j.out).isArray());
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
        QVERIFY(!td->spans.empty());
        QFile cf(csv);
        QVERIFY(cf.open(QIODevice::ReadOnly));
        QVERIFY(cf.readLine().startsWith("id,task"));
    }

    void ctrlCStopsWritesExportsAndSummarises_data()
    {
        QTest::addColumn<QString>("pool");
        QTest::newRow("threads") << "thread";
        QTest::newRow("processes") << "process";
    }
    void ctrlCStopsWritesExportsAndSummarises()
    {
        // Ctrl-C mid-run: pending tasks are cancelled, running ones stopped
        // (asked to stop on threads, their worker killed on processes), the
        // exports are written, and the summary says what completed.
        QFETCH(QString, pool);
        QTemporaryDir dir;
        const QString trace = dir.filePath(QStringLiteral("t.json"));
        QProcess p;
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
        QCOMPARE(::kill(pid_t(p.processId()), SIGINT), 0);
        QVERIFY(p.waitForFinished(30000));
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 1); // not everything ran
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
        QVERIFY(qsizetype(td->spans.size()) >= done);
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

    void sweep()
    {
        const auto r =
            run({QStringLiteral("sweep"), QStringLiteral("--workload"), QStringLiteral("primes"),
                 QStringLiteral("--tasks"), QStringLiteral("4"), QStringLiteral("--size"),
                 QStringLiteral("20000"), QStringLiteral("--workers"), QStringLiteral("1..2"),
                 QStringLiteral("--json")});
        QCOMPARE(r.code, 0);
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(o.value(QStringLiteral("rows")).toArray().size(), 2);
        QVERIFY(o.contains(QStringLiteral("serial_fraction")));
    }

    void badInput_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        auto w = [](std::initializer_list<const char*> extra) {
            QStringList a{QStringLiteral("run")};
            for (const char* e : extra)
                a << QString::fromUtf8(e);
            return a;
        };
        QTest::newRow("no command") << QStringList{} << "give one command";
        QTest::newRow("unknown command") << QStringList{QStringLiteral("fly")} << "unknown command";
        QTest::newRow("unknown workload") << w({"--workload", "nope"}) << "unknown workload";
        QTest::newRow("unknown pool")
            << w({"--workload", "primes", "--pool", "gpu"}) << "unknown pool";
        QTest::newRow("workers 0")
            << w({"--workload", "primes", "--workers", "0"}) << "--workers must be between";
        QTest::newRow("workers negative") << w({"--workload", "primes", "--workers", "-3"})
                                          << "--workers must be between 1 and 1024 (got -3)";
        QTest::newRow("workers 100000")
            << w({"--workload", "primes", "--workers", "100000"}) << "--workers must be between";
        QTest::newRow("workers not a number")
            << w({"--workload", "primes", "--workers", "many"}) << "needs an integer";
        QTest::newRow("size out of range") << w({"--workload", "primes", "--size", "0"}) << "size";
        QTest::newRow("tasks 0") << w({"--workload", "primes", "--tasks", "0"})
                                 << "--tasks must be";
        QTest::newRow("crash on threads") << w({"--workload", "crash"}) << "process";
        QTest::newRow("gil on processes")
            << w({"--workload", "primes", "--pool", "process", "--gil"}) << "--gil applies";
        QTest::newRow("unwritable trace")
            << w({"--workload", "primes", "--trace", "/nonexistent-dir/x.json"}) << "cannot write";
        QTest::newRow("bad knob") << w({"--workload", "primes", "--knob", "oops"})
                                  << "--knob must look like";
        QTest::newRow("unknown knob")
            << w({"--workload", "primes", "--knob", "colour=3"}) << "colour";
        QTest::newRow("chunk 0") << w({"--workload", "primes", "--chunk", "0"})
                                 << "--chunk must be";
        QTest::newRow("sweep not from 1")
            << QStringList{QStringLiteral("sweep"), QStringLiteral("--workload"),
                           QStringLiteral("primes"), QStringLiteral("--workers"),
                           QStringLiteral("2..4")}
            << "starts at 1";
        QTest::newRow("unknown option")
            << w({"--workload", "primes", "--frobnicate"}) << "frobnicate";
    }
    void badInput()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const auto r = run(args, 30000);
        QCOMPARE(r.code, 2);
        const QString err = QString::fromUtf8(r.err).trimmed();
        QVERIFY2(err.contains(message), qPrintable(err));
        QCOMPARE(err.count(QLatin1Char('\n')), 0); // one clear line
        QVERIFY(r.out.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TstCli)
#include "tst_cli.moc"
