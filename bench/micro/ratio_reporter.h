// The ratio table that ends every batched micro benchmark: per-call median and p99 of each mode,
// and the median as a multiple of the native row's, all from one invocation.
//
//   void BM_Call(benchmark::State& state, ...) {
//     hijack::bench::BatchTimes times(kBatch);
//     for (auto _ : state) {
//       uint64_t ns = guest.Run(kBatch);            // the guest's own time for kBatch calls
//       times.Add(state, ns);
//     }
//     times.Publish(state);
//   }
//   ...
//   return hijack::bench::RunWithRatios(&argc, argv, "write(/dev/null) per call");  // in main()
//
// Absolute times on a shared machine drift between runs; ratios within one run do not
// (DESIGN.md, "Numbers are measured, side by side, as ratios against native in one run"). A
// benchmark's median and p99 are over its batches (each the mean of `batch` calls), so p99 says how
// noisy the batches were, not how slow the slowest single call was. With --benchmark_repetitions,
// the table keeps each benchmark's repetition with the lowest median: noise only ever adds time.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace hijack::bench {

// Per-batch times of one benchmark run, reported as the counters "median_ns" and "p99_ns" (per
// call) that RatioReporter reads.
class BatchTimes {
 public:
  explicit BatchTimes(uint64_t batch) : batch_(batch) {}

  // One batch of `batch` calls took `ns` (as the guest measured it): the iteration's time.
  void Add(benchmark::State& state, uint64_t ns) {
    state.SetIterationTime(static_cast<double>(ns) / 1e9);
    per_call_.push_back(static_cast<double>(ns) / static_cast<double>(batch_));
  }

  void Publish(benchmark::State& state) {
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch_));
    if (per_call_.empty()) {
      return;
    }
    std::sort(per_call_.begin(), per_call_.end());
    state.counters["median_ns"] = Percentile(0.5);
    state.counters["p99_ns"] = Percentile(0.99);
  }

 private:
  double Percentile(double q) const {
    const size_t i = static_cast<size_t>(q * static_cast<double>(per_call_.size() - 1) + 0.5);
    return per_call_[std::min(i, per_call_.size() - 1)];
  }

  uint64_t batch_;
  std::vector<double> per_call_;
};

// The console output, then (PrintRatios) one row per benchmark in registration order: median and
// p99 ns per call, and median / the median of the first benchmark whose name contains
// `baseline`.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  explicit RatioReporter(std::string title, std::string baseline = "native")
      : title_(std::move(title)), baseline_(std::move(baseline)) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) {
        continue;
      }
      auto median = run.counters.find("median_ns");
      auto p99 = run.counters.find("p99_ns");
      if (median == run.counters.end() || p99 == run.counters.end()) {
        continue;
      }
      // The name as registered, without the "/manual_time" and such that the console adds.
      const std::string name =
          run.run_name.function_name + (run.run_name.args.empty() ? "" : "/" + run.run_name.args);
      Row row{median->second.value, p99->second.value};
      auto [it, inserted] = best_.emplace(name, row);
      if (!inserted && row.median < it->second.median) {
        it->second = row;
      }
      if (std::find(order_.begin(), order_.end(), name) == order_.end()) {
        order_.push_back(name);
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void PrintRatios() const {
    double native = 0;
    for (const auto& name : order_) {
      if (native == 0 && name.find(baseline_) != std::string::npos) {
        native = best_.at(name).median;
      }
    }
    size_t width = title_.size();
    for (const auto& name : order_) {
      width = std::max(width, name.size());
    }
    const int w = static_cast<int>(width);
    std::printf("\n%-*s %10s %10s %10s\n", w, title_.c_str(), "median ns", "p99 ns", "x native");
    for (const auto& name : order_) {
      const Row& row = best_.at(name);
      std::printf("%-*s %10.1f %10.1f %10.2f\n", w, name.c_str(), row.median, row.p99,
                  native > 0 ? row.median / native : 0.0);
    }
    std::fflush(stdout);
  }

 private:
  struct Row {
    double median;
    double p99;
  };

  std::string title_;
  std::string baseline_;
  std::map<std::string, Row> best_;
  std::vector<std::string> order_;
};

// The end of every batched benchmark's main(), once its modes are registered: parses the
// benchmark flags, runs, prints the ratio table titled `title`; returns main()'s status.
inline int RunWithRatios(int* argc, char** argv, const std::string& title) {
  benchmark::Initialize(argc, argv);
  RatioReporter reporter(title);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}

}  // namespace hijack::bench
