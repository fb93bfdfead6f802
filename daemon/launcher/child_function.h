// ChildFunction: a seam for tests and benchmarks that measure a backend alone. The guest is a
// function of the supervising program, run in the forked child under the filter in place of the
// exec of LaunchSpec::path, so that a test states exactly which calls the guest makes.
//
//   LaunchSpec spec;
//   spec.argv = {"guest"};
//   ChildFunction::Set(spec, [] { return syscall(SYS_getppid) > 0 ? 0 : 1; });
//   backend->Launch(spec, handler);   // the child exits with the function's return value
//
// hijackd never sets one: a guest it launches is always an exec'd program. Under notify the
// function starts once the supervisor holds the listener, as an exec'd guest's first execve
// waits for it; it runs in a forked child of a possibly multi-threaded process, so it must not
// take locks another thread may hold.
#pragma once

#include <functional>
#include <utility>

#include "hijack/backend.h"

namespace hijack::launcher {

struct ChildFunction {
  // Makes the child of `spec` run `main` and exit with its return value.
  static void Set(LaunchSpec& spec, std::function<int()> main) {
    spec.child_function_ = std::move(main);
  }
  // The function the child runs instead of exec'ing, or an empty one.
  static const std::function<int()>& Of(const LaunchSpec& spec) { return spec.child_function_; }
};

}  // namespace hijack::launcher
