// A guest's call rate while another guest's plugin takes 20 ms for each decision (a slow policy
// service). With the decision pool the neighbour's calls run at the rate of a guest alone; with
// every decision on the loop (decision_workers = 0, how the supervisor worked before the pool)
// each of its calls waits for the plugin's current decision to end.
//
//   hijack_bench_pending      # counter neighbour_calls_per_s, per variant (launch included)
//
// The benchmark is its own guest: `hijack_bench_pending --guest-getppid N` makes N getppid calls.
#include <benchmark/benchmark.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>

#include "daemon/modules/builtin.h"
#include "daemon/policy/policy_set.h"
#include "daemon/supervisor/supervisor.h"

namespace {

using namespace std::chrono_literals;
using hijack::supervisor::GuestSpec;
using hijack::supervisor::Supervisor;

std::string SelfPath() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::shared_ptr<hijack::policy::PolicySet> Policy(const std::string& module) {
  auto set = hijack::policy::PolicySet::FromText(R"({"version": 1, "modules": [)" + module + "]}",
                                                 "bench", hijack::modules::BuiltInModules());
  if (!set) {
    std::fprintf(stderr, "policy: %s\n", set.error().message.c_str());
    std::abort();
  }
  return *set;
}

GuestSpec Getppids(long calls, std::shared_ptr<hijack::policy::PolicySet> policy) {
  GuestSpec spec;
  spec.argv = {SelfPath(), "--guest-getppid", std::to_string(calls)};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.policy = std::move(policy);
  return spec;
}

// Args: slow_neighbour (0/1), decision workers, calls of the measured guest.
void BM_NeighbourCallRate(benchmark::State& state) {
  const bool slow_neighbour = state.range(0) != 0;
  const long calls = state.range(2);
  Supervisor sup({.decision_workers = static_cast<size_t>(state.range(1))});
  std::mutex mu;
  std::condition_variable cv;
  std::set<uint64_t> exited;
  sup.AddExitListener([&](uint64_t id, int) {
    std::lock_guard lock(mu);
    exited.insert(id);
    cv.notify_all();
  });
  sup.StartLoop();
  auto soon = [] { return std::chrono::steady_clock::now() + 30s; };
  if (slow_neighbour) {
    auto spec = Getppids(1'000'000'000, Policy(R"({"module": "plugin", "path": ")" +
                                               std::string(HIJACK_BENCH_SLEEP_PLUGIN) +
                                               R"(", "timeout_ms": 60000, "config": )"
                                               R"({"syscall": "getppid", "sleep_ms": 20}})"));
    auto a = sup.OnLoop([&] { return sup.Launch(spec); }, soon());
    if (!a) {
      state.SkipWithError(a.error().message.c_str());
      sup.StopLoop();
      return;
    }
  }
  for (auto _ : state) {
    auto spec = Getppids(calls, Policy(R"({"module": "stats", "syscalls": ["getppid"]})"));
    auto b = sup.OnLoop([&] { return sup.Launch(spec); }, soon());
    if (!b) {
      state.SkipWithError(b.error().message.c_str());
      break;
    }
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, 600s, [&] { return exited.contains(b->id); })) {
      state.SkipWithError("the measured guest did not end within 600 s");
      break;
    }
  }
  state.counters["neighbour_calls_per_s"] = benchmark::Counter(
      static_cast<double>(calls) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
  sup.TerminateGuests(5s);
  sup.StopLoop();
}
BENCHMARK(BM_NeighbourCallRate)
    ->ArgNames({"slow_neighbour", "workers", "calls"})
    ->Args({0, 4, 20000})
    ->Args({1, 4, 20000})
    ->Args({1, 0, 100})
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--guest-getppid") == 0) {
    for (long i = std::atol(argv[2]); i > 0; --i) {
      syscall(SYS_getppid);
    }
    return 0;
  }
  // The supervisor's reaper reads SIGCHLD from a signalfd: blocked before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
