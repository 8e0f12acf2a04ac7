// An application with its own thread pool and PoolScope's panels in its own
// window (docs/library.md, "Embedding the monitor"). It submits a batch of
// tasks and quits once the panels show every one of them (the install test
// runs it offscreen); pass --stay to keep the window open.
#include <poolscope/threadpool.h>
#include <poolscope/ui/monitorwidget.h>

#include <QApplication>
#include <QMainWindow>
#include <QTimer>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    const bool stay = app.arguments().contains(QStringLiteral("--stay"));

    poolscope::ThreadPoolExecutor pool(2);
    QMainWindow window;
    auto* monitor = new poolscope::MonitorWidget(&window);
    window.setCentralWidget(monitor);
    window.resize(900, 600);
    monitor->setExecutor(&pool);
    window.show();

    constexpr int kTasks = 200;
    std::vector<poolscope::Future<int>> futures;
    for (int i = 0; i < kTasks; ++i) {
        futures.push_back(pool.submitWith(poolscope::TaskOptions(QStringLiteral("square")), [i] {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            return i * i;
        }));
    }

    // Quit once the counters line shows every task done (or fail after 30 s).
    QTimer check;
    QObject::connect(&check, &QTimer::timeout, &app, [&] {
        if (!stay && monitor->countersText().contains(QStringLiteral("done %1").arg(kTasks))) {
            std::printf("monitor-widget: %s\n", qPrintable(monitor->countersText()));
            QApplication::exit(0);
        }
    });
    check.start(50);
    if (!stay) {
        QTimer::singleShot(30'000, &app, [] {
            std::fprintf(stderr, "monitor-widget: the panels did not show every task in 30 s\n");
            QApplication::exit(1);
        });
    }
    const int rc = QApplication::exec();
    monitor->setExecutor(nullptr); // before the pool goes
    for (auto& f : futures)
        f.result();
    return rc;
}
