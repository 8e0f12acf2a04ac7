#include "taskgates.h"

#include "poolscope/future.h"

#include <cerrno>
#include <cstring>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace poolscope::detail {

static_assert(std::atomic_ref<quint64>::is_always_lock_free,
              "the gates are shared between processes: their atomics must not take a lock");

TaskGates* TaskGates::create(quint32 capacity, QString* error)
{
    const std::size_t bytes = bytesFor(capacity);
    const int fd = ::memfd_create("poolscope-gates", MFD_CLOEXEC);
    if (fd < 0) {
        *error =
            QStringLiteral("memfd_create: %1").arg(QString::fromLocal8Bit(std::strerror(errno)));
        return nullptr;
    }
    if (::ftruncate(fd, off_t(bytes)) != 0) {
        *error = QStringLiteral("ftruncate: %1").arg(QString::fromLocal8Bit(std::strerror(errno)));
        ::close(fd);
        return nullptr;
    }
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        *error = QStringLiteral("mmap: %1").arg(QString::fromLocal8Bit(std::strerror(errno)));
        ::close(fd);
        return nullptr;
    }
    return new TaskGates(fd, static_cast<quint64*>(p), capacity);
}

TaskGates::TaskGates(int fd, quint64* words, quint32 capacity)
    : m_fd(fd)
    , m_words(words)
    , m_capacity(capacity)
{}

TaskGates::~TaskGates()
{
    ::munmap(m_words, bytesFor(m_capacity));
    ::close(m_fd);
}

void TaskGates::deref() noexcept
{
    if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
        delete this;
}

quint32 TaskGates::acquire()
{
    quint32 i;
    if (!m_free.empty()) {
        i = m_free.back();
        m_free.pop_back();
    } else if (m_next < m_capacity) {
        i = m_next++;
    } else {
        return kNone;
    }
    ++m_used;
    return i;
}

void TaskGates::release(quint32 i)
{
    m_free.push_back(i);
    --m_used;
}

bool releaseGate(TaskGates* gates, TaskNode* node)
{
    const quint32 g = node->unbindGate();
    if (g == TaskGates::kNone || !gates)
        return false;
    const quint64 last = gates->at(g).exchange(0);
    gates->release(g);
    return last == TaskGates::word(node->id, TaskGates::Cancelled);
}

GateView::~GateView()
{
    if (m_words)
        ::munmap(m_words, TaskGates::bytesFor(m_count));
}

bool GateView::map(int fd, quint32 count, QString* error)
{
    struct stat st {};
    const std::size_t bytes = TaskGates::bytesFor(count);
    if (::fstat(fd, &st) != 0) {
        *error =
            QStringLiteral("fd %1: %2").arg(fd).arg(QString::fromLocal8Bit(std::strerror(errno)));
        ::close(fd);
        return false;
    }
    if (!S_ISREG(st.st_mode) || std::size_t(st.st_size) < bytes) {
        *error = QStringLiteral("fd %1 is not a block of %2 gates").arg(fd).arg(count);
        ::close(fd);
        return false;
    }
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd); // the mapping stays; the tasks' own children need not inherit it
    if (p == MAP_FAILED) {
        *error = QStringLiteral("mmap: %1").arg(QString::fromLocal8Bit(std::strerror(err)));
        return false;
    }
    m_words = static_cast<quint64*>(p);
    m_count = count;
    return true;
}

GateView::Claim GateView::claim(quint32 index, quint64 id) noexcept
{
    if (!m_words || index >= m_count)
        return Claim::Unguarded;
    std::atomic_ref<quint64> w(m_words[std::size_t(index) * TaskGates::kStride]);
    quint64 expected = TaskGates::word(id, TaskGates::Pending);
    if (w.compare_exchange_strong(expected, TaskGates::word(id, TaskGates::Running)))
        return Claim::Start;
    if (expected == TaskGates::word(id, TaskGates::Cancelled))
        return Claim::Skip;
    return Claim::Unguarded;
}

} // namespace poolscope::detail
