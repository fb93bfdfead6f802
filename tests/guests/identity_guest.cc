// A guest that recycles thread ids on purpose (tests/integration/identity_test.cc).
//
//   identity_guest reuse ALLOWED DENIED MAX_FORKS
//
// Opens ALLOWED as descriptor 3, runs 64 short threads one after another (each makes one
// getppid(2), so the supervisor sees every thread id), prints them, then forks children until
// one of them gets a pid that one of those threads had, at most MAX_FORKS times. Every child makes
// one getpgrp(2), puts DENIED at its own descriptor 3 (read-only) and opens /proc/self/fd/3 for
// writing with O_TRUNC, the way a child whose recycled id is taken for its parent's would reach
// its parent's ALLOWED file in a supervisor's eyes. A child exits 42 when that open fails with
// EACCES (the supervisor judged the child's own descriptor), 1 when it succeeded (it then writes
// "PWNED" through it), 43 for any other errno. Prints one line per outcome and the summary:
//   main: PID
//   threads: TID TID ...
//   reuse: after N forks child PID had a thread's id
//   children: N denied, M opened, K other
// and exits 0 when every child was denied, 1 when any opened, 3 when no id came back.
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <thread>

namespace {

int Child(const char* denied) {
  syscall(SYS_getpgrp);
  const int d = open(denied, O_RDONLY | O_CLOEXEC);
  if (d < 0 || dup2(d, 3) != 3) {
    return 44;
  }
  if (d != 3) {
    close(d);
  }
  const int w = open("/proc/self/fd/3", O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (w >= 0) {
    (void)!write(w, "PWNED", 5);
    return 1;
  }
  return errno == EACCES ? 42 : 43;
}

int Reuse(const char* allowed, const char* denied, long max_forks) {
  const int a = open(allowed, O_RDWR | O_CLOEXEC);
  if (a < 0 || dup2(a, 3) != 3) {
    std::printf("reuse: open %s: %s\n", allowed, std::strerror(errno));
    return 2;
  }
  std::printf("main: %d\n", getpid());
  std::set<pid_t> tids;
  std::string line = "threads:";
  for (int i = 0; i < 64; ++i) {
    pid_t tid = 0;
    std::thread t([&tid] {
      tid = gettid();
      syscall(SYS_getppid);
    });
    t.join();
    tids.insert(tid);
    line += " " + std::to_string(tid);
  }
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  long denied_n = 0, opened = 0, other = 0, forks = 0;
  pid_t hit = 0;
  while (forks < max_forks && hit == 0) {
    const pid_t c = fork();
    if (c < 0) {
      std::printf("reuse: fork: %s\n", std::strerror(errno));
      return 2;
    }
    if (c == 0) {
      _exit(Child(denied));
    }
    ++forks;
    int status = 0;
    while (waitpid(c, &status, 0) < 0 && errno == EINTR) {
    }
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code == 42) {
      ++denied_n;
    } else if (code == 1) {
      ++opened;
      std::printf("child %d: opened /proc/self/fd/3 for writing\n", c);
    } else {
      ++other;
      std::printf("child %d: exit %d\n", c, code);
    }
    if (tids.count(c) != 0) {
      hit = c;
    }
  }
  if (hit != 0) {
    std::printf("reuse: after %ld forks child %d had a thread's id\n", forks, hit);
  } else {
    std::printf("reuse: no thread id came back in %ld forks\n", forks);
  }
  std::printf("children: %ld denied, %ld opened, %ld other\n", denied_n, opened, other);
  if (opened > 0 || other > 0) {
    return 1;
  }
  return hit != 0 ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::strcmp(argv[1], "reuse") == 0) {
    return Reuse(argv[2], argv[3], std::atol(argv[4]));
  }
  std::fprintf(stderr, "usage: identity_guest reuse ALLOWED DENIED MAX_FORKS\n");
  return 2;
}
