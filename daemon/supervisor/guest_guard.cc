#include "daemon/supervisor/guest_guard.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <limits>
#include <memory>
#include <spdlog/spdlog.h>
#include <string_view>

#include "daemon/launcher/landlock_ruleset.h"
#include "daemon/launcher/landlock_scope.h"
#include "daemon/policy/admission.h"
#include "daemon/syscalls/syscall_table.h"

namespace hijack::supervisor {
namespace {

// How GuestGuard finds the process a call is aimed at.
enum class Target {
  kKillPid,        // kill(2): pid > 0 a process, 0 the caller's group, -1 all, < -1 a group
  kProcess,        // a process id in argument `arg`; <= 0 the kernel refuses itself
  kProcessOrSelf,  // prlimit64(2): 0 is the caller
  kThread,         // tkill(2): a thread id, judged by its process
  kPidfd,          // a pidfd in argument `arg` (pidfd_getfd(2), process_madvise(2))
  kPtrace,         // ptrace(2): PTRACE_TRACEME names no one; otherwise the pid in arg 1
  kTwoProcesses,   // kcmp(2): both pids
  kPriority,       // setpriority(2): PRIO_PROCESS, PRIO_PGRP or PRIO_USER
  kIoPriority,     // ioprio_set(2): IOPRIO_WHO_PROCESS, IOPRIO_WHO_PGRP or IOPRIO_WHO_USER
  kFcntl,          // fcntl(2) F_SETOWN / F_SETOWN_EX: who receives SIGIO
  kIoctl,          // ioctl(2) FIOSETOWN / SIOCSPGRP: the same through a pointer
  kRefuse,         // refused outright while cross-tree refusal is on (see the reason)
};

// One call the guard judges by its target. `always`: Landlock does not scope it, so the guard
// sees it whatever the kernel has; otherwise only when Landlock scoping is absent.
struct GuardedCall {
  int nr;
  Target target;
  int arg;
  bool always;
  int refuse_errno;  // kRefuse only
  const char* why;
};

constexpr GuardedCall kGuardedCalls[] = {
    {SYS_kill, Target::kKillPid, 0, false, 0, "signals a process or a group"},
    {SYS_tkill, Target::kThread, 0, false, 0, "signals a thread"},
    {SYS_tgkill, Target::kProcess, 0, false, 0, "signals a thread of a process"},
    {SYS_rt_sigqueueinfo, Target::kProcess, 0, false, 0, "queues a signal to a process"},
    {SYS_rt_tgsigqueueinfo, Target::kProcess, 0, false, 0, "queues a signal to a thread"},
    // The descriptor it names could be swapped by another thread between the check and the
    // call, and a /proc/PID directory is accepted in place of a pidfd: no check can hold.
    // ENOSYS, as a kernel without pidfds says, sends callers back to kill(2), which is judged.
    {SYS_pidfd_send_signal, Target::kRefuse, 0, false, ENOSYS,
     "signals through a descriptor that may change under the check"},
    {SYS_pidfd_open, Target::kProcess, 0, false, 0, "opens a pidfd of a process"},
    {SYS_pidfd_getfd, Target::kPidfd, 0, false, 0, "takes a descriptor of another process"},
    {SYS_process_madvise, Target::kPidfd, 0, false, 0, "advises on another process's memory"},
    {SYS_ptrace, Target::kPtrace, 1, false, 0, "traces a process"},
    {SYS_process_vm_readv, Target::kProcess, 0, false, 0, "reads another process's memory"},
    {SYS_process_vm_writev, Target::kProcess, 0, false, 0, "writes another process's memory"},
    {SYS_kcmp, Target::kTwoProcesses, 0, false, 0, "compares other processes' resources"},
    // Since Linux 6.13 a file handle of pidfs opens a pidfd of any process without
    // pidfd_open(2); every other use needs CAP_DAC_READ_SEARCH, which guests rarely hold.
    {SYS_open_by_handle_at, Target::kRefuse, 0, false, EPERM,
     "can open a pidfd of any process from a pidfs file handle"},
    {SYS_fcntl, Target::kFcntl, 0, false, 0, "names who receives SIGIO"},
    {SYS_ioctl, Target::kIoctl, 0, false, 0, "names who receives SIGIO"},
    {SYS_prlimit64, Target::kProcessOrSelf, 0, true, 0, "changes another process's limits"},
    {SYS_setpriority, Target::kPriority, 0, true, 0, "changes other processes' priority"},
    // Same uid suffices for these, and Landlock does not scope them: a guest could pin hijackd
    // to one CPU or make it SCHED_IDLE, and starve every guest's supervision.
    {SYS_sched_setaffinity, Target::kProcessOrSelf, 0, true, 0, "moves a process between CPUs"},
    {SYS_sched_setscheduler, Target::kProcessOrSelf, 0, true, 0, "changes a process's policy"},
    {SYS_sched_setparam, Target::kProcessOrSelf, 0, true, 0, "changes a process's priority"},
    {SYS_sched_setattr, Target::kProcessOrSelf, 0, true, 0, "changes a process's scheduling"},
    {SYS_ioprio_set, Target::kIoPriority, 0, true, 0, "changes other processes' I/O priority"},
};

const GuardedCall* FindGuarded(int nr) {
  for (const auto& c : kGuardedCalls) {
    if (c.nr == nr) {
      return &c;
    }
  }
  return nullptr;
}

// What the first argument of setpriority(2) and ioprio_set(2) names; `who`, the second, is a
// process, a group or a user id accordingly, 0 meaning the caller's own.
enum class Which { kProcess, kGroup, kUser, kInvalid };

Which PriorityWhich(Target target, uint64_t which) {
  if (target == Target::kPriority) {
    switch (which) {
      case PRIO_PROCESS:
        return Which::kProcess;
      case PRIO_PGRP:
        return Which::kGroup;
      case PRIO_USER:
        return Which::kUser;
      default:
        return Which::kInvalid;
    }
  }
  // include/uapi/linux/ioprio.h: IOPRIO_WHO_PROCESS 1, IOPRIO_WHO_PGRP 2, IOPRIO_WHO_USER 3.
  switch (which) {
    case 1:
      return Which::kProcess;
    case 2:
      return Which::kGroup;
    case 3:
      return Which::kUser;
    default:
      return Which::kInvalid;
  }
}

constexpr int kIoUringCalls[] = {SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register};

// Deep enough for any real process tree; a loop in what /proc says ends here too.
constexpr int kMaxAncestry = 4096;
// Refusals logged per guest; later ones are still counted as events.
constexpr int kMaxWarnings = 16;

// Fields of /proc/PID/stat after the command name (proc_pid_stat(5)): state ppid pgrp ...
struct ProcStat {
  pid_t ppid = -1;
  pid_t pgrp = -1;
};

std::optional<ProcStat> ReadStat(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return std::nullopt;
  }
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  char state = 0;
  ProcStat st;
  if (std::sscanf(line.c_str() + close + 1, " %c %d %d", &state, &st.ppid, &st.pgrp) != 3) {
    return std::nullopt;
  }
  return st;
}

// The value of `key` ("Tgid:", "Pid:") in a /proc file of "key:\tvalue" lines, or -1.
pid_t ReadProcField(const char* path, std::string_view key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(key)) {
      std::string_view value(line);
      value.remove_prefix(key.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      pid_t out = -1;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
      return ec == std::errc() ? out : -1;
    }
  }
  return -1;
}

