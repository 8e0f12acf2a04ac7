// poolscope-cli: every PoolScope scenario from a terminal.
//
//   poolscope-cli list
//   poolscope-cli run --workload primes --pool thread --workers 4 [--gil] [--json] ...
//   poolscope-cli sweep --workload primes --pool process --workers 1..4
//   poolscope-cli top [--attach PID|NAME]   (another program's pools, docs/attach.md)
//   poolscope-cli publishers                (the programs that publish theirs)
//
// Exit codes: 0 all tasks succeeded, 1 some failed or were cancelled (the
// summary says which) or an export could not be written, 2 bad usage (one
// line on stderr), 128 + the signal when stopped by one: 130 for Ctrl-C
// (SIGINT), 143 for SIGTERM (timeout(1), systemd, docker stop), 129 for
// SIGHUP (the terminal closed); run: the summary and exports of what ran;
// sweep: the sizes measured before it.
#include "scenario.h"
#include "top.h"

#include <poolscope/amdahl.h>
#include <poolscope/processpool.h>
#include <poolscope/recording.h>
#include <poolscope/threadpool.h>
#include <poolscope/worker.h>
#ifdef POOLSCOPE_HAVE_MPI
#include <poolscope/mpipool.h>
#endif

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTextStream>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <unistd.h>

using namespace poolscope;
using namespace poolscope::cli;

namespace {

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0}; // the first stopping signal

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
/// 128 + the signal that stopped the run, what a shell reports (130 for Ctrl-C).
int exitInterrupted()
{
    const int sig = g_signal.load();
    return 128 + (sig ? sig : SIGINT);
}

/// SIGINT, SIGTERM and SIGHUP all stop a run the same way: what is pending
/// is cancelled, what runs is stopped, and the summary and exports of what
/// ran are written. A second one of them ends the program at once.
extern "C" void onStopSignal(int sig)
{
    int none = 0;
    g_signal.compare_exchange_strong(none, sig);
    g_interrupted.store(true);
    std::signal(sig, SIG_DFL);
}

[[noreturn]] void usageError(const QString& message)
{
    std::fprintf(stderr, "poolscope-cli: %s\n", qPrintable(message));
    std::exit(kExitUsage);
}

/// "4" -> {4}; "1..4" -> {1,2,3,4}; "1,2,8" -> {1,2,8}.
QList<int> parseWorkerList(const QString& text)
{
    QList<int> out;
    bool ok1 = false, ok2 = false;
    if (text.contains(QLatin1String(".."))) {
        const auto parts = text.split(QLatin1String(".."));
        const int a = parts.value(0).toInt(&ok1), b = parts.value(1).toInt(&ok2);
        if (parts.size() != 2 || !ok1 || !ok2 || a < 1 || b < a || b > Executor::maxWorkersLimit())
            usageError(QStringLiteral("--workers range must look like 1..8 (1 to %1)")
                           .arg(Executor::maxWorkersLimit()));
        for (int i = a; i <= b; ++i)
            out.append(i);
        return out;
    }
    for (const auto& p : text.split(QLatin1Char(','))) {
        const int n = p.trimmed().toInt(&ok1);
        if (!ok1)
            usageError(QStringLiteral("--workers needs a number, a list 1,2,4 or a range 1..8 "
                                      "(got '%1')")
                           .arg(text));
        out.append(n);
    }
    return out;
}

