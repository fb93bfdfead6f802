// Load and fault scenarios: real guests (tests/guests/reliability_guest.cc) under a real
// `hijackd run` or `hijackd serve`, real gRPC clients on the daemon's real unix socket.
//
// Each scenario checks what the guest saw (every answer right, none missing), what the daemon
// did (it survived, the other guests went on), and prints one machine-readable line
//
//   RELIABILITY {"scenario": ..., "backend": ..., "load": ..., "counts": {...}, "lost": 0,
//                "command": "<how to reproduce it>"}
//
// that scripts/reliability-report collects into docs/RELIABILITY.md. The short form (the
// default, what ctest runs) uses small bounded counts; HIJACK_RELIABILITY_LONG=1 selects the
// long form (64 threads x 100,000 calls, 1,000 children, 50 guests and 200 clients).
//
// No test waits on time: every wait is for a condition with a deadline, randomness is seeded
// (HIJACK_RELIABILITY_SEED, default 17), and nothing is asserted about how long anything took.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hijack/v1/control.grpc.pb.h"
#include "tests/support/backend_params.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/lighttpd_site.h"
#include "tests/support/programs.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr const char* kGuest = HIJACK_TEST_RELIABILITY_GUEST;
constexpr const char* kGatePlugin = HIJACK_TEST_GATE_PLUGIN;
constexpr const char* kFloodPlugin = HIJACK_TEST_FLOOD_PLUGIN;
constexpr std::chrono::seconds kDeadline{120};

// RunProcess's options with only a deadline.
ProcessOptions Within(std::chrono::seconds deadline) {
  ProcessOptions options;
  options.deadline = deadline;
  return options;
}

bool LongForm() {
  const char* v = std::getenv("HIJACK_RELIABILITY_LONG");
  return v != nullptr && std::string(v) == "1";
}

// The short count for ctest, the long one for the documented command.
long Scale(long short_form, long long_form) { return LongForm() ? long_form : short_form; }

uint32_t Seed() {
  const char* v = std::getenv("HIJACK_RELIABILITY_SEED");
  return v != nullptr ? static_cast<uint32_t>(std::strtoul(v, nullptr, 10)) : 17u;
}

// The command that reruns the current test in the form it ran in.
std::string ReproduceCommand() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string filter = std::string(info->test_suite_name()) + "." + info->name();
  return std::string(LongForm() ? "HIJACK_RELIABILITY_LONG=1 " : "") +
         "build/release/tests/hijack_reliability_tests --gtest_filter=" + filter;
}

// Prints the scenario's result line on stdout (see the file comment).
void Report(const std::string& scenario, const std::string& backend, const std::string& load,
            const nlohmann::json& counts, long lost) {
  nlohmann::json line = {{"scenario", scenario}, {"backend", backend},
                         {"form", LongForm() ? "long" : "short"}, {"load", load},
                         {"counts", counts}, {"lost", lost}, {"command", ReproduceCommand()}};
  std::printf("RELIABILITY %s\n", line.dump().c_str());
  std::fflush(stdout);
}

// "key=value" words of the guest's line that starts with `prefix`, as numbers.
std::map<std::string, long> GuestCounts(const std::string& out, const std::string& prefix) {
  std::map<std::string, long> counts;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(prefix)) {
      continue;
    }
    std::istringstream words(line.substr(prefix.size()));
    for (std::string word; words >> word;) {
      if (auto eq = word.find('='); eq != std::string::npos) {
        counts[word.substr(0, eq)] = std::strtol(word.c_str() + eq + 1, nullptr, 10);
      }
    }
  }
  return counts;
}

// The `calls` column of syscall `name` in the stats table hijackd run prints at the end; -1 if
// the table has no such row.
long StatsCalls(const std::string& err, const std::string& name) {
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string first;
    long calls = -1;
    if (words >> first && first == name && words >> calls) {
      return calls;
    }
  }
  return -1;
}

// Denies getppid with EDOM and lets gettid run: the answers reliability_guest checks.
std::string EnforcingPolicy(const TempDir& dir, const std::string& extra_modules = "") {
  return WritePolicy(dir, "enforce.json",
                     R"({"module": "deny", "syscalls": ["getppid"], "errno": "EDOM"},
                        {"module": "stats", "syscalls": ["getppid", "gettid", "getpgrp"]})" +
                         extra_modules);
}

class LoadTest : public ::testing::TestWithParam<std::string> {
 protected:
  HijackdRun Run(const std::string& policy) const {
    // --no-agent: every call crosses the supervisor, which is what these scenarios load.
    return HijackdRun{.hijackd = kHijackd, .backend = GetParam(), .policy = policy,
                      .options = {"--no-agent", "--intercept", "gettid,getpgrp"}};
  }
  TempDir dir_;
};

