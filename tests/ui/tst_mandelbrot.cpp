// MandelbrotView: tiles assemble into a complete image in any order, real
// results of the `mandelbrot` workload fit the view's contract, and bad tiles
// (wrong sizes, missing keys, wrong types, outside the image) are refused
// with a warning, never a crash.

#include "mandelbrot/mandelbrotview.h"

#include <poolscope/threadpool.h>
#include <poolscope/workloads.h>

#include <QCborArray>
#include <QCborMap>
#include <QHash>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>

#include <algorithm>
#include <random>

using namespace poolscope;

namespace {

/// A tile as the workload returns it, with synthetic iteration bytes
/// value(px, py) = (px * 7 + py * 13) % 256 in image coordinates.
QCborMap tile(int x, int y, int w, int h, int width, int height, int maxIter = 100)
{
    QByteArray pixels(w * h, Qt::Uninitialized);
    for (int r = 0; r < h; ++r)
        for (int c = 0; c < w; ++c)
            pixels[r * w + c] = char(((x + c) * 7 + (y + r) * 13) % 256);
    QCborMap m;
    m.insert(QStringLiteral("x"), x);
    m.insert(QStringLiteral("y"), y);
    m.insert(QStringLiteral("w"), w);
    m.insert(QStringLiteral("h"), h);
    m.insert(QStringLiteral("width"), width);
    m.insert(QStringLiteral("height"), height);
    m.insert(QStringLiteral("max_iter"), maxIter);
    m.insert(QStringLiteral("iterations"), pixels);
    return m;
}

QList<QCborValue> tiling(int width, int height, int tw, int th)
{
    QList<QCborValue> out;
    for (int y = 0; y < height; y += th)
        for (int x = 0; x < width; x += tw)
            out.append(
                tile(x, y, std::min(tw, width - x), std::min(th, height - y), width, height));
    return out;
}

bool everyPixelFilled(const QImage& img)
{
    for (int y = 0; y < img.height(); ++y)
        for (int x = 0; x < img.width(); ++x)
            if (qAlpha(img.pixel(x, y)) != 255)
                return false;
    return true;
}

const QRegularExpression kBadTile(QStringLiteral("ignoring a bad mandelbrot tile"));

} // namespace

class TstMandelbrot : public QObject {
    Q_OBJECT
private slots:
    void waitingWhenEmpty();
    void tilesAssemble_data();
    void tilesAssemble();
    void realWorkloadTiles();
    void badTilesAreIgnored_data();
    void badTilesAreIgnored();
    void newImageSizeStartsOver();
    void batchAndClear();
    void scalesKeepingAspect();
};

void TstMandelbrot::waitingWhenEmpty()
{
    MandelbrotView v;
    v.resize(300, 200);
    QVERIFY(v.image().isNull());
    QCOMPARE(v.tileCount(), 0);
    QVERIFY(!v.isComplete());
    QVERIFY(v.imageRect().isNull());
    const QImage shot = v.grab().toImage();
    QVERIFY(!shot.isNull()); // paints the "waiting for tiles" text
}

void TstMandelbrot::tilesAssemble_data()
{
    QTest::addColumn<int>("width");
    QTest::addColumn<int>("height");
    QTest::addColumn<int>("tileW");
    QTest::addColumn<int>("tileH");
    QTest::newRow("16x16 tiles") << 64 << 48 << 16 << 16;
    QTest::newRow("ragged edges") << 50 << 37 << 7 << 5;
    QTest::newRow("bands (workload layout)") << 40 << 30 << 40 << 4;
    QTest::newRow("one pixel") << 1 << 1 << 1 << 1;
    QTest::newRow("one tile") << 33 << 21 << 33 << 21;
}

