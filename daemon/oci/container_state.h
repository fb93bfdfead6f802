// What an OCI runtime hands a seccomp agent, checked: the container process state that comes
// with the seccomp listener (runtime-spec config-linux.md, "listenerPath"), and the calls the
// container's profile sends to the listener (its bundle's config.json, linux.seccomp).
//
//   Result<ContainerProcessState> st = ParseContainerProcessState(text, /*fds_received=*/1);
//   // st->seccomp_fd_index: which descriptor of the message is the listener
//   Result<NotifiedSyscalls> calls = NotifiedSyscallsOf(*config);   // config: bundle's JSON
//
// The runtime sends, with SCM_RIGHTS on a unix stream connection (runc 1.1, crun 0.19):
//
//   {"ociVersion": "1.0.2", "fds": ["seccompFd"], "pid": 4242, "metadata": "web",
//    "state": {"ociVersion": "1.0.2", "id": "c1", "status": "creating", "pid": 4242,
//              "bundle": "/run/c1", "annotations": {...}}}
//
// Everything in it is untrusted input (a container's metadata and annotations come from
// whoever wrote its spec): every field is checked for type and bounds, and a refusal names its
// JSON path ("/state/bundle: expected an absolute path"). Pure functions; any thread.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "hijack/result.h"
#include "hijack/syscall_set.h"

namespace hijack::oci {

// Bounds on the parts of a state message; a runtime's real ones are far below them.
inline constexpr size_t kMaxStateBytes = 64 << 10;
inline constexpr size_t kMaxIdBytes = 1024;
inline constexpr size_t kMaxMetadataBytes = 4096;
inline constexpr size_t kMaxFds = 8;

struct ContainerProcessState {
  std::string oci_version;
  size_t seccomp_fd_index = 0;  // in "fds" and in the message's SCM_RIGHTS descriptors
  // The container process, in the runtime's pid namespace; 0 when the runtime does not say,
  // as crun 1.8's `exec` does not: such a connection can only join a container already known.
  pid_t pid = -1;
  std::string metadata;         // linux.seccomp.listenerMetadata; empty when absent
  std::string id;               // state.id
  std::string status;           // state.status ("creating" at create, "running" at exec)
  pid_t state_pid = -1;         // state.pid: the container's init; 0 when not said (crun exec)
  std::string bundle;           // state.bundle: an absolute path; empty (unknown) after create
};

// Checks `text` and that it names exactly `fds_received` descriptors, one of them "seccompFd".
// Errors (EINVAL): the JSON path and what was expected there, or the parse error.
[[nodiscard]] Result<ContainerProcessState> ParseContainerProcessState(std::string_view text,
                                                                       size_t fds_received);

// The calls a container's filter sends to its listener whatever their arguments: the names of
// linux.seccomp.syscalls entries with action SCMP_ACT_NOTIFY and no "args" (an entry with
// conditions sends only some calls, so a policy cannot rely on seeing them all), or, with
// defaultAction SCMP_ACT_NOTIFY, every call no entry gives another action. Names this kernel's
// table does not know are skipped, as libseccomp skips them.
struct NotifiedSyscalls {
  SyscallSet calls;
  std::string listener_path;  // linux.seccomp.listenerPath
};
// `config` is a bundle's config.json. Errors (EINVAL) name the JSON path.
[[nodiscard]] Result<NotifiedSyscalls> NotifiedSyscallsOf(const nlohmann::json& config);

// Whether `name` may name a policy of the operator's policy directory: 1 to 64 of
// [A-Za-z0-9_.-], not starting with '.': no path, no parent, no hidden file.
bool IsPolicyName(std::string_view name);

}  // namespace hijack::oci
