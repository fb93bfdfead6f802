// Races against net_guard's connect rules and a live exec_guard (tests/integration/
// confine2_test.cc): a thread rewrites the address a call names while the supervisor judges it.
//
//   confine2_guest fastopen-race OK BAD N sendto|sendmsg
//       N blocking TCP Fast Open sends (MSG_FASTOPEN, one byte) through one sockaddr buffer that
//       a thread flips between 127.0.0.1:OK and 127.0.0.1:BAD: "reached BAD: K of N (C connected)"
//   confine2_guest fastopen PORT block|nonblock
//       one Fast Open send of "ping" to 127.0.0.1:PORT: "fastopen: RESULT" (the count or the
//       errno name), then for EINPROGRESS the connect's outcome and a write of the data
//   confine2_guest fastopen-mmsg PORT
//       sendmmsg with MSG_FASTOPEN of one message naming 127.0.0.1:PORT: "sendmmsg: RESULT"
//   confine2_guest family-flip unix|netlink|vsock OK PATH N
//       N connects of a socket of that family through one buffer a thread flips between
//       127.0.0.1:OK (an address the policy allows, which the family's kernel code refuses with
//       EINVAL) and an address of the family (the unix listener this guest makes at PATH, the
//       netlink kernel socket, vsock's local cid): "escaped: K of N (connected C)", where an
//       escape is any answer but the policy's errno EDOM and the kernel's answer to an address
//       of another family (EINVAL; vsock: EAFNOSUPPORT): the kernel ran the call with the
//       family's own address
//   confine2_guest fs-flip link|rename DIR N
//       N links (linkat) or renames of a path a thread flips between DIR/work/allowed.txt and
//       DIR/vault/secret (a file that holds "SECRET"), to DIR/work/alias; each link that
//       succeeded is read back through the alias: "escaped: K of N (done D, exdev X)", where an
//       escape is the secret reached through the alias (a rename of the secret out of the vault
//       ends the run); EXDEV is Landlock's answer to a link or rename out of the vault
//   confine2_guest exec-on FIFO PROGRAM OUT
//       waits for a byte on FIFO, then execs PROGRAM ("mark OUT"); on failure writes
//       "exec: ERRNO" to OUT
//   confine2_guest mark OUT
//       writes "ran" to OUT
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "tests/support/sockets.h"

namespace {

using hijack::testing::Loopback;
using hijack::testing::UnixAddress;

// A deadline for the guest's own waits, never reached when the supervisor works.
constexpr int kWaitMs = 30000;

const char* Name(int err) { return err == 0 ? "0" : strerrorname_np(err); }

// One buffer that a thread keeps rewriting between two images of `size` bytes while `body`
// runs: what a supervisor reads from it and what the kernel reads next may differ.
template <typename Body>
void WithFlippingBuffer(const void* good, const void* evil, size_t size, Body body) {
  alignas(sockaddr_storage) char buf[256] = {};
  std::memcpy(buf, good, size);
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      std::memcpy(buf, (i & 1) ? evil : good, size);
    }
  });
  body(reinterpret_cast<sockaddr*>(buf));
  stop.store(true);
  flipper.join();
}

