// Unit tests of net_guard's and ratelimit's settings (daemon/modules/net_guard/address_rule.h,
// socket_type.h, net_guard_module.h, ratelimit_module.h): an empty allow list against a missing
// one, socket-type selectors, bad settings named by their JSON path, and a rate limit that
// charges per datagram.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <seccomp.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "daemon/modules/builtin.h"
#include "daemon/modules/net_guard/address_rule.h"
#include "daemon/modules/net_guard/net_guard_module.h"
#include "daemon/modules/net_guard/socket_type.h"
#include "daemon/modules/ratelimit/ratelimit_module.h"
#include "daemon/policy/config_reader.h"
#include "daemon/policy/policy_set.h"

namespace hijack::modules {
namespace {

using ::testing::HasSubstr;

Result<std::shared_ptr<policy::PolicySet>> Load(const std::string& modules) {
  return policy::PolicySet::FromText(R"({"version": 1, "modules": [)" + modules + "]}", "test",
                                     modules::BuiltInModules());
}

std::string LoadError(const std::string& modules) {
  auto set = Load(modules);
  return set ? std::string("(loaded)") : set.error().message;
}

Result<std::array<NetGuardModule::Lists, 3>> Lists(const std::string& json) {
  nlohmann::json object = nlohmann::json::parse(json);
  policy::ConfigReader config(object, "/modules/0");
  return NetGuardModule::ReadLists(config);
}

SocketAddress Inet(const char* ip, uint16_t port) {
  SocketAddress a;
  a.family = AF_INET;
  EXPECT_EQ(inet_pton(AF_INET, ip, a.ip.data()), 1);
  a.port = port;
  return a;
}

constexpr SocketKind kTcp{AF_INET, SOCK_STREAM, IPPROTO_TCP};
constexpr SocketKind kUdp{AF_INET, SOCK_DGRAM, IPPROTO_UDP};
constexpr SocketKind kUnixDgram{AF_UNIX, SOCK_DGRAM, 0};

TEST(NetGuardLists, AnEmptyAllowListAllowsNothingAndAMissingOneIsNoRule) {
  auto empty = Lists(R"({"connect_allow": []})");
  ASSERT_TRUE(empty) << empty.error().message;
  const auto& connect = (*empty)[NetGuardModule::kConnect];
  EXPECT_TRUE(connect.configured);
  EXPECT_FALSE(connect.default_allow);
  EXPECT_FALSE((*empty)[NetGuardModule::kBind].configured);
  EXPECT_FALSE((*empty)[NetGuardModule::kSend].configured);
  NetGuardModule m(std::move(*empty), EACCES);
  EXPECT_FALSE(m.Allows(NetGuardModule::kConnect, Inet("127.0.0.1", 80), &kTcp));
  EXPECT_TRUE(m.Syscalls().Contains(SCMP_SYS(connect)));
  EXPECT_FALSE(m.Syscalls().Contains(SCMP_SYS(bind)));
  EXPECT_FALSE(m.Syscalls().Contains(SCMP_SYS(write)));

  // An empty deny list denies nothing; an explicit default still wins.
  auto deny = Lists(R"({"bind_deny": [], "send_allow": [], "send_default": "allow"})");
  ASSERT_TRUE(deny) << deny.error().message;
  EXPECT_TRUE((*deny)[NetGuardModule::kBind].configured);
  EXPECT_TRUE((*deny)[NetGuardModule::kBind].default_allow);
  EXPECT_TRUE((*deny)[NetGuardModule::kSend].default_allow);

  EXPECT_THAT(LoadError(R"({"module": "net_guard"})"), HasSubstr("needs at least one of"));
}

TEST(NetGuardLists, EachOperationInterceptsEveryCallThatReachesIt) {
  auto lists = Lists(R"({"connect_allow": ["127.0.0.1"], "bind_allow": [], "send_deny": []})");
  ASSERT_TRUE(lists);
  NetGuardModule m(std::move(*lists), EACCES);
  // MSG_FASTOPEN connects; listen binds an unbound socket; every call that sends.
  for (int nr : {SCMP_SYS(connect), SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(sendmmsg),
                 SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(write), SCMP_SYS(writev),
                 SCMP_SYS(pwritev2), SCMP_SYS(sendfile), SCMP_SYS(splice)}) {
    EXPECT_TRUE(m.Syscalls().Contains(nr)) << nr;
  }
  auto connect_only = Lists(R"({"connect_deny": ["10.0.0.0/8"]})");
  NetGuardModule c(std::move(*connect_only), EACCES);
  EXPECT_FALSE(c.Syscalls().Contains(SCMP_SYS(write)));
  EXPECT_FALSE(c.Syscalls().Contains(SCMP_SYS(listen)));
}

TEST(NetGuardLists, SocketTypeSelectorsMatchTheSocketNotTheAddress) {
  auto lists = Lists(R"({"connect_deny": [{"address": "127.0.0.1", "type": "udp"}],
                         "send_allow": [{"type": ["tcp", "unix-dgram"]}, "10.0.0.0/8"]})");
  ASSERT_TRUE(lists) << lists.error().message;
  NetGuardModule m(std::move(*lists), EACCES);
  EXPECT_FALSE(m.Allows(NetGuardModule::kConnect, Inet("127.0.0.1", 53), &kUdp));
  EXPECT_TRUE(m.Allows(NetGuardModule::kConnect, Inet("127.0.0.1", 53), &kTcp));
  EXPECT_TRUE(m.Allows(NetGuardModule::kSend, Inet("192.0.2.1", 9), &kTcp));
  EXPECT_FALSE(m.Allows(NetGuardModule::kSend, Inet("192.0.2.1", 9), &kUdp));
  EXPECT_TRUE(m.Allows(NetGuardModule::kSend, Inet("10.1.1.1", 9), &kUdp));  // a plain entry
  SocketAddress unnamed;
  unnamed.family = AF_UNIX;
  EXPECT_TRUE(m.Allows(NetGuardModule::kSend, unnamed, &kUnixDgram));
  // Without a kind a selector never matches: an allow does not, so the default denies.
  EXPECT_FALSE(m.Allows(NetGuardModule::kSend, Inet("192.0.2.1", 9), nullptr));
}

TEST(SocketTypes, NamesCoverTheTransportsAndRefuseUnknownOnes) {
  auto t = SocketTypes::Parse({"tcp"});
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->Matches(kTcp));
  EXPECT_TRUE(t->Matches({AF_INET6, SOCK_STREAM, 262}));  // MPTCP is TCP on the wire
  EXPECT_FALSE(t->Matches(kUdp));
  EXPECT_FALSE(t->Matches({AF_UNIX, SOCK_STREAM, 0}));
  auto raw = SocketTypes::Parse({"raw", "icmp"});
  EXPECT_TRUE(raw->Matches({AF_INET, SOCK_RAW, IPPROTO_ICMP}));
  EXPECT_TRUE(raw->Matches({AF_PACKET, SOCK_RAW, 0}));
  EXPECT_TRUE(raw->Matches({AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6}));
  EXPECT_FALSE(raw->Matches(kUdp));
  auto bad = SocketTypes::Parse({"tpc"});
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("unknown socket type \"tpc\" (known: tcp, udp"));
}

