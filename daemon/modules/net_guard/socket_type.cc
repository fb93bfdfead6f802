#include "daemon/modules/net_guard/socket_type.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace hijack::modules {
namespace {

// IPPROTO_MPTCP (linux/in.h, 5.6); glibc's netinet/in.h names it only from 2.32 on.
constexpr int kIpprotoMptcp = 262;

bool IsIp(const SocketKind& k) { return k.domain == AF_INET || k.domain == AF_INET6; }

struct TypeName {
  std::string_view name;
  bool (*matches)(const SocketKind&);
};

constexpr TypeName kTypes[] = {
    {"tcp",
     [](const SocketKind& k) {
       return IsIp(k) && k.type == SOCK_STREAM &&
              (k.protocol == IPPROTO_TCP || k.protocol == kIpprotoMptcp);
     }},
    {"udp",
     [](const SocketKind& k) {
       return IsIp(k) && k.type == SOCK_DGRAM &&
              (k.protocol == IPPROTO_UDP || k.protocol == IPPROTO_UDPLITE);
     }},
    {"icmp",
     [](const SocketKind& k) {
       return IsIp(k) && k.type == SOCK_DGRAM &&
              (k.protocol == IPPROTO_ICMP || k.protocol == IPPROTO_ICMPV6);
     }},
    {"sctp", [](const SocketKind& k) { return IsIp(k) && k.protocol == IPPROTO_SCTP; }},
    {"raw", [](const SocketKind& k) { return k.type == SOCK_RAW; }},
    {"packet", [](const SocketKind& k) { return k.domain == AF_PACKET; }},
    {"unix", [](const SocketKind& k) { return k.domain == AF_UNIX; }},
    {"unix-stream",
     [](const SocketKind& k) { return k.domain == AF_UNIX && k.type == SOCK_STREAM; }},
    {"unix-dgram", [](const SocketKind& k) { return k.domain == AF_UNIX && k.type == SOCK_DGRAM; }},
    {"unix-seqpacket",
     [](const SocketKind& k) { return k.domain == AF_UNIX && k.type == SOCK_SEQPACKET; }},
    {"netlink", [](const SocketKind& k) { return k.domain == AF_NETLINK; }},
    {"vsock", [](const SocketKind& k) { return k.domain == AF_VSOCK; }},
};
static_assert(std::size(kTypes) <= 32);

}  // namespace

std::string SocketTypes::KnownNames() {
  std::string out;
  for (const TypeName& t : kTypes) {
    out += out.empty() ? "" : ", ";
    out += t.name;
  }
  return out;
}

std::vector<std::string> SocketTypes::Names() {
  std::vector<std::string> out;
  for (const TypeName& t : kTypes) {
    out.emplace_back(t.name);
  }
  return out;
}

Result<SocketTypes> SocketTypes::Parse(const std::vector<std::string>& names) {
  SocketTypes out;
  for (size_t i = 0; i < names.size(); ++i) {
    bool found = false;
    for (size_t t = 0; t < std::size(kTypes); ++t) {
      if (names[i] == kTypes[t].name) {
        out.mask_ |= uint32_t{1} << t;
        found = true;
      }
    }
    if (!found) {
      return MakeError(
          fmt::format("unknown socket type \"{}\" (known: {})", names[i], KnownNames()));
    }
  }
  return out;
}

bool SocketTypes::Matches(const SocketKind& kind) const {
  if (mask_ == 0) {
    return true;
  }
  for (size_t t = 0; t < std::size(kTypes); ++t) {
    if ((mask_ & (uint32_t{1} << t)) != 0 && kTypes[t].matches(kind)) {
      return true;
    }
  }
  return false;
}

}  // namespace hijack::modules
