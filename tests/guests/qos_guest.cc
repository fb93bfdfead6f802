// The guest of the packet QoS tests (tests/integration/qos_test.cc) and of bench/rt experiment 2:
// UDP receivers and senders that count datagrams per socket.
//
//   qos_guest recv MS GO PEER...     one UDP socket per PEER port, bound to 127.0.0.1:0 and
//                                    connected to 127.0.0.1:PEER; prints "ports P..." (their
//                                    local ports), receives on all of them (a thread each) for a
//                                    window of MS ms and prints "window N1 N2 ..."; unless GO is
//                                    "-", then waits until the file GO exists and prints a
//                                    second window
//   qos_guest send-mix MS PORT_A PORT_B  for MS ms, one thread sends batches of 8 datagrams to
//                                    127.0.0.1:PORT_A with sendmmsg(2), another write(2)s
//                                    datagrams on a UDP socket connected to 127.0.0.1:PORT_B;
//                                    prints "sent A CALLS DATAGRAMS B CALLS DATAGRAMS"
//   qos_guest streams SECONDS PORT...  bench receiver: one socket bound to 127.0.0.1:PORT each,
//                                    prints "ready", receives (recvfrom, a thread each) for
//                                    SECONDS s and prints "stream I received N jitter_us J"
//                                    (RFC 3550 interarrival jitter of the sender's timestamps)
//   qos_guest blast RATE SECONDS PORT...  bench sender: RATE datagrams/s to each 127.0.0.1:PORT
//                                    for SECONDS s, paced every millisecond with sendmmsg(2),
//                                    each datagram stamped with its send time; prints "sent N"
//                                    per port
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

sockaddr_in Loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int UdpSocket() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::perror("socket");
    std::exit(1);
  }
  return fd;
}

void Must(int rc, const char* what) {
  if (rc < 0) {
    std::perror(what);
    std::exit(1);
  }
}

int LocalPort(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  Must(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), "getsockname");
  return ntohs(a.sin_port);
}

// Receives with a short timeout so that the thread sees `stop`.
void SetTimeout(int fd, int ms) {
  timeval tv{.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  Must(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), "SO_RCVTIMEO");
}

bool Exists(const char* path) {
  struct stat st {};
  return stat(path, &st) == 0;
}