struct BadSetting {
  const char* name;
  const char* modules;
  const char* error;
};

class NetRulesBadSettings : public ::testing::TestWithParam<BadSetting> {};

TEST_P(NetRulesBadSettings, AreRefusedWithTheirJsonPath) {
  EXPECT_THAT(LoadError(GetParam().modules), HasSubstr(GetParam().error));
}

INSTANTIATE_TEST_SUITE_P(
    All, NetRulesBadSettings,
    ::testing::Values(
        BadSetting{
            "UnknownType",
            R"({"module": "net_guard", "connect_allow": [{"address": "::1", "type": "tpc"}]})",
            "/modules/0/connect_allow/0/type: unknown socket type \"tpc\" (known: tcp"},
        BadSetting{"UnknownTypeInAList",
                   R"({"module": "net_guard", "send_deny": ["any", {"type": ["udp", "sctpp"]}]})",
                   "/modules/0/send_deny/1/type/1: unknown socket type \"sctpp\""},
        BadSetting{"EmptyTypeList", R"({"module": "net_guard", "bind_allow": [{"type": []}]})",
                   "/modules/0/bind_allow/0/type: expected at least one socket type"},
        BadSetting{"TypeOfWrongJsonType", R"({"module": "net_guard", "bind_allow": [{"type": 6}]})",
                   "/modules/0/bind_allow/0/type: expected a list of strings, got number"},
        BadSetting{"ListOfWrongJsonType", R"({"module": "net_guard", "connect_allow": 7})",
                   "/modules/0/connect_allow: expected a list of address rules"},
        BadSetting{"EntryOfWrongJsonType",
                   R"({"module": "net_guard", "connect_allow": ["::1", true]})",
                   "/modules/0/connect_allow/1: expected an address rule (a string or"},
        BadSetting{"UnknownKeyInAnEntry",
                   R"({"module": "net_guard", "connect_allow": [{"adress": "::1"}]})",
                   "/modules/0/connect_allow/0/adress: unknown key"},
        BadSetting{"BadAddressInAnEntry",
                   R"({"module": "net_guard", "connect_allow": [{"address": "10.0.0.0/33"}]})",
                   "/modules/0/connect_allow/0/address: address rule \"10.0.0.0/33\""},
        BadSetting{"UnknownSendsType",
                   R"({"module": "ratelimit", "sends": ["udp", "quic"], "rate": 5})",
                   "/modules/0/sends/1: unknown socket type \"quic\""},
        BadSetting{"EmptySends", R"({"module": "ratelimit", "sends": [], "rate": 5})",
                   "/modules/0/sends: expected true or at least one socket type"},
        BadSetting{"FalseSends", R"({"module": "ratelimit", "sends": false, "rate": 5})",
                   "/modules/0/sends: expected true or socket types"},
        BadSetting{"SendsOfWrongJsonType", R"({"module": "ratelimit", "sends": 3, "rate": 5})",
                   "/modules/0/sends: expected a list of strings, got number"},
        BadSetting{"SendsWithSyscalls",
                   R"({"module": "ratelimit", "sends": true, "syscalls": ["write"], "rate": 5})",
                   "/modules/0/sends: give either sends or syscalls, not both"},
        BadSetting{"EmptyTo", R"({"module": "ratelimit", "sends": true, "to": [], "rate": 5})",
                   "/modules/0/to: expected at least one address rule"},
        BadSetting{"UnknownTypeInTo",
                   R"({"module": "ratelimit", "buckets": [{"sends": "udp", "rate": 5,
                       "to": [{"address": "127.0.0.1", "type": "udpp"}]}]})",
                   "/modules/0/buckets/0/to/0/type: unknown socket type \"udpp\""}),
    [](const ::testing::TestParamInfo<BadSetting>& info) { return std::string(info.param.name); });

