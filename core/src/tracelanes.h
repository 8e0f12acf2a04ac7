#pragma once
// Shared by the trace writers (traceexport.cpp: Chrome JSON, perfetto.cpp:
// Perfetto protobuf): how a run's rows map onto tracks, and saving a file.

#include "poolscope/traceexport.h"

#include <QIODevice>
#include <QList>

#include <functional>
#include <vector>

namespace poolscope::detail {

/// One track on the wire: one lane of a worker. A worker gets more than one
/// lane only where its tasks overlap (clock skew between processes), so
/// slices on one track never partially overlap.
struct TraceLane {
    int worker = -1;
    int lane = 0;                      // 0 for the worker's first lane
    qint64 tid = 0;                    // synthetic thread id on the wire, from 2 up
    const TraceWorker* info = nullptr; // null: not listed in TraceData::workers
    bool neverStarted = false;         // the lane of tasks that ended while queued
};

struct TraceLanes {
    QList<TraceLane> lanes;         // in track order (host, rank, worker index)
    std::vector<quint32> laneOfRow; // for each record row: index into lanes
};

/// Lays the rows of data.record out on lanes.
TraceLanes layoutLanes(const TraceData& data);

/// "worker N" / "unassigned" when the worker has no name.
QString workerDisplayName(int index, const TraceWorker* w);
/// The name of a lane on the wire.
QString laneDisplayName(const TraceLane& lane);

/// Writes a file atomically (QSaveFile), refusing to replace anything but a
/// regular file; `what` names the content in errors.
bool saveBytes(const QString& path, const char* what, QString* error,
               const std::function<bool(QIODevice&)>& write);

/// The run's metadata as key/value pairs, the same in both formats.
struct RunMeta {
    quint64 tasks = 0;    // every task of the run (seen + lost)
    quint64 recorded = 0; // rows in the file
    quint64 sampling = 1;
    quint64 lost = 0;
    RunTotals totals;
};
RunMeta runMeta(const RunRecord& r);
/// Applies metadata read back from a file to a record built from its rows.
void applyRunMeta(RunRecord& r, const RunMeta& m);

} // namespace poolscope::detail
