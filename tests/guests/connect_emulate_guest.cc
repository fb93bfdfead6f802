// A guest that connects TCP sockets under net_guard's "connect": "emulate"
// (tests/integration/connect_emulate_test.cc). Each mode prints one line the test checks.
//
//   connect_emulate_guest connect PORT block|nonblock   connect to 127.0.0.1:PORT; prints
//                                "connect: 0" or "connect: ERRNO" and, after EINPROGRESS, the
//                                connect's outcome by poll(2) and SO_ERROR: "so_error: 0|ERRNO"
//   connect_emulate_guest exchange block|nonblock       listens on 127.0.0.1 (port 0), connects
//                                a socket to it, then sends "ping" one way and "pong" back:
//                                "exchanged: block" (or "failed: <step> ERRNO")
//   connect_emulate_guest timeout PORT MS              a blocking connect with SO_SNDTIMEO of MS
//                                milliseconds: "connect: ERRNO"
//   connect_emulate_guest interrupt PORT MS            a blocking connect that a SIGALRM (no
//                                SA_RESTART) interrupts after MS milliseconds: "connect: ERRNO"
//   connect_emulate_guest race OK BAD N                 N blocking connects to 127.0.0.1:OK from
//                                a buffer a thread flips to port BAD: "reached BAD: K of N
//                                (C connected)"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/support/sockets.h"

namespace {

using hijack::testing::BindLoopback;
using hijack::testing::FlipConnect;
using hijack::testing::FlipCount;
using hijack::testing::Loopback;

// A deadline for the guest's own waits (poll), never reached when the supervisor works.
constexpr int kWaitMs = 30000;

const char* Name(int err) { return err == 0 ? "0" : strerrorname_np(err); }

int Socket(bool nonblock) {
  return socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
}

// After EINPROGRESS: how the connect ended (connect(2)).
int Outcome(int fd) {
  pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
  if (poll(&p, 1, kWaitMs) != 1) {
    return ETIMEDOUT;
  }
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err;
}

int Connect(int port, bool nonblock) {
  const int fd = Socket(nonblock);
  sockaddr_in to = Loopback(port);
  const int rc = connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
  const int err = rc == 0 ? 0 : errno;
  std::printf("connect: %s\n", Name(err));
  if (err == EINPROGRESS) {
    std::printf("so_error: %s\n", Name(Outcome(fd)));
  }
  return 0;
}

int Fail(const char* step) {
  std::printf("failed: %s %s\n", step, Name(errno));
  return 1;
}

int Exchange(bool nonblock) {
  const int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int port = BindLoopback(server);
  if (port < 0 || listen(server, 1) != 0) {
    return Fail("listen");
  }
  sockaddr_in sa = Loopback(port);
  const int client = Socket(nonblock);
  if (connect(client, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (!nonblock || errno != EINPROGRESS) {
      return Fail("connect");
    }
    if (const int err = Outcome(client); err != 0) {
      errno = err;
      return Fail("so_error");
    }
  }
  const int peer = accept4(server, nullptr, nullptr, SOCK_CLOEXEC);
  if (peer < 0) {
    return Fail("accept");
  }
  char buf[4] = {};
  pollfd p{.fd = client, .events = POLLIN, .revents = 0};
  if (write(client, "ping", 4) != 4 || read(peer, buf, 4) != 4 || std::memcmp(buf, "ping", 4) ||
      write(peer, "pong", 4) != 4 || poll(&p, 1, kWaitMs) != 1 || read(client, buf, 4) != 4 ||
      std::memcmp(buf, "pong", 4)) {
    return Fail("exchange");
  }
  std::printf("exchanged: %s\n", nonblock ? "nonblock" : "block");
  return 0;
}

int Blocking(int port, int ms, bool by_signal) {
  const int fd = Socket(false);
  if (by_signal) {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigaction(SIGALRM, &sa, nullptr);  // no SA_RESTART: the interrupted connect returns EINTR
    const itimerval t{.it_interval = {}, .it_value = {.tv_sec = 0, .tv_usec = ms * 1000}};
    setitimer(ITIMER_REAL, &t, nullptr);
  } else {
    const timeval tv{.tv_sec = 0, .tv_usec = ms * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  sockaddr_in to = Loopback(port);
  const int rc = connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
  std::printf("connect: %s\n", Name(rc == 0 ? 0 : errno));
  return 0;
}

int Race(int ok, int bad, int rounds) {
  const FlipCount n = FlipConnect(ok, bad, rounds);
  std::printf("reached BAD: %d of %d (%d connected)\n", n.reached_bad, rounds, n.connected);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "connect" && argc == 4) {
    return Connect(std::atoi(argv[2]), std::string(argv[3]) == "nonblock");
  }
  if (mode == "exchange" && argc == 3) {
    return Exchange(std::string(argv[2]) == "nonblock");
  }
  if ((mode == "timeout" || mode == "interrupt") && argc == 4) {
    return Blocking(std::atoi(argv[2]), std::atoi(argv[3]), mode == "interrupt");
  }
  if (mode == "race" && argc == 5) {
    return Race(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]));
  }
  std::fprintf(stderr, "usage: connect_emulate_guest connect PORT block|nonblock | exchange "
                       "block|nonblock | race OK BAD N\n");
  return 2;
}
