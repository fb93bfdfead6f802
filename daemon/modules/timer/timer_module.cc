#include "daemon/modules/timer/timer_module.h"

#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <span>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace hijack::modules {
namespace {

constexpr int64_t kNsPerS = 1'000'000'000;
constexpr int64_t kMaxSeconds = 9'000'000'000;

int64_t Now(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * kNsPerS + ts.tv_nsec;
}

int64_t ThreadCpu() { return Now(CLOCK_THREAD_CPUTIME_ID); }

timespec ToTimespec(int64_t ns) {
  return timespec{static_cast<time_t>(ns / kNsPerS), static_cast<long>(ns % kNsPerS)};
}

// The clocks a held sleep may name (clock_nanosleep(2)); the CPU-time clocks are left to the
// kernel, whose sleep on them the supervisor cannot imitate.
bool Held(clockid_t c) {
  return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC || c == CLOCK_BOOTTIME || c == CLOCK_TAI;
}

// Runs the calling worker SCHED_FIFO for its life, restoring the class it had (MayBlock's rule:
// per-thread state changes are undone before Decide returns).
class FifoWhile {
 public:
  FifoWhile() {
    pthread_getschedparam(pthread_self(), &policy_, &param_);
    sched_param fifo{};
    fifo.sched_priority = 20;
    err_ = pthread_setschedparam(pthread_self(), SCHED_FIFO, &fifo);
  }
  ~FifoWhile() {
    if (err_ == 0) {
      pthread_setschedparam(pthread_self(), policy_, &param_);
    }
  }
  int error() const { return err_; }

 private:
  int policy_ = SCHED_OTHER;
  sched_param param_{};
  int err_ = 0;
};

void AtomicMax(std::atomic<uint64_t>& a, uint64_t v) {
  uint64_t cur = a.load();
  while (v > cur && !a.compare_exchange_weak(cur, v)) {
  }
}

}  // namespace

TimerModule::TimerModule(Config config) : config_(config) {
  syscalls_.Add(SCMP_SYS(nanosleep));
  syscalls_.Add(SCMP_SYS(clock_nanosleep));
}

std::optional<Decision> TimerModule::Decide(const SyscallEvent& ev, GuestMemory& mem) {
  clockid_t clock = CLOCK_MONOTONIC;  // nanosleep(2): "measured against CLOCK_MONOTONIC"
  bool absolute = false;
  uint64_t req_addr = ev.args[0];
  if (ev.nr == SCMP_SYS(clock_nanosleep)) {
    clock = static_cast<clockid_t>(static_cast<int32_t>(ev.args[0]));
    absolute = (ev.args[1] & TIMER_ABSTIME) != 0;
    req_addr = ev.args[2];
    if ((ev.args[1] & ~uint64_t{TIMER_ABSTIME}) != 0 || !Held(clock)) {
      passed_.fetch_add(1);
      passed_clock_.fetch_add(1);
      return std::nullopt;
    }
  }
  // The receipt on the guest's clock: what a relative request counts from. The call reached the
  // supervisor after the guest made it, so this is later than the kernel's own start: the sleep
  // can only end later, never earlier.
  const int64_t received = Now(clock);
  timespec req{};
  auto got = mem.Read(req_addr, std::as_writable_bytes(std::span(&req, 1)));
  // (An absolute request on CLOCK_REALTIME is some 1.8e9 s; beyond kMaxSeconds the sum in ns
  // would overflow.)
  if (!got || *got != sizeof req || req.tv_nsec < 0 || req.tv_nsec >= kNsPerS || req.tv_sec < 0 ||
      req.tv_sec > kMaxSeconds) {
    spdlog::debug("timer: guest {} thread {}: sleep request at {:#x} left to the kernel: {}",
                  ev.guest_id, ev.tid, req_addr,
                  !got ? got.error().message
                       : fmt::format("{} bytes, {{{}, {}}}", *got, req.tv_sec, req.tv_nsec));
    passed_.fetch_add(1);  // the kernel says EFAULT or EINVAL itself
    passed_unreadable_.fetch_add(1);
    return std::nullopt;
  }
  const int64_t asked = int64_t{req.tv_sec} * kNsPerS + req.tv_nsec;
  const int64_t deadline = absolute ? asked : received + asked;
  if (deadline - received > config_.max_hold_ns) {
    passed_.fetch_add(1);
    passed_long_.fetch_add(1);
    return std::nullopt;
  }
  held_.fetch_add(1);
  const int64_t cpu0 = ThreadCpu();
  FifoWhile fifo;
  {
    std::lock_guard lock(mu_);
    if (priority_.empty()) {
      priority_ = fifo.error() == 0
                      ? "SCHED_FIFO 20"
                      : fmt::format("SCHED_OTHER (SCHED_FIFO: {})", strerrorname_np(fifo.error()));
    }
  }
  if (deadline - config_.spin_ns > Now(clock)) {
    const timespec until = ToTimespec(deadline - config_.spin_ns);
    while (clock_nanosleep(clock, TIMER_ABSTIME, &until, nullptr) == EINTR) {
    }
  }
  const int64_t cpu1 = ThreadCpu();
  while (Now(clock) < deadline) {
    if (!mem.StillPending()) {
      gone_.fetch_add(1);
      break;
    }
  }
  const int64_t cpu2 = ThreadCpu();
  spin_cpu_ns_.fetch_add(static_cast<uint64_t>(cpu2 - cpu1));
  hold_cpu_ns_.fetch_add(static_cast<uint64_t>(cpu2 - cpu0));
  const int64_t late = std::max<int64_t>(0, Now(clock) - deadline);
  late_total_ns_.fetch_add(static_cast<uint64_t>(late));
  AtomicMax(late_max_ns_, static_cast<uint64_t>(late));
  return Decision::Return(0);
}

