#include "daemon/backend/ptrace/tracer.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <spdlog/spdlog.h>

#include "common/monotonic.h"
#include "daemon/backend/ptrace/syscall_regs.h"
#include "daemon/launcher/filter.h"
#include "daemon/launcher/launcher.h"
#include "daemon/process/proc_status.h"
#include "daemon/process/process_memory.h"

namespace hijack::backend {
namespace {

// include/linux/errno.h (kernel-internal): "restart the call unless the handler lacks
// SA_RESTART", resolved by the kernel's signal delivery on the way to user space.
constexpr int64_t kErestartSys = 512;

// Exits of pids nobody has claimed are kept this long (count), for children whose parent's
// fork event is reported after their death.
constexpr size_t kUnclaimedExits = 1024;

// How long to poll for the exit stop of a call that was just resumed (see OnStop).
constexpr int64_t kPollNs = 30'000;

// True when `pid` has no live task: gone from /proc, or a zombie waiting for its real parent
// (a traced non-child stays a zombie after the tracer collected its status).
bool IsDead(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) {
    return true;
  }
  char buf[512];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // "pid (comm) S ...": comm may contain spaces and parentheses; the state follows the last ')'.
  const char* close = std::strrchr(buf, ')');
  return close == nullptr || close[1] == '\0' || close[2] == 'Z' || close[2] == 'X';
}

bool IsStoppingSignal(int sig) {
  return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

// Calls that never return to the caller: their record is complete at entry.
bool NeverReturns(int nr) { return nr == SYS_exit || nr == SYS_exit_group; }

}  // namespace

struct Tracer::Guest {
  uint64_t id = 0;
  std::string path;
  TraceMode mode = TraceMode::kSeccompStops;
  SyscallSet intercept;
  SyscallHandler* handler = nullptr;
  pid_t main_pid = -1;
  UniqueFd pidfd;
  UniqueFd report;
  std::optional<int> main_status;
  size_t tracees = 0;  // threads of the guest that are traced and not yet reaped
  bool finished = false;
  bool warned_inject_fd = false;
  bool warned_ptrace = false;  // the guest's own ptrace was named once (KeepChildTraced)
  // Processes that ran before hijackd attached (AttachRunning): only watched, never killed.
  bool attached = false;
  bool detaching = false;  // Detach was asked: each thread is let go at its next stop
};

struct Tracer::Tracee {
  pid_t tid = -1;
  pid_t tgid = -1;
  uint64_t serial = 0;  // tells a timer whether the thread it holds is still this one
  std::shared_ptr<Guest> guest;
  // Resumed with PTRACE_SYSCALL after a seccomp stop, to read the result at the exit stop.
  bool want_exit_stop = false;
  // A call that was decided and whose exit stop is awaited (its record is completed there).
  std::optional<Event> pending;
  // kEverySyscall: the value to write into the return register at the exit of a skipped call.
  std::optional<int64_t> answer;
  // With an answer of -ERESTARTSYS: the call's number, restored at the exit stop.
  std::optional<int> restart_nr;
  // kEverySyscall: false while the launcher's own code runs in the child (before it set
  // no_new_privs, see launcher.h); its calls are not the guest's and are not decided.
  bool armed = true;
  // Set while the thread is held in its stop by a delayed decision: the timer, and what to
  // apply when it fires (reported without a result if the thread dies first).
  std::unique_ptr<boost::asio::steady_timer> hold;
  struct Held {
    Decision decision;
    Event record;
    bool at_seccomp_stop = false;
  };
  std::optional<Held> held;
  // Set while the thread waits for a decision that completes later (DeferredCall): true until
  // the tracer forgets the thread.
  std::shared_ptr<std::atomic<bool>> deferred_alive;
};

struct Tracer::DeferredCall final : DeferredAnswer {
  // The thread waits in its ptrace-stop until Answer; only a SIGKILL ends the wait, and the
  // thread's number is free for reuse once the reaper has collected it. `pidfd` names the thread
  // itself (PIDFD_THREAD, Linux 6.9), or its process where the kernel cannot; `alive` is cleared
  // when the tracer forgets the thread. A worker's read counts only when both still hold after
  // it.
  DeferredCall(std::weak_ptr<Tracer> tracer, std::shared_ptr<Guest> guest, const Tracee& t,
               bool at_seccomp_stop)
      : tracer(std::move(tracer)),
        guest(std::move(guest)),
        tid(t.tid),
        serial(t.serial),
        at_seccomp_stop(at_seccomp_stop),
        alive(t.deferred_alive),
        pidfd(OpenPidfd(t)),
        mem(t.tid, [fd = pidfd.get(), alive = alive] {
          return alive->load(std::memory_order_acquire) &&
                 (fd < 0 || syscall(SYS_pidfd_send_signal, fd, 0, nullptr, 0) == 0);
        }) {}

  static UniqueFd OpenPidfd(const Tracee& t) {
#ifndef PIDFD_THREAD
    constexpr unsigned kPidfdThread = O_EXCL;  // include/uapi/linux/pidfd.h
#else
    constexpr unsigned kPidfdThread = PIDFD_THREAD;
#endif
    int fd = static_cast<int>(syscall(SYS_pidfd_open, t.tid, t.tid == t.tgid ? 0 : kPidfdThread));
    if (fd < 0 && t.tid != t.tgid) {
      fd = static_cast<int>(syscall(SYS_pidfd_open, t.tgid, 0));
    }
    if (fd >= 0) {
      fcntl(fd, F_SETFD, FD_CLOEXEC);  // pidfd_open(2) sets it; said again for older kernels
    }
    return UniqueFd(fd);
  }

