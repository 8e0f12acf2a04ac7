#pragma once
// Trace export: Chrome Trace Event JSON (opens in ui.perfetto.dev and
// chrome://tracing) and CSV of completed tasks (docs/architecture.md).
//
// Layout of a PoolScope trace (`{"displayTimeUnit":"ms","traceEvents":[...],
// "otherData":{...}}`):
//   * one process (pid 1) named "PoolScope <poolKind> pool";
//   * tid 1 is the "submitter" lane: one 1 ns `X` slice "submit" per task
//     with a known enqueue time, the source of that task's flow arrow. (tid 0
//     is avoided: Perfetto reserves it for the idle task and hides it.)
//   * one tid per worker, from 2 up in worker-index order (for workers with
//     a host, e.g. MPI ranks: grouped by host, then rank, then index), named
//     by an `M` thread_name event whose args also carry the worker index, the
//     real pid/tid and, when known, the host and MPI rank; thread_sort_index
//     keeps that order in Perfetto. A worker whose spans overlap (clock skew between processes)
//     gets extra lanes, so slices on one (pid, tid) never partially overlap;
//   * one `X` slice per task: name = task name, cat = status, ts/dur in µs
//     (three decimals = ns) relative to originNs, args {id, status, worker,
//     core, cpu_ms, gil_wait_ms, queued_wait_ms, args};
//   * `C` counter events "queue" with args {queued, running};
//   * flows submit -> start as flow v2 (`bind_id` = task id, `flow_out` on the
//     submit slice, `flow_in` on the task slice; docs/architecture.md). They bind to
//     the slices that carry them. The v1 form (`ph` s/f, `bp` e) binds to
//     whatever slice is open at a timestamp, and Perfetto drops the arrow when
//     the flow event is sorted before its slice at an equal ts.

#include "recording.h"
#include "telemetry.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QHash>
#include <QList>
#include <QString>

#include <optional>
#include <vector>

namespace poolscope {

struct TraceWorker {
    int index = -1;
    QString name;
    qint64 pid = 0;
    qint64 tid = 0;
    friend bool operator==(const TraceWorker&, const TraceWorker&) = default;
};

/// Where a worker ran, for pools whose workers may sit on other machines
/// (the MPI pool): host name and MPI rank.
struct TraceWorkerPlace {
    QString host;
    int rank = -1;
    friend bool operator==(const TraceWorkerPlace&, const TraceWorkerPlace&) = default;
};

struct TraceCounterSample {
    qint64 timeNs = 0;
    qint64 queued = 0;
    qint64 running = 0;
    friend bool operator==(const TraceCounterSample&, const TraceCounterSample&) = default;
};

struct TraceData {
    QString title;
    QString poolKind;    // "thread" or "process"
    qint64 originNs = 0; // time 0 of the trace (monotonicNs base)
    QList<TraceWorker> workers;
    /// The tasks: every one of the run, or a sample that says so
    /// (RunRecord::samplingNote()). Shared, never null.
    std::shared_ptr<RunRecord> record = std::make_shared<RunRecord>();
    QList<TraceCounterSample> counters;
    /// Optional: worker index -> host and rank (MPI pools; empty for local
    /// pools). Tracks are grouped by host, then rank.
    QHash<int, TraceWorkerPlace> places;

