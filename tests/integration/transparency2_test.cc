// The second transparency suite: thread cancellation through the agent's wrappers and what a
// guest sees of the agent in its environment and descriptor table. Each case runs the same
// program natively and under every backend (notify with the agent, with the agent and a stats
// policy so that the wrapped calls take the trampoline, notify --no-agent, ptrace, ptrace-all)
// and compares how it ended, its stdout and its stderr.
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/backend_params.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

constexpr const char* kHijackd = HIJACK_TEST_HIJACKD;
constexpr const char* kGuest = HIJACK_TEST_TRANSPARENCY2_GUEST;
constexpr const char* kAgentLibrary = HIJACK_TEST_AGENT_LIBRARY;

// Every call the agent wraps that pthreads(7) lists as a cancellation point and that can block
// without end.
const std::vector<std::string> kCancellable = {
    "read", "write",  "readv",   "poll",       "nanosleep", "clock_nanosleep",
    "accept", "recv", "recvmsg", "epoll_wait", "open"};

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) {
    return "exited(" + std::to_string(WEXITSTATUS(status)) + ")";
  }
  if (WIFSIGNALED(status)) {
    return std::string("killed by ") + sigabbrev_np(WTERMSIG(status));
  }
  return "status " + std::to_string(status);
}

class Transparency2Test : public ::testing::TestWithParam<const char*> {
 protected:
  // hijackd run for this parameter: "notify" is the default (the agent, no policy: the wrapped
  // calls are direct); "notify-stats" adds a stats policy, under which every wrapped call is
  // counted and timed and made from the trampoline.
  // `policy`, when given, replaces the parameter's own.
  std::vector<std::string> HijackdArgv(const std::vector<std::string>& program,
                                       std::optional<std::string> policy = std::nullopt) {
    const std::string mode = GetParam();
    HijackdRun run{.hijackd = kHijackd, .backend = mode, .quiet = true};
    if (mode == "notify" || mode == "notify-stats") {
      run.backend = "notify";
      run.options = {"--agent"};
    } else if (mode == "no-agent") {
      run.backend = "notify";
      run.options = {"--no-agent"};
    }
    if (mode == "notify-stats") {
      run.policy = dir_.Write("stats.json", R"({"version": 1, "modules": [{"module": "stats"}]})");
    }
    if (policy) {
      run.policy = policy;
    }
    return run.Argv(program);
  }

  ProcessResult RunBoth(const std::vector<std::string>& program, ProcessResult* native,
                        const std::vector<std::string>& env = {}) {
    ProcessOptions options;
    options.env_add = env;
    options.env_add.push_back(std::string("HIJACK_AGENT_LIBRARY=") + kAgentLibrary);
    options.deadline = std::chrono::seconds(90);
    *native = RunProcess(program, options);
    return RunProcess(HijackdArgv(program), options);
  }

  void ExpectSameAsNative(const std::vector<std::string>& program) {
    ProcessResult want;
    const ProcessResult got = RunBoth(program, &want);
    ASSERT_FALSE(want.timed_out);
    ASSERT_FALSE(got.timed_out) << got.err;
    EXPECT_EQ(DescribeStatus(got.wait_status), DescribeStatus(want.wait_status)) << got.err;
    EXPECT_EQ(got.out, want.out);
    EXPECT_EQ(got.err, want.err);
  }

  TempDir dir_;
};

// A thread blocked in each call is cancelled and joined within the guest's deadline, and its
// cleanup handler and the destructors on its stack run (the unwinder got through the agent and
// the trampoline).
TEST_P(Transparency2Test, BlockedCallsAreCancelled) {
  std::vector<std::string> program = {kGuest, "cancel"};
  program.insert(program.end(), kCancellable.begin(), kCancellable.end());
  ProcessResult native;
  const ProcessResult got = RunBoth(program, &native);
  ASSERT_EQ(native.exit_code, 0) << native.out << native.err;
  for (const auto& call : kCancellable) {
    EXPECT_THAT(native.out, ::testing::HasSubstr(call + ": blocked, cancelled, cleanup ran, "
                                                        "destructor ran\n"));
  }
  ASSERT_FALSE(got.timed_out) << got.err;
  EXPECT_EQ(DescribeStatus(got.wait_status), DescribeStatus(native.wait_status)) << got.err;
  EXPECT_EQ(got.out, native.out);
  EXPECT_EQ(got.err, native.err);
}

