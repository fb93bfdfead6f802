// A guest whose output is what a program can observe of its own process, for the transparency
// suite (tests/integration/transparency_test.cc): the same run natively and under hijackd must
// print the same lines and end the same way.
//
//   transparency_guest inherit IGNORED BLOCKED -- CMD ARGS...
//       ignore the signals IGNORED and block BLOCKED (comma-separated numbers, or "-" for none),
//       then exec CMD: the state a parent such as nohup(1) hands down
//   transparency_guest dispositions
//       print the ignored signals and the blocked mask this process started with, then send
//       itself SIGHUP and print "alive" if that did not end it
//   transparency_guest die SIG
//       end by signal SIG with its default disposition
//   transparency_guest clocks
//       clock_nanosleep on each CPU-time clock and with bad arguments; print each result
//   transparency_guest eintr-window N DIR
//       with a 200 us interval timer whose SIGALRM handler lacks SA_RESTART, N rounds of
//       open(/dev/null)+close, getppid, fstat and a 4-byte write to a file in DIR; print how many
//       of each failed with EINTR (natively none can: none of them ever sleeps interruptibly), with
//       getppid and getitimer through libc and getppid raw through syscall(2), counted apart
//   transparency_guest signal-group FIFO ROUNDS CMD ARGS...
//       run CMD in a process group of its own; ROUNDS times send SIGINT to the group and SIGQUIT
//       to CMD alone, waiting each time for CMD's answer; then SIGTERM to CMD; end as CMD did
//   transparency_guest count-signals FIFO
//       CMD for signal-group: answer each SIGQUIT, print how many SIGINTs came at SIGTERM
//   transparency_guest exit-flood N PERIOD_US
//       N children, half of them with a second thread, each calling exit(0) under an interval
//       timer of PERIOD_US whose handler lacks SA_RESTART; print how each that did not exit 0
//       ended
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace {

// Signal numbers as the kernel counts them; 32 and 33 are glibc's own (nptl(7)) and never
// ignored or blocked by a program.
bool IsProgramSignal(int sig) { return sig != SIGKILL && sig != SIGSTOP && sig != 32 && sig != 33; }

bool ParseSignals(const char* list, sigset_t* set) {
  sigemptyset(set);
  if (std::strcmp(list, "-") == 0) {
    return true;
  }
  std::string text(list);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    const int sig = std::atoi(text.substr(start, end - start).c_str());
    if (sig <= 0 || sig >= NSIG || sigaddset(set, sig) != 0) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

int Inherit(int argc, char** argv) {
  sigset_t ignored, blocked;
  if (argc < 6 || std::strcmp(argv[4], "--") != 0 || !ParseSignals(argv[2], &ignored) ||
      !ParseSignals(argv[3], &blocked)) {
    std::fprintf(stderr, "usage: transparency_guest inherit IGNORED BLOCKED -- CMD ARGS...\n");
    return 2;
  }
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&ignored, sig) == 1) {
      signal(sig, SIG_IGN);
    }
  }
  sigprocmask(SIG_SETMASK, &blocked, nullptr);
  execvp(argv[5], argv + 5);
  std::perror("execvp");
  return 127;
}

int Dispositions() {
  std::string ignored, blocked;
  sigset_t mask;
  sigprocmask(SIG_SETMASK, nullptr, &mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (!IsProgramSignal(sig)) {
      continue;
    }
    struct sigaction action {};
    if (sigaction(sig, nullptr, &action) == 0 && action.sa_handler == SIG_IGN) {
      ignored += " " + std::to_string(sig);
    }
    if (sigismember(&mask, sig) == 1) {
      blocked += " " + std::to_string(sig);
    }
  }
  std::printf("ignored:%s\nblocked:%s\n", ignored.c_str(), blocked.c_str());
  std::fflush(stdout);
  kill(getpid(), SIGHUP);
  std::printf("alive\n");
  return 0;
}

int Die(int sig) {
  signal(sig, SIG_DFL);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, sig);
  sigprocmask(SIG_UNBLOCK, &only, nullptr);
  std::printf("dying of %d\n", sig);
  std::fflush(stdout);
  raise(sig);
  return 1;
}

