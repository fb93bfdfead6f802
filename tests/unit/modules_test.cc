// Unit tests of the policy modules' building blocks, without guests.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "daemon/modules/builtin.h"
#include "daemon/modules/fault/fault_module.h"
#include "daemon/modules/fs_guard/fs_guard_module.h"
#include "daemon/modules/fs_guard/guest_path.h"
#include "daemon/modules/fs_guard/path_pattern.h"
#include "daemon/modules/net_guard/address_rule.h"
#include "daemon/modules/plugin/policy_host_client.h"
#include "daemon/modules/ratelimit/ratelimit_module.h"
#include "daemon/modules/stats/stats_module.h"
#include "daemon/policy/admission.h"
#include "daemon/policy/policy_set.h"
#include "daemon/syscalls/syscall_table.h"
#include "hijack/exec_page.h"
#include "tests/support/fake_guest_memory.h"

namespace hijack::modules {
namespace {

using ::testing::HasSubstr;

TEST(PathPattern, GlobsAndPrefixes) {
  auto p = [](const char* s) { return *PathPattern::Parse(s); };
  EXPECT_TRUE(p("/etc/shadow").Matches("/etc/shadow"));
  EXPECT_FALSE(p("/etc/shadow").Matches("/etc/shadow-"));
  EXPECT_TRUE(p("/home/*/.ssh/**").Matches("/home/ann/.ssh/id_ed25519"));
  EXPECT_TRUE(p("/home/*/.ssh/**").Matches("/home/ann/.ssh"));
  EXPECT_FALSE(p("/home/*/.ssh/**").Matches("/home/ann/x/.ssh/key"));
  EXPECT_TRUE(p("/root/").Matches("/root"));
  EXPECT_TRUE(p("/root/").Matches("/root/a/b"));
  EXPECT_FALSE(p("/root/").Matches("/rootkit"));
  EXPECT_TRUE(p("/tmp/*.txt").Matches("/tmp/a.txt"));
  EXPECT_FALSE(p("/tmp/*.txt").Matches("/tmp/d/a.txt"));
  EXPECT_TRUE(p("/tmp/**.txt").Matches("/tmp/d/a.txt"));
  EXPECT_TRUE(p("/dev/tty?").Matches("/dev/tty1"));
  EXPECT_TRUE(p("/").Matches("/anything/at/all"));
  EXPECT_FALSE(PathPattern::Parse("etc/passwd"));
  EXPECT_FALSE(PathPattern::Parse(""));
}

SocketAddress Ip(int family, const char* ip, uint16_t port) {
  SocketAddress a;
  a.family = family;
  inet_pton(family, ip, a.ip.data());
  a.port = port;
  return a;
}

SocketAddress V4(const char* ip, uint16_t port) { return Ip(AF_INET, ip, port); }
SocketAddress V6(const char* ip, uint16_t port) { return Ip(AF_INET6, ip, port); }

TEST(AddressRule, FamiliesCidrsPortsAndUnixPaths) {
  auto r = [](const char* s) {
    auto rule = AddressRule::Parse(s);
    EXPECT_TRUE(rule) << s << ": " << rule.error().message;
    return *rule;
  };
  EXPECT_TRUE(r("127.0.0.0/8").Matches(V4("127.1.2.3", 80)));
  EXPECT_FALSE(r("127.0.0.0/8").Matches(V4("128.0.0.1", 80)));
  EXPECT_TRUE(r("10.0.0.0/8:8000-8999").Matches(V4("10.9.9.9", 8080)));
  EXPECT_FALSE(r("10.0.0.0/8:8000-8999").Matches(V4("10.9.9.9", 9000)));
  EXPECT_TRUE(r("192.168.1.7").Matches(V4("192.168.1.7", 1)));
  EXPECT_FALSE(r("192.168.1.7").Matches(V4("192.168.1.8", 1)));
  EXPECT_TRUE(r("::1").Matches(V6("::1", 53)));
  EXPECT_TRUE(r("[2001:db8::/32]:443").Matches(V6("2001:db8:1::5", 443)));
  EXPECT_FALSE(r("[2001:db8::/32]:443").Matches(V6("2001:db9::5", 443)));
  EXPECT_TRUE(r("127.0.0.0/8").Matches(V6("::ffff:127.0.0.1", 1)));  // v4-mapped
  EXPECT_TRUE(r("*:53").Matches(V6("fe80::1", 53)));
  EXPECT_FALSE(r("*:53").Matches(V4("1.1.1.1", 54)));
  EXPECT_TRUE(r("inet6").Matches(V6("::1", 1)));
  EXPECT_FALSE(r("inet6").Matches(V4("127.0.0.1", 1)));
  SocketAddress u;
  u.family = AF_UNIX;
  u.unix_path = "/run/app/db.sock";
  EXPECT_TRUE(r("unix:/run/app/*.sock").Matches(u));
  EXPECT_TRUE(r("unix").Matches(u));
  EXPECT_FALSE(r("unix:@*").Matches(u));
  u.unix_path = "@dbus-1";
  EXPECT_TRUE(r("unix:@dbus*").Matches(u));
  EXPECT_TRUE(r("any").Matches(u));
  for (const char* bad : {"example.com", "10.0.0.0/33", "::1/129", "*:70000", "1.2.3.4:9-1",
                          "unix:relative", "[::1"}) {
    EXPECT_FALSE(AddressRule::Parse(bad)) << bad;
  }
}

std::shared_ptr<policy::PolicySet> Load(const std::string& modules) {
  auto set = policy::PolicySet::FromText(R"({"version": 1, "modules": [)" + modules + "]}", "test",
                                         modules::BuiltInModules());
  EXPECT_TRUE(set) << set.error().message;
  return set ? *set : nullptr;
}

TEST(FsGuard, FirstMatchingRuleDecidesEachAccessKind) {
  auto set = Load(R"({"module": "fs_guard", "rules": [
      {"allow": ["/home/ann/pub/**"]},
      {"deny": ["/home/**"], "access": ["read", "write"]},
      {"deny": ["/usr/bin/sudo"], "access": ["exec"]}], "default": "allow"})");
  auto* m = dynamic_cast<FsGuardModule*>(set->modules()[0].get());
  ASSERT_NE(m, nullptr);
  EXPECT_TRUE(m->Allows("/home/ann/pub/x", kAccessRead | kAccessWrite));
  EXPECT_FALSE(m->Allows("/home/ann/private", kAccessRead));
  EXPECT_TRUE(m->Allows("/home/ann/private", kAccessCreate));  // no rule on create: default
  EXPECT_FALSE(m->Allows("/home/ann/private", kAccessRead | kAccessCreate));
  EXPECT_FALSE(m->Allows("/usr/bin/sudo", kAccessExec));
  EXPECT_TRUE(m->Allows("/usr/bin/sudo", kAccessRead));
  // Only the calls of access kinds some rule can deny are intercepted.
  EXPECT_TRUE(m->Syscalls().Contains(SCMP_SYS(openat)));
  EXPECT_TRUE(m->Syscalls().Contains(SCMP_SYS(execve)));
  EXPECT_FALSE(m->Syscalls().Contains(SCMP_SYS(unlinkat)));
  EXPECT_FALSE(m->Syscalls().Contains(SCMP_SYS(mkdir)));
}

