#include "daemon/launcher/namespace_init.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "daemon/launcher/scm_rights.h"

namespace hijack::launcher {
namespace {

// What the children write on the channel.
constexpr int32_t kTagInit = 'I';   // launcher child: {tag, init pid, user namespace}
constexpr int32_t kTagGuest = 'G';  // init: {tag} with the guest's pidfd and /proc (SCM_RIGHTS)

// The sub-steps of a refusal, in the report's value: step = report_step, value = sub << 16 | errno.
enum SubStep : int32_t {
  kUnshare = 1,
  kUnshareUser = 2,
  kSetgroups = 3,
  kUidMap = 4,
  kGidMap = 5,
  kCloneInit = 6,
  kSupervisorGone = 7,
  kMountSlave = 8,
  kMountProc = 9,
  kForkGuest = 10,
  kGuestPidfd = 11,
  kOpenProc = 12,
  kDumpable = 13,
};

const char* SubStepName(int32_t sub) {
  switch (sub) {
    case kUnshare:
      return "unshare(CLONE_NEWPID | CLONE_NEWNS)";
    case kUnshareUser:
      return "unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS)";
    case kSetgroups:
      return "writing deny to /proc/self/setgroups";
    case kUidMap:
      return "writing /proc/self/uid_map";
    case kGidMap:
      return "writing /proc/self/gid_map";
    case kCloneInit:
      return "clone(CLONE_PARENT) of the namespace's init";
    case kSupervisorGone:
      return "the supervisor ended while the namespace was made";
    case kMountSlave:
      return "mount(/, MS_REC | MS_SLAVE)";
    case kMountProc:
      return "mount(proc, /proc)";
    case kForkGuest:
      return "fork of the guest in the namespace";
    case kGuestPidfd:
      return "pidfd_open of the guest in the namespace";
    case kOpenProc:
      return "open of the namespace's /proc";
    case kDumpable:
      return "prctl(PR_SET_DUMPABLE) around the writes of the id maps";
    default:
      return "an unknown step";
  }
}

[[noreturn]] void Fail(int report_fd, int32_t step, int32_t sub, int err) {
  const int32_t msg[2] = {step, (sub << 16) | (err & 0xffff)};
  (void)!write(report_fd, msg, sizeof msg);
  _exit(125);
}

// Raw open/write/close: async-signal-safe. Returns 0 or an errno.
int WriteProcFile(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno;
  }
  const size_t len = std::strlen(text);
  int err = write(fd, text, len) == static_cast<ssize_t>(len) ? 0 : errno;
  close(fd);
  return err;
}

// The pid of a pidfd in this process's pid namespace (proc_pid_fdinfo: "Pid:").
Result<pid_t> PidOfPidfd(int pidfd) {
  const std::string path = "/proc/self/fdinfo/" + std::to_string(pidfd);
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) {
    return ErrnoError(errno, "open " + path);
  }
  char line[256];
  pid_t pid = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "Pid:\t%d", &pid) == 1) {
      break;
    }
  }
  std::fclose(f);
  if (pid <= 0) {
    return std::unexpected(Error{ESRCH, path + ": no live Pid line for the guest's pidfd"});
  }
  return pid;
}

}  // namespace

Result<std::unique_ptr<NamespaceInit>> NamespaceInit::Create() {
  std::unique_ptr<NamespaceInit> owned(new NamespaceInit);
  NamespaceInit& init = *owned;
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return ErrnoError(errno, std::string(kErrorPrefix) + "socketpair");
  }
  init.channel_parent_.reset(pair[0]);
  init.channel_child_.reset(pair[1]);
  int status[2];
  if (pipe2(status, O_CLOEXEC) != 0) {
    return ErrnoError(errno, std::string(kErrorPrefix) + "pipe2");
  }
  init.status_read_.reset(status[0]);
  init.status_write_.reset(status[1]);
  init.supervisor_pidfd_.reset(static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0)));
  if (!init.supervisor_pidfd_.valid()) {
    return ErrnoError(errno, std::string(kErrorPrefix) + "pidfd_open of the supervisor");
  }
  std::snprintf(init.uid_map_, sizeof init.uid_map_, "%u %u 1\n", geteuid(), geteuid());
  std::snprintf(init.gid_map_, sizeof init.gid_map_, "%u %u 1\n", getegid(), getegid());
  return owned;
}

