// hijackd strace against the real strace(1), second part: the structures strace users read
// (struct stat, the bytes a read returned, wait statuses, the descriptors of pipe2 and
// socketpair, timespecs, socket protocols, socket option levels and names) line by line on the
// same guest (tests/guests/strace2_guest.cc), on the backends that stop where a call returns
// (ptrace, ptrace-all); clone3's arguments, which the guest passes in, on every backend; and,
// where the backend does not stop at returns (notify), out-parameters shown as addresses and
// said once. -s above 256 against strace's lines, on every backend. -p: attached to a process
// the test started (not hijackd's child), its calls and its threads' traced, let go unharmed
// on SIGINT and SIGTERM, its own exit reported; enforcing policies and bad pids refused.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <fstream>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <regex>
#include <sstream>

#include "tests/integration/test_paths.h"
#include "tests/support/backend_params.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kStrace = "/usr/bin/strace";
constexpr const char* kGuest2 = HIJACK_TEST_STRACE2_GUEST;

// The call lines of one process's trace, with what differs between two runs made equal:
// addresses, the child's pid (wait4's result), the clock's reading, the result column's padding.
std::vector<std::string> Normalized(const std::string& text) {
  std::vector<std::string> out;
  static const std::regex addr(R"(0x[0-9a-f]+)");
  static const std::regex clock(R"(tv_sec=\d+, tv_nsec=\d+\}\) )");
  static const std::regex wait_result(R"(^(wait4\(.*\)) += \d+$)");
  static const std::regex padding(R"(\) +=)");
  // Exit and signal lines, of this process or (prefixed) of a child hijackd follows.
  static const std::regex not_a_call(R"(^(\[pid +\d+\] )?(\+\+\+|---) )");
  for (std::string line : Lines(text)) {
    if (std::regex_search(line, not_a_call)) {
      continue;
    }
    line = std::regex_replace(line, addr, "ADDR");
    if (line.starts_with("clock_gettime(")) {
      line = std::regex_replace(line, clock, "tv_sec=S, tv_nsec=N}) ");
    }
    line = std::regex_replace(line, wait_result, "$1 = PID");
    out.push_back(std::regex_replace(line, padding, ") ="));
  }
  return out;
}

class StraceStructsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (access(kStrace, X_OK) != 0) {
      GTEST_SKIP() << kStrace << " is not installed (scripts/install-deps installs it)";
    }
  }
  TempDir dir_;
};

constexpr const char* kStructCalls =
    "trace=fstat,newfstatat,read,pipe2,socketpair,wait4,nanosleep,clock_nanosleep,"
    "clock_gettime,socket,setsockopt,getsockopt";

TEST_P(StraceStructsTest, OutParametersMatchStraceLineByLine) {
  // 40 bytes: strace's default -s 32 cuts the read's data, with "..." after the quote.
  const std::string file = dir_.Write("data", "0123456789abcdefghijklmnopqrstuvwxyzABC\n");
  const std::string ours = dir_.path() + "/hijackd.txt";
  const std::string theirs = dir_.path() + "/strace.txt";
  // Without -f: the lines of the guest's main process, in its own order.
  auto h = HijackdStrace(kHijackd, GetParam(), {"-e", kStructCalls, "-o", ours},
                         {kGuest2, "structs", file});
  EXPECT_EQ(h.exit_code, 0) << h.err;
  auto s = RunProcess({kStrace, "-e", kStructCalls, "-o", theirs, kGuest2, "structs", file});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  std::vector<std::string> expected = Normalized(ReadFile(theirs));
  // The guest's own calls start at the fstat of its 40-byte file: before it, the loader's. Its
  // descriptor is the lowest free one, which a descriptor the test inherited may make 4.
  auto from_guest = [&](std::vector<std::string> lines) {
    auto first = std::find_if(lines.begin(), lines.end(), [](const std::string& l) {
      return l.starts_with("fstat(") && l.find("st_size=40,") != std::string::npos;
    });
    return std::vector<std::string>(first, lines.end());
  };
  expected = from_guest(expected);
  ASSERT_GE(expected.size(), 15u) << ReadFile(theirs);
  const std::string fd = expected[0].substr(6, expected[0].find(',') - 6);
  // What strace shows, spelled out, so that the comparison cannot pass on two empty traces.
  EXPECT_THAT(expected, ::testing::Contains("fstat(" + fd +
                                            ", {st_mode=S_IFREG|0644, st_size=40, ...}) = 0"));
  EXPECT_THAT(expected, ::testing::Contains(
                            "read(" + fd + ", \"0123456789abcdefghijklmnopqrstuv\"..., 64) = 40"));
  EXPECT_THAT(expected, ::testing::Contains(
                            "wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, NULL) = PID"));
  EXPECT_EQ(from_guest(Normalized(ReadFile(ours))), expected)
      << "hijackd:\n" << ReadFile(ours) << "strace:\n" << ReadFile(theirs) << h.err;
  EXPECT_THAT(h.err, Not(HasSubstr("as addresses")));
}

