// Compiles an intercept set into a classic BPF seccomp program.
//
//   Result<FilterProgram> prog = CompileFilter(intercept, FilterAction::kNotify);
//   // in the child: prctl(PR_SET_NO_NEW_PRIVS), seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog->fprog())
//
// The program is built in the supervisor as raw instructions, so the child only needs
// async-signal-safe system calls to install it (fork in a threaded daemon). It is a balanced search
// over runs of call numbers (about 2 log2(runs) instructions per lookup) behind the checks
// libseccomp's x86_64 programs make; it is built in microseconds where libseccomp takes
// milliseconds for a set of every call, and the tests compare its verdict with libseccomp's
// program for every call number and architecture. Calls of a foreign architecture (i386 through
// int 0x80, x32) kill the caller: they would otherwise bypass a filter written for x86_64 numbers
// (seccomp(2), "Caveats"). The program reads only `arch` and `nr`, so the kernel's per-syscall
// action cache (Linux 5.11) applies to it.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "hijack/result.h"
#include "hijack/syscall_set.h"

namespace hijack::launcher {

enum class FilterAction {
  kNotify,  // SECCOMP_RET_USER_NOTIF for intercepted calls (seccomp_unotify(2))
  kTrace,   // SECCOMP_RET_TRACE for intercepted calls (ptrace(2), PTRACE_EVENT_SECCOMP)
};

class FilterProgram {
 public:
  explicit FilterProgram(std::vector<sock_filter> insns) : insns_(std::move(insns)) {}
  // Valid while this object lives and is not moved.
  sock_fprog fprog() const {
    return sock_fprog{static_cast<unsigned short>(insns_.size()),
                      const_cast<sock_filter*>(insns_.data())};
  }
  const std::vector<sock_filter>& instructions() const { return insns_; }

 private:
  std::vector<sock_filter> insns_;
};

// exit(2) and exit_group(2) are never sent to a notify supervisor. The wait for the answer is
// interruptible (seccomp_unotify(2)): a signal whose handler lacks SA_RESTART would fail the
// call with EINTR, glibc's _exit(2) then falls through to its `hlt` and the process dies of
// SIGSEGV instead of exiting. Neither call can be refused or answered, and the supervisor sees
// the end of every process and thread anyway (pidfd, waitid). The ptrace backend keeps them: a
// seccomp stop is not ended by a signal.
bool NeverNotified(int nr);

// Calls in `intercept` get `action`; every other native call is allowed (but NeverNotified
// calls under kNotify).
Result<FilterProgram> CompileFilter(const SyscallSet& intercept, FilterAction action);

}  // namespace hijack::launcher