  GuestMemory& memory() override { return mem; }

  void Answer(Decision decision, Event record) override {
    auto self = tracer.lock();
    if (!self || guest->finished) {
      return;  // the guest has ended: nobody waits for the answer, nor for the record
    }
    auto it = self->tracees_.find(tid);
    if (it == self->tracees_.end() || it->second->serial != serial) {
      // Killed while its call was being decided: the call never ran.
      record.result.reset();
      record.end_ns = common::MonotonicNs();
      guest->handler->OnCompleted(std::move(record));
      return;
    }
    Tracee& t = *it->second;
    t.deferred_alive.reset();
    self->Settle(t, decision, std::move(record), at_seccomp_stop);
    // Not inside OnStop, whose poll for an expected exit stop this would otherwise steer at the
    // next unrelated stop: this thread's next stop comes through the reaper.
    self->expect_stop_ = 0;
  }

  std::weak_ptr<Tracer> tracer;
  std::shared_ptr<Guest> guest;
  pid_t tid;
  uint64_t serial;
  bool at_seccomp_stop;
  std::shared_ptr<std::atomic<bool>> alive;
  UniqueFd pidfd;
  ProcessMemory mem;
};

std::shared_ptr<Tracer> Tracer::Create(boost::asio::io_context& loop,
                                       launcher::ProcessReaper& reaper) {
  auto tracer = std::make_shared<Tracer>(loop, reaper);
  tracer->self_ = tracer;
  std::weak_ptr<Tracer> weak = tracer;
  reaper.SetStopHandler([weak](pid_t pid, int status) {
    if (auto t = weak.lock()) {
      t->OnStop(pid, status);
    }
  });
  reaper.AddExitObserver([weak](pid_t pid, int status) {
    if (auto t = weak.lock()) {
      t->OnExit(pid, status);
    }
  });
  return tracer;
}

Tracer::Tracer(boost::asio::io_context& loop, launcher::ProcessReaper& reaper)
    : loop_(loop), reaper_(reaper) {}

Tracer::~Tracer() {
  for (auto& [id, guest] : guests_) {
    // Attached processes are not hijackd's: the kernel detaches them when this thread ends.
    if (!guest->finished && !guest->attached) {
      for (auto& [tid, t] : tracees_) {
        if (t->guest == guest) {
          kill(tid, SIGKILL);
        }
      }
    }
  }
}

Result<void> Tracer::ProbeSeccompTrace() {
  uint32_t action = SECCOMP_RET_TRACE;
  if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0) {
    return ErrnoError(errno, "seccomp(SECCOMP_GET_ACTION_AVAIL, SECCOMP_RET_TRACE)");
  }
  return {};
}

Result<void> Tracer::ProbePtrace() {
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) {
    return ErrnoError(errno, "pipe2");
  }
  UniqueFd ready_read(ready[0]), ready_write(ready[1]);
  pid_t child = fork();
  if (child < 0) {
    return ErrnoError(errno, "fork");
  }
  if (child == 0) {
    // Async-signal-safe only: the supervisor may have threads. SIGKILL ends this. The fork
    // inherited the supervisor's non-dumpable state, which would refuse the attach as a
    // launched guest's does (launcher.h sets the flag back the same way).
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    (void)!write(ready_write.get(), "r", 1);
    for (;;) {
      pause();
    }
  }
  ready_write.reset();
  char byte;
  while (read(ready_read.get(), &byte, 1) < 0 && errno == EINTR) {
  }
  int err = 0;
  if (ptrace(PTRACE_SEIZE, child, nullptr, reinterpret_cast<void*>(PTRACE_O_EXITKILL)) != 0) {
    err = errno;
  }
  kill(child, SIGKILL);
  int status = 0;
  while (waitpid(child, &status, __WALL) < 0 && errno == EINTR) {
  }
  if (err != 0) {
    return ErrnoError(err, "ptrace(PTRACE_SEIZE) of a child");
  }
  return {};
}

Result<pid_t> Tracer::Launch(const LaunchSpec& spec, SyscallHandler& handler, TraceMode mode) {
  // The agent runs under notify only (spec.agent_library is not preloaded here): every call of
  // a traced guest stops in the tracer anyway.
  std::optional<launcher::FilterProgram> program;
  if (mode == TraceMode::kSeccompStops) {
    // clone and clone3 always stop, intercepted or not, so CLONE_UNTRACED is taken off them
    // (KeepChildTraced), and so does ptrace, so a refused one is named.
    SyscallSet traced = spec.intercept;
    traced.Add(SYS_clone);
    traced.Add(SYS_clone3);
    traced.Add(SYS_ptrace);
    auto compiled = launcher::CompileFilter(traced, launcher::FilterAction::kTrace);
    if (!compiled) {
      return std::unexpected(compiled.error());
    }
    program = std::move(*compiled);
  }
  auto child = launcher::StartChild(spec, program ? &*program : nullptr,
                                    mode == TraceMode::kSeccompStops
                                        ? launcher::ChildMode::kWaitThenFilter
                                        : launcher::ChildMode::kWaitNoFilter);
  if (!child) {
    return std::unexpected(child.error());
  }
  const pid_t pid = child->pid;
  auto guest = std::make_shared<Guest>();
  guest->id = spec.guest_id;
  guest->path = spec.path;
  guest->mode = mode;
  guest->intercept = spec.intercept;
  guest->handler = &handler;
  guest->main_pid = pid;
  guest->pidfd = std::move(child->pidfd);
  guest->report = std::move(child->report);
  auto track = [this, guest, pid, mode] {
    guests_[guest->id] = guest;
    AddTracee(pid, pid, guest).armed = mode == TraceMode::kSeccompStops;
  };
  if (loop_.get_executor().running_in_this_thread()) {
    if (auto attached = Attach(pid, mode, child->go.get()); !attached) {
      return std::unexpected(attached.error());
    }
    track();
    return pid;
  }
  // Not on the loop's thread: the thread that attaches is the only one whose ptrace requests the
  // kernel accepts, so attach from the loop. The child waits for its go byte meanwhile.
  track();
  auto go = std::make_shared<UniqueFd>(std::move(child->go));
  boost::asio::post(loop_, [weak = self_, pid, mode, go, id = spec.guest_id] {
    auto self = weak.lock();
    if (!self) {
      return;
    }
    if (auto attached = self->Attach(pid, mode, go->get()); !attached) {
      spdlog::error("guest {}: {}", id, attached.error().message);  // its exit ends the guest
    }
  });
  return pid;
}

