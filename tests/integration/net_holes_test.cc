// The network holes of net_guard and ratelimit (docs/SECURITY.md, "Network confinement in the
// modules"), each tried by a real guest (tests/guests/net_holes_guest.cc) on real loopback
// sockets against every backend: TCP Fast Open connecting without connect(), listen() binding an
// unbound socket, an empty allow list, socket types, sends on connected sockets by every call
// that sends, and sendmmsg's datagrams in a rate limit. The servers are the test's own sockets on
// 127.0.0.1 port 0; what they received shows whether an attack got through, and ordinary traffic
// is checked to still flow.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "hijack/unique_fd.h"
#include "tests/support/backend_params.h"
#include "tests/support/guest_runs.h"
#include "tests/support/programs.h"
#include "tests/support/sockets.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kGuest = HIJACK_TEST_NET_HOLES_GUEST;

// A socket of the test on 127.0.0.1, port 0: a TCP listener or a UDP receiver. Loopback delivers
// synchronously: once the guest has exited, every connection it made is in the accept queue and
// every datagram it sent in the receive queue, so counting needs no wait.
class LoopbackServer {
 public:
  explicit LoopbackServer(int type) : fd_(socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {
    port_ = BindLoopback(fd_.get());
    EXPECT_GT(port_, 0) << strerror(errno);
    if (type == SOCK_STREAM) {
      EXPECT_EQ(listen(fd_.get(), 64), 0);
    }
  }
  std::string port() const { return std::to_string(port_); }
  // Connections accepted (TCP) or datagrams received (UDP) since the last call.
  int Count() {
    int n = 0;
    char buf[256];
    int type = 0;
    socklen_t len = sizeof type;
    getsockopt(fd_.get(), SOL_SOCKET, SO_TYPE, &type, &len);
    while (true) {
      if (type == SOCK_STREAM) {
        UniqueFd c(accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!c.valid()) {
          return n;
        }
      } else if (recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT) < 0) {
        return n;
      }
      ++n;
    }
  }

 private:
  UniqueFd fd_;
  int port_ = 0;
};

class NetHolesTest : public ::testing::TestWithParam<std::string> {
 protected:
  // hijackd run --backend <param> --quiet --policy <modules> -- net_holes_guest args...
  std::string Run(const std::string& modules, std::vector<std::string> args) {
    ProcessResult r = runs_.Run(GetParam(), modules, args);
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    return r.out;
  }

  TempDir dir_;
  GuestRuns runs_{kHijackd, kGuest, dir_};
};

// MSG_FASTOPEN connects a TCP socket without connect(): sendto and sendmsg naming an address
// are judged by the connect rules.
TEST_P(NetHolesTest, FastOpenSendIsJudgedAsAConnect) {
  LoopbackServer allowed(SOCK_STREAM), denied(SOCK_STREAM);
  const std::string policy =
      R"({"module": "net_guard", "connect_allow": ["127.0.0.1:)" + allowed.port() + R"("]})";
  for (const char* how : {"fastopen-sendto", "fastopen-sendmsg"}) {
    EXPECT_THAT(Run(policy, {how, denied.port()}), HasSubstr(std::string(how) + ": EACCES"));
    EXPECT_EQ(denied.Count(), 0) << how << " reached a port the connect rules deny";
    EXPECT_THAT(Run(policy, {how, allowed.port()}), HasSubstr(std::string(how) + ": ok"));
    EXPECT_EQ(allowed.Count(), 1) << how;
  }
}

// TCP_FASTOPEN_CONNECT defers the SYN to the first write, but the address is given to connect(),
// which the rules judge; the write then has no connection to send on.
TEST_P(NetHolesTest, FastOpenConnectIsJudgedAtConnect) {
  LoopbackServer allowed(SOCK_STREAM), denied(SOCK_STREAM);
  const std::string policy =
      R"({"module": "net_guard", "connect_allow": ["127.0.0.1:)" + allowed.port() + R"("]})";
  std::string out = Run(policy, {"fastopen-connect", denied.port()});
  EXPECT_THAT(out, HasSubstr("connect: EACCES"));
  EXPECT_THAT(out, Not(HasSubstr("write: ok")));
  EXPECT_EQ(denied.Count(), 0);
  out = Run(policy, {"fastopen-connect", allowed.port()});
  EXPECT_THAT(out, HasSubstr("connect: ok"));
  EXPECT_THAT(out, HasSubstr("write: ok"));
  EXPECT_EQ(allowed.Count(), 1);
}

// listen() on a socket that was never bound binds it to 0.0.0.0 on an ephemeral port: judged
// as bind(0.0.0.0:0), which these rules do not allow, while bind(127.0.0.1:0) + listen does.
TEST_P(NetHolesTest, ListenWithoutBindIsJudgedAsABind) {
  const std::string policy =
      R"({"module": "net_guard", "bind_allow": ["127.0.0.1:0", "127.0.0.1:1024-65535"]})";
  std::string out = Run(policy, {"listen-unbound"});
  EXPECT_THAT(out, HasSubstr("listen: EACCES"));
  EXPECT_THAT(out, HasSubstr("local: 0.0.0.0:0"));  // still unbound
  out = Run(policy, {"listen-bound"});
  EXPECT_THAT(out, HasSubstr("bind: ok"));
  EXPECT_THAT(out, HasSubstr("listen: ok"));
  EXPECT_THAT(out, HasSubstr("local: 127.0.0.1:"));
}

