#pragma once
// Task registry: tasks known by name, with typed arguments and results carried
// as CBOR. This is how work crosses a process boundary (the worker program
// looks the name up in its own copy of the registry) and how the GUI and the
// CLI launch any workload on either pool (submitNamed).

#include "future.h"

#include <QCborArray>
#include <QCborMap>
#include <QCborValue>
#include <QList>
#include <QString>
#include <QStringList>

#include <functional>
#include <tuple>
#include <type_traits>
#include <vector>

namespace poolscope {

/// Argument kinds a registered task can take (the CBOR type it expects).
enum class ArgKind { Integer, Double, Bool, String, Bytes, Array, Map, Any };
const char* nameOf(ArgKind k) noexcept;

/// How a value of C++ type T travels as CBOR. Specialise for your own types.
template<class T, class = void>
struct CborTraits;

template<class T>
struct CborTraits<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>> {
    static constexpr ArgKind kind = ArgKind::Integer;
    static QCborValue to(T v) { return QCborValue(qint64(v)); }
    static bool from(const QCborValue& c, T& out)
    {
        if (!c.isInteger())
            return false;
        const qint64 v = c.toInteger();
        if constexpr (std::is_unsigned_v<T>) {
            if (v < 0)
                return false;
        }
        if (qint64(T(v)) != v)
            return false; // out of range for T
        out = T(v);
        return true;
    }
};
template<>
struct CborTraits<bool> {
    static constexpr ArgKind kind = ArgKind::Bool;
    static QCborValue to(bool v) { return QCborValue(v); }
    static bool from(const QCborValue& c, bool& out)
    {
        if (!c.isBool())
            return false;
        out = c.toBool();
        return true;
    }
};
template<class T>
struct CborTraits<T, std::enable_if_t<std::is_floating_point_v<T>>> {
    static constexpr ArgKind kind = ArgKind::Double;
    static QCborValue to(T v) { return QCborValue(double(v)); }
    static bool from(const QCborValue& c, T& out)
    {
        if (c.isDouble())
            out = T(c.toDouble());
        else if (c.isInteger())
            out = T(c.toInteger());
        else
            return false;
        return true;
    }
};
template<>
struct CborTraits<QString> {
    static constexpr ArgKind kind = ArgKind::String;
    static QCborValue to(const QString& v) { return QCborValue(v); }
    static bool from(const QCborValue& c, QString& out)
    {
        if (!c.isString())
            return false;
        out = c.toString();
        return true;
    }
};
template<>
struct CborTraits<QByteArray> {
    static constexpr ArgKind kind = ArgKind::Bytes;
    static QCborValue to(const QByteArray& v) { return QCborValue(v); }
    static bool from(const QCborValue& c, QByteArray& out)
    {
        if (!c.isByteArray())
            return false;
        out = c.toByteArray();
        return true;
    }
};
template<>
struct CborTraits<QCborValue> {
    static constexpr ArgKind kind = ArgKind::Any;
    static QCborValue to(const QCborValue& v) { return v; }
    static bool from(const QCborValue& c, QCborValue& out)
    {
        out = c;
        return true;
    }
};
template<>
struct CborTraits<QCborArray> {
    static constexpr ArgKind kind = ArgKind::Array;
    static QCborValue to(const QCborArray& v) { return QCborValue(v); }
    static bool from(const QCborValue& c, QCborArray& out)
    {
        if (!c.isArray())
            return false;
        out = c.toArray();
        return true;
    }
};
template<>
struct CborTraits<QCborMap> {
    static constexpr ArgKind kind = ArgKind::Map;
    static QCborValue to(const QCborMap& v) { return QCborValue(v); }
    static bool from(const QCborValue& c, QCborMap& out)
    {
        if (!c.isMap())
            return false;
        out = c.toMap();
        return true;
    }
};
template<class E>
struct CborTraits<std::vector<E>> {
    static constexpr ArgKind kind = ArgKind::Array;
    static QCborValue to(const std::vector<E>& v)
    {
        QCborArray a;
        for (const auto& e : v)
            a.append(CborTraits<E>::to(e));
        return QCborValue(a);
    }
    static bool from(const QCborValue& c, std::vector<E>& out)
    {
        if (!c.isArray())
            return false;
        const QCborArray a = c.toArray();
        out.clear();
        out.reserve(std::size_t(a.size()));
        for (const auto& x : a) {
            E e{};
            if (!CborTraits<E>::from(x, e))
                return false;
            out.push_back(std::move(e));
        }
        return true;
    }
};
template<class E>
struct CborTraits<QList<E>> {
    static constexpr ArgKind kind = ArgKind::Array;
    static QCborValue to(const QList<E>& v)
    {
        QCborArray a;
        for (const auto& e : v)
            a.append(CborTraits<E>::to(e));
        return QCborValue(a);
    }
    static bool from(const QCborValue& c, QList<E>& out)
    {
        if (!c.isArray())
            return false;
        const QCborArray a = c.toArray();
        out.clear();
        for (const auto& x : a) {
            E e{};
            if (!CborTraits<E>::from(x, e))
                return false;
            out.append(std::move(e));
        }
        return true;
    }
};

/// A registered task.
struct TaskInfo {
    QString name;
    QString description;
    QList<ArgKind> args;  // from the C++ signature
    QStringList argNames; // optional, for messages and UIs
    ArgKind result = ArgKind::Any;
    /// Runs the task on CBOR arguments (already validated) and returns CBOR.
    std::function<QCborValue(TaskContext&, const QCborArray&)> invoke;
    /// 0 when args decode into the C++ parameter types, else the 1-based
    /// index of the first one that does not (arity is checked before).
    std::function<int(const QCborArray&)> check;
    const void* address = nullptr; // the C++ function, for submit(fn, args...)
    /// Only safe in a separate process (crashes, hangs, exits); the thread
    /// pool refuses it with a clear error.
    bool processOnly = false;
};

class TaskRegistry {
public:
    /// The process-wide registry (built-in workloads included).
    static TaskRegistry& global();

