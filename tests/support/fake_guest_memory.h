// FakeGuestMemory: a GuestMemory that serves bytes the test placed, for tests that decide or
// decode calls without a guest.
//
//   FakeGuestMemory mem;
//   uint64_t path = mem.PutString("/etc/passwd");     // an address that reads as that string
//   mem.Map(0x7f0000000000, bytes);                    // or bytes at an address of the test's
//   mem.pending = false;                               // the call "left" (StillPending)
//
// Any other address reads as EFAULT, and a read that runs past the end of a placed object is
// short, as at the end of a mapping; a string without a NUL within the object is EFAULT (it ran
// off the mapping), one without a NUL within `max` bytes ENAMETOOLONG. Placed objects never
// move. One thread.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hijack/guest_memory.h"

namespace hijack::testing {

class FakeGuestMemory final : public GuestMemory {
 public:
  // Places `bytes` at an address of the fake's choosing (its own copy's), returned.
  uint64_t Put(std::string_view bytes) {
    Object& o = objects_.emplace_back(Object{0, std::string(bytes)});
    o.addr = reinterpret_cast<uint64_t>(o.bytes.data());
    return o.addr;
  }
  uint64_t PutString(std::string_view s) { return Put(std::string(s) + '\0'); }
  uint64_t PutPointers(const std::vector<uint64_t>& ptrs) {
    return Put(std::string_view(reinterpret_cast<const char*>(ptrs.data()),
                                ptrs.size() * sizeof(uint64_t)));
  }
  template <typename T>
  uint64_t PutObject(const T& object, size_t size = sizeof(T)) {
    return Put(std::string_view(reinterpret_cast<const char*>(&object), size));
  }
  // Places `bytes` at `addr`, which must not overlap another object.
  void Map(uint64_t addr, std::string_view bytes) {
    objects_.push_back(Object{addr, std::string(bytes)});
  }

  Result<size_t> Read(uint64_t addr, std::span<std::byte> out) override {
    std::string_view rest = Find(addr);
    if (rest.empty()) {
      return ErrnoError(EFAULT, "read");
    }
    const size_t n = std::min(rest.size(), out.size());
    std::memcpy(out.data(), rest.data(), n);
    return n;
  }

  Result<std::string> ReadString(uint64_t addr, size_t max) override {
    std::string_view rest = Find(addr);
    if (rest.empty()) {
      return ErrnoError(EFAULT, "read string");
    }
    const size_t nul = rest.substr(0, max).find('\0');
    if (nul == std::string_view::npos) {
      return ErrnoError(rest.size() < max ? EFAULT : ENAMETOOLONG, "read string");
    }
    return std::string(rest.substr(0, nul));
  }

  bool StillPending() override { return pending; }

  bool pending = true;

 private:
  struct Object {
    uint64_t addr;
    std::string bytes;
  };

  // The bytes from addr to the end of the object that holds it.
  std::string_view Find(uint64_t addr) const {
    for (const Object& o : objects_) {
      if (addr >= o.addr && addr - o.addr < o.bytes.size()) {
        return std::string_view(o.bytes).substr(addr - o.addr);
      }
    }
    return {};
  }

  std::deque<Object> objects_;  // a deque never moves its elements
};

}  // namespace hijack::testing
