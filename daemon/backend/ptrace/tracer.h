// Tracer: the supervisor's single ptrace(2) tracer, shared by every guest traced from one loop.
//
//   std::shared_ptr<Tracer> tracer = Tracer::Create(loop, reaper);
//   Result<pid_t> pid = tracer->Launch(spec, handler, TraceMode::kSeccompStops);
//   loop.run();   // stops arrive through the reaper's waitpid(-1, __WALL) loop
//
// There is one Tracer per ProcessReaper because the reaper has one stop handler and waitpid(2)
// returns the stops of every tracee: the `ptrace` and `ptrace-all` backends are two front ends
// of the same Tracer, which knows each guest's mode. Its owner is the one BackendSet of the
// reaper (daemon/backend/backend_set.h), which hands it to both.
//
// What it does with each stop (ptrace(2), "Stopped states"):
// - seccomp stop (PTRACE_EVENT_SECCOMP, mode kSeccompStops) or syscall-entry stop of a call in
//   the intercept set (mode kEverySyscall): the handler decides. Continue resumes; Fail and Return
//   set the syscall number to -1 and write the return register (at the seccomp stop, or at the
//   exit stop for entry stops); a delay keeps the thread in its stop while an asio timer runs.
//   When the handler wants the result of a call that ran, the thread is resumed with
//   PTRACE_SYSCALL and the result is read at its syscall-exit stop.
// - PTRACE_EVENT_FORK/VFORK/CLONE: the new tracee joins the parent's guest. Its first stop may be
//   reported before the parent's event; such stops (and exits) of unknown pids are kept until
//   the event names them.
// - PTRACE_EVENT_EXEC: when a non-leader thread exec'd, it now has the leader's tid (its former
//   tid is the event message); its state moves there and the old leader's state is dropped.
//   When the handler judges images (SyscallHandler::WantsExecImages), it is asked about the
//   image the kernel loaded, and a refused one is killed in this stop, before its first
//   instruction: the race-free half of exec_guard.
// - group-stop (PTRACE_EVENT_STOP with a stopping signal): PTRACE_LISTEN, so the guest stays
//   stopped until SIGCONT as it would untraced, and its parent sees WIFSTOPPED / WIFCONTINUED.
// - signal-delivery-stop: the signal is injected unchanged (same number, same siginfo).
// A guest has ended when its main process was reaped and no tracee of it is left; the handler
// then gets the main process's status.
//
// Stops normally arrive through the reaper (SIGCHLD, signalfd, epoll). After resuming a thread
// into a call whose exit stop is wanted, the Tracer itself polls that one thread with
// waitpid(tid, WNOHANG) for up to 30 µs, yielding: the stop usually follows at once, and taking
// it there saves a cross-CPU wake-up (bench/macro/README.md). An exit seen by that poll is
// handled here as the reaper would (only this Tracer's tracees are polled).
//
// Limits (README): a guest cannot trace its own descendants (they are traced already: EPERM);
// in kEverySyscall mode a clone(CLONE_UNTRACED) child escapes supervision (in kSeccompStops its
// intercepted calls fail with ENOSYS instead, since nobody traces it); Decision::InjectFd is not
// possible (the call fails with ENOTSUP); a signal does not interrupt a delayed call before the
// delay ends (the thread is in a ptrace-stop, not in the kernel's wait).
//
// Threads: the loop runs on one thread, which becomes the tracer: ptrace(2) accepts requests
// only from the thread that attached. Launch may be called from another thread before that
// thread runs the loop (see Launch).
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "daemon/launcher/reaper.h"
#include "hijack/backend.h"

