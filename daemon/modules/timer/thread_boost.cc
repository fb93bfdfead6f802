#include "daemon/modules/timer/thread_boost.h"

#include <poll.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/monotonic.h"

namespace hijack::modules {
namespace {

bool RealTime(uint32_t policy) {
  return policy == SCHED_FIFO || policy == SCHED_RR || policy == common::kSchedDeadline;
}

// True when the thread behind `pidfd` has ended (a thread pidfd polls readable then,
// pidfd_open(2)); false for an invalid pidfd (no way to tell: the caller's check stands).
bool Ended(const UniqueFd& pidfd) {
  if (!pidfd.valid()) {
    return false;
  }
  pollfd p{pidfd.get(), POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

const char* PolicyName(int policy) { return policy == SCHED_RR ? "SCHED_RR" : "SCHED_FIFO"; }

}  // namespace

ThreadBoost::ThreadBoost(int policy, int priority) : policy_(policy), priority_(priority) {
  keeper_thread_ = std::thread([this] { Keep(); });
}

ThreadBoost::~ThreadBoost() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  keeper_thread_.join();
}

std::string ThreadBoost::keeper() const {
  std::lock_guard lock(mu_);
  return keeper_;
}

Result<ThreadBoost::Raised> ThreadBoost::Raise(pid_t tid, UniqueFd pidfd, int64_t until_ns) {
  std::lock_guard lock(mu_);
  if (auto it = raised_threads_.find(tid); it != raised_threads_.end()) {
    it->second.until_ns = std::max(it->second.until_ns, until_ns);
    return Raised::kAlready;
  }
  Entry e;
  if (common::GetSchedAttr(tid, e.original) != 0) {
    const int err = errno;
    return std::unexpected(Error{err, fmt::format("sched_getattr of thread {}: {}", tid,
                                                  strerrorname_np(err))});
  }
  if (RealTime(e.original.sched_policy)) {
    return Raised::kRealTime;
  }
  common::SchedAttr rt;
  rt.sched_policy = static_cast<uint32_t>(policy_);
  rt.sched_priority = static_cast<uint32_t>(priority_);
  rt.sched_flags = common::kSchedFlagResetOnFork;
  if (common::SetSchedAttr(tid, rt) != 0) {
    const int err = errno;
    return std::unexpected(Error{err, fmt::format("sched_setattr {} {} of thread {}: {}",
                                                  PolicyName(policy_), priority_, tid,
                                                  strerrorname_np(err))});
  }
  e.since_ns = common::MonotonicNs();
  e.until_ns = until_ns;
  e.pidfd = std::move(pidfd);
  raised_.fetch_add(1);
  raised_threads_.emplace(tid, std::move(e));
  wake_.notify_all();  // the keeper's next wake-up may be this slice's end
  return Raised::kNow;
}

void ThreadBoost::Restore(pid_t tid) {
  std::lock_guard lock(mu_);
  auto it = raised_threads_.find(tid);
  if (it == raised_threads_.end()) {
    return;
  }
  Lower(tid, it->second);
  raised_threads_.erase(it);
  restored_early_.fetch_add(1);
}

void ThreadBoost::Lower(pid_t tid, Entry& e) {
  boosted_ns_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(0, common::MonotonicNs() - e.since_ns)));
  if (Ended(e.pidfd)) {
    gone_.fetch_add(1);
    return;
  }
  // Back to what it had, the reset-on-fork flag included (sched_getattr reports it in
  // sched_flags); the util-clamp fields are left as they are.
  common::SchedAttr back = e.original;
  back.size = sizeof back;
  back.sched_flags &= common::kSchedFlagResetOnFork;
  if (common::SetSchedAttr(tid, back) != 0) {
    const int err = errno;
    if (err == ESRCH) {
      gone_.fetch_add(1);
      return;
    }
    // Lowering a thread to its own earlier class needs no privilege (sched(7)); a failure here
    // is not expected, and it is said: the thread stays real-time until it ends.
    spdlog::error("timer: cannot put thread {} back to its scheduling class: sched_setattr: {}",
                  tid, strerrorname_np(err));
  }
}

void ThreadBoost::Keep() {
  {
    sched_param p{};
    p.sched_priority = priority_ + 1;
    const int err = pthread_setschedparam(pthread_self(), policy_, &p);
    std::lock_guard lock(mu_);
    keeper_ = err == 0 ? fmt::format("{} {}", PolicyName(policy_), priority_ + 1)
                       : fmt::format("SCHED_OTHER ({}: {})", PolicyName(policy_),
                                     strerrorname_np(err));
  }
  std::unique_lock lock(mu_);
  while (true) {
    if (stop_) {
      for (auto& [tid, e] : raised_threads_) {
        Lower(tid, e);
        restored_after_slice_.fetch_add(1);
      }
      raised_threads_.clear();
      return;
    }
    const int64_t now = common::MonotonicNs();
    int64_t next = INT64_MAX;
    for (auto it = raised_threads_.begin(); it != raised_threads_.end();) {
      if (it->second.until_ns <= now) {
        Lower(it->first, it->second);
        restored_after_slice_.fetch_add(1);
        it = raised_threads_.erase(it);
      } else {
        next = std::min(next, it->second.until_ns);
        ++it;
      }
    }
    if (next == INT64_MAX) {
      wake_.wait(lock);
      continue;
    }
    // An absolute clock_nanosleep(2) on CLOCK_MONOTONIC (no timer slack for a real-time thread),
    // at most a millisecond at a time so that a slice raised meanwhile with an earlier end is
    // seen within a millisecond of it.
    const int64_t until = std::min(next, now + 1'000'000);
    const timespec at{static_cast<time_t>(until / 1'000'000'000),
                      static_cast<long>(until % 1'000'000'000)};
    lock.unlock();
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr);
    lock.lock();
  }
}

}  // namespace hijack::modules
