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
//
// AssumeWithCapabilities() also lowers the calling thread's effective file capabilities
// (CAP_CHOWN, CAP_DAC_*, CAP_FOWNER, CAP_FSETID, CAP_LINUX_IMMUTABLE, CAP_MKNOD, CAP_MAC_OVERRIDE,
// and CAP_SYS_ADMIN and CAP_SETFCAP, which guard the trusted.* and security.* xattrs) to those the
// guest thread holds (CapEff), so that a supervisor with capabilities the guest lacks (a root
// guest that dropped CAP_DAC_OVERRIDE, CAP_FOWNER or CAP_MKNOD) does nothing the guest could not:
// capset(2) on the calling thread only, raised back (within the permitted set) before the fs ids
// are restored. A guest in another user namespace counts as holding none: its capabilities are
// over its namespace's objects, not over the files the supervisor reaches (user_namespaces(7)).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <utility>

#include "common/thread_fs_identity.h"
#include "hijack/result.h"

namespace hijack::modules {

class GuestCredentials {
 public:
  static Result<GuestCredentials> Assume(pid_t tid);
  static Result<GuestCredentials> AssumeWithCapabilities(pid_t tid);
  GuestCredentials(GuestCredentials&& other) noexcept
      : identity_(std::move(other.identity_)),
        umask_(other.umask_),
        tid_(other.tid_),
        guest_caps_(other.guest_caps_),
        other_user_ns_(other.other_user_ns_),
        saved_effective_(std::exchange(other.saved_effective_, std::nullopt)) {}
  GuestCredentials& operator=(GuestCredentials&&) = delete;
  GuestCredentials(const GuestCredentials&) = delete;
  // Restores the supervisor's capabilities, then its own identity (through identity_).
  ~GuestCredentials();

  mode_t umask() const { return umask_; }
  // Whether the guest thread's effective set (CapEff) held capability `cap` (capabilities(7)),
  // in the supervisor's user namespace; false unless taken by AssumeWithCapabilities().
  bool GuestHas(int cap) const { return cap >= 0 && cap < 64 && ((guest_caps_ >> cap) & 1) != 0; }
  // Whether the guest thread is in another user namespace than the supervisor's (known only
  // to AssumeWithCapabilities()).
  bool InOtherUserNamespace() const { return other_user_ns_; }
  // A user or group id the guest passed (chown(2): interpreted in the caller's user
  // namespace) as the supervisor's namespace sees it, through /proc/TID/uid_map or gid_map;
  // -1 ("no change") stays -1. Errors: EINVAL for an id the guest's namespace does not map,
  // as chown(2) answers; the read's errno otherwise.
  Result<uint32_t> UidToSupervisor(uint32_t uid) const { return MapId("uid_map", uid); }
  Result<uint32_t> GidToSupervisor(uint32_t gid) const { return MapId("gid_map", gid); }

 private:
  GuestCredentials() = default;

  static Result<GuestCredentials> Take(pid_t tid, bool capabilities);
  Result<uint32_t> MapId(const char* map, uint32_t id) const;

  common::ThreadFsIdentity identity_;  // nothing switched when the ids were the supervisor's
  mode_t umask_ = 022;
  pid_t tid_ = 0;
  uint64_t guest_caps_ = 0;
  bool other_user_ns_ = false;
  // The thread's effective capability words before they were lowered; destroyed (restored)
  // before identity_, whose restoring needs CAP_SETGID.
  std::optional<std::array<uint32_t, 2>> saved_effective_;
};

}  // namespace hijack::modules
