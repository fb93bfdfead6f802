#include "daemon/modules/ratelimit/ratelimit_module.h"

#include <fmt/format.h>
#include <seccomp.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "daemon/modules/net_guard/guest_socket.h"
#include "daemon/syscalls/sockaddr.h"
#include "daemon/syscalls/syscall_args.h"
#include "hijack/exec_page.h"

namespace hijack::modules {
namespace {

constexpr double kNsPerS = 1e9;
// Time constant of the measured use of a bucket.
constexpr double kUseTauNs = 0.25e9;
// The share of `total` a bucket keeps however much higher priorities use.
constexpr double kFloorShare = 0.01;

// The destination of a send or connect: the address the call names (the first message's for
// sendmsg and sendmmsg), else, for a send, the socket's peer (getpeername(2) on a copy of the
// descriptor); a connected stream socket's peer whatever the call names (tcp(7) ignores
// msg_name). nullopt when there is none or it cannot be read.
std::optional<SocketAddress> Destination(const SyscallEvent& ev, GuestMemory& mem,
                                         const GuestSocket* sock) {
  std::optional<syscalls::SockaddrRef> ref = syscalls::SockaddrArg(ev);
  if (!ref && syscalls::MessageCount(ev) > 0) {
    auto first = syscalls::MessageAddress(ev, mem, 0);
    if (!first) {
      return std::nullopt;
    }
    ref = *first;
  }
  const bool stream = sock != nullptr && (sock->kind().type == SOCK_STREAM ||
                                          sock->kind().type == SOCK_SEQPACKET);
  if ((!ref || ref->addr == 0 || stream) && sock != nullptr) {
    auto peer = sock->Peer();
    if (peer && *peer) {
      return std::move(**peer);
    }
  }
  if (!ref || ref->addr == 0) {
    return std::nullopt;
  }
  auto read = syscalls::ReadSockaddr(mem, *ref);
  if (!read || !*read) {
    return std::nullopt;
  }
  return std::move(**read);
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The calls that receive through a descriptor which may be a socket, each with its descriptor
// in the first argument: read(2) and readv(2) on a socket are recv(2) without flags,
// preadv2(2) with offset -1 is readv(2), recv(2) is recvfrom with no address.
SyscallSet ReceiveCalls() {
  SyscallSet set;
  for (int nr : {SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(preadv2), SCMP_SYS(recvfrom),
                 SCMP_SYS(recvmsg), SCMP_SYS(recvmmsg)}) {
    set.Add(nr);
  }
  return set;
}

bool InPorts(const std::vector<std::pair<uint16_t, uint16_t>>& ranges, uint16_t port) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const auto& r) { return port >= r.first && port <= r.second; });
}

}  // namespace

RateLimitModule::RateLimitModule(Config config) : config_(std::move(config)) {
  for (const auto& b : config_.buckets) {
    syscalls_.AddAll(b.syscalls);
    if (b.sends) {
      syscalls_.AddAll(syscalls::SendCalls());
    }
    if (b.receives) {
      syscalls_.AddAll(ReceiveCalls());
    }
  }
}

