// hijackd strace, read as a strace user reads it: the same commands under the real strace(1) -f
// and under `hijackd strace -f` give the same calls with the same results and errnos line by
// line (the file calls of cat of a missing file), the same signal-delivery and exit lines (each
// kind of siginfo, tests/guests/strace_guest.cc) and the same -c error counts (ls of a missing
// path and of /), on the backends that see results and signals (ptrace, ptrace-all); each option does what
// strace's does; strace options hijackd does not implement are refused by name (exit 2); on the
// notify backend the trace shows what it can know and says once why a result is "?".
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/integration/test_paths.h"
#include "tests/support/backend_params.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr const char* kStrace = "/usr/bin/strace";
constexpr const char* kStraceGuest = HIJACK_TEST_STRACE_GUEST;

// gtest's ContainsRegex is POSIX's on Linux, without \d or \n: ECMAScript regexes, with ^ and $
// at line ends, read as the expectations are written.
MATCHER_P(ContainsRegex, pattern, "contains regular expression " + std::string(pattern)) {
  return std::regex_search(arg, std::regex(pattern, std::regex::ECMAScript | std::regex::multiline));
}

// One call line of strace's output, as the comparison sees it: name, first string argument,
// result and errno; nullopt for other lines (exit and signal lines).
struct Call {
  std::string name;
  std::string first_string;
  std::string result;
  std::string err;
  bool operator==(const Call&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Call& c) {
  return os << c.name << "(\"" << c.first_string << "\") = " << c.result << " " << c.err;
}

std::optional<Call> ParseCall(std::string line) {
  // The pid prefix of -f -o FILE ("1234  ") or of stderr ("[pid  1234] ").
  static const std::regex prefix(R"(^(\[pid +\d+\] |\d+ +))");
  line = std::regex_replace(line, prefix, "");
  static const std::regex call(R"(^(\w+)\((.*)\) += (-?\d+|\?|0x[0-9a-f]+)(?: (E[A-Z0-9]+))?)");
  std::smatch m;
  if (!std::regex_search(line, m, call)) {
    return std::nullopt;
  }
  Call c{m[1], "", m[3], m[4]};
  static const std::regex quoted(R"re("([^"]*)")re");
  const std::string args = m[2];
  std::smatch q;
  if (std::regex_search(args, q, quoted)) {
    c.first_string = q[1];
  }
  return c;
}

// The calls of a trace from the guest's execve on: what hijackd's launcher does before it is
// not the guest's.
std::vector<Call> CallsFromExec(const std::string& text) {
  std::vector<Call> calls;
  for (const std::string& line : Lines(text)) {
    std::optional<Call> c = ParseCall(line);
    if (c && (c->name == "execve" || !calls.empty())) {
      calls.push_back(*c);
    }
  }
  return calls;
}

// strace -c's rows: syscall -> {calls, errors}.
std::map<std::string, std::pair<uint64_t, uint64_t>> SummaryRows(const std::string& text) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> rows;
  static const std::regex row(R"(^ *[\d.]+ +[\d.]+ +\d+ +(\d+) +(\d+)? +(\w+)$)");
  for (const std::string& line : Lines(text)) {
    std::smatch m;
    if (std::regex_match(line, m, row) && m[3] != "total") {
      rows[m[3]] = {std::stoull(m[1]), m[2].matched ? std::stoull(m[2]) : 0};
    }
  }
  return rows;
}

class StraceCompareTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (access(kStrace, X_OK) != 0) {
      GTEST_SKIP() << kStrace << " is not installed (scripts/install-deps installs it)";
    }
  }
  TempDir dir_;
};

TEST_P(StraceCompareTest, FileCallsOfCatMatchStraceLineByLine) {
  const std::string missing = dir_.path() + "/missing";
  const std::string ours = dir_.path() + "/hijackd.txt";
  const std::string theirs = dir_.path() + "/strace.txt";
  auto h = HijackdStrace(kHijackd,
                         GetParam(), {"-f", "-e", "trace=%file", "-o", ours}, {"cat", missing});
  EXPECT_EQ(h.exit_code, 1) << h.err;
  auto s = RunProcess({kStrace, "-f", "-e", "trace=%file", "-o", theirs, "cat", missing});
  ASSERT_EQ(s.exit_code, 1) << s.err;
  const std::vector<Call> expected = CallsFromExec(ReadFile(theirs));
  ASSERT_GE(expected.size(), 3u) << ReadFile(theirs);
  EXPECT_EQ(CallsFromExec(ReadFile(ours)), expected) << "hijackd:\n"
                                                     << ReadFile(ours) << "strace:\n"
                                                     << ReadFile(theirs);
  EXPECT_THAT(expected, Contains(Call{"openat", missing, "-1", "ENOENT"}));
  EXPECT_THAT(ReadFile(ours), ContainsRegex(R"(\n\d+ +\+\+\+ exited with 1 \+\+\+\n$)"));
}

