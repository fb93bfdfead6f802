#include "daemon/modules/net_guard/net_guard_module.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <seccomp.h>
#include <sys/socket.h>

#include "daemon/modules/fs_guard/guest_path.h"
#include "daemon/syscalls/sockaddr.h"
#include "daemon/syscalls/syscall_args.h"

namespace hijack::modules {
namespace {

constexpr const char* kOpNames[] = {"connect", "bind", "send"};

}  // namespace

NetGuardModule::NetGuardModule(std::array<Lists, 3> lists, int err)
    : lists_(std::move(lists)), errno_(err) {
  if (lists_[kConnect].configured) {
    syscalls_.Add(SCMP_SYS(connect));
  }
  if (lists_[kBind].configured) {
    syscalls_.Add(SCMP_SYS(bind));
  }
  if (lists_[kSend].configured) {
    syscalls_.Add(SCMP_SYS(sendto));
    syscalls_.Add(SCMP_SYS(sendmsg));
    syscalls_.Add(SCMP_SYS(sendmmsg));
  }
}

bool NetGuardModule::Allows(Op op, const SocketAddress& addr) const {
  const Lists& l = lists_[op];
  for (const auto& r : l.deny) {
    if (r.Matches(addr)) {
      return false;
    }
  }
  for (const auto& r : l.allow) {
    if (r.Matches(addr)) {
      return true;
    }
  }
  return l.default_allow;
}

Decision NetGuardModule::Deny() {
  denied_.fetch_add(1, std::memory_order_relaxed);
  return Decision::Fail(errno_);
}

std::optional<Decision> NetGuardModule::CheckAddress(const SyscallEvent& ev, GuestMemory& mem,
                                                     Op op, syscalls::SockaddrRef ref) {
  if (ref.addr == 0) {
    return std::nullopt;  // a send on a connected socket: its address was checked at connect
  }
  auto read = syscalls::ReadSockaddr(mem, ref);
  if (!read) {
    unreadable_.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(read.error().code == EFAULT ? EFAULT : errno_);
  }
  if (!*read || !(*read)->complete) {
    return Decision::Fail(EINVAL);  // as the kernel answers an address too short for its family
  }
  SocketAddress a = std::move(**read);
  if (a.family == AF_UNIX && !a.abstract && !a.unix_path.empty()) {
    // Socket files are named like files: relative to the cwd, through symlinks.
    GuestPathResolver resolver(ev, mem);
    ResolveOptions options;
    options.follow_last = op != kBind;
    auto r = resolver.Resolve(AT_FDCWD, a.unix_path, options);
    if (r) {
      a.unix_path = r->path;
    } else if (r.error().code == ENOENT || r.error().code == ENOTDIR) {
      return Decision::Fail(r.error().code);
    } else {
      unreadable_.fetch_add(1, std::memory_order_relaxed);
      return Decision::Fail(errno_);
    }
  }
  if (!Allows(op, a)) {
    return Deny();
  }
  return std::nullopt;
}

std::optional<Decision> NetGuardModule::Decide(const SyscallEvent& ev, GuestMemory& mem) {
  std::optional<Decision> d;
  const Op op = ev.nr == SCMP_SYS(connect) ? kConnect : ev.nr == SCMP_SYS(bind) ? kBind : kSend;
  if (std::optional<syscalls::SockaddrRef> ref = syscalls::SockaddrArg(ev)) {
    d = CheckAddress(ev, mem, op, *ref);
  }
  const uint64_t count = syscalls::MessageCount(ev);
  for (uint64_t i = 0; i < count && !d; ++i) {
    auto ref = syscalls::MessageAddress(ev, mem, i);
    if (!ref) {
      unreadable_.fetch_add(1, std::memory_order_relaxed);
      d = Decision::Fail(ref.error().code == EFAULT ? EFAULT : errno_);
      break;
    }
    d = CheckAddress(ev, mem, kSend, *ref);
  }
  if (!d) {
    allowed_.fetch_add(1, std::memory_order_relaxed);
  }
  return d;
}

nlohmann::json NetGuardModule::Stats() const {
  return {{"allowed", allowed_.load(std::memory_order_relaxed)},
          {"denied", denied_.load(std::memory_order_relaxed)},
          {"unreadable", unreadable_.load(std::memory_order_relaxed)}};
}

policy::ModuleInfo NetGuardModule::Info() {
  nlohmann::json settings;
  for (const char* op : kOpNames) {
    settings[fmt::format("{}_allow", op)] = "address rules allowed (others denied by default)";
    settings[fmt::format("{}_deny", op)] = "address rules denied (checked first)";
    settings[fmt::format("{}_default", op)] = "\"allow\" or \"deny\" when nothing matches";
  }
  settings["errno"] = "errno of denied calls (default EACCES)";
  return {
      .name = "net_guard",
      .summary = "allow or deny connect/bind/sendto/sendmsg by family, CIDR, port, unix path",
      .settings = std::move(settings),
      .factory = [](policy::ConfigReader& config) -> Result<std::unique_ptr<PolicyModule>> {
        std::array<Lists, 3> lists;
        bool any = false;
        for (int op = 0; op < 3; ++op) {
          Lists& l = lists[static_cast<size_t>(op)];
          for (const char* which : {"allow", "deny"}) {
            std::string key = fmt::format("{}_{}", kOpNames[op], which);
            HIJACK_ASSIGN_OR_RETURN(auto texts, config.StringList(key));
            if (!texts) {
              continue;
            }
            l.configured = true;
            auto& out = std::string_view(which) == "allow" ? l.allow : l.deny;
            for (size_t i = 0; i < texts->size(); ++i) {
              auto rule = AddressRule::Parse((*texts)[i]);
              if (!rule) {
                return MakeError(
                    fmt::format("{}/{}: {}", config.PathOf(key), i, rule.error().message));
              }
              out.push_back(std::move(*rule));
            }
          }
          l.default_allow = l.allow.empty();
          std::string key = fmt::format("{}_default", kOpNames[op]);
          HIJACK_ASSIGN_OR_RETURN(auto def,
                                  config.Enum<bool>(key, {{"allow", true}, {"deny", false}}));
          if (def) {
            l.default_allow = *def;
            l.configured = true;
          }
          any = any || l.configured;
        }
        if (!any) {
          return MakeError(config.path() +
                           ": net_guard needs at least one of connect_allow, connect_deny, "
                           "bind_allow, bind_deny, send_allow, send_deny (or a *_default)");
        }
        HIJACK_ASSIGN_OR_RETURN(int err, config.Errno("errno", EACCES));
        return std::make_unique<NetGuardModule>(std::move(lists), err);
      },
  };
}

}  // namespace hijack::modules
