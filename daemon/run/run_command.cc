#include "daemon/run/run_command.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdio>
#include <spdlog/spdlog.h>

#include "daemon/backend/backend_factory.h"
#include "daemon/events/event_bus.h"
#include "daemon/launcher/launcher.h"
#include "daemon/launcher/reaper.h"
#include "daemon/modules/trace/trace_module.h"
#include "daemon/policy/policy_set.h"
#include "daemon/run/default_policy.h"
#include "daemon/supervisor/guest.h"
#include "daemon/syscalls/syscall_table.h"
#include "hijack/unique_fd.h"

extern char** environ;

namespace hijack::run {
namespace {

constexpr int kUsageError = 2;
constexpr int kStartFailure = 1;

// Signals a user sends to hijackd that are meant for the guest.
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Relays signals to the guest's main process. Signals the terminal sent to the whole foreground
// process group (si_code SI_KERNEL) already reached the guest and are not sent twice.
class SignalForwarder {
 public:
  SignalForwarder(boost::asio::io_context& loop, pid_t target) : stream_(loop), target_(target) {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : kForwarded) {
      sigaddset(&set, sig);
    }
    fd_.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    stream_.assign(fd_.get());
    Arm();
  }
  ~SignalForwarder() {
    stream_.cancel();
    (void)stream_.release();
  }

 private:
  void Arm() {
    stream_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [this](const boost::system::error_code& ec) {
                         if (ec) {
                           return;
                         }
                         signalfd_siginfo info;
                         while (read(fd_.get(), &info, sizeof info) == sizeof info) {
                           if (info.ssi_code != SI_KERNEL) {
                             spdlog::debug("forwarding signal {} to guest {}", info.ssi_signo,
                                           target_);
                             kill(target_, static_cast<int>(info.ssi_signo));
                           }
                         }
                         Arm();
                       });
  }

  UniqueFd fd_;
  boost::asio::posix::stream_descriptor stream_;
  pid_t target_;
};

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    env.emplace_back(*e);
  }
  return env;
}

}  // namespace

std::string_view DefaultPolicyText() { return kDefaultPolicyJson; }

int ExitStatusOf(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return WEXITSTATUS(wait_status);
  }
  if (WIFSIGNALED(wait_status)) {
    return 128 + WTERMSIG(wait_status);
  }
  return kStartFailure;
}

int RunGuest(const RunOptions& options) {
  // Every thread started from here on inherits this mask; the loop reads these signals from
  // signalfds instead.
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGCHLD);
  for (int sig : kForwarded) {
    sigaddset(&blocked, sig);
  }
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const auto& registry = policy::ModuleRegistry::BuiltIn();
  auto policy = options.policy_file
                    ? policy::PolicySet::FromFile(*options.policy_file, registry)
                    : policy::PolicySet::FromText(DefaultPolicyText(), "default policy", registry);
  if (!policy) {
    spdlog::error("{}", policy.error().message);
    return kUsageError;
  }
  SyscallSet extra;
  for (const auto& spec : options.intercept) {
    auto set = syscalls::ResolveSyscallSpec(spec);
    if (!set) {
      spdlog::error("--intercept: {}", set.error().message);
      return kUsageError;
    }
    extra.AddAll(*set);
  }
  if (options.trace_file) {
    auto format = options.trace_format == "json" ? modules::TraceModule::Format::kJson
                                                 : modules::TraceModule::Format::kText;
    auto trace = modules::TraceModule::Open(extra.empty() ? syscalls::AllSyscalls() : extra,
                                            *options.trace_file, format);
    if (!trace) {
      spdlog::error("--trace: {}", trace.error().message);
      return kUsageError;
    }
    (*policy)->Append(std::move(*trace), {{"module", "trace"}, {"output", *options.trace_file},
                                          {"format", options.trace_format}});
  }
  SyscallSet intercept = (*policy)->needed();
  intercept.AddAll(extra);

  std::vector<std::string> env = CurrentEnvironment();
  std::string path_env = "/usr/local/bin:/usr/bin:/bin";
  if (const char* p = getenv("PATH")) {
    path_env = p;
  }
  auto exe = launcher::ResolveExecutable(options.command.at(0), path_env);
  if (!exe) {
    std::fprintf(stderr, "hijackd: %s\n", exe.error().message.c_str());
    return exe.error().code;
  }

  boost::asio::io_context loop;
  launcher::ProcessReaper reaper(loop);
  events::EventBus bus;
  std::optional<int> status;
  auto guest = std::make_unique<supervisor::Guest>(1, std::move(*policy), intercept, bus,
                                                   [&](int s) {
                                                     status = s;
                                                     loop.stop();
                                                   });
  std::string chosen;
  auto backend = backend::MakeBackend(options.backend, loop, reaper,
                                      {.sync_wakeup = options.sync_wakeup}, &chosen);
  if (!backend) {
    spdlog::error("{}", backend.error().message);
    return kStartFailure;
  }
  if (options.backend == "auto") {
    spdlog::info("backend: {}", chosen);
  }
  if (auto fits = guest->engine().Current()->CheckBackend(**backend); !fits) {
    spdlog::error("{}", fits.error().message);
    return kUsageError;
  }
  LaunchSpec spec;
  spec.guest_id = 1;
  spec.path = *exe;
  spec.argv = options.command;
  spec.env = std::move(env);
  spec.intercept = intercept;
  auto pid = (*backend)->Launch(spec, *guest);
  if (!pid) {
    spdlog::error("cannot start {}: {}", spec.path, pid.error().message);
    return kStartFailure;
  }
  spdlog::debug("guest 1 is pid {}; intercepting {} syscalls", *pid, intercept.size());
  SignalForwarder forwarder(loop, *pid);
  loop.run();

  bus.Flush();
  if (!options.quiet) {
    auto snapshot = guest->engine().Current();
    for (const auto& module : snapshot->modules()) {
      std::string report = module->Report();
      if (!report.empty()) {
        std::fprintf(stderr, "\nhijackd: %s of guest 1 (%s, backend %s)\n%s",
                     std::string(module->Name()).c_str(), options.command[0].c_str(),
                     std::string((*backend)->Name()).c_str(), report.c_str());
      }
    }
    if (uint64_t drops = guest->observer_drops(); drops > 0) {
      std::fprintf(stderr, "hijackd: %llu events were dropped by slow observers\n",
                   static_cast<unsigned long long>(drops));
    }
  }
  guest.reset();  // flushes and closes trace files
  return status ? ExitStatusOf(*status) : kStartFailure;
}

}  // namespace hijack::run
