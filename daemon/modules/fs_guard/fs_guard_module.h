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
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "daemon/modules/fs_guard/path_pattern.h"
#include "daemon/policy/module_registry.h"

namespace hijack::modules {

// Kinds of access, as a bit set.
enum AccessKind : uint8_t {
  kAccessRead = 1,
  kAccessWrite = 2,
  kAccessCreate = 4,
  kAccessExec = 8,
  kAccessUnlink = 16,
  kAccessAll = 31,
};

class FsGuardModule final : public PolicyModule {
 public:
  enum class Mode { kCheck, kStrict };
  struct Rule {
    bool allow = false;
    uint8_t access = kAccessAll;
    std::vector<PathPattern> patterns;
  };
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
  bool NeedsFdInjection() const override { return config_.mode == Mode::kStrict; }
  std::optional<Decision> Decide(const SyscallEvent& ev, GuestMemory& mem) override;
  nlohmann::json Stats() const override;

  // Whether `path` may be accessed with every kind in `access` (pure; for tests).
  bool Allows(const std::string& path, uint8_t access) const;

 private:
  struct Operand {
    int dirfd;
    uint64_t path_addr;
    uint8_t access;
    bool follow;
    bool empty_path = false;  // execveat with AT_EMPTY_PATH: the dirfd itself
  };
  std::optional<Decision> Check(const SyscallEvent& ev, GuestMemory& mem, const Operand& op);
  std::optional<Decision> OpenStrict(const SyscallEvent& ev, GuestMemory& mem, int dirfd,
                                     uint64_t path_addr, uint64_t flags, uint64_t mode);
  Decision Deny();
  // Whether some rule (or the default) can deny an access of kind `access`.
  bool CanDeny(uint8_t access) const { return (deniable_ & access) != 0; }

  const Config config_;
  SyscallSet syscalls_;
  uint8_t deniable_ = 0;
  std::atomic<uint64_t> allowed_{0};
  std::atomic<uint64_t> denied_{0};
  std::atomic<uint64_t> unresolved_{0};  // denied because the path could not be evaluated
  std::atomic<uint64_t> injected_{0};    // strict-mode opens answered with a descriptor
};

}  // namespace hijack::modules
