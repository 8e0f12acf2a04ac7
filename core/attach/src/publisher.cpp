// The publishing side of attach (docs/attach.md): one QLocalServer per
// process on a thread of its own, one Monitor per watched pool on that
// thread, snapshots sent to each viewer at the pool's interval with a
// bounded output buffer per viewer.

#include "attachinternal.h"
#include "attachprotocol.h"

#include <poolscope/errors.h>
#include <poolscope/monitor.h>
#include <poolscope/protocol.h>

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QLocalServer>
#include <QLocalSocket>
#include <QPointer>
#include <QSet>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

// Ordering that Qt provides with synchronisation inside libQt6Core, told to
// ThreadSanitizer where the publisher relies on it (no-ops in other builds;
// the same as core/src/processpool.cpp).
#if defined(__SANITIZE_THREAD__) || (defined(__has_feature) && __has_feature(thread_sanitizer))
#include <sanitizer/tsan_interface.h>
#define POOLSCOPE_TSAN_RELEASE(addr) __tsan_release(addr)
#define POOLSCOPE_TSAN_ACQUIRE(addr) __tsan_acquire(addr)
#else
#define POOLSCOPE_TSAN_RELEASE(addr) (void)(addr)
#define POOLSCOPE_TSAN_ACQUIRE(addr) (void)(addr)
#endif

#ifndef POOLSCOPE_VERSION
#define POOLSCOPE_VERSION "?"
#endif

