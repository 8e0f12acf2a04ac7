#pragma once
// TaskGates: who decides whether a task written ahead into a process-pool
// worker's pipe runs, the worker starting it or a cancel() in the parent.
//
// Each such task gets one 64-bit word in a block of memory the parent shares
// with its workers (a memfd, inherited by each worker): (task id << 2) |
// state, state Pending when written, then Running (the worker's
// compare-and-swap before it starts the task) or Cancelled (the parent's
// compare-and-swap in Future::cancel()). Exactly one of the two wins, with no
// round trip: a cancel() that returned true is a task that never runs, as in
// Python, and a cancel() that finds the task started returns false although
// the 'started' frame has not arrived yet. The id in the word guards against
// a word freed and given to another task meanwhile. docs/architecture.md,
// "Cancelling a task written ahead".
//
// The parent's side allocates and frees words under its pool's lock; the
// block lives while the pool or any task node bound to it lives (ref counted).

#include <QString>
#include <QtGlobal>

#include <atomic>
#include <cstddef>
#include <vector>

namespace poolscope::detail {

class TaskNode;

class TaskGates {
public:
    enum State : quint64 { Pending = 1, Running = 2, Cancelled = 3 };
    static constexpr quint32 kNone = ~0u;
    /// Words in a pool's block: far more than the tasks its workers can hold
    /// written ahead; pages are touched only as words are used.
    static constexpr quint32 kDefaultCapacity = 65536;

    static constexpr quint64 word(quint64 id, State s) noexcept { return (id << 2) | s; }
    /// Each word has a cache line to itself: the parent writes the next
    /// task's word while the worker claims the current one.
    static constexpr std::size_t kStride = 64 / sizeof(quint64);
    static constexpr std::size_t bytesFor(quint32 words) noexcept
    {
        return std::size_t(words) * kStride * sizeof(quint64);
    }

    /// Creates a block of `capacity` words. Null (and *error) when the
    /// system refuses (no memfd, no memory): the pool then writes tasks
    /// ahead without gates.
    static TaskGates* create(quint32 capacity, QString* error);

    TaskGates(const TaskGates&) = delete;
    TaskGates& operator=(const TaskGates&) = delete;

    void ref() noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }
    void deref() noexcept;

    int fd() const noexcept { return m_fd; }
    quint32 capacity() const noexcept { return m_capacity; }
    std::atomic_ref<quint64> at(quint32 i) const noexcept
    {
        return std::atomic_ref<quint64>(m_words[std::size_t(i) * kStride]);
    }

    /// A free word, or kNone when all are taken. Under the pool's lock.
    quint32 acquire();
    /// Gives a word back. Under the pool's lock.
    void release(quint32 i);
    quint32 inUse() const noexcept { return m_used; }

private:
    TaskGates(int fd, quint64* words, quint32 capacity);
    ~TaskGates();

    int m_fd;
    quint64* m_words;
    quint32 m_capacity;
    quint32 m_next = 0; // words never handed out start here
    quint32 m_used = 0;
    std::vector<quint32> m_free; // handed out and given back (most recent last)
    std::atomic<int> m_refs{1};
};

/// The parent's side of freeing a task's word (the worker started it, gave
/// it back, or is gone): unbinds the node, clears the word (a cancel()
/// still holding its index then fails there and looks again) and frees it.
/// True when a cancel() had won the word: that cancel() completes the
/// future, and the task must not be sent to a worker again (bound anew, its
/// state word would look as the canceller last saw it, and the canceller
/// would cancel the node without the new word: the task would run).
/// Under the pool's lock.
bool releaseGate(TaskGates* gates, TaskNode* node);

/// The worker's side: the parent's block, mapped from an inherited fd.
class GateView {
public:
    GateView() = default;
    GateView(const GateView&) = delete;
    GateView& operator=(const GateView&) = delete;
    ~GateView();

    /// Maps `count` words from fd (and closes fd). False (and *error) when
    /// fd is not such a block.
    bool map(int fd, quint32 count, QString* error);
    bool mapped() const noexcept { return m_words != nullptr; }

    enum class Claim {
        Start,    // the word said Pending and now says Running: run it
        Skip,     // cancelled by the parent first: do not run it
        Unguarded // no such word, or it names another task: the old rule (run it)
    };
    /// The worker's compare-and-swap before it starts task `id`.
    Claim claim(quint32 index, quint64 id) noexcept;

private:
    quint64* m_words = nullptr;
    quint32 m_count = 0;
};

} // namespace poolscope::detail
