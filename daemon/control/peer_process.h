// Who is at the other end of a control connection, as the kernel says, and whether that process
// belongs to a guest.
//
//   Result<UnixPeer> peer = ReadUnixPeer(accepted_fd);      // SO_PEERCRED, SO_PEERPIDFD, groups
//   Result<bool> guest = InSupervisedTree(peer->pidfd.get(), getpid());
//   Result<std::vector<pid_t>> holders = LocalTcpPeerPids("ipv4:127.0.0.1:41234", 7070);
//
// Why a process tree: hijackd is the child subreaper of its guests (reaper.h), so every process
// a guest starts, double-forked daemons included, stays a descendant of hijackd until it ends.
// A guest cannot leave that tree, and nothing outside it can enter it; a control connection from
// inside it is a guest trying to steer its own supervisor (SECURITY.md, "Who may steer").
//
// The peer's pid comes as a pidfd (SO_PEERPIDFD, Linux 6.5, socket(7)) so that a peer that exits
// cannot have its pid recycled by an innocent process between the check and the answer. Kernels
// without it (before 6.5) give only SO_PEERCRED's pid, which names the peer only while it lives.
//
// Thread-safe: every function only reads /proc and the descriptors it is given.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "hijack/result.h"
#include "hijack/unique_fd.h"

namespace hijack::control {

struct UnixPeer {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;        // supplementary groups (SO_PEERGROUPS)
  pid_t pid = 0;                    // at connect(2) time
  std::shared_ptr<UniqueFd> pidfd;  // the connecting process; may be invalid on old kernels
};

// Reads the credentials the kernel recorded when the peer connected. Errors: getsockopt failed
// (the errno and the option name).
Result<UnixPeer> ReadUnixPeer(int fd);

// Whether the process `pidfd` refers to is a descendant of `supervisor` (a pid in this pid
// namespace). Walks the parent chain through /proc, re-checking each link after taking a pidfd
// of the parent, so a parent that exits and whose pid is reused during the walk cannot make a
// guest look like an outsider (the child is then reparented to the subreaper, and the walk starts
// again). Errors (fail closed: the caller refuses): the process ended (ESRCH), the chain kept
// changing, or /proc could not be read.
Result<bool> InSupervisedTree(int pidfd, pid_t supervisor);

// The same for a plain pid (no pidfd on this kernel, or a TCP peer found through /proc).
Result<bool> PidInSupervisedTree(pid_t pid, pid_t supervisor);

// A TCP peer on this machine: the processes that hold the client end of the connection from
// `peer` (gRPC's "ipv4:127.0.0.1:41234" / "ipv6:[::1]:41234") to our `server_port`, found in
// /proc/net/tcp{,6} and the descriptor tables of /proc/*/fd. `socket_uid` is the owner of the
// client socket. An empty `pids` with `local` true means the socket exists here but no process
// this daemon may inspect holds it (another user's process, one that hid itself from ptrace
// access checks, or a socket in flight in an SCM_RIGHTS message). `local` false: the peer is on
// another machine (or in another network namespace).
struct TcpPeerProcesses {
  bool local = false;
  uid_t socket_uid = 0;
  std::vector<pid_t> pids;
};
Result<TcpPeerProcesses> LocalTcpPeer(const std::string& peer, int server_port);

}  // namespace hijack::control
