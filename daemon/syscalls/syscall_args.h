// The argument layout of the x86_64 system calls Hijack knows: one table, and the typed
// extractors that the trace decoder and every policy module read arguments through.
//
// For each call the table says what each argument is (a path, the dirfd that qualifies the path
// after it, open flags and mode, a sockaddr and its length, a descriptor, a msghdr, ...) and how
// the call uses the file each path names (read, write, create, exec, unlink, metadata), so that
// "which argument is the path of renameat's new name" is written once:
//
//   for (const syscalls::PathArg& p : syscalls::PathArgs(ev)) {
//     // p.addr: the guest's string; p.dirfd: AT_FDCWD or the descriptor it is relative to;
//     // p.access: kAccessUnlink for renameat's old name, kAccessCreate for its new one.
//   }
//   if (std::optional<syscalls::SockaddrRef> to = syscalls::SockaddrArg(ev)) { ... }
//
// Layouts follow the kernel's x86_64 entry points (faccessat has no flags; clone takes flags,
// stack, parent_tid, child_tid, tls). Only native calls have a layout: callers check the arch.
// Everything here is immutable data and pure functions of their arguments, safe from any thread;
// the functions that take GuestMemory read through it only during the call.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "hijack/guest_memory.h"
#include "hijack/result.h"
#include "hijack/syscall_event.h"
#include "hijack/syscall_set.h"

