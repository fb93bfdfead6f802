// The kernel-enforced floor: fs_guard, exec_guard and net_guard allow lists compiled into a
// Landlock ruleset that the launcher installs before exec (daemon/launcher/landlock_ruleset.h).
// A real guest (landlock_guest) attacks the rules the ways that matching names in the
// supervisor can miss: a hard link, a rename of an ancestor, a bind mount or a detached tree in
// a mount namespace of its own, a chroot in a user namespace, the exec of a deleted file, and
// threads that rewrite a path or a socket address between the supervisor's check and the
// kernel's use. On every backend, with the floor each attack fails; without it (--no-landlock)
// the outcome is printed, not asserted: the modules' own defences are tested with the modules.
// Ordinary allowed work runs either way.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "tests/support/loopback_listener.h"
#include "tests/support/programs.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kGuest = HIJACK_TEST_LANDLOCK_GUEST;

std::string DirOf(const std::string& path) {
  return std::filesystem::path(path).parent_path().string();
}

// What every guest needs to run, for the allow lists.
std::string SystemTrees() {
  return R"("/usr/**", "/lib/**", "/lib64/**", "/bin/**", "/etc/**", "/proc/**", "/dev/**",
            "/sys/**", ")" +
         DirOf(kGuest) + R"(/**", ")" + DirOf(kAgentLibrary) + R"(/**")";
}

struct Setup {
  const char* backend;
  bool landlock;  // false: --no-landlock, the modules alone
};

std::string Name(const ::testing::TestParamInfo<Setup>& info) {
  std::string name = info.param.backend;
  std::erase(name, '-');
  return name + (info.param.landlock ? "_Landlock" : "_ModuleOnly");
}

class LandlockFloor : public ::testing::TestWithParam<Setup> {
 protected:
  void SetUp() override {
    for (const char* d : {"/work", "/vault"}) {
      ASSERT_EQ(mkdir((dir_.path() + d).c_str(), 0755), 0);
    }
    dir_.Write("vault/secret", "TOPSECRET\n");
    dir_.Write("work/allowed.txt", "allowed\n");
    std::filesystem::copy_file("/usr/bin/echo", dir_.path() + "/work/tool");
    chmod((dir_.path() + "/work/tool").c_str(), 0755);
    files_policy_ = dir_.Write("files.json", R"({"version": 1, "modules": [
        {"module": "fs_guard", "rules": [{"allow": [)" + SystemTrees() + R"(, ")" +
                                                 dir_.path() + R"(/work/**"]}]},
        {"module": "exec_guard", "allow": [)" + SystemTrees() + R"(], "log": "none"}]})");
  }

  std::vector<std::string> Hijackd(const std::string& policy,
                                   const std::vector<std::string>& guest_args,
                                   std::vector<std::string> extra = {}) const {
    std::vector<std::string> argv = {kHijackd, "run", "--backend", GetParam().backend,
                                     "--policy", policy};
    if (!GetParam().landlock) {
      argv.push_back("--no-landlock");
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("--");
    argv.push_back(kGuest);
    argv.insert(argv.end(), guest_args.begin(), guest_args.end());
    return argv;
  }

  // Runs one attack; with the floor it must fail, without it the outcome is shown.
  void ExpectBlocked(const std::string& policy, const std::vector<std::string>& attack) {
    ProcessResult r = RunProcess(Hijackd(policy, attack, {"--quiet"}));
    ASSERT_FALSE(r.timed_out) << r.err;
    if (GetParam().landlock) {
      EXPECT_THAT(r.out, HasSubstr("blocked:")) << r.err;
      EXPECT_THAT(r.out, Not(HasSubstr("leaked"))) << r.err;
    } else {
      std::cout << "without the floor, " << attack[0] << ": " << r.out;
    }
    // The policy still holds for ordinary work afterwards, with or without the floor.
    ProcessResult work = RunProcess(Hijackd(policy, {"work", dir_.path()}, {"--quiet"}));
    EXPECT_THAT(work.out, HasSubstr("work ok")) << work.err;
  }

  TempDir dir_;
  std::string files_policy_;
};

INSTANTIATE_TEST_SUITE_P(Backends, LandlockFloor,
                         ::testing::Values(Setup{"notify", true}, Setup{"notify", false},
                                           Setup{"ptrace", true}, Setup{"ptrace", false},
                                           Setup{"ptrace-all", true},
                                           Setup{"ptrace-all", false}),
                         Name);

TEST_P(LandlockFloor, AllowedWorkRuns) {
  ProcessResult r = RunProcess(Hijackd(files_policy_, {"work", dir_.path()}));
  EXPECT_THAT(r.out, HasSubstr("work ok")) << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (GetParam().landlock) {
    EXPECT_THAT(r.err, HasSubstr("landlock-floor")) << "the report names the layer";
  }
}

TEST_P(LandlockFloor, HardLinkToADeniedFileFails) {
  ExpectBlocked(files_policy_, {"link", dir_.path()});
}

TEST_P(LandlockFloor, RenameOfAnAncestorFails) {
  ExpectBlocked(files_policy_, {"rename", dir_.path()});
}

TEST_P(LandlockFloor, BindMountInANewMountNamespaceFails) {
  ExpectBlocked(files_policy_, {"bind-mount", dir_.path()});
}

TEST_P(LandlockFloor, DetachedTreeFails) {
  ExpectBlocked(files_policy_, {"open-tree", dir_.path()});
}

TEST_P(LandlockFloor, ChrootInAUserNamespaceFails) {
  ExpectBlocked(files_policy_, {"chroot", dir_.path()});
}

TEST_P(LandlockFloor, ExecveatOfADeletedFileFails) {
  ExpectBlocked(files_policy_, {"exec-deleted", dir_.path()});
}

// The kernel reads the path after the supervisor: a thread that rewrites it in between wins
// some of the time without the floor, never with it.
TEST_P(LandlockFloor, PathFlippedDuringOpenNeverReadsTheSecret) {
  ExpectBlocked(files_policy_, {"race-open", dir_.path(), "400"});
}

TEST_P(LandlockFloor, PathFlippedDuringExecNeverRunsTheDeniedProgram) {
  ExpectBlocked(files_policy_, {"race-exec", dir_.path(), "60"});
}

class LandlockNet : public LandlockFloor {
 protected:
  std::string NetPolicy() const {
    return dir_.Write("net.json", R"({"version": 1, "modules": [
        {"module": "net_guard", "connect_allow": ["127.0.0.1:)" +
                                      std::to_string(allowed_.port()) + R"("],
         "bind_allow": ["127.0.0.1:)" + std::to_string(bind_ok_) + R"("]}]})");
  }
  LoopbackListener allowed_, denied_;
  const int bind_ok_ = PickFreePort();
  const int bind_denied_ = PickFreePort();
};

INSTANTIATE_TEST_SUITE_P(Backends, LandlockNet,
                         ::testing::Values(Setup{"notify", true}, Setup{"notify", false},
                                           Setup{"ptrace", true}, Setup{"ptrace", false},
                                           Setup{"ptrace-all", true},
                                           Setup{"ptrace-all", false}),
                         Name);

TEST_P(LandlockNet, ConnectOutsideTheAllowedPortsFails) {
  const std::string policy = NetPolicy();
  ProcessResult bad =
      RunProcess(Hijackd(policy, {"connect", std::to_string(denied_.port())}, {"--quiet"}));
  EXPECT_THAT(bad.out, HasSubstr("blocked: connect EACCES")) << bad.err;
  ProcessResult ok =
      RunProcess(Hijackd(policy, {"connect", std::to_string(allowed_.port())}, {"--quiet"}));
  EXPECT_THAT(ok.out, HasSubstr("connected")) << ok.err;
}

TEST_P(LandlockNet, PortFlippedDuringConnectNeverReachesTheDeniedPort) {
  const std::string policy = NetPolicy();
  ProcessResult r = RunProcess(Hijackd(policy,
                                       {"race-connect", std::to_string(allowed_.port()),
                                        std::to_string(denied_.port()), "400"},
                                       {"--quiet"}));
  if (GetParam().landlock) {
    EXPECT_THAT(r.out, HasSubstr("blocked:")) << r.err;
  } else {
    std::cout << "without the floor, race-connect: " << r.out;
  }
}

TEST_P(LandlockNet, BindOutsideTheAllowedPortsFails) {
  const std::string policy = NetPolicy();
  ProcessResult bad =
      RunProcess(Hijackd(policy, {"bind", std::to_string(bind_denied_)}, {"--quiet"}));
  EXPECT_THAT(bad.out, HasSubstr("blocked: bind EACCES")) << bad.err;
  ProcessResult ok = RunProcess(Hijackd(policy, {"bind", std::to_string(bind_ok_)}, {"--quiet"}));
  EXPECT_THAT(ok.out, HasSubstr("bound")) << ok.err;
}

// A kernel whose Landlock cannot hold a rule kind: one warning, and the module alone holds it.
TEST_P(LandlockNet, AbiWithoutPortRulesLeavesTheModule) {
  if (!GetParam().landlock) {
    GTEST_SKIP() << "the ABI cap is a variant of the floor";
  }
  ProcessResult r = RunProcess(Hijackd(NetPolicy(), {"connect", std::to_string(denied_.port())},
                                       {"--landlock-abi", "3"}));
  EXPECT_THAT(r.out, HasSubstr("blocked: connect EACCES")) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no Landlock floor (Landlock ABI 3 cannot hold some rules)"));
  EXPECT_THAT(r.err, Not(HasSubstr("landlock-floor")));
}

TEST_P(LandlockFloor, NoLandlockAtAllWarnsOnceAndTheModuleHolds) {
  if (!GetParam().landlock) {
    GTEST_SKIP() << "the ABI cap is a variant of the floor";
  }
  ProcessResult r =
      RunProcess(Hijackd(files_policy_, {"work", dir_.path()}, {"--landlock-abi", "0"}));
  EXPECT_THAT(r.out, HasSubstr("work ok")) << r.err;
  EXPECT_THAT(r.err, HasSubstr("no Landlock floor (no Landlock on this kernel)"));
}

// hijackd check says which rule each layer holds.
TEST(LandlockReport, CheckNamesKernelEnforcedAndModuleOnlyRules) {
  TempDir dir;
  const std::string policy = dir.Write("p.json", R"({"version": 1, "modules": [
      {"module": "fs_guard", "rules": [{"deny": ["/usr/share/secret/**"]},
                                       {"allow": ["/usr/**"], "access": ["read", "exec"]}]},
      {"module": "net_guard", "connect_allow": ["127.0.0.1:443", "unix:/run/x.sock"]},
      {"module": "exec_guard", "deny": ["/usr/bin/sudo"]}]})");
  ProcessResult r = RunProcess({kHijackd, "check", policy});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("landlock-floor"));
  // Each rule on a line of its own, under the layer that holds it.
  auto line = [&](const std::string& label, const std::string& detail) {
    for (size_t at = r.out.find(label); at != std::string::npos; at = r.out.find(label, at + 1)) {
      const std::string l = r.out.substr(at, r.out.find('\n', at) - at);
      if (l.find(detail) != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(line("kernel-enforced:", "/modules/0 (fs_guard): allow /usr/** (read, exec): "
                                       "beneath /usr: read, exec"))
      << r.out;
  EXPECT_TRUE(line("module-only:", "/modules/0 (fs_guard): deny /usr/share/secret/**")) << r.out;
  EXPECT_TRUE(line("kernel-enforced:", "/modules/1 (net_guard): connect_allow 127.0.0.1:443: TCP "
                                       "port 443, any address"))
      << r.out;
  EXPECT_TRUE(line("module-only:", "/modules/1 (net_guard): connect_allow unix:/run/x.sock"))
      << r.out;
  EXPECT_TRUE(line("module-only:", "/modules/2 (exec_guard): deny /usr/bin/sudo: a deny list"))
      << r.out;
}

// A live policy cannot loosen the floor of the launch: SetPolicy says so and names the rule;
// hijackctl show lists the floor's rules.
TEST(LandlockLivePolicy, SetPolicyThatLoosensTheFloorIsRefused) {
  TempDir dir;
  ASSERT_EQ(mkdir((dir.path() + "/work").c_str(), 0755), 0);
  const std::string launch = dir.Write("launch.json", R"({"version": 1, "modules": [
      {"module": "fs_guard", "rules": [{"allow": [)" + SystemTrees() + R"(, ")" + dir.path() +
                                                     R"(/work/**"]}]}]})");
  const std::string looser = dir.Write("looser.json", R"({"version": 1, "modules": [
      {"module": "fs_guard", "rules": [{"allow": [)" + SystemTrees() + R"(, ")" + dir.path() +
                                                     R"(/**"]}]}]})");
  const std::string tighter = dir.Write("tighter.json", R"({"version": 1, "modules": [
      {"module": "fs_guard", "rules": [{"deny": ["/etc/shadow"]}, {"allow": [)" + SystemTrees() +
                                                      R"(, ")" + dir.path() + R"(/work/**"]}]}]})");
  const std::string socket = "unix:" + dir.path() + "/h.sock";
  BackgroundProcess run({kHijackd, "run", "--policy", launch, "--listen", socket, "--quiet", "--",
                         "/usr/bin/sleep", "60"},
                        dir.path());
  ASSERT_TRUE(Eventually([&] { return std::filesystem::exists(dir.path() + "/h.sock"); },
                         std::chrono::seconds(30)))
      << run.Stderr();
  // hijackctl show: the layer and each rule, by the layer that holds it.
  ProcessResult show = RunProcess({kHijackctl, "--connect", socket, "show", "1"});
  EXPECT_THAT(show.out, HasSubstr("landlock-floor")) << show.err;
  EXPECT_THAT(show.out, HasSubstr("kernel-enforced: /modules/0 (fs_guard): allow " + dir.path() +
                                  "/work/**"));
  ProcessResult loose = RunProcess({kHijackctl, "--connect", socket, "policy", "set", "1", looser});
  EXPECT_NE(loose.exit_code, 0);
  EXPECT_THAT(loose.err, HasSubstr("kernel-enforced since launch")) << loose.out;
  EXPECT_THAT(loose.err, HasSubstr("allow " + dir.path() + "/**"));
  ProcessResult tight =
      RunProcess({kHijackctl, "--connect", socket, "policy", "set", "1", tighter});
  EXPECT_EQ(tight.exit_code, 0) << tight.err;
  run.Stop(SIGTERM);
}

}  // namespace
}  // namespace hijack::testing
