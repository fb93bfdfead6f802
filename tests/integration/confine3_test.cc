// fs_guard's strict mode makes links and renames in the supervisor, on the names it read and
// judged (docs/SECURITY.md, "The races left, exactly"), tried by a real guest
// (tests/guests/confine3_guest.cc):
//   - a thread flips the old name of link(2) or rename(2) from an allowed file to one a rule
//     denies, inside a tree the policy allows (no Landlock floor can hold such a rule), with a
//     deny list and with an allow list whose floor is installed: no round may reach the secret;
//   - a fixed sequence of links and renames (flags, symlinks, dirfds, errors, fewer
//     capabilities, another uid) gives the same results under the supervisor as natively, on
//     every backend (strict mode on notify, which alone can serve it; check mode on all).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "tests/support/native_vs_guarded.h"
#include "tests/support/programs.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;

constexpr const char* kGuest = HIJACK_TEST_CONFINE3_GUEST;
constexpr int kRounds = 2000;

std::string DirOf(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

// ---- the old name flipped while the supervisor judges it ----

enum class PolicyKind { kDenyList, kAllowListWithFloor };

struct FlipConfig {
  PolicyKind kind;
  const char* op;  // "link" or "rename"
};

struct FlipName {
  std::string operator()(const ::testing::TestParamInfo<FlipConfig>& info) const {
    return std::string(info.param.op) +
           (info.param.kind == PolicyKind::kDenyList ? "_denylist" : "_allowlist_floor");
  }
};

class StrictFlip : public ::testing::TestWithParam<FlipConfig> {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_.path() + "/work");
    dir_.Write("work/public", "public");
    dir_.Write("work/secret", "SECRET");
  }
  // The secret lies inside a tree the policy allows (a deny rule carved out of it), which no
  // Landlock floor can express: the module alone holds it.
  std::string Policy() const {
    const std::string secret = dir_.path() + "/work/secret";
    if (GetParam().kind == PolicyKind::kDenyList) {
      return dir_.Write("fs.json", R"({"version": 1, "modules": [
          {"module": "fs_guard", "mode": "strict", "deny": [")" + secret + R"("]}]})");
    }
    return dir_.Write("fs.json", R"({"version": 1, "modules": [
        {"module": "fs_guard", "mode": "strict", "rules": [{"deny": [")" + secret + R"("]},
         {"allow": ["/usr/**", "/lib/**", "/lib64/**", "/bin/**", "/etc/**", "/proc/**",
          "/dev/**", "/sys/**", ")" + DirOf(kGuest) + R"(/**", ")" + DirOf(kAgentLibrary) +
                                       R"(/**", ")" + dir_.path() + R"(/work/**"]}]}]})");
  }

  TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(Notify, StrictFlip,
                         ::testing::Values(FlipConfig{PolicyKind::kDenyList, "link"},
                                           FlipConfig{PolicyKind::kDenyList, "rename"},
                                           FlipConfig{PolicyKind::kAllowListWithFloor, "link"},
                                           FlipConfig{PolicyKind::kAllowListWithFloor, "rename"}),
                         FlipName{});

// Strict mode needs descriptor injection, which only the notify backend has; the ptrace
// backends refuse a strict policy at launch (and keep check mode's race, documented).
TEST_P(StrictFlip, FlippedOldNameNeverReachesTheSecret) {
  ProcessResult r =
      RunGuarded(kGuest, "notify", Policy(), {"flip", GetParam().op, dir_.path(),
                                               std::to_string(kRounds)},
                 GetParam().kind == PolicyKind::kAllowListWithFloor);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("escaped: 0 of " + std::to_string(kRounds))) << r.err;
  EXPECT_EQ(ReadFile(dir_.path() + "/work/secret"), "SECRET");
  std::cout << GetParam().op << ": " << r.out;
}

// ---- the same links and renames natively and under the supervisor ----

class StrictSemantics : public ::testing::TestWithParam<SemanticsConfig> {};

INSTANTIATE_TEST_SUITE_P(Backends, StrictSemantics, EveryBackendAndMode(), SemanticsName{});

TEST_P(StrictSemantics, LinksAndRenamesAnswerAsTheKernelDoes) {
  ExpectGuardedMatchesNative(kGuest, GetParam());
}

}  // namespace
}  // namespace hijack::testing
