// Backend: the mechanism that stops a guest's intercepted calls and answers them.
//
// Two implementations exist: NotifyBackend (seccomp user notification, seccomp_unotify(2)) and
// PtraceBackend (SECCOMP_RET_TRACE or PTRACE_SYSCALL stops, ptrace(2)). The policy engine only
// sees this interface and SyscallHandler; it never knows which mechanism serves a guest.
//
//   auto backend = MakeNotifyBackend(loop, reaper);
//   Result<pid_t> pid = backend->Launch(spec, guest);   // guest implements SyscallHandler
//
// Threads: every method, and every SyscallHandler callback, runs on the supervisor's loop thread.
// A DeferredAnswer's memory() may be read from another thread (one at a time); its Answer() runs
// on the loop thread.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hijack/decision.h"
#include "hijack/event.h"
#include "hijack/exec_page_client.h"
#include "hijack/guest_memory.h"
#include "hijack/kernel_floor.h"
#include "hijack/policy.h"
#include "hijack/result.h"
#include "hijack/syscall_event.h"
#include "hijack/syscall_set.h"

namespace hijack {

namespace launcher {
struct ChildFunction;
}  // namespace launcher

// One intercepted call whose decision completes after SyscallHandler::OnSyscall returned: the
// handler decides it elsewhere (a module that blocks runs on a worker thread) and answers it here.
// Meanwhile the backend keeps the calling thread waiting (notify: the notification unanswered,
// seccomp_unotify(2); ptrace: the thread in its ptrace-stop), and goes on serving every other
// call, of other guests and of the guest's other threads. The handler holds it by shared_ptr.
class DeferredAnswer {
 public:
  virtual ~DeferredAnswer() = default;

  // The caller's memory, valid until Answer() returns and readable from any thread, one thread
  // at a time. It keeps GuestMemory's promise after the caller died: a read of a thread that left
  // its call fails with ENOENT and StillPending() says false (notify re-validates the
  // notification id on a listener descriptor it keeps open; ptrace checks a pidfd of the thread).
  virtual GuestMemory& memory() = 0;

  // Applies `decision` to the call and completes `record` as if OnSyscall had returned it
  // (a delay in the decision still holds the call first). Loop thread, at most once. When the
  // thread left the call meanwhile (killed, or a signal interrupted it under notify) the answer
  // is dropped quietly (an ENOENT answer is not an error) and the record completes without a
  // result; once the guest has ended it is dropped, record and all.
  virtual void Answer(Decision decision, Event record) = 0;
};

// What a backend offers the handler during OnSyscall to answer the call later.
class CallDeferral {
 public:
  // Takes the call over: the backend will not answer it when OnSyscall returns; the returned
  // object does, once the handler calls its Answer(). At most once per call, during OnSyscall.
  virtual std::shared_ptr<DeferredAnswer> Defer() = 0;

 protected:
  ~CallDeferral() = default;
};

// The wait status of a guest whose end was seen but whose status could not be read. Never a
// waitpid(2) status, which fits in 16 bits.
inline constexpr int kUnknownWaitStatus = -1;

// The supervisor side of one guest, as a backend sees it: how its launch went (the optional
// executive-page client), the decision of each intercepted call, its completion, and the end of
// the guest.
class SyscallHandler {
 public:
  virtual ~SyscallHandler() = default;

  // Decides one intercepted call. The handler fills `record` (decoded arguments, decision,
  // deciding module) and returns the decision; `mem` is valid during this call only. Or it takes
  // the call over with `deferral.Defer()` and returns nullopt: it answers later, on the loop
  // thread, through the DeferredAnswer (whose memory() outlives this call).
  virtual std::optional<Decision> OnSyscall(const SyscallEvent& call, GuestMemory& mem,
                                            Event& record, CallDeferral& deferral) = 0;

  // True when the handler wants the result of calls that ran (ptrace then stops at syscall exit
  // for `nr`; notify cannot see results of calls that ran).
  virtual bool WantsResult(int nr) const = 0;

  // Process `exec.pid` of the guest has exec'd: the kernel replaced its image, and the backend
  // holds it in its PTRACE_EVENT_EXEC stop, before the image's first instruction. `exec`
  // describes the process (nr SYS_execve, no arguments); `mem` is its new memory. A Fail
  // decision: the backend kills the process (SIGKILL) before it runs, and publishes `record`,
  // which the handler filled (decision, module), through OnCompleted. Only backends that stop at
  // exec call it, and only when WantsExecImages().
  virtual bool WantsExecImages() const { return false; }
  virtual std::optional<Decision> OnExecImage(const SyscallEvent& /*exec*/, GuestMemory& /*mem*/,
                                              Event& /*record*/) {
    return std::nullopt;
  }

  // notify: `record`'s call is about to run in the kernel (SECCOMP_USER_NOTIF_FLAG_CONTINUE),
  // whose return the backend cannot see. The handler may arrange to learn the result elsewhere
  // (it then fills it in after OnCompleted), or say why it cannot in `record.result_note`. Loop
  // thread, right before the answer is sent.
  virtual void BeforeContinue(Event& /*record*/) {}

  // The call `record` describes has returned `*record.result` and its thread is still stopped
  // there (ptrace(2) syscall-exit-stop): `mem` is its memory, valid during this call only, in
  // which the handler may read what the kernel wrote for the call (out-parameters). Backends
  // that stop at returns call it right before OnCompleted; loop thread.
  virtual void OnReturned(Event& /*record*/, GuestMemory& /*mem*/) {}

