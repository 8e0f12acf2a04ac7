// POOLSCOPE_PUBLISH=1: every ThreadPool and ProcessPool of a program linked
// with PoolScope::attach publishes itself (docs/attach.md). The static
// initialiser below sets core's executor hook (executor.h); the library's
// link interface asks for poolscope_attach_env_anchor (--undefined) so this
// object file is linked even into a program that calls nothing of attach.

#include "attachinternal.h"

#include <poolscope/attach.h>

#include <QDebug>

#include <map>
#include <memory>
#include <mutex>

extern "C" {
const int poolscope_attach_env_anchor = 1;
}

namespace poolscope {
namespace {

struct EnvPublications {
    std::mutex m;
    std::map<Executor*, std::unique_ptr<Publication>> live;
    std::map<QString, int> counts; // per kind: "thread-1", "thread-2", ...
};

EnvPublications& envPublications()
{
    static auto* e = new EnvPublications; // never destroyed: pools may outlive statics
    return *e;
}

/// Set while this thread publishes a pool for the environment (under e.m):
/// publish() then has no environment publication to withdraw.
thread_local bool t_envPublishing = false;

void onExecutor(Executor* executor, bool created) noexcept
{
    try {
        auto& e = envPublications();
        std::unique_ptr<Publication> gone;
        {
            std::lock_guard lk(e.m);
            if (created) {
                const QString kind = executor->kind();
                const QString name = QStringLiteral("%1-%2").arg(kind).arg(++e.counts[kind]);
                t_envPublishing = true;
                std::unique_ptr<Publication> p;
                try {
                    p = publish(executor, name);
                } catch (...) {
                    t_envPublishing = false;
                    throw;
                }
                t_envPublishing = false;
                e.live.emplace(executor, std::move(p));
                return;
            }
            auto it = e.live.find(executor);
            if (it == e.live.end())
                return;
            gone = std::move(it->second);
            e.live.erase(it);
        }
        gone.reset(); // outside the lock: waits for the publisher thread
    } catch (const std::exception& ex) {
        qWarning("poolscope: POOLSCOPE_PUBLISH: cannot publish the pool: %s", ex.what());
    } catch (...) {
        qWarning("poolscope: POOLSCOPE_PUBLISH: cannot publish the pool");
    }
}

struct Initialiser {
    Initialiser() { enablePublishFromEnvironment(); }
};
const Initialiser initialiser;

} // namespace

std::unique_ptr<Publication> attachdetail::takeEnvPublication(Executor* executor)
{
    if (t_envPublishing)
        return nullptr;
    auto& e = envPublications();
    std::lock_guard lk(e.m);
    auto it = e.live.find(executor);
    if (it == e.live.end())
        return nullptr;
    std::unique_ptr<Publication> taken = std::move(it->second);
    e.live.erase(it);
    return taken; // destroyed by the caller, outside this lock
}

void enablePublishFromEnvironment()
{
    if (qEnvironmentVariable("POOLSCOPE_PUBLISH") == QLatin1StringView("1"))
        detail::setExecutorHook(&onExecutor);
}

} // namespace poolscope
