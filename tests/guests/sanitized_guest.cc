// A program built with AddressSanitizer (and so LeakSanitizer, which checks for leaks when the
// program ends by making a CLONE_UNTRACED child that ptrace-attaches its threads), for the
// transparency suite: natively it prints its lines and exits 0.
//
//   sanitized_guest DIR     write, read back and remove a file in DIR from a second thread
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: sanitized_guest DIR\n");
    return 2;
  }
  const std::string path = std::string(argv[1]) + "/sanitized";
  std::string back;
  std::thread worker([&] {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, "checked\n", 8) != 8) {
      return;
    }
    std::vector<char> buf(64);
    const ssize_t n = pread(fd, buf.data(), buf.size(), 0);
    close(fd);
    unlink(path.c_str());
    if (n > 0) {
      back.assign(buf.data(), static_cast<size_t>(n));
    }
  });
  worker.join();
  std::printf("read back: %s", back.c_str());
  return back == "checked\n" ? 0 : 1;
}
