// NamespaceInit: puts a starting guest in a pid namespace of its own, whose init dies with the
// supervisor, so that the whole guest tree ends with it (pid_namespaces(7)).
//
//   auto init = NamespaceInit::Create();   // Result<unique_ptr>; supervisor, before fork
//   pid_t pid = fork();
//   if (pid == 0) {                 // async-signal-safe calls only from here on
//     init->Enter(report_fd);       // returns in the guest, pid 2 of the new namespace
//     ... the guest's own set-up, exec ...
//   }
//   init->CloseChildEnds();
//   Result<NamespaceInit::Started> started = init->Await(pid, report_fd, read_report, deadline);
//   // started->guest_pid, guest_pidfd: the guest as the supervisor sees it; started->init_pid:
//   // the namespace's init, a child of the supervisor, whose exit ends the guest tree.
//
// Why: PR_SET_PDEATHSIG reaches only the direct child, and a guest can clear it; its
// descendants, a double-forked daemon, a setsid'd orphan, would outlive a SIGKILLed supervisor
// and run unsupervised (every intercepted call then fails with ENOSYS, but the others run). When
// the init of a pid namespace ends, the kernel SIGKILLs every process in it, and no process can
// leave its pid namespace. The init is a small stub, not the guest: an init ignores the signals
// of its own namespace that it has no handler for, adopts its orphans, and takes the whole
// namespace down when it exits, none of which a guest expects of itself.
//
// How: the forked child (the "launcher child") unshares CLONE_NEWPID | CLONE_NEWNS, and
// CLONE_NEWUSER first when the kernel refuses that without privilege (its uid and gid are mapped
// to themselves; setgroups(2) is denied, as user_namespaces(7) requires of an unprivileged map).
// It then clone(2)s the init with CLONE_PARENT, so the init is a child of the supervisor like
// any guest, and exits. The init sets PR_SET_PDEATHSIG(SIGKILL), checks that the supervisor is
// still alive (through a pidfd taken before the fork: its getppid() is 0), makes its mounts
// slaves of the supervisor's and mounts a procfs of its namespace on /proc (so that /proc/PID
// means the guest's own PID), forks the guest, hands the guest's pidfd to the supervisor,
// becomes non-dumpable, closes every descriptor it does not need, and reaps until the namespace
// is empty. It then writes the guest's wait status to a pipe and exits: the supervisor watches
// the init, and takes the guest's status from that pipe (an init cannot die of a signal it sends
// itself, so the status cannot travel as its own). A guest cannot signal the init (it has no
// handlers), trace it (not dumpable), or name any process outside the namespace, the supervisor
// included (kill(2), pidfd_open(2), ptrace(2) take pids of the caller's namespace).
//
// What the guest sees (README, "What a guest can observe"): getpid() is 2 and getppid() is 1;
// /proc lists the guest tree only; process-group and session ids of a group led outside the
// namespace read as 0; unprivileged, /proc/self/uid_map maps the one uid, files of other users
// belong to the overflow uid (65534) and setgroups(2) fails with EPERM.
//
// Threads: Create and Await on the supervisor's thread that forks; Enter in the forked child only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "hijack/result.h"
#include "hijack/unique_fd.h"

namespace hijack::launcher {

class NamespaceInit {
 public:
  struct Started {
    pid_t guest_pid = -1;     // in the supervisor's namespace
    UniqueFd guest_pidfd;     // pidfd(2) of the guest; the supervisor is not its parent
    pid_t init_pid = -1;      // the namespace's init: the supervisor's child
    UniqueFd init_pidfd;
    UniqueFd guest_status;    // read end: the guest's wait status, once the namespace is empty
    UniqueFd guest_proc;      // O_PATH of the namespace's /proc: the guest's own pids
    bool user_namespace = false;  // an unprivileged supervisor needed a user namespace too
  };

  // Supervisor, before fork: the channels, the uid/gid maps, a pidfd of the supervisor.
  // Errors: socketpair, pipe2 or pidfd_open failed.
  static Result<std::unique_ptr<NamespaceInit>> Create();

  NamespaceInit(const NamespaceInit&) = delete;
  NamespaceInit& operator=(const NamespaceInit&) = delete;

  // Launcher child, right after fork; async-signal-safe raw calls only. Returns 0 in the guest,
  // which is then pid 2 of the new namespace and a child of its init. Never returns in the
  // launcher child or in the init. A step the kernel refuses is written to `report_fd` as
  // {step, errno} with `report_step`, and the launcher child exits with 125.
  void Enter(int report_fd, int32_t report_step);

  // Supervisor, after fork: closes its copies of the ends that belong to the children.
  void CloseChildEnds();

  // Supervisor: waits for the init's pid and then the guest's pidfd, reaps the launcher child
  // `launcher_pid`, until `deadline`. `read_report` reads one report of the children from
  // `report_fd` (nullopt at end of file). Errors, each prefixed with kErrorPrefix: the step the
  // kernel refused (unshare(2), the uid map, mount(2) of /proc), a child that died, a timeout.
  Result<Started> Await(pid_t launcher_pid, int report_fd,
                        const std::function<std::optional<Error>()>& read_report,
                        std::chrono::steady_clock::time_point deadline);

  // The guest's wait status, from `guest_status` (Started) once the init has been reaped with
  // `init_status`; the init's own status when it died before writing one (SIGKILLed).
  static int GuestWaitStatus(int guest_status_fd, int init_status);

  // What the value of a report that Enter wrote with its `report_step` means ("mount(proc,
  // /proc): EPERM (Operation not permitted)").
  static std::optional<Error> DescribeReport(int32_t value);

  // Every error of Await starts with this, so that a caller can fall back to no containment.
  static constexpr std::string_view kErrorPrefix = "pid namespace: ";

 private:
  NamespaceInit() = default;

  // The init's body after the guest has started; never returns.
  [[noreturn]] void InitMain(pid_t guest);

  UniqueFd channel_parent_;  // supervisor end: {init pid, user namespace}, then the guest pidfd
  UniqueFd channel_child_;
  UniqueFd status_read_;
  UniqueFd status_write_;
  UniqueFd supervisor_pidfd_;
  // Written before fork, so the child only copies them ("U U 1\n").
  char uid_map_[40] = {};
  char gid_map_[40] = {};
};

}  // namespace hijack::launcher
