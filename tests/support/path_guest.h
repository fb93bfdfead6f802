// What the path-call guests (tests/guests/confine*_guest.cc) share: one line per call with the
// errno's name, what a name is (file, directory, symlink...), files read and written whole,
// capabilities dropped and the switch to uid 65534 for the "fewer rights" part of a sequence,
// and the flipped-name buffer of their race tests.
//
//   Report("mkdir", mkdir("m", 0777));              // "mkdir: 0" or "mkdir: EEXIST"
//   FlippedName name(dir + "/work/", "public", "secret");
//   FlipperThread flipper(name);                      // flips on another CPU until destroyed
//   unlink(name.path());                              // the kernel reads one name or the other
//
// Guests stand for unmodified programs: this header uses libc and the kernel's headers only.
// Threads: Report prints to stdout, from one thread at a time; FlipperThread owns its thread.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <thread>

namespace hijack::testing {

// "0" for 0, else the errno's symbolic name (strerrorname_np(3)).
inline const char* Name(int err) {
  const char* name = err == 0 ? "0" : strerrorname_np(err);
  return name != nullptr ? name : "E?";
}

// Prints "WHAT: 0" for a call's result rc >= 0, else "WHAT: ERRNO".
inline void Report(const char* what, long rc) {
  std::printf("%s: %s\n", what, Name(rc < 0 ? errno : 0));
}

inline std::string ReadFd(int fd) {
  std::string text;
  char buf[64];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) {
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

// The whole file, or "" when it cannot be opened.
inline std::string ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return "";
  }
  std::string text = ReadFd(fd);
  close(fd);
  return text;
}

// Replaces the file's contents with `text` (created 0644 under the umask).
inline void WriteFile(const std::string& path, const char* text) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void)!write(fd, text, strlen(text));
    close(fd);
  }
}

// Whether the name exists (a dangling symlink does).
inline bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

// What the name is, not following a final symlink: "missing", "symlink", "fifo", "chardev",
// "dir" or "file".
inline const char* Kind(const char* path) {
  struct stat st {};
  if (lstat(path, &st) != 0) {
    return "missing";
  }
  if (S_ISLNK(st.st_mode)) {
    return "symlink";
  }
  if (S_ISFIFO(st.st_mode)) {
    return "fifo";
  }
  if (S_ISCHR(st.st_mode)) {
    return "chardev";
  }
  return S_ISDIR(st.st_mode) ? "dir" : "file";
}

// The start of a `semantics` sequence, which changes capabilities and uids: as root, enters
// `dir` and makes it 0755 and returns -1 (go on); otherwise prints "semantics: not root" (the
// test skips) and returns 0, or "semantics: chdir: ERRNO" and returns 1.
inline int EnterSemanticsDir(const char* dir) {
  if (geteuid() != 0) {
    std::printf("semantics: not root\n");
    return 0;
  }
  if (chdir(dir) != 0 || chmod(".", 0755) != 0) {
    std::printf("semantics: chdir: %s\n", Name(errno));
    return 1;
  }
  return -1;
}

// Drops capabilities `caps` from the calling thread's effective set (capset(2)); prints
// "capset: ERRNO" and returns false on failure.
inline bool DropEffective(std::initializer_list<int> caps) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) == 0) {
    for (int cap : caps) {
      data[cap / 32].effective &= ~(1u << (cap % 32));
    }
    if (syscall(SYS_capset, &header, data) == 0) {
      return true;
    }
  }
  std::printf("capset: %s\n", Name(errno));
  return false;
}

// Becomes uid and gid `id` with no supplementary groups, for good; prints "setresuid: ERRNO"
// and returns false on failure.
inline bool BecomeUser(unsigned id) {
  if (setgroups(0, nullptr) == 0 && setresgid(id, id, id) == 0 && setresuid(id, id, id) == 0) {
    return true;
  }
  std::printf("setresuid: %s\n", Name(errno));
  return false;
}

inline bool BecomeNobody() { return BecomeUser(65534); }

