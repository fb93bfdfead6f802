// GuestMemory: read-only view of the address space of the thread that made a call.
//
// Backends hand one to PolicyModule::Decide(). Reads use process_vm_readv(2); the notify backend
// re-validates the notification after every read (SECCOMP_IOCTL_NOTIF_ID_VALID), so a read that
// returns success is known to belong to the call being decided. A bad guest pointer is an
// ordinary error (EFAULT), never a crash.
//
//   Result<std::string> path = mem.ReadString(ev.args[1]);
//   if (!path) return Decision::Fail(EACCES);   // enforcement fails closed
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "hijack/result.h"

namespace hijack {

class GuestMemory {
 public:
  virtual ~GuestMemory() = default;

  // Copies up to out.size() bytes from guest address `addr`; returns how many were copied (may be
  // short at the end of a mapping). EFAULT when nothing at addr is readable; ENOENT when the call
  // is no longer pending (the guest thread was interrupted or died).
  virtual Result<size_t> Read(uint64_t addr, std::span<std::byte> out) = 0;

  // Reads a NUL-terminated string of at most `max` bytes (without the NUL). ENAMETOOLONG when no
  // NUL is found within `max` bytes.
  virtual Result<std::string> ReadString(uint64_t addr, size_t max = 4096) = 0;

  // Whether the call being decided is still waiting for its answer. A module that looks the
  // caller up by number (/proc/PID/fd/N, /proc/TID/cwd, /proc/TID/status, pidfd_open(PID)) must
  // ask after the lookup and before acting on what it found: thread ids are reused once a thread
  // has ended, but not while it lives, and a thread waiting in a call lives, so a lookup made
  // since the call arrived and followed by `true` reached the caller and nobody else. The notify
  // backend answers with SECCOMP_IOCTL_NOTIF_ID_VALID (seccomp_unotify(2)); backends whose
  // callers cannot be reaped while decided (a ptrace stop: the tracer reaps its tracees) always
  // answer true.
  virtual bool StillPending() { return true; }
};

}  // namespace hijack
