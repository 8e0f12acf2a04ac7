#pragma once
// The process pool's wire protocol: length-prefixed, versioned CBOR frames
// over a worker's stdin/stdout pipes (docs/architecture.md).
//
//   frame   = u32 big-endian payload length, then payload
//   payload = CBOR map {"v": 1, "t": "<type>", ...fields}
//
// parent -> worker: hello {worker, init?: {name, args}, gates?: {fd, count}},
//                   run {id, name, args, batch, gate?}, skip {id}, exit
// worker -> parent: ready {pid, gates?}, init_failed {error}, started {id, core},
//                   progress {id, value, max}, result {id, ok, value | error,
//                   cpu_ns, core, rss}, skipped {id}
//
// A run is the worker's to start only when it says 'started'. Until then the
// parent may take it back with 'skip': the worker answers 'skipped' if it had
// not started it, and says nothing if it had ('started' went first). Exactly
// one of the two answers follows each skip.
//
// Gates (process pool): hello names an inherited memfd of `count` 64-bit
// words; a worker that maps it says `gates: true` in ready. A run with
// `gate` has a word there, and the worker starts it only if its
// compare-and-swap Pending -> Running wins; a word the parent's cancel()
// turned Cancelled first makes the worker answer 'skipped' unasked
// (core/src/taskgates.h). Workers and parents without gates ignore them.
//
// Everything read is validated here; a frame that fails validation marks the
// worker broken (the parent never trusts a worker). Kept free of I/O so the
// fuzzer can drive it directly (tests/fuzz).

#include <QByteArray>
#include <QByteArrayView>
#include <QCborArray>
#include <QCborMap>
#include <QCborValue>
#include <QString>

#include <optional>

namespace poolscope::protocol {

inline constexpr int kVersion = 1;
inline constexpr qsizetype kDefaultMaxFrame = 256 * 1024 * 1024; // 256 MiB
inline constexpr qint64 kMaxGates = 1 << 20;                     // words in a gates block

enum class MsgType {
    // parent -> worker
    Hello,
    Run,
    Exit,
    // worker -> parent
    Ready,
    InitFailed,
    Started,
    Progress,
    Result,
    // added after the first release; kept last so the numbering stays
    Skip,    // parent -> worker
    Skipped, // worker -> parent
};
const char* nameOf(MsgType t) noexcept;

/// One decoded, validated message. Only the fields of its type are set.
struct Message {
    MsgType type = MsgType::Exit;
    quint64 id = 0;       // run, started, progress, result, skip, skipped
    int worker = -1;      // hello
    qint64 pid = 0;       // ready
    QString name;         // run; hello's initializer
    QCborArray args;      // run (batch: an array of argument arrays); hello's init args
    bool batch = false;   // run
    bool hasInit = false; // hello
    bool ok = false;      // result
    QCborValue value;     // result (ok)
    QString errorType;    // result (!ok), init_failed
    QString errorText;    // result (!ok), init_failed
    qint64 progressValue = 0, progressMax = 0; // progress
    qint64 cpuNs = -1;                         // result
    int core = -1;                             // started, result
    qint64 rssBytes = -1;                      // result
    int gatesFd = -1;                          // hello: the gates block (-1: none)
    quint32 gatesCount = 0;                    // hello
    bool gatesMapped = false;                  // ready
    qint64 gate = -1;                          // run: its word (-1: none)
};

/// Encodes a message into one frame (length prefix included).
QByteArray encode(const Message& m);

/// Incremental frame reader: feed bytes as they arrive, take whole frames.
class FrameReader {
public:
    explicit FrameReader(qsizetype maxFrame = kDefaultMaxFrame)
        : m_max(maxFrame)
    {}
    void feed(QByteArrayView bytes);
    enum class Status { NeedMore, Frame, Error };
    /// Frame: *payload holds one payload. Error: *error says why; the reader
    /// stays in error (a stream cannot resynchronise after a bad length).
    Status next(QByteArray* payload, QString* error);
    qsizetype buffered() const { return m_buf.size() - m_pos; }

private:
    QByteArray m_buf;
    qsizetype m_pos = 0;
    qsizetype m_max;
    QString m_error;
};

/// Decodes and validates one payload. `fromWorker` selects which message
/// types are legal. Returns nullopt and sets *error for anything wrong:
/// not CBOR, not a map, wrong version, unknown type, missing or mistyped field.
std::optional<Message> decode(QByteArrayView payload, bool fromWorker, QString* error);

} // namespace poolscope::protocol
