// fs_holes_guest: a guest that tries to reach files that fs_guard or exec_guard deny by a way
// other than their name (tests/integration/fs_holes_test.cc). Each step prints "<step>: ok" or
// "<step>: <ERRNO NAME>", and a file read prints "content: <text>".
//
//   fs_holes_guest link SRC DST             linkat SRC to DST, then read DST
//   fs_holes_guest rename DIR NEW REL       rename DIR (an ancestor of a denied path) to NEW,
//                                           then read NEW/REL
//   fs_holes_guest bind-mount SRC DST       unshare a mount namespace (a user namespace first
//                                           when that is refused), bind SRC on DST, read DST
//   fs_holes_guest clone-newns SRC DST      the same from a child of clone(CLONE_NEWNS), and
//                                           clone3(CLONE_NEWNS)
//   fs_holes_guest open-tree DIR NAME       open_tree(DIR, OPEN_TREE_CLONE), read NAME in it
//   fs_holes_guest chroot DIR NAME          chroot(DIR), then read /NAME
//   fs_holes_guest new-mount-api DIR        fsopen("tmpfs"), fspick(DIR), mount_setattr(DIR)
//   fs_holes_guest handle FILE              name_to_handle_at FILE, open_by_handle_at, read
//   fs_holes_guest open-deleted FILE        hold FILE open for reading, unlink it, open it
//                                           for writing through /proc/self/fd/N and write
//   fs_holes_guest exec-deleted PROGRAM     open PROGRAM, unlink it, execveat(fd, "",
//                                           AT_EMPTY_PATH) with argv {PROGRAM, "EXECUTED"}
//   fs_holes_guest symlink FILE LINK        symlink LINK -> FILE, then read LINK
//   fs_holes_guest ordinary DIR             rename, link and symlink inside DIR, read back
//   fs_holes_guest exec-race OK BAD N       N children each exec OK while a thread flips the
//                                           path to BAD; prints how often each program ran
//                                           (OK exits 0, BAD exits 1)
//   fs_holes_guest open-race OK BAD N       N opens of OK while a thread flips the path to
//                                           BAD; prints how often BAD's content ("SECRET")
//                                           was read
#include <fcntl.h>
#include <linux/mount.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "tests/support/guest_output.h"

namespace {

using hijack::testing::ErrName;
using hijack::testing::Step;

// Opens `path` (relative to `dirfd`) for reading and prints what it holds.
void Read(const char* step, int dirfd, const char* path) {
  int fd = static_cast<int>(Step(step, openat(dirfd, path, O_RDONLY | O_CLOEXEC)));
  if (fd < 0) {
    return;
  }
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  buf[n > 0 ? n : 0] = '\0';
  std::printf("content: %s\n", buf);
  std::fflush(stdout);
  close(fd);
}

int Link(const char* src, const char* dst) {
  if (Step("link", linkat(AT_FDCWD, src, AT_FDCWD, dst, 0)) == 0) {
    Read("open link", AT_FDCWD, dst);
  }
  return 0;
}

int Rename(const char* dir, const char* to, const char* rel) {
  if (Step("rename", rename(dir, to)) == 0) {
    Read("open moved", AT_FDCWD, (std::string(to) + "/" + rel).c_str());
  }
  return 0;
}

// A mount namespace of the caller's own: directly as root, through a user namespace otherwise.
long NewMountNamespace() {
  if (unshare(CLONE_NEWNS) == 0) {
    return 0;
  }
  return unshare(CLONE_NEWUSER | CLONE_NEWNS);
}

int BindMount(const char* src, const char* dst) {
  if (Step("unshare", NewMountNamespace()) != 0) {
    return 0;
  }
  // Private, so that the bind stays in this namespace.
  mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
  if (Step("mount", mount(src, dst, nullptr, MS_BIND, nullptr)) == 0) {
    Read("open bound", AT_FDCWD, dst);
  }
  return 0;
}

int CloneNewns(const char* src, const char* dst) {
  long pid = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid == 0) {
    mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
    if (Step("child mount", mount(src, dst, nullptr, MS_BIND, nullptr)) == 0) {
      Read("child open bound", AT_FDCWD, dst);
    }
    _exit(0);
  }
  if (Step("clone newns", pid) > 0) {
    waitpid(static_cast<pid_t>(pid), nullptr, 0);
  }
  clone_args args{};
  args.flags = CLONE_NEWNS;
  args.exit_signal = SIGCHLD;
  pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) {
    _exit(0);
  }
  if (Step("clone3 newns", pid) > 0) {
    waitpid(static_cast<pid_t>(pid), nullptr, 0);
  }
  return 0;
}

