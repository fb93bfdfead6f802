#include "daemon/control/gatekeeper.h"

#include <grpcpp/security/auth_context.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

namespace hijack::control {
namespace {

grpc::Status Denied(const std::string& rule, const std::string& why) {
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "rule " + rule + ": " + why);
}

grpc::Status Unauthenticated(const std::string& why) {
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, why);
}

bool InGroup(const UnixPeer& peer, gid_t gid) {
  return peer.gid == gid ||
         std::find(peer.groups.begin(), peer.groups.end(), gid) != peer.groups.end();
}

// Constant time in the length of `expected`, so the answer's timing says nothing about how much
// of a guess was right.
bool SameSecret(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    diff |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  }
  return diff == 0;
}

}  // namespace

std::string Caller::Describe() const {
  if (unix_peer) {
    return "uid " + std::to_string(unix_peer->uid) + " (pid " + std::to_string(unix_peer->pid) +
           ")";
  }
  if (!certificate.empty()) {
    return "certificate " + certificate + " from " + peer;
  }
  if (token) {
    return "token holder from " + peer;
  }
  return "unauthenticated client from " + peer;
}

Gatekeeper::Gatekeeper(GatekeeperOptions options, pid_t supervisor)
    : options_(std::move(options)), supervisor_(supervisor), daemon_uid_(geteuid()) {}

void Gatekeeper::AddUnixConnection(int fd, UnixPeer peer) {
  std::lock_guard lock(mu_);
  connections_[fd] = std::move(peer);
}

std::expected<UnixPeer, grpc::Status> Gatekeeper::UnixPeerOf(const grpc::ServerContext& ctx) const {
  // A connection handed over with AddInsecureChannelFromFd is "fd:N". Its descriptor stays open
  // while any call on it is in flight (the transport owns the endpoint until its last stream
  // ends), so N names this connection for as long as this call lives.
  const std::string peer = ctx.peer();
  int fd = -1;
  if (peer.starts_with("fd:")) {
    fd = std::atoi(peer.c_str() + 3);
  }
  std::lock_guard lock(mu_);
  auto it = connections_.find(fd);
  if (it == connections_.end()) {
    return std::unexpected(Unauthenticated("unix peer \"" + peer + "\" was not identified"));
  }
  return it->second;
}

std::expected<Caller, grpc::Status> Gatekeeper::Identify(
    const grpc::ServerContext& ctx, const std::vector<uid_t>& guest_uids) const {
  Caller caller;
  caller.peer = ctx.peer();
  if (options_.unix_listener) {
    auto peer = UnixPeerOf(ctx);
    if (!peer) {
      return std::unexpected(peer.error());
    }
    caller.unix_peer = std::move(*peer);
  } else {
    if (options_.tls) {
      // The handshake already refused clients without a certificate the CA signed
      // (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY); this only reads who it is,
      // and refuses if, against that, no verified identity came with the call.
      auto auth = ctx.auth_context();
      if (auth == nullptr || !auth->IsPeerAuthenticated()) {
        return std::unexpected(
            Unauthenticated("this listener requires a client certificate signed by its --tls-ca"));
      }
      auto cn = auth->FindPropertyValues("x509_common_name");
      caller.certificate = cn.empty() ? "(no CN)" : "CN=" + std::string(cn[0].data(), cn[0].size());
    }
    if (!options_.token.empty()) {
      const auto& metadata = ctx.client_metadata();
      auto it = metadata.find("authorization");
      if (it == metadata.end()) {
        return std::unexpected(Unauthenticated(
            "this listener requires `authorization: Bearer <token>` (hijackctl --token-file)"));
      }
      std::string_view value(it->second.data(), it->second.size());
      if (!value.starts_with("Bearer ") || !SameSecret(value.substr(7), options_.token)) {
        return std::unexpected(Unauthenticated("wrong bearer token"));
      }
      caller.token = true;
    }
    if (!options_.tls && options_.token.empty() && !options_.insecure) {
      return std::unexpected(Unauthenticated("this listener accepts no credentials"));
    }
  }
  if (auto s = CheckNotGuest(caller, guest_uids); !s.ok()) {
    return std::unexpected(s);
  }
  Grant(caller);
  return caller;
}