TEST_P(LoadTest, ManyThreadsEachCallAnsweredOnceWithItsOwnAnswer) {
  const long threads = Scale(8, 64);
  const long pairs = Scale(500, 50'000);  // two calls each: 100,000 calls a thread long
  auto r = Run(EnforcingPolicy(dir_))
               .Run({kGuest, "threads", std::to_string(threads), std::to_string(pairs)},
                    Within(LongForm() ? 3600s : kDeadline));
  ASSERT_FALSE(r.timed_out) << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto seen = GuestCounts(r.out, "threads:");
  const long expected = threads * pairs;
  EXPECT_EQ(seen["denied_ok"], expected) << r.out;
  EXPECT_EQ(seen["allowed_ok"], expected) << r.out;
  EXPECT_EQ(seen["wrong"], 0) << r.out;
  // The supervisor's own count: each call decided once, none missing, none twice (the guest
  // learns its tids from procfs, and the runtime makes none of these calls).
  const long denied_seen = StatsCalls(r.err, "getppid");
  const long allowed_seen = StatsCalls(r.err, "gettid");
  EXPECT_THAT(r.err, Not(HasSubstr("events were dropped"))) << r.err;
  EXPECT_EQ(denied_seen, expected) << r.err;
  EXPECT_EQ(allowed_seen, expected) << r.err;
  Report("many-threads", GetParam(),
         std::to_string(threads) + " threads x " + std::to_string(2 * pairs) +
             " intercepted calls (getppid denied EDOM, gettid allowed)",
         {{"calls", 2 * expected},
          {"answered_right", seen["denied_ok"] + seen["allowed_ok"]},
          {"wrong", seen["wrong"]},
          {"supervisor_decided", denied_seen + allowed_seen}},
         2 * expected - seen["denied_ok"] - seen["allowed_ok"]);
}

TEST_P(LoadTest, ForkedChildrenAreAllSupervisedAndEveryExitIsSeen) {
  const long children = Scale(40, 1000);
  auto r = Run(EnforcingPolicy(dir_))
               .Run({kGuest, "fork", std::to_string(children), "4"},
                    Within(LongForm() ? 1800s : kDeadline));
  ASSERT_FALSE(r.timed_out) << "a process of the tree got stuck: " << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto seen = GuestCounts(r.out, "fork:");
  EXPECT_EQ(seen["children"], children) << r.out;
  EXPECT_EQ(seen["exits_ok"], children) << r.out;
  EXPECT_EQ(seen["wrong_exit"] + seen["wrong_pid"] + seen["fork_failed"], 0) << r.out;
  // Every child's denied call went through the supervisor (and the parent's one).
  const long denied_seen = StatsCalls(r.err, "getppid");
  EXPECT_EQ(denied_seen, children + 1) << r.err;
  Report("fork-children", GetParam(),
         std::to_string(children) + " forked children, 4 alive at once, each checking its calls",
         {{"children", seen["children"]}, {"exits_ok", seen["exits_ok"]},
          {"wrong_exit", seen["wrong_exit"]}, {"wrong_pid", seen["wrong_pid"]},
          {"supervised_calls", denied_seen}},
         children - seen["exits_ok"]);
}

TEST_P(LoadTest, ForkExecChildrenAreAllSupervisedAndEveryExitIsSeen) {
  const long children = Scale(25, 1000);
  auto r = Run(EnforcingPolicy(dir_))
               .Run({kGuest, "forkexec", kGuest, std::to_string(children), "4"},
                    Within(LongForm() ? 1800s : kDeadline));
  ASSERT_FALSE(r.timed_out) << "a process of the tree got stuck: " << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto seen = GuestCounts(r.out, "forkexec:");
  EXPECT_EQ(seen["children"], children) << r.out;
  EXPECT_EQ(seen["exits_ok"], children) << r.out;
  EXPECT_EQ(seen["wrong_exit"] + seen["wrong_pid"] + seen["fork_failed"], 0) << r.out;
  const long denied_seen = StatsCalls(r.err, "getppid");
  EXPECT_EQ(denied_seen, children + 1) << r.err;
  Report("fork-exec-children", GetParam(),
         std::to_string(children) + " fork+exec children, 4 alive at once, each checking its calls",
         {{"children", seen["children"]}, {"exits_ok", seen["exits_ok"]},
          {"wrong_exit", seen["wrong_exit"]}, {"wrong_pid", seen["wrong_pid"]},
          {"supervised_calls", denied_seen}},
         children - seen["exits_ok"]);
}

// A rate limit of one token that never refills in the test's lifetime: the second getpgrp of
// a guest is held (Decision::Continue().After), the state these faults hit.
constexpr const char* kHoldGetpgrp =
    R"(, {"module": "ratelimit", "syscalls": ["getpgrp"], "rate": 0.001, "burst": 1,
          "max_wait_ms": 3600000})";

TEST_P(LoadTest, GuestKilledWhileItsCallIsDeferredEndsAndHijackdReportsTheSignal) {
  auto r = Run(EnforcingPolicy(dir_, kHoldGetpgrp)).Run({kGuest, "held-kill"});
  ASSERT_FALSE(r.timed_out) << r.err;
  EXPECT_THAT(r.out, HasSubstr("held-kill: killing"));
  EXPECT_THAT(r.out, Not(HasSubstr("the held call returned")));
  // hijackd run passes the death on: it raises SIGKILL's fate on itself (README, run).
  EXPECT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  Report("kill-during-deferred-call", GetParam(),
         "SIGKILL to a guest while one thread is held by a rate limit",
         {{"hijackd_run_exit", r.exit_code}}, r.exit_code == 128 + SIGKILL ? 0 : 1);
}

TEST_P(LoadTest, ExecWhileACallIsDeferredRunsTheNewImageSupervised) {
  auto r = Run(EnforcingPolicy(dir_, kHoldGetpgrp)).Run({kGuest, "held-exec", kGuest});
  ASSERT_FALSE(r.timed_out) << "exec waited for the held thread: " << r.err;
  EXPECT_THAT(r.out, HasSubstr("held-exec: exec"));
  EXPECT_THAT(r.out, Not(HasSubstr("the held call returned")));
  // The new image's calls are decided (its getppid denied, its gettid its own): child 0 exits 1.
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // getppid: the exec'd image's one denied call, seen by the supervisor.
  EXPECT_EQ(StatsCalls(r.err, "getppid"), 1) << r.err;
  Report("exec-while-deferred", GetParam(),
         "execve in one thread while another is held by a rate limit",
         {{"new_image_checks_ok", r.exit_code == 1 ? 1 : 0},
          {"supervised_calls_after_exec", StatsCalls(r.err, "getppid")}},
         r.exit_code == 1 ? 0 : 1);
}