namespace hijack::syscalls {

// What one argument is. Kinds marked "len" take the length of the object they point to from
// the argument that follows them, which is where every listed call passes it.
enum class ArgKind : uint8_t {
  kNone,            // past the call's last argument
  kInt,             // int, decimal
  kUInt,            // unsigned int, decimal
  kLong,            // off_t, decimal
  kSize,            // size_t, decimal
  kHex,             // a value of no known meaning
  kPtr,             // an address the decoder does not follow: NULL or hex
  kFd,              // int file descriptor
  kDirFd,           // a descriptor or AT_FDCWD: qualifies the kPath right after it
  kPath,            // NUL-terminated string naming a file
  kBuffer,          // data the call takes from the guest (len)
  kStringArray,     // NULL-terminated array of strings: argv
  kEnvArray,        // envp
  kSockaddr,        // struct sockaddr (len)
  kMsghdr,          // struct msghdr: sendmsg, recvmsg
  kMmsghdrs,        // struct mmsghdr[], counted by the argument after it: sendmmsg
  kOpenHow,         // struct open_how (len): openat2
  kOpenFlags,       // O_RDONLY|O_CLOEXEC
  kOpenMode,        // open's mode: meaningful only when the flags before it create a file
  kMode,            // 0644
  kFdFlags,         // O_* flags without an access mode: pipe2, dup3
  kAtFlags,         // AT_SYMLINK_NOFOLLOW|AT_REMOVEDIR|AT_EMPTY_PATH
  kAccessAtFlags,   // faccessat2: 0x200 is AT_EACCESS, not AT_REMOVEDIR
  kAccessMode,      // R_OK|W_OK, F_OK
  kRenameFlags,     // RENAME_NOREPLACE
  kSocketFamily,    // AF_INET
  kSocketType,      // SOCK_STREAM|SOCK_CLOEXEC
  kSocketFlags,     // accept4: SOCK_NONBLOCK|SOCK_CLOEXEC
  kMsgFlags,        // MSG_DONTWAIT|MSG_NOSIGNAL
  kShutdownHow,     // SHUT_RDWR
  kSignal,          // SIGTERM
  kSigprocmaskHow,  // SIG_BLOCK
  kCloneFlags,      // CLONE_VM|CLONE_FS|SIGCHLD
  kWaitOptions,     // WNOHANG|__WALL
  kProtFlags,       // PROT_READ|PROT_WRITE
  kMmapFlags,       // MAP_PRIVATE|MAP_ANONYMOUS
  kWhence,          // SEEK_SET
  kFcntlCmd,        // F_SETFD
  kClockId,         // CLOCK_MONOTONIC
  kTimerFlags,      // TIMER_ABSTIME
  kTimespec,        // const struct timespec *: {tv_sec=1, tv_nsec=0}
  kSocketProtocol,  // socket's protocol, named for the family before it: IPPROTO_TCP
  kSockoptLevel,    // SOL_SOCKET, SOL_TCP
  kSockoptName,     // SO_REUSEADDR: named for the level before it
  kSockoptValue,    // setsockopt's value (len): [1] when it is an int
  kCloneArgs,       // struct clone_args (len): clone3
  // Out-parameters: the kernel writes them while the call runs, so on entry they are pointers;
  // DecodeReturned (arg_decoder.h) reads them where the backend stops at the call's return.
  kStatOut,         // struct stat *: {st_mode=S_IFREG|0644, st_size=1234, ...}
  kTimespecOut,     // struct timespec *: clock_gettime
  kWaitStatusOut,   // int *: [{WIFEXITED(s) && WEXITSTATUS(s) == 0}]
  kFdPairOut,       // int[2]: pipe, pipe2, socketpair: [3, 4]
  kReadBuffer,      // data the call gives the guest (len): read, pread64, recvfrom
  kIntOut,          // int *: getsockopt's value [0]
  kSocklenInOut,    // socklen_t *: [4]
};

// How a call uses the file a path argument names, as a bit set. read..attr are the kinds
// fs_guard rules cover (kAccessAll): attr is a change of the file's metadata (its mode, owner,
// times or extended attributes: chmod, chown, utimensat, setxattr). metadata is every other use
// of an existing name, which no rule judges (stat, access, readlink, chdir, link's old name,
// the mount calls).
enum Access : uint8_t {
  kAccessNone = 0,  // a string the call stores, not a file it acts on (symlink's target)
  kAccessRead = 1,
  kAccessWrite = 2,
  kAccessCreate = 4,
  kAccessExec = 8,
  kAccessUnlink = 16,
  kAccessAttr = 32,
  kAccessAll = 63,
  kAccessMetadata = 64,
  kAccessFromOpenFlags = 128,  // table only: open's flags decide (see OpenAccess)
};

// Calls newer than the installed libseccomp (2.5.4 knows none of them), by their x86_64
// numbers (arch/x86/entry/syscalls/syscall_64.tbl): the filter is raw BPF over numbers, so they
// are intercepted like any other.
inline constexpr int kNrFchmodat2 = 452;     // Linux 6.6
inline constexpr int kNrSetxattrat = 463;    // Linux 6.13
inline constexpr int kNrRemovexattrat = 466;  // Linux 6.13
inline constexpr int kNrFileSetattr = 469;   // Linux 6.17

// Whether the last component of a path is followed when it is a symlink.
enum class Follow : uint8_t {
  kYes,
  kNo,
  kUnlessNoFollowFlag,  // AT_SYMLINK_NOFOLLOW in the call's at-flags argument
  kIfFollowFlag,        // AT_SYMLINK_FOLLOW in the at-flags argument (linkat's old name)
  kOpenFlags,           // not with O_NOFOLLOW, nor with O_CREAT|O_EXCL (open(2))
};

struct PathUse {
  uint8_t access = kAccessNone;
  Follow follow = Follow::kYes;
};

struct CallLayout {
  int nr;
  std::array<ArgKind, 6> args;   // kNone after the last argument
  PathUse paths[2] = {};         // one per kPath argument, in argument order
  bool returns_address = false;  // success values are addresses (mmap, brk)
};

// Every layout, in a fixed order; the calls without one are unknown to every extractor.
std::span<const CallLayout> Layouts();
// The layout of native call `nr`, or nullptr.
const CallLayout* FindLayout(int nr);

// One path argument of a call, with what qualifies it.
struct PathArg {
  size_t index = 0;         // argument index of the string pointer
  uint64_t addr = 0;        // the guest address of the string
  int dirfd = -100;         // AT_FDCWD, or the descriptor of the kDirFd before it
  uint8_t access = 0;       // Access bits; for opens computed from the flags (OpenAccess)
  bool follow = true;       // follow a symlink in the last component
  bool empty_path = false;  // AT_EMPTY_PATH: an empty string names the dirfd itself
};

// A call's path arguments (at most two: rename's old and new name), in argument order.
class PathArgList {
 public:
  void push_back(const PathArg& p) { items_[size_++] = p; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const PathArg& operator[](size_t i) const { return items_[i]; }
  const PathArg* begin() const { return items_.data(); }
  const PathArg* end() const { return items_.data() + size_; }

 private:
  std::array<PathArg, 2> items_{};
  size_t size_ = 0;
};

// The path arguments of `ev` (none for calls without a layout). openat2's flags live in guest
// memory: its path's access and follow are those of O_RDONLY until OpenArgsOf reads them.
PathArgList PathArgs(const SyscallEvent& ev);

// The first path that names a file the call acts on (access other than kAccessNone), if any.
std::optional<PathArg> PrimaryPath(const SyscallEvent& ev);

// The descriptor argument of `ev` (the first kFd), as the kernel reads it (low 32 bits).
std::optional<int> FdArg(const SyscallEvent& ev);

// The union of the access kinds of every path argument; for opens, what the flags ask for.
uint8_t CallAccess(const SyscallEvent& ev);

// The calls with a path that may need an access of a kind in `mask` (opens: read, write and
// create, whatever their flags).
SyscallSet CallsWithAccess(uint8_t mask);

// The access kinds open flags ask for (open(2)): the access mode; O_TRUNC writes; O_TMPFILE
// creates and writes. O_CREAT is not counted: it creates only when the name does not exist.
uint8_t OpenAccess(uint64_t flags);

// The arguments of an open: open, openat, creat (as open with O_CREAT|O_WRONLY|O_TRUNC,
// creat(2)) and openat2 (its open_how read from guest memory).
struct OpenArgs {
  PathArg path;
  uint64_t flags = 0;
  uint64_t mode = 0;
  uint64_t resolve = 0;  // openat2's RESOLVE_* bits
};
// Whether OpenArgsOf answers for native call `nr` (open, openat, openat2, creat).
bool IsOpenCall(int nr);
// nullopt for calls that do not open. Errors (openat2 only): code EINVAL when fewer bytes than
// an open_how could be read (the kernel's answer to a short size), else the read's own code
// (EFAULT for a bad pointer).
[[nodiscard]] Result<std::optional<OpenArgs>> OpenArgsOf(const SyscallEvent& ev, GuestMemory& mem);

// Whether open flags make the mode argument matter (open(2): O_CREAT or O_TMPFILE).
bool CreatesFile(uint64_t flags);

// The CLONE_* flags in registers of `ev`: clone's flags, unshare's, setns's nstype (clone3 keeps
// them in guest memory and has none here).
std::optional<uint64_t> CloneFlagsArg(const SyscallEvent& ev);

// A socket address argument: where it is and the length the call gives with it.
struct SockaddrRef {
  uint64_t addr = 0;  // 0: none (a send on a connected socket)
  uint32_t len = 0;   // socklen_t
};
// The kSockaddr argument of `ev` (connect, bind, sendto) with its length.
std::optional<SockaddrRef> SockaddrArg(const SyscallEvent& ev);

// The number of messages whose msg_name a send of `ev` carries: 1 for sendmsg, the vector's
// length for sendmmsg (at most kMaxMessages: the kernel's UIO_MAXIOV caps vlen), else 0.
inline constexpr uint64_t kMaxMessages = 1024;
uint64_t MessageCount(const SyscallEvent& ev);
// The calls that send through a descriptor which may be a connected socket, so that a send
// without an address is judged by the socket's peer: write, writev, pwritev2, sendto, sendmsg,
// sendmmsg, sendfile (its out_fd), splice (its fd_out).
SyscallSet SendCalls();
// The descriptor a call of SendCalls() sends through (low 32 bits, as the kernel reads it).
std::optional<int> SendFdArg(const SyscallEvent& ev);
// The MSG_* flags of sendto, sendmsg, sendmmsg, recvfrom, recvmsg, recvmmsg; 0 for other calls.
uint64_t MsgFlagsArg(const SyscallEvent& ev);
// How many datagrams a call may move: vlen for sendmmsg (the kernel caps it at UIO_MAXIOV,
// kMaxMessages) and recvmmsg (capped likewise: what a call can be charged for), 1 otherwise.
uint64_t DatagramCount(const SyscallEvent& ev);

// The descriptors of the writes an io_submit(2) call submits (IOCB_CMD_PWRITE, IOCB_CMD_PWRITEV:
// on a socket, offset 0 sends, aio(7)); empty for other calls. Errors: E2BIG for more than
// kMaxMessages control blocks (callers fail closed), EFAULT for unreadable ones.
[[nodiscard]] Result<std::vector<int>> AioWriteFds(const SyscallEvent& ev, GuestMemory& mem);

// The msg_name of message `i` (< MessageCount(ev)). Errors: EINVAL when the msghdr is cut short
// by unreadable memory, else the read's code (EFAULT for a bad pointer).
[[nodiscard]] Result<SockaddrRef> MessageAddress(const SyscallEvent& ev, GuestMemory& mem,
                                                 uint64_t i);

}  // namespace hijack::syscalls
