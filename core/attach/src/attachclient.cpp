// The viewing side of attach (docs/attach.md): AttachClient reads one
// publisher's frames on the thread that made it; AttachedPool is the
// Executor proxy a Monitor attaches to; listPublishers/findPublisher find
// the publishers of this user.

#include "attachinternal.h"
#include "attachprotocol.h"

#include <poolscope/attach.h>
#include <poolscope/errors.h>
#include <poolscope/protocol.h>
#include <poolscope/recording.h>

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QLocalSocket>
#include <QPointer>
#include <QThread>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>

namespace poolscope {

using namespace attachproto;

namespace {

/// Everything an AttachedPool knows; shared with the connection that feeds it
/// (the proxy outlives the connection and the reverse).
struct PoolState {
    mutable std::mutex m;
    std::condition_variable cv;
    QPointer<AttachedPool> q;
    QPointer<AttachClient> client;
    PoolInfo info;
    PublisherInfo publisher;
    // the last snap
    bool haveSnap = false;
    qint64 timeNs = 0;
    Counters counters;
    int maxWorkers = 0;
    bool paused = false;
    bool shutdown = false;
    QString broken;
    QList<QueuedTask> queue;
    QList<WorkerInfo> workers;
    QList<WorkerInfo> ended; // ended workers not yet collected
    quint64 lostReported = 0;
    quint64 skippedReported = 0; // of lostReported: the row budget's
    quint64 rowBudget = 0;
    // recording
    bool recording = false;
    std::size_t stagingRows = detail::RecordWriter::kDefaultMaxRows;
    std::shared_ptr<detail::RecordWriter> writer;
    // the end
    bool closed = false;
    QString closedReason;
    bool unwatched = false;
};

} // namespace

struct AttachedPool::Impl {
    std::shared_ptr<PoolState> s;
};

struct AttachClient::Impl {
    AttachClient* q = nullptr;
    QLocalSocket* socket = nullptr;
    std::unique_ptr<protocol::FrameReader> reader;
    PublisherInfo info;
    QString error;
    QString refusal; // the last error frame
    bool helloSeen = false;
    bool closed = true;
    QHash<quint32, quint32> names; // publisher's name id -> ours
    std::map<quint64, std::weak_ptr<PoolState>> pools;
    std::atomic<quint64> nextRequest{1};

    void send(const QByteArray& payload)
    {
        if (socket && socket->state() == QLocalSocket::ConnectedState)
            socket->write(frame(payload));
    }
    /// Sends from any thread: queued to the connection's thread.
    void sendAnyThread(const QByteArray& payload)
    {
        if (QThread::currentThread() == q->thread()) {
            send(payload);
            return;
        }
        QPointer<AttachClient> c(q);
        QMetaObject::invokeMethod(
            q,
            [c, payload] {
                if (c)
                    c->d->send(payload);
            },
            Qt::QueuedConnection);
    }

