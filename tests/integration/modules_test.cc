// The policy modules (fs_guard, net_guard, exec_guard, ratelimit, fault, plugin) deciding the
// calls of real guests under `hijackd run`. Every decision test is parameterized over the
// backends this build knows (BackendNames()); fs_guard strict runs where the backend
// can inject descriptors, and must be refused at launch elsewhere.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <regex>
#include <thread>

#include "tests/support/backend_guest.h"
#include "tests/support/backend_params.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/programs.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kGuest = HIJACK_TEST_MODULES_GUEST;

class ModulesTest : public ::testing::TestWithParam<std::string> {
 protected:
  // hijackd run --backend <param> --quiet --policy <json> -- command...
  ProcessResult Run(const std::string& policy_json, std::vector<std::string> command,
                    bool quiet = true) {
    const std::string policy =
        WritePolicy(dir_, "policy" + std::to_string(++policies_) + ".json", policy_json);
    return HijackdRun{.hijackd = kHijackd, .backend = GetParam(), .policy = policy, .quiet = quiet}
        .Run(command);
  }
  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  TempDir dir_;
  int policies_ = 0;
};

// ---- fs_guard ----

TEST_P(ModulesTest, FsGuardCheckDeniesByResolvedPath) {
  dir_.Write("secret", "SECRET");
  dir_.Write("public", "public");
  symlink("secret", Path("link-to-secret").c_str());
  mkdir(Path("sub").c_str(), 0755);
  const std::string policy =
      R"({"module": "fs_guard", "mode": "check", "deny": [")" + Path("secret") + R"("]})";
  EXPECT_THAT(Run(policy, {kGuest, "open", Path("public"), "r"}).out, HasSubstr("open: ok"));
  EXPECT_THAT(Run(policy, {kGuest, "open", Path("secret"), "r"}).out, HasSubstr("open: EACCES"));
  // A symlink, "..", and "." are resolved before the rules see the path.
  EXPECT_THAT(Run(policy, {kGuest, "open", Path("link-to-secret"), "r"}).out,
              HasSubstr("open: EACCES"));
  EXPECT_THAT(Run(policy, {kGuest, "open", Path("sub/.././secret"), "r"}).out,
              HasSubstr("open: EACCES"));
  // A missing file is the kernel's ENOENT, not a denial.
  EXPECT_THAT(Run(policy, {kGuest, "open", Path("missing"), "r"}).out, HasSubstr("open: ENOENT"));
}

TEST_P(ModulesTest, FsGuardResolvesRelativePathsAgainstTheGuestsCwd) {
  dir_.Write("secret", "SECRET");
  const std::string policy = R"({"module": "fs_guard", "deny": [")" + Path("secret") + R"("]})";
  auto r = Run(policy, {"/bin/sh", "-c", "cd " + dir_.path() + " && cat secret"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("Permission denied"));
  r = Run(policy, {"/bin/sh", "-c",
                   "cd " + dir_.path() + " && cat ./../" +
                       dir_.path().substr(dir_.path().rfind('/') + 1) + "/secret"});
  EXPECT_THAT(r.err, HasSubstr("Permission denied"));
}

TEST_P(ModulesTest, FsGuardAccessKinds) {
  dir_.Write("ro", "read only");
  mkdir(Path("box").c_str(), 0755);
  const std::string policy = R"({"module": "fs_guard", "rules": [
      {"deny": [")" + Path("ro") +
                             R"("], "access": ["write"]},
      {"deny": [")" + Path("box") +
                             R"(/**"], "access": ["create"]}]})";
  EXPECT_THAT(Run(policy, {kGuest, "open", Path("ro"), "r"}).out, HasSubstr("content: read only"));
  EXPECT_THAT(Run(policy, {kGuest, "open", Path("ro"), "w"}).out, HasSubstr("open: EACCES"));
  EXPECT_THAT(Run(policy, {kGuest, "open", Path("ro"), "rw"}).out, HasSubstr("open: EACCES"));
  auto ops = Run(policy, {kGuest, "fs-ops", Path("box")}).out;
  EXPECT_THAT(ops, HasSubstr("create: EACCES"));
  EXPECT_THAT(ops, HasSubstr("mkdir: EACCES"));
  const std::string no_unlink = R"({"module": "fs_guard", "rules": [
      {"deny": [")" + Path("box") +
                                R"(/"], "access": ["unlink"]}]})";
  ops = Run(no_unlink, {kGuest, "fs-ops", Path("box")}).out;
  EXPECT_THAT(ops, HasSubstr("create: ok"));
  EXPECT_THAT(ops, HasSubstr("mkdir: ok"));
  EXPECT_THAT(ops, HasSubstr("rename: EACCES"));  // rename unlinks the old name
  EXPECT_THAT(ops, HasSubstr("rmdir: EACCES"));
}

