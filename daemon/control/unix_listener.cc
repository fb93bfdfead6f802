#include "daemon/control/unix_listener.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace hijack::control {

Result<std::unique_ptr<UnixListener>> UnixListener::Bind(const std::string& path, unsigned mode,
                                                         std::optional<gid_t> group) {
  UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sock.valid()) {
    return ErrnoError(errno, "socket(AF_UNIX)");
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return std::unexpected(Error{EINVAL, path + ": longer than a unix socket path may be"});
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  // umask is per process: nothing else creates files while the daemon starts.
  mode_t old_umask = umask(0177);
  int rc = bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  umask(old_umask);
  if (rc != 0) {
    return ErrnoError(err, "bind " + path);
  }
  if (listen(sock.get(), 128) != 0) {
    return ErrnoError(errno, "listen " + path);
  }
  if (chmod(path.c_str(), mode) != 0) {
    return ErrnoError(errno, "chmod " + path);
  }
  if (group && chown(path.c_str(), static_cast<uid_t>(-1), *group) != 0) {
    return ErrnoError(errno, "chgrp " + path);
  }
  UniqueFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) {
    return ErrnoError(errno, "eventfd");
  }
  return std::unique_ptr<UnixListener>(new UnixListener(std::move(sock), std::move(wake)));
}

Result<std::unique_ptr<UnixListener>> UnixListener::Adopt(UniqueFd socket, const std::string& path,
                                                          unsigned mode,
                                                          std::optional<gid_t> group) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return ErrnoError(errno, "stat " + path + " (the activated socket)");
  }
  if (!S_ISSOCK(st.st_mode)) {
    return std::unexpected(Error{EINVAL, path + ": the activated socket's path is not a socket"});
  }
  if ((st.st_mode & 07777 & ~mode) != 0) {
    return std::unexpected(Error{
        EINVAL, fmt::format("{}: the activated socket has mode {:04o}, wider than --socket-mode "
                            "{:04o}; set SocketMode= in the socket unit (or widen --socket-mode "
                            "if that is meant)",
                            path, st.st_mode & 07777, mode)});
  }
  if (group && chown(path.c_str(), static_cast<uid_t>(-1), *group) != 0) {
    return ErrnoError(errno, "chgrp " + path);
  }
  UniqueFd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) {
    return ErrnoError(errno, "eventfd");
  }
  return std::unique_ptr<UnixListener>(new UnixListener(std::move(socket), std::move(wake)));
}

UnixListener::~UnixListener() { Stop(); }

void UnixListener::Start(grpc::Server* server, Gatekeeper* gatekeeper) {
  thread_ = std::thread([this, server, gatekeeper] { AcceptLoop(server, gatekeeper); });
}

void UnixListener::Stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(wake_.get(), &one, sizeof one);
    thread_.join();
  }
}

void UnixListener::AcceptLoop(grpc::Server* server, Gatekeeper* gatekeeper) {
  pollfd fds[2] = {{socket_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      spdlog::error("control socket: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) {
      return;
    }
    int fd = accept4(socket_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        // EMFILE and the like: the connection waits in the backlog; log, and do not spin.
        spdlog::warn("control socket: accept4: {}", std::strerror(errno));
        pollfd wait_wake = {wake_.get(), POLLIN, 0};
        if (poll(&wait_wake, 1, 100) > 0) {
          return;
        }
      }
      continue;
    }
    auto peer = ReadUnixPeer(fd);
    if (!peer) {
      spdlog::warn("control socket: closing a connection whose peer is unknown: {}",
                   peer.error().message);
      close(fd);
      continue;
    }
    gatekeeper->AddUnixConnection(fd, std::move(*peer));
    // gRPC owns `fd` from here on and closes it when the connection ends.
    grpc::AddInsecureChannelFromFd(server, fd);
  }
}

}  // namespace hijack::control
