#include "poolscope/traceexport.h"

#include "tracelanes.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QJsonValue>
#include <QMap>
#include <QSaveFile>
#include <QVariant>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <queue>

#include <sys/stat.h>
#include <unistd.h>

namespace poolscope {

namespace {

// Synthetic ids on the wire. tid 0 is avoided on purpose: Perfetto reserves
// utid/upid 0 for the idle task and its UI filters them out.
constexpr qint64 kTracePid = 1;
constexpr qint64 kSubmitterTid = 1; // == pid: the process's "main thread" lane
constexpr qint64 kFirstWorkerTid = 2;
constexpr int kFormatVersion = 1;
constexpr quint64 kMaxExactJsonInt = quint64(1) << 53; // doubles are exact below

// ------------------------------------------------------------------ writing
//
// Why a hand-written writer: QJsonDocument builds the whole tree first (about
// 1 KiB of heap per span with its args object) and then serialises it; for a
// million spans that is gigabytes. Writing tokens straight into a buffer is
// one pass and about 0.6 s per million spans (release build), and
// writeChromeTrace() streams the buffer to the file in 1 MiB chunks. The only
// hard part of writing JSON by hand is strings, done in appendJsonString()
// per RFC 8259 §7: '"' and '\\' escaped, every control character below U+0020
// escaped, everything else passed through as UTF-8 (QString::toUtf8() turns a
// lone surrogate into '?', so the output is always valid UTF-8). Numbers are
// integers or fixed-point decimals printed from integers, never from doubles,
// so a time in ns survives the trip as µs with three decimals.

// The event literals below spell these out as "pid":1,"tid":1.
static_assert(kTracePid == 1 && kSubmitterTid == 1 && kFirstWorkerTid == 2);

class Out {
public:
    /// With a device, writes go out in ~1 MiB chunks; without, everything
    /// accumulates and take() hands it over.
    explicit Out(QIODevice* dev, qsizetype reserve)
        : m_dev(dev)
    {
        m_buf.resize(std::max<qsizetype>(reserve, 4096)); // uninitialised bytes
        m_p = m_buf.data();
        m_end = m_p + m_buf.size();
    }

    bool ok() const { return m_ok; }
    QByteArray take()
    {
        m_buf.resize(m_p - m_buf.data());
        m_p = m_end = nullptr;
        return std::move(m_buf);
    }

    // Appends go through a raw pointer: QByteArray::append() per token was
    // a fifth of the time for a million spans.
    void raw(const char* s, qsizetype n)
    {
        need(n);
        std::memcpy(m_p, s, std::size_t(n));
        m_p += n;
    }
    template<std::size_t N>
    void lit(const char (&s)[N])
    {
        raw(s, qsizetype(N - 1));
    }
    void bytes(const QByteArray& b) { raw(b.constData(), b.size()); }
    void ch(char c)
    {
        need(1);
        *m_p++ = c;
    }
    void integer(qint64 v)
    {
        need(24);
        m_p = std::to_chars(m_p, m_end, v).ptr;
    }
    void uinteger(quint64 v)
    {
        need(24);
        m_p = std::to_chars(m_p, m_end, v).ptr;
    }
    /// value / 10^decimals (decimals <= 9), printed exactly; trailing zeros trimmed.
    void fixed(qint64 value, int decimals)
    {
        need(48);
        const quint64 mag = value < 0 ? quint64(0) - quint64(value) : quint64(value);
        quint64 div = 1;
        for (int i = 0; i < decimals; ++i)
            div *= 10;
        if (value < 0)
            *m_p++ = '-';
        m_p = std::to_chars(m_p, m_end, mag / div).ptr;
        quint64 frac = mag % div;
        if (frac == 0)
            return;
        int n = decimals;
        while (frac % 10 == 0) { // trim trailing zeros
            frac /= 10;
            --n;
        }
        *m_p++ = '.';
        for (int i = n - 1; i >= 0; --i) {
            m_p[i] = char('0' + frac % 10);
            frac /= 10;
        }
        m_p += n;
    }
    /// A task id: a JSON number while doubles hold it exactly, else a string.
    void id(quint64 v)
    {
        if (v <= kMaxExactJsonInt) {
            uinteger(v);
        } else {
            ch('"');
            uinteger(v);
            ch('"');
        }
    }

    /// A flow's bind_id. Perfetto reads a string bind_id as hex, so an id
    /// too big for an exact JSON number goes out as a hex string.
    void bindId(quint64 v)
    {
        if (v <= kMaxExactJsonInt) {
            uinteger(v);
            return;
        }
        need(24);
        *m_p++ = '"';
        m_p = std::to_chars(m_p, m_end, v, 16).ptr;
        *m_p++ = '"';
    }

    /// Streaming: hands a full chunk to the device.
    void maybeFlush()
    {
        if (m_dev && m_p - m_buf.data() >= (1 << 20))
            flush();
    }
    void flush()
    {
        if (!m_dev)
            return;
        const qsizetype used = m_p - m_buf.data();
        if (m_ok && used > 0 && m_dev->write(m_buf.constData(), used) != used)
            m_ok = false;
        m_p = m_buf.data();
    }

private:
    void need(qsizetype n)
    {
        if (m_end - m_p >= n)
            return;
        if (m_dev) {
            flush();
            if (m_end - m_p >= n)
                return;
        }
        const qsizetype used = m_p - m_buf.data();
        const qsizetype cap = std::max(m_buf.size() * 2, used + n + 4096);
        m_buf.resize(cap);
        m_p = m_buf.data() + used;
        m_end = m_buf.data() + cap;
    }

