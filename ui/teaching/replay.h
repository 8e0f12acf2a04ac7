#pragma once
// Record and replay (docs/gui.md): a run saved as a Chrome trace
// (RunController::exportTrace / poolscope-cli --trace) is loaded back and
// played like a recording, so a class can watch it again, pause it and
// scrub through it.
//
// ReplayController drives a TimelineWidget (the run's record with a horizon
// at the current position: tasks started by then, those still running cut
// there) and a
// FuturesModel (the tasks finished by the position: a prefix of the
// record's rows in end order). Position runs 0..durationNs() from the first span's
// start; play() advances it at 1x, 4x or 16x from a QTimer. ReplayBar is
// the scrubber: play/pause, speed, a slider, the time. ReplayCharts
// (replaycharts.h) draws the recording's throughput and per-core charts up to
// the position.

#include <poolscope/traceexport.h>

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>
#include <QWidget>

#include <vector>

class QComboBox;
class QLabel;
class QPushButton;
class QSlider;

namespace poolscope {

class FuturesModel;
class TimelineWidget;

class ReplayController : public QObject {
    Q_OBJECT
public:
    explicit ReplayController(QObject* parent = nullptr);

    /// Views to drive (either may be null). Not owned.
    void setTimeline(TimelineWidget* timeline);
    void setFuturesModel(FuturesModel* model);

    /// Reads a PoolScope trace (Chrome JSON or Perfetto protobuf, told apart
    /// by content). On failure emits error() with a clear
    /// sentence (file unreadable, not JSON, not a trace, no tasks) and keeps
    /// the previous recording. On success shows the whole run (position =
    /// duration) and emits loaded().
    bool load(const QString& path);
    /// The same from bytes; sourceName names them in messages.
    bool loadData(const QByteArray& json, const QString& sourceName = {});
    /// Replays a trace already in memory (Monitor::traceData()).
    void setTrace(const TraceData& trace);
    void unload();

    bool isLoaded() const { return m_loaded; }
    const TraceData& trace() const { return m_trace; }
    QString sourceName() const { return m_source; }
    qint64 durationNs() const { return m_durationNs; }
    /// The trace's time (TaskSpan clock) of position 0: the first submission.
    qint64 startNs() const { return m_startNs; }
    qint64 positionNs() const { return m_positionNs; }
    /// Spans shown at the current position (started by it).
    int visibleSpanCount() const { return int(m_visibleSpans); }
    /// Rows in the futures model (tasks finished by the position).
    int finishedCount() const { return int(m_finished); }
    bool isPlaying() const { return m_timer.isActive(); }
    int speed() const { return m_speed; }
    /// Files larger than this are refused before reading (2 GiB):
    /// readChromeTrace has its own event limit, this keeps a wrong file
    /// from filling memory first.
    static constexpr qint64 maxFileBytes() { return qint64(2) << 30; }
    /// 1, 4 and 16: the speeds offered by ReplayBar.
    static QList<int> speeds() { return {1, 4, 16}; }

public slots:
    /// 0 .. durationNs(), clamped.
    void setPosition(qint64 ns);
    void play();
    void pause();
    void togglePlay();
    /// Speed factor (>= 1); the bar offers 1x, 4x, 16x.
    void setSpeed(int factor);
    /// Back to 0 (paused).
    void rewind();
    /// Shows the whole run again (after zooming in).
    void fitToRun() { fitView(); }

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

signals:
    void loaded(const QString& title, int tasks, qint64 durationNs);
    void error(const QString& message);
    void positionChanged(qint64 ns);
    /// unload(): no recording any more.
    void unloaded();
    void playingChanged(bool playing);
    /// Play reached the end.
    void finished();

private:
    void adopt(TraceData trace, const QString& source);
    void fitView();
    void tick();
    void apply(qint64 previousNs);

    TraceData m_trace;
    QString m_source;
    bool m_loaded = false;
    qint64 m_startNs = 0; // absolute time of position 0
    qint64 m_durationNs = 0;
    qint64 m_positionNs = 0;
    std::shared_ptr<RunRecord> m_byEnd; // the trace's rows in end order
    std::vector<qint64> m_starts;       // start times of the tasks that ran, sorted
    std::size_t m_finished = 0;         // m_byEnd prefix in the futures model
    std::size_t m_visibleSpans = 0;
    QHash<int, QString> m_laneNames;
    QPointer<TimelineWidget> m_timeline;
    QPointer<FuturesModel> m_model;
    QTimer m_timer;
    QElapsedTimer m_clock;
    int m_speed = 1;
    bool m_autoFit = true;   // keep the whole run in view until the user zooms/pans
    bool m_applying = false; // our own view changes
};

/// The scrubber: Play/Pause, speed (1x/4x/16x), a slider over the run and
/// the position. Open... asks for a trace file (QFileDialog) and loads it.
class ReplayBar : public QWidget {
    Q_OBJECT
public:
    explicit ReplayBar(ReplayController* controller, QWidget* parent = nullptr);

    QSlider* slider() const { return m_slider; }
    /// Slider units per nanosecond divisor (µs, or ms for runs over 35 min).
    qint64 sliderUnitNs() const { return m_unitNs; }

private:
    void sync();

    ReplayController* m_controller;
    QPushButton* m_open = nullptr;
    QPushButton* m_play = nullptr;
    QComboBox* m_speed = nullptr;
    QSlider* m_slider = nullptr;
    QLabel* m_time = nullptr;
    qint64 m_unitNs = 1000;
    bool m_updating = false;
};

} // namespace poolscope
