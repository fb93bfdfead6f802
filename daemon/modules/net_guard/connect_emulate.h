// ConnectOnCopy: net_guard's emulated connect(2) ("connect": "emulate"). The supervisor connects
// its copy of the guest's socket (pidfd_getfd(2) shares the open file description, so the
// guest's socket is the one that connects) to the address bytes it read and judged, and the
// guest's call is answered with the result instead of running. A thread of the guest that
// rewrites the sockaddr buffer after the check changes nothing: the kernel never reads it again.
//
//   sockaddr_storage ss = ...;  // the bytes the rules allowed
//   Decision d = ConnectOnCopy(socket.fd(), {&ss, len}, /*tcp=*/true, ev, mem);
//   // Return(0), or Fail(ECONNREFUSED), Fail(EINPROGRESS) on a non-blocking socket, ...
//
// The answer is connect's own, as natively: 0 or its errno, EINPROGRESS for a non-blocking socket.
// A blocking TCP connect is started with O_NONBLOCK set on the shared file description for the
// duration of that one connect(2) (the guest's flags are restored at once; a guest F_SETFL made
// by another thread in those microseconds is lost), then waited for with poll(2) (POLLOUT, then
// SO_ERROR, as connect(2) describes for EINPROGRESS), up to the socket's SO_SNDTIMEO (then
// EINPROGRESS, socket(7)), else until TCP gives up (tcp_syn_retries, about two minutes:
// ETIMEDOUT). Every 100 ms the wait checks that the guest still waits for its call (a killed
// guest does not), and whether its thread has a caught, unblocked signal pending: the guest's
// thread waits in the supervisor (seccomp's killable wait, or a ptrace stop), where no signal
// can interrupt it, so the emulation answers EINTR as a native connect would, and the
// connection goes on in the kernel (connect(2)). Without SO_SNDTIMEO the answer is the kernel's
// ERESTARTSYS, so the kernel itself applies the handler's SA_RESTART on the way out (restart:
// the connect is intercepted again, finds the connect in progress, EALREADY, and waits on, as
// natively; no SA_RESTART: EINTR); with SO_SNDTIMEO, EINTR, as natively (signal(7): socket
// calls with a timeout are never restarted). The ptrace backends restart the same way (the
// tracer restores the call's number at its exit stop). A signal whose default action
// kills is not caught: under notify the kernel kills the guest at once; a ptrace-stopped thread
// takes it when the connect has ended. Other sockets (UDP: connect
// does not block) are connected as they are.
//
// FastOpenOnCopy is the same for TCP Fast Open (tcp(7)): a sendto(2) or sendmsg(2) with
// MSG_FASTOPEN and an address connects an unconnected socket and sends its data, so it is a
// connect whose address another guest thread could rewrite after the check. The supervisor
// makes that call itself on its copy, with the address it judged and the data it read from the
// guest (at most kMaxFastOpenBytes; a longer send is answered with the count the supervisor
// sent, a short count, as a stream send may return), started without blocking
// (MSG_DONTWAIT): the data leaves in the SYN where the kernel holds a Fast Open cookie for the
// peer, else the SYN asks for one and the connect is in progress. A non-blocking call is
// answered at once, as natively (bytes queued, or EINPROGRESS); a blocking one waits for the
// connect as ConnectOnCopy does (signals, SO_SNDTIMEO, a guest that stopped waiting) and then
// sends what the SYN did not carry, as the kernel's blocking Fast Open does. The supervisor
// never takes a SIGPIPE for the guest: it sends with MSG_NOSIGNAL, and an EPIPE of a call
// without MSG_NOSIGNAL is delivered to the guest's thread as SIGPIPE (send(2)).
//
// Threads: any; runs on a decision pool worker (NetGuardModule::MayBlock), and holds that worker
// for as long as the connect waits.
#pragma once

#include <cstddef>
#include <span>

#include "hijack/decision.h"
#include "hijack/guest_memory.h"
#include "hijack/syscall_event.h"

namespace hijack::modules {

// Connects `fd` to the sockaddr `addr` (any length, as the guest gave it; empty: none) and
// returns the guest's answer. `tcp`: a stream socket of AF_INET/AF_INET6, whose blocking
// connect waits as described above. `mem` tells whether the guest's call is still pending.
// `ev` is the guest's call (whose thread a signal may interrupt).
Decision ConnectOnCopy(int fd, std::span<const std::byte> addr, bool tcp, const SyscallEvent& ev,
                       GuestMemory& mem);

// The most data FastOpenOnCopy sends for one call.
inline constexpr size_t kMaxFastOpenBytes = 1 << 20;

// Sends `data` on the TCP socket `fd` with MSG_FASTOPEN to the sockaddr `addr`, with the guest's
// MSG_* `flags` (MSG_FASTOPEN among them), and returns the guest's answer: the bytes sent, or
// the errno of the connect or the send (EINPROGRESS for a non-blocking socket still
// connecting, EISCONN for a connected one, EOPNOTSUPP where the kernel's Fast Open is off).
Decision FastOpenOnCopy(int fd, std::span<const std::byte> addr, std::span<const std::byte> data,
                        int flags, const SyscallEvent& ev, GuestMemory& mem);

}  // namespace hijack::modules
