#pragma once
// A point in time a blocking call may wait until; "never" means no limit.
// Python's timeouts count from the call, so APIs turn a duration into a
// Deadline once and hand that down.

#include <chrono>
#include <cstdint>

namespace poolscope {

using Clock = std::chrono::steady_clock;

class Deadline {
public:
    static Deadline never() { return Deadline(); }
    template<class Rep, class Period>
    static Deadline after(std::chrono::duration<Rep, Period> d)
    {
        Deadline dl;
        dl.m_forever = false;
        if (d < decltype(d)::zero())
            d = decltype(d)::zero();
        dl.m_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(d);
        return dl;
    }
    bool isForever() const { return m_forever; }
    bool expired() const { return !m_forever && Clock::now() >= m_at; }
    Clock::time_point at() const { return m_at; }
    /// Remaining time, clamped at zero; meaningless when isForever().
    std::chrono::nanoseconds remaining() const
    {
        const auto r = m_at - Clock::now();
        return r.count() > 0 ? std::chrono::duration_cast<std::chrono::nanoseconds>(r)
                             : std::chrono::nanoseconds(0);
    }

private:
    Deadline() = default;
    Clock::time_point m_at{};
    bool m_forever = true;
};

/// Monotonic nanoseconds (CLOCK_MONOTONIC), the time base of all telemetry.
std::int64_t monotonicNs() noexcept;

} // namespace poolscope
