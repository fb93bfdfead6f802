// Real runtimes' own test suites under a policy that traces every system call: a deterministic
// subset of CPython's regression tests (Debian's libpython3.11-testsuite) and of GLib's
// installed tests (libglib2.0-tests), natively and under every backend, compared case by case.
// A case that passes natively must pass under hijackd, and the other way round: the same
// program's own judgement of what it saw, from suites written without hijackd in mind.
//
// Labelled runtime_suites (ctest -L runtime_suites), so their time can be counted apart.
#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/backend_params.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

constexpr const char* kHijackd = HIJACK_TEST_HIJACKD;
constexpr const char* kAgentLibrary = HIJACK_TEST_AGENT_LIBRARY;

// Modules that exercise descriptors, polling, files, directories and processes, pass natively
// here in a few seconds each, and judge nothing by elapsed time: test_epoll asserts that a poll
// returns within 10 ms, which a loaded machine misses with or without hijackd. Likewise GLib's
// unix-streams, whose main_thread_skipped case expects a cancel to beat a pipe read and failed
// natively on a loaded machine.
const std::vector<std::string> kPythonModules = {"test.test_fcntl", "test.test_fileio",
                                                 "test.test_glob", "test.test_select",
                                                 "test.test_wait4"};
constexpr char kGlibDir[] = "/usr/libexec/installed-tests/glib";
const std::vector<std::string> kGlibTests = {"thread",     "spawn-singlethread", "unix",
                                             "asyncqueue", "thread-pool",        "io-channel",
                                             "readwrite",  "cond"};

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// unittest -v's verdict lines, "name (module.Class.name) ... ok": case -> verdict, its first
// word ("ok", "skipped", "FAIL", "ERROR", "expected"). A skip's reason may name a file made
// from the process's pid, which is 2 in hijackd's pid namespace.
std::map<std::string, std::string> UnittestVerdicts(const std::string& err) {
  std::map<std::string, std::string> verdicts;
  for (const std::string& line : Lines(err)) {
    const size_t dots = line.rfind(" ... ");
    if (dots != std::string::npos && line.find(" (") < dots) {
      const std::string verdict = line.substr(dots + 5);
      verdicts[line.substr(0, dots)] = verdict.substr(0, verdict.find(' '));
    }
  }
  return verdicts;
}

// TAP lines of a GLib test program, "ok 3 /thread/once" or "not ok 3 /thread/once": case ->
// verdict ("ok", "not ok", with a "# SKIP" reason kept).
std::map<std::string, std::string> TapVerdicts(const std::string& program, const std::string& out) {
  std::map<std::string, std::string> verdicts;
  for (const std::string& line : Lines(out)) {
    const bool ok = line.starts_with("ok ");
    if (!ok && !line.starts_with("not ok ")) {
      continue;
    }
    const size_t path = line.find(' ', ok ? 3 : 7);
    const std::string name = path == std::string::npos ? line : line.substr(path + 1);
    verdicts[program + " " + name] = ok ? "ok" : "not ok";
  }
  return verdicts;
}

class RuntimeSuitesTest : public ::testing::TestWithParam<const char*> {
 protected:
  ProcessResult Run(const std::vector<std::string>& program, bool hijacked) {
    ProcessOptions options;
    options.env_add = {std::string("HIJACK_AGENT_LIBRARY=") + kAgentLibrary};
    options.deadline = std::chrono::seconds(240);
    // Each run in a directory of its own: suites name their scratch files by pid (CPython's
    // "@test_<pid>_tmp"), and every guest is pid 2 of its namespace, so two runs side by side
    // in one directory would share them.
    options.cwd = dir_.path() + "/run" + std::to_string(++runs_);
    std::filesystem::create_directory(options.cwd);
    if (!hijacked) {
      return RunProcess(program, options);
    }
    const std::string mode = GetParam();
    HijackdRun run{.hijackd = kHijackd, .backend = mode, .quiet = true};
    if (mode == "notify") {
      run.options = {"--agent"};
    } else if (mode == "no-agent") {
      run.backend = "notify";
      run.options = {"--no-agent"};
    }
    // Every system call traced (the trace module's default set), to a file.
    run.policy = dir_.Write("trace.json", R"({"version": 1, "modules": [{"module": "trace",
        "format": "text", "output": ")" + dir_.path() + R"(/trace.txt"}]})");
    return run.Run(program, options);
  }

  TempDir dir_;
  int runs_ = 0;
};

TEST_P(RuntimeSuitesTest, CPythonRegressionTests) {
  if (!Exists("/usr/lib/python3.11/test/test_fileio.py")) {
    GTEST_SKIP() << "libpython3.11-testsuite is not installed (scripts/install-deps)";
  }
  std::vector<std::string> program = {"/usr/bin/python3.11", "-m", "unittest", "-v"};
  program.insert(program.end(), kPythonModules.begin(), kPythonModules.end());
  const ProcessResult native = Run(program, false);
  ASSERT_FALSE(native.timed_out);
  ASSERT_EQ(native.exit_code, 0) << native.err;
  const auto want = UnittestVerdicts(native.err);
  ASSERT_GT(want.size(), 15u) << native.err;
  const ProcessResult got = Run(program, true);
  ASSERT_FALSE(got.timed_out) << got.err;
  EXPECT_EQ(got.exit_code, native.exit_code) << got.err;
  EXPECT_EQ(UnittestVerdicts(got.err), want) << got.err;
  std::printf("CPython: %zu cases, the same verdicts under %s\n", want.size(), GetParam());
}

TEST_P(RuntimeSuitesTest, GlibInstalledTests) {
  if (!Exists(std::string(kGlibDir) + "/thread")) {
    GTEST_SKIP() << "libglib2.0-tests is not installed (scripts/install-deps)";
  }
  std::map<std::string, std::string> want, got;
  for (const auto& test : kGlibTests) {
    // The programs find their data files next to themselves, relative to the directory.
    const std::vector<std::string> program = {
        "/bin/sh", "-c", std::string("cd ") + kGlibDir + " && exec ./" + test};
    const ProcessResult native = Run(program, false);
    ASSERT_FALSE(native.timed_out) << test;
    ASSERT_EQ(native.exit_code, 0) << test << ": " << native.out << native.err;
    const ProcessResult hijacked = Run(program, true);
    ASSERT_FALSE(hijacked.timed_out) << test << ": " << hijacked.err;
    EXPECT_EQ(hijacked.exit_code, native.exit_code) << test << ": " << hijacked.err;
    want.merge(TapVerdicts(test, native.out));
    got.merge(TapVerdicts(test, hijacked.out));
  }
  ASSERT_GT(want.size(), 30u);
  EXPECT_EQ(got, want);
  std::printf("GLib: %zu cases, the same verdicts under %s\n", want.size(), GetParam());
}

// The release build runs the suites under every backend. The instrumented build runs them under
// the default one only: what it adds is the daemon's own memory and UB checks under a varied load,
// which one backend gives, and the four took a fifth of its test time.
#if defined(HIJACK_SANITIZED_BUILD)
INSTANTIATE_TEST_SUITE_P(Backends, RuntimeSuitesTest, ::testing::Values("notify"),
                         BackendTestName{});
#else
INSTANTIATE_TEST_SUITE_P(Backends, RuntimeSuitesTest,
                         ::testing::Values("notify", "no-agent", "ptrace", "ptrace-all"),
                         BackendTestName{});
#endif

}  // namespace
}  // namespace hijack::testing
