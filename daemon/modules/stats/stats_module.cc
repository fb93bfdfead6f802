#include "daemon/modules/stats/stats_module.h"

#include <algorithm>
#include <vector>

#include "common/stats_table.h"
#include "daemon/syscalls/syscall_table.h"

namespace hijack::modules {

void StatsModule::Observe(const Event& event) {
  const int nr = event.call.nr;
  if (nr < 0 || nr >= SyscallSet::kCapacity) {
    return;
  }
  std::lock_guard lock(mu_);
  auto& slot = per_[static_cast<size_t>(nr)];
  if (!slot) {
    slot = std::make_unique<PerSyscall>();
  }
  PerSyscall& s = *slot;
  ++s.calls;
  if (!event.decision.runs_call()) {
    ++s.not_run;
  }
  if (!event.result) {
    ++s.unknown;
  } else if (*event.result < 0 && *event.result >= -4095) {
    ++s.errors;
  }
  if (latency_) {
    s.latency.Record(
        static_cast<uint64_t>(std::max<int64_t>(0, event.end_ns - event.call.start_ns)));
  }
}

void StatsModule::AddCounts(int nr, uint64_t calls, uint64_t errors, uint64_t total_ns,
                            std::span<const uint64_t> log2_histogram) {
  if (nr < 0 || nr >= SyscallSet::kCapacity || !syscalls_.Contains(nr)) {
    return;
  }
  std::lock_guard lock(mu_);
  auto& slot = per_[static_cast<size_t>(nr)];
  if (!slot) {
    slot = std::make_unique<PerSyscall>();
  }
  slot->calls += calls;
  slot->errors += errors;
  if (!latency_) {
    return;
  }
  // Only the histogram's calls were timed (the rest of `calls` counted without a clock), so only
  // they enter the percentiles. The exact total goes with the first non-empty bucket; each bucket
  // is placed at its middle.
  uint64_t sum_left = total_ns;
  for (size_t b = 0; b < log2_histogram.size(); ++b) {
    if (log2_histogram[b] == 0) {
      continue;
    }
    const uint64_t mid = (uint64_t{1} << b) + (uint64_t{1} << b) / 2;
    slot->latency.RecordMany(mid, log2_histogram[b], sum_left);
    sum_left = 0;
  }
  if (sum_left != 0) {
    // A delta can bring a call's latency without its bucket (GuestExecPage::CollectCountDeltas
    // reads the words apart): keep the total exact, the bucket comes with the next delta.
    slot->latency.RecordMany(0, 0, sum_left);
  }
}

std::vector<StatsModule::SyscallRow> StatsModule::Rows() const {
  std::lock_guard lock(mu_);
  std::vector<SyscallRow> rows;
  for (int nr = 0; nr < SyscallSet::kCapacity; ++nr) {
    if (!per_[static_cast<size_t>(nr)]) {
      continue;
    }
    const PerSyscall& s = *per_[static_cast<size_t>(nr)];
    SyscallRow row;
    row.nr = nr;
    row.calls = s.calls;
    row.errors = s.errors;
    row.unknown_results = s.unknown;
    row.not_run = s.not_run;
    if (latency_) {
      row.total_ns = s.latency.sum();
      row.p50_ns = s.latency.Percentile(0.50);
      row.p99_ns = s.latency.Percentile(0.99);
    }
    rows.push_back(row);
  }
  return rows;
}

nlohmann::json StatsModule::Stats() const {
  nlohmann::json out = nlohmann::json::object();
  for (const SyscallRow& r : Rows()) {
    nlohmann::json row = {
        {"calls", r.calls},
        {"errors", r.errors},
        {"unknown_results", r.unknown_results},
        {"not_run", r.not_run},
    };
    if (latency_) {
      row["total_ns"] = r.total_ns;
      row["p50_ns"] = r.p50_ns;
      row["p99_ns"] = r.p99_ns;
    }
    out[std::string(syscalls::SyscallName(r.nr))] = std::move(row);
  }
  return out;
}

std::string StatsModule::Report() const {
  // Rows() reads under mu_; the table (common/stats_table.h) is the one hijackctl stats prints.
  std::vector<common::StatsRow> table;
  for (const SyscallRow& r : Rows()) {
    table.push_back({.syscall = std::string(syscalls::SyscallName(r.nr)),
                     .calls = r.calls,
                     .errors = r.errors,
                     .not_run = r.not_run,
                     .unknown_results = r.unknown_results,
                     .total_ns = r.total_ns,
                     .p50_ns = r.p50_ns,
                     .p99_ns = r.p99_ns});
  }
  return common::FormatStatsTable(std::move(table), latency_);
}

policy::ModuleInfo StatsModule::Info() {
  return {
      .name = "stats",
      .summary = "count calls, errors and supervisor latency per syscall (like strace -c)",
      .settings = {policy::setting::Syscalls("syscalls",
                                             "syscall names or %classes counted (default: every "
                                             "syscall)"),
                   policy::setting::Boolean("latency",
                                            "false reports calls and errors only, with no time "
                                            "columns, and lets the agent count calls without "
                                            "timing them")
                       .Default(true)},
      .factory = [](policy::ConfigReader& config) -> Result<std::unique_ptr<PolicyModule>> {
        HIJACK_ASSIGN_OR_RETURN(auto syscalls, config.Syscalls("syscalls"));
        HIJACK_ASSIGN_OR_RETURN(auto latency, config.Bool("latency"));
        return std::make_unique<StatsModule>(syscalls ? *syscalls : syscalls::AllSyscalls(),
                                             latency.value_or(true));
      },
  };
}

}  // namespace hijack::modules
