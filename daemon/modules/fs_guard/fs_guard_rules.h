// The rules of fs_guard: which resolved paths a kind of access may reach. Pure data and const
// functions, built once from the policy and shared by the check-mode decision and the
// strict-mode opener (fs_guard_strict.h).
//
//   FsRules rules({{.allow = false, .access = syscalls::kAccessRead, .patterns = deny}}, true);
//   rules.Allows("/etc/shadow", syscalls::kAccessRead);   // false
//
// Immutable after construction; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/modules/fs_guard/path_pattern.h"
#include "daemon/syscalls/syscall_args.h"
#include "hijack/decision.h"

namespace hijack::modules {

// The access kinds rules speak of (daemon/syscalls/syscall_args.h), under their policy names.
using syscalls::kAccessAll;
using syscalls::kAccessAttr;
using syscalls::kAccessCreate;
using syscalls::kAccessExec;
using syscalls::kAccessRead;
using syscalls::kAccessUnlink;
using syscalls::kAccessWrite;

struct FsRule {
  bool allow = false;
  uint8_t access = kAccessAll;
  std::vector<PathPattern> patterns;
};

class FsRules {
 public:
  // `rules` are tried in order; `default_allow` decides when none matches. `always_deniable`
  // (a default of deny, or a `beneath` directory) makes every kind deniable.
  FsRules(std::vector<FsRule> rules, bool default_allow, bool always_deniable);

  // Whether `path` may be accessed with every kind in `access`: each kind is decided on its own
  // by the first rule covering it whose pattern matches. A path that is not absolute (a pipe
  // or socket re-opened through /proc/PID/fd) is no file-system access and is allowed.
  bool Allows(const std::string& path, uint8_t access) const { return Judge(path, access).allowed; }

  // Allows() with what decided: for a denial, the first kind denied, and the rule and pattern
  // that denied it (both null when the default did).
  struct Verdict {
    bool allowed = true;
    uint8_t kind = 0;
    const FsRule* rule = nullptr;
    const PathPattern* pattern = nullptr;
  };
  Verdict Judge(const std::string& path, uint8_t access) const;

  // A denial of `path` explained in the policy's terms (DenialReason): the rule, and what to
  // add to allow it. `module` names the module in the hint ("fs_guard").
  DenialReason Explain(const std::string& path, const Verdict& verdict,
                       std::string_view module) const;

  // Whether some path at or beneath `dir` may be denied an access of any kind: what a rename of
  // `dir` would move out from under the rules (or a rename onto it, into them). For each kind,
  // the first rule that covers `dir`'s whole subtree, or a deny rule that may match in it,
  // decides; a deny default counts when nothing covers the subtree. Errs towards true.
  bool SubtreeMayBeDenied(const std::string& dir) const;

  // Whether some rule (or the default) can deny an access of a kind in `access`.
  bool CanDeny(uint8_t access) const { return (deniable_ & access) != 0; }
  uint8_t deniable() const { return deniable_; }
  const std::vector<FsRule>& rules() const { return rules_; }
  bool default_allow() const { return default_allow_; }

 private:
  std::vector<FsRule> rules_;
  bool default_allow_;
  uint8_t deniable_ = 0;
};

}  // namespace hijack::modules
