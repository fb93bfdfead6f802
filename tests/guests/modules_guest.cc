// A guest for the policy-module tests: each mode makes a known sequence of calls and prints one
// line per result, so tests can read decisions from stdout.
//
//   modules_guest open PATH MODE          MODE r, w, rw, c (O_CREAT|O_WRONLY), x (O_CREAT|O_EXCL)
//   modules_guest open-loop PATH N        N opens; prints ". " per success, "x" per failure
//   modules_guest fs-ops DIR              create, mkdir, rename, unlink, rmdir under DIR
//   modules_guest exec PATH [ARG...]      execv PATH; prints the errno if it fails
//   modules_guest net FAMILY OP ADDR PORT FAMILY inet|inet6, OP connect|bind|sendto (UDP)
//   modules_guest unix-connect PATH       connect a unix stream socket to PATH
//   modules_guest getppid N               N getppid calls; prints ok/failed counts and the errno
//   modules_guest read-sizes PATH         read PATH with a 64-byte buffer; prints each count
//   modules_guest udp-streams MS PORT...  one thread per port sends UDP datagrams to
//                                         127.0.0.1:PORT for MS milliseconds; prints counts
//   modules_guest path-race DIR N         one thread swaps DIR/target between DIR/allowed and
//                                         DIR/secret; another opens DIR/target N times and
//                                         prints how often it read each file or was denied
//   modules_guest paced-writes N KIND [GO] N calls to /dev/null, KIND write-only or alternate
//                                         (write and writev), once the file GO exists; prints
//                                         the time they took
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/guest_output.h"
#include "tests/support/sockets.h"

namespace {

using hijack::testing::ErrName;
using hijack::testing::UnixAddress;

const char* Result(int rc) { return rc >= 0 ? "ok" : ErrName(errno); }

int Open(const char* path, const std::string& mode) {
  int flags = O_CLOEXEC;
  if (mode == "r") {
    flags |= O_RDONLY;
  } else if (mode == "w") {
    flags |= O_WRONLY;
  } else if (mode == "rw") {
    flags |= O_RDWR;
  } else if (mode == "c") {
    flags |= O_WRONLY | O_CREAT;
  } else if (mode == "x") {
    flags |= O_WRONLY | O_CREAT | O_EXCL;
  }
  int fd = open(path, flags, 0640);
  std::printf("open: %s\n", Result(fd));
  if (fd >= 0 && (mode == "r" || mode == "rw")) {
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    std::printf("content: %s\n", buf);
  }
  if (fd >= 0 && (mode == "c" || mode == "x")) {
    struct stat st {};
    fstat(fd, &st);
    std::printf("mode: %o\n", st.st_mode & 07777);
  }
  return fd >= 0 ? 0 : 1;
}

int OpenLoop(const char* path, int n) {
  std::string marks;
  for (int i = 0; i < n; ++i) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    marks += fd >= 0 ? '.' : 'x';
    if (fd >= 0) {
      close(fd);
    }
  }
  std::printf("open-loop: %s\n", marks.c_str());
  return 0;
}

int FsOps(const std::string& dir) {
  std::string f = dir + "/created.txt", d = dir + "/subdir", g = dir + "/renamed.txt";
  int fd = open(f.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  std::printf("create: %s\n", Result(fd));
  if (fd >= 0) {
    close(fd);
  }
  std::printf("mkdir: %s\n", Result(mkdir(d.c_str(), 0755)));
  std::printf("rename: %s\n", Result(rename(f.c_str(), g.c_str())));
  std::printf("unlink: %s\n", Result(unlink(g.c_str())));
  std::printf("rmdir: %s\n", Result(rmdir(d.c_str())));
  return 0;
}

int Net(const std::string& family, const std::string& op, const char* addr, int port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int af = family == "inet6" ? AF_INET6 : AF_INET;
  if (af == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, addr, &sin->sin_addr);
    len = sizeof *sin;
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, addr, &sin6->sin6_addr);
    len = sizeof *sin6;
  }
  int s = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int rc = -1;
  if (op == "connect") {
    rc = connect(s, reinterpret_cast<sockaddr*>(&ss), len);
  } else if (op == "bind") {
    rc = bind(s, reinterpret_cast<sockaddr*>(&ss), len);
  } else if (op == "sendto") {
    rc = static_cast<int>(sendto(s, "x", 1, 0, reinterpret_cast<sockaddr*>(&ss), len));
  } else if (op == "sendmsg") {
    iovec iov{const_cast<char*>("x"), 1};
    msghdr msg{};
    msg.msg_name = &ss;
    msg.msg_namelen = len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    rc = static_cast<int>(sendmsg(s, &msg, 0));
  }
  std::printf("%s: %s\n", op.c_str(), Result(rc));
  return 0;
}

int UnixConnect(const char* path) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sun = UnixAddress(path);
  std::printf("connect: %s\n", Result(connect(s, reinterpret_cast<sockaddr*>(&sun), sizeof sun)));
  return 0;
}

