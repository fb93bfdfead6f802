// A guest for the network-hole tests (tests/integration/net_holes_test.cc): each mode is one way
// a program reaches the network past rules that judge only connect(2), bind(2) and the address
// of a send, made on real loopback sockets. Every call's result is printed as "LABEL: ok" or
// "LABEL: ERRNO", so the test reads decisions from stdout; the servers are the test's own.
//
//   net_holes_guest fastopen-sendto PORT    MSG_FASTOPEN sendto to 127.0.0.1:PORT (TCP)
//   net_holes_guest fastopen-sendmsg PORT   the same with sendmsg and msg_name
//   net_holes_guest fastopen-connect PORT   TCP_FASTOPEN_CONNECT, connect, then write
//   net_holes_guest connect tcp|udp PORT    connect to 127.0.0.1:PORT
//   net_holes_guest sendto-udp PORT         sendto 127.0.0.1:PORT from an unconnected socket
//   net_holes_guest bind tcp|udp PORT       bind 127.0.0.1:PORT (0: ephemeral)
//   net_holes_guest listen-unbound          listen on a TCP socket that was never bound
//   net_holes_guest listen-bound            bind 127.0.0.1:0, then listen
//   net_holes_guest udp-sends PORT          a UDP socket connected to 127.0.0.1:PORT sends one
//                                           datagram by each call: write, send, writev,
//                                           sendmsg, sendmmsg (2 messages), pwritev2, sendfile,
//                                           splice
//   net_holes_guest tcp-sends PORT OTHER    a TCP socket connected to PORT: write, send, and
//                                           sendto naming 127.0.0.1:OTHER (which TCP ignores)
//   net_holes_guest aio-sends PORT          a UDP socket connected to 127.0.0.1:PORT sends by
//                                           io_submit(IOCB_CMD_PWRITE, offset 0)
//   net_holes_guest unix-sends PATH         a unix datagram socket connected to PATH: write
//   net_holes_guest file-writes             write to a pipe and to /dev/null (not sockets)
//   net_holes_guest mmsg-budget             its own UDP receiver on 127.0.0.1:0; a sender
//                                           connected to it: sendmmsg(3), sendmmsg(3), write,
//                                           send, write; then prints how many datagrams arrived
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/support/guest_output.h"
#include "tests/support/sockets.h"

namespace {

using hijack::testing::BindLoopback;
using hijack::testing::ErrName;
using hijack::testing::Loopback;
using hijack::testing::Step;
using hijack::testing::UnixAddress;

int Socket(const std::string& kind) {
  const bool udp = kind == "udp";
  int fd = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::perror("socket");
    std::exit(2);
  }
  return fd;
}

char kData[] = "net-holes";

int FastOpen(const std::string& how, int port) {
  int fd = Socket("tcp");
  sockaddr_in to = Loopback(port);
  long rc;
  if (how == "sendto") {
    rc = sendto(fd, kData, sizeof kData, MSG_FASTOPEN, reinterpret_cast<sockaddr*>(&to), sizeof to);
    Step("fastopen-sendto", rc);
  } else if (how == "sendmsg") {
    iovec iov{kData, sizeof kData};
    msghdr msg{};
    msg.msg_name = &to;
    msg.msg_namelen = sizeof to;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    rc = sendmsg(fd, &msg, MSG_FASTOPEN);
    Step("fastopen-sendmsg", rc);
  } else {
    int one = 1;
    Step("setsockopt", setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof one));
    Step("connect", connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to));
    Step("write", write(fd, kData, sizeof kData));
  }
  close(fd);
  return 0;
}

int UdpSends(int port) {
  int fd = Socket("udp");
  sockaddr_in to = Loopback(port);
  Step("connect", connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to));
  Step("write", write(fd, kData, sizeof kData));
  Step("send", send(fd, kData, sizeof kData, 0));
  iovec iov{kData, sizeof kData};
  Step("writev", writev(fd, &iov, 1));
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  Step("sendmsg", sendmsg(fd, &msg, 0));
  mmsghdr msgs[2]{};
  for (auto& m : msgs) {
    m.msg_hdr.msg_iov = &iov;
    m.msg_hdr.msg_iovlen = 1;
  }
  Step("sendmmsg", sendmmsg(fd, msgs, 2, 0));
  // pwritev2 with offset -1 is writev (preadv2(2)); glibc's wrapper may choose writev itself, so
  // make the call raw.
  Step("pwritev2", syscall(SYS_pwritev2, fd, &iov, 1, -1L, -1L, 0));
  int mem = memfd_create("net-holes", MFD_CLOEXEC);
  if (mem < 0 || write(mem, kData, sizeof kData) != sizeof kData) {
    std::perror("memfd");
    return 2;
  }
  off_t at = 0;
  Step("sendfile", sendfile(fd, mem, &at, sizeof kData));
  int pipes[2];
  if (pipe2(pipes, O_CLOEXEC) != 0 || write(pipes[1], kData, sizeof kData) != sizeof kData) {
    std::perror("pipe");
    return 2;
  }
  Step("splice", splice(pipes[0], nullptr, fd, nullptr, sizeof kData, 0));
  return 0;
}

int TcpSends(int port, int other) {
  int fd = Socket("tcp");
  sockaddr_in to = Loopback(port);
  Step("connect", connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to));
  Step("write", write(fd, kData, sizeof kData));
  Step("send", send(fd, kData, sizeof kData, MSG_NOSIGNAL));
  sockaddr_in decoy = Loopback(other);
  Step("sendto-other", sendto(fd, kData, sizeof kData, MSG_NOSIGNAL,
                               reinterpret_cast<sockaddr*>(&decoy), sizeof decoy));
  return 0;
}

