// BuiltInModules: the registry of the modules built into hijackd (deny, stats, trace, fs_guard,
// net_guard, exec_guard, ratelimit, fault, plugin, cpushare, timer).
//
//   auto set = policy::PolicySet::FromText(text, "web.json", modules::BuiltInModules());
//
// The policy layer knows modules only through a ModuleRegistry it is given; this is the one
// place that names them all, so hijackd, the control service and the tests pass it down.
// Thread-safe: built on first use, immutable afterwards.
#pragma once

#include "daemon/policy/module_registry.h"

namespace hijack::modules {

const policy::ModuleRegistry& BuiltInModules();

}  // namespace hijack::modules
