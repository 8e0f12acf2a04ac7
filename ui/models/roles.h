#pragma once
// Item data roles shared by the PoolScope models, so delegates and proxies
// need not include a particular model.

#include <Qt>

namespace poolscope::ModelRoles {
enum : int {
    /// Raw value for sorting: numbers as numbers (qint64 / quint64 / double),
    /// text as text. Unknown durations sort as -1.
    Sort = Qt::UserRole + 1,
    /// double 0..1, or -1 when there is no progress to show.
    Progress,
    /// TaskStatus (futures) or WorkerState (workers) as int.
    Status,
    /// QColor of the status / state, readable on the palette's base.
    StatusColor,
    /// quint64 task id of the row (0 if none).
    TaskId,
    /// int worker index of the row.
    WorkerIndex,
    /// bool: the worker is dead (row greyed until removed).
    Dead,
};
} // namespace poolscope::ModelRoles
