#include "teaching/abcompare.h"

#include <poolscope/cpusampler.h>

#include "models/display.h"
#include "teaching/decompositionbar.h"
#include "timeline/timelinewidget.h"

#include <QEvent>
#include <QLabel>
#include <QSet>
#include <QVBoxLayout>

#include <algorithm>
#include <limits>

namespace poolscope {

ABCompare::ABCompare(QWidget* parent)
    : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    m_comparison = new QLabel(this);
    m_comparison->setObjectName(QStringLiteral("abComparison"));
    QFont cf = m_comparison->font();
    cf.setBold(true);
    m_comparison->setFont(cf);
    layout->addWidget(m_comparison);
    for (Slot s : {Slot::A, Slot::B}) {
        Side& sd = side(s);
        const QString letter = s == Slot::A ? QStringLiteral("A") : QStringLiteral("B");
        sd.title = new QLabel(this);
        sd.title->setObjectName(QStringLiteral("abTitle") + letter);
        QFont tf = sd.title->font();
        tf.setBold(true);
        sd.title->setFont(tf);
        sd.summary = new QLabel(this);
        sd.summary->setObjectName(QStringLiteral("abSummary") + letter);
        sd.summary->setWordWrap(true);
        sd.summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
        sd.bar = new DecompositionBar(this);
        sd.bar->setObjectName(QStringLiteral("abBar") + letter);
        sd.timeline = new TimelineWidget(this);
        sd.timeline->setObjectName(QStringLiteral("abTimeline") + letter);
        sd.timeline->setLiveBadgeVisible(false); // a finished run: nothing to follow
        layout->addWidget(sd.title);
        layout->addWidget(sd.summary);
        layout->addWidget(sd.bar);
        layout->addWidget(sd.timeline, 1);
        connect(sd.timeline, &TimelineWidget::viewChanged, this, [this, s] { syncFrom(s); });
        sd.timeline->installEventFilter(this);
        clearRun(s);
    }
}

TimelineWidget* ABCompare::timeline(Slot slot) const
{
    return side(slot).timeline;
}

DecompositionBar* ABCompare::decompositionBar(Slot slot) const
{
    return side(slot).bar;
}

bool ABCompare::hasRun(Slot slot) const
{
    return side(slot).set;
}

QString ABCompare::label(Slot slot) const
{
    return side(slot).label;
}

RunNumbers ABCompare::numbers(Slot slot) const
{
    return side(slot).numbers;
}

QString ABCompare::summaryText(Slot slot) const
{
    return side(slot).summary->text();
}

void ABCompare::setRun(Slot slot, const TraceData& trace, const QString& label, double otherCores)
{
    side(slot).runs.clear();
    addRun(slot, trace, label, otherCores);
}

void ABCompare::addRun(Slot slot, const TraceData& trace, const QString& label, double otherCores)
{
    Side& sd = side(slot);
    sd.set = true;
    sd.label = label.isEmpty() ? trace.title : label;
    // Counts and wall time from the record's exact totals (the same figures
    // as the status bar's run summary), whether or not it is a sample.
    sd.runs.append({trace, summarize(trace), otherCores});
    showSide(slot);
}

QList<qint64> ABCompare::walls(Slot slot) const
{
    QList<qint64> out;
    for (const auto& m : side(slot).runs)
        out << m.numbers.wallNs;
    return out;
}

qsizetype ABCompare::medianIndex(const Side& sd)
{
    if (sd.runs.isEmpty())
        return -1;
    QList<qsizetype> order;
    for (qsizetype i = 0; i < sd.runs.size(); ++i)
        order << i;
    std::sort(order.begin(), order.end(), [&sd](qsizetype x, qsizetype y) {
        return sd.runs.at(x).numbers.wallNs < sd.runs.at(y).numbers.wallNs;
    });
    return order.at((order.size() - 1) / 2);
}

qint64 ABCompare::medianWallNs(Slot slot) const
{
    const qsizetype i = medianIndex(side(slot));
    return i < 0 ? 0 : side(slot).runs.at(i).numbers.wallNs;
}

