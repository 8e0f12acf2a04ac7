#pragma once
// Shared by the MPI master (mpipool.cpp) and worker ranks (mpiworker.cpp).
//
// Messages on the pool's communicator, by tag:
//   kTagFrame      either way: one protocol frame (protocol.h), length
//                  prefix included, so the process pool's codec and
//                  validation apply unchanged.
//   kTagHeartbeat  worker -> master, every 500 ms while serving a pool: CBOR
//                  {host, pid, rank, cores: [busy fraction per core]}. Tells
//                  the master where the rank runs and that it is alive.
//   kTagTerminate  master -> worker, empty: leave for good (static launch:
//                  rank 0's Environment is ending; spawn: the pool is done).
//                  Spawned ranks answer with one byte on the same tag as
//                  their very last message, so the master can receive
//                  everything before MPI_Comm_disconnect (a message left
//                  behind would reach the next spawned pool, whose
//                  intercommunicator gets the same context id).
// A worker rank serves one pool after another (static launch): hello ...
// exit is one session, as for a worker process.

#include <mpi.h>

#include <QCborMap>
#include <QString>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

namespace poolscope::mpi::detail {

inline constexpr int kTagFrame = 11;
inline constexpr int kTagHeartbeat = 12;
inline constexpr int kTagTerminate = 13;
inline constexpr int kHeartbeatMs = 500;

/// Process-wide MPI state of this program.
struct World {
    std::mutex m;
    bool initializedByUs = false;  // MPI_Init_thread called by PoolScope
    bool finalizeAtExit = false;   // a pool initialised MPI lazily: finalise at exit
    bool environment = false;      // an Environment exists
    MPI_Comm comm = MPI_COMM_NULL; // static launch: dup of MPI_COMM_WORLD
    bool staticPoolActive = false; // one static pool owns the worker ranks at a time
    std::set<int> lostRanks;       // static ranks declared lost by an earlier pool
    // A rank was lost: skip MPI_Finalize. Open MPI 4.1's finalize runs a
    // fence over every process of the job and, now and then, waits for the
    // dead one for ever (seen here under load with --enable-recovery).
    bool skipFinalize = false;
    // An MPI_Comm_spawn never returned (MpiPoolOptions::spawnTimeout): its
    // thread is still inside MPI; no further spawn is tried.
    bool spawnWedged = false;
};
World& world();

/// MPI_Init_thread(MPI_THREAD_MULTIPLE) unless MPI is up already; throws
/// poolscope::Error with a clear sentence when the library cannot give
/// MPI_THREAD_MULTIPLE or initialisation fails.
void ensureInitialized(int* argc, char*** argv);

/// Text of an MPI error code.
QString errorText(int code);

/// Sleeps a little more each idle round: spin (yield) first, then 20 us,
/// doubling up to 1 ms. Open MPI's blocking calls busy-poll a core; a pool
/// waiting for results must not take the core its own workers need.
class Backoff {
public:
    void reset() { m_round = 0; }
    std::chrono::microseconds next()
    {
        ++m_round;
        if (m_round < 64)
            return std::chrono::microseconds(0);
        const int shift = std::min(m_round - 64, 6);
        return std::chrono::microseconds(20 << shift); // 20 us .. 1.28 ms
    }
    void wait()
    {
        const auto d = next();
        if (d.count() == 0)
            std::this_thread::yield();
        else
            std::this_thread::sleep_for(d);
    }

private:
    int m_round = 0;
};

} // namespace poolscope::mpi::detail
