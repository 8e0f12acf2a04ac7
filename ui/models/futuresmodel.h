#pragma once
// FuturesModel: the completed futures of a run, read straight from its
// record (recording.h): every task up to the record's limit, a stated sample
// past it. No copy per row: a row of the table is a row of the record.
//
// Each tick the new rows go in with ONE beginInsertRows. Sorting and the
// status / text filters are done here, on the record's columns (a
// QSortFilterProxyModel over a million rows re-sorts through data() and
// shifts a list per inserted row): unsorted and unfiltered the table is the
// record itself; otherwise a vector of record rows maps view rows, merged
// with each tick's new rows.
//
// sampleNote() says when the table is a sample ("sample: 1 in 128 of
// 1,000,000 tasks"), empty when it holds every task.

#include "models/roles.h"

#include <poolscope/monitor.h>

#include <QAbstractTableModel>
#include <QHash>
#include <QPalette>
#include <QSet>

#include <memory>
#include <vector>

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
    enum class StatusFilter { All, Succeeded, Failed, Cancelled };
    Q_ENUM(StatusFilter)

    explicit FuturesModel(QObject* parent = nullptr);

    /// Takes the snapshot's record (a new run's record resets the table;
    /// new rows of the same one are appended in one batch) and the workers'
    /// names.
    void applySnapshot(const poolscope::Snapshot& snapshot);
    /// Shows a recorded run (replay, A/B): replaces everything.
    void setRecord(std::shared_ptr<const RunRecord> record);
    /// Shows only the record's first `rows` rows (replay: a record in end
    /// order, cut at the position); quint64 max = all of them.
    void setRowLimit(quint64 rows);
    quint64 rowLimit() const { return m_limit; }
    void clear();
    const RunRecord* record() const { return m_record.get(); }

    /// Worker display names (index -> name); applySnapshot learns them.
    void setWorkerName(int workerIndex, const QString& name);
    QString workerName(int workerIndex) const;

    // ---- view rows
    /// The record row behind a table row.
    quint64 recordRow(int row) const;
    /// The table row showing a task, or -1 (filtered out, or not in the
    /// record: a sample).
    int rowOfTask(quint64 taskId) const;
    TaskRecord taskRecord(int row) const;
    /// Full result or error text and the task's context, for a details dialog.
    QString detailsText(int row) const;
    /// Result text of a row (the result, or the error when it failed), not elided.
    QString resultOrError(int row) const;

    // ---- filter and sort (here, not in a proxy: see above)
    void setStatusFilter(StatusFilter filter);
    StatusFilter statusFilter() const { return m_status; }
    /// Case-insensitive substring of the task name, the arguments or the
    /// result / error text. Empty: no text filter.
    void setTextFilter(const QString& text);
    QString textFilter() const { return m_text; }
    bool isFiltered() const { return m_status != StatusFilter::All || !m_text.isEmpty(); }
    int sortColumn() const { return m_sortColumn; }
    Qt::SortOrder sortOrder() const { return m_sortOrder; }
    /// Column -1: the record's order (tasks as they finished).
    void sort(int column, Qt::SortOrder order = Qt::AscendingOrder) override;

    // ---- what the table holds, in words
    /// "" when the record holds every task; else its note, e.g. "sample: 1
    /// in 128 of 1,000,000 tasks".
    QString sampleNote() const;
    /// Tasks the run had (every task the record saw, and the lost ones).
    quint64 runTasks() const;

    void setPalette(const QPalette& palette);

    /// Errors named as Python names them ("ValueError: ..." for a task that
    /// threw std::invalid_argument; display::pythonErrorText) in the table,
    /// with the C++ type and full text in the tooltip. On by default: the
    /// people PoolScope teaches write Python. Off: the C++ text as thrown.
    void setPythonErrorNames(bool on);
    bool pythonErrorNames() const { return m_pythonErrors; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

signals:
    /// The rows changed in a way a "n of m" label shows (new rows, filter,
    /// a new record, a re-sampling).
    void contentsChanged();

private:
    bool identity() const { return m_sortColumn < 0 && !isFiltered(); }
    bool accepts(quint64 row) const;
    bool lessThan(quint64 a, quint64 b) const;
    void rebuild();
    void take(quint64 upTo);
    QString resultOrErrorOf(quint64 row) const;

    std::shared_ptr<const RunRecord> m_record;
    quint64 m_generation = 0;
    quint64 m_taken = 0;           // record rows considered so far
    quint64 m_limit = ~quint64(0); // record rows shown at most (setRowLimit)
    std::vector<quint32> m_rows;   // view -> record rows, unless identity()
    StatusFilter m_status = StatusFilter::All;
    QString m_text;
    QSet<quint32> m_textNames; // name ids matching m_text
    int m_sortColumn = -1;
    Qt::SortOrder m_sortOrder = Qt::AscendingOrder;
    QHash<int, QString> m_workerNames;
    QPalette m_palette;
    bool m_customPalette = false;
    bool m_pythonErrors = true;
    /// resultOrErrorOf() as the table shows it (Python's error names).
    QString shownResultOf(quint64 row) const;
};

} // namespace poolscope
