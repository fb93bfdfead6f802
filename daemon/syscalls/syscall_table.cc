#include "daemon/syscalls/syscall_table.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <seccomp.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace hijack::syscalls {
namespace {

using std::string_view_literals::operator""sv;

// Membership follows strace 6.x (src/linux/x86_64/syscallent.h and
// src/linux/generic/syscallent-common.h: the TF, TN, TP, TS, TM, TI and TD flags), names in
// syscall-number order. Calls newer than the installed libseccomp (mseal, setxattrat on 2.5.4) are
// skipped when a class is resolved, and join it once libseccomp knows them.

// Tables keep their hand-made columns.
// clang-format off
constexpr std::array kFile = {
    "open"sv,              "stat"sv,              "lstat"sv,             "access"sv,
    "execve"sv,            "truncate"sv,          "getcwd"sv,            "chdir"sv,
    "rename"sv,            "mkdir"sv,             "rmdir"sv,             "creat"sv,
    "link"sv,              "unlink"sv,            "symlink"sv,           "readlink"sv,
    "chmod"sv,             "chown"sv,             "lchown"sv,            "utime"sv,
    "mknod"sv,             "uselib"sv,            "statfs"sv,            "pivot_root"sv,
    "chroot"sv,            "acct"sv,              "mount"sv,             "umount2"sv,
    "swapon"sv,            "swapoff"sv,           "quotactl"sv,          "setxattr"sv,
    "lsetxattr"sv,         "getxattr"sv,          "lgetxattr"sv,         "listxattr"sv,
    "llistxattr"sv,        "removexattr"sv,       "lremovexattr"sv,      "utimes"sv,
    "inotify_add_watch"sv, "openat"sv,            "mkdirat"sv,           "mknodat"sv,
    "fchownat"sv,          "futimesat"sv,         "newfstatat"sv,        "unlinkat"sv,
    "renameat"sv,          "linkat"sv,            "symlinkat"sv,         "readlinkat"sv,
    "fchmodat"sv,          "faccessat"sv,         "utimensat"sv,         "fanotify_mark"sv,
    "name_to_handle_at"sv, "renameat2"sv,         "execveat"sv,          "statx"sv,
    "open_tree"sv,         "move_mount"sv,        "fsconfig"sv,          "fspick"sv,
    "openat2"sv,           "faccessat2"sv,        "mount_setattr"sv,     "fchmodat2"sv,
    "setxattrat"sv,        "getxattrat"sv,
};

constexpr std::array kNet = {
    "sendfile"sv,    "socket"sv,      "connect"sv,     "accept"sv,      "sendto"sv,
    "recvfrom"sv,    "sendmsg"sv,     "recvmsg"sv,     "shutdown"sv,    "bind"sv,
    "listen"sv,      "getsockname"sv, "getpeername"sv, "socketpair"sv,  "setsockopt"sv,
    "getsockopt"sv,  "getpmsg"sv,     "putpmsg"sv,     "accept4"sv,     "recvmmsg"sv,
    "sendmmsg"sv,
};

constexpr std::array kProcess = {
    "clone"sv,             "fork"sv,              "vfork"sv,             "execve"sv,
    "exit"sv,              "wait4"sv,             "kill"sv,              "rt_sigqueueinfo"sv,
    "tkill"sv,             "exit_group"sv,        "tgkill"sv,            "waitid"sv,
    "rt_tgsigqueueinfo"sv, "execveat"sv,          "pidfd_send_signal"sv, "clone3"sv,
};

constexpr std::array kSignal = {
    "rt_sigaction"sv,      "rt_sigprocmask"sv,    "rt_sigreturn"sv,      "pause"sv,
    "kill"sv,              "rt_sigpending"sv,     "rt_sigtimedwait"sv,   "rt_sigqueueinfo"sv,
    "rt_sigsuspend"sv,     "sigaltstack"sv,       "tkill"sv,             "tgkill"sv,
    "signalfd"sv,          "signalfd4"sv,         "rt_tgsigqueueinfo"sv, "pidfd_send_signal"sv,
    "io_uring_enter"sv,
};

constexpr std::array kMemory = {
    "mmap"sv,                    "mprotect"sv,                "munmap"sv,
    "brk"sv,                     "mremap"sv,                  "msync"sv,
    "mincore"sv,                 "madvise"sv,                 "shmat"sv,
    "shmdt"sv,                   "mlock"sv,                   "munlock"sv,
    "mlockall"sv,                "munlockall"sv,              "io_setup"sv,
    "io_destroy"sv,              "remap_file_pages"sv,        "mbind"sv,
    "set_mempolicy"sv,           "get_mempolicy"sv,           "migrate_pages"sv,
    "move_pages"sv,              "mlock2"sv,                  "pkey_mprotect"sv,
    "io_uring_register"sv,       "set_mempolicy_home_node"sv, "map_shadow_stack"sv,
    "mseal"sv,
};

constexpr std::array kIpc = {
    "shmget"sv,     "shmat"sv,      "shmctl"sv,     "semget"sv,     "semop"sv,      "semctl"sv,
    "shmdt"sv,      "msgget"sv,     "msgsnd"sv,     "msgrcv"sv,     "msgctl"sv,     "semtimedop"sv,
};

constexpr std::array kDesc = {
    "read"sv,                    "write"sv,                   "open"sv,
    "close"sv,                   "fstat"sv,                   "poll"sv,
    "lseek"sv,                   "mmap"sv,                    "ioctl"sv,
    "pread64"sv,                 "pwrite64"sv,                "readv"sv,
    "writev"sv,                  "pipe"sv,                    "select"sv,
    "dup"sv,                     "dup2"sv,                    "sendfile"sv,
    "fcntl"sv,                   "flock"sv,                   "fsync"sv,
    "fdatasync"sv,               "ftruncate"sv,               "getdents"sv,
    "fchdir"sv,                  "creat"sv,                   "fchmod"sv,
    "fchown"sv,                  "fstatfs"sv,                 "readahead"sv,
    "fsetxattr"sv,               "fgetxattr"sv,               "flistxattr"sv,
    "fremovexattr"sv,            "epoll_create"sv,            "getdents64"sv,
    "fadvise64"sv,               "epoll_wait"sv,              "epoll_ctl"sv,
    "mq_open"sv,                 "mq_timedsend"sv,            "mq_timedreceive"sv,
    "mq_notify"sv,               "mq_getsetattr"sv,           "inotify_init"sv,
    "inotify_add_watch"sv,       "inotify_rm_watch"sv,        "openat"sv,
    "mkdirat"sv,                 "mknodat"sv,                 "fchownat"sv,
    "futimesat"sv,               "newfstatat"sv,              "unlinkat"sv,
    "renameat"sv,                "linkat"sv,                  "symlinkat"sv,
    "readlinkat"sv,              "fchmodat"sv,                "faccessat"sv,
    "pselect6"sv,                "ppoll"sv,                   "splice"sv,
    "tee"sv,                     "sync_file_range"sv,         "vmsplice"sv,
    "utimensat"sv,               "epoll_pwait"sv,             "signalfd"sv,
    "timerfd_create"sv,          "eventfd"sv,                 "fallocate"sv,
    "timerfd_settime"sv,         "timerfd_gettime"sv,         "signalfd4"sv,
    "eventfd2"sv,                "epoll_create1"sv,           "dup3"sv,
    "pipe2"sv,                   "inotify_init1"sv,           "preadv"sv,
    "pwritev"sv,                 "perf_event_open"sv,         "fanotify_init"sv,
    "fanotify_mark"sv,           "name_to_handle_at"sv,       "open_by_handle_at"sv,
    "syncfs"sv,                  "setns"sv,                   "finit_module"sv,
    "renameat2"sv,               "memfd_create"sv,            "kexec_file_load"sv,
    "bpf"sv,                     "execveat"sv,                "userfaultfd"sv,
    "copy_file_range"sv,         "preadv2"sv,                 "pwritev2"sv,
    "statx"sv,                   "pidfd_send_signal"sv,       "io_uring_setup"sv,
    "io_uring_enter"sv,          "io_uring_register"sv,       "open_tree"sv,
    "move_mount"sv,              "fsopen"sv,                  "fsconfig"sv,
    "fsmount"sv,                 "fspick"sv,                  "pidfd_open"sv,
    "openat2"sv,                 "pidfd_getfd"sv,             "faccessat2"sv,
    "process_madvise"sv,         "epoll_pwait2"sv,            "mount_setattr"sv,
    "quotactl_fd"sv,             "landlock_create_ruleset"sv, "landlock_add_rule"sv,
    "landlock_restrict_self"sv,  "memfd_secret"sv,            "process_mrelease"sv,
    "cachestat"sv,               "fchmodat2"sv,               "setxattrat"sv,
    "getxattrat"sv,
};

// The stat families as strace splits them (TST, TLST, TFST, TSTA; TSF, TFSF, TSFA): the call that
// names a file, the one that does not follow its last link, the ones that take a descriptor, and
// all of them. fstatat (newfstatat on x86_64) and statx take a descriptor, so strace files them
// under %fstat.
constexpr std::array kStat = {"stat"sv};
constexpr std::array kLstat = {"lstat"sv};
constexpr std::array kFstat = {"fstat"sv, "newfstatat"sv, "statx"sv};
constexpr std::array kAnyStat = {"stat"sv, "fstat"sv, "lstat"sv, "newfstatat"sv, "statx"sv};
constexpr std::array kStatfs = {"statfs"sv};
constexpr std::array kFstatfs = {"fstatfs"sv};
constexpr std::array kAnyStatfs = {"ustat"sv, "statfs"sv, "fstatfs"sv};

constexpr std::array kCreds = {
    "getuid"sv,    "getgid"sv,    "setuid"sv,    "setgid"sv,    "geteuid"sv,   "getegid"sv,
    "setreuid"sv,  "setregid"sv,  "getgroups"sv, "setgroups"sv, "setresuid"sv, "getresuid"sv,
    "setresgid"sv, "getresgid"sv, "setfsuid"sv,  "setfsgid"sv,  "capget"sv,    "capset"sv,
    "prctl"sv,
};

constexpr std::array kClock = {
    "gettimeofday"sv,  "settimeofday"sv,  "time"sv,          "adjtimex"sv,
    "clock_settime"sv, "clock_gettime"sv, "clock_getres"sv,  "clock_adjtime"sv,
};

// strace's %pure: calls that take no argument and always succeed (its x86_64 table).
constexpr std::array kPure = {
    "getpid"sv, "getppid"sv, "gettid"sv, "getpgrp"sv,
    "getuid"sv, "geteuid"sv, "getgid"sv, "getegid"sv,
};

// clang-format on

constexpr std::array<SyscallClass, 17> kClasses = {{
    {"%file", "takes a file name argument", kFile},
    {"%net", "network: creates, connects or moves data through a socket", kNet},
    {"%process", "process lifecycle: creates, runs, waits for or ends a process or thread",
     kProcess},
    {"%signal", "signal related: sends, waits for or sets the handling of signals", kSignal},
    {"%memory", "memory mapping: changes the address space or its properties", kMemory},
    {"%ipc", "SysV IPC: shared memory, semaphores and message queues", kIpc},
    {"%desc", "takes or returns a file descriptor", kDesc},
    {"%stat", "asks for the status of a named file, following links", kStat},
    {"%lstat", "asks for the status of a named file, not following its last link", kLstat},
    {"%fstat", "asks for the status of a file through a descriptor (or one relative to it)",
     kFstat},
    {"%%stat", "asks for the status of a file, in any of the ways above", kAnyStat},
    {"%statfs", "asks for the status of the file system holding a named file", kStatfs},
    {"%fstatfs", "asks for the status of the file system holding a descriptor's file", kFstatfs},
    {"%%statfs", "asks for the status of a file system, in any of the ways above", kAnyStatfs},
    {"%creds", "reads or changes user and group ids or capability sets", kCreds},
    {"%clock", "reads or changes a system clock", kClock},
    {"%pure", "takes no argument and always succeeds (getpid, getuid, ...)", kPure},
}};

struct ClassAlias {
  std::string_view alias;
  std::string_view name;
};
constexpr std::array<ClassAlias, 1> kClassAliases = {{{"%network", "%net"}}};

// Calls that the rules of a module judge by number although the installed libseccomp may not
// know them (syscall_args.h): named here so that traces, messages and policies speak of them
// by name. They stay out of AllSyscalls() until libseccomp knows them.
constexpr std::pair<int, std::string_view> kNewerThanLibseccomp[] = {
    {452, "fchmodat2"},     {463, "setxattrat"},   {464, "getxattrat"}, {465, "listxattrat"},
    {466, "removexattrat"}, {468, "file_getattr"}, {469, "file_setattr"},
};

std::optional<std::string_view> NewerCallName(int nr) {
  for (const auto& [number, name] : kNewerThanLibseccomp) {
    if (number == nr) {
      return name;
    }
  }
  return std::nullopt;
}

// Numbers 0..kCapacity-1 that libseccomp resolves on the native arch, with their names, and the
// "syscall_<nr>" fallbacks for the others, so every in-range name is a view of stable storage.
struct NativeTable {
  std::array<std::string, SyscallSet::kCapacity> names;
  SyscallSet known;
};

const NativeTable& Native() {
  static const auto* const table = [] {
    auto* t = new NativeTable;
    for (int nr = 0; nr < SyscallSet::kCapacity; ++nr) {
      // Returns a malloc()ed string, or NULL when the arch has no call `nr`.
      char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
      if (name != nullptr) {
        t->names[static_cast<size_t>(nr)] = name;
        t->known.Add(nr);
        free(name);
      } else if (std::optional<std::string_view> newer = NewerCallName(nr)) {
        t->names[static_cast<size_t>(nr)] = std::string(*newer);
      } else {
        t->names[static_cast<size_t>(nr)] = fmt::format("syscall_{}", nr);
      }
    }
    return t;
  }();
  return *table;
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions, which are the
// common typo ("opne").
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// "; did you mean "x"?" for the closest candidate, or "" when none is close enough to be a typo
// (at most 2 edits, and fewer than half the word).
template <typename Names>
std::string Suggestion(std::string_view word, const Names& candidates) {
  std::string_view best;
  size_t best_distance = 3;
  for (std::string_view c : candidates) {
    size_t distance = EditDistance(word, c);
    if (distance < best_distance && 2 * distance < word.size()) {
      best = c;
      best_distance = distance;
    }
  }
  return best.empty() ? std::string() : fmt::format("; did you mean \"{}\"?", best);
}

const SyscallClass* FindClass(std::string_view name) {
  for (const ClassAlias& a : kClassAliases) {
    if (a.alias == name) {
      name = a.name;
    }
  }
  for (const SyscallClass& c : kClasses) {
    if (c.name == name) {
      return &c;
    }
  }
  return nullptr;
}

Result<SyscallSet> ResolveClass(std::string_view spec) {
  if (spec == "%all") {
    return AllSyscalls();
  }
  const SyscallClass* cls = FindClass(spec);
  if (cls == nullptr) {
    std::vector<std::string_view> known;
    for (const SyscallClass& c : kClasses) {
      known.push_back(c.name);
    }
    for (const ClassAlias& a : kClassAliases) {
      known.push_back(a.alias);
    }
    known.push_back("%all");
    return MakeError(fmt::format("unknown syscall class \"{}\" (known: {}){}", spec,
                                 fmt::join(known, ", "), Suggestion(spec, known)));
  }
  SyscallSet set;
  for (std::string_view member : cls->members) {
    if (std::optional<int> nr = SyscallNumber(member)) {
      set.Add(*nr);
    }
  }
  return set;
}

}  // namespace

std::string SyscallNames(const SyscallSet& set, std::string_view separator) {
  std::string out;
  for (int nr : set.Numbers()) {
    if (!out.empty()) {
      out += separator;
    }
    out += SyscallName(nr);
  }
  return out;
}

std::string_view SyscallName(int nr) {
  if (nr >= 0 && nr < SyscallSet::kCapacity) {
    return Native().names[static_cast<size_t>(nr)];
  }
  // std::map nodes never move, so views of cached names stay valid as the map grows.
  constexpr size_t kMaxOutOfRange = 1024;
  static std::mutex mu;
  static auto* const out_of_range = new std::map<int, std::string>;
  std::lock_guard lock(mu);
  auto it = out_of_range->find(nr);
  if (it != out_of_range->end()) {
    return it->second;
  }
  if (out_of_range->size() >= kMaxOutOfRange) {
    return "syscall_?";
  }
  return out_of_range->emplace(nr, fmt::format("syscall_{}", nr)).first->second;
}

std::optional<int> SyscallNumber(std::string_view name) {
  // libseccomp wants a NUL-terminated name, so one with a NUL inside would resolve its prefix.
  if (name.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string copy(name);
  int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_NATIVE, copy.c_str());
  if (nr < 0) {  // __NR_SCMP_ERROR, or a __PNR_* pseudo-number: not a call of this arch
    for (const auto& [number, known] : kNewerThanLibseccomp) {
      if (known == name) {
        return number;
      }
    }
    return std::nullopt;
  }
  return nr;
}

SyscallSet AllSyscalls() { return Native().known; }

std::span<const SyscallClass> Classes() { return kClasses; }

Result<SyscallSet> ResolveSyscallSpec(std::string_view spec) {
  if (spec.empty()) {
    return MakeError("empty syscall name");
  }
  if (spec == "all") {
    return AllSyscalls();
  }
  if (spec.front() == '%') {
    return ResolveClass(spec);
  }
  if (std::optional<int> nr = SyscallNumber(spec)) {
    SyscallSet set;
    set.Add(*nr);
    return set;
  }
  std::vector<std::string_view> names;
  for (int nr : AllSyscalls().Numbers()) {
    names.push_back(SyscallName(nr));
  }
  return MakeError(fmt::format("unknown syscall \"{}\"{}", spec, Suggestion(spec, names)));
}

}  // namespace hijack::syscalls
