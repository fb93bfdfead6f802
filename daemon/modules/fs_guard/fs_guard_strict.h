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
  std::atomic<uint64_t> refused{0};     // mount, namespace and file-handle calls refused
  std::atomic<uint64_t> performed{0};   // strict-mode links and renames made by the supervisor
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

// Resolution errors that the kernel would return to the guest for the same walk.
inline bool IsGuestVisible(int err) {
  return err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG;
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
