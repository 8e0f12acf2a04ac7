#include "measure.h"

#include <mainwindow.h>
#include <models/display.h>
#include <runcontroller.h>

#include <poolscope/threadpool.h>

#include <QApplication>
#include <QDockWidget>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMetaEnum>
#include <QSysInfo>
#include <QThread>
#include <QTimer>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

namespace poolscope {

namespace {

qint64 threadCpuNs()
{
    rusage ru{};
    if (getrusage(RUSAGE_THREAD, &ru) != 0)
        return -1;
    return (qint64(ru.ru_utime.tv_sec) + ru.ru_stime.tv_sec) * 1'000'000'000
           + (qint64(ru.ru_utime.tv_usec) + ru.ru_stime.tv_usec) * 1000;
}

/// VmRSS / VmHWM from /proc/self/status, in MiB.
double statusMiB(const char* key)
{
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray& line : f.readAll().split('\n')) {
        if (line.startsWith(key)) {
            const QList<QByteArray> parts = line.simplified().split(' ');
            if (parts.size() >= 2)
                return parts[1].toDouble() / 1024.0;
        }
    }
    return -1;
}

/// Lateness of a 16 ms timer on the GUI thread, and the GUI thread's CPU.
class LagProbe : public QObject {
public:
    LagProbe()
    {
        m_timer.setTimerType(Qt::PreciseTimer);
        m_timer.setInterval(16);
        QObject::connect(&m_timer, &QTimer::timeout, this, [this] {
            const qint64 now = m_clock.nsecsElapsed();
            if (m_last >= 0)
                m_lateMs.push_back(std::max<double>(0.0, double(now - m_last) / 1e6 - 16.0));
            m_last = now;
        });
    }
    void start()
    {
        m_lateMs.clear();
        m_last = -1;
        m_clock.start();
        m_cpu0 = threadCpuNs();
        if (auto* app = dynamic_cast<TimedApplication*>(QCoreApplication::instance()))
            app->startTiming(kSlowEventMs);
        m_timer.start();
    }
    QJsonObject stop()
    {
        m_timer.stop();
        QJsonArray slow;
        QJsonObject paints;
        quint64 over = 0;
        if (auto* app = dynamic_cast<TimedApplication*>(QCoreApplication::instance())) {
            // The widgets that took longest to paint, by their longest paint.
            std::vector<std::pair<QString, TimedApplication::PaintCost>> byMax;
            for (auto it = app->paintCosts().begin(); it != app->paintCosts().end(); ++it)
                byMax.emplace_back(it.key(), it.value());
            std::sort(byMax.begin(), byMax.end(),
                      [](const auto& a, const auto& b) { return a.second.maxMs > b.second.maxMs; });
            for (std::size_t i = 0; i < std::min<std::size_t>(8, byMax.size()); ++i) {
                QJsonObject c;
                c[QStringLiteral("paints")] = qint64(byMax[i].second.count);
                c[QStringLiteral("mean_ms")] =
                    byMax[i].second.totalMs / double(std::max<quint64>(1, byMax[i].second.count));
                c[QStringLiteral("max_ms")] = byMax[i].second.maxMs;
                paints[byMax[i].first] = c;
            }
            const QMetaEnum types = QMetaEnum::fromType<QEvent::Type>();
            for (const auto& e : app->stopTiming(&over)) {
                QJsonObject o;
                o[QStringLiteral("ms")] = e.ms;
                o[QStringLiteral("cpu_ms")] = e.cpuMs;
                const char* name = types.valueToKey(e.type);
                o[QStringLiteral("event")] =
                    name ? QString::fromLatin1(name) : QString::number(e.type);
                o[QStringLiteral("receiver")] = e.receiver;
                slow.append(o);
            }
        }
        const double wall = double(m_clock.nsecsElapsed());
        const double cpu = double(threadCpuNs() - m_cpu0);
        QJsonObject o;
        o[QStringLiteral("seconds")] = wall / 1e9;
        o[QStringLiteral("gui_thread_cpu_percent")] = wall > 0 ? 100.0 * cpu / wall : 0.0;
        o[QStringLiteral("lag_samples")] = qint64(m_lateMs.size());
        o[QStringLiteral("lag_p50_ms")] = display::percentile(m_lateMs, 50);
        o[QStringLiteral("lag_p99_ms")] = display::percentile(m_lateMs, 99);
        o[QStringLiteral("lag_max_ms")] =
            m_lateMs.empty() ? 0.0 : *std::max_element(m_lateMs.begin(), m_lateMs.end());
        // Where a late timer came from: the GUI thread's longest events.
        o[QStringLiteral("events_over_%1_ms").arg(kSlowEventMs)] = qint64(over);
        o[QStringLiteral("slowest_events")] = slow;
        o[QStringLiteral("slowest_paints")] = paints;
        return o;
    }

