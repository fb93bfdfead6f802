// The kernel floors of fs_guard, exec_guard and net_guard (include/hijack/kernel_floor.h), their
// fit to a Landlock ABI (daemon/launcher/landlock_ruleset.h), and admission of live policies
// against the floor of the launch (daemon/policy/admission.h). Pure: nothing is restricted.
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "daemon/launcher/landlock_ruleset.h"
#include "daemon/modules/builtin.h"
#include "daemon/modules/fs_guard/floor_tree.h"
#include "daemon/policy/admission.h"
#include "daemon/policy/policy_set.h"

namespace hijack {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::shared_ptr<policy::PolicySet> Policy(const std::string& modules) {
  auto set = policy::PolicySet::FromText(R"({"version": 1, "modules": [)" + modules + "]}",
                                         "test", modules::BuiltInModules());
  EXPECT_TRUE(set) << set.error().message;
  return *set;
}

KernelFloor OnlyFloor(const std::string& module) {
  std::vector<KernelFloor> floors = policy::FloorsOf(*Policy(module));
  EXPECT_EQ(floors.size(), 1U);
  return floors.empty() ? KernelFloor{} : floors[0];
}

std::string Tree(const std::string& pattern) {
  return modules::FloorTreeOf(*modules::PathPattern::Parse(pattern));
}

TEST(FloorTree, PatternsWidenToAnExistingDirectory) {
  char tmpl[] = "/tmp/floor-tree-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  ASSERT_EQ(mkdir((dir + "/sub").c_str(), 0755), 0);
  EXPECT_EQ(Tree(dir + "/sub/**"), dir + "/sub");
  EXPECT_EQ(Tree(dir + "/sub/"), dir + "/sub");
  EXPECT_EQ(Tree(dir + "/sub"), dir + "/sub");
  EXPECT_EQ(Tree(dir + "/*/x/**"), dir);               // the directory before the wildcard
  EXPECT_EQ(Tree(dir + "/sub/file.txt"), dir + "/sub");  // a file: its directory
  EXPECT_EQ(Tree(dir + "/missing/deeper/**"), dir);     // the nearest existing ancestor
  EXPECT_EQ(Tree("/**"), "/");
  rmdir((dir + "/sub").c_str());
  rmdir(dir.c_str());
}

TEST(FsGuardFloor, AllowListDeniesEverythingOutsideItsTrees) {
  KernelFloor f = OnlyFloor(R"({"module": "fs_guard", "rules": [
      {"deny": ["/usr/share/doc/**"]},
      {"allow": ["/usr/**"], "access": ["read", "exec"]},
      {"allow": ["/tmp/**"], "access": ["write", "create"]}]})");
  EXPECT_EQ(f.source, "/modules/0 (fs_guard)");
  EXPECT_EQ(f.fs_handled, kFloorAll);
  EXPECT_THAT(f.trees, ElementsAre(KernelFloor::Tree{"/usr", kFloorRead | kFloorExec,
                                                     "allow /usr/** (read, exec)"},
                                   KernelFloor::Tree{"/tmp", kFloorWrite | kFloorCreate,
                                                     "allow /tmp/** (write, create)"}));
  EXPECT_THAT(f.module_only, ElementsAre(Field(&KernelFloor::ModuleOnly::rule,
                                               HasSubstr("deny /usr/share/doc/**"))));
}

TEST(FsGuardFloor, DenyListHasNoFloor) {
  KernelFloor f = OnlyFloor(R"({"module": "fs_guard", "deny": ["/etc/shadow"]})");
  EXPECT_TRUE(f.empty());
  EXPECT_THAT(f.module_only, ElementsAre(Field(&KernelFloor::ModuleOnly::reason,
                                               HasSubstr("a deny list"))));
}

TEST(FsGuardFloor, BeneathClipsTheTrees) {
  KernelFloor f = OnlyFloor(R"({"module": "fs_guard", "beneath": "/usr/lib"})");
  EXPECT_EQ(f.fs_handled, kFloorAll);
  EXPECT_THAT(f.trees, ElementsAre(Field(&KernelFloor::Tree::path, "/usr/lib")));
}

