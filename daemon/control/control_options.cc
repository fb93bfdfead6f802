#include "daemon/control/control_options.h"

#include <cstdlib>

namespace hijack::control {

void AddControlOptions(CLI::App* app, ControlServerOptions& o, ControlCliState& state) {
  app->add_option("--socket-mode", state.socket_mode,
                  "mode of the unix socket, octal; whoever may connect is then judged by the "
                  "rules (--admin-group, --launch-group, --watch-group)")
      ->capture_default_str();
  app->add_option("--socket-group", o.socket_group,
                  "group of the unix socket (with --socket-mode 0660 to let it connect; add "
                  "--watch-group/--launch-group/--admin-group to say what it may do)");
  app->add_option("--admin-group", o.admin_group,
                  "unix callers in this group may do everything the owner may (their guests run "
                  "with their own uid)");
  app->add_option("--launch-group", o.launch_group,
                  "unix callers in this group may launch guests, which run with the caller's "
                  "uid, gid and groups, and steer only those");
  app->add_option("--watch-group", o.watch_group,
                  "unix callers in this group may watch every guest (guests, show, policy get, "
                  "stats, events), never launch, kill or re-police");
  app->add_flag("--listen-any", o.listen_any,
                "allow a TCP address that is not loopback (mutual TLS only)");
  app->add_option("--tls-cert", o.tls_cert, "TCP: the server's certificate (PEM)");
  app->add_option("--tls-key", o.tls_key, "TCP: the server's private key (PEM)");
  app->add_option("--tls-ca", o.tls_ca,
                  "TCP: the CA whose client certificates are admitted (mutual TLS)");
  app->add_option("--token-file", o.token_file,
                  "TCP on loopback: write a fresh bearer token to this file (0600) and require "
                  "it on every call (hijackctl --token-file)");
  app->add_flag("--insecure-tcp", o.insecure_tcp,
                "TCP on loopback without authentication: every local user steers every guest "
                "(warns on every start)");
  app->add_option("--audit-log", o.audit_log,
                  "append one JSON line per Launch, Kill and SetPolicy, allowed or refused "
                  "(default: the daemon's log)");
  app->add_option("--audit-log-max-bytes", o.audit_log_max_bytes,
                  "rotate the audit log to FILE.1 past this size")
      ->capture_default_str();
}

Result<void> FinishControlOptions(ControlServerOptions& o, const ControlCliState& state) {
  char* end = nullptr;
  unsigned long mode = std::strtoul(state.socket_mode.c_str(), &end, 8);
  if (end == state.socket_mode.c_str() || *end != '\0' || mode > 0777) {
    return std::unexpected(Error{
        EINVAL, "--socket-mode " + state.socket_mode + ": expected an octal mode such as 0600"});
  }
  o.socket_mode = static_cast<unsigned>(mode);
  return {};
}

}  // namespace hijack::control
