#include "daemon/modules/timer/timer_module.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <span>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace hijack::modules {
namespace {

constexpr int64_t kNsPerS = 1'000'000'000;
constexpr int64_t kMaxSeconds = 9'000'000'000;
// The holding worker's priority without boost.
constexpr int kHoldPriority = 20;
// pidfd_open(2): a pidfd of one thread rather than of a process (Linux 6.9); the value of
// PIDFD_THREAD, which older kernel headers lack.
constexpr unsigned kPidfdThread = O_EXCL;

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
  explicit FifoWhile(int priority) {
    pthread_getschedparam(pthread_self(), &policy_, &param_);
    sched_param fifo{};
    fifo.sched_priority = priority;
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
  if (config_.boost_policy != SCHED_OTHER) {
    boost_ = std::make_unique<ThreadBoost>(config_.boost_policy, config_.boost_priority);
  }
}

void TimerModule::AttachGuest(uint64_t /*guest_id*/, pid_t /*pid*/) {
  loop_tid_.store(gettid());  // module_registry.h: AttachGuest runs on the answering loop
}

void TimerModule::Boost(const SyscallEvent& ev, pid_t tid, GuestMemory* mem, int64_t until_ns) {
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, tid, kPidfdThread)));
  // The guest thread's number is its own only while its call is pending (thread_boost.h).
  if (mem != nullptr && !mem->StillPending()) {
    return;
  }
  auto raised = boost_->Raise(tid, std::move(pidfd), until_ns);
  if (raised) {
    if (*raised == ThreadBoost::Raised::kRealTime) {
      boost_realtime_.fetch_add(1);
    }
    return;
  }
  if (raised.error().code == ESRCH) {
    return;  // the thread ended meanwhile
  }
  boost_refused_.fetch_add(1);
  std::lock_guard lock(mu_);
  if (boost_refusal_.empty()) {
    boost_refusal_ = raised.error().message;
    spdlog::warn("timer: guest {}: cannot raise the threads that wake from a held sleep ({}); "
                 "sleeps are answered unboosted, the woken threads stay SCHED_OTHER (boost needs "
                 "CAP_SYS_NICE or an RLIMIT_RTPRIO of at least {})",
                 ev.guest_id, boost_refusal_, config_.boost_priority);
  }
}