// Pins the calling thread to `cpu` (sched_setaffinity(2) of thread id 0: this thread only);
// nothing for a negative cpu.
inline void Pin(int cpu) {
  if (cpu >= 0) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    (void)sched_setaffinity(0, sizeof one, &one);
  }
}

// A path `prefix` + NAME whose final component is one aligned 8-byte word, `good` or `evil`
// (each at most 7 characters), so that every read of the buffer sees one name or the other,
// never a mix. valid() is false when the prefix does not fit.
class FlippedName {
 public:
  FlippedName(const std::string& prefix, const char* good, const char* evil) {
    start_ = (8 - prefix.size() % 8) % 8;
    valid_ = start_ + prefix.size() + 16 <= sizeof buf_ && strlen(good) < 8 && strlen(evil) < 8;
    if (!valid_) {
      return;
    }
    std::memcpy(buf_ + start_, prefix.data(), prefix.size());
    std::memcpy(&good_, good, strlen(good));
    std::memcpy(&evil_, evil, strlen(evil));
    word_ = reinterpret_cast<std::atomic<uint64_t>*>(buf_ + start_ + prefix.size());
    word_->store(good_);
  }
  FlippedName(const FlippedName&) = delete;
  FlippedName& operator=(const FlippedName&) = delete;

  bool valid() const { return valid_; }
  const char* path() const { return buf_ + start_; }
  void Flip() {
    word_->store(evil_, std::memory_order_relaxed);
    word_->store(good_, std::memory_order_relaxed);
  }

 private:
  alignas(8) char buf_[4096] = {};
  size_t start_ = 0;
  bool valid_ = false;
  uint64_t good_ = 0;
  uint64_t evil_ = 0;
  std::atomic<uint64_t>* word_ = nullptr;
};

// Flips `name` on a thread of its own until destroyed. With two CPUs or more, the caller is
// pinned to one and the flipper to another: a supervisor woken on the caller's CPU
// (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) would otherwise often run, and answer, while the flipper
// waits for that same CPU, and the kernel would re-read the very bytes it judged.
class FlipperThread {
 public:
  explicit FlipperThread(FlippedName& name) {
    cpu_set_t all;
    const bool spread = sched_getaffinity(0, sizeof all, &all) == 0 && CPU_COUNT(&all) >= 2;
    int cpus[2] = {-1, -1};
    for (int c = 0, n = 0; spread && c < CPU_SETSIZE && n < 2; ++c) {
      if (CPU_ISSET(c, &all)) {
        cpus[n++] = c;
      }
    }
    Pin(cpus[0]);
    thread_ = std::thread([this, &name, cpu = cpus[1]] {
      Pin(cpu);
      while (!stop_.load(std::memory_order_relaxed)) {
        name.Flip();
      }
    });
  }
  ~FlipperThread() {
    stop_.store(true);
    thread_.join();
  }
  FlipperThread(const FlipperThread&) = delete;
  FlipperThread& operator=(const FlipperThread&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The command line every path-call guest takes: `flip OP DIR N`, `semantics DIR`, and at most
// one more mode `extra` of one DIR (confine4's "attacks", confine5's "denied"). Prints `usage`
// and returns 2 for anything else.
struct GuestModes {
  int (*flip)(const std::string& op, const std::string& dir, int rounds);
  int (*semantics)(const char* dir);
  const char* extra = nullptr;
  int (*extra_run)(const std::string& dir) = nullptr;
};

inline int RunGuestMode(int argc, char** argv, const GuestModes& modes, const char* usage) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "flip" && argc == 5) {
    return modes.flip(argv[2], argv[3], std::atoi(argv[4]));
  }
  if (mode == "semantics" && argc == 3) {
    return modes.semantics(argv[2]);
  }
  if (modes.extra != nullptr && mode == modes.extra && argc == 3) {
    return modes.extra_run(argv[2]);
  }
  std::fputs(usage, stderr);
  return 2;
}

}  // namespace hijack::testing
