#pragma once
// ChartAdapter: the only place in ui/ that touches Qt Charts types.
//
// Qt Charts is deprecated from Qt 6.10 (Qt Graphs replaces it), so every chart
// in PoolScope goes through this small widget: rolling-window line series
// (each update is ONE QXYSeries::replace() over a bounded window, never a
// per-point append/remove) and an optional row of bars for current values.
// Swapping the backend means rewriting chartadapter.cpp only.

#include <QColor>
#include <QList>
#include <QPixmap>
#include <QPointF>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <memory>

namespace poolscope {

class ChartAdapter : public QWidget {
    Q_OBJECT
public:
    enum class Axis { Left, Right };

    explicit ChartAdapter(QWidget* parent = nullptr);
    ~ChartAdapter() override;

    void setTitle(const QString& title);
    /// Rolling window of the line series, in seconds (default 60).
    void setWindow(double seconds);
    double window() const;
    /// Most points kept per series; older points are dropped first. With the
    /// window this bounds memory and the cost of each replace().
    void setMaxPoints(int points);
    /// Antialiased lines (the default). Off while the window draws light
    /// (RunController::drawsLight()): it takes a third of the window's
    /// drawing time during a run (docs/benchmarks.md).
    void setAntialiased(bool on);
    bool antialiased() const;

    /// Adds a line series; returns its index for appendPoints().
    int addLine(const QString& name, const QColor& color = {}, Axis axis = Axis::Left,
                qreal width = 1.5, bool dashed = false);
    int lineCount() const;
    /// Removes every line series (e.g. for another set of cores); the axes stay.
    void removeLines();
    void setLineVisible(int index, bool visible);
    /// One sample for every line series at time t (seconds, increasing;
    /// going back in time clears the chart). values[i] belongs to line i;
    /// missing values are skipped.
    void appendPoints(double t, const QList<double>& values);
    /// Several samples at once (times[k] with rows[k], as appendPoints()):
    /// one replace() per line and one rescale for all of them.
    void appendRows(const QList<double>& times, const QList<QList<double>>& rows);
    /// Replaces the points of every line at once (perLine[i] belongs to line
    /// i, x increasing; lines past the list are emptied): one replace() per
    /// line, then one rescale; setMaxPoints() does not apply. For charts of
    /// a whole recording (with setXRange).
    void setPoints(const QList<QList<QPointF>>& perLine);
    /// Pen width line `index` is drawn with now: its width from addLine(),
    /// times kPresenterLineScale while the dynamic property "presenter" is
    /// set (presenter mode). 0 when there is no such line.
    qreal lineWidth(int index) const;
    /// Point size of the legend's and the axes' labels (they follow the
    /// widget's font, so presenter mode enlarges them).
    qreal labelPointSize() const;
    /// Points currently kept by line `index` (for tests and tooltips).
    int pointCount(int index) const;
    double lastValue(int index) const;

    /// Y axis: a fixed range, or automatic (0 .. a rounded-up maximum of what
    /// the window shows, at least minMax).
    void setYRange(Axis axis, double min, double max);
    void setYAuto(Axis axis, double minMax);
    void setYTitle(Axis axis, const QString& title);
    void setYLabelFormat(Axis axis, const QString& printfFormat);
    void setXTitle(const QString& title);
    /// Fixes the X axis to lo..hi instead of the rolling window (a recording
    /// has a known length); clear() keeps it.
    void setXRange(double lo, double hi);

    /// One run framed on the X axis (seconds of this chart's time), so a
    /// 5 s run fills the chart instead of a twelfth of a rolling minute.
    /// While it runs (endS < 0) the axis spans startS to startS + the larger
    /// of expectedS and the time elapsed, in round steps; once it ended,
    /// startS..endS, kept while the run's points are (then the chart rolls
    /// again). A run longer than the window rolls as before.
    struct RunFrame {
        double startS = -1; // < 0: no frame, the rolling window
        double endS = -1;   // < 0: still running
        double expectedS = 0;
        bool isSet() const { return startS >= 0; }
    };
    /// The same run in monotonic ns (as the pool's clock gives it), for the
    /// charts that keep their origin in ns.
    struct RunWindowNs {
        qint64 startNs = -1; // < 0: no run framed
        qint64 endNs = -1;   // < 0: still running
        double expectedS = 0;
        /// In seconds of a chart whose time 0 is originNs (none before an
        /// origin is known).
        RunFrame inChart(qint64 originNs) const
        {
            if (startNs < 0 || originNs < 0)
                return {};
            return {double(startNs - originNs) / 1e9,
                    endNs < 0 ? -1.0 : double(endNs - originNs) / 1e9, expectedS};
        }
    };
    void setRunFrame(const RunFrame& frame);
    void clearRunFrame() { setRunFrame({}); }
    RunFrame runFrame() const;
    /// The X axis range shown now (seconds).
    QPointF xRange() const;

    /// Bars: one bar per category, current values only.
    void setBarCategories(const QStringList& categories, const QColor& color = {});
    void setBarValues(const QList<double>& values);
    void setBarRange(double min, double max);
    int barCount() const;
    /// Current value of bar `index` (NaN when there is no such bar).
    double barValue(int index) const;

    void setLegendVisible(bool visible);
    void setLegendAlignment(Qt::Alignment alignment);
    /// Removes every point (series and bars stay).
    void clear();

    /// Renders the chart alone (for "Save chart as PNG").
    QPixmap render();

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    bool event(QEvent* event) override;
    void changeEvent(QEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;

private:
    void applyPalette();
    void applyPens();
    void applyXRange();
    void updateTicks();
    void rescale();
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace poolscope
