#include "hostcpucharts.h"

#include "chartadapter.h"

#include <poolscope/cpusampler.h>

#include <QGridLayout>
#include <QLabel>
#include <QScrollArea>
#include <QSysInfo>
#include <QVBoxLayout>

#include <algorithm>

namespace poolscope {

namespace {
constexpr int kMaxPoints = 600;
constexpr int kColumns = 2; // hosts side by side, then the next row
} // namespace

HostCpuCharts::HostCpuCharts(QWidget* parent)
    : QWidget(parent)
    , m_localHost(QSysInfo::machineHostName())
{
    auto* scroll = new QScrollArea(this);
    scroll->setObjectName(QStringLiteral("hostCpuScroll"));
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    m_inner = new QWidget(scroll);
    m_grid = new QGridLayout(m_inner);
    m_grid->setContentsMargins(0, 0, 0, 0);
    m_grid->setSpacing(4);
    m_empty = new QLabel(tr("Waiting for the first CPU sample of the pool's hosts..."), m_inner);
    m_empty->setObjectName(QStringLiteral("hostCpuWaiting"));
    m_grid->addWidget(m_empty, 0, 0);
    scroll->setWidget(m_inner);
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(0, 0, 0, 0);
    lay->addWidget(scroll);
    setToolTip(tr("<p>Per-core utilisation of each host the pool's MPI ranks run on, sent by "
                  "the ranks with their heartbeats (every 500 ms) from that host's /proc/stat "
                  "deltas.</p><p>%1</p><p>The thick line is the whole host.</p>")
                   .arg(CpuSampler::formula().toHtmlEscaped()));
}

HostCpuCharts::~HostCpuCharts() = default;

const HostCpuCharts::Host* HostCpuCharts::find(const QString& host) const
{
    auto it =
        std::find_if(m_hosts.begin(), m_hosts.end(), [&](const Host& h) { return h.name == host; });
    return it == m_hosts.end() ? nullptr : &*it;
}

QStringList HostCpuCharts::hosts() const
{
    QStringList out;
    for (const Host& h : m_hosts)
        out << h.name;
    return out;
}

ChartAdapter* HostCpuCharts::chart(const QString& host) const
{
    const Host* h = find(host);
    return h ? h->chart : nullptr;
}

int HostCpuCharts::coreCount(const QString& host) const
{
    const Host* h = find(host);
    return h ? int(h->cores.size()) : 0;
}

QString HostCpuCharts::titleText(const QString& host) const
{
    const Host* h = find(host);
    return h ? h->title->text() : QString();
}

void HostCpuCharts::setLocalHost(const QString& host)
{
    m_localHost = host;
}

void HostCpuCharts::setWindow(double seconds)
{
    m_window = seconds;
    for (Host& h : m_hosts)
        h.chart->setWindow(seconds);
}

void HostCpuCharts::frameRun(const ChartAdapter::RunWindowNs& run)
{
    m_run = run;
    for (Host& h : m_hosts)
        h.chart->setRunFrame(run.inChart(m_originNs));
}

void HostCpuCharts::clear()
{
    setHosts({});
    m_originNs = -1;
}

void HostCpuCharts::rebuildChart(Host& h, const QList<int>& cores)
{
    // Lines cannot be removed from the adapter: a new core set needs a fresh one.
    auto* chart = new ChartAdapter(h.box);
    chart->setWindow(m_window);
    chart->setRunFrame(m_run.inChart(m_originNs));
    chart->setMaxPoints(kMaxPoints);
    chart->setYRange(ChartAdapter::Axis::Left, 0, 100);
    chart->setYTitle(ChartAdapter::Axis::Left, tr("% busy"));
    chart->setXTitle(tr("seconds"));
    QStringList cats;
    for (int c : cores) {
        chart->addLine(tr("cpu%1").arg(c), {}, ChartAdapter::Axis::Left, 1.2);
        cats << QString::number(c);
    }
    chart->addLine(tr("host"), palette().color(QPalette::Text), ChartAdapter::Axis::Left, 2.5);
    chart->setBarCategories(cats);
    chart->setBarRange(0, 100);
    chart->setLegendVisible(cores.size() <= 16);
    if (h.chart) {
        delete h.box->layout()->replaceWidget(h.chart, chart);
        h.chart->deleteLater();
    } else {
        h.box->layout()->addWidget(chart);
    }
    chart->show(); // at once, not when the layout gets round to it
    h.chart = chart;
    h.cores = cores;
    h.lastSampleNs = -1;
}

void HostCpuCharts::setHosts(const QStringList& names)
{
    const int before = hostCount();
    // Drop hosts that are gone (a new pool), keep the others with their points.
    for (auto it = m_hosts.begin(); it != m_hosts.end();) {
        if (names.contains(it->name)) {
            ++it;
            continue;
        }
        m_grid->removeWidget(it->box);
        it->box->deleteLater();
        it = m_hosts.erase(it);
    }
    for (const QString& name : names) {
        if (find(name))
            continue;
        Host h;
        h.name = name;
        h.box = new QWidget(m_inner);
        h.box->setObjectName(QStringLiteral("hostCpu:%1").arg(name));
        auto* lay = new QVBoxLayout(h.box);
        lay->setContentsMargins(0, 0, 0, 0);
        lay->setSpacing(1);
        h.title = new QLabel(h.box);
        h.title->setTextFormat(Qt::PlainText);
        h.title->setText(name);
        lay->addWidget(h.title);
        h.box->setMinimumHeight(150);
        rebuildChart(h, {});
        const auto pos =
            std::lower_bound(m_hosts.begin(), m_hosts.end(), name,
                             [](const Host& a, const QString& n) { return a.name < n; });
        m_hosts.insert(pos, std::move(h));
    }
    relayout();
    if (hostCount() != before || !names.isEmpty())
        emit hostsChanged(hostCount());
}

void HostCpuCharts::relayout()
{
    for (const Host& h : m_hosts)
        m_grid->removeWidget(h.box);
    m_grid->removeWidget(m_empty);
    m_empty->setVisible(m_hosts.empty());
    if (m_hosts.empty()) {
        m_grid->addWidget(m_empty, 0, 0);
        return;
    }
    const int columns = m_hosts.size() > 1 ? kColumns : 1;
    for (std::size_t i = 0; i < m_hosts.size(); ++i) {
        m_grid->addWidget(m_hosts[i].box, int(i) / columns, int(i) % columns);
        m_hosts[i].box->show();
    }
}

void HostCpuCharts::applySnapshot(const Snapshot& s)
{
    // Seconds since the Monitor attached: the timeline's origin too, so a
    // moment reads the same on every panel (issue #15).
    if (m_originNs < 0) {
        m_originNs = s.timeNs - std::max<qint64>(0, s.sinceStartNs);
        frameRun(m_run); // a frame asked for before the first snapshot
    }
    // Hosts the pool's workers run on. A host sample no worker names is
    // left out: after an MPI pool the Monitor may still carry that pool's
    // hostCpu into the snapshots of a local pool that follows it.
    QStringList names; // sorted (QMap order)
    for (auto it = s.hostCpu.cbegin(); it != s.hostCpu.cend(); ++it) {
        if (std::any_of(s.workers.cbegin(), s.workers.cend(),
                        [&](const WorkerInfo& w) { return w.host == it.key(); }))
            names << it.key();
    }
    if (names != hosts())
        setHosts(names);
    for (Host& h : m_hosts) {
        const CpuUsage& u = *s.hostCpu.constFind(h.name);
        // Ranks on this host, as the workers table shows them.
        QList<int> ranks;
        for (const WorkerInfo& w : s.workers) {
            if (w.host == h.name && w.rank >= 0 && !hasEnded(w.state))
                ranks << w.rank;
        }
        std::sort(ranks.begin(), ranks.end());
        QStringList rankTexts;
        for (int r : ranks)
            rankTexts << QString::number(r);
        QString title = h.name;
        if (h.name == m_localHost)
            title += tr(" (this machine)");
        if (!ranks.isEmpty())
            title += (ranks.size() == 1 ? tr(" - rank %1") : tr(" - ranks %1"))
                         .arg(rankTexts.join(QStringLiteral(", ")));
        if (u.valid)
            title += tr(" - %1 cores, %2 % busy")
                         .arg(u.perCore.size())
                         .arg(100.0 * std::max(0.0, u.total), 0, 'f', 0);
        if (h.title->text() != title)
            h.title->setText(title);

        if (!u.valid || u.timeNs == h.lastSampleNs)
            continue;
        const QList<int> cores = u.perCore.keys();
        if (cores != h.cores)
            rebuildChart(h, cores);
        h.lastSampleNs = u.timeNs;
        QList<double> values;
        values.reserve(cores.size() + 1);
        for (int c : cores)
            values.append(100.0 * u.perCore.value(c));
        const QList<double> bars = values;
        values.append(100.0 * std::max(0.0, u.total));
        h.chart->appendPoints(double(std::max(u.timeNs, m_originNs) - m_originNs) / 1e9, values);
        h.chart->setBarValues(bars);
    }
}

} // namespace poolscope
