#include "daemon/backend/notify/notify_backend.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>
#include <spdlog/spdlog.h>

#include "common/monotonic.h"
#include "daemon/exec_page/agent_launch.h"
#include "daemon/launcher/bpf_builder.h"
#include "daemon/launcher/child_function.h"
#include "daemon/launcher/filter.h"
#include "daemon/launcher/launcher.h"
#include "daemon/launcher/namespace_init.h"
#include "daemon/process/process_memory.h"

// Linux 6.6 added these; Debian 12's headers (6.1) do not have them.
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace hijack::backend {
namespace {

// PIDFD_GET_INFO (linux/pidfd.h, Linux 6.13; exit_code with PIDFD_INFO_EXIT since 6.15), which
// Debian 12's headers do not have: the first 64 bytes of struct pidfd_info, whose size the
// request number carries (the kernel takes any size from that version on).
struct PidfdInfo {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
};
static_assert(sizeof(PidfdInfo) == 64);
constexpr unsigned long kPidfdGetInfo = _IOWR(0xFF, 11, PidfdInfo);
constexpr uint64_t kPidfdInfoExit = 1u << 3;

// The wait status of a zombie `pid` that its parent has not reaped: /proc/PID/stat's exit_code
// (field 52, proc(5)), trusted only when the pidfd still names a process afterwards
// (pidfd_send_signal(2) with signal 0 succeeds for a zombie), so a reused pid cannot answer for
// it. Empty when it is no zombie or gone.
std::optional<int> ZombieExitStatus(pid_t pid, int pidfd) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  hijack::UniqueFd fd(open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return std::nullopt;
  }
  char buf[2048];
  ssize_t n = read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) {
    return std::nullopt;
  }
  buf[n] = '\0';
  // The command name (field 2) may hold spaces and parentheses: fields 3... follow the last ')'.
  char* p = std::strrchr(buf, ')');
  if (p == nullptr || p[1] != ' ' || p[2] != 'Z') {
    return std::nullopt;
  }
  int field = 2;
  long status = 0;
  for (char* tok = p + 1; *tok != '\0';) {
    while (*tok == ' ') {
      ++tok;
    }
    ++field;
    if (field == 52) {
      status = std::strtol(tok, nullptr, 10);
      break;
    }
    while (*tok != ' ' && *tok != '\0' && *tok != '\n') {
      ++tok;
    }
    if (*tok == '\n') {
      break;
    }
  }
  if (field != 52 || syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) != 0) {
    return std::nullopt;
  }
  return static_cast<int>(status);
}

// The wait status of an adopted process that has ended (its pidfd polls readable), whoever
// reaps it: the installer (an OCI runtime) is its parent and often reaps it before the loop
// gets here. While it is a zombie, /proc says; once reaped, the pidfd itself keeps the status
// (PIDFD_GET_INFO with PIDFD_INFO_EXIT, Linux 6.15). The zombie is asked first: where the kernel
// records the exit information only at the reap, a reap between the two asks leaves the answer
// to the second. kUnknownWaitStatus on a kernel that keeps no status for a reaped process.
int AdoptedExitStatus(pid_t pid, int pidfd) {
  if (auto status = ZombieExitStatus(pid, pidfd)) {
    return *status;
  }
  PidfdInfo info{};
  info.mask = kPidfdInfoExit;
  if (ioctl(pidfd, kPidfdGetInfo, &info) == 0 && (info.mask & kPidfdInfoExit) != 0) {
    return info.exit_code;
  }
  // Reaped, on a kernel before 6.15 (ENOTTY or no PIDFD_INFO_EXIT): nothing keeps the status.
  return kUnknownWaitStatus;
}

}  // namespace

struct NotifyBackend::Guest {
  Guest(boost::asio::io_context& loop, int fd) : stream(loop, fd) {}

