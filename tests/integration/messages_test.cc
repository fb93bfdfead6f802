// Messages that say what to do, read as a user reads them from real runs of hijackd: a launch
// that exec_guard or fs_guard ends names the module, the rule and the pattern to add (instead of
// a bare "Permission denied", exit 126); a denied call is logged with its module, its rule and its
// decoded path even when no module asked for arguments; a denial of a call the kernel would have
// failed with ENOENT anyway is counted apart; `hijackd check POLICY -- PROGRAM` warns about allow
// lists that omit the program, its libraries or hijackd's agent; NO_COLOR and COLUMNS are obeyed.
#include <pty.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sstream>

#include "tests/integration/test_paths.h"
#include "tests/support/backend_params.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Real(const std::string& path) {
  char real[PATH_MAX];
  if (realpath(path.c_str(), real) == nullptr) {
    ADD_FAILURE() << "realpath " << path;
    return path;
  }
  return real;
}

// A JSON string literal of `s` (the paths here have no quotes or backslashes).
std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

class MessagesTest : public ::testing::TestWithParam<std::string> {
 protected:
  ProcessResult Run(const std::string& modules, const std::vector<std::string>& command) {
    HijackdRun run{.hijackd = kHijackd, .backend = GetParam()};
    run.policy = WritePolicy(dir_, "policy.json", modules);
    return run.Run(command);
  }
  TempDir dir_;
  const std::string guest_ = Real(kGuest);
};

