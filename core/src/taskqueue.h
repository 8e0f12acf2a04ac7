#pragma once
// The pool's pending queue: FIFO within a priority, higher priority first.
// Not thread-safe; the owning pool guards it with its mutex. Holds one
// reference per node.

#include "poolscope/future.h"

#include <deque>
#include <vector>

namespace poolscope::detail {

class TaskQueue {
public:
    ~TaskQueue()
    {
        for (auto& b : m_buckets)
            for (TaskNode* n : b.q)
                n->deref();
    }
    bool empty() const { return m_size == 0; }
    std::size_t size() const { return m_size; }

    void push(TaskNode* n)
    {
        // Fast path: one bucket (everyone uses the default priority).
        if (m_buckets.size() == 1 && m_buckets.front().priority == n->priority) {
            m_buckets.front().q.push_back(n);
        } else {
            auto it = m_buckets.begin();
            while (it != m_buckets.end() && it->priority > n->priority)
                ++it;
            if (it == m_buckets.end() || it->priority != n->priority)
                it = m_buckets.insert(it, Bucket{n->priority, {}});
            it->q.push_back(n);
        }
        ++m_size;
    }

    /// Puts a node back at the head of its priority (a task a dead worker
    /// never started goes first again).
    void pushFront(TaskNode* n)
    {
        push(n);
        for (auto& b : m_buckets) {
            if (b.priority == n->priority) {
                b.q.pop_back();
                b.q.push_front(n);
                break;
            }
        }
    }

    /// Highest-priority, oldest node, or nullptr.
    TaskNode* pop()
    {
        for (auto& b : m_buckets) {
            if (!b.q.empty()) {
                TaskNode* n = b.q.front();
                b.q.pop_front();
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
            for (const TaskNode* n : b.q) {
                if (seen >= max)
                    return;
                if (n->state() == FutureState::Pending) {
                    fn(*n);
                    ++seen;
                }
            }
        }
    }

private:
    struct Bucket {
        int priority;
        std::deque<TaskNode*> q;
    };
    std::vector<Bucket> m_buckets;
    std::size_t m_size = 0;
};

} // namespace poolscope::detail
