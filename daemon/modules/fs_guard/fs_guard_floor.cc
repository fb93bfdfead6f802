// fs_guard's kernel floor (include/hijack/kernel_floor.h): what of its rules the kernel can hold.
//
// Only an allow list has a floor: the kernel can allow kinds of access beneath directories and
// deny them elsewhere, not deny beneath a directory it allows. With a default of deny (or a
// `beneath` directory) every kind is denied outside the trees of the allow rules (each pattern
// widened to a directory, floor_tree.h); deny rules inside those trees stay fs_guard's.
#include <fmt/format.h>

#include "daemon/modules/fs_guard/floor_tree.h"
#include "daemon/modules/fs_guard/fs_guard_module.h"

namespace hijack::modules {
namespace {

// The rule as the policy gives it, every kind it covers named (attr too, which no floor holds).
std::string RuleText(const FsRule& rule, const PathPattern& pattern) {
  std::string kinds = (rule.access & kFloorAll) != 0 ? FloorAccessNames(rule.access) : "";
  if ((rule.access & kAccessAttr) != 0) {
    kinds += kinds.empty() ? "attr" : ", attr";
  }
  return fmt::format("{} {} ({})", rule.allow ? "allow" : "deny", pattern.text(),
                     kinds.empty() ? "nothing" : kinds);
}

}  // namespace

KernelFloor FsGuardModule::Floor() const {
  KernelFloor floor;
  if (rules_.default_allow() && !beneath_) {
    for (const FsRule& rule : rules_.rules()) {
      for (const PathPattern& p : rule.patterns) {
        if (!rule.allow) {
          floor.module_only.push_back(
              {RuleText(rule, p), "a deny list (default allow): the kernel can only allow "
                                  "beneath directories and deny the rest; " +
                                      RaceNote()});
        }
      }
    }
    return floor;
  }
  floor.fs_handled = kFloorAll;
  // Clips a tree to `beneath`: the module refuses every path outside it.
  auto clip = [this](std::string tree) -> std::optional<std::string> {
    if (!beneath_ || IsBeneath(tree, *beneath_)) {
      return tree;
    }
    if (IsBeneath(*beneath_, tree)) {
      return *beneath_;
    }
    return std::nullopt;
  };
  if (rules_.default_allow()) {
    floor.trees.push_back({*beneath_, kFloorAll, "beneath " + *beneath_});
    floor.held.push_back({"beneath " + *beneath_, "nothing outside " + *beneath_});
  } else {
    floor.held.push_back({"default deny", "every access outside the allowed trees"});
  }
  for (const FsRule& rule : rules_.rules()) {
    if (!rule.allow) {
      continue;
    }
    for (const PathPattern& p : rule.patterns) {
      const std::optional<std::string> tree = clip(FloorTreeOf(p));
      if (!tree) {
        floor.held.push_back({RuleText(rule, p), "outside " + *beneath_ + ": nothing"});
        continue;
      }
      if (!rules_.default_allow()) {
        // attr has no Landlock right (it cannot restrict chmod, chown, utimes or xattrs):
        // the module alone judges it.
        floor.trees.push_back({*tree, rule.access & kFloorAll, RuleText(rule, p)});
      }
      const bool exact = *tree == p.text() || p.text() == *tree + "/**" || p.text() == *tree + "/";
      floor.held.push_back(
          {RuleText(rule, p),
           fmt::format("beneath {}: {}{}", *tree, FloorAccessNames(rule.access),
                       exact ? "" : " (widened from the pattern; fs_guard holds the rest)")});
    }
  }
  for (const FsRule& rule : rules_.rules()) {
    if (rule.allow) {
      continue;
    }
    for (const PathPattern& p : rule.patterns) {
      const std::string tree = FloorTreeOf(p);
      bool inside = false;
      for (const KernelFloor::Tree& t : floor.trees) {
        inside = inside || ((t.access & rule.access) != 0 &&
                            (IsBeneath(tree, t.path) || IsBeneath(t.path, tree)));
      }
      if (inside) {
        floor.module_only.push_back(
            {RuleText(rule, p), "a deny rule inside an allowed tree: the kernel cannot deny "
                                "beneath a directory it allows; " +
                                    RaceNote()});
      } else {
        floor.held.push_back({RuleText(rule, p), "outside every allowed tree: denied"});
      }
    }
  }
  return floor;
}

}  // namespace hijack::modules