// attr (a change of a file's metadata) is a kind of its own: a rule without an access list
// covers it, a list that leaves it out does not, and the metadata calls are intercepted only
// where some rule can deny it (fchmodat2 by number: libseccomp 2.5.4 does not know it).
TEST(FsGuard, AttrIsCoveredByAPlainRuleAndByNameOnly) {
  auto set = Load(R"({"module": "fs_guard", "rules": [
      {"deny": ["/secret"]},
      {"deny": ["/home/**"], "access": ["read", "write"]},
      {"deny": ["/etc/**"], "access": ["attr"]}], "default": "allow"})");
  auto* m = dynamic_cast<FsGuardModule*>(set->modules()[0].get());
  ASSERT_NE(m, nullptr);
  EXPECT_FALSE(m->Allows("/secret", kAccessAttr));
  EXPECT_TRUE(m->Allows("/home/ann/x", kAccessAttr));  // the list leaves attr out
  EXPECT_FALSE(m->Allows("/etc/passwd", kAccessAttr));
  EXPECT_TRUE(m->Allows("/etc/passwd", kAccessRead));
  for (int nr : {SCMP_SYS(chmod), SCMP_SYS(fchmodat), SCMP_SYS(lchown), SCMP_SYS(fchownat),
                 SCMP_SYS(utime), SCMP_SYS(utimes), SCMP_SYS(futimesat), SCMP_SYS(utimensat),
                 SCMP_SYS(setxattr), SCMP_SYS(lsetxattr), SCMP_SYS(removexattr),
                 SCMP_SYS(lremovexattr), syscalls::kNrFchmodat2, syscalls::kNrSetxattrat,
                 syscalls::kNrRemovexattrat, syscalls::kNrFileSetattr}) {
    EXPECT_TRUE(m->Syscalls().Contains(nr)) << syscalls::SyscallName(nr);
  }
  EXPECT_FALSE(m->Syscalls().Contains(SCMP_SYS(newfstatat)));  // reading metadata: not judged
  // `hijackd check` names the kinds a rule covers, attr included (no floor holds it).
  std::vector<std::string> module_only;
  for (const KernelFloor::ModuleOnly& rule : m->Floor().module_only) {
    module_only.push_back(rule.rule);
  }
  EXPECT_THAT(module_only, ::testing::Contains("deny /etc/** (attr)"));
  EXPECT_THAT(module_only, ::testing::Contains("deny /secret (read, write, create, exec, unlink, "
                                               "attr)"));
  auto reason = m->Judge("/etc/passwd", kAccessAttr);
  ASSERT_TRUE(reason.has_value());
  EXPECT_THAT(reason->rule, HasSubstr("attr access"));
  auto reads = Load(R"({"module": "fs_guard", "rules": [{"deny": ["/x"], "access": ["read"]}]})");
  EXPECT_FALSE(reads->needed().Contains(SCMP_SYS(chmod)));
  auto bad = policy::PolicySet::FromText(
      R"({"version": 1, "modules": [{"module": "fs_guard", "rules": [
          {"deny": ["/x"], "access": ["atr"]}]}]})",
      "test", modules::BuiltInModules());
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("atr"));
}

