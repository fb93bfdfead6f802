// PolicyManualPage: hijack-policy(5), the manual of policy files, generated from the settings
// tables of a ModuleRegistry (module_registry.h) and the example policies (policies/*.json,
// built in), so that every module and setting the daemon reads is documented as it reads it.
//
//   std::string roff = policy::PolicyManualPage(modules::BuiltInModules());   // man -l reads it
//
// `hijackd man policy` prints it; the build installs it as man5/hijack-policy.5.
// Pure; thread-safe.
#pragma once

#include <string>

#include "daemon/policy/module_registry.h"

namespace hijack::policy {

std::string PolicyManualPage(const ModuleRegistry& registry);

}  // namespace hijack::policy
