// Mixed, pathological and pipeline demo tasks: cpu_then_wait, long_tail,
// throws, crash and hang (process-only), pipeline_parse and pipeline_reduce.
#include "kernels.h"

#include "poolscope/errors.h"
#include "poolscope/registry.h"

#include <QCborMap>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace poolscope::workloads {
namespace {

/// True for the every-th task: indices every-1, 2*every-1, ... (every >= 1).
bool selected(qint64 index, qint64 every)
{
    return every > 0 && (index + 1) % every == 0;
}

std::string ordinal(qint64 n)
{
    const qint64 mod100 = n % 100;
    const char* suffix = "th";
    if (mod100 < 11 || mod100 > 13) {
        switch (n % 10) {
        case 1:
            suffix = "st";
            break;
        case 2:
            suffix = "nd";
            break;
        case 3:
            suffix = "rd";
            break;
        default:
            break;
        }
    }
    return std::to_string(n) + suffix;
}

// ------------------------------------------------------------ cpu_then_wait

/// Counts primes in [lo, hi) holding the GIL, then waits waitMs without it:
/// a request handler that computes and then talks to a database.
qint64 cpuThenWait(TaskContext& ctx, qint64 lo, qint64 hi, qint64 waitMs)
{
    const qint64 count = countPrimesKernel(ctx, lo, hi, Gil::Interpreted);
    sleepWithoutGil(ctx, waitMs, false);
    return count;
}

// ---------------------------------------------------------------- long_tail

/// The same kernel as primes; the long_tail plan gives a few tasks ranges
/// far longer than the rest (heavy-tailed sizes), so one straggler decides
/// when the batch ends.
qint64 longTail(TaskContext& ctx, qint64 lo, qint64 hi)
{
    return countPrimesKernel(ctx, lo, hi, Gil::Interpreted);
}

// ------------------------------------------------------------------- throws

/// Counts primes in [lo, hi); the every-th task (index + 1 divisible by
/// every) throws std::runtime_error half-way through, naming its index.
qint64 throwsTask(TaskContext& ctx, qint64 index, qint64 every, qint64 lo, qint64 hi)
{
    if (every < 1)
        throw InvalidArgument("throws: every must be at least 1");
    if (hi < lo)
        throw InvalidArgument("throws: need lo <= hi");
    const qint64 mid = lo + (hi - lo) / 2;
    qint64 count = countPrimesKernel(ctx, lo, mid, Gil::Interpreted);
    if (selected(index, every))
        throw std::runtime_error("task " + std::to_string(index) + " failed on purpose (every "
                                 + ordinal(every) + " task of the throws workload fails)");
    count += countPrimesKernel(ctx, mid, hi, Gil::Interpreted);
    return count;
}

// -------------------------------------------------------------------- crash

/// Process-only. Waits ms, then the every-th task kills its process:
/// mode "segfault" raises SIGSEGV, "abort" calls abort(), "exit" calls
/// _exit(code). Other tasks return their index.
qint64 crashTask(TaskContext& ctx, qint64 index, qint64 every, QString mode, qint64 code, qint64 ms)
{
    if (mode != QLatin1String("segfault") && mode != QLatin1String("abort")
        && mode != QLatin1String("exit"))
        throw InvalidArgument("crash: mode must be \"segfault\", \"abort\" or \"exit\", got \""
                              + mode.toStdString() + "\"");
    if (code < 0 || code > 255)
        throw InvalidArgument("crash: the exit code must be between 0 and 255");
    sleepWithoutGil(ctx, ms, true);
    if (!selected(index, every))
        return index;
    if (mode == QLatin1String("segfault")) {
        std::raise(SIGSEGV);
        std::abort(); // SIGSEGV was handled or ignored: die anyway
    }
    if (mode == QLatin1String("abort"))
        std::abort();
    ::_exit(int(code));
}

// --------------------------------------------------------------------- hang

/// Process-only. The every-th task never finishes unless asked to stop
/// (it wakes every 5 ms to check); the others sleep ms and return their index.
qint64 hangTask(TaskContext& ctx, qint64 index, qint64 every, qint64 ms)
{
    if (!selected(index, every)) {
        sleepWithoutGil(ctx, ms, true);
        return index;
    }
    TaskContext::GilRelease nogil(ctx);
    for (;;) {
        ctx.throwIfStopRequested();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

// ----------------------------------------------------------------- pipeline

/// Stage 1. Generates `count` numbers v_k = (splitmix64 >> 1) mod 1000000
/// from the state seed * 1000003 + index, formats them as text lines (a log
/// file, say), parses the text back and returns the numbers as little-endian
/// 64-bit integers. The every failEvery-th item throws (0: never).
QByteArray pipelineParse(TaskContext& ctx, qint64 index, qint64 count, qint64 seed,
                         qint64 failEvery)
{
    if (count < 0 || count > (qint64(1) << 24))
        throw InvalidArgument("pipeline_parse: count must be between 0 and 2^24");
    Checkpointer cp(ctx, Gil::Interpreted);
    quint64 state = quint64(seed) * 1000003ULL + quint64(index);
    QByteArray text;
    text.reserve(count * 7);
    char digits[24];
    for (qint64 k = 0; k < count; ++k) {
        if ((k & 0xfff) == 0) {
            ctx.throwIfStopRequested();
            ctx.setProgress(k, 2 * count);
        }
        quint64 v = (splitmix64(state) >> 1) % 1000000;
        int len = 0;
        do {
            digits[len++] = char('0' + v % 10);
            v /= 10;
        } while (v);
        while (len)
            text.append(digits[--len]);
        text.append('\n');
        cp.tick();
    }
    if (selected(index, failEvery))
        throw std::runtime_error("pipeline_parse: item " + std::to_string(index)
                                 + " has a malformed record (fails on purpose)");
    QByteArray out(count * 8, Qt::Uninitialized);
    char* o = out.data();
    qint64 value = 0, parsed = 0;
    for (const char ch : std::as_const(text)) {
        if (ch == '\n') {
            const auto u = quint64(value);
            for (int b = 0; b < 8; ++b)
                *o++ = char(quint8(u >> (8 * b)));
            value = 0;
            if ((++parsed & 0xfff) == 0) {
                ctx.throwIfStopRequested();
                ctx.setProgress(count + parsed, 2 * count);
            }
        } else {
            value = value * 10 + (ch - '0');
        }
        cp.tick();
    }
    ctx.setProgress(1, 1);
    return out;
}

/// Stage 2. Takes stage 1's bytes and returns {index, count, sum, min, max,
/// median} (median: element (count-1)/2 of the sorted numbers; min, max and
/// median are absent when count is 0). The failEvery-th item throws.
QCborMap pipelineReduce(TaskContext& ctx, qint64 index, QByteArray data, qint64 failEvery)
{
    if (data.size() % 8 != 0)
        throw InvalidArgument("pipeline_reduce: the data must be a whole number of 64-bit "
                              "integers");
    if (selected(index, failEvery))
        throw std::runtime_error("pipeline_reduce: item " + std::to_string(index)
                                 + " cannot be reduced (fails on purpose)");
    const qint64 count = data.size() / 8;
    std::vector<qint64> values(std::size_t(count), 0);
    const auto* p = reinterpret_cast<const quint8*>(data.constData());
    Checkpointer cp(ctx, Gil::Interpreted);
    qint64 sum = 0;
    for (qint64 k = 0; k < count; ++k) {
        quint64 u = 0;
        for (int b = 0; b < 8; ++b)
            u |= quint64(p[8 * k + b]) << (8 * b);
        values[std::size_t(k)] = qint64(u);
        sum += qint64(u);
        cp.tick();
    }
    ctx.throwIfStopRequested();
    ctx.setProgress(1, 2);
    // Like list.sort() in CPython: one C call that keeps the GIL throughout.
    std::sort(values.begin(), values.end());
    QCborMap m;
    m.insert(QStringLiteral("index"), index);
    m.insert(QStringLiteral("count"), count);
    m.insert(QStringLiteral("sum"), sum);
    if (count > 0) {
        m.insert(QStringLiteral("min"), values.front());
        m.insert(QStringLiteral("max"), values.back());
        m.insert(QStringLiteral("median"), values[std::size_t((count - 1) / 2)]);
    }
    ctx.setProgress(2, 2);
    return m;
}

} // namespace

void registerMixedTasks(TaskRegistry& r)
{
    auto add = [&r](TaskInfo info, const char* description, QStringList argNames,
                    bool processOnly = false) {
        info.description = QString::fromUtf8(description);
        info.argNames = std::move(argNames);
        info.processOnly = processOnly;
        r.add(std::move(info));
    };
    const QString lo = QStringLiteral("lo"), hi = QStringLiteral("hi"),
                  index = QStringLiteral("index"), every = QStringLiteral("every"),
                  ms = QStringLiteral("ms");
    add(detail::makeTaskInfo(QStringLiteral("cpu_then_wait"), &cpuThenWait),
        "Count primes in [lo, hi) holding the GIL, then wait wait_ms without it (mixed); "
        "returns the count",
        {lo, hi, QStringLiteral("wait_ms")});
    add(detail::makeTaskInfo(QStringLiteral("long_tail"), &longTail),
        "Count primes in [lo, hi); the long_tail plan makes a few ranges much longer than "
        "the rest (skewed durations)",
        {lo, hi});
    add(detail::makeTaskInfo(QStringLiteral("throws"), &throwsTask),
        "Count primes in [lo, hi); every every-th task throws std::runtime_error half-way",
        {index, every, lo, hi});
    add(detail::makeTaskInfo(QStringLiteral("crash"), &crashTask),
        "Process pool only: after ms, every every-th task kills its process (mode "
        "\"segfault\", \"abort\" or \"exit\" with code)",
        {index, every, QStringLiteral("mode"), QStringLiteral("code"), ms},
        /*processOnly=*/true);
    add(detail::makeTaskInfo(QStringLiteral("hang"), &hangTask),
        "Process pool only: every every-th task never ends unless stopped; the others sleep ms",
        {index, every, ms}, /*processOnly=*/true);
    add(detail::makeTaskInfo(QStringLiteral("pipeline_parse"), &pipelineParse),
        "Pipeline stage 1: generate count numbers as text and parse them; returns them as "
        "little-endian 64-bit integers",
        {index, QStringLiteral("count"), QStringLiteral("seed"), QStringLiteral("fail_every")});
    add(detail::makeTaskInfo(QStringLiteral("pipeline_reduce"), &pipelineReduce),
        "Pipeline stage 2: sum, min, max and median of stage 1's numbers",
        {index, QStringLiteral("data"), QStringLiteral("fail_every")});
}

} // namespace poolscope::workloads
