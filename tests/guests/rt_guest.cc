// The guest of the real-time service tests (tests/integration/rt_test.cc): a CPU-bound spinner
// that measures its own share of the CPU (process CPU time over elapsed time) over windows.
//
//   rt_guest spin MS                 one window of MS ms: prints "share CPU_NS ELAPSED_NS"
//   rt_guest spin-until MS FILE MS2  a window of MS ms, then spins (unmeasured) until FILE
//                                    exists, then a window of MS2 ms; a line per window
//   rt_guest spin-threads N MS       the same window with N spinning threads
//   rt_guest sleeps N US KIND        N sleeps of US us each; KIND: nanosleep, mono, real (relative
//                                    clock_nanosleep), mono-abs, real-abs (TIMER_ABSTIME);
//                                    prints "sleeps N early E maxlate NS"
//   rt_guest sleep-stats N US        N periodic sleeps of US us (nanosleep): prints the wake-up
//                                    error's "p50 P99 max" in ns (bench/rt experiment 3)
//   rt_guest sleep-sched N US        N sleeps of US us (nanosleep), reading the thread's
//                                    scheduling class right after each; then forks a child that
//                                    reports its class, and waits (60 s at most) until its own is
//                                    SCHED_OTHER again: prints "sleep-sched N early E realtime R
//                                    child POLICY restored 0|1" (the timer module's boost)
//   rt_guest sleep-signal MS US      a SIGALRM (no SA_RESTART) after US us interrupts a sleep of
//                                    MS ms: prints "interrupted RC ERRNO ELAPSED_NS"
#include <errno.h>
#include <signal.h>
#include <poll.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

