#pragma once
// TimelineWidget: which worker ran which task when (docs/gui.md, Dask's task
// stream). One lane per worker (keyed by worker index: a respawned process
// worker gets a new index, so a new lane), one rectangle per task, coloured
// by task name; failed tasks red-hatched, cancelled grey-hatched; running
// tasks as open rectangles up to now. With a simulated GIL, each task shows
// its GIL turns as they happened (RunRecord's turns): held in the task's
// colour, queued for the GIL darker, released (sleep, I/O, native code)
// lighter, shaded per device-pixel column by the exact fraction of each
// when turns are narrower than a pixel. Records without turns (older
// traces) show the task's total GIL wait as a darker leading segment.
//
// Data: the widget reads the run record (recording.h) itself, every task of
// it, nothing copied. Per lane it keeps a summary tree over the lane's rows
// in start order: leaves of kBlockRows rows (first start, last end, busy ns,
// run-time-weighted colour, failed and cancelled weight, "in order" flag),
// blocks of kFanOut blocks above them, and so on: 2.7 bytes per row (up to
// twice that while a live run's vectors have room to grow), updated in
// O(new rows) per snapshot, rebuilt when the record or its generation()
// changes. setHorizon() (replay) hides rows started after a time and cuts
// the others' ends there, at paint time: nothing is rebuilt.
//
// Painting: tasks at least kMinSpanPx wide are drawn one by one; narrower
// ones are folded into device-pixel columns: a block that lies in one column
// adds its busy time there whole; an in-order block across one column
// boundary is split at it exactly (the busy time before the boundary, from
// the few blocks or rows on its nearer side); only other blocks are
// descended, down to the rows. A column's opacity is its exact busy
// fraction (a worker busy all of a column's time fills it), so a paint costs
// O(columns x lanes + tasks drawn), whatever the number of rows. The
// record's sampling note, if any, sits in the top right corner.
//
// Input: zoom with the wheel, + / - keys, Ctrl+0 fits; pan by dragging,
// Shift+wheel or the arrow keys; F toggles follow mode (keeps "now" at the
// right edge; panning turns it off, End turns it back on; panning stops a
// margin past the data). L frames the last run (showRun(): the window calls
// it when a run ends, so a finished run stays framed instead of scrolling
// away). Hover shows a
// tooltip; a click emits taskClicked(id) and shows the task's details.

#include <poolscope/monitor.h>
#include <poolscope/recording.h>
#include <poolscope/traceexport.h>

#include <QHash>
#include <QImage>
#include <QList>
#include <QPoint>
#include <QWidget>

