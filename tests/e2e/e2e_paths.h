// Paths of the built programs the end-to-end tests start, passed in by CMake, what the
// end-to-end suites (control_test.cc, serve_test.cc, auth_test.cc) read hijackctl's answers by,
// and the start and stop of a `hijackd serve` that control_test.cc and serve_test.cc share.
//
//   StartServe(daemon_, {kHijackd, "serve", "--listen", address_}, address_, dir_.path());
//   ...
//   if (auto stopped = StopServe(daemon_)) EXPECT_EQ(stopped->exit_code, 0);
//
// Threading: the helpers are called from the test's own thread.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/programs.h"
#include "tests/support/subprocess.h"

namespace hijack::testing {
inline constexpr const char* kProtoc = HIJACK_TEST_PROTOC;
inline constexpr const char* kGrpcPythonPlugin = HIJACK_TEST_GRPC_PYTHON_PLUGIN;  // "" if absent
inline constexpr const char* kPython = HIJACK_TEST_PYTHON;
inline constexpr const char* kModulesGuest = HIJACK_TEST_MODULES_GUEST;

// How long a test waits for a condition (Eventually, HttpGetWhenUp) before it fails.
inline constexpr std::chrono::seconds kDeadline{60};

// Status codes hijackctl exits with: the gRPC codes (grpc/status.h).
inline constexpr int kInvalidArgument = 3;
inline constexpr int kNotFound = 5;
inline constexpr int kPermissionDenied = 7;
inline constexpr int kFailedPrecondition = 9;
inline constexpr int kAborted = 10;
inline constexpr int kUnavailable = 14;
inline constexpr int kUnauthenticated = 16;

// Starts `argv` (a `hijackd serve --listen ADDRESS ...` command line) in `dir` into `daemon` and
// waits until it says it listens on `address`: a fatal failure naming its stderr otherwise.
inline void StartServe(std::unique_ptr<BackgroundProcess>& daemon,
                       const std::vector<std::string>& argv, const std::string& address,
                       const std::string& dir) {
  daemon = std::make_unique<BackgroundProcess>(argv, dir);
  ASSERT_TRUE(daemon->WaitForOutput("listening on " + address, kDeadline)) << daemon->Stderr();
}

// Stops a daemon StartServe started with SIGTERM, as a service manager does; a failure if it
// is still running at the deadline. The result is for the exit checks a suite adds; nullopt if
// no daemon was started.
inline std::optional<ProcessResult> StopServe(std::unique_ptr<BackgroundProcess>& daemon) {
  if (!daemon) {
    return std::nullopt;
  }
  ProcessResult stopped = daemon->Stop(SIGTERM);
  EXPECT_FALSE(stopped.timed_out);
  return stopped;
}
}  // namespace hijack::testing
