// The window watching another program (docs/attach.md), offscreen: a real
// publisher (poolscope-attach-demo, a child process) is attached by pid and
// by name; every task it ran reaches the panels, the counts equal the
// program's own; controls are refused unless the program allowed them and
// act on its pool when it did; its end and its death are said in the
// banner; detach and re-attach; the Attach dialog lists it. QSignalSpy and
// QTRY_* on observable state, no fixed sleeps.
#include <attach/attachcontroller.h>
#include <attach/attachdialog.h>
#include <controlbar.h>
#include <mainwindow.h>
#include <models/futuresmodel.h>
#include <runcontroller.h>

#include <poolscope/attach.h>
#include <poolscope/monitor.h>

#include <QAbstractItemModelTester>
#include <QAction>
#include <QApplication>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "../attach/demoprocess.h"
#include <QToolBar>
#include <QTreeWidget>

#include <memory>

using namespace poolscope;

namespace {
constexpr int kLong = 30'000;

using Demo = poolscope::test::DemoProcess;

std::unique_ptr<MainWindow> makeWindow()
{
    MainWindow::Options o;
    o.useSettings = false;
    auto w = std::make_unique<MainWindow>(o);
    w->resize(1280, 720);
    return w;
}
} // namespace

class TestAttachWindow : public QObject {
    Q_OBJECT
private:
    QTemporaryDir m_dir; // the publishers' socket directory (0700, ours)

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        qputenv("POOLSCOPE_ATTACH_DIR", m_dir.path().toLocal8Bit());
        qputenv("POOLSCOPE_WORKER", POOLSCOPE_WORKER_PATH); // the demo's process pool
    }

    void everyTaskReachesThePanels_data()
    {
        QTest::addColumn<QString>("pool");
        QTest::addColumn<bool>("byName");
        QTest::newRow("thread pool, by pid") << QStringLiteral("thread") << false;
        QTest::newRow("thread pool, by name") << QStringLiteral("thread") << true;
        QTest::newRow("process pool, by pid") << QStringLiteral("process") << false;
    }
    void everyTaskReachesThePanels()
    {
        QFETCH(QString, pool);
        QFETCH(bool, byName);
        Demo demo({QStringLiteral("--pool"), pool, QStringLiteral("--workers"), QStringLiteral("2"),
                   QStringLiteral("--tasks"), QStringLiteral("300"), QStringLiteral("--task-ms"),
                   QStringLiteral("2"), QStringLiteral("--name"), QStringLiteral("panels"),
                   QStringLiteral("--wait-viewer")});
        QVERIFY(demo.ready());
        auto w = makeWindow();
        QAbstractItemModelTester tester(w->futuresModel());
        QString why;
        QVERIFY2(w->attachTo(byName ? QStringLiteral("panels") : QString::number(demo.pid()), &why),
                 qPrintable(why));
        QVERIFY(w->controller()->watchesOtherProgram());
        QVERIFY(w->attachBanner()->text().contains(QStringLiteral("read-only")));
        QVERIFY(w->attachBanner()->text().contains(QString::number(demo.pid())));
        // The program runs its own tasks: Start is refused, and says why.
        QVERIFY(!w->action(QStringLiteral("start"))->isEnabled());
        QVERIFY(w->controller()
                    ->check(w->controlBar()->spec())
                    .startsWith(QStringLiteral("watching ")));
        // The first snapshot came: the program records for this viewer.
        QSignalSpy snaps(w->attachController()->pool(), &AttachedPool::updated);
        QTRY_VERIFY_WITH_TIMEOUT(snaps.count() > 0, kLong);
        demo.go();
        const QJsonObject own = demo.finish();
        QCOMPARE(own.value(QStringLiteral("succeeded")).toInt(), 300);
        // The window's counts equal the program's, and every task is a row.
        QTRY_VERIFY_WITH_TIMEOUT(w->attachController()->programEnded(), kLong);
        Monitor* m = w->controller()->monitor();
        m->tick();
        QCOMPARE(qint64(m->last().counters.succeeded),
                 qint64(own.value(QStringLiteral("succeeded")).toInt()));
        QCOMPARE(qint64(m->last().counters.submitted),
                 qint64(own.value(QStringLiteral("submitted")).toInt()));
        QCOMPARE(m->record()->totals().tasks, quint64(300));
        QTRY_COMPARE_WITH_TIMEOUT(w->futuresModel()->rowCount(), 300, kLong);
        // The end is said, in words, and the run is kept for the analysis
        // and replay.
        QVERIFY2(w->attachBanner()->text().contains(QStringLiteral("ended")),
                 qPrintable(w->attachBanner()->text()));
        QVERIFY(w->action(QStringLiteral("replayLastRun"))->isEnabled());
        QCOMPARE(w->lastRunTrace().record->size(), quint64(300));
    }

    void controlsOnlyWhenAllowed()
    {
        Demo demo({QStringLiteral("--workers"), QStringLiteral("2"), QStringLiteral("--forever"),
                   QStringLiteral("--task-ms"), QStringLiteral("5"), QStringLiteral("--name"),
                   QStringLiteral("ro")});
        QVERIFY(demo.ready());
        auto w = makeWindow();
        QVERIFY(w->attachTo(QString::number(demo.pid())));
        QVERIFY(!w->action(QStringLiteral("pause"))->isEnabled());
        QVERIFY(!w->action(QStringLiteral("shutdown"))->isEnabled());
        QSignalSpy errors(w->controller(), &RunController::error);
        w->controller()->pause();
        QCOMPARE(errors.count(), 1);
        QVERIFY2(errors.first().first().toString().contains(QStringLiteral("read-only")),
                 qPrintable(errors.first().first().toString()));
        w->controller()->setWorkers(3);
        QCOMPARE(errors.count(), 2);
        w->controller()->shutdown(); // never the other program's pool
        QCOMPARE(errors.count(), 3);
        QVERIFY(demo.process().state() == QProcess::Running);

        Demo allowed({QStringLiteral("--workers"), QStringLiteral("2"), QStringLiteral("--forever"),
                      QStringLiteral("--task-ms"), QStringLiteral("5"), QStringLiteral("--name"),
                      QStringLiteral("rw"), QStringLiteral("--control"),
                      QStringLiteral("pause,resume,resize,step")});
        QVERIFY(allowed.ready());
        QVERIFY(w->attachTo(QString::number(allowed.pid())));
        QVERIFY(w->attachBanner()->text().contains(QStringLiteral("pause, resume")));
        QVERIFY(w->action(QStringLiteral("pause"))->isEnabled());
        errors.clear();
        w->controller()->pause();
        QTRY_VERIFY_WITH_TIMEOUT(w->controller()->monitor()->last().paused, kLong);
        w->controller()->setWorkers(3);
        QTRY_COMPARE_WITH_TIMEOUT(w->controller()->monitor()->last().maxWorkers, 3, kLong);
        w->controller()->resume();
        QTRY_VERIFY_WITH_TIMEOUT(!w->controller()->monitor()->last().paused, kLong);
        QCOMPARE(errors.count(), 0);
    }

    void programKilledIsSaid()
    {
        Demo demo({QStringLiteral("--forever"), QStringLiteral("--task-ms"), QStringLiteral("5"),
                   QStringLiteral("--name"), QStringLiteral("victim")});
        QVERIFY(demo.ready());
        auto w = makeWindow();
        QVERIFY(w->attachTo(QStringLiteral("victim")));
        QTRY_VERIFY_WITH_TIMEOUT(w->controller()->monitor()->last().counters.succeeded > 10, kLong);
        demo.process().kill();
        QTRY_VERIFY_WITH_TIMEOUT(w->attachController()->programEnded(), kLong);
        const QString text = w->attachBanner()->text();
        QVERIFY2(text.contains(QStringLiteral("was lost")), qPrintable(text));
        QVERIFY(w->attachBanner()->isVisibleTo(w.get()));
        // Detach: back to the window's own pools, the banner gone.
        w->action(QStringLiteral("detach"))->trigger();
        QVERIFY(!w->controller()->watchesOtherProgram());
        QVERIFY(!w->attachController()->isAttached());
        QVERIFY(w->attachBanner()->text().isEmpty());
        const QString why = w->controller()->check(w->controlBar()->spec());
        QVERIFY2(why.isEmpty(), qPrintable(why));
    }

    void detachAndAttachAgain()
    {
        Demo demo({QStringLiteral("--forever"), QStringLiteral("--task-ms"), QStringLiteral("2"),
                   QStringLiteral("--name"), QStringLiteral("again")});
        QVERIFY(demo.ready());
        auto w = makeWindow();
        QVERIFY(w->attachTo(QStringLiteral("again")));
        QTRY_VERIFY_WITH_TIMEOUT(w->controller()->monitor()->last().counters.succeeded > 0, kLong);
        w->action(QStringLiteral("detach"))->trigger();
        QVERIFY(!w->action(QStringLiteral("detach"))->isEnabled());
        const quint64 before = w->controller()->monitor()->last().counters.succeeded;
        QVERIFY(w->attachTo(QStringLiteral("again")));
        // Exact counters again, later than before, and rows flow again.
        QTRY_VERIFY_WITH_TIMEOUT(w->controller()->monitor()->last().counters.succeeded > before,
                                 kLong);
        QTRY_VERIFY_WITH_TIMEOUT(w->controller()->monitor()->record()->size() > 0, kLong);
        QVERIFY(w->action(QStringLiteral("detach"))->isEnabled());
    }

    void nothingToAttachIsSaid()
    {
        auto w = makeWindow();
        QString why;
        QVERIFY(!w->attachTo(QStringLiteral("no-such-program"), &why));
        QVERIFY2(why.contains(QStringLiteral("no-such-program")), qPrintable(why));
        QVERIFY(!w->controller()->watchesOtherProgram());
    }

    void dialogListsThePublishers()
    {
        Demo demo(
            {QStringLiteral("--forever"), QStringLiteral("--name"), QStringLiteral("listed")});
        QVERIFY(demo.ready());
        AttachDialog dialog;
        QTreeWidget* list = dialog.list();
        bool found = false;
        for (int i = 0; i < list->topLevelItemCount(); ++i) {
            QTreeWidgetItem* item = list->topLevelItem(i);
            if (item->text(0).contains(QString::number(demo.pid()))) {
                found = true;
                QCOMPARE(item->childCount(), 1);
                QVERIFY(item->child(0)->text(0).contains(QStringLiteral("listed")));
                QCOMPARE(item->child(0)->text(2), QStringLiteral("read-only"));
                list->setCurrentItem(item->child(0));
            }
        }
        QVERIFY(found);
        QVERIFY(dialog.chosenProgram().has_value());
        QCOMPARE(dialog.chosenProgram()->pid, demo.pid());
        QVERIFY(dialog.chosenPool().has_value());
        // Nothing published: the dialog says how to publish.
        demo.process().kill();
        demo.process().waitForFinished(kLong);
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                dialog.refresh();
                return dialog.list()->topLevelItemCount() == 0;
            }(),
            kLong);
        QVERIFY(dialog.hintLabel()->text().contains(QStringLiteral("poolscope_probe")));
    }
};

QTEST_MAIN(TestAttachWindow)
#include "tst_attachwindow.moc"