TEST_P(ModulesTest, FsGuardAllowListDeniesEverythingElse) {
  dir_.Write("ok", "fine");
  dir_.Write("other", "nope");
  const std::string policy = R"({"module": "fs_guard", "rules": [
      {"allow": ["/usr/**", "/lib/**", "/lib64/**", "/etc/ld.so.cache", ")" +
                             std::string(kGuest) + R"(", ")" + Path("ok") +
                             R"("], "access": ["read", "exec"]}]})";
  EXPECT_THAT(Run(policy, {kGuest, "open", Path("ok"), "r"}).out, HasSubstr("content: fine"));
  EXPECT_THAT(Run(policy, {kGuest, "open", Path("other"), "r"}).out, HasSubstr("open: EACCES"));
  // The guest's own descriptors re-opened by name (/dev/stdin is a pipe here) are not paths.
  EXPECT_THAT(Run(policy, {kGuest, "open", "/dev/stdin", "r"}).out, HasSubstr("open: ok"));
}

TEST_P(ModulesTest, FsGuardStrictInjectsTheDescriptorOrIsRefused) {
  dir_.Write("secret", "SECRET");
  dir_.Write("public", "public");
  const std::string policy =
      R"({"module": "fs_guard", "mode": "strict", "deny": [")" + Path("secret") + R"("]})";
  if (!BackendCanInjectFd(GetParam())) {
    auto r = Run(policy, {kGuest, "open", Path("public"), "r"});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr("/modules/0 (fs_guard): needs the notify backend"));
    EXPECT_THAT(r.out, Not(HasSubstr("open:")));
    return;
  }
  EXPECT_THAT(Run(policy, {kGuest, "open", Path("public"), "r"}).out, HasSubstr("content: public"));
  EXPECT_THAT(Run(policy, {kGuest, "open", Path("secret"), "r"}).out, HasSubstr("open: EACCES"));
  // Creates happen in the supervisor with the guest's umask (022 here) and mode.
  auto r =
      RunProcess({"/bin/sh", "-c",
                  "umask 027; exec " + ShellQuote(kHijackd) + " run --backend " + GetParam() +
                      " --quiet --policy " +
                      dir_.Write("strict.json", R"({"version": 1, "modules": [)" + policy + "]}") +
                      " -- " + ShellQuote(kGuest) + " open " + Path("new") + " c"});
  EXPECT_THAT(r.out, HasSubstr("open: ok"));
  EXPECT_THAT(r.out, HasSubstr("mode: 640"));
  EXPECT_THAT(Run(policy, {kGuest, "open", Path("new"), "x"}).out, HasSubstr("open: EEXIST"));
  // Whole programs run with their opens served by the supervisor: relative paths against the
  // guest's cwd, directories, appends through the shell.
  auto cat = Run(policy, {"/bin/cat", Path("public")});
  EXPECT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_EQ(cat.out, "public");
  auto sh = Run(policy, {"/bin/sh", "-c",
                         "cd " + dir_.path() +
                             " && cat public && echo more >> public && ls && "
                             "cat ./secret"});
  EXPECT_THAT(sh.out, HasSubstr("public"));
  EXPECT_THAT(sh.out, HasSubstr("secret"));  // listed by ls: the directory itself is allowed
  EXPECT_THAT(sh.err, HasSubstr("secret: Permission denied"));
  EXPECT_EQ(ReadFile(Path("public")), "publicmore\n");
}

