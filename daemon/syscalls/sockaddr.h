// Socket addresses as the guest passes them: the one parser of struct sockaddr bytes (AF_INET,
// AF_INET6, AF_UNIX with abstract and unnamed names, any other family by number), used by the
// trace decoder, net_guard and ratelimit.
//
//   Result<std::optional<SocketAddress>> a = syscalls::ReadSockaddr(mem,
//   *syscalls::SockaddrArg(ev));
//   // a->value().family == AF_INET, ip 127.0.0.1, port 8080
//
// Bounds follow the kernel: at most sizeof(sockaddr_storage) bytes are read; fewer than a
// sa_family_t is no address (connect(2) answers EINVAL); an AF_INET address needs 16 bytes and
// an AF_INET6 one 24 (SIN6_LEN_RFC2133, ipv6(7): the scope id is optional); an AF_UNIX path is
// the bytes after the family up to the length, cut at the first NUL (unix(7)), and an abstract
// name keeps every byte after its leading NUL. Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "daemon/syscalls/syscall_args.h"
#include "hijack/guest_memory.h"
#include "hijack/result.h"

namespace hijack::syscalls {

struct SocketAddress {
  int family = 0;                // AF_*
  std::array<uint8_t, 16> ip{};  // AF_INET: the first 4 bytes
  uint16_t port = 0;             // host order
  uint32_t scope_id = 0;         // AF_INET6 link-local interface, 0 when none or not given
  // AF_UNIX: the path as given (relative paths unresolved), "@name" for an abstract name
  // (`abstract` tells it from a file named "@name"), "" for an unnamed socket.
  std::string unix_path;
  bool abstract = false;
  // False when the bytes end before the family's fixed fields (an AF_INET address of 8 bytes):
  // only `family` is set, and the kernel would refuse the call with EINVAL.
  bool complete = true;
};

// Parses `bytes` (at most sizeof(sockaddr_storage) are looked at). nullopt when shorter than a
// sa_family_t.
std::optional<SocketAddress> ParseSockaddr(std::span<const std::byte> bytes);

// Reads and parses the address `ref` names. nullopt when ref.len is below a sa_family_t or the
// read ends before one (ref.addr must not be 0). Errors: the read's (EFAULT for a bad pointer).
[[nodiscard]] Result<std::optional<SocketAddress>> ReadSockaddr(GuestMemory& mem, SockaddrRef ref);

}  // namespace hijack::syscalls
