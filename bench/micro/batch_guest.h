// A benchmark guest: a process that makes batches of calls on command and times each batch
// itself, natively or under one of hijackd's backends (the real launcher, policy engine and event
// bus, in this process).
//
//   // the launcher's side
//   BatchGuest guest({.backend = "ptrace", .policy = kStats},
//                    [](int in, int out) {
//                      LaunchSpec spec;
//                      spec.argv = {"guest"};
//                      launcher::ChildFunction::Set(spec, [in, out] { return ServeBatches(...); });
//                      return spec;
//                    });
//   uint64_t ns = guest.Run(1000);  // the guest's own time for 1000 calls
//
//   // the guest's side (in a ChildFunction, or in main() of an exec'd guest)
//   return ServeBatches(in, out, [](uint64_t n) { ...n calls, timed...; return ns; });
//
// The guest times itself with CLOCK_MONOTONIC (vDSO, no system call), so the supervisor's own
// work between batches is not counted, only what it adds to each call. Requests and answers go
// over two pipes whose fds the spec names; the guest reads and writes them with read(2) and
// write(2), which some modes intercept: that happens between batches, outside the timed loop.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "daemon/backend/backend_set.h"
#include "daemon/events/event_bus.h"
#include "daemon/launcher/child_function.h"
#include "daemon/launcher/reaper.h"
#include "daemon/modules/builtin.h"
#include "daemon/policy/policy_set.h"
#include "bench/micro/ratio_reporter.h"
#include "daemon/supervisor/guest.h"

namespace hijack::bench {

// The supervisor's reaper reads SIGCHLD from a signalfd: a benchmark's main() blocks it first,
// before any thread starts, so that every thread inherits the mask (signalfd(2)).
inline void BlockSigchld() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// The spec of a guest that is this benchmark's own program again (/proc/self/exe), run with
// `argv` (its main() recognizes the guest's arguments) and preloading `agent_library` if any.
inline LaunchSpec SelfGuest(std::vector<std::string> argv, std::vector<std::string> env,
                            std::string agent_library) {
  LaunchSpec spec;
  spec.path = "/proc/self/exe";
  spec.argv = std::move(argv);
  spec.env = std::move(env);
  spec.agent_library = std::move(agent_library);
  return spec;
}

inline uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

// The guest's loop: for each request "run N" on `in`, answers on `out` with what `timed(N)`
// returns (the batch's nanoseconds). A request of 0 or a closed pipe ends it; returns the exit
// status.
inline int ServeBatches(int in, int out, const std::function<uint64_t(uint64_t)>& timed) {
  uint64_t count;
  while (read(in, &count, sizeof count) == sizeof count && count > 0) {
    const uint64_t ns = timed(count);
    if (write(out, &ns, sizeof ns) != sizeof ns) {
      return 1;
    }
  }
  return 0;
}

struct GuestMode {
  std::string backend;  // "notify", "ptrace", "ptrace-all"; "" runs the guest natively
  std::string policy;   // JSON; the intercept set is what it needs plus `intercept`
  SyscallSet intercept = {};
  bool sync_wakeup = true;  // notify: SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
  // Install the policy's kernel floor (Landlock), as hijackd run does unless --no-landlock.
  bool landlock_floor = false;
};

class BatchGuest {
 public:
  // `make_spec(in, out)` describes the guest given the fds on which it reads requests and writes
  // answers (inherited: not close-on-exec). A native guest is forked (and exec'd unless the spec
  // has a ChildFunction) with the spec's argv and env; a supervised one is launched by the backend
  // on the thread that then runs its loop (ptrace(2) takes requests only from the thread that
  // attached). Throws std::runtime_error when the guest cannot be started.
  BatchGuest(const GuestMode& mode, const std::function<LaunchSpec(int in, int out)>& make_spec) {
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) {
      throw std::runtime_error("pipe");
    }
    cmd_ = to_child[1];
    result_ = from_child[0];
    fcntl(cmd_, F_SETFD, FD_CLOEXEC);
    fcntl(result_, F_SETFD, FD_CLOEXEC);
    LaunchSpec spec = make_spec(to_child[0], from_child[1]);
    std::string error = mode.backend.empty() ? StartNative(spec) : StartSupervised(mode, spec);
    close(to_child[0]);
    close(from_child[1]);
    if (!error.empty()) {
      if (thread_.joinable()) {
        thread_.join();
      }
      close(cmd_);
      close(result_);
      throw std::runtime_error(error);
    }
  }

