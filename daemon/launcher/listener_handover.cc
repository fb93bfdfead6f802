#include "daemon/launcher/listener_handover.h"

#include <dlfcn.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "daemon/launcher/scm_rights.h"

namespace hijack::launcher {
namespace {

constexpr int kPending = -1;      // Shared::listener before the child publishes
constexpr int kChildFailed = -2;  // the child gave up before publishing
constexpr char kTagListener = 'L';
constexpr char kTagNothing = 'N';  // the helper gave up; the message carries its pidfd only
constexpr size_t kStackSize = 64 * 1024;
// The helper's own limit, a last resort: the supervisor abandons the launch sooner (its deadline
// in StartChild is 10 s), and the helper dies with it.
constexpr int64_t kHelperGiveUpNs = 30'000'000'000;

__attribute__((always_inline)) inline int64_t MonotonicNs(const timespec& ts) {
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The helper shares the child's thread-local storage (no CLONE_SETTLS), errno included, and runs
// beside it: it makes raw system calls that touch neither errno nor any libc state.
__attribute__((always_inline)) inline long RawSyscall(long nr, long a0 = 0, long a1 = 0,
                                                      long a2 = 0) {
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a0), "S"(a1), "d"(a2)
                   : "rcx", "r11", "memory");
  return ret;
}

// clone(2) as libc has it. ThreadSanitizer intercepts clone and treats every call as a fork: it
// locks and resets its runtime around the call and hands the new task its function through a
// struct in the interceptor's stack frame. A CLONE_VM task shares that frame, which the caller
// overwrites as soon as clone returns, so the helper would jump to garbage (or wait on the
// runtime's locks): under ThreadSanitizer the guests of the notify backend never started. The
// helper runs none of the sanitizer's code (HelperMain is not instrumented), so it is started
// with libc's own clone, looked up past the interceptor before the fork (dlopen(3) is not
// async-signal-safe).
Result<ListenerHandover::CloneFn> LibcClone() {
#if defined(__SANITIZE_THREAD__)
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD | RTLD_LOCAL);
  void* fn = libc != nullptr ? dlsym(libc, "clone") : nullptr;
  if (fn == nullptr) {
    return std::unexpected(Error{ENOSYS, std::string("dlsym clone in libc.so.6: ") + dlerror()});
  }
  return reinterpret_cast<ListenerHandover::CloneFn>(fn);
#else
  return &clone;
#endif
}

}  // namespace

// Lives at the start of the MAP_SHARED mapping: the supervisor, the child and the helper see the
// same bytes. Descriptor numbers in it are numbers in the child's table.
struct ListenerHandover::Shared {
  std::atomic<int> listener{kPending};  // child -> helper: the listener's number, or kChildFailed
  std::atomic<int> abandoned{0};        // supervisor -> helper: stop waiting
  std::atomic<int> helper_started{0};   // child -> supervisor: a helper exists and will send
  int helper_pidfd = -1;                // written by clone(2) (CLONE_PIDFD) in the child
  int socket = -1;                      // the helper's end of the socketpair
  pid_t supervisor = 0;
  int64_t give_up_ns = 0;  // CLOCK_MONOTONIC
};
static_assert(std::atomic<int>::is_always_lock_free, "shared between processes");

