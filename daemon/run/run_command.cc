#include "daemon/modules/builtin.h"
#include "daemon/run/run_command.h"

#include <signal.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <mutex>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fmt/ranges.h>
#include <map>
#include <spdlog/spdlog.h>

#include "common/exit_description.h"
#include "daemon/events/event_bus.h"
#include "daemon/exec_page/agent_launch.h"
#include "daemon/launcher/exit_status.h"
#include "daemon/launcher/inherited_signals.h"
#include "daemon/launcher/launcher.h"
#include "common/bounded_file.h"
#include "daemon/modules/fault/fault_module.h"
#include "daemon/modules/stats/stats_module.h"
#include "daemon/modules/trace/trace_module.h"
#include "daemon/policy/default_policy.h"
#include "daemon/policy/policy_set.h"
#include "daemon/supervisor/denial_text.h"
#include "daemon/supervisor/guest.h"
#include "daemon/supervisor/supervisor.h"
#include "daemon/syscalls/syscall_table.h"
#include "hijack/unique_fd.h"

extern char** environ;

namespace hijack::run {
namespace {

constexpr int kUsageError = 2;
constexpr int kStartFailure = 1;

// Signals a user sends to hijackd that are meant for the guest.
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// A child of hijackd that stays in the process group hijackd and the guest start in, so that a
// signal sent to the whole group (killpg(3), kill(0, ...), a shell's `kill -INT -PGID`) reaches
// it as well, while one sent to hijackd's pid does not: the kernel gives both the same siginfo
// (SI_USER and the sender), so hijackd can only tell them apart by who else got the signal. The
// witness keeps the forwarded signals blocked (pending, read from a signalfd) and, asked over a
// socket, answers with the set of those the group was sent since the last question.
//
// Why an answer is complete: a group signal is queued to every member during the sender's one
// kill(2), which walks the group under the kernel's tasklist lock; setpgid(2) takes that lock
// for writing, so once hijackd has made a setpgid that changes nothing after reading its own
// signal, the witness's copy is queued too. Everything the witness does is async-signal-safe
// (it is forked from a process that may have threads) and it dies with hijackd
// (PR_SET_PDEATHSIG).
class SignalWitness {
 public:
  // Nullptr when the witness cannot be started: hijackd then forwards every signal (logged).
  static std::unique_ptr<SignalWitness> Start() {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      spdlog::warn("signal witness: socketpair: {}", std::strerror(errno));
      return nullptr;
    }
    UniqueFd ours(sv[0]), theirs(sv[1]);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
      spdlog::warn("signal witness: fork: {}", std::strerror(errno));
      return nullptr;
    }
    if (pid == 0) {
      Serve(theirs.get(), parent);
    }
    return std::unique_ptr<SignalWitness>(new SignalWitness(std::move(ours), pid));
  }

  ~SignalWitness() {
    kill(pid_, SIGKILL);  // reaped by the supervisor's reaper, which waits for every child
  }

  // After hijackd read `sig` (SI_USER): true when the whole group was sent it, so the guest has
  // its own copy already. One unanswered group signal of a kind is kept for the next read.
  bool GroupGot(int sig) {
    if (!failed_) {
      setpgid(0, getpgrp());  // the barrier above; fails with EPERM for a session leader, also fine
      uint32_t seen = 0;
      const char ask = 0;
      pollfd p{sock_.get(), POLLIN, 0};
      if (write(sock_.get(), &ask, 1) != 1 || poll(&p, 1, kAnswerMs) != 1 ||
          read(sock_.get(), &seen, sizeof seen) != sizeof seen) {
        spdlog::warn("signal witness {} did not answer: signals sent to hijackd's process group "
                     "may now reach the guest twice",
                     pid_);
        failed_ = true;
      } else {
        for (int s = 1; s < 32; ++s) {
          if ((seen & (1u << s)) != 0) {
            ++unclaimed_[s];
          }
        }
      }
    }
    if (sig > 0 && sig < 32 && unclaimed_[sig] > 0) {
      --unclaimed_[sig];
      return true;
    }
    return false;
  }

 private:
  // A stopped or killed witness must not stall the loop that serves the guest.
  static constexpr int kAnswerMs = 1000;

