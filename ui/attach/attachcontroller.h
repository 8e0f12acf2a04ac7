#pragma once
// AttachController: the window's side of watching another program
// (docs/attach.md). It owns the connection (AttachClient), hands the
// watched pool (an AttachedPool) to the RunController, so that every panel
// shows it as it shows a pool of its own, and says in words what is being
// watched and how it ended.
//
// Without a pool asked for, it follows the program: it watches the newest
// pool, and moves on to a newer one once the watched pool has finished what it
// was given (or is shut down, or gone)
// (a script that makes a thread pool, then a process pool, is watched
// through both; each pool's run goes to the monitor's past runs).

#include <poolscope/attach.h>

#include <QObject>
#include <QPointer>
#include <QTimer>

#include <memory>
#include <optional>

namespace poolscope {

class RunController;

class AttachController : public QObject {
    Q_OBJECT
public:
    explicit AttachController(RunController* controller, QObject* parent = nullptr);
    ~AttachController() override;

    /// Attaches to `program`; pool: that pool, or nullopt to follow the
    /// newest. False with *error (nothing changes) when the connection or
    /// the pool is refused, or runs of the window's own are active.
    bool attachTo(const PublisherInfo& program, std::optional<quint64> pool, QString* error);
    /// By pid or program/pool name (attach::findPublisher), following the
    /// program unless `target` names one of its pools.
    bool attachTo(const QString& target, QString* error);
    /// Stops watching; the panels keep the last run.
    void detach();

    bool isAttached() const { return m_client != nullptr; }
    /// The program ended (or was lost) while watched.
    bool programEnded() const { return m_ended; }
    const PublisherInfo& publisher() const { return m_program; }
    /// The pool watched now, or nullptr.
    AttachedPool* pool() const { return m_pool.data(); }
    /// "threads_submit.py (pid 4242), pool \"ThreadPoolExecutor-1\"
    /// (python-thread)"; empty when not attached.
    QString description() const;
    /// The banner: what is watched, read-only or which controls, or how the
    /// program ended.
    QString statusText() const;

signals:
    /// attached, pool changed, program ended, detached: statusText() changed.
    void stateChanged();
    void message(const QString& text);

private:
    bool watchPool(quint64 id, QString* error);
    void followNewest();
    void onClosed(const QString& reason, bool bye);

    RunController* m_controller;
    std::unique_ptr<AttachClient> m_client;
    PublisherInfo m_program;
    QPointer<AttachedPool> m_pool; // owned by the RunController
    PoolInfo m_poolInfo;
    bool m_follow = true;
    bool m_ended = false;
    quint64 m_lastSkipped = 0; // AttachedPool::skippedRows() the banner last said
    quint64 m_lastBudget = 0;  // and rowBudget()
    QString m_endText;
    QTimer m_followTimer;
};

} // namespace poolscope
