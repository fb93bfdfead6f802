// ControlServer: the gRPC server that carries ControlService on one listening address.
//
//   Result<std::unique_ptr<ControlServer>> s = ControlServer::Start(options, supervisor);
//   std::printf("%s\n", (*s)->address().c_str());    // tcp port 0 resolved to the real port
//   ...
//   (*s)->Shutdown(std::chrono::seconds(5));
//
// A unix socket is created with mode 0600 (umask 0177 while binding, so it is never briefly
// wider), then chmod'ed to `socket_mode` and chgrp'ed to `socket_group` when asked; an existing
// socket is replaced only when stale (ClaimUnixSocketPath). TCP must be loopback unless
// `listen_any`. Request sizes are capped; the sync server's threads are capped too.
// Start() must run before supervisor.StartLoop() (the service registers an exit listener).
#pragma once

#include <grpcpp/server.h>

#include <chrono>
#include <memory>
#include <string>

#include "daemon/control/control_service.h"
#include "daemon/control/listen_address.h"

namespace hijack::control {

struct ControlServerOptions {
  std::string listen;              // unix:PATH or tcp:HOST:PORT
  unsigned socket_mode = 0600;
  std::string socket_group;        // empty: the daemon's group
  bool listen_any = false;         // allow a TCP address that is not loopback
  int max_message_bytes = 4 << 20;
  int max_threads = 64;
  ControlLimits limits;
};

class ControlServer {
 public:
  static Result<std::unique_ptr<ControlServer>> Start(const ControlServerOptions& options,
                                                      supervisor::Supervisor& supervisor);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // The address clients use ("unix:/run/hijack.sock", "tcp:127.0.0.1:40123").
  const std::string& address() const { return address_; }

  // Stops accepting, ends event streams, lets unary calls in flight finish for up to `grace`
  // (then cancels them), and removes the unix socket. The supervisor's loop must still run (in
  // flight calls wait on it). Idempotent; not from the loop thread.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  ControlServer(supervisor::Supervisor& supervisor, const ControlLimits& limits)
      : service_(supervisor, limits) {}

  ControlService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::string socket_path_;  // to unlink at shutdown
  bool stopped_ = false;
};

}  // namespace hijack::control