std::optional<size_t> RateLimitModule::BucketOf(const SyscallEvent& ev, GuestMemory& mem) const {
  const bool is_send = syscalls::SendCalls().Contains(ev.nr);
  const bool is_receive = !is_send && ReceiveCalls().Contains(ev.nr);
  // Looked up once per call, only when a bucket needs it (eight system calls: GuestSocket::Take).
  std::optional<Result<std::optional<GuestSocket>>> sock;
  auto socket = [&]() -> const GuestSocket* {
    if (!sock) {
      std::optional<int> fd = syscalls::SendFdArg(ev);
      if (!fd) {
        fd = syscalls::FdArg(ev);
      }
      sock.emplace(fd ? GuestSocket::Take(ev, mem, *fd)
                      : std::unexpected(Error{EBADF, "no descriptor"}));
    }
    return *sock && **sock ? &***sock : nullptr;
  };
  std::optional<std::optional<uint16_t>> local_port;
  auto port = [&](const GuestSocket& s) -> std::optional<uint16_t> {
    if (!local_port) {
      auto local = s.Local();
      local_port.emplace(local && (local->family == AF_INET || local->family == AF_INET6)
                             ? std::optional<uint16_t>(local->port)
                             : std::nullopt);
    }
    return *local_port;
  };
  std::optional<std::optional<SocketAddress>> peer;  // a receive's: the connected peer
  std::optional<SocketAddress> dest;
  bool read_dest = false;
  for (size_t i = 0; i < config_.buckets.size(); ++i) {
    const auto& b = config_.buckets[i];
    if (b.sends || b.receives) {
      // Every send (receive) on a socket of the selected types, whichever call makes it.
      if (!(b.sends ? is_send : is_receive)) {
        continue;
      }
      const GuestSocket* s = socket();
      if (s == nullptr || !b.types.Matches(s->kind())) {
        continue;
      }
      if (!b.local_ports.empty()) {
        std::optional<uint16_t> p = port(*s);
        if (!p || !InPorts(b.local_ports, *p)) {
          continue;
        }
      }
      if (b.receives) {
        if (b.to.empty()) {
          return i;
        }
        if (!peer) {
          auto got = s->Peer();
          peer.emplace(got && *got ? std::optional<SocketAddress>(std::move(**got))
                                   : std::nullopt);
        }
        if (*peer && std::any_of(b.to.begin(), b.to.end(), [&](const AddressRule& r) {
              return r.Matches(**peer, &s->kind());
            })) {
          return i;
        }
        continue;
      }
    } else if (!b.syscalls.Contains(ev.nr)) {
      continue;
    }
    if (b.to.empty()) {
      return i;
    }
    const bool kinds = AnyNeedsKind(b.to);
    const GuestSocket* s = is_send || kinds ? socket() : nullptr;
    if (!read_dest) {
      dest = Destination(ev, mem, is_send ? s : nullptr);
      read_dest = true;
    }
    const SocketKind* kind = s != nullptr ? &s->kind() : nullptr;
    if (dest && std::any_of(b.to.begin(), b.to.end(),
                            [&](const AddressRule& r) { return r.Matches(*dest, kind); })) {
      return i;
    }
  }
  return std::nullopt;
}

double RateLimitModule::EffectiveRate(const GuestState& g, size_t b, double now_ns) const {
  const auto& mine = config_.buckets[b];
  if (config_.total_rate <= 0) {
    return mine.rate;
  }
  // What the higher priorities take: their full effective rate while backlogged, else their
  // measured use. Buckets of the same priority split what is left: those that are not
  // backlogged keep what they use, the backlogged ones (this one among them) share the rest
  // alike, so two best-effort streams under overload get half each, not the whole rest each.
  double taken = 0;
  double peers_use = 0;
  int backlogged_peers = 0;
  for (size_t i = 0; i < config_.buckets.size(); ++i) {
    const int prio = config_.buckets[i].priority;
    if (i == b || prio > mine.priority) {
      continue;
    }
    const BucketState& s = g.buckets[i];
    double decay = std::exp(-std::max(0.0, now_ns - s.used_at_ns) / kUseTauNs);
    double used = std::min(s.used_rate * decay, config_.buckets[i].rate);
    const bool backlogged = s.tat_ns > now_ns;
    if (prio < mine.priority) {
      if (backlogged) {
        used = std::max(used, std::min(config_.buckets[i].rate, config_.total_rate));
      }
      taken += std::min(used, config_.buckets[i].rate);
    } else if (backlogged) {
      ++backlogged_peers;
    } else {
      peers_use += used;
    }
  }
  const double floor = config_.total_rate * kFloorShare;
  const double left = std::max(config_.total_rate - taken, floor);
  const double share = std::max((left - peers_use) / (1 + backlogged_peers), floor);
  return std::min(mine.rate, share);
}

