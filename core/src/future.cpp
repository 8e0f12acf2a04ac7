#include "poolscope/future.h"
#include "poolscope/telemetry.h"
#include "taskgates.h"

#include <QDebug>
#include <QHash>
#include <QReadWriteLock>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <cxxabi.h>
#include <linux/futex.h>
#include <new>
#include <sys/syscall.h>
#include <thread>
#include <typeinfo>
#include <unistd.h>

namespace poolscope {

std::int64_t monotonicNs() noexcept
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string describeException(const std::exception_ptr& e)
{
    if (!e)
        return {};
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        int status = 0;
        char* dem = abi::__cxa_demangle(typeid(ex).name(), nullptr, nullptr, &status);
        std::string type = status == 0 && dem ? dem : typeid(ex).name();
        std::free(dem);
        // bad_alloc's what() repeats its name ("std::bad_alloc: std::bad_alloc").
        if (dynamic_cast<const std::bad_alloc*>(&ex)
            && std::strcmp(ex.what(), "std::bad_alloc") == 0)
            return type + ": out of memory (the limit on memory, ulimit -v, or the machine's)";
        return type + ": " + ex.what();
    } catch (...) {
        const std::type_info* t = abi::__cxa_current_exception_type();
        if (!t)
            return "unknown exception";
        int status = 0;
        char* dem = abi::__cxa_demangle(t->name(), nullptr, nullptr, &status);
        std::string type = status == 0 && dem ? dem : t->name();
        std::free(dem);
        return "exception of type " + type;
    }
}

RemoteError::RemoteError(std::string type, std::string message)
    : Error(type + ": " + message)
    , m_type(std::move(type))
    , m_message(std::move(message))
{}

std::exception_ptr rebuildException(const std::string& type, const std::string& message)
{
    using Make = std::exception_ptr (*)(const std::string&);
    // Every type here has a (const std::string&) constructor whose what() is
    // that string, so the rebuilt exception reads exactly like the original.
    static const std::pair<const char*, Make> known[] = {
        {"std::runtime_error",
         [](const std::string& m) { return std::make_exception_ptr(std::runtime_error(m)); }},
        {"std::logic_error",
         [](const std::string& m) { return std::make_exception_ptr(std::logic_error(m)); }},
        {"std::invalid_argument",
         [](const std::string& m) { return std::make_exception_ptr(std::invalid_argument(m)); }},
        {"std::domain_error",
         [](const std::string& m) { return std::make_exception_ptr(std::domain_error(m)); }},
        {"std::length_error",
         [](const std::string& m) { return std::make_exception_ptr(std::length_error(m)); }},
        {"std::out_of_range",
         [](const std::string& m) { return std::make_exception_ptr(std::out_of_range(m)); }},
        {"std::range_error",
         [](const std::string& m) { return std::make_exception_ptr(std::range_error(m)); }},
        {"std::overflow_error",
         [](const std::string& m) { return std::make_exception_ptr(std::overflow_error(m)); }},
        {"std::underflow_error",
         [](const std::string& m) { return std::make_exception_ptr(std::underflow_error(m)); }},
        {"std::bad_alloc", // its what() is fixed; describeException() says "out of memory"
         [](const std::string&) { return std::make_exception_ptr(std::bad_alloc()); }},
        {"poolscope::Error",
         [](const std::string& m) { return std::make_exception_ptr(Error(m)); }},
        {"poolscope::InvalidArgument",
         [](const std::string& m) { return std::make_exception_ptr(InvalidArgument(m)); }},
        {"poolscope::TimeoutError",
         [](const std::string& m) { return std::make_exception_ptr(TimeoutError(m)); }},
        {"poolscope::CancelledError",
         [](const std::string& m) { return std::make_exception_ptr(CancelledError(m)); }},
        {"poolscope::BrokenExecutor",
         [](const std::string& m) { return std::make_exception_ptr(BrokenExecutor(m)); }},
    };
    for (const auto& [name, make] : known) {
        if (type == name)
            return make(message);
    }
    return std::make_exception_ptr(RemoteError(type, message));
}

const char* nameOf(FutureState s) noexcept
{
    switch (s) {
    case FutureState::Pending:
        return "pending";
    case FutureState::Running:
        return "running";
    case FutureState::Finished:
        return "finished";
    case FutureState::Cancelled:
        return "cancelled";
    }
    return "?";
}

