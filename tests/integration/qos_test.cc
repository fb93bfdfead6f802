// Packet QoS on real guests under hijackd: ratelimit's streams, which select a guest's UDP
// datagrams by socket (type, peer, local port) in either direction, on every backend.
//
// Every check is a ratio between two streams measured over the same window of the same run, so
// a loaded host (which slows both) cannot make it pass or fail: under a shared total a
// high-priority receive stream keeps its rate while the best-effort one gets what is left;
// sendmmsg(2) is charged per datagram and a connected socket's write(2) is charged at all (two
// streams of equal rates send equal numbers of datagrams whichever call they use); a live
// SetPolicy that swaps the priorities (and selects by local port) swaps the shares. Bad
// settings are refused with their JSON path before any guest starts.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/support/backend_params.h"
#include "tests/support/hijackd_run.h"
#include "tests/support/programs.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
namespace {

using ::testing::HasSubstr;

constexpr const char* kGuest = HIJACK_TEST_QOS_GUEST;
constexpr int kWindowMs = 1500;

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// UDP sockets on 127.0.0.1 ports the kernel picks. As senders they feed the guest's receive
// sockets (which connect to them) at `per_ms` datagrams per millisecond each, far above any
// stream's rate, until destroyed; as sinks they only hold their ports open.
class UdpPeers {
 public:
  explicit UdpPeers(int n) {
    for (int i = 0; i < n; ++i) {
      int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      sockaddr_in a = Loopback(0);
      EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
      socklen_t len = sizeof a;
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
      fds_.push_back(fd);
      ports_.push_back(ntohs(a.sin_port));
    }
  }
  ~UdpPeers() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
    for (int fd : fds_) {
      close(fd);
    }
  }
  int Port(int i) const { return ports_[static_cast<size_t>(i)]; }
  std::string Address(int i) const { return "127.0.0.1:" + std::to_string(Port(i)); }

  // Sends from socket i to 127.0.0.1:to[i], `per_ms` datagrams each millisecond.
  void Feed(std::vector<int> to, int per_ms) {
    thread_ = std::thread([this, to = std::move(to), per_ms] {
      char payload[32] = {};
      while (!stop_.load()) {
        for (size_t i = 0; i < to.size(); ++i) {
          sockaddr_in a = Loopback(to[i]);
          for (int k = 0; k < per_ms; ++k) {
            sendto(fds_[i], payload, sizeof payload, MSG_DONTWAIT,
                   reinterpret_cast<sockaddr*>(&a), sizeof a);
          }
        }
        // Pacing of the load, not a wait for a condition.
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }

 private:
  std::vector<int> fds_;
  std::vector<int> ports_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The numbers after `word` on its n-th line ("window 300 100").
std::vector<long> Numbers(const std::string& out, const std::string& word, int n = 0) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(word + " ", 0) == 0 && n-- == 0) {
      std::istringstream w(line.substr(word.size()));
      std::vector<long> v;
      for (long x; w >> x;) {
        v.push_back(x);
      }
      return v;
    }
  }
  return {};
}

std::string ReceiveStream(const std::string& name, const std::string& match, int rate,
                          int priority) {
  return R"({"name": ")" + name + R"(", "match": {"type": "udp", )" + match +
         R"(, "direction": "receive"}, "rate": )" + std::to_string(rate) +
         R"(, "priority": )" + std::to_string(priority) + "}";
}

// Two receive streams that each want 150 datagrams/s share 200/s.
std::string SharedReceives(const std::string& match_a, int prio_a, const std::string& match_b,
                           int prio_b) {
  return R"({"module": "ratelimit", "total": {"rate": 200}, "streams": [)" +
         ReceiveStream("a", match_a, 150, prio_a) + ", " +
         ReceiveStream("b", match_b, 150, prio_b) + "]}";
}

class QosTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Runs `recv` with GO and a policy under the backend, the peers feeding the guest's sockets
  // once it has printed its ports; returns them.
  std::vector<long> StartReceiver(BackgroundProcess& run, UdpPeers& peers) {
    EXPECT_TRUE(run.WaitForOutput("ports", std::chrono::seconds(60))) << run.Stderr();
    EXPECT_TRUE(Eventually([&] { return Numbers(run.Stdout(), "ports").size() == 2; }))
        << run.Stdout();
    std::vector<long> ports = Numbers(run.Stdout(), "ports");
    if (ports.size() == 2) {
      peers.Feed({static_cast<int>(ports[0]), static_cast<int>(ports[1])}, 2);
    }
    return ports;
  }
  TempDir dir_;
};

