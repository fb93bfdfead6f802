#include "daemon/policy/module_registry.h"

namespace hijack::policy {

void ModuleRegistry::Register(ModuleInfo info) {
  std::string name = info.name;
  modules_.insert_or_assign(std::move(name), std::move(info));
}

const ModuleInfo* ModuleRegistry::Find(std::string_view name) const {
  auto it = modules_.find(name);
  return it == modules_.end() ? nullptr : &it->second;
}

std::vector<const ModuleInfo*> ModuleRegistry::List() const {
  std::vector<const ModuleInfo*> out;
  for (const auto& [name, info] : modules_) {
    out.push_back(&info);
  }
  return out;
}

}  // namespace hijack::policy
