// MonotonicNs: CLOCK_MONOTONIC in nanoseconds, the one clock the daemon's parts stamp events,
// latencies and deadlines with, so that their times compare.
//
//   const int64_t start = common::MonotonicNs();
//   ...
//   record.latency_ns = common::MonotonicNs() - start;
//
// clock_gettime(2) reads it through the vDSO: no system call, so calling it on a hot path (each
// intercepted call) costs tens of nanoseconds. Threads: any.
#pragma once

#include <time.h>

#include <cstdint>

namespace hijack::common {

inline int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace hijack::common
