// NotifyBackend: guests under seccomp user notification (seccomp_unotify(2)).
//
//   NotifyBackend backend(loop, reaper, {.sync_wakeup = true});
//   Result<pid_t> pid = backend.Launch(spec, handler);
//   loop.run();   // notifications are received, decided and answered on this loop
//
// Each guest's listener fd sits in the Boost.Asio loop. A notification becomes a SyscallEvent;
// guest memory is read with process_vm_readv and the notification id re-validated after every
// read; the handler's Decision becomes the response (Continue is
// SECCOMP_USER_NOTIF_FLAG_CONTINUE). A response refused with ENOENT means the guest thread was
// interrupted by a signal meanwhile (it will restart or fail the call itself): that is normal.
// The guest has ended when its main process was reaped and the listener reports POLLHUP (no task
// uses the filter any more).
//
// Caller identity: a notification names its thread by number, and numbers are reused. The
// thread group of every call is established through CallerIdentity (caller_identity.h) and
// confirmed with SECCOMP_IOCTL_NOTIF_ID_VALID after the lookup; a call whose thread is gone is
// dropped undecided (its answer could reach nobody), and one whose identity cannot be
// established is refused with EPERM (enforcement fails closed). Modules get a GuestMemory whose
// StillPending() re-validates the notification, for what they look up by number.
//
// Exec watch: a guest whose handler judges exec'd images (exec_guard "image": "verify") is also
// traced, for its exec, fork and signal stops only (NotifyOptions::watch_execs), from its first
// notification on; its calls still come through the listener.
//
// Adopted guests (Backend::Adopt, for OCI runtimes): the listener comes from the program that
// installed the filter, the main process is watched through a pidfd, and listeners joined later
// (JoinListener) serve the same guest. Their calls up to each listener's first execve are the
// installer's and are continued undecided (AdoptSpec::installer_prelude). They have no executive
// page and no exec watch.
//
// The executive page is the guest's to write: everything read from it is bounded (see
// GuestExecPage), and the drain timer does a bounded amount of work per guest per tick.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <unordered_map>

#include "daemon/backend/notify/caller_identity.h"
#include "daemon/exec_page/guest_exec_page.h"
#include "daemon/launcher/reaper.h"
#include "hijack/backend.h"
#include "hijack/backend_kind.h"
#include "hijack/unique_fd.h"

namespace hijack::backend {

struct NotifyOptions {
  // SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux 6.6): wake the supervisor synchronously on the
  // guest's CPU, so the round trip does not pay a cross-CPU wake-up. Ignored where unsupported.
  bool sync_wakeup = true;
  // Attaches a watch of the execs of a guest's process tree (pid, guest id, handler): a tracer
  // that stops each process at PTRACE_EVENT_EXEC and puts the image it loaded to the handler's
  // OnExecImage (Tracer::WatchExecs). Used for guests whose handler WantsExecImages(), which
  // seccomp notification alone cannot serve: nothing stops a guest between its exec and its new
  // image's first instruction. Empty: no watch, and such a guest is killed at its first call.
  std::function<Result<void>(pid_t, uint64_t, SyscallHandler&)> watch_execs;
};

// A guest whose seccomp filter another program installed and whose listener it handed over:
// an OCI runtime's seccomp agent protocol (runtime-spec config-linux.md, "listenerPath"). The
// supervisor did not start the process, so it is not its child: its end is learnt from a pidfd
// (pidfd_open(2)), and its exit status only while the process is a zombie that its parent has not
// reaped yet (/proc/PID/stat, field 52, proc(5)); otherwise the guest ends with status 0.
struct AdoptSpec {
  uint64_t guest_id = 0;
  UniqueFd listener;  // SECCOMP_FILTER_FLAG_NEW_LISTENER's descriptor, as received
  UniqueFd pidfd;     // of `pid`
  pid_t pid = -1;     // the main process, in the supervisor's pid namespace
  // The calls of this listener up to its first execve or execveat are the installer's own (an
  // OCI runtime's init, setting the container up after it installed the filter and before it
  // execs the entry point): they are continued without the handler. That execve, and everything
  // after it, goes to the handler. The installer must send execve and execveat to the listener.
  bool installer_prelude = true;
};

class NotifyBackend final : public Backend {
 public:
  NotifyBackend(boost::asio::io_context& loop, launcher::ProcessReaper& reaper,
                NotifyOptions options = {});
  ~NotifyBackend() override;

  std::string_view Name() const override { return BackendKindName(BackendKind::kNotify); }
  bool CanInjectFd() const override { return true; }
  Result<pid_t> Launch(const LaunchSpec& spec, SyscallHandler& handler) override;
  void PolicyChanged(uint64_t guest_id) override;
  // Serves a guest whose listener was handed over (AdoptSpec) as if Launch had started it:
  // `handler` must outlive the guest (until OnGuestExit), which ends once the main process has
  // ended and no task uses the listener's filter or that of any listener joined to it. EEXIST
  // for a guest id in use.
  Result<void> Adopt(AdoptSpec spec, SyscallHandler& handler);
  // Another listener for adopted guest `guest_id` (an OCI runtime's exec into a running
  // container installs a filter of its own): its calls go to the same handler, with the same
  // prelude rule (AdoptSpec::installer_prelude). ESRCH when the guest is not adopted and running.
  Result<void> JoinListener(uint64_t guest_id, UniqueFd listener, bool installer_prelude);

  // Whether a guest can run under SECCOMP_RET_USER_NOTIF on this kernel, in this sandbox: asks
  // the kernel for the action, then starts a short-lived guest exactly as Launch does (filter,
  // listener handover) and takes its listener, so `auto` picks notify only where a launch would
  // work. Forks; any thread. The error says what failed.
  static Result<void> Probe();
  // The part of Probe that starts nothing: the kernel offers SECCOMP_RET_USER_NOTIF
  // (seccomp(2), SECCOMP_GET_ACTION_AVAIL). BackendSet launches after it alone.
  static Result<void> ProbeAction();

  // Whether the last launched guest got SYNC_WAKE_UP (for benchmarks and logs).
  bool sync_wakeup_active() const { return sync_wakeup_active_; }

  // The executive page of a running guest launched with the agent (exec_page/agent_launch.h), or
  // null. Loop thread; the page lives until the guest's OnGuestExit.
  exec_page::GuestExecPage* ExecPageOf(uint64_t guest_id) const;

 private:
  struct Guest;
  struct DeferredCall;  // a call answered after OnSyscall returned (backend.h, DeferredAnswer)

  void Arm(Guest& guest);
  void Service(Guest& guest);
  bool HandleOne(Guest& guest);
  // The page's debit, then a delay's hold, then Respond: every decision goes this way, whether
  // OnSyscall returned it or a DeferredCall brings it later.
  void Answer(Guest& guest, uint64_t id, Decision decision, Event record);
  void Respond(Guest& guest, uint64_t id, const Decision& decision, Event record);
  void MaybeFinish(Guest& guest);
  void DrainAgent(Guest& guest, size_t max_entries);
  void ArmAgentDrain(Guest& guest);
  // Hands the handler's current page buckets to the page, and records their policy version.
  void ShapePage(Guest& guest);
  // Brings the page in line with the handler's current policy and watchers. Loop thread.
  void SyncPage(Guest& guest);

  boost::asio::io_context& loop_;
  launcher::ProcessReaper& reaper_;
  NotifyOptions options_;
  bool sync_wakeup_active_ = false;
  std::unordered_map<uint64_t, std::shared_ptr<Guest>> guests_;
  CallerIdentity identity_;
};

}  // namespace hijack::backend
