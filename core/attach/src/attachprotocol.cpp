#include "attachprotocol.h"

#include <QCborArray>
#include <QCborMap>
#include <QCborStreamReader>
#include <QCborStreamWriter>
#include <QtEndian>

#include <cmath>
#include <limits>

namespace poolscope::attachproto {

const QStringList& knownOps()
{
    static const QStringList ops{QStringLiteral("resize"), QStringLiteral("pause"),
                                 QStringLiteral("resume"), QStringLiteral("step"),
                                 QStringLiteral("cancel_pending")};
    return ops;
}

QByteArray frame(const QByteArray& payload)
{
    QByteArray out;
    out.resize(4);
    qToBigEndian<quint32>(quint32(payload.size()), out.data());
    out.append(payload);
    return out;
}

// ------------------------------------------------------------------ encode

namespace {

void writeText(QCborStreamWriter& w, const char* key, const QString& v)
{
    w.append(QLatin1StringView(key));
    w.append(v);
}
void writeUint(QCborStreamWriter& w, const char* key, quint64 v)
{
    w.append(QLatin1StringView(key));
    w.append(v);
}
void writeInt(QCborStreamWriter& w, const char* key, qint64 v)
{
    w.append(QLatin1StringView(key));
    w.append(v);
}
void writeBool(QCborStreamWriter& w, const char* key, bool v)
{
    w.append(QLatin1StringView(key));
    w.append(v);
}
void writeHeader(QCborStreamWriter& w, const char* type)
{
    writeUint(w, "v", kVersion);
    w.append(QLatin1StringView("t"));
    w.append(QLatin1StringView(type));
}

void writePool(QCborStreamWriter& w, const PoolInfo& p)
{
    w.startMap(5);
    writeUint(w, "id", p.id);
    writeText(w, "name", p.name);
    writeText(w, "kind", p.kind);
    writeUint(w, "max_workers", quint64(std::max(0, p.maxWorkers)));
    w.append(QLatin1StringView("control"));
    w.startArray(quint64(p.control.size()));
    for (const QString& op : p.control)
        w.append(op);
    w.endArray();
    w.endMap();
}

void writePools(QCborStreamWriter& w, const QList<PoolInfo>& pools)
{
    w.append(QLatin1StringView("pools"));
    w.startArray(quint64(pools.size()));
    for (const auto& p : pools)
        writePool(w, p);
    w.endArray();
}

void writeWorker(QCborStreamWriter& w, const WorkerInfo& x)
{
    w.startMap(14);
    writeInt(w, "index", x.index);
    writeText(w, "name", x.name);
    writeInt(w, "pid", x.pid);
    writeInt(w, "tid", x.tid);
    writeUint(w, "state", quint64(x.state));
    writeUint(w, "task", x.currentTask);
    writeUint(w, "task_name", x.currentName);
    writeInt(w, "task_start", x.currentStartNs);
    w.append(QLatin1StringView("progress"));
    w.append(x.progress);
    writeUint(w, "done", x.tasksDone);
    writeInt(w, "busy_ns", x.busyNs);
    writeInt(w, "cpu_ns", x.cpuNs);
    writeInt(w, "core", x.lastCore);
    writeBool(w, "gil", x.holdsGil);
    w.endMap();
}

void writeSnap(QCborStreamWriter& w, const Snap& s)
{
    w.startMap((s.broken ? 15 : 14) + (s.skipped ? 1 : 0) + (s.rowBudget ? 1 : 0));
    writeHeader(w, "snap");
    writeUint(w, "pool", s.pool);
    writeInt(w, "time", s.time);
    w.append(QLatin1StringView("counters"));
    w.startMap(7);
    writeUint(w, "submitted", s.counters.submitted);
    writeUint(w, "queued", s.counters.queued);
    writeUint(w, "running", s.counters.running);
    writeUint(w, "succeeded", s.counters.succeeded);
    writeUint(w, "failed", s.counters.failed);
    writeUint(w, "cancelled", s.counters.cancelled);
    writeUint(w, "dropped", s.counters.dropped);
    w.endMap();
    writeUint(w, "max_workers", s.maxWorkers);
    writeBool(w, "paused", s.paused);
    writeBool(w, "shutdown", s.shutdown);
    if (s.broken)
        writeText(w, "broken", *s.broken);
    w.append(QLatin1StringView("queue"));
    w.startArray(quint64(s.queue.size()));
    for (const auto& q : s.queue) {
        w.startArray(4);
        w.append(q.id);
        w.append(quint64(q.nameId));
        w.append(qint64(q.priority));
        w.append(q.enqueueNs);
        w.endArray();
    }
    w.endArray();
    w.append(QLatin1StringView("workers"));
    w.startArray(quint64(s.workers.size()));
    for (const auto& x : s.workers)
        writeWorker(w, x);
    w.endArray();
    w.append(QLatin1StringView("names"));
    w.startMap(quint64(s.names.size()));
    for (const auto& [id, text] : s.names) {
        w.append(quint64(id));
        w.append(text);
    }
    w.endMap();
    w.append(QLatin1StringView("rows"));
    w.startArray(quint64(s.rows.size()));
    for (const Row& r : s.rows) {
        w.startArray(11);
        w.append(r.id);
        w.append(r.submitNs);
        w.append(r.startNs);
        w.append(r.endNs);
        w.append(r.cpuNs);
        w.append(r.gilWaitNs);
        w.append(quint64(r.name));
        w.append(qint64(r.worker));
        w.append(qint64(r.core));
        w.append(quint64(r.status));
        w.append(r.started);
        w.endArray();
    }
    w.endArray();
    w.append(QLatin1StringView("texts"));
    w.startArray(quint64(s.texts.size()));
    for (const Texts& t : s.texts) {
        w.startArray(4);
        w.append(quint64(t.index));
        w.append(t.args);
        t.result.toCbor(w);
        w.append(t.error);
        w.endArray();
    }
    w.endArray();
    writeUint(w, "lost", s.lost);
    if (s.skipped)
        writeUint(w, "skipped", s.skipped);
    if (s.rowBudget)
        writeUint(w, "row_budget", s.rowBudget);
    w.endMap();
}

} // namespace

QByteArray encode(const FromPublisher& m)
{
    QByteArray out;
    QCborStreamWriter w(&out);
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, Hello>) {
                w.startMap(8);
                writeHeader(w, "hello");
                writeText(w, "program", x.program);
                writeUint(w, "pid", x.pid);
                writeUint(w, "uid", x.uid);
                writeText(w, "language", x.language);
                writeText(w, "runtime", x.runtime);
                writePools(w, x.pools);
                w.endMap();
            } else if constexpr (std::is_same_v<T, Pools>) {
                w.startMap(3);
                writeHeader(w, "pools");
                writePools(w, x.pools);
                w.endMap();
            } else if constexpr (std::is_same_v<T, Snap>) {
                writeSnap(w, x);
            } else if constexpr (std::is_same_v<T, Reply>) {
                w.startMap(5);
                writeHeader(w, "reply");
                writeUint(w, "id", x.id);
                writeBool(w, "ok", x.ok);
                writeText(w, "error", x.error);
                w.endMap();
            } else if constexpr (std::is_same_v<T, Bye>) {
                w.startMap(3);
                writeHeader(w, "bye");
                writeText(w, "reason", x.reason);
                w.endMap();
            } else if constexpr (std::is_same_v<T, ErrorFrame>) {
                w.startMap(3);
                writeHeader(w, "error");
                writeText(w, "message", x.message);
                w.endMap();
            } else {
                w.startMap(2);
                writeUint(w, "v", kVersion);
                writeText(w, "t", x.type);
                w.endMap();
            }
        },
        m);
    return out;
}

