// ExitStatusOf: a guest's waitpid(2) status as the shell-style exit status hijackd passes on.
//
//   int code = launcher::ExitStatusOf(status);   // 3 for exit(3), 137 for SIGKILL
//
// `hijackd run` exits with it and the control API reports it (GuestInfo.exit_code), so both
// say the same thing about a guest. Pure function; thread-safe.
#pragma once

namespace hijack::launcher {

// WEXITSTATUS for a normal exit, 128 + the signal number for a death by signal (as sh(1)
// reports it), 1 for a status that is neither (a stopped or continued report).
int ExitStatusOf(int wait_status);

}  // namespace hijack::launcher