TEST_P(ModulesTest, FsGuardStrictNeverOpensTheDeniedFileWhileAThreadSwapsThePath) {
  if (!BackendCanInjectFd(GetParam())) {
    GTEST_SKIP() << "strict mode needs a backend that injects descriptors";
  }
  dir_.Write("allowed", "allowed");
  dir_.Write("secret", "SECRET");
  const std::string policy =
      R"({"module": "fs_guard", "mode": "strict", "deny": [")" + Path("secret") + R"("]})";
  // The swapper's links and renames are judged too, as fast as it can make them: each open waits
  // behind a flood of them, ~3 ms apiece here, twenty times that in an instrumented build.
#if defined(HIJACK_SANITIZED_BUILD)
  const char* opens = "400";
#else
  const char* opens = "3000";
#endif
  auto r = Run(policy, {kGuest, "path-race", dir_.path(), opens});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("allowed=(\\d+) secret=(\\d+) denied=(\\d+)")))
      << r.out;
  EXPECT_EQ(std::stoi(m[2]), 0) << r.out;  // the denied file was never opened
  EXPECT_GT(std::stoi(m[1]), 0) << r.out;  // the race really alternated
  EXPECT_GT(std::stoi(m[3]), 0) << r.out;
}

// ---- net_guard ----

TEST_P(ModulesTest, NetGuardByFamilyCidrAndPort) {
  const std::string policy = R"({"module": "net_guard",
      "connect_allow": ["127.0.0.0/8:1000-2000", "[::1]:53"],
      "bind_deny": ["*:1-1023"],
      "send_deny": ["10.0.0.0/8", "inet6"]})";
  auto out = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {kGuest, "net"});
    return Run(policy, args).out;
  };
  EXPECT_THAT(out({"inet", "connect", "127.0.0.1", "1500"}), HasSubstr("connect: ok"));
  EXPECT_THAT(out({"inet", "connect", "127.0.0.1", "2001"}), HasSubstr("connect: EACCES"));
  EXPECT_THAT(out({"inet", "connect", "192.0.2.1", "1500"}), HasSubstr("connect: EACCES"));
  EXPECT_THAT(out({"inet6", "connect", "::1", "53"}), HasSubstr("connect: ok"));
  // An IPv4-mapped IPv6 address is IPv4 for the rules.
  EXPECT_THAT(out({"inet6", "connect", "::ffff:127.0.0.1", "1500"}), HasSubstr("connect: ok"));
  EXPECT_THAT(out({"inet", "bind", "127.0.0.1", "80"}), HasSubstr("bind: EACCES"));
  EXPECT_THAT(out({"inet", "bind", "127.0.0.1", "0"}), HasSubstr("bind: ok"));  // ephemeral
  EXPECT_THAT(out({"inet", "sendto", "10.1.2.3", "9"}), HasSubstr("sendto: EACCES"));
  EXPECT_THAT(out({"inet", "sendmsg", "10.1.2.3", "9"}), HasSubstr("sendmsg: EACCES"));
  EXPECT_THAT(out({"inet", "sendto", "127.0.0.1", "9"}), HasSubstr("sendto: ok"));
  EXPECT_THAT(out({"inet6", "sendto", "::1", "9"}), HasSubstr("sendto: EACCES"));
}

TEST_P(ModulesTest, NetGuardUnixSocketPaths) {
  const std::string policy = R"({"module": "net_guard", "connect_deny": ["unix:)" + dir_.path() +
                             R"(/*.sock"], "errno": "ECONNREFUSED"})";
  // Denied before the kernel looks: ECONNREFUSED; elsewhere the kernel's ENOENT.
  EXPECT_THAT(Run(policy, {kGuest, "unix-connect", Path("app.sock")}).out,
              HasSubstr("connect: ECONNREFUSED"));
  EXPECT_THAT(Run(policy, {kGuest, "unix-connect", Path("app.other")}).out,
              HasSubstr("connect: ENOENT"));
}

// ---- exec_guard ----

