#pragma once
// WorkersModel: one row per worker of the pool (Snapshot::workers), keyed by
// worker index. Rows are grouped by where the worker runs: ordered by host,
// then MPI rank, then index (local pools have no host and no rank, so their
// rows are in index order). A worker that dies (or vanishes from the
// snapshots) stays visible, greyed, for deadLinger() of snapshot time and is
// then removed. Per tick: inserts and removals are batched per contiguous
// range, changed rows are reported with one dataChanged per contiguous range.
// A worker whose host or rank changes (an MPI rank's host arrives with its
// first heartbeat) moves to its group: one removal and one insertion.

#include "models/roles.h"

#include <poolscope/monitor.h>

#include <QAbstractTableModel>
#include <QPalette>
#include <QStringList>

#include <chrono>
#include <vector>

namespace poolscope {

class WorkersModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column : int {
        NameColumn = 0,
        HostColumn, // MPI pools: where the worker runs (views hide it when !hasHosts())
        RankColumn, // MPI pools: the worker's MPI rank
        StateColumn,
        TaskColumn,
        ProgressColumn,
        DoneColumn,
        CpuColumn,
        CoreColumn,
        PidColumn,
        GilColumn,
        ColumnCount
    };
    enum Role : int {
        SortRole = ModelRoles::Sort,
        ProgressRole = ModelRoles::Progress,      // double 0..1, -1 = none
        StateRole = ModelRoles::Status,           // int(WorkerState)
        StateColorRole = ModelRoles::StatusColor, // QColor of the state
        TaskIdRole = ModelRoles::TaskId,          // current task id, 0 if idle
        WorkerIndexRole = ModelRoles::WorkerIndex,
        DeadRole = ModelRoles::Dead,
    };

    explicit WorkersModel(QObject* parent = nullptr);

    void applySnapshot(const poolscope::Snapshot& snapshot);
    void clear();

    /// How long a dead worker stays visible (snapshot time). Default 3 s.
    void setDeadLinger(std::chrono::milliseconds linger);
    std::chrono::milliseconds deadLinger() const { return m_linger; }

    /// Colours are derived from this palette (default: the application's).
    void setPalette(const QPalette& palette);

    /// Row of the worker with this index, or -1.
    int rowOfWorker(int workerIndex) const;
    /// Some worker runs on a named host (an MPI pool): the host and rank
    /// columns mean something.
    bool hasHosts() const { return m_hostRows > 0; }
    /// The distinct hosts of the rows, in row order (each is one group).
    QStringList hosts() const;
    const WorkerInfo& worker(int row) const { return m_rows.at(std::size_t(row)).info; }
    bool isDead(int row) const { return m_rows.at(std::size_t(row)).deadSinceNs >= 0; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    struct Row {
        WorkerInfo info;
        qint64 deadSinceNs = -1; // snapshot time the worker was first seen dead
    };
    static bool sameDisplay(const WorkerInfo& a, const WorkerInfo& b);
    /// Row order: host, rank, index.
    static bool keyLess(const WorkerInfo& a, const WorkerInfo& b);
    static bool sameKey(const WorkerInfo& a, const WorkerInfo& b);
    /// Row of the worker with w's index and w's host and rank, or -1.
    int rowOfKey(const WorkerInfo& w) const;
    void emitChangedRanges(const std::vector<int>& sortedRows);
    void countHostRows();

    std::vector<Row> m_rows; // sorted by keyLess
    int m_hostRows = 0;      // rows with a host
    std::chrono::milliseconds m_linger{3000};
    QPalette m_palette;
    bool m_customPalette = false;
    qint64 m_timeNs = 0;
};

} // namespace poolscope
