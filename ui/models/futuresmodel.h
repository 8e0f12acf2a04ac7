#pragma once
// FuturesModel: the completed futures (Snapshot::completed), newest last.
// Each tick appends its batch with ONE beginInsertRows; the history is
// bounded (maxRows(), default 100k): the oldest rows go in ONE beginRemoveRows
// and are counted by trimmed(). FuturesFilterModel filters by status and
// text and sorts numerically through SortRole.

#include "models/roles.h"

#include <poolscope/monitor.h>

#include <QAbstractTableModel>
#include <QHash>
#include <QPalette>
#include <QSortFilterProxyModel>

#include <deque>

namespace poolscope {

class FuturesModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column : int {
        IdColumn = 0,
        TaskColumn,
        ArgsColumn,
        ResultColumn, // result, or the error of a failed task
        StatusColumn,
        WorkerColumn,
        CoreColumn,
        QueuedColumn,  // start - enqueue
        RunColumn,     // end - start (wall)
        CpuColumn,     // CPU time of the task
        GilWaitColumn, // time spent waiting for the simulated GIL
        WaitingColumn, // wall - CPU: blocked, sleeping, GIL, preempted
        ColumnCount
    };
    enum Role : int {
        SortRole = ModelRoles::Sort,
        StatusRole = ModelRoles::Status, // int(TaskStatus)
        StatusColorRole = ModelRoles::StatusColor,
        TaskIdRole = ModelRoles::TaskId,
        WorkerIndexRole = ModelRoles::WorkerIndex,
    };
    static constexpr int kDefaultMaxRows = 100'000;

    explicit FuturesModel(QObject* parent = nullptr);

    void applySnapshot(const poolscope::Snapshot& snapshot);
    /// Appends records as one batch (what applySnapshot does with
    /// snapshot.completed); also for replaying a recorded run.
    void appendRecords(const QList<TaskRecord>& records);
    void clear();

    void setMaxRows(int maxRows);
    int maxRows() const { return m_maxRows; }
    /// Records dropped from the front of the history since the last clear().
    quint64 trimmed() const { return m_trimmed; }

    /// Worker display names (index -> name); applySnapshot learns them.
    void setWorkerName(int workerIndex, const QString& name);
    QString workerName(int workerIndex) const;

    const TaskRecord& record(int row) const { return m_rows[std::size_t(row)]; }
    /// Full result or error text and the task's context, for a details dialog.
    QString detailsText(int row) const;
    /// Result text of a row (the result, or the error when it failed), not elided.
    QString resultOrError(int row) const;

    void setPalette(const QPalette& palette);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

signals:
    void trimmedChanged(quint64 trimmed);

private:
    void trimTo(int rows);

    std::deque<TaskRecord> m_rows;
    int m_maxRows = kDefaultMaxRows;
    quint64 m_trimmed = 0;
    QHash<int, QString> m_workerNames;
    QPalette m_palette;
    bool m_customPalette = false;
};

/// Status + text filter over a FuturesModel, numeric sorting via SortRole.
class FuturesFilterModel : public QSortFilterProxyModel {
    Q_OBJECT
public:
    enum class StatusFilter { All, Succeeded, Failed, Cancelled };
    Q_ENUM(StatusFilter)

    explicit FuturesFilterModel(QObject* parent = nullptr);

    void setStatusFilter(StatusFilter filter);
    StatusFilter statusFilter() const { return m_status; }
    /// Case-insensitive substring of the task name, the arguments or the
    /// result / error text. Empty: no text filter.
    void setTextFilter(const QString& text);
    QString textFilter() const { return m_text; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    StatusFilter m_status = StatusFilter::All;
    QString m_text;
};

} // namespace poolscope
