#pragma once
// Internal to core/workloads: the computational kernels the demo tasks share,
// and the per-file registration functions builtin.cpp calls.
//
// "Interpreted" vs "native" (docs/architecture.md): the same kernel runs either with
// a GIL checkpoint every few microseconds (a pure-Python loop, which the eval
// loop can interrupt) or inside TaskContext::GilRelease with no checkpoint (a
// C extension such as NumPy, which drops the GIL around its loop).
#include "poolscope/future.h"

#include <QByteArray>

#include <cstdint>

namespace poolscope {

class TaskRegistry;

namespace workloads {

void registerCpuTasks(TaskRegistry& r);
void registerIoTasks(TaskRegistry& r);
void registerMixedTasks(TaskRegistry& r);

/// Whether a kernel polls the simulated GIL (interpreted) or not (native).
enum class Gil { Interpreted, Native };

/// SplitMix64 (Steele, Lea, Flood 2014): the deterministic generator every
/// workload uses for its data, so tests can recompute expected values.
inline quint64 splitmix64(quint64& state) noexcept
{
    quint64 z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/// Calls ctx.gilCheckpoint() once every 256 ticks (a few microseconds of
/// work in every kernel here), like CPython's eval breaker.
class Checkpointer {
public:
    Checkpointer(TaskContext& ctx, Gil mode) noexcept
        : m_ctx(ctx)
        , m_on(mode == Gil::Interpreted && ctx.hasGil())
    {}
    void tick() noexcept
    {
        if (m_on && (++m_n & 0xff) == 0)
            m_ctx.gilCheckpoint();
    }
    void tick(quint32 n) noexcept
    {
        if (!m_on)
            return;
        m_n += n;
        if (m_n >= 256) {
            m_n = 0;
            m_ctx.gilCheckpoint();
        }
    }

private:
    TaskContext& m_ctx;
    bool m_on;
    quint32 m_n = 0;
};

/// Counts primes in [lo, hi) by trial division (odd divisors up to sqrt x).
/// Reports progress and honours stop requests every 1024 numbers.
qint64 countPrimesKernel(TaskContext& ctx, qint64 lo, qint64 hi, Gil mode);

/// Sleeps ms milliseconds without the GIL, waking every <= 5 ms to honour a
/// stop request. Progress is reported when reportProgress is set.
void sleepWithoutGil(TaskContext& ctx, qint64 ms, bool reportProgress);

/// The next n bytes of the data stream `hash` and `file_io` use: SplitMix64
/// outputs from `state` (initially the seed), each written little-endian.
/// Keep n a multiple of 8 except for the last call, or the stream shifts.
void fillStream(quint64& state, char* out, qint64 n) noexcept;

} // namespace workloads
} // namespace poolscope