    static constexpr int kSlowEventMs = 8;

private:
    QTimer m_timer;
    QElapsedTimer m_clock;
    qint64 m_last = -1;
    qint64 m_cpu0 = 0;
    std::vector<double> m_lateMs;
};

/// Posts n no-op tasks from its own thread, keeping at most maxQueued waiting.
class Feeder {
public:
    Feeder(ThreadPoolExecutor* pool, qint64 n)
        : m_pool(pool)
        , m_n(n)
    {
        m_thread = std::thread([this] { run(); });
    }
    ~Feeder()
    {
        m_quit = true;
        if (m_thread.joinable())
            m_thread.join();
    }
    bool finished() const { return m_done.load(); }

private:
    void run()
    {
        // The feeder stands in for load the pool makes (in the app, runs are
        // submitted by the GUI thread in batches), so it runs at the pool's
        // nice value, not above it.
        errno = 0;
        const int base = getpriority(PRIO_PROCESS, id_t(gettid()));
        if (errno == 0)
            setpriority(PRIO_PROCESS, id_t(gettid()), base + RunController::kWorkerNice);
        const TaskOptions opts(QStringLiteral("noop"));
        qint64 sent = 0;
        while (sent < m_n && !m_quit) {
            if (m_pool->counters().queued > 200'000) {
                std::this_thread::sleep_for(std::chrono::microseconds(500));
                continue;
            }
            const qint64 batch = std::min<qint64>(1000, m_n - sent);
            for (qint64 i = 0; i < batch; ++i)
                m_pool->postWith(opts, [] {});
            sent += batch;
        }
        m_done = true;
    }
    ThreadPoolExecutor* m_pool;
    qint64 m_n;
    std::atomic<bool> m_quit{false};
    std::atomic<bool> m_done{false};
    std::thread m_thread;
};

class Measurement : public QObject {
public:
    Measurement(MainWindow* w, const MeasureConfig& cfg, const QElapsedTimer& sinceMain)
        : QObject(w)
        , m_w(w)
        , m_cfg(cfg)
        , m_sinceMain(sinceMain)
    {
        m_out[QStringLiteral("qt_version")] = QString::fromLatin1(qVersion());
        m_out[QStringLiteral("platform")] = QGuiApplication::platformName();
        m_out[QStringLiteral("cpus")] = QThread::idealThreadCount();
        m_out[QStringLiteral("kernel")] = QSysInfo::kernelVersion();
#ifdef NDEBUG
        m_out[QStringLiteral("build")] = QStringLiteral("optimised (NDEBUG)");
#else
        m_out[QStringLiteral("build")] = QStringLiteral("debug (assertions on)");
#endif
        m_out[QStringLiteral("workers")] = cfg.workers;
        m_out[QStringLiteral("load")] = QStringLiteral(
            "no-op lambdas posted to the thread pool by a feeder thread (TaskOptions name "
            "'noop'); every task recorded in the run's record up to its limit");
        m_out[QStringLiteral("record_limit")] =
            qint64(w->controller()->monitor()->options().recordLimit);
    }

    void onFirstPaint()
    {
        m_w->showAllPanels(); // no panel behind another's tab while measuring
        QJsonObject s;
        s[QStringLiteral("ms_since_main")] = double(m_sinceMain.nsecsElapsed()) / 1e6;
        s[QStringLiteral("ms_since_exec")] = msSinceProcessStart();
        m_out[QStringLiteral("startup_to_first_paint")] = s;
        QStringList visible;
        for (QDockWidget* d : m_w->docks()) {
            if (d->isVisible())
                visible << d->objectName();
        }
        m_out[QStringLiteral("visible_panels")] = QJsonArray::fromStringList(visible);
        // Let the window settle, then measure idle.
        QTimer::singleShot(500, this, [this] { idle(); });
    }

private:
    void idle()
    {
        m_w->controller()->configurePool({QStringLiteral("thread"), m_cfg.workers, false, 5.0});
        m_w->setProfiling(true);
        m_probe.start();
        QTimer::singleShot(m_cfg.idleSeconds * 1000, this, [this] {
            QJsonObject o = m_probe.stop();
            o[QStringLiteral("view_cost_per_tick")] = tickCosts();
            m_out[QStringLiteral("idle")] = o;
            busy();
        });
    }