TEST_P(ModulesTest, ExecGuardAllowsByResolvedPathAndLogsArgv) {
  std::string log = Path("execs.jsonl");
  symlink("/usr/bin/true", Path("alias").c_str());
  const std::string policy = R"({"module": "exec_guard", "allow": ["/usr/bin/true", ")" +
                             std::string(kGuest) + R"("], "log": ")" + log + R"("})";
  auto r = Run(policy, {kGuest, "exec", "/usr/bin/true", "first", "second"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Run(policy, {kGuest, "exec", Path("alias")});  // a symlink to an allowed program
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Run(policy, {kGuest, "exec", "/usr/bin/false"});
  EXPECT_THAT(r.out, HasSubstr("exec: EACCES"));
  std::string logged = ReadFile(log);
  EXPECT_THAT(logged, HasSubstr(R"("argv":["/usr/bin/true","first","second"])"));
  EXPECT_THAT(logged, HasSubstr(R"("decision":"fail","errno":"EACCES")"));
}

// ---- ratelimit ----

// Receives UDP datagrams on four loopback ports and counts them per port.
class UdpReceivers {
 public:
  UdpReceivers() {
    for (int& fd : fds_) {
      fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
      socklen_t len = sizeof a;
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
      ports_.push_back(ntohs(a.sin_port));
    }
    thread_ = std::thread([this] {
      char buf[64];
      while (!stop_) {
        pollfd p[4];
        for (int i = 0; i < 4; ++i) {
          p[i] = {fds_[i], POLLIN, 0};
        }
        poll(p, 4, 50);
        for (int i = 0; i < 4; ++i) {
          while (recv(fds_[i], buf, sizeof buf, 0) > 0) {
            ++counts_[i];
          }
        }
      }
    });
  }
  ~UdpReceivers() {
    stop_ = true;
    thread_.join();
    for (int fd : fds_) {
      close(fd);
    }
  }
  std::vector<std::string> Ports() const {
    std::vector<std::string> out;
    for (int p : ports_) {
      out.push_back(std::to_string(p));
    }
    return out;
  }
  long Count(int i) const { return counts_[i].load(); }
  std::string Bucket(int i, int rate, int priority) const {
    return R"({"name": "p)" + std::to_string(priority) +
           R"(", "syscalls": ["sendto"], "to": ["127.0.0.1:)" +
           std::to_string(ports_[static_cast<size_t>(i)]) + R"("], "rate": )" +
           std::to_string(rate) + R"(, "burst": 1, "priority": )" + std::to_string(priority) + "}";
  }

 private:
  int fds_[4];
  std::vector<int> ports_;
  std::atomic<long> counts_[4] = {};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_P(ModulesTest, RateLimitRatesPerStreamFollowTheBuckets) {
  UdpReceivers rx;
  // Rates far below what even a loaded machine can send, so the buckets are the bottleneck.
  std::string policy = R"({"module": "ratelimit", "buckets": [)" + rx.Bucket(0, 160, 0) + "," +
                       rx.Bucket(1, 80, 0) + "," + rx.Bucket(2, 40, 0) + "," + rx.Bucket(3, 20, 0) +
                       "]}";
  std::vector<std::string> cmd = {kGuest, "udp-streams", "3000"};
  for (const auto& p : rx.Ports()) {
    cmd.push_back(p);
  }
  auto r = Run(policy, cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  usleep(200'000);  // the last datagrams in flight on loopback
  const double base = static_cast<double>(rx.Count(3));
  ASSERT_GT(base, 20) << r.out;
  // Ratios between streams measured over the same interval: 8:4:2:1.
  EXPECT_NEAR(rx.Count(0) / base, 8.0, 8.0 * 0.2) << r.out;
  EXPECT_NEAR(rx.Count(1) / base, 4.0, 4.0 * 0.2) << r.out;
  EXPECT_NEAR(rx.Count(2) / base, 2.0, 2.0 * 0.2) << r.out;
}

TEST_P(ModulesTest, RateLimitPrioritiesKeepTheHighStreamsUnderOverload) {
  UdpReceivers rx;
  // Four streams that each want 75/s (and send far more) share 200/s: priorities 0 and 1 keep
  // their 75, priority 2 gets the remaining 50, priority 3 is squeezed to the 1% floor. The rates
  // are far below what a loaded machine can send, so the buckets are the bottleneck.
  std::string policy = R"({"module": "ratelimit", "total": {"rate": 200}, "buckets": [)" +
                       rx.Bucket(0, 75, 0) + "," + rx.Bucket(1, 75, 1) + "," + rx.Bucket(2, 75, 2) +
                       "," + rx.Bucket(3, 75, 3) + "]}";
  std::vector<std::string> cmd = {kGuest, "udp-streams", "4000"};
  for (const auto& p : rx.Ports()) {
    cmd.push_back(p);
  }
  auto r = Run(policy, cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  usleep(200'000);
  const double top = static_cast<double>(rx.Count(0));
  ASSERT_GT(top, 150) << r.out;
  EXPECT_NEAR(rx.Count(1) / top, 1.0, 0.15) << r.out;
  EXPECT_NEAR(rx.Count(2) / top, 2.0 / 3.0, 0.2) << r.out;
  EXPECT_LT(rx.Count(3) / top, 0.15) << r.out;
}

// A bucket that needs only its own arithmetic goes to the guest's executive page under the agent
// (notify): the agent waits for tokens inline. Whichever way the calls go, they keep the rate,
// and write() and writev() share one budget: 60 calls at 200/s with burst 1 take at least 59
// intervals of 5 ms (a lower bound; a loaded machine only makes it slower).
TEST_P(ModulesTest, RateLimitBucketSharedByTwoCallsHoldsOnEveryPath) {
  auto r = Run(R"({"module": "ratelimit", "syscalls": ["write", "writev"], "rate": 200,
                   "burst": 1})",
               {kGuest, "paced-writes", "60", "alternate"}, /*quiet=*/false);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(60 calls in (\d+) ns)"))) << r.out;
  EXPECT_GE(std::stoll(m[1]), 59LL * 5'000'000 * 95 / 100) << r.out;
  if (KindOf(GetParam()) == BackendKind::kNotify) {
    // Both calls ran in the guest: the agent shaped them, not the supervisor.
    std::smatch agent;
    ASSERT_TRUE(std::regex_search(r.err, agent, std::regex("hijackd: agent: ([a-z0-9_,]+)")))
        << r.err;
    EXPECT_THAT(agent[1].str(), HasSubstr("write"));
    EXPECT_THAT(agent[1].str(), HasSubstr("writev"));
  } else {
    EXPECT_THAT(r.err, Not(HasSubstr("hijackd: agent:")));
  }
}

// A bucket with destination rules needs the supervisor (it reads the address), so the agent
// leaves its calls alone.
TEST_P(ModulesTest, RateLimitBucketWithAddressesStaysWithTheSupervisor) {
  auto r = Run(R"({"module": "ratelimit", "buckets": [
                   {"syscalls": ["sendto"], "to": ["127.0.0.1:9"], "rate": 5},
                   {"syscalls": ["write"], "rate": 100000}]})",
               {kGuest, "paced-writes", "4", "write-only"}, /*quiet=*/false);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  if (KindOf(GetParam()) == BackendKind::kNotify) {
    std::smatch agent;
    ASSERT_TRUE(std::regex_search(r.err, agent, std::regex("hijackd: agent: ([a-z0-9_,]+)")))
        << r.err;
    EXPECT_THAT(agent[1].str(), HasSubstr("write"));
    EXPECT_THAT(agent[1].str(), Not(HasSubstr("sendto")));
  }
}

