// UnixListener: the control API's unix socket, accepted by hijackd itself so that every
// connection's peer is known from the kernel before gRPC reads a byte of it.
//
//   Result<std::unique_ptr<UnixListener>> l = UnixListener::Bind("/run/hijack.sock", 0600, gid);
//   (*l)->Start(server.get(), gatekeeper);   // accepts on its own thread until Stop()
//   ...
//   (*l)->Stop();                            // before grpc::Server::Shutdown
//
// gRPC's own unix listener gives handlers only the socket's path as the peer, not the
// connecting process, and its auth context carries no SO_PEERCRED. So the daemon binds and
// accepts, reads SO_PEERCRED, SO_PEERGROUPS and SO_PEERPIDFD of each new connection
// (peer_process.h) into the Gatekeeper, then hands the descriptor to the running server with
// grpc::AddInsecureChannelFromFd. A connection whose peer cannot be read is closed unserved.
//
// The socket is bound under umask 0177 (so it is never briefly wider than 0600), then chmod'ed
// to `mode` and chgrp'ed to `group` when asked. An activated socket (Adopt) goes through the same
// accept loop, so its connections pass the same peer checks. Threads: Start once, Stop from any thread but
// the accept thread; the destructor stops.
#pragma once

#include <grpcpp/server.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "daemon/control/gatekeeper.h"
#include "hijack/result.h"
#include "hijack/unique_fd.h"

namespace hijack::control {

class UnixListener {
 public:
  // Binds and listens. Errors: socket/bind/listen/chmod/chown, with the path.
  static Result<std::unique_ptr<UnixListener>> Bind(const std::string& path, unsigned mode,
                                                    std::optional<gid_t> group);
  // Takes over a socket passed by socket activation (socket_activation.h), already bound to
  // `path` and listening. Nothing is bound or chmod'ed: the socket unit chose the mode, and a
  // mode wider than `mode` (group or other may connect where --socket-mode says they may not)
  // is refused rather than narrowed behind the unit's back. `group`, when given, is applied as
  // Bind applies it. Errors: stat/chown, with the path; EINVAL for a mode too wide.
  static Result<std::unique_ptr<UnixListener>> Adopt(UniqueFd socket, const std::string& path,
                                                     unsigned mode, std::optional<gid_t> group);
  ~UnixListener();
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  // Starts accepting for `server`; `server` and `gatekeeper` must outlive Stop().
  void Start(grpc::Server* server, Gatekeeper* gatekeeper);
  // Stops accepting (connections already handed over stay with gRPC) and joins the thread.
  // Idempotent.
  void Stop();

 private:
  UnixListener(UniqueFd socket, UniqueFd wake)
      : socket_(std::move(socket)), wake_(std::move(wake)) {}
  void AcceptLoop(grpc::Server* server, Gatekeeper* gatekeeper);

  UniqueFd socket_;
  UniqueFd wake_;  // eventfd: Stop() wakes the accept thread's poll
  std::thread thread_;
};

}  // namespace hijack::control