    QIODevice* m_dev;
    QByteArray m_buf;
    char* m_p = nullptr;
    char* m_end = nullptr;
    bool m_ok = true;
};

void appendJsonString(QByteArray& out, const QString& s)
{
    static const char hex[] = "0123456789abcdef";
    const QByteArray u = s.toUtf8();
    out.append('"');
    const char* p = u.constData();
    const char* end = p + u.size();
    const char* run = p;
    for (; p != end; ++p) {
        const unsigned char c = static_cast<unsigned char>(*p);
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out.append(run, p - run);
        run = p + 1;
        switch (c) {
        case '"':
            out.append("\\\"", 2);
            break;
        case '\\':
            out.append("\\\\", 2);
            break;
        case '\n':
            out.append("\\n", 2);
            break;
        case '\r':
            out.append("\\r", 2);
            break;
        case '\t':
            out.append("\\t", 2);
            break;
        case '\b':
            out.append("\\b", 2);
            break;
        case '\f':
            out.append("\\f", 2);
            break;
        default: {
            const char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
            out.append(e, 6);
        }
        }
    }
    out.append(run, end - run);
    out.append('"');
}

QByteArray jsonString(const QString& s)
{
    QByteArray b;
    appendJsonString(b, s);
    return b;
}

qint64 relNs(qint64 t, qint64 origin)
{
    qint64 r = 0;
    if (qSubOverflow(t, origin, &r))
        return t < origin ? std::numeric_limits<qint64>::min() / 2
                          : std::numeric_limits<qint64>::max() / 2;
    return r;
}

using detail::TraceLane;

void writeTrace(Out& o, const TraceData& d)
{
    const RunRecord& rec = *d.record;
    const detail::TraceLanes layout = detail::layoutLanes(d);
    const QList<TraceLane>& lanes = layout.lanes;

    // ---- header. displayTimeUnit first: Perfetto's tokenizer honours it only
    // in the first chunk. otherData goes last: a tokenizer that does not know
    // a key skips the rest of the file, and by then every event is read.
    o.lit("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");

    const QString processName = d.poolKind.isEmpty()
                                    ? QStringLiteral("PoolScope pool")
                                    : QStringLiteral("PoolScope %1 pool").arg(d.poolKind);
    o.lit("{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"tid\":1,\"args\":{\"name\":");
    o.bytes(jsonString(processName));
    o.lit("}},\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":1,\"args\":"
          "{\"name\":\"submitter\",\"role\":\"submitter\"}},\n"
          "{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":1,\"tid\":1,"
          "\"args\":{\"sort_index\":0}}");
    int sortIndex = 1;
    for (const auto& lane : lanes) {
        const QString name = detail::laneDisplayName(lane);
        o.lit(",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":");
        o.integer(lane.tid);
        o.lit(",\"args\":{\"name\":");
        o.bytes(jsonString(name));
        o.lit(",\"worker\":");
        o.integer(lane.worker);
        o.lit(",\"lane\":");
        o.integer(lane.lane);
        if (!lane.info) {
            o.lit(",\"implicit\":true");
        } else {
            o.lit(",\"worker_name\":");
            o.bytes(jsonString(lane.info->name));
            o.lit(",\"real_pid\":");
            o.integer(lane.info->pid);
            o.lit(",\"real_tid\":");
            o.integer(lane.info->tid);
        }
        if (const auto place = d.places.constFind(lane.worker); place != d.places.cend()) {
            if (!place->host.isEmpty()) {
                o.lit(",\"host\":");
                o.bytes(jsonString(place->host));
            }
            if (place->rank >= 0) {
                o.lit(",\"rank\":");
                o.integer(place->rank);
            }
        }
        o.lit("}},\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":1,\"tid\":");
        o.integer(lane.tid);
        o.lit(",\"args\":{\"sort_index\":");
        o.integer(sortIndex++);
        o.lit("}}");
    }

    // ---- counters
    for (const auto& c : d.counters) {
        o.lit(",\n{\"ph\":\"C\",\"name\":\"queue\",\"pid\":1,\"tid\":1,\"ts\":");
        o.fixed(relNs(c.timeNs, d.originNs), 3);
        o.lit(",\"args\":{\"queued\":");
        o.integer(c.queued);
        o.lit(",\"running\":");
        o.integer(c.running);
        o.lit("}}");
        o.maybeFlush();
    }

    // ---- tasks, in the record's order (the reader keeps file order)
    QHash<quint32, QByteArray> names; // nameId -> escaped JSON string
    QByteArray statusJson[3] = {jsonString(QString::fromLatin1(nameOf(TaskStatus(0)))),
                                jsonString(QString::fromLatin1(nameOf(TaskStatus(1)))),
                                jsonString(QString::fromLatin1(nameOf(TaskStatus(2))))};
    for (quint64 row = 0; row < rec.size(); ++row) {
        const TaskSpan s = rec.span(row);
        auto nameIt = names.constFind(s.nameId);
        if (nameIt == names.cend())
            nameIt = names.insert(s.nameId, jsonString(NameTable::name(s.nameId)));
        const int st = int(s.status) <= 2 ? int(s.status) : 0;
        const qint64 tid = lanes[int(layout.laneOfRow[row])].tid;
        const bool flow = s.enqueueNs > 0;

        if (flow) {
            // The flow's source: a 1 ns slice at the enqueue time on the
            // submitter lane. Two submits 1 ns apart touch, never overlap.
            o.lit(",\n{\"ph\":\"X\",\"name\":\"submit\",\"cat\":\"submit\",\"pid\":1,\"tid\":1,"
                  "\"ts\":");
            o.fixed(relNs(s.enqueueNs, d.originNs), 3);
            o.lit(",\"dur\":0.001,\"bind_id\":");
            o.bindId(s.taskId);
            o.lit(",\"flow_out\":true,\"args\":{\"id\":");
            o.id(s.taskId);
            o.lit("}}");
        }
        o.lit(",\n{\"ph\":\"X\",\"name\":");
        o.bytes(*nameIt);
        o.lit(",\"cat\":");
        o.bytes(statusJson[st]);
        o.lit(",\"pid\":1,\"tid\":");
        o.integer(tid);
        o.lit(",\"ts\":");
        o.fixed(relNs(s.startNs, d.originNs), 3);
        o.lit(",\"dur\":");
        o.fixed(std::max(s.startNs, s.endNs) - s.startNs, 3);
        if (flow) {
            o.lit(",\"bind_id\":");
            o.bindId(s.taskId);
            o.lit(",\"flow_in\":true");
        }
        o.lit(",\"args\":{\"id\":");
        o.id(s.taskId);
        o.lit(",\"status\":");
        o.bytes(statusJson[st]);
        o.lit(",\"worker\":");
        o.integer(s.worker);
        o.lit(",\"core\":");
        o.integer(s.core);
        if (s.cpuNs >= 0) {
            o.lit(",\"cpu_ms\":");
            o.fixed(s.cpuNs, 6);
        }
        o.lit(",\"gil_wait_ms\":");
        o.fixed(s.gilWaitNs, 6);
        if (flow) {
            o.lit(",\"queued_wait_ms\":");
            o.fixed(relNs(s.startNs, s.enqueueNs), 6);
        }
        if (!s.started)
            o.lit(",\"started\":false"); // cancelled or failed while queued
        if (rec.hasTexts(row)) {
            const QString a = rec.args(row);
            if (!a.isEmpty()) {
                o.lit(",\"args\":");
                o.bytes(jsonString(a));
            }
            const QString e = rec.error(row);
            if (!e.isEmpty()) {
                o.lit(",\"error\":");
                o.bytes(jsonString(e));
            }
        }
        o.lit("}}");
        o.maybeFlush();
    }
    o.lit("\n],\n\"otherData\":{\"generator\":\"PoolScope\",\"format\":");
    o.integer(kFormatVersion);
    o.lit(",\"title\":");
    o.bytes(jsonString(d.title));
    o.lit(",\"poolKind\":");
    o.bytes(jsonString(d.poolKind));
    o.lit(",\"originNs\":\""); // a string: ns since boot can exceed 2^53
    o.integer(d.originNs);
    o.lit("\",\"spans\":");
    o.uinteger(rec.size());
    // What the file holds against the run (readChromeTrace restores it).
    const detail::RunMeta m = detail::runMeta(rec);
    o.lit(",\"tasks\":");
    o.uinteger(m.tasks);
    o.lit(",\"sampled_1_in\":");
    o.uinteger(m.sampling);
    o.lit(",\"lost\":");
    o.uinteger(m.lost);
    if (!rec.samplingNote().isEmpty()) {
        o.lit(",\"note\":");
        o.bytes(jsonString(rec.samplingNote()));
    }
    const RunTotals& t = m.totals;
    o.lit(",\"totals\":{\"succeeded\":");
    o.uinteger(t.succeeded);
    o.lit(",\"failed\":");
    o.uinteger(t.failed);
    o.lit(",\"cancelled\":");
    o.uinteger(t.cancelled);
    o.lit(",\"never_started\":");
    o.uinteger(t.neverStarted);
    o.lit(",\"first_ns\":\"");
    o.integer(t.firstNs);
    o.lit("\",\"last_end_ns\":\"");
    o.integer(t.lastEndNs);
    o.lit("\",\"queued_ns\":\"");
    o.integer(t.queuedNs);
    o.lit("\",\"run_ns\":\"");
    o.integer(t.runNs);
    o.lit("\",\"cpu_ns\":\"");
    o.integer(t.cpuNs);
    o.lit("\",\"cpu_tasks\":");
    o.uinteger(t.cpuTasks);
    o.lit(",\"cpu_run_ns\":\"");
    o.integer(t.cpuRunNs);
    o.lit("\",\"gil_wait_ns\":\"");
    o.integer(t.gilWaitNs);
    o.lit("\"}}}\n");
    o.flush();
}

// ------------------------------------------------------------------ reading

/// Reads a trace event by event. A small structural scanner splits the
/// document into its top-level members and the traceEvents array into single
/// events; each event (and otherData) is then parsed and validated by
/// QJsonDocument on its own. Memory stays at the size of the result: a DOM
/// of a million-span trace would take about 3 GB (measured).
class Reader {
public:
    explicit Reader(QString* error)
        : m_error(error)
    {}

    std::optional<TraceData> read(QByteArrayView json);

private:
    struct LaneInfo {
        int worker = -1;
    };

    bool fail(const QString& why)
    {
        if (m_error)
            *m_error = why;
        return false;
    }
    bool failAt(qsizetype i, const QString& why)
    {
        return fail(QStringLiteral("trace event %1: %2").arg(i).arg(why));
    }
    bool syntax(const QString& what)
    {
        return fail(QStringLiteral("not valid JSON: %1 at offset %2").arg(what).arg(m_p - m_begin));
    }

    // ---- structural scanning (no values are interpreted here)
    void ws()
    {
        while (m_p < m_end && (*m_p == ' ' || *m_p == '\t' || *m_p == '\n' || *m_p == '\r'))
            ++m_p;
    }
    bool skipString() // at '"'
    {
        ++m_p;
        while (m_p < m_end) {
            const char c = *m_p++;
            if (c == '\\') {
                if (m_p == m_end)
                    break;
                ++m_p;
            } else if (c == '"') {
                return true;
            }
        }
        return syntax(QStringLiteral("unterminated string"));
    }
    /// Moves past one value. Brackets are only counted; the value is
    /// validated when QJsonDocument parses it.
    bool skipValue()
    {
        if (m_p == m_end)
            return syntax(QStringLiteral("value expected"));
        if (*m_p == '"')
            return skipString();
        if (*m_p == '{' || *m_p == '[') {
            int depth = 0;
            while (m_p < m_end) {
                const char c = *m_p;
                if (c == '"') {
                    if (!skipString())
                        return false;
                    continue;
                }
                if (c == '{' || c == '[') {
                    if (++depth > 512)
                        return syntax(QStringLiteral("nesting deeper than 512"));
                } else if (c == '}' || c == ']') {
                    if (--depth == 0) {
                        ++m_p;
                        return true;
                    }
                }
                ++m_p;
            }
            return syntax(QStringLiteral("unterminated object or array"));
        }
        const char* s = m_p;
        while (m_p < m_end
               && ((*m_p >= '0' && *m_p <= '9') || (*m_p >= 'a' && *m_p <= 'z') || *m_p == '-'
                   || *m_p == '+' || *m_p == '.' || *m_p == 'E'))
            ++m_p;
        return m_p > s ? true : syntax(QStringLiteral("value expected"));
    }
    /// Parses [begin, m_p) with QJsonDocument, wrapped in [] so that scalars
    /// parse too.
    bool parseRange(const char* begin, QJsonValue* out)
    {
        const qsizetype n = m_p - begin;
        if (n > (1 << 30))
            return fail(QStringLiteral("a JSON value of %1 bytes is too large").arg(n));
        QByteArray wrapped;
        wrapped.reserve(n + 2);
        wrapped.append('[').append(begin, n).append(']');
        QJsonParseError pe;
        const QJsonDocument doc = QJsonDocument::fromJson(wrapped, &pe);
        if (pe.error != QJsonParseError::NoError) {
            m_p = begin + std::clamp<qsizetype>(pe.offset - 1, 0, n);
            return syntax(pe.errorString());
        }
        *out = doc.array().at(0);
        return true;
    }

    bool readEvents(); // at '['
    bool readOtherData(const QJsonValue& v);
    bool handleEvent(qsizetype i, const QJsonObject& e);
    bool finish();

    static bool toInt64(const QJsonValue& v, qint64 lo, qint64 hi, qint64* out)
    {
        if (!v.isDouble())
            return false;
        const double d = v.toDouble();
        if (!std::isfinite(d) || d != std::floor(d) || d < double(lo) || d > double(hi))
            return false;
        *out = qint64(d);
        return true;
    }
    /// A number in `unit` (1000 for µs, 1e6 for ms) to ns; |result| <= 1e18.
    static bool toNs(const QJsonValue& v, double unit, qint64* out)
    {
        if (!v.isDouble())
            return false;
        const double ns = v.toDouble() * unit;
        if (!std::isfinite(ns) || std::fabs(ns) > 1e18)
            return false;
        *out = qint64(std::llround(ns));
        return true;
    }
    static bool toTaskId(const QJsonValue& v, quint64* out)
    {
        if (v.isDouble()) {
            const double d = v.toDouble();
            if (!std::isfinite(d) || d < 0 || d > double(kMaxExactJsonInt) || d != std::floor(d))
                return false;
            *out = quint64(d);
            return true;
        }
        if (v.isString()) {
            const QByteArray s = v.toString().toLatin1();
            if (s.isEmpty() || s.size() > 20)
                return false;
            auto [p, ec] = std::from_chars(s.constData(), s.constData() + s.size(), *out, 10);
            return ec == std::errc() && p == s.constData() + s.size();
        }
        return false;
    }

    QString* m_error;
    const char* m_begin = nullptr;
    const char* m_p = nullptr;
    const char* m_end = nullptr;

    TraceData m_out;
    std::vector<TaskSpan> m_spans; // times relative to originNs until finish()
    struct SpanTexts {
        qsizetype span;
        QString args;
        QString error;
    };
    std::vector<SpanTexts> m_texts;
    std::optional<detail::RunMeta> m_meta;
    bool m_haveEvents = false;
    QHash<qint64, LaneInfo> m_laneOfTid;
    QMap<int, TraceWorker> m_workers;
    struct SpanExtra {
        qint64 tid;
        qint64 event;
        qint64 queuedNs; // valid when hasQueued
        bool hasQueued;
    };
    std::vector<SpanExtra> m_extra; // parallel to m_spans
    std::vector<qint64> m_counterEvent;
};

/// Counts '{' outside strings: an upper bound on the number of events, known
/// before any parsing.
qsizetype countObjects(QByteArrayView json)
{
    qsizetype n = 0;
    bool inString = false;
    const char* p = json.data();
    const char* end = p + json.size();
    for (; p != end; ++p) {
        const char c = *p;
        if (inString) {
            if (c == '\\') {
                if (p + 1 != end)
                    ++p; // skip the escaped character
            } else if (c == '"') {
                inString = false;
            }
        } else if (c == '"') {
            inString = true;
        } else if (c == '{') {
            ++n;
        }
    }
    return n;
}

std::optional<TraceData> Reader::read(QByteArrayView json)
{
    m_begin = m_p = json.data();
    m_end = m_begin + json.size();
    ws();
    if (m_p == m_end) {
        fail(QStringLiteral("empty input: not a trace"));
        return std::nullopt;
    }
    // Every event is an object and most carry an args object: refuse an
    // absurd document before spending any time on it.
    if (countObjects(json) > 2 * kMaxTraceEvents + 16) {
        fail(QStringLiteral("trace has more than %1 events").arg(kMaxTraceEvents));
        return std::nullopt;
    }
    if (*m_p == '[') { // the bare-array form of the format
        if (!readEvents())
            return std::nullopt;
    } else if (*m_p == '{') {
        ++m_p;
        ws();
        bool first = true;
        for (;;) {
            if (m_p == m_end) {
                syntax(QStringLiteral("unterminated object"));
                return std::nullopt;
            }
            if (*m_p == '}' && first) {
                ++m_p;
                break;
            }
            if (*m_p != '"') {
                syntax(QStringLiteral("member name expected"));
                return std::nullopt;
            }
            const char* keyBegin = m_p + 1;
            if (!skipString())
                return std::nullopt;
            const QByteArrayView key(keyBegin, m_p - 1 - keyBegin);
            ws();
            if (m_p == m_end || *m_p != ':') {
                syntax(QStringLiteral("':' expected"));
                return std::nullopt;
            }
            ++m_p;
            ws();
            if (key == QByteArrayView("traceEvents")) {
                if (m_haveEvents) {
                    fail(QStringLiteral("'traceEvents' appears twice"));
                    return std::nullopt;
                }
                if (m_p == m_end || *m_p != '[') {
                    fail(QStringLiteral("'traceEvents' is missing or not an array"));
                    return std::nullopt;
                }
                if (!readEvents())
                    return std::nullopt;
            } else {
                const char* v = m_p;
                QJsonValue value;
                if (!skipValue() || !parseRange(v, &value))
                    return std::nullopt;
                if (key == QByteArrayView("otherData") && !readOtherData(value))
                    return std::nullopt;
            }
            ws();
            if (m_p != m_end && *m_p == ',') {
                ++m_p;
                ws();
                first = false;
                continue;
            }
            if (m_p != m_end && *m_p == '}') {
                ++m_p;
                break;
            }
            syntax(QStringLiteral("',' or '}' expected"));
            return std::nullopt;
        }
        if (!m_haveEvents) {
            fail(QStringLiteral("'traceEvents' is missing or not an array"));
            return std::nullopt;
        }
    } else {
        syntax(QStringLiteral("a trace is an object or an array"));
        return std::nullopt;
    }
    ws();
    if (m_p != m_end) {
        syntax(QStringLiteral("garbage after the trace"));
        return std::nullopt;
    }
    if (!finish())
        return std::nullopt;
    return std::move(m_out);
}

bool Reader::readEvents()
{
    m_haveEvents = true;
    ++m_p; // '['
    ws();
    if (m_p != m_end && *m_p == ']') {
        ++m_p;
        return true;
    }
    for (qsizetype i = 0;; ++i) {
        if (i >= kMaxTraceEvents)
            return fail(QStringLiteral("trace has more than %1 events").arg(kMaxTraceEvents));
        ws();
        if (m_p == m_end)
            return syntax(QStringLiteral("unterminated traceEvents array"));
        if (*m_p != '{') {
            // Still a syntax error if it is not a value at all.
            const char* v = m_p;
            QJsonValue ignored;
            if (!skipValue() || !parseRange(v, &ignored))
                return false;
            return failAt(i, QStringLiteral("not an object"));
        }
        const char* begin = m_p;
        if (!skipValue())
            return false;
        const qsizetype n = m_p - begin;
        if (n > (1 << 30))
            return failAt(i, QStringLiteral("%1 bytes is too large").arg(n));
        QJsonParseError pe;
        const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromRawData(begin, n), &pe);
        if (pe.error != QJsonParseError::NoError) {
            m_p = begin + std::clamp<qsizetype>(pe.offset, 0, n);
            return syntax(QStringLiteral("%1 in trace event %2").arg(pe.errorString()).arg(i));
        }
        if (!handleEvent(i, doc.object()))
            return false;
        ws();
        if (m_p != m_end && *m_p == ',') {
            ++m_p;
            continue;
        }
        if (m_p != m_end && *m_p == ']') {
            ++m_p;
            return true;
        }
        return syntax(QStringLiteral("',' or ']' expected after trace event %1").arg(i));
    }
}

bool Reader::readOtherData(const QJsonValue& other)
{
    if (!other.isObject())
        return fail(QStringLiteral("'otherData' is not an object"));
    const QJsonObject od = other.toObject();
    const QJsonValue title = od.value(QLatin1String("title"));
    const QJsonValue kind = od.value(QLatin1String("poolKind"));
    const QJsonValue origin = od.value(QLatin1String("originNs"));
    if (!title.isUndefined() && !title.isString())
        return fail(QStringLiteral("'otherData.title' is not a string"));
    if (!kind.isUndefined() && !kind.isString())
        return fail(QStringLiteral("'otherData.poolKind' is not a string"));
    m_out.title = title.toString();
    m_out.poolKind = kind.toString();
    if (origin.isString()) {
        const QByteArray s = origin.toString().toLatin1();
        auto [p, ec] = std::from_chars(s.constData(), s.constData() + s.size(), m_out.originNs, 10);
        if (s.isEmpty() || ec != std::errc() || p != s.constData() + s.size())
            return fail(QStringLiteral("'otherData.originNs' is not an integer"));
    } else if (!origin.isUndefined()) {
        if (!toInt64(origin, -(qint64(1) << 53), qint64(1) << 53, &m_out.originNs))
            return fail(QStringLiteral("'otherData.originNs' is not an integer"));
    }
    // What the file holds against the run (PoolScope traces since the
    // complete record; older ones hold every task they list).
    const QJsonValue tasks = od.value(QLatin1String("tasks"));
    if (tasks.isUndefined())
        return true;
    const qint64 big = qint64(1) << 53;
    auto count = [&](const QJsonValue& v, qint64 lo, quint64* out) {
        qint64 x = 0;
        if (!toInt64(v, lo, big, &x))
            return false;
        *out = quint64(x);
        return true;
    };
    auto ns = [&](const QJsonValue& v, qint64* out) {
        const QByteArray b = v.toString().toLatin1();
        auto [p, ec] = std::from_chars(b.constData(), b.constData() + b.size(), *out, 10);
        return v.isString() && !b.isEmpty() && ec == std::errc() && p == b.constData() + b.size();
    };
    detail::RunMeta m;
    const QJsonObject t = od.value(QLatin1String("totals")).toObject();
    if (!count(tasks, 0, &m.tasks)
        || !count(od.value(QLatin1String("sampled_1_in")), 1, &m.sampling)
        || !count(od.value(QLatin1String("lost")), 0, &m.lost)
        || !count(t.value(QLatin1String("succeeded")), 0, &m.totals.succeeded)
        || !count(t.value(QLatin1String("failed")), 0, &m.totals.failed)
        || !count(t.value(QLatin1String("cancelled")), 0, &m.totals.cancelled)
        || !count(t.value(QLatin1String("never_started")), 0, &m.totals.neverStarted)
        || !count(t.value(QLatin1String("cpu_tasks")), 0, &m.totals.cpuTasks)
        || !ns(t.value(QLatin1String("first_ns")), &m.totals.firstNs)
        || !ns(t.value(QLatin1String("last_end_ns")), &m.totals.lastEndNs)
        || !ns(t.value(QLatin1String("queued_ns")), &m.totals.queuedNs)
        || !ns(t.value(QLatin1String("run_ns")), &m.totals.runNs)
        || !ns(t.value(QLatin1String("cpu_ns")), &m.totals.cpuNs)
        || !ns(t.value(QLatin1String("cpu_run_ns")), &m.totals.cpuRunNs)
        || !ns(t.value(QLatin1String("gil_wait_ns")), &m.totals.gilWaitNs) || m.lost > m.tasks)
        return fail(QStringLiteral("'otherData' has a malformed run summary (tasks, "
                                   "sampled_1_in, lost, totals)"));
    m.totals.tasks = m.tasks - m.lost;
    m_meta = m;
    return true;
}

bool Reader::handleEvent(qsizetype i, const QJsonObject& e)
{
    const QLatin1String kArgs("args"), kName("name"), kPh("ph"), kTs("ts"), kDur("dur"),
        kTid("tid"), kPid("pid"), kCat("cat");
    const QJsonValue phV = e.value(kPh);
    const QString ph = phV.toString();
    if (!phV.isString() || ph.size() != 1 || ph.at(0).unicode() > 127)
        return failAt(i, QStringLiteral("'ph' must be a one-letter string"));
    qint64 tid = 0;
    qint64 pid = 0;
    const QJsonValue tidV = e.value(kTid);
    const QJsonValue pidV = e.value(kPid);
    if (!tidV.isUndefined() && !toInt64(tidV, INT_MIN, qint64(UINT_MAX), &tid))
        return failAt(i, QStringLiteral("'tid' must be an integer"));
    if (!pidV.isUndefined() && !toInt64(pidV, INT_MIN, qint64(UINT_MAX), &pid))
        return failAt(i, QStringLiteral("'pid' must be an integer"));
    const QJsonValue argsV = e.value(kArgs);
    if (!argsV.isUndefined() && !argsV.isObject())
        return failAt(i, QStringLiteral("'args' must be an object"));
    const QJsonObject args = argsV.toObject();
    const QJsonValue nameV = e.value(kName);
    if (!nameV.isUndefined() && !nameV.isString())
        return failAt(i, QStringLiteral("'name' must be a string"));
    const QString name = nameV.toString();
    const char phase = char(ph.at(0).unicode());

    if (phase == 'M') {
        if (name != QLatin1String("thread_name"))
            return true; // process_name, thread_sort_index, ...
        const QJsonValue tn = args.value(kName);
        if (!tn.isString())
            return failAt(i, QStringLiteral("thread_name needs a string args.name"));
        if (args.value(QLatin1String("role")).toString() == QLatin1String("submitter"))
            return true;
        const QJsonValue wV = args.value(QLatin1String("worker"));
        if (wV.isUndefined())
            return true; // a thread of some other tool's trace
        qint64 w = 0;
        qint64 lane = 0;
        if (!toInt64(wV, INT_MIN, INT_MAX, &w))
            return failAt(i, QStringLiteral("args.worker must be an integer"));
        const QJsonValue laneV = args.value(QLatin1String("lane"));
        if (!laneV.isUndefined() && !toInt64(laneV, 0, INT_MAX, &lane))
            return failAt(i, QStringLiteral("args.lane must be a non-negative integer"));
        m_laneOfTid.insert(tid, LaneInfo{int(w)});
        if (lane == 0 && !args.value(QLatin1String("implicit")).toBool()) {
            TraceWorker tw;
            tw.index = int(w);
            const QJsonValue wn = args.value(QLatin1String("worker_name"));
            tw.name = wn.isString() ? wn.toString() : tn.toString();
            const QJsonValue rpV = args.value(QLatin1String("real_pid"));
            const QJsonValue rtV = args.value(QLatin1String("real_tid"));
            if ((!rpV.isUndefined() && !toInt64(rpV, 0, qint64(1) << 53, &tw.pid))
                || (!rtV.isUndefined() && !toInt64(rtV, 0, qint64(1) << 53, &tw.tid)))
                return failAt(i, QStringLiteral("args.real_pid/real_tid must be integers"));
            m_workers.insert(tw.index, tw); // a repeated worker: the last one wins
            const QJsonValue hostV = args.value(QLatin1String("host"));
            if (!hostV.isUndefined() && !hostV.isString())
                return failAt(i, QStringLiteral("args.host must be a string"));
            const QJsonValue rankV = args.value(QLatin1String("rank"));
            qint64 rank = -1;
            if (!rankV.isUndefined() && !toInt64(rankV, 0, INT_MAX, &rank))
                return failAt(i, QStringLiteral("args.rank must be a non-negative integer"));
            if (!hostV.isUndefined() || !rankV.isUndefined())
                m_out.places.insert(tw.index,
                                    TraceWorkerPlace{hostV.toString().left(1024), int(rank)});
            else
                m_out.places.remove(tw.index);
        }
        return true;
    }
    if (phase == 'X') {
        qint64 ts = 0;
        qint64 dur = 0;
        if (!toNs(e.value(kTs), 1000.0, &ts))
            return failAt(i, QStringLiteral("'ts' must be a finite number of microseconds"));
        const QJsonValue durV = e.value(kDur);
        if (!toNs(durV, 1000.0, &dur) || durV.toDouble() < 0)
            return failAt(i, QStringLiteral("'dur' must be a non-negative number of microseconds"));
        const QJsonValue catV = e.value(kCat);
        if (!catV.isUndefined() && !catV.isString())
            return failAt(i, QStringLiteral("'cat' must be a string"));
        const QString cat = catV.toString();
        if (cat == QLatin1String("submit"))
            return true; // flow sources; enqueue times come from queued_wait_ms

        TaskSpan s;
        // args.status, when present, must be a status; otherwise cat is used
        // if it is one, and a slice of another tool counts as done.
        const QJsonValue stV = args.value(QLatin1String("status"));
        if (!stV.isUndefined() && !stV.isString())
            return failAt(i, QStringLiteral("args.status must be a string"));
        const QString st = stV.isUndefined() ? cat : stV.toString();
        if (st == QLatin1String("failed"))
            s.status = TaskStatus::Failed;
        else if (st == QLatin1String("cancelled"))
            s.status = TaskStatus::Cancelled;
        else if (st == QLatin1String("succeeded") || stV.isUndefined())
            s.status = TaskStatus::Succeeded;
        else
            return failAt(i, QStringLiteral("unknown task status '%1'").arg(st.left(40)));
        s.startNs = ts;     // relative until finish()
        s.endNs = ts + dur; // both within +-1e18: no overflow
        const QJsonValue idV = args.value(QLatin1String("id"));
        if (!idV.isUndefined() && !toTaskId(idV, &s.taskId))
            return failAt(i, QStringLiteral("args.id must be a non-negative integer"));
        const QJsonValue coreV = args.value(QLatin1String("core"));
        qint64 core = -1;
        if (!coreV.isUndefined() && !toInt64(coreV, -1, 32767, &core))
            return failAt(i, QStringLiteral("args.core must be an integer from -1 to 32767"));
        s.core = qint16(core);
        const QJsonValue cpuV = args.value(QLatin1String("cpu_ms"));
        if (!cpuV.isUndefined() && (!toNs(cpuV, 1e6, &s.cpuNs) || s.cpuNs < 0))
            return failAt(i, QStringLiteral("args.cpu_ms must be a non-negative number"));
        const QJsonValue gilV = args.value(QLatin1String("gil_wait_ms"));
        if (!gilV.isUndefined() && (!toNs(gilV, 1e6, &s.gilWaitNs) || s.gilWaitNs < 0))
            return failAt(i, QStringLiteral("args.gil_wait_ms must be a non-negative number"));
        SpanExtra x{tid, i, 0, false};
        const QJsonValue qV = args.value(QLatin1String("queued_wait_ms"));
        if (!qV.isUndefined()) {
            if (!toNs(qV, 1e6, &x.queuedNs))
                return failAt(i, QStringLiteral("args.queued_wait_ms must be a number"));
            x.hasQueued = true;
        }
        const QJsonValue startedV = args.value(QLatin1String("started"));
        if (!startedV.isUndefined() && !startedV.isBool())
            return failAt(i, QStringLiteral("args.started must be true or false"));
        s.started = startedV.toBool(true);
        const QJsonValue aV = args.value(QLatin1String("args"));
        const QJsonValue eV = args.value(QLatin1String("error"));
        if (!aV.isUndefined() && !aV.isString())
            return failAt(i, QStringLiteral("args.args must be a string"));
        if (!eV.isUndefined() && !eV.isString())
            return failAt(i, QStringLiteral("args.error must be a string"));
        if (aV.isString() || eV.isString())
            m_texts.push_back(SpanTexts{qsizetype(m_spans.size()), aV.toString(), eV.toString()});
        // Interned names live as long as the program: bound their size.
        s.nameId = NameTable::intern(name.left(1024));
        m_spans.push_back(s);
        m_extra.push_back(x);
        return true;
    }
    if (phase == 'C') {
        if (name != QLatin1String("queue"))
            return true;
        TraceCounterSample c;
        if (!toNs(e.value(kTs), 1000.0, &c.timeNs))
            return failAt(i, QStringLiteral("'ts' must be a finite number of microseconds"));
        const QJsonValue q = args.value(QLatin1String("queued"));
        const QJsonValue r = args.value(QLatin1String("running"));
        const qint64 big = qint64(1) << 53;
        if ((!q.isUndefined() && !toInt64(q, -big, big, &c.queued))
            || (!r.isUndefined() && !toInt64(r, -big, big, &c.running)))
            return failAt(i, QStringLiteral("counter args must be integers"));
        m_out.counters.append(c);
        m_counterEvent.push_back(i);
        return true;
    }
    // Other phases (flow 's'/'f', instants, B/E of other tools) are ignored.
    return true;
}

bool Reader::finish()
{
    // otherData (with originNs) may come after the events, and thread names
    // after the slices: make times absolute and resolve workers now.
    const qint64 origin = m_out.originNs;
    for (std::size_t i = 0; i < m_spans.size(); ++i) {
        TaskSpan& s = m_spans[i];
        const SpanExtra& x = m_extra[i];
        if (qAddOverflow(s.startNs, origin, &s.startNs) || qAddOverflow(s.endNs, origin, &s.endNs)
            || (x.hasQueued && qSubOverflow(s.startNs, x.queuedNs, &s.enqueueNs)))
            return failAt(x.event, QStringLiteral("time out of range"));
        const auto lane = m_laneOfTid.constFind(x.tid);
        s.worker = lane == m_laneOfTid.cend() ? -1 : lane->worker;
    }
    for (qsizetype i = 0; i < m_out.counters.size(); ++i) {
        auto& c = m_out.counters[i];
        if (qAddOverflow(c.timeNs, origin, &c.timeNs))
            return failAt(m_counterEvent[std::size_t(i)], QStringLiteral("time out of range"));
    }
    m_out.workers = m_workers.values();
    // A record that holds every row read (no re-sampling on the way in).
    m_out.record = std::make_shared<RunRecord>(std::clamp<quint64>(
        quint64(m_spans.size()), RunRecord::kDefaultLimit, RunRecord::kMaxLimit));
    std::size_t t = 0;
    for (std::size_t i = 0; i < m_spans.size(); ++i) {
        if (t < m_texts.size() && m_texts[t].span == qsizetype(i)) {
            m_out.record->add(m_spans[i], m_texts[t].args, {}, m_texts[t].error);
            ++t;
        } else {
            m_out.record->add(m_spans[i]);
        }
    }
    m_spans = {};
    if (m_meta)
        detail::applyRunMeta(*m_out.record, *m_meta);
    return true;
}

} // namespace

bool foreignLinkInSharedFolder(uint linkUid, uint dirMode, uint dirUid, uint euid)
{
    const bool shared = (dirMode & S_ISVTX) && (dirMode & S_IWOTH);
    return shared && linkUid != euid && linkUid != dirUid;
}

QString exportTargetProblem(const QString& path)
{
    const QFileInfo fi(path);
    const QByteArray dir = QFile::encodeName(fi.absolutePath());
    const QByteArray name = QFile::encodeName(fi.fileName());
    const QByteArray full = QFile::encodeName(fi.absoluteFilePath());
    long nameMax = ::pathconf(dir.constData(), _PC_NAME_MAX);
    if (nameMax <= 0)
        nameMax = NAME_MAX;
    if (name.size() > nameMax)
        return QStringLiteral("the file name is %1 bytes long, more than the %2 this file "
                              "system allows")
            .arg(name.size())
            .arg(nameMax);
    if (full.size() >= PATH_MAX)
        return QStringLiteral("the path is %1 bytes long, more than the %2 the system allows")
            .arg(full.size())
            .arg(PATH_MAX - 1);
    struct stat link = {}, folder = {};
    if (::lstat(full.constData(), &link) == 0 && S_ISLNK(link.st_mode)
        && ::stat(dir.constData(), &folder) == 0
        && foreignLinkInSharedFolder(link.st_uid, folder.st_mode, folder.st_uid, ::geteuid()))
        return QStringLiteral("it is a symbolic link owned by another user (uid %1) in a shared "
                              "folder (world-writable and sticky, like /tmp): following it would "
                              "let that user choose which file is replaced; remove the link or "
                              "choose another name")
            .arg(link.st_uid);
    return {};
}

bool detail::saveBytes(const QString& path, const char* what, QString* error,
                       const std::function<bool(QIODevice&)>& write)
{
    // Checked right before the file is opened (QSaveFile resolves a link
    // when it opens): exportTargetProblem() says what.
    if (const QString why = exportTargetProblem(path); !why.isEmpty()) {
        if (error)
            *error =
                QStringLiteral("cannot write %1 to '%2': %3").arg(QLatin1String(what), path, why);
        return false;
    }
    // QSaveFile writes a temporary file and renames it over the target, so a
    // device, FIFO or directory at that path would be replaced by a regular
    // file (as root, /dev/null too). Only regular files are overwritten.
    const QFileInfo target(path);
    if (target.exists() && !target.isFile()) {
        if (error)
            *error = QStringLiteral("cannot write %1 to '%2': it exists and is not a regular file")
                         .arg(QLatin1String(what), path);
        return false;
    }
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly)) {
        if (error)
            *error = QStringLiteral("cannot write %1 to '%2': %3")
                         .arg(QLatin1String(what), path, f.errorString());
        return false;
    }
    // flush() before commit(): commit() closes the file without looking at
    // whether the last buffered bytes reached the disk (Qt 6.4: a full file
    // system left a 0-byte file and commit() returned true; issue #17).
    errno = 0;
    if (!write(f) || !f.flush()) {
        // Qt says "Unknown error" for a write cut short (EFBIG after part
        // of a buffer): the system's word for it then.
        const int err = errno;
        QString why = f.errorString();
        if ((why.isEmpty() || why == QLatin1String("Unknown error")) && err != 0)
            why = QString::fromLocal8Bit(std::strerror(err));
        f.cancelWriting();
        if (error)
            *error =
                QStringLiteral("writing %1 to '%2' failed: %3").arg(QLatin1String(what), path, why);
        return false;
    }
    if (!f.commit()) {
        if (error)
            *error = QStringLiteral("cannot save %1 as '%2': %3")
                         .arg(QLatin1String(what), path, f.errorString());
        return false;
    }
    if (error)
        error->clear();
    return true;
}