const char* ErrName(int err) {
  if (err == 0) {
    return "0";
  }
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "E?";
}

int Clocks() {
  const timespec tiny{0, 1};
  const timespec bad{0, -1};
  std::printf("thread cpu: %s\n", ErrName(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &tiny,
                                                           nullptr)));
  // An absolute time already past: a relative sleep on the process's own CPU clock while its
  // only thread sleeps would never end.
  const timespec past{0, 0};
  std::printf("process cpu: %s\n", ErrName(clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID,
                                                            TIMER_ABSTIME, &past, nullptr)));
  std::printf("monotonic: %s\n",
              ErrName(clock_nanosleep(CLOCK_MONOTONIC, 0, &tiny, nullptr)));
  std::printf("bad nsec: %s\n", ErrName(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, nullptr)));
  std::printf("bad clock: %s\n", ErrName(clock_nanosleep(12345, 0, &tiny, nullptr)));
  std::printf("nanosleep bad nsec: %s\n",
              nanosleep(&bad, nullptr) == 0 ? "0" : ErrName(errno));
  return 0;
}

void OnAlarm(int) {}

int EintrWindow(long rounds, const std::string& dir) {
  const std::string path = dir + "/eintr-window";
  const int file = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (file < 0) {
    std::perror(path.c_str());
    return 1;
  }
  struct sigaction action {};
  action.sa_handler = OnAlarm;  // no SA_RESTART
  sigemptyset(&action.sa_mask);
  sigaction(SIGALRM, &action, nullptr);
  const itimerval every{{0, 200}, {0, 200}};
  setitimer(ITIMER_REAL, &every, nullptr);
  long open_eintr = 0, close_eintr = 0, getppid_eintr = 0, fstat_eintr = 0, write_eintr = 0;
  long raw_getppid_eintr = 0, getitimer_eintr = 0;
  long written = 0;
  for (long i = 0; i < rounds; ++i) {
    const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == EINTR) {
      ++open_eintr;
    }
    if (fd >= 0 && close(fd) != 0 && errno == EINTR) {
      ++close_eintr;
    }
    if (getppid() < 0 && errno == EINTR) {
      ++getppid_eintr;
    }
    // Raw: the system call instruction of libc's syscall(2), which no preloaded library wraps.
    if (syscall(SYS_getppid) < 0 && errno == EINTR) {
      ++raw_getppid_eintr;
    }
    itimerval current;
    if (getitimer(ITIMER_REAL, &current) != 0 && errno == EINTR) {
      ++getitimer_eintr;
    }
    struct stat st;
    if (fstat(file, &st) != 0 && errno == EINTR) {
      ++fstat_eintr;
    }
    const ssize_t n = write(file, "abcd", 4);
    if (n < 0 && errno == EINTR) {
      ++write_eintr;
    } else if (n > 0) {
      written += n;
    }
  }
  const itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  std::printf("rounds %ld\nEINTR open %ld close %ld getppid %ld fstat %ld write %ld getitimer %ld\n"
              "bytes lost %ld\nraw getppid %ld\n",
              rounds, open_eintr, close_eintr, getppid_eintr, fstat_eintr, write_eintr,
              getitimer_eintr, rounds * 4 - written, raw_getppid_eintr);
  return 0;
}

// One child's life under a signal flood: an interval timer of `period_us` whose handler lacks
// SA_RESTART, some calls, then exit(3) (from a process with a second thread, when `threaded`).
[[noreturn]] void FloodedChild(bool threaded, long period_us) {
  struct sigaction action {};
  action.sa_handler = OnAlarm;  // no SA_RESTART
  sigemptyset(&action.sa_mask);
  sigaction(SIGALRM, &action, nullptr);
  if (threaded) {
    pthread_t thread;
    pthread_create(
        &thread, nullptr,
        [](void*) -> void* {
          for (;;) {
            pause();
          }
        },
        nullptr);
  }
  const itimerval every{{0, period_us}, {0, period_us}};
  setitimer(ITIMER_REAL, &every, nullptr);
  for (int i = 0; i < 50; ++i) {
    syscall(SYS_getppid);
  }
  std::exit(0);
}