int FastOpenRace(int ok, int bad, int rounds, bool use_sendmsg) {
  const sockaddr_in good = Loopback(ok), evil = Loopback(bad);
  int reached = 0, connected = 0;
  WithFlippingBuffer(&good, &evil, sizeof good, [&](sockaddr* to) {
    for (int i = 0; i < rounds; ++i) {
      const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      char byte = 'x';
      ssize_t n;
      if (use_sendmsg) {
        iovec iov{.iov_base = &byte, .iov_len = 1};
        msghdr msg{};
        msg.msg_name = to;
        msg.msg_namelen = sizeof(sockaddr_in);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        n = sendmsg(s, &msg, MSG_FASTOPEN | MSG_NOSIGNAL);
      } else {
        n = sendto(s, &byte, 1, MSG_FASTOPEN | MSG_NOSIGNAL, to, sizeof(sockaddr_in));
      }
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      if (n >= 0 && getpeername(s, reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
        ++connected;
        reached += ntohs(peer.sin_port) == bad;
      }
      close(s);
    }
  });
  std::printf("reached BAD: %d of %d (%d connected)\n", reached, rounds, connected);
  return 0;
}

int FastOpen(int port, bool nonblock) {
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
  const sockaddr_in to = Loopback(port);
  const ssize_t n = sendto(s, "ping", 4, MSG_FASTOPEN | MSG_NOSIGNAL,
                           reinterpret_cast<const sockaddr*>(&to), sizeof to);
  if (n >= 0) {
    std::printf("fastopen: %zd\n", n);
    return 0;
  }
  const int err = errno;
  std::printf("fastopen: %s\n", Name(err));
  if (err == EINPROGRESS) {
    pollfd p{.fd = s, .events = POLLOUT, .revents = 0};
    int so_error = ETIMEDOUT;
    socklen_t len = sizeof so_error;
    if (poll(&p, 1, kWaitMs) == 1) {
      getsockopt(s, SOL_SOCKET, SO_ERROR, &so_error, &len);
    }
    std::printf("so_error: %s\n", Name(so_error));
    std::printf("write: %zd\n", write(s, "ping", 4));
  }
  return 0;
}

int FastOpenMmsg(int port) {
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in to = Loopback(port);
  char data[] = "ping";
  iovec iov{.iov_base = data, .iov_len = 4};
  mmsghdr m{};
  m.msg_hdr.msg_name = &to;
  m.msg_hdr.msg_namelen = sizeof to;
  m.msg_hdr.msg_iov = &iov;
  m.msg_hdr.msg_iovlen = 1;
  const int n = sendmmsg(s, &m, 1, MSG_FASTOPEN | MSG_NOSIGNAL);
  std::printf("sendmmsg: %s\n", n >= 0 ? std::to_string(n).c_str() : Name(errno));
  return 0;
}

int FamilyFlip(const std::string& family, int ok, const char* path, int rounds) {
  const sockaddr_in good = Loopback(ok);
  sockaddr_storage evil{};
  socklen_t len = sizeof(sockaddr_in);
  int domain = 0, type = SOCK_STREAM, listener = -1;
  if (family == "unix") {
    domain = AF_UNIX;
    const sockaddr_un un = UnixAddress(path);
    std::memcpy(&evil, &un, sizeof un);
    len = sizeof un;
    listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(path);
    if (bind(listener, reinterpret_cast<const sockaddr*>(&un), sizeof un) != 0 ||
        listen(listener, 4096) != 0) {
      std::printf("failed: listen %s\n", Name(errno));
      return 1;
    }
  } else if (family == "netlink") {
    domain = AF_NETLINK;
    type = SOCK_DGRAM;
    sockaddr_nl nl{};
    nl.nl_family = AF_NETLINK;  // nl_pid 0: the kernel
    std::memcpy(&evil, &nl, sizeof nl);
  } else if (family == "vsock") {
    domain = AF_VSOCK;
    sockaddr_vm vm{};
    vm.svm_family = AF_VSOCK;
    vm.svm_cid = VMADDR_CID_LOCAL;
    vm.svm_port = 1;
    std::memcpy(&evil, &vm, sizeof vm);
  } else {
    return 2;
  }
  int escaped = 0, connected = 0;
  WithFlippingBuffer(&good, &evil, len, [&](sockaddr* to) {
    for (int i = 0; i < rounds; ++i) {
      const int s = socket(domain, type | SOCK_CLOEXEC, 0);
      if (s < 0) {
        std::printf("failed: socket %s\n", Name(errno));
        return;
      }
      const int rc = connect(s, to, len);
      const int err = rc == 0 ? 0 : errno;
      connected += rc == 0;
      escaped += err != EDOM && err != EINVAL && !(domain == AF_VSOCK && err == EAFNOSUPPORT);
      close(s);
    }
  });
  std::printf("escaped: %d of %d (connected %d)\n", escaped, rounds, connected);
  return 0;
}

std::string ReadFile(const std::string& path) {
  std::string text;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  char buf[64];
  for (ssize_t n; fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0;) {
    text.append(buf, static_cast<size_t>(n));
  }
  if (fd >= 0) {
    close(fd);
  }
  return text;
}

int FsFlip(const std::string& op, const std::string& dir, int rounds) {
  // Both images as whole NUL-padded buffers, so that every byte the kernel reads is one of them.
  char good[256] = {}, evil[256] = {};
  std::snprintf(good, sizeof good, "%s/work/allowed.txt", dir.c_str());
  std::snprintf(evil, sizeof evil, "%s/vault/secret", dir.c_str());
  const std::string alias = dir + "/work/alias";
  int escaped = 0, done = 0, exdev = 0;
  WithFlippingBuffer(good, evil, sizeof good, [&](sockaddr* buf) {
    const char* from = reinterpret_cast<const char*>(buf);
    for (int i = 0; i < rounds && escaped == 0; ++i) {
      const int rc = op == "link" ? linkat(AT_FDCWD, from, AT_FDCWD, alias.c_str(), 0)
                                  : rename(from, alias.c_str());
      if (rc != 0) {
        exdev += errno == EXDEV;  // Landlock's answer to a link or rename out of the vault
        continue;
      }
      ++done;
      if (ReadFile(alias) == "SECRET") {
        ++escaped;
      } else if (op == "rename") {
        rename(alias.c_str(), good);  // the allowed file goes back where the next round expects it
      }
      if (op == "link") {
        unlink(alias.c_str());
      }
    }
  });
  std::printf("escaped: %d of %d (done %d, exdev %d)\n", escaped, rounds, done, exdev);
  return 0;
}

void WriteFile(const char* path, const std::string& text) {
  const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void)!write(fd, text.data(), text.size());
    close(fd);
  }
}