// clone3's struct clone_args is the guest's input: decoded on entry, on every backend. strace
// adds what the kernel wrote back (" => {parent_tid=[N]}"), which hijackd does not show.
TEST_P(StraceStructsTest, Clone3ArgumentsMatchStrace) {
  const std::string ours = dir_.path() + "/hijackd.txt";
  const std::string theirs = dir_.path() + "/strace.txt";
  auto h = HijackdStrace(kHijackd,
                         GetParam(), {"-e", "trace=clone3", "-o", ours}, {kGuest2, "thread"});
  EXPECT_EQ(h.exit_code, 0) << h.err;
  auto s = RunProcess({kStrace, "-e", "trace=clone3", "-o", theirs, kGuest2, "thread"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto args = [](const std::string& text) {
    static const std::regex clone3(R"((clone3\(\{.*?\})(?: => \{[^}]*\})?(, \d+\)))");
    static const std::regex addr(R"(0x[0-9a-f]+)");
    std::smatch m;
    if (!std::regex_search(text, m, clone3)) {
      return std::string("(no clone3 line)");
    }
    return std::regex_replace(m[1].str() + m[2].str(), addr, "ADDR");
  };
  const std::string expected = args(ReadFile(theirs));
  EXPECT_THAT(expected, HasSubstr("clone3({flags=CLONE_VM|CLONE_FS|"));
  EXPECT_EQ(args(ReadFile(ours)), expected) << ReadFile(ours) << ReadFile(theirs);
}

INSTANTIATE_TEST_SUITE_P(Backends, StraceStructsTest, ::testing::Values("ptrace", "ptrace-all"),
                         BackendTestName{});

// Options checked against strace's own lines on the same command.
class StraceOptionsCompareTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (access(kStrace, X_OK) != 0) {
      GTEST_SKIP() << kStrace << " is not installed (scripts/install-deps installs it)";
    }
  }
  TempDir dir_;
};

// -r with -t: strace 6 writes both, and stamps the exit line as well.
TEST_P(StraceOptionsCompareTest, RelativeWithAbsoluteTimesAndStampedExitLines) {
  const std::vector<std::string> options = {"-t", "-r", "-e", "trace=none"};
  auto h = HijackdStrace(kHijackd, GetParam(), options, {kGuest2, "thread"});
  EXPECT_EQ(h.exit_code, 0) << h.err;
  std::vector<std::string> strace = {kStrace};
  strace.insert(strace.end(), options.begin(), options.end());
  strace.insert(strace.end(), {kGuest2, "thread"});
  auto s = RunProcess(strace);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  // The main process's exit line ends both traces.
  const std::regex line(
      R"((^|\n)\d\d:\d\d:\d\d \(\+ +\d+\.\d{6}\) \+\+\+ exited with 0 \+\+\+\n$)");
  EXPECT_TRUE(std::regex_search(s.err, line)) << s.err;
  EXPECT_TRUE(std::regex_search(h.err, line)) << h.err;
}