  uint64_t id = 0;
  std::string path;
  int listener = -1;  // owned by `stream`
  boost::asio::posix::stream_descriptor stream;
  SyscallHandler* handler = nullptr;
  ExecPageClient* page_client = nullptr;  // the handler's; set when the guest has a page
  pid_t main_pid = -1;
  hijack::UniqueFd pidfd;
  hijack::UniqueFd report;
  // In a pid namespace: the init's pipe that carries the guest's status (namespace_init.h).
  hijack::UniqueFd guest_status;
  // That namespace's /proc, where the agent's slot owners (the guest's own ids) are probed.
  hijack::UniqueFd guest_proc;
  std::optional<int> main_status;
  bool hung_up = false;
  bool finished = false;
  std::weak_ptr<Guest> self;  // for timers that outlive a call
  // With the agent: the executive page, and the timer that drains its rings into the handler.
  std::unique_ptr<exec_page::GuestExecPage> page;
  std::unique_ptr<boost::asio::steady_timer> drain_timer;
  uint64_t drain_ticks = 0;
  uint64_t page_policy_version = 0;  // the policy whose buckets and exempt modes the page has
  // The handler judges exec'd images (SyscallHandler::WantsExecImages): the exec watch attaches
  // at the guest's first notification, which comes before its first exec can complete.
  bool watch_execs = false;
  // Adopted (Backend::Adopt): the main process is not the supervisor's child; its pidfd, watched
  // here, says when it ended. Listeners joined later (JoinListener) are Guests of their own with
  // the same id and handler, held by the first one's `joined`; the guest ends when all have.
  bool adopted = false;
  bool prelude = false;  // AdoptSpec::installer_prelude, until this listener's first execve
  uint64_t prelude_calls = 0;
  std::unique_ptr<boost::asio::posix::stream_descriptor> pid_watch;
  std::weak_ptr<Guest> primary;  // set on a joined listener
  std::vector<std::shared_ptr<Guest>> joined;
};

struct NotifyBackend::DeferredCall final : DeferredAnswer {
  // `listener` is the backend's own descriptor of the guest's listener, kept open here so the
  // notification can be re-validated (SECCOMP_IOCTL_NOTIF_ID_VALID) from a worker even after the
  // guest ended and the backend closed its descriptor, whose number may be reused by then.
  DeferredCall(NotifyBackend& backend, std::weak_ptr<Guest> guest, UniqueFd listener,
               uint64_t id, pid_t tid)
      : backend(backend),
        guest(std::move(guest)),
        listener(std::move(listener)),
        id(id),
        mem(tid, [fd = this->listener.get(), id] {
          uint64_t check = id;
          return ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &check) == 0;
        }) {}

  GuestMemory& memory() override { return mem; }

  void Answer(Decision decision, Event record) override {
    auto g = guest.lock();
    if (!g || g->finished) {
      return;  // the guest has ended: nobody waits for the answer, nor for the record
    }
    backend.Answer(*g, id, std::move(decision), std::move(record));
  }

  NotifyBackend& backend;  // backends outlive the calls of their guests
  std::weak_ptr<Guest> guest;
  UniqueFd listener;
  uint64_t id;
  ProcessMemory mem;
};

NotifyBackend::NotifyBackend(boost::asio::io_context& loop, launcher::ProcessReaper& reaper,
                             NotifyOptions options)
    : loop_(loop), reaper_(reaper), options_(options) {}

NotifyBackend::~NotifyBackend() = default;

Result<void> NotifyBackend::ProbeAction() {
  uint32_t action = SECCOMP_RET_USER_NOTIF;
  if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0) {
    return ErrnoError(errno, "seccomp(SECCOMP_GET_ACTION_AVAIL, SECCOMP_RET_USER_NOTIF)");
  }
  return {};
}

