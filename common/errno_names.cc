// Errno names for hijack::Error (declared in include/hijack/result.h).
//
// glibc (>= 2.32) knows the name and text of every errno it defines (strerrorname_np(3),
// strerrordesc_np(3)); both return static strings and are thread-safe, unlike strerror(3). The
// kernel-internal restart codes are added because ptrace sees them at syscall-exit stops when a
// signal interrupts a call (strace prints them the same way).
#include <fmt/format.h>
#include <string.h>

#include <array>
#include <string>
#include <string_view>
#include <unordered_map>

#include "hijack/result.h"

namespace hijack {
namespace {

struct ErrnoNameEntry {
  int value;
  std::string_view name;
};

// Never returned to user space, so glibc has no names for them (include/linux/errno.h).
constexpr std::array<ErrnoNameEntry, 5> kKernelInternal = {{
    {512, "ERESTARTSYS"},
    {513, "ERESTARTNOINTR"},
    {514, "ERESTARTNOHAND"},
    {515, "ENOIOCTLCMD"},
    {516, "ERESTART_RESTARTBLOCK"},
}};

// Second names of a value whose first name strerrorname_np() returns.
constexpr std::array<ErrnoNameEntry, 3> kAliases = {{
    {EWOULDBLOCK, "EWOULDBLOCK"},
    {EDEADLOCK, "EDEADLOCK"},
    {ENOTSUP, "ENOTSUP"},
}};

std::string_view KnownName(int err) {
  if (const char* name = strerrorname_np(err)) {
    return name;
  }
  for (const ErrnoNameEntry& e : kKernelInternal) {
    if (e.value == err) {
      return e.name;
    }
  }
  return {};
}

}  // namespace

std::unexpected<Error> ErrnoError(int err, std::string_view what) {
  std::string name = ErrnoName(err);
  const char* desc = strerrordesc_np(err);
  std::string message = what.empty() ? name : fmt::format("{}: {}", what, name);
  if (desc != nullptr) {
    message += fmt::format(" ({})", desc);
  }
  return std::unexpected(Error{err, std::move(message)});
}

std::string ErrnoName(int err) {
  std::string_view name = KnownName(err);
  return name.empty() ? std::to_string(err) : std::string(name);
}

int ErrnoFromName(std::string_view name) {
  // Built once (thread-safe static init); the keys point at glibc's static strings.
  static const std::unordered_map<std::string_view, int> by_name = [] {
    std::unordered_map<std::string_view, int> map;
    for (int err = 1; err < 4096; ++err) {
      std::string_view n = KnownName(err);
      if (!n.empty()) {
        map.emplace(n, err);
      }
    }
    for (const ErrnoNameEntry& e : kAliases) {
      map.emplace(e.name, e.value);
    }
    return map;
  }();
  auto it = by_name.find(name);
  return it == by_name.end() ? 0 : it->second;
}

}  // namespace hijack