// %pure names the calls strace's does: the same lines on the same program.
TEST_P(StraceOptionsCompareTest, PureClassMatchesStrace) {
  const std::string ours = dir_.path() + "/hijackd.txt";
  const std::string theirs = dir_.path() + "/strace.txt";
  const std::vector<std::string> command = {"/usr/bin/id"};
  // execve too: what hijackd's launcher calls before it is not the guest's.
  auto h = HijackdStrace(kHijackd, GetParam(), {"-e", "trace=%pure,execve", "-o", ours}, command);
  EXPECT_EQ(h.exit_code, 0) << h.err;
  auto s = RunProcess({kStrace, "-e", "trace=%pure,execve", "-o", theirs, "/usr/bin/id"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto from_exec = [](std::vector<std::string> lines) {
    auto exec = std::find_if(lines.begin(), lines.end(),
                             [](const std::string& l) { return l.starts_with("execve("); });
    return std::vector<std::string>(exec == lines.end() ? exec : exec + 1, lines.end());
  };
  const std::vector<std::string> expected = from_exec(Normalized(ReadFile(theirs)));
  EXPECT_THAT(expected, ::testing::Contains(::testing::StartsWith("getuid() = ")));
  EXPECT_EQ(from_exec(Normalized(ReadFile(ours))), expected) << ReadFile(ours) << ReadFile(theirs);
}

INSTANTIATE_TEST_SUITE_P(Backends, StraceOptionsCompareTest,
                         ::testing::Values("ptrace", "ptrace-all"), BackendTestName{});

// notify does not stop the guest where a call returns: out-parameters are addresses, the input
// structures are decoded, and the trace says once why.
TEST(StraceNotifyStructsTest, OutParametersAreAddressesAndSaidOnce) {
  TempDir dir;
  const std::string file = dir.Write("data", "0123456789\n");
  auto r = HijackdStrace(kHijackd,
                         "notify", {"--no-agent", "-e", kStructCalls}, {kGuest2, "structs", file});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("nanosleep({tv_sec=0, tv_nsec=1000}, NULL)"));
  EXPECT_THAT(r.err, HasSubstr(", SOL_TCP, TCP_NODELAY, [1], 4)"));
  EXPECT_THAT(r.err, HasSubstr("socket(AF_INET, SOCK_DGRAM, IPPROTO_IP)"));
  EXPECT_THAT(r.err, Not(HasSubstr("{st_mode=")));
  const std::string note = "show out-parameters (struct stat, data read, wait status, "
                           "descriptors of a pipe) as addresses: the notify backend";
  if (geteuid() == 0) {
    // With the kernel result observer the calls have results, and the successful ones with
    // out-parameters are counted.
    EXPECT_THAT(r.err, HasSubstr(note));
    EXPECT_EQ(r.err.find(note), r.err.rfind(note));
  }
}

// -s above the decoder's default of 256: the bytes strace shows, on every backend (write(2)'s
// buffer is read at the call's entry, which every backend sees).
class StraceStringLimitTest : public ::testing::TestWithParam<std::string> {};

// The quoted data of the guest's one write of 1000 bytes, and whether "..." follows it.
std::optional<std::pair<std::string, bool>> WrittenData(const std::string& trace) {
  static const std::regex write_line(
      R"re((?:^|\n)(?:\[pid +\d+\] )?write\(\d+, "([0-9]*)"(\.\.\.)?, 1000\))re");
  std::smatch m;
  if (!std::regex_search(trace, m, write_line)) {
    return std::nullopt;
  }
  return std::pair(m[1].str(), m[2].matched);
}

TEST_P(StraceStringLimitTest, ShowsUpToNBytesThenDotsAsStrace) {
  std::string pattern;
  for (int i = 0; i < 1000; ++i) {
    pattern += static_cast<char>('0' + i % 10);
  }
  for (const auto& [limit, shown, cut] :
       {std::tuple{"600", size_t{600}, true}, std::tuple{"2000", size_t{1000}, false},
        std::tuple{"300", size_t{300}, true}}) {
    auto h = HijackdStrace(kHijackd, GetParam(), {"-s", limit, "-e", "trace=write"},
                           {kGuest2, "write", "1000"});
    EXPECT_EQ(h.exit_code, 0) << h.err;
    auto ours = WrittenData(h.err);
    ASSERT_TRUE(ours) << limit << ": " << h.err.substr(0, 4000);
    EXPECT_EQ(ours->first, pattern.substr(0, shown)) << limit;
    EXPECT_EQ(ours->second, cut) << limit;
    if (access(kStrace, X_OK) == 0) {
      auto s = RunProcess({kStrace, "-s", limit, "-e", "trace=write", kGuest2, "write", "1000"});
      ASSERT_EQ(s.exit_code, 0) << s.err;
      EXPECT_EQ(WrittenData(s.err), ours) << limit << ": " << s.err.substr(0, 4000);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StraceStringLimitTest, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

// A process the test starts itself, which hijackd did not start and is not the parent of:
// strace2_guest loop, which makes calls until its stdin is readable, then exits with `status`.
class LoopingGuest {
 public:
  // `extra`: "threads" or "forks" (strace2_guest loop), or nullptr.
  LoopingGuest(int status, const char* extra) {
    int ready[2], control[2];
    if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(control, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2");
    }
    pid_ = fork();
    if (pid_ == 0) {
      dup2(control[0], 0);
      // dup2 onto itself would keep O_CLOEXEC (a test runner's inherited descriptors decide
      // the numbers pipe2 gives).
      if (ready[1] == 5) {
        fcntl(5, F_SETFD, 0);
      } else {
        dup2(ready[1], 5);
      }
      const std::string code = std::to_string(status);
      execl(kGuest2, kGuest2, "loop", "5", code.c_str(), extra, nullptr);
      _exit(127);
    }
    close(ready[1]);
    close(control[0]);
    control_ = control[1];
    char c = 0;
    const bool started = read(ready[0], &c, 1) == 1;
    close(ready[0]);
    if (!started) {
      throw std::runtime_error("strace2_guest loop did not start");
    }
  }
  ~LoopingGuest() {
    if (!reaped_) {
      kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);
    }
    if (control_ >= 0) {
      close(control_);
    }
  }
  pid_t pid() const { return pid_; }
  std::string pid_text() const { return std::to_string(pid_); }
  // A field of /proc/PID/status ("State", "TracerPid"), as written there.
  std::string Status(const std::string& field) const {
    std::istringstream in(ReadFile("/proc/" + pid_text() + "/status"));
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with(field + ":")) {
        const size_t value = line.find_first_not_of(" \t", field.size() + 1);
        return value == std::string::npos ? "" : line.substr(value);
      }
    }
    return "";
  }
  // Lets the guest end; returns its wait status.
  int Finish() {
    close(control_);
    control_ = -1;
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int control_ = -1;
  bool reaped_ = false;
};

// hijackd strace -p: attached to a process that runs already, under ptrace, stopping at every
// call; SIGINT lets it go unharmed.
class StraceAttachTest : public ::testing::Test {
 protected:
  bool TraceShows(const std::string& path, const std::string& pattern) {
    const std::regex re(pattern);
    return Eventually([&] { return std::regex_search(ReadFile(path), re); },
                      std::chrono::seconds(60));
  }
  TempDir dir_;
};

constexpr const char* kTickMain = R"(write\(\d+, "tick-main", 9\) += 9)";

TEST_F(StraceAttachTest, SigintDetachesAndTheProcessRunsOnUnharmed) {
  LoopingGuest guest(3, nullptr);
  const std::string out = dir_.path() + "/trace.txt";
  BackgroundProcess h({kHijackd, "strace", "-p", guest.pid_text(), "-o", out}, dir_.path());
  ASSERT_TRUE(TraceShows(out, kTickMain)) << ReadFile(out) << h.Stderr();
  // Traced by hijackd (its loop thread, the one that attached).
  const std::string tracer = guest.Status("TracerPid");
  EXPECT_THAT(ReadFile("/proc/" + tracer + "/status"),
              HasSubstr("\nTgid:\t" + std::to_string(h.pid()) + "\n"))
      << tracer;
  ProcessResult r = h.Stop(SIGINT);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Let go: not traced any more, not stopped, and no exit line for a process that goes on.
  EXPECT_EQ(guest.Status("TracerPid"), "0");
  const std::string state = guest.Status("State");
  EXPECT_FALSE(state.starts_with("t") || state.starts_with("T")) << state;
  EXPECT_THAT(ReadFile(out), Not(HasSubstr("+++")));
  // strace's messages, on stderr whatever -o says.
  EXPECT_THAT(r.err, HasSubstr("hijackd strace: Process " + guest.pid_text() + " attached\n"));
  EXPECT_THAT(r.err, HasSubstr("hijackd strace: Process " + guest.pid_text() + " detached\n"));
  // It still runs as it did: it makes its calls and ends the way it means to.
  const int status = guest.Finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << status;
}

TEST_F(StraceAttachTest, SigtermDetachesToo) {
  LoopingGuest guest(0, nullptr);
  const std::string out = dir_.path() + "/trace.txt";
  // -q: without the attach and detach messages.
  BackgroundProcess h({kHijackd, "strace", "-q", "-p", guest.pid_text(), "-o", out}, dir_.path());
  ASSERT_TRUE(TraceShows(out, kTickMain)) << ReadFile(out) << h.Stderr();
  ProcessResult r = h.Stop(SIGTERM);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("Process ")));
  EXPECT_EQ(guest.Status("TracerPid"), "0");
  const int status = guest.Finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(StraceAttachTest, ProcessThatExitsByItselfGetsItsExitLine) {
  LoopingGuest guest(3, nullptr);
  const std::string out = dir_.path() + "/trace.txt";
  BackgroundProcess h({kHijackd, "strace", "-p", guest.pid_text(), "-o", out}, dir_.path());
  ASSERT_TRUE(TraceShows(out, kTickMain)) << ReadFile(out) << h.Stderr();
  const int status = guest.Finish();  // its stdin ends: it leaves its loop, exit_group(3)
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << status;
  ProcessResult r = h.Stop(0);  // signal 0: only waits for hijackd to end
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.err;  // strace -p exits 0 too
  const std::string trace = ReadFile(out);
  EXPECT_THAT(trace, HasSubstr("exit_group(3)"));
  EXPECT_THAT(trace, ::testing::EndsWith("+++ exited with 3 +++\n"));
}

TEST_F(StraceAttachTest, EveryThreadIsTraced) {
  LoopingGuest guest(0, "threads");
  // The second thread's id: it stands for its process, as the leader's does.
  std::string thread_id;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + guest.pid_text() + "/task")) {
    if (task.path().filename() != guest.pid_text()) {
      thread_id = task.path().filename();
    }
  }
  ASSERT_FALSE(thread_id.empty());
  const std::string out = dir_.path() + "/trace.txt";
  // As strace: -p with a comma list (the process named twice is attached once).
  BackgroundProcess h({kHijackd, "strace", "-p", thread_id + "," + guest.pid_text(), "-o", out},
                      dir_.path());
  const std::string main_line = R"(\[pid +(\d+)\] write\(\d+, "tick-main", 9\) += 9)";
  const std::string thread_line = R"(\[pid +(\d+)\] write\(\d+, "tick-thread", 11\) += 11)";
  ASSERT_TRUE(TraceShows(out, main_line)) << ReadFile(out) << h.Stderr();
  ASSERT_TRUE(TraceShows(out, thread_line)) << ReadFile(out) << h.Stderr();
  const std::string trace = ReadFile(out);
  std::smatch main_match, thread_match;
  ASSERT_TRUE(std::regex_search(trace, main_match, std::regex(main_line)));
  ASSERT_TRUE(std::regex_search(trace, thread_match, std::regex(thread_line)));
  EXPECT_EQ(main_match[1].str(), guest.pid_text());
  EXPECT_NE(thread_match[1].str(), guest.pid_text());
  ProcessResult r = h.Stop(SIGINT);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Named twice (a thread and its process): said once each, as named.
  EXPECT_THAT(r.err, HasSubstr("Process " + thread_id + " attached with 2 threads\n"));
  EXPECT_THAT(r.err, HasSubstr("Process " + guest.pid_text() + " attached with 2 threads\n"));
  EXPECT_EQ(guest.Status("TracerPid"), "0");
  // Every thread was let go: none is traced, none stopped.
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + guest.pid_text() + "/task")) {
    const std::string status = ReadFile(task.path().string() + "/status");
    EXPECT_THAT(status, HasSubstr("TracerPid:\t0\n")) << task.path();
    EXPECT_THAT(status, Not(::testing::ContainsRegex("State:\t[tT]"))) << task.path();
  }
  const int status = guest.Finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// Two processes, -p A -p B: both traced, each line under its pid, both let go; the first one
