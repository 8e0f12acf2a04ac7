#pragma once
// Executor: the common face of PoolScope's pools (Python's Executor).

#include "future.h"
#include "registry.h"
#include "telemetry.h"

#include <QObject>
#include <QString>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace poolscope {

/// Per-task options beyond Python: a display name (for queue view, timeline
/// and futures table) and a priority (higher runs first; FIFO within one).
struct TaskOptions {
    TaskOptions() = default;
    TaskOptions(QString taskName, int taskPriority = 0) // NOLINT: implicit on purpose
        : name(std::move(taskName))
        , priority(taskPriority)
    {}
    QString name;
    int priority = 0;
    /// Per-task timeout counted from the task's start. Process pools kill
    /// the worker (terminate, then kill after a grace period) and fail the
    /// future with TimeoutError; thread pools ask the task to stop
    /// (TaskContext::stopRequested) and fail it with TimeoutError if it does.
    std::optional<std::chrono::milliseconds> timeout;
};

/// Options of map(): Python's chunksize, timeout (counted from the call) and
/// buffersize (bounded number of chunks in flight; 0 = submit all at once).
struct MapOptions {
    std::size_t chunkSize = 1;
    std::optional<std::chrono::nanoseconds> timeout;
    std::size_t maxInFlight = 0;
    TaskOptions task;
};

/// Lazily submitted, ordered results of map(). Yields in submission order;
/// when a chunk raises or the deadline passes, the remaining chunks are
/// cancelled and the error is thrown from next(). Destroying it cancels what
/// has not run. Move-only; usable with range-for.
template<class R>
class MapIterator {
public:
    using SubmitChunk = std::function<Future<std::vector<R>>(std::size_t chunk)>;

    MapIterator(SubmitChunk submit, std::size_t chunks, std::size_t maxInFlight, Deadline dl)
        : m_submit(std::move(submit))
        , m_chunks(chunks)
        , m_maxInFlight(maxInFlight)
        , m_deadline(dl)
    {
        fill();
    }
    MapIterator(MapIterator&&) noexcept = default;
    MapIterator& operator=(MapIterator&&) noexcept = default;
    ~MapIterator() { cancelRest(); }

    /// Next result in input order; nullopt at the end.
    std::optional<R> next()
    {
        while (m_pos >= m_current.size()) {
            if (m_inflight.empty())
                return std::nullopt;
            Future<std::vector<R>> head = m_inflight.front();
            try {
                m_current = head.takeResultUntil(m_deadline);
            } catch (...) {
                cancelRest();
                throw;
            }
            m_inflight.pop_front();
            m_pos = 0;
            fill();
        }
        return std::move(m_current[m_pos++]);
    }

    /// Drains the rest into a vector (rethrows like next()).
    std::vector<R> toList()
    {
        std::vector<R> out;
        while (auto v = next())
            out.push_back(std::move(*v));
        return out;
    }

    /// Futures of the chunks submitted and not yet consumed.
    std::size_t inFlight() const { return m_inflight.size(); }

    class iterator {
    public:
        using value_type = R;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(MapIterator* m)
            : m_m(m)
        {
            ++*this;
        }
        const R& operator*() const { return *m_cur; }
        iterator& operator++()
        {
            m_cur = m_m->next();
            if (!m_cur)
                m_m = nullptr;
            return *this;
        }
        bool operator==(const iterator& o) const { return m_m == o.m_m; }

    private:
        MapIterator* m_m = nullptr;
        std::optional<R> m_cur;
    };
    iterator begin() { return iterator(this); }
    iterator end() { return iterator(); }

private:
    void fill()
    {
        while (m_next < m_chunks && (m_maxInFlight == 0 || m_inflight.size() < m_maxInFlight))
            m_inflight.push_back(m_submit(m_next++));
    }
    void cancelRest() noexcept
    {
        for (auto& f : m_inflight)
            f.cancel();
        m_inflight.clear();
        m_next = m_chunks;
    }

    SubmitChunk m_submit;
    std::size_t m_chunks = 0;
    std::size_t m_next = 0;
    std::size_t m_maxInFlight = 0;
    Deadline m_deadline;
    std::deque<Future<std::vector<R>>> m_inflight;
    std::vector<R> m_current;
    std::size_t m_pos = 0;
};

