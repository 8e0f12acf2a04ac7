#include "teaching/replay.h"

#include "models/display.h"
#include "models/futuresmodel.h"
#include "teaching/replaycharts.h"
#include "timeline/timelinewidget.h"

#include <QComboBox>
#include <QEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QPushButton>
#include <QSlider>

#include <algorithm>
#include <limits>

namespace poolscope {

namespace {
constexpr int kFrameMs = 33;
constexpr qint64 kMaxTraceBytes = ReplayController::maxFileBytes();
} // namespace

ReplayController::ReplayController(QObject* parent)
    : QObject(parent)
{
    m_timer.setInterval(kFrameMs);
    connect(&m_timer, &QTimer::timeout, this, &ReplayController::tick);
}

void ReplayController::setTimeline(TimelineWidget* timeline)
{
    if (m_timeline) {
        m_timeline->removeEventFilter(this);
        disconnect(m_timeline, nullptr, this, nullptr);
    }
    m_timeline = timeline;
    m_autoFit = true;
    if (!m_timeline)
        return;
    m_timeline->installEventFilter(this);
    connect(m_timeline, &TimelineWidget::viewChanged, this, [this] {
        if (!m_applying)
            m_autoFit = false; // the user zoomed or panned: keep their view
    });
    if (m_loaded)
        apply(-1);
}

void ReplayController::fitView()
{
    if (!m_timeline)
        return;
    const double span = double(std::max<qint64>(m_durationNs, 1'000'000));
    const int width = std::max(1, m_timeline->plotRect().width());
    const bool was = m_applying;
    m_applying = true;
    m_timeline->setView(double(m_startNs) - span * 0.02, span * 1.04 / width);
    m_applying = was;
    m_autoFit = true;
}

bool ReplayController::eventFilter(QObject* watched, QEvent* event)
{
    if (event->type() == QEvent::Resize && watched == m_timeline && m_autoFit && m_loaded)
        fitView();
    return QObject::eventFilter(watched, event);
}

void ReplayController::setFuturesModel(FuturesModel* model)
{
    m_model = model;
    m_finished = 0;
    if (m_loaded)
        apply(-1);
}

bool ReplayController::load(const QString& path)
{
    const QString name = QFileInfo(path).fileName();
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        emit error(tr("Cannot open the trace '%1': %2").arg(path, f.errorString()));
        return false;
    }
    if (f.size() > kMaxTraceBytes) {
        const QLocale l;
        emit error(tr("The trace '%1' is too large to replay: %2 bytes, over the limit of %3 "
                      "bytes (%4)")
                       .arg(name, l.toString(f.size()), l.toString(kMaxTraceBytes),
                            l.formattedDataSize(kMaxTraceBytes, 0)));
        return false;
    }
    const QByteArray data = f.readAll();
    if (f.error() != QFileDevice::NoError) {
        emit error(tr("Cannot read the trace '%1': %2").arg(path, f.errorString()));
        return false;
    }
    return loadData(data, name.isEmpty() ? path : name);
}

bool ReplayController::loadData(const QByteArray& json, const QString& sourceName)
{
    const QString name =
        sourceName.isEmpty() ? tr("the trace") : QStringLiteral("'%1'").arg(sourceName);
    if (json.trimmed().isEmpty()) {
        emit error(tr("Cannot replay %1: the file is empty").arg(name));
        return false;
    }
    QString why;
    std::optional<TraceData> t = readTrace(json, &why);
    if (!t) {
        emit error(
            tr("Cannot replay %1: it is not a readable PoolScope trace (%2)").arg(name, why));
        return false;
    }
    if (t->record->empty()) {
        emit error(tr("Cannot replay %1: it holds no finished tasks").arg(name));
        return false;
    }
    adopt(std::move(*t), sourceName);
    return true;
}

void ReplayController::setTrace(const TraceData& trace)
{
    adopt(trace, {});
}

