#include "daemon/oci/container_state.h"

#include <fmt/format.h>

#include <limits>

#include "common/bounded_json.h"
#include "daemon/syscalls/syscall_table.h"

namespace hijack::oci {
namespace {

Error Refuse(std::string_view path, std::string_view what) {
  return Error{EINVAL, fmt::format("{}: {}", path, what)};
}

// A string member of `obj` at `path`, present or not; bounded and free of control characters
// (it goes into logs and hijackctl's listing).
Result<std::string> StringAt(const nlohmann::json& obj, std::string_view key,
                             std::string_view path, bool required, size_t max_bytes) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) {
      return std::unexpected(Refuse(path, "missing"));
    }
    return std::string();
  }
  if (!it->is_string()) {
    return std::unexpected(Refuse(path, "expected a string"));
  }
  const std::string& s = it->get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    return std::unexpected(Refuse(path, fmt::format("longer than {} bytes", max_bytes)));
  }
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      return std::unexpected(Refuse(path, "holds a control character"));
    }
  }
  if (required && s.empty()) {
    return std::unexpected(Refuse(path, "empty"));
  }
  return s;
}

// `zero_allowed`: 0 stands for "not said" (see ContainerProcessState::pid).
Result<pid_t> PidAt(const nlohmann::json& obj, std::string_view key, std::string_view path,
                    bool zero_allowed = false) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    return std::unexpected(Refuse(path, "missing"));
  }
  if (!it->is_number_integer()) {
    return std::unexpected(Refuse(path, "expected a process id (a positive integer)"));
  }
  const auto v = it->get<int64_t>();
  if (v == 0 && zero_allowed) {
    return 0;
  }
  if (v <= 0 || v > std::numeric_limits<pid_t>::max()) {
    return std::unexpected(Refuse(path, fmt::format("{} is no process id", v)));
  }
  return static_cast<pid_t>(v);
}

}  // namespace