// The helper: no allocation, no lock, no libc call (the child it was cloned from is a fork of a
// multi-threaded process), and nothing for ASan to track (its stack is ours, not a thread's), nor
// for TSan (its thread-local storage is the child's, which the child's own thread uses meanwhile).
__attribute__((no_sanitize("address", "undefined", "thread"))) int ListenerHandover::HelperMain(
    void* arg) {
  auto* shared = static_cast<Shared*>(arg);
  // Dies with the supervisor thread that forked the child, as the child does.
  RawSyscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL);
  if (RawSyscall(SYS_getppid) != shared->supervisor) {
    RawSyscall(SYS_exit, 0);
  }
  // The child publishes within microseconds (one seccomp(2) call) unless it fails; a short nap
  // that grows keeps the helper off the CPU the child needs on a busy machine.
  long nap_ns = 20'000;
  int listener = kPending;
  for (;;) {
    listener = shared->listener.load(std::memory_order_acquire);
    if (listener != kPending || shared->abandoned.load(std::memory_order_acquire) != 0) {
      break;
    }
    timespec now{};
    RawSyscall(SYS_clock_gettime, CLOCK_MONOTONIC, reinterpret_cast<long>(&now));
    if (MonotonicNs(now) > shared->give_up_ns) {
      break;
    }
    timespec nap{0, nap_ns};
    RawSyscall(SYS_nanosleep, reinterpret_cast<long>(&nap), 0);
    nap_ns = nap_ns < 1'000'000 ? nap_ns * 2 : nap_ns;
  }
  char tag = listener >= 0 ? kTagListener : kTagNothing;
  RightsMessage out(&tag, 1);
  const int fds[2] = {shared->helper_pidfd, listener};
  out.Attach(fds, listener >= 0 ? 2 : 1);
  // MSG_NOSIGNAL: a supervisor that gave up has closed its end; no SIGPIPE for that.
  RawSyscall(SYS_sendmsg, shared->socket, reinterpret_cast<long>(&out.msg), MSG_NOSIGNAL);
  // Closes nothing: the descriptor table is the child's too. It loses its last user when the
  // child execs (which gives the child its own copy) or exits.
  RawSyscall(SYS_exit, 0);
  return 0;
}

Result<ListenerHandover> ListenerHandover::Create(pid_t supervisor) {
  HIJACK_ASSIGN_OR_RETURN(CloneFn start_task, LibcClone());
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return ErrnoError(errno, "socketpair for the seccomp listener handover");
  }
  UniqueFd parent_end(pair[0]), child_end(pair[1]);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  // One page of shared state, a guard page, the helper's stack.
  const size_t size = 2 * page + kStackSize;
  void* mapping = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) {
    return ErrnoError(errno, "mmap of the seccomp listener handover's stack");
  }
  if (mprotect(static_cast<char*>(mapping) + page, page, PROT_NONE) != 0) {
    int err = errno;
    munmap(mapping, size);
    return ErrnoError(err, "mprotect of the seccomp listener handover's guard page");
  }
  ListenerHandover handover(mapping, size, std::move(parent_end), std::move(child_end));
  handover.shared_->socket = handover.child_end_.get();
  handover.shared_->supervisor = supervisor;
  handover.clone_ = start_task;
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  handover.shared_->give_up_ns = MonotonicNs(now) + kHelperGiveUpNs;
  return handover;
}

ListenerHandover::ListenerHandover(void* mapping, size_t size, UniqueFd parent_end,
                                   UniqueFd child_end)
    : mapping_(mapping),
      size_(size),
      shared_(new (mapping) Shared),
      parent_end_(std::move(parent_end)),
      child_end_(std::move(child_end)) {}

