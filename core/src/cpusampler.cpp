#include "poolscope/cpusampler.h"

#include "poolscope/deadline.h"

#include <QFile>

#include <array>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <limits>

#ifdef Q_OS_UNIX
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

namespace poolscope {

namespace {

bool isSpace(char c) noexcept
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/// Splits one line into whitespace-separated tokens (at most N; the rest is
/// reported through `more`).
template<std::size_t N>
std::size_t tokenize(QByteArrayView line, std::array<QByteArrayView, N>& out, bool* more)
{
    std::size_t n = 0;
    qsizetype i = 0;
    const qsizetype len = line.size();
    *more = false;
    while (i < len) {
        while (i < len && isSpace(line[i]))
            ++i;
        if (i >= len)
            break;
        const qsizetype start = i;
        while (i < len && !isSpace(line[i]))
            ++i;
        if (n == N) {
            *more = true;
            break;
        }
        out[n++] = line.sliced(start, i - start);
    }
    return n;
}

template<class Int>
bool parseInt(QByteArrayView tok, Int* out)
{
    if (tok.isEmpty())
        return false;
    const char* b = tok.data();
    const char* e = b + tok.size();
    auto [p, ec] = std::from_chars(b, e, *out, 10);
    return ec == std::errc() && p == e;
}

/// At most 32 bytes of v for an error message, non-printable bytes as \xNN.
QString printable(QByteArrayView v)
{
    QString out;
    const qsizetype n = std::min<qsizetype>(v.size(), 32);
    for (qsizetype i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(v[i]);
        if (c >= 0x20 && c < 0x7F)
            out += QLatin1Char(char(c));
        else
            out += QStringLiteral("\\x%1").arg(uint(c), 2, 16, QLatin1Char('0'));
    }
    if (v.size() > n)
        out += QStringLiteral("...");
    return out;
}

quint64 delta(quint64 before, quint64 after) noexcept
{
    return after > before ? after - before : 0;
}

double fraction(const CpuTimes& a, const CpuTimes& b)
{
    // Clamp each field first, then build total and busy from the clamped
    // deltas so busy <= total always holds.
    const quint64 dUser = delta(a.user, b.user);
    const quint64 dNice = delta(a.nice, b.nice);
    const quint64 dSystem = delta(a.system, b.system);
    const quint64 dIdle = delta(a.idle, b.idle);
    const quint64 dIowait = delta(a.iowait, b.iowait);
    const quint64 dIrq = delta(a.irq, b.irq);
    const quint64 dSoftirq = delta(a.softirq, b.softirq);
    const quint64 dSteal = delta(a.steal, b.steal);
    const quint64 busy = dUser + dNice + dSystem + dIrq + dSoftirq + dSteal;
    const quint64 total = busy + dIdle + dIowait;
    if (total == 0)
        return 0.0;
    return double(busy) / double(total);
}

qint64 clockTicksPerSecond()
{
#ifdef Q_OS_UNIX
    static const qint64 hz = [] {
        const long v = sysconf(_SC_CLK_TCK);
        return v > 0 ? qint64(v) : qint64(100);
    }();
    return hz;
#else
    return 100;
#endif
}

qint64 pageSize()
{
#ifdef Q_OS_UNIX
    static const qint64 sz = [] {
        const long v = sysconf(_SC_PAGESIZE);
        return v > 0 ? qint64(v) : qint64(4096);
    }();
    return sz;
#else
    return 4096;
#endif
}

qint64 saturatingMul(qint64 a, qint64 b) noexcept
{
    qint64 r = 0;
    if (__builtin_mul_overflow(a, b, &r))
        return (a < 0) != (b < 0) ? std::numeric_limits<qint64>::min()
                                  : std::numeric_limits<qint64>::max();
    return r;
}

} // namespace

// ------------------------------------------------------------------ CpuTimes

quint64 CpuTimes::total() const
{
    // guest and guestNice are deliberately absent: the kernel already counts
    // them inside user and nice (psutil and htop subtract them instead; the
    // sum is the same).
    return user + nice + system + idle + iowait + irq + softirq + steal;
}

quint64 CpuTimes::busy() const
{
    const quint64 t = total();
    const quint64 i = idle + iowait;
    return t > i ? t - i : 0;
}

// ------------------------------------------------------------------ parsing

ProcStat parseProcStat(QByteArrayView text)
{
    ProcStat out;
    bool haveAll = false;
    int lineNo = 0;
    auto fail = [&](const QString& why) {
        ProcStat bad;
        bad.valid = false;
        bad.error = QStringLiteral("/proc/stat line %1: %2").arg(lineNo).arg(why);
        return bad;
    };

    qsizetype pos = 0;
    const qsizetype len = text.size();
    while (pos < len) {
        qsizetype eol = pos;
        while (eol < len && text[eol] != '\n')
            ++eol;
        const QByteArrayView line = text.sliced(pos, eol - pos);
        pos = eol + 1;
        ++lineNo;

        if (!line.startsWith("cpu"))
            continue; // intr, ctxt, btime, processes, ...

        std::array<QByteArrayView, 12> tok;
        bool more = false;
        const std::size_t n = tokenize(line, tok, &more);
        const QByteArrayView label = tok[0];
        int core = -1;
        if (label.size() > 3) {
            if (!parseInt(label.sliced(3), &core) || core < 0 || core > 1'000'000)
                return fail(QStringLiteral("bad cpu label '%1'").arg(printable(label)));
        }
        // user nice system idle are in every kernel; iowait (2.5.41), irq,
        // softirq, steal (2.6.11), guest (2.6.24), guest_nice (2.6.33) may be
        // missing on old kernels and count as 0.
        if (n < 5)
            return fail(QStringLiteral("%1 has %2 fields, need at least 4")
                            .arg(printable(label))
                            .arg(n - 1));
        std::array<quint64, 10> v{};
        const std::size_t fields = std::min<std::size_t>(n - 1, v.size());
        for (std::size_t i = 0; i < fields; ++i) {
            if (!parseInt(tok[i + 1], &v[i]))
                return fail(QStringLiteral("field %1 of %2 is not a counter: '%3'")
                                .arg(i + 1)
                                .arg(printable(label))
                                .arg(printable(tok[i + 1])));
        }
        // Columns past the tenth (a future kernel) are ignored.
        CpuTimes t{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]};
        if (core < 0) {
            if (haveAll)
                return fail(QStringLiteral("duplicate aggregate cpu line"));
            out.all = t;
            haveAll = true;
        } else {
            if (out.cores.contains(core))
                return fail(QStringLiteral("duplicate line for cpu%1").arg(core));
            out.cores.insert(core, t);
        }
    }
    if (!haveAll) {
        ProcStat bad;
        bad.error = QStringLiteral("no aggregate 'cpu' line: not a /proc/stat file");
        return bad;
    }
    out.valid = true;
    return out;
}

