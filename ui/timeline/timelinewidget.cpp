#include "timeline/timelinewidget.h"

#include "models/display.h"
#include "teaching/presenter.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QHelpEvent>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QTimer>
#include <QToolTip>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace poolscope {

namespace {
constexpr double kMinNsPerPixel = 1e-3;
constexpr double kMaxNsPerPixel = 1e12;
constexpr int kEdgeMarginPx = 12; // room right of "now" when following / fitting
constexpr double kZoomStep = 1.5;
constexpr qint64 kNoCut = std::numeric_limits<qint64>::max();
/// Summary::rgb's alpha byte holds flags: the rows under a block follow one
/// another without overlap (a block across one boundary can then be split).
constexpr int kInOrder = 1;

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

/// Rows a summary block of `level` covers.
constexpr std::size_t blockRows(std::size_t level)
{
    std::size_t n = TimelineWidget::kBlockRows;
    for (std::size_t i = 0; i < level; ++i)
        n *= TimelineWidget::kFanOut;
    return n;
}

/// Calls fn(pos, row, start, end) for the shown rows of a lane whose
/// [start, end] (end cut at `cut`) meets [lo, hi], in start order, pruning
/// with the summaries; stops when fn returns false. Returns false if stopped.
template<class LaneT, class RowAt, class Fn>
bool walkRows(const LaneT& lane, const RunRecord& rec, std::size_t shown, qint64 cut, qint64 lo,
              qint64 hi, RowAt&& rowAt, Fn&& fn)
{
    auto visit = [&](auto& self, std::size_t level, std::size_t i) -> bool {
        const auto& s = lane.levels[level][i];
        const std::size_t p0 = i * blockRows(level);
        if (p0 >= shown || s.minStart > hi || std::min(s.maxEnd, cut) < lo)
            return true;
        if (level == 0) {
            const std::size_t p1 = std::min(p0 + blockRows(0), shown);
            for (std::size_t pos = p0; pos < p1; ++pos) {
                const quint32 row = rowAt(pos);
                const qint64 start = rec.startNs(row);
                if (start > hi)
                    return true;
                const qint64 end = std::min(rec.endNs(row), cut);
                if (end >= lo && !fn(pos, row, start, end))
                    return false;
            }
            return true;
        }
        const std::size_t c1 =
            std::min((i + 1) * std::size_t(TimelineWidget::kFanOut), lane.levels[level - 1].size());
        for (std::size_t c = i * TimelineWidget::kFanOut; c < c1; ++c) {
            if (!self(self, level - 1, c))
                return false;
        }
        return true;
    };
    if (lane.levels.empty())
        return true;
    const std::size_t top = lane.levels.size() - 1;
    for (std::size_t i = 0; i < lane.levels[top].size(); ++i) {
        if (!visit(visit, top, i))
            return false;
    }
    return true;
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

// ------------------------------------------------------------------ lanes

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

// ------------------------------------------------------------------ index

const std::vector<quint32>* TimelineWidget::rowsOf(const Lane& lane) const
{
    return m_record ? m_record->laneRows(lane.worker) : nullptr;
}

bool TimelineWidget::indexUsable() const
{
    // Positions stay valid while the record only grows.
    return m_record && m_record->generation() == m_recordGeneration
           && m_record->size() >= m_recordRows;
}

void TimelineWidget::resetIndex(std::shared_ptr<const RunRecord> record)
{
    m_record = std::move(record);
    m_recordGeneration = m_record ? m_record->generation() : 0;
    m_recordRows = 0;
    for (Lane& lane : m_lanes) {
        lane.count = 0;
        lane.order = {};
        lane.levels = {};
    }
}

bool TimelineWidget::catchUp(std::size_t budget)
{
    if (!m_record)
        return false;
    bool changed = false;
    if (!indexUsable()) {
        resetIndex(m_record);
        changed = true;
    }
    if (m_summariesStale) {
        rebuildSummaries();
        changed = true;
    }
    const RunRecord& rec = *m_record;
    if (rec.size() == m_recordRows && !m_behind)
        return changed;
    // Tasks that never started are in no lane (RunRecord::laneRows); lane
    // -1 holds tasks of an unknown worker (other tools' traces).
    bool behind = false;
    for (const qint32 w : rec.workers()) {
        const std::vector<quint32>* rows = rec.laneRows(w);
        Lane& lane = laneFor(w);
        if (!rows || rows->size() <= lane.count)
            continue;
        if (budget == 0) {
            behind = true;
            continue;
        }
        const std::size_t before = lane.count;
        indexLane(lane, *rows, budget);
        budget -= std::min(budget, lane.count - before);
        behind = behind || lane.count < rows->size();
        changed = true;
        for (const Summary& s : lane.levels.back())
            m_nowNs = std::max(m_nowNs, s.maxEnd);
    }
    m_recordRows = rec.size();
    m_behind = behind;
    if (behind && !m_catchUpQueued) {
        // The rest in the next events, with paints and input in between.
        m_catchUpQueued = true;
        QTimer::singleShot(0, this, [this] {
            m_catchUpQueued = false;
            if (m_behind)
                catchUp(kCatchUpBudget);
            update();
        });
    }
    return changed;
}

void TimelineWidget::indexLane(Lane& lane, const std::vector<quint32>& rows, std::size_t budget)
{
    const RunRecord& rec = *m_record;
    const std::size_t from = lane.count;
    std::size_t to = rows.size();
    if (lane.order.empty()) {
        // The usual case: a worker runs one task at a time, rows arrive in
        // start order and the lane's rows are its positions. Only this case
        // is budgeted (it is what a live run of any size is).
        to = from + std::min(to - from, std::max<std::size_t>(budget, 1));
        qint64 last = from ? rec.startNs(rows[from - 1]) : std::numeric_limits<qint64>::min();
        std::size_t k = from;
        for (; k < to; ++k) {
            const qint64 s = rec.startNs(rows[k]);
            if (s < last)
                break;
            last = s;
        }
        if (k == to) {
            lane.count = to;
            summarize(lane, from);
            return;
        }
        to = rows.size();
        lane.count = to;
        lane.order.assign(rows.begin(), rows.begin() + qsizetype(from));
    }
    // Out of start order (other tools' traces, clock skew between processes):
    // an explicit order, the new rows sorted and merged in; summaries are
    // redone from the first position that moved.
    auto byStart = [&rec](quint32 a, quint32 b) { return rec.startNs(a) < rec.startNs(b); };
    lane.order.insert(lane.order.end(), rows.begin() + qsizetype(from), rows.end());
    const auto mid = lane.order.begin() + qsizetype(from);
    std::stable_sort(mid, lane.order.end(), byStart);
    std::size_t dirty = from;
    if (from > 0 && byStart(*mid, *(mid - 1))) {
        dirty = std::size_t(std::upper_bound(lane.order.begin(), mid, *mid, byStart)
                            - lane.order.begin());
        std::inplace_merge(lane.order.begin(), mid, lane.order.end(), byStart);
    }
    lane.count = to;
    summarize(lane, dirty);
}

void TimelineWidget::summarize(Lane& lane, std::size_t fromPos)
{
    if (lane.count == 0) {
        lane.levels.clear();
        return;
    }
    const RunRecord& rec = *m_record;
    const std::vector<quint32>* rows = rowsOf(lane);
    if (lane.levels.empty())
        lane.levels.emplace_back();
    auto rgbOf = [](double w, double r, double g, double b, int flags) {
        return w > 0 ? qRgba(int(std::lround(r / w)), int(std::lround(g / w)),
                             int(std::lround(b / w)), flags)
                     : qRgba(0, 0, 0, flags);
    };

    // Leaves: straight from the rows.
    std::vector<Summary>& leaves = lane.levels[0];
    const std::size_t nb = (lane.count + kBlockRows - 1) / kBlockRows;
    leaves.resize(nb);
    std::size_t dirty = fromPos / kBlockRows;
    for (std::size_t b = dirty; b < nb; ++b) {
        Summary s;
        s.minStart = std::numeric_limits<qint64>::max();
        s.maxEnd = std::numeric_limits<qint64>::min();
        double w = 0, r = 0, g = 0, bl = 0, fw = 0, cw = 0;
        int flags = kInOrder;
        const std::size_t p1 = std::min(lane.count, (b + 1) * kBlockRows);
        for (std::size_t pos = b * kBlockRows; pos < p1; ++pos) {
            const quint32 row = rowAt(lane, *rows, pos);
            const qint64 start = rec.startNs(row);
            const qint64 end = std::max(start, rec.endNs(row));
            if (start < s.maxEnd)
                flags &= ~kInOrder;
            s.minStart = std::min(s.minStart, start);
            s.maxEnd = std::max(s.maxEnd, end);
            s.busyNs += end - start;
            const double wt = double(std::max<qint64>(end - start, 1));
            const QRgb c = colorOf(rec.nameId(row));
            w += wt;
            r += wt * qRed(c);
            g += wt * qGreen(c);
            bl += wt * qBlue(c);
            const TaskStatus st = rec.status(row);
            fw += st == TaskStatus::Failed ? wt : 0.0;
            cw += st == TaskStatus::Cancelled ? wt : 0.0;
        }
        s.weight = float(w);
        s.failWeight = float(fw);
        s.cancelWeight = float(cw);
        s.rgb = rgbOf(w, r, g, bl, flags);
        leaves[b] = s;
    }

    // Blocks of blocks, until a level has at most kFanOut of them.
    for (std::size_t level = 1;; ++level) {
        if (lane.levels[level - 1].size() <= std::size_t(kFanOut)) {
            lane.levels.resize(level);
            break;
        }
        if (lane.levels.size() <= level)
            lane.levels.emplace_back();
        const std::vector<Summary>& below = lane.levels[level - 1];
        std::vector<Summary>& up = lane.levels[level];
        const std::size_t n = (below.size() + kFanOut - 1) / kFanOut;
        up.resize(n);
        dirty /= kFanOut;
        for (std::size_t i = dirty; i < n; ++i) {
            Summary s;
            s.minStart = std::numeric_limits<qint64>::max();
            s.maxEnd = std::numeric_limits<qint64>::min();
            double w = 0, r = 0, g = 0, bl = 0, fw = 0, cw = 0;
            int flags = kInOrder;
            const std::size_t c1 = std::min(below.size(), (i + 1) * kFanOut);
            for (std::size_t c = i * kFanOut; c < c1; ++c) {
                const Summary& k = below[c];
                if (!(qAlpha(k.rgb) & kInOrder) || k.minStart < s.maxEnd)
                    flags &= ~kInOrder;
                s.minStart = std::min(s.minStart, k.minStart);
                s.maxEnd = std::max(s.maxEnd, k.maxEnd);
                s.busyNs += k.busyNs;
                w += k.weight;
                r += double(k.weight) * qRed(k.rgb);
                g += double(k.weight) * qGreen(k.rgb);
                bl += double(k.weight) * qBlue(k.rgb);
                fw += k.failWeight;
                cw += k.cancelWeight;
            }
            s.weight = float(w);
            s.failWeight = float(fw);
            s.cancelWeight = float(cw);
            s.rgb = rgbOf(w, r, g, bl, flags);
            up[i] = s;
        }
    }
}

void TimelineWidget::rebuildSummaries()
{
    m_summariesStale = false;
    if (!indexUsable())
        return;
    for (Lane& lane : m_lanes)
        summarize(lane, 0);
}

std::size_t TimelineWidget::shownCount(const Lane& lane) const
{
    if (!m_hasHorizon || lane.count == 0)
        return lane.count;
    // Positions are in start order: the first block starting after the
    // horizon, then the rows of the one before it.
    const std::vector<Summary>& leaves = lane.levels[0];
    const std::size_t b = std::size_t(
        std::partition_point(leaves.begin(), leaves.end(),
                             [this](const Summary& s) { return s.minStart <= m_horizonNs; })
        - leaves.begin());
    if (b == 0)
        return 0;
    const std::vector<quint32>& rows = *rowsOf(lane);
    std::size_t pos = (b - 1) * kBlockRows;
    const std::size_t end = std::min(lane.count, b * kBlockRows);
    while (pos < end && m_record->startNs(rowAt(lane, rows, pos)) <= m_horizonNs)
        ++pos;
    return pos;
}

TaskSpan TimelineWidget::shownSpan(quint32 row) const
{
    TaskSpan s = m_record->span(row);
    if (m_hasHorizon && s.endNs > m_horizonNs) {
        s.endNs = std::max(s.startNs, m_horizonNs);
        s.gilWaitNs = std::min(s.gilWaitNs, s.endNs - s.startNs);
    }
    return s;
}

// ------------------------------------------------------------------ data

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
        lane.dead = hasEnded(w.state);
        const bool running = w.currentTask != 0 && !lane.dead;
        // A task run without detail has no start time: draw it from the
        // first snapshot that saw it running, never from 0 (which drew it
        // from the far left and stretched "fit all" back to the epoch).
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

    // A snapshot without a record (tests, recording off) leaves the rows of
    // the last one alone.
    if (snapshot.record) {
        const bool fresh = snapshot.record != m_record || !indexUsable();
        if (snapshot.record != m_record)
            resetIndex(snapshot.record);
        catchUp(kCatchUpBudget);
        if (fresh) {
            // A new run (or a re-sampled one): lanes of workers that are gone
            // and have nothing in it say nothing any more.
            const auto before = m_lanes.size();
            m_lanes.erase(std::remove_if(m_lanes.begin(), m_lanes.end(),
                                         [](const Lane& l) {
                                             return l.dead && l.count == 0 && l.runningId == 0;
                                         }),
                          m_lanes.end());
            if (m_lanes.size() != before)
                invalidateLayout();
        }
    }
    m_nowNs = std::max(m_nowNs, snapshot.timeNs);
    if (m_following)
        followNow();
    update();
}

void TimelineWidget::setRecord(std::shared_ptr<const RunRecord> record,
                               const QHash<int, QString>& laneNames, qint64 originNs)
{
    m_lanes.clear();
    m_hasHorizon = false;
    m_nowNs = 0;
    std::vector<int> workers;
    for (auto it = laneNames.cbegin(); it != laneNames.cend(); ++it)
        workers.push_back(it.key());
    if (record) {
        for (const qint32 w : record->workers())
            workers.push_back(w);
    }
    std::sort(workers.begin(), workers.end());
    workers.erase(std::unique(workers.begin(), workers.end()), workers.end());
    m_lanes.resize(workers.size());
    for (std::size_t i = 0; i < workers.size(); ++i) {
        Lane& lane = m_lanes[i];
        lane.worker = workers[i];
        lane.name = laneNames.value(workers[i]);
        if (lane.name.isEmpty())
            lane.name = tr("worker %1").arg(workers[i]);
    }
    resetIndex(std::move(record));
    catchUp();
    for (Lane& lane : m_lanes) {
        // Built once, in full: no room to grow into.
        lane.order.shrink_to_fit();
        for (auto& level : lane.levels)
            level.shrink_to_fit();
    }
    m_nowNs = dataEndNs();
    const qint64 first = dataStartNs();
    m_originNs = originNs != 0 ? originNs : (m_nowNs > 0 ? first : 0);
    invalidateLayout();
    setFollowing(false);
    fitToData();
    update();
}

void TimelineWidget::setTraceData(const TraceData& trace)
{
    QHash<int, QString> names;
    for (const TraceWorker& w : trace.workers)
        names.insert(w.index, w.name);
    setRecord(trace.record, names, trace.originNs);
}

void TimelineWidget::setHorizon(qint64 ns)
{
    if (m_hasHorizon && m_horizonNs == ns)
        return;
    m_hasHorizon = true;
    m_horizonNs = ns;
    update();
}

void TimelineWidget::clearHorizon()
{
    if (!m_hasHorizon)
        return;
    m_hasHorizon = false;
    update();
}

void TimelineWidget::clear()
{
    m_lanes.clear();
    m_record.reset();
    m_recordGeneration = 0;
    m_recordRows = 0;
    m_hasHorizon = false;
    m_nowNs = 0;
    m_originNs = 0;
    invalidateLayout();
    update();
}

std::size_t TimelineWidget::spanCount() const
{
    if (!indexUsable())
        return 0;
    std::size_t n = 0;
    for (const Lane& l : m_lanes)
        n += shownCount(l);
    return n;
}

QString TimelineWidget::noteText() const
{
    if (!m_record)
        return {};
    QStringList parts;
    if (QString n = m_record->samplingNote(); !n.isEmpty())
        parts << n;
    // Never sampled silently: turns past the record's limit are said so.
    if (QString n = m_record->gilTurnNote(); !n.isEmpty())
        parts << n;
    return parts.join(QStringLiteral("; "));
}

std::size_t TimelineWidget::indexBytes() const
{
    std::size_t b = m_lanes.capacity() * sizeof(Lane);
    for (const Lane& l : m_lanes) {
        b += l.order.capacity() * sizeof(quint32);
        b += l.levels.capacity() * sizeof(std::vector<Summary>);
        for (const auto& level : l.levels)
            b += level.capacity() * sizeof(Summary);
    }
    return b;
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
    if (!l || !indexUsable() || l->count == 0)
        return {};
    const std::vector<quint32>& rows = *rowsOf(*l);
    const std::size_t n = shownCount(*l);
    std::vector<TaskSpan> out;
    out.reserve(n);
    for (std::size_t pos = 0; pos < n; ++pos)
        out.push_back(shownSpan(rowAt(*l, rows, pos)));
    return out;
}

qint64 TimelineWidget::dataStartNs() const
{
    qint64 start = std::numeric_limits<qint64>::max();
    const bool usable = indexUsable();
    for (const Lane& l : m_lanes) {
        if (usable && shownCount(l) > 0)
            start = std::min(start, l.levels[0][0].minStart); // positions: start order
        if (l.runningId)
            start = std::min(start, l.runningStartNs);
    }
    return start == std::numeric_limits<qint64>::max() ? nowNs() : start;
}

qint64 TimelineWidget::dataEndNs() const
{
    qint64 end = 0;
    if (!indexUsable())
        return end;
    for (const Lane& l : m_lanes) {
        if (shownCount(l) == 0)
            continue;
        for (const Summary& s : l.levels.back())
            end = std::max(end, s.maxEnd);
    }
    // Rows not shown start after the horizon, so end after it too.
    return m_hasHorizon ? std::min(end, m_horizonNs) : end;
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
    setViewInternal(double(nowNs()) - double(w - margin) * m_nsPerPixel, m_nsPerPixel);
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
        anchorX = timeToX(nowNs());
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
    qint64 end = std::max(nowNs(), dataEndNs());
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
    setViewInternal(clampedStart(m_viewStart + pixels * m_nsPerPixel, m_nsPerPixel), m_nsPerPixel);
}

double TimelineWidget::clampedStart(double startNs, double nsPerPixel) const
{
    // Panning stops a margin past the data on either side: it overshot to
    // -20 s before the first task. A view wider than the data keeps the
    // first task at its left margin.
    if (spanCount() == 0) // nothing to stop at
        return startNs;
    const int w = plotRect().width();
    const int margin = std::min(kEdgeMarginPx, w / 10);
    const double lo = double(dataStartNs()) - margin * nsPerPixel;
    const double end = double(std::max(nowNs(), dataEndNs()));
    const double hi = std::max(lo, end + margin * nsPerPixel - double(w) * nsPerPixel);
    return std::clamp(startNs, lo, hi);
}

void TimelineWidget::frameRange(qint64 startNs, qint64 endNs)
{
    if (endNs <= startNs)
        endNs = startNs + 1'000'000;
    setFollowing(false);
    const int w = plotRect().width();
    const int margin = std::min(kEdgeMarginPx, w / 10);
    const double npp = double(endNs - startNs) / double(std::max(1, w - 2 * margin));
    setViewInternal(double(startNs) - margin * npp, npp);
}

void TimelineWidget::showRun(qint64 startNs, qint64 endNs)
{
    if (endNs <= startNs)
        return;
    m_lastRunStart = startNs;
    m_lastRunEnd = endNs;
    frameRange(startNs, endNs);
}

bool TimelineWidget::zoomToLastRun()
{
    if (m_lastRunEnd <= m_lastRunStart)
        return false;
    frameRange(m_lastRunStart, m_lastRunEnd);
    return true;
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

    // The task under t, else the nearest within tol; first in start order.
    quint32 best = 0;
    bool found = false;
    double bestDist = std::numeric_limits<double>::max();
    if (indexUsable() && lane.count > 0) {
        const std::vector<quint32>& rows = *rowsOf(lane);
        const auto lo = qint64(std::floor(std::max(t - tol, -9e18)));
        const auto hi = qint64(std::ceil(std::min(t + tol, 9e18)));
        walkRows(
            lane, *m_record, shownCount(lane), m_hasHorizon ? m_horizonNs : kNoCut, lo, hi,
            [&](std::size_t p) { return rowAt(lane, rows, p); },
            [&](std::size_t, quint32 row, qint64 start, qint64 end) {
                const double d = t < double(start) ? double(start) - t
                                 : t > double(end) ? t - double(end)
                                                   : 0.0;
                if (d <= tol && d < bestDist) {
                    best = row;
                    found = true;
                    bestDist = d;
                }
                return d > 0; // stop at a task right under t
            });
    }
    if (found && bestDist == 0)
        return Hit{shownSpan(best), false};
    if (lane.runningId && !m_hasHorizon && t + tol >= double(lane.runningStartNs)
        && t - tol <= double(m_nowNs)) {
        Hit h;
        h.running = true;
        h.span.taskId = lane.runningId;
        h.span.nameId = lane.runningName;
        h.span.startNs = lane.runningStartNs;
        h.span.endNs = std::max(m_nowNs, lane.runningStartNs);
        h.span.worker = lane.worker;
        return h;
    }
    if (found)
        return Hit{shownSpan(best), false};
    return std::nullopt;
}

QRect TimelineWidget::noteRect(const Layout& l, const QString& note) const
{
    const QFontMetrics fm(font());
    const int w = fm.horizontalAdvance(note);
    return QRect(l.plot.right() - w - 12, l.plot.top() + 2, w + 10, fm.height() + 4);
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
            .arg(lane.dead ? tr(", ended") : QString())
            .arg(qulonglong(indexUsable() ? shownCount(lane) : 0));
    }
    if (const QString note = noteText(); !note.isEmpty() && noteRect(l, note).contains(pos)) {
        const RecordStats st = m_record->stats();
        QString text = st.sampling > 1
                           ? tr("The run record holds a uniform sample: the tasks whose id is a "
                                "multiple of %L1 (past its limit of %L2 tasks, or as asked), so "
                                "each task drawn stands for %L1.")
                                 .arg(st.sampling)
                                 .arg(st.limit)
                           : tr("Every task the run record received is drawn.");
        if (st.lost > 0)
            text +=
                tr(" %L1 tasks never reached the record: the monitor fell behind.").arg(st.lost);
        if (const GilTurnStats g = m_record->gilTurnStats(); !g.complete())
            text += tr(" The record holds the first %L1 GIL turns of %L2 (its limit is %L3): "
                       "tasks after them show their total GIL wait as a dark leading segment "
                       "instead of their turns.")
                        .arg(g.held)
                        .arg(g.seen)
                        .arg(g.limit);
        return text;
    }
    const auto hit = hitTest(pos);
    if (!hit)
        return {};
    const TaskSpan& s = hit->span;
    QString text = tr("%1 #%2 — %3, %4")
                       .arg(NameTable::name(s.nameId))
                       .arg(s.taskId)
                       .arg(hit->running ? tr("running") : QString::fromLatin1(nameOf(s.status)),
                            display::formatDuration(s.endNs - s.startNs));
    if (const QString gil = gilText(*hit); !gil.isEmpty())
        text += QLatin1Char('\n') + gil;
    return text;
}