// Pid reuse: a child's call is held by the gate plugin, the child is killed and reaped, and
// its pid goes to a new child (ns_last_pid) whose own call then waits in hijackd beside the stale
// decision. When the stale decision (Continue) is let go, its answer must not reach the new
// child, whose own decision (EPERM) comes after: the notify backend answers by notification id
// (SECCOMP_IOCTL_NOTIF_SEND fails with ENOENT for a call whose caller is gone,
// seccomp_unotify(2)), the ptrace backends by the thread's serial, not its number. hijackd runs
// as init of a pid namespace of its own, with the guest uncontained in it, so that the number
// the guest reuses is the number hijackd sees, and no other process of the machine takes it
// first. Every step of the guest waits for a state (reliability_guest.cc, PidReuse), so a
// correct hijackd passes whatever the timing. One that answered by thread number fails
// (new_exit=4: the stale Continue ran the new child's getsid) whenever the stale answer is sent
// before the new call's own, the order the guest arranges; with such a fault put into the
// notify backend it failed in 10 of 10 runs.
//
// The notify backend only, for now: under ptrace and ptrace-all the policy host is replaced when
// the held caller is SIGKILLed, so the stale decision is never let go, the new process's call
// gets on_failure instead of its own decision, and the guest waits for a decision that no
// longer exists (docs/RELIABILITY.md, "Not covered here").
TEST(PidReuseTest, AStaleAnswerNeverReachesTheProcessThatReusedThePid) {
  TempDir dir_;
  const std::string backend = "notify";
  if (geteuid() != 0) {
    GTEST_SKIP() << "writing ns_last_pid of a new pid namespace needs root";
  }
  if (access("/usr/bin/unshare", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/unshare (util-linux) for a pid namespace";
  }
  const std::string entered = dir_.path() + "/entered";
  const std::string gate = dir_.path() + "/gate";
  ASSERT_EQ(mkfifo(entered.c_str(), 0600), 0);
  ASSERT_EQ(mkfifo(gate.c_str(), 0600), 0);
  const std::string policy = EnforcingPolicy(
      dir_, R"(, {"module": "plugin", "path": ")" + std::string(kGatePlugin) +
                R"(", "config": {"syscall": "getsid", "entered": ")" + entered +
                R"(", "gate": ")" + gate +
                R"("}, "on_failure": "deny", "errno": "EIO", "timeout_ms": 600000})");
  HijackdRun run{.hijackd = kHijackd, .backend = backend, .policy = policy,
                 .options = {"--no-agent", "--contain", "none", "--intercept", "gettid"}};
  std::vector<std::string> argv = {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc"};
  for (const auto& word : run.Argv({kGuest, "pid-reuse", dir_.path()})) {
    argv.push_back(word);
  }
  auto r = RunProcess(argv, Within(kDeadline));
  if (r.exit_code != 0 && r.out.empty() && r.err.find("unshare:") != std::string::npos) {
    GTEST_SKIP() << "cannot make a pid namespace here: " << r.err;
  }
  ASSERT_FALSE(r.timed_out) << r.out << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto seen = GuestCounts(r.out, "pid-reuse:");
  EXPECT_EQ(seen["ns_last_pid_set"], 1) << r.out;
  EXPECT_EQ(seen["reused"], 1) << "the new child did not get the old pid: " << r.out;
  EXPECT_EQ(seen["parent_ok"], 1) << "the guest's own gettid got a wrong answer: " << r.out;
  EXPECT_EQ(seen["stale_released"], 1) << r.out;
  EXPECT_EQ(seen["new_ok"], 1) << "the new child got an answer that was not its own: " << r.out;
  Report("pid-reuse", backend,
         "a call held by a plugin, its process killed and its pid given to a new process "
         "(ns_last_pid) whose own call waits, then the stale decision let go",
         {{"pid_reused", seen["reused"]}, {"stale_answer_released", seen["stale_released"]},
          {"new_process_exit", seen["new_exit"]},
          {"new_process_got_its_own_answer", seen["new_ok"]}},
         seen["new_ok"] == 1 ? 0 : 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, LoadTest, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

// A trace file on a full file system: observation fails open, so the guest runs to its end with
// every answer right, and hijackd says the trace was cut short.
TEST(FaultTest, TraceOnAFullDiskNeitherStopsNorFailsTheGuest) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "mounting a small tmpfs in a private mount namespace needs root";
  }
  if (access("/usr/bin/unshare", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/unshare (util-linux) for a private mount namespace";
  }
  TempDir dir;
  const std::string mnt = dir.path() + "/full";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  const std::string policy = EnforcingPolicy(dir);
  const long pairs = Scale(2000, 100'000);
  HijackdRun run{.hijackd = kHijackd, .policy = policy,
                 .options = {"--no-agent", "--intercept", "gettid", "--trace",
                             mnt + "/trace.jsonl", "--trace-format", "json"}};
  std::string command;
  for (const auto& word : run.Argv({kGuest, "threads", "2", std::to_string(pairs)})) {
    command += ShellQuote(word) + " ";
  }
  // 64 KiB: a few hundred trace records, far fewer than the calls.
  // Exit status 77 (with mount's message): this root may not mount here (a container without
  // CAP_SYS_ADMIN, a seccomp profile): nothing to test on, which is a skip, not a failure.
  auto r = RunProcess({"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                       "mount -t tmpfs -o size=64k hijack-full " + ShellQuote(mnt) +
                           " || exit 77; exec " + command},
                      Within(kDeadline));
  if (r.exit_code == 77 || (r.exit_code != 0 && r.out.empty() &&
                            r.err.find("unshare") != std::string::npos)) {
    GTEST_SKIP() << "cannot mount a tmpfs in a private mount namespace here: " << r.err;
  }
  ASSERT_FALSE(r.timed_out) << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto seen = GuestCounts(r.out, "threads:");
  EXPECT_EQ(seen["denied_ok"], 2 * pairs) << r.out;
  EXPECT_EQ(seen["allowed_ok"], 2 * pairs) << r.out;
  EXPECT_EQ(seen["wrong"], 0) << r.out;
  // Said once when it happens, and the records lost counted at the end.
  EXPECT_THAT(r.err, HasSubstr(mnt + "/trace.jsonl: No space left on device")) << r.err;
  std::smatch lost_records;
  const bool counted =
      std::regex_search(r.err, lost_records, std::regex(R"(: (\d+) record\(s\) were not written)"));
  EXPECT_TRUE(counted) << r.err;
  Report("trace-on-full-disk", "auto", "trace file on a 64 KiB tmpfs, 2 threads busy",
         {{"calls", 4 * pairs}, {"answered_right", seen["denied_ok"] + seen["allowed_ok"]},
          {"enospc_reported", r.err.find("No space left on device") != std::string::npos},
          {"trace_records_lost_and_counted", counted ? std::stol(lost_records[1]) : -1}},
         4 * pairs - seen["denied_ok"] - seen["allowed_ok"]);
}

// A plugin whose policy host floods hijackd with messages it never asked for (flood_plugin.c):
// every call is still answered once with the answer the guest checks, either the plugin's own
// verdict or on_failure (both EDOM), and hijackd ends with the guest. What the daemon does with
// the flood: a decide() round trip skips what does not answer it, up to timeout_ms, then kills
// the host and restarts it for a later call.
TEST(FaultTest, AFloodingPluginHostNeitherHangsNorMisanswersTheGuest) {
  TempDir dir;
  const long pairs = Scale(200, 20'000);
  const std::string policy = WritePolicy(
      dir, "flood.json",
      R"({"module": "plugin", "path": ")" + std::string(kFloodPlugin) +
          R"(", "config": {"syscall": "getppid"}, "on_failure": "deny", "errno": "EDOM"},
          {"module": "stats", "syscalls": ["getppid", "gettid"]})");
  HijackdRun run{.hijackd = kHijackd, .policy = policy,
                 .options = {"--no-agent", "--intercept", "gettid"}};
  auto r = run.Run({kGuest, "threads", "2", std::to_string(pairs)},
                   Within(LongForm() ? 3600s : kDeadline));
  ASSERT_FALSE(r.timed_out) << "the flood made a call or hijackd hang: " << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  auto seen = GuestCounts(r.out, "threads:");
  EXPECT_EQ(seen["denied_ok"], 2 * pairs) << r.out;
  EXPECT_EQ(seen["allowed_ok"], 2 * pairs) << r.out;
  EXPECT_EQ(seen["wrong"], 0) << r.out;
  const long decided = StatsCalls(r.err, "getppid");
  EXPECT_EQ(decided, 2 * pairs) << r.err;
  long host_failures = 0;
  for (size_t at = 0; (at = r.err.find("failed during decide", at)) != std::string::npos; ++at) {
    ++host_failures;
  }
  Report("flooding-plugin-host", "auto",
         "a plugin host sending unasked verdicts, stats answers, 60 KiB and runt datagrams "
         "without end, 2 threads calling through it",
         {{"calls", 4 * pairs}, {"answered_right", seen["denied_ok"] + seen["allowed_ok"]},
          {"wrong", seen["wrong"]}, {"supervisor_decided", decided + StatsCalls(r.err, "gettid")},
          {"host_timeouts_then_restarts", host_failures}},
         4 * pairs - seen["denied_ok"] - seen["allowed_ok"]);
}

// hijackd's own log (its stderr, which the guest shares) on a full file system: the guest runs
// as without it and hijackd's exit status is still the guest's. What is lost is the log itself
// and the report at the end, which have nowhere to go.
TEST(FaultTest, TheDaemonsLogOnAFullDiskNeitherStopsNorFailsTheGuest) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "mounting a small tmpfs in a private mount namespace needs root";
  }
  if (access("/usr/bin/unshare", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/unshare (util-linux) for a private mount namespace";
  }
  TempDir dir;
  const std::string mnt = dir.path() + "/full";
  ASSERT_EQ(mkdir(mnt.c_str(), 0755), 0);
  // Debug logging: a line per guest event, so the log keeps trying to grow.
  HijackdRun run{.hijackd = kHijackd, .policy = EnforcingPolicy(dir),
                 .options = {"--no-agent", "--intercept", "gettid"},
                 .daemon_options = {"--log-level", "debug"}};
  std::string command;
  for (const auto& word : run.Argv({kGuest, "fork", std::to_string(Scale(20, 1000)), "2"})) {
    command += ShellQuote(word) + " ";
  }
  // The tmpfs is filled to its last block before hijackd starts (dd stops at ENOSPC).
  auto r = RunProcess(
      {"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
       "mount -t tmpfs -o size=64k hijack-full " + ShellQuote(mnt) + " || exit 77; " +
           "dd if=/dev/zero of=" + ShellQuote(mnt + "/fill") + " bs=4096 2>/dev/null; " +
           "echo probe > " + ShellQuote(mnt + "/probe") + " 2>/dev/null && exit 78; " + command +
           "2> " + ShellQuote(mnt + "/hijackd.log") + "; echo \"exit=$?\""},
      Within(kDeadline));
  if (r.exit_code == 77) {
    GTEST_SKIP() << "cannot mount a tmpfs in a private mount namespace here: " << r.err;
  }
  ASSERT_FALSE(r.timed_out) << r.out << r.err;
  ASSERT_NE(r.exit_code, 78) << "the tmpfs was not full";
  auto seen = GuestCounts(r.out, "fork:");
  const long children = Scale(20, 1000);
  EXPECT_THAT(r.out, HasSubstr("exit=0")) << r.out << r.err;
  EXPECT_EQ(seen["exits_ok"], children) << r.out;
  EXPECT_EQ(seen["wrong_exit"] + seen["wrong_pid"] + seen["parent_wrong"], 0) << r.out;
  Report("daemon-log-on-full-disk", "auto",
         "hijackd --log-level debug with its stderr on a full 64 KiB tmpfs, a guest forking " +
             std::to_string(children) + " checked children",
         {{"children", seen["children"]}, {"exits_ok", seen["exits_ok"]},
          {"hijackd_run_exit_0", r.out.find("exit=0") != std::string::npos}},
         children - seen["exits_ok"]);
}