void TstMandelbrot::tilesAssemble()
{
    QFETCH(int, width);
    QFETCH(int, height);
    QFETCH(int, tileW);
    QFETCH(int, tileH);
    MandelbrotView v;
    v.resize(200, 200);
    QSignalSpy changed(&v, &MandelbrotView::tilesChanged);
    QList<QCborValue> tiles = tiling(width, height, tileW, tileH);
    // Tasks finish in any order.
    std::shuffle(tiles.begin(), tiles.end(), std::mt19937(42));
    for (int i = 0; i < tiles.size(); ++i) {
        QVERIFY(!v.isComplete());
        QVERIFY(v.addTile(tiles[i]));
    }
    QCOMPARE(v.tileCount(), tiles.size());
    QCOMPARE(changed.count(), tiles.size());
    QCOMPARE(changed.last().at(1).toLongLong(), qint64(width) * height);
    QCOMPARE(v.imageSize(), QSize(width, height));
    QCOMPARE(v.filledPixels(), qint64(width) * height);
    QVERIFY(v.isComplete());
    QVERIFY(everyPixelFilled(v.image()));
    // Each pixel got its own value's colour: one colour per value, and 255
    // (inside the set) is black.
    const QImage& img = v.image();
    QHash<int, QRgb> colourOf;
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
            const int val = (x * 7 + y * 13) % 256;
            const QRgb c = img.pixel(x, y);
            QCOMPARE(colourOf.value(val, c), c);
            colourOf.insert(val, c);
            if (val == 255)
                QCOMPARE(c, qRgb(0, 0, 0));
        }
    QVERIFY(!v.grab().isNull());
}

void TstMandelbrot::realWorkloadTiles()
{
    // The contract with core/workloads/cpu.cpp: real results assemble.
    ThreadPoolExecutor pool(2);
    WorkloadRun run = Workloads::find(QStringLiteral("mandelbrot"))->defaultRun();
    run.tasks = 6;
    run.size = 5; // rows per band: a 40 x 30 image
    run.knobs.insert(QStringLiteral("width"), 40);
    run.knobs.insert(QStringLiteral("max_iter"), 60);
    const auto futures = Workloads::submit(pool, QStringLiteral("mandelbrot"), run);
    MandelbrotView v;
    for (const auto& f : futures)
        QVERIFY(v.addTile(f.result()));
    QCOMPARE(v.imageSize(), QSize(40, 30));
    QVERIFY(v.isComplete());
    QVERIFY(everyPixelFilled(v.image()));
    // The centre-left of the window (c = -0.5 + 0i) is inside the set: black.
    QCOMPARE(v.image().pixel(22, 15), qRgb(0, 0, 0));
    // The top-left corner (c = -2.2 + 1.2i) escapes at once: not black.
    QVERIFY(v.image().pixel(0, 0) != qRgb(0, 0, 0));
}

void TstMandelbrot::badTilesAreIgnored_data()
{
    QTest::addColumn<QCborValue>("result");
    const QCborMap good = tile(0, 0, 4, 4, 8, 8);
    auto without = [&](const char* key) {
        QCborMap m = good;
        m.remove(QString::fromLatin1(key));
        return QCborValue(m);
    };
    auto with = [&](const char* key, const QCborValue& v) {
        QCborMap m = good;
        m.insert(QString::fromLatin1(key), v);
        return QCborValue(m);
    };
    QTest::newRow("not a map") << QCborValue(42);
    QTest::newRow("array") << QCborValue(QCborArray{1, 2, 3});
    QTest::newRow("null") << QCborValue(QCborValue::Null);
    QTest::newRow("missing x") << without("x");
    QTest::newRow("missing width") << without("width");
    QTest::newRow("missing iterations") << without("iterations");
    QTest::newRow("x is text") << with("x", QStringLiteral("0"));
    QTest::newRow("h is double") << with("h", 4.0);
    QTest::newRow("iterations is text") << with("iterations", QStringLiteral("abc"));
    QTest::newRow("too few bytes") << with("iterations", QByteArray(15, 'a'));
    QTest::newRow("too many bytes") << with("iterations", QByteArray(17, 'a'));
    QTest::newRow("empty bytes") << with("iterations", QByteArray());
    QTest::newRow("tile past the right edge") << with("x", 5);
    QTest::newRow("tile past the bottom") << with("y", 6);
    QTest::newRow("negative x") << with("x", -1);
    QTest::newRow("zero w") << with("w", 0);
    QTest::newRow("negative width") << with("width", -8);
    QTest::newRow("huge image") << QCborValue([&] {
        QCborMap m = good;
        m.insert(QStringLiteral("width"), 65536);
        m.insert(QStringLiteral("height"), 65536);
        return m;
    }());
    QTest::newRow("overflowing sizes") << QCborValue([&] {
        QCborMap m = good;
        m.insert(QStringLiteral("w"), qint64(1) << 40);
        m.insert(QStringLiteral("h"), qint64(1) << 40);
        return m;
    }());
}

