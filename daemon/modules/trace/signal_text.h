// A delivered signal as strace(1) prints it: the braces of its "--- SIG... {...} ---" line.
//
//   SignalDelivery d{.signo = SIGSEGV, .code = SEGV_MAPERR, .addr = 0x10};
//   SiginfoText(d);  // "{si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10}"
//   SiginfoJson(d);  // {"signal":"SIGSEGV","si_code":"SEGV_MAPERR","si_addr":16}
//
// Which siginfo_t members are shown follows sigaction(2): the sender (si_pid, si_uid) of a
// signal a process sent (si_code <= 0), the child's status and times for SIGCHLD, the faulting
// address for SIGILL, SIGFPE, SIGSEGV, SIGBUS and SIGTRAP, band and descriptor for SIGPOLL, the
// call for SIGSYS, the value for sigqueue(3) and timers. Pure functions; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "hijack/event.h"

namespace hijack::modules {

std::string SiginfoText(const SignalDelivery& signal);
// A signal's name as strace spells it: "SIGIO" for 29, where other tools say SIGPOLL.
std::string StraceSignalName(int signo);
nlohmann::json SiginfoJson(const SignalDelivery& signal);
// si_code's name for `signo` ("SEGV_MAPERR", "SI_USER", "CLD_EXITED"), or its number.
std::string SignalCodeName(int signo, int code);

}  // namespace hijack::modules
