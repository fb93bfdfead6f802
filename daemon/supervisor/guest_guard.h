// GuestGuard: the protection of the supervisor against its own guests. Always on, ahead of
// every policy module, on every backend; no policy can remove it (docs/SECURITY.md, "Guest
// against supervisor").
//
//   ProtectionLayers layers = ProbeProtection({.landlock_scope = true});
//   intercept.AddAll(GuardSyscalls(layers));          // at launch, with the policy's calls
//   GuestGuard guard(layers);
//   guard.SetRoot(pid);                               // once the guest's main process exists
//   if (std::optional<Decision> d = guard.Decide(call, *policy)) return *d;  // before modules
//
// A guest runs with the supervisor's uid, so the kernel's own uid checks do not keep it away
// from hijackd. The layers, from the kernel's to the supervisor's:
//   1. hijackd and its helpers are not dumpable (daemon/main.cc, the policy host): no process
//      without CAP_SYS_PTRACE may trace them, read or write their memory, open their
//      /proc/PID/mem or fd/, or take their descriptors (ptrace(2), "Ptrace access mode
//      checking").
//   2. Landlock scoping (ABI 6, launcher/landlock_scope.h): the kernel confines each guest's
//      signals, abstract unix socket connections and ptrace access checks to its own tree.
//   3. Where the kernel has no Landlock scoping, this class refuses (EPERM) the calls that
//      signal, trace, read, write or compare a process outside the guest's own tree.
//   4. Always: calls that would let the guest outrank the supervisor are refused while a policy
//      enforces (or may come to): io_uring (its operations never pass through seccomp), and a
//      seccomp filter of the guest's own with a listener (SECCOMP_RET_USER_NOTIF outranks
//      SECCOMP_RET_TRACE). prlimit64, setpriority, ioprio_set and the sched_set* calls aimed
//      outside the tree are refused too: Landlock does not scope them.
//
// Threads: Decide() runs on the supervisor's loop thread; SetRoot() and layers() on any
// (SetRoot before the guest's first call is decided).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "daemon/policy/policy_set.h"
#include "hijack/decision.h"
#include "hijack/kernel_floor.h"
#include "hijack/syscall_event.h"
#include "hijack/syscall_set.h"

namespace hijack::supervisor {

// What the operator asked for at launch (GuestSpec, hijackd run options).
struct GuardOptions {
  // Scope the guest with Landlock where the kernel can (hijackd run --no-landlock-scope turns it
  // off, e.g. to exercise the supervisor's own refusals).
  bool landlock_scope = true;
  // Install the kernel floors of the policy's fs_guard, exec_guard and net_guard rules as a
  // Landlock ruleset (daemon/launcher/landlock_ruleset.h; hijackd run --no-landlock turns it
  // off: the modules alone enforce).
  bool landlock_floor = true;
  // Use at most this Landlock ABI (hijackd run --landlock-abi, for tests of older kernels);
  // negative: the kernel's.
  int landlock_abi_max = -1;
  // Let the guest use io_uring whatever the policy (hijackd run --allow-io-uring).
  bool allow_io_uring = false;
  // The policy cannot change after launch (hijackd run without --listen). When false, a later
  // SetPolicy may bring enforcement, so what a policy could not recall later (an io_uring
  // instance, a seccomp listener of the guest's own) is refused from the start.
  bool policy_fixed = false;
};

// The protection of one guest, decided at launch and fixed for its life.
struct ProtectionLayers {
  bool supervisor_not_dumpable = false;  // PR_GET_DUMPABLE of the supervisor is 0
  int landlock_abi = 0;                  // 0: no Landlock
  bool landlock_scope = false;           // the guest is scoped (ABI >= 6 and not turned off)
  bool refuse_cross_tree = false;        // GuestGuard refuses calls aimed outside the tree
  bool landlock_floor_wanted = false;    // the operator did not turn the floor off
  // The kernel floors of the launch policy as this kernel holds them (fitted to its ABI), with
  // the rules only the modules hold; set at launch (Supervisor::Launch).
  std::vector<KernelFloor> floors;
  bool floor_active() const;
  bool allow_io_uring = false;
  bool policy_fixed = false;

  struct Layer {
    // "not-dumpable", "landlock-scope", "landlock-floor", "cross-tree-refusal", ...; and one
    // "kernel-enforced" or "module-only" entry per rule of a confining module.
    std::string name;
    bool active = false;
    std::string detail;  // what it holds, or why it is off
  };
  std::vector<Layer> Describe() const;
  // One line for hijackd run's report: the active layers by name, and the missing ones.
  std::string Summary() const;
};

// The layers this process and kernel give a guest launched with `options`.
ProtectionLayers ProbeProtection(const GuardOptions& options);

// Sets layers.floors to the kernel floors of `policy` (policy::FloorsOf) as this kernel holds
// them (launcher::FitFloorToAbi; none when the floor was turned off), with what the guest needs
// to start kept reachable: execve(2) opens the program `exe` and its interpreter itself, and the
// loader maps `agent_library` (when not empty), none of which a module sees as a call of the
// guest. Returns true when a floor the policy has cannot be held here. Reads the files (ELF
// headers); any thread.
bool AddKernelFloors(ProtectionLayers& layers, const policy::PolicySet& policy,
                     const std::string& exe, const std::string& agent_library);

// The calls GuestGuard must see for `layers`; every guest's intercept set holds them.
SyscallSet GuardSyscalls(const ProtectionLayers& layers);

class GuestGuard {
 public:
  explicit GuestGuard(ProtectionLayers layers) : layers_(std::move(layers)) {}

  const ProtectionLayers& layers() const { return layers_; }

  // The guest's main process; its descendants are the guest's tree. Until it is known, every
  // call aimed at another process is refused (fail closed). `contained`: the guest is pid 2 of
  // a pid namespace of its own (launcher/namespace_init.h). Pids in its calls' arguments are
  // then the namespace's: the kernel resolves them there, so they can name no process outside
  // it, and the one process there outside the guest's tree is the init (pid 1), which is
  // refused; the host's /proc is not asked about them. Pids the supervisor learns itself (the
  // caller's own process group, a pidfd's target) stay the supervisor's, and orphans of the
  // tree, adopted by the init, count as the tree's.
  void SetRoot(pid_t root, bool contained = false);

  // The guard's answer for `call` of a guest whose current policy is `policy`, or nullopt when
  // the call is none of its business (the policy decides). Reads /proc for the ancestry of a
  // target; a target whose ancestry cannot be read is outside the tree.
  std::optional<Decision> Decide(const SyscallEvent& call, const policy::PolicySet& policy) const;

 private:
  bool InTree(pid_t pid) const;  // `pid` in the supervisor's pid namespace
  bool GroupInTree(pid_t pgrp) const;
  // A process or group named in the call's arguments (the guest's pid namespace when contained).
  bool ArgInTree(pid_t pid) const;
  bool ArgGroupInTree(pid_t pgrp) const;
  std::optional<Decision> DecideTarget(const SyscallEvent& call) const;
  std::optional<Decision> DecideEscape(const SyscallEvent& call,
                                       const policy::PolicySet& policy) const;

  const ProtectionLayers layers_;
  std::atomic<pid_t> root_{-1};
  std::atomic<bool> contained_{false};
  std::atomic<pid_t> init_{-1};  // contained: the namespace's init, in the supervisor's namespace
  mutable int warnings_ = 0;  // loop thread only: refusals logged so far
};

}  // namespace hijack::supervisor
