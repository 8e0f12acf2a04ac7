#include "poolscope/protocol.h"

#include <climits>

#include <QCborStreamReader>
#include <QtEndian>

namespace poolscope::protocol {

namespace {
const char* const kTypeNames[] = {"hello",   "run",      "exit",   "ready", "init_failed",
                                  "started", "progress", "result", "skip",  "skipped"};

std::optional<MsgType> typeFromName(const QString& s)
{
    for (int i = 0; i < int(std::size(kTypeNames)); ++i) {
        if (s == QLatin1String(kTypeNames[i]))
            return MsgType(i);
    }
    return std::nullopt;
}

bool isFromWorker(MsgType t)
{
    return t == MsgType::Ready || t == MsgType::InitFailed || t == MsgType::Started
           || t == MsgType::Progress || t == MsgType::Result || t == MsgType::Skipped;
}

// Keys are short on purpose: they are on every frame.
const QString kV = QStringLiteral("v");
const QString kT = QStringLiteral("t");
const QString kId = QStringLiteral("id");
const QString kWorker = QStringLiteral("worker");
const QString kPid = QStringLiteral("pid");
const QString kName = QStringLiteral("name");
const QString kArgs = QStringLiteral("args");
const QString kBatch = QStringLiteral("batch");
const QString kInit = QStringLiteral("init");
const QString kOk = QStringLiteral("ok");
const QString kValue = QStringLiteral("value");
const QString kError = QStringLiteral("error");
const QString kErrType = QStringLiteral("type");
const QString kErrText = QStringLiteral("message");
const QString kProgress = QStringLiteral("value");
const QString kMax = QStringLiteral("max");
const QString kCpu = QStringLiteral("cpu_ns");
const QString kCore = QStringLiteral("core");
const QString kRss = QStringLiteral("rss");
const QString kGates = QStringLiteral("gates");
const QString kGate = QStringLiteral("gate");
const QString kFd = QStringLiteral("fd");
const QString kCount = QStringLiteral("count");

QCborMap errorMap(const QString& type, const QString& text)
{
    QCborMap e;
    e.insert(kErrType, type);
    e.insert(kErrText, text);
    return e;
}
} // namespace

const char* nameOf(MsgType t) noexcept
{
    const int i = int(t);
    return i >= 0 && i < int(std::size(kTypeNames)) ? kTypeNames[i] : "?";
}

QByteArray encode(const Message& m)
{
    QCborMap map;
    map.insert(kV, kVersion);
    map.insert(kT, QLatin1String(nameOf(m.type)));
    switch (m.type) {
    case MsgType::Hello:
        map.insert(kWorker, m.worker);
        if (m.hasInit) {
            QCborMap init;
            init.insert(kName, m.name);
            init.insert(kArgs, m.args);
            map.insert(kInit, init);
        }
        if (m.gatesFd >= 0) {
            QCborMap g;
            g.insert(kFd, m.gatesFd);
            g.insert(kCount, qint64(m.gatesCount));
            map.insert(kGates, g);
        }
        break;
    case MsgType::Run:
        map.insert(kId, qint64(m.id));
        map.insert(kName, m.name);
        map.insert(kArgs, m.args);
        if (m.batch)
            map.insert(kBatch, true);
        if (m.gate >= 0)
            map.insert(kGate, m.gate);
        break;
    case MsgType::Exit:
        break;
    case MsgType::Skip:
    case MsgType::Skipped:
        map.insert(kId, qint64(m.id));
        break;
    case MsgType::Ready:
        map.insert(kPid, m.pid);
        if (m.gatesMapped)
            map.insert(kGates, true);
        break;
    case MsgType::InitFailed:
        map.insert(kError, errorMap(m.errorType, m.errorText));
        break;
    case MsgType::Started:
        map.insert(kId, qint64(m.id));
        map.insert(kCore, m.core);
        break;
    case MsgType::Progress:
        map.insert(kId, qint64(m.id));
        map.insert(kProgress, m.progressValue);
        map.insert(kMax, m.progressMax);
        break;
    case MsgType::Result:
        map.insert(kId, qint64(m.id));
        map.insert(kOk, m.ok);
        if (m.ok)
            map.insert(kValue, m.value);
        else
            map.insert(kError, errorMap(m.errorType, m.errorText));
        map.insert(kCpu, m.cpuNs);
        map.insert(kCore, m.core);
        map.insert(kRss, m.rssBytes);
        break;
    }
    const QByteArray payload = map.toCborValue().toCbor();
    QByteArray frame(4, Qt::Uninitialized);
    qToBigEndian<quint32>(quint32(payload.size()), frame.data());
    frame.append(payload);
    return frame;
}

void FrameReader::feed(QByteArrayView bytes)
{
    if (!m_error.isEmpty())
        return;
    // Compact once the consumed prefix dominates, so the buffer stays small.
    if (m_pos > 0 && m_pos * 2 >= m_buf.size()) {
        m_buf.remove(0, m_pos);
        m_pos = 0;
    }
    m_buf.append(bytes.data(), bytes.size());
}

FrameReader::Status FrameReader::next(QByteArray* payload, QString* error)
{
    if (!m_error.isEmpty()) {
        if (error)
            *error = m_error;
        return Status::Error;
    }
    if (buffered() < 4)
        return Status::NeedMore;
    const quint32 len = qFromBigEndian<quint32>(m_buf.constData() + m_pos);
    if (len == 0) {
        m_error = QStringLiteral("empty frame (length 0)");
    } else if (qsizetype(len) > m_max) {
        m_error =
            QStringLiteral("oversized frame: %1 bytes announced, limit %2").arg(len).arg(m_max);
    }
    if (!m_error.isEmpty()) {
        if (error)
            *error = m_error;
        return Status::Error;
    }
    if (buffered() - 4 < qsizetype(len))
        return Status::NeedMore;
    if (payload)
        *payload = m_buf.mid(m_pos + 4, len);
    m_pos += 4 + qsizetype(len);
    if (m_pos == m_buf.size()) {
        m_buf.clear();
        m_pos = 0;
    }
    return Status::Frame;
}

namespace {
struct Checker {
    const QCborMap& map;
    QString* error;
    bool ok = true;