int Getppid(int n) {
  int ok = 0, failed = 0, err = 0;
  for (int i = 0; i < n; ++i) {
    if (syscall(SYS_getppid) >= 0) {
      ++ok;
    } else {
      ++failed;
      err = errno;
    }
  }
  std::printf("getppid: ok=%d failed=%d errno=%s\n", ok, failed, failed ? ErrName(err) : "-");
  return 0;
}

int ReadSizes(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::printf("open: %s\n", ErrName(errno));
    return 1;
  }
  std::string sizes;
  char buf[64];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) {
    sizes += (sizes.empty() ? "" : ",") + std::to_string(n);
  }
  std::printf("reads: %s\n", sizes.c_str());
  return 0;
}

int UdpStreams(int ms, const std::vector<int>& ports) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  std::vector<long> sent(ports.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ports.size(); ++i) {
    threads.emplace_back([&, i] {
      int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(static_cast<uint16_t>(ports[i]));
      to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      char payload[32];
      std::snprintf(payload, sizeof payload, "stream %zu", i);
      while (std::chrono::steady_clock::now() < end) {
        if (sendto(s, payload, std::strlen(payload), 0, reinterpret_cast<sockaddr*>(&to),
                   sizeof to) > 0) {
          ++sent[i];
        }
      }
      close(s);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (size_t i = 0; i < ports.size(); ++i) {
    std::printf("stream %zu: sent %ld\n", i, sent[i]);
  }
  return 0;
}

int PathRace(const std::string& dir, int n) {
  const std::string target = dir + "/target", tmp_a = dir + "/.a", tmp_s = dir + "/.s";
  symlink("allowed", tmp_a.c_str());
  symlink("secret", tmp_s.c_str());
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    // Atomically re-point DIR/target, as an attacker thread would.
    for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      const std::string& src = (i % 2) ? tmp_a : tmp_s;
      link(src.c_str(), (src + ".new").c_str());
      rename((src + ".new").c_str(), target.c_str());
    }
  });
  int allowed = 0, secret = 0, denied = 0, other = 0;
  std::string other_errors;
  for (int i = 0; i < n; ++i) {
    int fd = open(target.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == EACCES) {
        ++denied;
      } else {
        if (++other <= 8) {
          other_errors += std::string(" ") + ErrName(errno);
        }
      }
      continue;
    }
    char buf[32] = {};
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got > 0 && std::strncmp(buf, "SECRET", 6) == 0) {
      ++secret;
    } else if (got > 0 && std::strncmp(buf, "allowed", 7) == 0) {
      ++allowed;
    } else {
      ++other;
    }
  }
  stop = true;
  swapper.join();
  std::printf("path-race: allowed=%d secret=%d denied=%d other=%d%s\n", allowed, secret, denied,
              other, other_errors.c_str());
  return 0;
}

// Waits until `go_file` exists (none: starts at once), then makes `n` calls to /dev/null through
// libc, alternating write() and writev() when `alternate`, and prints how long they took.
int PacedWrites(int n, bool alternate, const char* go_file) {
  if (go_file != nullptr) {
    struct stat st;
    while (stat(go_file, &st) != 0) {
      usleep(2000);
    }
  }
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    std::printf("paced-writes: open: %s\n", ErrName(errno));
    return 1;
  }
  char byte = 'x';
  iovec iov{&byte, 1};
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    ssize_t w = alternate && i % 2 == 1 ? writev(fd, &iov, 1) : write(fd, &byte, 1);
    if (w != 1) {
      std::printf("paced-writes: call %d: %s\n", i, ErrName(errno));
      return 1;
    }
  }
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  close(fd);
  std::printf("paced-writes: %d calls in %lld ns\n", n, static_cast<long long>(ns));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "open" && argc == 4) {
    return Open(argv[2], argv[3]);
  }
  if (mode == "open-loop" && argc == 4) {
    return OpenLoop(argv[2], std::atoi(argv[3]));
  }
  if (mode == "fs-ops" && argc == 3) {
    return FsOps(argv[2]);
  }
  if (mode == "exec" && argc >= 3) {
    execv(argv[2], argv + 2);
    std::printf("exec: %s\n", ErrName(errno));
    return 1;
  }
  if (mode == "net" && argc == 6) {
    return Net(argv[2], argv[3], argv[4], std::atoi(argv[5]));
  }
  if (mode == "unix-connect" && argc == 3) {
    return UnixConnect(argv[2]);
  }
  if (mode == "getppid" && argc == 3) {
    return Getppid(std::atoi(argv[2]));
  }
  if (mode == "read-sizes" && argc == 3) {
    return ReadSizes(argv[2]);
  }
  if (mode == "udp-streams" && argc >= 4) {
    std::vector<int> ports;
    for (int i = 3; i < argc; ++i) {
      ports.push_back(std::atoi(argv[i]));
    }
    return UdpStreams(std::atoi(argv[2]), ports);
  }
  if (mode == "paced-writes" && (argc == 4 || argc == 5)) {
    return PacedWrites(std::atoi(argv[2]), std::string(argv[3]) == "alternate",
                       argc == 5 ? argv[4] : nullptr);
  }
  if (mode == "path-race" && argc == 4) {
    return PathRace(argv[2], std::atoi(argv[3]));
  }
  std::fprintf(stderr, "usage: see the comment at the top of modules_guest.cc\n");
  return 2;
}
