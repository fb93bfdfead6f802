// Event: the record of one intercepted call after it was decided, as observers see it.
//
// The backend fills `call`, the engine fills `args`, `decision` and `module`, the backend adds
// the result when it can know it, and the event bus delivers the Event to PolicyModule::Observe()
// and to every other subscriber (trace files, statistics, WatchEvents streams) off the guest's
// synchronous path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hijack/decision.h"
#include "hijack/syscall_event.h"

namespace hijack {

// One argument, decoded for people (`text`, strace style) and for programs (`json`).
struct DecodedArg {
  std::string text;     // "\"/etc/hostname\"", "O_RDONLY|O_CLOEXEC", "{AF_INET, 127.0.0.1:80}"
  nlohmann::json json;  // "/etc/hostname", "O_RDONLY|O_CLOEXEC", {"family":"AF_INET",...}
};

// A signal the kernel delivered to a guest thread, from its siginfo_t (sigaction(2)): what
// strace prints as "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, ...} ---". Which fields
// mean something depends on signo and code, as in siginfo_t.
struct SignalDelivery {
  int signo = 0;
  int code = 0;
  int err = 0;              // si_errno
  int32_t pid = 0;          // si_pid (sender, or child for SIGCHLD)
  uint32_t uid = 0;         // si_uid
  int status = 0;           // si_status (SIGCHLD)
  int64_t utime = 0;        // si_utime, si_stime (SIGCHLD), in clock ticks
  int64_t stime = 0;
  uint64_t addr = 0;        // si_addr (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP), si_call_addr
  int64_t value = 0;        // si_value.sival_ptr (sigqueue(3), timers)
  int timerid = 0;          // si_timerid, si_overrun (SI_TIMER)
  int overrun = 0;
  int64_t band = 0;         // si_band, si_fd (SIGPOLL)
  int fd = 0;
  int syscall = 0;          // si_syscall, si_arch (SIGSYS)
  uint32_t arch = 0;
};

struct Event {
  SyscallEvent call;
  // Records that carry no call (call names the guest, process and thread; nr -1, no arguments,
  // no decision), which PolicyModule::ObserveProcessEvent gets:
  // a signal delivery, from backends that stop at each (ptrace(2), "Signal-delivery-stop");
  std::optional<SignalDelivery> signal;
  // the end of process call.pid, its status as waitpid(2) reports it.
  std::optional<int> exit_status;
  std::vector<DecodedArg> args;  // empty unless a module of the policy asked for arguments
  // True when `args` show the out-parameters the call returned (struct stat, bytes read, ...):
  // the backend stopped the thread at the call's return (ptrace) and the handler read them
  // there. False: they are the pointers the call was given.
  bool returned_args = false;
  Decision decision;
  std::string module;            // the module that decided; empty when no module objected
  // The call's return value (negative errno on failure) when the supervisor knows it: always for
  // calls it did not let run; for calls that ran, under ptrace, and under notify where the
  // kernel result observer runs (daemon/observe/result_observer.h; seccomp_unotify(2): after
  // SECCOMP_USER_NOTIF_FLAG_CONTINUE the kernel runs the call and tells the supervisor nothing).
  std::optional<int64_t> result;
  // Why `result` is empty for a call that ran or was meant to ("the kernel observer is off:
  // ..."); empty when the result is known or nobody tried to learn it.
  std::string result_note;
  int64_t end_ns = 0;            // CLOCK_MONOTONIC when the call completed or was answered
  // CLOCK_MONOTONIC when the kernel result observer read the return of a call notify let run
  // (end_ns stays the answer's time there); 0 otherwise.
  int64_t returned_ns = 0;
  uint64_t policy_version = 0;
};

}  // namespace hijack