TEST(RateLimitDatagrams, ACallCostsItsDatagrams) {
  auto set = Load(R"({"module": "ratelimit", "sends": ["udp"], "rate": 10, "burst": 5,
                      "over_limit": "fail"})");
  ASSERT_TRUE(set) << set.error().message;
  auto* m = dynamic_cast<RateLimitModule*>((*set)->modules()[0].get());
  ASSERT_NE(m, nullptr);
  // A `sends` bucket takes every call that sends; it can never be handed to the agent's page.
  EXPECT_TRUE(m->Syscalls().Contains(SCMP_SYS(write)));
  EXPECT_TRUE(m->Syscalls().Contains(SCMP_SYS(sendmmsg)));
  EXPECT_TRUE(m->Syscalls().Contains(SCMP_SYS(splice)));
  EXPECT_TRUE(m->PageBuckets().empty());
  const int64_t t0 = 1'000'000'000'000;
  EXPECT_EQ(m->Admit(1, 0, t0, 3), 0);             // 3 of 5
  EXPECT_EQ(m->Admit(1, 0, t0, 3), std::nullopt);  // 2 left: fails, and takes nothing
  EXPECT_EQ(m->Admit(1, 0, t0, 2), 0);             // the last 2
  EXPECT_EQ(m->Admit(1, 0, t0, 1), std::nullopt);
  // 100 ms refills one datagram; 300 ms three.
  EXPECT_EQ(m->Admit(1, 0, t0 + 300'000'000, 3), 0);
  EXPECT_EQ(m->Admit(1, 0, t0 + 300'000'000, 1), std::nullopt);
}

TEST(RateLimitDatagrams, ACallLargerThanTheBurstWaitsForAFullBucketAndLeavesDebt) {
  auto set = Load(R"({"module": "ratelimit", "syscalls": ["sendmmsg"], "rate": 10, "burst": 4})");
  ASSERT_TRUE(set) << set.error().message;
  auto* m = dynamic_cast<RateLimitModule*>((*set)->modules()[0].get());
  const int64_t t0 = 1'000'000'000'000;
  EXPECT_EQ(m->Admit(1, 0, t0, 10), 0);  // a full bucket admits it at once
  // 10 datagrams at 10/s: the next one conforms once the debt of 6 and its own slot have
  // passed, 700 ms (tat = t0 + 1 s, tolerance 300 ms).
  EXPECT_EQ(m->Admit(1, 0, t0, 1), 700'000'000);
}

}  // namespace
}  // namespace hijack::modules