TEST_P(MessagesTest, ExecGuardDenyingTheLaunchNamesTheModuleRuleAndPattern) {
  auto r = Run(R"({"module": "exec_guard", "allow": ["/nonexistent/**"], "log": "none"})",
               {guest_, "exit", "0"});
  EXPECT_EQ(r.exit_code, 126) << r.err;
  EXPECT_THAT(r.err, HasSubstr("exec_guard denied execve(" + Quoted(guest_) +
                               "): no allow pattern matches"))
      << r.err;
  EXPECT_THAT(r.err, HasSubstr("add " + Quoted(guest_) + " to exec_guard.allow")) << r.err;
  // The bare errno, which reads like a missing exec bit, is no longer the message.
  EXPECT_THAT(r.err, Not(HasSubstr(": Permission denied"))) << r.err;
}

TEST_P(MessagesTest, ExecGuardDenyPatternIsNamedByItsIndex) {
  auto r = Run(R"({"module": "exec_guard", "deny": ["/nonexistent", )" + Quoted(guest_) +
                   R"(], "log": "none"})",
               {guest_, "exit", "0"});
  EXPECT_EQ(r.exit_code, 126) << r.err;
  EXPECT_THAT(r.err, HasSubstr("exec_guard denied execve(" + Quoted(guest_) + "): deny[1] " +
                               Quoted(guest_)))
      << r.err;
  EXPECT_THAT(r.err, HasSubstr("remove " + Quoted(guest_) + " from exec_guard.deny")) << r.err;
}

TEST_P(MessagesTest, FsGuardDenyingTheLaunchNamesTheModuleRuleAndPattern) {
  auto r = Run(R"({"module": "fs_guard", "rules": [{"allow": ["/nonexistent/**"]}]})",
               {guest_, "exit", "0"});
  EXPECT_EQ(r.exit_code, 126) << r.err;
  EXPECT_THAT(r.err, HasSubstr("fs_guard denied execve(" + Quoted(guest_) +
                               "): no allow pattern matches (default deny, exec access); add " +
                               Quoted(guest_) + " to fs_guard's allow patterns"))
      << r.err;
}

TEST_P(MessagesTest, DeniedCallNamesModuleRuleAndDecodedPath) {
  const std::string secret = Real(dir_.path()) + "/secret";
  dir_.Write("secret", "s\n");
  auto r = Run(R"({"module": "fs_guard", "deny": [)" + Quoted(secret) + "]}",
               {guest_, "open", secret});
  EXPECT_EQ(r.out, "open: EACCES\n") << r.err;
  EXPECT_THAT(r.err, HasSubstr("hijackd: fs_guard denied openat(" + Quoted(secret) +
                               "): deny pattern " + Quoted(secret) + " (rule 0, read access)"))
      << r.err;
  EXPECT_THAT(r.err, HasSubstr("hijackd: denials: 1 call denied by the policy (fs_guard 1)"))
      << r.err;
}

TEST_P(MessagesTest, DenialWithoutAReasonStillShowsTheDecodedPath) {
  // The deny module reads no argument and no trace module is loaded: the path shown is the
  // supervisor's decoding of the denied call.
  const std::string made = Real(dir_.path()) + "/made";
  auto r = Run(R"({"module": "deny", "syscalls": ["mkdir", "mkdirat"], "errno": "EPERM"})",
               {"/bin/mkdir", made});
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, ::testing::ContainsRegex("deny denied mkdir(at)?\\(.*\"" + made +
                                              "\".*\\) with EPERM"))
      << r.err;
}

TEST_P(MessagesTest, DenialOfAMissingNameIsCountedApart) {
  const std::string dir = Real(dir_.path());
  dir_.Write("present", "p\n");
  // Each one is said at debug level; the summary counts them at any level.
  HijackdRun run{.hijackd = kHijackd, .backend = GetParam(), .options = {"--log-level", "debug"}};
  run.policy = WritePolicy(dir_, "policy.json",
                           R"({"module": "fs_guard", "deny": [)" + Quoted(dir + "/**") + "]}");
  auto r = run.Run({"/bin/cat", dir + "/present", dir + "/missing", dir + "/none/x"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("fs_guard denied openat(" + Quoted(dir + "/missing") +
                               "): deny pattern " + Quoted(dir + "/**") +
                               " (rule 0, read access) (the call would have failed with ENOENT "
                               "anyway)"))
      << r.err;
  // dir/none/x: no directory on the way, the kernel's ENOENT as fs_guard answers it.
  EXPECT_THAT(r.err, HasSubstr("fs_guard denied openat(" + Quoted(dir + "/none/x") +
                               "): the path does not resolve for the guest (the call would have "
                               "failed with ENOENT anyway)"))
      << r.err;
  // Only the present file was denied; every name cat (and its locale files) did not find is
  // counted apart.
  EXPECT_THAT(r.err, HasSubstr("hijackd: denials: 1 call denied by the policy (fs_guard 1); "))
      << r.err;
  EXPECT_THAT(r.err, ::testing::ContainsRegex("denied calls? would have failed anyway \\(ENOENT "
                                              "[0-9]+\\)"))
      << r.err;
}

TEST_P(MessagesTest, DeniedAgentLibraryIsNamed) {
  if (GetParam() != "notify") {
    GTEST_SKIP() << "only the notify backend preloads the agent";
  }
  const std::string agent = Real(kAgentLibrary);
  auto r = Run(R"({"module": "fs_guard", "deny": [)" + Quoted(agent) + "]}",
               {guest_, "exit", "0"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("fs_guard denied openat(" + Quoted(agent) + ")")) << r.err;
  EXPECT_THAT(r.err, HasSubstr("the guest runs without hijackd's agent")) << r.err;
  EXPECT_THAT(r.err, HasSubstr("the policy must allow " + Quoted(agent) + " to be read")) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Backends, MessagesTest, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

class CheckTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(CheckTest, WarnsWhenAllowListsOmitTheProgramItsLibrariesOrTheAgent) {
  const std::string policy = WritePolicy(
      dir_, "p.json",
      R"({"module": "fs_guard", "rules": [{"allow": ["/nonexistent/**"]}]},
         {"module": "exec_guard", "allow": ["/nonexistent/**"], "log": "none"})");
  auto r = RunProcess({kHijackd, "check", policy, "--", kGuest});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string guest = Real(kGuest);
  EXPECT_THAT(r.err, HasSubstr("/modules/0 (fs_guard) denies the program " + Quoted(guest) +
                               ": no allow pattern matches (default deny, exec access); add " +
                               Quoted(guest) + " to fs_guard's allow patterns"))
      << r.err;
  EXPECT_THAT(r.err, HasSubstr("/modules/1 (exec_guard) denies the program " + Quoted(guest)))
      << r.err;
  EXPECT_THAT(r.err, HasSubstr("add " + Quoted(guest) + " to exec_guard.allow")) << r.err;
  EXPECT_THAT(r.err, HasSubstr("(fs_guard) denies a library it needs (libc.so.6)")) << r.err;
  // libc names the loader, which the kernel mapped and which never opens itself.
  EXPECT_THAT(r.err, Not(HasSubstr("ld-linux"))) << r.err;
  EXPECT_THAT(r.err, HasSubstr("(fs_guard) denies hijackd's agent library (preloaded under the "
                               "notify backend) " +
                               Quoted(Real(kAgentLibrary))))
      << r.err;
}

TEST_F(CheckTest, NoWarningWhenTheAllowListsCoverEverything) {
  const std::string policy = WritePolicy(
      dir_, "p.json",
      R"({"module": "fs_guard", "rules": [{"allow": ["/**"]}]},
         {"module": "exec_guard", "allow": ["/**"], "log": "none"})");
  auto r = RunProcess({kHijackd, "check", policy, "--", kGuest});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("denies"))) << r.err;
}

TEST_F(CheckTest, AProgramThatCannotBeFoundIsAnError) {
  const std::string policy =
      WritePolicy(dir_, "p.json", R"({"module": "exec_guard", "allow": ["/**"]})");
  auto r = RunProcess({kHijackd, "check", policy, "--", "no-such-program-here"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no-such-program-here: command not found")) << r.err;
}

// Runs `argv` with its stdout and stderr on a new pseudo-terminal of `columns` columns and
// returns what it wrote there, the way a user's terminal would show it.
std::string RunOnTerminal(const std::vector<std::string>& argv,
                          const std::vector<std::string>& env_add, unsigned short columns) {
  winsize ws{};
  ws.ws_row = 50;
  ws.ws_col = columns;
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
  if (pid < 0) {
    ADD_FAILURE() << "forkpty";
    return "";
  }
  if (pid == 0) {
    unsetenv("NO_COLOR");
    unsetenv("COLUMNS");
    setenv("TERM", "xterm", 1);  // spdlog colours only terminals whose TERM it knows
    for (const std::string& e : env_add) {
      putenv(const_cast<char*>(e.c_str()));
    }
    std::vector<char*> args;
    for (const std::string& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) {
      break;  // EIO once the child closed the terminal's last other end
    }
    out.append(buf, static_cast<size_t>(n));
  }
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  return out;
}

// A policy whose check prints a warning (fs_guard check mode has a caveat) and long rows.
std::string WarningPolicy(const TempDir& dir) {
  return WritePolicy(dir, "p.json", R"({"module": "fs_guard", "deny": ["/etc/shadow"]})");
}

TEST_F(CheckTest, NoColorRemovesTheEscapesOnATerminal) {
  const std::string policy = WarningPolicy(dir_);
  const std::string coloured = RunOnTerminal({kHijackd, "check", policy}, {}, 200);
  ASSERT_THAT(coloured, HasSubstr("check mode races")) << coloured;
  EXPECT_THAT(coloured, HasSubstr("\x1b[")) << "a terminal gets colour unless NO_COLOR is set";
  const std::string plain = RunOnTerminal({kHijackd, "check", policy}, {"NO_COLOR=1"}, 200);
  ASSERT_THAT(plain, HasSubstr("check mode races")) << plain;
  EXPECT_THAT(plain, Not(HasSubstr("\x1b["))) << plain;
  // An empty NO_COLOR is not a request (no-color.org).
  const std::string empty = RunOnTerminal({kHijackd, "check", policy}, {"NO_COLOR="}, 200);
  EXPECT_THAT(empty, HasSubstr("\x1b[")) << empty;
}

// The longest line of `text`, by bytes, terminal line ends ("\r\n") and all.
size_t LongestLine(const std::string& text) {
  size_t longest = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    longest = std::max(longest, line.size());
  }
  return longest;
}

TEST_F(CheckTest, TablesFitTheTerminalWidth) {
  const std::string policy = WarningPolicy(dir_);
  // The rows of the protection table are longer than 60 columns when nothing fits them.
  auto wide = RunProcess({kHijackd, "check", policy});
  ASSERT_EQ(wide.exit_code, 0) << wide.err;
  ASSERT_GT(LongestLine(wide.out), 60u) << wide.out;
  const std::string narrow = RunOnTerminal({kHijackd, "check", policy}, {"NO_COLOR=1"}, 60);
  ASSERT_THAT(narrow, HasSubstr("protection on this kernel:")) << narrow;
  std::istringstream in(narrow);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("hijackd: ")) {
      continue;  // log lines are messages, not table rows
    }
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    EXPECT_LE(line.size(), 60u) << line;
  }
  // COLUMNS sets the width even for a pipe.
  ProcessOptions seventy;
  seventy.env_add = {"COLUMNS=70"};
  auto columns = RunProcess({kHijackd, "check", policy}, seventy);
  ASSERT_EQ(columns.exit_code, 0) << columns.err;
  EXPECT_LE(LongestLine(columns.out), 70u) << columns.out;
  // Wrapped, not cut: every word of the wide output is still there.
  EXPECT_THAT(columns.out, HasSubstr("backends on this kernel:"));
}

}  // namespace
}  // namespace hijack::testing
