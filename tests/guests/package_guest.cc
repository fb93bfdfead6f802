// A guest for the installation tests (tests/integration/package_test.cc).
//
//   package_guest personality   asks for the execution domain (personality(2), 0xffffffff
//                               queries without changing it) and prints "personality: ok" or
//                               "personality: <errno name>"; exit 0 either way
#include <sys/personality.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "personality") == 0) {
    errno = 0;
    const int r = personality(0xffffffff);
    if (r == -1) {
      std::printf("personality: %s\n", strerrorname_np(errno));
    } else {
      std::printf("personality: ok\n");
    }
    return 0;
  }
  std::fprintf(stderr, "usage: package_guest personality\n");
  return 2;
}
