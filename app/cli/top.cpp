// poolscope-cli top: an htop-like view of another program's pools
// (docs/attach.md). One AttachClient, one AttachedPool and one Monitor per
// watched pool; a timer draws every pool's last snapshot.
#include "top.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSocketNotifier>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace poolscope::cli {

namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

QString fit(const QString& text, int width)
{
    if (width <= 0 || text.size() <= width)
        return text;
    return text.left(std::max(0, width - 1)) + QChar(0x2026);
}

QString controlText(const PoolInfo& pool)
{
    return pool.control.isEmpty()
               ? QStringLiteral("read-only")
               : QStringLiteral("control: %1").arg(pool.control.join(QLatin1String(", ")));
}

QString programLine(const PublisherInfo& p)
{
    return QStringLiteral("%1 (pid %2, %3%4)")
        .arg(p.program)
        .arg(p.pid)
        .arg(p.language, p.runtime.isEmpty() ? QString() : QStringLiteral(", ") + p.runtime);
}

std::atomic<int> g_topSignal{0};
/// While top runs: a stopping signal only sets the flag (a second one does
/// not kill the process with the terminal still without echo); a 50 ms
/// timer ends the view and the terminal is put back.
extern "C" void onTopSignal(int sig)
{
    int none = 0;
    g_topSignal.compare_exchange_strong(none, sig);
}

int terminalWidth()
{
    winsize ws{};
    if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        return ws.ws_col;
    return 100;
}

/// Puts the terminal in non-canonical mode (keys without Enter, no echo) for
/// 'q', and puts it back however the view ends.
class RawKeys {
public:
    RawKeys()
    {
        if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &m_saved) != 0)
            return;
        termios raw = m_saved;
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        m_on = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    ~RawKeys()
    {
        if (m_on)
            ::tcsetattr(STDIN_FILENO, TCSANOW, &m_saved);
    }
    bool on() const { return m_on; }

private:
    termios m_saved{};
    bool m_on = false;
};

QJsonObject countersJson(const Counters& c)
{
    return QJsonObject{{QStringLiteral("submitted"), qint64(c.submitted)},
                       {QStringLiteral("queued"), qint64(c.queued)},
                       {QStringLiteral("running"), qint64(c.running)},
                       {QStringLiteral("succeeded"), qint64(c.succeeded)},
                       {QStringLiteral("failed"), qint64(c.failed)},
                       {QStringLiteral("cancelled"), qint64(c.cancelled)}};
}

} // namespace

