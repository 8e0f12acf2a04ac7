// poolscope-attach-demo: a program that publishes one pool (docs/attach.md),
// for tests/attach and for screenshots of the attach views.
//
//   poolscope-attach-demo [--pool thread|process] [--workers N] [--name demo]
//       [--control resize,pause,resume,step,cancel_pending] [--tasks N]
//       [--task-ms M] [--rate R] [--forever] [--wait-viewer] [--exit-crash]
//       [--env-only] [--fail-every K]
//
// Prints "READY <socketPath> <poolId>" once published, runs its tasks, then
// one JSON line with the pool's own counters, and exits (viewers get `bye`).
// --wait-viewer waits for a line on stdin before the tasks start; --forever
// runs until stdin gets a line (or closes); --exit-crash ends the process
// with _exit(3) halfway through (no `bye`); --env-only makes the pool without
// calling publish() (run it with POOLSCOPE_PUBLISH=1).

#include <poolscope/attach.h>
#include <poolscope/processpool.h>
#include <poolscope/threadpool.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QJsonDocument>
#include <QJsonObject>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>

using namespace poolscope;

int main(int argc, char** argv)
{
    if (argc > 1 && QString::fromLocal8Bit(argv[1]) == QLatin1StringView("--poolscope-worker"))
        return 0; // never a worker: the process pool uses poolscope-worker
    // --no-app: a program with no QCoreApplication at all publishes too (the
    // publisher's thread runs its own event loop).
    QStringList args;
    bool noApp = false;
    for (int i = 0; i < argc; ++i) {
        args << QString::fromLocal8Bit(argv[i]);
        noApp = noApp || args.last() == QLatin1StringView("--no-app");
    }
    std::unique_ptr<QCoreApplication> app;
    if (!noApp)
        app = std::make_unique<QCoreApplication>(argc, argv);
    QCommandLineParser p;
    p.addOption({"no-app", "run without a QCoreApplication"});
    p.addHelpOption();
    p.addOption({"pool", "thread or process", "kind", "thread"});
    p.addOption({"workers", "workers", "n", "2"});
    p.addOption({"name", "published name", "name", "demo"});
    p.addOption({"control", "allowed operations (comma list)", "ops", ""});
    p.addOption({"tasks", "tasks to run", "n", "10"});
    p.addOption({"task-ms", "ms per task", "ms", "1"});
    p.addOption({"rate", "tasks per second (0: all at once)", "r", "0"});
    p.addOption({"forever", "run until stdin gets a line"});
    p.addOption({"wait-viewer", "wait for a line on stdin before the tasks"});
    p.addOption({"exit-crash", "_exit(3) halfway through"});
    p.addOption({"env-only", "make the pool without publish() (POOLSCOPE_PUBLISH=1)"});
    p.addOption({"fail-every", "every Kth task throws", "k", "0"});
    p.addOption({"row-budget", "PublishOptions::maxRowsPerSecond (default: the library's)", "n"});
    p.process(args);

    const int workers = p.value("workers").toInt();
    const int tasks = p.value("tasks").toInt();
    const int taskMs = p.value("task-ms").toInt();
    const double rate = p.value("rate").toDouble();
    const int failEvery = p.value("fail-every").toInt();
    const bool process = p.value("pool") == QLatin1StringView("process");

    std::unique_ptr<Executor> pool;
    ThreadPoolExecutor* threads = nullptr;
    if (process) {
        ProcessPoolOptions o;
        o.maxWorkers = workers;
        pool = std::make_unique<ProcessPoolExecutor>(o);
    } else {
        auto tp = std::make_unique<ThreadPoolExecutor>(workers);
        threads = tp.get();
        pool = std::move(tp);
    }

    std::mutex futuresMutex;
    std::vector<Future<QCborValue>> futures;
    std::unique_ptr<Publication> publication;
    if (!p.isSet("env-only")) {
        PublishOptions o;
        if (p.isSet("row-budget"))
            o.maxRowsPerSecond = p.value("row-budget").toULongLong();
        const QString ops = p.value("control");
        if (!ops.isEmpty())
            o.control = ops.split(u',', Qt::SkipEmptyParts);
        o.cancelPending = [&] {
            std::lock_guard lk(futuresMutex);
            int n = 0;
            for (auto& f : futures)
                n += f.cancel() ? 1 : 0;
            return n;
        };
        try {
            publication = publish(pool.get(), p.value("name"), o);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "poolscope-attach-demo: %s\n", e.what());
            return 2;
        }
        std::printf("READY %s %llu\n", qPrintable(publication->socketPath()),
                    static_cast<unsigned long long>(publication->poolId()));
    } else {
        std::printf("READY - 0\n");
    }
    std::fflush(stdout);

    std::atomic<bool> stop{false};
    std::thread stdinReader;
    if (p.isSet("wait-viewer")) {
        std::string line;
        std::getline(std::cin, line);
    }
    if (p.isSet("forever")) {
        stdinReader = std::thread([&stop] {
            std::string line;
            std::getline(std::cin, line);
            stop = true;
        });
    }

    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; p.isSet("forever") ? !stop.load() : i < tasks; ++i) {
        if (p.isSet("exit-crash") && i == tasks / 2) {
            pool->waitForIdle(Deadline::after(std::chrono::seconds(10)));
            ::_exit(3);
        }
        if (rate > 0) {
            const auto due = start
                             + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(i / rate));
            std::this_thread::sleep_until(due);
        }
        const bool fail = failEvery > 0 && (i + 1) % failEvery == 0;
        Future<QCborValue> f;
        if (threads) {
            f = threads->submitWith(TaskOptions(fail ? "fails" : "work"), [taskMs, fail, i] {
                if (taskMs > 0)
                    std::this_thread::sleep_for(std::chrono::milliseconds(taskMs));
                if (fail)
                    throw std::runtime_error("task " + std::to_string(i) + " failed on purpose");
                return QCborValue(i);
            });
        } else {
            f = pool->submitNamed(QStringLiteral("sleep"), {taskMs});
        }
        std::lock_guard lk(futuresMutex);
        futures.push_back(std::move(f));
    }
    pool->waitForIdle();
    if (stdinReader.joinable())
        stdinReader.join();
    const Counters c = pool->counters();
    QJsonObject o{{"submitted", qint64(c.submitted)},
                  {"succeeded", qint64(c.succeeded)},
                  {"failed", qint64(c.failed)},
                  {"cancelled", qint64(c.cancelled)}};
    std::printf("%s\n", QJsonDocument(o).toJson(QJsonDocument::Compact).constData());
    std::fflush(stdout);
    {
        std::lock_guard lk(futuresMutex);
        futures.clear();
    }
    publication.reset(); // the last rows, then `bye`
    pool.reset();
    return 0;
}
