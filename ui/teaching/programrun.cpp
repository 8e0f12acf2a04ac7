#include "teaching/programrun.h"

#include "attach/attachcontroller.h"

#include <poolscope/attach.h>

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QProcessEnvironment>
#include <QStandardPaths>

#include <signal.h>
#include <unistd.h>

namespace poolscope {

namespace {

constexpr qsizetype kMaxOutput = 1 << 20; // per channel: the tail is what matters
constexpr int kEndGraceMs = 3000;         // the last frames after the process ended

void appendBounded(QByteArray& to, const QByteArray& more)
{
    to += more;
    if (to.size() > kMaxOutput)
        to.remove(0, to.size() - kMaxOutput);
}

/// The first of `candidates` that holds `probe` (a file under it), or empty
/// with *error naming each place and the variable that overrides them.
QString findDir(const char* envName, const QString& installed, const QString& source,
                const QString& probe, const QString& what, QString* error)
{
    const QString fromEnv = qEnvironmentVariable(envName);
    QStringList looked;
    auto holds = [&probe](const QString& dir) {
        return !dir.isEmpty() && QFileInfo::exists(QDir(dir).filePath(probe));
    };
    if (!fromEnv.isEmpty()) { // asked for: no fallback that would hide a typo
        if (holds(fromEnv))
            return QDir::cleanPath(QDir(fromEnv).absolutePath());
        if (error)
            *error = QStringLiteral("%1 was not found in %2 (%3 is set to it)")
                         .arg(what, fromEnv, QLatin1String(envName));
        return {};
    }
    QStringList candidates;
    if (QCoreApplication::instance())
        candidates << QDir(QCoreApplication::applicationDirPath()).filePath(installed);
    if (!source.isEmpty())
        candidates << source;
    for (const QString& dir : std::as_const(candidates)) {
        if (holds(dir))
            return QDir::cleanPath(QDir(dir).absolutePath());
        looked << QDir::cleanPath(dir);
    }
    if (error)
        *error = QStringLiteral("%1 was not found (looked in %2); set %3")
                     .arg(what, looked.join(QStringLiteral(", ")), QLatin1String(envName));
    return {};
}

QString sourceDir(const char* sub)
{
#ifdef POOLSCOPE_SOURCE_DIR
    return QStringLiteral(POOLSCOPE_SOURCE_DIR "/") + QLatin1String(sub);
#else
    Q_UNUSED(sub);
    return {};
#endif
}

} // namespace

// --------------------------------------------------------------- ProgramPaths

QString ProgramPaths::pythonDir(QString* error)
{
    return findDir("POOLSCOPE_PYTHON_DIR", QStringLiteral("../share/poolscope/python"),
                   sourceDir("python"), QStringLiteral("poolscope_probe/__main__.py"),
                   QStringLiteral("the poolscope_probe package (PoolScope's python/ directory)"),
                   error);
}

QString ProgramPaths::examplesDir(QString* error)
{
    return findDir("POOLSCOPE_EXAMPLES_DIR", QStringLiteral("../share/poolscope/examples/python"),
                   sourceDir("examples/python"), QStringLiteral("threads_submit.py"),
                   QStringLiteral("the Python examples (examples/python)"), error);
}

QStringList ProgramPaths::examples()
{
    const QString dir = examplesDir();
    if (dir.isEmpty())
        return {};
    return QDir(dir).entryList({QStringLiteral("*.py")}, QDir::Files, QDir::Name);
}

QString ProgramPaths::resolveScript(const QString& program, QString* error)
{
    auto fail = [error](const QString& why) {
        if (error)
            *error = why;
        return QString();
    };
    const QString p = program.trimmed();
    if (p.isEmpty())
        return fail(QStringLiteral("no program given"));
    if (QDir::isAbsolutePath(p)) {
        const QFileInfo fi(p);
        if (!fi.isFile())
            return fail(QStringLiteral("program '%1': no such file").arg(p));
        return fi.absoluteFilePath();
    }
    QString why;
    const QString dir = examplesDir(&why);
    if (dir.isEmpty())
        return fail(QStringLiteral("program '%1': %2").arg(p, why));
    static const QString prefix = QStringLiteral("examples/python/");
    const QString rel = p.startsWith(prefix) ? p.mid(prefix.size()) : p;
    const QFileInfo fi(QDir(dir).filePath(rel));
    if (!fi.isFile()) {
        const QStringList known = QDir(dir).entryList({QStringLiteral("*.py")}, QDir::Files);
        return fail(
            QStringLiteral("program '%1': no file %2 (examples there: %3)")
                .arg(p, QDir::cleanPath(fi.filePath()),
                     known.isEmpty() ? QStringLiteral("none") : known.join(QStringLiteral(", "))));
    }
    return fi.absoluteFilePath();
}

QString ProgramPaths::defaultInterpreter()
{
    const QString env = qEnvironmentVariable("POOLSCOPE_PYTHON");
    return env.isEmpty() ? QStringLiteral("python3") : env;
}

QString ProgramPaths::findInterpreter(const QString& interpreter, QString* error)
{
    const QString name = interpreter.isEmpty() ? QStringLiteral("python3") : interpreter;
    if (name.contains(QLatin1Char('/'))) {
        const QFileInfo fi(name);
        if (fi.isFile() && fi.isExecutable())
            return fi.absoluteFilePath();
        if (error)
            *error = QStringLiteral("the Python interpreter %1 is not an executable file "
                                    "(set POOLSCOPE_PYTHON to python3's path)")
                         .arg(name);
        return {};
    }
    const QString found = QStandardPaths::findExecutable(name);
    if (found.isEmpty() && error)
        *error = QStringLiteral("%1 was not found on PATH: install Python 3 (e.g. apt install "
                                "python3) or set POOLSCOPE_PYTHON to its path")
                     .arg(name);
    return found;
}

// ----------------------------------------------------------------- ProgramRun

ProgramRun::ProgramRun(AttachController* attach, QObject* parent)
    : QObject(parent)
    , m_attach(attach)
    , m_interpreter(ProgramPaths::defaultInterpreter())
{
    m_attachTimer.setInterval(100);
    connect(&m_attachTimer, &QTimer::timeout, this, &ProgramRun::tryAttach);
    m_endGrace.setSingleShot(true);
    m_endGrace.setInterval(kEndGraceMs);
    connect(&m_endGrace, &QTimer::timeout, this, [this] {
        if (m_state == State::Attached) {
            recordPool();
            setState(State::Ended);
        }
    });
    connect(m_attach, &AttachController::stateChanged, this, &ProgramRun::onAttachState);
}

ProgramRun::~ProgramRun()
{
    m_attachTimer.stop();
    m_endGrace.stop();
    if (m_client)
        disconnect(m_client.get(), nullptr, this, nullptr);
    if (m_process) {
        disconnect(m_process, nullptr, this, nullptr);
        if (m_process->state() != QProcess::NotRunning) {
            killGroup();
            m_process->waitForFinished(2000); // SIGKILL: quick
        }
    }
}

QString ProgramRun::scriptName() const
{
    return QFileInfo(m_script).fileName();
}

bool ProgramRun::start(const QString& program, const QStringList& args, QString* error)
{
    auto refuse = [this, error](const QString& why) {
        m_error = why;
        setState(State::Failed);
        emit message(why);
        if (error)
            *error = why;
        return false;
    };
    if (m_process) { // a script from before: gone, with its workers
        disconnect(m_process, nullptr, this, nullptr);
        if (m_process->state() != QProcess::NotRunning) {
            killGroup();
            m_process->waitForFinished(2000);
        }
        m_process->deleteLater();
        m_process = nullptr;
    }
    m_attachTimer.stop();
    m_endGrace.stop();
    m_state = State::Idle;
    m_pid = 0;
    m_socketPath.clear();
    m_error.clear();
    m_exitCode = -1;
    m_stopped = m_processDone = m_wasAttached = false;
    m_stdout.clear();
    m_stderr.clear();
    m_pools.clear();
    m_pool.clear();
    m_counted.clear();
    m_wanted.clear();
    if (m_client)
        disconnect(m_client.get(), nullptr, this, nullptr);
    m_client.reset();
    m_clientClosed = false;
    m_script.clear();
    m_commandLine.clear();

    QString why;
    const QString python = ProgramPaths::findInterpreter(m_interpreter, &why);
    if (python.isEmpty())
        return refuse(why);
    const QString pythonDir = ProgramPaths::pythonDir(&why);
    if (pythonDir.isEmpty())
        return refuse(why);
    m_script = ProgramPaths::resolveScript(program, &why);
    if (m_script.isEmpty())
        return refuse(why);
    QString socketDir = attach::socketDirectory(&why);
    if (socketDir.isEmpty())
        return refuse(QStringLiteral("cannot watch programs: %1").arg(why));

    m_commandLine = QStringLiteral("%1 -m poolscope_probe %2")
                        .arg(QFileInfo(m_interpreter).fileName(), program.trimmed());
    if (!args.isEmpty())
        m_commandLine += QLatin1Char(' ') + args.join(QLatin1Char(' '));

    m_process = new QProcess(this);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    const QString oldPath = env.value(QStringLiteral("PYTHONPATH"));
    env.insert(QStringLiteral("PYTHONPATH"),
               oldPath.isEmpty() ? pythonDir : pythonDir + QLatin1Char(':') + oldPath);
    env.insert(QStringLiteral("POOLSCOPE_PROBE_WAIT"), QStringLiteral("1")); // every task seen
    env.insert(QStringLiteral("PYTHONUNBUFFERED"), QStringLiteral("1"));     // lines as printed
    m_process->setProcessEnvironment(env);
    m_process->setWorkingDirectory(QFileInfo(m_script).absolutePath());
    m_process->setProgram(python);
    m_process->setArguments(
        QStringList{QStringLiteral("-m"), QStringLiteral("poolscope_probe"), m_script} + args);
    // A group of its own: stop() kills the script and its pool's workers.
    m_process->setChildProcessModifier([] { ::setpgid(0, 0); });
    connect(m_process, &QProcess::readyReadStandardOutput, this,
            [this] { appendBounded(m_stdout, m_process->readAllStandardOutput()); });
    connect(m_process, &QProcess::readyReadStandardError, this,
            [this] { appendBounded(m_stderr, m_process->readAllStandardError()); });
    connect(m_process, &QProcess::finished, this, &ProgramRun::onFinished);
    connect(m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
        if (e == QProcess::FailedToStart)
            fail(QStringLiteral("could not start %1: %2")
                     .arg(m_process->program(), m_process->errorString()),
                 false);
    });
    m_process->start();
    if (m_state == State::Failed) { // FailedToStart, reported synchronously
        if (error)
            *error = m_error;
        return false;
    }
    m_pid = m_process->processId();
    m_socketPath = QDir(socketDir).filePath(QStringLiteral("%1.sock").arg(m_pid));
    m_sinceStart.start();
    setState(State::Starting);
    emit message(statusText());
    m_attachTimer.start();
    tryAttach();
    return true;
}