  SignalWitness(UniqueFd sock, pid_t pid) : sock_(std::move(sock)), pid_(pid) {}

  [[noreturn]] static void Serve(int sock, pid_t parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
      _exit(0);
    }
    // Nothing of hijackd's stays open here: a pipe hijackd's parent reads to its end must end
    // with hijackd.
    if (sock != 3) {
      dup2(sock, 3);
      sock = 3;
    }
    close_range(4, ~0u, 0);
    for (int fd = 0; fd < 3; ++fd) {
      close(fd);
    }
    // Every signal blocked: whatever else the group is sent (a SIGUSR1, the terminal's SIGTSTP)
    // waits here unseen instead of ending or stopping the witness.
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, nullptr);
    sigset_t set;
    sigemptyset(&set);
    for (int sig : kForwarded) {
      sigaddset(&set, sig);
    }
    const int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) {
      _exit(1);
    }
    char ask;
    while (read(sock, &ask, 1) == 1) {
      uint32_t seen = 0;
      signalfd_siginfo info;
      while (read(sfd, &info, sizeof info) == sizeof info) {
        if (info.ssi_code == SI_USER && info.ssi_signo < 32) {
          seen |= 1u << info.ssi_signo;
        }
      }
      if (write(sock, &seen, sizeof seen) != sizeof seen) {
        break;
      }
    }
    _exit(0);
  }

  UniqueFd sock_;
  pid_t pid_;
  bool failed_ = false;
  int unclaimed_[32] = {};
};

// The signals of kForwarded (blocked in every thread of hijackd run), read from a signalfd on
// the loop: `on_signal` runs on the loop thread for each one, in the order they came.
class ForwardedSignals {
 public:
  using Handler = std::function<void(const signalfd_siginfo&)>;

  ForwardedSignals(boost::asio::io_context& loop, Handler on_signal)
      : stream_(loop), on_signal_(std::move(on_signal)) {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : kForwarded) {
      sigaddset(&set, sig);
    }
    fd_.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    stream_.assign(fd_.get());
    Arm();
  }
  ~ForwardedSignals() {
    stream_.cancel();
    (void)stream_.release();
  }
  ForwardedSignals(const ForwardedSignals&) = delete;
  ForwardedSignals& operator=(const ForwardedSignals&) = delete;

 private:
  void Arm() {
    stream_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [this](const boost::system::error_code& ec) {
                         if (ec) {
                           return;
                         }
                         signalfd_siginfo info;
                         while (read(fd_.get(), &info, sizeof info) == sizeof info) {
                           on_signal_(info);
                         }
                         Arm();
                       });
  }

  UniqueFd fd_;
  boost::asio::posix::stream_descriptor stream_;
  Handler on_signal_;
};

// Relays signals to the guest's main process. Signals the terminal sent to the whole foreground
// process group (si_code SI_KERNEL) already reached the guest and are not sent twice, nor are
// those a process sent to the whole group (SignalWitness; may be null: every signal from a
// process is forwarded).
class SignalForwarder {
 public:
  SignalForwarder(boost::asio::io_context& loop, pid_t target, SignalWitness* witness)
      : signals_(loop, [target, witness](const signalfd_siginfo& info) {
          const int sig = static_cast<int>(info.ssi_signo);
          if (info.ssi_code == SI_KERNEL ||
              (info.ssi_code == SI_USER && witness != nullptr && witness->GroupGot(sig))) {
            spdlog::debug("signal {} reached the guest's process group itself", sig);
          } else {
            spdlog::debug("forwarding signal {} to guest {}", sig, target);
            kill(target, sig);
          }
        }) {}

 private:
  ForwardedSignals signals_;
};

// hijackd strace -p: SIGINT, SIGTERM, SIGHUP or SIGQUIT to hijackd lets go of the attached
// processes (Supervisor::Detach), which run on as before; the guest then ends, and hijackd
// with it, exit status 0, as strace(1) does.
class DetachOnSignal {
 public:
  DetachOnSignal(supervisor::Supervisor& sup, uint64_t id, std::atomic<bool>& detached)
      : signals_(sup.loop(), [&sup, id, &detached](const signalfd_siginfo& info) {
          if (!detached.exchange(true)) {
            spdlog::debug("signal {}: detaching from guest {}", info.ssi_signo, id);
            (void)sup.Detach(id);  // ESRCH: it has ended already
          }
        }) {}

