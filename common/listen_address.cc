#include "common/listen_address.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "hijack/unique_fd.h"

namespace hijack::common {

std::string ListenAddress::GrpcUri() const {
  if (kind == Kind::kUnix) {
    return "unix:" + path;
  }
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

std::string ListenAddress::ToString() const {
  return kind == Kind::kUnix ? "unix:" + path : "tcp:" + GrpcUri();
}

bool ListenAddress::IsLoopback() const {
  if (kind == Kind::kUnix) {
    return true;
  }
  if (host == "localhost" || host == "::1") {
    return true;
  }
  in_addr v4;
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  ListenAddress out;
  if (text.starts_with("unix:")) {
    out.kind = ListenAddress::Kind::kUnix;
    out.path = std::string(text.substr(5));
    if (out.path.empty()) {
      return std::unexpected(Error{EINVAL, "address \"" + std::string(text) + "\": empty path"});
    }
    if (out.path.size() >= sizeof(sockaddr_un::sun_path)) {
      return std::unexpected(Error{EINVAL, "address \"" + std::string(text) +
                                               "\": path longer than a unix socket allows"});
    }
    return out;
  }
  if (!text.starts_with("tcp:")) {
    return std::unexpected(Error{EINVAL, "address \"" + std::string(text) +
                                             "\": expected unix:PATH or tcp:HOST:PORT"});
  }
  std::string_view rest = text.substr(4);
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return std::unexpected(
        Error{EINVAL, "address \"" + std::string(text) + "\": expected tcp:HOST:PORT"});
  }
  std::string_view host = rest.substr(0, colon);
  std::string_view port = rest.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int value = -1;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value < 0 || value > 65535) {
    return std::unexpected(Error{
        EINVAL, "address \"" + std::string(text) + "\": bad port \"" + std::string(port) + "\""});
  }
  out.kind = ListenAddress::Kind::kTcp;
  out.host = std::string(host);
  out.port = value;
  return out;
}

Result<void> ClaimUnixSocketPath(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return {};
    }
    return ErrnoError(errno, "stat " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return std::unexpected(Error{EEXIST, path + " exists and is not a socket; not replacing it"});
  }
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return ErrnoError(errno, "socket(AF_UNIX)");
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    return std::unexpected(
        Error{EADDRINUSE, path + " is served by a running daemon; not stealing it"});
  }
  if (errno != ECONNREFUSED) {
    // EACCES: someone else's socket we may not even probe; leave it alone.
    return ErrnoError(errno, "probing existing socket " + path);
  }
  if (unlink(path.c_str()) != 0) {
    return ErrnoError(errno, "removing stale socket " + path);
  }
  return {};
}

}  // namespace hijack::common
