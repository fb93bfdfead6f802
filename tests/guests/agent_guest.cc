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
//   agent_guest raw-clone T K       T threads made with clone(CLONE_VM|CLONE_THREAD...) and no TLS
//                                   of their own (they share the creator's), each K write(2)s to
//                                   /dev/null while the main thread makes K too
//   agent_guest vfork N K           N vfork(2) children one after another, each K write(2)s to
//                                   /dev/null before _exit
//   agent_guest fork-threads T K    fork; the child runs "threads T K"; the parent K write(2)s
//   agent_guest scribble SEED R     R rounds of writing seeded random and adversarial values over
//                                   its own executive page, each followed by a raw getppid(2)
//                                   that the supervisor must refuse with EPERM; prints (raw
//                                   write) "scribble: R rounds, N not refused", exits 0 if N == 0
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "hijack/exec_page.h"
#include "tests/support/guest_output.h"

extern char** environ;

namespace {

using hijack::testing::ErrName;

int DevNull() { return open("/dev/null", O_WRONLY | O_CLOEXEC); }

// n one-byte writes to /dev/null; false at the first that does not write its byte.
bool NullWrites(int n) {
  int fd = DevNull();
  for (int i = 0; i < n; ++i) {
    if (write(fd, "x", 1) != 1) {
      return false;
    }
  }
  return true;
}

int Writes(int n, int m) {
  if (!NullWrites(n)) {
    return 1;
  }
  for (int i = 0; i < m; ++i) {
    std::printf("line %d\n", i);
    std::fflush(stdout);
  }
  return 0;
}

int FailingWrites(int n, int f) {
  if (!NullWrites(n)) {
    return 1;
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

// ---- threads and processes that share or copy their creator's memory ----

struct RawThread {
  int fd;
  int writes;
  std::atomic<int> go;
};

int RawThreadMain(void* arg) {
  auto* t = static_cast<RawThread*>(arg);
  while (t->go.load(std::memory_order_acquire) == 0) {
  }
  for (int i = 0; i < t->writes; ++i) {
    (void)!write(t->fd, "r", 1);
  }
  return 0;  // glibc's clone() ends the thread with exit(2)
}

int RawClone(int threads, int writes) {
  const int fd = DevNull();
  constexpr size_t kStack = 256 * 1024;
  std::vector<char*> stacks;
  std::vector<pid_t> tids(static_cast<size_t>(threads), 0);
  RawThread shared{fd, writes, {0}};
  for (int i = 0; i < threads; ++i) {
    auto* stack = static_cast<char*>(std::malloc(kStack));
    stacks.push_back(stack);
    const int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                      CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
    if (clone(RawThreadMain, stack + kStack, flags, &shared, &tids[static_cast<size_t>(i)], nullptr,
              &tids[static_cast<size_t>(i)]) < 0) {
      std::printf("raw-clone: clone: %s\n", std::strerror(errno));
      return 1;
    }
  }
  shared.go.store(1, std::memory_order_release);
  for (int i = 0; i < writes; ++i) {
    (void)!write(fd, "m", 1);
  }
  // CLONE_CHILD_CLEARTID: the kernel zeroes the word and wakes it when the thread has exited.
  for (pid_t& tid : tids) {
    for (pid_t v = __atomic_load_n(&tid, __ATOMIC_ACQUIRE); v != 0;
         v = __atomic_load_n(&tid, __ATOMIC_ACQUIRE)) {
      syscall(SYS_futex, &tid, FUTEX_WAIT, v, nullptr, nullptr, 0);
    }
  }
  for (char* s : stacks) {
    std::free(s);
  }
  std::printf("raw-clone: %d threads done\n", threads);
  return 0;
}

int Vfork(int children, int writes) {
  const int fd = DevNull();
  for (int c = 0; c < children; ++c) {
    const pid_t pid = vfork();
    if (pid < 0) {
      std::printf("vfork: %s\n", std::strerror(errno));
      return 1;
    }
    if (pid == 0) {
      for (int i = 0; i < writes; ++i) {
        (void)!write(fd, "v", 1);
      }
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return 1;
    }
  }
  std::printf("vfork: %d children done\n", children);
  return 0;
}

int ForkThreads(int threads, int writes) {
  const pid_t pid = fork();
  if (pid < 0) {
    return 1;
  }
  if (pid == 0) {
    std::fflush(stdout);
    _exit(Threads(threads, writes));
  }
  const int fd = DevNull();
  for (int i = 0; i < writes; ++i) {
    (void)!write(fd, "p", 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

// ---- a guest that writes its own executive page ----

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void RawPrint(const std::string& s) { syscall(SYS_write, 1, s.data(), s.size()); }

int Scribble(uint64_t seed, long rounds) {
  namespace ep = hijack::exec_page;
  const char* fd_text = getenv(ep::kPageFdEnv);
  if (fd_text == nullptr) {
    RawPrint("scribble: no page\n");
    return 2;
  }
  struct stat st;
  const int fd = std::atoi(fd_text);
  if (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) != ep::kExecPageSize) {
    RawPrint("scribble: not a page\n");
    return 2;
  }
  void* mem = mmap(nullptr, ep::kExecPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mem == MAP_FAILED) {
    RawPrint("scribble: mmap failed\n");
    return 2;
  }
  auto* bytes = static_cast<unsigned char*>(mem);
  auto* page = static_cast<ep::ExecPage*>(mem);
  uint64_t rng = seed;
  long not_refused = 0;
  // From here on only raw system calls: the agent reads the same page and may wait for ever on a
  // bucket this guest wrote.
  for (long r = 0; r < rounds; ++r) {
    // Random bytes at random places.
    for (int k = 0; k < 32; ++k) {
      const uint64_t v = SplitMix(rng);
      const size_t at = SplitMix(rng) % (ep::kExecPageSize - sizeof v);
      std::memcpy(bytes + at, &v, sizeof v);
    }
    // And the values a reader must not believe: rings that claim to hold far more than they can,
    // entries of invented threads and calls, counters that go backwards, buckets in the future,
    // owners that do not exist, slots held for writing.
    for (int s = 0; s < ep::kMaxSlots; ++s) {
      ep::Slot& slot = page->slots[s];
      const uint64_t tail = slot.tail.load(std::memory_order_relaxed);
      switch (SplitMix(rng) % 4) {
        case 0:
          slot.head.store(tail + (SplitMix(rng) | (uint64_t{1} << 62)), std::memory_order_release);
          break;
        case 1:
          slot.head.store(tail + 5 * ep::kRingEntries, std::memory_order_release);
          break;
        case 2:
          slot.head.store(tail - 1, std::memory_order_release);
          break;
        default:
          slot.head.store(tail + ep::kRingEntries, std::memory_order_release);
      }
      for (uint32_t e = 0; e < 8; ++e) {
        ep::RingEntry& entry = slot.ring[(tail + SplitMix(rng)) & (ep::kRingEntries - 1)];
        entry.nr = static_cast<int32_t>(SplitMix(rng) % 2 ? SplitMix(rng) : SYS_write);
        entry.tid = static_cast<int32_t>(SplitMix(rng));
        entry.pid = static_cast<int32_t>(SplitMix(rng));
        entry.start_ns = static_cast<int64_t>(SplitMix(rng));
        entry.end_ns = static_cast<int64_t>(SplitMix(rng));
      }
      slot.owner.store(SplitMix(rng), std::memory_order_relaxed);
      slot.writer.store(static_cast<uint32_t>(SplitMix(rng) % 2), std::memory_order_relaxed);
      for (int w = 0; w < ep::kCounterWords; ++w) {
        slot.counters[SplitMix(rng) % ep::kTableSize][w].store(
            SplitMix(rng) % 3 == 0 ? 0 : SplitMix(rng), std::memory_order_relaxed);
      }
    }
    for (int i = 0; i < ep::kTableSize; ++i) {
      page->table[i].rate.store(SplitMix(rng) % 3, std::memory_order_relaxed);
      page->table[i].burst.store(static_cast<uint32_t>(SplitMix(rng)), std::memory_order_relaxed);
      page->table[i].tat_ns.store(INT64_MAX - static_cast<int64_t>(SplitMix(rng) % 1000),
                                  std::memory_order_relaxed);
      page->table[i].bucket.store(static_cast<uint32_t>(SplitMix(rng)), std::memory_order_relaxed);
      page->table[i].mode.store(static_cast<uint32_t>(SplitMix(rng)), std::memory_order_relaxed);
    }
    page->trampoline = SplitMix(rng);
    page->size = SplitMix(rng);
    // The supervisor still decides this guest's calls.
    errno = 0;
    if (syscall(SYS_getppid) != -1 || errno != EPERM) {
      ++not_refused;
    }
  }
  RawPrint("scribble: " + std::to_string(rounds) + " rounds, " + std::to_string(not_refused) +
           " not refused\n");
  syscall(SYS_exit_group, not_refused == 0 ? 0 : 1);
  return 1;
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
  if (mode == "raw-clone") {
    return RawClone(arg(2), arg(3));
  }
  if (mode == "vfork") {
    return Vfork(arg(2), arg(3));
  }
  if (mode == "fork-threads") {
    return ForkThreads(arg(2), arg(3));
  }
  if (mode == "scribble" && argc > 3) {
    return Scribble(std::strtoull(argv[2], nullptr, 10), std::atol(argv[3]));
  }
  return 2;
}
