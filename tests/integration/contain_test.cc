// The guest tree ends with the supervisor: a guest clears its death signal and leaves a
// setsid'd, double-forked, CLONE_UNTRACED orphan behind, then hijackd (run, or serve) is
// SIGKILLed; every process of the guest tree must be gone within a deadline, on every backend.
// Also what the guest sees of its pid namespace, and the fallback when the kernel refuses one.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <vector>

#include "hijack/unique_fd.h"
#include "tests/integration/test_paths.h"
#include "tests/support/backend_params.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;

constexpr auto kDeadline = std::chrono::seconds(30);

// A /proc file's contents, or what was read before an error: a process that exits while its
// file is read makes read(2) fail with ESRCH, which std::ifstream turns into an exception.
std::string ProcText(const std::string& path) {
  std::string text;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return text;
  }
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) {
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return text;
}

// Every process whose command line contains `token` (the test's temporary directory): the guest
// tree, and the supervisor, whose argv names the guest.
std::vector<pid_t> ProcessesWith(const std::string& token) {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return pids;
  }
  while (dirent* e = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0' || pid == getpid()) {
      continue;
    }
    const std::string cmdline = ProcText("/proc/" + std::string(e->d_name) + "/cmdline");
    if (cmdline.find(token) != std::string::npos) {
      pids.push_back(static_cast<pid_t>(pid));
    }
  }
  closedir(proc);
  return pids;
}

// Waits until every process of `pids` has exited (its pidfd becomes readable, pidfd_open(2)),
// or the deadline passes. Returns the ones still alive.
// `on_timeout` sees the survivors before they are killed.
std::vector<pid_t> WaitAllGone(
    const std::vector<pid_t>& pids, std::chrono::steady_clock::time_point deadline,
    const std::function<void(const std::vector<pid_t>&)>& on_timeout) {
  std::vector<UniqueFd> fds;
  std::vector<pid_t> open_pids;
  for (pid_t pid : pids) {
    UniqueFd fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    if (fd.valid()) {  // ESRCH: gone already
      fds.push_back(std::move(fd));
      open_pids.push_back(pid);
    }
  }
  std::vector<bool> gone(fds.size(), false);
  for (;;) {
    std::vector<pollfd> waiting;
    std::vector<size_t> index;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (!gone[i]) {
        waiting.push_back({fds[i].get(), POLLIN, 0});
        index.push_back(i);
      }
    }
    if (waiting.empty()) {
      return {};
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      break;
    }
    if (poll(waiting.data(), waiting.size(), static_cast<int>(left.count())) < 0 &&
        errno != EINTR) {
      break;
    }
    for (size_t k = 0; k < waiting.size(); ++k) {
      if (waiting[k].revents != 0) {
        gone[index[k]] = true;
      }
    }
  }
  std::vector<pid_t> alive;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (!gone[i]) {
      alive.push_back(open_pids[i]);
    }
  }
  on_timeout(alive);
  for (size_t i = 0; i < fds.size(); ++i) {
    if (!gone[i]) {
      // Do not leave a spinning orphan behind a failed test.
      syscall(SYS_pidfd_send_signal, fds[i].get(), SIGKILL, nullptr, 0);
    }
  }
  return alive;
}

// What a failing test says of a process that outlived the supervisor: its command line, its state,
// parent, pid in each namespace, tracer and where it waits (proc(5)).
std::string Describe(pid_t pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  std::string cmdline = ProcText(base + "/cmdline");
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  std::string out = "pid " + std::to_string(pid) + " [" + cmdline + "]";
  std::ifstream status(base + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("State:") || line.starts_with("PPid:") || line.starts_with("NSpid:") ||
        line.starts_with("TracerPid:") || line.starts_with("SigBlk:") ||
        line.starts_with("Seccomp:")) {
      out += "; " + line;
    }
  }
  std::ifstream wchan(base + "/wchan");
  std::string where;
  std::getline(wchan, where);
  return out + "; wchan: " + where;
}

std::string DescribeAll(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t pid : pids) {
    out += "\n  " + Describe(pid);
  }
  return out;
}

