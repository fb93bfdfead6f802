// The guest against its supervisor (docs/SECURITY.md): a real guest, attack_guest, attacks
// hijackd, its helpers and processes outside its own tree, under every backend, once with the
// kernel's Landlock scoping and once with the supervisor's own refusals alone
// (--no-landlock-scope). Each test shows the attack fails and the policy still holds afterwards
// (a deny rule still denies mkdir with EACCES).
//
// hijackd and its guest run as one unprivileged user (nobody, when the tests run as root): the
// attacks are those of a guest with the supervisor's uid, which root's CAP_SYS_PTRACE would
// make moot.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/backend_params.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Everything that runs as the unprivileged user, staged where that user can reach it: the
// build tree may sit in a home directory only its owner may enter. hijackd finds the policy
// host, the agent and the control plane in ../lib/hijack, as in an installation
// (common/install_layout.h).
const StagedFiles& Staged() {
  static const StagedFiles staged({{HIJACK_TEST_HIJACKD, "bin/hijackd"},
                                   {HIJACK_TEST_POLICY_HOST, "lib/hijack/hijack-policy-host"},
                                   {HIJACK_TEST_HIJACKCTL, "bin/hijackctl"},
                                   {HIJACK_TEST_ATTACK_GUEST, "bin/attack_guest"},
                                   {HIJACK_TEST_AGENT_LIBRARY, "lib/hijack/libhijack-agent.so"},
                                   {HIJACK_TEST_CONTROL_MODULE, "lib/hijack/libhijack-control.so"},
                                   {HIJACK_TEST_EXAMPLE_PLUGIN, "lib/libexample_plugin.so"}});
  return staged;
}
const std::string kHijackd = Staged().path("bin/hijackd");
const std::string kAttack = Staged().path("bin/attack_guest");
const std::string kHijackctl = Staged().path("bin/hijackctl");
const std::string kExamplePlugin = Staged().path("lib/libexample_plugin.so");

// Runs `argv` as the unprivileged user: nobody when the tests run as root, else as they are.
std::vector<std::string> AsGuestUser(std::vector<std::string> argv) {
  if (geteuid() != 0) {
    return argv;
  }
  // From a directory that user may enter (the build tree's may not be): hijackd run and
  // hijackctl launch give the guest their cwd.
  std::vector<std::string> out = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                  "--clear-groups", "--", "/usr/bin/env", "--chdir=/tmp"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

// 'Z' for a zombie, 0 when the process is gone.
char ProcessState(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) {
    return 0;
  }
  const size_t close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? 0 : line[close + 2];
}

struct Setup {
  std::string backend;
  bool landlock;  // false: --no-landlock-scope, the supervisor's refusals alone
  // false: --contain none, so that the guest can name hijackd (its parent) and the layers above
  // are what stops it, as where the kernel refuses the namespace; true: --contain pidns, where
  // its parent is the namespace's init and hijackd has no pid the guest can name.
  bool contained = false;
};

// Every backend of the table, with Landlock scoping and without (or with it alone).
std::vector<Setup> Setups(bool contained, bool both_layers = true) {
  std::vector<Setup> setups;
  for (const std::string& backend : BackendNames()) {
    setups.push_back({backend, true, contained});
    if (both_layers) {
      setups.push_back({backend, false, contained});
    }
  }
  return setups;
}

std::string Name(const ::testing::TestParamInfo<Setup>& info) {
  std::string name = info.param.backend;
  std::erase(name, '-');
  return name + (info.param.landlock ? "_Landlock" : "_SupervisorOnly") +
         (info.param.contained ? "_Contained" : "");
}

