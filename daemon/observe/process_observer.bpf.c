// SPDX-License-Identifier: GPL-2.0
/* The kernel side of the process observer: the end of each process of a guest, with its wait
 * status, which the notify backend cannot see itself (its filter lets exit_group(2) run without
 * asking, and a guest's children are not hijackd's to wait for).
 *
 * `guest_procs` holds the processes of the guests (tgid -> guest id): the supervisor adds each
 * process it sees calling, and sched_process_fork adds each new process a member forks before
 * it makes any call. sched_process_exit, in the last thread of a member (signal->live has
 * dropped to 0), takes the process out and sends (tgid, status, guest id) through `ended`. Every
 * other fork and exit of the machine costs one failed hash lookup.
 *
 * Unlike the result observer this program reads struct task_struct, whose layout is the
 * kernel's own: CO-RE (libbpf relocates the offsets from the kernel's BTF at load), so it needs
 * /sys/kernel/btf/vmlinux and loads apart from the result observer.
 */
#include <linux/bpf.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "result_record.h"

char LICENSE[] SEC("license") = "GPL";

/* The members read, named as the kernel names them; libbpf finds their offsets in its BTF. */
typedef struct {
  int counter;
} atomic_t;

struct signal_struct {
  atomic_t live;
} __attribute__((preserve_access_index));

struct task_struct {
  int pid;
  int tgid;
  int exit_code;
  struct task_struct *group_leader;
  struct signal_struct *signal;
} __attribute__((preserve_access_index));

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, HIJACK_OBSERVER_MAX_PROCESSES);
  __type(key, __u32);
  __type(value, __u64);
} guest_procs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, HIJACK_OBSERVER_PROCESS_RING_BYTES);
} ended SEC(".maps");

/* TP_PROTO(struct task_struct *parent, struct task_struct *child) */
SEC("raw_tracepoint/sched_process_fork")
int hijack_process_fork(struct bpf_raw_tracepoint_args *ctx) {
  struct task_struct *child = (struct task_struct *)ctx->args[1];
  __u32 pid = BPF_CORE_READ(child, pid);
  __u32 tgid = BPF_CORE_READ(child, tgid);
  if (pid != tgid) {
    return 0; /* a thread: its process is a member already, or not */
  }
  __u32 parent = (__u32)(bpf_get_current_pid_tgid() >> 32);
  __u64 *guest = bpf_map_lookup_elem(&guest_procs, &parent);
  if (!guest) {
    return 0;
  }
  __u64 id = *guest;
  bpf_map_update_elem(&guest_procs, &tgid, &id, BPF_NOEXIST);
  return 0;
}

/* TP_PROTO(struct task_struct *p, ...): the exiting thread is the current one. */
SEC("raw_tracepoint/sched_process_exit")
int hijack_process_exit(struct bpf_raw_tracepoint_args *ctx) {
  __u32 tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
  __u64 *guest = bpf_map_lookup_elem(&guest_procs, &tgid);
  if (!guest) {
    return 0;
  }
  struct task_struct *task = (struct task_struct *)ctx->args[0];
  if (BPF_CORE_READ(task, signal, live.counter) != 0) {
    return 0; /* other threads live on: the process has not ended */
  }
  __u64 id = *guest;
  bpf_map_delete_elem(&guest_procs, &tgid);
  /* The leader's code is the process's (wait(2)): the group's code for exit_group(2) or a fatal
   * signal, which every thread exits with, else the leader's own exit(2), made before. */
  int code = BPF_CORE_READ(task, group_leader, exit_code);
  struct hijack_result *r = bpf_ringbuf_reserve(&ended, sizeof *r, 0);
  if (!r) {
    return 0; /* the supervisor counts the processes it never heard end */
  }
  r->tid = tgid;
  r->nr = HIJACK_RESULT_PROCESS_ENDED;
  r->ret = code;
  r->ticket = id;
  bpf_ringbuf_submit(r, 0);
  return 0;
}
