// A guest for the load and fault scenarios (tests/reliability/): it checks the answer to every
// intercepted call it makes and says what it saw, so a lost, doubled or misdirected answer shows
// up as a wrong count here, whatever the supervisor believes it did.
//
// The policy the scenarios run it under (tests/reliability/reliability_test.cc):
//   getppid  denied with EDOM by a deny module: a call must fail with exactly EDOM;
//   gettid   intercepted and allowed: a call must return the caller's own tid, so an answer
//            meant for another thread (or process) is seen;
//   getpgrp  rate-limited by a ratelimit module (the deferred scenarios): held, then allowed.
//
//   reliability_guest threads T K         T threads, K checked pairs each; exit 0 iff all right
//   reliability_guest fork N P            N children, at most P alive at once, each checks its
//                                         calls and exits with its index's code; the parent
//                                         checks every exit against the pid it forked
//   reliability_guest forkexec SELF N P   as fork, but each child execs SELF child I
//   reliability_guest child I             the exec'd child: checks its calls, exits (I % 100) + 1
//   reliability_guest busy [DIR]          checked pairs until killed; prints "busy: ready" first;
//                                         with DIR, SIGTERM leaves DIR/sigterm-* and exits 0,
//                                         and DIR/progress-* (8 bytes, shared) holds the number
//                                         of pairs checked so far, for a test to read its rate
//   reliability_guest held-kill           one thread held in a deferred getpgrp, then SIGKILL to
//                                         the whole guest while it is held
//   reliability_guest held-exec SELF      one thread held in a deferred getpgrp while the main
//                                         thread execs SELF child 0
//   reliability_guest pid-reuse DIR       a child's getsid held by the gate plugin (DIR/entered,
//                                         DIR/gate: tests/integration/pending_plugins), the child
//                                         killed, its pid given to a new child through
//                                         ns_last_pid, then the stale decision let go: the new
//                                         child's own getsid must get its own answer (EPERM)
//
// Every mode prints one line "<mode>: key=value ..." that the test parses. Raw syscall(2) is used
// so that no libc cache (glibc caches nothing of these today, but might) answers in its place.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Checks {
  long denied_ok = 0;
  long allowed_ok = 0;
  long wrong = 0;
};

// The calling thread's id as procfs names it (proc(5), /proc/thread-self), read without any
// call the policy intercepts, so that it is a fact to check gettid's answer against.
long OwnTid() {
  char link[64] = {};
  ssize_t n = readlink("/proc/thread-self", link, sizeof link - 1);
  const char* slash = n > 0 ? std::strrchr(link, '/') : nullptr;
  return slash != nullptr ? std::strtol(slash + 1, nullptr, 10) : -1;
}

// One denied call and one allowed call, each checked against the answer it must get.
void CheckedPair(Checks& c, long my_tid) {
  errno = 0;
  long rc = syscall(SYS_getppid);
  if (rc == -1 && errno == EDOM) {
    ++c.denied_ok;
  } else {
    ++c.wrong;
  }
  rc = syscall(SYS_gettid);
  if (rc == my_tid) {
    ++c.allowed_ok;
  } else {
    ++c.wrong;
  }
}

int Threads(int n, long k) {
  std::vector<Checks> checks(n);
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&c = checks[i], k] {
      const long tid = OwnTid();
      for (long j = 0; j < k; ++j) {
        CheckedPair(c, tid);
      }
    });
  }
  Checks total;
  for (int i = 0; i < n; ++i) {
    threads[i].join();
    total.denied_ok += checks[i].denied_ok;
    total.allowed_ok += checks[i].allowed_ok;
    total.wrong += checks[i].wrong;
  }
  std::printf("threads: threads=%d calls_per_thread=%ld denied_ok=%ld allowed_ok=%ld wrong=%ld\n",
              n, 2 * k, total.denied_ok, total.allowed_ok, total.wrong);
  return total.wrong == 0 ? 0 : 1;
}

