// TestModule: the part of a PolicyModule that every module a test writes repeats (its name, the
// system calls it asks the filter for, whether it enforces), so that the test's own module says
// only what it is about.
//
//   class FixedModule final : public testing::TestModule {
//    public:
//     FixedModule() : TestModule("fixed", {SYS_getppid}, /*enforces=*/true) {}
//     std::optional<Decision> Decide(const SyscallEvent&, GuestMemory&) override { ... }
//   };
//
// Threads: the three answers are constant after construction.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "hijack/policy.h"
#include "hijack/syscall_set.h"

namespace hijack::testing {

class TestModule : public PolicyModule {
 public:
  TestModule(std::string name, std::initializer_list<int> syscalls, bool enforces)
      : name_(std::move(name)), enforces_(enforces) {
    for (int nr : syscalls) {
      syscalls_.Add(nr);
    }
  }
  std::string_view Name() const override { return name_; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return enforces_; }

 private:
  std::string name_;
  SyscallSet syscalls_;
  bool enforces_;
};

}  // namespace hijack::testing
