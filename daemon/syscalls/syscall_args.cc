#include "daemon/syscalls/syscall_args.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/aio_abi.h>
#include <linux/audit.h>
#include <linux/openat2.h>
#include <seccomp.h>
#include <sys/socket.h>

#include <span>

namespace hijack::syscalls {
namespace {

using enum ArgKind;

// The calls Hijack knows. A path's access says what the call does to the file it names; calls
// without a path (or whose paths are not listed) have none.
constexpr CallLayout kLayouts[] = {
    // Files by name.
    {SCMP_SYS(open), {kPath, kOpenFlags, kOpenMode}, {{kAccessFromOpenFlags, Follow::kOpenFlags}}},
    {SCMP_SYS(openat),
     {kDirFd, kPath, kOpenFlags, kOpenMode},
     {{kAccessFromOpenFlags, Follow::kOpenFlags}}},
    {SCMP_SYS(openat2),
     {kDirFd, kPath, kOpenHow, kSize},
     {{kAccessFromOpenFlags, Follow::kOpenFlags}}},
    {SCMP_SYS(creat), {kPath, kMode}, {{kAccessWrite | kAccessCreate, Follow::kYes}}},
    {SCMP_SYS(access), {kPath, kAccessMode}, {{kAccessMetadata}}},
    {SCMP_SYS(faccessat), {kDirFd, kPath, kAccessMode}, {{kAccessMetadata}}},
    {SCMP_SYS(faccessat2),
     {kDirFd, kPath, kAccessMode, kAccessAtFlags},
     {{kAccessMetadata, Follow::kUnlessNoFollowFlag}}},
    {SCMP_SYS(stat), {kPath, kStatOut}, {{kAccessMetadata}}},
    {SCMP_SYS(lstat), {kPath, kStatOut}, {{kAccessMetadata, Follow::kNo}}},
    {SCMP_SYS(newfstatat),
     {kDirFd, kPath, kStatOut, kAtFlags},
     {{kAccessMetadata, Follow::kUnlessNoFollowFlag}}},
    {SCMP_SYS(statx),
     {kDirFd, kPath, kAtFlags, kHex, kPtr},
     {{kAccessMetadata, Follow::kUnlessNoFollowFlag}}},
    {SCMP_SYS(readlink), {kPath, kPtr, kSize}, {{kAccessMetadata, Follow::kNo}}},
    {SCMP_SYS(readlinkat), {kDirFd, kPath, kPtr, kSize}, {{kAccessMetadata, Follow::kNo}}},
    {SCMP_SYS(unlink), {kPath}, {{kAccessUnlink, Follow::kNo}}},
    {SCMP_SYS(unlinkat), {kDirFd, kPath, kAtFlags}, {{kAccessUnlink, Follow::kNo}}},
    {SCMP_SYS(rename),
     {kPath, kPath},
     {{kAccessUnlink, Follow::kNo}, {kAccessCreate, Follow::kNo}}},
    {SCMP_SYS(renameat),
     {kDirFd, kPath, kDirFd, kPath},
     {{kAccessUnlink, Follow::kNo}, {kAccessCreate, Follow::kNo}}},
    {SCMP_SYS(renameat2),
     {kDirFd, kPath, kDirFd, kPath, kRenameFlags},
     {{kAccessUnlink, Follow::kNo}, {kAccessCreate, Follow::kNo}}},
    {SCMP_SYS(mkdir), {kPath, kMode}, {{kAccessCreate, Follow::kNo}}},
    {SCMP_SYS(mkdirat), {kDirFd, kPath, kMode}, {{kAccessCreate, Follow::kNo}}},
    {SCMP_SYS(rmdir), {kPath}, {{kAccessUnlink, Follow::kNo}}},
    {SCMP_SYS(chdir), {kPath}, {{kAccessMetadata}}},
    {SCMP_SYS(fchdir), {kFd}},
    // Changes of a file's metadata (fs_guard's "attr" access). utimensat and futimesat with a
    // NULL path act on their descriptor (the fd form), as fchmod, fchown, futimens and
    // fsetxattr do: those name no file.
    {SCMP_SYS(chmod), {kPath, kMode}, {{kAccessAttr}}},
    {SCMP_SYS(fchmodat), {kDirFd, kPath, kMode}, {{kAccessAttr}}},
    {kNrFchmodat2,
     {kDirFd, kPath, kMode, kAtFlags},
     {{kAccessAttr, Follow::kUnlessNoFollowFlag}}},
    {SCMP_SYS(chown), {kPath, kInt, kInt}, {{kAccessAttr}}},
    {SCMP_SYS(lchown), {kPath, kInt, kInt}, {{kAccessAttr, Follow::kNo}}},
    {SCMP_SYS(fchownat),
     {kDirFd, kPath, kInt, kInt, kAtFlags},
     {{kAccessAttr, Follow::kUnlessNoFollowFlag}}},
    {SCMP_SYS(utime), {kPath, kPtr}, {{kAccessAttr}}},
    {SCMP_SYS(utimes), {kPath, kPtr}, {{kAccessAttr}}},
    {SCMP_SYS(futimesat), {kDirFd, kPath, kPtr}, {{kAccessAttr}}},
    {SCMP_SYS(utimensat),
     {kDirFd, kPath, kPtr, kAtFlags},
     {{kAccessAttr, Follow::kUnlessNoFollowFlag}}},
    {SCMP_SYS(setxattr), {kPath, kPtr, kPtr, kSize, kHex}, {{kAccessAttr}}},
    {SCMP_SYS(lsetxattr), {kPath, kPtr, kPtr, kSize, kHex}, {{kAccessAttr, Follow::kNo}}},
    {SCMP_SYS(removexattr), {kPath, kPtr}, {{kAccessAttr}}},
    {SCMP_SYS(lremovexattr), {kPath, kPtr}, {{kAccessAttr, Follow::kNo}}},
    {kNrSetxattrat,
     {kDirFd, kPath, kAtFlags, kPtr, kPtr, kSize},
     {{kAccessAttr, Follow::kUnlessNoFollowFlag}}},
    {kNrRemovexattrat,
     {kDirFd, kPath, kAtFlags, kPtr},
     {{kAccessAttr, Follow::kUnlessNoFollowFlag}}},
    {kNrFileSetattr,
     {kDirFd, kPath, kPtr, kSize, kAtFlags},
     {{kAccessAttr, Follow::kUnlessNoFollowFlag}}},
    {SCMP_SYS(truncate), {kPath, kLong}, {{kAccessWrite}}},
    {SCMP_SYS(symlink), {kPath, kPath}, {{kAccessNone, Follow::kNo}, {kAccessCreate, Follow::kNo}}},
    {SCMP_SYS(symlinkat),
     {kPath, kDirFd, kPath},
     {{kAccessNone, Follow::kNo}, {kAccessCreate, Follow::kNo}}},
    {SCMP_SYS(link),
     {kPath, kPath},
     {{kAccessMetadata, Follow::kNo}, {kAccessCreate, Follow::kNo}}},
    {SCMP_SYS(linkat),
     {kDirFd, kPath, kDirFd, kPath, kAtFlags},
     {{kAccessMetadata, Follow::kIfFollowFlag}, {kAccessCreate, Follow::kNo}}},
    {SCMP_SYS(mknod), {kPath, kMode, kHex}, {{kAccessCreate, Follow::kNo}}},
    {SCMP_SYS(mknodat), {kDirFd, kPath, kMode, kHex}, {{kAccessCreate, Follow::kNo}}},
    {SCMP_SYS(execve), {kPath, kStringArray, kEnvArray}, {{kAccessExec}}},
    {SCMP_SYS(execveat),
     {kDirFd, kPath, kStringArray, kEnvArray, kAtFlags},
     {{kAccessExec, Follow::kUnlessNoFollowFlag}}},
    // The file-system view: mounts, re-rooting and file handles (fs_guard refuses them while it
    // enforces: each reaches a file under a name no rule speaks of).
    {SCMP_SYS(mount),
     {kPath, kPath, kPtr, kHex, kPtr},
     {{kAccessMetadata}, {kAccessMetadata}}},
    {SCMP_SYS(umount2), {kPath, kHex}, {{kAccessMetadata}}},
    {SCMP_SYS(pivot_root), {kPath, kPath}, {{kAccessMetadata}, {kAccessMetadata}}},
    {SCMP_SYS(chroot), {kPath}, {{kAccessMetadata}}},
    {SCMP_SYS(open_tree), {kDirFd, kPath, kHex}, {{kAccessMetadata}}},
    {SCMP_SYS(move_mount),
     {kDirFd, kPath, kDirFd, kPath, kHex},
     {{kAccessMetadata}, {kAccessMetadata}}},
    {SCMP_SYS(fsopen), {kPtr, kHex}},
    {SCMP_SYS(fsconfig), {kFd, kUInt, kPtr, kPtr, kInt}},
    {SCMP_SYS(fsmount), {kFd, kHex, kHex}},
    {SCMP_SYS(fspick), {kDirFd, kPath, kHex}, {{kAccessMetadata}}},
    {SCMP_SYS(mount_setattr), {kDirFd, kPath, kHex, kPtr, kSize}, {{kAccessMetadata}}},
    {SCMP_SYS(name_to_handle_at),
     {kDirFd, kPath, kPtr, kPtr, kAtFlags},
     {{kAccessMetadata, Follow::kIfFollowFlag}}},
    {SCMP_SYS(open_by_handle_at), {kFd, kPtr, kOpenFlags}},
    // Descriptors.
    {SCMP_SYS(read), {kFd, kReadBuffer, kSize}},
    {SCMP_SYS(write), {kFd, kBuffer, kSize}},
    {SCMP_SYS(pread64), {kFd, kReadBuffer, kSize, kLong}},
    {SCMP_SYS(pwrite64), {kFd, kBuffer, kSize, kLong}},
    {SCMP_SYS(readv), {kFd, kPtr, kInt}},
    {SCMP_SYS(writev), {kFd, kPtr, kInt}},
    {SCMP_SYS(pwritev2), {kFd, kPtr, kInt, kLong, kLong, kHex}},
    {SCMP_SYS(sendfile), {kFd, kFd, kPtr, kSize}},
    {SCMP_SYS(splice), {kFd, kPtr, kFd, kPtr, kSize, kHex}},
    {SCMP_SYS(io_submit), {kHex, kLong, kPtr}},
    {SCMP_SYS(close), {kFd}},
    {SCMP_SYS(fsync), {kFd}},
    {SCMP_SYS(fdatasync), {kFd}},
    {SCMP_SYS(ftruncate), {kFd, kLong}},
    {SCMP_SYS(fstat), {kFd, kStatOut}},
    {SCMP_SYS(getdents64), {kFd, kPtr, kSize}},
    {SCMP_SYS(dup), {kFd}},
    {SCMP_SYS(dup2), {kFd, kFd}},
    {SCMP_SYS(dup3), {kFd, kFd, kFdFlags}},
    {SCMP_SYS(fcntl), {kFd, kFcntlCmd, kHex}},
    {SCMP_SYS(ioctl), {kFd, kHex, kHex}},
    {SCMP_SYS(lseek), {kFd, kLong, kWhence}},
    {SCMP_SYS(pipe), {kFdPairOut}},
    {SCMP_SYS(pipe2), {kFdPairOut, kFdFlags}},
    {SCMP_SYS(epoll_wait), {kFd, kPtr, kInt, kInt}},
    {SCMP_SYS(poll), {kPtr, kUInt, kInt}},
    // Sockets.
    {SCMP_SYS(socket), {kSocketFamily, kSocketType, kSocketProtocol}},
    {SCMP_SYS(socketpair), {kSocketFamily, kSocketType, kSocketProtocol, kFdPairOut}},
    {SCMP_SYS(connect), {kFd, kSockaddr, kUInt}},
    {SCMP_SYS(bind), {kFd, kSockaddr, kUInt}},
    {SCMP_SYS(accept), {kFd, kPtr, kPtr}},
    {SCMP_SYS(accept4), {kFd, kPtr, kPtr, kSocketFlags}},
    {SCMP_SYS(listen), {kFd, kInt}},
    {SCMP_SYS(sendto), {kFd, kBuffer, kSize, kMsgFlags, kSockaddr, kUInt}},
    {SCMP_SYS(recvfrom), {kFd, kReadBuffer, kSize, kMsgFlags, kPtr, kPtr}},
    {SCMP_SYS(sendmsg), {kFd, kMsghdr, kMsgFlags}},
    {SCMP_SYS(sendmmsg), {kFd, kMmsghdrs, kUInt, kMsgFlags}},
    {SCMP_SYS(recvmsg), {kFd, kMsghdr, kMsgFlags}},
    {SCMP_SYS(recvmmsg), {kFd, kPtr, kUInt, kMsgFlags, kPtr}},
    {SCMP_SYS(shutdown), {kFd, kShutdownHow}},
    {SCMP_SYS(getsockname), {kFd, kPtr, kPtr}},
    {SCMP_SYS(getpeername), {kFd, kPtr, kPtr}},
    {SCMP_SYS(setsockopt), {kFd, kSockoptLevel, kSockoptName, kSockoptValue, kUInt}},
    {SCMP_SYS(getsockopt), {kFd, kSockoptLevel, kSockoptName, kIntOut, kSocklenInOut}},
    // Processes and signals.
    {SCMP_SYS(clone), {kCloneFlags, kPtr, kPtr, kPtr, kHex}},
    {SCMP_SYS(clone3), {kCloneArgs, kSize}},
    {SCMP_SYS(unshare), {kCloneFlags}},
    {SCMP_SYS(setns), {kFd, kCloneFlags}},
    {SCMP_SYS(fork), {}},
    {SCMP_SYS(vfork), {}},
    {SCMP_SYS(wait4), {kInt, kWaitStatusOut, kWaitOptions, kPtr}},
    {SCMP_SYS(kill), {kInt, kSignal}},
    {SCMP_SYS(tgkill), {kInt, kInt, kSignal}},
    {SCMP_SYS(tkill), {kInt, kSignal}},
    {SCMP_SYS(exit), {kInt}},
    {SCMP_SYS(exit_group), {kInt}},
    {SCMP_SYS(getppid), {}},
    {SCMP_SYS(getpid), {}},
    {SCMP_SYS(gettid), {}},
    // The rest of the calls that take no argument (the x86_64 syscall table): without
    // an entry they would show six raw register values that mean nothing.
    {SCMP_SYS(getpgrp), {}},
    {SCMP_SYS(setsid), {}},
    {SCMP_SYS(getuid), {}},
    {SCMP_SYS(geteuid), {}},
    {SCMP_SYS(getgid), {}},
    {SCMP_SYS(getegid), {}},
    {SCMP_SYS(sched_yield), {}},
    {SCMP_SYS(pause), {}},
    {SCMP_SYS(sync), {}},
    {SCMP_SYS(vhangup), {}},
    {SCMP_SYS(munlockall), {}},
    {SCMP_SYS(inotify_init), {}},
    {SCMP_SYS(restart_syscall), {}},
    {SCMP_SYS(rt_sigreturn), {}},
    {SCMP_SYS(rt_sigaction), {kSignal, kPtr, kPtr, kSize}},
    {SCMP_SYS(rt_sigprocmask), {kSigprocmaskHow, kPtr, kPtr, kSize}},
    {SCMP_SYS(nanosleep), {kTimespec, kPtr}},
    {SCMP_SYS(clock_gettime), {kClockId, kTimespecOut}},
    {SCMP_SYS(clock_getres), {kClockId, kTimespecOut}},
    {SCMP_SYS(clock_nanosleep), {kClockId, kTimerFlags, kTimespec, kPtr}},
    // Memory.
    {SCMP_SYS(mmap), {kPtr, kSize, kProtFlags, kMmapFlags, kFd, kHex}, {}, true},
    {SCMP_SYS(munmap), {kPtr, kSize}},
    {SCMP_SYS(mprotect), {kPtr, kSize, kProtFlags}},
    {SCMP_SYS(mremap), {kPtr, kSize, kSize, kHex, kPtr}, {}, true},
    {SCMP_SYS(brk), {kPtr}, {}, true},
    {SCMP_SYS(shmat), {kInt, kPtr, kHex}, {}, true},
};

// AT_* flags (include/uapi/linux/fcntl.h): glibc hides some of them behind _GNU_SOURCE.
constexpr uint64_t kAtSymlinkNofollow = 0x100;
constexpr uint64_t kAtSymlinkFollow = 0x400;
constexpr uint64_t kAtEmptyPath = 0x1000;

// The calls that move data out through a descriptor that may be a socket, and which argument
// that descriptor is. pwrite64 and pwritev are not here: a socket has no position, and they fail
// with ESPIPE on one; pwritev2 with offset -1 writes at "the current position" (preadv2(2)),
// which on a socket is a plain writev.
struct SendCall {
  int nr;
  size_t fd_arg;
  const char* why;
};
constexpr SendCall kSendCalls[] = {
    {SCMP_SYS(write), 0, "write(2) on a connected socket is send(2) without flags"},
    {SCMP_SYS(writev), 0, "writev(2) likewise"},
    {SCMP_SYS(pwritev2), 0, "pwritev2(2) with offset -1 is writev(2)"},
    {SCMP_SYS(sendto), 0, "send(2) is sendto with no address"},
    {SCMP_SYS(sendmsg), 0, "msg_name may be NULL on a connected socket"},
    {SCMP_SYS(sendmmsg), 0, "each message's msg_name may be NULL"},
    {SCMP_SYS(sendfile), 0, "out_fd may be a socket (sendfile(2))"},
    {SCMP_SYS(splice), 2, "fd_out may be a socket (splice(2))"},
};

int AsInt(uint64_t v) { return static_cast<int>(static_cast<int32_t>(static_cast<uint32_t>(v))); }

// The value of the call's at-flags argument, or 0 when it has none.
uint64_t AtFlags(const CallLayout& call, const SyscallEvent& ev) {
  for (size_t i = 0; i < call.args.size(); ++i) {
    if (call.args[i] == kAtFlags || call.args[i] == kAccessAtFlags) {
      return ev.args[i];
    }
  }
  return 0;
}

// The open flags in registers: the kOpenFlags argument, or creat's implied ones (creat(2)).
std::optional<uint64_t> RegisterOpenFlags(const CallLayout& call, const SyscallEvent& ev) {
  if (call.nr == SCMP_SYS(creat)) {
    return O_CREAT | O_WRONLY | O_TRUNC;
  }
  for (size_t i = 0; i < call.args.size(); ++i) {
    if (call.args[i] == kOpenFlags) {
      return ev.args[i];
    }
  }
  return std::nullopt;
}

bool FollowOf(Follow follow, uint64_t at_flags, uint64_t open_flags) {
  switch (follow) {
    case Follow::kYes:
      return true;
    case Follow::kNo:
      return false;
    case Follow::kUnlessNoFollowFlag:
      return (at_flags & kAtSymlinkNofollow) == 0;
    case Follow::kIfFollowFlag:
      return (at_flags & kAtSymlinkFollow) != 0;
    case Follow::kOpenFlags:
      return (open_flags & O_NOFOLLOW) == 0 && !((open_flags & O_CREAT) && (open_flags & O_EXCL));
  }
  return true;
}

bool IsNativeArch(uint32_t arch) { return arch == 0 || arch == AUDIT_ARCH_X86_64; }

// Path arguments of a call whose open flags (if any) are `open_flags`.
PathArgList PathArgsWith(const CallLayout& call, const SyscallEvent& ev, uint64_t open_flags) {
  PathArgList out;
  const uint64_t at_flags = AtFlags(call, ev);
  size_t n = 0;
  for (size_t i = 0; i < call.args.size() && n < std::size(call.paths); ++i) {
    if (call.args[i] != kPath) {
      continue;
    }
    const PathUse& use = call.paths[n++];
    PathArg p;
    p.index = i;
    p.addr = ev.args[i];
    p.dirfd = i > 0 && call.args[i - 1] == kDirFd ? AsInt(ev.args[i - 1]) : AT_FDCWD;
    p.access = use.access == kAccessFromOpenFlags ? OpenAccess(open_flags) : use.access;
    p.follow = FollowOf(use.follow, at_flags, open_flags);
    // AT_EMPTY_PATH speaks of the first path (linkat's old name, execveat's program).
    p.empty_path = n == 1 && (at_flags & kAtEmptyPath) != 0;
    out.push_back(p);
  }
  return out;
}

}  // namespace

std::span<const CallLayout> Layouts() { return kLayouts; }

const CallLayout* FindLayout(int nr) {
  static const std::array<const CallLayout*, SyscallSet::kCapacity> index = [] {
    std::array<const CallLayout*, SyscallSet::kCapacity> idx{};
    for (const CallLayout& call : kLayouts) {
      idx[static_cast<size_t>(call.nr)] = &call;
    }
    return idx;
  }();
  if (nr < 0 || nr >= SyscallSet::kCapacity) {
    return nullptr;
  }
  return index[static_cast<size_t>(nr)];
}

uint8_t OpenAccess(uint64_t flags) {
  uint8_t a = 0;
  switch (flags & O_ACCMODE) {
    case O_WRONLY:
      a = kAccessWrite;
      break;
    case O_RDWR:
      a = kAccessRead | kAccessWrite;
      break;
    default:
      a = kAccessRead;
  }
  if (flags & O_TRUNC) {
    a |= kAccessWrite;
  }
  if ((flags & __O_TMPFILE) == __O_TMPFILE) {
    a |= kAccessCreate | kAccessWrite;
  }
  return a;
}

bool CreatesFile(uint64_t flags) {
  return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == static_cast<uint64_t>(O_TMPFILE);
}

PathArgList PathArgs(const SyscallEvent& ev) {
  const CallLayout* call = IsNativeArch(ev.arch) ? FindLayout(ev.nr) : nullptr;
  if (call == nullptr) {
    return {};
  }
  return PathArgsWith(*call, ev, RegisterOpenFlags(*call, ev).value_or(O_RDONLY));
}

std::optional<PathArg> PrimaryPath(const SyscallEvent& ev) {
  for (const PathArg& p : PathArgs(ev)) {
    if (p.access != kAccessNone) {
      return p;
    }
  }
  return std::nullopt;
}

namespace {

// Where the first argument of `kind` stands in the call `ev` makes: nullopt for a call of
// another architecture, one without a layout, or one without such an argument.
std::optional<size_t> ArgIndex(const SyscallEvent& ev, ArgKind kind) {
  const CallLayout* call = IsNativeArch(ev.arch) ? FindLayout(ev.nr) : nullptr;
  if (call == nullptr) {
    return std::nullopt;
  }
  for (size_t i = 0; i < call->args.size(); ++i) {
    if (call->args[i] == kind) {
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<int> FdArg(const SyscallEvent& ev) {
  const std::optional<size_t> i = ArgIndex(ev, kFd);
  return i ? std::optional<int>(AsInt(ev.args[*i])) : std::nullopt;
}

uint8_t CallAccess(const SyscallEvent& ev) {
  uint8_t a = 0;
  for (const PathArg& p : PathArgs(ev)) {
    a |= p.access;
  }
  return a;
}

SyscallSet CallsWithAccess(uint8_t mask) {
  SyscallSet set;
  for (const CallLayout& call : kLayouts) {
    for (const PathUse& use : call.paths) {
      const uint8_t possible = use.access == kAccessFromOpenFlags
                                   ? kAccessRead | kAccessWrite | kAccessCreate
                                   : use.access;
      if ((possible & mask) != 0) {
        set.Add(call.nr);
      }
    }
  }
  return set;
}

bool IsOpenCall(int nr) {
  const CallLayout* call = FindLayout(nr);
  return call != nullptr &&
         (call->paths[0].access == kAccessFromOpenFlags || call->nr == SCMP_SYS(creat));
}

Result<std::optional<OpenArgs>> OpenArgsOf(const SyscallEvent& ev, GuestMemory& mem) {
  const CallLayout* call = IsNativeArch(ev.arch) ? FindLayout(ev.nr) : nullptr;
  if (call == nullptr || !IsOpenCall(ev.nr)) {
    return std::nullopt;
  }
  OpenArgs out;
  if (std::optional<uint64_t> flags = RegisterOpenFlags(*call, ev)) {
    out.flags = *flags;
    for (size_t i = 0; i < call->args.size(); ++i) {
      if (call->args[i] == kOpenMode || call->args[i] == kMode) {
        out.mode = ev.args[i];
      }
    }
  } else {
    // openat2(2): the flags, mode and resolve bits are in the open_how the kOpenHow names.
    size_t at = 0;
    while (call->args[at] != kOpenHow) {
      ++at;
    }
    open_how how{};
    HIJACK_ASSIGN_OR_RETURN(size_t got,
                            mem.Read(ev.args[at], std::as_writable_bytes(std::span(&how, 1))));
    if (got < sizeof how) {
      return std::unexpected(Error{EINVAL, "openat2: open_how cut short by unreadable memory"});
    }
    out.flags = how.flags;
    out.mode = how.mode;
    out.resolve = how.resolve;
  }
  out.path = PathArgsWith(*call, ev, out.flags)[0];
  return out;
}

std::optional<uint64_t> CloneFlagsArg(const SyscallEvent& ev) {
  const std::optional<size_t> i = ArgIndex(ev, kCloneFlags);
  return i ? std::optional<uint64_t>(ev.args[*i]) : std::nullopt;
}

std::optional<SockaddrRef> SockaddrArg(const SyscallEvent& ev) {
  const CallLayout* call = IsNativeArch(ev.arch) ? FindLayout(ev.nr) : nullptr;
  if (call == nullptr) {
    return std::nullopt;
  }
  for (size_t i = 0; i + 1 < call->args.size(); ++i) {
    if (call->args[i] == kSockaddr) {
      return SockaddrRef{ev.args[i], static_cast<uint32_t>(ev.args[i + 1])};
    }
  }
  return std::nullopt;
}

uint64_t MessageCount(const SyscallEvent& ev) {
  const CallLayout* call = IsNativeArch(ev.arch) ? FindLayout(ev.nr) : nullptr;
  if (call == nullptr || call->nr == SCMP_SYS(recvmsg)) {
    return 0;  // recvmsg's msg_name is written by the kernel, not given
  }
  for (size_t i = 0; i < call->args.size(); ++i) {
    if (call->args[i] == kMsghdr) {
      return 1;
    }
    if (call->args[i] == kMmsghdrs && i + 1 < call->args.size()) {
      return std::min<uint64_t>(static_cast<uint32_t>(ev.args[i + 1]), kMaxMessages);
    }
  }
  return 0;
}

SyscallSet SendCalls() {
  SyscallSet set;
  for (const SendCall& c : kSendCalls) {
    set.Add(c.nr);
  }
  return set;
}

std::optional<int> SendFdArg(const SyscallEvent& ev) {
  if (!IsNativeArch(ev.arch)) {
    return std::nullopt;
  }
  for (const SendCall& c : kSendCalls) {
    if (c.nr == ev.nr) {
      return AsInt(ev.args[c.fd_arg]);
    }
  }
  return std::nullopt;
}

uint64_t MsgFlagsArg(const SyscallEvent& ev) {
  const std::optional<size_t> i = ArgIndex(ev, kMsgFlags);
  return i ? static_cast<uint32_t>(ev.args[*i]) : 0;
}

uint64_t DatagramCount(const SyscallEvent& ev) {
  if (IsNativeArch(ev.arch) && (ev.nr == SCMP_SYS(sendmmsg) || ev.nr == SCMP_SYS(recvmmsg))) {
    return std::min<uint64_t>(static_cast<uint32_t>(ev.args[2]), kMaxMessages);
  }
  return 1;
}

Result<std::vector<int>> AioWriteFds(const SyscallEvent& ev, GuestMemory& mem) {
  std::vector<int> fds;
  if (!IsNativeArch(ev.arch) || ev.nr != SCMP_SYS(io_submit)) {
    return fds;
  }
  const auto nr = static_cast<int64_t>(ev.args[1]);
  if (nr <= 0) {
    return fds;  // the kernel answers EINVAL (nr < 0) or 0
  }
  if (nr > static_cast<int64_t>(kMaxMessages)) {
    return std::unexpected(
        Error{E2BIG, fmt::format("io_submit of {} control blocks (judged: at most {})", nr,
                                 kMaxMessages)});
  }
  std::vector<uint64_t> pointers(static_cast<size_t>(nr));
  HIJACK_ASSIGN_OR_RETURN(size_t got,
                          mem.Read(ev.args[2], std::as_writable_bytes(std::span(pointers))));
  if (got < pointers.size() * sizeof(uint64_t)) {
    return std::unexpected(Error{EFAULT, "io_submit: iocb pointers cut short"});
  }
  for (uint64_t p : pointers) {
    iocb cb{};
    HIJACK_ASSIGN_OR_RETURN(size_t n, mem.Read(p, std::as_writable_bytes(std::span(&cb, 1))));
    if (n < sizeof cb) {
      return std::unexpected(Error{EFAULT, "io_submit: iocb cut short"});
    }
    if (cb.aio_lio_opcode == IOCB_CMD_PWRITE || cb.aio_lio_opcode == IOCB_CMD_PWRITEV) {
      fds.push_back(static_cast<int>(cb.aio_fildes));
    }
  }
  return fds;
}

Result<SockaddrRef> MessageAddress(const SyscallEvent& ev, GuestMemory& mem, uint64_t i) {
  const CallLayout* call = FindLayout(ev.nr);
  size_t at = 0;
  while (at < call->args.size() && call->args[at] != kMsghdr && call->args[at] != kMmsghdrs) {
    ++at;
  }
  const uint64_t stride = call->args[at] == kMmsghdrs ? sizeof(mmsghdr) : sizeof(msghdr);
  msghdr msg{};
  HIJACK_ASSIGN_OR_RETURN(
      size_t got, mem.Read(ev.args[at] + i * stride, std::as_writable_bytes(std::span(&msg, 1))));
  if (got < sizeof msg) {
    return std::unexpected(Error{EINVAL, "msghdr cut short by unreadable memory"});
  }
  return SockaddrRef{reinterpret_cast<uint64_t>(msg.msg_name), msg.msg_namelen};
}

}  // namespace hijack::syscalls
