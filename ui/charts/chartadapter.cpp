#include "chartadapter.h"

#include "teaching/presenter.h"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QEvent>
#include <QHBoxLayout>
#include <QLegend>
#include <QLineSeries>
#include <QResizeEvent>
#include <QValueAxis>

#include <algorithm>
#include <cmath>
#include <vector>

namespace poolscope {

namespace {
// Tableau 10: distinguishable on light and dark backgrounds.
const QColor kColors[] = {QColor(0x4e79a7), QColor(0xf28e2b), QColor(0xe15759), QColor(0x76b7b2),
                          QColor(0x59a14f), QColor(0xedc948), QColor(0xb07aa1), QColor(0xff9da7),
                          QColor(0x9c755f), QColor(0xbab0ac)};

double niceCeil(double v)
{
    if (v <= 0)
        return 1;
    const double p = std::pow(10.0, std::floor(std::log10(v)));
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
        if (v <= m * p)
            return m * p;
    }
    return 10 * p;
}

/// Smallest 1, 2 or 5 x 10^k that is >= v (at least 1: labels are integers).
double niceStep(double v)
{
    if (v <= 1)
        return 1;
    const double p = std::pow(10.0, std::floor(std::log10(v)));
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
        if (v <= m * p)
            return m * p;
    }
    return 10 * p;
}

/// Sets the range with ticks at multiples of a nice step, about maxTicks of
/// them. The order matters: a small step applied while the range is huge (or
/// a huge range with the old small step) makes Qt Charts create one item per
/// tick, hundreds of thousands of them.
void setRangeAndTicks(QValueAxis* axis, double lo, double hi, int maxTicks)
{
    if (!axis)
        return;
    const double step = niceStep((hi - lo) / std::max(1, maxTicks - 1));
    const bool first = axis->tickType() != QValueAxis::TicksDynamic;
    if (first) {
        axis->setRange(lo, hi);
        axis->setTickAnchor(0);
        axis->setTickInterval(step);
        axis->setTickType(QValueAxis::TicksDynamic);
    } else if (step >= axis->tickInterval()) {
        axis->setTickInterval(step);
        axis->setRange(lo, hi);
    } else {
        axis->setRange(lo, hi);
        axis->setTickInterval(step);
    }
}

void setTicks(QValueAxis* axis, int maxTicks)
{
    if (axis)
        setRangeAndTicks(axis, axis->min(), axis->max(), maxTicks);
}

class View : public QChartView {
public:
    explicit View(QChart* chart, QWidget* parent)
        : QChartView(chart, parent)
    {
        setRenderHint(QPainter::Antialiasing, true);
        setFrameShape(QFrame::NoFrame);
        setMinimumSize(80, 60);
    }

    /// Axis titles when there is room: below it Qt Charts elides the tick
    /// labels to "..." to keep the titles (a short dock on a projector), and
    /// the numbers matter more; the legend and the panel name the axes.
    static constexpr int kAxisTitlesMinHeight = 200;

protected:
    void resizeEvent(QResizeEvent* e) override
    {
        QChartView::resizeEvent(e);
        if (!chart())
            return;
        const bool room = height() >= kAxisTitlesMinHeight;
        for (QAbstractAxis* a : chart()->axes())
            a->setTitleVisible(room);
    }
};
} // namespace

struct ChartAdapter::Impl {
    struct Line {
        QLineSeries* series = nullptr;
        Axis axis = Axis::Left;
        QList<QPointF> points;
        QColor color;
        qreal width = 1.5;
        bool dashed = false;
    };
    QChart* chart = nullptr;
    View* view = nullptr;
    QValueAxis* x = nullptr;
    QValueAxis* y[2] = {nullptr, nullptr};
    bool yAuto[2] = {true, true};
    double yMinMax[2] = {1, 1};
    std::vector<Line> lines;
    double window = 60;
    int maxPoints = 2000;
    double lastT = -1;
    bool fixedX = false;
    double fixedLo = 0, fixedHi = 1;
    RunFrame frame;

    QChart* barChart = nullptr;
    View* barView = nullptr;
    QBarSeries* bars = nullptr;
    QBarSet* barSet = nullptr;
    QBarCategoryAxis* barX = nullptr;
    bool antialiased = true;
    QValueAxis* barY = nullptr;

    QValueAxis* axisFor(Axis a) { return y[a == Axis::Left ? 0 : 1]; }
};

