#pragma once
// DecompositionBar: where the time of a run went, as one stacked horizontal
// bar with a legend of shares and durations underneath. Two views of a
// TimeDecomposition (patterns.h), e.g. decompose(record):
//   worker time (the default when the decomposition has it): each worker's
//     share of the run, CPU | GIL wait | waiting | not measured | overhead |
//     idle; the queue wait is not worker time and is said apart (queueText());
//   task time: summed over tasks, queued | GIL wait | CPU | waiting | not
//     measured (queue wait dominates any batch larger than the pool).

#include <poolscope/patterns.h>

#include <QColor>
#include <QList>
#include <QString>
#include <QWidget>

namespace poolscope {

class DecompositionBar : public QWidget {
    Q_OBJECT
public:
    struct Segment {
        QString name;
        qint64 ns = 0;
        double fraction = 0; // of the total
        QColor color;
    };

    enum class View { WorkerTime, TaskTime };

    explicit DecompositionBar(QWidget* parent = nullptr);

    void setDecomposition(const TimeDecomposition& d);
    /// The view asked for (WorkerTime by default).
    void setView(View view);
    View view() const { return m_view; }
    /// The view drawn: TaskTime when the decomposition has no worker time.
    View shownView() const;
    /// "Tasks also waited 1.2 s in the queue (60 µs per task): not worker
    /// time." in the worker view when anything was queued; empty otherwise.
    QString queueText() const;
    TimeDecomposition decomposition() const { return m_d; }
    void clear();

    /// The parts of the shown view in drawing order, zero parts included:
    /// worker time CPU, GIL wait, waiting, not measured, overhead, idle;
    /// task time queued, GIL wait, CPU, waiting, not measured.
    QList<Segment> segments() const;
    /// "CPU 62% (1.24 s) · waiting 30% (600 ms) · ..." (non-zero parts only).
    QString legendText() const;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent* e) override;
    bool event(QEvent* e) override;

private:
    void updateToolTip();

    TimeDecomposition m_d;
    View m_view = View::WorkerTime;
};

} // namespace poolscope
