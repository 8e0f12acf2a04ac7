// poolscope-mpi-bench: the MPI pool against the local process pool, in the
// same run, on the same workers count (docs/scale-out.md has the figures).
//
//   mpirun --oversubscribe -n 3 build/bench-rel/tests/mpi/poolscope-mpi-bench [--reps 5]
//
// Rank 0 measures; ranks 1..N-1 serve the MPI pool; the process pool starts
// this same program as its workers (--poolscope-worker), so both run the
// same registered tasks. Figures (medians of --reps runs):
//   round_trip   trivial tasks, submit N then wait for all: tasks/s
//   latency      one task at a time, submit then wait: us per task
//   map_chunk100 map over N items in chunks of 100: items/s
//   cpu_speedup  16 prime-count tasks (~50 ms each), all workers vs one
#include <poolscope/mpipool.h>
#include <poolscope/processpool.h>
#include <poolscope/worker.h>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QThread>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

using namespace poolscope;

namespace {
qint64 square(qint64 x)
{
    return x * x;
}
POOLSCOPE_TASK(square, "x * x");

qint64 countPrimes(qint64 limit)
{
    qint64 count = 0;
    for (qint64 k = 2; k < limit; ++k) {
        bool prime = true;
        for (qint64 d = 2; d * d <= k; ++d) {
            if (k % d == 0) {
                prime = false;
                break;
            }
        }
        count += prime;
    }
    return count;
}
POOLSCOPE_TASK(countPrimes, "primes below limit, by trial division");

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

QString loadAvg()
{
    QFile f(QStringLiteral("/proc/loadavg"));
    if (!f.open(QIODevice::ReadOnly))
        return QStringLiteral("?");
    return QString::fromLatin1(f.readAll()).section(QLatin1Char(' '), 0, 0);
}

double roundTrip(Executor& ex, int n)
{
    QElapsedTimer t;
    t.start();
    std::vector<Future<QCborValue>> fs;
    fs.reserve(std::size_t(n));
    for (int i = 0; i < n; ++i)
        fs.push_back(ex.submitNamed(QStringLiteral("square"), {qint64(i)}));
    for (auto& f : fs)
        f.waitForDone();
    return double(n) / (double(t.nsecsElapsed()) / 1e9);
}

double latencyUs(Executor& ex, int n)
{
    QElapsedTimer t;
    t.start();
    for (int i = 0; i < n; ++i)
        ex.submitNamed(QStringLiteral("square"), {qint64(i)}).waitForDone();
    return double(t.nsecsElapsed()) / 1e3 / double(n);
}

double mapChunk100(Executor& ex, int n)
{
    QElapsedTimer t;
    t.start();
    std::vector<Future<QCborValue>> fs;
    for (int b = 0; b < n; b += 100) {
        QList<QCborArray> items;
        for (int i = b; i < std::min(n, b + 100); ++i)
            items.append(QCborArray{qint64(i)});
        fs.push_back(ex.submitNamedBatch(QStringLiteral("square"), items));
    }
    for (auto& f : fs)
        f.waitForDone();
    return double(n) / (double(t.nsecsElapsed()) / 1e9);
}

double cpuBatchS(Executor& ex, int tasks, qint64 limit)
{
    QElapsedTimer t;
    t.start();
    std::vector<Future<QCborValue>> fs;
    for (int i = 0; i < tasks; ++i)
        fs.push_back(ex.submitNamed(QStringLiteral("countPrimes"), {limit}));
    for (auto& f : fs)
        f.waitForDone();
    return double(t.nsecsElapsed()) / 1e9;
}

struct Row {
    const char* name;
    double mpi, process;
    const char* unit;
};

} // namespace

