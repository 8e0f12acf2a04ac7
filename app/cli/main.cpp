// poolscope-cli: headless front end. For now: `demo` runs a CPU-bound batch
// on the thread pool and prints a summary.
#include <poolscope/threadpool.h>
#include <poolscope/waiting.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTextStream>

#include <cstdio>

namespace {
quint64 countPrimes(quint64 lo, quint64 hi)
{
    quint64 n = 0;
    for (quint64 x = std::max<quint64>(lo, 2); x < hi; ++x) {
        bool prime = true;
        for (quint64 d = 2; d * d <= x; ++d) {
            if (x % d == 0) {
                prime = false;
                break;
            }
        }
        n += prime ? 1 : 0;
    }
    return n;
}
} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("poolscope-cli"));
    QCoreApplication::setApplicationVersion(QStringLiteral("0.1.0"));
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("PoolScope command line"));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("command"), QStringLiteral("demo"));
    QCommandLineOption workersOpt(QStringLiteral("workers"), QStringLiteral("Pool size."),
                                  QStringLiteral("N"), QString::number(
                                      poolscope::ThreadPoolExecutor::defaultMaxWorkers()));
    QCommandLineOption tasksOpt(QStringLiteral("tasks"), QStringLiteral("Number of tasks."),
                                QStringLiteral("N"), QStringLiteral("64"));
    parser.addOption(workersOpt);
    parser.addOption(tasksOpt);
    parser.process(app);

    QTextStream err(stderr);
    const QStringList pos = parser.positionalArguments();
    if (pos.isEmpty() || pos.first() != QLatin1String("demo")) {
        err << "poolscope-cli: unknown or missing command (try: poolscope-cli demo)\n";
        return 2;
    }
    bool ok1 = false, ok2 = false;
    const int workers = parser.value(workersOpt).toInt(&ok1);
    const int tasks = parser.value(tasksOpt).toInt(&ok2);
    if (!ok1 || !ok2 || tasks <= 0 || tasks > 1000000) {
        err << "poolscope-cli: --workers and --tasks need positive integers (tasks <= 1000000)\n";
        return 2;
    }
    try {
        poolscope::ThreadPoolExecutor pool(workers);
        QElapsedTimer t;
        t.start();
        std::vector<poolscope::Future<quint64>> fs;
        const quint64 span = 20000;
        for (int i = 0; i < tasks; ++i)
            fs.push_back(pool.submitWith({QStringLiteral("primes"), 0}, countPrimes, i * span,
                                         (i + 1) * span));
        quint64 total = 0;
        for (auto f : poolscope::asCompleted(fs))
            total += f.result();
        const double wall = t.nsecsElapsed() / 1e9;
        const auto c = pool.counters();
        QTextStream out(stdout);
        out << "workload   primes below " << tasks * span << " in " << tasks << " tasks\n"
            << "pool       thread, " << pool.maxWorkers() << " workers\n"
            << "result     " << total << " primes\n"
            << "tasks      " << c.succeeded << " done, " << c.failed << " failed, "
            << c.cancelled << " cancelled\n"
            << "wall       " << QString::number(wall, 'f', 3) << " s ("
            << QString::number(tasks / wall, 'f', 1) << " tasks/s)\n";
    } catch (const std::exception& e) {
        err << "poolscope-cli: " << e.what() << "\n";
        return 2;
    }
    return 0;
}