QByteArray encode(const FromViewer& m)
{
    QByteArray out;
    QCborStreamWriter w(&out);
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, ViewerHello>) {
                w.startMap(3);
                writeHeader(w, "hello");
                writeText(w, "viewer", x.viewer);
                w.endMap();
            } else if constexpr (std::is_same_v<T, Watch>) {
                w.startMap(3);
                writeHeader(w, "watch");
                writeUint(w, "pool", x.pool);
                w.endMap();
            } else if constexpr (std::is_same_v<T, Unwatch>) {
                w.startMap(3);
                writeHeader(w, "unwatch");
                writeUint(w, "pool", x.pool);
                w.endMap();
            } else if constexpr (std::is_same_v<T, Control>) {
                w.startMap(x.n ? 6 : 5);
                writeHeader(w, "control");
                writeUint(w, "id", x.id);
                writeUint(w, "pool", x.pool);
                writeText(w, "op", x.op);
                if (x.n)
                    writeUint(w, "n", *x.n);
                w.endMap();
            } else {
                w.startMap(2);
                writeUint(w, "v", kVersion);
                writeText(w, "t", x.type);
                w.endMap();
            }
        },
        m);
    return out;
}

// ------------------------------------------------------------------ decode

namespace {

QString typeName(const QCborValue& v)
{
    switch (v.type()) {
    case QCborValue::Integer:
        return QStringLiteral("integer");
    case QCborValue::ByteArray:
        return QStringLiteral("bytes");
    case QCborValue::String:
        return QStringLiteral("text");
    case QCborValue::Array:
        return QStringLiteral("array");
    case QCborValue::Map:
        return QStringLiteral("map");
    case QCborValue::False:
    case QCborValue::True:
        return QStringLiteral("bool");
    case QCborValue::Null:
        return QStringLiteral("null");
    case QCborValue::Undefined:
        return QStringLiteral("undefined");
    case QCborValue::Double:
        return QStringLiteral("float");
    case QCborValue::Invalid:
        return QStringLiteral("nothing");
    default:
        return QStringLiteral("a tagged or simple value");
    }
}

/// Reads the fields of one CBOR map; the first problem wins and says where.
class Reader {
public:
    Reader(const QCborMap& map, QString where, QString* error)
        : m_map(map)
        , m_where(std::move(where))
        , m_error(error)
    {}
    bool ok() const { return m_ok; }
    bool fail(const QString& what)
    {
        if (m_ok && m_error)
            *m_error = m_where + QStringLiteral(": ") + what;
        m_ok = false;
        return false;
    }
    const QString& where() const { return m_where; }

