// Every Decision kind against every backend, with the guest a forked function
// (launcher::ChildFunction) so each test states exactly which calls it makes and what it
// expects to see.
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <gtest/gtest.h>
#include <mutex>
#include <set>
#include <vector>

#include "tests/support/backend_guest.h"
#include "tests/support/backend_params.h"
#include "tests/support/fake_syscall_handler.h"

namespace hijack {
namespace {

using testing::FakeSyscallHandler;

class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Runs `guest` (its return value is the exit status) with `intercept` under the backend.
  int Run(std::initializer_list<int> intercept, std::function<int()> guest,
          FakeSyscallHandler& handler) {
    testing::BackendGuest run(GetParam());
    can_inject_fd_ = run.backend() != nullptr && run.backend()->CanInjectFd();
    return run.Run(intercept, std::move(guest), handler);
  }

  bool can_inject_fd_ = false;
};

TEST_P(BackendTest, ContinueRunsTheCall) {
  FakeSyscallHandler h([](const SyscallEvent&, GuestMemory&) { return Decision::Continue(); });
  int rc = Run({SYS_getppid}, [] { return syscall(SYS_getppid) == getppid() ? 0 : 1; }, h);
  EXPECT_EQ(rc, 0);
  ASSERT_FALSE(h.completed.empty());
  EXPECT_EQ(h.completed.back().call.nr, SYS_getppid);
  EXPECT_GT(h.completed.back().call.pid, 0);
}

TEST_P(BackendTest, FailAndReturnSkipTheCall) {
  FakeSyscallHandler h([](const SyscallEvent& ev, GuestMemory&) {
    if (ev.nr == SYS_mkdir) {
      return Decision::Fail(EROFS);
    }
    return Decision::Return(4242);
  });
  int rc = Run({SYS_mkdir, SYS_getppid}, [] {
    long made = syscall(SYS_mkdir, "/tmp/hijack-backend-test-never", 0700);
    if (made != -1 || errno != EROFS) {
      return 1;
    }
    if (access("/tmp/hijack-backend-test-never", F_OK) == 0) {
      return 2;
    }
    return syscall(SYS_getppid) == 4242 ? 0 : 3;
  }, h);
  EXPECT_EQ(rc, 0);
  ASSERT_GE(h.completed.size(), 2u);
  EXPECT_EQ(h.completed[0].result, -EROFS);
  EXPECT_EQ(h.completed[1].result, 4242);
}

TEST_P(BackendTest, GuestMemoryReadsPathsAndReportsBadPointers) {
  std::vector<std::string> paths;
  std::vector<int> errors;
  FakeSyscallHandler h([&](const SyscallEvent& ev, GuestMemory& mem) {
    auto path = mem.ReadString(ev.args[1]);
    if (path) {
      paths.push_back(*path);
    } else {
      errors.push_back(path.error().code);
    }
    return Decision::Continue();
  });
  int rc = Run({SYS_openat}, [] {
    int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY));
    long bad = syscall(SYS_openat, AT_FDCWD, reinterpret_cast<const char*>(16), O_RDONLY);
    return fd >= 0 && bad == -1 && errno == EFAULT ? 0 : 1;
  }, h);
  EXPECT_EQ(rc, 0);
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(paths[0], "/etc/hostname");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], EFAULT);
}

TEST_P(BackendTest, DelayHoldsTheCallThenApplies) {
  FakeSyscallHandler h([](const SyscallEvent&, GuestMemory&) {
    return Decision::Return(7).After(std::chrono::milliseconds(20));
  });
  int rc = Run({SYS_getppid}, [] {
    for (int i = 0; i < 3; ++i) {
      if (syscall(SYS_getppid) != 7) {
        return 1;
      }
    }
    return 0;
  }, h);
  EXPECT_EQ(rc, 0);
  ASSERT_EQ(h.completed.size(), 3u);
  for (const auto& e : h.completed) {
    // Held for at least the delay: a lower bound, which no scheduling noise can break.
    EXPECT_GE(e.end_ns - e.call.start_ns, 20'000'000);
  }
}

TEST_P(BackendTest, InjectFdGivesTheGuestTheSupervisorsDescriptor) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  auto read_end = std::make_shared<const UniqueFd>(fds[0]);
  UniqueFd write_end(fds[1]);
  ASSERT_EQ(write(write_end.get(), "hijack", 6), 6);
  FakeSyscallHandler h([&](const SyscallEvent&, GuestMemory&) {
    return Decision::InjectFd(read_end, /*cloexec=*/true);
  });
  int rc = Run({SYS_openat}, [] {
    int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, "/nonexistent/x", O_RDONLY));
    char buf[6];
    if (fd < 0 || read(fd, buf, 6) != 6) {
      return 1;
    }
    return std::string(buf, 6) == "hijack" && (fcntl(fd, F_GETFD) & FD_CLOEXEC) ? 0 : 2;
  }, h);
  if (!can_inject_fd_) {
    GTEST_SKIP() << GetParam() << " cannot inject descriptors (policies needing it are refused)";
  }
  EXPECT_EQ(rc, 0);
}

TEST_P(BackendTest, ChildrenAndThreadsAreIntercepted) {
  std::mutex mu;
  std::set<pid_t> pids;
  FakeSyscallHandler h([&](const SyscallEvent& ev, GuestMemory&) {
    std::lock_guard lock(mu);
    pids.insert(ev.pid);
    return Decision::Return(1);
  });
  int rc = Run({SYS_getppid}, [] {
    pid_t child = fork();
    if (child == 0) {
      _exit(syscall(SYS_getppid) == 1 ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 && syscall(SYS_getppid) == 1 ? 0 : 1;
  }, h);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(pids.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendTest,
                         ::testing::ValuesIn(testing::BackendNames()),
                         testing::BackendTestName{});

}  // namespace
}  // namespace hijack
