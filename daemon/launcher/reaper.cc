#include "daemon/launcher/reaper.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <array>
#include <boost/asio/post.hpp>
#include <stdexcept>

namespace hijack::launcher {

ProcessReaper::ProcessReaper(boost::asio::io_context& loop) : signal_stream_(loop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  signal_fd_.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd_.valid()) {
    throw std::runtime_error("signalfd(SIGCHLD) failed");  // start-up only, not a guest path
  }
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  signal_stream_.assign(signal_fd_.get());
  Arm();
}

void ProcessReaper::WatchExit(pid_t pid, ExitCallback on_exit) {
  watched_[pid] = std::move(on_exit);
  // The child may have exited before we watched it; its SIGCHLD may already be consumed.
  boost::asio::post(signal_stream_.get_executor(), [this] { Drain(); });
}

void ProcessReaper::Arm() {
  signal_stream_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                            [this](const boost::system::error_code& ec) {
                              if (ec) {
                                return;
                              }
                              std::array<signalfd_siginfo, 16> infos;
                              while (read(signal_fd_.get(), infos.data(), sizeof infos) > 0) {
                              }
                              Drain();
                              Arm();
                            });
}

void ProcessReaper::Drain() {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG | __WALL);
    if (pid <= 0) {
      return;
    }
    if (WIFSTOPPED(status)) {
      if (stop_handler_) {
        stop_handler_(pid, status);
      }
      continue;
    }
    if (!WIFEXITED(status) && !WIFSIGNALED(status)) {
      continue;
    }
    for (auto& observer : exit_observers_) {
      observer(pid, status);
    }
    if (auto it = watched_.find(pid); it != watched_.end()) {
      ExitCallback cb = std::move(it->second);
      watched_.erase(it);
      cb(status);
    }
  }
}

}  // namespace hijack::launcher
