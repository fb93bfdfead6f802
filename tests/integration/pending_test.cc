// Decisions that complete later: a call whose decision waits (a plugin's round trip, fs_guard
// strict's file work) holds only its own thread, never the loop, other guests or the guest's
// other threads; a guest that dies, or a policy replaced, while a call waits leaves the daemon
// whole.
//
// Three layers, each over every backend (notify, ptrace, ptrace-all):
// - a backend driven directly with FakeSyscallHandler, which takes calls over (CallDeferral) and
//   answers them when the test says;
// - the decision pool alone: a Guest whose policy holds a module that may block, answered
//   through a DeferredAnswer of the test's;
// - the Supervisor with a real plugin (pending_plugins/gate_plugin.c) whose decision waits on a
//   FIFO until the test opens it, so every assertion is about order, never about time.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <gtest/gtest.h>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "daemon/backend/backend_set.h"
#include "daemon/backend/backend_table.h"
#include "daemon/launcher/reaper.h"
#include "daemon/modules/builtin.h"
#include "daemon/policy/policy_engine.h"
#include "daemon/policy/policy_set.h"
#include "daemon/supervisor/decision_pool.h"
#include "daemon/supervisor/guest.h"
#include "daemon/supervisor/supervisor.h"
#include "hijack/unique_fd.h"
#include "tests/support/backend_params.h"
#include "tests/support/fake_guest_memory.h"
#include "tests/support/fake_syscall_handler.h"
#include "tests/support/test_module.h"

namespace hijack {
namespace {

using namespace std::chrono_literals;
using testing::BackendNames;
using testing::FakeSyscallHandler;
using testing::KindOf;

constexpr const char* kGuest = HIJACK_TEST_GUEST;
constexpr const char* kGatePlugin = HIJACK_TEST_GATE_PLUGIN;

void BlockSigchld() {
  // The reaper reads SIGCHLD from a signalfd: blocked before any thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// ---- A backend and FakeSyscallHandler: the backend's side of a deferred call. ----

class BackendDeferTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    BlockSigchld();
    auto made = backends_.Get(KindOf(GetParam()));
    ASSERT_TRUE(made) << made.error().message;
    backend_ = *made;
  }

  Result<pid_t> Launch(std::vector<std::string> argv, FakeSyscallHandler& h) {
    LaunchSpec spec;
    spec.guest_id = 1;
    spec.path = kGuest;
    spec.argv = std::move(argv);
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.intercept.Add(SYS_getppid);
    return backend_->Launch(spec, h);
  }

  // Runs the loop on this thread until `done` or 30 s.
  template <typename Fn>
  bool RunUntil(Fn done) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      loop_.run_one_for(100ms);
    }
    return true;
  }

  boost::asio::io_context loop_;
  launcher::ProcessReaper reaper_{loop_};
  backend::BackendSet backends_{loop_, reaper_};
  Backend* backend_ = nullptr;  // owned by backends_
};

// One thread's call waits for its answer; the guest's other thread makes all its calls
// meanwhile, and the waiting one then completes as answered.
TEST_P(BackendDeferTest, OtherThreadsAreDecidedWhileOneCallWaits) {
  constexpr int kCalls = 50;
  FakeSyscallHandler h;
  h.defer_if = [&h](const SyscallEvent& ev) {
    return ev.nr == SYS_getppid && h.deferred.empty();
  };
  auto pid = Launch({kGuest, "threads", "2", std::to_string(kCalls)}, h);
  ASSERT_TRUE(pid) << pid.error().message;
  ASSERT_TRUE(RunUntil([&] { return !h.deferred.empty(); }));
  const pid_t held_tid = h.deferred[0].record.call.tid;
  auto others = [&] {
    size_t n = 0;
    for (const Event& e : h.Calls(SYS_getppid)) {
      n += e.call.tid != held_tid ? 1 : 0;
    }
    return n;
  };
  ASSERT_TRUE(RunUntil([&] { return others() == kCalls; }))
      << "the other thread's calls waited for the deferred one: " << others() << " of "
      << kCalls;
  EXPECT_TRUE(h.deferred[0].answer->memory().StillPending());
  EXPECT_FALSE(h.exit_status.has_value());
  // Answered now, on the loop thread: the thread goes on with its remaining calls.
  h.deferred[0].answer->Answer(Decision::Return(7), std::move(h.deferred[0].record));
  ASSERT_TRUE(RunUntil([&] { return h.exit_status.has_value(); }));
  ASSERT_TRUE(WIFEXITED(*h.exit_status)) << *h.exit_status;
  EXPECT_EQ(WEXITSTATUS(*h.exit_status), 0);
  size_t held_thread_calls = 0;
  std::optional<Event> answered;
  for (const Event& e : h.Calls(SYS_getppid)) {
    if (e.call.tid == held_tid) {
      ++held_thread_calls;
      if (e.decision == Decision::Return(7)) {
        answered = e;
      }
    }
  }
  EXPECT_EQ(held_thread_calls, size_t{kCalls});
  ASSERT_TRUE(answered.has_value()) << "the deferred call's record was not completed";
  EXPECT_EQ(answered->result, std::optional<int64_t>(7));
}

