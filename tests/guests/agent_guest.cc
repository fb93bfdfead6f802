// A guest for the agent's tests (tests/integration/agent_test.cc). Deterministic: each mode makes
// a known number of calls and prints one summary line.
//
//   agent_guest writes N M          N write(2)s to /dev/null, then M stdio lines to stdout
//   agent_guest failing-writes N F  N write(2)s to /dev/null, then F to fd -1 (each EBADF)
//   agent_guest threads T K         T threads, each K write(2)s to /dev/null
//   agent_guest waves W T K         W rounds, one after another, of "threads T K"
//   agent_guest for-ms MS           write(2) to /dev/null for MS milliseconds; print the count
//   agent_guest trampoline NAME     call the agent's trampoline directly for NAME (write, openat,
//                                   connect, getppid) and print "NAME: ok" or "NAME: <ERRNO>"
//   agent_guest fork N              fork; parent and child each make N write(2)s
//   agent_guest exec N              exec itself as "writes N 0", LD_PRELOAD kept
//   agent_guest exec-clean N        exec itself as "writes N 0" with LD_PRELOAD removed
//   agent_guest spawn N             posix_spawn (vfork-style clone) itself as "writes N 0"
//   agent_guest signal N            N write(2)s while a 1 kHz SIGALRM handler also writes; prints
//                                   "signal: <total writes>"
//   agent_guest errno               a failing read keeps errno; a succeeding write leaves it
//   agent_guest metadata N          N rounds of stat, lstat, fstat (and fstat(-1): EBADF without
//                                   a call), epoll_ctl add and del, setsockopt, getsockopt and
//                                   sendfile of 64 bytes to /dev/null; then one shutdown
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <spawn.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

const char* ErrName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "E?";
}

int DevNull() { return open("/dev/null", O_WRONLY | O_CLOEXEC); }

int Writes(int n, int m) {
  int fd = DevNull();
  for (int i = 0; i < n; ++i) {
    if (write(fd, "x", 1) != 1) {
      return 1;
    }
  }
  for (int i = 0; i < m; ++i) {
    std::printf("line %d\n", i);
    std::fflush(stdout);
  }
  return 0;
}

int FailingWrites(int n, int f) {
  int fd = DevNull();
  for (int i = 0; i < n; ++i) {
    if (write(fd, "x", 1) != 1) {
      return 1;
    }
  }
  for (int i = 0; i < f; ++i) {
    if (write(-1, "x", 1) != -1 || errno != EBADF) {
      return 1;
    }
  }
  return 0;
}

