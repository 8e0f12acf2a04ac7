#pragma once
// Per-task time stamps for the complete run record (docs/architecture.md,
// "Time stamps").
//
// Recording every task needs three time stamps per task (submit, start,
// end). On this project's machines CLOCK_MONOTONIC goes through kvm-clock's
// vDSO path, which orders its rdtsc with a fence: three reads per task cost
// 20-40 % of post() throughput (docs/benchmarks.md, "Complete recording").
// A plain rdtsc is not ordered, overlaps the work around it, and costs next
// to nothing in throughput. So the thread pool stamps tasks in TSC ticks and
// the Monitor converts them to monotonic nanoseconds when it collects them,
// interpolating between (ticks, ns) anchors it takes on every tick.
//
// TSC ticks are used only where they are safe: x86-64 with an invariant TSC
// (CPUID) and a kernel clock source that is itself TSC-based (tsc, kvm-clock,
// Hyper-V's TSC page), i.e. where CLOCK_MONOTONIC trusts the TSC across CPUs.
// Elsewhere, or with POOLSCOPE_CLOCK=monotonic, stamps are monotonic ns and
// conversion is the identity.

#include "poolscope/deadline.h"

#include <QtGlobal>

#include <cstdint>
#include <vector>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace poolscope::detail {

__extension__ using Wide = __int128; // (ticks * ns) products overflow 64 bits

/// True when stampNow() returns TSC ticks (decided once, at start-up).
bool stampsAreTicks() noexcept;

extern const bool g_stampsAreTicks;

/// A time stamp: TSC ticks, or monotonic ns where ticks are not safe.
inline qint64 stampNow() noexcept
{
#if defined(__x86_64__)
    if (Q_LIKELY(g_stampsAreTicks))
        return qint64(__rdtsc());
#endif
    return monotonicNs();
}

/// Stamps per ns (1 when stamps are ns), measured once against
/// CLOCK_MONOTONIC over at least 2 ms since start-up (the first call may
/// wait that long). Precise to ~1e-4: for thresholds, not for conversion.
double stampsPerNs();

/// Turns stamps into monotonic ns. One per consumer (a Monitor), used on its
/// thread only: anchor() on every collect, then toNs() on what was collected.
/// Between two anchors the conversion is linear, so a stamp converts to within
/// the anchors' own read jitter (~0.1 µs) of what CLOCK_MONOTONIC said, NTP
/// slewing included. Stamps before the first anchor or after the last are
/// extrapolated with the nearest segment's rate.
class StampConverter {
public:
    StampConverter();
    /// Reads (ticks, ns) as a tight pair and appends it. Cheap (~0.1 µs).
    void anchor();
    /// Monotonic ns of a stamp (the identity when stamps are ns; 0 stays 0).
    qint64 toNs(qint64 stamp)
    {
        if (!m_ticks || stamp == 0)
            return stamp;
        const std::size_t n = m_anchors.size();
        const std::size_t i = m_seg;
        // The common case inline: the stamp is in the segment of the last.
        if (Q_LIKELY(n >= 2 && i + 1 < n && stamp >= m_anchors[i].ticks
                     && stamp < m_anchors[i + 1].ticks))
            return apply(m_anchors[i], stamp);
        return toNsSlow(stamp);
    }
    /// A task's three stamps at once (0 = unknown stays 0): the start is
    /// converted, the wait and run times as durations at the rate of the
    /// start's segment. One segment look-up per row instead of three (a
    /// submit stamp is often segments older than the start), and a task
    /// that spans an anchor keeps a run time free of the anchors' jitter.
    void rowToNs(qint64& submit, qint64& start, qint64& end)
    {
        if (!m_ticks)
            return;
        if (start == 0) { // no start: convert what there is one by one
            submit = toNs(submit);
            end = toNs(end);
            return;
        }
        const qint64 s = start;
        start = toNs(s); // sets m_seg to the start's segment
        const quint64 rate = m_anchors[m_seg].rate;
        if (submit != 0)
            submit = start - span(rate, s - submit);
        if (end != 0)
            end = start + span(rate, end - s);
    }
    /// A duration in ticks as ns (the rate over all anchors).
    qint64 ticksToNs(qint64 ticks);
    /// Anchors held (tests).
    std::size_t anchors() const { return m_anchors.size(); }
    /// Drops every anchor (a new run) and takes a fresh one.
    void reset();

private:
    struct Anchor {
        qint64 ticks;
        qint64 ns;
        /// ns per tick from this anchor to the next, in 32.32 fixed point
        /// (the last anchor repeats its segment's, to extrapolate): a
        /// conversion is then a multiply and a shift, no division (three
        /// per row, a million rows a second on the GUI thread).
        quint64 rate = 0;
    };
    static quint64 rateOf(const Anchor& a, const Anchor& b);
    static qint64 span(quint64 rate, qint64 ticks)
    {
        return qint64((Wide(ticks) * Wide(rate)) >> 32);
    }
    static qint64 apply(const Anchor& a, qint64 stamp)
    {
        // Arithmetic shift: stamps before the anchor come out negative offsets.
        return a.ns + span(a.rate, stamp - a.ticks);
    }
    qint64 toNsSlow(qint64 stamp);
    /// Recomputes the rates of the anchors from `from` on.
    void rateFrom(std::size_t from);
    void ensureTwo();

    bool m_ticks;
    std::vector<Anchor> m_anchors;
    // The segment the last stamp fell in: stamps come in runs of nearby times
    // (a drain of one worker's rows), old ones too (a long queue wait).
    std::size_t m_seg = 0;
};

} // namespace poolscope::detail
