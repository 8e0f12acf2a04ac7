#pragma once
// ProgramRun: the run of a lesson whose scenario is a program (lesson 11,
// "Your own Python code"): `python3 -m poolscope_probe SCRIPT ARGS` as a
// child process, which the window then attaches to by pid (docs/attach.md)
// so that every panel shows the script's own pools while it runs.
//
// Where things are found at run time (ProgramPaths):
//   python/             POOLSCOPE_PYTHON_DIR, else <exe dir>/../share/poolscope/python
//                       (installed), else the source tree's python/
//   examples/python/    POOLSCOPE_EXAMPLES_DIR, else <exe dir>/../share/poolscope/
//                       examples/python, else the source tree's
//   the interpreter     POOLSCOPE_PYTHON (a name on PATH or a path), else python3
//
// The script runs with POOLSCOPE_PROBE_WAIT=1: it waits (bounded by the
// probe) for a viewer before its first task and at each new pool, so the
// window sees every task. Attaching is retried on a timer (never a wait on
// the GUI thread) until the script publishes, at most attachTimeoutMs().
// The script runs in a process group of its own: stop() and the destructor
// kill it with its ProcessPoolExecutor workers.

#include <poolscope/telemetry.h>

#include <QElapsedTimer>
#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QProcess>
#include <QSet>
#include <QString>
#include <QStringList>
#include <QTimer>

#include <map>
#include <memory>

namespace poolscope {

class AttachClient;
class AttachController;
class AttachedPool;

namespace ProgramPaths {
/// The directory holding the poolscope_probe package; empty with *error
/// (every place looked in, and the variable to set) when none does.
QString pythonDir(QString* error = nullptr);
/// The directory holding the shipped examples (*.py); empty with *error.
QString examplesDir(QString* error = nullptr);
/// A lesson's `program:` as a file: an absolute path as it is; a relative
/// one ("examples/python/x.py" or "x.py") in examplesDir(). Empty with a
/// clear *error when there is no such file.
QString resolveScript(const QString& program, QString* error = nullptr);
/// POOLSCOPE_PYTHON, else "python3".
QString defaultInterpreter();
/// The interpreter as an executable path (looked up on PATH when it is a
/// bare name); empty with *error when missing.
QString findInterpreter(const QString& interpreter, QString* error = nullptr);
/// The shipped examples (file names, sorted); empty when none are found.
QStringList examples();
} // namespace ProgramPaths

class ProgramRun : public QObject {
    Q_OBJECT
public:
    enum class State {
        Idle,     // nothing started yet
        Starting, // the script runs; not attached yet (it has not published)
        Attached, // the window watches it
        Ended,    // it ended (on its own, or stopped); the panels keep its last state
        Failed,   // it could not start, or never published (errorString())
    };
    Q_ENUM(State)

    explicit ProgramRun(AttachController* attach, QObject* parent = nullptr);
    /// Kills a script that still runs (and its workers); never waits long.
    ~ProgramRun() override;

    void setInterpreter(const QString& interpreter) { m_interpreter = interpreter; }
    QString interpreter() const { return m_interpreter; }
    void setAttachTimeoutMs(int ms) { m_attachTimeoutMs = ms; }
    int attachTimeoutMs() const { return m_attachTimeoutMs; }

    /// Starts `python3 -m poolscope_probe program args`; a script still
    /// running from before is killed first. False with *error (nothing
    /// started) when the interpreter, the probe or the script is missing.
    bool start(const QString& program, const QStringList& args, QString* error = nullptr);
    /// Kills the script (and its worker processes): it ends as "stopped".
    void stop();

    State state() const { return m_state; }
    /// The script's process runs (Starting or Attached).
    bool isRunning() const { return m_process && m_process->state() != QProcess::NotRunning; }
    qint64 pid() const { return m_pid; }
    /// "python3 -m poolscope_probe examples/python/x.py --tasks 8" (as started).
    QString commandLine() const { return m_commandLine; }
    QString scriptPath() const { return m_script; }
    /// Why it failed (Failed), or how it ended (Ended).
    QString errorString() const { return m_error; }
    /// Exit code once Ended (-1 when it was killed or crashed).
    int exitCode() const { return m_exitCode; }
    bool wasStopped() const { return m_stopped; }
    /// What the script printed on stdout, so far.
    QByteArray output() const { return m_stdout; }
    /// The last stdout line that is a JSON object (the examples' summary).
    QJsonObject summary() const;
    /// The last stdout line that is not JSON (the examples' result in words).
    QString resultLine() const;
    /// The counters of every pool of the script the window watched, summed
    /// (the window shows one pool at a time; a script may make several).
    /// Each pool is also watched on a connection of the run's own, from
    /// when the window first watches it to its last snapshot, so a pool the
    /// window has moved on from is still counted in full.
    Counters totals() const;
    int poolsWatched() const;
    /// One line for the Lesson panel and the status bar: what runs, or how
    /// it ended (with the tasks counted), or why it failed.
    QString statusText() const;

signals:
    void stateChanged(poolscope::ProgramRun::State state);
    /// statusText() changed.
    void statusChanged(const QString& text);
    /// Started, attached, ended or failed: the line for the status bar.
    void message(const QString& text);

private:
    void tryAttach();
    void onAttachState();
    void onFinished(int exitCode, QProcess::ExitStatus status);
    void finishIfDone();
    void fail(const QString& why, bool kill);
    void setState(State s);
    void killGroup();
    void recordPool();
    void watchWanted();
    QString lastErrorLine() const;
    QString scriptName() const;

    QPointer<AttachController> m_attach;
    QString m_interpreter;
    int m_attachTimeoutMs = 15'000;
    QProcess* m_process = nullptr;
    qint64 m_pid = 0;
    QString m_script;
    QString m_socketPath;
    QString m_commandLine;
    State m_state = State::Idle;
    QString m_error;
    int m_exitCode = -1;
    bool m_stopped = false;
    bool m_processDone = false;
    bool m_wasAttached = false;
    QByteArray m_stdout;
    QByteArray m_stderr;
    QTimer m_attachTimer;
    QElapsedTimer m_sinceStart;
    QTimer m_endGrace; // the last frames after the process ended
    QPointer<AttachedPool> m_pool;
    std::map<quint64, Counters> m_pools;    // by pool id, the last counters seen
    std::unique_ptr<AttachClient> m_client; // the run's own connection (counting)
    std::map<quint64, std::unique_ptr<AttachedPool>> m_counted; // its pools, by id
    bool m_clientClosed = false;
    QSet<quint64> m_wanted; // pools the window watched: counted on m_client too
};

} // namespace poolscope
