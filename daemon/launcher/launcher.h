// Starts a guest process under a seccomp filter.
//
//   Result<LaunchedChild> child = StartChild(spec, &program, ChildMode::kNotifyListener);
//   // child->listener is the seccomp user-notification fd of the new filter
//
// Sequence (seccomp_unotify(2)): fork; with LaunchSpec::contain, move the guest into a pid
// namespace whose init dies with the supervisor (namespace_init.h: the whole tree ends with it);
// in the child (the guest, pid 2 there) give it the signal state the supervisor inherited
// (inherited_signals.h), take LaunchSpec::credentials, set
// PR_SET_PDEATHSIG so the guest dies with its supervisor (or its init; fail closed), Landlock
// scope, dumpable (not after a change of credentials), set no_new_privs, install the filter, exec.
// The listener reaches the supervisor through a helper task the child starts before its filter
// (ListenerHandover, listener_handover.h): the child cannot send it itself, since its sendmsg
// would be an intercepted call that nobody could answer yet, and pidfd_getfd(2) needs
// CAP_SYS_PTRACE under container engines' seccomp profiles. Between fork and exec the child makes
// only async-signal-safe raw calls, so the supervisor may be multi-threaded.
//
// The supervisor is not dumpable, and a fork inherits that; the child makes itself dumpable
// just before its filter (notify: the supervisor reads its first execve's arguments) or before
// it waits for the tracer's attach (ptrace), and exec keeps it so. With `spec.landlock_scope`
// the child scopes itself with Landlock (landlock_scope.h) before the filter, and before the
// go under the ptrace backends.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "daemon/launcher/filter.h"
#include "hijack/backend.h"
#include "hijack/result.h"
#include "hijack/unique_fd.h"

namespace hijack::launcher {

enum class ChildMode {
  kNotifyListener,  // install with SECCOMP_FILTER_FLAG_NEW_LISTENER; parent takes the listener
  kWaitThenFilter,  // wait until the parent says go (it attaches with ptrace first), then install
  kWaitNoFilter,    // wait until the parent says go, install nothing (ptrace-all)
};

struct LaunchedChild {
  pid_t pid = -1;     // the guest, in the supervisor's pid namespace
  UniqueFd pidfd;     // pidfd(2) of the guest
  UniqueFd listener;  // kNotifyListener only
  UniqueFd go;        // kWait*: write one byte to let the child proceed
  UniqueFd report;    // read end: setup or exec errors from the child (see ReadChildError)
  // Containment::kPidNamespace only (namespace_init.h): the namespace's init, the supervisor's
  // child in place of the guest. Its exit is the end of the whole guest tree; the guest's own
  // wait status is then read from `guest_status` (NamespaceInit::GuestWaitStatus).
  pid_t init_pid = -1;
  UniqueFd guest_status;
  UniqueFd guest_proc;  // O_PATH of the namespace's /proc, where the guest's own pids are named
  bool user_namespace = false;
  // The process whose exit (waitpid(2) by the supervisor) ends the guest.
  pid_t reaped_pid() const { return init_pid > 0 ? init_pid : pid; }
};

// Forks and sets up the child. For kNotifyListener, returns once the filter is installed and
// the listener is in hand (and the handover's helper has exited and been reaped), within 10 s.
// The guest may exec before that (the helper keeps the table that holds the listener); its
// first intercepted call waits for the supervisor either way. With a ChildFunction
// (child_function.h) the function starts after the listener is in hand. For kWait*, returns
// once the child can be traced (it made itself dumpable and waits for the go), within 10 s.
// The listener is close-on-exec in the guest, which never holds it after exec.
// With `spec.contain` == kPidNamespace the guest starts as pid 2 of a new pid namespace
// (namespace_init.h); errors of that step start with NamespaceInit::kErrorPrefix
// (IsContainmentError), so that a caller may retry without it.
// Errors: fork/pidfd failures, the kernel refusing the filter (EINVAL on kernels without user
// notification, EACCES without no_new_privs), clone(2) of the handover's helper refused, the
// child dying or not installing its filter in time.
// `inherit_fd`, when not -1, is a close-on-exec descriptor of the supervisor that the guest
// keeps across exec (the executive page): the flag is cleared in the child only.
Result<LaunchedChild> StartChild(const LaunchSpec& spec, const FilterProgram* program,
                                 ChildMode mode, int inherit_fd = -1);

// Whether the kernel takes SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19), which
// kNotifyListener launches then use: a signal that arrives after the supervisor received a
// guest's call no longer interrupts it. One that arrives before still does (the remaining
// window, README "What a guest can observe"). Probed once, in a short-lived thread; any thread.
bool KernelHasWaitKillableRecv();

// Whether `error` of StartChild is a refusal of the pid namespace (the kernel or a sandbox
// forbids unshare(2) or mounting a procfs), after which a launch without it may work.
bool IsContainmentError(const Error& error);

// What the child reported through its `report` pipe before it died: the failed step and errno
// ("execve /bin/x: ENOEXEC (Exec format error)"), or nullopt if it exec'd or reported nothing.
// Reads without blocking; call after the child ended.
std::optional<Error> ReadChildError(int report_fd);

// What to log when the child reported an error (ReadChildError): "cannot start PATH: WHY" when
// `handler` explains it as a policy's denial of the start (SyscallHandler::ExplainStartFailure),
// else "PATH: ERROR"; nullopt when the child reported nothing. Both backends print it.
std::optional<std::string> StartFailureMessage(int report_fd, const SyscallHandler& handler,
                                               const std::string& path);

// Resolves argv0 the way a shell does, searching `path_env` (the guest's PATH) when argv0 has no
// slash. Errors carry the exit status a shell would use in `code`: 127 for "command not found"
// or "No such file or directory", 126 for "Permission denied" or "Is a directory".
Result<std::string> ResolveExecutable(const std::string& argv0, const std::string& path_env);

}  // namespace hijack::launcher
