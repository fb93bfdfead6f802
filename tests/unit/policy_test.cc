#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <seccomp.h>

#include "daemon/modules/builtin.h"
#include "daemon/policy/admission.h"
#include "daemon/policy/policy_engine.h"
#include "daemon/policy/policy_set.h"
#include "tests/support/fake_guest_memory.h"

namespace hijack::policy {
namespace {

using ::testing::HasSubstr;

// Memory that reads as EFAULT everywhere: the policies here decide without reading any.
using NoMemory = hijack::testing::FakeGuestMemory;

std::shared_ptr<PolicySet> Load(const std::string& text) {
  auto set = PolicySet::FromText(text, "test", modules::BuiltInModules());
  EXPECT_TRUE(set) << set.error().message;
  return set ? *set : nullptr;
}

std::string LoadError(const std::string& text) {
  auto set = PolicySet::FromText(text, "p.json", modules::BuiltInModules());
  EXPECT_FALSE(set);
  return set ? "" : set.error().message;
}

TEST(PolicySet, InterceptSetIsTheUnionOfModules) {
  auto set = Load(R"({"version": 1, "modules": [
      {"module": "deny", "syscalls": ["ptrace"], "errno": "EPERM"},
      {"module": "stats", "syscalls": ["openat", "read"]}]})");
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->needed().Contains(SCMP_SYS(ptrace)));
  EXPECT_TRUE(set->needed().Contains(SCMP_SYS(openat)));
  EXPECT_FALSE(set->needed().Contains(SCMP_SYS(write)));
  EXPECT_EQ(set->DecidersFor(SCMP_SYS(ptrace)).size(), 1u);
  EXPECT_EQ(set->DecidersFor(SCMP_SYS(openat)).size(), 0u);  // stats only observes
  EXPECT_EQ(set->ObserversFor(SCMP_SYS(openat)).size(), 1u);
}

TEST(PolicySet, ErrorsNameTheJsonPath) {
  EXPECT_THAT(LoadError(R"({"version": 1, "modules": [{"module": "stats"},
      {"module": "deny", "syscalls": ["read", "nope"]}]})"),
              HasSubstr("p.json: /modules/1/syscalls/1: unknown syscall \"nope\""));
  EXPECT_THAT(LoadError(R"({"version": 1, "modules": [{"module": "deny"}]})"),
              HasSubstr("/modules/0/syscalls: missing"));
  EXPECT_THAT(LoadError(R"({"version": 1, "modules": [{"module": "deny", "syscalls": ["read"],
      "errno": 99999}]})"),
              HasSubstr("/modules/0/errno: errno 99999 is out of range"));
  EXPECT_THAT(LoadError(R"({"version": 1, "modules": {}})"),
              HasSubstr("/modules: expected a list"));
  EXPECT_THAT(LoadError(R"({"version": 1, "modules": [], "extra": 1})"),
              HasSubstr("/extra: unknown key"));
  EXPECT_THAT(LoadError(R"({"version": 1, "modules": [{"module": "trace", "format": "xml"}]})"),
              HasSubstr("/modules/0/format: expected \"json\" or \"text\""));
  EXPECT_THAT(LoadError("{\"version\": 1,\n \"modules\": [,]}"), HasSubstr("line 2"));
}

TEST(PolicyEngine, FirstDecidingModuleWins) {
  auto set = Load(R"({"version": 1, "modules": [
      {"module": "deny", "syscalls": ["mkdir"], "errno": "EROFS"},
      {"module": "deny", "syscalls": ["mkdir", "rmdir"], "errno": "EPERM"}]})");
  ASSERT_TRUE(set);
  NoMemory mem;
  Event record;
  SyscallEvent ev;
  ev.nr = SCMP_SYS(mkdir);
  EXPECT_EQ(PolicyEngine::Decide(*set, ev, mem, record), Decision::Fail(EROFS));
  EXPECT_EQ(record.module, "deny");
  ev.nr = SCMP_SYS(rmdir);
  EXPECT_EQ(PolicyEngine::Decide(*set, ev, mem, record), Decision::Fail(EPERM));
  ev.nr = SCMP_SYS(read);
  EXPECT_EQ(PolicyEngine::Decide(*set, ev, mem, record), Decision::Continue());
  EXPECT_EQ(record.module, "");
}