  // The call answered by OnSyscall has completed; `record.result` is set when known.
  virtual void OnCompleted(Event&& record) = 0;

  // The kernel is delivering `signal` to thread `thread.tid` (nr -1): backends that stop at
  // each delivery call it before letting it go on. Loop thread, in order with OnCompleted.
  virtual void OnSignal(const SyscallEvent& /*thread*/, const SignalDelivery& /*signal*/) {}

  // Process `process.pid` of the guest, not its main process (whose end is OnGuestExit's), has
  // ended with waitpid(2) status `wait_status`: backends that see each process end call it.
  // Loop thread, in order with OnCompleted.
  virtual void OnProcessEnded(const SyscallEvent& /*process*/, int /*wait_status*/) {}

  // The whole guest process tree has ended. `wait_status` is the main process's status as
  // waitpid(2) reports it, or kUnknownWaitStatus when it cannot be known (an adopted process
  // that its own parent reaped on a kernel without PIDFD_INFO_EXIT).
  virtual void OnGuestExit(int wait_status) = 0;

  // The guest's start failed with `err` (the errno of its execve, or of a step before it, as
  // the launcher's report says): what the policy had to do with it, when the handler denied that
  // call itself ("exec_guard denied execve(\"/usr/sbin/lighttpd\"): ..."), else empty. The
  // backend prints it in place of the bare errno, which would read like a missing exec bit.
  // Loop thread.
  virtual std::string ExplainStartFailure(int /*err*/) const { return {}; }

  // The client a backend with an executive page talks to (exec_page_client.h), or null: the
  // guest then runs without the agent's fast path even when LaunchSpec::agent_library is set.
  // Asked at launch; the client lives as long as the handler.
  virtual ExecPageClient* exec_page_client() { return nullptr; }
};

// A uid, gid and supplementary groups for a guest: setgroups(2), setresgid(2) and setresuid(2)
// in the child before anything else, so every later step (chdir, exec) is checked with them.
struct GuestCredentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// How the guest tree is bound to the supervisor's life (daemon/launcher/namespace_init.h).
enum class Containment {
  kNone,          // PR_SET_PDEATHSIG on the guest only (and PTRACE_O_EXITKILL under ptrace)
  kPidNamespace,  // a pid namespace whose init dies with the supervisor: the whole tree ends
};

struct LaunchSpec {
  uint64_t guest_id = 0;
  std::string path;               // the executable to exec, already resolved
  std::vector<std::string> argv;  // argv[0] as the user typed it
  std::vector<std::string> env;   // the complete environment, "NAME=value"
  std::string cwd;                // empty: the supervisor's own
  SyscallSet intercept;           // calls the kernel filter sends to the supervisor
  // Calls the user named for policies yet to come (--intercept, LaunchRequest.intercept): the
  // agent never runs these without the supervisor, so a later policy may still decide them.
  SyscallSet reserved;
  // Scope the guest with Landlock before exec (daemon/launcher/landlock_scope.h): its signals
  // and abstract unix socket connections stay inside its own tree. Needs Landlock ABI 6.
  bool landlock_scope = false;
  // Kernel floors of the policy's modules (kernel_floor.h), already fitted to `landlock_abi`
  // (daemon/launcher/landlock_ruleset.h): installed as Landlock rulesets, with the scope in the
  // first, before exec. Empty: none.
  std::vector<KernelFloor> landlock_floor;
  int landlock_abi = 0;
  Containment contain = Containment::kNone;
  // The in-guest agent (libhijack-agent.so) to preload, by absolute path; empty: none. Only a
  // backend with an executive page (notify) honours it; the others run the guest without it,
  // its environment exactly as given.
  std::string agent_library;
  // Whose rights the guest runs with; empty: the supervisor's own. A root supervisor that starts
  // a guest for a non-root caller sets the caller's, so the guest never holds root's rights.
  std::optional<GuestCredentials> credentials;
  // Descriptors the guest gets as its standard input, output and error (dup2(2) in the child
  // before exec); -1: the supervisor's own. Borrowed: the caller keeps them open until Launch
  // returns, and closes its copies after (a pipe's reader sees EOF only once every writer is
  // gone).
  std::array<int, 3> stdio = {-1, -1, -1};

 private:
  // A test seam (daemon/launcher/child_function.h): the child runs a function of this program
  // instead of exec'ing `path`.
  friend struct launcher::ChildFunction;
  std::function<int()> child_function_;
};

class Backend {
 public:
  Backend() = default;
  virtual ~Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // "notify", "ptrace" or "ptrace-all".
  virtual std::string_view Name() const = 0;

  // Whether Decision::InjectFd can be applied (seccomp_unotify(2) SECCOMP_IOCTL_NOTIF_ADDFD).
  virtual bool CanInjectFd() const = 0;

  // Starts the guest described by `spec` under this backend; returns its main pid. `handler`
  // must outlive the guest (until OnGuestExit). Errors: the executable could not be exec'd
  // (code ENOENT/EACCES...), the kernel refused the filter (code names the reason).
  virtual Result<pid_t> Launch(const LaunchSpec& spec, SyscallHandler& handler) = 0;

  // The policy of guest `guest_id` was replaced: state the backend derives from it (the
  // executive page's buckets and fast-path modes) must follow now, before the caller reports the
  // change as done. Loop thread.
  virtual void PolicyChanged(uint64_t /*guest_id*/) {}
};

}  // namespace hijack
