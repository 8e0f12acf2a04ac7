#pragma once
// TimelineWidget: which worker ran which task when (DESIGN.md §8, Dask's task
// stream). One lane per worker (keyed by worker index: a respawned process
// worker gets a new index, so a new lane), one rectangle per task, coloured
// by task name; failed tasks red-hatched, cancelled grey-hatched, the GIL
// wait a darker leading segment; running tasks as open rectangles up to now.
//
// Scale: spans narrower than kMinSpanPx are never drawn one by one. Per lane
// only the visible time range is walked (binary search on a prefix maximum
// of end times, spans sorted by start) and folded into a per-device-pixel
// column array (busy fraction, mixed task colour, failed / cancelled share),
// then drawn as one thin rect per column. Memory is bounded (maxSpans(),
// default 250k): the oldest spans go first and a visible note says how many.
//
// Input: zoom with the wheel, + / - keys, Ctrl+0 fits; pan by dragging,
// Shift+wheel or the arrow keys; F toggles follow mode (keeps "now" at the
// right edge; panning turns it off, End turns it back on). Hover shows a
// tooltip; a click emits taskClicked(id) and shows the task's details.

#include <poolscope/monitor.h>
#include <poolscope/traceexport.h>

#include <QHash>
#include <QList>
#include <QPoint>
#include <QWidget>

#include <deque>
#include <optional>
#include <vector>

namespace poolscope {

class TimelineWidget : public QWidget {
    Q_OBJECT
    Q_PROPERTY(bool following READ isFollowing WRITE setFollowing NOTIFY followingChanged)
public:
    /// What the last paintEvent did (tests and the benchmark read it).
    struct PaintStats {
        int lanes = 0;                // lanes painted
        qint64 spansVisited = 0;      // spans in the visible time range
        qint64 spansDrawn = 0;        // drawn one by one (wide enough)
        qint64 spansAggregated = 0;   // folded into pixel columns
        qint64 columnsAggregated = 0; // density columns drawn
        qint64 runningDrawn = 0;      // open rectangles of running tasks
        qint64 elapsedNs = 0;         // wall time of the paintEvent
    };
    /// A task under a point: a finished span, or a running task (then
    /// span.endNs is "now" and running is true).
    struct Hit {
        TaskSpan span;
        bool running = false;
    };

    static constexpr std::size_t kDefaultMaxSpans = 250'000;
    /// Spans narrower than this (logical pixels) are aggregated per column.
    static constexpr double kMinSpanPx = 2.0;

    explicit TimelineWidget(QWidget* parent = nullptr);
    ~TimelineWidget() override;

    // ---- data
    /// Appends snapshot.spans, updates lanes (names, dead, running tasks) and
    /// "now"; scrolls when following. One repaint per call at most.
    void applySnapshot(const poolscope::Snapshot& snapshot);
    /// Replaces everything with recorded spans (replay). laneNames: worker
    /// index -> name; originNs: time 0 of the axis (0: the first start).
    /// Turns follow mode off and fits the view.
    void setSpans(const std::vector<TaskSpan>& spans, const QHash<int, QString>& laneNames = {},
                  qint64 originNs = 0);
    /// setSpans() from a trace (Monitor::traceData() or readChromeTrace()).
    void setTraceData(const TraceData& trace);
    void clear();

    void setMaxSpans(std::size_t maxSpans);
    std::size_t maxSpans() const { return m_maxSpans; }
    std::size_t spanCount() const { return m_total; }
    /// Spans dropped to stay within maxSpans() since the last clear().
    quint64 trimmedCount() const { return m_trimmed; }
    /// The note the widget shows, e.g. "1,234 older tasks trimmed"; empty if none.
    QString noteText() const;

    int laneCount() const { return int(m_lanes.size()); }
    /// Worker index of each lane, top to bottom.
    QList<int> laneWorkers() const;
    QString laneName(int worker) const;
    /// The lane's retained spans, sorted by start (tests).
    std::vector<TaskSpan> laneSpans(int worker) const;

    // ---- view
    bool isFollowing() const { return m_following; }
    /// The "live / paused view" badge above the lane labels. Off for
    /// timelines of finished runs (A/B panel), where following means nothing.
    bool liveBadgeVisible() const { return m_liveBadge; }
    void setLiveBadgeVisible(bool visible);
    double viewStartNs() const { return m_viewStart; }
    double viewEndNs() const;
    double nsPerPixel() const { return m_nsPerPixel; }
    void setView(double startNs, double nsPerPixel);
    qint64 originNs() const { return m_originNs; }
    qint64 nowNs() const { return m_nowNs; }