struct Options {
    QCommandLineOption workload{QStringLiteral("workload"), QStringLiteral("Workload name."),
                                QStringLiteral("NAME")};
    QCommandLineOption tasks{QStringLiteral("tasks"), QStringLiteral("Number of tasks."),
                             QStringLiteral("N")};
    QCommandLineOption size{QStringLiteral("size"), QStringLiteral("Work per task."),
                            QStringLiteral("S")};
    QCommandLineOption knob{QStringLiteral("knob"),
                            QStringLiteral("Workload knob, repeatable: --knob seed=7."),
                            QStringLiteral("NAME=VALUE")};
    QCommandLineOption pool{
        QStringLiteral("pool"),
        QStringLiteral("thread (default), process, or mpi (when built with MPI: under "
                       "mpirun -n N rank 0 runs the scenario and ranks 1..N-1 the tasks; "
                       "alone it spawns --workers ranks; docs/scale-out.md). top: the published "
                       "pool to show, by id or name (default: every pool)."),
        QStringLiteral("KIND"), QStringLiteral("thread")};
    QCommandLineOption workers{QStringLiteral("workers"),
                               QStringLiteral("Pool size (sweep: 1..N, or a list 1,2,4)."),
                               QStringLiteral("W")};
    QCommandLineOption gil{QStringLiteral("gil"),
                           QStringLiteral("Thread pool with the simulated GIL.")};
    QCommandLineOption switchInterval{QStringLiteral("switch-interval"),
                                      QStringLiteral("GIL switch interval in ms (default 5)."),
                                      QStringLiteral("MS"), QStringLiteral("5")};
    QCommandLineOption chunk{QStringLiteral("chunk"),
                             QStringLiteral("Tasks per chunk (one message, one failure unit)."),
                             QStringLiteral("C"), QStringLiteral("1")};
    QCommandLineOption timeout{QStringLiteral("timeout"),
                               QStringLiteral("Per-task timeout in seconds."), QStringLiteral("S")};
    QCommandLineOption trace{
        QStringLiteral("trace"),
        QStringLiteral("Write a trace of every task for ui.perfetto.dev: Perfetto's own format "
                       "for FILE.pftrace (compact: ~120 bytes a task), Chrome JSON otherwise."),
        QStringLiteral("FILE")};
    QCommandLineOption csv{QStringLiteral("csv"),
                           QStringLiteral("Write every task (id, times, outcome, waits) as CSV."),
                           QStringLiteral("FILE")};
    QCommandLineOption sample{
        QStringLiteral("sample"),
        QStringLiteral("Record only tasks whose id is a multiple of N (1 in N); the summary, "
                       "CSV and trace say so. Default: every task."),
        QStringLiteral("N")};
    QCommandLineOption recordLimit{
        QStringLiteral("record-limit"),
        QStringLiteral("Most tasks recorded before the record keeps a stated 1-in-2^k sample "
                       "(default 1000000, at most 100000000)."),
        QStringLiteral("N")};
    QCommandLineOption json{QStringLiteral("json"),
                            QStringLiteral("Print the summary as one JSON object on stdout.")};
    QCommandLineOption quiet{QStringLiteral("quiet"), QStringLiteral("No progress output.")};
    // top
    QCommandLineOption attach{QStringLiteral("attach"),
                              QStringLiteral("top: the program to watch, by pid or by program or "
                                             "pool name (default: the only one publishing)."),
                              QStringLiteral("PID|NAME")};
    QCommandLineOption interval{QStringLiteral("interval"),
                                QStringLiteral("top: ms between frames (default 500)."),
                                QStringLiteral("MS")};
    QCommandLineOption iterations{QStringLiteral("iterations"),
                                  QStringLiteral("top: stop after N frames (default: until the "
                                                 "program ends)."),
                                  QStringLiteral("N")};
    QCommandLineOption plain{QStringLiteral("plain"),
                             QStringLiteral("top: frames one after another, no screen control "
                                            "(the default when stdout is not a terminal).")};
    QCommandLineOption wait{QStringLiteral("wait"),
                            QStringLiteral("top: wait up to MS for the program to publish."),
                            QStringLiteral("MS")};
};

qint64 toInt(const QString& text, const QString& what)
{
    bool ok = false;
    const qint64 v = text.toLongLong(&ok);
    if (!ok)
        usageError(QStringLiteral("%1 needs an integer (got '%2')").arg(what, text));
    return v;
}