TEST_P(ModulesTest, RateLimitFailModeGivesEagain) {
  auto r = Run(R"({"module": "ratelimit", "syscalls": ["getppid"], "rate": 1, "burst": 5,
                   "over_limit": "fail"})",
               {kGuest, "getppid", "50"});
  EXPECT_THAT(r.out, HasSubstr("getppid: ok=5 failed=45 errno=EAGAIN"));
}

// ---- fault ----

TEST_P(ModulesTest, FaultSameSeedGivesTheSameFailuresTwice) {
  dir_.Write("data", "x");
  auto policy = [&](int seed) {
    return R"({"module": "fault", "syscall": "openat", "errno": "EIO", "probability": 0.3,
               "seed": )" +
           std::to_string(seed) + R"(, "path": ")" + Path("*") + R"("})";
  };
  auto first = Run(policy(7), {kGuest, "open-loop", Path("data"), "200"});
  auto second = Run(policy(7), {kGuest, "open-loop", Path("data"), "200"});
  auto other = Run(policy(8), {kGuest, "open-loop", Path("data"), "200"});
  ASSERT_THAT(first.out, HasSubstr("open-loop: "));
  EXPECT_EQ(first.out, second.out);
  EXPECT_NE(first.out, other.out);
  const auto fails = std::count(first.out.begin(), first.out.end(), 'x');
  EXPECT_GT(fails, 30) << first.out;
  EXPECT_LT(fails, 90) << first.out;
}