std::optional<int64_t> RateLimitModule::Admit(uint64_t guest, size_t b, int64_t now_i,
                                              uint64_t cost) {
  std::lock_guard lock(mu_);
  GuestState& g = guests_[guest];
  if (g.buckets.empty()) {
    g.buckets.resize(config_.buckets.size());
  }
  const double now = static_cast<double>(now_i);
  BucketState& s = g.buckets[b];
  const auto& cfg = config_.buckets[b];
  // GCRA: emission interval T = 1/rate, tolerance (burst - 1) * T. A call of `cost` datagrams
  // (sendmmsg) is `cost` cells arriving at once: it conforms when the last of them would, so it
  // waits until max(tat, t) + (cost - 1) * T - tolerance <= t. A cost beyond the burst can never
  // conform: it waits for a full bucket and leaves the excess as debt for the calls after it.
  const double rate = EffectiveRate(g, b, now);
  const double interval = kNsPerS / rate;
  const double tolerance = (cfg.burst - 1) * interval;
  const double cells = static_cast<double>(std::max<uint64_t>(cost, 1));
  const double within_burst = std::min(cells, std::floor(cfg.burst));
  // `total` is enforced through the effective rates, not as a bucket of its own: a shared bucket
  // would let a squeezed call scheduled far ahead hold back every higher priority behind it.
  const double at = std::max(now, s.tat_ns + (within_burst - 1) * interval - tolerance);
  const auto wait = static_cast<int64_t>(at - now);
  if (wait > 0 && (!config_.wait || wait > config_.max_wait_ns)) {
    ++s.failed;
    return std::nullopt;
  }
  s.tat_ns = std::max(s.tat_ns, at) + cells * interval;
  // The call runs at `at`: that is when it uses the bucket.
  s.used_rate = s.used_rate * std::exp(-std::max(0.0, at - s.used_at_ns) / kUseTauNs) +
                cells * kNsPerS / kUseTauNs;
  s.used_at_ns = std::max(s.used_at_ns, at);
  ++s.admitted;
  s.datagrams += static_cast<uint64_t>(cells);
  if (wait > 0) {
    ++s.delayed;
  }
  return std::max<int64_t>(wait, 0);
}

std::vector<PageBucket> RateLimitModule::PageBuckets() const {
  std::vector<PageBucket> out;
  if (config_.total_rate > 0 || !config_.wait) {
    return out;
  }
  SyscallSet earlier;             // calls an earlier bucket takes first
  SyscallSet earlier_by_address;  // calls an earlier bucket takes for some destinations
  for (const auto& b : config_.buckets) {
    SyscallSet mine = b.syscalls.Minus(earlier);
    // A `sends` bucket must tell sockets from files, and sendmmsg/recvmmsg cost per message:
    // only the supervisor can do either.
    bool fits = b.to.empty() && !b.sends && !b.receives && !mine.Contains(SCMP_SYS(sendmmsg)) &&
                !mine.Contains(SCMP_SYS(recvmmsg)) && !mine.empty() && b.rate >= 1 &&
                b.rate == std::floor(b.rate) && b.burst >= 1 && b.burst == std::floor(b.burst) && b.burst <= UINT32_MAX;
    for (int nr : mine.Numbers()) {
      fits = fits && exec_page::AgentIndex(nr) >= 0 && !earlier_by_address.Contains(nr);
    }
    if (fits) {
      out.push_back(
          PageBucket{mine, static_cast<uint64_t>(b.rate), static_cast<uint32_t>(b.burst)});
    }
    (b.to.empty() ? earlier : earlier_by_address).AddAll(b.syscalls);
    if (b.sends) {
      earlier_by_address.AddAll(syscalls::SendCalls());  // taken on sockets only
    }
    if (b.receives) {
      earlier_by_address.AddAll(ReceiveCalls());
    }
  }
  return out;
}

std::optional<Decision> RateLimitModule::Decide(const SyscallEvent& ev, GuestMemory& mem) {
  if (in_page_.Contains(ev.nr)) {
    return std::nullopt;  // the guest's page shapes it; the backend waits for its token
  }
  auto b = BucketOf(ev, mem);
  if (!b) {
    return std::nullopt;
  }
  auto wait = Admit(ev.guest_id, *b, ev.start_ns != 0 ? ev.start_ns : NowNs(),
                    syscalls::DatagramCount(ev));
  if (!wait) {
    return Decision::Fail(EAGAIN);
  }
  if (*wait == 0) {
    return std::nullopt;
  }
  return Decision::Continue().After(std::chrono::nanoseconds(*wait));
}

nlohmann::json RateLimitModule::Stats() const {
  std::lock_guard lock(mu_);
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [guest, g] : guests_) {
    nlohmann::json per = nlohmann::json::object();
    for (size_t i = 0; i < g.buckets.size(); ++i) {
      const auto& s = g.buckets[i];
      per[config_.buckets[i].name] = {{"admitted", s.admitted},
                                      {"datagrams", s.datagrams},
                                      {"delayed", s.delayed},
                                      {"failed", s.failed}};
    }
    out[std::to_string(guest)] = std::move(per);
  }
  return out;
}

