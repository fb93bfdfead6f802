// A guest for the second transparency suite (tests/integration/transparency2_test.cc): what a
// program sees of thread cancellation and of its own environment and descriptors, printed so
// that the same run natively and under hijackd can be compared line by line.
//
//   transparency2_guest cancel CALL...
//       for each CALL (read, write, readv, poll, nanosleep, clock_nanosleep, accept, recv,
//       recvmsg, epoll_wait, open): start a thread that blocks in CALL, wait until the
//       kernel shows it blocked in that system call (/proc/self/task/TID/syscall), cancel it
//       and join it within 10 s; print whether it was cancelled and whether its cleanup handler
//       and the destructor of an object on its stack ran
//   transparency2_guest self-cancel
//       the process's only thread cancels itself and then reads: the read is a cancellation
//       point and acts
//   transparency2_guest visible [CMD ARGS...]
//       print getenv of LD_PRELOAD, environ, /proc/self/environ and the open descriptors
//       (number and target; pipes and sockets without their inode); then exec CMD with the
//       environment unchanged, if given
//   transparency2_guest raw-exec CMD ARGS...
//       exec CMD with the environment unchanged through a raw execve(2), past every wrapper
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "tests/support/sockets.h"

extern char** environ;

namespace {

struct Blocker {
  std::string call;
  int fd = -1;    // what the call waits on
  int peer = -1;  // the other end, kept open so the call blocks
  long nr = 0;    // the system call the kernel must show
  std::string path;
  pid_t tid = 0;
  bool cleanup = false;
  bool destructor = false;
};

struct Witness {
  Blocker* b;
  ~Witness() { b->destructor = true; }
};

void Cleanup(void* arg) { static_cast<Blocker*>(arg)->cleanup = true; }

void* Block(void* arg) {
  auto* b = static_cast<Blocker*>(arg);
  b->tid = static_cast<pid_t>(syscall(SYS_gettid));
  Witness witness{b};
  pthread_cleanup_push(Cleanup, b);
  char buf[64];
  if (b->call == "read") {
    (void)!read(b->fd, buf, sizeof buf);
  } else if (b->call == "write") {
    (void)!write(b->fd, buf, sizeof buf);
  } else if (b->call == "readv") {
    iovec iov{buf, sizeof buf};
    (void)!readv(b->fd, &iov, 1);
  } else if (b->call == "poll") {
    pollfd p{b->fd, POLLIN, 0};
    poll(&p, 1, -1);
  } else if (b->call == "nanosleep") {
    timespec ts{3600, 0};
    nanosleep(&ts, nullptr);
  } else if (b->call == "clock_nanosleep") {
    timespec ts{3600, 0};
    clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
  } else if (b->call == "accept") {
    accept(b->fd, nullptr, nullptr);
  } else if (b->call == "recv") {
    recv(b->fd, buf, sizeof buf, 0);
  } else if (b->call == "recvmsg") {
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    recvmsg(b->fd, &msg, 0);
  } else if (b->call == "epoll_wait") {
    epoll_event ev;
    epoll_wait(b->fd, &ev, 1, -1);
  } else if (b->call == "open") {
    const int fd = open(b->path.c_str(), O_RDONLY);  // a FIFO with no writer
    if (fd >= 0) {
      close(fd);
    }
  }
  pthread_cleanup_pop(0);
  return nullptr;
}

bool Prepare(Blocker& b) {
  int p[2];
  if (b.call == "read" || b.call == "readv" || b.call == "poll" || b.call == "epoll_wait") {
    if (pipe2(p, O_CLOEXEC) != 0) {
      return false;
    }
    b.fd = p[0];
    b.peer = p[1];
    b.nr = b.call == "read" ? SYS_read : b.call == "readv" ? SYS_readv : SYS_poll;
    if (b.call == "epoll_wait") {
      const int ep = epoll_create1(EPOLL_CLOEXEC);
      epoll_event ev{EPOLLIN, {}};
      epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
      b.fd = ep;
      b.nr = SYS_epoll_wait;
    }
    return true;
  }
  if (b.call == "write") {
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
      return false;
    }
    char fill[4096] = {};
    while (write(p[1], fill, sizeof fill) > 0) {
    }
    fcntl(p[1], F_SETFL, 0);
    b.fd = p[1];
    b.peer = p[0];
    b.nr = SYS_write;
    return true;
  }
  if (b.call == "nanosleep" || b.call == "clock_nanosleep") {
    b.nr = SYS_clock_nanosleep;
    return true;
  }
  if (b.call == "accept") {
    b.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(b.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(b.fd, 1) != 0) {
      return false;
    }
    b.nr = SYS_accept;
    return true;
  }
  if (b.call == "recv" || b.call == "recvmsg") {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) {
      return false;
    }
    b.fd = p[0];
    b.peer = p[1];
    b.nr = b.call == "recv" ? SYS_recvfrom : SYS_recvmsg;
    return true;
  }
  if (b.call == "open") {
    char dir[] = "/tmp/transparency2-XXXXXX";
    if (mkdtemp(dir) == nullptr) {
      return false;
    }
    b.path = std::string(dir) + "/fifo";
    if (mkfifo(b.path.c_str(), 0600) != 0) {
      return false;
    }
    b.nr = SYS_openat;
    return true;
  }
  return false;
}

// The kernel's own word that the thread sleeps in the system call: the first field of
// /proc/PID/task/TID/syscall is the number of the call it is blocked in (proc(5)). A thread
// waiting for the supervisor's answer to that call shows the same number.
bool BlockedIn(pid_t tid, long nr) {
  const std::string path = "/proc/self/task/" + std::to_string(tid) + "/syscall";
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) {
    return false;
  }
  long got = -2;
  const bool ok = std::fscanf(f, "%ld", &got) == 1;
  std::fclose(f);
  return ok && got == nr;
}

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

