#include "daemon/supervisor/guest.h"

#include "daemon/modules/stats/stats_module.h"
#include "daemon/syscalls/arg_decoder.h"

namespace hijack::supervisor {
namespace {
// Events the module observers of one guest may fall behind by before the bus drops (and counts).
constexpr size_t kObserverQueue = 1 << 16;
}  // namespace

Guest::Guest(uint64_t id, std::shared_ptr<policy::PolicySet> policy, SyscallSet intercept,
             ProtectionLayers protection, events::EventBus& bus, ExitCallback on_exit)
    : id_(id),
      engine_(std::move(policy), intercept),
      guard_(std::move(protection)),
      guarded_(GuardSyscalls(guard_.layers())),
      bus_(bus),
      on_exit_(std::move(on_exit)) {
  observers_ = bus_.Subscribe(
      "guest " + std::to_string(id) + " modules", kObserverQueue,
      [](const events::EventItem& item, uint64_t) {
        for (PolicyModule* m : item.policy->ObserversFor(item.event.call.nr)) {
          m->Observe(item.event);
        }
      },
      [id](const events::EventItem& item) { return item.event.call.guest_id == id; });
}

Guest::~Guest() = default;

Decision Guest::OnSyscall(const SyscallEvent& call, GuestMemory& mem, Event& record) {
  auto snapshot = engine_.Current();
  record.policy_version = snapshot->version();
  if (snapshot->WantsArguments(call.nr)) {
    record.args = syscalls::DecodeArguments(call, mem);
  }
  // Ahead of every module: no policy may let a guest reach its supervisor.
  if (std::optional<Decision> d = guard_.Decide(call, *snapshot)) {
    record.decision = *d;
    record.module = "guard";
    return *d;
  }
  return policy::PolicyEngine::Decide(*snapshot, call, mem, record);
}

bool Guest::WantsResult(int nr) const { return !engine_.Current()->ObserversFor(nr).empty(); }

bool Guest::Exemptible(int nr) const {
  // Observers (stats, trace) see the agent's calls through the event bus, and page buckets shape
  // them in the guest; a module that decides calls otherwise, or wants their arguments read from
  // the guest, needs every call on the supervisor's path.
  auto snapshot = engine_.Current();
  if (guarded_.Contains(nr) || !snapshot->AgentMayRun(nr)) {
    return false;
  }
  // Asked once, at launch: from now on no policy may police this call.
  engine_.MarkExempt(nr);
  return true;
}

bool Guest::WantsEvents(int nr) const {
  if (bus_.HasStreams()) {
    return true;  // a WatchEvents client sees each call, whichever way it came
  }
  // The stats module can take counts instead of events (StatsModule::AddCounts).
  for (PolicyModule* m : engine_.Current()->ObserversFor(nr)) {
    if (dynamic_cast<modules::StatsModule*>(m) == nullptr) {
      return true;
    }
  }
  return false;
}

bool Guest::WantsLatency(int nr) const {
  if (bus_.HasStreams()) {
    return true;  // a stream's events carry times, and the agent then sends events anyway
  }
  // Only a stats module told "latency": false does without; trace and other observers get
  // events (WantsEvents), which are timed whatever this says.
  for (PolicyModule* m : engine_.Current()->ObserversFor(nr)) {
    auto* stats = dynamic_cast<modules::StatsModule*>(m);
    if (stats == nullptr || stats->latency()) {
      return true;
    }
  }
  return false;
}

uint64_t Guest::PolicyVersion() const { return engine_.Current()->version(); }

SyscallHandler::PageShaping Guest::ShapeInPage() {
  engine_.EnablePageShaping();
  auto snapshot = engine_.Current();
  return {snapshot->version(), snapshot->page_buckets()};
}

void Guest::OnAgentCounts(int nr, uint64_t calls, uint64_t errors, uint64_t total_ns,
                          std::span<const uint64_t> log2_histogram) {
  for (PolicyModule* m : engine_.Current()->ObserversFor(nr)) {
    if (auto* stats = dynamic_cast<modules::StatsModule*>(m)) {
      stats->AddCounts(nr, calls, errors, total_ns, log2_histogram);
    }
  }
}

void Guest::OnCompleted(Event&& record) {
  auto item = std::make_shared<events::EventItem>();
  item->event = std::move(record);
  item->policy = engine_.Current();
  bus_.Publish(std::move(item));
}

void Guest::OnGuestExit(int wait_status) {
  exit_status_ = wait_status;
  if (on_exit_) {
    on_exit_(wait_status);
  }
}

}  // namespace hijack::supervisor
