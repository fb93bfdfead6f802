#include "daemon/control/policy_files.h"

#include <array>
#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>

namespace hijack::control {
namespace {

// The settings that name a file the daemon opens, and the values that name none. One table:
// a module that gains a file setting adds a row here.
struct FileSetting {
  std::string_view module;
  std::string_view key;
  std::array<std::string_view, 2> not_files;  // special values ("" always is one)
};
constexpr FileSetting kFileSettings[] = {
    {"trace", "output", {"-", ""}},       // written (truncated)
    {"exec_guard", "log", {"-", "none"}},  // appended
    {"plugin", "path", {"", ""}},          // loaded by the policy host
};

}  // namespace

Result<PolicyFileUse> ResolvePolicyFiles(nlohmann::json& doc, std::string_view client_cwd) {
  if (!client_cwd.empty() && client_cwd.front() != '/') {
    return MakeError("client_cwd: \"" + std::string(client_cwd) + "\" is not an absolute path");
  }
  if (!doc.is_object() || !doc.contains("modules") || !doc["modules"].is_array()) {
    return PolicyFileUse{};  // PolicySet::FromJson says what is wrong with the shape
  }
  PolicyFileUse use;
  nlohmann::json& modules = doc["modules"];
  for (size_t i = 0; i < modules.size(); ++i) {
    nlohmann::json& m = modules[i];
    if (!m.is_object() || !m.contains("module") || !m["module"].is_string()) {
      continue;
    }
    const std::string name = m["module"].get<std::string>();
    if (name == "plugin" && use.first_plugin.empty()) {
      use.first_plugin = "/modules/" + std::to_string(i);
    }
    for (const FileSetting& f : kFileSettings) {
      if (name != f.module || !m.contains(f.key) || !m[f.key].is_string()) {
        continue;  // a type error is the module's to report
      }
      const std::string value = m[f.key].get<std::string>();
      if (value.empty() || value == f.not_files[0] || value == f.not_files[1]) {
        continue;
      }
      use.names_files = true;
      if (value.front() == '/') {
        continue;
      }
      const std::string json_path = "/modules/" + std::to_string(i) + "/" + std::string(f.key);
      if (client_cwd.empty()) {
        return MakeError(json_path + ": \"" + value +
                         "\" is a relative path, and the request names no client_cwd to "
                         "resolve it against (give an absolute path, or send client_cwd as "
                         "hijackctl does)");
      }
      m[f.key] = (std::filesystem::path(client_cwd) / value).lexically_normal().string();
    }
  }
  return use;
}

Result<CallerFileRights> CallerFileRights::Take(const std::optional<GuestCredentials>& rights) {
  CallerFileRights taken;
  if (!rights) {
    return taken;
  }
  auto identity =
      common::ThreadFsIdentity::Switch(*rights, "of the caller, for opening the policy's files");
  if (!identity) {
    return std::unexpected(identity.error());
  }
  taken.identity_ = std::move(*identity);
  return taken;
}

CallerFileRights::~CallerFileRights() {
  if (!identity_.Restore()) {
    spdlog::critical("a control thread could not take back hijackd's file-system identity");
    std::abort();
  }
}

}  // namespace hijack::control
