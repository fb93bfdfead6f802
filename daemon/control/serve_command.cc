#include "daemon/control/serve_command.h"

#include <signal.h>

#include <cstdio>
#include <spdlog/spdlog.h>

#include "daemon/oci/oci_listener.h"
#include "daemon/supervisor/supervisor.h"

namespace hijack::control {
namespace {

constexpr int kUsageError = 2;
constexpr int kStartFailure = 1;

}  // namespace

int RunServe(const ServeOptions& options) {
  if (options.on_exit == "detach") {
    spdlog::error(
        "--on-exit detach: guests cannot be released under the notify backend (seccomp filters "
        "cannot be removed, every intercepted call would fail with ENOSYS once the daemon's "
        "listener closes, and guests die with their supervisor through PR_SET_PDEATHSIG); use "
        "--on-exit kill");
    return kUsageError;
  }
  // Blocked in every thread started from here on: the reaper reads SIGCHLD from a signalfd and
  // this thread takes SIGTERM/SIGINT with sigwaitinfo.
  sigset_t blocked;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGCHLD);
  sigaddset(&blocked, SIGTERM);
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  signal(SIGPIPE, SIG_IGN);

  supervisor::Supervisor sup({.sync_wakeup = options.sync_wakeup,
                               .contain = options.contain,
                               .landlock_floor = options.landlock_floor});
  auto server = ControlServer::Start(options.server, sup);
  if (!server) {
    spdlog::error("{}", server.error().message);
    return server.error().code == EINVAL ? kUsageError : kStartFailure;
  }
  sup.StartLoop();
  std::unique_ptr<oci::OciListener> oci_listener;
  if (!options.oci_listener.empty()) {
    auto oci_options =
        oci::ListenerOptionsFrom(options.oci_listener, options.oci_listener_mode,
                                 options.oci_listener_group, options.oci_policy_dir,
                                 options.oci_default_policy);
    Result<std::unique_ptr<oci::OciListener>> started =
        oci_options ? oci::OciListener::Start(*oci_options, sup)
                    : Result<std::unique_ptr<oci::OciListener>>(
                          std::unexpected(oci_options.error()));
    if (!started) {
      spdlog::error("{}", started.error().message);
      (*server)->Shutdown(options.grace);
      sup.StopLoop();
      return started.error().code == EINVAL ? kUsageError : kStartFailure;
    }
    oci_listener = std::move(*started);
    std::printf("hijackd: OCI seccomp agent on %s\n", options.oci_listener.c_str());
  }
  // On stdout, flushed: scripts and tests wait for this line (and learn a tcp:...:0 port).
  std::printf("hijackd: listening on %s\n", (*server)->address().c_str());
  std::fflush(stdout);

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  int sig = 0;
  while ((sig = sigwaitinfo(&stop, nullptr)) < 0 && errno == EINTR) {
  }
  spdlog::info("{}: shutting down", sig > 0 ? sigabbrev_np(sig) : "signal");
  if (oci_listener) {
    oci_listener->Stop();  // no new container from here on
  }
  // The guests are told at once, not after the server's grace: no change is admitted from here
  // on (no Launch can add a guest), and the calls in flight finish while the guests end.
  (*server)->BeginShutdown();
  if (size_t left = sup.TerminateGuests(options.grace); left > 0) {
    spdlog::warn("{} guest(s) did not end; they die with the daemon", left);
  }
  (*server)->Shutdown(options.grace);
  sup.StopLoop();
  return 0;
}

Result<std::function<void()>> ServeRunControl(const ControlServerOptions& options,
                                              supervisor::Supervisor& supervisor) {
  auto server = ControlServer::Start(options, supervisor);
  if (!server) {
    return std::unexpected(server.error());
  }
  spdlog::info("listening on {}", (*server)->address());
  std::shared_ptr<ControlServer> shared(std::move(*server));
  return [shared] { shared->Shutdown(std::chrono::seconds(5)); };
}

}  // namespace hijack::control
