#include "teaching/abcompare.h"

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

void ABCompare::setRun(Slot slot, const TraceData& trace, const QString& label)
{
    Side& sd = side(slot);
    sd.set = true;
    sd.label = label.isEmpty() ? trace.title : label;
    // Counts and wall time from the record's exact totals (the same figures
    // as the status bar's run summary), whether or not it is a sample.
    sd.numbers = summarize(trace);
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
    QString text = tr("wall %1 · %2 tasks · %3 tasks/s")
                       .arg(display::formatDuration(n.wallNs))
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
    if (!a.set || !b.set || a.numbers.wallNs <= 0 || b.numbers.wallNs <= 0)
        return {};
    const double ratio = double(a.numbers.wallNs) / double(b.numbers.wallNs);
    if (ratio >= 1.0)
        return tr("B took %1, %2x faster than A (%3)")
            .arg(display::formatDuration(b.numbers.wallNs))
            .arg(ratio, 0, 'f', 2)
            .arg(display::formatDuration(a.numbers.wallNs));
    return tr("B took %1, %2x slower than A (%3)")
        .arg(display::formatDuration(b.numbers.wallNs))
        .arg(1.0 / ratio, 0, 'f', 2)
        .arg(display::formatDuration(a.numbers.wallNs));
}

} // namespace poolscope
