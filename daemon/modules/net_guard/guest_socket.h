// GuestSocket: a copy of one of the guest's descriptors (pidfd_getfd(2)), asked what it is and
// where it points: whether it is a socket at all (fstat(2)), its family, type and protocol
// (socket(7): SO_DOMAIN, SO_TYPE, SO_PROTOCOL), its local address (getsockname(2)) and its peer
// (getpeername(2)). net_guard and ratelimit judge the calls that name no address by what the
// socket says: a listen(2) on an unbound socket, a write(2) on a connected datagram socket.
//
//   Result<std::optional<GuestSocket>> s = GuestSocket::Take(ev, mem, fd);
//   if (!s) return Decision::Fail(EACCES);              // could not look: fail closed
//   if (!*s) return std::nullopt;                       // not a socket: not ours to judge
//   std::optional<SocketAddress> peer = (*s)->Peer();  // nullopt: not connected
//
// The copy shares the guest's open file description: what it reports is the socket's state now.
// Another guest thread may still replace descriptor `fd` (dup2(2)) before the kernel runs the
// call, as it may rewrite an address in memory (docs/SECURITY.md, "Network confinement in the
// modules"). A GuestSocket is used by one thread, within one Decide().
#pragma once

#include <optional>

#include "daemon/modules/net_guard/socket_type.h"
#include "daemon/syscalls/sockaddr.h"
#include "hijack/guest_memory.h"
#include "hijack/result.h"
#include "hijack/syscall_event.h"
#include "hijack/unique_fd.h"

namespace hijack::modules {

class GuestSocket {
 public:
  // Takes a copy of descriptor `fd` of the caller of `ev`. nullopt when `fd` is open but not a
  // socket. Errors: EBADF when the guest has no descriptor `fd` (the call will fail by itself);
  // ENOENT when the call is no longer pending; else pidfd_open's or pidfd_getfd's errno (EPERM
  // where a container profile forbids pidfd_getfd), with the call and guest named.
  [[nodiscard]] static Result<std::optional<GuestSocket>> Take(const SyscallEvent& ev,
                                                               GuestMemory& mem, int fd);

  const SocketKind& kind() const { return kind_; }
  // The supervisor's copy: an emulated connect(2) acts on it (connect_emulate.h).
  int fd() const { return fd_.get(); }
  // getsockname(2). Errors: its errno.
  [[nodiscard]] Result<syscalls::SocketAddress> Local() const;
  // getpeername(2); nullopt when the socket has no peer (ENOTCONN). Errors: other errnos.
  [[nodiscard]] Result<std::optional<syscalls::SocketAddress>> Peer() const;
  // True when an AF_INET/AF_INET6 socket has no local port yet, so that listen(2) would bind it
  // to the wildcard address on an ephemeral port (ip(7), "autobind").
  [[nodiscard]] Result<bool> IsUnboundInet() const;

 private:
  GuestSocket(UniqueFd fd, SocketKind kind) : fd_(std::move(fd)), kind_(kind) {}
  UniqueFd fd_;
  SocketKind kind_;
};

// The address the kernel binds an unbound socket of `family` to on listen(2): the wildcard
// address (0.0.0.0 or ::) with port 0, the ephemeral port it then picks.
syscalls::SocketAddress WildcardAddress(int family);

}  // namespace hijack::modules
