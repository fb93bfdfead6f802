#include "daemon/modules/fs_guard/fs_guard_module.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/time.h>
#include <sys/xattr.h>

#include <algorithm>
#include <array>
#include <span>

#include <fmt/format.h>

#include "daemon/modules/fs_guard/guest_credentials.h"
#include "daemon/syscalls/syscall_table.h"

namespace hijack::modules {
namespace {

// The calls that change which file a name reaches (mount_namespaces(7), chroot(2),
// open_tree(2) and the new mount API, pivot_root(2)), refused outright under "mounts": "refuse".
constexpr std::array kMountCalls = {
    SCMP_SYS(mount),     SCMP_SYS(umount2),    SCMP_SYS(pivot_root), SCMP_SYS(chroot),
    SCMP_SYS(open_tree), SCMP_SYS(move_mount), SCMP_SYS(fsopen),     SCMP_SYS(fsconfig),
    SCMP_SYS(fsmount),   SCMP_SYS(fspick),     SCMP_SYS(mount_setattr),
};
// Calls that may enter a new mount or user namespace (in which the guest holds CAP_SYS_ADMIN and
// may mount): judged by their CLONE_* flags.
constexpr std::array kNamespaceCalls = {SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(unshare),
                                        SCMP_SYS(setns)};
// Files opened by inode (open_by_handle_at(2)): no name for a rule to match.
constexpr std::array kHandleCalls = {SCMP_SYS(open_by_handle_at), SCMP_SYS(name_to_handle_at)};
// Calls whose names move or multiply files: judged whatever kinds the rules deny.
constexpr std::array kLinkCalls = {SCMP_SYS(link), SCMP_SYS(linkat)};
constexpr std::array kRenameCalls = {SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2)};
// What `hijackd check`, `hijackctl show` and Stats() say of a strict fs_guard.
constexpr std::string_view kStrictRaceFree =
    "strict mode is race-free for open, openat, openat2, creat (not with O_PATH), link, "
    "linkat, rename, renameat, renameat2, unlink, unlinkat, rmdir, mkdir, mkdirat, mknod, "
    "mknodat, symlink, symlinkat, truncate, chmod, fchmodat, fchmodat2, chown, lchown, "
    "fchownat, utime, utimes, futimesat, utimensat, setxattr, lsetxattr, removexattr and "
    "lremovexattr, which the supervisor makes itself (setxattrat, removexattrat and "
    "file_setattr are refused with ENOSYS); O_PATH opens and exec are checked and race as in "
    "check mode";
// Calls that change one file's metadata by its name (syscall_args.h's "attr" access), which
// strict mode makes itself (AttrStrict); fchmodat2 by number, which libseccomp 2.5.4 does not
// know.
constexpr std::array kAttrCalls = {
    SCMP_SYS(chmod),     SCMP_SYS(fchmodat),    SCMP_SYS(chown),        SCMP_SYS(lchown),
    SCMP_SYS(fchownat),  SCMP_SYS(utime),       SCMP_SYS(utimes),       SCMP_SYS(futimesat),
    SCMP_SYS(utimensat), SCMP_SYS(setxattr),    SCMP_SYS(lsetxattr),    SCMP_SYS(removexattr),
    SCMP_SYS(lremovexattr), syscalls::kNrFchmodat2};
// The *at xattr calls and file_setattr (Linux 6.13, 6.17) pass their arguments in structures
// the supervisor would have to re-read, and glibc does not call them: strict mode refuses them
// with ENOSYS, so that a caller falls back to the calls above, which it makes race-free.
constexpr std::array kAttrCallsRefusedInStrict = {
    syscalls::kNrSetxattrat, syscalls::kNrRemovexattrat, syscalls::kNrFileSetattr};
// Calls that make or remove one name, which strict mode makes itself (NameStrict).
constexpr std::array kNameCalls = {SCMP_SYS(unlink), SCMP_SYS(unlinkat),  SCMP_SYS(rmdir),
                                   SCMP_SYS(mkdir),  SCMP_SYS(mkdirat),   SCMP_SYS(mknod),
                                   SCMP_SYS(mknodat), SCMP_SYS(symlink),  SCMP_SYS(symlinkat)};

template <size_t N>
bool In(const std::array<int, N>& calls, int nr) {
  return std::find(calls.begin(), calls.end(), nr) != calls.end();
}

SyscallSet Intercepted(const FsRules& rules, bool refuse_mounts, bool refuse_handles) {
  SyscallSet set = syscalls::CallsWithAccess(rules.deniable());
  if (rules.deniable() == 0) {
    return set;
  }
  for (int nr : kLinkCalls) {
    set.Add(nr);
  }
  for (int nr : kRenameCalls) {
    set.Add(nr);
  }
  if (refuse_mounts) {
    for (int nr : kMountCalls) {
      set.Add(nr);
    }
    for (int nr : kNamespaceCalls) {
      set.Add(nr);
    }
  }
  if (refuse_handles) {
    for (int nr : kHandleCalls) {
      set.Add(nr);
    }
  }
  return set;
}

// What the kernel answers a call that needs a name to make, remove or move when the final
// component of `path` is "/", "." or "..": filename_create() EEXIST (link, mkdir, mknod,
// symlink), rename EBUSY, unlink EISDIR, rmdir EBUSY for the root, EINVAL for ".", ENOTEMPTY
// for ".." (rename(2), unlink(2), rmdir(2)).
int NotANameErrno(const SyscallEvent& ev, const std::string& path) {
  const size_t end = path.find_last_not_of('/');
  const size_t slash = end == std::string::npos ? 0 : path.rfind('/', end);
  const std::string last =
      end == std::string::npos
          ? ""
          : path.substr(slash == std::string::npos ? 0 : slash + 1,
                        slash == std::string::npos ? end + 1 : end - slash);
  const bool rmdir = ev.nr == SCMP_SYS(rmdir) ||
                     (ev.nr == SCMP_SYS(unlinkat) && (ev.args[2] & AT_REMOVEDIR) != 0);
  if (rmdir) {
    return last.empty() ? EBUSY : last == "." ? EINVAL : ENOTEMPTY;
  }
  if (ev.nr == SCMP_SYS(unlink) || ev.nr == SCMP_SYS(unlinkat)) {
    return EISDIR;
  }
  if (In(kRenameCalls, ev.nr)) {
    return EBUSY;
  }
  return EEXIST;
}

}  // namespace

