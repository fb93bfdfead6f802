// hijackd strace against the real strace(1), second part: the structures strace users read
// (struct stat, the bytes a read returned, wait statuses, the descriptors of pipe2 and
// socketpair, timespecs, socket protocols, socket option levels and names) line by line on the
// same guest (tests/guests/strace2_guest.cc), on the backends that stop where a call returns
// (ptrace, ptrace-all); clone3's arguments, which the guest passes in, on every backend; and,
// where the backend does not stop at returns (notify), out-parameters shown as addresses and
// said once.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
  for (std::string line : Lines(text)) {
    if (line.starts_with("+++") || line.starts_with("---")) {
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

}  // namespace
}  // namespace hijack::testing
