#include "daemon/launcher/bpf_builder.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>

#include <fmt/format.h>

namespace hijack::launcher {
namespace {

constexpr uint32_t kArchOffset = offsetof(seccomp_data, arch);
constexpr uint32_t kNrOffset = offsetof(seccomp_data, nr);
constexpr uint32_t kIpLowOffset = offsetof(seccomp_data, instruction_pointer);
constexpr uint32_t kIpHighOffset = kIpLowOffset + 4;

sock_filter Stmt(uint16_t code, uint32_t k) { return sock_filter{code, 0, 0, k}; }
sock_filter Jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return sock_filter{code, jt, jf, k};
}

std::string ReturnName(uint32_t k) {
  switch (k & SECCOMP_RET_ACTION_FULL) {
    case SECCOMP_RET_ALLOW:
      return "ALLOW";
    case SECCOMP_RET_USER_NOTIF:
      return "USER_NOTIF";
    case SECCOMP_RET_KILL_PROCESS:
      return "KILL_PROCESS";
    case SECCOMP_RET_KILL_THREAD:
      return "KILL_THREAD";
    case SECCOMP_RET_TRAP:
      return "TRAP";
    case SECCOMP_RET_ERRNO:
      return fmt::format("ERRNO({})", k & SECCOMP_RET_DATA);
    case SECCOMP_RET_TRACE:
      return fmt::format("TRACE({})", k & SECCOMP_RET_DATA);
    case SECCOMP_RET_LOG:
      return "LOG";
    default:
      return fmt::format("{:#x}", k);
  }
}

}  // namespace

Result<FilterProgram> AddTrampolineExemption(const FilterProgram& base, const SyscallSet& exempt,
                                             uint64_t syscall_ip) {
  if (exempt.empty()) {
    return base;
  }
  const std::vector<int> nrs = exempt.Numbers();
  const size_t n = nrs.size();
  // Offsets below are relative to the next instruction; conditional ones are 8 bits.
  if (n + 7 > 255) {
    return MakeError(fmt::format("{} exempt syscalls do not fit an 8-bit BPF jump", n));
  }
  const size_t check = 4 + n;       // first instruction of the ip check
  const size_t base_start = 9 + n;  // first instruction of the base program
  std::vector<sock_filter> out;
  out.reserve(base_start + base.instructions().size());
  out.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, kArchOffset));
  out.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0,
                     static_cast<uint8_t>(base_start - 2)));
  out.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, kNrOffset));
  for (size_t i = 0; i < n; ++i) {
    const size_t pc = 3 + i;
    out.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nrs[i]),
                       static_cast<uint8_t>(check - pc - 1), 0));
  }
  out.push_back(Stmt(BPF_JMP | BPF_JA, static_cast<uint32_t>(base_start - (3 + n) - 1)));
  out.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, kIpLowOffset));
  out.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(syscall_ip), 0,
                     static_cast<uint8_t>(base_start - (check + 1) - 1)));
  out.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, kIpHighOffset));
  out.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(syscall_ip >> 32), 0,
                     static_cast<uint8_t>(base_start - (check + 3) - 1)));
  out.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  if (out.size() != base_start) {
    return MakeError("internal error: trampoline prefix has the wrong length");
  }
  out.insert(out.end(), base.instructions().begin(), base.instructions().end());
  if (out.size() > BPF_MAXINSNS) {
    return MakeError(fmt::format("filter of {} instructions exceeds BPF_MAXINSNS ({})",
                                 out.size(), BPF_MAXINSNS));
  }
  return FilterProgram(std::move(out));
}

std::string Disassemble(const std::vector<sock_filter>& insns) {
  std::string out;
  for (size_t pc = 0; pc < insns.size(); ++pc) {
    const sock_filter& f = insns[pc];
    std::string text;
    switch (BPF_CLASS(f.code)) {
      case BPF_LD:
        text = BPF_MODE(f.code) == BPF_ABS ? fmt::format("ld [{}]", f.k)
                                           : fmt::format("ld code={:#x} k={:#x}", f.code, f.k);
        break;
      case BPF_JMP:
        if (BPF_OP(f.code) == BPF_JA) {
          text = fmt::format("ja {}", pc + 1 + f.k);
        } else {
          const char* op = BPF_OP(f.code) == BPF_JEQ   ? "jeq"
                           : BPF_OP(f.code) == BPF_JGT ? "jgt"
                           : BPF_OP(f.code) == BPF_JGE ? "jge"
                                                       : "jset";
          text = fmt::format("{} #{:#x} jt {} jf {}", op, f.k, pc + 1 + f.jt, pc + 1 + f.jf);
        }
        break;
      case BPF_RET:
        text = "ret " + ReturnName(f.k);
        break;
      default:
        text = fmt::format("code={:#x} jt={} jf={} k={:#x}", f.code, f.jt, f.jf, f.k);
        break;
    }
    out += fmt::format("{:3}: {}\n", pc, text);
  }
  return out;
}

}  // namespace hijack::launcher
