// BackendSet: the backends of one supervisor, at most one instance per kind, made from the
// backend table (backend_table.h) on first use; and the one place where "auto" is decided.
//
//   BackendSet backends(loop, reaper, {.sync_wakeup = true});
//   Result<BackendSet::Selected> b = backends.Select(BackendChoice::Auto());
//   // logs "backend: notify (seccomp user notification)" the first time
//   Result<pid_t> pid = b->backend->Launch(spec, handler);
//   if (!pid) {
//     if (auto next = backends.AutoFallback(b->kind, pid.error(), admits)) { ... }
//   }
//
// Every guest of a kind runs under the same instance, whether it asked for the kind by name or
// through "auto": instances register handlers with the reaper and live as long as the set. The
// two ptrace kinds share one Tracer, which the set owns: the reaper has one stop handler, and
// waitpid(2) reports the stops of every tracee to it. So there is one BackendSet per
// ProcessReaper.
//
// What "auto" means: the first row of the table whose probe passes, decided at the first Select
// and kept; AutoFallback moves it on, once, when a launch is refused although the probe passed.
// A row with a quick_probe is taken on that check alone; its full probe runs only when a launch
// fails (LaunchFailed), and a kind whose full probe fails then is skipped from then on, as if
// its probe had failed at the first Select.
//
// Threads: the loop thread of `loop` only (the Tracer becomes that thread's tracer). The set
// must not outlive `loop` or `reaper`.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>

#include "daemon/backend/backend_table.h"
#include "daemon/launcher/reaper.h"
#include "hijack/backend.h"
#include "hijack/result.h"

namespace hijack::backend {

class Tracer;

struct BackendOptions {
  bool sync_wakeup = true;  // notify: SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP where supported
};

class BackendSet {
 public:
  struct Selected {
    BackendKind kind;
    Backend* backend;  // owned by the set
  };

  BackendSet(boost::asio::io_context& loop, launcher::ProcessReaper& reaper,
             BackendOptions options = {});
  ~BackendSet();  // the Tracer SIGKILLs the tracees of guests still running
  BackendSet(const BackendSet&) = delete;
  BackendSet& operator=(const BackendSet&) = delete;

  // The instance of `kind`, made after its probe passes on first use. Errors: the probe's, with
  // the next backend of the table to try ("...; try --backend ptrace-all").
  Result<Backend*> Get(BackendKind kind);

  // What `choice` means now. For auto: the kind decided earlier, or at the first call the first
  // row of the table whose probe passes (logged at info with the reasons for skipping the
  // others). Errors: Get's; for auto, every probe's when none passes.
  Result<Selected> Select(BackendChoice choice);

  // A launch under auto with `failed` (what Select gave) was refused with `why`. Returns the
  // table's fallback for `failed` when it runs here and `accepts` it (the caller's policy
  // admission); auto then means it from now on (logged as a warning). Empty: no fallback, auto
  // unchanged, the launch error stands.
  // A launch under `kind` failed. When the kind was taken on its quick probe alone, runs its full
  // probe now: if that fails the kind cannot run here, Get and Select skip it from now on (auto
  // is decided again) and the error is Get's ("the notify backend ... cannot run here: ...; try
  // --backend ptrace"). Empty: the kind runs here (or was probed in full before); the launch
  // error stands.
  std::optional<Error> LaunchFailed(BackendKind kind);

  std::optional<Selected> AutoFallback(BackendKind failed, const Error& why,
                                       const std::function<bool(const Backend&)>& accepts);

  // For the table's make functions: what the instances are served by.
  boost::asio::io_context& loop() { return loop_; }
  launcher::ProcessReaper& reaper() { return reaper_; }
  const BackendOptions& options() const { return options_; }
  // The Tracer of every ptrace-kind instance of this set, created on first use (it installs the
  // reaper's stop handler and an exit observer). Also for diagnostics (early stops).
  const std::shared_ptr<Tracer>& SharedTracer();

 private:
  static constexpr size_t kKinds = 3;

  boost::asio::io_context& loop_;
  launcher::ProcessReaper& reaper_;
  const BackendOptions options_;
  std::shared_ptr<Tracer> tracer_;
  std::array<std::unique_ptr<Backend>, kKinds> instances_;  // by BackendKind
  std::optional<BackendKind> auto_kind_;                    // decided by the first Select(auto)
  std::array<bool, kKinds> unconfirmed_{};  // made on the quick probe; the full one not yet run
  std::array<std::optional<Error>, kKinds> unusable_;  // why the full probe failed after a launch
};

}  // namespace hijack::backend
