// hijackd run under a seccomp profile that forbids calls, as container engines' profiles do
// (Docker's default allows pidfd_getfd, process_vm_readv and ptrace only with CAP_SYS_PTRACE, the
// latter two also without it from Linux 4.8 on), and what a guest sees of the notify launch's
// listener handover (daemon/launcher/listener_handover.h).
//
// The handover tests are notify-only: the ptrace backends take no listener, so they have
// nothing to hand over. The guest-memory test reads through ProcessMemory, which every backend
// uses, so it runs over all of them.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <string>
#include <vector>

#include "tests/integration/test_paths.h"
#include "tests/support/subprocess.h"
#include "tests/support/backend_params.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A seccomp filter that fails some calls with EPERM and allows the rest, built in the test
// process and installed in a child of it.
class ForbiddingProfile {
 public:
  // `rules` adds SCMP_ACT_ERRNO rules to the context.
  explicit ForbiddingProfile(const std::function<void(scmp_filter_ctx)>& rules) {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    rules(ctx);
    TempDir dir;
    const std::string path = dir.path() + "/filter.bpf";
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    EXPECT_EQ(seccomp_export_bpf(ctx, fd), 0);
    seccomp_release(ctx);
    close(fd);
    std::string bytes = ReadFile(path);
    insns_.resize(bytes.size() / sizeof(sock_filter));
    std::memcpy(insns_.data(), bytes.data(), insns_.size() * sizeof(sock_filter));
    EXPECT_FALSE(insns_.empty());
  }

  static ForbiddingProfile Calls(std::initializer_list<int> calls) {
    return ForbiddingProfile([calls](scmp_filter_ctx ctx) {
      for (int nr : calls) {
        EXPECT_EQ(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0), 0);
      }
    });
  }

  // Runs argv under the filter: fork, install, exec. Output goes through files; waits on a
  // pidfd with a deadline.
  ProcessResult Run(const std::vector<std::string>& argv_in) const {
    TempDir dir;
    const std::string out = dir.path() + "/out", err = dir.path() + "/err";
    std::vector<std::string> argv = argv_in;
    std::vector<char*> cargv;
    for (auto& a : argv) {
      cargv.push_back(a.data());
    }
    cargv.push_back(nullptr);
    sock_fprog prog{static_cast<unsigned short>(insns_.size()),
                    const_cast<sock_filter*>(insns_.data())};
    ProcessResult result;
    pid_t pid = fork();
    if (pid == 0) {
      int in = open("/dev/null", O_RDONLY);
      int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) {
        _exit(124);
      }
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
          syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
        _exit(125);
      }
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    if (pid < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      return result;
    }
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    pollfd p{pidfd, POLLIN, 0};
    if (pidfd < 0 || poll(&p, 1, 120'000) != 1) {
      result.timed_out = true;
      kill(pid, SIGKILL);
    }
    if (pidfd >= 0) {
      close(pidfd);
    }
    waitpid(pid, &result.wait_status, 0);
    result.exit_code = WIFEXITED(result.wait_status) ? WEXITSTATUS(result.wait_status)
                                                     : 128 + WTERMSIG(result.wait_status);
    result.out = ReadFile(out);
    result.err = ReadFile(err);
    return result;
  }

 private:
  std::vector<sock_filter> insns_;
};