TEST(FsGuard, AnAllowListMakesTheDefaultDeny) {
  auto set = Load(R"({"module": "fs_guard", "allow": ["/srv/**"]})");
  auto* m = dynamic_cast<FsGuardModule*>(set->modules()[0].get());
  EXPECT_TRUE(m->Allows("/srv/www/index.html", kAccessAll));
  EXPECT_FALSE(m->Allows("/etc/passwd", kAccessRead));
  set = Load(R"({"module": "fs_guard", "allow": ["/srv/**"], "default": "allow"})");
  m = dynamic_cast<FsGuardModule*>(set->modules()[0].get());
  EXPECT_TRUE(m->Allows("/etc/passwd", kAccessRead));
}

class FakeBackend final : public Backend {
 public:
  explicit FakeBackend(bool inject) : inject_(inject) {}
  std::string_view Name() const override { return inject_ ? "notify" : "ptrace"; }
  bool CanInjectFd() const override { return inject_; }
  Result<pid_t> Launch(const LaunchSpec&, SyscallHandler&) override { return MakeError("fake"); }

 private:
  bool inject_;
};

TEST(FsGuard, StrictModeIsRefusedOnABackendThatCannotInject) {
  auto strict =
      Load(R"({"module": "stats"}, {"module": "fs_guard", "mode": "strict", "deny": ["/x"]})");
  auto check = Load(R"({"module": "fs_guard", "mode": "check", "deny": ["/x"]})");
  auto refused = policy::AdmitPolicy(*strict, policy::CapabilitiesOf(FakeBackend(false)));
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message,
              HasSubstr("/modules/1 (fs_guard): needs the notify backend"));
  EXPECT_TRUE(policy::AdmitPolicy(*strict, policy::CapabilitiesOf(FakeBackend(true))));
  EXPECT_TRUE(policy::AdmitPolicy(*check, policy::CapabilitiesOf(FakeBackend(false))));
}

// Resolves paths of this very process, as fs_guard resolves a guest's.
class GuestPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hijack-guest-path-XXXXXX";
    dir_ = mkdtemp(tmpl);
    dir_ = std::filesystem::canonical(dir_);
    std::filesystem::create_directories(dir_ + "/a/b");
    std::ofstream(dir_ + "/a/file") << "x";
    std::filesystem::create_symlink("a/file", dir_ + "/link");
    std::filesystem::create_symlink("/nonexistent-hijack/x", dir_ + "/dangling-abs");
    std::filesystem::create_symlink("a/new", dir_ + "/dangling");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<ResolvedPath> Resolve(const std::string& path, bool follow = true,
                               std::optional<std::string> beneath = std::nullopt,
                               int dirfd = AT_FDCWD) {
    SyscallEvent ev;
    ev.pid = getpid();
    ev.tid = gettid();
    GuestPathResolver r(ev, pending_);
    ResolveOptions o;
    o.follow_last = follow;
    o.beneath = std::move(beneath);
    return r.Resolve(dirfd, path, o);
  }

  std::string dir_;
  // This process "waits in its call" until the test says it does not.
  hijack::testing::FakeGuestMemory pending_;
};

// A resolution whose caller left its call hands out nothing: what it found by the caller's
// numbers may have been another process's.
TEST_F(GuestPathTest, NothingIsResolvedForACallThatIsNoLongerPending) {
  ASSERT_TRUE(Resolve(dir_ + "/a/file"));
  pending_.pending = false;
  auto r = Resolve(dir_ + "/a/file");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ESRCH);
}

TEST_F(GuestPathTest, SymlinksDotDotAndRelativePaths) {
  EXPECT_EQ(Resolve(dir_ + "/a/b/../file")->path, dir_ + "/a/file");
  EXPECT_EQ(Resolve(dir_ + "/link")->path, dir_ + "/a/file");
  EXPECT_EQ(Resolve(dir_ + "/link", /*follow=*/false)->path, dir_ + "/link");
  auto fresh = Resolve(dir_ + "/a/b/new.txt");
  ASSERT_TRUE(fresh);
  EXPECT_FALSE(fresh->exists);
  EXPECT_EQ(fresh->path, dir_ + "/a/b/new.txt");
  // A dangling symlink names what O_CREAT would create.
  EXPECT_EQ(Resolve(dir_ + "/dangling")->path, dir_ + "/a/new");
  EXPECT_EQ(Resolve(dir_ + "/missing/x").error().code, ENOENT);
  EXPECT_EQ(Resolve(dir_ + "/a/file/x").error().code, ENOTDIR);
  int dirfd = open((dir_ + "/a").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  EXPECT_EQ(Resolve("b/../file", true, std::nullopt, dirfd)->path, dir_ + "/a/file");
  close(dirfd);
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir_ + "/a/b");
  EXPECT_EQ(Resolve("../../link")->path, dir_ + "/a/file");
  std::filesystem::current_path(cwd);
  // The process's own /proc/self is the guest's, not a magic link into the supervisor.
  EXPECT_EQ(Resolve("/proc/self/status")->path, "/proc/" + std::to_string(getpid()) + "/status");
}