// hijackd's resident set size (proc(5), /proc/PID/status VmRSS) in KiB; -1 once it is gone.
long RssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("VmRSS:")) {
      return std::strtol(line.c_str() + 6, nullptr, 10);
    }
  }
  return -1;
}

// The number after `label` in wrk's report, 0 when the line is absent (wrk prints its error
// lines only when there were errors).
long WrkCount(const std::string& out, const std::string& label) {
  size_t at = out.find(label);
  return at == std::string::npos ? 0 : std::strtol(out.c_str() + at + label.size(), nullptr, 10);
}

// lighttpd under wrk with trace and stats on: every response a 200, no socket error, every
// traced call either written to the trace or counted as dropped, and hijackd's RSS sampled from
// procfs over the run. Trace and stats watch the same calls (%file and %net), so their counts
// must agree: stats counts every call, including those whose event the agent could not append
// to its ring (agent.cc: "counted instead"), which hijackd reports as dropped, and the trace has
// one record per event; an event the event bus drops is lost to both alike and reported too.
// The short form runs wrk for 3 s, the long one for 60 s; RSS is reported, and held to a bound
// generous enough for a shared machine: the second half of the run may not peak more than 8 MiB
// above the first half's peak (a leak per request shows in the long form).
// The run is as long as wrk's duration, but nothing asserted depends on how much got done in it.
TEST(ServerLoadTest, LighttpdUnderWrkWithTraceAndStatsFailsNoRequestAndKeepsRssFlat) {
  if (access("/usr/sbin/lighttpd", X_OK) != 0 || access("/usr/bin/wrk", X_OK) != 0) {
    GTEST_SKIP() << "needs lighttpd and wrk (scripts/install-deps)";
  }
  TempDir dir;
  const int port = PickFreePort();
  const std::string conf =
      WriteLighttpdSite(dir, port, std::string(1024, 'x') + "\n",
                        "server.pid-file = \"" + dir.path() + "/l.pid\"\n" +
                            "mimetype.assign = (\".html\" => \"text/html\")\n");
  const std::string trace = dir.path() + "/trace.jsonl";
  const std::string policy = WritePolicy(
      dir, "web.json",
      R"({"module": "trace", "syscalls": ["%file", "%net"], "output": ")" + trace + R"("},
         {"module": "stats", "syscalls": ["%file", "%net"]})");
  BackgroundProcess server(
      HijackdRun{.hijackd = kHijackd, .policy = policy}.Argv(
          {"/usr/sbin/lighttpd", "-D", "-f", conf}),
      dir.path());
  ASSERT_THAT(HttpGetWhenUp(port, "/index.html", kDeadline), HasSubstr("200 OK"))
      << server.Stderr();
  const long seconds = Scale(3, 60);
  std::vector<long> rss;
  std::atomic<bool> done{false};
  // A sample every 250 ms: a measurement, not a wait for anything.
  std::thread sampler([&] {
    while (!done.load()) {
      rss.push_back(RssKib(server.pid()));
      std::this_thread::sleep_for(250ms);
    }
  });
  auto wrk = RunProcess({"/usr/bin/wrk", "-t2", "-c16", "-d" + std::to_string(seconds) + "s",
                         "--timeout", "30s", "http://127.0.0.1:" + std::to_string(port) +
                                                 "/index.html"},
                        Within(std::chrono::seconds(seconds + 120)));
  done = true;
  sampler.join();
  auto stopped = server.Stop(SIGTERM);
  ASSERT_FALSE(wrk.timed_out) << wrk.out << wrk.err;
  ASSERT_EQ(wrk.exit_code, 0) << wrk.out << wrk.err;
  std::smatch m;
  long served = 0;
  if (std::regex_search(wrk.out, m, std::regex(R"((\d+) requests in)"))) {
    served = std::stol(m[1]);
  }
  const long non_2xx = WrkCount(wrk.out, "Non-2xx or 3xx responses:");
  long socket_errors = 0;
  if (std::regex_search(wrk.out, m, std::regex(
          R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
    socket_errors = std::stol(m[1]) + std::stol(m[2]) + std::stol(m[3]) + std::stol(m[4]);
  }
  EXPECT_GT(served, 0) << wrk.out;
  EXPECT_EQ(non_2xx, 0) << wrk.out;
  EXPECT_EQ(socket_errors, 0) << wrk.out;
  EXPECT_FALSE(stopped.timed_out) << stopped.err;
  // Every traced call reached the trace file or was counted as dropped, and said so. A record
  // of a call has "syscall"; a signal's record (a delivery the backend saw) has not.
  long trace_records = 0;
  long trace_calls = 0;
  {
    std::ifstream in(trace);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) {
        continue;
      }
      ++trace_records;
      auto record = nlohmann::json::parse(line, nullptr, false);
      ASSERT_FALSE(record.is_discarded()) << trace << ": not JSON: " << line;
      trace_calls += record.contains("syscall") ? 1 : 0;
    }
  }
  long observer_drops = 0;
  if (std::regex_search(stopped.err, m, std::regex(R"((\d+) events were dropped by slow)"))) {
    observer_drops = std::stol(m[1]);
  }
  long ring_drops = 0;
  if (std::regex_search(stopped.err, m,
                        std::regex(R"((\d+) events of calls the agent observed were dropped)"))) {
    ring_drops = std::stol(m[1]);
  }
  const long accepts = StatsCalls(stopped.err, "accept4");
  EXPECT_GE(accepts, 16) << stopped.err;  // wrk's 16 connections, at least
  EXPECT_GT(trace_records, 0);
  EXPECT_THAT(stopped.err, Not(HasSubstr("were not written"))) << "the trace lost records";
  // The stats table's total line: every call of %file and %net the guest made, but those the
  // event bus dropped before either module saw them.
  const long stats_calls = StatsCalls(stopped.err, "total");
  EXPECT_GT(stats_calls, 0) << stopped.err;
  EXPECT_EQ(trace_calls + ring_drops, stats_calls)
      << "trace records of calls (" << trace_calls << ") plus the events the agent dropped ("
      << ring_drops << ") are not the calls stats counted: " << stopped.err;
  // RSS: first and second half of the samples taken while wrk ran.
  ASSERT_GE(rss.size(), 4u);
  const size_t half = rss.size() / 2;
  const long first_peak = *std::max_element(rss.begin(), rss.begin() + half);
  const long second_peak = *std::max_element(rss.begin() + half, rss.end());
  // Only where hijackd is built like this program without a sanitizer: ASan's quarantine and
  // TSan's shadow and history grow with the work done, whatever hijackd itself keeps. A hijackd
  // from the environment (HIJACK_TEST_HIJACKD: scripts/test tsan) may be a sanitizer's.
#if !defined(HIJACK_SANITIZED_BUILD) && !defined(__SANITIZE_THREAD__)
  if (std::string(kHijackd) == HIJACK_TEST_HIJACKD) {
    EXPECT_LE(second_peak, first_peak + 8 * 1024)
        << "hijackd's RSS grew over the run: " << ::testing::PrintToString(rss);
  }
#else
  (void)first_peak;
  (void)second_peak;
#endif
  Report("lighttpd-wrk-rss", "auto",
         "lighttpd (1 KiB page) under wrk -t2 -c16 for " + std::to_string(seconds) +
             " s, trace (%file and %net, to a file) and stats on, hijackd's VmRSS sampled "
             "every 250 ms",
         {{"requests", served},
          {"non_2xx", non_2xx},
          {"socket_errors", socket_errors},
          {"trace_records", trace_records},
          {"trace_call_records", trace_calls},
          {"stats_calls", stats_calls},
          {"events_dropped_and_reported", observer_drops + ring_drops},
          {"rss_kib_first_min_max_last",
           {rss.front(), *std::min_element(rss.begin(), rss.end()),
            *std::max_element(rss.begin(), rss.end()), rss.back()}},
          {"rss_samples", rss.size()}},
         non_2xx + socket_errors + std::labs(stats_calls - trace_calls - ring_drops));
}