pid_t ThreadGroupOf(pid_t tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", tid);
  return ReadProcField(path, "Tgid:");
}

// The process a pidfd of thread `tid` refers to (the "Pid:" line of its fdinfo, in the
// supervisor's pid namespace), 0 when `fd` is no pidfd, -1 when it cannot be read.
pid_t PidfdTarget(pid_t tid, uint64_t fd) {
  if (fd > static_cast<uint64_t>(INT32_MAX)) {
    return 0;  // the kernel answers EBADF
  }
  char path[96];
  std::snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", tid, static_cast<int>(fd));
  if (access(path, R_OK) != 0) {
    return errno == ENOENT ? 0 : -1;  // no such descriptor: the kernel answers EBADF
  }
  // No "Pid:" line: no pidfd (EBADF); "Pid: -1": its process is gone (ESRCH).
  const pid_t pid = ReadProcField(path, "Pid:");
  return pid == -1 ? 0 : pid;
}

bool Enforces(const policy::PolicySet& policy) {
  for (const auto& m : policy.modules()) {
    if (m->Enforces()) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool ProtectionLayers::floor_active() const {
  for (const KernelFloor& f : floors) {
    if (!f.empty()) {
      return true;
    }
  }
  return false;
}

ProtectionLayers ProbeProtection(const GuardOptions& options) {
  static const int kernel_abi = launcher::LandlockAbi();
  const int abi = options.landlock_abi_max >= 0 ? std::min(kernel_abi, options.landlock_abi_max)
                                                : kernel_abi;
  ProtectionLayers l;
  l.landlock_floor_wanted = options.landlock_floor;
  l.supervisor_not_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0;
  l.landlock_abi = abi;
  l.landlock_scope = options.landlock_scope && abi >= launcher::kLandlockScopeAbi;
  l.refuse_cross_tree = !l.landlock_scope;
  l.allow_io_uring = options.allow_io_uring;
  l.policy_fixed = options.policy_fixed;
  return l;
}

bool AddKernelFloors(ProtectionLayers& layers, const policy::PolicySet& policy,
                     const std::string& exe, const std::string& agent_library) {
  layers.floors = policy::FloorsOf(policy);
  const int abi = layers.landlock_floor_wanted ? layers.landlock_abi : 0;
  bool lost = false;
  for (KernelFloor& f : layers.floors) {
    if (f.fs_handled != 0) {
      for (const std::string& file : launcher::ExecFiles(exe)) {
        f.trees.push_back({file, kFloorRead | kFloorExec, "the program's start (execve)"});
      }
      if (!agent_library.empty()) {
        f.trees.push_back({agent_library, kFloorRead, "the agent library"});
      }
    }
    const bool wanted = !f.empty();
    f = launcher::FitFloorToAbi(std::move(f), abi);
    lost = lost || (wanted && f.empty());
  }
  return lost;
}

SyscallSet GuardSyscalls(const ProtectionLayers& layers) {
  SyscallSet out;
  for (const auto& c : kGuardedCalls) {
    if (c.always || layers.refuse_cross_tree) {
      out.Add(c.nr);
    }
  }
  if (!layers.allow_io_uring) {
    for (int nr : kIoUringCalls) {
      out.Add(nr);
    }
  }
  out.Add(SYS_seccomp);
  return out;
}

std::vector<ProtectionLayers::Layer> ProtectionLayers::Describe() const {
  std::vector<Layer> out;
  out.push_back({"not-dumpable", supervisor_not_dumpable,
                 supervisor_not_dumpable
                     ? "hijackd and its helpers cannot be traced, read, written or robbed of "
                       "descriptors by a guest (PR_SET_DUMPABLE 0)"
                     : "this supervisor is dumpable: a guest of its uid may trace it"});
  std::string landlock;
  if (landlock_scope) {
    landlock = "Landlock ABI " + std::to_string(landlock_abi) +
               ": the guest's signals, abstract unix sockets and ptrace access stay inside its "
               "tree";
  } else if (landlock_abi >= launcher::kLandlockScopeAbi) {
    landlock = "turned off at launch (Landlock ABI " + std::to_string(landlock_abi) + ")";
  } else if (landlock_abi > 0) {
    landlock = "Landlock ABI " + std::to_string(landlock_abi) + " has no scoping (needs 6)";
  } else {
    landlock = "no Landlock on this kernel";
  }
  out.push_back({"landlock-scope", landlock_scope, landlock});
  std::string floor_detail;
  size_t held = 0, module_only = 0;
  for (const KernelFloor& f : floors) {
    held += f.held.size();
    module_only += f.module_only.size();
    std::string what;
    if (f.fs_handled != 0) {
      what = "file access outside " + std::to_string(f.trees.size()) + " trees";
    }
    for (const auto& [ports, op] : {std::pair{&f.tcp_connect, "TCP connect"},
                                    std::pair{&f.tcp_bind, "TCP bind"}}) {
      if (ports->handled) {
        what += (what.empty() ? "" : ", ") + std::string(op) + " to other ports";
      }
    }
    if (!what.empty()) {
      floor_detail += (floor_detail.empty() ? "" : "; ") + f.source + " denies " + what;
    }
  }
  if (floor_active()) {
    floor_detail = "Landlock ABI " + std::to_string(landlock_abi) + ": " + floor_detail + " (" +
                   std::to_string(held) + " rules kernel-enforced, " +
                   std::to_string(module_only) + " module-only)";
  } else if (!landlock_floor_wanted) {
    floor_detail = "turned off at launch (--no-landlock): the modules alone enforce";
  } else if (floors.empty()) {
    floor_detail = "no fs_guard, exec_guard or net_guard rules to hold";
  } else if (landlock_abi == 0) {
    floor_detail = "no Landlock on this kernel: the modules alone enforce";
  } else {
    floor_detail = "Landlock ABI " + std::to_string(landlock_abi) +
                   " cannot hold these rules: the modules alone enforce";
  }
  out.push_back({"landlock-floor", floor_active(), floor_detail});
  for (const KernelFloor& f : floors) {
    for (const KernelFloor::Held& h : f.held) {
      out.push_back({"kernel-enforced", true, f.source + ": " + h.rule + ": " + h.how});
    }
    for (const KernelFloor::ModuleOnly& m : f.module_only) {
      out.push_back({"module-only", false, f.source + ": " + m.rule + ": " + m.reason});
    }
  }
  out.push_back(
      {"cross-tree-refusal", refuse_cross_tree,
       refuse_cross_tree
           ? "the supervisor refuses kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, "
             "pidfd_open, pidfd_getfd, process_madvise, ptrace, process_vm_readv, "
             "process_vm_writev, kcmp, F_SETOWN aimed outside the guest's tree (EPERM), "
             "pidfd_send_signal (ENOSYS) and open_by_handle_at (EPERM)"
           : "not needed: Landlock scoping holds it"});
  out.push_back({"target-limits", true,
                 "prlimit64, setpriority, ioprio_set and sched_set{affinity,scheduler,param,attr} "
                 "aimed outside the guest's tree are refused (EPERM)"});
  const char* when = policy_fixed ? "while the policy enforces"
                                  : "from the start (a later policy may enforce)";
  out.push_back({"io-uring-refused", !allow_io_uring,
                 allow_io_uring ? "allowed at launch: io_uring operations bypass every policy"
                                : std::string("io_uring_setup, io_uring_enter and "
                                              "io_uring_register fail with ENOSYS ") +
                                      when});
  out.push_back({"seccomp-listener-refused", true,
                 std::string("a seccomp filter of the guest's own with a listener fails with "
                             "EBUSY ") +
                     when});
  return out;
}

std::string ProtectionLayers::Summary() const {
  std::string out;
  for (const auto& layer : Describe()) {
    if (!layer.active || layer.name == "kernel-enforced" || layer.name == "module-only") {
      continue;
    }
    if (!out.empty()) {
      out += ", ";
    }
    out += layer.name;
    if (layer.name == "landlock-scope") {
      out += " (ABI " + std::to_string(landlock_abi) + ")";
    }
  }
  if (!landlock_scope) {
    out += "; no landlock-scope: " + Describe()[1].detail;
  }
  return out;
}

void GuestGuard::SetRoot(pid_t root, bool contained) {
  pid_t init = -1;
  if (contained) {
    // The guest's parent is its namespace's init (launcher/namespace_init.h); read once, while
    // the guest cannot have run yet (it waits for the supervisor before its first call).
    auto st = ReadStat(root);
    init = st ? st->ppid : -1;
  }
  init_.store(init);
  contained_.store(contained);
  root_.store(root);
}

bool GuestGuard::InTree(pid_t pid) const {
  const pid_t root = root_.load();
  if (root <= 0 || pid <= 0) {
    return false;
  }
  // kill(2) and its kin accept a thread id for its process.
  pid_t cur = ThreadGroupOf(pid);
  const pid_t self = getpid();
  const pid_t init = contained_.load() ? init_.load() : -1;
  for (int depth = 0; cur > 0 && depth < kMaxAncestry; ++depth) {
    if (cur == root) {
      return true;
    }
    if (cur == init) {
      // An orphan of the tree, adopted by the namespace's init: the tree's, and it ends with
      // it. The init itself is not.
      return depth > 0;
    }
    if (cur == self) {
      return false;  // the supervisor, or an orphan of the tree it adopted as subreaper
    }
    auto st = ReadStat(cur);
    if (!st) {
      return false;
    }
    cur = st->ppid;
  }
  return false;
}

bool GuestGuard::GroupInTree(pid_t pgrp) const {
  if (pgrp <= 0) {
    return false;
  }
  std::unique_ptr<DIR, int (*)(DIR*)> proc(opendir("/proc"), closedir);
  if (!proc) {
    return false;
  }
  while (dirent* e = readdir(proc.get())) {
    pid_t pid = 0;
    std::string_view name(e->d_name);
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (ec != std::errc() || end != name.data() + name.size()) {
      continue;
    }
    auto st = ReadStat(pid);
    if (st && st->pgrp == pgrp && !InTree(pid)) {
      return false;
    }
  }
  return true;  // an empty group: the kernel answers ESRCH
}

bool GuestGuard::ArgInTree(pid_t pid) const {
  if (contained_.load()) {
    // pid_namespaces(7): kill(2), ptrace(2), pidfd_open(2) and the rest resolve the number in
    // the caller's namespace, where every process but the init (1) is the guest's tree.
    return root_.load() > 0 && pid > 1;
  }
  return InTree(pid);
}

bool GuestGuard::ArgGroupInTree(pid_t pgrp) const {
  if (contained_.load()) {
    // A group named by number is one led inside the namespace (a group led outside has no
    // number there: ESRCH), so its members are the guest's, unless the init leads it.
    return root_.load() > 0 && pgrp > 1;
  }
  return GroupInTree(pgrp);
}

std::optional<Decision> GuestGuard::DecideTarget(const SyscallEvent& call) const {
  const GuardedCall* guarded = FindGuarded(call.nr);
  if (guarded == nullptr || (!guarded->always && !layers_.refuse_cross_tree)) {
    return std::nullopt;
  }
  const auto as_pid = [&](int i) { return static_cast<pid_t>(static_cast<int32_t>(call.args[i])); };
  const auto caller_group = [&]() -> pid_t {
    auto st = ReadStat(call.pid);
    return st ? st->pgrp : -1;
  };
  bool allowed = true;
  std::string target;
  switch (guarded->target) {
    case Target::kKillPid: {
      const pid_t pid = as_pid(0);
      if (pid > 0) {
        allowed = ArgInTree(pid);
        target = "process " + std::to_string(pid);
      } else if (pid == 0) {
        allowed = GroupInTree(caller_group());
        target = "its own process group, which holds processes outside its tree";
      } else if (pid == -1) {
        // Contained, the kernel signals only the namespace's processes but its init (kill(2)).
        allowed = contained_.load();
        target = "every process it may signal";
      } else if (pid == std::numeric_limits<pid_t>::min()) {
        // No such group: the kernel answers ESRCH (and -pid would overflow).
      } else {
        allowed = ArgGroupInTree(-pid);
        target = "process group " + std::to_string(-pid);
      }
      break;
    }
    case Target::kProcess:
    case Target::kProcessOrSelf: {
      const pid_t pid = as_pid(guarded->arg);
      if (pid > 0) {
        allowed = ArgInTree(pid);
        target = "process " + std::to_string(pid);
      }
      break;
    }
    case Target::kThread: {
      const pid_t tid = as_pid(0);
      if (tid > 0) {
        allowed = ArgInTree(tid);
        target = "thread " + std::to_string(tid);
      }
      break;
    }
    case Target::kPidfd: {
      const pid_t pid = PidfdTarget(call.tid, call.args[0]);
      if (pid != 0) {
        allowed = InTree(pid);
        target = "process " + std::to_string(pid) + " (pidfd " + std::to_string(call.args[0]) +
                 ")";
      }
      break;
    }
    case Target::kPtrace:
      if (call.args[0] != PTRACE_TRACEME) {
        const pid_t pid = as_pid(1);
        if (pid > 0) {
          allowed = ArgInTree(pid);
          target = "process " + std::to_string(pid);
        }
      }
      break;
    case Target::kTwoProcesses:
      for (int i : {0, 1}) {
        const pid_t pid = as_pid(i);
        if (pid > 0 && !ArgInTree(pid)) {
          allowed = false;
          target = "process " + std::to_string(pid);
        }
      }
      break;
    case Target::kPriority:
    case Target::kIoPriority: {
      const pid_t who = as_pid(1);
      switch (PriorityWhich(guarded->target, call.args[0])) {
        case Which::kProcess:
          if (who != 0) {
            allowed = ArgInTree(who);
            target = "process " + std::to_string(who);
          }
          break;
        case Which::kGroup:
          allowed = who == 0 ? GroupInTree(caller_group()) : ArgGroupInTree(who);
          target = "a process group with processes outside its tree";
          break;
        case Which::kUser:
          allowed = false;
          target = "every process of a user";
          break;
        case Which::kInvalid:
          break;  // EINVAL from the kernel
      }
      break;
    }
    case Target::kFcntl: {
      const auto cmd = static_cast<int>(call.args[1]);
      if (cmd == F_SETOWN) {
        const pid_t owner = as_pid(2);
        if (owner > 0) {
          allowed = ArgInTree(owner);
          target = "process " + std::to_string(owner) + " (as SIGIO owner)";
        } else if (owner < 0 && owner != std::numeric_limits<pid_t>::min()) {  // INT_MIN: EINVAL
          allowed = ArgGroupInTree(-owner);
          target = "process group " + std::to_string(-owner) + " (as SIGIO owner)";
        }
      } else if (cmd == F_SETOWN_EX) {
        // The owner is read through a pointer another thread may rewrite after the check.
        allowed = false;
        target = "an owner named through memory (F_SETOWN_EX; use F_SETOWN)";
      }
      break;
    }
    case Target::kIoctl: {
      const auto request = static_cast<uint32_t>(call.args[1]);
      if (request == FIOSETOWN || request == SIOCSPGRP) {
        allowed = false;
        target = "an owner named through memory (FIOSETOWN/SIOCSPGRP; use F_SETOWN)";
      }
      break;
    }
    case Target::kRefuse:
      if (warnings_ < kMaxWarnings) {
        ++warnings_;
        spdlog::warn("guest {}: pid {}: {} refused ({}): it {}", call.guest_id, call.pid,
                     syscalls::SyscallName(call.nr), strerrorname_np(guarded->refuse_errno),
                     guarded->why);
      }
      return Decision::Fail(guarded->refuse_errno);
  }
  if (allowed) {
    return std::nullopt;
  }
  if (warnings_ < kMaxWarnings) {
    ++warnings_;
    spdlog::warn("guest {}: pid {}: {} refused (EPERM): it {}, and its target, {}, is not in "
                 "the guest's own process tree",
                 call.guest_id, call.pid, syscalls::SyscallName(call.nr), guarded->why, target);
  }
  return Decision::Fail(EPERM);
}

std::optional<Decision> GuestGuard::DecideEscape(const SyscallEvent& call,
                                                 const policy::PolicySet& policy) const {
  const bool io_uring = call.nr == SYS_io_uring_setup || call.nr == SYS_io_uring_enter ||
                        call.nr == SYS_io_uring_register;
  const bool listener = call.nr == SYS_seccomp && call.args[0] == SECCOMP_SET_MODE_FILTER &&
                        (call.args[1] & SECCOMP_FILTER_FLAG_NEW_LISTENER) != 0;
  if ((!io_uring || layers_.allow_io_uring) && !listener) {
    return std::nullopt;
  }
  if (layers_.policy_fixed && !Enforces(policy)) {
    return std::nullopt;  // nothing to escape from, now or later
  }
  if (warnings_ < kMaxWarnings) {
    ++warnings_;
    spdlog::warn("guest {}: pid {}: {} refused ({}): {}", call.guest_id, call.pid,
                 syscalls::SyscallName(call.nr), io_uring ? "ENOSYS" : "EBUSY",
                 io_uring ? "io_uring operations never pass through seccomp, so a policy could "
                            "not decide them (hijackd run --allow-io-uring allows it)"
                          : "a filter of the guest's own with a listener would answer calls "
                            "before the supervisor (SECCOMP_RET_USER_NOTIF outranks "
                            "SECCOMP_RET_TRACE)");
  }
  // ENOSYS is what a kernel without io_uring answers, so programs take their ordinary
  // read/write path; EBUSY is what seccomp(2) answers for a second listener in one chain,
  // which is what the notify backend's kernel says itself.
  return Decision::Fail(io_uring ? ENOSYS : EBUSY);
}

std::optional<Decision> GuestGuard::Decide(const SyscallEvent& call,
                                           const policy::PolicySet& policy) const {
  if (auto d = DecideEscape(call, policy)) {
    return d;
  }
  return DecideTarget(call);
}

}  // namespace hijack::supervisor
