#include "attachcontroller.h"

#include "runcontroller.h"

#include <QLocale>

namespace poolscope {

AttachController::AttachController(RunController* controller, QObject* parent)
    : QObject(parent)
    , m_controller(controller)
{
    m_followTimer.setInterval(500);
    connect(&m_followTimer, &QTimer::timeout, this, &AttachController::followNewest);
    // The RunController may drop the pool on its own (a run of the window's
    // own cannot start while attached, but a detach from elsewhere can).
    connect(m_controller, &RunController::adoptedChanged, this, [this](bool adopted) {
        if (!adopted && m_client && !m_pool)
            emit stateChanged();
    });
}

AttachController::~AttachController()
{
    m_followTimer.stop();
}

QString AttachController::description() const
{
    if (!m_client)
        return {};
    QString text = QStringLiteral("%1 (pid %2)").arg(m_program.program).arg(m_program.pid);
    if (m_pool)
        text += QStringLiteral(", pool \"%1\" (%2)").arg(m_poolInfo.name, m_poolInfo.kind);
    return text;
}

QString AttachController::statusText() const
{
    if (!m_client)
        return {};
    if (m_ended)
        return tr("%1. The panels keep its last state (export or replay it); File > Detach "
                  "(Ctrl+Shift+D).")
            .arg(m_endText);
    if (!m_pool)
        return tr("Watching %1: no pool published yet (waiting for one).").arg(description());
    const QString control =
        m_poolInfo.control.isEmpty()
            ? tr("read-only: the program allowed no control when it published the pool")
            : tr("the program allows: %1").arg(m_poolInfo.control.join(QLatin1String(", ")));
    QString text = tr("Watching %1 - %2.").arg(description(), control);
    // skipped is cumulative; row_budget is the publisher's state now (0
    // while a monitor of the program's own takes the rows).
    if (const quint64 skipped = m_pool->skippedRows(); skipped > 0 && m_pool->rowBudget() > 0)
        text += tr(" %1 of its tasks were not recorded for viewers: it finished more than the "
                   "%2 tasks a second it publishes rows for, or a monitor of the program's own "
                   "took them (the counters stay exact).")
                    .arg(QLocale().toString(skipped))
                    .arg(QLocale().toString(m_pool->rowBudget()));
    else if (skipped > 0)
        text += tr(" %1 of its tasks were not sent: a monitor of the program's own records "
                   "this pool now (earlier ones, if any: it ran faster than its row budget; "
                   "the counters stay exact).")
                    .arg(QLocale().toString(skipped));
    return text;
}

bool AttachController::attachTo(const QString& target, QString* error)
{
    QString why;
    const std::optional<PublisherInfo> program = attach::findPublisher(target, &why);
    if (!program) {
        if (error)
            *error = why;
        return false;
    }
    // A pool's name picks that pool; a pid or program name follows the program.
    std::optional<quint64> pool;
    if (program->program != target && QString::number(program->pid) != target) {
        for (const PoolInfo& p : program->pools) {
            if (p.name == target)
                pool = p.id;
        }
    }
    return attachTo(*program, pool, error);
}

bool AttachController::attachTo(const PublisherInfo& program, std::optional<quint64> pool,
                                QString* error)
{
    auto fail = [error](const QString& text) {
        if (error)
            *error = text;
        return false;
    };
    if (m_controller->isRunning())
        return fail(tr("%n run(s) of this window are still active: stop them (Shift+F5) or let "
                       "them finish before watching another program",
                       nullptr, m_controller->activeRuns()));
    auto client = std::make_unique<AttachClient>();
    if (!client->connectTo(program.socketPath))
        return fail(tr("cannot attach to %1 (pid %2): %3")
                        .arg(program.program)
                        .arg(program.pid)
                        .arg(client->errorString()));
    if (pool) {
        bool known = false;
        for (const PoolInfo& p : client->publisher().pools)
            known = known || p.id == *pool;
        if (!known)
            return fail(tr("%1 (pid %2) no longer publishes pool %3")
                            .arg(program.program)
                            .arg(program.pid)
                            .arg(*pool));
    }
    detach();
    m_client = std::move(client);
    m_program = m_client->publisher();
    m_follow = !pool.has_value();
    m_ended = false;
    m_endText.clear();
    connect(m_client.get(), &AttachClient::closed, this, &AttachController::onClosed);
    connect(m_client.get(), &AttachClient::poolsChanged, this, [this] {
        m_program = m_client->publisher();
        followNewest();
        emit stateChanged();
    });
    if (pool) {
        QString why;
        if (!watchPool(*pool, &why)) {
            detach();
            return fail(why);
        }
    } else {
        followNewest();
        m_followTimer.start();
    }
    emit message(tr("Attached to %1 (pid %2)").arg(m_program.program).arg(m_program.pid));
    emit stateChanged();
    return true;
}

bool AttachController::watchPool(quint64 id, QString* error)
{
    std::unique_ptr<AttachedPool> pool = m_client->watch(id);
    if (!pool) {
        if (error)
            *error = m_client->errorString();
        return false;
    }
    AttachedPool* raw = pool.get();
    const PoolInfo info = raw->info();
    const QString desc = QStringLiteral("%1 (pid %2), pool \"%3\" (%4)")
                             .arg(m_program.program)
                             .arg(m_program.pid)
                             .arg(info.name, info.kind);
    if (!m_controller->adoptPool(std::move(pool), desc)) {
        if (error)
            *error = tr("runs of this window are still active");
        return false;
    }
    m_pool = raw;
    m_poolInfo = info;
    m_lastSkipped = 0;
    m_lastBudget = raw->rowBudget();
    // The banner says how many tasks were left out and why, as that changes.
    connect(raw, &AttachedPool::updated, this, [this, raw] {
        if (raw == m_pool
            && (raw->skippedRows() != m_lastSkipped || raw->rowBudget() != m_lastBudget)) {
            m_lastSkipped = raw->skippedRows();
            m_lastBudget = raw->rowBudget();
            emit stateChanged();
        }
    });
    return true;
}

void AttachController::followNewest()
{
    if (!m_client || !m_follow || m_ended)
        return;
    const PoolInfo* newest = nullptr;
    for (const PoolInfo& p : m_program.pools) {
        if (!newest || p.id > newest->id)
            newest = &p;
    }
    if (!newest || (m_pool && newest->id == m_poolInfo.id))
        return;
    if (m_pool) {
        // Move on once the watched pool is over (no longer published, or
        // shut down) or has finished all it was given so far: a snapshot
        // that counts every submitted task done also carried their rows.
        // Never on a snapshot that saw nothing submitted yet: the pool may
        // have done all its work since, and that would be lost.
        bool listed = false;
        for (const PoolInfo& p : m_program.pools)
            listed = listed || p.id == m_poolInfo.id;
        const Counters c = m_pool->counters();
        const bool finished = c.submitted > 0 && c.queued + c.running == 0;
        if (listed && !m_pool->isShutdown() && !finished)
            return;
    }
    QString why;
    if (watchPool(newest->id, &why)) {
        emit message(tr("Now watching pool \"%1\" of %2").arg(m_poolInfo.name, m_program.program));
        emit stateChanged();
    }
}

void AttachController::onClosed(const QString& reason, bool bye)
{
    m_ended = true;
    m_followTimer.stop();
    m_endText =
        bye ? tr("%1 (pid %2) ended: %3").arg(m_program.program).arg(m_program.pid).arg(reason)
            : tr("%1 (pid %2) was lost: %3").arg(m_program.program).arg(m_program.pid).arg(reason);
    emit message(m_endText);
    emit stateChanged();
}

void AttachController::detach()
{
    if (!m_client)
        return;
    m_followTimer.stop();
    if (m_pool && m_controller->watchesOtherProgram())
        m_controller->releasePool();
    m_pool.clear();
    disconnect(m_client.get(), nullptr, this, nullptr);
    m_client.reset();
    m_program = {};
    m_poolInfo = {};
    m_ended = false;
    m_endText.clear();
    emit stateChanged();
}

} // namespace poolscope
