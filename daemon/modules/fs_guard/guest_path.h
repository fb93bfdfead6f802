// GuestPath: resolves a path argument of a guest's call the way the kernel would for that guest:
// relative to the calling thread's cwd or to one of its descriptors, with "..", symlinks and
// absolute symlink targets taken in the guest's root (/proc/TID/root), not the supervisor's.
//
//   GuestPathResolver r(ev, mem);        // the caller of `ev`; `mem` re-validates the call
//   Result<ResolvedPath> p = r.Resolve(AT_FDCWD, "../etc/passwd", {.follow_last = true});
//   if (p) Decide(p->path);              // "/etc/passwd" as the guest sees it
//
// The supervisor walks the path with openat2(2) (O_PATH, RESOLVE_NO_MAGICLINKS, and
// RESOLVE_IN_ROOT when the guest's root is not the supervisor's), then asks the kernel where it
// ended (/proc/self/fd/N), so the answer is the kernel's, at the moment of the walk. A guest
// thread may change the file system afterwards: callers that must not race open the result
// itself (fs_guard strict mode). "/proc/self", "/proc/thread-self", "/dev/fd", "/dev/stdin",
// "/dev/stdout" and "/dev/stderr" at the start of a path are rewritten to the guest's procfs
// entries; a path that then names one of the guest's own descriptors (/proc/PID/fd/N) resolves to
// the object behind it (a file's path, or "pipe:[1234]" for objects without one). Other procfs
// magic links fail with ELOOP. A path read back from a descriptor the walk did not reach from
// the guest's root is confirmed by walking it again (GuestPathOf): a file that has no name any
// more, or a name from a detached tree, fails to resolve (ESTALE) instead of matching no rule.
//
// The caller is named by numbers (ev.pid, ev.tid), which the kernel gives to a new task once the
// caller has ended. Every successful Resolve() therefore asks `caller.StillPending()` after its
// last lookup: the caller was alive throughout, so each /proc/PID or /proc/TID it walked was the
// caller's, never a process that got the number later (daemon/backend/notify/caller_identity.h
// has the argument). When the call is gone Resolve() fails with ESRCH and nothing it found is
// handed out.
//
// Used on the thread that decides the call (a decision-pool worker for strict opens); each
// resolver owns the descriptors it opened.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "hijack/guest_memory.h"
#include "hijack/result.h"
#include "hijack/syscall_event.h"
#include "hijack/unique_fd.h"

namespace hijack::modules {

struct ResolveOptions {
  bool follow_last = true;     // follow a symlink in the final component (not for O_NOFOLLOW,
                               // unlink, rename, mkdir...)
  uint64_t extra_resolve = 0;  // RESOLVE_* added to every walk (RESOLVE_NO_XDEV...)
  std::optional<std::string> beneath;  // guest path every result must stay under (RESOLVE_BENEATH)
  bool empty_path = false;             // AT_EMPTY_PATH: an empty path names `dirfd` itself
  // Also hold the parent directory and the final component, whether the name exists or not
  // (for the supervisor's own rename or link in fs_guard strict mode). Needs follow_last =
  // false; the final component must be a plain name ("." and ".." fail with EBUSY).
  bool parent = false;
};

struct ResolvedPath {
  std::string path;  // absolute, as the guest sees it
  bool exists = false;
  UniqueFd fd;       // O_PATH descriptor of the object when it exists
  UniqueFd parent;   // O_PATH descriptor of the parent directory when it does not exist (and
                     // always under ResolveOptions::parent)
  std::string name;  // the final component when it does not exist (and always under
                     // ResolveOptions::parent, with any trailing slashes the guest gave)
};

class GuestPathResolver {
 public:
  GuestPathResolver(const SyscallEvent& ev, GuestMemory& caller)
      : pid_(ev.pid), tid_(ev.tid), caller_(caller) {}
  GuestPathResolver(const GuestPathResolver&) = delete;
  GuestPathResolver& operator=(const GuestPathResolver&) = delete;

  // Resolves `path` relative to guest descriptor `dirfd` (AT_FDCWD: the thread's cwd). Errors
  // carry the errno of the walk: ENOENT when a directory on the way is missing, ENOTDIR, ELOOP
  // (too many links or a procfs magic link), EXDEV (escaped `beneath`), EACCES (a directory the
  // supervisor may not search), ESRCH (the guest is gone, or its call no longer pending).
  Result<ResolvedPath> Resolve(int dirfd, std::string path, const ResolveOptions& options);

  // The guest path of an O_PATH descriptor the resolver opened. With `confirm` (a descriptor
  // not reached by a walk from the guest's root: a dirfd, the cwd, a /proc/PID/fd link) the
  // name is walked again from the guest's root and must lead to the same inode; a name the
  // kernel marks " (deleted)" is always confirmed. Errors: ESTALE when the name leads
  // elsewhere or nowhere (an unlinked file, a memfd, a detached tree from open_tree(2) whose
  // paths read back from "/", a mount of another namespace); EXDEV outside the guest's root.
  Result<std::string> GuestPathOf(int fd, bool confirm = false);

 private:
  Result<ResolvedPath> ResolveUnconfirmed(int dirfd, std::string path,
                                          const ResolveOptions& options);
  // ResolveOptions::parent: `path` (relative to `start`, walked with `resolve`) split into its
  // held parent directory and final component.
  Result<ResolvedPath> ResolveWithParent(int start, const std::string& path, uint64_t resolve,
                                         bool confirm);
  Result<void> OpenRoot();
  Result<void> ConfirmName(int fd, const std::string& guest_path);
  bool IsOwnFdLink(const std::string& path) const;

  pid_t pid_;
  pid_t tid_;
  GuestMemory& caller_;
  UniqueFd root_;             // /proc/TID/root
  bool root_is_ours_ = true;  // the guest shares the supervisor's root
  std::string root_prefix_;   // the guest's root as the supervisor sees it ("" when shared)
};

// The path of one of the supervisor's descriptors (readlink /proc/self/fd/N).
Result<std::string> FdPath(int fd);

}  // namespace hijack::modules