CpuUsage usageBetween(const ProcStat& before, const ProcStat& after)
{
    CpuUsage u;
    if (!before.valid || !after.valid)
        return u;
    u.total = fraction(before.all, after.all);
    for (auto it = after.cores.cbegin(); it != after.cores.cend(); ++it) {
        const auto prev = before.cores.constFind(it.key());
        if (prev == before.cores.cend())
            continue; // came online between the readings: no baseline
        u.perCore.insert(it.key(), fraction(*prev, *it));
    }
    u.valid = true;
    return u;
}

// ------------------------------------------------------------------ CpuSampler

CpuSampler::CpuSampler(QString path)
    : m_path(std::move(path))
{}

void CpuSampler::reset()
{
    m_prev = ProcStat{};
}

CpuUsage CpuSampler::sample()
{
    QFile f(m_path);
    // /proc files report size 0; readAll() reads until EOF regardless.
    if (!f.open(QIODevice::ReadOnly)) {
        m_lastError = QStringLiteral("cannot read %1: %2").arg(m_path, f.errorString());
        m_prev = ProcStat{};
        return {};
    }
    const QByteArray text = f.readAll();
    ProcStat now = parseProcStat(text);
    if (!now.valid) {
        m_lastError = QStringLiteral("%1: %2").arg(m_path, now.error);
        m_prev = ProcStat{};
        return {};
    }
    m_lastError.clear();
    CpuUsage u = usageBetween(m_prev, now); // invalid on the first (priming) call
    u.timeNs = monotonicNs();
    m_prev = std::move(now);
    return u;
}

QString CpuSampler::formula()
{
    return QStringLiteral(
               "CPU utilisation is computed from /proc/stat as htop and psutil do: between two "
               "readings, each counter's increase is taken (a counter that went backwards counts "
               "as "
               "0); total = user + nice + system + idle + iowait + irq + softirq + steal (guest "
               "time "
               "is already inside user, so it is not added again); idle = idle + iowait; busy = "
               "total "
               "- idle; utilisation = busy / total. The first reading covers the time since boot "
               "and "
               "is discarded. The kernel counts in 10 ms ticks, so short sampling periods are "
               "noisy; "
               "PoolScope samples every %1 ms. Cores that are offline in either reading are not "
               "shown.")
        .arg(kDefaultPeriodMs);
}

// ------------------------------------------------------------------ per task

