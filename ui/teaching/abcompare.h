#pragma once
// ABCompare: two recorded runs side by side (A above B) on the same time
// axis: t = 0 is each run's first submission, and zoom / pan of either
// timeline moves the other (viewChanged -> setView). Each run shows its
// summary numbers (wall, tasks/s, CPU/wall, GIL wait) and where its time
// went (DecompositionBar); a line compares the two wall times.
//
// Feed it from a Monitor after a run (monitor->traceData(label)) or from a
// saved trace (readChromeTrace()).

#include <poolscope/patterns.h>
#include <poolscope/traceexport.h>

#include <QString>
#include <QWidget>

#include <array>

class QLabel;

namespace poolscope {

class DecompositionBar;
class TimelineWidget;

class ABCompare : public QWidget {
    Q_OBJECT
public:
    enum class Slot { A = 0, B = 1 };
    Q_ENUM(Slot)

    explicit ABCompare(QWidget* parent = nullptr);

    /// The slot shows this one run (any repeats before are dropped).
    void setRun(Slot slot, const TraceData& trace, const QString& label, double otherCores = -1);
    /// One more measurement of the same configuration: the slot shows the
    /// median wall time with the range, its timeline and bar the run whose
    /// wall is the median. otherCores: LoadMeter's figure for the run (-1
    /// unknown); a busy machine is said.
    void addRun(Slot slot, const TraceData& trace, const QString& label, double otherCores = -1);
    /// Runs measured in the slot.
    int runCount(Slot slot) const { return int(side(slot).runs.size()); }
    /// Wall times of the slot's runs, in the order measured.
    QList<qint64> walls(Slot slot) const;
    /// Median wall time of the slot (the lower middle one for an even count); 0 when empty.
    qint64 medianWallNs(Slot slot) const;
    void clearRun(Slot slot);
    bool hasRun(Slot slot) const;
    QString label(Slot slot) const;
    RunNumbers numbers(Slot slot) const;
    /// The summary line shown for the slot.
    QString summaryText(Slot slot) const;
    /// "B took 0.42 s, 3.1x faster than A (1.30 s)"; empty unless both are
    /// set. With the same number of tasks on both sides and one side's
    /// median task >= kTaskSlowdown times the other's, says so (why a
    /// speedup is short of the worker ratio).
    QString comparisonText() const;
    static constexpr double kTaskSlowdown = 1.05;

    TimelineWidget* timeline(Slot slot) const;
    DecompositionBar* decompositionBar(Slot slot) const;

public slots:
    /// Both timelines show both runs whole, on one scale (and keep doing so
    /// on resize until the view is zoomed or panned).
    void fitBoth();

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    struct Side {
        QLabel* title = nullptr;
        QLabel* summary = nullptr;
        DecompositionBar* bar = nullptr;
        TimelineWidget* timeline = nullptr;
        RunNumbers numbers; // of the run shown (the median one)
        QString label;
        struct Measured {
            TraceData trace;
            RunNumbers numbers;
            double otherCores = -1;
        };
        QList<Measured> runs;
        qint64 runStartNs = 0; // the timeline's origin
        bool set = false;
    };
    Side& side(Slot s) { return m_sides[std::size_t(s)]; }
    const Side& side(Slot s) const { return m_sides[std::size_t(s)]; }
    void syncFrom(Slot from);
    void showSide(Slot slot);
    /// Index in runs of the median wall time.
    static qsizetype medianIndex(const Side& sd);
    void updateComparison();

    std::array<Side, 2> m_sides;
    QLabel* m_comparison = nullptr;
    bool m_syncing = false;
    bool m_autoFit = true;
};

} // namespace poolscope
