// hijackd run --backend auto / ptrace where seccomp is partly or wholly unavailable: which
// backend is chosen, that it says so once, and that decisions still hold.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "hijack/backend_kind.h"
#include "tests/integration/test_paths.h"
#include "tests/support/hijackd_run.h"
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

// hijackd run --backend auto --quiet, directly or under `prefix`.
HijackdRun Auto(std::vector<std::string> prefix = {}) {
  // --quiet keeps the report out; --log-level info keeps the backend line in.
  return {.hijackd = kHijackd,
          .backend = "auto",
          .quiet = true,
          .options = {"--log-level", "info"},
          .prefix = std::move(prefix)};
}

TEST(PtraceRunTest, AutoPrefersNotifyAndSaysSoOnce) {
  auto r = Auto().Run({kGuest, "exit", "3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(Count(r.err, "backend: notify"), 1) << r.err;
}

// WithoutSeccomp makes every seccomp(2) call fail with EINVAL: no user notification, no
// SECCOMP_RET_TRACE, no filter at all. auto falls back to ptrace-all, which needs none.
TEST(PtraceRunTest, AutoFallsBackToPtraceAllWithoutSeccomp) {
  auto r = Auto(WithoutSeccomp()).Run({kGuest, "exit", "3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(Count(r.err, "backend: ptrace-all"), 1) << r.err;

  TempDir dir;
  HijackdRun deny = Auto(WithoutSeccomp());
  deny.quiet = false;
  deny.policy = WritePolicy(
      dir, "deny.json", R"({"module": "deny", "syscalls": ["openat"], "errno": "EACCES"})");
  auto denied = deny.Run({"cat", "/etc/hostname"});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_THAT(denied.err, HasSubstr("Permission denied"));
  EXPECT_EQ(denied.out, "");
}

TEST(PtraceRunTest, ExplicitPtraceWithoutSeccompNamesPtraceAll) {
  HijackdRun ptrace = Auto(WithoutSeccomp());
  ptrace.backend = BackendKindName(BackendKind::kPtrace);
  ptrace.quiet = false;
  auto r = ptrace.Run({kGuest, "exit", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("SECCOMP_RET_TRACE"));
  EXPECT_THAT(r.err, HasSubstr("--backend ptrace-all"));
}

// What ptrace adds to a trace: the results of calls that ran (notify cannot know them).
TEST(PtraceRunTest, TraceShowsResultsOfCallsThatRan) {
  for (const BackendKind kind : {BackendKind::kPtrace, BackendKind::kPtraceAll}) {
    const std::string backend(BackendKindName(kind));
    auto r = HijackdRun{.hijackd = kHijackd,
                        .backend = backend,
                        .quiet = true,
                        .options = {"--trace", "-", "--intercept", "openat"}}
                 .Run({kGuest, "open", "/etc/hostname"});
    EXPECT_EQ(r.exit_code, 0) << backend << "\n" << r.err;
    // The descriptor number depends on what the test runner left open; that it is one matters.
    EXPECT_THAT(r.err, ContainsRegex("\"/etc/hostname\", O_RDONLY\\|O_CLOEXEC\\) = [0-9]+ "))
        << backend;
    EXPECT_THAT(r.err, Not(HasSubstr("warn"))) << backend;
  }
}

}  // namespace
}  // namespace hijack::testing