// An allow list that is given but empty allows nothing; an absent one is no rule.
TEST_P(NetHolesTest, EmptyAllowListAllowsNothing) {
  LoopbackServer tcp(SOCK_STREAM), udp(SOCK_DGRAM);
  EXPECT_THAT(
      Run(R"({"module": "net_guard", "connect_allow": []})", {"connect", "tcp", tcp.port()}),
      HasSubstr("connect: EACCES"));
  EXPECT_EQ(tcp.Count(), 0);
  EXPECT_THAT(Run(R"({"module": "net_guard", "bind_allow": []})", {"bind", "udp", "0"}),
              HasSubstr("bind: EACCES"));
  EXPECT_THAT(Run(R"({"module": "net_guard", "send_allow": []})", {"sendto-udp", udp.port()}),
              HasSubstr("sendto: EACCES"));
  EXPECT_EQ(udp.Count(), 0);
  // An empty deny list denies nothing, and the operations without a key are not judged.
  EXPECT_THAT(Run(R"({"module": "net_guard", "connect_deny": [], "send_allow": []})",
                  {"connect", "tcp", tcp.port()}),
              HasSubstr("connect: ok"));
  EXPECT_EQ(tcp.Count(), 1);
}

// A socket-type selector is matched against the socket itself: a UDP rule does not hold a TCP
// connect, nor a TCP rule a UDP one, whatever call or address is used.
TEST_P(NetHolesTest, SocketTypeSelectorReadsTheSocket) {
  LoopbackServer tcp(SOCK_STREAM), udp(SOCK_DGRAM);
  const std::string deny_udp =
      R"({"module": "net_guard", "connect_deny": [{"address": "127.0.0.1", "type": "udp"}]})";
  EXPECT_THAT(Run(deny_udp, {"connect", "udp", udp.port()}), HasSubstr("connect: EACCES"));
  EXPECT_THAT(Run(deny_udp, {"connect", "tcp", tcp.port()}), HasSubstr("connect: ok"));
  EXPECT_EQ(tcp.Count(), 1);
  const std::string only_tcp =
      R"({"module": "net_guard", "connect_allow": [{"address": "127.0.0.1", "type": ["tcp"]}],
          "send_allow": [{"type": "tcp"}]})";
  EXPECT_THAT(Run(only_tcp, {"connect", "udp", udp.port()}), HasSubstr("connect: EACCES"));
  EXPECT_THAT(Run(only_tcp, {"sendto-udp", udp.port()}), HasSubstr("sendto: EACCES"));
  EXPECT_EQ(udp.Count(), 0);
  EXPECT_THAT(Run(only_tcp, {"connect", "tcp", tcp.port()}), HasSubstr("connect: ok"));
  EXPECT_EQ(tcp.Count(), 1);
}

// A connected UDP socket sends without naming an address: every call that sends is judged by
// the socket's peer.
TEST_P(NetHolesTest, ConnectedUdpSendsAreJudgedByThePeer) {
  LoopbackServer allowed(SOCK_DGRAM), denied(SOCK_DGRAM);
  const std::string policy =
      R"({"module": "net_guard", "send_deny": ["127.0.0.1:)" + denied.port() + R"("]})";
  const std::vector<std::string> calls = {"write",    "send",     "writev",   "sendmsg",
                                          "sendmmsg", "pwritev2", "sendfile", "splice"};
  std::string out = Run(policy, {"udp-sends", denied.port()});
  EXPECT_THAT(out, HasSubstr("connect: ok"));  // no connect rule: only the sends are judged
  for (const std::string& call : calls) {
    EXPECT_THAT(out, HasSubstr(call + ": EACCES")) << out;
  }
  EXPECT_EQ(denied.Count(), 0);
  out = Run(policy, {"udp-sends", allowed.port()});
  for (const std::string& call : calls) {
    EXPECT_THAT(out, HasSubstr(call + ": ok")) << out;
  }
  EXPECT_EQ(allowed.Count(), static_cast<int>(calls.size()) + 1);  // sendmmsg sent two
}

// Linux AIO writes on a socket (offset 0) send too: io_submit's write blocks are judged by the
// peer of their descriptor.
TEST_P(NetHolesTest, AioWritesAreJudgedByThePeer) {
  LoopbackServer allowed(SOCK_DGRAM), denied(SOCK_DGRAM);
  const std::string policy =
      R"({"module": "net_guard", "send_deny": ["127.0.0.1:)" + denied.port() + R"("]})";
  EXPECT_THAT(Run(policy, {"aio-sends", denied.port()}), HasSubstr("io_submit: EACCES"));
  EXPECT_EQ(denied.Count(), 0);
  std::string out = Run(policy, {"aio-sends", allowed.port()});
  EXPECT_THAT(out, HasSubstr("io_submit: ok"));
  EXPECT_THAT(out, HasSubstr("aio-result: 10"));
  EXPECT_EQ(allowed.Count(), 1);
}

