// GuestCredentials: makes the supervisor's file-system accesses those of a guest thread.
//
//   auto creds = GuestCredentials::Assume(ev.tid);   // the thread that decides the call
//   if (!creds) return Decision::Fail(EACCES);       // fail closed
//   int fd = openat2(...);                           // checked as the guest would be
//   // creds' destructor restores the supervisor's own
//
// Reads Uid/Gid (the fs ids), Groups and Umask from /proc/TID/status. When they equal the
// supervisor's (the usual case: the guest runs as the user who started hijackd) nothing changes.
// Otherwise the calling thread switches with the raw setgroups/setfsgid/setfsuid system calls,
// which change only the calling thread (glibc's wrappers would change every thread), and needs
// CAP_SETUID/CAP_SETGID; without them Assume() fails with EPERM. setfsuid(2): moving the fsuid
// from 0 drops the file capabilities (CAP_DAC_OVERRIDE...) for the duration, as for the guest.
#pragma once

#include <sys/types.h>

#include <optional>
#include <vector>

#include "hijack/result.h"

namespace hijack::modules {

class GuestCredentials {
 public:
  static Result<GuestCredentials> Assume(pid_t tid);
  GuestCredentials(GuestCredentials&& other) noexcept;
  GuestCredentials& operator=(GuestCredentials&&) = delete;
  GuestCredentials(const GuestCredentials&) = delete;
  ~GuestCredentials();

  mode_t umask() const { return umask_; }

 private:
  GuestCredentials() = default;

  bool switched_ = false;
  uid_t old_fsuid_ = 0;
  gid_t old_fsgid_ = 0;
  std::vector<gid_t> old_groups_;
  mode_t umask_ = 022;
};

}  // namespace hijack::modules
