#pragma once
// Future<T>: Python's concurrent.futures.Future on top of one intrusive task
// node. The hot path (submit -> run -> result) allocates only that node; a
// QFuture<T> is made on demand by qfuture() so Qt's .then(context, ...),
// QtFuture::whenAll/whenAny and QFutureWatcher work (docs/architecture.md
// says why we do not allocate a QPromise per task).

#include "deadline.h"
#include "errors.h"

#include <QCborArray>
#include <QCborValue>
#include <QFuture>
#include <QPromise>
#include <QString>
#include <QVariant>

#include <atomic>
#include <bit>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

namespace poolscope {

/// Python's future states: PENDING -> RUNNING -> FINISHED, or CANCELLED.
enum class FutureState : int { Pending = 0, Running = 1, Finished = 2, Cancelled = 3 };

/// How a task ended, as telemetry reports it.
enum class TaskStatus : quint8 { Succeeded = 0, Failed = 1, Cancelled = 2 };

const char* nameOf(FutureState s) noexcept;
const char* nameOf(TaskStatus s) noexcept;

class SimulatedGil;
namespace detail {
class TaskNode;
struct WorkerSlot;
} // namespace detail

/// What a running task can see of itself. A callable whose first parameter is
/// `poolscope::TaskContext&` receives it; others do not pay for it.
class TaskContext {
public:
    /// True once someone called Future::requestStop() on this task. A task
    /// that sees this and returns (or throws) ends CANCELLED.
    bool stopRequested() const noexcept;
    /// Throws CancelledError if a stop was requested.
    void throwIfStopRequested() const;
    /// In-task progress. Stored in the worker's slot (one relaxed store), read
    /// by the monitor at its own rate, so a tight loop cannot flood anything.
    void setProgress(qint64 value, qint64 maximum) noexcept;
    void setProgress(double fraction) noexcept;
    quint64 taskId() const noexcept;
    /// Index of the worker running the task (stable for the worker's life).
    int workerIndex() const noexcept;

    /// Simulated GIL (gil.h). "Interpreted" code calls this often, as
    /// CPython's eval loop checks its eval breaker: when this thread has held
    /// the GIL for a switch interval and another thread waits, it hands the
    /// GIL over and waits to get it back. No-op when the pool has no GIL.
    void gilCheckpoint() noexcept;
    /// RAII: gives the GIL up for sleep, I/O or a "native" kernel and takes
    /// it back at scope exit (the wait counts as GIL wait). No-op without GIL.
    class GilRelease {
    public:
        explicit GilRelease(TaskContext& ctx) noexcept;
        ~GilRelease();
        GilRelease(const GilRelease&) = delete;
        GilRelease& operator=(const GilRelease&) = delete;

    private:
        TaskContext& m_ctx;
        bool m_released = false;
    };
    /// Nanoseconds this task has waited for the GIL so far.
    qint64 gilWaitNs() const noexcept { return m_gilWaitNs; }
    bool hasGil() const noexcept { return m_gil != nullptr; }

    // Used by executors.
    TaskContext(detail::TaskNode* node, detail::WorkerSlot* slot,
                SimulatedGil* gil = nullptr) noexcept
        : m_node(node)
        , m_slot(slot)
        , m_gil(gil)
    {}
    void addGilWait(qint64 ns) noexcept { m_gilWaitNs += ns; }

private:
    detail::TaskNode* m_node;
    detail::WorkerSlot* m_slot;
    SimulatedGil* m_gil = nullptr;
    qint64 m_gilWaitNs = 0;
};

namespace detail {

class TaskGates;

/// Told when a queued node is cancelled (Future::cancel()/requestStop() while
/// pending, from any thread, with no pool lock held). recordCancelled() comes
/// first, before the pool's cancel counter moves, so a pool can record the
/// task (a Monitor that sees the count also finds the row); then
/// pendingCancelled(), so a pool can wake threads waiting for it to become
/// idle: the pool's queued count just dropped without any worker noticing.
/// Must not throw.
class CancelHook {
public:
    virtual void recordCancelled(const TaskNode& node) noexcept = 0;
    virtual void pendingCancelled() noexcept = 0;

protected:
    ~CancelHook() = default;
};

/// One submitted task: state machine, outcome, callbacks, waiters.
/// Reference counted; the queue holds one reference, each future one.
/// How a result value is held in the run record (recording.h): a scalar's
/// bits, or text.
enum class ValueKind : quint8 { None = 0, Int = 1, UInt = 2, Double = 3, Bool = 4, Text = 5 };

class TaskNode {
public:
    using Callback = std::function<void(TaskNode&)>;

