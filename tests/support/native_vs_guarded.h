// One sequence of file-system calls run natively and under hijackd's fs_guard, whose outputs
// must match: the test that a call fs_guard judges (and, in strict mode, makes itself) still
// answers as the kernel does. The guest prints one line per call ("NAME: RESULT") and what the
// call left behind; the policy denies only a path neither run touches, so every call the rules
// could judge is intercepted and none is denied.
//
//   class AttrSemantics : public ::testing::TestWithParam<SemanticsConfig> {};
//   INSTANTIATE_TEST_SUITE_P(Backends, AttrSemantics, EveryBackendAndMode(), SemanticsName{});
//   TEST_P(AttrSemantics, Same) { ExpectGuardedMatchesNative(kGuest, GetParam()); }
//
// Included by tests that RUN hijackd (tests/support/programs.h's kHijackd).
// Threads: the test's own; each run forks and waits (subprocess.h).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/programs.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {

// A backend and the fs_guard mode to run under it.
struct SemanticsConfig {
  const char* backend;
  const char* mode;  // "strict" (notify only) or "check"
};

// "notify_strict", "ptraceall_check".
struct SemanticsName {
  std::string operator()(const ::testing::TestParamInfo<SemanticsConfig>& info) const {
    std::string name = info.param.backend;
    std::erase(name, '-');
    return name + "_" + info.param.mode;
  }
};

// Strict mode where it can run (notify, which alone injects descriptors), check mode on every
// backend.
inline auto EveryBackendAndMode() {
  return ::testing::Values(SemanticsConfig{"notify", "strict"}, SemanticsConfig{"notify", "check"},
                           SemanticsConfig{"ptrace", "check"},
                           SemanticsConfig{"ptrace-all", "check"});
}

// `hijackd run --backend BACKEND --policy POLICY --quiet [--no-landlock] -- GUEST ARGS...`, run
// to the end (a timeout fails the test).
inline ProcessResult RunGuarded(const std::string& guest, const std::string& backend,
                                const std::string& policy,
                                const std::vector<std::string>& guest_args, bool landlock = true) {
  std::vector<std::string> argv = {kHijackd, "run",    "--backend", backend,
                                   "--policy", policy, "--quiet"};
  if (!landlock) {
    argv.push_back("--no-landlock");
  }
  argv.push_back("--");
  argv.push_back(guest);
  argv.insert(argv.end(), guest_args.begin(), guest_args.end());
  ProcessResult r = RunProcess(argv);
  EXPECT_FALSE(r.timed_out) << r.err;
  return r;
}

// Which sequence of the guest to run, and fs_guard settings beyond its mode and deny rule
// (JSON members, each with a leading comma: R"(, "mounts": "allow")").
struct GuestSequence {
  const char* name = "semantics";
  const char* settings = "";
};

// Runs `GUEST SEQUENCE DIR/native` natively and `GUEST SEQUENCE DIR/guarded` under fs_guard in
// `config.mode` on `config.backend`, denying DIR/forbidden only, and expects the same output.
// Skips the test when the guest says "not root" (its sequences change capabilities and uids).
inline void ExpectGuardedMatchesNative(const std::string& guest, const SemanticsConfig& config,
                                       const GuestSequence& sequence = {}) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/native");
  std::filesystem::create_directories(dir.path() + "/guarded");
  const std::string policy = dir.Write("fs.json", R"({"version": 1, "modules": [
      {"module": "fs_guard", "mode": ")" + std::string(config.mode) +
                                                      R"(", "deny": [")" + dir.path() +
                                                      R"(/forbidden"])" + sequence.settings +
                                                      "}]}");
  ProcessResult native = RunProcess({guest, sequence.name, dir.path() + "/native"});
  ASSERT_EQ(native.exit_code, 0) << native.out << native.err;
  if (native.out.find("not root") != std::string::npos) {
    GTEST_SKIP() << "the sequence changes capabilities and uids: needs root";
  }
  ProcessResult guarded = RunGuarded(guest, config.backend, policy,
                                     {sequence.name, dir.path() + "/guarded"});
  ASSERT_EQ(guarded.exit_code, 0) << guarded.out << guarded.err;
  EXPECT_EQ(guarded.out, native.out) << guarded.err;
}

}  // namespace hijack::testing
