// TimelineWidget over the run record: lanes per worker, rows indexed tick by
// tick without a copy, a new or re-sampled record starting over, the
// sampling note, the replay horizon, zoom / pan / follow through real key,
// wheel and mouse events, hover and click hit-testing through the widget's
// own time -> x mapping at both zoom levels, rendering of status and GIL
// wait, no gap where a worker was busy, and a paint cost that does not grow
// with the number of rows.

#include "models/display.h"
#include "timeline/timelinewidget.h"

#include <QApplication>
#include <QHelpEvent>
#include <QSignalSpy>
#include <QTest>
#include <QToolTip>

#include <algorithm>
#include <cmath>
#include <tuple>

using namespace poolscope;

namespace {

constexpr qint64 kUs = 1'000;
constexpr qint64 kMs = 1'000'000;
constexpr qint64 kSec = 1'000'000'000;

TaskSpan span(quint64 id, int worker, qint64 start, qint64 end, TaskStatus status, quint32 nameId)
{
    TaskSpan s;
    s.taskId = id;
    s.worker = worker;
    s.startNs = start;
    s.endNs = end;
    s.enqueueNs = start - kMs;
    s.cpuNs = (end - start) / 2;
    s.core = qint16(worker % 2);
    s.status = status;
    s.nameId = nameId;
    return s;
}

TaskSpan span(quint64 id, int worker, qint64 start, qint64 end,
              TaskStatus status = TaskStatus::Succeeded, const QString& name = "primes")
{
    return span(id, worker, start, end, status, NameTable::intern(name));
}

/// A task cancelled while queued: it ran on no worker.
TaskSpan unstarted(quint64 id, qint64 at)
{
    TaskSpan s = span(id, -1, at, at, TaskStatus::Cancelled);
    s.started = false;
    return s;
}

std::shared_ptr<RunRecord> recordOf(const std::vector<TaskSpan>& spans,
                                    quint64 limit = RunRecord::kDefaultLimit)
{
    auto r = std::make_shared<RunRecord>(limit);
    for (const TaskSpan& s : spans)
        r->add(s);
    return r;
}

WorkerInfo worker(int index, WorkerState state = WorkerState::Idle)
{
    WorkerInfo w;
    w.index = index;
    w.name = QStringLiteral("pool_%1").arg(index);
    w.state = state;
    return w;
}

/// A snapshot at time t (origin 1 s) with workers 0..n-1 and no record.
Snapshot snapshotAt(qint64 t, int workers = 2)
{
    Snapshot s;
    s.timeNs = t;
    s.sinceStartNs = t - kSec;
    for (int i = 0; i < workers; ++i)
        s.workers.append(worker(i));
    return s;
}

/// A live run: a record that grows as a Monitor's does, one snapshot a tick.
struct LiveRun {
    std::shared_ptr<RunRecord> record;
    explicit LiveRun(quint64 limit = RunRecord::kDefaultLimit, quint64 sampling = 1)
        : record(std::make_shared<RunRecord>(limit, sampling))
    {}
    /// Adds `spans` to the record; the snapshot at t with workers 0..n-1.
    Snapshot tick(qint64 t, const std::vector<TaskSpan>& spans = {}, int workers = 2)
    {
        const quint64 generation = record->generation();
        const quint64 before = record->size();
        for (const TaskSpan& s : spans)
            record->add(s);
        Snapshot snap = snapshotAt(t, workers);
        snap.record = record;
        snap.newRows = record->generation() == generation ? record->size() - before : 0;
        snap.recordStats = record->stats();
        return snap;
    }
};

/// Rows of started tasks in a record.
std::size_t startedRows(const RunRecord& r)
{
    std::size_t n = 0;
    for (quint64 i = 0; i < r.size(); ++i)
        n += r.worker(i) >= 0 ? 1 : 0;
    return n;
}

/// A snapshot at time t in which worker 1 runs `task` since `startNs`
/// (0: unknown, as for a task the monitor did not time).
Snapshot runningAt(qint64 t, quint64 task, qint64 startNs, const char* name = "task")
{
    Snapshot s = snapshotAt(t);
    s.workers[1].state = WorkerState::Running;
    s.workers[1].currentTask = task;
    s.workers[1].currentName = NameTable::intern(QString::fromLatin1(name));
    s.workers[1].currentStartNs = startNs;
    return s;
}

/// A widget fed 10 s of spans (1 s each, both workers), following.
void feedTenSeconds(TimelineWidget& w, LiveRun& run)
{
    std::vector<TaskSpan> spans;
    quint64 id = 1;
    for (qint64 t = kSec; t < 11 * kSec; t += kSec) {
        spans.push_back(span(id++, 0, t, t + 900 * kMs));
        spans.push_back(span(id++, 1, t + 100 * kMs, t + 950 * kMs));
    }
    w.applySnapshot(run.tick(11 * kSec, spans));
}

void sendWheel(QWidget& w, QPoint pos, int delta, Qt::KeyboardModifiers mods = Qt::NoModifier)
{
    QWheelEvent e(QPointF(pos), QPointF(w.mapToGlobal(pos)), QPoint(), QPoint(0, delta),
                  Qt::NoButton, mods, Qt::NoScrollPhase, false);
    QApplication::sendEvent(&w, &e);
}

void sendMouse(QWidget& w, QEvent::Type type, QPoint pos, Qt::MouseButton button,
               Qt::MouseButtons buttons, Qt::KeyboardModifiers modifiers = Qt::NoModifier)
{
    QMouseEvent e(type, QPointF(pos), QPointF(w.mapToGlobal(pos)), button, buttons, modifiers);
    QApplication::sendEvent(&w, &e);
}

QPoint pointOf(const TimelineWidget& w, const TaskSpan& s)
{
    const double x = w.timeToX((s.startNs + s.endNs) / 2);
    return QPoint(int(std::lround(x)), w.laneRect(s.worker).center().y());
}

/// Task ids of every lane's spans, sorted.
QList<quint64> shownIds(const TimelineWidget& w)
{
    QList<quint64> ids;
    for (int lane : w.laneWorkers()) {
        for (const TaskSpan& s : w.laneSpans(lane))
            ids.append(s.taskId);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
}

/// `lanes` workers, each running `perLane` back-to-back tasks of 1-3 µs with
/// a 1 µs gap after every fourth, rows added as they end (interleaved).
std::shared_ptr<RunRecord> bigRecord(int lanes, int perLane)
{
    auto r = std::make_shared<RunRecord>(std::max<quint64>(quint64(lanes) * perLane, 1));
    const quint32 names[] = {NameTable::intern("primes"), NameTable::intern("hash"),
                             NameTable::intern("sleep")};
    std::vector<qint64> next(std::size_t(lanes), kSec);
    quint64 id = 1;
    for (int i = 0; i < perLane; ++i) {
        for (int lane = 0; lane < lanes; ++lane, ++id) {
            qint64& t = next[std::size_t(lane)];
            const qint64 len = kUs + qint64((id * 7919) % 3) * kUs;
            const TaskStatus st = id % 1000 == 0   ? TaskStatus::Failed
                                  : id % 1500 == 0 ? TaskStatus::Cancelled
                                                   : TaskStatus::Succeeded;
            r->add(span(id, lane, t, t + len, st, names[id % 3]));
            t += len + (i % 4 == 3 ? kUs : 0);
        }
    }
    return r;
}

} // namespace

class TstTimeline : public QObject {
    Q_OBJECT
private slots:
    void emptyRenders();
    void liveBadgeCanBeHidden();
    void lanesPerWorker();
    void rowsIndexedPerTickWithoutCopy();
    void bigCatchUpIsSpreadOverEvents();
    void outOfOrderRowsAreSorted();
    void newRecordStartsOver();
    void resamplingStartsOver();
    void samplingNote_data();
    void samplingNote();
    void setRecordFitsAndNamesLanes();
    void horizon_data();
    void horizon();
    void keys_data();
    void keys();
    void endResumesFollowing();
    void panningStopsAtTheData();
    void finishedRunStaysFramed();
    void wheelZoomKeepsTimeUnderCursor();
    void wheelInFollowModeKeepsNowAtTheRight();
    void shiftWheelPans();
    void dragPans();
    void shiftDragZoomsToTheSelection();
    void clickEmitsTaskId_data();
    void clickEmitsTaskId();
    void hitTestAtBothZooms_data();
    void hitTestAtBothZooms();
    void hoverToolTip();
    void runningTaskIsAnOpenRectangle();
    void runningTaskWithoutStartTime();
    void statusAndGilRendering();
    void gilTurnsDrawnInLanes_data();
    void gilTurnsDrawnInLanes();
    void gilTurnsNarrowerThanAPixelAreShaded();
    void gilTurnsPastTheLimitAreSaid();
    void noGapWhereBusy_data();
    void noGapWhereBusy();
    void columnsShowExactBusy_data();
    void columnsShowExactBusy();
    void paintCostIndependentOfRows_data();
    void paintCostIndependentOfRows();
    void paintCostGrowsLessThanRows();
};

void TstTimeline::emptyRenders()
{
    TimelineWidget w;
    w.resize(600, 200);
    QVERIFY(!w.grab().isNull());
    QCOMPARE(w.lastPaintStats().lanes, 0);
    QCOMPARE(w.laneCount(), 0);
    QCOMPARE(w.spanCount(), std::size_t(0));
    QCOMPARE(w.noteText(), QString());
    QVERIFY(!w.hitTest(QPoint(300, 100)).has_value());
}

void TstTimeline::liveBadgeCanBeHidden()
{
    TimelineWidget w;
    w.resize(600, 200);
    QVERIFY(w.liveBadgeVisible());
    // The corner above the lane labels, without the axis' bottom line.
    const QRect corner(0, 0, w.plotRect().left(), w.plotRect().top() - 1);
    QVERIFY(corner.width() > 8 && corner.height() > 4);
    const QImage with = w.grab().toImage().copy(corner);
    w.setLiveBadgeVisible(false);
    QVERIFY(!w.liveBadgeVisible());
    const QImage without = w.grab().toImage().copy(corner);
    QVERIFY(with != without); // the badge was painted, now it is not
    const QRgb bg = without.pixel(0, 0);
    for (int y = 0; y < without.height(); ++y)
        for (int x = 0; x < without.width(); ++x)
            QCOMPARE(without.pixel(x, y), bg); // an empty corner
}

void TstTimeline::lanesPerWorker()
{
    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun run;
    w.applySnapshot(run.tick(
        2 * kSec, {span(1, 0, 1100 * kMs, 1200 * kMs), span(2, 1, 1100 * kMs, 1300 * kMs)}, 3));
    QCOMPARE(w.laneCount(), 3);
    QCOMPARE(w.laneWorkers(), (QList<int>{0, 1, 2}));
    QCOMPARE(w.laneName(1), "pool_1");
    QCOMPARE(w.originNs(), kSec);
    QVERIFY(!w.laneRect(2).isNull());
    QVERIFY(w.laneRect(1).top() >= w.laneRect(0).bottom());
    QVERIFY(w.laneRect(7).isNull());

    // A process worker dies and is respawned with a new index: a new lane;
    // the dead worker's lane keeps its history.
    Snapshot s = run.tick(3 * kSec, {}, 0);
    s.workers = {worker(0), worker(1, WorkerState::Dead), worker(2), worker(3)};
    w.applySnapshot(s);
    QCOMPARE(w.laneWorkers(), (QList<int>{0, 1, 2, 3}));
    s = run.tick(4 * kSec, {}, 0);
    s.workers = {worker(0), worker(2), worker(3)};
    w.applySnapshot(s);
    QCOMPARE(w.laneCount(), 4);
    QCOMPARE(w.laneSpans(1).size(), std::size_t(1));

    // A row of a worker never reported still gets a lane; a task that never
    // started (worker -1) gets none and is not counted.
    TaskSpan never = unstarted(4, 3600 * kMs);
    s = run.tick(4 * kSec, {span(3, 9, 3 * kSec, 3500 * kMs), never}, 0);
    s.workers = {worker(0), worker(2), worker(3)};
    w.applySnapshot(s);
    QCOMPARE(w.laneWorkers(), (QList<int>{0, 1, 2, 3, 9}));
    QCOMPARE(w.spanCount(), std::size_t(3));
    QVERIFY(!w.grab().isNull());
    QCOMPARE(w.lastPaintStats().lanes, 5);
}

void TstTimeline::bigCatchUpIsSpreadOverEvents()
{
    // A live snapshot whose record gained 600,000 rows at once (a record
    // that re-sampled): the widget indexes a bounded share per event, so
    // the event loop is never held for the whole, and ends with every row,
    // drawn as the same record loaded in one go.
    const auto rec = bigRecord(2, 300'000);
    TimelineWidget live;
    live.resize(800, 200);
    Snapshot s = snapshotAt(kSec, 2);
    s.record = rec;
    live.applySnapshot(s);
    QVERIFY2(live.spanCount() <= TimelineWidget::kCatchUpBudget,
             qPrintable(QString::number(live.spanCount())));
    QVERIFY(live.spanCount() > 0);
    QTRY_COMPARE(live.spanCount(), std::size_t(600'000));

    TimelineWidget whole;
    whole.resize(800, 200);
    whole.setRecord(rec);
    QCOMPARE(whole.spanCount(), std::size_t(600'000));
    live.setFollowing(false);
    whole.setFollowing(false);
    live.setView(double(kSec), 2'000'000.0 / 700);
    whole.setView(double(kSec), 2'000'000.0 / 700);
    // The lanes' names differ (the snapshot names its workers); the plot not.
    QCOMPARE(live.plotRect(), whole.plotRect());
    QCOMPARE(live.grab().toImage().copy(live.plotRect()),
             whole.grab().toImage().copy(whole.plotRect()));
}

void TstTimeline::rowsIndexedPerTickWithoutCopy()
{
    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun run;
    quint64 id = 1;
    for (int tick = 0; tick < 40; ++tick) {
        std::vector<TaskSpan> spans;
        for (int i = 0; i < 2'500; ++i, ++id) {
            const qint64 t = kSec + qint64(id) * 10 * kUs;
            spans.push_back(span(id, int(id % 3), t, t + 25 * kUs));
        }
        if (tick % 10 == 0) { // now and then a task that never started
            spans.push_back(unstarted(id++, kSec));
        }
        w.applySnapshot(run.tick(kSec + (tick + 1) * 100 * kMs, spans, 3));
        QCOMPARE(w.spanCount(), startedRows(*run.record));
    }
    QCOMPARE(w.spanCount(), std::size_t(100'000));
    // The widget reads the monitor's record itself...
    QCOMPARE(w.record().get(), run.record.get());
    QCOMPARE(w.noteText(), QString()); // every task held
    // ... and its own index is a few bytes a row, not a copy of each span.
    const double perRow = double(w.indexBytes()) / double(w.spanCount());
    qInfo("timeline index: %.2f bytes per row (a TaskSpan is %zu)", perRow, sizeof(TaskSpan));
    QVERIFY2(perRow < 6.0, qPrintable(QString::number(perRow)));

    // Every row is in its lane, in start order.
    QList<quint64> expected;
    for (quint64 r = 0; r < run.record->size(); ++r) {
        if (run.record->worker(r) >= 0)
            expected.append(run.record->taskId(r));
    }
    std::sort(expected.begin(), expected.end());
    QCOMPARE(shownIds(w), expected);
    for (int lane : w.laneWorkers()) {
        const auto spans = w.laneSpans(lane);
        QVERIFY(
            std::is_sorted(spans.begin(), spans.end(), [](const TaskSpan& a, const TaskSpan& b) {
                return a.startNs < b.startNs;
            }));
    }
    // A paint of the whole run accounts for every row, folded or drawn.
    w.fitToData();
    QVERIFY(!w.grab().isNull());
    const auto st = w.lastPaintStats();
    QCOMPARE(st.spansAggregated + st.spansDrawn, qint64(w.spanCount()));

    w.clear();
    QCOMPARE(w.spanCount(), std::size_t(0));
    QCOMPARE(w.laneCount(), 0);
    QCOMPARE(w.record(), nullptr);
}

void TstTimeline::outOfOrderRowsAreSorted()
{
    // Rows of one worker out of start order (other tools' traces, clock
    // skew between processes): shown in start order, painted, hit-tested.
    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun run;
    std::vector<TaskSpan> first;
    for (quint64 i = 0; i < 100; ++i)
        first.push_back(
            span(i + 1, 0, kSec + qint64(i) * 10 * kMs, kSec + qint64(i) * 10 * kMs + 5 * kMs));
    w.applySnapshot(run.tick(3 * kSec, first, 1));
    // Late arrivals: one in the gap after the 3rd task, one before all.
    const TaskSpan late = span(500, 0, kSec + 26 * kMs, kSec + 28 * kMs);
    w.applySnapshot(run.tick(3 * kSec, {late, span(501, 0, 500 * kMs, 510 * kMs)}, 1));
    const auto lane = w.laneSpans(0);
    QCOMPARE(lane.size(), std::size_t(102));
    QVERIFY(std::is_sorted(lane.begin(), lane.end(), [](const TaskSpan& a, const TaskSpan& b) {
        return a.startNs < b.startNs;
    }));
    QCOMPARE(lane.front().taskId, 501u);
    QCOMPARE(lane[4].taskId, 500u);
    w.setView(double(kSec), 100.0 * kUs); // 100 µs a pixel: the late task is 20 px wide
    QVERIFY(!w.grab().isNull());
    const auto hit = w.hitTest(pointOf(w, late));
    QVERIFY(hit.has_value());
    QCOMPARE(hit->span.taskId, 500u);
    w.fitToData();
    QVERIFY(!w.grab().isNull());
    const auto st = w.lastPaintStats();
    QCOMPARE(st.spansAggregated + st.spansDrawn, qint64(102));
}

void TstTimeline::newRecordStartsOver()
{
    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun first;
    Snapshot s = first.tick(2 * kSec,
                            {span(1, 0, 1100 * kMs, 1200 * kMs), span(2, 1, 1100 * kMs, 1300 * kMs),
                             span(3, 2, 1200 * kMs, 1300 * kMs)},
                            3);
    w.applySnapshot(s);
    QCOMPARE(w.spanCount(), std::size_t(3));
    // Worker 2 is retired; the next run starts on a new record.
    LiveRun second;
    s = second.tick(3 * kSec, {span(10, 0, 2100 * kMs, 2200 * kMs)}, 0);
    s.workers = {worker(0), worker(1)};
    w.applySnapshot(s);
    QCOMPARE(w.record().get(), second.record.get());
    QCOMPARE(w.spanCount(), std::size_t(1));
    QCOMPARE(shownIds(w), (QList<quint64>{10}));
    QCOMPARE(w.laneWorkers(), (QList<int>{0, 1})); // gone and empty: no lane
    QVERIFY(w.laneSpans(1).empty());
    // It grows from there.
    s = second.tick(4 * kSec, {span(11, 1, 2100 * kMs, 2300 * kMs)}, 2);
    w.applySnapshot(s);
    QCOMPARE(shownIds(w), (QList<quint64>{10, 11}));
}

void TstTimeline::resamplingStartsOver()
{
    // A record of at most 100 rows: past it, it keeps the tasks whose id is
    // a multiple of 2, then 4...; row numbers change, the widget starts over.
    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun run(100);
    quint64 id = 1;
    auto batch = [&](int n) {
        std::vector<TaskSpan> spans;
        for (int i = 0; i < n; ++i, ++id)
            spans.push_back(span(id, int(id % 2), kSec + qint64(id) * kMs,
                                 kSec + qint64(id) * kMs + 500 * kUs));
        return spans;
    };
    w.applySnapshot(run.tick(2 * kSec, batch(80)));
    QCOMPARE(w.spanCount(), std::size_t(80));
    const quint64 generation = run.record->generation();
    Snapshot s = run.tick(2 * kSec, batch(70));
    QVERIFY(run.record->generation() != generation); // it did re-sample
    QCOMPARE(s.newRows, 0u);
    w.applySnapshot(s);
    QCOMPARE(w.spanCount(), std::size_t(run.record->size()));
    const QList<quint64> ids = shownIds(w);
    QCOMPARE(ids.size(), qsizetype(run.record->size()));
    for (quint64 i : ids)
        QCOMPARE(i % run.record->sampling(), 0u);
    QVERIFY(w.noteText().contains("sample: 1 in 2"));
    // A paint right after a re-sampling the widget was not told of reads
    // the record as it is, never stale rows.
    run.record->setLimit(20);
    QVERIFY(!w.grab().isNull());
    QCOMPARE(w.spanCount(), std::size_t(run.record->size()));
    QVERIFY(w.noteText().contains(QString("1 in %1").arg(run.record->sampling())));
}

void TstTimeline::samplingNote_data()
{
    QTest::addColumn<quint64>("limit");
    QTest::addColumn<quint64>("sampling");
    QTest::addColumn<quint64>("lost");
    QTest::addColumn<QString>("note"); // empty: none
    QTest::newRow("every task") << quint64(1000) << quint64(1) << quint64(0) << QString();
    QTest::newRow("past the limit")
        << quint64(64) << quint64(1) << quint64(0) << QString("sample: 1 in 4 of 200 tasks");
    QTest::newRow("sampled from the start")
        << quint64(1000) << quint64(8) << quint64(0) << QString("sample: 1 in 8 of 200 tasks");
    QTest::newRow("monitor fell behind")
        << quint64(1000) << quint64(1) << quint64(5) << QString("5 tasks not recorded");
}

void TstTimeline::samplingNote()
{
    QFETCH(quint64, limit);
    QFETCH(quint64, sampling);
    QFETCH(quint64, lost);
    QFETCH(QString, note);
    LiveRun run(limit, sampling);
    std::vector<TaskSpan> spans;
    for (quint64 id = 1; id <= 200; ++id)
        spans.push_back(
            span(id, int(id % 2), kSec + qint64(id) * kMs, kSec + qint64(id) * kMs + 500 * kUs));
    Snapshot s = run.tick(2 * kSec, spans);
    run.record->addLost(lost);
    TimelineWidget w;
    w.resize(1000, 300);
    w.applySnapshot(s);
    QCOMPARE(w.noteText(), run.record->samplingNote());
    QCOMPARE(w.noteText().isEmpty(), note.isEmpty());
    if (!note.isEmpty())
        QVERIFY2(w.noteText().contains(note), qPrintable(w.noteText()));

    // Drawn in the top right corner of the plot, with a tooltip saying why.
    const QRect plot = w.plotRect();
    const QFontMetrics fm(w.font());
    const QPoint inNote(plot.right() - 8, plot.top() + 4 + fm.height() / 2);
    const QString tip = w.toolTipAt(inNote);
    const QImage img = w.grab().toImage();
    TimelineWidget bare; // the same rows, no note
    bare.resize(w.size());
    bare.applySnapshot(LiveRun().tick(2 * kSec, spans));
    QCOMPARE(bare.noteText(), QString());
    const QImage ref = bare.grab().toImage();
    const QRect corner(plot.right() - 40, plot.top() + 2, 36, fm.height());
    QCOMPARE(img.copy(corner) != ref.copy(corner), !note.isEmpty());
    if (note.isEmpty())
        QVERIFY(!tip.contains("sample"));
    else
        QVERIFY2(tip.contains(lost ? "never reached" : "uniform sample"), qPrintable(tip));
}

void TstTimeline::setRecordFitsAndNamesLanes()
{
    TimelineWidget w;
    w.resize(1000, 300);
    const auto rec = recordOf({span(1, 4, 30 * kMs, 40 * kMs), span(2, 2, 10 * kMs, 20 * kMs),
                               span(3, 4, 10 * kMs, 20 * kMs), span(4, 2, 50 * kMs, 60 * kMs),
                               unstarted(5, 5 * kMs)});
    w.setRecord(rec, {{2, "two"}, {4, "four"}, {5, "five"}}, 5 * kMs);
    QVERIFY(!w.isFollowing());
    QCOMPARE(w.record().get(), rec.get());
    QCOMPARE(w.laneWorkers(), (QList<int>{2, 4, 5})); // every named worker, none for -1
    QCOMPARE(w.laneName(4), "four");
    QCOMPARE(w.spanCount(), std::size_t(4));
    QCOMPARE(w.laneSpans(4).front().taskId, 3u); // sorted by start
    QCOMPARE(w.originNs(), 5 * kMs);
    QCOMPARE(w.nowNs(), 60 * kMs);
    // fitted: everything visible
    QVERIFY(w.viewStartNs() <= 10 * kMs);
    QVERIFY(w.viewEndNs() >= 60 * kMs);
    QVERIFY(w.viewEndNs() - w.viewStartNs() < 60 * kMs);

    // Origin 0: the first start.
    w.setRecord(rec);
    QCOMPARE(w.originNs(), 10 * kMs);
    QCOMPARE(w.laneName(2), "worker 2");

    TraceData trace;
    trace.originNs = 0;
    trace.workers = {TraceWorker{0, "w0", 0, 0}};
    trace.record = recordOf({span(7, 0, kMs, 2 * kMs)});
    w.setTraceData(trace);
    QCOMPARE(w.laneWorkers(), (QList<int>{0}));
    QCOMPARE(w.laneName(0), "w0");
    QCOMPARE(w.spanCount(), std::size_t(1));
}

void TstTimeline::horizon_data()
{
    QTest::addColumn<qint64>("horizon");
    QTest::addColumn<QList<quint64>>("shown");
    QTest::addColumn<quint64>("cut"); // a task whose end is cut at the horizon (0: none)
    // Worker 0: 1 [10, 20), 2 [30, 40), 3 [50, 60) ms; worker 1: 4 [15, 55) ms.
    QTest::newRow("before all") << 5 * kMs << QList<quint64>{} << quint64(0);
    QTest::newRow("on a start") << 10 * kMs << QList<quint64>{1} << quint64(0);
    QTest::newRow("inside two") << 35 * kMs << QList<quint64>{1, 2, 4} << quint64(2);
    QTest::newRow("in a gap") << 45 * kMs << QList<quint64>{1, 2, 4} << quint64(4);
    QTest::newRow("after all") << 70 * kMs << QList<quint64>{1, 2, 3, 4} << quint64(0);
}

void TstTimeline::horizon()
{
    QFETCH(qint64, horizon);
    QFETCH(QList<quint64>, shown);
    QFETCH(quint64, cut);
    TimelineWidget w;
    w.resize(1000, 300);
    const std::vector<TaskSpan> spans = {
        span(1, 0, 10 * kMs, 20 * kMs), span(4, 1, 15 * kMs, 55 * kMs),
        span(2, 0, 30 * kMs, 40 * kMs), span(3, 0, 50 * kMs, 60 * kMs)};
    w.setRecord(recordOf(spans));
    const double viewStart = w.viewStartNs(), npp = w.nsPerPixel();
    const std::size_t bytes = w.indexBytes();

    w.setHorizon(horizon);
    QVERIFY(w.hasHorizon());
    QCOMPARE(w.horizonNs(), horizon);
    QCOMPARE(shownIds(w), shown);
    QCOMPARE(w.spanCount(), std::size_t(shown.size()));
    QCOMPARE(w.indexBytes(), bytes);      // nothing rebuilt
    QCOMPARE(w.viewStartNs(), viewStart); // nor the view moved
    QCOMPARE(w.nsPerPixel(), npp);
    QCOMPARE(w.nowNs(), std::min(horizon, 60 * kMs));
    for (int lane : w.laneWorkers()) {
        for (const TaskSpan& s : w.laneSpans(lane)) {
            const TaskSpan& orig =
                *std::find_if(spans.begin(), spans.end(),
                              [&](const TaskSpan& o) { return o.taskId == s.taskId; });
            QCOMPARE(s.startNs, orig.startNs);
            QCOMPARE(s.endNs, std::min(orig.endNs, horizon));
        }
    }
    // Painted accordingly: every shown row accounted for, nothing past it hit.
    QVERIFY(!w.grab().isNull());
    const auto st = w.lastPaintStats();
    QCOMPARE(st.spansDrawn + st.spansAggregated, qint64(shown.size()));
    const QPoint after(int(w.timeToX(horizon + 2 * kMs)), w.laneRect(0).center().y());
    if (horizon + 2 * kMs < 60 * kMs)
        QVERIFY(!w.hitTest(after).has_value() || w.hitTest(after)->span.endNs <= horizon);
    if (cut) {
        const auto hit = w.hitTest(
            QPoint(int(w.timeToX(horizon - kMs)), w.laneRect(cut == 4 ? 1 : 0).center().y()));
        QVERIFY(hit.has_value());
        QCOMPARE(hit->span.taskId, cut);
        QCOMPARE(hit->span.endNs, horizon);
    }

    w.clearHorizon();
    QVERIFY(!w.hasHorizon());
    QCOMPARE(w.spanCount(), std::size_t(4));
    QCOMPARE(w.nowNs(), 60 * kMs);
}

void TstTimeline::keys_data()
{
    QTest::addColumn<int>("key");
    QTest::addColumn<Qt::KeyboardModifiers>("mods");
    QTest::addColumn<double>("zoom");    // new ns/px divided by old, 0 = fit
    QTest::addColumn<int>("pan");        // sign of the view start's move
    QTest::addColumn<bool>("following"); // after the key
    QTest::newRow("plus") << int(Qt::Key_Plus) << Qt::KeyboardModifiers() << 1 / 1.5 << 0 << true;
    QTest::newRow("equal") << int(Qt::Key_Equal) << Qt::KeyboardModifiers() << 1 / 1.5 << 0 << true;
    QTest::newRow("minus") << int(Qt::Key_Minus) << Qt::KeyboardModifiers() << 1.5 << 0 << true;
    QTest::newRow("ctrl+0") << int(Qt::Key_0) << Qt::KeyboardModifiers(Qt::ControlModifier) << 0.0
                            << 0 << true;
    QTest::newRow("left") << int(Qt::Key_Left) << Qt::KeyboardModifiers() << 1.0 << -1 << false;
    // (at the live edge: nothing later to show, the view stays)
    QTest::newRow("right") << int(Qt::Key_Right) << Qt::KeyboardModifiers() << 1.0 << 0 << false;
    QTest::newRow("shift+left") << int(Qt::Key_Left) << Qt::KeyboardModifiers(Qt::ShiftModifier)
                                << 1.0 << -1 << false;
    QTest::newRow("f") << int(Qt::Key_F) << Qt::KeyboardModifiers() << 1.0 << 0 << false;
}

void TstTimeline::keys()
{
    QFETCH(int, key);
    QFETCH(Qt::KeyboardModifiers, mods);
    QFETCH(double, zoom);
    QFETCH(int, pan);
    QFETCH(bool, following);

    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun run;
    feedTenSeconds(w, run);
    QVERIFY(w.isFollowing());
    const double npp = w.nsPerPixel();
    const double start = w.viewStartNs();
    QSignalSpy followSpy(&w, &TimelineWidget::followingChanged);

    QTest::keyClick(&w, Qt::Key(key), mods);

    QCOMPARE(w.isFollowing(), following);
    QCOMPARE(followSpy.count(), following ? 0 : 1);
    if (zoom > 0) {
        QVERIFY(std::abs(w.nsPerPixel() / npp - zoom) < 1e-9);
    } else { // fit: from the first span to now
        QVERIFY(w.viewStartNs() <= double(kSec));
        QVERIFY(w.viewEndNs() >= double(w.nowNs()));
        QVERIFY(w.viewEndNs() - w.viewStartNs() < 12.0 * kSec);
    }
    if (pan)
        QCOMPARE(w.viewStartNs() > start ? 1 : -1, pan);
    QVERIFY(w.viewEndNs() <= double(w.nowNs()) + 20 * w.nsPerPixel()); // never past now
    if (following) // "now" stays at the right edge, whatever the zoom
        QVERIFY(w.timeToX(w.nowNs()) > w.plotRect().right() - 20);
}

void TstTimeline::endResumesFollowing()
{
    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun run;
    feedTenSeconds(w, run);
    QTest::keyClick(&w, Qt::Key_Home);
    QVERIFY(!w.isFollowing());
    QVERIFY(w.viewStartNs() <= double(kSec));
    QVERIFY(w.timeToX(w.nowNs()) > w.plotRect().right()); // now is off screen

    const double start = w.viewStartNs(); // not following: the view stays put
    w.applySnapshot(run.tick(20 * kSec));
    QCOMPARE(w.viewStartNs(), start);

    QTest::keyClick(&w, Qt::Key_End);
    QVERIFY(w.isFollowing());
    QVERIFY(std::abs(w.timeToX(20 * kSec) - w.plotRect().right()) < 20);
    w.applySnapshot(run.tick(30 * kSec));
    QVERIFY(std::abs(w.timeToX(30 * kSec) - w.plotRect().right()) < 20);
}

// Panning overshot to -20 s before the first task; now it stops a margin
// past the data on both sides, whatever the zoom.
void TstTimeline::panningStopsAtTheData()
{
    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun run;
    feedTenSeconds(w, run);
    w.setView(2.0 * kSec, 2e6); // 2 s shown
    for (int i = 0; i < 50; ++i)
        w.panBy(-1000);
    const double first = w.viewStartNs(); // the first task starts at 1 s
    QVERIFY2(first >= double(kSec) - 20 * w.nsPerPixel() && first <= double(kSec),
             qPrintable(QString::number(first / 1e9)));
    QVERIFY(w.timeToX(kSec) >= w.plotRect().left());
    for (int i = 0; i < 50; ++i)
        w.panBy(1000);
    QVERIFY(w.viewEndNs() <= double(w.nowNs()) + 20 * w.nsPerPixel());
    QVERIFY(w.viewEndNs() >= double(w.nowNs()));
    // Zoomed out past the data: the first task stays at the left margin.
    w.setView(0, 1e9);
    w.panBy(-500);
    QVERIFY(w.viewStartNs() >= double(kSec) - 20 * w.nsPerPixel());
    QVERIFY(w.viewStartNs() <= double(kSec));
    QVERIFY(!w.isFollowing());
}

// A run that ended stays framed: follow mode off, the view its span, new
// ticks do not move it; L (zoomToLastRun) frames it again after a zoom.
void TstTimeline::finishedRunStaysFramed()
{
    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun run;
    feedTenSeconds(w, run);
    QVERIFY(w.isFollowing());
    QSignalSpy following(&w, &TimelineWidget::followingChanged);
    w.showRun(2 * kSec, 6 * kSec);
    QVERIFY(!w.isFollowing());
    QCOMPARE(following.count(), 1);
    QVERIFY(w.viewStartNs() <= 2.0 * kSec && w.viewStartNs() > 1.9 * kSec);
    QVERIFY(w.viewEndNs() >= 6.0 * kSec && w.viewEndNs() < 6.1 * kSec);
    const double start = w.viewStartNs();
    w.applySnapshot(run.tick(20 * kSec)); // time goes on, the run stays put
    QCOMPARE(w.viewStartNs(), start);
    w.zoomIn();
    w.zoomIn();
    QTest::keyClick(&w, Qt::Key_L);
    QCOMPARE(w.viewStartNs(), start);
    QVERIFY(w.zoomToLastRun());
    TimelineWidget none;
    QVERIFY(!none.zoomToLastRun());
}

void TstTimeline::wheelZoomKeepsTimeUnderCursor()
{
    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun run;
    feedTenSeconds(w, run);
    w.setView(2.0 * kSec, 5e6);
    QVERIFY(!w.isFollowing());
    const QPoint at(500, 150);
    const double t = w.xToTime(at.x());
    sendWheel(w, at, 120);
    QVERIFY(std::abs(w.nsPerPixel() - 5e6 / 1.2) < 1);
    QVERIFY(std::abs(w.xToTime(at.x()) - t) < 1e3);
    sendWheel(w, at, -240);
    QVERIFY(std::abs(w.nsPerPixel() - 5e6 * 1.2) < 1);
    QVERIFY(std::abs(w.xToTime(at.x()) - t) < 1e3);
    QVERIFY(!w.isFollowing());
}

void TstTimeline::wheelInFollowModeKeepsNowAtTheRight()
{
    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun run;
    feedTenSeconds(w, run);
    const double npp = w.nsPerPixel();
    sendWheel(w, QPoint(300, 150), 120);
    QVERIFY(w.isFollowing());
    QVERIFY(w.nsPerPixel() < npp);
    QVERIFY(w.timeToX(w.nowNs()) > w.plotRect().right() - 20);
}

void TstTimeline::shiftWheelPans()
{
    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun run;
    feedTenSeconds(w, run);
    const double start = w.viewStartNs();
    const double npp = w.nsPerPixel();
    sendWheel(w, QPoint(500, 150), 120, Qt::ShiftModifier); // wheel up: earlier
    QVERIFY(!w.isFollowing());
    QVERIFY(w.viewStartNs() < start);
    QCOMPARE(w.nsPerPixel(), npp);
}

void TstTimeline::dragPans()
{
    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun run;
    feedTenSeconds(w, run);
    QSignalSpy clicked(&w, &TimelineWidget::taskClicked);
    const double start = w.viewStartNs();
    const double npp = w.nsPerPixel();
    const QPoint from(600, w.laneRect(0).center().y());
    sendMouse(w, QEvent::MouseButtonPress, from, Qt::LeftButton, Qt::LeftButton);
    // (dragging right shows earlier times; "now" is at the right edge, so
    // later would be past the data)
    sendMouse(w, QEvent::MouseMove, from + QPoint(50, 0), Qt::NoButton, Qt::LeftButton);
    sendMouse(w, QEvent::MouseMove, from + QPoint(100, 0), Qt::NoButton, Qt::LeftButton);
    sendMouse(w, QEvent::MouseButtonRelease, from + QPoint(100, 0), Qt::LeftButton, Qt::NoButton);
    QVERIFY(!w.isFollowing());
    QVERIFY(std::abs(w.viewStartNs() - (start - 100 * npp)) < 1);
    QCOMPARE(clicked.count(), 0); // a drag is not a click
    // Dragging far left stops a margin past "now"; far right, a margin
    // before the first task.
    sendMouse(w, QEvent::MouseButtonPress, from, Qt::LeftButton, Qt::LeftButton);
    sendMouse(w, QEvent::MouseMove, from + QPoint(-900, 0), Qt::NoButton, Qt::LeftButton);
    sendMouse(w, QEvent::MouseButtonRelease, from + QPoint(-900, 0), Qt::LeftButton, Qt::NoButton);
    QVERIFY(w.timeToX(w.nowNs()) >= w.plotRect().right() - 20);
    QVERIFY(w.timeToX(w.nowNs()) <= w.plotRect().right());
}

void TstTimeline::shiftDragZoomsToTheSelection()
{
    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun run;
    feedTenSeconds(w, run);
    QSignalSpy clicked(&w, &TimelineWidget::taskClicked);
    const int y = w.laneRect(0).center().y();
    const QPoint from(300, y), to(500, y);
    const qint64 t0 = qint64(w.xToTime(from.x()));
    const qint64 t1 = qint64(w.xToTime(to.x()));
    const auto shift = Qt::ShiftModifier;
    sendMouse(w, QEvent::MouseButtonPress, from, Qt::LeftButton, Qt::LeftButton, shift);
    sendMouse(w, QEvent::MouseMove, from + QPoint(100, 0), Qt::NoButton, Qt::LeftButton, shift);
    sendMouse(w, QEvent::MouseMove, to, Qt::NoButton, Qt::LeftButton, shift);
    // the band is shown while dragging, and the view has not moved yet
    QVERIFY(w.selectionBand());
    QCOMPARE(*w.selectionBand(), std::make_pair(from.x(), to.x()));
    QVERIFY(!w.grab().isNull());
    sendMouse(w, QEvent::MouseButtonRelease, to, Qt::LeftButton, Qt::NoButton, shift);
    QVERIFY(!w.selectionBand());
    QVERIFY(!w.isFollowing());
    QCOMPARE(clicked.count(), 0);
    // the selected range now fills the plot (within its margins)
    const QRect plot = w.plotRect();
    QVERIFY2(w.timeToX(t0) >= plot.left() - 1 && w.timeToX(t0) <= plot.left() + 60,
             qPrintable(QString::number(w.timeToX(t0))));
    QVERIFY2(w.timeToX(t1) <= plot.right() + 1 && w.timeToX(t1) >= plot.right() - 60,
             qPrintable(QString::number(w.timeToX(t1))));
    // a Shift-click (no drag) does not zoom
    const double npp = w.nsPerPixel();
    sendMouse(w, QEvent::MouseButtonPress, from, Qt::LeftButton, Qt::LeftButton, shift);
    sendMouse(w, QEvent::MouseButtonRelease, from, Qt::LeftButton, Qt::NoButton, shift);
    QCOMPARE(w.nsPerPixel(), npp);
}

void TstTimeline::clickEmitsTaskId_data()
{
    QTest::addColumn<int>("index");
    for (int i : {0, 1, 5, 13, 20, 29})
        QTest::addRow("span %d", i) << i;
}

void TstTimeline::clickEmitsTaskId()
{
    QFETCH(int, index);
    TimelineWidget w;
    w.resize(1000, 300);
    std::vector<TaskSpan> spans;
    for (int i = 0; i < 30; ++i) {
        const qint64 t = qint64(i / 3) * 150 * kMs;
        spans.push_back(span(quint64(100 + i), i % 3, t, t + 100 * kMs,
                             i % 7 == 5 ? TaskStatus::Failed : TaskStatus::Succeeded));
    }
    w.setRecord(recordOf(spans));
    QSignalSpy clicked(&w, &TimelineWidget::taskClicked);
    const TaskSpan& target = spans[std::size_t(index)];
    QTest::mouseClick(&w, Qt::LeftButton, {}, pointOf(w, target));
    QCOMPARE(clicked.count(), 1);
    QCOMPARE(clicked.first().first().toULongLong(), target.taskId);

    // The gap between two spans of a lane hits nothing.
    const QPoint gap(int(w.timeToX(125 * kMs)), w.laneRect(0).center().y());
    QTest::mouseClick(&w, Qt::LeftButton, {}, gap);
    QCOMPARE(clicked.count(), 1);
}

void TstTimeline::hitTestAtBothZooms_data()
{
    QTest::addColumn<double>("nsPerPixel"); // 0: fitted to the whole run
    QTest::addColumn<bool>("aggregated");   // the tasks are folded into columns
    QTest::newRow("fitted: 100k tasks folded") << 0.0 << true;
    QTest::newRow("2 µs a pixel: folded rows") << 2000.0 << true;
    QTest::newRow("50 ns a pixel: drawn one by one") << 50.0 << false;
}

void TstTimeline::hitTestAtBothZooms()
{
    QFETCH(double, nsPerPixel);
    QFETCH(bool, aggregated);
    // Worker 0: 100,000 tasks of 1-3 µs back to back with 1 µs gaps.
    const auto rec = bigRecord(1, 100'000);
    TimelineWidget w;
    w.resize(1000, 200);
    w.setRecord(rec);
    if (nsPerPixel > 0)
        w.setView(double(kSec) + 50.0 * kMs, nsPerPixel);
    QVERIFY(!w.grab().isNull());
    const auto st = w.lastPaintStats();
    QCOMPARE(st.spansAggregated > 0, aggregated);
    QCOMPARE(st.spansDrawn > 0, !aggregated);

    // What a click hits is the task under the clicked time (the first in
    // start order when two meet there), found here by brute force.
    const int y = w.laneRect(0).center().y();
    const QRect plot = w.plotRect();
    int hits = 0;
    for (int x = plot.left() + 3; x < plot.right() - 3; x += 37) {
        const double t = w.xToTime(x + 0.5);
        const double tol = 3.0 * w.nsPerPixel();
        quint64 exact = 0, near = 0;
        double nearDist = tol + 1;
        for (quint64 r = 0; r < rec->size() && !exact; ++r) {
            const double s = double(rec->startNs(r)), e = double(rec->endNs(r));
            const double d = t < s ? s - t : (t > e ? t - e : 0.0);
            if (d == 0)
                exact = rec->taskId(r);
            else if (d <= tol && d < nearDist) {
                near = rec->taskId(r);
                nearDist = d;
            }
        }
        const auto hit = w.hitTest(QPoint(x, y));
        const quint64 expected = exact ? exact : near;
        QCOMPARE(hit.has_value(), expected != 0);
        if (hit) {
            QCOMPARE(hit->span.taskId, expected);
            ++hits;
        }
    }
    QVERIFY(hits > 10);
}

void TstTimeline::hoverToolTip()
{
    TimelineWidget w;
    w.resize(1000, 300);
    std::vector<TaskSpan> spans = {span(41, 0, 0, 100 * kMs),
                                   span(42, 1, 0, 200 * kMs, TaskStatus::Failed, "hash")};
    w.setRecord(recordOf(spans), {{0, "alpha"}, {1, "beta"}});
    const QPoint p = pointOf(w, spans[1]);
    const QString text = w.toolTipAt(p);
    QVERIFY2(text.contains("hash #42"), qPrintable(text));
    QVERIFY(text.contains("failed"));
    QVERIFY(text.contains("200 ms"));
    const auto hit = w.hitTest(p);
    QVERIFY(hit && !hit->running);
    const QString details = w.detailsText(*hit);
    QVERIFY(details.contains("beta"));
    QVERIFY(details.contains("CPU time: 100 ms"));
    // the lane label has its own tooltip
    const QString label = w.toolTipAt(QPoint(5, w.laneRect(0).center().y()));
    QVERIFY(label.contains("alpha"));
    QVERIFY(label.contains("1 tasks shown"));

    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QHelpEvent help(QEvent::ToolTip, p, w.mapToGlobal(p));
    QApplication::sendEvent(&w, &help);
    QTRY_VERIFY(QToolTip::isVisible());
    QCOMPARE(QToolTip::text(), text);
    QToolTip::hideText();
}

void TstTimeline::runningTaskIsAnOpenRectangle()
{
    TimelineWidget w;
    w.resize(1000, 300);
    LiveRun run;
    Snapshot s = runningAt(5 * kSec, 77, 4 * kSec, "sleep");
    s.record = run.record;
    w.applySnapshot(s);
    QVERIFY(!w.grab().isNull());
    QCOMPARE(w.lastPaintStats().runningDrawn, 1);
    const QPoint p(int(w.timeToX(4500 * kMs)), w.laneRect(1).center().y());
    const auto hit = w.hitTest(p);
    QVERIFY(hit.has_value());
    QVERIFY(hit->running);
    QCOMPARE(hit->span.taskId, 77u);
    QSignalSpy clicked(&w, &TimelineWidget::taskClicked);
    QTest::mouseClick(&w, Qt::LeftButton, {}, p);
    QCOMPARE(clicked.count(), 1);
    QCOMPARE(clicked.first().first().toULongLong(), 77u);

    // It finishes: the open rectangle gives way to its span.
    w.applySnapshot(
        run.tick(6 * kSec, {span(77, 1, 4 * kSec, 5500 * kMs, TaskStatus::Succeeded, "sleep")}));
    QVERIFY(!w.grab().isNull());
    QCOMPARE(w.lastPaintStats().runningDrawn, 0);
    QCOMPARE(w.lastPaintStats().spansDrawn, 1);
}

void TstTimeline::runningTaskWithoutStartTime()
{
    // A task the monitor did not time reports no start: it is drawn from the
    // first snapshot that saw it running, and stays so.
    TimelineWidget w;
    w.resize(1000, 300);
    w.applySnapshot(runningAt(5 * kSec, 78, 0));
    w.applySnapshot(runningAt(6 * kSec, 78, 0));
    QVERIFY(!w.grab().isNull());
    QCOMPARE(w.lastPaintStats().runningDrawn, 1);
    const auto hit = w.hitTest(QPoint(int(w.timeToX(5500 * kMs)), w.laneRect(1).center().y()));
    QVERIFY(hit.has_value());
    QVERIFY(hit->running);
    QCOMPARE(hit->span.startNs, 5 * kSec);
    // The next task on that worker starts its own bar.
    w.applySnapshot(runningAt(7 * kSec, 79, 0));
    const auto next = w.hitTest(QPoint(int(w.timeToX(7 * kSec)), w.laneRect(1).center().y()));
    QVERIFY(next.has_value());
    QCOMPARE(next->span.taskId, 79u);
    QCOMPARE(next->span.startNs, 7 * kSec);
}

void TstTimeline::statusAndGilRendering()
{
    TimelineWidget w;
    w.resize(1000, 300);
    TaskSpan gil = span(1, 0, 0, kSec);
    gil.gilWaitNs = kSec / 2;
    w.setRecord(recordOf({gil, span(2, 1, 0, kSec, TaskStatus::Failed),
                          span(3, 2, 0, kSec, TaskStatus::Cancelled)}));
    const QImage img = w.grab().toImage();
    const qreal dpr = img.devicePixelRatio();
    auto px = [&](qint64 t, int lane) {
        const QPoint p(int(w.timeToX(t) * dpr), int((w.laneRect(lane).top() + 5) * dpr));
        return img.pixelColor(p);
    };
    // The GIL wait is a darker leading segment.
    QVERIFY(px(kSec / 4, 0).lightness() < px(3 * kSec / 4, 0).lightness());
    // A failed task carries red (hatch and outline) somewhere in its rectangle.
    const QRect lane1 = w.laneRect(1);
    bool red = false;
    for (int x = int(w.timeToX(0)) + 2; x < int(w.timeToX(kSec)) - 2 && !red; ++x) {
        for (int y = lane1.top() + 1; y < lane1.bottom() && !red; ++y) {
            const QColor c = img.pixelColor(int(x * dpr), int(y * dpr));
            red = c.red() > 150 && c.green() < 110 && c.blue() < 110;
        }
    }
    QVERIFY(red);
    QCOMPARE(w.lastPaintStats().spansDrawn, 3);
}

namespace {
/// Two workers running one 100 ms task each from 1 s, taking 10 ms GIL turns
/// in turn (worker 0 first), each queued from the other's turn start; a
/// third worker holds the GIL [0, 10) and [90, 100) ms into its task and
/// released it between (a sleep). Turns as the Monitor would add them.
std::shared_ptr<RunRecord> gilRecord(quint64 turnLimit = RunRecord::kDefaultGilTurnLimit)
{
    auto r = recordOf({span(1, 0, kSec, kSec + 100 * kMs), span(2, 1, kSec, kSec + 100 * kMs),
                       span(3, 2, kSec + 200 * kMs, kSec + 300 * kMs)});
    r->setGilTurnLimit(turnLimit);
    detail::GilTurnBatch b;
    for (int i = 0; i < 10; ++i) {
        const qint64 s = kSec + i * 10 * kMs;
        b.turns.push_back({i > 0 ? s - 10 * kMs : 0, s, s + 10 * kMs, qint32(i % 2)});
    }
    b.turns.push_back({0, kSec + 200 * kMs, kSec + 210 * kMs, 2});
    b.turns.push_back({0, kSec + 290 * kMs, kSec + 300 * kMs, 2});
    b.takenAt = kSec + 400 * kMs;
    r->addGilTurns(b, nullptr);
    return r;
}
} // namespace

void TstTimeline::gilTurnsDrawnInLanes_data()
{
    QTest::addColumn<int>("worker");
    QTest::addColumn<qint64>("at"); // ms after 1 s
    QTest::addColumn<QString>("state");
    // Away from the task names drawn at the tasks' left ends.
    QTest::newRow("worker 0 holds") << 0 << qint64(45) << "held";
    QTest::newRow("worker 0 queues while 1 holds") << 0 << qint64(55) << "queued";
    QTest::newRow("worker 0 holds again") << 0 << qint64(65) << "held";
    QTest::newRow("worker 1 queues") << 1 << qint64(45) << "queued";
    QTest::newRow("worker 1 holds") << 1 << qint64(55) << "held";
    QTest::newRow("worker 1 holds last") << 1 << qint64(95) << "held";
    QTest::newRow("worker 2 holds") << 2 << qint64(295) << "held";
    QTest::newRow("worker 2 released it (sleep)") << 2 << qint64(250) << "released";
}

void TstTimeline::gilTurnsDrawnInLanes()
{
    // Issue: "each task's total GIL wait is one leading dark block instead
    // of the 5 ms turns it really took". Each turn is drawn where it was.
    QFETCH(int, worker);
    QFETCH(qint64, at);
    QFETCH(QString, state);
    TimelineWidget w;
    w.resize(1000, 300);
    const auto rec = gilRecord();
    w.setRecord(rec);
    w.setView(double(kSec - 10 * kMs), 320.0 * kMs / 900); // 10 ms = 28 px
    const QImage img = w.grab().toImage();
    const qreal dpr = img.devicePixelRatio();
    QCOMPARE(w.lastPaintStats().gilSpans, 3);
    QVERIFY(w.lastPaintStats().gilTurnsVisited >= 12);
    auto px = [&](qint64 t, int lane) {
        const QPoint p(int(w.timeToX(t) * dpr), int((w.laneRect(lane).top() + 6) * dpr));
        return img.pixelColor(p);
    };
    const QColor task = display::taskColor(QStringLiteral("primes"), w.palette());
    const QColor c = px(kSec + at * kMs, worker);
    if (state == "held") {
        QCOMPARE(c.rgb(), task.rgb());
    } else if (state == "queued") {
        QVERIFY2(c.lightness() < task.lightness() - 30,
                 qPrintable(QStringLiteral("%1 vs %2").arg(c.name(), task.name())));
    } else {
        QVERIFY2(c.lightness() > task.lightness() + 20,
                 qPrintable(QStringLiteral("%1 vs %2").arg(c.name(), task.name())));
    }
    // The tooltip says how the task used the GIL.
    const QString tip = w.toolTipAt(pointOf(w, rec->span(quint64(worker))));
    const char* expected[] = {"in 5 turns", "in 5 turns", "in 2 turns"};
    QVERIFY2(tip.contains(QLatin1String(expected[worker])), qPrintable(tip));
    QVERIFY2(tip.contains(QLatin1String("GIL: held ")), qPrintable(tip));
    QCOMPARE(
        w.detailsText({rec->span(quint64(worker)), false}).contains(QLatin1String("GIL: held")),
        true);
}

void TstTimeline::gilTurnsNarrowerThanAPixelAreShaded()
{
    // Zoomed out, 10 ms turns are a fraction of a pixel: each column is
    // shaded by the fraction held, between the held and queued colours,
    // never dropped nor drawn as one block.
    TimelineWidget w;
    w.resize(1000, 300);
    w.setRecord(gilRecord());
    w.setView(double(kSec - 100 * kMs), 25.0 * kMs); // 10 ms = 0.4 px; the tasks 4 px
    const QImage img = w.grab().toImage();
    QCOMPARE(img.devicePixelRatio(), 1.0);
    QCOMPARE(w.lastPaintStats().gilSpans, 3);
    const QColor task = display::taskColor(QStringLiteral("primes"), w.palette());
    const int y = w.laneRect(0).top() + 6;
    // Inner columns of worker 0's task: half held, half queued.
    for (qint64 t : {kSec + 30 * kMs, kSec + 55 * kMs}) {
        const QColor c = img.pixelColor(int(w.timeToX(t)), y);
        QVERIFY2(c.lightness() < task.lightness() - 5
                     && c.lightness() > task.darker(190).lightness() + 5,
                 qPrintable(QStringLiteral("%1: %2 between %3 and %4")
                                .arg(t)
                                .arg(c.name(), task.name(), task.darker(190).name())));
    }
}

void TstTimeline::gilTurnsPastTheLimitAreSaid()
{
    // The record keeps the first 4 turns of 12: the timeline says so in
    // words, draws worker 0's and 1's tasks (they end after the first
    // dropped turn) with their total GIL wait, never with half their turns.
    TimelineWidget w;
    w.resize(1000, 300);
    auto rec = gilRecord(4);
    w.setRecord(rec);
    QVERIFY2(w.noteText().contains(QLatin1String("GIL turns: first 4 of 12 shown")),
             qPrintable(w.noteText()));
    for (quint64 row = 0; row < 3; ++row)
        QVERIFY(!w.drawsGilTurns(rec->span(row)));
    w.grab();
    QCOMPARE(w.lastPaintStats().gilSpans, 0);
    // The note is drawn (its tooltip explains it).
    const QRect plot = w.plotRect();
    const QFontMetrics fm(w.font());
    const QString tip = w.toolTipAt(QPoint(plot.right() - 8, plot.top() + 4 + fm.height() / 2));
    QVERIFY2(tip.contains(QLatin1String("first 4 GIL turns of 12")), qPrintable(tip));
}

void TstTimeline::noGapWhereBusy_data()
{
    QTest::addColumn<double>("nsPerPixel");     // 0: fitted to the whole run
    QTest::newRow("fitted") << 0.0;             // ~280 µs a pixel: whole summary blocks
    QTest::newRow("37 µs a pixel") << 37'000.0; // leaves across one column boundary
    QTest::newRow("3 µs a pixel") << 3'000.0;   // leaves across several columns
    QTest::newRow("1 µs a pixel") << 1'000.0;   // one task a column
    QTest::newRow("0.7 µs a pixel") << 700.0;   // tasks across two columns
}

void TstTimeline::noGapWhereBusy()
{
    QFETCH(double, nsPerPixel);
    // Worker 1 is busy all of [1.0 s, 1.1 s): 100,000 tasks of 1 µs back to
    // back, then idle. Worker 3 is busy half the time (1 µs on, 1 µs off);
    // worker 0 runs one later task (the end of the run); worker 2 nothing.
    std::vector<TaskSpan> spans;
    quint64 id = 1;
    for (qint64 i = 0; i < 100'000; ++i) {
        spans.push_back(span(id++, 1, kSec + i * kUs, kSec + (i + 1) * kUs));
        if (i % 2 == 0)
            spans.push_back(span(id++, 3, kSec + i * kUs, kSec + (i + 1) * kUs));
    }
    spans.push_back(span(id++, 0, 1200 * kMs, 1250 * kMs));
    TimelineWidget w;
    w.resize(1000, 300);
    w.setRecord(recordOf(spans), {{2, "idle"}});
    QCOMPARE(w.laneWorkers(), (QList<int>{0, 1, 2, 3}));
    if (nsPerPixel > 0)
        w.setView(1000.0 * kMs + 333.3 * kUs, nsPerPixel);
    const QImage img = w.grab().toImage();
    QCOMPARE(img.devicePixelRatio(), 1.0);
    const auto st = w.lastPaintStats();
    QVERIFY(st.columnsAggregated > 0);

    // Odd lanes are filled with AlternateBase (over the grid lines): every
    // pixel of an idle column is exactly that.
    const QRgb background = w.palette().color(QPalette::AlternateBase).rgb();
    const QRgb busy = display::taskColor("primes", w.palette()).rgb() | 0xff000000u;
    QVERIFY(busy != background);
    const QRect plot = w.plotRect();
    auto columnIn = [&](int x, qint64 from, qint64 to) { // [x, x + 1) inside [from, to)
        return x >= plot.left() && x < plot.right() && w.xToTime(x) >= double(from)
               && w.xToTime(x + 1) <= double(to);
    };
    int full = 0, idle = 0, half = 0;
    for (int x = plot.left(); x < plot.right(); ++x) {
        const QRect lane1 = w.laneRect(1).adjusted(0, 3, 0, -3);
        const QRect lane3 = w.laneRect(3).adjusted(0, 3, 0, -3);
        if (columnIn(x, kSec, 1100 * kMs)) {
            // A worker busy all of a column's time fills it: opaque, the
            // task's own colour, top to bottom.
            for (int y = lane1.top(); y <= lane1.bottom(); ++y)
                QCOMPARE(QColor(img.pixel(x, y)), QColor(busy));
            ++full;
            if (nsPerPixel == 0 || nsPerPixel >= 4'000) {
                // Half busy: drawn, lighter than a full column.
                const QRgb c = img.pixel(x, lane3.center().y());
                QVERIFY2(c != background, qPrintable(QString("x %1").arg(x)));
                QVERIFY(c != busy);
                QVERIFY(qAbs(qRed(c) - qRed(background)) <= qAbs(qRed(busy) - qRed(background)));
                ++half;
            }
        } else if (columnIn(x, 1100 * kMs, 1200 * kMs)) {
            for (int y = lane1.top(); y <= lane1.bottom(); ++y)
                QCOMPARE(QColor(img.pixel(x, y)), QColor(background));
            ++idle;
        }
    }
    QVERIFY(full > 100);
    if (nsPerPixel == 0)
        QVERIFY(idle > 100);
    if (nsPerPixel == 0 || nsPerPixel >= 4'000)
        QVERIFY(half > 100);
}

void TstTimeline::columnsShowExactBusy_data()
{
    QTest::addColumn<double>("nsPerPixel"); // 0: fitted to the whole run
    QTest::addColumn<bool>("overlapping");  // some rows of the lane overlap
    for (bool overlap : {false, true}) {
        const char* o = overlap ? ", overlapping" : "";
        QTest::addRow("fitted%s", o) << 0.0 << overlap;
        QTest::addRow("20 µs a pixel%s", o) << 20'000.0 << overlap;
        QTest::addRow("3 µs a pixel%s", o) << 3'000.0 << overlap;
        QTest::addRow("1.6 µs a pixel%s", o) << 1'600.0 << overlap;
    }
}

void TstTimeline::columnsShowExactBusy()
{
    QFETCH(double, nsPerPixel);
    QFETCH(bool, overlapping);
    // Worker 1: 200,000 tasks of 1-3000 ns, mostly back to back, with short
    // and long gaps (a fixed pseudo-random sequence); worker 0 one later task.
    std::vector<TaskSpan> spans;
    quint64 seed = 12345;
    auto next = [&seed](quint64 n) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        return (seed >> 33) % n;
    };
    qint64 t = kSec;
    for (quint64 id = 1; id <= 200'000; ++id) {
        const qint64 len = 1 + qint64(next(3000));
        const quint64 g = next(100);
        t += g < 70 ? 0 : (g < 95 ? 1 + qint64(next(2000)) : 10 * kUs + qint64(next(190 * kUs)));
        const qint64 start = overlapping && id % 10 == 0 ? t - len / 2 : t;
        spans.push_back(span(id, 1, start, start + len));
        t = std::max(t, start + len);
    }
    spans.push_back(span(999'999, 0, t + 10 * kMs, t + 11 * kMs));
    TimelineWidget w;
    w.resize(1000, 200);
    w.setRecord(recordOf(spans));
    if (nsPerPixel > 0)
        w.setView(double(kSec) + 7.0 * kMs + 0.37, nsPerPixel);
    const QImage img = w.grab().toImage();
    if (nsPerPixel > 0)
        QCOMPARE(w.lastPaintStats().spansDrawn, 0); // every task narrower than 2 px

    // The busy fraction of each column, by brute force over the rows, against
    // the one its pixel shows: alpha = 0.35 + 0.65 busy over AlternateBase.
    const QRect plot = w.plotRect();
    const double x0 = w.xToTime(plot.left()), npp = w.nsPerPixel();
    std::vector<double> busy(std::size_t(plot.width()), 0.0);
    for (const TaskSpan& s : spans) {
        if (s.worker != 1)
            continue;
        const double a = (double(s.startNs) - x0) / npp, e = (double(s.endNs) - x0) / npp;
        for (int c = std::max(0, int(std::floor(a))); c < plot.width() && c < e; ++c) {
            const double cover = std::min(e, c + 1.0) - std::max(a, double(c));
            if (cover > 1e-6) // slivers from rounding are not time
                busy[std::size_t(c)] += cover;
        }
    }
    const QColor bg = w.palette().color(QPalette::AlternateBase);
    const QColor task = display::taskColor("primes", w.palette());
    const int y = w.laneRect(1).center().y();
    int checked = 0, drawn = 0, empty = 0;
    const int nowX = int(std::floor(w.timeToX(w.nowNs())));
    for (int c = 0; c < plot.width() - 1; ++c) {
        if (std::abs(plot.left() + c - nowX) <= 1)
            continue; // the "now" line
        const QColor px = img.pixelColor(plot.left() + c, y);
        const double expected = std::min(1.0, busy[std::size_t(c)]);
        if (expected == 0) {
            QCOMPARE(px, bg);
            ++empty;
            continue;
        }
        // The channel that tells background and task colour apart best.
        double alpha = 0;
        int spread = 0;
        for (auto [p, b, f] : {std::tuple{px.red(), bg.red(), task.red()},
                               std::tuple{px.green(), bg.green(), task.green()},
                               std::tuple{px.blue(), bg.blue(), task.blue()}}) {
            if (std::abs(f - b) > spread) {
                spread = std::abs(f - b);
                alpha = double(p - b) / double(f - b);
            }
        }
        QVERIFY(spread > 40);
        const double shown = (alpha - 0.35) / 0.65;
        QVERIFY2(
            std::abs(shown - expected) < 0.03,
            qPrintable(QString("column %1: busy %2, shown %3").arg(c).arg(expected).arg(shown)));
        ++checked;
        drawn += expected > 0.999 ? 1 : 0;
    }
    QVERIFY(checked > 100);
    if (!overlapping && nsPerPixel > 0 && nsPerPixel <= 3'000)
        QVERIFY(drawn > 10); // columns a worker was busy in full, drawn in full
    if (nsPerPixel == 0)
        QVERIFY(empty > 0); // the long gaps
}

namespace {
/// What a paint fitted to the whole run cost, and one zoomed into 20 µs.
struct PaintCost {
    TimelineWidget::PaintStats fitted, zoomed;
    std::size_t rows = 0;
    int columns = 0;
    qint64 work() const { return fitted.blocksVisited + fitted.spansVisited; }
};

PaintCost paintCost(int lanes, int perLane, int width)
{
    TimelineWidget w;
    w.resize(width, 400);
    w.setRecord(bigRecord(lanes, perLane));
    (void)w.grab();
    PaintCost c;
    c.fitted = w.lastPaintStats();
    c.rows = w.spanCount();
    c.columns = w.plotRect().width();
    w.setView(double(kSec) + 1.0 * kMs, 20.0); // 20 µs in view
    (void)w.grab();
    c.zoomed = w.lastPaintStats();
    return c;
}
} // namespace

void TstTimeline::paintCostIndependentOfRows_data()
{
    QTest::addColumn<int>("lanes");
    QTest::addColumn<int>("perLane");
    QTest::addColumn<int>("width");
    QTest::newRow("10k rows, 8 lanes") << 8 << 1'250 << 1200;
    QTest::newRow("100k rows, 8 lanes") << 8 << 12'500 << 1200;
    QTest::newRow("1M rows, 8 lanes") << 8 << 125'000 << 1200;
    QTest::newRow("1M rows, 1 lane, narrow") << 1 << 1'000'000 << 400;
}

void TstTimeline::paintCostIndependentOfRows()
{
    QFETCH(int, lanes);
    QFETCH(int, perLane);
    QFETCH(int, width);
    const PaintCost c = paintCost(lanes, perLane, width);
    QCOMPARE(c.rows, std::size_t(lanes) * perLane);
    qInfo("fitted: %zu rows, %d columns x %d lanes: %lld blocks (%lld whole), %lld rows read, "
          "%.1f a column and lane",
          c.rows, c.columns, lanes, c.fitted.blocksVisited, c.fitted.blocksAggregated,
          c.fitted.spansVisited, double(c.work()) / (double(c.columns) * lanes));
    // Every row is in the picture, folded into a column or drawn...
    QCOMPARE(c.fitted.spansAggregated + c.fitted.spansDrawn, qint64(c.rows));
    QVERIFY(c.fitted.columnsAggregated <= qint64(lanes) * c.columns);
    // ... for a cost bounded by the columns, whatever the rows: about a leaf
    // of rows or a block of blocks per column and lane.
    QVERIFY2(c.work() <= qint64(lanes) * c.columns
                             * (TimelineWidget::kBlockRows + TimelineWidget::kFanOut),
             qPrintable(QString::number(c.work())));
    // Zoomed in: a handful of tasks drawn one by one, found through the
    // summaries, not by walking the rows.
    QVERIFY(c.zoomed.spansDrawn > 0);
    QCOMPARE(c.zoomed.spansAggregated, 0);
    QVERIFY(c.zoomed.spansVisited < 100 * lanes);
    QVERIFY(c.zoomed.blocksVisited < 100 * lanes);
}

void TstTimeline::paintCostGrowsLessThanRows()
{
    // 10k against 1M rows on 8 lanes: at 10k a paint reads every row (about
    // one a column), at 1M it reads summaries; 100 times the rows, far less
    // than 100 times the work.
    const PaintCost small = paintCost(8, 1'250, 1200), large = paintCost(8, 125'000, 1200);
    QVERIFY2(large.work() < 15 * small.work(),
             qPrintable(QString("%1 vs %2").arg(large.work()).arg(small.work())));
    QVERIFY(large.fitted.blocksAggregated > 0);
    // Past a few hundred rows a column, the work stays flat: 4 times the
    // rows on one narrow lane, about the same work.
    const PaintCost quarter = paintCost(1, 250'000, 400), full = paintCost(1, 1'000'000, 400);
    QVERIFY2(full.work() < 3 * quarter.work() / 2,
             qPrintable(QString("%1 vs %2").arg(full.work()).arg(quarter.work())));
}

QTEST_MAIN(TstTimeline)
#include "tst_timeline.moc"
