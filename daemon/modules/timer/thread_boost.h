// ThreadBoost: raises threads to a real-time class (SCHED_FIFO or SCHED_RR, sched(7)) for a
// bounded slice and puts them back, for the timer module's precise sleeps.
//
// A held sleep is answered on time, but the guest thread that was blocked in it (and the
// supervisor's loop thread, which sends the answer) are ordinary threads: on a loaded host each
// waits behind the CPU-bound threads of its run queue before it runs again, for milliseconds.
// A real-time thread preempts every ordinary one on its CPU as soon as it is woken, so the timer
// module raises both shortly before the deadline and this class lowers them again after the
// slice, or at once when the guest thread comes back with its next sleep:
//
//   ThreadBoost boost(SCHED_FIFO, 10, /*slice_ns=*/200'000);
//   boost.Raise(tid, std::move(pidfd), deadline_ns + 200'000);   // before answering
//   boost.Restore(tid);                                           // the thread's next sleep
//
// A raised thread carries SCHED_FLAG_RESET_ON_FORK (sched_setattr(2)): what it forks starts in
// the ordinary class, so no real-time process outlives the slice. A thread that already runs in
// a real-time or deadline class is left alone. Each raise is bounded: a keeper thread of this
// class, one priority above the raised ones so that a CPU-bound guest cannot keep it away, puts
// every thread back when its slice ends, and the destructor puts back all that remain. The
// kernel's real-time throttling (sched_rt_runtime_us) bounds what the slices can take from the
// host in any case.
//
// Identity: sched_setattr(2) names a thread by number. A guest thread's number is bound to it
// while its call is pending (the caller raises it only then); from then on a pidfd of the thread
// (pidfd_open(2) with PIDFD_THREAD) says whether it ended, and a thread that ended is not
// touched again. A number is reused only after the pid space wraps (pid_max, allocated
// cyclically), far beyond the microseconds between that check and the change.
//
// Privilege: raising another thread to a real-time class needs CAP_SYS_NICE, or an
// RLIMIT_RTPRIO of the target at least the priority (sched(7)); Raise() then fails with EPERM
// and the caller answers unboosted.
//
// Threads: every public function from any thread; the counters are atomic, the table under mu_.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/sched_attr.h"
#include "hijack/result.h"
#include "hijack/unique_fd.h"

namespace hijack::modules {


class ThreadBoost {
 public:
  // `policy` SCHED_FIFO or SCHED_RR at `priority` (1 .. 98: the keeper runs one above).
  ThreadBoost(int policy, int priority);
  ~ThreadBoost();
  ThreadBoost(const ThreadBoost&) = delete;
  ThreadBoost& operator=(const ThreadBoost&) = delete;

  enum class Raised { kNow, kAlready, kRealTime };
  // Raises thread `tid` (`pidfd` refers to it, or is invalid where the kernel has no thread
  // pidfds) until `until_ns` on CLOCK_MONOTONIC, or extends the slice of a thread already
  // raised (its original class is the one it had before the first raise). kRealTime: the thread
  // runs in a real-time or deadline class of its own and is left as it is. Errors: the errno of
  // sched_getattr(2) or sched_setattr(2) (EPERM without the privilege, ESRCH for a thread gone).
  Result<Raised> Raise(pid_t tid, UniqueFd pidfd, int64_t until_ns);
  // Puts `tid` back now if it is raised (the guest thread is in the supervisor again).
  void Restore(pid_t tid);

  uint64_t raised() const { return raised_.load(); }
  uint64_t restored_early() const { return restored_early_.load(); }
  uint64_t restored_after_slice() const { return restored_after_slice_.load(); }
  uint64_t gone() const { return gone_.load(); }
  // Wall time the raised threads spent in the real-time class, summed over threads.
  uint64_t boosted_ns() const { return boosted_ns_.load(); }
  // What the keeper thread runs as ("SCHED_FIFO 11", or why not).
  std::string keeper() const;

 private:
  struct Entry {
    common::SchedAttr original{};
    int64_t since_ns = 0;
    int64_t until_ns = 0;
    UniqueFd pidfd;
  };
  void Keep();
  // Puts one thread back; mu_ held.
  void Lower(pid_t tid, Entry& e);

  const int policy_;
  const int priority_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::map<pid_t, Entry> raised_threads_;
  bool stop_ = false;
  std::string keeper_;
  std::atomic<uint64_t> raised_{0};
  std::atomic<uint64_t> restored_early_{0};
  std::atomic<uint64_t> restored_after_slice_{0};
  std::atomic<uint64_t> gone_{0};
  std::atomic<uint64_t> boosted_ns_{0};
  std::thread keeper_thread_;  // last: starts once the rest is built
};

}  // namespace hijack::modules
