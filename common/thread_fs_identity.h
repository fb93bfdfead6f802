// ThreadFsIdentity: gives the calling thread another file-system identity (fsuid, fsgid and
// supplementary groups) and takes its own back when destroyed.
//
//   GuestCredentials target{.uid = 1000, .gid = 1000, .groups = {1000}};
//   HIJACK_ASSIGN_OR_RETURN(auto as, ThreadFsIdentity::Switch(target, "of the caller"));
//   int fd = open(path, O_RDONLY | O_CLOEXEC);   // the kernel checks `target`, symlinks included
//   // as's destructor restores the thread's own identity
//
// Why raw system calls: setfsuid(2), setfsgid(2) and setgroups(2) change only the calling thread
// when called as system calls; glibc's setgroups wrapper changes every thread of the process
// (nptl(7)). Groups go first, while the thread still has its capabilities (CAP_SETGID), then
// the fsgid and the fsuid. setfsuid reports no error: the values are read back (setfsuid(2),
// NOTES). Moving the fsuid from 0 drops the file capabilities (CAP_DAC_OVERRIDE...) for the
// duration, as for the identity taken.
//
// Thread-safe: every call changes or reads only the calling thread; a ThreadFsIdentity must be
// destroyed on the thread that made it.
#pragma once

#include <sys/types.h>

#include <string_view>
#include <vector>

#include "hijack/backend.h"
#include "hijack/result.h"

namespace hijack::common {

class ThreadFsIdentity {
 public:
  // The calling thread's fsuid, fsgid and supplementary groups now.
  static GuestCredentials Current();

  // Gives the calling thread `target`, saving its identity first. `whose` completes the error
  // messages ("of guest thread 12"). Errors: setgroups(2) refused (its errno; a thread without
  // CAP_SETGID), or the fsuid/fsgid did not take (code 0, "setfsuid/setfsgid to uid 1000 of guest
  // thread 12: refused"). After an error the destructor still restores what was changed.
  static Result<ThreadFsIdentity> Switch(const GuestCredentials& target, std::string_view whose);

  // Nothing switched: the destructor does nothing.
  ThreadFsIdentity() = default;
  ThreadFsIdentity(ThreadFsIdentity&& other) noexcept;
  // Restores this one's saved identity, then takes over `other`'s.
  ThreadFsIdentity& operator=(ThreadFsIdentity&& other) noexcept;
  ThreadFsIdentity(const ThreadFsIdentity&) = delete;
  ~ThreadFsIdentity() { Restore(); }

  // Gives the thread its saved identity back (once; later calls do nothing). False when the
  // kernel refused and the thread still has another identity.
  bool Restore();

 private:
  bool switched_ = false;
  GuestCredentials saved_;
};

}  // namespace hijack::common
