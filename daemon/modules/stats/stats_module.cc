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
  const auto held = static_cast<uint64_t>(std::max<int64_t>(0, event.end_ns - event.call.start_ns));
  if (event.result) {
    // The call's return was seen, so receipt to result is the call's duration; under notify a
    // call that ran returned when the kernel result observer reported it, after the answer.
    ++s.durations;
    s.duration_ns += event.returned_ns != 0
                         ? static_cast<uint64_t>(
                               std::max<int64_t>(0, event.returned_ns - event.call.start_ns))
                         : held;
  }
  if (latency_) {
    s.latency.Record(held);
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
  uint64_t timed = 0;
  for (uint64_t n : log2_histogram) {
    timed += n;
  }
  slot->durations += timed;
  slot->duration_ns += total_ns;
  if (!latency_) {
    return;
  }
  // Only the histogram's calls were timed (the rest of `calls` counted without a clock), so only
  // they enter the percentiles. The exact total goes with the first non-empty bucket; each
  // closed bucket is placed at its middle. The last bucket is open (every call from 2^(last) ns
  // up, exec_page.h), so its middle says nothing: its calls are placed at their mean, which the
  // exact total gives once the closed buckets' share is taken out (exact when one call is
  // there, as for a sleep).
  const size_t last = log2_histogram.empty() ? 0 : log2_histogram.size() - 1;
  uint64_t closed_estimate = 0;
  for (size_t b = 0; b < last; ++b) {
    closed_estimate += log2_histogram[b] * ((uint64_t{1} << b) + (uint64_t{1} << b) / 2);
  }
  uint64_t sum_left = total_ns;
  for (size_t b = 0; b < log2_histogram.size(); ++b) {
    if (log2_histogram[b] == 0) {
      continue;
    }
    uint64_t at = (uint64_t{1} << b) + (uint64_t{1} << b) / 2;
    if (b == last) {
      const uint64_t rest = total_ns > closed_estimate ? total_ns - closed_estimate : 0;
      at = std::max<uint64_t>(uint64_t{1} << b, rest / log2_histogram[b]);
    }
    slot->latency.RecordMany(at, log2_histogram[b], sum_left);
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
    row.durations = s.durations;
    row.duration_ns = s.duration_ns;
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
                     .p99_ns = r.p99_ns,
                     .durations = r.durations,
                     .duration_ns = r.duration_ns});
  }
  if (table_ == Table::kStrace) {
    return common::FormatStraceTable(std::move(table), sort_);
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
                       .Default(true),
                   policy::setting::Choice("table",
                                           "the end-of-run table: hijack's (calls, errors, "
                                           "not-run, latency percentiles) or strace -c's",
                                           {"hijack", "strace"})
                       .Default("hijack"),
                   policy::setting::Choice("sort", "row order of the strace table (strace -S)",
                                           {"time", "calls", "errors", "name", "nothing"})
                       .Default("time")},
      .factory = [](policy::ConfigReader& config) -> Result<std::unique_ptr<PolicyModule>> {
        HIJACK_ASSIGN_OR_RETURN(auto syscalls, config.Syscalls("syscalls"));
        HIJACK_ASSIGN_OR_RETURN(auto latency, config.Bool("latency"));
        HIJACK_ASSIGN_OR_RETURN(
            auto table,
            config.Enum<Table>("table", {{"hijack", Table::kHijack}, {"strace", Table::kStrace}}));
        using common::StraceSort;
        HIJACK_ASSIGN_OR_RETURN(auto sort, config.Enum<StraceSort>(
                                               "sort", {{"time", StraceSort::kTime},
                                                        {"calls", StraceSort::kCalls},
                                                        {"errors", StraceSort::kErrors},
                                                        {"name", StraceSort::kName},
                                                        {"nothing", StraceSort::kNothing}}));
        return std::make_unique<StatsModule>(syscalls ? *syscalls : syscalls::AllSyscalls(),
                                             latency.value_or(true), table.value_or(Table::kHijack),
                                             sort.value_or(StraceSort::kTime));
      },
  };
}

}  // namespace hijack::modules
