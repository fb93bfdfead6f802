// Where the control API listens, and the checks that make listening there safe.
//
//   Result<ListenAddress> a = ParseListenAddress("unix:/run/hijack.sock");  // or tcp:127.0.0.1:0
//   if (a->kind == ListenAddress::Kind::kUnix) ClaimUnixSocketPath(a->path);  // stale? replace
//   builder.AddListeningPort(a->GrpcUri(), ...);
//
// The default is a unix socket: its 0600 mode is the access control (only the owner may steer
// guests). TCP has no authentication, so it binds loopback unless the operator insists.
// DefaultControlAddress() is header-only so hijackctl shares it without linking the daemon.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "hijack/result.h"

namespace hijack::common {

struct ListenAddress {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string path;  // kUnix
  std::string host;  // kTcp: "127.0.0.1", "::1", "0.0.0.0"
  int port = 0;      // kTcp: 0 picks a free port

  // The form grpc::ServerBuilder and grpc::CreateChannel take: "unix:/p", "127.0.0.1:80",
  // "[::1]:80".
  std::string GrpcUri() const;
  // The form users type: "unix:/p", "tcp:127.0.0.1:80".
  std::string ToString() const;
  bool IsLoopback() const;
};

// "unix:PATH" (absolute or relative path) or "tcp:HOST:PORT" ("tcp:[::1]:PORT" for IPv6).
// Errors (code EINVAL) say which part is wrong.
Result<ListenAddress> ParseListenAddress(std::string_view text);

// Makes `path` free for a new socket without stealing a live one: nothing there is fine; a
// socket nobody accepts on (connect(2) gets ECONNREFUSED) is stale and is unlinked; a socket a
// daemon still serves is EADDRINUSE; anything that is not a socket is EEXIST.
Result<void> ClaimUnixSocketPath(const std::string& path);

// unix:$XDG_RUNTIME_DIR/hijack.sock when that is set, unix:/run/hijack.sock for root, else
// unix:/tmp/hijack-<uid>.sock.
inline std::string DefaultControlAddress() {
  if (const char* dir = std::getenv("XDG_RUNTIME_DIR"); dir != nullptr && *dir != '\0') {
    return std::string("unix:") + dir + "/hijack.sock";
  }
  if (::geteuid() == 0) {
    return "unix:/run/hijack.sock";
  }
  return "unix:/tmp/hijack-" + std::to_string(::geteuid()) + ".sock";
}

}  // namespace hijack::common
