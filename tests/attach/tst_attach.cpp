// PoolScope::attach (docs/attach.md): the codec, the publisher, the viewer,
// and the programs around them (poolscope-attach-demo).

#include "attachinternal.h"
#include "attachprotocol.h"

#include <poolscope/attach.h>
#include <poolscope/errors.h>
#include <poolscope/monitor.h>
#include <poolscope/protocol.h>
#include <poolscope/threadpool.h>

#include <QCborArray>
#include <QCborMap>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocalSocket>
#include <QProcess>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QtEndian>

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace poolscope;
using namespace poolscope::attachproto;

namespace {

constexpr int kWait = 30000; // bound of every QTRY (a guard, never a sleep)

Snap sampleSnap()
{
    Snap s;
    s.pool = 7;
    s.time = 123456789;
    s.counters = {10, 2, 1, 5, 1, 1, 0};
    s.maxWorkers = 4;
    s.paused = true;
    s.shutdown = false;
    s.broken = QStringLiteral("initializer failed");
    s.queue.append(QueuedTask{11, 3, -2, 99});
    WorkerInfo w;
    w.index = 0;
    w.name = QStringLiteral("poolscope_0");
    w.pid = 42;
    w.tid = 43;
    w.state = WorkerState::Running;
    w.currentTask = 9;
    w.currentName = 3;
    w.currentStartNs = 1000;
    w.progress = 0.5;
    w.tasksDone = 8;
    w.busyNs = 5000;
    w.cpuNs = -1;
    w.lastCore = 1;
    w.holdsGil = true;
    s.workers.append(w);
    s.names.append({3, QStringLiteral("parse")});
    Row r;
    r.id = 5;
    r.submitNs = 10;
    r.startNs = 20;
    r.endNs = 30;
    r.cpuNs = 7;
    r.gilWaitNs = 1;
    r.name = 3;
    r.worker = 0;
    r.core = 2;
    r.status = 1;
    r.started = true;
    s.rows.push_back(r);
    Row r2 = r;
    r2.id = 6;
    r2.started = false;
    r2.worker = -1;
    r2.status = 2;
    s.rows.push_back(r2);
    s.texts.append(Texts{0, QStringLiteral("(1, 2)"), QCborValue(3.5), QStringLiteral("E: x")});
    s.texts.append(Texts{1, {}, QCborValue(QStringLiteral("text")), {}});
    s.lost = 17;
    return s;
}

QByteArray payloadOf(const QCborMap& m)
{
    return m.toCborValue().toCbor();
}

QCborMap snapMap()
{
    return QCborValue::fromCbor(encode(FromPublisher{sampleSnap()})).toMap();
}

/// A Monitor attached to an AttachedPool, ticking often.
std::unique_ptr<Monitor> viewerMonitor(Executor* pool)
{
    MonitorOptions o;
    o.intervalMs = 20;
    auto m = std::make_unique<Monitor>(o);
    m->attach(pool);
    return m;
}

struct Demo {
    std::unique_ptr<QProcess> proc;
    QString socketPath;
    quint64 poolId = 0;
    QString error;
};

QString demoPath()
{
    return QStringLiteral(POOLSCOPE_ATTACH_DEMO);
}

/// Starts poolscope-attach-demo and reads its READY line.
Demo startDemo(const QStringList& args, const QProcessEnvironment& env = {},
               std::function<void()> childModifier = {})
{
    Demo d;
    d.proc = std::make_unique<QProcess>();
    QProcessEnvironment e = env.isEmpty() ? QProcessEnvironment::systemEnvironment() : env;
    e.insert(QStringLiteral("POOLSCOPE_WORKER"), QStringLiteral(POOLSCOPE_WORKER_PROGRAM));
    d.proc->setProcessEnvironment(e);
    d.proc->setProcessChannelMode(QProcess::ForwardedErrorChannel); // its diagnostics in the log
    if (childModifier)
        d.proc->setChildProcessModifier(childModifier);
    d.proc->start(demoPath(), args);
    if (!d.proc->waitForStarted(kWait)) {
        d.error = QStringLiteral("demo did not start: ") + d.proc->errorString();
        return d;
    }
    QElapsedTimer t;
    t.start();
    while (!d.proc->canReadLine() && t.elapsed() < kWait) {
        if (!d.proc->waitForReadyRead(1000) && d.proc->state() == QProcess::NotRunning)
            break;
    }
    const QString line = QString::fromUtf8(d.proc->readLine()).trimmed();
    const QStringList parts = line.split(u' ');
    if (parts.size() != 3 || parts[0] != QLatin1StringView("READY")) {
        d.error = QStringLiteral("no READY line, got '%1'; stderr: %2")
                      .arg(line, QString::fromUtf8(d.proc->readAllStandardError()));
        return d;
    }
    d.socketPath = parts[1];
    d.poolId = parts[2].toULongLong();
    return d;
}

QJsonObject readJsonLine(QProcess& p)
{
    QElapsedTimer t;
    t.start();
    while (!p.canReadLine() && t.elapsed() < kWait) {
        if (!p.waitForReadyRead(1000) && p.state() == QProcess::NotRunning)
            break;
    }
    return QJsonDocument::fromJson(p.readLine()).object();
}

/// The process ended (it may have ended already while events ran).
bool finished(QProcess& p)
{
    return p.state() == QProcess::NotRunning || p.waitForFinished(kWait);
}

/// Every task id of a record, each once.
bool idsOnce(const RunRecord& r, QSet<quint64>* ids)
{
    for (quint64 i = 0; i < r.size(); ++i) {
        if (ids->contains(r.taskId(i)))
            return false;
        ids->insert(r.taskId(i));
    }
    return true;
}

} // namespace