namespace {

// ------------------------------------------------------------------ CSV

void appendCsvField(QByteArray& out, const QString& s)
{
    const QByteArray u = s.toUtf8();
    bool quote = false;
    for (char c : u)
        if (c == ',' || c == '"' || c == '\n' || c == '\r') {
            quote = true;
            break;
        }
    if (!quote) {
        out.append(u);
        return;
    }
    out.append('"');
    for (char c : u) {
        if (c == '"')
            out.append('"');
        out.append(c);
    }
    out.append('"');
}

/// ns as ms with exactly three decimals (rounded to the µs).
void appendMs(QByteArray& out, qint64 ns)
{
    const bool neg = ns < 0;
    quint64 mag = neg ? quint64(0) - quint64(ns) : quint64(ns);
    const quint64 us = (mag + 500) / 1000;
    if (neg && us != 0)
        out.append('-');
    out.append(QByteArray::number(us / 1000));
    out.append('.');
    const quint64 frac = us % 1000;
    const char d[3] = {char('0' + frac / 100), char('0' + frac / 10 % 10), char('0' + frac % 10)};
    out.append(d, 3);
}

QString variantText(const QVariant& v)
{
    if (!v.isValid() || v.isNull())
        return {};
    if (v.canConvert<QString>())
        return v.toString();
    return QStringLiteral("<%1>").arg(QString::fromLatin1(v.typeName()));
}

} // namespace

