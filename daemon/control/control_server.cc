#include "daemon/control/control_server.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>

namespace hijack::control {

Result<std::unique_ptr<ControlServer>> ControlServer::Start(const ControlServerOptions& options,
                                                            supervisor::Supervisor& supervisor) {
  auto address = ParseListenAddress(options.listen);
  if (!address) {
    return std::unexpected(address.error());
  }
  if (address->kind == ListenAddress::Kind::kTcp && !address->IsLoopback()) {
    if (!options.listen_any) {
      return std::unexpected(Error{
          EINVAL, "--listen " + options.listen +
                      ": not a loopback address; the API has no authentication, so anyone who "
                      "can reach it controls the guests (add --listen-any to insist)"});
    }
    spdlog::warn("listening on {} without authentication: anyone who can reach it controls "
                 "every guest",
                 options.listen);
  }
  std::optional<gid_t> gid;
  if (!options.socket_group.empty()) {
    if (address->kind != ListenAddress::Kind::kUnix) {
      return std::unexpected(Error{EINVAL, "--socket-group applies to unix sockets only"});
    }
    group* g = getgrnam(options.socket_group.c_str());
    if (g == nullptr) {
      return std::unexpected(
          Error{EINVAL, "--socket-group " + options.socket_group + ": no such group"});
    }
    gid = g->gr_gid;
  }
  if (address->kind == ListenAddress::Kind::kUnix) {
    if (auto claimed = ClaimUnixSocketPath(address->path); !claimed) {
      return std::unexpected(claimed.error());
    }
  }

  std::unique_ptr<ControlServer> server(new ControlServer(supervisor, options.limits));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address->GrpcUri(), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&server->service_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  grpc::ResourceQuota quota("hijackd-control");
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  // The socket is created inside BuildAndStart; a tight umask makes it 0600 from its first
  // moment. umask is per process: nothing else creates files while the daemon starts.
  mode_t old_umask = umask(0177);
  server->server_ = builder.BuildAndStart();
  umask(old_umask);
  if (server->server_ == nullptr || (address->kind == ListenAddress::Kind::kTcp && port == 0)) {
    return std::unexpected(Error{EADDRNOTAVAIL, "cannot listen on " + options.listen});
  }
  if (address->kind == ListenAddress::Kind::kUnix) {
    server->socket_path_ = address->path;
    if (chmod(address->path.c_str(), options.socket_mode) != 0) {
      return ErrnoError(errno, "chmod " + address->path);
    }
    if (gid && chown(address->path.c_str(), static_cast<uid_t>(-1), *gid) != 0) {
      return ErrnoError(errno, "chgrp " + options.socket_group + " " + address->path);
    }
  } else {
    address->port = port;
  }
  server->address_ = address->ToString();
  return server;
}

ControlServer::~ControlServer() { Shutdown(std::chrono::milliseconds(0)); }

void ControlServer::Shutdown(std::chrono::milliseconds grace) {
  if (stopped_ || server_ == nullptr) {
    return;
  }
  stopped_ = true;
  service_.BeginShutdown();
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
  if (!socket_path_.empty()) {
    unlink(socket_path_.c_str());
  }
}

}  // namespace hijack::control
