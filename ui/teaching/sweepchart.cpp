#include "teaching/sweepchart.h"

#include <poolscope/cpusampler.h>

#include <poolscope/amdahl.h>

#include <QChart>
#include <QChartView>
#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineSeries>
#include <QPainter>
#include <QThread>
#include <QVBoxLayout>
#include <QValueAxis>

#include <algorithm>
#include <cmath>

namespace poolscope {

namespace {

QColor seriesColor(SweepSeries s)
{
    switch (s) {
    case SweepSeries::Threads:
        return QColor(0x4e79a7);
    case SweepSeries::ThreadsGil:
        return QColor(0xf28e2b);
    case SweepSeries::Processes:
        return QColor(0x59a14f);
    }
    return QColor(0x9c755f);
}

double niceCeil(double v)
{
    if (v <= 1)
        return 1;
    const double p = std::pow(10.0, std::floor(std::log10(v)));
    for (double m : {1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0}) {
        if (v <= m * p)
            return m * p;
    }
    return 10 * p;
}

QChartView* makeView(QChart* chart, QWidget* parent)
{
    auto* v = new QChartView(chart, parent);
    v->setRenderHint(QPainter::Antialiasing, true);
    v->setFrameShape(QFrame::NoFrame);
    v->setMinimumSize(200, 160);
    return v;
}

} // namespace

struct SweepChart::Charts {
    QChart* speed = nullptr;
    QChart* eff = nullptr;
    QChartView* speedView = nullptr;
    QChartView* effView = nullptr;
};

SweepChart::SweepChart(QWidget* parent)
    : QWidget(parent)
    , d(std::make_unique<Charts>())
{
    m_cores = std::max(1, QThread::idealThreadCount());
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* row = new QHBoxLayout;
    d->speed = new QChart;
    d->speed->setTitle(tr("Speedup"));
    d->eff = new QChart;
    d->eff->setTitle(tr("Efficiency (speedup / workers)"));
    // One legend for both charts, below them: Qt Charts' own legend elides
    // long entries such as the fitted serial fraction.
    d->eff->legend()->hide();
    d->speed->legend()->hide();
    // A projector's dock is short: every pixel to the plot, not to margins.
    for (QChart* c : {d->speed, d->eff}) {
        c->setMargins(QMargins(2, 2, 2, 2));
        c->setBackgroundRoundness(0);
    }
    d->speedView = makeView(d->speed, this);
    d->speedView->setObjectName(QStringLiteral("sweepSpeedupView"));
    d->effView = makeView(d->eff, this);
    d->effView->setObjectName(QStringLiteral("sweepEfficiencyView"));
    d->speedView->installEventFilter(this);
    row->addWidget(d->speedView, 3);
    row->addWidget(d->effView, 2);
    layout->addLayout(row, 1);
    m_legend = new QLabel(this);
    m_legend->setObjectName(QStringLiteral("sweepLegend"));
    m_legend->setTextFormat(Qt::RichText);
    m_legend->setWordWrap(true);
    layout->addWidget(m_legend);
    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("sweepSummary"));
    m_summary->setWordWrap(true);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_summary);
    rebuild();
}

SweepChart::~SweepChart() = default;

QSize SweepChart::sizeHint() const
{
    return {760, 360};
}

void SweepChart::setCoreCount(int cores)
{
    m_cores = std::max(1, cores);
    rebuild();
}

void SweepChart::addPoint(const SweepPoint& point)
{
    m_points.append(point);
    rebuild();
}

void SweepChart::setPoints(const QList<SweepPoint>& points)
{
    m_points = points;
    rebuild();
}

void SweepChart::clear()
{
    m_points.clear();
    rebuild();
}

QList<SweepSeries> SweepChart::series() const
{
    QList<SweepSeries> out;
    for (const auto& p : m_points) {
        if (!out.contains(p.series))
            out.append(p.series);
    }
    return out;
}

double SweepChart::speedup(SweepSeries series, int workers) const
{
    double base = -1, wall = -1;
    for (const auto& p : m_points) {
        if (p.series != series)
            continue;
        if (p.workers == 1)
            base = p.wallS;
        if (p.workers == workers)
            wall = p.wallS;
    }
    if (base <= 0 || wall <= 0)
        return -1;
    return base / wall;
}

