// SyscallSet: a set of system call numbers of the native architecture.
//
//   SyscallSet s;
//   s.Add(SCMP_SYS(openat));
//   if (s.Contains(ev.nr)) ...
//
// The intercept set of a guest (which calls its seccomp filter sends to the supervisor) is one.
#pragma once

#include <bitset>
#include <cstddef>
#include <vector>

namespace hijack {

class SyscallSet {
 public:
  // Larger than any x86_64 or aarch64 syscall number the kernel defines today.
  static constexpr int kCapacity = 1024;

  void Add(int nr) {
    if (nr >= 0 && nr < kCapacity) {
      bits_.set(static_cast<size_t>(nr));
    }
  }
  void AddAll(const SyscallSet& other) { bits_ |= other.bits_; }
  void Remove(int nr) {
    if (nr >= 0 && nr < kCapacity) {
      bits_.reset(static_cast<size_t>(nr));
    }
  }
  bool Contains(int nr) const {
    return nr >= 0 && nr < kCapacity && bits_.test(static_cast<size_t>(nr));
  }
  bool empty() const { return bits_.none(); }
  size_t size() const { return bits_.count(); }
  std::vector<int> Numbers() const {
    std::vector<int> out;
    for (int i = 0; i < kCapacity; ++i) {
      if (bits_.test(static_cast<size_t>(i))) {
        out.push_back(i);
      }
    }
    return out;
  }
  // Members of this set missing from `other`.
  SyscallSet Minus(const SyscallSet& other) const {
    SyscallSet out;
    out.bits_ = bits_ & ~other.bits_;
    return out;
  }
  bool operator==(const SyscallSet&) const = default;

 private:
  std::bitset<kCapacity> bits_;
};

}  // namespace hijack
