#include "teaching/replaycharts.h"

#include "charts/chartadapter.h"
#include "teaching/replay.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace poolscope {

RecordingExtent recordingExtent(const TraceData& trace)
{
    // The run's exact extent (first submit to last end), from every task it
    // had, even when the record holds a sample.
    const RunTotals& t = trace.record->totals();
    if (trace.record->empty() || t.firstNs <= 0)
        return {trace.originNs, 0};
    return {t.firstNs, std::max<qint64>(0, t.lastEndNs - t.firstNs)};
}

int ReplaySeries::bucketsUpTo(qint64 positionNs) const
{
    if (edges.size() < 2)
        return 0;
    return int(std::upper_bound(edges.begin() + 1, edges.end(), positionNs) - (edges.begin() + 1));
}

namespace {

/// Number of values in the sorted v that are <= t.
qint64 countUpTo(const std::vector<qint64>& v, qint64 t)
{
    return qint64(std::upper_bound(v.begin(), v.end(), t) - v.begin());
}

} // namespace

ReplaySeries replaySeries(const TraceData& trace)
{
    ReplaySeries r;
    const RecordingExtent ext = recordingExtent(trace);
    r.startNs = ext.startNs;
    r.durationNs = ext.durationNs;
    if (trace.record->empty())
        return r;
    // Past its limit the record holds one task in `w`: each stands for w.
    const qint64 w = qint64(trace.record->sampling());

    const qint64 d = r.durationNs;
    const int n = int(std::clamp<qint64>(d / kReplayMinBucketNs, 1, kReplayMaxBuckets));
    r.edges.resize(std::size_t(n) + 1);
    for (int i = 0; i <= n; ++i) // floor(d * i / n) without overflow
        r.edges[std::size_t(i)] = d / n * i + d % n * i / n;
    // The bucket holding time t (from position 0); the end of the recording
    // belongs to the last bucket.
    auto bucketOf = [&r, n](qint64 t) {
        const auto i =
            std::upper_bound(r.edges.begin() + 1, r.edges.end(), t) - (r.edges.begin() + 1);
        return int(std::clamp<qint64>(i, 0, n - 1));
    };

    // Throughput.
    r.finished.assign(std::size_t(n), 0);
    for (const TaskSpan s : *trace.record)
        r.finished[std::size_t(bucketOf(s.endNs - r.startNs))] += w;
    r.tasksPerSecond.resize(std::size_t(n));
    for (int i = 0; i < n; ++i) {
        const qint64 len = r.bucketNs(i);
        r.tasksPerSecond[std::size_t(i)] =
            len > 0 ? double(r.finished[std::size_t(i)]) * 1e9 / double(len) : 0.0;
    }

    // Queue depth and running tasks at each bucket's end.
    r.queued.assign(std::size_t(n), std::numeric_limits<double>::quiet_NaN());
    r.running.assign(std::size_t(n), std::numeric_limits<double>::quiet_NaN());
    if (!trace.counters.isEmpty()) {
        r.queueFromCounters = true;
        QList<TraceCounterSample> samples = trace.counters;
        std::stable_sort(samples.begin(), samples.end(),
                         [](const TraceCounterSample& a, const TraceCounterSample& b) {
                             return a.timeNs < b.timeNs;
                         });
        for (int i = 0; i < n; ++i) {
            const qint64 t = r.startNs + r.edges[std::size_t(i) + 1];
            const auto after = std::upper_bound(
                samples.cbegin(), samples.cend(), t,
                [](qint64 v, const TraceCounterSample& c) { return v < c.timeNs; });
            if (after == samples.cbegin())
                continue;
            r.queued[std::size_t(i)] = double(std::prev(after)->queued);
            r.running[std::size_t(i)] = double(std::prev(after)->running);
        }
    } else {
        std::vector<qint64> enq, startKnown, starts, ends;
        for (const TaskSpan s : *trace.record) {
            if (!s.started)
                continue; // never ran
            if (s.enqueueNs > 0 && s.enqueueNs <= s.startNs) {
                enq.push_back(s.enqueueNs);
                startKnown.push_back(s.startNs);
            }
            starts.push_back(s.startNs);
            ends.push_back(s.endNs);
        }
        for (auto* v : {&enq, &startKnown, &starts, &ends})
            std::sort(v->begin(), v->end());
        for (int i = 0; i < n; ++i) {
            const qint64 t = r.startNs + r.edges[std::size_t(i) + 1];
            r.queued[std::size_t(i)] = double(w * (countUpTo(enq, t) - countUpTo(startKnown, t)));
            r.running[std::size_t(i)] = double(w * (countUpTo(starts, t) - countUpTo(ends, t)));
        }
    }

    // Per-core utilisation: partial overlaps at a span's first and last
    // bucket, whole buckets in between through a difference array, so a
    // span costs O(log n) however long it is.
    std::map<int, std::size_t> coreIndex;
    for (const TaskSpan s : *trace.record) {
        if (s.core >= 0)
            coreIndex.emplace(int(s.core), 0);
    }
    std::size_t k = 0;
    for (auto& [core, index] : coreIndex) {
        r.cores.append(core);
        index = k++;
    }
    std::vector<std::vector<double>> partial(k, std::vector<double>(std::size_t(n), 0.0));
    std::vector<std::vector<qint64>> whole(k, std::vector<qint64>(std::size_t(n) + 1, 0));
    for (const TaskSpan s : *trace.record) {
        if (s.core < 0)
            continue;
        const qint64 a = std::clamp<qint64>(s.startNs - r.startNs, 0, d);
        const qint64 b = std::clamp<qint64>(s.endNs - r.startNs, 0, d);
        if (b <= a)
            continue;
        const std::size_t c = coreIndex[int(s.core)];
        const int i0 = bucketOf(a), i1 = bucketOf(b);
        if (i0 == i1) {
            partial[c][std::size_t(i0)] += double(w) * double(b - a);
            continue;
        }
        partial[c][std::size_t(i0)] += double(w) * double(r.edges[std::size_t(i0) + 1] - a);
        partial[c][std::size_t(i1)] += double(w) * double(b - r.edges[std::size_t(i1)]);
        whole[c][std::size_t(i0) + 1] += w;
        whole[c][std::size_t(i1)] -= w;
    }
    r.busy.assign(k, std::vector<double>(std::size_t(n), 0.0));
    for (std::size_t c = 0; c < k; ++c) {
        qint64 covering = 0;
        for (int i = 0; i < n; ++i) {
            covering += whole[c][std::size_t(i)];
            const qint64 len = r.bucketNs(i);
            const double busyNs = partial[c][std::size_t(i)] + double(covering) * double(len);
            r.busy[c][std::size_t(i)] = len > 0 ? std::min(1.0, busyNs / double(len)) : 0.0;
        }
    }
    return r;
}