const char* nameOf(TaskStatus s) noexcept
{
    switch (s) {
    case TaskStatus::Succeeded:
        return "succeeded";
    case TaskStatus::Failed:
        return "failed";
    case TaskStatus::Cancelled:
        return "cancelled";
    }
    return "?";
}

const char* nameOf(WorkerState s) noexcept
{
    switch (s) {
    case WorkerState::Starting:
        return "starting";
    case WorkerState::Idle:
        return "idle";
    case WorkerState::Running:
        return "running";
    case WorkerState::Retiring:
        return "retiring";
    case WorkerState::Dead:
        return "dead";
    case WorkerState::Retired:
        return "retired";
    }
    return "?";
}

// ---------------------------------------------------------------- TaskContext

bool TaskContext::stopRequested() const noexcept
{
    if (m_node->deadlineNs && !m_node->timedOut && monotonicNs() >= m_node->deadlineNs)
        m_node->timedOut = true; // per-task timeout: a stop request of its own
    const bool stop =
        m_node->stopRequested.load(std::memory_order_relaxed) || m_node->timedOut
        || (m_slot && m_slot->poolStop && m_slot->poolStop->load(std::memory_order_relaxed));
    if (stop)
        m_node->stopObserved = true;
    return stop;
}

void TaskContext::throwIfStopRequested() const
{
    if (stopRequested())
        throw CancelledError("the task was asked to stop");
}

void TaskContext::setProgress(qint64 value, qint64 maximum) noexcept
{
    if (!m_slot)
        return;
    m_slot->progressMax.store(maximum, std::memory_order_relaxed);
    m_slot->progressValue.store(value, std::memory_order_relaxed);
}

void TaskContext::setProgress(double fraction) noexcept
{
    if (fraction < 0)
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    setProgress(qint64(fraction * 10000.0 + 0.5), 10000);
}

quint64 TaskContext::taskId() const noexcept
{
    return m_node->id;
}

int TaskContext::workerIndex() const noexcept
{
    return m_slot ? m_slot->index : -1;
}

