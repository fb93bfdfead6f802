#include "common/stats_table.h"

#include <fmt/format.h>

#include <algorithm>

namespace hijack::common {
namespace {

std::string UnknownNote(uint64_t unknown) {
  if (unknown == 0) {
    return "";
  }
  return fmt::format(
      "errors count the calls whose result the supervisor saw; {} calls ran without a visible "
      "result (seccomp notify does not report them; --backend ptrace does)\n",
      unknown);
}

double Micros(uint64_t ns) { return static_cast<double>(ns) / 1e3; }

}  // namespace

std::string FormatStatsTable(std::vector<StatsRow> rows, bool latency) {
  // Most calls first, as people read a profile.
  std::stable_sort(rows.begin(), rows.end(),
                   [](const StatsRow& a, const StatsRow& b) { return a.calls > b.calls; });
  StatsRow total{.syscall = "total"};
  for (const StatsRow& r : rows) {
    total.calls += r.calls;
    total.errors += r.errors;
    total.not_run += r.not_run;
    total.unknown_results += r.unknown_results;
    total.total_ns += r.total_ns;
  }
  std::string out;
  if (!latency) {
    out = "calls and errors only (\"latency\": false): no times measured\n";
    out += fmt::format("{:<20} {:>9} {:>8} {:>8}\n", "syscall", "calls", "errors", "not-run");
    out += std::string(48, '-') + "\n";
    for (const StatsRow& r : rows) {
      out += fmt::format("{:<20} {:>9} {:>8} {:>8}\n", r.syscall, r.calls, r.errors, r.not_run);
    }
    out += std::string(48, '-') + "\n";
    out += fmt::format("{:<20} {:>9} {:>8} {:>8}\n", total.syscall, total.calls, total.errors,
                       total.not_run);
    return out + UnknownNote(total.unknown_results);
  }
  out = fmt::format("{:<20} {:>9} {:>8} {:>8} {:>12} {:>9} {:>9}\n", "syscall", "calls", "errors",
                    "not-run", "total-us", "p50-us", "p99-us");
  out += std::string(81, '-') + "\n";
  for (const StatsRow& r : rows) {
    out += fmt::format("{:<20} {:>9} {:>8} {:>8} {:>12.1f} {:>9.1f} {:>9.1f}\n", r.syscall,
                       r.calls, r.errors, r.not_run, Micros(r.total_ns), Micros(r.p50_ns),
                       Micros(r.p99_ns));
  }
  out += std::string(81, '-') + "\n";
  out += fmt::format("{:<20} {:>9} {:>8} {:>8} {:>12.1f}\n", total.syscall, total.calls,
                     total.errors, total.not_run, Micros(total.total_ns));
  return out + UnknownNote(total.unknown_results);
}

std::string FormatStraceTable(std::vector<StatsRow> rows, StraceSort sort) {
  auto by_name = [](const StatsRow& a, const StatsRow& b) { return a.syscall < b.syscall; };
  switch (sort) {
    case StraceSort::kTime:
      std::stable_sort(rows.begin(), rows.end(), [&](const StatsRow& a, const StatsRow& b) {
        return a.duration_ns > b.duration_ns;
      });
      break;
    case StraceSort::kCalls:
      std::stable_sort(rows.begin(), rows.end(), [&](const StatsRow& a, const StatsRow& b) {
        return a.calls > b.calls;
      });
      break;
    case StraceSort::kErrors:
      std::stable_sort(rows.begin(), rows.end(), [&](const StatsRow& a, const StatsRow& b) {
        return a.errors > b.errors;
      });
      break;
    case StraceSort::kName:
      std::stable_sort(rows.begin(), rows.end(), by_name);
      break;
    case StraceSort::kNothing:
      break;
  }
  StatsRow total{.syscall = "total"};
  for (const StatsRow& r : rows) {
    total.calls += r.calls;
    total.errors += r.errors;
    total.durations += r.durations;
    total.duration_ns += r.duration_ns;
  }
  auto line = [&](const StatsRow& r, bool is_total) {
    const double share = is_total ? 100.0
                         : total.duration_ns == 0
                             ? 0.0
                             : 100.0 * static_cast<double>(r.duration_ns) /
                                   static_cast<double>(total.duration_ns);
    const uint64_t per_call = r.durations == 0 ? 0 : r.duration_ns / 1000 / r.durations;
    // strace prints the errors column blank when there were none ("%9.u").
    const std::string errors = r.errors == 0 ? "" : std::to_string(r.errors);
    return fmt::format("{:>6.2f} {:>11.6f} {:>11} {:>9} {:>9} {}\n", share,
                       static_cast<double>(r.duration_ns) / 1e9, per_call, r.calls, errors,
                       r.syscall);
  };
  const std::string rule = "------ ----------- ----------- --------- --------- ----------------\n";
  std::string out = "% time     seconds  usecs/call     calls    errors syscall\n" + rule;
  for (const StatsRow& r : rows) {
    out += line(r, false);
  }
  return out + rule + line(total, true);
}

}  // namespace hijack::common