// A connected TCP socket sends to its peer whatever address sendto names (tcp(7) ignores it).
TEST_P(NetHolesTest, ConnectedTcpSendsAreJudgedByThePeer) {
  LoopbackServer allowed(SOCK_STREAM), denied(SOCK_STREAM);
  const std::string policy =
      R"({"module": "net_guard", "send_deny": ["127.0.0.1:)" + denied.port() + R"("]})";
  std::string out = Run(policy, {"tcp-sends", denied.port(), allowed.port()});
  EXPECT_THAT(out, HasSubstr("connect: ok"));
  EXPECT_THAT(out, HasSubstr("write: EACCES"));
  EXPECT_THAT(out, HasSubstr("send: EACCES"));
  EXPECT_THAT(out, HasSubstr("sendto-other: EACCES"));
  out = Run(policy, {"tcp-sends", allowed.port(), allowed.port()});
  EXPECT_THAT(out, HasSubstr("write: ok"));
  EXPECT_THAT(out, HasSubstr("send: ok"));
  EXPECT_THAT(out, HasSubstr("sendto-other: ok"));
}

// The same for a unix datagram socket connected to a path the send rules deny.
TEST_P(NetHolesTest, ConnectedUnixSendsAreJudgedByThePeer) {
  const std::string path = dir_.path() + "/app.sock";
  UniqueFd rx(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof a.sun_path);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(bind(rx.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  std::string out =
      Run(R"({"module": "net_guard", "send_deny": ["unix:)" + dir_.path() + R"(/*.sock"]})",
          {"unix-sends", path});
  EXPECT_THAT(out, HasSubstr("connect: ok"));
  EXPECT_THAT(out, HasSubstr("write: EACCES"));
  char buf[64];
  EXPECT_LT(recv(rx.get(), buf, sizeof buf, MSG_DONTWAIT), 0);
  out = Run(R"({"module": "net_guard", "send_allow": ["unix"]})", {"unix-sends", path});
  EXPECT_THAT(out, HasSubstr("write: ok"));
  EXPECT_GT(recv(rx.get(), buf, sizeof buf, MSG_DONTWAIT), 0);
}

// Send rules judge sockets only: writes to pipes and files go on.
TEST_P(NetHolesTest, SendRulesLeaveFilesAndPipesAlone) {
  std::string out = Run(R"({"module": "net_guard", "send_allow": []})", {"file-writes"});
  EXPECT_THAT(out, HasSubstr("pipe-write: ok"));
  EXPECT_THAT(out, HasSubstr("pipe-read: same"));
  EXPECT_THAT(out, HasSubstr("null-write: ok"));
}

// A bucket of 5 datagrams that never refills (0.001/s): sendmmsg of 3 takes 3, a second one
// finds 2 and fails, write and send on the connected socket take the last two.
constexpr const char* kBudget[] = {"sendmmsg-1: ok",  "sendmmsg-2: EAGAIN",
                                   "write-1: ok",     "send: ok",
                                   "write-2: EAGAIN", "sent 5, received 5: same"};

// sendmmsg alone in the bucket: its second call finds 2 of the 3 datagrams it needs.
TEST_P(NetHolesTest, RateLimitCountsEachDatagramOfSendmmsg) {
  std::string out = Run(R"({"module": "ratelimit", "syscalls": ["sendmmsg"],
                            "rate": 0.001, "burst": 5, "over_limit": "fail"})",
                        {"mmsg-budget"});
  for (const char* line : {"sendmmsg-1: ok", "sendmmsg-2: EAGAIN", "write-1: ok", "send: ok",
                           "write-2: ok", "sent 6, received 6: same"}) {
    EXPECT_THAT(out, HasSubstr(line)) << out;
  }
}

// Sends on a connected socket match a bucket's destinations by the peer, and a "sends" bucket
// takes every call that sends on a UDP socket, write included.
TEST_P(NetHolesTest, RateLimitJudgesConnectedSendsByThePeer) {
  for (const std::string bucket :
       {R"("syscalls": ["sendmmsg", "sendto", "write"], "to": ["127.0.0.1"])",
        R"("sends": ["udp"])",
        R"("sends": true, "to": [{"address": "127.0.0.1", "type": "udp"}])"}) {
    std::string out = Run(R"({"module": "ratelimit", "buckets": [{)" + bucket +
                              R"(, "rate": 0.001, "burst": 5}], "over_limit": "fail"})",
                          {"mmsg-budget"});
    for (const char* line : kBudget) {
      EXPECT_THAT(out, HasSubstr(line)) << bucket << "\n" << out;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, NetHolesTest, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

}  // namespace
}  // namespace hijack::testing
