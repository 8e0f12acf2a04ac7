// poolscope-cli top and publishers (docs/attach.md): the terminal view of
// another program's pools, run for real against the demo publisher of
// tests/attach in a socket directory of the test's own. The frames' counts
// are checked against the program's own counters; its end and its death
// give the exit codes the help promises; bad usage is one line, exit 2.
#include "../../app/cli/top.h"

#include <QDeadlineTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "../attach/demoprocess.h"

#include <csignal>

using namespace poolscope;
using poolscope::cli::renderPool;

namespace {
constexpr int kLong = 60'000;

struct Result {
    int code = -1;
    QByteArray out, err;
};

Result runCli(const QStringList& args, int timeoutMs = kLong)
{
    QProcess p;
    p.start(QStringLiteral(POOLSCOPE_CLI), args);
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        return {};
    }
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

using Demo = poolscope::test::DemoProcess;

QList<QJsonObject> jsonLines(const QByteArray& out)
{
    QList<QJsonObject> lines;
    for (const QByteArray& l : out.split('\n')) {
        if (!l.trimmed().isEmpty())
            lines << QJsonDocument::fromJson(l).object();
    }
    return lines;
}
} // namespace

class TstCliTop : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        qputenv("POOLSCOPE_ATTACH_DIR", m_dir.path().toLocal8Bit());
    }

    void nothingPublished()
    {
        Result r = runCli({QStringLiteral("publishers")});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("No program of this user publishes"), r.out.constData());
        r = runCli({QStringLiteral("top")});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("no program of this user publishes its pools"), r.err.constData());
        r = runCli({QStringLiteral("top"), QStringLiteral("--attach"), QStringLiteral("nobody")});
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("nobody"), r.err.constData());
    }

    void badUsage_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QByteArray>("says");
        QTest::newRow("interval too short")
            << QStringList{QStringLiteral("top"), QStringLiteral("--interval"), QStringLiteral("5")}
            << QByteArray("--interval must be a number from 50");
        QTest::newRow("iterations not a number")
            << QStringList{QStringLiteral("top"), QStringLiteral("--iterations"),
                           QStringLiteral("x")}
            << QByteArray("--iterations must be a number");
    }
    void badUsage()
    {
        QFETCH(QStringList, args);
        QFETCH(QByteArray, says);
        const Result r = runCli(args);
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains(says), r.err.constData());
        QCOMPARE(r.err.count('\n'), 1);
    }

    void framesCountWhatTheProgramRan()
    {
        Demo demo({QStringLiteral("--workers"), QStringLiteral("2"), QStringLiteral("--tasks"),
                   QStringLiteral("400"), QStringLiteral("--task-ms"), QStringLiteral("2"),
                   QStringLiteral("--name"), QStringLiteral("topdemo"),
                   QStringLiteral("--wait-viewer")});
        QVERIFY(demo.ready());

        Result listed = runCli({QStringLiteral("publishers"), QStringLiteral("--json")});
        QCOMPARE(listed.code, 0);
        const QJsonArray all = QJsonDocument::fromJson(listed.out).array();
        bool found = false;
        for (const auto& v : all) {
            const QJsonObject p = v.toObject();
            if (p.value(QStringLiteral("pid")).toInteger() == demo.pid()) {
                found = true;
                QCOMPARE(p.value(QStringLiteral("language")).toString(), QStringLiteral("c++"));
                QCOMPARE(p.value(QStringLiteral("pools")).toArray().size(), 1);
            }
        }
        QVERIFY2(found, listed.out.constData());

        // top until the program ends: its last frame has the program's counts.
        QProcess top;
        top.start(QStringLiteral(POOLSCOPE_CLI),
                  {QStringLiteral("top"), QStringLiteral("--attach"), QString::number(demo.pid()),
                   QStringLiteral("--json"), QStringLiteral("--interval"), QStringLiteral("100")});
        QVERIFY(top.waitForStarted());
        QByteArray out;
        QDeadlineTimer deadline(kLong);
        // The first snapshot has come: the program records tasks for this
        // viewer from now on.
        while (!out.contains("\"live\":true") && !deadline.hasExpired()) {
            top.waitForReadyRead(200);
            out += top.readAllStandardOutput();
        }
        QVERIFY2(out.contains("\"live\":true"), out.constData());
        demo.go();
        const QJsonObject own = demo.finish();
        QCOMPARE(own.value(QStringLiteral("succeeded")).toInt(), 400);
        // (demo.finish() ran the event loop: top may have ended already)
        QVERIFY(top.state() == QProcess::NotRunning || top.waitForFinished(kLong));
        QCOMPARE(top.exitStatus(), QProcess::NormalExit);
        QCOMPARE(top.exitCode(), 0); // the program ended and said goodbye
        out += top.readAllStandardOutput();
        const QList<QJsonObject> frames = jsonLines(out.left(out.lastIndexOf('}') + 1));
        QVERIFY(!frames.isEmpty());
        const QJsonObject last = frames.last();
        QCOMPARE(last.value(QStringLiteral("pool")).toString(), QStringLiteral("topdemo"));
        const QJsonObject c = last.value(QStringLiteral("counters")).toObject();
        QCOMPARE(c.value(QStringLiteral("succeeded")).toInt(),
                 own.value(QStringLiteral("succeeded")).toInt());
        QCOMPARE(c.value(QStringLiteral("submitted")).toInt(),
                 own.value(QStringLiteral("submitted")).toInt());
        QCOMPARE(last.value(QStringLiteral("recorded")).toInt()
                     + last.value(QStringLiteral("lost")).toInt(),
                 400);
        QVERIFY2(out.contains("ended"), out.constData());
    }

    void plainFramesAndAProgramThatDies()
    {
        Demo demo({QStringLiteral("--forever"), QStringLiteral("--task-ms"), QStringLiteral("5"),
                   QStringLiteral("--name"), QStringLiteral("dies")});
        QVERIFY(demo.ready());
        // --iterations: two frames, then exit 0.
        Result r =
            runCli({QStringLiteral("top"), QStringLiteral("--attach"), QStringLiteral("dies"),
                    QStringLiteral("--plain"), QStringLiteral("--iterations"), QStringLiteral("2"),
                    QStringLiteral("--interval"), QStringLiteral("100")});
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("pool \"dies\" thread, read-only"), r.out.constData());
        QVERIFY2(r.out.contains("WORKER"), r.out.constData());
        QVERIFY(!r.out.contains("\x1b[")); // --plain: no screen control

        QProcess top;
        top.start(QStringLiteral(POOLSCOPE_CLI),
                  {QStringLiteral("top"), QStringLiteral("--attach"), QStringLiteral("dies"),
                   QStringLiteral("--plain"), QStringLiteral("--interval"), QStringLiteral("100")});
        QVERIFY(top.waitForStarted());
        QByteArray out;
        QDeadlineTimer deadline(kLong);
        while (!out.contains("WORKER") && !deadline.hasExpired()) {
            top.waitForReadyRead(200);
            out += top.readAllStandardOutput();
        }
        demo.process().kill();
        QVERIFY(top.waitForFinished(kLong));
        QCOMPARE(top.exitCode(), 1); // lost without goodbye
        const QByteArray err = top.readAllStandardError();
        QVERIFY2(err.contains("was lost"), err.constData());
    }

    // A stopping signal ends the view with 128 + the signal, as the other
    // commands do (143 for SIGTERM), however many come.
    void signalsEndTheView_data()
    {
        QTest::addColumn<int>("sig");
        QTest::addColumn<int>("times");
        QTest::newRow("SIGTERM") << int(SIGTERM) << 1;
        QTest::newRow("SIGINT twice") << int(SIGINT) << 2;
    }
    void signalsEndTheView()
    {
        QFETCH(int, sig);
        QFETCH(int, times);
        Demo demo({QStringLiteral("--forever"), QStringLiteral("--task-ms"), QStringLiteral("5"),
                   QStringLiteral("--name"), QStringLiteral("sig")});
        QVERIFY(demo.ready());
        QProcess top;
        top.start(QStringLiteral(POOLSCOPE_CLI),
                  {QStringLiteral("top"), QStringLiteral("--attach"), QStringLiteral("sig"),
                   QStringLiteral("--plain"), QStringLiteral("--interval"),
                   QStringLiteral("60000")});
        QVERIFY(top.waitForStarted());
        QByteArray out;
        QDeadlineTimer deadline(kLong);
        while (!out.contains("WORKER") && !deadline.hasExpired()) {
            top.waitForReadyRead(200);
            out += top.readAllStandardOutput();
        }
        QVERIFY2(out.contains("WORKER"), out.constData());
        for (int i = 0; i < times; ++i)
            ::kill(pid_t(top.processId()), sig);
        QVERIFY(top.waitForFinished(kLong));
        QCOMPARE(top.exitStatus(), QProcess::NormalExit); // not killed by the second one
        QCOMPARE(top.exitCode(), 128 + sig);
    }

    void renderIsBoundedByTheWidth()
    {
        PoolInfo pool;
        pool.name = QStringLiteral("a-pool-with-a-rather-long-name");
        pool.kind = QStringLiteral("python-thread");
        PublisherInfo program;
        program.program = QStringLiteral("script.py");
        program.pid = 42;
        program.language = QStringLiteral("python");
        Snapshot s;
        s.counters.submitted = 10;
        s.counters.queued = 4;
        s.counters.running = 1;
        s.counters.succeeded = 5;
        s.maxWorkers = 1;
        s.workerCount = 1;
        WorkerInfo w;
        w.index = 0;
        w.name = QStringLiteral("ThreadPoolExecutor-0_0");
        w.state = WorkerState::Running;
        w.currentTask = 6;
        s.workers << w;
        s.recordStats.lost = 3;
        const QString text = renderPool(pool, program, s, 60);
        for (const QString& line : text.split(QLatin1Char('\n')))
            QVERIFY2(line.size() <= 60, qPrintable(line));
        QVERIFY(text.contains(QStringLiteral("4 queued")));
        QVERIFY(text.contains(QStringLiteral("#6")));
        QVERIFY(text.contains(QStringLiteral("3 tasks not received")));
        // Why, in words: the row budget, the viewer, or both.
        const QString wide = renderPool(pool, program, s, 0, 2, 100000);
        QVERIFY2(wide.contains(QStringLiteral("3 tasks not received: 2 finished faster than the "
                                              "100000 rows/s the program publishes or went to a "
                                              "monitor of its own, 1 because the viewer fell "
                                              "behind")),
                 qPrintable(wide));
    }
};

QTEST_GUILESS_MAIN(TstCliTop)
#include "tst_cli_top.moc"