FsGuardModule::FsGuardModule(Config config)
    : mode_(config.mode),
      err_(config.err),
      beneath_(std::move(config.beneath)),
      rules_(std::move(config.rules), config.default_allow, beneath_.has_value()),
      refuse_mounts_(config.refuse_mounts),
      refuse_handles_(config.refuse_handles),
      syscalls_(Intercepted(rules_, refuse_mounts_, refuse_handles_)) {}

Decision FsGuardModule::Deny() {
  counters_.denied.fetch_add(1, std::memory_order_relaxed);
  return Decision::Fail(err_);
}

Decision FsGuardModule::Refuse(int err) {
  counters_.refused.fetch_add(1, std::memory_order_relaxed);
  return Decision::Fail(err);
}

std::optional<Decision> FsGuardModule::CheckViewChange(const SyscallEvent& ev) {
  if (rules_.deniable() == 0) {
    return std::nullopt;
  }
  if (refuse_handles_ && In(kHandleCalls, ev.nr)) {
    return Refuse(EPERM);
  }
  if (!refuse_mounts_) {
    return std::nullopt;
  }
  if (In(kMountCalls, ev.nr)) {
    return Refuse(EPERM);
  }
  if (ev.nr == SCMP_SYS(clone3)) {
    // struct clone_args is in guest memory: whatever flags were read, another thread could
    // change them before the kernel reads them. ENOSYS, as a kernel before 5.3 answers, sends
    // glibc back to clone(2), whose flags are in a register.
    return Refuse(ENOSYS);
  }
  if (!In(kNamespaceCalls, ev.nr)) {
    return std::nullopt;
  }
  const std::optional<uint64_t> flags = syscalls::CloneFlagsArg(ev);
  if (!flags) {
    return Refuse(EPERM);  // not a native call: its flags are unknown
  }
  constexpr uint64_t kNewView = CLONE_NEWNS | CLONE_NEWUSER;
  if (ev.nr == SCMP_SYS(setns)) {
    // setns(2): nstype 0 joins whatever namespace the descriptor is; a pidfd takes a set.
    if (static_cast<uint32_t>(*flags) == 0 || (*flags & kNewView) != 0) {
      return Refuse(EPERM);
    }
    return std::nullopt;
  }
  if ((*flags & kNewView) != 0) {
    return Refuse(EPERM);
  }
  return std::nullopt;
}

