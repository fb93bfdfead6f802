// A guest for the start-up tests: `startup_guest forks N` forks N short-lived children one after
// another, each writing one byte to /dev/null (a call the agent counts) and ending by exit(3),
// as a fork-per-connection server's children do; the parent waits for each. `startup_guest
// alarms N` calls alarm(2) and getpid(2) N times each (what such a server's children make besides
// their I/O) and checks their answers against the raw system calls; prints "alarms N".
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

int Alarms(int n) {
  const pid_t pid = static_cast<pid_t>(syscall(SYS_getpid));
  for (int i = 0; i < n; ++i) {
    if (getpid() != pid) {
      std::fprintf(stderr, "getpid() says %d, the kernel %d\n", getpid(), pid);
      return 1;
    }
    // An alarm set and taken back: the second call returns what was left of the first.
    alarm(1000);
    const unsigned left = alarm(0);
    if (left == 0 || left > 1000) {
      std::fprintf(stderr, "alarm(0) after alarm(1000) returned %u\n", left);
      return 1;
    }
  }
  std::printf("alarms %d\n", n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "alarms") == 0) {
    return Alarms(std::atoi(argv[2]));
  }
  if (argc != 3 || std::strcmp(argv[1], "forks") != 0) {
    std::fprintf(stderr, "usage: startup_guest forks N | alarms N\n");
    return 64;
  }
  const int n = std::atoi(argv[2]);
  const int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  for (int i = 0; i < n; ++i) {
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("fork");
      return 1;
    }
    if (pid == 0) {
      std::exit(write(null_fd, "x", 1) == 1 ? 0 : 1);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "child %d failed\n", i);
      return 1;
    }
  }
  std::printf("forked %d\n", n);
  return 0;
}