// ------------------------------------------------------------------- TaskNode
namespace detail {

namespace {
struct CallbackItem {
    CallbackItem* next = nullptr;
    TaskNode::Callback fn;
    TaskNode::CallbackToken token = 0;
};
// m_callbacks holds a LIFO list of CallbackItem*, or one of these markers
// (items are aligned, so 1 and 2 are never item addresses).
constexpr std::uintptr_t kCallbacksFired = 1;  // the list ran; later adds run at once
constexpr std::uintptr_t kCallbacksLocked = 2; // removeCallback() is editing the list
std::atomic<TaskNode::CallbackToken> g_nextCallbackToken{1};

/// The short wait while another thread edits the list (a walk, no callbacks).
inline void callbackListBackoff() noexcept
{
    std::this_thread::yield();
}

long futex(std::atomic<quint32>* addr, int op, quint32 val, const timespec* ts)
{
    return syscall(SYS_futex, reinterpret_cast<quint32*>(addr), op, val, ts, nullptr, 0);
}
} // namespace

// ------------------------------------------------------------- node recycling
//
// Size classes of 64 bytes up to 512. Each thread keeps a free list per class
// (a plain thread_local, no guard on the fast path). A thread that frees more
// than it allocates (a worker) hands batches of kBatch blocks to a shared
// per-class stack; a thread that runs dry (a submitter) takes the whole stack
// at once. Batches are pushed with a CAS and only ever taken all together
// with an exchange, so the stack has no ABA problem and needs no lock. The
// shared stack holds at most kSharedMaxBytes per class; beyond that, and
// at thread exit, blocks go back to the global allocator.
//
// Under AddressSanitizer the cache is bypassed so use-after-free of a node
// is still reported.

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRecycleNodes = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kRecycleNodes = false;
#else
constexpr bool kRecycleNodes = true;
#endif
#else
constexpr bool kRecycleNodes = true;
#endif

constexpr std::size_t kGranule = 64;
constexpr std::size_t kClasses = 8; // 64 .. 512 bytes
constexpr int kBatch = 32;
constexpr int kLocalMax = 2 * kBatch;
constexpr std::size_t kSharedMaxBytes = std::size_t(2) << 20; // per size class

struct FreeBlock {
    FreeBlock* next;      // next block (in a local list or inside a batch)
    FreeBlock* nextBatch; // batch heads on the shared stack: the next batch
    FreeBlock* tail;      // batch heads: the batch's last block
};
static_assert(sizeof(FreeBlock) <= kGranule);

struct alignas(64) SharedBin {
    std::atomic<FreeBlock*> batches{nullptr};
    std::atomic<int> blocks{0};
};
SharedBin g_shared[kClasses];

// Trivial, so no TLS guard or wrapper is needed to reach it.
struct LocalCache {
    FreeBlock* head[kClasses];
    int count[kClasses];
    bool registered; // the flusher below was set up
    bool dead;       // this thread's thread_locals are being destroyed
};
thread_local LocalCache t_cache;

std::size_t blockSize(std::size_t cls)
{
    return (cls + 1) * kGranule;
}

void releaseLocal(std::size_t cls) noexcept
{
    auto& c = t_cache;
    while (FreeBlock* b = c.head[cls]) {
        c.head[cls] = b->next;
        ::operator delete(b);
    }
    c.count[cls] = 0;
}

struct CacheFlusher {
    ~CacheFlusher()
    {
        t_cache.dead = true;
        for (std::size_t cls = 0; cls < kClasses; ++cls)
            releaseLocal(cls);
    }
    void arm() noexcept { armed = true; }
    bool armed = false;
};
thread_local CacheFlusher t_flusher;

/// Moves kBatch blocks from the local list to the shared stack, or frees
/// them when the stack is full.
void spill(std::size_t cls) noexcept
{
    auto& c = t_cache;
    FreeBlock* first = c.head[cls];
    FreeBlock* last = first;
    for (int i = 1; i < kBatch; ++i)
        last = last->next;
    c.head[cls] = last->next;
    c.count[cls] -= kBatch;
    last->next = nullptr;
    SharedBin& bin = g_shared[cls];
    if (std::size_t(bin.blocks.fetch_add(kBatch, std::memory_order_relaxed)) * blockSize(cls)
        >= kSharedMaxBytes) {
        bin.blocks.fetch_sub(kBatch, std::memory_order_relaxed);
        while (first) {
            FreeBlock* next = first->next;
            ::operator delete(first);
            first = next;
        }
        return;
    }
    first->tail = last;
    FreeBlock* top = bin.batches.load(std::memory_order_relaxed);
    do {
        first->nextBatch = top;
    } while (!bin.batches.compare_exchange_weak(top, first, std::memory_order_release,
                                                std::memory_order_relaxed));
}

/// Takes every batch of the shared stack into the (empty) local list.
bool refill(std::size_t cls) noexcept
{
    SharedBin& bin = g_shared[cls];
    if (!bin.batches.load(std::memory_order_relaxed))
        return false;
    FreeBlock* list = bin.batches.exchange(nullptr, std::memory_order_acquire);
    if (!list)
        return false;
    int n = 0;
    for (FreeBlock* b = list; b; b = b->nextBatch) {
        b->tail->next = b->nextBatch; // chain the batches into one list
        n += kBatch;
    }
    bin.blocks.fetch_sub(n, std::memory_order_relaxed);
    auto& c = t_cache;
    c.head[cls] = list;
    c.count[cls] = n;
    return true;
}

} // namespace

void* TaskNode::operator new(std::size_t size)
{
    const std::size_t cls = (size - 1) / kGranule;
    if (!kRecycleNodes || cls >= kClasses)
        return ::operator new(size);
    auto& c = t_cache;
    if (!c.registered) {
        c.registered = true;
        t_flusher.arm(); // constructs it, so its destructor runs at thread exit
    }
    if (c.dead)
        return ::operator new(blockSize(cls));
    if (c.head[cls] || refill(cls)) {
        FreeBlock* b = c.head[cls];
        c.head[cls] = b->next;
        --c.count[cls];
        return b;
    }
    return ::operator new(blockSize(cls));
}

// The global deletes below are the unsized forms on purpose: clang 14 only
// declares the sized ones with -fsized-deallocation (off by default there),
// and glibc's free() does not use the size anyway.
void TaskNode::operator delete(void* p, std::size_t size) noexcept
{
    const std::size_t cls = (size - 1) / kGranule;
    if (!kRecycleNodes || cls >= kClasses) {
        ::operator delete(p);
        return;
    }
    auto& c = t_cache;
    if (!c.registered) {
        c.registered = true;
        t_flusher.arm();
    }
    if (c.dead) {
        ::operator delete(p);
        return;
    }
    auto* b = static_cast<FreeBlock*>(p);
    b->next = c.head[cls];
    c.head[cls] = b;
    if (++c.count[cls] >= kLocalMax)
        spill(cls);
}

