#pragma once
// ControlBar: the run controls of the main window. It only edits a RunSpec:
// every editor's range comes from the workload's limits, so bad input
// (empty, out of range, a combination the workload refuses) is stopped here
// with a red hint and never reaches the core. The buttons are the main
// window's QActions (one source for shortcuts, menus and enabling).

#include "runcontroller.h"

#include <QAbstractSpinBox>
#include <QHash>
#include <QWidget>

class QAction;
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QGridLayout;
class QLabel;
class QSettings;
class QSlider;
class QSpinBox;
class QToolButton;

namespace poolscope {

/// A spin box for 64-bit integers (workload sizes go up to 10^10), with the
/// same rules as QSpinBox: keystrokes that cannot lead to a value in range
/// are refused, an empty or partial entry is "intermediate" and reverts to
/// the last good value when focus leaves.
class LongSpinBox : public QAbstractSpinBox {
    Q_OBJECT
public:
    explicit LongSpinBox(QWidget* parent = nullptr);

    qint64 value() const { return m_value; }
    void setValue(qint64 v);
    void setRange(qint64 min, qint64 max);
    qint64 minimum() const { return m_min; }
    qint64 maximum() const { return m_max; }
    void setSingleStep(qint64 step) { m_step = std::max<qint64>(1, step); }

    QValidator::State validate(QString& input, int& pos) const override;
    void fixup(QString& input) const override;
    void stepBy(int steps) override;
    QSize sizeHint() const override;

signals:
    void valueChanged(qint64 value);
    void textEdited(const QString& text);

protected:
    StepEnabled stepEnabled() const override;

private:
    QString textFor(qint64 v) const;
    bool parse(const QString& text, qint64* out) const;
    void onTextChanged(const QString& text);

    qint64 m_min = 0;
    qint64 m_max = 100;
    qint64 m_value = 0;
    qint64 m_step = 1;
};

class ControlBar : public QWidget {
    Q_OBJECT
public:
    explicit ControlBar(QWidget* parent = nullptr);

    /// The narrow arrangement (workload above pool and buttons) is what the
    /// bar's minimum size allows; it switches to it when narrower than the
    /// one-row arrangement needs.
    QSize minimumSizeHint() const override;
    QSize sizeHint() const override;
    bool isNarrow() const;
    /// Width the one-row arrangement needs; narrower, the bar uses two rows.
    int wideMinimumWidth() const;

    /// The buttons trigger these actions (Start, Pause, Cancel, Stop, Shutdown).
    void setActions(const QList<QAction*>& actions);

    /// What the controls say now (meaningful only when problem() is empty).
    RunSpec spec() const;
    /// Loads spec into the controls (clamped to the editors' ranges).
    void setSpec(const RunSpec& spec);
    /// Why the controls do not make a valid run (first problem), or empty.
    QString problem() const;
    /// Why the last keystroke in an editor was refused (it would have left
    /// the editor's range, e.g. "Tasks: max is 100,000 ..."), until the next
    /// keystroke, workload change or setSpec(); empty otherwise. The input
    /// itself stays valid, so this does not block Start.
    QString refusedHint() const { return m_refused; }
    /// Shows a red hint (empty hides it).
    void showHint(const QString& text);
    QString hint() const;
    bool isHintVisible() const;

    void save(QSettings& settings) const;
    void restore(QSettings& settings);

    // For the main window and tests.
    QComboBox* workloadCombo() const { return m_workload; }
    QSpinBox* tasksSpin() const { return m_tasks; }
    LongSpinBox* sizeSpin() const { return m_size; }
    LongSpinBox* knobSpin(const QString& knob) const { return m_knobs.value(knob); }
    QComboBox* poolCombo() const { return m_pool; }
    QSlider* workersSlider() const { return m_workersSlider; }
    QSpinBox* workersSpin() const { return m_workers; }
    QCheckBox* gilCheck() const { return m_gil; }
    QDoubleSpinBox* switchSpin() const { return m_switch; }
    QSpinBox* chunkSpin() const { return m_chunk; }
    QSpinBox* prioritySpin() const { return m_priority; }
    QLabel* hintLabel() const { return m_hint; }
    /// The selected workload's description, shown under the workload row.
    QLabel* descriptionLabel() const { return m_description; }

signals:
    /// Something in the controls changed (re-check the hint and Start).
    void edited();
    /// Live settings of the running pool.
    void workersChanged(int workers);
    void switchIntervalChanged(double ms);
    /// Pool kind or GIL changed (needs a new pool).
    void poolKindChanged();

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    void arrange(bool narrow);
    /// Explains refused keystrokes of an integer editor in refusedHint().
    void watchRefusedKeys(QAbstractSpinBox* box, const QString& label);
    void setRefused(const QString& text);
    void onWorkloadChanged();
    void rememberRun();
    void loadRun(const QString& workload);
    void updateEnabled();
    WorkloadRun currentRun() const;

    QComboBox* m_workload = nullptr;
    QSpinBox* m_tasks = nullptr;
    LongSpinBox* m_size = nullptr;
    QLabel* m_sizeUnit = nullptr;
    QWidget* m_knobBox = nullptr;
    QGridLayout* m_knobLayout = nullptr;
    QHash<QString, LongSpinBox*> m_knobs;
    QComboBox* m_pool = nullptr;
    QSlider* m_workersSlider = nullptr;
    QSpinBox* m_workers = nullptr;
    QCheckBox* m_gil = nullptr;
    QDoubleSpinBox* m_switch = nullptr;
    QSpinBox* m_chunk = nullptr;
    QSpinBox* m_priority = nullptr;
    QLabel* m_hint = nullptr;
    QLabel* m_description = nullptr;
    QString m_refused;                                // see refusedHint()
    QHash<QAbstractSpinBox*, QString> m_refuseLabels; // watched editors and their names
    QWidget* m_buttons = nullptr;
    QWidget* m_workloadBox = nullptr;
    QWidget* m_poolBox = nullptr;
    QGridLayout* m_grid = nullptr;
    bool m_narrow = false;
    QString m_current;                        // workload the editors show
    QHash<QString, WorkloadRun> m_remembered; // per workload, this session
    bool m_loading = false;
};

} // namespace poolscope
