// Cost of one observed write() to /dev/null: natively, through libhijack-agent.so, through seccomp
// notify and through ptrace, as ratios to native in one run, with the floors of the agent's path
// between them.
//
//   hijack_bench_agent_write_cost [--benchmark_min_time=0.2] [--benchmark_repetitions=3]
//
// Every mode runs the same guest: this binary, exec'd with --guest, which reads "run N writes"
// requests from a pipe and times each batch itself with CLOCK_MONOTONIC (vDSO) (batch_guest.h).
// The supervised modes run it under the real launcher, backend, policy engine and event bus of
// hijackd with the stats policy over every syscall, with and without the agent. The rows:
//
//   native                    no filter, no agent
//   native+seccomp-allow      under a one-instruction filter that allows everything: the kernel's
//                             seccomp entry, which every call of a filtered guest pays
//   trampoline+hijack-filter  the guest calls the agent's trampoline itself, under the launcher's
//                             filter for an agent guest (instruction-pointer exemption in front
//                             of the notify program): the agent's path with no bookkeeping
//   trampoline+...+2rdtsc     the same with a TSC read before and after each call: the floor of
//                             a call whose latency is measured
//   agent+stats               libc's write() interposed by the agent (count and latency per call)
//   agent+stats-counts        the same under {"module": "stats", "latency": false}: the agent
//                             counts calls and errors without reading the TSC
//   notify+stats, ptrace+stats  every write() through the supervisor
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "bench/micro/batch_guest.h"
#include "bench/micro/ratio_reporter.h"
#include "daemon/exec_page/agent_launch.h"
#include "hijack/exec_page.h"

namespace {

using hijack::bench::BatchGuest;
using hijack::bench::MonotonicNs;

constexpr uint64_t kBatch = 1000;
constexpr char kStatsPolicy[] = R"({"version": 1, "modules": [{"module": "stats"}]})";
constexpr char kCountsPolicy[] =
    R"({"version": 1, "modules": [{"module": "stats", "latency": false}]})";

// What the guest's timed loop calls.
enum class Call {
  kLibc,               // write(): libc's, or the agent's when it is preloaded
  kLibcUnderAllowAll,  // the same after installing a filter that allows everything
  kTrampoline,         // the agent's trampoline, directly
  kTrampolineTimed,    // the same between two rdtsc
};

const char* CallName(Call c) {
  switch (c) {
    case Call::kLibc:
      return "libc";
    case Call::kLibcUnderAllowAll:
      return "allow-all";
    case Call::kTrampoline:
      return "trampoline";
    case Call::kTrampolineTimed:
      return "trampoline-timed";
  }
  return "";
}

inline uint64_t Rdtsc() {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t{hi} << 32) | lo;
}

volatile uint64_t g_sink;

// The guest side: this binary exec'd as `--guest IN OUT CALL`.
int GuestMain(int in, int out, const std::string& call) {
  const int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (call == CallName(Call::kLibcUnderAllowAll)) {
    sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    sock_fprog prog{1, &allow};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
      return 2;
    }
  }
  using Trampoline = long (*)(long, long, long, long, long, long, long);
  Trampoline tramp = nullptr;
  if (call == CallName(Call::kTrampoline) || call == CallName(Call::kTrampolineTimed)) {
    const char* addr = getenv(hijack::exec_page::kTrampolineEnv);
    if (addr == nullptr) {
      return 3;  // the launcher gave this guest no agent
    }
    tramp = reinterpret_cast<Trampoline>(std::strtoul(addr, nullptr, 16));
  }
  const long buf = reinterpret_cast<long>("x");
  const bool timed = call == CallName(Call::kTrampolineTimed);
  return hijack::bench::ServeBatches(in, out, [&](uint64_t count) {
    uint64_t ticks = 0;
    const uint64_t start = MonotonicNs();
    if (tramp == nullptr) {
      for (uint64_t i = 0; i < count; ++i) {
        (void)!write(devnull, "x", 1);
      }
    } else if (!timed) {
      for (uint64_t i = 0; i < count; ++i) {
        tramp(SYS_write, devnull, buf, 1, 0, 0, 0);
      }
    } else {
      for (uint64_t i = 0; i < count; ++i) {
        const uint64_t t0 = Rdtsc();
        tramp(SYS_write, devnull, buf, 1, 0, 0, 0);
        ticks += Rdtsc() - t0;
      }
    }
    const uint64_t ns = MonotonicNs() - start;
    g_sink = ticks;
    return ns;
  });
}

struct Mode {
  std::string name;
  std::string backend;  // "" for native
  bool agent = false;
  Call call = Call::kLibc;
  const char* policy = kStatsPolicy;
};

void BM_Write(benchmark::State& state, const Mode& mode) {
  std::unique_ptr<BatchGuest> guest;
  try {
    // The trampoline rows read the trampoline's address from the environment (exec_page.h).
    const std::vector<std::string> env = {"PATH=/usr/bin:/bin",
                                          std::string(hijack::exec_page::kAgentVisibleEnv) + "=1"};
    std::string agent_library;
    if (mode.agent) {
      agent_library = hijack::exec_page::FindAgentLibrary();
      if (agent_library.empty()) {
        throw std::runtime_error("libhijack-agent.so not found (set HIJACK_AGENT_LIBRARY)");
      }
    }
    guest = std::make_unique<BatchGuest>(
        hijack::bench::GuestMode{.backend = mode.backend, .policy = mode.policy},
        [&](int in, int out) {
          return hijack::bench::SelfGuest({"agent-bench-guest", "--guest", std::to_string(in),
                                           std::to_string(out), CallName(mode.call)},
                                          env, agent_library);
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
    return GuestMain(std::atoi(argv[2]), std::atoi(argv[3]), argv[4]);
  }
  hijack::bench::BlockSigchld();
  static const std::vector<Mode> modes = {
      {"write/native", "", false, Call::kLibc},
      {"write/native+seccomp-allow", "", false, Call::kLibcUnderAllowAll},
      {"write/trampoline+hijack-filter", "notify", true, Call::kTrampoline},
      {"write/trampoline+hijack-filter+2rdtsc", "notify", true, Call::kTrampolineTimed},
      {"write/agent+stats", "notify", true, Call::kLibc},
      {"write/agent+stats-counts", "notify", true, Call::kLibc, kCountsPolicy},
      {"write/notify+stats", "notify", false, Call::kLibc},
      {"write/ptrace+stats", "ptrace", false, Call::kLibc},
  };
  for (const Mode& mode : modes) {
    benchmark::RegisterBenchmark(mode.name.c_str(), BM_Write, mode)->UseManualTime();
  }
  return hijack::bench::RunWithRatios(&argc, argv, "write(/dev/null) per call");
}
