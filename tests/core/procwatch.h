#pragma once
// /proc readers for the reliability gates (tst_faults, tst_shutdown_bounds,
// poolscope-soak): threads of this process, child processes, RSS, and a
// careful "no unreaped children" check. Linux only, header-only, Qt Core.

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QList>
#include <QSet>
#include <QString>

#include <cerrno>
#include <sys/wait.h>
#include <unistd.h>

namespace procwatch {

/// Threads of this process right now (entries of /proc/self/task).
inline int threadCount()
{
    return int(QDir(QStringLiteral("/proc/self/task"))
                   .entryList(QDir::Dirs | QDir::NoDotAndDotDot)
                   .size());
}

/// Resident set size of this process in bytes (/proc/self/statm).
inline qint64 rssBytes()
{
    QFile f(QStringLiteral("/proc/self/statm"));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    const QList<QByteArray> parts = f.readAll().split(' ');
    return parts.size() > 1 ? parts.at(1).toLongLong() * sysconf(_SC_PAGESIZE) : -1;
}

struct ProcStat {
    qint64 pid = 0;
    qint64 ppid = 0;
    char state = '?'; // R S D Z T ...
};

/// Parses /proc/<pid>/stat (fields after the last ')', as the comm may hold
/// spaces and parentheses). False when the process does not exist.
inline bool readStat(qint64 pid, ProcStat* out)
{
    QFile f(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return false;
    const QByteArray s = f.readAll();
    const qsizetype close = s.lastIndexOf(')');
    if (close < 0)
        return false;
    const QList<QByteArray> rest = s.mid(close + 2).split(' ');
    if (rest.size() < 2)
        return false;
    out->pid = pid;
    out->state = rest.at(0).isEmpty() ? '?' : rest.at(0).at(0);
    out->ppid = rest.at(1).toLongLong();
    return true;
}

/// Every process whose parent is this process (alive or zombie).
inline QList<ProcStat> children()
{
    QList<ProcStat> out;
    const qint64 self = qint64(::getpid());
    const QStringList entries =
        QDir(QStringLiteral("/proc")).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString& e : entries) {
        bool ok = false;
        const qint64 pid = e.toLongLong(&ok);
        if (!ok)
            continue;
        ProcStat st;
        if (readStat(pid, &st) && st.ppid == self)
            out.append(st);
    }
    return out;
}

/// The command line of a process, arguments joined by spaces ("" if gone).
inline QString cmdline(qint64 pid)
{
    QFile f(QStringLiteral("/proc/%1/cmdline").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    QByteArray b = f.readAll();
    b.replace('\0', ' ');
    return QString::fromLocal8Bit(b).trimmed();
}

/// True while `pid` is a process (alive or zombie) whose parent is us. A pid
/// the kernel reused for someone else's process does not count.
inline bool isOurChild(qint64 pid)
{
    ProcStat st;
    return readStat(pid, &st) && st.ppid == qint64(::getpid());
}

/// Children of ours that are PoolScope workers (their argv has the flag).
inline QList<ProcStat> workerChildren()
{
    QList<ProcStat> out;
    for (const ProcStat& c : children()) {
        if (cmdline(c.pid).contains(QStringLiteral("--poolscope-worker")) || c.state == 'Z')
            out.append(c);
    }
    return out;
}

/// The "no unreaped children" check. Call it only when no QProcess of ours
/// is alive: waitpid(-1) would otherwise steal a child Qt still has to reap.
///   > 0          : a zombie child was waiting to be reaped -> a leak (we
///                  reaped it now, but the executor should have);
///   -1 / ECHILD  : no children at all -> clean;
///    0           : children exist but none has exited. Clean only if none
///                  of them is a PoolScope worker (another component of the
///                  test process may have children of its own).
/// Returns an empty string when clean, else what is wrong.
inline QString unreapedChildren()
{
    int status = 0;
    const pid_t r = ::waitpid(-1, &status, WNOHANG);
    if (r > 0)
        return QStringLiteral("waitpid(-1, WNOHANG) reaped zombie child %1").arg(r);
    if (r < 0)
        return errno == ECHILD ? QString()
                               : QStringLiteral("waitpid failed: %1").arg(qt_error_string(errno));
    QStringList bad;
    for (const ProcStat& c : workerChildren())
        bad << QStringLiteral("%1 (%2) %3")
                   .arg(c.pid)
                   .arg(QChar::fromLatin1(c.state))
                   .arg(cmdline(c.pid));
    return bad.isEmpty()
               ? QString()
               : QStringLiteral("live worker children: ") + bad.join(QStringLiteral(", "));
}

} // namespace procwatch
