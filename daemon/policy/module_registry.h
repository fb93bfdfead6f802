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
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hijack/policy.h"
#include "hijack/result.h"

namespace hijack::policy {

// Typed access to one module's JSON object that remembers which keys were read, so that
// Finish() can refuse unknown keys. Every error names the JSON path of the offending value.
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& object, std::string path)
      : object_(object), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  // The module's whole object, as the policy gave it.
  const nlohmann::json& object() const { return object_; }
  std::string PathOf(std::string_view key) const { return path_ + "/" + std::string(key); }
  bool Has(std::string_view key) const;
  // The raw value (or nullptr when absent); marks the key as known.
  const nlohmann::json* Raw(std::string_view key);

  Result<std::optional<std::string>> String(std::string_view key);
  // Any finite number (integers beyond a double's precision are rounded).
  Result<std::optional<double>> Number(std::string_view key);
  // An integer that fits int64_t (18446744073709551615 does not: an error, never a wrap).
  Result<std::optional<int64_t>> Integer(std::string_view key);
  // The same, refused with the range in the message unless min <= value <= max. Every setting
  // that becomes a duration, a count or a rate has a range, so that no value from a policy
  // overflows what it is converted to.
  Result<std::optional<double>> Number(std::string_view key, double min, double max);
  Result<std::optional<int64_t>> Integer(std::string_view key, int64_t min, int64_t max);
  Result<std::optional<bool>> Bool(std::string_view key);
  Result<std::optional<std::vector<std::string>>> StringList(std::string_view key);
  // A list of syscall names and %classes (or a single string); nullopt when absent.
  Result<std::optional<SyscallSet>> Syscalls(std::string_view key);
  // An errno name ("EACCES") or number; `fallback` when absent.
  Result<int> Errno(std::string_view key, int fallback);

  // Fails on the first key that no accessor asked for.
  Result<void> Finish() const;

 private:
  Error ErrorAt(std::string_view key, const std::string& what) const;

  const nlohmann::json& object_;
  std::string path_;
  std::set<std::string, std::less<>> known_{"module"};
};

struct ModuleInfo {
  std::string name;
  std::string summary;         // one line for ListModules / `hijackctl modules`
  nlohmann::json settings;     // {"key": "type and meaning", ...}
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
