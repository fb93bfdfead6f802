// Where hijackd's own files are, found from the running program, never from the build that made
// it: the agent library and the policy host of an installation live at a fixed place relative
// to the installed binaries (cmake --install, the .deb), so a moved prefix keeps working.
//
//   std::filesystem::path agent = install_layout::BesideInstalledBinary("libhijack-agent.so");
//   // /usr/bin/hijackd -> /usr/lib/hijack/libhijack-agent.so
//   if (install_layout::RunningFromBuildTree()) { ... the build's own files may be used ... }
//
// Layout (top-level CMakeLists.txt, HIJACK_INSTALL_PKGLIBDIR): <prefix>/bin/hijackd and
// <prefix>/lib/hijack/{libhijack-agent.so,hijack-policy-host}. The build tree is consulted only
// by a program that itself lies inside the build tree (tests, benchmarks, hijackd run from
// build/), so an installed hijackd can never pick up a stale library from the tree it was
// built in.
//
// Thread safety: all functions may be called from any thread; they read /proc/self/exe each time.
#pragma once

#include <filesystem>
#include <optional>

namespace hijack::install_layout {

// The running program (/proc/self/exe, proc(5)); nullopt when /proc is not mounted.
std::optional<std::filesystem::path> SelfExecutable();

// <directory of the running program>/<relative path from the installed bindir to
// HIJACK_INSTALL_PKGLIBDIR>/<name>, e.g. /opt/h/bin/../lib/hijack/<name>, lexically normalized.
// Nullopt without /proc.
std::optional<std::filesystem::path> BesideInstalledBinary(const std::filesystem::path& name);

// True when the running program lies inside the build tree this code was compiled in.
bool RunningFromBuildTree();

// The build tree this code was compiled in (for messages and for RunningFromBuildTree).
std::filesystem::path BuildTree();

}  // namespace hijack::install_layout