class GuestAgainstSupervisor : public ::testing::TestWithParam<Setup> {
 protected:
  void SetUp() override {
    // The unprivileged guest must be able to make the directory the policy denies: a refusal
    // then means the policy refused, not the file system.
    chmod(dir_.path().c_str(), 0777);
    policy_ = dir_.Write("deny.json", R"({"version": 1, "modules": [
        {"module": "deny", "syscalls": ["mkdir", "mkdirat"], "errno": "EACCES"}]})");
  }

  // hijackd run under this setup, as the unprivileged user.
  HijackdRun Hijackd(const std::string& policy, bool quiet = true) const {
    HijackdRun run{.hijackd = kHijackd,
                   .backend = GetParam().backend,
                   .policy = policy,
                   .quiet = quiet,
                   .prefix = AsGuestUser({})};
    if (!GetParam().landlock) {
      run.options.push_back("--no-landlock-scope");
    }
    run.options.insert(run.options.end(), {"--contain", GetParam().contained ? "pidns" : "none"});
    return run;
  }

  ProcessResult Attack(const std::vector<std::string>& attack) const {
    std::vector<std::string> cmd = {kAttack};
    cmd.insert(cmd.end(), attack.begin(), attack.end());
    ProcessOptions opts;
    // A supervisor the attack stopped would hold the guest's next call until this deadline.
    opts.deadline = std::chrono::seconds(30);
    return Hijackd(policy_).Run(cmd, opts);
  }

  // The policy still holds: the denied call was refused by the deny rule, and nothing else went
  // wrong in hijackd.
  void ExpectPolicyHolds(const ProcessResult& r) const {
    EXPECT_FALSE(r.timed_out) << "the supervisor stopped answering\n" << r.out << r.err;
    EXPECT_THAT(r.out, HasSubstr("after: EACCES")) << r.err;
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    struct stat st {};
    EXPECT_NE(stat((dir_.path() + "/after").c_str(), &st), 0) << "the denied mkdir ran";
  }

  // Runs `attack`, whose output must show each of `refusals`, and the policy still holds.
  void ExpectAttackFails(const std::vector<std::string>& attack,
                         std::initializer_list<const char*> refusals) const {
    auto r = Attack(attack);
    for (const char* refusal : refusals) {
      EXPECT_THAT(r.out, HasSubstr(refusal)) << r.err;
    }
    ExpectPolicyHolds(r);
  }

  TempDir dir_;
  std::string policy_;
};

INSTANTIATE_TEST_SUITE_P(Backends, GuestAgainstSupervisor,
                         ::testing::ValuesIn(Setups(/*contained=*/false)), Name);

// The seccomp listener lives in hijackd (notify); with it a guest answers its own calls.
TEST_P(GuestAgainstSupervisor, PidfdGetfdOfTheListenerFails) {
  auto r = Attack({"getfd-listener", dir_.path()});
  EXPECT_THAT(r.out, HasSubstr("stolen: 0")) << r.err;
  EXPECT_THAT(r.out, HasSubstr("listener: no"));
  if (!GetParam().landlock) {
    EXPECT_THAT(r.out, HasSubstr("pidfd_open: EPERM"));
  } else {
    EXPECT_THAT(r.out, HasSubstr("pidfd_getfd: EPERM"));
  }
  ExpectPolicyHolds(r);
}

// A stopped supervisor would hold every intercepted call; a guest with a stolen listener would
// answer them itself.
TEST_P(GuestAgainstSupervisor, SigstopOfTheSupervisorFails) {
  ExpectAttackFails({"stop-supervisor", dir_.path()}, {"kill SIGSTOP: EPERM"});
}

TEST_P(GuestAgainstSupervisor, PtraceSeizeOfTheSupervisorFails) {
  ExpectAttackFails({"seize", dir_.path()}, {"seize: EPERM"});
}

// EFAULT would mean the access check passed and only the address was wrong.
TEST_P(GuestAgainstSupervisor, ProcessVmWritevIntoTheSupervisorFails) {
  ExpectAttackFails({"vm-write", dir_.path()},
                    {"process_vm_writev: EPERM", "process_vm_readv: EPERM"});
}

// Not dumpable: /proc/PID of hijackd belongs to root, whatever the Landlock layer does.
TEST_P(GuestAgainstSupervisor, ProcMemAndFdOfTheSupervisorAreClosed) {
  ExpectAttackFails({"proc-mem", dir_.path()}, {"open mem: EACCES", "opendir fd: EACCES"});
}

TEST_P(GuestAgainstSupervisor, KillOfAProcessOutsideTheTreeFails) {
  BackgroundProcess victim(AsGuestUser({"/bin/sleep", "600"}), dir_.path());
  auto r = Attack({"kill", std::to_string(victim.pid()), dir_.path()});
  EXPECT_THAT(r.out, HasSubstr("kill: EPERM")) << r.err;
  const char state = ProcessState(victim.pid());
  EXPECT_TRUE(state != 0 && state != 'Z') << "the victim was killed";
  ExpectPolicyHolds(r);
}

// SIGIO to an owner set with F_SETOWN: Landlock checks the owner when the signal is sent, the
// supervisor's refusal when the owner is set. hijackd does not handle SIGIO: delivered, it
// would end hijackd.
TEST_P(GuestAgainstSupervisor, SigioToTheSupervisorFails) {
  auto r = Attack({"sigio", dir_.path()});
  if (!GetParam().landlock) {
    EXPECT_THAT(r.out, HasSubstr("setown: EPERM")) << r.err;
  }
  EXPECT_THAT(r.out, HasSubstr("write: ok")) << r.err;
  ExpectPolicyHolds(r);
}