Result<void> Tracer::WatchExecs(pid_t pid, uint64_t guest_id, SyscallHandler& handler) {
  // EXITKILL: a guest whose execs nobody watches any more must not run on (fail closed).
  constexpr long kOptions = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
                            PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL;
  if (ptrace(PTRACE_SEIZE, pid, nullptr, reinterpret_cast<void*>(kOptions)) != 0) {
    return ErrnoError(errno, "ptrace(PTRACE_SEIZE) of guest " + std::to_string(pid) +
                                 " to judge the images it execs");
  }
  auto guest = std::make_shared<Guest>();
  guest->id = guest_id;
  guest->mode = TraceMode::kExecEvents;
  guest->handler = &handler;
  guest->main_pid = pid;
  guests_[guest_id] = guest;
  AddTracee(pid, pid, guest);
  return {};
}

Result<pid_t> Tracer::AttachRunning(const AttachSpec& spec, SyscallHandler& handler) {
  if (!loop_.get_executor().running_in_this_thread()) {
    return std::unexpected(Error{EINVAL, "attaching to a process: not on the tracer's thread"});
  }
  if (spec.pids.empty()) {
    return std::unexpected(Error{EINVAL, "attaching: no process id"});
  }
  // No PTRACE_O_EXITKILL: the processes were not started by hijackd and must survive it.
  long options = PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD;
  if (spec.follow_forks) {
    options |= PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK;
  }
  auto guest = std::make_shared<Guest>();
  guest->id = spec.guest_id;
  guest->mode = TraceMode::kEverySyscall;
  guest->intercept = spec.intercept;
  guest->handler = &handler;
  guest->main_pid = ReadThreadGroupId(spec.pids.front());
  guest->attached = true;
  // Seizes `tid` and interrupts it: its first stop (PTRACE_EVENT_STOP) is resumed into
  // PTRACE_SYSCALL by HandleStop.
  auto seize = [&](pid_t tid, pid_t tgid) -> Result<void> {
    if (ptrace(PTRACE_SEIZE, tid, nullptr, reinterpret_cast<void*>(options)) != 0) {
      return ErrnoError(errno, "ptrace(PTRACE_SEIZE, " + std::to_string(tid) + ")");
    }
    AddTracee(tid, tgid, guest);
    if (ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0 && errno != ESRCH) {
      return ErrnoError(errno, "ptrace(PTRACE_INTERRUPT, " + std::to_string(tid) + ")");
    }
    return {};
  };
  auto attach_all = [&]() -> Result<void> {
    for (pid_t named : spec.pids) {
      const pid_t pid = ReadThreadGroupId(named);  // a thread stands for its process
      if (pid == getpid()) {
        return std::unexpected(Error{EINVAL, "process " + std::to_string(pid) + " is hijackd"});
      }
      if (tracees_.contains(pid)) {
        continue;  // named twice, or traced already
      }
      HIJACK_TRY(seize(pid, pid));
      // Threads the leader starts from here on are traced (PTRACE_O_TRACECLONE); those the
      // other threads start before they are seized are found by reading the list again.
      const std::string dir = "/proc/" + std::to_string(pid) + "/task";
      for (int pass = 0; pass < 1000; ++pass) {
        bool added = false;
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
          const pid_t tid = static_cast<pid_t>(std::atoi(entry.path().filename().c_str()));
          if (tid <= 0 || tracees_.contains(tid)) {
            continue;
          }
          if (auto seized = seize(tid, pid); !seized) {
            if (seized.error().code == ESRCH) {
              continue;  // the thread ended meanwhile
            }
            return seized;
          }
          added = true;
        }
        if (!added) {
          break;
        }
      }
    }
    return {};
  };
  guests_[guest->id] = guest;
  if (auto attached = attach_all(); !attached) {
    // What was seized is let go as its interrupt stops arrive; nobody hears of it any more.
    guest->handler = nullptr;
    guest->finished = true;
    guest->detaching = true;
    guests_.erase(guest->id);
    return std::unexpected(attached.error());
  }
  return guest->main_pid;
}

void Tracer::Detach(uint64_t guest_id) {
  auto it = guests_.find(guest_id);
  if (it == guests_.end() || !it->second->attached || it->second->finished ||
      it->second->detaching) {
    return;
  }
  std::shared_ptr<Guest> guest = it->second;
  guest->detaching = true;
  for (auto& [tid, t] : tracees_) {
    // A thread stops at once, or is stopped and reports the stop we have not read yet; either
    // stop lets it go (HandleStop). ESRCH: it ended, and its exit comes through the reaper.
    if (t->guest == guest && ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0 &&
        errno != ESRCH) {
      spdlog::warn("guest {}: PTRACE_INTERRUPT of {}: {}", guest->id, tid, std::strerror(errno));
    }
  }
  MaybeFinish(*guest);
}