int OpenTree(const char* dir, const char* name) {
  int tree = static_cast<int>(
      Step("open_tree", syscall(SYS_open_tree, AT_FDCWD, dir, OPEN_TREE_CLONE | O_CLOEXEC)));
  if (tree >= 0) {
    Read("openat tree", tree, name);
  }
  return 0;
}

int Chroot(const char* dir, const char* name) {
  if (Step("chroot", chroot(dir)) == 0) {
    Read("open in root", AT_FDCWD, (std::string("/") + name).c_str());
  }
  return 0;
}

int NewMountApi(const char* dir) {
  Step("fsopen", syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC));
  Step("fspick", syscall(SYS_fspick, AT_FDCWD, dir, FSPICK_CLOEXEC));
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  Step("mount_setattr", syscall(SYS_mount_setattr, AT_FDCWD, dir, 0, &attr, sizeof attr));
  Step("umount2", umount2(dir, 0));
  Step("pivot_root", syscall(SYS_pivot_root, dir, dir));
  Step("setns", setns(0, 0));
  return 0;
}

int Handle(const char* file) {
  struct {
    file_handle h;
    unsigned char bytes[MAX_HANDLE_SZ];
  } handle{};
  handle.h.handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (Step("name_to_handle_at", name_to_handle_at(AT_FDCWD, file, &handle.h, &mount_id, 0)) != 0) {
    // Without a handle of its own the guest still tries a forged one: the call is refused
    // before the kernel reads it.
    handle.h.handle_bytes = 8;
    handle.h.handle_type = 1;
  }
  // Any open directory of the same mount names it (not an O_PATH one: EBADF); the file's
  // grandparent, since the parent may be denied.
  std::string dir = file;
  for (int up = 0; up < 2; ++up) {
    dir = dir.substr(0, std::max<size_t>(dir.rfind('/'), 1));
  }
  int mount_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int fd = static_cast<int>(
      Step("open_by_handle_at", open_by_handle_at(mount_fd, &handle.h, O_RDONLY | O_CLOEXEC)));
  if (fd >= 0) {
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    std::printf("content: %s\n", buf);
  }
  return 0;
}

int OpenDeleted(const char* file) {
  int held = static_cast<int>(Step("hold", open(file, O_RDONLY | O_CLOEXEC)));
  if (held < 0 || Step("unlink", unlink(file)) != 0) {
    return 0;
  }
  const std::string self = "/proc/self/fd/" + std::to_string(held);
  int fd = static_cast<int>(Step("open deleted", open(self.c_str(), O_WRONLY | O_CLOEXEC)));
  if (fd >= 0) {
    Step("write", write(fd, "PWNED", 5));
  }
  return 0;
}

int ExecDeleted(const char* program) {
  int fd = static_cast<int>(Step("hold", open(program, O_RDONLY | O_CLOEXEC)));
  if (fd < 0 || Step("unlink", unlink(program)) != 0) {
    return 0;
  }
  char* const argv[] = {const_cast<char*>(program), const_cast<char*>("EXECUTED"), nullptr};
  char* const envp[] = {nullptr};
  Step("execveat", syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH));
  return 0;
}

int Symlink(const char* file, const char* link) {
  if (Step("symlink", symlink(file, link)) == 0) {
    Read("open symlink", AT_FDCWD, link);
  }
  return 0;
}

