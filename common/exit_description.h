// How a guest ended, in the words a shell uses: "exited with status 3", "killed by SIGTERM",
// "killed by SIGSEGV (core dumped)".
//
//   std::string what = common::DescribeWaitStatus(status);   // status from waitpid(2)
//   std::string name = common::SignalName(SIGTERM);          // "SIGTERM"
//
// Shared by the daemon (GetGuest's Guest.exit_description, `hijackd run`'s summary) and
// hijackctl, so both say the same thing. Pure functions; thread-safe.
#pragma once

#include <string>

namespace hijack::common {

// "SIGTERM" for 15, "SIGRTMIN+2" for a real-time signal, "signal 99" for a number with no name.
std::string SignalName(int sig);

// WIFEXITED: "exited with status N"; WIFSIGNALED: "killed by SIGNAME", with " (core dumped)"
// when WCOREDUMP; a stop or continue report (not an end): "stopped by SIGNAME", "continued".
std::string DescribeWaitStatus(int wait_status);

}  // namespace hijack::common
