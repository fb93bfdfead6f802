// Runs a command where seccomp user notification is unavailable, as on kernels before 5.0 or in
// sandboxes that forbid it: a filter makes every seccomp(2) call fail with EINVAL.
//
//   no_notify_wrapper hijackd run -- true
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: no_notify_wrapper CMD ARGS...\n");
    return 64;
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EINVAL), SCMP_SYS(seccomp), 0);
  if (seccomp_load(ctx) != 0) {
    perror("seccomp_load");
    return 1;
  }
  seccomp_release(ctx);
  execvp(argv[1], argv + 1);
  perror(argv[1]);
  return 127;
}