int Threads(int t, int k) {
  std::vector<std::thread> threads;
  for (int i = 0; i < t; ++i) {
    threads.emplace_back([k] {
      int fd = DevNull();
      for (int j = 0; j < k; ++j) {
        (void)!write(fd, "x", 1);
      }
      close(fd);
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  std::printf("threads: done\n");
  std::fflush(stdout);  // one write per call, tty or not: tests count it
  return 0;
}

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

int ForMs(int ms) {
  int fd = DevNull();
  const int64_t end = NowMs() + ms;
  long n = 0;
  while (NowMs() < end) {
    (void)!write(fd, "x", 1);
    ++n;
  }
  std::printf("writes: %ld\n", n);
  return 0;
}

int Trampoline(const std::string& name) {
  const char* text = getenv("HIJACK_TRAMPOLINE");
  if (text == nullptr) {
    std::printf("%s: no trampoline\n", name.c_str());
    return 2;
  }
  using Fn = long (*)(long, long, long, long, long, long, long);
  auto fn = reinterpret_cast<Fn>(std::strtoul(text, nullptr, 16));
  long r;
  if (name == "write") {
    r = fn(SYS_write, 1, reinterpret_cast<long>("via trampoline\n"), 15, 0, 0, 0);
  } else if (name == "openat") {
    r = fn(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/etc/hostname"), O_RDONLY, 0, 0, 0);
  } else if (name == "connect") {
    r = fn(SYS_connect, -1, 0, 0, 0, 0, 0);
  } else if (name == "getppid") {
    r = fn(SYS_getppid, 0, 0, 0, 0, 0, 0);
  } else {
    return 2;
  }
  std::printf("%s: %s\n", name.c_str(), r >= 0 ? "ok" : ErrName(static_cast<int>(-r)));
  return 0;
}

int Fork(int n) {
  pid_t pid = fork();
  if (pid == 0) {
    _exit(Writes(n, 0));
  }
  int rc = Writes(n, 0);
  int status = 0;
  waitpid(pid, &status, 0);
  std::printf("fork: child exit %d\n", WEXITSTATUS(status));
  return rc;
}

int Exec(const char* self, int n, bool clean) {
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (clean && std::strncmp(*e, "LD_PRELOAD=", 11) == 0) {
      continue;
    }
    env.push_back(*e);
  }
  env.push_back(nullptr);
  std::string count = std::to_string(n);
  char* argv[] = {const_cast<char*>(self), const_cast<char*>("writes"), count.data(),
                  const_cast<char*>("0"), nullptr};
  std::fflush(stdout);
  execve("/proc/self/exe", argv, env.data());
  std::printf("exec: %s\n", ErrName(errno));
  return 1;
}

int Spawn(const char* self, int n) {
  std::string count = std::to_string(n);
  char* argv[] = {const_cast<char*>(self), const_cast<char*>("writes"), count.data(),
                  const_cast<char*>("0"), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, environ) != 0) {
    return 1;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::printf("spawn: child exit %d\n", WEXITSTATUS(status));
  return 0;
}

volatile sig_atomic_t g_handler_writes = 0;
int g_signal_fd = -1;

void OnAlarm(int) {
  const int saved = errno;
  if (write(g_signal_fd, "s", 1) == 1) {
    g_handler_writes = g_handler_writes + 1;
  }
  errno = saved;
}

int Signal(int n) {
  g_signal_fd = DevNull();
  struct sigaction sa {};
  sa.sa_handler = OnAlarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, nullptr);
  itimerval every_ms{{0, 1000}, {0, 1000}};
  setitimer(ITIMER_REAL, &every_ms, nullptr);
  int fd = DevNull();
  for (int i = 0; i < n; ++i) {
    (void)!write(fd, "x", 1);
  }
  itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  std::printf("signal: %d\n", n + g_handler_writes);
  return g_handler_writes > 0 ? 0 : 3;
}

int Errno() {
  int fd = DevNull();
  char c;
  errno = 0;
  ssize_t r = read(-1, &c, 1);
  int after_fail = errno;
  errno = 1234;
  ssize_t w = write(fd, "x", 1);
  int after_ok = errno;
  std::printf("read: %zd %s; write: %zd errno %d\n", r, ErrName(after_fail), w, after_ok);
  return 0;
}

int Metadata(int n) {
  const int file = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  const int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  int sv[2];
  if (file < 0 || null < 0 || ep < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
    std::printf("metadata: setup: %s\n", std::strerror(errno));
    return 1;
  }
  for (int i = 0; i < n; ++i) {
    struct stat st;
    epoll_event ev{};
    ev.events = EPOLLIN;
    int v = 1;
    socklen_t len = sizeof v;
    off_t off = 0;
    errno = 0;
    if (stat("/proc/self/exe", &st) != 0 || lstat("/proc/self/exe", &st) != 0 ||
        fstat(file, &st) != 0 || fstat(-1, &st) != -1 || errno != EBADF ||
        epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev) != 0 ||
        epoll_ctl(ep, EPOLL_CTL_DEL, sv[0], nullptr) != 0 ||
        setsockopt(sv[0], SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v) != 0 ||
        getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &len) != 0 || v != SOCK_STREAM ||
        sendfile(null, file, &off, 64) != 64 || off != 64) {
      std::printf("metadata: round %d: %s\n", i, std::strerror(errno));
      return 1;
    }
  }
  if (shutdown(sv[0], SHUT_RDWR) != 0) {
    std::printf("metadata: shutdown: %s\n", std::strerror(errno));
    return 1;
  }
  std::printf("metadata: %d rounds\n", n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    return 2;
  }
  std::string mode = argv[1];
  auto arg = [&](int i) { return argc > i ? std::atoi(argv[i]) : 0; };
  if (mode == "writes") {
    return Writes(arg(2), arg(3));
  }
  if (mode == "metadata") {
    return Metadata(arg(2));
  }
  if (mode == "failing-writes") {
    return FailingWrites(arg(2), arg(3));
  }
  if (mode == "threads") {
    return Threads(arg(2), arg(3));
  }
  if (mode == "waves") {
    for (int w = 0; w < arg(2); ++w) {
      Threads(arg(3), arg(4));
    }
    return 0;
  }
  if (mode == "for-ms") {
    return ForMs(arg(2));
  }
  if (mode == "trampoline" && argc > 2) {
    return Trampoline(argv[2]);
  }
  if (mode == "fork") {
    return Fork(arg(2));
  }
  if (mode == "exec" || mode == "exec-clean") {
    return Exec(argv[0], arg(2), mode == "exec-clean");
  }
  if (mode == "spawn") {
    return Spawn(argv[0], arg(2));
  }
  if (mode == "signal") {
    return Signal(arg(2));
  }
  if (mode == "errno") {
    return Errno();
  }
  return 2;
}