void NamespaceInit::Enter(int report_fd, int32_t report_step) {
  // The launcher child. Its pid namespace stays the supervisor's; its next child is the init.
  close(channel_parent_.get());
  close(status_read_.get());
  bool user_namespace = false;
  if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0) {
    if (errno != EPERM) {
      Fail(report_fd, report_step, kUnshare, errno);
    }
    // Unprivileged: a user namespace owns the new ones, with this uid and gid mapped to
    // themselves (user_namespaces(7), "Defining user and group ID mappings").
    if (unshare(CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS) != 0) {
      Fail(report_fd, report_step, kUnshareUser, errno);
    }
    user_namespace = true;
    // The supervisor is not dumpable (daemon/main.cc) and the fork inherited that, so this
    // process's /proc/self files belong to root and even it may not write its own maps (proc(5),
    // /proc/pid). Dumpable only for the three writes, and not again: the init and the guest are
    // forked with dumpable 0, as the launcher expects of every child.
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) {
      Fail(report_fd, report_step, kDumpable, errno);
    }
    if (int err = WriteProcFile("/proc/self/setgroups", "deny"); err != 0) {
      Fail(report_fd, report_step, kSetgroups, err);
    }
    if (int err = WriteProcFile("/proc/self/uid_map", uid_map_); err != 0) {
      Fail(report_fd, report_step, kUidMap, err);
    }
    if (int err = WriteProcFile("/proc/self/gid_map", gid_map_); err != 0) {
      Fail(report_fd, report_step, kGidMap, err);
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
      Fail(report_fd, report_step, kDumpable, errno);
    }
  }
  // Fork-like clone(2): no new stack, so the child returns here with its own copy of this one.
  // CLONE_PARENT makes the init a child of the supervisor, which watches it as any guest.
  const long init = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, 0);
  if (init < 0) {
    Fail(report_fd, report_step, kCloneInit, errno);
  }
  if (init > 0) {
    const int32_t msg[3] = {kTagInit, static_cast<int32_t>(init), user_namespace ? 1 : 0};
    (void)!send(channel_child_.get(), msg, sizeof msg, MSG_NOSIGNAL);
    _exit(0);
  }

  // The init, pid 1 of the new namespace. Its getppid() is 0 (the supervisor is outside), so
  // whether the supervisor lived to be its parent is asked of the pidfd taken before the fork.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  pollfd supervisor{supervisor_pidfd_.get(), POLLIN, 0};
  if (poll(&supervisor, 1, 0) != 0) {
    Fail(report_fd, report_step, kSupervisorGone, ESRCH);
  }
  close(supervisor_pidfd_.get());
  // The guest's mounts must not propagate to the supervisor's namespace (a procfs of the new pid
  // namespace on the host's /proc would hide the host's processes); the host's still reach the
  // guest (mount_namespaces(7), "MS_SLAVE").
  if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
    Fail(report_fd, report_step, kMountSlave, errno);
  }
  // /proc/PID then names the guest's own PIDs, as getpid(2) returns them.
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    Fail(report_fd, report_step, kMountProc, errno);
  }
  // For the supervisor: pids the guest reports itself (the agent's) are looked up here.
  const int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (proc < 0) {
    Fail(report_fd, report_step, kOpenProc, errno);
  }
  const pid_t guest = fork();
  if (guest < 0) {
    Fail(report_fd, report_step, kForkGuest, errno);
  }
  if (guest == 0) {
    close(channel_child_.get());
    close(status_write_.get());
    close(proc);
    return;
  }
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, guest, 0));
  if (pidfd < 0) {
    kill(guest, SIGKILL);
    Fail(report_fd, report_step, kGuestPidfd, errno);
  }
  int32_t tag = kTagGuest;
  RightsMessage out(&tag, sizeof tag);
  const int fds[2] = {pidfd, proc};
  out.Attach(fds, 2);
  (void)!sendmsg(channel_child_.get(), &out.msg, MSG_NOSIGNAL);
  close(pidfd);
  close(proc);
  InitMain(guest);
}

void NamespaceInit::InitMain(pid_t guest) {
  // Not before the fork: the guest would inherit it, and the supervisor could not trace it
  // before its exec without CAP_SYS_PTRACE (ptrace(2), "Ptrace access mode checking").
  prctl(PR_SET_DUMPABLE, 0);
  // Nothing of the guest's stays open here: a pipe's reader must see end of file when the guest
  // closes it, whatever the init's life.
  const unsigned keep = static_cast<unsigned>(status_write_.get());
  if (keep > 0) {
    syscall(SYS_close_range, 0U, keep - 1, 0U);
  }
  syscall(SYS_close_range, keep + 1, ~0U, 0U);
  // Every process of the namespace is reaped here: its orphans are reparented to the init. When
  // none is left, the guest tree has ended.
  int guest_status = 0;
  bool guest_seen = false;
  for (;;) {
    int status = 0;
    const pid_t pid = wait4(-1, &status, __WALL, nullptr);
    if (pid < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;  // ECHILD: the namespace is empty
    }
    if (pid == guest && (WIFEXITED(status) || WIFSIGNALED(status))) {
      guest_status = status;
      guest_seen = true;
    }
  }
  if (guest_seen) {
    (void)!write(static_cast<int>(keep), &guest_status, sizeof guest_status);
  }
  _exit(0);
}

