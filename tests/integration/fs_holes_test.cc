// The ways around fs_guard's and exec_guard's names (docs/SECURITY.md, "File-system confinement
// in the modules"): a real guest, fs_holes_guest, reaches a denied file through a hard link, a
// renamed ancestor, a bind mount in a new mount namespace, a detached tree, a chroot, a file
// handle, a deleted file's /proc/self/fd link, and execs a deleted denied program; each on every
// backend, fs_guard in check and in strict mode. The modules must hold on their own, whether or
// not the kernel's Landlock layer is also installed, so nothing here depends on it: every
// attack aims at something only the modules' rules deny (a path under a directory the policy
// does not otherwise restrict) and the outcome is the module's answer.
//
// The guest runs as root (the tests do), which makes the attacks as strong as they get: root
// may mount, chroot and open by handle in its own namespaces without asking a user namespace.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "daemon/launcher/reaper.h"
#include "tests/support/backend_guest.h"
#include "tests/support/backend_params.h"
#include "tests/support/guest_runs.h"
#include "tests/support/programs.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kGuest = HIJACK_TEST_FS_HOLES_GUEST;

// hijackd run --backend B --quiet --policy <modules> -- fs_holes_guest args...
class Holes {
 public:
  ProcessResult Run(const std::string& backend, const std::string& modules,
                    const std::vector<std::string>& args) {
    return runs_.Run(backend, modules, args);
  }
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }
  void MakeDir(const std::string& name) {
    ASSERT_EQ(mkdir(Path(name).c_str(), 0755), 0) << Path(name);
  }
  TempDir& dir() { return dir_; }

 private:
  TempDir dir_;
  GuestRuns runs_{kHijackd, kGuest, dir_};
};

// ---- fs_guard, check and strict mode ----

using FsParam = std::tuple<std::string, std::string>;  // backend, fs_guard mode

class FsHoles : public ::testing::TestWithParam<FsParam> {
 protected:
  void SetUp() override {
    if (mode() == "strict" && !BackendCanInjectFd(backend())) {
      GTEST_SKIP() << backend() << " cannot inject descriptors: strict mode is refused at launch";
    }
    // top/secret/key is denied, and everything beneath top/secret; the rest is allowed.
    h_.MakeDir("top");
    h_.MakeDir("top/secret");
    h_.dir().Write("top/secret/key", "SECRET");
    h_.dir().Write("public", "public");
    h_.MakeDir("work");
  }
  const std::string& backend() const { return std::get<0>(GetParam()); }
  const std::string& mode() const { return std::get<1>(GetParam()); }
  // fs_guard denying top/secret/ for every kind, plus `extra` settings.
  std::string Guard(const std::string& extra = "") const {
    return R"({"module": "fs_guard", "mode": ")" + mode() + R"(", "deny": [")" +
           h_.Path("top/secret/") + R"("])" + extra + "}";
  }
  ProcessResult Run(const std::string& modules, const std::vector<std::string>& args) {
    return h_.Run(backend(), modules, args);
  }
  // The guest's attack `args` under Guard(): each of `lines` in what it printed, and the secret
  // nowhere.
  void ExpectRefused(const std::vector<std::string>& args,
                     std::initializer_list<const char*> lines) {
    auto r = Run(Guard(), args);
    for (const char* line : lines) {
      EXPECT_THAT(r.out, HasSubstr(line)) << r.err;
    }
    EXPECT_THAT(r.out, Not(HasSubstr("SECRET")));
  }

  Holes h_;
};

TEST_P(FsHoles, HardLinkToADeniedFileIsDenied) {
  auto r = Run(Guard(), {"link", h_.Path("top/secret/key"), h_.Path("alias")});
  EXPECT_THAT(r.out, HasSubstr("link: EACCES")) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("SECRET")));
  EXPECT_FALSE(std::filesystem::exists(h_.Path("alias")));
}

TEST_P(FsHoles, RenameOfAnAncestorOfADeniedDirectoryIsDenied) {
  auto r = Run(Guard(), {"rename", h_.Path("top"), h_.Path("moved"), "secret/key"});
  EXPECT_THAT(r.out, HasSubstr("rename: EACCES")) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("SECRET")));
  // The denied directory itself, and a rename onto a denied name.
  r = Run(Guard(), {"rename", h_.Path("top/secret"), h_.Path("top/open"), "key"});
  EXPECT_THAT(r.out, HasSubstr("rename: EACCES")) << r.err;
  h_.MakeDir("decoy");
  r = Run(Guard(), {"rename", h_.Path("decoy"), h_.Path("top/secret/inner"), "x"});
  EXPECT_THAT(r.out, HasSubstr("rename: EACCES")) << r.err;
  EXPECT_TRUE(std::filesystem::exists(h_.Path("top/secret/key")));
}

TEST_P(FsHoles, BindMountInANewMountNamespaceIsRefused) {
  ExpectRefused({"bind-mount", h_.Path("top/secret/key"), h_.Path("public")}, {"unshare: EPERM"});
}

TEST_P(FsHoles, CloneIntoANewMountNamespaceIsRefused) {
  ExpectRefused({"clone-newns", h_.Path("top/secret/key"), h_.Path("public")},
                {"clone newns: EPERM", "clone3 newns: ENOSYS"});
}

TEST_P(FsHoles, DetachedTreeIsRefused) {
  ExpectRefused({"open-tree", h_.Path("top/secret"), "key"}, {"open_tree: EPERM"});
}