// Under the shared total the priority-0 receive stream keeps its 150/s and the priority-3 one
// gets the 50 left: a ratio of 3 (at least 2 is asked). With equal priorities the same streams
// share alike (a ratio near 1), so the difference is the priorities' doing.
TEST_P(QosTest, HighPriorityReceiveStreamKeepsItsRateUnderOverload) {
  for (const bool prioritized : {true, false}) {
    UdpPeers peers(2);
    const std::string policy = WritePolicy(
        dir_, "p.json",
        SharedReceives(R"("peer": ")" + peers.Address(0) + R"(")", 0,
                       R"("peer": ")" + peers.Address(1) + R"(")", prioritized ? 3 : 0));
    BackgroundProcess run(
        HijackdRun{.hijackd = kHijackd, .backend = GetParam(), .policy = policy, .quiet = true}
            .Argv({kGuest, "recv", std::to_string(kWindowMs), "-",
                   std::to_string(peers.Port(0)), std::to_string(peers.Port(1))}),
        dir_.path());
    ASSERT_EQ(StartReceiver(run, peers).size(), 2u);
    ASSERT_TRUE(Eventually([&] { return !Numbers(run.Stdout(), "window").empty(); }))
        << run.Stderr();
    const std::vector<long> w = Numbers(run.Stdout(), "window");
    ASSERT_EQ(w.size(), 2u) << run.Stdout();
    ASSERT_GT(w[1], 0) << run.Stdout();
    const double ratio = static_cast<double>(w[0]) / static_cast<double>(w[1]);
    if (prioritized) {
      EXPECT_GT(ratio, 2.0) << "high " << w[0] << " vs best effort " << w[1];
    } else {
      EXPECT_GT(ratio, 0.6) << w[0] << " vs " << w[1];
      EXPECT_LT(ratio, 1.6) << w[0] << " vs " << w[1];
    }
    run.Stop(SIGTERM);
  }
}

// Two send streams of 100 datagrams/s each: one thread sends batches of 8 by sendmmsg, the other
// write()s on a connected socket. Each is charged per datagram, so both send alike (sendmmsg
// charged per call would send 8 times as many; an uncharged write as many as the CPU allows),
// and the module's report counts exactly the datagrams the guest sent.
TEST_P(QosTest, SendmmsgAndConnectedWriteAreChargedPerDatagram) {
  UdpPeers sinks(2);
  auto stream = [&](const std::string& name, int i) {
    return R"({"name": ")" + name + R"(", "match": {"type": "udp", "peer": ")" +
           sinks.Address(i) + R"(", "direction": "send"}, "rate": 100, "burst": 8})";
  };
  const std::string policy =
      WritePolicy(dir_, "p.json",
                  R"({"module": "ratelimit", "streams": [)" + stream("mmsg", 0) + ", " +
                      stream("write", 1) + "]}");
  ProcessResult r = HijackdRun{.hijackd = kHijackd, .backend = GetParam(), .policy = policy}
                        .Run({kGuest, "send-mix", std::to_string(kWindowMs),
                              std::to_string(sinks.Port(0)), std::to_string(sinks.Port(1))});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(sent A (\d+) (\d+) B (\d+) (\d+))")))
      << r.out;
  const long mmsg_calls = std::stol(m[1]), mmsg = std::stol(m[2]);
  const long write_calls = std::stol(m[3]), writes = std::stol(m[4]);
  ASSERT_GT(writes, 20) << r.out;
  const double ratio = static_cast<double>(mmsg) / static_cast<double>(writes);
  EXPECT_GT(ratio, 0.6) << r.out;
  EXPECT_LT(ratio, 1.6) << r.out;
  // The report at exit: bucket, priority, admitted calls, datagrams, delayed, failed.
  EXPECT_TRUE(std::regex_search(
      r.err, std::regex("mmsg +0 +" + std::to_string(mmsg_calls) + " +" + std::to_string(mmsg) +
                        " ")))
      << r.err;
  EXPECT_TRUE(std::regex_search(r.err, std::regex("write +0 +" + std::to_string(write_calls) +
                                                  " +" + std::to_string(writes) + " ")))
      << r.err;
}

