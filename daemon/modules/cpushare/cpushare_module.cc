#include "daemon/modules/cpushare/cpushare_module.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace hijack::modules {
namespace {

constexpr double kMinMs = 1;  // cgroup v1 refuses a quota below 1 ms (cpu.cfs_quota_us)
constexpr double kMaxMs = 1000;  // and a period above 1 s (cpu.cfs_period_us)

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The shares of every cpushare module alive in this process, in CPUs.
std::mutex ledger_mu;
double ledger_cpus = 0;
std::atomic<uint64_t> next_instance{1};

double ShareOf(const CpuShareModule::Config& c) {
  return static_cast<double>(c.budget_ns) / static_cast<double>(c.period_ns);
}

}  // namespace

CpuShareModule::CpuShareModule(Config config)
    : config_(config),
      mechanism_(config.mechanism.value_or(ProbeCpuMechanisms().Best())),
      tag_(std::to_string(next_instance.fetch_add(1))) {}

CpuShareModule::~CpuShareModule() {
  if (controller_.joinable()) {
    controller_.request_stop();
    wake_.notify_all();
    controller_.join();
  }
  std::lock_guard lock(mu_);
  for (auto& [id, g] : guests_) {
    if (auto stopped = g.reservation->Stop(); !stopped) {
      spdlog::warn("cpushare: guest {}: {}", id, stopped.error().message);
    }
  }
  guests_.clear();
  std::lock_guard ledger(ledger_mu);
  ledger_cpus = std::max(0.0, ledger_cpus - ShareOf(config_));
}

void CpuShareModule::AttachGuest(uint64_t guest_id, pid_t pid) {
  const CpuMechanisms& host = ProbeCpuMechanisms();
  ReservationSpec spec{.guest = guest_id,
                       .root = pid,
                       .budget_ns = config_.budget_ns,
                       .period_ns = config_.period_ns,
                       .tag = tag_};
  std::vector<CpuMechanism> order = {mechanism_};
  if (!config_.mechanism) {
    // auto: the ones after the preferred, in order, for a guest it refuses.
    for (CpuMechanism m :
         {CpuMechanism::kDeadline, CpuMechanism::kCgroup, CpuMechanism::kSignals}) {
      if (m != mechanism_ && host.Of(m).available && m > mechanism_) {
        order.push_back(m);
      }
    }
  }
  std::lock_guard lock(mu_);
  if (guests_.contains(guest_id)) {
    return;
  }
  std::string refused;
  for (CpuMechanism m : order) {
    auto r = CpuReservation::Start(m, host, spec);
    if (!r) {
      refused += fmt::format("{}{}: {}", refused.empty() ? "" : "; ", MechanismName(m),
                             r.error().message);
      continue;
    }
    spdlog::info("cpushare: guest {} (pid {}): {} ms of CPU every {} ms by {} ({}) {}{}", guest_id,
                 pid, config_.budget_ns / 1e6, config_.period_ns / 1e6, MechanismName(m),
                 host.Of(m).detail, (*r)->Usage().dump(),
                 refused.empty() ? "" : "; refused: " + refused);
    const int64_t now = NowNs();
    guests_[guest_id] = Attached{std::move(*r), m, now, now};
    ended_.erase(guest_id);
    if (!controller_.joinable()) {
      controller_ = std::jthread([this](std::stop_token stop) { Control(stop); });
    }
    kicked_ = true;
    wake_.notify_all();
    return;
  }
  spdlog::error("cpushare: guest {} (pid {}) runs without its reservation: {}", guest_id, pid,
                refused);
  ended_[guest_id] = {{"error", refused}};
}