void ProgramRun::tryAttach()
{
    if (m_state != State::Starting) {
        m_attachTimer.stop();
        return;
    }
    if (!isRunning() || !m_attach)
        return; // onFinished() says why
    if (QFileInfo::exists(m_socketPath)) {
        PublisherInfo info;
        info.pid = m_pid;
        info.program = scriptName();
        info.language = QStringLiteral("python");
        info.socketPath = m_socketPath;
        QString why;
        if (m_attach->attachTo(info, std::nullopt, &why)) {
            m_attachTimer.stop();
            m_wasAttached = true;
            // A connection of our own counts every pool to its end (the
            // window may move on from a pool before its last snapshot).
            auto client = std::make_unique<AttachClient>();
            if (client->connectTo(m_socketPath)) {
                connect(client.get(), &AttachClient::closed, this, [this] {
                    m_clientClosed = true;
                    finishIfDone();
                });
                // Its hello may predate a pool the window watches: watch
                // it once this connection has heard of it.
                connect(client.get(), &AttachClient::poolsChanged, this, &ProgramRun::watchWanted);
                m_client = std::move(client);
            }
            setState(State::Attached);
            recordPool();
            emit message(statusText());
            return;
        }
        m_error = why; // e.g. the window's own runs are still stopping: retried
    }
    if (m_sinceStart.elapsed() > m_attachTimeoutMs) {
        QString why = QStringLiteral("%1 (pid %2) did not publish its pools within %3 s")
                          .arg(scriptName())
                          .arg(m_pid)
                          .arg(m_attachTimeoutMs / 1000.0);
        if (!m_error.isEmpty())
            why += QStringLiteral(": %1").arg(m_error);
        else if (const QString err = lastErrorLine(); !err.isEmpty())
            why += QStringLiteral(": %1").arg(err);
        fail(why + QStringLiteral("; it was stopped"), true);
    }
}