// ending by itself leaves hijackd tracing the other.
TEST_F(StraceAttachTest, SeveralProcessesAtOnce) {
  LoopingGuest a(4, nullptr);
  LoopingGuest b(0, nullptr);
  const std::string out = dir_.path() + "/trace.txt";
  BackgroundProcess h({kHijackd, "strace", "-p", a.pid_text(), "-p", b.pid_text(), "-o", out},
                      dir_.path());
  const auto tick_of = [](const LoopingGuest& g) {
    return R"(\[pid +)" + g.pid_text() + R"(\] write\(\d+, "tick-main", 9\) += 9)";
  };
  ASSERT_TRUE(TraceShows(out, tick_of(a))) << ReadFile(out) << h.Stderr();
  ASSERT_TRUE(TraceShows(out, tick_of(b))) << ReadFile(out) << h.Stderr();
  const int a_status = a.Finish();
  EXPECT_TRUE(WIFEXITED(a_status) && WEXITSTATUS(a_status) == 4) << a_status;
  ASSERT_TRUE(TraceShows(out, R"(\[pid +)" + a.pid_text() + R"(\] \+\+\+ exited with 4 \+\+\+)"))
      << ReadFile(out);
  const size_t lines_then = Lines(ReadFile(out)).size();
  ASSERT_TRUE(Eventually([&] { return Lines(ReadFile(out)).size() > lines_then; }))
      << "b is still traced after a ended";
  ProcessResult r = h.Stop(SIGINT);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(b.Status("TracerPid"), "0");
  const int b_status = b.Finish();
  EXPECT_TRUE(WIFEXITED(b_status) && WEXITSTATUS(b_status) == 0) << b_status;
}

