#include "teaching/analysispanel.h"

#include "teaching/decompositionbar.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QVBoxLayout>

namespace poolscope {

AnalysisPanel::AnalysisPanel(QWidget* parent)
    : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    auto* heading = new QLabel(tr("Where the time went"), this);
    QFont f = heading->font();
    f.setBold(true);
    heading->setFont(f);
    m_taskView = new QCheckBox(tr("Count the queue wait"), this);
    m_taskView->setObjectName(QStringLiteral("decompositionTaskView"));
    m_taskView->setToolTip(tr("Off: where the workers' time went (CPU, GIL wait, waiting, "
                              "overhead between tasks, idle).\nOn: the time of every task summed, "
                              "its wait in the queue included."));
    auto* top = new QHBoxLayout;
    top->addWidget(heading, 1);
    top->addWidget(m_taskView);
    layout->addLayout(top);
    m_bar = new DecompositionBar(this);
    m_bar->setObjectName(QStringLiteral("decompositionBar"));
    layout->addWidget(m_bar);
    m_queueLabel = new QLabel(this);
    m_queueLabel->setObjectName(QStringLiteral("decompositionQueue"));
    m_queueLabel->setWordWrap(true);
    layout->addWidget(m_queueLabel);
    connect(m_taskView, &QCheckBox::toggled, this, [this](bool on) {
        m_bar->setView(on ? DecompositionBar::View::TaskTime : DecompositionBar::View::WorkerTime);
        m_queueLabel->setText(m_bar->queueText());
        m_queueLabel->setVisible(!m_queueLabel->text().isEmpty());
    });
    m_busyLabel = new QLabel(this);
    m_busyLabel->setObjectName(QStringLiteral("busyLabel"));
    m_busyLabel->setWordWrap(true);
    m_busyLabel->hide();
    layout->addWidget(m_busyLabel);
    m_hintsLabel = new QLabel(this);
    m_hintsLabel->setObjectName(QStringLiteral("hintsLabel"));
    m_hintsLabel->setWordWrap(true);
    m_hintsLabel->setTextFormat(Qt::RichText);
    m_hintsLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_hintsLabel->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    layout->addWidget(m_hintsLabel, 1);
    clear();
}

void AnalysisPanel::analyse(const std::vector<TaskSpan>& spans, const RunContext& context)
{
    setResults(decompose(spans), detectPatterns(fromSpans(spans, context)));
}

void AnalysisPanel::analyse(const RunRecord& record, const RunContext& context)
{
    setResults(decompose(record), detectPatterns(fromRecord(record, context)));
}

void AnalysisPanel::setResults(const TimeDecomposition& decomposition,
                               const QList<PatternHint>& hints)
{
    m_bar->setDecomposition(decomposition);
    m_queueLabel->setText(m_bar->queueText());
    m_queueLabel->setVisible(!m_queueLabel->text().isEmpty());
    m_hints = hints;
    if (decomposition.tasks == 0) {
        m_hintsLabel->setText(tr("<i>Run something: the hints appear when tasks finish.</i>"));
        return;
    }
    if (hints.isEmpty()) {
        m_hintsLabel->setText(tr("<b>No pattern found.</b> The workers were kept busy and no "
                                 "single cause (GIL, waiting, overhead, stragglers, too many "
                                 "workers, a busy machine) stands out."));
        return;
    }
    QString html;
    for (const auto& h : hints)
        html += QStringLiteral("<p><b>%1</b><br>%2<br><i>%3</i></p>")
                    .arg(h.title.toHtmlEscaped(), h.explanation.toHtmlEscaped(),
                         tr("Evidence: %1").arg(h.evidence).toHtmlEscaped());
    m_hintsLabel->setText(html);
}

void AnalysisPanel::clear()
{
    setResults({}, {});
    setBusyText({});
}

void AnalysisPanel::setBusyText(const QString& text, const QString& shared)
{
    auto capital = [](const QString& t) { return t.left(1).toUpper() + t.mid(1); };
    QStringList lines;
    if (!text.isEmpty())
        lines << tr("⚠ %1 during this run: its times and speedups are worse than on a "
                    "quiet machine.")
                     .arg(capital(text));
    if (!shared.isEmpty())
        lines << tr("⚠ %1: a speedup on them tops out there (poolscope-cli runs without a "
                    "window).")
                     .arg(capital(shared));
    m_busyLabel->setText(lines.join(QLatin1Char('\n')));
    m_busyLabel->setVisible(!lines.isEmpty());
}

QString AnalysisPanel::busyText() const
{
    return m_busyLabel->text();
}

QString AnalysisPanel::hintsText() const
{
    QStringList out;
    for (const auto& h : m_hints)
        out << QStringLiteral("%1: %2 (%3)").arg(h.title, h.explanation, h.evidence);
    return out.join(QLatin1Char('\n'));
}

} // namespace poolscope
