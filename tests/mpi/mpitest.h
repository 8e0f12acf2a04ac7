#pragma once
// main() of an MPI test program: every rank creates the MPI environment;
// ranks > 0 serve tasks, rank 0 runs the QtTest cases.
#include <poolscope/mpipool.h>

#include <mpi.h>

#include <QCoreApplication>
#include <QTest>

#define POOLSCOPE_MPI_TEST_MAIN(TestClass)                                                         \
    int main(int argc, char** argv)                                                                \
    {                                                                                              \
        poolscope::mpi::Environment mpiEnv(&argc, &argv);                                          \
        if (mpiEnv.isWorker())                                                                     \
            return mpiEnv.runWorker();                                                             \
        QCoreApplication app(argc, argv);                                                          \
        TestClass tc;                                                                              \
        return QTest::qExec(&tc, argc, argv);                                                      \
    }
