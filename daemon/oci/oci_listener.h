// OciListener: hijackd as the seccomp agent of OCI runtimes (`hijackd serve --oci-listener`).
// A container whose profile names this socket in linux.seccomp.listenerPath is handed over by
// its runtime (runc, crun) at create: one connection, a JSON state message and the container's
// seccomp listener in SCM_RIGHTS (container_state.h). Each becomes a guest of the supervisor on
// the notify backend, listed, watched and re-policed through the control API like any other.
//
//   OciListenerOptions o{.path = "/run/hijack/oci.sock", .policy_dir = "/etc/hijack/oci"};
//   Result<std::unique_ptr<OciListener>> l = OciListener::Start(o, supervisor);
//   ...
//   (*l)->Stop();   // before the supervisor's loop stops
//
// What a connection becomes:
//   - The guest's policy: listenerMetadata names a policy of the operator's directory
//     (`NAME` reads DIR/NAME.json, resolved beneath DIR with openat2(2) RESOLVE_BENEATH; a name
//     is [A-Za-z0-9_.-]{1,64} not starting with '.'); empty metadata takes the default policy
//     (OciListenerOptions::default_policy, else stats over the calls the profile sends). The
//     file is read at each container's start, so a changed directory applies to new containers.
//   - Its intercept set: the calls the bundle's config.json sends unconditionally
//     (NotifiedSyscallsOf); a policy that needs others is refused (policy/admission.h).
//   - The runtime's own calls (its init, between installing the filter and exec'ing the entry
//     point) are continued without the policy up to the listener's first execve, which the
//     policy decides like everything after it (AdoptSpec::installer_prelude). The profile must
//     therefore send execve and execveat; one that does not is refused.
//   - A second connection for a running container (same id and init pid: `runc exec`) joins
//     its guest with its own listener and its own prelude.
//   - The guest ends when the container's init has ended and no task uses any of its filters.
// A connection that is refused is closed and the reason logged at warning ("oci: /state/pid:
// missing"); the container's notified calls then fail with ENOSYS (seccomp_unotify(2)), so it
// does not start. Nothing a connection sends reaches another guest or stops the daemon.
//
// Who may connect: the socket is created 0600 (or `mode`, with `group`), and every peer is
// checked again with SO_PEERCRED/SO_PEERGROUPS: root, the daemon's uid, or a member of `group`.
// A runtime runs as root; a container never needs to reach this socket.
//
// Threads: connections are served one at a time on the listener's own thread, each read bounded
// in size and time (read_timeout); guests are made on the supervisor's loop (OnLoop). Start and
// Stop from the thread that owns the supervisor.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "daemon/supervisor/supervisor.h"
#include "hijack/result.h"
#include "hijack/unique_fd.h"

namespace hijack::oci {

struct OciListenerOptions {
  std::string path;
  unsigned mode = 0600;
  std::optional<gid_t> group;
  std::string policy_dir;      // empty: metadata that names a policy is refused
  std::string default_policy;  // a policy file; empty: stats over the notified calls
  std::chrono::milliseconds read_timeout{2000};
};

// The options from `hijackd serve`'s text: the mode in octal, the group by name or number.
// EINVAL naming the option.
Result<OciListenerOptions> ListenerOptionsFrom(const std::string& path, const std::string& mode,
                                               const std::string& group,
                                               const std::string& policy_dir,
                                               const std::string& default_policy);

class OciListener {
 public:
  // Binds `options.path` and starts serving. A socket there that nothing listens on (left by a
  // daemon that crashed) is replaced; a live daemon's socket is an error (EADDRINUSE), and so is
  // anything else at the path (EEXIST), which stays as it is.
  // Errors: the socket's, the group's, an unreadable default policy.
  static Result<std::unique_ptr<OciListener>> Start(const OciListenerOptions& options,
                                                    supervisor::Supervisor& supervisor);
  ~OciListener();  // Stop()
  OciListener(const OciListener&) = delete;
  OciListener& operator=(const OciListener&) = delete;

  // Stops accepting, joins the thread and removes the socket file. Idempotent.
  void Stop();

 private:
  struct Message;
  OciListener(OciListenerOptions options, supervisor::Supervisor& supervisor, UniqueFd socket,
              UniqueFd wake);
  void Run();
  Result<void> CheckPeer(int fd) const;
  Result<std::string> Serve(int fd);  // what became of the connection, for the log
  Result<Message> ReadMessage(int fd) const;
  Result<std::shared_ptr<policy::PolicySet>> ChoosePolicy(const std::string& metadata,
                                                          const SyscallSet& notified) const;

  const OciListenerOptions options_;
  supervisor::Supervisor& supervisor_;
  UniqueFd socket_;
  UniqueFd wake_;  // eventfd: Stop's word to the thread
  std::thread thread_;
  // Running containers: "id\npid" of their init -> guest id. Written by the listener's thread
  // and by the supervisor's exit listener, which may outlive this object.
  struct Registry {
    std::mutex mu;
    std::map<std::string, uint64_t> containers;
  };
  std::shared_ptr<Registry> registry_ = std::make_shared<Registry>();
  bool stopped_ = false;
};

}  // namespace hijack::oci
