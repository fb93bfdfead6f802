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
//       of each failed with EINTR (natively none can: none of them ever sleeps interruptibly)
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
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
  long written = 0;
  for (long i = 0; i < rounds; ++i) {
    const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == EINTR) {
      ++open_eintr;
    }
    if (fd >= 0 && close(fd) != 0 && errno == EINTR) {
      ++close_eintr;
    }
    // Raw: glibc caches nothing for getppid, but the call must reach the kernel every time.
    if (syscall(SYS_getppid) < 0 && errno == EINTR) {
      ++getppid_eintr;
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
  std::printf("rounds %ld\nEINTR open %ld close %ld getppid %ld fstat %ld write %ld\n"
              "bytes lost %ld\n",
              rounds, open_eintr, close_eintr, getppid_eintr, fstat_eintr, write_eintr,
              rounds * 4 - written);
  return 0;
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
  std::fprintf(stderr, "usage: transparency_guest inherit|dispositions|die|eintr-window ...\n");
  return 2;
}
