#pragma once
// oneTBB peer, behind a Qt-free and TBB-free interface: peer_tbb.cpp is the
// only translation unit that includes TBB headers (Qt's `emit` macro clashes
// with oneTBB, docs/architecture.md, "Qt 6.4 pitfalls"), and it includes no Qt header at all.

#include <memory>
#include <string>

namespace bench {

class TbbPeer {
public:
    virtual ~TbbPeer() = default;
    /// tbb::task_group::run(trivial lambda) n times inside the arena, then
    /// wait(). Returns wall seconds.
    virtual double taskGroupRun(long long n) = 0;
};

/// A peer running on a tbb::task_arena of `threads` slots, or nullptr (with
/// `why` set) when PoolScope was built without TBB.
std::unique_ptr<TbbPeer> makeTbbPeer(int threads, std::string& why);

} // namespace bench
