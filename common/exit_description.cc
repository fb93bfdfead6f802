#include "common/exit_description.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

namespace hijack::common {

std::string SignalName(int sig) {
  // sigabbrev_np(3) names the standard signals only; SIGRTMIN and SIGRTMAX are libc's choice
  // at run time (signal(7), "Real-time signals").
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
    return sig == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  }
  if (const char* abbrev = sigabbrev_np(sig); abbrev != nullptr) {
    return std::string("SIG") + abbrev;
  }
  return "signal " + std::to_string(sig);
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  }
  if (WIFSIGNALED(wait_status)) {
    return "killed by " + SignalName(WTERMSIG(wait_status)) +
           (WCOREDUMP(wait_status) ? " (core dumped)" : "");
  }
  if (WIFSTOPPED(wait_status)) {
    return "stopped by " + SignalName(WSTOPSIG(wait_status));
  }
  return "continued";
}

}  // namespace hijack::common
