// fs_guard: allow or deny file-system calls by the resolved path they act on.
//
//   {"module": "fs_guard", "mode": "strict", "errno": "EACCES",
//    "rules": [{"deny": ["/etc/shadow", "/root/**"]},
//              {"allow": ["/tmp/**"], "access": ["create", "write", "unlink"]}],
//    "default": "allow"}
//
// Each rule has `allow` or `deny` (a list of PathPatterns) and optionally `access`, the kinds of
// access it covers: read, write, create, exec, unlink, attr (default: all; attr is a change of a
// file's mode, owner, times or extended attributes). Rules are tried in order;
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
//    swap can take effect. link/linkat/rename/renameat/renameat2, unlink/unlinkat/rmdir,
//    mkdir/mkdirat, mknod/mknodat, symlink/symlinkat and truncate are made by the supervisor on
//    the names it read and judged (held parent directories, the guest's fs ids, groups, umask
//    and at most its capabilities) and answered with the kernel's result. Needs the notify
//    backend. O_PATH opens are checked and made by the kernel (ADDFD cannot pass an O_PATH
//    file); exec is checked as in check mode (exec_guard judges the loaded image). Changes of
//    metadata (the "attr" kind: chmod, fchmodat, fchmodat2, chown, lchown, fchownat, utime,
//    utimes, futimesat, utimensat, setxattr, lsetxattr, removexattr, lremovexattr by name) are
//    made by the supervisor on the object the walk held (AttrStrict); setxattrat, removexattrat
//    and file_setattr fail with ENOSYS. In check mode they are judged by the path and race.
//    Reading metadata (stat, access, readlink, getxattr, listxattr) is judged by no rule kind,
//    nor are the descriptor forms (fchmod, fchown, futimens, fsetxattr), whose descriptor was
//    judged when it was opened for reading or writing.
// Names that move or multiply: a hard link (link, linkat) is judged by its source: it is denied
// when the old name is denied a kind of access that the new name would allow. A rename is judged
// by what it moves: denied when either name is, or is an ancestor of, a path some rule may deny
// (FsRules::SubtreeMayBeDenied), on top of unlink of the old name and create of the new one. A
// symlink is judged where it is used: every walk follows it to its target.
//
// Changes of the file-system view, refused with EPERM while fs_guard enforces, since each
// reaches files under names no rule speaks of (a bind mount, a detached tree that reads back as
// "/", a chroot that strips the root): mount, umount2, pivot_root, chroot, open_tree,
// move_mount, fsopen, fsconfig, fsmount, fspick, mount_setattr; unshare and clone with
// CLONE_NEWNS or CLONE_NEWUSER; setns into a mount or user namespace (or of any type); clone3
// fails with ENOSYS (its flags are in guest memory, which another thread may change after the
// check; glibc then falls back to clone, whose flags are in a register). "mounts": "allow"
// turns this off. open_by_handle_at and name_to_handle_at reach a file by inode, not by name:
// refused with EPERM unless "handles": "allow".
//
// Fail closed: when a path the rules could deny cannot be resolved, the call fails (with the
// kernel's own ENOENT/ENOTDIR when a directory on the way is missing, else with `errno`).
//
// The module is three parts: the rules (fs_guard_rules.h, pure), the strict-mode opener
// (fs_guard_strict.h, which opens files), and the config parser (fs_guard_config.cc); the
// arguments come from the layout table (daemon/syscalls/syscall_args.h).
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/modules/fs_guard/fs_guard_rules.h"
#include "daemon/modules/fs_guard/fs_guard_strict.h"
#include "daemon/modules/fs_guard/guest_path.h"
#include "daemon/policy/module_registry.h"