TEST_P(FsHoles, ChrootIsRefused) {
  ExpectRefused({"chroot", h_.Path("top/secret"), "key"}, {"chroot: EPERM"});
}

TEST_P(FsHoles, NewMountApiIsRefused) {
  auto r = Run(Guard(), {"new-mount-api", h_.Path("work")});
  for (const char* call :
       {"fsopen", "fspick", "mount_setattr", "umount2", "pivot_root", "setns"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string(call) + ": EPERM")) << r.out << r.err;
  }
}

TEST_P(FsHoles, FileHandlesAreRefused) {
  ExpectRefused({"handle", h_.Path("top/secret/key")},
                {"name_to_handle_at: EPERM", "open_by_handle_at: EPERM"});
}

// The name of an unlinked file reads back as "<path> (deleted)", which no rule naming the file
// matches. The rule denies writing key and key2, two names of one file; the guest may read and
// unlink key: a write through the deleted name would reach key2.
TEST_P(FsHoles, DeletedFileReopenedThroughProcIsDenied) {
  ASSERT_EQ(link(h_.Path("top/secret/key").c_str(), h_.Path("top/secret/key2").c_str()), 0);
  const std::string policy = R"({"module": "fs_guard", "mode": ")" + mode() +
                             R"(", "rules": [{"deny": [")" + h_.Path("top/secret/key") + R"(", ")" +
                             h_.Path("top/secret/key2") + R"("], "access": ["write"]}]})";
  auto r = Run(policy, {"open-deleted", h_.Path("top/secret/key")});
  EXPECT_THAT(r.out, HasSubstr("unlink: ok")) << r.err;
  EXPECT_THAT(r.out, HasSubstr("open deleted: EACCES"));
  EXPECT_THAT(r.out, Not(HasSubstr("write: ok")));
  EXPECT_EQ(ReadFile(h_.Path("top/secret/key2")), "SECRET");
}

TEST_P(FsHoles, SymlinkToADeniedFileIsJudgedByItsTarget) {
  ExpectRefused({"symlink", h_.Path("top/secret/key"), h_.Path("work/link")},
                {"symlink: ok", "open symlink: EACCES"});
}

TEST_P(FsHoles, OrdinaryRenamesAndLinksStillWork) {
  auto r = Run(Guard(), {"ordinary", h_.Path("work")});
  for (const char* step : {"create: ok", "rename file: ok", "link file: ok", "symlink file: ok",
                           "mkdir: ok", "rename dir: ok", "open renamed: ok", "open linked: ok"}) {
    EXPECT_THAT(r.out, HasSubstr(step)) << r.out << r.err;
  }
  EXPECT_THAT(r.out, HasSubstr("content: plain"));
}

// The refusals are the policy's to lift, by name.
TEST_P(FsHoles, MountsAndHandlesAllowLetTheCallsRun) {
  auto r = Run(Guard(R"(, "mounts": "allow", "handles": "allow")"),
               {"handle", h_.Path("public")});
  EXPECT_THAT(r.out, HasSubstr("name_to_handle_at: ok")) << r.err;
  EXPECT_THAT(r.out, HasSubstr("content: public"));
  r = Run(Guard(R"(, "mounts": "allow")"), {"chroot", h_.Path("work"), "none"});
  EXPECT_THAT(r.out, HasSubstr("chroot: ok")) << r.err;
}

std::string FsName(const ::testing::TestParamInfo<FsParam>& info) {
  struct {
    std::string param;
  } backend{std::get<0>(info.param)};
  return BackendTestName{}(backend) + "_" + std::get<1>(info.param);
}

INSTANTIATE_TEST_SUITE_P(Backends, FsHoles,
                         ::testing::Combine(::testing::ValuesIn(BackendNames()),
                                            ::testing::Values("check", "strict")),
                         FsName);

// ---- exec_guard ----

class ExecHoles : public ::testing::TestWithParam<std::string> {
 protected:
  Holes h_;
};

// execveat(fd, "", AT_EMPTY_PATH) of a denied program unlinked after it was opened: its name
// reads back with " (deleted)" and matched no deny rule.
TEST_P(ExecHoles, ExecOfADeletedDeniedProgramIsDenied) {
  const std::string program = h_.Path("denied_echo");
  std::filesystem::copy_file("/bin/echo", program);
  const std::string policy = R"({"module": "exec_guard", "log": "none", "deny": [")" + program +
                             R"("]})";
  auto r = h_.Run(GetParam(), policy, {"exec-deleted", program});
  EXPECT_THAT(r.out, HasSubstr("unlink: ok")) << r.err;
  EXPECT_THAT(r.out, HasSubstr("execveat: EACCES"));
  EXPECT_THAT(r.out, Not(HasSubstr("EXECUTED")));
}

// A guard that can deny nothing only logs: an exec it cannot name still runs.
TEST_P(ExecHoles, LogOnlyGuardLetsADeletedProgramRun) {
  const std::string program = h_.Path("plain_echo");
  std::filesystem::copy_file("/bin/echo", program);
  auto r = h_.Run(GetParam(), R"({"module": "exec_guard", "log": "none"})",
                  {"exec-deleted", program});
  EXPECT_THAT(r.out, HasSubstr("EXECUTED")) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Backends, ExecHoles, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

}  // namespace
}  // namespace hijack::testing
