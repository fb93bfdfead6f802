// fs_guard's "attr" access kind: changes of a file's metadata (chmod, fchmodat, fchmodat2,
// chown, lchown, fchownat, utime, utimes, futimesat, utimensat, setxattr, lsetxattr,
// removexattr, lremovexattr), which a plain deny rule now covers, judged in check mode and made
// by the supervisor on the object it judged in strict mode (docs/SECURITY.md, "The races left,
// exactly"), tried by a real guest (tests/guests/confine5_guest.cc):
//   - every change of a denied file fails with the policy's errno on every backend, directly and
//     through a symlink, "..", a dirfd, /proc/self/fd and AT_EMPTY_PATH, and so does every
//     change of a file denied attr alone (whose O_PATH descriptor the guest may hold);
//   - a thread flips the name each change acts on from an allowed file to the denied one: in
//     strict mode no round may change the denied file's metadata;
//   - a fixed sequence of those calls (modes, owners, times, attributes, symlinks with and
//     without AT_SYMLINK_NOFOLLOW, every error the sequence provokes, fewer capabilities,
//     another uid, and chown from a user namespace of the guest's own) gives the same results
//     under the supervisor as natively.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>

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

constexpr const char* kGuest = HIJACK_TEST_CONFINE5_GUEST;
constexpr int kRounds = 600;

// A file with known metadata: mode 0644, times 1000/2000, the attribute user.keep.
void MakeFile(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.Write(name, text);
  chmod(path.c_str(), 0644);
  const timespec ts[2] = {{1000, 0}, {2000, 0}};
  utimensat(AT_FDCWD, path.c_str(), ts, 0);
  setxattr(path.c_str(), "user.keep", "k", 1, 0);
}

// Everything a metadata change moves: ctime moves with each (chmod, chown, utimes, xattrs).
std::string MetadataOf(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    return "missing";
  }
  char value[16] = {};
  const ssize_t n = lgetxattr(path.c_str(), "user.a", value, sizeof value - 1);
  return "mode " + std::to_string(st.st_mode & 07777) + " uid " + std::to_string(st.st_uid) +
         " gid " + std::to_string(st.st_gid) + " mtime " + std::to_string(st.st_mtim.tv_sec) +
         " ctime " + std::to_string(st.st_ctim.tv_sec) + "." +
         std::to_string(st.st_ctim.tv_nsec) + " user.a " + (n >= 0 ? value : "none");
}

// ---- every change of a denied file, by every way around the rule ----

class AttrDenied : public ::testing::TestWithParam<SemanticsConfig> {};

INSTANTIATE_TEST_SUITE_P(Backends, AttrDenied, EveryBackendAndMode(), SemanticsName{});