ChartAdapter::ChartAdapter(QWidget* parent)
    : QWidget(parent)
    , d(std::make_unique<Impl>())
{
    d->chart = new QChart();
    d->chart->setMargins(QMargins(2, 2, 2, 2));
    d->chart->setBackgroundRoundness(0);
    d->chart->legend()->setAlignment(Qt::AlignTop);
    d->x = new QValueAxis(d->chart);
    d->x->setLabelFormat(QStringLiteral("%.0f"));
    d->x->setTickCount(7);
    d->x->setRange(0, d->window);
    d->chart->addAxis(d->x, Qt::AlignBottom);
    d->y[0] = new QValueAxis(d->chart);
    d->y[0]->setRange(0, 1);
    d->y[0]->setLabelFormat(QStringLiteral("%.0f"));
    d->chart->addAxis(d->y[0], Qt::AlignLeft);
    d->view = new View(d->chart, this);

    auto* lay = new QHBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->setSpacing(0);
    lay->addWidget(d->view, 3);
    applyPalette();
}

ChartAdapter::~ChartAdapter() = default;

QSize ChartAdapter::sizeHint() const
{
    return QSize(420, 220);
}

QSize ChartAdapter::minimumSizeHint() const
{
    return QSize(160, 100);
}

void ChartAdapter::setTitle(const QString& title)
{
    d->chart->setTitle(title);
}

void ChartAdapter::setAntialiased(bool on)
{
    d->antialiased = on;
    for (QChartView* v :
         {static_cast<QChartView*>(d->view), static_cast<QChartView*>(d->barView)}) {
        if (v && v->renderHints().testFlag(QPainter::Antialiasing) != on) {
            v->setRenderHint(QPainter::Antialiasing, on);
            v->viewport()->update();
        }
    }
}

bool ChartAdapter::antialiased() const
{
    return d->antialiased;
}

void ChartAdapter::setWindow(double seconds)
{
    d->window = std::max(1.0, seconds);
    applyXRange();
}

void ChartAdapter::applyXRange()
{
    if (d->fixedX) {
        if (d->x->min() != d->fixedLo || d->x->max() != d->fixedHi)
            setRangeAndTicks(d->x, d->fixedLo, d->fixedHi, std::clamp(d->view->width() / 75, 2, 8));
        return;
    }
    const double t = std::max(0.0, d->lastT);
    if (d->frame.isSet()) {
        const double start = d->frame.startS;
        double end = d->frame.endS;
        if (end < 0) { // running: what is expected or has elapsed, in round steps
            const double want = std::max({d->frame.expectedS * 1.05, (t - start) * 1.1, 1.0});
            const double step = niceCeil(want / 8);
            end = start + std::ceil(want / step) * step;
        }
        const double pad = 0.02 * (end - start);
        const double lo = std::max(0.0, start - pad), hi = end + pad;
        if (hi - lo <= d->window) {
            if (d->x->min() != lo || d->x->max() != hi)
                setRangeAndTicks(d->x, lo, hi, std::clamp(d->view->width() / 75, 2, 8));
            return;
        }
        // longer than the window: roll
    }
    // Grow from a short span up to the window, then roll: a young chart is
    // not a sliver at the left edge of an empty minute.
    const double span = std::min(d->window, std::max(10.0, niceCeil(t)));
    const double lo = std::max(0.0, t - d->window);
    const double hi = std::max(lo + span, t);
    if (d->x->min() != lo || d->x->max() != hi)
        setRangeAndTicks(d->x, lo, hi, std::clamp(d->view->width() / 75, 2, 8));
}

void ChartAdapter::resizeEvent(QResizeEvent* event)
{
    QWidget::resizeEvent(event);
    updateTicks();
}

void ChartAdapter::updateTicks()
{
    // As many ticks as fit, so labels never elide to "...".
    const int w = d->view->width(), h = d->view->height();
    setTicks(d->x, std::clamp(w / 75, 2, 8));
    for (QValueAxis* y : d->y)
        setTicks(y, std::clamp(h / 45, 2, 6));
    if (d->barY)
        setTicks(d->barY, std::clamp(d->barView->height() / 45, 2, 6));
}

double ChartAdapter::window() const
{
    return d->window;
}

void ChartAdapter::setMaxPoints(int points)
{
    d->maxPoints = std::max(2, points);
}

