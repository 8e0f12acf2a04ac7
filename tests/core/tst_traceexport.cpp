// Chrome Trace Event export / import and CSV (docs/architecture.md).
// The structural checks parse the output with QJsonDocument, independently of
// readChromeTrace, and are written for any trace, not just the scripted one.

#include <poolscope/traceexport.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSet>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <cmath>

using namespace poolscope;

namespace {

constexpr qint64 kOrigin = 5'000'000'000'000; // 5000 s after boot, ns

TaskSpan span(quint64 id, const char* name, int worker, qint64 enqueueUs, qint64 startNs,
              qint64 endNs, TaskStatus st = TaskStatus::Succeeded)
{
    TaskSpan s;
    s.taskId = id;
    s.nameId = NameTable::intern(QString::fromUtf8(name));
    s.worker = worker;
    s.enqueueNs = enqueueUs < 0 ? 0 : kOrigin + enqueueUs * 1000;
    s.startNs = kOrigin + startNs;
    s.endNs = kOrigin + endNs;
    s.status = st;
    s.core = qint16(worker % 2);
    s.cpuNs = (endNs - startNs) / 2;
    return s;
}

/// Several workers, every status, flows, odd names and args, overlapping
/// spans on one worker (clock skew) and a span of a worker not in the list.
TraceData scripted()
{
    TraceData d;
    d.title = QStringLiteral("scripted \"trace\"");
    d.poolKind = QStringLiteral("process");
    d.originNs = kOrigin;
    d.workers = {{0, QStringLiteral("worker-0"), 1001, 1001},
                 {1, QString(), 1002, 1002},
                 {2, QStringLiteral("w2 \"odd\"\tname"), 1003, 1003}};
    // ids, name, worker, enqueue (µs, -1 = unknown), start ns, end ns, status
    std::vector<TaskSpan> spans;
    spans.push_back(span(1, "prime_count", 0, 0, 1'000, 501'234));
    spans.push_back(span(2, "prime_count", 0, 1, 501'234, 900'000)); // touches #1
    spans.push_back(span(3, "mandelbrot", 1, 2, 2'500, 700'001, TaskStatus::Failed));
    spans.push_back(span(4, "mandelbrot", 1, -1, 650'000, 800'000));                  // overlaps #3
    spans.push_back(span(5, "sleep", 1, 3, 700'100, 700'100, TaskStatus::Cancelled)); // 0 ns
    spans.push_back(span(6, "na\"me\\ with\nnewline \x01 é 日本 🙂", 2, 4, 10'000, 20'007));
    spans.push_back(span(7, "prime_count", 5, 5, 30'000, 40'000)); // worker 5 not listed
    spans.push_back(span(8, "sleep", 2, 5, 30'000, 30'001));       // same enqueue ns as #7
    spans.push_back(span(9, "prime_count", 2, 6, 25'000, 26'000)); // out of order
    spans[1].gilWaitNs = 123'456;
    spans[3].cpuNs = -1; // not measured
    spans[6].core = -1;
    d.counters = {{kOrigin, 9, 0}, {kOrigin + 1'500, 7, 2}, {kOrigin + 900'000, 0, 0}};
    for (const TaskSpan& s : spans) {
        const QString args = s.taskId == 1   ? QStringLiteral("n=1000, m=\"2\"")
                             : s.taskId == 6 ? QStringLiteral("line1\nline2\t\u2028")
                                             : QString();
        const QString error =
            s.status == TaskStatus::Failed ? QStringLiteral("ValueError: x") : QString();
        d.record->add(s, args, {}, error);
    }
    return d;
}

qint64 usToNs(const QJsonValue& v)
{
    return qint64(std::llround(v.toDouble() * 1000.0));
}

struct Slice {
    qint64 ts;
    qint64 end;
    QString name;
};

/// tests/tools/check_exports.py on the given files: the independent reader.
/// Empty object (and *why) when it could not run or refused a file.
QJsonObject independentRead(const QStringList& args, QString* why)
{
    const QString python = QStandardPaths::findExecutable(QStringLiteral("python3"));
    if (python.isEmpty()) {
        *why = QStringLiteral("python3 not found");
        return {};
    }
    QProcess p;
    p.start(python, QStringList{QStringLiteral(CHECK_EXPORTS)} + args);
    if (!p.waitForFinished(600'000) || p.exitCode() != 0) {
        *why = QString::fromUtf8(p.readAllStandardError());
        return {};
    }
    return QJsonDocument::fromJson(p.readAllStandardOutput()).object();
}

bool haveProtoc()
{
    return !QStandardPaths::findExecutable(QStringLiteral("protoc")).isEmpty();
}

/// A record whose rows the reader of a Perfetto trace gives back in end
/// order: compare by id.
QHash<quint64, TaskSpan> byId(const RunRecord& r)
{
    QHash<quint64, TaskSpan> out;
    for (quint64 i = 0; i < r.size(); ++i)
        out.insert(r.taskId(i), r.span(i));
    return out;
}

} // namespace

class TstTraceExport : public QObject {
    Q_OBJECT
private slots:
    void structure()
    {
        const TraceData d = scripted();
        const QByteArray json = toChromeTrace(d);
        QJsonParseError pe;
        const QJsonDocument doc = QJsonDocument::fromJson(json, &pe);
        QVERIFY2(pe.error == QJsonParseError::NoError, qPrintable(pe.errorString()));
        QVERIFY(doc.isObject());
        const QJsonObject top = doc.object();
        QCOMPARE(top.value("displayTimeUnit").toString(), QStringLiteral("ms"));
        QCOMPARE(top.value("otherData").toObject().value("title").toString(), d.title);
        const QJsonArray events = top.value("traceEvents").toArray();
        QVERIFY(!events.isEmpty());

        QMap<QPair<qint64, qint64>, QList<Slice>> slices; // (pid, tid) -> X events
        QMap<QPair<qint64, qint64>, QString> threadNames;
        QMap<qint64, QString> processNames;
        QMap<qint64, qint64> flowOutTs, flowInTs; // bind_id -> ts (ns)
        int counters = 0;
        int taskSlices = 0;
        for (const QJsonValue& v : events) {
            QVERIFY(v.isObject());
            const QJsonObject e = v.toObject();
            const QString ph = e.value("ph").toString();
            QVERIFY(e.value("pid").isDouble());
            QVERIFY(e.value("tid").isDouble());
            const auto key =
                qMakePair(qint64(e.value("pid").toDouble()), qint64(e.value("tid").toDouble()));
            QVERIFY2(key.second != 0, "tid 0 is reserved by Perfetto");
            if (ph == QLatin1String("X")) {
                QVERIFY(e.value("ts").isDouble());
                QVERIFY2(e.value("dur").isDouble(), "X events need dur");
                QVERIFY(e.value("dur").toDouble() >= 0);
                const qint64 ts = usToNs(e.value("ts"));
                slices[key].append({ts, ts + usToNs(e.value("dur")), e.value("name").toString()});
                if (e.contains("bind_id")) {
                    const qint64 id = qint64(e.value("bind_id").toDouble());
                    const bool out = e.value("flow_out").toBool();
                    const bool in = e.value("flow_in").toBool();
                    QVERIFY(out != in);
                    auto& m = out ? flowOutTs : flowInTs;
                    QVERIFY2(!m.contains(id), "one flow per task");
                    m.insert(id, ts);
                }
                if (e.value("cat").toString() != QLatin1String("submit")) {
                    ++taskSlices;
                    const QJsonObject a = e.value("args").toObject();
                    for (const char* k : {"id", "core", "gil_wait_ms"})
                        QVERIFY2(a.value(k).isDouble(), k);
                    QCOMPARE(a.value("status").toString(), e.value("cat").toString());
                }
            } else if (ph == QLatin1String("C")) {
                ++counters;
                const QJsonObject a = e.value("args").toObject();
                QVERIFY(!a.isEmpty());
                for (const QJsonValue& c : a)
                    QVERIFY2(c.isDouble(), "counter args must be numeric");
            } else if (ph == QLatin1String("M")) {
                const QString what = e.value("name").toString();
                const QString name = e.value("args").toObject().value("name").toString();
                if (what == QLatin1String("thread_name"))
                    threadNames.insert(key, name);
                else if (what == QLatin1String("process_name"))
                    processNames.insert(key.first, name);
            }
        }
        QCOMPARE(taskSlices, int(d.size()));
        QCOMPARE(counters, d.counters.size());

        // Slices on one (pid, tid) nest or are disjoint, never partially overlap.
        for (auto it = slices.begin(); it != slices.end(); ++it) {
            auto& list = it.value();
            std::sort(list.begin(), list.end(), [](const Slice& a, const Slice& b) {
                return a.ts != b.ts ? a.ts < b.ts : a.end > b.end;
            });
            QList<Slice> stack;
            for (const Slice& s : list) {
                while (!stack.isEmpty() && stack.last().end <= s.ts)
                    stack.removeLast();
                if (!stack.isEmpty() && s.end > stack.last().end)
                    QFAIL(qPrintable(QStringLiteral("tid %1: '%2' partially overlaps '%3'")
                                         .arg(it.key().second)
                                         .arg(s.name, stack.last().name)));
                stack.append(s);
            }
            QVERIFY2(threadNames.contains(it.key()),
                     qPrintable(QStringLiteral("no thread_name for tid %1").arg(it.key().second)));
            QVERIFY(processNames.contains(it.key().first));
        }
        QCOMPARE(processNames.value(1), QStringLiteral("PoolScope process pool"));
        QVERIFY(threadNames.values().contains(QStringLiteral("worker-0")));
        QVERIFY(threadNames.values().contains(QStringLiteral("worker 1")));
        QVERIFY(threadNames.values().contains(QStringLiteral("worker 1 (overlap 1)")));
        QVERIFY(threadNames.values().contains(QStringLiteral("worker 5")));
        QVERIFY(threadNames.values().contains(QStringLiteral("submitter")));

        // Flows: every submit has its start, the start is not before the submit.
        int withEnqueue = 0;
        for (const TaskSpan s : *d.record)
            withEnqueue += s.enqueueNs > 0 ? 1 : 0;
        QCOMPARE(flowOutTs.size(), withEnqueue);
        QCOMPARE(flowOutTs.keys(), flowInTs.keys());
        for (auto it = flowOutTs.cbegin(); it != flowOutTs.cend(); ++it)
            QVERIFY(it.value() <= flowInTs.value(it.key()));
    }

