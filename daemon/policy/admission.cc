#include "daemon/policy/admission.h"

#include <fmt/format.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/syscalls/syscall_table.h"

namespace hijack::policy {
namespace {

bool Beneath(const std::string& path, const std::string& tree) {
  return tree == "/" || path == tree || (path.starts_with(tree) && path[tree.size()] == '/');
}

constexpr std::pair<uint32_t, const char*> kKindNames[] = {{kFloorRead, "read"},
                                                           {kFloorWrite, "write"},
                                                           {kFloorCreate, "create"},
                                                           {kFloorExec, "exec"},
                                                           {kFloorUnlink, "unlink"}};

// Whether `next` keeps one confinement of `held` (a kind of file access, a TCP operation): some
// floor of `next` that `handles` it has nothing `outside(floor)` names beyond what `held`
// allows. Empty when it does; else why not: the last such floor's first excess, or
// `unconfined` when no floor of `next` handles it at all.
template <typename Handles, typename Outside>
std::optional<std::string> Loosened(const std::vector<KernelFloor>& next, std::string unconfined,
                                    Handles handles, Outside outside) {
  std::optional<std::string> why = std::move(unconfined);
  for (const KernelFloor& n : next) {
    if (!handles(n)) {
      continue;
    }
    std::optional<std::string> excess = outside(n);
    if (!excess) {
      return std::nullopt;
    }
    why = std::move(excess);
  }
  return why;
}

// Whether `next` allows no kind of access that `held` denies: some floor of `next` confines
// each kind `held` confines to trees beneath `held`'s, and each TCP operation to its ports.
// The policy allows no more than any one of its floors (every enforcing module must let a call
// through), so one such floor per kind suffices. Empty when it fits; else why not.
std::optional<std::string> Loosens(const std::vector<KernelFloor>& next, const KernelFloor& held) {
  const std::string since =
      fmt::format("the floor of {} is kernel-enforced since launch (a Landlock domain cannot "
                  "be loosened after exec; relaunch the guest, or launch it with --no-landlock to "
                  "keep every rule module-only)",
                  held.source);
  for (const auto& [kind, name] : kKindNames) {
    if ((held.fs_handled & kind) == 0) {
      continue;
    }
    auto why = Loosened(
        next,
        fmt::format("the policy no longer confines {} access to the trees allowed at launch; {}",
                    name, since),
        [kind](const KernelFloor& n) { return (n.fs_handled & kind) != 0; },
        [&, kind, name](const KernelFloor& n) -> std::optional<std::string> {
          for (const KernelFloor::Tree& t : n.trees) {
            if ((t.access & kind) == 0) {
              continue;
            }
            bool covered = false;
            for (const KernelFloor::Tree& h : held.trees) {
              covered = covered || ((h.access & kind) && Beneath(t.path, h.path));
            }
            if (!covered) {
              return fmt::format(
                  "{}: \"{}\" allows {} beneath {}, outside the trees of the launch: {}", n.source,
                  t.rule, name, t.path, since);
            }
          }
          return std::nullopt;
        });
    if (why) {
      return why;
    }
  }
  for (const auto& [op, pick] :
       {std::pair{"connect", &KernelFloor::tcp_connect}, std::pair{"bind", &KernelFloor::tcp_bind}}) {
    const KernelFloor::Ports& h = held.*pick;
    if (!h.handled) {
      continue;
    }
    auto why = Loosened(
        next,
        fmt::format("the policy no longer confines TCP {} to the ports allowed at launch; {}", op,
                    since),
        [pick](const KernelFloor& n) { return (n.*pick).handled; },
        [&, op, pick](const KernelFloor& n) -> std::optional<std::string> {
          for (const auto& [lo, hi] : (n.*pick).ranges) {
            for (uint32_t port = lo; port <= hi; ++port) {
              bool covered = false;
              for (const auto& [hlo, hhi] : h.ranges) {
                covered = covered || (port >= hlo && port <= hhi);
              }
              if (!covered) {
                return fmt::format(
                    "{}: allows TCP {} to port {}, outside the ports of the launch: {}", n.source,
                    op, port, since);
              }
            }
          }
          return std::nullopt;
        });
    if (why) {
      return why;
    }
  }
  return std::nullopt;
}

}  // namespace

std::vector<KernelFloor> FloorsOf(const PolicySet& policy) {
  std::vector<KernelFloor> out;
  for (size_t i = 0; i < policy.modules().size(); ++i) {
    const PolicyModule& m = *policy.modules()[i];
    if (!m.Enforces()) {
      continue;
    }
    KernelFloor f = m.Floor();
    if (f.empty() && f.module_only.empty()) {
      continue;
    }
    f.source = fmt::format("/modules/{} ({})", i, m.Name());
    out.push_back(std::move(f));
  }
  return out;
}

BackendCapabilities CapabilitiesOf(const Backend& backend) {
  BackendCapabilities caps;
  caps.backend = std::string(backend.Name());
  caps.can_inject_fd = backend.CanInjectFd();
  return caps;
}

Result<void> AdmitPolicy(const PolicySet& policy, const BackendCapabilities& caps) {
  if (caps.intercept) {
    if (SyscallSet missing = policy.needed().Minus(*caps.intercept); !missing.empty()) {
      return std::unexpected(Error{
          ENOSYS, fmt::format("the policy needs syscalls outside this guest's intercept set, "
                              "which is fixed at launch (widen it with --intercept): {}",
                              syscalls::SyscallNames(missing))});
    }
  }
  if (!caps.can_inject_fd) {
    for (size_t i = 0; i < policy.modules().size(); ++i) {
      if (policy.modules()[i]->NeedsFdInjection()) {
        return std::unexpected(Error{
            ENOSYS, fmt::format("/modules/{} ({}): needs the notify backend to inject descriptors "
                                "(SECCOMP_IOCTL_NOTIF_ADDFD); the {} backend cannot",
                                i, policy.modules()[i]->Name(), caps.backend)});
      }
    }
  }
  SyscallSet escaping;
  for (int nr : caps.agent_exempt.Numbers()) {
    if (!policy.AgentMayRun(nr)) {
      escaping.Add(nr);
    }
  }
  if (!escaping.empty()) {
    return std::unexpected(Error{
        ENOSYS, fmt::format("the policy enforces or reads the arguments of calls that this "
                            "guest's agent runs without the supervisor (fixed at launch: name "
                            "them in the launch's --intercept, or launch with --no-agent, to keep "
                            "them on the supervisor's path): {}",
                            syscalls::SyscallNames(escaping))});
  }
  if (!caps.exec_images) {
    for (size_t i = 0; i < policy.modules().size(); ++i) {
      if (policy.modules()[i]->JudgesImages()) {
        return std::unexpected(Error{
            ENOSYS,
            fmt::format("/modules/{} ({}): judges the images this guest execs (\"image\": "
                        "\"verify\"), but the guest was launched under the {} backend with no "
                        "exec watch (its launch policy judged no images), and a watch cannot be "
                        "attached to a running guest; relaunch the guest with this policy, or set "
                        "\"image\": \"off\" to judge exec's path alone",
                        i, policy.modules()[i]->Name(), caps.backend)});
      }
    }
  }
  if (!caps.kernel_floor.empty()) {
    const std::vector<KernelFloor> next = FloorsOf(policy);
    for (const KernelFloor& held : caps.kernel_floor) {
      if (held.empty()) {
        continue;
      }
      if (std::optional<std::string> why = Loosens(next, held)) {
        return std::unexpected(Error{ENOSYS, *why});
      }
    }
  }
  return {};
}

}  // namespace hijack::policy