Scenario scenarioFrom(const QCommandLineParser& p, const Options& o, bool forSweep,
                      const QString& defaultWorkload = {})
{
    Scenario s;
    if (!p.isSet(o.workload) && defaultWorkload.isEmpty())
        usageError(QStringLiteral("--workload is required (try: poolscope-cli list)"));
    s.workload = p.isSet(o.workload) ? p.value(o.workload) : defaultWorkload;
    const Workload* w = Workloads::find(s.workload);
    if (!w)
        usageError(QStringLiteral("unknown workload '%1' (known: %2)")
                       .arg(s.workload, Workloads::names().join(QStringLiteral(", "))));
    s.run = w->defaultRun();
    if (p.isSet(o.tasks)) {
        const qint64 t = toInt(p.value(o.tasks), QStringLiteral("--tasks"));
        if (t < 1 || t > w->maxTasks)
            usageError(QStringLiteral("--tasks must be 1..%1 for %2 (got %3)")
                           .arg(w->maxTasks)
                           .arg(s.workload)
                           .arg(t));
        s.run.tasks = int(t);
    }
    if (p.isSet(o.size))
        s.run.size = toInt(p.value(o.size), QStringLiteral("--size"));
    for (const QString& kv : p.values(o.knob)) {
        const auto eq = kv.indexOf(QLatin1Char('='));
        if (eq <= 0)
            usageError(QStringLiteral("--knob must look like name=value (got '%1')").arg(kv));
        s.run.knobs.insert(kv.left(eq), toInt(kv.mid(eq + 1), QStringLiteral("--knob ") + kv));
    }
    s.pool = p.value(o.pool);
    int defaults = s.pool == QLatin1String("process") ? ProcessPoolExecutor::defaultMaxWorkers()
                                                      : ThreadPoolExecutor::defaultMaxWorkers();
#ifdef POOLSCOPE_HAVE_MPI
    if (s.pool == QLatin1String("mpi"))
        defaults = MpiPoolExecutor::defaultMaxWorkers();
#endif
    s.workers = defaults;
    // Range errors say the value given, not one clamped to fit an int.
    if (p.isSet(o.workers) && !forSweep) {
        const qint64 n = toInt(p.value(o.workers), QStringLiteral("--workers"));
        if (n < 1 || n > Executor::maxWorkersLimit())
            usageError(QStringLiteral("--workers must be between 1 and %1 (got %2)")
                           .arg(Executor::maxWorkersLimit())
                           .arg(n));
        s.workers = int(n);
    }
    s.gil = p.isSet(o.gil);
    const qint64 switchMs = toInt(p.value(o.switchInterval), QStringLiteral("--switch-interval"));
    if (switchMs < 1 || switchMs > 1000)
        usageError(QStringLiteral("--switch-interval must be 1..1000 ms (got %1)").arg(switchMs));
    s.switchIntervalMs = int(switchMs);
    const qint64 chunk = toInt(p.value(o.chunk), QStringLiteral("--chunk"));
    if (chunk < 1 || chunk > 1'000'000)
        usageError(QStringLiteral("--chunk must be 1..1000000 (got %1)").arg(chunk));
    s.chunk = int(chunk);
    if (p.isSet(o.timeout)) {
        bool ok = false;
        const double t = p.value(o.timeout).toDouble(&ok);
        if (!ok)
            usageError(
                QStringLiteral("--timeout needs seconds (got '%1')").arg(p.value(o.timeout)));
        s.timeoutS = t;
    }
    // An export needs a name, and an option is not one: `--trace --quiet`
    // would otherwise write a file called "--quiet".
    for (const QCommandLineOption* opt : {&o.trace, &o.csv}) {
        if (!p.isSet(*opt))
            continue;
        const QString name = QStringLiteral("--") + opt->names().constFirst();
        const QString v = p.value(*opt);
        if (v.isEmpty())
            usageError(QStringLiteral("%1 needs a file name").arg(name));
        if (v.startsWith(QLatin1Char('-')))
            usageError(QStringLiteral("%1 needs a file name (got the option '%2'; for a file of "
                                      "that name, write ./%2)")
                           .arg(name, v));
    }
    s.tracePath = p.value(o.trace);
    s.csvPath = p.value(o.csv);
    if (p.isSet(o.sample)) {
        const qint64 n = toInt(p.value(o.sample), QStringLiteral("--sample"));
        if (n < 1 || n > 1'000'000'000)
            usageError(QStringLiteral("--sample must be 1..1000000000 (got %1)").arg(n));
        s.sample = quint64(n);
    }
    if (p.isSet(o.recordLimit)) {
        const qint64 n = toInt(p.value(o.recordLimit), QStringLiteral("--record-limit"));
        if (n < 1 || n > qint64(RunRecord::kMaxLimit))
            usageError(QStringLiteral("--record-limit must be 1..%1 (got %2)")
                           .arg(RunRecord::kMaxLimit)
                           .arg(n));
        s.recordLimit = quint64(n);
    }
    if (forSweep)
        s.workers = 1; // validated per size below
    const QString why = validate(s);
    if (!why.isEmpty())
        usageError(why);
    return s;
}

int cmdList(bool json)
{
    QTextStream out(stdout);
    QJsonArray arr;
    for (const Workload& w : Workloads::all()) {
        if (json) {
            QJsonObject o{{QStringLiteral("name"), w.name},
                          {QStringLiteral("description"), w.description},
                          {QStringLiteral("kind"), w.kind},
                          {QStringLiteral("default_tasks"), w.defaultTasks},
                          {QStringLiteral("max_tasks"), w.maxTasks},
                          {QStringLiteral("size_unit"), w.sizeUnit},
                          {QStringLiteral("default_size"), w.defaultSize},
                          {QStringLiteral("min_size"), w.minSize},
                          {QStringLiteral("max_size"), w.maxSize},
                          {QStringLiteral("process_only"), w.processOnly},
                          {QStringLiteral("releases_gil"), w.releasesGil}};
            QJsonArray knobs;
            for (const auto& k : w.knobs)
                knobs.append(QJsonObject{{QStringLiteral("name"), k.name},
                                         {QStringLiteral("description"), k.description},
                                         {QStringLiteral("default"), k.defaultValue},
                                         {QStringLiteral("min"), k.minimum},
                                         {QStringLiteral("max"), k.maximum}});
            o.insert(QStringLiteral("knobs"), knobs);
            arr.append(o);
            continue;
        }
        out << w.name << "  [" << w.kind << (w.processOnly ? ", process pool only" : "")
            << (w.releasesGil ? ", releases the GIL" : "") << "]\n"
            << "    " << w.description << "\n"
            << "    --tasks " << w.defaultTasks << " (1.." << w.maxTasks << ")  --size "
            << w.defaultSize << " " << w.sizeUnit << " (" << w.minSize << ".." << w.maxSize
            << ")\n";
        for (const auto& k : w.knobs)
            out << "    --knob " << k.name << "=" << k.defaultValue << " (" << k.minimum << ".."
                << k.maximum << ")  " << k.description << "\n";
    }
    if (json)
        out << QJsonDocument(arr).toJson(QJsonDocument::Compact) << "\n";
    return 0;
}

Progress progressMode(bool quiet)
{
    if (quiet)
        return Progress::None;
    return ::isatty(STDERR_FILENO) ? Progress::Tty : Progress::Lines;
}

int cmdRun(const Scenario& s, bool json, bool quiet)
{
    QString exportError;
    Summary sum;
    try {
        sum = runScenario(s, progressMode(quiet), &g_interrupted, &exportError);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "poolscope-cli: %s\n", e.what());
        return kExitFailed;
    }
    if (json) {
        std::printf("%s\n", QJsonDocument(sum.toJson()).toJson(QJsonDocument::Compact).constData());
    } else {
        std::printf("%s", qPrintable(sum.toText()));
    }
    std::fflush(stdout); // before MPI_Finalize, which a dying job can cut short
    if (!exportError.isEmpty()) {
        std::fprintf(stderr, "poolscope-cli: %s\n", qPrintable(exportError));
        return kExitFailed;
    }
    if (sum.interrupted)
        return exitInterrupted();
    return (sum.failed == 0 && sum.cancelled == 0) ? 0 : kExitFailed;
}

