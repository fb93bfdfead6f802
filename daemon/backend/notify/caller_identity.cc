#include "daemon/backend/notify/caller_identity.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "daemon/process/proc_status.h"

namespace hijack::backend {

namespace {

// pidfd_open(2) of one thread rather than a thread group (Linux 6.9); older kernels refuse the
// flag with EINVAL.
constexpr unsigned kPidfdThread = O_EXCL;

}  // namespace

bool CallerIdentity::Alive(const Entry& e) {
  if (e.is_pidfd) {
    // Signal 0 checks that the pidfd's task still exists (pidfd_send_signal(2)); EPERM (a guest
    // thread that changed its uid away from ours) cannot tell, and counts as gone: the entry is
    // then rebuilt by number, which is right, only slower.
    return syscall(SYS_pidfd_send_signal, e.handle.get(), 0, nullptr, 0) == 0;
  }
  // A lookup under the directory: procfs revalidates the cached dentry against the task
  // (pid_revalidate) and fails once the task has been reaped.
  return faccessat(e.handle.get(), "status", F_OK, 0) == 0;
}

void CallerIdentity::MakeRoom() {
  if (entries_.size() < capacity_) {
    return;
  }
  std::erase_if(entries_, [](const auto& kv) { return !Alive(kv.second); });
  if (entries_.size() < capacity_) {
    return;
  }
  // Every entry is a live thread: drop the least recently used quarter, so that a guest with
  // more live threads than the capacity costs one sweep per capacity/4 misses, not one per miss.
  std::vector<std::pair<uint64_t, pid_t>> by_use;
  by_use.reserve(entries_.size());
  for (const auto& [tid, e] : entries_) {
    by_use.emplace_back(e.used, tid);
  }
  const size_t drop = std::max<size_t>(1, capacity_ / 4);
  std::nth_element(by_use.begin(), by_use.begin() + static_cast<std::ptrdiff_t>(drop - 1),
                   by_use.end());
  for (size_t i = 0; i < drop; ++i) {
    entries_.erase(by_use[i].second);
  }
}

Result<pid_t> CallerIdentity::ThreadGroupOf(pid_t tid, const std::function<bool()>& still_pending) {
  auto gone = [tid] {
    return ErrnoError(ENOENT, "thread " + std::to_string(tid) + " left its call");
  };
  if (tid <= 0) {
    return ErrnoError(EINVAL, "notification names thread " + std::to_string(tid));
  }
  auto it = entries_.find(tid);
  if (it != entries_.end() && !Alive(it->second)) {
    entries_.erase(it);  // that thread ended; the number may be another task's now
    it = entries_.end();
  }
  if (it == entries_.end()) {
    // Both the handle and the thread group are taken by number here, after the notification
    // arrived; the check below makes them the caller's.
    const std::string path = "/proc/" + std::to_string(tid);
    UniqueFd dir(open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid()) {
      const int err = errno;
      if (!still_pending()) {
        return gone();
      }
      return ErrnoError(err, "open " + path + " for a pending notification");
    }
    auto tgid = ReadThreadGroupIdAt(dir.get());
    if (!tgid) {
      if (!still_pending()) {
        return gone();
      }
      return std::unexpected(Error{tgid.error().code, path + ": " + tgid.error().message});
    }
    Entry e;
    e.tgid = *tgid;
    if (pidfd_thread_) {
      // A thread pidfd checks liveness at about half the cost of a procfs lookup.
      e.handle.reset(static_cast<int>(syscall(SYS_pidfd_open, tid, kPidfdThread)));
      if (e.handle.valid()) {
        e.is_pidfd = true;
      } else if (errno == EINVAL) {
        pidfd_thread_ = false;
      }
    }
    if (!e.is_pidfd) {
      e.handle = std::move(dir);
    }
    MakeRoom();
    it = entries_.emplace(tid, std::move(e)).first;
  }
  it->second.used = ++clock_;
  if (!still_pending()) {
    return gone();
  }
  return it->second.tgid;
}

}  // namespace hijack::backend
