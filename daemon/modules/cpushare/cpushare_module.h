// cpushare: a CPU reservation per guest: at most `budget_ms` of CPU time in every `period_ms`,
// its whole process tree together.
//
//   {"module": "cpushare", "budget_ms": 40, "period_ms": 400}
//   {"module": "cpushare", "budget_ms": 40, "period_ms": 400, "mechanism": "signals"}
//
// The mechanism (cpu_reservation.h) is the best this host offers unless the policy names one:
// sched_deadline (a kernel reservation: the budget is guaranteed as well as capped), cgroup (CFS
// bandwidth: capped), or signals (the user-level service manager: SIGSTOP/SIGCONT from a
// controller that samples CPU time every 10 ms). What the host offers is probed once and said in
// Stats() ("mechanism", "host"), in the caveat `hijackd check` prints, and in the log when a guest
// attaches. Under "auto", a guest the preferred mechanism refuses (the deadline admission test,
// EBUSY) gets the next one.
//
// Refused with the JSON path: a zero or negative budget or period, a budget above the period,
// and a reservation that over-subscribes the host: the shares of every cpushare module alive in
// this hijackd, this one included, may not exceed the CPUs online (for sched_deadline, the
// kernel's limit per CPU, sched_rt_runtime_us/sched_rt_period_us, times the CPUs). A guest that
// SetPolicy moves from one cpushare module to another is detached from the old one first (its
// processes continued, its group removed), then attached to the new one.
//
// Threads: AttachGuest/DetachGuest on the loop thread; a controller thread of the module's own
// (SCHED_FIFO where permitted, so that a loaded host does not delay the signals manager's stops)
// runs the reservations' ticks; Stats and Report on any thread. One lock guards the guests.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "daemon/modules/cpushare/cpu_reservation.h"
#include "daemon/policy/module_registry.h"

namespace hijack::modules {

class CpuShareModule final : public PolicyModule {
 public:
  struct Config {
    int64_t budget_ns = 0;
    int64_t period_ns = 0;
    std::optional<CpuMechanism> mechanism;  // empty: auto
  };

  // `config` is valid (the factory checked it) and its share is already booked (Book()).
  explicit CpuShareModule(Config config);
  ~CpuShareModule() override;
  static policy::ModuleInfo Info();

  std::string_view Name() const override { return "cpushare"; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return false; }
  void AttachGuest(uint64_t guest_id, pid_t pid) override;
  void DetachGuest(uint64_t guest_id) override;
  nlohmann::json Stats() const override;
  std::string Report() const override;

  // The mechanism guests get first.
  CpuMechanism mechanism() const { return mechanism_; }

 private:
  struct Attached {
    std::unique_ptr<CpuReservation> reservation;
    CpuMechanism mechanism = CpuMechanism::kSignals;
    int64_t since_ns = 0;
    int64_t next_ns = 0;
  };

  void Control(std::stop_token stop);

  const Config config_;
  const CpuMechanism mechanism_;
  const std::string tag_;  // names this instance's control groups
  const SyscallSet syscalls_;
  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  std::map<uint64_t, Attached> guests_;
  std::map<uint64_t, nlohmann::json> ended_;  // the last Usage() of detached guests
  // Reservations stopped whose group was still busy: removed by the controller.
  std::vector<std::unique_ptr<CpuReservation>> lingering_;
  std::string controller_priority_;
  bool kicked_ = false;  // a guest attached: the controller looks again at once
  std::jthread controller_;  // last: stopped and joined before the guests go
};

}  // namespace hijack::modules