// What a child that checked its calls exits with: never 0 (so an exit of the wrong child, or a
// status that is not an exit, is not taken for success), never 255 (the failure code).
int ChildCode(long index) { return static_cast<int>(index % 100) + 1; }
constexpr int kChildWrong = 255;

int ChildChecks(long index) {
  Checks c;
  CheckedPair(c, OwnTid());
  return c.wrong == 0 ? ChildCode(index) : kChildWrong;
}

// Forks n children, at most `parallel` alive at once; with `self`, each child execs it.
int Forks(const char* mode, const char* self, long n, long parallel) {
  struct Live {
    pid_t pid;
    long index;
  };
  std::vector<Live> live;
  long forked = 0, exits_ok = 0, wrong_exit = 0, wrong_pid = 0, fork_failed = 0;
  auto reap_one = [&] {
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    for (size_t i = 0; i < live.size(); ++i) {
      if (live[i].pid == pid) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == ChildCode(live[i].index)) {
          ++exits_ok;
        } else {
          ++wrong_exit;
        }
        live.erase(live.begin() + static_cast<long>(i));
        return;
      }
    }
    ++wrong_pid;  // a pid this process never forked, or one reaped twice
    if (pid < 0) {
      live.clear();  // nothing left to wait for: ECHILD
    }
  };
  for (long i = 0; i < n; ++i) {
    while (static_cast<long>(live.size()) >= parallel) {
      reap_one();
    }
    pid_t pid = fork();
    if (pid < 0) {
      ++fork_failed;
      continue;
    }
    if (pid == 0) {
      if (self == nullptr) {
        _exit(ChildChecks(i));
      }
      std::string index = std::to_string(i);
      execl(self, self, "child", index.c_str(), static_cast<char*>(nullptr));
      _exit(kChildWrong);
    }
    ++forked;
    live.push_back({pid, i});
  }
  while (!live.empty()) {
    reap_one();
  }
  // The parent's own calls are still answered right after all of that.
  Checks c;
  CheckedPair(c, OwnTid());
  std::printf("%s: children=%ld exits_ok=%ld wrong_exit=%ld wrong_pid=%ld fork_failed=%ld "
              "parent_wrong=%ld\n",
              mode, forked, exits_ok, wrong_exit, wrong_pid, fork_failed, c.wrong);
  return exits_ok == n && c.wrong == 0 ? 0 : 1;
}

// How a busy guest says that SIGTERM reached it: it made DIR/running-XXXXXX at start (mkstemp:
// every guest of a pid namespace is pid 2, so pids do not tell them apart) and renames it to
// DIR/sigterm-XXXXXX in the handler (rename(2) is async-signal-safe).
char g_running[512];
char g_sigterm[512];

void OnSigterm(int) { _exit(rename(g_running, g_sigterm) == 0 ? 0 : 1); }

std::atomic<uint64_t>* g_progress = nullptr;  // DIR/progress-*, mapped shared

