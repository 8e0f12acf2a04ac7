// The demo workload catalogue on both pools (threads, threads sharing the
// simulated GIL, and worker processes -- this test binary is its own worker):
// every workload's results against values computed here independently (a sieve for primes, the
// closed form of the matmul checksum, the FNV-1a offset basis, ...),
// failures and refusals with their messages, validation sentences, progress,
// stop requests and clean-up, and the two-stage pipeline.
#include <poolscope/processpool.h>
#include <poolscope/threadpool.h>
#include <poolscope/worker.h>
#include <poolscope/workloads.h>

#include "testutil.h"

#include <QCborArray>
#include <QCborMap>
#include <QDateTime>
#include <QDir>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QUrl>
#include <QUuid>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <latch>
#include <limits>
#include <random>
#include <vector>

using namespace poolscope;
using namespace std::chrono_literals;

Q_DECLARE_METATYPE(poolscope::WorkloadRun)

namespace {

// ------------------------------------------------ independent expectations

/// SplitMix64, written out again from the published algorithm.
quint64 sm64(quint64& s)
{
    s += 0x9E3779B97F4A7C15ULL;
    quint64 z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/// Primes in [lo, hi) by a segmented sieve of Eratosthenes.
qint64 primeCount(qint64 lo, qint64 hi)
{
    if (hi <= 2 || hi <= lo)
        return 0;
    lo = std::max<qint64>(lo, 2);
    const auto root = qint64(std::sqrt(double(hi))) + 1;
    std::vector<char> small(std::size_t(root + 1), 1);
    std::vector<char> seg(std::size_t(hi - lo), 1);
    for (qint64 p = 2; p <= root; ++p) {
        if (!small[std::size_t(p)])
            continue;
        for (qint64 m = p * p; m <= root; m += p)
            small[std::size_t(m)] = 0;
        for (qint64 m = std::max(p * p, (lo + p - 1) / p * p); m < hi; m += p)
            seg[std::size_t(m - lo)] = 0;
    }
    return std::count(seg.begin(), seg.end(), 1);
}

/// matmul's checksum by its closed form: sum_ij (i+1)(j+1) (AB)_ij =
/// sum_k (sum_i (i+1) A_ik) (sum_j (j+1) B_kj), O(n^2), modulo 2^64.
qint64 matmulChecksum(qint64 n, qint64 seed)
{
    const auto s = quint64(seed);
    quint64 total = 0;
    for (quint64 k = 0; k < quint64(n); ++k) {
        quint64 colA = 0, rowB = 0;
        for (quint64 i = 0; i < quint64(n); ++i) {
            colA += (i + 1) * ((7 * i + 13 * k + s) % 101);
            rowB += (i + 1) * ((11 * k + 5 * i + 3 * s) % 103);
        }
        total += colA * rowB;
    }
    return qint64(total);
}

/// One Mandelbrot pixel as the workload documents it.
int mandelPixel(qint64 px, qint64 py, qint64 width, qint64 height, qint64 maxIter)
{
    const double cr = -2.2 + 3.0 * (double(px) + 0.5) / double(width);
    const double ci = -1.2 + 2.4 * (double(py) + 0.5) / double(height);
    double zr = 0, zi = 0;
    qint64 n = 0;
    while (n < maxIter && zr * zr + zi * zi <= 4.0) {
        const double t = zr * zr - zi * zi + cr;
        zi = 2.0 * zr * zi + ci;
        zr = t;
        ++n;
    }
    return n >= maxIter ? 255 : int(std::min<qint64>(n, 254));
}

qint64 monteCarloHits(qint64 samples, qint64 seed)
{
    std::mt19937_64 rng(static_cast<std::mt19937_64::result_type>(seed));
    qint64 hits = 0;
    for (qint64 i = 0; i < samples; ++i) {
        const double x = double(rng() >> 11) / 9007199254740992.0;
        const double y = double(rng() >> 11) / 9007199254740992.0;
        hits += x * x + y * y <= 1.0;
    }
    return hits;
}

QString fnvOfStream(qint64 bytes, qint64 seed)
{
    quint64 s = quint64(seed), h = 14695981039346656037ULL, word = 0;
    for (qint64 k = 0; k < bytes; ++k) {
        if (k % 8 == 0)
            word = sm64(s);
        h = (h ^ ((word >> (8 * (k % 8))) & 0xff)) * 1099511628211ULL;
    }
    return QString::asprintf("%016llx", static_cast<unsigned long long>(h));
}

QCborMap pipelineExpected(qint64 index, qint64 count, qint64 seed)
{
    quint64 s = quint64(seed) * 1000003ULL + quint64(index);
    std::vector<qint64> v;
    qint64 sum = 0;
    for (qint64 k = 0; k < count; ++k) {
        v.push_back(qint64((sm64(s) >> 1) % 1000000));
        sum += v.back();
    }
    std::sort(v.begin(), v.end());
    QCborMap m;
    m.insert(QStringLiteral("index"), index);
    m.insert(QStringLiteral("count"), count);
    m.insert(QStringLiteral("sum"), sum);
    if (count > 0) {
        m.insert(QStringLiteral("min"), v.front());
        m.insert(QStringLiteral("max"), v.back());
        m.insert(QStringLiteral("median"), v[std::size_t((count - 1) / 2)]);
    }
    return m;
}

WorkloadRun makeRun(int tasks, qint64 size, const QVariantMap& knobs = {})
{
    WorkloadRun r;
    r.tasks = tasks;
    r.size = size;
    for (auto it = knobs.cbegin(); it != knobs.cend(); ++it)
        r.knobs.insert(it.key(), it.value().toLongLong());
    return r;
}

/// The task's exception as "what()" (and whether it was a std::runtime_error).
QString errorText(const FutureBase& f, bool* runtimeError = nullptr)
{
    try {
        std::rethrow_exception(f.exception());
    } catch (const std::runtime_error& e) {
        if (runtimeError)
            *runtimeError = true;
        return QString::fromUtf8(e.what());
    } catch (const std::exception& e) {
        if (runtimeError)
            *runtimeError = false;
        return QString::fromUtf8(e.what());
    }
}

} // namespace

class TstWorkloads : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void summariesMatchQtsNotation_data();
    void summariesMatchQtsNotation();
    void summariesCutAnywhereMatchQt_data();
    void summariesCutAnywhereMatchQt();
    void summariesOfHugeValuesAreCut();
    void summariesOfNumbersMatchQt();
    void summariesOfRandomValuesMatchQt();
    void catalogueIsConsistent_data();
    void catalogueIsConsistent();
    void results_data();
    void results();
    void throwsFailsEveryKth_data();
    void throwsFailsEveryKth();
    void processOnlyRefusedOnThreadPool_data();
    void processOnlyRefusedOnThreadPool();
    void crashOnProcessPool_data();
    void crashOnProcessPool();
    void hangOnProcessPoolIsCancelled();
    void throwsOnProcessPool();
    void validateRejects_data();
    void validateRejects();
    void progressAndStop_data();
    void progressAndStop();
    void longTailIsSkewed();
    void pipelineErrorsPropagate_data();
    void pipelineErrorsPropagate();
    void pipelineStage2AfterShutdownFails();

private:
    QStringList leftoverFiles() const
    {
        return QDir(m_tmp.path()).entryList(QDir::Files | QDir::Hidden | QDir::System);
    }
    QTemporaryDir m_tmp;
};

