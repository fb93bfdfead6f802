/* The records the kernel result observer (result_observer.bpf.c) and the supervisor
 * (result_observer.cc) exchange: plain C, compiled by clang -target bpf and by the daemon's
 * compiler alike, so both sides agree on one layout.
 *
 *   marks array:  slot -> __u64 mark            (the supervisor stores through its mapping of
 *                                                the array, the program clears)
 *   pending map:  tid -> struct hijack_pending   (overflow only: the supervisor writes with
 *                                                bpf(2), the program deletes)
 *   ring buffer:  struct hijack_result           (the program writes, the supervisor reads)
 *
 * Who writes what, and why plain stores suffice: the supervisor writes thread T's slot only
 * while T waits for its answer (before SECCOMP_IOCTL_NOTIF_SEND, whose wake-up of T orders the
 * store before T's return) or after T's next notification (which T sends after the return the
 * program saw). The program clears the slot only on T's own sys_exit. Both sides never write a
 * slot at the same time except to clear it, and every access is one aligned 8-byte word.
 */
#ifndef HIJACK_DAEMON_OBSERVE_RESULT_RECORD_H_
#define HIJACK_DAEMON_OBSERVE_RESULT_RECORD_H_

#include <linux/types.h>

/* Slot of thread `tid` in the marks array: tid modulo the number of slots (a power of two,
 * HIJACK_OBSERVER_SLOTS unless the supervisor sets another at load). While its call is pending
 * the slot holds HIJACK_MARK(tid, ticket); 0 when free. A slot another pending thread holds
 * (tids equal modulo the size) sends the newcomer to the pending hash map instead, and the
 * word after the last slot counts the marks there: the program consults the hash only while it
 * is non-zero, so an exit of a thread that is no guest costs one array load and compare. 65536
 * slots cover every thread id where pid_max is the kernel's default of 32768 (512 KiB). */
#define HIJACK_OBSERVER_SLOTS 65536u
#define HIJACK_MARK(tid, ticket) (((__u64)(tid) << 32) | (__u32)(ticket))

/* A call the supervisor is about to let run (SECCOMP_USER_NOTIF_FLAG_CONTINUE), in the pending
 * hash when the thread's slot was taken: the thread's next sys_exit is its return. `ticket`
 * (never 0, below 2^32 like a slot's) tells one such call of a thread from the next. */
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
/* hijack_result.nr of a record of the process observer (process_observer.bpf.c): process `tid`
 * of guest `ticket` has ended with wait(2) status `ret`. */
#define HIJACK_RESULT_PROCESS_ENDED (-3)

#define HIJACK_OBSERVER_MAX_PENDING 65536
#define HIJACK_OBSERVER_RING_BYTES (1u << 20)
#define HIJACK_OBSERVER_MAX_PROCESSES 65536
#define HIJACK_OBSERVER_PROCESS_RING_BYTES (1u << 16)

#endif /* HIJACK_DAEMON_OBSERVE_RESULT_RECORD_H_ */
