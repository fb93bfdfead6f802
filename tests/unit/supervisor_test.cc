// Unit tests of the Supervisor: the guest registry, the loop thread, and exits.
#include "daemon/modules/builtin.h"
#include "daemon/supervisor/supervisor.h"

#include <signal.h>
#include <sys/syscall.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/events/event_bus.h"
#include "daemon/policy/policy_set.h"
#include "daemon/supervisor/guest.h"
#include "tests/support/test_module.h"

namespace hijack::supervisor {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<policy::PolicySet> StatsPolicy() {
  return *policy::PolicySet::FromText(
      R"({"version": 1, "modules": [{"module": "stats", "syscalls": ["openat"]}]})", "test",
      modules::BuiltInModules());
}

class SupervisorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The reaper reads SIGCHLD from a signalfd: blocked before any thread starts.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
  auto Soon() { return std::chrono::steady_clock::now() + 30s; }
};

TEST_F(SupervisorTest, LaunchKillAndExitListener) {
  Supervisor sup;
  std::mutex mu;
  std::condition_variable cv;
  std::optional<int> status;
  sup.AddExitListener([&](uint64_t id, int s) {
    EXPECT_EQ(id, 1u);
    std::lock_guard lock(mu);
    status = s;
    cv.notify_all();
  });
  sup.StartLoop();
  GuestSpec spec;
  spec.argv = {"/bin/sleep", "600"};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.policy = StatsPolicy();
  auto info = sup.OnLoop([&] { return sup.Launch(spec); }, Soon());
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->id, 1u);
  EXPECT_TRUE(info->running);
  EXPECT_EQ(info->policy_version, 1u);
  EXPECT_EQ(sup.RunningGuests(), 1u);

  auto killed = sup.OnLoop([&] { return sup.Kill(1, SIGKILL); }, Soon());
  ASSERT_TRUE(killed) << killed.error().message;
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_until(lock, Soon(), [&] { return status.has_value(); }));
  }
  EXPECT_TRUE(WIFSIGNALED(*status));
  auto after = sup.OnLoop([&] { return sup.Info(1); }, Soon());
  ASSERT_TRUE(after);
  EXPECT_FALSE(after->running);
  auto again = sup.OnLoop([&] { return sup.Kill(1, SIGTERM); }, Soon());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, EALREADY);
  EXPECT_EQ(sup.TerminateGuests(1s), 0u);
  sup.StopLoop();
}

TEST_F(SupervisorTest, UnknownGuestsMissingProgramsAndAStoppedLoop) {
  Supervisor sup;
  sup.StartLoop();
  auto missing = sup.OnLoop([&] { return sup.Info(9); }, Soon());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ESRCH);
  GuestSpec spec;
  spec.argv = {"no-such-program-hijack"};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.policy = StatsPolicy();
  auto launched = sup.OnLoop([&] { return sup.Launch(spec); }, Soon());
  ASSERT_FALSE(launched);
  EXPECT_EQ(launched.error().code, ENOENT);
  sup.StopLoop();
  auto late = sup.OnLoop([&]() -> Result<int> { return 1; }, Soon());
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ESHUTDOWN);
}

TEST_F(SupervisorTest, ExitedGuestsArePrunedOldestFirstEvenTheOneExitingNow) {
  Supervisor sup({.sync_wakeup = true, .max_guests = 8, .keep_exited = 1});
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> exited;
  sup.AddExitListener([&](uint64_t id, int) {
    std::lock_guard lock(mu);
    exited.push_back(id);
    cv.notify_all();
  });
  sup.StartLoop();
  GuestSpec spec;
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.policy = StatsPolicy();
  spec.argv = {"/bin/sleep", "600"};
  ASSERT_TRUE(sup.OnLoop([&] { return sup.Launch(spec); }, Soon()));  // 1
  spec.argv = {"/bin/true"};
  ASSERT_TRUE(sup.OnLoop([&] { return sup.Launch(spec); }, Soon()));  // 2
  auto wait_for = [&](size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_until(lock, Soon(), [&] { return exited.size() >= n; });
  };
  ASSERT_TRUE(wait_for(1));
  // Guest 1, the older one, exits last: pruning must not free it inside its own exit callback.
  ASSERT_TRUE(sup.OnLoop([&] { return sup.Kill(1, SIGKILL); }, Soon()));
  ASSERT_TRUE(wait_for(2));
  auto list = sup.OnLoop([&]() -> Result<std::vector<GuestInfo>> { return sup.List(); }, Soon());
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, 2u);
  sup.StopLoop();
}

TEST_F(SupervisorTest, TerminateGuestsEndsThemWithSigterm) {
  Supervisor sup;
  sup.StartLoop();
  GuestSpec spec;
  spec.argv = {"/bin/sleep", "600"};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.policy = StatsPolicy();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(sup.OnLoop([&] { return sup.Launch(spec); }, Soon()));
  }
  EXPECT_EQ(sup.RunningGuests(), 2u);
  EXPECT_EQ(sup.TerminateGuests(30s), 0u);
  auto list = sup.OnLoop([&]() -> Result<std::vector<GuestInfo>> { return sup.List(); }, Soon());
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  for (const auto& g : *list) {
    EXPECT_FALSE(g.running);
    EXPECT_EQ(WTERMSIG(*g.wait_status), SIGTERM);
  }
  sup.StopLoop();
}