TaskNode::~TaskNode()
{
    if (m_gates)
        m_gates->deref();
    // Callbacks never fired (node destroyed while pending: cannot happen via
    // executors, which complete every node) are freed here.
    auto head = m_callbacks.load(std::memory_order_acquire);
    if (head != kCallbacksFired) {
        auto* item = reinterpret_cast<CallbackItem*>(head);
        while (item) {
            auto* next = item->next;
            delete item;
            item = next;
        }
    }
}

bool TaskNode::tryStart() noexcept
{
    quint32 s = m_state.load(std::memory_order_relaxed);
    for (;;) {
        if ((s & kStateMask) != quint32(FutureState::Pending))
            return false;
        const quint32 n = (s & ~kStateMask) | quint32(FutureState::Running);
        if (m_state.compare_exchange_weak(s, n, std::memory_order_acq_rel))
            return true;
    }
}

bool TaskNode::unstart() noexcept
{
    quint32 s = m_state.load(std::memory_order_relaxed);
    for (;;) {
        if ((s & kStateMask) != quint32(FutureState::Running))
            return false;
        const quint32 n = (s & ~kStateMask) | quint32(FutureState::Pending);
        if (m_state.compare_exchange_weak(s, n, std::memory_order_acq_rel))
            return true;
    }
}

bool TaskNode::bindGate(TaskGates* gates, quint32 index) noexcept
{
    if (m_gates != gates) { // the first binding; a node belongs to one pool
        gates->ref();
        if (m_gates)
            m_gates->deref();
        m_gates = gates;
    }
    // The index first: a canceller that sees kGated (acquire) sees it.
    m_gateIndex.store(index, std::memory_order_relaxed);
    quint32 s = m_state.load(std::memory_order_relaxed);
    for (;;) {
        if ((s & kStateMask) != quint32(FutureState::Pending)) {
            m_gateIndex.store(TaskGates::kNone, std::memory_order_relaxed);
            return false;
        }
        if (m_state.compare_exchange_weak(s, s | kGated, std::memory_order_acq_rel))
            return true;
    }
}

quint32 TaskNode::unbindGate() noexcept
{
    quint32 s = m_state.load(std::memory_order_relaxed);
    while ((s & kGated)
           && !m_state.compare_exchange_weak(s, s & ~kGated, std::memory_order_acq_rel)) {
    }
    // Freed only now: a canceller holding the old index finds kGated gone,
    // or the word given to another task (another id), and looks again.
    return m_gateIndex.exchange(TaskGates::kNone, std::memory_order_acq_rel);
}

TaskNode::GateAnswer TaskNode::cancelGate(quint32 i) const noexcept
{
    if (i == TaskGates::kNone || !m_gates || i >= m_gates->capacity())
        return GateAnswer::Stale;
    auto w = m_gates->at(i);
    quint64 seen = TaskGates::word(id, TaskGates::Pending);
    if (w.compare_exchange_strong(seen, TaskGates::word(id, TaskGates::Cancelled))
        || seen == TaskGates::word(id, TaskGates::Cancelled))
        return GateAnswer::Cancelled; // the worker will skip it
    if (seen == TaskGates::word(id, TaskGates::Running))
        return GateAnswer::Started; // the worker has begun it: it runs
    return GateAnswer::Stale;
}

bool TaskNode::cancelPending() noexcept
{
    quint32 s = m_state.load(std::memory_order_acquire);
    // The state and word index when the gate last named another task.
    quint32 staleState = ~0u, staleIndex = ~0u;
    for (;;) {
        const auto st = FutureState(s & kStateMask);
        if (st == FutureState::Cancelled)
            return true;
        if (st != FutureState::Pending)
            return false;
        if (s & kGated) {
            // Written ahead into a worker's pipe: the worker's start and this
            // cancel race for the gate word; one of them wins (taskgates.h).
            const quint32 index = m_gateIndex.load(std::memory_order_acquire);
            const GateAnswer a = cancelGate(index);
            if (a == GateAnswer::Started)
                return false; // Python: cancel() of a running call is False
            if (a == GateAnswer::Stale && (staleState != s || staleIndex != index)) {
                // Unbound (the word is cleared when it is freed) or bound
                // again meanwhile: look again, at the word it has now. The
                // same state and the same word twice, naming another task:
                // a worker scribbled on it, and the parent's state decides.
                staleState = s;
                staleIndex = index;
                s = m_state.load(std::memory_order_acquire);
                continue;
            }
        }
        if (m_state.compare_exchange_weak(
                s, (s & ~(kStateMask | kGated)) | quint32(FutureState::Cancelled),
                std::memory_order_acq_rel))
            break;
    }
    dropCallable();
    if (cancelHook)
        cancelHook->recordCancelled(*this);
    // seq_cst: pairs with a pool's idle waiter, which registers itself and
    // then reads this counter (see ThreadPoolCore::pendingCancelled()).
    if (cancelCounter)
        cancelCounter->fetch_add(1, std::memory_order_seq_cst);
    if (cancelHook)
        cancelHook->pendingCancelled();
    if (s & kWaiters)
        futex(&m_state, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr);
    fireCallbacks();
    return true;
}

