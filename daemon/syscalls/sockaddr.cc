#include "daemon/syscalls/sockaddr.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>
#include <string_view>

namespace hijack::syscalls {
namespace {

// SIN6_LEN_RFC2133: the kernel takes an AF_INET6 address without its scope id (ipv6(7)).
constexpr size_t kMinInet6 = offsetof(sockaddr_in6, sin6_scope_id);

}  // namespace

std::optional<SocketAddress> ParseSockaddr(std::span<const std::byte> bytes) {
  sockaddr_storage ss{};
  const size_t got = std::min(bytes.size(), sizeof ss);
  if (got < sizeof(sa_family_t)) {
    return std::nullopt;
  }
  std::memcpy(&ss, bytes.data(), got);
  SocketAddress a;
  a.family = ss.ss_family;
  if (a.family == AF_INET) {
    a.complete = got >= sizeof(sockaddr_in);
    if (a.complete) {
      sockaddr_in sin;
      std::memcpy(&sin, &ss, sizeof sin);
      std::memcpy(a.ip.data(), &sin.sin_addr, 4);
      a.port = ntohs(sin.sin_port);
    }
  } else if (a.family == AF_INET6) {
    a.complete = got >= kMinInet6;
    if (a.complete) {
      sockaddr_in6 sin6{};
      std::memcpy(&sin6, &ss, std::min(got, sizeof sin6));
      std::memcpy(a.ip.data(), &sin6.sin6_addr, 16);
      a.port = ntohs(sin6.sin6_port);
      a.scope_id = sin6.sin6_scope_id;
    }
  } else if (a.family == AF_UNIX) {
    // unix(7): the name's length comes from addrlen. None is an unnamed socket; a leading NUL
    // marks an abstract name, whose every byte (NULs too) counts.
    constexpr size_t kPathOffset = offsetof(sockaddr_un, sun_path);
    const char* base = reinterpret_cast<const char*>(&ss) + kPathOffset;
    std::string_view name =
        got > kPathOffset ? std::string_view(base, got - kPathOffset) : std::string_view();
    if (!name.empty() && name.front() == '\0') {
      a.abstract = true;
      a.unix_path = "@" + std::string(name.substr(1));
    } else {
      a.unix_path = std::string(name.substr(0, name.find('\0')));
    }
  }
  return a;
}

Result<std::optional<SocketAddress>> ReadSockaddr(GuestMemory& mem, SockaddrRef ref) {
  if (ref.len < sizeof(sa_family_t)) {
    return std::nullopt;
  }
  sockaddr_storage ss{};
  const size_t want = std::min<size_t>(ref.len, sizeof ss);
  HIJACK_ASSIGN_OR_RETURN(
      size_t got, mem.Read(ref.addr, std::as_writable_bytes(std::span(&ss, 1)).first(want)));
  return ParseSockaddr(std::as_bytes(std::span(&ss, 1)).first(got));
}

}  // namespace hijack::syscalls
