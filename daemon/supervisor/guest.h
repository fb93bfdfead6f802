// Guest: the supervisor's side of one guest: its policy engine, its observers on the event
// bus, and its exit status. Backends talk to it through SyscallHandler, and a backend with an
// executive page through its ExecPageClient side (hijack/exec_page_client.h).
//
//   Guest guest(1, std::move(policy), intercept, bus, [](int status) { ... });
//   backend.Launch(spec, guest);
//
// A call whose policy reaches a module that may block (PolicyModule::MayBlock) is taken over from
// the backend (CallDeferral) and that module's Decide runs on the DecisionPool; the chain goes
// on from the next module on the loop, and the answer goes back through the backend's
// DeferredAnswer. The call keeps the policy snapshot it started with, whatever SetPolicy does
// meanwhile. The arguments are decoded once, before the chain, into the call's Event: every
// module (DecideDecoded), the trace and the events see those.
//
// Threads: the SyscallHandler and ExecPageClient callbacks run on the loop thread; policy(),
// Replace() and Stats() on any thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "daemon/events/event_bus.h"
#include "daemon/observe/result_observer.h"
#include "daemon/policy/policy_engine.h"
#include "daemon/supervisor/decision_pool.h"
#include "daemon/supervisor/guest_guard.h"
#include "hijack/backend.h"

namespace hijack::supervisor {

// What a guest remembers of its denials, on the loop thread (guest.cc, NoteDenial): the agent
// library it preloads, whether a denial of it was said, and the last denied exec (its errno and
// DenialText), which explains a start that failed.
struct DenialNotes {
  std::string agent_library;
  bool warned_agent = false;
  std::optional<std::pair<int, std::string>> denied_exec;
};

class Guest final : public SyscallHandler, public ExecPageClient {
 public:
  using ExitCallback = std::function<void(int wait_status)>;

  // A GuestGuard with `protection` judges every call before the policy does (guest_guard.h);
  // `intercept` must hold GuardSyscalls(protection). `pool`, when given, must outlive every call
  // of the guest (the Supervisor's does); without one, modules that may block decide on the loop
  // thread like the others (a Guest driven by a test or a tool on its own).
  Guest(uint64_t id, std::shared_ptr<policy::PolicySet> policy, SyscallSet intercept,
        ProtectionLayers protection, events::EventBus& bus, ExitCallback on_exit,
        DecisionPool* pool = nullptr);
  ~Guest() override;

  uint64_t id() const { return id_; }
  policy::PolicyEngine& engine() { return engine_; }
  GuestGuard& guard() { return guard_; }
  const GuestGuard& guard() const { return guard_; }
  std::optional<int> exit_status() const { return exit_status_; }
  // A process the supervisor attached to (hijackd strace -p) rather than started: its calls are
  // only watched, so the guard decides none of them either (the policy enforces nothing: the
  // supervisor admits none that does). Before its first call; loop thread.
  void ObserveOnly() { observe_only_ = true; }
  // Events the guest's own observers lost because they fell behind.
  uint64_t observer_drops() const { return observers_->dropped(); }

  // SyscallHandler.
  std::optional<Decision> OnSyscall(const SyscallEvent& call, GuestMemory& mem, Event& record,
                                    CallDeferral& deferral) override;
  bool WantsResult(int nr) const override;
  void BeforeContinue(Event& record) override;
  // Reads the out-parameters of a call whose arguments a module asked for (DecodeReturned).
  void OnReturned(Event& record, GuestMemory& mem) override;
  void OnCompleted(Event&& record) override;
  void OnSignal(const SyscallEvent& thread, const SignalDelivery& signal) override;
  void OnProcessEnded(const SyscallEvent& process, int wait_status) override;
  void OnGuestExit(int wait_status) override;
  // The policy's modules that judge images (PolicyModule::JudgesImages), in order; the first
  // Fail kills the process.
  bool WantsExecImages() const override;
  std::optional<Decision> OnExecImage(const SyscallEvent& exec, GuestMemory& mem,
                                      Event& record) override;
  // The denied execve/execveat that ended the guest's start, when the policy denied it with
  // `err` (DenialText); empty otherwise.
  std::string ExplainStartFailure(int err) const override;

  // The agent library the guest preloads (GuestSpec::agent_library): a denial of it is said at
  // once, since the loader only warns and the guest then runs without the agent. Call before
  // launch.
  void SetAgentLibrary(std::string path) { notes_->agent_library = std::move(path); }
  ExecPageClient* exec_page_client() override { return this; }
  // The observer that learns the results of the calls a notify backend lets run (it must outlive
  // the guest's calls; the Supervisor's does); null: those results stay unknown. Call before
  // launch, and again with null when the guest ends up under a backend that sees results itself.
  // With FollowProcesses it also reports how each process of the guest ended (exit lines).
  void SetResultObserver(observe::ResultObserver* observer);
  // From now on the observer also reports how each of the guest's processes ends
  // (ResultObserver::WatchProcesses): for a policy whose modules want it
  // (PolicyModule::WantsProcessEnds) or a guest whose processes hijackd cannot wait for (one
  // adopted from a container runtime). Idempotent; nothing without an observer. Loop thread.
  void FollowProcesses();

  // ExecPageClient. The queries only read the current policy; CommitExempt records the calls
  // with the policy engine (PolicyEngine::MarkExempt), which then refuses policies that would
  // enforce them.
  bool Exemptible(int nr) const override;
  bool WantsEvents(int nr) const override;
  bool WantsLatency(int nr) const override;
  uint64_t PolicyVersion() const override;
  void CommitExempt(const SyscallSet& exempt) override;
  PageShaping CommitPageShaping() override;
  void OnAgentCounts(int nr, uint64_t calls, uint64_t errors, uint64_t total_ns,
                     std::span<const uint64_t> log2_histogram) override;

 private:
  void WatchProcesses();  // the observer's process watch, when there is an observer
  // The guard, then the policy's chain; nullopt when the call went to the decision pool.
  std::optional<Decision> Decide(const SyscallEvent& call, GuestMemory& mem, Event& record,
                                 CallDeferral& deferral);

  const uint64_t id_;
  policy::PolicyEngine engine_;
  GuestGuard guard_;
  const SyscallSet guarded_;  // GuardSyscalls(guard_.layers()): never exempt for the agent
  events::EventBus& bus_;
  std::shared_ptr<events::Subscription> observers_;
  ExitCallback on_exit_;
  DecisionPool* const pool_;
  std::optional<int> exit_status_;
  std::shared_ptr<DenialNotes> notes_ = std::make_shared<DenialNotes>();
  observe::ResultObserver* observer_ = nullptr;
  bool follow_processes_ = false;  // FollowProcesses was called
  bool observe_only_ = false;      // ObserveOnly was called
};

}  // namespace hijack::supervisor
