// The files a program needs to start under hijackd, as `hijackd check POLICY -- PROGRAM` asks the
// policy about them (modules/start_files.h): the program itself (resolved through PATH as `hijackd
// run` does), the shared libraries the dynamic loader opens for it (DT_NEEDED, transitively, found
// by the loader's usual search: LD_LIBRARY_PATH, the directories of /etc/ld.so.conf, then the
// system directories; ld.so(8)), and hijackd's agent library (exec_page::PreloadableAgentLibrary)
// when there is one, which the notify backend preloads.
//
//   auto files = StartFilesOf({"lighttpd", "-D"}, getenv("PATH"));
//   // {"/usr/sbin/lighttpd", kExec, "the program"}, {"/usr/lib/.../libc.so.6", kRead, ...}, ...
//
// The program's ELF interpreter (PT_INTERP) is not among them: execve(2) maps it inside the
// kernel, where no module sees it, and the Landlock floor keeps it reachable
// (supervisor::AddKernelFloors). Every path is resolved (realpath(3)), as the modules judge it.
// Reads files only (exec_page::NeededLibraries); any thread.
#pragma once

#include <string>
#include <vector>

#include "daemon/modules/start_files.h"
#include "hijack/result.h"

namespace hijack::run {

// Errors: the program cannot be found or executed (code 127 or 126, as ResolveExecutable). A
// library that cannot be found or read is left out (the loader's own error will name it).
Result<std::vector<modules::StartFile>> StartFilesOf(const std::vector<std::string>& command,
                                                     const std::string& path_env);

}  // namespace hijack::run