    ThreadPoolExecutor* pool() const
    {
        return dynamic_cast<ThreadPoolExecutor*>(m_w->controller()->executor());
    }

    /// Percentiles of the views' per-tick cost since the last call.
    QJsonObject tickCosts()
    {
        const auto& all = m_w->tickCosts();
        std::vector<double> wall, total, queue, workers, futures, timeline, charts, status;
        for (std::size_t i = m_costCursor; i < all.size(); ++i) {
            wall.push_back(double(all[i].wallNs) / 1e6);
            total.push_back(double(all[i].totalNs) / 1e6);
            queue.push_back(double(all[i].queueNs) / 1e6);
            workers.push_back(double(all[i].workersNs) / 1e6);
            futures.push_back(double(all[i].futuresNs) / 1e6);
            timeline.push_back(double(all[i].timelineNs) / 1e6);
            charts.push_back(double(all[i].chartsNs) / 1e6);
            status.push_back(double(all[i].statusNs) / 1e6);
        }
        m_costCursor = all.size();
        auto stats = [](const std::vector<double>& v) {
            QJsonObject o;
            o[QStringLiteral("p50_ms")] = display::percentile(v, 50);
            o[QStringLiteral("p99_ms")] = display::percentile(v, 99);
            o[QStringLiteral("max_ms")] = v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
            return o;
        };
        QJsonObject o;
        o[QStringLiteral("ticks")] = qint64(total.size());
        o[QStringLiteral("what")] = QStringLiteral(
            "GUI-thread CPU time per tick to feed each view (wall_time: the whole, wall)");
        o[QStringLiteral("wall_time")] = stats(wall);
        o[QStringLiteral("all_views")] = stats(total);
        o[QStringLiteral("queue")] = stats(queue);
        o[QStringLiteral("workers")] = stats(workers);
        o[QStringLiteral("futures")] = stats(futures);
        o[QStringLiteral("timeline")] = stats(timeline);
        o[QStringLiteral("charts")] = stats(charts);
        o[QStringLiteral("status_bar")] = stats(status);
        return o;
    }

    void busy()
    {
        ThreadPoolExecutor* tp = pool();
        if (!tp)
            return fail(QStringLiteral("no thread pool"));
        m_base = tp->counters().completed();
        m_rss0 = statusMiB("VmRSS:");
        m_w->controller()->monitor()->startRun(); // the busy phase is one run
        m_clock.start();
        m_probe.start();
        m_feeder = std::make_unique<Feeder>(tp, m_cfg.busyTasks);
        pollUntil(m_base + quint64(m_cfg.busyTasks), [this] {
            QJsonObject o = m_probe.stop();
            const double secs = double(m_clock.nsecsElapsed()) / 1e9;
            o[QStringLiteral("tasks")] = m_cfg.busyTasks;
            o[QStringLiteral("tasks_per_second")] = double(m_cfg.busyTasks) / secs;
            o[QStringLiteral("view_cost_per_tick")] = tickCosts();
            o[QStringLiteral("dropped_events")] =
                qint64(m_w->controller()->lastSnapshot().counters.droppedEvents);
            o[QStringLiteral("record")] = recordFigures();
            m_out[QStringLiteral("busy")] = o;
            m_feeder.reset();
            rss();
        });
    }