void NamespaceInit::CloseChildEnds() {
  channel_child_.reset();
  status_write_.reset();
  supervisor_pidfd_.reset();
}

Result<NamespaceInit::Started> NamespaceInit::Await(
    pid_t launcher_pid, int report_fd, const std::function<std::optional<Error>()>& read_report,
    std::chrono::steady_clock::time_point deadline) {
  const std::string prefix(kErrorPrefix);
  Started started;
  std::optional<Error> failure;
  bool report_open = true;
  // Two messages, in either order: the init may run ahead of the launcher child that cloned it.
  while (!failure && !(started.guest_pidfd.valid() && started.init_pid > 0)) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      failure = Error{ETIMEDOUT, prefix + "timed out waiting for the guest to start"};
      break;
    }
    pollfd fds[2] = {{channel_parent_.get(), POLLIN, 0},
                     {report_open ? report_fd : -1, POLLIN, 0}};
    if (poll(fds, 2, static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX))) < 0) {
      if (errno != EINTR) {
        failure = Error{errno, prefix + "poll: " + std::strerror(errno)};
      }
      continue;
    }
    if (fds[1].revents != 0) {
      report_open = false;
      if (auto error = read_report()) {
        failure = Error{error->code, prefix + error->message};
      }
      continue;
    }
    if (fds[0].revents == 0) {
      continue;
    }
    int32_t words[3] = {};
    RightsMessage in(words, sizeof words);
    const ssize_t n = recvmsg(channel_parent_.get(), &in.msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    if (n <= 0) {
      // Every child's end is closed: a refusal was reported (read it first), or they died.
      if (report_open) {
        if (auto error = read_report()) {
          failure = Error{error->code, prefix + error->message};
          break;
        }
      }
      failure = Error{ECHILD, prefix + "the guest's init ended before the guest started"};
      break;
    }
    if (words[0] == kTagInit && n == sizeof words) {
      started.init_pid = words[1];
      started.user_namespace = words[2] != 0;
      started.init_pidfd.reset(static_cast<int>(syscall(SYS_pidfd_open, started.init_pid, 0)));
      if (!started.init_pidfd.valid()) {
        failure = Error{errno, prefix + "pidfd_open of the init: " + std::strerror(errno)};
      }
    } else if (words[0] == kTagGuest) {
      int fds[RightsMessage::kMaxFds] = {-1, -1};
      if (in.Received(fds) == 2) {
        started.guest_pidfd.reset(fds[0]);
        started.guest_proc.reset(fds[1]);
      } else {
        failure = Error{EPROTO, prefix + "the init sent no pidfd of the guest"};
      }
    }
  }
  // The launcher child exits as soon as the init exists (or failed to). A ProcessReaper running
  // on another thread may have reaped it already (ECHILD).
  while (waitpid(launcher_pid, nullptr, __WALL) < 0 && errno == EINTR) {
  }
  if (!failure) {
    auto pid = PidOfPidfd(started.guest_pidfd.get());
    if (pid) {
      started.guest_pid = *pid;
    } else {
      failure = Error{pid.error().code, prefix + pid.error().message};
    }
  }
  if (failure) {
    // The namespace dies with its init; the supervisor's reaper collects the init.
    if (started.init_pidfd.valid()) {
      syscall(SYS_pidfd_send_signal, started.init_pidfd.get(), SIGKILL, nullptr, 0);
    }
    return std::unexpected(*failure);
  }
  started.guest_status = std::move(status_read_);
  return started;
}

int NamespaceInit::GuestWaitStatus(int guest_status_fd, int init_status) {
  int status = 0;
  // The init wrote it before it exited, so a read never blocks; a SIGKILLed init wrote nothing.
  if (guest_status_fd >= 0) {
    pollfd p{guest_status_fd, POLLIN, 0};
    if (poll(&p, 1, 0) == 1 && read(guest_status_fd, &status, sizeof status) == sizeof status) {
      return status;
    }
  }
  return init_status;
}

std::optional<Error> NamespaceInit::DescribeReport(int32_t value) {
  const int32_t sub = value >> 16;
  const int err = value & 0xffff;
  return ErrnoError(err, SubStepName(sub)).error();
}

}  // namespace hijack::launcher
