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

namespace poolscope {

/// The argument a pool passes to the programs it spawns.
inline constexpr const char* kWorkerFlag = "--poolscope-worker";

bool isWorkerInvocation(int argc, char** argv);

/// Serves tasks over stdin/stdout (protocol.h) until told to exit or stdin
/// closes. Whatever a task prints to stdout goes to stderr instead, so it
/// cannot corrupt the protocol. Returns the process exit code.
int runWorker(int argc, char** argv);

} // namespace poolscope