// ---- many guests under one `hijackd serve`, many clients ----

class ServeLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = dir_.path() + "/hijack.sock";
    address_ = "unix:" + socket_;
    daemon_ = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{kHijackd, "serve", "--listen", address_}, dir_.path());
    ASSERT_TRUE(daemon_->WaitForOutput("listening on " + address_, kDeadline))
        << daemon_->Stderr();
  }

  void TearDown() override {
    if (daemon_) {
      daemon_->Stop(SIGKILL);
    }
  }

  std::unique_ptr<v1::Control::Stub> Stub() {
    return v1::Control::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  static void WithDeadline(grpc::ClientContext& ctx, std::chrono::seconds d = kRpcDeadline) {
    ctx.set_deadline(std::chrono::system_clock::now() + d);
  }

  // Launches a busy reliability_guest under the enforcing policy; returns its id.
  uint64_t LaunchBusy(v1::Control::Stub& stub, const std::string& sigterm_dir = "") {
    v1::LaunchRequest req;
    req.add_argv(kGuest);
    req.add_argv("busy");
    if (!sigterm_dir.empty()) {
      req.add_argv(sigterm_dir);
    }
    req.set_policy(ReadFile(EnforcingPolicy(dir_)));
    req.add_intercept("gettid");
    req.add_intercept("getpgrp");
    req.set_no_agent(true);
    v1::LaunchResponse resp;
    grpc::ClientContext ctx;
    WithDeadline(ctx);
    grpc::Status s = stub.Launch(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.guest_id();
  }

  std::string Output(v1::Control::Stub& stub, uint64_t id) {
    v1::GuestOutputRequest req;
    req.set_guest_id(id);
    grpc::ClientContext ctx;
    WithDeadline(ctx);
    auto reader = stub.GuestOutput(&ctx, req);
    std::string out;
    for (v1::GuestOutputResponse msg; reader->Read(&msg);) {
      out += msg.data();
    }
    reader->Finish().ok();
    return out;
  }

  std::optional<v1::Guest> Get(v1::Control::Stub& stub, uint64_t id) {
    v1::GetGuestRequest req;
    req.set_guest_id(id);
    v1::Guest guest;
    grpc::ClientContext ctx;
    WithDeadline(ctx);
    if (!stub.GetGuest(&ctx, req, &guest).ok()) {
      return std::nullopt;
    }
    return guest;
  }

  // Launches `n` busy guests and waits until each has checked its first calls.
  std::vector<uint64_t> LaunchBusyGuests(v1::Control::Stub& stub, long n,
                                         const std::string& sigterm_dir = "") {
    std::vector<uint64_t> ids;
    for (long i = 0; i < n; ++i) {
      ids.push_back(LaunchBusy(stub, sigterm_dir));
    }
    for (uint64_t id : ids) {
      EXPECT_TRUE(Eventually(
          [&] { return Output(stub, id).find("busy: ready") != std::string::npos; }, kDeadline))
          << "guest " << id;
    }
    return ids;
  }

  static constexpr std::chrono::seconds kRpcDeadline{60};
  TempDir dir_;
  std::string socket_;
  std::string address_;
  std::unique_ptr<BackgroundProcess> daemon_;
};

// What the clients saw: every RPC answered (OK) or refused with a status; a DEADLINE_EXCEEDED
// is an RPC that hung.
struct RpcTally {
  std::mutex mu;
  std::map<std::string, long> by_outcome;  // "GetStats OK", "SetPolicy NOT_FOUND", ...
  long total = 0;
  long hung = 0;
  long events = 0;

  void Add(const std::string& rpc, const grpc::Status& s) {
    static const char* kNames[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
                                   "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
                                   "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                   "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
                                   "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
                                   "UNAUTHENTICATED"};
    std::lock_guard lock(mu);
    ++total;
    by_outcome[rpc + " " + kNames[static_cast<int>(s.error_code())]]++;
    if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      ++hung;
    }
  }
};

