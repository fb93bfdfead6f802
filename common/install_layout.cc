#include "common/install_layout.h"

#include <system_error>

#ifndef HIJACK_BUILD_TREE
#error "HIJACK_BUILD_TREE must name the build directory (common/CMakeLists.txt)"
#endif
#ifndef HIJACK_BINDIR_TO_PKGLIBDIR
#error "HIJACK_BINDIR_TO_PKGLIBDIR must name lib/hijack relative to bin (common/CMakeLists.txt)"
#endif

namespace hijack::install_layout {

std::optional<std::filesystem::path> SelfExecutable() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec || self.empty()) {
    return std::nullopt;
  }
  return self;
}

std::optional<std::filesystem::path> BesideInstalledBinary(const std::filesystem::path& name) {
  auto self = SelfExecutable();
  if (!self) {
    return std::nullopt;
  }
  return (self->parent_path() / HIJACK_BINDIR_TO_PKGLIBDIR / name).lexically_normal();
}

std::filesystem::path BuildTree() { return HIJACK_BUILD_TREE; }

bool RunningFromBuildTree() {
  auto self = SelfExecutable();
  if (!self) {
    return false;
  }
  // /proc/self/exe is canonical; the configured build path may go through a symlink.
  std::error_code ec;
  const std::filesystem::path tree = std::filesystem::weakly_canonical(BuildTree(), ec);
  if (ec || tree.empty()) {
    return false;
  }
  // A component-wise prefix test: /b/release does not contain /b/release-old/hijackd.
  auto s = self->begin();
  for (auto t = tree.begin(); t != tree.end(); ++t, ++s) {
    if (t->empty()) {
      continue;  // the empty last element of a path that ends in '/'
    }
    if (s == self->end() || *s != *t) {
      return false;
    }
  }
  return true;
}

}  // namespace hijack::install_layout