void TstWorkloads::initTestCase()
{
    // file_io writes under QDir::tempPath(): point it at a private directory
    // so "nothing left behind" is exact even with other tests running.
    QVERIFY(m_tmp.isValid());
    qputenv("TMPDIR", QFile::encodeName(m_tmp.path()));
    QCOMPARE(QDir::cleanPath(QDir::tempPath()), QDir::cleanPath(m_tmp.path()));
}

// ------------------------------------------------------------- catalogue

void TstWorkloads::catalogueIsConsistent_data()
{
    QTest::addColumn<QString>("name");
    for (const auto& w : Workloads::all())
        QTest::newRow(qPrintable(w.name)) << w.name;
}

void TstWorkloads::catalogueIsConsistent()
{
    QFETCH(QString, name);
    const Workload* w = Workloads::find(name);
    QVERIFY(w);
    QCOMPARE(Workloads::names().count(name), 1);
    QVERIFY(!w->description.isEmpty());
    QVERIFY(!w->sizeUnit.isEmpty());
    QVERIFY2(QStringList({"cpu", "io", "mixed", "pathological", "pipeline"}).contains(w->kind),
             qPrintable(w->kind));
    const TaskInfo* info = TaskRegistry::global().find(w->taskName);
    QVERIFY2(info, qPrintable(w->taskName));
    QVERIFY(!info->description.isEmpty());
    QCOMPARE(info->argNames.size(), info->args.size());
    QCOMPARE(info->processOnly, w->processOnly);
    QVERIFY(w->minSize <= w->defaultSize && w->defaultSize <= w->maxSize);
    QVERIFY(1 <= w->defaultTasks && w->defaultTasks <= w->maxTasks);
    for (const auto& k : w->knobs) {
        QVERIFY2(k.minimum <= k.defaultValue && k.defaultValue <= k.maximum, qPrintable(k.name));
        QVERIFY(!k.description.isEmpty());
    }
    // The default run is valid (on a process pool at least) and plans one
    // argument list per task that the registry accepts.
    const WorkloadRun run = w->defaultRun();
    QCOMPARE(Workloads::validate(name, run, QStringLiteral("process")), QString());
    const QList<QCborArray> plan = w->plan(run);
    QCOMPARE(plan.size(), qsizetype(run.tasks));
    for (const auto& args : plan)
        QCOMPARE(TaskRegistry::global().validate(w->taskName, args), QString());
    QCOMPARE(bool(w->drive), name == QLatin1String("pipeline"));
}

// --------------------------------------------------------------- results

