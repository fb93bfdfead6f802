// PolicyEngine: the current policy of one guest, swapped atomically, and the decision chain.
//
//   PolicyEngine engine(std::move(initial_set), intercept);
//   auto snapshot = engine.Current();                      // any thread
//   Decision d = engine.Decide(*snapshot, ev, mem, record); // loop thread
//   engine.Replace(next, /*expected_version=*/3);          // any thread; atomic, versioned
//
// The intercept set is fixed when the guest starts (seccomp filters cannot be removed), so a
// replacement that needs calls outside it is refused with the list of the missing calls.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

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
  // version. Errors: code ESTALE on a version conflict; code ENOSYS when `next` needs calls
  // outside the intercept set (the message lists them). The current policy is unchanged on error.
  Result<uint64_t> Replace(std::shared_ptr<PolicySet> next,
                           std::optional<uint64_t> expected_version);

  // Runs the enforcing modules that need ev.nr in order; the first decision wins. Fills
  // record.decision and record.module.
  static Decision Decide(const PolicySet& set, const SyscallEvent& ev, GuestMemory& mem,
                         Event& record);

 private:
  const SyscallSet intercept_;
  mutable std::mutex swap_mu_;  // serializes writers; readers use the atomic load
  std::atomic<std::shared_ptr<const PolicySet>> current_;
};

}  // namespace hijack::policy
