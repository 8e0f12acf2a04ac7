// Perfetto's native trace format, written and read by hand.
//
// Why by hand (docs/architecture.md, "Traces at scale"): the trace needs six
// messages (Trace, TracePacket, TrackDescriptor with its process, thread and
// counter descriptors, TrackEvent, DebugAnnotation, InternedData), and the
// wire format is varints and length-prefixed bytes. libprotobuf with
// Perfetto's .proto files would add a build dependency and a code generator
// to every program that installs PoolScope::core for ~300 lines of encoder.
// Field numbers are those of Perfetto's protos/perfetto/trace/*.proto; a
// test decodes every written file with protoc and a schema of its own
// (tests/core/perfetto_subset.proto), an independent reader.

#include "poolscope/traceexport.h"

#include "tracelanes.h"

#include <QHash>
#include <QMap>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

namespace poolscope {

namespace {

// ---- field numbers (Perfetto protos)
namespace f {
constexpr int kTracePacket = 1; // Trace.packet
// TracePacket
constexpr int kTimestamp = 8;
constexpr int kSequenceId = 10; // trusted_packet_sequence_id
constexpr int kTrackEvent = 11;
constexpr int kInternedData = 12;
constexpr int kSequenceFlags = 13;
constexpr int kTrackDescriptor = 60;
// TrackDescriptor
constexpr int kUuid = 1;
constexpr int kTrackName = 2;
constexpr int kProcess = 3;
constexpr int kThread = 4;
constexpr int kParentUuid = 5;
constexpr int kCounter = 8;
// ProcessDescriptor / ThreadDescriptor
constexpr int kPid = 1;
constexpr int kTid = 2;
constexpr int kProcessName = 6;
constexpr int kThreadName = 5;
// TrackEvent
constexpr int kCategoryIids = 3;
constexpr int kDebugAnnotations = 4;
constexpr int kType = 9;
constexpr int kNameIid = 10;
constexpr int kTrackUuid = 11;
constexpr int kName = 23;
constexpr int kCounterValue = 30;
constexpr int kFlowIds = 47;
constexpr int kTerminatingFlowIds = 48;
// DebugAnnotation
constexpr int kAnnNameIid = 1;
constexpr int kAnnUint = 3;
constexpr int kAnnInt = 4;
constexpr int kAnnString = 6;
constexpr int kAnnName = 10;
constexpr int kAnnDictEntries = 11;
constexpr int kAnnArrayValues = 12;
// InternedData
constexpr int kEventCategories = 1;
constexpr int kEventNames = 2;
constexpr int kDebugAnnotationNames = 3;
// EventName / EventCategory / DebugAnnotationName
constexpr int kIid = 1;
constexpr int kInternedName = 2;
} // namespace f

constexpr int kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5;
constexpr quint64 kSliceBegin = 1, kSliceEnd = 2, kInstant = 3, kCounterEvent = 4;
constexpr quint64 kSeqCleared = 1, kSeqNeedsState = 2;
constexpr quint32 kSequence = 1;
constexpr quint64 kProcessTrack = 1, kSubmitterTrack = 2, kQueuedTrack = 3, kRunningTrack = 4,
                  kFirstLaneTrack = 100;
constexpr int kFormatVersion = 1;
const char* const kRunEvent = "poolscope.run";

// Interned debug annotation names (iid = index + 1).
enum Ann : quint64 {
    kAnnId = 1,
    kAnnWorker,
    kAnnCore,
    kAnnCpuNs,
    kAnnGilNs,
    kAnnQueuedNs,
    kAnnArgs,
    kAnnError,
    kAnnStarted,
    kAnnCount
};
const char* const kAnnNames[] = {
    "id", "worker", "core", "cpu_ns", "gil_wait_ns", "queued_wait_ns", "args", "error", "started"};
static_assert(sizeof(kAnnNames) / sizeof(kAnnNames[0]) == kAnnCount - 1);

// ------------------------------------------------------------------ encoding

/// Appends protobuf to one buffer. Nested messages are written in place:
/// open() leaves one byte for the length, close() fills it in (moving the
/// body when the length needs more bytes, which is rare: most messages here
/// are short). No allocation per message.
class Pb {
public:
    explicit Pb(std::string& out)
        : m_b(out)
    {}
    void varint(quint64 v)
    {
        char tmp[10];
        int n = 0;
        while (v >= 0x80) {
            tmp[n++] = char(quint8(v) | 0x80);
            v >>= 7;
        }
        tmp[n++] = char(v);
        m_b.append(tmp, std::size_t(n));
    }
    void tag(int field, int wire) { varint((quint64(field) << 3) | quint64(wire)); }
    void u(int field, quint64 v)
    {
        tag(field, kVarint);
        varint(v);
    }
    void i(int field, qint64 v) // int64: two's complement varint, not zigzag
    {
        tag(field, kVarint);
        varint(quint64(v));
    }
    void fixed64(int field, quint64 v)
    {
        tag(field, kFixed64);
        char tmp[8];
        for (int k = 0; k < 8; ++k)
            tmp[k] = char(quint8(v >> (8 * k)));
        m_b.append(tmp, 8);
    }
    void bytes(int field, const QByteArray& v)
    {
        tag(field, kLen);
        varint(quint64(v.size()));
        m_b.append(v.constData(), std::size_t(v.size()));
    }
    void str(int field, const QString& s) { bytes(field, s.toUtf8()); }
    void latin1(int field, const char* s)
    {
        const std::size_t n = std::strlen(s);
        tag(field, kLen);
        varint(quint64(n));
        m_b.append(s, n);
    }
    /// Starts a nested message; returns where its length goes.
    std::size_t open(int field)
    {
        tag(field, kLen);
        m_b.push_back('\0');
        return m_b.size();
    }
    void close(std::size_t bodyAt)
    {
        const quint64 len = quint64(m_b.size() - bodyAt);
        if (len < 0x80) {
            m_b[bodyAt - 1] = char(len);
            return;
        }
        char tmp[10];
        int n = 0;
        quint64 v = len;
        while (v >= 0x80) {
            tmp[n++] = char(quint8(v) | 0x80);
            v >>= 7;
        }
        tmp[n++] = char(v);
        m_b.insert(bodyAt, std::size_t(n - 1), '\0'); // room for the longer length
        std::memcpy(m_b.data() + bodyAt - 1, tmp, std::size_t(n));
    }

private:
    std::string& m_b;
};

struct Ev {
    qint64 ts;
    quint8 phase;  // order among events at one time stamp
    quint8 kind;   // 0 submit, 1 begin, 2 end, 3 counter
    quint32 index; // row, or counter sample
};

void writePerfetto(const TraceData& d, const std::function<bool(const std::string&)>& sink)
{
    const RunRecord& rec = *d.record;
    const detail::TraceLanes layout = detail::layoutLanes(d);

    // Time stamps go out relative to the earliest time in the trace (all
    // unsigned on the wire), which the metadata event carries back.
    qint64 base = d.originNs;
    for (quint64 r = 0; r < rec.size(); ++r) {
        const qint64 sub = rec.submitNs(r);
        base = std::min(base, sub > 0 ? sub : rec.startNs(r));
    }
    for (const auto& c : d.counters)
        base = std::min(base, c.timeNs);
    auto ts = [base](qint64 t) { return quint64(t - base); };

    std::string out;
    out.reserve(1 << 21);
    Pb pb(out);
    bool ok = true;
    auto flush = [&] {
        if (out.size() >= (1 << 20)) {
            ok = ok && sink(out);
            out.clear();
        }
    };
    // A packet of the sequence: Trace.packet { timestamp, sequence, ... }.
    auto beginPacket = [&](qint64 when, bool timed) {
        const std::size_t at = pb.open(f::kTracePacket);
        if (timed)
            pb.u(f::kTimestamp, ts(when));
        pb.u(f::kSequenceId, kSequence);
        return at;
    };
    auto endPacket = [&](std::size_t at) {
        pb.close(at);
        flush();
    };

    // ---- first packet of the sequence: interned names
    QHash<quint32, quint64> nameIid; // NameTable id -> iid
    {
        const std::size_t p = beginPacket(0, false);
        pb.u(f::kSequenceFlags, kSeqCleared);
        const std::size_t interned = pb.open(f::kInternedData);
        const char* const statuses[3] = {"succeeded", "failed", "cancelled"};
        for (int i = 0; i < 3; ++i) {
            const std::size_t c = pb.open(f::kEventCategories);
            pb.u(f::kIid, quint64(i + 1));
            pb.latin1(f::kInternedName, statuses[i]);
            pb.close(c);
        }
        quint64 next = 1;
        auto addName = [&](const QString& n) {
            const std::size_t e = pb.open(f::kEventNames);
            pb.u(f::kIid, next);
            pb.str(f::kInternedName, n);
            pb.close(e);
            return next++;
        };
        addName(QStringLiteral("submit")); // iid 1
        for (quint64 r = 0; r < rec.size(); ++r) {
            const quint32 n = rec.nameId(r);
            if (!nameIid.contains(n))
                nameIid.insert(n, addName(NameTable::name(n)));
        }
        for (quint64 a = 1; a < kAnnCount; ++a) {
            const std::size_t e = pb.open(f::kDebugAnnotationNames);
            pb.u(f::kIid, a);
            pb.latin1(f::kInternedName, kAnnNames[a - 1]);
            pb.close(e);
        }
        pb.close(interned);
        endPacket(p);
    }

    // ---- tracks
    {
        const std::size_t p = beginPacket(0, false);
        const std::size_t td = pb.open(f::kTrackDescriptor);
        pb.u(f::kUuid, kProcessTrack);
        const std::size_t proc = pb.open(f::kProcess);
        pb.i(f::kPid, 1);
        pb.str(f::kProcessName, d.poolKind.isEmpty()
                                    ? QStringLiteral("PoolScope pool")
                                    : QStringLiteral("PoolScope %1 pool").arg(d.poolKind));
        pb.close(proc);
        pb.close(td);
        endPacket(p);
    }
    auto threadTrack = [&](quint64 uuid, qint64 tid, const QString& name) {
        const std::size_t p = beginPacket(0, false);
        const std::size_t td = pb.open(f::kTrackDescriptor);
        pb.u(f::kUuid, uuid);
        pb.u(f::kParentUuid, kProcessTrack);
        const std::size_t th = pb.open(f::kThread);
        pb.i(f::kPid, 1);
        pb.i(f::kTid, tid);
        pb.str(f::kThreadName, name);
        pb.close(th);
        pb.close(td);
        endPacket(p);
    };
    threadTrack(kSubmitterTrack, 1, QStringLiteral("submitter"));
    for (qsizetype i = 0; i < layout.lanes.size(); ++i) {
        const auto& lane = layout.lanes[i];
        threadTrack(kFirstLaneTrack + quint64(i), lane.tid, detail::laneDisplayName(lane));
    }
    for (auto [uuid, name] :
         {std::pair{kQueuedTrack, "queued"}, std::pair{kRunningTrack, "running"}}) {
        const std::size_t p = beginPacket(0, false);
        const std::size_t td = pb.open(f::kTrackDescriptor);
        pb.u(f::kUuid, uuid);
        pb.u(f::kParentUuid, kProcessTrack);
        pb.latin1(f::kTrackName, name);
        pb.close(pb.open(f::kCounter));
        pb.close(td);
        endPacket(p);
    }

    // ---- the run's metadata, as the annotations of one instant event
    auto namedU = [&](const char* name, quint64 v) {
        const std::size_t a = pb.open(f::kDebugAnnotations);
        pb.latin1(f::kAnnName, name);
        pb.u(f::kAnnUint, v);
        pb.close(a);
    };
    auto namedI = [&](int field, const char* name, qint64 v) {
        const std::size_t a = pb.open(field);
        pb.latin1(f::kAnnName, name);
        pb.i(f::kAnnInt, v);
        pb.close(a);
    };
    auto namedS = [&](int field, const char* name, const QString& v) {
        const std::size_t a = pb.open(field);
        pb.latin1(f::kAnnName, name);
        pb.str(f::kAnnString, v);
        pb.close(a);
    };
    {
        const detail::RunMeta m = detail::runMeta(rec);
        const std::size_t p = beginPacket(d.originNs, true);
        pb.u(f::kSequenceFlags, kSeqNeedsState);
        const std::size_t ev = pb.open(f::kTrackEvent);
        pb.u(f::kType, kInstant);
        pb.u(f::kTrackUuid, kProcessTrack);
        pb.latin1(f::kName, kRunEvent);
        constexpr int A = f::kDebugAnnotations;
        namedS(A, "generator", QStringLiteral("PoolScope"));
        namedU("format", kFormatVersion);
        namedS(A, "title", d.title);
        namedS(A, "pool_kind", d.poolKind);
        namedI(A, "origin_ns", d.originNs);
        namedI(A, "base_ns", base);
        namedU("tasks", m.tasks);
        namedU("recorded", m.recorded);
        namedU("sampled_1_in", m.sampling);
        namedU("lost", m.lost);
        if (!rec.samplingNote().isEmpty())
            namedS(A, "note", rec.samplingNote());
        const RunTotals& t = m.totals;
        namedU("succeeded", t.succeeded);
        namedU("failed", t.failed);
        namedU("cancelled", t.cancelled);
        namedU("never_started", t.neverStarted);
        namedI(A, "first_ns", t.firstNs);
        namedI(A, "last_end_ns", t.lastEndNs);
        namedI(A, "queued_ns", t.queuedNs);
        namedI(A, "run_ns", t.runNs);
        namedI(A, "cpu_ns", t.cpuNs);
        namedU("cpu_tasks", t.cpuTasks);
        namedI(A, "cpu_run_ns", t.cpuRunNs);
        namedI(A, "gil_wait_ns", t.gilWaitNs);
        namedI(A, "waiting_ns", t.waitingNs);
        namedI(A, "unmeasured_ns", t.unmeasuredNs);
        // One dict per lane: which worker it shows, and where that worker ran.
        const std::size_t lanes = pb.open(A);
        pb.latin1(f::kAnnName, "lanes");
        for (qsizetype i = 0; i < layout.lanes.size(); ++i) {
            const auto& lane = layout.lanes[i];
            const std::size_t dict = pb.open(f::kAnnArrayValues);
            constexpr int E = f::kAnnDictEntries;
            namedI(E, "track", qint64(kFirstLaneTrack) + i);
            namedI(E, "worker", lane.worker);
            namedI(E, "lane", lane.lane);
            if (lane.info) {
                namedS(E, "worker_name", lane.info->name);
                namedI(E, "real_pid", lane.info->pid);
                namedI(E, "real_tid", lane.info->tid);
            }
            if (const auto place = d.places.constFind(lane.worker); place != d.places.cend()) {
                if (!place->host.isEmpty())
                    namedS(E, "host", place->host);
                if (place->rank >= 0)
                    namedI(E, "rank", place->rank);
            }
            pb.close(dict);
        }
        pb.close(lanes);
        pb.close(ev);
        endPacket(p);
    }

    // ---- events in time order. At one time stamp: instants and counters,
    // then ends, then begins (a task that starts as another ends on the
    // same lane), then the ends of zero-length slices (after their begins).
    std::vector<Ev> evs;
    evs.reserve(std::size_t(rec.size()) * 3 + std::size_t(d.counters.size()));
    for (quint64 r = 0; r < rec.size(); ++r) {
        const quint32 i = quint32(r);
        const qint64 start = rec.startNs(r);
        const qint64 end = std::max(start, rec.endNs(r));
        const qint64 sub = rec.submitNs(r);
        if (sub > 0)
            evs.push_back({sub, 0, 0, i});
        evs.push_back({start, 2, 1, i});
        evs.push_back({end, quint8(end == start ? 3 : 1), 2, i});
    }
    for (qsizetype c = 0; c < d.counters.size(); ++c)
        evs.push_back({d.counters[c].timeNs, 0, 3, quint32(c)});
    std::stable_sort(evs.begin(), evs.end(), [](const Ev& a, const Ev& b) {
        return a.ts != b.ts ? a.ts < b.ts : a.phase < b.phase;
    });

    auto annotationI = [&](Ann name, qint64 v) {
        const std::size_t a = pb.open(f::kDebugAnnotations);
        pb.u(f::kAnnNameIid, name);
        pb.i(f::kAnnInt, v);
        pb.close(a);
    };
    for (const Ev& e : evs) {
        if (e.kind == 3) {
            const TraceCounterSample& c = d.counters[e.index];
            for (auto [uuid, v] :
                 {std::pair{kQueuedTrack, c.queued}, std::pair{kRunningTrack, c.running}}) {
                const std::size_t p = beginPacket(c.timeNs, true);
                pb.u(f::kSequenceFlags, kSeqNeedsState);
                const std::size_t ev = pb.open(f::kTrackEvent);
                pb.u(f::kType, kCounterEvent);
                pb.u(f::kTrackUuid, uuid);
                pb.i(f::kCounterValue, v);
                pb.close(ev);
                endPacket(p);
            }
            continue;
        }
        const quint64 r = e.index;
        const std::size_t p = beginPacket(e.ts, true);
        pb.u(f::kSequenceFlags, kSeqNeedsState);
        const std::size_t ev = pb.open(f::kTrackEvent);
        if (e.kind == 0) { // submit instant, the flow's source
            pb.u(f::kType, kInstant);
            pb.u(f::kTrackUuid, kSubmitterTrack);
            pb.u(f::kNameIid, 1);
            pb.fixed64(f::kFlowIds, rec.taskId(r));
        } else if (e.kind == 1) {
            const TaskSpan s = rec.span(r);
            pb.u(f::kType, kSliceBegin);
            pb.u(f::kTrackUuid, kFirstLaneTrack + layout.laneOfRow[std::size_t(r)]);
            pb.u(f::kNameIid, nameIid.value(s.nameId));
            pb.u(f::kCategoryIids, quint64(s.status) + 1);
            {
                const std::size_t a = pb.open(f::kDebugAnnotations);
                pb.u(f::kAnnNameIid, kAnnId);
                pb.u(f::kAnnUint, s.taskId);
                pb.close(a);
            }
            annotationI(kAnnWorker, s.worker);
            annotationI(kAnnCore, s.core);
            if (s.cpuNs >= 0)
                annotationI(kAnnCpuNs, s.cpuNs);
            if (s.gilWaitNs > 0)
                annotationI(kAnnGilNs, s.gilWaitNs);
            if (s.enqueueNs > 0) {
                annotationI(kAnnQueuedNs, s.startNs - s.enqueueNs);
                pb.fixed64(f::kTerminatingFlowIds, s.taskId);
            }
            if (!s.started)
                annotationI(kAnnStarted, 0); // cancelled or failed while queued
            if (rec.hasTexts(r)) {
                const QString args = rec.args(r);
                const QString error = rec.error(r);
                for (auto [name, text] :
                     {std::pair{kAnnArgs, &args}, std::pair{kAnnError, &error}}) {
                    if (text->isEmpty())
                        continue;
                    const std::size_t a = pb.open(f::kDebugAnnotations);
                    pb.u(f::kAnnNameIid, name);
                    pb.str(f::kAnnString, *text);
                    pb.close(a);
                }
            }
        } else {
            pb.u(f::kType, kSliceEnd);
            pb.u(f::kTrackUuid, kFirstLaneTrack + layout.laneOfRow[std::size_t(r)]);
        }
        pb.close(ev);
        endPacket(p);
    }
    if (ok && !out.empty())
        ok = sink(out);
}

// ------------------------------------------------------------------ decoding

/// A bounds-checked view of protobuf bytes.
class PbIn {
public:
    PbIn(const char* p, const char* end)
        : m_p(p)
        , m_end(end)
    {}
    bool atEnd() const { return m_p >= m_end; }
    bool varint(quint64* v)
    {
        quint64 r = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (m_p >= m_end)
                return false;
            const quint8 b = quint8(*m_p++);
            r |= quint64(b & 0x7F) << shift;
            if (!(b & 0x80)) {
                *v = r;
                return true;
            }
        }
        return false; // more than 10 bytes
    }
    /// Next field: number, wire type; for kLen the payload in *sub, for
    /// varint/fixed the value in *v. False at a malformed field.
    bool next(int* field, int* wire, quint64* v, PbIn* sub)
    {
        quint64 key = 0;
        if (!varint(&key))
            return false;
        *field = int(key >> 3);
        *wire = int(key & 7);
        if (*field == 0 || key >> 3 > (quint64(1) << 29))
            return false;
        switch (*wire) {
        case kVarint:
            return varint(v);
        case kFixed64:
            if (m_end - m_p < 8)
                return false;
            *v = 0;
            for (int k = 0; k < 8; ++k)
                *v |= quint64(quint8(m_p[k])) << (8 * k);
            m_p += 8;
            return true;
        case kFixed32:
            if (m_end - m_p < 4)
                return false;
            *v = 0;
            for (int k = 0; k < 4; ++k)
                *v |= quint64(quint8(m_p[k])) << (8 * k);
            m_p += 4;
            return true;
        case kLen: {
            quint64 n = 0;
            if (!varint(&n) || n > quint64(m_end - m_p))
                return false;
            *sub = PbIn(m_p, m_p + n);
            m_p += n;
            return true;
        }
        default:
            return false; // groups (3, 4) and unknown wire types
        }
    }
    QString string() const { return QString::fromUtf8(m_p, qsizetype(m_end - m_p)).left(1024); }

private:
    const char* m_p;
    const char* m_end;
};

struct Annotation {
    QString name;
    quint64 nameIid = 0;
    bool isInt = false;
    bool isString = false;
    qint64 i = 0;
    QString s;
    std::vector<PbIn> arrayValues;
    std::vector<PbIn> dictEntries;
};

bool readAnnotation(PbIn in, Annotation* a)
{
    int field, wire;
    quint64 v;
    PbIn sub(nullptr, nullptr);
    while (!in.atEnd()) {
        if (!in.next(&field, &wire, &v, &sub))
            return false;
        if (field == f::kAnnNameIid && wire == kVarint)
            a->nameIid = v;
        else if (field == f::kAnnName && wire == kLen)
            a->name = sub.string();
        else if ((field == f::kAnnUint || field == f::kAnnInt) && wire == kVarint) {
            a->isInt = true;
            a->i = qint64(v);
        } else if (field == f::kAnnString && wire == kLen) {
            a->isString = true;
            a->s = sub.string();
        } else if (field == f::kAnnArrayValues && wire == kLen) {
            a->arrayValues.push_back(sub);
        } else if (field == f::kAnnDictEntries && wire == kLen) {
            a->dictEntries.push_back(sub);
        }
    }
    return true;
}

class PerfettoReader {
public:
    explicit PerfettoReader(QString* error)
        : m_error(error)
    {}
    std::optional<TraceData> read(QByteArrayView bytes);

private:
    struct Open {
        TaskSpan span;
        QString args;
        QString error;
        qint64 queuedNs = -1;
    };
    struct Track {
        QString name;
        qint64 tid = 0;
        bool thread = false;
        std::vector<Open> stack; // open slices (other tools may nest)
    };

