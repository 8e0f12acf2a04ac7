#include "poolscope/registry.h"
#include "poolscope/executor.h"

#include <QCborArray>
#include <QCborMap>
#include <QDebug>
#include <QHash>
#include <QLocale>
#include <QReadWriteLock>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>

namespace poolscope {

const char* nameOf(ArgKind k) noexcept
{
    switch (k) {
    case ArgKind::Integer:
        return "integer";
    case ArgKind::Double:
        return "number";
    case ArgKind::Bool:
        return "boolean";
    case ArgKind::String:
        return "string";
    case ArgKind::Bytes:
        return "bytes";
    case ArgKind::Array:
        return "array";
    case ArgKind::Map:
        return "map";
    case ArgKind::Any:
        return "any value";
    }
    return "?";
}

namespace {
const char* cborTypeName(const QCborValue& v)
{
    if (v.isInteger())
        return "integer";
    if (v.isDouble())
        return "number";
    if (v.isBool())
        return "boolean";
    if (v.isString())
        return "string";
    if (v.isByteArray())
        return "bytes";
    if (v.isArray())
        return "array";
    if (v.isMap())
        return "map";
    if (v.isNull())
        return "null";
    if (v.isUndefined())
        return "undefined";
    return "other CBOR value";
}
} // namespace

struct TaskRegistry::Impl {
    mutable QReadWriteLock lock;
    QHash<QString, std::shared_ptr<const TaskInfo>> byName;
    QHash<const void*, std::shared_ptr<const TaskInfo>> byAddress;
    QStringList order;
};

TaskRegistry::Impl* TaskRegistry::d()
{
    static Impl impl;
    return &impl;
}

TaskRegistry& TaskRegistry::global()
{
    static TaskRegistry r;
    static std::once_flag builtins;
    std::call_once(builtins, [] { registerBuiltinWorkloads(r); });
    return r;
}

bool TaskRegistry::add(TaskInfo info)
{
    if (info.name.isEmpty() || !info.invoke) {
        qWarning("poolscope: cannot register a task without a name or a function");
        return false;
    }
    auto* impl = d();
    QWriteLocker wl(&impl->lock);
    if (impl->byName.contains(info.name)) {
        qWarning("poolscope: a task named '%s' is already registered; keeping the first",
                 qPrintable(info.name));
        return false;
    }
    auto p = std::make_shared<const TaskInfo>(std::move(info));
    impl->byName.insert(p->name, p);
    if (p->address)
        impl->byAddress.insert(p->address, p);
    impl->order.append(p->name);
    return true;
}

const TaskInfo* TaskRegistry::find(const QString& name) const
{
    auto* impl = const_cast<TaskRegistry*>(this)->d();
    QReadLocker rl(&impl->lock);
    auto it = impl->byName.constFind(name);
    return it == impl->byName.cend() ? nullptr : it->get();
}

const TaskInfo* TaskRegistry::findByAddress(const void* fn) const
{
    auto* impl = const_cast<TaskRegistry*>(this)->d();
    QReadLocker rl(&impl->lock);
    auto it = impl->byAddress.constFind(fn);
    return it == impl->byAddress.cend() ? nullptr : it->get();
}

QStringList TaskRegistry::names() const
{
    auto* impl = const_cast<TaskRegistry*>(this)->d();
    QReadLocker rl(&impl->lock);
    return impl->order;
}

QString TaskRegistry::validate(const QString& name, const QCborArray& args) const
{
    const TaskInfo* info = find(name);
    if (!info)
        return QStringLiteral("unknown task '%1' (known tasks: %2)")
            .arg(name, names().join(QStringLiteral(", ")));
    if (args.size() != info->args.size())
        return QStringLiteral("task '%1' takes %2 argument(s), got %3")
            .arg(name)
            .arg(info->args.size())
            .arg(args.size());
    if (info->check) {
        if (const int bad = info->check(args)) {
            const QString label = bad <= info->argNames.size()
                                      ? QStringLiteral(" (%1)").arg(info->argNames.at(bad - 1))
                                      : QString();
            return QStringLiteral("argument %1%2 of task '%3' must be %4, got %5")
                .arg(bad)
                .arg(label, name, QString::fromLatin1(nameOf(info->args.at(bad - 1))),
                     QString::fromLatin1(cborTypeName(args.at(bad - 1))));
        }
    }
    return {};
}

namespace {
std::atomic<detail::ExecutorHook> g_executorHook{nullptr};
}

void detail::setExecutorHook(ExecutorHook hook) noexcept
{
    g_executorHook.store(hook);
}

void detail::notifyExecutorHook(Executor* executor, bool created) noexcept
{
    if (ExecutorHook hook = g_executorHook.load())
        hook(executor, created);
}

void Executor::checkMaxWorkers(int n)
{
    if (n <= 0)
        throw InvalidArgument("max_workers must be greater than 0 (got " + std::to_string(n) + ")");
    if (n > maxWorkersLimit())
        throw InvalidArgument("max_workers " + std::to_string(n) + " is above the limit of "
                              + std::to_string(maxWorkersLimit()));
}

QString Executor::validateNamed(const QString& name, const QList<QCborArray>& items,
                                bool threadPool)
{
    const auto& reg = TaskRegistry::global();
    const TaskInfo* info = reg.find(name);
    if (!info)
        return reg.validate(name, {});
    if (threadPool && info->processOnly)
        return QStringLiteral("task '%1' can only run on a process pool: on a thread pool it "
                              "would take the whole program down")
            .arg(name);
    for (qsizetype i = 0; i < items.size(); ++i) {
        const QString why = reg.validate(name, items.at(i));
        if (!why.isEmpty())
            return items.size() == 1 ? why : QStringLiteral("item %1: %2").arg(i + 1).arg(why);
    }
    return {};
}

namespace {

/// The start of a value's compact diagnostic notation, collected in a char
/// buffer. Every character of that notation is ASCII (Qt escapes each
/// non-ASCII character of a string as \uXXXX, byte arrays are hex), so one
/// char here is one QChar of the final text, and the QString is made once,
/// at the end. The writer keeps at most `cap` characters and drops the
/// rest; full() tells the walk to stop.
///
/// Short pieces (numbers, escapes) are written in place: while the writer
/// is not full, at least kRoom chars follow the end of the text, so
/// `end()` can take a piece of up to kRoom chars and `setEnd()` keeps what
/// fits under the cap.
class SummaryWriter {
public:
    static constexpr qsizetype kRoom = 48;