int cmdSweep(Scenario s, const QList<int>& sizes, bool json, bool quiet)
{
    for (int n : sizes) {
        if (n < 1 || n > Executor::maxWorkersLimit())
            usageError(QStringLiteral("--workers must be between 1 and %1 (got %2)")
                           .arg(Executor::maxWorkersLimit())
                           .arg(n));
    }
    QList<Summary> rows;
    double base = 0;
    QList<SpeedupPoint> pts;
    bool interrupted = false;
    int cutShort = 0; // the size whose run Ctrl-C stopped (left out); 0 = between runs
    for (int n : sizes) {
        if (g_interrupted.load()) {
            interrupted = true;
            break;
        }
        s.workers = n;
        QString exportError;
        Summary sum;
        try {
            sum = runScenario(s, Progress::None, &g_interrupted, &exportError);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "poolscope-cli: %s\n", e.what());
            return kExitFailed;
        }
        const bool complete = sum.failed == 0 && sum.cancelled == 0;
        if (sum.interrupted && !complete) {
            // Ctrl-C stopped this size part-way: its wall time is no
            // measurement. Keep the sizes before it and report those.
            interrupted = true;
            cutShort = n;
            break;
        }
        if (!complete) {
            // A speedup of a run that did not complete means nothing.
            std::fprintf(stderr,
                         "poolscope-cli: the run with %d worker(s) did not complete "
                         "(%lld failed, %lld cancelled)%s%s\n",
                         n, static_cast<long long>(sum.failed),
                         static_cast<long long>(sum.cancelled), sum.failures.isEmpty() ? "" : ": ",
                         sum.failures.isEmpty() ? "" : qPrintable(sum.failures.first()));
            return kExitFailed;
        }
        if (n == sizes.first())
            base = sum.wallS; // one worker: speedups are relative to it
        rows.append(sum);
        pts.append({n, base / sum.wallS});
        if (!quiet && !json)
            std::fprintf(stderr, "  %d worker(s): %.3f s\n", n, sum.wallS);
        if (sum.interrupted) { // Ctrl-C came as the last task finished: keep it, stop here
            interrupted = true;
            break;
        }
    }
    const double serial = fitSerialFraction(pts);
    QStringList notRun;
    for (int n : sizes.mid(rows.size() + (cutShort ? 1 : 0)))
        notRun << QString::number(n);
    const QString interruptNote =
        !interrupted ? QString()
        : cutShort
            ? QStringLiteral("interrupted (Ctrl-C) during the run with %1 worker(s), which is left "
                             "out; %2 of %3 sizes measured%4")
                  .arg(cutShort)
                  .arg(rows.size())
                  .arg(sizes.size())
                  .arg(notRun.isEmpty() ? QString()
                                        : QStringLiteral(", not run: ") + notRun.join(u", "))
            : QStringLiteral("interrupted (Ctrl-C); %1 of %2 sizes measured%3")
                  .arg(rows.size())
                  .arg(sizes.size())
                  .arg(notRun.isEmpty() ? QString()
                                        : QStringLiteral(", not run: ") + notRun.join(u", "));
    const int code = interrupted ? exitInterrupted() : 0;
    if (json) {
        QJsonArray arr;
        for (int i = 0; i < rows.size(); ++i) {
            QJsonObject o = rows[i].toJson();
            o.insert(QStringLiteral("speedup"), pts[i].speedup);
            o.insert(QStringLiteral("efficiency"), pts[i].speedup / pts[i].workers);
            if (serial >= 0)
                o.insert(QStringLiteral("amdahl_speedup"), amdahlSpeedup(serial, pts[i].workers));
            arr.append(o);
        }
        QJsonObject top{{QStringLiteral("workload"), s.workload},
                        {QStringLiteral("pool"), s.pool},
                        {QStringLiteral("gil"), s.gil},
                        {QStringLiteral("serial_fraction"), serial},
                        {QStringLiteral("interrupted"), interrupted},
                        {QStringLiteral("rows"), arr}};
        if (interrupted)
            top.insert(QStringLiteral("interrupted_note"), interruptNote);
        std::printf("%s\n", QJsonDocument(top).toJson(QJsonDocument::Compact).constData());
        return code;
    }
    std::printf("sweep %s on %s%s, %d tasks x size %lld\n", qPrintable(s.workload),
                qPrintable(s.pool), s.gil ? " with the simulated GIL" : "", s.run.tasks,
                static_cast<long long>(s.run.size));
    std::printf("%8s %10s %9s %11s %9s\n", "workers", "wall_s", "speedup", "efficiency", "amdahl");
    for (int i = 0; i < rows.size(); ++i) {
        const double pred = serial >= 0 ? amdahlSpeedup(serial, pts[i].workers) : pts[i].speedup;
        std::printf("%8d %10.3f %8.2fx %10.0f%% %8.2fx\n", pts[i].workers, rows[i].wallS,
                    pts[i].speedup, 100.0 * pts[i].speedup / pts[i].workers, pred);
    }
    if (serial >= 0)
        std::printf("serial fraction (Amdahl fit): %.3f  -> max speedup %.1fx\n", serial,
                    serial > 0 ? 1.0 / serial : INFINITY);
    else if (interrupted)
        std::printf("serial fraction: not fitted, the sweep was interrupted with %lld size(s) "
                    "measured (it needs 1 worker and at least one size above it)\n",
                    static_cast<long long>(rows.size()));
    else
        std::printf("serial fraction: needs at least one size above 1 worker\n");
    for (int i = 0; i < rows.size(); ++i) {
        if (const QString busy = rows[i].machineBusyNote(); !busy.isEmpty())
            std::printf("machine busy with %d worker(s): %s\n", pts[i].workers, qPrintable(busy));
    }
    if (interrupted)
        std::printf("%s\n", qPrintable(interruptNote));
    return code;
}

