#include "daemon/launcher/launcher.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "daemon/launcher/child_function.h"
#include "daemon/launcher/inherited_signals.h"
#include "daemon/launcher/landlock_ruleset.h"
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
  kCredentials = 8,  // taking the caller's uid, gid and groups (LaunchSpec::credentials)
  kLandlock = 9,     // scoping signals and abstract unix sockets (landlock_scope.h)
  kDumpable = 10,    // PR_SET_DUMPABLE for the supervisor's ptrace attach
  kAttachable = 11,  // not a failure: the child is dumpable and waits for the go (kWait*)
  kContain = 12,     // making the guest's pid namespace (NamespaceInit::Enter)
  kStdio = 13,       // dup2(2) of LaunchSpec::stdio onto 0, 1 and 2
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
                            char* const* envp, int inherit_fd, ListenerHandover* handover,
                            const LandlockRulesets& landlock) {
  // The supervisor blocks and redirects signals for itself; the guest gets the ignored signals
  // and blocked mask that the supervisor inherited, as it would natively (`nohup hijackd run`).
  InheritedSignals::Restore();
  // The caller's rights, first: chdir and exec are then checked with them. Before the death
  // signal, which a change of credentials clears (prctl(2), PR_SET_PDEATHSIG). Raw calls: the
  // libc wrappers signal every thread of the process to change them all (nptl(7)). Contained,
  // this runs in the guest after its init forked it (NamespaceInit::Enter): the namespace is
  // made with the supervisor's privilege (as root, no user namespace, so setgroups(2) is
  // allowed), and the init keeps the supervisor's uid, beyond the reach of the caller's.
  if (spec.credentials) {
    const GuestCredentials& c = *spec.credentials;
    if (syscall(SYS_setgroups, c.groups.size(), c.groups.data()) != 0 ||
        syscall(SYS_setresgid, c.gid, c.gid, c.gid) != 0 ||
        syscall(SYS_setresuid, c.uid, c.uid, c.uid) != 0) {
      ChildFail(report_fd, kCredentials, errno);
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
  for (int target = 0; target < 3; ++target) {
    const int source = spec.stdio[static_cast<size_t>(target)];
    // dup2 onto itself would leave close-on-exec set; the descriptors the caller passes are
    // close-on-exec copies of its own, never 0..2, but a caller that passes one keeps it.
    if (source >= 0 && (source == target ? fcntl(target, F_SETFD, 0) : dup2(source, target)) < 0) {
      ChildFail(report_fd, kStdio, errno);
    }
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
    if (!landlock.empty()) {
      // Before the go: from the no_new_privs after it every call is the guest's to the
      // ptrace-all tracer (it arms there), and landlock_restrict_self(2) needs no_new_privs.
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        ChildFail(report_fd, kFilter, errno);
      }
      if (int err = landlock.RestrictSelf(); err != 0) {
        ChildFail(report_fd, kLandlock, err);
      }
    }
    // The supervisor is not dumpable (daemon/main.cc), and the fork inherited that, so it could
    // not PTRACE_SEIZE this child (ptrace(2), "Ptrace access mode checking"). Until exec, which
    // makes it dumpable anyway, the child holds copies of the supervisor's memory and
    // descriptors: Landlock and the supervisor's GuestGuard keep guests from reading them.
    // Not after a change of credentials: only a root supervisor makes one, and it may trace an
    // undumpable child anyway (CAP_SYS_PTRACE), while a dumpable one would let the caller's uid
    // read the root daemon's memory (its tokens and keys) until exec.
    if (!spec.credentials && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) {
      ChildFail(report_fd, kDumpable, errno);
    }
    ChildReport(report_fd, kAttachable, 0);
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
      // After the helper starts (it stays outside the guest's domain, like the supervisor it
      // answers to) and before the filter (whose intercept set may hold the landlock calls).
      if (!landlock.empty()) {
        if (int err = landlock.RestrictSelf(); err != 0) {
          ChildFail(report_fd, kLandlock, err, handover);
        }
      }
      // The supervisor reads the pointers of the guest's first execve from this memory, which
      // it may only do in a dumpable process (process_vm_readv(2)); exec would make it so too
      // late. Set before the filter, so the call is not the guest's.
      // As above, not after a change of credentials (a root supervisor reads it regardless).
      if (!spec.credentials && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) {
        ChildFail(report_fd, kDumpable, errno, handover);
      }
    }
    long rc = -1;
    if (mode == ChildMode::kNotifyListener) {
      // A signal that arrives while the guest waits for the supervisor's answer would end the
      // wait with -ERESTARTSYS, and a handler without SA_RESTART would see EINTR from calls that
      // never give it natively (close, fstat, a write to a file). With this flag (Linux 5.19) the
      // wait is killable only once the supervisor has received the call (seccomp_unotify(2)):
      // the signal is delivered after the answer, as after a native call. Older kernels refuse
      // the flag with EINVAL (KernelHasWaitKillableRecv() says which).
      rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                   flags | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
    }
    if (rc < 0) {
      rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    }
    if (rc < 0) {
      ChildFail(report_fd, kFilter, errno, handover);
    }
    if (mode == ChildMode::kNotifyListener) {
      // From here on any call may wait for the supervisor, which waits for this.
      handover->Publish(static_cast<int>(rc));
    }
  }
  if (const auto& child_main = ChildFunction::Of(spec)) {
    if (mode == ChildMode::kNotifyListener) {
      // The guest function starts once the supervisor holds the listener, as an exec'd guest
      // does (its execve waits for the supervisor).
      wait_for_go();
    }
    // Tests and benchmarks only: the function runs in a forked child and may allocate.
    _exit(child_main());
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
    case kCredentials:
      return ErrnoError(msg.value, "setgroups/setresgid/setresuid to the caller's rights").error();
    case kLandlock:
      return ErrnoError(msg.value, "confining the guest with Landlock (landlock_restrict_self)")
          .error();
    case kDumpable:
      return ErrnoError(msg.value, "prctl(PR_SET_DUMPABLE, 1) in the starting guest").error();
    case kExec:
      return Error{msg.value, std::strerror(msg.value)};
    case kContain:
      return *NamespaceInit::DescribeReport(msg.value);
    case kStdio:
      return ErrnoError(msg.value, "dup2 of the guest's standard input, output or error").error();
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
  if (mode != ChildMode::kNotifyListener || ChildFunction::Of(spec)) {
    int go[2];
    if (pipe2(go, O_CLOEXEC) != 0) {
      return ErrnoError(errno, "pipe2");
    }
    go_read.reset(go[0]);
    go_write.reset(go[1]);
  }
  // Built here, not in the child: opening the trees and filling the rulesets allocate. They
  // restrict nobody until the child's landlock_restrict_self(2); close-on-exec.
  LandlockRulesets landlock;
  if (spec.landlock_scope || !spec.landlock_floor.empty()) {
    auto built = LandlockRulesets::Build(spec.landlock_floor, spec.landlock_abi,
                                         spec.landlock_scope);
    if (!built) {
      return std::unexpected(
          Error{built.error().code, "Landlock ruleset: " + built.error().message});
    }
    landlock = std::move(*built);
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
              envp.data(), inherit_fd, handover ? &*handover : nullptr, landlock);
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
  // Contained, the guest may report before its init has handed its pidfd over: its own steps
  // (credentials, Landlock, dumpable, kAttachable) run as soon as the init forks it. Only the
  // namespace's own step is an error of the namespace (IsContainmentError, after which a
  // caller retries without it); the guest's are kept for after Await, unprefixed.
  bool attachable = false;
  std::optional<Error> guest_failed;
  auto read_contain_report = [&]() -> std::optional<Error> {
    ChildMessage msg{};
    if (read(report_fd, &msg, sizeof msg) != sizeof msg) {
      return std::nullopt;
    }
    if (msg.step == kContain) {
      return ChildError(msg);
    }
    if (msg.step == kAttachable) {
      attachable = true;
    } else {
      guest_failed = ChildError(msg);
    }
    return std::nullopt;
  };
  if (contained) {
    contained->CloseChildEnds();
    auto started = contained->Await(pid, report_fd, read_contain_report,
                                    std::chrono::steady_clock::now() + kHandoverDeadline);
    if (!started) {
      return std::unexpected(started.error());
    }
    if (guest_failed) {
      syscall(SYS_pidfd_send_signal, started->guest_pidfd.get(), SIGKILL, nullptr, 0);
      if (started->user_namespace && spec.credentials) {
        // A root supervisor that needed a user namespace (a container without CAP_SYS_ADMIN)
        // maps only its own ids there and may not setgroups(2): the namespace is what refused
        // the caller's rights, so a caller may retry without it.
        guest_failed->message = std::string(NamespaceInit::kErrorPrefix) +
                                "the caller's rights in a user namespace: " +
                                guest_failed->message;
      }
      return std::unexpected(*guest_failed);
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
    if (ChildFunction::Of(spec)) {
      (void)!write(go_write.get(), "g", 1);
      go_write.reset();
    }
  }
  if (mode != ChildMode::kNotifyListener && !attachable) {
    // The tracer's PTRACE_SEIZE must wait until the child made itself dumpable.
    pollfd pfd{report_read.get(), POLLIN, 0};
    const auto timeout_ms = kHandoverDeadline / std::chrono::milliseconds(1);
    int waited;
    do {
      waited = poll(&pfd, 1, static_cast<int>(timeout_ms));
    } while (waited < 0 && errno == EINTR);
    ChildMessage msg{};
    if (waited != 1 || read(report_read.get(), &msg, sizeof msg) != sizeof msg ||
        msg.step != kAttachable) {
      syscall(SYS_pidfd_send_signal, child.pidfd.get(), SIGKILL, nullptr, 0);
      if (waited == 1 && msg.step != 0 && msg.step != kAttachable) {
        return std::unexpected(ChildError(msg));
      }
      return std::unexpected(Error{ECHILD, "the guest died or hung before it could be traced"});
    }
  }
  child.go = std::move(go_write);
  child.report = std::move(report_read);
  return child;
}

bool KernelHasWaitKillableRecv() {
  static const bool has = [] {
    // The flag is only accepted with a new listener, so the probe installs one (a filter cannot
    // be removed), in a thread of its own rather than a fork of the supervisor: without
    // SECCOMP_FILTER_FLAG_TSYNC a filter holds only the calling thread (seccomp(2)), as does
    // no_new_privs (prctl(2)), and both end with it. One instruction that allows everything.
    bool ok = false;
    std::thread probe([&ok] {
      sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
      sock_fprog prog{1, &allow};
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        return;
      }
      const long listener =
          syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                  SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
      if (listener >= 0) {
        close(static_cast<int>(listener));
        ok = true;
      }
    });
    probe.join();
    return ok;
  }();
  return has;
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
        msg.step == kHandover || msg.step == kCredentials || msg.step == kExec ||
        msg.step == kLandlock || msg.step == kDumpable || msg.step == kContain) {
      return ChildError(msg);
    }
  }
  return std::nullopt;
}

std::optional<std::string> StartFailureMessage(int report_fd, const SyscallHandler& handler,
                                               const std::string& path) {
  std::optional<Error> err = ReadChildError(report_fd);
  if (!err) {
    return std::nullopt;
  }
  if (std::string why = handler.ExplainStartFailure(err->code); !why.empty()) {
    return "cannot start " + path + ": " + why;
  }
  return path + ": " + err->message;
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
