// ListenerHandover: brings the seccomp listener of a guest that is starting to the supervisor.
//
//   Result<ListenerHandover> handover = ListenerHandover::Create(getpid());  // before fork
//   pid_t pid = fork();
//   if (pid == 0) {                    // the child: async-signal-safe calls only from here on
//     if (int err = handover->StartHelper(); err != 0) { report(err); _exit(125); }
//     int listener = seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
//     handover->Publish(listener);     // no system call: the filter may intercept any of them
//     execve(...);                     // intercepted: waits until the supervisor answers
//   }
//   handover->CloseChildEnd();
//   Result<UniqueFd> listener = handover->Receive(pidfd, report_fd, read_report, deadline);
//
// Why not simpler: once its filter is installed, any call of the child may be sent to the
// listener, which nobody reads yet, so the child cannot sendmsg(2) the listener itself; and
// pidfd_getfd(2) needs CAP_SYS_PTRACE under the seccomp profiles of container engines (Docker's
// default allows it only with that capability).
//
// How: before installing its filter the child starts a helper task with clone(2),
// CLONE_VM | CLONE_FILES | CLONE_PARENT | CLONE_PIDFD. The helper has no filter, so its calls
// are free; it shares the child's descriptor table, where seccomp(2) puts the listener, and its
// memory, where the child publishes the listener's number with an atomic store. The helper sends
// the listener, and a pidfd of itself, over a socketpair to the supervisor, and exits; the
// supervisor reaps it through that pidfd. CLONE_PARENT makes the helper a child of the
// supervisor, so the guest never sees it in wait(2); a ProcessReaper that reaps it first sees
// an exit of a pid nobody watches, which is harmless. The helper keeps the child's old memory
// and descriptor table when the child execs (exec gives the child a new mm and its own copy of
// the table), so its stack stays valid; the listener is close-on-exec (the kernel creates it so),
// so the guest never holds it after exec. The helper gives up when the child fails, when the
// supervisor abandons the launch, or after a deadline, and dies with the supervisor thread that
// forked the child (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>

#include "hijack/result.h"
#include "hijack/unique_fd.h"

namespace hijack::launcher {

class ListenerHandover {
 public:
  // clone(2)'s libc signature.
  using CloneFn = int (*)(int (*)(void*), void*, int, void*, ...);

  // Supervisor, before fork: the socketpair, and shared memory that holds the helper's stack and
  // the state the child, the helper and the supervisor share. `supervisor` is getpid() of the
  // process that forks the child (the helper's parent). Errors: socketpair or mmap failed;
  // under ThreadSanitizer, libc's clone not found.
  static Result<ListenerHandover> Create(pid_t supervisor);

  ListenerHandover(ListenerHandover&& other) noexcept;
  ListenerHandover& operator=(ListenerHandover&&) = delete;
  ListenerHandover(const ListenerHandover&) = delete;
  ListenerHandover& operator=(const ListenerHandover&) = delete;
  // Supervisor: tells a helper still waiting to give up, and unmaps the supervisor's view of the
  // shared memory (the child's and the helper's stay mapped).
  ~ListenerHandover();

  // Child, before installing its filter; async-signal-safe. Returns 0, or the errno of clone(2)
  // (EINVAL where CLONE_PARENT is refused: the caller is the init of a pid namespace).
  int StartHelper();
  // Child, with the descriptor seccomp(2) returned. No system call.
  void Publish(int listener_fd);
  // Child, when it fails before publishing, after writing its report (the helper stops waiting,
  // and the supervisor reads the report when the helper's message comes). No system call.
  void ChildFailed();

  // Supervisor, after fork: closes its copy of the helper's end of the socketpair.
  void CloseChildEnd();

  // Supervisor: waits until the helper delivers the listener (returned close-on-exec), the
  // child reports a failure on `report_fd` (`read_report` reads one report and returns it, or
  // nullopt at end of file), the child dies before publishing (`child_pidfd` becomes readable),
  // or `deadline` passes. Reaps the helper when it is known. Call once. Errors: the child's
  // report; "died before installing its filter"; "timed out".
  Result<UniqueFd> Receive(pid_t child, int child_pidfd, int report_fd,
                           const std::function<std::optional<Error>()>& read_report,
                           std::chrono::steady_clock::time_point deadline);

 private:
  struct Shared;

  ListenerHandover(void* mapping, size_t size, UniqueFd parent_end, UniqueFd child_end);
  // The helper task's body: waits for Publish, sends, exits. Raw system calls only.
  static int HelperMain(void* shared);
  // One message from the helper: its pidfd and, when it had one, the listener. False when there
  // was nothing to read after all.
  bool ReceiveMessage(UniqueFd* listener, UniqueFd* helper);
  void ReapHelper(int helper_pidfd, std::chrono::steady_clock::time_point deadline);

  void* mapping_ = nullptr;
  size_t size_ = 0;
  Shared* shared_ = nullptr;  // at the start of mapping_
  UniqueFd parent_end_;
  UniqueFd child_end_;
  CloneFn clone_ = nullptr;  // libc's clone, past any sanitizer's interceptor (the .cc says why)
};

}  // namespace hijack::launcher
