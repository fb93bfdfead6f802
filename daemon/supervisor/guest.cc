#include "daemon/supervisor/guest.h"

#include <sys/syscall.h>

#include <cstdlib>
#include <spdlog/spdlog.h>

#include "common/monotonic.h"
#include "daemon/supervisor/denial_text.h"
#include "daemon/syscalls/arg_decoder.h"

namespace hijack::supervisor {
namespace {
// Events the module observers of one guest may fall behind by before the bus drops (and counts).
constexpr size_t kObserverQueue = 1 << 16;

// A call waiting for a module that may block: what its chain needs to go on, owned by the pool's
// work and then by the loop's continuation, never by both at once.
struct PendingDecision {
  std::shared_ptr<const policy::PolicySet> policy;  // the snapshot the call started with
  SyscallEvent call;
  Event record;
  std::shared_ptr<DeferredAnswer> answer;
  size_t blocking = 0;  // the index of the decider that runs on the pool
  std::optional<Decision> decision;
  // What the guest remembers of its denials (NoteDenial), shared: the call may outlive it.
  std::shared_ptr<DenialNotes> notes;
};

// After the chain decided a call (loop thread): a denial gets its arguments decoded when no
// module asked for them, so that its event always names what was denied, and the denials that
// end a start or keep the agent out are remembered or said.
void NoteDenial(DenialNotes& notes, const SyscallEvent& call, GuestMemory& mem, Event& record) {
  if (!IsDenial(record)) {
    return;
  }
  // Denials are few and each one is read by people: what was denied is worth one read of guest
  // memory even when no module needed the arguments (the call is still pending here).
  if (record.args.empty()) {
    record.args = syscalls::DecodeArguments(call, mem);
  }
  const DenialReason* reason = record.decision.reason();
  if ((call.nr == SYS_execve || call.nr == SYS_execveat) &&
      (reason == nullptr || reason->would_fail == 0)) {
    notes.denied_exec = std::pair(record.decision.error(), DenialText(record));
  }
  if (!notes.warned_agent && reason != nullptr && !notes.agent_library.empty() &&
      reason->path == notes.agent_library) {
    notes.warned_agent = true;
    spdlog::warn("{}: the guest runs without hijackd's agent (every call goes through the "
                 "supervisor); the policy must allow \"{}\" to be read",
                 DenialText(record), notes.agent_library);
  }
}

// Runs decider p->blocking on the pool, then the rest of the chain on the loop, until the call
// has a decision or reaches the next module that may block.
void DecideOnPool(DecisionPool& pool, std::unique_ptr<PendingDecision> p) {
  PendingDecision* state = p.get();
  pool.Run(
      [state] {
        state->decision = policy::PolicyEngine::DecideStep(
            *state->policy, state->blocking, state->call, state->answer->memory(), state->record);
      },
      [&pool, p = std::move(p)]() mutable {
        if (p->decision) {
          NoteDenial(*p->notes, p->call, p->answer->memory(), p->record);
          p->answer->Answer(*p->decision, std::move(p->record));
          return;
        }
        policy::PolicyEngine::Step next = policy::PolicyEngine::DecideUntilBlocking(
            *p->policy, p->blocking + 1, p->call, p->answer->memory(), p->record);
        if (next.decision) {
          NoteDenial(*p->notes, p->call, p->answer->memory(), p->record);
          p->answer->Answer(*next.decision, std::move(p->record));
          return;
        }
        p->blocking = next.blocking;
        DecideOnPool(pool, std::move(p));
      });
}

}  // namespace

Guest::Guest(uint64_t id, std::shared_ptr<policy::PolicySet> policy, SyscallSet intercept,
             ProtectionLayers protection, events::EventBus& bus, ExitCallback on_exit,
             DecisionPool* pool)
    : id_(id),
      engine_(std::move(policy), intercept),
      guard_(std::move(protection)),
      guarded_(GuardSyscalls(guard_.layers())),
      bus_(bus),
      on_exit_(std::move(on_exit)),
      pool_(pool) {
  observers_ = bus_.Subscribe(
      "guest " + std::to_string(id) + " modules", kObserverQueue,
      [](const events::EventItem& item, uint64_t) {
        if (item.event.signal || item.event.exit_status) {
          for (const auto& m : item.policy->modules()) {
            m->ObserveProcessEvent(item.event);
          }
          return;
        }
        for (PolicyModule* m : item.policy->ObserversFor(item.event.call.nr)) {
          m->Observe(item.event);
        }
      },
      [id](const events::EventItem& item) { return item.event.call.guest_id == id; });
}

Guest::~Guest() {
  if (observer_ != nullptr) {
    observer_->StopWatching(id_);  // its process watch calls into this guest
  }
}

void Guest::SetResultObserver(observe::ResultObserver* observer) {
  if (observer_ != nullptr && observer_ != observer) {
    observer_->StopWatching(id_);
  }
  observer_ = observer;
  if (follow_processes_) {
    WatchProcesses();
  }
}

void Guest::FollowProcesses() {
  if (!follow_processes_) {
    follow_processes_ = true;
    WatchProcesses();
  }
}

void Guest::WatchProcesses() {
  if (observer_ != nullptr) {
    observer_->WatchProcesses(id_, [this](pid_t pid, int wait_status) {
      SyscallEvent process;
      process.guest_id = id_;
      process.pid = pid;
      process.tid = pid;
      process.nr = -1;
      process.start_ns = common::MonotonicNs();
      OnProcessEnded(process, wait_status);
    });
  }
}

std::optional<Decision> Guest::OnSyscall(const SyscallEvent& call, GuestMemory& mem,
                                         Event& record, CallDeferral& deferral) {
  if (observer_ != nullptr) {
    observer_->NextCall(call.tid);  // the thread's previous call has returned
    observer_->SawProcess(id_, call.pid);
  }
  std::optional<Decision> d = Decide(call, mem, record, deferral);
  if (d) {
    NoteDenial(*notes_, call, mem, record);
  }
  return d;
}

std::string Guest::ExplainStartFailure(int err) const {
  if (notes_->denied_exec && notes_->denied_exec->first == err) {
    return notes_->denied_exec->second;
  }
  return {};
}

std::optional<Decision> Guest::Decide(const SyscallEvent& call, GuestMemory& mem, Event& record,
                                      CallDeferral& deferral) {
  auto snapshot = engine_.Current();
  record.policy_version = snapshot->version();
  if (snapshot->WantsArguments(call.nr)) {
    record.args = syscalls::DecodeArguments(call, mem, {.shown_bytes = snapshot->shown_bytes()});
  }
  // Ahead of every module: no policy may let a guest reach its supervisor.
  if (std::optional<Decision> d = observe_only_ ? std::nullopt : guard_.Decide(call, *snapshot)) {
    record.decision = *d;
    record.module = "guard";
    return *d;
  }
  policy::PolicyEngine::Step step =
      policy::PolicyEngine::DecideUntilBlocking(*snapshot, 0, call, mem, record);
  if (step.decision) {
    return step.decision;
  }
  std::shared_ptr<DeferredAnswer> answer = pool_ != nullptr ? deferral.Defer() : nullptr;
  if (answer == nullptr) {
    // No pool, or the backend cannot hold this call: the rest of the chain decides here.
    for (size_t i = step.blocking;; i = step.blocking) {
      if (std::optional<Decision> d =
              policy::PolicyEngine::DecideStep(*snapshot, i, call, mem, record)) {
        return d;
      }
      step = policy::PolicyEngine::DecideUntilBlocking(*snapshot, i + 1, call, mem, record);
      if (step.decision) {
        return step.decision;
      }
    }
  }
  auto pending = std::make_unique<PendingDecision>();
  pending->policy = std::move(snapshot);
  pending->call = call;
  pending->record = std::move(record);
  pending->answer = std::move(answer);
  pending->blocking = step.blocking;
  pending->notes = notes_;
  DecideOnPool(*pool_, std::move(pending));
  return std::nullopt;
}

void Guest::OnReturned(Event& record, GuestMemory& mem) {
  if (!record.args.empty() && record.result) {
    record.returned_args =
        syscalls::DecodeReturned(record.call, *record.result, mem, record.args,
                                 {.shown_bytes = engine_.Current()->shown_bytes()});
  }
}

bool Guest::WantsResult(int nr) const { return !engine_.Current()->ObserversFor(nr).empty(); }

bool Guest::Exemptible(int nr) const {
  // Observers (stats, trace) see the agent's calls through the event bus, and page buckets shape
  // them in the guest; a module that decides calls otherwise, or wants their arguments read from
  // the guest, needs every call on the supervisor's path.
  return !guarded_.Contains(nr) && engine_.Current()->AgentMayRun(nr);
}

void Guest::CommitExempt(const SyscallSet& exempt) {
  for (int nr : exempt.Numbers()) {
    // The backend asked on this thread, and no policy can be swapped in between: a guest is
    // reachable for SetPolicy only once its launch returned. Checked anyway, since a call that
    // escaped a deny rule would be a hole in the boundary.
    if (!Exemptible(nr)) {
      spdlog::critical("guest {}: syscall {} was committed as exempt for the agent, but its "
                       "policy needs it on the supervisor's path",
                       id_, nr);
      std::abort();
    }
    engine_.MarkExempt(nr);
  }
}

bool Guest::WantsEvents(int nr) const {
  if (bus_.HasStreams()) {
    return true;  // a WatchEvents client sees each call, whichever way it came
  }
  for (PolicyModule* m : engine_.Current()->ObserversFor(nr)) {
    if (!m->AcceptsCounts()) {
      return true;
    }
  }
  return false;
}

bool Guest::WantsLatency(int nr) const {
  if (bus_.HasStreams()) {
    return true;  // a stream's events carry times, and the agent then sends events anyway
  }
  // Observers that take events (WantsEvents) get them timed whatever this says; a module that
  // takes counts says whether they need times.
  for (PolicyModule* m : engine_.Current()->ObserversFor(nr)) {
    if (!m->AcceptsCounts() || m->WantsLatency()) {
      return true;
    }
  }
  return false;
}

uint64_t Guest::PolicyVersion() const { return engine_.Current()->version(); }

PageShaping Guest::CommitPageShaping() {
  engine_.EnablePageShaping();
  auto snapshot = engine_.Current();
  return {snapshot->version(), snapshot->page_buckets()};
}

void Guest::OnAgentCounts(int nr, uint64_t calls, uint64_t errors, uint64_t total_ns,
                          std::span<const uint64_t> log2_histogram) {
  for (PolicyModule* m : engine_.Current()->ObserversFor(nr)) {
    if (m->AcceptsCounts()) {
      m->AddCounts(nr, calls, errors, total_ns, log2_histogram);
    }
  }
}

void Guest::BeforeContinue(Event& record) {
  const int nr = record.call.nr;
  // exit(2) and exit_group(2) never return (strace prints "= ?" for them too); nobody reads the
  // result of a call no observer and no stream wants.
  if (observer_ == nullptr || nr == SYS_exit || nr == SYS_exit_group ||
      (!bus_.HasStreams() && !WantsResult(nr))) {
    return;
  }
  if (observer_->Expect(record.call.tid, nr)) {
    return;
  }
  record.result_note =
      observer_->available() ? observer_->last_refusal() : observer_->unavailable_reason();
  observer_->SayWhyOnce(record.result_note);
}

void Guest::OnCompleted(Event&& record) {
  auto publish = [bus = &bus_, policy = engine_.Current()](Event&& event) {
    auto item = std::make_shared<events::EventItem>();
    item->event = std::move(event);
    item->policy = policy;
    bus->Publish(std::move(item));
  };
  if (observer_ != nullptr && !record.result && record.decision.runs_call()) {
    // A call the backend let run: it completes when the observer has its return.
    observer_->Await(std::move(record), std::move(publish));
    return;
  }
  publish(std::move(record));
}

void Guest::OnSignal(const SyscallEvent& thread, const SignalDelivery& signal) {
  auto item = std::make_shared<events::EventItem>();
  item->event.call = thread;
  item->event.signal = signal;
  item->event.end_ns = thread.start_ns;
  item->policy = engine_.Current();
  bus_.Publish(std::move(item));
}

void Guest::OnProcessEnded(const SyscallEvent& process, int wait_status) {
  auto item = std::make_shared<events::EventItem>();
  item->event.call = process;
  item->event.exit_status = wait_status;
  item->event.end_ns = process.start_ns;
  item->policy = engine_.Current();
  bus_.Publish(std::move(item));
}

bool Guest::WantsExecImages() const {
  for (const auto& m : engine_.Current()->modules()) {
    if (m->JudgesImages()) {
      return true;
    }
  }
  return false;
}

std::optional<Decision> Guest::OnExecImage(const SyscallEvent& exec, GuestMemory& mem,
                                           Event& record) {
  auto snapshot = engine_.Current();
  for (const auto& m : snapshot->modules()) {
    if (!m->JudgesImages()) {
      continue;
    }
    if (std::optional<Decision> d = m->JudgeImage(exec, mem);
        d && d->kind() == Decision::Kind::kFail) {
      record.call = exec;
      record.policy_version = snapshot->version();
      record.decision = *d;
      record.module = std::string(m->Name());
      return d;
    }
  }
  return std::nullopt;
}

void Guest::OnGuestExit(int wait_status) {
  if (observer_ != nullptr) {
    observer_->GuestEnded(id_);
  }
  exit_status_ = wait_status;
  if (on_exit_) {
    on_exit_(wait_status);
  }
}

}  // namespace hijack::supervisor
