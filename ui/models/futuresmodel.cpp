#include "models/futuresmodel.h"

#include "models/display.h"

#include <poolscope/patterns.h>

#include <QGuiApplication>

#include <algorithm>

namespace poolscope {

namespace {
constexpr int kCellChars = 200;     // table cells are one line
constexpr int kToolTipChars = 2000; // tooltips are a preview; details show all

qint64 queuedNs(const TaskSpan& s)
{
    return s.enqueueNs > 0 ? std::max<qint64>(0, s.startNs - s.enqueueNs) : -1;
}
qint64 runNs(const TaskSpan& s)
{
    return std::max<qint64>(0, s.endNs - s.startNs);
}
// The same split as the run's decomposition bar (patterns.h): wall − CPU −
// GIL wait, at least 0; -1 ("—") when the CPU time was not measured.
qint64 waitingNs(const TaskSpan& s)
{
    return s.cpuNs >= 0 ? decompose(s).waitingNs : -1;
}
QString durationOrDash(qint64 ns)
{
    return ns >= 0 ? display::formatDuration(ns) : QStringLiteral("—");
}
} // namespace

FuturesModel::FuturesModel(QObject* parent)
    : QAbstractTableModel(parent)
{}

void FuturesModel::applySnapshot(const Snapshot& snapshot)
{
    for (const WorkerInfo& w : snapshot.workers) {
        if (!w.name.isEmpty())
            m_workerNames.insert(w.index, w.name);
    }
    if (!snapshot.record)
        return;
    if (snapshot.record != m_record || snapshot.record->generation() != m_generation
        || snapshot.record->size() < m_taken) {
        setRecord(snapshot.record);
        return;
    }
    take(std::min(m_record->size(), m_limit));
}

void FuturesModel::setRowLimit(quint64 rows)
{
    if (rows == m_limit)
        return;
    const quint64 avail = m_record ? m_record->size() : 0;
    const quint64 now = std::min(avail, m_limit);
    const quint64 want = std::min(avail, rows);
    m_limit = rows;
    if (want > now) {
        take(want);
    } else if (want < now) {
        if (identity()) {
            beginRemoveRows({}, int(want), int(now) - 1);
            m_taken = want;
            endRemoveRows();
            emit contentsChanged();
        } else {
            beginResetModel();
            rebuild();
            endResetModel();
            emit contentsChanged();
        }
    }
}

void FuturesModel::setRecord(std::shared_ptr<const RunRecord> record)
{
    beginResetModel();
    m_record = std::move(record);
    m_generation = m_record ? m_record->generation() : 0;
    rebuild();
    endResetModel();
    emit contentsChanged();
}

void FuturesModel::clear()
{
    setRecord(nullptr);
}

void FuturesModel::setWorkerName(int workerIndex, const QString& name)
{
    m_workerNames.insert(workerIndex, name);
}

QString FuturesModel::workerName(int workerIndex) const
{
    if (workerIndex < 0)
        return QStringLiteral("—");
    const QString n = m_workerNames.value(workerIndex);
    return n.isEmpty() ? QStringLiteral("worker %1").arg(workerIndex) : n;
}

void FuturesModel::setPalette(const QPalette& palette)
{
    m_palette = palette;
    m_customPalette = true;
    if (rowCount() > 0)
        emit dataChanged(index(0, StatusColumn), index(rowCount() - 1, StatusColumn),
                         {Qt::ForegroundRole, StatusColorRole});
}

quint64 FuturesModel::recordRow(int row) const
{
    return identity() ? quint64(row) : quint64(m_rows[std::size_t(row)]);
}

int FuturesModel::rowOfTask(quint64 taskId) const
{
    if (!m_record)
        return -1;
    for (int r = 0; r < rowCount(); ++r) {
        if (m_record->taskId(recordRow(r)) == taskId)
            return r;
    }
    return -1;
}

TaskRecord FuturesModel::taskRecord(int row) const
{
    return m_record->record(recordRow(row));
}

QString FuturesModel::sampleNote() const
{
    return m_record ? m_record->samplingNote() : QString();
}

quint64 FuturesModel::runTasks() const
{
    if (!m_record)
        return 0;
    if (m_limit < m_record->size())
        return m_limit; // a replay: the tasks finished by its position
    const RecordStats st = m_record->stats();
    return st.seen + st.lost;
}

// ---------------------------------------------------------- filter and sort

namespace {
qint64 waitingOf(const TaskSpan& s)
{
    return s.cpuNs >= 0 ? decompose(s).waitingNs : -1;
}
} // namespace

bool FuturesModel::accepts(quint64 row) const
{
    const RunRecord& rec = *m_record;
    const TaskStatus st = rec.status(row);
    switch (m_status) {
    case StatusFilter::All:
        break;
    case StatusFilter::Succeeded:
        if (st != TaskStatus::Succeeded)
            return false;
        break;
    case StatusFilter::Failed:
        if (st != TaskStatus::Failed)
            return false;
        break;
    case StatusFilter::Cancelled:
        if (st != TaskStatus::Cancelled)
            return false;
        break;
    }
    if (m_text.isEmpty())
        return true;
    if (m_textNames.contains(rec.nameId(row)))
        return true;
    if (rec.hasTexts(row) && rec.args(row).contains(m_text, Qt::CaseInsensitive))
        return true;
    return resultOrErrorOf(row).contains(m_text, Qt::CaseInsensitive)
           || (m_pythonErrors && rec.status(row) == TaskStatus::Failed
               && shownResultOf(row).contains(m_text, Qt::CaseInsensitive));
}

bool FuturesModel::lessThan(quint64 a, quint64 b) const
{
    // A strict total order: ties go by record row, so a merge and a binary
    // search agree with the sort.
    const RunRecord& rec = *m_record;
    auto cmp = [&](auto x, auto y) {
        if (x != y)
            return m_sortOrder == Qt::AscendingOrder ? x < y : y < x;
        return a < b;
    };
    switch (m_sortColumn) {
    case IdColumn:
        return cmp(rec.taskId(a), rec.taskId(b));
    case TaskColumn:
        return cmp(NameTable::name(rec.nameId(a)), NameTable::name(rec.nameId(b)));
    case ArgsColumn:
        return cmp(rec.args(a), rec.args(b));
    case ResultColumn:
        return cmp(resultOrErrorOf(a), resultOrErrorOf(b));
    case StatusColumn:
        return cmp(int(rec.status(a)), int(rec.status(b)));
    case WorkerColumn:
        return cmp(rec.worker(a), rec.worker(b));
    case CoreColumn:
        return cmp(rec.span(a).core, rec.span(b).core);
    case QueuedColumn: {
        auto q = [&](quint64 r) {
            const qint64 sub = rec.submitNs(r);
            return sub > 0 ? rec.startNs(r) - sub : qint64(-1);
        };
        return cmp(q(a), q(b));
    }
    case RunColumn:
        return cmp(rec.endNs(a) - rec.startNs(a), rec.endNs(b) - rec.startNs(b));
    case CpuColumn:
        return cmp(rec.cpuNs(a), rec.cpuNs(b));
    case GilWaitColumn:
        return cmp(rec.gilWaitNs(a), rec.gilWaitNs(b));
    case WaitingColumn:
        return cmp(waitingOf(rec.span(a)), waitingOf(rec.span(b)));
    default:
        return a < b;
    }
}

void FuturesModel::rebuild()
{
    m_rows.clear();
    m_taken = m_record ? std::min(m_record->size(), m_limit) : 0;
    if (!m_record || identity())
        return;
    m_rows.reserve(std::size_t(m_taken));
    for (quint64 r = 0; r < m_taken; ++r) {
        if (accepts(r))
            m_rows.push_back(quint32(r));
    }
    if (m_sortColumn >= 0)
        std::sort(m_rows.begin(), m_rows.end(),
                  [this](quint32 a, quint32 b) { return lessThan(a, b); });
}

void FuturesModel::take(quint64 upTo)
{
    if (upTo <= m_taken)
        return;
    if (identity()) {
        beginInsertRows({}, int(m_taken), int(upTo) - 1);
        m_taken = upTo;
        endInsertRows();
        emit contentsChanged();
        return;
    }
    std::vector<quint32> fresh;
    for (quint64 r = m_taken; r < upTo; ++r) {
        if (accepts(r))
            fresh.push_back(quint32(r));
    }
    m_taken = upTo;
    if (fresh.empty()) {
        emit contentsChanged();
        return;
    }
    if (m_sortColumn < 0) {
        const int first = int(m_rows.size());
        beginInsertRows({}, first, first + int(fresh.size()) - 1);
        m_rows.insert(m_rows.end(), fresh.begin(), fresh.end());
        endInsertRows();
        emit contentsChanged();
        return;
    }
    // Sorted: merge the tick's rows in, keeping selections and the scroll
    // position (persistent indexes follow their tasks).
    auto less = [this](quint32 a, quint32 b) { return lessThan(a, b); };
    std::sort(fresh.begin(), fresh.end(), less);
    emit layoutAboutToBeChanged({}, QAbstractItemModel::VerticalSortHint);
    const QModelIndexList before = persistentIndexList();
    std::vector<quint32> keep;
    keep.reserve(std::size_t(before.size()));
    for (const QModelIndex& i : before)
        keep.push_back(m_rows[std::size_t(i.row())]);
    std::vector<quint32> merged;
    merged.reserve(m_rows.size() + fresh.size());
    std::merge(m_rows.begin(), m_rows.end(), fresh.begin(), fresh.end(), std::back_inserter(merged),
               less);
    m_rows.swap(merged);
    QModelIndexList after;
    after.reserve(before.size());
    for (qsizetype k = 0; k < before.size(); ++k) {
        const auto it = std::lower_bound(m_rows.begin(), m_rows.end(), keep[std::size_t(k)], less);
        after.append(index(int(it - m_rows.begin()), before[k].column()));
    }
    changePersistentIndexList(before, after);
    emit layoutChanged({}, QAbstractItemModel::VerticalSortHint);
    emit contentsChanged();
}

void FuturesModel::setStatusFilter(StatusFilter filter)
{
    if (filter == m_status)
        return;
    beginResetModel();
    m_status = filter;
    rebuild();
    endResetModel();
    emit contentsChanged();
}

void FuturesModel::setTextFilter(const QString& text)
{
    if (text == m_text)
        return;
    beginResetModel();
    m_text = text;
    m_textNames.clear();
    if (!m_text.isEmpty() && m_record) {
        // Names match once per name, not once per row.
        QHash<quint32, bool> seen;
        for (quint64 r = 0; r < m_record->size(); ++r) {
            const quint32 n = m_record->nameId(r);
            if (seen.contains(n))
                continue;
            const bool match = NameTable::name(n).contains(m_text, Qt::CaseInsensitive);
            seen.insert(n, match);
            if (match)
                m_textNames.insert(n);
        }
    }
    rebuild();
    endResetModel();
    emit contentsChanged();
}

void FuturesModel::sort(int column, Qt::SortOrder order)
{
    if (column >= ColumnCount)
        column = -1;
    if (column == m_sortColumn && order == m_sortOrder)
        return;
    beginResetModel();
    m_sortColumn = column;
    m_sortOrder = order;
    rebuild();
    endResetModel();
    emit contentsChanged();
}

// ------------------------------------------------------------------- rows

QString FuturesModel::resultOrErrorOf(quint64 row) const
{
    const RunRecord& rec = *m_record;
    const TaskStatus st = rec.status(row);
    if (st == TaskStatus::Failed)
        return rec.error(row);
    if (st == TaskStatus::Cancelled) {
        const QString e = rec.hasTexts(row) ? rec.error(row) : QString();
        return e.isEmpty() ? tr("cancelled") : e;
    }
    return display::resultText(rec.result(row));
}

QString FuturesModel::shownResultOf(quint64 row) const
{
    if (m_pythonErrors && m_record->status(row) == TaskStatus::Failed)
        return display::pythonErrorText(m_record->error(row));
    return resultOrErrorOf(row);
}

void FuturesModel::setPythonErrorNames(bool on)
{
    if (m_pythonErrors == on)
        return;
    m_pythonErrors = on;
    if (rowCount() > 0)
        emit dataChanged(index(0, ResultColumn), index(rowCount() - 1, ResultColumn));
    if (!m_text.isEmpty()) { // the names a filter matches changed
        const QString text = m_text;
        setTextFilter(QString());
        setTextFilter(text);
    }
}

QString FuturesModel::resultOrError(int row) const
{
    return resultOrErrorOf(recordRow(row));
}

QString FuturesModel::detailsText(int row) const
{
    if (row < 0 || row >= rowCount())
        return {};
    const TaskRecord r = taskRecord(row);
    const TaskSpan& s = r.span;
    QString t;
    t += tr("Task #%1 %2 — %3\n")
             .arg(s.taskId)
             .arg(NameTable::name(s.nameId), QString::fromLatin1(nameOf(s.status)));
    t += tr("Arguments: %1\n").arg(r.args.isEmpty() ? QStringLiteral("—") : r.args);
    if (s.status == TaskStatus::Failed) {
        QString cpp;
        const QString py = display::pythonErrorText(r.error, &cpp);
        t += tr("Error:\n%1\n").arg(m_pythonErrors ? py : r.error);
        if (m_pythonErrors && py != r.error)
            t += tr("(C++: %1)\n").arg(r.error);
    } else if (s.status == TaskStatus::Cancelled)
        t +=
            tr("Cancelled%1\n").arg(r.error.isEmpty() ? QString() : QStringLiteral(": ") + r.error);
    else
        t += tr("Result:\n%1\n").arg(display::resultText(r.result));
    t += s.started ? tr("Worker: %1 (#%2)").arg(workerName(s.worker)).arg(s.worker)
                   : tr("Worker: none (it ended before it started)");
    t += s.core >= 0 ? tr(", started on core %1\n").arg(s.core) : QStringLiteral("\n");
    t += tr("Queued: %1\nRun time (wall): %2\nCPU time: %3\nGIL wait: %4\n"
            "Waiting (wall − CPU − GIL wait): %5")
             .arg(durationOrDash(queuedNs(s)), display::formatDuration(runNs(s)),
                  durationOrDash(s.cpuNs), display::formatDuration(s.gilWaitNs),
                  durationOrDash(waitingNs(s)));
    return t;
}

int FuturesModel::rowCount(const QModelIndex& parent) const
{
    if (parent.isValid())
        return 0;
    return identity() ? int(m_taken) : int(m_rows.size());
}

int FuturesModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant FuturesModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const RunRecord& rec = *m_record;
    const quint64 row = recordRow(index.row());
    const TaskSpan s = rec.span(row);
    const int col = index.column();
    switch (role) {
    case Qt::DisplayRole:
        switch (col) {
        case IdColumn:
            return QString::number(s.taskId);
        case TaskColumn:
            return NameTable::name(s.nameId);
        case ArgsColumn:
            return rec.hasTexts(row) ? display::elide(rec.args(row), kCellChars) : QString();
        case ResultColumn:
            return display::elide(shownResultOf(row), kCellChars);
        case StatusColumn:
            return QString::fromLatin1(nameOf(s.status));
        case WorkerColumn:
            return s.started ? workerName(s.worker) : tr("— (never started)");
        case CoreColumn:
            return s.core >= 0 ? QString::number(s.core) : QStringLiteral("—");
        case QueuedColumn:
            return durationOrDash(queuedNs(s));
        case RunColumn:
            return display::formatDuration(runNs(s));
        case CpuColumn:
            return durationOrDash(s.cpuNs);
        case GilWaitColumn:
            return display::formatDuration(s.gilWaitNs);
        case WaitingColumn:
            return durationOrDash(waitingNs(s));
        }
        break;
    case SortRole:
        switch (col) {
        case IdColumn:
            return s.taskId;
        case TaskColumn:
            return NameTable::name(s.nameId);
        case ArgsColumn:
            return rec.args(row);
        case ResultColumn:
            return resultOrErrorOf(row);
        case StatusColumn:
            return int(s.status);
        case WorkerColumn:
            return s.worker;
        case CoreColumn:
            return int(s.core);
        case QueuedColumn:
            return queuedNs(s);
        case RunColumn:
            return runNs(s);
        case CpuColumn:
            return s.cpuNs;
        case GilWaitColumn:
            return s.gilWaitNs;
        case WaitingColumn:
            return waitingNs(s);
        }
        break;
    case StatusRole:
        return int(s.status);
    case StatusColorRole:
        return display::statusColor(s.status,
                                    m_customPalette ? m_palette : QGuiApplication::palette());
    case TaskIdRole:
        return s.taskId;
    case WorkerIndexRole:
        return s.worker;
    case Qt::ForegroundRole:
        if (col == StatusColumn || (col == ResultColumn && s.status != TaskStatus::Succeeded))
            return display::statusColor(s.status,
                                        m_customPalette ? m_palette : QGuiApplication::palette());
        break;
    case Qt::ToolTipRole:
        switch (col) {
        case ArgsColumn: {
            const QString a = rec.hasTexts(row) ? rec.args(row) : QString();
            return a.isEmpty() ? QVariant() : display::elide(a, kToolTipChars);
        }
        case ResultColumn: {
            // The whole text (to the tooltip's limit), and for an error the
            // C++ type it was thrown as.
            const QString shown = shownResultOf(row);
            if (s.status == TaskStatus::Failed && m_pythonErrors) {
                QString cpp;
                display::pythonErrorText(rec.error(row), &cpp);
                if (!cpp.isEmpty())
                    return display::elide(shown, kToolTipChars) + QLatin1Char('\n')
                           + tr("C++ type: %1").arg(cpp);
            }
            return display::elide(shown, kToolTipChars);
        }
        case QueuedColumn:
            return tr("Time from submit to start");
        case RunColumn:
            return tr("Wall time from start to end");
        case GilWaitColumn:
            return tr("Time spent waiting for the simulated GIL");
        case WaitingColumn:
            return tr("Run time − CPU time − GIL wait (at least 0): blocked on I/O, "
                      "sleeping, or ready to run while another thread had the core");
        }
        break;
    case Qt::TextAlignmentRole:
        switch (col) {
        case IdColumn:
        case CoreColumn:
        case QueuedColumn:
        case RunColumn:
        case CpuColumn:
        case GilWaitColumn:
        case WaitingColumn:
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        }
        break;
    default:
        break;
    }
    return {};
}

QVariant FuturesModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return QAbstractTableModel::headerData(section, orientation, role);
    if (role == Qt::ToolTipRole && section == WaitingColumn)
        return tr("Run time − CPU time − GIL wait, at least 0 (the same split as the "
                  "run's time bar)");
    if (role != Qt::DisplayRole)
        return {};
    switch (section) {
    case IdColumn:
        return tr("Id");
    case TaskColumn:
        return tr("Task");
    case ArgsColumn:
        return tr("Args");
    case ResultColumn:
        return tr("Result / error");
    case StatusColumn:
        return tr("Status");
    case WorkerColumn:
        return tr("Worker");
    case CoreColumn:
        return tr("Core");
    case QueuedColumn:
        return tr("Queued");
    case RunColumn:
        return tr("Run time");
    case CpuColumn:
        return tr("CPU time");
    case GilWaitColumn:
        return tr("GIL wait");
    case WaitingColumn:
        return tr("Waiting");
    }
    return {};
}

} // namespace poolscope
