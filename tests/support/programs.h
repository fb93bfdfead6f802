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
// HIJACK_TEST_HIJACKD and HIJACK_TEST_HIJACKCTL in the environment, when set and not empty,
// replace the built hijackd and hijackctl: `scripts/test tsan` runs the release tree's
// end-to-end and reliability programs against the ThreadSanitizer tree's hijackd, whose
// policy host and agent are those of its own tree (common/install_layout.h).
//
//   HIJACK_TEST_HIJACKD=$PWD/build/tsan/daemon/hijackd build/release/tests/hijack_e2e_serve_tests
//
// Threads: read-only after static initialization (the environment is read once, at start-up).
#pragma once

#include <cstdlib>

namespace hijack::testing {

// The program `variable` names in the environment, or `built` when it is unset or empty.
inline const char* ProgramFromEnvironment(const char* variable, const char* built) {
  const char* set = std::getenv(variable);
  return set != nullptr && *set != '\0' ? set : built;
}

#ifdef HIJACK_TEST_HIJACKD
inline const char* const kHijackd =
    ProgramFromEnvironment("HIJACK_TEST_HIJACKD", HIJACK_TEST_HIJACKD);
#endif
#ifdef HIJACK_TEST_HIJACKCTL
inline const char* const kHijackctl =
    ProgramFromEnvironment("HIJACK_TEST_HIJACKCTL", HIJACK_TEST_HIJACKCTL);
#endif
#ifdef HIJACK_TEST_AGENT_LIBRARY
inline constexpr const char* kAgentLibrary = HIJACK_TEST_AGENT_LIBRARY;  // libhijack-agent.so
#endif
inline constexpr const char* kSourceDir = HIJACK_TEST_SOURCE_DIR;

}  // namespace hijack::testing