TEST(ExecGuardFloor, AllowListHoldsExecutionOnly) {
  KernelFloor f = OnlyFloor(
      R"({"module": "exec_guard", "allow": ["/usr/bin/**"], "deny": ["/usr/bin/sudo"],
          "log": "none"})");
  EXPECT_EQ(f.fs_handled, kFloorExec);
  EXPECT_THAT(f.trees, ElementsAre(Field(&KernelFloor::Tree::path, "/usr/bin")));
  EXPECT_THAT(f.module_only, ElementsAre(Field(&KernelFloor::ModuleOnly::rule,
                                               "deny /usr/bin/sudo")));
}

TEST(NetGuardFloor, AllowListsBecomePorts) {
  KernelFloor f = OnlyFloor(R"({"module": "net_guard",
      "connect_allow": ["127.0.0.1:443", "10.0.0.0/8:8000-8009", "unix:/run/x.sock"],
      "bind_deny": ["*:1-1023"]})");
  EXPECT_TRUE(f.tcp_connect.handled);
  EXPECT_THAT(f.tcp_connect.ranges,
              ElementsAre(std::pair<uint16_t, uint16_t>{443, 443},
                          std::pair<uint16_t, uint16_t>{8000, 8009}));
  EXPECT_FALSE(f.tcp_bind.handled);  // a deny list
  EXPECT_EQ(f.module_only.size(), 2U);
}

TEST(NetGuardFloor, AnAllowRuleWithoutPortsLeavesConnectToTheModule) {
  KernelFloor f = OnlyFloor(R"({"module": "net_guard", "connect_allow": ["127.0.0.0/8"]})");
  // Every port of an address is no port rule at all: the kernel has nothing to hold.
  EXPECT_FALSE(f.tcp_connect.handled);
  EXPECT_TRUE(f.empty());
  EXPECT_THAT(f.module_only, ElementsAre(Field(&KernelFloor::ModuleOnly::reason,
                                               HasSubstr("names 65536 TCP ports"))));
}

TEST(FitFloorToAbi, OldKernelsHoldLess) {
  KernelFloor files = OnlyFloor(R"({"module": "fs_guard", "allow": ["/usr/**"]})");
  EXPECT_FALSE(launcher::FitFloorToAbi(files, 2).empty());
  KernelFloor abi1 = launcher::FitFloorToAbi(files, 1);  // would refuse renames across dirs
  EXPECT_TRUE(abi1.empty());
  EXPECT_THAT(abi1.module_only,
              Contains(Field(&KernelFloor::ModuleOnly::reason, HasSubstr("needs ABI 2"))));
  KernelFloor net = OnlyFloor(R"({"module": "net_guard", "connect_allow": ["*:80"]})");
  EXPECT_FALSE(launcher::FitFloorToAbi(net, 4).empty());
  KernelFloor abi3 = launcher::FitFloorToAbi(net, 3);
  EXPECT_TRUE(abi3.empty());
  EXPECT_THAT(abi3.held, IsEmpty());
  EXPECT_THAT(abi3.module_only.front().reason, HasSubstr("no TCP port rules (needs ABI 4)"));
  EXPECT_TRUE(launcher::FitFloorToAbi(files, 0).empty());
}

TEST(AdmitPolicy, ALivePolicyMayTightenTheFloorButNotLoosenIt) {
  policy::BackendCapabilities caps;
  caps.kernel_floor = policy::FloorsOf(*Policy(
      R"({"module": "fs_guard", "allow": ["/usr/**"]},
         {"module": "net_guard", "connect_allow": ["*:8000-8010"]})"));
  // Tighter: admitted.
  EXPECT_TRUE(policy::AdmitPolicy(
      *Policy(R"({"module": "fs_guard", "rules": [{"deny": ["/usr/bin/sudo"]},
                                                  {"allow": ["/usr/lib/**"]}]},
                 {"module": "net_guard", "connect_allow": ["*:8001"]})"),
      caps));
  // Looser trees.
  auto wider = policy::AdmitPolicy(
      *Policy(R"({"module": "fs_guard", "allow": ["/**"]},
                 {"module": "net_guard", "connect_allow": ["*:8000-8010"]})"),
      caps);
  ASSERT_FALSE(wider);
  EXPECT_THAT(wider.error().message,
              HasSubstr("allow /** (read, write, create, exec, unlink, attr)"));
  EXPECT_THAT(wider.error().message, HasSubstr("kernel-enforced since launch"));
  // No file rules at all.
  auto none = policy::AdmitPolicy(
      *Policy(R"({"module": "net_guard", "connect_allow": ["*:8000"]})"), caps);
  ASSERT_FALSE(none);
  EXPECT_THAT(none.error().message, HasSubstr("no longer confines read"));
  // Another port.
  auto port = policy::AdmitPolicy(
      *Policy(R"({"module": "fs_guard", "allow": ["/usr/**"]},
                 {"module": "net_guard", "connect_allow": ["*:9000"]})"),
      caps);
  ASSERT_FALSE(port);
  EXPECT_THAT(port.error().message, HasSubstr("allows TCP connect to port 9000"));
}

}  // namespace
}  // namespace hijack