    void rss()
    {
        if (m_cfg.rssTasks <= 0)
            return finish();
        ThreadPoolExecutor* tp = pool();
        m_base = tp->counters().completed();
        // The sustained phase is a second run: the busy one goes to the ring
        // of past runs. Its record fills up (the limit) and then samples, so
        // memory must be flat from that moment on.
        m_w->controller()->monitor()->startRun();
        m_rssRunStart = statusMiB("VmRSS:");
        m_clock.start();
        m_probe.start(); // sustained load: many more lag samples than the busy phase
        m_feeder = std::make_unique<Feeder>(tp, m_cfg.rssTasks);
        m_onPoll = [this] {
            if (m_rssAtFull < 0 && m_w->controller()->monitor()->record()->sampling() > 1) {
                m_rssAtFull = statusMiB("VmRSS:");
                m_tasksAtFull = qint64(completedSeen() - m_base);
            }
        };
        pollUntil(m_base + quint64(m_cfg.rssTasks), [this] {
            QJsonObject lag = m_probe.stop();
            const double secs = double(m_clock.nsecsElapsed()) / 1e9;
            lag[QStringLiteral("tasks")] = m_cfg.rssTasks;
            lag[QStringLiteral("tasks_per_second")] = double(m_cfg.rssTasks) / secs;
            lag[QStringLiteral("view_cost_per_tick")] = tickCosts();
            m_out[QStringLiteral("sustained")] = lag;
            m_feeder.reset();
            // One more second so the views have taken the last batches.
            QTimer::singleShot(1000, this, [this] {
                QJsonObject o;
                o[QStringLiteral("tasks_after_busy_phase")] = m_cfg.rssTasks;
                o[QStringLiteral("tasks_total")] = qint64(pool()->counters().completed());
                o[QStringLiteral("seconds")] = double(m_clock.nsecsElapsed()) / 1e9;
                o[QStringLiteral("rss_before_busy_mib")] = m_rss0;
                o[QStringLiteral("rss_at_sustained_start_mib")] = m_rssRunStart;
                const double rssEnd = statusMiB("VmRSS:");
                o[QStringLiteral("rss_mib")] = rssEnd;
                o[QStringLiteral("peak_rss_mib")] = statusMiB("VmHWM:");
                // Flat once the record limit is reached: growth after it.
                o[QStringLiteral("tasks_when_record_full")] = m_tasksAtFull;
                o[QStringLiteral("rss_when_record_full_mib")] = m_rssAtFull;
                o[QStringLiteral("rss_growth_after_record_full_mib")] =
                    m_rssAtFull < 0 ? -1.0 : rssEnd - m_rssAtFull;
                o[QStringLiteral("record")] = recordFigures();
                m_out[QStringLiteral("memory")] = o;
                finish();
            });
        });
    }

    /// The run's record: what it holds, how it sampled, its memory.
    QJsonObject recordFigures() const
    {
        const Monitor* mon = m_w->controller()->monitor();
        const RunRecord& r = *mon->record();
        const RecordStats st = r.stats();
        QJsonObject o;
        o[QStringLiteral("tasks_seen")] = qint64(st.seen);
        o[QStringLiteral("rows")] = qint64(st.rows);
        o[QStringLiteral("sampled_1_in")] = qint64(st.sampling);
        o[QStringLiteral("lost")] = qint64(st.lost);
        o[QStringLiteral("note")] = r.samplingNote();
        o[QStringLiteral("bytes")] = qint64(r.bytes());
        o[QStringLiteral("bytes_per_row")] = st.rows ? double(r.bytes()) / double(st.rows) : 0.0;
        o[QStringLiteral("past_runs_kept")] = qint64(mon->pastRuns().size());
        o[QStringLiteral("past_runs_dropped")] = qint64(mon->droppedRuns());
        return o;
    }

    /// Tasks completed as of the monitor's last snapshot: the harness reads
    /// what the window has, never the pool's lock (taking it on the GUI
    /// thread while the feeder submits held the event loop up to 12 ms,
    /// lag the window itself does not have).
    quint64 completedSeen() const
    {
        return m_w->controller()->lastSnapshot().counters.completed();
    }

    void pollUntil(quint64 completed, std::function<void()> then)
    {
        auto* t = new QTimer(this);
        t->setInterval(50);
        connect(t, &QTimer::timeout, this, [this, t, completed, then] {
            if (m_onPoll)
                m_onPoll();
            if (completedSeen() >= completed && m_feeder->finished()) {
                t->deleteLater();
                then();
            }
        });
        t->start();
    }

    void finish()
    {
        QFile f(m_cfg.path);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
            std::fprintf(stderr, "poolscope: cannot write %s: %s\n", qPrintable(m_cfg.path),
                         qPrintable(f.errorString()));
            QCoreApplication::exit(1);
            return;
        }
        f.write(QJsonDocument(m_out).toJson());
        f.close();
        std::fprintf(stdout, "%s", QJsonDocument(m_out).toJson().constData());
        std::fflush(stdout);
        QCoreApplication::exit(0);
    }