void ProgramRun::onAttachState()
{
    if (m_state != State::Attached || !m_attach)
        return;
    if (!m_attach->isAttached() || m_attach->publisher().pid != m_pid) {
        // Detached, or attached to another program: the lesson run is over
        // for the window (the script may go on; Stop still kills it).
        recordPool();
        return;
    }
    recordPool();
    if (m_attach->programEnded())
        finishIfDone();
}

void ProgramRun::recordPool()
{
    if (m_attach && m_attach->isAttached() && m_attach->publisher().pid == m_pid) {
        AttachedPool* pool = m_attach->pool();
        if (pool && pool != m_pool) {
            m_pool = pool;
            connect(pool, &AttachedPool::updated, this, &ProgramRun::recordPool,
                    Qt::UniqueConnection);
            // Watched by the window first: the probe (POOLSCOPE_PROBE_WAIT)
            // lets the pool start for the window, not for this count.
            m_wanted.insert(pool->info().id);
            watchWanted();
        }
    }
    if (m_pool)
        m_pools[m_pool->info().id] = m_pool->counters();
    emit statusChanged(statusText());
}

void ProgramRun::watchWanted()
{
    if (!m_client || m_clientClosed)
        return;
    for (const quint64 id : std::as_const(m_wanted)) {
        if (m_counted.count(id))
            continue;
        bool listed = false;
        for (const PoolInfo& p : m_client->publisher().pools)
            listed = listed || p.id == id;
        if (!listed)
            continue; // poolsChanged() brings it
        if (std::unique_ptr<AttachedPool> own = m_client->watch(id))
            m_counted.emplace(id, std::move(own));
    }
}

