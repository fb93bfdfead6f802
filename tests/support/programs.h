// The built programs every kind of test starts, by the paths CMake passes in (hijack_test in
// tests/CMakeLists.txt defines HIJACK_TEST_<NAME> for each program a test RUNS, and always
// HIJACK_TEST_SOURCE_DIR). A program the test does not run is not declared, so using it is a
// compile error rather than an empty path.
//
//   RunProcess({kHijackd, "run", "--backend", GetParam(), "--", kGuest});
//
// A test's own guest stays a constant of the test file: kGuest names a different program in
// each suite.
//
// Threads: constants only.
#pragma once

namespace hijack::testing {

#ifdef HIJACK_TEST_HIJACKD
inline constexpr const char* kHijackd = HIJACK_TEST_HIJACKD;
#endif
#ifdef HIJACK_TEST_HIJACKCTL
inline constexpr const char* kHijackctl = HIJACK_TEST_HIJACKCTL;
#endif
#ifdef HIJACK_TEST_AGENT_LIBRARY
inline constexpr const char* kAgentLibrary = HIJACK_TEST_AGENT_LIBRARY;  // libhijack-agent.so
#endif
inline constexpr const char* kSourceDir = HIJACK_TEST_SOURCE_DIR;

}  // namespace hijack::testing
