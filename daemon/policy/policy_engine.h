// PolicyEngine: the current policy of one guest, swapped atomically, and the decision chain.
//
//   PolicyEngine engine(std::move(initial_set), intercept);
//   auto snapshot = engine.Current();                      // any thread
//   Decision d = engine.Decide(*snapshot, ev, mem, record); // loop thread
//   engine.Replace(next, /*expected_version=*/3);          // any thread; atomic, versioned
//
// The intercept set is fixed when the guest starts (seccomp filters cannot be removed), so a
// replacement that needs calls outside it is refused with the list of the missing calls; the
// rules are AdmitPolicy's (admission.h), the same that launch and validation apply.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

#include "daemon/policy/admission.h"
#include "daemon/policy/policy_set.h"
#include "hijack/decision.h"
#include "hijack/event.h"
#include "hijack/guest_memory.h"

namespace hijack::policy {

class PolicyEngine {
 public:
  PolicyEngine(std::shared_ptr<PolicySet> initial, SyscallSet intercept);

  std::shared_ptr<const PolicySet> Current() const;
  const SyscallSet& intercept() const { return intercept_; }

  // Installs `next` if the current version equals `expected_version` (when given). Returns the new
  // version. Errors: code ESTALE on a version conflict; code ENOSYS when AdmitPolicy refuses
  // `next` for this guest (calls outside the intercept set, descriptor injection on a backend
  // that cannot, calls the agent runs). The current policy is unchanged on error.
  [[nodiscard]] Result<uint64_t> Replace(std::shared_ptr<PolicySet> next,
                                         std::optional<uint64_t> expected_version);

  // The guest's backend, whose capabilities (CapabilitiesOf) Replace() admits policies against.
  // Call before sharing the engine; until then it admits as for notify.
  void SetBackend(const Backend& backend);

  // The Landlock floor the guest was launched with (fitted to the kernel): Replace() then
  // refuses a policy that allows what it denies. Call before sharing the engine.
  void SetKernelFloor(std::vector<KernelFloor> floor);
  // Whether the guest's exec stops reach the supervisor (BackendCapabilities::exec_images):
  // Replace() refuses a policy that judges images when they do not. Call before sharing the
  // engine.
  void SetExecImages(bool judged);

  // What AdmitPolicy checks a replacement against now: the backend's capabilities, the intercept
  // set and the calls marked exempt. Any thread.
  BackendCapabilities Capabilities() const;

  // Records that the guest's agent runs call `nr` without the supervisor (the filter exempts it
  // from the trampoline; fixed at launch like the intercept set). Replace() then refuses any
  // policy that would enforce `nr` or read its arguments, since such calls would escape it.
  void MarkExempt(int nr) const;
  // The calls MarkExempt recorded.
  SyscallSet Exempt() const;

  // The guest has an executive page: from now on, the current policy and every replacement hand
  // their page buckets to it (PolicySet::ShapeInPage) before they decide a call.
  void EnablePageShaping();

  // Runs the enforcing modules that need ev.nr in order; the first decision wins. Fills
  // record.decision and record.module. Modules that may block run here too, on the caller's
  // thread: the supervisor uses the steps below instead.
  static Decision Decide(const PolicySet& set, const SyscallEvent& ev, GuestMemory& mem,
                         Event& record);

  // The chain of Decide() in steps, for a caller that runs modules that may block elsewhere.
  // DecideUntilBlocking runs the deciders of ev.nr from index `first` on, and stops at the first
  // one whose MayBlock(ev.nr) is true (without running it): `decision` is then empty and
  // `blocking` is its index. Otherwise `decision` is the chain's (Continue when nobody objected)
  // and record.decision/module are filled. DecideStep runs decider `index` alone (any thread):
  // its decision fills the record; nullopt leaves the call to the deciders after it.
  struct Step {
    std::optional<Decision> decision;
    size_t blocking = 0;
  };
  static Step DecideUntilBlocking(const PolicySet& set, size_t first, const SyscallEvent& ev,
                                  GuestMemory& mem, Event& record);
  static std::optional<Decision> DecideStep(const PolicySet& set, size_t index,
                                            const SyscallEvent& ev, GuestMemory& mem,
                                            Event& record);

 private:
  const SyscallSet intercept_;
  mutable std::mutex swap_mu_;  // serializes writers and guards exempt_
  mutable SyscallSet exempt_;
  BackendCapabilities backend_;  // its intercept and agent_exempt stay empty: see Capabilities()
  bool page_shaping_ = false;  // guarded by swap_mu_
  std::atomic<std::shared_ptr<const PolicySet>> current_;
};

}  // namespace hijack::policy