void setWorkerPlaces(TraceData& data, const QHash<int, WorkerInfo>& known)
{
    for (const TraceWorker& w : data.workers) {
        const auto it = known.constFind(w.index);
        if (it != known.cend() && (!it->host.isEmpty() || it->rank >= 0))
            data.places.insert(w.index, TraceWorkerPlace{it->host, it->rank});
    }
}

QByteArray toChromeTrace(const TraceData& data)
{
    // ~400 bytes per task with a flow, ~250 without.
    Out o(nullptr, qsizetype(4096 + data.workers.size() * 300 + data.counters.size() * 90
                             + qsizetype(data.record->size()) * 400));
    writeTrace(o, data);
    return o.take();
}

bool writeChromeTrace(const QString& path, const TraceData& data, QString* error)
{
    return detail::saveBytes(path, "trace", error, [&](QIODevice& dev) {
        Out o(&dev, 2 << 20);
        writeTrace(o, data);
        return o.ok();
    });
}

std::optional<TraceData> readChromeTrace(QByteArrayView json, QString* error)
{
    Reader r(error);
    auto out = r.read(json);
    if (out && error)
        error->clear();
    return out;
}

namespace {
/// ns as ms with six decimals (exact), for times relative to an origin.
void appendMsExact(QByteArray& out, qint64 ns)
{
    const bool neg = ns < 0;
    const quint64 mag = neg ? quint64(0) - quint64(ns) : quint64(ns);
    if (neg)
        out.append('-');
    out.append(QByteArray::number(mag / 1'000'000));
    out.append('.');
    char d[6];
    quint64 frac = mag % 1'000'000;
    for (int i = 5; i >= 0; --i) {
        d[i] = char('0' + frac % 10);
        frac /= 10;
    }
    out.append(d, 6);
}

template<class Sink>
void writeCsvRows(const RunRecord& rec, qint64 originNs, Sink&& sink)
{
    QByteArray out;
    out.reserve(1 << 20);
    out.append("id,task,args,status,result,error,worker,core,queued_wait_ms,run_ms,cpu_ms,"
               "gil_wait_ms,submit_ms,start_ms,end_ms,sampled_1_in,run_tasks\r\n");
    const detail::RunMeta meta = detail::runMeta(rec);
    QByteArray tail = ",";
    tail.append(QByteArray::number(meta.sampling));
    tail.append(',');
    tail.append(QByteArray::number(meta.tasks));
    tail.append("\r\n");
    QHash<quint32, QByteArray> names;
    for (quint64 row = 0; row < rec.size(); ++row) {
        const TaskSpan s = rec.span(row);
        out.append(QByteArray::number(s.taskId));
        out.append(',');
        auto n = names.constFind(s.nameId);
        if (n == names.cend()) {
            QByteArray b;
            appendCsvField(b, NameTable::name(s.nameId));
            n = names.insert(s.nameId, b);
        }
        out.append(*n);
        out.append(',');
        const bool texts = rec.hasTexts(row);
        if (texts)
            appendCsvField(out, rec.args(row));
        out.append(',');
        out.append(nameOf(s.status));
        out.append(',');
        appendCsvField(out, variantText(rec.result(row)));
        out.append(',');
        if (texts)
            appendCsvField(out, rec.error(row));
        out.append(',');
        if (s.worker >= 0)
            out.append(QByteArray::number(s.worker));
        out.append(',');
        if (s.core >= 0)
            out.append(QByteArray::number(s.core));
        out.append(',');
        if (s.enqueueNs > 0)
            appendMs(out, relNs(s.startNs, s.enqueueNs));
        out.append(',');
        appendMs(out, relNs(s.endNs, s.startNs));
        out.append(',');
        if (s.cpuNs >= 0)
            appendMs(out, s.cpuNs);
        out.append(',');
        appendMs(out, s.gilWaitNs);
        out.append(',');
        if (s.enqueueNs > 0)
            appendMsExact(out, relNs(s.enqueueNs, originNs));
        out.append(',');
        appendMsExact(out, relNs(s.startNs, originNs));
        out.append(',');
        appendMsExact(out, relNs(s.endNs, originNs));
        out.append(tail);
        if (out.size() >= (1 << 20)) {
            if (!sink(out))
                return;
            out.clear();
        }
    }
    sink(out);
}
} // namespace