int ChartAdapter::addLine(const QString& name, const QColor& color, Axis axis, qreal width,
                          bool dashed)
{
    Impl::Line l;
    l.series = new QLineSeries(d->chart);
    l.series->setName(name);
    l.axis = axis;
    l.color =
        color.isValid() ? color : kColors[d->lines.size() % (sizeof(kColors) / sizeof(kColors[0]))];
    l.width = width;
    l.dashed = dashed;
    d->chart->addSeries(l.series);
    l.series->attachAxis(d->x);
    if (axis == Axis::Right && !d->y[1]) {
        d->y[1] = new QValueAxis(d->chart);
        d->y[1]->setRange(0, 1);
        d->y[1]->setLabelFormat(QStringLiteral("%.0f"));
        d->chart->addAxis(d->y[1], Qt::AlignRight);
        applyPalette();
    }
    l.series->attachAxis(d->axisFor(axis));
    d->lines.push_back(l);
    // A chart built while presenter mode is on (e.g. the per-core chart
    // rebuilt for a new pool) takes the mode from its parent.
    if (!property(kPresenterProperty).isValid() && parentWidget()
        && parentWidget()->property(kPresenterProperty).toBool())
        setProperty(kPresenterProperty, true); // applies the pens (event())
    applyPens();
    return int(d->lines.size()) - 1;
}

qreal ChartAdapter::lineWidth(int index) const
{
    if (index < 0 || index >= lineCount())
        return 0;
    return d->lines[std::size_t(index)].series->pen().widthF();
}

qreal ChartAdapter::labelPointSize() const
{
    return d->chart->legend()->font().pointSizeF();
}

void ChartAdapter::applyPens()
{
    // Presenter mode (the dynamic property set by applyPresenterMode()):
    // thicker lines that read from the back of a classroom.
    const qreal scale = property(kPresenterProperty).toBool() ? kPresenterLineScale : 1.0;
    for (auto& l : d->lines) {
        QPen pen(l.color, l.width * scale);
        if (l.dashed)
            pen.setStyle(Qt::DashLine);
        if (l.series->pen() != pen)
            l.series->setPen(pen);
    }
}

bool ChartAdapter::event(QEvent* event)
{
    if (event->type() == QEvent::DynamicPropertyChange
        && static_cast<QDynamicPropertyChangeEvent*>(event)->propertyName() == kPresenterProperty)
        applyPens();
    return QWidget::event(event);
}

int ChartAdapter::lineCount() const
{
    return int(d->lines.size());
}

void ChartAdapter::removeLines()
{
    for (auto& l : d->lines) {
        d->chart->removeSeries(l.series);
        delete l.series;
    }
    d->lines.clear();
    rescale();
}

void ChartAdapter::setPoints(const QList<QList<QPointF>>& perLine)
{
    for (std::size_t i = 0; i < d->lines.size(); ++i) {
        auto& l = d->lines[i];
        const QList<QPointF> points =
            qsizetype(i) < perLine.size() ? perLine[qsizetype(i)] : QList<QPointF>();
        if (points == l.points)
            continue;
        l.points = points;
        l.series->replace(l.points);
        if (!l.points.isEmpty())
            d->lastT = std::max(d->lastT, l.points.constLast().x());
    }
    applyXRange();
    rescale();
}

void ChartAdapter::setXRange(double lo, double hi)
{
    d->fixedX = true;
    d->fixedLo = lo;
    d->fixedHi = std::max(hi, lo + 1e-9);
    applyXRange();
}

void ChartAdapter::setRunFrame(const RunFrame& frame)
{
    d->frame = frame;
    applyXRange();
}

ChartAdapter::RunFrame ChartAdapter::runFrame() const
{
    return d->frame;
}

QPointF ChartAdapter::xRange() const
{
    return QPointF(d->x->min(), d->x->max());
}

void ChartAdapter::setLineVisible(int index, bool visible)
{
    if (index >= 0 && index < lineCount())
        d->lines[std::size_t(index)].series->setVisible(visible);
}

void ChartAdapter::appendPoints(double t, const QList<double>& values)
{
    appendRows({t}, {values});
}

