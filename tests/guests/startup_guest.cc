// A guest for the start-up tests: `startup_guest forks N` forks N short-lived children one after
// another, each writing one byte to /dev/null (a call the agent counts) and ending by exit(3),
// as a fork-per-connection server's children do; the parent waits for each.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc != 3 || std::strcmp(argv[1], "forks") != 0) {
    std::fprintf(stderr, "usage: startup_guest forks N\n");
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
