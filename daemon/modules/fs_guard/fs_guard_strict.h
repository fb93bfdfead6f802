// fs_guard's strict mode: the supervisor performs the guest's open itself and answers with the
// descriptor (Decision::InjectFd), so that no path component swapped by another guest thread
// between the check and the open can take effect.
//
//   FsGuardCounters counters;
//   Decision d = OpenStrict(ev, mem, open_args, {rules, beneath, EACCES, counters});
//
// The walk is GuestPathResolver's (openat2 with RESOLVE_NO_MAGICLINKS, RESOLVE_BENEATH under
// `beneath`); the file is re-opened through the inode the walk found, or created in the
// directory it found with the guest's fs uid/gid and umask (GuestCredentials, from
// /proc/TID/status). This is emulation, not a rule: it opens and creates files and switches the
// calling thread's fs credentials for the duration (setfsuid(2)). Called on the thread that
// decides the call; the counters are atomics shared with the module.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "daemon/modules/fs_guard/fs_guard_rules.h"
#include "daemon/modules/fs_guard/guest_path.h"
#include "daemon/syscalls/syscall_args.h"
#include "hijack/decision.h"
#include "hijack/guest_memory.h"
#include "hijack/syscall_event.h"

namespace hijack::modules {

struct FsGuardCounters {
  std::atomic<uint64_t> allowed{0};
  std::atomic<uint64_t> denied{0};
  std::atomic<uint64_t> unresolved{0};  // denied because the path could not be evaluated
  std::atomic<uint64_t> injected{0};    // strict-mode opens answered with a descriptor
  std::atomic<uint64_t> refused{0};     // mount, namespace and file-handle calls refused, and
                                        // strict mode's setxattrat, removexattrat, file_setattr
  std::atomic<uint64_t> performed{0};   // strict-mode calls made by the supervisor (links,
                                        // renames, names, truncate, metadata changes)
};

struct StrictOpenContext {
  const FsRules& rules;
  const std::optional<std::string>& beneath;
  int err;  // the errno of denied calls and of failures that are not the guest's own
  FsGuardCounters& counters;
};

// Performs the open `open` describes for the calling guest thread and decides on the path of
// what it opened. Fails closed: a path that cannot be read or resolved, credentials that cannot
// be read, or a call no longer pending answer `ctx.err` (ENOENT, ENOTDIR, ENAMETOOLONG and EFAULT
// as the kernel would).
Decision OpenStrict(const SyscallEvent& ev, GuestMemory& mem, const syscalls::OpenArgs& open,
                    const StrictOpenContext& ctx);

// Strict-mode links and renames: the supervisor makes the call itself, on the names it judged,
// so that a guest thread rewriting the path buffers after they were read changes nothing. The
// caller resolved both names under GuestCredentials::AssumeWithCapabilities() (still held: the
// kernel checks the guest's fs ids, groups and capabilities), the new name and a rename's old
// name with ResolveOptions::parent (a held parent directory and the final component), a link's
// old name as the object itself (followed or not, as the guest asked). The answer is the
// kernel's: Return(0), or Fail with its errno.
//
// linkat(2) of the held object through /proc/self/fd/N with AT_SYMLINK_FOLLOW links that very
// inode (a symlink's own inode when the guest did not ask to follow), into the held directory.
Decision LinkStrict(const ResolvedPath& from, const ResolvedPath& to, FsGuardCounters& counters);
// renameat2(2) of the final components in their held directories, with the guest's flags
// (RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT: the kernel judges them and the
// capability RENAME_WHITEOUT needs).
Decision RenameStrict(const ResolvedPath& from, const ResolvedPath& to, unsigned flags,
                      FsGuardCounters& counters);

// Strict-mode calls that make or remove one name: unlink, unlinkat, rmdir, mkdir, mkdirat,
// mknod, mknodat, symlink, symlinkat. The supervisor makes the call itself in the directory it
// held and judged, with the final component it judged, as LinkStrict does; the caller resolved
// the name with ResolveOptions::parent under GuestCredentials::AssumeWithCapabilities() (still
// held). The answer is the kernel's: Return(0), or Fail with its errno.
struct NameCall {
  enum class Op { kUnlink, kMkdir, kMknod, kSymlink };
  Op op = Op::kUnlink;
  int unlink_flags = 0;  // unlinkat(2): 0 or AT_REMOVEDIR (rmdir)
  mode_t mode = 0;       // mkdir(2), mknod(2): the guest's mode, before its umask
  dev_t dev = 0;         // mknod(2)
  std::string target;    // symlink(2): the link's text, read once (data, not a path walked)
  mode_t umask = 022;    // the guest thread's umask (GuestCredentials::umask)
};
// unlinkat(2), mkdirat(2), mknodat(2) or symlinkat(2) on `name.parent` and `name.name`. A
// creation runs under the guest's umask: the calling thread gets a file-system context of its
// own (unshare(CLONE_FS), once per thread: umask(2) is per fs_struct, which the supervisor's
// threads otherwise share) and takes the guest's umask for the call, so the kernel applies it,
// or a directory's default ACL instead of it (acl(5)), exactly as for the guest.
Decision NameStrict(const ResolvedPath& name, const NameCall& call, FsGuardCounters& counters);

// truncate(2) of the object the walk held (`file.fd`, O_PATH, followed as truncate follows):
// re-opened for writing through /proc/self/fd/N, so the kernel checks write permission,
// append-only, immutable and ETXTBSY on that very inode, then ftruncate(2). A directory answers
// EISDIR and any other non-regular file EINVAL, as truncate(2) does.
Decision TruncateStrict(const ResolvedPath& file, int64_t length, FsGuardCounters& counters);

// Strict-mode changes of one file's metadata: chmod, fchmodat, fchmodat2, chown, lchown,
// fchownat, utime, utimes, futimesat, utimensat, setxattr, lsetxattr, removexattr,
// lremovexattr. The caller read every argument the kernel reads before its walk (times, the
// attribute's name and value) and resolved the name to the object itself (`file.fd`, O_PATH,
// the final symlink followed or not as the call does), under
// GuestCredentials::AssumeWithCapabilities() (still held). The change is made on that very
// object: fchownat(2) and utimensat(2) with AT_EMPTY_PATH on the held descriptor, chmod(2),
// setxattr(2) and removexattr(2) through /proc/self/fd/N (a magic link, which reaches the held
// object itself: a symlink's own inode for the l* calls and AT_SYMLINK_NOFOLLOW). The kernel
// checks ownership, CAP_FOWNER, CAP_CHOWN, CAP_FSETID and the xattr namespaces' capabilities
// against the guest's; the answer is its result: Return(0), or Fail with its errno.
struct AttrCall {
  enum class Op { kChmod, kChown, kUtimes, kSetxattr, kRemovexattr };
  Op op = Op::kChmod;
  mode_t mode = 0;                            // chmod
  uid_t uid = static_cast<uid_t>(-1);         // chown: -1 keeps the owner
  gid_t gid = static_cast<gid_t>(-1);         // chown: -1 keeps the group
  std::optional<std::array<timespec, 2>> times;  // utimes: nullopt sets both to now
  std::string name;                           // setxattr, removexattr
  std::string value;                          // setxattr: the bytes read, any of them NUL
  int xattr_flags = 0;                        // setxattr: XATTR_CREATE, XATTR_REPLACE
};
Decision AttrStrict(const ResolvedPath& file, const AttrCall& call, FsGuardCounters& counters);

// Resolution errors that the kernel would return to the guest for the same walk (EBADF: a
// dirfd the guest does not hold, GuestPathResolver's answer when /proc/TID/fd/N is missing).
inline bool IsGuestVisible(int err) {
  return err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG || err == EBADF;
}

// The answer to a call whose path the kernel itself would not resolve (`err` IsGuestVisible):
// the kernel's own errno, marked so that it is not counted as a denial of the policy
// (DenialReason::would_fail).
inline Decision AsTheKernelWould(int err) {
  DenialReason reason;
  reason.rule = "the path does not resolve for the guest";
  reason.would_fail = err;
  return Decision::Fail(err).Because(std::move(reason));
}

}  // namespace hijack::modules