    void microseconds()
    {
        // ts/dur are µs relative to originNs, printed exactly to the ns.
        TraceData d;
        d.originNs = kOrigin;
        d.record->add(span(42, "t", 0, -1, 1'234'567, 1'234'567 + 2'000'001));
        const QJsonArray events =
            QJsonDocument::fromJson(toChromeTrace(d)).object().value("traceEvents").toArray();
        bool found = false;
        for (const QJsonValue& v : events) {
            const QJsonObject e = v.toObject();
            if (e.value("ph").toString() != QLatin1String("X"))
                continue;
            found = true;
            QCOMPARE(e.value("ts").toDouble(), 1234.567);
            QCOMPARE(e.value("dur").toDouble(), 2000.001);
            QCOMPARE(e.value("args").toObject().value("cpu_ms").toDouble(), 1.0); // 1000000 ns
            QVERIFY(!e.contains("bind_id")); // no enqueue time, no flow
        }
        QVERIFY(found);
        QVERIFY(toChromeTrace(d).contains("\"ts\":1234.567,\"dur\":2000.001"));
    }

    void roundTrip()
    {
        const TraceData d = scripted();
        QString error = QStringLiteral("stale");
        const auto back = readChromeTrace(toChromeTrace(d), &error);
        QVERIFY2(back.has_value(), qPrintable(error));
        QVERIFY(error.isEmpty());
        QCOMPARE(back->title, d.title);
        QCOMPARE(back->poolKind, d.poolKind);
        QCOMPARE(back->originNs, d.originNs);
        QCOMPARE(back->workers, d.workers); // worker 5 was never listed: not added
        QCOMPARE(back->counters, d.counters);
        QCOMPARE(back->size(), d.size());
        QCOMPARE(back->record->stats().seen, d.record->stats().seen);
        QCOMPARE(back->record->totals().runNs, d.record->totals().runNs);
        QCOMPARE(back->record->totals().failed, quint64(1));
        for (quint64 i = 0; i < d.size(); ++i) {
            const TaskSpan a = d.record->span(i);
            const TaskSpan b = back->record->span(i);
            QCOMPARE(back->record->args(i), d.record->args(i));
            QCOMPARE(back->record->error(i), d.record->error(i));
            const QByteArray row = "span " + QByteArray::number(qulonglong(i));
            QVERIFY2(a.taskId == b.taskId, row);
            QVERIFY2(a.nameId == b.nameId, row);
            QVERIFY2(a.worker == b.worker, row);
            QVERIFY2(a.core == b.core, row);
            QVERIFY2(a.status == b.status, row);
            QVERIFY2(std::abs(a.startNs - b.startNs) < 1000, row); // exact in fact
            QVERIFY2(std::abs(a.endNs - b.endNs) < 1000, row);
            QVERIFY2(std::abs(a.enqueueNs - b.enqueueNs) < 1000, row);
            QVERIFY2(a.cpuNs == b.cpuNs, row);
            QVERIFY2(a.gilWaitNs == b.gilWaitNs, row);
            QCOMPARE(b.startNs, a.startNs);
            QCOMPARE(b.endNs, a.endNs);
            QCOMPARE(b.enqueueNs, a.enqueueNs);
        }
        QCOMPARE(NameTable::name(back->record->nameId(5)),
                 QString::fromUtf8("na\"me\\ with\nnewline \x01 é 日本 🙂"));
    }