Result<void> NotifyBackend::Probe() {
  HIJACK_TRY(ProbeAction());
  // The kernel may offer the action while the sandbox forbids something else a launch needs (a
  // second filter, the clone(2) flags of the listener's handover): start a guest the way Launch
  // does, with a function that makes no intercepted call for a program, and take its listener.
  SyscallSet intercept;
  intercept.Add(SYS_execve);  // never made by the probe's guest
  auto program = launcher::CompileFilter(intercept, launcher::FilterAction::kNotify);
  if (!program) {
    return std::unexpected(program.error());
  }
  LaunchSpec spec;
  spec.argv = {"hijack-notify-probe"};
  launcher::ChildFunction::Set(spec, [] { return 0; });
  auto child = launcher::StartChild(spec, &*program, launcher::ChildMode::kNotifyListener);
  if (!child) {
    return std::unexpected(
        Error{child.error().code, "starting a guest under seccomp user notification: " +
                                      child.error().message});
  }
  // Done with it. Reaped here through its pidfd, so no pid is reused under a ProcessReaper's
  // feet; one that reaps it first (waitpid(-1)) makes waitid fail with ECHILD, which is fine.
  syscall(SYS_pidfd_send_signal, child->pidfd.get(), SIGKILL, nullptr, 0);
  siginfo_t info{};
  while (waitid(P_PIDFD, static_cast<id_t>(child->pidfd.get()), &info, WEXITED | __WALL) != 0 &&
         errno == EINTR) {
  }
  return {};
}

Result<pid_t> NotifyBackend::Launch(const LaunchSpec& spec, SyscallHandler& handler) {
  // The child's execve must wait for the supervisor (see StartChild), so it is always
  // intercepted; it is also how exec chains are seen.
  SyscallSet intercept = spec.intercept;
  intercept.Add(SYS_execve);
  intercept.Add(SYS_execveat);
  // rt_sigreturn is never sent to the supervisor: a signal arriving while it waited for the
  // answer would end it with EINTR before it restored the interrupted frame, and the guest would
  // crash. Stats under notify therefore never count it.
  intercept.Remove(SYS_rt_sigreturn);
  // The agent, when the spec names one and the handler has a page client: its page, its
  // environment, and the calls its trampoline may make without a notification
  // (daemon/launcher/bpf_builder.h). Nothing is committed to the handler until the guest runs.
  ExecPageClient* page_client = handler.exec_page_client();
  auto agent = exec_page::PrepareAgent(spec, intercept, page_client);
  if (agent && !*agent) {
    return std::unexpected(agent->error());
  }
  auto program = launcher::CompileFilter(intercept, launcher::FilterAction::kNotify);
  if (!program) {
    return std::unexpected(program.error());
  }
  if (agent) {
    auto composed = launcher::AddTrampolineExemption(*program, (**agent).modes.exempt,
                                                     (**agent).page->trampoline_syscall_ip());
    if (!composed) {
      return std::unexpected(composed.error());
    }
    program = std::move(composed);
  }
  auto child = launcher::StartChild(agent ? (**agent).spec : spec, &*program,
                                    launcher::ChildMode::kNotifyListener,
                                    agent ? (**agent).page->fd() : -1);
  if (!child) {
    return std::unexpected(child.error());
  }
  int fd = child->listener.release();
  auto guest = std::make_shared<Guest>(loop_, fd);
  guest->self = guest;
  guest->id = spec.guest_id;
  guest->path = spec.path;
  guest->listener = fd;
  guest->handler = &handler;
  guest->main_pid = child->pid;
  guest->pidfd = std::move(child->pidfd);
  guest->report = std::move(child->report);
  guest->watch_execs = handler.WantsExecImages();
  guest->guest_status = std::move(child->guest_status);
  guest->guest_proc = std::move(child->guest_proc);
  if (agent) {
    guest->page = std::move((**agent).page);
    guest->page_client = page_client;
    // The filter now exempts these for good, and before the guest's first call its policy's
    // token buckets go to the page.
    page_client->CommitExempt((**agent).modes.exempt);
    ShapePage(*guest);
  }
  if (options_.sync_wakeup) {
    sync_wakeup_active_ =
        ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
    if (!sync_wakeup_active_) {
      spdlog::debug("guest {}: SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP unavailable: {}", spec.guest_id,
                    std::strerror(errno));
    }
  } else {
    sync_wakeup_active_ = false;
  }
  Guest& g = *guest;
  guests_[spec.guest_id] = std::move(guest);
  // Contained, the supervisor's child is the namespace's init, which exits once the whole tree
  // has; the guest's own status comes through its pipe.
  reaper_.WatchExit(child->reaped_pid(), [this, &g](int status) {
    g.main_status = g.guest_status.valid()
                        ? launcher::NamespaceInit::GuestWaitStatus(g.guest_status.get(), status)
                        : status;
    MaybeFinish(g);
  });
  Arm(g);
  if (g.page) {
    ArmAgentDrain(g);
  }
  return g.main_pid;
}

