// The registry of built-in modules.
#include "daemon/modules/deny/deny_module.h"
#include "daemon/modules/exec_guard/exec_guard_module.h"
#include "daemon/modules/fault/fault_module.h"
#include "daemon/modules/fs_guard/fs_guard_module.h"
#include "daemon/modules/net_guard/net_guard_module.h"
#include "daemon/modules/plugin/plugin_module.h"
#include "daemon/modules/ratelimit/ratelimit_module.h"
#include "daemon/modules/stats/stats_module.h"
#include "daemon/modules/trace/trace_module.h"
#include "daemon/policy/module_registry.h"

namespace hijack::policy {

const ModuleRegistry& ModuleRegistry::BuiltIn() {
  static const ModuleRegistry* registry = [] {
    auto* r = new ModuleRegistry();
    r->Register(modules::DenyModule::Info());
    r->Register(modules::StatsModule::Info());
    r->Register(modules::TraceModule::Info());
    r->Register(modules::FsGuardModule::Info());
    r->Register(modules::NetGuardModule::Info());
    r->Register(modules::ExecGuardModule::Info());
    r->Register(modules::RateLimitModule::Info());
    r->Register(modules::FaultModule::Info());
    r->Register(modules::PluginModule::Info());
    return r;
  }();
  return *registry;
}

}  // namespace hijack::policy