void ProgramRun::onFinished(int exitCode, QProcess::ExitStatus status)
{
    m_processDone = true;
    m_exitCode = status == QProcess::NormalExit ? exitCode : -1;
    m_attachTimer.stop();
    appendBounded(m_stdout, m_process->readAllStandardOutput());
    appendBounded(m_stderr, m_process->readAllStandardError());
    if (m_state == State::Starting) {
        if (m_stopped) {
            setState(State::Ended);
            emit message(statusText());
            return;
        }
        QString why =
            QStringLiteral("%1 ended before it published its pools (%2)")
                .arg(scriptName(), m_exitCode >= 0 ? QStringLiteral("exit code %1").arg(m_exitCode)
                                                   : QStringLiteral("killed"));
        if (const QString err = lastErrorLine(); !err.isEmpty())
            why += QStringLiteral(": %1").arg(err);
        fail(why, false);
        return;
    }
    if (m_state != State::Attached)
        return;
    // The window hears of the end on the socket (its last snapshot, then
    // `bye`, or the connection lost); wait for that, briefly.
    m_endGrace.start();
    finishIfDone();
}

void ProgramRun::finishIfDone()
{
    if (!m_processDone || m_state != State::Attached)
        return;
    const bool windowDone = !m_attach || !m_attach->isAttached()
                            || m_attach->publisher().pid != m_pid || m_attach->programEnded();
    if (!windowDone || (m_client && !m_clientClosed))
        return; // their last frames are on the way (m_endGrace bounds the wait)
    m_endGrace.stop();
    recordPool();
    setState(State::Ended);
    emit message(statusText());
}

void ProgramRun::stop()
{
    if (!isRunning())
        return;
    m_stopped = true;
    killGroup(); // onFinished() follows
}

void ProgramRun::killGroup()
{
    if (!m_process || m_process->state() == QProcess::NotRunning || m_pid <= 0)
        return;
    // The group is the script and its workers (setpgid in the child); the
    // script itself too in case it left the group.
    ::kill(-pid_t(m_pid), SIGKILL);
    m_process->kill();
    // Killed: nothing removes its socket but a later listing. Tidy it now.
    if (!m_socketPath.isEmpty())
        QFile::remove(m_socketPath);
}