void ReplayController::adopt(TraceData trace, const QString& source)
{
    pause();
    m_trace = std::move(trace);
    m_source = source;
    m_loaded = true;
    const RecordingExtent extent = recordingExtent(m_trace); // the charts use it too
    m_startNs = extent.startNs;
    m_durationNs = extent.durationNs;
    m_byEnd = m_trace.record->copyInEndOrder();
    m_starts.clear();
    m_starts.reserve(std::size_t(m_trace.size()));
    for (quint64 r = 0; r < m_trace.size(); ++r) {
        if (m_trace.record->started(r))
            m_starts.push_back(m_trace.record->startNs(r));
    }
    std::sort(m_starts.begin(), m_starts.end());
    m_laneNames.clear();
    for (const TraceWorker& w : m_trace.workers)
        m_laneNames.insert(w.index, w.name);
    if (m_timeline) {
        m_applying = true;
        m_timeline->setRecord(m_trace.record, m_laneNames, m_startNs);
        m_applying = false;
    }
    if (m_model) {
        for (auto it = m_laneNames.cbegin(); it != m_laneNames.cend(); ++it)
            m_model->setWorkerName(it.key(), it.value());
        m_model->setRecord(m_byEnd);
    }
    m_autoFit = true;
    m_finished = 0;
    m_positionNs = m_durationNs;
    apply(-1);
    emit positionChanged(m_positionNs);
    // The run's task count (every task, also when the file holds a sample).
    const RecordStats st = m_trace.record->stats();
    emit loaded(m_trace.title, int(st.seen + st.lost), m_durationNs);
}

void ReplayController::unload()
{
    pause();
    m_trace = {};
    m_loaded = false;
    m_durationNs = m_positionNs = 0;
    m_byEnd.reset();
    m_starts.clear();
    m_finished = m_visibleSpans = 0;
    if (m_timeline)
        m_timeline->clear();
    if (m_model)
        m_model->clear();
    emit positionChanged(0);
    emit unloaded();
}

void ReplayController::setPosition(qint64 ns)
{
    if (!m_loaded)
        return;
    ns = std::clamp<qint64>(ns, 0, m_durationNs);
    if (ns == m_positionNs)
        return;
    const qint64 previous = m_positionNs;
    m_positionNs = ns;
    apply(previous);
    emit positionChanged(m_positionNs);
}

void ReplayController::apply(qint64 previousNs)
{
    const qint64 now = m_startNs + m_positionNs;
    // Tasks that have started by now (a prefix of the sorted start times);
    // the timeline shows them cut at now, without rebuilding anything.
    m_visibleSpans =
        std::size_t(std::upper_bound(m_starts.begin(), m_starts.end(), now) - m_starts.begin());
    if (m_timeline) {
        m_applying = true;
        if (m_positionNs >= m_durationNs)
            m_timeline->clearHorizon();
        else
            m_timeline->setHorizon(now);
        if (m_autoFit)
            fitView();
        m_applying = false;
    }

    // Tasks finished by now, in order of completion (as they arrived live):
    // a prefix of the rows in end order.
    std::size_t lo = 0, hi = std::size_t(m_byEnd->size());
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (m_byEnd->endNs(mid) <= now)
            lo = mid + 1;
        else
            hi = mid;
    }
    const std::size_t k = lo;
    if (m_model)
        m_model->setRowLimit(k);
    (void)previousNs;
    m_finished = k;
}

void ReplayController::play()
{
    if (!m_loaded || isPlaying())
        return;
    if (m_positionNs >= m_durationNs)
        setPosition(0);
    m_clock.start();
    m_timer.start();
    emit playingChanged(true);
}

void ReplayController::pause()
{
    if (!m_timer.isActive())
        return;
    m_timer.stop();
    emit playingChanged(false);
}

void ReplayController::togglePlay()
{
    if (isPlaying())
        pause();
    else
        play();
}

void ReplayController::setSpeed(int factor)
{
    m_speed = std::clamp(factor, 1, 1024);
}

void ReplayController::rewind()
{
    pause();
    if (!m_loaded)
        return;
    if (m_positionNs == 0) {
        apply(-1);
        return;
    }
    setPosition(0);
}

