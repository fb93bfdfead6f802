// A guest whose calls have structures in and out, for the strace comparison of struct decoding
// (strace2_test.cc): every call is made with syscall(2), so that the C library adds or hides
// none, and their order is fixed.
//
//   strace2_guest structs FILE   fstat, newfstatat (a file, /dev/null, a missing name), read
//                                of FILE (its bytes on return), pipe2, socketpair, wait4 of a
//                                child that exits with 3, nanosleep, clock_nanosleep,
//                                clock_gettime, socket with protocols, setsockopt, getsockopt
//   strace2_guest thread         one pthread: glibc makes it with clone3
//   strace2_guest wait FD        writes "r" to FD and sleeps in read(2) of its stdin until it
//                                ends, then exits with 7: a process to attach to (-p)
//   strace2_guest write N        one write(2) of N bytes ("0123456789" over and over) to
//                                /dev/null, for -s
//   strace2_guest loop FD STATUS [threads|forks]
//                                writes "r" to FD, then until its stdin is readable (a byte or
//                                its end) writes "tick-main" to /dev/null and polls stdin for
//                                10 ms, over and over; with "threads" a second thread writes
//                                "tick-thread" likewise; with "forks" each round forks a child
//                                that calls exit_group(5), and waits for it. Then
//                                exit_group(STATUS): a process to attach to (-p) while it makes
//                                calls
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int Structs(const char* file) {
  const int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, file, O_RDONLY));
  if (fd < 0) {
    std::perror(file);
    return 1;
  }
  struct stat st;
  syscall(SYS_fstat, fd, &st);
  syscall(SYS_newfstatat, AT_FDCWD, file, &st, 0);
  syscall(SYS_newfstatat, AT_FDCWD, "/dev/null", &st, 0);
  syscall(SYS_newfstatat, AT_FDCWD, "/nonexistent/strace2", &st, 0);
  char buf[64];
  syscall(SYS_read, fd, buf, sizeof buf);
  syscall(SYS_read, fd, buf, sizeof buf);
  int fds[2];
  syscall(SYS_pipe2, fds, O_CLOEXEC);
  int pair[2];
  syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, pair);
  const pid_t child = fork();
  if (child == 0) {
    syscall(SYS_exit_group, 3);
  }
  int status = 0;
  syscall(SYS_wait4, -1, &status, 0, nullptr);
  const timespec short_nap{0, 1000};
  syscall(SYS_nanosleep, &short_nap, nullptr);
  syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &short_nap, nullptr);
  timespec now;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &now);
  const int tcp = static_cast<int>(syscall(SYS_socket, AF_INET, SOCK_STREAM, IPPROTO_TCP));
  syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
  const int one = 1;
  syscall(SYS_setsockopt, tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  syscall(SYS_setsockopt, tcp, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int type = 0;
  socklen_t len = sizeof type;
  syscall(SYS_getsockopt, tcp, SOL_SOCKET, SO_TYPE, &type, &len);
  return 0;
}

void* Nothing(void*) { return nullptr; }

int Write(size_t n) {
  const int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  std::string data;
  for (size_t i = 0; i < n; ++i) {
    data += static_cast<char>('0' + i % 10);
  }
  return syscall(SYS_write, fd, data.data(), data.size()) == static_cast<long>(n) ? 0 : 1;
}

int g_null = -1;

void* TickThread(void*) {
  for (;;) {
    syscall(SYS_write, g_null, "tick-thread", 11);
    const timespec nap{0, 10'000'000};
    syscall(SYS_nanosleep, &nap, nullptr);
  }
  return nullptr;
}

int Loop(int ready, int status, bool threads, bool forks) {
  g_null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  pthread_t t;
  if (threads && pthread_create(&t, nullptr, TickThread, nullptr) != 0) {
    return 1;
  }
  if (write(ready, "r", 1) != 1) {
    return 1;
  }
  close(ready);
  for (;;) {
    syscall(SYS_write, g_null, "tick-main", 9);
    if (forks) {
      const pid_t child = fork();
      if (child == 0) {
        syscall(SYS_exit_group, 5);
      }
      int child_status = 0;
      syscall(SYS_wait4, child, &child_status, 0, nullptr);
    }
    pollfd in{0, POLLIN, 0};
    if (poll(&in, 1, 10) != 0) {
      break;  // a byte, the end of stdin, or an error: time to go
    }
  }
  syscall(SYS_exit_group, status);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (std::strcmp(mode, "structs") == 0 && argc > 2) {
    return Structs(argv[2]);
  }
  if (std::strcmp(mode, "thread") == 0) {
    pthread_t t;
    if (pthread_create(&t, nullptr, Nothing, nullptr) != 0) {
      return 1;
    }
    pthread_join(t, nullptr);
    return 0;
  }
  if (std::strcmp(mode, "wait") == 0 && argc > 2) {
    const int ready = std::atoi(argv[2]);
    if (write(ready, "r", 1) != 1) {
      return 1;
    }
    close(ready);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    return 7;
  }
  if (std::strcmp(mode, "write") == 0 && argc > 2) {
    return Write(std::strtoul(argv[2], nullptr, 10));
  }
  if (std::strcmp(mode, "loop") == 0 && argc > 3) {
    return Loop(std::atoi(argv[2]), std::atoi(argv[3]),
                argc > 4 && std::strcmp(argv[4], "threads") == 0,
                argc > 4 && std::strcmp(argv[4], "forks") == 0);
  }
  std::fprintf(stderr,
               "usage: strace2_guest structs FILE | thread | wait FD | write N | "
               "loop FD STATUS [threads|forks]\n");
  return 2;
}