int ExecOn(const char* fifo, const char* program, const char* out) {
  const int fd = open(fifo, O_RDONLY | O_CLOEXEC);
  char byte;
  if (fd < 0 || read(fd, &byte, 1) != 1) {
    WriteFile(out, std::string("fifo: ") + Name(errno));
    return 1;
  }
  char* const args[] = {const_cast<char*>(program), const_cast<char*>("mark"),
                        const_cast<char*>(out), nullptr};
  execv(program, args);
  WriteFile(out, std::string("exec: ") + Name(errno));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "fastopen-race" && argc == 6) {
    return FastOpenRace(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]),
                        std::string(argv[5]) == "sendmsg");
  }
  if (mode == "fastopen" && argc == 4) {
    return FastOpen(std::atoi(argv[2]), std::string(argv[3]) == "nonblock");
  }
  if (mode == "fastopen-mmsg" && argc == 3) {
    return FastOpenMmsg(std::atoi(argv[2]));
  }
  if (mode == "family-flip" && argc == 6) {
    return FamilyFlip(argv[2], std::atoi(argv[3]), argv[4], std::atoi(argv[5]));
  }
  if (mode == "fs-flip" && argc == 5) {
    return FsFlip(argv[2], argv[3], std::atoi(argv[4]));
  }
  if (mode == "exec-on" && argc == 5) {
    return ExecOn(argv[2], argv[3], argv[4]);
  }
  if (mode == "mark" && argc == 3) {
    WriteFile(argv[2], "ran");
    return 0;
  }
  std::fprintf(stderr,
               "usage: confine2_guest fastopen-race OK BAD N sendto|sendmsg | fastopen PORT "
               "block|nonblock | fastopen-mmsg PORT | family-flip unix|netlink|vsock OK PATH N | "
               "fs-flip link|rename DIR N | exec-on FIFO PROGRAM OUT | mark OUT\n");
  return 2;
}
