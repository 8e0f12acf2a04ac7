// poolscope-bench: PoolScope's throughput figures next to their peers, in one
// run. See docs/benchmarks.md for how to run it and what the figures mean.
//
//   poolscope-bench [--reps N] [--quick] [--only TEXT]... [--list] [SUITE-PREFIX...]
//
// Output: one figure per line, `name value unit  # min .. max (k reps)`, each
// value the median of the repetitions; then `ratio.* value x` lines computed
// from figures of this same run, with the targets as a comment.
// Exit status: 0 unless a suite failed its sanity checks (wrong results) or
// the command line was wrong. Missing a speed target is not a failure:
// speed is measured here, not asserted.

#include "bench.h"

#include <poolscope/worker.h>

#include <QCoreApplication>
#include <QThread>
#include <QtGlobal>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#ifndef POOLSCOPE_BENCH_BUILD_TYPE
#define POOLSCOPE_BENCH_BUILD_TYPE "unknown"
#endif

namespace {

void usage(const bench::Registry& reg, std::FILE* to)
{
    std::fprintf(
        to,
        "usage: poolscope-bench [--reps N] [--quick] [--only TEXT]... [--list] [SUITE-PREFIX...]\n"
        "  --reps N       timed repetitions per figure (default 5); figures are medians\n"
        "  --quick        tiny problem sizes: proves it runs, figures mean nothing\n"
        "  --only TEXT    run only the contenders whose figure name contains TEXT\n"
        "                 (repeatable; for profiling one of them)\n"
        "  --list         list the suites\n"
        "suites (no prefix = all):\n");
    for (const auto& s : reg.suites())
        std::fprintf(to, "  %-22s %s\n", s.name.c_str(), s.help.c_str());
}

// "thread.submit" selects suite thread.submit; "thread" selects all thread.*;
// a figure name such as "poolscope.thread.submit_future" selects its suite.
bool selects(const std::string& arg, const std::string& suite)
{
    std::string a = arg;
    const std::string prefix = "poolscope.";
    if (a.rfind(prefix, 0) == 0)
        a = a.substr(prefix.size());
    return suite.rfind(a, 0) == 0 || a.rfind(suite, 0) == 0;
}

std::string verdict(double v, const bench::Target& t)
{
    char buf[160];
    if (t.min > 0 && t.aim > t.min)
        std::snprintf(buf, sizeof buf, "target >= %.2fx, aim %.2fx: %s", t.min, t.aim,
                      v >= t.aim   ? "met, aim reached"
                      : v >= t.min ? "met, aim not reached"
                                   : "NOT met");
    else if (t.min > 0)
        std::snprintf(buf, sizeof buf, "target >= %.2fx: %s", t.min,
                      v >= t.min ? "met" : "NOT met");
    else
        std::snprintf(buf, sizeof buf, "aim >= %.2fx: %s", t.aim,
                      v >= t.aim ? "reached" : "not reached");
    return buf;
}

} // namespace

