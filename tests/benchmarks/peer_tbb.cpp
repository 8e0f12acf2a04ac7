// Only TBB and the standard library in here: no Qt header (see peer_tbb.h).
// The target also compiles this file with QT_NO_KEYWORDS, belt and braces.
#include "peer_tbb.h"

#ifdef POOLSCOPE_BENCH_HAVE_TBB
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/version.h>
#endif

#include <chrono>

namespace bench {

#ifdef POOLSCOPE_BENCH_HAVE_TBB
namespace {
class TbbPeerImpl final : public TbbPeer {
public:
    explicit TbbPeerImpl(int threads)
        : m_arena(threads)
    {
        m_arena.initialize();
    }

    double taskGroupRun(long long n) override
    {
        double secs = 0;
        m_arena.execute([&] {
            const auto t0 = std::chrono::steady_clock::now();
            tbb::task_group tg;
            for (long long i = 0; i < n; ++i)
                tg.run([i] { asm volatile("" : : "r"(i) : "memory"); });
            tg.wait();
            secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        });
        return secs;
    }

private:
    tbb::task_arena m_arena;
};
} // namespace

std::unique_ptr<TbbPeer> makeTbbPeer(int threads, std::string&)
{
    return std::make_unique<TbbPeerImpl>(threads);
}
#else
std::unique_ptr<TbbPeer> makeTbbPeer(int, std::string& why)
{
    why = "built without TBB: find_package(TBB) failed";
    return nullptr;
}
#endif

} // namespace bench
