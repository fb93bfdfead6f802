#include "daemon/modules/net_guard/connect_emulate.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

namespace hijack::modules {
namespace {

using Clock = std::chrono::steady_clock;

// The kernel's "restart if the handler says SA_RESTART" (include/linux/errno.h, not part of
// the user API): answered only while a caught signal is pending, so the kernel's signal
// delivery on the way out turns it into EINTR or a restart, and the guest never sees it.
constexpr int kErestartSys = 512;

// How often a waiting connect asks whether the guest still waits for it.
constexpr std::chrono::milliseconds kPendingCheck{100};

// True when thread `tid` of `pid` has a signal pending that it catches and does not block
// (/proc/PID/task/TID/status: SigPnd for the thread, ShdPnd for the process, SigBlk, SigCgt;
// proc(5)). Natively such a signal ends a blocking connect; here the thread waits in the
// supervisor (seccomp's killable wait, or a ptrace stop), so the emulation ends it. A status
// that cannot be read is no signal: the guest then waits for the connect, as it would anyway.
bool CaughtSignalPending(pid_t pid, pid_t tid) {
  std::ifstream status(fmt::format("/proc/{}/task/{}/status", pid, tid));
  uint64_t pending = 0, blocked = 0, caught = 0;
  for (std::string line; std::getline(status, line);) {
    auto field = [&](std::string_view key, uint64_t& out, bool add) {
      if (line.starts_with(key)) {
        const uint64_t v = std::stoull(line.substr(key.size()), nullptr, 16);
        out = add ? out | v : v;
      }
    };
    field("SigPnd:", pending, true);
    field("ShdPnd:", pending, true);
    field("SigBlk:", blocked, false);
    field("SigCgt:", caught, false);
  }
  return (pending & ~blocked & caught) != 0;
}

Decision Answer(int rc, int err) { return rc == 0 ? Decision::Return(0) : Decision::Fail(err); }

// SO_SNDTIMEO bounds a blocking connect (socket(7)); nullopt: none, TCP's own timeout holds.
std::optional<std::chrono::microseconds> SendTimeout(int fd) {
  timeval tv{};
  socklen_t len = sizeof tv;
  if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) != 0 ||
      (tv.tv_sec == 0 && tv.tv_usec == 0)) {
    return std::nullopt;
  }
  return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
}

// Waits for the connect in progress on `fd` to end, as a blocking connect(2) would.
Decision WaitForConnect(int fd, const SyscallEvent& ev, GuestMemory& mem) {
  std::optional<Clock::time_point> deadline;
  if (std::optional<std::chrono::microseconds> t = SendTimeout(fd)) {
    deadline = Clock::now() + *t;
  }
  for (;;) {
    auto slice = std::chrono::duration_cast<std::chrono::milliseconds>(kPendingCheck);
    if (deadline) {
      slice = std::clamp(std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()),
                         std::chrono::milliseconds(0), slice);
    }
    pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
    const int n = poll(&p, 1, static_cast<int>(slice.count()));
    if (n < 0 && errno != EINTR) {
      return Decision::Fail(errno);
    }
    if (n > 0) {
      // connect(2), EINPROGRESS: once writable, SO_ERROR says how the connect ended (and clears
      // it, as the blocking connect's own sock_error() does).
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        return Decision::Fail(errno);
      }
      return Answer(err == 0 ? 0 : -1, err);
    }
    if (!mem.StillPending()) {
      // The guest's call was interrupted: nobody reads this answer. The connection goes on.
      return Decision::Fail(EINTR);
    }
    if (CaughtSignalPending(ev.pid, ev.tid)) {
      // connect(2), EINTR: "the connection is established asynchronously": it goes on in the
      // kernel. What the guest sees is the kernel's own choice (net/ipv4/af_inet.c,
      // sock_intr_errno()): with a send timeout EINTR whatever the handler's flags (signal(7));
      // without one ERESTARTSYS, which the kernel turns into EINTR or, for a handler with
      // SA_RESTART, a restart of the call after the handler. The restarted connect comes here
      // again, finds the connect in progress (EALREADY) and waits on, as natively.
      return Decision::Fail(deadline ? EINTR : kErestartSys);
    }
    if (deadline && Clock::now() >= *deadline) {
      return Decision::Fail(EINPROGRESS);  // SO_SNDTIMEO expired (socket(7))
    }
  }
}

