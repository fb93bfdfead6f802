#include "daemon/modules/trace/signal_text.h"

#include <fmt/format.h>
#include <linux/audit.h>
#include <signal.h>

#include <array>
#include <span>
#include <string_view>

#include "common/exit_description.h"
#include "daemon/syscalls/syscall_table.h"
#include "hijack/result.h"

namespace hijack::modules {
namespace {

// SIGSYS's si_code from a seccomp filter's SECCOMP_RET_TRAP (seccomp(2)).
constexpr int kSysSeccomp = 1;

// si_code values a signal-specific table names (sigaction(2)), from 1 up; 0 and negative codes
// and SI_KERNEL are the generic ones.
constexpr std::array<std::string_view, 9> kIllCodes = {
    "ILL_ILLOPC", "ILL_ILLOPN", "ILL_ILLADR", "ILL_ILLTRP", "ILL_PRVOPC",
    "ILL_PRVREG", "ILL_COPROC", "ILL_BADSTK", "ILL_BADIADDR"};
constexpr std::array<std::string_view, 8> kFpeCodes = {"FPE_INTDIV", "FPE_INTOVF", "FPE_FLTDIV",
                                                       "FPE_FLTOVF", "FPE_FLTUND", "FPE_FLTRES",
                                                       "FPE_FLTINV", "FPE_FLTSUB"};
constexpr std::array<std::string_view, 10> kSegvCodes = {
    "SEGV_MAPERR", "SEGV_ACCERR",  "SEGV_BNDERR",  "SEGV_PKUERR",  "SEGV_ACCADI",
    "SEGV_ADIDERR", "SEGV_ADIPERR", "SEGV_MTEAERR", "SEGV_MTESERR", "SEGV_CPERR"};
constexpr std::array<std::string_view, 5> kBusCodes = {"BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR",
                                                       "BUS_MCEERR_AR", "BUS_MCEERR_AO"};
constexpr std::array<std::string_view, 6> kTrapCodes = {
    "TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH", "TRAP_HWBKPT", "TRAP_UNK", "TRAP_PERF"};
constexpr std::array<std::string_view, 6> kChldCodes = {
    "CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "CLD_TRAPPED", "CLD_STOPPED", "CLD_CONTINUED"};
constexpr std::array<std::string_view, 6> kPollCodes = {"POLL_IN",  "POLL_OUT", "POLL_MSG",
                                                        "POLL_ERR", "POLL_PRI", "POLL_HUP"};
constexpr std::array<std::string_view, 2> kSysCodes = {"SYS_SECCOMP", "SYS_USER_DISPATCH"};

std::span<const std::string_view> CodesOf(int signo) {
  switch (signo) {
    case SIGILL:
      return kIllCodes;
    case SIGFPE:
      return kFpeCodes;
    case SIGSEGV:
      return kSegvCodes;
    case SIGBUS:
      return kBusCodes;
    case SIGTRAP:
      return kTrapCodes;
    case SIGCHLD:
      return kChldCodes;
    case SIGPOLL:
      return kPollCodes;
    case SIGSYS:
      return kSysCodes;
    default:
      return {};
  }
}

// strace's pointer form: NULL, else hexadecimal.
std::string Address(uint64_t addr) { return addr == 0 ? "NULL" : fmt::format("{:#x}", addr); }

bool FaultSignal(int signo) {
  return signo == SIGILL || signo == SIGFPE || signo == SIGSEGV || signo == SIGBUS;
}

std::string ArchName(uint32_t arch) {
  switch (arch) {
    case AUDIT_ARCH_X86_64:
      return "AUDIT_ARCH_X86_64";
    case AUDIT_ARCH_I386:
      return "AUDIT_ARCH_I386";
    case AUDIT_ARCH_AARCH64:
      return "AUDIT_ARCH_AARCH64";
    default:
      return fmt::format("{:#x}", arch);
  }
}

}  // namespace

std::string StraceSignalName(int signo) {
  return signo == SIGIO ? "SIGIO" : common::SignalName(signo);
}

std::string SignalCodeName(int signo, int code) {
  switch (code) {
    case SI_USER:
      return "SI_USER";
    case SI_KERNEL:
      return "SI_KERNEL";
    case SI_QUEUE:
      return "SI_QUEUE";
    case SI_TIMER:
      return "SI_TIMER";
    case SI_MESGQ:
      return "SI_MESGQ";
    case SI_ASYNCIO:
      return "SI_ASYNCIO";
    case SI_SIGIO:
      return "SI_SIGIO";
    case SI_TKILL:
      return "SI_TKILL";
    case SI_ASYNCNL:
      return "SI_ASYNCNL";
    default:
      break;
  }
  std::span<const std::string_view> names = CodesOf(signo);
  if (code >= 1 && static_cast<size_t>(code) <= names.size()) {
    return std::string(names[static_cast<size_t>(code) - 1]);
  }
  return std::to_string(code);
}

std::string SiginfoText(const SignalDelivery& s) {
  std::string out = fmt::format("{{si_signo={}, si_code={}", StraceSignalName(s.signo),
                                SignalCodeName(s.signo, s.code));
  if (s.err != 0) {
    out += ", si_errno=" + ErrnoName(s.err);
  }
  auto source = [&] { out += fmt::format(", si_pid={}, si_uid={}", s.pid, s.uid); };
  auto value = [&] {
    out += fmt::format(", si_int={}, si_ptr={}", static_cast<int32_t>(s.value),
                       Address(static_cast<uint64_t>(s.value)));
  };
  if (s.code <= 0) {
    // Sent by a process (kill(2), tgkill(2), sigqueue(3)) or a timer.
    if (s.code == SI_TIMER) {
      out += fmt::format(", si_timerid={:#x}, si_overrun={}", s.timerid, s.overrun);
      value();
    } else {
      source();
      if (s.code != SI_USER && s.code != SI_TKILL) {
        value();
      }
    }
  } else if (s.signo == SIGCHLD) {
    source();
    out += ", si_status=";
    out += s.code == CLD_EXITED ? std::to_string(s.status) : StraceSignalName(s.status);
    out += fmt::format(", si_utime={}, si_stime={}", s.utime, s.stime);
  } else if (FaultSignal(s.signo)) {
    out += ", si_addr=" + Address(s.addr);
  } else if (s.signo == SIGPOLL && s.code != SI_KERNEL) {
    out += fmt::format(", si_band={}, si_fd={}", s.band, s.fd);
  } else if (s.signo == SIGSYS && s.code == kSysSeccomp) {
    const std::string_view name = syscalls::SyscallName(s.syscall);
    out += fmt::format(", si_call_addr={}, si_syscall=", Address(s.addr));
    out += name.empty() || name == "?" ? std::to_string(s.syscall)
                                       : fmt::format("__NR_{}", name);
    out += ", si_arch=" + ArchName(s.arch);
  }
  return out + "}";
}

nlohmann::json SiginfoJson(const SignalDelivery& s) {
  nlohmann::json j = {{"signal", StraceSignalName(s.signo)},
                      {"si_code", SignalCodeName(s.signo, s.code)}};
  if (s.err != 0) {
    j["si_errno"] = ErrnoName(s.err);
  }
  if (s.code <= 0) {
    if (s.code == SI_TIMER) {
      j["si_timerid"] = s.timerid;
      j["si_overrun"] = s.overrun;
    } else {
      j["si_pid"] = s.pid;
      j["si_uid"] = s.uid;
    }
    if (s.code != SI_USER && s.code != SI_TKILL) {
      j["si_int"] = static_cast<int32_t>(s.value);
    }
  } else if (s.signo == SIGCHLD) {
    j["si_pid"] = s.pid;
    j["si_uid"] = s.uid;
    j["si_status"] = s.code == CLD_EXITED ? nlohmann::json(s.status)
                                          : nlohmann::json(common::SignalName(s.status));
  } else if (FaultSignal(s.signo)) {
    j["si_addr"] = s.addr;
  } else if (s.signo == SIGSYS && s.code == kSysSeccomp) {
    j["si_syscall"] = std::string(syscalls::SyscallName(s.syscall));
  }
  return j;
}

}  // namespace hijack::modules
