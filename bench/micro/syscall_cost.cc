// Cost of one intercepted system call, per backend and decision, as a ratio to native.
//
//   hijack_bench_syscall_cost [--benchmark_min_time=0.2] [--benchmark_repetitions=3]
//
// Each mode runs a guest process (forked, under the real launcher, backend, policy engine and
// event bus of hijackd) that calls getppid() in batches on command and times each batch itself
// with CLOCK_MONOTONIC (vDSO, no system call); the native row is the same guest forked with no
// filter (bench/micro/batch_guest.h). All modes run in one invocation, and the table at the end
// divides each by the native time of the same run (bench/micro/ratio_reporter.h): absolute times
// on a shared machine are not comparable between runs, ratios are.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <memory>

#include "bench/micro/batch_guest.h"
#include "bench/micro/ratio_reporter.h"

namespace {

using hijack::bench::BatchGuest;
using hijack::bench::MonotonicNs;

constexpr uint64_t kBatch = 1000;  // calls timed together by the guest

// Runs `count` getppid calls and returns the elapsed nanoseconds.
uint64_t TimedCalls(uint64_t count) {
  uint64_t start = MonotonicNs();
  for (uint64_t i = 0; i < count; ++i) {
    syscall(SYS_getppid);
  }
  return MonotonicNs() - start;
}

struct Mode {
  std::string name;
  hijack::bench::GuestMode guest;
};

void BM_Syscall(benchmark::State& state, const Mode& mode) {
  std::unique_ptr<BatchGuest> guest;
  try {
    // getppid is added to every intercept set: only the timed calls are intercepted (the pipes'
    // read and write are not, unless a policy asks).
    hijack::bench::GuestMode m = mode.guest;
    m.intercept.Add(SYS_getppid);
    guest = std::make_unique<BatchGuest>(m, [](int in, int out) {
      hijack::LaunchSpec spec;
      spec.argv = {"bench-guest"};
      hijack::launcher::ChildFunction::Set(
          spec, [in, out] { return hijack::bench::ServeBatches(in, out, TimedCalls); });
      return spec;
    });
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  hijack::bench::RunBatches(state, *guest, kBatch);
}

const std::vector<Mode>& Modes() {
  constexpr char kNone[] = R"({"version": 1, "modules": []})";
  constexpr char kDeny[] =
      R"({"version": 1, "modules": [{"module": "deny", "syscalls": ["getppid"]}]})";
  constexpr char kStats[] =
      R"({"version": 1, "modules": [{"module": "stats", "syscalls": ["getppid"]}]})";
  auto mode = [](std::string name, std::string backend, std::string policy, bool sync = true) {
    return Mode{std::move(name),
                {.backend = std::move(backend), .policy = std::move(policy), .sync_wakeup = sync}};
  };
  static const std::vector<Mode> modes = {
      mode("native", "", ""),
      mode("notify/continue", "notify", kNone),
      mode("notify/return", "notify", kDeny),
      mode("notify/continue/no-sync-wakeup", "notify", kNone, false),
      mode("notify/return/no-sync-wakeup", "notify", kDeny, false),
      mode("notify/continue+stats", "notify", kStats),
      // One seccomp stop per call; +stats adds the exit stop that reads the result.
      mode("ptrace/continue", "ptrace", kNone),
      mode("ptrace/return", "ptrace", kDeny),
      mode("ptrace/continue+stats", "ptrace", kStats),
      // Entry and exit stops for every call, intercepted or not.
      mode("ptrace-all/continue", "ptrace-all", kNone),
      mode("ptrace-all/return", "ptrace-all", kDeny),
  };
  return modes;
}

}  // namespace

int main(int argc, char** argv) {
  hijack::bench::BlockSigchld();
  for (const Mode& mode : Modes()) {
    benchmark::RegisterBenchmark(("getppid/" + mode.name).c_str(), BM_Syscall, mode)
        ->UseManualTime()
        ->Unit(benchmark::kNanosecond);
  }
  return hijack::bench::RunWithRatios(&argc, argv, "getppid() per call");
}
