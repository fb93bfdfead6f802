// A guest that attacks the file and network rules of its policy the ways that name matching
// alone can miss (tests/integration/landlock_test.cc): each attack prints "leaked: ..." when it
// reached what the policy denies, else "blocked: <step> <ERRNO>".
//
//   landlock_guest link DIR          a hard link in DIR/work to DIR/vault/secret, read through it
//   landlock_guest rename DIR        DIR/vault moved into DIR/work, the secret read there
//   landlock_guest bind-mount DIR    a user and mount namespace; DIR/vault bind-mounted on work
//   landlock_guest open-tree DIR     a user and mount namespace; a detached clone of DIR/vault
//   landlock_guest chroot DIR        a user namespace; chroot into DIR/vault
//   landlock_guest exec-deleted DIR  DIR/work/tool (a copy of echo) opened, unlinked, execveat'd
//   landlock_guest race-open DIR N   N opens of an allowed name a thread flips to the secret
//   landlock_guest race-exec DIR N   N execs of an allowed program a thread flips to DIR/work/tool
//   landlock_guest connect PORT      connect to 127.0.0.1:PORT ("connected" or "blocked: ...")
//   landlock_guest race-connect OK BAD N   N connects to OK, a thread flips the port to BAD
//   landlock_guest bind PORT         bind 127.0.0.1:PORT
//   landlock_guest work DIR          ordinary allowed work in DIR/work: read, write, mkdir,
//                                    renames within and across its directories, unlink, exec
//
// The test makes DIR/work (allowed), DIR/work/allowed.txt, DIR/vault/secret ("TOPSECRET") and
// DIR/work/tool before it starts the guest.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "tests/support/sockets.h"

namespace {

using hijack::testing::FlipConnect;
using hijack::testing::FlipCount;
using hijack::testing::Loopback;

#ifndef OPEN_TREE_CLONE
constexpr unsigned kOpenTreeClone = 1;
#else
constexpr unsigned kOpenTreeClone = OPEN_TREE_CLONE;
#endif

int Blocked(const char* step, int err) {
  std::printf("blocked: %s %s\n", step, strerrorname_np(err));
  return 0;
}

// Reads `path` (relative to `dirfd`) and reports whether it gave the secret.
int ReadAndReport(int dirfd, const std::string& path, const char* step) {
  const int fd = openat(dirfd, path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Blocked(step, errno);
  }
  char buf[64] = {};
  const ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n > 0 && std::strstr(buf, "TOPSECRET") != nullptr) {
    std::printf("leaked: %s\n", step);
  } else {
    std::printf("blocked: %s read %zd bytes of something else\n", step, n);
  }
  return 0;
}

int Link(const std::string& dir) {
  const std::string link = dir + "/work/link";
  if (linkat(AT_FDCWD, (dir + "/vault/secret").c_str(), AT_FDCWD, link.c_str(), 0) != 0) {
    return Blocked("linkat", errno);
  }
  return ReadAndReport(AT_FDCWD, link, "open of the link");
}

int Rename(const std::string& dir) {
  if (rename((dir + "/vault").c_str(), (dir + "/work/vault").c_str()) != 0) {
    return Blocked("rename", errno);
  }
  return ReadAndReport(AT_FDCWD, dir + "/work/vault/secret", "open after the rename");
}

int BindMount(const std::string& dir) {
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
    return Blocked("unshare", errno);
  }
  if (mount((dir + "/vault").c_str(), (dir + "/work").c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return Blocked("mount", errno);
  }
  return ReadAndReport(AT_FDCWD, dir + "/work/secret", "open through the bind mount");
}

int OpenTree(const std::string& dir) {
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
    return Blocked("unshare", errno);
  }
  const int tree = static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, (dir + "/vault").c_str(),
                                            kOpenTreeClone | O_CLOEXEC));
  if (tree < 0) {
    return Blocked("open_tree", errno);
  }
  return ReadAndReport(tree, "secret", "openat in the detached tree");
}

int Chroot(const std::string& dir) {
  if (unshare(CLONE_NEWUSER) != 0) {
    return Blocked("unshare", errno);
  }
  if (chroot((dir + "/vault").c_str()) != 0) {
    return Blocked("chroot", errno);
  }
  if (chdir("/") != 0) {
    return Blocked("chdir", errno);
  }
  return ReadAndReport(AT_FDCWD, "/secret", "open in the chroot");
}

int ExecDeleted(const std::string& dir) {
  const std::string tool = dir + "/work/tool";
  const int fd = open(tool.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Blocked("open", errno);
  }
  if (unlink(tool.c_str()) != 0) {
    return Blocked("unlink", errno);
  }
  char arg0[] = "tool", arg1[] = "leaked: execveat of the deleted file";
  char* argv[] = {arg0, arg1, nullptr};
  char* envp[] = {nullptr};
  syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
  return Blocked("execveat", errno);
}

// A buffer another thread keeps rewriting between two NUL-terminated strings.
class FlippingBuffer {
 public:
  FlippingBuffer(const std::string& a, const std::string& b) : a_(a), b_(b) {
    std::memcpy(buf_, a.c_str(), a.size() + 1);
    flipper_ = std::thread([this] {
      for (uint64_t i = 0; !stop_.load(std::memory_order_relaxed); ++i) {
        const std::string& s = (i & 1) ? b_ : a_;
        std::memcpy(buf_, s.c_str(), s.size() + 1);
      }
    });
  }
  ~FlippingBuffer() {
    stop_.store(true);
    flipper_.join();
  }
  char* get() { return buf_; }

