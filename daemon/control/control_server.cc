#include "daemon/control/control_server.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <tuple>
#include <fstream>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>

#include "daemon/control/socket_activation.h"

namespace hijack::control {
namespace {

constexpr size_t kMaxPemBytes = 1 << 20;
constexpr size_t kTokenBytes = 32;

Result<std::string> ReadPem(const std::string& path, const char* option) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::unexpected(
        Error{EINVAL, std::string(option) + " " + path + ": " + std::strerror(errno)});
  }
  std::string text;
  text.resize(kMaxPemBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxPemBytes) {
    return std::unexpected(Error{EINVAL, std::string(option) + " " + path + ": larger than " +
                                             std::to_string(kMaxPemBytes) + " bytes"});
  }
  if (text.find("-----BEGIN ") == std::string::npos) {
    return std::unexpected(Error{EINVAL, std::string(option) + " " + path + ": not PEM"});
  }
  return text;
}

// A group by name or number, for --admin-group and friends.
Result<std::optional<gid_t>> ResolveGroup(const std::string& name, const char* option) {
  if (name.empty()) {
    return std::nullopt;
  }
  if (group* g = getgrnam(name.c_str()); g != nullptr) {
    return std::optional<gid_t>(g->gr_gid);
  }
  char* end = nullptr;
  unsigned long gid = std::strtoul(name.c_str(), &end, 10);
  if (end != name.c_str() && *end == '\0') {
    return std::optional<gid_t>(static_cast<gid_t>(gid));
  }
  return std::unexpected(Error{EINVAL, std::string(option) + " " + name + ": no such group"});
}

// A fresh token from getrandom(2), hex, written to `path` 0600. An existing file there is
// replaced, never written through: unlink, then O_CREAT|O_EXCL|O_NOFOLLOW, so a symlink planted
// at the path cannot redirect the secret.
Result<std::string> WriteToken(const std::string& path) {
  unsigned char raw[kTokenBytes];
  if (getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw)) {
    return ErrnoError(errno, "getrandom for the bearer token");
  }
  std::string token;
  static const char* kHex = "0123456789abcdef";
  for (unsigned char b : raw) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoError(errno, "--token-file: replacing " + path);
  }
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    return ErrnoError(errno, "--token-file: creating " + path);
  }
  std::string line = token + "\n";
  if (write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return ErrnoError(errno, "--token-file: writing " + path);
  }
  return token;
}

