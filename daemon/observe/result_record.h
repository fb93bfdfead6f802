/* The records the kernel result observer (result_observer.bpf.c) and the supervisor
 * (result_observer.cc) exchange: plain C, compiled by clang -target bpf and by the daemon's
 * compiler alike, so both sides agree on one layout.
 *
 *   pending map: tid -> struct hijack_pending   (the supervisor writes, the program deletes)
 *   ring buffer: struct hijack_result           (the program writes, the supervisor reads)
 */
#ifndef HIJACK_DAEMON_OBSERVE_RESULT_RECORD_H_
#define HIJACK_DAEMON_OBSERVE_RESULT_RECORD_H_

#include <linux/types.h>

/* A call the supervisor is about to let run (SECCOMP_USER_NOTIF_FLAG_CONTINUE): the thread's
 * next sys_exit of `nr` is its return. `ticket` tells one such call of a thread from the next. */
struct hijack_pending {
  __s32 nr;
  __u32 reserved;
  __u64 ticket;
};

/* The return of one pending call: the kernel's return value (-errno on failure), as
 * raw_syscalls:sys_exit sees it. `nr` is the number the thread returned from, which differs
 * from the pending one only when the call was changed after the answer (ptrace, exec). */
struct hijack_result {
  __u32 tid;
  __s32 nr;
  __s64 ret;
  __u64 ticket;
};

/* hijack_result.nr of a thread that ended inside its pending call: no return will come. */
#define HIJACK_RESULT_THREAD_ENDED (-2)

#define HIJACK_OBSERVER_MAX_PENDING 65536
#define HIJACK_OBSERVER_RING_BYTES (1u << 20)

#endif /* HIJACK_DAEMON_OBSERVE_RESULT_RECORD_H_ */