std::string RateLimitModule::Report() const {
  std::lock_guard lock(mu_);
  std::string out = fmt::format("{:<16} {:>8} {:>10} {:>10} {:>10} {:>10}\n", "bucket",
                                "priority", "admitted", "datagrams", "delayed", "failed");
  for (const auto& [guest, g] : guests_) {
    for (size_t i = 0; i < g.buckets.size(); ++i) {
      const auto& s = g.buckets[i];
      out += fmt::format("{:<16} {:>8} {:>10} {:>10} {:>10} {:>10}\n", config_.buckets[i].name,
                         config_.buckets[i].priority, s.admitted, s.datagrams, s.delayed,
                         s.failed);
    }
  }
  return out;
}

namespace {

// Ranges of the settings, so that every derived quantity stays finite and fits its type: the
// emission interval 1e9 / rate in ns, (burst - 1) * interval, max_wait_ms * 1e6 as int64 ns.
constexpr double kMinRate = 1e-3;  // one call per 1000 s
constexpr double kMaxRate = 1e9;   // one per ns: beyond anything a guest can call
constexpr double kMaxBurst = 1e9;
constexpr double kMaxWaitMs = 86'400'000;  // a day

Result<RateLimitModule::BucketConfig> ParseBucket(policy::ConfigReader& c, bool top_level,
                                                  size_t index) {
  RateLimitModule::BucketConfig b;
  b.name = top_level ? "default" : fmt::format("bucket{}", index);
  if (!top_level) {
    HIJACK_ASSIGN_OR_RETURN(auto name, c.String("name"));
    if (name) {
      b.name = *name;
    }
    HIJACK_ASSIGN_OR_RETURN(auto prio, c.Integer("priority"));
    if (prio) {
      if (*prio < 0 || *prio > 7) {
        return MakeError(c.PathOf("priority") + ": expected 0 (highest) .. 7");
      }
      b.priority = static_cast<int>(*prio);
    }
  }
  HIJACK_ASSIGN_OR_RETURN(auto syscalls, c.Syscalls("syscalls"));
  if (const nlohmann::json* sends = c.Raw("sends")) {
    if (syscalls) {
      return MakeError(c.PathOf("sends") + ": give either sends or syscalls, not both");
    }
    b.sends = true;
    if (sends->is_boolean()) {
      if (!sends->get<bool>()) {
        return MakeError(c.PathOf("sends") +
                         ": expected true or socket types (leave it out for no sends)");
      }
    } else {
      HIJACK_ASSIGN_OR_RETURN(auto given, c.StringList("sends"));
      const std::vector<std::string> names = std::move(given).value_or(std::vector<std::string>{});
      if (names.empty()) {
        return MakeError(c.PathOf("sends") + ": expected true or at least one socket type (" +
                         SocketTypes::KnownNames() + ")");
      }
      for (size_t t = 0; t < names.size(); ++t) {
        auto one = SocketTypes::Parse({names[t]});
        if (!one) {
          return MakeError(fmt::format("{}{}: {}", c.PathOf("sends"),
                                       sends->is_string() ? "" : fmt::format("/{}", t),
                                       one.error().message));
        }
      }
      HIJACK_ASSIGN_OR_RETURN(b.types, SocketTypes::Parse(names));
    }
  } else if (!syscalls) {
    return MakeError(c.PathOf("syscalls") +
                     ": missing (the calls this bucket limits, or \"sends\" for datagrams)");
  } else {
    b.syscalls = *syscalls;
  }
  HIJACK_ASSIGN_OR_RETURN(auto rate, c.Number("rate", kMinRate, kMaxRate));
  if (!rate) {
    return MakeError(c.PathOf("rate") + ": expected a positive number of calls per second");
  }
  b.rate = *rate;
  HIJACK_ASSIGN_OR_RETURN(auto burst, c.Number("burst", 1, kMaxBurst));
  b.burst = burst.value_or(1);
  HIJACK_ASSIGN_OR_RETURN(auto to, ReadAddressRules(c, "to"));
  if (to) {
    if (to->empty()) {
      // "to": [] would match no destination, so the bucket would limit nothing.
      return MakeError(c.PathOf("to") +
                       ": expected at least one address rule (leave it out for every destination)");
    }
    b.to = std::move(*to);
  }
  return b;
}

// Socket types under `key` ("udp" or ["udp", "unix-dgram"]); each bad name with its path.
Result<SocketTypes> ReadSocketTypes(policy::ConfigReader& c, std::string_view key) {
  const nlohmann::json* raw = c.Raw(key);
  HIJACK_ASSIGN_OR_RETURN(auto given, c.StringList(key));
  const std::vector<std::string> names = std::move(given).value_or(std::vector<std::string>{});
  if (raw != nullptr && names.empty()) {
    return MakeError(c.PathOf(key) + ": expected at least one socket type (" +
                     SocketTypes::KnownNames() + ")");
  }
  for (size_t t = 0; t < names.size(); ++t) {
    auto one = SocketTypes::Parse({names[t]});
    if (!one) {
      return MakeError(fmt::format("{}{}: {}", c.PathOf(key),
                                   raw->is_string() ? "" : fmt::format("/{}", t),
                                   one.error().message));
    }
  }
  return SocketTypes::Parse(names);
}

// One port (1 .. 65535) or a range "LO-HI" at `path`.
Result<std::pair<uint16_t, uint16_t>> ParsePortRange(const nlohmann::json& v,
                                                     const std::string& path) {
  auto bad = [&](const std::string& what) {
    return MakeError(fmt::format("{}: {} (expected a port 1 .. 65535 or a range \"LO-HI\")",
                                 path, what));
  };
  if (v.is_number_integer()) {
    const auto p = v.get<int64_t>();
    if (p < 1 || p > 65535) {
      return bad(fmt::format("port {} is out of range", p));
    }
    return std::pair{static_cast<uint16_t>(p), static_cast<uint16_t>(p)};
  }
  if (!v.is_string()) {
    return bad(fmt::format("got {}", v.type_name()));
  }
  const std::string text = v.get<std::string>();
  const size_t dash = text.find('-');
  auto number = [](std::string_view w) -> std::optional<int64_t> {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), n);
    if (ec != std::errc{} || end != w.data() + w.size() || w.empty()) {
      return std::nullopt;
    }
    return n;
  };
  std::optional<int64_t> lo = number(std::string_view(text).substr(0, dash));
  std::optional<int64_t> hi =
      dash == std::string::npos ? lo : number(std::string_view(text).substr(dash + 1));
  if (!lo || !hi) {
    return bad(fmt::format("\"{}\" is not a port", text));
  }
  if (*lo < 1 || *hi > 65535 || *lo > *hi) {
    return bad(fmt::format("\"{}\" is out of range", text));
  }
  return std::pair{static_cast<uint16_t>(*lo), static_cast<uint16_t>(*hi)};
}