// The busy guests' progress counters (reliability_guest busy DIR: DIR/progress-*, the pairs
// each has checked so far), by file name.
std::map<std::string, uint64_t> BusyProgress(const std::string& dir) {
  std::map<std::string, uint64_t> progress;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("progress-")) {
      continue;
    }
    uint64_t pairs = 0;
    std::ifstream in(entry.path(), std::ios::binary);
    if (in.read(reinterpret_cast<char*>(&pairs), sizeof pairs)) {
      progress[name] = pairs;
    }
  }
  return progress;
}

// How fast each guest went while the clients ran against how fast it went just before, as the
// slowest guest's and the median guest's ratio (1.0: not slowed). Measured, never asserted: on
// a shared machine a rate is noise; the figure is stated in docs/RELIABILITY.md.
struct Slowdown {
  double slowest = 0;
  double median = 0;
};
Slowdown RateRatios(const std::map<std::string, uint64_t>& quiet0,
                    const std::map<std::string, uint64_t>& quiet1, double quiet_s,
                    const std::map<std::string, uint64_t>& busy0,
                    const std::map<std::string, uint64_t>& busy1, double busy_s) {
  std::vector<double> ratios;
  for (const auto& [name, q1] : quiet1) {
    auto q0 = quiet0.find(name);
    auto b0 = busy0.find(name);
    auto b1 = busy1.find(name);
    if (q0 == quiet0.end() || b0 == busy0.end() || b1 == busy1.end() || q1 <= q0->second ||
        quiet_s <= 0 || busy_s <= 0) {
      continue;
    }
    const double before = static_cast<double>(q1 - q0->second) / quiet_s;
    const double during = static_cast<double>(b1->second - b0->second) / busy_s;
    ratios.push_back(during / before);
  }
  if (ratios.empty()) {
    return {};
  }
  std::sort(ratios.begin(), ratios.end());
  auto round2 = [](double v) { return static_cast<double>(std::lround(v * 100)) / 100; };
  return {round2(ratios.front()), round2(ratios[ratios.size() / 2])};
}

