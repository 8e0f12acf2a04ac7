#include "bench.h"

#include <QProcess>
#include <QStandardPaths>
#include <QString>
#include <QStringList>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <ctime>
#include <sys/resource.h>
#include <unistd.h>

namespace bench {

namespace {
std::vector<double> sorted(const std::vector<double>& v)
{
    auto s = v;
    std::sort(s.begin(), s.end());
    return s;
}

std::string fmt(double v, const std::string& unit)
{
    char buf[64];
    if (unit == "x")
        std::snprintf(buf, sizeof buf, "%.2f", v);
    else if (v >= 100)
        std::snprintf(buf, sizeof buf, "%.0f", v);
    else
        std::snprintf(buf, sizeof buf, "%.3f", v);
    return buf;
}
} // namespace

double Samples::median() const
{
    const auto s = sorted(values);
    const auto n = s.size();
    if (n == 0)
        return 0;
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

double Samples::min() const
{
    return values.empty() ? 0 : *std::min_element(values.begin(), values.end());
}

double Samples::max() const
{
    return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

void Context::report(const std::string& name, const Samples& s, const std::string& unit,
                     const std::string& note)
{
    const double med = s.median();
    m_medians[name] = med;
    std::printf("%-44s %12s %-8s # %s .. %s (%zu reps)%s%s\n", name.c_str(), fmt(med, unit).c_str(),
                unit.c_str(), fmt(s.min(), unit).c_str(), fmt(s.max(), unit).c_str(),
                s.values.size(), note.empty() ? "" : "; ", note.c_str());
    std::fflush(stdout);
}

bool Context::wants(const std::string& figure) const
{
    if (only.empty())
        return true;
    for (const auto& o : only) {
        if (figure.find(o) != std::string::npos)
            return true;
    }
    return false;
}

void Context::compare(const std::vector<Contender>& contenders)
{
    std::vector<const Contender*> cs;
    for (const auto& c : contenders) {
        if (wants(c.figure))
            cs.push_back(&c);
    }
    for (const auto* c : cs)
        c->once(); // warm-up: threads started, allocator primed
    std::vector<Samples> samples(cs.size()), cpu(cs.size());
    for (int r = 0; r < reps; ++r) {
        for (std::size_t j = 0; j < cs.size(); ++j) {
            const std::size_t k = (j + std::size_t(r)) % cs.size();
            const double c0 = processCpuSeconds();
            samples[k].add(cs[k]->once());
            cpu[k].add(processCpuSeconds() - c0);
        }
    }
    for (std::size_t k = 0; k < cs.size(); ++k) {
        std::string note = cs[k]->note;
        if (cs[k]->items > 0) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%scpu %.0f ns/item", note.empty() ? "" : ", ",
                          cpu[k].median() * 1e9 / cs[k]->items);
            note += buf;
        }
        report(cs[k]->figure, samples[k], cs[k]->unit, note);
    }
}

void Context::skip(const std::string& name, const std::string& reason)
{
    std::printf("%s skipped (%s)\n", name.c_str(), reason.c_str());
    std::fflush(stdout);
}

void Context::comment(const std::string& text)
{
    std::printf("# %s\n", text.c_str());
    std::fflush(stdout);
}

std::optional<double> Context::figure(const std::string& name) const
{
    auto it = m_medians.find(name);
    if (it == m_medians.end())
        return std::nullopt;
    return it->second;
}

double processCpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

double threadCpuSeconds()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

long long rssBytes()
{
    std::ifstream in("/proc/self/statm");
    long long size = 0, resident = -1;
    if (!(in >> size >> resident))
        return -1;
    return resident * sysconf(_SC_PAGESIZE);
}

double percentile(std::vector<double> v, double p)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const auto rank = std::size_t(std::ceil(p / 100.0 * double(v.size())));
    return v[std::min(v.size() - 1, rank > 0 ? rank - 1 : 0)];
}

long long countPrimes(long long limit)
{
    long long count = 0;
    for (long long k = 2; k < limit; ++k) {
        bool prime = true;
        for (long long d = 2; d * d <= k; ++d) {
            if (k % d == 0) {
                prime = false;
                break;
            }
        }
        count += prime;
    }
    return count;
}

long long calibratePrimeLimit(double target)
{
    long long limit = 20000;
    for (int i = 0; i < 4; ++i) {
        const double c0 = threadCpuSeconds();
        doNotOptimize(countPrimes(limit));
        const double s = std::max(threadCpuSeconds() - c0, 1e-5);
        // Trial division costs roughly limit^1.5 / ln(limit).
        limit =
            std::max(1000LL, static_cast<long long>(double(limit) * std::pow(target / s, 1 / 1.4)));
    }
    return limit;
}

LoadMeter::LoadMeter()
    : m_start(snap())
{}

LoadMeter::Snap LoadMeter::snap()
{
    Snap s;
    std::ifstream in("/proc/stat");
    std::string line;
    if (!std::getline(in, line) || line.rfind("cpu ", 0) != 0)
        return s;
    std::istringstream f(line.substr(4));
    // user nice system idle iowait irq softirq steal (guest is inside user)
    double v[8] = {};
    for (double& x : v)
        f >> x;
    const double hz = double(sysconf(_SC_CLK_TCK));
    const double total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    s.busy = (total - v[3] - v[4] - v[7]) / hz;
    s.steal = v[7] / hz;
    auto secs = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    rusage self{}, kids{};
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    s.self = secs(self.ru_utime) + secs(self.ru_stime) + secs(kids.ru_utime) + secs(kids.ru_stime);
    s.ok = true;
    return s;
}

LoadMeter::Load LoadMeter::stop() const
{
    const Snap e = snap();
    Load l;
    l.wallSeconds = m_wall.seconds();
    if (!m_start.ok || !e.ok || l.wallSeconds <= 0)
        return l;
    // /proc/stat ticks are 10 ms: short suites read +-0.01 s / wall.
    l.otherCores = std::max(0.0, (e.busy - m_start.busy) - (e.self - m_start.self)) / l.wallSeconds;
    l.stealCores = std::max(0.0, e.steal - m_start.steal) / l.wallSeconds;
    l.valid = true;
    return l;
}

std::optional<std::string> runPython3(const std::string& script,
                                      const std::vector<std::string>& args, std::string& why)
{
    const QString exe = QStandardPaths::findExecutable(QStringLiteral("python3"));
    if (exe.isEmpty()) {
        why = "python3 not found";
        return std::nullopt;
    }
    QStringList argv{QStringLiteral("-c"), QString::fromStdString(script)};
    for (const auto& a : args)
        argv << QString::fromStdString(a);
    QProcess p;
    p.setProcessChannelMode(QProcess::SeparateChannels);
    p.start(exe, argv);
    if (!p.waitForStarted(10000)) {
        why = "python3 did not start: " + p.errorString().toStdString();
        return std::nullopt;
    }
    if (!p.waitForFinished(600000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        why = "python3 failed: " + p.readAllStandardError().trimmed().toStdString();
        return std::nullopt;
    }
    return p.readAllStandardOutput().toStdString();
}

} // namespace bench