/// Common face of both pools. Every method is thread-safe.
class Executor : public QObject, public TelemetrySource {
    Q_OBJECT
public:
    explicit Executor(QObject* parent = nullptr)
        : QObject(parent)
    {}

    /// "thread" or "process".
    virtual QString kind() const = 0;

    /// Runs a registered task (see registry.h) by name with CBOR arguments;
    /// works on every pool, so a UI can launch any workload anywhere. Unknown
    /// names, wrong arity or argument types (and process-only tasks on a
    /// thread pool) give a future that has already failed with InvalidArgument
    /// and a clear message; nothing is queued. Throws ShutdownError /
    /// BrokenExecutor like submit().
    virtual Future<QCborValue> submitNamed(const QString& name, const QCborArray& args,
                                           const TaskOptions& options = {}) = 0;
    /// A chunk: runs the task once per argument array, as ONE task on one
    /// worker (Python's map chunksize); the value is a CBOR array of the
    /// results in order, and one failure fails the whole chunk. Validation as
    /// submitNamed (the message names the bad item).
    virtual Future<QCborValue> submitNamedBatch(const QString& name, const QList<QCborArray>& items,
                                                const TaskOptions& options = {}) = 0;

protected:
    /// Throws InvalidArgument unless 1 <= n <= maxWorkersLimit() (both pools,
    /// constructor and setMaxWorkers).
    static void checkMaxWorkers(int n);
    /// Shared validation of submitNamed/submitNamedBatch: empty when fine.
    static QString validateNamed(const QString& name, const QList<QCborArray>& items,
                                 bool threadPool);

public:
    /// Python's shutdown(wait, cancel_futures). Idempotent. wait=false returns
    /// at once (queued work still runs unless cancelFutures). Later submits
    /// throw ShutdownError.
    virtual void shutdown(bool wait = true, bool cancelFutures = false) = 0;
    virtual bool isShutdown() const = 0;
    /// True when the pool can no longer run work (e.g. initializer failed).
    virtual bool isBroken() const = 0;
    /// Why the pool is broken (empty otherwise).
    virtual QString brokenReason() const = 0;

    /// Live resize: grows at once, shrinks by retiring workers after their
    /// current task. No task is lost or run twice. Throws InvalidArgument
    /// for n <= 0 or above maxWorkersLimit().
    virtual void setMaxWorkers(int n) = 0;
    virtual int maxWorkers() const = 0;
    /// Workers alive now (may lag maxWorkers() while shrinking or growing).
    virtual int workerCount() const = 0;
    static constexpr int maxWorkersLimit() { return 1024; }

    /// Stops dispatching queued tasks (running ones go on) / starts again.
    virtual void pause() = 0;
    virtual void resume() = 0;
    /// While paused: lets exactly one more queued task start (slow-motion
    /// teaching: watch one task go from queue to worker to done). No-op
    /// when not paused.
    virtual void step() = 0;
    virtual bool isPaused() const = 0;

    /// Exact counts right now.
    virtual Counters counters() const = 0;
    /// Blocks until nothing is queued or running (or the deadline passes).
    virtual bool waitForIdle(const Deadline& deadline = Deadline::never()) const = 0;

signals:
    /// A posted (fire-and-forget) task threw. Queued to the executor's thread,
    /// coalesced: at most one emission per event-loop pass, carrying the count
    /// and the latest message; the full text also goes to qWarning.
    void unhandledExceptions(int count, const QString& lastMessage);
};

namespace detail {
/// Lifecycle hook for PoolScope::attach (docs/architecture.md, "The attach
/// hook"): ThreadPoolExecutor and ProcessPoolExecutor call it at the end of
/// their constructors (created = true) and at the start of their destructors
/// (false). A plain function pointer so that core links nothing for it; set
/// once by the attach library's static initialiser when POOLSCOPE_PUBLISH=1.
using ExecutorHook = void (*)(Executor* executor, bool created);
void setExecutorHook(ExecutorHook hook) noexcept;
/// Calls the hook if one is set; never throws.
void notifyExecutorHook(Executor* executor, bool created) noexcept;
} // namespace detail

} // namespace poolscope
