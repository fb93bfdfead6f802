// SyscallRegs: the only code of the ptrace backend that knows a register layout.
//
//   if (auto r = syscall_regs::SkipSyscall(tid); !r) ...       // at a seccomp or entry stop
//   if (auto r = syscall_regs::SetReturnValue(tid, -EACCES); !r) ...
//
// Reading a call (number, arguments, instruction pointer, result) needs no register layout:
// PTRACE_GET_SYSCALL_INFO (Linux 5.3, ptrace(2)) reports it for every architecture. Writing does:
// skipping a call means setting the syscall-number register to -1, and answering it means writing
// the return register. One implementation file per architecture (syscall_regs_x86_64.cc today);
// an aarch64 port adds syscall_regs_aarch64.cc (NT_ARM_SYSTEM_CALL and x0 through
// PTRACE_SETREGSET) and nothing else changes.
//
// Threads: the tracer thread only (ptrace(2): requests come from the thread that attached).
// The tracee must be in a ptrace-stop. Errors carry the errno of ptrace(2): ESRCH when the
// tracee was killed meanwhile.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "hijack/result.h"

namespace hijack::backend::syscall_regs {

// AUDIT_ARCH_* of the calls this build decides (seccomp(2) struct seccomp_data.arch).
uint32_t NativeArch();

// True for a call the seccomp backends' filter kills (SCMP_FLTATR_ACT_BADARCH): one of another
// ABI than the build's (i386 `int 0x80` or `sysenter` from an x86_64 process, arch
// AUDIT_ARCH_I386) or an x32 call (arch AUDIT_ARCH_X86_64 with __X32_SYSCALL_BIT in the number).
bool IsForeignAbi(uint32_t arch, uint64_t nr);

// At a seccomp stop or a syscall-entry stop: the kernel will not run the call. At a seccomp stop
// the return register as the tracer left it is what the guest sees (seccomp(2),
// SECCOMP_RET_TRACE); at an entry stop write it at the exit stop.
Result<void> SkipSyscall(pid_t tid);

// Writes the value the guest sees as the call's result (-errno for a failure).
Result<void> SetReturnValue(pid_t tid, int64_t value);

// At a syscall-exit stop: names call `nr` as the one that ended, so that a result of -ERESTARTSYS
// written there is restarted or made EINTR by the kernel's signal delivery, as for a call that
// ran (SkipSyscall had made the number -1, which the restart logic ignores).
Result<void> SetSyscallNumber(pid_t tid, int64_t nr);

// At a seccomp or entry stop: replaces argument `index` (0..5) of the call about to run.
Result<void> SetArgument(pid_t tid, int index, int64_t value);

}  // namespace hijack::backend::syscall_regs
