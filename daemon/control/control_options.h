// The command-line options of a control listener, shared by `hijackd serve` and
// `hijackd run --listen` so both promise the same (control_server.h, gatekeeper.h).
//
//   ControlServerOptions server;
//   AddControlOptions(serve_cmd, server, /*with_listen=*/true);
//   app.parse(argc, argv);
//
// Options: --socket-mode, --socket-group, --listen-any, --tls-cert, --tls-key, --tls-ca,
// --token-file, --insecure-tcp, --admin-group, --launch-group, --watch-group, --audit-log,
// --audit-log-max-bytes. The socket mode is parsed by FinishControlOptions, after parsing.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "daemon/control/server_options.h"
#include "hijack/result.h"

namespace hijack::control {

struct ControlCliState {
  std::string socket_mode = "0600";
};

void AddControlOptions(CLI::App* app, ControlServerOptions& options, ControlCliState& state);

// After parsing: the octal --socket-mode. Errors name the option.
Result<void> FinishControlOptions(ControlServerOptions& options, const ControlCliState& state);

}  // namespace hijack::control