TEST_P(StraceCompareTest, SummaryErrorCountsMatchStrace) {
  const std::string missing = dir_.path() + "/missing";
  const std::string ours = dir_.path() + "/hijackd.txt";
  const std::string theirs = dir_.path() + "/strace.txt";
  auto h = HijackdStrace(kHijackd, GetParam(), {"-f", "-c", "-o", ours}, {"ls", missing, "/"});
  EXPECT_EQ(h.exit_code, 2) << h.err;
  auto s = RunProcess({kStrace, "-f", "-c", "-o", theirs, "ls", missing, "/"});
  ASSERT_EQ(s.exit_code, 2) << s.err;
  const auto expected = SummaryRows(ReadFile(theirs));
  const auto got = SummaryRows(ReadFile(ours));
  ASSERT_THAT(expected, Not(IsEmpty())) << ReadFile(theirs);
  EXPECT_THAT(ReadFile(ours),
              HasSubstr("% time     seconds  usecs/call     calls    errors syscall\n"
                        "------ ----------- ----------- --------- --------- ----------------\n"));
  uint64_t errors = 0;
  for (const auto& [name, row] : expected) {
    errors += row.second;
    const auto it = got.find(name);
    ASSERT_NE(it, got.end()) << name << " missing from\n" << ReadFile(ours);
    EXPECT_EQ(it->second.second, row.second) << "errors of " << name << "\n" << ReadFile(ours)
                                             << "strace:\n" << ReadFile(theirs);
  }
  EXPECT_GT(errors, 0u);
  // openat's calls are the guest's own (the launcher opens nothing after the filter).
  EXPECT_EQ(got.at("openat").first, expected.at("openat").first) << ReadFile(ours);
}

// The lines of a trace that are no call (signal deliveries, exit lines), with what differs
// between two runs of the same program made equal: pids and the child's CPU times.
std::vector<std::string> NonCallLines(const std::string& text) {
  std::vector<std::string> out;
  static const std::regex prefix(R"(^(\[pid +\d+\] |\d+ +))");
  static const std::regex pid(R"(si_pid=\d+)");
  static const std::regex times(R"(si_utime=\d+, si_stime=\d+)");
  for (std::string line : Lines(text)) {
    line = std::regex_replace(line, prefix, "");
    if (!line.starts_with("---") && !line.starts_with("+++")) {
      continue;
    }
    line = std::regex_replace(line, pid, "si_pid=PID");
    out.push_back(std::regex_replace(line, times, "si_utime=T, si_stime=T"));
  }
  return out;
}

