// Socket activation: the listening socket systemd (or any manager speaking the same protocol)
// opened for `hijackd serve`, taken over instead of binding one.
//
//   HIJACK_ASSIGN_OR_RETURN(std::optional<ActivatedSocket> s, TakeActivatedSocket());
//   if (s) { ... UnixListener::Adopt(std::move(s->fd), s->path, ...) ... }
//
// The protocol (sd_listen_fds(3)): when LISTEN_PID is this process's pid, LISTEN_FDS sockets
// start at descriptor 3 (SD_LISTEN_FDS_START), named by LISTEN_FDNAMES. It is three variables and
// a descriptor number, so it is read here rather than through libsystemd: the daemon gains no
// library dependency for it, and the checks that matter to a supervisor (exactly one socket, a
// unix stream socket that is listening, close-on-exec before any guest is forked) are explicit.
//
// The variables are removed from the environment whether or not they were meant for this
// process (as sd_listen_fds(3) does with unset_environment), so no guest inherits them, and the
// descriptor is made close-on-exec: a guest must never hold the control socket.
//
// Threads: call once, before any guest is launched and while no other thread reads the
// environment (unsetenv is not thread-safe, getenv(3)); ControlServer::Start does.
#pragma once

#include <optional>
#include <string>

#include "hijack/result.h"
#include "hijack/unique_fd.h"

namespace hijack::control {

struct ActivatedSocket {
  UniqueFd fd;       // listening, AF_UNIX, SOCK_STREAM, close-on-exec
  std::string path;  // the path it is bound to (getsockname(2))
};

// Nullopt when no socket was passed to this process (LISTEN_PID unset or another pid's).
// Errors (each naming the variable or the descriptor): LISTEN_FDS not a number or not 1,
// descriptor 3 not open, not a unix stream socket, not listening, or bound to no path (an
// abstract or unnamed socket: its peers cannot be told apart by path and mode).
Result<std::optional<ActivatedSocket>> TakeActivatedSocket();

}  // namespace hijack::control