void ProgramRun::fail(const QString& why, bool kill)
{
    m_attachTimer.stop();
    m_error = why;
    if (kill) {
        m_stopped = true;
        killGroup();
    }
    setState(State::Failed);
    emit message(why);
}

void ProgramRun::setState(State s)
{
    if (m_state == s && s != State::Failed)
        return;
    m_state = s;
    emit stateChanged(s);
    emit statusChanged(statusText());
}

QJsonObject ProgramRun::summary() const
{
    const QList<QByteArray> lines = m_stdout.split('\n');
    for (auto it = lines.crbegin(); it != lines.crend(); ++it) {
        const QByteArray line = it->trimmed();
        if (!line.startsWith('{'))
            continue;
        const QJsonDocument doc = QJsonDocument::fromJson(line);
        if (doc.isObject())
            return doc.object();
    }
    return {};
}

QString ProgramRun::resultLine() const
{
    const QList<QByteArray> lines = m_stdout.split('\n');
    for (auto it = lines.crbegin(); it != lines.crend(); ++it) {
        const QByteArray line = it->trimmed();
        if (!line.isEmpty() && !line.startsWith('{'))
            return QString::fromUtf8(line);
    }
    return {};
}

QString ProgramRun::lastErrorLine() const
{
    const QList<QByteArray> lines = m_stderr.trimmed().split('\n');
    return lines.isEmpty() ? QString() : QString::fromUtf8(lines.last().trimmed());
}

Counters ProgramRun::totals() const
{
    Counters sum;
    std::map<quint64, Counters> pools = m_pools;
    for (const auto& [id, pool] : m_counted) {
        // The larger of the two views of one pool: each stops at its last snapshot.
        const Counters own = pool->counters();
        if (!pools.count(id) || own.completed() >= pools[id].completed())
            pools[id] = own;
    }
    for (const auto& [id, c] : pools) {
        sum.submitted += c.submitted;
        sum.queued += c.queued;
        sum.running += c.running;
        sum.succeeded += c.succeeded;
        sum.failed += c.failed;
        sum.cancelled += c.cancelled;
        sum.droppedEvents += c.droppedEvents;
    }
    return sum;
}

int ProgramRun::poolsWatched() const
{
    std::map<quint64, bool> ids;
    for (const auto& [id, c] : m_pools)
        ids[id] = true;
    for (const auto& [id, p] : m_counted)
        ids[id] = true;
    return int(ids.size());
}

QString ProgramRun::statusText() const
{
    const Counters t = totals();
    const QString tasks = tr("%n task(s) in %1 pool(s): %2 succeeded, %3 failed, %4 cancelled",
                             nullptr, int(t.submitted))
                              .arg(poolsWatched())
                              .arg(t.succeeded)
                              .arg(t.failed)
                              .arg(t.cancelled);
    switch (m_state) {
    case State::Idle:
        return {};
    case State::Starting:
        return tr("Started %1 (pid %2); waiting for it to publish its pools...")
            .arg(m_commandLine)
            .arg(m_pid);
    case State::Attached:
        return tr("Watching %1 (pid %2) run: %3 so far. Stop kills it.")
            .arg(scriptName())
            .arg(m_pid)
            .arg(tasks);
    case State::Ended: {
        QString text = m_stopped ? tr("%1 (pid %2) was stopped").arg(scriptName()).arg(m_pid)
                       : m_exitCode == 0 ? tr("%1 (pid %2) ended").arg(scriptName()).arg(m_pid)
                                         : tr("%1 (pid %2) ended with exit code %3")
                                               .arg(scriptName())
                                               .arg(m_pid)
                                               .arg(m_exitCode);
        if (m_wasAttached)
            text += tr(" after %1").arg(tasks);
        text += QLatin1Char('.');
        if (!m_stopped && m_exitCode != 0) {
            if (const QString err = lastErrorLine(); !err.isEmpty())
                text += QLatin1Char(' ') + err;
        } else if (const QString res = resultLine(); !m_stopped && !res.isEmpty()) {
            text += tr(" It printed: %1").arg(res);
        }
        return text;
    }
    case State::Failed:
        return m_error;
    }
    return {};
}

} // namespace poolscope
