#include "daemon/modules/net_guard/net_guard_module.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "daemon/modules/fs_guard/guest_path.h"

namespace hijack::modules {
namespace {

// Datagrams per sendmmsg(2) the module looks at (the kernel's UIO_MAXIOV caps vlen at 1024).
constexpr uint64_t kMaxMmsg = 1024;

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
                                                     Op op, uint64_t addr, uint64_t len) {
  if (addr == 0) {
    return std::nullopt;  // a send on a connected socket: its address was checked at connect
  }
  sockaddr_storage ss{};
  len = std::min<uint64_t>(len, sizeof ss);
  auto got = mem.Read(addr, std::as_writable_bytes(std::span(reinterpret_cast<char*>(&ss), len)));
  if (!got) {
    unreadable_.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(got.error().code == EFAULT ? EFAULT : errno_);
  }
  if (*got < sizeof(sa_family_t)) {
    return Decision::Fail(EINVAL);  // as the kernel answers a too-short address
  }
  SocketAddress a;
  a.family = ss.ss_family;
  if (a.family == AF_INET && *got >= sizeof(sockaddr_in)) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    std::memcpy(a.ip.data(), &sin->sin_addr, 4);
    a.port = ntohs(sin->sin_port);
  } else if (a.family == AF_INET6 && *got >= sizeof(sockaddr_in6)) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    std::memcpy(a.ip.data(), &sin6->sin6_addr, 16);
    a.port = ntohs(sin6->sin6_port);
  } else if (a.family == AF_UNIX) {
    const auto* sun = reinterpret_cast<const sockaddr_un*>(&ss);
    size_t n = *got - offsetof(sockaddr_un, sun_path);
    if (n > 0 && sun->sun_path[0] == '\0') {
      a.unix_path = "@" + std::string(sun->sun_path + 1, n - 1);
    } else if (n > 0) {
      std::string path(sun->sun_path, strnlen(sun->sun_path, n));
      // Socket files are named like files: relative to the cwd, through symlinks.
      GuestPathResolver resolver(ev, mem);
      ResolveOptions options;
      options.follow_last = op != kBind;
      auto r = resolver.Resolve(AT_FDCWD, path, options);
      if (r) {
        a.unix_path = r->path;
      } else if (r.error().code == ENOENT || r.error().code == ENOTDIR) {
        return Decision::Fail(r.error().code);
      } else {
        unreadable_.fetch_add(1, std::memory_order_relaxed);
        return Decision::Fail(errno_);
      }
    }
  } else if (a.family == AF_INET || a.family == AF_INET6) {
    return Decision::Fail(EINVAL);  // too short for its family
  }
  if (!Allows(op, a)) {
    return Deny();
  }
  return std::nullopt;
}

std::optional<Decision> NetGuardModule::Decide(const SyscallEvent& ev, GuestMemory& mem) {
  const auto& a = ev.args;
  std::optional<Decision> d;
  if (ev.nr == SCMP_SYS(connect)) {
    d = CheckAddress(ev, mem, kConnect, a[1], a[2]);
  } else if (ev.nr == SCMP_SYS(bind)) {
    d = CheckAddress(ev, mem, kBind, a[1], a[2]);
  } else if (ev.nr == SCMP_SYS(sendto)) {
    d = CheckAddress(ev, mem, kSend, a[4], a[5]);
  } else if (ev.nr == SCMP_SYS(sendmsg) || ev.nr == SCMP_SYS(sendmmsg)) {
    const bool many = ev.nr == SCMP_SYS(sendmmsg);
    const uint64_t count = many ? std::min<uint64_t>(a[2], kMaxMmsg) : 1;
    for (uint64_t i = 0; i < count && !d; ++i) {
      msghdr msg{};
      uint64_t at = a[1] + i * (many ? sizeof(mmsghdr) : sizeof(msghdr));
      auto got = mem.Read(at, std::as_writable_bytes(std::span(&msg, 1)));
      if (!got || *got < sizeof msg) {
        unreadable_.fetch_add(1, std::memory_order_relaxed);
        d = Decision::Fail(!got && got.error().code == EFAULT ? EFAULT : errno_);
        break;
      }
      d = CheckAddress(ev, mem, kSend, reinterpret_cast<uint64_t>(msg.msg_name), msg.msg_namelen);
    }
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
            auto texts = config.StringList(key);
            if (!texts) {
              return std::unexpected(texts.error());
            }
            if (!*texts) {
              continue;
            }
            l.configured = true;
            auto& out = std::string_view(which) == "allow" ? l.allow : l.deny;
            for (size_t i = 0; i < (*texts)->size(); ++i) {
              auto rule = AddressRule::Parse((**texts)[i]);
              if (!rule) {
                return MakeError(
                    fmt::format("{}/{}: {}", config.PathOf(key), i, rule.error().message));
              }
              out.push_back(std::move(*rule));
            }
          }
          l.default_allow = l.allow.empty();
          std::string key = fmt::format("{}_default", kOpNames[op]);
          auto def = config.String(key);
          if (!def) {
            return std::unexpected(def.error());
          }
          if (*def) {
            if (**def != "allow" && **def != "deny") {
              return MakeError(config.PathOf(key) + ": expected \"allow\" or \"deny\", got \"" +
                               **def + "\"");
            }
            l.default_allow = **def == "allow";
            l.configured = true;
          }
          any = any || l.configured;
        }
        if (!any) {
          return MakeError(config.path() +
                           ": net_guard needs at least one of connect_allow, connect_deny, "
                           "bind_allow, bind_deny, send_allow, send_deny (or a *_default)");
        }
        auto err = config.Errno("errno", EACCES);
        if (!err) {
          return std::unexpected(err.error());
        }
        return std::make_unique<NetGuardModule>(std::move(lists), *err);
      },
  };
}

}  // namespace hijack::modules
