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
//
// In a policy an entry is that string, or an object that adds a socket-type selector
// (socket_type.h), matched against the socket itself:
//   {"address": "10.0.0.0/8:53", "type": "udp"}      {"type": ["raw", "packet"]}
// ("address" defaults to "any"). ReadAddressRules reads such a list; an empty list is a list
// that matches nothing, which is not the same as no list.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/modules/fs_guard/path_pattern.h"
#include "daemon/modules/net_guard/socket_type.h"
#include "daemon/policy/config_reader.h"
#include "daemon/policy/module_registry.h"
#include "daemon/syscalls/sockaddr.h"
#include "hijack/result.h"

namespace hijack::modules {

// The parsed address of a call (daemon/syscalls/sockaddr.h); unix paths already resolved.
using syscalls::SocketAddress;

class AddressRule {
 public:
  // Errors name the text and what is wrong with it.
  static Result<AddressRule> Parse(const std::string& text);
  // Whether `addr` (and, for a rule with a socket-type selector, `kind`) matches. A rule with a
  // selector never matches without a kind: callers that hold such rules look the socket up
  // first (needs_kind) and fail closed when they cannot.
  bool Matches(const SocketAddress& addr, const SocketKind* kind = nullptr) const;
  // Only the socket-type selector (for calls that carry no address to match).
  bool MatchesKind(const SocketKind* kind) const;
  // The TCP ports an address of this rule may have: nullopt when the rule matches no TCP
  // address (unix, netlink, ...), {0, 65535} when it names no port. For kernel floors, which
  // hold ports only, whatever the address. A rule whose socket-type selector excludes TCP
  // matches no TCP address.
  std::optional<std::pair<uint16_t, uint16_t>> TcpPorts() const;
  // True for a unix socket path or abstract name: a rule that tells one unix address from
  // another (not the whole family).
  bool NamesUnixSocket() const { return kind_ == Kind::kUnixPath || kind_ == Kind::kUnixAbstract; }
  const std::string& text() const { return text_; }
  bool needs_kind() const { return !types_.any(); }
  void set_types(SocketTypes types) { types_ = types; }

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
  SocketTypes types_;  // empty: every socket type
};

// The address rules under `key` of a module's settings: nullopt when the key is absent, else
// the rules in order (possibly none). Errors name the JSON path of the bad entry:
//   /modules/0/connect_allow/1/type: unknown socket type "tpc" (known: tcp, udp, ...)
[[nodiscard]] Result<std::optional<std::vector<AddressRule>>> ReadAddressRules(
    policy::ConfigReader& config, std::string_view key);
// What ReadAddressRules accepts under `name`, as a row of a module's settings table: a string
// or a list of strings and {"address", "type"} objects.
policy::Setting AddressRulesSetting(std::string name, std::string description);
// True when any of `rules` has a socket-type selector.
bool AnyNeedsKind(const std::vector<AddressRule>& rules);

}  // namespace hijack::modules