TEST_F(ServeLoadTest, ManyClientsOnManyBusyGuestsAreEachAnsweredAndNoGuestIsHurt) {
  const long guests = Scale(4, 50);
  const long clients = Scale(12, 200);
  const long rpcs_per_client = Scale(8, 25);
  auto stub = Stub();
  const std::string marks = dir_.path() + "/marks";
  ASSERT_EQ(mkdir(marks.c_str(), 0777), 0);
  std::vector<uint64_t> ids = LaunchBusyGuests(*stub, guests, marks);
  ASSERT_EQ(static_cast<long>(ids.size()), guests);
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  // The guests' rate with no client: a window of the same guests, just before the clients.
  const auto quiet_start = Clock::now();
  const auto quiet0 = BusyProgress(marks);
  std::this_thread::sleep_for(std::chrono::seconds(Scale(1, 3)));
  const auto quiet1 = BusyProgress(marks);
  const double quiet_s = seconds(Clock::now() - quiet_start);

  // A subscriber that never reads: its queue and transport fill; nothing else may notice.
  grpc::ClientContext stalled_ctx;
  v1::WatchEventsRequest stalled_req;
  stalled_req.set_queue(16);
  auto stalled = stub->WatchEvents(&stalled_ctx, stalled_req);

  // Both policies keep getppid denied with EDOM, so the guests' checks hold whichever is in
  // force; the second adds a rule, so each swap is a real change.
  const std::string policy_a = ReadFile(EnforcingPolicy(dir_));
  const std::string policy_b =
      R"({"version": 1, "modules": [
          {"module": "deny", "syscalls": ["getppid"], "errno": "EDOM"},
          {"module": "deny", "syscalls": ["getpgrp"], "errno": "EPERM"},
          {"module": "stats", "syscalls": ["getppid", "gettid", "getpgrp"]}]})";
  RpcTally tally;
  std::vector<std::thread> threads;
  const auto busy_start = Clock::now();
  const auto busy0 = BusyProgress(marks);
  for (long c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937 rng(Seed() + static_cast<uint32_t>(c));
      // A guest id among the guests and one past them, which is NOT_FOUND.
      std::uniform_int_distribution<uint64_t> pick(ids.front(), ids.back() + 1);
      auto client = Stub();
      for (long i = 0; i < rpcs_per_client; ++i) {
        const uint64_t id = pick(rng);
        grpc::ClientContext ctx;
        WithDeadline(ctx);
        switch (rng() % 3) {
          case 0: {
            v1::GetStatsRequest req;
            req.set_guest_id(id);
            v1::GetStatsResponse resp;
            tally.Add("GetStats", client->GetStats(&ctx, req, &resp));
            break;
          }
          case 1: {
            v1::SetPolicyRequest req;
            req.set_guest_id(id);
            req.set_document(rng() % 2 == 0 ? policy_a : policy_b);
            v1::SetPolicyResponse resp;
            tally.Add("SetPolicy", client->SetPolicy(&ctx, req, &resp));
            break;
          }
          default: {
            // Reads a few events, then goes away mid-stream: half cancel, half just drop the
            // stream (the channel closes when the client is destroyed).
            v1::WatchEventsRequest req;
            req.set_guest_id(id);
            req.set_queue(64);
            auto reader = client->WatchEvents(&ctx, req);
            v1::WatchEventsResponse msg;
            long got = 0;
            while (got < 5 && reader->Read(&msg)) {
              ++got;
            }
            {
              std::lock_guard lock(tally.mu);
              tally.events += got;
            }
            ctx.TryCancel();
            grpc::Status s = reader->Finish();
            // A stream that delivered and was then cancelled by its own client is answered.
            tally.Add("WatchEvents", got == 5 ? grpc::Status::OK : s);
            break;
          }
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  const auto busy1 = BusyProgress(marks);
  const double busy_s = seconds(Clock::now() - busy_start);
  const Slowdown slowdown = RateRatios(quiet0, quiet1, quiet_s, busy0, busy1, busy_s);
  stalled_ctx.TryCancel();
  stalled->Finish();

  // The daemon still answers, every guest still runs, none saw a wrong answer.
  v1::HealthRequest hreq;
  v1::HealthResponse health;
  grpc::ClientContext hctx;
  WithDeadline(hctx);
  ASSERT_TRUE(stub->Health(&hctx, hreq, &health).ok());
  EXPECT_EQ(health.guests_running(), static_cast<uint32_t>(guests));
  long hurt = 0;
  for (uint64_t id : ids) {
    auto g = Get(*stub, id);
    bool fine = g && g->state() == v1::Guest::RUNNING &&
                Output(*stub, id).find("wrong=0") != std::string::npos &&
                Output(*stub, id).find("after") == std::string::npos;
    hurt += fine ? 0 : 1;
    EXPECT_TRUE(fine) << "guest " << id << ": " << Output(*stub, id);
  }
  EXPECT_EQ(tally.hung, 0);
  EXPECT_EQ(tally.total, clients * rpcs_per_client);
  nlohmann::json outcomes = nlohmann::json::object();
  for (const auto& [k, v] : tally.by_outcome) {
    outcomes[k] = v;
  }
  Report("serve-many-clients", "auto",
         std::to_string(guests) + " busy guests, " + std::to_string(clients) +
             " concurrent clients x " + std::to_string(rpcs_per_client) +
             " RPCs (GetStats, SetPolicy, WatchEvents cut mid-stream; seed " +
             std::to_string(Seed()) + "), one stalled WatchEvents reader",
         {{"rpcs", tally.total}, {"hung", tally.hung}, {"outcomes", outcomes},
          {"events_read", tally.events}, {"guests_hurt", hurt},
          {"guest_rate_under_clients_vs_before_slowest_median",
           {slowdown.slowest, slowdown.median}}},
         clients * rpcs_per_client - tally.total + tally.hung);
}

TEST_F(ServeLoadTest, SighupIsIgnoredAndSigtermEndsEveryBusyGuest) {
  const long guests = Scale(4, 50);
  auto stub = Stub();
  const std::string marks = dir_.path() + "/marks";
  ASSERT_EQ(mkdir(marks.c_str(), 0777), 0);
  std::vector<uint64_t> ids = LaunchBusyGuests(*stub, guests, marks);
  std::vector<pid_t> pids;
  for (uint64_t id : ids) {
    auto g = Get(*stub, id);
    ASSERT_TRUE(g);
    pids.push_back(g->pid());
  }

  // SIGHUP: hijackd serve has no configuration to reload; it is blocked and changes nothing.
  ASSERT_EQ(kill(daemon_->pid(), SIGHUP), 0);
  // A round trip through the loop after the signal was delivered: GetStats of every guest.
  long running_after_hup = 0;
  for (uint64_t id : ids) {
    v1::GetStatsRequest req;
    req.set_guest_id(id);
    v1::GetStatsResponse resp;
    grpc::ClientContext ctx;
    WithDeadline(ctx);
    EXPECT_TRUE(stub->GetStats(&ctx, req, &resp).ok());
    auto g = Get(*stub, id);
    running_after_hup += g && g->state() == v1::Guest::RUNNING ? 1 : 0;
  }
  EXPECT_EQ(running_after_hup, guests);

  // SIGTERM: every guest is sent SIGTERM (then SIGKILL after the grace), the daemon exits 0.
  // This client keeps its channel open: the daemon does not wait for it to hang up. The time
  // it took is reported, not asserted (on a shared machine a time is noise; the grace is 5 s).
  const auto sigterm_at = std::chrono::steady_clock::now();
  auto stopped = daemon_->Stop(SIGTERM);
  const long exit_ms = static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - sigterm_at)
                                             .count());
  daemon_.reset();
  EXPECT_FALSE(stopped.timed_out);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  long left = 0;
  for (pid_t pid : pids) {
    if (kill(pid, 0) == 0 || errno != ESRCH) {
      ++left;
    }
  }
  EXPECT_EQ(left, 0);
  // What each guest saw: SIGTERM itself, which it handled (its handler leaves a mark).
  long got_sigterm = 0;
  for (const auto& entry : std::filesystem::directory_iterator(marks)) {
    got_sigterm += entry.path().filename().string().starts_with("sigterm-") ? 1 : 0;
  }
  EXPECT_EQ(got_sigterm, guests) << "guests ended without seeing SIGTERM: " << stopped.err;
  EXPECT_NE(access(socket_.c_str(), F_OK), 0) << "the socket outlived the daemon";
  Report("serve-sighup-sigterm", "auto",
         std::to_string(guests) + " busy guests; SIGHUP, then SIGTERM to hijackd serve",
         {{"running_after_sighup", running_after_hup}, {"serve_exit", stopped.exit_code},
          {"guests_that_saw_sigterm", got_sigterm}, {"guests_left_after_sigterm", left},
          {"serve_exit_ms_after_sigterm", exit_ms}},
         left + (guests - running_after_hup));
}

}  // namespace
}  // namespace hijack::testing