// Signal 0 checks permission without an effect, so the attack is safe to make even where
// protection fails. The supervisor refuses kill(-1) and kill(0) (the guest's process group
// holds hijackd and the test) outright; under Landlock both succeed without reaching anyone
// outside the domain (kill(2) of a group or of -1 reports success unless every target failed
// with something other than EPERM), which signal 0 cannot show: SigstopOfTheSupervisorFails
// and SigioToTheSupervisorFails show delivery. pidfd_send_signal accepts a /proc/PID directory
// in place of a pidfd.
TEST_P(GuestAgainstSupervisor, SignalProbesOutsideTheTreeFail) {
  auto r = Attack({"probe-signals", dir_.path()});
  EXPECT_THAT(r.out, HasSubstr("tkill: EPERM")) << r.err;
  EXPECT_THAT(r.out, HasSubstr("open /proc/PARENT: ok"));
  if (GetParam().landlock) {
    EXPECT_THAT(r.out, HasSubstr("pidfd_send_signal: EPERM"));
  } else {
    EXPECT_THAT(r.out, HasSubstr("kill -1: EPERM"));
    EXPECT_THAT(r.out, HasSubstr("kill 0: EPERM"));
    EXPECT_THAT(r.out, HasSubstr("pidfd_send_signal: ENOSYS"));
  }
  ExpectPolicyHolds(r);
}

// Landlock does not scope prlimit64: the guard refuses it on every kernel.
TEST_P(GuestAgainstSupervisor, PrlimitOfTheSupervisorFails) {
  ExpectAttackFails({"prlimit", dir_.path()}, {"prlimit: EPERM"});
}

// Nor does it scope the scheduler: a guest could pin hijackd to one CPU, or make it SCHED_IDLE.
TEST_P(GuestAgainstSupervisor, SchedSetaffinityOfTheSupervisorFails) {
  ExpectAttackFails({"sched", dir_.path()}, {"sched_setaffinity: EPERM"});
}

// The refusals must not reach into the guest's own tree.
TEST_P(GuestAgainstSupervisor, KillOfItsOwnChildStillWorks) {
  ExpectAttackFails({"kill-child", dir_.path()}, {"kill child: ok", "child: killed"});
}

// IORING_OP_OPENAT never passes through seccomp: without the refusal it opens what fs_guard
// denies.
TEST_P(GuestAgainstSupervisor, IoUringOpenatOfADeniedFileFails) {
  const std::string secret = dir_.Write("secret", "s3cret", 0644);
  const std::string policy = dir_.Write("fs.json", R"({"version": 1, "modules": [
      {"module": "fs_guard", "mode": "check", "errno": "EACCES",
       "rules": [{"deny": [")" + secret + R"("]}], "default": "allow"}]})");
  auto r = Hijackd(policy).Run({kAttack, "io-uring-open", secret});
  EXPECT_THAT(r.out, HasSubstr("io_uring_setup: ENOSYS")) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("io_uring openat: ok")));
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// hijackd run --allow-io-uring gives io_uring back, knowingly.
TEST_P(GuestAgainstSupervisor, AllowIoUringLetsTheRingRun) {
  const std::string file = dir_.Write("plain", "x", 0644);
  HijackdRun run = Hijackd(policy_);
  run.options.push_back("--allow-io-uring");
  auto r = run.Run({kAttack, "io-uring-open", file});
  EXPECT_THAT(r.out, HasSubstr("io_uring openat: ok")) << r.err;
}

// A filter of the guest's own with a listener would answer mkdir with CONTINUE before the
// supervisor sees it: SECCOMP_RET_USER_NOTIF outranks SECCOMP_RET_TRACE (ptrace), and the
// kernel itself refuses a second listener in one chain (EBUSY, notify).
TEST_P(GuestAgainstSupervisor, OwnSeccompListenerCannotAnswerForTheSupervisor) {
  ExpectAttackFails({"own-listener", dir_.path()}, {"seccomp listener: EBUSY"});
}

