// SchedAttr: struct sched_attr of sched_setattr(2) and sched_getattr(2), and the two calls,
// which this distribution's C library does not wrap (and <linux/sched/types.h> cannot be
// included beside <sched.h> to declare). The daemon's scheduling services use it: cpushare's
// SCHED_DEADLINE reservations and the timer module's boost.
//
//   common::SchedAttr a;
//   if (common::GetSchedAttr(tid, a) == 0) { a.sched_policy = SCHED_FIFO; ... }
//   common::SetSchedAttr(tid, a);  // -1 and errno as the kernel says
//
// Threads: any.
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>

namespace hijack::common {

// The layout of SCHED_ATTR_SIZE_VER1 (56 bytes: with the utilisation clamps).
struct SchedAttr {
  uint32_t size = sizeof(SchedAttr);
  uint32_t sched_policy = 0;
  uint64_t sched_flags = 0;
  int32_t sched_nice = 0;
  uint32_t sched_priority = 0;
  uint64_t sched_runtime = 0;
  uint64_t sched_deadline = 0;
  uint64_t sched_period = 0;
  uint32_t sched_util_min = 0;
  uint32_t sched_util_max = 0;
};
static_assert(sizeof(SchedAttr) == 56);

inline constexpr uint64_t kSchedFlagResetOnFork = 0x01;  // SCHED_FLAG_RESET_ON_FORK
inline constexpr uint32_t kSchedDeadline = 6;            // SCHED_DEADLINE

// Thread `tid`'s (0: the caller's) scheduling attributes into `attr`; 0, or -1 with errno.
inline int GetSchedAttr(pid_t tid, SchedAttr& attr) {
  attr = SchedAttr{};
  return static_cast<int>(syscall(SYS_sched_getattr, tid, &attr, sizeof attr, 0));
}
inline int SetSchedAttr(pid_t tid, const SchedAttr& attr) {
  return static_cast<int>(syscall(SYS_sched_setattr, tid, &attr, 0));
}

}  // namespace hijack::common