// The premise of the tests below: the profile does make the call fail with EPERM.
TEST(ForbiddingProfile, ForbidsWhatItSays) {
  auto profile = ForbiddingProfile::Calls({SYS_pidfd_getfd});
  auto r = profile.Run({"/usr/bin/perl", "-e",
                        "print syscall(" + std::to_string(SYS_pidfd_getfd) +
                            ", 0, 0, 0) == -1 "
                            "&& $!{EPERM} ? qq(EPERM\\n) : qq(allowed\\n)"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "EPERM\n");
}

// Docker's default profile without CAP_SYS_PTRACE forbids pidfd_getfd; the notify launch does
// not need it. Notify-only (see the top of the file).
TEST(NotifyHandover, LaunchWorksWhenPidfdGetfdIsForbidden) {
  auto profile = ForbiddingProfile::Calls({SYS_pidfd_getfd});
  auto r = profile.Run({kHijackd, "run", "--backend", "notify", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("stats of guest 1 (/bin/true, backend notify)"));
  EXPECT_THAT(r.err, HasSubstr("execve"));
  EXPECT_THAT(r.err, Not(HasSubstr("pidfd_getfd")));
}

// auto picks notify there too: its probe runs the same handover as a launch.
TEST(NotifyHandover, AutoPicksNotifyWhenPidfdGetfdIsForbidden) {
  auto profile = ForbiddingProfile::Calls({SYS_pidfd_getfd});
  // --quiet keeps the report out; --log-level info keeps the backend line in.
  auto r = profile.Run({kHijackd, "run", "--backend", "auto", "--quiet", "--log-level", "info",
                        "--", kGuest, "exit", "3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("backend: notify"));
}

// A sandbox that forbids what the handover does need (clone with CLONE_PARENT): notify cannot
// launch, so its probe fails, auto takes ptrace, and --backend notify says what to use instead.
// A sandbox that lets the probe through but refuses what only a real launch does: without
// ftruncate the agent's executive page cannot be sized, so the notify launch fails. `auto` then
// launches the guest under ptrace instead of failing; `--backend notify` fails and says why.
TEST(NotifyHandover, AutoFallsBackToPtraceWhenANotifyLaunchFails) {
  auto profile = ForbiddingProfile::Calls({SCMP_SYS(ftruncate)});
  auto r = profile.Run({kHijackd, "run", "--backend", "auto", "--", kGuest, "exit", "3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("backend: notify"));  // the probe passed
  EXPECT_THAT(r.err, HasSubstr("auto uses ptrace"));
  EXPECT_THAT(r.err, HasSubstr("ftruncate"));
  EXPECT_THAT(r.err, HasSubstr("backend ptrace"));  // the report names the backend used

  auto notify = profile.Run({kHijackd, "run", "--backend", "notify", "--", kGuest, "exit", "0"});
  EXPECT_EQ(notify.exit_code, 1) << notify.err;
  EXPECT_THAT(notify.err, HasSubstr("ftruncate"));
  // --no-agent needs no page: notify works in the same sandbox.
  auto plain = profile.Run(
      {kHijackd, "run", "--backend", "notify", "--no-agent", "--quiet", "--", kGuest, "exit", "4"});
  EXPECT_EQ(plain.exit_code, 4) << plain.err;
}

// fault's short transfers take the guest's descriptor with pidfd_getfd; where a profile forbids
// it they cannot be made, and the report says how many were skipped and why instead of staying
// silent.
TEST(NotifyHandover, FaultSaysWhenPidfdGetfdIsForbidden) {
  TempDir dir;
  std::string data = dir.Write("data", std::string(20, 'a'));
  std::string policy = dir.Write(
      "fault.json", R"({"version": 1, "modules": [{"module": "fault", "syscall": "read",
                        "short": 3, "path": ")" + data + R"("}]})");
  auto profile = ForbiddingProfile::Calls({SCMP_SYS(pidfd_getfd)});
  auto r = profile.Run({kHijackd, "run", "--backend", "notify", "--policy", policy, "--",
                        "/bin/cat", data});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, std::string(20, 'a'));
  EXPECT_THAT(r.err, HasSubstr("could not be shortened (pidfd_getfd: Operation not permitted)"));
}

TEST(NotifyHandover, AutoFallsBackToPtraceWhenTheHandoverIsForbidden) {
  ForbiddingProfile profile([](scmp_filter_ctx ctx) {
    EXPECT_EQ(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                               SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_PARENT, CLONE_PARENT)),
              0);
  });
  // --quiet keeps the report out; --log-level info keeps the backend line in.
  auto r = profile.Run({kHijackd, "run", "--backend", "auto", "--quiet", "--log-level", "info",
                        "--", kGuest, "exit", "3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_THAT(r.err, HasSubstr("backend: ptrace"));
  EXPECT_THAT(r.err, HasSubstr("helper"));  // why not notify

  auto notify = profile.Run({kHijackd, "run", "--backend", "notify", "--", kGuest, "exit", "0"});
  EXPECT_EQ(notify.exit_code, 1);
  EXPECT_THAT(notify.err, HasSubstr("--backend ptrace"));
}

// The helper is the supervisor's child (CLONE_PARENT): the guest's wait finds no child.
TEST(NotifyHandover, GuestHasNoChildOfItsOwn) {
  auto r = RunProcess({kHijackd, "run", "--backend", "notify", "--quiet", "--", "/usr/bin/perl",
                       "-e", "my $pid = wait(); print $pid, qq( ), ($!{ECHILD} ? 1 : 0), qq(\\n)"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "-1 1\n");
}

// The listener is close-on-exec: the exec'd guest holds no seccomp listener.
TEST(NotifyHandover, GuestHoldsNoListenerAfterExec) {
  auto r = RunProcess(
      {kHijackd, "run", "--backend", "notify", "--quiet", "--", "ls", "-l", "/proc/self/fd/"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("/proc/"));  // ls's own directory descriptor: the listing works
  EXPECT_THAT(r.out, Not(HasSubstr("seccomp"))) << r.out;
}

// Guest memory where process_vm_readv is refused (profiles that forbid it without
// CAP_SYS_PTRACE): ProcessMemory reads /proc/TID/mem instead, so paths still reach the trace.
class GuestMemoryUnderProfile : public ::testing::TestWithParam<std::string> {};

TEST_P(GuestMemoryUnderProfile, PathsAreReadWhenProcessVmReadvIsForbidden) {
  auto profile = ForbiddingProfile::Calls({SYS_process_vm_readv});
  auto r = profile.Run({kHijackd, "run", "--backend", GetParam(), "--trace", "-", "--intercept",
                        "openat", "--quiet", "--", "/bin/cat", "/etc/hostname"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("\"/etc/hostname\""));
  EXPECT_THAT(r.err, Not(HasSubstr("process_vm_readv")));
}

INSTANTIATE_TEST_SUITE_P(Backends, GuestMemoryUnderProfile,
                         ::testing::Values("notify", "ptrace", "ptrace-all"), BackendTestName{});

}  // namespace
}  // namespace hijack::testing
