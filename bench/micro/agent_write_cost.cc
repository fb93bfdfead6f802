// Cost of one observed write() to /dev/null: natively, through libhijack-agent.so and through
// seccomp notify, as ratios to native in one run.
//
//   hijack_bench_agent_write_cost [--benchmark_min_time=0.2] [--benchmark_repetitions=3]
//
// Every mode runs the same guest: this binary, exec'd with --guest, which reads "run N writes"
// requests from a pipe, times each batch itself with CLOCK_MONOTONIC (vDSO) and answers with the
// nanoseconds. Native is that guest with no filter and no agent; the others run it under the
// real launcher, backend, policy engine and event bus of hijackd with the default policy (stats
// over every syscall), with and without the agent. The table at the end divides by native.
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include "daemon/backend/backend_factory.h"
#include "daemon/events/event_bus.h"
#include "daemon/exec_page/agent_launch.h"
#include "daemon/launcher/reaper.h"
#include "daemon/policy/policy_set.h"
#include "daemon/supervisor/guest.h"

namespace {

constexpr uint64_t kBatch = 1000;
constexpr char kStatsPolicy[] = R"({"version": 1, "modules": [{"module": "stats"}]})";

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

// The guest side: this binary exec'd as `--guest IN OUT`.
int GuestMain(int in, int out) {
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  uint64_t count;
  while (read(in, &count, sizeof count) == sizeof count && count > 0) {
    uint64_t start = NowNs();
    for (uint64_t i = 0; i < count; ++i) {
      (void)!write(devnull, "x", 1);
    }
    uint64_t ns = NowNs() - start;
    if (write(out, &ns, sizeof ns) != sizeof ns) {
      return 1;
    }
  }
  return 0;
}

struct Mode {
  std::string name;
  std::string backend;  // "" for native
  bool agent = false;
};

std::vector<std::string> Environment(const Mode& mode) {
  std::vector<std::string> env = {"PATH=/usr/bin:/bin"};
  if (mode.agent) {
    std::string lib = hijack::exec_page::FindAgentLibrary();
    if (lib.empty()) {
      throw std::runtime_error("libhijack-agent.so not found (set HIJACK_AGENT_LIBRARY)");
    }
    env.push_back(std::string(hijack::exec_page::kAgentRequestEnv) + "=" + lib);
  }
  return env;
}

class BenchGuest {
 public:
  explicit BenchGuest(const Mode& mode) {
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) {
      throw std::runtime_error("pipe");
    }
    cmd_ = to_child[1];
    result_ = from_child[0];
    fcntl(cmd_, F_SETFD, FD_CLOEXEC);
    fcntl(result_, F_SETFD, FD_CLOEXEC);
    std::string in = std::to_string(to_child[0]), out = std::to_string(from_child[1]);
    hijack::LaunchSpec spec;
    spec.guest_id = 1;
    spec.path = "/proc/self/exe";
    spec.argv = {"agent-bench-guest", "--guest", in, out};
    spec.env = Environment(mode);
    if (mode.backend.empty()) {
      std::vector<char*> argv, envp;
      for (auto& a : spec.argv) argv.push_back(a.data());
      argv.push_back(nullptr);
      for (auto& e : spec.env) envp.push_back(e.data());
      envp.push_back(nullptr);
      native_pid_ = fork();
      if (native_pid_ == 0) {
        execve("/proc/self/exe", argv.data(), envp.data());
        _exit(127);
      }
    } else {
      auto policy = hijack::policy::PolicySet::FromText(kStatsPolicy, mode.name,
                                                        hijack::policy::ModuleRegistry::BuiltIn());
      if (!policy) {
        throw std::runtime_error(policy.error().message);
      }
      hijack::SyscallSet intercept = (*policy)->needed();
      guest_ = std::make_unique<hijack::supervisor::Guest>(1, *policy, intercept, bus_,
                                                           [this](int) { loop_.stop(); });
      auto backend = hijack::backend::MakeBackend(mode.backend, loop_, reaper_, {}, nullptr);
      if (!backend) {
        throw std::runtime_error(backend.error().message);
      }
      backend_ = std::move(*backend);
      spec.intercept = intercept;
      auto pid = backend_->Launch(spec, *guest_);
      if (!pid) {
        throw std::runtime_error(pid.error().message);
      }
      thread_ = std::thread([this] { loop_.run(); });
    }
    close(to_child[0]);
    close(from_child[1]);
  }

  ~BenchGuest() {
    uint64_t stop = 0;
    (void)!write(cmd_, &stop, sizeof stop);
    if (thread_.joinable()) {
      thread_.join();
    }
    if (native_pid_ > 0) {
      waitpid(native_pid_, nullptr, 0);
    }
    close(cmd_);
    close(result_);
  }

  uint64_t Run(uint64_t count) {
    if (write(cmd_, &count, sizeof count) != sizeof count) {
      return 0;
    }
    uint64_t ns = 0;
    return read(result_, &ns, sizeof ns) == sizeof ns ? ns : 0;
  }

 private:
  boost::asio::io_context loop_;
  hijack::launcher::ProcessReaper reaper_{loop_};
  hijack::events::EventBus bus_;
  std::unique_ptr<hijack::supervisor::Guest> guest_;
  std::unique_ptr<hijack::Backend> backend_;
  std::thread thread_;
  pid_t native_pid_ = -1;
  int cmd_ = -1;
  int result_ = -1;
};

void BM_Write(benchmark::State& state, const Mode& mode) {
  std::unique_ptr<BenchGuest> guest;
  try {
    guest = std::make_unique<BenchGuest>(mode);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  for (auto _ : state) {
    uint64_t ns = guest->Run(kBatch);
    if (ns == 0) {
      state.SkipWithError("the guest stopped answering");
      break;
    }
    state.SetIterationTime(static_cast<double>(ns) / 1e9);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
}

class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) {
        continue;
      }
      double ns = run.GetAdjustedRealTime() / static_cast<double>(kBatch);
      auto [it, inserted] = best_.emplace(run.benchmark_name(), ns);
      if (!inserted && ns < it->second) {
        it->second = ns;
      }
      if (std::find(order_.begin(), order_.end(), run.benchmark_name()) == order_.end()) {
        order_.push_back(run.benchmark_name());
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void PrintRatios() const {
    double native = 0;
    for (const auto& [name, ns] : best_) {
      if (name.find("native") != std::string::npos) {
        native = ns;
      }
    }
    std::printf("\n%-40s %12s %12s\n", "write(/dev/null) per call", "ns", "x native");
    for (const auto& name : order_) {
      double ns = best_.at(name);
      std::printf("%-40s %12.1f %12.2f\n", name.c_str(), ns, native > 0 ? ns / native : 0.0);
    }
  }

 private:
  std::map<std::string, double> best_;
  std::vector<std::string> order_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--guest") == 0) {
    return GuestMain(std::atoi(argv[2]), std::atoi(argv[3]));
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  static const std::vector<Mode> modes = {
      {"write/native", "", false},
      {"write/agent+stats", "notify", true},
      {"write/notify+stats", "notify", false},
      // ptrace is left out: under the ptrace backend of this tree the guest never answers its
      // first batch (to investigate with the backend's owner); hijack_bench_syscall_cost has it.
  };
  for (const Mode& mode : modes) {
    benchmark::RegisterBenchmark(mode.name.c_str(), BM_Write, mode)->UseManualTime();
  }
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
