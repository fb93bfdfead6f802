// Chooses and builds the backend a guest runs under.
//
//   std::string why;
//   Result<std::unique_ptr<Backend>> b = MakeBackend("auto", loop, reaper, options, &why);
//   // why: "notify (seccomp user notification)"
//
// Names: "notify", "ptrace", "ptrace-all", and "auto" (notify where the kernel and sandbox allow
// it, else ptrace, else ptrace-all). Errors name what is missing and which backend to try.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "daemon/launcher/reaper.h"
#include "hijack/backend.h"

namespace hijack::backend {

struct BackendOptions {
  bool sync_wakeup = true;  // notify: SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP where supported
};

// The backend names this build knows, in the order `auto` tries them.
std::vector<std::string> BackendNames();

// `chosen`, when given, receives the name of the backend built and why (for `auto`).
Result<std::unique_ptr<Backend>> MakeBackend(const std::string& name,
                                             boost::asio::io_context& loop,
                                             launcher::ProcessReaper& reaper,
                                             const BackendOptions& options, std::string* chosen);

}  // namespace hijack::backend
