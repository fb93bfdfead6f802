// The path calls fs_guard's strict mode makes in the supervisor besides opens, links and renames
// (unlink, unlinkat, rmdir, mkdir, mkdirat, mknod, mknodat, symlink, symlinkat, truncate), and
// O_PATH opens (tests/integration/confine4_test.cc):
//
//   confine4_guest flip OP DIR N
//       N calls of OP (unlink, rmdir, mkdir, mknod, symlink, truncate, opath) on one buffer
//       naming DIR/work/public, whose last component a thread on another CPU flips to "secret"
//       (a rule denies DIR/work/secret). The component is one aligned 8-byte word, so every read
//       of the buffer sees one name or the other. An escape is OP reaching the secret: removed
//       (unlink: a file; rmdir: a directory), made (mkdir, mknod, symlink), emptied (truncate),
//       or read through an O_PATH descriptor of it re-opened
//       through /proc/self/fd or linked with linkat(AT_EMPTY_PATH) (opath; "landed" counts the
//       O_PATH descriptors that name the secret). Prints "escaped: K of N (done D, refused R,
//       landed L, first escape in round F)"; every run but opath's ends at its first escape.
//   confine4_guest semantics DIR
//       a fixed sequence of those calls in DIR (which must be empty), each printed as
//       "NAME: RESULT" (0 or the errno name) with what it left behind, then with fewer
//       capabilities and as uid/gid 65534: run natively and under the supervisor, the outputs
//       must match. Needs root (prints "semantics: not root" otherwise).
//   confine4_guest attacks DIR
//       the ways around a rule denying DIR/secret and DIR/secretdir/** that a guest would try
//       (a symlinked parent, "..", /proc/self/fd links, relative dirfds, AT_EMPTY_PATH), each
//       printed as "NAME: RESULT"; then whether the secret and DIR/secretdir/victim are intact.
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/support/path_guest.h"