// ---- The executive-page client side of a Guest (hijack/exec_page_client.h). ----

std::shared_ptr<policy::PolicySet> PolicyOf(const std::string& modules) {
  auto set = policy::PolicySet::FromText(R"({"version": 1, "modules": [)" + modules + "]}",
                                         "test", modules::BuiltInModules());
  EXPECT_TRUE(set) << set.error().message;
  return set ? *set : nullptr;
}

SyscallSet Calls(std::initializer_list<int> nrs) {
  SyscallSet set;
  for (int nr : nrs) {
    set.Add(nr);
  }
  return set;
}

// Asking commits nothing: a launch that fails after its backend asked leaves the guest as it
// was, so the same guest serves the retry under another backend (Supervisor::Launch).
TEST(GuestExecPageClient, QueriesHaveNoSideEffects) {
  events::EventBus bus;
  Guest guest(1, PolicyOf(R"({"module": "stats", "syscalls": ["write"]})"),
              Calls({SYS_write, SYS_read}), ProtectionLayers{}, bus, {});
  EXPECT_TRUE(guest.Exemptible(SYS_write));
  EXPECT_FALSE(guest.WantsEvents(SYS_write));
  EXPECT_TRUE(guest.engine().Exempt().empty());
  // Nothing was committed, so a policy that enforces write is still welcome.
  auto replaced = guest.engine().Replace(
      PolicyOf(R"({"module": "deny", "syscalls": ["write"], "errno": "EPERM"})"), std::nullopt);
  ASSERT_TRUE(replaced) << replaced.error().message;
  EXPECT_FALSE(guest.Exemptible(SYS_write));
}

// What the backend commits holds for the guest's life: no later policy may enforce it.
TEST(GuestExecPageClient, CommittedExemptionsHold) {
  events::EventBus bus;
  Guest guest(1, PolicyOf(R"({"module": "stats", "syscalls": ["write"]})"),
              Calls({SYS_write, SYS_read}), ProtectionLayers{}, bus, {});
  guest.CommitExempt(Calls({SYS_write}));
  EXPECT_EQ(guest.engine().Exempt(), Calls({SYS_write}));
  auto replaced = guest.engine().Replace(
      PolicyOf(R"({"module": "deny", "syscalls": ["write"], "errno": "EPERM"})"), std::nullopt);
  ASSERT_FALSE(replaced);
  EXPECT_EQ(replaced.error().code, ENOSYS);
  EXPECT_THAT(replaced.error().message, ::testing::HasSubstr("write"));
}

// An observer that is not the stats module but says counts are enough (PolicyModule
// capabilities): the guest asks the module, it does not know its type.
class CountsObserver final : public testing::TestModule {
 public:
  explicit CountsObserver(bool latency)
      : TestModule("counts_observer", {SYS_write}, /*enforces=*/false), latency_(latency) {}
  bool AcceptsCounts() const override { return true; }
  bool WantsLatency() const override { return latency_; }
  void AddCounts(int nr, uint64_t n, uint64_t, uint64_t, std::span<const uint64_t>) override {
    calls[nr] += n;
  }
  std::map<int, uint64_t> calls;

 private:
  bool latency_;
};

TEST(GuestExecPageClient, ModulesSayWhetherCountsAndLatencyServeThem) {
  events::EventBus bus;
  auto policy = PolicyOf("");
  auto observer = std::make_unique<CountsObserver>(/*latency=*/false);
  CountsObserver* counts = observer.get();
  policy->Append(std::move(observer), {{"module", "counts_observer"}});
  Guest guest(1, policy, Calls({SYS_write, SYS_read}), ProtectionLayers{}, bus, {});
  EXPECT_TRUE(guest.Exemptible(SYS_write));
  EXPECT_FALSE(guest.WantsEvents(SYS_write));
  EXPECT_FALSE(guest.WantsLatency(SYS_write));
  const uint64_t histogram[4] = {};
  guest.OnAgentCounts(SYS_write, 7, 0, 0, histogram);
  EXPECT_EQ(counts->calls[SYS_write], 7u);

  // An observer that wants each event (trace) makes the agent send them, timed.
  auto traced = PolicyOf(R"({"module": "trace", "syscalls": ["write"], "output": "/dev/null"})");
  traced->Append(std::make_unique<CountsObserver>(/*latency=*/false),
                 {{"module", "counts_observer"}});
  ASSERT_TRUE(guest.engine().Replace(traced, std::nullopt));
  EXPECT_TRUE(guest.WantsEvents(SYS_write));
  EXPECT_TRUE(guest.WantsLatency(SYS_write));
}

}  // namespace
}  // namespace hijack::supervisor