#include <algorithm>
#include <limits>
#include <memory>
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
        qint64 spansVisited = 0;      // rows read from the record (blocks across columns)
        qint64 spansDrawn = 0;        // drawn one by one (wide enough)
        qint64 spansAggregated = 0;   // rows folded into pixel columns (whole blocks included)
        qint64 blocksVisited = 0;     // summary blocks looked at
        qint64 blocksAggregated = 0;  // summary blocks folded whole into one column
        qint64 columnsAggregated = 0; // density columns drawn
        qint64 runningDrawn = 0;      // open rectangles of running tasks
        qint64 gilSpans = 0;          // tasks drawn with their GIL turns
        qint64 gilTurnsVisited = 0;   // GIL turns read for them
        qint64 elapsedNs = 0;         // wall time of the paintEvent
    };
    /// A task under a point: a finished span, or a running task (then
    /// span.endNs is "now" and running is true).
    struct Hit {
        TaskSpan span;
        bool running = false;
    };

    /// Spans narrower than this (logical pixels) are aggregated per column.
    static constexpr double kMinSpanPx = 2.0;
    /// Rows per leaf summary block, and blocks per block above it.
    static constexpr int kBlockRows = 16;
    static constexpr int kFanOut = 16;

    explicit TimelineWidget(QWidget* parent = nullptr);
    ~TimelineWidget() override;

    // ---- data
    /// Live: indexes the rows snapshot.record gained since the last call (a
    /// new record, or a re-sampled one, starts over), updates lanes (names,
    /// dead, running tasks) and "now"; scrolls when following. One repaint
    /// per call at most.
    void applySnapshot(const poolscope::Snapshot& snapshot);
    /// A finished run (replay, A/B): shows every started task of `record`.
    /// laneNames: worker index -> name (every key gets a lane); originNs:
    /// time 0 of the axis (0: the first start). Clears the horizon, turns
    /// follow mode off and fits the view.
    void setRecord(std::shared_ptr<const RunRecord> record,
                   const QHash<int, QString>& laneNames = {}, qint64 originNs = 0);
    /// setRecord() from a trace (Monitor::traceData() or readTrace()), lanes
    /// named after its workers.
    void setTraceData(const TraceData& trace);
    /// Replay: shows only rows that started by `ns`, their ends cut at it.
    /// Nothing is rebuilt: scrubbing costs one paint.
    void setHorizon(qint64 ns);
    void clearHorizon();
    bool hasHorizon() const { return m_hasHorizon; }
    qint64 horizonNs() const { return m_horizonNs; }
    void clear();

    /// The record shown (null before any).
    std::shared_ptr<const RunRecord> record() const { return m_record; }
    /// Started tasks shown (the horizon applied).
    std::size_t spanCount() const;
    /// Rows the live path indexes per event (about 2 ms): a re-sampled
    /// record of a million rows is indexed over several events.
    static constexpr std::size_t kCatchUpBudget = 131'072;
    /// The record's sampling note ("sample: 1 in 16 of 1,000,000 tasks"),
    /// drawn in the top right corner; empty when it holds every task.
    QString noteText() const;
    /// Heap bytes of the widget's own index over the record (summaries and
    /// the order of lanes whose rows did not arrive in start order).
    std::size_t indexBytes() const;

    int laneCount() const { return int(m_lanes.size()); }
    /// Worker index of each lane, top to bottom.
    QList<int> laneWorkers() const;
    QString laneName(int worker) const;
    /// The lane's tasks shown, decoded, sorted by start (tests).
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
    /// "Now": the latest time seen (live) or the run's last end, never past
    /// the horizon.
    qint64 nowNs() const { return m_hasHorizon ? std::min(m_nowNs, m_horizonNs) : m_nowNs; }

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
    /// "GIL: held 1.23 s in 246 turns, waited 3.1 s" from the record's GIL
    /// turns, or "GIL wait: 3.1 s" from the task's total where the record
    /// has no turns for it; empty for a task that never waited nor held it.
    QString gilText(const Hit& hit) const;
    /// True when the task is drawn with its GIL turns (the record has every
    /// turn up to its end).
    bool drawsGilTurns(const TaskSpan& span) const;

    PaintStats lastPaintStats() const { return m_stats; }

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

public slots:
    void setFollowing(bool following);
    void zoomIn();
    void zoomOut();
    /// factor > 1 zooms in, keeping the time under anchorX (widget x) in place.
    void zoomBy(double factor, double anchorX);
    /// Shows everything shown, from the first task to now.
    void fitToData();
    /// Moves the view by pixels (positive: later); turns follow mode off.
    /// Stops a margin past the first task and "now".
    void panBy(double pixels);
    /// Follow mode off, the view exactly [startNs, endNs] (plus margins).
    void frameRange(qint64 startNs, qint64 endNs);
    /// Shift+drag over the plot: the band being selected ({} when none), in
    /// widget x; released, the view zooms to it (frameRange).
    std::optional<std::pair<int, int>> selectionBand() const;
    /// A run ended: remember it as the last run and frame it (follow mode
    /// off, so it does not scroll away while the class looks at it).
    void showRun(qint64 startNs, qint64 endNs);
    /// Frames the last run given to showRun() (key L); false when none.
    bool zoomToLastRun();