void Tracer::DetachThread(Tracee& t, int sig) {
  std::shared_ptr<Guest> guest = t.guest;
  if (ptrace(PTRACE_DETACH, t.tid, nullptr, reinterpret_cast<void*>(static_cast<long>(sig))) !=
          0 &&
      errno != ESRCH) {
    spdlog::warn("guest {}: PTRACE_DETACH of {}: {}", guest->id, t.tid, std::strerror(errno));
  }
  // Let go mid-call: the call goes on untraced, and its record has no end to show.
  t.pending.reset();
  t.held.reset();
  t.hold.reset();
  Forget(t.tid);
  MaybeFinish(*guest);
}

Result<void> Tracer::Attach(pid_t pid, TraceMode mode, int go_fd) {
  // EXITKILL: a guest must not outlive its supervisor, unsupervised (fail closed).
  long options = PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
                 PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL;
  if (mode == TraceMode::kSeccompStops) {
    options |= PTRACE_O_TRACESECCOMP;
  }
  if (ptrace(PTRACE_SEIZE, pid, nullptr, reinterpret_cast<void*>(options)) != 0) {
    int err = errno;
    kill(pid, SIGKILL);  // the reaper collects it
    return ErrnoError(err, "ptrace(PTRACE_SEIZE) of guest " + std::to_string(pid));
  }
  // kEverySyscall needs one stop to switch the child to PTRACE_SYSCALL; it is waiting for the
  // go byte in read(2), which the interrupt restarts transparently.
  if (mode == TraceMode::kEverySyscall && ptrace(PTRACE_INTERRUPT, pid, nullptr, nullptr) != 0) {
    int err = errno;
    kill(pid, SIGKILL);
    return ErrnoError(err, "ptrace(PTRACE_INTERRUPT) of guest " + std::to_string(pid));
  }
  if (write(go_fd, "g", 1) != 1) {
    int err = errno;
    kill(pid, SIGKILL);
    return ErrnoError(err, "starting guest " + std::to_string(pid));
  }
  return {};
}

Tracer::Tracee& Tracer::AddTracee(pid_t tid, pid_t tgid, const std::shared_ptr<Guest>& guest) {
  auto t = std::make_unique<Tracee>();
  t->tid = tid;
  t->tgid = tgid;
  t->serial = next_serial_++;
  t->guest = guest;
  ++guest->tracees;
  Tracee& ref = *t;
  tracees_[tid] = std::move(t);
  return ref;
}

void Tracer::OnStop(pid_t tid, int status) {
  HandleStop(tid, status);
  // A thread resumed into a call whose exit stop we want usually stops again within
  // microseconds. Waiting for that stop through SIGCHLD, the signalfd and epoll costs a
  // wake-up that the kernel does not place on the tracee's CPU (a tracer blocked in wait4 gets a
  // synchronous one), so poll that thread briefly first, yielding so that it can run here.
  // Exits seen meanwhile are this tracer's tracees: handled as the reaper would.
  while (expect_stop_ > 0) {
    const pid_t next = expect_stop_;
    expect_stop_ = 0;
    int next_status = 0;
    if (!PollThread(next, &next_status)) {
      break;
    }
    if (WIFSTOPPED(next_status)) {
      HandleStop(next, next_status);
    } else if (WIFEXITED(next_status) || WIFSIGNALED(next_status)) {
      OnExit(next, next_status);
    }
  }
  expect_stop_ = 0;
}

bool Tracer::PollThread(pid_t tid, int* status) {
  const int64_t deadline = common::MonotonicNs() + kPollNs;
  do {
    pid_t r = waitpid(tid, status, WNOHANG | __WALL);
    if (r == tid) {
      return true;
    }
    if (r < 0) {
      return false;
    }
    sched_yield();
  } while (common::MonotonicNs() < deadline);
  return false;
}

void Tracer::HandleStop(pid_t tid, int status) {
  const int sig = WSTOPSIG(status);
  const int event = status >> 16;
  if (event == PTRACE_EVENT_EXEC) {
    // Reported under the leader's tid, which may belong to the thread that exec'd.
    OnExec(tid);
  }
  auto it = tracees_.find(tid);
  if (it == tracees_.end()) {
    // A new child whose parent's PTRACE_EVENT_FORK/VFORK/CLONE has not been reported yet.
    early_stops_[tid] = status;
    ++early_stops_seen_;
    return;
  }
  Tracee& t = *it->second;
  if (t.guest->detaching) {
    // Detach: whatever this stop is, the thread is let go here. A child it just made is traced
    // already (and let go at its own first stop); a signal being delivered is delivered.
    if (event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK ||
        event == PTRACE_EVENT_CLONE) {
      unsigned long child = 0;
      if (ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &child) == 0) {
        OnNewTracee(t, static_cast<pid_t>(child), event == PTRACE_EVENT_CLONE);
      }
    }
    const bool delivery = event == 0 && sig != (SIGTRAP | 0x80);
    if (auto again = tracees_.find(tid); again != tracees_.end()) {
      DetachThread(*again->second, delivery ? sig : 0);
    }
    return;
  }
  if (sig == (SIGTRAP | 0x80)) {
    OnSyscallStop(t);
    return;
  }
  switch (event) {
    case 0:
      // Signal-delivery-stop: deliver the signal as the kernel would have (ptrace(2): the
      // siginfo stays the one the sender queued), after telling the handler (strace's
      // "--- SIGCHLD {...} ---" line).
      if (t.armed) {
        ReportSignal(t, sig);
      }
      Resume(t, sig);
      return;
    case PTRACE_EVENT_SECCOMP:
      OnSyscallStop(t);
      return;
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
    case PTRACE_EVENT_CLONE: {
      unsigned long child = 0;
      if (ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &child) == 0) {
        OnNewTracee(t, static_cast<pid_t>(child), event == PTRACE_EVENT_CLONE);
      }
      Resume(t, 0);
      return;
    }
    case PTRACE_EVENT_EXEC:
      t.armed = true;
      if (!AdmitImage(t)) {
        return;  // killed in its stop: its exit comes through the reaper as any other
      }
      Resume(t, 0);
      return;
    case PTRACE_EVENT_STOP:
      if (IsStoppingSignal(sig)) {
        // Group-stop: stay stopped, but let SIGCONT (or SIGKILL) wake the thread, which then
        // reports PTRACE_EVENT_STOP with SIGTRAP and is resumed below.
        if (ptrace(PTRACE_LISTEN, tid, nullptr, nullptr) != 0 && errno != ESRCH) {
          spdlog::warn("guest {}: PTRACE_LISTEN of {}: {}", t.guest->id, tid,
                       std::strerror(errno));
        }
        return;
      }
      Resume(t, 0);  // the first stop of a new tracee, or the end of a group-stop
      return;
    default:
      Resume(t, 0);
      return;
  }
}

