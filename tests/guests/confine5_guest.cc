// Changes of a file's metadata under fs_guard's "attr" access kind: chmod, chown, the utime
// family and the xattr calls by name, which strict mode makes in the supervisor on the object
// it judged (tests/integration/confine5_test.cc):
//
//   confine5_guest flip OP DIR N
//       N calls of OP (chmod, chown, utimes, setxattr) on one buffer naming DIR/work/public,
//       whose last component a thread on another CPU flips to "secret" (a rule denies
//       DIR/work/secret). An escape is the secret's mode, owner, modification time or
//       user.flip attribute changed. Prints "escaped: K of N (done D, refused R, first escape in
//       round F)"; the run ends at the first escape (the guest cannot put the secret back).
//   confine5_guest semantics DIR
//       a fixed sequence of those calls in DIR (which must be empty), each printed as
//       "NAME: RESULT" (0 or the errno name) with what it left behind, then with fewer
//       capabilities and as uid/gid 65534: run natively and under the supervisor, the outputs
//       must match. Needs root (prints "semantics: not root" otherwise).
//   confine5_guest userns DIR
//       chown and chmod from a child in a user namespace whose root is uid 1000 outside, each
//       printed as "NAME: RESULT", then the files' metadata: natively and under the
//       supervisor (with "mounts": "allow"), the outputs must match. Needs root.
//   confine5_guest denied DIR
//       each metadata change of DIR/secret (denied every access) and DIR/readable (denied attr
//       only), setxattrat, removexattrat and file_setattr included, directly and by the ways
//       around a rule (a symlink, "..", a dirfd, /proc/self/fd,
//       AT_EMPTY_PATH on an O_PATH descriptor), and of DIR/work/public (allowed), each printed
//       as "NAME: RESULT"; then what the denied files' metadata is.
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/support/path_guest.h"

namespace {

using namespace hijack::testing;  // the shared guest helpers (path_guest.h)

// Calls glibc 2.36 has no wrapper for: Linux 6.6, 6.13, 6.13, 6.17.
constexpr int kFchmodat2 = 452;
constexpr int kSetxattrat = 463;
constexpr int kRemovexattrat = 466;
constexpr int kFileSetattr = 469;

long Fchmodat2(int dirfd, const char* path, mode_t mode, int flags) {
  return syscall(kFchmodat2, dirfd, path, mode, flags);
}

long Utimensat(int dirfd, const char* path, const timespec* times, int flags) {
  return syscall(SYS_utimensat, dirfd, path, times, flags);  // glibc refuses some NULL names
}

// The metadata a change may leave behind, not following a final symlink.
std::string Metadata(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    return std::string("missing (") + Name(errno) + ")";
  }
  char value[64] = {};
  const ssize_t n = lgetxattr(path.c_str(), "user.a", value, sizeof value - 1);
  const std::string xattr = n >= 0 ? std::string(value, static_cast<size_t>(n)) : Name(errno);
  // A symlink's atime moves whenever a walk reads it (relatime): not printed.
  const long long atime = S_ISLNK(st.st_mode) ? 0 : static_cast<long long>(st.st_atim.tv_sec);
  const long atime_ns = S_ISLNK(st.st_mode) ? 0 : st.st_atim.tv_nsec;
  char line[256];
  std::snprintf(line, sizeof line, "%s mode %04o uid %u gid %u atime %lld.%09ld mtime %lld.%09ld "
                "user.a %s", Kind(path.c_str()), static_cast<unsigned>(st.st_mode & 07777),
                static_cast<unsigned>(st.st_uid), static_cast<unsigned>(st.st_gid),
                atime, atime_ns,
                static_cast<long long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec, xattr.c_str());
  return line;
}

void Describe(const char* path) { std::printf("  %s: %s\n", path, Metadata(path).c_str()); }

