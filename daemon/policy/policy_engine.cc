#include "daemon/policy/policy_engine.h"

#include <fmt/format.h>

#include <atomic>


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
  BackendCapabilities caps = backend_;
  caps.intercept = intercept_;
  caps.agent_exempt = exempt_;
  HIJACK_TRY(AdmitPolicy(*next, caps));
  if (page_shaping_) {
    next->ShapeInPage();
  }
  next->set_version(current->version() + 1);
  const uint64_t version = next->version();
  current_.store(std::shared_ptr<const PolicySet>(std::move(next)), std::memory_order_release);
  return version;
}

void PolicyEngine::SetBackend(const Backend& backend) {
  std::lock_guard lock(swap_mu_);
  std::vector<KernelFloor> floor = std::move(backend_.kernel_floor);
  const bool exec_images = backend_.exec_images;
  backend_ = CapabilitiesOf(backend);
  backend_.kernel_floor = std::move(floor);
  backend_.exec_images = exec_images;
}

void PolicyEngine::SetKernelFloor(std::vector<KernelFloor> floor) {
  std::lock_guard lock(swap_mu_);
  backend_.kernel_floor = std::move(floor);
}

void PolicyEngine::SetExecImages(bool judged) {
  std::lock_guard lock(swap_mu_);
  backend_.exec_images = judged;
}

BackendCapabilities PolicyEngine::Capabilities() const {
  std::lock_guard lock(swap_mu_);
  BackendCapabilities caps = backend_;
  caps.intercept = intercept_;
  caps.agent_exempt = exempt_;
  return caps;
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
  const size_t n = set.DecidersFor(ev.nr).size();
  for (size_t i = 0; i < n; ++i) {
    if (std::optional<Decision> d = DecideStep(set, i, ev, mem, record)) {
      return *d;
    }
  }
  record.decision = Decision::Continue();
  record.module.clear();
  return record.decision;
}

PolicyEngine::Step PolicyEngine::DecideUntilBlocking(const PolicySet& set, size_t first,
                                                     const SyscallEvent& ev, GuestMemory& mem,
                                                     Event& record) {
  std::span<PolicyModule* const> deciders = set.DecidersFor(ev.nr);
  for (size_t i = first; i < deciders.size(); ++i) {
    if (deciders[i]->MayBlock(ev.nr)) {
      return {.decision = std::nullopt, .blocking = i};
    }
    if (std::optional<Decision> d = DecideStep(set, i, ev, mem, record)) {
      return {.decision = d, .blocking = 0};
    }
  }
  record.decision = Decision::Continue();
  record.module.clear();
  return {.decision = record.decision, .blocking = 0};
}

std::optional<Decision> PolicyEngine::DecideStep(const PolicySet& set, size_t index,
                                                 const SyscallEvent& ev, GuestMemory& mem,
                                                 Event& record) {
  PolicyModule* module = set.DecidersFor(ev.nr)[index];
  std::optional<Decision> d = module->DecideDecoded(ev, mem, record.args);
  if (d) {
    record.decision = *d;
    record.module = std::string(module->Name());
  }
  return d;
}

}  // namespace hijack::policy