void Tracer::ReportSignal(const Tracee& t, int sig) {
  siginfo_t si;
  std::memset(&si, 0, sizeof si);
  if (ptrace(PTRACE_GETSIGINFO, t.tid, nullptr, &si) != 0) {
    // ESRCH: killed in the stop. Observation fails open: the signal still goes through.
    spdlog::debug("guest {}: PTRACE_GETSIGINFO of {}: {}", t.guest->id, t.tid,
                  std::strerror(errno));
    si.si_signo = sig;
  }
  SignalDelivery d;
  d.signo = si.si_signo;
  d.code = si.si_code;
  d.err = si.si_errno;
  // The members share siginfo_t's union: each is copied, the reader picks by signo and code.
  d.pid = si.si_pid;
  d.uid = si.si_uid;
  d.status = si.si_status;
  d.utime = si.si_utime;
  d.stime = si.si_stime;
  d.addr = reinterpret_cast<uint64_t>(si.si_addr);
  d.value = reinterpret_cast<int64_t>(si.si_value.sival_ptr);
  d.timerid = si.si_timerid;
  d.overrun = si.si_overrun;
  d.band = si.si_band;
  d.fd = si.si_fd;
  d.syscall = si.si_syscall;
  d.arch = si.si_arch;
  SyscallEvent thread;
  thread.guest_id = t.guest->id;
  thread.pid = t.tgid;
  thread.tid = t.tid;
  thread.nr = -1;
  thread.start_ns = common::MonotonicNs();
  t.guest->handler->OnSignal(thread, d);
}

