// fs_guard: allow or deny file-system calls by the resolved path they act on.
//
//   {"module": "fs_guard", "mode": "strict", "errno": "EACCES",
//    "rules": [{"deny": ["/etc/shadow", "/root/**"]},
//              {"allow": ["/tmp/**"], "access": ["create", "write", "unlink"]}],
//    "default": "allow"}
//
// Each rule has `allow` or `deny` (a list of PathPatterns) and optionally `access`, the kinds of
// access it covers: read, write, create, exec, unlink (default: all). Rules are tried in order;
// the first whose access kinds include the call's and whose pattern matches the resolved path
// decides. `deny`/`allow` at the top level are shorthands for one rule each over every access kind,
// tried after `rules` (deny before allow). `default` applies when no rule matches: "deny" when any
// allow rule exists, else "allow". A call that needs several kinds (O_RDWR|O_CREAT) must be
// allowed for each; rename is unlink of the old path and create of the new one.
//
// Paths are resolved as the kernel would for the calling thread (GuestPathResolver): relative to
// its cwd or dirfd, with ".." and symlinks in the guest's root. Modes:
//  - check: resolve, then let the kernel run the call. Another guest thread can swap a path
//    component between the check and the call (documented in policies/README.md).
//  - strict: for open/openat/openat2/creat the supervisor opens the file itself (openat2 with
//    RESOLVE_NO_MAGICLINKS, RESOLVE_BENEATH under `beneath`, the guest's fs credentials and
//    umask), decides on the path of what it opened, and answers with Decision::InjectFd: no
//    swap can take effect. Needs the notify backend. Other calls (exec, unlink, mkdir, rename)
//    are checked as in check mode.
// Fail closed: when a path the rules could deny cannot be resolved, the call fails (with the
// kernel's own ENOENT/ENOTDIR when a directory on the way is missing, else with `errno`).
//
// The module is three parts: the rules (fs_guard_rules.h, pure), the strict-mode opener
// (fs_guard_strict.h, which opens files), and the config parser (fs_guard_config.cc); the
// arguments come from the layout table (daemon/syscalls/syscall_args.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/modules/fs_guard/fs_guard_rules.h"
#include "daemon/modules/fs_guard/fs_guard_strict.h"
#include "daemon/policy/module_registry.h"

namespace hijack::modules {

class FsGuardModule final : public PolicyModule {
 public:
  enum class Mode { kCheck, kStrict };
  using Rule = FsRule;
  struct Config {
    Mode mode = Mode::kCheck;
    std::vector<Rule> rules;
    bool default_allow = true;
    int err = EACCES;
    std::optional<std::string> beneath;
  };

  explicit FsGuardModule(Config config);
  static policy::ModuleInfo Info();

  std::string_view Name() const override { return "fs_guard"; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return true; }
  bool NeedsFdInjection() const override { return mode_ == Mode::kStrict; }
  std::optional<Decision> Decide(const SyscallEvent& ev, GuestMemory& mem) override;
  nlohmann::json Stats() const override;
  // fs_guard_floor.cc: the allowed trees of a default-deny (or `beneath`) policy.
  KernelFloor Floor() const override;

  // Whether `path` may be accessed with every kind in `access` (pure; for tests).
  bool Allows(const std::string& path, uint8_t access) const { return rules_.Allows(path, access); }

 private:
  // Check mode: resolves `path` as the kernel would and asks the rules. `open` says the call is
  // an open, whose O_CREAT creates only when the name does not exist yet.
  std::optional<Decision> Check(const SyscallEvent& ev, GuestMemory& mem,
                                const syscalls::PathArg& path, bool open);
  Decision Deny();

  const Mode mode_;
  const int err_;
  const std::optional<std::string> beneath_;
  const FsRules rules_;
  SyscallSet syscalls_;
  FsGuardCounters counters_;
};

}  // namespace hijack::modules
