// ModuleRegistry: the policy modules a daemon can instantiate, by name, each with the one table
// of its settings (ModuleInfo::settings) that everything describing a policy is generated from:
// the JSON Schema (docs/policy.schema.json), the structural check of `hijackd check`,
// hijack-policy(5), `hijackd modules` and ListModules.
//
//   const ModuleInfo* info = modules::BuiltInModules().Find("deny");   // daemon/modules/builtin.h
//   Result<std::unique_ptr<PolicyModule>> m = info->factory(ConfigReader(json, "/modules/0"));
//
// A module's table is written next to its factory, with the helpers below:
//
//   .settings = {setting::Syscalls("syscalls", "the calls denied").Required(),
//                setting::Errno("the errno they fail with", "EPERM")},
//
// Factories validate their whole configuration and report the first error with its JSON path
// ("/modules/2/errno: unknown errno \"EACESS\""); they have no side effects a failed policy
// would leave behind, except opening its output files. A factory reads only keys its table
// lists (tests/unit/module_settings_test.cc holds every module to that).
#pragma once

#include <cstdint>
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

// The JSON types a setting's value may have: a set, since many settings take a string or a
// list ("syscalls": "read" or ["read", "%file"]) and an errno a name or a number.
enum JsonType : unsigned {
  kJsonString = 1u << 0,
  kJsonInteger = 1u << 1,
  kJsonNumber = 1u << 2,  // any number, integers included
  kJsonBoolean = 1u << 3,
  kJsonObject = 1u << 4,
  kJsonList = 1u << 5,
};

// One key of a module's JSON object (or of an object nested in one), and what it accepts.
struct Setting {
  std::string name;
  std::string description;
  unsigned types = 0;       // JsonType bits
  unsigned item_types = 0;  // with kJsonList: the JsonType bits of its items
  // The only values a string (or a string item) may take; empty: any string.
  std::vector<std::string> choices;
  // The default, as the policy would write it; null when there is none or it depends on other
  // settings (the description says how).
  nlohmann::json default_value;
  bool required = false;
  // Bounds of a number or integer, inclusive (ConfigReader::Number/Integer with a range).
  std::optional<double> minimum;
  std::optional<double> maximum;
  // How the reader words a value out of range, with {} for the value; empty: ConfigReader's
  // "{} is out of range (expected MIN .. MAX)".
  std::string range_error;
  // With kJsonObject (or object items): the object's keys; `open` objects belong to someone
  // else (a plugin's own configuration) and are not checked.
  std::vector<Setting> fields;
  bool open = false;
  // Values that are accepted only as this one literal (ratelimit's "sends": true).
  std::optional<bool> only_boolean;

  Setting&& Required() && {
    required = true;
    return std::move(*this);
  }
  Setting&& Default(nlohmann::json value) && {
    default_value = std::move(value);
    return std::move(*this);
  }
  Setting&& Range(double min, std::optional<double> max = std::nullopt) && {
    minimum = min;
    maximum = max;
    return std::move(*this);
  }
};

// Builders for the kinds of setting the ConfigReader reads, so that each table says what its
// factory reads in the reader's own terms.
namespace setting {
// ConfigReader::String.
Setting Text(std::string name, std::string description);
// ConfigReader::StringList (a string or a list of strings).
Setting Strings(std::string name, std::string description);
// ConfigReader::Syscalls: syscall names and %classes, a string or a list.
Setting Syscalls(std::string name, std::string description);
// ConfigReader::Errno: the key "errno", a name ("EACCES") or a number 1..4095.
Setting Errno(std::string description, std::string fallback);
// ConfigReader::Enum / OneOf: one of `choices`.
Setting Choice(std::string name, std::string description, std::vector<std::string> choices);
// ConfigReader::FlagList: a string or a list of strings, each one of `choices`.
Setting Flags(std::string name, std::string description, std::vector<std::string> choices);
// ConfigReader::Integer / Number / Bool.
Setting Integer(std::string name, std::string description);
Setting Number(std::string name, std::string description);
Setting Boolean(std::string name, std::string description);
// An object with the keys `fields` (a nested ConfigReader).
Setting Object(std::string name, std::string description, std::vector<Setting> fields);
// ConfigReader::ObjectList: a list of objects with the keys `fields`.
Setting ObjectList(std::string name, std::string description, std::vector<Setting> fields);
// An object the daemon passes on unread.
Setting OpenObject(std::string name, std::string description);
}  // namespace setting

// How a setting's types read in prose ("a string or a list of strings").
std::string DescribeTypes(const Setting& s);
// One line for `hijackd modules` and ListModules: the description, then the types, choices,
// range and default ("the errno injected (a string or an integer, 1 .. 4095; default "EIO")").
std::string DescribeSetting(const Setting& s);

struct ModuleInfo {
  std::string name;
  std::string summary;  // one line for ListModules / `hijackctl modules`
  // Every key the factory reads, in the order a manual should show them ("module" is implied).
  std::vector<Setting> settings;
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