nlohmann::json TimerModule::Stats() const {
  std::lock_guard lock(mu_);
  const uint64_t held = held_.load();
  return {{"held", held},
          {"passed_to_kernel", passed_.load()},
          {"passed_clock_or_flags", passed_clock_.load()},
          {"passed_unreadable", passed_unreadable_.load()},
          {"passed_longer_than_max_hold", passed_long_.load()},
          {"left_while_held", gone_.load()},
          {"spin_cpu_ns", spin_cpu_ns_.load()},
          {"hold_cpu_ns", hold_cpu_ns_.load()},
          {"answer_late_mean_ns", held > 0 ? late_total_ns_.load() / held : 0},
          {"answer_late_max_ns", late_max_ns_.load()},
          {"holding_thread", priority_.empty() ? "-" : priority_}};
}

std::string TimerModule::Report() const {
  nlohmann::json s = Stats();
  return fmt::format(
      "timer: {} sleeps held, {} left to the kernel ({} other clocks or flags, {} unreadable, {} "
      "longer than max_hold_ms); CPU {:.3f} ms ({:.3f} ms spinning); answers "
      "late by {} ns on average, {} ns at most (before delivery); holding thread {}\n",
      s["held"].get<uint64_t>(), s["passed_to_kernel"].get<uint64_t>(),
      s["passed_clock_or_flags"].get<uint64_t>(), s["passed_unreadable"].get<uint64_t>(),
      s["passed_longer_than_max_hold"].get<uint64_t>(),
      s["hold_cpu_ns"].get<uint64_t>() / 1e6, s["spin_cpu_ns"].get<uint64_t>() / 1e6,
      s["answer_late_mean_ns"].get<uint64_t>(), s["answer_late_max_ns"].get<uint64_t>(),
      s["holding_thread"].get<std::string>());
}

policy::ModuleInfo TimerModule::Info() {
  return {
      .name = "timer",
      .summary = "precise nanosleep/clock_nanosleep: held and answered at the deadline from a "
                 "SCHED_FIFO thread that spins the last stretch",
      .settings = {policy::setting::Number("spin_us",
                                           "how long before the deadline the holding thread "
                                           "stops sleeping and spins")
                       .Range(0, 10000)
                       .Default(100),
                   policy::setting::Number("max_hold_ms",
                                           "longer sleeps run in the kernel as asked")
                       .Range(0, 10000)
                       .Default(50)},
      .factory = [](policy::ConfigReader& c) -> Result<std::unique_ptr<PolicyModule>> {
        Config config;
        HIJACK_ASSIGN_OR_RETURN(auto spin, c.Number("spin_us", 0, 10000));
        if (spin) {
          config.spin_ns = static_cast<int64_t>(*spin * 1000);
        }
        HIJACK_ASSIGN_OR_RETURN(auto hold, c.Number("max_hold_ms", 0, 10000));
        if (hold) {
          config.max_hold_ns = static_cast<int64_t>(*hold * 1e6);
        }
        return std::make_unique<TimerModule>(config);
      },
  };
}

}  // namespace hijack::modules