void TstMandelbrot::badTilesAreIgnored()
{
    QFETCH(QCborValue, result);
    MandelbrotView v;
    v.resize(100, 100);
    QVERIFY(v.addTile(tile(4, 4, 4, 4, 8, 8))); // a good tile first
    const QImage before = v.image();
    QSignalSpy changed(&v, &MandelbrotView::tilesChanged);

    QTest::ignoreMessage(QtWarningMsg, kBadTile);
    QVERIFY(!v.addTile(result));
    QCOMPARE(v.tileCount(), 1);
    QCOMPARE(v.filledPixels(), 16);
    QCOMPARE(v.image(), before);
    QCOMPARE(changed.count(), 0);
    QVERIFY(!v.grab().isNull());
}

void TstMandelbrot::newImageSizeStartsOver()
{
    MandelbrotView v;
    for (const auto& t : tiling(8, 8, 4, 4))
        QVERIFY(v.addTile(t));
    QVERIFY(v.isComplete());
    QVERIFY(v.addTile(tile(0, 0, 5, 5, 10, 10))); // another run, another size
    QCOMPARE(v.imageSize(), QSize(10, 10));
    QCOMPARE(v.tileCount(), 1);
    QCOMPARE(v.filledPixels(), 25);
    QVERIFY(!v.isComplete());
    QCOMPARE(qAlpha(v.image().pixel(9, 9)), 0); // unfilled stays transparent
    // The same tile twice does not count its pixels twice.
    QVERIFY(v.addTile(tile(0, 0, 5, 5, 10, 10)));
    QCOMPARE(v.filledPixels(), 25);
}

void TstMandelbrot::batchAndClear()
{
    MandelbrotView v;
    QSignalSpy changed(&v, &MandelbrotView::tilesChanged);
    QList<QCborValue> tiles = tiling(20, 10, 5, 5);
    tiles.insert(3, QCborValue(QStringLiteral("garbage")));
    QTest::ignoreMessage(QtWarningMsg, kBadTile);
    QCOMPARE(v.addTiles(tiles), 8);
    QCOMPARE(changed.count(), 1); // one signal (and one repaint) per batch
    QVERIFY(v.isComplete());
    v.clear();
    QVERIFY(v.image().isNull());
    QCOMPARE(v.tileCount(), 0);
    QCOMPARE(v.filledPixels(), 0);
}

void TstMandelbrot::scalesKeepingAspect()
{
    MandelbrotView v;
    v.resize(400, 100);
    for (const auto& t : tiling(40, 20, 10, 10))
        QVERIFY(v.addTile(t));
    const QRect r = v.imageRect();
    QCOMPARE(r.size(), QSize(200, 100)); // 2:1 kept, limited by the height
    QCOMPARE(r.left(), 100);             // centred
    v.resize(100, 400);
    QCOMPARE(v.imageRect().size(), QSize(100, 50));
    QVERIFY(!v.grab().isNull());
}

QTEST_MAIN(TstMandelbrot)
#include "tst_mandelbrot.moc"