    TaskNode() = default;
    TaskNode(const TaskNode&) = delete;
    TaskNode& operator=(const TaskNode&) = delete;
    virtual ~TaskNode();

    // Nodes are recycled through small per-thread caches of same-size blocks
    // (future.cpp). A node is usually made by the submitting thread and freed
    // by a worker; glibc's per-thread cache cannot recycle that, so every
    // node went through malloc's shared arena and its lock, which was the
    // pool's busiest futex once its own mutex stopped convoying
    // (docs/benchmarks.md). Over-aligned nodes use the global allocator.
    static void* operator new(std::size_t size);
    static void operator delete(void* p, std::size_t size) noexcept;
    static void* operator new(std::size_t size, std::align_val_t al)
    {
        return ::operator new(size, al);
    }
    static void operator delete(void* p, std::size_t, std::align_val_t al) noexcept
    {
        // Not the sized global form: clang 14 declares it only with
        // -fsized-deallocation, which it leaves off by default.
        ::operator delete(p, al);
    }

    /// Runs the callable, stores value or exception. Never throws.
    virtual void run(TaskContext& ctx) noexcept = 0;
    /// Result as a QVariant for telemetry (cheap types only; empty otherwise).
    virtual QVariant resultVariant() const { return {}; }
    /// The result for the run record without a QVariant (a row per task,
    /// millions a second): a scalar's kind and bits, None for no value, or
    /// Text for "not a scalar: ask resultVariant()".
    virtual ValueKind scalarResult(quint64& bits) const noexcept
    {
        (void)bits;
        return ValueKind::Text;
    }
    /// Argument summary for telemetry; empty when unknown.
    virtual QString argsSummary() const { return {}; }
    /// Releases the callable and its captures (after run or when cancelled).
    virtual void dropCallable() noexcept {}
    /// Forgets a stored value (a result that came too late to count).
    virtual void dropValue() noexcept {}

    /// What a process pool sends for this task: a registered name and CBOR
    /// arguments (batch: an array of argument arrays, one result each).
    struct Remote {
        QString name;
        QCborArray args;
        bool batch = false;
    };
    /// Non-null for tasks that run in another process.
    virtual const Remote* remote() const noexcept { return nullptr; }
    /// Remote tasks: takes the worker's CBOR reply (decodes into the value,
    /// or sets error when it does not decode).
    virtual void deliver(const QCborValue& /*reply*/) noexcept {}
    /// Back to PENDING after RUNNING: only for a process pool that dispatched
    /// a task to a worker which died before starting it.
    bool unstart() noexcept;

    void ref() noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }
    void deref() noexcept
    {
        if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete this;
    }

    FutureState state() const noexcept
    {
        return static_cast<FutureState>(m_state.load(std::memory_order_acquire) & kStateMask);
    }
    bool isDone() const noexcept
    {
        const auto s = state();
        return s == FutureState::Finished || s == FutureState::Cancelled;
    }
    /// PENDING -> RUNNING; false if the task was cancelled first.
    bool tryStart() noexcept;
    /// PENDING -> CANCELLED (wakes waiters, runs callbacks). True also when it
    /// was already cancelled; false once running or finished (Python rules).
    bool cancelPending() noexcept;
    /// RUNNING -> FINISHED or CANCELLED; wakes waiters, runs callbacks.
    void complete(FutureState final) noexcept;
    /// Process pools (taskgates.h): a task written ahead into a worker's
    /// pipe is bound to word `index` of `gates`, which already says Pending
    /// for it; from then on cancelPending() must win that word first. False
    /// (nothing bound) when the task was cancelled first. Under the pool's
    /// lock; a node is only ever bound to one pool's block.
    bool bindGate(TaskGates* gates, quint32 index) noexcept;
    /// Undoes bindGate() (the worker started the task, gave it back, or is
    /// gone); returns the word's index for the pool to free, or ~0u when
    /// none was bound. Under the pool's lock.
    quint32 unbindGate() noexcept;
    /// The bound word's index (~0u: none).
    quint32 gateIndex() const noexcept { return m_gateIndex.load(std::memory_order_relaxed); }
    /// Blocks until done or the deadline passes; returns isDone().
    bool waitUntil(const Deadline& deadline) const noexcept;
    /// Identifies a registered callback for removeCallback(); 0 = none.
    using CallbackToken = quint64;
    /// Runs cb when done, at once (in this thread) if already done. Order
    /// kept. Returns a token for removeCallback(), or 0 if cb already ran.
    CallbackToken addCallback(Callback cb);
    /// Unregisters a callback that has not run; false if it ran (or is
    /// running), was removed already, or token is 0. wait()/asCompleted use
    /// it so that waiting repeatedly on a long task does not pile up
    /// callbacks on it (Python removes its waiters the same way).
    bool removeCallback(CallbackToken token) noexcept;
    /// Callbacks registered and not run yet (introspection and tests).
    int pendingCallbacks() const noexcept;

