// The directory tree that holds everything a PathPattern can match, for kernel floors
// (include/hijack/kernel_floor.h): the floor may be looser than the pattern, never tighter.
//
//   FloorTreeOf(*PathPattern::Parse("/home/*/.ssh/**"));   // "/home"
//   FloorTreeOf(*PathPattern::Parse("/etc/hosts"));        // "/etc"
//
// Wildcards widen to the directory before the first component that has one; a name that is
// not a directory to the directory holding it (a rule on the file itself would follow its inode,
// and a file replaced later by rename would fall outside); a missing path to its nearest
// existing ancestor, as seen by this process now. Reads the file system (stat(2)); any thread.
#pragma once

#include <string>

#include "daemon/modules/fs_guard/path_pattern.h"
#include "hijack/kernel_floor.h"

namespace hijack::modules {

std::string FloorTreeOf(const PathPattern& pattern);

// Whether `path` is `tree` or lies beneath it (lexically, both absolute and normalized).
bool IsBeneath(const std::string& path, const std::string& tree);

// "read, write" for FloorAccess bits.
std::string FloorAccessNames(uint32_t access);

}  // namespace hijack::modules
