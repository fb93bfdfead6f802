// Unit tests of the Supervisor: the guest registry, the loop thread, and exits.
#include "daemon/modules/builtin.h"
#include "daemon/supervisor/supervisor.h"

#include <signal.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/policy/policy_set.h"

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

}  // namespace
}  // namespace hijack::supervisor