bool IsPolicyName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '.') {
    return false;
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

Result<ContainerProcessState> ParseContainerProcessState(std::string_view text,
                                                         size_t fds_received) {
  if (text.size() > kMaxStateBytes) {
    return std::unexpected(
        Error{EINVAL, fmt::format("the state is longer than {} bytes", kMaxStateBytes)});
  }
  // Shallow: the state has three levels; annotations are strings.
  HIJACK_ASSIGN_OR_RETURN(nlohmann::json doc, common::ParseBoundedJson(text, {.max_depth = 8}));
  if (!doc.is_object()) {
    return std::unexpected(Refuse("/", "expected an object"));
  }
  ContainerProcessState st;
  HIJACK_ASSIGN_OR_RETURN(st.oci_version, StringAt(doc, "ociVersion", "/ociVersion", true, 64));
  auto fds = doc.find("fds");
  if (fds == doc.end() || !fds->is_array()) {
    return std::unexpected(Refuse("/fds", "expected an array of descriptor names"));
  }
  if (fds->size() != fds_received) {
    return std::unexpected(Refuse(
        "/fds", fmt::format("names {} descriptors, the message carried {}", fds->size(),
                            fds_received)));
  }
  bool found = false;
  for (size_t i = 0; i < fds->size(); ++i) {
    const std::string path = fmt::format("/fds/{}", i);
    if (!(*fds)[i].is_string()) {
      return std::unexpected(Refuse(path, "expected a string"));
    }
    if ((*fds)[i].get_ref<const std::string&>() == "seccompFd") {
      if (found) {
        return std::unexpected(Refuse(path, "a second \"seccompFd\""));
      }
      found = true;
      st.seccomp_fd_index = i;
    }
  }
  if (!found) {
    return std::unexpected(Refuse("/fds", "no \"seccompFd\""));
  }
  HIJACK_ASSIGN_OR_RETURN(st.pid, PidAt(doc, "pid", "/pid", /*zero_allowed=*/true));
  HIJACK_ASSIGN_OR_RETURN(st.metadata,
                          StringAt(doc, "metadata", "/metadata", false, kMaxMetadataBytes));
  auto state = doc.find("state");
  if (state == doc.end() || !state->is_object()) {
    return std::unexpected(Refuse("/state", "expected an object"));
  }
  HIJACK_ASSIGN_OR_RETURN(st.id, StringAt(*state, "id", "/state/id", true, kMaxIdBytes));
  HIJACK_ASSIGN_OR_RETURN(st.status, StringAt(*state, "status", "/state/status", true, 64));
  HIJACK_ASSIGN_OR_RETURN(st.state_pid, PidAt(*state, "pid", "/state/pid", /*zero_allowed=*/true));
  HIJACK_ASSIGN_OR_RETURN(st.bundle,
                          StringAt(*state, "bundle", "/state/bundle", true, 4096));
  if (st.bundle.front() != '/') {
    // A container being created is read from its bundle. A process started in a running one
    // (exec) only joins it, and crun 1.8 sends it with a relative bundle: kept as unknown.
    if (st.status == "creating") {
      return std::unexpected(Refuse("/state/bundle", "expected an absolute path"));
    }
    st.bundle.clear();
  }
  if (auto ann = state->find("annotations"); ann != state->end()) {
    if (!ann->is_object()) {
      return std::unexpected(Refuse("/state/annotations", "expected an object"));
    }
    for (const auto& [key, value] : ann->items()) {
      if (!value.is_string()) {
        return std::unexpected(
            Refuse(fmt::format("/state/annotations/{}", key), "expected a string"));
      }
    }
  }
  return st;
}

Result<NotifiedSyscalls> NotifiedSyscallsOf(const nlohmann::json& config) {
  constexpr std::string_view kNotify = "SCMP_ACT_NOTIFY";
  auto linux_it = config.is_object() ? config.find("linux") : config.end();
  if (linux_it == config.end() || !linux_it->is_object()) {
    return std::unexpected(Refuse("/linux", "expected an object"));
  }
  auto sec = linux_it->find("seccomp");
  if (sec == linux_it->end() || !sec->is_object()) {
    return std::unexpected(Refuse("/linux/seccomp", "expected an object"));
  }
  NotifiedSyscalls out;
  HIJACK_ASSIGN_OR_RETURN(out.listener_path, StringAt(*sec, "listenerPath",
                                                      "/linux/seccomp/listenerPath", false, 4096));
  HIJACK_ASSIGN_OR_RETURN(std::string default_action,
                          StringAt(*sec, "defaultAction", "/linux/seccomp/defaultAction", true,
                                   64));
  SyscallSet other;  // calls an entry gives another action, or a conditional one
  SyscallSet notified;
  if (auto list = sec->find("syscalls"); list != sec->end()) {
    if (!list->is_array()) {
      return std::unexpected(Refuse("/linux/seccomp/syscalls", "expected an array"));
    }
    for (size_t i = 0; i < list->size(); ++i) {
      const nlohmann::json& entry = (*list)[i];
      const std::string path = fmt::format("/linux/seccomp/syscalls/{}", i);
      if (!entry.is_object()) {
        return std::unexpected(Refuse(path, "expected an object"));
      }
      HIJACK_ASSIGN_OR_RETURN(std::string action,
                              StringAt(entry, "action", path + "/action", true, 64));
      auto names = entry.find("names");
      if (names == entry.end() || !names->is_array()) {
        return std::unexpected(Refuse(path + "/names", "expected an array of syscall names"));
      }
      auto args = entry.find("args");
      const bool conditional = args != entry.end() && !(args->is_array() && args->empty()) &&
                               !args->is_null();
      for (size_t j = 0; j < names->size(); ++j) {
        if (!(*names)[j].is_string()) {
          return std::unexpected(Refuse(fmt::format("{}/names/{}", path, j), "expected a string"));
        }
        std::optional<int> nr = syscalls::SyscallNumber((*names)[j].get_ref<const std::string&>());
        if (!nr) {
          continue;
        }
        if (action == kNotify && !conditional) {
          notified.Add(*nr);
        } else {
          other.Add(*nr);
        }
      }
    }
  }
  if (default_action == kNotify) {
    out.calls = syscalls::AllSyscalls().Minus(other);
  } else {
    // An unconditional notify entry wins over a conditional entry of another action only where
    // libseccomp would let it; so a call named by both is not counted on.
    out.calls = notified.Minus(other);
  }
  return out;
}

}  // namespace hijack::oci