std::pair<double, double> SweepChart::speedupRange(SweepSeries series, int workers) const
{
    const SweepPoint* base = nullptr;
    const SweepPoint* point = nullptr;
    for (const auto& p : m_points) {
        if (p.series != series)
            continue;
        if (p.workers == 1)
            base = &p;
        if (p.workers == workers)
            point = &p;
    }
    if (!base || !point || base->wallS <= 0 || point->wallS <= 0)
        return {-1, -1};
    auto lo = [](const SweepPoint& p) { return p.minS > 0 ? p.minS : p.wallS; };
    auto hi = [](const SweepPoint& p) { return p.maxS > 0 ? p.maxS : p.wallS; };
    if (point == base) // one measurement set: its speedup is 1 by definition
        return {1.0, 1.0};
    return {lo(*base) / hi(*point), hi(*base) / lo(*point)};
}

std::pair<double, double> SweepChart::serialFractionRange(SweepSeries series) const
{
    QList<SpeedupPoint> low, high;
    for (const auto& p : m_points) {
        if (p.series != series)
            continue;
        const auto [l, h] = speedupRange(series, p.workers);
        if (l <= 0)
            continue;
        const int n = std::min(p.workers, m_cores);
        low.append({n, l});
        high.append({n, h});
    }
    // Higher speedups mean less serial work: the high ends give the low s.
    const double sLow = fitSerialFraction(high);
    const double sHigh = fitSerialFraction(low);
    if (sLow < 0 || sHigh < 0)
        return {-1, -1};
    return {std::min(sLow, sHigh), std::max(sLow, sHigh)};
}

double SweepChart::serialFraction(SweepSeries series) const
{
    return m_fits.value(int(series), -1.0);
}

QString SweepChart::amdahlLegend(SweepSeries series) const
{
    const double s = serialFraction(series);
    if (s < 0)
        return {};
    const auto [lo, hi] = serialFractionRange(series);
    const QString range =
        lo >= 0 && hi - lo >= 0.0005
            ? tr(", %1 - %2 over the ranges").arg(lo, 0, 'f', 3).arg(hi, 0, 'f', 3)
            : QString();
    return tr("%1: Amdahl s = %2 (%3%4)")
        .arg(seriesName(series))
        .arg(s, 0, 'f', 3)
        .arg(s > 0 ? tr("max %1x").arg(1.0 / s, 0, 'f', 1) : tr("no limit"), range);
}

QStringList SweepChart::legendLabels() const
{
    return m_legendEntries;
}

QString SweepChart::summaryText() const
{
    QStringList lines;
    for (SweepSeries s : series()) {
        double best = 0;
        int bestN = 0, count = 0;
        for (const auto& p : m_points) {
            if (p.series != s)
                continue;
            ++count;
            const double sp = speedup(s, p.workers);
            if (sp > best) {
                best = sp;
                bestN = p.workers;
            }
        }
        QString line = tr("%1: %2 point(s)").arg(seriesName(s)).arg(count);
        if (bestN > 0) {
            line += tr(", best speedup %1x at %2 worker(s)").arg(best, 0, 'f', 2).arg(bestN);
            const auto [lo, hi] = speedupRange(s, bestN);
            if (hi - lo >= 0.005)
                line += tr(" (%1 - %2x)").arg(lo, 0, 'f', 2).arg(hi, 0, 'f', 2);
        }
        const double f = serialFraction(s);
        if (f >= 0)
            line += tr(", fitted serial fraction s = %1").arg(f, 0, 'f', 3);
        lines << line;
    }
    // How each point was measured, and whether the machine was quiet.
    int repeats = 0, busy = 0;
    double worst = 0;
    for (const auto& p : m_points) {
        repeats = std::max(repeats, int(p.samplesS.size()));
        if (p.otherCores >= LoadMeter::kBusyCores)
            ++busy;
        worst = std::max(worst, p.otherCores);
    }
    if (repeats > 1)
        lines
            << tr("Each point: the median of %1 measurements, the bars their range.").arg(repeats);
    if (busy > 0)
        lines << tr("⚠ The machine was busy during %1 of %2 points: other programs used up to %3 "
                    "cores; speedups are lower than on a quiet machine.")
                     .arg(busy)
                     .arg(m_points.size())
                     .arg(worst, 0, 'f', 2);
    return lines.join(QLatin1Char('\n'));
}

QPixmap SweepChart::render()
{
    return grab();
}

void SweepChart::changeEvent(QEvent* event)
{
    QWidget::changeEvent(event);
    if (m_summary
        && (event->type() == QEvent::PaletteChange || event->type() == QEvent::StyleChange))
        rebuild();
}

bool SweepChart::eventFilter(QObject* watched, QEvent* event)
{
    if (watched == d->speedView && event->type() == QEvent::Resize)
        fitAxisTitles();
    return QWidget::eventFilter(watched, event);
}

