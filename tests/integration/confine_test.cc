// Races against exec_guard (docs/SECURITY.md, "File-system confinement in the modules"): a real
// guest, confine_guest, execs a program the policy allows while a thread of its own rewrites
// the path buffer, or another process swaps a symlink, so that the kernel's own lookup after
// the supervisor's answer finds a denied program. On every backend, and where the policy has a
// Landlock floor, with it and without it (--no-landlock). Each test makes a bounded number of
// tries and requires the denied program to run in none of them: with the loaded image judged
// at the exec stop (exec_guard "image": "verify") a refused image is killed before its first
// instruction, whichever name the kernel found.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include "tests/support/backend_params.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/programs.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;

constexpr const char* kGuest = HIJACK_TEST_CONFINE_GUEST;
constexpr int kTries = 200;

// How the guest's children ended ("exec-flip: ok=A bad=B refused=C killed=D other=E").
struct Tally {
  int ok = -1, bad = -1, refused = -1, killed = -1, other = -1;
};

Tally ParseTally(const std::string& out) {
  static const std::regex line(R"(ok=(\d+) bad=(\d+) refused=(\d+) killed=(\d+) other=(\d+))");
  std::smatch m;
  Tally t;
  if (std::regex_search(out, m, line)) {
    t = {std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3]), std::stoi(m[4]), std::stoi(m[5])};
  }
  return t;
}

using ExecParam = std::tuple<std::string, bool>;  // backend, Landlock floor allowed

class ExecRace : public ::testing::TestWithParam<ExecParam> {
 protected:
  void SetUp() override {
    // OK and BAD in directories of their own, so that a floor widened to OK's directory still
    // leaves BAD outside it.
    std::filesystem::create_directories(dir_.path() + "/ok");
    std::filesystem::create_directories(dir_.path() + "/bad");
    std::filesystem::copy_file("/bin/true", ok_);
    std::filesystem::copy_file("/bin/false", bad_);
  }
  const std::string& backend() const { return std::get<0>(GetParam()); }
  bool landlock() const { return std::get<1>(GetParam()); }

  Tally Run(const std::string& guard, const std::string& mode) {
    HijackdRun run{.hijackd = kHijackd, .backend = backend(), .quiet = true};
    run.policy = WritePolicy(dir_, "policy" + std::to_string(++policies_) + ".json", guard);
    if (!landlock()) {
      run.options.push_back("--no-landlock");
    }
    ProcessResult r = run.Run({kGuest, mode, ok_, bad_, std::to_string(kTries)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr(mode + ": ")) << r.err;
    Tally t = ParseTally(r.out);
    RecordProperty(mode, r.out);
    std::printf("%s %s: %s", backend().c_str(), landlock() ? "floor" : "no-landlock",
                r.out.c_str());
    return t;
  }
  // exec_guard denying BAD alone (default allow): no Landlock floor can hold a deny list.
  std::string DenyBad() const {
    return R"({"module": "exec_guard", "log": "none", "deny": [")" + bad_ + R"("]})";
  }
  // exec_guard allowing OK and the guest: the floor (when allowed) holds BAD's directory too.
  std::string AllowOk() const {
    return R"({"module": "exec_guard", "log": "none", "allow": [")" + ok_ + R"(", ")" +
           std::string(kGuest) + R"("]})";
  }

  TempDir dir_;
  const std::string ok_ = dir_.path() + "/ok/ok";
  const std::string bad_ = dir_.path() + "/bad/bad";
  int policies_ = 0;
};

// A deny list, which no Landlock floor can hold: the modules alone, on every backend.
class ExecRaceDenyList : public ExecRace {};

// A thread rewrites the path of execve between the supervisor's read and the kernel's.
TEST_P(ExecRaceDenyList, FlippedPathNeverRunsADeniedProgram) {
  Tally t = Run(DenyBad(), "exec-flip");
  EXPECT_EQ(t.bad, 0);
  EXPECT_GT(t.ok, 0);
}

// Another process swaps a symlink under the exec'd name between OK and BAD.
TEST_P(ExecRaceDenyList, SwappedSymlinkNeverRunsADeniedProgram) {
  Tally t = Run(DenyBad(), "exec-swap");
  EXPECT_EQ(t.bad, 0);
  EXPECT_GT(t.ok + t.refused, 0);
}

// The same under an allow list, which the floor holds where Landlock is in use; without it the
// module alone.
TEST_P(ExecRace, FlippedPathUnderAnAllowListNeverRunsTheOtherProgram) {
  Tally t = Run(AllowOk(), "exec-flip");
  EXPECT_EQ(t.bad, 0);
  EXPECT_GT(t.ok, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, ExecRaceDenyList,
                         ::testing::Combine(::testing::ValuesIn(BackendNames()),
                                            ::testing::Values(false)),
                         [](const ::testing::TestParamInfo<ExecParam>& info) {
                           return BackendTestName{}(::testing::TestParamInfo<std::string>(
                               std::get<0>(info.param), info.index));
                         });
INSTANTIATE_TEST_SUITE_P(Backends, ExecRace,
                         ::testing::Combine(::testing::ValuesIn(BackendNames()),
                                            ::testing::Bool()),
                         [](const ::testing::TestParamInfo<ExecParam>& info) {
                           std::string name = BackendTestName{}(
                               ::testing::TestParamInfo<std::string>(std::get<0>(info.param),
                                                                     info.index));
                           return name + (std::get<1>(info.param) ? "_floor" : "_nolandlock");
                         });

// ---- the emulated connect and SA_RESTART ----

// net_guard's emulated connect (the supervisor connects a copy of the guest's socket) meets a
// signal the guest catches: the guest must see what the kernel gives natively (signal(7),
// "Interruption of system calls and library functions by signal handlers"; checked here against
// the native run): with SA_RESTART the connect is restarted and waits on, without it EINTR, and
// with SO_SNDTIMEO EINTR whatever the flags.
class ConnectSignal : public ::testing::TestWithParam<std::string> {
 protected:
  ProcessResult Run(const std::vector<std::string>& args) {
    HijackdRun run{.hijackd = kHijackd, .backend = GetParam(), .quiet = true};
    run.policy = WritePolicy(dir_, "connect.json",
                             R"({"module": "net_guard", "connect": "emulate",
                                 "connect_allow": ["127.0.0.1"]})");
    std::vector<std::string> command = {kGuest};
    command.insert(command.end(), args.begin(), args.end());
    return run.Run(command);
  }
  static ProcessResult Native(const std::vector<std::string>& args) {
    std::vector<std::string> command = {kGuest};
    command.insert(command.end(), args.begin(), args.end());
    return RunProcess(command);
  }
  TempDir dir_;
};

TEST_P(ConnectSignal, EachHandlerGetsWhatTheKernelGivesNatively) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"connect-signal", "restart", "0"},
        std::vector<std::string>{"connect-signal", "norestart", "0"},
        std::vector<std::string>{"connect-signal", "restart", "20000"}}) {
    const ProcessResult native = Native(args);
    const ProcessResult emulated = Run(args);
    EXPECT_EQ(emulated.out, native.out) << args[1] << " " << args[2] << ": " << emulated.err;
  }
  // What the kernel gives on this machine, so the comparison means something.
  EXPECT_EQ(Native({"connect-signal", "restart", "0"}).out, "connect: 0 handled=1\n");
  EXPECT_EQ(Native({"connect-signal", "norestart", "0"}).out, "connect: EINTR handled=1\n");
}

INSTANTIATE_TEST_SUITE_P(Backends, ConnectSignal, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

}  // namespace
}  // namespace hijack::testing
