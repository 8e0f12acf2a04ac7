// The built-in demo tasks (docs/architecture.md): plain functions registered by name
// so they run on either pool. The catalogue that plans runs of them is in
// catalogue.cpp (poolscope/workloads.h).
#include "kernels.h"

#include "poolscope/registry.h"

namespace poolscope {

void registerBuiltinWorkloads(TaskRegistry& r)
{
    workloads::registerCpuTasks(r);
    workloads::registerIoTasks(r);
    workloads::registerMixedTasks(r);
}

} // namespace poolscope