TEST_P(ModulesTest, FaultAfterAndTimesBoundTheHits) {
  dir_.Write("data", "x");
  auto r = Run(R"({"module": "fault", "syscall": "openat", "errno": "EIO", "after": 3,
                   "times": 2, "path": ")" +
                   Path("data") + R"("})",
               {kGuest, "open-loop", Path("data"), "8"});
  EXPECT_THAT(r.out, HasSubstr("open-loop: ...xx..."));
}

TEST_P(ModulesTest, FaultShortReads) {
  dir_.Write("data", std::string(20, 'a'));
  auto r = Run(R"({"module": "fault", "syscall": "read", "short": 3, "times": 2, "path": ")" +
                   Path("data") + R"("})",
               {kGuest, "read-sizes", Path("data")});
  EXPECT_THAT(r.out, HasSubstr("reads: 3,3,14"));
}

// ---- plugins ----

std::string PluginPolicy(const std::string& path, const std::string& config,
                         const std::string& on_failure) {
  return R"({"module": "plugin", "path": ")" + path + R"(", "config": )" + config +
         R"(, "on_failure": ")" + on_failure + R"("})";
}

TEST_P(ModulesTest, ExamplePluginDecidesOutOfProcess) {
  auto r = Run(
      PluginPolicy(HIJACK_TEST_EXAMPLE_PLUGIN, R"({"deny": ["getppid"], "errno": 33})", "allow"),
      {kGuest, "getppid", "20"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("getppid: ok=0 failed=20 errno=EDOM"));
}

TEST_P(ModulesTest, CrashingPluginLeavesHijackdUpAndOnFailureApplies) {
  for (const char* crash : {"segv", "abort"}) {
    std::string config = std::string(R"({"crash": ")") + crash + R"("})";
    auto denied =
        Run(PluginPolicy(HIJACK_TEST_CRASHING_PLUGIN, config, "deny"), {kGuest, "getppid", "5"});
    EXPECT_EQ(denied.exit_code, 0) << denied.err;  // the guest ran to its end
    EXPECT_THAT(denied.out, HasSubstr("getppid: ok=0 failed=5 errno=EPERM")) << crash;
    auto allowed =
        Run(PluginPolicy(HIJACK_TEST_CRASHING_PLUGIN, config, "allow"), {kGuest, "getppid", "5"});
    EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
    EXPECT_THAT(allowed.out, HasSubstr("getppid: ok=5 failed=0")) << crash;
    EXPECT_THAT(allowed.err, HasSubstr("policy host"));
  }
}

TEST_P(ModulesTest, HungPluginTimesOutAndOnFailureApplies) {
  auto r = Run(R"({"module": "plugin", "path": ")" + std::string(HIJACK_TEST_CRASHING_PLUGIN) +
                   R"(", "config": {"crash": "hang"}, "on_failure": "deny", "errno": "EACCES",
                   "timeout_ms": 50})",
               {kGuest, "getppid", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("getppid: ok=0 failed=3 errno=EACCES"));
  EXPECT_THAT(r.err, HasSubstr("did not answer"));
}

struct BadPolicy {
  std::string json;
  std::string message;
};

