#include "controlbar.h"
#include "teaching/presenter.h"

#include <poolscope/processpool.h>
#include <poolscope/threadpool.h>

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QStyleOptionSpinBox>
#include <QThread>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>

namespace poolscope {

// ------------------------------------------------------------ LongSpinBox

LongSpinBox::LongSpinBox(QWidget* parent)
    : QAbstractSpinBox(parent)
{
    setCorrectionMode(QAbstractSpinBox::CorrectToPreviousValue);
    setAlignment(Qt::AlignRight | Qt::AlignVCenter);
    lineEdit()->setText(textFor(m_value));
    connect(lineEdit(), &QLineEdit::textChanged, this, &LongSpinBox::onTextChanged);
    // QAbstractSpinBox does not revert a partial entry by itself (QSpinBox's
    // private class does): do it when editing ends.
    connect(this, &QAbstractSpinBox::editingFinished, this, [this] {
        if (!hasAcceptableInput())
            lineEdit()->setText(textFor(m_value));
    });
}

QString LongSpinBox::textFor(qint64 v) const
{
    return locale().toString(v);
}

bool LongSpinBox::parse(const QString& text, qint64* out) const
{
    QString t = text.trimmed();
    t.remove(locale().groupSeparator());
    t.remove(QLatin1Char(' '));
    bool ok = false;
    const qint64 v = t.toLongLong(&ok);
    if (ok && out)
        *out = v;
    return ok;
}

QValidator::State LongSpinBox::validate(QString& input, int& /*pos*/) const
{
    const QString t = input.trimmed();
    if (t.isEmpty() || (t == QLatin1String("-") && m_min < 0))
        return QValidator::Intermediate;
    qint64 v = 0;
    if (!parse(t, &v))
        return QValidator::Invalid;
    if (v > m_max)
        return v >= 0 ? QValidator::Invalid : QValidator::Intermediate;
    if (v < m_min)
        return v >= 0 ? QValidator::Intermediate : QValidator::Invalid;
    return QValidator::Acceptable;
}

void LongSpinBox::fixup(QString& input) const
{
    qint64 v = 0;
    if (!parse(input, &v) || v < m_min || v > m_max)
        input = textFor(m_value);
}

void LongSpinBox::onTextChanged(const QString& text)
{
    qint64 v = 0;
    const bool changed = parse(text, &v) && v >= m_min && v <= m_max && v != m_value;
    if (changed)
        m_value = v;
    emit textEdited(text); // listeners see the new value already
    if (changed)
        emit valueChanged(v);
}

void LongSpinBox::setValue(qint64 v)
{
    v = std::clamp(v, m_min, m_max);
    const bool changed = v != m_value;
    m_value = v;
    const QString t = textFor(v);
    if (lineEdit()->text() != t)
        lineEdit()->setText(t); // emits valueChanged through onTextChanged when changed
    else if (changed)
        emit valueChanged(v);
}

void LongSpinBox::setRange(qint64 min, qint64 max)
{
    m_min = min;
    m_max = std::max(min, max);
    updateGeometry();
    setValue(m_value);
}

void LongSpinBox::stepBy(int steps)
{
    const qint64 v = m_value + qint64(steps) * m_step;
    setValue(v);
    selectAll();
}

QAbstractSpinBox::StepEnabled LongSpinBox::stepEnabled() const
{
    if (isReadOnly())
        return StepNone;
    StepEnabled s = StepNone;
    if (m_value > m_min)
        s |= StepDownEnabled;
    if (m_value < m_max)
        s |= StepUpEnabled;
    return s;
}

QSize LongSpinBox::sizeHint() const
{
    ensurePolished();
    const QFontMetrics fm(font());
    const int w =
        std::max(fm.horizontalAdvance(textFor(m_max)), fm.horizontalAdvance(textFor(m_min)))
        + fm.horizontalAdvance(QLatin1Char('0'));
    QStyleOptionSpinBox opt;
    initStyleOption(&opt);
    const QSize content(std::min(w, fm.horizontalAdvance(QLatin1Char('0')) * 16),
                        lineEdit()->sizeHint().height());
    return style()->sizeFromContents(QStyle::CT_SpinBox, &opt, content, this);
}

// ------------------------------------------------------------- ControlBar

namespace {
QLabel* caption(const QString& text, QWidget* buddy, QWidget* parent)
{
    auto* l = new QLabel(text, parent);
    l->setBuddy(buddy);
    return l;
}
} // namespace

ControlBar::ControlBar(QWidget* parent)
    : QWidget(parent)
{
    // ---- workload
    auto* wbox = new QGroupBox(tr("Workload"), this);
    m_workload = new QComboBox(wbox);
    m_workload->setObjectName(QStringLiteral("workloadCombo"));
    for (const Workload& w : Workloads::all()) {
        m_workload->addItem(w.name, w.name);
        const int i = m_workload->count() - 1;
        m_workload->setItemData(i,
                                QStringLiteral("<p><b>%1</b> (%2)</p><p>%3</p>")
                                    .arg(w.name, w.kind, w.description.toHtmlEscaped()),
                                Qt::ToolTipRole);
    }
    m_tasks = new QSpinBox(wbox);
    m_tasks->setObjectName(QStringLiteral("tasksSpin"));
    m_tasks->setGroupSeparatorShown(true);
    m_tasks->setAccelerated(true);
    m_size = new LongSpinBox(wbox);
    m_size->setObjectName(QStringLiteral("sizeSpin"));
    m_size->setAccelerated(true);
    m_sizeUnit = new QLabel(wbox);
    m_knobBox = new QWidget(wbox);
    m_knobLayout = new QGridLayout(m_knobBox);
    m_knobLayout->setContentsMargins(0, 0, 0, 0);
    m_knobLayout->setHorizontalSpacing(6);
    m_knobLayout->setVerticalSpacing(2);

    auto* wg = new QGridLayout(wbox);
    wg->addWidget(caption(tr("&Workload"), m_workload, wbox), 0, 0);
    wg->addWidget(m_workload, 0, 1);
    wg->addWidget(caption(tr("&Tasks"), m_tasks, wbox), 0, 2);
    wg->addWidget(m_tasks, 0, 3);
    wg->addWidget(caption(tr("Si&ze"), m_size, wbox), 0, 4);
    wg->addWidget(m_size, 0, 5);
    wg->addWidget(m_sizeUnit, 0, 6);
    wg->addWidget(m_knobBox, 1, 0, 1, 7);
    m_description = new QLabel(wbox);
    m_description->setObjectName(QStringLiteral("workloadDescription"));
    m_description->setTextFormat(Qt::PlainText);
    m_description->setWordWrap(true);
    wg->addWidget(m_description, 2, 0, 1, 7);
    wg->setColumnStretch(6, 1);

    // ---- pool
    auto* pbox = new QGroupBox(tr("Pool"), this);
    m_pool = new QComboBox(pbox);
    m_pool->setObjectName(QStringLiteral("poolCombo"));
    m_pool->addItem(tr("Threads"), QStringLiteral("thread"));
    m_pool->addItem(tr("Processes"), QStringLiteral("process"));
#ifdef POOLSCOPE_HAVE_MPI
    m_pool->addItem(tr("MPI ranks"), QStringLiteral("mpi"));
#endif
    m_pool->setToolTip(tr("Thread pool (one process, optional simulated GIL), process pool "
                          "(poolscope-worker processes: crash isolation, no shared GIL) or, "
                          "when built with MPI, MPI ranks (spawned poolscope-worker ranks, "
                          "workers named host/rank; docs/scale-out.md)."));
    const int ideal = std::max(1, QThread::idealThreadCount());
    m_workersSlider = new QSlider(Qt::Horizontal, pbox);
    m_workersSlider->setObjectName(QStringLiteral("workersSlider"));
    m_workersSlider->setRange(1, std::max(32, 4 * ideal));
    m_workersSlider->setMinimumWidth(120);
    m_workersSlider->setToolTip(tr("Workers of the pool. Changing it while tasks run resizes the "
                                   "live pool: it grows at once and shrinks as workers finish "
                                   "their current task."));
    m_workers = new QSpinBox(pbox);
    m_workers->setObjectName(QStringLiteral("workersSpin"));
    m_workers->setRange(1, Executor::maxWorkersLimit());
    m_workers->setToolTip(m_workersSlider->toolTip());
    m_gil = new QCheckBox(tr("&GIL"), pbox);
    m_gil->setObjectName(QStringLiteral("gilCheck"));
    m_gil->setToolTip(tr("Simulated global interpreter lock (thread pool): CPU-bound "
                         "\"interpreted\" tasks take turns on one lock, handing it over every "
                         "switch interval, like CPython. Native kernels and I/O release it."));
    m_switch = new QDoubleSpinBox(pbox);
    m_switch->setObjectName(QStringLiteral("switchSpin"));
    m_switch->setRange(0.1, 1000);
    m_switch->setDecimals(1);
    m_switch->setSuffix(tr(" ms"));
    m_switch->setToolTip(tr("GIL switch interval (sys.setswitchinterval; CPython's default is "
                            "5 ms). Applies live."));
    m_chunk = new QSpinBox(pbox);
    m_chunk->setObjectName(QStringLiteral("chunkSpin"));
    m_chunk->setRange(1, 100'000);
    m_chunk->setToolTip(tr("Items per task. With chunk > 1, consecutive items run as one task "
                           "on a thread or a process pool (fewer, longer tasks: less overhead, "
                           "coarser balance; one failing item fails its chunk). The pipeline "
                           "submits its own tasks and runs chunk 1."));
    m_priority = new QSpinBox(pbox);
    m_priority->setObjectName(QStringLiteral("prioritySpin"));
    m_priority->setRange(-100, 100);
    m_priority->setToolTip(tr("Priority of this run's tasks: higher runs first when several runs "
                              "are queued on the pool (FIFO within one priority)."));

    auto* pg = new QGridLayout(pbox);
    pg->addWidget(caption(tr("&Pool"), m_pool, pbox), 0, 0);
    pg->addWidget(m_pool, 0, 1);
    pg->addWidget(caption(tr("Wor&kers"), m_workers, pbox), 0, 2);
    pg->addWidget(m_workersSlider, 0, 3, 1, 3);
    pg->addWidget(m_workers, 0, 6);
    pg->addWidget(m_gil, 1, 0);
    pg->addWidget(m_switch, 1, 1);
    pg->addWidget(caption(tr("C&hunk"), m_chunk, pbox), 1, 2);
    pg->addWidget(m_chunk, 1, 3);
    // Presenter mode hides what a class does not need (kAdvancedProperty).
    QLabel* priorityCaption = caption(tr("Pr&iority"), m_priority, pbox);
    for (QWidget* advanced :
         {static_cast<QWidget*>(priorityCaption), static_cast<QWidget*>(m_priority)})
        advanced->setProperty(kAdvancedProperty, true);
    pg->addWidget(priorityCaption, 1, 4);
    pg->addWidget(m_priority, 1, 5, 1, 2);

    // ---- buttons (filled by setActions) and hint
    m_buttons = new QWidget(this);
    auto* bl = new QGridLayout(m_buttons);
    bl->setContentsMargins(0, 0, 0, 0);
    bl->setSpacing(4);
    m_hint = new QLabel(this);
    m_hint->setObjectName(QStringLiteral("hintLabel"));
    m_hint->setTextFormat(Qt::PlainText);
    m_hint->setWordWrap(true);
    m_hint->hide();

    // Wide: workload | pool | buttons in one row. Narrow (a 1280-px screen,
    // presenter fonts): the workload on its own row, pool and buttons
    // below (arrange()). The bar's minimum is the narrow arrangement's, so
    // the window never has to be wider than a classroom screen.
    m_workloadBox = wbox;
    m_poolBox = pbox;
    m_grid = new QGridLayout;
    m_grid->setContentsMargins(0, 0, 0, 0);
    m_grid->setHorizontalSpacing(6);
    m_grid->setVerticalSpacing(2);
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(4, 2, 4, 2);
    outer->setSpacing(2);
    // No constraint: the layout must not pin the bar at the wide minimum.
    outer->setSizeConstraint(QLayout::SetNoConstraint);
    // The toolbar gives an expanding widget the whole row: the bar sees the
    // window's width and goes back to one row when there is room for it.
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
    outer->addLayout(m_grid);
    outer->addWidget(m_hint);
    arrange(false);

    // ---- wiring
    connect(m_workload, &QComboBox::currentIndexChanged, this, &ControlBar::onWorkloadChanged);
    // QSpinBox::textChanged stays quiet while the text does not parse (e.g.
    // empty): watch the editors' line edits so the hint follows every key.
    // The spin boxes' own textChanged comes after their value is updated.
    for (QAbstractSpinBox* box : std::initializer_list<QAbstractSpinBox*>{
             m_tasks, m_workers, m_switch, m_chunk, m_priority}) {
        if (auto* le = box->findChild<QLineEdit*>())
            connect(le, &QLineEdit::textChanged, this, &ControlBar::edited);
    }
    for (QSpinBox* box : {m_tasks, m_workers, m_chunk, m_priority})
        connect(box, &QSpinBox::textChanged, this, &ControlBar::edited);
    connect(m_switch, &QDoubleSpinBox::textChanged, this, &ControlBar::edited);
    connect(m_size, &LongSpinBox::textEdited, this, &ControlBar::edited);
    watchRefusedKeys(m_tasks, tr("Tasks"));
    watchRefusedKeys(m_size, tr("Size"));
    watchRefusedKeys(m_workers, tr("Workers"));
    watchRefusedKeys(m_chunk, tr("Chunk"));
    watchRefusedKeys(m_priority, tr("Priority"));
    connect(m_pool, &QComboBox::currentIndexChanged, this, [this] {
        updateEnabled();
        if (!m_loading)
            emit poolKindChanged();
        emit edited();
    });
    connect(m_workersSlider, &QSlider::valueChanged, this, [this](int v) {
        if (m_workers->value() != v)
            m_workers->setValue(v);
    });
    connect(m_workers, &QSpinBox::valueChanged, this, [this](int v) {
        {
            const QSignalBlocker block(m_workersSlider);
            m_workersSlider->setValue(std::min(v, m_workersSlider->maximum()));
        }
        if (!m_loading)
            emit workersChanged(v);
        emit edited();
    });
    connect(m_gil, &QCheckBox::toggled, this, [this] {
        updateEnabled();
        if (!m_loading)
            emit poolKindChanged();
        emit edited();
    });
    connect(m_switch, &QDoubleSpinBox::valueChanged, this, [this](double ms) {
        if (!m_loading)
            emit switchIntervalChanged(ms);
        emit edited();
    });

    m_loading = true;
    m_workers->setValue(ThreadPoolExecutor::defaultMaxWorkers());
    m_switch->setValue(5.0);
    m_chunk->setValue(1);
    // QSpinBox leaves its text empty after setRange() when the value stays
    // the same; an empty text would read as "no input" to problem().
    m_priority->setValue(1);
    m_priority->setValue(0);
    m_loading = false;
    onWorkloadChanged();
}

int ControlBar::wideMinimumWidth() const
{
    const QMargins m = layout()->contentsMargins();
    return m_workloadBox->minimumSizeHint().width() + m_poolBox->minimumSizeHint().width()
           + m_buttons->minimumSizeHint().width() + 2 * m_grid->horizontalSpacing() + m.left()
           + m.right();
}

QSize ControlBar::minimumSizeHint() const
{
    // The narrow arrangement's: workload on top, pool and buttons below.
    const QMargins m = layout()->contentsMargins();
    const QSize wl = m_workloadBox->minimumSizeHint();
    const QSize pl = m_poolBox->minimumSizeHint();
    const QSize bt = m_buttons->minimumSizeHint();
    const int width = std::max(wl.width(), pl.width() + m_grid->horizontalSpacing() + bt.width())
                      + m.left() + m.right();
    // The height is the current arrangement's: a wide bar is not made as
    // tall as the narrow one (QWidgetItem expands the hint to the minimum).
    return {width, layout()->minimumSize().height()};
}

QSize ControlBar::sizeHint() const
{
    // Ask for the one-row width even while in two rows: the toolbar gives a
    // widget its hint when there is room (and more would not reach it), so
    // this is how the bar gets back to one row on a wider window.
    QSize h = layout()->sizeHint();
    h.setWidth(std::max(h.width(), wideMinimumWidth()));
    return h;
}

void ControlBar::changeEvent(QEvent* event)
{
    QWidget::changeEvent(event);
    // Presenter mode changes fonts, not the width: re-decide.
    if (event->type() == QEvent::FontChange || event->type() == QEvent::StyleChange)
        arrange(width() < wideMinimumWidth());
}

bool ControlBar::isNarrow() const
{
    return m_narrow;
}

void ControlBar::arrange(bool narrow)
{
    if (m_grid->count() > 0 && narrow == m_narrow)
        return;
    m_narrow = narrow;
    for (QWidget* w : {m_workloadBox, m_poolBox, m_buttons})
        m_grid->removeWidget(w);
    for (int c = 0; c < 3; ++c)
        m_grid->setColumnStretch(c, 0);
    if (narrow) {
        m_grid->addWidget(m_workloadBox, 0, 0, 1, 2);
        m_grid->addWidget(m_poolBox, 1, 0);
        m_grid->addWidget(m_buttons, 1, 1);
        m_grid->setColumnStretch(0, 1);
    } else {
        m_grid->addWidget(m_workloadBox, 0, 0);
        m_grid->addWidget(m_poolBox, 0, 1);
        m_grid->addWidget(m_buttons, 0, 2);
        m_grid->setColumnStretch(0, 3);
        m_grid->setColumnStretch(1, 2);
    }
    updateGeometry(); // the toolbar takes the new height
}

void ControlBar::resizeEvent(QResizeEvent* event)
{
    QWidget::resizeEvent(event);
    arrange(width() < wideMinimumWidth());
}

void ControlBar::setActions(const QList<QAction*>& actions)
{
    auto* bl = static_cast<QGridLayout*>(m_buttons->layout());
    int i = 0;
    for (QAction* a : actions) {
        auto* b = new QToolButton(m_buttons);
        b->setDefaultAction(a);
        b->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
        b->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Preferred);
        b->setObjectName(a->objectName() + QStringLiteral("Button"));
        // Start spans the first row; the others share two rows.
        if (i == 0)
            bl->addWidget(b, 0, 0, 2, 1);
        else
            bl->addWidget(b, (i - 1) / 2, 1 + (i - 1) % 2);
        ++i;
    }
}

void ControlBar::onWorkloadChanged()
{
    if (!m_current.isEmpty())
        rememberRun();
    const QString name = m_workload->currentData().toString();
    const Workload* w = Workloads::find(name);
    if (!w)
        return;
    m_current = name;
    m_workload->setToolTip(
        m_workload->itemData(m_workload->currentIndex(), Qt::ToolTipRole).toString());
    m_description->setText(w->description);
    m_description->setToolTip(tr("%1 (%2)").arg(w->name, w->kind));
    setRefused({});
    m_loading = true;
    m_tasks->setRange(1, w->maxTasks);
    m_tasks->setToolTip(tr("How many tasks (1 to %1)").arg(QLocale().toString(w->maxTasks)));
    m_size->setRange(w->minSize, w->maxSize);
    m_size->setToolTip(
        tr("Size of each task in %1 (%2 to %3)")
            .arg(w->sizeUnit, QLocale().toString(w->minSize), QLocale().toString(w->maxSize)));
    m_sizeUnit->setText(w->sizeUnit);

    // Knob editors for this workload.
    for (auto* e : m_knobs) {
        m_refuseLabels.remove(e);
        e->deleteLater();
    }
    m_knobs.clear();
    while (QLayoutItem* it = m_knobLayout->takeAt(0)) {
        if (it->widget())
            it->widget()->deleteLater();
        delete it;
    }
    for (int c = 0; c < m_knobLayout->columnCount(); ++c)
        m_knobLayout->setColumnStretch(c, 0); // the previous workload's stretch
    // Three knobs a row: a workload with many knobs grows the bar down, not
    // wider than a classroom screen.
    constexpr int kKnobsPerRow = 3;
    int col = 0;
    int knob = 0;
    for (const WorkloadParam& k : w->knobs) {
        auto* e = new LongSpinBox(m_knobBox);
        e->setObjectName(QStringLiteral("knob_") + k.name);
        e->setRange(k.minimum, k.maximum);
        e->setValue(k.defaultValue);
        e->setToolTip(
            tr("%1 (%2 to %3)")
                .arg(k.description, QLocale().toString(k.minimum), QLocale().toString(k.maximum)));
        auto* l = caption(k.name, e, m_knobBox);
        l->setToolTip(e->toolTip());
        const int r = knob / kKnobsPerRow;
        const int c0 = 2 * (knob % kKnobsPerRow);
        ++knob;
        m_knobLayout->addWidget(l, r, c0);
        m_knobLayout->addWidget(e, r, c0 + 1);
        col = std::max(col, c0 + 2);
        connect(e, &LongSpinBox::textEdited, this, &ControlBar::edited);
        watchRefusedKeys(e, k.name);
        m_knobs.insert(k.name, e);
    }
    m_knobLayout->setColumnStretch(col, 1);
    if (w->knobs.isEmpty()) {
        auto* none = new QLabel(tr("(no knobs)"), m_knobBox);
        none->setEnabled(false);
        m_knobLayout->addWidget(none, 0, 0);
    }
    loadRun(name);
    // Crash and hang would take a thread pool down: offer processes at once.
    if (w->processOnly)
        m_pool->setCurrentIndex(m_pool->findData(QStringLiteral("process")));
    m_loading = false;
    updateEnabled();
    emit edited();
}

void ControlBar::rememberRun()
{
    if (m_current.isEmpty())
        return;
    m_remembered.insert(m_current, currentRun());
}

void ControlBar::loadRun(const QString& workload)
{
    const Workload* w = Workloads::find(workload);
    WorkloadRun run = m_remembered.value(workload, w->defaultRun());
    m_tasks->setValue(run.tasks);
    m_size->setValue(run.size);
    for (auto it = m_knobs.begin(); it != m_knobs.end(); ++it)
        it.value()->setValue(run.knobs.value(it.key(), w->knob(run, it.key())));
}

WorkloadRun ControlBar::currentRun() const
{
    WorkloadRun r;
    r.tasks = m_tasks->value();
    r.size = m_size->value();
    for (auto it = m_knobs.cbegin(); it != m_knobs.cend(); ++it)
        r.knobs.insert(it.key(), it.value()->value());
    return r;
}

void ControlBar::updateEnabled()
{
    const bool threads = m_pool->currentData().toString() == QLatin1String("thread");
    const Workload* w = Workloads::find(m_current);
    m_gil->setEnabled(threads);
    m_switch->setEnabled(threads && m_gil->isChecked());
    m_chunk->setEnabled(w && !w->drive);
    if (!m_chunk->isEnabled() && m_chunk->value() != 1)
        m_chunk->setValue(1);
    m_priority->setEnabled(w && !w->drive);
}

RunSpec ControlBar::spec() const
{
    RunSpec s;
    s.workload = m_current;
    s.run = currentRun();
    s.poolKind = m_pool->currentData().toString();
    s.workers = m_workers->value();
    s.gil = s.poolKind == QLatin1String("thread") && m_gil->isChecked();
    s.switchIntervalMs = m_switch->value();
    s.chunkSize = m_chunk->value();
    s.priority = m_priority->value();
    return s;
}

void ControlBar::watchRefusedKeys(QAbstractSpinBox* box, const QString& label)
{
    QLineEdit* le = box->findChild<QLineEdit*>();
    if (!le)
        return;
    m_refuseLabels.insert(box, label);
    // Keys typed into the spin box reach its line edit through a direct
    // event() call (no filter there): watch both.
    box->installEventFilter(this);
    le->installEventFilter(this);
}

bool ControlBar::eventFilter(QObject* watched, QEvent* event)
{
    if (event->type() != QEvent::KeyPress)
        return QWidget::eventFilter(watched, event);
    auto* box = qobject_cast<QAbstractSpinBox*>(watched);
    if (!box && watched->parent())
        box = qobject_cast<QAbstractSpinBox*>(watched->parent());
    QLineEdit* le = box ? box->findChild<QLineEdit*>() : nullptr;
    if (!le || !m_refuseLabels.contains(box))
        return QWidget::eventFilter(watched, event);
    const auto* ke = static_cast<QKeyEvent*>(event);
    const QString key = ke->text();
    if (key.isEmpty() || !key.at(0).isPrint()) {
        setRefused({}); // editing keys: the previous refusal is old news
        return QWidget::eventFilter(watched, event);
    }
    // What the text would be if the editor took this key, and whether the
    // editor's validator (the spin box) will refuse it. Decided before the
    // key is handled: while the line edit rejects it, its text is briefly the
    // refused one.
    QString t = le->text();
    int pos = le->cursorPosition();
    if (le->hasSelectedText()) {
        pos = le->selectionStart();
        t.remove(pos, le->selectedText().size());
    }
    t.insert(pos, key);
    QString probe = t;
    int probePos = pos + int(key.size());
    if (box->validate(probe, probePos) != QValidator::Invalid) {
        setRefused({});
        return QWidget::eventFilter(watched, event);
    }
    qint64 min = 0, max = 0;
    if (auto* sb = qobject_cast<QSpinBox*>(box)) {
        min = sb->minimum();
        max = sb->maximum();
    } else if (auto* lb = qobject_cast<LongSpinBox*>(box)) {
        min = lb->minimum();
        max = lb->maximum();
    }
    const QLocale l;
    const QString label = m_refuseLabels.value(box);
    t.remove(l.groupSeparator());
    t.remove(QLatin1Char(' '));
    bool ok = false;
    const qint64 v = t.toLongLong(&ok);
    if (ok && v > max)
        setRefused(tr("%1: max is %2 (the key that went past it was refused).")
                       .arg(label, l.toString(max)));
    else if (ok && v < min)
        setRefused(tr("%1: min is %2 (the key that went below it was refused).")
                       .arg(label, l.toString(min)));
    else
        setRefused(tr("%1: only a whole number from %2 to %3 (the key was refused).")
                       .arg(label, l.toString(min), l.toString(max)));
    return QWidget::eventFilter(watched, event);
}

void ControlBar::setRefused(const QString& text)
{
    if (text == m_refused)
        return;
    m_refused = text;
    emit edited();
}

void ControlBar::setSpec(const RunSpec& s)
{
    const int wi = m_workload->findData(s.workload);
    if (wi >= 0 && wi != m_workload->currentIndex())
        m_workload->setCurrentIndex(wi); // loads its remembered run
    m_loading = true;
    m_tasks->setValue(s.run.tasks);
    m_size->setValue(s.run.size);
    for (auto it = s.run.knobs.cbegin(); it != s.run.knobs.cend(); ++it) {
        if (auto* e = m_knobs.value(it.key()))
            e->setValue(*it);
    }
    const int pi = m_pool->findData(s.poolKind);
    if (pi >= 0)
        m_pool->setCurrentIndex(pi);
    if (s.workers > 0)
        m_workers->setValue(s.workers);
    m_gil->setChecked(s.gil);
    m_switch->setValue(s.switchIntervalMs);
    m_chunk->setValue(s.chunkSize);
    m_priority->setValue(s.priority);
    m_loading = false;
    m_refused.clear();
    updateEnabled();
    emit edited();
}

QString ControlBar::problem() const
{
    const Workload* w = Workloads::find(m_current);
    if (!w)
        return tr("Choose a workload.");
    const QLocale l;
    if (!m_tasks->hasAcceptableInput())
        return tr("Tasks: enter a whole number from 1 to %1.").arg(l.toString(w->maxTasks));
    if (!m_size->hasAcceptableInput())
        return tr("Size: enter a whole number of %1 from %2 to %3.")
            .arg(w->sizeUnit, l.toString(w->minSize), l.toString(w->maxSize));
    for (const WorkloadParam& k : w->knobs) {
        const LongSpinBox* e = m_knobs.value(k.name);
        if (e && !e->hasAcceptableInput())
            return tr("%1: enter a whole number from %2 to %3.")
                .arg(k.name, l.toString(k.minimum), l.toString(k.maximum));
    }
    if (!m_workers->hasAcceptableInput())
        return tr("Workers: enter a whole number from 1 to %1.").arg(Executor::maxWorkersLimit());
    if (m_switch->isEnabled() && !m_switch->hasAcceptableInput())
        return tr("Switch interval: enter a value from 0.1 to 1000 ms.");
    if (m_chunk->isEnabled() && !m_chunk->hasAcceptableInput())
        return tr("Chunk: enter a whole number from 1 to 100,000.");
    if (m_priority->isEnabled() && !m_priority->hasAcceptableInput())
        return tr("Priority: enter a whole number from -100 to 100.");
    const RunSpec s = spec();
    const QString why = Workloads::validate(s.workload, s.run, s.poolKind);
    if (!why.isEmpty())
        return why.left(1).toUpper() + why.mid(1) + QLatin1Char('.');
    return {};
}

void ControlBar::showHint(const QString& text)
{
    if (text.isEmpty()) {
        m_hint->clear();
        m_hint->hide();
        return;
    }
    // Red that reads on light and dark palettes alike.
    const bool dark = palette().color(QPalette::Window).lightness() < 128;
    m_hint->setStyleSheet(QStringLiteral("QLabel { color: %1; font-weight: bold; }")
                              .arg(dark ? QStringLiteral("#ff7b72") : QStringLiteral("#b00020")));
    m_hint->setText(text);
    m_hint->show();
}

QString ControlBar::hint() const
{
    return m_hint->text();
}

bool ControlBar::isHintVisible() const
{
    return m_hint->isVisibleTo(const_cast<ControlBar*>(this)) && !m_hint->text().isEmpty();
}

void ControlBar::save(QSettings& st) const
{
    const_cast<ControlBar*>(this)->rememberRun();
    st.beginGroup(QStringLiteral("controls"));
    st.setValue(QStringLiteral("workload"), m_current);
    st.setValue(QStringLiteral("pool"), m_pool->currentData());
    st.setValue(QStringLiteral("workers"), m_workers->value());
    st.setValue(QStringLiteral("gil"), m_gil->isChecked());
    st.setValue(QStringLiteral("switchIntervalMs"), m_switch->value());
    st.setValue(QStringLiteral("chunk"), m_chunk->value());
    st.setValue(QStringLiteral("priority"), m_priority->value());
    st.beginGroup(QStringLiteral("runs"));
    for (auto it = m_remembered.cbegin(); it != m_remembered.cend(); ++it) {
        st.beginGroup(it.key());
        st.setValue(QStringLiteral("tasks"), it->tasks);
        st.setValue(QStringLiteral("size"), it->size);
        for (auto k = it->knobs.cbegin(); k != it->knobs.cend(); ++k)
            st.setValue(QStringLiteral("knob_") + k.key(), *k);
        st.endGroup();
    }
    st.endGroup();
    st.endGroup();
}

void ControlBar::restore(QSettings& st)
{
    st.beginGroup(QStringLiteral("controls"));
    st.beginGroup(QStringLiteral("runs"));
    for (const QString& name : st.childGroups()) {
        const Workload* w = Workloads::find(name);
        if (!w)
            continue;
        st.beginGroup(name);
        WorkloadRun r = w->defaultRun();
        // Out-of-range stored values are clamped by the editors' ranges.
        r.tasks = st.value(QStringLiteral("tasks"), r.tasks).toInt();
        r.size = st.value(QStringLiteral("size"), r.size).toLongLong();
        for (const WorkloadParam& k : w->knobs)
            r.knobs[k.name] =
                st.value(QStringLiteral("knob_") + k.name, w->knob(r, k.name)).toLongLong();
        m_remembered.insert(name, r);
        st.endGroup();
    }
    st.endGroup();
    RunSpec s = spec();
    s.workload = st.value(QStringLiteral("workload"), s.workload).toString();
    if (!Workloads::find(s.workload))
        s.workload = QStringLiteral("primes");
    const Workload* w = Workloads::find(s.workload);
    s.run = m_remembered.value(s.workload, w->defaultRun());
    s.poolKind = st.value(QStringLiteral("pool"), s.poolKind).toString();
    s.workers = st.value(QStringLiteral("workers"), s.workers).toInt();
    s.gil = st.value(QStringLiteral("gil"), s.gil).toBool();
    s.switchIntervalMs =
        st.value(QStringLiteral("switchIntervalMs"), s.switchIntervalMs).toDouble();
    s.chunkSize = st.value(QStringLiteral("chunk"), s.chunkSize).toInt();
    s.priority = st.value(QStringLiteral("priority"), s.priority).toInt();
    st.endGroup();
    setSpec(s);
}

} // namespace poolscope
