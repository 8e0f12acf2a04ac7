#pragma once
// DecompositionBar: where the time of a run went, as one stacked horizontal
// bar (queued | GIL wait | CPU | waiting | not measured) with a legend of
// shares and durations underneath. Input: TimeDecomposition (patterns.h),
// e.g. decompose(monitor->spanHistory()).

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

    explicit DecompositionBar(QWidget* parent = nullptr);

    void setDecomposition(const TimeDecomposition& d);
    TimeDecomposition decomposition() const { return m_d; }
    void clear();

    /// The parts in drawing order (queued, GIL wait, CPU, waiting, not
    /// measured); zero parts included.
    QList<Segment> segments() const;
    /// "CPU 62% (1.24 s) · waiting 30% (600 ms) · ..." (non-zero parts only).
    QString legendText() const;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent* e) override;
    bool event(QEvent* e) override;

private:
    TimeDecomposition m_d;
};

} // namespace poolscope