void CpuShareModule::DetachGuest(uint64_t guest_id) {
  std::lock_guard lock(mu_);
  auto it = guests_.find(guest_id);
  if (it == guests_.end()) {
    return;
  }
  if (auto stopped = it->second.reservation->Stop(); !stopped) {
    // A group still busy with exiting tasks: the controller retries while the module lives.
    spdlog::debug("cpushare: guest {}: {}", guest_id, stopped.error().message);
    nlohmann::json usage = it->second.reservation->Usage();
    usage["mechanism"] = MechanismName(it->second.mechanism);
    ended_[guest_id] = std::move(usage);
    lingering_.push_back(std::move(it->second.reservation));
  } else {
    nlohmann::json usage = it->second.reservation->Usage();
    usage["mechanism"] = MechanismName(it->second.mechanism);
    ended_[guest_id] = std::move(usage);
  }
  guests_.erase(it);
}

void CpuShareModule::Control(std::stop_token stop) {
  // Where permitted, above every ordinary thread: the manager's stops must come on time on a
  // loaded host (sched(7); RLIMIT_RTPRIO or CAP_SYS_NICE).
  sched_param param{};
  param.sched_priority = 10;
  const int err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param);
  {
    std::lock_guard lock(mu_);
    controller_priority_ =
        err == 0 ? "SCHED_FIFO 10" : fmt::format("SCHED_OTHER (SCHED_FIFO: {})", strerrorname_np(err));
  }
  std::unique_lock lock(mu_);
  while (!stop.stop_requested()) {
    const int64_t now = NowNs();
    int64_t next = now + 100'000'000;
    for (auto& [id, g] : guests_) {
      if (g.next_ns <= now) {
        g.next_ns = g.reservation->Tick(now);
      }
      next = std::min(next, g.next_ns);
    }
    for (auto it = lingering_.begin(); it != lingering_.end();) {
      it = (*it)->Stop() ? lingering_.erase(it) : std::next(it);
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(next - NowNs());
    wake_.wait_until(lock, stop, until, [this] { return kicked_; });
    kicked_ = false;
  }
}

nlohmann::json CpuShareModule::Stats() const {
  std::lock_guard lock(mu_);
  const CpuMechanisms& host = ProbeCpuMechanisms();
  nlohmann::json guests = nlohmann::json::object();
  const int64_t now = NowNs();
  for (const auto& [id, g] : guests_) {
    nlohmann::json u = g.reservation->Usage();
    u["mechanism"] = MechanismName(g.mechanism);
    const int64_t cpu = u.value("cpu_ns", int64_t{0});
    u["share"] = now > g.since_ns ? static_cast<double>(cpu) / static_cast<double>(now - g.since_ns)
                                  : 0.0;
    guests[std::to_string(id)] = std::move(u);
  }
  for (const auto& [id, u] : ended_) {
    guests[std::to_string(id)] = u;
  }
  return {{"mechanism", MechanismName(mechanism_)},
          {"chosen", config_.mechanism ? "by the policy" : "auto"},
          {"budget_ms", config_.budget_ns / 1e6},
          {"period_ms", config_.period_ns / 1e6},
          {"share", ShareOf(config_)},
          {"host", host.ToJson()},
          {"controller", controller_priority_},
          {"caveat", fmt::format("CPU reservation by {}: {}", MechanismName(mechanism_),
                                 mechanism_ == CpuMechanism::kDeadline
                                     ? "the guest's threads share the budget evenly; a new "
                                       "thread runs unreserved until the next 10 ms scan"
                                 : mechanism_ == CpuMechanism::kCgroup
                                     ? "a cap (CFS bandwidth), not a guarantee under load"
                                     : "a cap held within about one 10 ms tick, not a guarantee "
                                       "under load; the guest sees itself stopped and continued")},
          {"guests", std::move(guests)}};
}

std::string CpuShareModule::Report() const {
  nlohmann::json s = Stats();
  std::string out = fmt::format("{:<8} {:<15} {:>10} {:>10} {:>10} {:>8}\n", "guest", "mechanism",
                                "budget_ms", "period_ms", "cpu_ms", "share");
  for (const auto& [id, u] : s["guests"].items()) {
    out += fmt::format("{:<8} {:<15} {:>10} {:>10} {:>10.1f} {:>8}\n", id,
                       u.value("mechanism", std::string("-")), s["budget_ms"].get<double>(),
                       s["period_ms"].get<double>(), u.value("cpu_ns", int64_t{0}) / 1e6,
                       u.contains("share") ? fmt::format("{:.3f}", u["share"].get<double>())
                                           : std::string("-"));
  }
  return out;
}

