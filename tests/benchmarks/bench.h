#pragma once
// poolscope-bench: a small registry of named suites, a reporter that prints
// one figure per line (median of the repetitions, min .. max as a comment)
// and ratio lines computed from figures measured in the same run.
//
// Adding a figure: write `void addXxxSuites(bench::Registry&)` in a new .cpp
// of tests/benchmarks/, register suites (and ratios) there, list the file in
// tests/benchmarks/CMakeLists.txt and call it from main() in
// poolscope-bench.cpp. A suite measures with bench::Timer, collects one sample
// per repetition in a bench::Samples and hands it to Context::report().

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace bench {

/// Monotonic wall clock (steady_clock) in seconds.
class Timer {
public:
    Timer()
        : m_t0(std::chrono::steady_clock::now())
    {}
    void restart() { m_t0 = std::chrono::steady_clock::now(); }
    double seconds() const
    {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - m_t0).count();
    }

private:
    std::chrono::steady_clock::time_point m_t0;
};

/// CPU time (user + system) of this whole process so far, in seconds.
double processCpuSeconds();
/// CPU time of the calling thread so far, in seconds.
double threadCpuSeconds();
/// Resident set size of this process (/proc/self/statm), in bytes; -1 if unknown.
long long rssBytes();
/// The p-th percentile (0..100) of v, nearest rank; 0 when v is empty.
double percentile(std::vector<double> v, double p);

/// Counts primes below `limit` by trial division: a CPU-bound task that
/// touches no memory, for the speedup figures.
long long countPrimes(long long limit);
/// A limit whose countPrimes() takes about `target` seconds of this thread's
/// CPU time (so a busy machine does not shrink it).
long long calibratePrimeLimit(double target);

/// Keeps the compiler from dropping a value the benchmark computes.
template<class T>
inline void doNotOptimize(const T& v)
{
    asm volatile("" : : "r,m"(v) : "memory");
}

/// One sample per repetition.
struct Samples {
    std::vector<double> values;
    void add(double v) { values.push_back(v); }
    bool empty() const { return values.empty(); }
    double median() const;
    double min() const;
    double max() const;
};

/// One contender of a comparison: `once()` runs one timed repetition and
/// returns its figure (a rate, or a time).
struct Contender {
    std::string figure; // "poolscope.thread.post"
    std::string unit;   // "tasks/s"
    std::string note;   // printed in the comment column
    std::function<double()> once;
    /// Items (tasks) one run of once() handles. When set, the comment column
    /// also shows the process CPU time (user + sys, all threads) per item:
    /// unlike wall time it barely moves when other processes share the CPUs.
    double items = 0;
};

/// What a suite may use.
class Context {
public:
    int reps = 5;                  // timed repetitions per figure (each figure: median of them)
    bool quick = false;            // tiny N: proves the code runs, numbers mean nothing
    std::vector<std::string> only; // --only: figure-name substrings to keep (empty = all)

    /// False when --only excludes this figure (for profiling one contender).
    bool wants(const std::string& figure) const;

    /// The usual comparison: one untimed warm-up run per contender, then
    /// `reps` rounds in which every contender runs once, the first one
    /// rotating each round so slow drift on the machine hits all alike; then
    /// one reported figure (median) per contender.
    void compare(const std::vector<Contender>& contenders);

    /// Picks the problem size: `full` normally, `quickN` under --quick.
    long long n(long long full, long long quickN) const { return quick ? quickN : full; }

    /// Prints `name median unit  # min .. max (k reps)` and stores the median
    /// for ratio lines.
    void report(const std::string& name, const Samples& s, const std::string& unit,
                const std::string& note = {});
    /// Prints `name skipped (reason)`.
    void skip(const std::string& name, const std::string& reason);
    /// Prints a `# ...` comment line (context for a human reader).
    void comment(const std::string& text);

    std::optional<double> figure(const std::string& name) const;

private:
    std::map<std::string, double> m_medians;
};

/// Target for a ratio line: met when value >= min; `aim` is the stretch goal.
struct Target {
    double min = 0;
    double aim = 0;
};

struct Suite {
    std::string name; // selected by prefix on the command line, e.g. "thread.submit"
    std::string help;
    std::function<void(Context&)> run;
};

/// ratio = numerator figure / denominator figure, printed after all suites
/// when both figures were measured in this run.
struct Ratio {
    std::string name; // "ratio.submit_future_vs_qtconcurrent"
    std::string numerator;
    std::string denominator;
    std::optional<Target> target;
};

/// A figure that is itself a ratio (e.g. a speedup) checked against a target.
struct Check {
    std::string figure;
    Target target;
};

class Registry {
public:
    void add(Suite s) { m_suites.push_back(std::move(s)); }
    void ratio(Ratio r) { m_ratios.push_back(std::move(r)); }
    void check(Check c) { m_checks.push_back(std::move(c)); }
    /// Also print, after ratio line `ratio`, the cost it stands for:
    /// "<label> (1 - ratio) x 100 % throughput".
    void cost(const std::string& ratio, const std::string& label) { m_costs[ratio] = label; }
    std::string costLabel(const std::string& ratio) const
    {
        auto it = m_costs.find(ratio);
        return it == m_costs.end() ? std::string() : it->second;
    }
    const std::vector<Suite>& suites() const { return m_suites; }
    const std::vector<Ratio>& ratios() const { return m_ratios; }
    const std::vector<Check>& checks() const { return m_checks; }

private:
    std::vector<Suite> m_suites;
    std::vector<Ratio> m_ratios;
    std::vector<Check> m_checks;
    std::map<std::string, std::string> m_costs;
};

/// Measures what the rest of the machine did while a suite ran: CPU time of
/// other processes (from /proc/stat minus our own and our children's) and
/// hypervisor steal, both in cores (1.0 = one core busy the whole time).
class LoadMeter {
public:
    LoadMeter();
    struct Load {
        double otherCores = 0; // busy cores not used by this process or its children
        double stealCores = 0;
        double wallSeconds = 0;
        bool valid = false;
    };
    Load stop() const;

private:
    struct Snap {
        double busy = 0, steal = 0, self = 0; // seconds
        bool ok = false;
    };
    static Snap snap();
    Snap m_start;
    Timer m_wall;
};

/// Runs `python3 -c script args...`; returns its stdout, or nullopt with
/// `why` set when python3 is missing or fails.
std::optional<std::string> runPython3(const std::string& script,
                                      const std::vector<std::string>& args, std::string& why);

// Suites live in their own translation units.
void addThreadSuites(Registry& r);
void addMonitorSuites(Registry& r);
/// The child process of monitor.rss_growth (poolscope-bench --rss-growth-child
/// N [--without-monitor]).
int runRssGrowthChild(long long n, bool withMonitor);
void addProcessSuites(Registry& r);
/// suites_attach.cpp: publishing a pool to a viewer (docs/attach.md).
void addAttachSuites(Registry& r);

} // namespace bench