TEST_F(GuestPathTest, TheGuestsOwnDescriptorsByName) {
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  int file = open((dir_ + "/a/file").c_str(), O_RDONLY | O_CLOEXEC);
  auto p = Resolve("/dev/fd/" + std::to_string(pipe_fds[0]));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_THAT(p->path, ::testing::StartsWith("pipe:["));
  EXPECT_EQ(Resolve("/proc/self/fd/" + std::to_string(file))->path, dir_ + "/a/file");
  // Another process's descriptors stay magic links: not followed (ELOOP, or EACCES when the
  // directory is not even searchable); the caller fails closed.
  EXPECT_FALSE(Resolve("/proc/1/fd/0"));
  close(file);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

TEST_F(GuestPathTest, BeneathRefusesEscapes) {
  EXPECT_EQ(Resolve(dir_ + "/a/file", true, dir_ + "/a")->path, dir_ + "/a/file");
  EXPECT_EQ(Resolve(dir_ + "/link", true, dir_ + "/a").error().code, EXDEV);
  EXPECT_EQ(Resolve(dir_ + "/a/../link", true, dir_ + "/a").error().code, EXDEV);
  EXPECT_EQ(Resolve(dir_ + "/dangling-abs", true, dir_).error().code, EXDEV);
}

TEST(Policy, InterceptsOnlyTheUnionOfWhatTheModulesNeed) {
  auto set = Load(R"({"module": "fs_guard", "deny": ["/usr/bin/sudo"], "rules": [],
                      "default": "allow"},
                     {"module": "net_guard", "connect_deny": ["10.0.0.0/8"]},
                     {"module": "ratelimit", "syscalls": ["sendto"], "rate": 5},
                     {"module": "fault", "syscall": "getppid", "probability": 0})");
  SyscallSet expected;
  for (int nr : set->modules()[0]->Syscalls().Numbers()) {
    expected.Add(nr);
  }
  EXPECT_TRUE(expected.Contains(SCMP_SYS(openat)));
  // net_guard's connect rules also take the sends that MSG_FASTOPEN turns into connects.
  for (int nr : {SCMP_SYS(connect), SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(sendmmsg),
                 SCMP_SYS(getppid)}) {
    expected.Add(nr);
  }
  EXPECT_EQ(set->needed(), expected);
  EXPECT_FALSE(set->needed().Contains(SCMP_SYS(read)));
  EXPECT_FALSE(set->needed().Contains(SCMP_SYS(bind)));

  auto exec_only =
      Load(R"({"module": "fs_guard", "rules": [{"deny": ["/x"], "access": ["exec"]}]})");
  // The execs, and the calls that could give a denied program another name (links, renames,
  // mounts, namespaces, handles: docs/SECURITY.md), but no opens.
  const SyscallSet& execs = exec_only->needed();
  for (int nr : {SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(linkat), SCMP_SYS(renameat2),
                 SCMP_SYS(mount), SCMP_SYS(unshare), SCMP_SYS(open_by_handle_at)}) {
    EXPECT_TRUE(execs.Contains(nr)) << nr;
  }
  EXPECT_FALSE(execs.Contains(SCMP_SYS(openat)));
  EXPECT_FALSE(execs.Contains(SCMP_SYS(unlinkat)));
}