// Each kind of siginfo, delivered to a guest under `hijackd strace -f` and under strace -f:
// the same "--- SIG... {...} ---" and "+++ ... +++" lines, in the same order.
TEST_P(StraceCompareTest, SignalDeliveryLinesMatchStrace) {
  struct Case {
    std::vector<std::string> args;
    std::string expected;  // one of the lines, spelled out, so that the comparison can fail
  };
  const std::vector<Case> cases = {
      {{"segv"}, "--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---"},
      {{"child", "3"},
       "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=PID, si_uid=" +
           std::to_string(getuid()) + ", si_status=3, si_utime=T, si_stime=T} ---"},
      {{"kill-child"},
       "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_KILLED, si_pid=PID, si_uid=" +
           std::to_string(getuid()) + ", si_status=SIGTERM, si_utime=T, si_stime=T} ---"},
      {{"queue", "42"},
       "--- SIGUSR1 {si_signo=SIGUSR1, si_code=SI_QUEUE, si_pid=PID, si_uid=" +
           std::to_string(getuid()) + ", si_int=42, si_ptr=0x2a} ---"},
      {{"tkill"},
       "--- SIGUSR2 {si_signo=SIGUSR2, si_code=SI_TKILL, si_pid=PID, si_uid=" +
           std::to_string(getuid()) + "} ---"},
  };
  for (const Case& c : cases) {
    const std::string ours = dir_.path() + "/hijackd." + c.args[0];
    const std::string theirs = dir_.path() + "/strace." + c.args[0];
    std::vector<std::string> command = {kStraceGuest};
    command.insert(command.end(), c.args.begin(), c.args.end());
    auto h = HijackdStrace(kHijackd, GetParam(), {"-f", "-e", "trace=none", "-o", ours}, command);
    std::vector<std::string> strace = {kStrace, "-f", "-e", "trace=none", "-o", theirs};
    strace.insert(strace.end(), command.begin(), command.end());
    auto s = RunProcess(strace);
    EXPECT_EQ(h.exit_code, s.exit_code) << h.err;
    const std::vector<std::string> expected = NonCallLines(ReadFile(theirs));
    EXPECT_THAT(expected, Contains(c.expected)) << ReadFile(theirs);
    EXPECT_EQ(NonCallLines(ReadFile(ours)), expected) << "hijackd:\n"
                                                      << ReadFile(ours) << "strace:\n"
                                                      << ReadFile(theirs);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StraceCompareTest, ::testing::Values("ptrace", "ptrace-all"),
                         BackendTestName{});

// Every process's exit line, on every backend: a child that exits with 3 and one killed by a
// signal, as strace -f shows them. Processes end concurrently, so the lines are compared as a
// set; under notify they come from the kernel's process observer (root).
class StraceExitLinesTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (access(kStrace, X_OK) != 0) {
      GTEST_SKIP() << kStrace << " is not installed (scripts/install-deps installs it)";
    }
    if (GetParam() == "notify" && geteuid() != 0) {
      GTEST_SKIP() << "the kernel process observer needs root (CAP_BPF and CAP_PERFMON)";
    }
  }
  TempDir dir_;
};

