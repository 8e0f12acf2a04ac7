#pragma once
// Attach: watch the pools of another program on this machine (docs/attach.md).
//
// Publisher side: publish() makes an executor of this program visible on a
// private Unix-domain socket (one per process, served by a thread of its
// own). Viewer side: listPublishers()/findPublisher() find the programs of
// this user that publish, AttachClient connects to one, and watch() gives an
// Executor proxy for one of its pools that a Monitor attaches to exactly as
// to a local pool, so every view works unchanged.
//
// A library of its own (PoolScope::attach) because QLocalServer/QLocalSocket
// are Qt6::Network: poolscope_core keeps linking Qt6::Core only.

#include <poolscope/executor.h>

#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

#include <functional>
#include <memory>
#include <optional>

namespace poolscope {

/// What publish() allows and how it serves.
struct PublishOptions {
    /// Operations a viewer may ask for: any of "resize", "pause", "resume",
    /// "step", "cancel_pending". Empty: read-only (the default).
    QStringList control;
    /// For "cancel_pending": how the program cancels its own pending tasks
    /// (an Executor does not own its futures); returns how many. Without it
    /// "cancel_pending" is refused even when listed.
    std::function<int()> cancelPending;
    /// Snapshot period (ms) while a viewer watches this pool.
    int intervalMs = 100;
    /// Unsent bytes a viewer's connection may hold before its frames are
    /// skipped and their rows counted as lost (docs/attach.md).
    qint64 viewerBufferBytes = 8 * 1024 * 1024;
    /// Most task rows a second the publisher records for its viewers. A pool
    /// that finishes more tasks than that stops being recorded (its workers
    /// then pay only the counters), is tried again each second, and the
    /// tasks it finished meanwhile are counted and said ("skipped"), never
    /// dropped silently. 0: every row, whatever it costs the program.
    quint64 maxRowsPerSecond = 100'000;
};

/// Keeps one pool published; destroying it unpublishes the pool (viewers get
/// a `pools` frame). Destroy it before the executor.
class Publication {
public:
    virtual ~Publication() = default;
    virtual quint64 poolId() const = 0;
    /// The socket viewers connect to.
    virtual QString socketPath() const = 0;
};

/// Publishes `executor` under `name` (docs/attach.md): starts this process's
/// publisher on first use. Throws poolscope::Error with a clear message when
/// the socket directory is unsafe or the socket cannot be made, and
/// InvalidArgument when the pool is already published by publish() (one
/// publication per pool; it replaces a POOLSCOPE_PUBLISH=1 publication).
std::unique_ptr<Publication> publish(Executor* executor, const QString& name,
                                     const PublishOptions& options = {});

/// Publishing without code changes: with POOLSCOPE_PUBLISH=1 in the
/// environment, every ThreadPool and ProcessPool a program linked with
/// PoolScope::attach makes publishes itself (read-only, named by its kind
/// and a number) until it is destroyed. Called once by the library's static
/// initialiser; exposed for tests.
void enablePublishFromEnvironment();

/// One published pool, as a viewer sees it.
struct PoolInfo {
    quint64 id = 0;
    QString name;
    QString kind; // thread, process, mpi, python-thread, python-process, python-asyncio
    int maxWorkers = 0;
    QStringList control; // operations allowed; empty = read-only
};

/// One publishing program.
struct PublisherInfo {
    qint64 pid = 0;
    qint64 uid = -1;
    QString program;
    QString language; // "c++" or "python"
    QString runtime;
    QString socketPath;
    QList<PoolInfo> pools;
};

namespace attach {
/// The directory this user's publishers listen in (docs/attach.md), created
/// 0700 if missing; empty with *error set when it is unsafe or cannot be
/// made.
QString socketDirectory(QString* error = nullptr);
/// Every running publisher of this user, by pid. Connects to each socket
/// (at most timeoutMs in all); removes sockets of processes that are gone.
/// Sockets that did not answer are named in *problems.
QList<PublisherInfo> listPublishers(int timeoutMs = 1000, QStringList* problems = nullptr);
/// A publisher by pid ("1234") or by program or pool name. Empty, with
/// *error naming what there is, when none or several match.
std::optional<PublisherInfo> findPublisher(const QString& pidOrName, QString* error,
                                           int timeoutMs = 1000);
} // namespace attach

class AttachedPool;

/// One connection to a publisher, living on the thread that made it (its
/// socket is read by that thread's event loop).
class AttachClient : public QObject {
    Q_OBJECT
public:
    explicit AttachClient(QObject* parent = nullptr);
    ~AttachClient() override;