namespace hijack::backend {

// Running processes to trace (hijackd strace -p): Tracer::AttachRunning.
struct AttachSpec {
  uint64_t guest_id = 0;
  // Processes, each with every thread it has (/proc/PID/task); a thread's id stands for its
  // process. The first is the guest's main process, whose end ends the guest once no other
  // tracee is left.
  std::vector<pid_t> pids;
  SyscallSet intercept;      // the calls the handler decides; the others are resumed unseen
  bool follow_forks = false;  // trace new child processes too (strace -f); new threads always
};

enum class TraceMode {
  kSeccompStops,  // SECCOMP_RET_TRACE for the intercept set; other calls never stop
  kEverySyscall,  // no seccomp filter; PTRACE_SYSCALL stops at entry and exit of every call
  kExecEvents,    // a guest of another backend (notify): exec, fork and signal stops only
};

class Tracer {
 public:
  // A Tracer for `reaper`. It installs the reaper's stop handler (replacing any other) and an
  // exit observer, so make one per reaper; it must not outlive `reaper` or `loop`.
  static std::shared_ptr<Tracer> Create(boost::asio::io_context& loop,
                                        launcher::ProcessReaper& reaper);

  Tracer(boost::asio::io_context& loop, launcher::ProcessReaper& reaper);
  ~Tracer();  // SIGKILLs the tracees of guests still running
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // Starts `spec` traced in `mode`. `handler` must outlive the guest (until OnGuestExit).
  // Called from a handler running on the loop, it attaches at once; called from elsewhere (a
  // test or benchmark before it runs the loop), the attach is posted to the loop, because only
  // the attaching thread may make ptrace requests, and a refused attach is then logged and ends
  // the guest. Errors: fork or filter compilation failed; PTRACE_SEIZE refused (EPERM: a sandbox
  // or kernel.yama.ptrace_scope forbids tracing).
  Result<pid_t> Launch(const LaunchSpec& spec, SyscallHandler& handler, TraceMode mode);

  // Follows the process tree of `pid`, a guest that another backend (notify) serves and ends,
  // for its execs only (TraceMode::kExecEvents): every image its processes exec is put to
  // `handler`'s OnExecImage at the PTRACE_EVENT_EXEC stop, before it runs. Its forks, vforks
  // and clones are traced as they are made; signals and group-stops pass through unchanged. The
  // handler's OnSyscall and OnGuestExit are never called: the other backend does that. Loop
  // thread, before `pid` can exec (it waits in a seccomp notification) or fork. Errors:
  // PTRACE_SEIZE refused (EPERM: yama ptrace_scope, a sandbox; ESRCH: it is gone).
  Result<void> WatchExecs(pid_t pid, uint64_t guest_id, SyscallHandler& handler);

  // Attaches to processes that run already (strace -p), in kEverySyscall mode: there is no
  // seccomp filter in them, so every call of every thread stops at its entry and exit. Each pid
  // of `spec` and each of its threads is PTRACE_SEIZEd without PTRACE_O_EXITKILL (the processes
  // are not hijackd's: they run on if hijackd dies, detached by the kernel) and interrupted once
  // (PTRACE_INTERRUPT) to start stopping at calls; /proc/PID/task is read again until a pass
  // finds no new thread. New threads are followed (PTRACE_O_TRACECLONE), new children with
  // spec.follow_forks. Nothing is changed in the processes: no call is skipped or rewritten
  // (CLONE_UNTRACED stays, a call of another ABI runs unseen), so `handler` must only observe.
  // Its OnGuestExit comes when the main process and every other tracee have ended, or after
  // Detach. Returns the main process's pid. Loop thread only. Errors (nothing stays attached
  // then): a pid that is not a running process (ESRCH), hijackd's own (EINVAL), PTRACE_SEIZE
  // refused (EPERM: another uid, a tracer already, kernel.yama.ptrace_scope).
  Result<pid_t> AttachRunning(const AttachSpec& spec, SyscallHandler& handler);
  // Lets go of every thread of attached guest `guest_id`: each is interrupted and, at its next
  // stop, PTRACE_DETACHed, with the signal of a signal-delivery-stop delivered on the way, so
  // the processes go on as if never traced (a group-stop stays in effect). Records of calls in
  // progress are dropped. When the last thread is let go the handler's OnGuestExit gets
  // kUnknownWaitStatus (or the main process's status, when it ended first). Loop thread; no-op
  // for a guest that is not attached or already ending.
  void Detach(uint64_t guest_id);