 private:
  ForwardedSignals signals_;
};

// strace's messages for -p (which -q leaves out): "Process N attached", with the number of its
// threads when it has several, and "Process N detached", on stderr whatever -o says.
void SayAttached(const std::vector<pid_t>& pids, std::string_view what) {
  std::vector<pid_t> said;
  for (pid_t pid : pids) {
    if (std::find(said.begin(), said.end(), pid) != said.end()) {
      continue;
    }
    said.push_back(pid);
    size_t threads = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      ++threads;
    }
    if (what == "attached" && threads > 1) {
      std::fprintf(stderr, "hijackd strace: Process %d attached with %zu threads\n", pid, threads);
    } else {
      std::fprintf(stderr, "hijackd strace: Process %d %s\n", pid, std::string(what).c_str());
    }
  }
}

// The denials of the run's guest, said as they happen (DenialText, at info level: --quiet hides
// them) and counted for the summary. Denials of calls that the kernel would have failed anyway
// (DenialReason::would_fail) are counted apart and said only at debug level: they cost the guest
// nothing.
class DenialLog {
 public:
  // The first this many denials are said one by one; the summary counts every one.
  static constexpr uint64_t kSaid = 20;

  void Add(const Event& event) {
    const DenialReason* reason = event.decision.reason();
    std::lock_guard lock(mu_);
    if (reason != nullptr && reason->would_fail != 0) {
      // Nothing the guest lost (a program probing for optional files makes many): only counted,
      // and said at debug level.
      ++would_fail_[ErrnoName(reason->would_fail)];
      spdlog::debug("{}", supervisor::DenialText(event));
      return;
    }
    ++denied_[event.module];
    if (++said_ <= kSaid) {
      spdlog::info("{}", supervisor::DenialText(event));
    } else if (said_ == kSaid + 1) {
      spdlog::info("further denials are only counted (summary at the end)");
    }
  }

  // "3 calls denied by the policy (fs_guard 2, exec_guard 1); 5 more would have failed anyway
  // (ENOENT 5)", or empty when nothing was denied.
  std::string Summary() const {
    std::lock_guard lock(mu_);
    auto counts = [](const std::map<std::string, uint64_t>& by, uint64_t& total) {
      std::string text;
      for (const auto& [name, n] : by) {
        text += (text.empty() ? "" : ", ") + name + " " + std::to_string(n);
        total += n;
      }
      return text;
    };
    uint64_t denied = 0, anyway = 0;
    const std::string by_module = counts(denied_, denied);
    const std::string by_errno = counts(would_fail_, anyway);
    if (denied == 0 && anyway == 0) {
      return {};
    }
    std::string text = std::to_string(denied) + (denied == 1 ? " call" : " calls") +
                       " denied by the policy";
    if (denied > 0) {
      text += " (" + by_module + ")";
    }
    if (anyway > 0) {
      text += "; " + std::to_string(anyway) + (anyway == 1 ? " denied call" : " denied calls") +
              " would have failed anyway (" + by_errno + ")";
    }
    return text;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> denied_;      // by module
  std::map<std::string, uint64_t> would_fail_;  // by the errno the kernel would have returned
  uint64_t said_ = 0;
};

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    env.emplace_back(*e);
  }
  return env;
}

// The modules `hijackd strace` adds to the policy, and where its -c table goes.
struct StraceParts {
  modules::TraceModule* trace = nullptr;  // owned by the policy; null with -c alone
  modules::StatsModule* stats = nullptr;  // -c, -C
  std::FILE* summary_out = stderr;        // -c -o FILE: the table goes to FILE
  ~StraceParts() {
    if (summary_out != stderr) {
      std::fclose(summary_out);
    }
  }
};