    void tracksGroupedByHostAndRank()
    {
        // An MPI pool over two hosts: workers numbered in the order the
        // ranks answered, so indices interleave hosts. Each host/rank gets
        // its own track, tracks are ordered by host, then rank, and carry
        // both in their args; the slices of a rank are on its track only.
        TraceData d;
        d.poolKind = QStringLiteral("mpi");
        d.originNs = kOrigin;
        const struct {
            int index;
            const char* host;
            int rank;
        } ranks[] = {{0, "nodeB", 4}, {1, "nodeA", 2}, {2, "nodeB", 3}, {3, "nodeA", 1}};
        for (const auto& r : ranks) {
            TraceWorker w;
            w.index = r.index;
            w.name = QStringLiteral("%1/rank %2").arg(QLatin1String(r.host)).arg(r.rank);
            w.pid = 7000 + r.rank;
            w.tid = w.pid;
            d.workers.append(w);
            d.places.insert(r.index, TraceWorkerPlace{QString::fromLatin1(r.host), r.rank});
            for (int k = 0; k < 3; ++k)
                d.record->add(span(quint64(10 * r.index + k), "primes", r.index, k, 100'000 * k,
                                   100'000 * k + 50'000));
        }
        const QJsonArray events =
            QJsonDocument::fromJson(toChromeTrace(d)).object().value("traceEvents").toArray();
        QMap<qint64, QString> trackOfTid; // tid -> track name
        QMap<qint64, int> sortOfTid;
        QMap<QString, QPair<QString, int>> placeOfTrack; // name -> (host, rank)
        QMap<qint64, QSet<int>> workersOnTid;
        for (const QJsonValue& v : events) {
            const QJsonObject e = v.toObject();
            const QJsonObject args = e.value("args").toObject();
            const qint64 tid = e.value("tid").toInteger();
            if (e.value("ph") == QLatin1String("M")
                && e.value("name") == QLatin1String("thread_name") && tid != 1) {
                trackOfTid.insert(tid, args.value("name").toString());
                placeOfTrack.insert(args.value("name").toString(),
                                    {args.value("host").toString(), args.value("rank").toInt(-1)});
            } else if (e.value("ph") == QLatin1String("M")
                       && e.value("name") == QLatin1String("thread_sort_index")) {
                sortOfTid.insert(tid, args.value("sort_index").toInt());
            } else if (e.value("ph") == QLatin1String("X")
                       && e.value("cat") != QLatin1String("submit")) {
                workersOnTid[tid].insert(args.value("worker").toInt());
            }
        }
        QCOMPARE(trackOfTid.size(), 4); // one track per rank
        QStringList bySort;
        QList<qint64> tids = trackOfTid.keys();
        std::sort(tids.begin(), tids.end(),
                  [&](qint64 a, qint64 b) { return sortOfTid.value(a) < sortOfTid.value(b); });
        for (qint64 t : tids)
            bySort << trackOfTid.value(t);
        QCOMPARE(bySort,
                 (QStringList{"nodeA/rank 1", "nodeA/rank 2", "nodeB/rank 3", "nodeB/rank 4"}));
        QCOMPARE(placeOfTrack.value("nodeA/rank 2"), qMakePair(QStringLiteral("nodeA"), 2));
        QCOMPARE(placeOfTrack.value("nodeB/rank 4"), qMakePair(QStringLiteral("nodeB"), 4));
        QCOMPARE(workersOnTid.size(), 4);
        for (auto it = workersOnTid.cbegin(); it != workersOnTid.cend(); ++it) {
            QCOMPARE(it.value().size(), 1); // one worker's slices per track
            const int w = *it.value().cbegin();
            QCOMPARE(trackOfTid.value(it.key()), d.workers.at(w).name);
        }
        // Host and rank come back from the file.
        QString error;
        const auto back = readChromeTrace(toChromeTrace(d), &error);
        QVERIFY2(back, qPrintable(error));
        QList<TraceWorker> expect = d.workers;
        std::sort(expect.begin(), expect.end(),
                  [](const TraceWorker& a, const TraceWorker& b) { return a.index < b.index; });
        QCOMPARE(back->workers, expect);
        QCOMPARE(back->places, d.places);
        // A local pool's trace has no places, and its tracks stay in index order.
        QVERIFY(readChromeTrace(toChromeTrace(scripted()))->places.isEmpty());
    }

    void setWorkerPlacesCopiesHostAndRank()
    {
        TraceData d;
        d.workers = {TraceWorker{0, "a", 0, 0}, TraceWorker{1, "b", 0, 0},
                     TraceWorker{2, "c", 0, 0}};
        QHash<int, WorkerInfo> known;
        WorkerInfo w;
        w.index = 0; // a local worker: no host, no rank
        known.insert(0, w);
        w.index = 1;
        w.host = QStringLiteral("nodeA");
        w.rank = 3;
        known.insert(1, w);
        w.index = 7; // not in the trace
        known.insert(7, w);
        setWorkerPlaces(d, known);
        QCOMPARE(d.places.size(), 1);
        QCOMPARE(d.places.value(1), (TraceWorkerPlace{QStringLiteral("nodeA"), 3}));
    }

    void emptyTrace()
    {
        const TraceData d;
        const QByteArray json = toChromeTrace(d);
        QVERIFY(QJsonDocument::fromJson(json).isObject());
        QString error;
        const auto back = readChromeTrace(json, &error);
        QVERIFY2(back, qPrintable(error));
        QCOMPARE(back->size(), quint64(0));
        QVERIFY(back->workers.isEmpty());
    }

    void negativeDurationWrittenAsZero()
    {
        TraceData d;
        d.originNs = kOrigin;
        d.record->add(span(1, "t", 0, -1, 5'000, 4'000)); // end before start
        const auto back = readChromeTrace(toChromeTrace(d));
        QVERIFY(back);
        QCOMPARE(back->record->endNs(0), back->record->startNs(0));
    }

    void bigIds()
    {
        // Ids above 2^53 do not fit a JSON number exactly: written as strings.
        TraceData d;
        d.originNs = 0;
        TaskSpan big = span(quint64(1) << 60, "t", 0, 1, 5'000, 6'000);
        big.enqueueNs = 1000;
        big.startNs = 5000;
        big.endNs = 6000;
        d.record->add(big);
        const QByteArray json = toChromeTrace(d);
        // args.id in decimal; bind_id in hex, as Perfetto reads string ids.
        QVERIFY(json.contains("\"args\":{\"id\":\"1152921504606846976\""));
        QVERIFY(json.contains("\"bind_id\":\"1000000000000000\""));
        const auto back = readChromeTrace(json);
        QVERIFY(back);
        QCOMPARE(back->record->taskId(0), quint64(1) << 60);
    }

    void readerRejects_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("errorContains");

