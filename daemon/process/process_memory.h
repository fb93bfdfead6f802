// ProcessMemory: GuestMemory over process_vm_readv(2) for one guest thread.
//
//   ProcessMemory mem(tid, [&] { return NotificationStillValid(); });
//   Result<std::string> path = mem.ReadString(addr);
//
// `still_valid`, when set, runs after every read; if it returns false the read fails with ENOENT
// (seccomp_unotify(2): the target may have been replaced between the notification and the read,
// so the notification id must be checked after reading and before acting on what was read).
//
// Where process_vm_readv(2) itself is refused with EPERM or ENOSYS (a container engine's seccomp
// profile: Docker's default allows it without CAP_SYS_PTRACE only on kernels from 4.8 on, and
// older profiles not at all), reads go through /proc/TID/mem: the kernel makes the same ptrace
// access check there, and such profiles do not filter open/pread. Not thread-safe; one per
// intercepted call, on the loop thread.
#pragma once

#include <sys/types.h>

#include <functional>

#include "hijack/guest_memory.h"
#include "hijack/unique_fd.h"

namespace hijack::backend {

class ProcessMemory final : public GuestMemory {
 public:
  ProcessMemory(pid_t tid, std::function<bool()> still_valid)
      : tid_(tid), still_valid_(std::move(still_valid)) {}

  Result<size_t> Read(uint64_t addr, std::span<std::byte> out) override;
  Result<std::string> ReadString(uint64_t addr, size_t max) override;
  bool StillPending() override { return !still_valid_ || still_valid_(); }

 private:
  Result<size_t> ReadOnce(uint64_t addr, std::span<std::byte> out);
  Result<size_t> ReadProcMem(uint64_t addr, std::span<std::byte> out);

  pid_t tid_;
  std::function<bool()> still_valid_;
  bool vm_readv_refused_ = false;
  UniqueFd proc_mem_;  // /proc/TID/mem, opened at the first read that needs it
};

}  // namespace hijack::backend
