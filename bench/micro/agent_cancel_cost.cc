// Cost of making the agent's wrapped calls cancellable (agent/agent.cc, "pthread
// cancellation"): one write() to /dev/null natively and through libhijack-agent.so, in a
// process with one thread and in one with a second thread, as ratios to native in one run.
//
//   hijack_bench_agent_cancel_cost [--benchmark_min_time=0.2] [--benchmark_repetitions=3]
//
// In a process with one thread the agent skips the cancellation window (no other thread can
// cancel a blocked call); with a second thread it switches the cancel type to asynchronous and
// back around the system call, as glibc's own write() does around its own (so the native rows
// pay glibc's window in the threaded case too). The rows:
//
//   native, native+thread             no agent
//   agent+stats, agent+stats+thread   the agent counting and timing every write (policy stats)
//
// (agent+stats+thread - agent+stats) - (native+thread - native) is what the agent's window costs
// beyond glibc's. Every mode runs this binary exec'd with --guest (batch_guest.h).
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "bench/micro/batch_guest.h"
#include "bench/micro/ratio_reporter.h"
#include "daemon/exec_page/agent_launch.h"

namespace {

using hijack::bench::BatchGuest;
using hijack::bench::MonotonicNs;

constexpr uint64_t kBatch = 1000;
constexpr char kStatsPolicy[] = R"({"version": 1, "modules": [{"module": "stats"}]})";

int g_idle[2];

// The second thread: blocked in a read for the whole run, so the process is not
// single-threaded (sys/single_threaded.h) and every cancellation point of the guest is live.
void* Idle(void*) {
  char c;
  (void)!read(g_idle[0], &c, 1);
  return nullptr;
}

int GuestMain(int in, int out, bool threaded) {
  const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (threaded) {
    pthread_t t;
    if (pipe2(g_idle, O_CLOEXEC) != 0 || pthread_create(&t, nullptr, Idle, nullptr) != 0) {
      return 2;
    }
  }
  return hijack::bench::ServeBatches(in, out, [&](uint64_t count) {
    const uint64_t start = MonotonicNs();
    for (uint64_t i = 0; i < count; ++i) {
      (void)!write(devnull, "x", 1);
    }
    return MonotonicNs() - start;
  });
}

struct Mode {
  std::string name;
  bool agent = false;
  bool threaded = false;
};

void BM_Write(benchmark::State& state, const Mode& mode) {
  std::unique_ptr<BatchGuest> guest;
  try {
    std::string agent_library;
    if (mode.agent) {
      agent_library = hijack::exec_page::FindAgentLibrary();
      if (agent_library.empty()) {
        throw std::runtime_error("libhijack-agent.so not found (set HIJACK_AGENT_LIBRARY)");
      }
    }
    guest = std::make_unique<BatchGuest>(
        hijack::bench::GuestMode{.backend = mode.agent ? "notify" : "", .policy = kStatsPolicy},
        [&](int in, int out) {
          return hijack::bench::SelfGuest({"agent-cancel-bench-guest", "--guest",
                                           std::to_string(in), std::to_string(out),
                                           mode.threaded ? "threaded" : "single"},
                                          {"PATH=/usr/bin:/bin"}, agent_library);
        });
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  hijack::bench::RunBatches(state, *guest, kBatch);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "--guest") == 0) {
    return GuestMain(std::atoi(argv[2]), std::atoi(argv[3]), std::strcmp(argv[4], "threaded") == 0);
  }
  hijack::bench::BlockSigchld();
  static const std::vector<Mode> modes = {
      {"write/native", false, false},
      {"write/native+thread", false, true},
      {"write/agent+stats", true, false},
      {"write/agent+stats+thread", true, true},
  };
  for (const Mode& mode : modes) {
    benchmark::RegisterBenchmark(mode.name.c_str(), BM_Write, mode)->UseManualTime();
  }
  benchmark::Initialize(&argc, argv);
  hijack::bench::RatioReporter reporter("write(/dev/null) per call, one thread or two");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