int main(int argc, char** argv)
{
    if (isWorkerInvocation(argc, argv)) // the process pool's workers
        return runWorker(argc, argv);
    mpi::Environment env(&argc, &argv);
    if (env.isWorker())
        return env.runWorker();
    QCoreApplication app(argc, argv);
    int reps = 5;
    int n = 20000; // round-trip tasks; map items are 10x, latency tasks n/10
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--reps") == 0)
            reps = std::max(1, std::atoi(argv[i + 1]));
        if (std::strcmp(argv[i], "--tasks") == 0)
            n = std::max(100, std::atoi(argv[i + 1]));
    }
    if (env.size() < 2) {
        std::fprintf(stderr, "run under mpirun -n N (N >= 2): ranks 1..N-1 are the MPI workers\n");
        return 2;
    }
    const int workers = env.size() - 1;
    const QString self = QFile::symLinkTarget(QStringLiteral("/proc/self/exe"));

    // ~50 ms of CPU per prime-count task on this machine (measured here).
    volatile qint64 sink = 0; // keeps the optimiser from dropping the calls
    qint64 limit = 60000;
    for (int i = 0; i < 3; ++i) {
        QElapsedTimer t;
        t.start();
        sink = sink + countPrimes(limit);
        const double s = std::max(double(t.nsecsElapsed()) / 1e9, 1e-4);
        limit = qint64(double(limit) * std::pow(0.050 / s, 1 / 1.4));
    }

    QElapsedTimer one;
    one.start();
    sink = sink + countPrimes(limit);
    const double oneMs = double(one.nsecsElapsed()) / 1e6;
    std::printf("# %s; %d MPI worker rank(s) vs %d worker process(es) on %s, %d CPU(s)\n",
                qPrintable(mpi::libraryVersion()), workers, workers, qPrintable(mpi::hostName()),
                QThread::idealThreadCount());
    std::printf("# load average (1 min) at start: %s; medians of %d reps; N = %d; one cpu task "
                "(countPrimes(%lld)) took %.1f ms here\n",
                qPrintable(loadAvg()), reps, n, static_cast<long long>(limit), oneMs);

    std::vector<double> rtM, rtP, latM, latP, mapM, mapP, sp1M, spNM, sp1P, spNP;
    {
        MpiPoolExecutor mpiPool;
        ProcessPoolOptions po;
        po.maxWorkers = workers;
        po.workerProgram = self;
        ProcessPoolExecutor procPool(po);
        procPool.prestart();
        mpiPool.waitUntilReady();
        procPool.waitUntilReady();
        std::fprintf(stderr, "warm-up\n");
        roundTrip(mpiPool, n / 10);
        roundTrip(procPool, n / 10);
        for (int r = 0; r < reps; ++r) {
            std::fprintf(stderr, "rep %d: round trip\n", r);
            rtM.push_back(roundTrip(mpiPool, n));
            rtP.push_back(roundTrip(procPool, n));
            std::fprintf(stderr, "rep %d: latency\n", r);
            latM.push_back(latencyUs(mpiPool, n / 10));
            latP.push_back(latencyUs(procPool, n / 10));
            std::fprintf(stderr, "rep %d: map\n", r);
            mapM.push_back(mapChunk100(mpiPool, n * 10));
            mapP.push_back(mapChunk100(procPool, n * 10));
        }
        std::fprintf(stderr, "cpu batches\n");
        for (int r = 0; r < reps; ++r) {
            mpiPool.setMaxWorkers(1);
            procPool.setMaxWorkers(1);
            const double m1 = cpuBatchS(mpiPool, 16, limit);
            const double p1 = cpuBatchS(procPool, 16, limit);
            mpiPool.setMaxWorkers(workers);
            procPool.setMaxWorkers(workers);
            const double mn = cpuBatchS(mpiPool, 16, limit);
            const double pn = cpuBatchS(procPool, 16, limit);
            sp1M.push_back(m1);
            spNM.push_back(mn);
            sp1P.push_back(p1);
            spNP.push_back(pn);
        }
    }
    std::vector<double> spM, spP;
    for (std::size_t i = 0; i < sp1M.size(); ++i) {
        spM.push_back(sp1M[i] / spNM[i]);
        spP.push_back(sp1P[i] / spNP[i]);
    }
    const Row rows[] = {
        {"round_trip (submit N, wait all)", median(rtM), median(rtP), "tasks/s"},
        {"latency (one task at a time)", median(latM), median(latP), "us/task"},
        {"map_chunk100 (10 N items)", median(mapM), median(mapP), "items/s"},
        {"cpu batch, 1 worker (16 tasks)", median(sp1M), median(sp1P), "s"},
        {"cpu batch, all workers", median(spNM), median(spNP), "s"},
        {"cpu_speedup (all vs 1)", median(spM), median(spP), "x"},
    };
    std::printf("%-36s %14s %14s  %s\n", "figure", "mpi", "process", "unit");
    for (const Row& r : rows)
        std::printf("%-36s %14.2f %14.2f  %s\n", r.name, r.mpi, r.process, r.unit);
    std::printf("# load average (1 min) at end: %s\n", qPrintable(loadAvg()));
    return 0;
}
