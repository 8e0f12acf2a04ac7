#pragma once
// The pool's pending queue: FIFO within a priority, higher priority first.
// Not thread-safe, except its inbox (pushConcurrent, inboxHasWork): the
// owning pool guards the rest with its mutex. Holds one reference per node.
//
// Each priority is a ring buffer of node pointers that grows by doubling and
// keeps its capacity, so a steady stream of push/pop never calls malloc or
// free while the pool's mutex is held (a std::deque allocated a block every
// 64 pushes and freed one every 64 pops, under the lock: docs/benchmarks.md).
// A ring also keeps 8 pointers per cache line, so the worker that pops reads
// the submitter's writes one line per 8 tasks instead of one node each.

#include "poolscope/future.h"

#include <QtGlobal>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace poolscope::detail {

class TaskQueue {
public:
    TaskQueue() = default;
    TaskQueue(const TaskQueue&) = delete;
    TaskQueue& operator=(const TaskQueue&) = delete;
    ~TaskQueue()
    {
        drainInbox();
        for (auto& b : m_buckets)
            while (TaskNode* n = b.popFront())
                n->deref();
    }

    // ---- the inbox: the only members that are safe without the owner's lock
    //
    // A submitter may hand a node over without the pool's mutex: it goes on
    // a lock-free stack (intrusive, TaskNode::inboxNext), and every locked
    // member below first moves the stack, oldest first, into the rings. So
    // under the lock the inbox is invisible: sizes, heads and pops see every
    // node pushed before the lock was taken, in FIFO order per submitter.
    // closeInbox() makes later pushes fail (shutdown, broken pool).

    /// Lock-free. False when the inbox is closed (the node was not taken).
    /// Priority 0 only: then every node in the inbox is newer than, and of
    /// no higher priority than, a ring node of priority >= 0, so pop() need
    /// not look at the inbox while such a node is there.
    bool pushConcurrent(TaskNode* n) noexcept
    {
        Q_ASSERT(n->priority == 0);
        TaskNode* head = m_inbox.load(std::memory_order_relaxed);
        do {
            if (head == closedMark())
                return false;
            n->inboxNext = head;
            // seq_cst: the pool pairs this with its read of the sleeper
            // count (ThreadPoolExecutor::enqueue, workerMain).
        } while (!m_inbox.compare_exchange_weak(head, n, std::memory_order_seq_cst,
                                                std::memory_order_relaxed));
        return true;
    }
    /// Lock-free: whether nodes wait in the inbox (a hint for pollers; seq_cst
    /// for the pool's sleep/wake pairing).
    bool inboxHasWork() const noexcept
    {
        TaskNode* h = m_inbox.load(std::memory_order_seq_cst);
        return h != nullptr && h != closedMark();
    }

    // ---- everything below needs the owner's lock

    /// Moves the inbox in and refuses further pushConcurrent().
    void closeInbox() { adopt(m_inbox.exchange(closedMark(), std::memory_order_seq_cst)); }
    /// Moves the inbox into the rings now (the members below do it
    /// themselves when they need to).
    void drain() { drainInbox(); }

    bool empty() const
    {
        if (m_size != 0)
            return false;
        drainInbox();
        return m_size == 0;
    }
    /// Nodes in the rings, without looking at the inbox (a cheap hint).
    std::size_t ringSize() const { return m_size; }
    std::size_t size() const
    {
        drainInbox();
        return m_size;
    }

    void push(TaskNode* n)
    {
        drainInbox(); // older nodes first
        bucketFor(n->priority).pushBack(n);
        ++m_size;
    }

    /// Puts a node back at the head of its priority (a task a dead worker
    /// never started goes first again).
    void pushFront(TaskNode* n)
    {
        drainInbox();
        bucketFor(n->priority).pushFront(n);
        ++m_size;
    }

    /// Highest-priority, oldest node, or nullptr.
    TaskNode* pop()
    {
        // While the best ring node has priority >= 0 it goes first (see
        // pushConcurrent); only otherwise is the inbox worth a look. This
        // keeps workers off the inbox's cache line, which submitters write.
        for (auto& b : m_buckets) {
            if (b.count == 0)
                continue;
            if (b.priority >= 0) {
                --m_size;
                return b.popFront();
            }
            break;
        }
        drainInbox();
        if (m_size == 0)
            return nullptr;
        for (auto& b : m_buckets) {
            if (TaskNode* n = b.popFront()) {
                --m_size;
                return n;
            }
        }
        return nullptr;
    }