std::expected<ResolvedPath, Decision> FsGuardModule::ResolveArg(const SyscallEvent& ev,
                                                                GuestMemory& mem,
                                                                const syscalls::PathArg& arg,
                                                                bool with_parent) {
  auto path = mem.ReadString(arg.addr, PATH_MAX);
  if (!path) {
    counters_.unresolved.fetch_add(1, std::memory_order_relaxed);
    // getname(): EFAULT for a bad address, ENAMETOOLONG for a name of PATH_MAX bytes or more.
    const int code = path.error().code;
    return std::unexpected(
        code == ENAMETOOLONG ? AsTheKernelWould(ENAMETOOLONG)
                             : Decision::Fail(code == EFAULT ? EFAULT : err_));
  }
  GuestPathResolver resolver(ev, mem);
  ResolveOptions options;
  options.follow_last = arg.follow;
  options.beneath = beneath_;
  options.empty_path = arg.empty_path;
  options.parent = with_parent;
  if (with_parent) {
    options.follow_last = false;
  }
  auto resolved = resolver.Resolve(arg.dirfd, *path, options);
  if (!resolved && with_parent && resolved.error().code == EBUSY) {
    // A final "/", "." or "..": each call has its own answer.
    return std::unexpected(AsTheKernelWould(NotANameErrno(ev, *path)));
  }
  if (!resolved) {
    counters_.unresolved.fetch_add(1, std::memory_order_relaxed);
    return std::unexpected(
        IsGuestVisible(resolved.error().code) ? AsTheKernelWould(resolved.error().code)
                                              : Decision::Fail(err_));
  }
  return std::move(*resolved);
}

std::expected<ResolvedPath, Decision> FsGuardModule::HoldExisting(const SyscallEvent& ev,
                                                                  GuestMemory& mem,
                                                                  const syscalls::PathArg& arg,
                                                                  uint8_t access) {
  auto file = ResolveArg(ev, mem, arg);
  if (!file) {
    return std::unexpected(file.error());
  }
  if (const FsRules::Verdict v = rules_.Judge(file->path, access); !v.allowed) {
    DenialReason reason = rules_.Explain(file->path, v, Name());
    if (!file->exists) {
      reason.would_fail = ENOENT;
    }
    return std::unexpected(Deny().Because(std::move(reason)));
  }
  if (!file->exists) {
    return std::unexpected(AsTheKernelWould(ENOENT));
  }
  return std::move(*file);
}

std::expected<std::pair<ResolvedPath, ResolvedPath>, Decision> FsGuardModule::ResolveBoth(
    const SyscallEvent& ev, GuestMemory& mem, const syscalls::PathArgList& args,
    bool old_parent, bool new_parent) {
  if (args.size() != 2) {
    return std::unexpected(Deny());
  }
  auto from = ResolveArg(ev, mem, args[0], old_parent);
  if (!from) {
    return std::unexpected(from.error());
  }
  auto to = ResolveArg(ev, mem, args[1], new_parent);
  if (!to) {
    return std::unexpected(to.error());
  }
  return std::pair{std::move(*from), std::move(*to)};
}

std::optional<Decision> FsGuardModule::CheckLink(const SyscallEvent& ev, GuestMemory& mem,
                                                 const syscalls::PathArgList& args) {
  auto both = ResolveBoth(ev, mem, args, false, false);
  if (!both) {
    return both.error();
  }
  return JudgeLink(both->first, both->second);
}

std::optional<Decision> FsGuardModule::JudgeLink(const ResolvedPath& from, const ResolvedPath& to) {
  if (FsRules::Verdict v = rules_.Judge(to.path, kAccessCreate); !v.allowed) {
    return Deny().Because(rules_.Explain(to.path, v, Name()));
  }
  for (uint8_t kind = 1; kind <= kAccessAttr; kind = static_cast<uint8_t>(kind << 1)) {
    const FsRules::Verdict v = rules_.Judge(from.path, kind);
    if (!v.allowed && rules_.Allows(to.path, kind)) {
      DenialReason reason = rules_.Explain(from.path, v, Name());
      reason.rule += fmt::format(", which the new name \"{}\" would allow", to.path);
      return Deny().Because(std::move(reason));
    }
  }
  return std::nullopt;
}

std::optional<Decision> FsGuardModule::CheckRename(const SyscallEvent& ev, GuestMemory& mem,
                                                   const syscalls::PathArgList& args) {
  auto both = ResolveBoth(ev, mem, args, false, false);
  if (!both) {
    return both.error();
  }
  return JudgeRename(both->first, both->second);
}

