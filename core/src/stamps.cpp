#include "stamps.h"

#include <QByteArray>
#include <QFile>

#include <algorithm>
#include <thread>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace poolscope::detail {

namespace {

bool detectTicks()
{
#if defined(__x86_64__)
    const QByteArray force = qgetenv("POOLSCOPE_CLOCK");
    if (force == "monotonic")
        return false;
    // Invariant TSC: CPUID 0x80000007, EDX bit 8 (constant rate, runs in
    // every C-state).
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
        return false;
    if (!__get_cpuid(0x80000007, &a, &b, &c, &d) || !(d & (1u << 8)))
        return false;
    if (force == "tsc")
        return true; // trusted by the user (tests of the tick path)
    // The kernel's verdict: its clock source is TSC-based only when it found
    // the TSC synchronised across CPUs (or the hypervisor vouches for it).
    QFile f(QStringLiteral("/sys/devices/system/clocksource/clocksource0/current_clocksource"));
    if (!f.open(QIODevice::ReadOnly))
        return false;
    const QByteArray src = f.readAll().trimmed();
    return src == "tsc" || src == "kvm-clock" || src == "hyperv_clocksource_tsc_page";
#else
    return false;
#endif
}

} // namespace

const bool g_stampsAreTicks = detectTicks();

namespace {
struct StartPair {
    qint64 ticks;
    qint64 ns;
};
StartPair startPair()
{
#if defined(__x86_64__)
    return {qint64(__rdtsc()), monotonicNs()};
#else
    return {0, monotonicNs()};
#endif
}
const StartPair g_start = startPair();
} // namespace

double stampsPerNs()
{
    if (!g_stampsAreTicks)
        return 1.0;
#if defined(__x86_64__)
    static const double rate = [] {
        while (monotonicNs() - g_start.ns < 2'000'000)
            std::this_thread::yield();
        const StartPair now = startPair();
        return double(now.ticks - g_start.ticks) / double(now.ns - g_start.ns);
    }();
    return rate;
#else
    return 1.0;
#endif
}

bool stampsAreTicks() noexcept
{
    return g_stampsAreTicks;
}

StampConverter::StampConverter()
    : m_ticks(g_stampsAreTicks)
{
    anchor();
}

void StampConverter::reset()
{
    m_anchors.clear();
    m_seg = 0;
    anchor();
}

void StampConverter::anchor()
{
    if (!m_ticks)
        return;
#if defined(__x86_64__)
    // A pair whose two tick reads are close brackets the ns read tightly;
    // retry a few times when preempted in between.
    Anchor best{0, 0, 0};
    qint64 bestGap = -1;
    for (int i = 0; i < 5; ++i) {
        const qint64 t1 = qint64(__rdtsc());
        const qint64 ns = monotonicNs();
        const qint64 t2 = qint64(__rdtsc());
        const qint64 gap = t2 - t1;
        if (bestGap < 0 || gap < bestGap) {
            bestGap = gap;
            best = Anchor{t1 + gap / 2, ns, 0};
        }
        if (gap < 400)
            break;
    }
    if (!m_anchors.empty() && best.ticks <= m_anchors.back().ticks)
        return; // no time passed (or a TSC step backwards): keep the old one
    // Segments shorter than 0.1 ms would be all jitter: a new anchor that
    // close to the last one replaces it (the first one stays).
    if (m_anchors.size() >= 2 && best.ns - m_anchors[m_anchors.size() - 2].ns < 100'000)
        m_anchors.back() = best;
    else
        m_anchors.push_back(best);
    // Bounded: past 64k anchors (~36 min at 30 Hz) keep every other older one.
    if (m_anchors.size() > 65536) {
        std::size_t w = 0;
        for (std::size_t i = 0; i + 1 < m_anchors.size(); i += 2)
            m_anchors[w++] = m_anchors[i];
        m_anchors[w++] = m_anchors.back();
        m_anchors.resize(w);
        m_seg = 0;
        rateFrom(0);
    } else {
        rateFrom(m_anchors.size() >= 2 ? m_anchors.size() - 2 : 0);
    }
#endif
}

void StampConverter::rateFrom(std::size_t from)
{
    const std::size_t n = m_anchors.size();
    for (std::size_t i = from; i + 1 < n; ++i)
        m_anchors[i].rate = rateOf(m_anchors[i], m_anchors[i + 1]);
    if (n >= 2)
        m_anchors[n - 1].rate = m_anchors[n - 2].rate;
}

void StampConverter::ensureTwo()
{
    if (m_anchors.size() >= 2)
        return;
    // Only before the first collect: wait until a segment of 0.2 ms exists.
    const qint64 t0 = monotonicNs();
    while (monotonicNs() - t0 < 200'000)
        std::this_thread::yield();
    anchor();
}

quint64 StampConverter::rateOf(const Anchor& a, const Anchor& b)
{
    const qint64 dt = b.ticks - a.ticks;
    const qint64 dn = b.ns - a.ns;
    if (dt <= 0 || dn <= 0)
        return 0;
    return quint64((Wide(dn) << 32) / dt);
}

qint64 StampConverter::toNsSlow(qint64 stamp)
{
    ensureTwo();
    const std::size_t n = m_anchors.size();
    std::size_t i;
    if (stamp >= m_anchors[n - 1].ticks)
        i = n - 1; // past the last anchor: extrapolate
    else if (stamp >= m_anchors[n - 2].ticks)
        i = n - 2;
    else if (stamp < m_anchors[1].ticks)
        i = 0; // before the first anchor too: extrapolate backwards
    else
        i = std::size_t(std::upper_bound(m_anchors.begin(), m_anchors.end(), stamp,
                                         [](qint64 s, const Anchor& x) { return s < x.ticks; })
                        - m_anchors.begin())
            - 1;
    m_seg = i;
    return apply(m_anchors[i], stamp);
}

qint64 StampConverter::ticksToNs(qint64 ticks)
{
    if (!m_ticks)
        return ticks;
    ensureTwo();
    // The longest baseline: the rate hardly changes, the jitter divides out.
    const Anchor& a = m_anchors.front();
    const Anchor& b = m_anchors.back();
    const qint64 dt = b.ticks - a.ticks;
    if (dt <= 0)
        return 0;
    return qint64(Wide(ticks) * (b.ns - a.ns) / dt);
}

} // namespace poolscope::detail
