// timer: precise sleep. The supervisor holds a guest's nanosleep(2) and clock_nanosleep(2) and
// answers it at the deadline from a high-priority thread, so the wake-up error stays small when
// the host is loaded: the holding thread runs SCHED_FIFO where permitted (sched(7); no timer
// slack, and it preempts every ordinary thread), sleeps until `spin_us` short of the deadline,
// then spins the last stretch on the clock the guest named.
//
//   {"module": "timer"}
//   {"module": "timer", "spin_us": 200, "max_hold_ms": 50}
//   {"module": "timer", "boost": "fifo", "boost_priority": 10, "boost_us": 200}
//
// A sleep never ends early: the deadline is the call's receipt plus the request (relative) or
// the request itself (TIMER_ABSTIME), on the guest's clock (CLOCK_MONOTONIC for nanosleep;
// CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME or CLOCK_TAI for clock_nanosleep), and the answer
// goes only once that clock has passed it. Held: sleeps up to `max_hold_ms`; longer ones, other
// clocks (CPU-time clocks) and bad requests run in the kernel as the guest made them, so the
// kernel's own errors (EINVAL, EFAULT) and semantics stand. A request it cannot read runs in the
// kernel too. A signal to the held thread does not cut the sleep short: hijackd receives calls
// with SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (notify) or holds the thread in its syscall stop
// (ptrace), so the sleep ends at its deadline (return 0) and the handler runs then, up to
// max_hold_ms later than natively, where the kernel's own sleep would have ended early with
// EINTR and the remaining time in `rem`. That is why the hold is bounded: longer sleeps keep the
// kernel's semantics. A fatal signal ends the guest at once, as natively.
//
// Boost: an answer on time is not a wake-up on time. The guest thread blocked in the sleep, and
// the supervisor's loop thread that sends the answer, are ordinary (SCHED_OTHER) threads; on a
// loaded host each waits behind the CPU-bound threads of its run queue once woken, for
// milliseconds (bench/rt experiment 3). With "boost", the holding worker raises both to
// SCHED_FIFO or SCHED_RR at `boost_priority` when it starts spinning (spin_us before the
// deadline, while the guest thread is still blocked), and they wake ahead of every ordinary
// thread. ThreadBoost (thread_boost.h) puts them back `boost_us` after the deadline, or the guest
// thread at once when its next sleep reaches the module; what a raised thread forks starts
// SCHED_OTHER (SCHED_FLAG_RESET_ON_FORK). So no guest thread stays real-time: a CPU-bound guest
// gets at most `boost_us` of real-time CPU per held sleep, and Stats() counts the raises and the
// time spent raised. Raising another thread needs CAP_SYS_NICE (or RLIMIT_RTPRIO); without it
// the module says so once (log and Stats "boost") and answers unboosted. The loop thread is the
// one that attached the guest (AttachGuest runs on it).
//
// Cost: each held sleep occupies one worker of the supervisor's decision pool (4 by default)
// while it waits, and CPU while it spins; Stats() counts both ("spin_cpu_ns", "hold_cpu_ns") and
// the measured lateness of the answers. Sleeps of more threads at once than the pool has workers
// wait their turn: later, never earlier.
//
// Threads: Decide runs on the pool's workers (MayBlock), several at once; counters are atomic
// or under the lock.
#pragma once

#include <sched.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/modules/timer/thread_boost.h"
#include "daemon/policy/module_registry.h"

namespace hijack::modules {

class TimerModule final : public PolicyModule {
 public:
  struct Config {
    int64_t spin_ns = 100'000;
    int64_t max_hold_ns = 50'000'000;
    int boost_policy = SCHED_OTHER;  // SCHED_FIFO or SCHED_RR: raise the woken threads
    int boost_priority = 10;
    int64_t boost_slice_ns = 200'000;
  };

  explicit TimerModule(Config config);
  static policy::ModuleInfo Info();

  std::string_view Name() const override { return "timer"; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return true; }
  bool MayBlock(int /*nr*/) const override { return true; }
  std::optional<Decision> Decide(const SyscallEvent& ev, GuestMemory& mem) override;
  void AttachGuest(uint64_t guest_id, pid_t pid) override;
  nlohmann::json Stats() const override;
  std::string Report() const override;

 private:
  const Config config_;
  SyscallSet syscalls_;
  std::atomic<uint64_t> held_{0};
  std::atomic<uint64_t> passed_{0};
  std::atomic<uint64_t> passed_clock_{0};
  std::atomic<uint64_t> passed_unreadable_{0};
  std::atomic<uint64_t> passed_long_{0};
  std::atomic<uint64_t> spin_cpu_ns_{0};
  std::atomic<uint64_t> hold_cpu_ns_{0};
  std::atomic<uint64_t> late_total_ns_{0};
  std::atomic<uint64_t> late_max_ns_{0};
  std::atomic<uint64_t> gone_{0};  // threads that left the call while it was held
  std::string priority_;           // what the holding threads could get (the first one's)
  mutable std::mutex mu_;
  // Boost (null without the setting): the loop thread that answers, and why raising failed.
  std::unique_ptr<ThreadBoost> boost_;
  std::atomic<pid_t> loop_tid_{0};
  std::atomic<uint64_t> boost_refused_{0};
  std::atomic<uint64_t> boost_realtime_{0};
  std::string boost_refusal_;  // the first refusal, under mu_

  // Raises `tid` until `until_ns`; counts and says refusals.
  std::string BoostText() const;  // mu_ held
  void Boost(const SyscallEvent& ev, pid_t tid, GuestMemory* mem, int64_t until_ns);
};

}  // namespace hijack::modules
