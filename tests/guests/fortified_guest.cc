// A guest built with -D_FORTIFY_SOURCE=2 -O2, as Debian builds its packages, for the agent's
// tests (tests/integration/agent_test.cc). Sizes come from the command line, so the compiler
// knows each buffer's size but not the request's, and glibc's checked entry points are called
// (__read_chk, __pread_chk, __pread64_chk, __recv_chk, __recvfrom_chk, __poll_chk, __open_2)
// instead of read(), pread(), ... Prints one line on success.
//
//   fortified_guest reads N SIZE      N read(2)s of SIZE bytes from /dev/zero
//   fortified_guest calls N SIZE      N of each: open (flags unknown to the compiler, no mode),
//                                     read, pread, pread64 of /dev/zero; recv and recvfrom on a
//                                     datagram socketpair (each after one send); poll of SIZE / 32
//                                     fds (at most 2)
//   fortified_guest overflow CALL N   CALL (read, pread, pread64, recv, recvfrom: N bytes into 64;
//                                     poll: N entries of an array of 2); N too large: glibc aborts
//   fortified_guest open-creat        open with O_CREAT (unknown to the compiler) and no mode:
//                                     glibc aborts
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

constexpr size_t kBufferSize = 64;

int Reads(int n, size_t size) {
  char buf[kBufferSize];
  int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  for (int i = 0; i < n; ++i) {
    if (read(fd, buf, size) != static_cast<ssize_t>(size)) {
      return 1;
    }
  }
  std::printf("reads: %d\n", n);
  return 0;
}

int Calls(int n, size_t size, int open_flags) {
  char buf[kBufferSize];
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return 1;
  }
  for (int i = 0; i < n; ++i) {
    int fd = open("/dev/zero", open_flags);  // __open_2: flags unknown, no mode
    if (fd < 0 || read(fd, buf, size) != static_cast<ssize_t>(size) ||
        pread(fd, buf, size, 0) != static_cast<ssize_t>(size) ||
        pread64(fd, buf, size, 0) != static_cast<ssize_t>(size)) {
      return 2;
    }
    close(fd);
    if (send(sv[0], "a", 1, 0) != 1 || recv(sv[1], buf, size, 0) != 1) {
      return 3;
    }
    sockaddr_storage from;
    socklen_t len = sizeof from;
    if (send(sv[0], "b", 1, 0) != 1 ||
        recvfrom(sv[1], buf, size, 0, reinterpret_cast<sockaddr*>(&from), &len) != 1) {
      return 4;
    }
    pollfd fds[2] = {{sv[0], POLLOUT, 0}, {sv[1], POLLIN, 0}};
    if (poll(fds, static_cast<nfds_t>(size / 32), 0) < 1) {
      return 5;
    }
  }
  std::printf("calls: %d\n", n);
  return 0;
}

int Overflow(const std::string& call, size_t size) {
  char buf[kBufferSize];
  int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return 1;
  }
  (void)!send(sv[0], "a", 1, 0);
  if (call == "read") {
    (void)!read(fd, buf, size);
  } else if (call == "pread") {
    (void)!pread(fd, buf, size, 0);
  } else if (call == "pread64") {
    (void)!pread64(fd, buf, size, 0);
  } else if (call == "recv") {
    (void)!recv(sv[1], buf, size, 0);
  } else if (call == "recvfrom") {
    (void)!recvfrom(sv[1], buf, size, 0, nullptr, nullptr);
  } else if (call == "poll") {
    pollfd fds[2] = {{fd, POLLIN, 0}, {sv[1], POLLIN, 0}};
    (void)!poll(fds, static_cast<nfds_t>(size), 0);
  } else {
    return 2;
  }
  std::printf("%s: not caught\n", call.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    return 2;
  }
  const std::string mode = argv[1];
  auto arg = [&](int i) { return argc > i ? std::atoi(argv[i]) : 0; };
  if (mode == "reads") {
    return Reads(arg(2), static_cast<size_t>(arg(3)));
  }
  if (mode == "calls") {
    // O_RDONLY through a value the compiler cannot see (argc is at least 4 here).
    return Calls(arg(2), static_cast<size_t>(arg(3)), (argc - 4) | O_CLOEXEC);
  }
  if (mode == "overflow" && argc > 3) {
    return Overflow(argv[2], static_cast<size_t>(arg(3)));
  }
  if (mode == "open-creat") {
    std::fflush(stdout);
    int fd = open("/dev/null", (argc - 2) | O_WRONLY | O_CREAT);  // no mode
    std::printf("open-creat: not caught (%d)\n", fd);
    return 0;
  }
  return 2;
}
