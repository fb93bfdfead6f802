#include "daemon/modules/fs_guard/guest_credentials.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

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

}  // namespace

Result<GuestCredentials> GuestCredentials::Assume(pid_t tid) {
  HIJACK_ASSIGN_OR_RETURN(StatusIds ids, ReadStatus(tid));
  GuestCredentials c;
  c.umask_ = ids.umask;
  ::hijack::GuestCredentials mine = common::ThreadFsIdentity::Current();
  ::hijack::GuestCredentials theirs{
      .uid = ids.fsuid, .gid = ids.fsgid, .groups = std::move(ids.groups)};
  std::sort(mine.groups.begin(), mine.groups.end());
  std::sort(theirs.groups.begin(), theirs.groups.end());
  if (theirs.uid == mine.uid && theirs.gid == mine.gid && theirs.groups == mine.groups) {
    return c;
  }
  HIJACK_ASSIGN_OR_RETURN(c.identity_, common::ThreadFsIdentity::Switch(
                                           theirs, fmt::format("of guest thread {}", tid)));
  return c;
}

}  // namespace hijack::modules
