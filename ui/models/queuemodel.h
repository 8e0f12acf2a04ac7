#pragma once
// QueueModel: the head of the executor's queue (Snapshot::queueHead, first ~20
// pending tasks in dispatch order). Fed one snapshot per tick; emits the
// smallest change it can: with the same ids only the "waited" column changes,
// tasks that left the front are removed and new ones appended in one batch
// each; anything else (a high-priority task jumped the queue) resets.

#include "models/roles.h"

#include <poolscope/monitor.h>

#include <QAbstractTableModel>
#include <QList>

namespace poolscope {

class QueueModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column : int { IdColumn = 0, TaskColumn, PriorityColumn, WaitedColumn, ColumnCount };
    enum Role : int { SortRole = ModelRoles::Sort, TaskIdRole = ModelRoles::TaskId };

    explicit QueueModel(QObject* parent = nullptr);

    void applySnapshot(const poolscope::Snapshot& snapshot);
    void clear();

    /// Every queued task (exact counter), not just the rows shown.
    int totalQueued() const;
    /// Queued tasks not in the table (totalQueued() - rowCount(), at least 0).
    int hiddenCount() const;
    /// "+N more" when hiddenCount() > 0, else empty: a footer for the view.
    QString footerText() const;
    const QueuedTask& task(int row) const { return m_rows.at(row); }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

signals:
    /// totalQueued() or hiddenCount() changed (footer text).
    void totalQueuedChanged(int total);

private:
    void emitWaitedChanged(int first, int last);

    QList<QueuedTask> m_rows;
    qint64 m_timeNs = 0;
    quint64 m_total = 0;
};

} // namespace poolscope