// A stream of "streams": a bucket for its sends, its receives, or one for each.
Result<std::vector<RateLimitModule::BucketConfig>> ParseStream(policy::ConfigReader& c,
                                                               size_t index) {
  RateLimitModule::BucketConfig b;
  HIJACK_ASSIGN_OR_RETURN(auto name, c.String("name"));
  b.name = name.value_or(fmt::format("stream{}", index));
  HIJACK_ASSIGN_OR_RETURN(auto prio, c.Integer("priority", 0, 7));
  b.priority = static_cast<int>(prio.value_or(0));
  HIJACK_ASSIGN_OR_RETURN(auto rate, c.Number("rate", kMinRate, kMaxRate));
  if (!rate) {
    return MakeError(c.PathOf("rate") + ": missing (datagrams per second)");
  }
  b.rate = *rate;
  HIJACK_ASSIGN_OR_RETURN(auto burst, c.Number("burst", 1, kMaxBurst));
  b.burst = burst.value_or(1);
  const nlohmann::json* match = c.Raw("match");
  if (match == nullptr || !match->is_object()) {
    return MakeError(c.PathOf("match") +
                     (match == nullptr ? ": missing" : ": expected an object") +
                     " (the stream's sockets: type, peer, local_port, direction)");
  }
  policy::ConfigReader m(*match, c.PathOf("match"));
  HIJACK_ASSIGN_OR_RETURN(b.types, ReadSocketTypes(m, "type"));
  HIJACK_ASSIGN_OR_RETURN(auto peer, ReadAddressRules(m, "peer"));
  if (peer) {
    if (peer->empty()) {
      return MakeError(m.PathOf("peer") +
                       ": expected at least one address rule (leave it out for every peer)");
    }
    b.to = std::move(*peer);
  }
  if (const nlohmann::json* ports = m.Raw("local_port")) {
    if (ports->is_array()) {
      if (ports->empty()) {
        return MakeError(m.PathOf("local_port") +
                         ": expected at least one port (leave it out for every port)");
      }
      for (size_t i = 0; i < ports->size(); ++i) {
        HIJACK_ASSIGN_OR_RETURN(
            auto r, ParsePortRange((*ports)[i], fmt::format("{}/{}", m.PathOf("local_port"), i)));
        b.local_ports.push_back(r);
      }
    } else {
      HIJACK_ASSIGN_OR_RETURN(auto r, ParsePortRange(*ports, m.PathOf("local_port")));
      b.local_ports.push_back(r);
    }
  }
  enum Direction { kSend = 1, kReceive = 2, kBoth = 3 };
  HIJACK_ASSIGN_OR_RETURN(
      auto dir, m.Enum<int>("direction", {{"send", kSend}, {"receive", kReceive}, {"both", kBoth}}));
  HIJACK_TRY(m.Finish());
  const int d = dir.value_or(kBoth);
  std::vector<RateLimitModule::BucketConfig> out;
  if (d & kSend) {
    out.push_back(b);
    out.back().sends = true;
    if (d == kBoth) {
      out.back().name += "/send";
    }
  }
  if (d & kReceive) {
    out.push_back(b);
    out.back().receives = true;
    if (d == kBoth) {
      out.back().name += "/receive";
    }
  }
  return out;
}

