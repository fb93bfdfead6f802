// Links and renames under fs_guard's strict mode, which makes them in the supervisor
// (tests/integration/confine3_test.cc):
//
//   confine3_guest flip link|rename DIR N
//       N links (link) or renames (rename) of DIR/work/public to DIR/work/alias through one
//       buffer whose last component a thread flips between "public" and "secret" (DIR/work/secret
//       holds "SECRET"; a rule denies it). The component is one aligned 8-byte word, so every
//       read of the buffer sees one name or the other, never a mix. Prints "escaped: K of N
//       (done D, refused R)", where an escape is the secret read through the alias (a rename of
//       the secret ends the run: its name is denied, so it cannot be put back).
//   confine3_guest semantics DIR
//       a fixed sequence of links and renames in DIR (which must be empty), each printed as
//       "NAME: RESULT" (0 or the errno name) with what it left behind, then the same with
//       fewer capabilities (no CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_MKNOD)
//       and as uid/gid 65534: run natively and under the supervisor, the outputs must match.
//       Needs root (prints "semantics: not root" otherwise).
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/support/path_guest.h"

namespace {

using namespace hijack::testing;  // the shared guest helpers (path_guest.h)

int Flip(const std::string& op, const std::string& dir, int rounds) {
  FlippedName name(dir + "/work/", "public", "secret");
  if (!name.valid()) {
    std::fprintf(stderr, "flip: %s is too long\n", dir.c_str());
    return 2;
  }
  const char* from = name.path();
  const std::string public_name = dir + "/work/public";
  const std::string alias = dir + "/work/alias";
  FlipperThread flipper(name);
  int escaped = 0, done = 0, refused = 0;
  for (int i = 0; i < rounds && (op == "link" || escaped == 0); ++i) {
    const int rc = op == "link" ? link(from, alias.c_str()) : rename(from, alias.c_str());
    if (rc != 0) {
      ++refused;
      continue;
    }
    ++done;
    if (ReadFile(alias) == "SECRET") {
      ++escaped;
    } else if (op == "rename") {
      rename(alias.c_str(), public_name.c_str());  // back where the next round expects it
    }
    if (op == "link") {
      unlink(alias.c_str());
    }
  }
  std::printf("escaped: %d of %d (done %d, refused %d)\n", escaped, rounds, done, refused);
  return 0;
}

bool SameFile(const char* a, const char* b) {
  struct stat x {}, y{};
  return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_ino == y.st_ino && x.st_dev == y.st_dev;
}

int Semantics(const char* dir) {
  if (const int status = EnterSemanticsDir(dir); status >= 0) {
    return status;
  }
  WriteFile("a", "A");
  WriteFile("b", "B");
  Report("link", link("a", "l1"));
  Report("link onto an existing name", link("a", "l1"));
  Report("link of a missing name", link("nope", "l2"));
  Report("link into a missing directory", link("a", "nodir/l"));
  (void)!symlink("a", "s");
  Report("linkat without AT_SYMLINK_FOLLOW", linkat(AT_FDCWD, "s", AT_FDCWD, "l3", 0));
  std::printf("  l3 is a %s\n", Kind("l3"));
  Report("linkat with AT_SYMLINK_FOLLOW", linkat(AT_FDCWD, "s", AT_FDCWD, "l4", AT_SYMLINK_FOLLOW));
  std::printf("  l4 is a %s, a's inode: %d\n", Kind("l4"), SameFile("l4", "a"));
  const int fd = open("a", O_RDONLY | O_CLOEXEC);
  Report("linkat AT_EMPTY_PATH", linkat(fd, "", AT_FDCWD, "l5", AT_EMPTY_PATH));
  std::printf("  l5 is a's inode: %d\n", SameFile("l5", "a"));
  close(fd);
  Report("linkat with an unknown flag", linkat(AT_FDCWD, "a", AT_FDCWD, "l6", 0x8000));
  (void)!mkdir("d", 0755);
  Report("link of a directory", link("d", "l7"));
  Report("rename", rename("l1", "r1"));
  Report("rename over an existing file", rename("r1", "b"));
  std::printf("  b holds %s\n", ReadFile("b").c_str());
  Report("rename of a missing name", rename("nope", "x"));
  WriteFile("c", "C");
  Report("RENAME_NOREPLACE onto a name",
         static_cast<int>(syscall(SYS_renameat2, AT_FDCWD, "b", AT_FDCWD, "c", RENAME_NOREPLACE)));
  Report("RENAME_EXCHANGE",
         static_cast<int>(syscall(SYS_renameat2, AT_FDCWD, "b", AT_FDCWD, "c", RENAME_EXCHANGE)));
  std::printf("  b holds %s, c holds %s\n", ReadFile("b").c_str(), ReadFile("c").c_str());
  Report("RENAME_EXCHANGE with a missing name",
         static_cast<int>(syscall(SYS_renameat2, AT_FDCWD, "b", AT_FDCWD, "nope", RENAME_EXCHANGE)));
  Report("RENAME_NOREPLACE|RENAME_EXCHANGE",
         static_cast<int>(syscall(SYS_renameat2, AT_FDCWD, "b", AT_FDCWD, "c",
                                  RENAME_NOREPLACE | RENAME_EXCHANGE)));
  Report("rename of .", rename(".", "x"));
  (void)!mkdir("d/e", 0755);
  Report("rename into its own subdirectory", rename("d", "d/e/f"));
  Report("rename with a trailing slash on a file", rename("c/", "x"));
  const int dfd = open("d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  Report("renameat relative to a dirfd", renameat(dfd, "../c", dfd, "moved"));
  std::printf("  d/moved is a %s\n", Kind("d/moved"));
  close(dfd);
  Report("RENAME_WHITEOUT", static_cast<int>(syscall(SYS_renameat2, AT_FDCWD, "d/moved", AT_FDCWD,
                                                     "w", RENAME_WHITEOUT)));
  std::printf("  d/moved is a %s\n", Kind("d/moved"));

  // Fewer capabilities than the supervisor.
  (void)!mkdir("sticky", 0755);
  (void)!chmod("sticky", 01777);
  WriteFile("sticky/theirs", "T");
  (void)!chown("sticky/theirs", 65534, 65534);
  (void)!chown("sticky", 65534, 65534);  // neither the file nor the directory is root's
  (void)!mkdir("theirs", 0755);
  (void)!chown("theirs", 65534, 65534);
  // Opened before the capabilities change, so that the link below is judged by the capability
  // alone (a descriptor opened with the caller's current credentials may be admitted without).
  const int afd = open("a", O_RDONLY | O_CLOEXEC);
  if (!DropEffective({CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_MKNOD})) {
    return 1;
  }
  Report("no CAP_DAC_OVERRIDE: link into another user's directory", link("a", "theirs/l"));
  Report("no CAP_DAC_OVERRIDE: rename into another user's directory", rename("w", "theirs/w"));
  Report("no CAP_FOWNER: rename of another user's file in a sticky directory",
         rename("sticky/theirs", "sticky/mine"));
  Report("RENAME_WHITEOUT without CAP_MKNOD",
         static_cast<int>(syscall(SYS_renameat2, AT_FDCWD, "w", AT_FDCWD, "w2", RENAME_WHITEOUT)));
  Report("no CAP_DAC_READ_SEARCH: linkat AT_EMPTY_PATH",
         linkat(afd, "", AT_FDCWD, "l8", AT_EMPTY_PATH));
  close(afd);

  // Another user.
  if (!BecomeNobody()) {
    return 1;
  }
  Report("uid 65534: rename in root's directory", rename("a", "a2"));
  Report("uid 65534: link of root's file (protected_hardlinks)", link("a", "theirs/l"));
  WriteFile("theirs/own", "O");
  Report("uid 65534: link of its own file", link("theirs/own", "theirs/own2"));
  Report("uid 65534: rename of its own file", rename("theirs/own2", "theirs/own3"));
  std::printf("theirs/own3 is a %s\n", Kind("theirs/own3"));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return RunGuestMode(argc, argv, {.flip = Flip, .semantics = Semantics},
                      "usage: confine3_guest flip link|rename DIR N | semantics DIR\n");
}
