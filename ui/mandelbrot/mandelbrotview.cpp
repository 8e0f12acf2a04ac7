#include "mandelbrot/mandelbrotview.h"

#include <QCborMap>
#include <QLoggingCategory>
#include <QPainter>

#include <algorithm>
#include <cmath>

Q_LOGGING_CATEGORY(lcMandelbrot, "poolscope.ui.mandelbrot")

namespace poolscope {

MandelbrotView::MandelbrotView(QWidget* parent)
    : QWidget(parent)
    , m_palette(makePalette())
{
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

std::array<QRgb, 256> MandelbrotView::makePalette()
{
    // A smooth cyclic-free gradient (deep blue -> white -> orange -> dark) over
    // the escape value, the classic "Ultra Fractal" stops; 255 (inside) is black.
    struct Stop {
        double t;
        int r, g, b;
    };
    static constexpr Stop stops[] = {{0.0, 0, 7, 100},      {0.16, 32, 107, 203},
                                     {0.42, 237, 255, 255}, {0.6425, 255, 170, 0},
                                     {0.8575, 0, 2, 0},     {1.0, 0, 7, 100}};
    std::array<QRgb, 256> lut{};
    for (int v = 0; v < 255; ++v) {
        // Escape values cluster near 0; a square root spreads them out.
        const double t = std::sqrt(double(v) / 254.0);
        int i = 0;
        while (i + 1 < int(std::size(stops)) - 1 && t > stops[i + 1].t)
            ++i;
        const Stop& a = stops[i];
        const Stop& b = stops[i + 1];
        const double u = std::clamp((t - a.t) / (b.t - a.t), 0.0, 1.0);
        // smoothstep between stops: no visible bands at the stops
        const double s = u * u * (3 - 2 * u);
        lut[std::size_t(v)] = qRgb(int(a.r + (b.r - a.r) * s), int(a.g + (b.g - a.g) * s),
                                   int(a.b + (b.b - a.b) * s));
    }
    lut[255] = qRgb(0, 0, 0);
    return lut;
}

namespace {
/// An integer field of the tile map, or -1 with *why set.
qint64 intField(const QCborMap& m, QLatin1StringView key, QString* why)
{
    const QCborValue v = m.value(key);
    if (!v.isInteger()) {
        if (why->isEmpty())
            *why = v.isUndefined() ? QStringLiteral("missing key \"%1\"").arg(key)
                                   : QStringLiteral("\"%1\" is not an integer").arg(key);
        return -1;
    }
    return v.toInteger();
}
} // namespace

bool MandelbrotView::paintTile(const QCborValue& result, QRect* tileRect)
{
    auto refuse = [](const QString& why) {
        qCWarning(lcMandelbrot, "ignoring a bad mandelbrot tile: %s", qPrintable(why));
        return false;
    };
    if (!result.isMap())
        return refuse(QStringLiteral("the result is not a map"));
    const QCborMap m = result.toMap();
    QString why;
    const qint64 x = intField(m, QLatin1StringView("x"), &why);
    const qint64 y = intField(m, QLatin1StringView("y"), &why);
    const qint64 w = intField(m, QLatin1StringView("w"), &why);
    const qint64 h = intField(m, QLatin1StringView("h"), &why);
    const qint64 width = intField(m, QLatin1StringView("width"), &why);
    const qint64 height = intField(m, QLatin1StringView("height"), &why);
    if (!why.isEmpty())
        return refuse(why);
    const QCborValue iters = m.value(QLatin1StringView("iterations"));
    if (!iters.isByteArray())
        return refuse(iters.isUndefined() ? QStringLiteral("missing key \"iterations\"")
                                          : QStringLiteral("\"iterations\" is not a byte string"));
    if (width <= 0 || height <= 0 || width > 65536 || height > 65536 || width * height > kMaxPixels)
        return refuse(QStringLiteral("image size %1 x %2 out of range").arg(width).arg(height));
    if (w <= 0 || h <= 0 || x < 0 || y < 0 || x > width - w || y > height - h)
        return refuse(QStringLiteral("tile (%1, %2, %3 x %4) outside the %5 x %6 image")
                          .arg(x)
                          .arg(y)
                          .arg(w)
                          .arg(h)
                          .arg(width)
                          .arg(height));
    const QByteArray pixels = iters.toByteArray();
    if (qint64(pixels.size()) != w * h)
        return refuse(QStringLiteral("%1 iteration bytes for a %2 x %3 tile (need %4)")
                          .arg(pixels.size())
                          .arg(w)
                          .arg(h)
                          .arg(w * h));

    if (m_image.width() != width || m_image.height() != height) {
        // A new image (a new run, or another size): start over.
        m_image = QImage(int(width), int(height), QImage::Format_ARGB32_Premultiplied);
        if (m_image.isNull())
            return refuse(QStringLiteral("cannot allocate a %1 x %2 image").arg(width).arg(height));
        m_image.fill(Qt::transparent);
        m_covered.assign(std::size_t(width * height), 0);
        m_tiles = 0;
        m_filled = 0;
    }
    const auto* src = reinterpret_cast<const quint8*>(pixels.constData());
    for (qint64 row = 0; row < h; ++row) {
        auto* line = reinterpret_cast<QRgb*>(m_image.scanLine(int(y + row))) + x;
        quint8* cov = m_covered.data() + (y + row) * width + x;
        const quint8* in = src + row * w;
        for (qint64 col = 0; col < w; ++col) {
            line[col] = m_palette[in[col]];
            if (!cov[col]) {
                cov[col] = 1;
                ++m_filled;
            }
        }
    }
    ++m_tiles;
    *tileRect = QRect(int(x), int(y), int(w), int(h));
    return true;
}

bool MandelbrotView::addTile(const QCborValue& result)
{
    const QSize before = m_image.size();
    QRect r;
    if (!paintTile(result, &r))
        return false;
    if (m_image.size() != before)
        update();
    else
        update(toWidget(r).adjusted(-1, -1, 1, 1));
    emit tilesChanged(m_tiles, m_filled, qint64(m_image.width()) * m_image.height());
    return true;
}

int MandelbrotView::addTiles(const QList<QCborValue>& results)
{
    int accepted = 0;
    QRect r;
    for (const QCborValue& v : results)
        accepted += paintTile(v, &r) ? 1 : 0;
    if (accepted) {
        update();
        emit tilesChanged(m_tiles, m_filled, qint64(m_image.width()) * m_image.height());
    }
    return accepted;
}

void MandelbrotView::clear()
{
    m_image = QImage();
    m_covered.clear();
    m_covered.shrink_to_fit();
    m_tiles = 0;
    m_filled = 0;
    update();
    emit tilesChanged(0, 0, 0);
}

QRect MandelbrotView::imageRect() const
{
    if (m_image.isNull())
        return {};
    const QSize s = m_image.size().scaled(size(), Qt::KeepAspectRatio);
    return QRect(QPoint((width() - s.width()) / 2, (height() - s.height()) / 2), s);
}

QRect MandelbrotView::toWidget(const QRect& r) const
{
    const QRect target = imageRect();
    if (target.isEmpty() || m_image.isNull())
        return {};
    const double sx = double(target.width()) / m_image.width();
    const double sy = double(target.height()) / m_image.height();
    return QRectF(target.left() + r.left() * sx, target.top() + r.top() * sy, r.width() * sx,
                  r.height() * sy)
        .toAlignedRect();
}

QSize MandelbrotView::sizeHint() const
{
    return {480, 384};
}

void MandelbrotView::paintEvent(QPaintEvent*)
{
    QPainter p(this);
    const QPalette& pal = palette();
    p.fillRect(rect(), pal.color(QPalette::Window));
    if (m_image.isNull() || m_tiles == 0) {
        p.setPen(pal.color(QPalette::PlaceholderText));
        p.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap,
                   tr("Waiting for tiles…\nRun the \"mandelbrot\" workload to draw the set."));
        return;
    }
    const QRect target = imageRect();
    // Unfilled pixels are transparent: a checker-free mid tone shows the holes.
    p.fillRect(target, pal.color(QPalette::Mid));
    p.setRenderHint(QPainter::SmoothPixmapTransform,
                    target.width() < m_image.width()); // smooth only when shrinking
    p.drawImage(target, m_image);
    if (!isComplete()) {
        const QString text =
            tr("%1 % filled")
                .arg(100.0 * double(m_filled) / (double(m_image.width()) * m_image.height()), 0,
                     'f', 0);
        const QFontMetrics fm(font());
        const QRect badge(target.left() + 4, target.bottom() - fm.height() - 6,
                          fm.horizontalAdvance(text) + 10, fm.height() + 4);
        p.setPen(pal.color(QPalette::ToolTipText));
        p.setBrush(pal.color(QPalette::ToolTipBase));
        p.drawRect(badge.adjusted(0, 0, -1, -1));
        p.drawText(badge, Qt::AlignCenter, text);
    }
}

} // namespace poolscope
