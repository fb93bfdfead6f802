// CpuReservation: one guest held to `budget` of CPU time per `period`, by one of the mechanisms
// the host offers (cpushare's, daemon/modules/cpushare/cpushare_module.h), in the order it
// prefers them:
//
//   sched_deadline  a kernel reservation (sched(7), SCHED_DEADLINE through sched_setattr(2)):
//                   every thread of the guest gets runtime budget/threads per period, with
//                   SCHED_FLAG_RESET_ON_FORK, since a deadline task may not fork otherwise
//                   (EAGAIN); the threads and processes it creates start as SCHED_OTHER and join
//                   the reservation at the next scan (every 10 ms), which rebalances the split.
//   cgroup          the CFS bandwidth controller: a control group of the guest's own with
//                   cpu.max (cgroup v2) or cpu.cfs_quota_us/cpu.cfs_period_us (v1); the
//                   guest's descendants inherit it.
//   signals         the user-level service manager: a controller samples the guest's CPU time
//                   every 10 ms (the CPU-time clock of each process, clock_getcpuclockid(3), in
//                   ns) and holds it to its share with SIGSTOP/SIGCONT, a PID law on the service
//                   error turning credit into running time.
//
//   auto host = ProbeCpuMechanisms();               // once per process
//   auto r = CpuReservation::Start(CpuMechanism::kCgroup, host, {.guest = 1, .root = pid,
//                                  .budget_ns = 40'000'000, .period_ns = 400'000'000});
//   r->Tick(now_ns);                                // the controller, every 10 ms
//   r->Stop();                                      // no stopped process, no group left
//
// Threads: Start, Tick, Stop and Usage from one thread at a time (the module's lock).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hijack/result.h"

namespace hijack::modules {

enum class CpuMechanism { kDeadline, kCgroup, kSignals };

// "sched_deadline", "cgroup", "signals".
const char* MechanismName(CpuMechanism m);

// What this host offers, probed once: for each mechanism whether it works here and why not.
struct CpuMechanisms {
  struct Probe {
    bool available = false;
    std::string detail;  // how ("cgroup v1 at /sys/fs/cgroup/cpu") or why not ("EPERM")
  };
  Probe deadline;
  Probe cgroup;
  Probe signals;
  // The cgroup the reservations' groups go under, and whether it is v2 (cpu.max).
  std::string cgroup_parent;
  bool cgroup_v2 = false;
  // CPUs online, and the share of each a deadline reservation may take
  // (/proc/sys/kernel/sched_rt_runtime_us / sched_rt_period_us, sched(7)).
  int cpus = 1;
  double deadline_limit = 0.95;

  const Probe& Of(CpuMechanism m) const;
  // The first available in order of preference.
  CpuMechanism Best() const;
  nlohmann::json ToJson() const;
};

// Probes on first use (a short-lived thread tries SCHED_DEADLINE; a probe group is made and
// removed); then the same answer for the life of the process. Thread-safe.
const CpuMechanisms& ProbeCpuMechanisms();

struct ReservationSpec {
  uint64_t guest = 0;
  pid_t root = 0;
  int64_t budget_ns = 0;
  int64_t period_ns = 0;
  std::string tag;  // names the control group: unique per module instance
};

class CpuReservation {
 public:
  virtual ~CpuReservation() = default;
  CpuReservation(const CpuReservation&) = delete;
  CpuReservation& operator=(const CpuReservation&) = delete;

  // Puts the guest under the reservation. Errors name the file or call that failed.
  static Result<std::unique_ptr<CpuReservation>> Start(CpuMechanism m, const CpuMechanisms& host,
                                                       const ReservationSpec& spec);

  // The controller's step at CLOCK_MONOTONIC `now_ns`; returns when it wants the next one
  // (absolute ns): the tick, or sooner (the signals manager stops a guest within a tick).
  virtual int64_t Tick(int64_t now_ns) = 0;
  // Undoes Start: the threads' scheduling restored, the group removed (its processes moved back
  // first), every process it stopped continued. Returns the first thing that could not be undone
  // (a group still busy). Idempotent.
  virtual Result<void> Stop() = 0;
  // Counters for Stats(): CPU time since Start, threads, stops, errors.
  virtual nlohmann::json Usage() const = 0;

 protected:
  CpuReservation() = default;
};

// The sum of the CPU-time clocks (clock_getcpuclockid(3)) of `pids`, in ns; pids that are gone
// count 0.
int64_t CpuTimeNs(pid_t pid);

}  // namespace hijack::modules
