// hijackd run --backend auto / ptrace where seccomp is partly or wholly unavailable: which
// backend is chosen, that it says so once, and that decisions still hold.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/integration/test_paths.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t pos = 0; (pos = text.find(what, pos)) != std::string::npos; pos += what.size()) {
    ++n;
  }
  return n;
}

TEST(PtraceRunTest, AutoPrefersNotifyAndSaysSoOnce) {
  // --quiet keeps the report out; --log-level info keeps the backend line in.
  auto r = RunProcess({kHijackd, "run", "--backend", "auto", "--quiet", "--log-level", "info",
                       "--", kGuest, "exit", "3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(Count(r.err, "backend: notify"), 1) << r.err;
}

// no_notify_wrapper makes every seccomp(2) call fail with EINVAL: no user notification, no
// SECCOMP_RET_TRACE, no filter at all. auto falls back to ptrace-all, which needs none.
TEST(PtraceRunTest, AutoFallsBackToPtraceAllWithoutSeccomp) {
  auto r = RunProcess({kNoNotifyWrapper, kHijackd, "run", "--backend", "auto", "--quiet",
                       "--log-level", "info", "--", kGuest, "exit", "3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(Count(r.err, "backend: ptrace-all"), 1) << r.err;

  TempDir dir;
  std::string policy = dir.Write("deny.json", R"({"version": 1, "modules": [
      {"module": "deny", "syscalls": ["openat"], "errno": "EACCES"}]})");
  auto denied = RunProcess({kNoNotifyWrapper, kHijackd, "run", "--backend", "auto", "--policy",
                            policy, "--", "cat", "/etc/hostname"});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_THAT(denied.err, HasSubstr("Permission denied"));
  EXPECT_EQ(denied.out, "");
}

TEST(PtraceRunTest, ExplicitPtraceWithoutSeccompNamesPtraceAll) {
  auto r = RunProcess({kNoNotifyWrapper, kHijackd, "run", "--backend", "ptrace", "--", kGuest,
                       "exit", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("SECCOMP_RET_TRACE"));
  EXPECT_THAT(r.err, HasSubstr("--backend ptrace-all"));
}

// What ptrace adds to a trace: the results of calls that ran (notify cannot know them).
TEST(PtraceRunTest, TraceShowsResultsOfCallsThatRan) {
  for (const char* backend : {"ptrace", "ptrace-all"}) {
    auto r = RunProcess({kHijackd, "run", "--backend", backend, "--trace", "-", "--intercept",
                         "openat", "--quiet", "--", kGuest, "open", "/etc/hostname"});
    EXPECT_EQ(r.exit_code, 0) << backend << "\n" << r.err;
    // The descriptor number depends on what the test runner left open; that it is one matters.
    EXPECT_THAT(r.err, ContainsRegex("\"/etc/hostname\", O_RDONLY\\|O_CLOEXEC\\) = [0-9]+ "))
        << backend;
    EXPECT_THAT(r.err, Not(HasSubstr("warn"))) << backend;
  }
}

}  // namespace
}  // namespace hijack::testing