    std::exception_ptr error; // set by run() before complete() when it threw
    quint64 id = 0;
    quint32 nameId = 0; // interned display name, see NameTable
    qint32 priority = 0;
    qint64 submitStamp = 0;    // stamps.h; 0 when nothing recorded the pool at submit
    bool posted = false;       // fire-and-forget: nobody reads error
    bool stopObserved = false; // written by the running worker only
    std::atomic<bool> stopRequested{false};
    std::atomic<quint64>* cancelCounter = nullptr; // pool counter bumped by cancelPending()
    CancelHook* cancelHook = nullptr;              // told by cancelPending(), after cancelCounter
    qint64 timeoutNs = 0;                          // per-task timeout from TaskOptions, 0 = none
    qint64 deadlineNs = 0;                         // set by the worker at start when timeoutNs > 0
    bool timedOut = false;                         // written by the running worker only
    quint8 lostDispatches = 0;     // process pools: workers that died holding it unstarted
    TaskNode* inboxNext = nullptr; // thread pool: link in the lock-free submission inbox

private:
    static constexpr quint32 kStateMask = 0x3;
    static constexpr quint32 kWaiters = 0x4;
    static constexpr quint32 kGated = 0x8; // PENDING, written ahead: bound to a gate word
    enum class GateAnswer { Cancelled, Started, Stale };
    /// Cancels gate word `index` if it is still this task's (the worker's
    /// start races it).
    GateAnswer cancelGate(quint32 index) const noexcept;
    void finishTransition(quint32 finalState) noexcept;
    void fireCallbacks() noexcept;
    /// Takes the callback list exclusively (kCallbacksLocked) unless it is
    /// empty or fired; returns the list head, or 0 / kCallbacksFired.
    std::uintptr_t lockCallbacks() const noexcept;

    std::atomic<int> m_refs{1};
    mutable std::atomic<quint32> m_state{0};
    mutable std::atomic<std::uintptr_t> m_callbacks{0};
    TaskGates* m_gates = nullptr; // set once, by the first bindGate(); a reference
    std::atomic<quint32> m_gateIndex{~0u};
};

/// Owning smart pointer to a TaskNode.
class NodeRef {
public:
    NodeRef() = default;
    explicit NodeRef(TaskNode* n, bool adopt = false) noexcept
        : m_n(n)
    {
        if (m_n && !adopt)
            m_n->ref();
    }
    NodeRef(const NodeRef& o) noexcept
        : m_n(o.m_n)
    {
        if (m_n)
            m_n->ref();
    }
    NodeRef(NodeRef&& o) noexcept
        : m_n(std::exchange(o.m_n, nullptr))
    {}
    NodeRef& operator=(NodeRef o) noexcept
    {
        std::swap(m_n, o.m_n);
        return *this;
    }
    ~NodeRef()
    {
        if (m_n)
            m_n->deref();
    }
    TaskNode* get() const noexcept { return m_n; }
    TaskNode* operator->() const noexcept { return m_n; }
    explicit operator bool() const noexcept { return m_n != nullptr; }

private:
    TaskNode* m_n = nullptr;
};

template<class T>
constexpr bool kCheapVariant =
    std::is_arithmetic_v<
        T> || std::is_enum_v<T> || std::is_same_v<T, QString> || std::is_same_v<T, QByteArray> || std::is_same_v<T, QVariant>;

/// Node that stores a value of type T (or nothing for void).
template<class T>
class ResultNode : public TaskNode {
public:
    std::optional<T> value;
    void dropValue() noexcept override { value.reset(); }
    QVariant resultVariant() const override
    {
        if constexpr (kCheapVariant<T>) {
            if (value)
                return QVariant::fromValue(*value);
        }
        return {};
    }
    ValueKind scalarResult(quint64& bits) const noexcept override
    {
        if (!value)
            return ValueKind::None;
        if constexpr (std::is_same_v<T, bool>) {
            bits = *value ? 1 : 0;
            return ValueKind::Bool;
        } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
            bits = quint64(qint64(*value));
            return ValueKind::Int;
        } else if constexpr (std::is_integral_v<T>) {
            bits = quint64(*value);
            return ValueKind::UInt;
        } else if constexpr (std::is_floating_point_v<T>) {
            bits = std::bit_cast<quint64>(double(*value));
            return ValueKind::Double;
        } else {
            return ValueKind::Text;
        }
    }
};
template<>
class ResultNode<void> : public TaskNode {
public:
    ValueKind scalarResult(quint64&) const noexcept override { return ValueKind::None; }
};

