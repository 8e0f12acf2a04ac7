#pragma once
// MandelbrotView: assembles the image of a `mandelbrot` workload run tile by
// tile from its task results, as they complete (any order). A result is a
// CBOR map {x, y, w, h, width, height, max_iter, iterations: bytes} where
// iterations holds one byte per pixel of the w x h tile, row-major: 255 =
// did not escape (inside the set), else n * 255 / max_iter
// (core/workloads/cpu.cpp). Bad tiles are refused with a warning (category
// poolscope.ui.mandelbrot), never trusted. The image scales to fit, keeping
// its aspect ratio; until the first tile it says it is waiting.

#include <QCborValue>
#include <QImage>
#include <QList>
#include <QWidget>

#include <array>
#include <vector>

namespace poolscope {

class MandelbrotView : public QWidget {
    Q_OBJECT
public:
    /// Largest image accepted (width * height), a guard against hostile sizes.
    static constexpr qint64 kMaxPixels = qint64(1) << 26; // 64 Mpx, 256 MB ARGB

    explicit MandelbrotView(QWidget* parent = nullptr);

    /// Paints one tile; false (and a warning) if the result is not a valid
    /// tile. A tile of a different image size starts a new image.
    bool addTile(const QCborValue& result);
    /// Several tiles, one repaint. Returns how many were accepted.
    int addTiles(const QList<QCborValue>& results);
    void clear();

    /// The assembled image (ARGB32 premultiplied; unfilled pixels transparent).
    const QImage& image() const { return m_image; }
    QSize imageSize() const { return m_image.size(); }
    int tileCount() const { return m_tiles; }
    /// Pixels covered by at least one tile.
    qint64 filledPixels() const { return m_filled; }
    bool isComplete() const
    {
        return !m_image.isNull() && m_filled == qint64(m_image.width()) * m_image.height();
    }
    /// Where the image is drawn in widget coordinates (fit, aspect kept).
    QRect imageRect() const;

    QSize sizeHint() const override;

signals:
    /// After each accepted tile (batch): progress as covered / total pixels.
    void tilesChanged(int tiles, qint64 filledPixels, qint64 totalPixels);

protected:
    void paintEvent(QPaintEvent* e) override;

private:
    bool paintTile(const QCborValue& result, QRect* tileRect);
    QRect toWidget(const QRect& imageRect) const;
    static std::array<QRgb, 256> makePalette();

    QImage m_image;
    std::vector<quint8> m_covered; // 1 per pixel once a tile wrote it
    int m_tiles = 0;
    qint64 m_filled = 0;
    std::array<QRgb, 256> m_palette;
};

} // namespace poolscope