// ------------------------------------------------------------- ReplayCharts

ReplayCharts::ReplayCharts(ReplayController* controller, QWidget* parent)
    : QWidget(parent)
    , m_controller(controller)
{
    m_throughput = new ChartAdapter(this);
    m_throughput->setObjectName(QStringLiteral("replayThroughputChart"));
    m_throughput->addLine(tr("tasks/s"), QColor(0x4e79a7), ChartAdapter::Axis::Left, 2);
    m_throughput->addLine(tr("queued"), QColor(0xf28e2b), ChartAdapter::Axis::Right);
    m_throughput->addLine(tr("running"), QColor(0x59a14f), ChartAdapter::Axis::Right, 1.5, true);
    m_throughput->setYAuto(ChartAdapter::Axis::Left, 10);
    m_throughput->setYAuto(ChartAdapter::Axis::Right, 4);
    m_throughput->setYTitle(ChartAdapter::Axis::Left, tr("tasks/s"));
    m_throughput->setYTitle(ChartAdapter::Axis::Right, tr("tasks"));
    m_throughput->setToolTip(
        tr("Throughput of the recording: tasks that finished in each time bucket (1/100 of the "
           "recording or 50 ms, whichever "
           "is longer), per second, and the queued and running tasks at each bucket's end (from "
           "the trace's queue counter when it has one, else counted from the tasks). Buckets "
           "appear as the position passes their end."));

    m_cores = new ChartAdapter(this);
    m_cores->setObjectName(QStringLiteral("replayCoreChart"));
    m_cores->setYRange(ChartAdapter::Axis::Left, 0, 100);
    m_cores->setYTitle(ChartAdapter::Axis::Left, tr("% busy"));
    m_cores->setToolTip(
        tr("Per-core use by the tasks: for each CPU the tasks ran on (the CPU a task started on), "
           "the share of each time "
           "bucket that tasks ran there: the sum of their overlaps with the bucket over its "
           "length, at most 100 %. Other programs on the machine are not in a recording."));
    m_noCores = new QLabel(tr("This recording does not say which CPU ran each task."), this);
    m_noCores->setObjectName(QStringLiteral("replayNoCores"));
    m_noCores->setWordWrap(true);
    m_noCores->hide();

    auto* right = new QVBoxLayout;
    right->setContentsMargins(0, 0, 0, 0);
    right->setSpacing(2);
    right->addWidget(m_cores, 1);
    right->addWidget(m_noCores);
    auto* lay = new QHBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->setSpacing(4);
    lay->addWidget(m_throughput, 1);
    lay->addLayout(right, 1);
    // Titles would take the height the plots need: the legends and the
    // tooltips say what each chart is.
    setMinimumHeight(180);
    reset();

    connect(m_controller, &ReplayController::loaded, this, &ReplayCharts::load);
    connect(m_controller, &ReplayController::positionChanged, this, &ReplayCharts::showUpTo);
    connect(m_controller, &ReplayController::unloaded, this, &ReplayCharts::reset);
    if (m_controller->isLoaded())
        load();
}

