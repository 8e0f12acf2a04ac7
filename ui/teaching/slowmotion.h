#pragma once
// Slow motion for the demo workloads (docs/gui.md: record, replay, slow
// motion): so a class can follow single tasks from the queue to a worker to
// done, each task is made `factor` times longer by raising its work (size)
// or its delay knob, within the workload's limits (Workloads::validate).
// The pool and the task count stay as they are.
//
// How each workload is slowed (also SlowMotion::howItSlows()):
//   sleep, crash, hang            size (milliseconds) x factor
//   primes, primes_native, throws,
//   long_tail, montecarlo_pi,
//   hash, hash_native, file_io    size x factor (work is linear in it)
//   cpu_then_wait                 size and wait_ms x factor
//   pipeline                      numbers per item x factor
//   matmul, matmul_native         order n x cube root of factor (work ~ n^3)
//   mandelbrot                    width and rows per band x square root of
//                                 factor each (the picture keeps its shape)
// A value at its limit is capped and the result says so (appliedFactor).
//
// Stepping: SlowMotionBar's Step button (enabled while the pool is paused)
// emits stepRequested(); connect it to Executor::step(), which lets exactly
// one queued task start.

#include <poolscope/workloads.h>

#include <QList>
#include <QString>
#include <QWidget>

class QComboBox;
class QLabel;
class QPushButton;

namespace poolscope {

struct SlowMotionResult {
    WorkloadRun run; // the slowed-down run (valid for the workload)
    int requestedFactor = 1;
    double appliedFactor = 1; // how much longer each task gets, after caps
    bool capped = false;      // a limit kept it below requestedFactor
    QString description;      // e.g. "each task sleeps 1000 ms instead of 100 ms"
};

class SlowMotion {
public:
    /// 1, 2, 5, 10, 50.
    static QList<int> factors();
    /// The run with every task about `factor` times longer. factor <= 1 or an
    /// unknown workload returns the run unchanged (appliedFactor 1).
    static SlowMotionResult apply(const QString& workload, const WorkloadRun& run, int factor);
    /// One sentence: what slow motion changes for this workload.
    static QString howItSlows(const QString& workload);
};

/// A factor chooser and a Step button.
class SlowMotionBar : public QWidget {
    Q_OBJECT
public:
    explicit SlowMotionBar(QWidget* parent = nullptr);

    int factor() const;
    void setFactor(int factor);
    bool isPaused() const { return m_paused; }
    /// The workload whose slow-down the tooltip explains.
    void setWorkload(const QString& workload);

public slots:
    /// Step is enabled only while paused (connect RunController::pausedChanged).
    void setPaused(bool paused);

signals:
    void factorChanged(int factor);
    /// Dispatch exactly one queued task (Executor::step()).
    void stepRequested();

private:
    QComboBox* m_factor = nullptr;
    QPushButton* m_step = nullptr;
    QString m_workload;
    bool m_paused = false;
};

} // namespace poolscope