TEST_P(StraceExitLinesTest, EveryProcessGetsItsExitLine) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"child", "3"}, {"kill-child"}}) {
    const std::string ours = dir_.path() + "/hijackd." + args[0];
    const std::string theirs = dir_.path() + "/strace." + args[0];
    std::vector<std::string> command = {kStraceGuest};
    command.insert(command.end(), args.begin(), args.end());
    auto h = HijackdStrace(kHijackd, GetParam(), {"-f", "-e", "trace=none", "-o", ours}, command);
    EXPECT_EQ(h.exit_code, 0) << h.err;
    std::vector<std::string> strace = {kStrace, "-f", "-e", "trace=none", "-o", theirs};
    strace.insert(strace.end(), command.begin(), command.end());
    ASSERT_EQ(RunProcess(strace).exit_code, 0);
    auto exits = [](const std::string& text) {
      std::multiset<std::string> lines;
      for (const std::string& line : Lines(text)) {
        if (line.find("+++ ") != std::string::npos) {
          lines.insert(line);  // with its pid: each process once, with its own status
        }
      }
      return lines;
    };
    const std::multiset<std::string> expected = exits(ReadFile(theirs));
    ASSERT_EQ(expected.size(), 2u) << ReadFile(theirs);
    // Pids differ between the runs: compare the statuses, and that each line names a process.
    auto statuses = [](const std::multiset<std::string>& lines) {
      std::multiset<std::string> out;
      static const std::regex pid(R"(^\d+ +)");
      for (const std::string& line : lines) {
        EXPECT_TRUE(std::regex_search(line, pid)) << line;
        out.insert(std::regex_replace(line, pid, ""));
      }
      return out;
    };
    EXPECT_EQ(statuses(exits(ReadFile(ours))), statuses(expected))
        << "hijackd:\n" << ReadFile(ours) << "strace:\n" << ReadFile(theirs) << h.err;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StraceExitLinesTest, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

// Options whose effect needs the call's result: on the backends that see every result.
class StraceResultOptionsTest : public ::testing::TestWithParam<std::string> {
 protected:
  TempDir dir_;
};

TEST_P(StraceResultOptionsTest, OnlySuccessfulAndOnlyFailedCalls) {
  const std::string missing = dir_.path() + "/missing";
  auto failed = HijackdStrace(kHijackd,
                              GetParam(), {"-Z", "-e", "trace=openat"}, {kGuest, "open", missing});
  EXPECT_EQ(failed.exit_code, 1) << failed.err;
  EXPECT_THAT(failed.err, HasSubstr("\"" + missing + "\", O_RDONLY|O_CLOEXEC) = -1 ENOENT"));
  EXPECT_THAT(failed.err, Not(ContainsRegex(R"(openat\(.*\) += [0-9])")));

  auto ok = HijackdStrace(kHijackd,
                          GetParam(), {"-z", "-e", "trace=openat"}, {kGuest, "open", missing});
  EXPECT_THAT(ok.err, ContainsRegex(R"(openat\(.*\) += \d+\n)"));  // the loader's opens
  EXPECT_THAT(ok.err, Not(HasSubstr(missing)));
  EXPECT_THAT(ok.err, Not(HasSubstr("= -1")));
}

TEST_P(StraceResultOptionsTest, DurationsOfCallsThatReturned) {
  auto r = HijackdStrace(kHijackd, GetParam(), {"-T", "-e", "trace=openat,exit_group"},
                         {kGuest, "open", "/"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, ContainsRegex(R"("/", O_RDONLY\|O_CLOEXEC\) += \d+ <0\.\d{6}>\n)"));
  // exit_group never returns: no duration, as strace.
  EXPECT_THAT(r.err, ContainsRegex(R"(exit_group\(0\) += \?\n)"));
}

INSTANTIATE_TEST_SUITE_P(Backends, StraceResultOptionsTest,
                         ::testing::Values("ptrace", "ptrace-all"), BackendTestName{});

// Options that change lines whatever the backend knows.
class StraceOptionsTest : public ::testing::TestWithParam<std::string> {
 protected:
  TempDir dir_;
};

TEST_P(StraceOptionsTest, ExitAndKillLines) {
  auto exited = HijackdStrace(kHijackd, GetParam(), {"-e", "trace=none"}, {kGuest, "exit", "3"});
  EXPECT_EQ(exited.exit_code, 3) << exited.err;
  EXPECT_EQ(exited.err, "+++ exited with 3 +++\n");

  auto killed = HijackdStrace(kHijackd, GetParam(), {"-e", "trace=none"}, {kGuest, "raise", "9"});
  EXPECT_TRUE(WIFSIGNALED(killed.wait_status) && WTERMSIG(killed.wait_status) == SIGKILL)
      << killed.err;
  EXPECT_EQ(killed.err, "+++ killed by SIGKILL +++\n");
}

TEST_P(StraceOptionsTest, TraceSetNegationAndClasses) {
  auto r = HijackdStrace(kHijackd,
                         GetParam(), {"-e", "trace=!%file,%memory,%desc,%process,%signal"},
                         {kGuest, "exit", "0"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // What is left of "all but these": the guest's arch_prctl, set_tid_address, ...; no file call.
  EXPECT_THAT(r.err, Not(HasSubstr("openat(")));
  EXPECT_THAT(r.err, Not(HasSubstr("mmap(")));
  EXPECT_THAT(r.err, ContainsRegex(R"(\n(set_tid_address|set_robust_list|rseq|prlimit64)\()"));
  EXPECT_THAT(r.err, HasSubstr("+++ exited with 0 +++"));

  auto stat = HijackdStrace(kHijackd, GetParam(), {"-e", "trace=%fstat"}, {"cat", "/dev/null"});
  EXPECT_EQ(stat.exit_code, 0) << stat.err;
  EXPECT_THAT(stat.err, ContainsRegex(R"(\n(newfstatat|fstat)\()"));
  EXPECT_THAT(stat.err, Not(HasSubstr("openat(")));
}

// The notify filter never sends exit(2) and exit_group(2) to the supervisor (launcher/filter.h):
// there the exit lines of children come from the kernel's process observer (root), and the main
// process's from its status. Signal deliveries only the ptrace backends see.
bool SeesExitCalls(const std::string& backend) { return backend != "notify"; }
bool SeesExits(const std::string& backend) { return SeesExitCalls(backend) || geteuid() == 0; }
bool SeesSignals(const std::string& backend) { return backend != "notify"; }

TEST_P(StraceOptionsTest, OutputFileAndPerProcessFiles) {
  const std::string out = dir_.path() + "/t";
  const std::vector<std::string> command = {"sh", "-c", "/usr/bin/cat /dev/null; exit 4"};
  auto one = HijackdStrace(kHijackd, GetParam(), {"-f", "-o", out, "-e", "trace=execve"}, command);
  EXPECT_EQ(one.exit_code, 4) << one.err;
  EXPECT_THAT(one.err, Not(HasSubstr("execve")));
  // -f -o FILE: every line names its process, as strace's.
  const auto lines = Lines(ReadFile(out));
  // As strace -f: both execs, cat's exit, sh's SIGCHLD and sh's exit.
  ASSERT_EQ(lines.size(), 3u + SeesExits(GetParam()) + SeesSignals(GetParam())) << ReadFile(out);
  if (SeesSignals(GetParam())) {
    EXPECT_THAT(lines[lines.size() - 2],
                ContainsRegex(R"(^\d+ +--- SIGCHLD \{si_signo=SIGCHLD, si_code=CLD_EXITED, )"));
  }
  EXPECT_THAT(lines[0], ContainsRegex(R"(^\d+ +execve\("/usr/bin/sh", \["sh", "-c")"));
  EXPECT_THAT(lines[1], ContainsRegex(R"(^\d+ +execve\("/usr/bin/cat", \["/usr/bin/cat", "/dev/null"\])"));
  EXPECT_THAT(lines.back(), ContainsRegex(R"(^\d+ +\+\+\+ exited with 4 \+\+\+$)"));

  auto ff = HijackdStrace(kHijackd,
                          GetParam(), {"-ff", "-o", out + "ff", "-e", "trace=execve"}, command);
  EXPECT_EQ(ff.exit_code, 4) << ff.err;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    if (entry.path().filename().string().starts_with("tff.")) {
      files.push_back(ReadFile(entry.path()));
    }
  }
  ASSERT_EQ(files.size(), 2u);
  std::sort(files.begin(), files.end());  // "execve(\"/usr/bin/cat\"..." before ".../sh"
  EXPECT_THAT(files[0], ContainsRegex(R"(^execve\("/usr/bin/cat")"));
  EXPECT_THAT(files[1], ContainsRegex(R"(^execve\("/usr/bin/sh")"));
  EXPECT_THAT(files[1], HasSubstr("\n+++ exited with 4 +++\n"));
  if (SeesExits(GetParam())) {
    EXPECT_THAT(files[0], HasSubstr("\n+++ exited with 0 +++\n"));
  }
}

TEST_P(StraceOptionsTest, Timestamps) {
  const std::vector<std::string> guest = {kGuest, "getppid", "1"};
  auto opts = [&](const std::string& flag) {
    return std::vector<std::string>{"-e", "trace=getppid", flag};
  };
  EXPECT_THAT(HijackdStrace(kHijackd, GetParam(), opts("-t"), guest).err,
              ContainsRegex(R"(^\d\d:\d\d:\d\d getppid\(\) +=)"));
  EXPECT_THAT(HijackdStrace(kHijackd, GetParam(), opts("-tt"), guest).err,
              ContainsRegex(R"(^\d\d:\d\d:\d\d\.\d{6} getppid\(\))"));
  EXPECT_THAT(HijackdStrace(kHijackd, GetParam(), opts("-ttt"), guest).err,
              ContainsRegex(R"(^\d{10}\.\d{6} getppid\(\))"));
  EXPECT_THAT(HijackdStrace(kHijackd, GetParam(), opts("-r"), guest).err,
              ContainsRegex(R"(^ +0\.000000 getppid\(\))"));
}

TEST_P(StraceOptionsTest, StringLimit) {
  auto r = HijackdStrace(kHijackd, GetParam(), {"-s", "4", "-e", "trace=write"},
                         {"sh", "-c", "echo hello-there > /dev/null"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("write(1, \"hell\"..., 12)"));
  // argv's strings are cut too, the path is not: as strace writes it.
  auto exec = HijackdStrace(kHijackd, GetParam(), {"-s", "5", "-e", "trace=execve"},
                            {"/bin/echo", "helloworld"});
  EXPECT_EQ(exec.exit_code, 0) << exec.err;
  const std::string argv = "execve(\"/bin/echo\", [\"/bin/\"..., \"hello\"...], ";
  EXPECT_THAT(exec.err, HasSubstr(argv));
  if (access(kStrace, X_OK) == 0) {
    auto s = RunProcess({kStrace, "-s", "5", "-e", "trace=execve", "/bin/echo", "helloworld"});
    EXPECT_THAT(s.err, HasSubstr(argv));
  }
}

TEST_P(StraceOptionsTest, InjectErrorsWhenAndRetval) {
  const std::string file = dir_.Write("f", "x");
  auto second = HijackdStrace(
      kHijackd, GetParam(), {"-e", "trace=openat", "-e", "inject=openat:error=EACCES:when=4"},
      {"sh", "-c", "cat " + file + " " + file + " " + file});
  // The loader of sh and cat opens ld.so.cache and libc; which of their opens is the 4th is
  // theirs to decide, so the test counts: exactly one open failed, with EACCES, said as strace
  // says it.
  const std::string err = second.err;
  size_t injected = 0;
  for (const std::string& line : Lines(err)) {
    if (line.find("(INJECTED)") != std::string::npos) {
      ++injected;
      EXPECT_THAT(line, HasSubstr("= -1 EACCES (Permission denied) (INJECTED)"));
    }
  }
  EXPECT_EQ(injected, 1u) << err;

  auto every = HijackdStrace(kHijackd, GetParam(),
                             {"-e", "trace=getppid", "-e", "inject=getppid:retval=42:when=2+2"},
                             {kGuest, "getppid", "5"});
  EXPECT_EQ(every.exit_code, 0) << every.err;
  std::vector<std::string> results;
  for (const std::string& line : Lines(every.err)) {
    if (line.starts_with("getppid()")) {
      results.push_back(line.substr(line.find("= ")));
    }
  }
  ASSERT_EQ(results.size(), 5u) << every.err;
  EXPECT_EQ(results[1], "= 42 (INJECTED)");
  EXPECT_EQ(results[3], "= 42 (INJECTED)");
  for (size_t i : {0u, 2u, 4u}) {
    EXPECT_THAT(results[i], Not(HasSubstr("INJECTED"))) << i;
  }
}

TEST_P(StraceOptionsTest, SummarySortedByCalls) {
  // --no-agent: the agent counts a call when it returns, which exit_group never does (README).
  auto r = HijackdStrace(kHijackd, GetParam(),
                         {"--no-agent", "-c", "-S", "calls", "-e", "trace=getppid,exit_group"},
                         {kGuest, "getppid", "7"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (SeesExitCalls(GetParam())) {
    EXPECT_THAT(r.err, ContainsRegex(R"(^ *[\d.]+ +[\d.]+ +\d+ +7 +getppid\n)"
                                     R"( *[\d.]+ +[\d.]+ +\d+ +1 +exit_group\n-)"));
    EXPECT_THAT(r.err, ContainsRegex(R"(\n100\.00 +[\d.]+ +\d+ +8 +total\n)"));
  } else {
    EXPECT_THAT(r.err, ContainsRegex(R"(-\n *[\d.]+ +[\d.]+ +\d+ +7 +getppid\n-)"));
  }
}

// -C -o FILE: the table follows the lines in FILE, as strace writes it, and stderr has neither.
TEST_P(StraceOptionsTest, SummaryAlsoFollowsTheLinesInTheOutputFile) {
  const std::string out = dir_.path() + "/trace.txt";
  auto r = HijackdStrace(kHijackd, GetParam(),
                         {"--no-agent", "-C", "-e", "trace=getppid", "-o", out},
                         {kGuest, "getppid", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ReadFile(out), ContainsRegex(R"(getppid\(\) += \d+\n)"
                                           R"((.*\n)*% time +seconds +usecs/call +calls)"
                                           R"((.*\n)* *[\d.]+ +[\d.]+ +\d+ +3 +getppid\n)"));
  EXPECT_THAT(r.err, Not(HasSubstr("% time")));
}

INSTANTIATE_TEST_SUITE_P(Backends, StraceOptionsTest, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

// Under seccomp notify a call the supervisor lets run returns unseen (seccomp_unotify(2)) unless
// the kernel result observer reads it (root); a line without a result reads "= ?", and the reason
// is said once, not per line.
TEST(StraceNotifyTest, UnknownResultsAreExplainedOnce) {
  auto r = HijackdStrace(kHijackd, "notify", {"--no-agent", "-e", "trace=openat"},
                         {kGuest, "open", "/nonexistent"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  size_t unknown = 0;
  for (const std::string& line : Lines(r.err)) {
    if (line.starts_with("openat(")) {
      EXPECT_THAT(line, ContainsRegex(R"(= (\?|-1 ENOENT|\d+)( |$))")) << line;
      unknown += line.ends_with("= ?") ? 1 : 0;
    }
  }
  const std::string note = "calls show \"= ?\": the notify backend let them run";
  if (unknown > 0) {
    EXPECT_THAT(r.err, HasSubstr("hijackd strace: " + std::to_string(unknown) + " " + note));
    EXPECT_EQ(r.err.find(note), r.err.rfind(note));
  } else {
    EXPECT_THAT(r.err, Not(HasSubstr(note)));
  }
  EXPECT_THAT(r.err, HasSubstr("+++ exited with 1 +++"));
}

// notify sees no signal delivery: no "---" line, and one sentence says why.
TEST(StraceNotifyTest, SignalDeliveriesAreExplainedOnce) {
  // Said when a signal ended the guest, where strace would show its delivery.
  auto r = HijackdStrace(kHijackd, "notify", {"-f", "-e", "trace=none"}, {kStraceGuest, "segv"});
  EXPECT_NE(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("+++ killed by SIGSEGV +++"));
  const std::string note = "signal deliveries (--- SIG... ---) are not shown: under the notify "
                           "backend";
  EXPECT_THAT(r.err, HasSubstr(note));
  EXPECT_EQ(r.err.find(note), r.err.rfind(note));
  EXPECT_THAT(r.err, Not(ContainsRegex("^--- SIGSEGV")));
  // An ordinary end says nothing of signals.
  auto quiet = HijackdStrace(kHijackd,
                             "notify", {"-f", "-e", "trace=none"}, {kStraceGuest, "tkill"});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_THAT(quiet.err, Not(HasSubstr(note)));
}

TEST(StraceRefusalTest, UnsupportedAndUnknownOptionsAreNamed) {
  struct Case {
    std::vector<std::string> options;
    std::string message;
  };
  const Case cases[] = {
      {{"-p", "0"}, "-p 0: Invalid process id: '0'"},
      {{"-p", "-1"}, "-p -1: Invalid process id: '-1'"},
      {{"-p", "abc"}, "-p abc: Invalid process id: 'abc'"},
      {{"-s", "-1"}, "-s: \"-1\" is not a number"},
      {{"-s", "1073741824"}, "-s 1073741824: invalid -s argument"},
      {{"-k"}, "-k is not supported: stack traces"},
      {{"-fx"}, "-x is not supported"},
      {{"-j"}, "unknown option -j"},
      {{"--seccomp-bpf"}, "unknown option --seccomp-bpf"},
      {{"-e", "trace=opne"}, "-e trace=opne: unknown syscall \"opne\"; did you mean \"open\"?"},
      {{"-e", "trace=%fiel"}, "did you mean \"%file\"?"},
      {{"-e", "inject=openat"}, "-e inject=openat: needs error=E or retval=N"},
      {{"-e", "inject=openat:error=ENOPE"}, "error=\"ENOPE\": not an errno name"},
      {{"-e", "inject=openat:error=EIO:when=0"}, "when: calls are counted from 1"},
      {{"-e", "inject=openat:signal=SIGSEGV"}, "signal= is not supported"},
      {{"-e", "verbose=all"}, "verbose= is not supported"},
      {{"-s", "many"}, "-s: \"many\" is not a number"},
      {{"-S", "size"}, "-S size: sort by time, calls, errors, name or nothing"},
      {{"-ff"}, "-ff needs -o FILE"},
      {{"-o"}, "-o needs a value"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {kHijackd, "strace"};
    argv.insert(argv.end(), c.options.begin(), c.options.end());
    if (c.options != std::vector<std::string>{"-o"}) {
      argv.insert(argv.end(), {"--", "true"});
    }
    auto r = RunProcess(argv);
    EXPECT_EQ(r.exit_code, 2) << c.options[0] << ": " << r.err;
    EXPECT_THAT(r.err, AllOf(HasSubstr("hijackd strace: "), HasSubstr(c.message)))
        << c.options[0];
  }
  auto none = RunProcess({kHijackd, "strace", "-f"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("no command to run"));
}

}  // namespace
}  // namespace hijack::testing