void TaskNode::complete(FutureState final) noexcept
{
    finishTransition(quint32(final));
}

void TaskNode::finishTransition(quint32 finalState) noexcept
{
    const quint32 old = m_state.exchange(finalState, std::memory_order_acq_rel);
    if (old & kWaiters)
        futex(&m_state, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr);
    fireCallbacks();
}

bool TaskNode::waitUntil(const Deadline& deadline) const noexcept
{
    for (;;) {
        quint32 s = m_state.load(std::memory_order_acquire);
        const auto st = FutureState(s & kStateMask);
        if (st == FutureState::Finished || st == FutureState::Cancelled)
            return true;
        if (!(s & kWaiters)) {
            if (!m_state.compare_exchange_weak(s, s | kWaiters, std::memory_order_acq_rel))
                continue;
            s |= kWaiters;
        }
        if (deadline.isForever()) {
            futex(&m_state, FUTEX_WAIT_PRIVATE, s, nullptr);
        } else {
            const auto rem = deadline.remaining();
            if (rem.count() <= 0)
                return isDone();
            timespec ts{time_t(rem.count() / 1000000000), long(rem.count() % 1000000000)};
            futex(&m_state, FUTEX_WAIT_PRIVATE, s, &ts);
        }
    }
}

TaskNode::CallbackToken TaskNode::addCallback(Callback cb)
{
    const CallbackToken token = g_nextCallbackToken.fetch_add(1, std::memory_order_relaxed);
    auto* item = new CallbackItem{nullptr, std::move(cb), token};
    auto head = m_callbacks.load(std::memory_order_acquire);
    for (;;) {
        if (head == kCallbacksLocked) {
            callbackListBackoff();
            head = m_callbacks.load(std::memory_order_acquire);
            continue;
        }
        // Already done: run now, in the caller. Python keys this rule off the
        // state, not off "callbacks already invoked": the completing thread
        // publishes FINISHED/CANCELLED (waking result() waiters) before it
        // takes the callback list, so a caller that saw done() (e.g. after
        // result() returned) and checked only kCallbacksFired would have its
        // callback queued and run later on the worker thread. Checking the
        // state too is race-free: a callback pushed before the state changed
        // is still taken by fireCallbacks()'s exchange.
        if (head == kCallbacksFired || isDone()) {
            try {
                item->fn(*this);
            } catch (...) {
                qWarning("poolscope: done callback of task %llu threw: %s",
                         static_cast<unsigned long long>(id),
                         describeException(std::current_exception()).c_str());
            }
            delete item;
            return 0;
        }
        item->next = reinterpret_cast<CallbackItem*>(head);
        if (m_callbacks.compare_exchange_weak(head, reinterpret_cast<std::uintptr_t>(item),
                                              std::memory_order_acq_rel))
            return token; // not item->token: once published, a worker may run and free it
    }
}

std::uintptr_t TaskNode::lockCallbacks() const noexcept
{
    auto head = m_callbacks.load(std::memory_order_acquire);
    for (;;) {
        if (head == 0 || head == kCallbacksFired)
            return head;
        if (head == kCallbacksLocked) {
            callbackListBackoff();
            head = m_callbacks.load(std::memory_order_acquire);
            continue;
        }
        if (m_callbacks.compare_exchange_weak(head, kCallbacksLocked, std::memory_order_acq_rel))
            return head;
    }
}

bool TaskNode::removeCallback(CallbackToken token) noexcept
{
    if (token == 0)
        return false;
    const auto head = lockCallbacks();
    if (head == 0 || head == kCallbacksFired)
        return false;
    // We own the list: adders and fireCallbacks() wait while it is locked.
    CallbackItem* removed = nullptr;
    auto* first = reinterpret_cast<CallbackItem*>(head);
    CallbackItem** link = &first;
    for (CallbackItem* it = first; it; it = it->next) {
        if (it->token == token) {
            *link = it->next;
            removed = it;
            break;
        }
        link = &it->next;
    }
    m_callbacks.store(reinterpret_cast<std::uintptr_t>(first), std::memory_order_release);
    delete removed; // outside the lock: the callable's captures may do anything
    return removed != nullptr;
}

