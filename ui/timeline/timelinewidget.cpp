#include "timeline/timelinewidget.h"

#include "models/display.h"
#include "teaching/presenter.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QHelpEvent>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>
#include <limits>

namespace poolscope {

namespace {
constexpr double kMinNsPerPixel = 1e-3;
constexpr double kMaxNsPerPixel = 1e12;
constexpr int kEdgeMarginPx = 12; // room right of "now" when following / fitting
constexpr double kZoomStep = 1.5;

/// 1, 2, 5 x 10^k ns: the smallest such step >= ns.
double niceStep(double ns)
{
    const double p = std::pow(10.0, std::floor(std::log10(std::max(ns, 1e-3))));
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
        if (m * p >= ns)
            return m * p;
    }
    return 10.0 * p;
}

/// An axis label for a tick at relNs, with the unit and decimals the step needs.
QString tickLabel(double relNs, double step)
{
    double unit = 1;
    const char* name = "ns";
    if (step >= 1e8) {
        unit = 1e9;
        name = "s";
    } else if (step >= 1e5) {
        unit = 1e6;
        name = "ms";
    } else if (step >= 1e2) {
        unit = 1e3;
        name = "µs";
    }
    const int decimals = std::max(0, int(std::ceil(-std::log10(step / unit) - 1e-9)));
    return QStringLiteral("%1 %2").arg(relNs / unit, 0, 'f', decimals).arg(QString::fromUtf8(name));
}
} // namespace