    /// Adds a task; false (and a warning) if the name is taken or empty.
    bool add(TaskInfo info);
    /// nullptr when unknown. Pointers stay valid for the program's life.
    const TaskInfo* find(const QString& name) const;
    const TaskInfo* findByAddress(const void* fn) const;
    QStringList names() const;
    /// Empty when args fit the task; otherwise one clear sentence.
    QString validate(const QString& name, const QCborArray& args) const;

private:
    TaskRegistry() = default;
    struct Impl;
    Impl* d();
};

/// Registers the built-in demo workloads (core/workloads). Called once by
/// TaskRegistry::global(); a static library would drop self-registering
/// object files nobody references, so built-ins register explicitly.
void registerBuiltinWorkloads(TaskRegistry& r);

/// Compact one-line text of a CBOR value (CBOR diagnostic notation),
/// shortened to maxLength characters with "..." when longer. Its cost is
/// bounded by maxLength, not by the value's size (arrays and maps are
/// walked only as far as the text needs); maxLength <= 3: the whole text.
QString cborSummary(const QCborValue& v, int maxLength = 120);

namespace detail {

template<class T>
using Plain = std::remove_cv_t<std::remove_reference_t<T>>;

/// Splits a task signature into "takes TaskContext&?" and its CBOR arguments.
template<class... A>
struct TaskSig {
    static constexpr bool withContext = false;
    using Params = std::tuple<Plain<A>...>;
};
template<class... A>
struct TaskSig<TaskContext&, A...> {
    static constexpr bool withContext = true;
    using Params = std::tuple<Plain<A>...>;
};

template<class... B>
QList<ArgKind> argKinds(std::type_identity<std::tuple<B...>>)
{
    return QList<ArgKind>{CborTraits<B>::kind...};
}

/// Decodes args into a tuple; on failure returns the 1-based index of the bad one.
template<class Tuple>
int decodeArgs(const QCborArray& args, Tuple& out)
{
    int bad = 0;
    qsizetype i = 0;
    std::apply(
        [&](auto&... v) {
            ((bad == 0 && !CborTraits<Plain<decltype(v)>>::from(args.at(i), v) ? bad = int(i) + 1
                                                                               : 0,
              ++i),
             ...);
        },
        out);
    return bad;
}

template<class R, class... A>
TaskInfo makeTaskInfo(const QString& name, R (*fn)(A...))
{
    using Sig = TaskSig<A...>;
    using Args = typename Sig::Params;
    TaskInfo info;
    info.name = name;
    info.address = reinterpret_cast<const void*>(fn);
    info.args = argKinds(std::type_identity<Args>{});
    if constexpr (!std::is_void_v<R>)
        info.result = CborTraits<Plain<R>>::kind;
    info.check = [](const QCborArray& args) {
        Args vals;
        return decodeArgs(args, vals);
    };
    info.invoke = [fn](TaskContext& ctx, const QCborArray& args) -> QCborValue {
        Args vals;
        if (const int bad = decodeArgs(args, vals))
            throw InvalidArgument("argument " + std::to_string(bad)
                                  + " does not match the task's signature");
        return std::apply(
            [&](auto&... v) -> QCborValue {
                if constexpr (Sig::withContext) {
                    if constexpr (std::is_void_v<R>) {
                        fn(ctx, v...);
                        return QCborValue();
                    } else {
                        return CborTraits<Plain<R>>::to(fn(ctx, v...));
                    }
                } else {
                    (void)ctx;
                    if constexpr (std::is_void_v<R>) {
                        fn(v...);
                        return QCborValue();
                    } else {
                        return CborTraits<Plain<R>>::to(fn(v...));
                    }
                }
            },
            vals);
    };
    return info;
}

} // namespace detail

/// Registers fn under name. Use at namespace scope through the macro, or call
/// it from your own set-up code (before starting process-pool workers: a
/// worker knows the tasks its program registered).
template<class R, class... A>
bool registerTask(const QString& name, R (*fn)(A...), const QString& description = {},
                  bool processOnly = false)
{
    TaskInfo info = detail::makeTaskInfo(name, fn);
    info.description = description;
    info.processOnly = processOnly;
    return TaskRegistry::global().add(std::move(info));
}

} // namespace poolscope

/// POOLSCOPE_TASK(myFunction, "one-line description") registers a function
/// under its own name at static-initialisation time.
#define POOLSCOPE_TASK(fn, description)                                                            \
    static const bool poolscope_registered_##fn =                                                  \
        ::poolscope::registerTask(QStringLiteral(#fn), &fn, QStringLiteral(description))
