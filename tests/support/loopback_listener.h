// A TCP socket on 127.0.0.1 at a port the kernel picks, for the tests that let a guest connect
// to it: listening (connects complete in its backlog without an accept, and are counted
// afterwards) or only bound (connects to its port are refused, and no other program can take the
// port meanwhile).
//
//   LoopbackListener allowed;                 // listening
//   LoopbackListener closed(/*listening=*/false);
//   RunGuest({"connect", allowed.Port()});
//   EXPECT_EQ(allowed.Accepted(), 1);
//
// Port 0: parallel tests never collide. Failures are gtest failures of the test that made it.
// Threads: one test thread; the guest is another process.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/sockets.h"

namespace hijack::testing {

class LoopbackListener {
 public:
  explicit LoopbackListener(bool listening = true)
      : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)),
        port_(BindLoopback(fd_)) {
    if (port_ < 0 || (listening && listen(fd_, 4096) != 0)) {
      ADD_FAILURE() << "loopback socket: " << strerror(errno);
    }
  }
  ~LoopbackListener() { close(fd_); }
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  int fd() const { return fd_; }
  int port() const { return port_; }
  std::string Port() const { return std::to_string(port_); }

  // The connections that reached the listener, accepted until its queue is empty, and (with
  // `data`) what each sent before it closed.
  int Accepted(std::string* data = nullptr) const {
    int n = 0;
    for (int c; (c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0; ++n) {
      char buf[64];
      for (ssize_t got; data != nullptr && (got = read(c, buf, sizeof buf)) > 0;) {
        data->append(buf, static_cast<size_t>(got));
      }
      close(c);
    }
    EXPECT_EQ(errno, EAGAIN) << "accept: " << strerror(errno);
    return n;
  }

 private:
  int fd_;
  int port_;
};

}  // namespace hijack::testing
