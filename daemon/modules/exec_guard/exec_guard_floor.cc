// exec_guard's kernel floor (include/hijack/kernel_floor.h): with an allow list (default deny),
// execution is denied outside the trees of the allowed patterns (widened, floor_tree.h); a deny
// rule inside them stays exec_guard's. A deny list (default allow) has no floor.
#include <fmt/format.h>

#include "daemon/modules/exec_guard/exec_guard_module.h"
#include "daemon/modules/fs_guard/floor_tree.h"

namespace hijack::modules {

KernelFloor ExecGuardModule::Floor() const {
  KernelFloor floor;
  if (config_.default_allow) {
    for (const PathPattern& p : config_.deny) {
      floor.module_only.push_back({"deny " + p.text(),
                                   "a deny list (default allow): the kernel can only allow "
                                   "execution beneath directories and deny the rest"});
    }
    return floor;
  }
  floor.fs_handled = kFloorExec;
  floor.held.push_back({"default deny", "execution outside the allowed trees"});
  for (const PathPattern& p : config_.allow) {
    const std::string tree = FloorTreeOf(p);
    floor.trees.push_back({tree, kFloorExec, "allow " + p.text()});
    const bool exact = p.text() == tree + "/**" || p.text() == tree + "/";
    floor.held.push_back(
        {"allow " + p.text(),
         fmt::format("execution beneath {}{}", tree,
                     exact ? "" : " (widened from the pattern; exec_guard holds the rest)")});
  }
  for (const PathPattern& p : config_.deny) {
    const std::string tree = FloorTreeOf(p);
    bool inside = false;
    for (const KernelFloor::Tree& t : floor.trees) {
      inside = inside || IsBeneath(tree, t.path) || IsBeneath(t.path, tree);
    }
    if (inside) {
      floor.module_only.push_back({"deny " + p.text(),
                                   "a deny rule inside an allowed tree: the kernel cannot deny "
                                   "beneath a directory it allows"});
    } else {
      floor.held.push_back({"deny " + p.text(), "outside every allowed tree: denied"});
    }
  }
  return floor;
}

}  // namespace hijack::modules
