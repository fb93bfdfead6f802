#include "daemon/modules/fs_guard/guest_credentials.h"

#include <fmt/format.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

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
  uint64_t cap_eff = 0;
  bool has_cap_eff = false;
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
    } else if (key == "CapEff:") {
      std::string hex;
      words >> hex;
      ids.cap_eff = std::stoull(hex, nullptr, 16);
      ids.has_cap_eff = true;
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

// capget(2)/capset(2) of the calling thread (pid 0), version 3: two 32-bit words per set.
bool ThreadCaps(__user_cap_data_struct (&data)[2]) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capget, &header, data) == 0;
}
bool SetThreadCaps(const __user_cap_data_struct (&data)[2]) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capset, &header, data) == 0;
}

// Whether guest thread `tid` is in the supervisor's user namespace.
Result<bool> SameUserNamespace(pid_t tid) {
  struct stat theirs {
  }, ours{};
  std::string ns = fmt::format("/proc/{}/ns/user", tid);
  if (stat(ns.c_str(), &theirs) != 0 || stat("/proc/self/ns/user", &ours) != 0) {
    return ErrnoError(errno == ENOENT ? ESRCH : errno, "stat " + ns);
  }
  return theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino;
}

}  // namespace

Result<GuestCredentials> GuestCredentials::Assume(pid_t tid) { return Take(tid, false); }

Result<GuestCredentials> GuestCredentials::AssumeWithCapabilities(pid_t tid) {
  return Take(tid, true);
}

Result<uint32_t> GuestCredentials::MapId(const char* map, uint32_t id) const {
  if (id == static_cast<uint32_t>(-1) || !other_user_ns_) {
    return id;
  }
  // user_namespaces(7): each line is "inside outside count", the outside ids relative to the
  // reader's namespace (the supervisor's, an ancestor of the guest's).
  const std::string path = fmt::format("/proc/{}/{}", tid_, map);
  std::ifstream in(path);
  if (!in) {
    return ErrnoError(errno == ENOENT ? ESRCH : errno, "open " + path);
  }
  uint64_t inside = 0, outside = 0, count = 0;
  std::optional<uint32_t> mapped;
  while (!mapped && in >> inside >> outside >> count) {
    if (id >= inside && id - inside < count) {
      mapped = static_cast<uint32_t>(outside + (id - inside));
    }
  }
  if (!mapped) {
    return std::unexpected(
        Error{EINVAL, fmt::format("id {} is not mapped by {}", id, path)});
  }
  return *mapped;
}

GuestCredentials::~GuestCredentials() {
  if (!saved_effective_) {
    return;
  }
  __user_cap_data_struct data[2] = {};
  if (ThreadCaps(data)) {
    data[0].effective = (*saved_effective_)[0];
    data[1].effective = (*saved_effective_)[1];
    (void)SetThreadCaps(data);  // within the permitted set, which was never lowered
  }
}

Result<GuestCredentials> GuestCredentials::Take(pid_t tid, bool capabilities) {
  HIJACK_ASSIGN_OR_RETURN(StatusIds ids, ReadStatus(tid));
  GuestCredentials c;
  c.tid_ = tid;
  c.umask_ = ids.umask;
  ::hijack::GuestCredentials mine = common::ThreadFsIdentity::Current();
  ::hijack::GuestCredentials theirs{
      .uid = ids.fsuid, .gid = ids.fsgid, .groups = std::move(ids.groups)};
  std::sort(mine.groups.begin(), mine.groups.end());
  std::sort(theirs.groups.begin(), theirs.groups.end());
  if (theirs.uid != mine.uid || theirs.gid != mine.gid || theirs.groups != mine.groups) {
    HIJACK_ASSIGN_OR_RETURN(c.identity_, common::ThreadFsIdentity::Switch(
                                             theirs, fmt::format("of guest thread {}", tid)));
  }
  if (!capabilities) {
    return c;
  }
  if (!ids.has_cap_eff) {
    return MakeError(fmt::format("no CapEff in /proc/{}/status", tid));
  }
  // Capabilities held in another user namespace (a guest's own, or one hijackd made for an
  // unprivileged launch) are not capabilities over the supervisor's files: none count.
  HIJACK_ASSIGN_OR_RETURN(const bool same_ns, SameUserNamespace(tid));
  c.guest_caps_ = same_ns ? ids.cap_eff : 0;
  c.other_user_ns_ = !same_ns;
  // After the switch: moving the fsuid from 0 has already dropped the file capabilities.
  __user_cap_data_struct data[2] = {};
  if (!ThreadCaps(data)) {
    return ErrnoError(errno, "capget of the supervisor's thread");
  }
  // Only the capabilities that override file permissions are lowered: the supervisor keeps
  // what it needs to walk the guest's /proc entries (CAP_SYS_PTRACE) and to switch back.
  // CAP_SYS_ADMIN and CAP_SETFCAP guard the trusted.* and security.* attributes and file
  // capabilities (xattr(7), capabilities(7)), which strict mode's setxattr sets.
  constexpr uint64_t kFileCaps =
      (1ull << CAP_CHOWN) | (1ull << CAP_DAC_OVERRIDE) | (1ull << CAP_DAC_READ_SEARCH) |
      (1ull << CAP_FOWNER) | (1ull << CAP_FSETID) | (1ull << CAP_LINUX_IMMUTABLE) |
      (1ull << CAP_MKNOD) | (1ull << CAP_MAC_OVERRIDE) | (1ull << CAP_SYS_ADMIN) |
      (1ull << CAP_SETFCAP);
  const uint64_t kept = c.guest_caps_ | ~kFileCaps;
  const uint32_t guest[2] = {static_cast<uint32_t>(kept), static_cast<uint32_t>(kept >> 32)};
  if ((data[0].effective & ~guest[0]) == 0 && (data[1].effective & ~guest[1]) == 0) {
    return c;  // nothing the guest lacks
  }
  c.saved_effective_ = std::array<uint32_t, 2>{data[0].effective, data[1].effective};
  data[0].effective &= guest[0];
  data[1].effective &= guest[1];
  if (!SetThreadCaps(data)) {
    return ErrnoError(errno, fmt::format("capset to the capabilities of guest thread {}", tid));
  }
  return c;
}

}  // namespace hijack::modules
