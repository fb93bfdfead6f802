// The hard cases of tracing a guest, run against every backend where the guest must not be able
// to tell the difference (job control, signals, exec from a thread, vfork, posix_spawn chains,
// 16 concurrent threads, a thread killed while its call is held), and against the ptrace
// backends alone for what only ptrace has (results of calls that ran, a guest calling ptrace,
// fork children that stop before their parent's event is seen).
//
// Each guest is a forked function (launcher::ChildFunction) or syscall_guest, so each test states
// exactly which calls it makes.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <gtest/gtest.h>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/backend/ptrace/tracer.h"
#include "tests/support/backend_guest.h"
#include "tests/support/backend_params.h"
#include "tests/support/fake_syscall_handler.h"

namespace hijack {
namespace {

constexpr const char* kGuest = HIJACK_TEST_GUEST;

using testing::FakeSyscallHandler;

// Waits for `done` with a deadline instead of sleeping for a guess.
template <typename Fn>
bool WaitUntil(Fn done, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) {
      return false;
    }
    usleep(1000);
  }
  return true;
}

class TracedGuestTest : public ::testing::TestWithParam<std::string> {
 protected:
  bool IsPtrace() const { return testing::KindOf(GetParam()) != BackendKind::kNotify; }

  // Runs `guest` under the backend with `intercept`; returns its exit status (-1: not exited).
  int Run(std::initializer_list<int> intercept, std::function<int()> guest,
          FakeSyscallHandler& handler) {
    testing::BackendGuest run(GetParam());
    const int rc = run.Run(intercept, std::move(guest), handler);
    main_pid_ = run.main_pid();
    early_stops_ = IsPtrace() ? run.backends().SharedTracer()->early_stops_seen() : 0;
    if (handler.exit_status) {
      EXPECT_TRUE(WIFEXITED(*handler.exit_status)) << "wait status " << *handler.exit_status;
    }
    return rc;
  }

  pid_t main_pid_ = -1;
  uint64_t early_stops_ = 0;
};

