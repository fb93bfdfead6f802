#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <seccomp.h>

#include "daemon/modules/builtin.h"
#include "daemon/policy/policy_engine.h"
#include "daemon/policy/policy_set.h"

namespace hijack::policy {
namespace {

using ::testing::HasSubstr;

class NoMemory final : public GuestMemory {
 public:
  Result<size_t> Read(uint64_t, std::span<std::byte>) override {
    return ErrnoError(EFAULT, "no memory");
  }
  Result<std::string> ReadString(uint64_t, size_t) override {
    return ErrnoError(EFAULT, "no memory");
  }
};

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
  EXPECT_THAT(LoadError(R"({"version": 1, "modules": {}})"), HasSubstr("/modules: expected a list"));
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

}  // namespace
}  // namespace hijack::policy