    /// Rows held (== tasks of the run unless sampled).
    quint64 size() const { return record->size(); }
};

/// Sets data.places from the workers in `known` (Monitor::knownWorkers())
/// that have a host or a rank, so an MPI pool's trace groups its tracks by
/// host and rank and says where each ran.
void setWorkerPlaces(TraceData& data, const QHash<int, WorkerInfo>& known);

/// readChromeTrace refuses traces with more events than this.
inline constexpr qsizetype kMaxTraceEvents = 10'000'000;

/// Serialises to Chrome Trace Event JSON (UTF-8). Streams by hand rather than
/// through QJsonDocument: see traceexport.cpp for why and how strings are
/// escaped.
QByteArray toChromeTrace(const TraceData& data);

/// Writes toChromeTrace(data) to path atomically (QSaveFile), streaming in
/// chunks. On failure returns false and sets *error (if given).
bool writeChromeTrace(const QString& path, const TraceData& data, QString* error = nullptr);

/// Reads a trace written by toChromeTrace back (names are interned through
/// NameTable, at most 1024 characters each). Rejects malformed or hostile
/// input with a clear *error and nullopt; never crashes. Spans come back in
/// file order with ns precision (µs with three decimals on the wire); workers
/// are the listed ones, sorted by index. Events are parsed one at a time, so
/// memory is the input plus the result (a million spans: ~7 s, ~170 MB on top
/// of the 400 MB text, release build). Slices of other tools' traces load as
/// succeeded tasks of worker -1; other phases are ignored.
std::optional<TraceData> readChromeTrace(QByteArrayView json, QString* error = nullptr);

/// CSV (RFC 4180: CRLF line ends, fields with comma, quote, CR or LF quoted,
/// quotes doubled), one row per task the record holds, with the header
/// id,task,args,status,result,error,worker,core,queued_wait_ms,run_ms,cpu_ms,
/// gil_wait_ms,submit_ms,start_ms,end_ms,sampled_1_in,run_tasks
/// Times in ms with six decimals (ns), submit/start/end relative to originNs;
/// empty where unknown. The last two columns say on every row what the file
/// holds: each row stands for sampled_1_in tasks (1: the file has every task
/// the record saw), and the run had run_tasks tasks (rows fewer than that
/// also when the monitor fell behind: RecordStats::lost).
QByteArray toCsv(const RunRecord& record, qint64 originNs = 0);
bool writeCsv(const QString& path, const RunRecord& record, qint64 originNs = 0,
              QString* error = nullptr);

/// Perfetto's native trace format (protobuf TracePackets, ~60-90 bytes per
/// task against ~300 for JSON): what a run of a million tasks should be
/// written as. Same content as the Chrome JSON: one process track, one
/// thread track per worker lane, a slice per task with its id, status, core,
/// CPU, GIL and queue waits as debug annotations, flows from a "submit"
/// instant on the submitter track, "queued"/"running" counter tracks, and a
/// "poolscope.run" instant carrying the run's metadata (title, pool, origin,
/// tasks, sampling, lost, totals) for readPerfettoTrace(). Written by hand
/// (docs/architecture.md "Traces at scale" says why).
QByteArray toPerfettoTrace(const TraceData& data);
bool writePerfettoTrace(const QString& path, const TraceData& data, QString* error = nullptr);
/// Reads a trace written by toPerfettoTrace() back (and the slices of other
/// tools' TrackEvent traces, as succeeded tasks). Rejects malformed input
/// with *error and nullopt; never crashes.
std::optional<TraceData> readPerfettoTrace(QByteArrayView bytes, QString* error = nullptr);

/// Which format a path asks for: Perfetto protobuf for ".pftrace",
/// ".perfetto-trace" and ".pb", else Chrome JSON.
bool isPerfettoPath(const QString& path);
/// writePerfettoTrace() or writeChromeTrace(), by isPerfettoPath().
bool writeTrace(const QString& path, const TraceData& data, QString* error = nullptr);
/// Reads either format (told apart by content, not by name).
std::optional<TraceData> readTrace(QByteArrayView bytes, QString* error = nullptr);

/// Why a file cannot be written at `path`, or empty when nothing is known
/// against it (the exports check it before writing; the CLI and the window
/// check it before a run, so that nothing fails only at its end):
/// - its name is longer than the file system allows (NAME_MAX), or the path
///   longer than PATH_MAX;
/// - it is a symbolic link owned by another user in a world-writable sticky
///   folder such as /tmp, the kernel's `fs.protected_symlinks` rule made
///   unconditional: following it would let that user choose which file is
///   replaced (as root, any file). foreignLinkInSharedFolder() is the rule.
QString exportTargetProblem(const QString& path);
/// The rule above on stat() fields: a link owned by linkUid in a folder of
/// dirMode owned by dirUid, opened by euid.
bool foreignLinkInSharedFolder(uint linkUid, uint dirMode, uint dirUid, uint euid);

} // namespace poolscope