std::optional<Decision> TimerModule::Decide(const SyscallEvent& ev, GuestMemory& mem) {
  if (boost_) {
    boost_->Restore(ev.tid);  // back in the supervisor: its slice after the last sleep is over
  }
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
  // With boost, one above the raised threads: they must not keep the holder off its CPU.
  const int hold_priority = boost_ ? config_.boost_priority + 1 : kHoldPriority;
  FifoWhile fifo(hold_priority);
  {
    std::lock_guard lock(mu_);
    if (priority_.empty()) {
      priority_ = fifo.error() == 0
                      ? fmt::format("SCHED_FIFO {}", hold_priority)
                      : fmt::format("SCHED_OTHER (SCHED_FIFO: {})", strerrorname_np(fifo.error()));
    }
  }
  if (deadline - config_.spin_ns > Now(clock)) {
    const timespec until = ToTimespec(deadline - config_.spin_ns);
    while (clock_nanosleep(clock, TIMER_ABSTIME, &until, nullptr) == EINTR) {
    }
  }
  if (boost_) {
    // Raised while the guest thread is still blocked, so the raise costs it no CPU; both wake
    // ahead of the host's ordinary threads once the answer goes.
    // The keeper counts on CLOCK_MONOTONIC, whatever clock the guest named.
    const int64_t until =
        Now(CLOCK_MONOTONIC) + std::max<int64_t>(0, deadline - Now(clock)) + config_.boost_slice_ns;
    Boost(ev, ev.tid, &mem, until);
    if (const pid_t loop = loop_tid_.load(); loop != 0) {
      Boost(ev, loop, nullptr, until);
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
          {"holding_thread", priority_.empty() ? "-" : priority_},
          {"boost", BoostText()},
          {"boosts", boost_ ? boost_->raised() : 0},
          {"boost_restored_on_next_sleep", boost_ ? boost_->restored_early() : 0},
          {"boost_restored_after_slice", boost_ ? boost_->restored_after_slice() : 0},
          {"boost_refused", boost_refused_.load()},
          {"boost_left_realtime", boost_realtime_.load()},
          {"boosted_ns", boost_ ? boost_->boosted_ns() : 0}};
}

std::string TimerModule::BoostText() const {
  if (!boost_) {
    return "off";
  }
  const char* policy = config_.boost_policy == SCHED_RR ? "SCHED_RR" : "SCHED_FIFO";
  if (!boost_refusal_.empty()) {
    return fmt::format("refused ({}): answered unboosted, woken threads SCHED_OTHER",
                       boost_refusal_);
  }
  return fmt::format("{} {} until {} us after the deadline (keeper {})", policy,
                     config_.boost_priority, config_.boost_slice_ns / 1000, boost_->keeper());
}

std::string TimerModule::Report() const {
  nlohmann::json s = Stats();
  return fmt::format(
      "timer: {} sleeps held, {} left to the kernel ({} other clocks or flags, {} unreadable, {} "
      "longer than max_hold_ms); CPU {:.3f} ms ({:.3f} ms spinning); answers "
      "late by {} ns on average, {} ns at most (before delivery); holding thread {}; boost {}: "
      "{} raises, {:.3f} ms raised\n",
      s["held"].get<uint64_t>(), s["passed_to_kernel"].get<uint64_t>(),
      s["passed_clock_or_flags"].get<uint64_t>(), s["passed_unreadable"].get<uint64_t>(),
      s["passed_longer_than_max_hold"].get<uint64_t>(),
      s["hold_cpu_ns"].get<uint64_t>() / 1e6, s["spin_cpu_ns"].get<uint64_t>() / 1e6,
      s["answer_late_mean_ns"].get<uint64_t>(), s["answer_late_max_ns"].get<uint64_t>(),
      s["holding_thread"].get<std::string>(), s["boost"].get<std::string>(),
      s["boosts"].get<uint64_t>(), s["boosted_ns"].get<uint64_t>() / 1e6);
}

policy::ModuleInfo TimerModule::Info() {
  return {
      .name = "timer",
      .summary = "precise nanosleep/clock_nanosleep: held and answered at the deadline from a "
                 "SCHED_FIFO thread that spins the last stretch; with boost, the woken threads "
                 "run real-time for a bounded slice",
      .settings = {policy::setting::Number("spin_us",
                                           "how long before the deadline the holding thread "
                                           "stops sleeping and spins")
                       .Range(0, 10000)
                       .Default(100),
                   policy::setting::Number("max_hold_ms",
                                           "longer sleeps run in the kernel as asked")
                       .Range(0, 10000)
                       .Default(50),
                   policy::setting::Choice("boost",
                                           "raise the woken guest thread and the answering loop "
                                           "to a real-time class around the deadline "
                                           "(CAP_SYS_NICE)",
                                           {"off", "fifo", "rr"})
                       .Default("off"),
                   policy::setting::Number("boost_priority",
                                           "the real-time priority of the raised threads")
                       .Range(1, 98)
                       .Default(10),
                   policy::setting::Number("boost_us",
                                           "how long after the deadline the raised threads stay "
                                           "real-time at most")
                       .Range(1, 100000)
                       .Default(200)},
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
        HIJACK_ASSIGN_OR_RETURN(
            auto boost, c.Enum<int>("boost", {{"off", SCHED_OTHER}, {"fifo", SCHED_FIFO},
                                              {"rr", SCHED_RR}}));
        config.boost_policy = boost.value_or(SCHED_OTHER);
        HIJACK_ASSIGN_OR_RETURN(auto priority, c.Integer("boost_priority", 1, 98));
        HIJACK_ASSIGN_OR_RETURN(auto slice, c.Integer("boost_us", 1, 100000));
        if ((priority || slice) && config.boost_policy == SCHED_OTHER) {
          return MakeError(fmt::format("{}: set without \"boost\": \"fifo\" or \"rr\"",
                                       c.PathOf(priority ? "boost_priority" : "boost_us")));
        }
        if (priority) {
          config.boost_priority = static_cast<int>(*priority);
        }
        if (slice) {
          config.boost_slice_ns = *slice * 1000;
        }
        return std::make_unique<TimerModule>(config);
      },
  };
}

}  // namespace hijack::modules
