// ProcessReaper: the one place that calls waitpid(2) in the supervisor.
//
//   ProcessReaper reaper(loop);          // SIGCHLD must already be blocked in every thread
//   reaper.WatchExit(pid, [](int status) { ... });
//
// The supervisor is a child subreaper (PR_SET_CHILD_SUBREAPER), so orphans of every guest are
// reparented to it and reaped here. waitpid(-1, __WALL) also returns ptrace stops; those go to
// the stop handler (the ptrace backend), since only tracees report stops to a waitpid without
// WUNTRACED. Runs on the loop thread; callbacks run there too.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <functional>
#include <unordered_map>
#include <vector>

#include "hijack/unique_fd.h"

namespace hijack::launcher {

class ProcessReaper {
 public:
  using ExitCallback = std::function<void(int wait_status)>;
  using StatusHandler = std::function<void(pid_t pid, int wait_status)>;

  explicit ProcessReaper(boost::asio::io_context& loop);
  ProcessReaper(const ProcessReaper&) = delete;
  ProcessReaper& operator=(const ProcessReaper&) = delete;

  // Calls `on_exit` once when `pid` has exited or was killed.
  void WatchExit(pid_t pid, ExitCallback on_exit);
  // Sees every status that is a stop (WIFSTOPPED): ptrace stops of tracees.
  void SetStopHandler(StatusHandler handler) { stop_handler_ = std::move(handler); }
  // Sees every exit of every pid, watched or not, before its WatchExit callback.
  void AddExitObserver(StatusHandler observer) { exit_observers_.push_back(std::move(observer)); }

  // Drains every status waiting now. Called on SIGCHLD; callable directly after a kill.
  void Drain();

 private:
  void Arm();

  UniqueFd signal_fd_;
  boost::asio::posix::stream_descriptor signal_stream_;
  std::unordered_map<pid_t, ExitCallback> watched_;
  StatusHandler stop_handler_;
  std::vector<StatusHandler> exit_observers_;
};

}  // namespace hijack::launcher
