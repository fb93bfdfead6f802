// Runs a command where the kernel refuses some system calls, as an old kernel or a sandbox does:
// a seccomp filter makes each named call fail with the given errno, for the command and
// everything it starts.
//
//   refusing_wrapper seccomp=EINVAL -- hijackd run -- true   # no seccomp at all: no user
//                                                            # notification, no RET_TRACE
//   refusing_wrapper unshare=EPERM -- hijackd run -- true    # no new namespaces, as under
//                                                            # Docker's default profile
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

namespace {

struct ErrnoName {
  const char* name;
  int value;
};
constexpr ErrnoName kErrnos[] = {{"EPERM", EPERM}, {"EINVAL", EINVAL}, {"ENOSYS", ENOSYS},
                                 {"EACCES", EACCES}};

int Usage() {
  fprintf(stderr, "usage: refusing_wrapper SYSCALL=ERRNO... -- CMD ARGS...\n");
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  int i = 1;
  for (; i < argc && strcmp(argv[i], "--") != 0; ++i) {
    char* eq = strchr(argv[i], '=');
    if (eq == nullptr) {
      return Usage();
    }
    *eq = '\0';
    const int nr = seccomp_syscall_resolve_name(argv[i]);
    int err = -1;
    for (const ErrnoName& e : kErrnos) {
      err = strcmp(e.name, eq + 1) == 0 ? e.value : err;
    }
    if (nr == __NR_SCMP_ERROR || err < 0) {
      fprintf(stderr, "refusing_wrapper: unknown syscall or errno in %s=%s\n", argv[i], eq + 1);
      return 64;
    }
    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(err), nr, 0);
  }
  if (i + 1 >= argc) {
    return Usage();
  }
  if (seccomp_load(ctx) != 0) {
    perror("seccomp_load");
    return 1;
  }
  seccomp_release(ctx);
  execvp(argv[i + 1], argv + i + 1);
  perror(argv[i + 1]);
  return 127;
}
