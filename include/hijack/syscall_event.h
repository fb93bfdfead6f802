// SyscallEvent: one system call made by a guest thread, as the supervisor received it.
//
// Backends fill it from a seccomp notification (seccomp_unotify(2): struct seccomp_data) or
// from a ptrace stop; modules read it in PolicyModule::Decide(). Pointer arguments are raw guest
// addresses: read them through GuestMemory, never by dereferencing.
//
//   if (ev.nr == SCMP_SYS(openat)) { auto path = mem.ReadString(ev.args[1]); ... }
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>

namespace hijack {

struct SyscallEvent {
  uint64_t guest_id = 0;  // the supervisor's id for the guest (1, 2, ...)
  pid_t pid = 0;          // thread group id (the process), in the supervisor's pid namespace
  pid_t tid = 0;          // the calling thread
  int nr = -1;            // system call number for `arch`
  uint32_t arch = 0;      // AUDIT_ARCH_* of the call
  uint64_t ip = 0;        // instruction pointer after the syscall instruction
  std::array<uint64_t, 6> args{};
  int64_t start_ns = 0;   // CLOCK_MONOTONIC when the supervisor received the call
};

}  // namespace hijack
