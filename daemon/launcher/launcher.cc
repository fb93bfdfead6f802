#include "daemon/launcher/launcher.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "daemon/launcher/listener_handover.h"
#include "daemon/launcher/namespace_init.h"

namespace hijack::launcher {
namespace {

// Messages the child writes to the report pipe: {step, value}. Each is a failure, value an errno.
enum ChildStep : int32_t {
  // 1 was the listener's number, for pidfd_getfd(2) (ListenerHandover replaced it).
  kChdir = 2,
  kFilter = 3,
  kExec = 4,
  kGo = 5,
  kInherit = 6,   // clearing close-on-exec on the descriptor the guest inherits
  kHandover = 7,  // starting the helper that hands the listener over (clone(2))
  kContain = 8,   // making the guest's pid namespace (NamespaceInit::Enter)
};
struct ChildMessage {
  int32_t step;
  int32_t value;
};

// Exit status of a child that failed before exec; 127/126 follow the shell for exec failures.
constexpr int kSetupFailedStatus = 125;

// How long the supervisor waits for a starting guest's listener.
constexpr auto kHandoverDeadline = std::chrono::seconds(10);

void ChildReport(int fd, ChildStep step, int value) {
  ChildMessage msg{step, value};
  // Raw write: nothing here may allocate or take a lock (we are a fork of a threaded process).
  (void)!write(fd, &msg, sizeof msg);
}

[[noreturn]] void ChildFail(int fd, ChildStep step, int err, ListenerHandover* handover = nullptr) {
  ChildReport(fd, step, err);
  // After the report, so the supervisor finds it when the helper says it gave up.
  if (handover != nullptr) {
    handover->ChildFailed();
  }
  _exit(step == kExec ? (err == ENOENT ? 127 : 126) : kSetupFailedStatus);
}

// Runs in the child after fork. Only async-signal-safe calls.
[[noreturn]] void ChildMain(const LaunchSpec& spec, const FilterProgram* program, ChildMode mode,
                            int report_fd, int go_fd, pid_t parent, char* const* argv,
                            char* const* envp, int inherit_fd, ListenerHandover* handover) {
  // The supervisor blocks and redirects signals; the guest starts with a clean slate.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) {
      signal(sig, SIG_DFL);
    }
  }
  // If the supervisor dies the guest dies too: unsupervised it would run with a filter that
  // fails every intercepted call with ENOSYS.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) {
    _exit(kSetupFailedStatus);
  }
  if (inherit_fd >= 0 && fcntl(inherit_fd, F_SETFD, 0) != 0) {
    ChildFail(report_fd, kInherit, errno);
  }
  if (!spec.cwd.empty() && chdir(spec.cwd.c_str()) != 0) {
    ChildFail(report_fd, kChdir, errno);
  }
  auto wait_for_go = [go_fd] {
    char byte;
    if (read(go_fd, &byte, 1) != 1) {
      _exit(kSetupFailedStatus);  // the supervisor gave up on us
    }
    close(go_fd);
  };
  if (mode != ChildMode::kNotifyListener) {
    wait_for_go();
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    ChildFail(report_fd, kFilter, errno);
  }
  if (program != nullptr && mode != ChildMode::kWaitNoFilter) {
    sock_fprog prog = program->fprog();
    unsigned flags = 0;
    if (mode == ChildMode::kNotifyListener) {
      // Started before the filter, the helper makes its calls unfiltered (listener_handover.h).
      if (int err = handover->StartHelper(); err != 0) {
        ChildFail(report_fd, kHandover, err);
      }
      flags = SECCOMP_FILTER_FLAG_NEW_LISTENER;
    }
    long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (rc < 0) {
      ChildFail(report_fd, kFilter, errno, handover);
    }
    if (mode == ChildMode::kNotifyListener) {
      // From here on any call may wait for the supervisor, which waits for this.
      handover->Publish(static_cast<int>(rc));
    }
  }
  if (spec.child_main) {
    if (mode == ChildMode::kNotifyListener) {
      // The guest function starts once the supervisor holds the listener, as an exec'd guest
      // does (its execve waits for the supervisor).
      wait_for_go();
    }
    // Tests and benchmarks only: the function runs in a forked child and may allocate.
    _exit(spec.child_main());
  }
  execve(spec.path.c_str(), argv, envp);
  ChildFail(report_fd, kExec, errno);
}

// What a report from the child means, worded for StartChild's callers.
Error ChildError(const ChildMessage& msg) {
  switch (msg.step) {
    case kChdir:
      return ErrnoError(msg.value, "chdir").error();
    case kFilter:
      return ErrnoError(msg.value, "installing the seccomp filter").error();
    case kInherit:
      return ErrnoError(msg.value, "keeping the executive page open across exec").error();
    case kHandover:
      return ErrnoError(msg.value, "starting the helper that hands the seccomp listener over")
          .error();
    case kExec:
      return Error{msg.value, std::strerror(msg.value)};
    case kContain:
      return *NamespaceInit::DescribeReport(msg.value);
    default:
      return Error{EPROTO, "unknown report " + std::to_string(msg.step) + " from the guest"};
  }
}

