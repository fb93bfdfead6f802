#include "daemon/backend/backend_factory.h"

#include "daemon/backend/notify/notify_backend.h"

namespace hijack::backend {

std::vector<std::string> BackendNames() { return {"notify"}; }

Result<std::unique_ptr<Backend>> MakeBackend(const std::string& name,
                                             boost::asio::io_context& loop,
                                             launcher::ProcessReaper& reaper,
                                             const BackendOptions& options, std::string* chosen) {
  if (name == "notify" || name == "auto") {
    if (auto probe = NotifyBackend::Probe(); !probe) {
      return MakeError(
          "seccomp user notification is not available on this kernel or in this sandbox (" +
          probe.error().message + "); run with --backend ptrace");
    }
    if (chosen != nullptr) {
      *chosen = "notify (seccomp user notification)";
    }
    return std::make_unique<NotifyBackend>(loop, reaper,
                                           NotifyOptions{.sync_wakeup = options.sync_wakeup});
  }
  return MakeError("unknown backend \"" + name + "\" (known: auto, notify)");
}

}  // namespace hijack::backend
