// `hijackd serve`: the long-running supervisor, steered over the control API.
//
//   ServeOptions opts;
//   opts.server.listen = "unix:/run/hijack.sock";
//   return RunServe(opts);   // until SIGTERM or SIGINT
//
// Shutdown on SIGTERM/SIGINT: stop accepting connections and changes (event streams end with
// UNAVAILABLE), end the guests at once (SIGTERM, and SIGKILL after the grace period) while
// calls in flight finish, then stop the gRPC server (which waits up to the grace for clients
// that keep their connections open).
// `--on-exit detach` is refused under the notify backend: seccomp filters cannot be removed, a
// guest's intercepted calls would fail with ENOSYS once the listener closes, and guests are
// started with PR_SET_PDEATHSIG, so no notify guest can outlive its supervisor.
#pragma once

#include <chrono>
#include <string>

#include "daemon/control/control_server.h"
#include "daemon/control/server_options.h"

namespace hijack::control {

// Returns hijackd's exit status: 0 after a clean shutdown, 1 when the API cannot listen, 2 for
// bad options.
int RunServe(const ServeOptions& options);

// Starts the control API for `hijackd run --listen` and returns the function that stops it.
Result<std::function<void()>> ServeRunControl(const ControlServerOptions& options,
                                              supervisor::Supervisor& supervisor);

}  // namespace hijack::control