// A guest SIGKILLed while its call waits: the deferred answer's memory says the call is gone,
// and the late answer is dropped quietly, with nothing reported after the guest's end.
TEST_P(BackendDeferTest, AnswerAfterTheGuestDiedIsDroppedQuietly) {
  FakeSyscallHandler h;
  h.defer_if = [](const SyscallEvent& ev) { return ev.nr == SYS_getppid; };
  auto pid = Launch({kGuest, "getppid", "1"}, h);
  ASSERT_TRUE(pid) << pid.error().message;
  ASSERT_TRUE(RunUntil([&] { return !h.deferred.empty(); }));
  ASSERT_EQ(kill(*pid, SIGKILL), 0);
  ASSERT_TRUE(RunUntil([&] { return h.exit_status.has_value(); }));
  EXPECT_TRUE(WIFSIGNALED(*h.exit_status));
  GuestMemory& mem = h.deferred[0].answer->memory();
  EXPECT_FALSE(mem.StillPending());
  std::byte buf[8];
  auto read = mem.Read(h.deferred[0].record.call.ip, buf);
  EXPECT_FALSE(read) << "a read of a dead caller must fail";
  const uint64_t completed = h.completed_count;
  h.deferred[0].answer->Answer(Decision::Fail(EPERM), std::move(h.deferred[0].record));
  loop_.poll();
  EXPECT_EQ(h.completed_count, completed) << "a record was reported after the guest ended";
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendDeferTest, ::testing::ValuesIn(BackendNames()),
                         testing::BackendTestName{});

// ---- The decision pool: a Guest whose policy holds a module that may block. ----

// A module that may block: it records which thread decided and waits until released.
class GateModule final : public testing::TestModule {
 public:
  explicit GateModule(std::optional<Decision> verdict)
      : TestModule("gate", {SYS_getppid}, /*enforces=*/true), verdict_(verdict) {}
  bool MayBlock(int) const override { return true; }
  std::optional<Decision> Decide(const SyscallEvent&, GuestMemory&) override {
    std::unique_lock lock(mu_);
    decided_on_ = std::this_thread::get_id();
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    return verdict_;
  }
  bool WaitEntered() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 30s, [&] { return entered_; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::thread::id decided_on() {
    std::lock_guard lock(mu_);
    return decided_on_;
  }

 private:
  std::optional<Decision> verdict_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool open_ = false;
  std::thread::id decided_on_;
};

// A module that never blocks and always answers `verdict`, from the thread it is asked on.
class FixedModule final : public testing::TestModule {
 public:
  explicit FixedModule(Decision verdict)
      : TestModule("fixed", {SYS_getppid}, /*enforces=*/true), verdict_(verdict) {}
  std::optional<Decision> Decide(const SyscallEvent&, GuestMemory&) override {
    decided_on = std::this_thread::get_id();
    return verdict_;
  }
  std::thread::id decided_on;

