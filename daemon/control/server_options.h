// What a control listener and `hijackd serve` are asked to do: plain settings, without gRPC, so
// that `hijackd run` can parse and check them (control_options.h) without loading the control
// plane (control_plane.h), which only a command that serves the API loads.
//
//   ControlServerOptions server;
//   server.listen = "unix:/run/hijack.sock";
//   ServeOptions serve{.server = server};
//   return (*LoadControlPlane())->run_serve(serve);
//
// What each setting promises: control_server.h (listeners, authentication), control_service.h
// (limits), serve_command.h (shutdown). Threads: plain values.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "common/bounded_file.h"

namespace hijack::control {

struct ControlLimits {
  // Larger documents: RESOURCE_EXHAUSTED. Other request limits: request_limits.h.
  size_t max_policy_bytes = common::kMaxPolicyBytes;
  // Concurrent WatchEvents. Each holds one of the sync server's threads (ControlServerOptions::
  // max_threads), so this stays well below that, leaving threads for unary calls.
  size_t max_streams = 32;
  size_t default_queue = 1024;         // WatchEvents queue when the request names none
  size_t max_queue = 1 << 16;
  // Upper bound on how long a handler waits for the loop when the client set no deadline.
  std::chrono::milliseconds max_wait{30'000};
  // Launch, SetPolicy and Kill together: a token bucket.
  double changes_per_second = 50;
  double change_burst = 100;
};

struct ControlServerOptions {
  std::string listen;              // unix:PATH or tcp:HOST:PORT
  unsigned socket_mode = 0600;
  std::string socket_group;        // empty: the daemon's group
  bool listen_any = false;         // allow a TCP address that is not loopback (needs TLS)
  // TCP authentication.
  std::string tls_cert;            // PEM files; all three together: mutual TLS
  std::string tls_key;
  std::string tls_ca;              // the CA that signs client certificates
  std::string token_file;          // a fresh bearer token is written here (0600) at start
  bool insecure_tcp = false;       // plaintext, no authentication, loopback only
  // Authorization of unix callers (gatekeeper.h): group names or numbers; empty: none.
  std::string admin_group;
  std::string launch_group;
  std::string watch_group;
  // Mutating calls, one JSON line each (audit_log.h); empty: the daemon's log only.
  std::string audit_log;
  size_t audit_log_max_bytes = 16 << 20;
  int max_message_bytes = 4 << 20;
  int max_threads = 64;
  ControlLimits limits;
};

struct ServeOptions {
  ControlServerOptions server;
  std::string on_exit = "kill";  // "kill" or "detach"
  std::chrono::milliseconds grace{5000};
  bool sync_wakeup = true;
  std::string contain = "auto";  // for every guest: "auto", "pidns" or "none" (SupervisorOptions)
  bool landlock_floor = true;    // false: --no-landlock, no guest gets a Landlock floor
  // The seccomp agent socket for OCI runtimes (daemon/oci/oci_listener.h); empty: none.
  std::string oci_listener;
  std::string oci_listener_mode = "0600";  // octal
  std::string oci_listener_group;          // name or number; empty: the daemon's
  std::string oci_policy_dir;              // policies that listenerMetadata names
  std::string oci_default_policy;          // for containers whose metadata names none
};

}  // namespace hijack::control