QByteArray toCsv(const RunRecord& record, qint64 originNs)
{
    QByteArray all;
    writeCsvRows(record, originNs, [&](const QByteArray& b) {
        all.append(b);
        return true;
    });
    return all;
}

bool writeCsv(const QString& path, const RunRecord& record, qint64 originNs, QString* error)
{
    return detail::saveBytes(path, "CSV", error, [&](QIODevice& dev) {
        bool ok = true;
        writeCsvRows(record, originNs, [&](const QByteArray& b) {
            ok = ok && dev.write(b) == b.size();
            return ok;
        });
        return ok;
    });
}

bool isPerfettoPath(const QString& path)
{
    const QString p = path.toLower();
    return p.endsWith(QLatin1String(".pftrace")) || p.endsWith(QLatin1String(".perfetto-trace"))
           || p.endsWith(QLatin1String(".pb"));
}

bool writeTrace(const QString& path, const TraceData& data, QString* error)
{
    return isPerfettoPath(path) ? writePerfettoTrace(path, data, error)
                                : writeChromeTrace(path, data, error);
}

std::optional<TraceData> readTrace(QByteArrayView bytes, QString* error)
{
    // JSON starts with '{' or '[' after white space; a Perfetto trace with
    // a packet (field 1, length-delimited: 0x0A).
    qsizetype i = 0;
    while (i < bytes.size()
           && (bytes[i] == ' ' || bytes[i] == '\n' || bytes[i] == '\r' || bytes[i] == '\t'))
        ++i;
    if (i < bytes.size() && (bytes[i] == '{' || bytes[i] == '['))
        return readChromeTrace(bytes, error);
    if (!bytes.isEmpty() && bytes[0] == '\x0A')
        return readPerfettoTrace(bytes, error);
    if (error)
        *error = bytes.isEmpty()
                     ? QStringLiteral("empty input: not a trace")
                     : QStringLiteral("neither a Chrome JSON trace nor a Perfetto "
                                      "trace (it starts with neither '{' nor a packet)");
    return std::nullopt;
}