TEST_P(AttrDenied, EveryChangeOfADeniedFileFails) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/work");
  MakeFile(dir, "secret", "SECRET");
  MakeFile(dir, "readable", "R");
  MakeFile(dir, "work/public", "P");
  const std::string secret = dir.path() + "/secret";
  const std::string readable = dir.path() + "/readable";
  // A plain deny rule (every kind, attr included) and one that denies attr alone.
  const std::string policy = dir.Write("fs.json", R"({"version": 1, "modules": [
      {"module": "fs_guard", "mode": ")" + std::string(GetParam().mode) + R"(", "rules": [
        {"deny": [")" + secret + R"("]},
        {"deny": [")" + readable + R"("], "access": ["attr"]}]}]})");
  const std::string secret_before = MetadataOf(secret);
  const std::string readable_before = MetadataOf(readable);
  ProcessResult r = RunGuarded(kGuest, GetParam().backend, policy, {"denied", dir.path()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::cout << r.out;
  for (const char* call : {"chmod", "fchmodat", "fchmodat2", "chown", "lchown", "fchownat",
                           "utime", "utimes", "utimensat", "futimesat", "setxattr", "lsetxattr",
                           "removexattr", "lremovexattr"}) {
    for (const char* name : {"secret", "readable"}) {
      EXPECT_THAT(r.out, HasSubstr(std::string(call) + " of " + name + ": EACCES\n"));
    }
  }
  for (const char* call : {"chmod", "fchmodat", "fchmodat2", "chown", "lchown", "fchownat",
                           "utime", "utimes", "utimensat", "futimesat", "setxattr",
                           "lsetxattr", "removexattr"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string(call) + " of work/public: 0\n"));
  }
  for (const char* denied :
       {"chmod through a symlink: EACCES", "chown through a symlink: EACCES",
        "utimensat through a symlink: EACCES", "setxattr through a symlink: EACCES",
        "chmod through ..: EACCES", "fchownat ../secret relative to a dirfd: EACCES",
        "fchownat AT_EMPTY_PATH of readable's O_PATH descriptor: EACCES",
        "fchmodat2 AT_EMPTY_PATH of readable's O_PATH descriptor: EACCES",
        "utimensat AT_EMPTY_PATH of readable's O_PATH descriptor: EACCES",
        "chmod via /proc/self/fd of readable's O_PATH descriptor: EACCES",
        "setxattr via /proc/self/fd of readable's O_PATH descriptor: EACCES"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string(denied) + "\n"));
  }
  // The calls strict mode does not make itself: refused there, judged by the path in check
  // mode.
  const bool strict = std::string(GetParam().mode) == "strict";
  for (const char* call : {"setxattrat", "removexattrat", "file_setattr"}) {
    for (const char* name : {"secret", "readable"}) {
      EXPECT_THAT(r.out, HasSubstr(std::string(call) + " of " + name + ": " +
                                   (strict ? "ENOSYS" : "EACCES") + "\n"));
    }
    if (strict) {
      EXPECT_THAT(r.out, HasSubstr(std::string(call) + " of work/public: ENOSYS\n"));
    }
  }
  EXPECT_THAT(r.out, HasSubstr("lchown of the symlink itself (allowed): 0\n"));
  EXPECT_THAT(r.out, HasSubstr("O_PATH open of readable (allowed): 0\n"));
  // A walk on through /proc/self/fd/N fails closed (the supervisor walks no magic link).
  EXPECT_THAT(r.out, HasSubstr("utimensat via /proc/self/fd/N/../secret: "));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("utimensat via /proc/self/fd/N/../secret: 0\n")));
  EXPECT_EQ(MetadataOf(secret), secret_before);
  EXPECT_EQ(MetadataOf(readable), readable_before);
}

// ---- the name flipped while the supervisor judges it ----

class StrictAttrFlip : public ::testing::TestWithParam<const char*> {};

INSTANTIATE_TEST_SUITE_P(Notify, StrictAttrFlip,
                         ::testing::Values("chmod", "chown", "utimes", "setxattr"));

// Strict mode is notify-only (confine4_test.cc's StrictModeRefused): the flip runs there.
TEST_P(StrictAttrFlip, FlippedNameNeverChangesTheDeniedFile) {
  const std::string op = GetParam();
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/work");
  MakeFile(dir, "work/secret", "SECRET");
  MakeFile(dir, "work/public", "public");
  const std::string secret = dir.path() + "/work/secret";
  const std::string policy = dir.Write("fs.json", R"({"version": 1, "modules": [
      {"module": "fs_guard", "mode": "strict", "deny": [")" + secret + R"("]}]})");
  const std::string before = MetadataOf(secret);
  ProcessResult r =
      RunGuarded(kGuest, "notify", policy, {"flip", op, dir.path(), std::to_string(kRounds)});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("escaped: 0 of " + std::to_string(kRounds))) << r.err;
  EXPECT_EQ(MetadataOf(secret), before);
  std::cout << op << ": " << r.out;
}

// ---- the same calls natively and under the supervisor ----

class AttrSemantics : public ::testing::TestWithParam<SemanticsConfig> {};

INSTANTIATE_TEST_SUITE_P(Backends, AttrSemantics, EveryBackendAndMode(), SemanticsName{});

TEST_P(AttrSemantics, EachChangeAnswersAsTheKernelDoes) {
  ExpectGuardedMatchesNative(kGuest, GetParam());
}

// chown(2) takes ids in the caller's user namespace: a guest of uid 1000 in a namespace of its
// own whose root is 1000 outside chowns its file to "0", which strict mode must make as 1000.
class AttrUserNamespace : public ::testing::TestWithParam<SemanticsConfig> {};

INSTANTIATE_TEST_SUITE_P(Backends, AttrUserNamespace, EveryBackendAndMode(), SemanticsName{});

TEST_P(AttrUserNamespace, ChownTakesIdsInTheGuestsNamespace) {
  ExpectGuardedMatchesNative(kGuest, GetParam(),
                             {.name = "userns", .settings = R"(, "mounts": "allow")"});
}

}  // namespace
}  // namespace hijack::testing
