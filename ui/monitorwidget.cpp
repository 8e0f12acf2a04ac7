#include <poolscope/ui/monitorwidget.h>

#include "charts/percorechart.h"
#include "charts/throughputchart.h"
#include "models/futuresmodel.h"
#include "models/progressdelegate.h"
#include "models/queuemodel.h"
#include "models/workersmodel.h"
#include "timeline/timelinewidget.h"

#include <poolscope/executor.h>
#include <poolscope/monitor.h>

#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>

namespace poolscope {

struct MonitorWidget::Impl {
    Monitor* monitor = nullptr;
    QLabel* counters = nullptr;
    QTabWidget* tabs = nullptr;
    QueueModel* queue = nullptr;
    WorkersModel* workers = nullptr;
    FuturesModel* futures = nullptr;
    TimelineWidget* timeline = nullptr;
    PerCoreChart* cpu = nullptr;
    ThroughputChart* throughput = nullptr;
};

namespace {
QTableView* table(QAbstractItemModel* model, QWidget* parent)
{
    auto* view = new QTableView(parent);
    view->setModel(model);
    view->verticalHeader()->hide();
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->horizontalHeader()->setStretchLastSection(true);
    return view;
}
} // namespace

MonitorWidget::MonitorWidget(QWidget* parent)
    : QWidget(parent)
    , d(std::make_unique<Impl>())
{
    setObjectName(QStringLiteral("monitorWidget"));
    MonitorOptions mo;
    mo.intervalMs = 100;
    mo.keptRuns = 0;
    d->monitor = new Monitor(mo, this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    d->counters = new QLabel(this);
    d->counters->setObjectName(QStringLiteral("monitorCounters"));
    layout->addWidget(d->counters);
    d->tabs = new QTabWidget(this);
    layout->addWidget(d->tabs, 1);

    d->workers = new WorkersModel(this);
    QTableView* workers = table(d->workers, d->tabs);
    workers->setItemDelegateForColumn(WorkersModel::ProgressColumn,
                                      new ProgressBarDelegate(workers));
    workers->setColumnHidden(WorkersModel::HostColumn, true);
    workers->setColumnHidden(WorkersModel::RankColumn, true);
    d->tabs->addTab(workers, tr("Workers"));
    d->queue = new QueueModel(this);
    d->tabs->addTab(table(d->queue, d->tabs), tr("Queue"));
    d->timeline = new TimelineWidget(d->tabs);
    d->tabs->addTab(d->timeline, tr("Timeline"));
    d->futures = new FuturesModel(this);
    d->tabs->addTab(table(d->futures, d->tabs), tr("Futures"));
    d->cpu = new PerCoreChart(d->tabs);
    d->tabs->addTab(d->cpu, tr("CPU"));
    d->throughput = new ThroughputChart(ThroughputChart::Mode::Full, d->tabs);
    d->tabs->addTab(d->throughput, tr("Throughput"));

    connect(d->monitor, &Monitor::snapshotReady, this, &MonitorWidget::apply);
    d->counters->setText(tr("No pool watched."));
}

MonitorWidget::~MonitorWidget()
{
    d->monitor->detach();
}

void MonitorWidget::setExecutor(Executor* executor)
{
    if (executor == d->monitor->executor())
        return;
    d->monitor->detach();
    d->queue->clear();
    d->workers->clear();
    d->futures->clear();
    d->timeline->clear();
    d->cpu->clear();
    d->throughput->clear();
    if (!executor) {
        d->counters->setText(tr("No pool watched."));
        return;
    }
    d->monitor->startRun();
    d->monitor->attach(executor);
}

Executor* MonitorWidget::executor() const
{
    return d->monitor->executor();
}

void MonitorWidget::setIntervalMs(int ms)
{
    d->monitor->setIntervalMs(ms);
}

Monitor* MonitorWidget::monitor() const
{
    return d->monitor;
}

QString MonitorWidget::countersText() const
{
    return d->counters->text();
}

QTabWidget* MonitorWidget::tabs() const
{
    return d->tabs;
}

void MonitorWidget::apply(const Snapshot& s)
{
    const QLocale l;
    const Counters& c = s.counters;
    QString text = tr("%1 pool, %2 of %3 workers | submitted %4 | queued %5 | running %6 | "
                      "done %7 | failed %8 | cancelled %9")
                       .arg(s.poolKind)
                       .arg(s.workerCount)
                       .arg(s.maxWorkers)
                       .arg(l.toString(c.submitted), l.toString(c.queued), l.toString(c.running),
                            l.toString(c.succeeded), l.toString(c.failed), l.toString(c.cancelled));
    if (s.record) {
        const QString note = s.record->samplingNote();
        if (!note.isEmpty())
            text += QStringLiteral(" | ") + note;
    }
    d->counters->setText(text);
    d->queue->applySnapshot(s);
    d->workers->applySnapshot(s);
    d->futures->applySnapshot(s);
    d->timeline->applySnapshot(s);
    d->cpu->applySnapshot(s);
    d->throughput->applySnapshot(s);
    emit updated();
}

} // namespace poolscope