namespace {

using namespace hijack::testing;  // the shared guest helpers (path_guest.h)

int Flip(const std::string& op, const std::string& dir, int rounds) {
  const std::string prefix = dir + "/work/";
  FlippedName name(prefix, "public", "secret");
  if (!name.valid()) {
    std::fprintf(stderr, "flip: %s is too long\n", dir.c_str());
    return 2;
  }
  const char* path = name.path();
  const std::string pub = prefix + "public";
  const std::string secret = prefix + "secret";
  struct stat secret_st {};
  (void)stat(secret.c_str(), &secret_st);
  FlipperThread flipper(name);
  // A denied object reached cannot be put back by the guest (the rule denies it that too): the
  // run ends there, except for O_PATH, which reaches nothing for good.
  const bool ends = op != "opath";
  int escaped = 0, done = 0, refused = 0, landed = 0, first = 0;
  for (int i = 0; i < rounds && !(ends && escaped > 0); ++i) {
    int rc = -1;
    if (op == "unlink") {
      if (!Exists(pub)) {
        WriteFile(pub, "public");
      }
      rc = unlink(path);
      escaped += rc == 0 && !Exists(secret);
    } else if (op == "rmdir") {
      (void)mkdir(pub.c_str(), 0755);
      rc = rmdir(path);
      escaped += rc == 0 && !Exists(secret);
    } else if (op == "mkdir" || op == "mknod" || op == "symlink") {
      rc = op == "mkdir"   ? mkdir(path, 0755)
           : op == "mknod" ? mknod(path, S_IFREG | 0644, 0)
                           : symlink("target", path);
      escaped += rc == 0 && Exists(secret);
      if (op == "mkdir") {
        (void)rmdir(pub.c_str());
      } else {
        (void)unlink(pub.c_str());
      }
    } else if (op == "truncate") {
      rc = truncate(path, 0);
      struct stat st {};
      escaped += rc == 0 && stat(secret.c_str(), &st) == 0 && st.st_size == 0;
      if (rc == 0) {
        WriteFile(pub, "public");
      }
    } else if (op == "opath") {
      rc = open(path, O_PATH | O_CLOEXEC);
      if (rc >= 0) {
        const int fd = rc;
        struct stat st {};
        const bool on_secret = fstat(fd, &st) == 0 && st.st_ino == secret_st.st_ino &&
                               st.st_dev == secret_st.st_dev;
        landed += on_secret;
        const std::string self = "/proc/self/fd/" + std::to_string(fd);
        const int again = open(self.c_str(), O_RDONLY | O_CLOEXEC);
        bool read_secret = false;
        if (again >= 0) {
          read_secret = ReadFd(again) == "SECRET";
          close(again);
        }
        const std::string alias = prefix + "alias";
        if (linkat(fd, "", AT_FDCWD, alias.c_str(), AT_EMPTY_PATH) == 0) {
          read_secret = read_secret || ReadFile(alias) == "SECRET";
          (void)unlink(alias.c_str());
        }
        escaped += read_secret;
        close(fd);
        rc = 0;
      }
    }
    if (rc == 0) {
      ++done;
    } else {
      ++refused;
    }
    if (escaped > 0 && first == 0) {
      first = i + 1;
    }
  }
  std::printf("escaped: %d of %d (done %d, refused %d, landed %d, first escape in round %d)\n",
              escaped, rounds, done, refused, landed, first);
  return 0;
}

void Describe(const char* path) {
  struct stat st {};
  if (lstat(path, &st) != 0) {
    std::printf("  %s is missing\n", path);
    return;
  }
  std::printf("  %s is a %s, mode %04o, uid %u, size %lld\n", path, Kind(path),
              static_cast<unsigned>(st.st_mode & 07777), static_cast<unsigned>(st.st_uid),
              S_ISDIR(st.st_mode) ? 0LL : static_cast<long long>(st.st_size));
}

int Semantics(const char* dir) {
  if (const int status = EnterSemanticsDir(dir); status >= 0) {
    return status;
  }
  umask(027);
  WriteFile("f", "hello");
  // unlink, unlinkat, rmdir
  Report("unlink of a missing name", unlink("nope"));
  (void)!mkdir("d", 0777);
  Describe("d");
  Report("unlink of a directory", unlink("d"));
  Report("unlink with a trailing slash on a file", unlink("f/"));
  Report("unlink of .", unlink("."));
  Report("unlink in a missing directory", unlink("nodir/x"));
  Report("unlink of nodir/..", unlink("nodir/.."));
  Report("rmdir of .", rmdir("."));
  Report("rmdir of ..", rmdir(".."));
  Report("rmdir of d/..", rmdir("d/.."));
  Report("rmdir of /", rmdir("/"));
  Report("rmdir of a file", rmdir("f"));
  (void)!mkdir("d/e", 0755);
  Report("rmdir of a non-empty directory", rmdir("d"));
  Report("unlinkat AT_REMOVEDIR with a trailing slash", unlinkat(AT_FDCWD, "d/e/", AT_REMOVEDIR));
  Report("unlinkat with an unknown flag", unlinkat(AT_FDCWD, "f", 0x100));
  Report("unlinkat with a bad dirfd", unlinkat(12345, "f", 0));
  const int ffd = open("f", O_RDONLY | O_CLOEXEC);
  Report("unlinkat relative to a file", unlinkat(ffd, "x", 0));
  close(ffd);
  WriteFile("d/g", "G");
  const int dfd = open("d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  Report("unlinkat relative to a dirfd", unlinkat(dfd, "g", 0));
  std::printf("  d/g is %s\n", Kind("d/g"));
  (void)!symlink("d", "sd");
  Report("unlink of a symlink to a directory", unlink("sd"));
  std::printf("  sd is %s, d is %s\n", Kind("sd"), Kind("d"));
  (void)!symlink("d", "sd2");
  Report("rmdir of a symlink to a directory", rmdir("sd2"));
  Report("rmdir through a symlinked parent", rmdir("sd2/../d/nope"));
  // mkdir, mkdirat
  Report("mkdir", mkdir("m", 0777));
  Describe("m");
  Report("mkdir with a trailing slash", mkdir("m2/", 0700));
  Describe("m2");
  Report("mkdir setgid and sticky", mkdir("m3", 07777));
  Describe("m3");
  Report("mkdir of an existing name", mkdir("m", 0755));
  Report("mkdir of .", mkdir(".", 0755));
  Report("mkdir of m/..", mkdir("m/..", 0755));
  Report("mkdir in a missing directory", mkdir("nodir/m", 0755));
  Report("mkdir over a dangling symlink", (symlink("nowhere", "dangle"), mkdir("dangle", 0755)));
  Report("mkdirat relative to a dirfd", mkdirat(dfd, "sub", 0751));
  Describe("d/sub");
  Report("mkdir through a symlinked parent", mkdir("sd2/sub2", 0755));
  Describe("d/sub2");
  Report("mkdir with a name too long", mkdir(std::string(300, 'x').c_str(), 0755));
  Report("mkdir at a bad address", mkdir(reinterpret_cast<const char*>(8), 0755));
  // mknod, mknodat
  Report("mknod of a regular file", mknod("n", S_IFREG | 0666, 0));
  Describe("n");
  Report("mknod with type 0", mknod("n0", 0644, 0));
  Describe("n0");
  Report("mknod of a fifo", mknod("p", S_IFIFO | 0666, 0));
  Describe("p");
  Report("mknod of a directory", mknod("nd", S_IFDIR | 0755, 0));
  Report("mknod of a bad type", mknod("nb", 0170000 | 0644, 0));
  Report("mknodat of a char device", mknodat(dfd, "null", S_IFCHR | 0666, makedev(1, 3)));
  Describe("d/null");
  Report("mknod over an existing name", mknod("n", S_IFREG | 0644, 0));
  // symlink, symlinkat
  Report("symlink", symlink("some/target", "l"));
  char text[64] = {};
  std::printf("  l reads %s\n", readlink("l", text, sizeof text - 1) > 0 ? text : "?");
  Report("symlink with an empty target", symlink("", "l0"));
  Report("symlink onto an existing name", symlink("x", "f"));
  Report("symlink with a trailing slash", symlink("x", "l2/"));
  Report("symlinkat relative to a dirfd", symlinkat("../f", dfd, "lf"));
  std::printf("  d/lf holds %s\n", ReadFile("d/lf").c_str());
  Report("symlink of a target too long", symlink(std::string(5000, 'y').c_str(), "l3"));
  // truncate
  Report("truncate", truncate("f", 3));
  Describe("f");
  Report("truncate to grow", truncate("f", 10));
  Describe("f");
  Report("truncate through a symlink", truncate("d/lf", 1));
  Describe("f");
  Report("truncate of a directory", truncate("d", 0));
  Report("truncate of a fifo", truncate("p", 0));
  Report("truncate of a missing file", truncate("nope", 0));
  Report("truncate to a negative length", truncate("f", -1));
  Report("truncate with a trailing slash", truncate("f/", 0));
  Report("truncate of a dangling symlink", truncate("dangle", 0));
  // O_PATH
  int fd = open("f", O_PATH | O_CLOEXEC);
  Report("O_PATH open", fd);
  struct stat st {};
  std::printf("  fstat: %s, size %lld\n", Name(fstat(fd, &st) == 0 ? 0 : errno),
              static_cast<long long>(st.st_size));
  char byte;
  std::printf("  read: %s\n", Name(read(fd, &byte, 1) < 0 ? errno : 0));
  close(fd);
  fd = open("l", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  Report("O_PATH|O_NOFOLLOW open of a symlink", fd);
  std::printf("  it names a %s\n", fstat(fd, &st) == 0 && S_ISLNK(st.st_mode) ? "symlink" : "?");
  close(fd);
  Report("O_PATH|O_CREAT of a missing name", open("created", O_PATH | O_CREAT | O_CLOEXEC, 0644));
  std::printf("  created is %s\n", Kind("created"));
  fd = open("d", O_PATH | O_DIRECTORY | O_CLOEXEC);
  Report("O_PATH|O_DIRECTORY open", fd);
  const int sub = openat(fd, "lf", O_RDONLY | O_CLOEXEC);
  Report("open relative to an O_PATH dirfd", sub);
  close(sub);
  Report("O_PATH|O_DIRECTORY of a file", open("f", O_PATH | O_DIRECTORY | O_CLOEXEC));
  Report("O_PATH of a missing name", open("nope", O_PATH | O_CLOEXEC));
  close(fd);
  close(dfd);

  // Fewer capabilities than the supervisor.
  (void)!mkdir("sticky", 0755);
  (void)!chmod("sticky", 01777);
  WriteFile("sticky/theirs", "T");
  (void)!chown("sticky/theirs", 65534, 65534);
  (void)!chown("sticky", 65534, 65534);
  (void)!mkdir("theirs", 0755);
  (void)!chown("theirs", 65534, 65534);
  WriteFile("theirs/file", "T");
  (void)!chmod("theirs/file", 0644);
  (void)!chown("theirs/file", 65534, 65534);
  if (!DropEffective({CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_MKNOD})) {
    return 1;
  }
  Report("no CAP_FOWNER: unlink of another user's file in a sticky directory",
         unlink("sticky/theirs"));
  Report("no CAP_DAC_OVERRIDE: mkdir in another user's directory", mkdir("theirs/m", 0755));
  Report("no CAP_DAC_OVERRIDE: unlink in another user's directory", unlink("theirs/file"));
  Report("no CAP_DAC_OVERRIDE: truncate of another user's file", truncate("theirs/file", 0));
  Report("no CAP_MKNOD: mknod of a char device", mknod("null2", S_IFCHR | 0666, makedev(1, 3)));
  Report("no CAP_MKNOD: mknod of a fifo", mknod("p2", S_IFIFO | 0666, 0));

  // Another user.
  if (!BecomeNobody()) {
    return 1;
  }
  umask(0);
  Report("uid 65534: unlink in root's directory", unlink("n"));
  Report("uid 65534: truncate of root's file", truncate("f", 0));
  Report("uid 65534: symlink in root's directory", symlink("x", "l4"));
  Report("uid 65534: mkdir in its own directory", mkdir("theirs/own", 0777));
  Describe("theirs/own");
  Report("uid 65534: symlink in its own directory", symlink("x", "theirs/l"));
  Report("uid 65534: truncate of its own file", truncate("theirs/file", 1));
  Describe("theirs/file");
  Report("uid 65534: rmdir in its own directory", rmdir("theirs/own"));
  Report("uid 65534: unlink in a sticky directory of its own", unlink("sticky/theirs"));
  return 0;
}

int Attacks(const std::string& dir) {
  const std::string work = dir + "/work";
  const std::string secret = dir + "/secret";
  const std::string victim = dir + "/secretdir/victim";
  auto report = [](const std::string& what, int rc) { Report(what.c_str(), rc); };
  // ".." from an allowed directory into the denied ones.
  report("unlink through ..", unlink((work + "/../secret").c_str()));
  report("truncate through ..", truncate((work + "/../secret").c_str(), 0));
  report("mkdir through ..", mkdir((work + "/../secretdir/new").c_str(), 0755));
  // A symlink whose target is denied, as a parent and as the final component.
  (void)!symlink((dir + "/secretdir").c_str(), (work + "/link").c_str());
  report("unlink through a symlinked parent", unlink((work + "/link/victim").c_str()));
  report("mknod through a symlinked parent",
         mknod((work + "/link/made").c_str(), S_IFREG | 0644, 0));
  report("symlink through a symlinked parent", symlink("x", (work + "/link/sym").c_str()));
  (void)!symlink(secret.c_str(), (work + "/tosecret").c_str());
  report("truncate through a symlink", truncate((work + "/tosecret").c_str(), 0));
  report("unlink of the symlink itself (allowed)", unlink((work + "/tosecret").c_str()));
  // Relative dirfds and /proc/self/fd links of an allowed directory, walked into the denied.
  const int wfd = open(work.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  report("unlinkat ../secret relative to a dirfd", unlinkat(wfd, "../secret", 0));
  report("rmdir of ../secretdir/sub via /proc/self/fd",
         rmdir(("/proc/self/fd/" + std::to_string(wfd) + "/../secretdir/sub").c_str()));
  report("truncate via /proc/self/fd/N/../secret",
         truncate(("/proc/self/fd/" + std::to_string(wfd) + "/../secret").c_str(), 0));
  report("mkdirat through a symlinked parent relative to a dirfd",
         mkdirat(wfd, "link/new", 0755));
  // An O_PATH descriptor of the denied objects, and what it would open.
  const int sfd = open(secret.c_str(), O_PATH | O_CLOEXEC);
  report("O_PATH open of the secret", sfd);
  const int dfd = open((dir + "/secretdir").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  report("O_PATH open of the denied directory", dfd);
  const int lfd = open((work + "/link").c_str(), O_PATH | O_CLOEXEC);
  report("O_PATH open of the denied directory through a symlink", lfd);
  const int nfd = open((work + "/link").c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  report("O_PATH|O_NOFOLLOW open of the symlink itself (allowed)", nfd);
  report("unlinkat relative to the symlink's O_PATH descriptor", unlinkat(nfd, "victim", 0));
  report("linkat AT_EMPTY_PATH of the symlink's O_PATH descriptor",
         linkat(nfd, "", AT_FDCWD, (work + "/alias").c_str(), AT_EMPTY_PATH));
  std::printf("  alias is %s\n", Kind((work + "/alias").c_str()));
  report("re-open of /proc/self/fd of the symlink's O_PATH descriptor",
         open(("/proc/self/fd/" + std::to_string(nfd)).c_str(), O_RDONLY | O_CLOEXEC));
  close(wfd);
  std::printf("secret holds %s, victim is %s\n", ReadFile(secret).c_str(), Kind(victim.c_str()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const GuestModes modes{
      .flip = Flip, .semantics = Semantics, .extra = "attacks", .extra_run = Attacks};
  return RunGuestMode(argc, argv, modes,
                      "usage: confine4_guest flip OP DIR N | semantics DIR | attacks DIR\n"
                      "  OP: unlink rmdir mkdir mknod symlink truncate opath\n");
}