        auto ev = [](const char* event) { return QByteArray("{\"traceEvents\":[") + event + "]}"; };
        QTest::newRow("empty") << QByteArray() << "empty input";
        QTest::newRow("not JSON") << QByteArray("hello, world") << "not valid JSON";
        QTest::newRow("truncated")
            << QByteArray("{\"traceEvents\":[{\"ph\":\"X\"") << "not valid JSON";
        QTest::newRow("trailing garbage")
            << QByteArray("{\"traceEvents\":[]} xyz") << "not valid JSON";
        QTest::newRow("top-level number") << QByteArray("42") << "not valid JSON";
        QTest::newRow("top-level string") << QByteArray("\"x\"") << "not valid JSON";
        QTest::newRow("no traceEvents") << QByteArray("{\"events\":[]}") << "'traceEvents'";
        QTest::newRow("traceEvents object")
            << QByteArray("{\"traceEvents\":{}}") << "'traceEvents' is missing or not an array";
        QTest::newRow("otherData array")
            << QByteArray("{\"traceEvents\":[],\"otherData\":[]}") << "'otherData' is not";
        QTest::newRow("title number")
            << QByteArray("{\"traceEvents\":[],\"otherData\":{\"title\":1}}") << "title";
        QTest::newRow("originNs text")
            << QByteArray("{\"traceEvents\":[],\"otherData\":{\"originNs\":\"12x\"}}")
            << "originNs";
        QTest::newRow("originNs fraction")
            << QByteArray("{\"traceEvents\":[],\"otherData\":{\"originNs\":1.5}}") << "originNs";
        QTest::newRow("event not object") << ev("1") << "trace event 0: not an object";
        QTest::newRow("no ph") << ev("{\"name\":\"x\"}") << "'ph'";
        QTest::newRow("ph number") << ev("{\"ph\":88}") << "'ph'";
        QTest::newRow("ph long") << ev("{\"ph\":\"XX\"}") << "'ph'";
        QTest::newRow("tid string")
            << ev("{\"ph\":\"X\",\"tid\":\"main\",\"ts\":1,\"dur\":1}") << "'tid'";
        QTest::newRow("pid fraction")
            << ev("{\"ph\":\"X\",\"pid\":1.5,\"ts\":1,\"dur\":1}") << "'pid'";
        QTest::newRow("name number")
            << ev("{\"ph\":\"X\",\"name\":7,\"ts\":1,\"dur\":1}") << "'name'";
        QTest::newRow("X without dur") << ev("{\"ph\":\"X\",\"ts\":1}") << "'dur'";
        QTest::newRow("negative dur")
            << ev("{\"ph\":\"X\",\"ts\":1,\"dur\":-5}") << "'dur' must be a non-negative";
        QTest::newRow("dur string") << ev("{\"ph\":\"X\",\"ts\":1,\"dur\":\"5\"}") << "'dur'";
        QTest::newRow("ts string") << ev("{\"ph\":\"X\",\"ts\":\"1\",\"dur\":1}") << "'ts'";
        QTest::newRow("ts absurd") << ev("{\"ph\":\"X\",\"ts\":1e300,\"dur\":1}") << "'ts'";
        QTest::newRow("ts past int64")
            << QByteArray("{\"traceEvents\":[{\"ph\":\"X\",\"ts\":900000000000000,\"dur\":1}],"
                          "\"otherData\":{\"originNs\":\"9223372036854775000\"}}")
            << "out of range";
        QTest::newRow("args array")
            << ev("{\"ph\":\"X\",\"ts\":1,\"dur\":1,\"args\":[]}") << "'args' must be an object";
        QTest::newRow("negative id")
            << ev("{\"ph\":\"X\",\"ts\":1,\"dur\":1,\"args\":{\"id\":-1}}") << "args.id";
        QTest::newRow("fractional id")
            << ev("{\"ph\":\"X\",\"ts\":1,\"dur\":1,\"args\":{\"id\":1.5}}") << "args.id";
        QTest::newRow("id text") << ev(
            "{\"ph\":\"X\",\"ts\":1,\"dur\":1,\"args\":{\"id\":\"12a\"}}")
                                 << "args.id";
        QTest::newRow("core too big")
            << ev("{\"ph\":\"X\",\"ts\":1,\"dur\":1,\"args\":{\"core\":99999}}") << "args.core";
        QTest::newRow("cpu_ms string")
            << ev("{\"ph\":\"X\",\"ts\":1,\"dur\":1,\"args\":{\"cpu_ms\":\"1\"}}") << "cpu_ms";
        QTest::newRow("cpu_ms negative")
            << ev("{\"ph\":\"X\",\"ts\":1,\"dur\":1,\"args\":{\"cpu_ms\":-1}}") << "cpu_ms";
        QTest::newRow("gil_wait_ms bool")
            << ev("{\"ph\":\"X\",\"ts\":1,\"dur\":1,\"args\":{\"gil_wait_ms\":true}}")
            << "gil_wait_ms";
        QTest::newRow("args text number")
            << ev("{\"ph\":\"X\",\"ts\":1,\"dur\":1,\"args\":{\"args\":3}}") << "args.args";
        QTest::newRow("unknown status")
            << ev("{\"ph\":\"X\",\"ts\":1,\"dur\":1,\"args\":{\"status\":\"exploded\"}}")
            << "unknown task status 'exploded'";
        QTest::newRow("status number")
            << ev("{\"ph\":\"X\",\"ts\":1,\"dur\":1,\"args\":{\"status\":1}}") << "args.status";
        QTest::newRow("counter string")
            << ev("{\"ph\":\"C\",\"name\":\"queue\",\"ts\":1,\"args\":{\"queued\":\"7\"}}")
            << "counter args must be integers";
        QTest::newRow("counter without ts")
            << ev("{\"ph\":\"C\",\"name\":\"queue\",\"args\":{\"queued\":7}}") << "'ts'";
        QTest::newRow("thread_name without name")
            << ev("{\"ph\":\"M\",\"name\":\"thread_name\",\"tid\":2,\"args\":{}}") << "thread_name";
        QTest::newRow("worker index text") << ev("{\"ph\":\"M\",\"name\":\"thread_name\",\"tid\":2,"
                                                 "\"args\":{\"name\":\"w\",\"worker\":\"0\"}}")
                                           << "args.worker";
        QTest::newRow("rank text") << ev("{\"ph\":\"M\",\"name\":\"thread_name\",\"tid\":2,"
                                         "\"args\":{\"name\":\"w\",\"worker\":0,\"rank\":\"1\"}}")
                                   << "args.rank";
        QTest::newRow("negative rank") << ev("{\"ph\":\"M\",\"name\":\"thread_name\",\"tid\":2,"
                                             "\"args\":{\"name\":\"w\",\"worker\":0,\"rank\":-2}}")
                                       << "args.rank";
        QTest::newRow("host number") << ev("{\"ph\":\"M\",\"name\":\"thread_name\",\"tid\":2,"
                                           "\"args\":{\"name\":\"w\",\"worker\":0,\"host\":7}}")
                                     << "args.host";
        QTest::newRow("error in a later event")
            << ev("{\"ph\":\"X\",\"ts\":1,\"dur\":1},{\"ph\":\"X\",\"ts\":2,\"dur\":-1}")
            << "trace event 1:";
        QTest::newRow("missing comma")
            << QByteArray("{\"traceEvents\":[{\"ph\":\"X\",\"ts\":1,\"dur\":1} {}]}")
            << "',' or ']' expected after trace event 0";
        QTest::newRow("mismatched bracket")
            << QByteArray("{\"traceEvents\":[{\"ph\":\"X\"]]}") << "not valid JSON";
        QTest::newRow("unterminated string")
            << QByteArray("{\"traceEvents\":[{\"ph\":\"X}]}") << "unterminated string";
        QTest::newRow("bad member value")
            << QByteArray("{\"traceEvents\":[],\"x\":tru}") << "not valid JSON";
        QTest::newRow("member without colon")
            << QByteArray("{\"traceEvents\" []}") << "':' expected";
        QTest::newRow("traceEvents twice")
            << QByteArray("{\"traceEvents\":[],\"traceEvents\":[]}") << "appears twice";
        QTest::newRow("deep nesting") << QByteArray(100'000, '[') << "not valid JSON";
        {
            // More objects than kMaxTraceEvents allows: refused before parsing.
            QByteArray huge("[");
            const qsizetype n = 2 * kMaxTraceEvents + 20;
            huge.reserve(n * 3 + 2);
            for (qsizetype i = 0; i < n; ++i)
                huge.append(i ? ",{}" : "{}");
            huge.append(']');
            QTest::newRow("too many events") << huge << "more than 10000000 events";
        }
    }
    void readerRejects()
    {
        QFETCH(QByteArray, json);
        QFETCH(QString, errorContains);
        QString error;
        const auto r = readChromeTrace(json, &error);
        QVERIFY(!r.has_value());
        QVERIFY2(error.contains(errorContains), qPrintable(error));
    }

    void readerSurvivesMutations()
    {
        // A smoke version of the fuzzing to come: flipped bytes, truncations
        // and splices of a valid trace must give a result or an error, never
        // a crash (run under ASan/UBSan in the asan preset).
        const QByteArray good = toChromeTrace(scripted());
        QRandomGenerator rng(12345);
        int rejected = 0;
        for (int round = 0; round < 3000; ++round) {
            QByteArray m = good;
            switch (round % 4) {
            case 0: // flip a few bytes
                for (int k = 0; k < 1 + int(rng.bounded(4)); ++k)
                    m[rng.bounded(int(m.size()))] = char(rng.bounded(256));
                break;
            case 1: // truncate
                m.truncate(rng.bounded(int(m.size())));
                break;
            case 2: // duplicate a slice somewhere else
            {
                const int a = int(rng.bounded(int(m.size())));
                const int n = int(rng.bounded(int(m.size()) - a));
                m.insert(int(rng.bounded(int(m.size()))), good.mid(a, n));
                break;
            }
            default: // structural characters
                for (int k = 0; k < 3; ++k)
                    m[rng.bounded(int(m.size()))] = "{}[]\",:\\0-e"[rng.bounded(12)];
            }
            QString error;
            const auto r = readChromeTrace(m, &error);
            if (!r) {
                ++rejected;
                QVERIFY(!error.isEmpty());
            }
        }
        QVERIFY(rejected > 0);
    }

    void readerToleratesOtherTools()
    {
        // A bare array of another tool's events: unknown phases and categories
        // are not errors; spans without a PoolScope thread map to worker -1.
        const QByteArray json = "[{\"ph\":\"B\",\"ts\":1,\"pid\":3,\"tid\":4,\"name\":\"b\"},"
                                "{\"ph\":\"X\",\"cat\":\"v8\",\"ts\":1.5,\"dur\":2,\"pid\":3,"
                                "\"tid\":4,\"name\":\"compile\"},"
                                "{\"ph\":\"s\",\"id\":1,\"ts\":1,\"pid\":3,\"tid\":4}]";
        QString error;
        const auto r = readChromeTrace(json, &error);
        QVERIFY2(r, qPrintable(error));
        QCOMPARE(r->size(), quint64(1));
        QCOMPARE(r->record->startNs(0), qint64(1500));
        QCOMPARE(r->record->endNs(0), qint64(3500));
        QCOMPARE(r->record->worker(0), -1);
        QCOMPARE(NameTable::name(r->record->nameId(0)), QStringLiteral("compile"));
    }

    // What cannot be written is said before anything is written (the CLI
    // and the window ask before a run): a name longer than NAME_MAX, a path
    // longer than PATH_MAX; a name of exactly NAME_MAX bytes is written.
    void targetNamesTooLong_data()
    {
        QTest::addColumn<int>("nameBytes");
        QTest::addColumn<int>("folders"); // extra levels of 200-byte folder names (not made)
        QTest::addColumn<QString>("problem");
        QTest::newRow("255-byte name") << 255 << 0 << QString();
        QTest::newRow("256-byte name") << 256 << 0 << QStringLiteral("the file name is 256 bytes");
        QTest::newRow("4000-byte name") << 4000 << 0 << QStringLiteral("the file name is 4000");
        QTest::newRow("path over PATH_MAX") << 100 << 21 << QStringLiteral("the path is ");
    }
    void targetNamesTooLong()
    {
        QFETCH(int, nameBytes);
        QFETCH(int, folders);
        QFETCH(QString, problem);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QString path = dir.path();
        for (int i = 0; i < folders; ++i)
            path += QLatin1Char('/') + QString(200, QLatin1Char('d'));
        const QString name = QString(nameBytes - 4, QLatin1Char('n')) + QStringLiteral(".csv");
        path += QLatin1Char('/') + name;
        const QString why = exportTargetProblem(path);
        QString error;
        if (problem.isEmpty()) {
            QVERIFY2(why.isEmpty(), qPrintable(why));
            QVERIFY2(writeCsv(path, RunRecord(), 0, &error), qPrintable(error));
            QVERIFY(QFileInfo(path).isFile());
            return;
        }
        QVERIFY2(why.startsWith(problem), qPrintable(why));
        QVERIFY(!writeCsv(path, RunRecord(), 0, &error));
        QVERIFY2(error.contains(why), qPrintable(error));
    }

    // The kernel's protected_symlinks rule, made unconditional: a link in a
    // world-writable sticky folder is followed only when it belongs to the
    // writer or to the folder's owner.
    void foreignLinkRule_data()
    {
        QTest::addColumn<uint>("linkUid");
        QTest::addColumn<uint>("dirMode");
        QTest::addColumn<uint>("dirUid");
        QTest::addColumn<uint>("euid");
        QTest::addColumn<bool>("refused");
        const uint tmp = S_IFDIR | 01777, shared = S_IFDIR | 0777, mine = S_IFDIR | 0755;
        QTest::newRow("root, another user's link in /tmp") << 1000u << tmp << 0u << 0u << true;
        QTest::newRow("user, another user's link in /tmp") << 1001u << tmp << 0u << 1000u << true;
        QTest::newRow("own link in /tmp") << 1000u << tmp << 0u << 1000u << false;
        QTest::newRow("link of the folder's owner") << 1000u << tmp << 1000u << 0u << false;
        QTest::newRow("world-writable, not sticky") << 1000u << shared << 0u << 0u << false;
        QTest::newRow("sticky, not world-writable")
            << 1000u << uint(S_IFDIR | 01755) << 0u << 0u << false;
        QTest::newRow("private folder") << 1000u << mine << 0u << 0u << false;
    }
    void foreignLinkRule()
    {
        QFETCH(uint, linkUid);
        QFETCH(uint, dirMode);
        QFETCH(uint, dirUid);
        QFETCH(uint, euid);
        QFETCH(bool, refused);
        QCOMPARE(foreignLinkInSharedFolder(linkUid, dirMode, dirUid, euid), refused);
    }

    // The rule on a real link (root only: no one else can give a link to
    // another user): the export refuses it and the link's target is kept.
    void foreignLinkIsNotFollowed()
    {
        if (::geteuid() != 0)
            QSKIP("needs root to make a link owned by another user (the rule itself: "
                  "foreignLinkRule)");
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString shared = dir.filePath(QStringLiteral("tmp"));
        QVERIFY(QDir().mkdir(shared));
        QCOMPARE(::chmod(QFile::encodeName(shared).constData(), 01777), 0);
        const QString victim = dir.filePath(QStringLiteral("victim"));
        {
            QFile v(victim);
            QVERIFY(v.open(QIODevice::WriteOnly));
            v.write("precious");
        }
        const QString link = shared + QStringLiteral("/trace.json");
        QVERIFY(QFile::link(victim, link));
        QCOMPARE(::lchown(QFile::encodeName(link).constData(), 4242, 4242), 0);
        QString error;
        QVERIFY(!writeTrace(link, scripted(), &error));
        QVERIFY2(error.contains(QStringLiteral("symbolic link owned by another user (uid 4242)")),
                 qPrintable(error));
        QVERIFY(!writeCsv(link, RunRecord(), 0, &error));
        QFile v(victim);
        QVERIFY(v.open(QIODevice::ReadOnly));
        QCOMPARE(v.readAll(), QByteArray("precious"));
        // the same link owned by the writer is followed, as it always was
        QCOMPARE(::lchown(QFile::encodeName(link).constData(), 0, 0), 0);
        QVERIFY2(writeCsv(link, RunRecord(), 0, &error), qPrintable(error));
        QFile again(victim);
        QVERIFY(again.open(QIODevice::ReadOnly));
        QVERIFY(again.readAll().startsWith("id,task,"));
    }

    // A write that fails when the last buffered bytes go to disk (a full
    // file system; here the file size limit, which fails the same write()
    // with EFBIG) fails the export and leaves no file: QSaveFile::commit()
    // alone returned true and left a 0-byte file (issue #17).
    void writeErrorAtTheEndIsAnError_data()
    {
        QTest::addColumn<QString>("name");
        QTest::newRow("CSV") << QStringLiteral("tasks.csv");
        QTest::newRow("Chrome JSON") << QStringLiteral("trace.json");
        QTest::newRow("Perfetto") << QStringLiteral("trace.pftrace");
    }
    void writeErrorAtTheEndIsAnError()
    {
        QFETCH(QString, name);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString path = dir.filePath(name);
        const TraceData d = scripted();
        struct rlimit old = {};
        QCOMPARE(::getrlimit(RLIMIT_FSIZE, &old), 0);
        const auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
        struct rlimit small = old;
        small.rlim_cur = 16; // bytes: every export is larger, none fills Qt's write buffer
        QCOMPARE(::setrlimit(RLIMIT_FSIZE, &small), 0);
        QString error;
        const bool ok = name.endsWith(QStringLiteral(".csv"))
                            ? writeCsv(path, *d.record, d.originNs, &error)
                            : writeTrace(path, d, &error);
        QCOMPARE(::setrlimit(RLIMIT_FSIZE, &old), 0);
        std::signal(SIGXFSZ, oldHandler);
        QVERIFY(!ok);
        QVERIFY2(error.contains(path) && error.contains(QStringLiteral("too large")),
                 qPrintable(error));
        QVERIFY(!QFileInfo::exists(path));
        QCOMPARE(QDir(dir.path()).entryList(QDir::NoDotAndDotDot | QDir::AllEntries).size(), 0);
    }

    void writeFile()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const TraceData d = scripted();
        const QString path = dir.filePath(QStringLiteral("trace.json"));
        QString error = QStringLiteral("stale");
        QVERIFY2(writeChromeTrace(path, d, &error), qPrintable(error));
        QVERIFY(error.isEmpty());
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), toChromeTrace(d)); // streaming writer == in-memory one

