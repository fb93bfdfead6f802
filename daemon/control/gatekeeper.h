// Gatekeeper: who is calling the control API, and whether the rules let them do what they ask.
//
//   Gatekeeper gate(options, getpid());
//   gate.AddUnixConnection(fd, peer);                  // from UnixListener, before gRPC sees fd
//   Result<Caller> caller = gate.Identify(*ctx);      // UNAUTHENTICATED / PERMISSION_DENIED
//   if (auto s = gate.Allow(*caller, Action::kLaunch, {}); !s.ok()) return s;
//
// Identification, by listener kind:
//   unix   the kernel's SO_PEERCRED / SO_PEERPIDFD / SO_PEERGROUPS of the connection, read when
//          the daemon accepted it (gRPC's own unix listener does not expose the descriptor, so
//          UnixListener accepts and hands each connection over with AddInsecureChannelFromFd;
//          the call's peer string "fd:N" names the connection while any call on it is alive).
//   tcp    a client certificate verified against --tls-ca during the TLS handshake (a missing or
//          bad one never gets past the handshake), and/or the bearer token of --token-file in
//          the `authorization` metadata of every call, or nothing with --insecure-tcp.
// Then, whatever the credentials: a caller whose process is inside a supervised guest's tree
// (unix: the peer's pidfd; TCP on this machine: the processes that hold the client socket) is
// refused. The rules (docs/SECURITY.md, "Who may steer"), in order:
//   no-guests     a guest never steers its supervisor, whatever its uid or credentials.
//   admin         the owner (hijackd's uid), root, --admin-group members, a verified client
//                 certificate, the token holder, any client of --insecure-tcp: everything.
//   launch-group  may launch guests, which run with the caller's own uid, gid and groups, and
//                 watch, kill and re-police the guests it launched, no others.
//   watch-group   may watch every guest (ListGuests, GetGuest, GetPolicy, GetStats, WatchEvents),
//                 never launch, kill or re-police.
//   anyone else   who can reach the socket (its mode allows): Health and ListModules only.
// Refusals are PERMISSION_DENIED and name the rule.
//
// Thread-safe: gRPC handlers call it concurrently.
#pragma once

#include <grpcpp/server_context.h>
#include <sys/types.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "daemon/control/peer_process.h"
#include "hijack/backend.h"
#include "hijack/result.h"

namespace hijack::control {

struct GatekeeperOptions {
  bool unix_listener = true;  // else TCP
  bool tls = false;           // a verified client certificate is required
  std::string token;          // non-empty: this bearer token is required on every call
  bool insecure = false;      // plaintext TCP without authentication
  std::optional<gid_t> admin_group;
  std::optional<gid_t> launch_group;
  std::optional<gid_t> watch_group;
  std::string admin_group_name, launch_group_name, watch_group_name;  // for messages
};

// Who called, as established for this one call.
struct Caller {
  std::optional<UnixPeer> unix_peer;  // unix listeners
  std::string certificate;            // "CN=ops" of a verified client certificate
  bool token = false;
  std::string peer;  // gRPC's peer string, for the log
  // What the rules grant, and the rule that grants it ("owner", "launch-group staff").
  bool admin = false;
  bool launch = false;
  bool watch_all = false;
  std::string rule;

  // "uid 1000 (pid 4242)", "certificate CN=ops from ipv4:10.0.0.7:5123", "token holder from ...".
  std::string Describe() const;
};

enum class Action {
  kHealth,  // Health, ListModules, ValidatePolicy without a guest
  kWatch,   // ListGuests, GetGuest, GetPolicy, GetStats, WatchEvents, ValidatePolicy (guest)
  kLaunch,
  kChange,  // Kill, SetPolicy
};

class Gatekeeper {
 public:
  Gatekeeper(GatekeeperOptions options, pid_t supervisor);
  Gatekeeper(const Gatekeeper&) = delete;
  Gatekeeper& operator=(const Gatekeeper&) = delete;

  // Records what the kernel said about the unix connection `fd` (UnixListener, before handing
  // the descriptor to gRPC). Replaces whatever an earlier, closed connection with the same
  // number left.
  void AddUnixConnection(int fd, UnixPeer peer);
  // The TCP listener's port once bound (to find local peers' sockets in /proc/net/tcp).
  void SetTcpPort(int port) { tcp_port_.store(port); }

  // Establishes who is calling, or refuses: UNAUTHENTICATED for missing or wrong credentials,
  // PERMISSION_DENIED (rule no-guests) for a caller inside a guest's tree, or when that cannot
  // be ruled out. `guest_uids` are the uids guests of this daemon run with (a local TCP socket
  // owned by one of them whose holder cannot be found is refused).
  std::expected<Caller, grpc::Status> Identify(const grpc::ServerContext& ctx,
                                               const std::vector<uid_t>& guest_uids) const;

  // Whether `caller` may do `action` (on a guest launched by `owner_uid`, when it is known: the
  // uid of a unix caller that launched it). PERMISSION_DENIED names the rule.
  grpc::Status Allow(const Caller& caller, Action action, uint64_t guest_id = 0,
                     std::optional<uid_t> owner_uid = std::nullopt) const;

  // The rights a guest launched by `caller` gets: the caller's own when hijackd runs as root
  // and the caller is a unix peer that is not root; nullopt for hijackd's own. PERMISSION_DENIED
  // when the caller would get more than it has: a non-root daemon cannot start a guest with
  // another uid, and does not hand its own to a caller that is not its owner.
  std::expected<std::optional<GuestCredentials>, grpc::Status> LaunchCredentials(
      const Caller& caller) const;

 private:
  std::expected<UnixPeer, grpc::Status> UnixPeerOf(const grpc::ServerContext& ctx) const;
  grpc::Status CheckNotGuest(const Caller& caller, const std::vector<uid_t>& guest_uids) const;
  void Grant(Caller& caller) const;

  const GatekeeperOptions options_;
  const pid_t supervisor_;
  const uid_t daemon_uid_;
  std::atomic<int> tcp_port_{0};
  mutable std::mutex mu_;
  std::map<int, UnixPeer> connections_;  // by descriptor number
};

}  // namespace hijack::control