// N children (half of them with a second thread) each end with exit(0) under a signal flood; the
// parent prints how each ended. Natively every one exits 0: exit_group(2) cannot fail.
int ExitFlood(int children, long period_us) {
  int exited = 0;
  for (int i = 0; i < children; ++i) {
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("fork");
      return 1;
    }
    if (pid == 0) {
      FloodedChild(i % 2 == 1, period_us);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
      std::perror("waitpid");
      return 1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      ++exited;
    } else if (WIFSIGNALED(status)) {
      std::printf("child %d killed by %s\n", i, sigabbrev_np(WTERMSIG(status)));
    } else {
      std::printf("child %d status %d\n", i, status);
    }
  }
  std::printf("exited 0: %d of %d\n", exited, children);
  return 0;
}

// Ends this process the way `status` says its child ended.
[[noreturn]] void EndAs(int status) {
  if (WIFSIGNALED(status)) {
    signal(WTERMSIG(status), SIG_DFL);
    raise(WTERMSIG(status));
  }
  std::exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

// The sender: CMD runs in a process group of its own; once it says it is ready (a byte in
// FIFO), ROUNDS times: SIGINT to the whole group, then SIGQUIT to CMD's pid alone, and wait for
// CMD's byte saying it saw the SIGQUIT; then SIGTERM to CMD's pid. Ends as CMD ended. Pending
// signals are taken lowest number first (signal(7)), so each SIGINT of a round is counted
// before its SIGQUIT is answered and never merges with the next round's.
int SignalGroup(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: transparency_guest signal-group FIFO ROUNDS CMD ARGS...\n");
    return 2;
  }
  const char* fifo = argv[2];
  const int rounds = std::atoi(argv[3]);
  if (mkfifo(fifo, 0600) != 0) {
    std::perror(fifo);
    return 1;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    execvp(argv[4], argv + 4);
    std::perror("execvp");
    _exit(127);
  }
  setpgid(pid, pid);  // either of the two calls wins; both mean the same
  const int fd = open(fifo, O_RDONLY | O_CLOEXEC);
  char byte;
  if (fd < 0 || read(fd, &byte, 1) != 1) {
    std::perror("reading the ready byte");
    kill(pid, SIGKILL);
    return 1;
  }
  for (int i = 0; i < rounds; ++i) {
    killpg(pid, SIGINT);
    kill(pid, SIGQUIT);
    if (read(fd, &byte, 1) != 1) {
      std::fprintf(stderr, "no answer to round %d\n", i);
      break;
    }
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EndAs(status);
}

// The receiver of SignalGroup: counts the SIGINTs, answers each SIGQUIT with a byte in FIFO,
// prints the count at SIGTERM. The signals are taken with sigwaitinfo, one at a time.
int CountSignals(const char* fifo) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGQUIT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  const int fd = open(fifo, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "r", 1) != 1) {
    std::perror(fifo);
    return 1;
  }
  int interrupts = 0;
  for (;;) {
    const int sig = sigwaitinfo(&set, nullptr);
    if (sig == SIGINT) {
      ++interrupts;
    } else if (sig == SIGQUIT) {
      if (write(fd, "a", 1) != 1) {
        return 1;
      }
    } else if (sig == SIGTERM) {
      std::printf("SIGINT received %d times\n", interrupts);
      return 0;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "inherit") {
    return Inherit(argc, argv);
  }
  if (mode == "dispositions") {
    return Dispositions();
  }
  if (mode == "die" && argc > 2) {
    return Die(std::atoi(argv[2]));
  }
  if (mode == "clocks") {
    return Clocks();
  }
  if (mode == "eintr-window" && argc > 3) {
    return EintrWindow(std::atol(argv[2]), argv[3]);
  }
  if (mode == "signal-group") {
    return SignalGroup(argc, argv);
  }
  if (mode == "count-signals" && argc > 2) {
    return CountSignals(argv[2]);
  }
  if (mode == "exit-flood" && argc > 3) {
    return ExitFlood(std::atoi(argv[2]), std::atol(argv[3]));
  }
  std::fprintf(stderr,
               "usage: transparency_guest inherit|dispositions|die|eintr-window|exit-flood ...\n");
  return 2;
}
