// Socket types in net_guard rules: the selector ("tcp", "udp", "unix-dgram", ...) that a rule
// may carry, matched against what the socket itself says it is (socket(7): SO_DOMAIN, SO_TYPE,
// SO_PROTOCOL on a copy of the guest's descriptor), never against the call that was used, so a
// rule about UDP holds whether the datagram leaves by sendto, write or sendmmsg.
//
//   Result<SocketTypes> t = SocketTypes::Parse({"udp", "unix-dgram"});
//   t->Matches(SocketKind{AF_INET, SOCK_DGRAM, IPPROTO_UDP});   // true
//
// Names (each a set of (domain, type, protocol) triples):
//   tcp          AF_INET/AF_INET6 stream sockets of IPPROTO_TCP or IPPROTO_MPTCP (MPTCP is TCP on
//                the wire, one subflow per path)
//   udp          AF_INET/AF_INET6 datagram sockets of IPPROTO_UDP or IPPROTO_UDPLITE
//   icmp         AF_INET/AF_INET6 datagram "ping" sockets (IPPROTO_ICMP, IPPROTO_ICMPV6)
//   sctp         AF_INET/AF_INET6 sockets of IPPROTO_SCTP (stream or seqpacket)
//   raw          SOCK_RAW of any family (raw IP, AF_PACKET)
//   packet       AF_PACKET of any type
//   unix         AF_UNIX of any type; unix-stream, unix-dgram, unix-seqpacket one type each
//   netlink      AF_NETLINK
//   vsock        AF_VSOCK
// Pure values; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hijack/result.h"

namespace hijack::modules {

// What a socket is, as getsockopt(2) SO_DOMAIN, SO_TYPE and SO_PROTOCOL report it.
struct SocketKind {
  int domain = 0;
  int type = 0;  // SOCK_STREAM, SOCK_DGRAM, ... (the kernel reports it without SOCK_* flags)
  int protocol = 0;
};

class SocketTypes {
 public:
  // The empty set: a rule without a selector, which matches every socket.
  SocketTypes() = default;
  // Errors name the unknown type and list the known ones; the caller adds the JSON path.
  static Result<SocketTypes> Parse(const std::vector<std::string>& names);
  // Every name Parse knows, for messages and `hijackd modules`.
  static std::string KnownNames();
  // The same names as a list, for the settings table (module_registry.h).
  static std::vector<std::string> Names();

  bool any() const { return mask_ == 0; }
  bool Matches(const SocketKind& kind) const;

 private:
  uint32_t mask_ = 0;
};

}  // namespace hijack::modules