void TstWorkloads::results_data()
{
    // Every row three times: plain threads, threads sharing a simulated GIL
    // (results must not change; interpreted kernels then take turns), and
    // worker processes (arguments and results cross the CBOR protocol).
    QTest::addColumn<QString>("name");
    QTest::addColumn<WorkloadRun>("run");
    QTest::addColumn<QString>("pool");
    auto row = [](const char* tag, const char* name, int tasks, qint64 size,
                  const QVariantMap& knobs = {}) {
        for (const char* pool : {"threads", "threads+GIL", "processes"})
            QTest::addRow("%s, %s", tag, pool)
                << QString::fromLatin1(name) << makeRun(tasks, size, knobs)
                << QString::fromLatin1(pool);
    };
    row("primes", "primes", 4, 20'000);
    row("primes from 0", "primes", 3, 1000, {{"start", 0}});
    row("primes_native", "primes_native", 4, 20'000, {{"start", 123'456}});
    row("mandelbrot 5x3", "mandelbrot", 3, 1, {{"width", 5}, {"max_iter", 200}});
    row("mandelbrot 32x32", "mandelbrot", 4, 8, {{"width", 32}, {"max_iter", 100}});
    row("matmul", "matmul", 3, 24, {{"seed", 5}});
    row("matmul n=1", "matmul", 1, 1);
    row("matmul_native", "matmul_native", 2, 40);
    row("montecarlo_pi", "montecarlo_pi", 4, 200'000, {{"seed", 42}});
    row("hash", "hash", 3, 100'003, {{"seed", 9}});
    row("hash of nothing", "hash", 1, 0);
    row("hash_native", "hash_native", 2, 4096);
    row("sleep", "sleep", 3, 20);
    row("file_io", "file_io", 3, 300'001);
    row("file_io empty", "file_io", 1, 0);
    row("cpu_then_wait", "cpu_then_wait", 2, 5000, {{"wait_ms", 10}});
    row("long_tail", "long_tail", 8, 500);
    row("pipeline", "pipeline", 4, 1000, {{"seed", 3}});
    row("pipeline empty items", "pipeline", 2, 0);
}

void TstWorkloads::results()
{
    QFETCH(QString, name);
    QFETCH(WorkloadRun, run);
    QFETCH(QString, pool);
    const Workload* w = Workloads::find(name);
    QVERIFY(w);
    const bool gil = pool == QLatin1String("threads+GIL");
    std::unique_ptr<Executor> executor;
    ThreadPoolExecutor* threads = nullptr;
    if (pool == QLatin1String("processes")) {
        ProcessPoolOptions options;
        options.maxWorkers = 3;
        options.workerProgram = QCoreApplication::applicationFilePath();
        executor = std::make_unique<ProcessPoolExecutor>(options);
    } else {
        ThreadPoolOptions options;
        options.maxWorkers = 3;
        options.gil = gil;
        options.gilSwitchInterval = 200us; // frequent hand-overs even in short tasks
        auto tp = std::make_unique<ThreadPoolExecutor>(options);
        threads = tp.get();
        QCOMPARE(threads->gil() != nullptr, gil);
        executor = std::move(tp);
    }
    const auto t0 = std::chrono::steady_clock::now();
    QList<Future<QCborValue>> fs = Workloads::submit(*executor, name, run);
    QCOMPARE(fs.size(), qsizetype(run.tasks));
    for (auto& f : fs) {
        QVERIFY(f.waitForDone(tst::kGuard));
        if (const std::exception_ptr e = f.exception()) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                QFAIL(ex.what());
            }
        }
    }
    const qint64 start = w->knob(run, QStringLiteral("start"));
    const qint64 seed = w->knob(run, QStringLiteral("seed"));

    for (qint64 i = 0; i < run.tasks; ++i) {
        const QCborValue v = fs[i].result();
        if (name == QLatin1String("primes") || name == QLatin1String("primes_native")
            || name == QLatin1String("cpu_then_wait")) {
            QCOMPARE(v.toInteger(), primeCount(start + i * run.size, start + (i + 1) * run.size));
        } else if (name == QLatin1String("long_tail")) {
            // Consecutive ranges: task i continues where task i-1 ended.
            qint64 lo = start;
            for (qint64 j = 0; j < i; ++j)
                lo += run.size * workloads::longTailFactor(j, seed, 150, 50);
            const qint64 f = workloads::longTailFactor(i, seed, 150, 50);
            QCOMPARE(v.toInteger(), primeCount(lo, lo + run.size * f));
        } else if (name == QLatin1String("mandelbrot")) {
            const qint64 width = w->knob(run, QStringLiteral("width"));
            const qint64 maxIter = w->knob(run, QStringLiteral("max_iter"));
            const qint64 height = run.tasks * run.size;
            const QCborMap m = v.toMap();
            QCOMPARE(m.value(QStringLiteral("x")).toInteger(), 0);
            QCOMPARE(m.value(QStringLiteral("y")).toInteger(), i * run.size);
            QCOMPARE(m.value(QStringLiteral("w")).toInteger(), width);
            QCOMPARE(m.value(QStringLiteral("h")).toInteger(), run.size);
            QCOMPARE(m.value(QStringLiteral("width")).toInteger(), width);
            QCOMPARE(m.value(QStringLiteral("height")).toInteger(), height);
            QCOMPARE(m.value(QStringLiteral("max_iter")).toInteger(), maxIter);
            const QByteArray px = m.value(QStringLiteral("iterations")).toByteArray();
            QCOMPARE(px.size(), width * run.size);
            for (qint64 r = 0; r < run.size; ++r)
                for (qint64 c = 0; c < width; ++c)
                    QCOMPARE(int(quint8(px[r * width + c])),
                             mandelPixel(c, i * run.size + r, width, height, maxIter));
            if (width == 5 && height == 3 && i == 1) {
                // Known points on the real axis: c = -0.7 and -0.1 are inside
                // the main cardioid; c = 0.5 escapes after 5 steps.
                QCOMPARE(int(quint8(px[2])), 255);
                QCOMPARE(int(quint8(px[3])), 255);
                QCOMPARE(int(quint8(px[4])), 5);
            }
            if (width == 5 && i == 0)
                QCOMPARE(int(quint8(px[0])), 1); // c = -1.9 - 0.8i: |c| > 2 at once
        } else if (name == QLatin1String("matmul") || name == QLatin1String("matmul_native")) {
            QCOMPARE(v.toInteger(), matmulChecksum(run.size, seed + i));
        } else if (name == QLatin1String("montecarlo_pi")) {
            QCOMPARE(v.toInteger(), monteCarloHits(run.size, seed + i));
        } else if (name == QLatin1String("hash") || name == QLatin1String("hash_native")) {
            QCOMPARE(v.toString(), fnvOfStream(run.size, seed + i));
            if (run.size == 0) // FNV-1a 64 of no bytes is its offset basis
                QCOMPARE(v.toString(), QStringLiteral("cbf29ce484222325"));
        } else if (name == QLatin1String("sleep")) {
            QCOMPARE(v.toInteger(), run.size);
        } else if (name == QLatin1String("file_io")) {
            QCOMPARE(v.toInteger(), run.size);
        } else if (name == QLatin1String("pipeline")) {
            QCOMPARE(v.toMap(), pipelineExpected(i, run.size, seed));
        } else {
            QFAIL(qPrintable(QStringLiteral("no expectation for %1").arg(name)));
        }
    }
    if (name == QLatin1String("montecarlo_pi")) {
        qint64 hits = 0;
        for (auto& f : fs)
            hits += f.result().toInteger();
        const double pi = 4.0 * double(hits) / double(run.tasks * run.size);
        QVERIFY2(std::abs(pi - M_PI) < 0.01, qPrintable(QString::number(pi)));
    }
    if (name == QLatin1String("sleep")) {
        // A lower bound only (never a timing upper bound in a test): three
        // 20 ms sleeps on three workers cannot all end in under 20 ms.
        QVERIFY(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(run.size));
    }
    if (name == QLatin1String("file_io"))
        QCOMPARE(leftoverFiles(), QStringList());
    if (gil) {
        QVERIFY(threads->waitForIdle(Deadline::after(tst::kGuard)));
        QCOMPARE(threads->gil()->holder(), -1); // every task gave it back
        QCOMPARE(threads->gil()->waiters(), 0);
    }
    // Every task ran exactly once, wherever it ran (the pipeline submits a
    // second-stage task per item when its first stage finishes).
    QVERIFY(executor->waitForIdle(Deadline::after(tst::kGuard)));
    const quint64 stages = name == QLatin1String("pipeline") ? 2 : 1;
    QCOMPARE(executor->counters().succeeded, quint64(run.tasks) * stages);
    QCOMPARE(executor->counters().failed, quint64(0));
}

void TstWorkloads::throwsFailsEveryKth_data()
{
    QTest::addColumn<int>("tasks");
    QTest::addColumn<int>("every");
    QTest::newRow("7 tasks, every 3rd") << 7 << 3;
    QTest::newRow("5 tasks, every task") << 5 << 1;
    QTest::newRow("4 tasks, every 5th: none") << 4 << 5;
    QTest::newRow("22 tasks, every 11th") << 22 << 11;
}

