#include "poolscope/registry.h"
#include "poolscope/executor.h"

#include <QCborArray>
#include <QCborMap>
#include <QDebug>
#include <QHash>
#include <QLocale>
#include <QReadWriteLock>

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

/// A double as Qt's diagnostic notation writes it ("3.0", "1.5", "1e+22",
/// "inf", "nan"), without its per-value set-up: integral values go through
/// std::to_chars (checked against Qt over random doubles in tst_workloads).
void appendDouble(QString& out, double d)
{
    if (std::isinf(d)) {
        out += d < 0 ? QLatin1String("-inf") : QLatin1String("inf");
        return;
    }
    if (std::isnan(d)) {
        out += QLatin1String("nan");
        return;
    }
    const double a = std::fabs(d);
    if (a == std::trunc(a) && a < 18446744073709551616.0) { // fits a quint64
        char buf[32];
        char* p = buf;
        if (d < 0)
            *p++ = '-';
        p = std::to_chars(p, buf + sizeof buf - 2, quint64(a)).ptr;
        *p++ = '.';
        *p++ = '0';
        out += QLatin1String(buf, p - buf);
        return;
    }
    // Qt's notation without a QString per number (QString::number took
    // ~60 ns): the shortest round-trip digits (std::to_chars), then, as Qt
    // does, the decimal form unless the exponent form is shorter (a tie
    // goes to decimal). Checked against toDiagnosticNotation() on 1.6 M
    // values (tst_workloads summariesOfNumbersMatchQt covers the edges).
    char sci[32];
    const auto r = std::to_chars(sci, sci + sizeof sci, a, std::chars_format::scientific);
    const char* e = static_cast<const char*>(std::memchr(sci, 'e', std::size_t(r.ptr - sci)));
    char digits[24];
    int p = 0;
    for (const char* c = sci; c < e; ++c) {
        if (*c != '.')
            digits[p++] = *c;
    }
    int x = 0;
    std::from_chars(e[1] == '+' ? e + 2 : e + 1, r.ptr, x);
    const int expLen = p + (p > 1 ? 1 : 0) + 2 + (std::abs(x) >= 100 ? 3 : 2);
    const int decLen = x >= 0 ? (p > x + 1 ? p + 1 : x + 1) : 2 + (-x - 1) + p;
    char buf[48]; // either form: at most 17 digits, a sign, a point and "e+308" or 4 zeros
    char* o = buf;
    if (d < 0)
        *o++ = '-';
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
        o = std::to_chars(o, buf + sizeof buf, ax).ptr;
    }
    out += QLatin1String(buf, o - buf);
}

/// Appends v's compact diagnostic notation to out, stopping once out holds
/// more than `limit` characters: the cost depends on the limit, not on the
/// value (a 6.4 MB array took ~290 ms through toDiagnosticNotation()).
/// Containers and tags are walked here; leaves use Qt's notation, long
/// strings and byte arrays cut to the limit first.
void appendBounded(QString& out, const QCborValue& v, qsizetype limit)
{
    if (out.size() > limit)
        return;
    if (v.isArray()) {
        const QCborArray a = v.toArray();
        out += u'[';
        for (qsizetype i = 0; i < a.size(); ++i) {
            if (out.size() > limit)
                return;
            if (i)
                out += QLatin1String(", ");
            appendBounded(out, a.at(i), limit);
        }
        out += u']';
    } else if (v.isMap()) {
        const QCborMap m = v.toMap();
        out += u'{';
        for (auto it = m.cbegin(); it != m.cend(); ++it) {
            if (out.size() > limit)
                return;
            if (it != m.cbegin())
                out += QLatin1String(", ");
            appendBounded(out, it.key(), limit);
            out += QLatin1String(": ");
            appendBounded(out, it.value(), limit);
        }
        out += u'}';
    } else if (v.isTag()) {
        out += QString::number(quint64(v.tag()));
        out += u'(';
        appendBounded(out, v.taggedValue(), limit);
        out += u')';
    } else if (v.isInteger()) {
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, v.toInteger());
        out += QLatin1String(buf, r.ptr - buf);
    } else if (v.isDouble()) {
        appendDouble(out, v.toDouble());
    } else if (v.isString()) {
        const QString s = v.toString();
        out += (s.size() > limit ? QCborValue(s.left(limit)) : v)
                   .toDiagnosticNotation(QCborValue::Compact);
    } else if (v.isByteArray()) {
        const QByteArray b = v.toByteArray();
        out += (b.size() > limit ? QCborValue(b.left(limit)) : v)
                   .toDiagnosticNotation(QCborValue::Compact);
    } else {
        out += v.toDiagnosticNotation(QCborValue::Compact);
    }
}

} // namespace

QString cborSummary(const QCborValue& v, int maxLength)
{
    if (maxLength <= 3)
        return v.toDiagnosticNotation(QCborValue::Compact); // no limit asked
    QString s;
    s.reserve(maxLength + 64);
    appendBounded(s, v, maxLength);
    if (s.size() > maxLength)
        s = s.left(maxLength - 3) + QStringLiteral("...");
    return s;
}

} // namespace poolscope