TEST(RateLimit, BucketArithmetic) {
  auto set = Load(R"({"module": "ratelimit", "syscalls": ["sendto"], "rate": 10, "burst": 3,
                      "over_limit": "wait", "max_wait_ms": 250})");
  auto* m = dynamic_cast<RateLimitModule*>(set->modules()[0].get());
  const int64_t t0 = 1'000'000'000'000;
  // A burst of 3 passes at once, then one call per 100 ms.
  EXPECT_EQ(m->Admit(1, 0, t0), 0);
  EXPECT_EQ(m->Admit(1, 0, t0), 0);
  EXPECT_EQ(m->Admit(1, 0, t0), 0);
  EXPECT_EQ(m->Admit(1, 0, t0), 100'000'000);
  EXPECT_EQ(m->Admit(1, 0, t0), 200'000'000);
  EXPECT_EQ(m->Admit(1, 0, t0), std::nullopt);  // would wait 300 ms > max_wait_ms
  // Another guest has its own bucket.
  EXPECT_EQ(m->Admit(2, 0, t0), 0);
  // Time refills the bucket.
  EXPECT_EQ(m->Admit(1, 0, t0 + 2'000'000'000), 0);
}

TEST(RateLimit, TotalIsSharedByPriority) {
  auto set = Load(R"({"module": "ratelimit", "total": {"rate": 100},
      "buckets": [{"name": "hi", "syscalls": ["sendto"], "rate": 80, "priority": 0},
                  {"name": "lo", "syscalls": ["sendmsg"], "rate": 80, "priority": 1}]})");
  auto* m = dynamic_cast<RateLimitModule*>(set->modules()[0].get());
  // Both backlogged for 10 s of simulated time: each admits as fast as it is let.
  int64_t now[2] = {0, 0};
  int admitted[2] = {0, 0};
  const int64_t end = 10'000'000'000;
  while (now[0] < end || now[1] < end) {
    size_t b = now[0] <= now[1] ? 0 : 1;
    auto wait = m->Admit(1, b, now[b]);
    ASSERT_TRUE(wait);
    now[b] += *wait;
    if (now[b] < end) {
      ++admitted[b];
    }
  }
  EXPECT_NEAR(admitted[0] / 10.0, 80, 4);  // the high priority keeps its rate
  EXPECT_NEAR(admitted[1] / 10.0, 20, 4);  // the low one gets what is left of the total
}

