#include "daemon/launcher/exit_status.h"

#include <sys/wait.h>

namespace hijack::launcher {

int ExitStatusOf(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return WEXITSTATUS(wait_status);
  }
  if (WIFSIGNALED(wait_status)) {
    return 128 + WTERMSIG(wait_status);
  }
  return 1;
}

}  // namespace hijack::launcher
