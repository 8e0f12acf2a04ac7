#include "teaching/slowmotion.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>

#include <cmath>

namespace poolscope {

namespace {

/// value x factor, capped at maximum; returns the ratio achieved.
double scale(qint64& value, double factor, qint64 maximum, bool& capped)
{
    if (value <= 0)
        return 1.0;
    const double want = std::round(double(value) * factor);
    const qint64 got = want > double(maximum) ? maximum : qint64(want);
    if (double(got) < want)
        capped = true;
    const double ratio = double(got) / double(value);
    value = std::max<qint64>(value, got);
    return std::max(1.0, ratio);
}

enum class Rule { Size, SizeAndWait, CubeRoot, Mandelbrot };

Rule ruleOf(const QString& w)
{
    if (w == QLatin1String("matmul") || w == QLatin1String("matmul_native"))
        return Rule::CubeRoot;
    if (w == QLatin1String("mandelbrot"))
        return Rule::Mandelbrot;
    if (w == QLatin1String("cpu_then_wait"))
        return Rule::SizeAndWait;
    return Rule::Size;
}

} // namespace

QList<int> SlowMotion::factors()
{
    return {1, 2, 5, 10, 50};
}

QString SlowMotion::howItSlows(const QString& workload)
{
    const Workload* w = Workloads::find(workload);
    if (!w)
        return {};
    switch (ruleOf(workload)) {
    case Rule::CubeRoot:
        return QObject::tr("%1: the matrix order n grows by the cube root of the factor "
                           "(the work grows with n³), at most %2.")
            .arg(workload)
            .arg(w->maxSize);
    case Rule::Mandelbrot:
        return QObject::tr("%1: the image width and the rows per band both grow by the square "
                           "root of the factor, so the picture keeps its shape.")
            .arg(workload);
    case Rule::SizeAndWait:
        return QObject::tr("%1: both the numbers per task and wait_ms grow by the factor.")
            .arg(workload);
    case Rule::Size:
        break;
    }
    return QObject::tr("%1: the size (%2) grows by the factor, at most %3.")
        .arg(workload, w->sizeUnit)
        .arg(w->maxSize);
}

SlowMotionResult SlowMotion::apply(const QString& workload, const WorkloadRun& run, int factor)
{
    SlowMotionResult r;
    r.run = run;
    r.requestedFactor = std::max(1, factor);
    const Workload* w = Workloads::find(workload);
    if (!w || factor <= 1) {
        r.description = QObject::tr("normal speed");
        return r;
    }
    const double f = double(factor);
    bool capped = false;
    switch (ruleOf(workload)) {
    case Rule::Size:
        r.appliedFactor = scale(r.run.size, f, w->maxSize, capped);
        break;
    case Rule::SizeAndWait: {
        const WorkloadParam* k = w->findKnob(QStringLiteral("wait_ms"));
        qint64 wait = w->knob(run, QStringLiteral("wait_ms"));
        const double a = scale(r.run.size, f, w->maxSize, capped);
        const double b = scale(wait, f, k ? k->maximum : wait, capped);
        r.run.knobs.insert(QStringLiteral("wait_ms"), wait);
        r.appliedFactor = std::min(a, b);
        break;
    }
    case Rule::CubeRoot: {
        const qint64 before = r.run.size;
        scale(r.run.size, std::cbrt(f), w->maxSize, capped);
        r.appliedFactor = std::pow(double(r.run.size) / double(std::max<qint64>(1, before)), 3.0);
        break;
    }
    case Rule::Mandelbrot: {
        const WorkloadParam* k = w->findKnob(QStringLiteral("width"));
        qint64 width = w->knob(run, QStringLiteral("width"));
        const qint64 rows0 = r.run.size, width0 = width;
        const double root = std::sqrt(f);
        // the whole image is at most 65536 rows high; a band at most 2^28 pixels
        const qint64 maxRows = std::max<qint64>(1, 65'536 / std::max(1, run.tasks));
        scale(r.run.size, root, std::min(w->maxSize, maxRows), capped);
        const qint64 maxWidth = std::min<qint64>(
            k ? k->maximum : width, (qint64(1) << 28) / std::max<qint64>(1, r.run.size));
        scale(width, root, maxWidth, capped);
        r.run.knobs.insert(QStringLiteral("width"), width);
        r.appliedFactor = double(r.run.size * width) / double(std::max<qint64>(1, rows0 * width0));
        break;
    }
    }
    // Whatever the rule did, the result must be a run the workload accepts.
    if (!Workloads::validate(workload, r.run).isEmpty()) {
        r.run = run;
        r.appliedFactor = 1;
        capped = true;
    }
    r.capped = capped || r.appliedFactor < f * 0.98; // rounding of roots is not a cap
    if (r.appliedFactor <= 1.0 + 1e-9)
        r.description = QObject::tr("%1 cannot be slowed down from these settings").arg(workload);
    else
        r.description =
            QObject::tr("each task about %1x longer%2 (%3)")
                .arg(r.appliedFactor, 0, 'f', r.appliedFactor < 10 ? 1 : 0)
                .arg(r.capped ? QObject::tr(", capped by the workload's limits") : QString())
                .arg(howItSlows(workload));
    return r;
}

// ------------------------------------------------------------- SlowMotionBar

SlowMotionBar::SlowMotionBar(QWidget* parent)
    : QWidget(parent)
{
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* label = new QLabel(tr("Slow motion:"), this);
    m_factor = new QComboBox(this);
    m_factor->setObjectName(QStringLiteral("slowMotionFactor"));
    for (int f : SlowMotion::factors())
        m_factor->addItem(f == 1 ? tr("1x (normal)") : tr("%1x slower").arg(f), f);
    label->setBuddy(m_factor);
    m_step = new QPushButton(tr("Step"), this);
    m_step->setObjectName(QStringLiteral("stepButton"));
    m_step->setToolTip(tr("While paused: let exactly one queued task start"));
    layout->addWidget(label);
    layout->addWidget(m_factor);
    layout->addWidget(m_step);
    connect(m_factor, &QComboBox::currentIndexChanged, this,
            [this](int i) { emit factorChanged(m_factor->itemData(i).toInt()); });
    connect(m_step, &QPushButton::clicked, this, [this] {
        if (m_paused)
            emit stepRequested();
    });
    setPaused(false);
    setWorkload({});
}

int SlowMotionBar::factor() const
{
    return m_factor->currentData().toInt();
}

void SlowMotionBar::setFactor(int factor)
{
    const int i = m_factor->findData(factor);
    if (i >= 0)
        m_factor->setCurrentIndex(i);
}

void SlowMotionBar::setWorkload(const QString& workload)
{
    m_workload = workload;
    const QString how = SlowMotion::howItSlows(workload);
    m_factor->setToolTip(how.isEmpty()
                             ? tr("Makes every task of the next run longer, so single tasks can "
                                  "be followed from queue to worker to done")
                             : how);
}

void SlowMotionBar::setPaused(bool paused)
{
    m_paused = paused;
    m_step->setEnabled(paused);
}

} // namespace poolscope
