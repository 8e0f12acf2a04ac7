// The complete run record (recording.h): the staging writer, the columnar
// RunRecord, sampling past the limit, and the TSC stamp conversion.
#include <poolscope/recording.h>

#include "stamps.h"

#include <QProcess>
#include <QtTest>

#include <atomic>
#include <bit>
#include <cstdio>
#include <cstring>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace poolscope;
using detail::RecordWriter;
using detail::StagedTask;

namespace {

StagedTask row(quint64 id, qint32 worker = 0, qint64 start = 0)
{
    StagedTask r;
    r.id = id;
    r.start = start ? start : qint64(1'000'000 + id * 1000);
    r.submit = r.start - 500;
    r.end = r.start + 300;
    r.worker = worker;
    r.core = qint16(id % 2);
    r.nameId = 0;
    r.status = quint8(TaskStatus::Succeeded);
    return r;
}

} // namespace

class TstRecording : public QObject {
    Q_OBJECT
private slots:
    void durationsRoundTrip_data();
    void durationsRoundTrip();
    void writerDeliversEveryRowInOrder_data();
    void writerDeliversEveryRowInOrder();
    void writerDropsAndCountsWhenFull();
    void writerConcurrentProducerAndConsumer();
    void writerTwoConsumersTakeEachRowOnce();
    void recordHoldsEveryRowUpToItsLimit();
    void recordCountsRowsItHasNoMemoryFor();
    void recordSamplesPastItsLimit_data();
    void recordSamplesPastItsLimit();
    void baseSamplingKeepsMultiplesOnly();
    void valuesAndTextsRoundTrip();
    void lanesFollowWorkers();
    void textsAndLanesSurviveResampling();
    void lostRowsAreSaid();
    void gilTurnsKeepAPrefix_data();
    void gilTurnsKeepAPrefix();
    void gilUseCutsTurnsToTheRange();
    void plainRowsFitTheByteBudget();
    void stampsConvertToMonotonicTime();
};

