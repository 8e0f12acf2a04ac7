#pragma once
// MonitorWidget: PoolScope's live panels for a Qt Widgets application's own
// executors (installed as PoolScope::ui; docs/library.md, "Embedding the
// monitor"). Put it in a window, give it an executor, and it shows the pool
// as PoolScope's window does: a line of exact counters, then tabs for the
// workers, the queue, the timeline of which worker ran which task, the
// completed futures, the per-core CPU and the throughput. It owns a Monitor
// (one snapshot per tick, never a signal per task) and the models and views
// that take each snapshot as one batch.
//
//   poolscope::ThreadPoolExecutor pool;
//   auto* monitor = new poolscope::MonitorWidget(window);
//   monitor->setExecutor(&pool);   // setExecutor(nullptr) before the pool goes

#include <QWidget>

#include <memory>

class QLabel;
class QTabWidget;

namespace poolscope {

class Executor;
class Monitor;
struct Snapshot;

class MonitorWidget : public QWidget {
    Q_OBJECT
public:
    explicit MonitorWidget(QWidget* parent = nullptr);
    ~MonitorWidget() override;

    /// Watches `executor` (any thread or process pool, or an attached pool
    /// of another program); nullptr stops watching. The executor must stay
    /// alive while it is watched. Each new executor starts a new record.
    void setExecutor(Executor* executor);
    Executor* executor() const;
    /// Refresh period (default 100 ms).
    void setIntervalMs(int ms);
    /// The Monitor behind the panels (exports: traceData()).
    Monitor* monitor() const;

    /// "submitted 10 | queued 2 | running 4 | done 3 | failed 1 | cancelled 0".
    QString countersText() const;
    QTabWidget* tabs() const;

signals:
    /// Every panel took a snapshot.
    void updated();

private:
    void apply(const Snapshot& s);
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace poolscope