    void fail(const QString& why)
    {
        std::fprintf(stderr, "poolscope: measurement failed: %s\n", qPrintable(why));
        QCoreApplication::exit(1);
    }

    MainWindow* m_w;
    MeasureConfig m_cfg;
    QElapsedTimer m_sinceMain;
    QJsonObject m_out;
    LagProbe m_probe;
    QElapsedTimer m_clock;
    std::unique_ptr<Feeder> m_feeder;
    quint64 m_base = 0;
    double m_rss0 = 0;
    double m_rssRunStart = 0;
    double m_rssAtFull = -1;
    qint64 m_tasksAtFull = -1;
    std::function<void()> m_onPoll;
    std::size_t m_costCursor = 0;
};

} // namespace

TimedApplication::TimedApplication(int& argc, char** argv)
    : QApplication(argc, argv)
{}

bool TimedApplication::notify(QObject* receiver, QEvent* event)
{
    if (!m_timing)
        return QApplication::notify(receiver, event);
    const int type = int(event->type());
    const bool paint = type == QEvent::Paint;
    if (m_depth > 0 && !paint)
        return QApplication::notify(receiver, event);
    // The receiver may be deleted by its own event: name it first.
    const QMetaObject* meta = receiver ? receiver->metaObject() : nullptr;
    const QString name = receiver ? receiver->objectName() : QString();
    const bool outermost = m_depth == 0;
    const qint64 cpu0 = outermost ? threadCpuNs() : 0;
    QElapsedTimer t;
    t.start();
    ++m_depth;
    bool result = false;
    try {
        result = QApplication::notify(receiver, event);
    } catch (...) {
        --m_depth;
        throw;
    }
    --m_depth;
    const qint64 ns = t.nsecsElapsed();
    QString who = QString::fromLatin1(meta ? meta->className() : "?");
    if (!name.isEmpty())
        who += QStringLiteral(" \"%1\"").arg(name);
    if (paint) {
        PaintCost& c = m_paint[who];
        ++c.count;
        c.totalMs += double(ns) / 1e6;
        c.maxMs = std::max(c.maxMs, double(ns) / 1e6);
    }
    if (outermost && ns >= m_thresholdNs) {
        ++m_over;
        SlowEvent e;
        e.ms = double(ns) / 1e6;
        e.cpuMs = double(threadCpuNs() - cpu0) / 1e6;
        e.type = type;
        e.receiver = who;
        m_slow.push_back(std::move(e));
        std::sort(m_slow.begin(), m_slow.end(),
                  [](const SlowEvent& a, const SlowEvent& b) { return a.ms > b.ms; });
        if (m_slow.size() > m_keep)
            m_slow.pop_back();
    }
    return result;
}

void TimedApplication::startTiming(double thresholdMs, std::size_t keep)
{
    m_slow.clear();
    m_paint.clear();
    m_over = 0;
    m_thresholdNs = qint64(thresholdMs * 1e6);
    m_keep = keep;
    m_timing = true;
}

std::vector<TimedApplication::SlowEvent> TimedApplication::stopTiming(quint64* overThreshold)
{
    m_timing = false;
    if (overThreshold)
        *overThreshold = m_over;
    return std::exchange(m_slow, {});
}

double msSinceProcessStart()
{
    QFile stat(QStringLiteral("/proc/self/stat"));
    QFile up(QStringLiteral("/proc/uptime"));
    if (!stat.open(QIODevice::ReadOnly) || !up.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray s = stat.readAll();
    const qsizetype close = s.lastIndexOf(')');
    if (close < 0)
        return -1;
    // Fields after comm start at field 3; starttime is field 22.
    const QList<QByteArray> f = s.mid(close + 2).split(' ');
    if (f.size() < 20)
        return -1;
    const double startTicks = f[19].toDouble();
    const double uptime = up.readAll().split(' ').value(0).toDouble();
    const long hz = sysconf(_SC_CLK_TCK);
    return hz > 0 ? (uptime - startTicks / double(hz)) * 1000.0 : -1;
}

void startMeasurement(MainWindow* window, const MeasureConfig& config,
                      const QElapsedTimer& sinceMain)
{
    auto* m = new Measurement(window, config, sinceMain);
    QObject::connect(
        window, &MainWindow::firstPainted, m, [m] { m->onFirstPaint(); }, Qt::SingleShotConnection);
}

} // namespace poolscope