void ChartAdapter::appendRows(const QList<double>& times, const QList<QList<double>>& rows)
{
    const qsizetype n = std::min(times.size(), rows.size());
    if (n == 0)
        return;
    for (qsizetype k = 0; k < n; ++k) {
        if (times[k] < d->lastT) { // back in time: start over from this row
            clear();
            appendRows(times.mid(k), rows.mid(k));
            return;
        }
        d->lastT = times[k];
    }
    const double t = d->lastT;
    // A framed run keeps its points after it ended (the rolling window
    // would drop its start a minute later), up to the most points kept.
    const bool keepFrame =
        d->frame.isSet() && d->frame.endS >= 0 && d->frame.endS - d->frame.startS <= d->window;
    const double from = keepFrame ? std::min(t - d->window, d->frame.startS) : t - d->window;
    bool frameLost = false;
    for (std::size_t i = 0; i < d->lines.size(); ++i) {
        auto& l = d->lines[i];
        for (qsizetype k = 0; k < n; ++k) {
            const QList<double>& values = rows[k];
            if (qsizetype(i) < values.size() && std::isfinite(values[qsizetype(i)]))
                l.points.append(QPointF(times[k], values[qsizetype(i)]));
        }
        qsizetype drop = 0;
        // Keep one point left of the window so the line enters from the edge.
        while (drop + 1 < l.points.size() && l.points[drop + 1].x() < from)
            ++drop;
        drop = std::max(drop, l.points.size() - d->maxPoints);
        if (drop > 0) {
            frameLost = frameLost || (keepFrame && l.points[drop].x() > d->frame.startS);
            l.points.remove(0, drop);
        }
        l.series->replace(l.points); // one update per series per call
    }
    if (frameLost) // the framed run's first points are gone: roll again
        d->frame = {};
    applyXRange();
    rescale();
}

int ChartAdapter::pointCount(int index) const
{
    return index >= 0 && index < lineCount() ? int(d->lines[std::size_t(index)].points.size()) : 0;
}

double ChartAdapter::lastValue(int index) const
{
    if (index < 0 || index >= lineCount() || d->lines[std::size_t(index)].points.isEmpty())
        return qQNaN();
    return d->lines[std::size_t(index)].points.constLast().y();
}

void ChartAdapter::rescale()
{
    for (int a = 0; a < 2; ++a) {
        if (!d->y[a] || !d->yAuto[a])
            continue;
        double mx = 0;
        for (const auto& l : d->lines) {
            if (int(l.axis) != a || !l.series->isVisible())
                continue;
            for (const auto& p : l.points)
                mx = std::max(mx, p.y());
        }
        const double top = niceCeil(std::max(d->yMinMax[a], mx * 1.05));
        if (d->y[a]->max() != top || d->y[a]->min() != 0)
            setRangeAndTicks(d->y[a], 0, top, std::clamp(d->view->height() / 45, 2, 6));
    }
}

void ChartAdapter::setYRange(Axis axis, double min, double max)
{
    const int a = axis == Axis::Left ? 0 : 1;
    d->yAuto[a] = false;
    if (d->y[a])
        setRangeAndTicks(d->y[a], min, max, std::clamp(d->view->height() / 45, 2, 6));
}

void ChartAdapter::setYAuto(Axis axis, double minMax)
{
    const int a = axis == Axis::Left ? 0 : 1;
    d->yAuto[a] = true;
    d->yMinMax[a] = minMax;
    rescale();
}

void ChartAdapter::setYTitle(Axis axis, const QString& title)
{
    if (auto* y = d->axisFor(axis))
        y->setTitleText(title);
}

void ChartAdapter::setYLabelFormat(Axis axis, const QString& printfFormat)
{
    if (auto* y = d->axisFor(axis))
        y->setLabelFormat(printfFormat);
}

void ChartAdapter::setXTitle(const QString& title)
{
    d->x->setTitleText(title);
}

void ChartAdapter::setBarCategories(const QStringList& categories, const QColor& color)
{
    if (!d->barChart) {
        d->barChart = new QChart();
        d->barChart->setMargins(QMargins(2, 2, 2, 2));
        d->barChart->setBackgroundRoundness(0);
        d->barChart->legend()->hide();
        d->bars = new QBarSeries(d->barChart);
        d->bars->setBarWidth(0.8);
        d->barSet = new QBarSet(QStringLiteral("now"), d->bars);
        d->bars->append(d->barSet);
        d->barChart->addSeries(d->bars);
        d->barX = new QBarCategoryAxis(d->barChart);
        d->barY = new QValueAxis(d->barChart);
        d->barY->setRange(0, 100);
        d->barY->setLabelFormat(QStringLiteral("%.0f"));
        d->barChart->addAxis(d->barX, Qt::AlignBottom);
        d->barChart->addAxis(d->barY, Qt::AlignLeft);
        d->bars->attachAxis(d->barX);
        d->bars->attachAxis(d->barY);
        d->barView = new View(d->barChart, this);
        d->barView->setRenderHint(QPainter::Antialiasing, d->antialiased);
        static_cast<QHBoxLayout*>(layout())->addWidget(d->barView, 1);
    }
    d->barX->setCategories(categories);
    d->barSet->remove(0, d->barSet->count());
    QList<qreal> zeros(categories.size(), 0.0);
    d->barSet->append(zeros);
    d->barSet->setColor(color.isValid() ? color : kColors[0]);
    d->barSet->setBorderColor(d->barSet->color());
    applyPalette();
}

