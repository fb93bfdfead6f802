// SPDX-License-Identifier: GPL-2.0
/* The kernel side of the result observer: a raw tracepoint on sys_exit that reports the return
 * of the calls the supervisor let run under seccomp user notification, which the supervisor
 * cannot see itself (seccomp_unotify(2): after SECCOMP_USER_NOTIF_FLAG_CONTINUE the kernel runs
 * the call and reports nothing).
 *
 * The supervisor marks each such call before it sends the answer, with a plain store into its
 * mapping of `marks` (BPF_F_MMAPABLE; no system call per answer): the slot of the thread holds
 * (thread id, ticket). The thread cannot return before the answer, so its next sys_exit is the
 * call's return. The program reads the exiting thread's slot, and only for a marked thread
 * clears it, reserves a record in `results` and submits. Every other syscall exit of the
 * machine costs one array load and compare (array lookups are inlined by the verifier), and a
 * second one while some mark had to go to the `pending` hash (two pending threads sharing a
 * slot). A second program, on sched_process_exit, drops the mark of a thread that ends inside
 * its call and says so.
 *
 * No CO-RE: the one kernel structure read is x86_64's struct pt_regs, whose layout is the
 * user ABI of ptrace(2) (orig_rax is its 16th word), so loading needs no kernel BTF.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "result_record.h"

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, HIJACK_OBSERVER_SLOTS + 1); /* + the overflow count; set at load */
  __type(key, __u32);
  __type(value, __u64);
} marks SEC(".maps");

/* The overflow of `marks`, rarely used: not preallocated, since building 65536 free entries
 * took milliseconds of every hijackd start. Only the supervisor inserts (bpf(2) may allocate);
 * the program looks up and deletes, which allocate nothing, so a raw tracepoint may use it. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, HIJACK_OBSERVER_MAX_PENDING);
  __type(key, __u32);
  __type(value, struct hijack_pending);
} pending SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, HIJACK_OBSERVER_RING_BYTES);
} results SEC(".maps");

/* Records lost because the ring was full: one counter per CPU, summed by the supervisor. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} dropped SEC(".maps");

/* Slots - 1 (a power of two minus one), set by the supervisor before loading: the overflow
 * count is the word after the last slot. */
const volatile __u32 slot_mask = HIJACK_OBSERVER_SLOTS - 1;

#define HIJACK_PT_REGS_ORIG_RAX_OFFSET (15 * 8)

/* `wake`: 0 submits without waking the supervisor (BPF_RB_NO_WAKEUP): it reads the ring at the
 * thread's next intercepted call anyway, and on a timer while results are outstanding, which
 * saves a wake-up of its loop per call. */
static void report(__u32 tid, __s32 nr, __s64 ret, __u64 ticket, int wake) {
  struct hijack_result *r = bpf_ringbuf_reserve(&results, sizeof *r, 0);
  if (!r) {
    __u32 zero = 0;
    __u64 *n = bpf_map_lookup_elem(&dropped, &zero);
    if (n) {
      *n += 1;
    }
    return;
  }
  r->tid = tid;
  r->nr = nr;
  r->ret = ret;
  r->ticket = ticket;
  bpf_ringbuf_submit(r, wake ? 0 : BPF_RB_NO_WAKEUP);
}

/* Takes the mark of the current thread `tid`: its ticket, or 0 when the thread is not marked. */
static __always_inline __u64 take_mark(__u32 tid) {
  __u32 slot = tid & slot_mask;
  __u64 *m = bpf_map_lookup_elem(&marks, &slot);
  if (!m) {
    return 0;
  }
  __u64 mark = *m;
  if (mark != 0 && (__u32)(mark >> 32) == tid) {
    *m = 0;
    return (__u32)mark;
  }
  __u32 overflow_key = slot_mask + 1;
  __u64 *overflow = bpf_map_lookup_elem(&marks, &overflow_key);
  if (!overflow || *overflow == 0) {
    return 0;
  }
  struct hijack_pending *p = bpf_map_lookup_elem(&pending, &tid);
  if (!p) {
    return 0;
  }
  __u64 ticket = p->ticket;
  /* Whoever deletes the entry (this program, or the supervisor giving up on the call) lowers
   * the count: only one of the two deletions succeeds. */
  if (bpf_map_delete_elem(&pending, &tid) == 0) {
    __sync_fetch_and_add(overflow, -1);
  }
  return ticket;
}

/* TP_PROTO(struct pt_regs *regs, long ret) */
SEC("raw_tracepoint/sys_exit")
int hijack_sys_exit(struct bpf_raw_tracepoint_args *ctx) {
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  __u64 ticket = take_mark(tid);
  if (ticket == 0) {
    return 0;
  }
  long nr = -1;
  bpf_probe_read_kernel(&nr, sizeof nr,
                        (const char *)ctx->args[0] + HIJACK_PT_REGS_ORIG_RAX_OFFSET);
  report(tid, (__s32)nr, (__s64)ctx->args[1], ticket, 0);
  return 0;
}

/* TP_PROTO(struct task_struct *p): the exiting thread is the current one. A thread that ends
 * inside a pending call (killed, or replaced by an exec of another thread) never returns from
 * it: its mark goes, and the supervisor learns at once that no result will come. Without this a
 * thread id the kernel hands out again would find the mark of a dead thread. */
SEC("raw_tracepoint/sched_process_exit")
int hijack_thread_exit(struct bpf_raw_tracepoint_args *ctx) {
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  __u64 ticket = take_mark(tid);
  if (ticket == 0) {
    return 0;
  }
  report(tid, HIJACK_RESULT_THREAD_ENDED, 0, ticket, 1);
  return 0;
}
