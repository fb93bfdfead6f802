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

}  // namespace hijack::modules
