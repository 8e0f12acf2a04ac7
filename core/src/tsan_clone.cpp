// ThreadSanitizer builds only: QProcess's vfork-style clone() made a fork
// TSan can follow. Built as an object library that every program linking
// poolscope_core takes (core/CMakeLists.txt), tests and tools included: a
// program that had started a thread and then ran a QProcess died with
// "starting new threads after multi-threaded fork" otherwise.
// ------------------------------------------------ ThreadSanitizer builds only
#if defined(__SANITIZE_THREAD__)
#define POOLSCOPE_TSAN_CLONE 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define POOLSCOPE_TSAN_CLONE 1
#endif
#endif
#ifdef POOLSCOPE_TSAN_CLONE
#include <dlfcn.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cstdarg>

// QProcess (Qt 6.4, Linux) starts a child with clone(CLONE_VM | CLONE_VFORK):
// the child runs in the parent's memory, on the starting thread's
// ThreadSanitizer state, until it calls execve. TSan cannot follow that:
// the child's intercepted calls corrupt the supervisor thread's clocks
// (reports between two accesses under the same std::mutex) and TSan may die
// with "starting new threads after multi-threaded fork". Qt itself uses a
// plain fork() when it is built with TSan; Debian's Qt is not, so in TSan
// builds this clone() (found before libc's, as an executable's symbol) turns
// that one call into fork(), which TSan intercepts, plus pidfd_open() for the
// CLONE_PIDFD result Qt waits on. Every other clone() goes to libc's.
extern "C" int clone(int (*fn)(void*), void* stack, int flags, void* arg, ...) noexcept
{
    va_list ap;
    va_start(ap, arg);
    void* parentTid = va_arg(ap, void*);
    void* tls = va_arg(ap, void*);
    void* childTid = va_arg(ap, void*);
    va_end(ap);
    constexpr int kVfork = CLONE_VM | CLONE_VFORK;
    if ((flags & kVfork) == kVfork && !(flags & CLONE_THREAD)) {
        const pid_t pid = fork();
        if (pid == 0)
            _exit(fn(arg));
        if (pid < 0)
            return -1;
        if (flags & CLONE_PIDFD) {
            const int fd = int(syscall(SYS_pidfd_open, pid, 0));
            if (fd < 0) {
                const int err = errno;
                ::kill(pid, SIGKILL);
                ::waitpid(pid, nullptr, 0);
                errno = err;
                return -1;
            }
            *static_cast<int*>(parentTid) = fd;
        }
        return pid;
    }
    using Clone = int (*)(int (*)(void*), void*, int, void*, ...);
    static const auto real = reinterpret_cast<Clone>(dlsym(RTLD_NEXT, "clone"));
    return real(fn, stack, flags, arg, parentTid, tls, childTid);
}
#endif
