#include "daemon/modules/deny/deny_module.h"

#include "hijack/result.h"

namespace hijack::modules {

std::optional<Decision> DenyModule::Decide(const SyscallEvent&, GuestMemory&) {
  denied_.fetch_add(1, std::memory_order_relaxed);
  return Decision::Fail(errno_);
}

nlohmann::json DenyModule::Stats() const {
  return {{"denied", denied_.load(std::memory_order_relaxed)}, {"errno", ErrnoName(errno_)}};
}

policy::ModuleInfo DenyModule::Info() {
  return {
      .name = "deny",
      .summary = "make the listed system calls fail with an errno without running them",
      .settings = {policy::setting::Syscalls("syscalls", "syscall names or %classes denied")
                       .Required(),
                   policy::setting::Errno("errno name or number the calls fail with", "EPERM")},
      .factory = [](policy::ConfigReader& config) -> Result<std::unique_ptr<PolicyModule>> {
        HIJACK_ASSIGN_OR_RETURN(auto syscalls, config.Syscalls("syscalls"));
        if (!syscalls) {
          return MakeError(config.PathOf("syscalls") + ": missing (the calls to deny)");
        }
        HIJACK_ASSIGN_OR_RETURN(auto err, config.Errno("errno", EPERM));
        return std::make_unique<DenyModule>(*syscalls, err);
      },
  };
}

}  // namespace hijack::modules
