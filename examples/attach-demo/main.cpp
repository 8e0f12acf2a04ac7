// Publishes a thread pool (docs/attach.md), then watches it from this same
// program as a viewer would from another: the counts must agree.
#include <poolscope/attach.h>
#include <poolscope/monitor.h>
#include <poolscope/threadpool.h>

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QTemporaryDir>

#include <cstdio>

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    QTemporaryDir tmp; // a private socket directory for this run
    qputenv("POOLSCOPE_ATTACH_DIR", QFile::encodeName(tmp.path() + QStringLiteral("/attach")));

    poolscope::ThreadPoolExecutor pool(2);
    poolscope::PublishOptions options;
    options.control = {QStringLiteral("pause"), QStringLiteral("resume")};
    auto publication = poolscope::publish(&pool, QStringLiteral("example"), options);

    poolscope::AttachClient client;
    if (!client.connectTo(publication->socketPath())) {
        std::fprintf(stderr, "attach-demo: %s\n", qPrintable(client.errorString()));
        return 1;
    }
    auto attached = client.watch(publication->poolId());
    poolscope::Monitor monitor;
    monitor.attach(attached.get());
    QElapsedTimer t;
    t.start();
    auto waitFor = [&](auto done) {
        while (!done() && t.elapsed() < 30000)
            QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
        return done();
    };
    bool watching = false;
    QObject::connect(attached.get(), &poolscope::AttachedPool::updated, [&] { watching = true; });
    if (!waitFor([&] { return watching; }))
        return 2;
    for (int i = 0; i < 100; ++i)
        pool.submit([i] { return i * i; });
    pool.waitForIdle();
    if (!waitFor([&] { return monitor.tick().record->size() == 100; })) {
        std::fprintf(stderr, "attach-demo: the viewer saw %llu of 100 tasks\n",
                     static_cast<unsigned long long>(monitor.record()->size()));
        return 3;
    }
    std::printf("attach-demo: %s (pid %lld) published pool '%s'; the viewer saw %llu tasks\n",
                qPrintable(client.publisher().program), client.publisher().pid,
                qPrintable(attached->info().name),
                static_cast<unsigned long long>(attached->counters().succeeded));
    return 0;
}