std::optional<Decision> FsGuardModule::JudgeRename(const ResolvedPath& from,
                                                   const ResolvedPath& to) {
  // RENAME_EXCHANGE moves both ways; the checks below are symmetric enough to cover it.
  if (FsRules::Verdict v = rules_.Judge(from.path, kAccessUnlink); !v.allowed) {
    return Deny().Because(rules_.Explain(from.path, v, Name()));
  }
  if (FsRules::Verdict v = rules_.Judge(to.path, kAccessCreate); !v.allowed) {
    return Deny().Because(rules_.Explain(to.path, v, Name()));
  }
  for (const ResolvedPath* name : {&from, &to}) {
    if (rules_.SubtreeMayBeDenied(name->path)) {
      DenialReason reason;
      reason.rule = "a rename may not move a path that a rule may deny, or one above it";
      reason.path = name->path;
      return Deny().Because(std::move(reason));
    }
  }
  return std::nullopt;
}

std::expected<GuestCredentials, Decision> FsGuardModule::AssumeGuest(const SyscallEvent& ev,
                                                                     GuestMemory& mem) {
  // Every lookup the caller makes next, and the call itself, is checked by the kernel against
  // the guest thread's fs ids, groups and capabilities, never the supervisor's.
  auto creds = GuestCredentials::AssumeWithCapabilities(ev.tid);
  if (!creds || !mem.StillPending()) {
    counters_.unresolved.fetch_add(1, std::memory_order_relaxed);
    DenialReason reason;
    reason.rule = fmt::format("strict mode makes the {} as the guest: {}",
                              syscalls::SyscallName(ev.nr),
                              creds ? "the call is no longer pending" : creds.error().message);
    return std::unexpected(Decision::Fail(err_).Because(std::move(reason)));
  }
  return std::move(*creds);
}

