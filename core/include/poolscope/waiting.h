#pragma once
// wait() and asCompleted(): Python's concurrent.futures.wait / as_completed.

#include "future.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace poolscope {

enum class ReturnWhen { FirstCompleted, FirstException, AllCompleted };

template<class F>
struct WaitResult {
    std::vector<F> done;    // input order, duplicates once
    std::vector<F> notDone; // input order, duplicates once
};

namespace detail {
template<class F>
std::vector<F> uniqueFutures(const std::vector<F>& fs)
{
    std::vector<F> out;
    out.reserve(fs.size());
    std::unordered_set<const void*> seen;
    for (const auto& f : fs) {
        if (!f.isValid())
            throw InvalidArgument("wait/asCompleted: invalid (default-constructed) future");
        if (seen.insert(f.node()).second)
            out.push_back(f);
    }
    return out;
}
inline bool finishedWithException(const TaskNode& n)
{
    return n.state() == FutureState::Finished && n.error;
}
} // namespace detail

/// Python's wait(fs, timeout, return_when): returns (done, not_done); a timeout
/// does not raise. FirstException returns at once if a finished future already
/// holds an exception and acts as AllCompleted when none raises. Cancelled
/// futures count as done.
template<class F>
WaitResult<F> waitUntil(const std::vector<F>& futures, ReturnWhen when, const Deadline& deadline)
{
    const auto fs = detail::uniqueFutures(futures);
    struct Shared {
        std::mutex m;
        std::condition_variable cv;
        std::size_t done = 0;
        bool exception = false;
    };
    auto sh = std::make_shared<Shared>();
    std::vector<detail::TaskNode::CallbackToken> tokens;
    tokens.reserve(fs.size());
    for (const auto& f : fs) {
        tokens.push_back(f.node()->addCallback([sh](detail::TaskNode& n) {
            const bool ex = detail::finishedWithException(n);
            std::lock_guard lk(sh->m);
            ++sh->done;
            sh->exception = sh->exception || ex;
            sh->cv.notify_all();
        }));
    }
    auto satisfied = [&] {
        switch (when) {
        case ReturnWhen::FirstCompleted:
            return sh->done >= 1 || fs.empty();
        case ReturnWhen::FirstException:
            return sh->exception || sh->done == fs.size();
        case ReturnWhen::AllCompleted:
            break;
        }
        return sh->done == fs.size();
    };
    {
        std::unique_lock lk(sh->m);
        if (deadline.isForever())
            sh->cv.wait(lk, satisfied);
        else
            sh->cv.wait_until(lk, deadline.at(), satisfied);
    }
    // Unregister from the futures still running, so that waiting again and
    // again on a long task does not pile callbacks up on it.
    for (std::size_t i = 0; i < fs.size(); ++i)
        fs[i].node()->removeCallback(tokens[i]);
    WaitResult<F> r;
    for (const auto& f : fs)
        (f.done() ? r.done : r.notDone).push_back(f);
    return r;
}

template<class F>
WaitResult<F> wait(const std::vector<F>& fs, ReturnWhen when = ReturnWhen::AllCompleted)
{
    return waitUntil(fs, when, Deadline::never());
}
template<class F, class Rep, class Period>
WaitResult<F> wait(const std::vector<F>& fs, ReturnWhen when,
                   std::chrono::duration<Rep, Period> timeout)
{
    return waitUntil(fs, when, Deadline::after(timeout));
}

/// Python's as_completed(fs, timeout): yields futures as they complete,
/// already-finished ones first, duplicates once. next() raises TimeoutError
/// "N (of M) futures unfinished" when the deadline (counted from the call)
/// passes. Usable with range-for.
template<class F>
class AsCompleted {
public:
    explicit AsCompleted(const std::vector<F>& futures, Deadline deadline = Deadline::never())
        : m_fs(detail::uniqueFutures(futures))
        , m_sh(std::make_shared<Shared>())
        , m_deadline(deadline)
    {
        std::vector<char> queued(m_fs.size(), 0);
        for (std::size_t i = 0; i < m_fs.size(); ++i) {
            if (m_fs[i].done()) { // already finished first, in input order
                m_sh->ready.push_back(i);
                queued[i] = 1;
            }
        }
        for (std::size_t i = 0; i < m_fs.size(); ++i) {
            if (queued[i])
                continue;
            m_tokens.push_back(m_fs[i].node()->addCallback([sh = m_sh, i](detail::TaskNode&) {
                std::lock_guard lk(sh->m);
                sh->ready.push_back(i);
                sh->cv.notify_all();
            }));
            m_tokenOwner.push_back(i);
        }
    }
    AsCompleted(const AsCompleted&) = delete;
    AsCompleted& operator=(const AsCompleted&) = delete;
    AsCompleted(AsCompleted&&) noexcept = default;
    AsCompleted& operator=(AsCompleted&&) noexcept = default;
    /// Unregisters from the futures not yet completed (an iteration given up
    /// early, e.g. after a TimeoutError, leaves nothing behind on them).
    ~AsCompleted()
    {
        for (std::size_t k = 0; k < m_tokens.size(); ++k)
            m_fs[m_tokenOwner[k]].node()->removeCallback(m_tokens[k]);
    }

    /// The next completed future, or nullopt when all have been yielded.
    std::optional<F> next()
    {
        if (m_yielded == m_fs.size())
            return std::nullopt;
        std::unique_lock lk(m_sh->m);
        auto ready = [&] { return !m_sh->ready.empty(); };
        if (m_deadline.isForever())
            m_sh->cv.wait(lk, ready);
        else if (!m_sh->cv.wait_until(lk, m_deadline.at(), ready))
            throw TimeoutError(std::to_string(m_fs.size() - m_yielded) + " (of "
                               + std::to_string(m_fs.size()) + ") futures unfinished");
        const auto i = m_sh->ready.front();
        m_sh->ready.pop_front();
        ++m_yielded;
        return m_fs[i];
    }

    class iterator {
    public:
        using value_type = F;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(AsCompleted* ac)
            : m_ac(ac)
        {
            ++*this;
        }
        const F& operator*() const { return *m_cur; }
        iterator& operator++()
        {
            m_cur = m_ac->next();
            if (!m_cur)
                m_ac = nullptr;
            return *this;
        }
        bool operator==(const iterator& o) const { return m_ac == o.m_ac; }

    private:
        AsCompleted* m_ac = nullptr;
        std::optional<F> m_cur;
    };
    iterator begin() { return iterator(this); }
    iterator end() { return iterator(); }

private:
    struct Shared {
        std::mutex m;
        std::condition_variable cv;
        std::deque<std::size_t> ready;
    };
    std::vector<F> m_fs;
    std::shared_ptr<Shared> m_sh;
    Deadline m_deadline;
    std::size_t m_yielded = 0;
    std::vector<detail::TaskNode::CallbackToken> m_tokens; // callbacks still registered
    std::vector<std::size_t> m_tokenOwner;                 // index into m_fs, per token
};

template<class F>
AsCompleted<F> asCompleted(const std::vector<F>& fs)
{
    return AsCompleted<F>(fs);
}
template<class F, class Rep, class Period>
AsCompleted<F> asCompleted(const std::vector<F>& fs, std::chrono::duration<Rep, Period> timeout)
{
    return AsCompleted<F>(fs, Deadline::after(timeout));
}

} // namespace poolscope