Result<void> NotifyBackend::Adopt(AdoptSpec spec, SyscallHandler& handler) {
  if (guests_.contains(spec.guest_id)) {
    return std::unexpected(Error{EEXIST, "guest " + std::to_string(spec.guest_id) + " exists"});
  }
  if (!spec.listener.valid() || !spec.pidfd.valid()) {
    return std::unexpected(Error{EBADF, "adopt: no listener or no pidfd"});
  }
  // The stream closes its descriptor; the Guest keeps the pidfd for signals and the status.
  UniqueFd watched(fcntl(spec.pidfd.get(), F_DUPFD_CLOEXEC, 0));
  if (!watched.valid()) {
    return ErrnoError(errno, "adopt: F_DUPFD_CLOEXEC of the pidfd");
  }
  int fd = spec.listener.release();
  auto guest = std::make_shared<Guest>(loop_, fd);
  guest->self = guest;
  guest->id = spec.guest_id;
  guest->path = "pid " + std::to_string(spec.pid);
  guest->listener = fd;
  guest->handler = &handler;
  guest->main_pid = spec.pid;
  guest->pidfd = std::move(spec.pidfd);
  guest->adopted = true;
  guest->prelude = spec.installer_prelude;
  guest->pid_watch =
      std::make_unique<boost::asio::posix::stream_descriptor>(loop_, watched.release());
  if (options_.sync_wakeup) {
    // As for launched guests; the flag is the listener's, so the installer's choice is kept
    // when the kernel refuses it.
    ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
  }
  Guest& g = *guest;
  guests_[spec.guest_id] = std::move(guest);
  // A pidfd polls readable once its process has exited (pidfd_open(2)).
  std::weak_ptr<Guest> weak = g.self;
  g.pid_watch->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                          [this, weak](const boost::system::error_code& ec) {
                            auto locked = weak.lock();
                            if (ec || !locked || locked->finished) {
                              return;
                            }
                            locked->main_status =
                                AdoptedExitStatus(locked->main_pid, locked->pidfd.get());
                            MaybeFinish(*locked);
                          });
  Arm(g);
  return {};
}

Result<void> NotifyBackend::JoinListener(uint64_t guest_id, UniqueFd listener,
                                         bool installer_prelude) {
  auto it = guests_.find(guest_id);
  if (it == guests_.end() || !it->second->adopted || it->second->finished) {
    return std::unexpected(
        Error{ESRCH, "no running adopted guest " + std::to_string(guest_id) + " to join"});
  }
  if (!listener.valid()) {
    return std::unexpected(Error{EBADF, "join: no listener"});
  }
  Guest& primary = *it->second;
  int fd = listener.release();
  auto joined = std::make_shared<Guest>(loop_, fd);
  joined->self = joined;
  joined->id = guest_id;
  joined->path = primary.path;
  joined->listener = fd;
  joined->handler = primary.handler;
  joined->main_pid = primary.main_pid;
  // Only for refusals that kill (the exec watch): the guest's main process answers for it.
  joined->pidfd = UniqueFd(fcntl(primary.pidfd.get(), F_DUPFD_CLOEXEC, 0));
  joined->adopted = true;
  joined->prelude = installer_prelude;
  joined->main_status = 0;  // the joined listener ends with its last task
  joined->primary = primary.self;
  if (options_.sync_wakeup) {
    ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
  }
  Guest& g = *joined;
  primary.joined.push_back(std::move(joined));
  Arm(g);
  return {};
}

