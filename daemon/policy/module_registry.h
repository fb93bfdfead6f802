// ModuleRegistry: the policy modules a daemon can instantiate, by name.
//
//   const ModuleInfo* info = modules::BuiltInModules().Find("deny");   // daemon/modules/builtin.h
//   Result<std::unique_ptr<PolicyModule>> m = info->factory(ConfigReader(json, "/modules/0"));
//
// Factories validate their whole configuration and report the first error with its JSON path
// ("/modules/2/errno: unknown errno \"EACESS\""); they have no side effects a failed policy
// would leave behind, except opening its output files.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/policy/config_reader.h"
#include "hijack/policy.h"
#include "hijack/result.h"

namespace hijack::policy {

struct ModuleInfo {
  std::string name;
  std::string summary;      // one line for ListModules / `hijackctl modules`
  nlohmann::json settings;  // {"key": "type and meaning", ...}
  std::function<Result<std::unique_ptr<PolicyModule>>(ConfigReader& config)> factory;
};

class ModuleRegistry {
 public:
  void Register(ModuleInfo info);
  const ModuleInfo* Find(std::string_view name) const;
  std::vector<const ModuleInfo*> List() const;

 private:
  std::map<std::string, ModuleInfo, std::less<>> modules_;
};

}  // namespace hijack::policy