    void onReadyRead();
    void onDisconnected();
    void handle(FromPublisher& m);
    void handleSnap(Snap& s);
    void close(const QString& reason, bool bye);
    /// A control frame for a pool's proxy (any thread).
    static void sendControl(PoolState& s, const QString& op,
                            std::optional<quint64> n = std::nullopt);
};

// ------------------------------------------------------------ AttachClient

AttachClient::AttachClient(QObject* parent)
    : QObject(parent)
    , d(std::make_unique<Impl>())
{
    d->q = this;
}

AttachClient::~AttachClient()
{
    if (d->socket) {
        d->socket->disconnect(this);
        d->socket->abort();
    }
    if (!d->closed) {
        for (auto& [id, w] : d->pools) {
            if (auto s = w.lock()) {
                std::lock_guard lk(s->m);
                s->closed = true;
                s->closedReason = QStringLiteral("the viewer closed the connection");
                s->cv.notify_all();
            }
        }
    }
}

bool AttachClient::connectTo(const QString& socketPath, int timeoutMs)
{
    if (d->socket) {
        d->socket->disconnect(this);
        d->socket->abort();
        d->socket->deleteLater();
        d->socket = nullptr;
    }
    d->info = {};
    d->error.clear();
    d->refusal.clear();
    d->helloSeen = false;
    d->closed = false;
    d->names.clear();
    d->pools.clear();
    d->reader = std::make_unique<protocol::FrameReader>(kViewerMaxFrame);
    d->socket = new QLocalSocket(this);
    connect(d->socket, &QLocalSocket::readyRead, this, [this] { d->onReadyRead(); });
    connect(d->socket, &QLocalSocket::disconnected, this, [this] { d->onDisconnected(); });
    QElapsedTimer t;
    t.start();
    d->socket->connectToServer(socketPath);
    if (!d->socket->waitForConnected(std::max(1, timeoutMs))) {
        d->error =
            QStringLiteral("cannot connect to %1: %2").arg(socketPath, d->socket->errorString());
        d->closed = true;
        d->socket->disconnect(this);
        d->socket->abort();
        return false;
    }
    while (!d->helloSeen && !d->closed) {
        const qint64 left = qint64(timeoutMs) - t.elapsed();
        if (left <= 0 || !d->socket->waitForReadyRead(int(left)))
            break;
    }
    if (d->helloSeen && !d->closed) {
        d->info.socketPath = socketPath;
        return true;
    }
    if (d->error.isEmpty()) {
        d->error = !d->refusal.isEmpty()
                       ? d->refusal
                       : QStringLiteral("%1 said no hello within %2 ms (is it a PoolScope "
                                        "publisher?)")
                             .arg(socketPath)
                             .arg(timeoutMs);
    }
    d->closed = true;
    d->socket->disconnect(this);
    d->socket->abort();
    return false;
}

void AttachClient::disconnectFromPublisher()
{
    if (!d->socket || d->closed)
        return;
    d->socket->disconnect(this);
    d->socket->flush();
    d->socket->disconnectFromServer();
    d->close(QStringLiteral("the viewer disconnected"), false);
}

bool AttachClient::isConnected() const
{
    return d->socket && !d->closed && d->helloSeen;
}

QString AttachClient::errorString() const
{
    return d->error;
}

const PublisherInfo& AttachClient::publisher() const
{
    return d->info;
}

std::unique_ptr<AttachedPool> AttachClient::watch(quint64 poolId)
{
    if (!isConnected()) {
        d->error = QStringLiteral("not connected to a publisher");
        return nullptr;
    }
    const PoolInfo* pool = nullptr;
    QStringList known;
    for (const auto& p : d->info.pools) {
        if (p.id == poolId)
            pool = &p;
        known.append(QStringLiteral("%1 (%2)").arg(p.id).arg(p.name));
    }
    if (!pool) {
        d->error = QStringLiteral("%1 (pid %2) has no pool %3; it publishes: %4")
                       .arg(d->info.program)
                       .arg(d->info.pid)
                       .arg(poolId)
                       .arg(known.isEmpty() ? QStringLiteral("none") : known.join(u", "));
        return nullptr;
    }
    auto s = std::make_shared<PoolState>();
    s->client = this;
    s->info = *pool;
    s->publisher = d->info;
    s->maxWorkers = pool->maxWorkers;
    auto impl = std::make_unique<AttachedPool::Impl>();
    impl->s = s;
    std::unique_ptr<AttachedPool> out(new AttachedPool(std::move(impl)));
    s->q = out.get();
    // A second proxy of the same pool takes over the feed.
    d->pools[poolId] = s;
    d->send(encode(FromViewer{Watch{poolId}}));
    return out;
}

void AttachClient::Impl::onReadyRead()
{
    if (closed || !socket)
        return;
    reader->feed(socket->readAll());
    for (;;) {
        QByteArray payload;
        QString why;
        const auto st = reader->next(&payload, &why);
        if (st == protocol::FrameReader::Status::NeedMore)
            return;
        if (st == protocol::FrameReader::Status::Error) {
            close(QStringLiteral("bad frame from %1: %2")
                      .arg(helloSeen ? info.program : QStringLiteral("the publisher"), why),
                  false);
            return;
        }
        auto m = decodeFromPublisher(payload, &why);
        if (!m) {
            close(QStringLiteral("bad frame from %1: %2")
                      .arg(helloSeen ? info.program : QStringLiteral("the publisher"), why),
                  false);
            return;
        }
        handle(*m);
        if (closed)
            return;
    }
}

void AttachClient::Impl::onDisconnected()
{
    if (closed)
        return;
    if (!refusal.isEmpty())
        close(QStringLiteral("the program refused the connection: ") + refusal, false);
    else
        close(QStringLiteral("%1 (pid %2) ended without saying goodbye (it may have crashed)")
                  .arg(info.program.isEmpty() ? QStringLiteral("the program") : info.program)
                  .arg(info.pid),
              false);
}

void AttachClient::Impl::close(const QString& reason, bool bye)
{
    if (closed)
        return;
    closed = true;
    if (error.isEmpty() || !bye)
        error = reason;
    if (socket) {
        socket->disconnect(q);
        if (!bye && socket->state() != QLocalSocket::UnconnectedState)
            socket->abort();
    }
    QList<QPointer<AttachedPool>> notify;
    for (auto& [id, w] : pools) {
        if (auto s = w.lock()) {
            std::lock_guard lk(s->m);
            s->closed = true;
            s->closedReason = reason;
            s->cv.notify_all();
            notify.append(s->q);
        }
    }
    if (helloSeen)
        emit q->closed(reason, bye);
    for (auto& p : notify) {
        if (p)
            emit p->closed(reason, bye);
    }
}

void AttachClient::Impl::handle(FromPublisher& m)
{
    if (auto* h = std::get_if<Hello>(&m)) {
        info.pid = qint64(h->pid);
        info.uid = qint64(h->uid);
        info.program = h->program;
        info.language = h->language;
        info.runtime = h->runtime;
        info.pools = h->pools;
        helloSeen = true;
    } else if (auto* p = std::get_if<Pools>(&m)) {
        info.pools = p->pools;
        QList<QPointer<AttachedPool>> gone;
        QStringList reasons;
        for (auto it = pools.begin(); it != pools.end();) {
            bool present = false;
            for (const auto& x : info.pools)
                present = present || x.id == it->first;
            auto s = it->second.lock();
            if (!s) {
                it = pools.erase(it);
                continue;
            }
            if (!present) {
                std::lock_guard lk(s->m);
                s->closed = true;
                s->closedReason = QStringLiteral("%1 stopped publishing pool '%2'")
                                      .arg(info.program, s->info.name);
                s->cv.notify_all();
                gone.append(s->q);
                reasons.append(s->closedReason);
                it = pools.erase(it);
            } else {
                ++it;
            }
        }
        emit q->poolsChanged(info.pools);
        for (qsizetype i = 0; i < gone.size(); ++i) {
            if (gone[i])
                emit gone[i]->closed(reasons[i], true);
        }
    } else if (auto* s = std::get_if<Snap>(&m)) {
        handleSnap(*s);
    } else if (auto* r = std::get_if<Reply>(&m)) {
        emit q->controlReplied(r->id, r->ok, r->error);
    } else if (auto* b = std::get_if<Bye>(&m)) {
        close(b->reason.isEmpty() ? QStringLiteral("the program said goodbye") : b->reason, true);
    } else if (auto* e = std::get_if<ErrorFrame>(&m)) {
        refusal = e->message;
        if (!helloSeen)
            error = e->message;
    }
    // Unknown: ignored (forward compatibility).
}

void AttachClient::Impl::handleSnap(Snap& snap)
{
    for (const auto& [id, text] : snap.names)
        names.insert(id, NameTable::intern(text));
    auto local = [this](quint32 id) -> quint32 { return id == 0 ? 0 : names.value(id, 0); };
    auto it = pools.find(snap.pool);
    if (it == pools.end())
        return;
    std::shared_ptr<PoolState> s = it->second.lock();
    if (!s) {
        pools.erase(it);
        return;
    }
    QPointer<AttachedPool> notify;
    {
        std::lock_guard lk(s->m);
        s->haveSnap = true;
        s->timeNs = snap.time;
        s->counters.submitted = snap.counters.submitted;
        s->counters.queued = snap.counters.queued;
        s->counters.running = snap.counters.running;
        s->counters.succeeded = snap.counters.succeeded;
        s->counters.failed = snap.counters.failed;
        s->counters.cancelled = snap.counters.cancelled;
        s->counters.droppedEvents = snap.counters.dropped;
        s->maxWorkers = int(snap.maxWorkers);
        s->paused = snap.paused;
        s->shutdown = snap.shutdown;
        s->broken = snap.broken.value_or(QString());
        {
            s->queue = snap.queue;
            for (auto& qt : s->queue)
                qt.nameId = local(qt.nameId);
            s->workers = snap.workers;
            for (auto& w : s->workers) {
                w.currentName = local(w.currentName);
                if (hasEnded(w.state)) {
                    bool seen = false;
                    for (auto& e : s->ended) {
                        if (e.index == w.index) {
                            e = w;
                            seen = true;
                        }
                    }
                    if (!seen)
                        s->ended.append(w);
                }
            }
        }
        const quint64 lostDelta = snap.lost > s->lostReported ? snap.lost - s->lostReported : 0;
        s->lostReported = std::max(s->lostReported, snap.lost);
        s->skippedReported = std::max(s->skippedReported, snap.skipped);
        s->rowBudget = snap.rowBudget;
        if (s->recording && s->writer) {
            detail::RecordWriter& wr = *s->writer;
            if (lostDelta)
                wr.addLost(lostDelta);
            std::vector<const Texts*> texts(snap.rows.size(), nullptr);
            for (const auto& t : snap.texts)
                texts[t.index] = &t;
            for (std::size_t i = 0; i < snap.rows.size(); ++i) {
                detail::StagedTask* row = wr.next();
                if (!row)
                    continue; // counted lost by the writer
                const Row& r = snap.rows[i];
                row->id = r.id;
                row->submit = r.submitNs;
                row->start = r.startNs;
                row->end = r.endNs;
                row->cpuNs = r.cpuNs;
                row->gilWaitNs = r.gilWaitNs;
                row->nameId = local(r.name);
                row->worker = r.worker;
                row->core = qint16(r.core);
                row->status = r.status;
                row->started = r.started;
                if (const Texts* t = texts[i]) {
                    try {
                        if (!t->args.isEmpty() || !t->error.isEmpty())
                            row->texts = new detail::TaskTexts{t->args, {}, t->error};
                        if (!t->result.isNull() && !t->result.isUndefined())
                            detail::setStagedValue(*row, t->result.toVariant());
                    } catch (const std::bad_alloc&) {
                        // the row keeps its times and status
                    }
                }
                wr.commit();
            }
        }
        notify = s->q;
    }
    s->cv.notify_all();
    if (notify)
        emit notify->updated();
}

// ------------------------------------------------------------ AttachedPool

void AttachClient::Impl::sendControl(PoolState& s, const QString& op, std::optional<quint64> n)
{
    QPointer<AttachClient> client;
    {
        std::lock_guard lk(s.m);
        if (s.closed)
            throw Error(QStringLiteral("cannot ask '%1' of pool '%2': the connection ended (%3)")
                            .arg(op, s.info.name, s.closedReason)
                            .toStdString());
        client = s.client;
    }
    if (!client)
        throw Error("cannot ask '" + op.toStdString() + "': the connection is gone");
    Control c;
    c.id = client->d->nextRequest.fetch_add(1);
    c.pool = s.info.id;
    c.op = op;
    c.n = n;
    client->d->sendAnyThread(encode(FromViewer{c}));
}

AttachedPool::AttachedPool(std::unique_ptr<Impl> impl)
    : d(std::move(impl))
{}

AttachedPool::~AttachedPool()
{
    QPointer<AttachClient> client;
    bool send = false;
    {
        std::lock_guard lk(d->s->m);
        d->s->q = nullptr;
        client = d->s->client;
        send = !d->s->closed && !d->s->unwatched;
        d->s->unwatched = true;
    }
    if (send && client && QThread::currentThread() == client->thread()) {
        auto it = client->d->pools.find(d->s->info.id);
        if (it != client->d->pools.end() && it->second.lock() == d->s) {
            client->d->pools.erase(it);
            client->d->send(encode(FromViewer{Unwatch{d->s->info.id}}));
        }
    } else if (send && client) {
        const quint64 id = d->s->info.id;
        std::weak_ptr<PoolState> self = d->s;
        QMetaObject::invokeMethod(
            client.data(),
            [client, id, self] {
                if (!client)
                    return;
                auto it = client->d->pools.find(id);
                if (it != client->d->pools.end() && it->second.expired()) {
                    client->d->pools.erase(it);
                    client->d->send(encode(FromViewer{Unwatch{id}}));
                }
            },
            Qt::QueuedConnection);
    }
}

const PoolInfo& AttachedPool::info() const
{
    return d->s->info;
}

const PublisherInfo& AttachedPool::publisherInfo() const
{
    return d->s->publisher;
}

bool AttachedPool::allows(const QString& op) const
{
    return d->s->info.control.contains(op);
}

bool AttachedPool::connectionClosed() const
{
    std::lock_guard lk(d->s->m);
    return d->s->closed;
}

QString AttachedPool::closedReason() const
{
    std::lock_guard lk(d->s->m);
    return d->s->closedReason;
}

quint64 AttachedPool::lostRows() const
{
    std::lock_guard lk(d->s->m);
    return d->s->lostReported;
}

quint64 AttachedPool::skippedRows() const
{
    std::lock_guard lk(d->s->m);
    return d->s->skippedReported;
}

quint64 AttachedPool::rowBudget() const
{
    std::lock_guard lk(d->s->m);
    return d->s->rowBudget;
}

namespace {
void requireAllowed(const PoolState& s, const QString& op)
{
    if (!s.info.control.contains(op))
        throw Error(QStringLiteral("read-only: %1 (pid %2) did not allow '%3' when it published "
                                   "pool '%4'")
                        .arg(s.publisher.program)
                        .arg(s.publisher.pid)
                        .arg(op, s.info.name)
                        .toStdString());
}

} // namespace

void AttachedPool::cancelPending()
{
    requireAllowed(*d->s, QStringLiteral("cancel_pending"));
    AttachClient::Impl::sendControl(*d->s, QStringLiteral("cancel_pending"));
}

QString AttachedPool::kind() const
{
    return d->s->info.kind;
}

Future<QCborValue> AttachedPool::submitNamed(const QString&, const QCborArray&, const TaskOptions&)
{
    return failedFuture<QCborValue>(std::make_exception_ptr(
        Error("an attached pool runs the program's own tasks; PoolScope cannot submit to it")));
}

Future<QCborValue> AttachedPool::submitNamedBatch(const QString& name, const QList<QCborArray>&,
                                                  const TaskOptions& options)
{
    return submitNamed(name, {}, options);
}

void AttachedPool::shutdown(bool, bool)
{
    // The program's pool is the program's: this only stops watching it.
    QPointer<AttachClient> client;
    bool send = false;
    {
        std::lock_guard lk(d->s->m);
        d->s->shutdown = true;
        send = !d->s->closed && !d->s->unwatched;
        d->s->unwatched = true;
        client = d->s->client;
    }
    if (send && client)
        client->d->sendAnyThread(encode(FromViewer{Unwatch{d->s->info.id}}));
}

bool AttachedPool::isShutdown() const
{
    std::lock_guard lk(d->s->m);
    return d->s->shutdown || d->s->closed || d->s->unwatched;
}

bool AttachedPool::isBroken() const
{
    std::lock_guard lk(d->s->m);
    return !d->s->broken.isEmpty();
}

QString AttachedPool::brokenReason() const
{
    std::lock_guard lk(d->s->m);
    return d->s->broken;
}

void AttachedPool::setMaxWorkers(int n)
{
    requireAllowed(*d->s, QStringLiteral("resize"));
    checkMaxWorkers(n);
    AttachClient::Impl::sendControl(*d->s, QStringLiteral("resize"), quint64(n));
}

int AttachedPool::maxWorkers() const
{
    std::lock_guard lk(d->s->m);
    return d->s->maxWorkers;
}

int AttachedPool::workerCount() const
{
    std::lock_guard lk(d->s->m);
    int n = 0;
    for (const auto& w : d->s->workers)
        n += hasEnded(w.state) ? 0 : 1;
    return n;
}

void AttachedPool::pause()
{
    requireAllowed(*d->s, QStringLiteral("pause"));
    AttachClient::Impl::sendControl(*d->s, QStringLiteral("pause"));
}

void AttachedPool::resume()
{
    requireAllowed(*d->s, QStringLiteral("resume"));
    AttachClient::Impl::sendControl(*d->s, QStringLiteral("resume"));
}

void AttachedPool::step()
{
    requireAllowed(*d->s, QStringLiteral("step"));
    AttachClient::Impl::sendControl(*d->s, QStringLiteral("step"));
}

bool AttachedPool::isPaused() const
{
    std::lock_guard lk(d->s->m);
    return d->s->paused;
}

Counters AttachedPool::counters() const
{
    std::lock_guard lk(d->s->m);
    return d->s->counters;
}

bool AttachedPool::waitForIdle(const Deadline& deadline) const
{
    for (;;) {
        QPointer<AttachClient> client;
        {
            std::unique_lock lk(d->s->m);
            const auto& c = d->s->counters;
            if (d->s->haveSnap && c.queued == 0 && c.running == 0)
                return true;
            if (d->s->closed)
                return c.queued == 0 && c.running == 0;
            if (deadline.expired())
                return false;
            client = d->s->client;
            if (!client || QThread::currentThread() != client->thread()) {
                d->s->cv.wait_for(lk, std::chrono::milliseconds(20));
                continue;
            }
        }
        // The connection's own thread: read it here.
        if (client->d->socket)
            client->d->socket->waitForReadyRead(20);
    }
}

void AttachedPool::setRecording(bool on)
{
    std::lock_guard lk(d->s->m);
    if (on && !d->s->recording)
        d->s->writer = std::make_shared<detail::RecordWriter>(false, d->s->stagingRows);
    d->s->recording = on;
}

void AttachedPool::collectTelemetry(TelemetryBatch& out, int queueHeadMax)
{
    std::lock_guard lk(d->s->m);
    PoolState& s = *d->s;
    out.ticks = false;
    out.timeNs = s.haveSnap ? s.timeNs : monotonicNs();
    out.counters = s.counters;
    out.maxWorkers = s.maxWorkers;
    out.paused = s.paused;
    out.shutdown = s.shutdown || s.closed || s.unwatched;
    out.queueHead = s.queue.mid(0, std::max(0, queueHeadMax));
    out.workers = s.workers;
    for (const auto& e : s.ended) {
        bool present = false;
        for (const auto& w : out.workers)
            present = present || w.index == e.index;
        if (!present)
            out.workers.append(e);
    }
    s.ended.clear();
    out.writers.clear();
    if (s.writer)
        out.writers.push_back(s.writer);
}

void AttachedPool::setStagingCapacity(std::size_t rows)
{
    std::lock_guard lk(d->s->m);
    d->s->stagingRows = std::max<std::size_t>(1, rows);
    if (d->s->writer)
        d->s->writer->setMaxRows(d->s->stagingRows);
}

// ------------------------------------------------------------ finding publishers

QList<PublisherInfo> attach::listPublishers(int timeoutMs, QStringList* problems)
{
    QList<PublisherInfo> out;
    QString error;
    const QString dir = socketDirectory(&error);
    if (dir.isEmpty()) {
        if (problems)
            problems->append(error);
        return out;
    }
    QElapsedTimer t;
    t.start();
    const QStringList entries =
        QDir(dir).entryList({QStringLiteral("*.sock")}, QDir::System | QDir::Files, QDir::Name);
    for (const QString& name : entries) {
        const QString path = dir + u'/' + name;
        bool ok = false;
        const qint64 pid = QStringView(name).chopped(5).toLongLong(&ok);
        if (!ok || pid <= 0)
            continue; // not one of ours
        if (!QFileInfo::exists(QStringLiteral("/proc/%1").arg(pid))) {
            QFile::remove(path); // its process is gone
            continue;
        }
        const qint64 left = qint64(timeoutMs) - t.elapsed();
        if (left <= 0) {
            if (problems)
                problems->append(QStringLiteral("%1: not asked (the %2 ms for listing ran out)")
                                     .arg(path)
                                     .arg(timeoutMs));
            continue;
        }
        AttachClient c;
        if (!c.connectTo(path, int(left))) {
            if (problems)
                problems->append(c.errorString());
            continue;
        }
        PublisherInfo info = c.publisher();
        info.socketPath = path;
        c.disconnectFromPublisher();
        out.append(info);
    }
    std::sort(out.begin(), out.end(),
              [](const PublisherInfo& a, const PublisherInfo& b) { return a.pid < b.pid; });
    return out;
}

std::optional<PublisherInfo> attach::findPublisher(const QString& pidOrName, QString* error,
                                                   int timeoutMs)
{
    QStringList problems;
    const QList<PublisherInfo> all = listPublishers(timeoutMs, &problems);
    auto describe = [](const QList<PublisherInfo>& list) {
        QStringList s;
        for (const auto& p : list)
            s.append(QStringLiteral("%1 (pid %2)").arg(p.program).arg(p.pid));
        return s.join(QStringLiteral(", "));
    };
    QList<PublisherInfo> match;
    bool isPid = false;
    const qint64 pid = pidOrName.toLongLong(&isPid);
    for (const auto& p : all) {
        bool m = isPid ? p.pid == pid : p.program == pidOrName;
        if (!isPid) {
            for (const auto& pool : p.pools)
                m = m || pool.name == pidOrName;
        }
        if (m)
            match.append(p);
    }
    if (match.size() == 1)
        return match.first();
    if (error) {
        if (match.size() > 1) {
            *error = QStringLiteral("'%1' is ambiguous: %2; give the pid")
                         .arg(pidOrName, describe(match));
        } else if (all.isEmpty()) {
            *error =
                QStringLiteral("no publisher %1 %2: no program of yours publishes now "
                               "(start one with POOLSCOPE_PUBLISH=1 or publish())")
                    .arg(isPid ? QStringLiteral("with pid") : QStringLiteral("named"), pidOrName);
        } else {
            *error = QStringLiteral("no publisher %1 %2; running: %3")
                         .arg(isPid ? QStringLiteral("with pid") : QStringLiteral("named"),
                              pidOrName, describe(all));
        }
        if (!problems.isEmpty())
            *error +=
                QStringLiteral(" (not answering: %1)").arg(problems.join(QStringLiteral("; ")));
    }
    return std::nullopt;
}

} // namespace poolscope