class TestAttach : public QObject {
    Q_OBJECT
private:
    QTemporaryDir m_tmp;
    QString m_dir;

private slots:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        m_dir = m_tmp.path() + QStringLiteral("/attach");
        qputenv("POOLSCOPE_ATTACH_DIR", QFile::encodeName(m_dir));
        QString error;
        QCOMPARE(attach::socketDirectory(&error), m_dir);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QFileInfo fi(m_dir);
        QCOMPARE(int(fi.permissions() & 0x0777),
                 int(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner | QFile::ReadUser
                     | QFile::WriteUser | QFile::ExeUser)
                     & 0x0777);
    }

    // ---------------------------------------------------------------- codec

    void roundTrip_data()
    {
        QTest::addColumn<int>("which");
        QTest::newRow("hello") << 0;
        QTest::newRow("pools") << 1;
        QTest::newRow("snap") << 2;
        QTest::newRow("reply") << 3;
        QTest::newRow("bye") << 4;
        QTest::newRow("error") << 5;
        QTest::newRow("viewer hello") << 10;
        QTest::newRow("watch") << 11;
        QTest::newRow("unwatch") << 12;
        QTest::newRow("control resize") << 13;
        QTest::newRow("control pause") << 14;
    }
    void roundTrip()
    {
        QFETCH(int, which);
        PoolInfo pi{3,
                    QStringLiteral("io"),
                    QStringLiteral("thread"),
                    8,
                    {QStringLiteral("pause"), QStringLiteral("resize")}};
        QString error;
        if (which < 10) {
            FromPublisher m;
            switch (which) {
            case 0:
                m = Hello{QStringLiteral("prog"),
                          12,
                          1000,
                          QStringLiteral("c++"),
                          QStringLiteral("PoolScope 0.1 / Qt 6.4"),
                          {pi}};
                break;
            case 1:
                m = Pools{{pi, pi}};
                break;
            case 2:
                m = sampleSnap();
                break;
            case 3:
                m = Reply{9, false, QStringLiteral("no")};
                break;
            case 4:
                m = Bye{QStringLiteral("exit")};
                break;
            default:
                m = ErrorFrame{QStringLiteral("refused")};
                break;
            }
            const QByteArray bytes = encode(m);
            const auto back = decodeFromPublisher(bytes, &error);
            QVERIFY2(back, qPrintable(error));
            QCOMPARE(back->index(), m.index());
            QCOMPARE(encode(*back), bytes); // every field survived
            if (which == 2) {
                const Snap& s = std::get<Snap>(*back);
                QCOMPARE(s.rows.size(), std::size_t(2));
                QCOMPARE(s.rows[1].started, false);
                QCOMPARE(s.texts[0].result.toDouble(), 3.5);
                QCOMPARE(s.names.first().second, QStringLiteral("parse"));
                QCOMPARE(*s.broken, QStringLiteral("initializer failed"));
                QCOMPARE(s.workers.first().progress, 0.5);
            }
        } else {
            FromViewer m;
            switch (which) {
            case 10:
                m = ViewerHello{QStringLiteral("poolscope-cli")};
                break;
            case 11:
                m = Watch{4};
                break;
            case 12:
                m = Unwatch{4};
                break;
            case 13:
                m = Control{1, 4, QStringLiteral("resize"), 6};
                break;
            default:
                m = Control{2, 4, QStringLiteral("pause"), std::nullopt};
                break;
            }
            const QByteArray bytes = encode(m);
            const auto back = decodeFromViewer(bytes, &error);
            QVERIFY2(back, qPrintable(error));
            QCOMPARE(back->index(), m.index());
            QCOMPARE(encode(*back), bytes);
        }
    }

    void unknownTypes()
    {
        QCborMap m;
        m[QStringLiteral("v")] = 1;
        m[QStringLiteral("t")] = QStringLiteral("future_thing");
        m[QStringLiteral("extra")] = 5;
        QString error;
        auto a = decodeFromPublisher(payloadOf(m), &error);
        QVERIFY(a && std::holds_alternative<Unknown>(*a));
        auto b = decodeFromViewer(payloadOf(m), &error);
        QVERIFY(b && std::holds_alternative<Unknown>(*b));
        QCOMPARE(std::get<Unknown>(*b).type, QStringLiteral("future_thing"));
        // Unknown extra fields of known types are ignored.
        QCborMap s = snapMap();
        s[QStringLiteral("new_field")] = QStringLiteral("later");
        QVERIFY(decodeFromPublisher(payloadOf(s), &error));
    }

    void rejects_data()
    {
        QTest::addColumn<QByteArray>("payload");
        QTest::addColumn<QString>("message");
        QCborMap s = snapMap();
        auto with = [](QCborMap m, const QString& k, const QCborValue& v) {
            m[k] = v;
            return payloadOf(m);
        };
        auto without = [](QCborMap m, const QString& k) {
            m.remove(k);
            return payloadOf(m);
        };
        QTest::newRow("empty") << QByteArray() << "empty payload";
        QTest::newRow("not cbor") << QByteArray("\xff\xff", 2) << "not valid CBOR";
        QTest::newRow("truncated")
            << encode(FromPublisher{sampleSnap()}).chopped(5) << "not valid CBOR";
        QTest::newRow("trailing") << encode(FromPublisher{Bye{QStringLiteral("x")}}) + "\x01"
                                  << "1 bytes after its CBOR value";
        QTest::newRow("not a map")
            << QCborValue(QCborArray{1, 2}).toCbor() << "must be a CBOR map, got array";
        QTest::newRow("wrong v") << with(s, QStringLiteral("v"), 2)
                                 << "unsupported protocol version 2";
        QTest::newRow("v missing") << without(s, QStringLiteral("v")) << "field 'v'";
        QTest::newRow("t not text")
            << with(s, QStringLiteral("t"), 3) << "field 't' must be text, got integer";
        QTest::newRow("pool missing")
            << without(s, QStringLiteral("pool")) << "snap: field 'pool' is missing";
        QTest::newRow("pool negative") << with(s, QStringLiteral("pool"), -1)
                                       << "snap: field 'pool' must be an unsigned integer";
        QTest::newRow("time text") << with(s, QStringLiteral("time"), QStringLiteral("now"))
                                   << "snap: field 'time' must be an integer, got text";
        QTest::newRow("paused int")
            << with(s, QStringLiteral("paused"), 1) << "field 'paused' must be a bool";
        QTest::newRow("counters array") << with(s, QStringLiteral("counters"), QCborArray{})
                                        << "field 'counters' must be a map, got array";
        QCborMap counters = s[QStringLiteral("counters")].toMap();
        counters.remove(QStringLiteral("failed"));
        QTest::newRow("counter missing") << with(s, QStringLiteral("counters"), counters)
                                         << "snap.counters: field 'failed' is missing";
        QTest::newRow("row short")
            << with(s, QStringLiteral("rows"), QCborArray{QCborArray{1, 2, 3}})
            << "snap.rows[0]: must be an array of 11 elements, got 3";
        QCborArray badRow{1, 0, 20, 10, -1, 0, 0, 0, 0, 0, true};
        QTest::newRow("row ends first") << with(s, QStringLiteral("rows"), QCborArray{badRow})
                                        << "end_ns 10 is before start_ns 20";
        QCborArray badStatus{1, 0, 1, 2, -1, 0, 0, 0, 0, 9, true};
        QTest::newRow("row status") << with(s, QStringLiteral("rows"), QCborArray{badStatus})
                                    << "snap.rows[0][9]: 9 is above the limit 2";
        QTest::newRow("texts index")
            << with(s, QStringLiteral("texts"), QCborArray{QCborArray{5, "", QCborValue(), ""}})
            << "row index 5 is out of range (2 rows)";
        QTest::newRow("texts result map")
            << with(s, QStringLiteral("texts"), QCborArray{QCborArray{0, "", QCborMap{}, ""}})
            << "result must be a scalar or null, got map";
        QCborMap names;
        names[QStringLiteral("x")] = QStringLiteral("y");
        QTest::newRow("names key")
            << with(s, QStringLiteral("names"), names) << "field 'names' must map name ids";
        QTest::newRow("queue long") << with(s, QStringLiteral("queue"), [] {
            QCborArray a;
            for (int i = 0; i < 21; ++i)
                a.append(QCborArray{i, 0, 0, 0});
            return a;
        }()) << "field 'queue' has 21 entries, at most 20";
        QCborArray workers = s[QStringLiteral("workers")].toArray();
        QCborMap w = workers.at(0).toMap();
        w[QStringLiteral("state")] = 6;
        QTest::newRow("worker state") << with(s, QStringLiteral("workers"), QCborArray{w})
                                      << "snap.workers[0]: field 'state' is 6, above the limit 5";
        w[QStringLiteral("state")] = 1;
        w[QStringLiteral("progress")] = 2.0;
        QTest::newRow("worker progress") << with(s, QStringLiteral("workers"), QCborArray{w})
                                         << "field 'progress' must be -1 or 0..1";
        QCborMap hello =
            QCborValue::fromCbor(
                encode(FromPublisher{Hello{
                    QStringLiteral("p"), 1, 2, QStringLiteral("c++"), QStringLiteral("r"), {}}}))
                .toMap();
        QTest::newRow("hello pools not array")
            << with(hello, QStringLiteral("pools"), 3) << "hello: field 'pools' must be an array";
        QTest::newRow("hello pool control")
            << with(hello, QStringLiteral("pools"),
                    QCborArray{QCborMap{{QStringLiteral("id"), 1},
                                        {QStringLiteral("name"), QStringLiteral("a")},
                                        {QStringLiteral("kind"), QStringLiteral("thread")},
                                        {QStringLiteral("max_workers"), 2},
                                        {QStringLiteral("control"), QCborArray{1}}}})
            << "hello.pools[0]: field 'control' must hold text, got integer";
    }
    void rejects()
    {
        QFETCH(QByteArray, payload);
        QFETCH(QString, message);
        QString error;
        QVERIFY(!decodeFromPublisher(payload, &error));
        QVERIFY2(error.contains(message), qPrintable(error));
    }

    void rejectsFromViewer_data()
    {
        QTest::addColumn<QByteArray>("payload");
        QTest::addColumn<QString>("message");
        QCborMap c = QCborValue::fromCbor(encode(FromViewer{Control{1, 2, "resize", 3}})).toMap();
        QCborMap noN = c;
        noN.remove(QStringLiteral("n"));
        QTest::newRow("resize without n") << payloadOf(noN) << "control: field 'n' is missing";
        QCborMap opInt = c;
        opInt[QStringLiteral("op")] = 1;
        QTest::newRow("op not text")
            << payloadOf(opInt) << "control: field 'op' must be text, got integer";
        QCborMap watch = QCborValue::fromCbor(encode(FromViewer{Watch{1}})).toMap();
        watch[QStringLiteral("pool")] = 1.5;
        QTest::newRow("watch float")
            << payloadOf(watch) << "watch: field 'pool' must be an unsigned integer, got float";
    }
    void rejectsFromViewer()
    {
        QFETCH(QByteArray, payload);
        QFETCH(QString, message);
        QString error;
        QVERIFY(!decodeFromViewer(payload, &error));
        QVERIFY2(error.contains(message), qPrintable(error));
    }

    void frameLimits()
    {
        protocol::FrameReader r(kPublisherMaxFrame);
        QByteArray big(4, '\0');
        qToBigEndian<quint32>(quint32(kPublisherMaxFrame + 1), big.data());
        r.feed(big);
        QString error;
        QCOMPARE(r.next(nullptr, &error), protocol::FrameReader::Status::Error);
        QVERIFY2(error.contains(QStringLiteral("oversized frame")), qPrintable(error));
        protocol::FrameReader ok(kViewerMaxFrame);
        ok.feed(frame(encode(FromPublisher{Bye{QStringLiteral("x")}})));
        QByteArray payload;
        QCOMPARE(ok.next(&payload, &error), protocol::FrameReader::Status::Frame);
        QVERIFY(decodeFromPublisher(payload, &error));
    }

    // ---------------------------------------------------------------- pure decisions

    void peerDecision_data()
    {
        QTest::addColumn<qint64>("peer");
        QTest::addColumn<qint64>("own");
        QTest::addColumn<bool>("allowed");
        QTest::addColumn<QString>("message");
        QTest::newRow("same user") << qint64(1000) << qint64(1000) << true << QString();
        QTest::newRow("root to user") << qint64(0) << qint64(1000) << false
                                      << "the viewer runs as uid 0 and this program as uid 1000";
        QTest::newRow("other user")
            << qint64(1001) << qint64(1000) << false << "only the same user may attach";
        QTest::newRow("unknown") << qint64(-1) << qint64(1000) << false << "could not be read";
    }
    void peerDecision()
    {
        QFETCH(qint64, peer);
        QFETCH(qint64, own);
        QFETCH(bool, allowed);
        QFETCH(QString, message);
        QString why;
        QCOMPARE(attachdetail::peerAllowed(peer, own, &why), allowed);
        QVERIFY2(why.contains(message), qPrintable(why));
    }

    void unsafeDirectory()
    {
        QTemporaryDir tmp;
        const QString dir = tmp.path() + QStringLiteral("/open");
        QVERIFY(QDir().mkdir(dir));
        QVERIFY(::chmod(QFile::encodeName(dir).constData(), 0777) == 0);
        QString error;
        QVERIFY(!attachdetail::checkDirectory(dir, true, &error));
        QVERIFY2(error.contains(dir) && error.contains(QStringLiteral("mode 0777"))
                     && error.contains(QStringLiteral("chmod 700")),
                 qPrintable(error));
        qputenv("POOLSCOPE_ATTACH_DIR", QFile::encodeName(dir));
        QVERIFY(attach::socketDirectory(&error).isEmpty());
        ThreadPoolExecutor pool(1);
        try {
            publish(&pool, QStringLiteral("x"));
            QFAIL("publish() into an unsafe directory did not throw");
        } catch (const Error& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(dir), e.what());
        }
        QStringList problems;
        QVERIFY(attach::listPublishers(500, &problems).isEmpty());
        QVERIFY(!problems.isEmpty() && problems.first().contains(dir));
        qputenv("POOLSCOPE_ATTACH_DIR", QFile::encodeName(m_dir));
    }

    // ---------------------------------------------------------------- in process

    void inProcessExact()
    {
        ThreadPoolExecutor pool(3);
        auto pub = publish(&pool, QStringLiteral("inproc"));
        QVERIFY(QFileInfo::exists(pub->socketPath()));
        QCOMPARE(QFileInfo(pub->socketPath()).permissions() & 0x0077, QFile::Permissions());
        AttachClient client;
        QVERIFY2(client.connectTo(pub->socketPath()), qPrintable(client.errorString()));
        QCOMPARE(client.publisher().pid, qint64(::getpid()));
        QCOMPARE(client.publisher().language, QStringLiteral("c++"));
        QCOMPARE(client.publisher().pools.size(), 1);
        QCOMPARE(client.publisher().pools.first().name, QStringLiteral("inproc"));
        auto attached = client.watch(pub->poolId());
        QVERIFY2(attached, qPrintable(client.errorString()));
        QCOMPARE(attached->kind(), QStringLiteral("thread"));
        auto monitor = viewerMonitor(attached.get());
        QSignalSpy updated(attached.get(), &AttachedPool::updated);
        QTRY_VERIFY_WITH_TIMEOUT(updated.count() > 0, kWait); // the publisher watches now

        constexpr int kTasks = 500;
        std::vector<Future<QString>> futures;
        for (int i = 0; i < kTasks; ++i) {
            futures.push_back(pool.submitWith(TaskOptions(i % 2 ? "odd" : "even"), [i] {
                if (i % 50 == 0)
                    throw std::runtime_error("boom " + std::to_string(i));
                return QStringLiteral("r%1").arg(i);
            }));
        }
        QVERIFY(pool.waitForIdle(Deadline::after(std::chrono::seconds(30))));
        const Counters own = pool.counters();
        QTRY_COMPARE_WITH_TIMEOUT(attached->counters().completed(), own.completed(), kWait);
        QTRY_COMPARE_WITH_TIMEOUT(monitor->record()->size(), quint64(kTasks), kWait);
        const Counters seen = attached->counters();
        QCOMPARE(seen.submitted, own.submitted);
        QCOMPARE(seen.succeeded, own.succeeded);
        QCOMPARE(seen.failed, own.failed);
        QCOMPARE(seen.failed, quint64(10));
        monitor->tick();
        const RunRecord& rec = *monitor->record();
        QVERIFY(rec.stats().complete());
        QCOMPARE(rec.totals().succeeded, own.succeeded);
        QCOMPARE(rec.totals().failed, own.failed);
        QSet<quint64> ids;
        QVERIFY(idsOnce(rec, &ids));
        for (const auto& f : futures)
            QVERIFY(ids.contains(f.id()));
        // Names and texts crossed over.
        int errors = 0, results = 0;
        for (quint64 i = 0; i < rec.size(); ++i) {
            const QString name = NameTable::name(rec.nameId(i));
            QVERIFY2(name == QLatin1StringView("odd") || name == QLatin1StringView("even"),
                     qPrintable(name));
            if (rec.status(i) == TaskStatus::Failed) {
                QVERIFY2(rec.error(i).contains(QStringLiteral("boom")), qPrintable(rec.error(i)));
                ++errors;
            } else if (rec.result(i).toString().startsWith(u'r')) {
                ++results;
            }
            QVERIFY(rec.startNs(i) <= rec.endNs(i));
        }
        QCOMPARE(errors, 10);
        QCOMPARE(results, kTasks - 10);
        // Submitting to the proxy fails with a clear message.
        auto f = attached->submitNamed(QStringLiteral("sleep"), {1});
        QVERIFY(f.done());
        try {
            f.result();
            QFAIL("no error");
        } catch (const Error& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("cannot submit")),
                     e.what());
        }
        // Unpublishing: the viewer hears bye when the last publication ends.
        QSignalSpy closed(&client, &AttachClient::closed);
        pub.reset();
        QTRY_COMPARE_WITH_TIMEOUT(closed.count(), 1, kWait);
        QCOMPARE(closed.first().at(1).toBool(), true);
        QVERIFY(attached->connectionClosed());
        QVERIFY(attached->isShutdown());
    }

    // PublishOptions::maxRowsPerSecond: a pool finishing more tasks a second
    // than the budget stops being recorded (its workers pay only counters),
    // and every task that became no row is counted and said (skipped), so
    // received + lost is every task; without a budget nothing is skipped.
    void rowBudgetSkipsAndSays_data()
    {
        QTest::addColumn<quint64>("budget");
        QTest::newRow("budget 2000 rows/s") << quint64(2000);
        QTest::newRow("no budget") << quint64(0);
    }
    void rowBudgetSkipsAndSays()
    {
        QFETCH(quint64, budget);
        ThreadPoolExecutor pool(2);
        PublishOptions o;
        o.maxRowsPerSecond = budget;
        auto pub = publish(&pool, QStringLiteral("budget"), o);
        AttachClient client;
        QVERIFY2(client.connectTo(pub->socketPath()), qPrintable(client.errorString()));
        auto attached = client.watch(pub->poolId());
        QVERIFY(attached);
        auto monitor = viewerMonitor(attached.get());
        QSignalSpy updated(attached.get(), &AttachedPool::updated);
        QTRY_VERIFY_WITH_TIMEOUT(updated.count() > 0, kWait);
        // Far more than 2000 tasks a second, for over a second (several
        // publisher intervals), then quiet.
        QElapsedTimer t;
        t.start();
        quint64 posted = 0;
        while (t.elapsed() < 1500) {
            for (int i = 0; i < 1000; ++i)
                pool.post([] {});
            posted += 1000;
            QCoreApplication::processEvents();
        }
        QVERIFY(pool.waitForIdle(Deadline::after(std::chrono::seconds(60))));
        QTRY_COMPARE_WITH_TIMEOUT(attached->counters().completed(), posted, kWait);
        // Every task is a row, or counted as not received.
        QTRY_COMPARE_WITH_TIMEOUT(
            [&] {
                monitor->tick();
                const RecordStats st = monitor->record()->stats();
                return st.seen + st.lost;
            }(),
            posted, kWait);
        const RecordStats st = monitor->record()->stats();
        QCOMPARE(st.lost, attached->lostRows());
        if (budget > 0) {
            QCOMPARE(attached->rowBudget(), budget);
            QVERIFY2(attached->skippedRows() > 0, "a budget of 2000 rows/s skipped nothing");
            QVERIFY(attached->skippedRows() <= st.lost);
            QVERIFY2(st.seen < posted / 2,
                     qPrintable(QStringLiteral("%1 of %2 recorded").arg(st.seen).arg(posted)));
        } else {
            QCOMPARE(attached->skippedRows(), quint64(0));
            QCOMPARE(attached->rowBudget(), quint64(0));
        }
    }

    // The program's own Monitor keeps every row whatever viewers do: a
    // viewer leaving (the publisher's Monitor detaching) and the row budget
    // turning the publisher's recording off used to switch the pool's one
    // recording flag off for everyone (review finding: the own Monitor then
    // saw 0 of 1000 tasks, not even counted as lost), and the publisher's
    // Monitor took rows from it (staged rows have one consumer).
    void ownMonitorSurvivesViewers_data()
    {
        QTest::addColumn<quint64>("budget");
        QTest::newRow("viewer leaves") << quint64(0);
        QTest::newRow("row budget exceeded, then viewer leaves") << quint64(1000);
    }
    void ownMonitorSurvivesViewers()
    {
        QFETCH(quint64, budget);
        ThreadPoolExecutor pool(2);
        auto own = viewerMonitor(&pool); // the program's own Monitor
        PublishOptions o;
        o.maxRowsPerSecond = budget;
        auto pub = publish(&pool, QStringLiteral("own"), o);
        {
            AttachClient client;
            QVERIFY(client.connectTo(pub->socketPath()));
            auto attached = client.watch(pub->poolId());
            QVERIFY(attached);
            QSignalSpy updated(attached.get(), &AttachedPool::updated);
            QTRY_VERIFY_WITH_TIMEOUT(updated.count() > 0, kWait);
            // The program's own Monitor records the pool: its rows stay
            // there (one consumer), and the viewer is told how many it did
            // not get, exactly.
            const quint64 doneBefore = pool.counters().completed();
            for (int i = 0; i < 100; ++i)
                pool.post([] {});
            QVERIFY(pool.waitForIdle(Deadline::after(std::chrono::seconds(30))));
            QTRY_COMPARE_WITH_TIMEOUT(attached->skippedRows(), doneBefore + 100, kWait);
            QCOMPARE(attached->lostRows(), attached->skippedRows());
            QCOMPARE(attached->rowBudget(), quint64(0));
            if (budget > 0) { // far above 1000 tasks a second for a while
                QElapsedTimer t;
                t.start();
                while (t.elapsed() < 300) {
                    for (int i = 0; i < 1000; ++i)
                        pool.post([] {});
                    QCoreApplication::processEvents();
                }
                QVERIFY(pool.waitForIdle(Deadline::after(std::chrono::seconds(60))));
                QTRY_VERIFY_WITH_TIMEOUT(updated.count() > 3, kWait);
            }
        } // the viewer leaves: the publisher's Monitor detaches
        // The publisher saw the viewer go and detached its Monitor.
        QTRY_COMPARE_WITH_TIMEOUT(attachdetail::publisherWatchedPools(), 0, kWait);
        own->tick(); // counts the rows its staging had no room for
        own->drainAll();
        const RecordStats before = own->record()->stats();
        QCOMPARE(before.seen + before.lost, pool.counters().completed());
        for (int i = 0; i < 1000; ++i)
            pool.post([] {});
        QVERIFY(pool.waitForIdle(Deadline::after(std::chrono::seconds(30))));
        own->tick();
        own->drainAll();
        const RecordStats after = own->record()->stats();
        QCOMPARE(after.seen + after.lost, before.seen + before.lost + 1000);
        QCOMPARE(after.lost, before.lost); // every one of the 1000 recorded
    }

    void ownMonitorAttachedDuringAWatch_data()
    {
        QTest::addColumn<quint64>("budget");
        QTest::newRow("no row budget") << quint64(0);
        QTest::newRow("row budget") << quint64(100'000);
    }
    void ownMonitorAttachedDuringAWatch()
    {
        // The program attaches its own recording Monitor while a viewer
        // watches: from then on every row is that Monitor's (the viewer is
        // told how many it did not get, exactly), and once it goes the
        // viewer gets rows again.
        QFETCH(quint64, budget);
        ThreadPoolExecutor pool(2);
        PublishOptions o;
        o.maxRowsPerSecond = budget;
        auto pub = publish(&pool, QStringLiteral("late"), o);
        AttachClient client;
        QVERIFY(client.connectTo(pub->socketPath()));
        auto attached = client.watch(pub->poolId());
        QVERIFY(attached);
        auto viewer = viewerMonitor(attached.get());
        QSignalSpy updated(attached.get(), &AttachedPool::updated);
        QTRY_VERIFY_WITH_TIMEOUT(updated.count() > 0, kWait);
        // Tasks of 0.3 ms: a batch spans several of the publisher's ticks.
        auto batch = [&pool](int n) {
            for (int i = 0; i < n; ++i)
                pool.post([] { std::this_thread::sleep_for(std::chrono::microseconds(300)); });
            return pool.waitForIdle(Deadline::after(std::chrono::seconds(30)));
        };
        QVERIFY(batch(200));
        QTRY_COMPARE_WITH_TIMEOUT(viewer->record()->size(), quint64(200), kWait);
        QCOMPARE(attached->skippedRows(), quint64(0));

        auto own = viewerMonitor(&pool); // the program's own, attached now
        QVERIFY(batch(1000));
        own->tick();
        own->drainAll();
        QCOMPARE(own->record()->stats().seen, quint64(1000)); // every one
        QCOMPARE(own->record()->stats().lost, quint64(0));
        QTRY_COMPARE_WITH_TIMEOUT(attached->skippedRows(), quint64(1000), kWait);
        QTRY_COMPARE_WITH_TIMEOUT(attached->counters().succeeded, quint64(1200), kWait);
        QCOMPARE(attached->rowBudget(), quint64(0)); // the reason: the program's own Monitor
        QCOMPARE(viewer->record()->size(), quint64(200));

        own.reset(); // the program's Monitor goes: rows reach the viewer again
        QVERIFY(batch(300));
        QTRY_COMPARE_WITH_TIMEOUT(viewer->record()->size(), quint64(500), kWait);
        QCOMPARE(attached->skippedRows(), quint64(1000));
        QCOMPARE(attached->rowBudget(), budget);
    }

    void reattach()
    {
        ThreadPoolExecutor pool(2);
        auto pub = publish(&pool, QStringLiteral("again"));
        auto runBatch = [&](int n) {
            std::vector<quint64> ids;
            for (int i = 0; i < n; ++i)
                ids.push_back(pool.submit([] { return 1; }).id());
            return ids;
        };
        QSet<quint64> second;
        Counters own;
        for (int round = 0; round < 2; ++round) {
            AttachClient client;
            QVERIFY2(client.connectTo(pub->socketPath()), qPrintable(client.errorString()));
            auto attached = client.watch(pub->poolId());
            QVERIFY(attached);
            auto monitor = viewerMonitor(attached.get());
            QSignalSpy updated(attached.get(), &AttachedPool::updated);
            QTRY_VERIFY_WITH_TIMEOUT(updated.count() > 0, kWait);
            const auto ids = runBatch(300);
            QVERIFY(pool.waitForIdle(Deadline::after(std::chrono::seconds(30))));
            own = pool.counters();
            QTRY_COMPARE_WITH_TIMEOUT(monitor->record()->size(), quint64(300), kWait);
            QTRY_COMPARE_WITH_TIMEOUT(attached->counters().succeeded, own.succeeded, kWait);
            QSet<quint64> got;
            QVERIFY(idsOnce(*monitor->record(), &got));
            for (quint64 id : ids)
                QVERIFY(got.contains(id)); // exactly this round's tasks
            QCOMPARE(attached->counters().submitted, quint64(300 * (round + 1)));
            monitor->detach();
        }
    }

    void controls()
    {
        ThreadPoolExecutor pool(2);
        std::mutex m;
        std::vector<Future<int>> held;
        PublishOptions o;
        o.control =
            QStringList{QStringLiteral("resize"), QStringLiteral("pause"), QStringLiteral("resume"),
                        QStringLiteral("step"), QStringLiteral("cancel_pending")};
        o.cancelPending = [&] {
            std::lock_guard lk(m);
            int n = 0;
            for (auto& f : held)
                n += f.cancel() ? 1 : 0;
            return n;
        };
        o.intervalMs = 20;
        auto pub = publish(&pool, QStringLiteral("ctl"), o);
        ThreadPoolExecutor roPool(1); // one publication per pool
        auto readOnly = publish(&roPool, QStringLiteral("ro"));
        AttachClient client;
        QVERIFY2(client.connectTo(pub->socketPath()), qPrintable(client.errorString()));
        QCOMPARE(client.publisher().pools.size(), 2);

        // Refused when not allowed, with the program, pid, op and pool named.
        auto ro = client.watch(readOnly->poolId());
        QVERIFY(ro);
        QVERIFY(!ro->allows(QStringLiteral("pause")));
        auto refused = [&](const std::function<void()>& op, const QString& name) {
            try {
                op();
            } catch (const Error& e) {
                const QString what = QString::fromUtf8(e.what());
                return what.startsWith(QStringLiteral("read-only: ")) && what.contains(name)
                       && what.contains(QStringLiteral("pid %1").arg(::getpid()))
                       && what.contains(QStringLiteral("pool 'ro'"));
            }
            return false;
        };
        QVERIFY(refused([&] { ro->pause(); }, QStringLiteral("'pause'")));
        QVERIFY(refused([&] { ro->resume(); }, QStringLiteral("'resume'")));
        QVERIFY(refused([&] { ro->step(); }, QStringLiteral("'step'")));
        QVERIFY(refused([&] { ro->setMaxWorkers(3); }, QStringLiteral("'resize'")));
        QVERIFY(refused([&] { ro->cancelPending(); }, QStringLiteral("'cancel_pending'")));
        QCOMPARE(pool.isPaused(), false);

        auto ctl = client.watch(pub->poolId());
        QVERIFY(ctl);
        QSignalSpy replies(&client, &AttachClient::controlReplied);
        QSignalSpy updated(ctl.get(), &AttachedPool::updated);
        QTRY_VERIFY_WITH_TIMEOUT(updated.count() > 0, kWait);
        QVERIFY_THROWS_EXCEPTION(InvalidArgument, ctl->setMaxWorkers(0));

        ctl->setMaxWorkers(3);
        QTRY_COMPARE_WITH_TIMEOUT(ctl->maxWorkers(), 3, kWait);
        QCOMPARE(pool.maxWorkers(), 3);
        QTRY_COMPARE_WITH_TIMEOUT(replies.count(), 1, kWait);
        QCOMPARE(replies.last().at(1).toBool(), true);

        ctl->pause();
        QTRY_VERIFY_WITH_TIMEOUT(ctl->isPaused(), kWait);
        QVERIFY(pool.isPaused());
        {
            std::lock_guard lk(m);
            for (int i = 0; i < 5; ++i)
                held.push_back(pool.submit([i] { return i; }));
        }
        QTRY_COMPARE_WITH_TIMEOUT(ctl->counters().queued, quint64(5), kWait);
        ctl->step();
        QTRY_COMPARE_WITH_TIMEOUT(ctl->counters().succeeded, quint64(1), kWait);
        QTRY_COMPARE_WITH_TIMEOUT(ctl->counters().queued, quint64(4), kWait);
        ctl->cancelPending();
        QTRY_COMPARE_WITH_TIMEOUT(ctl->counters().cancelled, quint64(4), kWait);
        ctl->resume();
        QTRY_VERIFY_WITH_TIMEOUT(!ctl->isPaused(), kWait);
        QVERIFY(!pool.isPaused());
        QTRY_COMPARE_WITH_TIMEOUT(replies.count(), 5, kWait);
        for (const auto& r : replies)
            QVERIFY2(r.at(1).toBool(), qPrintable(r.at(2).toString()));
    }

    void publisherRefusesBadFrames()
    {
        ThreadPoolExecutor pool(1);
        auto pub = publish(&pool, QStringLiteral("strict"));
        AttachClient good;
        QVERIFY(good.connectTo(pub->socketPath()));
        auto watched = good.watch(pub->poolId());
        QSignalSpy updated(watched.get(), &AttachedPool::updated);
        QTRY_VERIFY_WITH_TIMEOUT(updated.count() > 0, kWait);

        QLocalSocket raw;
        raw.connectToServer(pub->socketPath());
        QVERIFY(raw.waitForConnected(kWait));
        protocol::FrameReader reader(kViewerMaxFrame);
        auto nextFrame = [&]() -> std::optional<FromPublisher> {
            QElapsedTimer t;
            t.start();
            while (t.elapsed() < kWait) {
                QByteArray payload;
                QString error;
                if (reader.next(&payload, &error) == protocol::FrameReader::Status::Frame)
                    return decodeFromPublisher(payload, &error);
                if (!raw.waitForReadyRead(1000) && raw.state() != QLocalSocket::ConnectedState
                    && raw.bytesAvailable() == 0)
                    return std::nullopt;
                reader.feed(raw.readAll());
            }
            return std::nullopt;
        };
        auto hello = nextFrame();
        QVERIFY(hello && std::holds_alternative<Hello>(*hello));
        // An unknown type: an error frame, the connection stays.
        QCborMap unknown;
        unknown[QStringLiteral("v")] = 1;
        unknown[QStringLiteral("t")] = QStringLiteral("dance");
        raw.write(frame(payloadOf(unknown)));
        auto err = nextFrame();
        QVERIFY(err && std::holds_alternative<ErrorFrame>(*err));
        QVERIFY2(std::get<ErrorFrame>(*err).message.contains(QStringLiteral("'dance'")),
                 qPrintable(std::get<ErrorFrame>(*err).message));
        // A frame over 64 KiB: an error frame, then the publisher closes.
        QByteArray big(4, '\0');
        qToBigEndian<quint32>(quint32(1 << 20), big.data());
        raw.write(big);
        err = nextFrame();
        QVERIFY(err && std::holds_alternative<ErrorFrame>(*err));
        QVERIFY2(std::get<ErrorFrame>(*err).message.contains(QStringLiteral("oversized")),
                 qPrintable(std::get<ErrorFrame>(*err).message));
        QTRY_VERIFY_WITH_TIMEOUT(
            raw.state() == QLocalSocket::UnconnectedState || !raw.waitForReadyRead(10), kWait);
        // The other viewer is still served.
        const int before = updated.count();
        QTRY_VERIFY_WITH_TIMEOUT(updated.count() > before, kWait);
        QVERIFY(good.isConnected());
    }

    void stalledAndKilledViewers()
    {
        ThreadPoolExecutor pool(2);
        PublishOptions o;
        o.viewerBufferBytes = 64 * 1024;
        o.intervalMs = 10;
        auto pub = publish(&pool, QStringLiteral("busy"), o);
        attachdetail::resetPublisherPeak();

        // A viewer that reads everything.
        AttachClient good;
        QVERIFY(good.connectTo(pub->socketPath()));
        auto watched = good.watch(pub->poolId());
        auto monitor = viewerMonitor(watched.get());
        QSignalSpy updated(watched.get(), &AttachedPool::updated);
        QTRY_VERIFY_WITH_TIMEOUT(updated.count() > 0, kWait);

        // A stalled one (watches, never reads) and one that dies mid-stream.
        QLocalSocket stalled;
        stalled.connectToServer(pub->socketPath());
        QVERIFY(stalled.waitForConnected(kWait));
        stalled.write(frame(encode(FromViewer{Watch{pub->poolId()}})));
        QVERIFY(stalled.waitForBytesWritten(kWait));
        auto dying = std::make_unique<QLocalSocket>();
        dying->connectToServer(pub->socketPath());
        QVERIFY(dying->waitForConnected(kWait));
        dying->write(frame(encode(FromViewer{Watch{pub->poolId()}})));
        QVERIFY(dying->waitForBytesWritten(kWait));
        // Both watch once the good viewer sees a later snap.
        const int seen = updated.count();
        QTRY_VERIFY_WITH_TIMEOUT(updated.count() > seen + 2, kWait);

        constexpr int kTasks = 30000;
        const QString text(200, u'x');
        for (int i = 0; i < kTasks; ++i) {
            pool.post([] {});
            if (i == kTasks / 3)
                dying->abort(); // killed mid-stream
            if (i % 1000 == 0)
                pool.submit([text] { return text; }); // texts make big frames
        }
        dying.reset();
        QVERIFY(pool.waitForIdle(Deadline::after(std::chrono::seconds(60))));
        const Counters own = pool.counters();
        const quint64 total = own.completed();
        QTRY_COMPARE_WITH_TIMEOUT(watched->counters().completed(), total, kWait);
        QTRY_COMPARE_WITH_TIMEOUT(monitor->record()->size() + monitor->record()->stats().lost,
                                  total, kWait);
        // This viewer reads only between the test's own steps: whatever it
        // missed, the publisher said so and its Monitor counts it lost.
        QCOMPARE(monitor->record()->stats().lost, watched->lostRows());
        // Bounded: the stalled viewer's unsent bytes never passed its bound
        // by more than one frame (frames are cut at a few MiB).
        const qint64 peak = attachdetail::publisherPeakQueuedBytes();
        QVERIFY2(peak <= o.viewerBufferBytes + 5 * 1024 * 1024, qPrintable(QString::number(peak)));
        QVERIFY2(peak > o.viewerBufferBytes, qPrintable(QString::number(peak)));

        // Now the stalled viewer reads: what it got plus what it lost is
        // every task, and its counters are exact.
        protocol::FrameReader reader(kViewerMaxFrame);
        quint64 rows = 0, lost = 0, completed = 0;
        QElapsedTimer t;
        t.start();
        while (completed < total || rows + lost < total) {
            QVERIFY2(
                t.elapsed() < kWait,
                qPrintable(QStringLiteral("rows %1 lost %2 of %3").arg(rows).arg(lost).arg(total)));
            if (stalled.bytesAvailable() == 0)
                stalled.waitForReadyRead(200);
            reader.feed(stalled.readAll());
            QByteArray payload;
            QString error;
            while (reader.next(&payload, &error) == protocol::FrameReader::Status::Frame) {
                auto m = decodeFromPublisher(payload, &error);
                QVERIFY2(m, qPrintable(error));
                if (auto* s = std::get_if<Snap>(&*m)) {
                    rows += s->rows.size();
                    lost = s->lost;
                    completed = s->counters.succeeded + s->counters.failed + s->counters.cancelled;
                }
            }
        }
        QCOMPARE(rows + lost, total);
        QVERIFY2(lost > 0, "the stalled viewer lost nothing: the bound was never reached");
        QCOMPARE(completed, total);
    }

    // ---------------------------------------------------------------- other programs

    void demoChild_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::newRow("thread") << "thread";
        QTest::newRow("process") << "process";
    }

    // publish() in a program without a QCoreApplication: Qt's event loops
    // refuse to run without one, and the program hung waiting for the
    // publisher's thread. Now a clear error, at once.
    void noApplicationIsAClearError()
    {
        QProcess demo;
        demo.start(QStringLiteral(POOLSCOPE_ATTACH_DEMO), {QStringLiteral("--no-app")});
        QVERIFY(finished(demo));
        QCOMPARE(demo.exitCode(), 2);
        const QByteArray err = demo.readAllStandardError();
        QVERIFY2(err.contains("cannot publish: Qt's event loops need a QCoreApplication"),
                 err.constData());
    }
    void demoChild()
    {
        QFETCH(QString, kind);
        const int tasks = kind == QLatin1StringView("thread") ? 400 : 40;
        Demo demo =
            startDemo({"--pool", kind, "--workers", "2", "--tasks", QString::number(tasks),
                       "--task-ms", "1", "--fail-every", "7", "--wait-viewer", "--name", "child"});
        QVERIFY2(demo.error.isEmpty(), qPrintable(demo.error));
        AttachClient client;
        QVERIFY2(client.connectTo(demo.socketPath), qPrintable(client.errorString()));
        QCOMPARE(client.publisher().pid, qint64(demo.proc->processId()));
        QCOMPARE(client.publisher().program, QStringLiteral("poolscope-attach-demo"));
        auto attached = client.watch(demo.poolId);
        QVERIFY(attached);
        QCOMPARE(attached->kind(), kind);
        auto monitor = viewerMonitor(attached.get());
        QSignalSpy updated(attached.get(), &AttachedPool::updated);
        QSignalSpy closed(&client, &AttachClient::closed);
        QTRY_VERIFY_WITH_TIMEOUT(updated.count() > 0, kWait);
        demo.proc->write("go\n");
        const QJsonObject own = readJsonLine(*demo.proc);
        QVERIFY2(!own.isEmpty(), demo.proc->readAllStandardError().constData());
        QTRY_COMPARE_WITH_TIMEOUT(closed.count(), 1, kWait);
        QCOMPARE(closed.first().at(1).toBool(), true); // bye
        QVERIFY(finished(*demo.proc));
        QCOMPARE(demo.proc->exitCode(), 0);
        const Counters c = attached->counters();
        QCOMPARE(qint64(c.submitted), own.value("submitted").toInteger());
        QCOMPARE(qint64(c.succeeded), own.value("succeeded").toInteger());
        QCOMPARE(qint64(c.failed), own.value("failed").toInteger());
        QCOMPARE(qint64(c.cancelled), own.value("cancelled").toInteger());
        QCOMPARE(own.value("submitted").toInteger(), qint64(tasks));
        QTRY_COMPARE_WITH_TIMEOUT(monitor->record()->size(), quint64(tasks), kWait);
        QCOMPARE(qint64(monitor->record()->totals().failed), own.value("failed").toInteger());
        QSet<quint64> ids;
        QVERIFY(idsOnce(*monitor->record(), &ids));
    }

    void programCrashes()
    {
        // _exit() mid-run leaves the pool's threads running: under
        // ThreadSanitizer that is a "thread leak" by definition, not a bug.
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        if (env.contains(QStringLiteral("TSAN_OPTIONS")))
            env.insert(QStringLiteral("TSAN_OPTIONS"),
                       env.value(QStringLiteral("TSAN_OPTIONS"))
                           + QStringLiteral(":report_thread_leaks=0"));
        Demo demo =
            startDemo({"--tasks", "100", "--task-ms", "1", "--exit-crash", "--wait-viewer"}, env);
        QVERIFY2(demo.error.isEmpty(), qPrintable(demo.error));
        AttachClient client;
        QVERIFY2(client.connectTo(demo.socketPath), qPrintable(client.errorString()));
        auto attached = client.watch(demo.poolId);
        QSignalSpy closed(&client, &AttachClient::closed);
        QSignalSpy poolClosed(attached.get(), &AttachedPool::closed);
        demo.proc->write("go\n");
        QTRY_COMPARE_WITH_TIMEOUT(closed.count(), 1, kWait);
        QCOMPARE(closed.first().at(1).toBool(), false);
        const QString reason = closed.first().at(0).toString();
        QVERIFY2(reason.contains(QStringLiteral("without saying goodbye"))
                     && reason.contains(QStringLiteral("crashed")),
                 qPrintable(reason));
        QCOMPARE(poolClosed.count(), 1);
        QVERIFY(attached->connectionClosed());
        QCOMPARE(attached->closedReason(), reason);
        QVERIFY(finished(*demo.proc));
        QCOMPARE(demo.proc->exitCode(), 3);
        // Its socket is stale now: listing removes it.
        QVERIFY(QFileInfo::exists(demo.socketPath));
        attach::listPublishers(1000);
        QVERIFY(!QFileInfo::exists(demo.socketPath));
    }

    void listAndFind()
    {
        ThreadPoolExecutor pool(1);
        auto pub = publish(&pool, QStringLiteral("shared-name"));
        // A stale socket of a process that is gone.
        const QString stale = m_dir + QStringLiteral("/2147483000.sock");
        {
            QFile f(stale);
            QVERIFY(f.open(QIODevice::WriteOnly));
        }
        Demo demo = startDemo({"--name", "shared-name", "--wait-viewer"});
        QVERIFY2(demo.error.isEmpty(), qPrintable(demo.error));
        const qint64 childPid = demo.proc->processId();
        QStringList problems;
        const auto all = attach::listPublishers(5000, &problems);
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(u'\n')));
        QVERIFY(!QFileInfo::exists(stale));
        QCOMPARE(all.size(), 2);
        QCOMPARE(all[0].pid < all[1].pid, true);
        QString error;
        auto byPid = attach::findPublisher(QString::number(childPid), &error, 5000);
        QVERIFY2(byPid, qPrintable(error));
        QCOMPARE(byPid->program, QStringLiteral("poolscope-attach-demo"));
        QCOMPARE(byPid->pools.first().name, QStringLiteral("shared-name"));
        auto byName = attach::findPublisher(QStringLiteral("poolscope-attach-demo"), &error, 5000);
        QVERIFY2(byName && byName->pid == childPid, qPrintable(error));
        auto self = attach::findPublisher(QStringLiteral("tst_attach"), &error, 5000);
        QVERIFY2(self && self->pid == ::getpid(), qPrintable(error));
        QVERIFY(!attach::findPublisher(QStringLiteral("shared-name"), &error, 5000));
        QVERIFY2(error.contains(QStringLiteral("ambiguous"))
                     && error.contains(QStringLiteral("(pid %1)").arg(childPid)),
                 qPrintable(error));
        QVERIFY(!attach::findPublisher(QStringLiteral("nosuch"), &error, 5000));
        QVERIFY2(error.startsWith(QStringLiteral("no publisher named nosuch; running: "))
                     && error.contains(QStringLiteral("tst_attach (pid %1)").arg(::getpid())),
                 qPrintable(error));
        QVERIFY(!attach::findPublisher(QStringLiteral("1"), &error, 5000));
        QVERIFY2(error.contains(QStringLiteral("no publisher with pid 1")), qPrintable(error));
        demo.proc->write("go\n");
        QVERIFY(finished(*demo.proc));
        QCOMPARE(demo.proc->exitCode(), 0);
        QVERIFY(!QFileInfo::exists(demo.socketPath)); // removed on its way out
    }

    void publishFromEnvironment()
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("POOLSCOPE_PUBLISH"), QStringLiteral("1"));
        Demo demo = startDemo({"--env-only", "--wait-viewer"}, env);
        QVERIFY2(demo.error.isEmpty(), qPrintable(demo.error));
        QString error;
        auto found = attach::findPublisher(QString::number(demo.proc->processId()), &error, 5000);
        QVERIFY2(found, qPrintable(error));
        QCOMPARE(found->pools.size(), 1);
        QCOMPARE(found->pools.first().name, QStringLiteral("thread-1"));
        QVERIFY(found->pools.first().control.isEmpty()); // read-only
        AttachClient client;
        QVERIFY(client.connectTo(found->socketPath));
        auto attached = client.watch(found->pools.first().id);
        auto monitor = viewerMonitor(attached.get());
        QSignalSpy updated(attached.get(), &AttachedPool::updated);
        QSignalSpy closed(&client, &AttachClient::closed);
        QTRY_VERIFY_WITH_TIMEOUT(updated.count() > 0, kWait);
        demo.proc->write("go\n");
        const QJsonObject own = readJsonLine(*demo.proc);
        QTRY_COMPARE_WITH_TIMEOUT(closed.count(), 1, kWait);
        QCOMPARE(closed.first().at(1).toBool(), true);
        QTRY_COMPARE_WITH_TIMEOUT(qint64(monitor->record()->size()),
                                  own.value("submitted").toInteger(), kWait);
        QVERIFY(finished(*demo.proc));
        // Without the variable nothing is published.
        Demo quiet = startDemo({"--env-only", "--wait-viewer"});
        QVERIFY2(quiet.error.isEmpty(), qPrintable(quiet.error));
        QVERIFY(!attach::findPublisher(QString::number(quiet.proc->processId()), &error, 2000));
        quiet.proc->write("go\n");
        QVERIFY(finished(*quiet.proc));
    }

    void onePublicationPerPool()
    {
        // Two publications of one pool would run two Monitors on it (its
        // rows have one consumer): a second publish() is refused, clearly.
        ThreadPoolExecutor pool(1);
        auto first = publish(&pool, QStringLiteral("first"));
        try {
            auto second = publish(&pool, QStringLiteral("second"));
            QFAIL("a second publish() of the same pool was accepted");
        } catch (const InvalidArgument& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains(
                         QStringLiteral("already published as 'first'")),
                     e.what());
        }
        first.reset();
        auto again = publish(&pool, QStringLiteral("again")); // free once it is gone
        QVERIFY(again);

        // POOLSCOPE_PUBLISH=1 and an explicit publish() in the program: the
        // explicit one replaces the environment's (one pool listed, its
        // name), and the viewer gets every row.
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("POOLSCOPE_PUBLISH"), QStringLiteral("1"));
        Demo demo = startDemo({"--wait-viewer", "--name", "explicit"}, env);
        QVERIFY2(demo.error.isEmpty(), qPrintable(demo.error));
        QString error;
        auto found = attach::findPublisher(QString::number(demo.proc->processId()), &error, 5000);
        QVERIFY2(found, qPrintable(error));
        QCOMPARE(found->pools.size(), 1);
        QCOMPARE(found->pools.first().name, QStringLiteral("explicit"));
        AttachClient client;
        QVERIFY(client.connectTo(found->socketPath));
        auto attached = client.watch(found->pools.first().id);
        QVERIFY(attached);
        auto monitor = viewerMonitor(attached.get());
        QSignalSpy updated(attached.get(), &AttachedPool::updated);
        QTRY_VERIFY_WITH_TIMEOUT(updated.count() > 0, kWait);
        demo.proc->write("go\n");
        const QJsonObject own = readJsonLine(*demo.proc);
        QTRY_COMPARE_WITH_TIMEOUT(qint64(monitor->record()->size()),
                                  own.value("submitted").toInteger(), kWait);
        QCOMPARE(attached->skippedRows(), quint64(0));
        QVERIFY(finished(*demo.proc));
        QCOMPARE(demo.proc->exitCode(), 0);
    }

    void refusesOtherUsers()
    {
        if (::getuid() != 0)
            QSKIP("needs root: the refusal test runs the publisher as user nobody and connects "
                  "as root (CI runs as root)");
        struct passwd* nobody = ::getpwnam("nobody");
        if (!nobody)
            QSKIP("no user 'nobody' on this machine");
        const uid_t uid = nobody->pw_uid;
        const gid_t gid = nobody->pw_gid;
        // A directory both can use: owned by nobody, private to it (the
        // rules of docs/attach.md); root reaches it anyway.
        const QString dir = QStringLiteral("/tmp/poolscope-attach-test-%1").arg(::getpid());
        QDir(dir).removeRecursively();
        QVERIFY(QDir().mkdir(dir));
        QVERIFY(::chown(QFile::encodeName(dir).constData(), uid, gid) == 0);
        QVERIFY(::chmod(QFile::encodeName(dir).constData(), 0700) == 0);
        auto cleanup = qScopeGuard([dir] { QDir(dir).removeRecursively(); });
        // The demo must be reachable by nobody.
        for (QFileInfo fi(demoPath()); fi.absolutePath() != QLatin1StringView("/");
             fi = QFileInfo(fi.absolutePath())) {
            if (!(QFileInfo(fi.absolutePath()).permissions() & QFile::ExeOther))
                QSKIP(qPrintable(QStringLiteral("user nobody cannot reach %1 (%2 is not "
                                                "searchable by others)")
                                     .arg(demoPath(), fi.absolutePath())));
        }
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("POOLSCOPE_ATTACH_DIR"), dir);
        env.remove(QStringLiteral("XDG_RUNTIME_DIR"));
        Demo demo = startDemo({"--wait-viewer"}, env, [uid, gid] {
            if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)
                ::_exit(97);
        });
        QVERIFY2(demo.error.isEmpty(), qPrintable(demo.error));
        AttachClient client;
        QVERIFY(!client.connectTo(demo.socketPath));
        QVERIFY2(
            client.errorString().contains(
                QStringLiteral("the viewer runs as uid 0 and this program as uid %1").arg(uid)),
            qPrintable(client.errorString()));
        demo.proc->write("go\n");
        QVERIFY(finished(*demo.proc));
        QCOMPARE(demo.proc->exitCode(), 0);
    }
};

QTEST_MAIN(TestAttach)
#include "tst_attach.moc"