// The keys of a stream, for `hijackd modules` and the schema.
policy::Setting Streams() {
  policy::Setting local_port = policy::setting::Integer(
      "local_port", "the socket's local port: a port, a range \"LO-HI\", or a list of them");
  local_port.types |= policy::kJsonString | policy::kJsonList;
  local_port.item_types = policy::kJsonInteger | policy::kJsonString;
  return policy::setting::ObjectList(
      "streams",
      "datagrams selected by socket, sent and received (tried after buckets)",
      {policy::setting::Text("name", "the stream's name in stats"),
       policy::setting::Object(
           "match", "the stream's sockets",
           {policy::setting::Flags("type", "socket types (default: every socket)",
                                   SocketTypes::Names()),
            AddressRulesSetting("peer",
                                "a send's destination, a receive's connected peer "
                                "(default: every one)"),
            std::move(local_port),
            policy::setting::Choice("direction", "which datagrams the stream takes",
                                    {"send", "receive", "both"})
                .Default("both")})
           .Required(),
       policy::setting::Number("rate", "datagrams per second (each direction)")
           .Range(kMinRate, kMaxRate)
           .Required(),
       policy::setting::Number("burst", "datagrams allowed at once").Range(1, kMaxBurst).Default(1),
       policy::setting::Integer("priority", "0 (highest) .. 7, for total").Range(0, 7).Default(0)});
}

// "sends": true or socket types, instead of syscalls.
policy::Setting Sends() {
  policy::Setting s = policy::setting::Flags(
      "sends",
      "instead of syscalls: every datagram sent on a socket (true, or socket types), whichever "
      "call sends it",
      SocketTypes::Names());
  s.types |= policy::kJsonBoolean;
  s.only_boolean = true;
  return s;
}

}  // namespace

