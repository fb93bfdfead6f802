// The native (x86_64) system call table: names, numbers, and strace-like classes.
//
// Policies name calls the way strace's -e trace= does: a syscall name, a %class, or "all".
// This is the one place that turns such a name into a SyscallSet, and the one place that turns a
// number back into a name for traces and messages. Names come from libseccomp, so they match what
// the seccomp filter compiler accepts; class membership is data (kClasses in the .cc), each class
// with the reason its calls belong to it.
//
//   Result<SyscallSet> set = syscalls::ResolveSyscallSpec("%file");
//   if (!set) return std::unexpected(set.error());   // 'unknown syscall class "%fiel" ...'
//   fmt::print("{}\n", syscalls::SyscallName(ev.nr)); // "openat"
//
// Every function is thread-safe: the tables are built once, on first use, by thread-safe static
// initialization, and are immutable afterwards.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "hijack/result.h"
#include "hijack/syscall_set.h"

namespace hijack::syscalls {

// The native name of `nr` ("openat"), or "syscall_<nr>" when the native arch has no call with
// that number. The view stays valid for the life of the process. Names for numbers outside
// [0, SyscallSet::kCapacity) are cached too, up to a bound (a guest picks the numbers, and must
// not be able to grow the supervisor's memory without limit); past it they read "syscall_?".
std::string_view SyscallName(int nr);

// The names of the calls in `set`, in number order, joined by `separator` ("openat, close").
std::string SyscallNames(const SyscallSet& set, std::string_view separator = ", ");

// The native number of `name`, or nullopt when the native arch has no such call (libseccomp's
// negative pseudo-numbers for calls of other arches are rejected).
std::optional<int> SyscallNumber(std::string_view name);

// Every number below SyscallSet::kCapacity that names a call of the native arch.
SyscallSet AllSyscalls();

// One class of calls, as strace's `-e trace=%name` defines it.
struct SyscallClass {
  std::string_view name;    // with the '%': "%file"
  std::string_view reason;  // why a call is a member: "takes a file name argument"
  std::span<const std::string_view> members;  // names; some may not exist on the native arch
};

// The classes, in a fixed order. Aliases ("%network" for "%net") are not listed separately.
std::span<const SyscallClass> Classes();

// Resolves one item of a policy's syscall list: a name ("openat"), a class ("%file", "%network"),
// or "all" / "%all". Class members the native arch lacks are skipped. Errors (code 0) name the
// item and suggest the closest known name:
//   unknown syscall "opne"; did you mean "open"?
//   unknown syscall class "%fiel" (known: %file, %net, ...); did you mean "%file"?
[[nodiscard]] Result<SyscallSet> ResolveSyscallSpec(std::string_view spec);

}  // namespace hijack::syscalls