QString renderPool(const PoolInfo& pool, const PublisherInfo& program, const Snapshot& s, int width,
                   quint64 skipped, quint64 budget)
{
    QStringList lines;
    lines << fit(QStringLiteral("%1 - pool \"%2\" %3, %4")
                     .arg(programLine(program), pool.name, pool.kind, controlText(pool)),
                 width);
    const Counters& c = s.counters;
    lines << fit(QStringLiteral("tasks   %1 submitted  %2 queued  %3 running  %4 done "
                                "(%5 succeeded, %6 failed, %7 cancelled)  %8/s")
                     .arg(c.submitted)
                     .arg(c.queued)
                     .arg(c.running)
                     .arg(c.completed())
                     .arg(c.succeeded)
                     .arg(c.failed)
                     .arg(c.cancelled)
                     .arg(s.tasksPerSecond, 0, 'f', 1),
                 width);
    QString state = QStringLiteral("workers %1 of %2").arg(s.workerCount).arg(s.maxWorkers);
    if (s.paused)
        state += QStringLiteral("  PAUSED");
    if (s.shutdown)
        state += QStringLiteral("  shut down");
    if (const quint64 lost = s.recordStats.lost; lost > 0) {
        const quint64 budgeted = std::min(lost, skipped);
        QStringList why;
        // skipped is cumulative; budget is the publisher's state now (0
        // while a monitor of the program's own takes the rows).
        if (budgeted > 0 && budget > 0)
            why << QStringLiteral("%1 finished faster than the %2 rows/s the program publishes "
                                  "or went to a monitor of its own")
                       .arg(budgeted)
                       .arg(budget);
        else if (budgeted > 0)
            why << QStringLiteral("%1 not recorded by the program for viewers (a monitor of its "
                                  "own records them now)")
                       .arg(budgeted);
        if (lost > budgeted)
            why << QStringLiteral("%1 because the viewer fell behind").arg(lost - budgeted);
        state += QStringLiteral("  %1 tasks not received: %2")
                     .arg(lost)
                     .arg(why.join(QLatin1String(", ")));
    }
    lines << fit(state, width);
    if (!s.queueHead.isEmpty()) {
        QString q = QStringLiteral("queue  ");
        for (const QueuedTask& t : s.queueHead)
            q += QStringLiteral(" #%1 %2").arg(t.id).arg(NameTable::name(t.nameId));
        if (c.queued > quint64(s.queueHead.size()))
            q += QStringLiteral("  (+%1 more)").arg(c.queued - quint64(s.queueHead.size()));
        lines << fit(q, width);
    }
    lines << fit(QStringLiteral(" %1 %2 %3 %4 %5 %6 %7")
                     .arg(QStringLiteral("WORKER"), -22)
                     .arg(QStringLiteral("STATE"), -9)
                     .arg(QStringLiteral("TASK"), -24)
                     .arg(QStringLiteral("TIME"), 8)
                     .arg(QStringLiteral("DONE"), 7)
                     .arg(QStringLiteral("CPU%"), 6)
                     .arg(QStringLiteral("CORE"), 5),
                 width);
    for (const WorkerInfo& w : s.workers) {
        QString name = w.name.isEmpty() ? QStringLiteral("worker %1").arg(w.index) : w.name;
        if (w.pid > 0 && program.pid != w.pid && !name.contains(QString::number(w.pid)))
            name += QStringLiteral(" [%1]").arg(w.pid);
        const QString task =
            w.currentTask
                ? QStringLiteral("#%1 %2").arg(w.currentTask).arg(NameTable::name(w.currentName))
                : QString();
        const QString time =
            w.currentTask && w.currentStartNs > 0
                ? QStringLiteral("%1s").arg(double(s.timeNs - w.currentStartNs) / 1e9, 0, 'f', 2)
                : QString();
        lines << fit(
            QStringLiteral(" %1 %2 %3 %4 %5 %6 %7")
                .arg(fit(name, 22), -22)
                .arg(QString::fromLatin1(nameOf(w.state)), -9)
                .arg(fit(task, 24), -24)
                .arg(time, 8)
                .arg(w.tasksDone, 7)
                .arg(w.cpuLoad >= 0 ? QString::number(w.cpuLoad * 100, 'f', 0)
                                    : QStringLiteral("-"),
                     6)
                .arg(w.lastCore >= 0 ? QString::number(w.lastCore) : QStringLiteral("-"), 5),
            width);
    }
    if (s.cpu.valid) {
        QString cpu = QStringLiteral("cpu    %1% all").arg(s.cpu.total * 100, 0, 'f', 0);
        for (auto it = s.cpu.perCore.cbegin(); it != s.cpu.perCore.cend(); ++it)
            cpu += QStringLiteral("  cpu%1 %2%").arg(it.key()).arg(it.value() * 100, 0, 'f', 0);
        lines << fit(cpu, width);
    }
    return lines.join(QLatin1Char('\n'));
}

