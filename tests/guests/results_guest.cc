// A guest whose calls fail with known errnos, for the results suite
// (tests/integration/results_test.cc): each round makes, in this order,
//
//   open("/nonexistent/results-guest", O_RDONLY)          -> ENOENT  (libc's exported open)
//   close(-1)                                             -> EBADF
//   read(-1, buf, 1)                                      -> EBADF
//   opendir("/nonexistent/results-guest-dir")             -> openat ENOENT (libc-internal)
//   fopen("/nonexistent/results-guest-file", "r")         -> openat ENOENT (libc-internal)
//   syscall(SYS_openat, AT_FDCWD, "/nonexistent/raw", 0)  -> ENOENT  (a raw syscall instruction)
//   syscall(SYS_mkdir, "/", 0755)                         -> EEXIST
//   open("/dev/null", O_RDONLY) and close() of it         -> a descriptor, 0
//
//   results_guest ROUNDS
//
// and prints "rounds N" once the rounds are done. Each errno is checked: a guest that saw another
// one exits 1 saying which call, since a supervisor must never change what a call returns.
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

bool Expect(const char* what, long ret, int want) {
  if (ret == -1 && errno == want) {
    return true;
  }
  std::fprintf(stderr, "%s returned %ld, errno %s; expected %s\n", what, ret,
               strerrorname_np(errno), strerrorname_np(want));
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s ROUNDS\n", argv[0]);
    return 2;
  }
  const int rounds = std::atoi(argv[1]);
  char buf[1];
  for (int i = 0; i < rounds; ++i) {
    bool ok = Expect("open", open("/nonexistent/results-guest", O_RDONLY), ENOENT) &&
              Expect("close", close(-1), EBADF) && Expect("read", read(-1, buf, 1), EBADF);
    errno = 0;
    DIR* dir = opendir("/nonexistent/results-guest-dir");
    ok = ok && Expect("opendir", dir == nullptr ? -1 : 0, ENOENT);
    errno = 0;
    FILE* file = std::fopen("/nonexistent/results-guest-file", "r");
    ok = ok && Expect("fopen", file == nullptr ? -1 : 0, ENOENT);
    ok = ok && Expect("raw openat", syscall(SYS_openat, AT_FDCWD, "/nonexistent/raw", O_RDONLY),
                      ENOENT);
    ok = ok && Expect("raw mkdir", syscall(SYS_mkdir, "/", 0755), EEXIST);
    const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (!ok || fd < 0 || close(fd) != 0) {
      return 1;
    }
  }
  std::printf("rounds %d\n", rounds);
  return 0;
}
