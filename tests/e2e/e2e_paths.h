// Paths of the built programs the end-to-end tests start, passed in by CMake.
#pragma once

namespace hijack::testing {
inline constexpr const char* kHijackd = HIJACK_TEST_HIJACKD;
inline constexpr const char* kHijackctl = HIJACK_TEST_HIJACKCTL;
}  // namespace hijack::testing