// A send's answer: the count, or the errno; EPIPE raises SIGPIPE in the guest's thread unless
// the call asked for MSG_NOSIGNAL, as the kernel's send would (send(2)). The thread is waiting
// for this answer, so its id names it (the call is pending).
Decision SendAnswer(ssize_t n, int err, int flags, const SyscallEvent& ev) {
  if (n >= 0) {
    return Decision::Return(n);
  }
  if (err == EPIPE && (flags & MSG_NOSIGNAL) == 0) {
    syscall(SYS_tgkill, ev.pid, ev.tid, SIGPIPE);
  }
  return Decision::Fail(err);
}

}  // namespace

Decision FastOpenOnCopy(int fd, std::span<const std::byte> addr, std::span<const std::byte> data,
                        int flags, const SyscallEvent& ev, GuestMemory& mem) {
  sockaddr_storage ss{};
  const size_t len = std::min(addr.size(), sizeof ss);
  std::memcpy(&ss, addr.data(), len);
  const auto* sa = len == 0 ? nullptr : reinterpret_cast<const sockaddr*>(&ss);
  const auto salen = static_cast<socklen_t>(len);
  const int file_flags = fcntl(fd, F_GETFL);
  if (file_flags < 0) {
    return Decision::Fail(errno);
  }
  const bool nonblock = (file_flags & O_NONBLOCK) != 0 || (flags & MSG_DONTWAIT) != 0;
  const int send_flags = flags | MSG_NOSIGNAL | MSG_DONTWAIT;
  ssize_t n = sendto(fd, data.data(), data.size(), send_flags, sa, salen);
  const int err = errno;
  if (nonblock) {
    return SendAnswer(n, err, flags, ev);
  }
  // A blocking Fast Open: the kernel waits for the connect (net/ipv4/af_inet.c,
  // __inet_stream_connect, with the SYN's data counted), then sends the rest. EALREADY: a Fast
  // Open already in progress (the guest's earlier call, interrupted and restarted).
  size_t sent = n > 0 ? static_cast<size_t>(n) : 0;
  if (n < 0 && err != EINPROGRESS && err != EALREADY) {
    return SendAnswer(n, err, flags, ev);
  }
  if (Decision connected = WaitForConnect(fd, ev, mem);
      connected.kind() == Decision::Kind::kFail) {
    return connected;
  }
  const int rest_flags = (send_flags & ~MSG_FASTOPEN);
  while (sent < data.size()) {
    n = send(fd, data.data() + sent, data.size() - sent, rest_flags);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EAGAIN && sent == 0) {
      // Nothing fits yet: wait until the socket is writable, as a blocking send waits.
      if (Decision writable = WaitForConnect(fd, ev, mem);
          writable.kind() == Decision::Kind::kFail) {
        return writable;
      }
      continue;
    }
    if (sent > 0) {
      break;  // a short count, as a stream send that cannot go on returns
    }
    return SendAnswer(n, errno, flags, ev);
  }
  return Decision::Return(static_cast<int64_t>(sent));
}

Decision ConnectOnCopy(int fd, std::span<const std::byte> addr, bool tcp,
                       const SyscallEvent& ev, GuestMemory& mem) {
  // The bytes aligned as a sockaddr; the caller bounds them by sizeof(sockaddr_storage).
  sockaddr_storage ss{};
  const size_t len = std::min(addr.size(), sizeof ss);
  std::memcpy(&ss, addr.data(), len);
  const auto* sa = len == 0 ? nullptr : reinterpret_cast<const sockaddr*>(&ss);
  const auto salen = static_cast<socklen_t>(len);
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0) {
    return Decision::Fail(errno);
  }
  if (!tcp || (flags & O_NONBLOCK) != 0) {
    const int rc = connect(fd, sa, salen);
    return Answer(rc, errno);
  }
  // A blocking TCP connect: started without blocking, so that this worker can notice a guest
  // that stopped waiting, then waited for.
  if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return Decision::Fail(errno);
  }
  const int rc = connect(fd, sa, salen);
  const int err = errno;
  fcntl(fd, F_SETFL, flags);
  // EALREADY: a connect already in progress (the guest's earlier one, interrupted and
  // restarted), which a blocking connect waits for too (net/ipv4/af_inet.c).
  if (rc == 0 || (err != EINPROGRESS && err != EALREADY)) {
    return Answer(rc, err);
  }
  return WaitForConnect(fd, ev, mem);
}

}  // namespace hijack::modules
