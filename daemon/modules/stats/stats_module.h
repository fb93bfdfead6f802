// stats: per-syscall counts, errors, decisions and supervisor latency, like `strace -c`.
//
//   {"module": "stats"}                                  // every syscall
//   {"module": "stats", "syscalls": ["%file", "%net"]}   // only these
//   {"module": "stats", "latency": false}                // calls and errors, no times
//   {"module": "stats", "table": "strace", "sort": "calls"}  // strace -c's table and -S
//
// Observes off the guest's path. Report() is the table printed when the guest ends; Stats() the
// same numbers as JSON for GetStats. Latency is the time the supervisor held the call (from
// receipt to answer; under ptrace, to syscall exit when the result was awaited), or the agent's
// time for calls it made. Without latency the table and JSON have no time columns, and calls the
// agent counts for this module alone are not timed (PolicyModule::WantsLatency).
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/stats_table.h"
#include "daemon/modules/stats/latency_histogram.h"
#include "daemon/policy/module_registry.h"

namespace hijack::modules {

class StatsModule final : public PolicyModule {
 public:
  enum class Table { kHijack, kStrace };
  explicit StatsModule(SyscallSet syscalls, bool latency = true, Table table = Table::kHijack,
                       common::StraceSort sort = common::StraceSort::kTime)
      : syscalls_(syscalls), latency_(latency), table_(table), sort_(sort) {}

  static policy::ModuleInfo Info();

  std::string_view Name() const override { return "stats"; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return false; }
  void Observe(const Event& event) override;
  // Counts are enough for this table.
  bool AcceptsCounts() const override { return true; }
  // Whether this module reports latency ("latency" setting, default true).
  bool WantsLatency() const override { return latency_; }
  // Calls the in-guest agent counted without sending events: added to the same rows, so the
  // table stays complete. Their latency is the agent's, known to a power of two per call
  // (log2_histogram) and exactly in total; only the calls in the histogram were timed, so
  // percentiles are over those and untimed calls add to calls and errors only. Any thread.
  void AddCounts(int nr, uint64_t calls, uint64_t errors, uint64_t total_ns,
                 std::span<const uint64_t> log2_histogram) override;
  // One syscall's counters, as GetStats carries them. The time fields are 0 without latency.
  struct SyscallRow {
    int nr = 0;
    uint64_t calls = 0;
    uint64_t errors = 0;           // known negative results
    uint64_t unknown_results = 0;  // ran without the supervisor seeing the result
    uint64_t not_run = 0;          // failed or emulated by a module
    uint64_t total_ns = 0;
    uint64_t p50_ns = 0;
    uint64_t p99_ns = 0;
    uint64_t durations = 0;    // calls whose duration is known (their return was seen)
    uint64_t duration_ns = 0;  // the sum of those durations
  };
  // A row for every syscall called so far, by number. Any thread.
  std::vector<SyscallRow> Rows() const;
  // Rows() as a JSON object keyed by syscall name (the time keys only with latency).
  nlohmann::json Stats() const override;
  std::string Report() const override;

 private:
  struct PerSyscall {
    uint64_t calls = 0;
    uint64_t errors = 0;      // known negative results
    uint64_t unknown = 0;     // calls that ran without the supervisor seeing their result
    uint64_t not_run = 0;     // failed or emulated by a module
    uint64_t durations = 0;
    uint64_t duration_ns = 0;
    LatencyHistogram latency;
  };

  const SyscallSet syscalls_;
  const bool latency_;
  const Table table_;
  const common::StraceSort sort_;
  mutable std::mutex mu_;
  // Allocated on a syscall's first call: a histogram is ~8 KiB.
  std::array<std::unique_ptr<PerSyscall>, SyscallSet::kCapacity> per_{};
};

}  // namespace hijack::modules
