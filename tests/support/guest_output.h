// How the test guests (tests/guests/*) print what a call did, so that a test reads the
// supervisor's decisions from the guest's stdout: errno by name, and one "STEP: ok" or
// "STEP: ERRNO" line per call.
//
//   Step("open", open(path, O_RDONLY | O_CLOEXEC));   // prints "open: ok" or "open: EACCES"
//
// Guests include this header, tests/support/sockets.h and tests/support/path_guest.h (the
// path-call guests' helpers), nothing else of the project.
// Threads: Step writes to stdout; call it from one thread at a time.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace hijack::testing {

// errno's symbolic name ("EACCES"; strerrorname_np(3)), or "E?" for a number glibc has no name
// for.
inline const char* ErrName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "E?";
}

// Prints "<step>: ok" for a call's return value rc >= 0, else "<step>: ERRNO", and flushes (the
// line stands even if the guest is killed next); returns rc.
inline long Step(const char* step, long rc) {
  std::printf("%s: %s\n", step, rc >= 0 ? "ok" : ErrName(errno));
  std::fflush(stdout);
  return rc;
}

}  // namespace hijack::testing
