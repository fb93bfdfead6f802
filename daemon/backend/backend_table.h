// The backends this build has, one row each: what `hijackd run --backend`, `hijackd check`, the
// control API's Health and the tests list, how each is probed, and how BackendSet makes one.
//
//   for (const BackendEntry& entry : BackendTable()) {
//     Result<void> works = entry.probe();   // forks: a short-lived child or guest
//     std::printf("%s: %s\n", std::string(entry.name()).c_str(), works ? "on" : "off");
//   }
//   Result<BackendChoice> choice = ParseBackendChoice("auto");   // or "notify", ...
//
// The rows are in the order "auto" tries them (BackendSet::Select): the cheapest enforcement
// boundary first. Adding a backend is adding a BackendKind and a row; nothing else names one.
//
// Threads: the table is constant. A probe may be called from any thread that is not running a
// Tracer's loop (it forks and waits for its own child only).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "hijack/backend.h"
#include "hijack/backend_kind.h"
#include "hijack/result.h"

namespace hijack::backend {

class BackendSet;

struct BackendEntry {
  BackendKind kind;
  // What stops the guest's calls, for help texts, logs and `hijackd check`.
  std::string_view description;
  // Whether a guest can run under this kind here; the error names what the kernel or the sandbox
  // refused.
  Result<void> (*probe)();
  // What can be checked without starting a child (no fork, no filter), or null. When set,
  // BackendSet launches after this check alone and runs `probe` only when a launch fails, to tell
  // "this kind cannot run here" from "this launch failed": a launch does everything the probe
  // does, so a guest that starts proves what the probe would. Saves a probe guest per start-up.
  Result<void> (*quick_probe)() = nullptr;
  // A new instance served by `owner`'s loop and reaper (and its Tracer for the ptrace kinds).
  std::unique_ptr<Backend> (*make)(BackendSet& owner);
  // Where "auto" goes when a launch of this kind is refused although its probe passed. Only the
  // notify probe can miss something a real launch needs (a sandbox that refuses the agent's
  // memfd, say); the ptrace probes try everything a launch does.
  std::optional<BackendKind> auto_fallback;

  std::string_view name() const { return BackendKindName(kind); }
};

// Every backend of this build, in the order "auto" tries them.
std::span<const BackendEntry> BackendTable();
const BackendEntry& EntryOf(BackendKind kind);

// "notify, ptrace, ptrace-all": the table's names, for messages.
std::string BackendNameList();
// One line for a --backend option: "auto (the first that runs here: notify, ptrace, ...),
// notify (seccomp user notification), ...".
std::string BackendOptionHelp();

// A backend as a user asks for it: one kind, or "auto" (BackendSet::Select decides what it
// means on this kernel, once per supervisor).
class BackendChoice {
 public:
  static constexpr std::string_view kAutoName = "auto";

  BackendChoice() = default;  // auto
  explicit BackendChoice(BackendKind kind) : kind_(kind) {}
  static BackendChoice Auto() { return BackendChoice(); }

  bool automatic() const { return !kind_.has_value(); }
  // The kind asked for; empty for auto.
  std::optional<BackendKind> kind() const { return kind_; }
  // "auto", or the kind's name.
  std::string_view Name() const;

  bool operator==(const BackendChoice&) const = default;

 private:
  std::optional<BackendKind> kind_;
};

// "auto" or a name of the table. Errors (EINVAL): any other name, listing the known ones:
// 'unknown backend "ptrase" (known: auto, notify, ptrace, ptrace-all)'.
Result<BackendChoice> ParseBackendChoice(std::string_view name);

}  // namespace hijack::backend
