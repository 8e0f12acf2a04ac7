#pragma once
// CPU utilisation from /proc/stat deltas, and per-process / per-thread CPU time
// from /proc/PID[/task/TID]/stat (docs/architecture.md).
//
// The formula is the one htop and psutil use:
//   total = user + nice + system + idle + iowait + irq + softirq + steal
//   idle  = idle + iowait
//   busy  = total - idle
// guest and guest_nice are already counted inside user and nice by the kernel,
// so they are parsed but never added again. Each field's delta is clamped at 0
// (a counter that goes backwards, e.g. iowait on some kernels or a CPU that
// went offline and came back, contributes nothing), and the first reading is
// discarded because it covers the whole time since boot.

#include <QByteArrayView>
#include <QList>
#include <QMap>
#include <QString>

#include <optional>

namespace poolscope {

/// One `cpu`/`cpuN` line of /proc/stat, in USER_HZ ticks.
struct CpuTimes {
    quint64 user = 0;
    quint64 nice = 0;
    quint64 system = 0;
    quint64 idle = 0;
    quint64 iowait = 0;
    quint64 irq = 0;
    quint64 softirq = 0;
    quint64 steal = 0;
    quint64 guest = 0;     // already inside user
    quint64 guestNice = 0; // already inside nice

    /// user + nice + system + idle + iowait + irq + softirq + steal.
    quint64 total() const;
    /// total() - (idle + iowait).
    quint64 busy() const;

    friend bool operator==(const CpuTimes&, const CpuTimes&) = default;
};

/// A parsed /proc/stat.
struct ProcStat {
    CpuTimes all;              // the aggregate `cpu` line
    QMap<int, CpuTimes> cores; // keyed by N of `cpuN`; gaps are offline CPUs
    bool valid = false;
    QString error; // set when !valid
};

/// Parses the text of /proc/stat. Tolerates missing trailing columns (older
/// kernels have 4..9) and extra ones (newer kernels may add more); ignores
/// lines that are not `cpu` lines. Rejects text without an aggregate `cpu`
/// line, non-numeric or overflowing fields, duplicate cores. Never throws.
ProcStat parseProcStat(QByteArrayView text);

/// Utilisation between two readings, fractions 0..1.
struct CpuUsage {
    qint64 timeNs = 0;         // monotonicNs() when sampled (0 from usageBetween)
    double total = -1;         // all CPUs together; -1 when !valid
    QMap<int, double> perCore; // only cores present in both readings
    bool valid = false;
};

/// Per-field deltas clamped at 0; a core present in only one reading is
/// omitted (offline); a core whose total delta is 0 reads 0.
CpuUsage usageBetween(const ProcStat& before, const ProcStat& after);

/// Samples a /proc/stat-like file. Not thread-safe: one owner (the Monitor).
class CpuSampler {
public:
    static constexpr int kDefaultPeriodMs = 500; // 10 ms ticks: +-2 % noise at 500 ms

    explicit CpuSampler(QString path = QStringLiteral("/proc/stat"));

    /// Reads the file. The first call (and the first after reset() or after a
    /// failed read) only primes and returns valid = false; later calls return
    /// the usage since the previous successful call.
    CpuUsage sample();
    /// Forgets the previous reading: the next sample() primes again.
    void reset();
    QString path() const { return m_path; }
    /// Why the last sample() was invalid (empty after a good one).
    QString lastError() const { return m_lastError; }

    /// One paragraph explaining the formula, for a tooltip.
    static QString formula();

private:
    QString m_path;
    ProcStat m_prev;
    QString m_lastError;
};

/// CPU time and placement of one process or thread.
struct TaskCpu {
    qint64 cpuNs = 0;    // utime + stime
    int lastCpu = -1;    // field 39 (processor); -1 if the kernel omits it
    qint64 rssBytes = 0; // field 24 (rss pages) * page size
};

/// Parses the text of /proc/PID/stat or /proc/PID/task/TID/stat. comm (field
/// 2) may contain spaces and parentheses, so fields are counted after the LAST
/// ')'. Returns nullopt on malformed text.
std::optional<TaskCpu> parseTaskStat(QByteArrayView text);

/// Reads /proc/PID/stat (tid == 0) or /proc/PID/task/TID/stat. nullopt when
/// the process or thread is gone or the text is malformed.
std::optional<TaskCpu> readTaskStat(qint64 pid, qint64 tid = 0);

/// What the rest of the machine used over an interval, in cores: the
/// machine's busy CPU (/proc/stat) minus this program's own (getrusage of
/// the process and its reaped children, plus the live child processes whose
/// pids are given: a process pool's workers). The same load meter as the
/// benchmarks' and `poolscope-cli run`'s "machine busy" line: a time or a
/// speedup measured while other programs held cores is worse than the pool
/// can do, and the window, the A/B panel and the sweep say so.
/// Grandchildren (an MPI launcher's ranks) count as other programs until they
/// are reaped. Not thread-safe: one owner.
class LoadMeter {
public:
    /// Other programs' cores from this level up are worth a warning.
    static constexpr double kBusyCores = 0.15;

    /// Starts an interval. childPids: live child processes whose CPU is ours.
    void start(const QList<qint64>& childPids = {});
    bool isStarted() const { return m_started; }
    /// Mean cores other programs kept busy since start(); -1 when unknown
    /// (not started, /proc/stat unreadable, or no time elapsed).
    double otherCores(const QList<qint64>& childPids = {}) const;
    /// "the machine was busy: other programs used 1.42 cores" when cores >=
    /// kBusyCores, else empty.
    static QString busyText(double otherCores);
    /// CPU seconds of this process (every thread) and its reaped children.
    static double ownCpuSeconds();
    /// CPU seconds of the calling thread (a window's GUI thread: what
    /// drawing a run cost the machine's cores).
    static double threadCpuSeconds();

private:
    bool m_started = false;
    qint64 m_startNs = 0;
    double m_machineBusyS = -1;
    double m_ownS = 0;
    QMap<qint64, qint64> m_childCpuNs; // pid -> CPU at start
};

} // namespace poolscope
