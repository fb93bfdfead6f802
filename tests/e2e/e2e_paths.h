// Paths of the built programs the end-to-end tests start, passed in by CMake, and what both
// end-to-end suites (control_test.cc, auth_test.cc) read hijackctl's answers by.
#pragma once

#include <chrono>

#include "tests/support/programs.h"

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
}  // namespace hijack::testing
