// Paths of the built programs the run tests start (beside tests/support/programs.h), passed in by
// CMake, and the wrappers that run a command where the kernel refuses something
// (tests/guests/refusing_wrapper.cc).
//
//   RunProcess(HijackdRun{.hijackd = kHijackd, .prefix = WithoutSeccomp()}.Argv({"true"}));
#pragma once

#include <string>
#include <vector>

#include "tests/support/programs.h"

namespace hijack::testing {
inline constexpr const char* kGuest = HIJACK_TEST_GUEST;
inline constexpr const char* kRefusingWrapper = HIJACK_TEST_REFUSING_WRAPPER;
// Every seccomp(2) call fails with EINVAL: no user notification, no SECCOMP_RET_TRACE, no
// filter at all (a kernel before 5.0, or a sandbox that forbids seccomp).
inline std::vector<std::string> WithoutSeccomp() {
  return {kRefusingWrapper, "seccomp=EINVAL", "--"};
}
// unshare(2) fails with EPERM, as under Docker's default profile (namespaces need
// CAP_SYS_ADMIN there).
inline std::vector<std::string> WithoutNamespaces() {
  return {kRefusingWrapper, "unshare=EPERM", "--"};
}
}  // namespace hijack::testing
