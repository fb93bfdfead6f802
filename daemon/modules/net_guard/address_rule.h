// AddressRule: one entry of a net_guard list, matched against a socket address.
//
//   auto r = AddressRule::Parse("10.0.0.0/8:8000-8999");
//   r->Matches(SocketAddress{...});
//
// Syntax (README: policies/README.md, net_guard):
//   any                        every address of every family
//   inet | inet6 | unix | netlink | packet | vsock     a whole family
//   127.0.0.0/8  10.1.2.3  ::1  2001:db8::/32          an IPv4 or IPv6 address or CIDR block
//   10.0.0.0/8:443  [::1]:8000-8999  *:53              ... with a port or port range (* = any IP)
//   unix:/run/*.sock  unix:@name*                      unix socket paths (PathPattern) or
//                                                      abstract names (after @, glob)
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match IPv4 rules.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/modules/fs_guard/path_pattern.h"
#include "daemon/syscalls/sockaddr.h"
#include "hijack/result.h"

namespace hijack::modules {

// The parsed address of a call (daemon/syscalls/sockaddr.h); unix paths already resolved.
using syscalls::SocketAddress;

class AddressRule {
 public:
  // Errors name the text and what is wrong with it.
  static Result<AddressRule> Parse(const std::string& text);
  bool Matches(const SocketAddress& addr) const;
  // The TCP ports an address of this rule may have: nullopt when the rule matches no TCP
  // address (unix, netlink, ...), {0, 65535} when it names no port. For kernel floors, which
  // hold ports only, whatever the address.
  std::optional<std::pair<uint16_t, uint16_t>> TcpPorts() const;
  const std::string& text() const { return text_; }

 private:
  enum class Kind { kAny, kFamily, kIp, kUnixPath, kUnixAbstract };
  std::string text_;
  Kind kind_ = Kind::kAny;
  int family_ = 0;  // kFamily, kIp (AF_INET/AF_INET6, 0 for "*")
  std::array<uint8_t, 16> ip_{};
  int prefix_bits_ = 0;
  uint16_t port_lo_ = 0, port_hi_ = 65535;
  std::optional<PathPattern> path_;
  std::string abstract_glob_;
};

}  // namespace hijack::modules