Decision FsGuardModule::LinkOrRenameStrict(const SyscallEvent& ev, GuestMemory& mem,
                                           const syscalls::PathArgList& args, bool link) {
  auto creds = AssumeGuest(ev, mem);
  if (!creds) {
    return creds.error();
  }
  if (link && ev.nr == SCMP_SYS(linkat) &&
      (ev.args[4] & ~static_cast<uint64_t>(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) != 0) {
    return Decision::Fail(EINVAL);  // linkat(2)'s answer to an unknown flag
  }
  if (link && args.size() == 2 && args[0].empty_path && !creds->GuestHas(CAP_DAC_READ_SEARCH)) {
    // linkat(2): AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH, and without it the kernel answers
    // ENOENT (newer kernels may also admit a descriptor the caller opened with its current
    // credentials, which the supervisor cannot tell from its copy: refused, as older ones do).
    DenialReason reason;
    reason.rule =
        "strict mode links a descriptor (linkat AT_EMPTY_PATH) only for a guest holding "
        "CAP_DAC_READ_SEARCH; link /proc/self/fd/N with AT_SYMLINK_FOLLOW instead";
    reason.would_fail = ENOENT;
    return Decision::Fail(ENOENT).Because(std::move(reason));
  }
  // The names are read once, here; what the kernel acts on is what was judged: the held
  // directories and the final components read, or (a link's old name) the held object.
  auto both = ResolveBoth(ev, mem, args, /*old_parent=*/!link, /*new_parent=*/true);
  if (!both) {
    return both.error();
  }
  const auto& [from, to] = *both;
  if (auto d = link ? JudgeLink(from, to) : JudgeRename(from, to)) {
    return *d;
  }
  if (link) {
    return LinkStrict(from, to, counters_);
  }
  const unsigned flags = ev.nr == SCMP_SYS(renameat2) ? static_cast<unsigned>(ev.args[4]) : 0;
  return RenameStrict(from, to, flags, counters_);
}

std::optional<Decision> FsGuardModule::NameStrictCall(const SyscallEvent& ev, GuestMemory& mem,
                                                      const syscalls::PathArgList& args) {
  // The name the call makes or removes: symlink's second path (its first is the link's text).
  const bool symlink = ev.nr == SCMP_SYS(symlink) || ev.nr == SCMP_SYS(symlinkat);
  if (args.size() != (symlink ? 2u : 1u)) {
    return Deny();
  }
  const syscalls::PathArg& arg = args[symlink ? 1 : 0];
  const auto access = static_cast<uint8_t>(arg.access & kAccessAll);
  if (!rules_.CanDeny(access)) {
    return std::nullopt;
  }
  // The x86_64 entry points: unlinkat(dfd, name, flags), mkdirat(dfd, name, mode),
  // mknodat(dfd, name, mode, dev), mode an umode_t and dev an unsigned int.
  NameCall call;
  const int nr = ev.nr;
  if (nr == SCMP_SYS(unlinkat)) {
    call.unlink_flags = static_cast<int>(ev.args[2]);
    if ((call.unlink_flags & ~AT_REMOVEDIR) != 0) {
      return Decision::Fail(EINVAL);  // unlinkat(2), before the name is read
    }
  } else if (nr == SCMP_SYS(rmdir)) {
    call.unlink_flags = AT_REMOVEDIR;
  } else if (nr == SCMP_SYS(mkdir) || nr == SCMP_SYS(mkdirat)) {
    call.op = NameCall::Op::kMkdir;
    call.mode = static_cast<uint16_t>(ev.args[nr == SCMP_SYS(mkdir) ? 1 : 2]);
  } else if (nr == SCMP_SYS(mknod) || nr == SCMP_SYS(mknodat)) {
    call.op = NameCall::Op::kMknod;
    const size_t first = nr == SCMP_SYS(mknod) ? 1 : 2;
    call.mode = static_cast<uint16_t>(ev.args[first]);
    call.dev = static_cast<uint32_t>(ev.args[first + 1]);
  } else if (symlink) {
    call.op = NameCall::Op::kSymlink;
    // symlink(2) reads the text first; what the supervisor links is what it read here.
    auto target = mem.ReadString(args[0].addr, PATH_MAX);
    if (!target) {
      return Decision::Fail(target.error().code == ENAMETOOLONG ? ENAMETOOLONG : EFAULT);
    }
    call.target = std::move(*target);
  }
  auto creds = AssumeGuest(ev, mem);
  if (!creds) {
    return creds.error();
  }
  call.umask = creds->umask();
  // Read once: the held directory and the final component are what the kernel acts on.
  auto name = ResolveArg(ev, mem, arg, /*with_parent=*/true);
  if (!name) {
    return name.error();
  }
  if (const FsRules::Verdict v = rules_.Judge(name->path, access); !v.allowed) {
    DenialReason reason = rules_.Explain(name->path, v, Name());
    if (!name->exists && call.op == NameCall::Op::kUnlink) {
      reason.would_fail = ENOENT;
    }
    return Deny().Because(std::move(reason));
  }
  return NameStrict(*name, call, counters_);
}

std::optional<Decision> FsGuardModule::TruncateStrictCall(const SyscallEvent& ev,
                                                          GuestMemory& mem,
                                                          const syscalls::PathArgList& args) {
  if (args.size() != 1) {
    return Deny();
  }
  const auto access = static_cast<uint8_t>(args[0].access & kAccessAll);
  if (!rules_.CanDeny(access)) {
    return std::nullopt;
  }
  const auto length = static_cast<int64_t>(ev.args[1]);
  if (length < 0) {
    return Decision::Fail(EINVAL);  // truncate(2) answers before the walk
  }
  auto creds = AssumeGuest(ev, mem);
  if (!creds) {
    return creds.error();
  }
  auto file = HoldExisting(ev, mem, args[0], access);
  if (!file) {
    return file.error();
  }
  return TruncateStrict(*file, length, counters_);
}

std::optional<Decision> FsGuardModule::AttrStrictCall(const SyscallEvent& ev, GuestMemory& mem,
                                                      const syscalls::PathArgList& args) {
  if (args.size() != 1) {
    return Deny();
  }
  if (!rules_.CanDeny(kAccessAttr)) {
    return std::nullopt;
  }
  const int nr = ev.nr;
  if (In(kAttrCallsRefusedInStrict, nr)) {
    DenialReason reason;
    reason.rule = fmt::format(
        "strict mode makes metadata changes itself, and not {} (arguments in guest structures): "
        "use the call without \"at\"",
        syscalls::SyscallName(nr));
    return Refuse(ENOSYS).Because(std::move(reason));
  }
  // What the kernel reads and checks before its walk, in its order (the x86_64 entry points:
  // fchmodat(dfd, name, mode), fchmodat2(dfd, name, mode, flags), fchownat(dfd, name, uid,
  // gid, flags), utimensat(dfd, name, times, flags), setxattr(name, key, value, size, flags)).
  constexpr uint64_t kAtFlags = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH;
  auto read_exactly = [&](uint64_t addr, std::span<std::byte> out) -> bool {
    auto got = mem.Read(addr, out);
    return got && *got == out.size();
  };
  AttrCall call;
  if (nr == SCMP_SYS(chmod) || nr == SCMP_SYS(fchmodat) || nr == syscalls::kNrFchmodat2) {
    call.op = AttrCall::Op::kChmod;
    call.mode = static_cast<uint16_t>(ev.args[nr == SCMP_SYS(chmod) ? 1 : 2]);
    if (nr == syscalls::kNrFchmodat2 && (static_cast<uint32_t>(ev.args[3]) & ~kAtFlags) != 0) {
      return Decision::Fail(EINVAL);
    }
  } else if (nr == SCMP_SYS(chown) || nr == SCMP_SYS(lchown) || nr == SCMP_SYS(fchownat)) {
    call.op = AttrCall::Op::kChown;
    const size_t first = nr == SCMP_SYS(fchownat) ? 2 : 1;
    call.uid = static_cast<uid_t>(ev.args[first]);
    call.gid = static_cast<gid_t>(ev.args[first + 1]);
    if (nr == SCMP_SYS(fchownat) && (static_cast<uint32_t>(ev.args[4]) & ~kAtFlags) != 0) {
      return Decision::Fail(EINVAL);
    }
  } else if (nr == SCMP_SYS(utime)) {
    call.op = AttrCall::Op::kUtimes;
    if (ev.args[1] != 0) {
      int64_t secs[2] = {};  // struct utimbuf: actime, modtime
      if (!read_exactly(ev.args[1], std::as_writable_bytes(std::span(secs)))) {
        return Decision::Fail(EFAULT);
      }
      call.times = {{{secs[0], 0}, {secs[1], 0}}};
    }
  } else if (nr == SCMP_SYS(utimes) || nr == SCMP_SYS(futimesat)) {
    call.op = AttrCall::Op::kUtimes;
    const uint64_t addr = ev.args[nr == SCMP_SYS(utimes) ? 1 : 2];
    if (addr != 0) {
      timeval tv[2] = {};
      if (!read_exactly(addr, std::as_writable_bytes(std::span(tv)))) {
        return Decision::Fail(EFAULT);
      }
      for (const timeval& t : tv) {
        if (t.tv_usec < 0 || t.tv_usec >= 1000000) {
          return Decision::Fail(EINVAL);  // utimes(2)
        }
      }
      call.times = {{{tv[0].tv_sec, tv[0].tv_usec * 1000}, {tv[1].tv_sec, tv[1].tv_usec * 1000}}};
    }
  } else if (nr == SCMP_SYS(utimensat)) {
    call.op = AttrCall::Op::kUtimes;
    if (ev.args[2] != 0) {
      std::array<timespec, 2> ts{};
      if (!read_exactly(ev.args[2], std::as_writable_bytes(std::span(ts)))) {
        return Decision::Fail(EFAULT);
      }
      if (ts[0].tv_nsec == UTIME_OMIT && ts[1].tv_nsec == UTIME_OMIT) {
        return Decision::Return(0);  // utimensat(2): nothing to change, before the walk
      }
      for (const timespec& t : ts) {
        if (t.tv_nsec != UTIME_OMIT && t.tv_nsec != UTIME_NOW &&
            (t.tv_nsec < 0 || t.tv_nsec > 999999999)) {
          return Decision::Fail(EINVAL);
        }
      }
      call.times = ts;
    }
    if ((static_cast<uint32_t>(ev.args[3]) & ~kAtFlags) != 0) {
      return Decision::Fail(EINVAL);
    }
  } else {
    // setxattr(2), removexattr(2) and their l* forms: the name, then the value, are read
    // before the walk. A name is 1 to XATTR_NAME_MAX (255) bytes (ERANGE otherwise).
    const bool set = nr == SCMP_SYS(setxattr) || nr == SCMP_SYS(lsetxattr);
    call.op = set ? AttrCall::Op::kSetxattr : AttrCall::Op::kRemovexattr;
    if (set) {
      call.xattr_flags = static_cast<int>(ev.args[4]);
      if ((call.xattr_flags & ~(XATTR_CREATE | XATTR_REPLACE)) != 0) {
        return Decision::Fail(EINVAL);
      }
    }
    constexpr size_t kNameMax = 255;
    auto name = mem.ReadString(ev.args[1], kNameMax + 1);
    if (!name) {
      return Decision::Fail(name.error().code == ENAMETOOLONG ? ERANGE
                            : name.error().code == EFAULT     ? EFAULT
                                                              : err_);
    }
    if (name->empty() || name->size() > kNameMax) {
      return Decision::Fail(ERANGE);
    }
    call.name = std::move(*name);
    if (set) {
      constexpr uint64_t kSizeMax = 65536;  // XATTR_SIZE_MAX
      const uint64_t size = ev.args[3];
      if (size > kSizeMax) {
        return Decision::Fail(E2BIG);
      }
      call.value.resize(size);
      if (size > 0 && !read_exactly(ev.args[2], std::as_writable_bytes(std::span(call.value)))) {
        return Decision::Fail(EFAULT);
      }
    }
  }
  auto creds = AssumeGuest(ev, mem);
  if (!creds) {
    return creds.error();
  }
  if (creds->InOtherUserNamespace()) {
    // chown(2) takes ids in the caller's user namespace; the supervisor makes the call in its
    // own. ACLs and file capabilities carry ids the kernel would map from the guest's
    // namespace too (acl(5), capabilities(7)): not made for it, refused with the reason.
    if (call.op == AttrCall::Op::kChown) {
      auto uid = creds->UidToSupervisor(call.uid);
      auto gid = creds->GidToSupervisor(call.gid);
      if (!uid || !gid) {
        const Error& e = uid ? gid.error() : uid.error();
        return e.code == EINVAL ? Decision::Fail(EINVAL) : Decision::Fail(err_);
      }
      call.uid = *uid;
      call.gid = *gid;
    } else if (call.op == AttrCall::Op::kSetxattr &&
               (call.name == "system.posix_acl_access" ||
                call.name == "system.posix_acl_default" || call.name == "security.capability")) {
      DenialReason reason;
      reason.rule = fmt::format(
          "strict mode sets {} only for a guest in the supervisor's user namespace (its ids "
          "would be mapped from the guest's)",
          call.name);
      return Refuse(EPERM).Because(std::move(reason));
    }
  }
  // Read once, followed as the call follows: the held object is what the change is made on.
  auto file = HoldExisting(ev, mem, args[0], kAccessAttr);
  if (!file) {
    return file.error();
  }
  return AttrStrict(*file, call, counters_);
}

namespace {

// utimensat(2) and futimesat with a NULL name act on their descriptor (or fail with EFAULT
// for AT_FDCWD): like futimens(3), they name no file for a rule to judge.
bool NamesNoFile(const SyscallEvent& ev, const syscalls::PathArgList& args) {
  return (ev.nr == SCMP_SYS(utimensat) || ev.nr == SCMP_SYS(futimesat)) && args.size() == 1 &&
         args[0].addr == 0;
}

}  // namespace

bool FsGuardModule::MayBlock(int nr) const {
  return mode_ == Mode::kStrict &&
         (syscalls::IsOpenCall(nr) || In(kLinkCalls, nr) || In(kRenameCalls, nr) ||
          In(kNameCalls, nr) || nr == SCMP_SYS(truncate) || In(kAttrCalls, nr));
}

std::optional<Decision> FsGuardModule::Check(const SyscallEvent& ev, GuestMemory& mem,
                                             const syscalls::PathArg& arg, bool open) {
  const auto access = static_cast<uint8_t>(arg.access & kAccessAll);
  if (!rules_.CanDeny(access)) {
    return std::nullopt;
  }
  auto resolved = ResolveArg(ev, mem, arg);
  if (!resolved) {
    return resolved.error();
  }
  uint8_t needed = access;
  if (open && resolved->exists) {
    needed &= static_cast<uint8_t>(~kAccessCreate);  // O_CREAT only creates a missing name
  }
  const FsRules::Verdict verdict = rules_.Judge(resolved->path, needed);
  if (!verdict.allowed) {
    DenialReason reason = rules_.Explain(resolved->path, verdict, Name());
    if (!resolved->exists && (needed & kAccessCreate) == 0) {
      reason.would_fail = ENOENT;  // the kernel's own answer for a name that is not there
    }
    return Deny().Because(std::move(reason));
  }
  return std::nullopt;
}

std::optional<Decision> FsGuardModule::Decide(const SyscallEvent& ev, GuestMemory& mem) {
  // Opens: the access kinds come from the flags.
  Result<std::optional<syscalls::OpenArgs>> open = syscalls::OpenArgsOf(ev, mem);
  if (!open) {
    counters_.unresolved.fetch_add(1, std::memory_order_relaxed);
    const int code = open.error().code;
    return Decision::Fail(code == EINVAL || code == EFAULT ? code : err_);
  }
  if (*open) {
    syscalls::OpenArgs& o = **open;
    if (o.resolve & RESOLVE_IN_ROOT) {
      // The walk would be confined to a root the guest names; not modelled: fail closed.
      counters_.unresolved.fetch_add(1, std::memory_order_relaxed);
      return Decision::Fail(err_);
    }
    o.path.access = static_cast<uint8_t>(syscalls::OpenAccess(o.flags) |
                                         ((o.flags & O_CREAT) ? kAccessCreate : 0));
    if (!rules_.CanDeny(o.path.access)) {
      return std::nullopt;
    }
    if (o.flags & O_PATH) {
      // open(2): O_PATH keeps only O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC (openat2 refuses the
      // rest with EINVAL); the descriptor reads and writes nothing. Even in strict mode the
      // kernel makes it after the check: SECCOMP_IOCTL_NOTIF_ADDFD takes its source with
      // fget(), which refuses an O_PATH file (EBADF). What it names is judged again at each use
      // (a re-open through /proc/self/fd, a dirfd, fchdir, execveat, linkat).
      o.path.access = kAccessRead;
      o.path.follow = (o.flags & O_NOFOLLOW) == 0;
      if (!rules_.CanDeny(o.path.access)) {
        return std::nullopt;
      }
    } else if (mode_ == Mode::kStrict) {
      return OpenStrict(ev, mem, o, {rules_, beneath_, err_, counters_});
    }
    auto d = Check(ev, mem, o.path, /*open=*/true);
    if (!d) {
      counters_.allowed.fetch_add(1, std::memory_order_relaxed);
    }
    return d;
  }
  if (auto d = CheckViewChange(ev)) {
    return d;
  }
  const syscalls::PathArgList args = syscalls::PathArgs(ev);
  if (mode_ == Mode::kStrict && rules_.deniable() != 0 &&
      (In(kLinkCalls, ev.nr) || In(kRenameCalls, ev.nr))) {
    return LinkOrRenameStrict(ev, mem, args, In(kLinkCalls, ev.nr));
  }
  if (mode_ == Mode::kStrict && In(kNameCalls, ev.nr)) {
    return NameStrictCall(ev, mem, args);
  }
  if (mode_ == Mode::kStrict && ev.nr == SCMP_SYS(truncate)) {
    return TruncateStrictCall(ev, mem, args);
  }
  if (NamesNoFile(ev, args)) {
    return std::nullopt;
  }
  if (mode_ == Mode::kStrict &&
      (In(kAttrCalls, ev.nr) || In(kAttrCallsRefusedInStrict, ev.nr))) {
    return AttrStrictCall(ev, mem, args);
  }
  if (rules_.deniable() != 0 && In(kLinkCalls, ev.nr)) {
    if (auto d = CheckLink(ev, mem, args)) {
      return d;
    }
    counters_.allowed.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  if (rules_.deniable() != 0 && In(kRenameCalls, ev.nr)) {
    if (auto d = CheckRename(ev, mem, args)) {
      return d;
    }
    counters_.allowed.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  for (const syscalls::PathArg& arg : args) {
    if (auto d = Check(ev, mem, arg, /*open=*/false)) {
      return d;
    }
  }
  counters_.allowed.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

std::string FsGuardModule::RaceNote() const {
  return mode_ == Mode::kStrict
             ? std::string(kStrictRaceFree)
             : "check mode races: another guest thread can change the path after the check";
}

nlohmann::json FsGuardModule::Stats() const {
  nlohmann::json stats = {{"mode", mode_ == Mode::kStrict ? "strict" : "check"},
          {"allowed", counters_.allowed.load(std::memory_order_relaxed)},
          {"denied", counters_.denied.load(std::memory_order_relaxed)},
          {"unresolved", counters_.unresolved.load(std::memory_order_relaxed)},
          {"refused", counters_.refused.load(std::memory_order_relaxed)},
          {"mounts", refuse_mounts_ ? "refuse" : "allow"},
          {"handles", refuse_handles_ ? "refuse" : "allow"},
          {"injected", counters_.injected.load(std::memory_order_relaxed)},
          {"performed", counters_.performed.load(std::memory_order_relaxed)}};
  if (mode_ == Mode::kCheck) {
    stats["caveat"] =
        "check mode races: another guest thread can swap a path or a component between the "
        "check and the kernel's own walk; use \"mode\": \"strict\" (notify backend) for opens";
  } else {
    stats["caveat"] = std::string(kStrictRaceFree);
  }
  return stats;
}

}  // namespace hijack::modules