    /// Connects and waits (at most timeoutMs) for the publisher's hello.
    /// False with errorString() on failure.
    bool connectTo(const QString& socketPath, int timeoutMs = 2000);
    void disconnectFromPublisher();
    bool isConnected() const;
    QString errorString() const;
    /// What the hello (and later `pools` frames) said.
    const PublisherInfo& publisher() const;

    /// A proxy for one pool of the publisher: it watches the pool and is fed
    /// by this connection. A Monitor attaches to it as to a local pool.
    /// Nullptr (errorString()) for an unknown pool id. The proxy outlives
    /// the connection: it then keeps its last state and says
    /// isShutdown() and closedReason().
    std::unique_ptr<AttachedPool> watch(quint64 poolId);

signals:
    void poolsChanged(const QList<poolscope::PoolInfo>& pools);
    /// The connection ended: bye = the program said goodbye (it ended or
    /// stopped publishing) with its reason; otherwise the reason says the
    /// connection was lost (the program died) or a frame was refused.
    void closed(const QString& reason, bool bye);
    void controlReplied(quint64 requestId, bool ok, const QString& error);

private:
    friend class AttachedPool;
    struct Impl;
    std::unique_ptr<Impl> d;
};

/// An Executor that mirrors a pool of another program (AttachClient::watch).
/// It runs nothing itself: submitNamed() gives a failed future saying so;
/// setMaxWorkers/pause/resume/step ask the program, and throw
/// poolscope::Error naming the operation when the program did not allow it
/// (allows()). Counters, workers, the queue head and every finished task
/// come from the program's snapshots; rows it did not send (the viewer fell
/// behind) are counted as lost in the run record.
class AttachedPool : public Executor {
    Q_OBJECT
public:
    ~AttachedPool() override;

    const PoolInfo& info() const;
    const PublisherInfo& publisherInfo() const;
    bool allows(const QString& op) const;
    /// True once the connection ended (closedReason() says how).
    bool connectionClosed() const;
    QString closedReason() const;
    /// Rows the publisher could not send to this viewer (docs/attach.md),
    /// skippedRows() included.
    quint64 lostRows() const;
    /// Of lostRows(), cumulative: tasks the program finished while it did
    /// not record them for viewers: running faster than its row budget, or
    /// while a Monitor of the program's own took the rows.
    quint64 skippedRows() const;
    /// The program's row budget (rows a second) now; 0 when it has none or
    /// while a Monitor of the program's own takes the rows.
    quint64 rowBudget() const;
    /// "cancel_pending": asks the program to cancel its pending tasks.
    void cancelPending();

    QString kind() const override;
    Future<QCborValue> submitNamed(const QString& name, const QCborArray& args,
                                   const TaskOptions& options = {}) override;
    Future<QCborValue> submitNamedBatch(const QString& name, const QList<QCborArray>& items,
                                        const TaskOptions& options = {}) override;
    void shutdown(bool wait = true, bool cancelFutures = false) override;
    bool isShutdown() const override;
    bool isBroken() const override;
    QString brokenReason() const override;
    void setMaxWorkers(int n) override;
    int maxWorkers() const override;
    int workerCount() const override;
    void pause() override;
    void resume() override;
    void step() override;
    bool isPaused() const override;
    Counters counters() const override;
    bool waitForIdle(const Deadline& deadline = Deadline::never()) const override;

    void setRecording(bool on) override;
    void collectTelemetry(TelemetryBatch& out, int queueHeadMax) override;
    void setStagingCapacity(std::size_t rows) override;

signals:
    /// A snapshot arrived (views that are not driven by a Monitor).
    void updated();
    void closed(const QString& reason, bool bye);

private:
    friend class AttachClient;
    struct Impl;
    explicit AttachedPool(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> d;
};

} // namespace poolscope
