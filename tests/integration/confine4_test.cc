// fs_guard's strict mode makes unlink, unlinkat, rmdir, mkdir, mkdirat, mknod, mknodat,
// symlink, symlinkat and truncate in the supervisor, on the name it read and judged, and
// answers O_PATH opens as the kernel does (docs/SECURITY.md, "The races left, exactly"), tried
// by a real guest (tests/guests/confine4_guest.cc):
//   - a thread flips the name each call acts on from an allowed one to one a rule denies, inside
//     a tree the policy allows: no round may reach the denied object;
//   - a fixed sequence of those calls (modes under a umask, trailing slashes, ".", "..", dirfds,
//     symlinks, every error the sequence provokes, fewer capabilities, another uid) gives the
//     same results under the supervisor as natively (strict on notify, check on every backend);
//   - the ways around a deny rule a guest would try (a symlinked parent, "..", /proc/self/fd
//     links, relative dirfds, O_PATH descriptors, AT_EMPTY_PATH) all fail;
//   - the ptrace backends, which cannot inject descriptors, still refuse strict mode at launch.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

constexpr const char* kGuest = HIJACK_TEST_CONFINE4_GUEST;
constexpr int kRounds = 600;

ProcessResult RunGuest(const std::string& backend, const std::string& policy,
                       const std::vector<std::string>& guest_args) {
  return RunGuarded(kGuest, backend, policy, guest_args);
}

std::string StrictPolicy(const TempDir& dir, const std::vector<std::string>& deny) {
  std::string list;
  for (const std::string& d : deny) {
    list += (list.empty() ? "\"" : ", \"") + d + "\"";
  }
  return dir.Write("fs.json", R"({"version": 1, "modules": [
      {"module": "fs_guard", "mode": "strict", "deny": [)" + list + "]}]}");
}

// ---- the name flipped while the supervisor judges it ----

class StrictNameFlip : public ::testing::TestWithParam<const char*> {};

INSTANTIATE_TEST_SUITE_P(Notify, StrictNameFlip,
                         ::testing::Values("unlink", "rmdir", "mkdir", "mknod", "symlink",
                                           "truncate", "opath"));

// Strict mode is notify-only (StrictModeRefused below): the flip runs there.
TEST_P(StrictNameFlip, FlippedNameNeverReachesTheDeniedObject) {
  const std::string op = GetParam();
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/work");
  const std::string secret = dir.path() + "/work/secret";
  // The removals, truncate and O_PATH need the secret there; the creations need it absent.
  if (op == "rmdir") {
    std::filesystem::create_directory(secret);
  } else if (op == "unlink" || op == "truncate" || op == "opath") {
    dir.Write("work/secret", "SECRET");
  }
  if (op == "truncate" || op == "opath") {
    dir.Write("work/public", "public");
  }
  const std::string policy = StrictPolicy(dir, {secret});
  ProcessResult r =
      RunGuest("notify", policy, {"flip", op, dir.path(), std::to_string(kRounds)});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("escaped: 0 of " + std::to_string(kRounds))) << r.err;
  if (op == "rmdir") {
    EXPECT_TRUE(std::filesystem::is_directory(secret));
  } else if (op == "unlink" || op == "truncate" || op == "opath") {
    EXPECT_EQ(ReadFile(secret), "SECRET");
  } else {
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(secret)));
  }
  std::cout << op << ": " << r.out;
}

// ---- the same calls natively and under the supervisor ----

class NameCallSemantics : public ::testing::TestWithParam<SemanticsConfig> {};

INSTANTIATE_TEST_SUITE_P(Backends, NameCallSemantics, EveryBackendAndMode(), SemanticsName{});

TEST_P(NameCallSemantics, EachCallAnswersAsTheKernelDoes) {
  ExpectGuardedMatchesNative(kGuest, GetParam());
}

// ---- the ways around a deny rule ----

TEST(StrictAttacks, EveryWayAroundTheRuleFails) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/work");
  std::filesystem::create_directories(dir.path() + "/secretdir/sub");
  dir.Write("secret", "SECRET");
  dir.Write("secretdir/victim", "V");
  const std::string policy =
      StrictPolicy(dir, {dir.path() + "/secret", dir.path() + "/secretdir/**"});
  ProcessResult r = RunGuest("notify", policy, {"attacks", dir.path()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::cout << r.out;
  for (const char* denied : {"unlink through ..: EACCES", "truncate through ..: EACCES",
                             "mkdir through ..: EACCES",
                             "unlink through a symlinked parent: EACCES",
                             "mknod through a symlinked parent: EACCES",
                             "symlink through a symlinked parent: EACCES",
                             "truncate through a symlink: EACCES",
                             "unlinkat ../secret relative to a dirfd: EACCES",
                             "mkdirat through a symlinked parent relative to a dirfd: EACCES",
                             "O_PATH open of the secret: EACCES",
                             "O_PATH open of the denied directory: EACCES",
                             "O_PATH open of the denied directory through a symlink: EACCES"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string(denied) + "\n"));
  }
  // What the rule allows, the kernel answers as it would natively.
  EXPECT_THAT(r.out, HasSubstr("unlink of the symlink itself (allowed): 0\n"));
  EXPECT_THAT(r.out, HasSubstr("O_PATH|O_NOFOLLOW open of the symlink itself (allowed): 0\n"));
  EXPECT_THAT(r.out, HasSubstr("unlinkat relative to the symlink's O_PATH descriptor: ENOTDIR\n"));
  EXPECT_THAT(r.out, HasSubstr("re-open of /proc/self/fd of the symlink's O_PATH descriptor: "
                               "ELOOP\n"));
  // A walk on through /proc/self/fd/N fails closed (the supervisor walks no magic link): ENOENT,
  // where natively the kernel would reach the denied object.
  for (const char* closed : {"rmdir of ../secretdir/sub via /proc/self/fd: ",
                             "truncate via /proc/self/fd/N/../secret: "}) {
    EXPECT_THAT(r.out, HasSubstr(closed));
    EXPECT_THAT(r.out, ::testing::Not(HasSubstr(std::string(closed) + "0\n")));
  }
  // The guest may not read the secret itself; the victim is still there.
  EXPECT_THAT(r.out, HasSubstr("secret holds , victim is file\n"));
  EXPECT_EQ(ReadFile(dir.path() + "/secret"), "SECRET");
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() + "/secretdir/sub"));
}

// ---- strict mode needs descriptor injection ----

class StrictModeRefused : public ::testing::TestWithParam<const char*> {};

INSTANTIATE_TEST_SUITE_P(Backends, StrictModeRefused, ::testing::Values("ptrace", "ptrace-all"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::erase(name, '-');
                           return name;
                         });

TEST_P(StrictModeRefused, AtLaunch) {
  TempDir dir;
  const std::string policy = StrictPolicy(dir, {dir.path() + "/secret"});
  ProcessResult r = RunGuest(GetParam(), policy, {"attacks", dir.path()});
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.err, HasSubstr("needs the notify backend to inject descriptors"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("secret holds")));
}

}  // namespace
}  // namespace hijack::testing
