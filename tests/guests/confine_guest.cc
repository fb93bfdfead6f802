// confine_guest: races against exec_guard's check of an execve, for tests/integration/
// confine_test.cc. Each mode runs N children that exec a program exec_guard allows while
// something changes what the kernel will exec, and prints how each child ended:
//
//   confine_guest exec-flip OK BAD N   a thread of the child rewrites the path buffer of its
//                                      execve from OK to BAD and back, as fast as it can
//   confine_guest exec-swap OK BAD N   the child execs DIR/link, a symlink that another process
//                                      swaps between OK and BAD with rename(2) (DIR: a
//                                      directory made next to OK)
//
// Output: "exec-flip: ok=A bad=B refused=C killed=D other=E": OK ran (exit 0), BAD ran (exit
// 1), the exec failed with EACCES, the child was killed by SIGKILL (a refused image), anything
// else. OK and BAD must be programs that exit 0 and 1 (copies of true(1) and false(1)).
//
//   confine_guest connect-signal restart|norestart TIMEOUT_MS
//                                      a blocking connect to a loopback listener of its own
//                                      whose accept queue is full (its SYN is dropped), which
//                                      a second thread interrupts with SIGUSR1 once the socket is
//                                      in SYN_SENT; the handler (SA_RESTART or not) lets that
//                                      thread drain the queue, so a connect that waits on
//                                      completes at TCP's next SYN. TIMEOUT_MS > 0 sets
//                                      SO_SNDTIMEO. Prints "connect: 0|ERRNO handled=N"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

struct Tally {
  int ok = 0, bad = 0, refused = 0, killed = 0, other = 0;
  void Count(int status) {
    if (WIFSIGNALED(status)) {
      (WTERMSIG(status) == SIGKILL ? killed : other)++;
      return;
    }
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    (code == 0 ? ok : code == 1 ? bad : code == 2 ? refused : other)++;
  }
  void Print(const char* mode) const {
    std::printf("%s: ok=%d bad=%d refused=%d killed=%d other=%d\n", mode, ok, bad, refused,
                killed, other);
  }
};

// The child's exec of `path`: 2 for EACCES, 3 for any other failure.
[[noreturn]] void Exec(const char* path) {
  char* const argv[] = {const_cast<char*>(path), nullptr};
  char* const envp[] = {nullptr};
  syscall(SYS_execve, path, argv, envp);
  _exit(errno == EACCES ? 2 : 3);
}

int ExecFlip(const char* ok, const char* bad, int n) {
  Tally tally;
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      // One buffer of fixed size, so each flip is a plain copy the kernel may catch half done
      // (that child then fails with ENOENT: "other").
      static char path[4096];
      std::strncpy(path, ok, sizeof path - 1);
      std::thread([&] {
        for (unsigned flip = 0;; ++flip) {
          std::strncpy(path, flip % 2 ? bad : ok, sizeof path - 1);
        }
      }).detach();
      Exec(path);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    tally.Count(status);
  }
  tally.Print("exec-flip");
  return 0;
}

int ExecSwap(const char* ok, const char* bad, int n) {
  const std::string dir = std::string(ok) + ".swap";
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    std::perror("mkdir");
    return 1;
  }
  const std::string link = dir + "/link", to_ok = dir + "/to_ok", to_bad = dir + "/to_bad";
  unlink(link.c_str());
  unlink(to_ok.c_str());
  unlink(to_bad.c_str());
  if (symlink(ok, link.c_str()) != 0) {
    std::perror("symlink");
    return 1;
  }
  // The swapper: two spare links renamed over `link` in turn, so `link` always exists.
  pid_t swapper = fork();
  if (swapper == 0) {
    for (unsigned flip = 0;; ++flip) {
      const std::string& spare = flip % 2 ? to_ok : to_bad;
      if (symlink(flip % 2 ? ok : bad, spare.c_str()) == 0) {
        rename(spare.c_str(), link.c_str());
      }
    }
  }
  Tally tally;
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      Exec(link.c_str());
    }
    int status = 0;
    waitpid(pid, &status, 0);
    tally.Count(status);
  }
  kill(swapper, SIGKILL);
  waitpid(swapper, nullptr, 0);
  tally.Print("exec-swap");
  return 0;
}

int handled_pipe[2];
volatile sig_atomic_t handled = 0;

void OnSignal(int) {
  handled = handled + 1;
  (void)!write(handled_pipe[1], "h", 1);
}

int ConnectSignal(bool restart, int timeout_ms) {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sa.sa_flags = restart ? SA_RESTART : 0;
  sigaction(SIGUSR1, &sa, nullptr);
  if (pipe2(handled_pipe, O_CLOEXEC) != 0) {
    std::perror("pipe2");
    return 1;
  }
  // A listener whose accept queue (backlog 0: one connection) is full.
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  pollfd queued{.fd = listener, .events = POLLIN, .revents = 0};
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      listen(listener, 0) != 0 ||
      connect(filler, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      poll(&queued, 1, 30000) != 1) {
    std::perror("full listener");
    return 1;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (timeout_ms > 0) {
    timeval tv{.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  const pthread_t connecting = pthread_self();
  std::thread interrupter([&] {
    // The connect has sent its SYN once the socket is in SYN_SENT: from then on the signal
    // meets a connect that waits, natively in the kernel or emulated in the supervisor.
    for (;;) {
      tcp_info info{};
      socklen_t n = sizeof info;
      if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &n) == 0 && info.tcpi_state == TCP_SYN_SENT) {
        break;
      }
      sched_yield();
    }
    pthread_kill(connecting, SIGUSR1);
    char byte;
    while (read(handled_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    // Room in the queue: TCP's next SYN for the connect is accepted.
    int taken = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (taken >= 0) {
      close(taken);
    }
  });
  const int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  interrupter.join();
  if (rc == 0) {
    std::printf("connect: 0 handled=%d\n", static_cast<int>(handled));
  } else {
    std::printf("connect: %s handled=%d\n", strerrorname_np(err), static_cast<int>(handled));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if ((mode == "exec-flip" || mode == "exec-swap") && argc == 5) {
    const int n = std::atoi(argv[4]);
    return mode == "exec-flip" ? ExecFlip(argv[2], argv[3], n) : ExecSwap(argv[2], argv[3], n);
  }
  if (mode == "connect-signal" && argc == 4) {
    return ConnectSignal(std::string(argv[2]) == "restart", std::atoi(argv[3]));
  }
  std::fprintf(stderr,
               "usage: confine_guest exec-flip|exec-swap OK BAD N\n"
               "       confine_guest connect-signal restart|norestart TIMEOUT_MS\n");
  return 2;
}
