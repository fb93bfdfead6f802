#include "daemon/backend/backend_table.h"

#include <fmt/format.h>

#include "daemon/backend/backend_set.h"
#include "daemon/backend/notify/notify_backend.h"
#include "daemon/backend/ptrace/ptrace_backend.h"
#include "daemon/backend/ptrace/tracer.h"

namespace hijack::backend {
namespace {

std::unique_ptr<Backend> MakeNotify(BackendSet& owner) {
  // The exec watch of guests whose images are judged is the ptrace kinds' tracer: the reaper
  // has one stop handler, which that tracer holds.
  return std::make_unique<NotifyBackend>(
      owner.loop(), owner.reaper(),
      NotifyOptions{.sync_wakeup = owner.options().sync_wakeup,
                    .watch_execs = [&owner](pid_t pid, uint64_t guest_id,
                                            SyscallHandler& handler) {
                      return owner.SharedTracer()->WatchExecs(pid, guest_id, handler);
                    }});
}

template <TraceMode kMode>
Result<void> ProbePtrace() {
  return PtraceBackend::Probe(kMode);
}

template <TraceMode kMode>
std::unique_ptr<Backend> MakePtrace(BackendSet& owner) {
  return std::make_unique<PtraceBackend>(owner.SharedTracer(), kMode);
}

constexpr BackendEntry kTable[] = {
    {.kind = BackendKind::kNotify,
     .description = "seccomp user notification",
     .probe = &NotifyBackend::Probe,
     .quick_probe = &NotifyBackend::ProbeAction,
     .make = &MakeNotify,
     .auto_fallback = BackendKind::kPtrace},
    {.kind = BackendKind::kPtrace,
     .description = "SECCOMP_RET_TRACE stops for intercepted calls",
     .probe = &ProbePtrace<TraceMode::kSeccompStops>,
     .quick_probe = nullptr,
     .make = &MakePtrace<TraceMode::kSeccompStops>,
     .auto_fallback = std::nullopt},
    {.kind = BackendKind::kPtraceAll,
     .description = "PTRACE_SYSCALL stops for every call",
     .probe = &ProbePtrace<TraceMode::kEverySyscall>,
     .quick_probe = nullptr,
     .make = &MakePtrace<TraceMode::kEverySyscall>,
     .auto_fallback = std::nullopt},
};

// The table has a row for every kind, at the kind's index (EntryOf and BackendSet rely on it).
constexpr bool RowsFollowKinds() {
  if (std::size(kTable) != kBackendKindNames.size()) {
    return false;
  }
  for (size_t i = 0; i < std::size(kTable); ++i) {
    if (static_cast<size_t>(kTable[i].kind) != i) {
      return false;
    }
  }
  return true;
}
static_assert(RowsFollowKinds(), "one row per BackendKind, in the enum's order");

}  // namespace

std::span<const BackendEntry> BackendTable() { return kTable; }

const BackendEntry& EntryOf(BackendKind kind) { return kTable[static_cast<size_t>(kind)]; }

std::string BackendNameList() {
  std::string out;
  for (const BackendEntry& entry : kTable) {
    out += out.empty() ? "" : ", ";
    out += entry.name();
  }
  return out;
}

std::string BackendOptionHelp() {
  std::string help = fmt::format("{} (the first of {} that runs here)", BackendChoice::kAutoName,
                                 BackendNameList());
  for (const BackendEntry& entry : kTable) {
    help += fmt::format(", {} ({})", entry.name(), entry.description);
  }
  return help;
}

std::string_view BackendChoice::Name() const {
  return kind_ ? BackendKindName(*kind_) : kAutoName;
}

Result<BackendChoice> ParseBackendChoice(std::string_view name) {
  if (name == BackendChoice::kAutoName) {
    return BackendChoice::Auto();
  }
  if (auto kind = BackendKindNamed(name)) {
    return BackendChoice(*kind);
  }
  return std::unexpected(Error{EINVAL, fmt::format("unknown backend \"{}\" (known: {}, {})", name,
                                                   BackendChoice::kAutoName, BackendNameList())});
}

}  // namespace hijack::backend
