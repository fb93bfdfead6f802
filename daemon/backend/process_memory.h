// ProcessMemory: GuestMemory over process_vm_readv(2) for one guest thread.
//
//   ProcessMemory mem(tid, [&] { return NotificationStillValid(); });
//   Result<std::string> path = mem.ReadString(addr);
//
// `still_valid`, when set, runs after every read; if it returns false the read fails with ENOENT
// (seccomp_unotify(2): the target may have been replaced between the notification and the read,
// so the notification id must be checked after reading and before acting on what was read).
#pragma once

#include <sys/types.h>

#include <functional>

#include "hijack/guest_memory.h"

namespace hijack::backend {

class ProcessMemory final : public GuestMemory {
 public:
  ProcessMemory(pid_t tid, std::function<bool()> still_valid)
      : tid_(tid), still_valid_(std::move(still_valid)) {}

  Result<size_t> Read(uint64_t addr, std::span<std::byte> out) override;
  Result<std::string> ReadString(uint64_t addr, size_t max) override;

 private:
  Result<size_t> ReadOnce(uint64_t addr, std::span<std::byte> out);

  pid_t tid_;
  std::function<bool()> still_valid_;
};

}  // namespace hijack::backend
