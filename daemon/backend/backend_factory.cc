#include "daemon/backend/backend_factory.h"

#include "daemon/backend/notify/notify_backend.h"
#include "daemon/backend/ptrace/ptrace_backend.h"

namespace hijack::backend {

std::vector<std::string> BackendNames() { return {"notify", "ptrace", "ptrace-all"}; }

Result<std::unique_ptr<Backend>> MakeBackend(const std::string& name,
                                             boost::asio::io_context& loop,
                                             launcher::ProcessReaper& reaper,
                                             const BackendOptions& options, std::string* chosen) {
  auto make_notify = [&] {
    return std::make_unique<NotifyBackend>(loop, reaper,
                                           NotifyOptions{.sync_wakeup = options.sync_wakeup});
  };
  auto choose = [chosen](std::string why) {
    if (chosen != nullptr) {
      *chosen = std::move(why);
    }
  };
  if (name == "notify") {
    if (auto probe = NotifyBackend::Probe(); !probe) {
      return MakeError(
          "seccomp user notification is not available on this kernel or in this sandbox (" +
          probe.error().message + "); run with --backend ptrace");
    }
    choose("notify (seccomp user notification)");
    return make_notify();
  }
  if (name == "ptrace" || name == "ptrace-all") {
    const TraceMode mode =
        name == "ptrace" ? TraceMode::kSeccompStops : TraceMode::kEverySyscall;
    if (auto probe = PtraceBackend::Probe(mode); !probe) {
      return MakeError("the " + name + " backend cannot run here (" + probe.error().message +
                       (mode == TraceMode::kSeccompStops ? "); try --backend ptrace-all" : ")"));
    }
    choose(name == "ptrace" ? "ptrace (SECCOMP_RET_TRACE stops for intercepted calls)"
                            : "ptrace-all (PTRACE_SYSCALL stops for every call)");
    return std::make_unique<PtraceBackend>(loop, reaper, mode);
  }
  if (name == "auto") {
    auto notify = NotifyBackend::Probe();
    if (notify) {
      choose("notify (seccomp user notification)");
      return make_notify();
    }
    auto seccomp_trace = PtraceBackend::Probe(TraceMode::kSeccompStops);
    if (seccomp_trace) {
      choose("ptrace (SECCOMP_RET_TRACE stops; no seccomp user notification: " +
             notify.error().message + ")");
      return std::make_unique<PtraceBackend>(loop, reaper, TraceMode::kSeccompStops);
    }
    auto plain = PtraceBackend::Probe(TraceMode::kEverySyscall);
    if (plain) {
      choose("ptrace-all (PTRACE_SYSCALL stops for every call; no seccomp user notification: " +
             notify.error().message + "; no SECCOMP_RET_TRACE: " +
             seccomp_trace.error().message + ")");
      return std::make_unique<PtraceBackend>(loop, reaper, TraceMode::kEverySyscall);
    }
    return MakeError("no backend can run here: seccomp user notification (" +
                     notify.error().message + "), ptrace (" + plain.error().message + ")");
  }
  return MakeError("unknown backend \"" + name + "\" (known: auto, notify, ptrace, ptrace-all)");
}

}  // namespace hijack::backend
