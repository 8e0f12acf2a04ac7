#pragma once
// AnalysisPanel: "what limited this run", for the end of a run or a replay.
// A DecompositionBar (where the time went) over a list of pattern hints
// (patterns.h: oversubscription, load imbalance, GIL-bound, I/O-bound,
// overhead-bound), each with its plain-words meaning and this run's numbers.
//
//     RunContext ctx{executor->maxWorkers(), QThread::idealThreadCount(), gil};
//     panel->analyse(*monitor->record(), ctx);

#include <poolscope/patterns.h>

#include <QList>
#include <QWidget>

#include <vector>

class QCheckBox;
class QLabel;

namespace poolscope {

class DecompositionBar;

class AnalysisPanel : public QWidget {
    Q_OBJECT
public:
    explicit AnalysisPanel(QWidget* parent = nullptr);

    /// Decomposes the spans and detects patterns (fromSpans + detectPatterns).
    void analyse(const std::vector<TaskSpan>& spans, const RunContext& context);
    /// The same for a run's record: exact totals (decompose(record),
    /// fromRecord) even when the record is a sample.
    void analyse(const RunRecord& record, const RunContext& context);
    /// Shows precomputed results.
    void setResults(const TimeDecomposition& decomposition, const QList<PatternHint>& hints);
    void clear();
    /// Warnings over the hints: RunSummary::busyText() (other programs held
    /// cores during the run) and RunSummary::sharedText() (this window's
    /// drawing took a share of the cores the workers wanted); both empty
    /// hide them.
    void setBusyText(const QString& text, const QString& shared = {});
    QString busyText() const;

    QList<PatternHint> hints() const { return m_hints; }
    DecompositionBar* bar() const { return m_bar; }
    /// The hints as shown (plain text), for tests and copy/paste.
    QString hintsText() const;

private:
    DecompositionBar* m_bar = nullptr;
    QCheckBox* m_taskView = nullptr; // "count the queue wait": the bar's task view
    QLabel* m_queueLabel = nullptr;  // the queue wait, said apart in the worker view
    QLabel* m_hintsLabel = nullptr;
    QLabel* m_busyLabel = nullptr;
    QList<PatternHint> m_hints;
};

} // namespace poolscope
