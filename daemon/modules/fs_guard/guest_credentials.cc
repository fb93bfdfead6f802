#include "daemon/modules/fs_guard/guest_credentials.h"

#include <fmt/format.h>
#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace hijack::modules {
namespace {

struct StatusIds {
  uid_t fsuid = 0;
  gid_t fsgid = 0;
  std::vector<gid_t> groups;
  mode_t umask = 022;
};

Result<StatusIds> ReadStatus(pid_t tid) {
  std::string file = fmt::format("/proc/{}/status", tid);
  std::ifstream in(file);
  if (!in) {
    return ErrnoError(ESRCH, "open " + file);
  }
  StatusIds ids;
  bool uid = false, gid = false;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "Uid:" || key == "Gid:") {
      unsigned long v[4] = {};
      words >> v[0] >> v[1] >> v[2] >> v[3];  // real, effective, saved, fs
      (key == "Uid:" ? ids.fsuid : ids.fsgid) = static_cast<uint32_t>(v[3]);
      (key == "Uid:" ? uid : gid) = true;
    } else if (key == "Groups:") {
      for (unsigned long g; words >> g;) {
        ids.groups.push_back(static_cast<gid_t>(g));
      }
    } else if (key == "Umask:") {
      std::string octal;
      words >> octal;
      ids.umask = static_cast<mode_t>(std::stoul(octal, nullptr, 8));
    }
  }
  if (!uid || !gid) {
    return MakeError("no Uid/Gid in " + file);
  }
  return ids;
}

uid_t CurrentFsuid() { return static_cast<uid_t>(syscall(SYS_setfsuid, -1)); }
gid_t CurrentFsgid() { return static_cast<gid_t>(syscall(SYS_setfsgid, -1)); }

std::vector<gid_t> CurrentGroups() {
  std::vector<gid_t> groups(static_cast<size_t>(std::max(getgroups(0, nullptr), 0)));
  int n = getgroups(static_cast<int>(groups.size()), groups.data());
  groups.resize(static_cast<size_t>(std::max(n, 0)));
  return groups;
}

}  // namespace

Result<GuestCredentials> GuestCredentials::Assume(pid_t tid) {
  auto ids = ReadStatus(tid);
  if (!ids) {
    return std::unexpected(ids.error());
  }
  GuestCredentials c;
  c.umask_ = ids->umask;
  c.old_fsuid_ = CurrentFsuid();
  c.old_fsgid_ = CurrentFsgid();
  c.old_groups_ = CurrentGroups();
  std::vector<gid_t> mine = c.old_groups_, theirs = ids->groups;
  std::sort(mine.begin(), mine.end());
  std::sort(theirs.begin(), theirs.end());
  if (ids->fsuid == c.old_fsuid_ && ids->fsgid == c.old_fsgid_ && mine == theirs) {
    return c;
  }
  if (syscall(SYS_setgroups, theirs.size(), theirs.data()) != 0) {
    return ErrnoError(errno, fmt::format("assume the groups of guest thread {}", tid));
  }
  c.switched_ = true;  // from here on the destructor restores
  syscall(SYS_setfsgid, ids->fsgid);
  syscall(SYS_setfsuid, ids->fsuid);
  if (CurrentFsuid() != ids->fsuid || CurrentFsgid() != ids->fsgid) {
    return ErrnoError(EPERM, fmt::format("assume fsuid {} of guest thread {}", ids->fsuid, tid));
  }
  return c;
}

GuestCredentials::GuestCredentials(GuestCredentials&& other) noexcept
    : switched_(std::exchange(other.switched_, false)),
      old_fsuid_(other.old_fsuid_),
      old_fsgid_(other.old_fsgid_),
      old_groups_(std::move(other.old_groups_)),
      umask_(other.umask_) {}

GuestCredentials::~GuestCredentials() {
  if (!switched_) {
    return;
  }
  syscall(SYS_setfsuid, old_fsuid_);
  syscall(SYS_setfsgid, old_fsgid_);
  syscall(SYS_setgroups, old_groups_.size(), old_groups_.data());
}

}  // namespace hijack::modules