// The example plugin runs in hijack-policy-host; it is no more reachable than hijackd.
TEST_P(GuestAgainstSupervisor, ThePolicyHostIsOutOfReach) {
  const std::string policy = dir_.Write("plugin.json", std::string(R"({"version": 1, "modules": [
      {"module": "plugin", "path": ")") + kExamplePlugin + R"(",
       "config": {"deny": ["mkdir", "mkdirat"], "errno": 13}, "on_failure": "deny"}]})");
  chmod(policy.c_str(), 0644);
  auto r = Hijackd(policy).Run({kAttack, "host-seize"});
  ASSERT_THAT(r.out, HasSubstr("policy host: found")) << r.err;
  EXPECT_THAT(r.out, HasSubstr("seize: EPERM"));
  EXPECT_THAT(r.out, HasSubstr("open mem: EACCES"));
  EXPECT_THAT(r.out, HasSubstr("opendir fd: EACCES"));
}

TEST_P(GuestAgainstSupervisor, ReportNamesTheProtectionLayers) {
  auto r = Hijackd(policy_, /*quiet=*/false).Run({kAttack, "kill-child"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("hijackd: protection: not-dumpable"));
  if (GetParam().landlock) {
    EXPECT_THAT(r.err, HasSubstr("landlock-scope (ABI"));
    EXPECT_THAT(r.err, Not(HasSubstr("cross-tree-refusal")));
  } else {
    EXPECT_THAT(r.err, HasSubstr("cross-tree-refusal"));
    EXPECT_THAT(r.err, HasSubstr("no landlock-scope: turned off at launch"));
  }
  EXPECT_THAT(r.err, HasSubstr("io-uring-refused"));
}

// The same guest in a pid namespace of its own (--contain pidns, docs/security-tree.md): pids
// in its calls are the namespace's, so the supervisor's refusals must neither look them up in
// its own /proc (where they name unrelated processes) nor let the guest reach the namespace's
// init (pid 1, its parent there), and a process outside the namespace has no pid it can name.
class ContainedGuestAgainstSupervisor : public GuestAgainstSupervisor {};

INSTANTIATE_TEST_SUITE_P(Backends, ContainedGuestAgainstSupervisor,
                         ::testing::ValuesIn(Setups(/*contained=*/true)), Name);

// Its child's pid is the namespace's (3): the host's /proc/3 is some other process.
TEST_P(ContainedGuestAgainstSupervisor, KillOfItsOwnChildStillWorks) {
  ExpectAttackFails({"kill-child", dir_.path()}, {"kill child: ok", "child: killed"});
}

// The host pid of a process outside names nothing in the namespace.
TEST_P(ContainedGuestAgainstSupervisor, KillOfAProcessOutsideTheNamespaceFails) {
  BackgroundProcess victim(AsGuestUser({"/bin/sleep", "600"}), dir_.path());
  auto r = Attack({"kill", std::to_string(victim.pid()), dir_.path()});
  EXPECT_THAT(r.out, HasSubstr("kill: ESRCH")) << r.err;
  const char state = ProcessState(victim.pid());
  EXPECT_TRUE(state != 0 && state != 'Z') << "the victim was killed";
  ExpectPolicyHolds(r);
}

// Its parent is the init: stopping or tracing it, or changing its limits or CPUs, is refused as
// it is for hijackd itself (an init drops its namespace's signals without a handler, but the
// refusal must not depend on that).
TEST_P(ContainedGuestAgainstSupervisor, TheInitIsOutOfReach) {
  ExpectAttackFails({"stop-supervisor", dir_.path()}, {"kill SIGSTOP: EPERM"});
  ExpectAttackFails({"seize", dir_.path()}, {"seize: EPERM"});
  ExpectAttackFails({"prlimit", dir_.path()}, {"prlimit: EPERM"});
  ExpectAttackFails({"sched", dir_.path()}, {"sched_setaffinity: EPERM"});
}

// kill(0) reaches the guest's process group, which hijackd leads outside the namespace: the
// supervisor still asks its own /proc about the caller's group, not the namespace's.
TEST_P(ContainedGuestAgainstSupervisor, SignalProbesOfTheInitAndTheGroupFail) {
  auto r = Attack({"probe-signals", dir_.path()});
  EXPECT_THAT(r.out, HasSubstr("tkill: EPERM")) << r.err;
  EXPECT_THAT(r.out, HasSubstr("open /proc/PARENT: ok"));
  if (GetParam().landlock) {
    EXPECT_THAT(r.out, HasSubstr("pidfd_send_signal: EPERM"));
  } else {
    EXPECT_THAT(r.out, HasSubstr("kill 0: EPERM"));
    EXPECT_THAT(r.out, HasSubstr("pidfd_send_signal: ENOSYS"));
  }
  ExpectPolicyHolds(r);
}

// Calls of another ABI: the filter of the seccomp backends kills them (SIGSYS); ptrace-all
// kills the caller itself (SIGKILL) before the call runs.
class ForeignAbi : public GuestAgainstSupervisor {};

INSTANTIATE_TEST_SUITE_P(Backends, ForeignAbi,
                         ::testing::ValuesIn(Setups(/*contained=*/false, /*both_layers=*/false)),
                         Name);

TEST_P(ForeignAbi, Int80IsKilled) {
  const std::string secret = dir_.Write("secret", "s3cret", 0644);
  auto r = Hijackd(policy_).Run({kAttack, "int80", secret});
  const bool ptrace_all = KindOf(GetParam().backend) == BackendKind::kPtraceAll;
  EXPECT_EQ(r.exit_code, 128 + (ptrace_all ? SIGKILL : SIGSYS)) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("int80 open:")));
  if (ptrace_all) {
    EXPECT_THAT(r.err, HasSubstr("system call of another ABI (arch 0x40000003"));
  }
}

