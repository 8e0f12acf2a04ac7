#include "models/queuemodel.h"

#include "models/display.h"

#include <algorithm>
#include <limits>

namespace poolscope {

QueueModel::QueueModel(QObject* parent)
    : QAbstractTableModel(parent)
{}

void QueueModel::applySnapshot(const Snapshot& snapshot)
{
    const QList<QueuedTask>& next = snapshot.queueHead;
    const bool timeChanged = snapshot.timeNs != m_timeNs;
    m_timeNs = snapshot.timeNs;
    const quint64 oldTotal = m_total;
    m_total = snapshot.counters.queued;

    auto sameTask = [](const QueuedTask& a, const QueuedTask& b) {
        return a.id == b.id && a.nameId == b.nameId && a.priority == b.priority
               && a.enqueueNs == b.enqueueNs;
    };

    if (next.isEmpty() && m_rows.isEmpty()) {
        // nothing
    } else if (m_rows.isEmpty()) {
        beginInsertRows({}, 0, int(next.size()) - 1);
        m_rows = next;
        endInsertRows();
    } else if (next.isEmpty()) {
        beginRemoveRows({}, 0, int(m_rows.size()) - 1);
        m_rows.clear();
        endRemoveRows();
    } else {
        // The usual tick: tasks left the front (dispatched), others joined at
        // the back. Find where the new head sits in the old rows.
        qsizetype p = -1;
        for (qsizetype i = 0; i < m_rows.size(); ++i) {
            if (m_rows[i].id == next.front().id) {
                p = i;
                break;
            }
        }
        qsizetype common = 0;
        if (p >= 0) {
            while (p + common < m_rows.size() && common < next.size()
                   && sameTask(m_rows[p + common], next[common]))
                ++common;
        }
        if (common == 0) {
            beginResetModel();
            m_rows = next;
            endResetModel();
        } else {
            if (p > 0) {
                beginRemoveRows({}, 0, int(p) - 1);
                m_rows.remove(0, p);
                endRemoveRows();
            }
            // m_rows[0, common) == next[0, common)
            if (common < m_rows.size()) {
                beginRemoveRows({}, int(common), int(m_rows.size()) - 1);
                m_rows.resize(common);
                endRemoveRows();
            }
            if (common < next.size()) {
                beginInsertRows({}, int(common), int(next.size()) - 1);
                m_rows.append(next.mid(common));
                endInsertRows();
            }
            if (timeChanged && common > 0)
                emitWaitedChanged(0, int(common) - 1);
        }
    }
    if (oldTotal != m_total)
        emit totalQueuedChanged(totalQueued());
}

void QueueModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_total = 0;
    m_timeNs = 0;
    endResetModel();
    emit totalQueuedChanged(0);
}

void QueueModel::emitWaitedChanged(int first, int last)
{
    if (first <= last)
        emit dataChanged(index(first, WaitedColumn), index(last, WaitedColumn),
                         {Qt::DisplayRole, Qt::ToolTipRole, SortRole});
}

int QueueModel::totalQueued() const
{
    return int(std::min<quint64>(m_total, quint64(std::numeric_limits<int>::max())));
}

int QueueModel::hiddenCount() const
{
    return std::max(0, totalQueued() - int(m_rows.size()));
}

QString QueueModel::footerText() const
{
    const int n = hiddenCount();
    return n > 0 ? tr("+%L1 more").arg(n) : QString();
}

int QueueModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int QueueModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant QueueModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const QueuedTask& t = m_rows.at(index.row());
    const bool known = t.enqueueNs > 0;
    const qint64 waited = known ? std::max<qint64>(0, m_timeNs - t.enqueueNs) : -1;
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case IdColumn:
            return QString::number(t.id);
        case TaskColumn:
            return NameTable::name(t.nameId);
        case PriorityColumn:
            return t.priority;
        case WaitedColumn:
            return known ? display::formatDuration(waited) : QStringLiteral("—");
        }
        break;
    case SortRole:
        switch (index.column()) {
        case IdColumn:
            return t.id;
        case TaskColumn:
            return NameTable::name(t.nameId);
        case PriorityColumn:
            return t.priority;
        case WaitedColumn:
            return waited;
        }
        break;
    case TaskIdRole:
        return t.id;
    case Qt::ToolTipRole:
        if (index.column() == WaitedColumn && !known)
            return tr("Enqueued before the monitor attached: wait unknown");
        if (index.column() == WaitedColumn)
            return tr("Waiting in the queue for %1").arg(display::formatDuration(waited));
        break;
    case Qt::TextAlignmentRole:
        if (index.column() != TaskColumn)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        break;
    default:
        break;
    }
    return {};
}

QVariant QueueModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case IdColumn:
        return tr("Id");
    case TaskColumn:
        return tr("Task");
    case PriorityColumn:
        return tr("Priority");
    case WaitedColumn:
        return tr("Waited");
    }
    return {};
}

} // namespace poolscope