// Which authentication a TCP listener gets, or why the options are refused.
Result<void> CheckTcpOptions(const ControlServerOptions& o, const common::ListenAddress& address) {
  const bool any_tls = !o.tls_cert.empty() || !o.tls_key.empty() || !o.tls_ca.empty();
  const bool tls = !o.tls_cert.empty() && !o.tls_key.empty() && !o.tls_ca.empty();
  if (any_tls && !tls) {
    return std::unexpected(Error{EINVAL, "mutual TLS needs all of --tls-cert, --tls-key and "
                                         "--tls-ca (the CA that signs client certificates)"});
  }
  if (o.insecure_tcp && (tls || !o.token_file.empty())) {
    return std::unexpected(
        Error{EINVAL, "--insecure-tcp means no authentication; drop it to use TLS or a token"});
  }
  if (!tls && o.token_file.empty() && !o.insecure_tcp) {
    return std::unexpected(Error{
        EINVAL, "--listen " + o.listen +
                    ": a TCP listener needs authentication: --tls-cert/--tls-key/--tls-ca "
                    "(mutual TLS), or --token-file PATH (a bearer token, loopback), or "
                    "--insecure-tcp (loopback, no authentication: any local user steers every "
                    "guest)"});
  }
  if (!address.IsLoopback()) {
    if (!tls) {
      return std::unexpected(Error{
          EINVAL, "--listen " + o.listen +
                      ": not a loopback address; off this machine only mutual TLS is accepted "
                      "(--tls-cert/--tls-key/--tls-ca), with --listen-any"});
    }
    if (!o.listen_any) {
      return std::unexpected(Error{EINVAL, "--listen " + o.listen +
                                               ": not a loopback address (add --listen-any to "
                                               "insist)"});
    }
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::Start(const ControlServerOptions& options,
                                                            supervisor::Supervisor& supervisor) {
  auto address = common::ParseListenAddress(options.listen);
  if (!address) {
    return std::unexpected(address.error());
  }
  const bool is_unix = address->kind == common::ListenAddress::Kind::kUnix;
  GatekeeperOptions gate;
  gate.unix_listener = is_unix;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (is_unix) {
    if (!options.tls_cert.empty() || !options.tls_key.empty() || !options.tls_ca.empty() ||
        !options.token_file.empty() || options.insecure_tcp || options.listen_any) {
      return std::unexpected(Error{EINVAL, "--tls-*, --token-file, --insecure-tcp and "
                                           "--listen-any apply to TCP listeners; a unix socket "
                                           "knows its callers from the kernel"});
    }
  } else {
    if (auto ok = CheckTcpOptions(options, *address); !ok) {
      return std::unexpected(ok.error());
    }
    if (!options.tls_cert.empty()) {
      auto cert = ReadPem(options.tls_cert, "--tls-cert");
      auto key = cert ? ReadPem(options.tls_key, "--tls-key") : cert;
      auto ca = key ? ReadPem(options.tls_ca, "--tls-ca") : key;
      if (!ca) {
        return std::unexpected(ca.error());
      }
      grpc::SslServerCredentialsOptions ssl(
          GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      ssl.pem_root_certs = *ca;
      ssl.pem_key_cert_pairs.push_back({*key, *cert});
      credentials = grpc::SslServerCredentials(ssl);
      gate.tls = true;
    }
    if (options.insecure_tcp) {
      gate.insecure = true;
      spdlog::warn("--insecure-tcp: {} has no authentication; every local user can launch, kill "
                   "and re-police guests with hijackd's rights (use --token-file or mutual TLS)",
                   options.listen);
    }
  }
  for (auto [name, target, gid, option] :
       {std::tuple{&options.admin_group, &gate.admin_group_name, &gate.admin_group,
                   "--admin-group"},
        std::tuple{&options.launch_group, &gate.launch_group_name, &gate.launch_group,
                   "--launch-group"},
        std::tuple{&options.watch_group, &gate.watch_group_name, &gate.watch_group,
                   "--watch-group"}}) {
    auto resolved = ResolveGroup(*name, option);
    if (!resolved) {
      return std::unexpected(resolved.error());
    }
    *gid = *resolved;
    *target = *name;
  }
  std::optional<gid_t> socket_gid;
  if (!options.socket_group.empty()) {
    if (!is_unix) {
      return std::unexpected(Error{EINVAL, "--socket-group applies to unix sockets only"});
    }
    group* g = getgrnam(options.socket_group.c_str());
    if (g == nullptr) {
      return std::unexpected(
          Error{EINVAL, "--socket-group " + options.socket_group + ": no such group"});
    }
    socket_gid = g->gr_gid;
  }
  std::unique_ptr<AuditLog> audit;
  if (!options.audit_log.empty()) {
    auto opened = AuditLog::Open(options.audit_log, options.audit_log_max_bytes);
    if (!opened) {
      return std::unexpected(opened.error());
    }
    audit = std::move(*opened);
  }
  std::unique_ptr<UnixListener> unix_listener;
  // systemd's socket (hijackd.socket), when it passed one: taken over, never re-bound or unlinked.
  auto activated = TakeActivatedSocket();
  if (!activated) {
    return std::unexpected(activated.error());
  }
  if (*activated && !is_unix) {
    return std::unexpected(Error{EINVAL, "socket activation passed the unix socket " +
                                             (*activated)->path + ", but --listen " +
                                             options.listen + " is not a unix socket"});
  }
  if (*activated && (*activated)->path != address->path) {
    return std::unexpected(Error{EINVAL, "socket activation passed " + (*activated)->path +
                                             ", but --listen names " + address->path +
                                             " (ListenStream= and --listen must agree)"});
  }
  if (*activated) {
    auto adopted = UnixListener::Adopt(std::move((*activated)->fd), address->path,
                                       options.socket_mode, socket_gid);
    if (!adopted) {
      return std::unexpected(adopted.error());
    }
    unix_listener = std::move(*adopted);
  } else if (is_unix) {
    if (auto claimed = common::ClaimUnixSocketPath(address->path); !claimed) {
      return std::unexpected(claimed.error());
    }
    auto bound = UnixListener::Bind(address->path, options.socket_mode, socket_gid);
    if (!bound) {
      return std::unexpected(bound.error());
    }
    unix_listener = std::move(*bound);
  }
  std::string token_path;
  if (!options.token_file.empty()) {
    auto token = WriteToken(options.token_file);
    if (!token) {
      return std::unexpected(token.error());
    }
    gate.token = std::move(*token);
    token_path = options.token_file;
  }
  const bool tcp = !is_unix;
  const bool tls = gate.tls;

  std::unique_ptr<ControlServer> server(
      new ControlServer(supervisor, options.limits, std::move(gate), std::move(audit)));
  server->token_path_ = token_path;
  if (is_unix && !*activated) {
    server->socket_path_ = address->path;  // ours to remove at shutdown; an activated one is not
  }
  grpc::ServerBuilder builder;
  int port = 0;
  if (tcp) {
    builder.AddListeningPort(address->GrpcUri(), credentials, &port);
  }
  builder.RegisterService(&server->service_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  grpc::ResourceQuota quota("hijackd-control");
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || (tcp && port == 0)) {
    return std::unexpected(Error{EADDRNOTAVAIL, "cannot listen on " + options.listen});
  }
  if (tcp) {
    address->port = port;
    // The port the Gatekeeper looks for in /proc/net/tcp when it places a local peer.
    server->gatekeeper_.SetTcpPort(port);
    spdlog::info("{}: {}", address->ToString(),
                 tls ? "mutual TLS" : (server->token_path_.empty() ? "NO authentication"
                                                                   : "bearer token in " +
                                                                         server->token_path_));
  } else {
    server->unix_listener_ = std::move(unix_listener);
    server->unix_listener_->Start(server->server_.get(), &server->gatekeeper_);
  }
  server->address_ = address->ToString();
  return server;
}

ControlServer::~ControlServer() { Shutdown(std::chrono::milliseconds(0)); }

void ControlServer::BeginShutdown() {
  if (unix_listener_) {
    unix_listener_->Stop();  // no new connections reach a server that shuts down
  }
  service_.BeginShutdown();
}

void ControlServer::Shutdown(std::chrono::milliseconds grace) {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  BeginShutdown();
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + grace);
    server_->Wait();
  }
  if (!socket_path_.empty()) {
    unlink(socket_path_.c_str());
  }
  if (!token_path_.empty()) {
    unlink(token_path_.c_str());
  }
}

}  // namespace hijack::control