int Cancel(int argc, char** argv) {
  for (int i = 2; i < argc; ++i) {
    Blocker b;
    b.call = argv[i];
    if (!Prepare(b)) {
      std::printf("%s: cannot set up: %s\n", argv[i], std::strerror(errno));
      return 2;
    }
    pthread_t t;
    if (pthread_create(&t, nullptr, Block, &b) != 0) {
      return 2;
    }
    // Wait for the condition itself, with a deadline: the thread sleeping in the call.
    const int64_t deadline = NowMs() + 10'000;
    bool blocked = false;
    while (!(blocked = __atomic_load_n(&b.tid, __ATOMIC_ACQUIRE) != 0 && BlockedIn(b.tid, b.nr)) &&
           NowMs() < deadline) {
      sched_yield();
    }
    pthread_cancel(t);
    timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    void* result = nullptr;
    const int joined = pthread_timedjoin_np(t, &result, &until);
    if (joined != 0) {
      std::printf("%s: %s, not cancelled within 10 s\n", argv[i],
                  blocked ? "blocked" : "never seen blocked");
      std::fflush(stdout);
      _exit(1);  // the thread is still blocked: nothing can end it but the process's end
    }
    std::printf("%s: %s, %s, cleanup %s, destructor %s\n", argv[i],
                blocked ? "blocked" : "never seen blocked",
                result == PTHREAD_CANCELED ? "cancelled" : "returned", b.cleanup ? "ran" : "skipped",
                b.destructor ? "ran" : "skipped");
    for (int fd : {b.fd, b.peer}) {
      if (fd >= 0) {
        close(fd);
      }
    }
    if (!b.path.empty()) {
      unlink(b.path.c_str());
      rmdir(b.path.substr(0, b.path.rfind('/')).c_str());
    }
  }
  return 0;
}

int SelfCancelMain() {
  int p[2];
  if (pipe(p) != 0) {
    return 2;
  }
  char c = 'x';
  (void)!write(p[1], &c, 1);
  std::printf("self-cancel: cancelling\n");
  std::fflush(stdout);
  pthread_cancel(pthread_self());
  // The read has data, so it returns at once unless the pending cancel acts at it.
  (void)!read(p[0], &c, 1);
  std::printf("self-cancel: the read returned, not cancelled\n");
  return 0;
}

std::string ReadFile(const char* path) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return "(cannot open)";
  }
  std::string out = hijack::testing::ReadToEnd(fd);
  close(fd);
  return out;
}

int Visible(int argc, char** argv) {
  const char* preload = getenv("LD_PRELOAD");
  std::printf("getenv LD_PRELOAD: %s\n", preload == nullptr ? "(unset)" : preload);
  for (char** e = environ; *e != nullptr; ++e) {
    std::printf("environ: %s\n", *e);
  }
  // Empty entries at the end are counted apart: they are where the agent's variables were
  // (README, "What a guest can observe").
  std::string block = ReadFile("/proc/self/environ");
  int empty = 0;
  for (size_t start = 0; start < block.size();) {
    size_t end = block.find('\0', start);
    if (end == std::string::npos) {
      end = block.size();
    }
    if (end == start) {
      ++empty;
    } else {
      for (; empty > 0; --empty) {
        std::printf("/proc/self/environ: \n");
      }
      std::printf("/proc/self/environ: %s\n", block.substr(start, end - start).c_str());
    }
    start = end + 1;
  }
  if (empty > 0) {
    std::printf("/proc/self/environ ends in %d empty entries\n", empty);
  }
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) {
    return 2;
  }
  const int own = dirfd(d);
  std::vector<int> fds;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.' && std::atoi(e->d_name) != own) {
      fds.push_back(std::atoi(e->d_name));
    }
  }
  closedir(d);
  std::sort(fds.begin(), fds.end());
  for (int fd : fds) {
    char target[512] = {};
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t n = readlink(link.c_str(), target, sizeof target - 1);
    std::string t = n > 0 ? std::string(target, static_cast<size_t>(n)) : "?";
    // Pipes and sockets carry inode numbers that differ from run to run.
    if (t.starts_with("pipe:") || t.starts_with("socket:")) {
      t = t.substr(0, t.find(':'));
    }
    std::printf("fd %d: %s\n", fd, t.c_str());
  }
  std::fflush(stdout);
  if (argc > 2) {
    execv(argv[2], argv + 2);
    std::printf("exec %s: %s\n", argv[2], std::strerror(errno));
    return 127;
  }
  return 0;
}

int RawExec(char** argv) {
  syscall(SYS_execve, argv[0], argv, environ);
  std::printf("raw execve %s: %s\n", argv[0], std::strerror(errno));
  return 127;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc >= 3 && std::strcmp(argv[1], "cancel") == 0) {
    return Cancel(argc, argv);
  }
  if (argc == 2 && std::strcmp(argv[1], "self-cancel") == 0) {
    return SelfCancelMain();
  }
  if (argc >= 2 && std::strcmp(argv[1], "visible") == 0) {
    return Visible(argc, argv);
  }
  if (argc >= 3 && std::strcmp(argv[1], "raw-exec") == 0) {
    return RawExec(argv + 2);
  }
  std::fprintf(stderr,
               "usage: transparency2_guest cancel CALL... | self-cancel | visible [CMD] | "
               "raw-exec CMD\n");
  return 2;
}
