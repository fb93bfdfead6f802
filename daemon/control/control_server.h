// ControlServer: the gRPC server that carries ControlService on one listening address.
//
//   Result<std::unique_ptr<ControlServer>> s = ControlServer::Start(options, supervisor);
//   std::printf("%s\n", (*s)->address().c_str());    // tcp port 0 resolved to the real port
//   ...
//   (*s)->BeginShutdown();                            // no more changes; streams end
//   supervisor.TerminateGuests(grace);                // the guests go meanwhile
//   (*s)->Shutdown(std::chrono::seconds(5));
//
// What each listener kind promises (docs/SECURITY.md, "Who may steer"):
//   unix   created 0600 (umask 0177 while binding, so it is never briefly wider), then chmod'ed
//          to `socket_mode` and chgrp'ed to `socket_group` when asked. hijackd accepts each
//          connection itself (UnixListener) and knows the caller's uid, gid, groups and pid
//          from the kernel; the Gatekeeper's rules decide what it may do. An existing socket is
//          replaced only when stale (ClaimUnixSocketPath).
//   tcp    authenticated: mutual TLS (`tls_cert`, `tls_key` and `tls_ca`: a client must present
//          a certificate the CA signed, checked in the handshake), and/or a bearer token that
//          Start writes to `token_file` (0600) and every call must carry. Without TLS only on
//          loopback (the token would cross the network in clear). `insecure_tcp` is plaintext
//          without authentication, loopback only, with a warning on every start. A non-loopback
//          address needs TLS and `listen_any`.
// On every listener a caller inside a guest's process tree is refused (rule no-guests).
// Request sizes are capped; the sync server's threads are capped too. Start() must run before
// supervisor.StartLoop() (the service registers an exit listener).
#pragma once

#include <grpcpp/server.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include "daemon/control/audit_log.h"
#include "daemon/control/control_service.h"
#include "daemon/control/gatekeeper.h"
#include "daemon/control/server_options.h"
#include "common/listen_address.h"
#include "daemon/control/unix_listener.h"

namespace hijack::control {

class ControlServer {
 public:
  static Result<std::unique_ptr<ControlServer>> Start(const ControlServerOptions& options,
                                                      supervisor::Supervisor& supervisor);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // The address clients use ("unix:/run/hijack.sock", "tcp:127.0.0.1:40123").
  const std::string& address() const { return address_; }

  // Stops accepting connections, refuses changes (Launch, SetPolicy, Kill) and new streams,
  // and ends open event and output streams (UNAVAILABLE); reads are still answered. Idempotent;
  // not from the loop thread.
  void BeginShutdown();
  // BeginShutdown, then lets calls in flight finish for up to `grace` (then cancels them), and
  // removes the unix socket. grpc::Server::Shutdown(deadline) also waits, up to the deadline,
  // for every client connection to close, so a client that keeps an idle channel open holds
  // this for the whole grace: callers end their guests before, not after (serve_command.cc).
  // The supervisor's loop must still run (calls in flight wait on it). Idempotent; not from the
  // loop thread.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  ControlServer(supervisor::Supervisor& supervisor, const ControlLimits& limits,
                GatekeeperOptions gate, std::unique_ptr<AuditLog> audit)
      : gatekeeper_(std::move(gate), getpid()),
        service_(supervisor, limits, gatekeeper_, std::move(audit)) {}

  Gatekeeper gatekeeper_;
  ControlService service_;
  std::unique_ptr<UnixListener> unix_listener_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  std::string socket_path_;  // to unlink at shutdown
  std::string token_path_;   // likewise
  bool stopped_ = false;
};

}  // namespace hijack::control
