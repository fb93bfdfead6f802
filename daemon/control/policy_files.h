// The files a policy sent over the control API names, opened as the client would open them:
// relative names resolved against the client's working directory, and every file opened with
// the client's file-system rights, never the daemon's.
//
//   auto doc = common::ParseBoundedJson(text);
//   HIJACK_TRY(ResolvePolicyFiles(*doc, request.client_cwd()));   // "/modules/1/output: ..."
//   {
//     HIJACK_ASSIGN_OR_RETURN(auto rights, CallerFileRights::Take(caller_credentials));
//     set = PolicySet::FromJson(*doc, registry);   // trace opens its output as the caller
//   }
//
// Why both: a daemon started elsewhere (a service's cwd is /) would otherwise put a client's
// "trace.jsonl" in its own directory, and a root daemon would open, truncate or create any
// file a non-root client names (/etc/shadow as a trace output). The module factories open their
// files while the policy is built (PolicySet::FromJson), on the calling thread; for that
// while, CallerFileRights gives the thread the caller's fsuid, fsgid and supplementary groups
// (setfsuid(2), setfsgid(2), setgroups(2): all per thread on Linux when called as raw system
// calls), so the kernel checks each open against the caller, race-free, symlinks included.
//
// Thread-safe: ResolvePolicyFiles is pure; CallerFileRights changes only the calling thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/thread_fs_identity.h"
#include "hijack/backend.h"
#include "hijack/result.h"

namespace hijack::control {

// What a policy document makes the daemon open.
struct PolicyFileUse {
  bool names_files = false;  // any file setting with a file in it
  // The JSON path of the first plugin module ("/modules/2"), empty when none. A plugin runs in
  // a policy host that execs with hijackd's own rights, whatever thread started it.
  std::string first_plugin;
};

// Rewrites every relative file setting of `doc` (trace "output", exec_guard "log", plugin
// "path"; "-", "none" and "" keep their meaning) into an absolute path under `client_cwd`.
// EINVAL naming the JSON path when one is relative and `client_cwd` is empty, and when
// `client_cwd` is not absolute.
Result<PolicyFileUse> ResolvePolicyFiles(nlohmann::json& doc, std::string_view client_cwd);

// The calling thread's file-system identity, as the caller's until destroyed.
class CallerFileRights {
 public:
  // Takes `rights` for this thread (nothing happens for nullopt: the daemon's own rights).
  // Errors: setgroups(2) refused (a daemon without CAP_SETGID).
  static Result<CallerFileRights> Take(const std::optional<GuestCredentials>& rights);
  CallerFileRights(CallerFileRights&& other) noexcept = default;
  CallerFileRights& operator=(CallerFileRights&&) = delete;
  CallerFileRights(const CallerFileRights&) = delete;
  // Restores the daemon's identity. A thread that cannot get it back would serve later calls
  // with someone else's rights: the daemon aborts instead (an invariant, checked in release).
  ~CallerFileRights();

 private:
  CallerFileRights() = default;
  common::ThreadFsIdentity identity_;
};

}  // namespace hijack::control