#ifdef POOLSCOPE_HAVE_MPI
/// --pool mpi anywhere on the command line (the MPI environment must exist
/// before QCoreApplication and before any thread).
bool wantsMpi(int argc, char** argv)
{
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--pool=mpi") == 0
            || (std::strcmp(argv[i], "--pool") == 0 && i + 1 < argc
                && std::strcmp(argv[i + 1], "mpi") == 0))
            return true;
    }
    return false;
}

/// Open MPI ends the whole job when one rank dies. Its mpirun (4.1) sends
/// every other rank SIGCONT, then SIGTERM one second later, then SIGKILL a
/// millisecond or two after that: far too soon to report anything on a
/// loaded machine. So the master reports on SIGCONT, the first step, and
/// SIGTERM only ends it; the user learns what did and did not run.
/// (With mpirun's orte_forward_job_control, off by default, resuming a
/// stopped job also sends SIGCONT; the report then is an early one, nothing
/// more.)
void reportOnJobAbort()
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    // Blocking SIGCONT only defers its handler: the kernel still resumes a
    // stopped process when it is sent.
    sigaddset(&set, SIGCONT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr); // inherited by every thread started later
    std::thread([set] {
        // The pool polls its ranks every 100 ms: by then it has seen the
        // death, and the report names the task the dead rank held. mpirun's
        // SIGTERM comes 1 s after its SIGCONT.
        constexpr timespec kSettle{0, 300'000'000};
        bool warned = false; // reported on SIGCONT already
        QString lastReport;
        for (;;) {
            int sig = 0;
            if (sigwait(&set, &sig) != 0)
                return;
            if (sig == SIGCONT) {
                if (warned)
                    continue;
                sigset_t term;
                sigemptyset(&term);
                sigaddset(&term, SIGTERM);
                if (sigtimedwait(&term, nullptr, &kSettle) == SIGTERM)
                    sig = SIGTERM;
            }
            const QString report = liveRunReport();
            if (sig == SIGCONT)
                std::fprintf(stderr,
                             "poolscope-cli: the MPI runtime is ending the job (mpirun sent "
                             "SIGCONT, its first step before SIGTERM), usually because another "
                             "rank died; run it with --enable-recovery to keep going without "
                             "that rank\n");
            else if (!warned)
                std::fprintf(stderr,
                             "poolscope-cli: terminated (SIGTERM) by the MPI runtime, usually "
                             "because another rank died (mpirun aborts the whole job; run it "
                             "with --enable-recovery to keep going without that rank)\n");
            else
                std::fprintf(stderr, "poolscope-cli: terminated (SIGTERM) by the MPI runtime\n");
            if (!report.isEmpty() && report != lastReport)
                std::fprintf(stderr, "poolscope-cli: %s\n", qPrintable(report));
            std::fflush(stderr);
            // A summary already printed may still sit in stdout's buffer (a
            // pipe is fully buffered); this is a normal thread, so flushing
            // is safe.
            std::fflush(stdout);
            if (sig == SIGTERM)
                ::_exit(1);
            warned = true;
            lastReport = report;
        }
    }).detach();
}
#endif

