// Composes the kernel filter for a guest that runs the agent: an instruction-pointer check in
// front of the base program (CompileFilter, filter.h).
//
//   auto base = CompileFilter(intercept, FilterAction::kNotify);
//   auto prog = AddTrampolineExemption(*base, exempt, trampoline + kTrampolineSyscallEnd);
//
// The prefix compares seccomp_data.instruction_pointer, which the base program never reads:
//
//   ld  [4]                  arch
//   jeq #AUDIT_ARCH_X86_64   else -> base     (the base program kills foreign architectures)
//   ld  [0]                  nr
//   jeq #nr_i                -> ip check      (one per exempt call)
//   ja  base
//   ld  [8]; jeq #ip_lo      else -> base     seccomp_data.instruction_pointer, little endian
//   ld  [12]; jeq #ip_hi     else -> base
//   ret ALLOW
//   base: the CompileFilter program, unchanged (its jumps are relative, so prepending keeps them)
//
// So an exempt call runs without the supervisor only when it is made from the trampoline's one
// syscall instruction; from anywhere else, and every other call, gets exactly what the base
// program says (SECCOMP_RET_USER_NOTIF for intercepted calls). There is one filter, not a stack:
// with stacked filters the kernel would run all of them and take the most restrictive action
// (seccomp(2): "the action with the highest precedence"), so an ALLOW in one could never
// override a NOTIFY in the other.
//
// For non-exempt calls the prefix only looks at arch and nr, so the kernel's per-syscall
// action cache (Linux 5.11) still applies to them; exempt calls read the instruction pointer and
// are evaluated in full each time.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/launcher/filter.h"
#include "hijack/result.h"
#include "hijack/syscall_set.h"

namespace hijack::launcher {

// The composed program. `syscall_ip` is the address just past the trampoline's `syscall`
// instruction (what the kernel reports as instruction_pointer). An empty `exempt` returns `base`
// unchanged. Errors: too many exempt calls for 8-bit jumps, a program over BPF_MAXINSNS.
Result<FilterProgram> AddTrampolineExemption(const FilterProgram& base, const SyscallSet& exempt,
                                             uint64_t syscall_ip);

// One instruction per line, in the style of `seccomp-tools disasm`, for golden tests and logs:
// " 0: ld [4]", " 1: jeq #0xc000003e jt 2 jf 9", " 8: ret ALLOW".
std::string Disassemble(const std::vector<sock_filter>& insns);

}  // namespace hijack::launcher
