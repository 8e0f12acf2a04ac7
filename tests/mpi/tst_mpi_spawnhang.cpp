// A spawn that never completes must not hang the process (MpiPoolOptions::
// spawnTimeout). Open MPI 4.1 with PMIx 4 now and then never returns from
// MPI_Comm_spawn; here the same wait is made on purpose: the "worker" is a
// shell script that never calls MPI_Init, so the spawn cannot complete while
// it sleeps. Its own program: after the timeout this process's MPI is wedged.
#include <poolscope/mpipool.h>

#include "mpicommon.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using namespace poolscope;

class TstMpiSpawnHang : public QObject {
    Q_OBJECT
private slots:
    void badTimeoutRefused();
    void hungSpawnThrowsInTime();
};

void TstMpiSpawnHang::badTimeoutRefused()
{
    MpiPoolOptions o;
    o.launch = MpiPoolOptions::Launch::Spawn;
    o.maxWorkers = 1;
    o.workerProgram = QStringLiteral(POOLSCOPE_WORKER_PATH);
    o.spawnTimeout = std::chrono::milliseconds(-1);
    try {
        MpiPoolExecutor pool(o);
        QFAIL("a negative spawnTimeout was accepted");
    } catch (const InvalidArgument& e) {
        QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("spawnTimeout")), e.what());
    }
}

void TstMpiSpawnHang::hungSpawnThrowsInTime()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString script = dir.filePath(QStringLiteral("never-inits.sh"));
    {
        QFile f(script);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("#!/bin/sh\nexec sleep 6\n"); // gone soon after the test
    }
    QVERIFY(QFile::setPermissions(script, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner));
    MpiPoolOptions o;
    o.launch = MpiPoolOptions::Launch::Spawn;
    o.maxWorkers = 1;
    o.workerProgram = script;
    o.spawnTimeout = std::chrono::milliseconds(1500);
    QElapsedTimer t;
    t.start();
    try {
        MpiPoolExecutor pool(o);
        QFAIL("a spawn that cannot complete returned a pool");
    } catch (const BrokenExecutor& e) {
        const QString why = QString::fromUtf8(e.what());
        QVERIFY2(why.contains(QStringLiteral("did not return within 1.5 s")), e.what());
        QVERIFY2(why.contains(QStringLiteral("never-inits.sh")), e.what());
    }
    QVERIFY2(t.elapsed() < 10000, qPrintable(QString::number(t.elapsed())));
    // The stuck spawn still holds this process's MPI: a second pool is
    // refused at once instead of hanging behind it.
    o.workerProgram = QStringLiteral(POOLSCOPE_WORKER_PATH);
    t.restart();
    try {
        MpiPoolExecutor pool(o);
        QFAIL("a spawn after a wedged one was tried");
    } catch (const BrokenExecutor& e) {
        QVERIFY2(QString::fromUtf8(e.what()).contains(QStringLiteral("cannot spawn again")),
                 e.what());
    }
    QVERIFY(t.elapsed() < 1000);
}

// MPI first, then the test cases: Open MPI's initialisation writes the
// environment while QtTest's watchdog thread reads it (getenv at every test
// function), a race that crashed this test under ASan. Initialising the way a
// Spawn pool does on its first construction, before that thread exists,
// leaves the pools below nothing to initialise.
int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    poolscope::mpi::detail::ensureInitialized(nullptr, nullptr);
    TstMpiSpawnHang tc;
    return QTest::qExec(&tc, argc, argv);
}
#include "tst_mpi_spawnhang.moc"