    /// Calls fn for the first `max` nodes still pending, in dispatch order.
    template<class Fn>
    void head(int max, Fn&& fn) const
    {
        // The inbox only matters when the rings hold fewer than `max` nodes
        // that go before it (priority >= 0). Not draining otherwise keeps a
        // monitor's 30 Hz look from walking a long inbox under the lock.
        std::size_t ahead = 0;
        for (const auto& b : m_buckets)
            if (b.priority >= 0)
                ahead += b.count;
        if (ahead < std::size_t(std::max(max, 0)))
            drainInbox();
        int seen = 0;
        for (const auto& b : m_buckets) {
            for (std::size_t i = 0; i < b.count; ++i) {
                if (seen >= max)
                    return;
                const TaskNode* n = b.at(i);
                if (n->state() == FutureState::Pending) {
                    fn(*n);
                    ++seen;
                }
            }
        }
    }

private:
    /// A ring larger than this (512 KiB) is freed when it runs empty.
    static constexpr std::size_t kKeepCap = std::size_t(1) << 16;

    /// Ring of node pointers; capacity is 0 or a power of two.
    struct Bucket {
        int priority = 0;
        std::unique_ptr<TaskNode*[]> ring;
        std::size_t cap = 0;
        std::size_t first = 0; // index of the oldest node
        std::size_t count = 0;

        TaskNode* at(std::size_t i) const { return ring[(first + i) & (cap - 1)]; }
        void pushBack(TaskNode* n)
        {
            if (count == cap)
                grow();
            ring[(first + count) & (cap - 1)] = n;
            ++count;
        }
        void pushFront(TaskNode* n)
        {
            if (count == cap)
                grow();
            first = (first + cap - 1) & (cap - 1);
            ring[first] = n;
            ++count;
        }
        TaskNode* popFront()
        {
            if (count == 0)
                return nullptr;
            TaskNode* n = ring[first];
            first = (first + 1) & (cap - 1);
            if (--count == 0 && cap > kKeepCap) {
                // A burst is over: give its memory back (rare, so the free
                // under the pool's lock does not matter).
                ring.reset();
                cap = 0;
                first = 0;
            }
            return n;
        }
        void grow()
        {
            const std::size_t ncap = cap ? cap * 2 : 64;
            std::unique_ptr<TaskNode*[]> nring(new TaskNode*[ncap]); // not zeroed
            for (std::size_t i = 0; i < count; ++i)
                nring[i] = at(i);
            ring = std::move(nring);
            cap = ncap;
            first = 0;
        }
    };

    static TaskNode* closedMark() noexcept
    {
        return reinterpret_cast<TaskNode*>(std::uintptr_t(1)); // never dereferenced
    }

    /// Under the owner's lock. Logically const: the inbox is part of the
    /// queue, moving it into the rings changes nothing a caller can observe.
    void drainInbox() const
    {
        // seq_cst (a plain load on x86): a caller that changed what
        // submitters read after their push (ThreadPoolCore::fastPush) relies
        // on seeing every push that missed the change.
        TaskNode* h = m_inbox.load(std::memory_order_seq_cst);
        if (h == nullptr || h == closedMark())
            return; // the common case costs one load
        auto* self = const_cast<TaskQueue*>(this);
        self->adopt(m_inbox.exchange(nullptr, std::memory_order_seq_cst));
    }
    /// Appends a stack taken from the inbox (newest first) oldest first.
    /// One walk over the nodes (each is a cache miss: the submitter wrote
    /// it), then the pointers are appended in reverse from a kept buffer.
    void adopt(TaskNode* newestFirst)
    {
        if (newestFirst == nullptr || newestFirst == closedMark())
            return;
        m_scratch.clear();
        for (TaskNode* n = newestFirst; n; n = n->inboxNext)
            m_scratch.push_back(n);
        Bucket& b = bucketFor(0); // inbox nodes all have priority 0
        for (auto it = m_scratch.rbegin(); it != m_scratch.rend(); ++it)
            b.pushBack(*it);
        m_size += m_scratch.size();
        if (m_scratch.capacity() > kKeepCap)
            m_scratch = {}; // a burst is over (see Bucket::popFront)
    }

    Bucket& bucketFor(int priority)
    {
        // Fast path: one bucket (everyone uses the default priority).
        if (m_buckets.size() == 1 && m_buckets.front().priority == priority)
            return m_buckets.front();
        auto it = m_buckets.begin();
        while (it != m_buckets.end() && it->priority > priority)
            ++it;
        if (it == m_buckets.end() || it->priority != priority) {
            it = m_buckets.insert(it, Bucket{});
            it->priority = priority;
        }
        return *it;
    }

    std::vector<Bucket> m_buckets; // highest priority first; kept once created
    std::size_t m_size = 0;
    std::vector<TaskNode*> m_scratch; // adopt()'s buffer, capacity kept
    // Its own cache line: submitters write it on every lock-free push, and
    // the members above are the lock holder's (false sharing cost workers
    // a miss on every pop).
    alignas(64) mutable std::atomic<TaskNode*> m_inbox{nullptr}; // newest first, or closedMark()
    char m_pad[64 - sizeof(std::atomic<TaskNode*>)] = {};
};

} // namespace poolscope::detail
