#pragma once
// ThreadPoolExecutor: Python's ThreadPoolExecutor contract, plus live resize,
// pause, priorities, post() without a future, cooperative stop of running
// tasks and lock-free telemetry.

#include "executor.h"
#include "gil.h"

#include <functional>
#include <iterator>
#include <optional>

namespace poolscope {

struct ThreadPoolOptions {
    /// Default: min(32, cpus + 4), like Python 3.13. Must be 1..1024.
    std::optional<int> maxWorkers;
    /// Worker threads are named "<prefix>_<index>" (Linux shows 15 chars).
    QString threadNamePrefix = QStringLiteral("poolscope");
    /// Runs once in each new worker thread before it takes tasks. If it
    /// throws, the pool is broken (Python's BrokenThreadPool): pending and
    /// later submits fail with BrokenExecutor.
    std::function<void()> initializer;
    /// How long the destructor waits for running tasks before it asks them to
    /// stop and, after the same time again, detaches the stragglers (logged).
    /// Unset: wait as long as it takes (Python's shutdown(wait=True)).
    std::optional<std::chrono::milliseconds> destroyGrace;
    /// Simulated GIL for teaching (gil.h): every task holds it while it runs
    /// and hands it over every switch interval when another thread waits.
    bool gil = false;
    std::chrono::microseconds gilSwitchInterval{5000};
    /// Nice value added to each worker thread (Linux per-thread nice, 0..19;
    /// 0 leaves it as it is). A pool that saturates every core then yields
    /// the CPU to the program's other threads first: the PoolScope window
    /// runs its pools at 5 so its GUI thread stays responsive. Raising
    /// priority (negative values) needs privileges and is refused.
    int workerNice = 0;
};

namespace detail {
class ThreadPoolCore;
}

class ThreadPoolExecutor : public Executor {
    Q_OBJECT
public:
    explicit ThreadPoolExecutor(const ThreadPoolOptions& options = {}, QObject* parent = nullptr);
    explicit ThreadPoolExecutor(int maxWorkers, QObject* parent = nullptr);
    ~ThreadPoolExecutor() override;

    static int defaultMaxWorkers();
    /// The simulated GIL, or nullptr when the pool runs without one.
    SimulatedGil* gil() const;

    /// Python's submit(fn, *args): returns a Future of fn's result. fn may take
    /// `TaskContext&` as its first parameter. Throws ShutdownError after
    /// shutdown and BrokenExecutor on a broken pool.
    template<class F, class... Args>
    auto submit(F&& fn, Args&&... args)
    {
        return submitWith(TaskOptions{}, std::forward<F>(fn), std::forward<Args>(args)...);
    }
    template<class F, class... Args>
    auto submitWith(const TaskOptions& opts, F&& fn, Args&&... args)
    {
        using R = detail::TaskResultT<F, Args...>;
        auto bound = detail::bindTask(std::forward<F>(fn), std::forward<Args>(args)...);
        auto* node = new detail::CallNode<R, decltype(bound)>(std::move(bound));
        detail::NodeRef ref(node, /*adopt=*/true); // freed if enqueue throws
        enqueue(node, opts);                       // the queue takes its own reference
        return Future<R>(std::move(ref));
    }

    /// Fire-and-forget: no future is made. An exception is never swallowed:
    /// it is counted as failed, logged and reported by unhandledExceptions().
    template<class F, class... Args>
    void post(F&& fn, Args&&... args)
    {
        postWith(TaskOptions{}, std::forward<F>(fn), std::forward<Args>(args)...);
    }
    template<class F, class... Args>
    void postWith(const TaskOptions& opts, F&& fn, Args&&... args)
    {
        auto bound = detail::bindTask(std::forward<F>(fn), std::forward<Args>(args)...);
        auto* node = new detail::CallNode<void, PostAdapter<decltype(bound)>>(
            PostAdapter<decltype(bound)>{std::move(bound)});
        node->posted = true;
        enqueue(node, opts, /*adopt=*/true); // nobody else holds this node
    }