class ContainTest : public ::testing::TestWithParam<std::string> {
 protected:
  // hijackd run --backend <param> --quiet [options...]
  HijackdRun Hijackd(std::vector<std::string> options = {}) const {
    return {.hijackd = kHijackd,
            .backend = GetParam(),
            .quiet = true,
            .options = std::move(options)};
  }

  // After the supervisor was SIGKILLed: every process that named the token must end.
  void ExpectTreeEndsAfterKill(BackgroundProcess& supervisor, const std::string& token) {
    std::vector<pid_t> tree = ProcessesWith(token);
    // The guest, its escapee, and (contained) the namespace's init, whose argv is the
    // supervisor's.
    ASSERT_GE(tree.size(), 2u) << "the guest tree was not found:" << DescribeAll(tree);
    const std::string before = DescribeAll(tree);
    ASSERT_EQ(kill(supervisor.pid(), SIGKILL), 0);
    supervisor.Stop(SIGKILL);
    std::vector<pid_t> alive =
        WaitAllGone(tree, std::chrono::steady_clock::now() + std::chrono::seconds(10),
                    [&](const std::vector<pid_t>& left) {
                      ADD_FAILURE() << left.size() << " process(es) of the guest tree outlived "
                                    << "the SIGKILLed supervisor:" << DescribeAll(left)
                                    << "\nthe tree before the kill:" << before;
                    });
    EXPECT_TRUE(alive.empty());
    // Nothing was forked after the scan either.
    std::vector<pid_t> late = ProcessesWith(token);
    EXPECT_TRUE(WaitAllGone(late, std::chrono::steady_clock::now() + std::chrono::seconds(10),
                            [&](const std::vector<pid_t>& left) {
                              ADD_FAILURE() << "forked after the scan:" << DescribeAll(left);
                            })
                    .empty());
  }

  TempDir dir_;
};

TEST_P(ContainTest, RunGuestTreeEndsWithKilledSupervisor) {
  BackgroundProcess run(Hijackd().Argv({kGuest, "escape", dir_.path()}), dir_.path());
  ASSERT_TRUE(run.WaitForOutput("escape: ready", kDeadline)) << run.Stderr();
  ExpectTreeEndsAfterKill(run, dir_.path());
}

TEST_P(ContainTest, ServeGuestTreeEndsWithKilledSupervisor) {
  TempDir daemon_dir;
  const std::string address = "unix:" + daemon_dir.path() + "/hijack.sock";
  BackgroundProcess serve({kHijackd, "serve", "--listen", address}, daemon_dir.path());
  ASSERT_TRUE(serve.WaitForOutput("listening on", kDeadline)) << serve.Stderr();
  auto launched = RunProcess({kHijackctl, "--connect", address, "launch", "--backend", GetParam(),
                              "--", kGuest, "escape", dir_.path()});
  ASSERT_EQ(launched.exit_code, 0) << launched.err << serve.Stderr();
  // A guest of the API writes to its own pipes, read back with `hijackctl logs`.
  BackgroundProcess logs({kHijackctl, "--connect", address, "logs", "1", "--follow"},
                         daemon_dir.path());
  ASSERT_TRUE(logs.WaitForOutput("escape: ready", kDeadline)) << serve.Stderr() << logs.Stderr();
  auto shown = RunProcess({kHijackctl, "--connect", address, "show", "1"});
  EXPECT_THAT(shown.out, HasSubstr("containment:    pidns")) << shown.out << shown.err
                                                              << serve.Stderr();
  ExpectTreeEndsAfterKill(serve, dir_.path());
}

// What runs as the unprivileged user, staged where that user can reach it: the build tree may
// sit in a directory only its owner may enter. hijackd finds the agent in ../lib/hijack, as
// installed (common/install_layout.h).
const StagedFiles& Staged() {
  static const StagedFiles staged({{kHijackd, "bin/hijackd"},
                                   {kGuest, "bin/syscall_guest"},
                                   {HIJACK_TEST_AGENT_LIBRARY, "lib/hijack/libhijack-agent.so"}});
  return staged;
}

