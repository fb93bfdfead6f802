// hijackd run against real guests: exit statuses, bad input, decisions, transparency.
// Every test that involves the supervisor is parameterized over the backends.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <map>
#include <sstream>

#include "tests/integration/test_paths.h"
#include "tests/support/backend_params.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/lighttpd_site.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class RunTest : public ::testing::TestWithParam<std::string> {
 protected:
  // hijackd run --backend <param> [extra...] -- command...
  ProcessResult Run(std::vector<std::string> extra, const std::vector<std::string>& command,
                    const ProcessOptions& opts = {}) {
    return HijackdRun{.hijackd = kHijackd, .backend = GetParam(), .options = std::move(extra)}
        .Run(command, opts);
  }
  TempDir dir_;
};

std::string DenyPolicy(const std::string& syscalls, const std::string& err) {
  return R"({"version": 1, "modules": [{"module": "deny", "syscalls": )" + syscalls +
         R"(, "errno": ")" + err + R"("}]})";
}

TEST_P(RunTest, GuestExitStatusPassesThrough) {
  EXPECT_EQ(Run({}, {kGuest, "exit", "0"}).exit_code, 0);
  EXPECT_EQ(Run({}, {kGuest, "exit", "7"}).exit_code, 7);
}

TEST_P(RunTest, DeathBySignalGives128PlusSignal) {
  auto r = Run({}, {kGuest, "raise", std::to_string(SIGTERM)});
  EXPECT_EQ(r.exit_code, 128 + SIGTERM) << r.err;
  r = Run({}, {kGuest, "raise", std::to_string(SIGKILL)});
  EXPECT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
}

TEST_P(RunTest, BasicGuestBehavesAsNatively) {
  auto native = RunProcess({kGuest, "basic"});
  auto hijacked = Run({}, {kGuest, "basic"});
  ASSERT_EQ(native.exit_code, 0) << native.err;
  EXPECT_EQ(hijacked.exit_code, 0) << hijacked.err;
  EXPECT_EQ(hijacked.out, native.out);
  EXPECT_THAT(hijacked.out, HasSubstr("loopback tcp: ok"));
  EXPECT_THAT(hijacked.out, HasSubstr("fork: child exit 3"));
  // The default policy is stats: the table names the calls the guest made.
  EXPECT_THAT(hijacked.err, HasSubstr("openat"));
  EXPECT_THAT(hijacked.err, HasSubstr("execve"));
}