int main(int argc, char** argv)
{
    // The process-pool suites start this very program as their workers, so
    // the tasks registered in suites_process.cpp exist there too.
    if (poolscope::isWorkerInvocation(argc, argv))
        return poolscope::runWorker(argc, argv);
    QCoreApplication app(argc, argv);
    // Internal: monitor.rss_growth measures in a fresh copy of this program.
    if ((argc == 3 || (argc == 4 && std::string(argv[3]) == "--without-monitor"))
        && std::string(argv[1]) == "--rss-growth-child") {
        try {
            return bench::runRssGrowthChild(std::atoll(argv[2]), argc == 3);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "poolscope-bench --rss-growth-child: %s\n", e.what());
            return 1;
        }
    }

    bench::Registry reg;
    bench::addThreadSuites(reg);
    bench::addMonitorSuites(reg);
    bench::addProcessSuites(reg);
    bench::addAttachSuites(reg);

    bench::Context ctx;
    std::vector<std::string> prefixes;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--quick") {
            ctx.quick = true;
        } else if (a == "--reps" && i + 1 < argc) {
            ctx.reps = std::atoi(argv[++i]);
            if (ctx.reps < 1) {
                std::fprintf(stderr, "poolscope-bench: --reps needs a number >= 1\n");
                return 2;
            }
        } else if (a == "--only" && i + 1 < argc) {
            ctx.only.push_back(argv[++i]);
        } else if (a == "--list") {
            usage(reg, stdout);
            return 0;
        } else if (a == "-h" || a == "--help") {
            usage(reg, stdout);
            return 0;
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "poolscope-bench: unknown option %s\n", a.c_str());
            usage(reg, stderr);
            return 2;
        } else {
            prefixes.push_back(a);
        }
    }

    std::vector<const bench::Suite*> chosen;
    for (const auto& s : reg.suites()) {
        bool take = prefixes.empty();
        for (const auto& p : prefixes)
            take = take || selects(p, s.name);
        if (take)
            chosen.push_back(&s);
    }
    for (const auto& p : prefixes) {
        bool any = false;
        for (const auto& s : reg.suites())
            any = any || selects(p, s.name);
        if (!any) {
            std::fprintf(stderr, "poolscope-bench: no suite matches '%s'\n", p.c_str());
            usage(reg, stderr);
            return 2;
        }
    }

    std::printf("# poolscope-bench: build %s, Qt %s, %d cores (QThread::idealThreadCount), "
                "reps %d%s\n",
                POOLSCOPE_BENCH_BUILD_TYPE, qVersion(), QThread::idealThreadCount(), ctx.reps,
                ctx.quick ? ", --quick (figures mean nothing)" : "");
    const std::string buildType = POOLSCOPE_BENCH_BUILD_TYPE;
    if (buildType == "RelWithDebInfo")
        std::printf("# note: RelWithDebInfo (-O2 -g, the `release` preset); docs/benchmarks.md "
                    "figures come from -DCMAKE_BUILD_TYPE=Release (-O3)\n");
    else if (buildType != "Release")
        std::printf("# warning: not an optimised build; figures are not comparable\n");
    if (ctx.reps < 5)
        std::printf("# warning: fewer than 5 repetitions per figure\n");
    std::fflush(stdout);

    int failures = 0;
    for (const auto* s : chosen) {
        bench::LoadMeter meter;
        try {
            s->run(ctx);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "poolscope-bench: suite %s failed: %s\n", s->name.c_str(),
                         e.what());
            ++failures;
        }
        const auto load = meter.stop();
        if (load.valid && load.wallSeconds >= 1.0) {
            std::printf("# %s: %.1f s; other processes kept %.2f cores busy, steal %.2f cores%s\n",
                        s->name.c_str(), load.wallSeconds, load.otherCores, load.stealCores,
                        load.otherCores + load.stealCores > 0.15
                            ? " -- NOISY: figures of this suite are not trustworthy"
                            : "");
            std::fflush(stdout);
        }
    }

    for (const auto& r : reg.ratios()) {
        const auto a = ctx.figure(r.numerator), b = ctx.figure(r.denominator);
        if (!a || !b || *b <= 0)
            continue;
        const double v = *a / *b;
        std::string cost;
        if (const std::string label = reg.costLabel(r.name); !label.empty()) {
            char buf[96];
            std::snprintf(buf, sizeof buf, "; %s %.1f %% throughput", label.c_str(), (1 - v) * 100);
            cost = buf;
        }
        std::printf("%-44s %12.2f %-8s # %s / %s%s%s%s\n", r.name.c_str(), v, "x",
                    r.numerator.c_str(), r.denominator.c_str(), cost.c_str(), r.target ? "; " : "",
                    r.target ? verdict(v, *r.target).c_str() : "");
    }
    for (const auto& c : reg.checks()) {
        const auto v = ctx.figure(c.figure);
        if (!v)
            continue;
        std::printf("# check %s %.2f x: %s\n", c.figure.c_str(), *v, verdict(*v, c.target).c_str());
    }
    std::fflush(stdout);
    return failures ? 1 : 0;
}
