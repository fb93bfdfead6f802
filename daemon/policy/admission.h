// Policy admission: the one place that decides whether a policy may run on a guest.
//
//   BackendCapabilities caps = CapabilitiesOf(backend);      // before launch: no intercept yet
//   HIJACK_TRY(AdmitPolicy(*policy, caps));                 // launch
//   caps = engine.Capabilities();                            // a running guest
//   HIJACK_TRY(AdmitPolicy(*next, caps));                    // SetPolicy, ValidatePolicy
//
// Launching a guest, replacing its policy (PolicyEngine::Replace, behind SetPolicy) and checking
// a policy against a guest (ValidatePolicy, `hijackctl policy check FILE --guest N`) all call
// AdmitPolicy, so a check can never call valid what a replacement then refuses. The rules:
//   - every call the policy needs is in the guest's intercept set, which the seccomp filter
//     fixed at launch (seccomp(2): a filter cannot be removed or widened by its supervisor);
//   - a module that answers with Decision::InjectFd runs only on a backend that can place a
//     descriptor in the guest (seccomp_unotify(2), SECCOMP_IOCTL_NOTIF_ADDFD);
//   - no module enforces, or reads the arguments of, a call that the guest's agent runs without
//     the supervisor (fixed at launch, like the intercept set): such calls would escape it;
//   - the policy allows nothing that the guest's Landlock floor, installed at launch from the
//     launch policy's modules (include/hijack/kernel_floor.h), denies: a Landlock domain can
//     only be tightened after exec (landlock_restrict_self(2)), so such a rule would silently not
//     work. Refused, naming the rule; a tighter policy is admitted (the module is the precise
//     layer on top of the floor);
//   - a module that judges exec'd images (exec_guard "image": "verify") runs only on a guest
//     whose exec stops reach the supervisor (BackendCapabilities::exec_images): else its image
//     check would silently not run and the path check alone would race.
//
// Threads: AdmitPolicy is a pure function of its arguments; any thread.
#pragma once

#include <optional>
#include <string>

#include "daemon/policy/policy_set.h"
#include "hijack/backend.h"
#include "hijack/kernel_floor.h"
#include "hijack/result.h"
#include "hijack/syscall_set.h"

namespace hijack::policy {

// What a guest's backend can apply, and what the guest's launch fixed. A value: copied out of a
// PolicyEngine under its lock, or built from a Backend before a launch.
struct BackendCapabilities {
  std::string backend = "notify";  // named in refusals
  // Decision::InjectFd (SECCOMP_IOCTL_NOTIF_ADDFD): notify can, ptrace cannot.
  bool can_inject_fd = true;
  // The calls the guest's filter sends to the supervisor. Empty optional before the launch: the
  // launch derives the intercept set from the policy, so no call can be missing.
  std::optional<SyscallSet> intercept;
  // The calls the guest's agent runs without the supervisor (PolicyEngine::MarkExempt).
  SyscallSet agent_exempt;
  // What the kernel has held since launch (Landlock), fitted to the kernel's ABI. Empty: none.
  std::vector<KernelFloor> kernel_floor = {};
  // Whether the guest's exec'd images can be judged (PolicyModule::JudgesImages) at an exec
  // stop: always under the ptrace backends; under notify only when the launch policy judged
  // images, so that its exec watch (a tracer for exec, fork and signal stops) was attached to
  // the guest's first process before anything ran. A watch cannot be attached later: the
  // guest's other processes exist by then, may already be traced by the guest, and may have
  // escaped any tracer (clone(CLONE_UNTRACED) is refused only while a watch is wanted).
  bool exec_images = true;
};

// The kernel floors of `policy`'s modules (PolicyModule::Floor), each with its `source` set
// ("/modules/1 (fs_guard)"), including empty ones that report module-only rules.
std::vector<KernelFloor> FloorsOf(const PolicySet& policy);

// The capabilities of `backend` for a guest not launched yet.
BackendCapabilities CapabilitiesOf(const Backend& backend);

// Whether `policy` may run on a guest with `caps`. Errors (code ENOSYS, the policy is fine but
// this guest cannot apply it): the message names the missing calls, or the module by JSON path
// ("/modules/1 (fs_guard): ..."). The first rule broken is reported.
[[nodiscard]] Result<void> AdmitPolicy(const PolicySet& policy, const BackendCapabilities& caps);

}  // namespace hijack::policy
