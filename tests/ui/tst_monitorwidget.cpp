// MonitorWidget (the embeddable panels, ui/include/poolscope/ui/monitorwidget.h),
// offscreen: an application's own pool is watched; every task reaches the
// futures tab and the counters line; a new executor starts over; nullptr
// stops watching; the models pass QAbstractItemModelTester.
#include <poolscope/ui/monitorwidget.h>

#include <poolscope/monitor.h>
#include <poolscope/threadpool.h>

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTableView>
#include <QTest>

#include <memory>
#include <vector>

using namespace poolscope;

class TestMonitorWidget : public QObject {
    Q_OBJECT

    static QAbstractItemModel* tabModel(MonitorWidget& w, const QString& title)
    {
        for (int i = 0; i < w.tabs()->count(); ++i) {
            if (w.tabs()->tabText(i) == title)
                return qobject_cast<QTableView*>(w.tabs()->widget(i))->model();
        }
        return nullptr;
    }

private slots:
    void watchesTheApplicationsPool_data()
    {
        QTest::addColumn<int>("tasks");
        QTest::addColumn<int>("workers");
        QTest::newRow("one task") << 1 << 1;
        QTest::newRow("500 tasks on 3 workers") << 500 << 3;
    }
    void watchesTheApplicationsPool()
    {
        QFETCH(int, tasks);
        QFETCH(int, workers);
        ThreadPoolOptions o;
        o.maxWorkers = workers;
        ThreadPoolExecutor pool(o);
        MonitorWidget w;
        w.resize(800, 500);
        QAbstractItemModel* futures = tabModel(w, QStringLiteral("Futures"));
        QAbstractItemModel* workersModel = tabModel(w, QStringLiteral("Workers"));
        QAbstractItemModel* queue = tabModel(w, QStringLiteral("Queue"));
        QVERIFY(futures && workersModel && queue);
        QAbstractItemModelTester t1(futures), t2(workersModel), t3(queue);
        QCOMPARE(w.countersText(), QStringLiteral("No pool watched."));
        w.setExecutor(&pool);
        QCOMPARE(w.executor(), &pool);
        QSignalSpy updated(&w, &MonitorWidget::updated);
        std::vector<Future<int>> fs;
        for (int i = 0; i < tasks; ++i)
            fs.push_back(pool.submit([i] { return i * 2; }));
        for (auto& f : fs)
            QCOMPARE(f.result(), int(&f - fs.data()) * 2);
        QTRY_COMPARE(futures->rowCount(), tasks);
        QTRY_VERIFY(
            w.countersText().contains(QStringLiteral("done %1").arg(QLocale().toString(tasks))));
        QVERIFY(w.countersText().contains(QStringLiteral("thread pool")));
        QTRY_COMPARE(workersModel->rowCount(), workers);
        QVERIFY(updated.count() > 0);

        // Another executor: the panels start over with it.
        ThreadPoolExecutor other(o);
        w.setExecutor(&other);
        QCOMPARE(futures->rowCount(), 0);
        other.submit([] { return 1; }).result();
        QTRY_COMPARE(futures->rowCount(), 1);
        w.setExecutor(nullptr);
        QCOMPARE(w.executor(), nullptr);
        QCOMPARE(w.countersText(), QStringLiteral("No pool watched."));
    }
};

QTEST_MAIN(TestMonitorWidget)
#include "tst_monitorwidget.moc"
