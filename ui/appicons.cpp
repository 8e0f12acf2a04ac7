#include "appicons.h"

#include <QFile>
#include <QIconEngine>
#include <QImageReader>
#include <QPainter>
#include <QPainterPath>
#include <QPixmap>

namespace poolscope::icons {

namespace {

class PaintedEngine : public QIconEngine {
public:
    explicit PaintedEngine(Icon icon)
        : m_icon(icon)
    {}
    QIconEngine* clone() const override { return new PaintedEngine(m_icon); }

    void paint(QPainter* p, const QRect& rect, QIcon::Mode mode, QIcon::State) override
    {
        p->save();
        p->setRenderHint(QPainter::Antialiasing);
        // Artwork is drawn on a 24 x 24 grid (64 x 64 for the app icon).
        const qreal grid = m_icon == Icon::App ? 64 : 24;
        const qreal s = std::min(rect.width(), rect.height()) / grid;
        p->translate(rect.x() + (rect.width() - grid * s) / 2,
                     rect.y() + (rect.height() - grid * s) / 2);
        p->scale(s, s);
        if (mode == QIcon::Disabled)
            p->setOpacity(0.35);
        draw(p);
        p->restore();
    }

    QPixmap pixmap(const QSize& size, QIcon::Mode mode, QIcon::State state) override
    {
        return scaledPixmap(size, mode, state, 1.0);
    }

    QPixmap scaledPixmap(const QSize& size, QIcon::Mode mode, QIcon::State state,
                         qreal scale) override
    {
        QPixmap pm(size * scale);
        pm.fill(Qt::transparent);
        pm.setDevicePixelRatio(scale);
        QPainter p(&pm);
        paint(&p, QRect(QPoint(0, 0), size), mode, state);
        return pm;
    }

    QString key() const override { return QStringLiteral("poolscope-painted"); }

private:
    void draw(QPainter* p) const
    {
        const QColor green(0x2e9d4f), amber(0xd08a00), red(0xd1343a), grey(0x7a7a7a),
            blue(0x4e79a7);
        auto roundCap = [](const QColor& c) {
            QPen pen(c, 2);
            pen.setCapStyle(Qt::RoundCap);
            pen.setJoinStyle(Qt::RoundJoin);
            return pen;
        };
        switch (m_icon) {
        case Icon::Start: {
            QPainterPath path;
            path.moveTo(7, 4.5);
            path.lineTo(7, 19.5);
            path.lineTo(19, 12);
            path.closeSubpath();
            p->fillPath(path, green);
            break;
        }
        case Icon::Pause:
            p->setPen(Qt::NoPen);
            p->setBrush(amber);
            p->drawRoundedRect(QRectF(6, 5, 4, 14), 1, 1);
            p->drawRoundedRect(QRectF(14, 5, 4, 14), 1, 1);
            break;
        case Icon::Resume: {
            p->setPen(Qt::NoPen);
            p->setBrush(amber);
            p->drawRoundedRect(QRectF(4, 5, 3, 14), 1, 1);
            QPainterPath path;
            path.moveTo(10, 5);
            path.lineTo(10, 19);
            path.lineTo(20, 12);
            path.closeSubpath();
            p->fillPath(path, green);
            break;
        }
        case Icon::Cancel:
            p->setPen(roundCap(grey));
            p->setBrush(Qt::NoBrush);
            p->drawEllipse(QPointF(12, 12), 8.5, 8.5);
            p->drawLine(QPointF(8.5, 8.5), QPointF(15.5, 15.5));
            p->drawLine(QPointF(15.5, 8.5), QPointF(8.5, 15.5));
            break;
        case Icon::Stop:
            p->setPen(Qt::NoPen);
            p->setBrush(red);
            p->drawRoundedRect(QRectF(6, 6, 12, 12), 1.5, 1.5);
            break;
        case Icon::Shutdown:
            p->setPen(roundCap(red));
            p->setBrush(Qt::NoBrush);
            // Arc open at the top, then the stroke through the gap.
            p->drawArc(QRectF(5, 5, 14, 14), 120 * 16, 300 * 16);
            p->drawLine(QPointF(12, 3.5), QPointF(12, 11.5));
            break;
        case Icon::Export:
            p->setPen(roundCap(blue));
            p->setBrush(Qt::NoBrush);
            p->drawLine(QPointF(12, 15), QPointF(12, 4));
            p->drawPolyline(QPolygonF{QPointF(7.5, 8.5), QPointF(12, 4), QPointF(16.5, 8.5)});
            p->drawPolyline(
                QPolygonF{QPointF(5, 14), QPointF(5, 19), QPointF(19, 19), QPointF(19, 14)});
            break;
        case Icon::App: {
            p->setPen(Qt::NoPen);
            p->setBrush(QColor(0x24323f));
            p->drawRoundedRect(QRectF(2, 2, 60, 60), 12, 12);
            struct Bar {
                qreal x, y, w;
                QRgb c;
            };
            const Bar bars[] = {{10, 13, 18, 0x4e79a7}, {30, 13, 24, 0xf28e2b},
                                {10, 24, 28, 0x59a14f}, {40, 24, 14, 0x4e79a7},
                                {10, 35, 10, 0xf28e2b}, {22, 35, 32, 0x76b7b2},
                                {10, 46, 22, 0xedc948}, {34, 46, 20, 0x59a14f}};
            for (const Bar& b : bars) {
                p->setBrush(QColor(b.c));
                p->drawRoundedRect(QRectF(b.x, b.y, b.w, 7), 2, 2);
            }
            break;
        }
        }
    }

    Icon m_icon;
};

const char* fileName(Icon icon)
{
    switch (icon) {
    case Icon::Start:
        return "start";
    case Icon::Pause:
        return "pause";
    case Icon::Resume:
        return "resume";
    case Icon::Cancel:
        return "cancel";
    case Icon::Stop:
        return "stop";
    case Icon::Shutdown:
        return "shutdown";
    case Icon::Export:
        return "export";
    case Icon::App:
        return "poolscope";
    }
    return "poolscope";
}

} // namespace

QIcon painted(Icon icon)
{
    return QIcon(new PaintedEngine(icon));
}

QIcon get(Icon icon)
{
    static const bool svg = QImageReader::supportedImageFormats().contains("svg");
    const QString path = QStringLiteral(":/icons/%1.svg").arg(QLatin1String(fileName(icon)));
    if (svg && QFile::exists(path))
        return QIcon(path);
    return painted(icon);
}

} // namespace poolscope::icons
