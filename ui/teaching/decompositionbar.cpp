#include "teaching/decompositionbar.h"

#include "models/display.h"

#include <QEvent>
#include <QPainter>
#include <QPainterPath>

#include <cmath>

namespace poolscope {

DecompositionBar::DecompositionBar(QWidget* parent)
    : QWidget(parent)
{
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    clear();
}

void DecompositionBar::setDecomposition(const TimeDecomposition& d)
{
    m_d = d;
    updateToolTip();
    updateGeometry();
    update();
}

void DecompositionBar::setView(View view)
{
    if (m_view == view)
        return;
    m_view = view;
    updateToolTip();
    update();
}

DecompositionBar::View DecompositionBar::shownView() const
{
    return m_view == View::WorkerTime && m_d.hasWorkerTime() ? View::WorkerTime : View::TaskTime;
}

QString DecompositionBar::queueText() const
{
    if (shownView() != View::WorkerTime || m_d.queuedNs <= 0 || m_d.tasks <= 0)
        return {};
    return tr("Tasks also waited %1 in the queue (%2 per task): not worker time.")
        .arg(display::formatDuration(m_d.queuedNs),
             display::formatDuration(m_d.queuedNs / m_d.tasks));
}

void DecompositionBar::updateToolTip()
{
    const QString legend = legendText().replace(QStringLiteral(" · "), QStringLiteral("\n"));
    if (shownView() == View::WorkerTime && m_d.workerTimeNs() > 0) {
        setToolTip(tr("Where the time of %1 worker(s) went over the run (%2 task(s)):\n%3\n%4\n\n"
                      "CPU = the tasks' CPU time; GIL wait = waiting for the simulated GIL;\n"
                      "waiting = blocked on I/O, sleeping, or preempted by another thread;\n"
                      "overhead = between two tasks while the next one was already submitted\n"
                      "(hand-over, wake-up, the future, start-up, or the worker preempted\n"
                      "by another thread or program);\n"
                      "idle = nothing submitted for the worker yet, or after its last task")
                       .arg(m_d.workers)
                       .arg(m_d.tasks)
                       .arg(legend, queueText()));
        return;
    }
    setToolTip(m_d.totalNs() > 0
                   ? tr("Where the time of %1 task(s) went (summed over tasks):\n%2\n\n"
                        "queued = start - submit; GIL wait = waiting for the simulated GIL;\n"
                        "CPU = the task's CPU time; waiting = run time - CPU - GIL wait\n"
                        "(blocked on I/O, sleeping, or preempted by another thread)")
                         .arg(m_d.tasks)
                         .arg(legend)
                   : tr("No finished tasks yet"));
}

void DecompositionBar::clear()
{
    setDecomposition({});
}

QList<DecompositionBar::Segment> DecompositionBar::segments() const
{
    const bool dark = display::isDark(palette());
    auto c = [dark](QRgb light, QRgb darkC) { return QColor(dark ? darkC : light); };
    const QColor queued = c(0xbab0ac, 0x8a817c);
    const QColor gil = c(0xb07aa1, 0xd4a6c8);
    const QColor cpu = c(0x4e79a7, 0x7aa6d6);
    const QColor waiting = c(0xedc948, 0xf1ce63);
    const QColor unmeasured = c(0xe0e0e0, 0x505050);
    QList<Segment> out;
    if (shownView() == View::WorkerTime) {
        out = {
            {tr("CPU"), m_d.cpuNs, 0, cpu},
            {tr("GIL wait"), m_d.gilWaitNs, 0, gil},
            {tr("waiting"), m_d.waitingNs, 0, waiting},
            {tr("not measured"), m_d.unmeasuredNs, 0, unmeasured},
            {tr("overhead"), m_d.overheadNs, 0, c(0xe15759, 0xff8a8c)},
            {tr("idle"), m_d.idleNs, 0, queued},
        };
    } else {
        out = {
            {tr("queued"), m_d.queuedNs, 0, queued},
            {tr("GIL wait"), m_d.gilWaitNs, 0, gil},
            {tr("CPU"), m_d.cpuNs, 0, cpu},
            {tr("waiting"), m_d.waitingNs, 0, waiting},
            {tr("not measured"), m_d.unmeasuredNs, 0, unmeasured},
        };
    }
    qint64 sum = 0;
    for (const auto& s : out)
        sum += s.ns;
    for (auto& s : out)
        s.fraction = sum > 0 ? double(s.ns) / double(sum) : 0.0;
    return out;
}

QString DecompositionBar::legendText() const
{
    QStringList parts;
    for (const auto& s : segments()) {
        if (s.ns > 0)
            parts << tr("%1 %2% (%3)")
                         .arg(s.name)
                         .arg(std::lround(s.fraction * 100))
                         .arg(display::formatDuration(s.ns));
    }
    return parts.join(QStringLiteral(" · "));
}

QSize DecompositionBar::sizeHint() const
{
    const QFontMetrics fm(font());
    return {400, fm.height() * 2 + 14};
}

QSize DecompositionBar::minimumSizeHint() const
{
    const QFontMetrics fm(font());
    return {120, fm.height() * 2 + 14};
}

bool DecompositionBar::event(QEvent* e)
{
    if (e->type() == QEvent::DynamicPropertyChange)
        update();
    return QWidget::event(e);
}

void DecompositionBar::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing, true);
    const QFontMetrics fm(font());
    const QRectF bar(1, 1, width() - 2, std::max(8, height() - fm.height() - 8));
    const qreal radius = 3;
    const QPalette& pal = palette();
    if (m_d.totalNs() <= 0 && m_d.workerTimeNs() <= 0) {
        p.setPen(QPen(pal.color(QPalette::Mid), 1, Qt::DashLine));
        p.drawRoundedRect(bar, radius, radius);
        p.setPen(pal.color(QPalette::PlaceholderText));
        p.drawText(bar, Qt::AlignCenter, tr("no finished tasks"));
        return;
    }
    QPainterPath clip;
    clip.addRoundedRect(bar, radius, radius);
    p.setClipPath(clip);
    qreal x = bar.left();
    const auto segs = segments();
    for (const auto& s : segs) {
        if (s.ns <= 0)
            continue;
        const qreal w = bar.width() * s.fraction;
        const QRectF r(x, bar.top(), w, bar.height());
        p.fillRect(r, s.color);
        if (w > fm.horizontalAdvance(QStringLiteral("100%")) + 6) {
            p.setPen(display::textOn(s.color));
            p.drawText(r, Qt::AlignCenter,
                       QStringLiteral("%1%").arg(std::lround(s.fraction * 100)));
        }
        x += w;
    }
    p.setClipping(false);
    const bool presenter = property("presenter").toBool();
    p.setPen(QPen(pal.color(QPalette::Mid), presenter ? 2 : 1));
    p.setBrush(Qt::NoBrush);
    p.drawRoundedRect(bar, radius, radius);

    // legend: colour swatch + name + share
    qreal lx = 1;
    const qreal ly = bar.bottom() + 4;
    const int sw = fm.height() - 4;
    for (const auto& s : segs) {
        if (s.ns <= 0)
            continue;
        const QString text = tr("%1 %2%").arg(s.name).arg(std::lround(s.fraction * 100));
        const int tw = fm.horizontalAdvance(text);
        if (lx + sw + 4 + tw > width())
            break;
        p.fillRect(QRectF(lx, ly + 2, sw, sw), s.color);
        p.setPen(pal.color(QPalette::WindowText));
        p.drawText(QPointF(lx + sw + 4, ly + fm.ascent()), text);
        lx += sw + 4 + tw + 12;
    }
}

} // namespace poolscope
