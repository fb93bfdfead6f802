// The rules that close fs_guard's holes, without a guest: what a rename may carry out from under
// a pattern (PathPattern::MayMatchAtOrBeneath, CoversSubtree, FsRules::SubtreeMayBeDenied), and
// the calls FsGuardModule refuses by number and flags (mounts, namespaces, handles), which need
// no guest memory; and that the shipped policies name whole call families. Decisions on real guests are in tests/integration/fs_holes_test.cc.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <seccomp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/modules/fs_guard/fs_guard_module.h"
#include "daemon/modules/fs_guard/path_pattern.h"
#include "daemon/syscalls/syscall_args.h"
#include "tests/support/fake_guest_memory.h"

namespace hijack::modules {
namespace {

PathPattern P(const char* text) { return *PathPattern::Parse(text); }

TEST(PathPatternBeneath, AnAncestorOfAMatchMayMatchBeneath) {
  EXPECT_TRUE(P("/data/secret/**").MayMatchAtOrBeneath("/data"));
  EXPECT_TRUE(P("/data/secret/**").MayMatchAtOrBeneath("/data/secret"));
  EXPECT_TRUE(P("/data/secret/**").MayMatchAtOrBeneath("/data/secret/x"));
  EXPECT_TRUE(P("/data/secret/**").MayMatchAtOrBeneath("/"));
  EXPECT_TRUE(P("/etc/shadow").MayMatchAtOrBeneath("/etc"));
  EXPECT_TRUE(P("/home/*/.ssh/").MayMatchAtOrBeneath("/home"));
  EXPECT_TRUE(P("/home/*/.ssh/").MayMatchAtOrBeneath("/home/ann"));
  EXPECT_TRUE(P("/**/id_rsa").MayMatchAtOrBeneath("/srv/deep"));
}

TEST(PathPatternBeneath, SiblingsAndLookAlikesDoNot) {
  EXPECT_FALSE(P("/data/secret/**").MayMatchAtOrBeneath("/data/public"));
  EXPECT_FALSE(P("/data/secret/**").MayMatchAtOrBeneath("/datax"));
  EXPECT_FALSE(P("/etc/shadow").MayMatchAtOrBeneath("/etc/shadowx"));
  EXPECT_FALSE(P("/etc/shadow").MayMatchAtOrBeneath("/tmp"));
  EXPECT_FALSE(P("/home/*/.ssh/").MayMatchAtOrBeneath("/home/ann/src"));
  // "*" does not cross '/': /a/*/b lies two levels down only.
  EXPECT_FALSE(P("/a/*/b").MayMatchAtOrBeneath("/a/x/y"));
  EXPECT_TRUE(P("/a/*/b").MayMatchAtOrBeneath("/a/x"));
}

TEST(PathPatternBeneath, CoversSubtreeOnlyForPrefixPatterns) {
  EXPECT_TRUE(P("/tmp/").CoversSubtree("/tmp"));
  EXPECT_TRUE(P("/tmp/**").CoversSubtree("/tmp/a/b"));
  EXPECT_TRUE(P("/home/*/work/").CoversSubtree("/home/ann/work/x"));
  EXPECT_TRUE(P("/").CoversSubtree("/anything"));
  EXPECT_FALSE(P("/tmp/").CoversSubtree("/"));
  EXPECT_FALSE(P("/tmp/*").CoversSubtree("/tmp/a"));  // one level only
  EXPECT_FALSE(P("/tmp/a").CoversSubtree("/tmp/a"));
}

FsRules Rules(std::vector<FsRule> rules, bool default_allow) {
  return FsRules(std::move(rules), default_allow, false);
}

TEST(FsRulesSubtree, ARenameMayNotCarryADeniedPathAway) {
  FsRules r = Rules({{false, kAccessAll, {P("/data/secret/")}}}, true);
  EXPECT_TRUE(r.SubtreeMayBeDenied("/data"));
  EXPECT_TRUE(r.SubtreeMayBeDenied("/data/secret"));
  EXPECT_TRUE(r.SubtreeMayBeDenied("/data/secret/key"));
  EXPECT_FALSE(r.SubtreeMayBeDenied("/data/public"));
  EXPECT_FALSE(r.SubtreeMayBeDenied("/tmp/a"));
}

TEST(FsRulesSubtree, AnAllowRuleBeforeTheDenyDecidesItsSubtree) {
  // The shipped policies/fs_guard.json: write only under /tmp.
  FsRules r = Rules({{false, kAccessAll, {P("/etc/shadow"), P("/root/")}},
                     {true, kAccessWrite | kAccessCreate | kAccessUnlink, {P("/tmp/")}},
                     {false, kAccessWrite | kAccessCreate | kAccessUnlink, {P("/")}}},
                    true);
  EXPECT_FALSE(r.SubtreeMayBeDenied("/tmp/a"));
  EXPECT_FALSE(r.SubtreeMayBeDenied("/tmp/a/b"));
  EXPECT_TRUE(r.SubtreeMayBeDenied("/home/ann"));
  EXPECT_TRUE(r.SubtreeMayBeDenied("/etc"));
}

TEST(FsRulesSubtree, ADenyDefaultCountsOutsideTheAllowedTrees) {
  FsRules r = Rules({{true, kAccessAll, {P("/srv/app/")}}}, false);
  EXPECT_FALSE(r.SubtreeMayBeDenied("/srv/app/cache"));
  EXPECT_TRUE(r.SubtreeMayBeDenied("/srv"));
  EXPECT_TRUE(r.SubtreeMayBeDenied("/tmp/x"));
}

SyscallEvent Call(int nr, std::array<uint64_t, 6> args = {}) {
  SyscallEvent ev;
  ev.nr = nr;
  ev.args = args;
  return ev;
}

FsGuardModule::Config Guard() {
  FsGuardModule::Config c;
  c.rules.push_back({false, kAccessAll, {P("/data/secret/")}});
  return c;
}

TEST(FsGuardViewChanges, MountAndRerootCallsAreRefused) {
  FsGuardModule m(Guard());
  testing::FakeGuestMemory mem;
  for (int nr : {SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(pivot_root), SCMP_SYS(chroot),
                 SCMP_SYS(open_tree), SCMP_SYS(move_mount), SCMP_SYS(fsopen), SCMP_SYS(fsconfig),
                 SCMP_SYS(fsmount), SCMP_SYS(fspick), SCMP_SYS(mount_setattr),
                 SCMP_SYS(open_by_handle_at), SCMP_SYS(name_to_handle_at)}) {
    ASSERT_TRUE(m.Syscalls().Contains(nr)) << nr;
    auto d = m.Decide(Call(nr), mem);
    ASSERT_TRUE(d.has_value()) << nr;
    EXPECT_EQ(*d, Decision::Fail(EPERM)) << nr;
  }
}

TEST(FsGuardViewChanges, NamespacesAreJudgedByTheirFlags) {
  FsGuardModule m(Guard());
  testing::FakeGuestMemory mem;
  EXPECT_EQ(m.Decide(Call(SCMP_SYS(unshare), {CLONE_NEWNS}), mem), Decision::Fail(EPERM));
  EXPECT_EQ(m.Decide(Call(SCMP_SYS(unshare), {CLONE_NEWUSER}), mem), Decision::Fail(EPERM));
  EXPECT_EQ(m.Decide(Call(SCMP_SYS(unshare), {CLONE_NEWNET}), mem), std::nullopt);
  EXPECT_EQ(m.Decide(Call(SCMP_SYS(clone), {CLONE_NEWNS | SIGCHLD}), mem), Decision::Fail(EPERM));
  EXPECT_EQ(m.Decide(Call(SCMP_SYS(clone), {CLONE_VM | CLONE_THREAD | CLONE_SIGHAND}), mem),
            std::nullopt);
  EXPECT_EQ(m.Decide(Call(SCMP_SYS(setns), {3, 0}), mem), Decision::Fail(EPERM));
  EXPECT_EQ(m.Decide(Call(SCMP_SYS(setns), {3, CLONE_NEWNS}), mem), Decision::Fail(EPERM));
  EXPECT_EQ(m.Decide(Call(SCMP_SYS(setns), {3, CLONE_NEWNET}), mem), std::nullopt);
  // clone3's flags are in guest memory, which may change after any check.
  EXPECT_EQ(m.Decide(Call(SCMP_SYS(clone3)), mem), Decision::Fail(ENOSYS));
}

TEST(FsGuardViewChanges, NamedOptionsLetThemRun) {
  FsGuardModule::Config c = Guard();
  c.refuse_mounts = false;
  c.refuse_handles = false;
  FsGuardModule m(std::move(c));
  testing::FakeGuestMemory mem;
  EXPECT_FALSE(m.Syscalls().Contains(SCMP_SYS(mount)));
  EXPECT_FALSE(m.Syscalls().Contains(SCMP_SYS(clone3)));
  EXPECT_FALSE(m.Syscalls().Contains(SCMP_SYS(open_by_handle_at)));
  EXPECT_EQ(m.Decide(Call(SCMP_SYS(unshare), {CLONE_NEWNS}), mem), std::nullopt);
  // The link and rename judges stay: they are rules, not refusals.
  EXPECT_TRUE(m.Syscalls().Contains(SCMP_SYS(linkat)));
  EXPECT_TRUE(m.Syscalls().Contains(SCMP_SYS(renameat2)));
}

TEST(SyscallArgsViewCalls, CloneFlagsComeFromTheTable) {
  EXPECT_EQ(syscalls::CloneFlagsArg(Call(SCMP_SYS(unshare), {CLONE_NEWNS})), CLONE_NEWNS);
  EXPECT_EQ(syscalls::CloneFlagsArg(Call(SCMP_SYS(setns), {3, CLONE_NEWUSER})), CLONE_NEWUSER);
  EXPECT_EQ(syscalls::CloneFlagsArg(Call(SCMP_SYS(clone), {SIGCHLD})), SIGCHLD);
  EXPECT_EQ(syscalls::CloneFlagsArg(Call(SCMP_SYS(clone3))), std::nullopt);
  // chroot's and open_tree's paths are in the table (so the trace names them), as metadata.
  EXPECT_EQ(syscalls::PathArgs(Call(SCMP_SYS(chroot))).size(), 1u);
  EXPECT_EQ(syscalls::PathArgs(Call(SCMP_SYS(open_tree))).size(), 1u);
}

// A shipped policy that names one call of a family by syscall (deny, fault) names them all: a
// deny of open and openat alone let openat2, creat and open_by_handle_at open the same files.
TEST(ShippedPolicies, NameWholeCallFamilies) {
  const std::vector<std::vector<std::string>> families = {
      {"open", "openat", "openat2", "creat"}, {"execve", "execveat"}};
  for (const auto& entry :
       std::filesystem::directory_iterator(HIJACK_TEST_SOURCE_DIR "/policies")) {
    if (entry.path().extension() != ".json") {
      continue;
    }
    std::ifstream in(entry.path());
    const nlohmann::json policy = nlohmann::json::parse(in);
    for (const nlohmann::json& m : policy["modules"]) {
      std::vector<std::string> calls;
      for (const char* key : {"syscalls", "syscall"}) {
        if (m.contains(key)) {
          const nlohmann::json& v = m[key];
          if (v.is_string()) {
            calls.push_back(v.get<std::string>());
          } else {
            for (const auto& c : v) {
              calls.push_back(c.get<std::string>());
            }
          }
        }
      }
      auto has = [&](const std::string& c) {
        return std::find(calls.begin(), calls.end(), c) != calls.end();
      };
      for (const auto& family : families) {
        if (std::none_of(family.begin(), family.end(), has)) {
          continue;
        }
        for (const auto& c : family) {
          EXPECT_TRUE(has(c)) << entry.path() << ": module " << m["module"] << " lacks " << c;
        }
      }
    }
  }
}

TEST(ShippedPolicies, DenyJsonDeniesOpenByHandleToo) {
  std::ifstream in(HIJACK_TEST_SOURCE_DIR "/policies/deny.json");
  const nlohmann::json policy = nlohmann::json::parse(in);
  const nlohmann::json& calls = policy["modules"][0]["syscalls"];
  EXPECT_NE(std::find(calls.begin(), calls.end(), "open_by_handle_at"), calls.end());
}

}  // namespace
}  // namespace hijack::modules
