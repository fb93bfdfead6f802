#include <dirent.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <gtest/gtest.h>
#include <string>

#include "daemon/launcher/child_function.h"
#include "daemon/launcher/filter.h"
#include "daemon/launcher/launcher.h"

namespace hijack::launcher {
namespace {

TEST(ResolveExecutable, SearchesPathLikeAShell) {
  auto sh = ResolveExecutable("sh", "/nonexistent:/usr/bin:/bin");
  ASSERT_TRUE(sh) << sh.error().message;
  EXPECT_EQ(*sh, "/usr/bin/sh");
  auto missing = ResolveExecutable("hijack-no-such-thing", "/usr/bin");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, 127);
  EXPECT_EQ(missing.error().message, "hijack-no-such-thing: command not found");
  auto dir = ResolveExecutable("/tmp", "");
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().code, 126);
}

TEST(CompileFilter, ProducesAProgramForBothActions) {
  SyscallSet set;
  set.Add(0);
  set.Add(2);
  for (auto action : {FilterAction::kNotify, FilterAction::kTrace}) {
    auto prog = CompileFilter(set, action);
    ASSERT_TRUE(prog) << prog.error().message;
    EXPECT_GT(prog->instructions().size(), 4u);
    EXPECT_LT(prog->instructions().size(), 4096u);  // BPF_MAXINSNS
  }
}

// StartChild(kNotifyListener) hands the listener over through a helper task
// (daemon/launcher/listener_handover.h). These tests are notify-only: the ptrace modes take no
// listener, so there is nothing to hand over, and the decision tests that run over both backends
// live in tests/integration.

// Runs `body` in a forked child, for tests that install a filter on the test process itself or
// that must count every child it has; returns the child's exit status (the body's return value;
// 128+N for death by signal N). The body says what failed on stderr.
int InForkedChild(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    _exit(body());
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) {
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Makes `nr` fail with `err` in this process and its future children, as a container engine's
// seccomp profile does; with `arg0_mask`, only calls whose first argument has those bits set.
bool Forbid(int nr, int err, uint64_t arg0_mask = 0) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) {
    return false;
  }
  int rc = arg0_mask == 0 ? seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), nr, 0)
                          : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), nr, 1,
                                             SCMP_A0(SCMP_CMP_MASKED_EQ, arg0_mask, arg0_mask));
  rc = rc == 0 ? seccomp_load(ctx) : rc;
  seccomp_release(ctx);
  return rc == 0;
}

FilterProgram NotifyFilter(std::initializer_list<int> calls) {
  SyscallSet set;
  for (int nr : calls) {
    set.Add(nr);
  }
  auto prog = CompileFilter(set, FilterAction::kNotify);
  EXPECT_TRUE(prog) << prog.error().message;
  return std::move(*prog);
}

LaunchSpec FunctionGuest(std::function<int()> body) {
  LaunchSpec spec;
  spec.argv = {"guest"};
  ChildFunction::Set(spec, std::move(body));
  return spec;
}

// Starts `body` as a guest of StartChild with a notify listener (the filter intercepts execve
// only) and returns its exit status; -1, after a failure of the test, when it could not start
// or did not exit normally.
int ListenerGuestExit(std::function<int()> body) {
  FilterProgram program = NotifyFilter({SYS_execve});
  auto child = StartChild(FunctionGuest(std::move(body)), &program, ChildMode::kNotifyListener);
  if (!child) {
    ADD_FAILURE() << child.error().message;
    return -1;
  }
  int status = 0;
  if (waitpid(child->pid, &status, 0) != child->pid || !WIFEXITED(status)) {
    ADD_FAILURE() << "the guest did not exit: status " << status;
    return -1;
  }
  return WEXITSTATUS(status);
}

// Reaps every child of this process; returns how many there were.
int ReapAll() {
  int n = 0;
  while (waitpid(-1, nullptr, __WALL) > 0) {
    ++n;
  }
  return n;
}

