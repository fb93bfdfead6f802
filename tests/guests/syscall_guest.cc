// A guest that makes known system calls, for integration tests. Each mode prints what it saw on
// stdout, one line per step, so tests can compare behaviour with and without supervision.
//
//   syscall_guest basic            opens, reads, loopback TCP, fork, threads, exec
//   syscall_guest open PATH        open PATH and print "open: ok" or "open: <ERRNO>"
//   syscall_guest exit N           exit with status N
//   syscall_guest raise SIG        kill itself with signal number SIG
//   syscall_guest signal           a signal interrupts a blocking read (EINTR, then SA_RESTART)
//   syscall_guest badptr           open() with an invalid pointer: expect EFAULT
//   syscall_guest orphan PATH      leave a child behind that creates PATH after the parent exits
//   syscall_guest escape MARK      clear the death signal, leave an untraced setsid'd orphan
//   syscall_guest threads N K      N threads each call getppid K times
//   syscall_guest spawn-chain N    posix_spawn itself N levels deep
//   syscall_guest wait-signal      print "ready", block in pause(); exit 0 on SIGTERM
//   syscall_guest getppid K        call getppid K times
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sched.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

#include "tests/support/guest_output.h"

namespace {

using hijack::testing::ErrName;

int Basic(const char* self) {
  int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
  char buf[256];
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
  std::printf("open+read /etc/hostname: %s\n", n >= 0 ? "ok" : ErrName(errno));
  if (fd >= 0) {
    close(fd);
  }
  int missing = open("/nonexistent/hijack", O_RDONLY);
  std::printf("open missing: %s\n", missing < 0 ? ErrName(errno) : "opened?");

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  listen(listener, 4);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    int server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    ssize_t sent = write(client, "ping", 4);
    ssize_t got = read(server, buf, 4);
    std::printf("loopback tcp: %s\n", sent == 4 && got == 4 ? "ok" : ErrName(errno));
    close(server);
  } else {
    std::printf("loopback tcp: %s\n", ErrName(errno));
  }
  close(client);
  close(listener);

  pid_t child = fork();
  if (child == 0) {
    _exit(getppid() > 0 ? 3 : 4);
  }
  int status = 0;
  waitpid(child, &status, 0);
  std::printf("fork: child exit %d\n", WEXITSTATUS(status));

  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([] {
      for (int j = 0; j < 10; ++j) {
        syscall(SYS_getppid);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  std::printf("threads: ok\n");
  std::fflush(stdout);
  execl(self, self, "exit", "0", static_cast<char*>(nullptr));
  std::printf("exec: %s\n", ErrName(errno));
  return 1;
}

int Open(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  std::printf("open: %s\n", fd >= 0 ? "ok" : ErrName(errno));
  return fd >= 0 ? 0 : 1;
}

int g_pipe[2];

void OnAlarm(int) {
  // Makes the restarted read of the SA_RESTART half return.
  (void)!write(g_pipe[1], "x", 1);
}

int Signal() {
  (void)!pipe(g_pipe);
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  sigaction(SIGALRM, &sa, nullptr);  // no SA_RESTART: the read fails with EINTR
  ualarm(100'000, 0);
  char c;
  ssize_t n = read(g_pipe[0], &c, 1);
  std::printf("read without SA_RESTART: %s\n", n < 0 ? ErrName(errno) : "data?");
  sa.sa_handler = OnAlarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, nullptr);
  ualarm(100'000, 0);
  n = read(g_pipe[0], &c, 1);
  std::printf("read with SA_RESTART: %s\n", n == 1 ? "restarted" : ErrName(errno));
  return 0;
}

int BadPointer() {
  long rc = syscall(SYS_openat, AT_FDCWD, reinterpret_cast<const char*>(8), O_RDONLY);
  std::printf("open bad pointer: %s\n", rc < 0 ? ErrName(errno) : "opened?");
  return 0;
}

int Orphan(const char* path) {
  if (fork() == 0) {
    // Outlive the parent: the supervisor must wait for this process too.
    usleep(300'000);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    _exit(fd >= 0 ? 0 : 1);
  }
  return 0;
}

// An attack on the supervisor's hold on the guest tree: the guest clears its own death signal,
// and leaves behind a session of its own whose member was cloned with CLONE_UNTRACED (so that no
// tracer follows it) and double-forked away from the guest. Prints "escape: ready" once all of
// that is in place, then waits to be killed. Every process of the tree keeps this argv (MARK is
// the test's token), so a test finds them all in /proc by it.
int Escape() {
  prctl(PR_SET_PDEATHSIG, 0);
  pid_t session = fork();
  if (session < 0) {
    return 1;
  }
  if (session == 0) {
    prctl(PR_SET_PDEATHSIG, 0);
    setsid();
    // Fork-like clone(2): the grandchild returns here with a copy of this stack.
    long escapee = syscall(SYS_clone, CLONE_UNTRACED | SIGCHLD, nullptr, nullptr, nullptr, 0);
    if (escapee == 0) {
      prctl(PR_SET_PDEATHSIG, 0);
      for (;;) {
        pause();  // under an absent supervisor this fails at once (ENOSYS): a busy orphan
      }
    }
    _exit(escapee > 0 ? 0 : 1);
  }
  int status = 0;
  if (waitpid(session, &status, 0) != session || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return 1;
  }
  std::printf("escape: ready\n");
  for (;;) {
    pause();
  }
}

int Threads(int n, int k) {
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([k] {
      for (int j = 0; j < k; ++j) {
        syscall(SYS_getppid);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  std::printf("threads: %d x %d\n", n, k);
  return 0;
}

int SpawnChain(const char* self, int depth) {
  std::printf("level %d pid %d\n", depth, getpid());
  std::fflush(stdout);
  if (depth <= 1) {
    return 0;
  }
  std::string next = std::to_string(depth - 1);
  char* argv[] = {const_cast<char*>(self), const_cast<char*>("spawn-chain"), next.data(), nullptr};
  pid_t pid;
  if (posix_spawn(&pid, self, nullptr, nullptr, argv, environ) != 0) {
    return 1;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int WaitSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  std::printf("ready\n");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  std::printf("got signal %d\n", sig);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string mode = argc > 1 ? argv[1] : "basic";
  if (mode == "basic") {
    return Basic(argv[0]);
  }
  if (mode == "open" && argc > 2) {
    return Open(argv[2]);
  }
  if (mode == "exit" && argc > 2) {
    return std::atoi(argv[2]);
  }
  if (mode == "raise" && argc > 2) {
    kill(getpid(), std::atoi(argv[2]));
    return 99;
  }
  if (mode == "signal") {
    return Signal();
  }
  if (mode == "badptr") {
    return BadPointer();
  }
  if (mode == "orphan" && argc > 2) {
    return Orphan(argv[2]);
  }
  if (mode == "escape" && argc > 2) {
    return Escape();
  }
  if (mode == "threads" && argc > 3) {
    return Threads(std::atoi(argv[2]), std::atoi(argv[3]));
  }
  if (mode == "spawn-chain" && argc > 2) {
    return SpawnChain(argv[0], std::atoi(argv[2]));
  }
  if (mode == "wait-signal") {
    return WaitSignal();
  }
  if (mode == "getppid" && argc > 2) {
    for (int i = std::atoi(argv[2]); i > 0; --i) {
      syscall(SYS_getppid);
    }
    return 0;
  }
  std::fprintf(stderr, "syscall_guest: unknown mode %s\n", mode.c_str());
  return 64;
}