// SetPolicy on a running guest replaces streams chosen by peer (a first) with streams chosen by
// the guest's local ports that put b first: the shares of the two windows swap.
TEST_P(QosTest, SetPolicySwapsThePrioritiesByLocalPort) {
  UdpPeers peers(2);
  const std::string first = WritePolicy(
      dir_, "first.json",
      SharedReceives(R"("peer": ")" + peers.Address(0) + R"(")", 0,
                     R"("peer": ")" + peers.Address(1) + R"(")", 3));
  const std::string go = dir_.path() + "/go";
  const std::string socket = "unix:" + dir_.path() + "/h.sock";
  BackgroundProcess run({kHijackd, "run", "--backend", GetParam(), "--policy", first, "--listen",
                         socket, "--quiet", "--", kGuest, "recv", std::to_string(kWindowMs), go,
                         std::to_string(peers.Port(0)), std::to_string(peers.Port(1))},
                        dir_.path());
  const std::vector<long> ports = StartReceiver(run, peers);
  ASSERT_EQ(ports.size(), 2u);
  ASSERT_TRUE(Eventually([&] { return !Numbers(run.Stdout(), "window").empty(); }))
      << run.Stderr();
  const std::string second = WritePolicy(
      dir_, "second.json",
      SharedReceives(R"("local_port": )" + std::to_string(ports[0]), 3,
                     R"("local_port": ")" + std::to_string(ports[1]) + "-" +
                         std::to_string(ports[1]) + R"(")",
                     0));
  ProcessResult set = RunProcess({kHijackctl, "--connect", socket, "policy", "set", "1", second});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  ASSERT_TRUE(std::ofstream(go).good());
  ASSERT_TRUE(Eventually([&] { return !Numbers(run.Stdout(), "window", 1).empty(); }))
      << run.Stderr();
  const std::vector<long> before = Numbers(run.Stdout(), "window", 0);
  const std::vector<long> after = Numbers(run.Stdout(), "window", 1);
  ASSERT_EQ(before.size(), 2u);
  ASSERT_EQ(after.size(), 2u);
  ASSERT_GT(before[1], 0) << run.Stdout();
  ASSERT_GT(after[0], 0) << run.Stdout();
  EXPECT_GT(static_cast<double>(before[0]) / static_cast<double>(before[1]), 2.0) << run.Stdout();
  EXPECT_GT(static_cast<double>(after[1]) / static_cast<double>(after[0]), 2.0) << run.Stdout();
  run.Stop(SIGTERM);
}

INSTANTIATE_TEST_SUITE_P(Backends, QosTest, ::testing::ValuesIn(BackendNames()),
                         BackendTestName{});

// Bad stream settings are refused before anything starts, each with its JSON path.
TEST(QosSettings, BadSettingsAreRefusedWithTheJsonPath) {
  TempDir dir;
  struct Bad {
    std::string stream;
    std::string message;
  };
  const std::vector<Bad> cases = {
      {R"({"match": {"type": "udp"}, "rate": 0})", "/modules/0/streams/0/rate: 0 is out of range"},
      {R"({"match": {"type": "udp"}})", "/modules/0/streams/0/rate: missing"},
      {R"({"match": {"type": "udp"}, "rate": 10, "ratee": 5})", "/modules/0/streams/0/ratee"},
      {R"({"match": {"type": "udp", "locl_port": 5}, "rate": 10})",
       "/modules/0/streams/0/match/locl_port"},
      {R"({"match": {"local_port": 0}, "rate": 10})",
       "/modules/0/streams/0/match/local_port: port 0 is out of range"},
      {R"({"match": {"local_port": 70000}, "rate": 10})",
       "/modules/0/streams/0/match/local_port: port 70000 is out of range"},
      {R"({"match": {"local_port": [5000, "6000-5000"]}, "rate": 10})",
       R"(/modules/0/streams/0/match/local_port/1: "6000-5000" is out of range)"},
      {R"({"match": {"local_port": "http"}, "rate": 10})",
       R"(/modules/0/streams/0/match/local_port: "http" is not a port)"},
      {R"({"match": {"type": "udpp"}, "rate": 10})",
       R"(/modules/0/streams/0/match/type: unknown socket type "udpp")"},
      {R"({"match": {"peer": "127.0.0.1:99999"}, "rate": 10})", "/modules/0/streams/0/match/peer"},
      {R"({"match": {"direction": "in"}, "rate": 10})", "/modules/0/streams/0/match/direction"},
      {R"({"match": {}, "rate": 10, "priority": 8})", "/modules/0/streams/0/priority"},
      {R"({"rate": 10})", "/modules/0/streams/0/match: missing"},
  };
  const std::string marker = dir.path() + "/started";
  for (const Bad& bad : cases) {
    const std::string policy =
        WritePolicy(dir, "bad.json", R"({"module": "ratelimit", "streams": [)" + bad.stream + "]}");
    ProcessResult r = RunProcess({kHijackd, "run", "--quiet", "--policy", policy, "--",
                                  "/bin/sh", "-c", "touch " + marker});
    EXPECT_EQ(r.exit_code, 2) << bad.stream;
    EXPECT_THAT(r.err, HasSubstr(bad.message)) << bad.stream;
  }
  struct stat st {};
  EXPECT_NE(stat(marker.c_str(), &st), 0) << "a guest was started under a bad policy";
}

}  // namespace
}  // namespace hijack::testing