 private:
  Decision verdict_;
};

// The test's DeferredAnswer and CallDeferral: what a backend would do, recorded.
struct RecordedAnswer final : DeferredAnswer {
  GuestMemory& memory() override { return mem; }
  void Answer(Decision d, Event record) override {
    answered_on = std::this_thread::get_id();
    decision = d;
    module = record.module;
  }
  testing::FakeGuestMemory mem;
  std::optional<Decision> decision;
  std::string module;
  std::thread::id answered_on;
};

struct RecordingDeferral final : CallDeferral {
  std::shared_ptr<DeferredAnswer> Defer() override {
    ++defers;
    return answer;
  }
  std::shared_ptr<RecordedAnswer> answer = std::make_shared<RecordedAnswer>();
  int defers = 0;
};

std::shared_ptr<policy::PolicySet> PolicyOf(const std::string& modules) {
  auto set = policy::PolicySet::FromText(R"({"version": 1, "modules": [)" + modules + "]}",
                                         "test", modules::BuiltInModules());
  EXPECT_TRUE(set) << set.error().message;
  return set ? *set : nullptr;
}

SyscallEvent Getppid() {
  SyscallEvent ev;
  ev.guest_id = 1;
  ev.pid = ev.tid = 4242;
  ev.nr = SYS_getppid;
  return ev;
}

// The blocking module decides on a worker while the loop runs other work; the chain goes on
// after it on the loop (here: a fixed verdict, as the gate had none), and the answer is
// given on the loop thread. A policy swapped in meanwhile does not touch the call: it keeps the
// snapshot it started with alive.
TEST(DecisionPoolTest, ABlockingModuleDecidesOnAWorkerAndTheChainGoesOnOnTheLoop) {
  boost::asio::io_context loop;
  auto work = boost::asio::make_work_guard(loop);  // as the Supervisor's loop: never out of work
  supervisor::DecisionPool pool(loop, 2);
  events::EventBus bus;
  auto policy = PolicyOf("");
  auto gate = std::make_unique<GateModule>(std::nullopt);  // no verdict: the next module decides
  GateModule* gate_ptr = gate.get();
  policy->Append(std::move(gate), {{"module", "gate"}});
  policy->Append(std::make_unique<FixedModule>(Decision::Fail(EROFS)), {{"module", "fixed"}});
  SyscallSet intercept;
  intercept.Add(SYS_getppid);
  std::weak_ptr<policy::PolicySet> old_policy = policy;
  supervisor::Guest guest(1, std::move(policy), intercept, supervisor::ProtectionLayers{}, bus, {},
                          &pool);
  RecordingDeferral deferral;
  testing::FakeGuestMemory mem;
  Event record;
  record.call = Getppid();
  std::optional<Decision> now = guest.OnSyscall(record.call, mem, record, deferral);
  EXPECT_FALSE(now.has_value()) << "a module that may block was decided on the loop";
  EXPECT_EQ(deferral.defers, 1);
  ASSERT_TRUE(gate_ptr->WaitEntered());
  EXPECT_NE(gate_ptr->decided_on(), std::this_thread::get_id());

  // Meanwhile: the loop serves other work, and the policy is replaced.
  bool other_work = false;
  boost::asio::post(loop, [&] { other_work = true; });
  loop.run_one();
  EXPECT_TRUE(other_work);
  ASSERT_TRUE(guest.engine().Replace(
      PolicyOf(R"({"module": "stats", "syscalls": ["getppid"]})"), std::nullopt));
  EXPECT_FALSE(old_policy.expired()) << "the waiting call's policy was freed";

  gate_ptr->Open();
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!deferral.answer->decision && std::chrono::steady_clock::now() < deadline) {
    loop.run_one_for(100ms);
  }
  ASSERT_TRUE(deferral.answer->decision.has_value());
  EXPECT_EQ(*deferral.answer->decision, Decision::Fail(EROFS));
  EXPECT_EQ(deferral.answer->module, "fixed");
  EXPECT_EQ(deferral.answer->answered_on, std::this_thread::get_id());
  loop.poll();
  EXPECT_TRUE(old_policy.expired()) << "the old policy outlived the call that held it";
}

