// fault: injects failures into chosen calls, reproducibly, for chaos testing.
//
//   {"module": "fault", "syscall": "openat", "errno": "EIO", "probability": 0.01, "seed": 7}
//   {"module": "fault", "syscalls": ["read"], "short": 1, "path": "/data/**", "after": 100,
//    "times": 5}
//
// An eligible call is one of `syscalls` (or `syscall`) whose path matches `path` when given (the
// resolved path argument of path calls such as openat, or the file behind the descriptor of fd
// calls such as read: /proc/PID/fd/N). The k-th eligible call (counting from 0, per module
// instance) is hit when k >= `after`, fewer than `times` calls were hit so far, and
// splitmix64(seed, k) < probability. Given the same seed and the same sequence of calls, the same
// calls fail: a failing chaos run can be replayed (Stats() lists the hit call indexes).
// `every` S hits only every S-th call from `after` on; `retval` V makes a hit call return V
// without running instead of failing. The failure is `errno` (the call does not run), or with
// `short` N a short transfer: for read,
// pread64, write, pwrite64, recvfrom and sendto with a count above N, the supervisor performs
// the transfer itself with N bytes (on a duplicate of the guest's descriptor, pidfd_getfd(2),
// which shares the file offset; the data moves with process_vm_readv/writev(2)) and the guest
// sees the short count. A transfer that would block (no data ready) is not eligible, so the loop
// never waits on a guest's descriptor.
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <vector>

#include "daemon/modules/fs_guard/path_pattern.h"
#include "daemon/policy/module_registry.h"
#include "hijack/unique_fd.h"

namespace hijack::modules {

class FaultModule final : public PolicyModule {
 public:
  struct Config {
    SyscallSet syscalls;
    int err = EIO;
    std::optional<uint64_t> short_count;
    std::optional<PathPattern> path;
    double probability = 1.0;
    uint64_t seed = 0;
    uint64_t after = 0;
    uint64_t times = UINT64_MAX;
    // Of the calls from `after` on, only every `every`-th is eligible for the draw (strace's
    // when=N+STEP).
    uint64_t every = 1;
    // Instead of `err`: the call does not run and returns this (strace's retval=).
    std::optional<int64_t> retval;
  };

  explicit FaultModule(Config config) : config_(std::move(config)) {}
  static policy::ModuleInfo Info();

  std::string_view Name() const override { return "fault"; }
  const SyscallSet& Syscalls() const override { return config_.syscalls; }
  bool Enforces() const override { return true; }
  std::optional<Decision> Decide(const SyscallEvent& ev, GuestMemory& mem) override;
  nlohmann::json Stats() const override;
  std::string Report() const override;

  // Whether the k-th eligible call is hit by the draw (pure: seed and k only).
  bool Draw(uint64_t k) const;

 private:
  std::optional<std::string> PathOf(const SyscallEvent& ev, GuestMemory& mem) const;
  // A duplicate of the guest's descriptor (pidfd_getfd), if the transfer would not block.
  // The guest's descriptor args[0], when a transfer on it would not block. Invalid when it would,
  // or when the descriptor cannot be taken (then counted in untakable_, with the reason).
  UniqueFd ReadyDescriptor(const SyscallEvent& ev, GuestMemory& mem);
  Decision ShortTransfer(const SyscallEvent& ev, GuestMemory& mem, const UniqueFd& fd);

  const Config config_;
  mutable std::mutex mu_;
  uint64_t eligible_ = 0;
  uint64_t hits_ = 0;
  std::vector<uint64_t> hit_indexes_;  // the first 64
  uint64_t untakable_ = 0;             // short transfers skipped: pidfd_getfd refused
  std::string untakable_reason_;
};

}  // namespace hijack::modules