signals:
    void taskClicked(quint64 id);
    void followingChanged(bool following);
    void viewChanged();

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
    /// What a run of a lane's rows amounts to. Weights are run times with
    /// 1 ns at least, so a zero-length task still counts for its colour.
    struct Summary {
        qint64 minStart = 0;
        qint64 maxEnd = 0;
        qint64 busyNs = 0;      // sum of run times
        float weight = 0;       // sum of weights
        float failWeight = 0;   // of failed rows
        float cancelWeight = 0; // of cancelled rows
        QRgb rgb = 0;           // weighted mean task colour; alpha: flags
    };
    struct Lane {
        int worker = -1;
        QString name;
        bool dead = false;
        quint64 runningId = 0;
        quint32 runningName = 0;
        qint64 runningStartNs = 0;
        // ---- index over the record's rows of this worker
        std::size_t count = 0;      // lane rows indexed (positions 0..count)
        std::vector<quint32> order; // position -> row, only when arrival order is not start order
        std::vector<std::vector<Summary>> levels; // [0]: kBlockRows rows a block
    };
    struct Layout {
        int labelWidth = 0;
        int axisHeight = 0;
        int laneTop = 0;
        int laneHeight = 0;
        QRect plot;
    };
    struct ColumnPass;

    Lane* findLane(int worker);
    const Lane* findLane(int worker) const;
    Lane& laneFor(int worker);

    // index
    const std::vector<quint32>* rowsOf(const Lane& lane) const;
    quint32 rowAt(const Lane& lane, const std::vector<quint32>& rows, std::size_t pos) const
    {
        return lane.order.empty() ? rows[pos] : lane.order[pos];
    }
    /// Takes a new record (or the same one re-sampled): every lane's index
    /// starts over.
    void resetIndex(std::shared_ptr<const RunRecord> record);
    /// Indexes rows the record gained; starts over when it re-sampled.
    /// Returns whether anything changed. With a budget, indexes at most that
    /// many rows (in-order lanes) and leaves the rest for the next call: a
    /// re-sampled record of a million rows is indexed over a few events, not
    /// in one that holds the event loop for 10 ms (docs/gui.md).
    bool catchUp(std::size_t budget = std::numeric_limits<std::size_t>::max());
    void indexLane(Lane& lane, const std::vector<quint32>& rows, std::size_t budget);
    void summarize(Lane& lane, std::size_t fromPos);
    void rebuildSummaries();
    bool indexUsable() const;
    /// Positions of the lane shown: all, or those started by the horizon.
    std::size_t shownCount(const Lane& lane) const;
    TaskSpan shownSpan(quint32 row) const;
    qint64 dataEndNs() const;

    void followNow();
    Layout layout() const;
    int laneIndexAt(int y, const Layout& l) const;
    QRgb colorOf(quint32 nameId) const;
    qint64 dataStartNs() const;
    void setViewInternal(double startNs, double nsPerPixel);
    void invalidateLayout();
    QRect noteRect(const Layout& l, const QString& note) const;

    void paintAxis(QPainter& p, const Layout& l) const;
    void paintLane(QPainter& p, const Layout& l, int laneIndex, PaintStats& st);
    void paintSpan(QPainter& p, const TaskSpan& s, const QRectF& r, double gilX,
                   const QFontMetrics& fm, PaintStats& st) const;
    /// Shades [lo, hi] of `worker` inside r by its GIL turns, per device
    /// column: held `c`, queued darker, released lighter. hi is cut at the
    /// record's gilTurnsUntilNs(). Returns the turns read.
    qint64 paintGilTurns(QPainter& p, qint32 worker, qint64 lo, qint64 hi, const QRectF& r,
                         const QColor& c, qreal opacity) const;
    void paintNote(QPainter& p, const Layout& l) const;

    std::vector<Lane> m_lanes; // sorted by worker index
    std::shared_ptr<const RunRecord> m_record;
    quint64 m_recordGeneration = 0;
    quint64 m_recordRows = 0;      // record rows seen so far
    bool m_behind = false;         // a budgeted catchUp() left rows to index
    bool m_catchUpQueued = false;  // ... and the next share is queued
    bool m_summariesStale = false; // colours changed (palette)
    bool m_hasHorizon = false;
    qint64 m_horizonNs = 0;
    qint64 m_originNs = 0;
    qint64 m_nowNs = 0;

    double m_viewStart = 0;
    double m_nsPerPixel = 10e9 / 1000; // 10 s across 1000 px
    bool m_following = true;
    qint64 m_lastRunStart = 0; // showRun()
    qint64 m_lastRunEnd = 0;
    double clampedStart(double startNs, double nsPerPixel) const;
    bool m_liveBadge = true;

    // interaction
    QPoint m_pressPos;
    double m_pressViewStart = 0;
    bool m_pressed = false;
    bool m_dragging = false;
    bool m_selecting = false; // Shift+drag: the band to zoom to
    int m_selectToX = 0;

    // caches (mutable: computed while painting)
    mutable std::vector<QRgb> m_colors; // by name id; 0 = not computed
    mutable QHash<quint32, QRgb> m_colorsFar;
    mutable int m_labelWidth = -1;
    std::vector<double> m_colBusy, m_colWeight, m_colR, m_colG, m_colB, m_colFail, m_colCancel;
    QImage m_strip; // one lane's columns, device pixels
    mutable std::vector<double> m_gilHeld, m_gilWait, m_gilCover; // paintGilTurns' columns
    // Device-pixel columns of the grid lines of the last paint (plot-relative).
    mutable std::vector<int> m_gridPx;
    PaintStats m_stats;
};

} // namespace poolscope
