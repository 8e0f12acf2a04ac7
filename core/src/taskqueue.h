#pragma once
// The pool's pending queue: FIFO within a priority, higher priority first.
// Not thread-safe; the owning pool guards it with its mutex. Holds one
// reference per node.
//
// Each priority is a ring buffer of node pointers that grows by doubling and
// keeps its capacity, so a steady stream of push/pop never calls malloc or
// free while the pool's mutex is held (a std::deque allocated a block every
// 64 pushes and freed one every 64 pops, under the lock: docs/benchmarks.md).
// A ring also keeps 8 pointers per cache line, so the worker that pops reads
// the submitter's writes one line per 8 tasks instead of one node each.

#include "poolscope/future.h"

#include <cstddef>
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
        for (auto& b : m_buckets)
            while (TaskNode* n = b.popFront())
                n->deref();
    }
    bool empty() const { return m_size == 0; }
    std::size_t size() const { return m_size; }

    void push(TaskNode* n)
    {
        bucketFor(n->priority).pushBack(n);
        ++m_size;
    }

    /// Puts a node back at the head of its priority (a task a dead worker
    /// never started goes first again).
    void pushFront(TaskNode* n)
    {
        bucketFor(n->priority).pushFront(n);
        ++m_size;
    }

    /// Highest-priority, oldest node, or nullptr.
    TaskNode* pop()
    {
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
};

} // namespace poolscope::detail