void NotifyBackend::Arm(Guest& guest) {
  guest.stream.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                          [this, &guest](const boost::system::error_code& ec) {
                            if (!ec) {
                              Service(guest);
                            }
                          });
}

void NotifyBackend::Service(Guest& guest) {
  // Answer everything pending before going back to epoll: under load this saves a wake-up per
  // call. A receive never blocks here because poll said a notification was queued, and one that
  // is withdrawn meanwhile makes the receive fail with ENOENT instead.
  for (;;) {
    pollfd p{guest.listener, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) {
      break;
    }
    if (p.revents & POLLIN) {
      HandleOne(guest);
      continue;
    }
    if (p.revents & (POLLHUP | POLLERR)) {
      guest.hung_up = true;
      MaybeFinish(guest);
      return;
    }
    break;
  }
  Arm(guest);
}

bool NotifyBackend::HandleOne(Guest& guest) {
  seccomp_notif req;
  // libseccomp 2.5.4 does not clear this buffer and the kernel refuses a dirty one (EINVAL).
  std::memset(&req, 0, sizeof req);
  if (ioctl(guest.listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) {
    if (errno != ENOENT && errno != EINTR) {
      spdlog::warn("guest {}: SECCOMP_IOCTL_NOTIF_RECV: {}", guest.id, std::strerror(errno));
    }
    return false;
  }
  const int listener = guest.listener;
  const uint64_t id = req.id;
  if (guest.prelude) {
    if (req.data.arch == AUDIT_ARCH_X86_64 &&
        (req.data.nr == SYS_execve || req.data.nr == SYS_execveat)) {
      guest.prelude = false;
      spdlog::debug("guest {}: the installer's first execve after {} calls of its own; the "
                    "policy decides from here on",
                    guest.id, guest.prelude_calls);
    } else {
      // The installer's own set-up (AdoptSpec::installer_prelude): nothing of the guest's has
      // run on this listener yet.
      ++guest.prelude_calls;
      seccomp_notif_resp resp;
      std::memset(&resp, 0, sizeof resp);
      resp.id = id;
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
      return true;
    }
  }
  auto still_pending = [listener, id] {
    uint64_t check = id;
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &check) == 0;
  };
  SyscallEvent ev;
  ev.guest_id = guest.id;
  ev.tid = static_cast<pid_t>(req.pid);
  auto tgid = identity_.ThreadGroupOf(ev.tid, still_pending);
  if (!tgid) {
    if (tgid.error().code == ENOENT) {
      // The thread left the call (a signal, or it died): nobody waits for an answer, and its
      // number may be another task's by now. Not an event: the call did not run.
      spdlog::debug("guest {}: {}", guest.id, tgid.error().message);
      return true;
    }
    spdlog::warn("guest {}: refusing syscall {} of thread {}: its process cannot be "
                 "established: {}",
                 guest.id, req.data.nr, ev.tid, tgid.error().message);
    seccomp_notif_resp resp;
    std::memset(&resp, 0, sizeof resp);
    resp.id = id;
    resp.error = -EPERM;
    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    return true;
  }
  if (guest.watch_execs) {
    guest.watch_execs = false;
    // Only the guest's first process has the filter yet, and it waits here, at the latest in its
    // first execve, which is always intercepted: nothing it execs has run.
    Result<void> watched =
        options_.watch_execs
            ? options_.watch_execs(guest.main_pid, guest.id, *guest.handler)
            : std::unexpected(Error{ENOTSUP, "this supervisor has no exec watch"});
    if (!watched) {
      // Fail closed: the policy judges the images exec'd, and nothing would.
      spdlog::error("guest {}: {}; the policy judges exec'd images, so the guest is killed "
                    "(exec_guard \"image\": \"off\" judges the call's path only)",
                    guest.id, watched.error().message);
      syscall(SYS_pidfd_send_signal, guest.pidfd.get(), SIGKILL, nullptr, 0);
      return true;
    }
  }
  ev.pid = *tgid;
  ev.nr = req.data.nr;
  ev.arch = req.data.arch;
  ev.ip = req.data.instruction_pointer;
  for (size_t i = 0; i < ev.args.size(); ++i) {
    ev.args[i] = req.data.args[i];
  }
  ev.start_ns = common::MonotonicNs();

  ProcessMemory mem(ev.tid, still_pending);
  Event record;
  record.call = ev;
  struct Deferral final : CallDeferral {
    Deferral(NotifyBackend& backend, Guest& guest, uint64_t id, pid_t tid)
        : backend(backend), guest(guest), id(id), tid(tid) {}
    std::shared_ptr<DeferredAnswer> Defer() override {
      // A descriptor of our own for the listener (see DeferredCall); without one left (EMFILE)
      // the call cannot be held past OnSyscall, and the handler decides it now.
      UniqueFd own(fcntl(guest.listener, F_DUPFD_CLOEXEC, 0));
      if (!own.valid()) {
        spdlog::warn("guest {}: cannot hold a call for a later answer: F_DUPFD_CLOEXEC: {}",
                     guest.id, std::strerror(errno));
        return nullptr;
      }
      return std::make_shared<DeferredCall>(backend, guest.self, std::move(own), id, tid);
    }
    NotifyBackend& backend;
    Guest& guest;
    uint64_t id;
    pid_t tid;
  } deferral(*this, guest, id, ev.tid);
  std::optional<Decision> decision = guest.handler->OnSyscall(ev, mem, record, deferral);
  if (decision) {
    Answer(guest, id, std::move(*decision), std::move(record));
  }
  return true;
}