// -C with -p: the trace lines, then strace's table of what was seen until the detach, which
// counts the writes the lines show.
TEST_F(StraceAttachTest, SummaryTableOfTheAttachedCalls) {
  LoopingGuest guest(0, nullptr);
  const std::string out = dir_.path() + "/trace.txt";
  BackgroundProcess h({kHijackd, "strace", "-C", "-e", "trace=write", "-p", guest.pid_text(),
                       "-o", out},
                      dir_.path());
  ASSERT_TRUE(TraceShows(out, kTickMain)) << ReadFile(out) << h.Stderr();
  EXPECT_EQ(h.Stop(SIGINT).exit_code, 0);
  const std::string trace = ReadFile(out);
  size_t lines = 0;
  for (const std::string& line : Lines(trace)) {
    lines += line.starts_with("write(") ? 1 : 0;
  }
  std::smatch row;
  ASSERT_TRUE(std::regex_search(trace, row, std::regex(R"(
 *[\d.]+ +[\d.]+ +\d+ +(\d+) +write
)")))
      << trace;
  EXPECT_EQ(std::stoul(row[1].str()), lines) << trace;
  EXPECT_EQ(guest.Status("TracerPid"), "0");
  const int status = guest.Finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// New children are followed with -f only, as strace -p: their calls and exit lines appear.
TEST_F(StraceAttachTest, ChildrenAreFollowedWithDashF) {
  LoopingGuest guest(0, "forks");
  const std::string child_exit = R"((?:^|\n)(\d+) +\+\+\+ exited with 5 \+\+\+\n)";
  const std::string followed = dir_.path() + "/followed.txt";
  {
    BackgroundProcess h({kHijackd, "strace", "-f", "-p", guest.pid_text(), "-o", followed},
                        dir_.path());
    ASSERT_TRUE(TraceShows(followed, child_exit)) << ReadFile(followed) << h.Stderr();
    EXPECT_EQ(h.Stop(SIGINT).exit_code, 0);
  }
  std::smatch m;
  const std::string trace = ReadFile(followed);
  ASSERT_TRUE(std::regex_search(trace, m, std::regex(child_exit)));
  EXPECT_NE(m[1].str(), guest.pid_text());
  EXPECT_THAT(trace, ::testing::ContainsRegex(m[1].str() + " +exit_group\\(5\\) += \\?"));

  const std::string alone = dir_.path() + "/alone.txt";
  {
    BackgroundProcess h({kHijackd, "strace", "-p", guest.pid_text(), "-o", alone}, dir_.path());
    // The parent's wait4 for a child that ran untraced: its exit was not seen.
    ASSERT_TRUE(TraceShows(alone, R"(wait4\(\d+, \[\{WIFEXITED\(s\) && WEXITSTATUS\(s\) == 5\}\])"))
        << ReadFile(alone) << h.Stderr();
    EXPECT_EQ(h.Stop(SIGINT).exit_code, 0);
  }
  EXPECT_THAT(ReadFile(alone), Not(HasSubstr("exited with 5")));
  EXPECT_THAT(ReadFile(alone), Not(HasSubstr("exit_group(5)")));
  EXPECT_EQ(guest.Status("TracerPid"), "0");
  const int status = guest.Finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(StraceAttachTest, EnforcingPoliciesAreRefusedAndTheProcessIsLeftAlone) {
  LoopingGuest guest(0, nullptr);
  const std::string deny = WritePolicy(dir_, "deny.json",
                                       R"({"module": "deny", "syscalls": ["mkdir"]})");
  auto by_policy = RunProcess({kHijackd, "strace", "--policy", deny, "-p", guest.pid_text()});
  EXPECT_NE(by_policy.exit_code, 0);
  EXPECT_THAT(by_policy.err, HasSubstr("-p " + guest.pid_text() + ": module \"deny\" enforces"));
  auto by_inject = RunProcess(
      {kHijackd, "strace", "-e", "inject=write:error=EIO", "-p", guest.pid_text()});
  EXPECT_NE(by_inject.exit_code, 0);
  EXPECT_THAT(by_inject.err, HasSubstr("module \"fault\" enforces"));
  auto notify = RunProcess({kHijackd, "strace", "--backend", "notify", "-p", guest.pid_text()});
  EXPECT_EQ(notify.exit_code, 2);
  EXPECT_THAT(notify.err, HasSubstr("-p needs ptrace, not --backend notify"));
  EXPECT_EQ(guest.Status("TracerPid"), "0");
  const int status = guest.Finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// ptrace(2)'s permission: another uid's process (root's, from nobody) is refused with EPERM and
// said why; so is a process traced already (hijackd attached to it first).
TEST_F(StraceAttachTest, ProcessesHijackdMayNotTraceAreRefused) {
  LoopingGuest guest(0, nullptr);
  if (geteuid() == 0 && access("/usr/bin/setpriv", X_OK) == 0) {
    StagedFiles staged({{kHijackd, "bin/hijackd"}});
    auto r = RunProcess({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                         staged.path("bin/hijackd"), "strace", "-p", guest.pid_text()});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr("-p " + guest.pid_text() + ": ptrace(PTRACE_SEIZE, " +
                                 guest.pid_text() + "): EPERM"));
    EXPECT_THAT(r.err, HasSubstr("needs its uid"));
  }
  const std::string out = dir_.path() + "/trace.txt";
  BackgroundProcess first({kHijackd, "strace", "-p", guest.pid_text(), "-o", out}, dir_.path());
  ASSERT_TRUE(TraceShows(out, kTickMain)) << ReadFile(out) << first.Stderr();
  auto second = RunProcess({kHijackd, "strace", "-p", guest.pid_text()});
  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_THAT(second.err, HasSubstr("EPERM"));
  EXPECT_THAT(second.err, HasSubstr("traced already"));
  EXPECT_EQ(first.Stop(SIGINT).exit_code, 0);
  EXPECT_EQ(guest.Status("TracerPid"), "0");
  const int status = guest.Finish();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(StraceAttachTest, BadProcessIdsAreNamed) {
  for (const std::string bad : {"0", "-1", "abc", "12x", ","}) {
    auto r = RunProcess({kHijackd, "strace", "-p", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("Invalid process id: '" + std::string(bad == "," ? "" : bad)))
        << bad;
  }
  // A process that has ended: its pid names nothing (a reaped child's, unless reused at once).
  const pid_t gone = fork();
  if (gone == 0) {
    _exit(0);
  }
  int status;
  waitpid(gone, &status, 0);
  auto missing = RunProcess({kHijackd, "strace", "-p", std::to_string(gone)});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.err, HasSubstr("-p " + std::to_string(gone) + ": ptrace(PTRACE_SEIZE, " +
                                     std::to_string(gone) + "): ESRCH (No such process)"));
  // hijackd's own process: the shell's pid is hijackd's once it execs.
  auto self = RunProcess({"/bin/sh", "-c", "exec " + ShellQuote(kHijackd) + " strace -p $$"});
  EXPECT_EQ(self.exit_code, 2) << self.err;
  EXPECT_THAT(self.err, HasSubstr("that is hijackd's own process"));
  // A command and -p at once.
  auto both = RunProcess({kHijackd, "strace", "-p", "1", "--", "true"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_THAT(both.err, HasSubstr("-p and a command exclude each other"));
}

}  // namespace
}  // namespace hijack::testing