void TstWorkloads::throwsFailsEveryKth()
{
    QFETCH(int, tasks);
    QFETCH(int, every);
    ThreadPoolExecutor pool(2);
    const qint64 size = 1000, start = 5000;
    auto fs = Workloads::submit(pool, QStringLiteral("throws"),
                                makeRun(tasks, size, {{"every", every}, {"start", start}}));
    QCOMPARE(fs.size(), qsizetype(tasks));
    for (int i = 0; i < tasks; ++i) {
        QVERIFY(fs[i].waitForDone(tst::kGuard));
        if ((i + 1) % every == 0) {
            QVERIFY2(fs[i].exception(), qPrintable(QString::number(i)));
            bool runtimeError = false;
            const QString msg = errorText(fs[i], &runtimeError);
            QVERIFY(runtimeError);
            QVERIFY2(msg.startsWith(QStringLiteral("task %1 failed on purpose").arg(i)),
                     qPrintable(msg));
        } else {
            QVERIFY2(!fs[i].exception(), qPrintable(QString::number(i)));
            QCOMPARE(fs[i].result().toInteger(),
                     primeCount(start + i * size, start + (i + 1) * size));
        }
    }
    const Counters c = pool.counters();
    QCOMPARE(c.failed, quint64(tasks / every));
    QCOMPARE(c.succeeded, quint64(tasks - tasks / every));
}

// ------------------------------------------------------------ refusals

void TstWorkloads::processOnlyRefusedOnThreadPool_data()
{
    QTest::addColumn<QString>("name");
    QTest::newRow("crash") << QStringLiteral("crash");
    QTest::newRow("hang") << QStringLiteral("hang");
}

void TstWorkloads::processOnlyRefusedOnThreadPool()
{
    QFETCH(QString, name);
    const Workload* w = Workloads::find(name);
    QVERIFY(w);
    QVERIFY(w->processOnly);
    const WorkloadRun run = w->defaultRun();
    QCOMPARE(Workloads::validate(name, run), QString()); // the parameters are fine ...
    QCOMPARE(Workloads::validate(name, run, QStringLiteral("process")), QString());
    const QString why =
        Workloads::validate(name, run, QStringLiteral("thread")); // ... the pool is not
    QCOMPARE(why, QStringLiteral("workload '%1' can only run on a process pool: on a thread pool "
                                 "it would take the whole program down")
                      .arg(name));

    ThreadPoolExecutor pool(1);
    try {
        Workloads::submit(pool, name, run);
        QFAIL("submit must refuse a process-only workload on a thread pool");
    } catch (const InvalidArgument& e) {
        QCOMPARE(QString::fromUtf8(e.what()), why);
    }
    // The task itself is refused too when called by name.
    auto f = pool.submitNamed(w->taskName, w->plan(run).first());
    QVERIFY(f.done());
    QVERIFY(errorText(f).contains(QStringLiteral("can only run on a process pool")));
    QCOMPARE(pool.counters().submitted, quint64(0)); // nothing was queued
}

// ------------------------------------------- pathological, on processes

void TstWorkloads::crashOnProcessPool_data()
{
    QTest::addColumn<int>("mode");
    QTest::addColumn<QString>("named"); // what the error must name
    QTest::newRow("segfault") << 0 << QStringLiteral("SIGSEGV");
    QTest::newRow("abort") << 1 << QStringLiteral("SIGABRT");
    QTest::newRow("exit 3") << 2 << QStringLiteral("exited with code 3");
}

void TstWorkloads::crashOnProcessPool()
{
    QFETCH(int, mode);
    QFETCH(QString, named);
#if defined(__SANITIZE_ADDRESS__)
    if (mode == 0) // ASan's SEGV handler reports, then aborts the worker
        named = QStringLiteral("SIGABRT");
#endif
    ProcessPoolOptions options;
    options.maxWorkers = 2;
    options.workerProgram = QCoreApplication::applicationFilePath();
    ProcessPoolExecutor pool(options);
    // 8 tasks, every 4th (index 3 and 7) kills its worker; the others return
    // their index -- on the replacement workers too.
    const WorkloadRun run = makeRun(8, 0, {{"every", 4}, {"mode", mode}, {"exit_code", 3}});
    QList<Future<QCborValue>> fs = Workloads::submit(pool, QStringLiteral("crash"), run);
    QCOMPARE(fs.size(), 8);
    for (qsizetype i = 0; i < fs.size(); ++i) {
        QVERIFY(fs[i].waitForDone(tst::kGuard));
        if (i == 3 || i == 7) {
            QVERIFY(fs[i].exception());
            try {
                std::rethrow_exception(fs[i].exception());
            } catch (const WorkerCrashed& e) {
                QVERIFY2(QString::fromUtf8(e.what()).contains(named), e.what());
            } catch (const std::exception& e) {
                QFAIL(qPrintable(QStringLiteral("not WorkerCrashed: %1").arg(e.what())));
            }
        } else {
            QCOMPARE(fs[i].result().toInteger(), qint64(i));
        }
    }
    QVERIFY(!pool.isBroken());
    QCOMPARE(pool.counters().failed, quint64(2));
    QCOMPARE(pool.counters().succeeded, quint64(6));
}

void TstWorkloads::hangOnProcessPoolIsCancelled()
{
    ProcessPoolOptions options;
    // One task per worker: with pipelining, a task sent ahead to the worker
    // that runs a hanging task would wait behind it.
    options.maxWorkers = 4;
    options.pipelineDepth = 1;
    options.shutdownGrace = 5s; // a failed check must not hang the destructor
    options.workerProgram = QCoreApplication::applicationFilePath();
    ProcessPoolExecutor pool(options);
    // Tasks 1 and 3 never end on their own; 0 and 2 return their index.
    const WorkloadRun run = makeRun(4, 0, {{"every", 2}});
    QList<Future<QCborValue>> fs = Workloads::submit(pool, QStringLiteral("hang"), run);
    QCOMPARE(fs[0].result(tst::kGuard).toInteger(), 0);
    QCOMPARE(fs[2].result(tst::kGuard).toInteger(), 2);
    QTRY_VERIFY_WITH_TIMEOUT(
        fs[1].state() == FutureState::Running && fs[3].state() == FutureState::Running, 30000);
    // Python's cancel() refuses a running task; requestStop() on the process
    // pool kills the worker that runs it and cancels the future.
    QVERIFY(!fs[1].cancel());
    QVERIFY(fs[1].requestStop());
    QVERIFY(fs[3].requestStop());
    QVERIFY(fs[1].waitForDone(tst::kGuard));
    QVERIFY(fs[3].waitForDone(tst::kGuard));
    QCOMPARE(fs[1].state(), FutureState::Cancelled);
    QCOMPARE(fs[3].state(), FutureState::Cancelled);
    // The pool is healthy afterwards: a fresh task runs on a new worker.
    QList<Future<QCborValue>> more =
        Workloads::submit(pool, QStringLiteral("hang"), makeRun(1, 0, {{"every", 2}}));
    QCOMPARE(more[0].result(tst::kGuard).toInteger(), 0);
    QVERIFY(!pool.isBroken());
}