void NotifyBackend::Answer(Guest& guest, uint64_t id, Decision decision, Event record) {
  if (guest.page && decision.runs_call()) {
    // One state, two writers: the page's counters and token buckets are debited here for the
    // calls the agent did not make.
    const int64_t wait = guest.page->DebitSupervised(record.call.nr, record.call.start_ns);
    if (wait > decision.delay().count()) {
      decision = decision.After(std::chrono::nanoseconds(wait));
    }
  }
  record.decision = decision;
  if (decision.delay().count() > 0) {
    // Hold the call without holding the loop: answer it when the timer fires. The guest thread
    // stays blocked in the kernel meanwhile, as it would in a slow system call.
    auto timer = std::make_shared<boost::asio::steady_timer>(loop_, decision.delay());
    std::weak_ptr<Guest> weak = guest.self.lock();
    timer->async_wait([this, weak, timer, id, decision,
                       record = std::move(record)](const boost::system::error_code& ec) mutable {
      auto g = weak.lock();
      if (ec || !g || g->finished) {
        return;
      }
      Respond(*g, id, decision, std::move(record));
    });
    return;
  }
  Respond(guest, id, decision, std::move(record));
}

void NotifyBackend::Respond(Guest& guest, uint64_t id, const Decision& decision, Event record) {
  const int listener = guest.listener;
  bool answered = false;
  int err = 0;
  if (decision.kind() == Decision::Kind::kInjectFd) {
    seccomp_notif_addfd addfd;
    std::memset(&addfd, 0, sizeof addfd);
    addfd.id = id;
    addfd.flags = SECCOMP_ADDFD_FLAG_SEND;  // install and answer in one step (Linux 5.14)
    addfd.srcfd = static_cast<uint32_t>(decision.fd());
    addfd.newfd_flags = decision.cloexec() ? O_CLOEXEC : 0;
    int newfd = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd);
    if (newfd >= 0) {
      answered = true;
      record.result = newfd;
    } else if (errno != ENOENT) {
      // The guest could not take the descriptor (EMFILE...): the call fails with that errno.
      int addfd_errno = errno;
      seccomp_notif_resp resp;
      std::memset(&resp, 0, sizeof resp);
      resp.id = id;
      resp.error = -addfd_errno;
      answered = ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0;
      record.result = -addfd_errno;
    }
    err = answered ? 0 : errno;
  } else {
    seccomp_notif_resp resp;
    std::memset(&resp, 0, sizeof resp);
    resp.id = id;
    switch (decision.kind()) {
      case Decision::Kind::kContinue:
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        guest.handler->BeforeContinue(record);
        break;
      case Decision::Kind::kFail:
        resp.error = -decision.error();
        break;
      case Decision::Kind::kReturn:
      case Decision::Kind::kInjectFd:
        resp.val = decision.value();
        break;
    }
    answered = ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0;
    err = answered ? 0 : errno;
    if (answered && !decision.runs_call()) {
      record.result = decision.value();
    }
  }
  if (!answered && err != ENOENT) {
    spdlog::warn("guest {}: answering tid {}: {}", guest.id, record.call.tid, std::strerror(err));
    record.result_note = std::string("SECCOMP_IOCTL_NOTIF_SEND failed: ") + std::strerror(err);
  } else if (!answered) {
    // The guest thread left the call before the answer (a signal); it restarts or fails the
    // call itself, as it would natively.
    spdlog::debug("guest {}: tid {} left syscall {} before the answer", guest.id,
                  record.call.tid, record.call.nr);
    record.result.reset();
    record.result_note = "the thread left the call before the supervisor's answer (a signal)";
  }
  record.end_ns = common::MonotonicNs();
  guest.handler->OnCompleted(std::move(record));
}

