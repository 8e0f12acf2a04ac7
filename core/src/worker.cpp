#include "poolscope/worker.h"
#include "taskgates.h"

#include "poolscope/deadline.h"
#include "poolscope/protocol.h"
#include "poolscope/registry.h"
#include "poolscope/telemetry.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <mutex>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <system_error>
#include <thread>
#include <time.h>
#include <unistd.h>
#include <utility>

namespace poolscope {

bool isWorkerInvocation(int argc, char** argv)
{
    // Only as the first argument, where the pools put it: given anywhere
    // else it is some option's value (`poolscope-cli run --trace
    // --poolscope-worker`), and the program must not turn into a protocol
    // worker waiting on stdin.
    return argc > 1 && std::strcmp(argv[1], kWorkerFlag) == 0;
}

namespace {

using protocol::Message;
using protocol::MsgType;

qint64 threadCpuNs()
{
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return qint64(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

/// The worker's resident set size after each task (for maxRssBytes). Keeps
/// /proc/self/statm open and re-reads it with one pread(): the kernel
/// regenerates the text on every read from offset 0. Opening the file per
/// task cost more than a trivial task itself.
class RssReader {
public:
    RssReader()
        : m_fd(::open("/proc/self/statm", O_RDONLY | O_CLOEXEC))
        , m_page(sysconf(_SC_PAGESIZE))
    {}
    ~RssReader()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }
    RssReader(const RssReader&) = delete;
    RssReader& operator=(const RssReader&) = delete;

    qint64 bytes() const
    {
        if (m_fd < 0)
            return -1;
        char buf[128];
        const ssize_t n = ::pread(m_fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
            return -1;
        buf[n] = 0;
        char* end = nullptr;
        std::strtoll(buf, &end, 10); // size
        const char* rest = end;
        const long long resident = std::strtoll(rest, &end, 10);
        return end == rest ? -1 : qint64(resident) * m_page;
    }

private:
    int m_fd;
    long m_page;
};

/// The fd pair of a spawned worker: stdin in, a private copy of stdout out.
class PipeTransport final : public WorkerTransport {
public:
    PipeTransport(int in, int out)
        : m_in(in)
        , m_out(out)
    {}

    bool write(const QByteArray& frames) override
    {
        const char* p = frames.constData();
        qsizetype left = frames.size();
        while (left > 0) {
            const ssize_t n = ::write(m_out, p, size_t(left));
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return false;
            }
            p += n;
            left -= n;
        }
        return true;
    }

    Read read(QByteArray* out, bool block) override
    {
        if (!block) {
            pollfd p{m_in, POLLIN, 0};
            const int r = ::poll(&p, 1, 0);
            if (r == 0 || (r < 0 && errno == EINTR))
                return Read::Empty;
            // Readable, hung up or an error: the read below tells which.
        }
        char buf[65536];
        for (;;) {
            const ssize_t n = ::read(m_in, buf, sizeof buf);
            if (n > 0) {
                out->append(buf, n);
                return Read::Data;
            }
            if (n < 0 && errno == EINTR)
                continue;
            return Read::Closed; // EOF or error
        }
    }

private:
    int m_in, m_out;
};

/// Frames over a transport: encodes, validates, and serialises the writers
/// (the loop and the progress reporter).
class Channel {
public:
    explicit Channel(WorkerTransport& t)
        : m_t(t)
    {}

    bool send(const Message& m) { return sendFrames(protocol::encode(m)); }

    /// Writes encoded frames in one go (several frames: one syscall).
    bool sendFrames(const QByteArray& frames)
    {
        std::lock_guard lk(m_writeMutex);
        return m_t.write(frames);
    }

    enum class Wait { Block, Poll, BufferedOnly };

    /// Blocks for the next message; nullopt at EOF or on a protocol error.
    std::optional<Message> receive()
    {
        std::optional<Message> msg;
        while (poll(&msg, Wait::Block) == Poll::Empty) {
        }
        return msg;
    }

    enum class Poll { Message, Empty, Closed };
    /// Like receive() without blocking: Empty when no whole frame is there
    /// yet. BufferedOnly: no read at all, only frames already read.
    Poll tryReceive(std::optional<Message>* msg, Wait wait = Wait::Poll) { return poll(msg, wait); }

private:
    Poll poll(std::optional<Message>* out, Wait wait)
    {
        for (;;) {
            QByteArray payload;
            QString error;
            switch (m_reader.next(&payload, &error)) {
            case protocol::FrameReader::Status::Frame: {
                *out = protocol::decode(payload, /*fromWorker=*/false, &error);
                if (!*out) {
                    std::fprintf(stderr, "poolscope-worker: bad frame from parent: %s\n",
                                 qPrintable(error));
                    return Poll::Closed;
                }
                return Poll::Message;
            }
            case protocol::FrameReader::Status::Error:
                std::fprintf(stderr, "poolscope-worker: %s\n", qPrintable(error));
                return Poll::Closed;
            case protocol::FrameReader::Status::NeedMore:
                break;
            }
            if (wait == Wait::BufferedOnly)
                return Poll::Empty;
            QByteArray bytes;
            switch (m_t.read(&bytes, wait == Wait::Block)) {
            case WorkerTransport::Read::Data:
                m_reader.feed(bytes);
                break;
            case WorkerTransport::Read::Empty:
                return Poll::Empty;
            case WorkerTransport::Read::Closed:
                return Poll::Closed;
            }
        }
    }

    WorkerTransport& m_t;
    std::mutex m_writeMutex;
    protocol::FrameReader m_reader;
};

/// A node only so tasks get a real TaskContext (stop flag, progress).
class LocalNode final : public detail::TaskNode {
public:
    void run(TaskContext&) noexcept override {}
};

Message runTask(const Message& run, detail::WorkerSlot& slot, const RssReader* rss = nullptr)
{
    Message r;
    r.type = MsgType::Result;
    r.id = run.id;
    const auto& reg = TaskRegistry::global();
    const TaskInfo* info = reg.find(run.name);
    LocalNode node;
    node.id = run.id;
    TaskContext ctx(&node, &slot);
    const qint64 cpu0 = threadCpuNs();
    try {
        if (!info)
            throw InvalidArgument(reg.validate(run.name, {}).toStdString());
        auto one = [&](const QCborArray& args) {
            // The registry's lookup by name is done once per message above;
            // only a bad item pays for validate()'s message.
            const bool ok =
                args.size() == info->args.size() && (!info->check || !info->check(args));
            if (!ok)
                throw InvalidArgument(reg.validate(run.name, args).toStdString());
            return info->invoke(ctx, args);
        };
        if (run.batch) {
            QCborArray out;
            for (const auto& item : run.args)
                out.append(one(item.toArray()));
            r.value = out;
        } else {
            r.value = one(run.args);
        }
        r.ok = true;
    } catch (...) {
        r.ok = false;
        const std::string d = describeException(std::current_exception());
        const auto colon = d.find(": ");
        r.errorType =
            QString::fromStdString(colon == std::string::npos ? "exception" : d.substr(0, colon));
        r.errorText = QString::fromStdString(colon == std::string::npos ? d : d.substr(colon + 2));
    }
    r.cpuNs = threadCpuNs() - cpu0;
    r.core = sched_getcpu();
    r.rssBytes = rss ? rss->bytes() : -1;
    return r;
}

/// The runs the parent has sent and this worker has not started, in order,
/// and what else it said. Starting a run (taking it and saying 'started')
/// and giving one back (for a 'skip': removing it and saying 'skipped') both
/// happen under `m`, so the parent hears exactly one of the two per skip.
/// Frames are read by one thread at a time (`readM`): the task loop between
/// tasks, the watcher while a task runs for long.
struct Inbox {
    explicit Inbox(Channel& c)
        : ch(c)
    {}
    Channel& ch;
    std::mutex readM;
    std::mutex m;
    std::deque<Message> runs; // under m
    bool end = false;         // under m: exit, end of input or a bad frame (run what is here)
    bool writeFailed = false; // under m: the parent cannot be told anymore
    int code = 0;             // under m: serveWorker's exit code

    /// Takes in one frame. Under m.
    void applyLocked(std::optional<Message>&& msg, Channel::Poll how)
    {
        if (how == Channel::Poll::Closed) {
            end = true; // stdin closed: the parent is gone or done with us
            return;
        }
        if (msg->type == MsgType::Run) {
            runs.push_back(std::move(*msg));
            return;
        }
        if (msg->type == MsgType::Skip) {
            const auto it = std::find_if(runs.begin(), runs.end(),
                                         [&](const Message& r) { return r.id == msg->id; });
            if (it != runs.end()) {
                runs.erase(it);
                Message skipped;
                skipped.type = MsgType::Skipped;
                skipped.id = msg->id;
                if (!ch.send(skipped))
                    writeFailed = true;
            }
            return; // started already: its 'started' went first, nothing to say
        }
        end = true; // exit: the runs sent before it still run
        if (msg->type != MsgType::Exit) {
            std::fprintf(stderr, "poolscope-worker: unexpected '%s' frame\n",
                         protocol::nameOf(msg->type));
            code = 3;
        }
    }

    /// Reads what the parent has sent until no whole frame is left, or the
    /// end. Holding readM. block: wait for at least one frame first;
    /// readPipe false: only the frames read already (no system call).
    void drain(bool block, bool readPipe = true)
    {
        for (;;) {
            {
                std::lock_guard lk(m);
                if (end)
                    return; // nothing after 'exit' is ours (an MPI rank's next pool)
            }
            std::optional<Message> msg;
            Channel::Poll how;
            if (std::exchange(block, false)) {
                msg = ch.receive();
                how = msg ? Channel::Poll::Message : Channel::Poll::Closed;
            } else {
                how = ch.tryReceive(&msg,
                                    readPipe ? Channel::Wait::Poll : Channel::Wait::BufferedOnly);
            }
            if (how == Channel::Poll::Empty)
                return;
            std::lock_guard lk(m);
            applyLocked(std::move(msg), how);
        }
    }
};

/// Sends throttled progress frames for the running task (at most 20/s), and
/// reads the parent's frames while a task runs past one 10 ms look, so that
/// a 'skip' for a run waiting here is answered within 10-20 ms (the parent
/// gives it to an idle worker), not after the running task. Short tasks
/// never see it: the task loop reads between tasks.
class ProgressReporter {
public:
    ProgressReporter(Channel& ch, detail::WorkerSlot& slot, Inbox& inbox)
        : m_ch(ch)
        , m_slot(slot)
        , m_inbox(inbox)
    {
        // A worker the system gives no second thread (`ulimit -u`) still
        // runs its tasks: without progress frames, and reading skips only
        // between tasks (it used to end in std::terminate; issue #17).
        try {
            m_thread = std::thread([this] { loop(); });
        } catch (const std::system_error& e) {
            qWarning("poolscope-worker: cannot start the progress thread (%s): tasks run without "
                     "progress reports",
                     e.what());
        }
    }
    ~ProgressReporter()
    {
        {
            std::lock_guard lk(m_m);
            m_stop = true;
        }
        m_cv.notify_all();
        if (m_thread.joinable())
            m_thread.join();
    }

private:
    void loop()
    {
        qint64 lastValue = -2;
        quint64 lastTask = 0;
        quint64 seenTask = 0;
        qint64 lastSent = 0;
        std::unique_lock lk(m_m);
        while (!m_stop) {
            m_cv.wait_for(lk, std::chrono::milliseconds(kLookMs));
            const quint64 task = m_slot.currentTask.load(std::memory_order_acquire);
            if (task != 0 && task == seenTask) {
                std::unique_lock rl(m_inbox.readM, std::try_to_lock);
                if (rl.owns_lock())
                    m_inbox.drain(/*block=*/false, /*readPipe=*/true);
            }
            seenTask = task;
            const qint64 now = monotonicNs();
            if (now - lastSent < kProgressMs * 1'000'000)
                continue;
            const qint64 v = m_slot.progressValue.load(std::memory_order_relaxed);
            const qint64 mx = m_slot.progressMax.load(std::memory_order_relaxed);
            if (task == 0 || v < 0 || (task == lastTask && v == lastValue))
                continue;
            lastTask = task;
            lastValue = v;
            Message m;
            m.type = MsgType::Progress;
            m.id = task;
            m.progressValue = v;
            m.progressMax = mx;
            m_ch.send(m);
            lastSent = now;
        }
    }
    static constexpr int kLookMs = 10, kProgressMs = 50;
    Channel& m_ch;
    detail::WorkerSlot& m_slot;
    Inbox& m_inbox;
    std::mutex m_m;
    std::condition_variable m_cv;
    bool m_stop = false;
    std::thread m_thread;
};

} // namespace

int runWorker(int /*argc*/, char** /*argv*/)
{
    // Die with the parent. A worker busy in a long task never reads stdin, so
    // it would not notice a parent that crashed or was killed (kill -9, a
    // sanitizer abort) and would run on as an orphan, e.g. spinning a core
    // for ever (tst_shutdown_bounds workersDieWithTheirParent). The signal is
    // tied to the parent *thread* that spawned us: the pool's supervisor
    // thread, which outlives every worker it starts. If the parent is already
    // gone, the hello read below sees EOF and we leave anyway.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Ctrl-C in a terminal, and the terminal closing, signal the whole
    // foreground process group, workers included. Their parent decides what
    // that means (the CLI cancels what is pending and stops what runs, and
    // counts them so); dying here made every running task a "crash".
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGHUP, SIG_IGN);