void Tracer::OnSyscallStop(Tracee& t) {
  __ptrace_syscall_info info;
  std::memset(&info, 0, sizeof info);
  if (ptrace(PTRACE_GET_SYSCALL_INFO, t.tid, reinterpret_cast<void*>(sizeof info), &info) <= 0) {
    if (errno != ESRCH) {
      spdlog::warn("guest {}: PTRACE_GET_SYSCALL_INFO of {}: {}", t.guest->id, t.tid,
                   std::strerror(errno));
      Resume(t, 0);
    }
    return;
  }
  Guest& guest = *t.guest;
  switch (info.op) {
    case PTRACE_SYSCALL_INFO_SECCOMP:
    case PTRACE_SYSCALL_INFO_ENTRY: {
      const bool at_seccomp = info.op == PTRACE_SYSCALL_INFO_SECCOMP;
      const auto& raw = at_seccomp ? info.seccomp.args : info.entry.args;
      const int nr = static_cast<int>(at_seccomp ? info.seccomp.nr : info.entry.nr);
      if (t.pending) {
        // The exit of the previous call was never reported (the thread was interrupted
        // between the two stops, e.g. by an exec in another thread): its result is unknown.
        Event stale = std::move(*t.pending);
        t.pending.reset();
        t.answer.reset();
        t.restart_nr.reset();
        t.want_exit_stop = false;
        Complete(t, std::move(stale));
      }
      if (!t.armed) {
        // The launcher sets no_new_privs right after the supervisor's go (both modes); from
        // there on every call is the guest's.
        t.armed = nr == SYS_prctl && raw[0] == PR_SET_NO_NEW_PRIVS;
        Resume(t, 0);
        return;
      }
      const uint64_t raw_nr = at_seccomp ? info.seccomp.nr : info.entry.nr;
      if (guest.attached && syscall_regs::IsForeignAbi(info.arch, raw_nr)) {
        Resume(t, 0);  // not hijackd's process to kill; no policy of it enforces anything
        return;
      }
      if (syscall_regs::IsForeignAbi(info.arch, raw_nr)) {
        // Only ptrace-all gets here (the filter of the other backends kills these calls
        // first): a call of another ABI has other numbers and argument registers, so no
        // policy decided for x86_64 could judge it. Killed before it runs, the way the
        // filter's SECCOMP_RET_KILL_PROCESS would (the thread stays stopped until SIGKILL).
        spdlog::warn("guest {}: pid {} made a system call of another ABI (arch {:#x}, number "
                     "{:#x}): killed",
                     guest.id, t.tgid, info.arch, raw_nr);
        kill(t.tgid, SIGKILL);
        return;
      }
      // An attached process is only watched: its clones keep their flags (a CLONE_UNTRACED
      // child is not followed).
      if ((nr == SYS_clone || nr == SYS_clone3) && !guest.attached &&
          KeepChildTraced(t, nr, raw[0])) {
        Event refused;
        refused.call.guest_id = guest.id;
        refused.call.pid = t.tgid;
        refused.call.tid = t.tid;
        refused.call.nr = nr;
        refused.call.arch = info.arch;
        refused.call.ip = info.instruction_pointer;
        for (size_t i = 0; i < refused.call.args.size(); ++i) {
          refused.call.args[i] = raw[i];
        }
        refused.call.start_ns = common::MonotonicNs();
        const Decision enosys = Decision::Fail(ENOSYS);
        refused.decision = enosys;
        Apply(t, enosys, std::move(refused), at_seccomp);
        return;
      }
      if (nr == SYS_ptrace && !guest.warned_ptrace) {
        // A traced process cannot be traced again: the guest's debugger or strace, or
        // LeakSanitizer's thread, gets EPERM from the kernel for every attach and
        // PTRACE_TRACEME (ptrace(2), "EPERM"). Said once per guest, so a bare EPERM is
        // explained.
        guest.warned_ptrace = true;
        spdlog::warn("guest {}: pid {} called ptrace (request {}): the {} backend traces the "
                     "guest, and a traced process cannot be traced again: attaching fails "
                     "with EPERM",
                     guest.id, t.tgid, raw[0],
                     guest.mode == TraceMode::kSeccompStops ? "ptrace" : "ptrace-all");
      }
      if (!guest.intercept.Contains(nr)) {
        Resume(t, 0);
        return;
      }
      SyscallEvent call;
      call.guest_id = guest.id;
      call.pid = t.tgid;
      call.tid = t.tid;
      call.nr = nr;
      call.arch = info.arch;
      call.ip = info.instruction_pointer;
      for (size_t i = 0; i < call.args.size(); ++i) {
        call.args[i] = raw[i];
      }
      call.start_ns = common::MonotonicNs();
      Decide(t, call, at_seccomp);
      return;
    }
    case PTRACE_SYSCALL_INFO_EXIT:
      if (t.pending) {
        Event record = std::move(*t.pending);
        t.pending.reset();
        t.want_exit_stop = false;
        if (t.answer) {
          auto written = syscall_regs::SetReturnValue(t.tid, *t.answer);
          if (written && t.restart_nr) {
            written = syscall_regs::SetSyscallNumber(t.tid, *t.restart_nr);
          }
          t.restart_nr.reset();
          if (!written) {
            record.result.reset();
            if (written.error().code == ESRCH) {
              Complete(t, std::move(record));
              return;
            }
            spdlog::warn("guest {}: {}", guest.id, written.error().message);
          }
          t.answer.reset();
        } else {
          record.result = info.exit.rval;
          ProcessMemory mem(t.tid, nullptr);
          guest.handler->OnReturned(record, mem);
        }
        Resume(t, 0);
        Complete(t, std::move(record));
        return;
      }
      Resume(t, 0);
      return;
    default:
      Resume(t, 0);
      return;
  }
}

// A clone with CLONE_UNTRACED (LeakSanitizer's StopTheWorld makes one, and any program may)
// would start a child that PTRACE_O_TRACECLONE does not attach (ptrace(2), "CLONE_UNTRACED"):
// under SECCOMP_RET_TRACE with no tracer every intercepted call of that child fails with ENOSYS
// (seccomp(2)), so it cannot even exit, and it outlives the supervisor; under ptrace-all it
// escapes every decision. The flag is taken off while the caller is stopped before the call: in
// the argument register for clone; a clone3 with it is refused (true: fail it with ENOSYS). The
// kernel runs the filter again on the changed call (seccomp(2), SECCOMP_RET_TRACE: since Linux
// 4.8) and the child is traced like every other; what the guest can tell is that the flag it
// passed did not hold, which is the tracer it can see anyway (README).
bool Tracer::KeepChildTraced(Tracee& t, int nr, uint64_t arg0) {
  if (nr == SYS_clone) {
    if ((arg0 & CLONE_UNTRACED) == 0) {
      return false;
    }
    const auto traced = static_cast<int64_t>(arg0 & ~uint64_t{CLONE_UNTRACED});
    if (auto r = syscall_regs::SetArgument(t.tid, 0, traced); !r && r.error().code != ESRCH) {
      spdlog::warn("guest {}: clearing CLONE_UNTRACED of clone in {}: {}", t.guest->id, t.tid,
                   r.error().message);
    }
    return false;
  }
  // clone3: its flags are in the guest's memory. A clone3 that asks for CLONE_UNTRACED fails
  // with ENOSYS, as on a kernel before 5.3, and glibc (like any caller written for those kernels)
  // falls back to clone, whose flags are a register. Writing the flags instead would race with
  // the guest's other threads; the check still does (README, "What a guest can observe").
  errno = 0;
  const long flags = ptrace(PTRACE_PEEKDATA, t.tid, reinterpret_cast<void*>(arg0), nullptr);
  return errno == 0 && (static_cast<uint64_t>(flags) & CLONE_UNTRACED) != 0;
}