TEST(Fault, DrawsAreAFunctionOfSeedAndIndex) {
  auto a = Load(R"({"module": "fault", "syscall": "read", "probability": 0.25, "seed": 42})");
  auto b = Load(R"({"module": "fault", "syscall": "read", "probability": 0.25, "seed": 42})");
  auto c = Load(R"({"module": "fault", "syscall": "read", "probability": 0.25, "seed": 43})");
  auto* fa = dynamic_cast<FaultModule*>(a->modules()[0].get());
  auto* fb = dynamic_cast<FaultModule*>(b->modules()[0].get());
  auto* fc = dynamic_cast<FaultModule*>(c->modules()[0].get());
  int hits = 0, differ = 0;
  for (uint64_t k = 0; k < 10000; ++k) {
    EXPECT_EQ(fa->Draw(k), fb->Draw(k));
    hits += fa->Draw(k);
    differ += fa->Draw(k) != fc->Draw(k);
  }
  EXPECT_NEAR(hits, 2500, 200);
  EXPECT_GT(differ, 1000);
}

TEST(PolicyHostClient, DecidesOutOfProcessAndRestartsACrashedHost) {
  PolicyHostClient::Options fast;
  fast.restart_backoff = std::chrono::milliseconds(0);
  auto example = PolicyHostClient::Start(HIJACK_TEST_EXAMPLE_PLUGIN,
                                         R"({"deny": ["getppid"], "errno": 7})", fast);
  ASSERT_TRUE(example) << example.error().message;
  EXPECT_EQ((*example)->loaded().name, "example");
  SyscallEvent ev;
  ev.nr = SCMP_SYS(getppid);
  auto v = (*example)->Decide(ev, "getppid", "");
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->verdict.kind, HIJACK_VERDICT_FAIL);
  EXPECT_EQ(v->verdict.error, 7);
  hijack_outcome_v1 outcome{};
  (*example)->Observe(ev, "getppid", "", outcome);
  // Answers come in order, so stats() sees the observe() sent before it.
  EXPECT_THAT((*example)->Stats(), HasSubstr("\"failed\": 1, \"observed\": 1"));

  auto crashing = PolicyHostClient::Start(HIJACK_TEST_CRASHING_PLUGIN, "{}", fast);
  ASSERT_TRUE(crashing) << crashing.error().message;
  EXPECT_FALSE((*crashing)->Decide(ev, "getppid", ""));  // segfault in decide()
  EXPECT_FALSE((*crashing)->up());
  EXPECT_FALSE((*crashing)->Decide(ev, "getppid", ""));  // restarted, and crashed again
  EXPECT_EQ((*crashing)->restarts(), 1u);
  EXPECT_EQ((*crashing)->failures(), 2u);
}

