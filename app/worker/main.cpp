// poolscope-worker: the program a ProcessPoolExecutor spawns for each worker.
// It knows every built-in workload; see worker.h to make your own program its
// own worker (so your registered tasks are available).
#include <poolscope/worker.h>

#include <cstdio>

int main(int argc, char** argv)
{
    if (!poolscope::isWorkerInvocation(argc, argv)) {
        std::fprintf(stderr,
                     "poolscope-worker is started by a PoolScope process pool (it speaks a "
                     "binary protocol on stdin/stdout); it is not meant to be run by hand.\n");
        return 2;
    }
    return poolscope::runWorker(argc, argv);
}