    // Keep the protocol on a private copy of stdout; tasks' prints go to stderr.
    const int out = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    if (out < 0 || ::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        std::perror("poolscope-worker: cannot set up the protocol pipe");
        return 3;
    }
    PipeTransport pipes(STDIN_FILENO, out);
    return serveWorker(pipes);
}

/// The result's frame; a result too big to encode in the memory left
/// (a huge pipeline item under ulimit -v) goes back as the task's failure
/// instead of ending the worker with std::bad_alloc (issue #17).
static QByteArray encodeResult(const Message& result)
{
    try {
        return protocol::encode(result);
    } catch (const std::bad_alloc&) {
        Message failed;
        failed.type = MsgType::Result;
        failed.id = result.id;
        failed.ok = false;
        failed.errorType = QStringLiteral("std::bad_alloc");
        failed.errorText = QStringLiteral("out of memory (the limit on memory, ulimit -v, or the "
                                          "machine's) while sending the task's result");
        failed.cpuNs = result.cpuNs;
        failed.core = result.core;
        failed.rssBytes = result.rssBytes;
        return protocol::encode(failed);
    }
}

int serveWorker(WorkerTransport& transport)
{
    Channel ch(transport);
    detail::WorkerSlot slot(0);

    auto hello = ch.receive();
    if (!hello || hello->type != MsgType::Hello) {
        std::fprintf(stderr, "poolscope-worker: expected a hello frame from the parent\n");
        return 3;
    }
    if (hello->hasInit) {
        Message init;
        init.type = MsgType::Run;
        init.id = 1;
        init.name = hello->name;
        init.args = hello->args;
        const Message r = runTask(init, slot);
        if (!r.ok) {
            Message f;
            f.type = MsgType::InitFailed;
            f.errorType = r.errorType;
            f.errorText = r.errorText;
            ch.send(f);
            return 4;
        }
    }
    Message ready;
    ready.type = MsgType::Ready;
    ready.pid = qint64(::getpid());
    // The parent's start/cancel words (taskgates.h). Without them (an
    // unusable fd) the worker still serves, and the parent writes its
    // tasks ahead without gates.
    detail::GateView gates;
    if (hello->gatesFd >= 0) {
        QString why;
        if (gates.map(hello->gatesFd, hello->gatesCount, &why))
            ready.gatesMapped = true;
        else
            std::fprintf(stderr, "poolscope-worker: no task gates (%s)\n", qPrintable(why));
    }
    if (!ch.send(ready))
        return 3;

    Inbox inbox(ch);
    ProgressReporter reporter(ch, slot, inbox);
    const RssReader rss;
    // A task's result is held back only while we look (without blocking)
    // for the next run already sent: its 'started' frame then goes out in
    // the same write, one syscall (and one wake-up of the parent) per task
    // instead of two. 'started' always leaves before its task runs, and what
    // was sent before it is read first, as a 'skip' for it may be there:
    // every frame read already, and the pipe itself when kSkipLookNs have
    // passed since the last look (a look is a system call, 15 % of a
    // trivial task's cost; a run started in that window despite its 'skip'
    // is one the parent handles as a skip that came too late).
    constexpr qint64 kSkipLookNs = 100'000;
    QByteArray pending;
    qint64 lastLook = 0;
    for (;;) {
        {
            std::lock_guard rl(inbox.readM);
            const qint64 now = monotonicNs();
            const bool look = now - lastLook >= kSkipLookNs;
            if (look)
                lastLook = now;
            inbox.drain(/*block=*/false, look);
            bool wait;
            {
                std::lock_guard lk(inbox.m);
                wait = inbox.runs.empty() && !inbox.end;
                if (wait && !pending.isEmpty()) {
                    if (!ch.sendFrames(pending))
                        inbox.writeFailed = true;
                    pending.clear();
                }
            }
            if (wait) {
                inbox.drain(/*block=*/true);
                lastLook = monotonicNs();
            }
        }
        std::unique_lock lk(inbox.m);
        if (inbox.writeFailed)
            return 3;
        if (inbox.runs.empty()) {
            if (!inbox.end)
                continue; // only a 'skip' for a run started already: wait on
            if (!ch.sendFrames(pending))
                return 3;
            return inbox.code;
        }
        const Message run = std::move(inbox.runs.front());
        inbox.runs.pop_front();
        if (run.gate >= 0
            && gates.claim(quint32(run.gate), run.id) == detail::GateView::Claim::Skip) {
            // The parent's cancel() won this task's word: never run it.
            Message skipped;
            skipped.type = MsgType::Skipped;
            skipped.id = run.id;
            pending += protocol::encode(skipped);
            continue;
        }
        Message started;
        started.type = MsgType::Started;
        started.id = run.id;
        started.core = sched_getcpu();
        pending += protocol::encode(started);
        if (!ch.sendFrames(pending))
            return 3;
        pending.clear();
        lk.unlock();
        slot.progressValue.store(-1, std::memory_order_relaxed);
        slot.currentTask.store(run.id, std::memory_order_release);
        const Message result = runTask(run, slot, &rss);
        slot.currentTask.store(0, std::memory_order_release);
        pending = encodeResult(result);
    }
}

} // namespace poolscope
