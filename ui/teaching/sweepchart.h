#pragma once
// SweepChart: the result of a pool-size sweep (SweepRunner). Two charts side
// by side: speedup and efficiency (speedup / workers) against the number of
// workers, one colour per series, with
//   * the ideal line (speedup = workers, efficiency = 100%),
//   * Amdahl's curve fitted to each series' measurements, its serial
//     fraction s in the legend ("threads: Amdahl s = 0.050"),
//   * the machine's core count as a vertical line.
//
// Speedup of a point = wall time of the series' 1-worker point / its wall
// time. Past the core count the workers share cores, so the Amdahl fit and
// curve use min(workers, cores) processors (amdahl.h).
//
// This is the only file besides ui/charts/ that touches Qt Charts: the
// ChartAdapter there is a rolling time-window line chart and has no XY
// scatter, per-series legend names or vertical markers.

#include "teaching/sweeprunner.h"

#include <QHash>
#include <QList>
#include <QPixmap>
#include <QWidget>

#include <memory>
#include <utility>

class QLabel;

namespace poolscope {

class SweepChart : public QWidget {
    Q_OBJECT
public:
    explicit SweepChart(QWidget* parent = nullptr);
    ~SweepChart() override;

    /// The core count marked on the charts and used by the fit (default
    /// QThread::idealThreadCount()).
    void setCoreCount(int cores);
    int coreCount() const { return m_cores; }

    QList<SweepPoint> points() const { return m_points; }
    /// Series with at least one point, in first-seen order.
    QList<SweepSeries> series() const;
    /// Measured speedup of the point (series, workers); -1 when unknown
    /// (no such point, or no 1-worker point in that series).
    double speedup(SweepSeries series, int workers) const;
    /// The speedup's range over the point's measurements: the fastest and
    /// slowest 1-worker time against the slowest and fastest time of the
    /// point; {-1, -1} when unknown. Equal to speedup() for single ones.
    std::pair<double, double> speedupRange(SweepSeries series, int workers) const;
    /// The serial fraction fitted to the low and to the high ends of the
    /// ranges: how far the noise of the measurements moves s; {-1, -1} when
    /// it cannot be fitted.
    std::pair<double, double> serialFractionRange(SweepSeries series) const;
    /// Fitted serial fraction of the series, -1 when it cannot be fitted yet.
    double serialFraction(SweepSeries series) const;
    /// The legend text of the series' Amdahl curve as shown, e.g.
    /// "threads: Amdahl s = 0.050 (max 20.0x)"; empty when not fitted.
    QString amdahlLegend(SweepSeries series) const;
    /// Every legend entry as shown under the charts, in order: per series
    /// its name and its Amdahl legend, then "ideal (...)" and "cores (N)".
    QStringList legendLabels() const;
    /// One line per series: points, best speedup, fitted s.
    QString summaryText() const;

    QPixmap render();
    QSize sizeHint() const override;

public slots:
    void addPoint(const poolscope::SweepPoint& point);
    void setPoints(const QList<poolscope::SweepPoint>& points);
    void clear();

protected:
    void changeEvent(QEvent* event) override;
    bool event(QEvent* event) override;
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void rebuild();
    void fitAxisTitles();
    static constexpr int kAxisTitlesMinHeight = 240;
    struct Charts;
    std::unique_ptr<Charts> d;
    QList<SweepPoint> m_points;
    int m_cores = 1;
    QHash<int, double> m_fits; // SweepSeries -> s
    QLabel* m_legend = nullptr;
    QStringList m_legendEntries;
    QLabel* m_summary = nullptr;
};

} // namespace poolscope