TEST(Stats, LatencySettingIsABooleanNamedByItsPath) {
  auto set = policy::PolicySet::FromText(
      R"({"version": 1, "modules": [{"module": "stats"}, {"module": "stats", "latency": "no"}]})",
      "test", modules::BuiltInModules());
  ASSERT_FALSE(set);
  EXPECT_THAT(set.error().message, HasSubstr("/modules/1/latency"));
  EXPECT_THAT(set.error().message, HasSubstr("expected true or false"));
  auto counts = Load(R"({"module": "stats", "latency": false}, {"module": "stats"})");
  ASSERT_NE(counts, nullptr);
  // Through the PolicyModule capabilities the supervisor asks (no cast to StatsModule).
  EXPECT_TRUE(counts->modules()[0]->AcceptsCounts());
  EXPECT_FALSE(counts->modules()[0]->WantsLatency());
  EXPECT_TRUE(counts->modules()[1]->WantsLatency());
}

// Counts the agent made without timing (an empty histogram) add calls, not latency samples: the
// percentiles stay those of the timed calls.
TEST(Stats, UntimedAgentCountsDoNotDragPercentiles) {
  StatsModule stats(syscalls::AllSyscalls());
  const uint64_t none[exec_page::kHistogramBuckets] = {};
  uint64_t timed[exec_page::kHistogramBuckets] = {};
  timed[11] = 10;  // [2048, 4096) ns
  stats.AddCounts(SCMP_SYS(write), 1000, 3, 0, none);
  stats.AddCounts(SCMP_SYS(write), 10, 0, 30'000, timed);
  auto row = stats.Stats()["write"];
  EXPECT_EQ(row["calls"], 1010u);
  EXPECT_EQ(row["errors"], 3u);
  EXPECT_EQ(row["total_ns"], 30'000u);
  EXPECT_GE(row["p50_ns"].get<uint64_t>(), 2048u);
  EXPECT_LT(row["p99_ns"].get<uint64_t>(), 4096u + 256u);
}

TEST(Stats, WithoutLatencyReportAndJsonHaveNoTimes) {
  StatsModule stats(syscalls::AllSyscalls(), /*latency=*/false);
  uint64_t timed[exec_page::kHistogramBuckets] = {};
  timed[11] = 2;
  stats.AddCounts(SCMP_SYS(write), 5, 1, 6000, timed);
  auto row = stats.Stats()["write"];
  EXPECT_EQ(row["calls"], 5u);
  EXPECT_EQ(row["errors"], 1u);
  EXPECT_FALSE(row.contains("total_ns"));
  EXPECT_FALSE(row.contains("p50_ns"));
  const std::string report = stats.Report();
  EXPECT_THAT(report, HasSubstr("calls and errors only"));
  EXPECT_THAT(report, ::testing::Not(HasSubstr("p50-us")));
  EXPECT_THAT(report, ::testing::Not(HasSubstr("total-us")));
  EXPECT_THAT(report, ::testing::ContainsRegex("write +5 +1 +0"));
}

TEST(PolicyFiles, EveryExamplePolicyLoads) {
  // Loading opens output files (trace.json writes trace.jsonl): do it in a scratch directory.
  char scratch[] = "/tmp/hijack-policies-XXXXXX";
  ASSERT_NE(mkdtemp(scratch), nullptr);
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(scratch);
  for (const auto& entry :
       std::filesystem::directory_iterator(HIJACK_TEST_SOURCE_DIR "/policies")) {
    if (entry.path().extension() != ".json" || entry.path().filename() == "plugin.json") {
      continue;  // plugin.json names a shared object by an installed path
    }
    auto set = policy::PolicySet::FromFile(entry.path(), modules::BuiltInModules());
    EXPECT_TRUE(set) << entry.path() << ": " << set.error().message;
  }
  std::filesystem::current_path(cwd);
  std::filesystem::remove_all(scratch);
}

}  // namespace
}  // namespace hijack::modules