TEST_P(ModulesTest, ValidationErrorsNameTheJsonPathAndStartNothing) {
  const std::string example = HIJACK_TEST_EXAMPLE_PLUGIN;
  const std::vector<BadPolicy> cases = {
      {R"({"module": "fs_guard", "deny": ["relative/path"]})",
       "/modules/0/deny/0: path pattern \"relative/path\" must be absolute"},
      {R"({"module": "fs_guard", "rules": [{"deny": ["/x"], "access": ["rede"]}]})",
       "/modules/0/rules/0/access/0: unknown access \"rede\""},
      {R"({"module": "fs_guard", "rules": [{"deny": ["/x"], "allow": ["/y"]}]})",
       "/modules/0/rules/0: a rule has exactly one of"},
      {R"({"module": "fs_guard", "deny": ["/x"], "mode": "strickt"})",
       "/modules/0/mode: expected \"check\" or \"strict\""},
      {R"({"module": "fs_guard", "deny": ["/x"], "rulez": []})", "/modules/0/rulez: unknown key"},
      {R"({"module": "net_guard", "connect_allow": ["example.com"]})",
       "/modules/0/connect_allow/0: address rule \"example.com\""},
      {R"({"module": "net_guard", "bind_deny": ["10.0.0.0/33"]})",
       "/modules/0/bind_deny/0: address rule \"10.0.0.0/33\": an IPv4 prefix length"},
      {R"({"module": "net_guard", "connect_allow": ["*:70000"]})",
       "/modules/0/connect_allow/0: address rule \"*:70000\": bad port"},
      {R"({"module": "exec_guard", "allow": "/bin/*", "default": "maybe"})",
       "/modules/0/default: expected \"allow\" or \"deny\""},
      {R"({"module": "ratelimit", "syscalls": ["sendto"], "rate": -1})",
       "/modules/0/rate: -1 is out of range (expected 0.001 .. 1000000000)"},
      {R"({"module": "ratelimit", "buckets": [{"syscalls": ["sendto"], "rate": 5, "priority": 9}]})",
       "/modules/0/buckets/0/priority: expected 0 (highest) .. 7"},
      {R"({"module": "ratelimit", "buckets": [{"syscalls": ["sendto"], "rate": 5, "to": ["x"]}]})",
       "/modules/0/buckets/0/to/0: address rule \"x\""},
      {R"({"module": "fault", "syscall": "opne"})", "/modules/0/syscall: unknown syscall \"opne\""},
      {R"({"module": "fault", "syscall": "openat", "probability": 2})",
       "/modules/0/probability: expected a number in 0..1"},
      {R"({"module": "fault", "syscall": "openat", "short": 1})",
       "/modules/0/short: applies to read"},
      {PluginPolicy(HIJACK_TEST_WRONG_ABI_PLUGIN, "{}", "deny"),
       std::string("/modules/0/path: plugin ") + HIJACK_TEST_WRONG_ABI_PLUGIN +
           ": wrong ABI version 99 (this hijackd speaks 1)"},
      {PluginPolicy(HIJACK_TEST_NO_SYMBOL_PLUGIN, "{}", "deny"),
       std::string("/modules/0/path: plugin ") + HIJACK_TEST_NO_SYMBOL_PLUGIN +
           ": does not export the symbol hijack_plugin_v1"},
      {PluginPolicy(example, R"({"errno": 0})", "deny"),
       "/modules/0/path: plugin " + example + ": create failed: \"errno\" must be a number"},
      {PluginPolicy("/nonexistent/libp.so", "{}", "deny"),
       "/modules/0/path: plugin /nonexistent/libp.so: cannot be loaded"},
      {PluginPolicy(example, "{}", "sometimes"), "/modules/0/on_failure: expected \"deny\""},
  };
  const std::string marker = Path("guest-started");
  for (const auto& c : cases) {
    auto r = Run(c.json, {"/bin/sh", "-c", "touch " + marker});
    EXPECT_EQ(r.exit_code, 2) << c.json;
    EXPECT_THAT(r.err, HasSubstr(c.message)) << c.json;
  }
  struct stat st {};
  EXPECT_NE(stat(marker.c_str(), &st), 0) << "a guest was started under a bad policy";
}

INSTANTIATE_TEST_SUITE_P(Backends, ModulesTest, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

}  // namespace
}  // namespace hijack::testing