void NotifyBackend::MaybeFinish(Guest& guest) {
  if (guest.finished || !guest.main_status || !guest.hung_up || !guest.joined.empty()) {
    return;
  }
  guest.finished = true;
  guest.stream.cancel();
  if (guest.pid_watch) {
    guest.pid_watch->cancel();
  }
  if (auto primary = guest.primary.lock()) {
    // A joined listener: the guest goes on while its first listener or another serves it.
    boost::asio::post(loop_, [this, weak = guest.primary, done = guest.self] {
      auto p = weak.lock();
      auto d = done.lock();
      if (!p || !d) {
        return;
      }
      std::erase(p->joined, d);
      MaybeFinish(*p);
    });
    return;
  }
  if (guest.page) {
    if (guest.drain_timer) {
      guest.drain_timer->cancel();
    }
    // Everything the rings can hold, once: what the guest's last calls appended.
    DrainAgent(guest, size_t{exec_page::kMaxSlots} * exec_page::kRingEntries);
    // A call whose slot another writer held (a raw clone(CLONE_VM) or raw fork shares its
    // creator's slot; agent.cc's LockSlot) was counted without its event: dropped as well.
    const uint64_t dropped = guest.page->DroppedEvents() + guest.page->ContendedCalls();
    spdlog::debug("guest {}: agent: {} calls observed in the guest, {} events dropped, {} calls "
                  "sent to the supervisor for want of a slot, {} because a ring was full",
                  guest.id, guest.page->AgentCalls(), dropped, guest.page->SlotlessCalls(),
                  guest.page->OverflowCalls());
    if (guest.page->BogusEntries() > 0) {
      spdlog::warn("guest {}: {} entries of its executive page's rings were no agent's and were "
                   "ignored (the guest wrote its page)",
                   guest.id, guest.page->BogusEntries());
    }
    if (dropped > 0) {
      spdlog::warn("guest {}: {} events of calls the agent observed were dropped (a ring filled "
                   "while a call ran, or another writer held its slot); observers "
                   "did not see them",
                   guest.id, dropped);
    }
  }
  if (auto message =
          launcher::StartFailureMessage(guest.report.get(), *guest.handler, guest.path)) {
    spdlog::error("{}", *message);
  }
  SyscallHandler* handler = guest.handler;
  int status = *guest.main_status;
  uint64_t id = guest.id;
  // Destroy the guest's state outside of its own completion handler.
  boost::asio::post(loop_, [this, handler, status, id] {
    guests_.erase(id);
    handler->OnGuestExit(status);
  });
}

