// RightsMessage: one unix(7) socket message that carries a small payload and up to two
// descriptors as SCM_RIGHTS ancillary data (cmsg(3)), laid out in place. The launcher's
// children send their pidfds and listeners to the supervisor this way, and the supervisor
// receives them the same way.
//
//   int32_t tag = kTagGuest;
//   RightsMessage out(&tag, sizeof tag);
//   const int fds[2] = {pidfd, proc};
//   out.Attach(fds, 2);
//   sendmsg(sock, &out.msg, MSG_NOSIGNAL);
//
//   RightsMessage in(&tag, sizeof tag);
//   if (recvmsg(sock, &in.msg, MSG_CMSG_CLOEXEC) > 0) {
//     int got[2] = {-1, -1};
//     size_t count = in.Received(got);   // descriptors now owned by the receiver
//   }
//
// Senders run in a forked (or CLONE_VM) child before execve(2): the message lives on the caller's
// stack, nothing allocates, and every member is inlined and calls no libc function, so it is
// async-signal-safe (signal-safety(7)) and usable by a helper that shares its parent's TLS.
// Not copyable or movable: `msg` points into the object itself. One thread uses an object.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>

namespace hijack::launcher {

struct RightsMessage {
  static constexpr size_t kMaxFds = 2;

  // `payload` (`size` bytes) is what the message carries besides the descriptors: sent from, or
  // received into. The control buffer is sized for kMaxFds descriptors, ready for recvmsg(2).
  __attribute__((always_inline)) RightsMessage(void* payload, size_t size) {
    iov.iov_base = payload;
    iov.iov_len = size;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof control.bytes;
  }
  RightsMessage(const RightsMessage&) = delete;
  RightsMessage& operator=(const RightsMessage&) = delete;

  // Before sendmsg(2): attaches `fds[0, count)`, 1 <= count <= kMaxFds, as one SCM_RIGHTS
  // header; the kernel duplicates them into the receiver, the sender keeps its own.
  __attribute__((always_inline)) void Attach(const int* fds, size_t count) {
    msg.msg_controllen = CMSG_SPACE(count * sizeof(int));
    cmsghdr* cmsg = &control.header;
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(count * sizeof(int));
    __builtin_memcpy(CMSG_DATA(cmsg), fds, count * sizeof(int));
  }

  // After a recvmsg(2) that returned > 0: how many descriptors the first SCM_RIGHTS header
  // carried (0 without one), the first min(that, kMaxFds) of them copied into `fds`, whose
  // owner the caller becomes. Entries past those are left as they were.
  __attribute__((always_inline)) size_t Received(int (&fds)[kMaxFds]) const {
    const cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg == nullptr || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
      return 0;
    }
    const size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    __builtin_memcpy(fds, CMSG_DATA(cmsg), (count < kMaxFds ? count : kMaxFds) * sizeof(int));
    return count;
  }

  iovec iov{};
  msghdr msg{};
  // Last: cmsghdr ends in a flexible array member.
  union {
    cmsghdr header;
    char bytes[CMSG_SPACE(kMaxFds * sizeof(int))];
  } control;
};

}  // namespace hijack::launcher
