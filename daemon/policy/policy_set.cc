#include "daemon/policy/policy_set.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/bounded_file.h"
#include "common/bounded_json.h"

namespace hijack::policy {
namespace {
constexpr int kPolicyFormatVersion = 1;
}

Result<std::shared_ptr<PolicySet>> PolicySet::FromJson(const nlohmann::json& doc,
                                                       const ModuleRegistry& registry) {
  if (!doc.is_object()) {
    return MakeError(fmt::format("/: expected a policy object, got {}", doc.type_name()));
  }
  for (const auto& [key, value] : doc.items()) {
    if (key != "version" && key != "modules" && key != "description") {
      return MakeError(fmt::format("/{}: unknown key (known: version, modules, description)", key));
    }
  }
  auto version = doc.find("version");
  if (version == doc.end()) {
    return MakeError("/version: missing (this daemon reads policy format 1)");
  }
  if (!version->is_number_integer() || version->get<int64_t>() != kPolicyFormatVersion) {
    return MakeError(fmt::format("/version: unsupported policy format {} (this daemon reads 1)",
                                 version->dump()));
  }
  if (auto d = doc.find("description"); d != doc.end() && !d->is_string()) {
    return MakeError(fmt::format("/description: expected a string, got {}", d->type_name()));
  }
  auto modules = doc.find("modules");
  if (modules == doc.end()) {
    return MakeError("/modules: missing (a list of module objects)");
  }
  if (!modules->is_array()) {
    return MakeError(fmt::format("/modules: expected a list, got {}", modules->type_name()));
  }
  if (modules->size() > kMaxModules) {
    return MakeError(fmt::format("/modules: {} module instances, more than the limit of {}",
                                 modules->size(), kMaxModules));
  }
  auto set = std::make_shared<PolicySet>();
  set->document_ = doc;
  for (size_t i = 0; i < modules->size(); ++i) {
    const auto& entry = (*modules)[i];
    const std::string path = fmt::format("/modules/{}", i);
    if (!entry.is_object()) {
      return MakeError(
          fmt::format("{}: expected a module object, got {}", path, entry.type_name()));
    }
    auto name = entry.find("module");
    if (name == entry.end() || !name->is_string()) {
      return MakeError(path + "/module: missing module name (a string)");
    }
    const ModuleInfo* info = registry.Find(name->get<std::string>());
    if (info == nullptr) {
      std::string known;
      for (const ModuleInfo* m : registry.List()) {
        known += (known.empty() ? "" : ", ") + m->name;
      }
      return MakeError(fmt::format("{}/module: unknown module {} (known: {})", path, name->dump(),
                                   known));
    }
    ConfigReader config(entry, path);
    auto module = info->factory(config);
    if (!module) {
      return std::unexpected(module.error());
    }
    if (auto done = config.Finish(); !done) {
      return std::unexpected(done.error());
    }
    set->modules_.push_back(std::move(*module));
  }
  set->Index();
  return set;
}

Result<std::shared_ptr<PolicySet>> PolicySet::FromText(std::string_view text,
                                                       std::string_view source,
                                                       const ModuleRegistry& registry) {
  if (text.size() > kMaxPolicyBytes) {
    return std::unexpected(Error{E2BIG, fmt::format("{}: {} bytes, more than the limit of {}",
                                                    source, text.size(), kMaxPolicyBytes)});
  }
  auto doc = common::ParseBoundedJson(text);
  if (!doc) {
    return MakeError(fmt::format("{}: {}", source, doc.error().message));
  }
  if (doc->is_discarded()) {
    return MakeError(fmt::format("{}: invalid JSON", source));
  }
  auto set = FromJson(*doc, registry);
  if (!set) {
    return MakeError(fmt::format("{}: {}", source, set.error().message));
  }
  return set;
}

Result<std::shared_ptr<PolicySet>> PolicySet::FromFile(const std::string& path,
                                                       const ModuleRegistry& registry) {
  auto text = common::ReadBoundedFile(path, kMaxPolicyBytes);
  if (!text) {
    return std::unexpected(Error{text.error().code, "policy " + text.error().message});
  }
  return FromText(*text, path, registry);
}

void PolicySet::Append(std::unique_ptr<PolicyModule> module, nlohmann::json config) {
  modules_.push_back(std::move(module));
  document_["modules"].push_back(std::move(config));
  Index();
}

void PolicySet::Index() {
  needed_ = SyscallSet();
  deciders_.assign(SyscallSet::kCapacity, {});
  observers_.assign(SyscallSet::kCapacity, {});
  wants_args_.fill(false);
  shown_bytes_ = 0;
  for (const auto& m : modules_) {
    shown_bytes_ = std::max(shown_bytes_, m->ShownBytes());
    needed_.AddAll(m->Syscalls());
    for (int nr : m->Syscalls().Numbers()) {
      auto idx = static_cast<size_t>(nr);
      observers_[idx].push_back(m.get());
      if (m->Enforces()) {
        deciders_[idx].push_back(m.get());
      }
      wants_args_[idx] = wants_args_[idx] || m->WantsArguments(nr);
    }
  }
  // A bucket goes to the page when its module is the only one that decides each of its calls;
  // otherwise the module keeps deciding them all, so a budget is never split in two.
  page_shapable_ = SyscallSet();
  page_buckets_.clear();
  page_buckets_of_.assign(modules_.size(), SyscallSet());
  for (size_t i = 0; i < modules_.size(); ++i) {
    if (!modules_[i]->Enforces()) {
      continue;
    }
    for (auto& b : modules_[i]->PageBuckets()) {
      bool alone = !b.syscalls.empty();
      for (int nr : b.syscalls.Numbers()) {
        alone = alone && deciders_[static_cast<size_t>(nr)].size() == 1;
      }
      if (alone) {
        page_shapable_.AddAll(b.syscalls);
        page_buckets_of_[i].AddAll(b.syscalls);
        page_buckets_.push_back(std::move(b));
      }
    }
  }
}

void PolicySet::ShapeInPage() const {
  for (size_t i = 0; i < modules_.size(); ++i) {
    if (!page_buckets_of_[i].empty()) {
      modules_[i]->ShapeInPage(page_buckets_of_[i]);
    }
  }
}

std::span<PolicyModule* const> PolicySet::DecidersFor(int nr) const {
  if (nr < 0 || nr >= SyscallSet::kCapacity) {
    return {};
  }
  return deciders_[static_cast<size_t>(nr)];
}

std::span<PolicyModule* const> PolicySet::ObserversFor(int nr) const {
  if (nr < 0 || nr >= SyscallSet::kCapacity) {
    return {};
  }
  return observers_[static_cast<size_t>(nr)];
}

}  // namespace hijack::policy