int cmdPublishers(bool json)
{
    QString dirError;
    const QString dir = attach::socketDirectory(&dirError);
    if (dir.isEmpty()) {
        std::fprintf(stderr, "poolscope-cli: %s\n", qPrintable(dirError));
        return kExitFailed;
    }
    QStringList problems;
    const QList<PublisherInfo> all = attach::listPublishers(1000, &problems);
    for (const QString& p : problems)
        std::fprintf(stderr, "poolscope-cli: %s\n", qPrintable(p));
    if (json) {
        QJsonArray arr;
        for (const PublisherInfo& p : all) {
            QJsonArray pools;
            for (const PoolInfo& pool : p.pools)
                pools.append(QJsonObject{
                    {QStringLiteral("id"), qint64(pool.id)},
                    {QStringLiteral("name"), pool.name},
                    {QStringLiteral("kind"), pool.kind},
                    {QStringLiteral("max_workers"), pool.maxWorkers},
                    {QStringLiteral("control"), QJsonArray::fromStringList(pool.control)}});
            arr.append(QJsonObject{{QStringLiteral("pid"), p.pid},
                                   {QStringLiteral("program"), p.program},
                                   {QStringLiteral("language"), p.language},
                                   {QStringLiteral("runtime"), p.runtime},
                                   {QStringLiteral("socket"), p.socketPath},
                                   {QStringLiteral("pools"), pools}});
        }
        std::printf("%s\n", QJsonDocument(arr).toJson(QJsonDocument::Compact).constData());
        return 0;
    }
    if (all.isEmpty()) {
        std::printf("No program of this user publishes its pools (looked in %s).\n"
                    "Python: python3 -m poolscope_probe script.py; C++: poolscope::publish() "
                    "or POOLSCOPE_PUBLISH=1 (docs/attach.md).\n",
                    qPrintable(dir));
        return 0;
    }
    std::printf("%8s  %-24s %-8s %s\n", "PID", "PROGRAM", "LANGUAGE", "POOLS");
    for (const PublisherInfo& p : all) {
        QStringList pools;
        for (const PoolInfo& pool : p.pools)
            pools << QStringLiteral("%1 \"%2\" %3 (%4)")
                         .arg(pool.id)
                         .arg(pool.name, pool.kind, controlText(pool));
        std::printf("%8lld  %-24s %-8s %s\n", static_cast<long long>(p.pid), qPrintable(p.program),
                    qPrintable(p.language),
                    qPrintable(pools.isEmpty() ? QStringLiteral("(none yet)")
                                               : pools.join(QLatin1String("; "))));
    }
    return 0;
}

namespace {

struct Watched {
    PoolInfo info;
    std::unique_ptr<AttachedPool> pool;
    std::unique_ptr<Monitor> monitor;
    bool gone = false;       // no longer published
    bool finalShown = false; // its last state was drawn once after it went
    bool live = false;       // a snapshot of it came (it is recorded for us from then on)
};

bool poolMatches(const PoolInfo& pool, const QString& want)
{
    if (want.isEmpty())
        return true;
    bool isId = false;
    const quint64 id = want.toULongLong(&isId);
    return isId ? pool.id == id : pool.name == want;
}

/// The publisher to watch, waiting up to o.waitMs for it to appear.
std::optional<PublisherInfo> resolve(const TopOptions& o, const std::atomic<bool>& interrupted,
                                     int* exitCode)
{
    QDeadlineTimer deadline(o.waitMs);
    for (;;) {
        QString error;
        if (!o.target.isEmpty()) {
            if (auto p = attach::findPublisher(o.target, &error))
                return p;
        } else {
            const QList<PublisherInfo> all = attach::listPublishers();
            if (all.size() == 1)
                return all.first();
            if (all.size() > 1) {
                QStringList names;
                for (const PublisherInfo& p : all)
                    names << QStringLiteral("%1 (pid %2)").arg(p.program).arg(p.pid);
                std::fprintf(stderr,
                             "poolscope-cli: %lld programs publish their pools: %s; choose one "
                             "with --attach PID|NAME\n",
                             static_cast<long long>(all.size()),
                             qPrintable(names.join(QLatin1String(", "))));
                *exitCode = kExitUsage;
                return std::nullopt;
            }
            error = QStringLiteral("no program of this user publishes its pools (Python: python3 "
                                   "-m poolscope_probe script.py; C++: poolscope::publish() or "
                                   "POOLSCOPE_PUBLISH=1; docs/attach.md)");
        }
        if (deadline.hasExpired() || interrupted.load()) {
            std::fprintf(stderr, "poolscope-cli: %s\n", qPrintable(error));
            *exitCode = interrupted.load() ? kExitInterrupted : kExitFailed;
            return std::nullopt;
        }
        QThread::msleep(100);
    }
}

} // namespace

