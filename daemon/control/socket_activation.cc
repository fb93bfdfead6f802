#include "daemon/control/socket_activation.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace hijack::control {
namespace {

constexpr int kListenFdsStart = 3;  // SD_LISTEN_FDS_START, sd_listen_fds(3)

// The value of `name`, or nullopt; never keeps a pointer into environ past an unsetenv.
std::optional<std::string> TakeVariable(const char* name) {
  const char* value = getenv(name);
  std::optional<std::string> out;
  if (value != nullptr) {
    out = value;
  }
  unsetenv(name);
  return out;
}

Result<long> ParseNumber(const char* name, const std::string& text) {
  long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return std::unexpected(Error{EINVAL, std::string(name) + "=" + text + ": not a number"});
  }
  return value;
}

Result<int> SocketOption(int fd, int option, const char* what) {
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, option, &value, &len) != 0) {
    return ErrnoError(errno, std::string("socket activation: getsockopt ") + what +
                                 " of descriptor 3");
  }
  return value;
}

}  // namespace

Result<std::optional<ActivatedSocket>> TakeActivatedSocket() {
  const auto pid = TakeVariable("LISTEN_PID");
  const auto fds = TakeVariable("LISTEN_FDS");
  const auto names = TakeVariable("LISTEN_FDNAMES");
  if (!pid || !fds) {
    return std::nullopt;
  }
  HIJACK_ASSIGN_OR_RETURN(long listen_pid, ParseNumber("LISTEN_PID", *pid));
  if (listen_pid != getpid()) {
    return std::nullopt;  // meant for a parent that exec'ed us without clearing them
  }
  HIJACK_ASSIGN_OR_RETURN(long count, ParseNumber("LISTEN_FDS", *fds));
  if (count != 1) {
    return std::unexpected(Error{
        EINVAL, "socket activation: LISTEN_FDS=" + *fds +
                    ", but hijackd serves exactly one socket (one ListenStream= in the socket "
                    "unit)" + (names ? " (LISTEN_FDNAMES=" + *names + ")" : "")});
  }
  const int fd = kListenFdsStart;
  // Close-on-exec first: from here on no exec of a guest can carry the control socket.
  const int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0) {
    return ErrnoError(errno, "socket activation: descriptor 3 (LISTEN_FDS=1)");
  }
  UniqueFd owned(fd);
  HIJACK_ASSIGN_OR_RETURN(int domain, SocketOption(fd, SO_DOMAIN, "SO_DOMAIN"));
  HIJACK_ASSIGN_OR_RETURN(int type, SocketOption(fd, SO_TYPE, "SO_TYPE"));
  HIJACK_ASSIGN_OR_RETURN(int listening, SocketOption(fd, SO_ACCEPTCONN, "SO_ACCEPTCONN"));
  if (domain != AF_UNIX || type != SOCK_STREAM) {
    // A TCP listener is gRPC's own (it binds and authenticates with TLS or a token); only a
    // unix socket is accepted by hijackd itself, where each peer's credentials are read.
    return std::unexpected(Error{
        EINVAL, "socket activation: descriptor 3 is not a unix stream socket (domain " +
                    std::to_string(domain) + ", type " + std::to_string(type) +
                    "); hijackd takes only ListenStream=/path sockets, TCP it binds itself"});
  }
  if (listening == 0) {
    return std::unexpected(Error{EINVAL, "socket activation: descriptor 3 is not listening "
                                         "(Accept=yes in the socket unit? hijackd needs Accept=no)"});
  }
  sockaddr_un addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return ErrnoError(errno, "socket activation: getsockname of descriptor 3");
  }
  const size_t path_len = len > offsetof(sockaddr_un, sun_path)
                              ? len - offsetof(sockaddr_un, sun_path)
                              : 0;
  if (path_len == 0 || addr.sun_path[0] == '\0') {
    return std::unexpected(Error{EINVAL, "socket activation: descriptor 3 is an abstract or "
                                         "unnamed socket; hijackd needs a path (its mode is "
                                         "part of the access control)"});
  }
  const int nonblocking = fcntl(fd, F_GETFL);
  if (nonblocking < 0 || fcntl(fd, F_SETFL, nonblocking | O_NONBLOCK) != 0) {
    return ErrnoError(errno, "socket activation: O_NONBLOCK on descriptor 3");
  }
  ActivatedSocket out;
  out.path.assign(addr.sun_path, strnlen(addr.sun_path, path_len));
  out.fd = std::move(owned);
  return out;
}

}  // namespace hijack::control