TEST_P(ForeignAbi, X32IsKilled) {
  auto r = Hijackd(policy_).Run({kAttack, "x32"});
  const bool ptrace_all = KindOf(GetParam().backend) == BackendKind::kPtraceAll;
  EXPECT_EQ(r.exit_code, 128 + (ptrace_all ? SIGKILL : SIGSYS)) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("x32 getpid:")));
}

// A policy that enforces nothing, fixed for the run: io_uring has nothing to escape from.
TEST(IoUringPolicy, AllowedUnderAFixedPolicyThatEnforcesNothing) {
  TempDir dir;
  const std::string stats = dir.Write("stats.json", R"({"version": 1, "modules": [
      {"module": "stats"}]})");
  const std::string file = dir.Write("plain", "x", 0644);
  HijackdRun run{.hijackd = kHijackd, .policy = stats, .quiet = true, .prefix = AsGuestUser({})};
  auto r = run.Run({kAttack, "io-uring-open", file});
  EXPECT_THAT(r.out, HasSubstr("io_uring openat: ok")) << r.err;
}

// Under hijackd serve a later SetPolicy may enforce, so io_uring is refused from the start, and
// hijackctl show names the layers.
TEST(IoUringPolicy, RefusedFromTheStartWhenThePolicyMayChange) {
  TempDir dir;
  chmod(dir.path().c_str(), 0777);
  const std::string stats = dir.Write("stats.json", R"({"version": 1, "modules": [
      {"module": "stats"}]})");
  const std::string file = dir.Write("plain", "x", 0644);
  const std::string socket = dir.path() + "/h.sock";
  BackgroundProcess serve(AsGuestUser({kHijackd, "serve", "--listen", "unix:" + socket}),
                          dir.path());
  const std::vector<std::string> ctl = {kHijackctl, "--connect", "unix:" + socket};
  auto Ctl = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = ctl;
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(AsGuestUser(argv));
  };
  ASSERT_TRUE(serve.WaitForOutput("listening on unix:" + socket, std::chrono::seconds(30)))
      << serve.Stderr();
  auto launched = Ctl({"launch", "--policy", stats, "--", kAttack, "io-uring-open", file});
  ASSERT_EQ(launched.exit_code, 0) << launched.err;
  // The guest's output is kept by the daemon for `hijackctl logs`.
  EXPECT_TRUE(Eventually(
      [&] {
        auto logs = Ctl({"logs", "1"});
        return (logs.out + logs.err).find("io_uring_setup: ENOSYS") != std::string::npos;
      },
      std::chrono::seconds(30)))
      << serve.Stdout() << serve.Stderr();
  auto show = Ctl({"show", "1"});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_THAT(show.out, ::testing::ContainsRegex("protection: +not-dumpable +on"));
  EXPECT_THAT(show.out, ::testing::ContainsRegex("protection: +io-uring-refused +on .*from the "
                                                 "start"));
  EXPECT_THAT(show.out, ::testing::ContainsRegex("protection: +landlock-scope +(on|off)"));
}

TEST(HijackdCheck, SaysWhichLayersThisKernelGives) {
  TempDir dir;
  const std::string policy = dir.Write("p.json", R"({"version": 1, "modules": [
      {"module": "stats"}]})");
  auto r = RunProcess({kHijackd, "check", policy});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("protection on this kernel:"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("not-dumpable +on"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("landlock-scope +(on|off)"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("io-uring-refused +on"));
}

}  // namespace
}  // namespace hijack::testing
