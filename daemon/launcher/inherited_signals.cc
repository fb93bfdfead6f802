#include "daemon/launcher/inherited_signals.h"

#include <signal.h>

namespace hijack::launcher {
namespace {

// Written once by Capture() before any thread exists, read in forked children only.
bool captured = false;
sigset_t inherited_mask;
sigset_t inherited_ignored;

}  // namespace

void InheritedSignals::Capture() {
  sigemptyset(&inherited_ignored);
  pthread_sigmask(SIG_SETMASK, nullptr, &inherited_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction action {};
    if (sigaction(sig, nullptr, &action) == 0 && !(action.sa_flags & SA_SIGINFO) &&
        action.sa_handler == SIG_IGN) {
      sigaddset(&inherited_ignored, sig);
    }
  }
  captured = true;
}

void InheritedSignals::Restore() {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) {
      // Raw sigaction(2) through libc: signal(2) would add SA_RESTART, which exec drops anyway,
      // but the child keeps no handler of its own before exec.
      struct sigaction action {};
      action.sa_handler = WasIgnored(sig) ? SIG_IGN : SIG_DFL;
      sigemptyset(&action.sa_mask);
      sigaction(sig, &action, nullptr);
    }
  }
  sigset_t mask;
  if (captured) {
    mask = inherited_mask;
  } else {
    sigemptyset(&mask);
  }
  // glibc's sigprocmask never blocks its own internal signals (SIGCANCEL, SIGSETXID), which a
  // freshly exec'd program does not use before it installs them itself.
  sigprocmask(SIG_SETMASK, &mask, nullptr);
}

bool InheritedSignals::WasIgnored(int sig) {
  return captured && sigismember(&inherited_ignored, sig) == 1;
}

}  // namespace hijack::launcher
