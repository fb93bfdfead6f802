// CallerIdentity: the thread group of the thread that sent a seccomp notification, right or
// refused, however quickly the guest ends threads and reuses their ids.
//
//   CallerIdentity identity;
//   Result<pid_t> pid = identity.ThreadGroupOf(req.pid, [&] { return IdValid(req.id); });
//   if (!pid && pid.error().code == ENOENT) { /* the call is gone: nothing to decide */ }
//
// A notification names its thread by number (seccomp_unotify(2): `pid`, in the supervisor's
// PID namespace), and numbers come back: with pid_max 32768 a fork loop reuses a dead thread's
// id within seconds. A cache from number to thread group that is not pruned at every exit (and
// the supervisor does not see the exit of a thread, nor of a process that another guest process
// reaps) names the wrong process. This class instead keeps, per cached number, a handle bound to
// the task, not to the number: a pidfd of the thread (pidfd_open(2) with PIDFD_THREAD, Linux
// 6.9), which refuses signal 0 with ESRCH once the task has been reaped, or on older kernels a
// descriptor of /proc/<tid>, under which every lookup then fails with ENOENT (proc_status.h).
// Both hold the task's struct pid, whose number no other task can take while it has a task.
//
// Why an answer is the caller's (for notification N from thread number T):
//   1. The caller is alive from the moment N is received until N is answered or withdrawn, and
//      while it is alive no other task has the number T (the kernel frees an id only when no
//      task uses it).
//   2. ThreadGroupOf runs after the receive. A cached entry is used only if its handle says its
//      task exists now (and so has number T: a struct pid with a task keeps its number);
//      otherwise the handle is opened and the thread group read now, by number. Either way, at
//      that moment the entry's task had number T.
//   3. Then `still_pending` must say that N is still pending (SECCOMP_IOCTL_NOTIF_ID_VALID); if
//      it is, the caller was alive at every moment since the receive, so at the moment of step
//      2 the one task with number T was the caller: the entry is the caller's, and so is its
//      thread group (which a task never changes; an exec by another thread of the group keeps
//      the group's id and ends the caller's call).
// So an answer is the caller's, and when the call is gone ThreadGroupOf says so (ENOENT)
// instead of guessing. Modules that look up more of the caller by number (/proc/PID/fd, cwd,
// root, credentials, pidfd_open) do the same: look up, then re-validate
// (GuestMemory::StillPending) before acting on what they found.
//
// Bounded: at most `capacity` descriptors; when full, entries of ended threads go first, then
// the least recently used. A miss costs opening /proc/T, reading its status and a pidfd_open; a
// hit one pidfd_send_signal (about 0.3 to 0.5 µs here) and the ID_VALID ioctl.
// Not thread-safe: one per backend, on its loop thread.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_map>

#include "hijack/result.h"
#include "hijack/unique_fd.h"

namespace hijack::backend {

class CallerIdentity {
 public:
  static constexpr size_t kDefaultCapacity = 512;

  explicit CallerIdentity(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}
  CallerIdentity(const CallerIdentity&) = delete;
  CallerIdentity& operator=(const CallerIdentity&) = delete;

  // The thread group of thread `tid`, the sender of a notification for which `still_pending`
  // answers whether it is still pending. ENOENT: the call is gone (its thread died or left the
  // call), nothing about it is known; any other error (EMFILE, a /proc without the entry while
  // the call is pending) means the identity cannot be established, and the caller must refuse
  // the call rather than decide it under a guessed identity.
  Result<pid_t> ThreadGroupOf(pid_t tid, const std::function<bool()>& still_pending);

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    UniqueFd handle;  // a pidfd of the thread (PIDFD_THREAD), or its /proc/<tid> (O_PATH)
    bool is_pidfd = false;
    pid_t tgid = 0;
    uint64_t used = 0;
  };
  static bool Alive(const Entry& e);
  void MakeRoom();

  size_t capacity_;
  bool pidfd_thread_ = true;  // until the kernel refuses PIDFD_THREAD
  uint64_t clock_ = 0;
  std::unordered_map<pid_t, Entry> entries_;
};

}  // namespace hijack::backend
