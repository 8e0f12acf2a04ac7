// TimelineWidget: lanes per worker, bounded span store with its visible note,
// zoom / pan / follow through real key, wheel and mouse events, hover and
// click hit-testing through the widget's own time -> x mapping, rendering of
// status and GIL wait, and pixel-column aggregation at 1M spans.

#include "timeline/timelinewidget.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QHelpEvent>
#include <QSignalSpy>
#include <QTest>
#include <QToolTip>

#include <cmath>
#include <ctime>

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

WorkerInfo worker(int index, WorkerState state = WorkerState::Idle)
{
    WorkerInfo w;
    w.index = index;
    w.name = QStringLiteral("pool_%1").arg(index);
    w.state = state;
    return w;
}

/// A snapshot at time t (origin 1 s) with workers 0..n-1.
Snapshot snapshotAt(qint64 t, int workers = 2)
{
    Snapshot s;
    s.timeNs = t;
    s.sinceStartNs = t - kSec;
    for (int i = 0; i < workers; ++i)
        s.workers.append(worker(i));
    return s;
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
void feedTenSeconds(TimelineWidget& w)
{
    Snapshot s = snapshotAt(11 * kSec);
    quint64 id = 1;
    for (qint64 t = kSec; t < 11 * kSec; t += kSec) {
        s.spans.push_back(span(id++, 0, t, t + 900 * kMs));
        s.spans.push_back(span(id++, 1, t + 100 * kMs, t + 950 * kMs));
    }
    w.applySnapshot(s);
}

void sendWheel(QWidget& w, QPoint pos, int delta, Qt::KeyboardModifiers mods = Qt::NoModifier)
{
    QWheelEvent e(QPointF(pos), QPointF(w.mapToGlobal(pos)), QPoint(), QPoint(0, delta),
                  Qt::NoButton, mods, Qt::NoScrollPhase, false);
    QApplication::sendEvent(&w, &e);
}

void sendMouse(QWidget& w, QEvent::Type type, QPoint pos, Qt::MouseButton button,
               Qt::MouseButtons buttons)
{
    QMouseEvent e(type, QPointF(pos), QPointF(w.mapToGlobal(pos)), button, buttons, Qt::NoModifier);
    QApplication::sendEvent(&w, &e);
}

/// CPU time of this thread: paint cost without the noise of a loaded machine.
qint64 threadCpuNs()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return qint64(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

QPoint pointOf(const TimelineWidget& w, const TaskSpan& s)
{
    const double x = w.timeToX((s.startNs + s.endNs) / 2);
    return QPoint(int(std::lround(x)), w.laneRect(s.worker).center().y());
}

} // namespace

class TstTimeline : public QObject {
    Q_OBJECT
private slots:
    void emptyRenders();
    void liveBadgeCanBeHidden();
    void lanesPerWorker();
    void spansStoredSortedAndTrimmed();
    void replaySetSpans();
    void keys_data();
    void keys();
    void endResumesFollowing();
    void wheelZoomKeepsTimeUnderCursor();
    void wheelInFollowModeKeepsNowAtTheRight();
    void shiftWheelPans();
    void dragPans();
    void clickEmitsTaskId_data();
    void clickEmitsTaskId();
    void hoverToolTip();
    void runningTaskIsAnOpenRectangle();
    void runningTaskWithoutStartTime();
    void statusAndGilRendering();
    void aggregatesAtOneMillionSpans();
};

void TstTimeline::emptyRenders()
{
    TimelineWidget w;
    w.resize(600, 200);
    QVERIFY(!w.grab().isNull());
    QCOMPARE(w.lastPaintStats().lanes, 0);
    QCOMPARE(w.laneCount(), 0);
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
    Snapshot s = snapshotAt(2 * kSec, 3);
    s.spans = {span(1, 0, 1100 * kMs, 1200 * kMs), span(2, 1, 1100 * kMs, 1300 * kMs)};
    w.applySnapshot(s);
    QCOMPARE(w.laneCount(), 3);
    QCOMPARE(w.laneWorkers(), (QList<int>{0, 1, 2}));
    QCOMPARE(w.laneName(1), "pool_1");
    QCOMPARE(w.originNs(), kSec);
    QVERIFY(!w.laneRect(2).isNull());
    QVERIFY(w.laneRect(1).top() >= w.laneRect(0).bottom());
    QVERIFY(w.laneRect(7).isNull());

    // A process worker dies and is respawned with a new index: a new lane;
    // the dead worker's lane keeps its history.
    s = snapshotAt(3 * kSec, 0);
    s.workers = {worker(0), worker(1, WorkerState::Dead), worker(2), worker(3)};
    w.applySnapshot(s);
    QCOMPARE(w.laneWorkers(), (QList<int>{0, 1, 2, 3}));
    s.workers = {worker(0), worker(2), worker(3)};
    s.timeNs = 4 * kSec;
    w.applySnapshot(s);
    QCOMPARE(w.laneCount(), 4);
    QCOMPARE(w.laneSpans(1).size(), std::size_t(1));

    // A span from a worker never reported still gets a lane.
    s.spans = {span(3, 9, 3 * kSec, 3500 * kMs)};
    w.applySnapshot(s);
    QCOMPARE(w.laneWorkers().last(), 9);
    QVERIFY(!w.grab().isNull());
    QCOMPARE(w.lastPaintStats().lanes, 5);
}

void TstTimeline::spansStoredSortedAndTrimmed()
{
    TimelineWidget w;
    w.resize(1000, 300);
    w.setMaxSpans(100);
    QSignalSpy trimmed(&w, &TimelineWidget::trimmedChanged);
    quint64 id = 1;
    for (int tick = 0; tick < 3; ++tick) {
        Snapshot s = snapshotAt((2 + tick) * kSec);
        for (int i = 0; i < 60; ++i, ++id) {
            const qint64 t = kSec + qint64(id) * 10 * kMs;
            s.spans.push_back(span(id, int(id % 2), t, t + 5 * kMs));
        }
        w.applySnapshot(s);
    }
    QCOMPARE(w.spanCount(), std::size_t(100));
    QCOMPARE(w.trimmedCount(), 80u);
    QCOMPARE(w.noteText(), "80 older tasks trimmed");
    QVERIFY(!trimmed.isEmpty());
    QCOMPARE(trimmed.last().first().toULongLong(), 80u);

    QList<quint64> kept;
    for (int lane : w.laneWorkers()) {
        const auto spans = w.laneSpans(lane);
        for (std::size_t i = 0; i < spans.size(); ++i) {
            kept.append(spans[i].taskId);
            if (i)
                QVERIFY(spans[i - 1].startNs <= spans[i].startNs);
        }
    }
    std::sort(kept.begin(), kept.end());
    QCOMPARE(kept.size(), 100);
    QCOMPARE(kept.first(), 81u); // the oldest went first
    QCOMPARE(kept.last(), 180u);

    // An out-of-order span (clock skew) lands in its sorted place.
    Snapshot s = snapshotAt(6 * kSec);
    s.spans = {span(999, 0, 2 * kSec + 5 * kMs, 2 * kSec + 6 * kMs)};
    w.applySnapshot(s);
    const auto lane0 = w.laneSpans(0);
    QVERIFY(std::is_sorted(lane0.begin(), lane0.end(), [](const TaskSpan& a, const TaskSpan& b) {
        return a.startNs < b.startNs;
    }));
    QCOMPARE(w.spanCount(), std::size_t(100));
    QCOMPARE(w.trimmedCount(), 81u);

    QVERIFY(!w.grab().isNull()); // the note is painted
    w.clear();
    QCOMPARE(w.spanCount(), std::size_t(0));
    QCOMPARE(w.trimmedCount(), 0u);
    QCOMPARE(w.noteText(), QString());
}

void TstTimeline::replaySetSpans()
{
    TimelineWidget w;
    w.resize(1000, 300);
    w.setMaxSpans(3);
    std::vector<TaskSpan> spans = {span(1, 4, 30 * kMs, 40 * kMs), span(2, 2, 10 * kMs, 20 * kMs),
                                   span(3, 4, 10 * kMs, 20 * kMs), span(4, 2, 50 * kMs, 60 * kMs)};
    w.setSpans(spans, {{2, "two"}, {4, "four"}, {5, "five"}}, 5 * kMs);
    QVERIFY(!w.isFollowing());
    QCOMPARE(w.laneWorkers(), (QList<int>{2, 4, 5}));
    QCOMPARE(w.laneName(4), "four");
    QCOMPARE(w.spanCount(), std::size_t(3)); // the first one given is trimmed
    QCOMPARE(w.trimmedCount(), 1u);
    QCOMPARE(w.laneSpans(4).front().taskId, 3u); // sorted by start
    QCOMPARE(w.originNs(), 5 * kMs);
    // fitted: everything visible
    QVERIFY(w.viewStartNs() <= 10 * kMs);
    QVERIFY(w.viewEndNs() >= 60 * kMs);

    TraceData trace;
    trace.originNs = 0;
    trace.workers = {TraceWorker{0, "w0", 0, 0}};
    trace.spans = {span(7, 0, kMs, 2 * kMs)};
    w.setTraceData(trace);
    QCOMPARE(w.laneWorkers(), (QList<int>{0}));
    QCOMPARE(w.laneName(0), "w0");
    QCOMPARE(w.trimmedCount(), 0u);
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
    QTest::newRow("right") << int(Qt::Key_Right) << Qt::KeyboardModifiers() << 1.0 << 1 << false;
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
    feedTenSeconds(w);
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
    if (following) // "now" stays at the right edge, whatever the zoom
        QVERIFY(w.timeToX(w.nowNs()) > w.plotRect().right() - 20);
}

void TstTimeline::endResumesFollowing()
{
    TimelineWidget w;
    w.resize(1000, 300);
    feedTenSeconds(w);
    QTest::keyClick(&w, Qt::Key_Home);
    QVERIFY(!w.isFollowing());
    QVERIFY(w.viewStartNs() <= double(kSec));
    QVERIFY(w.timeToX(w.nowNs()) > w.plotRect().right()); // now is off screen

    Snapshot s = snapshotAt(20 * kSec); // not following: the view stays put
    const double start = w.viewStartNs();
    w.applySnapshot(s);
    QCOMPARE(w.viewStartNs(), start);

    QTest::keyClick(&w, Qt::Key_End);
    QVERIFY(w.isFollowing());
    QVERIFY(std::abs(w.timeToX(20 * kSec) - w.plotRect().right()) < 20);
    s = snapshotAt(30 * kSec);
    w.applySnapshot(s);
    QVERIFY(std::abs(w.timeToX(30 * kSec) - w.plotRect().right()) < 20);
}

void TstTimeline::wheelZoomKeepsTimeUnderCursor()
{
    TimelineWidget w;
    w.resize(1000, 300);
    feedTenSeconds(w);
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
    feedTenSeconds(w);
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
    feedTenSeconds(w);
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
    feedTenSeconds(w);
    QSignalSpy clicked(&w, &TimelineWidget::taskClicked);
    const double start = w.viewStartNs();
    const double npp = w.nsPerPixel();
    const QPoint from(600, w.laneRect(0).center().y());
    sendMouse(w, QEvent::MouseButtonPress, from, Qt::LeftButton, Qt::LeftButton);
    sendMouse(w, QEvent::MouseMove, from + QPoint(-50, 0), Qt::NoButton, Qt::LeftButton);
    sendMouse(w, QEvent::MouseMove, from + QPoint(-100, 0), Qt::NoButton, Qt::LeftButton);
    sendMouse(w, QEvent::MouseButtonRelease, from + QPoint(-100, 0), Qt::LeftButton, Qt::NoButton);
    QVERIFY(!w.isFollowing());
    QVERIFY(std::abs(w.viewStartNs() - (start + 100 * npp)) < 1);
    QCOMPARE(clicked.count(), 0); // a drag is not a click
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
    w.setSpans(spans);
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

void TstTimeline::hoverToolTip()
{
    TimelineWidget w;
    w.resize(1000, 300);
    std::vector<TaskSpan> spans = {span(41, 0, 0, 100 * kMs),
                                   span(42, 1, 0, 200 * kMs, TaskStatus::Failed, "hash")};
    w.setSpans(spans, {{0, "alpha"}, {1, "beta"}});
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
    QVERIFY(w.toolTipAt(QPoint(5, w.laneRect(0).center().y())).contains("alpha"));

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
    Snapshot s = runningAt(5 * kSec, 77, 4 * kSec, "sleep");
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
    s = snapshotAt(6 * kSec);
    s.spans = {span(77, 1, 4 * kSec, 5500 * kMs, TaskStatus::Succeeded, "sleep")};
    w.applySnapshot(s);
    QVERIFY(!w.grab().isNull());
    QCOMPARE(w.lastPaintStats().runningDrawn, 0);
    QCOMPARE(w.lastPaintStats().spansDrawn, 1);
}

void TstTimeline::runningTaskWithoutStartTime()
{
    // A task the monitor did not time (sampling) reports no start: it is
    // drawn from the first snapshot that saw it running, and stays so.
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
    std::vector<TaskSpan> spans = {gil, span(2, 1, 0, kSec, TaskStatus::Failed),
                                   span(3, 2, 0, kSec, TaskStatus::Cancelled)};
    w.setSpans(spans);
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

void TstTimeline::aggregatesAtOneMillionSpans()
{
    constexpr int kLanes = 8;
    constexpr int kPerLane = 125'000;
    TimelineWidget w;
    w.resize(1200, 400);
    w.setMaxSpans(2'000'000);
    const quint32 names[] = {NameTable::intern("primes"), NameTable::intern("hash"),
                             NameTable::intern("sleep")};
    std::vector<TaskSpan> spans;
    spans.reserve(std::size_t(kLanes) * kPerLane);
    quint64 id = 1;
    for (int i = 0; i < kPerLane; ++i) {
        for (int lane = 0; lane < kLanes; ++lane, ++id) {
            const qint64 t = qint64(i) * kUs + lane * 100;
            const TaskStatus st = id % 1000 == 0   ? TaskStatus::Failed
                                  : id % 1500 == 0 ? TaskStatus::Cancelled
                                                   : TaskStatus::Succeeded;
            spans.push_back(span(id, lane, t, t + 800, st, names[id % 3]));
        }
    }
    w.setSpans(spans);
    QCOMPARE(w.spanCount(), std::size_t(1'000'000));
    QCOMPARE(w.laneCount(), kLanes);

    // Whole run in view (fit): every span is far narrower than a pixel.
    (void)w.grab(); // warm-up: colour and layout caches
    QList<qint64> paintNs, cpuNs;
    TimelineWidget::PaintStats st;
    QImage img;
    for (int i = 0; i < 5; ++i) {
        const qint64 cpu0 = threadCpuNs();
        img = w.grab().toImage();
        cpuNs.append(threadCpuNs() - cpu0);
        st = w.lastPaintStats();
        paintNs.append(st.elapsedNs);
    }
    std::sort(paintNs.begin(), paintNs.end());
    std::sort(cpuNs.begin(), cpuNs.end());
    // Informational (timings live in benchmarks, not in pass/fail tests).
    qInfo("1M spans, %d lanes, %dx%d: paintEvent wall median %.1f ms (min %.1f, max %.1f), "
          "grab() thread CPU median %.1f ms; %lld spans aggregated into %lld columns, "
          "%lld drawn one by one",
          kLanes, w.width(), w.height(), paintNs[2] / 1e6, paintNs.first() / 1e6,
          paintNs.last() / 1e6, cpuNs[2] / 1e6, st.spansAggregated, st.columnsAggregated,
          st.spansDrawn);
    QCOMPARE(st.spansVisited, 1'000'000);
    QCOMPARE(st.spansAggregated, 1'000'000);
    QCOMPARE(st.spansDrawn, 0);
    QVERIFY(st.columnsAggregated > 0);
    QVERIFY(st.columnsAggregated
            <= qint64(kLanes) * w.plotRect().width() * img.devicePixelRatio() + kLanes);
    // The lanes are painted (busy columns differ from the empty base).
    const QPoint mid = w.laneRect(3).center();
    QVERIFY(img.pixelColor(mid * img.devicePixelRatio()) != w.palette().color(QPalette::Base));

    // Zoomed into 20 µs: a handful of spans, drawn one by one; only the visible
    // range is walked (binary search), not the million.
    w.setView(50.0 * kMs, 20.0); // 20 ns per pixel
    (void)w.grab();
    st = w.lastPaintStats();
    qInfo("zoomed in: %lld spans visited, %lld drawn, %lld aggregated, paint %.2f ms",
          st.spansVisited, st.spansDrawn, st.spansAggregated, st.elapsedNs / 1e6);
    QVERIFY(st.spansDrawn > 0);
    QCOMPARE(st.spansAggregated, 0);
    QVERIFY(st.spansVisited < 500);
}

QTEST_MAIN(TstTimeline)
#include "tst_timeline.moc"