 private:
  const std::string a_, b_;
  char buf_[4096] = {};
  std::atomic<bool> stop_{false};
  std::thread flipper_;
};

int RaceOpen(const std::string& dir, int rounds) {
  int leaked = 0, opened = 0;
  {
    FlippingBuffer path(dir + "/work/allowed.txt", dir + "/vault/secret");
    for (int i = 0; i < rounds; ++i) {
      const int fd = open(path.get(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        continue;
      }
      ++opened;
      char buf[64] = {};
      if (read(fd, buf, sizeof buf - 1) > 0 && std::strstr(buf, "TOPSECRET") != nullptr) {
        ++leaked;
      }
      close(fd);
    }
  }
  std::printf("%s: %d of %d opens read the secret (%d opened)\n", leaked ? "leaked" : "blocked",
              leaked, rounds, opened);
  return 0;
}

int RaceExec(const std::string& dir, int rounds) {
  int leaked = 0;
  for (int i = 0; i < rounds; ++i) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
      return Blocked("pipe2", errno);
    }
    const pid_t pid = fork();
    if (pid == 0) {
      dup2(out[1], 1);
      FlippingBuffer path("/usr/bin/true", dir + "/work/tool");
      char arg0[] = "x", arg1[] = "TOOLRAN";
      char* argv[] = {arg0, arg1, nullptr};
      char* envp[] = {nullptr};
      execve(path.get(), argv, envp);
      _exit(127);  // the buffer's destructor would join a thread that never stops otherwise
    }
    close(out[1]);
    char buf[64] = {};
    ssize_t n = 0, got;
    while ((got = read(out[0], buf + n, sizeof buf - 1 - static_cast<size_t>(n))) > 0) {
      n += got;
    }
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (std::strstr(buf, "TOOLRAN") != nullptr) {
      ++leaked;
    }
  }
  std::printf("%s: %d of %d execs ran the denied program\n", leaked ? "leaked" : "blocked", leaked,
              rounds);
  return 0;
}

int Connect(int port) {
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa = Loopback(port);
  if (connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    return Blocked("connect", errno);
  }
  std::printf("connected: %d\n", port);
  return 0;
}

int RaceConnect(int ok, int bad, int rounds) {
  const FlipCount n = FlipConnect(ok, bad, rounds);
  std::printf("%s: %d of %d connects reached the denied port (%d connected)\n",
              n.reached_bad ? "leaked" : "blocked", n.reached_bad, rounds, n.connected);
  return 0;
}

int Bind(int port) {
  const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa = Loopback(port);
  if (bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    return Blocked("bind", errno);
  }
  std::printf("bound: %d\n", port);
  return 0;
}

int Work(const std::string& dir) {
  const std::string w = dir + "/work";
  auto fail = [](const char* what) {
    std::printf("work failed: %s: %s\n", what, strerrorname_np(errno));
    return 1;
  };
  char buf[16] = {};
  int fd = open((w + "/allowed.txt").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0) {
    return fail("read allowed.txt");
  }
  close(fd);
  fd = open((w + "/new.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, "new\n", 4) != 4) {
    return fail("write new.txt");
  }
  close(fd);
  if (mkdir((w + "/a").c_str(), 0755) != 0 || mkdir((w + "/b").c_str(), 0755) != 0) {
    return fail("mkdir");
  }
  if (rename((w + "/new.txt").c_str(), (w + "/a/moved.txt").c_str()) != 0) {
    return fail("rename into a subdirectory");
  }
  if (rename((w + "/a/moved.txt").c_str(), (w + "/b/moved.txt").c_str()) != 0) {
    return fail("rename across subdirectories");
  }
  // A rename onto an existing name, as an atomic save does.
  fd = open((w + "/b/next.txt").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return fail("create next.txt");
  }
  close(fd);
  if (rename((w + "/b/next.txt").c_str(), (w + "/b/moved.txt").c_str()) != 0) {
    return fail("rename over an existing file");
  }
  if (unlink((w + "/b/moved.txt").c_str()) != 0 || rmdir((w + "/a").c_str()) != 0 ||
      rmdir((w + "/b").c_str()) != 0) {
    return fail("unlink, rmdir");
  }
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/usr/bin/true", "true", nullptr);
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail("exec /usr/bin/true");
  }
  std::printf("work ok\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IONBF, 0);
  if (argc < 3) {
    std::fprintf(stderr, "usage: landlock_guest ATTACK ARGS...\n");
    return 2;
  }
  const std::string what = argv[1];
  const std::string arg = argv[2];
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 0;
  if (what == "link") return Link(arg);
  if (what == "rename") return Rename(arg);
  if (what == "bind-mount") return BindMount(arg);
  if (what == "open-tree") return OpenTree(arg);
  if (what == "chroot") return Chroot(arg);
  if (what == "exec-deleted") return ExecDeleted(arg);
  if (what == "race-open") return RaceOpen(arg, rounds);
  if (what == "race-exec") return RaceExec(arg, rounds);
  if (what == "connect") return Connect(std::atoi(arg.c_str()));
  if (what == "race-connect" && argc > 4) {
    return RaceConnect(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]));
  }
  if (what == "bind") return Bind(std::atoi(arg.c_str()));
  if (what == "work") return Work(arg);
  std::fprintf(stderr, "landlock_guest: unknown attack %s\n", what.c_str());
  return 2;
}