void ABCompare::showSide(Slot slot)
{
    Side& sd = side(slot);
    const auto& shown = sd.runs.at(medianIndex(sd));
    const TraceData& trace = shown.trace;
    sd.numbers = shown.numbers;
    // t = 0 at the run's first submission, so A and B line up.
    const RunTotals& totals = trace.record->totals();
    sd.runStartNs = totals.firstNs > 0 ? totals.firstNs : trace.originNs;
    // Lanes only for workers that ran something in this run: after a
    // resize from 4 workers to 1, run B listed A's three retired workers as
    // empty lanes.
    TraceData lanes = trace;
    lanes.workers.clear();
    const QList<qint32> ran = trace.record->workers();
    for (const TraceWorker& w : trace.workers) {
        if (ran.contains(w.index))
            lanes.workers.append(w);
    }
    lanes.originNs = sd.runStartNs;
    sd.timeline->setTraceData(lanes);

    const QString letter = slot == Slot::A ? QStringLiteral("A") : QStringLiteral("B");
    sd.title->setText(QStringLiteral("%1: %2").arg(letter, sd.label));
    const RunNumbers& n = sd.numbers;
    QString wall = display::formatDuration(n.wallNs);
    if (sd.runs.size() > 1) {
        const QList<qint64> w = walls(slot);
        const auto [lo, hi] = std::minmax_element(w.begin(), w.end());
        wall = tr("%1 (median of %2 runs, %3 - %4)")
                   .arg(wall)
                   .arg(sd.runs.size())
                   .arg(display::formatDuration(*lo), display::formatDuration(*hi));
    }
    QString text = tr("wall %1 · %2 tasks · %3 tasks/s")
                       .arg(wall)
                       .arg(n.tasks)
                       .arg(n.tasksPerSecond, 0, 'f', n.tasksPerSecond < 100 ? 1 : 0);
    text += n.cpuPerWall >= 0 ? tr(" · CPU/wall %1").arg(n.cpuPerWall, 0, 'f', 2)
                              : tr(" · CPU not measured");
    if (n.gilWaitNs > 0)
        text += tr(" · GIL wait %1").arg(display::formatDuration(n.gilWaitNs));
    if (n.failed || n.cancelled)
        text += tr(" · %1 failed, %2 cancelled").arg(n.failed).arg(n.cancelled);
    // The timeline and the median are of a sample past the record limit.
    const QString note = trace.record->samplingNote();
    if (!note.isEmpty())
        text += tr(" · timeline: %1").arg(note);
    // Other programs on the machine make a run slower than the pool is.
    int busyRuns = 0;
    double worst = 0;
    for (const auto& m : sd.runs) {
        if (m.otherCores >= LoadMeter::kBusyCores)
            ++busyRuns;
        worst = std::max(worst, m.otherCores);
    }
    if (busyRuns > 0)
        text += sd.runs.size() == 1
                    ? tr(" · ⚠ %1").arg(LoadMeter::busyText(worst))
                    : tr(" · ⚠ the machine was busy during %1 of %2 runs: other programs used up "
                         "to %3 cores")
                          .arg(busyRuns)
                          .arg(sd.runs.size())
                          .arg(worst, 0, 'f', 2);
    sd.summary->setText(text);
    sd.bar->setDecomposition(n.decomposition);
    fitBoth();
    updateComparison();
}

void ABCompare::clearRun(Slot slot)
{
    Side& sd = side(slot);
    sd.set = false;
    sd.label.clear();
    sd.numbers = {};
    sd.runs.clear();
    sd.runStartNs = 0;
    sd.timeline->clear();
    sd.title->setText(slot == Slot::A ? tr("A: no run yet") : tr("B: no run yet"));
    sd.summary->setText(tr("Record a run to compare it here."));
    sd.bar->clear();
    updateComparison();
}

bool ABCompare::eventFilter(QObject* watched, QEvent* event)
{
    // Until someone zooms or pans, keep both runs fitted to the plot width.
    if (event->type() == QEvent::Resize && m_autoFit && watched == side(Slot::A).timeline)
        fitBoth();
    return QWidget::eventFilter(watched, event);
}

