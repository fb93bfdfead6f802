// A guest that receives known signals, for the strace comparison (strace_test.cc): each mode
// makes the kernel deliver one kind of siginfo, which strace(1) -f prints as a "--- SIG... ---"
// line.
//
//   strace_guest segv      a store to address 0x10: SIGSEGV, SEGV_MAPERR, si_addr=0x10 (the
//                          process is killed by it)
//   strace_guest child N   a child that exits with N, waited for: SIGCHLD, CLD_EXITED
//   strace_guest kill-child a child that kills itself with SIGTERM, waited for: the child's
//                          SIGTERM (SI_USER), its "killed by" line, SIGCHLD with CLD_KILLED
//   strace_guest queue V   sigqueue(3) of SIGUSR1 with value V to itself, handled: SI_QUEUE
//   strace_guest tkill     raise(3) of SIGUSR2, handled: SI_TKILL
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

volatile sig_atomic_t g_handled = 0;

void OnSignal(int) { g_handled = 1; }

void Handle(int sig) {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(sig, &sa, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (std::strcmp(mode, "segv") == 0) {
    const rlimit no_core{0, 0};  // "(core dumped)" or not must not depend on the caller
    setrlimit(RLIMIT_CORE, &no_core);
    *reinterpret_cast<volatile int*>(0x10) = 1;
    return 0;
  }
  if (std::strcmp(mode, "child") == 0 && argc > 2) {
    const pid_t child = fork();
    if (child == 0) {
      _exit(std::atoi(argv[2]));
    }
    int status = 0;
    waitpid(child, &status, 0);
    return 0;
  }
  if (std::strcmp(mode, "kill-child") == 0) {
    const pid_t child = fork();
    if (child == 0) {
      kill(getpid(), SIGTERM);
      _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return WIFSIGNALED(status) ? 0 : 1;
  }
  if (std::strcmp(mode, "queue") == 0 && argc > 2) {
    Handle(SIGUSR1);
    sigval value{};
    value.sival_int = std::atoi(argv[2]);
    sigqueue(getpid(), SIGUSR1, value);
    return g_handled ? 0 : 1;
  }
  if (std::strcmp(mode, "tkill") == 0) {
    Handle(SIGUSR2);
    raise(SIGUSR2);
    return g_handled ? 0 : 1;
  }
  std::fprintf(stderr, "usage: strace_guest segv | child N | kill-child | queue V | tkill\n");
  return 2;
}
