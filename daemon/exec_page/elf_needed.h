// The shared libraries an ELF executable names in its dynamic section (DT_NEEDED), read from
// the file without loading it, so the launcher can tell what the dynamic loader will map first.
//
//   auto needed = exec_page::NeededLibraries("/usr/bin/python3");
//   // *needed: {"libm.so.6", "libz.so.1", "libexpat.so.1", "libc.so.6"}
//
// Used to place the agent after a sanitizer runtime that insists on being the first library
// (AddressSanitizer checks that its runtime comes first in the initial library list).
//
// Threads: any; reads the file with pread(2) only. Errors name the file and what was wrong with
// it; a file that is not a 64-bit ELF (a script, a foreign binary) or has no dynamic section (a
// static binary) is not an error: its list is empty.
#pragma once

#include <string>
#include <vector>

#include "hijack/result.h"

namespace hijack::exec_page {

Result<std::vector<std::string>> NeededLibraries(const std::string& path);

// The first entry of `needed` that is a dynamically linked sanitizer runtime which requires to
// come first in the initial library list (libasan.so.N, libclang_rt.asan-*.so), or empty.
std::string FirstComingSanitizer(const std::vector<std::string>& needed);

}  // namespace hijack::exec_page