/// Node holding the callable `fn(TaskContext&) -> T`.
template<class T, class Fn>
class CallNode final : public ResultNode<T> {
public:
    explicit CallNode(Fn&& fn)
        : m_fn(std::move(fn))
    {}
    void run(TaskContext& ctx) noexcept override
    {
        try {
            if constexpr (std::is_void_v<T>)
                (*m_fn)(ctx);
            else
                this->value.emplace((*m_fn)(ctx));
        } catch (...) {
            this->error = std::current_exception();
        }
        m_fn.reset();
    }
    void dropCallable() noexcept override { m_fn.reset(); }

private:
    std::optional<Fn> m_fn;
};

/// Wraps f(args...) or f(ctx, args...) into a callable taking TaskContext&.
template<class F, class... Args>
auto bindTask(F&& f, Args&&... args)
{
    return [fn = std::forward<F>(f), tup = std::make_tuple(std::forward<Args>(args)...)](
               TaskContext& ctx) mutable -> decltype(auto) {
        if constexpr (std::is_invocable_v<std::decay_t<F>&, TaskContext&, std::decay_t<Args>&...>)
            return std::apply([&](auto&... a) { return std::invoke(fn, ctx, a...); }, tup);
        else
            return std::apply([&](auto&... a) { return std::invoke(fn, a...); }, tup);
    };
}

template<class F, class... Args>
using TaskResultT = std::decay_t<
    decltype(std::declval<decltype(bindTask(std::declval<F>(), std::declval<Args>()...))&>()(
        std::declval<TaskContext&>()))>;

} // namespace detail

/// Type-erased future: everything but result(). wait()/asCompleted() work on it.
class FutureBase {
public:
    FutureBase() = default;
    explicit FutureBase(detail::NodeRef node)
        : m_node(std::move(node))
    {}

    bool isValid() const noexcept { return bool(m_node); }
    quint64 id() const noexcept { return m_node ? m_node->id : 0; }
    FutureState state() const noexcept { return m_node->state(); }
    bool running() const noexcept { return state() == FutureState::Running; }
    bool cancelled() const noexcept { return state() == FutureState::Cancelled; }
    bool done() const noexcept { return m_node->isDone(); }

    /// Python's cancel(): true if it was pending (now cancelled) or already
    /// cancelled; false once running or finished.
    bool cancel() noexcept { return m_node->cancelPending(); }
    /// Beyond Python: cancels a pending task, or asks a running one to stop
    /// (it sees TaskContext::stopRequested()). False if already finished.
    bool requestStop() noexcept;

    /// Waits until done; false on timeout.
    bool waitForDone() const noexcept { return m_node->waitUntil(Deadline::never()); }
    template<class Rep, class Period>
    bool waitForDone(std::chrono::duration<Rep, Period> timeout) const noexcept
    {
        return m_node->waitUntil(Deadline::after(timeout));
    }
    bool waitForDone(const Deadline& d) const noexcept { return m_node->waitUntil(d); }

    /// Python's exception(timeout): the task's exception or null; raises
    /// CancelledError if cancelled and TimeoutError if not done in time.
    std::exception_ptr exception() const { return exceptionUntil(Deadline::never()); }
    template<class Rep, class Period>
    std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const
    {
        return exceptionUntil(Deadline::after(timeout));
    }
    std::exception_ptr exceptionUntil(const Deadline& d) const;

    /// Runs fn(future) when done; at once in the caller if already done,
    /// otherwise in the thread that completes it. Callbacks run in the order
    /// added; an exception from one is logged (qWarning), never lost silently.
    void addDoneCallback(std::function<void(const FutureBase&)> fn) const;

    detail::TaskNode* node() const noexcept { return m_node.get(); }
    friend bool operator==(const FutureBase& a, const FutureBase& b) noexcept
    {
        return a.m_node.get() == b.m_node.get();
    }

protected:
    /// Waits, then throws CancelledError / TimeoutError / the task's exception.
    void checkResultUntil(const Deadline& d) const;
    detail::NodeRef m_node;
};

template<class T>
class Future : public FutureBase {
public:
    using value_type = T;
    Future() = default;
    explicit Future(detail::NodeRef node)
        : FutureBase(std::move(node))
    {}

