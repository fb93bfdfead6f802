// Runs a command where new namespaces are refused, as under Docker's default seccomp profile
// (which allows unshare(2) and clone(2) of namespaces only with CAP_SYS_ADMIN): a filter makes
// unshare(2) fail with EPERM.
//
//   no_namespace_wrapper hijackd run -- true      # hijackd falls back to --contain none
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: no_namespace_wrapper CMD ARGS...\n");
    return 64;
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 0);
  if (seccomp_load(ctx) != 0) {
    perror("seccomp_load");
    return 1;
  }
  seccomp_release(ctx);
  execvp(argv[1], argv + 1);
  perror(argv[1]);
  return 127;
}