// Without a pool (a Guest on its own), or when the backend cannot hold the call, the blocking
// module decides at once, on the caller's thread.
TEST(DecisionPoolTest, WithoutAPoolTheModuleDecidesInline) {
  events::EventBus bus;
  auto policy = PolicyOf("");
  auto gate = std::make_unique<GateModule>(Decision::Fail(EACCES));
  GateModule* gate_ptr = gate.get();
  gate_ptr->Open();
  policy->Append(std::move(gate), {{"module", "gate"}});
  SyscallSet intercept;
  intercept.Add(SYS_getppid);
  supervisor::Guest guest(1, std::move(policy), intercept, supervisor::ProtectionLayers{}, bus, {});
  RecordingDeferral deferral;
  testing::FakeGuestMemory mem;
  Event record;
  record.call = Getppid();
  std::optional<Decision> now = guest.OnSyscall(record.call, mem, record, deferral);
  ASSERT_TRUE(now.has_value());
  EXPECT_EQ(*now, Decision::Fail(EACCES));
  EXPECT_EQ(deferral.defers, 0);
  EXPECT_EQ(gate_ptr->decided_on(), std::this_thread::get_id());
}

// ---- The Supervisor and a real plugin whose decision waits on a FIFO. ----

class PluginPendingTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { BlockSigchld(); }

  void SetUp() override {
    char tmpl[] = "/tmp/hijack-pending-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    entered_path_ = dir_ + "/entered";
    gate_path_ = dir_ + "/gate";
    ASSERT_EQ(mkfifo(entered_path_.c_str(), 0600), 0);
    ASSERT_EQ(mkfifo(gate_path_.c_str(), 0600), 0);
    // Open before any decision: the plugin's non-blocking open for writing needs a reader.
    entered_ = UniqueFd(open(entered_path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    ASSERT_TRUE(entered_.valid());
    sup_.AddExitListener([this](uint64_t id, int status) {
      std::lock_guard lock(mu_);
      exits_[id] = status;
      cv_.notify_all();
    });
    sup_.StartLoop();
  }

  void TearDown() override {
    OpenGate();  // never leave a plugin waiting
    sup_.TerminateGuests(5s);
    sup_.StopLoop();
    std::filesystem::remove_all(dir_);
  }

  std::shared_ptr<policy::PolicySet> GatePolicy() {
    return PolicyOf(R"({"module": "plugin", "path": ")" + std::string(kGatePlugin) +
                    R"(", "timeout_ms": 600000, "config": {"syscall": "getppid", "entered": ")" +
                    entered_path_ + R"(", "gate": ")" + gate_path_ + R"("}})");
  }
  static std::shared_ptr<policy::PolicySet> StatsPolicy() {
    return PolicyOf(R"({"module": "stats", "syscalls": ["getppid"]})");
  }

  Result<supervisor::GuestInfo> Launch(std::vector<std::string> args,
                                       std::shared_ptr<policy::PolicySet> policy) {
    supervisor::GuestSpec spec;
    spec.argv = {kGuest};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.policy = std::move(policy);
    spec.backend = backend::BackendChoice(KindOf(GetParam()));
    return sup_.OnLoop([this, spec = std::move(spec)] { return sup_.Launch(spec); }, Soon());
  }

  // True once the plugin has begun deciding a call (it wrote to `entered`), within 30 s.
  bool WaitEntered() {
    pollfd p{entered_.get(), POLLIN, 0};
    if (poll(&p, 1, 30'000) != 1) {
      return false;
    }
    char byte;
    return read(entered_.get(), &byte, 1) == 1;
  }

  // Lets every decision waiting on the gate go (an open writer with a byte; kept open so later
  // opens of the gate never block).
  void OpenGate() {
    if (!gate_.valid()) {
      gate_ = UniqueFd(open(gate_path_.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
      ASSERT_TRUE(gate_.valid());
      ASSERT_EQ(write(gate_.get(), "c", 1), 1);
    }
  }

  std::optional<int> WaitExit(uint64_t id, std::chrono::seconds limit = 30s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, limit, [&] { return exits_.contains(id); });
    auto it = exits_.find(id);
    return it == exits_.end() ? std::nullopt : std::optional<int>(it->second);
  }
  bool Exited(uint64_t id) {
    std::lock_guard lock(mu_);
    return exits_.contains(id);
  }

  static std::chrono::steady_clock::time_point Soon() {
    return std::chrono::steady_clock::now() + 30s;
  }

  std::string dir_, entered_path_, gate_path_;
  UniqueFd entered_, gate_;
  supervisor::Supervisor sup_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, int> exits_;
};

// Guest A's one call waits in its plugin; guest B makes all its calls and ends meanwhile.
TEST_P(PluginPendingTest, APluginHoldingOneGuestDoesNotHoldAnother) {
  auto a = Launch({"getppid", "1"}, GatePolicy());
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(WaitEntered()) << "the plugin never began deciding guest A's call";
  auto b = Launch({"getppid", "200"}, StatsPolicy());
  ASSERT_TRUE(b) << b.error().message;
  std::optional<int> b_status = WaitExit(b->id);
  ASSERT_TRUE(b_status.has_value()) << "guest B's calls waited for guest A's plugin";
  EXPECT_TRUE(WIFEXITED(*b_status) && WEXITSTATUS(*b_status) == 0) << *b_status;
  EXPECT_FALSE(Exited(a->id)) << "guest A's call was answered before its plugin decided";
  OpenGate();
  std::optional<int> a_status = WaitExit(a->id);
  ASSERT_TRUE(a_status.has_value());
  EXPECT_TRUE(WIFEXITED(*a_status) && WEXITSTATUS(*a_status) == 0) << *a_status;
}

// A guest SIGKILLed while its plugin decides: its exit is seen at once, the plugin's late
// answer goes nowhere, and the daemon serves the next guest.
TEST_P(PluginPendingTest, AGuestKilledWhileItsPluginDecidesLeavesTheDaemonHealthy) {
  auto a = Launch({"getppid", "1"}, GatePolicy());
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(WaitEntered());
  auto killed = sup_.OnLoop([this, id = a->id] { return sup_.Kill(id, SIGKILL); }, Soon());
  ASSERT_TRUE(killed) << killed.error().message;
  std::optional<int> a_status = WaitExit(a->id);
  ASSERT_TRUE(a_status.has_value()) << "the guest's end waited for its plugin";
  EXPECT_TRUE(WIFSIGNALED(*a_status) && WTERMSIG(*a_status) == SIGKILL) << *a_status;
  OpenGate();
  auto c = Launch({"getppid", "20"}, StatsPolicy());
  ASSERT_TRUE(c) << c.error().message;
  std::optional<int> c_status = WaitExit(c->id);
  ASSERT_TRUE(c_status.has_value());
  EXPECT_TRUE(WIFEXITED(*c_status) && WEXITSTATUS(*c_status) == 0) << *c_status;
  auto info = sup_.OnLoop([this, id = a->id] { return sup_.Info(id); }, Soon());
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_FALSE(info->running);
}

// SetPolicy while a call waits in the plugin: the swap and its installation on the loop go
// through at once; the waiting call is answered by the policy it started with (which stays alive
// for it), and the guest's next call by the new one.
TEST_P(PluginPendingTest, SetPolicyWhileAPluginDecides) {
  auto a = Launch({"getppid", "2"}, GatePolicy());
  ASSERT_TRUE(a) << a.error().message;
  ASSERT_TRUE(WaitEntered());
  auto guest = sup_.OnLoop([this, id = a->id] { return sup_.Find(id); }, Soon());
  ASSERT_TRUE(guest) << guest.error().message;
  auto version = (*guest)->engine().Replace(StatsPolicy(), std::nullopt);
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_EQ(*version, 2u);
  auto installed =
      sup_.OnLoop([this, id = a->id] { return sup_.PolicyInstalled(id); }, Soon());
  ASSERT_TRUE(installed) << "the loop waited for the plugin: " << installed.error().message;
  guest->reset();
  OpenGate();
  std::optional<int> a_status = WaitExit(a->id);
  ASSERT_TRUE(a_status.has_value());
  EXPECT_TRUE(WIFEXITED(*a_status) && WEXITSTATUS(*a_status) == 0) << *a_status;
}

INSTANTIATE_TEST_SUITE_P(Backends, PluginPendingTest,
                         ::testing::ValuesIn(BackendNames()),
                         testing::BackendTestName{});

}  // namespace
}  // namespace hijack
