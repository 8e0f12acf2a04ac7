// poolscope-worker: the program a ProcessPoolExecutor spawns for each worker
// (--poolscope-worker, frames on stdin/stdout), and, when PoolScope is built
// with MPI, an MPI worker rank (--mpi: static `mpirun ... : -n N
// poolscope-worker --mpi`, or spawned by an MpiPoolExecutor). It knows every
// built-in workload; see worker.h to make your own program its own worker (so
// your registered tasks are available).
#include <poolscope/worker.h>
#ifdef POOLSCOPE_HAVE_MPI
#include <poolscope/mpipool.h>
#endif

#include <cstdio>
#include <cstring>

int main(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--mpi") == 0) {
#ifdef POOLSCOPE_HAVE_MPI
            return poolscope::mpi::runWorkerMain(argc, argv);
#else
            std::fprintf(stderr, "poolscope-worker: --mpi: this build has no MPI support "
                                 "(configure with MPI installed, POOLSCOPE_WITH_MPI)\n");
            return 2;
#endif
        }
    }
    if (!poolscope::isWorkerInvocation(argc, argv)) {
        std::fprintf(stderr,
                     "poolscope-worker is started by a PoolScope process pool (it speaks a "
                     "binary protocol on stdin/stdout) or, with --mpi, as an MPI worker rank; "
                     "it is not meant to be run by hand.\n");
        return 2;
    }
    return poolscope::runWorker(argc, argv);
}
