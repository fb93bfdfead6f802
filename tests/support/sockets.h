// Sockets for the tests and their guests (tests/guests/*, which include this header and nothing
// else of the project): a 127.0.0.1 or unix address, a socket bound to a port the kernel picks,
// the race of a guest that flips connect(2)'s address while the supervisor reads it, and a read
// of a socket (or any descriptor) to its end.
//
//   const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
//   const int port = BindLoopback(fd);            // -1: errno says why
//   listen(fd, 16);
//   const FlipCount n = FlipConnect(ok_port, port, 200);
//
// Port 0 everywhere: the kernel chooses, so parallel tests never collide.
// Threads: FlipConnect runs one thread of its own for its duration; the rest are plain calls.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

namespace hijack::testing {

// Everything `fd` gives until end of file (or until a read fails: what came before is kept).
inline std::string ReadToEnd(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// 127.0.0.1:port (0: any port, at bind(2)).
inline sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// The unix socket address of `path` (a longer path is cut at sun_path's 108 bytes).
inline sockaddr_un UnixAddress(const char* path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
  return a;
}

// Binds `fd` to 127.0.0.1 on a port the kernel picks and returns that port (getsockname(2)), or
// -1 with errno set by the call that failed.
inline int BindLoopback(int fd) {
  sockaddr_in a = Loopback(0);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    return -1;
  }
  return ntohs(a.sin_port);
}

struct FlipCount {
  int reached_bad = 0;  // connections whose peer is the `bad` port
  int connected = 0;    // connections made at all
};

// Connects `rounds` TCP sockets, one after the other, through one sockaddr buffer that another
// thread keeps flipping between 127.0.0.1:ok and 127.0.0.1:bad. A supervisor that reads the
// address from guest memory and lets the kernel read it again (a time-of-check/time-of-use gap)
// lets some connections reach `bad` although it only ever saw `ok`.
inline FlipCount FlipConnect(int ok, int bad, int rounds) {
  FlipCount n;
  const sockaddr_in good = Loopback(ok), evil = Loopback(bad);
  alignas(sockaddr_in) char buf[sizeof(sockaddr_in)];
  std::memcpy(buf, &good, sizeof good);
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      std::memcpy(buf, (i & 1) ? &evil : &good, sizeof good);
    }
  });
  for (int i = 0; i < rounds; ++i) {
    const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(s, reinterpret_cast<sockaddr*>(buf), sizeof good) == 0) {
      ++n.connected;
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      if (getpeername(s, reinterpret_cast<sockaddr*>(&peer), &len) == 0 &&
          ntohs(peer.sin_port) == bad) {
        ++n.reached_bad;
      }
    }
    close(s);
  }
  stop.store(true);
  flipper.join();
  return n;
}

}  // namespace hijack::testing