grpc::Status Gatekeeper::CheckNotGuest(const Caller& caller,
                                       const std::vector<uid_t>& guest_uids) const {
  auto refuse = [](const std::string& who) {
    return Denied("no-guests", who +
                                   " runs inside a guest of this hijackd; a guest never "
                                   "steers its supervisor");
  };
  if (caller.unix_peer) {
    const UnixPeer& p = *caller.unix_peer;
    Result<bool> guest = p.pidfd ? InSupervisedTree(p.pidfd->get(), supervisor_)
                                 : PidInSupervisedTree(p.pid, supervisor_);
    if (!guest) {
      // Fail closed: a caller that cannot be placed is not served.
      return Denied("no-guests", "cannot tell whether pid " + std::to_string(p.pid) +
                                     " is a guest: " + guest.error().message);
    }
    return *guest ? refuse("pid " + std::to_string(p.pid)) : grpc::Status::OK;
  }
  auto local = LocalTcpPeer(caller.peer, tcp_port_.load());
  if (!local) {
    return Denied("no-guests",
                  "cannot place the TCP peer " + caller.peer + ": " + local.error().message);
  }
  if (!local->local) {
    return grpc::Status::OK;  // another machine
  }
  for (pid_t pid : local->pids) {
    auto guest = PidInSupervisedTree(pid, supervisor_);
    if (guest && *guest) {
      return refuse("pid " + std::to_string(pid) + " (holding the connection from " + caller.peer +
                    ")");
    }
  }
  if (local->pids.empty()) {
    // Nobody this daemon can inspect holds the client socket: a process of another user (who
    // cannot be a guest of ours), or one of ours that hid itself or has the socket in flight.
    const uid_t uid = local->socket_uid;
    if (uid == daemon_uid_ ||
        std::find(guest_uids.begin(), guest_uids.end(), uid) != guest_uids.end()) {
      return Denied("no-guests", "cannot find the process behind " + caller.peer +
                                     " (socket of uid " + std::to_string(uid) +
                                     ", which guests run as); use the unix socket");
    }
  }
  return grpc::Status::OK;
}

void Gatekeeper::Grant(Caller& caller) const {
  if (!caller.unix_peer) {
    caller.admin = true;
    caller.rule = !caller.certificate.empty() ? "admin: client certificate"
                  : caller.token              ? "admin: bearer token"
                                              : "admin: --insecure-tcp";
    return;
  }
  const UnixPeer& p = *caller.unix_peer;
  if (p.uid == daemon_uid_) {
    caller.admin = true;
    caller.rule = "admin: owner";
  } else if (p.uid == 0) {
    caller.admin = true;
    caller.rule = "admin: root";
  } else if (options_.admin_group && InGroup(p, *options_.admin_group)) {
    caller.admin = true;
    caller.rule = "admin: admin-group " + options_.admin_group_name;
  } else {
    if (options_.launch_group && InGroup(p, *options_.launch_group)) {
      caller.launch = true;
      caller.rule = "launch-group " + options_.launch_group_name;
    }
    if (options_.watch_group && InGroup(p, *options_.watch_group)) {
      caller.watch_all = true;
      caller.rule +=
          (caller.rule.empty() ? "" : ", ") + ("watch-group " + options_.watch_group_name);
    }
    if (caller.rule.empty()) {
      caller.rule = "none (Health and ListModules only)";
    }
  }
}

grpc::Status Gatekeeper::Allow(const Caller& caller, Action action, uint64_t guest_id,
                               std::optional<uid_t> owner_uid) const {
  if (caller.admin || action == Action::kHealth) {
    return grpc::Status::OK;
  }
  const std::string who = caller.Describe();
  const bool own = caller.unix_peer && owner_uid && *owner_uid == caller.unix_peer->uid;
  switch (action) {
    case Action::kWatch:
      if (caller.watch_all || (caller.launch && guest_id != 0 && own)) {
        return grpc::Status::OK;
      }
      if (caller.launch) {
        return Denied("own-guests", who + " may watch only guests it launched" +
                                        (guest_id == 0 ? std::string(": name one")
                                                       : "; guest " + std::to_string(guest_id) +
                                                             " is not one of them"));
      }
      return Denied("watch-group",
                    who + " is not in the watch group" +
                        (options_.watch_group ? " (" + options_.watch_group_name + ")"
                                              : std::string(" (none configured: --watch-group)")));
    case Action::kLaunch:
      if (caller.launch) {
        return grpc::Status::OK;
      }
      return Denied("launch-group",
                    who + " may not launch guests: only the owner, root, the admin group and " +
                        "the launch group may" +
                        (caller.watch_all ? " (the watch group only watches)" : ""));
    case Action::kChange:
      if (caller.launch && own) {
        return grpc::Status::OK;
      }
      if (caller.launch) {
        return Denied("own-guests", who +
                                        " may kill and re-police only guests it launched; guest " +
                                        std::to_string(guest_id) + " is not one of them");
      }
      return Denied("launch-group",
                    who + " may not kill or re-police guests" +
                        (caller.watch_all ? " (the watch group only watches)" : ""));
    case Action::kHealth:
      break;
  }
  return grpc::Status::OK;
}

std::expected<std::optional<GuestCredentials>, grpc::Status> Gatekeeper::LaunchCredentials(
    const Caller& caller) const {
  if (!caller.unix_peer || caller.unix_peer->uid == daemon_uid_ || caller.unix_peer->uid == 0) {
    return std::nullopt;  // the owner, root, or a TCP admin: the daemon's own rights
  }
  const UnixPeer& p = *caller.unix_peer;
  if (daemon_uid_ != 0) {
    return std::unexpected(
        Denied("least-privilege", "hijackd runs as uid " + std::to_string(daemon_uid_) +
                                      " and cannot start a guest with the rights of uid " +
                                      std::to_string(p.uid) + "; the guest would get hijackd's"));
  }
  return GuestCredentials{.uid = p.uid, .gid = p.gid, .groups = p.groups};
}

}  // namespace hijack::control
