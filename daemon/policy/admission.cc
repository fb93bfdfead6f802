#include "daemon/policy/admission.h"

#include <fmt/format.h>

#include "daemon/syscalls/syscall_table.h"

namespace hijack::policy {

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
  return {};
}

}  // namespace hijack::policy