    bool fail(const QString& why)
    {
        if (m_error)
            *m_error = why;
        return false;
    }
    bool packet(PbIn in, qsizetype index);
    bool trackDescriptor(PbIn in);
    bool internedData(PbIn in);
    bool trackEvent(PbIn in, quint64 ts, qsizetype index);
    bool runMeta(const std::vector<Annotation>& anns);

    QString* m_error;
    QHash<quint64, QString> m_names; // event name iid -> name
    QHash<quint64, QString> m_categories;
    QHash<quint64, QString> m_annNames; // debug annotation name iid -> name
    QHash<quint64, Track> m_tracks;
    QHash<quint64, int> m_laneWorker; // track uuid -> worker index (our traces)
    QMap<int, TraceWorker> m_workers;
    QHash<int, TraceWorkerPlace> m_places;
    std::vector<std::pair<TaskSpan, std::pair<QString, QString>>> m_spans; // with args, error
    QMap<qint64, TraceCounterSample> m_counters;
    std::optional<detail::RunMeta> m_meta;
    QString m_title;
    QString m_poolKind;
    qint64 m_origin = 0;
    qint64 m_base = 0;
    bool m_ours = false;
    qsizetype m_events = 0;
};

bool PerfettoReader::internedData(PbIn in)
{
    int field, wire;
    quint64 v;
    PbIn sub(nullptr, nullptr);
    while (!in.atEnd()) {
        if (!in.next(&field, &wire, &v, &sub))
            return fail(QStringLiteral("malformed interned data"));
        if (wire != kLen
            || (field != f::kEventNames && field != f::kEventCategories
                && field != f::kDebugAnnotationNames))
            continue;
        quint64 iid = 0;
        QString name;
        int f2, w2;
        quint64 v2;
        PbIn s2(nullptr, nullptr);
        while (!sub.atEnd()) {
            if (!sub.next(&f2, &w2, &v2, &s2))
                return fail(QStringLiteral("malformed interned name"));
            if (f2 == f::kIid && w2 == kVarint)
                iid = v2;
            else if (f2 == f::kInternedName && w2 == kLen)
                name = s2.string();
        }
        if (m_names.size() + m_categories.size() + m_annNames.size() > kMaxTraceEvents)
            return fail(QStringLiteral("too many interned names"));
        (field == f::kEventNames        ? m_names
         : field == f::kEventCategories ? m_categories
                                        : m_annNames)
            .insert(iid, name);
    }
    return true;
}

bool PerfettoReader::trackDescriptor(PbIn in)
{
    int field, wire;
    quint64 v;
    PbIn sub(nullptr, nullptr);
    quint64 uuid = 0;
    Track t;
    while (!in.atEnd()) {
        if (!in.next(&field, &wire, &v, &sub))
            return fail(QStringLiteral("malformed track descriptor"));
        if (field == f::kUuid && wire == kVarint) {
            uuid = v;
        } else if (field == f::kTrackName && wire == kLen) {
            t.name = sub.string();
        } else if (field == f::kThread && wire == kLen) {
            t.thread = true;
            int f2, w2;
            quint64 v2;
            PbIn s2(nullptr, nullptr);
            while (!sub.atEnd()) {
                if (!sub.next(&f2, &w2, &v2, &s2))
                    return fail(QStringLiteral("malformed thread descriptor"));
                if (f2 == f::kTid && w2 == kVarint)
                    t.tid = qint64(v2);
                else if (f2 == f::kThreadName && w2 == kLen && t.name.isEmpty())
                    t.name = s2.string();
            }
        } else if (field == f::kProcess && wire == kLen) {
            int f2, w2;
            quint64 v2;
            PbIn s2(nullptr, nullptr);
            while (!sub.atEnd()) {
                if (!sub.next(&f2, &w2, &v2, &s2))
                    return fail(QStringLiteral("malformed process descriptor"));
                if (f2 == f::kProcessName && w2 == kLen && m_poolKind.isEmpty() && t.name.isEmpty())
                    t.name = s2.string();
            }
        }
    }
    if (m_tracks.size() > 1'000'000)
        return fail(QStringLiteral("too many tracks"));
    m_tracks.insert(uuid, t);
    return true;
}

bool PerfettoReader::runMeta(const std::vector<Annotation>& anns)
{
    m_ours = true;
    detail::RunMeta m;
    bool haveTasks = false;
    for (const Annotation& a : anns) {
        const QString& n = a.name;
        auto u = [&](quint64* out) {
            if (!a.isInt || a.i < 0)
                return false;
            *out = quint64(a.i);
            return true;
        };
        bool ok = true;
        if (n == QLatin1String("title"))
            m_title = a.s;
        else if (n == QLatin1String("pool_kind"))
            m_poolKind = a.s;
        else if (n == QLatin1String("origin_ns"))
            m_origin = a.i;
        else if (n == QLatin1String("base_ns"))
            m_base = a.i;
        else if (n == QLatin1String("tasks"))
            ok = haveTasks = u(&m.tasks);
        else if (n == QLatin1String("sampled_1_in"))
            ok = u(&m.sampling) && m.sampling >= 1;
        else if (n == QLatin1String("lost"))
            ok = u(&m.lost);
        else if (n == QLatin1String("succeeded"))
            ok = u(&m.totals.succeeded);
        else if (n == QLatin1String("failed"))
            ok = u(&m.totals.failed);
        else if (n == QLatin1String("cancelled"))
            ok = u(&m.totals.cancelled);
        else if (n == QLatin1String("never_started"))
            ok = u(&m.totals.neverStarted);
        else if (n == QLatin1String("cpu_tasks"))
            ok = u(&m.totals.cpuTasks);
        else if (n == QLatin1String("first_ns"))
            m.totals.firstNs = a.i;
        else if (n == QLatin1String("last_end_ns"))
            m.totals.lastEndNs = a.i;
        else if (n == QLatin1String("queued_ns"))
            m.totals.queuedNs = a.i;
        else if (n == QLatin1String("run_ns"))
            m.totals.runNs = a.i;
        else if (n == QLatin1String("cpu_ns"))
            m.totals.cpuNs = a.i;
        else if (n == QLatin1String("cpu_run_ns"))
            m.totals.cpuRunNs = a.i;
        else if (n == QLatin1String("gil_wait_ns"))
            m.totals.gilWaitNs = a.i;
        else if (n == QLatin1String("lanes")) {
            for (const PbIn& dict : a.arrayValues) {
                Annotation d;
                if (!readAnnotation(dict, &d))
                    return fail(QStringLiteral("malformed lane description"));
                quint64 track = 0;
                qint64 worker = -1, lane = 0, rank = -1;
                TraceWorker tw;
                QString host;
                bool named = false, placed = false;
                for (const PbIn& entry : d.dictEntries) {
                    Annotation e;
                    if (!readAnnotation(entry, &e))
                        return fail(QStringLiteral("malformed lane description"));
                    if (e.name == QLatin1String("track"))
                        track = quint64(e.i);
                    else if (e.name == QLatin1String("worker"))
                        worker = e.i;
                    else if (e.name == QLatin1String("lane"))
                        lane = e.i;
                    else if (e.name == QLatin1String("worker_name")) {
                        tw.name = e.s;
                        named = true;
                    } else if (e.name == QLatin1String("real_pid"))
                        tw.pid = e.i;
                    else if (e.name == QLatin1String("real_tid"))
                        tw.tid = e.i;
                    else if (e.name == QLatin1String("host")) {
                        host = e.s;
                        placed = true;
                    } else if (e.name == QLatin1String("rank")) {
                        rank = e.i;
                        placed = true;
                    }
                }
                if (worker < INT_MIN || worker > INT_MAX || rank < -1 || rank > INT_MAX)
                    return fail(QStringLiteral("lane description out of range"));
                m_laneWorker.insert(track, int(worker));
                if (lane == 0 && named) {
                    tw.index = int(worker);
                    m_workers.insert(tw.index, tw);
                    if (placed)
                        m_places.insert(tw.index, TraceWorkerPlace{host, int(rank)});
                }
            }
        }
        if (!ok)
            return fail(QStringLiteral("malformed run summary (%1)").arg(n));
    }
    if (haveTasks) {
        if (m.lost > m.tasks)
            return fail(QStringLiteral("malformed run summary (lost > tasks)"));
        m_meta = m;
    }
    return true;
}

bool PerfettoReader::trackEvent(PbIn in, quint64 ts, qsizetype index)
{
    int field, wire;
    quint64 v;
    PbIn sub(nullptr, nullptr);
    quint64 type = 0, trackUuid = 0, nameIid = 0, category = 0;
    qint64 counter = 0;
    bool haveCategory = false;
    QString name;
    std::vector<Annotation> anns;
    while (!in.atEnd()) {
        if (!in.next(&field, &wire, &v, &sub))
            return fail(QStringLiteral("packet %1: malformed track event").arg(index));
        if (field == f::kType && wire == kVarint)
            type = v;
        else if (field == f::kTrackUuid && wire == kVarint)
            trackUuid = v;
        else if (field == f::kNameIid && wire == kVarint)
            nameIid = v;
        else if (field == f::kName && wire == kLen)
            name = sub.string();
        else if (field == f::kCategoryIids && wire == kVarint && !haveCategory) {
            category = v;
            haveCategory = true;
        } else if (field == f::kCounterValue && wire == kVarint)
            counter = qint64(v);
        else if (field == f::kDebugAnnotations && wire == kLen) {
            if (anns.size() > 64)
                continue;
            Annotation a;
            if (!readAnnotation(sub, &a))
                return fail(QStringLiteral("packet %1: malformed debug annotation").arg(index));
            if (a.name.isEmpty())
                a.name = m_annNames.value(a.nameIid);
            anns.push_back(std::move(a));
        }
    }
    if (name.isEmpty() && nameIid)
        name = m_names.value(nameIid);
    if (type == kInstant && name == QLatin1String(kRunEvent))
        return runMeta(anns);
    const qint64 t = qint64(ts);
    if (type == kCounterEvent) {
        const QString tn = m_tracks.value(trackUuid).name;
        if (tn == QLatin1String("queued") || tn == QLatin1String("running")) {
            TraceCounterSample& c = m_counters[t];
            c.timeNs = t;
            (tn == QLatin1String("queued") ? c.queued : c.running) = counter;
        }
        return true;
    }
    if (type == kSliceBegin) {
        if (++m_events > kMaxTraceEvents)
            return fail(QStringLiteral("trace has more than %1 events").arg(kMaxTraceEvents));
        Track& tr = m_tracks[trackUuid];
        if (tr.stack.size() > 1024)
            return fail(QStringLiteral("packet %1: slices nested deeper than 1024").arg(index));
        Open o;
        o.span.startNs = t;
        o.span.nameId = NameTable::intern(name.left(1024));
        const QString cat = m_categories.value(category);
        o.span.status = cat == QLatin1String("failed")      ? TaskStatus::Failed
                        : cat == QLatin1String("cancelled") ? TaskStatus::Cancelled
                                                            : TaskStatus::Succeeded;
        for (const Annotation& a : anns) {
            if (a.name == QLatin1String("id") && a.isInt)
                o.span.taskId = quint64(a.i);
            else if (a.name == QLatin1String("core") && a.isInt)
                o.span.core = qint16(std::clamp<qint64>(a.i, -1, 32767));
            else if (a.name == QLatin1String("cpu_ns") && a.isInt && a.i >= 0)
                o.span.cpuNs = a.i;
            else if (a.name == QLatin1String("gil_wait_ns") && a.isInt && a.i >= 0)
                o.span.gilWaitNs = a.i;
            else if (a.name == QLatin1String("queued_wait_ns") && a.isInt && a.i >= 0)
                o.queuedNs = a.i;
            else if (a.name == QLatin1String("args") && a.isString)
                o.args = a.s;
            else if (a.name == QLatin1String("error") && a.isString)
                o.error = a.s;
            else if (a.name == QLatin1String("started") && a.isInt)
                o.span.started = a.i != 0;
        }
        tr.stack.push_back(std::move(o));
        return true;
    }
    if (type == kSliceEnd) {
        auto it = m_tracks.find(trackUuid);
        if (it == m_tracks.end() || it->stack.empty())
            return true; // an end without a begin (a trace cut at its start)
        Open o = std::move(it->stack.back());
        it->stack.pop_back();
        o.span.endNs = std::max(t, o.span.startNs);
        o.span.worker = m_laneWorker.value(trackUuid, -1);
        // The queue wait stays relative until the times are rebased (read()).
        o.span.enqueueNs = o.queuedNs >= 0 ? o.queuedNs : -1;
        m_spans.push_back({o.span, {std::move(o.args), std::move(o.error)}});
        return true;
    }
    return true; // instants (submits: the queue wait is an annotation) and others
}

bool PerfettoReader::packet(PbIn in, qsizetype index)
{
    int field, wire;
    quint64 v;
    PbIn sub(nullptr, nullptr);
    quint64 ts = 0;
    std::optional<PbIn> event, descriptor, interned;
    while (!in.atEnd()) {
        if (!in.next(&field, &wire, &v, &sub))
            return fail(QStringLiteral("packet %1 is malformed").arg(index));
        if (field == f::kTimestamp && wire == kVarint)
            ts = v;
        else if (field == f::kTrackEvent && wire == kLen)
            event = sub;
        else if (field == f::kTrackDescriptor && wire == kLen)
            descriptor = sub;
        else if (field == f::kInternedData && wire == kLen)
            interned = sub;
    }
    if (ts > quint64(1) << 62)
        return fail(QStringLiteral("packet %1: time stamp out of range").arg(index));
    // Interned data first: it may name the packet's own event.
    if (interned && !internedData(*interned))
        return false;
    if (descriptor && !trackDescriptor(*descriptor))
        return false;
    if (event && !trackEvent(*event, ts, index))
        return false;
    return true;
}

std::optional<TraceData> PerfettoReader::read(QByteArrayView bytes)
{
    if (bytes.isEmpty()) {
        fail(QStringLiteral("empty input: not a trace"));
        return std::nullopt;
    }
    PbIn in(bytes.data(), bytes.data() + bytes.size());
    int field, wire;
    quint64 v;
    PbIn sub(nullptr, nullptr);
    qsizetype index = 0;
    while (!in.atEnd()) {
        if (!in.next(&field, &wire, &v, &sub) || field != f::kTracePacket || wire != kLen) {
            fail(QStringLiteral("not a Perfetto trace: packet %1 is malformed").arg(index));
            return std::nullopt;
        }
        if (!packet(sub, index++))
            return std::nullopt;
    }

    TraceData out;
    out.title = m_title;
    out.poolKind = m_poolKind;
    // Our traces: times back to monotonic ns. Others: as written.
    const qint64 base = m_ours ? m_base : 0;
    out.originNs = m_ours ? m_origin : 0;
    out.workers = m_workers.values();
    out.places = m_places;
    for (auto it = m_counters.cbegin(); it != m_counters.cend(); ++it) {
        TraceCounterSample c = it.value();
        c.timeNs += base;
        out.counters.append(c);
    }
    out.record = std::make_shared<RunRecord>(std::clamp<quint64>(
        quint64(m_spans.size()), RunRecord::kDefaultLimit, RunRecord::kMaxLimit));
    for (auto& [span, texts] : m_spans) {
        span.startNs += base;
        span.endNs += base;
        span.enqueueNs = span.enqueueNs >= 0 ? span.startNs - span.enqueueNs : 0;
        out.record->add(span, texts.first, {}, texts.second);
    }
    if (m_meta)
        detail::applyRunMeta(*out.record, *m_meta);
    if (m_error)
        m_error->clear();
    return out;
}

} // namespace

QByteArray toPerfettoTrace(const TraceData& data)
{
    QByteArray all;
    all.reserve(qsizetype(4096 + data.size() * 130));
    writePerfetto(data, [&](const std::string& b) {
        all.append(b.data(), qsizetype(b.size()));
        return true;
    });
    return all;
}

bool writePerfettoTrace(const QString& path, const TraceData& data, QString* error)
{
    return detail::saveBytes(path, "trace", error, [&](QIODevice& dev) {
        bool ok = true;
        writePerfetto(data, [&](const std::string& b) {
            ok = ok && dev.write(b.data(), qsizetype(b.size())) == qsizetype(b.size());
            return ok;
        });
        return ok;
    });
}

std::optional<TraceData> readPerfettoTrace(QByteArrayView bytes, QString* error)
{
    PerfettoReader r(error);
    return r.read(bytes);
}

} // namespace poolscope
