// BackendKind: which mechanism serves a guest, and the name a user gives it.
//
//   std::optional<BackendKind> kind = BackendKindNamed("ptrace-all");   // kPtraceAll
//   std::string_view name = BackendKindName(BackendKind::kNotify);       // "notify"
//
// The names are written here once; everything that prints or parses a backend's name (the
// command lines, the control API, the tests) goes through these two functions. Which kinds a
// build can run, how each is probed and made, and what "auto" picks is the daemon's backend
// table (daemon/backend/backend_table.h).
//
// Threads: constant data, any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace hijack {

enum class BackendKind : uint8_t {
  kNotify,     // seccomp user notification (seccomp_unotify(2))
  kPtrace,     // SECCOMP_RET_TRACE stops under ptrace(2)
  kPtraceAll,  // PTRACE_SYSCALL stops at every call, no seccomp filter
};

inline constexpr std::array<std::pair<BackendKind, std::string_view>, 3> kBackendKindNames = {{
    {BackendKind::kNotify, "notify"},
    {BackendKind::kPtrace, "ptrace"},
    {BackendKind::kPtraceAll, "ptrace-all"},
}};

constexpr std::string_view BackendKindName(BackendKind kind) {
  for (const auto& [k, name] : kBackendKindNames) {
    if (k == kind) {
      return name;
    }
  }
  return "?";
}

// The kind called `name` exactly, or nothing ("auto" is no kind: the daemon resolves it).
constexpr std::optional<BackendKind> BackendKindNamed(std::string_view name) {
  for (const auto& [kind, n] : kBackendKindNames) {
    if (n == name) {
      return kind;
    }
  }
  return std::nullopt;
}

}  // namespace hijack
