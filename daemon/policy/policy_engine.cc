#include "daemon/policy/policy_engine.h"

#include <fmt/format.h>

#include <atomic>

#include "daemon/syscalls/syscall_table.h"

namespace hijack::policy {

PolicyEngine::PolicyEngine(std::shared_ptr<PolicySet> initial, SyscallSet intercept)
    : intercept_(intercept) {
  initial->set_version(1);
  current_.store(std::move(initial));
}

std::shared_ptr<const PolicySet> PolicyEngine::Current() const {
  return current_.load(std::memory_order_acquire);
}

Result<uint64_t> PolicyEngine::Replace(std::shared_ptr<PolicySet> next,
                                       std::optional<uint64_t> expected_version) {
  std::lock_guard lock(swap_mu_);
  auto current = Current();
  if (expected_version && *expected_version != current->version()) {
    return std::unexpected(Error{ESTALE, fmt::format("policy version is {}, not the expected {}",
                                                     current->version(), *expected_version)});
  }
  SyscallSet missing = next->needed().Minus(intercept_);
  if (!missing.empty()) {
    const std::string names = syscalls::SyscallNames(missing);
    return std::unexpected(Error{
        ENOSYS, fmt::format("the policy needs syscalls outside this guest's intercept set, which "
                            "is fixed at launch (widen it with --intercept): {}",
                            names)});
  }
  if (!can_inject_fd_) {
    for (size_t i = 0; i < next->modules().size(); ++i) {
      if (next->modules()[i]->NeedsFdInjection()) {
        return std::unexpected(
            Error{ENOSYS, fmt::format("/modules/{} ({}): needs a backend that injects descriptors "
                                      "(notify); this guest's backend cannot",
                                      i, next->modules()[i]->Name())});
      }
    }
  }
  SyscallSet escaping;
  for (int nr : exempt_.Numbers()) {
    if (!next->AgentMayRun(nr)) {
      escaping.Add(nr);
    }
  }
  if (!escaping.empty()) {
    const std::string names = syscalls::SyscallNames(escaping);
    return std::unexpected(Error{
        ENOSYS, fmt::format("the policy enforces or reads the arguments of calls that this "
                            "guest's agent runs without the supervisor (fixed at launch: name "
                            "them in the launch's --intercept, or launch with --no-agent, to keep "
                            "them on the supervisor's path): {}",
                            names)});
  }
  if (page_shaping_) {
    next->ShapeInPage();
  }
  next->set_version(current->version() + 1);
  const uint64_t version = next->version();
  current_.store(std::shared_ptr<const PolicySet>(std::move(next)), std::memory_order_release);
  return version;
}

void PolicyEngine::MarkExempt(int nr) const {
  std::lock_guard lock(swap_mu_);
  exempt_.Add(nr);
}

void PolicyEngine::EnablePageShaping() {
  std::lock_guard lock(swap_mu_);
  if (!page_shaping_) {
    page_shaping_ = true;
    Current()->ShapeInPage();
  }
}

SyscallSet PolicyEngine::Exempt() const {
  std::lock_guard lock(swap_mu_);
  return exempt_;
}

Decision PolicyEngine::Decide(const PolicySet& set, const SyscallEvent& ev, GuestMemory& mem,
                              Event& record) {
  for (PolicyModule* module : set.DecidersFor(ev.nr)) {
    if (std::optional<Decision> d = module->Decide(ev, mem)) {
      record.decision = *d;
      record.module = std::string(module->Name());
      return *d;
    }
  }
  record.decision = Decision::Continue();
  record.module.clear();
  return record.decision;
}

}  // namespace hijack::policy