// Adds the modules of strace's options to `policy`: one fault module per injected call (strace
// counts when= per call), the trace, the stats table.
Result<void> AddStraceModules(const StraceOptions& o, policy::PolicySet& policy,
                              StraceParts& parts) {
  for (const StraceInject& inject : o.injects) {
    for (int nr : inject.syscalls.Numbers()) {
      modules::FaultModule::Config c;
      c.syscalls.Add(nr);
      c.err = inject.error;
      c.retval = inject.retval;
      c.after = inject.first - 1;
      c.every = inject.step == 0 ? 1 : inject.step;
      c.times = inject.step == 0 ? 1 : UINT64_MAX;
      nlohmann::json record = {{"module", "fault"},
                               {"syscall", std::string(syscalls::SyscallName(nr))},
                               {"after", c.after},
                               {"every", c.every}};
      if (c.retval) {
        record["retval"] = *c.retval;
      } else {
        record["errno"] = ErrnoName(c.err);
      }
      if (c.times != UINT64_MAX) {
        record["times"] = c.times;
      }
      policy.Append(std::make_unique<modules::FaultModule>(std::move(c)), std::move(record));
    }
  }
  const std::string output = o.output.value_or("");
  if (o.summary != StraceOptions::Summary::kOnly) {
    using Style = modules::TraceModule::StraceStyle;
    Style style;
    style.shown = o.trace;
    style.stamps = static_cast<Style::Stamps>(o.stamps);
    style.relative = o.relative;
    style.durations = o.durations;
    style.string_limit = o.string_limit;
    style.fd_paths = o.fd_paths;
    style.results = static_cast<Style::Results>(o.results);
    style.prefix = o.per_pid_files ? Style::Prefix::kNone
                   : o.output && o.follow > 0 ? Style::Prefix::kAlways
                                              : Style::Prefix::kWhenSeveral;
    if (o.per_pid_files) {
      style.per_pid_base = output;
    }
    HIJACK_ASSIGN_OR_RETURN(auto trace, modules::TraceModule::OpenStrace(std::move(style), output));
    parts.trace = trace.get();
    policy.Append(std::move(trace), {{"module", "trace"}, {"output", output}, {"format", "strace"}});
  } else if (!output.empty() && output != "-") {
    auto opened = common::OpenOutputFile(output, /*append=*/false);
    if (!opened) {
      return std::unexpected(Error{opened.error().code, "-o " + opened.error().message});
    }
    parts.summary_out = *opened;
  }
  if (o.summary != StraceOptions::Summary::kNone) {
    auto stats = std::make_unique<modules::StatsModule>(
        o.trace, /*latency=*/true, modules::StatsModule::Table::kStrace,
        static_cast<common::StraceSort>(o.sort));
    parts.stats = stats.get();
    policy.Append(std::move(stats), {{"module", "stats"}, {"table", "strace"}});
  }
  return {};
}

// What `hijackd strace` writes when its guest has ended: the main process's exit line, the -c
// table, and once the reason for any "= ?".
void FinishStrace(const StraceParts& parts, pid_t pid, std::optional<int> status,
                  BackendKind backend) {
  if (parts.trace != nullptr && status) {
    parts.trace->ProcessEnded(pid, *status);
  }
  if (parts.stats != nullptr) {
    const std::string table = parts.stats->Report();
    if (parts.trace != nullptr) {
      parts.trace->WriteAfterLines(table);  // -C: after the lines, in the same file (strace)
    } else {
      std::fputs(table.c_str(), parts.summary_out);
      std::fflush(parts.summary_out);
    }
  }
  // Said where strace would have shown one: a signal other than SIGKILL (which has no
  // delivery) ended the guest. (The notify backend's exec watch, a tracer, does see deliveries:
  // exec_guard policies.)
  if (parts.trace != nullptr && backend == BackendKind::kNotify &&
      parts.trace->signals_shown() == 0 && status && WIFSIGNALED(*status) &&
      WTERMSIG(*status) != SIGKILL) {
    std::fputs("hijackd strace: signal deliveries (--- SIG... ---) are not shown: under the "
               "notify backend the kernel delivers signals without stopping the guest; --backend "
               "ptrace shows them\n",
               stderr);
  }
  if (parts.trace != nullptr && parts.trace->unread_out_arguments() > 0) {
    // Under notify the kernel writes a call's out-parameters after hijackd's answer, and the
    // result observer reports only the return value, at sys_exit; by the time hijackd reads it
    // the guest has gone on and may have reused that memory, so reading it then could show
    // another call's data. Addresses are shown instead, and said once.
    std::fprintf(stderr,
                 "hijackd strace: %llu calls show out-parameters (struct stat, data read, wait "
                 "status, descriptors of a pipe) as addresses: the %s backend does not stop the "
                 "guest where the call returns, so what the kernel wrote there cannot be read "
                 "reliably; --backend ptrace shows them\n",
                 static_cast<unsigned long long>(parts.trace->unread_out_arguments()),
                 std::string(BackendKindName(backend)).c_str());
  }
  if (parts.trace != nullptr && parts.trace->unknown_results() > 0) {
    std::fprintf(stderr,
                 "hijackd strace: %llu calls show \"= ?\": the %s backend let them run and the "
                 "kernel reports no result of such calls back (seccomp_unotify(2)); --backend "
                 "ptrace shows every result\n",
                 static_cast<unsigned long long>(parts.trace->unknown_results()),
                 std::string(BackendKindName(backend)).c_str());
  }
}

}  // namespace