  ~BatchGuest() {
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

  BatchGuest(const BatchGuest&) = delete;
  BatchGuest& operator=(const BatchGuest&) = delete;

  // The guest's time for `count` calls, in nanoseconds; 0 when it stopped answering.
  uint64_t Run(uint64_t count) {
    if (write(cmd_, &count, sizeof count) != sizeof count) {
      return 0;
    }
    uint64_t ns = 0;
    return read(result_, &ns, sizeof ns) == sizeof ns ? ns : 0;
  }

 private:
  std::string StartNative(LaunchSpec& spec) {
    std::vector<char*> argv, envp;
    for (auto& a : spec.argv) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    for (auto& e : spec.env) {
      envp.push_back(e.data());
    }
    envp.push_back(nullptr);
    native_pid_ = fork();
    if (native_pid_ < 0) {
      return "fork";
    }
    if (native_pid_ == 0) {
      if (const auto& child_main = launcher::ChildFunction::Of(spec)) {
        _exit(child_main());
      }
      execve(spec.path.c_str(), argv.data(), envp.data());
      _exit(127);
    }
    return "";
  }

  std::string StartSupervised(const GuestMode& mode, LaunchSpec& spec) {
    auto policy =
        policy::PolicySet::FromText(mode.policy, mode.backend, modules::BuiltInModules());
    if (!policy) {
      return policy.error().message;
    }
    SyscallSet intercept = (*policy)->needed();
    intercept.AddAll(mode.intercept);
    // As hijackd run launches it: the supervisor's own protection is part of what is measured.
    auto protection = supervisor::ProbeProtection(
        {.landlock_floor = mode.landlock_floor, .policy_fixed = true});
    intercept.AddAll(supervisor::GuardSyscalls(protection));
    spec.guest_id = 1;
    spec.intercept = intercept;
    spec.landlock_scope = protection.landlock_scope;
    // The guest is a function of this program (no exec): no start files to keep reachable.
    supervisor::AddKernelFloors(protection, **policy, "", "");
    spec.landlock_abi = protection.landlock_abi;
    for (const KernelFloor& f : protection.floors) {
      if (!f.empty()) {
        spec.landlock_floor.push_back(f);
      }
    }
    guest_ = std::make_unique<supervisor::Guest>(1, *policy, intercept, protection, bus_,
                                                 [this](int) { loop_.stop(); });
    std::promise<std::string> launched;
    thread_ = std::thread([this, &mode, &spec, &launched] {
      auto choice = backend::ParseBackendChoice(mode.backend);
      if (!choice) {
        launched.set_value(choice.error().message);
        return;
      }
      backends_ = std::make_unique<backend::BackendSet>(
          loop_, reaper_, backend::BackendOptions{.sync_wakeup = mode.sync_wakeup});
      auto backend = backends_->Select(*choice);
      if (!backend) {
        launched.set_value(backend.error().message);
        return;
      }
      auto pid = backend->backend->Launch(spec, *guest_);
      if (pid) {
        guest_->guard().SetRoot(*pid);
      }
      launched.set_value(pid ? "" : pid.error().message);
      if (pid) {
        loop_.run();
      }
    });
    return launched.get_future().get();
  }

  boost::asio::io_context loop_;
  launcher::ProcessReaper reaper_{loop_};
  events::EventBus bus_;
  std::unique_ptr<supervisor::Guest> guest_;
  std::unique_ptr<backend::BackendSet> backends_;
  std::thread thread_;
  pid_t native_pid_ = -1;
  int cmd_ = -1;
  int result_ = -1;
};

// The body of a benchmark over `guest`: one iteration per batch of `batch` calls, timed by the
// guest, with the counters RatioReporter reads.
inline void RunBatches(benchmark::State& state, BatchGuest& guest, uint64_t batch) {
  BatchTimes times(batch);
  for (auto _ : state) {
    const uint64_t ns = guest.Run(batch);
    if (ns == 0) {
      state.SkipWithError("the guest stopped answering");
      break;
    }
    times.Add(state, ns);
  }
  times.Publish(state);
}

}  // namespace hijack::bench