void ReplayController::tick()
{
    const qint64 elapsed = m_clock.nsecsElapsed();
    m_clock.restart();
    const qint64 next = m_positionNs + elapsed * m_speed;
    if (next >= m_durationNs) {
        setPosition(m_durationNs);
        pause();
        emit finished();
        return;
    }
    setPosition(next);
}

// ----------------------------------------------------------------- ReplayBar

ReplayBar::ReplayBar(ReplayController* controller, QWidget* parent)
    : QWidget(parent)
    , m_controller(controller)
{
    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_open = new QPushButton(tr("Open trace…"), this);
    m_open->setObjectName(QStringLiteral("replayOpen"));
    m_play = new QPushButton(tr("Play"), this);
    m_play->setObjectName(QStringLiteral("replayPlay"));
    m_speed = new QComboBox(this);
    m_speed->setObjectName(QStringLiteral("replaySpeed"));
    for (int s : ReplayController::speeds())
        m_speed->addItem(QStringLiteral("%1x").arg(s), s);
    m_slider = new QSlider(Qt::Horizontal, this);
    m_slider->setObjectName(QStringLiteral("replaySlider"));
    m_time = new QLabel(this);
    m_time->setObjectName(QStringLiteral("replayTime"));
    m_time->setMinimumWidth(
        m_time->fontMetrics().horizontalAdvance(QStringLiteral("00.00 s / 00.00 s")));
    layout->addWidget(m_open);
    layout->addWidget(m_play);
    layout->addWidget(m_speed);
    layout->addWidget(m_slider, 1);
    layout->addWidget(m_time);

    connect(m_open, &QPushButton::clicked, this, [this] {
        const QString path =
            QFileDialog::getOpenFileName(this, tr("Replay a recorded run"), {},
                                         tr("PoolScope traces (*.json *.trace);;All files (*)"));
        if (!path.isEmpty())
            m_controller->load(path);
    });
    connect(m_play, &QPushButton::clicked, m_controller, &ReplayController::togglePlay);
    connect(m_speed, &QComboBox::currentIndexChanged, this,
            [this](int i) { m_controller->setSpeed(m_speed->itemData(i).toInt()); });
    connect(m_slider, &QSlider::valueChanged, this, [this](int v) {
        if (m_updating)
            return;
        // The slider counts whole units: its end is the end of the run (the
        // last task ends there), not the last whole unit before it.
        m_controller->setPosition(v >= m_slider->maximum() ? m_controller->durationNs()
                                                           : qint64(v) * m_unitNs);
    });
    connect(m_controller, &ReplayController::positionChanged, this, &ReplayBar::sync);
    connect(m_controller, &ReplayController::loaded, this, &ReplayBar::sync);
    connect(m_controller, &ReplayController::playingChanged, this, &ReplayBar::sync);
    connect(m_controller, &ReplayController::error, this, [this](const QString& message) {
        m_time->setText(tr("cannot replay"));
        m_time->setToolTip(message);
    });
    m_controller->setSpeed(m_speed->currentData().toInt());
    sync();
}

void ReplayBar::sync()
{
    const bool loaded = m_controller->isLoaded();
    const qint64 d = m_controller->durationNs();
    m_unitNs = d / 1000 < std::numeric_limits<int>::max() ? 1000 : 1'000'000;
    m_updating = true;
    m_slider->setRange(0, int(d / m_unitNs));
    m_slider->setValue(int(m_controller->positionNs() / m_unitNs));
    m_updating = false;
    m_slider->setEnabled(loaded);
    m_play->setEnabled(loaded);
    m_play->setText(m_controller->isPlaying() ? tr("Pause") : tr("Play"));
    m_time->setText(
        loaded ? QStringLiteral("%1 / %2").arg(display::formatDuration(m_controller->positionNs()),
                                               display::formatDuration(d))
               : tr("no recording"));
    m_time->setToolTip(loaded ? tr("%1: %2 tasks")
                                    .arg(m_controller->sourceName().isEmpty()
                                             ? m_controller->trace().title
                                             : m_controller->sourceName())
                                    .arg(m_controller->trace().size())
                              : QString());
}

} // namespace poolscope
