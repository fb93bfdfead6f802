// ratelimit: token buckets on calls, per guest, with priorities between buckets.
//
//   {"module": "ratelimit", "syscalls": ["sendto", "sendmsg"], "rate": 2000, "burst": 64}
//
//   {"module": "ratelimit", "over_limit": "wait", "max_wait_ms": 2000,
//    "total": {"rate": 1000},
//    "buckets": [
//      {"name": "control", "syscalls": ["sendto"], "to": ["*:7001"], "rate": 400, "priority": 0},
//      {"name": "bulk",    "syscalls": ["sendto"], "rate": 1000, "priority": 3}]}
//
// A call belongs to the first bucket whose `syscalls` contain it and whose `to` (AddressRules on
// the destination of connect/sendto/sendmsg, or the peer of a send that names none; absent:
// any) matches; calls of no bucket pass. A bucket with `"sends": true` (or socket types:
// "sends": ["udp"]) instead of `syscalls` takes every send on a socket of those types, whichever
// call makes it (write, writev, send, sendto, sendmsg, sendmmsg, pwritev2, sendfile, splice), so
// a connected UDP socket cannot leave by write() around it; sends on files and pipes pass.
// A call costs one token per datagram: sendmmsg and recvmmsg cost their vlen (at most 1024, the
// kernel's UIO_MAXIOV cap on sendmmsg), every other call one.
// Each bucket is a GCRA token bucket (rate calls/s, burst calls). Over the limit a call waits
// (Decision::Continue().After(wait): the guest thread blocks, the loop does not) or, with
// "over_limit": "fail" or when the wait would exceed max_wait_ms, fails with EAGAIN.
// `total` caps all buckets together and shares that capacity by priority (0 first): a bucket
// gets at most its own rate and at most what the higher priorities leave of the total (their
// measured use, or their full effective rate while they are backlogged), so a high-priority
// stream keeps its rate under overload while best-effort ones are squeezed, down to 1% of the
// total. State is per guest (SyscallEvent::guest_id).
//
// Streams select datagrams by the socket rather than by the call, in both directions:
//
//   {"module": "ratelimit", "total": {"rate": 20000},
//    "streams": [
//      {"name": "task0", "match": {"type": "udp", "local_port": 5000, "direction": "receive"},
//       "rate": 8000, "burst": 32, "priority": 0},
//      {"name": "rest", "match": {"type": "udp", "peer": "127.0.0.1:6000-6010"},
//       "rate": 20000, "priority": 3}]}
//
// A stream is a bucket (or two: "direction": "both", the default, gives its sends and its
// receives a bucket each, "NAME/send" and "NAME/receive", with the same settings) whose calls
// are every send (SendCalls) or every receive (read, readv, preadv2, recvfrom, recvmsg,
// recvmmsg) on a socket whose type, local port (getsockname(2)) and peer match. The peer of a
// send is its destination (as for `to`); the peer of a receive is the socket's connected peer
// (getpeername(2)): an unconnected socket has none before the call, so a receive stream with a
// `peer` never takes its receives. A receive over the limit is held before it runs, so the
// datagrams it would have read wait in the socket's receive queue, and what overflows the
// queue the kernel drops (udp(7), SO_RCVBUF) without costing the guest or the supervisor.
// Buckets are tried before streams.
//
// With the agent (notify backend), a bucket that needs nothing but its own arithmetic (no `to`,
// no `total`, "over_limit": "wait", a whole number of calls per second, every call one the agent
// wraps) is handed to the guest's executive page: the agent waits for its tokens inline and calls
// reaching the supervisor take theirs from the same page bucket. Those calls wait however long
// the bucket says (max_wait_ms does not apply), and the module's own counters do not see them.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <vector>

#include "daemon/modules/net_guard/address_rule.h"
#include "daemon/policy/module_registry.h"

namespace hijack::modules {

class RateLimitModule final : public PolicyModule {
 public:
  struct BucketConfig {
    std::string name;
    SyscallSet syscalls;
    std::vector<AddressRule> to;
    bool sends = false;     // instead of syscalls: every send on a socket of `types`
    bool receives = false;  // instead of syscalls: every receive on a socket of `types`
    SocketTypes types;      // sends, receives: empty for every socket
    // sends, receives: the socket's local port in one of these ranges (empty: any port).
    std::vector<std::pair<uint16_t, uint16_t>> local_ports;
    double rate = 0;   // calls per second
    double burst = 1;  // calls
    int priority = 0;  // 0 is the highest
  };
  struct Config {
    std::vector<BucketConfig> buckets;
    double total_rate = 0;  // 0: no shared capacity
    bool wait = true;
    int64_t max_wait_ns = 10'000'000'000;
  };

  explicit RateLimitModule(Config config);
  static policy::ModuleInfo Info();

  std::string_view Name() const override { return "ratelimit"; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return true; }
  std::vector<PageBucket> PageBuckets() const override;
  void ShapeInPage(const SyscallSet& nrs) override { in_page_ = nrs; }
  std::optional<Decision> Decide(const SyscallEvent& ev, GuestMemory& mem) override;
  nlohmann::json Stats() const override;
  std::string Report() const override;

  // The delay before a call of bucket `b` at `now_ns` carrying `cost` datagrams may run (pure
  // bucket arithmetic, for tests); commits the call to the bucket unless it fails.
  std::optional<int64_t> Admit(uint64_t guest, size_t b, int64_t now_ns, uint64_t cost = 1);

 private:
  struct BucketState {
    double tat_ns = 0;     // GCRA theoretical arrival time
    double used_rate = 0;  // EWMA of admitted calls per second
    double used_at_ns = 0;
    uint64_t admitted = 0;   // calls
    uint64_t datagrams = 0;  // what they cost (sendmmsg: its messages)
    uint64_t delayed = 0;
    uint64_t failed = 0;
  };
  struct GuestState {
    std::vector<BucketState> buckets;
  };

  std::optional<size_t> BucketOf(const SyscallEvent& ev, GuestMemory& mem) const;
  double EffectiveRate(const GuestState& g, size_t b, double now_ns) const;

  const Config config_;
  SyscallSet in_page_;  // calls the guest's page shapes (ShapeInPage); Decide leaves them alone
  SyscallSet syscalls_;
  mutable std::mutex mu_;  // Decide runs on the loop thread; Stats on any
  std::map<uint64_t, GuestState> guests_;
};

}  // namespace hijack::modules
