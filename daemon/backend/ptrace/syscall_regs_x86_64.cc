// x86_64: the syscall number lives in orig_rax, the result in rax (struct user_regs_struct).
#if defined(__x86_64__)

#include <linux/audit.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#include <cerrno>
#include <cstddef>
#include <string>

#include "daemon/backend/ptrace/syscall_regs.h"

namespace hijack::backend::syscall_regs {
namespace {

// One PTRACE_POKEUSER writes one register: cheaper than GETREGS + SETREGS.
Result<void> PokeRegister(pid_t tid, size_t offset, int64_t value, const char* name) {
  if (ptrace(PTRACE_POKEUSER, tid, reinterpret_cast<void*>(offset),
             reinterpret_cast<void*>(value)) != 0) {
    return ErrnoError(errno, std::string("ptrace(PTRACE_POKEUSER, ") + name + ") of thread " +
                                 std::to_string(tid));
  }
  return {};
}

}  // namespace

uint32_t NativeArch() { return AUDIT_ARCH_X86_64; }

bool IsForeignAbi(uint32_t arch, uint64_t nr) {
  constexpr uint64_t kX32SyscallBit = 0x40000000;  // __X32_SYSCALL_BIT, asm/unistd.h
  return arch != AUDIT_ARCH_X86_64 || (nr & kX32SyscallBit) != 0;
}

Result<void> SkipSyscall(pid_t tid) {
  return PokeRegister(tid, offsetof(struct user, regs.orig_rax), -1, "orig_rax");
}

Result<void> SetSyscallNumber(pid_t tid, int64_t nr) {
  return PokeRegister(tid, offsetof(struct user, regs.orig_rax), nr, "orig_rax");
}

Result<void> SetReturnValue(pid_t tid, int64_t value) {
  return PokeRegister(tid, offsetof(struct user, regs.rax), value, "rax");
}

Result<void> SetArgument(pid_t tid, int index, int64_t value) {
  // The system call ABI's argument registers, in order (syscall(2), "Architecture calling
  // conventions").
  static constexpr struct {
    size_t offset;
    const char* name;
  } kArgs[] = {{offsetof(struct user, regs.rdi), "rdi"}, {offsetof(struct user, regs.rsi), "rsi"},
               {offsetof(struct user, regs.rdx), "rdx"}, {offsetof(struct user, regs.r10), "r10"},
               {offsetof(struct user, regs.r8), "r8"},   {offsetof(struct user, regs.r9), "r9"}};
  if (index < 0 || index >= 6) {
    return MakeError("system call argument " + std::to_string(index) + " does not exist");
  }
  return PokeRegister(tid, kArgs[index].offset, value, kArgs[index].name);
}

}  // namespace hijack::backend::syscall_regs

#else
#error "the ptrace backend has register access for x86_64 only; add syscall_regs_<arch>.cc"
#endif  // __x86_64__