    // ---- geometry in widget coordinates (exposed for tests and overlays)
    QRect plotRect() const;
    double timeToX(qint64 ns) const;
    double xToTime(double x) const;
    /// The lane's rectangle (full plot width); null if the worker has no lane.
    QRect laneRect(int worker) const;
    std::optional<Hit> hitTest(const QPoint& pos) const;
    /// The hover text at pos (empty if no task there).
    QString toolTipAt(const QPoint& pos) const;
    /// Width of the task outlines (1 px; kPresenterLineScale px while the
    /// dynamic property "presenter" is set, i.e. in presenter mode).
    qreal outlineWidth() const;
    /// A multi-line description of a task (the click tooltip).
    QString detailsText(const Hit& hit) const;

    PaintStats lastPaintStats() const { return m_stats; }

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

public slots:
    void setFollowing(bool following);
    void zoomIn();
    void zoomOut();
    /// factor > 1 zooms in, keeping the time under anchorX (widget x) in place.
    void zoomBy(double factor, double anchorX);
    /// Shows everything retained, from the first span to now.
    void fitToData();
    /// Moves the view by pixels (positive: later); turns follow mode off.
    void panBy(double pixels);

signals:
    void taskClicked(quint64 id);
    void followingChanged(bool following);
    void viewChanged();
    void trimmedChanged(quint64 trimmed);

protected:
    bool event(QEvent* e) override;
    void paintEvent(QPaintEvent* e) override;
    void wheelEvent(QWheelEvent* e) override;
    void keyPressEvent(QKeyEvent* e) override;
    void mousePressEvent(QMouseEvent* e) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void mouseReleaseEvent(QMouseEvent* e) override;
    void resizeEvent(QResizeEvent* e) override;
    void changeEvent(QEvent* e) override;

private:
    struct Lane {
        int worker = -1;
        QString name;
        bool dead = false;
        std::vector<TaskSpan> spans; // [first, size) live, sorted by startNs
        std::vector<qint64> maxEnd;  // prefix maximum of endNs (upper bound once trimmed)
        std::size_t first = 0;
        quint64 runningId = 0;
        quint32 runningName = 0;
        qint64 runningStartNs = 0;
        std::size_t liveCount() const { return spans.size() - first; }
    };
    struct Layout {
        int labelWidth = 0;
        int axisHeight = 0;
        int laneTop = 0;
        int laneHeight = 0;
        QRect plot;
    };

    Lane* findLane(int worker);
    const Lane* findLane(int worker) const;
    Lane& laneFor(int worker);
    void insertSpan(Lane& lane, const TaskSpan& span);
    void trim();
    void followNow();
    Layout layout() const;
    int laneIndexAt(int y, const Layout& l) const;
    QRgb colorOf(quint32 nameId) const;
    qint64 dataStartNs() const;
    void setViewInternal(double startNs, double nsPerPixel);
    void invalidateLayout();

    void paintAxis(QPainter& p, const Layout& l) const;
    void paintLane(QPainter& p, const Layout& l, int laneIndex, PaintStats& st);
    void paintSpan(QPainter& p, const TaskSpan& s, const QRectF& r) const;
    void paintNote(QPainter& p, const Layout& l) const;

    std::vector<Lane> m_lanes;    // sorted by worker index
    std::deque<qint32> m_arrival; // worker of each retained span, oldest first
    std::size_t m_total = 0;
    std::size_t m_maxSpans = kDefaultMaxSpans;
    quint64 m_trimmed = 0;
    qint64 m_originNs = 0;
    qint64 m_nowNs = 0;

    double m_viewStart = 0;
    double m_nsPerPixel = 10e9 / 1000; // 10 s across 1000 px
    bool m_following = true;
    bool m_liveBadge = true;

    // interaction
    QPoint m_pressPos;
    double m_pressViewStart = 0;
    bool m_pressed = false;
    bool m_dragging = false;

    // caches (mutable: computed while painting)
    mutable std::vector<QRgb> m_colors; // by name id; 0 = not computed
    mutable QHash<quint32, QRgb> m_colorsFar;
    mutable int m_labelWidth = -1;
    std::vector<float> m_busy, m_fail, m_cancel, m_red, m_green, m_blue;
    PaintStats m_stats;
};

} // namespace poolscope