bool TimelineWidget::drawsGilTurns(const TaskSpan& s) const
{
    return m_record && m_record->hasGilTurns() && s.started
           && s.endNs <= m_record->gilTurnsUntilNs();
}

QString TimelineWidget::gilText(const Hit& hit) const
{
    const TaskSpan& s = hit.span;
    if (m_record && m_record->hasGilTurns() && s.started && (hit.running || drawsGilTurns(s))) {
        // Running: up to what the turns say so far.
        const qint64 hi = hit.running ? std::min(s.endNs, m_record->gilTurnsUntilNs()) : s.endNs;
        const GilUse u = m_record->gilUse(s.worker, s.startNs, hi);
        if (u.turns == 0 && u.waitedNs == 0)
            return {};
        return (u.turns == 1 ? tr("GIL: held %1 in %L2 turn, waited %3")
                             : tr("GIL: held %1 in %L2 turns, waited %3"))
            .arg(display::formatDuration(u.heldNs))
            .arg(u.turns)
            .arg(display::formatDuration(u.waitedNs));
    }
    if (s.gilWaitNs > 0)
        return tr("GIL wait: %1").arg(display::formatDuration(s.gilWaitNs));
    return {};
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
    if (const QString gil = gilText(hit); !gil.isEmpty())
        lines << gil;
    if (!hit.running) {
        if (s.cpuNs >= 0)
            lines << tr("CPU time: %1").arg(display::formatDuration(s.cpuNs));
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

namespace {
/// Why the timeline paints with opaque fills (no alpha, no pen strokes for
/// long lines): Qt 6's raster engine hands any blend of 96 or more spans
/// (a translucent fill, a stroked line, taller than 95 pixels) to a thread
/// pool and waits for it. On a machine whose cores run the pool being
/// watched, each such wait is a trip through the scheduler: thousands per
/// second made one window update take 40 ms of which 4 ms was work
/// (docs/benchmarks.md, "The window under load"). Opaque rectangle fills
/// take the raster engine's plain memory-fill path instead.
QColor over(const QColor& top, qreal alpha, const QColor& below)
{
    const qreal a = std::clamp(alpha, 0.0, 1.0);
    return QColor::fromRgbF(top.redF() * a + below.redF() * (1 - a),
                            top.greenF() * a + below.greenF() * (1 - a),
                            top.blueF() * a + below.blueF() * (1 - a));
}

/// A premultiplied pixel over an opaque one: the result is opaque.
QRgb overPx(QRgb top, QRgb below)
{
    const int a = qAlpha(top);
    auto ch = [a](int t, int b) { return std::min(255, t + (b * (255 - a) + 127) / 255); };
    return qRgb(ch(qRed(top), qRed(below)), ch(qGreen(top), qGreen(below)),
                ch(qBlue(top), qBlue(below)));
}

/// A 1-device-pixel vertical rule from y0 to y1 at x, filled, not stroked.
void vrule(QPainter& p, double x, double y0, double y1, const QColor& c)
{
    const qreal dpr = std::max<qreal>(1.0, p.device()->devicePixelRatioF());
    p.fillRect(QRectF(std::floor(x * dpr) / dpr, y0, 1.0 / dpr, y1 - y0), c);
}

/// The outline of r, `w` pixels wide, as four opaque fills.
void outline(QPainter& p, const QRectF& r, qreal w, const QColor& c)
{
    p.fillRect(QRectF(r.left(), r.top(), r.width(), w), c);
    p.fillRect(QRectF(r.left(), r.bottom() - w, r.width(), w), c);
    p.fillRect(QRectF(r.left(), r.top(), w, r.height()), c);
    p.fillRect(QRectF(r.right() - w, r.top(), w, r.height()), c);
}
} // namespace

void TimelineWidget::paintEvent(QPaintEvent*)
{
    QElapsedTimer timer;
    timer.start();
    PaintStats st;
    catchUp(kCatchUpBudget); // rows gained since the last snapshot, or a new palette
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
    const qint64 now = nowNs();
    const double nowX = l.plot.left() + (double(now) - m_viewStart) / m_nsPerPixel;
    if (now > 0 && nowX >= l.plot.left() && nowX <= l.plot.right())
        vrule(p, nowX, l.plot.top(), l.plot.bottom(), pal.color(QPalette::Highlight));
    if (const auto band = selectionBand()) { // Shift+drag: the range to zoom to
        QColor fill = pal.color(QPalette::Highlight);
        fill.setAlphaF(0.25);
        const QRectF r(band->first, l.plot.top(), band->second - band->first, l.plot.height());
        p.fillRect(r, fill);
        p.setPen(pal.color(QPalette::Highlight));
        p.drawRect(r);
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
    const QColor grid = over(pal.color(QPalette::Mid), 0.35, pal.color(QPalette::Base));
    const qreal dpr = std::max<qreal>(1.0, p.device()->devicePixelRatioF());
    m_gridPx.clear(); // the lanes' density strips show the grid through empty columns
    for (int guard = 0; rel <= relEnd && guard < 1000; rel += step, ++guard) {
        const double x = l.plot.left() + (rel - rel0) / m_nsPerPixel;
        p.setPen(pal.color(QPalette::WindowText));
        p.drawLine(QPointF(x, l.axisHeight - 5), QPointF(x, l.axisHeight - 1));
        const QString label = tickLabel(std::abs(rel) < step / 2 ? 0.0 : rel, step);
        const int tw = fm.horizontalAdvance(label);
        p.drawText(QRectF(x - tw / 2.0, 2, tw + 2, fm.height()), Qt::AlignCenter, label);
        vrule(p, x, l.plot.top(), l.plot.bottom(), grid);
        m_gridPx.push_back(int(std::floor((x - l.plot.left()) * dpr)));
    }
}

/// One lane's rows folded into device-pixel columns: whole summary blocks
/// where they fit in one column, rows where a block straddles a boundary.
struct TimelineWidget::ColumnPass {
    const TimelineWidget& w;
    const RunRecord& rec;
    const Lane& lane;
    const std::vector<quint32>& rows;
    std::size_t shown; // positions shown (horizon)
    qint64 cut;        // ends cut here (horizon)
    double t0, t1;     // view, ns
    double colNs, invCol;
    double wideNs; // kMinSpanPx in ns: drawn one by one from there
    int cols;
    double *busy, *weight, *red, *green, *blue, *fail, *cancel;
    std::vector<std::size_t>& wide;
    PaintStats& st;
    int cmin = std::numeric_limits<int>::max();
    int cmax = -1;

    /// Column coordinates closer than this to a boundary are on it: rounding,
    /// not time (a task ending on a boundary must not mark the next column).
    static constexpr double kSliver = 1e-6;

    int columnOf(double x) const { return std::clamp(int(std::floor(x + kSliver)), 0, cols - 1); }

    void add(int c, double busyNs, double wt, QRgb rgb, double failShare, double cancelShare)
    {
        busy[c] += busyNs;
        weight[c] += wt;
        red[c] += wt * qRed(rgb);
        green[c] += wt * qGreen(rgb);
        blue[c] += wt * qBlue(rgb);
        fail[c] += wt * failShare;
        cancel[c] += wt * cancelShare;
        cmin = std::min(cmin, c);
        cmax = std::max(cmax, c);
    }

    void block(std::size_t level, std::size_t i)
    {
        const Summary& s = lane.levels[level][i];
        ++st.blocksVisited;
        const std::size_t p0 = i * blockRows(level);
        if (p0 >= shown || double(s.maxEnd) < t0 || double(s.minStart) >= t1)
            return;
        const std::size_t p1 = std::min(p0 + blockRows(level), lane.count);
        if (p1 <= shown && s.maxEnd <= cut) {
            const double a = (double(s.minStart) - t0) * invCol;
            const double e = (double(s.maxEnd) - t0) * invCol;
            if (a >= -kSliver && e <= cols + kSliver) {
                const int c = columnOf(a);
                if (e <= c + 1 + kSliver) {
                    // In one column: every row in it is narrower than a
                    // column, and its busy time is exact.
                    add(c, double(s.busyNs), s.weight, s.rgb, s.failWeight / s.weight,
                        s.cancelWeight / s.weight);
                    st.spansAggregated += qint64(p1 - p0);
                    ++st.blocksAggregated;
                    return;
                }
                if (e <= c + 2 + kSliver && (qAlpha(s.rgb) & kInOrder)) {
                    split(level, i, p1 - p0, c);
                    return;
                }
            }
        }
        if (level == 0) {
            leaf(s, p0, std::min(p1, shown));
            return;
        }
        const std::size_t c1 = std::min((i + 1) * kFanOut, lane.levels[level - 1].size());
        for (std::size_t c = i * kFanOut; c < c1; ++c)
            block(level - 1, c);
    }

    /// A block across one column boundary whose rows follow one another:
    /// its busy time before the boundary (busyBefore) goes left, the rest
    /// right. Exact, and most of what is under it is never read.
    void split(std::size_t level, std::size_t i, std::size_t rowsIn, int c)
    {
        const Summary& s = lane.levels[level][i];
        const double x = t0 + (c + 1) * colNs;
        const double left = std::clamp(busyBefore(level, i, x), 0.0, double(s.busyNs));
        const double right = double(s.busyNs) - left;
        const double f = s.failWeight / s.weight, k = s.cancelWeight / s.weight;
        add(c, left, std::max(left, 1.0), s.rgb, f, k);
        add(c + 1 < cols ? c + 1 : c, right, std::max(right, 1.0), s.rgb, f, k);
        st.spansAggregated += qint64(rowsIn);
    }

    /// Busy time of an in-order block before time x: the blocks (or rows)
    /// passed walking in from the side x is nearer to, and the part of the
    /// one across x.
    double busyBefore(std::size_t level, std::size_t i, double x)
    {
        const Summary& s = lane.levels[level][i];
        const double busyNs = double(s.busyNs);
        if (double(s.maxEnd) <= x)
            return busyNs;
        if (double(s.minStart) >= x)
            return 0.0;
        const double span = double(s.maxEnd - s.minStart);
        if (busyNs >= span)
            return x - double(s.minStart); // no gap at all
        const bool fromLeft = x - double(s.minStart) < span / 2;
        if (level > 0) {
            const std::vector<Summary>& below = lane.levels[level - 1];
            const std::size_t c0 = i * kFanOut, c1 = std::min(c0 + kFanOut, below.size());
            double sum = 0;
            if (fromLeft) {
                for (std::size_t k = c0; k < c1; ++k) {
                    ++st.blocksVisited;
                    if (double(below[k].maxEnd) > x)
                        return sum + busyBefore(level - 1, k, x);
                    sum += double(below[k].busyNs);
                }
                return sum;
            }
            for (std::size_t k = c1; k-- > c0;) {
                ++st.blocksVisited;
                if (double(below[k].minStart) < x)
                    return busyNs - sum - (double(below[k].busyNs) - busyBefore(level - 1, k, x));
                sum += double(below[k].busyNs);
            }
            return busyNs - sum;
        }
        const std::size_t p0 = i * kBlockRows,
                          n = std::min<std::size_t>(kBlockRows, lane.count - p0);
        qint64 sum = 0, as = 0, ae = 0;
        if (fromLeft) {
            for (std::size_t k = 0; k < n; ++k) {
                const quint32 r = w.rowAt(lane, rows, p0 + k);
                as = rec.startNs(r);
                ae = rec.endNs(r);
                ++st.spansVisited;
                if (double(ae) > x || k + 1 == n)
                    break; // across x, or starting after it
                sum += ae - as;
            }
            return double(sum) + std::clamp(x - double(as), 0.0, double(ae - as));
        }
        for (std::size_t k = n; k-- > 0;) {
            const quint32 r = w.rowAt(lane, rows, p0 + k);
            as = rec.startNs(r);
            ae = rec.endNs(r);
            ++st.spansVisited;
            if (double(as) < x || k == 0)
                break; // across x, or ending before it
            sum += ae - as;
        }
        return busyNs - double(sum) - std::clamp(double(ae) - x, 0.0, double(ae - as));
    }

    void leaf(const Summary& s, std::size_t p0, std::size_t p1)
    {
        // Times first, in a loop of loads only: the rows' cache misses
        // overlap instead of coming one after the other.
        quint32 r[kBlockRows];
        qint64 start[kBlockRows], end[kBlockRows];
        const std::size_t n = p1 - p0;
        for (std::size_t k = 0; k < n; ++k) {
            r[k] = w.rowAt(lane, rows, p0 + k);
            start[k] = rec.startNs(r[k]);
            end[k] = std::max(start[k], std::min(rec.endNs(r[k]), cut));
        }
        st.spansVisited += qint64(n);
        const bool statuses = s.failWeight > 0 || s.cancelWeight > 0;
        quint32 lastName = std::numeric_limits<quint32>::max();
        QRgb rgb = 0;
        for (std::size_t k = 0; k < n; ++k) {
            if (double(end[k]) < t0 || double(start[k]) >= t1)
                continue;
            if (double(end[k] - start[k]) >= wideNs) {
                wide.push_back(p0 + k);
                continue;
            }
            ++st.spansAggregated;
            if (const quint32 name = rec.nameId(r[k]); name != lastName) {
                lastName = name;
                rgb = w.colorOf(name);
            }
            const TaskStatus status = statuses ? rec.status(r[k]) : TaskStatus::Succeeded;
            const double f = status == TaskStatus::Failed ? 1.0 : 0.0;
            const double x = status == TaskStatus::Cancelled ? 1.0 : 0.0;
            const double a = std::max(0.0, (double(start[k]) - t0) * invCol);
            const double e = std::min(double(cols), (double(end[k]) - t0) * invCol);
            if (e - a < kSliver) { // a zero-length task still marks its column
                add(columnOf(a), 0.0, 1.0, rgb, f, x);
                continue;
            }
            for (int c = columnOf(a); c < cols && c < e; ++c) {
                const double cover = std::min(e, c + 1.0) - std::max(a, double(c));
                if (cover < kSliver)
                    continue;
                const double ns = cover * colNs;
                add(c, ns, std::max(ns, 1.0), rgb, f, x);
            }
        }
    }
};

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
    const int inset = lr.height() >= 10 ? 2 : (lr.height() >= 5 ? 1 : 0);
    const int top = lr.top() + inset;
    const int h = lr.height() - 2 * inset;
    const double left = l.plot.left();
    const double t0 = m_viewStart;
    const double t1 = m_viewStart + l.plot.width() * m_nsPerPixel;
    const double inv = 1.0 / m_nsPerPixel;

    const std::vector<quint32>* rows = indexUsable() ? rowsOf(lane) : nullptr;
    if (rows && lane.count > 0 && h > 0) {
        const qreal dpr = std::max<qreal>(1.0, p.device()->devicePixelRatioF());
        const int cols = std::max(1, int(std::ceil(l.plot.width() * dpr)));
        if (m_colBusy.size() < std::size_t(cols)) {
            for (auto* v :
                 {&m_colBusy, &m_colWeight, &m_colR, &m_colG, &m_colB, &m_colFail, &m_colCancel})
                v->assign(std::size_t(cols), 0.0);
        }
        std::vector<std::size_t> wide;
        const double colNs = m_nsPerPixel / dpr;
        ColumnPass pass{*this,
                        *m_record,
                        lane,
                        *rows,
                        shownCount(lane),
                        m_hasHorizon ? m_horizonNs : kNoCut,
                        t0,
                        t1,
                        colNs,
                        1.0 / colNs,
                        kMinSpanPx * m_nsPerPixel,
                        cols,
                        m_colBusy.data(),
                        m_colWeight.data(),
                        m_colR.data(),
                        m_colG.data(),
                        m_colB.data(),
                        m_colFail.data(),
                        m_colCancel.data(),
                        wide,
                        st};
        const std::size_t topLevel = lane.levels.size() - 1;
        for (std::size_t i = 0; i < lane.levels[topLevel].size(); ++i)
            pass.block(topLevel, i);

        if (pass.cmax >= pass.cmin) {
            // The columns go into a strip of device pixels drawn in one go
            // (thousands of fillRect calls cost more than the fold itself).
            const int hpx = std::max(1, int(std::lround(h * dpr)));
            if (m_strip.width() < cols || m_strip.height() != hpx)
                m_strip = QImage(cols, hpx, QImage::Format_RGB32);
            // Opaque: each column composited here over the lane's background
            // and the grid (see over()), so the engine copies the strip.
            const QColor laneBg =
                pal.color(laneIndex % 2 ? QPalette::AlternateBase : QPalette::Base);
            const QRgb bgPx = laneBg.rgb();
            const QRgb gridPx =
                over(pal.color(QPalette::Mid), 0.35, pal.color(QPalette::Base)).rgb();
            const int c0 = pass.cmin, c1 = pass.cmax + 1;
            auto* line = reinterpret_cast<QRgb*>(m_strip.scanLine(0));
            const QRgb failPx = display::statusColor(TaskStatus::Failed, pal).rgb() | 0xff000000u;
            const QRgb cancelPx = pal.color(QPalette::Mid).rgb();
            std::vector<int> failCols;
            for (int c = c0; c < c1; ++c) {
                const auto ci = std::size_t(c);
                const double wsum = m_colWeight[ci];
                QRgb px = bgPx;
                if (wsum > 0) {
                    const double f = std::min(1.0, m_colFail[ci] / wsum);
                    const double x = std::min(1.0 - f, m_colCancel[ci] / wsum);
                    const double ok = 1.0 - f - x;
                    const double r = ok * m_colR[ci] / wsum + f * qRed(failPx) + x * qRed(cancelPx);
                    const double g =
                        ok * m_colG[ci] / wsum + f * qGreen(failPx) + x * qGreen(cancelPx);
                    const double b =
                        ok * m_colB[ci] / wsum + f * qBlue(failPx) + x * qBlue(cancelPx);
                    // Opacity from the exact busy fraction; a barely busy
                    // column stays visible, a fully busy one is opaque.
                    const double busy = std::clamp(m_colBusy[ci] / colNs, 0.0, 1.0);
                    const int alpha = int(std::lround(255.0 * (0.35 + 0.65 * busy)));
                    px = qPremultiply(qRgba(std::clamp(int(std::lround(r)), 0, 255),
                                            std::clamp(int(std::lround(g)), 0, 255),
                                            std::clamp(int(std::lround(b)), 0, 255), alpha));
                    px = overPx(px, bgPx);
                    if (f > 0)
                        failCols.push_back(c);
                    ++st.columnsAggregated;
                }
                line[c] = px;
                m_colBusy[ci] = m_colWeight[ci] = m_colR[ci] = m_colG[ci] = m_colB[ci] =
                    m_colFail[ci] = m_colCancel[ci] = 0.0;
            }
            // The grid shows through empty columns where the lane has no
            // background of its own (odd lanes cover it, see paintLane).
            if (laneIndex % 2 == 0) {
                for (int g : m_gridPx) {
                    if (g >= c0 && g < c1 && line[g] == bgPx)
                        line[g] = gridPx;
                }
            }
            const std::size_t bytes = std::size_t(c1 - c0) * sizeof(QRgb);
            for (int y = 1; y < hpx; ++y)
                std::memcpy(reinterpret_cast<QRgb*>(m_strip.scanLine(y)) + c0, line + c0, bytes);
            const int markRows = std::min(hpx, std::max(1, int(std::lround(h * dpr / 5))));
            for (int y = 0; y < markRows; ++y) {
                auto* mark = reinterpret_cast<QRgb*>(m_strip.scanLine(y));
                for (int c : failCols)
                    mark[c] = failPx;
            }
            p.drawImage(QRectF(left + c0 / dpr, top, (c1 - c0) / dpr, hpx / dpr), m_strip,
                        QRectF(c0, 0, c1 - c0, hpx));
        }

        const double xMax = left + l.plot.width() + 2;
        for (std::size_t pos : wide) {
            const TaskSpan s = shownSpan(rowAt(lane, *rows, pos));
            const double xs = left + (double(s.startNs) - t0) * inv;
            const double x0 = std::max(left - 2, xs);
            const double x1 = std::min(xMax, left + (double(s.endNs) - t0) * inv);
            const double gilX = left + (double(s.startNs + s.gilWaitNs) - t0) * inv;
            paintSpan(p, s, QRectF(x0, top, x1 - x0, h), gilX, fm, st);
            ++st.spansDrawn;
        }
    }

    if (lane.runningId && !m_hasHorizon) {
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
            // The GIL turns so far (live: up to the Monitor's last take).
            if (m_record && m_record->hasGilTurns())
                st.gilTurnsVisited +=
                    paintGilTurns(p, lane.worker, lane.runningStartNs, m_nowNs, r, c, 0.8);
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

qint64 TimelineWidget::paintGilTurns(QPainter& p, qint32 worker, qint64 lo, qint64 hi,
                                     const QRectF& r, const QColor& c, qreal opacity) const
{
    const RunRecord& rec = *m_record;
    hi = std::min(hi, rec.gilTurnsUntilNs());
    if (hi <= lo || r.width() <= 0)
        return 0;
    const qreal dpr = std::max<qreal>(1.0, p.device()->devicePixelRatioF());
    const double plotLeft = plotRect().left();
    // Device columns over r; column k is [X0 + k, X0 + k + 1) device pixels.
    const double X0 = std::floor(r.left() * dpr);
    const int n = int(std::ceil(r.right() * dpr) - X0);
    if (n <= 0)
        return 0;
    const double inv = 1.0 / m_nsPerPixel;
    auto col = [&](qint64 t) { return ((double(t) - m_viewStart) * inv + plotLeft) * dpr - X0; };
    const qint64 viewLo =
        std::max(lo, qint64(std::floor(m_viewStart + (X0 / dpr - plotLeft) * m_nsPerPixel)));
    const qint64 viewHi =
        std::min(hi, qint64(std::ceil(m_viewStart + ((X0 + n) / dpr - plotLeft) * m_nsPerPixel)));
    if (viewHi <= viewLo)
        return 0;
    for (auto* v : {&m_gilHeld, &m_gilWait, &m_gilCover})
        v->assign(std::size_t(n), 0.0);
    // Adds [a, b] (cut to the task and the view) to columns, as the fraction
    // of each column's time it covers.
    auto add = [&](qint64 a, qint64 b, std::vector<double>& into) {
        a = std::max(a, viewLo);
        b = std::min(b, viewHi);
        if (b <= a)
            return;
        const double ua = std::clamp(col(a), 0.0, double(n));
        const double ub = std::clamp(col(b), 0.0, double(n));
        for (int k = std::min(n - 1, int(ua)); k < n && k < ub; ++k)
            into[std::size_t(k)] += std::min(ub, k + 1.0) - std::max(ua, double(k));
    };
    add(lo, hi, m_gilCover);
    qint64 visited = 0;
    if (const RunRecord::GilTurnLane* turns = rec.gilTurns(worker)) {
        for (std::size_t i = turns->firstEndingAfter(viewLo); i < turns->size(); ++i) {
            const qint64 start = turns->start[i];
            const qint64 wait = turns->waitNs(i);
            if (start - wait >= viewHi)
                break;
            add(start, turns->end[i], m_gilHeld);
            add(start - wait, start, m_gilWait);
            ++visited;
        }
    }
    const RunRecord::GilNow& now = rec.gilNow();
    if (now.holder == worker && now.holdStartNs > 0) {
        add(now.holdStartNs, rec.gilTurnsUntilNs(), m_gilHeld);
        add(now.holdStartNs - now.holdWaitNs, now.holdStartNs, m_gilWait);
    }
    for (const auto& [w, since] : now.waiting) {
        if (w == worker && since > 0)
            add(since, rec.gilTurnsUntilNs(), m_gilWait);
    }

    // Each column: the mix of held, queued and released time it covers,
    // runs of equal colour drawn as one rectangle.
    const QColor held = c;
    const QColor queued = c.darker(190);
    const QColor released = over(c, 0.4, palette().color(QPalette::Base));
    auto mix = [&](std::size_t k) -> QRgb {
        const double cover = m_gilCover[k];
        if (cover <= 1e-9)
            return 0;
        const double h = std::clamp(m_gilHeld[k] / cover, 0.0, 1.0);
        const double w = std::clamp(m_gilWait[k] / cover, 0.0, 1.0 - h);
        const double rel = 1.0 - h - w;
        auto ch = [&](int a, int b, int d) {
            return std::clamp(int(std::lround(h * a + w * b + rel * d)), 0, 255);
        };
        return qRgb(ch(held.red(), queued.red(), released.red()),
                    ch(held.green(), queued.green(), released.green()),
                    ch(held.blue(), queued.blue(), released.blue()));
    };
    p.save();
    p.setClipRect(r, Qt::IntersectClip);
    p.setOpacity(opacity);
    for (int k = 0; k < n;) {
        const QRgb px = mix(std::size_t(k));
        int e = k + 1;
        while (e < n && mix(std::size_t(e)) == px)
            ++e;
        if (px)
            p.fillRect(QRectF((X0 + k) / dpr, r.top(), (e - k) / dpr, r.height()), QColor(px));
        k = e;
    }
    p.restore();
    return visited;
}

void TimelineWidget::paintSpan(QPainter& p, const TaskSpan& s, const QRectF& r, double gilX,
                               const QFontMetrics& fm, PaintStats& st) const
{
    const QPalette& pal = palette();
    QColor c = QColor::fromRgb(colorOf(s.nameId));
    if (s.status == TaskStatus::Cancelled)
        c = pal.color(QPalette::Mid);
    p.fillRect(r, c);
    if (drawsGilTurns(s)) {
        // The GIL turns as they happened, in this worker's lane.
        st.gilTurnsVisited += paintGilTurns(p, s.worker, s.startNs, s.endNs, r, c, 1.0);
        ++st.gilSpans;
    } else if (s.gilWaitNs > 0) {
        // leading darker segment: time the task waited for the GIL
        QRectF g = r;
        g.setRight(std::min(r.right(), gilX));
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
        const qreal dpr = std::max<qreal>(1.0, p.device()->devicePixelRatioF());
        // 1 device pixel, or the presenter mode's wider line.
        outline(p, r, outlineWidth() > 1 ? outlineWidth() : 1.0 / dpr, c.darker(140));
    }
    if (r.width() > fm.averageCharWidth() * 5 && r.height() >= fm.height()) {
        p.setPen(display::textOn(c));
        const QRectF tr = r.adjusted(3, 0, -3, 0);
        p.drawText(tr, Qt::AlignVCenter | Qt::AlignLeft,
                   fm.elidedText(NameTable::name(s.nameId), Qt::ElideRight, int(tr.width())));
    }
}

void TimelineWidget::paintNote(QPainter& p, const Layout& l) const
{
    const QString note = noteText();
    if (note.isEmpty())
        return;
    const QPalette& pal = palette();
    const QRect r = noteRect(l, note);
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
    case Qt::Key_L:
        zoomToLastRun();
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
    // Shift+drag selects a time range to zoom to; a plain drag pans.
    m_selecting = (e->modifiers() & Qt::ShiftModifier) && plotRect().contains(m_pressPos);
    m_selectToX = m_pressPos.x();
    e->accept();
}

std::optional<std::pair<int, int>> TimelineWidget::selectionBand() const
{
    if (!m_selecting || !m_dragging)
        return std::nullopt;
    const QRect plot = plotRect();
    const int a = std::clamp(m_pressPos.x(), plot.left(), plot.right());
    const int b = std::clamp(m_selectToX, plot.left(), plot.right());
    return std::make_pair(std::min(a, b), std::max(a, b));
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
        setCursor(m_selecting ? Qt::IBeamCursor : Qt::ClosedHandCursor);
    }
    if (m_selecting) {
        m_selectToX = pos.x();
        update();
    } else if (m_dragging)
        setViewInternal(clampedStart(m_pressViewStart - (pos.x() - m_pressPos.x()) * m_nsPerPixel,
                                     m_nsPerPixel),
                        m_nsPerPixel);
    e->accept();
}

void TimelineWidget::mouseReleaseEvent(QMouseEvent* e)
{
    if (e->button() != Qt::LeftButton || !m_pressed) {
        QWidget::mouseReleaseEvent(e);
        return;
    }
    const bool click = !m_dragging;
    const auto band = selectionBand();
    m_pressed = m_dragging = m_selecting = false;
    unsetCursor();
    if (band && band->second - band->first >= 3) {
        frameRange(qint64(xToTime(band->first)), qint64(xToTime(band->second)));
        update();
        e->accept();
        return;
    }
    update();
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
        m_summariesStale = true; // block colours come from the palette
        invalidateLayout();
        update();
        break;
    default:
        break;
    }
    QWidget::changeEvent(e);
}

} // namespace poolscope