ListenerHandover::ListenerHandover(ListenerHandover&& other) noexcept
    : mapping_(std::exchange(other.mapping_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      shared_(std::exchange(other.shared_, nullptr)),
      parent_end_(std::move(other.parent_end_)),
      child_end_(std::move(other.child_end_)),
      clone_(other.clone_) {}

ListenerHandover::~ListenerHandover() {
  if (mapping_ == nullptr) {
    return;
  }
  shared_->abandoned.store(1, std::memory_order_release);
  shared_->~Shared();
  munmap(mapping_, size_);
}

int ListenerHandover::StartHelper() {
  // The stack grows down from the end of the mapping to the guard page; clone(2) wants its top.
  char* stack_top = static_cast<char*>(mapping_) + size_;
  const int flags = CLONE_VM | CLONE_FILES | CLONE_PARENT | CLONE_PIDFD | SIGCHLD;
  if (clone_(HelperMain, stack_top, flags, shared_, &shared_->helper_pidfd) < 0) {
    return errno;
  }
  shared_->helper_started.store(1, std::memory_order_release);
  return 0;
}

void ListenerHandover::Publish(int listener_fd) {
  shared_->listener.store(listener_fd, std::memory_order_release);
}

void ListenerHandover::ChildFailed() {
  int expected = kPending;
  shared_->listener.compare_exchange_strong(expected, kChildFailed, std::memory_order_acq_rel);
}

void ListenerHandover::CloseChildEnd() { child_end_.reset(); }

Result<UniqueFd> ListenerHandover::Receive(pid_t child, int child_pidfd, int report_fd,
                                           const std::function<std::optional<Error>()>& read_report,
                                           std::chrono::steady_clock::time_point deadline) {
  const std::string who = "guest " + std::to_string(child);
  std::optional<Error> failure;
  UniqueFd listener, helper;
  bool delivered = false;
  bool report_open = true;
  bool child_gone = false;
  // After a failure, wait a little longer for the helper's last message, to reap it.
  auto abandon = [&](Error error) {
    if (!failure) {
      failure = std::move(error);
    }
    shared_->abandoned.store(1, std::memory_order_release);
    deadline = std::max(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(1));
  };
  while (!delivered) {
    if (failure && shared_->helper_started.load(std::memory_order_acquire) == 0) {
      break;  // no helper will send anything
    }
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      if (failure) {
        break;
      }
      abandon(Error{ETIMEDOUT, "timed out waiting for " + who + " to install its filter"});
      continue;
    }
    pollfd fds[3] = {{parent_end_.get(), POLLIN, 0},
                     {report_open ? report_fd : -1, POLLIN, 0},
                     {child_gone ? -1 : child_pidfd, POLLIN, 0}};
    int ready = poll(fds, 3, static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX)));
    if (ready < 0 && errno != EINTR) {
      abandon(Error{errno, std::string("poll during the seccomp listener handover: ") +
                               std::strerror(errno)});
      break;
    }
    if (fds[0].revents & POLLIN) {
      delivered = ReceiveMessage(&listener, &helper);
      if (delivered && !listener.valid() && !failure) {
        // A child that failed wrote its report before telling the helper (ChildFailed).
        pollfd report{report_open ? report_fd : -1, POLLIN, 0};
        if (poll(&report, 1, 0) == 1) {
          failure = read_report();
        }
        if (!failure) {
          failure = Error{ECHILD, "the helper of " + who +
                                      " gave up: the guest did not publish "
                                      "its seccomp listener in time"};
        }
      }
      continue;
    }
    if (fds[1].revents != 0) {
      report_open = false;
      if (auto error = read_report()) {
        abandon(std::move(*error));
      }
      continue;
    }
    if (fds[0].revents != 0) {
      // Hung up without a message: the child and any helper are gone, and the report said
      // nothing (it was read first).
      delivered = true;
      if (!failure) {
        failure = Error{ECHILD, who + " and its helper ended before handing over the listener"};
      }
      continue;
    }
    if (fds[2].revents != 0) {
      child_gone = true;
      // A child that published and then died has still handed its listener to the helper.
      if (shared_->listener.load(std::memory_order_acquire) < 0) {
        abandon(Error{ECHILD, who + " died before installing its filter"});
      }
    }
  }
  if (helper.valid()) {
    ReapHelper(helper.get(), deadline);
  }
  if (failure) {
    return std::unexpected(*failure);
  }
  return listener;
}

bool ListenerHandover::ReceiveMessage(UniqueFd* listener, UniqueFd* helper) {
  char tag = 0;
  RightsMessage in(&tag, 1);
  ssize_t n = recvmsg(parent_end_.get(), &in.msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
    return false;
  }
  int fds[RightsMessage::kMaxFds] = {-1, -1};
  if (n > 0 && in.Received(fds) > 0) {
    helper->reset(fds[0]);
    UniqueFd second(fds[1]);
    if (tag == kTagListener) {
      *listener = std::move(second);
    }
  }
  return true;
}

void ListenerHandover::ReapHelper(int helper_pidfd,
                                  std::chrono::steady_clock::time_point deadline) {
  // The helper exits right after its sendmsg. If a ProcessReaper (waitpid(-1)) took it first,
  // waitid says ECHILD: nothing left to do either way. If it does not exit in time (stopped by
  // job control), the reaper of the supervisor collects it later.
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  pollfd p{helper_pidfd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) <= 0) {
    return;
  }
  siginfo_t info{};
  waitid(P_PIDFD, static_cast<id_t>(helper_pidfd), &info, WEXITED | WNOHANG | __WALL);
}

}  // namespace hijack::launcher
