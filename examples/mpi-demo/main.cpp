// Runs a registered task on PoolScope's MPI pool. Under `mpirun -n N` rank 0
// is the master and ranks 1..N-1 compute; started alone, the program spawns
// two ranks of itself. Exits 0 only if every result is right.
#include <poolscope/mpipool.h>

#include <QCoreApplication>

#include <exception>
#include <iostream>

namespace {
qint64 square(qint64 x)
{
    return x * x;
}
} // namespace
POOLSCOPE_TASK(square, "x * x");

int main(int argc, char** argv)
{
    try {
        // First thing, before any thread: MPI_Init_thread ... MPI_Finalize.
        poolscope::mpi::Environment mpi(&argc, &argv);
        if (mpi.isWorker()) // ranks 1..N-1 of mpirun -n N, or a spawned rank
            return mpi.runWorker();

        QCoreApplication app(argc, argv);
        poolscope::MpiPoolOptions opts; // static under mpirun -n N, spawn when alone
        opts.maxWorkers = mpi.size() > 1 ? mpi.size() - 1 : 2;
        opts.workerProgram = QCoreApplication::applicationFilePath(); // spawn: itself
        poolscope::MpiPoolExecutor pool(opts);

        const qint64 one = pool.submit(&square, qint64(12)).result();
        QList<qint64> xs;
        for (qint64 i = 1; i <= 100; ++i)
            xs << i;
        poolscope::MapOptions mo;
        mo.chunkSize = 7;
        const auto squares = pool.map(&square, xs, mo).toList();
        pool.shutdown();

        qint64 sum = 0;
        for (qint64 s : squares)
            sum += s;
        std::cout << "MPI pool (" << pool.launchMode().toStdString() << ", "
                  << opts.maxWorkers.value() << " rank(s)): 12^2 = " << one
                  << ", sum of squares 1..100 = " << sum << '\n';
        // 1^2 + ... + 100^2 = 100 * 101 * 201 / 6
        return one == 144 && squares.size() == 100 && sum == 338350 ? 0 : 1;
    } catch (const std::exception& e) {
        std::cerr << "mpi-demo: " << e.what() << '\n';
        return 1;
    }
}