    bool fail(const QString& why)
    {
        if (ok && error)
            *error = why;
        ok = false;
        return false;
    }
    std::optional<qint64> integer(const QString& key, bool required = true)
    {
        const QCborValue v = map.value(key);
        if (v.isUndefined()) {
            if (required)
                fail(QStringLiteral("missing field '%1'").arg(key));
            return std::nullopt;
        }
        if (!v.isInteger()) {
            fail(QStringLiteral("field '%1' must be an integer").arg(key));
            return std::nullopt;
        }
        return v.toInteger();
    }
    QString string(const QString& key)
    {
        const QCborValue v = map.value(key);
        if (!v.isString()) {
            fail(QStringLiteral("field '%1' must be a string").arg(key));
            return {};
        }
        return v.toString();
    }
    QCborArray array(const QCborMap& from, const QString& key)
    {
        const QCborValue v = from.value(key);
        if (!v.isArray()) {
            fail(QStringLiteral("field '%1' must be an array").arg(key));
            return {};
        }
        return v.toArray();
    }
};
} // namespace

std::optional<Message> decode(QByteArrayView payload, bool fromWorker, QString* error)
{
    QCborParserError perr;
    const QCborValue root = QCborValue::fromCbor(payload.toByteArray(), &perr);
    if (perr.error != QCborError::NoError) {
        if (error)
            *error = QStringLiteral("payload is not valid CBOR: %1").arg(perr.errorString());
        return std::nullopt;
    }
    if (!root.isMap()) {
        if (error)
            *error = QStringLiteral("payload is not a CBOR map");
        return std::nullopt;
    }
    const QCborMap map = root.toMap();
    Checker c{map, error};
    const auto version = c.integer(kV);
    if (!c.ok)
        return std::nullopt;
    if (*version != kVersion) {
        c.fail(QStringLiteral("protocol version %1, expected %2").arg(*version).arg(kVersion));
        return std::nullopt;
    }
    const QString typeName = c.string(kT);
    if (!c.ok)
        return std::nullopt;
    const auto type = typeFromName(typeName);
    if (!type) {
        c.fail(QStringLiteral("unknown message type '%1'").arg(typeName.left(40)));
        return std::nullopt;
    }
    if (isFromWorker(*type) != fromWorker) {
        c.fail(QStringLiteral("message type '%1' is not legal in this direction").arg(typeName));
        return std::nullopt;
    }
    Message m;
    m.type = *type;
    auto readId = [&] {
        if (auto id = c.integer(kId)) {
            if (*id <= 0)
                c.fail(QStringLiteral("field 'id' must be positive"));
            m.id = quint64(*id);
        }
    };
    auto readError = [&] {
        const QCborValue e = map.value(kError);
        if (!e.isMap()) {
            c.fail(QStringLiteral("field 'error' must be a map"));
            return;
        }
        Checker ec{e.toMap(), error};
        m.errorType = ec.string(kErrType);
        m.errorText = ec.string(kErrText);
        if (!ec.ok)
            c.ok = false;
    };
    switch (m.type) {
    case MsgType::Hello: {
        if (auto w = c.integer(kWorker))
            m.worker = int(*w);
        const QCborValue init = map.value(kInit);
        if (!init.isUndefined()) {
            if (!init.isMap()) {
                c.fail(QStringLiteral("field 'init' must be a map"));
                break;
            }
            Checker ic{init.toMap(), error};
            m.hasInit = true;
            m.name = ic.string(kName);
            m.args = ic.array(init.toMap(), kArgs);
            if (!ic.ok)
                c.ok = false;
        }
        const QCborValue gates = map.value(kGates);
        if (c.ok && !gates.isUndefined()) {
            if (!gates.isMap()) {
                c.fail(QStringLiteral("field 'gates' must be a map"));
                break;
            }
            Checker gc{gates.toMap(), error};
            const auto fd = gc.integer(kFd);
            const auto count = gc.integer(kCount);
            if (!gc.ok) {
                c.ok = false;
            } else if (*fd < 0 || *fd > INT_MAX) {
                c.fail(QStringLiteral("field 'gates.fd' must be a file descriptor"));
            } else if (*count <= 0 || *count > kMaxGates) {
                c.fail(QStringLiteral("field 'gates.count' must be 1..%1").arg(kMaxGates));
            } else {
                m.gatesFd = int(*fd);
                m.gatesCount = quint32(*count);
            }
        }
        break;
    }
    case MsgType::Run: {
        readId();
        m.name = c.string(kName);
        m.args = c.array(map, kArgs);
        const QCborValue b = map.value(kBatch);
        if (!b.isUndefined() && !b.isBool())
            c.fail(QStringLiteral("field 'batch' must be a boolean"));
        m.batch = b.toBool(false);
        if (c.ok && m.batch) {
            for (const auto& item : m.args) {
                if (!item.isArray()) {
                    c.fail(QStringLiteral("batch items must be argument arrays"));
                    break;
                }
            }
        }
        if (auto g = c.integer(kGate, /*required=*/false)) {
            if (*g < 0 || *g >= kMaxGates)
                c.fail(QStringLiteral("field 'gate' must be 0..%1").arg(kMaxGates - 1));
            else
                m.gate = *g;
        }
        break;
    }
    case MsgType::Exit:
        break;
    case MsgType::Skip:
    case MsgType::Skipped:
        readId();
        break;
    case MsgType::Ready:
        if (auto pid = c.integer(kPid)) {
            if (*pid <= 0)
                c.fail(QStringLiteral("field 'pid' must be positive"));
            m.pid = *pid;
        }
        if (const QCborValue g = map.value(kGates); !g.isUndefined()) {
            if (!g.isBool())
                c.fail(QStringLiteral("field 'gates' must be a boolean"));
            m.gatesMapped = g.toBool(false);
        }
        break;
    case MsgType::InitFailed:
        readError();
        break;
    case MsgType::Started:
        readId();
        if (auto core = c.integer(kCore))
            m.core = int(*core);
        break;
    case MsgType::Progress:
        readId();
        if (auto v = c.integer(kProgress))
            m.progressValue = *v;
        if (auto mx = c.integer(kMax))
            m.progressMax = *mx;
        break;
    case MsgType::Result: {
        readId();
        const QCborValue ok = map.value(kOk);
        if (!ok.isBool()) {
            c.fail(QStringLiteral("field 'ok' must be a boolean"));
            break;
        }
        m.ok = ok.toBool();
        if (m.ok) {
            if (!map.contains(kValue))
                c.fail(QStringLiteral("missing field 'value'"));
            m.value = map.value(kValue);
        } else {
            readError();
        }
        if (auto cpu = c.integer(kCpu, false))
            m.cpuNs = *cpu;
        if (auto core = c.integer(kCore, false))
            m.core = int(*core);
        if (auto rss = c.integer(kRss, false))
            m.rssBytes = *rss;
        break;
    }
    }
    if (!c.ok)
        return std::nullopt;
    return m;
}

} // namespace poolscope::protocol
