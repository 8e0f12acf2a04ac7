#include "teaching/continuations.h"

#include "models/display.h"

#include <QCborArray>
#include <QCborMap>
#include <QCoreApplication>
#include <QLabel>
#include <QLocale>
#include <QThread>
#include <QVBoxLayout>

#include <algorithm>
#include <exception>

namespace poolscope {

namespace {
constexpr int kBeatMs = 16;
} // namespace

ContinuationsView::ContinuationsView(QWidget* parent)
    : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto make = [this, layout](const char* name) {
        auto* l = new QLabel(this);
        l->setObjectName(QLatin1String(name));
        l->setWordWrap(true);
        l->setTextInteractionFlags(Qt::TextSelectableByMouse);
        layout->addWidget(l);
        return l;
    };
    m_then = make("continuationsThen");
    m_gather = make("continuationsGather");
    m_beat = make("continuationsHeartbeat");
    m_then->setToolTip(tr("future.qfuture().then(this, ...): one continuation per task, run by "
                          "the GUI thread's event loop (asyncio: await run_in_executor)"));
    m_gather->setToolTip(tr("QtFuture::whenAll(futures).then(this, ...): one continuation when "
                            "every task is done (asyncio: await gather)"));
    m_beat->setToolTip(tr("A 16 ms timer on the GUI thread: how late it fires is the event "
                          "loop's lag. Small lag = the window stays responsive."));
    m_heartbeat.setTimerType(Qt::PreciseTimer);
    m_heartbeat.setInterval(kBeatMs);
    connect(&m_heartbeat, &QTimer::timeout, this, &ContinuationsView::onBeat);
    clear();
}

qint64 ContinuationsView::valueOf(const QCborValue& value)
{
    if (value.isInteger())
        return value.toInteger();
    if (value.isDouble())
        return qint64(value.toDouble());
    if (value.isArray()) {
        qint64 sum = 0;
        for (const QCborValue& item : value.toArray())
            sum += valueOf(item);
        return sum;
    }
    if (value.isMap()) { // a Mandelbrot band: pixels inside the set are 255
        const QByteArray pixels = value.toMap().value(QStringLiteral("iterations")).toByteArray();
        return qint64(std::count(pixels.cbegin(), pixels.cend(), char(255)));
    }
    return 0;
}

double ContinuationsView::lagP99Ms() const
{
    return display::percentile(m_lateMs, 99);
}

double ContinuationsView::lagMaxMs() const
{
    return m_lateMs.empty() ? 0.0 : *std::max_element(m_lateMs.begin(), m_lateMs.end());
}

void ContinuationsView::clear()
{
    ++*m_generation;
    m_heartbeat.stop();
    m_runId = 0;
    m_expected = m_delivered = m_failed = m_offGui = 0;
    m_gathered = false;
    m_gatheredResults = 0;
    m_gatheredSum = 0;
    m_beats = 0;
    m_lastBeatNs = -1;
    m_lateMs.clear();
    m_then->setText(tr("results delivered on the GUI thread by .then(): press Run"));
    m_gather->setText(tr("gather (whenAll): waiting for a run"));
    m_beat->setText(tr("GUI heartbeat: starts with the run"));
}

ContinuationsView::~ContinuationsView()
{
    ++*m_generation;
    m_heartbeat.stop();
}