namespace poolscope {

// ------------------------------------------------------------ small pieces

namespace attachdetail {

bool peerAllowed(qint64 peerUid, qint64 ownUid, QString* why)
{
    if (peerUid >= 0 && peerUid == ownUid)
        return true;
    if (why) {
        *why = peerUid < 0
                   ? QStringLiteral("refused: the viewer's user could not be read (SO_PEERCRED); "
                                    "only the user %1 may attach to this program")
                         .arg(ownUid)
                   : QStringLiteral("refused: the viewer runs as uid %1 and this program as uid "
                                    "%2; only the same user may attach")
                         .arg(peerUid)
                         .arg(ownUid);
    }
    return false;
}

qint64 peerUid(qintptr fd)
{
    struct ucred cred {};
    socklen_t len = sizeof cred;
    if (fd < 0 || ::getsockopt(int(fd), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return -1;
    return qint64(cred.uid);
}

bool checkDirectory(const QString& path, bool create, QString* error)
{
    auto fail = [&](const QString& why) {
        if (error)
            *error = why;
        return false;
    };
    const QByteArray p = QFile::encodeName(path);
    struct stat st {};
    if (::lstat(p.constData(), &st) != 0) {
        if (errno != ENOENT || !create)
            return fail(QStringLiteral("attach directory %1: %2")
                            .arg(path, QString::fromLocal8Bit(std::strerror(errno))));
        const QFileInfo fi(path);
        QDir().mkpath(fi.absolutePath());
        if (::mkdir(p.constData(), 0700) != 0 && errno != EEXIST)
            return fail(QStringLiteral("cannot create the attach directory %1: %2")
                            .arg(path, QString::fromLocal8Bit(std::strerror(errno))));
        if (::lstat(p.constData(), &st) != 0)
            return fail(QStringLiteral("attach directory %1: %2")
                            .arg(path, QString::fromLocal8Bit(std::strerror(errno))));
    }
    if (!S_ISDIR(st.st_mode))
        return fail(QStringLiteral("unsafe attach directory %1: it is not a directory (or it is "
                                   "a symbolic link); remove it or set POOLSCOPE_ATTACH_DIR")
                        .arg(path));
    if (st.st_uid != ::getuid())
        return fail(QStringLiteral("unsafe attach directory %1: it is owned by uid %2, not by you "
                                   "(uid %3); remove it or set POOLSCOPE_ATTACH_DIR")
                        .arg(path)
                        .arg(st.st_uid)
                        .arg(::getuid()));
    if ((st.st_mode & 077) != 0)
        return fail(QStringLiteral("unsafe attach directory %1: mode %2 lets other users in; make "
                                   "it private (chmod 700 %1)")
                        .arg(path)
                        .arg(QString::number(st.st_mode & 07777, 8).rightJustified(4, u'0')));
    return true;
}

QString programName()
{
    const QString exe = QFileInfo(QStringLiteral("/proc/self/exe")).symLinkTarget();
    if (!exe.isEmpty())
        return QFileInfo(exe).fileName();
    QFile comm(QStringLiteral("/proc/self/comm"));
    if (comm.open(QIODevice::ReadOnly))
        return QString::fromLocal8Bit(comm.readAll()).trimmed();
    return QStringLiteral("program");
}

namespace {
std::atomic<qint64> g_peakQueued{0};
std::atomic<int> g_watchedPools{0}; // pools with a Monitor of the publisher attached
void notePeak(qint64 bytes)
{
    qint64 cur = g_peakQueued.load(std::memory_order_relaxed);
    while (bytes > cur && !g_peakQueued.compare_exchange_weak(cur, bytes)) {
    }
}
} // namespace

qint64 publisherPeakQueuedBytes()
{
    return g_peakQueued.load();
}
void resetPublisherPeak()
{
    g_peakQueued.store(0);
}
int publisherWatchedPools()
{
    return g_watchedPools.load();
}

} // namespace attachdetail

QString attach::socketDirectory(QString* error)
{
    QString dir = qEnvironmentVariable("POOLSCOPE_ATTACH_DIR");
    if (dir.isEmpty()) {
        const QString xdg = qEnvironmentVariable("XDG_RUNTIME_DIR");
        dir = !xdg.isEmpty() ? xdg + QStringLiteral("/poolscope")
                             : QStringLiteral("/tmp/poolscope-%1").arg(::getuid());
    }
    dir = QDir::cleanPath(QDir(dir).absolutePath());
    if (!attachdetail::checkDirectory(dir, true, error))
        return {};
    return dir;
}

// ------------------------------------------------------------ the server

namespace {

// How often a watched pool with a row budget has its rate checked (counters only).
constexpr int kBudgetCheckMs = 20;

using namespace attachproto;

QString cut(QString s)
{
    if (s.size() > attachdetail::kMaxTextChars) {
        s.truncate(attachdetail::kMaxTextChars - 1);
        s.append(QChar(0x2026));
    }
    return s;
}

struct Viewer {
    QLocalSocket* socket = nullptr;
    protocol::FrameReader reader{kPublisherMaxFrame};
    QSet<quint32> namesSent;
    struct Watching {
        quint64 lost = 0;
        bool fresh = true;
        quint64 skippedBase = 0; // the pool's skipped count when this viewer came
    };
    std::map<quint64, Watching> watching;
    bool closing = false;
};

struct PoolEntry {
    Executor* executor = nullptr;
    PoolInfo info;
    PublishOptions options;
    std::unique_ptr<Monitor> monitor;
    std::unique_ptr<QTimer> timer;
    std::unique_ptr<QTimer> budgetTimer; // checkRowBudget(), while watched with a budget
    std::shared_ptr<RunRecord> cursorRecord;
    quint64 cursorRow = 0;
    quint64 cursorGeneration = 0;
    quint64 recordLost = 0; // of cursorRecord, already counted
    // The row budget (PublishOptions::maxRowsPerSecond): while the pool
    // finishes more tasks a second, it is not recorded; each second it is
    // tried again for one interval. skipped = tasks finished since the
    // watch began that never became a row (rows sent and rows lost
    // subtracted), so it is exact once the pool is quiet.
    bool recording = true;
    qint64 offSinceNs = 0;
    qint64 lastTickNs = 0;
    quint64 lastCompleted = 0;
    quint64 completedAtStart = 0;
    quint64 rowsSeen = 0; // rows read from the records plus rows the records lost
    quint64 skipped = 0;
};

class Server : public QObject {
public:
    explicit Server(QString path)
        : m_path(std::move(path))
    {}

    /// Runs f on the server's thread and waits for it. The function goes
    /// through a mutex-guarded inbox (ordering ThreadSanitizer can see); a
    /// plain event wakes the thread.
    void call(const std::function<void()>& f)
    {
        std::mutex dm;
        std::condition_variable dcv;
        bool done = false;
        bool wake = false;
        {
            std::lock_guard lk(m_inboxMutex);
            m_inbox.push_back([&] {
                f();
                std::lock_guard dl(dm);
                done = true;
                dcv.notify_one();
            });
            wake = !std::exchange(m_inboxPosted, true);
        }
        if (wake) {
            auto* e = new QEvent(kInboxEvent);
            POOLSCOPE_TSAN_RELEASE(e); // acquired in event(): Qt's queue orders the two
            QCoreApplication::postEvent(this, e);
        }
        std::unique_lock lk(dm);
        dcv.wait(lk, [&] { return done; });
    }

    bool event(QEvent* e) override
    {
        POOLSCOPE_TSAN_ACQUIRE(e);
        if (e->type() != kInboxEvent)
            return QObject::event(e);
        std::vector<std::function<void()>> batch;
        {
            std::lock_guard lk(m_inboxMutex);
            batch.swap(m_inbox);
            m_inboxPosted = false;
        }
        for (auto& f : batch)
            f();
        return true;
    }

    bool listen(QString* error)
    {
        QFile::remove(m_path); // a stale socket of a process with our pid
        m_server = new QLocalServer(this);
        m_server->setSocketOptions(QLocalServer::UserAccessOption);
        if (!m_server->listen(m_path)) {
            *error = QStringLiteral("cannot listen on %1: %2").arg(m_path, m_server->errorString());
            return false;
        }
        ::chmod(QFile::encodeName(m_path).constData(), 0600);
        connect(m_server, &QLocalServer::newConnection, this, [this] { accept(); });
        return true;
    }

    void addPool(quint64 id, Executor* ex, const QString& name, const PublishOptions& options)
    {
        PoolEntry p;
        p.executor = ex;
        p.options = options;
        p.options.intervalMs = std::clamp(options.intervalMs, 1, 60'000);
        p.info.id = id;
        p.info.name = name;
        p.info.kind = ex->kind();
        p.info.maxWorkers = ex->maxWorkers();
        for (const QString& op : options.control) {
            if (knownOps().contains(op) && !p.info.control.contains(op)
                && (op != QLatin1StringView("cancel_pending") || options.cancelPending))
                p.info.control.append(op);
        }
        m_pools.emplace(id, std::move(p));
        broadcastPools();
    }

    /// The name `ex` is published under, or a null QString.
    QString publishedName(const Executor* ex) const
    {
        for (const auto& [id, p] : m_pools) {
            if (p.executor == ex)
                return p.info.name;
        }
        return {};
    }

    void removePool(quint64 id)
    {
        auto it = m_pools.find(id);
        if (it == m_pools.end())
            return;
        PoolEntry& p = it->second;
        if (p.monitor) {
            // The last rows, then the pool is never touched again.
            detachMonitor(p);
            pump(p, false);
            p.monitor.reset();
            attachdetail::g_watchedPools.fetch_sub(1);
        }
        p.timer.reset();
        p.budgetTimer.reset();
        for (auto& v : m_viewers)
            v->watching.erase(id);
        m_pools.erase(it);
        broadcastPools();
    }

    /// Every watched pool's last rows, `bye` to every viewer, then closes.
    void shutdown(const QString& reason)
    {
        for (auto& [id, p] : m_pools) {
            if (p.monitor) {
                detachMonitor(p);
                pump(p, false);
                p.monitor.reset();
                attachdetail::g_watchedPools.fetch_sub(1);
            }
            p.timer.reset();
            p.budgetTimer.reset();
        }
        m_pools.clear();
        const QByteArray bye = frame(encode(FromPublisher{Bye{reason}}));
        for (auto& v : m_viewers) {
            if (!v->closing && v->socket->state() == QLocalSocket::ConnectedState)
                v->socket->write(bye);
        }
        // Bounded: a stalled viewer must not hold the program's exit.
        QElapsedTimer t;
        t.start();
        for (auto& v : m_viewers) {
            while (v->socket->state() == QLocalSocket::ConnectedState
                   && v->socket->bytesToWrite() > 0 && t.elapsed() < 500) {
                if (!v->socket->waitForBytesWritten(int(std::max<qint64>(1, 500 - t.elapsed()))))
                    break;
            }
        }
        for (auto& v : m_viewers) {
            v->socket->disconnect(this);
            v->socket->abort();
            delete v->socket;
        }
        m_viewers.clear();
        if (m_server) {
            m_server->close();
            delete m_server;
            m_server = nullptr;
        }
        QFile::remove(m_path);
    }

private:
    QList<PoolInfo> poolInfos() const
    {
        QList<PoolInfo> out;
        for (const auto& [id, p] : m_pools) {
            PoolInfo i = p.info;
            i.maxWorkers = p.executor->maxWorkers();
            out.append(i);
        }
        return out;
    }

    void broadcastPools()
    {
        const QByteArray f = frame(encode(FromPublisher{Pools{poolInfos()}}));
        for (auto& v : m_viewers)
            send(*v, f);
    }

    void send(Viewer& v, const QByteArray& f)
    {
        if (v.closing)
            return;
        v.socket->write(f);
        attachdetail::notePeak(v.socket->bytesToWrite());
    }

    /// A refusal: the error frame, then the connection closes.
    void refuse(Viewer& v, const QString& message)
    {
        if (v.closing)
            return;
        v.socket->write(frame(encode(FromPublisher{ErrorFrame{message}})));
        v.closing = true;
        v.socket->disconnectFromServer(); // after the pending bytes
    }

    void accept()
    {
        while (QLocalSocket* s = m_server->nextPendingConnection()) {
            auto v = std::make_unique<Viewer>();
            v->socket = s;
            Viewer* vp = v.get();
            m_viewers.push_back(std::move(v));
            connect(s, &QLocalSocket::disconnected, this, [this, vp] { drop(vp); });
            connect(s, &QLocalSocket::readyRead, this, [this, vp] { read(*vp); });
            QString why;
            if (!attachdetail::peerAllowed(attachdetail::peerUid(s->socketDescriptor()),
                                           qint64(::getuid()), &why)) {
                refuse(*vp, why);
                continue;
            }
            Hello h;
            h.program = attachdetail::programName();
            h.pid = quint64(::getpid());
            h.uid = quint64(::getuid());
            h.language = QStringLiteral("c++");
            h.runtime =
                QStringLiteral("PoolScope %1 / Qt %2")
                    .arg(QLatin1StringView(POOLSCOPE_VERSION), QLatin1StringView(qVersion()));
            h.pools = poolInfos();
            send(*vp, frame(encode(FromPublisher{h})));
        }
    }

    void drop(Viewer* vp)
    {
        for (auto it = m_viewers.begin(); it != m_viewers.end(); ++it) {
            if (it->get() != vp)
                continue;
            std::unique_ptr<Viewer> v = std::move(*it);
            m_viewers.erase(it);
            for (const auto& [id, w] : v->watching)
                releaseIfUnwatched(id);
            v->socket->disconnect(this);
            v->socket->deleteLater();
            return;
        }
    }

    void releaseIfUnwatched(quint64 id)
    {
        auto it = m_pools.find(id);
        if (it == m_pools.end())
            return;
        for (const auto& v : m_viewers) {
            if (v->watching.count(id))
                return;
        }
        // Nobody watches: the pool pays nothing any more.
        PoolEntry& p = it->second;
        if (p.monitor) {
            detachMonitor(p);
            p.monitor.reset();
            attachdetail::g_watchedPools.fetch_sub(1);
        }
        p.timer.reset();
        p.budgetTimer.reset();
        p.cursorRecord.reset();
    }

    void read(Viewer& v)
    {
        if (v.closing) {
            v.socket->readAll();
            return;
        }
        v.reader.feed(v.socket->readAll());
        for (;;) {
            QByteArray payload;
            QString error;
            const auto st = v.reader.next(&payload, &error);
            if (st == protocol::FrameReader::Status::NeedMore)
                return;
            if (st == protocol::FrameReader::Status::Error) {
                refuse(v, QStringLiteral("bad frame: ") + error);
                return;
            }
            const auto m = decodeFromViewer(payload, &error);
            if (!m) {
                refuse(v, QStringLiteral("bad frame: ") + error);
                return;
            }
            handle(v, *m);
            if (v.closing)
                return;
        }
    }

    void handle(Viewer& v, const FromViewer& m)
    {
        if (const auto* w = std::get_if<Watch>(&m)) {
            auto it = m_pools.find(w->pool);
            if (it == m_pools.end()) {
                send(v, frame(encode(FromPublisher{ErrorFrame{
                            QStringLiteral("no pool %1 in this program").arg(w->pool)}})));
                return;
            }
            if (v.watching.count(w->pool))
                return;
            startWatching(it->second);
            v.watching.emplace(w->pool, Viewer::Watching{});
            pump(it->second, true);
        } else if (const auto* u = std::get_if<Unwatch>(&m)) {
            if (v.watching.erase(u->pool))
                releaseIfUnwatched(u->pool);
        } else if (const auto* c = std::get_if<Control>(&m)) {
            control(v, *c);
        } else if (const auto* x = std::get_if<Unknown>(&m)) {
            send(v, frame(encode(FromPublisher{
                        ErrorFrame{QStringLiteral("unknown frame type '%1'").arg(x->type)}})));
        }
        // ViewerHello: nothing to answer (the hello went on connect).
    }

    void startWatching(PoolEntry& p)
    {
        if (p.monitor)
            return;
        MonitorOptions o;
        o.intervalMs = 60'000; // ticked by the pool's own timer below
        o.cpuPeriodMs = 60'000;
        o.queueHeadSize = kMaxQueueHead;
        // Large enough never to sample between two snaps; the record starts
        // over past kPublisherRunRows rows, and no past run is kept.
        o.recordLimit = 8'000'000;
        o.keptRuns = 0;
        o.keptRunRows = 0;
        o.historyCounters = 4;
        // Rows go to one consumer: while the program's own Monitor records
        // this pool (attached before the watch or during it), the publisher
        // takes none of them (that Monitor would lose them) and sends
        // counters and workers only; the tasks are counted as not recorded
        // (skipped), exactly, like the budget's. It takes rows again when
        // that Monitor goes.
        o.yieldRows = true;
        p.monitor = std::make_unique<Monitor>(o);
        attachdetail::g_watchedPools.fetch_add(1);
        p.monitor->attach(p.executor);
        p.recording = true;
        p.offSinceNs = 0;
        p.lastTickNs = 0;
        p.completedAtStart = p.executor->counters().completed();
        p.lastCompleted = p.completedAtStart;
        p.rowsSeen = 0;
        p.skipped = 0;
        p.cursorRecord = p.monitor->record();
        p.cursorRow = 0;
        p.cursorGeneration = p.cursorRecord->generation();
        p.recordLost = 0;
        p.timer = std::make_unique<QTimer>();
        const quint64 id = p.info.id;
        connect(p.timer.get(), &QTimer::timeout, this, [this, id] {
            auto it = m_pools.find(id);
            if (it != m_pools.end())
                pump(it->second, true);
        });
        p.timer->start(p.options.intervalMs);
        if (p.options.maxRowsPerSecond > 0) {
            p.budgetTimer = std::make_unique<QTimer>();
            connect(p.budgetTimer.get(), &QTimer::timeout, this, [this, id] {
                auto it = m_pools.find(id);
                if (it != m_pools.end() && it->second.monitor)
                    checkRowBudget(it->second);
            });
            p.budgetTimer->start(kBudgetCheckMs);
            checkRowBudget(p); // the first reading
        }
    }

    void control(Viewer& v, const Control& c)
    {
        Reply r{c.id, false, {}};
        auto it = m_pools.find(c.pool);
        if (it == m_pools.end()) {
            r.error = QStringLiteral("no pool %1 in this program").arg(c.pool);
        } else {
            PoolEntry& p = it->second;
            if (!knownOps().contains(c.op)) {
                r.error = QStringLiteral("unknown operation '%1' (known: %2)")
                              .arg(c.op, knownOps().join(QStringLiteral(", ")));
            } else if (!p.info.control.contains(c.op)) {
                r.error = QStringLiteral("read-only: %1 (pid %2) did not allow '%3' when it "
                                         "published pool '%4'")
                              .arg(attachdetail::programName())
                              .arg(::getpid())
                              .arg(c.op, p.info.name);
            } else {
                try {
                    if (c.op == QLatin1StringView("resize")) {
                        const quint64 n = c.n.value_or(0);
                        p.executor->setMaxWorkers(
                            int(std::min<quint64>(n, quint64(Executor::maxWorkersLimit()) + 1)));
                    } else if (c.op == QLatin1StringView("pause")) {
                        p.executor->pause();
                    } else if (c.op == QLatin1StringView("resume")) {
                        p.executor->resume();
                    } else if (c.op == QLatin1StringView("step")) {
                        p.executor->step();
                    } else if (c.op == QLatin1StringView("cancel_pending")) {
                        p.options.cancelPending();
                    }
                    r.ok = true;
                } catch (const std::exception& e) {
                    r.error = QString::fromUtf8(e.what());
                } catch (...) {
                    r.error = QStringLiteral("the operation failed (unknown exception)");
                }
            }
        }
        send(v, frame(encode(FromPublisher{r})));
        if (r.ok && it != m_pools.end() && it->second.monitor)
            pump(it->second, true); // the effect shows in the next snap at once
    }

    /// Detaches the pool's Monitor (it gives back its recording vote, if
    /// the row budget left it one).
    static void detachMonitor(PoolEntry& p) { p.monitor->detach(); }

    /// Tasks that finished and became no row (the row budget's, the ones
    /// the program's own Monitor took, or tasks already running when the
    /// watch began), counted in p.skipped. A row is staged before its task
    /// counts as done, and the tick drained every staged row after it read
    /// the counters (or left it to the program's Monitor, which drains what
    /// it was staged when it detaches or is destroyed), so a done task
    /// without a row never gets one.
    static void countSkipped(PoolEntry& p, const Snapshot& s)
    {
        const quint64 completed = s.counters.completed();
        const quint64 done = completed > p.completedAtStart ? completed - p.completedAtStart : 0;
        if (done > p.rowsSeen)
            p.skipped = std::max(p.skipped, done - p.rowsSeen);
    }

    /// The row budget (docs/attach.md, "Never slowing the program"), checked
    /// every kBudgetCheckMs from the counters alone: recording goes off while
    /// the pool finishes more tasks a second than maxRowsPerSecond, and on
    /// again each second to look (off again within one check if still too
    /// fast). Its workers then pay only the counters.
    static void checkRowBudget(PoolEntry& p)
    {
        const quint64 budget = p.options.maxRowsPerSecond;
        if (budget == 0)
            return;
        const qint64 now = monotonicNs();
        const quint64 completed = p.executor->counters().completed();
        if (p.lastTickNs == 0 || now <= p.lastTickNs) {
            p.lastTickNs = now;
            p.lastCompleted = completed;
            return;
        }
        const double rate = double(completed - std::min(completed, p.lastCompleted)) * 1e9
                            / double(now - p.lastTickNs);
        p.lastTickNs = now;
        p.lastCompleted = completed;
        if (p.recording && rate > double(budget)) {
            // Gives back the vote of this publisher's Monitor: a Monitor of
            // the program's own keeps the pool recording for itself.
            p.monitor->setRecordingWanted(false);
            p.recording = false;
            p.offSinceNs = now;
        } else if (!p.recording && now - p.offSinceNs >= 1'000'000'000) {
            p.monitor->setRecordingWanted(true);
            p.recording = true;
        }
    }

    /// One snapshot of a watched pool to each of its viewers.
    void pump(PoolEntry& p, bool tick)
    {
        if (!p.monitor)
            return;
        if (tick)
            p.monitor->tick();
        const Snapshot s = p.monitor->last();
        std::shared_ptr<RunRecord> rec = p.monitor->record();
        if (rec != p.cursorRecord || rec->generation() != p.cursorGeneration) {
            // Not ours (re-sampled): start over at its end.
            p.cursorRecord = rec;
            p.cursorRow = rec->size();
            p.cursorGeneration = rec->generation();
            p.recordLost = rec->stats().lost;
        }
        // Bounded memory: past the bound the record starts over (the rows
        // drained by startRun() land in the old one, read below).
        if (tick && rec->size() > attachdetail::kPublisherRunRows)
            p.monitor->startRun();
        const quint64 from = p.cursorRow;
        const quint64 to = rec->size();
        const quint64 lostNow = rec->stats().lost;
        const quint64 newLost = lostNow > p.recordLost ? lostNow - p.recordLost : 0;
        p.recordLost = lostNow;
        p.cursorRow = to;
        p.rowsSeen += (to - from) + newLost;
        countSkipped(p, s);
        if (p.monitor->record() != rec) {
            p.cursorRecord = p.monitor->record();
            p.cursorRow = 0;
            p.cursorGeneration = p.cursorRecord->generation();
            p.recordLost = 0;
        }

        // What every viewer gets alike.
        Snap base;
        base.pool = p.info.id;
        base.time = s.timeNs;
        base.counters = {s.counters.submitted,    s.counters.queued, s.counters.running,
                         s.counters.succeeded,    s.counters.failed, s.counters.cancelled,
                         s.counters.droppedEvents};
        base.maxWorkers = quint64(std::max(0, s.maxWorkers));
        base.paused = s.paused;
        base.shutdown = s.shutdown;
        if (p.executor->isBroken())
            base.broken = p.executor->brokenReason();
        base.queue = s.queueHead.mid(0, kMaxQueueHead);
        base.workers = s.workers;

        for (auto& vp : m_viewers) {
            Viewer& v = *vp;
            auto w = v.watching.find(p.info.id);
            if (w == v.watching.end() || v.closing)
                continue;
            const bool fresh = std::exchange(w->second.fresh, false);
            quint64 row = fresh ? to : from;
            if (!fresh)
                w->second.lost += newLost;
            else
                w->second.skippedBase = p.skipped;
            do {
                if (v.socket->bytesToWrite() > p.options.viewerBufferBytes) {
                    // Full: this frame is not even built; its rows are lost.
                    w->second.lost += to - row;
                    break;
                }
                Snap snap = base;
                // Rows in frames of a few MiB (the viewer's limit is 16 MiB).
                qint64 budget = 4 * 1024 * 1024;
                while (row < to && budget > 0 && snap.rows.size() < 20'000) {
                    const TaskSpan sp = rec->span(row);
                    Row r;
                    r.id = sp.taskId;
                    r.submitNs = std::max<qint64>(0, sp.enqueueNs);
                    r.startNs = sp.startNs;
                    r.endNs = std::max(sp.endNs, sp.startNs);
                    r.cpuNs = std::max<qint64>(-1, sp.cpuNs);
                    r.gilWaitNs = std::max<qint64>(0, sp.gilWaitNs);
                    r.name = sp.nameId;
                    r.worker = std::max<qint32>(-1, sp.worker);
                    r.core = std::max<qint32>(-1, sp.core);
                    r.status = quint8(sp.status);
                    r.started = sp.started;
                    budget -= 64;
                    const QVariant result = rec->result(row);
                    if (rec->hasTexts(row) || result.isValid()) {
                        Texts t;
                        t.index = quint32(snap.rows.size());
                        t.args = cut(rec->args(row));
                        t.error = cut(rec->error(row));
                        if (result.isValid()) {
                            t.result = QCborValue::fromVariant(result);
                            if (t.result.isString())
                                t.result = cut(t.result.toString());
                            else if (!(t.result.isInteger() || t.result.isDouble()
                                       || t.result.isBool() || t.result.isNull()))
                                t.result = cut(result.toString());
                        }
                        budget -= 3 * (t.args.size() + t.error.size()) + 16;
                        snap.texts.append(std::move(t));
                    }
                    snap.rows.push_back(r);
                    ++row;
                }
                const quint64 skipped = p.skipped - w->second.skippedBase;
                snap.lost = w->second.lost + skipped;
                snap.skipped = skipped;
                snap.rowBudget = p.monitor->yieldingRows() ? 0 : p.options.maxRowsPerSecond;
                // Names this viewer has not had yet.
                auto need = [&](quint32 id) {
                    if (id != 0 && !v.namesSent.contains(id)) {
                        v.namesSent.insert(id);
                        snap.names.append({id, NameTable::name(id)});
                    }
                };
                for (const auto& q : snap.queue)
                    need(q.nameId);
                for (const auto& x : snap.workers)
                    need(x.currentName);
                for (const auto& r : snap.rows)
                    need(r.name);
                send(v, frame(encode(FromPublisher{std::move(snap)})));
            } while (row < to);
        }
    }

    static constexpr QEvent::Type kInboxEvent = QEvent::Type(QEvent::User + 72);
    std::mutex m_inboxMutex;
    std::vector<std::function<void()>> m_inbox;
    bool m_inboxPosted = false;
    QString m_path;
    QLocalServer* m_server = nullptr;
    std::map<quint64, PoolEntry> m_pools;
    std::vector<std::unique_ptr<Viewer>> m_viewers;
};

// ------------------------------------------------------------ the process's publisher

class PublisherThread : public QThread {
public:
    void run() override { exec(); }
};

struct Global {
    std::recursive_mutex m;
    PublisherThread* thread = nullptr;
    Server* server = nullptr;
    QString path;
    int publications = 0;
    quint64 nextId = 1;
    bool atexitSet = false;
};

Global& global()
{
    static Global* g = new Global; // never destroyed: used from atexit
    return *g;
}

/// Runs f on the publisher thread and waits for it.
void onPublisher(Global& g, const std::function<void()>& f)
{
    if (QThread::currentThread() == g.thread) {
        f();
        return;
    }
    g.server->call(f);
}

void stopLocked(Global& g, const QString& reason)
{
    if (!g.thread)
        return;
    Server* s = g.server;
    onPublisher(g, [s, reason] {
        s->shutdown(reason);
        s->deleteLater(); // runs as the thread's loop exits
        QThread::currentThread()->quit();
    });
    g.thread->wait();
    delete g.thread;
    g.thread = nullptr;
    g.server = nullptr;
    g.path.clear();
}

void atExit()
{
    Global& g = global();
    std::lock_guard lk(g.m);
    stopLocked(
        g, QStringLiteral("%1 (pid %2) exited").arg(attachdetail::programName()).arg(::getpid()));
}

class PublicationImpl final : public Publication {
public:
    PublicationImpl(quint64 id, QString path)
        : m_id(id)
        , m_path(std::move(path))
    {}
    ~PublicationImpl() override
    {
        Global& g = global();
        std::lock_guard lk(g.m);
        if (!g.thread)
            return; // the publisher already ended (process exit)
        Server* s = g.server;
        const quint64 id = m_id;
        onPublisher(g, [s, id] { s->removePool(id); });
        if (--g.publications == 0)
            stopLocked(g, QStringLiteral("%1 (pid %2) stopped publishing")
                              .arg(attachdetail::programName())
                              .arg(::getpid()));
    }
    quint64 poolId() const override { return m_id; }
    QString socketPath() const override { return m_path; }

private:
    quint64 m_id;
    QString m_path;
};

} // namespace

std::unique_ptr<Publication> publish(Executor* executor, const QString& name,
                                     const PublishOptions& options)
{
    (void)poolscope_attach_env_anchor; // links the POOLSCOPE_PUBLISH initialiser too
    if (!executor)
        throw InvalidArgument("publish: the executor is null");
    if (name.isEmpty())
        throw InvalidArgument("publish: the pool needs a name");
    if (options.viewerBufferBytes < 64 * 1024)
        throw InvalidArgument("publish: viewerBufferBytes must be at least 64 KiB");
    // The publisher's thread runs a QEventLoop, which Qt refuses without a
    // QCoreApplication (it printed a warning and the program hung waiting
    // for the thread): say so instead.
    if (!QCoreApplication::instance())
        throw Error("cannot publish: Qt's event loops need a QCoreApplication (or QApplication); "
                    "create one in main() before publish() (docs/attach.md)");
    for (const QString& op : options.control) {
        if (!attachproto::knownOps().contains(op))
            throw InvalidArgument(
                QStringLiteral("publish: unknown control operation '%1' (known: %2)")
                    .arg(op, attachproto::knownOps().join(QStringLiteral(", ")))
                    .toStdString());
    }
    // One publication per pool: two would each run a Monitor on it, and
    // its rows have one consumer. An explicit publish() replaces the one
    // POOLSCOPE_PUBLISH made (destroyed once the new one exists, after the
    // lock: the publisher keeps running, and a failure here leaves it
    // published); a second explicit one is refused.
    std::unique_ptr<Publication> replaced = attachdetail::takeEnvPublication(executor);
    Global& g = global();
    std::lock_guard lk(g.m);
    if (g.thread && !replaced) {
        QString existing;
        Server* s = g.server;
        onPublisher(g, [&] { existing = s->publishedName(executor); });
        if (!existing.isNull())
            throw InvalidArgument(
                QStringLiteral("publish: this executor is already published as '%1' (one "
                               "publication per pool; destroy that Publication first)")
                    .arg(existing)
                    .toStdString());
    }
    if (!g.thread) {
        QString error;
        const QString dir = attach::socketDirectory(&error);
        if (dir.isEmpty())
            throw Error(("cannot publish: " + error).toStdString());
        const QString path = dir + QStringLiteral("/%1.sock").arg(::getpid());
        auto* thread = new PublisherThread;
        thread->setObjectName(QStringLiteral("poolscope-publish"));
        auto* server = new Server(path);
        server->moveToThread(thread);
        thread->start();
        if (!thread->isRunning()) {
            delete server;
            delete thread;
            throw Error("cannot publish: the system refused a thread for the publisher");
        }
        g.thread = thread;
        g.server = server;
        bool ok = false;
        onPublisher(g, [&] { ok = server->listen(&error); });
        if (!ok) {
            onPublisher(g, [server] {
                server->deleteLater();
                QThread::currentThread()->quit();
            });
            thread->wait();
            delete thread;
            g.thread = nullptr;
            g.server = nullptr;
            throw Error(("cannot publish: " + error).toStdString());
        }
        g.path = path;
        if (!g.atexitSet) {
            g.atexitSet = true;
            std::atexit(atExit);
        }
    }
    const quint64 id = g.nextId++;
    Server* s = g.server;
    onPublisher(g, [&] { s->addPool(id, executor, name, options); });
    ++g.publications;
    return std::make_unique<PublicationImpl>(id, g.path);
}

} // namespace poolscope