policy::ModuleInfo RateLimitModule::Info() {
  return {
      .name = "ratelimit",
      .summary = "token buckets (rate, burst) per guest and syscall set, with priorities",
      .settings = {policy::setting::Syscalls("syscalls", "single-bucket form: the calls limited"),
                   Sends(),
                   policy::setting::Number("rate", "single-bucket form: calls per second")
                       .Range(kMinRate, kMaxRate),
                   policy::setting::Number("burst", "single-bucket form: calls allowed at once")
                       .Range(1, kMaxBurst)
                       .Default(1),
                   AddressRulesSetting("to", "single-bucket form: only sends and connects to "
                                             "these destinations (default: every one)"),
                   policy::setting::ObjectList(
                       "buckets", "several buckets instead of the single-bucket form",
                       {policy::setting::Text("name", "the bucket's name in stats"),
                        policy::setting::Syscalls("syscalls", "the calls this bucket limits"),
                        Sends(),
                        AddressRulesSetting("to", "only these destinations (default: every one)"),
                        policy::setting::Number("rate", "calls per second")
                            .Range(kMinRate, kMaxRate)
                            .Required(),
                        policy::setting::Number("burst", "calls allowed at once")
                            .Range(1, kMaxBurst)
                            .Default(1),
                        policy::setting::Integer("priority", "0 (highest) .. 7, for total")
                            .Range(0, 7)
                            .Default(0)}),
                   policy::setting::Object("total",
                                           "a rate shared by all buckets, given out by priority",
                                           {policy::setting::Number("rate", "calls per second")
                                                .Range(kMinRate, kMaxRate)
                                                .Required()}),
                   Streams(),
                   policy::setting::Choice("over_limit",
                                           "wait: hold the call until a token is there; fail: "
                                           "EAGAIN at once",
                                           {"wait", "fail"})
                       .Default("wait"),
                   policy::setting::Number("max_wait_ms",
                                           "a wait longer than this fails with EAGAIN")
                       .Range(0, kMaxWaitMs)
                       .Default(10000)},
      .factory = [](policy::ConfigReader& config) -> Result<std::unique_ptr<PolicyModule>> {
        Config c;
        const nlohmann::json* streams = config.Raw("streams");
        if (const nlohmann::json* buckets = config.Raw("buckets")) {
          if (config.Has("syscalls") || config.Has("sends") || config.Has("rate")) {
            return MakeError(config.PathOf("buckets") +
                             ": give either buckets or syscalls+rate, not both");
          }
          if (!buckets->is_array() || buckets->empty()) {
            return MakeError(config.PathOf("buckets") + ": expected a non-empty list of buckets");
          }
          for (size_t i = 0; i < buckets->size(); ++i) {
            std::string path = fmt::format("{}/{}", config.PathOf("buckets"), i);
            if (!(*buckets)[i].is_object()) {
              return MakeError(path + ": expected a bucket object");
            }
            policy::ConfigReader bc((*buckets)[i], path);
            HIJACK_ASSIGN_OR_RETURN(auto b, ParseBucket(bc, false, i));
            HIJACK_TRY(bc.Finish());
            c.buckets.push_back(std::move(b));
          }
        } else if (streams == nullptr) {
          HIJACK_ASSIGN_OR_RETURN(auto b, ParseBucket(config, true, 0));
          c.buckets.push_back(std::move(b));
        }
        if (streams != nullptr) {
          if (config.Has("syscalls") || config.Has("sends") || config.Has("rate")) {
            return MakeError(config.PathOf("streams") +
                             ": give either streams or syscalls+rate, not both");
          }
          if (!streams->is_array() || streams->empty()) {
            return MakeError(config.PathOf("streams") + ": expected a non-empty list of streams");
          }
          for (size_t i = 0; i < streams->size(); ++i) {
            std::string path = fmt::format("{}/{}", config.PathOf("streams"), i);
            if (!(*streams)[i].is_object()) {
              return MakeError(path + ": expected a stream object");
            }
            policy::ConfigReader sc((*streams)[i], path);
            HIJACK_ASSIGN_OR_RETURN(auto got, ParseStream(sc, i));
            HIJACK_TRY(sc.Finish());
            for (auto& b : got) {
              c.buckets.push_back(std::move(b));
            }
          }
        }
        if (const nlohmann::json* total = config.Raw("total")) {
          std::string path = config.PathOf("total");
          if (!total->is_object()) {
            return MakeError(path + ": expected {\"rate\": N}");
          }
          policy::ConfigReader tc(*total, path);
          HIJACK_ASSIGN_OR_RETURN(auto rate, tc.Number("rate", kMinRate, kMaxRate));
          if (!rate) {
            return MakeError(tc.PathOf("rate") +
                             ": expected a positive number of calls per second");
          }
          HIJACK_TRY(tc.Finish());
          c.total_rate = *rate;
        }
        HIJACK_ASSIGN_OR_RETURN(auto wait,
                                config.Enum<bool>("over_limit", {{"wait", true}, {"fail", false}}));
        c.wait = wait.value_or(true);
        HIJACK_ASSIGN_OR_RETURN(auto max_wait, config.Number("max_wait_ms", 0, kMaxWaitMs));
        if (max_wait) {
          c.max_wait_ns = static_cast<int64_t>(*max_wait * 1e6);
        }
        return std::make_unique<RateLimitModule>(std::move(c));
      },
  };
}

}  // namespace hijack::modules