  // Whether this process may trace its children: forks a child that waits, PTRACE_SEIZEs it and
  // kills it. Errors name the refused request.
  static Result<void> ProbePtrace();
  // Whether seccomp offers SECCOMP_RET_TRACE here (SECCOMP_GET_ACTION_AVAIL, seccomp(2)).
  static Result<void> ProbeSeccompTrace();

  // How many stops arrived before the event that announced their tracee (diagnostics, tests).
  uint64_t early_stops_seen() const { return early_stops_seen_; }

 private:
  struct Guest;
  struct Tracee;
  struct DeferredCall;  // a call answered after OnSyscall returned (backend.h, DeferredAnswer)

  // PTRACE_SEIZE (and for kEverySyscall PTRACE_INTERRUPT) the waiting child, then let it go.
  Result<void> Attach(pid_t pid, TraceMode mode, int go_fd);
  void OnStop(pid_t tid, int status);
  void HandleStop(pid_t tid, int status);
  bool PollThread(pid_t tid, int* status);
  void OnExit(pid_t tid, int status);
  void OnSyscallStop(Tracee& t);
  // A signal-delivery-stop of `t` for `sig`: hands its siginfo (PTRACE_GETSIGINFO) to the
  // guest's handler.
  void ReportSignal(const Tracee& t, int sig);
  void Decide(Tracee& t, const SyscallEvent& call, bool at_seccomp_stop);
  // At the stop before a clone or clone3 (`arg0` its first argument): clears CLONE_UNTRACED of
  // a clone; true for a clone3 with it, which is to fail with ENOSYS.
  bool KeepChildTraced(Tracee& t, int nr, uint64_t arg0);
  // A delay's hold, then Apply: every decision goes this way, whether OnSyscall returned it or a
  // DeferredCall brings it later (the thread waits in its stop meanwhile).
  void Settle(Tracee& t, const Decision& decision, Event record, bool at_seccomp_stop);
  void Apply(Tracee& t, const Decision& decision, Event record, bool at_seccomp_stop);
  void OnNewTracee(Tracee& parent, pid_t child, bool same_process);
  void OnExec(pid_t tid);
  // At the PTRACE_EVENT_EXEC stop of `t`: asks the handler about the image the kernel loaded
  // (SyscallHandler::OnExecImage) and kills the process in its stop when it is refused. False
  // when it was killed.
  bool AdmitImage(Tracee& t);
  // `exit_stop_next`: the thread enters a call whose exit stop is wanted; OnStop polls for it.
  void Resume(Tracee& t, int sig, bool exit_stop_next = false);
  void Complete(Tracee& t, Event record);
  void Forget(pid_t tid);
  // PTRACE_DETACH of `t`, stopped, delivering `sig`; then forgets it (Detach).
  void DetachThread(Tracee& t, int sig);
  void MaybeFinish(Guest& guest);
  Tracee& AddTracee(pid_t tid, pid_t tgid, const std::shared_ptr<Guest>& guest);

  boost::asio::io_context& loop_;
  launcher::ProcessReaper& reaper_;
  std::unordered_map<pid_t, std::unique_ptr<Tracee>> tracees_;
  std::unordered_map<uint64_t, std::shared_ptr<Guest>> guests_;
  // Stops and exits of pids no PTRACE_EVENT_FORK/VFORK/CLONE has named yet (ptrace(2): a new
  // child's first stop can be reported before its parent's event).
  std::unordered_map<pid_t, int> early_stops_;
  // Recent exits of untraced or not-yet-named pids, oldest first, bounded.
  std::deque<std::pair<pid_t, int>> unclaimed_exits_;
  uint64_t next_serial_ = 1;
  uint64_t early_stops_seen_ = 0;
  pid_t expect_stop_ = 0;  // a thread whose next stop is expected at once (see OnStop)
  std::weak_ptr<Tracer> self_;
};

}  // namespace hijack::backend
