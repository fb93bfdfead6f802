#include "daemon/launcher/filter.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/syscall.h>

#include <cstdint>
#include <string>

namespace hijack::launcher {
namespace {

constexpr uint32_t kArchOffset = offsetof(seccomp_data, arch);
constexpr uint32_t kNrOffset = offsetof(seccomp_data, nr);
// Numbers from here up are the x32 ABI's on AUDIT_ARCH_X86_64 (__X32_SYSCALL_BIT); -1 is what a
// tracer that cancels a call leaves (ptrace(2), "Syscall-enter-stop").
constexpr uint32_t kX32Bit = 0x40000000;
constexpr uint32_t kNoSyscall = 0xffffffff;

// A run of call numbers [start, next run's start) with one action.
struct Run {
  uint32_t start;
  uint32_t action;
};

sock_filter Stmt(uint16_t code, uint32_t k) { return sock_filter{code, 0, 0, k}; }
sock_filter Jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return sock_filter{code, jt, jf, k};
}

// A balanced search over `runs` (sorted, adjacent runs differ): a node is "jge #start of the
// upper half" with the lower half right after it and the upper half behind a `ja`, whose 32-bit
// offset, unlike the 8-bit jt/jf, reaches any distance; a leaf is the run's `ret`. A lookup
// takes about 2 log2(runs) instructions, however many calls the set has.
void EmitSearch(const std::vector<Run>& runs, size_t lo, size_t hi, std::vector<sock_filter>& out) {
  if (hi - lo == 1) {
    out.push_back(Stmt(BPF_RET | BPF_K, runs[lo].action));
    return;
  }
  const size_t mid = lo + (hi - lo) / 2;
  out.push_back(Jump(BPF_JMP | BPF_JGE | BPF_K, runs[mid].start, 0, 1));
  const size_t ja = out.size();
  out.push_back(Stmt(BPF_JMP | BPF_JA, 0));
  EmitSearch(runs, lo, mid, out);
  out[ja].k = static_cast<uint32_t>(out.size() - ja - 1);
  EmitSearch(runs, mid, hi, out);
}

}  // namespace

bool NeverNotified(int nr) { return nr == SYS_exit || nr == SYS_exit_group; }

Result<FilterProgram> CompileFilter(const SyscallSet& intercept, FilterAction action) {
  const uint32_t act = action == FilterAction::kNotify ? SECCOMP_RET_USER_NOTIF
                                                       : SECCOMP_RET_TRACE;  // TRACE(0)
  // Every number from SyscallSet::kCapacity up is allowed, as any number outside the set is.
  std::vector<Run> runs;
  for (int nr = 0; nr <= SyscallSet::kCapacity; ++nr) {
    const bool caught = intercept.Contains(nr) &&
                        !(action == FilterAction::kNotify && NeverNotified(nr));
    const uint32_t a = caught ? act : SECCOMP_RET_ALLOW;
    if (runs.empty() || runs.back().action != a) {
      runs.push_back({static_cast<uint32_t>(nr), a});
    }
  }
  std::vector<sock_filter> out;
  out.reserve(8 + 3 * runs.size());
  // The checks libseccomp's x86_64 programs make, in its order: a foreign architecture (i386
  // through int 0x80) and x32 numbers kill the process (their numbers mean other calls than
  // x86_64's; seccomp(2), "Caveats"); nr -1 gets the default action.
  out.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, kArchOffset));
  out.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
  out.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  out.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, kNrOffset));
  out.push_back(Jump(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, 0, 3));
  out.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, kNoSyscall, 0, 1));
  out.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  out.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  EmitSearch(runs, 0, runs.size(), out);
  if (out.size() > BPF_MAXINSNS) {
    return MakeError("filter of " + std::to_string(out.size()) +
                     " instructions exceeds BPF_MAXINSNS (" + std::to_string(BPF_MAXINSNS) + ")");
  }
  return FilterProgram(std::move(out));
}

}  // namespace hijack::launcher
