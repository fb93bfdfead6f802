#include "daemon/process/process_memory.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hijack::backend {
namespace {
constexpr uint64_t kPageSize = 4096;
}

Result<size_t> ProcessMemory::ReadOnce(uint64_t addr, std::span<std::byte> out) {
  if (vm_readv_refused_) {
    return ReadProcMem(addr, out);
  }
  iovec local{out.data(), out.size()};
  iovec remote{reinterpret_cast<void*>(addr), out.size()};
  ssize_t n = process_vm_readv(tid_, &local, 1, &remote, 1, 0);
  if (n < 0) {
    if (errno == EPERM || errno == ENOSYS) {
      vm_readv_refused_ = true;
      return ReadProcMem(addr, out);
    }
    return ErrnoError(errno, "process_vm_readv of thread " + std::to_string(tid_));
  }
  return static_cast<size_t>(n);
}

Result<size_t> ProcessMemory::ReadProcMem(uint64_t addr, std::span<std::byte> out) {
  if (!proc_mem_.valid()) {
    const std::string path = "/proc/" + std::to_string(tid_) + "/mem";
    proc_mem_.reset(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!proc_mem_.valid()) {
      return ErrnoError(errno, "open " + path + " (process_vm_readv was refused)");
    }
  }
  if (addr > static_cast<uint64_t>(INT64_MAX)) {
    return ErrnoError(EFAULT, "reading guest address above the offset range of /proc/PID/mem");
  }
  ssize_t n = pread(proc_mem_.get(), out.data(), out.size(), static_cast<off_t>(addr));
  if (n < 0) {
    // An unmapped address reads as EIO here; process_vm_readv says EFAULT, and so do we.
    return ErrnoError(errno == EIO ? EFAULT : errno,
                      "reading /proc/" + std::to_string(tid_) + "/mem");
  }
  return static_cast<size_t>(n);
}

Result<size_t> ProcessMemory::Read(uint64_t addr, std::span<std::byte> out) {
  if (addr == 0) {
    return ErrnoError(EFAULT, "reading guest address 0");
  }
  auto n = ReadOnce(addr, out);
  if (still_valid_ && !still_valid_()) {
    return ErrnoError(ENOENT, "guest call is no longer pending");
  }
  return n;
}

Result<std::string> ProcessMemory::ReadString(uint64_t addr, size_t max) {
  if (addr == 0) {
    return ErrnoError(EFAULT, "reading guest string at address 0");
  }
  std::string out;
  std::byte chunk[kPageSize];
  while (out.size() < max) {
    // Never read across a page boundary in one go: the next page may be unmapped while the
    // string ends before it.
    size_t room = static_cast<size_t>(kPageSize - (addr % kPageSize));
    size_t want = std::min(room, max - out.size());
    auto n = ReadOnce(addr, std::span(chunk, want));
    if (!n) {
      return std::unexpected(n.error());
    }
    if (*n == 0) {
      return ErrnoError(EFAULT, "reading guest string");
    }
    const char* data = reinterpret_cast<const char*>(chunk);
    const void* nul = std::memchr(data, '\0', *n);
    if (nul != nullptr) {
      out.append(data, static_cast<const char*>(nul) - data);
      if (still_valid_ && !still_valid_()) {
        return ErrnoError(ENOENT, "guest call is no longer pending");
      }
      return out;
    }
    out.append(data, *n);
    addr += *n;
  }
  return ErrnoError(ENAMETOOLONG, "guest string longer than " + std::to_string(max));
}

}  // namespace hijack::backend