    /// Python's result(): blocks; rethrows the task's exception (its own type);
    /// CancelledError if cancelled.
    T result() const { return resultUntil(Deadline::never()); }
    /// result(timeout): TimeoutError if not done in time; the task keeps running.
    template<class Rep, class Period>
    T result(std::chrono::duration<Rep, Period> timeout) const
    {
        return resultUntil(Deadline::after(timeout));
    }
    T resultUntil(const Deadline& d) const
    {
        checkResultUntil(d);
        if constexpr (!std::is_void_v<T>)
            return *static_cast<detail::ResultNode<T>*>(m_node.get())->value;
    }
    /// Moves the value out (for move-only T); the future is then spent.
    template<class U = T, class = std::enable_if_t<!std::is_void_v<U>>>
    U takeResult()
    {
        return takeResultUntil(Deadline::never());
    }
    template<class U = T, class = std::enable_if_t<!std::is_void_v<U>>>
    U takeResultUntil(const Deadline& d)
    {
        checkResultUntil(d);
        return std::move(*static_cast<detail::ResultNode<T>*>(m_node.get())->value);
    }

    void addDoneCallback(std::function<void(const Future<T>&)> fn) const
    {
        FutureBase::addDoneCallback([fn = std::move(fn)](const FutureBase& b) {
            fn(Future<T>(detail::NodeRef(b.node())));
        });
    }

    /// A QFuture<T> that completes with this future: value, exception or
    /// cancellation. Use it with .then(context, ...), QtFuture::whenAll/whenAny
    /// and QFutureWatcher. Each call makes a new QFuture.
    QFuture<T> qfuture() const
    {
        auto promise = std::make_shared<QPromise<T>>();
        QFuture<T> f = promise->future();
        promise->start();
        m_node->addCallback([promise](detail::TaskNode& n) {
            if (n.state() == FutureState::Cancelled) {
                promise->future().cancel();
            } else if (n.error) {
                promise->setException(n.error);
            } else {
                if constexpr (!std::is_void_v<T>)
                    promise->addResult(*static_cast<detail::ResultNode<T>&>(n).value);
            }
            promise->finish();
        });
        return f;
    }
    operator QFuture<T>() const { return qfuture(); }
};

/// The producer side of a Future that no executor runs (asyncio's bare
/// Future): chain stages by completing it from a done callback. Setting a
/// value, exception or cancellation twice is ignored (first wins). A Promise
/// destroyed without a value cancels its future, so no waiter hangs.
template<class T>
class Promise {
    struct Node final : detail::ResultNode<T> {
        void run(TaskContext&) noexcept override {}
    };

public:
    Promise()
        : m_node(new Node(), /*adopt=*/true)
    {
        m_node->tryStart();
    }
    Promise(Promise&&) noexcept = default;
    Promise& operator=(Promise&&) noexcept = default;
    ~Promise()
    {
        if (m_node && !m_node->isDone())
            m_node->complete(FutureState::Cancelled);
    }
    Future<T> future() const { return Future<T>(m_node); }

    template<class U = T, class = std::enable_if_t<!std::is_void_v<U>>>
    bool setValue(U v)
    {
        if (!claim())
            return false;
        static_cast<Node*>(m_node.get())->value.emplace(std::move(v));
        m_node->complete(FutureState::Finished);
        return true;
    }
    template<class U = T, class = std::enable_if_t<std::is_void_v<U>>>
    bool setDone()
    {
        if (!claim())
            return false;
        m_node->complete(FutureState::Finished);
        return true;
    }
    bool setException(std::exception_ptr e)
    {
        if (!claim())
            return false;
        m_node->error = std::move(e);
        m_node->complete(FutureState::Finished);
        return true;
    }
    bool cancel()
    {
        if (!claim())
            return false;
        m_node->complete(FutureState::Cancelled);
        return true;
    }

private:
    bool claim() { return m_node && !m_claimed->exchange(true); }
    detail::NodeRef m_node;
    std::unique_ptr<std::atomic<bool>> m_claimed = std::make_unique<std::atomic<bool>>(false);
};

/// A future that has already failed with e (nothing runs).
template<class T>
Future<T> failedFuture(std::exception_ptr e)
{
    struct DoneNode final : detail::ResultNode<T> {
        void run(TaskContext&) noexcept override {}
    };
    auto* node = new DoneNode();
    node->error = std::move(e);
    node->tryStart();
    node->complete(FutureState::Finished);
    return Future<T>(detail::NodeRef(node, /*adopt=*/true));
}

} // namespace poolscope