int cmdTop(const TopOptions& o, const std::atomic<bool>& interrupted)
{
    int code = 0;
    const std::optional<PublisherInfo> target = resolve(o, interrupted, &code);
    if (!target)
        return code;

    AttachClient client;
    if (!client.connectTo(target->socketPath)) {
        std::fprintf(stderr, "poolscope-cli: cannot attach to %s (pid %lld): %s\n",
                     qPrintable(target->program), static_cast<long long>(target->pid),
                     qPrintable(client.errorString()));
        return kExitFailed;
    }
    const bool screen = !o.plain && !o.json && ::isatty(STDOUT_FILENO);
    std::vector<std::unique_ptr<Watched>> watched;
    auto watchNew = [&](const QList<PoolInfo>& pools) {
        for (const PoolInfo& info : pools) {
            if (!poolMatches(info, o.pool))
                continue;
            bool known = false;
            for (auto& w : watched)
                known = known || w->info.id == info.id;
            if (known)
                continue;
            auto w = std::make_unique<Watched>();
            w->info = info;
            w->pool = client.watch(info.id);
            if (!w->pool)
                continue;
            MonitorOptions mo;
            mo.intervalMs = std::max(50, o.intervalMs / 2);
            mo.cpuPeriodMs = std::max(100, o.intervalMs);
            mo.keptRuns = 0;
            w->monitor = std::make_unique<Monitor>(mo);
            Watched* raw = w.get();
            QObject::connect(w->pool.get(), &AttachedPool::updated, w->pool.get(),
                             [raw] { raw->live = true; });
            w->monitor->attach(w->pool.get());
            watched.push_back(std::move(w));
        }
        for (auto& w : watched) {
            bool present = false;
            for (const PoolInfo& info : pools)
                present = present || info.id == w->info.id;
            w->gone = !present;
        }
    };
    watchNew(client.publisher().pools);
    QObject::connect(&client, &AttachClient::poolsChanged, &client, watchNew);

    g_topSignal.store(0);
    struct sigaction sa {};
    sa.sa_handler = onTopSignal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP})
        ::sigaction(sig, &sa, nullptr);
    QTimer signalPoll;
    signalPoll.setInterval(50);
    QObject::connect(&signalPoll, &QTimer::timeout, &client, [] {
        if (const int sig = g_topSignal.load())
            QCoreApplication::exit(128 + sig); // 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP
    });
    signalPoll.start();
    RawKeys keys;
    std::unique_ptr<QSocketNotifier> keyNotifier;
    int frames = 0;
    QString endText;
    auto draw = [&]() {
        const int width = screen ? terminalWidth() : 0;
        QString frame;
        if (o.json) {
            for (auto& w : watched) {
                if (w->gone && std::exchange(w->finalShown, true))
                    continue;
                const Snapshot& s = w->monitor->last();
                QJsonArray workers;
                for (const WorkerInfo& wi : s.workers)
                    workers.append(QJsonObject{
                        {QStringLiteral("index"), wi.index},
                        {QStringLiteral("name"), wi.name},
                        {QStringLiteral("pid"), wi.pid},
                        {QStringLiteral("state"), QString::fromLatin1(nameOf(wi.state))},
                        {QStringLiteral("task"), qint64(wi.currentTask)},
                        {QStringLiteral("done"), qint64(wi.tasksDone)}});
                const QJsonObject line{{QStringLiteral("program"), client.publisher().program},
                                       {QStringLiteral("pid"), client.publisher().pid},
                                       {QStringLiteral("pool"), w->info.name},
                                       {QStringLiteral("kind"), w->info.kind},
                                       {QStringLiteral("published"), !w->gone},
                                       {QStringLiteral("live"), w->live},
                                       {QStringLiteral("max_workers"), s.maxWorkers},
                                       {QStringLiteral("paused"), s.paused},
                                       {QStringLiteral("frame"), frames},
                                       {QStringLiteral("counters"), countersJson(s.counters)},
                                       {QStringLiteral("recorded"), qint64(s.recordStats.seen)},
                                       {QStringLiteral("lost"), qint64(s.recordStats.lost)},
                                       {QStringLiteral("skipped"), qint64(w->pool->skippedRows())},
                                       {QStringLiteral("row_budget"), qint64(w->pool->rowBudget())},
                                       {QStringLiteral("tasks_per_s"), s.tasksPerSecond},
                                       {QStringLiteral("workers"), workers}};
                frame += QString::fromUtf8(QJsonDocument(line).toJson(QJsonDocument::Compact))
                         + QLatin1Char('\n');
            }
        } else {
            QStringList parts;
            for (auto& w : watched) {
                // A pool that went is drawn once more, as it ended.
                if (w->gone && std::exchange(w->finalShown, true))
                    continue;
                QString text = renderPool(w->info, client.publisher(), w->monitor->last(), width,
                                          w->pool->skippedRows(), w->pool->rowBudget());
                if (w->gone)
                    text += QStringLiteral("\n(no longer published: its last state)");
                parts << text;
            }
            if (parts.isEmpty())
                parts << QStringLiteral("%1: no pool published %2%3")
                             .arg(programLine(client.publisher()),
                                  watched.empty() ? QStringLiteral("yet")
                                                  : QStringLiteral("any more"),
                                  o.pool.isEmpty() ? QString()
                                                   : QStringLiteral(" named '%1'").arg(o.pool));
            if (screen)
                parts << (keys.on() ? QStringLiteral("q: quit") : QStringLiteral("Ctrl-C: quit"));
            frame = (screen ? QStringLiteral("\x1b[H\x1b[2J") : QString())
                    + parts.join(QLatin1String("\n\n")) + QLatin1Char('\n');
            if (!screen)
                frame += QLatin1Char('\n');
        }
        std::fputs(frame.toUtf8().constData(), stdout);
        std::fflush(stdout);
        ++frames;
    };

    QTimer timer;
    timer.setInterval(o.intervalMs);
    QObject::connect(&timer, &QTimer::timeout, &client, [&]() {
        for (auto& w : watched)
            w->monitor->tick();
        draw();
        if (o.iterations > 0 && frames >= o.iterations)
            QCoreApplication::exit(0);
    });
    QObject::connect(&client, &AttachClient::closed, &client, [&](const QString& reason, bool bye) {
        for (auto& w : watched)
            w->monitor->tick();
        draw();
        endText = QStringLiteral("%1 %2: %3")
                      .arg(programLine(client.publisher()),
                           bye ? QStringLiteral("ended") : QStringLiteral("was lost"), reason);
        QCoreApplication::exit(bye ? 0 : kExitFailed);
    });
    if (keys.on()) {
        keyNotifier = std::make_unique<QSocketNotifier>(STDIN_FILENO, QSocketNotifier::Read);
        QObject::connect(keyNotifier.get(), &QSocketNotifier::activated, &client, [&]() {
            char c = 0;
            while (::read(STDIN_FILENO, &c, 1) == 1) {
                if (c == 'q' || c == 'Q')
                    QCoreApplication::exit(0);
            }
        });
    }
    timer.start();
    draw();
    code = QCoreApplication::exec();
    if (!endText.isEmpty())
        std::fprintf(code == 0 ? stdout : stderr, "%s\n", qPrintable(endText));
    for (auto& w : watched)
        w->monitor->detach();
    return code;
}

} // namespace poolscope::cli