    QCborValue field(const char* key, bool required = true)
    {
        const QCborValue v = m_map.value(QLatin1StringView(key));
        if (v.isUndefined() && required)
            fail(QStringLiteral("field '%1' is missing").arg(QLatin1StringView(key)));
        return v;
    }
    bool wrong(const char* key, const char* want, const QCborValue& v)
    {
        return fail(QStringLiteral("field '%1' must be %2, got %3")
                        .arg(QLatin1StringView(key), QLatin1StringView(want), typeName(v)));
    }
    quint64 uint(const char* key, quint64 max = quint64(std::numeric_limits<qint64>::max()))
    {
        const QCborValue v = field(key);
        if (!m_ok)
            return 0;
        if (!v.isInteger() || v.toInteger() < 0) {
            wrong(key, "an unsigned integer", v);
            return 0;
        }
        const quint64 x = quint64(v.toInteger());
        if (x > max) {
            fail(QStringLiteral("field '%1' is %2, above the limit %3")
                     .arg(QLatin1StringView(key))
                     .arg(x)
                     .arg(max));
            return 0;
        }
        return x;
    }
    qint64 sint(const char* key, qint64 min = std::numeric_limits<qint64>::min(),
                qint64 max = std::numeric_limits<qint64>::max())
    {
        const QCborValue v = field(key);
        if (!m_ok)
            return 0;
        if (!v.isInteger()) {
            wrong(key, "an integer", v);
            return 0;
        }
        const qint64 x = v.toInteger();
        if (x < min || x > max) {
            fail(QStringLiteral("field '%1' is %2, outside %3..%4")
                     .arg(QLatin1StringView(key))
                     .arg(x)
                     .arg(min)
                     .arg(max));
            return 0;
        }
        return x;
    }
    double real(const char* key)
    {
        const QCborValue v = field(key);
        if (!m_ok)
            return 0;
        if (!v.isDouble() && !v.isInteger()) {
            wrong(key, "a number", v);
            return 0;
        }
        return v.toDouble();
    }
    QString text(const char* key, bool required = true)
    {
        const QCborValue v = field(key, required);
        if (!m_ok || (!required && v.isUndefined()))
            return {};
        if (!v.isString()) {
            wrong(key, "text", v);
            return {};
        }
        return v.toString();
    }
    bool boolean(const char* key)
    {
        const QCborValue v = field(key);
        if (!m_ok)
            return false;
        if (!v.isBool()) {
            wrong(key, "a bool", v);
            return false;
        }
        return v.toBool();
    }
    QCborArray array(const char* key)
    {
        const QCborValue v = field(key);
        if (!m_ok)
            return {};
        if (!v.isArray()) {
            wrong(key, "an array", v);
            return {};
        }
        return v.toArray();
    }
    QCborMap map(const char* key)
    {
        const QCborValue v = field(key);
        if (!m_ok)
            return {};
        if (!v.isMap()) {
            wrong(key, "a map", v);
            return {};
        }
        return v.toMap();
    }

private:
    QCborMap m_map;
    QString m_where;
    QString* m_error;
    bool m_ok = true;
};

constexpr quint64 kU32 = 0xFFFFFFFFu;
constexpr qint64 kI32Max = std::numeric_limits<qint32>::max();

bool readPool(const QCborValue& v, const QString& where, PoolInfo* out, QString* error)
{
    if (!v.isMap()) {
        if (error)
            *error = where + QStringLiteral(": a pool must be a map, got ") + typeName(v);
        return false;
    }
    Reader r(v.toMap(), where, error);
    out->id = r.uint("id");
    out->name = r.text("name");
    out->kind = r.text("kind");
    out->maxWorkers = int(r.uint("max_workers", kI32Max));
    const QCborArray ops = r.array("control");
    if (!r.ok())
        return false;
    out->control.clear();
    for (const QCborValue& op : ops) {
        if (!op.isString())
            return r.fail(QStringLiteral("field 'control' must hold text, got ") + typeName(op));
        out->control.append(op.toString());
    }
    return true;
}

bool readPools(Reader& r, QList<PoolInfo>* out, QString* error)
{
    const QCborArray pools = r.array("pools");
    if (!r.ok())
        return false;
    for (qsizetype i = 0; i < pools.size(); ++i) {
        PoolInfo p;
        if (!readPool(pools.at(i), r.where() + QStringLiteral(".pools[%1]").arg(i), &p, error))
            return false;
        out->append(std::move(p));
    }
    return true;
}

/// An array of exactly n elements, or an error naming it.
bool fixedArray(const QCborValue& v, qsizetype n, const QString& where, QCborArray* out,
                QString* error)
{
    if (!v.isArray() || v.toArray().size() != n) {
        if (error)
            *error = where
                     + QStringLiteral(": must be an array of %1 elements, got %2")
                           .arg(n)
                           .arg(v.isArray() ? QStringLiteral("%1 elements").arg(v.toArray().size())
                                            : typeName(v));
        return false;
    }
    *out = v.toArray();
    return true;
}

/// Element checks of a fixed array; returns false with *error naming it.
struct Elements {
    const QCborArray& a;
    QString where;
    QString* error;
    bool ok = true;
    bool bad(qsizetype i, const QString& what)
    {
        if (ok && error)
            *error = where + QStringLiteral("[%1]: ").arg(i) + what;
        ok = false;
        return false;
    }
    quint64 uint(qsizetype i, quint64 max = quint64(std::numeric_limits<qint64>::max()))
    {
        const QCborValue v = a.at(i);
        if (!v.isInteger() || v.toInteger() < 0) {
            bad(i, QStringLiteral("must be an unsigned integer, got ") + typeName(v));
            return 0;
        }
        if (quint64(v.toInteger()) > max) {
            bad(i, QStringLiteral("%1 is above the limit %2").arg(v.toInteger()).arg(max));
            return 0;
        }
        return quint64(v.toInteger());
    }
    qint64 sint(qsizetype i, qint64 min = std::numeric_limits<qint64>::min(),
                qint64 max = std::numeric_limits<qint64>::max())
    {
        const QCborValue v = a.at(i);
        if (!v.isInteger()) {
            bad(i, QStringLiteral("must be an integer, got ") + typeName(v));
            return 0;
        }
        if (v.toInteger() < min || v.toInteger() > max) {
            bad(i, QStringLiteral("%1 is outside %2..%3").arg(v.toInteger()).arg(min).arg(max));
            return 0;
        }
        return v.toInteger();
    }
    QString text(qsizetype i)
    {
        const QCborValue v = a.at(i);
        if (!v.isString()) {
            bad(i, QStringLiteral("must be text, got ") + typeName(v));
            return {};
        }
        return v.toString();
    }
    bool boolean(qsizetype i)
    {
        const QCborValue v = a.at(i);
        if (!v.isBool()) {
            bad(i, QStringLiteral("must be a bool, got ") + typeName(v));
            return false;
        }
        return v.toBool();
    }
};

bool readWorker(const QCborValue& v, const QString& where, WorkerInfo* w, QString* error)
{
    if (!v.isMap()) {
        if (error)
            *error = where + QStringLiteral(": a worker must be a map, got ") + typeName(v);
        return false;
    }
    Reader r(v.toMap(), where, error);
    w->index = int(r.sint("index", -1, kI32Max));
    w->name = r.text("name");
    w->pid = r.sint("pid");
    w->tid = r.sint("tid");
    w->state = WorkerState(r.uint("state", 5));
    w->currentTask = r.uint("task");
    w->currentName = quint32(r.uint("task_name", kU32));
    w->currentStartNs = r.sint("task_start");
    w->progress = r.real("progress");
    w->tasksDone = r.uint("done");
    w->busyNs = r.sint("busy_ns");
    w->cpuNs = r.sint("cpu_ns", -1);
    w->lastCore = int(r.sint("core", -1, kI32Max));
    w->holdsGil = r.boolean("gil");
    if (!r.ok())
        return false;
    if (std::isnan(w->progress) || (w->progress != -1.0 && (w->progress < 0 || w->progress > 1)))
        return r.fail(
            QStringLiteral("field 'progress' must be -1 or 0..1, got %1").arg(w->progress));
    return true;
}

bool isScalar(const QCborValue& v)
{
    return v.isInteger() || v.isDouble() || v.isString() || v.isBool() || v.isNull()
           || v.isByteArray() || v.isUndefined();
}

std::optional<Snap> readSnap(Reader& r, QString* error)
{
    Snap s;
    s.pool = r.uint("pool");
    s.time = r.sint("time");
    const QCborMap counters = r.map("counters");
    if (!r.ok())
        return std::nullopt;
    {
        Reader c(counters, QStringLiteral("snap.counters"), error);
        s.counters.submitted = c.uint("submitted");
        s.counters.queued = c.uint("queued");
        s.counters.running = c.uint("running");
        s.counters.succeeded = c.uint("succeeded");
        s.counters.failed = c.uint("failed");
        s.counters.cancelled = c.uint("cancelled");
        s.counters.dropped = c.uint("dropped");
        if (!c.ok())
            return std::nullopt;
    }
    s.maxWorkers = r.uint("max_workers", kI32Max);
    s.paused = r.boolean("paused");
    s.shutdown = r.boolean("shutdown");
    const QCborValue broken = r.field("broken", false);
    if (!broken.isUndefined()) {
        if (!broken.isString()) {
            r.wrong("broken", "text", broken);
            return std::nullopt;
        }
        s.broken = broken.toString();
    }
    const QCborArray queue = r.array("queue");
    const QCborArray workers = r.array("workers");
    const QCborMap names = r.map("names");
    const QCborArray rows = r.array("rows");
    const QCborArray texts = r.array("texts");
    s.lost = r.uint("lost");
    if (!r.field("skipped", false).isUndefined())
        s.skipped = r.uint("skipped");
    if (!r.field("row_budget", false).isUndefined())
        s.rowBudget = r.uint("row_budget");
    if (!r.ok())
        return std::nullopt;
    if (queue.size() > kMaxQueueHead)
        return r.fail(QStringLiteral("field 'queue' has %1 entries, at most %2 allowed")
                          .arg(queue.size())
                          .arg(kMaxQueueHead)),
               std::nullopt;
    for (qsizetype i = 0; i < queue.size(); ++i) {
        const QString where = QStringLiteral("snap.queue[%1]").arg(i);
        QCborArray a;
        if (!fixedArray(queue.at(i), 4, where, &a, error))
            return std::nullopt;
        Elements e{a, where, error};
        QueuedTask q;
        q.id = e.uint(0);
        q.nameId = quint32(e.uint(1, kU32));
        q.priority = qint32(e.sint(2, std::numeric_limits<qint32>::min(), kI32Max));
        q.enqueueNs = e.sint(3);
        if (!e.ok)
            return std::nullopt;
        s.queue.append(q);
    }
    for (qsizetype i = 0; i < workers.size(); ++i) {
        WorkerInfo w;
        if (!readWorker(workers.at(i), QStringLiteral("snap.workers[%1]").arg(i), &w, error))
            return std::nullopt;
        s.workers.append(std::move(w));
    }
    for (auto it = names.begin(); it != names.end(); ++it) {
        const QCborValue k = it.key();
        const QCborValue v = it.value();
        if (!k.isInteger() || k.toInteger() < 0 || quint64(k.toInteger()) > kU32)
            return r.fail(QStringLiteral("field 'names' must map name ids (0..4294967295) to "
                                         "text, got a key of type ")
                          + typeName(k)),
                   std::nullopt;
        if (!v.isString())
            return r.fail(QStringLiteral("field 'names' must map name ids to text, got ")
                          + typeName(v)),
                   std::nullopt;
        s.names.append({quint32(k.toInteger()), v.toString()});
    }
    s.rows.reserve(std::size_t(rows.size()));
    for (qsizetype i = 0; i < rows.size(); ++i) {
        const QString where = QStringLiteral("snap.rows[%1]").arg(i);
        QCborArray a;
        if (!fixedArray(rows.at(i), 11, where, &a, error))
            return std::nullopt;
        Elements e{a, where, error};
        Row row;
        row.id = e.uint(0);
        row.submitNs = e.sint(1, 0);
        row.startNs = e.sint(2);
        row.endNs = e.sint(3);
        row.cpuNs = e.sint(4, -1);
        row.gilWaitNs = e.sint(5, 0);
        row.name = quint32(e.uint(6, kU32));
        row.worker = qint32(e.sint(7, -1, kI32Max));
        row.core = qint32(e.sint(8, -1, std::numeric_limits<qint16>::max()));
        row.status = quint8(e.uint(9, 2));
        row.started = e.boolean(10);
        if (!e.ok)
            return std::nullopt;
        if (row.endNs < row.startNs)
            return e.bad(3, QStringLiteral("end_ns %1 is before start_ns %2")
                                .arg(row.endNs)
                                .arg(row.startNs)),
                   std::nullopt;
        s.rows.push_back(row);
    }
    for (qsizetype i = 0; i < texts.size(); ++i) {
        const QString where = QStringLiteral("snap.texts[%1]").arg(i);
        QCborArray a;
        if (!fixedArray(texts.at(i), 4, where, &a, error))
            return std::nullopt;
        Elements e{a, where, error};
        Texts t;
        t.index = quint32(e.uint(0, kU32));
        t.args = e.text(1);
        t.error = e.text(3);
        if (!e.ok)
            return std::nullopt;
        if (t.index >= s.rows.size())
            return e.bad(0, QStringLiteral("row index %1 is out of range (%2 rows)")
                                .arg(t.index)
                                .arg(s.rows.size())),
                   std::nullopt;
        t.result = a.at(2);
        if (!isScalar(t.result))
            return e.bad(2, QStringLiteral("result must be a scalar or null, got ")
                                + typeName(t.result)),
                   std::nullopt;
        s.texts.append(std::move(t));
    }
    return s;
}

/// The outer map of a payload: CBOR, a map, v == 1, t text. Null on error.
std::optional<QCborMap> header(QByteArrayView payload, QString* type, QString* error)
{
    auto fail = [&](const QString& why) {
        if (error)
            *error = why;
        return std::nullopt;
    };
    if (payload.isEmpty())
        return fail(QStringLiteral("empty payload"));
    QCborStreamReader reader(reinterpret_cast<const quint8*>(payload.data()), payload.size());
    const QCborValue v = QCborValue::fromCbor(reader);
    if (reader.lastError() != QCborError::NoError)
        return fail(QStringLiteral("payload is not valid CBOR: ") + reader.lastError().toString());
    if (reader.currentOffset() != payload.size())
        return fail(QStringLiteral("payload has %1 bytes after its CBOR value")
                        .arg(payload.size() - reader.currentOffset()));
    if (!v.isMap())
        return fail(QStringLiteral("payload must be a CBOR map, got ") + typeName(v));
    const QCborMap m = v.toMap();
    const QCborValue ver = m.value(QLatin1StringView("v"));
    if (ver.isUndefined())
        return fail(QStringLiteral("field 'v' (the protocol version) is missing"));
    if (!ver.isInteger() || ver.toInteger() != kVersion)
        return fail(QStringLiteral("unsupported protocol version %1 (this side speaks %2)")
                        .arg(ver.isInteger() ? QString::number(ver.toInteger()) : typeName(ver))
                        .arg(kVersion));
    const QCborValue t = m.value(QLatin1StringView("t"));
    if (t.isUndefined())
        return fail(QStringLiteral("field 't' (the frame type) is missing"));
    if (!t.isString())
        return fail(QStringLiteral("field 't' must be text, got ") + typeName(t));
    *type = t.toString();
    return m;
}

} // namespace