TopOptions topOptionsFrom(const QCommandLineParser& p, const Options& o)
{
    TopOptions t;
    t.target = p.value(o.attach);
    if (p.isSet(o.pool))
        t.pool = p.value(o.pool);
    auto number = [&](const QCommandLineOption& opt, int min, int max, int def) {
        if (!p.isSet(opt))
            return def;
        bool ok = false;
        const int v = p.value(opt).toInt(&ok);
        if (!ok || v < min || v > max)
            usageError(QStringLiteral("--%1 must be a number from %2 to %3 (got '%4')")
                           .arg(opt.names().first())
                           .arg(min)
                           .arg(max)
                           .arg(p.value(opt)));
        return v;
    };
    t.intervalMs = number(o.interval, 50, 60'000, 500);
    t.iterations = number(o.iterations, 1, 1'000'000, 0);
    t.waitMs = number(o.wait, 0, 3'600'000, 0);
    t.plain = p.isSet(o.plain);
    t.json = p.isSet(o.json);
    return t;
}

} // namespace

int main(int argc, char** argv)
{
    // The process pool may spawn this very program as its worker.
    if (isWorkerInvocation(argc, argv))
        return runWorker(argc, argv);
#ifdef POOLSCOPE_HAVE_MPI
    std::unique_ptr<mpi::Environment> mpiEnv;
    if (wantsMpi(argc, argv)) {
        // Only under mpirun (a lone master forks Open MPI's daemon at
        // MPI_Init, and a blocked SIGTERM would be inherited by it), and only
        // on rank 0, the master: a worker rank has no run to report, and its
        // empty "terminated" line read as the master's.
        if (qEnvironmentVariableIsSet("OMPI_COMM_WORLD_SIZE")
            && qEnvironmentVariableIntValue("OMPI_COMM_WORLD_RANK") == 0)
            reportOnJobAbort();
        try {
            mpiEnv = std::make_unique<mpi::Environment>(&argc, &argv);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "poolscope-cli: %s\n", e.what());
            return kExitFailed;
        }
        if (mpiEnv->isWorker()) // ranks 1..N-1 of `mpirun -n N poolscope-cli ...`
            return mpiEnv->runWorker();
    }
