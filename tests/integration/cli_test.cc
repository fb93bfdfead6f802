// The command lines of hijackd and hijackctl as a user types them, run as real programs: the
// version of each, `hijackd run CMD ARGS` without --, --log-level after the command name, a
// mistyped command, --quiet, --trace-format without --trace, the grammar of `hijackd check`,
// and `hijackctl health` against a real `hijackd serve`. Each checks the exit status and the
// words of the message, since those are what a script and a reader depend on.
#include <csignal>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/programs.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr const char* kGuest = HIJACK_TEST_GUEST;

TEST(CliTest, HijackdVersionNamesTheBuildAndWhatTheHostOffers) {
  auto r = RunProcess({kHijackd, "--version"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::StartsWith("hijackd 0."));
  EXPECT_THAT(r.out, HasSubstr("(git "));
  for (const char* feature : {"kernel", "backend notify", "backend ptrace", "backend ptrace-all",
                              "wait-killable-recv", "landlock", "agent"}) {
    EXPECT_THAT(r.out, HasSubstr("\n  " + std::string(feature) + " ")) << r.out;
  }
}

TEST(CliTest, HijackctlVersionNeedsNoDaemon) {
  auto r = RunProcess({kHijackctl, "--connect", "unix:/nonexistent/h.sock", "--version"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::StartsWith("hijackctl 0."));
  EXPECT_THAT(r.out, HasSubstr("(git "));
}

TEST(CliTest, RunTakesTheCommandWithoutDashDash) {
  // Everything from the command's name on is the command's, options included, as with env(1).
  auto r = RunProcess({kHijackd, "run", "--quiet", "/bin/echo", "-n", "-la", "--policy", "x"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "-la --policy x");
  auto dashed = RunProcess({kHijackd, "run", "--quiet", "--", "/bin/echo", "-n", "--quiet"});
  ASSERT_EQ(dashed.exit_code, 0) << dashed.err;
  EXPECT_EQ(dashed.out, "--quiet");
  // An option's value that looks like a command is still the option's.
  auto valued = RunProcess({kHijackd, "run", "--quiet", "--backend", "ptrace", "/bin/echo", "-n",
                            "ok"});
  ASSERT_EQ(valued.exit_code, 0) << valued.err;
  EXPECT_EQ(valued.out, "ok");
}

TEST(CliTest, RunWithoutACommandSaysSo) {
  auto r = RunProcess({kHijackd, "run", "--quiet"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("command is required"));
}

TEST(CliTest, LogLevelWorksAfterTheCommandName) {
  auto loud = RunProcess({kHijackd, "run", "--", kGuest, "exit", "0"});
  ASSERT_EQ(loud.exit_code, 0) << loud.err;
  EXPECT_THAT(loud.err, HasSubstr("hijackd: backend: "));
  auto after = RunProcess({kHijackd, "run", "--log-level", "error", "--", kGuest, "exit", "0"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_THAT(after.err, Not(HasSubstr("hijackd: backend: ")));
  auto before = RunProcess({kHijackd, "--log-level", "error", "run", "--", kGuest, "exit", "0"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_THAT(before.err, Not(HasSubstr("hijackd: backend: ")));
  auto bad = RunProcess({kHijackd, "run", "--log-level", "loud", "--", kGuest, "exit", "0"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("loud"));
}

TEST(CliTest, QuietPrintsNothingOfItsOwn) {
  auto r = RunProcess({kHijackd, "run", "--quiet", "--", kGuest, "exit", "3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.err, "");
  // --log-level says otherwise when given.
  auto told = RunProcess({kHijackd, "run", "--quiet", "--log-level", "info", "--", kGuest,
                          "exit", "0"});
  EXPECT_THAT(told.err, HasSubstr("hijackd: backend: "));
}

TEST(CliTest, AnUnknownCommandIsNamed) {
  auto r = RunProcess({kHijackd, "bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command \"bogus\""));
  EXPECT_THAT(r.err, HasSubstr("run, serve, check, modules"));
  auto after_option = RunProcess({kHijackd, "--log-level", "info", "rnu", "--", "/bin/true"});
  EXPECT_EQ(after_option.exit_code, 2);
  EXPECT_THAT(after_option.err, HasSubstr("unknown command \"rnu\""));
}

TEST(CliTest, TraceFormatWithoutTraceIsAnError) {
  auto r = RunProcess({kHijackd, "run", "--trace-format", "json", "--", kGuest, "exit", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--trace"));
}

TEST(CliTest, HelpOfACommandShowsItsOwnExamples) {
  auto run = RunProcess({kHijackd, "run", "--help"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_THAT(run.out, HasSubstr("hijackd run ls /"));
  EXPECT_THAT(run.out, Not(HasSubstr("hijackd serve --listen")));
  auto serve = RunProcess({kHijackd, "serve", "--help"});
  ASSERT_EQ(serve.exit_code, 0) << serve.err;
  EXPECT_THAT(serve.out, HasSubstr("hijackd serve --listen"));
  EXPECT_THAT(serve.out, Not(HasSubstr("hijackd run --trace")));
}

TEST(CliTest, CheckCountsInGoodGrammar) {
  TempDir dir;
  const std::string one = dir.Write("one.json", R"({"version": 1, "modules": [{"module": "deny",
      "syscalls": ["mkdir"], "errno": "EPERM"}]})");
  auto r = RunProcess({kHijackd, "check", one});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("valid, 1 module, intercepts 1 syscall\n"));
}

TEST(CliTest, HealthReportsTheDaemonsBuildAndHost) {
  TempDir dir;
  const std::string address = "unix:" + dir.path() + "/h.sock";
  BackgroundProcess serve({kHijackd, "serve", "--listen", address}, dir.path());
  ASSERT_TRUE(serve.WaitForOutput("listening on " + address, 60s)) << serve.Stderr();
  auto r = RunProcess({kHijackctl, "--connect", address, "health"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("status:   serving"));
  EXPECT_THAT(r.out, HasSubstr("version:  hijackd 0."));
  EXPECT_THAT(r.out, HasSubstr("(git "));
  EXPECT_THAT(r.out, HasSubstr("  landlock "));
  EXPECT_THAT(r.out, HasSubstr("  backend notify "));
  auto json = RunProcess({kHijackctl, "--connect", address, "--json", "health"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"git_revision\""));
  EXPECT_THAT(json.out, HasSubstr("\"features\""));
  auto stopped = serve.Stop(SIGTERM);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
}

}  // namespace
}  // namespace hijack::testing