void TstWorkloads::throwsOnProcessPool()
{
    // The task's exception crosses the protocol: same type and message as on
    // the thread pool (throwsFailsEveryKth checks those).
    ProcessPoolOptions options;
    options.maxWorkers = 2;
    options.workerProgram = QCoreApplication::applicationFilePath();
    ProcessPoolExecutor pool(options);
    const Workload* w = Workloads::find(QStringLiteral("throws"));
    QVERIFY(w);
    const WorkloadRun run = w->defaultRun();
    QList<Future<QCborValue>> onProcesses = Workloads::submit(pool, w->name, run);
    ThreadPoolExecutor threads(ThreadPoolOptions{});
    QList<Future<QCborValue>> onThreads = Workloads::submit(threads, w->name, run);
    QCOMPARE(onProcesses.size(), onThreads.size());
    int failed = 0;
    for (qsizetype i = 0; i < onThreads.size(); ++i) {
        QVERIFY(onProcesses[i].waitForDone(tst::kGuard));
        QVERIFY(onThreads[i].waitForDone(tst::kGuard));
        QCOMPARE(onProcesses[i].state(), onThreads[i].state());
        if (onThreads[i].exception()) {
            ++failed;
            auto what = [](const Future<QCborValue>& f) {
                try {
                    std::rethrow_exception(f.exception());
                } catch (const std::exception& e) {
                    return QString::fromUtf8(e.what());
                }
                return QString();
            };
            QCOMPARE(what(onProcesses[i]), what(onThreads[i]));
        } else {
            QCOMPARE(onProcesses[i].result(), onThreads[i].result());
        }
    }
    QVERIFY(failed > 0);
}

void TstWorkloads::validateRejects_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<WorkloadRun>("run");
    QTest::addColumn<QString>("message");
    QTest::newRow("unknown workload")
        << QStringLiteral("nope") << makeRun(1, 1)
        << QStringLiteral("unknown workload 'nope' (known workloads: %1)")
               .arg(Workloads::names().join(QStringLiteral(", ")));
    QTest::newRow("zero tasks") << QStringLiteral("primes") << makeRun(0, 100)
                                << QStringLiteral("workload 'primes' needs at least 1 task, got 0");
    QTest::newRow("negative tasks")
        << QStringLiteral("sleep") << makeRun(-3, 100)
        << QStringLiteral("workload 'sleep' needs at least 1 task, got -3");
    QTest::newRow("too many tasks")
        << QStringLiteral("matmul") << makeRun(10'001, 10)
        << QStringLiteral("workload 'matmul' allows at most 10000 tasks, got 10001");
    QTest::newRow("huge task count")
        << QStringLiteral("primes") << makeRun(std::numeric_limits<int>::max(), 10)
        << QStringLiteral("workload 'primes' allows at most 1000000 tasks, got 2147483647");
    QTest::newRow("size too small")
        << QStringLiteral("matmul") << makeRun(1, 0)
        << QStringLiteral("the size of workload 'matmul' (matrix order n) must be between 1 and "
                          "1024, got 0");
    QTest::newRow("size too large")
        << QStringLiteral("matmul_native") << makeRun(1, 1025)
        << QStringLiteral("the size of workload 'matmul_native' (matrix order n) must be between "
                          "1 and 1024, got 1025");
    QTest::newRow("negative sleep")
        << QStringLiteral("sleep") << makeRun(1, -5)
        << QStringLiteral("the size of workload 'sleep' (ms) must be between 0 and 3600000, got "
                          "-5");
    QTest::newRow("unknown knob")
        << QStringLiteral("primes") << makeRun(1, 10, {{"colour", 1}})
        << QStringLiteral("workload 'primes' has no knob 'colour' (its knobs: start)");
    QTest::newRow("knob on a workload without knobs")
        << QStringLiteral("sleep") << makeRun(1, 10, {{"seed", 1}})
        << QStringLiteral("workload 'sleep' has no knob 'seed' (it has no knobs)");
    QTest::newRow("knob below range")
        << QStringLiteral("throws") << makeRun(3, 10, {{"every", 0}})
        << QStringLiteral("knob 'every' of workload 'throws' must be between 1 and 100000, got 0");
    QTest::newRow("knob above range")
        << QStringLiteral("crash") << makeRun(3, 10, {{"mode", 3}})
        << QStringLiteral("knob 'mode' of workload 'crash' must be between 0 and 2, got 3");
    QTest::newRow("mandelbrot too tall")
        << QStringLiteral("mandelbrot") << makeRun(65'536, 2)
        << QStringLiteral("the mandelbrot image would be 131072 pixels high (tasks x size); the "
                          "limit is 65536");
}

void TstWorkloads::validateRejects()
{
    QFETCH(QString, name);
    QFETCH(WorkloadRun, run);
    QFETCH(QString, message);
    QCOMPARE(Workloads::validate(name, run), message);
    ThreadPoolExecutor pool(1);
    try {
        Workloads::submit(pool, name, run);
        QFAIL("submit must throw what validate() says");
    } catch (const InvalidArgument& e) {
        QCOMPARE(QString::fromUtf8(e.what()), message);
    }
    QCOMPARE(pool.counters().submitted, quint64(0));
}

// ----------------------------------------------------- progress and stop

void TstWorkloads::progressAndStop_data()
{
    // One task far too big to finish during the test: it must report
    // progress, then end CANCELLED soon after a stop request.
    QTest::addColumn<QString>("name");
    QTest::addColumn<WorkloadRun>("run");
    QTest::newRow("primes") << QStringLiteral("primes") << makeRun(1, 500'000'000);
    QTest::newRow("primes_native") << QStringLiteral("primes_native") << makeRun(1, 500'000'000);
    QTest::newRow("mandelbrot") << QStringLiteral("mandelbrot")
                                << makeRun(1, 16'384, {{"max_iter", 100'000}});
    QTest::newRow("matmul") << QStringLiteral("matmul") << makeRun(1, 1024);
    QTest::newRow("matmul_native") << QStringLiteral("matmul_native") << makeRun(1, 1024);
    QTest::newRow("montecarlo_pi")
        << QStringLiteral("montecarlo_pi") << makeRun(1, 10'000'000'000LL);
    QTest::newRow("hash") << QStringLiteral("hash") << makeRun(1, qint64(1) << 32);
    QTest::newRow("hash_native") << QStringLiteral("hash_native") << makeRun(1, qint64(1) << 32);
    QTest::newRow("sleep") << QStringLiteral("sleep") << makeRun(1, 3'600'000);
    QTest::newRow("file_io") << QStringLiteral("file_io") << makeRun(1, 1 << 30);
    QTest::newRow("cpu_then_wait") << QStringLiteral("cpu_then_wait") << makeRun(1, 500'000'000);
    QTest::newRow("long_tail") << QStringLiteral("long_tail") << makeRun(1, 100'000'000);
    QTest::newRow("throws") << QStringLiteral("throws") << makeRun(1, 500'000'000);
    QTest::newRow("pipeline stage 1") << QStringLiteral("pipeline") << makeRun(1, 1 << 22);
}