std::optional<TaskCpu> parseTaskStat(QByteArrayView text)
{
    // "pid (comm) state ppid ...": comm is up to 16 bytes of anything,
    // including spaces and ')', so the fields start after the LAST ')'.
    const qsizetype openParen = text.indexOf('(');
    qsizetype closeParen = text.size() - 1;
    while (closeParen >= 0 && text[closeParen] != ')')
        --closeParen;
    if (openParen < 0 || closeParen < openParen)
        return std::nullopt;
    {
        qint64 pid = 0;
        if (!parseInt(text.first(openParen).trimmed(), &pid) || pid < 0)
            return std::nullopt;
    }
    QByteArrayView rest = text.sliced(closeParen + 1);
    if (const qsizetype nl = rest.indexOf('\n'); nl >= 0)
        rest = rest.first(nl);

    // Token k holds field k + 3 (field 3 is the state letter).
    std::array<QByteArrayView, 40> tok;
    bool more = false;
    const std::size_t n = tokenize(rest, tok, &more);
    auto field = [&](int f) { return tok[std::size_t(f - 3)]; };
    if (n < std::size_t(24 - 2)) // need up to field 24 (rss)
        return std::nullopt;

    quint64 utime = 0;
    quint64 stime = 0;
    qint64 rss = 0;
    if (!parseInt(field(14), &utime) || !parseInt(field(15), &stime) || !parseInt(field(24), &rss))
        return std::nullopt;

    TaskCpu out;
    const quint64 ticks =
        utime + stime < utime ? std::numeric_limits<quint64>::max() : utime + stime;
    const qint64 hz = clockTicksPerSecond();
    const qint64 ticksS = ticks > quint64(std::numeric_limits<qint64>::max())
                              ? std::numeric_limits<qint64>::max()
                              : qint64(ticks);
    // ticks * 1e9 / hz without losing precision for hz that divide 1e9 (100,
    // 250, 1000) and without overflow for any realistic value.
    if (1'000'000'000 % hz == 0)
        out.cpuNs = saturatingMul(ticksS, 1'000'000'000 / hz);
    else
        out.cpuNs = qint64(double(ticksS) * 1e9 / double(hz));
    out.rssBytes = rss < 0 ? 0 : saturatingMul(rss, pageSize());
    int cpu = -1;
    if (n >= std::size_t(39 - 2) && parseInt(field(39), &cpu) && cpu >= 0)
        out.lastCpu = cpu;
    return out;
}

std::optional<TaskCpu> readTaskStat(qint64 pid, qint64 tid)
{
    if (pid <= 0 || tid < 0)
        return std::nullopt;
    const QByteArray path = tid == 0 ? QByteArray("/proc/") + QByteArray::number(pid) + "/stat"
                                     : QByteArray("/proc/") + QByteArray::number(pid) + "/task/"
                                           + QByteArray::number(tid) + "/stat";
#ifdef Q_OS_UNIX
    // Plain read(2): this runs per worker per monitor tick, and a stat line
    // is well under 1 KiB (comm is at most 16 bytes, 52 numeric fields).
    const int fd = ::open(path.constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::nullopt;
    char buf[4096];
    qsizetype got = 0;
    while (got < qsizetype(sizeof buf)) {
        const ssize_t r = ::read(fd, buf + got, sizeof buf - std::size_t(got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += r;
    }
    ::close(fd);
    return parseTaskStat(QByteArrayView(buf, got));
#else
    QFile f(QString::fromLatin1(path));
    if (!f.open(QIODevice::ReadOnly))
        return std::nullopt;
    return parseTaskStat(f.read(4096));
#endif
}

// ------------------------------------------------------------- LoadMeter

namespace {

/// Busy CPU seconds of the whole machine since boot; -1 when unreadable.
double machineBusyS()
{
    QFile f(QStringLiteral("/proc/stat"));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    const ProcStat st = parseProcStat(f.readAll());
    if (!st.valid)
        return -1;
    return double(st.all.busy()) / double(sysconf(_SC_CLK_TCK));
}

} // namespace

void LoadMeter::start(const QList<qint64>& childPids)
{
    m_started = true;
    m_startNs = monotonicNs();
    m_machineBusyS = machineBusyS();
    m_ownS = LoadMeter::ownCpuSeconds();
    m_childCpuNs.clear();
    for (qint64 pid : childPids) {
        if (const auto t = readTaskStat(pid))
            m_childCpuNs.insert(pid, t->cpuNs);
    }
}

double LoadMeter::otherCores(const QList<qint64>& childPids) const
{
    if (!m_started || m_machineBusyS < 0)
        return -1;
    const double busy = machineBusyS();
    const double seconds = double(monotonicNs() - m_startNs) / 1e9;
    if (busy < 0 || seconds <= 0)
        return -1;
    double own = LoadMeter::ownCpuSeconds() - m_ownS; // reaped children: their whole life
    QList<qint64> pids = m_childCpuNs.keys();
    for (qint64 pid : childPids) {
        if (!m_childCpuNs.contains(pid))
            pids << pid;
    }
    for (qint64 pid : std::as_const(pids)) {
        const qint64 before = m_childCpuNs.value(pid, 0);
        if (const auto t = readTaskStat(pid))
            own += double(t->cpuNs - before) / 1e9; // alive: this interval's part
        else
            own -= double(before) / 1e9; // reaped: in RUSAGE_CHILDREN whole
    }
    return std::max(0.0, (busy - m_machineBusyS) - own) / seconds;
}

double LoadMeter::ownCpuSeconds()
{
    rusage self{}, children{};
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    auto sec = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return sec(self.ru_utime) + sec(self.ru_stime) + sec(children.ru_utime)
           + sec(children.ru_stime);
}

double LoadMeter::threadCpuSeconds()
{
    timespec ts{};
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

QString LoadMeter::busyText(double otherCores)
{
    if (otherCores < kBusyCores)
        return {};
    return QStringLiteral("the machine was busy: other programs used %1 cores")
        .arg(otherCores, 0, 'f', 2);
}

} // namespace poolscope