void SweepChart::fitAxisTitles()
{
    // Below this height Qt Charts elides the tick labels to "..." to make
    // room for the axis titles; the chart titles say what the axes are.
    const bool room = d->speedView->height() >= kAxisTitlesMinHeight;
    for (QChart* c : {d->speed, d->eff}) {
        for (QAbstractAxis* a : c->axes())
            a->setTitleVisible(room);
    }
}

bool SweepChart::event(QEvent* event)
{
    // applyPresenterMode() sets the dynamic property "presenter": thicker lines.
    if (event->type() == QEvent::DynamicPropertyChange && m_summary)
        rebuild();
    return QWidget::event(event);
}

void SweepChart::rebuild()
{
    // Re-read every time: a handful of points, and the fit changes with each.
    const bool presenter = property("presenter").toBool();
    const qreal width = presenter ? 4.0 : 2.0;
    const QPalette pal = palette();
    for (QChart* c : {d->speed, d->eff}) {
        c->removeAllSeries();
        for (QAbstractAxis* a : c->axes()) {
            c->removeAxis(a);
            delete a;
        }
        c->setBackgroundBrush(pal.brush(QPalette::Base));
        c->setTitleBrush(pal.brush(QPalette::Text));
    }

    int maxN = m_cores;
    double maxSpeed = 1;
    m_fits.clear();
    for (const auto& p : m_points)
        maxN = std::max(maxN, p.workers);

    auto xAxis = [&](QChart* c) {
        auto* ax = new QValueAxis;
        ax->setRange(1, std::max(2, maxN));
        ax->setTickType(QValueAxis::TicksDynamic);
        ax->setTickAnchor(1);
        ax->setTickInterval(maxN <= 16 ? 1 : std::ceil(maxN / 16.0));
        ax->setLabelFormat(QStringLiteral("%d"));
        ax->setTitleText(tr("workers"));
        ax->setLabelsColor(pal.color(QPalette::Text));
        ax->setTitleBrush(pal.brush(QPalette::Text));
        c->addAxis(ax, Qt::AlignBottom);
        return ax;
    };
    QValueAxis* sx = xAxis(d->speed);
    QValueAxis* ex = xAxis(d->eff);
    auto* sy = new QValueAxis;
    auto* ey = new QValueAxis;
    for (QValueAxis* a : {sy, ey}) {
        a->setLabelsColor(pal.color(QPalette::Text));
        a->setTitleBrush(pal.brush(QPalette::Text));
    }
    sy->setTitleText(tr("speedup (x)"));
    ey->setTitleText(tr("efficiency (%)"));
    ey->setLabelFormat(QStringLiteral("%.0f"));
    d->speed->addAxis(sy, Qt::AlignLeft);
    d->eff->addAxis(ey, Qt::AlignLeft);

    auto attach = [](QChart* c, QAbstractSeries* s, QAbstractAxis* x, QAbstractAxis* y) {
        c->addSeries(s);
        s->attachAxis(x);
        s->attachAxis(y);
    };
    const QColor muted = pal.color(QPalette::PlaceholderText);

    // ideal: speedup = workers, efficiency = 100%
    auto* ideal = new QLineSeries;
    ideal->setName(tr("ideal (speedup = workers)"));
    ideal->append(1, 1);
    ideal->append(maxN, maxN);
    ideal->setPen(QPen(muted, width * 0.75, Qt::DashLine));
    attach(d->speed, ideal, sx, sy);
    auto* idealEff = new QLineSeries;
    idealEff->append(1, 100);
    idealEff->append(maxN, 100);
    idealEff->setPen(QPen(muted, width * 0.75, Qt::DashLine));
    attach(d->eff, idealEff, ex, ey);

    for (SweepSeries s : series()) {
        const QColor color = seriesColor(s);
        QList<SpeedupPoint> fitPts;
        auto* measured = new QLineSeries;
        measured->setName(seriesName(s));
        measured->setPen(QPen(color, width));
        measured->setPointsVisible(true);
        auto* measuredEff = new QLineSeries;
        measuredEff->setPen(QPen(color, width));
        measuredEff->setPointsVisible(true);
        QList<QPointF> pts;
        for (const auto& p : m_points) {
            if (p.series != s)
                continue;
            const double sp = speedup(s, p.workers);
            if (sp <= 0)
                continue;
            pts.append(QPointF(p.workers, sp));
            // Past the cores the workers share them: Amdahl with min(n, cores).
            fitPts.append({std::min(p.workers, m_cores), sp});
        }
        std::sort(pts.begin(), pts.end(),
                  [](const QPointF& a, const QPointF& b) { return a.x() < b.x(); });
        for (const QPointF& pt : pts) {
            measured->append(pt);
            measuredEff->append(pt.x(), 100.0 * pt.y() / pt.x());
            maxSpeed = std::max(maxSpeed, pt.y());
        }
        attach(d->speed, measured, sx, sy);
        attach(d->eff, measuredEff, ex, ey);
        // min-max of the repeated measurements: a vertical bar per point
        for (const auto& p : m_points) {
            if (p.series != s || p.workers == 1)
                continue;
            const auto [lo, hi] = speedupRange(s, p.workers);
            if (lo <= 0 || hi - lo < 1e-9)
                continue;
            auto* bar = new QLineSeries;
            bar->setPen(QPen(color, width * 0.75));
            bar->append(p.workers, lo);
            bar->append(p.workers, hi);
            attach(d->speed, bar, sx, sy);
            auto* barEff = new QLineSeries;
            barEff->setPen(QPen(color, width * 0.75));
            barEff->append(p.workers, 100.0 * lo / p.workers);
            barEff->append(p.workers, 100.0 * hi / p.workers);
            attach(d->eff, barEff, ex, ey);
            maxSpeed = std::max(maxSpeed, hi);
        }

        const double f = fitSerialFraction(fitPts);
        if (f >= 0) {
            m_fits.insert(int(s), f);
            auto* curve = new QLineSeries;
            curve->setName(amdahlLegend(s));
            curve->setPen(QPen(color, width * 0.75, Qt::DotLine));
            auto* curveEff = new QLineSeries;
            curveEff->setPen(QPen(color, width * 0.75, Qt::DotLine));
            for (double n = 1; n <= maxN + 1e-9; n += 0.125) {
                const double sp = amdahlSpeedup(f, std::min<double>(n, m_cores));
                curve->append(n, sp);
                curveEff->append(n, 100.0 * sp / n);
            }
            attach(d->speed, curve, sx, sy);
            attach(d->eff, curveEff, ex, ey);
        }
    }

    const double yMax = niceCeil(std::max<double>(maxSpeed, maxN) * 1.05);
    sy->setRange(0, yMax);
    sy->setTickType(QValueAxis::TicksDynamic);
    sy->setTickAnchor(0);
    sy->setTickInterval(yMax <= 5 ? 1 : niceCeil(yMax / 5));
    sy->setLabelFormat(QStringLiteral("%g"));
    ey->setRange(0, 110);
    ey->setTickType(QValueAxis::TicksDynamic);
    ey->setTickAnchor(0);
    ey->setTickInterval(25);

    // the machine's cores: a vertical line
    auto* cores = new QLineSeries;
    cores->setName(tr("cores (%1)").arg(m_cores));
    cores->append(m_cores, 0);
    cores->append(m_cores, yMax);
    cores->setPen(QPen(pal.color(QPalette::Text), width * 0.75, Qt::DashDotLine));
    attach(d->speed, cores, sx, sy);
    auto* coresEff = new QLineSeries;
    coresEff->append(m_cores, 0);
    coresEff->append(m_cores, 110);
    coresEff->setPen(QPen(pal.color(QPalette::Text), width * 0.75, Qt::DashDotLine));
    attach(d->eff, coresEff, ex, ey);

    // the legend: per series the measured line and its Amdahl fit, then the
    // reference lines
    m_legendEntries.clear();
    QStringList html;
    auto entry = [&](const QColor& c, const QString& glyph, const QString& text) {
        m_legendEntries << text;
        return QStringLiteral("<span style=\"color:%1\">%2</span>&nbsp;%3")
            .arg(c.name(), glyph, text.toHtmlEscaped());
    };
    const QString solid = QStringLiteral("\u2501\u2501\u25cf");
    const QString dotted = QStringLiteral("\u2504\u2504");
    for (SweepSeries s : series()) {
        QString line = entry(seriesColor(s), solid, seriesName(s));
        if (serialFraction(s) >= 0)
            line +=
                QStringLiteral(" &nbsp;&nbsp; ") + entry(seriesColor(s), dotted, amdahlLegend(s));
        html << line;
    }
    html << entry(muted, QStringLiteral("\u254c\u254c"), tr("ideal (speedup = workers)"))
                + QStringLiteral(" &nbsp;&nbsp; ")
                + entry(pal.color(QPalette::Text), QStringLiteral("\u2500\u00b7\u2500"),
                        tr("cores (%1)").arg(m_cores));
    m_legend->setText(html.join(QStringLiteral("<br>")));

    fitAxisTitles();
    m_summary->setText(m_points.isEmpty() ? tr("No sweep yet: press Sweep to run the same batch "
                                               "at 1..N workers.")
                                          : summaryText());
}

} // namespace poolscope