// SIGSTOP / SIGTSTP stop a traced child as they would an untraced one (group-stop and
// PTRACE_LISTEN), its parent sees WIFSTOPPED and WIFCONTINUED, and SIGCONT resumes it.
TEST_P(TracedGuestTest, JobControlStopsAndContinuesTheGuest) {
  FakeSyscallHandler h;
  int rc = Run({SYS_getppid}, [] {
    auto* progress = static_cast<std::atomic<long>*>(
        mmap(nullptr, sizeof(std::atomic<long>), PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    pid_t child = fork();
    if (child == 0) {
      // A process group of its own whose parent is in another group of the session: the kernel
      // discards SIGTSTP sent to an orphaned process group, which ours would be when the test
      // runs as a session leader's group (ctest under setsid, CI without a terminal).
      setpgid(0, 0);
      for (;;) {
        syscall(SYS_getppid);
        progress->fetch_add(1);
      }
    }
    if (!WaitUntil([&] { return progress->load() > 0; })) {
      return 1;
    }
    for (int stop_sig : {SIGSTOP, SIGTSTP}) {
      int status = 0;
      kill(child, stop_sig);
      if (waitpid(child, &status, WUNTRACED) != child || !WIFSTOPPED(status) ||
          WSTOPSIG(status) != stop_sig) {
        return 2;
      }
      // Stopped means no progress at all; a window is the only way to see an absence.
      long before = progress->load();
      usleep(100'000);
      if (progress->load() != before) {
        return 3;
      }
      kill(child, SIGCONT);
      if (waitpid(child, &status, WCONTINUED) != child || !WIFCONTINUED(status)) {
        return 4;
      }
      if (!WaitUntil([&] { return progress->load() > before; })) {
        return 5;
      }
    }
    int status = 0;
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : 6;
  }, h);
  EXPECT_EQ(rc, 0);
}

volatile sig_atomic_t g_usr1_code, g_usr1_value, g_usr1_pid, g_usr2_pid, g_chld_status,
    g_chld_code, g_chld_pid;

// Signals reach the guest's handlers with their own number and siginfo (sender, code, value).
TEST_P(TracedGuestTest, SignalsArriveUnchanged) {
  FakeSyscallHandler h;
  // Not rt_sigreturn: under notify, a signal that arrives while rt_sigreturn waits for its
  // answer makes it fail with EINTR (no SA_RESTART) without restoring the frame, and the guest
  // crashes. A ptrace-stop is not interruptible, so ptrace has no such case.
  int rc = Run({SYS_getppid, SYS_kill, SYS_rt_sigqueueinfo}, [] {
    struct sigaction sa {};
    sa.sa_flags = SA_SIGINFO;
    sa.sa_sigaction = [](int, siginfo_t* si, void*) {
      g_usr1_code = si->si_code;
      g_usr1_value = si->si_value.sival_int;
      g_usr1_pid = si->si_pid;
    };
    sigaction(SIGUSR1, &sa, nullptr);
    sa.sa_sigaction = [](int, siginfo_t* si, void*) { g_usr2_pid = si->si_pid; };
    sigaction(SIGUSR2, &sa, nullptr);
    sa.sa_sigaction = [](int, siginfo_t* si, void*) {
      g_chld_code = si->si_code;
      g_chld_status = si->si_status;
      g_chld_pid = si->si_pid;
    };
    sigaction(SIGCHLD, &sa, nullptr);

    sigval value{};
    value.sival_int = 4242;
    sigqueue(getpid(), SIGUSR1, value);
    if (g_usr1_code != SI_QUEUE || g_usr1_value != 4242 || g_usr1_pid != getpid()) {
      return 1;
    }
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigaddset(&block, SIGCHLD);
    sigprocmask(SIG_BLOCK, &block, &old);
    pid_t child = fork();
    if (child == 0) {
      kill(getppid(), SIGUSR2);
      _exit(5);
    }
    alarm(20);  // a lost signal ends the guest by SIGALRM instead of hanging the test
    while (g_usr2_pid == 0 || g_chld_pid == 0) {
      sigsuspend(&old);
    }
    waitpid(child, nullptr, 0);
    if (g_usr2_pid != child) {
      return 2;
    }
    return g_chld_code == CLD_EXITED && g_chld_status == 5 && g_chld_pid == child ? 0 : 3;
  }, h);
  EXPECT_EQ(rc, 0);
}

// A non-leader thread execs: its tid becomes the process id (ptrace(2): PTRACE_EVENT_EXEC and
// PTRACE_GETEVENTMSG) and the new image stays under supervision.
TEST_P(TracedGuestTest, ExecFromANonLeaderThread) {
  FakeSyscallHandler h;
  int rc = Run({SYS_execve, SYS_getppid}, [] {
    std::thread([] {
      execl(kGuest, kGuest, "getppid", "3", static_cast<char*>(nullptr));
      _exit(99);
    }).detach();
    for (;;) {
      pause();
    }
    return 98;
  }, h);
  EXPECT_EQ(rc, 0);
  auto execs = h.Calls(SYS_execve);
  ASSERT_EQ(execs.size(), 1u);
  EXPECT_EQ(execs[0].call.pid, main_pid_);
  EXPECT_NE(execs[0].call.tid, main_pid_) << "the exec should come from a non-leader thread";
  if (IsPtrace()) {
    EXPECT_EQ(execs[0].result, 0) << "ptrace sees the result at the exit stop, under the new tid";
  }
  auto getppids = h.Calls(SYS_getppid);
  ASSERT_EQ(getppids.size(), 3u);
  for (const auto& e : getppids) {
    EXPECT_EQ(e.call.pid, main_pid_);
    EXPECT_EQ(e.call.tid, main_pid_);
  }
}

// vfork: the parent is suspended until the child execs; both stay supervised.
TEST_P(TracedGuestTest, VforkChildIsSupervised) {
  FakeSyscallHandler h([](const SyscallEvent& ev, GuestMemory&) {
    return ev.nr == SYS_getppid ? Decision::Return(77) : Decision::Continue();
  });
  int rc = Run({SYS_getppid}, [] {
    pid_t child = vfork();
    if (child == 0) {
      execl(kGuest, kGuest, "getppid", "2", static_cast<char*>(nullptr));
      _exit(99);
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return WIFEXITED(status) ? 10 + WEXITSTATUS(status) : 1;
    }
    return syscall(SYS_getppid) == 77 ? 0 : 2;
  }, h);
  EXPECT_EQ(rc, 0);
  std::map<pid_t, int> per_pid;
  for (const auto& e : h.Calls(SYS_getppid)) {
    ++per_pid[e.call.pid];
  }
  ASSERT_EQ(per_pid.size(), 2u);
  EXPECT_EQ(per_pid[main_pid_], 1);
}

// posix_spawn (clone with CLONE_VM|CLONE_VFORK) three levels deep: every level is seen.
TEST_P(TracedGuestTest, PosixSpawnChainThreeLevelsDeep) {
  FakeSyscallHandler h;
  int rc = Run({SYS_execve, SYS_getpid}, [] {
    execl(kGuest, kGuest, "spawn-chain", "3", static_cast<char*>(nullptr));
    return 99;
  }, h);
  EXPECT_EQ(rc, 0);
  std::set<pid_t> exec_pids;
  for (const auto& e : h.Calls(SYS_execve)) {
    exec_pids.insert(e.call.pid);
    if (IsPtrace()) {
      EXPECT_EQ(e.result, 0);
    }
  }
  EXPECT_EQ(exec_pids.size(), 3u);
}

// 16 threads make intercepted calls at once; each answer reaches the thread that asked.
TEST_P(TracedGuestTest, SixteenThreadsConcurrently) {
  constexpr int kThreads = 16;
  constexpr int kCalls = 200;
  FakeSyscallHandler h([](const SyscallEvent& ev, GuestMemory&) {
    return ev.nr == SYS_getppid ? Decision::Return(ev.tid) : Decision::Continue();
  });
  int rc = Run({SYS_getppid}, [] {
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&] {
        const long self = syscall(SYS_gettid);
        for (int j = 0; j < kCalls; ++j) {
          if (syscall(SYS_getppid) != self) {
            wrong.fetch_add(1);
          }
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    return wrong.load() == 0 ? 0 : 1;
  }, h);
  EXPECT_EQ(rc, 0);
  auto calls = h.Calls(SYS_getppid);
  EXPECT_EQ(calls.size(), static_cast<size_t>(kThreads * kCalls));
  std::set<pid_t> tids;
  for (const auto& e : calls) {
    tids.insert(e.call.tid);
    EXPECT_EQ(e.call.pid, main_pid_);
  }
  EXPECT_EQ(tids.size(), static_cast<size_t>(kThreads));
}

// A thread killed while its call is held by a long delay (the tracee is killed in its
// ptrace-stop): the guest ends at once, and the held call is reported without a result.
TEST_P(TracedGuestTest, KilledWhileItsCallIsHeld) {
  // The handler tells the guest, through a pipe the guest inherits, that the call is held.
  int held[2];
  ASSERT_EQ(pipe2(held, O_CLOEXEC), 0);
  FakeSyscallHandler h([&](const SyscallEvent& ev, GuestMemory&) {
    if (ev.nr != SYS_getppid) {
      return Decision::Continue();
    }
    EXPECT_EQ(write(held[1], "h", 1), 1);
    return Decision::Return(0).After(std::chrono::seconds(30));
  });
  const auto start = std::chrono::steady_clock::now();
  int rc = Run({SYS_getppid}, [&] {
    pid_t child = fork();
    if (child == 0) {
      syscall(SYS_getppid);
      _exit(1);
    }
    alarm(20);  // no answer on the pipe ends the guest by SIGALRM
    char byte;
    bool was_held = read(held[0], &byte, 1) == 1;
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    return was_held && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : 1;
  }, h);
  close(held[0]);
  close(held[1]);
  EXPECT_EQ(rc, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  if (IsPtrace()) {
    auto calls = h.Calls(SYS_getppid);
    ASSERT_EQ(calls.size(), 1u) << "the held call must be reported, without a result";
    EXPECT_FALSE(calls[0].result.has_value());
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TracedGuestTest, ::testing::ValuesIn(testing::BackendNames()),
                         testing::BackendTestName{});

class PtraceOnlyTest : public TracedGuestTest {};

// What ptrace has and notify has not: the return value of a call that ran.
TEST_P(PtraceOnlyTest, ResultsOfCallsThatRanAreReported) {
  FakeSyscallHandler h;
  const pid_t supervisor = getpid();
  int rc = Run({SYS_getppid, SYS_openat}, [] {
    syscall(SYS_getppid);
    return open("/nonexistent/hijack", O_RDONLY) < 0 && errno == ENOENT ? 0 : 1;
  }, h);
  EXPECT_EQ(rc, 0);
  auto getppids = h.Calls(SYS_getppid);
  ASSERT_EQ(getppids.size(), 1u);
  EXPECT_EQ(getppids[0].result, supervisor);
  auto opens = h.Calls(SYS_openat);
  ASSERT_FALSE(opens.empty());
  EXPECT_EQ(opens.back().result, -ENOENT);
}

// Without WantsResult the seccomp mode resumes with PTRACE_CONT: one stop, no result.
TEST_P(PtraceOnlyTest, NoExitStopWhenTheResultIsNotWanted) {
  FakeSyscallHandler h({}, /*wants_result=*/false);
  int rc = Run({SYS_getppid}, [] { return syscall(SYS_getppid) > 0 ? 0 : 1; }, h);
  EXPECT_EQ(rc, 0);
  auto calls = h.Calls(SYS_getppid);
  ASSERT_EQ(calls.size(), 1u);
  if (testing::KindOf(GetParam()) == BackendKind::kPtrace) {
    EXPECT_FALSE(calls[0].result.has_value());
  }
}

// A guest cannot trace: its descendants are traced already, and so is it (ptrace(2): EPERM).
TEST_P(PtraceOnlyTest, GuestCallingPtraceGetsEperm) {
  FakeSyscallHandler h;
  int rc = Run({SYS_getppid}, [] {
    if (ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != -1 || errno != EPERM) {
      return 1;
    }
    pid_t child = fork();
    if (child == 0) {
      for (;;) {
        pause();
      }
    }
    long attached = ptrace(PTRACE_SEIZE, child, nullptr, nullptr);
    int err = errno;
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    return attached == -1 && err == EPERM ? 0 : 2;
  }, h);
  EXPECT_EQ(rc, 0);
}

// A grandchild's first stop can be reported before its parent's PTRACE_EVENT_FORK: it must be
// kept until the event names it, not lost; either order must give every call and a clean exit.
TEST_P(PtraceOnlyTest, ForkChildrenThatStopBeforeTheirParentsEvent) {
  constexpr int kGrandchildren = 20;
  FakeSyscallHandler h([](const SyscallEvent& ev, GuestMemory&) {
    return ev.nr == SYS_getppid ? Decision::Return(5) : Decision::Continue();
  });
  int rc = Run({SYS_getppid}, [] {
    pid_t child = fork();
    if (child == 0) {
      int bad = 0;
      for (int i = 0; i < kGrandchildren; ++i) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
          _exit(syscall(SYS_getppid) == 5 ? 0 : 1);
        }
        int status = 0;
        waitpid(grandchild, &status, 0);
        bad += WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
      }
      _exit(bad);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
  }, h);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(h.Calls(SYS_getppid).size(), static_cast<size_t>(kGrandchildren));
  // Which stop the kernel reports first is the scheduler's choice (children of a tracee that is
  // not our own child usually come first: the kernel's ptraced list is newest first); record
  // how often the buffered path ran rather than demand it.
  RecordProperty("early_stops", static_cast<int>(early_stops_));
}

// The backends of the table that trace (every one but notify).
std::vector<std::string> PtraceBackendNames() {
  std::vector<std::string> names = testing::BackendNames();
  std::erase(names, std::string(BackendKindName(BackendKind::kNotify)));
  return names;
}

INSTANTIATE_TEST_SUITE_P(Ptrace, PtraceOnlyTest, ::testing::ValuesIn(PtraceBackendNames()),
                         testing::BackendTestName{});

}  // namespace
}  // namespace hijack