#endif
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("poolscope-cli"));
    QCoreApplication::setApplicationVersion(QStringLiteral(PROJECT_VERSION));

    QCommandLineParser p;
    p.setApplicationDescription(QStringLiteral(
        "Run PoolScope workloads on a thread or process pool from a terminal.\n\n"
        "Commands:\n"
        "  list                 workloads, their parameters and limits\n"
        "  run --workload NAME  run one scenario and print a summary\n"
        "  sweep --workload NAME --workers 1..N\n"
        "                       run the same batch at each pool size; speedup, efficiency\n"
        "                       and the serial fraction fitted with Amdahl's law\n"
        "  demo                 primes on the thread pool (same as run --workload primes)\n"
        "  top [--attach PID|NAME] [--pool ID|NAME]\n"
        "                       live view of the pools another program publishes (a Python\n"
        "                       script under python3 -m poolscope_probe, a C++ program that\n"
        "                       calls poolscope::publish(); docs/attach.md); q or Ctrl-C quits\n"
        "  publishers           the programs of this user that publish their pools\n\n"
        "Exit codes:\n"
        "  0    every task succeeded\n"
        "  1    some tasks failed or were cancelled (the summary says which), or an\n"
        "       export could not be written\n"
        "  2    bad usage (one line on stderr, nothing run)\n"
        "  130  stopped by Ctrl-C: run prints the summary and writes the exports of what\n"
        "       ran; sweep prints the sizes measured before it (a second Ctrl-C ends at once)\n"
        "  143  stopped by SIGTERM, 129 by SIGHUP (the terminal closed): as for Ctrl-C"));
    p.addHelpOption();
    p.addVersionOption();
    p.addPositionalArgument(QStringLiteral("command"),
                            QStringLiteral("list | run | sweep | demo | top | publishers"));
    Options o;
    p.addOptions({o.workload,   o.tasks,          o.size,  o.knob,    o.pool,   o.workers,
                  o.gil,        o.switchInterval, o.chunk, o.timeout, o.trace,  o.csv,
                  o.sample,     o.recordLimit,    o.json,  o.quiet,   o.attach, o.interval,
                  o.iterations, o.plain,          o.wait});
    if (!p.parse(QCoreApplication::arguments()))
        usageError(p.errorText());
    if (p.isSet(QStringLiteral("help")))
        p.showHelp(0);
    if (p.isSet(QStringLiteral("version")))
        p.showVersion();
    const QStringList pos = p.positionalArguments();
    if (pos.size() != 1)
        usageError(QStringLiteral(
            "give one command: list, run, sweep, demo, top or publishers (see --help)"));
    const QString cmd = pos.first();
    for (int sig : {SIGINT, SIGTERM, SIGHUP})
        std::signal(sig, onStopSignal);
    if (cmd == QLatin1String("list"))
        return cmdList(p.isSet(o.json));
    if (cmd == QLatin1String("publishers"))
        return cmdPublishers(p.isSet(o.json));
    if (cmd == QLatin1String("top"))
        return cmdTop(topOptionsFrom(p, o), g_interrupted);
    if (cmd == QLatin1String("run") || cmd == QLatin1String("demo")) {
        const QString def = cmd == QLatin1String("demo") ? QStringLiteral("primes") : QString();
        return cmdRun(scenarioFrom(p, o, false, def), p.isSet(o.json), p.isSet(o.quiet));
    }
    if (cmd == QLatin1String("sweep")) {
        if (!p.isSet(o.workers))
            usageError(QStringLiteral("sweep needs --workers, e.g. --workers 1..4"));
        const QList<int> sizes = parseWorkerList(p.value(o.workers));
        if (sizes.first() != 1)
            usageError(QStringLiteral("a sweep starts at 1 worker (speedups are relative to "
                                      "it), e.g. --workers 1..4"));
        Scenario s = scenarioFrom(p, o, true);
        if (!s.tracePath.isEmpty() || !s.csvPath.isEmpty())
            usageError(QStringLiteral("sweep writes no trace or CSV; use run for that"));
        if (p.isSet(o.sample) || p.isSet(o.recordLimit))
            usageError(QStringLiteral("sweep records no tasks (--sample, --record-limit); use "
                                      "run for that"));
        return cmdSweep(s, sizes, p.isSet(o.json), p.isSet(o.quiet));
    }
    usageError(
        QStringLiteral("unknown command '%1' (use list, run, sweep, demo, top or publishers)")
            .arg(cmd));
}