TimelineWidget::TimelineWidget(QWidget* parent)
    : QWidget(parent)
{
    setMouseTracking(true);
    setFocusPolicy(Qt::StrongFocus);
    setAttribute(Qt::WA_OpaquePaintEvent);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

TimelineWidget::~TimelineWidget() = default;

// ------------------------------------------------------------------ data

TimelineWidget::Lane* TimelineWidget::findLane(int worker)
{
    auto it = std::lower_bound(m_lanes.begin(), m_lanes.end(), worker,
                               [](const Lane& l, int w) { return l.worker < w; });
    return it != m_lanes.end() && it->worker == worker ? &*it : nullptr;
}

const TimelineWidget::Lane* TimelineWidget::findLane(int worker) const
{
    return const_cast<TimelineWidget*>(this)->findLane(worker);
}

TimelineWidget::Lane& TimelineWidget::laneFor(int worker)
{
    auto it = std::lower_bound(m_lanes.begin(), m_lanes.end(), worker,
                               [](const Lane& l, int w) { return l.worker < w; });
    if (it != m_lanes.end() && it->worker == worker)
        return *it;
    Lane lane;
    lane.worker = worker;
    lane.name = worker >= 0 ? tr("worker %1").arg(worker) : tr("unknown worker");
    invalidateLayout();
    return *m_lanes.insert(it, std::move(lane));
}

void TimelineWidget::insertSpan(Lane& lane, const TaskSpan& s)
{
    const bool empty = lane.spans.size() == lane.first;
    if (empty || s.startNs >= lane.spans.back().startNs) {
        lane.maxEnd.push_back(empty ? s.endNs : std::max(lane.maxEnd.back(), s.endNs));
        lane.spans.push_back(s);
        return;
    }
    // Out of order (rare: clock skew between processes): insert and repair the
    // prefix maximum from there on.
    auto pos =
        std::upper_bound(lane.spans.begin() + qsizetype(lane.first), lane.spans.end(), s.startNs,
                         [](qint64 t, const TaskSpan& x) { return t < x.startNs; });
    const std::size_t at = std::size_t(pos - lane.spans.begin());
    lane.spans.insert(pos, s);
    lane.maxEnd.insert(lane.maxEnd.begin() + qsizetype(at), s.endNs);
    for (std::size_t i = at; i < lane.spans.size(); ++i)
        lane.maxEnd[i] = i > lane.first ? std::max(lane.maxEnd[i - 1], lane.spans[i].endNs)
                                        : lane.spans[i].endNs;
}

void TimelineWidget::applySnapshot(const Snapshot& snapshot)
{
    if (m_originNs == 0)
        m_originNs = snapshot.timeNs - snapshot.sinceStartNs;

    for (const WorkerInfo& w : snapshot.workers) {
        Lane& lane = laneFor(w.index);
        if (!w.name.isEmpty() && lane.name != w.name) {
            lane.name = w.name;
            invalidateLayout();
        }
        lane.dead = w.state == WorkerState::Dead;
        const bool running = w.currentTask != 0 && !lane.dead;
        // A task run without detail (the monitor samples at high rates)
        // has no start time: draw it from the first snapshot that saw it
        // running, never from 0 (which drew it from the far left and
        // stretched "fit all" back to the epoch).
        qint64 start = running ? w.currentStartNs : 0;
        if (running && start <= 0)
            start = lane.runningId == w.currentTask && lane.runningStartNs > 0 ? lane.runningStartNs
                                                                               : snapshot.timeNs;
        lane.runningId = running ? w.currentTask : 0;
        lane.runningName = running ? w.currentName : 0;
        lane.runningStartNs = start;
    }
    // Every live worker is in every snapshot (a dead one once more, as Dead):
    // a lane missing from it belongs to a worker that is gone.
    std::vector<char> seen(m_lanes.size(), 0);
    for (const WorkerInfo& w : snapshot.workers)
        seen[std::size_t(findLane(w.index) - m_lanes.data())] = 1;
    for (std::size_t i = 0; i < m_lanes.size(); ++i) {
        if (!seen[i]) {
            m_lanes[i].dead = true;
            m_lanes[i].runningId = 0;
        }
    }

    for (const TaskSpan& s : snapshot.spans) {
        insertSpan(laneFor(s.worker), s);
        m_arrival.push_back(s.worker);
        ++m_total;
        m_nowNs = std::max(m_nowNs, s.endNs);
    }
    m_nowNs = std::max(m_nowNs, snapshot.timeNs);
    trim();
    if (m_following)
        followNow();
    update();
}

void TimelineWidget::trim()
{
    if (m_total <= m_maxSpans)
        return;
    quint64 dropped = 0;
    while (m_total > m_maxSpans && !m_arrival.empty()) {
        const int w = m_arrival.front();
        m_arrival.pop_front();
        if (Lane* lane = findLane(w); lane && lane->first < lane->spans.size())
            ++lane->first;
        --m_total;
        ++dropped;
    }
    for (Lane& lane : m_lanes) {
        // Amortised O(1): compact once the dead prefix is at least half.
        if (lane.first > 0 && lane.first * 2 >= lane.spans.size()) {
            lane.spans.erase(lane.spans.begin(), lane.spans.begin() + qsizetype(lane.first));
            lane.maxEnd.erase(lane.maxEnd.begin(), lane.maxEnd.begin() + qsizetype(lane.first));
            lane.first = 0;
        }
    }
    // Lanes of dead workers whose every span is gone say nothing any more.
    const auto before = m_lanes.size();
    m_lanes.erase(std::remove_if(m_lanes.begin(), m_lanes.end(),
                                 [](const Lane& l) {
                                     return l.dead && l.liveCount() == 0 && l.runningId == 0;
                                 }),
                  m_lanes.end());
    if (m_lanes.size() != before)
        invalidateLayout();
    m_trimmed += dropped;
    emit trimmedChanged(m_trimmed);
}

void TimelineWidget::setSpans(const std::vector<TaskSpan>& spans,
                              const QHash<int, QString>& laneNames, qint64 originNs)
{
    const quint64 oldTrimmed = m_trimmed;
    m_lanes.clear();
    m_arrival.clear();
    const std::size_t n = spans.size();
    const std::size_t skip = n > m_maxSpans ? n - m_maxSpans : 0;

    std::vector<int> workers;
    for (auto it = laneNames.cbegin(); it != laneNames.cend(); ++it)
        workers.push_back(it.key());
    std::sort(workers.begin(), workers.end());
    {
        // Distinct workers, kept sorted: a handful, however many spans.
        int last = std::numeric_limits<int>::min();
        for (std::size_t i = skip; i < n; ++i) {
            const int w = spans[i].worker;
            if (w == last)
                continue;
            last = w;
            auto it = std::lower_bound(workers.begin(), workers.end(), w);
            if (it == workers.end() || *it != w)
                workers.insert(it, w);
        }
    }
    workers.erase(std::unique(workers.begin(), workers.end()), workers.end());
    m_lanes.resize(workers.size());
    for (std::size_t i = 0; i < workers.size(); ++i) {
        Lane& lane = m_lanes[i];
        lane.worker = workers[i];
        lane.name = laneNames.value(workers[i]);
        if (lane.name.isEmpty())
            lane.name = tr("worker %1").arg(workers[i]);
    }
    qint64 minStart = std::numeric_limits<qint64>::max();
    m_nowNs = 0;
    for (std::size_t i = skip; i < n; ++i) {
        const TaskSpan& s = spans[i];
        findLane(s.worker)->spans.push_back(s);
        m_arrival.push_back(s.worker);
        minStart = std::min(minStart, s.startNs);
        m_nowNs = std::max(m_nowNs, s.endNs);
    }
    for (Lane& lane : m_lanes) {
        auto byStart = [](const TaskSpan& a, const TaskSpan& b) { return a.startNs < b.startNs; };
        if (!std::is_sorted(lane.spans.begin(), lane.spans.end(), byStart))
            std::stable_sort(lane.spans.begin(), lane.spans.end(), byStart);
        lane.maxEnd.resize(lane.spans.size());
        qint64 m = std::numeric_limits<qint64>::min();
        for (std::size_t i = 0; i < lane.spans.size(); ++i)
            lane.maxEnd[i] = m = std::max(m, lane.spans[i].endNs);
    }
    m_total = n - skip;
    m_trimmed = skip;
    m_originNs = originNs != 0 ? originNs : (n > skip ? minStart : 0);
    invalidateLayout();
    setFollowing(false);
    fitToData();
    if (m_trimmed != oldTrimmed)
        emit trimmedChanged(m_trimmed);
    update();
}

void TimelineWidget::setTraceData(const TraceData& trace)
{
    QHash<int, QString> names;
    for (const TraceWorker& w : trace.workers)
        names.insert(w.index, w.name);
    setSpans(trace.spans, names, trace.originNs);
}

void TimelineWidget::clear()
{
    m_lanes.clear();
    m_arrival.clear();
    m_total = 0;
    m_nowNs = 0;
    m_originNs = 0;
    invalidateLayout();
    if (m_trimmed != 0) {
        m_trimmed = 0;
        emit trimmedChanged(0);
    }
    update();
}

void TimelineWidget::setMaxSpans(std::size_t maxSpans)
{
    m_maxSpans = std::max<std::size_t>(1, maxSpans);
    trim();
    update();
}

QString TimelineWidget::noteText() const
{
    return m_trimmed ? tr("%L1 older tasks trimmed").arg(m_trimmed) : QString();
}

QList<int> TimelineWidget::laneWorkers() const
{
    QList<int> out;
    out.reserve(qsizetype(m_lanes.size()));
    for (const Lane& l : m_lanes)
        out.append(l.worker);
    return out;
}

QString TimelineWidget::laneName(int worker) const
{
    const Lane* l = findLane(worker);
    return l ? l->name : QString();
}

std::vector<TaskSpan> TimelineWidget::laneSpans(int worker) const
{
    const Lane* l = findLane(worker);
    if (!l)
        return {};
    return {l->spans.begin() + qsizetype(l->first), l->spans.end()};
}

qint64 TimelineWidget::dataStartNs() const
{
    qint64 start = std::numeric_limits<qint64>::max();
    for (const Lane& l : m_lanes) {
        if (l.liveCount())
            start = std::min(start, l.spans[l.first].startNs);
        if (l.runningId)
            start = std::min(start, l.runningStartNs);
    }
    return start == std::numeric_limits<qint64>::max() ? m_nowNs : start;
}

// ------------------------------------------------------------------ view

double TimelineWidget::viewEndNs() const
{
    return m_viewStart + double(plotRect().width()) * m_nsPerPixel;
}

void TimelineWidget::setViewInternal(double startNs, double nsPerPixel)
{
    nsPerPixel = std::clamp(nsPerPixel, kMinNsPerPixel, kMaxNsPerPixel);
    if (startNs == m_viewStart && nsPerPixel == m_nsPerPixel)
        return;
    m_viewStart = startNs;
    m_nsPerPixel = nsPerPixel;
    emit viewChanged();
    update();
}

void TimelineWidget::setView(double startNs, double nsPerPixel)
{
    setFollowing(false);
    setViewInternal(startNs, nsPerPixel);
}

void TimelineWidget::followNow()
{
    const int w = plotRect().width();
    const int margin = std::min(kEdgeMarginPx, w / 10);
    setViewInternal(double(m_nowNs) - double(w - margin) * m_nsPerPixel, m_nsPerPixel);
}

void TimelineWidget::setFollowing(bool following)
{
    if (following == m_following)
        return;
    m_following = following;
    if (m_following)
        followNow();
    emit followingChanged(m_following);
    update();
}

void TimelineWidget::zoomBy(double factor, double anchorX)
{
    if (!(factor > 0))
        return;
    if (m_following)
        anchorX = timeToX(m_nowNs);
    const QRect plot = plotRect();
    const double t = xToTime(anchorX);
    const double npp = std::clamp(m_nsPerPixel / factor, kMinNsPerPixel, kMaxNsPerPixel);
    setViewInternal(t - (anchorX - plot.left()) * npp, npp);
    if (m_following)
        followNow();
}

void TimelineWidget::zoomIn()
{
    zoomBy(kZoomStep, plotRect().center().x());
}

void TimelineWidget::zoomOut()
{
    zoomBy(1.0 / kZoomStep, plotRect().center().x());
}

void TimelineWidget::fitToData()
{
    const qint64 start = dataStartNs();
    qint64 end = m_nowNs;
    for (const Lane& l : m_lanes) {
        if (l.liveCount())
            end = std::max(end, l.maxEnd.back());
    }
    if (end <= start)
        end = start + 1'000'000; // nothing to fit: 1 ms
    const int w = plotRect().width();
    const int margin = std::min(kEdgeMarginPx, w / 10);
    const double npp = double(end - start) / double(std::max(1, w - 2 * margin));
    setViewInternal(double(start) - margin * npp, npp);
    if (m_following)
        followNow();
}

void TimelineWidget::panBy(double pixels)
{
    setFollowing(false);
    setViewInternal(m_viewStart + pixels * m_nsPerPixel, m_nsPerPixel);
}

// ------------------------------------------------------------------ geometry

void TimelineWidget::invalidateLayout()
{
    m_labelWidth = -1;
}

TimelineWidget::Layout TimelineWidget::layout() const
{
    const QFontMetrics fm(font());
    Layout l;
    l.axisHeight = fm.height() + fm.height() / 2 + 4;
    if (m_labelWidth < 0) {
        int w = fm.horizontalAdvance(QStringLiteral("worker 00"));
        for (const Lane& lane : m_lanes)
            w = std::max(w, fm.horizontalAdvance(lane.name));
        m_labelWidth = w + fm.averageCharWidth() * 2;
    }
    l.labelWidth = std::min(m_labelWidth, std::max(fm.height() * 4, width() / 4));
    l.plot = QRect(l.labelWidth, l.axisHeight, std::max(1, width() - l.labelWidth - 4),
                   std::max(1, height() - l.axisHeight));
    l.laneTop = l.axisHeight;
    const int n = int(m_lanes.size());
    l.laneHeight = n ? std::clamp(l.plot.height() / n, 3, fm.height() * 2 + 8) : 0;
    return l;
}

QRect TimelineWidget::plotRect() const
{
    return layout().plot;
}

double TimelineWidget::timeToX(qint64 ns) const
{
    return plotRect().left() + (double(ns) - m_viewStart) / m_nsPerPixel;
}

double TimelineWidget::xToTime(double x) const
{
    return m_viewStart + (x - plotRect().left()) * m_nsPerPixel;
}

QRect TimelineWidget::laneRect(int worker) const
{
    const Lane* lane = findLane(worker);
    if (!lane)
        return {};
    const Layout l = layout();
    const int i = int(lane - m_lanes.data());
    return QRect(l.plot.left(), l.laneTop + i * l.laneHeight, l.plot.width(), l.laneHeight);
}

int TimelineWidget::laneIndexAt(int y, const Layout& l) const
{
    if (l.laneHeight <= 0 || y < l.laneTop)
        return -1;
    const int i = (y - l.laneTop) / l.laneHeight;
    return i < int(m_lanes.size()) ? i : -1;
}

std::optional<TimelineWidget::Hit> TimelineWidget::hitTest(const QPoint& pos) const
{
    const Layout l = layout();
    if (!l.plot.contains(pos))
        return std::nullopt;
    const int li = laneIndexAt(pos.y(), l);
    if (li < 0)
        return std::nullopt;
    const Lane& lane = m_lanes[std::size_t(li)];
    const double t = xToTime(pos.x() + 0.5);
    const double tol = 3.0 * m_nsPerPixel; // a few pixels of slack for thin spans

    const qint64* me = lane.maxEnd.data();
    const std::size_t lo = lane.first, hi = lane.spans.size();
    std::size_t k = std::size_t(
        std::partition_point(me + lo, me + hi, [&](qint64 v) { return double(v) < t - tol; }) - me);
    const TaskSpan* best = nullptr;
    double bestDist = std::numeric_limits<double>::max();
    for (; k < hi && double(lane.spans[k].startNs) <= t + tol; ++k) {
        const TaskSpan& s = lane.spans[k];
        const double d = t < double(s.startNs) ? double(s.startNs) - t
                         : t > double(s.endNs) ? t - double(s.endNs)
                                               : 0.0;
        if (d <= tol && d < bestDist) {
            best = &s;
            bestDist = d;
            if (d == 0)
                break;
        }
    }
    if (best && bestDist == 0)
        return Hit{*best, false};
    if (lane.runningId && t + tol >= double(lane.runningStartNs) && t - tol <= double(m_nowNs)) {
        Hit h;
        h.running = true;
        h.span.taskId = lane.runningId;
        h.span.nameId = lane.runningName;
        h.span.startNs = lane.runningStartNs;
        h.span.endNs = std::max(m_nowNs, lane.runningStartNs);
        h.span.worker = lane.worker;
        return h;
    }
    if (best)
        return Hit{*best, false};
    return std::nullopt;
}

QString TimelineWidget::toolTipAt(const QPoint& pos) const
{
    const Layout l = layout();
    if (pos.x() < l.plot.left() && pos.y() >= l.laneTop) {
        const int li = laneIndexAt(pos.y(), l);
        if (li < 0)
            return {};
        const Lane& lane = m_lanes[std::size_t(li)];
        return tr("%1 (worker #%2)%3\n%L4 tasks shown")
            .arg(lane.name)
            .arg(lane.worker)
            .arg(lane.dead ? tr(", dead") : QString())
            .arg(qulonglong(lane.liveCount()));
    }
    if (m_trimmed) {
        const QFontMetrics fm(font());
        const QString note = noteText();
        const QRect noteRect(l.plot.right() - fm.horizontalAdvance(note) - 12, l.plot.top() + 2,
                             fm.horizontalAdvance(note) + 10, fm.height() + 4);
        if (noteRect.contains(pos))
            return tr("Only the last %L1 tasks are kept (memory stays flat); "
                      "%L2 older ones were dropped from the timeline.")
                .arg(qulonglong(m_maxSpans))
                .arg(m_trimmed);
    }
    const auto hit = hitTest(pos);
    if (!hit)
        return {};
    const TaskSpan& s = hit->span;
    return tr("%1 #%2 — %3, %4")
        .arg(NameTable::name(s.nameId))
        .arg(s.taskId)
        .arg(hit->running ? tr("running") : QString::fromLatin1(nameOf(s.status)),
             display::formatDuration(s.endNs - s.startNs));
}

QString TimelineWidget::detailsText(const Hit& hit) const
{
    const TaskSpan& s = hit.span;
    QStringList lines;
    lines << tr("%1 #%2 — %3")
                 .arg(NameTable::name(s.nameId))
                 .arg(s.taskId)
                 .arg(hit.running ? tr("running") : QString::fromLatin1(nameOf(s.status)));
    lines << tr("Worker: %1").arg(laneName(s.worker));
    lines << tr("Started at: %1").arg(display::formatDuration(s.startNs - m_originNs));
    lines << (hit.running ? tr("Running for: %1") : tr("Run time: %1"))
                 .arg(display::formatDuration(s.endNs - s.startNs));
    if (!hit.running) {
        if (s.cpuNs >= 0)
            lines << tr("CPU time: %1").arg(display::formatDuration(s.cpuNs));
        if (s.gilWaitNs > 0)
            lines << tr("GIL wait: %1").arg(display::formatDuration(s.gilWaitNs));
        if (s.enqueueNs > 0)
            lines << tr("Queued for: %1").arg(display::formatDuration(s.startNs - s.enqueueNs));
        if (s.core >= 0)
            lines << tr("Core: %1").arg(s.core);
    }
    return lines.join(QLatin1Char('\n'));
}

QSize TimelineWidget::sizeHint() const
{
    const QFontMetrics fm(font());
    const int lanes = std::max<int>(4, int(m_lanes.size()));
    return {fm.averageCharWidth() * 100,
            fm.height() * 2 + 4 + lanes * std::min(fm.height() + 8, 2 * fm.height())};
}

QSize TimelineWidget::minimumSizeHint() const
{
    const QFontMetrics fm(font());
    return {fm.averageCharWidth() * 30, fm.height() * 6};
}

// ------------------------------------------------------------------ painting

QRgb TimelineWidget::colorOf(quint32 nameId) const
{
    if (nameId < 65536) {
        if (m_colors.size() <= nameId)
            m_colors.resize(std::size_t(nameId) + 1, 0);
        QRgb& c = m_colors[nameId];
        if (!c)
            c = display::taskColor(NameTable::name(nameId), palette()).rgba() | 0xff000000u;
        return c;
    }
    auto it = m_colorsFar.find(nameId);
    if (it == m_colorsFar.end())
        it = m_colorsFar.insert(
            nameId, display::taskColor(NameTable::name(nameId), palette()).rgba() | 0xff000000u);
    return *it;
}

void TimelineWidget::paintEvent(QPaintEvent*)
{
    QElapsedTimer timer;
    timer.start();
    PaintStats st;
    QPainter p(this);
    const QPalette& pal = palette();
    p.fillRect(rect(), pal.color(QPalette::Base));
    const Layout l = layout();

    paintAxis(p, l);
    if (m_lanes.empty()) {
        p.setPen(pal.color(QPalette::PlaceholderText));
        p.drawText(l.plot, Qt::AlignCenter, tr("No tasks yet"));
    } else {
        for (int i = 0; i < int(m_lanes.size()); ++i) {
            if (l.laneTop + i * l.laneHeight > height())
                break;
            paintLane(p, l, i, st);
        }
    }
    // "now" marker
    const double nowX = timeToX(m_nowNs);
    if (m_nowNs > 0 && nowX >= l.plot.left() && nowX <= l.plot.right()) {
        p.setPen(QPen(pal.color(QPalette::Highlight), 0));
        p.drawLine(QPointF(nowX, l.plot.top()), QPointF(nowX, l.plot.bottom()));
    }
    paintNote(p, l);
    st.lanes = int(m_lanes.size());
    st.elapsedNs = timer.nsecsElapsed();
    m_stats = st;
}

void TimelineWidget::setLiveBadgeVisible(bool visible)
{
    if (visible == m_liveBadge)
        return;
    m_liveBadge = visible;
    update();
}

void TimelineWidget::paintAxis(QPainter& p, const Layout& l) const
{
    const QPalette& pal = palette();
    const QFontMetrics fm(font());
    p.fillRect(QRect(0, 0, width(), l.axisHeight), pal.color(QPalette::Window));
    p.setPen(pal.color(QPalette::Mid));
    p.drawLine(0, l.axisHeight - 1, width(), l.axisHeight - 1);

    // follow-mode badge in the corner above the lane labels
    if (m_liveBadge) {
        const QRect badge(4, 0, l.labelWidth - 8, l.axisHeight);
        p.setPen(m_following ? pal.color(QPalette::Highlight)
                             : pal.color(QPalette::PlaceholderText));
        p.drawText(badge, Qt::AlignVCenter | Qt::AlignLeft,
                   fm.elidedText(m_following ? tr("● live") : tr("○ paused view"), Qt::ElideRight,
                                 badge.width()));
    }

    const double minTickPx = fm.horizontalAdvance(QStringLiteral("000.000 ms")) + fm.height();
    const double step = niceStep(m_nsPerPixel * minTickPx);
    const double rel0 = m_viewStart - double(m_originNs);
    double rel = std::ceil(rel0 / step) * step;
    const double relEnd = rel0 + l.plot.width() * m_nsPerPixel;
    QColor grid = pal.color(QPalette::Mid);
    grid.setAlphaF(0.35f);
    for (int guard = 0; rel <= relEnd && guard < 1000; rel += step, ++guard) {
        const double x = l.plot.left() + (rel - rel0) / m_nsPerPixel;
        p.setPen(pal.color(QPalette::WindowText));
        p.drawLine(QPointF(x, l.axisHeight - 5), QPointF(x, l.axisHeight - 1));
        const QString label = tickLabel(std::abs(rel) < step / 2 ? 0.0 : rel, step);
        const int tw = fm.horizontalAdvance(label);
        p.drawText(QRectF(x - tw / 2.0, 2, tw + 2, fm.height()), Qt::AlignCenter, label);
        p.setPen(QPen(grid, 0));
        p.drawLine(QPointF(x, l.plot.top()), QPointF(x, l.plot.bottom()));
    }
}

void TimelineWidget::paintLane(QPainter& p, const Layout& l, int laneIndex, PaintStats& st)
{
    const Lane& lane = m_lanes[std::size_t(laneIndex)];
    const QPalette& pal = palette();
    const QFontMetrics fm(font());
    const QRect lr(l.plot.left(), l.laneTop + laneIndex * l.laneHeight, l.plot.width(),
                   l.laneHeight);
    if (laneIndex % 2)
        p.fillRect(QRect(0, lr.top(), width(), lr.height()), pal.color(QPalette::AlternateBase));
    if (lr.height() >= fm.height() - 2) {
        p.setPen(lane.dead ? pal.color(QPalette::Disabled, QPalette::Text)
                           : pal.color(QPalette::Text));
        const QRect labelRect(4, lr.top(), l.labelWidth - 8, lr.height());
        p.drawText(labelRect, Qt::AlignVCenter | Qt::AlignLeft,
                   fm.elidedText(lane.name, Qt::ElideMiddle, labelRect.width()));
    }

    p.save();
    p.setClipRect(l.plot);
    const double inset = lr.height() >= 10 ? 2 : (lr.height() >= 5 ? 1 : 0);
    const double top = lr.top() + inset;
    const double h = lr.height() - 2 * inset;
    const double left = l.plot.left();
    const double t0 = m_viewStart;
    const double t1 = m_viewStart + l.plot.width() * m_nsPerPixel;
    const double inv = 1.0 / m_nsPerPixel;

    std::vector<std::size_t> wide;
    if (lane.liveCount()) {
        const qreal dpr = std::max<qreal>(1.0, p.device()->devicePixelRatioF());
        const int cols = int(std::ceil(l.plot.width() * dpr));
        if (int(m_busy.size()) < cols) {
            for (auto* v : {&m_busy, &m_fail, &m_cancel, &m_red, &m_green, &m_blue})
                v->assign(std::size_t(cols), 0.0f);
        }
        const TaskSpan* spans = lane.spans.data();
        const qint64* me = lane.maxEnd.data();
        const std::size_t lo = lane.first, hi = lane.spans.size();
        // First span that may reach into the view: prefix max of ends > t0.
        std::size_t k = std::size_t(
            std::partition_point(me + lo, me + hi, [t0](qint64 v) { return double(v) <= t0; })
            - me);
        int cmin = std::numeric_limits<int>::max(), cmax = -1;
        quint32 lastName = std::numeric_limits<quint32>::max();
        float cr = 0, cg = 0, cb = 0;
        // Zoomed out, runs of consecutive spans fall into the same column: sum
        // them in registers and touch the column arrays once per run.
        int cur = -1;
        float aBusy = 0, aR = 0, aG = 0, aB = 0, aFail = 0, aCancel = 0;
        auto flush = [&] {
            if (cur < 0)
                return;
            const auto c = std::size_t(cur);
            m_busy[c] += aBusy;
            m_red[c] += aR;
            m_green[c] += aG;
            m_blue[c] += aB;
            m_fail[c] += aFail;
            m_cancel[c] += aCancel;
            aBusy = aR = aG = aB = aFail = aCancel = 0;
            cur = -1;
        };
        const double dcols = double(cols);
        for (; k < hi; ++k) {
            const TaskSpan& s = spans[k];
            if (double(s.startNs) >= t1)
                break;
            if (double(s.endNs) < t0)
                continue;
            ++st.spansVisited;
            const double xs = (double(s.startNs) - t0) * inv;
            const double xe = (double(s.endNs) - t0) * inv;
            if (xe - xs >= kMinSpanPx) {
                wide.push_back(k);
                continue;
            }
            ++st.spansAggregated;
            const double c0 = xs * dpr > 0.0 ? xs * dpr : 0.0;
            const double c1 = xe * dpr < dcols ? xe * dpr : dcols;
            int ci = int(c0);
            if (ci >= cols)
                ci = cols - 1;
            int ce = int(std::ceil(c1));
            ce = ce <= ci ? ci + 1 : (ce > cols ? cols : ce);
            if (s.nameId != lastName) {
                lastName = s.nameId;
                const QRgb rgb = colorOf(s.nameId);
                cr = float(qRed(rgb));
                cg = float(qGreen(rgb));
                cb = float(qBlue(rgb));
            }
            const bool failed = s.status == TaskStatus::Failed;
            const bool cancelled = s.status == TaskStatus::Cancelled;
            if (ce == ci + 1) { // the common case once zoomed out
                if (ci != cur) {
                    flush();
                    cur = ci;
                }
                // A zero-length task still marks its column (faintly).
                float cover = float(c1 - c0);
                cover = cover > 1e-4f ? cover : 1e-4f;
                aBusy += cover;
                aR += cover * cr;
                aG += cover * cg;
                aB += cover * cb;
                aFail += failed ? cover : 0.0f;
                aCancel += cancelled ? cover : 0.0f;
            } else {
                flush();
                for (int c = ci; c < ce; ++c) {
                    const auto cc = std::size_t(c);
                    float cover = float(std::min(c1, c + 1.0) - std::max(c0, double(c)));
                    cover = cover > 1e-4f ? cover : 1e-4f;
                    m_busy[cc] += cover;
                    m_red[cc] += cover * cr;
                    m_green[cc] += cover * cg;
                    m_blue[cc] += cover * cb;
                    m_fail[cc] += failed ? cover : 0.0f;
                    m_cancel[cc] += cancelled ? cover : 0.0f;
                }
            }
            cmin = ci < cmin ? ci : cmin;
            cmax = ce - 1 > cmax ? ce - 1 : cmax;
        }
        flush();
        if (cmax >= cmin) {
            const QColor failC = display::statusColor(TaskStatus::Failed, pal);
            const QColor cancelC = pal.color(QPalette::Mid);
            const double colW = 1.0 / dpr;
            const double markH = std::max(1.0, h / 5);
            for (int c = cmin; c <= cmax; ++c) {
                const auto ci = std::size_t(c);
                const float b = m_busy[ci];
                if (b > 0) {
                    const float f = m_fail[ci] / b, x = m_cancel[ci] / b;
                    const float ok = std::max(0.0f, 1.0f - f - x);
                    const float r = ok * m_red[ci] / b + f * failC.red() + x * cancelC.red();
                    const float g = ok * m_green[ci] / b + f * failC.green() + x * cancelC.green();
                    const float bl = ok * m_blue[ci] / b + f * failC.blue() + x * cancelC.blue();
                    // Density as opacity: a barely busy column stays visible.
                    const float alpha = 0.35f + 0.65f * std::min(1.0f, b);
                    const QRectF col(left + c * colW, top, colW, h);
                    p.fillRect(col, QColor(std::clamp(int(r), 0, 255), std::clamp(int(g), 0, 255),
                                           std::clamp(int(bl), 0, 255), int(alpha * 255)));
                    if (f > 0)
                        p.fillRect(QRectF(col.left(), top, colW, markH), failC);
                    ++st.columnsAggregated;
                }
                m_busy[ci] = m_fail[ci] = m_cancel[ci] = m_red[ci] = m_green[ci] = m_blue[ci] =
                    0.0f;
            }
        }
        for (std::size_t i : wide) {
            const TaskSpan& s = spans[i];
            const double x0 = std::max(left - 2, left + (double(s.startNs) - t0) * inv);
            const double x1 =
                std::min(left + l.plot.width() + 2, left + (double(s.endNs) - t0) * inv);
            paintSpan(p, s, QRectF(x0, top, x1 - x0, h));
            ++st.spansDrawn;
        }
    }

    if (lane.runningId) {
        const double xs = left + (double(lane.runningStartNs) - t0) * inv;
        const double xe = left + (double(m_nowNs) - t0) * inv;
        if (xe >= left && xs <= left + l.plot.width()) {
            const double x0 = std::max(left - 2, xs);
            const double x1 = std::min(left + l.plot.width() + 2, std::max(xe, xs + 1));
            QColor c = QColor::fromRgb(colorOf(lane.runningName));
            QColor fill = c;
            fill.setAlphaF(0.45f);
            const QRectF r(x0, top, x1 - x0, h);
            p.fillRect(r, fill);
            // open on the right: the task is still running
            QPen pen(c.darker(130), outlineWidth() > 1 ? outlineWidth() : 0, Qt::DashLine);
            p.setPen(pen);
            p.drawLine(r.topLeft(), r.topRight());
            p.drawLine(r.bottomLeft(), r.bottomRight());
            p.drawLine(r.topLeft(), r.bottomLeft());
            ++st.runningDrawn;
        }
    }
    p.restore();
}

void TimelineWidget::paintSpan(QPainter& p, const TaskSpan& s, const QRectF& r) const
{
    const QPalette& pal = palette();
    QColor c = QColor::fromRgb(colorOf(s.nameId));
    if (s.status == TaskStatus::Cancelled)
        c = pal.color(QPalette::Mid);
    p.fillRect(r, c);
    if (s.gilWaitNs > 0) {
        // leading darker segment: time the task waited for the GIL
        const double gx = timeToX(s.startNs + s.gilWaitNs);
        QRectF g = r;
        g.setRight(std::min(r.right(), gx));
        if (g.width() > 0)
            p.fillRect(g, c.darker(170));
    }
    if (s.status == TaskStatus::Failed) {
        const QColor red = display::statusColor(TaskStatus::Failed, pal);
        p.fillRect(r, QBrush(red, Qt::BDiagPattern));
        const qreal w = 1.5 * outlineWidth();
        p.setPen(QPen(red, w));
        p.setBrush(Qt::NoBrush);
        p.drawRect(r.adjusted(w / 2, w / 2, -w / 2, -w / 2));
    } else if (s.status == TaskStatus::Cancelled) {
        QColor hatch = pal.color(QPalette::Text);
        hatch.setAlphaF(0.45f);
        p.fillRect(r, QBrush(hatch, Qt::BDiagPattern));
    } else if (r.width() >= 4) {
        const qreal w = outlineWidth();
        p.setPen(QPen(c.darker(140), w > 1 ? w : 0)); // 0: cosmetic 1 px
        p.setBrush(Qt::NoBrush);
        p.drawRect(r.adjusted(w / 2, w / 2, -w / 2, -w / 2));
    }
    const QFontMetrics fm(font());
    if (r.width() > fm.averageCharWidth() * 5 && r.height() >= fm.height()) {
        p.setPen(display::textOn(c));
        const QRectF tr = r.adjusted(3, 0, -3, 0);
        p.drawText(tr, Qt::AlignVCenter | Qt::AlignLeft,
                   fm.elidedText(NameTable::name(s.nameId), Qt::ElideRight, int(tr.width())));
    }
}

void TimelineWidget::paintNote(QPainter& p, const Layout& l) const
{
    if (!m_trimmed)
        return;
    const QPalette& pal = palette();
    const QFontMetrics fm(font());
    const QString note = noteText();
    const QRect r(l.plot.right() - fm.horizontalAdvance(note) - 12, l.plot.top() + 2,
                  fm.horizontalAdvance(note) + 10, fm.height() + 4);
    p.setPen(pal.color(QPalette::ToolTipText));
    p.setBrush(pal.color(QPalette::ToolTipBase));
    p.drawRect(r.adjusted(0, 0, -1, -1));
    p.drawText(r, Qt::AlignCenter, note);
}

// ------------------------------------------------------------------ input

qreal TimelineWidget::outlineWidth() const
{
    return property(kPresenterProperty).toBool() ? kPresenterLineScale : 1.0;
}

bool TimelineWidget::event(QEvent* e)
{
    if (e->type() == QEvent::DynamicPropertyChange
        && static_cast<QDynamicPropertyChangeEvent*>(e)->propertyName() == kPresenterProperty)
        update();
    if (e->type() == QEvent::ToolTip) {
        auto* he = static_cast<QHelpEvent*>(e);
        const QString text = toolTipAt(he->pos());
        if (text.isEmpty()) {
            QToolTip::hideText();
            e->ignore();
        } else {
            QToolTip::showText(he->globalPos(), text, this);
        }
        return true;
    }
    return QWidget::event(e);
}

void TimelineWidget::wheelEvent(QWheelEvent* e)
{
    const QPoint a = e->angleDelta();
    const QPoint px = e->pixelDelta();
    const bool horizontal = std::abs(a.x()) > std::abs(a.y());
    if (horizontal || (e->modifiers() & Qt::ShiftModifier)) {
        double dx;
        if (!px.isNull())
            dx = -(horizontal ? px.x() : px.y());
        else
            dx = -(horizontal ? a.x() : a.y()) / 120.0 * plotRect().width() / 10.0;
        panBy(dx);
    } else if (a.y() != 0) {
        zoomBy(std::pow(1.2, a.y() / 120.0), e->position().x());
    }
    e->accept();
}

void TimelineWidget::keyPressEvent(QKeyEvent* e)
{
    const int w = plotRect().width();
    const double step = (e->modifiers() & Qt::ShiftModifier) ? w / 2.0 : w / 10.0;
    switch (e->key()) {
    case Qt::Key_Plus:
    case Qt::Key_Equal:
        zoomIn();
        break;
    case Qt::Key_Minus:
    case Qt::Key_Underscore:
        zoomOut();
        break;
    case Qt::Key_0:
        if (!(e->modifiers() & Qt::ControlModifier)) {
            QWidget::keyPressEvent(e);
            return;
        }
        fitToData();
        break;
    case Qt::Key_Left:
        panBy(-step);
        break;
    case Qt::Key_Right:
        panBy(step);
        break;
    case Qt::Key_Home: {
        setFollowing(false);
        const int margin = std::min(kEdgeMarginPx, w / 10);
        setViewInternal(double(dataStartNs()) - margin * m_nsPerPixel, m_nsPerPixel);
        break;
    }
    case Qt::Key_End:
        setFollowing(true);
        break;
    case Qt::Key_F:
        setFollowing(!m_following);
        break;
    default:
        QWidget::keyPressEvent(e);
        return;
    }
    e->accept();
}

void TimelineWidget::mousePressEvent(QMouseEvent* e)
{
    if (e->button() != Qt::LeftButton) {
        QWidget::mousePressEvent(e);
        return;
    }
    m_pressed = true;
    m_dragging = false;
    m_pressPos = e->position().toPoint();
    m_pressViewStart = m_viewStart;
    e->accept();
}

void TimelineWidget::mouseMoveEvent(QMouseEvent* e)
{
    if (!m_pressed || !(e->buttons() & Qt::LeftButton)) {
        QWidget::mouseMoveEvent(e);
        return;
    }
    const QPoint pos = e->position().toPoint();
    if (!m_dragging && (pos - m_pressPos).manhattanLength() >= QApplication::startDragDistance()) {
        m_dragging = true;
        setFollowing(false);
        setCursor(Qt::ClosedHandCursor);
    }
    if (m_dragging)
        setViewInternal(m_pressViewStart - (pos.x() - m_pressPos.x()) * m_nsPerPixel, m_nsPerPixel);
    e->accept();
}

void TimelineWidget::mouseReleaseEvent(QMouseEvent* e)
{
    if (e->button() != Qt::LeftButton || !m_pressed) {
        QWidget::mouseReleaseEvent(e);
        return;
    }
    const bool click = !m_dragging;
    m_pressed = m_dragging = false;
    unsetCursor();
    if (click) {
        if (const auto hit = hitTest(e->position().toPoint())) {
            emit taskClicked(hit->span.taskId);
            QToolTip::showText(e->globalPosition().toPoint(), detailsText(*hit), this);
        }
    }
    e->accept();
}

void TimelineWidget::resizeEvent(QResizeEvent* e)
{
    QWidget::resizeEvent(e);
    if (m_following)
        followNow();
}

void TimelineWidget::changeEvent(QEvent* e)
{
    switch (e->type()) {
    case QEvent::PaletteChange:
    case QEvent::StyleChange:
    case QEvent::FontChange:
        m_colors.clear();
        m_colorsFar.clear();
        invalidateLayout();
        update();
        break;
    default:
        break;
    }
    QWidget::changeEvent(e);
}

} // namespace poolscope
