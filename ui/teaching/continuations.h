#pragma once
// ContinuationsView: lesson 9's proof that the GUI's event loop keeps running
// while a pool works, with the two tools asyncio users know as
// run_in_executor and gather (docs/lessons.md, lesson 9):
//
//   * each of a run's futures (RunController::qfuturesReady) gets
//     qfuture.then(this, ...): the continuation runs on the GUI thread,
//     through its event loop, and updates the line
//     "results delivered on the GUI thread by .then(): k of N (last: ...)";
//     every continuation checks QThread::currentThread() == qApp->thread()
//     and counts the ones that were not (offGuiThread(), 0 expected);
//   * QtFuture::whenAll over those continuations, .then(this, ...), sets
//     "gather (whenAll) done after X ms: N results, sum = S";
//   * a 16 ms heartbeat timer on the GUI thread counts beats and measures
//     its own lateness (event-loop lag, p99 and max) from watch() until the
//     gather is done: the class SEES the window stay responsive.
//
// A task's value is valueOf(result): a number itself, a Mandelbrot band its
// number of pixels inside the set, an array (a chunk) the sum of its items.
// clear() or a new watch() disowns earlier futures: their continuations
// still run but change nothing.

#include <QCborValue>
#include <QElapsedTimer>
#include <QFuture>
#include <QList>
#include <QTimer>
#include <QWidget>

#include <memory>
#include <vector>

class QLabel;

namespace poolscope {

class ContinuationsView : public QWidget {
    Q_OBJECT
public:
    explicit ContinuationsView(QWidget* parent = nullptr);
    /// Late continuations (the pool cancelling its futures while the window
    /// closes, before this object is gone) find a new generation and touch
    /// nothing: the labels may already be deleted.
    ~ContinuationsView() override;

    /// A Mandelbrot band's pixels inside the set, a number, or the sum over an array; else 0.
    static qint64 valueOf(const QCborValue& value);

    int expected() const { return m_expected; }
    /// Continuations run so far for the watched futures (successes and failures).
    int delivered() const { return m_delivered; }
    int failed() const { return m_failed; }
    /// Continuations that did not run on the GUI thread (the lesson says 0).
    int offGuiThread() const { return m_offGui; }
    bool isGathered() const { return m_gathered; }
    /// After the gather: successful results and the sum of their values.
    int gatheredResults() const { return m_gatheredResults; }
    qint64 gatheredSum() const { return m_gatheredSum; }
    int heartbeats() const { return m_beats; }
    bool isBeating() const { return m_heartbeat.isActive(); }
    /// Lateness of the 16 ms heartbeat over the watch so far (ms).
    double lagP99Ms() const;
    double lagMaxMs() const;

    // Child labels by object name: continuationsThen, continuationsGather,
    // continuationsHeartbeat.

public slots:
    /// Attaches .then() to each future and whenAll() to all, starts the heartbeat.
    void watch(quint64 runId, const QList<QFuture<QCborValue>>& futures);
    /// Back to the empty lines; earlier futures are disowned.
    void clear();

private:
    void onDelivered(quint64 generation, int index, const QFuture<QCborValue>& f);
    void onGathered(quint64 generation, const QList<QFuture<QCborValue>>& all);
    void onBeat();
    void showHeartbeat();

    QLabel* m_then = nullptr;
    QLabel* m_gather = nullptr;
    QLabel* m_beat = nullptr;
    // Bumped by clear() and the destructor; continuations compare it before
    // they touch this object. Shared, so a continuation that fires while the
    // view is being destroyed reads the token, not the dying object.
    std::shared_ptr<quint64> m_generation = std::make_shared<quint64>(0);
    quint64 m_runId = 0;
    int m_expected = 0;
    int m_delivered = 0;
    int m_failed = 0;
    int m_offGui = 0;
    bool m_gathered = false;
    int m_gatheredResults = 0;
    qint64 m_gatheredSum = 0;
    QElapsedTimer m_clock; // since watch()
    QTimer m_heartbeat;
    qint64 m_lastBeatNs = -1;
    int m_beats = 0;
    std::vector<double> m_lateMs;
};

} // namespace poolscope
