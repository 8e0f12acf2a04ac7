#pragma once
// What the pools whose tasks run in other processes share in their public
// headers: the process pool (processpool.h) and the MPI pool (mpipool.h).
// Tasks cross by registered name with CBOR arguments (registry.h); a task's
// node on this side only waits for the reply and decodes it. Not a pool of
// its own: include processpool.h or mpipool.h.

#include "executor.h"
#include "registry.h"

#include <QCborArray>

#include <memory>
#include <type_traits>
#include <vector>

namespace poolscope {

/// A worker process died while it held a task (crash, kill, exit, OOM).
class WorkerCrashed : public Error {
public:
    using Error::Error;
};

namespace detail {

/// A task that runs in a worker process; its reply decodes into R.
template<class R>
class RemoteNode final : public ResultNode<R> {
public:
    explicit RemoteNode(TaskNode::Remote spec)
        : m_spec(std::move(spec))
    {}
    void run(TaskContext&) noexcept override {}
    const TaskNode::Remote* remote() const noexcept override { return &m_spec; }
    void deliver(const QCborValue& reply) noexcept override
    {
        if constexpr (!std::is_void_v<R>) {
            try {
                R decoded{};
                if (!CborTraits<R>::from(reply, decoded))
                    throw InvalidArgument("the worker's result for task '"
                                          + m_spec.name.toStdString()
                                          + "' does not decode into the expected type");
                this->value.emplace(std::move(decoded));
            } catch (...) {
                this->error = std::current_exception();
            }
        }
    }
    QString argsSummary() const override { return cborSummary(QCborValue(m_spec.args)); }
    QVariant resultVariant() const override
    {
        if constexpr (std::is_same_v<R, QCborValue>)
            return this->value ? QVariant(cborSummary(*this->value)) : QVariant();
        else
            return ResultNode<R>::resultVariant();
    }

private:
    TaskNode::Remote m_spec;
};

template<class... P, class... Args>
QCborArray encodeArgs(std::type_identity<std::tuple<P...>>, Args&&... args)
{
    static_assert(sizeof...(P) == sizeof...(Args),
                  "wrong number of arguments for this registered task");
    return QCborArray{CborTraits<P>::to(P(std::forward<Args>(args)))...};
}

/// The registry's entry for a task function, or null when it is not one.
template<class F>
const TaskInfo* registeredTask(F* fn)
{
    return TaskRegistry::global().findByAddress(reinterpret_cast<const void*>(fn));
}

inline std::exception_ptr notRegisteredError()
{
    return std::make_exception_ptr(InvalidArgument(
        "this function is not a registered task (use POOLSCOPE_TASK or registerTask)"));
}

/// The node and future of one remote task; `enqueue(node, options)` hands
/// the node to the pool (its name defaults to the task's).
template<class R, class Enqueue>
Future<R> submitRemoteNode(const QString& name, QCborArray args, bool batch,
                           const TaskOptions& opts, Enqueue&& enqueue)
{
    TaskNode::Remote spec;
    spec.name = name;
    spec.args = std::move(args);
    spec.batch = batch;
    auto* node = new RemoteNode<R>(std::move(spec));
    NodeRef ref(node, true);
    TaskOptions o = opts;
    if (o.name.isEmpty())
        o.name = name;
    enqueue(node, o);
    return Future<R>(std::move(ref));
}

/// map() of a remote pool: the inputs are encoded up front; chunk c is one
/// batch task, `submitChunk(name, batch, taskOptions)` -> Future<vector<R>>.
template<class R, class A, class Container, class SubmitChunk>
MapIterator<R> remoteMap(R (*fn)(A), Container inputs, const MapOptions& opts,
                         SubmitChunk submitChunk)
{
    using Param = Plain<A>;
    const TaskInfo* info = registeredTask(fn);
    if (!info)
        throw InvalidArgument("map: this function is not a registered task (use POOLSCOPE_TASK)");
    if (opts.chunkSize == 0)
        throw InvalidArgument("map: chunkSize must be >= 1");
    auto items = std::make_shared<QCborArray>();
    for (auto& in : inputs)
        items->append(QCborArray{CborTraits<Param>::to(Param(in))});
    const std::size_t n = std::size_t(items->size());
    const std::size_t chunk = opts.chunkSize;
    const std::size_t chunks = (n + chunk - 1) / chunk;
    auto submitOne = [items, chunk, n, name = info->name, task = opts.task,
                      submitChunk = std::move(submitChunk)](std::size_t c) {
        const std::size_t b = c * chunk, e = std::min(n, b + chunk);
        QCborArray batch;
        for (std::size_t i = b; i < e; ++i)
            batch.append(items->at(qsizetype(i)));
        return submitChunk(name, std::move(batch), task);
    };
    const Deadline dl = opts.timeout ? Deadline::after(*opts.timeout) : Deadline::never();
    return MapIterator<R>(std::move(submitOne), chunks, opts.maxInFlight, dl);
}

} // namespace detail
} // namespace poolscope
