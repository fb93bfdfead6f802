// Caller identity when thread ids come back (daemon/backend/notify/caller_identity.h): a guest
// runs short threads, then forks until a child gets one of their ids (pid_max is 32768 on a
// stock kernel, so this takes one trip round the id space), and every child tries the
// /proc/self/fd/3 attack: its descriptor 3 is a write-denied file, its parent's an allowed one.
// On every backend, in fs_guard's check and strict modes: every child is judged by its own
// descriptor (EACCES, the denied file untouched, the allowed file untouched), and every trace
// record names the process the calling thread belonged to at the time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "tests/support/backend_guest.h"
#include "tests/support/backend_params.h"
#include "tests/support/programs.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;

constexpr const char* kGuest = HIJACK_TEST_IDENTITY_GUEST;

long PidMax() {
  std::ifstream in("/proc/sys/kernel/pid_max");
  long v = 0;
  in >> v;
  return v;
}

// Whether this kernel gives a new PID namespace a pid_max of its own (Linux 6.14+).
bool SmallPidNamespaceWorks(long pid_max) {
  auto r = RunProcess({"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "/bin/sh", "-c",
                       "echo " + std::to_string(pid_max) +
                           " > /proc/sys/kernel/pid_max && cat /proc/sys/kernel/pid_max"});
  return r.exit_code == 0 && r.out == std::to_string(pid_max) + "\n";
}

class IdentityTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Runs the reuse guest under fs_guard in `mode` (write to DENIED refused) and a trace of the
  // threads' getppid and the children's getpgrp; checks the outcome and every trace record.
  void RunReuse(const std::string& mode) {
    const long pid_max = PidMax();
    if (pid_max <= 0 || pid_max > 4 * 1024 * 1024) {
      GTEST_SKIP() << "pid_max " << pid_max << ": a trip round the id space is too long here";
    }
    const std::string allowed = dir_.Write("allowed", "ALLOWED");
    const std::string denied = dir_.Write("denied", "DENIED");
    const std::string trace = dir_.path() + "/trace.jsonl";
    const std::string policy = dir_.Write("p.json", R"({"version": 1, "modules": [
          {"module": "fs_guard", "mode": ")" + mode + R"(", "rules": [
             {"deny": [")" + denied + R"("], "access": ["write"]}]},
          {"module": "trace", "syscalls": ["getppid", "getpgrp"], "output": ")" +
                                                        trace + R"(", "format": "json"}]})");
    // Two trips round the id space at most: other processes take ids too. Uncontained: the
    // guest must recycle ids in the supervisor's pid namespace, the one its notifications and
    // stops name. As root the whole run goes into a new PID namespace whose own pid_max (per
    // namespace since Linux 6.14) is small, so that a trip takes a thousand forks instead of the
    // host's tens of thousands; sh stays the namespace's init (not exec'd into) so that hijackd
    // runs as it does anywhere. Ids start past 400: after a wrap the kernel hands out ids from
    // 300 up (RESERVED_PIDS), so the guest's threads must have ids above that to get them back.
    std::vector<std::string> argv = {kHijackd, "run",    "--backend", GetParam(), "--quiet",
                                     "--contain", "none", "--policy",  policy,     "--",
                                     kGuest,      "reuse", allowed,     denied};
    constexpr long kSmallPidMax = 1024;
    if (geteuid() == 0 && SmallPidNamespaceWorks(kSmallPidMax)) {
      argv.push_back(std::to_string(2 * kSmallPidMax));
      argv.insert(argv.begin(), {"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "/bin/sh",
                                 "-c",
                                 "echo " + std::to_string(kSmallPidMax) +
                                     " > /proc/sys/kernel/pid_max && echo 400 > "
                                     "/proc/sys/kernel/ns_last_pid && \"$@\"; exit $?",
                                 "sh"});
    } else {
      argv.push_back(std::to_string(2 * pid_max));
    }
    auto r = RunProcess(argv, ProcessOptions{.env_add = {}, .stdin_data = "",
                                             .deadline = std::chrono::seconds(240)});
    ASSERT_THAT(r.out, HasSubstr("had a thread's id")) << r.out << r.err;
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr(" 0 opened, 0 other"));
    EXPECT_EQ(ReadFile(allowed), "ALLOWED");
    EXPECT_EQ(ReadFile(denied), "DENIED");

    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(main: (\d+))")));
    const long main_pid = std::stol(m[1]);
    std::set<long> threads;
    ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(threads:([ \d]+))")));
    std::istringstream ids(m[1].str());
    for (long t; ids >> t;) {
      threads.insert(t);
    }
    ASSERT_EQ(threads.size(), 64u);
    // The threads' calls name the guest's main process; each child's call names the child
    // (its pid is its tid), including the child that has a dead thread's id.
    std::ifstream in(trace);
    size_t getppid = 0, getpgrp = 0, wrong = 0;
    std::string first_wrong;
    for (std::string line; std::getline(in, line);) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      ASSERT_FALSE(j.is_discarded()) << line;
      if (!j.contains("syscall")) {
        continue;  // a signal delivery or a process's end (ptrace), not a call
      }
      const long pid = j["pid"], tid = j["tid"];
      bool right = false;
      if (j["syscall"] == "getppid") {
        ++getppid;
        right = pid == main_pid && threads.count(tid) != 0;
      } else if (j["syscall"] == "getpgrp") {
        ++getpgrp;
        right = pid == tid;
        // No argument: nothing of the registers is shown.
        EXPECT_TRUE(j["args"].empty()) << line;
      }
      if (!right && wrong++ == 0) {
        first_wrong = line;
      }
    }
    EXPECT_EQ(getppid, 64u);
    // A trip round the id space: past the ids the run started with (400 or more in the small
    // namespace, whose pid_max is 1024), wrapped to 300, and up to a thread's id again.
    EXPECT_GT(getpgrp, 500u);
    EXPECT_EQ(wrong, 0u) << "first: " << first_wrong;
    std::printf("%s: %zu children, %zu records with the wrong process\n", GetParam().c_str(),
                getpgrp, wrong);
  }

  TempDir dir_;
};

TEST_P(IdentityTest, ReusedIdsInCheckModeJudgeEachChildByItsOwnDescriptor) { RunReuse("check"); }

TEST_P(IdentityTest, ReusedIdsInStrictModeNeverHandAChildItsParentsFile) {
  if (!BackendCanInjectFd(GetParam())) {
    GTEST_SKIP() << GetParam() << " cannot inject descriptors: strict mode is refused at launch";
  }
  RunReuse("strict");
}

INSTANTIATE_TEST_SUITE_P(Backends, IdentityTest, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

}  // namespace
}  // namespace hijack::testing
