// Paths of the built programs the end-to-end tests start, passed in by CMake.
#pragma once

namespace hijack::testing {
inline constexpr const char* kHijackd = HIJACK_TEST_HIJACKD;
inline constexpr const char* kHijackctl = HIJACK_TEST_HIJACKCTL;
inline constexpr const char* kProtoc = HIJACK_TEST_PROTOC;
inline constexpr const char* kGrpcPythonPlugin = HIJACK_TEST_GRPC_PYTHON_PLUGIN;  // "" if absent
inline constexpr const char* kPython = HIJACK_TEST_PYTHON;
inline constexpr const char* kSourceDir = HIJACK_TEST_SOURCE_DIR;
inline constexpr const char* kModulesGuest = HIJACK_TEST_MODULES_GUEST;
}  // namespace hijack::testing