// `argv` as an unprivileged user: as root, through setpriv(1) as nobody (util-linux).
std::vector<std::string> Unprivileged(std::vector<std::string> argv) {
  if (geteuid() != 0) {
    return argv;
  }
  std::vector<std::string> out = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// Unprivileged, a user namespace owns the pid namespace: the attack fails the same way, and the
// guest sees its one-uid map.
TEST_P(ContainTest, UnprivilegedGuestTreeEndsWithKilledSupervisor) {
  const std::string hijackd = Staged().path("bin/hijackd");
  auto view = RunProcess(Unprivileged({hijackd, "run", "--backend", GetParam(), "--quiet", "--",
                                       "/bin/sh", "-c", "echo $$; cat /proc/self/uid_map"}));
  ASSERT_EQ(view.exit_code, 0) << view.err;
  std::istringstream words(view.out);
  std::string pid, inside, outside, count;
  words >> pid >> inside >> outside >> count;
  EXPECT_EQ(pid, "2") << view.out;
  EXPECT_EQ(inside, "65534") << view.out;
  EXPECT_EQ(count, "1") << view.out;
  BackgroundProcess run(Unprivileged({hijackd, "run", "--backend", GetParam(), "--quiet", "--",
                                      Staged().path("bin/syscall_guest"), "escape", dir_.path()}),
                        dir_.path());
  ASSERT_TRUE(run.WaitForOutput("escape: ready", kDeadline)) << run.Stderr();
  ExpectTreeEndsAfterKill(run, dir_.path());
}

// The guest's view: pid 2 under an init; /proc is its namespace's, so /proc/<getpid()> is
// itself; exit statuses and deaths by signal pass through the init.
TEST_P(ContainTest, GuestSeesItsOwnNamespace) {
  auto r = Hijackd().Run({"/bin/sh", "-c",
                         "echo $$ $PPID; test -e /proc/$$/status && echo proc-ok; "
                         "ls /proc | grep -c '^[0-9]'"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // sh, its init, and ls and grep of the pipeline (the command substitution's subshell may or may
  // not fork, so at most five).
  std::istringstream lines(r.out);
  std::string ids, proc_ok, count;
  std::getline(lines, ids);
  std::getline(lines, proc_ok);
  std::getline(lines, count);
  EXPECT_EQ(ids, "2 1") << r.out;
  EXPECT_EQ(proc_ok, "proc-ok") << r.out;
  EXPECT_LE(std::atoi(count.c_str()), 5) << r.out;
  EXPECT_EQ(Hijackd().Run({kGuest, "exit", "7"}).exit_code, 7);
  EXPECT_EQ(Hijackd().Run({kGuest, "raise", std::to_string(SIGTERM)}).exit_code, 128 + SIGTERM);
}

TEST_P(ContainTest, NoneKeepsTheSupervisorsPidNamespace) {
  auto r = Hijackd({"--contain", "none"}).Run({"/bin/sh", "-c", "echo $PPID"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out, "1\n");
  EXPECT_NE(r.out, "0\n");
}

// Where the kernel or a sandbox refuses the namespace, auto runs the guest uncontained and says
// so once; an explicit pidns fails the launch, naming the refused step.
TEST_P(ContainTest, RefusedNamespaceFallsBackUnderAutoAndFailsUnderPidns) {
  HijackdRun refused = Hijackd();
  refused.prefix = WithoutNamespaces();
  auto fallback = refused.Run({"/bin/sh", "-c", "echo $PPID"});
  EXPECT_EQ(fallback.exit_code, 0) << fallback.err;
  EXPECT_NE(fallback.out, "1\n");
  EXPECT_THAT(fallback.err, HasSubstr("the guest tree cannot end with hijackd"));
  EXPECT_THAT(fallback.err, HasSubstr("unshare"));
  refused.options = {"--contain", "pidns"};
  auto strict = refused.Run({"/bin/true"});
  EXPECT_EQ(strict.exit_code, 1);
  EXPECT_THAT(strict.err, HasSubstr("pid namespace: unshare"));
  EXPECT_THAT(strict.err, HasSubstr("EPERM"));
}

INSTANTIATE_TEST_SUITE_P(Backends, ContainTest,
                         ::testing::ValuesIn(BackendNames()), BackendTestName{});

}  // namespace
}  // namespace hijack::testing
