// Attach suites (docs/attach.md): what publishing a pool to a viewer costs
// the program, and how many task rows per second a viewer keeps up with.
//
//   attach.paired_cost  post() throughput of one ThreadPoolExecutor, published,
//                       with a viewer watching (an AttachClient + Monitor in
//                       a thread of their own, over the Unix socket) / with
//                       nobody watching (the publisher's Monitor detached: the
//                       pool then pays nothing), paired per repetition, the
//                       order alternating.
//                       With the default row budget (PublishOptions::
//                       maxRowsPerSecond, 100,000) and, for comparison,
//                       without one (paired_cost_every_row: every row sent).
//   attach.viewer_rate  the highest paced rate (tasks/s, doubling from
//                       25,000) at which the viewer receives every row, none
//                       lost, publishing every row (no budget).

#include "batches.h"
#include "bench.h"

#include <poolscope/attach.h>
#include <poolscope/monitor.h>
#include <poolscope/threadpool.h>

#include <QFile>
#include <QTemporaryDir>
#include <QThread>

#include <atomic>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <thread>

namespace bench {
namespace {

constexpr int kAttachWorkers = 2;

/// A viewer in a thread of its own: AttachClient, the AttachedPool of one
/// pool, and a Monitor ticking at 30 Hz on it, as the window has them.
class ViewerThread {
public:
    explicit ViewerThread(const QString& socketPath)
    {
        m_thread.setObjectName(QStringLiteral("bench-viewer"));
        m_thread.start();
        m_context = new QObject;
        m_context->moveToThread(&m_thread);
        bool ok = false;
        QString error;
        runThere([&] {
            m_client = new poolscope::AttachClient;
            ok = m_client->connectTo(socketPath, 10'000);
            error = m_client->errorString();
            m_monitor = new poolscope::Monitor;
        });
        if (!ok)
            throw std::runtime_error("viewer: " + error.toStdString());
    }
    ~ViewerThread()
    {
        runThere([this] {
            delete m_monitor;
            m_pool.reset();
            delete m_client;
        });
        m_context->deleteLater();
        m_thread.quit();
        m_thread.wait();
    }

    /// Watches the pool and returns once the first snapshot arrived (the
    /// publisher records the pool from then on).
    void watch(quint64 poolId)
    {
        m_updates.store(0);
        runThere([this, poolId] {
            m_pool = m_client->watch(poolId);
            if (!m_pool)
                return;
            QObject::connect(m_pool.get(), &poolscope::AttachedPool::updated, m_context,
                             [this] { m_updates.fetch_add(1); });
            m_monitor->startRun(); // each watch: a record of its own
            m_monitor->attach(m_pool.get());
        });
        Timer t;
        while (m_updates.load() == 0 && t.seconds() < 10)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (m_updates.load() == 0)
            throw std::runtime_error("viewer: no snapshot within 10 s");
    }
    /// Stops watching: the publisher detaches its Monitor.
    void unwatch()
    {
        runThere([this] {
            m_monitor->detach();
            m_pool.reset();
        });
    }
    /// Rows the viewer's record holds, and those it knows were lost.
    std::pair<quint64, quint64> rows()
    {
        std::pair<quint64, quint64> out;
        runThere([&] {
            const auto& rec = *m_monitor->record();
            // seen, not size(): past its limit the record keeps a sample
            out = {rec.stats().seen, rec.stats().lost};
        });
        return out;
    }

private:
    void runThere(const std::function<void()>& fn)
    {
        QMetaObject::invokeMethod(m_context, fn, Qt::BlockingQueuedConnection);
    }

    QThread m_thread;
    QObject* m_context = nullptr;
    poolscope::AttachClient* m_client = nullptr;
    std::unique_ptr<poolscope::AttachedPool> m_pool;
    poolscope::Monitor* m_monitor = nullptr;
    std::atomic<int> m_updates{0};
};

struct PublishedPool {
    QTemporaryDir dir;
    poolscope::ThreadPoolExecutor pool{kAttachWorkers};
    std::unique_ptr<poolscope::Publication> publication;
    explicit PublishedPool(const poolscope::PublishOptions& options = {})
    {
        qputenv("POOLSCOPE_ATTACH_DIR", QFile::encodeName(dir.path() + QStringLiteral("/attach")));
        publication = poolscope::publish(&pool, QStringLiteral("bench"), options);
    }
};

void pairedCost(Context& ctx, quint64 rowBudget, const char* name)
{
    const long long n = ctx.n(1'000'000, 2'000);
    poolscope::PublishOptions options;
    options.maxRowsPerSecond = rowBudget;
    PublishedPool p(options);
    ViewerThread viewer(p.publication->socketPath());
    auto batch = [&](bool watched) {
        if (watched)
            viewer.watch(p.publication->poolId());
        const double rate = postBatchRate(p.pool, n);
        if (watched)
            viewer.unwatch();
        return rate;
    };
    batch(false); // warm-up
    batch(true);
    Samples ratio, plain, with;
    for (int r = 0; r < ctx.reps; ++r) {
        double without = 0, watched = 0;
        if (r % 2 == 0) {
            without = batch(false);
            watched = batch(true);
        } else {
            watched = batch(true);
            without = batch(false);
        }
        ratio.add(watched / without);
        plain.add(without);
        with.add(watched);
    }
    char note[400];
    std::snprintf(note, sizeof note,
                  "N=%lld post() on one ThreadPoolExecutor(%d), published (row budget %s), "
                  "median of per-repetition ratios with a viewer watching (AttachClient + "
                  "Monitor in another thread) / nobody watching (median %.2f vs %.2f M tasks/s)",
                  n, kAttachWorkers,
                  rowBudget ? QByteArray::number(rowBudget).append(" rows/s").constData()
                            : "none: every row",
                  with.median() / 1e6, plain.median() / 1e6);
    ctx.report(name, ratio, "x", note);
}

void pairedCostSuite(Context& ctx)
{
    pairedCost(ctx, poolscope::PublishOptions{}.maxRowsPerSecond, "attach.paired_cost.post");
    pairedCost(ctx, 0, "attach.paired_cost_every_row.post");
}

/// Posts `rate` no-op tasks a second for `seconds`, paced in 1 ms slices.
quint64 postPaced(poolscope::ThreadPoolExecutor& pool, double rate, double seconds)
{
    Timer t;
    quint64 posted = 0;
    for (double now = 0; now < seconds; now = t.seconds()) {
        const auto due = quint64(rate * now);
        while (posted < due) {
            pool.post([] {});
            ++posted;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    return posted;
}

void viewerRateSuite(Context& ctx)
{
    const double seconds = ctx.quick ? 0.2 : 1.0;
    poolscope::PublishOptions options;
    options.maxRowsPerSecond = 0; // every row: what the viewer can take
    PublishedPool p(options);
    ViewerThread viewer(p.publication->socketPath());
    Samples lossless;
    double firstLossy = 0;
    for (int r = 0; r < ctx.reps; ++r) {
        double best = 0;
        for (double rate = 25'000; rate <= 6'400'000; rate *= 2) {
            viewer.watch(p.publication->poolId());
            const quint64 n = postPaced(p.pool, rate, seconds);
            p.pool.waitForIdle();
            Timer t;
            std::pair<quint64, quint64> got;
            while ((got = viewer.rows()).first + got.second < n && t.seconds() < 60)
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            viewer.unwatch();
            if (got.first + got.second < n)
                throw std::runtime_error("viewer: rows missing after 60 s");
            if (got.second > 0) {
                if (firstLossy == 0 || rate < firstLossy)
                    firstLossy = rate;
                break;
            }
            best = rate;
        }
        lossless.add(best);
    }
    char note[320];
    std::snprintf(note, sizeof note,
                  "no-op post() tasks on ThreadPoolExecutor(%d) paced at 25k, 50k, 100k ... "
                  "tasks/s for %.1f s each, published with no row budget: the highest rate at "
                  "which the viewer received every row (none lost; first loss at %.0f/s)",
                  kAttachWorkers, seconds, firstLossy);
    ctx.report("attach.viewer_rate", lossless, "rows/s", note);
}

} // namespace

void addAttachSuites(Registry& r)
{
    r.add({"attach.paired_cost",
           "published pool: post() throughput with a viewer attached / without, paired",
           pairedCostSuite});
    r.add({"attach.viewer_rate", "task rows per second a viewer receives without loss",
           viewerRateSuite});
}

} // namespace bench