namespace detail {

QString workerDisplayName(int index, const TraceWorker* w)
{
    if (w && !w->name.isEmpty())
        return w->name;
    return index < 0 ? QStringLiteral("unassigned") : QStringLiteral("worker %1").arg(index);
}

QString laneDisplayName(const TraceLane& lane)
{
    if (lane.neverStarted)
        return QStringLiteral("never started (cancelled or failed while queued)");
    QString name = workerDisplayName(lane.worker, lane.info);
    if (lane.lane > 0)
        name += QStringLiteral(" (overlap %1)").arg(lane.lane);
    return name;
}

RunMeta runMeta(const RunRecord& r)
{
    const RecordStats st = r.stats();
    RunMeta m;
    m.tasks = st.seen + st.lost;
    m.recorded = st.rows;
    m.sampling = st.sampling;
    m.lost = st.lost;
    m.totals = r.totals();
    return m;
}

void applyRunMeta(RunRecord& r, const RunMeta& m)
{
    RunTotals t = m.totals;
    t.tasks = m.tasks - std::min(m.lost, m.tasks);
    r.setRecordedRun(t, t.tasks, m.sampling, m.lost);
}

TraceLanes layoutLanes(const TraceData& d)
{
    const RunRecord& rec = *d.record;
    QMap<int, const TraceWorker*> workers; // sorted by index
    for (const auto& w : d.workers)
        workers.insert(w.index, &w);
    const QList<qint32> recWorkers = rec.workers();
    for (qint32 w : recWorkers) {
        if (!workers.contains(w))
            workers.insert(w, nullptr);
    }

    TraceLanes out;
    out.laneOfRow.assign(std::size_t(rec.size()), 0);
    // Per worker: interval partitioning. Rows in start order (one task at a
    // time: usually so already) each take the lane that frees up first, or
    // a new lane if none is free at their start. Lanes never hold
    // overlapping slices; the lane count is the worker's peak overlap.
    QHash<int, quint32> laneCount;
    std::vector<quint32> localLane(std::size_t(rec.size()), 0);
    for (qint32 w : recWorkers) {
        std::vector<quint32> idx = *rec.laneRows(w);
        auto before = [&](quint32 a, quint32 b) {
            const qint64 sa = rec.startNs(a), sb = rec.startNs(b);
            if (sa != sb)
                return sa < sb;
            return rec.endNs(a) > rec.endNs(b);
        };
        if (!std::is_sorted(idx.begin(), idx.end(), before))
            std::sort(idx.begin(), idx.end(), before);
        using Free = std::pair<qint64, quint32>; // (end of last slice, lane)
        std::priority_queue<Free, std::vector<Free>, std::greater<>> lanesByEnd;
        quint32 used = 0;
        for (quint32 r : idx) {
            const qint64 start = rec.startNs(r);
            quint32 lane;
            if (!lanesByEnd.empty() && lanesByEnd.top().first <= start) {
                lane = lanesByEnd.top().second;
                lanesByEnd.pop();
            } else {
                lane = used++;
            }
            lanesByEnd.push({std::max(start, rec.endNs(r)), lane});
            localLane[r] = lane;
        }
        laneCount.insert(w, std::max<quint32>(used, 1));
    }

    // Track order: by host, then rank (MPI pools), then worker index. Local
    // pools have neither, so their tracks stay in index order.
    std::vector<std::pair<int, const TraceWorker*>> order;
    order.reserve(std::size_t(workers.size()));
    for (auto it = workers.cbegin(); it != workers.cend(); ++it)
        order.emplace_back(it.key(), it.value());
    if (!d.places.isEmpty()) {
        std::stable_sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
            const TraceWorkerPlace pa = d.places.value(a.first);
            const TraceWorkerPlace pb = d.places.value(b.first);
            if (pa.host != pb.host)
                return pa.host < pb.host;
            return pa.rank < pb.rank;
        });
    }
    QHash<int, quint32> firstLane; // worker -> index of its first lane in out.lanes
    qint64 nextTid = kFirstWorkerTid;
    for (const auto& [index, info] : order) {
        const quint32 n = laneCount.value(index, 1);
        firstLane.insert(index, quint32(out.lanes.size()));
        for (quint32 l = 0; l < n; ++l)
            out.lanes.append(TraceLane{index, int(l), nextTid++, info});
    }
    // Tasks that ended while queued ran on no worker: a lane of their own
    // (zero-length slices at the moment they ended), after the workers'.
    quint32 neverStartedLane = 0;
    for (quint64 r = 0; r < rec.size(); ++r) {
        if (!rec.started(r)) {
            neverStartedLane = quint32(out.lanes.size());
            out.lanes.append(TraceLane{-1, 0, nextTid++, nullptr, true});
            break;
        }
    }
    qint32 lastWorker = INT32_MIN;
    quint32 base = 0;
    for (quint64 r = 0; r < rec.size(); ++r) {
        if (!rec.started(r)) {
            out.laneOfRow[std::size_t(r)] = neverStartedLane;
            continue;
        }
        const qint32 w = rec.worker(r);
        if (w != lastWorker) {
            base = firstLane.value(w);
            lastWorker = w;
        }
        out.laneOfRow[std::size_t(r)] = base + localLane[std::size_t(r)];
    }
    return out;
}

} // namespace detail

} // namespace poolscope