void ABCompare::fitBoth()
{
    qint64 longest = 0;
    for (const Side& sd : m_sides) {
        if (sd.set)
            longest = std::max(longest, sd.numbers.wallNs);
    }
    if (longest <= 0)
        return;
    const int plotWidth = std::max(1, side(Slot::A).timeline->plotRect().width());
    const double npp = double(longest) * 1.03 / plotWidth;
    const QSignalBlocker ba(side(Slot::A).timeline);
    const QSignalBlocker bb(side(Slot::B).timeline);
    for (Side& sd : m_sides)
        sd.timeline->setView(double(sd.runStartNs) - double(longest) * 0.015, npp);
    m_autoFit = true;
}

void ABCompare::syncFrom(Slot from)
{
    if (m_syncing)
        return;
    const Side& src = side(from);
    Side& dst = side(from == Slot::A ? Slot::B : Slot::A);
    m_autoFit = false; // the user moved the view
    m_syncing = true;
    // The same offset from each run's start, the same scale.
    const double offset = src.timeline->viewStartNs() - double(src.runStartNs);
    dst.timeline->setView(double(dst.runStartNs) + offset, src.timeline->nsPerPixel());
    m_syncing = false;
}

void ABCompare::updateComparison()
{
    m_comparison->setText(comparisonText());
    m_comparison->setVisible(!m_comparison->text().isEmpty());
}

QString ABCompare::comparisonText() const
{
    const Side& a = side(Slot::A);
    const Side& b = side(Slot::B);
    const qint64 wa = medianWallNs(Slot::A);
    const qint64 wb = medianWallNs(Slot::B);
    if (!a.set || !b.set || wa <= 0 || wb <= 0)
        return {};
    const double ratio = double(wa) / double(wb);
    const bool faster = ratio >= 1.0;
    QString text = tr("B took %1, %2x %3 than A (%4)")
                       .arg(display::formatDuration(wb))
                       .arg(faster ? ratio : 1.0 / ratio, 0, 'f', 2)
                       .arg(faster ? tr("faster") : tr("slower"))
                       .arg(display::formatDuration(wa));
    if (a.runs.size() > 1 || b.runs.size() > 1) {
        // The ratio's range over every pairing of A's and B's runs.
        const QList<qint64> la = walls(Slot::A), lb = walls(Slot::B);
        const auto [aLo, aHi] = std::minmax_element(la.begin(), la.end());
        const auto [bLo, bHi] = std::minmax_element(lb.begin(), lb.end());
        if (*aLo > 0 && *bLo > 0) {
            double lo = double(*aLo) / double(*bHi);
            double hi = double(*aHi) / double(*bLo);
            if (!faster) {
                const double l = 1.0 / hi;
                hi = 1.0 / lo;
                lo = l;
            }
            text += tr("; medians of %1 and %2 runs, ratio %3x - %4x")
                        .arg(a.runs.size())
                        .arg(b.runs.size())
                        .arg(lo, 0, 'f', 2)
                        .arg(hi, 0, 'f', 2);
        }
    }
    // Why a speedup falls short: the same tasks, each slower on one side,
    // ran while others competed for what cores share (issue #15: matmul on
    // 2 workers gets ~1.7x because each task takes ~1.15x as long).
    const qint64 ta = a.numbers.medianTaskNs, tb = b.numbers.medianTaskNs;
    if (a.numbers.tasks == b.numbers.tasks && ta > 0 && tb > 0) {
        const bool bSlower = tb >= ta;
        const double r = bSlower ? double(tb) / double(ta) : double(ta) / double(tb);
        if (r >= kTaskSlowdown)
            text += tr("; each of %1's tasks took %2x as long as %3's (median task): tasks that "
                       "run at once slow each other (a GIL; caches, memory bandwidth or cores "
                       "the machine shares)")
                        .arg(bSlower ? QStringLiteral("B") : QStringLiteral("A"))
                        .arg(r, 0, 'f', 2)
                        .arg(bSlower ? QStringLiteral("A") : QStringLiteral("B"));
    }
    return text;
}

} // namespace poolscope