        const QString bad = QStringLiteral("/nonexistent-dir/poolscope/trace.json");
        QVERIFY(!writeChromeTrace(bad, d, &error));
        QVERIFY2(error.contains(bad), qPrintable(error));
        QVERIFY(!writeCsv(bad, RunRecord(), 0, &error));
        QVERIFY2(error.contains(bad), qPrintable(error));

        // Not a regular file: refused, and left as it was (QSaveFile would
        // rename a regular file over it).
        const QString fifo = dir.filePath(QStringLiteral("pipe"));
        QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
        for (const QString& notFile : {fifo, dir.path()}) {
            QVERIFY(!writeChromeTrace(notFile, d, &error));
            QCOMPARE(error, QStringLiteral("cannot write trace to '%1': it exists and is not "
                                           "a regular file")
                                .arg(notFile));
            QVERIFY(!writeCsv(notFile, RunRecord(), 0, &error));
            QVERIFY2(error.startsWith(QStringLiteral("cannot write CSV")), qPrintable(error));
        }
        QVERIFY(QFileInfo(fifo).exists() && !QFileInfo(fifo).isFile());

        const QString csvPath = dir.filePath(QStringLiteral("tasks.csv"));
        QVERIFY2(writeCsv(csvPath, RunRecord(), 0, &error), qPrintable(error));
        QFile c(csvPath);
        QVERIFY(c.open(QIODevice::ReadOnly));
        QVERIFY(c.readAll().startsWith("id,task,args,status,"));
    }

    void csv_data()
    {
        QTest::addColumn<QString>("args");
        QTest::addColumn<QVariant>("result");
        QTest::addColumn<QString>("error");
        QTest::addColumn<QByteArray>("row");

        // Task: id 7, "prime_count", worker 1, core 0, queued 1.5 ms, ran
        // 2.000250 ms (-> 2.000), cpu 1.9996 ms (-> 2.000), GIL wait 0.0004 ms.
        QTest::newRow("plain") << QStringLiteral("n=5") << QVariant(42) << QString()
                               << QByteArray("7,prime_count,n=5,succeeded,42,,1,0,1.500,2.000,"
                                             "2.000,0.000");
        QTest::newRow("comma") << QStringLiteral("a=1,b=2") << QVariant(1.5) << QString()
                               << QByteArray("7,prime_count,\"a=1,b=2\",succeeded,1.5,,1,0,"
                                             "1.500,2.000,2.000,0.000");
        QTest::newRow("quotes") << QStringLiteral("s=\"x\"") << QVariant()
                                << QStringLiteral("ValueError: bad \"y\"")
                                << QByteArray("7,prime_count,\"s=\"\"x\"\"\",succeeded,,"
                                              "\"ValueError: bad \"\"y\"\"\",1,0,1.500,2.000,"
                                              "2.000,0.000");
        QTest::newRow("newlines") << QStringLiteral("a\nb") << QVariant(QStringLiteral("r\r\n"))
                                  << QString()
                                  << QByteArray("7,prime_count,\"a\nb\",succeeded,\"r\r\n\",,1,"
                                                "0,1.500,2.000,2.000,0.000");
        QTest::newRow("unicode") << QString::fromUtf8("π=3.14") << QVariant(true) << QString()
                                 << QByteArray("7,prime_count,π=3.14,succeeded,true,,1,0,"
                                               "1.500,2.000,2.000,0.000");
        QTest::newRow("no cheap text")
            << QString() << QVariant::fromValue(QPointF(1, 2)) << QString()
            << QByteArray("7,prime_count,,succeeded,<QPointF>,,1,0,"
                          "1.500,2.000,2.000,0.000");
    }
    void csv()
    {
        QFETCH(QString, args);
        QFETCH(QVariant, result);
        QFETCH(QString, error);
        QFETCH(QByteArray, row);
        TaskRecord r;
        r.span.taskId = 7;
        r.span.nameId = NameTable::intern(QStringLiteral("prime_count"));
        r.span.worker = 1;
        r.span.core = 0;
        r.span.enqueueNs = 1'000'000'000;
        r.span.startNs = r.span.enqueueNs + 1'500'000;
        r.span.endNs = r.span.startNs + 2'000'250;
        r.span.cpuNs = 1'999'600;
        r.span.gilWaitNs = 400;
        RunRecord rec;
        rec.add(r.span, args, result, error);
        const QByteArray out = toCsv(rec);
        const QByteArray header = "id,task,args,status,result,error,worker,core,queued_wait_ms,"
                                  "run_ms,cpu_ms,gil_wait_ms,submit_ms,start_ms,end_ms,"
                                  "sampled_1_in,run_tasks\r\n";
        QVERIFY(out.startsWith(header));
        // submit/start/end in ms from the origin (0 here), exact to the ns;
        // every row of a complete record stands for 1 task of a 1-task run.
        QCOMPARE(out.mid(header.size()), row + ",1000.000000,1001.500000,1003.500250,1,1\r\n");
    }

    void csvUnknowns()
    {
        // Unknown worker/core/enqueue/cpu are empty fields, not -1.
        TaskRecord r;
        r.span.taskId = 3;
        r.span.startNs = 10;
        r.span.endNs = 10;
        r.span.status = TaskStatus::Cancelled;
        r.span.cpuNs = -1;
        RunRecord rec;
        rec.add(r.span);
        const QByteArray out = toCsv(rec);
        QVERIFY2(out.endsWith("\r\n3,task,,cancelled,,,,,,0.000,,0.000,,0.000010,0.000010,1,1\r\n"),
                 out.constData());
    }

    void perfettoRoundTrip()
    {
        const TraceData d = scripted();
        QString error = QStringLiteral("stale");
        const QByteArray pb = toPerfettoTrace(d);
        QVERIFY(!pb.isEmpty());
        const auto back = readPerfettoTrace(pb, &error);
        QVERIFY2(back, qPrintable(error));
        QVERIFY(error.isEmpty());
        QCOMPARE(back->title, d.title);
        QCOMPARE(back->poolKind, d.poolKind);
        QCOMPARE(back->originNs, d.originNs);
        QCOMPARE(back->workers, d.workers);
        QCOMPARE(back->counters, d.counters);
        QCOMPARE(back->size(), d.size());
        const auto want = byId(*d.record);
        const auto got = byId(*back->record);
        for (auto it = want.cbegin(); it != want.cend(); ++it) {
            const TaskSpan& a = it.value();
            QVERIFY2(got.contains(it.key()), qPrintable(QStringLiteral("task %1").arg(it.key())));
            const TaskSpan b = got.value(it.key());
            QCOMPARE(b.startNs, a.startNs);
            QCOMPARE(b.endNs, std::max(a.startNs, a.endNs));
            QCOMPARE(b.enqueueNs, a.enqueueNs);
            QCOMPARE(b.worker, a.worker);
            QCOMPARE(b.core, a.core);
            QCOMPARE(b.status, a.status);
            QCOMPARE(b.cpuNs, a.cpuNs);
            QCOMPARE(b.gilWaitNs, a.gilWaitNs);
            QCOMPARE(b.nameId, a.nameId);
        }
        for (quint64 i = 0; i < back->size(); ++i) {
            const quint64 id = back->record->taskId(i);
            for (quint64 j = 0; j < d.size(); ++j) {
                if (d.record->taskId(j) == id) {
                    QCOMPARE(back->record->args(i), d.record->args(j));
                    QCOMPARE(back->record->error(i), d.record->error(j));
                }
            }
        }
        QCOMPARE(back->record->totals().runNs, d.record->totals().runNs);
        QCOMPARE(back->record->totals().failed, d.record->totals().failed);
        // Either format through readTrace(), told apart by content.
        QCOMPARE(readTrace(pb)->size(), d.size());
        QCOMPARE(readTrace(toChromeTrace(d))->size(), d.size());
        QVERIFY(!readTrace(QByteArray("hello")));
        QVERIFY(isPerfettoPath(QStringLiteral("/tmp/run.pftrace")));
        QVERIFY(isPerfettoPath(QStringLiteral("RUN.PERFETTO-TRACE")));
        QVERIFY(!isPerfettoPath(QStringLiteral("/tmp/run.json")));
    }

    void sampledRunSaysSoInEveryFormat()
    {
        // 100 tasks into a record that holds 10: a 1-in-16 sample. Every
        // file says so, and reading it back restores what the run was.
        TraceData d;
        d.originNs = kOrigin;
        d.record = std::make_shared<RunRecord>(10);
        for (int i = 1; i <= 100; ++i)
            d.record->add(span(quint64(i), "t", i % 2, i, 1'000 * i, 1'000 * i + 500));
        QCOMPARE(d.record->sampling(), quint64(16));
        const QString note = d.record->samplingNote();
        QCOMPARE(note, QStringLiteral("sample: 1 in 16 of 100 tasks"));
        for (const bool perfetto : {false, true}) {
            const QByteArray bytes = perfetto ? toPerfettoTrace(d) : toChromeTrace(d);
            QString error;
            const auto back = readTrace(bytes, &error);
            QVERIFY2(back, qPrintable(error));
            QCOMPARE(back->size(), d.size());
            QCOMPARE(back->record->sampling(), quint64(16));
            QCOMPARE(back->record->stats().seen, quint64(100));
            QCOMPARE(back->record->samplingNote(), note);
            QCOMPARE(back->record->totals().tasks, quint64(100));
            QCOMPARE(back->record->totals().runNs, qint64(500 * 100));
        }
        QVERIFY(toChromeTrace(d).contains("\"note\":\"sample: 1 in 16 of 100 tasks\""));
        const QByteArray csv = toCsv(*d.record, kOrigin);
        QCOMPARE(csv.count("\r\n"), qsizetype(1 + 6)); // header + ids 16, 32, ..., 96
        QVERIFY(csv.contains(",16,100\r\n"));          // sampled_1_in, run_tasks
    }

    void independentReaderAgrees()
    {
        // The written files, read by Python's csv and json and by protoc:
        // the same tasks, times and sampling as the record.
        if (!haveProtoc())
            QSKIP("protoc not found (scripts/setup-debian.sh installs protobuf-compiler)");
        QTemporaryDir dir;
        TraceData d;
        d.originNs = kOrigin;
        d.poolKind = QStringLiteral("thread");
        d.workers = {{0, QStringLiteral("w0"), 1, 1}, {1, QStringLiteral("w1"), 1, 2}};
        for (int i = 1; i <= 5000; ++i) {
            TaskSpan s = span(quint64(i), i % 3 ? "a" : "b", i % 2, i, 2'000 * (i / 2),
                              2'000 * (i / 2) + 1'500,
                              i % 7 == 0 ? TaskStatus::Failed : TaskStatus::Succeeded);
            d.record->add(s, {}, {}, i % 7 == 0 ? QStringLiteral("E: %1").arg(i) : QString());
        }
        const QString csv = dir.filePath(QStringLiteral("t.csv"));
        const QString json = dir.filePath(QStringLiteral("t.json"));
        const QString pb = dir.filePath(QStringLiteral("t.pftrace"));
        QString error;
        QVERIFY2(writeCsv(csv, *d.record, d.originNs, &error), qPrintable(error));
        QVERIFY2(writeTrace(json, d, &error), qPrintable(error));
        QVERIFY2(writeTrace(pb, d, &error), qPrintable(error));
        QString why;
        const QJsonObject r =
            independentRead({QStringLiteral("--csv"), csv, QStringLiteral("--json"), json,
                             QStringLiteral("--perfetto"), pb, QStringLiteral("--proto"),
                             QStringLiteral(PERFETTO_PROTO)},
                            &why);
        QVERIFY2(!r.isEmpty(), qPrintable(why));
        QCOMPARE(r.value("csv").toObject().value("rows").toInt(), 5000);
        QCOMPARE(r.value("csv").toObject().value("run_tasks").toInt(), 5000);
        QCOMPARE(r.value("csv").toObject().value("sampled_1_in").toInt(), 1);
        QCOMPARE(r.value("csv").toObject().value("statuses").toObject().value("failed").toInt(),
                 5000 / 7);
        QCOMPARE(r.value("json").toObject().value("slices").toInt(), 5000);
        QCOMPARE(r.value("json").toObject().value("tasks_meta").toInt(), 5000);
        QCOMPARE(r.value("perfetto").toObject().value("slices").toInt(), 5000);
        QCOMPARE(r.value("perfetto").toObject().value("tasks_meta").toInt(), 5000);
        // The first tasks: same id, start and end (ms from the origin) everywhere.
        for (const char* f : {"csv", "json", "perfetto"}) {
            const QJsonArray few = r.value(QLatin1String(f)).toObject().value("few").toArray();
            QCOMPARE(few.size(), 3);
            for (int k = 0; k < 3; ++k) {
                const QJsonArray t = few.at(k).toArray();
                const TaskSpan s = d.record->span(quint64(k));
                QCOMPARE(quint64(t.at(0).toDouble()), s.taskId);
                QVERIFY2(std::abs(t.at(1).toDouble() - double(s.startNs - kOrigin) / 1e6) < 1e-6,
                         f);
                if (t.size() > 2)
                    QVERIFY2(std::abs(t.at(2).toDouble() - double(s.endNs - kOrigin) / 1e6) < 1e-6,
                             f);
            }
        }
    }

    void perfettoReaderRejects_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("why");
        QTest::newRow("empty") << QByteArray() << "empty input";
        QTest::newRow("not a packet") << QByteArray("\x08\x01", 2) << "not a Perfetto trace";
        QTest::newRow("length past the end")
            << QByteArray("\x0A\x10\x01", 3) << "not a Perfetto trace";
        QTest::newRow("endless varint") << QByteArray(12, '\xFF') << "not a Perfetto trace";
        QTest::newRow("group wire type") << QByteArray("\x0A\x02\x0B\x00", 4) << "packet 0";
        QTest::newRow("bad track event")
            << QByteArray("\x0A\x04\x5A\x02\x48\xFF", 6) << "malformed track event";
    }
    void perfettoReaderRejects()
    {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, why);
        QString error;
        QVERIFY(!readPerfettoTrace(bytes, &error));
        QVERIFY2(error.contains(why), qPrintable(error));
    }

    void perfettoReaderSurvivesTruncation()
    {
        // Every prefix of a real trace: an error or a shorter trace, never a crash.
        const QByteArray pb = toPerfettoTrace(scripted());
        int accepted = 0;
        for (qsizetype n = 0; n < pb.size(); n += 7) {
            QString error;
            const auto r = readPerfettoTrace(pb.left(n), &error);
            if (r)
                ++accepted;
            else
                QVERIFY(!error.isEmpty());
        }
        QVERIFY(accepted > 0);
    }

    // Not a pass/fail test (docs/architecture.md): prints the time to serialise and
    // write a million spans.
    void timing1MSpans()
    {
        TraceData d;
        d.originNs = kOrigin;
        d.poolKind = QStringLiteral("thread");
        const int workers = 8;
        for (int w = 0; w < workers; ++w)
            d.workers.append({w, QStringLiteral("worker %1").arg(w), 100, 100 + w});
        const quint32 names[] = {NameTable::intern(QStringLiteral("prime_count")),
                                 NameTable::intern(QStringLiteral("mandelbrot_tile")),
                                 NameTable::intern(QStringLiteral("sleep"))};
        const int n = 1'000'000;
        d.record = std::make_shared<RunRecord>(n);
        for (int i = 0; i < n; ++i) {
            TaskSpan s;
            s.taskId = quint64(i + 1);
            s.nameId = names[i % 3];
            s.worker = i % workers;
            s.enqueueNs = kOrigin + qint64(i) * 1'000;
            s.startNs = kOrigin + qint64(i / workers) * 8'137 + 2'000'003;
            s.endNs = s.startNs + 8'000 + i % 97;
            s.cpuNs = 7'900 + i % 89;
            s.core = qint16(i % 2);
            s.status = i % 50 == 0 ? TaskStatus::Failed : TaskStatus::Succeeded;
            d.record->add(s);
            if (i % 10 == 0)
                d.counters.append({s.enqueueNs, qint64(n - i), qint64(workers)});
        }
        QElapsedTimer t;
        t.start();
        const QByteArray json = toChromeTrace(d);
        const qint64 serializeMs = t.elapsed();
        QTemporaryDir dir;
        t.restart();
        QString error;
        const bool ok = writeChromeTrace(dir.filePath(QStringLiteral("big.json")), d, &error);
        const qint64 writeMs = t.elapsed();
        QVERIFY2(ok, qPrintable(error));
        t.restart();
        QVERIFY2(writePerfettoTrace(dir.filePath(QStringLiteral("big.pftrace")), d, &error),
                 qPrintable(error));
        const qint64 perfettoMs = t.elapsed();
        qInfo("1M spans: toChromeTrace %lld ms, %.1f MB; writeChromeTrace (streamed) %lld ms; "
              "writePerfettoTrace (streamed) %lld ms, %.1f MB",
              serializeMs, double(json.size()) / 1e6, writeMs, perfettoMs,
              double(QFileInfo(dir.filePath(QStringLiteral("big.pftrace"))).size()) / 1e6);
    }
};

QTEST_GUILESS_MAIN(TstTraceExport)
#include "tst_traceexport.moc"