void ContinuationsView::watch(quint64 runId, const QList<QFuture<QCborValue>>& futures)
{
    clear();
    const quint64 gen = *m_generation;
    const std::shared_ptr<quint64> token = m_generation;
    m_runId = runId;
    m_expected = int(futures.size());
    m_clock.start();
    m_then->setText(tr("results delivered on the GUI thread by .then(): 0 of %1").arg(m_expected));
    m_gather->setText(tr("gather (whenAll): waiting for %1 futures").arg(m_expected));
    // A QFuture takes ONE continuation (a second then() replaces the first),
    // so the gather waits on the continuations' futures: it runs after the
    // last per-task delivery, with the same values (or exceptions).
    QList<QFuture<QCborValue>> delivered;
    delivered.reserve(futures.size());
    for (int i = 0; i < futures.size(); ++i) {
        // The continuation takes the QFuture itself, so a failed task is
        // delivered too (a cancelled one is not: Qt cancels the chain).
        QFuture<QCborValue> f = futures[i];
        delivered.append(f.then(this, [this, token, gen, i](const QFuture<QCborValue>& done) {
            if (*token == gen) // else the view was reset or is being destroyed
                onDelivered(gen, i, done);
            return done.result(); // rethrows a task's exception into the chain
        }));
    }
    QtFuture::whenAll(delivered.begin(), delivered.end())
        .then(this, [this, token, gen](const QList<QFuture<QCborValue>>& done) {
            if (*token == gen)
                onGathered(gen, done);
        });
    m_heartbeat.start();
    showHeartbeat();
}

void ContinuationsView::onDelivered(quint64 generation, int index, const QFuture<QCborValue>& f)
{
    if (generation != *m_generation)
        return; // an earlier run's future
    if (QThread::currentThread() != QCoreApplication::instance()->thread())
        ++m_offGui; // (cannot happen with .then(this, ...): the point of the lesson)
    ++m_delivered;
    QString last;
    try {
        last = tr("task #%1 = %2").arg(index).arg(QLocale().toString(valueOf(f.result())));
    } catch (const std::exception& e) {
        ++m_failed;
        last = tr("task #%1 failed: %2").arg(index).arg(QString::fromUtf8(e.what()));
    } catch (...) {
        ++m_failed;
        last = tr("task #%1 failed").arg(index);
    }
    QString text = tr("results delivered on the GUI thread by .then(): %1 of %2 (last: %3)")
                       .arg(m_delivered)
                       .arg(m_expected)
                       .arg(last);
    if (m_offGui > 0)
        text += tr(" - %1 continuation(s) ran OFF the GUI thread").arg(m_offGui);
    m_then->setText(text);
}

void ContinuationsView::onGathered(quint64 generation, const QList<QFuture<QCborValue>>& all)
{
    if (generation != *m_generation)
        return;
    m_heartbeat.stop();
    m_gathered = true;
    int bad = 0;
    for (QFuture<QCborValue> f : all) { // (waitForFinished() is not const)
        try {
            if (f.isCanceled() || f.resultCount() == 0) {
                f.waitForFinished(); // finished already; rethrows a task's exception
                ++bad;
                continue;
            }
            m_gatheredSum += valueOf(f.result());
            ++m_gatheredResults;
        } catch (...) {
            ++bad;
        }
    }
    QString text = tr("gather (whenAll) done after %1 ms: %2 results, sum = %3")
                       .arg(m_clock.elapsed())
                       .arg(m_gatheredResults)
                       .arg(QLocale().toString(m_gatheredSum));
    if (bad > 0)
        text += tr(" (%1 failed or cancelled)").arg(bad);
    m_gather->setText(text);
    showHeartbeat();
}

void ContinuationsView::onBeat()
{
    const qint64 now = m_clock.nsecsElapsed();
    if (m_lastBeatNs >= 0)
        m_lateMs.push_back(std::max(0.0, double(now - m_lastBeatNs) / 1e6 - kBeatMs));
    m_lastBeatNs = now;
    ++m_beats;
    showHeartbeat();
}

void ContinuationsView::showHeartbeat()
{
    const QLocale l;
    QString text = tr("GUI heartbeat (%1 ms timer): %2 beats, event-loop lag p99 %3 ms, max %4 ms")
                       .arg(kBeatMs)
                       .arg(m_beats)
                       .arg(l.toString(lagP99Ms(), 'f', 1), l.toString(lagMaxMs(), 'f', 1));
    if (m_gathered)
        text += tr(" (stopped at the gather)");
    m_beat->setText(text);
}

} // namespace poolscope
