// Keeps Open MPI's listening sockets on the loopback interface when
// PoolScope starts a job on one host (docs/scale-out.md, "Ports").
//
// Open MPI 4.1 binds its TCP listeners (the tcp BTL of every process, the
// out-of-band channel of orted) to the wildcard address whatever its
// *_if_include parameters say (open-mpi/ompi #12668, #14441): reachable from
// the network although nothing leaves the machine. This bind() stands in
// for the C library's in PoolScope's programs (exported from them) and, as
// a preloaded module, in orted: while POOLSCOPE_MPI_LOOPBACK=1 (set only by
// the MPI pool for a job it spawns itself, mpicommon.h), a bind to 0.0.0.0
// or [::] becomes a bind to 127.0.0.1 or [::1]; everything else is passed on
// unchanged.

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace {
using BindFn = int (*)(int, const sockaddr*, socklen_t);

BindFn realBind()
{
    static const BindFn fn = reinterpret_cast<BindFn>(::dlsym(RTLD_NEXT, "bind"));
    return fn;
}

bool loopbackOnly()
{
    const char* v = std::getenv("POOLSCOPE_MPI_LOOPBACK");
    return v && v[0] == '1' && v[1] == '\0';
}
} // namespace

extern "C" __attribute__((visibility("default"))) int bind(int fd, const sockaddr* addr,
                                                           socklen_t len)
{
    const BindFn next = realBind();
    if (!next)
        return -1;
    if (addr && loopbackOnly()) {
        if (addr->sa_family == AF_INET && len >= socklen_t(sizeof(sockaddr_in))) {
            sockaddr_in a;
            std::memcpy(&a, addr, sizeof a);
            if (a.sin_addr.s_addr == htonl(INADDR_ANY)) {
                a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                return next(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
            }
        } else if (addr->sa_family == AF_INET6 && len >= socklen_t(sizeof(sockaddr_in6))) {
            sockaddr_in6 a;
            std::memcpy(&a, addr, sizeof a);
            if (std::memcmp(&a.sin6_addr, &in6addr_any, sizeof(in6_addr)) == 0) {
                a.sin6_addr = in6addr_loopback;
                return next(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
            }
        }
    }
    return next(fd, addr, len);
}