TEST(PolicyEngine, ReplaceIsVersionedAndBoundByTheInterceptSet) {
  auto initial = Load(R"({"version": 1, "modules": [{"module": "stats", "syscalls": ["%file"]}]})");
  ASSERT_TRUE(initial);
  PolicyEngine engine(initial, initial->needed());
  EXPECT_EQ(engine.Current()->version(), 1u);

  auto narrower = Load(R"({"version": 1, "modules": [
      {"module": "deny", "syscalls": ["openat"], "errno": "EACCES"}]})");
  auto conflict = engine.Replace(narrower, /*expected_version=*/7);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code, ESTALE);
  EXPECT_EQ(engine.Current()->version(), 1u);

  auto ok = engine.Replace(narrower, 1);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, 2u);
  EXPECT_EQ(engine.Current().get(), narrower.get());

  auto wider = Load(R"({"version": 1, "modules": [
      {"module": "deny", "syscalls": ["connect", "openat"], "errno": "EACCES"}]})");
  auto refused = engine.Replace(wider, std::nullopt);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ENOSYS);
  EXPECT_THAT(refused.error().message, HasSubstr("connect"));
  EXPECT_EQ(engine.Current().get(), narrower.get());
}

TEST(PolicyEngine, ReplaceRefusesToPoliceCallsTheAgentRunsUnsupervised) {
  auto observe = Load(R"({"version": 1, "modules": [{"module": "stats", "syscalls": ["write"]}]})");
  ASSERT_TRUE(observe);
  PolicyEngine engine(observe, observe->needed());
  engine.MarkExempt(SCMP_SYS(write));
  auto deny = Load(R"({"version": 1, "modules": [
      {"module": "deny", "syscalls": ["write"], "errno": "EPERM"}]})");
  auto refused = engine.Replace(deny, std::nullopt);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ENOSYS);
  EXPECT_THAT(refused.error().message, HasSubstr("write"));
  EXPECT_EQ(engine.Current().get(), observe.get());
  auto still_observe =
      Load(R"({"version": 1, "modules": [{"module": "stats", "syscalls": ["write"]}]})");
  EXPECT_TRUE(engine.Replace(still_observe, std::nullopt));
}

// One admission function: before launch only the backend matters; a running guest adds the
// intercept set and the calls its agent runs. PolicyEngine::Replace refuses exactly what
// AdmitPolicy refuses for the engine's Capabilities().
TEST(AdmitPolicy, LaunchAndRunningGuestUseTheSameRules) {
  auto strict = Load(R"({"version": 1, "modules": [{"module": "stats", "syscalls": ["read"]},
      {"module": "fs_guard", "mode": "strict", "deny": ["/x"]}]})");
  auto deny_write = Load(R"({"version": 1, "modules": [
      {"module": "deny", "syscalls": ["write"], "errno": "EPERM"}]})");
  auto count_write = Load(R"({"version": 1, "modules": [
      {"module": "stats", "syscalls": ["write"]}]})");
  ASSERT_TRUE(strict && deny_write && count_write);

  BackendCapabilities ptrace{.backend = "ptrace", .can_inject_fd = false, .intercept = {},
                             .agent_exempt = {}};
  auto refused = AdmitPolicy(*strict, ptrace);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ENOSYS);
  EXPECT_THAT(refused.error().message,
              HasSubstr("/modules/1 (fs_guard): needs the notify backend to inject descriptors"));
  EXPECT_THAT(refused.error().message, HasSubstr("the ptrace backend cannot"));
  BackendCapabilities notify;
  EXPECT_TRUE(AdmitPolicy(*strict, notify));  // before launch: the intercept set follows

  SyscallSet intercept = strict->needed();
  intercept.AddAll(deny_write->needed());
  PolicyEngine engine(Load(R"({"version": 1, "modules": []})"), intercept);
  engine.MarkExempt(SCMP_SYS(write));
  BackendCapabilities caps = engine.Capabilities();
  ASSERT_TRUE(caps.intercept);
  EXPECT_TRUE(caps.agent_exempt.Contains(SCMP_SYS(write)));
  for (const auto& policy : {strict, deny_write, count_write}) {
    auto admitted = AdmitPolicy(*policy, caps);
    auto replaced = engine.Replace(policy, std::nullopt);
    EXPECT_EQ(bool(admitted), bool(replaced)) << policy->document().dump();
    if (!admitted && !replaced) {
      EXPECT_EQ(admitted.error().message, replaced.error().message);
    }
  }
  EXPECT_FALSE(AdmitPolicy(*deny_write, caps));  // write is the agent's
  EXPECT_TRUE(AdmitPolicy(*count_write, caps));   // observing it is fine
  caps.intercept = count_write->needed();
  auto narrow = AdmitPolicy(*strict, caps);
  ASSERT_FALSE(narrow);
  EXPECT_THAT(narrow.error().message, HasSubstr("outside this guest's intercept set"));
}

}  // namespace
}  // namespace hijack::policy