int64_t Now(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Spins for `ms` of elapsed time and prints the share of it this process ran.
void Window(int64_t ms) {
  const int64_t cpu0 = Now(CLOCK_PROCESS_CPUTIME_ID);
  const int64_t t0 = Now(CLOCK_MONOTONIC);
  volatile uint64_t sink = 0;
  while (Now(CLOCK_MONOTONIC) - t0 < ms * 1'000'000) {
    for (int i = 0; i < 1000; ++i) {
      sink = sink + i;
    }
  }
  const int64_t cpu = Now(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  const int64_t elapsed = Now(CLOCK_MONOTONIC) - t0;
  std::printf("share %lld %lld\n", static_cast<long long>(cpu), static_cast<long long>(elapsed));
  std::fflush(stdout);
}

void OnAlarm(int) {}

int Sleeps(int n, int64_t us, const char* kind) {
  const bool nanosleep_call = std::strcmp(kind, "nanosleep") == 0;
  const bool real = std::strncmp(kind, "real", 4) == 0;
  const bool absolute = std::strstr(kind, "-abs") != nullptr;
  const clockid_t clock = real ? CLOCK_REALTIME : CLOCK_MONOTONIC;
  int early = 0;
  int64_t max_late = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t want = us * 1000;
    const int64_t t0 = Now(clock);
    int rc = 0;
    if (nanosleep_call) {
      timespec req{static_cast<time_t>(want / 1'000'000'000), static_cast<long>(want % 1'000'000'000)};
      rc = nanosleep(&req, nullptr);
    } else if (absolute) {
      const int64_t at = t0 + want;
      timespec req{static_cast<time_t>(at / 1'000'000'000), static_cast<long>(at % 1'000'000'000)};
      rc = clock_nanosleep(clock, TIMER_ABSTIME, &req, nullptr);
    } else {
      timespec req{static_cast<time_t>(want / 1'000'000'000), static_cast<long>(want % 1'000'000'000)};
      rc = clock_nanosleep(clock, 0, &req, nullptr);
    }
    const int64_t took = Now(clock) - t0;
    if (rc != 0) {
      std::printf("failed %d %d\n", rc, errno);
      return 1;
    }
    if (took < want) {
      ++early;
    }
    max_late = std::max<int64_t>(max_late, took - want);
  }
  std::printf("sleeps %d early %d maxlate %lld\n", n, early, static_cast<long long>(max_late));
  return 0;
}

int SleepSched(int n, int64_t us) {
  const int64_t want = us * 1000;
  int early = 0;
  int realtime = 0;
  for (int i = 0; i < n; ++i) {
    timespec req{static_cast<time_t>(want / 1'000'000'000), static_cast<long>(want % 1'000'000'000)};
    const int64_t t0 = Now(CLOCK_MONOTONIC);
    if (nanosleep(&req, nullptr) != 0) {
      std::printf("failed %d\n", errno);
      return 1;
    }
    // sched_getscheduler(2) ORs SCHED_RESET_ON_FORK into the policy of a thread that has it.
    const int policy = sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;
    if (Now(CLOCK_MONOTONIC) - t0 < want) {
      ++early;
    }
    if (policy == SCHED_FIFO || policy == SCHED_RR) {
      ++realtime;
    }
  }
  // Forked while this thread may still be raised: the child's class (sched_setattr(2),
  // SCHED_FLAG_RESET_ON_FORK) is its exit status.
  const pid_t child = fork();
  if (child == 0) {
    _exit(sched_getscheduler(0));
  }
  int status = 0;
  waitpid(child, &status, 0);
  // poll(2), which the timer module does not hold, waits between looks.
  int restored = 0;
  for (const int64_t end = Now(CLOCK_MONOTONIC) + 60'000'000'000; Now(CLOCK_MONOTONIC) < end;) {
    if ((sched_getscheduler(0) & ~SCHED_RESET_ON_FORK) == SCHED_OTHER) {
      restored = 1;
      break;
    }
    poll(nullptr, 0, 1);
  }
  std::printf("sleep-sched %d early %d realtime %d child %d restored %d\n", n, early, realtime,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1, restored);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "spin") == 0) {
    Window(std::atoll(argv[2]));
    return 0;
  }
  if (argc == 5 && std::strcmp(argv[1], "spin-until") == 0) {
    Window(std::atoll(argv[2]));
    struct stat st {};
    volatile uint64_t sink = 0;
    while (stat(argv[3], &st) != 0) {
      for (int i = 0; i < 100000; ++i) {
        sink = sink + i;
      }
    }
    Window(std::atoll(argv[4]));
    return 0;
  }
  if (argc == 4 && std::strcmp(argv[1], "spin-threads") == 0) {
    std::atomic<bool> done{false};
    std::vector<std::thread> threads;
    for (int i = 1; i < std::atoi(argv[2]); ++i) {
      threads.emplace_back([&] {
        volatile uint64_t sink = 0;
        while (!done.load(std::memory_order_relaxed)) {
          sink = sink + 1;
        }
      });
    }
    Window(std::atoll(argv[3]));
    done = true;
    for (auto& t : threads) {
      t.join();
    }
    return 0;
  }
  if (argc == 5 && std::strcmp(argv[1], "sleeps") == 0) {
    return Sleeps(std::atoi(argv[2]), std::atoll(argv[3]), argv[4]);
  }
  if (argc == 4 && std::strcmp(argv[1], "sleep-stats") == 0) {
    const int n = std::atoi(argv[2]);
    const int64_t want = std::atoll(argv[3]) * 1000;
    std::vector<int64_t> late;
    late.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      timespec req{static_cast<time_t>(want / 1'000'000'000), static_cast<long>(want % 1'000'000'000)};
      const int64_t t0 = Now(CLOCK_MONOTONIC);
      nanosleep(&req, nullptr);
      late.push_back(Now(CLOCK_MONOTONIC) - t0 - want);
    }
    std::sort(late.begin(), late.end());
    std::printf("p50 %lld p99 %lld max %lld\n", static_cast<long long>(late[late.size() / 2]),
                static_cast<long long>(late[late.size() * 99 / 100]),
                static_cast<long long>(late.back()));
    return 0;
  }
  if (argc == 4 && std::strcmp(argv[1], "sleep-sched") == 0) {
    return SleepSched(std::atoi(argv[2]), std::atoll(argv[3]));
  }
  if (argc == 4 && std::strcmp(argv[1], "sleep-signal") == 0) {
    struct sigaction sa {};
    sa.sa_handler = OnAlarm;  // no SA_RESTART: nanosleep(2) fails with EINTR
    sigaction(SIGALRM, &sa, nullptr);
    itimerval it{};
    it.it_value.tv_usec = std::atol(argv[3]);
    const int64_t want = std::atoll(argv[2]) * 1'000'000;
    timespec req{static_cast<time_t>(want / 1'000'000'000), static_cast<long>(want % 1'000'000'000)};
    const int64_t t0 = Now(CLOCK_MONOTONIC);
    setitimer(ITIMER_REAL, &it, nullptr);
    const int rc = nanosleep(&req, nullptr);
    const int err = errno;
    std::printf("interrupted %d %d %lld\n", rc, rc == 0 ? 0 : err,
                static_cast<long long>(Now(CLOCK_MONOTONIC) - t0));
    return 0;
  }
  std::fprintf(stderr, "usage: rt_guest spin MS | spin-until MS FILE MS2 | spin-threads N MS\n");
  return 2;
}
