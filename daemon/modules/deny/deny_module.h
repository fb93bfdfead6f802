// deny: the listed calls fail with one errno and never reach the kernel.
//
//   {"module": "deny", "syscalls": ["ptrace", "mount", "%ipc"], "errno": "EPERM"}
//
// `syscalls` (required) takes names and %classes; `errno` defaults to EPERM.
#pragma once

#include <atomic>
#include <memory>

#include "daemon/policy/module_registry.h"

namespace hijack::modules {

class DenyModule final : public PolicyModule {
 public:
  DenyModule(SyscallSet syscalls, int err) : syscalls_(syscalls), errno_(err) {}

  static policy::ModuleInfo Info();

  std::string_view Name() const override { return "deny"; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return true; }
  std::optional<Decision> Decide(const SyscallEvent& ev, GuestMemory& mem) override;
  nlohmann::json Stats() const override;

 private:
  const SyscallSet syscalls_;
  const int errno_;
  std::atomic<uint64_t> denied_{0};
};

}  // namespace hijack::modules
