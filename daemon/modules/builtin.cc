// The registry of built-in modules.
#include "daemon/modules/builtin.h"

#include "daemon/modules/cpushare/cpushare_module.h"
#include "daemon/modules/deny/deny_module.h"
#include "daemon/modules/exec_guard/exec_guard_module.h"
#include "daemon/modules/fault/fault_module.h"
#include "daemon/modules/fs_guard/fs_guard_module.h"
#include "daemon/modules/net_guard/net_guard_module.h"
#include "daemon/modules/plugin/plugin_module.h"
#include "daemon/modules/ratelimit/ratelimit_module.h"
#include "daemon/modules/stats/stats_module.h"
#include "daemon/modules/timer/timer_module.h"
#include "daemon/modules/trace/trace_module.h"

namespace hijack::modules {

const policy::ModuleRegistry& BuiltInModules() {
  static const policy::ModuleRegistry* registry = [] {
    auto* r = new policy::ModuleRegistry();
    r->Register(DenyModule::Info());
    r->Register(StatsModule::Info());
    r->Register(TraceModule::Info());
    r->Register(FsGuardModule::Info());
    r->Register(NetGuardModule::Info());
    r->Register(ExecGuardModule::Info());
    r->Register(RateLimitModule::Info());
    r->Register(FaultModule::Info());
    r->Register(PluginModule::Info());
    r->Register(CpuShareModule::Info());
    r->Register(TimerModule::Info());
    return r;
  }();
  return *registry;
}

}  // namespace hijack::modules
