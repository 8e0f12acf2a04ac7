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
    setToolTip(m_d.totalNs() > 0
                   ? tr("Where the time of %1 task(s) went (summed over tasks):\n%2\n\n"
                        "queued = start - submit; GIL wait = waiting for the simulated GIL;\n"
                        "CPU = the task's CPU time; waiting = run time - CPU - GIL wait\n"
                        "(blocked on I/O, sleeping, or preempted by another thread)")
                         .arg(m_d.tasks)
                         .arg(legendText().replace(QStringLiteral(" · "), QStringLiteral("\n")))
                   : tr("No finished tasks yet"));
    updateGeometry();
    update();
}

void DecompositionBar::clear()
{
    setDecomposition({});
}

QList<DecompositionBar::Segment> DecompositionBar::segments() const
{
    const bool dark = display::isDark(palette());
    auto c = [dark](QRgb light, QRgb darkC) { return QColor(dark ? darkC : light); };
    QList<Segment> out = {
        {tr("queued"), m_d.queuedNs, 0, c(0xbab0ac, 0x8a817c)},
        {tr("GIL wait"), m_d.gilWaitNs, 0, c(0xb07aa1, 0xd4a6c8)},
        {tr("CPU"), m_d.cpuNs, 0, c(0x4e79a7, 0x7aa6d6)},
        {tr("waiting"), m_d.waitingNs, 0, c(0xedc948, 0xf1ce63)},
        {tr("not measured"), m_d.unmeasuredNs, 0, c(0xe0e0e0, 0x505050)},
    };
    const double total = double(m_d.totalNs());
    for (auto& s : out)
        s.fraction = total > 0 ? double(s.ns) / total : 0.0;
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
    if (m_d.totalNs() <= 0) {
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
