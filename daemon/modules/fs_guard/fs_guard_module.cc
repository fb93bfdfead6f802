#include "daemon/modules/fs_guard/fs_guard_module.h"

#include <fcntl.h>
#include <linux/openat2.h>

#include "daemon/modules/fs_guard/guest_path.h"

namespace hijack::modules {

FsGuardModule::FsGuardModule(Config config)
    : mode_(config.mode),
      err_(config.err),
      beneath_(std::move(config.beneath)),
      rules_(std::move(config.rules), config.default_allow, beneath_.has_value()),
      syscalls_(syscalls::CallsWithAccess(rules_.deniable())) {}

Decision FsGuardModule::Deny() {
  counters_.denied.fetch_add(1, std::memory_order_relaxed);
  return Decision::Fail(err_);
}

std::optional<Decision> FsGuardModule::Check(const SyscallEvent& ev, GuestMemory& mem,
                                             const syscalls::PathArg& arg, bool open) {
  const auto access = static_cast<uint8_t>(arg.access & kAccessAll);
  if (!rules_.CanDeny(access)) {
    return std::nullopt;
  }
  auto path = mem.ReadString(arg.addr, PATH_MAX);
  if (!path) {
    // EFAULT is what the kernel would answer; anything else fails closed.
    counters_.unresolved.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(path.error().code == EFAULT ? EFAULT : err_);
  }
  GuestPathResolver resolver(ev, mem);
  ResolveOptions options;
  options.follow_last = arg.follow;
  options.beneath = beneath_;
  options.empty_path = arg.empty_path;
  auto resolved = resolver.Resolve(arg.dirfd, *path, options);
  if (!resolved) {
    counters_.unresolved.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(IsGuestVisible(resolved.error().code) ? resolved.error().code : err_);
  }
  uint8_t needed = access;
  if (open && resolved->exists) {
    needed &= static_cast<uint8_t>(~kAccessCreate);  // O_CREAT only creates a missing name
  }
  if (!rules_.Allows(resolved->path, needed)) {
    return Deny();
  }
  return std::nullopt;
}

std::optional<Decision> FsGuardModule::Decide(const SyscallEvent& ev, GuestMemory& mem) {
  // Opens: the access kinds come from the flags.
  Result<std::optional<syscalls::OpenArgs>> open = syscalls::OpenArgsOf(ev, mem);
  if (!open) {
    counters_.unresolved.fetch_add(1, std::memory_order_relaxed);
    const int code = open.error().code;
    return Decision::Fail(code == EINVAL || code == EFAULT ? code : err_);
  }
  if (*open) {
    syscalls::OpenArgs& o = **open;
    if (o.resolve & RESOLVE_IN_ROOT) {
      // The walk would be confined to a root the guest names; not modelled: fail closed.
      counters_.unresolved.fetch_add(1, std::memory_order_relaxed);
      return Decision::Fail(err_);
    }
    o.path.access = static_cast<uint8_t>(syscalls::OpenAccess(o.flags) |
                                         ((o.flags & O_CREAT) ? kAccessCreate : 0));
    if (!rules_.CanDeny(o.path.access)) {
      return std::nullopt;
    }
    if (mode_ == Mode::kStrict) {
      return OpenStrict(ev, mem, o, {rules_, beneath_, err_, counters_});
    }
    auto d = Check(ev, mem, o.path, /*open=*/true);
    if (!d) {
      counters_.allowed.fetch_add(1, std::memory_order_relaxed);
    }
    return d;
  }
  for (const syscalls::PathArg& arg : syscalls::PathArgs(ev)) {
    if (auto d = Check(ev, mem, arg, /*open=*/false)) {
      return d;
    }
  }
  counters_.allowed.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

nlohmann::json FsGuardModule::Stats() const {
  return {{"mode", mode_ == Mode::kStrict ? "strict" : "check"},
          {"allowed", counters_.allowed.load(std::memory_order_relaxed)},
          {"denied", counters_.denied.load(std::memory_order_relaxed)},
          {"unresolved", counters_.unresolved.load(std::memory_order_relaxed)},
          {"injected", counters_.injected.load(std::memory_order_relaxed)}};
}

}  // namespace hijack::modules
