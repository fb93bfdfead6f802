// DenialText: one denied call said for people, in the policy's terms: which module denied which
// call on what, by which rule, and what to change to allow it.
//
//   std::string line = DenialText(event);
//   // exec_guard denied execve("/usr/sbin/lighttpd"): no allow pattern matches (allow[0..1],
//   //   default deny); add "/usr/sbin/lighttpd" to exec_guard.allow
//
// The object is the module's resolved path (DenialReason::path) when it gave one, else the call's
// first decoded path or address argument (Event::args), else its decoded arguments. Pure; any
// thread.
#pragma once

#include <string>

#include "hijack/event.h"

namespace hijack::supervisor {

// True when `event` is a denial by a module of the policy or by the guard: a kFail with a
// deciding module.
bool IsDenial(const Event& event);

// The line above, without a trailing newline. For a call the kernel would have failed anyway
// (DenialReason::would_fail), the line says so.
std::string DenialText(const Event& event);

}  // namespace hijack::supervisor
