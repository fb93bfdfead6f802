#include "daemon/modules/fs_guard/fs_guard_strict.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <memory>

#include "daemon/modules/fs_guard/guest_credentials.h"
#include "daemon/modules/fs_guard/guest_path.h"
#include "hijack/unique_fd.h"

namespace hijack::modules {
namespace {

// Races a strict-mode create may lose (the name appeared, or became a symlink, between the
// walk and the create) before the call fails closed.
constexpr int kStrictAttempts = 4;

// Gives the calling thread a file-system context of its own (cwd, root, umask), once, so that
// its umask(2) is no other supervisor thread's.
bool OwnFsContext() {
  thread_local bool own = false;
  if (!own && unshare(CLONE_FS) == 0) {
    own = true;
  }
  return own;
}

// Sets the calling thread's umask for the duration of one creation.
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : saved_(umask(mask)) {}
  ~ScopedUmask() { umask(saved_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t saved_;
};

Decision Performed(FsGuardCounters& counters) {
  counters.performed.fetch_add(1, std::memory_order_relaxed);
  counters.allowed.fetch_add(1, std::memory_order_relaxed);
  return Decision::Return(0);
}

}  // namespace

Decision OpenStrict(const SyscallEvent& ev, GuestMemory& mem, const syscalls::OpenArgs& open,
                    const StrictOpenContext& ctx) {
  const uint64_t flags = open.flags;
  const uint64_t mode = open.mode;
  const int dirfd = open.path.dirfd;
  const uint64_t path_addr = open.path.addr;
  FsGuardCounters& counters = ctx.counters;
  auto deny = [&](const std::string& resolved, const FsRules::Verdict& verdict) {
    counters.denied.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(ctx.err).Because(ctx.rules.Explain(resolved, verdict, "fs_guard"));
  };
  auto path = mem.ReadString(path_addr, PATH_MAX);
  if (!path) {
    counters.unresolved.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(path.error().code == EFAULT ? EFAULT : ctx.err);
  }
  auto creds = GuestCredentials::Assume(ev.tid);
  // Read from /proc/TID/status by number: the caller's only if its call is still pending.
  if (!creds || !mem.StillPending()) {
    counters.unresolved.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(ctx.err);
  }
  const bool cloexec = (flags & O_CLOEXEC) != 0;
  const bool excl_create = (flags & O_CREAT) && (flags & O_EXCL);
  GuestPathResolver resolver(ev, mem);
  for (int attempt = 0; attempt < kStrictAttempts; ++attempt) {
    ResolveOptions options;
    options.follow_last = !(flags & O_NOFOLLOW) && !excl_create;
    options.beneath = ctx.beneath;
    auto r = resolver.Resolve(dirfd, *path, options);
    if (!r) {
      counters.unresolved.fetch_add(1, std::memory_order_relaxed);
      return IsGuestVisible(r.error().code) ? AsTheKernelWould(r.error().code)
                                            : Decision::Fail(ctx.err);
    }
    if (r->exists) {
      if (excl_create) {
        return Decision::Fail(EEXIST);
      }
      if (auto v = ctx.rules.Judge(r->path, syscalls::OpenAccess(flags)); !v.allowed) {
        return deny(r->path, v);
      }
      struct stat st {};
      if (fstat(r->fd.get(), &st) != 0) {
        return Decision::Fail(ctx.err);
      }
      if ((flags & O_DIRECTORY) && !S_ISDIR(st.st_mode) && (flags & __O_TMPFILE) != __O_TMPFILE) {
        return Decision::Fail(ENOTDIR);
      }
      if (flags & O_PATH) {
        counters.injected.fetch_add(1, std::memory_order_relaxed);
        counters.allowed.fetch_add(1, std::memory_order_relaxed);
        return Decision::InjectFd(std::make_shared<const UniqueFd>(std::move(r->fd)), cloexec);
      }
      if (S_ISLNK(st.st_mode)) {
        return Decision::Fail(ELOOP);  // O_NOFOLLOW on a symlink
      }
      // Re-open the very inode the walk found (not the name, which may have changed since),
      // with the guest's flags and credentials. A FIFO is opened without blocking the loop.
      uint64_t reopen =
          (flags & ~static_cast<uint64_t>(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC | O_NOCTTY;
      const bool fifo = S_ISFIFO(st.st_mode);
      if (fifo) {
        reopen |= O_NONBLOCK;
      }
      std::string self = fmt::format("/proc/self/fd/{}", r->fd.get());
      UniqueFd fd(::open(self.c_str(), static_cast<int>(reopen)));
      if (!fd.valid()) {
        return Decision::Fail(errno);
      }
      if (fifo && !(flags & O_NONBLOCK)) {
        fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
      }
      counters.injected.fetch_add(1, std::memory_order_relaxed);
      counters.allowed.fetch_add(1, std::memory_order_relaxed);
      return Decision::InjectFd(std::make_shared<const UniqueFd>(std::move(fd)), cloexec);
    }
    if (!(flags & O_CREAT)) {
      return AsTheKernelWould(ENOENT);
    }
    if (auto v = ctx.rules.Judge(
            r->path, static_cast<uint8_t>(syscalls::OpenAccess(flags) | kAccessCreate));
        !v.allowed) {
      return deny(r->path, v);
    }
    // Create in the directory the walk found, refusing any symlink: a name that appeared or
    // turned into a link since the walk sends us round again.
    const auto perms = static_cast<mode_t>(mode & 07777 & ~creds->umask());
    open_how how{};
    how.flags = flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY;
    how.mode = perms;
    how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    UniqueFd fd(
        static_cast<int>(syscall(SYS_openat2, r->parent.get(), r->name.c_str(), &how, sizeof how)));
    if (fd.valid()) {
      fchmod(fd.get(), perms);  // the guest's umask, not the supervisor's
      counters.injected.fetch_add(1, std::memory_order_relaxed);
      counters.allowed.fetch_add(1, std::memory_order_relaxed);
      return Decision::InjectFd(std::make_shared<const UniqueFd>(std::move(fd)), cloexec);
    }
    if (errno != EEXIST && errno != ELOOP) {
      return Decision::Fail(errno);
    }
  }
  counters.unresolved.fetch_add(1, std::memory_order_relaxed);
  return Decision::Fail(ctx.err);
}

Decision LinkStrict(const ResolvedPath& from, const ResolvedPath& to, FsGuardCounters& counters) {
  if (!from.fd.valid() || !to.parent.valid()) {
    return Decision::Fail(ENOENT);  // the kernel's answer to a missing old name
  }
  const std::string self = fmt::format("/proc/self/fd/{}", from.fd.get());
  if (linkat(AT_FDCWD, self.c_str(), to.parent.get(), to.name.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    return Decision::Fail(errno);
  }
  return Performed(counters);
}

Decision RenameStrict(const ResolvedPath& from, const ResolvedPath& to, unsigned flags,
                      FsGuardCounters& counters) {
  if (!from.parent.valid() || !to.parent.valid()) {
    return Decision::Fail(ENOENT);
  }
  if (syscall(SYS_renameat2, from.parent.get(), from.name.c_str(), to.parent.get(),
              to.name.c_str(), flags) != 0) {
    return Decision::Fail(errno);
  }
  return Performed(counters);
}

Decision NameStrict(const ResolvedPath& name, const NameCall& call, FsGuardCounters& counters) {
  if (!name.parent.valid()) {
    return Decision::Fail(ENOENT);
  }
  const int dir = name.parent.get();
  const char* last = name.name.c_str();
  if (call.op == NameCall::Op::kUnlink) {
    if (unlinkat(dir, last, call.unlink_flags) != 0) {
      return Decision::Fail(errno);
    }
    return Performed(counters);
  }
  if (!OwnFsContext()) {
    DenialReason reason;
    reason.rule = fmt::format("strict mode creates with the guest's umask: unshare(CLONE_FS): {}",
                              strerrorname_np(errno));
    counters.unresolved.fetch_add(1, std::memory_order_relaxed);
    return Decision::Fail(EACCES).Because(std::move(reason));
  }
  int rc = 0;
  {
    ScopedUmask mask(call.umask);
    switch (call.op) {
      case NameCall::Op::kMkdir:
        rc = mkdirat(dir, last, call.mode);
        break;
      case NameCall::Op::kMknod:
        rc = mknodat(dir, last, call.mode, call.dev);
        break;
      case NameCall::Op::kSymlink:
        rc = symlinkat(call.target.c_str(), dir, last);
        break;
      case NameCall::Op::kUnlink:
        break;
    }
  }
  if (rc != 0) {
    return Decision::Fail(errno);
  }
  return Performed(counters);
}

Decision TruncateStrict(const ResolvedPath& file, int64_t length, FsGuardCounters& counters) {
  if (!file.fd.valid()) {
    return Decision::Fail(ENOENT);
  }
  struct stat st {};
  if (fstat(file.fd.get(), &st) != 0) {
    return Decision::Fail(errno);
  }
  if (S_ISDIR(st.st_mode)) {
    return Decision::Fail(EISDIR);
  }
  if (!S_ISREG(st.st_mode)) {
    return Decision::Fail(EINVAL);
  }
  const std::string self = fmt::format("/proc/self/fd/{}", file.fd.get());
  UniqueFd fd(::open(self.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    return Decision::Fail(errno);
  }
  if (ftruncate(fd.get(), length) != 0) {
    return Decision::Fail(errno);
  }
  return Performed(counters);
}

Decision AttrStrict(const ResolvedPath& file, const AttrCall& call, FsGuardCounters& counters) {
  if (!file.fd.valid()) {
    return Decision::Fail(ENOENT);
  }
  const int fd = file.fd.get();
  const std::string self = fmt::format("/proc/self/fd/{}", fd);
  long rc = 0;
  switch (call.op) {
    case AttrCall::Op::kChmod:
      // fchmodat(2) of an O_PATH descriptor needs fchmodat2's AT_EMPTY_PATH (Linux 6.6); the
      // magic link reaches the same inode on every kernel, and a symlink answers EOPNOTSUPP
      // there as it does to fchmodat2's AT_SYMLINK_NOFOLLOW.
      rc = chmod(self.c_str(), call.mode);
      break;
    case AttrCall::Op::kChown:
      rc = fchownat(fd, "", call.uid, call.gid, AT_EMPTY_PATH);
      break;
    case AttrCall::Op::kUtimes:
      // The raw call: glibc's utimensat refuses an empty name before the kernel sees it.
      rc = syscall(SYS_utimensat, fd, "", call.times ? call.times->data() : nullptr,
                   AT_EMPTY_PATH);
      break;
    case AttrCall::Op::kSetxattr:
      rc = setxattr(self.c_str(), call.name.c_str(), call.value.data(), call.value.size(),
                    call.xattr_flags);
      break;
    case AttrCall::Op::kRemovexattr:
      rc = removexattr(self.c_str(), call.name.c_str());
      break;
  }
  if (rc != 0) {
    return Decision::Fail(errno);
  }
  return Performed(counters);
}

}  // namespace hijack::modules
