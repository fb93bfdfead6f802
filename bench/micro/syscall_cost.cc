// Cost of one intercepted system call, per backend and decision, as a ratio to native.
//
//   hijack_bench_syscall_cost [--benchmark_min_time=0.2] [--benchmark_repetitions=3]
//
// Each mode runs a guest process (forked, under the real launcher, backend, policy engine and
// event bus of hijackd) that calls getppid() in batches on command and times each batch itself
// with CLOCK_MONOTONIC (vDSO, no system call). The native row runs the same loop in this process
// without a filter. All modes run in one invocation, and the table at the end divides each by the
// native time of the same run: absolute times on a shared machine are not comparable between
// runs, ratios are.
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <future>
#include <map>
#include <thread>

#include "daemon/backend/backend_factory.h"
#include "daemon/events/event_bus.h"
#include "daemon/launcher/reaper.h"
#include "daemon/policy/policy_set.h"
#include "daemon/supervisor/guest.h"

namespace {

using hijack::Result;

constexpr uint64_t kBatch = 1000;  // calls timed together by the guest

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

// One benchmark iteration is a batch of kBatch calls; the table reports per call.
// Runs `count` getppid calls and returns the elapsed nanoseconds.
uint64_t TimedCalls(uint64_t count) {
  uint64_t start = NowNs();
  for (uint64_t i = 0; i < count; ++i) {
    syscall(SYS_getppid);
  }
  return NowNs() - start;
}

struct Mode {
  std::string name;
  std::string backend;   // "" for native
  std::string policy;    // JSON
  bool sync_wakeup = true;
};

// A guest under a real supervisor, answering "run N calls" requests over pipes. The pipes' read
// and write are outside the intercept set, so only the timed calls are intercepted.
class SupervisedGuest {
 public:
  explicit SupervisedGuest(const Mode& mode) {
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) {
      throw std::runtime_error("pipe");
    }
    cmd_ = to_child[1];
    result_ = from_child[0];
    auto policy = hijack::policy::PolicySet::FromText(mode.policy, mode.name,
                                                      hijack::policy::ModuleRegistry::BuiltIn());
    if (!policy) {
      throw std::runtime_error(policy.error().message);
    }
    hijack::SyscallSet intercept = (*policy)->needed();
    intercept.Add(SYS_getppid);
    guest_ = std::make_unique<hijack::supervisor::Guest>(1, *policy, intercept, bus_,
                                                         [this](int) { loop_.stop(); });
    hijack::LaunchSpec spec;
    spec.guest_id = 1;
    spec.argv = {"bench-guest"};
    spec.intercept = intercept;
    int in = to_child[0], out = from_child[1];
    spec.child_main = [in, out] {
      uint64_t count;
      while (read(in, &count, sizeof count) == sizeof count && count > 0) {
        uint64_t ns = TimedCalls(count);
        if (write(out, &ns, sizeof ns) != sizeof ns) {
          return 1;
        }
      }
      return 0;
    };
    // Built and launched on the loop's thread: ptrace(2) takes requests only from the thread
    // that attached (the ptrace backends), and the other backends do not mind.
    std::promise<std::string> launched;
    thread_ = std::thread([this, &mode, &spec, &launched] {
      auto backend = hijack::backend::MakeBackend(mode.backend, loop_, reaper_,
                                                  {.sync_wakeup = mode.sync_wakeup}, nullptr);
      if (!backend) {
        launched.set_value(backend.error().message);
        return;
      }
      backend_ = std::move(*backend);
      auto pid = backend_->Launch(spec, *guest_);
      launched.set_value(pid ? "" : pid.error().message);
      if (pid) {
        loop_.run();
      }
    });
    std::string error = launched.get_future().get();
    close(to_child[0]);
    close(from_child[1]);
    if (!error.empty()) {
      thread_.join();
      throw std::runtime_error(error);
    }
  }

  ~SupervisedGuest() {
    uint64_t stop = 0;
    (void)!write(cmd_, &stop, sizeof stop);
    thread_.join();
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
  int cmd_ = -1;
  int result_ = -1;
};

void BM_Syscall(benchmark::State& state, const Mode& mode) {
  std::unique_ptr<SupervisedGuest> guest;
  if (!mode.backend.empty()) {
    try {
      guest = std::make_unique<SupervisedGuest>(mode);
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
      return;
    }
  }
  for (auto _ : state) {
    uint64_t ns = guest ? guest->Run(kBatch) : TimedCalls(kBatch);
    state.SetIterationTime(static_cast<double>(ns) / 1e9);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kBatch));
}

// Keeps the fastest (min over repetitions) time per benchmark for the ratio table.
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
    std::printf("\n%-56s %12s %12s\n", "getppid() per call", "ns", "x native");
    for (const auto& name : order_) {
      double ns = best_.at(name);
      std::printf("%-56s %12.1f %12.1f\n", name.c_str(), ns, native > 0 ? ns / native : 0.0);
    }
  }

 private:
  std::map<std::string, double> best_;
  std::vector<std::string> order_;
};

const std::vector<Mode>& Modes() {
  static const std::vector<Mode> modes = {
      {"native", "", "", true},
      {"notify/continue", "notify", R"({"version": 1, "modules": []})", true},
      {"notify/return", "notify",
       R"({"version": 1, "modules": [{"module": "deny", "syscalls": ["getppid"]}]})", true},
      {"notify/continue/no-sync-wakeup", "notify", R"({"version": 1, "modules": []})", false},
      {"notify/return/no-sync-wakeup", "notify",
       R"({"version": 1, "modules": [{"module": "deny", "syscalls": ["getppid"]}]})", false},
      {"notify/continue+stats", "notify",
       R"({"version": 1, "modules": [{"module": "stats", "syscalls": ["getppid"]}]})", true},
      // One seccomp stop per call; +stats adds the exit stop that reads the result.
      {"ptrace/continue", "ptrace", R"({"version": 1, "modules": []})", true},
      {"ptrace/return", "ptrace",
       R"({"version": 1, "modules": [{"module": "deny", "syscalls": ["getppid"]}]})", true},
      {"ptrace/continue+stats", "ptrace",
       R"({"version": 1, "modules": [{"module": "stats", "syscalls": ["getppid"]}]})", true},
      // Entry and exit stops for every call, intercepted or not.
      {"ptrace-all/continue", "ptrace-all", R"({"version": 1, "modules": []})", true},
      {"ptrace-all/return", "ptrace-all",
       R"({"version": 1, "modules": [{"module": "deny", "syscalls": ["getppid"]}]})", true},
  };
  return modes;
}

}  // namespace

int main(int argc, char** argv) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  for (const Mode& mode : Modes()) {
    benchmark::RegisterBenchmark(("getppid/" + mode.name).c_str(), BM_Syscall, mode)
        ->UseManualTime()
        ->Unit(benchmark::kNanosecond);
  }
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