void ReplayCharts::reset()
{
    m_series = {};
    m_shown = -1;
    m_throughput->setPoints({});
    m_cores->removeLines();
    m_noCores->hide();
    for (ChartAdapter* c : {m_throughput, m_cores}) {
        c->setXTitle(tr("seconds"));
        c->setXRange(0, 10);
    }
}

void ReplayCharts::load()
{
    m_series = replaySeries(m_controller->trace());
    // Seconds, or milliseconds for recordings too short for whole seconds.
    const bool seconds = m_series.durationNs >= 10'000'000'000;
    m_unitNs = seconds ? 1e9 : 1e6;
    for (ChartAdapter* c : {m_throughput, m_cores}) {
        c->setXTitle(seconds ? tr("seconds") : tr("ms"));
        c->setXRange(0, double(m_series.durationNs) / m_unitNs);
    }
    m_cores->removeLines();
    for (int core : m_series.cores)
        m_cores->addLine(tr("cpu%1").arg(core), {}, ChartAdapter::Axis::Left, 1.2);
    m_cores->setLegendVisible(m_series.cores.size() <= 16);
    m_noCores->setVisible(m_series.cores.isEmpty());
    m_shown = -1;
    showUpTo(m_controller->positionNs());
}

void ReplayCharts::showUpTo(qint64 positionNs)
{
    const int k = m_series.bucketsUpTo(positionNs);
    if (k == m_shown)
        return;
    m_shown = k;
    // A point per bucket at its end, like the live chart's rate over the
    // last interval; at most 100 buckets, so rebuilding them is cheap.
    auto line = [this, k](const std::vector<double>& values, double scale) {
        QList<QPointF> points;
        points.reserve(k);
        for (int i = 0; i < k; ++i) {
            const double v = values[std::size_t(i)];
            if (std::isfinite(v))
                points.append(
                    QPointF(double(m_series.edges[std::size_t(i) + 1]) / m_unitNs, v * scale));
        }
        return points;
    };
    if (m_series.bucketCount() == 0) {
        m_throughput->setPoints({});
        m_cores->setPoints({});
        return;
    }
    m_throughput->setPoints(
        {line(m_series.tasksPerSecond, 1), line(m_series.queued, 1), line(m_series.running, 1)});
    QList<QList<QPointF>> cores;
    for (const std::vector<double>& busy : m_series.busy)
        cores.append(line(busy, 100));
    m_cores->setPoints(cores);
}

} // namespace poolscope