int Busy(const char* sigterm_dir) {
  if (sigterm_dir != nullptr) {
    std::snprintf(g_running, sizeof g_running, "%s/running-XXXXXX", sigterm_dir);
    int fd = mkstemp(g_running);
    if (fd < 0) {
      return 1;
    }
    close(fd);
    std::snprintf(g_sigterm, sizeof g_sigterm, "%s/sigterm-%s", sigterm_dir,
                  std::strrchr(g_running, '-') + 1);
    signal(SIGTERM, OnSigterm);
    // The progress counter: a plain store into a shared page, no system call, so publishing it
    // changes nothing the supervisor sees.
    char progress[512];
    std::snprintf(progress, sizeof progress, "%s/progress-%s", sigterm_dir,
                  std::strrchr(g_running, '-') + 1);
    const int pfd = open(progress, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (pfd < 0 || ftruncate(pfd, sizeof(uint64_t)) != 0) {
      return 1;
    }
    void* page = mmap(nullptr, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, pfd, 0);
    close(pfd);
    if (page == MAP_FAILED) {
      return 1;
    }
    g_progress = static_cast<std::atomic<uint64_t>*>(page);
  }
  Checks c;
  const long tid = OwnTid();
  CheckedPair(c, tid);
  std::printf("busy: ready wrong=%ld\n", c.wrong);
  std::fflush(stdout);
  for (uint64_t pairs = 1;; ++pairs) {
    if (g_progress != nullptr) {
      g_progress->store(pairs, std::memory_order_relaxed);
    }
    CheckedPair(c, tid);
    if (c.wrong != 0) {
      std::printf("busy: wrong=%ld after %ld calls\n", c.wrong, 2 * (c.denied_ok + c.allowed_ok));
      std::fflush(stdout);
      return 1;
    }
  }
}

// True once thread `tid` of this process sits in system call `nr` (proc(5),
// /proc/PID/task/TID/syscall: the number first while the thread is blocked in a call).
bool InSyscall(long tid, long nr) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
  long current = -2;
  return static_cast<bool>(in >> current) && current == nr;
}

// Starts a thread whose second getpgrp is held by the rate limit, and returns once the kernel
// shows it inside that call. The first call takes the bucket's only token.
long StartHeldThread() {
  static std::atomic<long> held_tid{0};
  std::thread([] {
    syscall(SYS_getpgrp);
    held_tid = OwnTid();  // after the first call, so the next one seen is the second
    syscall(SYS_getpgrp);  // held; the scenarios end the process before it returns
    std::printf("held: the held call returned\n");
    std::fflush(stdout);
  }).detach();
  while (held_tid.load() == 0) {
    std::this_thread::yield();
  }
  // Waiting on the kernel's view of the thread: there is no other signal of "held" to a guest.
  while (!InSyscall(held_tid.load(), SYS_getpgrp)) {
    std::this_thread::yield();
  }
  return held_tid.load();
}

