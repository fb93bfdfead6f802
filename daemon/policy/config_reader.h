// ConfigReader: typed access to one module's JSON object, the one place where a policy's values
// become settings. It parses strings, numbers with ranges, booleans, lists, syscall names and
// %classes, errno names, enums and flag lists once for every module, and every error names the
// JSON path of the offending value:
//
//   policy::ConfigReader config(json, "/modules/2");
//   HIJACK_ASSIGN_OR_RETURN(int err, config.Errno("errno", EACCES));
//   HIJACK_ASSIGN_OR_RETURN(std::optional<bool> allow,
//                           config.Enum<bool>("default", {{"allow", true}, {"deny", false}}));
//   HIJACK_TRY(config.Finish());  // '/modules/2/erno: unknown key (known: default, errno)'
//
// A reader refers to the JSON it was given (which must outlive it) and remembers which keys were
// read, so that Finish() can refuse unknown ones. Not thread-safe; one reader per parse.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hijack/result.h"
#include "hijack/syscall_set.h"

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
  // One of `names` (a string), as its index; nullopt when absent. The error lists them:
  //   /modules/0/default: expected "allow" or "deny", got "maybe"
  Result<std::optional<size_t>> OneOf(std::string_view key,
                                      std::initializer_list<std::string_view> names);
  // One of `choices` by name, as its value; nullopt when absent.
  template <typename T>
  Result<std::optional<T>> Enum(std::string_view key,
                                std::initializer_list<std::pair<std::string_view, T>> choices);
  // A list of names (or a single one) of `flags`, OR-ed; nullopt when absent. `what` names
  // an item in the error: '/modules/0/rules/1/access/2: unknown access "rwx" (known: read, ...)'.
  Result<std::optional<uint64_t>> FlagList(
      std::string_view key, std::string_view what,
      std::span<const std::pair<std::string_view, uint64_t>> flags);
  // A list of JSON objects, each as a ConfigReader at its own path ("/modules/0/rules/3"); an
  // empty list when absent. The readers refer to this reader's JSON.
  Result<std::vector<ConfigReader>> ObjectList(std::string_view key, std::string_view what);

  // Fails on the first key that no accessor asked for.
  Result<void> Finish() const;
  // Every key an accessor asked for so far, present or not ("module" included): what the
  // settings table of the module (module_registry.h) must list.
  const std::set<std::string, std::less<>>& asked() const { return known_; }

 private:
  Result<std::optional<size_t>> OneOf(std::string_view key,
                                      std::span<const std::string_view> names);
  Error ErrorAt(std::string_view key, const std::string& what) const;

  const nlohmann::json& object_;
  std::string path_;
  std::set<std::string, std::less<>> known_{"module"};
};

template <typename T>
Result<std::optional<T>> ConfigReader::Enum(
    std::string_view key, std::initializer_list<std::pair<std::string_view, T>> choices) {
  std::vector<std::string_view> names;
  for (const auto& c : choices) {
    names.push_back(c.first);
  }
  HIJACK_ASSIGN_OR_RETURN(std::optional<size_t> index, OneOf(key, names));
  if (!index) {
    return std::nullopt;
  }
  return std::data(choices)[*index].second;
}

}  // namespace hijack::policy