void Tracer::Decide(Tracee& t, const SyscallEvent& call, bool at_seccomp_stop) {
  Guest& guest = *t.guest;
  // The thread is stopped: its memory cannot change under the read except through other
  // threads of the guest, which is the same race the kernel itself has (TOCTOU; see README).
  ProcessMemory mem(t.tid, nullptr);
  Event record;
  record.call = call;
  struct Deferral final : CallDeferral {
    Deferral(Tracer& tracer, Tracee& t, bool at_seccomp_stop)
        : tracer(tracer), t(t), at_seccomp_stop(at_seccomp_stop) {}
    std::shared_ptr<DeferredAnswer> Defer() override {
      t.deferred_alive = std::make_shared<std::atomic<bool>>(true);
      return std::make_shared<DeferredCall>(tracer.self_, t.guest, t, at_seccomp_stop);
    }
    Tracer& tracer;
    Tracee& t;
    bool at_seccomp_stop;
  } deferral(*this, t, at_seccomp_stop);
  std::optional<Decision> decision = guest.handler->OnSyscall(call, mem, record, deferral);
  if (decision) {
    Settle(t, *decision, std::move(record), at_seccomp_stop);
  }
}

void Tracer::Settle(Tracee& t, const Decision& decision, Event record, bool at_seccomp_stop) {
  record.decision = decision;
  if (decision.delay().count() > 0) {
    // Keep the thread in its ptrace-stop; the loop and other guests go on.
    t.held = Tracee::Held{decision, std::move(record), at_seccomp_stop};
    t.hold = std::make_unique<boost::asio::steady_timer>(loop_, decision.delay());
    std::weak_ptr<Tracer> weak = self_;
    t.hold->async_wait([weak, tid = t.tid, serial = t.serial](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self) {
        return;  // cancelled: the thread died and Forget reported its call
      }
      auto it = self->tracees_.find(tid);
      if (it == self->tracees_.end() || it->second->serial != serial || !it->second->held) {
        return;
      }
      Tracee& thread = *it->second;
      Tracee::Held held = std::move(*thread.held);
      thread.held.reset();
      // The handler runs from a moved copy: destroying the timer here is allowed.
      thread.hold.reset();
      self->Apply(thread, held.decision, std::move(held.record), held.at_seccomp_stop);
    });
    return;
  }
  Apply(t, decision, std::move(record), at_seccomp_stop);
}

void Tracer::Apply(Tracee& t, const Decision& decision, Event record, bool at_seccomp_stop) {
  Guest& guest = *t.guest;
  Decision effective = decision;
  if (decision.kind() == Decision::Kind::kInjectFd) {
    // ptrace cannot place a descriptor in the guest (Backend::CanInjectFd() is false): the call
    // does not run and fails, closed.
    if (!guest.warned_inject_fd) {
      guest.warned_inject_fd = true;
      spdlog::warn("guest {}: the ptrace backend cannot inject descriptors; failing the call with "
                   "ENOTSUP (use --backend notify)",
                   guest.id);
    }
    effective = Decision::Fail(ENOTSUP);
  }
  if (!effective.runs_call()) {
    const int64_t value = effective.value();
    auto skipped = syscall_regs::SkipSyscall(t.tid);
    if (skipped && at_seccomp_stop) {
      skipped = syscall_regs::SetReturnValue(t.tid, value);
    }
    if (!skipped) {
      // ESRCH: killed while stopped; its exit is on the way and nothing ran.
      if (skipped.error().code != ESRCH) {
        spdlog::warn("guest {}: {}", guest.id, skipped.error().message);
      }
      Complete(t, std::move(record));
      return;
    }
    record.result = value;
    if (value == -kErestartSys) {
      // A call a module answers "restart after the handler unless it lacks SA_RESTART" (an
      // emulated connect that a caught signal interrupts): the kernel decides that on the way
      // out, from the call's number and -ERESTARTSYS, both written at the exit stop.
      t.answer = value;
      t.restart_nr = record.call.nr;
      t.want_exit_stop = at_seccomp_stop;
      t.pending = std::move(record);
      Resume(t, 0, /*exit_stop_next=*/true);
      return;
    }
    if (at_seccomp_stop) {
      Resume(t, 0);
      Complete(t, std::move(record));
    } else {
      // Entry stop: the kernel writes -ENOSYS on the way out; the answer goes in at the exit.
      t.answer = value;
      t.pending = std::move(record);
      Resume(t, 0, /*exit_stop_next=*/true);
    }
    return;
  }
  if (!NeverReturns(record.call.nr) &&
      (!at_seccomp_stop || guest.handler->WantsResult(record.call.nr))) {
    // Entry stops see their exit stop anyway; after a seccomp stop it costs a second stop.
    t.want_exit_stop = at_seccomp_stop;
    t.pending = std::move(record);
    Resume(t, 0, /*exit_stop_next=*/true);
    return;
  }
  // The guest goes on first; the record is bookkeeping.
  Resume(t, 0);
  Complete(t, std::move(record));
}

void Tracer::Resume(Tracee& t, int sig, bool exit_stop_next) {
  const bool syscall_stops = t.guest->mode == TraceMode::kEverySyscall || t.want_exit_stop;
  if (exit_stop_next && syscall_stops) {
    expect_stop_ = t.tid;
  }
  if (ptrace(syscall_stops ? PTRACE_SYSCALL : PTRACE_CONT, t.tid, nullptr,
             reinterpret_cast<void*>(static_cast<long>(sig))) != 0 &&
      errno != ESRCH) {
    spdlog::warn("guest {}: resuming {}: {}", t.guest->id, t.tid, std::strerror(errno));
  }
}

void Tracer::Complete(Tracee& t, Event record) {
  record.end_ns = common::MonotonicNs();
  t.guest->handler->OnCompleted(std::move(record));
}