void ChartAdapter::setBarValues(const QList<double>& values)
{
    if (!d->barSet)
        return;
    const qsizetype n = std::min<qsizetype>(values.size(), d->barSet->count());
    for (qsizetype i = 0; i < n; ++i) {
        if (d->barSet->at(i) != values[i])
            d->barSet->replace(i, values[i]);
    }
}

void ChartAdapter::setBarRange(double min, double max)
{
    if (d->barY)
        setRangeAndTicks(d->barY, min, max, std::clamp(d->barView->height() / 45, 2, 6));
}

int ChartAdapter::barCount() const
{
    return d->barSet ? int(d->barSet->count()) : 0;
}

double ChartAdapter::barValue(int index) const
{
    if (!d->barSet || index < 0 || index >= d->barSet->count())
        return qQNaN();
    return d->barSet->at(index);
}

void ChartAdapter::setLegendVisible(bool visible)
{
    d->chart->legend()->setVisible(visible);
}

void ChartAdapter::setLegendAlignment(Qt::Alignment alignment)
{
    d->chart->legend()->setAlignment(alignment);
}

void ChartAdapter::clear()
{
    for (auto& l : d->lines) {
        l.points.clear();
        l.series->clear();
    }
    d->lastT = -1;
    applyXRange();
    if (d->barSet) {
        for (qsizetype i = 0; i < d->barSet->count(); ++i)
            d->barSet->replace(i, 0);
    }
    rescale();
}

QPixmap ChartAdapter::render()
{
    return grab();
}

void ChartAdapter::changeEvent(QEvent* event)
{
    // Fonts too: presenter mode scales the window's font, and axes and the
    // legend must grow with it (QChart does not follow widget fonts).
    if (event->type() == QEvent::PaletteChange || event->type() == QEvent::StyleChange
        || event->type() == QEvent::FontChange)
        applyPalette();
    QWidget::changeEvent(event);
}

void ChartAdapter::applyPalette()
{
    // Follow the system palette (dark mode) instead of a fixed chart theme.
    const QPalette pal = palette();
    const QColor bg = pal.color(QPalette::Base);
    const QColor fg = pal.color(QPalette::Text);
    // The grid's colour is Mid blended over the background by hand, and its
    // pen cosmetic: an opaque cosmetic line is a span fill, where a
    // translucent one is blended pixel by pixel on every frame.
    const QColor mid = pal.color(QPalette::Mid);
    constexpr double kGridAlpha = 120.0 / 255.0;
    const auto mix = [](int m, int b) {
        return int(std::lround(m * kGridAlpha + b * (1 - kGridAlpha)));
    };
    const QColor grid(mix(mid.red(), bg.red()), mix(mid.green(), bg.green()),
                      mix(mid.blue(), bg.blue()));
    QPen gridPen(grid, 1);
    gridPen.setCosmetic(true);
    QFont small = font();
    if (small.pointSizeF() > 0)
        small.setPointSizeF(std::max(6.0, small.pointSizeF() - 1));
    for (QChart* c : {d->chart, d->barChart}) {
        if (!c)
            continue;
        c->legend()->setFont(small);
        c->setBackgroundBrush(bg);
        c->setBackgroundPen(Qt::NoPen);
        c->setTitleBrush(fg);
        c->legend()->setLabelColor(fg);
        for (QAbstractAxis* a : c->axes()) {
            a->setLabelsFont(small);
            a->setTitleFont(small);
            a->setLabelsColor(fg);
            a->setTitleBrush(fg);
            a->setLinePen(gridPen);
            a->setGridLinePen(gridPen);
        }
    }
    for (QChartView* v :
         {static_cast<QChartView*>(d->view), static_cast<QChartView*>(d->barView)}) {
        if (v)
            v->setBackgroundBrush(bg);
    }
}

} // namespace poolscope