// Waits for the gate plugin to say a decision has begun: one byte on the FIFO `entered`, whose
// read end this process holds (and a write end too, so that a plugin closing its own never
// makes the FIFO hang up: fifo(7)).
bool WaitEntered(int entered, int child_pidfd = -1) {
  pollfd p[2] = {{entered, POLLIN, 0}, {child_pidfd, POLLIN, 0}};
  for (;;) {
    int ready = poll(p, 2, -1);
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    char byte;
    ssize_t n = ready > 0 && (p[0].revents & POLLIN) ? read(entered, &byte, 1) : -1;
    if (n == 1) {
      return true;
    }
    if (n < 0 && ready > 0 && p[1].revents == 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    return false;  // the child ended first: no decision of it is coming
  }
}

// Opens the FIFO `gate` for writing once the plugin has it open for reading (that is, once a
// decision waits on it); -1, without waiting longer, once `child` has ended.
int OpenGate(const std::string& gate, int child_pidfd) {
  for (;;) {
    int fd = open(gate.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      return fd;
    }
    pollfd gone{child_pidfd, POLLIN, 0};
    if (errno != ENXIO || poll(&gone, 1, 0) != 0) {
      return -1;
    }
    std::this_thread::yield();  // no reader yet: the plugin opens the FIFO when it decides
  }
}

// Gives the decision waiting on the gate `verdict` ('c' continue, 'f' EPERM). The descriptor
// stays open until the scenario ends (the caller closes it): the gate plugin takes end of file
// for "continue", and a writer closed just after its byte was read can be the end of file that
// the NEXT decision's read sees, once that decision opened the FIFO while the writer was still
// open (fifo(7): an open for reading does not wait while a writer exists). With every writer
// kept open, a decision only ever reads a byte written for it.
bool Release(int gate_fd, char verdict) { return write(gate_fd, &verdict, 1) == 1; }

// True if a byte waits on the FIFO `entered`: a decision began that this process has not seen.
bool EnteredPending(int entered) {
  pollfd p{entered, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

// The state letter of process `pid` (proc(5), /proc/PID/stat, field 3); '?' if unreadable.
char ProcessState(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');  // the command name may hold spaces and parentheses
  return paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : '?';
}

// True once process `pid` (a child of this one) sleeps interruptibly in system call `nr`;
// false once it ended. For a call the filter sends to the supervisor, that sleep is the wait
// for the answer, which begins after the notification is queued (a short uninterruptible wait
// for the filter's lock can come first, state D).
bool ChildInSyscall(pid_t pid, int pidfd, long nr) {
  for (;;) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/syscall");
    long current = -2;
    if (static_cast<bool>(in >> current) && current == nr && ProcessState(pid) == 'S') {
      return true;
    }
    pollfd gone{pidfd, POLLIN, 0};
    if (poll(&gone, 1, 0) != 0) {
      return false;
    }
    std::this_thread::yield();
  }
}

// The pid-reuse scenario (see the file comment). Every step waits for the state it needs: the
// plugin's "entered" byte, the kernel's view of a child in its call, waitpid.
int PidReuse(const std::string& dir) {
  // A gate write with no reader left (a plugin host that died) fails with EPIPE and is counted
  // as not released, rather than ending this process.
  signal(SIGPIPE, SIG_IGN);
  int entered = open((dir + "/entered").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (entered < 0) {
    std::printf("pid-reuse: open entered: %s\n", std::strerror(errno));
    return 1;
  }
  const int keep_open = open((dir + "/entered").c_str(), O_WRONLY | O_CLOEXEC);
  if (keep_open < 0) {
    std::printf("pid-reuse: open entered for writing: %s\n", std::strerror(errno));
    return 1;
  }
  pid_t old_child = fork();
  if (old_child == 0) {
    syscall(SYS_getsid, 0);  // held by the gate until after this process is gone
    _exit(kChildWrong);
  }
  // 1. The old child's decision is held in the plugin.
  if (old_child < 0 || !WaitEntered(entered)) {
    std::printf("pid-reuse: the first decision never began\n");
    return 1;
  }
  // 2. It dies while its call is being decided, and is reaped: its pid is free.
  kill(old_child, SIGKILL);
  int status = 0;
  if (waitpid(old_child, &status, 0) != old_child || !WIFSIGNALED(status)) {
    std::printf("pid-reuse: the old child did not die of SIGKILL\n");
    return 1;
  }
  // 3. The next pid of this namespace is the old child's (pid_namespaces(7), ns_last_pid).
  bool set_last_pid = false;
  if (int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC); fd >= 0) {
    std::string last = std::to_string(old_child - 1);
    set_last_pid = write(fd, last.data(), last.size()) == static_cast<ssize_t>(last.size());
    close(fd);
  }
  pid_t new_child = fork();
  if (new_child == 0) {
    Checks c;
    CheckedPair(c, OwnTid());
    errno = 0;
    // Its own decision: the gate fails it with EPERM, or, if hijackd replaced the plugin's host
    // when the old child died, on_failure does, with EIO. The stale decision would let it run.
    long rc = syscall(SYS_getsid, 0);
    // Anything else says what it got: 4 the call ran (a Continue), 10 + errno another error.
    const int own = rc == -1 && errno == EPERM ? 0
                    : rc == -1 && errno == EIO ? 3
                    : rc != -1                 ? 4
                                               : 10 + errno % 100;
    CheckedPair(c, OwnTid());
    _exit(c.wrong == 0 ? own : kChildWrong);
  }
  if (new_child < 0) {
    std::printf("pid-reuse: fork: %s\n", std::strerror(errno));
    return 1;
  }
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, new_child, 0));
  // 4. The new child's call is waiting (behind the held decision) in hijackd when the stale one
  // is let go. The kernel shows the child in getsid once its notification is queued; hijackd
  // receives a listener's notifications in the order they were queued (seccomp_unotify(2):
  // SECCOMP_IOCTL_NOTIF_RECV takes the oldest), so once this process's own gettid, queued after
  // it, has its answer, hijackd holds the new child's call too: an answer keyed by the thread's
  // number instead of the notification's id would find it.
  // The decision on the gate is the old child's unless the plugin announced another one first:
  // hijackd may have replaced the host when the old child died, and then the new child's own
  // decision is the only one (its byte on `entered` precedes its open of the gate).
  bool released = false;
  bool second = false;
  bool parent_ok = false;
  int gates[2] = {-1, -1};
  if (ChildInSyscall(new_child, pidfd, SYS_getsid)) {
    parent_ok = syscall(SYS_gettid) == OwnTid();
    gates[0] = OpenGate(dir + "/gate", pidfd);
    if (gates[0] >= 0 && EnteredPending(entered)) {
      second = WaitEntered(entered) && Release(gates[0], 'f');
    } else if (gates[0] >= 0) {
      released = Release(gates[0], 'c');
      // 5. The new child's own decision: it must get this answer, not the stale one. It began
      // once the stale one returned from the plugin, and hijackd answers the stale one on its
      // loop thread: one more answered call of this process lets that answer go first, so that
      // a stale answer sent to the wrong call would run the new child's getsid. (Not certain:
      // the worker that ran the stale decision may hand it to the loop after this call; the
      // stale answer then finds the new call answered, and such a fault would not show.)
      if (WaitEntered(entered, pidfd)) {
        parent_ok = syscall(SYS_gettid) == OwnTid() && parent_ok;
        second = (gates[1] = OpenGate(dir + "/gate", pidfd)) >= 0 && Release(gates[1], 'f');
      }
    }
  }
  status = 0;
  const bool waited = waitpid(new_child, &status, 0) == new_child;
  for (int fd : gates) {
    if (fd >= 0) {
      close(fd);
    }
  }
  const int code = waited && WIFEXITED(status) ? WEXITSTATUS(status) : kChildWrong;
  std::printf("pid-reuse: old_pid=%d new_pid=%d ns_last_pid_set=%d reused=%d parent_ok=%d "
              "stale_released=%d new_exit=%d new_decided_by_plugin=%d new_on_failure=%d "
              "new_ok=%d\n",
              old_child, new_child, set_last_pid ? 1 : 0, new_child == old_child ? 1 : 0,
              parent_ok ? 1 : 0, released ? 1 : 0, code, second && code == 0 ? 1 : 0,
              code == 3 ? 1 : 0, code == 0 || code == 3 ? 1 : 0);
  return parent_ok && (code == 0 || code == 3) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "threads" && argc > 3) {
    return Threads(std::atoi(argv[2]), std::atol(argv[3]));
  }
  if (mode == "fork" && argc > 3) {
    return Forks("fork", nullptr, std::atol(argv[2]), std::atol(argv[3]));
  }
  if (mode == "forkexec" && argc > 4) {
    return Forks("forkexec", argv[2], std::atol(argv[3]), std::atol(argv[4]));
  }
  if (mode == "child" && argc > 2) {
    return ChildChecks(std::atol(argv[2]));
  }
  if (mode == "busy") {
    return Busy(argc > 2 ? argv[2] : nullptr);
  }
  if (mode == "held-kill") {
    StartHeldThread();
    std::printf("held-kill: killing\n");
    std::fflush(stdout);
    kill(getpid(), SIGKILL);
    return 1;
  }
  if (mode == "held-exec" && argc > 2) {
    StartHeldThread();
    std::printf("held-exec: exec\n");
    std::fflush(stdout);
    execl(argv[2], argv[2], "child", "0", static_cast<char*>(nullptr));
    std::printf("held-exec: execl failed: %s\n", std::strerror(errno));
    return 1;
  }
  if (mode == "pid-reuse" && argc > 2) {
    return PidReuse(argv[2]);
  }
  std::fprintf(stderr, "reliability_guest: unknown mode or missing arguments: %s\n",
               mode.c_str());
  return 64;
}
