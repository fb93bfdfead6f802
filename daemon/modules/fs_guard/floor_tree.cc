#include "daemon/modules/fs_guard/floor_tree.h"

#include <sys/stat.h>

namespace hijack::modules {

std::string FloorTreeOf(const PathPattern& pattern) {
  std::string path = pattern.text();
  bool literal = true;
  if (size_t wild = path.find_first_of("*?"); wild != std::string::npos) {
    path.resize(wild);
    literal = false;
  }
  // A prefix pattern ("/x/**", "/x/") or a cut glob: the directory before the last '/'.
  if (!literal || path.ends_with('/')) {
    path.resize(path.rfind('/') + 1);
  }
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
  for (;;) {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return path;
    }
    if (path == "/") {
      return path;
    }
    // Not a directory (a file, or missing): its parent holds whatever may come to be there.
    const size_t slash = path.rfind('/');
    path.resize(slash == 0 ? 1 : slash);
  }
}

bool IsBeneath(const std::string& path, const std::string& tree) {
  if (tree == "/") {
    return true;
  }
  return path == tree || (path.starts_with(tree) && path[tree.size()] == '/');
}

std::string FloorAccessNames(uint32_t access) {
  static constexpr std::pair<uint32_t, const char*> kNames[] = {{kFloorRead, "read"},
                                                                {kFloorWrite, "write"},
                                                                {kFloorCreate, "create"},
                                                                {kFloorExec, "exec"},
                                                                {kFloorUnlink, "unlink"}};
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if (access & bit) {
      out += out.empty() ? "" : ", ";
      out += name;
    }
  }
  return out.empty() ? "nothing" : out;
}

}  // namespace hijack::modules