void TstWorkloads::progressAndStop()
{
    QFETCH(QString, name);
    QFETCH(WorkloadRun, run);
    const Workload* w = Workloads::find(name);
    QVERIFY(w);
    QCOMPARE(Workloads::validate(name, run, QStringLiteral("thread")), QString());
    ThreadPoolExecutor pool(1);
    // The plan's task itself (for the pipeline: stage 1), so its future is
    // the running task's and requestStop() reaches it.
    auto f = pool.submitNamed(w->taskName, w->plan(run).first());
    auto progress = [&pool] {
        TelemetryBatch b;
        pool.collectTelemetry(b, 0);
        return b.workers.isEmpty() ? -1.0 : b.workers.first().progress;
    };
    QTRY_VERIFY_WITH_TIMEOUT(progress() > 0.0, 30'000);
    QVERIFY(progress() < 1.0);
    QVERIFY(!f.done());
    QVERIFY(f.requestStop());
    QVERIFY(f.waitForDone(tst::kGuard));
    TST_COMPARE_STATE(f, FutureState::Cancelled);
    QCOMPARE(pool.counters().cancelled, quint64(1));
    if (name == QLatin1String("file_io"))
        QCOMPARE(leftoverFiles(), QStringList()); // removed although the task was stopped
}

// ------------------------------------------------------------- long tail

void TstWorkloads::longTailIsSkewed()
{
    // Pareto(1.5) multipliers, capped at 50: most tasks small, a few huge.
    std::vector<qint64> f;
    for (qint64 i = 0; i < 1000; ++i) {
        const qint64 v = workloads::longTailFactor(i, 1, 150, 50);
        QVERIFY(v >= 1 && v <= 50);
        QCOMPARE(workloads::longTailFactor(i, 1, 150, 50), v); // deterministic
        f.push_back(v);
    }
    std::vector<qint64> sorted = f;
    std::sort(sorted.begin(), sorted.end());
    const qint64 median = sorted[500], max = sorted.back();
    const auto ones = std::count(f.begin(), f.end(), 1);
    const auto top = std::count_if(f.begin(), f.end(), [](qint64 v) { return v >= 10; });
    qInfo("long_tail factors: median %lld, max %lld, %lld of 1000 at 1, %lld >= 10",
          static_cast<long long>(median), static_cast<long long>(max), static_cast<long long>(ones),
          static_cast<long long>(top));
    QCOMPARE(median, qint64(1)); // P(X < 2) = 1 - 2^-1.5 ~ 65 %
    QCOMPARE(max, qint64(50));   // P(X >= 50) ~ 0.3 %: some of 1000 hit the cap
    QVERIFY(ones > 550 && ones < 750);
    QVERIFY(top > 10 && top < 60); // P(X >= 10) ~ 3.2 %
    // A heavier tail (smaller alpha) gives bigger multipliers on the whole.
    qint64 light = 0, heavy = 0;
    for (qint64 i = 0; i < 1000; ++i) {
        light += workloads::longTailFactor(i, 1, 300, 50);
        heavy += workloads::longTailFactor(i, 1, 110, 50);
    }
    QVERIFY(heavy > light);
}

// -------------------------------------------------------------- pipeline

void TstWorkloads::pipelineErrorsPropagate_data()
{
    QTest::addColumn<int>("stage");
    QTest::newRow("stage 1 fails") << 1;
    QTest::newRow("stage 2 fails") << 2;
}

void TstWorkloads::pipelineErrorsPropagate()
{
    QFETCH(int, stage);
    ThreadPoolExecutor pool(2);
    const int items = 7;
    const qint64 size = 500, seed = 11, every = 3;
    auto fs = Workloads::submit(
        pool, QStringLiteral("pipeline"),
        makeRun(items, size, {{"seed", seed}, {"fail_every", every}, {"fail_stage", stage}}));
    QCOMPARE(fs.size(), qsizetype(items));
    for (int i = 0; i < items; ++i) {
        QVERIFY(fs[i].waitForDone(tst::kGuard));
        if ((i + 1) % every == 0) {
            bool runtimeError = false;
            const QString msg = errorText(fs[i], &runtimeError);
            QVERIFY(runtimeError);
            const QString expected =
                stage == 1 ? QStringLiteral("pipeline_parse: item %1 has a malformed record").arg(i)
                           : QStringLiteral("pipeline_reduce: item %1 cannot be reduced").arg(i);
            QVERIFY2(msg.startsWith(expected), qPrintable(msg));
        } else {
            QCOMPARE(fs[i].result().toMap(), pipelineExpected(i, size, seed));
        }
    }
    QVERIFY(pool.waitForIdle(Deadline::after(tst::kGuard)));
    // Items that failed in stage 1 never reached stage 2.
    const quint64 failing = items / every;
    QCOMPARE(pool.counters().failed, failing);
    QCOMPARE(pool.counters().submitted,
             quint64(items) + (stage == 1 ? quint64(items) - failing : quint64(items)));
}

void TstWorkloads::pipelineStage2AfterShutdownFails()
{
    // Stage 2 is submitted when stage 1 ends. If the pool was shut down in
    // between, the item fails with ShutdownError instead of hanging.
    ThreadPoolExecutor pool(1);
    tst::Gate gate;
    std::latch blocking(1);
    pool.submit([gate, &blocking] {
        blocking.count_down();
        gate.wait();
    });
    blocking.wait(); // the only worker is busy: stage 1 stays queued
    auto fs = Workloads::submit(pool, QStringLiteral("pipeline"), makeRun(1, 100));
    pool.shutdown(/*wait=*/false); // queued work still runs, new submits fail
    gate.open();
    QVERIFY(fs.first().waitForDone(tst::kGuard));
    QVERIFY_THROWS_EXCEPTION(ShutdownError, fs.first().result());
}

int main(int argc, char** argv)
{
    // The process-pool rows start this binary as their worker.
    if (isWorkerInvocation(argc, argv))
        return runWorker(argc, argv);
    QCoreApplication app(argc, argv);
    TstWorkloads t;
    return QTest::qExec(&t, argc, argv);
}

namespace {

/// Qt's compact diagnostic notation, cut as cborSummary() promises.
QString qtSummary(const QCborValue& v, int maxLength)
{
    QString s = v.toDiagnosticNotation(QCborValue::Compact);
    if (maxLength > 3 && s.size() > maxLength)
        s = s.left(maxLength - 3) + QStringLiteral("...");
    return s;
}

/// One value of every kind the notation distinguishes, and the escapes,
/// nestings and number forms where a hand-written notation could differ.
QList<std::pair<const char*, QCborValue>> summaryCases()
{
    QCborMap m;
    m.insert(QStringLiteral("a"), 1);
    m.insert(2, QCborArray{1.5, true, QCborValue(), QCborValue(QCborSimpleType::Undefined)});
    m.insert(QStringLiteral("s\"x\n"), QByteArray("\x01\x02"));
    QCborMap oddKeys;
    oddKeys.insert(QCborArray{1, QStringLiteral("k")}, 1);
    oddKeys.insert(-2.5, QCborMap{{1, 2}});
    oddKeys.insert(QCborValue(true), QCborValue());
    oddKeys.insert(QCborValue(), QByteArray("k"));
    oddKeys.insert(QCborValue(QCborKnownTags::Signature, 7), QStringLiteral("tagged key"));
    QString controls;
    for (char16_t c = 0; c < 0x20; ++c)
        controls += QChar(c);
    controls += QStringLiteral("\x7f \\ \" '/");
    const QChar loneSurrogates[] = {QChar(0xdc00), u'x', QChar(0xd83d), u'y', QChar(0xd800)};
    QByteArray allBytes;
    for (int b = 0; b < 256; ++b)
        allBytes += char(b);
    QCborValue deep(42);
    for (int level = 0; level < 40; ++level)
        deep = level % 2 ? QCborValue(QCborArray{deep, level})
                         : QCborValue(QCborMap{{QString::number(level), deep}});
    QCborArray doubles; // what poolscope-bench's summary.cost summarises
    for (int i = 0; i < 200; ++i)
        doubles.append(i * 1.5);
    return {
        {"int", QCborValue(-7)},
        {"int64 min", QCborValue(std::numeric_limits<qint64>::min())},
        {"int64 max", QCborValue(std::numeric_limits<qint64>::max())},
        {"double", QCborValue(2.0)},
        {"short decimal", QCborValue(-0.125)},
        {"negative zero", QCborValue(-0.0)},
        {"huge exponent", QCborValue(1.7976931348623157e308)},
        {"tiny exponent", QCborValue(-5e-324)},
        {"small exponent", QCborValue(1.5e-7)},
        {"above 2^64", QCborValue(1.5e20)},
        {"huge int", QCborValue(qint64(1) << 60)},
        {"nan", QCborValue(qQNaN())},
        {"inf", QCborValue(qInf())},
        {"-inf", QCborValue(-qInf())},
        {"string with escapes", QCborValue(QStringLiteral("h\u00e9\"\t"))},
        {"empty string", QCborValue(QString())},
        {"control characters", QCborValue(controls)},
        {"non-ASCII", QCborValue(QStringLiteral("\u00e9\u4e2d\u00a0\u0080\ufffd\uffff"))},
        {"surrogate pair", QCborValue(QStringLiteral("a\U0001F600b\U0010FFFF"))},
        {"lone surrogates", QCborValue(QString(loneSurrogates, std::size(loneSurrogates)))},
        {"escapes cut midway", QCborValue(QString(60, QChar(0x01)))},
        {"pairs cut midway", QCborValue(QStringLiteral("\U0001F600").repeated(20))},
        {"map of everything", QCborValue(m)},
        {"map with odd keys", QCborValue(oddKeys)},
        {"empty array", QCborValue(QCborArray{})},
        {"empty map", QCborValue(QCborMap{})},
        {"tag", QCborValue(QCborKnownTags::DateTimeString, QStringLiteral("2020"))},
        {"tag of a tag", QCborValue(QCborTag(1), QCborValue(QCborTag(2), 3))},
        {"bignum", QCborValue(QCborKnownTags::PositiveBignum, QByteArray("\x01\x00", 2))},
        {"huge tag", QCborValue(QCborTag(std::numeric_limits<quint64>::max()), 0)},
        {"date-time", QCborValue(QDateTime(QDate(2026, 12, 6), QTime(20, 40), Qt::UTC))},
        {"url", QCborValue(QUrl(QStringLiteral("https://example.org/a b?q=\u00e9")))},
        {"uuid", QCborValue(QUuid(QStringLiteral("{67c8770b-44f1-410a-ab9a-f9b5446f13ee}")))},
        {"regular expression", QCborValue(QRegularExpression(QStringLiteral("a+\\d")))},
        {"simple", QCborValue(QCborSimpleType(42))},
        {"simple 0", QCborValue(QCborSimpleType(0))},
        {"simple 255", QCborValue(QCborSimpleType(255))},
        {"true, false, null, undefined",
         QCborValue(
             QCborArray{true, false, QCborValue(nullptr), QCborValue(QCborSimpleType::Undefined)})},
        {"invalid", QCborValue(QCborValue::Invalid)},
        {"invalid in an array", QCborValue(QCborArray{1, QCborValue(QCborValue::Invalid)})},
        {"nested", QCborValue(QCborArray{QCborArray{1, 2}, QCborMap{{1, 2}}})},
        {"deeply nested", deep},
        {"array of doubles", QCborValue(doubles)},
        {"empty bytes", QCborValue(QByteArray())},
        {"every byte", QCborValue(allBytes)},
        {"long bytes", QCborValue(QByteArray(500, 'x'))},
        {"long string", QCborValue(QString(500, u'y'))},
    };
}

} // namespace

void TstWorkloads::summariesMatchQtsNotation_data()
{
    QTest::addColumn<QCborValue>("value");
    QTest::addColumn<int>("maxLength");
    for (const auto& [name, v] : summaryCases())
        for (int len : {0, 5, 20, 120, 4000})
            QTest::addRow("%s, %d", name, len) << v << len;
}

void TstWorkloads::summariesMatchQtsNotation()
{
    // The bounded summary says exactly what Qt's diagnostic notation says,
    // cut the same way.
    QFETCH(QCborValue, value);
    QFETCH(int, maxLength);
    QCOMPARE(cborSummary(value, maxLength), qtSummary(value, maxLength));
}

void TstWorkloads::summariesCutAnywhereMatchQt_data()
{
    QTest::addColumn<QCborValue>("value");
    for (const auto& [name, v] : summaryCases())
        QTest::newRow(name) << v;
}

void TstWorkloads::summariesCutAnywhereMatchQt()
{
    // Every length a summary can be cut to, a character past the whole
    // text included: inside an escape, a number, a tag, between elements.
    QFETCH(QCborValue, value);
    const int whole =
        int(std::min<qsizetype>(value.toDiagnosticNotation(QCborValue::Compact).size(), 1200));
    for (int maxLength = 4; maxLength <= whole + 1; ++maxLength)
        QCOMPARE(cborSummary(value, maxLength), qtSummary(value, maxLength));
}

void TstWorkloads::summariesOfNumbersMatchQt()
{
    // Numbers are written without Qt's per-value machinery: the same text
    // for random bit patterns, ratios, powers of two and integers.
    std::mt19937_64 g(14);
    QCborArray a;
    for (int i = 0; i < 20'000; ++i) {
        const quint64 bits = g();
        double d;
        std::memcpy(&d, &bits, sizeof d);
        a.append(d);
        a.append(double(g() % 1'000'000) / double(1 + g() % 1000));
        a.append(std::ldexp(double(g() % 100'000), int(g() % 140) - 70));
        a.append(qint64(g()));
    }
    // Short decimals (written without std::to_chars when they have at most
    // 8 places), with up to 12 places, and their neighbouring doubles,
    // which need every digit.
    for (int i = 0; i < 2'000; ++i) {
        for (int places = 0; places <= 12; ++places) {
            const double scale = std::pow(10.0, places);
            const double d = double(g() % 10'000'000'000'000) / scale;
            a.append(d);
            a.append(-double(g() % 1'000) / scale);
            a.append(std::nextafter(d, 1e300));
            a.append(std::nextafter(d, -1e300));
        }
    }
    // and the edges of Qt's choice between decimal and exponent form (the
    // shorter; decimal on a tie)
    for (double d : {0.0,
                     -0.0,
                     1e-4,
                     1e16,
                     1e17,
                     1e21,
                     -1e22,
                     5e-324,
                     qInf(),
                     -qInf(),
                     123456789.123,
                     1.791869701740036e20,
                     1.5e20,
                     1.5e-7,
                     0.00015,
                     1e-5,
                     -1.25e-4,
                     1.7976931348623157e308,
                     -2.2250738585072014e-308,
                     0.1})
        a.append(d);
    for (const QCborValue& v : a)
        QCOMPARE(cborSummary(v, 1000), v.toDiagnosticNotation(QCborValue::Compact));
}

void TstWorkloads::summariesOfRandomValuesMatchQt()
{
    // Random trees of every kind of value, strings full of characters that
    // need escapes: whole and cut anywhere, the same text as Qt's.
    std::mt19937_64 g(15);
    const auto randomString = [&g] {
        static const char16_t palette[] = {
            u'a', u'Z', u'0',   u' ',   u'"',   u'\\',  u'\'',  0x00,   0x07,  0x08,
            0x09, 0x0a, 0x0b,   0x0c,   0x0d,   0x0e,   0x1b,   0x1f,   0x7e,  0x7f,
            0x80, 0xe9, 0x4e2d, 0xfeff, 0xd83d, 0xde00, 0xdbff, 0xdfff, 0xffff};
        QString s;
        const int n = int(g() % 12);
        for (int i = 0; i < n; ++i)
            s += QChar(palette[g() % std::size(palette)]);
        return s;
    };
    const auto randomDouble = [&g] {
        switch (g() % 4) {
        case 0: {
            const quint64 bits = g();
            double d;
            std::memcpy(&d, &bits, sizeof d);
            return d;
        }
        case 1:
            return double(qint64(g() % 2'000'001) - 1'000'000) / std::pow(10.0, int(g() % 10));
        case 2:
            return std::ldexp(double(g() % 1'000), int(g() % 2'000) - 1'000);
        default:
            return double(qint64(g() % 201) - 100);
        }
    };
    std::function<QCborValue(int)> randomValue = [&](int depth) -> QCborValue {
        switch (g() % (depth > 0 ? 12 : 9)) {
        case 0:
            return qint64(g()) >> (g() % 64);
        case 1:
            return randomDouble();
        case 2:
            return randomString();
        case 3: {
            QByteArray b;
            for (int i = int(g() % 10); i > 0; --i)
                b += char(g());
            return b;
        }
        case 4:
            return QCborSimpleType(g() % 256);
        case 5:
            return g() % 2 ? QCborValue(nullptr) : QCborValue(QCborValue::Invalid);
        case 6:
            return bool(g() % 2);
        case 7:
            return QCborValue(QCborSimpleType::Undefined);
        case 8:
            return qint64(g() % 200) - 100;
        case 9: {
            QCborArray a;
            for (int i = int(g() % 6); i > 0; --i)
                a.append(randomValue(depth - 1));
            return a;
        }
        case 10: {
            QCborMap m;
            for (int i = int(g() % 5); i > 0; --i)
                m.insert(randomValue(depth - 1), randomValue(depth - 1));
            return m;
        }
        default:
            // Tags 0, 1, 2, 32, 35, 37 make Qt's extended types from some
            // values: the notation is the same tag and value.
            static const quint64 tags[] = {0, 1, 2, 3, 32, 35, 37, 55799, 1u << 20, ~0ull};
            return QCborValue(QCborTag(tags[g() % std::size(tags)]), randomValue(depth - 1));
        }
    };
    for (int i = 0; i < 3'000; ++i) {
        const QCborValue v = randomValue(4);
        const QString whole = v.toDiagnosticNotation(QCborValue::Compact);
        QCOMPARE(cborSummary(v, int(whole.size()) + 1), whole);
        for (int maxLength :
             {4, 5, 120, int(whole.size()), int(4 + g() % std::max<qsizetype>(1, whole.size()))})
            QCOMPARE(cborSummary(v, maxLength), qtSummary(v, maxLength));
    }
}

void TstWorkloads::summariesOfHugeValuesAreCut()
{
    // A pipeline's 6.4 MB of arguments: the summary is the first 120
    // characters of the same text (how long it takes is a benchmark figure,
    // summary.cost_us in poolscope-bench).
    QCborArray big;
    for (int i = 0; i < 800'000; ++i)
        big.append(i * 1.5);
    const QCborValue v(QCborArray{QStringLiteral("stage"), big, QCborMap{{1, big}}});
    const QString s = cborSummary(v);
    QCOMPARE(s.size(), 120);
    QVERIFY(s.endsWith(QStringLiteral("...")));
    QVERIFY(v.toDiagnosticNotation(QCborValue::Compact).startsWith(s.chopped(3)));
}

#include "tst_workloads.moc"
