// MainWindow's part in watching another program (docs/attach.md): the
// File > Attach / Detach actions, the banner above the panels, and the
// watched pool's tasks taken as "the last run" for the analysis, replay
// and A/B when the pool falls idle or its program ends.
#include "attach/attachcontroller.h"
#include "attach/attachdialog.h"
#include "mainwindow.h"
#include "teaching/analysispanel.h"
#include "timeline/timelinewidget.h"

#include <QAction>
#include <QLabel>
#include <QMessageBox>
#include <QStatusBar>
#include <QThread>
#include <QToolBar>

namespace poolscope {

void MainWindow::buildAttach()
{
    m_attach = new AttachController(m_controller, this);

    QAction* a = makeAction(QStringLiteral("attach"), tr("&Attach to a program..."),
                            QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
    a->setStatusTip(tr("Watch the pools of another program of yours: a Python script run "
                       "under python3 -m poolscope_probe, or a C++ program that publishes "
                       "its executors"));
    connect(a, &QAction::triggered, this, [this] {
        AttachDialog dialog(this);
        if (dialog.exec() != QDialog::Accepted)
            return;
        const std::optional<PublisherInfo> program = dialog.chosenProgram();
        if (!program)
            return;
        QString why;
        if (!m_attach->attachTo(*program, dialog.chosenPool(), &why))
            onError(why);
    });
    QAction* d = makeAction(QStringLiteral("detach"), tr("&Detach"),
                            QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_D));
    d->setStatusTip(tr("Stop watching the other program; the panels keep its last state"));
    connect(d, &QAction::triggered, this, [this] {
        takeAttachedRun();
        m_attach->detach();
    });

    m_attachBar = new QToolBar(tr("Watched program"), this);
    m_attachBar->setObjectName(QStringLiteral("attachToolBar"));
    m_attachBar->setFloatable(false);
    m_attachBar->setMovable(false);
    m_attachLabel = new QLabel(this);
    m_attachLabel->setObjectName(QStringLiteral("attachBanner"));
    // One line across the window (its tooltip has the whole text when the
    // window is too narrow for it).
    m_attachLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_attachLabel->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
    m_attachLabel->setMinimumWidth(200);
    m_attachLabel->setContentsMargins(6, 2, 6, 2);
    m_attachBar->addWidget(m_attachLabel);
    m_attachBar->addAction(d);
    addToolBarBreak();
    addToolBar(Qt::TopToolBarArea, m_attachBar);
    m_attachBar->hide();

    connect(m_attach, &AttachController::message, this,
            [this](const QString& text) { statusBar()->showMessage(text, 8000); });
    connect(m_attach, &AttachController::stateChanged, this, [this] {
        const QString text = m_attach->statusText();
        m_attachLabel->setText(text);
        // Ended: the colour of an error, since the panels no longer move.
        m_attachLabel->setStyleSheet(
            m_attach->programEnded() ? QStringLiteral("QLabel { color: #b00020; }") : QString());
        m_attachBar->setVisible(!text.isEmpty());
        m_attachLabel->setToolTip(text);
        // The run controls set up workloads of the window's own: while
        // another program is watched they only take the panels' room.
        const bool attached = m_attach->isAttached();
        if (attached && !m_controlsHiddenForAttach) {
            m_controlsHiddenForAttach = true;
            m_controlsWereVisible = m_controlToolBar->isVisibleTo(this);
            m_controlToolBar->hide();
        } else if (!attached && m_controlsHiddenForAttach) {
            m_controlsHiddenForAttach = false;
            m_controlToolBar->setVisible(m_controlsWereVisible);
        }
        setWindowTitle(m_attach->isAttached()
                           ? tr("PoolScope - %1").arg(m_attach->publisher().program)
                           : tr("PoolScope"));
        if (m_attach->programEnded())
            takeAttachedRun();
        updateActions();
        updateHint();
    });
    connect(m_controller, &RunController::adoptedChanged, this, [this](bool adopted) {
        m_attachTaken = 0;
        if (adopted)
            m_timeline->setFollowing(true);
    });
    // The watched pool fell idle after doing something: that is a "run".
    connect(m_controller, &RunController::snapshotReady, this, [this](const Snapshot& s) {
        if (!m_controller->watchesOtherProgram())
            return;
        if (s.counters.queued + s.counters.running == 0 && s.counters.completed() > m_attachTaken)
            takeAttachedRun();
    });
}

void MainWindow::takeAttachedRun()
{
    if (!m_controller->watchesOtherProgram())
        return;
    Monitor* monitor = m_controller->monitor();
    monitor->drainAll();
    const std::shared_ptr<RunRecord> record = monitor->record();
    const Counters c = monitor->last().counters;
    if (!record || record->empty() || c.completed() == m_attachTaken)
        return;
    m_attachTaken = c.completed();
    RunContext ctx;
    ctx.workers = m_controller->executor()->maxWorkers();
    ctx.cores = QThread::idealThreadCount();
    m_lastContext = ctx;
    m_analysis->analyse(*record, ctx);
    const RunTotals& t = record->totals();
    if (t.firstNs > 0 && t.lastEndNs > t.firstNs) {
        m_timeline->showRun(t.firstNs, t.lastEndNs);
        frameCharts({t.firstNs, t.lastEndNs, 0});
    }
    const QString label = m_attach->description();
    TraceData trace = monitor->traceData(label);
    trace.counters.clear();
    m_lastRun = std::move(trace);
    m_lastRunLabel = label;
    updateActions();
}

bool MainWindow::attachTo(const QString& target, QString* error)
{
    QString why;
    const bool ok = m_attach->attachTo(target, &why);
    if (!ok) {
        onError(why);
        if (error)
            *error = why;
    }
    return ok;
}

} // namespace poolscope