void TstRecording::durationsRoundTrip_data()
{
    QTest::addColumn<qint64>("ns");
    QTest::addColumn<qint64>("tolerance");
    QTest::newRow("0") << qint64(0) << qint64(0);
    QTest::newRow("1 ns") << qint64(1) << qint64(0);
    QTest::newRow("1.07 s, exact") << (qint64(1) << 30) - 1 << qint64(0);
    QTest::newRow("2 s, to the us") << qint64(2'000'000'123) << qint64(500);
    QTest::newRow("17 min, to the us") << qint64(1'020) * 1'000'000'000 + 777 << qint64(500);
    QTest::newRow("1 day, to the ms")
        << qint64(86'400) * 1'000'000'000 + 123'456 << qint64(500'000);
    QTest::newRow("1 year, to the s") << qint64(31'536'000) * 1'000'000'000 << qint64(500'000'000);
    QTest::newRow("negative is 0") << qint64(-5) << qint64(5);
}

void TstRecording::durationsRoundTrip()
{
    QFETCH(qint64, ns);
    QFETCH(qint64, tolerance);
    const quint32 v = detail::encodeDuration(ns);
    QVERIFY(v != detail::kUnknownDuration);
    const qint64 back = detail::decodeDuration(v);
    QVERIFY2(std::llabs(back - std::max<qint64>(0, ns)) <= tolerance,
             qPrintable(QStringLiteral("%1 -> %2").arg(ns).arg(back)));
    QCOMPARE(detail::decodeDuration(detail::kUnknownDuration), qint64(-1));
}

void TstRecording::writerDeliversEveryRowInOrder_data()
{
    QTest::addColumn<int>("rows");
    QTest::newRow("none") << 0;
    QTest::newRow("one") << 1;
    QTest::newRow("a chunk") << int(RecordWriter::kChunkRows);
    QTest::newRow("a chunk and one") << int(RecordWriter::kChunkRows) + 1;
    QTest::newRow("many chunks") << 100'000;
}

void TstRecording::writerDeliversEveryRowInOrder()
{
    QFETCH(int, rows);
    RecordWriter w(false);
    for (int i = 0; i < rows; ++i) {
        StagedTask* r = w.next();
        QVERIFY(r);
        *r = row(quint64(i + 1));
        if (i % 3 == 0) {
            r->texts = new detail::TaskTexts;
            r->texts->error = QStringLiteral("e%1").arg(i);
        }
        w.commit();
    }
    quint64 expect = 1;
    int texts = 0;
    const std::size_t n = w.drain([&](StagedTask& r) {
        QCOMPARE(r.id, expect++);
        if (r.texts) {
            QCOMPARE(r.texts->error, QStringLiteral("e%1").arg(r.id - 1));
            ++texts;
        }
    });
    QCOMPARE(n, std::size_t(rows));
    QCOMPARE(texts, (rows + 2) / 3);
    QCOMPARE(w.lost(), quint64(0));
    QCOMPARE(w.drain([](StagedTask&) {}), std::size_t(0)); // nothing twice
}

void TstRecording::writerDropsAndCountsWhenFull()
{
    const std::size_t cap = 4 * RecordWriter::kChunkRows;
    RecordWriter w(false, cap);
    QCOMPARE(w.maxRows(), cap);
    const int tries = int(cap) + 1000;
    int written = 0;
    for (int i = 0; i < tries; ++i) {
        if (StagedTask* r = w.next()) {
            *r = row(quint64(i + 1));
            w.commit();
            ++written;
        }
    }
    QCOMPARE(written, int(cap));
    QCOMPARE(w.lost(), quint64(1000));
    QCOMPARE(w.drain([](StagedTask&) {}), cap);
    // Drained chunks are reused: the writer takes rows again, still bounded.
    for (int i = 0; i < int(cap); ++i) {
        StagedTask* r = w.next();
        QVERIFY2(r, qPrintable(QStringLiteral("row %1 after a drain").arg(i)));
        *r = row(quint64(i));
        w.commit();
    }
    QCOMPARE(w.lost(), quint64(1000));
}

/// A thread that stages rows with ids 1..n into w, then sets done.
static std::thread produce(RecordWriter& w, quint64 n, std::atomic<bool>& done)
{
    return std::thread([&w, n, &done] {
        for (quint64 i = 1; i <= n; ++i) {
            StagedTask* r = w.next();
            if (!r)
                continue;
            *r = row(i);
            w.commit();
        }
        done.store(true);
    });
}

void TstRecording::writerConcurrentProducerAndConsumer()
{
    const quint64 n = 1'000'000;
    RecordWriter w(false, std::size_t(n) + RecordWriter::kChunkRows);
    std::atomic<bool> done{false};
    std::thread producer = produce(w, n, done);
    quint64 expect = 1;
    bool inOrder = true;
    auto eat = [&](StagedTask& r) {
        inOrder = inOrder && r.id == expect;
        ++expect;
    };
    while (!done.load())
        w.drain(eat);
    producer.join();
    w.drain(eat);
    QVERIFY(inOrder);
    QCOMPARE(expect - 1 + w.lost(), n);
    QCOMPARE(w.lost(), quint64(0));
}

void TstRecording::writerTwoConsumersTakeEachRowOnce()
{
    // Two Monitors of one pool may drain a writer at the same moment (one
    // attaching while the other is mid-drain): one gets in at a time, the
    // other takes nothing that time; every row reaches exactly one of them,
    // each in order (TSan sees the hand-over between the consumer threads).
    const quint64 n = 400'000;
    RecordWriter w(false, std::size_t(n) + RecordWriter::kChunkRows);
    std::atomic<bool> done{false};
    std::thread producer = produce(w, n, done);
    std::vector<quint8> seen(std::size_t(n) + 1, 0);
    std::atomic<quint64> lastId{0}; // rows come out in order whoever takes them
    std::atomic<bool> inOrder{true};
    auto consumer = [&] {
        auto eat = [&](const StagedTask* rows, std::size_t count) {
            for (std::size_t i = 0; i < count; ++i) {
                const quint64 id = rows[i].id;
                ++seen[std::size_t(id)]; // only the consumer inside drainRuns writes
                if (lastId.exchange(id) >= id)
                    inOrder = false;
            }
        };
        while (!done.load())
            w.drainRuns(eat, 700);
        while (w.drainRuns(eat) > 0) {
        }
    };
    std::thread a(consumer);
    std::thread b(consumer);
    producer.join();
    a.join();
    b.join();
    w.drainRuns([&](const StagedTask* rows, std::size_t count) {
        for (std::size_t i = 0; i < count; ++i)
            ++seen[std::size_t(rows[i].id)];
    });
    QVERIFY(inOrder.load());
    QCOMPARE(w.lost(), quint64(0));
    for (quint64 i = 1; i <= n; ++i)
        QVERIFY2(
            seen[std::size_t(i)] == 1,
            qPrintable(QStringLiteral("row %1 taken %2 times").arg(i).arg(seen[std::size_t(i)])));
}

void TstRecording::recordHoldsEveryRowUpToItsLimit()
{
    RunRecord rec(1000);
    for (quint64 i = 1; i <= 1000; ++i) {
        StagedTask r = row(i, int(i % 3));
        r.cpuNs = i % 2 ? qint64(i * 10) : -1;
        r.gilWaitNs = qint64(i);
        r.status = quint8(i % 5 == 0 ? TaskStatus::Failed : TaskStatus::Succeeded);
        rec.add(r);
    }
    QCOMPARE(rec.size(), quint64(1000));
    QCOMPARE(rec.sampling(), quint64(1));
    QVERIFY(rec.stats().complete());
    QVERIFY(rec.samplingNote().isEmpty());
    for (quint64 r = 0; r < rec.size(); ++r) {
        const quint64 id = r + 1;
        const TaskSpan s = rec.span(r);
        QCOMPARE(s.taskId, id);
        QCOMPARE(s.startNs, qint64(1'000'000 + id * 1000));
        QCOMPARE(s.enqueueNs, s.startNs - 500);
        QCOMPARE(s.endNs, s.startNs + 300);
        QCOMPARE(s.worker, qint32(id % 3));
        QCOMPARE(s.core, qint16(id % 2));
        QCOMPARE(s.cpuNs, id % 2 ? qint64(id * 10) : qint64(-1));
        QCOMPARE(s.gilWaitNs, qint64(id));
        QCOMPARE(s.status, id % 5 == 0 ? TaskStatus::Failed : TaskStatus::Succeeded);
    }
    const RunTotals& t = rec.totals();
    QCOMPARE(t.tasks, quint64(1000));
    QCOMPARE(t.failed, quint64(200));
    QCOMPARE(t.runNs, qint64(300 * 1000));
    QCOMPARE(t.queuedNs, qint64(500 * 1000));
    QCOMPARE(t.firstNs, qint64(1'000'000 + 1000 - 500));
    QCOMPARE(t.lastEndNs, qint64(1'000'000 + 1000 * 1000 + 300));
    QCOMPARE(t.cpuTasks, quint64(500));
    // The iterator yields the same rows.
    quint64 count = 0;
    for (const TaskSpan& s : rec)
        QCOMPARE(s.taskId, ++count);
    QCOMPARE(count, quint64(1000));
}

void TstRecording::recordSamplesPastItsLimit_data()
{
    QTest::addColumn<quint64>("limit");
    QTest::addColumn<quint64>("tasks");
    QTest::addColumn<quint64>("sampling");
    QTest::newRow("at the limit: complete") << quint64(1000) << quint64(1000) << quint64(1);
    QTest::newRow("one past: 1 in 2") << quint64(1000) << quint64(1001) << quint64(2);
    QTest::newRow("10x: 1 in 16") << quint64(10'000) << quint64(100'000) << quint64(16);
    QTest::newRow("limit 1") << quint64(1) << quint64(100) << quint64(64);
}

void TstRecording::recordSamplesPastItsLimit()
{
    QFETCH(quint64, limit);
    QFETCH(quint64, tasks);
    QFETCH(quint64, sampling);
    RunRecord rec(limit);
    quint64 generations = 0;
    quint64 lastGen = rec.generation();
    for (quint64 i = 1; i <= tasks; ++i) {
        StagedTask r = row(i, int(i % 4));
        rec.add(r);
        if (rec.generation() != lastGen) {
            ++generations;
            lastGen = rec.generation();
        }
    }
    QCOMPARE(rec.sampling(), sampling);
    QVERIFY(rec.size() <= limit);
    QCOMPARE(rec.size(), tasks / sampling); // the ids that are multiples of it
    for (quint64 r = 0; r < rec.size(); ++r)
        QCOMPARE(rec.taskId(r), (r + 1) * sampling);
    QCOMPARE(generations, quint64(std::countr_zero(sampling)));
    const RecordStats st = rec.stats();
    QCOMPARE(st.seen, tasks);
    QCOMPARE(st.rows, rec.size());
    // Totals stay exact whatever is held.
    QCOMPARE(rec.totals().tasks, tasks);
    QCOMPARE(rec.totals().runNs, qint64(300 * tasks));
    if (sampling == 1) {
        QVERIFY(rec.samplingNote().isEmpty());
    } else {
        QCOMPARE(rec.samplingNote(), QStringLiteral("sample: 1 in %1 of %2 tasks")
                                         .arg(QLocale(QLocale::English).toString(sampling),
                                              QLocale(QLocale::English).toString(tasks)));
    }
    // Lanes were rebuilt with the rows: every held row is in its worker's lane.
    quint64 inLanes = 0;
    for (qint32 w : rec.workers())
        inLanes += rec.laneRows(w)->size();
    QCOMPARE(inLanes, rec.size());
}

void TstRecording::baseSamplingKeepsMultiplesOnly()
{
    RunRecord rec(RunRecord::kDefaultLimit, 10);
    for (quint64 i = 1; i <= 1000; ++i) {
        StagedTask r = row(i);
        rec.add(r);
    }
    QCOMPARE(rec.size(), quint64(100));
    QCOMPARE(rec.taskId(0), quint64(10));
    QCOMPARE(rec.sampling(), quint64(10));
    QCOMPARE(rec.stats().seen, quint64(1000));
    QVERIFY(rec.samplingNote().startsWith(QStringLiteral("sample: 1 in 10 of 1,000 tasks")));
}

void TstRecording::valuesAndTextsRoundTrip()
{
    RunRecord rec;
    auto add = [&](quint64 id, const QVariant& v, const QString& args = {},
                   const QString& error = {}) {
        StagedTask r = row(id);
        detail::setStagedValue(r, v);
        if (!args.isEmpty() || !error.isEmpty()) {
            if (!r.texts)
                r.texts = new detail::TaskTexts;
            r.texts->args = args;
            r.texts->error = error;
        }
        rec.add(r);
        delete r.texts;
    };
    add(1, QVariant(42));
    add(2, QVariant(quint64(1) << 63));
    add(3, QVariant(2.5));
    add(4, QVariant(true));
    add(5, QVariant(QStringLiteral("πi ✓")));
    add(6, QVariant(), QStringLiteral("[1, 2]"), QStringLiteral("std::runtime_error: bad"));
    add(7, QVariant(7), QStringLiteral("[7]")); // a scalar beside args: kept as text
    add(8, QVariant());
    QCOMPARE(rec.result(0).toLongLong(), 42);
    QCOMPARE(rec.result(1).toULongLong(), quint64(1) << 63);
    QCOMPARE(rec.result(2).toDouble(), 2.5);
    QCOMPARE(rec.result(3).toBool(), true);
    QCOMPARE(rec.result(4).toString(), QStringLiteral("πi ✓"));
    QCOMPARE(rec.args(5), QStringLiteral("[1, 2]"));
    QCOMPARE(rec.error(5), QStringLiteral("std::runtime_error: bad"));
    QVERIFY(!rec.result(5).isValid());
    QCOMPARE(rec.args(6), QStringLiteral("[7]"));
    QCOMPARE(rec.result(6).toString(), QStringLiteral("7"));
    QVERIFY(!rec.result(7).isValid());
    QVERIFY(!rec.hasTexts(7));
    const TaskRecord full = rec.record(5);
    QCOMPARE(full.span.taskId, quint64(6));
    QCOMPARE(full.args, QStringLiteral("[1, 2]"));
    QCOMPARE(full.error, QStringLiteral("std::runtime_error: bad"));
}

void TstRecording::lanesFollowWorkers()
{
    RunRecord rec;
    for (quint64 i = 1; i <= 30; ++i) {
        StagedTask r = row(i, int(i % 3) - 1); // workers -1, 0, 1
        rec.add(r);
    }
    QCOMPARE(rec.workers(), (QList<qint32>{-1, 0, 1}));
    for (qint32 w : rec.workers()) {
        const auto* lane = rec.laneRows(w);
        QVERIFY(lane);
        QCOMPARE(lane->size(), std::size_t(10));
        quint32 prev = 0;
        for (quint32 r : *lane) {
            QCOMPARE(rec.worker(r), w);
            QVERIFY(r >= prev);
            prev = r;
        }
    }
    QVERIFY(!rec.laneRows(7));
}

void TstRecording::textsAndLanesSurviveResampling()
{
    // 20,000 rows with texts and values into a record of 1,000: re-sampled
    // five times; every kept row keeps its own texts, value, CPU time and
    // lane, and the dropped rows' texts do not pile up.
    RunRecord rec(1000);
    for (quint64 i = 1; i <= 20'000; ++i) {
        StagedTask r = row(i, int(i % 3));
        r.cpuNs = i % 5 ? qint64(i) : -1;
        if (i % 2) {
            r.texts = new detail::TaskTexts;
            r.texts->args = QStringLiteral("[%1]").arg(i);
            r.texts->error = QStringLiteral("E%1").arg(i);
        } else {
            detail::setStagedValue(r, QVariant(qint64(i * 3)));
        }
        rec.add(r);
        delete r.texts;
    }
    QCOMPARE(rec.sampling(), quint64(32));
    QCOMPARE(rec.size(), quint64(20'000 / 32));
    for (quint64 r = 0; r < rec.size(); ++r) {
        const quint64 id = rec.taskId(r);
        QCOMPARE(id % 32, quint64(0)); // even: values, not texts
        QCOMPARE(rec.result(r).toLongLong(), qint64(id * 3));
        QCOMPARE(rec.cpuNs(r), id % 5 ? qint64(id) : qint64(-1));
        QCOMPARE(rec.worker(r), qint32(id % 3));
        QVERIFY(!rec.hasTexts(r));
    }
    quint64 inLanes = 0;
    for (qint32 w : rec.workers()) {
        for (quint32 r : *rec.laneRows(w))
            QCOMPARE(rec.worker(r), w);
        inLanes += rec.laneRows(w)->size();
    }
    QCOMPARE(inLanes, rec.size());
    // The same with texts kept: odd sampling bases keep odd ids.
    RunRecord odd(100, 3);
    for (quint64 i = 1; i <= 3000; ++i) {
        StagedTask r = row(i);
        r.texts = new detail::TaskTexts;
        r.texts->args = QStringLiteral("args of %1").arg(i);
        odd.add(r);
        delete r.texts;
    }
    QVERIFY(odd.sampling() > 3);
    for (quint64 r = 0; r < odd.size(); ++r)
        QCOMPARE(odd.args(r), QStringLiteral("args of %1").arg(odd.taskId(r)));
    // Texts of dropped rows were given back: the arena holds about the kept
    // rows' texts (each "args of NNNN" + 3 length bytes = 15), not 3,000 rows'.
    QVERIFY2(odd.textBytes() <= 2 * 15 * odd.size(),
             qPrintable(
                 QStringLiteral("%1 text bytes for %2 rows").arg(odd.textBytes()).arg(odd.size())));
}

namespace {
/// A batch of `n` back-to-back 5 ms turns from `t0` (ns), workers round
/// robin over `workers`, each having queued since the previous turn's start.
detail::GilTurnBatch turnBatch(qint64 t0, int n, int workers, qint64 takenAt = 0)
{
    detail::GilTurnBatch b;
    for (int i = 0; i < n; ++i) {
        const qint64 s = t0 + qint64(i) * 5'000'000;
        b.turns.push_back({i > 0 ? s - 5'000'000 : 0, s, s + 5'000'000, qint32(i % workers)});
    }
    b.takenAt = takenAt ? takenAt : t0 + qint64(n) * 5'000'000;
    return b;
}
} // namespace

void TstRecording::gilTurnsKeepAPrefix_data()
{
    QTest::addColumn<quint64>("limit");
    QTest::addColumn<int>("lost");
    QTest::addColumn<quint64>("held");
    QTest::addColumn<quint64>("seen");
    QTest::addColumn<int>("untilMs"); // after t0
    QTest::addColumn<QString>("note");
    QTest::newRow("all held") << quint64(1000) << 0 << quint64(40) << quint64(40) << 200
                              << QString();
    QTest::newRow("past the limit") << quint64(25) << 0 << quint64(25) << quint64(40) << 125
                                    << QStringLiteral("GIL turns: first 25 of 40 shown");
    QTest::newRow("lost in the GIL's buffer")
        << quint64(1000) << 7 << quint64(40) << quint64(47) << 200
        << QStringLiteral("GIL turns: first 40 of 47 shown (7 lost: the monitor fell behind)");
    QTest::newRow("big numbers grouped")
        << quint64(200'000) << 340'472 << quint64(40) << quint64(340'512) << 200
        << QStringLiteral("GIL turns: first 40 of 340,512 shown (340,472 lost: the monitor "
                          "fell behind)");
}

void TstRecording::gilTurnsKeepAPrefix()
{
    QFETCH(quint64, limit);
    QFETCH(int, lost);
    QFETCH(quint64, held);
    QFETCH(quint64, seen);
    QFETCH(int, untilMs);
    QFETCH(QString, note);
    RunRecord r;
    QVERIFY(!r.hasGilTurns());
    r.setGilTurnLimit(limit);
    constexpr qint64 t0 = 1'000'000'000;
    constexpr qint64 ms = 1'000'000;
    // Two takes of 20 turns; the turns lost (if any) after the second
    // take's (the GIL's buffer was full then).
    r.addGilTurns(turnBatch(t0, 20, 4), nullptr);
    QVERIFY(r.hasGilTurns());
    QCOMPARE(r.gilTurnsUntilNs(), t0 + 100 * ms);
    detail::GilTurnBatch b = turnBatch(t0 + 100 * ms, 20, 4, t0 + 250 * ms);
    if (lost) {
        b.lost = quint64(lost);
        b.firstLostStart = t0 + 200 * ms;
    }
    r.addGilTurns(b, nullptr);
    const GilTurnStats st = r.gilTurnStats();
    QCOMPARE(st.held, held);
    QCOMPARE(st.seen, seen);
    QCOMPARE(st.lost, quint64(lost));
    QCOMPARE(st.complete(), held == seen);
    QCOMPARE(r.gilTurnNote(), note);
    quint64 inLanes = 0;
    for (qint32 w : r.gilTurnWorkers())
        inLanes += r.gilTurns(w)->size();
    QCOMPARE(inLanes, held);
    QCOMPARE(r.gilTurnWorkers(), (QList<qint32>{0, 1, 2, 3}));
    // Complete up to the take, or to the first turn not held.
    QCOMPARE(r.gilTurnsUntilNs(), held == seen ? t0 + 250 * ms : t0 + untilMs * ms);
    // A third take adds nothing once a turn was dropped: a prefix, no gaps.
    r.addGilTurns(turnBatch(t0 + 300 * ms, 4, 4), nullptr);
    QCOMPARE(r.gilTurnStats().held, held == seen ? held + 4 : held);
    QCOMPARE(r.gilTurnStats().seen, seen + 4);
    // Replay's copy keeps them.
    const auto copy = r.copyInEndOrder();
    QCOMPARE(copy->gilTurnStats().held, r.gilTurnStats().held);
    QCOMPARE(copy->gilTurnNote(), r.gilTurnNote());
    QVERIFY(r.bytes() >= r.gilTurnStats().held * 20);
}

void TstRecording::gilUseCutsTurnsToTheRange()
{
    RunRecord r;
    constexpr qint64 ms = 1'000'000;
    detail::GilTurnBatch b;
    // Worker 0: holds [0, 5) ms, queues [5, 10), holds [10, 15); worker 1
    // the other way round; worker 1 holds the GIL at the take (20 ms),
    // worker 0 queues for it since 15 ms.
    b.turns = {{0, 1 * ms, 5 * ms, 0}, {1 * ms, 5 * ms, 10 * ms, 1}, {5 * ms, 10 * ms, 15 * ms, 0}};
    b.takenAt = 20 * ms;
    b.openWorker = 1;
    b.openStart = 15 * ms;
    b.openWaitStart = 10 * ms;
    b.waiting = {{0, 15 * ms}};
    r.addGilTurns(b, nullptr);
    QCOMPARE(r.gilTurnsUntilNs(), 20 * ms);
    GilUse u = r.gilUse(0, 0, 20 * ms);
    QCOMPARE(u.turns, quint64(2));
    QCOMPARE(u.heldNs, 9 * ms);
    QCOMPARE(u.waitedNs, 5 * ms + 5 * ms); // before its second turn, and since 15 ms
    u = r.gilUse(0, 3 * ms, 12 * ms);
    QCOMPARE(u.turns, quint64(2));
    QCOMPARE(u.heldNs, 2 * ms + 2 * ms);
    QCOMPARE(u.waitedNs, 5 * ms);
    u = r.gilUse(1, 0, 20 * ms); // one turn done, one in progress
    QCOMPARE(u.turns, quint64(2));
    QCOMPARE(u.heldNs, 5 * ms + 5 * ms);
    QCOMPARE(u.waitedNs, 4 * ms + 5 * ms);
    QCOMPARE(r.gilNow().holder, 1);
    QCOMPARE(r.gilTurns(0)->firstEndingAfter(5 * ms), std::size_t(1));
}

void TstRecording::lostRowsAreSaid()
{
    RunRecord rec;
    StagedTask r = row(1);
    rec.add(r);
    rec.addLost(41);
    QCOMPARE(rec.stats().lost, quint64(41));
    QVERIFY(!rec.stats().complete());
    QCOMPARE(rec.samplingNote(), QStringLiteral("41 tasks not recorded (the monitor fell behind)"));
}

void TstRecording::plainRowsFitTheByteBudget()
{
    // The goal: <= 64 bytes per recorded task. A plain task (no
    // result, no texts, CPU not measured) takes the base columns and its
    // lane entry; the last chunk's unused rows are excluded by filling
    // whole chunks.
    RunRecord rec(RunRecord::kDefaultLimit);
    const quint64 n = 65536 * 8;
    for (quint64 i = 1; i <= n; ++i) {
        StagedTask r = row(i, int(i % 2));
        rec.add(r);
    }
    const double perRow = double(rec.bytes()) / double(rec.size());
    QVERIFY2(perRow <= 64.0, qPrintable(QStringLiteral("%1 bytes per row").arg(perRow)));
}

void TstRecording::stampsConvertToMonotonicTime()
{
    // A stamp taken between two monotonic reads converts into that window
    // (give or take the anchors' jitter), in either clock mode.
    detail::StampConverter conv;
    struct Probe {
        qint64 before, stamp, after;
    };
    std::vector<Probe> probes;
    for (int i = 0; i < 20; ++i) {
        Probe p;
        p.before = monotonicNs();
        p.stamp = detail::stampNow();
        p.after = monotonicNs();
        probes.push_back(p);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        if (i % 5 == 4)
            conv.anchor();
    }
    conv.anchor();
    for (const Probe& p : probes) {
        const qint64 ns = conv.toNs(p.stamp);
        QVERIFY2(
            ns >= p.before - 20'000 && ns <= p.after + 20'000,
            qPrintable(QStringLiteral("%1 not in [%2, %3]").arg(ns).arg(p.before).arg(p.after)));
    }
    // The converter caches the segment of the last stamp: any order of
    // stamps (old ones after new ones, a long queue wait) converts the same.
    std::vector<qint64> forward;
    for (const Probe& p : probes)
        forward.push_back(conv.toNs(p.stamp));
    for (std::size_t i = probes.size(); i-- > 0;)
        QCOMPARE(conv.toNs(probes[i].stamp), forward[i]);
    for (std::size_t i = 0; i < probes.size(); i += 7)
        QCOMPARE(conv.toNs(probes[(i * 13) % probes.size()].stamp),
                 forward[(i * 13) % probes.size()]);
    QCOMPARE(conv.toNs(0), qint64(0)); // unknown stays unknown
    // A row's stamps at once: the same times as one by one (the wait and
    // run converted at the start's rate), unknown ones stay unknown.
    for (std::size_t i = 0; i + 10 < probes.size(); ++i) {
        qint64 submit = probes[i].stamp, start = probes[i + 5].stamp, end = probes[i + 10].stamp;
        conv.rowToNs(submit, start, end);
        QCOMPARE(start, forward[i + 5]);
        QVERIFY2(std::llabs(submit - forward[i]) < 2'000
                     && std::llabs(end - forward[i + 10]) < 2'000,
                 qPrintable(QStringLiteral("row %1: %2 vs %3, %4 vs %5")
                                .arg(i)
                                .arg(submit)
                                .arg(forward[i])
                                .arg(end)
                                .arg(forward[i + 10])));
    }
    qint64 noSubmit = 0, start = probes[3].stamp, noEnd = 0;
    conv.rowToNs(noSubmit, start, noEnd);
    QCOMPARE(noSubmit, qint64(0));
    QCOMPARE(noEnd, qint64(0));
    QCOMPARE(start, forward[3]);
    const double rate = detail::stampsPerNs();
    QVERIFY(rate > 0.05 && rate < 20);
    QVERIFY(std::llabs(conv.ticksToNs(qint64(rate * 1e6)) - 1'000'000) < 20'000);
}

/// The child of recordCountsRowsItHasNoMemoryFor(): a fresh process (this
/// program run again, not a fork of a process whose other threads may hold
/// the allocator's locks) that limits its own address space to what it
/// uses plus 48 MiB, then keeps adding rows. Prints "seen rows outOfMemory
/// note".
static int outOfMemoryChild()
{
    RunRecord rec(RunRecord::kMaxLimit);
    QFile statm(QStringLiteral("/proc/self/statm"));
    quint64 pages = 0;
    if (statm.open(QIODevice::ReadOnly))
        pages = statm.readAll().split(' ').value(0).toULongLong();
    rlimit r{};
    r.rlim_cur = r.rlim_max = rlim_t(pages * quint64(::sysconf(_SC_PAGESIZE)) + (48u << 20));
    if (::setrlimit(RLIMIT_AS, &r) != 0)
        return 2;
    for (quint64 i = 0; i < 50'000'000 && rec.stats().outOfMemory < 1000; ++i) {
        StagedTask t = row(i + 1);
        rec.add(t);
    }
    const RecordStats st = rec.stats();
    std::printf("%llu %llu %llu %s", qulonglong(st.seen), qulonglong(st.rows),
                qulonglong(st.outOfMemory), rec.samplingNote().toUtf8().constData());
    return 0;
}

void TstRecording::recordCountsRowsItHasNoMemoryFor()
{
    // Issue #17: memory ran out while the Monitor recorded (ulimit -v 64
    // MB): std::bad_alloc left its timer through Qt's event loop and ended
    // the program. The record now counts the rows it cannot hold and says
    // so. A child process with an address-space limit just above what it
    // uses keeps adding rows; the parent reads what it saw.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    QSKIP("the sanitizers' shadow memory needs far more address space than any limit here");
#else
    QProcess child;
    child.start(QCoreApplication::applicationFilePath(), {QStringLiteral("--oom-child")});
    QVERIFY2(child.waitForFinished(60'000), "the child did not end");
    const QByteArray got = child.readAllStandardOutput();
    QVERIFY2(child.exitStatus() == QProcess::NormalExit && child.exitCode() == 0,
             qPrintable(QStringLiteral("child ended with code %1: %2 %3")
                            .arg(child.exitCode())
                            .arg(QString::fromUtf8(got),
                                 QString::fromUtf8(child.readAllStandardError()))));
    const QList<QByteArray> f = got.split(' ');
    QVERIFY2(f.size() > 3, got.constData());
    const quint64 seen = f[0].toULongLong(), rows = f[1].toULongLong(), oom = f[2].toULongLong();
    QVERIFY2(oom >= 1000, got.constData());   // it did run out, many times over
    QVERIFY2(rows > 10'000, got.constData()); // after holding what fitted
    QCOMPARE(rows + oom, seen);               // every row held or counted
    QVERIFY2(got.contains(QByteArrayLiteral(" tasks not recorded (out of memory)")),
             got.constData());
#endif
}

int main(int argc, char** argv)
{
    if (argc == 2 && std::strcmp(argv[1], "--oom-child") == 0)
        return outOfMemoryChild();
    QCoreApplication app(argc, argv);
    TstRecording t;
    return QTest::qExec(&t, argc, argv);
}
#include "tst_recording.moc"