// A cancel the only thread sent itself acts at its next cancellation point.
TEST_P(Transparency2Test, SelfCancelActsAtTheNextCall) {
  ExpectSameAsNative({kGuest, "self-cancel"});
}

// The lines of `out` without the traces the agent leaves by design (README, "What a guest can
// observe"): the empty entries at the end of /proc/self/environ and the page's descriptor.
std::string WithoutAgentTraces(const std::string& out, int* empty_runs, int* page_fds) {
  std::string kept;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    end = end == std::string::npos ? out.size() : end + 1;
    const std::string line = out.substr(start, end - start);
    start = end;
    if (line.starts_with("/proc/self/environ ends in ")) {
      ++*empty_runs;
      continue;
    }
    if (line.starts_with("fd ") && line.find("/memfd:hijack") != std::string::npos) {
      ++*page_fds;
      continue;
    }
    kept += line;
  }
  return kept;
}

// environ, getenv, /proc/self/environ and the descriptor table, of the guest and of a child it
// execs, with and without an LD_PRELOAD of the guest's own.
TEST_P(Transparency2Test, EnvironmentAndDescriptorsAreAsNative) {
  std::vector<std::vector<std::string>> envs = {{}};
#if !defined(HIJACK_SANITIZED_BUILD)
  // A guest LD_PRELOAD of its own. Not in a sanitizer build: there the guest links ASan, whose
  // runtime refuses to start behind any preloaded library ("ASan runtime does not come first").
  envs.push_back({"LD_PRELOAD=libm.so.6"});
#endif
  for (const std::vector<std::string>& env : envs) {
    SCOPED_TRACE(env.empty() ? "no LD_PRELOAD" : env[0]);
    ProcessResult native;
    const ProcessResult got = RunBoth({kGuest, "visible", kGuest, "visible"}, &native, env);
    ASSERT_EQ(native.exit_code, 0) << native.err;
    ASSERT_EQ(got.exit_code, 0) << got.err;
    int native_empty = 0, native_pages = 0, empty = 0, pages = 0;
    const std::string want = WithoutAgentTraces(native.out, &native_empty, &native_pages);
    EXPECT_EQ(native_empty + native_pages, 0) << native.out;
    EXPECT_EQ(WithoutAgentTraces(got.out, &empty, &pages), want);
    if (std::string(GetParam()).starts_with("notify")) {
      // Both images had the agent: each shows the page once and the empty tail once.
      EXPECT_EQ(pages, 2) << got.out;
      EXPECT_EQ(empty, 2) << got.out;
    } else {
      EXPECT_EQ(pages + empty, 0) << got.out;
    }
    std::printf("%s under %s:\n%s", env.empty() ? "no LD_PRELOAD" : env[0].c_str(), GetParam(),
                got.out.c_str());
  }
}

// A child that a raw execve starts without the agent is supervised all the same: a denied call
// stays denied.
TEST_P(Transparency2Test, RawExecWithoutTheAgentIsStillSupervised) {
  const std::string target = dir_.path() + "/made";
  const std::string policy = dir_.Write("deny.json", R"({"version": 1, "modules": [
      {"module": "deny", "syscalls": ["mkdir", "mkdirat"]}]})");
  const ProcessResult got =
      RunProcess(HijackdArgv({kGuest, "raw-exec", "/bin/mkdir", target}, policy));
  EXPECT_NE(got.exit_code, 0) << got.err;
  EXPECT_THAT(got.err, ::testing::HasSubstr("Operation not permitted"));
  EXPECT_NE(access(target.c_str(), F_OK), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, Transparency2Test,
                         ::testing::Values("notify", "notify-stats", "no-agent", "ptrace",
                                           "ptrace-all"),
                         BackendTestName{});

}  // namespace
}  // namespace hijack::testing
