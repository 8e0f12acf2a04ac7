#include "teaching/analysispanel.h"

#include "teaching/decompositionbar.h"

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
    layout->addWidget(heading);
    m_bar = new DecompositionBar(this);
    m_bar->setObjectName(QStringLiteral("decompositionBar"));
    layout->addWidget(m_bar);
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
}

QString AnalysisPanel::hintsText() const
{
    QStringList out;
    for (const auto& h : m_hints)
        out << QStringLiteral("%1: %2 (%3)").arg(h.title, h.explanation, h.evidence);
    return out.join(QLatin1Char('\n'));
}

} // namespace poolscope