void NotifyBackend::PolicyChanged(uint64_t guest_id) {
  if (auto it = guests_.find(guest_id); it != guests_.end() && it->second->page &&
                                        !it->second->finished) {
    SyncPage(*it->second);
  }
}

void NotifyBackend::ShapePage(Guest& guest) {
  PageShaping shaping = guest.page_client->CommitPageShaping();
  guest.page->ApplyBuckets(shaping.buckets);
  guest.page_policy_version = shaping.policy_version;
}

void NotifyBackend::SyncPage(Guest& guest) {
  // A new policy's buckets (the policy owns them: SetRate's are replaced), then the modes
  // (generation bump): the guest sees both at its next call, with no system call. A policy may
  // also need a call's events now, or need to decide it (then the agent sends it to the
  // supervisor), and an event stream may have opened or closed.
  if (guest.page_client->PolicyVersion() != guest.page_policy_version) {
    ShapePage(guest);
  }
  const AgentModes modes = DeriveAgentModes(*guest.page_client, guest.page->exempt());
  guest.page->Refresh(modes.exempt, modes.events, modes.timed);
}

exec_page::GuestExecPage* NotifyBackend::ExecPageOf(uint64_t guest_id) const {
  auto it = guests_.find(guest_id);
  return it == guests_.end() ? nullptr : it->second->page.get();
}

void NotifyBackend::DrainAgent(Guest& guest, size_t max_entries) {
  // The agent's own account of its calls: its ids are taken as written (observation only; the
  // page is the guest's) and never looked up, so a guest inventing ids costs nothing. In a pid
  // namespace of its own (launcher/namespace_init.h) they are the guest's ids, not the
  // supervisor's.
  const uint64_t ip = guest.page->trampoline_syscall_ip();
  guest.page->Drain(
      [&](const exec_page::RingEntry& e) {
        guest.handler->OnCompleted(exec_page::EventFromRing(e, guest.id, e.pid, ip));
      },
      max_entries);
  guest.page->CollectCountDeltas([&](int nr, const exec_page::GuestExecPage::Counts& d) {
    guest.page_client->OnAgentCounts(nr, d.calls, d.errors, d.total_ns, d.histogram);
  });
}

void NotifyBackend::ArmAgentDrain(Guest& guest) {
  // Often enough that a ring (1024 events) rarely fills at tens of thousands of calls per second
  // per thread; the final drain happens when the guest ends.
  constexpr auto kDrainInterval = std::chrono::milliseconds(5);
  constexpr uint64_t kReclaimEvery = 20;  // ticks between searches for slots of dead threads
  if (!guest.drain_timer) {
    guest.drain_timer = std::make_unique<boost::asio::steady_timer>(loop_);
  }
  guest.drain_timer->expires_after(kDrainInterval);
  std::weak_ptr<Guest> weak = guest.self;
  guest.drain_timer->async_wait([this, weak](const boost::system::error_code& ec) {
    auto g = weak.lock();
    if (ec || !g || g->finished) {
      return;
    }
    DrainAgent(*g, exec_page::GuestExecPage::kDrainBudget);
    // A swap not announced through PolicyChanged, an event stream that opened or closed: the page
    // follows within a few ticks.
    if (++g->drain_ticks % kReclaimEvery == 0 ||
        g->page_client->PolicyVersion() != g->page_policy_version) {
      g->page->ReclaimDeadSlots(g->guest_proc.get());
      SyncPage(*g);
    }
    ArmAgentDrain(*g);
  });
}

}  // namespace hijack::backend
