#include "tests/fuzz/fuzz_registry.h"

#include <map>
#include <string>

#include "daemon/modules/builtin.h"

namespace hijack::fuzz {
namespace {

// Module name -> (setting -> the inert string it becomes).
const std::map<std::string, std::map<std::string, std::string>>& Redirects() {
  static const auto* redirects = new std::map<std::string, std::map<std::string, std::string>>{
      {"trace", {{"output", "/dev/null"}}},
      {"exec_guard", {{"log", "/dev/null"}}},
      {"plugin", {{"path", ""}}},
  };
  return *redirects;
}

policy::ModuleRegistry Build() {
  policy::ModuleRegistry registry;
  for (const policy::ModuleInfo* info : modules::BuiltInModules().List()) {
    policy::ModuleInfo copy = *info;
    auto found = Redirects().find(info->name);
    if (found != Redirects().end()) {
      copy.factory = [real = info->factory, keys = found->second](policy::ConfigReader& config)
          -> Result<std::unique_ptr<PolicyModule>> {
        nlohmann::json object = config.object();
        for (const auto& [key, inert] : keys) {
          if (auto it = object.find(key); it != object.end() && it->is_string()) {
            *it = inert;
          }
        }
        policy::ConfigReader inner(object, config.path());
        auto module = real(inner);
        if (!module) {
          return module;
        }
        if (auto done = inner.Finish(); !done) {
          return std::unexpected(done.error());
        }
        for (const auto& [key, value] : object.items()) {
          (void)config.Raw(key);  // the inner reader has checked every key
        }
        return module;
      };
    }
    registry.Register(std::move(copy));
  }
  return registry;
}

}  // namespace

const policy::ModuleRegistry& FuzzRegistry() {
  static const auto* registry = new policy::ModuleRegistry(Build());
  return *registry;
}

}  // namespace hijack::fuzz
