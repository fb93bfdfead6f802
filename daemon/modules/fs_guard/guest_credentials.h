// GuestCredentials: makes the supervisor's file-system accesses those of a guest thread.
//
//   auto creds = GuestCredentials::Assume(ev.tid);   // the thread that decides the call
//   if (!creds) return Decision::Fail(EACCES);       // fail closed
//   int fd = openat2(...);                           // checked as the guest would be
//   // creds' destructor restores the supervisor's own
//
// Reads Uid/Gid (the fs ids), Groups and Umask from /proc/TID/status. When they equal the
// supervisor's (the usual case: the guest runs as the user who started hijackd) nothing changes.
// Otherwise the calling thread switches (common::ThreadFsIdentity: raw setgroups/setfsgid/
// setfsuid, which change only the calling thread) and needs CAP_SETUID/CAP_SETGID; without them
// Assume() fails. setfsuid(2): moving the fsuid from 0 drops the file capabilities
// (CAP_DAC_OVERRIDE...) for the duration, as for the guest.
#pragma once

#include <sys/types.h>

#include "common/thread_fs_identity.h"
#include "hijack/result.h"

namespace hijack::modules {

class GuestCredentials {
 public:
  static Result<GuestCredentials> Assume(pid_t tid);
  GuestCredentials(GuestCredentials&& other) noexcept = default;
  GuestCredentials& operator=(GuestCredentials&&) = delete;
  GuestCredentials(const GuestCredentials&) = delete;
  // Restores the supervisor's own identity (through identity_).
  ~GuestCredentials() = default;

  mode_t umask() const { return umask_; }

 private:
  GuestCredentials() = default;

  common::ThreadFsIdentity identity_;  // nothing switched when the ids were the supervisor's
  mode_t umask_ = 022;
};

}  // namespace hijack::modules