int Recv(int ms, const char* go, const std::vector<int>& peers) {
  std::vector<int> fds;
  std::string ports = "ports";
  for (int peer : peers) {
    int fd = UdpSocket();
    sockaddr_in local = Loopback(0);
    Must(bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local), "bind");
    sockaddr_in to = Loopback(peer);
    Must(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), "connect");
    SetTimeout(fd, 20);
    fds.push_back(fd);
    ports += " " + std::to_string(LocalPort(fd));
  }
  std::printf("%s\n", ports.c_str());
  std::fflush(stdout);
  std::atomic<bool> stop{false};
  std::vector<std::atomic<long>> counts(fds.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < fds.size(); ++i) {
    threads.emplace_back([&, i] {
      char buf[2048];
      while (!stop.load()) {
        if (recv(fds[i], buf, sizeof buf, 0) >= 0) {
          counts[i].fetch_add(1);
        }
      }
    });
  }
  auto window = [&] {
    std::vector<long> start;
    for (auto& c : counts) {
      start.push_back(c.load());
    }
    const int64_t end = NowNs() + int64_t{ms} * 1'000'000;
    while (NowNs() < end) {
      usleep(2000);
    }
    std::string line = "window";
    for (size_t i = 0; i < counts.size(); ++i) {
      line += " " + std::to_string(counts[i].load() - start[i]);
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  window();
  if (std::strcmp(go, "-") != 0) {
    while (!Exists(go)) {
      usleep(5000);
    }
    window();
  }
  stop = true;
  for (auto& t : threads) {
    t.join();
  }
  return 0;
}

int SendMix(int ms, int port_a, int port_b) {
  const int64_t end = NowNs() + int64_t{ms} * 1'000'000;
  long calls_a = 0, sent_a = 0, calls_b = 0, sent_b = 0;
  std::thread a([&] {
    int fd = UdpSocket();
    sockaddr_in to = Loopback(port_a);
    char payload[8][32] = {};
    iovec iov[8];
    mmsghdr msgs[8];
    for (int i = 0; i < 8; ++i) {
      iov[i] = {payload[i], sizeof payload[i]};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = &to;
      msgs[i].msg_hdr.msg_namelen = sizeof to;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    while (NowNs() < end) {
      int n = sendmmsg(fd, msgs, 8, 0);
      Must(n, "sendmmsg");
      ++calls_a;
      sent_a += n;
    }
    close(fd);
  });
  std::thread b([&] {
    int fd = UdpSocket();
    sockaddr_in to = Loopback(port_b);
    Must(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to), "connect");
    char payload[32] = {};
    while (NowNs() < end) {
      Must(static_cast<int>(write(fd, payload, sizeof payload)), "write");
      ++calls_b;
      ++sent_b;
    }
    close(fd);
  });
  a.join();
  b.join();
  std::printf("sent A %ld %ld B %ld %ld\n", calls_a, sent_a, calls_b, sent_b);
  return 0;
}

struct Stamp {
  uint64_t seq;
  int64_t sent_ns;
};

int Streams(double seconds, const std::vector<int>& ports) {
  std::vector<int> fds;
  for (int port : ports) {
    int fd = UdpSocket();
    int buf = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);  // capped by net.core.rmem_max
    sockaddr_in local = Loopback(port);
    Must(bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local), "bind");
    SetTimeout(fd, 50);
    fds.push_back(fd);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  const int64_t end = NowNs() + static_cast<int64_t>(seconds * 1e9);
  std::vector<long> counts(fds.size());
  std::vector<double> jitter(fds.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < fds.size(); ++i) {
    threads.emplace_back([&, i] {
      char buf[2048];
      bool first = true;
      double last_transit = 0;
      while (NowNs() < end) {
        ssize_t n = recvfrom(fds[i], buf, sizeof buf, 0, nullptr, nullptr);
        if (n < static_cast<ssize_t>(sizeof(Stamp))) {
          continue;
        }
        Stamp s;
        std::memcpy(&s, buf, sizeof s);
        const double transit = static_cast<double>(NowNs() - s.sent_ns);
        if (!first) {
          // RFC 3550, 6.4.1: J += (|D| - J) / 16.
          jitter[i] += (std::fabs(transit - last_transit) - jitter[i]) / 16;
        }
        first = false;
        last_transit = transit;
        ++counts[i];
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    std::printf("stream %zu received %ld jitter_us %.1f\n", i, counts[i], jitter[i] / 1e3);
  }
  return 0;
}

int Blast(double rate, double seconds, const std::vector<int>& ports) {
  int fd = UdpSocket();
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  std::vector<sockaddr_in> to;
  for (int port : ports) {
    to.push_back(Loopback(port));
  }
  constexpr int kBatch = 256;
  std::vector<Stamp> stamps(kBatch);
  std::vector<iovec> iov(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<long> sent(ports.size());
  const int64_t start = NowNs();
  const auto total = static_cast<long>(rate * seconds);
  uint64_t seq = 0;
  while (true) {
    const int64_t now = NowNs();
    const long due = std::min(total, static_cast<long>(rate * static_cast<double>(now - start) / 1e9));
    bool done = true;
    for (size_t p = 0; p < ports.size(); ++p) {
      long want = due - sent[p];
      done = done && sent[p] >= total;
      while (want > 0) {
        const int n = static_cast<int>(std::min<long>(want, kBatch));
        for (int i = 0; i < n; ++i) {
          stamps[i] = {seq++, now};
          iov[i] = {&stamps[i], sizeof(Stamp)};
          msgs[i] = {};
          msgs[i].msg_hdr.msg_name = &to[p];
          msgs[i].msg_hdr.msg_namelen = sizeof to[p];
          msgs[i].msg_hdr.msg_iov = &iov[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int got = sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
        if (got <= 0) {
          break;  // a full send buffer: the datagrams are lost, as on a congested link
        }
        sent[p] += got;
        want -= got;
      }
    }
    if (done) {
      break;
    }
    // The next millisecond's datagrams.
    timespec next{.tv_sec = 0, .tv_nsec = 1'000'000 - (NowNs() - now) % 1'000'000};
    nanosleep(&next, nullptr);
  }
  for (size_t p = 0; p < ports.size(); ++p) {
    std::printf("sent %ld\n", sent[p]);
  }
  return 0;
}

std::vector<int> Ports(int argc, char** argv, int from) {
  std::vector<int> out;
  for (int i = from; i < argc; ++i) {
    out.push_back(std::atoi(argv[i]));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "recv" && argc >= 5) {
    return Recv(std::atoi(argv[2]), argv[3], Ports(argc, argv, 4));
  }
  if (mode == "send-mix" && argc == 5) {
    return SendMix(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]));
  }
  if (mode == "streams" && argc >= 4) {
    return Streams(std::atof(argv[2]), Ports(argc, argv, 3));
  }
  if (mode == "blast" && argc >= 5) {
    return Blast(std::atof(argv[2]), std::atof(argv[3]), Ports(argc, argv, 4));
  }
  std::fprintf(stderr, "usage: see the comment at the top of qos_guest.cc\n");
  return 2;
}