policy::ModuleInfo CpuShareModule::Info() {
  return {
      .name = "cpushare",
      .summary = "a CPU reservation per guest: budget_ms of CPU every period_ms (SCHED_DEADLINE, "
                 "cgroup bandwidth or SIGSTOP/SIGCONT)",
      .settings = {policy::setting::Number("budget_ms", "CPU time the guest may use per period")
                       .Range(kMinMs, kMaxMs)
                       .Required(),
                   policy::setting::Number("period_ms", "the period of the reservation")
                       .Range(kMinMs, kMaxMs)
                       .Required(),
                   policy::setting::Choice(
                       "mechanism",
                       "auto: the best this host offers (sched_deadline, then cgroup, then "
                       "signals); or one of them, refused where the host lacks it",
                       {"auto", "sched_deadline", "cgroup", "signals"})
                       .Default("auto")},
      .factory = [](policy::ConfigReader& c) -> Result<std::unique_ptr<PolicyModule>> {
        HIJACK_ASSIGN_OR_RETURN(auto budget, c.Number("budget_ms", kMinMs, kMaxMs));
        if (!budget) {
          return MakeError(c.PathOf("budget_ms") + ": missing (ms of CPU time per period)");
        }
        HIJACK_ASSIGN_OR_RETURN(auto period, c.Number("period_ms", kMinMs, kMaxMs));
        if (!period) {
          return MakeError(c.PathOf("period_ms") + ": missing (the period in ms)");
        }
        if (*budget > *period) {
          return MakeError(fmt::format(
              "{}: a budget of {} ms is more than the period of {} ms (a guest's share is at "
              "most one CPU)",
              c.PathOf("budget_ms"), *budget, *period));
        }
        HIJACK_ASSIGN_OR_RETURN(
            auto mechanism,
            c.Enum<std::optional<CpuMechanism>>("mechanism",
                                                {{"auto", std::nullopt},
                                                 {"sched_deadline", CpuMechanism::kDeadline},
                                                 {"cgroup", CpuMechanism::kCgroup},
                                                 {"signals", CpuMechanism::kSignals}}));
        Config config;
        config.budget_ns = static_cast<int64_t>(*budget * 1e6);
        config.period_ns = static_cast<int64_t>(*period * 1e6);
        config.mechanism = mechanism.value_or(std::nullopt);
        const CpuMechanisms& host = ProbeCpuMechanisms();
        if (config.mechanism && !host.Of(*config.mechanism).available) {
          return MakeError(fmt::format("{}: {} is not available on this host: {}",
                                       c.PathOf("mechanism"), MechanismName(*config.mechanism),
                                       host.Of(*config.mechanism).detail));
        }
        const CpuMechanism m = config.mechanism.value_or(host.Best());
        const double capacity =
            m == CpuMechanism::kDeadline ? host.cpus * host.deadline_limit : host.cpus;
        const double share = ShareOf(config);
        std::lock_guard ledger(ledger_mu);
        if (ledger_cpus + share > capacity + 1e-9) {
          return MakeError(fmt::format(
              "{}: {} ms per {} ms ({:.3f} CPU) with {:.3f} CPU reserved already by the "
              "cpushare modules of this hijackd over-subscribes the host: {} can give {:.2f} "
              "CPU ({} CPUs online)",
              c.path(), *budget, *period, share, ledger_cpus, MechanismName(m), capacity,
              host.cpus));
        }
        ledger_cpus += share;
        return std::make_unique<CpuShareModule>(config);
      },
  };
}

}  // namespace hijack::modules
