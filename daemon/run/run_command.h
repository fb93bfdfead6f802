// `hijackd run`: one guest in the foreground, its exit status passed through.
//
//   RunOptions opts;
//   opts.command = {"lighttpd", "-D", "-f", "conf"};
//   int status = RunGuest(opts);   // the guest's exit code
//
// A guest that dies by a signal takes hijackd with it: after its cleanup hijackd raises the same
// signal on itself (default disposition, no core), so that its parent sees "killed by SIGTERM"
// as it would natively. Guests start with the ignored signals and blocked mask that hijackd
// inherited (launcher/inherited_signals.h): `nohup hijackd run -- prog` keeps SIGHUP ignored.
//
// Exit statuses of hijackd itself: 2 for a bad policy or command line (nothing started), 126 and
// 127 for a command that cannot be executed (as shells do), 1 when the supervisor cannot start
// (for example a kernel without seccomp user notification: the message names --backend ptrace).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/backend/backend_table.h"
#include "daemon/run/strace_options.h"
#include "hijack/result.h"

namespace hijack::supervisor {
class Supervisor;
}

namespace hijack::run {

struct RunOptions {
  std::vector<std::string> command;
  std::optional<std::string> policy_file;  // default: the built-in default policy
  backend::BackendChoice backend;          // auto unless set (backend_table.h)
  std::vector<std::string> intercept;      // extra syscalls / %classes for the intercept set
  std::optional<std::string> trace_file;   // adds a trace module ("-" for stderr)
  std::string trace_format = "text";
  bool sync_wakeup = true;
  // What ends the guest tree with hijackd: "auto", "pidns" or "none" (SupervisorOptions).
  std::string contain = "auto";
  bool quiet = false;                      // no end-of-run report
  // Preload libhijack-agent.so (DESIGN.md, "The executive page and the agent"): calls that only
  // observers need are counted in the guest, at near-native cost. On by default; hijackd run
  // --no-agent turns it off. Only the notify backend runs it. Preloading a library adds the calls
  // that load it (openat, mmap...): the stats count them, as `strace -c` of the guest would.
  bool agent = true;
  // The supervisor's own protection (daemon/supervisor/guest_guard.h): Landlock scoping where
  // the kernel has it (--no-landlock-scope: the supervisor's refusals alone), and io_uring
  // refused while a policy enforces (--allow-io-uring lets the guest use it regardless).
  bool landlock_scope = true;
  // The Landlock floor of fs_guard, exec_guard and net_guard rules (--no-landlock: the modules
  // alone), and the highest Landlock ABI to use (--landlock-abi; negative: the kernel's).
  bool landlock_floor = true;
  int landlock_abi_max = -1;
  bool allow_io_uring = false;
  // The kernel result observer for calls the notify backend lets run (SupervisorOptions;
  // --no-kernel-observer turns it off).
  bool kernel_observer = true;
  // hijackd run --listen: starts the control API for this run's supervisor before the guest
  // starts, and returns the function that stops it (stop accepting, finish in-flight calls).
  // Set by main.cc, which links the gRPC service; empty: no API.
  std::function<Result<std::function<void()>>(supervisor::Supervisor&)> serve_control;
  // hijackd strace: the guest is traced as strace's options say (strace_options.h) instead of
  // by --trace. The policy is `policy_file`'s, or none (no stats table) instead of the default
  // one; the injections (-e inject=) come first, then the trace, then the -c table, which is
  // written where the trace goes, without hijackd's end-of-run report. Once at the end, on
  // stderr, a line says how many calls show "= ?" and why.
  std::optional<StraceOptions> strace;
};

// Runs the guest to completion. Returns hijackd's exit status; does not return when the guest
// died by a signal (see above). Call from the main thread, before any other thread starts.
int RunGuest(const RunOptions& options);

}  // namespace hijack::run