// The guest makes one intercepted call (getppid) and the test answers it through the listener
// StartChild returned, with pidfd_getfd forbidden as under Docker's default seccomp profile:
// the listener is the guest's, and came without pidfd_getfd.
TEST(ListenerHandover, WorksWhenPidfdGetfdIsForbidden) {
  FilterProgram program = NotifyFilter({SYS_getppid});
  int rc = InForkedChild([&] {
    if (!Forbid(SYS_pidfd_getfd, EPERM)) {
      std::fprintf(stderr, "cannot install the test's own filter\n");
      return 10;
    }
    if (syscall(SYS_pidfd_getfd, -1, 0, 0) != -1 || errno != EPERM) {
      std::fprintf(stderr, "pidfd_getfd is not forbidden\n");
      return 11;
    }
    auto child = StartChild(FunctionGuest([] { return syscall(SYS_getppid) == 4242 ? 0 : 1; }),
                            &program, ChildMode::kNotifyListener);
    if (!child) {
      std::fprintf(stderr, "StartChild: %s\n", child.error().message.c_str());
      return 12;
    }
    // StartChild reaped the helper: the guest is this process's only child.
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT | __WALL) != 0 || info.si_pid != 0) {
      std::fprintf(stderr, "a child has already exited: %d\n", info.si_pid);
      return 13;
    }
    pollfd p{child->listener.get(), POLLIN, 0};
    if (poll(&p, 1, 60'000) != 1) {
      std::fprintf(stderr, "no notification from the guest\n");
      return 14;
    }
    seccomp_notif req;
    std::memset(&req, 0, sizeof req);
    if (ioctl(child->listener.get(), SECCOMP_IOCTL_NOTIF_RECV, &req) != 0 ||
        req.data.nr != SYS_getppid || static_cast<pid_t>(req.pid) != child->pid) {
      std::fprintf(stderr, "unexpected notification\n");
      return 15;
    }
    seccomp_notif_resp resp;
    std::memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    resp.val = 4242;
    if (ioctl(child->listener.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0) {
      return 16;
    }
    int status = 0;
    if (waitpid(child->pid, &status, 0) != child->pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "guest status %#x\n", status);
      return 17;
    }
    return ReapAll() == 0 ? 0 : 18;
  });
  EXPECT_EQ(rc, 0);
}

// The helper is cloned with CLONE_PARENT: a child of the supervisor, not of the guest.
TEST(ListenerHandover, GuestHasNoChildOfItsOwn) {
  EXPECT_EQ(ListenerGuestExit(
                [] { return waitpid(-1, nullptr, __WALL) == -1 && errno == ECHILD ? 0 : 1; }),
            0)
      << "the guest has a child";
}

// The kernel creates the listener close-on-exec (seccomp(2)), so an exec'd guest never holds it.
TEST(ListenerHandover, ListenerIsCloseOnExecInTheGuest) {
  const int status = ListenerGuestExit([] {
    int found = 0;
    DIR* dir = opendir("/proc/self/fd");
    while (dirent* e = dir != nullptr ? readdir(dir) : nullptr) {
      char link[256] = {};
      std::string path = std::string("/proc/self/fd/") + e->d_name;
      if (readlink(path.c_str(), link, sizeof link - 1) > 0 &&
          std::strstr(link, "seccomp") != nullptr) {
        int flags = fcntl(std::atoi(e->d_name), F_GETFD);
        if (flags < 0 || (flags & FD_CLOEXEC) == 0) {
          return 1;
        }
        ++found;
      }
    }
    return found == 1 ? 0 : 2;
  });
  EXPECT_NE(status, 1) << "the listener is not close-on-exec in the guest";
  EXPECT_NE(status, 2) << "the guest does not hold exactly one listener";
}

// A child that fails before its filter: its own report, at once, and no helper left behind.
TEST(ListenerHandover, ReportsAChildThatFailsBeforeItsFilter) {
  FilterProgram program = NotifyFilter({SYS_execve});
  int rc = InForkedChild([&] {
    LaunchSpec spec = FunctionGuest([] { return 0; });
    spec.cwd = "/nonexistent/hijack-launcher-test";
    auto child = StartChild(spec, &program, ChildMode::kNotifyListener);
    if (child || child.error().code != ENOENT ||
        child.error().message.find("chdir") == std::string::npos) {
      std::fprintf(stderr, "%s\n", child ? "started" : child.error().message.c_str());
      return 1;
    }
    return ReapAll() == 1 ? 0 : 2;  // the guest only
  });
  EXPECT_EQ(rc, 0);
}

// In a forked child where `nr` fails with `err` (only when its first argument has the bits of
// `arg0_mask`, if any): StartChild of a notify-listener guest must fail with `err`, say `what`
// in its message, and leave only the guest to reap (it reaped its helper). 0 when it did.
int HandoverRefusal(int nr, int err, uint64_t arg0_mask, const char* what) {
  FilterProgram program = NotifyFilter({SYS_execve});
  return InForkedChild([&] {
    if (!Forbid(nr, err, arg0_mask)) {
      return 10;
    }
    auto child = StartChild(FunctionGuest([] { return 0; }), &program, ChildMode::kNotifyListener);
    if (child || child.error().code != err ||
        child.error().message.find(what) == std::string::npos) {
      std::fprintf(stderr, "%s\n", child ? "started" : child.error().message.c_str());
      return 1;
    }
    return ReapAll() == 1 ? 0 : 2;  // the guest only: StartChild reaped the helper
  });
}

// A kernel or sandbox that refuses the filter (as without user notification): the error after
// the helper started, and the helper reaped.
TEST(ListenerHandover, ReportsAFilterTheKernelRefuses) {
  EXPECT_EQ(HandoverRefusal(SYS_seccomp, EINVAL, 0, "seccomp filter"), 0);
}

// A sandbox that refuses clone(CLONE_PARENT): StartChild says the handover could not start.
TEST(ListenerHandover, ReportsAHelperThatCannotStart) {
  EXPECT_EQ(HandoverRefusal(SYS_clone, EPERM, CLONE_PARENT, "helper"), 0);
}

}  // namespace
}  // namespace hijack::launcher