// Whether the file's times were set to about now (a utime with no times), which two runs
// cannot print alike.
void DescribeNow(const char* path) {
  struct stat st {};
  const bool now = lstat(path, &st) == 0 && st.st_mtim.tv_sec > time(nullptr) - 60;
  std::printf("  %s: times set to now: %d\n", path, now);
}

// Puts `path` back to a known state: mode 0644, owner root, times 1000/2000 (a symlink's own
// times, its target's mode and owner).
void Reset(const char* path) {
  (void)!chmod(path, 0644);
  (void)!chown(path, 0, 0);
  const timespec ts[2] = {{1000, 0}, {2000, 0}};
  (void)!utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

int Flip(const std::string& op, const std::string& dir, int rounds) {
  const std::string prefix = dir + "/work/";
  FlippedName name(prefix, "public", "secret");
  if (!name.valid()) {
    std::fprintf(stderr, "flip: %s is too long\n", dir.c_str());
    return 2;
  }
  const std::string secret = prefix + "secret";
  const std::string before = Metadata(secret);
  const char* path = name.path();
  FlipperThread flipper(name);
  int escaped = 0, done = 0, refused = 0, first = 0;
  for (int i = 0; i < rounds && escaped == 0; ++i) {
    long rc = -1;
    if (op == "chmod") {
      rc = chmod(path, i % 2 ? 0600 : 0640);
    } else if (op == "chown") {
      rc = chown(path, static_cast<uid_t>(1000 + i % 2), static_cast<gid_t>(-1));
    } else if (op == "utimes") {
      const timespec ts[2] = {{5000 + i, 0}, {5000 + i, 0}};
      rc = Utimensat(AT_FDCWD, path, ts, 0);
    } else if (op == "setxattr") {
      rc = setxattr(path, "user.a", "flipped", 7, 0);
    }
    rc == 0 ? ++done : ++refused;
    if (Metadata(secret) != before) {
      ++escaped;
      first = i + 1;
    }
  }
  std::printf("escaped: %d of %d (done %d, refused %d, first escape in round %d)\n", escaped,
              rounds, done, refused, first);
  return 0;
}

int Semantics(const char* dir) {
  if (const int status = EnterSemanticsDir(dir); status >= 0) {
    return status;
  }
  umask(022);
  WriteFile("f", "hello");
  (void)!mkdir("d", 0755);
  WriteFile("d/g", "G");
  (void)!symlink("f", "s");
  (void)!symlink("nowhere", "dangle");
  for (const char* p : {"f", "d/g", "s"}) {
    Reset(p);
  }
  const int dfd = open("d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const int pfd = open("f", O_PATH | O_CLOEXEC);
  const int sfd = open("s", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  const auto* bad = reinterpret_cast<const char*>(8);
  // chmod, fchmodat, fchmodat2
  Report("chmod", chmod("f", 0640));
  Describe("f");
  Report("chmod with every bit", chmod("f", 07777));
  Describe("f");
  Report("chmod through a symlink", chmod("s", 0604));
  Describe("f");
  Report("chmod of a missing name", chmod("nope", 0644));
  Report("chmod of a dangling symlink", chmod("dangle", 0644));
  Report("chmod with a trailing slash on a file", chmod("f/", 0644));
  Report("chmod at a bad address", chmod(bad, 0644));
  Report("chmod of a name too long", chmod(std::string(5000, 'x').c_str(), 0644));
  Report("fchmodat relative to a dirfd", fchmodat(dfd, "g", 0600, 0));
  Describe("d/g");
  Report("fchmodat with a bad dirfd", fchmodat(12345, "g", 0600, 0));
  Report("fchmodat2", Fchmodat2(AT_FDCWD, "f", 0644, 0));
  Describe("f");
  Report("fchmodat2 AT_SYMLINK_NOFOLLOW of a file",
         Fchmodat2(AT_FDCWD, "f", 0640, AT_SYMLINK_NOFOLLOW));
  Describe("f");
  Report("fchmodat2 AT_SYMLINK_NOFOLLOW of a symlink",
         Fchmodat2(AT_FDCWD, "s", 0600, AT_SYMLINK_NOFOLLOW));
  Describe("s");
  Report("fchmodat2 with an unknown flag", Fchmodat2(AT_FDCWD, "f", 0600, 0x8000));
  Report("fchmodat2 AT_EMPTY_PATH of an O_PATH descriptor",
         Fchmodat2(pfd, "", 0644, AT_EMPTY_PATH));
  Describe("f");
  Report("fchmodat2 of an empty name without AT_EMPTY_PATH", Fchmodat2(pfd, "", 0644, 0));
  // chown, lchown, fchownat
  Report("chown", chown("f", 1000, 1001));
  Describe("f");
  Report("chown with -1 -1", chown("f", static_cast<uid_t>(-1), static_cast<gid_t>(-1)));
  Describe("f");
  (void)!chmod("f", 06755);
  Report("chown of a setuid file", chown("f", 0, static_cast<gid_t>(-1)));
  Describe("f");
  Report("chown through a symlink", chown("s", 1002, 1002));
  Describe("f");
  Describe("s");
  Report("lchown of a symlink", lchown("s", 1003, 1003));
  Describe("s");
  Describe("f");
  Report("fchownat AT_SYMLINK_NOFOLLOW", fchownat(AT_FDCWD, "s", 1004, 1004, AT_SYMLINK_NOFOLLOW));
  Describe("s");
  Report("fchownat relative to a dirfd", fchownat(dfd, "g", 1005, 1005, 0));
  Describe("d/g");
  Report("fchownat AT_EMPTY_PATH of an O_PATH descriptor",
         fchownat(pfd, "", 1006, static_cast<gid_t>(-1), AT_EMPTY_PATH));
  Describe("f");
  Report("fchownat AT_EMPTY_PATH of a symlink's O_PATH descriptor",
         fchownat(sfd, "", 1007, 1007, AT_EMPTY_PATH));
  Describe("s");
  Report("fchownat with an unknown flag", fchownat(AT_FDCWD, "f", 0, 0, 0x8000));
  Report("chown of a missing name", chown("nope", 0, 0));
  Report("lchown of a dangling symlink", lchown("dangle", 0, 0));
  Report("chown at a bad address", chown(bad, 0, 0));
  for (const char* p : {"f", "d/g", "s"}) {
    Reset(p);
  }
  (void)!lchown("s", 0, 0);
  // utime, utimes, futimesat, utimensat
  const utimbuf ub{3000, 4000};
  // The raw calls: glibc makes utime(2) and utimes(2) of utimensat.
  Report("utime", syscall(SYS_utime, "f", &ub));
  Describe("f");
  Report("utime with no times", syscall(SYS_utime, "f", nullptr));
  DescribeNow("f");
  Report("utime with times at a bad address", syscall(SYS_utime, "f", 8L));
  Report("utime of a missing name", syscall(SYS_utime, "nope", &ub));
  Report("utimes with no times", syscall(SYS_utimes, "f", nullptr));
  DescribeNow("f");
  timeval tv[2] = {{5000, 5}, {6000, 6}};
  Report("utimes", syscall(SYS_utimes, "f", tv));
  Describe("f");
  timeval bad_tv[2] = {{1, 1000000}, {1, 0}};
  Report("utimes with 1000000 microseconds", syscall(SYS_utimes, "f", bad_tv));
  timeval neg_tv[2] = {{1, 0}, {1, -1}};
  Report("utimes with -1 microseconds", syscall(SYS_utimes, "f", neg_tv));
  Report("utimes with times at a bad address", syscall(SYS_utimes, "f", 8L));
  Report("futimesat relative to a dirfd",
         static_cast<int>(syscall(SYS_futimesat, dfd, "g", tv)));
  Describe("d/g");
  const timespec ts[2] = {{7000, 7}, {UTIME_OMIT, UTIME_OMIT}};
  Report("utimensat", Utimensat(AT_FDCWD, "f", ts, 0));
  Describe("f");
  const timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  Report("utimensat omitting both of a missing name", Utimensat(AT_FDCWD, "nope", omit, 0));
  const timespec bad_ns[2] = {{1, 1000000000}, {1, 0}};
  Report("utimensat with a bad nanosecond count", Utimensat(AT_FDCWD, "f", bad_ns, 0));
  Report("utimensat with an unknown flag", Utimensat(AT_FDCWD, "f", ts, 0x8000));
  Report("utimensat with times at a bad address",
         Utimensat(AT_FDCWD, "f", reinterpret_cast<const timespec*>(8), 0));
  Report("utimensat at a bad address", Utimensat(AT_FDCWD, bad, ts, 0));
  Report("utimensat of a missing name", Utimensat(AT_FDCWD, "nope", ts, 0));
  const timespec link_ts[2] = {{8000, 8}, {8001, 9}};
  Report("utimensat AT_SYMLINK_NOFOLLOW of a symlink",
         Utimensat(AT_FDCWD, "s", link_ts, AT_SYMLINK_NOFOLLOW));
  Describe("s");
  Describe("f");
  Report("utimensat AT_EMPTY_PATH of an O_PATH descriptor",
         Utimensat(pfd, "", link_ts, AT_EMPTY_PATH));
  Describe("f");
  const int rfd = open("f", O_RDONLY | O_CLOEXEC);
  const timespec fd_ts[2] = {{9000, 0}, {9001, 0}};
  Report("utimensat of a descriptor (NULL name)", Utimensat(rfd, nullptr, fd_ts, 0));
  Describe("f");
  Report("utimensat of AT_FDCWD with a NULL name", Utimensat(AT_FDCWD, nullptr, fd_ts, 0));
  Report("utimensat now", Utimensat(AT_FDCWD, "f", nullptr, 0));
  DescribeNow("f");
  Reset("f");
  // setxattr, lsetxattr, removexattr, lremovexattr
  Report("setxattr", setxattr("f", "user.a", "va", 2, 0));
  Describe("f");
  Report("setxattr XATTR_CREATE of an existing attribute",
         setxattr("f", "user.a", "vb", 2, XATTR_CREATE));
  Report("setxattr XATTR_REPLACE of a missing attribute",
         setxattr("f", "user.b", "vb", 2, XATTR_REPLACE));
  Report("setxattr with a bad flag", setxattr("f", "user.a", "vb", 2, 4));
  Report("setxattr with an empty name", setxattr("f", "", "vb", 2, 0));
  Report("setxattr with a name of 256 bytes",
         setxattr("f", ("user." + std::string(251, 'n')).c_str(), "v", 1, 0));
  Report("setxattr with a name of 255 bytes",
         setxattr("f", ("user." + std::string(250, 'n')).c_str(), "v", 1, 0));
  Report("setxattr with a name at a bad address", setxattr("f", bad, "v", 1, 0));
  // The raw call: glibc's declaration warns of the sizes these lines get wrong on purpose.
  Report("setxattr of a value too large", syscall(SYS_setxattr, "f", "user.a", "v", 65537, 0));
  Report("setxattr with a value at a bad address", syscall(SYS_setxattr, "f", "user.a", bad, 4, 0));
  Report("setxattr of NUL bytes", setxattr("f", "user.a", "a\0b", 3, 0));
  char value[8] = {};
  std::printf("  user.a holds %zd bytes\n", getxattr("f", "user.a", value, sizeof value));
  Report("setxattr of an empty value", setxattr("f", "user.e", "", 0, 0));
  Report("setxattr through a symlink", setxattr("s", "user.a", "vs", 2, 0));
  Describe("f");
  Report("lsetxattr of a symlink", lsetxattr("s", "user.a", "vl", 2, 0));
  Report("lsetxattr trusted.* of a symlink", lsetxattr("s", "trusted.t", "vl", 2, 0));
  Report("setxattr trusted.*", setxattr("f", "trusted.t", "vt", 2, 0));
  Report("setxattr of an unknown namespace", setxattr("f", "bogus.t", "vt", 2, 0));
  Report("setxattr of a missing name", setxattr("nope", "user.a", "v", 1, 0));
  Report("removexattr", removexattr("f", "user.e"));
  Report("removexattr of a missing attribute", removexattr("f", "user.e"));
  Report("removexattr with an empty name", removexattr("f", ""));
  Report("lremovexattr of a symlink", lremovexattr("s", "trusted.t"));
  Report("removexattr through a symlink", removexattr("s", "trusted.t"));
  Report("removexattr of a missing name", removexattr("nope", "user.a"));
  close(rfd);
  close(sfd);
  close(pfd);
  close(dfd);

  // Fewer capabilities than the supervisor.
  WriteFile("theirs", "T");
  Reset("theirs");
  (void)!chown("theirs", 65534, 65534);
  (void)!chown("f", 0, 1000);  // a group the guest is not in
  (void)!chmod("f", 0644);
  if (!DropEffective({CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_SYS_ADMIN})) {
    return 1;
  }
  Report("no CAP_FOWNER: chmod of another user's file", chmod("theirs", 0600));
  Report("no CAP_CHOWN: chown to another user", chown("f", 1000, static_cast<gid_t>(-1)));
  Report("no CAP_CHOWN: chown to a group it is not in", chown("f", static_cast<uid_t>(-1), 1000));
  Report("no CAP_FSETID: chmod g+s of a file of another group", chmod("f", 02755));
  Describe("f");
  const timespec set_ts[2] = {{11, 0}, {12, 0}};
  Report("no CAP_FOWNER: utimensat of another user's file",
         Utimensat(AT_FDCWD, "theirs", set_ts, 0));
  Report("no CAP_DAC_OVERRIDE: utimensat now of another user's file 0644",
         Utimensat(AT_FDCWD, "theirs", nullptr, 0));
  Report("no CAP_SYS_ADMIN: setxattr trusted.*", setxattr("f", "trusted.u", "v", 1, 0));
  Report("no CAP_FOWNER: setxattr user.* of another user's file",
         setxattr("theirs", "user.a", "v", 1, 0));
  Describe("theirs");

  // Another user.
  WriteFile("theirs2", "T");
  if (!BecomeNobody()) {
    return 1;
  }
  Report("uid 65534: chmod of root's file", chmod("f", 0777));
  Report("uid 65534: chown of root's file", chown("f", 65534, 65534));
  Report("uid 65534: utimensat of root's file", Utimensat(AT_FDCWD, "f", set_ts, 0));
  Report("uid 65534: utimensat now of root's file", Utimensat(AT_FDCWD, "f", nullptr, 0));
  Report("uid 65534: setxattr of root's file", setxattr("f", "user.n", "v", 1, 0));
  Report("uid 65534: removexattr of root's file", removexattr("f", "user.a"));
  Report("uid 65534: chmod of its own file", chmod("theirs", 0640));
  Report("uid 65534: chown of its own file to itself", chown("theirs", 65534, 65534));
  Report("uid 65534: utimensat of its own file", Utimensat(AT_FDCWD, "theirs", set_ts, 0));
  Report("uid 65534: setxattr of its own file", setxattr("theirs", "user.a", "mine", 4, 0));
  Describe("theirs");
  Describe("f");
  return 0;
}

// A child of uid and gid 1000 in a user namespace of its own whose root is uid and gid 1000
// outside (the maps written by this process, which holds CAP_SETUID and CAP_SETGID where the
// namespace was made): chown(2) takes its ids in the child's namespace, which the supervisor
// must map to its own.
int UserNamespace(const char* dir) {
  if (const int status = EnterSemanticsDir(dir); status >= 0) {
    return status;
  }
  WriteFile("mine", "M");
  (void)!chown("mine", 1000, 1000);
  WriteFile("roots", "R");
  std::fflush(stdout);
  int ready[2], mapped[2];
  if (pipe(ready) != 0 || pipe(mapped) != 0) {
    return 1;
  }
  const pid_t child = fork();
  if (child == 0) {
    char byte = 0;
    // An unprivileged user's namespace, as `hijackd run` makes for an unprivileged launch.
    const int rc = BecomeUser(1000) ? unshare(CLONE_NEWUSER) : -1;
    (void)!write(ready[1], &byte, 1);
    if (rc != 0 || read(mapped[0], &byte, 1) != 1) {
      std::printf("unshare: %s\n", Name(rc != 0 ? errno : EPIPE));
      std::fflush(stdout);
      _exit(1);
    }
    Report("in the namespace: chown of its file to its root", chown("mine", 0, 0));
    Report("in the namespace: chown to an unmapped uid", chown("mine", 1, static_cast<gid_t>(-1)));
    Report("in the namespace: chown to an unmapped gid", chown("mine", static_cast<uid_t>(-1), 1));
    Report("in the namespace: chown with -1 -1",
           chown("mine", static_cast<uid_t>(-1), static_cast<gid_t>(-1)));
    Report("in the namespace: lchown of its file", lchown("mine", 0, 0));
    Report("in the namespace: chown of root's file", chown("roots", 0, 0));
    Report("in the namespace: chmod of its file", chmod("mine", 0600));
    Report("in the namespace: chmod of root's file", chmod("roots", 0600));
    std::fflush(stdout);
    _exit(0);
  }
  char byte = 0;
  if (child < 0 || read(ready[0], &byte, 1) != 1) {
    return 1;
  }
  for (const char* map : {"uid_map", "gid_map"}) {
    const std::string path = "/proc/" + std::to_string(child) + "/" + map;
    const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0 1000 1\n", 9) != 9) {
      std::printf("%s: %s\n", map, Name(errno));
    }
    close(fd);
  }
  (void)!write(mapped[1], &byte, 1);
  int status = 0;
  waitpid(child, &status, 0);
  for (const char* name : {"mine", "roots"}) {
    struct stat st {};
    (void)!lstat(name, &st);
    std::printf("  %s: mode %04o uid %u gid %u\n", name, static_cast<unsigned>(st.st_mode & 07777),
                static_cast<unsigned>(st.st_uid), static_cast<unsigned>(st.st_gid));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int Denied(const std::string& dir) {
  const std::string work = dir + "/work";
  const std::string pub = work + "/public";
  const timespec ts[2] = {{4242, 0}, {4242, 0}};
  auto report = [](const std::string& what, long rc) { Report(what.c_str(), rc); };
  // The direct calls, on each file.
  for (const std::string name : {"secret", "readable", "work/public"}) {
    const std::string p = dir + "/" + name;
    const char* c = p.c_str();
    report("chmod of " + name, chmod(c, 0777));
    report("fchmodat of " + name, fchmodat(AT_FDCWD, c, 0777, 0));
    report("fchmodat2 of " + name, Fchmodat2(AT_FDCWD, c, 0777, AT_SYMLINK_NOFOLLOW));
    report("chown of " + name, chown(c, 1000, 1000));
    report("lchown of " + name, lchown(c, 1000, 1000));
    report("fchownat of " + name, fchownat(AT_FDCWD, c, 1000, 1000, AT_SYMLINK_NOFOLLOW));
    const utimbuf ub{4242, 4242};
    report("utime of " + name, syscall(SYS_utime, c, &ub));
    report("utimes of " + name, syscall(SYS_utimes, c, nullptr));
    report("utimensat of " + name, Utimensat(AT_FDCWD, c, ts, 0));
    report("futimesat of " + name, static_cast<int>(syscall(SYS_futimesat, AT_FDCWD, c, nullptr)));
    report("setxattr of " + name, setxattr(c, "user.a", "evil", 4, 0));
    report("lsetxattr of " + name, lsetxattr(c, "user.a", "evil", 4, 0));
    report("removexattr of " + name, removexattr(c, "user.keep"));
    report("lremovexattr of " + name, lremovexattr(c, "user.keep"));
    // Linux 6.13 and 6.17: struct xattr_args {value, size, flags}, struct file_attr (24 bytes).
    struct {
      uint64_t value;
      uint32_t size;
      uint32_t flags;
    } args{reinterpret_cast<uint64_t>("evil"), 4, 0};
    report("setxattrat of " + name,
           syscall(kSetxattrat, AT_FDCWD, c, 0, "user.a", &args, sizeof args));
    report("removexattrat of " + name, syscall(kRemovexattrat, AT_FDCWD, c, 0, "user.keep"));
    uint64_t file_attr[3] = {};
    report("file_setattr of " + name,
           syscall(kFileSetattr, AT_FDCWD, c, file_attr, sizeof file_attr, 0));
  }
  // The ways around the rule.
  (void)!symlink((dir + "/secret").c_str(), (work + "/tosecret").c_str());
  report("chmod through a symlink", chmod((work + "/tosecret").c_str(), 0777));
  report("chown through a symlink", chown((work + "/tosecret").c_str(), 1000, 1000));
  report("utimensat through a symlink", Utimensat(AT_FDCWD, (work + "/tosecret").c_str(), ts, 0));
  report("setxattr through a symlink", setxattr((work + "/tosecret").c_str(), "user.a", "e", 1, 0));
  report("lchown of the symlink itself (allowed)", lchown((work + "/tosecret").c_str(), 0, 0));
  report("chmod through ..", chmod((work + "/../secret").c_str(), 0777));
  const int wfd = open(work.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  report("fchownat ../secret relative to a dirfd", fchownat(wfd, "../secret", 1000, 1000, 0));
  report("utimensat via /proc/self/fd/N/../secret",
         Utimensat(AT_FDCWD, ("/proc/self/fd/" + std::to_string(wfd) + "/../secret").c_str(), ts,
                   0));
  close(wfd);
  const int rfd = open((dir + "/readable").c_str(), O_PATH | O_CLOEXEC);
  report("O_PATH open of readable (allowed)", rfd);
  report("fchownat AT_EMPTY_PATH of readable's O_PATH descriptor",
         fchownat(rfd, "", 1000, 1000, AT_EMPTY_PATH));
  report("fchmodat2 AT_EMPTY_PATH of readable's O_PATH descriptor",
         Fchmodat2(rfd, "", 0777, AT_EMPTY_PATH));
  report("utimensat AT_EMPTY_PATH of readable's O_PATH descriptor",
         Utimensat(rfd, "", ts, AT_EMPTY_PATH));
  report("chmod via /proc/self/fd of readable's O_PATH descriptor",
         chmod(("/proc/self/fd/" + std::to_string(rfd)).c_str(), 0777));
  report("setxattr via /proc/self/fd of readable's O_PATH descriptor",
         setxattr(("/proc/self/fd/" + std::to_string(rfd)).c_str(), "user.a", "e", 1, 0));
  close(rfd);
  for (const char* name : {"secret", "readable"}) {
    std::printf("%s: %s\n", name, Metadata(dir + "/" + name).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "userns") {
    return UserNamespace(argv[2]);
  }
  const GuestModes modes{
      .flip = Flip, .semantics = Semantics, .extra = "denied", .extra_run = Denied};
  return RunGuestMode(argc, argv, modes,
                      "usage: confine5_guest flip OP DIR N | semantics DIR | userns DIR | "
                      "denied DIR\n"
                      "  OP: chmod chown utimes setxattr\n");
}
