// MainWindow's part in program lessons (lesson 11, "Your own Python code"):
// the lesson's Run starts its script under poolscope_probe (ProgramRun),
// the window attaches to it so every panel shows the script's pools, and
// the Lesson panel says what the script does and how it ended. Stop (the
// panel's Run, as Stop, or the window's Stop) kills it.
#include "attach/attachcontroller.h"
#include "mainwindow.h"
#include "teaching/lesson.h"
#include "teaching/programrun.h"
#include "timeline/timelinewidget.h"

#include <QAction>
#include <QDockWidget>
#include <QStatusBar>

namespace poolscope {

void MainWindow::buildProgramRun()
{
    m_programRun = new ProgramRun(m_attach, this);
    m_programRun->setObjectName(QStringLiteral("programRun"));

    connect(m_programRun, &ProgramRun::message, this,
            [this](const QString& text) { statusBar()->showMessage(text, 10000); });
    connect(m_programRun, &ProgramRun::statusChanged, this, [this](const QString& text) {
        m_lesson->setProgramStatus(text, m_programRun->state() == ProgramRun::State::Failed);
    });
    connect(m_programRun, &ProgramRun::stateChanged, this, [this](ProgramRun::State state) {
        using S = ProgramRun::State;
        m_lesson->setProgramRunning(state == S::Starting || state == S::Attached);
        if (state == S::Failed)
            onError(m_programRun->errorString());
        if (state == S::Ended && !m_programRun->wasStopped()) {
            // What the script measured itself (its last line in words),
            // beside the class's prediction.
            const QString result = m_programRun->resultLine();
            if (!result.isEmpty())
                m_lesson->setMeasured(result);
        }
        updateActions();
    });
    // Another lesson, or Detach: the script belonged to the lesson it ran for.
    connect(m_lesson, &LessonPanel::lessonChanged, this, [this](const Lesson& l) {
        if (!l.scenario.isProgram())
            resetLessonProgram();
    });
    connect(m_lesson, &LessonPanel::stopRequested, m_programRun, &ProgramRun::stop);
}

void MainWindow::runLessonProgram(const Lesson& lesson)
{
    m_abPlan.clear();
    // The window's own runs make way (attaching is refused while they are
    // active; ProgramRun retries until they have stopped).
    if (m_controller->isRunning())
        m_controller->stop();
    m_lesson->setMeasured({});
    QString why;
    if (!m_programRun->start(lesson.scenario.program, lesson.scenario.programArgs, &why))
        return; // stateChanged(Failed) has said why, in the panel and the status bar
    m_timeline->setFollowing(true);
}

void MainWindow::resetLessonProgram()
{
    const qint64 pid = m_programRun->pid();
    m_programRun->stop();
    if (pid > 0 && m_attach->isAttached() && m_attach->publisher().pid == pid) {
        takeAttachedRun();
        m_attach->detach();
    }
    m_lesson->setMeasured({});
    if (m_lesson->hasLesson() && m_lesson->currentLesson().scenario.isProgram()) {
        const QString why = m_lesson->currentLesson().scenario.validate();
        m_lesson->setProgramStatus(why, !why.isEmpty());
    }
}

} // namespace poolscope
