// Paths of the built programs, passed in by CMake.
#pragma once

namespace hijack::testing {
inline constexpr const char* kHijackd = HIJACK_TEST_HIJACKD;
inline constexpr const char* kGuest = HIJACK_TEST_GUEST;
inline constexpr const char* kNoNotifyWrapper = HIJACK_TEST_NO_NOTIFY;
inline constexpr const char* kSourceDir = HIJACK_TEST_SOURCE_DIR;
#ifdef HIJACK_TEST_HIJACKCTL
inline constexpr const char* kHijackctl = HIJACK_TEST_HIJACKCTL;
#endif
#ifdef HIJACK_TEST_AGENT_LIBRARY
inline constexpr const char* kAgentLibrary = HIJACK_TEST_AGENT_LIBRARY;
#endif
}  // namespace hijack::testing