std::optional<FromPublisher> decodeFromPublisher(QByteArrayView payload, QString* error)
{
    QString t;
    const auto m = header(payload, &t, error);
    if (!m)
        return std::nullopt;
    Reader r(*m, t, error);
    if (t == QLatin1StringView("hello")) {
        Hello h;
        h.program = r.text("program");
        h.pid = r.uint("pid");
        h.uid = r.uint("uid", kU32);
        h.language = r.text("language");
        h.runtime = r.text("runtime");
        if (!r.ok() || !readPools(r, &h.pools, error))
            return std::nullopt;
        return h;
    }
    if (t == QLatin1StringView("pools")) {
        Pools p;
        if (!readPools(r, &p.pools, error))
            return std::nullopt;
        return p;
    }
    if (t == QLatin1StringView("snap")) {
        auto s = readSnap(r, error);
        if (!s)
            return std::nullopt;
        return std::move(*s);
    }
    if (t == QLatin1StringView("reply")) {
        Reply x;
        x.id = r.uint("id");
        x.ok = r.boolean("ok");
        x.error = r.text("error");
        if (!r.ok())
            return std::nullopt;
        return x;
    }
    if (t == QLatin1StringView("bye")) {
        Bye x{r.text("reason")};
        if (!r.ok())
            return std::nullopt;
        return x;
    }
    if (t == QLatin1StringView("error")) {
        ErrorFrame x{r.text("message")};
        if (!r.ok())
            return std::nullopt;
        return x;
    }
    return Unknown{t};
}

std::optional<FromViewer> decodeFromViewer(QByteArrayView payload, QString* error)
{
    QString t;
    const auto m = header(payload, &t, error);
    if (!m)
        return std::nullopt;
    Reader r(*m, t, error);
    if (t == QLatin1StringView("hello")) {
        ViewerHello x{r.text("viewer")};
        if (!r.ok())
            return std::nullopt;
        return x;
    }
    if (t == QLatin1StringView("watch")) {
        Watch x{r.uint("pool")};
        if (!r.ok())
            return std::nullopt;
        return x;
    }
    if (t == QLatin1StringView("unwatch")) {
        Unwatch x{r.uint("pool")};
        if (!r.ok())
            return std::nullopt;
        return x;
    }
    if (t == QLatin1StringView("control")) {
        Control x;
        x.id = r.uint("id");
        x.pool = r.uint("pool");
        x.op = r.text("op");
        if (!r.ok())
            return std::nullopt;
        if (x.op == QLatin1StringView("resize")) {
            x.n = r.uint("n");
            if (!r.ok())
                return std::nullopt;
        }
        return x;
    }
    return Unknown{t};
}

} // namespace poolscope::attachproto
