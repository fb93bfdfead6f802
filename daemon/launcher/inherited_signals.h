// The signal state hijackd inherited from whoever started it, kept for the guests it starts.
//
//   int main() {
//     launcher::InheritedSignals::Capture();   // before any thread starts or any signal changes
//     pthread_sigmask(SIG_BLOCK, &mine, nullptr);  // the supervisor's own handling
//     ...
//   }
//   // in a forked child, before exec (async-signal-safe):
//   launcher::InheritedSignals::Restore();
//
// A program started natively inherits its parent's ignored signals and blocked mask across
// fork and execve (signal(7), "Signal mask and pending signals"; execve(2) resets handled
// signals to the default but keeps ignored ones): `nohup prog` works because prog starts with
// SIGHUP ignored. hijackd blocks and redirects signals for itself, so a guest that took the
// supervisor's state would lose what its real parent set up. Capture() records the state at
// start; Restore() gives exactly that state to a guest: each ignored signal ignored, every other
// signal at its default, and the inherited mask. Without a Capture() (hijackd serve, whose
// guests are launched over the API and have no parent in common with hijackd's starter),
// Restore() gives the clean state: nothing ignored, nothing blocked.
//
// Threading: Capture() once, on the main thread, before other threads start; Restore() only in
// a child forked after that (it reads what Capture() wrote and writes nothing).
#pragma once

#include <signal.h>

namespace hijack::launcher {

class InheritedSignals {
 public:
  // Records the calling thread's blocked mask and which signals are ignored (sigaction(2)).
  static void Capture();
  // Sets every signal but SIGKILL and SIGSTOP to SIG_IGN if it was ignored at Capture(), else
  // SIG_DFL, then the mask to the captured one. Async-signal-safe; for the child after fork.
  static void Restore();
  // Whether `sig` was ignored at Capture() (false without one).
  static bool WasIgnored(int sig);
};

}  // namespace hijack::launcher
