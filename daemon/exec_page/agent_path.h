// A path to the agent library that LD_PRELOAD can carry, wherever the library is.
//
//   HIJACK_ASSIGN_OR_RETURN(std::string preload, PreloadablePath(library));
//   spec.agent_library = preload;   // LaunchSpec, daemon/launcher/launcher.h
//
// ld.so(8) splits LD_PRELOAD at spaces and colons and has no way to escape either, so a checkout
// or an install prefix such as "/home/me/my projects/hijack" cannot be preloaded as it is. Such a
// library is reached instead through a symlink whose own path has neither character, in a private
// directory that hijackd creates the first time it needs one and removes when it exits.
//
// Why a symlink in a directory of its own under /tmp, and not something else:
//  - An inherited descriptor (LD_PRELOAD=/proc/self/fd/N) would be one more open file the guest
//    can see, and LD_PRELOAD outlives it: a program that closes the descriptors it inherited
//    (daemons do, closefrom(2)) would then exec its children with a preload that loads nothing.
//  - A copy of the library would have to be mapped executable from /tmp, which is often mounted
//    noexec (mmap(2): EPERM for PROT_EXEC there); a symlink leaves the file on its own
//    filesystem, so the guest maps exactly what it would map through the original path.
//  - $XDG_RUNTIME_DIR is mode 0700 to its owner, and $TMPDIR may be too (pam_tmpdir) or may have
//    a space itself; a guest launched with another user's credentials (LaunchSpec::credentials)
//    could not pass through them. /tmp is sticky and world-writable on every Linux system (FHS),
//    and the directory made there is 0711: any uid may reach the link by its name, no other uid
//    may list, add or replace anything in it (the name is random, mkdtemp(3)).
// The link adds no access: the guest must be able to read the library through its own path,
// exactly as without the link. A hijackd killed by SIGKILL leaves the directory and its link
// behind; every normal exit removes them.
//
// Thread safety: PreloadablePath may be called from any thread (the control service's handlers
// and hijackd run); it serialises on an internal mutex.
#pragma once

#include <string>

#include "hijack/result.h"

namespace hijack::exec_page {

// True when ld.so would split `path` (a space or a colon; ld.so(8), "LD_PRELOAD").
bool SplitByPreloadList(const std::string& path);

// `library` itself when LD_PRELOAD can carry it; otherwise the absolute path of a symlink to it
// in hijackd's private runtime directory (created at the first call that needs it, 0711, under
// /tmp; removed, with its links, when the process that created it exits normally; a forked child
// that exits does not remove it). The same library always gets the same link.
// Errors: the directory or the link could not be made ("mkdtemp /tmp/hijack-agent.XXXXXX: EROFS
// ..."); the caller then runs without the agent.
Result<std::string> PreloadablePath(const std::string& library);

}  // namespace hijack::exec_page