namespace {

// Runs the guest to its end and reports; `wait_status` gets the guest's waitpid(2) status when
// it ran. Every thread, descriptor and guest of the run is gone when this returns.
int RunToEnd(const RunOptions& options, std::optional<int>& wait_status) {
  // Before the supervisor changes anything: the guest gets what hijackd inherited.
  launcher::InheritedSignals::Capture();
  // hijackd waits for its children: an inherited SIGCHLD SIG_IGN would have the kernel reap them
  // unseen (waitpid(2), "NOTES"). The guest still gets it ignored, as it would natively.
  signal(SIGCHLD, SIG_DFL);
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
  // Forked before the supervisor starts its threads, with the mask just set: the witness
  // inherits the forwarded signals blocked, so a group signal waits in it until asked for.
  std::unique_ptr<SignalWitness> witness = SignalWitness::Start();

  const auto& registry = modules::BuiltInModules();
  // hijackd strace writes what strace would: no stats table unless -c asks for one.
  auto policy = options.policy_file ? policy::PolicySet::FromFile(*options.policy_file, registry)
                : options.strace
                    ? policy::PolicySet::FromText(R"({"version": 1, "modules": []})",
                                                  "hijackd strace", registry)
                    : policy::PolicySet::FromText(policy::DefaultPolicyText(), "default policy",
                                                  registry);
  if (!policy) {
    spdlog::error("{}", policy.error().message);
    return kUsageError;
  }
  StraceParts strace_parts;
  if (options.strace) {
    if (auto added = AddStraceModules(*options.strace, **policy, strace_parts); !added) {
      spdlog::error("{}", added.error().message);
      return kUsageError;
    }
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
  // hijackd strace -p: processes that run already, instead of a command.
  const std::vector<pid_t> attach =
      options.strace ? options.strace->attach : std::vector<pid_t>{};

  std::vector<std::string> env = CurrentEnvironment();
  // The notify backend preloads it (exec_page/agent_launch.h); a build without the agent
  // library runs every call through the supervisor.
  std::string agent_library;
  if (options.agent && attach.empty()) {
    auto found = exec_page::PreloadableAgentLibrary();
    if (!found) {
      spdlog::error("{} (unset {} to use the installed agent, or pass --no-agent)",
                    found.error().message, exec_page::kAgentLibraryEnv);
      return kUsageError;
    }
    agent_library = std::move(*found);
    if (agent_library.empty()) {
      spdlog::debug("libhijack-agent.so not found: every call goes through the supervisor");
    }
  }
  std::string path_env = "/usr/local/bin:/usr/bin:/bin";
  if (const char* p = getenv("PATH")) {
    path_env = p;
  }
  if (attach.empty()) {
    auto exe = launcher::ResolveExecutable(options.command.at(0), path_env);
    if (!exe) {
      std::fprintf(stderr, "hijackd: %s\n", exe.error().message.c_str());
      return exe.error().code;
    }
  }

  supervisor::Supervisor sup({.sync_wakeup = options.sync_wakeup,
                              .contain = options.contain,
                              .kernel_observer = options.kernel_observer});
  std::mutex exit_mu;
  std::condition_variable exit_cv;
  std::optional<int> status;
  // Before StartLoop, so no other thread runs the loop yet.
  sup.AddExitListener([&](uint64_t, int s) {
    std::lock_guard lock(exit_mu);
    status = s;
    exit_cv.notify_all();
  });
  std::function<void()> stop_control;
  if (options.serve_control) {
    auto stop = options.serve_control(sup);
    if (!stop) {
      spdlog::error("{}", stop.error().message);
      return kStartFailure;
    }
    stop_control = std::move(*stop);
  }
  DenialLog denials;
  auto denial_sub = sup.bus().Subscribe(
      "denials", 4096, [&](const events::EventItem& item, uint64_t) { denials.Add(item.event); },
      [](const events::EventItem& item) { return supervisor::IsDenial(item.event); });
  sup.StartLoop();

  supervisor::GuestSpec spec;
  spec.argv = options.command;
  spec.env = std::move(env);
  spec.agent_library = std::move(agent_library);
  spec.policy = std::move(*policy);
  spec.extra_intercept = extra;
  spec.backend = options.backend;
  spec.guard.landlock_scope = options.landlock_scope;
  spec.guard.landlock_floor = options.landlock_floor;
  spec.guard.landlock_abi_max = options.landlock_abi_max;
  spec.guard.allow_io_uring = options.allow_io_uring;
  // Without --listen nobody can change this guest's policy: what it does not enforce now it
  // never will.
  spec.guard.policy_fixed = !options.serve_control;
  std::unique_ptr<SignalForwarder> forwarder;
  std::unique_ptr<DetachOnSignal> detacher;
  std::atomic<bool> detached{false};
  auto launched = sup.OnLoop(
      [&]() -> Result<std::pair<supervisor::GuestInfo, std::shared_ptr<supervisor::Guest>>> {
        if (!attach.empty()) {
          auto info = sup.Attach({.pids = attach,
                                  .policy = std::move(spec.policy),
                                  .follow_forks = options.strace->follow > 0});
          if (!info) {
            const std::string pids = fmt::format("{}", fmt::join(attach, ","));
            std::string why = info.error().message;
            if (info.error().code == EPERM) {
              why += " (tracing a process needs its uid and a kernel.yama.ptrace_scope that "
                     "allows it, or root; a process traced already, by a debugger or strace, "
                     "cannot be traced again)";
            }
            return std::unexpected(Error{info.error().code, "-p " + pids + ": " + why});
          }
          detacher = std::make_unique<DetachOnSignal>(sup, info->id, detached);
          return std::pair(*info, *sup.Find(info->id));
        }
        auto info = sup.Launch(std::move(spec));
        if (!info) {
          return std::unexpected(info.error());
        }
        forwarder = std::make_unique<SignalForwarder>(sup.loop(), info->pid, witness.get());
        return std::pair(*info, *sup.Find(info->id));
      },
      std::chrono::steady_clock::now() + std::chrono::hours(1));
  if (!launched) {
    spdlog::error("{}", launched.error().message);
    if (stop_control) {
      stop_control();
    }
    sup.StopLoop();
    return kStartFailure;
  }
  auto& [info, guest] = *launched;
  const bool say_attach = !attach.empty() && options.strace->quiet == 0;
  if (say_attach) {
    SayAttached(attach, "attached");
  }
  {
    std::unique_lock lock(exit_mu);
    exit_cv.wait(lock, [&] { return status.has_value(); });
  }
  // The loop still runs here, so API calls in flight can finish.
  if (stop_control) {
    stop_control();
  }
  sup.StopLoop();
  forwarder.reset();
  detacher.reset();

  sup.bus().Flush();
  if (options.strace) {
    if (uint64_t drops = guest->observer_drops(); drops > 0) {
      // The trace's queue is bounded in events and bytes (event_bus.h): a writer that fell far
      // behind (a slow terminal, -s with megabyte buffers) loses lines, and says how many.
      std::fprintf(stderr,
                   "hijackd strace: %llu calls have no line: the trace fell behind the guest and "
                   "its queue was full\n",
                   static_cast<unsigned long long>(drops));
    }
  }
  if (!attach.empty()) {
    // Let go (SIGINT): the processes run on, and have no exit line. Ended by themselves: the
    // main process's exit line, as strace prints it. Either way hijackd exits 0, as strace -p.
    const bool ended = status && *status != kUnknownWaitStatus;
    FinishStrace(strace_parts, info.pid, ended ? status : std::nullopt, info.backend);
    if (say_attach && detached.load()) {
      SayAttached(attach, "detached");
    }
    wait_status.reset();
    return 0;
  }
  if (options.strace) {
    FinishStrace(strace_parts, info.pid, status, info.backend);
  } else if (!options.quiet) {
    auto snapshot = guest->engine().Current();
    for (const auto& module : snapshot->modules()) {
      std::string report = module->Report();
      if (!report.empty()) {
        std::fprintf(stderr, "\nhijackd: %s of guest 1 (%s, backend %s)\n%s",
                     std::string(module->Name()).c_str(), options.command[0].c_str(),
                     std::string(BackendKindName(info.backend)).c_str(), report.c_str());
      }
    }
    if (SyscallSet exempt = guest->engine().Exempt(); !exempt.empty()) {
      const std::string names = syscalls::SyscallNames(exempt, ",");
      std::fprintf(stderr,
                   "hijackd: agent: %s ran in the guest, counted there without stopping for the "
                   "supervisor (--no-agent: every call through the supervisor)\n",
                   names.c_str());
    }
    std::fprintf(stderr, "hijackd: protection: %s\n", info.protection.Summary().c_str());
    if (info.backend == BackendKind::kNotify) {
      // What a signal handler without SA_RESTART may see (README, "What a guest can observe").
      std::fprintf(stderr, "%s",
                   launcher::KernelHasWaitKillableRecv()
                       ? "hijackd: signals: a call the supervisor has received is not interrupted "
                         "(SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV); one still queued for it can "
                         "fail with EINTR where natively it cannot\n"
                       : "hijackd: signals: this kernel lacks "
                         "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19): a call held by the "
                         "supervisor can fail with EINTR where natively it cannot\n");
    }
    if (status && WIFSIGNALED(*status)) {
      // As a shell tells it; hijackd then dies of the same signal (DieOfSignal).
      std::fprintf(stderr, "hijackd: guest 1 (%s) %s\n", options.command[0].c_str(),
                   common::DescribeWaitStatus(*status).c_str());
    }
    if (std::string summary = denials.Summary(); !summary.empty()) {
      std::fprintf(stderr, "hijackd: denials: %s\n", summary.c_str());
    }
    if (uint64_t lost = denial_sub->dropped(); lost > 0) {
      std::fprintf(stderr, "hijackd: denials: %llu more were not counted (the count fell behind)\n",
                   static_cast<unsigned long long>(lost));
    }
    if (uint64_t drops = guest->observer_drops(); drops > 0) {
      std::fprintf(stderr, "hijackd: %llu events were dropped by slow observers\n",
                   static_cast<unsigned long long>(drops));
    }
  }
  wait_status = status;
  return status ? launcher::ExitStatusOf(*status) : kStartFailure;
}

// Ends hijackd by the signal that ended its guest, so that hijackd's parent sees what it would
// see natively ("killed by SIGTERM", WIFSIGNALED in wait(2)) rather than exit status 128+N, as
// strace does. Returns only if the signal did not end the process.
void DieOfSignal(int sig) {
  std::fflush(nullptr);
  spdlog::shutdown();
  // A core of the supervisor would be of no use and is not the guest's: hijackd is not dumpable
  // anyway (main.cc), and a zero limit keeps a core_pattern pipe from being run either.
  struct rlimit no_core {};
  setrlimit(RLIMIT_CORE, &no_core);
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  sigaction(sig, &action, nullptr);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, sig);
  // raise(3) signals this thread, which must not block it; the default action of a fatal
  // signal ends every thread of the process, whatever their masks (signal(7)).
  pthread_sigmask(SIG_UNBLOCK, &only, nullptr);
  raise(sig);
}

}  // namespace

int RunGuest(const RunOptions& options) {
  std::optional<int> wait_status;
  const int exit_status = RunToEnd(options, wait_status);
  if (wait_status && WIFSIGNALED(*wait_status)) {
    DieOfSignal(WTERMSIG(*wait_status));
  }
  return exit_status;
}

}  // namespace hijack::run