    /// Python's map(fn, iterable, timeout, chunksize, buffersize): results in
    /// input order. Takes the inputs by value (moved in), so the iterator
    /// outlives the caller's container safely.
    template<class F, class Container>
    auto map(F fn, Container inputs, const MapOptions& opts = {})
    {
        using In = typename Container::value_type;
        using R = std::decay_t<std::invoke_result_t<F&, const In&>>;
        static_assert(!std::is_void_v<R>, "map() needs a function that returns a value");
        if (opts.chunkSize == 0)
            throw InvalidArgument("map: chunkSize must be >= 1");
        auto data = std::make_shared<std::vector<In>>(std::make_move_iterator(inputs.begin()),
                                                      std::make_move_iterator(inputs.end()));
        const std::size_t n = data->size();
        const std::size_t chunk = opts.chunkSize;
        const std::size_t chunks = (n + chunk - 1) / chunk;
        auto submitChunk = [this, data, fn, chunk, n, task = opts.task](std::size_t c) {
            const std::size_t b = c * chunk, e = std::min(n, b + chunk);
            return submitWith(task, [data, fn, b, e]() mutable {
                std::vector<R> out;
                out.reserve(e - b);
                for (std::size_t i = b; i < e; ++i)
                    out.push_back(fn((*data)[i]));
                return out;
            });
        };
        const Deadline dl = opts.timeout ? Deadline::after(*opts.timeout) : Deadline::never();
        return MapIterator<R>(std::move(submitChunk), chunks, opts.maxInFlight, dl);
    }

    // Executor
    QString kind() const override { return QStringLiteral("thread"); }
    Future<QCborValue> submitNamed(const QString& name, const QCborArray& args,
                                   const TaskOptions& options = {}) override;
    Future<QCborValue> submitNamedBatch(const QString& name, const QList<QCborArray>& items,
                                        const TaskOptions& options = {}) override;
    void shutdown(bool wait = true, bool cancelFutures = false) override;
    bool isShutdown() const override;
    bool isBroken() const override;
    QString brokenReason() const override;
    /// Worker threads the system refused to start so far (the limit on
    /// threads, `ulimit -u`, or on memory), and why the last one was: the
    /// pool runs with fewer workers than maxWorkers() meanwhile, tries again
    /// at the next submit, and breaks (BrokenExecutor, with this reason)
    /// when it has no worker at all.
    quint64 workerStartFailures() const;
    QString workerStartError() const;
    void setMaxWorkers(int n) override;
    int maxWorkers() const override;
    int workerCount() const override;
    void pause() override;
    void resume() override;
    void step() override;
    bool isPaused() const override;
    Counters counters() const override;
    bool waitForIdle(const Deadline& deadline = Deadline::never()) const override;

    // TelemetrySource
    void setRecording(bool on) override;
    void collectTelemetry(TelemetryBatch& out, int queueHeadMax) override;
    void setStagingCapacity(std::size_t rows) override;
    bool collectGilTurns(detail::GilTurnBatch& out) override;

private:
    // Queued (by name) from a worker when a posted task threw: emits
    // unhandledExceptions() on this object's thread. By name, so the posted
    // call carries no captured data (ThreadSanitizer, docs/reliability.md).
    Q_INVOKABLE void deliverUnhandled();
    template<class B>
    struct PostAdapter {
        B b;
        void operator()(TaskContext& ctx) { (void)b(ctx); }
    };
    /// Queues node; the queue takes a reference of its own, or with adopt
    /// the caller's only one (freed here if enqueue throws): a posted node
    /// then costs no extra atomic increment and decrement.
    void enqueue(detail::TaskNode* node, const TaskOptions& opts, bool adopt = false);
    void reportUnhandled(const QString& message);

    std::shared_ptr<detail::ThreadPoolCore> m_core;
    friend class detail::ThreadPoolCore;
};

} // namespace poolscope