void Tracer::OnNewTracee(Tracee& parent, pid_t child, bool maybe_thread) {
  if (child <= 0 || tracees_.contains(child)) {
    return;
  }
  // Died before its parent's event was seen: count it as never started.
  for (auto it = unclaimed_exits_.begin(); it != unclaimed_exits_.end(); ++it) {
    if (it->first == child) {
      bool dead = IsDead(child);
      unclaimed_exits_.erase(it);
      if (dead) {
        early_stops_.erase(child);
        return;
      }
      break;  // an older process with a reused pid
    }
  }
  const pid_t tgid = maybe_thread ? ReadThreadGroupId(child) : child;
  AddTracee(child, tgid, parent.guest);
  if (auto early = early_stops_.find(child); early != early_stops_.end()) {
    int status = early->second;
    early_stops_.erase(early);
    OnStop(child, status);
  }
}

void Tracer::OnExec(pid_t tid) {
  unsigned long former = 0;
  if (ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &former) != 0) {
    return;
  }
  const pid_t old_tid = static_cast<pid_t>(former);
  if (old_tid == tid) {
    return;
  }
  // A non-leader thread exec'd and took the leader's tid; the old leader is gone without an
  // exit report (ptrace(2), "execve(2) under ptrace").
  auto moved = tracees_.extract(old_tid);
  if (moved.empty()) {
    return;
  }
  Forget(tid);
  moved.key() = tid;
  moved.mapped()->tid = tid;
  moved.mapped()->tgid = tid;
  tracees_.insert(std::move(moved));
}

bool Tracer::AdmitImage(Tracee& t) {
  Guest& guest = *t.guest;
  if (!guest.handler->WantsExecImages()) {
    return true;
  }
  SyscallEvent exec;
  exec.guest_id = guest.id;
  exec.pid = t.tgid;  // after an exec the thread is the leader (OnExec moved it there)
  exec.tid = t.tid;
  exec.nr = SYS_execve;
  exec.arch = syscall_regs::NativeArch();
  exec.start_ns = common::MonotonicNs();
  ProcessMemory mem(t.tid, nullptr);
  Event record;
  std::optional<Decision> decision = guest.handler->OnExecImage(exec, mem, record);
  if (!decision) {
    return true;
  }
  // The thread is in its PTRACE_EVENT_EXEC stop, the only one of its process (execve(2) ended
  // the others): SIGKILL ends it there, before the image's first instruction.
  if (syscall(SYS_tgkill, t.tgid, t.tid, SIGKILL) != 0 && errno != ESRCH) {
    spdlog::critical("guest {}: tgkill of {} whose image the policy refused: {}", guest.id,
                     t.tid, std::strerror(errno));
    std::abort();  // a refused image must not run; the tree dies with the supervisor
  }
  record.call = exec;
  guest.handler->OnCompleted(std::move(record));
  return false;
}

void Tracer::Forget(pid_t tid) {
  auto it = tracees_.find(tid);
  if (it == tracees_.end()) {
    return;
  }
  std::unique_ptr<Tracee> t = std::move(it->second);
  tracees_.erase(it);
  if (t->deferred_alive) {
    // Its call's decision is still running: reads of its memory stop counting from here.
    t->deferred_alive->store(false, std::memory_order_release);
  }
  if (t->pending) {
    Event record = std::move(*t->pending);
    record.result.reset();  // never completed (skipped calls had no answer written yet)
    Complete(*t, std::move(record));
  }
  if (t->held) {
    Event record = std::move(t->held->record);  // killed while held: the call never ran
    t->held.reset();
    Complete(*t, std::move(record));
  }
  --t->guest->tracees;
}

void Tracer::OnExit(pid_t tid, int status) {
  auto it = tracees_.find(tid);
  if (it == tracees_.end()) {
    early_stops_.erase(tid);
    unclaimed_exits_.emplace_back(tid, status);
    if (unclaimed_exits_.size() > kUnclaimedExits) {
      unclaimed_exits_.pop_front();
    }
    return;
  }
  std::shared_ptr<Guest> guest = it->second->guest;
  if (tid == guest->main_pid) {
    guest->main_status = status;
  } else if (tid == it->second->tgid && guest->mode != TraceMode::kExecEvents &&
             guest->handler != nullptr) {
    // A process of the guest: ptrace(2) reports a leader's exit once its other threads are
    // gone, so this is the process's status (strace's "+++ exited with N +++").
    SyscallEvent process;
    process.guest_id = guest->id;
    process.pid = tid;
    process.tid = tid;
    process.nr = -1;
    process.start_ns = common::MonotonicNs();
    guest->handler->OnProcessEnded(process, status);
  }
  Forget(tid);
  MaybeFinish(*guest);
}

void Tracer::MaybeFinish(Guest& guest) {
  if (guest.finished || (!guest.main_status && !guest.detaching) || guest.tracees > 0) {
    return;
  }
  guest.finished = true;
  if (guest.mode == TraceMode::kExecEvents) {
    guests_.erase(guest.id);  // its own backend reports the end; `guest` dies here
    return;
  }
  if (!guest.attached) {
    if (auto message =
            launcher::StartFailureMessage(guest.report.get(), *guest.handler, guest.path)) {
      spdlog::error("{}", *message);
    }
  }
  SyscallHandler* handler = guest.handler;
  const int status = guest.main_status.value_or(kUnknownWaitStatus);
  const uint64_t id = guest.id;
  // Called from inside the reaper's drain: report after it returns.
  boost::asio::post(loop_, [weak = self_, handler, status, id, finished = &guest] {
    if (auto self = weak.lock()) {
      if (auto it = self->guests_.find(id); it != self->guests_.end() &&
                                            it->second.get() == finished) {
        self->guests_.erase(it);
      }
    }
    handler->OnGuestExit(status);
  });
}

}  // namespace hijack::backend
