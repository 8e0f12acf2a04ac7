#pragma once
// The process-pool worker entry point. `poolscope-worker` is a one-line
// program around it; any program can be its own worker by calling it first
// thing in main():
//
//   int main(int argc, char** argv) {
//       if (poolscope::isWorkerInvocation(argc, argv))
//           return poolscope::runWorker(argc, argv);
//       ... // the normal program; its registered tasks exist in the worker too
//   }
//
// The loop itself (serveWorker) does not care how frames travel: pipes for
// the process pool, MPI messages for the MPI pool (core/mpi).

#include <QByteArray>

namespace poolscope {

/// The argument a pool passes to the programs it spawns.
inline constexpr const char* kWorkerFlag = "--poolscope-worker";

/// True when argv[1] is kWorkerFlag (the pools pass it first; anywhere else
/// it is another option's value).
bool isWorkerInvocation(int argc, char** argv);

/// Serves tasks over stdin/stdout (protocol.h) until told to exit or stdin
/// closes. Whatever a task prints to stdout goes to stderr instead, so it
/// cannot corrupt the protocol. Returns the process exit code.
int runWorker(int argc, char** argv);

/// How a worker exchanges protocol frames (protocol.h) with its pool.
class WorkerTransport {
public:
    virtual ~WorkerTransport() = default;
    /// Sends encoded frames (one or several). Calls are serialised by the caller.
    virtual bool write(const QByteArray& frames) = 0;
    enum class Read { Data, Empty, Closed };
    /// Appends bytes from the pool to *out (any split: whole frames, parts of
    /// one, several): Data. block = true waits for them; block = false
    /// returns Empty at once when none are there. Closed at the end.
    virtual Read read(QByteArray* out, bool block) = 0;
};

/// The worker loop over any transport: hello (and the initializer), ready,
/// then run -> started, progress, result until exit or the end of input.
/// Returns 0 after exit or end of input, 3 on a protocol error, 4 when the
/// initializer failed.
int serveWorker(WorkerTransport& transport);

} // namespace poolscope
