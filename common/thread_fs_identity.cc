#include "common/thread_fs_identity.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>

namespace hijack::common {
namespace {

uid_t CurrentFsuid() { return static_cast<uid_t>(syscall(SYS_setfsuid, -1)); }
gid_t CurrentFsgid() { return static_cast<gid_t>(syscall(SYS_setfsgid, -1)); }

}  // namespace

GuestCredentials ThreadFsIdentity::Current() {
  GuestCredentials ids{.uid = CurrentFsuid(), .gid = CurrentFsgid(), .groups = {}};
  ids.groups.resize(static_cast<size_t>(std::max(getgroups(0, nullptr), 0)));
  int n = getgroups(static_cast<int>(ids.groups.size()), ids.groups.data());
  ids.groups.resize(static_cast<size_t>(std::max(n, 0)));
  return ids;
}

Result<ThreadFsIdentity> ThreadFsIdentity::Switch(const GuestCredentials& target,
                                                  std::string_view whose) {
  ThreadFsIdentity as;
  as.saved_ = Current();
  if (syscall(SYS_setgroups, target.groups.size(), target.groups.data()) != 0) {
    return ErrnoError(errno, "setgroups to the groups " + std::string(whose));
  }
  as.switched_ = true;  // from here on the destructor restores
  syscall(SYS_setfsgid, target.gid);
  syscall(SYS_setfsuid, target.uid);
  if (CurrentFsuid() != target.uid || CurrentFsgid() != target.gid) {
    return MakeError("setfsuid/setfsgid to uid " + std::to_string(target.uid) + " " +
                     std::string(whose) + ": refused");
  }
  return as;
}

ThreadFsIdentity::ThreadFsIdentity(ThreadFsIdentity&& other) noexcept
    : switched_(std::exchange(other.switched_, false)), saved_(std::move(other.saved_)) {}

ThreadFsIdentity& ThreadFsIdentity::operator=(ThreadFsIdentity&& other) noexcept {
  if (this != &other) {
    Restore();
    switched_ = std::exchange(other.switched_, false);
    saved_ = std::move(other.saved_);
  }
  return *this;
}

bool ThreadFsIdentity::Restore() {
  if (!std::exchange(switched_, false)) {
    return true;
  }
  syscall(SYS_setfsuid, saved_.uid);
  syscall(SYS_setfsgid, saved_.gid);
  const bool groups_back =
      syscall(SYS_setgroups, saved_.groups.size(), saved_.groups.data()) == 0;
  return groups_back && CurrentFsuid() == saved_.uid && CurrentFsgid() == saved_.gid;
}

}  // namespace hijack::common
