#include "daemon/modules/fs_guard/fs_guard_rules.h"

namespace hijack::modules {

FsRules::FsRules(std::vector<FsRule> rules, bool default_allow, bool always_deniable)
    : rules_(std::move(rules)), default_allow_(default_allow) {
  for (const FsRule& r : rules_) {
    if (!r.allow) {
      deniable_ |= r.access;
    }
  }
  if (!default_allow_ || always_deniable) {
    deniable_ = kAccessAll;
  }
}

bool FsRules::Allows(const std::string& path, uint8_t access) const {
  if (path.empty() || path[0] != '/') {
    return true;
  }
  for (uint8_t kind = 1; kind <= kAccessUnlink; kind = static_cast<uint8_t>(kind << 1)) {
    if ((access & kind) == 0) {
      continue;
    }
    bool allowed = default_allow_;
    for (const FsRule& r : rules_) {
      if ((r.access & kind) && AnyMatches(r.patterns, path)) {
        allowed = r.allow;
        break;
      }
    }
    if (!allowed) {
      return false;
    }
  }
  return true;
}

bool FsRules::SubtreeMayBeDenied(const std::string& dir) const {
  if (dir.empty() || dir[0] != '/') {
    return false;
  }
  for (uint8_t kind = 1; kind <= kAccessUnlink; kind = static_cast<uint8_t>(kind << 1)) {
    bool decided = false;
    for (const FsRule& r : rules_) {
      if ((r.access & kind) == 0) {
        continue;
      }
      if (!r.allow && AnyMayMatchAtOrBeneath(r.patterns, dir)) {
        return true;
      }
      if (r.allow && AnyCoversSubtree(r.patterns, dir)) {
        decided = true;  // every path beneath `dir` stops at this rule, allowed
        break;
      }
    }
    if (!decided && !default_allow_) {
      return true;
    }
  }
  return false;
}

}  // namespace hijack::modules
