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
    appendRecords(snapshot.completed);
}

void FuturesModel::appendRecords(const QList<TaskRecord>& records)
{
    if (records.isEmpty())
        return;
    const qsizetype n = records.size();
    const qsizetype cap = m_maxRows;
    const qsizetype skip = n > cap ? n - cap : 0; // a batch larger than the whole history
    const qsizetype adding = n - skip;
    const qsizetype removing = std::max<qsizetype>(0, qsizetype(m_rows.size()) + adding - cap);
    if (removing > 0) {
        beginRemoveRows({}, 0, int(removing) - 1);
        m_rows.erase(m_rows.begin(), m_rows.begin() + removing);
        endRemoveRows();
    }
    const int first = int(m_rows.size());
    beginInsertRows({}, first, first + int(adding) - 1);
    m_rows.insert(m_rows.end(), records.cbegin() + skip, records.cend());
    endInsertRows();
    if (removing + skip > 0) {
        m_trimmed += quint64(removing + skip);
        emit trimmedChanged(m_trimmed);
    }
}

void FuturesModel::trimTo(int rows)
{
    const qsizetype removing = std::max<qsizetype>(0, qsizetype(m_rows.size()) - rows);
    if (removing == 0)
        return;
    beginRemoveRows({}, 0, int(removing) - 1);
    m_rows.erase(m_rows.begin(), m_rows.begin() + removing);
    endRemoveRows();
    m_trimmed += quint64(removing);
    emit trimmedChanged(m_trimmed);
}

void FuturesModel::clear()
{
    beginResetModel();
    m_rows.clear();
    endResetModel();
    if (m_trimmed != 0) {
        m_trimmed = 0;
        emit trimmedChanged(0);
    }
}

void FuturesModel::setMaxRows(int maxRows)
{
    m_maxRows = std::max(1, maxRows);
    trimTo(m_maxRows);
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
    if (!m_rows.empty())
        emit dataChanged(index(0, StatusColumn), index(rowCount() - 1, StatusColumn),
                         {Qt::ForegroundRole, StatusColorRole});
}

QString FuturesModel::resultOrError(int row) const
{
    const TaskRecord& r = m_rows[std::size_t(row)];
    if (r.span.status == TaskStatus::Failed)
        return r.error;
    if (r.span.status == TaskStatus::Cancelled)
        return r.error.isEmpty() ? tr("cancelled") : r.error;
    return display::resultText(r.result);
}

QString FuturesModel::detailsText(int row) const
{
    if (row < 0 || row >= rowCount())
        return {};
    const TaskRecord& r = m_rows[std::size_t(row)];
    const TaskSpan& s = r.span;
    QString t;
    t += tr("Task #%1 %2 — %3\n")
             .arg(s.taskId)
             .arg(NameTable::name(s.nameId), QString::fromLatin1(nameOf(s.status)));
    t += tr("Arguments: %1\n").arg(r.args.isEmpty() ? QStringLiteral("—") : r.args);
    if (s.status == TaskStatus::Failed)
        t += tr("Error:\n%1\n").arg(r.error);
    else if (s.status == TaskStatus::Cancelled)
        t +=
            tr("Cancelled%1\n").arg(r.error.isEmpty() ? QString() : QStringLiteral(": ") + r.error);
    else
        t += tr("Result:\n%1\n").arg(display::resultText(r.result));
    t += tr("Worker: %1 (#%2)").arg(workerName(s.worker)).arg(s.worker);
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
    return parent.isValid() ? 0 : int(m_rows.size());
}

int FuturesModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant FuturesModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const TaskRecord& r = m_rows[std::size_t(index.row())];
    const TaskSpan& s = r.span;
    const int col = index.column();
    switch (role) {
    case Qt::DisplayRole:
        switch (col) {
        case IdColumn:
            return QString::number(s.taskId);
        case TaskColumn:
            return NameTable::name(s.nameId);
        case ArgsColumn:
            return display::elide(r.args, kCellChars);
        case ResultColumn:
            return display::elide(resultOrError(index.row()), kCellChars);
        case StatusColumn:
            return QString::fromLatin1(nameOf(s.status));
        case WorkerColumn:
            return workerName(s.worker);
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
            return r.args;
        case ResultColumn:
            return resultOrError(index.row());
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
        case ArgsColumn:
            return r.args.isEmpty() ? QVariant() : display::elide(r.args, kToolTipChars);
        case ResultColumn:
            return display::elide(resultOrError(index.row()), kToolTipChars);
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

// ------------------------------------------------------------ FuturesFilterModel

FuturesFilterModel::FuturesFilterModel(QObject* parent)
    : QSortFilterProxyModel(parent)
{
    setSortRole(FuturesModel::SortRole);
    setDynamicSortFilter(true);
}

void FuturesFilterModel::setStatusFilter(StatusFilter filter)
{
    if (filter == m_status)
        return;
    m_status = filter;
    invalidateRowsFilter();
}

void FuturesFilterModel::setTextFilter(const QString& text)
{
    if (text == m_text)
        return;
    m_text = text;
    invalidateRowsFilter();
}

bool FuturesFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const
{
    if (sourceParent.isValid())
        return false;
    const auto* fm = qobject_cast<const FuturesModel*>(sourceModel());
    TaskStatus status;
    if (fm)
        status = fm->record(sourceRow).span.status;
    else
        status =
            TaskStatus(sourceModel()->index(sourceRow, 0).data(FuturesModel::StatusRole).toInt());
    switch (m_status) {
    case StatusFilter::All:
        break;
    case StatusFilter::Succeeded:
        if (status != TaskStatus::Succeeded)
            return false;
        break;
    case StatusFilter::Failed:
        if (status != TaskStatus::Failed)
            return false;
        break;
    case StatusFilter::Cancelled:
        if (status != TaskStatus::Cancelled)
            return false;
        break;
    }
    if (m_text.isEmpty())
        return true;
    if (fm) {
        const TaskRecord& r = fm->record(sourceRow);
        return NameTable::name(r.span.nameId).contains(m_text, Qt::CaseInsensitive)
               || r.args.contains(m_text, Qt::CaseInsensitive)
               || fm->resultOrError(sourceRow).contains(m_text, Qt::CaseInsensitive);
    }
    for (int c : {int(FuturesModel::TaskColumn), int(FuturesModel::ArgsColumn),
                  int(FuturesModel::ResultColumn)}) {
        if (sourceModel()
                ->index(sourceRow, c)
                .data()
                .toString()
                .contains(m_text, Qt::CaseInsensitive))
            return true;
    }
    return false;
}

} // namespace poolscope