TEST_P(RunTest, ArgumentsEnvironmentAndCwdReachTheGuest) {
  auto r = Run({"--quiet"},
               {"/bin/sh", "-c", "echo \"$1 $HIJACK_TEST_VAR $(pwd)\"", "sh", "first arg"},
               ProcessOptions{.env_add = {"HIJACK_TEST_VAR=value"},
                              .stdin_data = "",
                              .deadline = std::chrono::seconds(60)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
  EXPECT_EQ(r.out, std::string("first arg value ") + cwd + "\n");
}

TEST_P(RunTest, DenyMakesCatFailWithEaccesOnlyUnderThePolicy) {
  std::string policy = dir_.Write("deny.json", DenyPolicy(R"(["openat"])", "EACCES"));
  auto plain = Run({}, {"cat", "/etc/hostname"});
  EXPECT_EQ(plain.exit_code, 0) << plain.err;
  auto denied = Run({"--policy", policy}, {"cat", "/etc/hostname"});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_THAT(denied.err, HasSubstr("Permission denied"));
  EXPECT_EQ(denied.out, "");
}

TEST_P(RunTest, DenyGivesTheConfiguredErrnoToTheCall) {
  // The guest is linked dynamically, so deny a call the loader does not make.
  std::string policy = dir_.Write("deny.json", DenyPolicy(R"(["connect", "%ipc"])", "ENETDOWN"));
  auto r = Run({"--policy", policy, "--quiet"}, {kGuest, "basic"});
  EXPECT_THAT(r.out, HasSubstr("loopback tcp: ENETDOWN"));
  EXPECT_THAT(r.out, HasSubstr("threads: ok"));
}

TEST_P(RunTest, EveryDescendantIsWaitedFor) {
  std::string marker = dir_.path() + "/orphan-was-here";
  auto r = Run({"--quiet"}, {kGuest, "orphan", marker});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  struct stat st {};
  EXPECT_EQ(stat(marker.c_str(), &st), 0) << "hijackd returned before the orphan finished";
}

TEST_P(RunTest, SignalDuringANotifiedBlockingCall) {
  auto r = Run({"--quiet", "--intercept", "read"}, {kGuest, "signal"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("read without SA_RESTART: EINTR"));
  EXPECT_THAT(r.out, HasSubstr("read with SA_RESTART: restarted"));
  EXPECT_THAT(r.err, Not(HasSubstr("warn")));
}

TEST_P(RunTest, BadGuestPointerGetsEfaultAndNothingCrashes) {
  std::string policy = dir_.Write("trace.json", R"({"version": 1, "modules": [
      {"module": "trace", "syscalls": ["openat"], "output": ")" + dir_.path() + R"(/t.jsonl"},
      {"module": "stats"}]})");
  auto r = Run({"--policy", policy}, {kGuest, "badptr"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("open bad pointer: EFAULT"));
  EXPECT_THAT(ReadFile(dir_.path() + "/t.jsonl"), HasSubstr(R"("error":"EFAULT")"));
}

TEST_P(RunTest, ThreadsAndExecChainsStayUnderTheFilter) {
  std::string trace = dir_.path() + "/t.jsonl";
  auto r = Run({"--trace", trace, "--trace-format", "json", "--intercept", "getppid,execve",
                "--quiet"},
               {kGuest, "threads", "8", "50"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string t = ReadFile(trace);
  size_t getppids = 0;
  for (size_t pos = 0; (pos = t.find("\"getppid\"", pos)) != std::string::npos; ++pos) {
    ++getppids;
  }
  EXPECT_EQ(getppids, 8u * 50u);
}

TEST_P(RunTest, TraceTextReadsLikeStrace) {
  auto r = Run({"--trace", "-", "--intercept", "%file", "--quiet"}, {kGuest, "open", "/nonexistent"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("openat(AT_FDCWD, \"/nonexistent\", O_RDONLY|O_CLOEXEC) = "));
}

TEST_P(RunTest, SpawnChainThreeLevelsDeep) {
  auto r = Run({"--quiet"}, {kGuest, "spawn-chain", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("level 1"));
  EXPECT_THAT(r.out, HasSubstr("level 3"));
}

TEST_P(RunTest, MissingProgramIs127WithTheShellsMessage) {
  auto r = Run({}, {"/nonexistent/prog"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_EQ(r.err, "hijackd: /nonexistent/prog: No such file or directory\n");
  r = Run({}, {"hijack-no-such-command"});
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_EQ(r.err, "hijackd: hijack-no-such-command: command not found\n");
}

TEST_P(RunTest, NotExecutableIs126) {
  std::string script = dir_.Write("script.sh", "#!/bin/sh\necho hi\n", 0644);
  auto r = Run({}, {script});
  EXPECT_EQ(r.exit_code, 126);
  EXPECT_EQ(r.err, "hijackd: " + script + ": Permission denied\n");
  r = Run({}, {dir_.path()});
  EXPECT_EQ(r.exit_code, 126);
  EXPECT_EQ(r.err, "hijackd: " + dir_.path() + ": Is a directory\n");
}

struct BadPolicy {
  std::string json;
  std::string message;
};

TEST_P(RunTest, MalformedPoliciesExit2AndStartNothing) {
  const std::vector<BadPolicy> cases = {
      {R"({"version": 1, "modules": [{"module": "denny"}]})",
       "/modules/0/module: unknown module \"denny\""},
      {R"({"version": 1, "modules": [{"module": "deny", "syscalls": ["opne"], "errno": "EPERM"}]})",
       "/modules/0/syscalls/0: unknown syscall \"opne\""},
      {R"({"version": 1, "modules": [{"module": "deny", "syscalls": ["%fiel"]}]})",
       "/modules/0/syscalls/0: unknown syscall class \"%fiel\""},
      {R"({"version": 1, "modules": [{"module": "deny", "syscalls": ["open"], "errno": "EACESS"}]})",
       "/modules/0/errno: unknown errno \"EACESS\""},
      {R"({"version": 1, "modules": [{"module": "deny", "syscalls": "open", "erno": "EPERM"}]})",
       "/modules/0/erno: unknown key"},
      {R"({"version": 1, "modules": [{"module": "stats", "syscalls": 3}]})",
       "/modules/0/syscalls: expected a list of strings, got number"},
      {R"({"version": 2, "modules": []})", "/version: unsupported policy format 2"},
      {R"({"modules": []})", "/version: missing"},
      {R"({"version": 1, "modules": [}")", "parse error"},
      {R"({"version": 1, "modules": [{"module": "trace", "output": "/nonexistent/dir/t"}]})",
       "/modules/0/output: trace output /nonexistent/dir/t: ENOENT"},
  };
  const std::string marker = dir_.path() + "/guest-started";
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string file = dir_.Write("bad" + std::to_string(i) + ".json", cases[i].json);
    auto r = Run({"--policy", file}, {kGuest, "orphan", marker});
    EXPECT_EQ(r.exit_code, 2) << cases[i].json;
    EXPECT_THAT(r.err, HasSubstr(file + ": ")) << cases[i].json;
    EXPECT_THAT(r.err, HasSubstr(cases[i].message)) << cases[i].json;
  }
  struct stat st {};
  EXPECT_NE(stat(marker.c_str(), &st), 0) << "a guest was started under a bad policy";
  auto r = Run({"--policy", dir_.path() + "/missing.json"}, {kGuest, "exit", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("policy " + dir_.path() + "/missing.json: ENOENT"));
}

TEST_P(RunTest, RunsAsAnOrdinaryUser) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "switching to uid 65534 needs root; run as an ordinary user, the whole suite "
                    "already shows this";
  }
  // No root and no capabilities: seccomp with no_new_privs needs neither. The programs are
  // staged where that user can reach them, since the build tree may be in a 0700 home.
  StagedFiles staged({{kHijackd, "bin/hijackd"},
                      {kGuest, "bin/syscall_guest"},
                      {kAgentLibrary, "lib/libhijack-agent.so"}});
  auto r = RunProcess({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                       "--inh-caps=-all", staged.path("bin/hijackd"), "run", "--backend",
                       GetParam(), "--", staged.path("bin/syscall_guest"), "basic"},
                      ProcessOptions{.env_add = {"HIJACK_AGENT_LIBRARY=" +
                                                staged.path("lib/libhijack-agent.so")},
                                     .stdin_data = "",
                                     .deadline = std::chrono::seconds(120)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("threads: ok"));
}

// Counts of calls whose number does not depend on scheduling or memory layout.
std::map<std::string, long> ParseCounts(const std::string& table, int name_col, int calls_col) {
  std::map<std::string, long> counts;
  std::istringstream in(table);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string s; words >> s;) {
      w.push_back(s);
    }
    if (static_cast<int>(w.size()) <= std::max(calls_col, name_col < 0 ? 0 : name_col)) {
      continue;
    }
    std::string name = name_col < 0 ? w.back() : w[static_cast<size_t>(name_col)];
    char* end = nullptr;
    long n = std::strtol(w[static_cast<size_t>(calls_col)].c_str(), &end, 10);
    if (end != nullptr && *end == '\0') {
      counts[name] = n;
    }
  }
  return counts;
}

// The default run (under notify: with the agent, whose counts and the supervisor's add up) and
// a --no-agent run both count what `strace -f -c` counts. Under notify the default run preloads
// libhijack-agent.so, so strace runs the guest with the same LD_PRELOAD: the loader's calls for
// the library (openat, read, close) are the guest's calls either way. The ptrace backends never
// preload it.
TEST_P(RunTest, StatsCountsEqualStraceCounts) {
  const bool agent = KindOf(GetParam()) == BackendKind::kNotify;
  for (const bool no_agent : {false, true}) {
    SCOPED_TRACE(no_agent ? "--no-agent" : "default");
    const bool preloaded = agent && !no_agent;
    std::string strace_out = dir_.path() + "/strace.txt";
    std::vector<std::string> strace = {"/usr/bin/strace", "-f", "-c", "-o", strace_out};
    if (preloaded) {
      strace.insert(strace.end(), {"-E", std::string("LD_PRELOAD=") + kAgentLibrary});
    }
    strace.insert(strace.end(), {kGuest, "basic"});
    auto s = RunProcess(strace);
    ASSERT_EQ(s.exit_code, 0) << s.err;
    std::vector<std::string> extra;
    if (no_agent) {
      extra.push_back("--no-agent");
    }
    auto r = Run(extra, {kGuest, "basic"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto theirs = ParseCounts(ReadFile(strace_out), -1, 3);
    auto ours = ParseCounts(r.err, 0, 1);
    for (const char* name : {"execve", "openat", "read", "write", "close", "socket", "bind",
                             "listen", "connect", "accept4", "getsockname", "wait4", "getppid",
                             "clone3", "clone"}) {
      EXPECT_EQ(ours[name], theirs[name]) << name << "\nstrace:\n"
                                          << ReadFile(strace_out) << "\nhijackd:\n"
                                          << r.err;
    }
  }
}

TEST_P(RunTest, LighttpdServesUnderTraceAndStopsOnSigterm) {
  int port = PickFreePort();
  std::string conf = WriteLighttpdSite(dir_, port, "hello from lighttpd under hijack\n",
                                       "server.pid-file = \"" + dir_.path() + "/l.pid\"\n" +
                                           "mimetype.assign = (\".html\" => \"text/html\")\n");
  std::string trace = dir_.path() + "/trace.jsonl";
  std::string policy = dir_.Write("p.json", R"({"version": 1, "modules": [
      {"module": "trace", "syscalls": ["%file", "%net"], "output": ")" + trace + R"("},
      {"module": "stats"}]})");
  BackgroundProcess server(HijackdRun{.hijackd = kHijackd, .backend = GetParam(), .policy = policy}
                               .Argv({"/usr/sbin/lighttpd", "-D", "-f", conf}),
                           dir_.path());
  std::string resp = HttpGetWhenUp(port, "/index.html", std::chrono::seconds(60));
  EXPECT_THAT(resp, HasSubstr("200 OK"));
  EXPECT_THAT(resp, HasSubstr("hello from lighttpd under hijack"));
  auto stopped = server.Stop(SIGTERM);
  EXPECT_FALSE(stopped.timed_out);
  // Stopped cleanly: the forwarded SIGTERM reached lighttpd, which ran its own shutdown and
  // exited by itself. Its status is its own: lighttpd 1.4.69 exits 1 on some SIGTERMs natively
  // too (3 of 30 measured without hijackd), so both 0 and 1 are lighttpd's answers.
  EXPECT_THAT(ReadFile(dir_.path() + "/error.log"), HasSubstr("server stopped by"));
  EXPECT_TRUE(stopped.exit_code == 0 || stopped.exit_code == 1)
      << stopped.exit_code << "\n" << stopped.err;
  EXPECT_THAT(stopped.err, Not(HasSubstr("hijackd: cannot")));
  std::string t = ReadFile(trace);
  EXPECT_THAT(t, HasSubstr(R"("syscall":"accept4")"));
  EXPECT_THAT(t, HasSubstr(dir_.path() + "/www/index.html"));
  EXPECT_THAT(t, HasSubstr(R"("syscall":"bind")"));
  EXPECT_THAT(t, HasSubstr("\"port\":" + std::to_string(port)));
  EXPECT_THAT(stopped.err, HasSubstr("accept4"));  // the stats table at exit
}

INSTANTIATE_TEST_SUITE_P(Backends, RunTest, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

// Backend-independent: a kernel (or sandbox) without user notification.
TEST(RunWithoutNotify, MessageNamesThePtraceBackend) {
  auto r = HijackdRun{.hijackd = kHijackd,
                      .backend = std::string(BackendKindName(BackendKind::kNotify)),
                      .prefix = WithoutSeccomp()}
               .Run({kGuest, "exit", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--backend ptrace"));
}

TEST(RunUsage, MissingCommandIsAUsageError) {
  auto r = RunProcess({kHijackd, "run"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("command"));
}

}  // namespace
}  // namespace hijack::testing