int TaskNode::pendingCallbacks() const noexcept
{
    const auto head = lockCallbacks();
    if (head == 0 || head == kCallbacksFired)
        return 0;
    int n = 0;
    for (auto* it = reinterpret_cast<CallbackItem*>(head); it; it = it->next)
        ++n;
    m_callbacks.store(head, std::memory_order_release);
    return n;
}

void TaskNode::fireCallbacks() noexcept
{
    auto head = m_callbacks.load(std::memory_order_acquire);
    for (;;) {
        if (head == kCallbacksLocked) { // a removeCallback() walk; short
            callbackListBackoff();
            head = m_callbacks.load(std::memory_order_acquire);
            continue;
        }
        if (m_callbacks.compare_exchange_weak(head, kCallbacksFired, std::memory_order_acq_rel))
            break;
    }
    if (head == 0 || head == kCallbacksFired)
        return;
    // The list is LIFO; reverse it so callbacks run in the order added.
    CallbackItem* rev = nullptr;
    for (auto* it = reinterpret_cast<CallbackItem*>(head); it;) {
        auto* next = it->next;
        it->next = rev;
        rev = it;
        it = next;
    }
    while (rev) {
        auto* next = rev->next;
        try {
            rev->fn(*this);
        } catch (...) {
            qWarning("poolscope: done callback of task %llu threw: %s",
                     static_cast<unsigned long long>(id),
                     describeException(std::current_exception()).c_str());
        }
        delete rev;
        rev = next;
    }
}

} // namespace detail

// ----------------------------------------------------------------- FutureBase

bool FutureBase::requestStop() noexcept
{
    if (m_node->cancelPending())
        return true;
    if (m_node->isDone())
        return false;
    m_node->stopRequested.store(true, std::memory_order_relaxed);
    return !m_node->isDone();
}

void FutureBase::checkResultUntil(const Deadline& d) const
{
    if (!m_node)
        throw InvalidArgument("result() on an invalid (default-constructed) future");
    if (!m_node->waitUntil(d))
        throw TimeoutError("the future did not finish within the timeout");
    if (m_node->state() == FutureState::Cancelled)
        throw CancelledError();
    if (m_node->error)
        std::rethrow_exception(m_node->error);
}

std::exception_ptr FutureBase::exceptionUntil(const Deadline& d) const
{
    if (!m_node)
        throw InvalidArgument("exception() on an invalid (default-constructed) future");
    if (!m_node->waitUntil(d))
        throw TimeoutError("the future did not finish within the timeout");
    if (m_node->state() == FutureState::Cancelled)
        throw CancelledError();
    return m_node->error;
}

void FutureBase::addDoneCallback(std::function<void(const FutureBase&)> fn) const
{
    if (!m_node)
        throw InvalidArgument("addDoneCallback() on an invalid future");
    if (!fn)
        throw InvalidArgument("addDoneCallback(): empty callback");
    m_node->addCallback(
        [fn = std::move(fn)](detail::TaskNode& n) { fn(FutureBase(detail::NodeRef(&n))); });
}

// ------------------------------------------------------------------ NameTable

namespace {
struct Names {
    QReadWriteLock lock;
    QHash<QString, quint32> ids;
    QList<QString> names{QStringLiteral("task")};
};
Names& names()
{
    static Names n;
    return n;
}
} // namespace

quint32 NameTable::intern(const QString& name)
{
    if (name.isEmpty())
        return 0;
    auto& n = names();
    {
        QReadLocker rl(&n.lock);
        auto it = n.ids.constFind(name);
        if (it != n.ids.cend())
            return *it;
    }
    QWriteLocker wl(&n.lock);
    auto it = n.ids.constFind(name);
    if (it != n.ids.cend())
        return *it;
    const auto id = quint32(n.names.size());
    n.names.append(name);
    n.ids.insert(name, id);
    return id;
}

QString NameTable::name(quint32 id)
{
    auto& n = names();
    QReadLocker rl(&n.lock);
    return id < quint32(n.names.size()) ? n.names.at(id) : QStringLiteral("task");
}

} // namespace poolscope
