#pragma once
// The thread pool's timed batches, shared by the thread.* suites and the
// monitor's paired-cost suite so that both time exactly the same work.

#include <poolscope/threadpool.h>

#include <vector>

namespace bench {

/// The sum of the results of tasks 0 .. n-1 that return their index.
inline long long expectedSum(long long n)
{
    return n * (n - 1) / 2;
}

/// `n` no-op post()s, then waitForIdle(); tasks per second. Throws if the
/// pool did not run exactly `n`.
double postBatchRate(poolscope::ThreadPoolExecutor& pool, long long n);

/// `n` submit()s with a Future<int> each, then every result (and the
/// futures freed: part of the cost of a future per task); tasks per second.
/// `fs` is a buffer kept between batches. Throws if a result is wrong.
double submitBatchRate(poolscope::ThreadPoolExecutor& pool, long long n,
                       std::vector<poolscope::Future<int>>& fs);

} // namespace bench