int Ordinary(const std::string& dir) {
  const std::string a = dir + "/a", b = dir + "/b", c = dir + "/c", d = dir + "/d";
  int fd = open(a.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (Step("create", fd) < 0 || write(fd, "plain", 5) != 5) {
    return 1;
  }
  close(fd);
  Step("rename file", rename(a.c_str(), b.c_str()));
  Step("link file", link(b.c_str(), c.c_str()));
  Step("symlink file", symlink(c.c_str(), d.c_str()));
  const std::string sub = dir + "/sub", moved = dir + "/moved";
  Step("mkdir", mkdir(sub.c_str(), 0755));
  Step("rename dir", rename(sub.c_str(), moved.c_str()));
  Read("open renamed", AT_FDCWD, b.c_str());
  Read("open linked", AT_FDCWD, d.c_str());
  return 0;
}

// Children exec `ok` while a thread of theirs rewrites the path buffer to `bad` and back. The
// path is one buffer of fixed size, so each flip is a plain copy.
int ExecRace(const char* ok, const char* bad, int n) {
  int ran_ok = 0, ran_bad = 0, refused = 0, other = 0;
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      static char path[4096];
      std::strncpy(path, ok, sizeof path - 1);
      std::thread([&] {
        for (unsigned flip = 0;; ++flip) {
          std::strncpy(path, flip % 2 ? bad : ok, sizeof path - 1);
        }
      }).detach();
      char* const argv[] = {path, nullptr};
      char* const envp[] = {nullptr};
      syscall(SYS_execve, path, argv, envp);
      _exit(errno == EACCES ? 2 : 3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    (code == 0 ? ran_ok : code == 1 ? ran_bad : code == 2 ? refused : other)++;
  }
  std::printf("exec-race: ok=%d bad=%d refused=%d other=%d\n", ran_ok, ran_bad, refused, other);
  return 0;
}

// Opens `ok` `n` times while a thread rewrites the path buffer to `bad` and back; prints how
// often the content read was `bad`'s ("SECRET"), `ok`'s, or the open was refused.
int OpenRace(const char* ok, const char* bad, int n) {
  static char path[4096];
  std::strncpy(path, ok, sizeof path - 1);
  std::atomic<bool> stop{false};
  std::thread flipper([&] {
    for (unsigned flip = 0; !stop.load(std::memory_order_relaxed); ++flip) {
      std::strncpy(path, flip % 2 ? bad : ok, sizeof path - 1);
    }
  });
  int secret = 0, plain = 0, refused = 0, other = 0;
  for (int i = 0; i < n; ++i) {
    int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
    if (fd < 0) {
      (errno == EACCES ? refused : other)++;
      continue;
    }
    char buf[16] = {};
    ssize_t got = read(fd, buf, sizeof buf - 1);
    close(fd);
    (got == 6 && std::memcmp(buf, "SECRET", 6) == 0 ? secret : plain)++;
  }
  stop = true;
  flipper.join();
  std::printf("open-race: secret=%d plain=%d refused=%d other=%d\n", secret, plain, refused,
              other);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::string cmd = argc > 1 ? argv[1] : "";
  auto arg = [&](int i) -> const char* { return i < argc ? argv[i] : ""; };
  if (cmd == "link" && argc == 4) return Link(arg(2), arg(3));
  if (cmd == "rename" && argc == 5) return Rename(arg(2), arg(3), arg(4));
  if (cmd == "bind-mount" && argc == 4) return BindMount(arg(2), arg(3));
  if (cmd == "clone-newns" && argc == 4) return CloneNewns(arg(2), arg(3));
  if (cmd == "open-tree" && argc == 4) return OpenTree(arg(2), arg(3));
  if (cmd == "chroot" && argc == 4) return Chroot(arg(2), arg(3));
  if (cmd == "new-mount-api" && argc == 3) return NewMountApi(arg(2));
  if (cmd == "handle" && argc == 3) return Handle(arg(2));
  if (cmd == "open-deleted" && argc == 3) return OpenDeleted(arg(2));
  if (cmd == "exec-deleted" && argc == 3) return ExecDeleted(arg(2));
  if (cmd == "symlink" && argc == 4) return Symlink(arg(2), arg(3));
  if (cmd == "ordinary" && argc == 3) return Ordinary(arg(2));
  if (cmd == "open-race" && argc == 5) return OpenRace(arg(2), arg(3), std::atoi(arg(4)));
  if (cmd == "exec-race" && argc == 5) return ExecRace(arg(2), arg(3), std::atoi(arg(4)));
  std::fprintf(stderr, "usage: fs_holes_guest <attack> ARGS... (see the source)\n");
  return 2;
}
