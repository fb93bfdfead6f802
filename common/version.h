// The version of this build of Hijack, for `--version`, Health and bug reports.
//
//   std::printf("hijackd %s (git %s)\n", std::string(Version()).c_str(),
//               std::string(GitRevision()).c_str());     // hijackd 0.1.0 (git 8f052a7c1d2e)
//
// Version() is the project version of CMakeLists.txt; GitRevision() the commit the binary was
// built from (cmake/version.cmake, at build time), with "-dirty" when tracked files had local
// changes, or "unknown" outside a git checkout.
//
// Threads: any.
#pragma once

#include <string_view>

namespace hijack::common {

std::string_view Version();
std::string_view GitRevision();

}  // namespace hijack::common