std::vector<char*> CStrings(const std::vector<std::string>& in) {
  std::vector<char*> out;
  out.reserve(in.size() + 1);
  for (const auto& s : in) {
    out.push_back(const_cast<char*>(s.c_str()));
  }
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<LaunchedChild> StartChild(const LaunchSpec& spec, const FilterProgram* program,
                                 ChildMode mode, int inherit_fd) {
  if (mode == ChildMode::kNotifyListener && program == nullptr) {
    return std::unexpected(Error{EINVAL, "a listener needs a filter to listen to"});
  }
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    return ErrnoError(errno, "pipe2");
  }
  UniqueFd report_read(report[0]), report_write(report[1]);
  UniqueFd go_read, go_write;
  if (mode != ChildMode::kNotifyListener || spec.child_main) {
    int go[2];
    if (pipe2(go, O_CLOEXEC) != 0) {
      return ErrnoError(errno, "pipe2");
    }
    go_read.reset(go[0]);
    go_write.reset(go[1]);
  }
  std::vector<char*> argv = CStrings(spec.argv);
  std::vector<char*> envp = CStrings(spec.env);
  std::unique_ptr<NamespaceInit> contained;
  if (spec.contain == Containment::kPidNamespace) {
    auto created = NamespaceInit::Create();
    if (!created) {
      return std::unexpected(created.error());
    }
    contained = std::move(*created);
  }
  // The guest's parent: the supervisor, or the namespace's init (pid 1 there).
  const pid_t parent = contained ? 1 : getpid();
  std::optional<ListenerHandover> handover;
  if (mode == ChildMode::kNotifyListener) {
    auto created = ListenerHandover::Create(parent);
    if (!created) {
      return std::unexpected(created.error());
    }
    handover.emplace(std::move(*created));
  }

  pid_t pid = fork();
  if (pid < 0) {
    return ErrnoError(errno, "fork");
  }
  if (pid == 0) {
    if (contained) {
      contained->Enter(report_write.get(), kContain);  // returns in the guest only
    }
    ChildMain(spec, program, mode, report_write.get(), go_read.get(), parent, argv.data(),
              envp.data(), inherit_fd, handover ? &*handover : nullptr);
  }
  report_write.reset();
  go_read.reset();
  if (handover) {
    handover->CloseChildEnd();
  }
  const int report_fd = report_read.get();
  auto read_report = [report_fd]() -> std::optional<Error> {
    ChildMessage msg{};
    if (read(report_fd, &msg, sizeof msg) != sizeof msg) {
      return std::nullopt;
    }
    return ChildError(msg);
  };

  LaunchedChild child;
  if (contained) {
    contained->CloseChildEnds();
    auto started = contained->Await(pid, report_fd, read_report,
                                    std::chrono::steady_clock::now() + kHandoverDeadline);
    if (!started) {
      return std::unexpected(started.error());
    }
    child.pid = started->guest_pid;
    child.pidfd = std::move(started->guest_pidfd);
    child.init_pid = started->init_pid;
    child.guest_status = std::move(started->guest_status);
    child.guest_proc = std::move(started->guest_proc);
    child.user_namespace = started->user_namespace;
  } else {
    child.pid = pid;
    // Docker's default seccomp profile allows pidfd_open(2) (unlike pidfd_getfd(2)).
    child.pidfd.reset(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    if (!child.pidfd.valid()) {
      int err = errno;
      kill(pid, SIGKILL);
      return ErrnoError(err, "pidfd_open of guest " + std::to_string(pid));
    }
  }
  if (handover) {
    auto listener = handover->Receive(child.pid, child.pidfd.get(), report_fd, read_report,
                                      std::chrono::steady_clock::now() + kHandoverDeadline);
    if (!listener) {
      syscall(SYS_pidfd_send_signal, child.pidfd.get(), SIGKILL, nullptr, 0);
      return std::unexpected(listener.error());
    }
    child.listener = std::move(*listener);
    if (spec.child_main) {
      (void)!write(go_write.get(), "g", 1);
      go_write.reset();
    }
  }
  child.go = std::move(go_write);
  child.report = std::move(report_read);
  return child;
}

bool IsContainmentError(const Error& error) {
  return error.message.starts_with(NamespaceInit::kErrorPrefix);
}

std::optional<Error> ReadChildError(int report_fd) {
  int flags = fcntl(report_fd, F_GETFL);
  fcntl(report_fd, F_SETFL, flags | O_NONBLOCK);
  ChildMessage msg{};
  while (read(report_fd, &msg, sizeof msg) == sizeof msg) {
    if (msg.step == kChdir || msg.step == kFilter || msg.step == kInherit ||
        msg.step == kHandover || msg.step == kExec || msg.step == kContain) {
      return ChildError(msg);
    }
  }
  return std::nullopt;
}

Result<std::string> ResolveExecutable(const std::string& argv0, const std::string& path_env) {
  auto check = [](const std::string& path) -> Result<std::string> {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
      return std::unexpected(Error{127, path + ": " + std::strerror(errno)});
    }
    if (S_ISDIR(st.st_mode)) {
      return std::unexpected(Error{126, path + ": Is a directory"});
    }
    if (access(path.c_str(), X_OK) != 0) {
      return std::unexpected(Error{126, path + ": " + std::strerror(errno)});
    }
    return path;
  };
  if (argv0.empty()) {
    return std::unexpected(Error{127, "'': command not found"});
  }
  if (argv0.find('/') != std::string::npos) {
    return check(argv0);
  }
  std::optional<Error> denied;
  size_t start = 0;
  while (start <= path_env.size()) {
    size_t end = path_env.find(':', start);
    if (end == std::string::npos) {
      end = path_env.size();
    }
    std::string dir = path_env.substr(start, end - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + argv0;
    auto found = check(candidate);
    if (found) {
      return found;
    }
    if (found.error().code == 126 && !denied) {
      denied = Error{126, argv0 + ": Permission denied"};
    }
    start = end + 1;
  }
  if (denied) {
    return std::unexpected(*denied);
  }
  return std::unexpected(Error{127, argv0 + ": command not found"});
}

}  // namespace hijack::launcher
