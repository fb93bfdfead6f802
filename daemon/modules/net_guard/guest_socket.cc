#include "daemon/modules/net_guard/guest_socket.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hijack::modules {
namespace {

Error SysError(int err, std::string what) {
  return Error{err, fmt::format("{}: {}", what, std::strerror(err))};
}

int IntOption(int fd, int option, bool& ok) {
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, SOL_SOCKET, option, &v, &len) != 0) {
    ok = false;
  }
  return v;
}

Result<syscalls::SocketAddress> Parse(const sockaddr_storage& ss, socklen_t len) {
  auto a = syscalls::ParseSockaddr(
      std::as_bytes(std::span(&ss, 1)).first(std::min<size_t>(len, sizeof ss)));
  if (!a) {
    // An unnamed AF_UNIX socket reports only its family (unix(7)); shorter means no address.
    syscalls::SocketAddress none;
    none.family = ss.ss_family;
    return none;
  }
  return *a;
}

}  // namespace

Result<std::optional<GuestSocket>> GuestSocket::Take(const SyscallEvent& ev, GuestMemory& mem,
                                                     int fd) {
  if (fd < 0) {
    return std::unexpected(Error{EBADF, fmt::format("descriptor {} of guest {}", fd, ev.guest_id)});
  }
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, ev.pid, 0)));
  if (!pidfd.valid()) {
    return std::unexpected(SysError(errno, fmt::format("pidfd_open {}", ev.pid)));
  }
  // Opened by number: the caller's process only if its call is still pending now; from here on
  // the pidfd is bound to that process (GuestMemory::StillPending).
  if (!mem.StillPending()) {
    return std::unexpected(Error{ENOENT, "the call is no longer pending"});
  }
  UniqueFd copy(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
  if (!copy.valid()) {
    return std::unexpected(SysError(
        errno, fmt::format("pidfd_getfd {} of pid {} (guest {})", fd, ev.pid, ev.guest_id)));
  }
  struct stat st {};
  if (fstat(copy.get(), &st) != 0) {
    return std::unexpected(SysError(errno, "fstat of the guest's descriptor"));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return std::nullopt;
  }
  bool ok = true;
  SocketKind kind;
  kind.domain = IntOption(copy.get(), SO_DOMAIN, ok);
  kind.type = IntOption(copy.get(), SO_TYPE, ok);
  kind.protocol = IntOption(copy.get(), SO_PROTOCOL, ok);
  if (!ok) {
    return std::unexpected(SysError(errno, "getsockopt SO_DOMAIN/SO_TYPE/SO_PROTOCOL"));
  }
  return GuestSocket(std::move(copy), kind);
}

Result<syscalls::SocketAddress> GuestSocket::Local() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return std::unexpected(SysError(errno, "getsockname"));
  }
  return Parse(ss, len);
}

Result<std::optional<syscalls::SocketAddress>> GuestSocket::Peer() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    if (errno == ENOTCONN) {
      return std::nullopt;
    }
    return std::unexpected(SysError(errno, "getpeername"));
  }
  return Parse(ss, len);
}

Result<bool> GuestSocket::IsUnboundInet() const {
  if (kind_.domain != AF_INET && kind_.domain != AF_INET6) {
    return false;
  }
  HIJACK_ASSIGN_OR_RETURN(syscalls::SocketAddress local, Local());
  return local.port == 0;
}

syscalls::SocketAddress WildcardAddress(int family) {
  syscalls::SocketAddress a;
  a.family = family;
  return a;
}

}  // namespace hijack::modules