    explicit SummaryWriter(qsizetype cap)
        : m_cap(cap)
    {
        if (cap + kRoom > qsizetype(sizeof m_local)) {
            m_heap.reset(new char[std::size_t(cap + kRoom)]);
            m_buf = m_heap.get();
        }
    }
    SummaryWriter(const SummaryWriter&) = delete;
    SummaryWriter& operator=(const SummaryWriter&) = delete;

    bool full() const { return m_size == m_cap; }
    qsizetype size() const { return m_size; }

    /// Where the next piece goes; only while !full().
    char* end() { return m_buf + m_size; }
    /// The text now ends at `e` (at most kRoom past end()), cut to the cap.
    void setEnd(const char* e) { m_size = std::min(qsizetype(e - m_buf), m_cap); }

    void put(char c)
    {
        if (m_size < m_cap)
            m_buf[m_size++] = c;
    }
    /// A literal of up to kRoom chars.
    template<std::size_t N>
    void put(const char (&literal)[N])
    {
        static_assert(N - 1 <= std::size_t(kRoom));
        if (!full())
            setEnd(std::copy_n(literal, N - 1, end()));
    }

    /// The first `length` characters kept, ending in "..." when `cut`.
    QString text(qsizetype length, bool cut)
    {
        length = std::min(length, m_size);
        if (cut && length >= 3)
            std::copy_n("...", 3, m_buf + length - 3);
        return QString::fromLatin1(m_buf, length);
    }

private:
    char m_local[256]; // the default 120 characters fit: no allocation
    std::unique_ptr<char[]> m_heap;
    char* m_buf = m_local;
    qsizetype m_size = 0;
    qsizetype m_cap;
};

/// The shortest decimal digits that read back as a double: value =
/// 0.d[0]d[1]...d[p-1] x 10^(x+1), i.e. d[0] is the digit of 10^x.
struct ShortestDigits {
    char d[24];
    int p = 0;
    int x = 0;
};

/// The shortest digits of a finite a > 0 that is not an integer: the same
/// digits std::to_chars (and Qt) give, i.e. the fewest that read back as
/// a, the closest to a among those.
ShortestDigits shortestDigits(double a)
{
    ShortestDigits r;
    // Fast path for short decimal fractions (1.5, 0.25, 3.14): the fewest
    // decimals f <= 8 for which N / 10^f, N the integer nearest a * 10^f,
    // reads back as a (a division of two exact doubles rounds as
    // from_chars does). With N < 2^50 those are the digits to_chars gives:
    // half an ulp of a, times 10^f, is under 1/8, so for each f at most one
    // integer can read back, and none did for fewer decimals. N further
    // than 1/4 from a * 10^f cannot read back: no division then.
    static constexpr double kPow10[] = {1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    constexpr double kMaxN = 1125899906842624.0; // 2^50
    for (int f = 1; f <= 8; ++f) {
        const double scaled = a * kPow10[f - 1];
        if (scaled >= kMaxN)
            break;
        const double n = std::nearbyint(scaled);
        if (std::fabs(scaled - n) <= 0.25 && n / kPow10[f - 1] == a) {
            r.p = int(std::to_chars(r.d, r.d + sizeof r.d, quint64(n)).ptr - r.d);
            r.x = r.p - 1 - f; // N's first digit stands for 10^(p-1) in N
            return r;
        }
    }
    // Otherwise the shortest round-trip digits of std::to_chars, in its
    // scientific form "d.ddde-xx".
    char sci[32];
    const char* const end =
        std::to_chars(sci, sci + sizeof sci, a, std::chars_format::scientific).ptr;
    const char* c = sci;
    for (; *c != 'e'; ++c) {
        if (*c != '.')
            r.d[r.p++] = *c;
    }
    const bool negative = c[1] == '-';
    for (c += 2; c != end; ++c)
        r.x = r.x * 10 + (*c - '0');
    if (negative)
        r.x = -r.x;
    return r;
}

/// Writes a double as Qt's diagnostic notation does ("3.0", "1.5", "1e+22",
/// "-inf", "nan") at `o` (room for 48 chars) and returns the end.
char* writeDouble(char* o, double d)
{
    if (std::isinf(d)) {
        if (d < 0)
            *o++ = '-';
        return std::copy_n("inf", 3, o);
    }
    if (std::isnan(d))
        return std::copy_n("nan", 3, o);
    const double a = std::fabs(d);
    if (d < 0) // not for -0.0, which Qt writes as "0.0"
        *o++ = '-';
    if (a == std::trunc(a) && a < 18446744073709551616.0) { // fits a quint64
        o = std::to_chars(o, o + 24, quint64(a)).ptr;
        *o++ = '.';
        *o++ = '0';
        return o;
    }
    // Qt's notation without a QString per number (QString::number took
    // ~60 ns): the shortest round-trip digits, then, as Qt does, the
    // decimal form unless the exponent form is shorter (a tie goes to
    // decimal). Checked against toDiagnosticNotation() on 1.6 M values
    // (tst_workloads summariesOfNumbersMatchQt covers the edges).
    const ShortestDigits s = shortestDigits(a);
    const int p = s.p, x = s.x;
    const char* const digits = s.d;
    const int expLen = p + (p > 1 ? 1 : 0) + 2 + (std::abs(x) >= 100 ? 3 : 2);
    const int decLen = x >= 0 ? (p > x + 1 ? p + 1 : x + 1) : 2 + (-x - 1) + p;
    // Either form: at most 17 digits and a point, with "e+308" or up to 4
    // leading zeros (a longer decimal form loses to the exponent form).
    if (decLen <= expLen) {
        if (x >= 0) {
            if (p > x + 1) {
                o = std::copy(digits, digits + x + 1, o);
                *o++ = '.';
                o = std::copy(digits + x + 1, digits + p, o);
            } else {
                o = std::copy(digits, digits + p, o);
                o = std::fill_n(o, x + 1 - p, '0');
                *o++ = '.'; // CBOR notation: a double always shows its point
            }
        } else {
            *o++ = '0';
            *o++ = '.';
            o = std::fill_n(o, -x - 1, '0');
            o = std::copy(digits, digits + p, o);
        }
    } else {
        *o++ = digits[0];
        if (p > 1) {
            *o++ = '.';
            o = std::copy(digits + 1, digits + p, o);
        }
        *o++ = 'e';
        *o++ = x < 0 ? '-' : '+';
        const int ax = std::abs(x);
        if (ax < 10)
            *o++ = '0';
        o = std::to_chars(o, o + 8, ax).ptr;
    }
    return o;
}

constexpr char kHex[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

/// A string in quotes, escaped as Qt does: printable ASCII as it is, but
/// for '"' and '\'; \a \b \t \n \v \f \r; any other character below 0x20
/// or from 0x7f up as \uXXXX (upper-case hex), a surrogate pair as
/// \UXXXXXXXX. Stops when the writer is full.
void writeString(SummaryWriter& w, QStringView s)
{
    w.put('"');
    const char16_t* c = s.utf16();
    const char16_t* const end = c + s.size();
    for (; c != end && !w.full(); ++c) {
        const char16_t u = *c;
        if (u >= 0x20 && u < 0x7f && u != u'"' && u != u'\\') {
            w.put(char(u));
            continue;
        }
        char* o = w.end();
        *o++ = '\\';
        if (u == u'"' || u == u'\\') {
            *o++ = char(u);
        } else if (u >= 0x07 && u <= 0x0d) {
            *o++ = "abtnvfr"[u - 0x07];
        } else if (QChar::isHighSurrogate(u) && c + 1 != end && QChar::isLowSurrogate(c[1])) {
            const char32_t ucs4 = QChar::surrogateToUcs4(u, *++c);
            *o++ = 'U';
            for (int shift = 28; shift >= 0; shift -= 4)
                *o++ = kHexUpper[(ucs4 >> shift) & 0xf];
        } else {
            *o++ = 'u';
            for (int shift = 12; shift >= 0; shift -= 4)
                *o++ = kHexUpper[(u >> shift) & 0xf];
        }
        w.setEnd(o);
    }
    w.put('"');
}

/// A byte array as h'...' in lower-case hex (what Qt writes without the
/// extended format). Stops when the writer is full.
void writeBytes(SummaryWriter& w, const QByteArray& b)
{
    w.put("h'");
    for (qsizetype i = 0; i < b.size() && !w.full(); ++i) {
        const auto byte = quint8(b[i]);
        w.put(kHex[byte >> 4]);
        w.put(kHex[byte & 0xf]);
    }
    w.put('\'');
}

/// Writes v's compact diagnostic notation until the writer is full: the
/// cost depends on the length kept, not on the value (a 6.4 MB array took
/// ~290 ms through toDiagnosticNotation()). Arrays and maps are walked
/// element by element, each read once and written straight into the
/// buffer. Long strings and byte arrays are still copied out of the value
/// whole by Qt (toString(), toByteArray(): Qt 6.4 has no view of them);
/// only their first characters are written.
void writeValue(SummaryWriter& w, const QCborValue& v)
{
    if (w.full())
        return;
    switch (v.type()) {
    case QCborValue::Integer:
        w.setEnd(std::to_chars(w.end(), w.end() + SummaryWriter::kRoom, v.toInteger()).ptr);
        return;
    case QCborValue::Double:
        w.setEnd(writeDouble(w.end(), v.toDouble()));
        return;
    case QCborValue::String:
        writeString(w, v.toString());
        return;
    case QCborValue::ByteArray:
        writeBytes(w, v.toByteArray());
        return;
    case QCborValue::Array: {
        const QCborArray a = v.toArray();
        w.put('[');
        for (qsizetype i = 0, n = a.size(); i < n && !w.full(); ++i) {
            if (i)
                w.put(", ");
            writeValue(w, a.at(i));
        }
        w.put(']');
        return;
    }
    case QCborValue::Map: {
        const QCborMap m = v.toMap();
        w.put('{');
        for (auto it = m.cbegin(), end = m.cend(); it != end && !w.full(); ++it) {
            if (it != m.cbegin())
                w.put(", ");
            writeValue(w, it.key());
            w.put(": ");
            writeValue(w, it.value());
        }
        w.put('}');
        return;
    }
    case QCborValue::False:
        w.put("false");
        return;
    case QCborValue::True:
        w.put("true");
        return;
    case QCborValue::Null:
        w.put("null");
        return;
    case QCborValue::Undefined:
        w.put("undefined");
        return;
    case QCborValue::Invalid:
        w.put("<invalid>");
        return;
    default:
        break;
    }
    if (v.isTag()) {
        // Tags and Qt's extended types (date/time, URL, UUID, ...) alike:
        // the tag's number, then the tagged value in parentheses.
        w.setEnd(std::to_chars(w.end(), w.end() + SummaryWriter::kRoom, quint64(v.tag())).ptr);
        w.put('(');
        writeValue(w, v.taggedValue());
        w.put(')');
    } else {
        w.put("simple(");
        if (!w.full()) {
            w.setEnd(
                std::to_chars(w.end(), w.end() + SummaryWriter::kRoom, unsigned(v.toSimpleType()))
                    .ptr);
        }
        w.put(')');
    }
}

} // namespace

QString cborSummary(const QCborValue& v, int maxLength)
{
    if (maxLength <= 3)
        return v.toDiagnosticNotation(QCborValue::Compact); // no limit asked
    // One character more than shown tells whether the text goes on.
    SummaryWriter w(qsizetype(maxLength) + 1);
    writeValue(w, v);
    const bool cut = w.size() > maxLength;
    return w.text(maxLength, cut);
}

} // namespace poolscope
