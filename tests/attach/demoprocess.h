#pragma once
// The demo publisher (poolscope-attach-demo, tests/attach/attach_demo.cpp) as
// a child process, for the viewer tests (window, poolscope-cli top). The
// target defines POOLSCOPE_ATTACH_DEMO as the program's path.

#include <QDeadlineTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>
#include <QStringList>

namespace poolscope::test {

/// Prints READY once published, waits for a line on stdin when asked to
/// (--wait-viewer: the test attaches before any task runs), then prints its
/// own counters as one JSON line at the end.
class DemoProcess {
public:
    static constexpr int kWaitMs = 60'000;

    explicit DemoProcess(const QStringList& args)
    {
        m_proc.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_proc.start(QStringLiteral(POOLSCOPE_ATTACH_DEMO), args);
    }
    ~DemoProcess()
    {
        if (m_proc.state() != QProcess::NotRunning) {
            m_proc.kill();
            m_proc.waitForFinished(5000);
        }
    }
    DemoProcess(const DemoProcess&) = delete;
    DemoProcess& operator=(const DemoProcess&) = delete;

    /// Waits for its READY line; false if it ended first.
    bool ready()
    {
        QDeadlineTimer deadline(kWaitMs);
        while (!m_out.contains("READY") && !deadline.hasExpired()) {
            if (!m_proc.waitForReadyRead(200) && m_proc.state() == QProcess::NotRunning)
                return false;
            m_out += m_proc.readAllStandardOutput();
        }
        return m_out.contains("READY");
    }
    /// The line --wait-viewer waits for.
    void go() { m_proc.write("go\n"); }
    qint64 pid() const { return m_proc.processId(); }
    QProcess& process() { return m_proc; }
    /// The program's own counters (its last line), once it ended; empty if
    /// it did not end in time. Waits with the event loop running (a viewer
    /// in this thread reads its socket meanwhile).
    QJsonObject finish()
    {
        if (m_proc.state() != QProcess::NotRunning) {
            QSignalSpy done(&m_proc, &QProcess::finished);
            if (!done.wait(kWaitMs) && m_proc.state() != QProcess::NotRunning)
                return {};
        }
        m_out += m_proc.readAllStandardOutput();
        return QJsonDocument::fromJson(m_out.trimmed().split('\n').last()).object();
    }

private:
    QProcess m_proc;
    QByteArray m_out;
};

} // namespace poolscope::test