int AioSends(int port) {
  int fd = Socket("udp");
  sockaddr_in to = Loopback(port);
  Step("connect", connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to));
  aio_context_t ctx = 0;
  if (syscall(SYS_io_setup, 1, &ctx) != 0) {
    std::perror("io_setup");
    return 2;
  }
  iocb cb{};
  cb.aio_lio_opcode = IOCB_CMD_PWRITE;
  cb.aio_fildes = static_cast<uint32_t>(fd);
  cb.aio_buf = reinterpret_cast<uint64_t>(kData);
  cb.aio_nbytes = sizeof kData;
  cb.aio_offset = 0;  // a socket has no position: 0 is the only offset it takes
  iocb* list[] = {&cb};
  long rc = syscall(SYS_io_submit, ctx, 1, list);
  Step("io_submit", rc);
  if (rc == 1) {
    io_event ev{};
    long n = syscall(SYS_io_getevents, ctx, 1, 1, &ev, nullptr);
    std::printf("aio-result: %lld\n", n == 1 ? static_cast<long long>(ev.res) : -1LL);
  }
  return 0;
}

int UnixSends(const char* path) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un to = UnixAddress(path);
  Step("connect", connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to));
  Step("write", write(fd, kData, sizeof kData));
  return 0;
}

int FileWrites() {
  int pipes[2];
  if (pipe2(pipes, O_CLOEXEC) != 0) {
    std::perror("pipe");
    return 2;
  }
  Step("pipe-write", write(pipes[1], kData, sizeof kData));
  char back[sizeof kData] = {};
  long got = read(pipes[0], back, sizeof back);
  std::printf("pipe-read: %s\n", got == sizeof kData && std::memcmp(back, kData, sizeof kData) == 0
                                     ? "same"
                                     : "different");
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  Step("null-write", write(null, kData, sizeof kData));
  return 0;
}

// The guest checks its own results: the datagrams that arrived are the ones the calls said sent.
int MmsgBudget() {
  int rx = Socket("udp");
  const int port = BindLoopback(rx);
  if (port < 0) {
    std::perror("receiver");
    return 2;
  }
  sockaddr_in any = Loopback(port);
  int fd = Socket("udp");
  Step("connect", connect(fd, reinterpret_cast<sockaddr*>(&any), sizeof any));
  iovec iov{kData, sizeof kData};
  mmsghdr msgs[3]{};
  for (auto& m : msgs) {
    m.msg_hdr.msg_iov = &iov;
    m.msg_hdr.msg_iovlen = 1;
  }
  int sent = 0;
  auto count = [&](const char* label, long rc, int datagrams) {
    Step(label, rc);
    sent += rc >= 0 ? datagrams : 0;
  };
  long rc = sendmmsg(fd, msgs, 3, 0);
  count("sendmmsg-1", rc, static_cast<int>(rc));
  rc = sendmmsg(fd, msgs, 3, 0);
  count("sendmmsg-2", rc, static_cast<int>(rc));
  count("write-1", write(fd, kData, sizeof kData), 1);
  count("send", send(fd, kData, sizeof kData, 0), 1);
  count("write-2", write(fd, kData, sizeof kData), 1);
  int received = 0;
  char buf[64];
  while (recv(rx, buf, sizeof buf, MSG_DONTWAIT) >= 0) {
    ++received;
  }
  std::printf("sent %d, received %d: %s\n", sent, received, sent == received ? "same" : "differ");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: net_holes_guest MODE ARGS...\n");
    return 2;
  }
  // A write on a socket whose connect was denied fails with EPIPE: print it, do not die of it.
  signal(SIGPIPE, SIG_IGN);
  const std::string mode = argv[1];
  auto arg = [&](int i) -> std::string {
    if (argc <= i) {
      std::fprintf(stderr, "net_holes_guest %s: missing argument %d\n", argv[1], i - 1);
      std::exit(2);
    }
    return argv[i];
  };
  if (mode == "fastopen-sendto" || mode == "fastopen-sendmsg" || mode == "fastopen-connect") {
    return FastOpen(mode.substr(9), std::stoi(arg(2)));
  }
  if (mode == "connect" || mode == "bind") {
    int fd = Socket(arg(2));
    sockaddr_in a = Loopback(std::stoi(arg(3)));
    Step(mode.c_str(), mode == "connect" ? connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a)
                                          : bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a));
    return 0;
  }
  if (mode == "sendto-udp") {
    int fd = Socket("udp");
    sockaddr_in a = Loopback(std::stoi(arg(2)));
    Step("sendto", sendto(fd, kData, sizeof kData, 0, reinterpret_cast<sockaddr*>(&a), sizeof a));
    return 0;
  }
  if (mode == "listen-unbound" || mode == "listen-bound") {
    int fd = Socket("tcp");
    if (mode == "listen-bound") {
      sockaddr_in a = Loopback(0);
      Step("bind", bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a));
    }
    Step("listen", listen(fd, 1));
    sockaddr_in local{};
    socklen_t len = sizeof local;
    getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &local.sin_addr, text, sizeof text);
    std::printf("local: %s:%d\n", text, ntohs(local.sin_port));
    return 0;
  }
  if (mode == "udp-sends") {
    return UdpSends(std::stoi(arg(2)));
  }
  if (mode == "tcp-sends") {
    return TcpSends(std::stoi(arg(2)), std::stoi(arg(3)));
  }
  if (mode == "aio-sends") {
    return AioSends(std::stoi(arg(2)));
  }
  if (mode == "unix-sends") {
    return UnixSends(arg(2).c_str());
  }
  if (mode == "file-writes") {
    return FileWrites();
  }
  if (mode == "mmsg-budget") {
    return MmsgBudget();
  }
  std::fprintf(stderr, "net_holes_guest: unknown mode %s\n", mode.c_str());
  return 2;
}
