#pragma once
// The attach protocol's codec (docs/attach.md): every frame between a
// publisher and a viewer, encoded and decoded with full validation. Pure: no
// I/O, no globals, so the fuzzer (tests/fuzz/fuzz_attach.cpp) drives it
// directly. Framing (u32 big-endian length + payload) is the process pool's
// (protocol::FrameReader); the payload is a CBOR map {"v": 1, "t": ...}.

#include <poolscope/attach.h>
#include <poolscope/telemetry.h>

#include <QByteArray>
#include <QByteArrayView>
#include <QCborValue>
#include <QList>
#include <QPair>
#include <QString>

#include <optional>
#include <variant>
#include <vector>

namespace poolscope::attachproto {

inline constexpr int kVersion = 1;
/// Frame limits: what a publisher accepts from a viewer, and the reverse.
inline constexpr qsizetype kPublisherMaxFrame = 64 * 1024;
inline constexpr qsizetype kViewerMaxFrame = 16 * 1024 * 1024;
/// At most this many queue entries in a snap.
inline constexpr int kMaxQueueHead = 20;

// ---- publisher -> viewer

struct Hello {
    QString program;
    quint64 pid = 0;
    quint64 uid = 0;
    QString language;
    QString runtime;
    QList<PoolInfo> pools;
};

struct Pools {
    QList<PoolInfo> pools;
};

/// One task row ([id, submit_ns, start_ns, end_ns, cpu_ns, gil_wait_ns, name,
/// worker, core, status, started]); name is the publisher's name id.
struct Row {
    quint64 id = 0;
    qint64 submitNs = 0;
    qint64 startNs = 0;
    qint64 endNs = 0;
    qint64 cpuNs = -1;
    qint64 gilWaitNs = 0;
    quint32 name = 0;
    qint32 worker = -1;
    qint32 core = -1;
    quint8 status = 0; // 0 succeeded, 1 failed, 2 cancelled
    bool started = true;
};

/// Texts of rows[index]: result is any CBOR scalar or null.
struct Texts {
    quint32 index = 0;
    QString args;
    QCborValue result;
    QString error;
};

struct SnapCounters {
    quint64 submitted = 0, queued = 0, running = 0, succeeded = 0, failed = 0, cancelled = 0,
            dropped = 0;
};

struct Snap {
    quint64 pool = 0;
    qint64 time = 0;
    SnapCounters counters;
    quint64 maxWorkers = 0;
    bool paused = false;
    bool shutdown = false;
    std::optional<QString> broken;
    QList<QueuedTask> queue;   // nameId: the publisher's name id
    QList<WorkerInfo> workers; // currentName: the publisher's name id
    QList<QPair<quint32, QString>> names;
    std::vector<Row> rows;
    QList<Texts> texts;
    quint64 lost = 0;
    // Optional (absent = 0): tasks that finished while the publisher did not
    // record because the pool ran faster than row_budget rows a second
    // (cumulative for this viewer), and that budget (0: none).
    quint64 skipped = 0;
    quint64 rowBudget = 0;
};

struct Reply {
    quint64 id = 0;
    bool ok = false;
    QString error;
};

struct Bye {
    QString reason;
};

struct ErrorFrame {
    QString message;
};

// ---- viewer -> publisher

struct ViewerHello {
    QString viewer;
};

struct Watch {
    quint64 pool = 0;
};

struct Unwatch {
    quint64 pool = 0;
};

struct Control {
    quint64 id = 0;
    quint64 pool = 0;
    QString op;
    std::optional<quint64> n; // resize only
};

/// A well-formed frame of a type this side does not know (forward
/// compatibility: viewers ignore it, publishers answer with an error frame).
struct Unknown {
    QString type;
};

using FromPublisher = std::variant<Hello, Pools, Snap, Reply, Bye, ErrorFrame, Unknown>;
using FromViewer = std::variant<ViewerHello, Watch, Unwatch, Control, Unknown>;

/// Payload (no length prefix) of a frame.
QByteArray encode(const FromPublisher& m);
QByteArray encode(const FromViewer& m);
/// Length prefix + payload.
QByteArray frame(const QByteArray& payload);

/// Decodes one payload; nullopt with *error saying what is wrong (not CBOR,
/// not a map, wrong v, missing or wrong-typed field, value out of range).
std::optional<FromPublisher> decodeFromPublisher(QByteArrayView payload, QString* error);
std::optional<FromViewer> decodeFromViewer(QByteArrayView payload, QString* error);

/// The operations a publisher may allow (PublishOptions::control).
const QStringList& knownOps();

} // namespace poolscope::attachproto
