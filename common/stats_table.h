// StatsTable: the per-syscall table of the stats module, as `hijackd run` prints it when its
// guest ends and `hijackctl stats` prints it for a live guest: one formatter, so the two agree
// on columns, units and order.
//
//   std::vector<common::StatsRow> rows = ...;    // one per syscall called
//   std::fputs(common::FormatStatsTable(rows, /*latency=*/true).c_str(), stderr);
//
// With latency the columns are syscall, calls, errors, not-run, total-us, p50-us, p99-us, and a
// total line; without it ("latency": false) there are no time columns at all, since nothing was
// measured (a 0 would claim the calls took no time). Rows are printed most calls first, ties in
// the order given. Pure function; thread-safe. FormatStraceTable is strace -c's table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hijack::common {

struct StatsRow {
  std::string syscall;
  uint64_t calls = 0;
  uint64_t errors = 0;           // calls whose result was a known error
  uint64_t not_run = 0;          // failed or emulated by a module
  uint64_t unknown_results = 0;  // ran without the supervisor seeing the result
  uint64_t total_ns = 0;         // the time fields mean something only with latency
  uint64_t p50_ns = 0;
  uint64_t p99_ns = 0;
  // The calls whose duration is known (their return was seen: ptrace, the agent, calls a module
  // answered) and the sum of those durations: the -c table's seconds.
  uint64_t durations = 0;
  uint64_t duration_ns = 0;
};

std::string FormatStatsTable(std::vector<StatsRow> rows, bool latency);

// How FormatStraceTable orders its rows (strace -S).
enum class StraceSort { kTime, kCalls, kErrors, kName, kNothing };

// The table of `strace -c`, column for column: % time, seconds, usecs/call, calls, errors
// (blank when 0), syscall, then a total line. seconds is the sum of the known durations
// (StatsRow::durations), % time its share, usecs/call its mean over those calls. Rows are
// ordered by `sort` (descending for time, calls and errors, ties in the order given, as strace
// keeps syscall-number order), kNothing keeps the order given. Pure function; thread-safe.
std::string FormatStraceTable(std::vector<StatsRow> rows, StraceSort sort);

}  // namespace hijack::common