namespace hijack::modules {

class GuestCredentials;  // guest_credentials.h

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
    bool refuse_mounts = true;   // "mounts": "refuse"
    bool refuse_handles = true;  // "handles": "refuse"
  };

  explicit FsGuardModule(Config config);
  static policy::ModuleInfo Info();

  std::string_view Name() const override { return "fs_guard"; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return true; }
  bool NeedsFdInjection() const override { return mode_ == Mode::kStrict; }
  // Strict opens walk, open and create files as the guest, strict links and renames make the
  // call (fs_guard_strict.h): on the decision pool. Every other call is a rule lookup.
  bool MayBlock(int nr) const override;
  std::optional<Decision> Decide(const SyscallEvent& ev, GuestMemory& mem) override;
  nlohmann::json Stats() const override;
  // fs_guard_floor.cc: the allowed trees of a default-deny (or `beneath`) policy.
  KernelFloor Floor() const override;

  // Whether `path` may be accessed with every kind in `access` (pure; for tests).
  bool Allows(const std::string& path, uint8_t access) const { return rules_.Allows(path, access); }
  // Why the rules deny `path` an access in `access` (FsRules::Explain); nullopt when they allow.
  std::optional<DenialReason> Judge(const std::string& path, uint8_t access) const {
    const FsRules::Verdict v = rules_.Judge(path, access);
    if (v.allowed) {
      return std::nullopt;
    }
    return rules_.Explain(path, v, Name());
  }

 private:
  // Check mode: resolves `path` as the kernel would and asks the rules. `open` says the call is
  // an open, whose O_CREAT creates only when the name does not exist yet.
  std::optional<Decision> Check(const SyscallEvent& ev, GuestMemory& mem,
                                const syscalls::PathArg& path, bool open);
  // Resolves `arg` as Check does; a path that cannot be resolved is the decision to answer.
  // `with_parent`: ResolveOptions::parent (the final component is not followed).
  std::expected<ResolvedPath, Decision> ResolveArg(const SyscallEvent& ev, GuestMemory& mem,
                                                   const syscalls::PathArg& arg,
                                                   bool with_parent = false);
  // Strict mode: resolves `arg` to the object itself (ResolveArg, held as `fd`) and judges it
  // for `access`; a denial, or the kernel's ENOENT for a missing object, is the decision to
  // answer.
  std::expected<ResolvedPath, Decision> HoldExisting(const SyscallEvent& ev, GuestMemory& mem,
                                                     const syscalls::PathArg& arg,
                                                     uint8_t access);
  // The two names of a link or a rename, resolved in order (old, new), each with its parent
  // when asked; anything but two path arguments is denied.
  std::expected<std::pair<ResolvedPath, ResolvedPath>, Decision> ResolveBoth(
      const SyscallEvent& ev, GuestMemory& mem, const syscalls::PathArgList& args,
      bool old_parent, bool new_parent);
  // link/linkat: the new name must not reach, with a kind of access, what the old name is
  // denied for that kind.
  std::optional<Decision> CheckLink(const SyscallEvent& ev, GuestMemory& mem,
                                    const syscalls::PathArgList& args);
  // rename/renameat/renameat2: neither name may be, or lie above, a path a rule may deny.
  std::optional<Decision> CheckRename(const SyscallEvent& ev, GuestMemory& mem,
                                      const syscalls::PathArgList& args);
  // The rules of CheckLink and CheckRename on names already resolved (pure).
  std::optional<Decision> JudgeLink(const ResolvedPath& from, const ResolvedPath& to);
  std::optional<Decision> JudgeRename(const ResolvedPath& from, const ResolvedPath& to);
  // Strict mode: reads and judges both names once, then makes the link or rename itself as the
  // guest (LinkStrict, RenameStrict) and answers with the kernel's result.
  Decision LinkOrRenameStrict(const SyscallEvent& ev, GuestMemory& mem,
                              const syscalls::PathArgList& args, bool link);
  // Strict mode: unlink, unlinkat, rmdir, mkdir, mkdirat, mknod, mknodat, symlink, symlinkat:
  // reads the name once, holds its parent, judges it and makes the call itself (NameStrict).
  std::optional<Decision> NameStrictCall(const SyscallEvent& ev, GuestMemory& mem,
                                         const syscalls::PathArgList& args);
  // Strict mode: truncate on the object the walk held (TruncateStrict).
  std::optional<Decision> TruncateStrictCall(const SyscallEvent& ev, GuestMemory& mem,
                                             const syscalls::PathArgList& args);
  // Strict mode: chmod, chown, utimes, setxattr and their relatives on the object the walk
  // held (AttrStrict); setxattrat, removexattrat and file_setattr refused with ENOSYS.
  std::optional<Decision> AttrStrictCall(const SyscallEvent& ev, GuestMemory& mem,
                                         const syscalls::PathArgList& args);
  // The guest thread's fs ids, groups and at most its capabilities, taken by the calling
  // thread for a strict-mode call; the decision to answer when they cannot be taken.
  std::expected<GuestCredentials, Decision> AssumeGuest(const SyscallEvent& ev, GuestMemory& mem);
  // Mount, namespace, re-rooting and file-handle calls; nullopt for every other call.
  std::optional<Decision> CheckViewChange(const SyscallEvent& ev);
  // Which calls the module's mode makes race-free, for the module-only rules of Floor() and the
  // caveat of Stats() (`hijackd check`, `hijackctl show`).
  std::string RaceNote() const;
  Decision Deny();
  Decision Refuse(int err);

  const Mode mode_;
  const int err_;
  const std::optional<std::string> beneath_;
  const FsRules rules_;
  const bool refuse_mounts_;
  const bool refuse_handles_;
  SyscallSet syscalls_;
  FsGuardCounters counters_;
};

}  // namespace hijack::modules
