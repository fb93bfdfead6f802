#include "daemon/modules/fs_guard/fs_guard_rules.h"

#include <fmt/format.h>

#include <algorithm>

namespace hijack::modules {
namespace {

// The policy's name of one access kind (the "access" lists of fs_guard's rules).
std::string_view KindName(uint8_t kind) {
  switch (kind) {
    case kAccessRead:
      return "read";
    case kAccessWrite:
      return "write";
    case kAccessCreate:
      return "create";
    case kAccessExec:
      return "exec";
    case kAccessUnlink:
      return "unlink";
    case kAccessAttr:
      return "attr";
    default:
      return "any";
  }
}

}  // namespace

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

FsRules::Verdict FsRules::Judge(const std::string& path, uint8_t access) const {
  if (path.empty() || path[0] != '/') {
    return {};
  }
  for (uint8_t kind = 1; kind <= kAccessAttr; kind = static_cast<uint8_t>(kind << 1)) {
    if ((access & kind) == 0) {
      continue;
    }
    Verdict v{.allowed = default_allow_, .kind = kind};
    for (const FsRule& r : rules_) {
      if ((r.access & kind) == 0) {
        continue;
      }
      auto hit = std::ranges::find_if(r.patterns,
                                      [&](const PathPattern& p) { return p.Matches(path); });
      if (hit != r.patterns.end()) {
        v.allowed = r.allow;
        v.rule = &r;
        v.pattern = &*hit;
        break;
      }
    }
    if (!v.allowed) {
      return v;
    }
  }
  return {};
}

DenialReason FsRules::Explain(const std::string& path, const Verdict& verdict,
                              std::string_view module) const {
  DenialReason reason;
  reason.path = path;
  const std::string kind(KindName(verdict.kind));
  if (verdict.pattern != nullptr) {
    const auto index = verdict.rule - rules_.data();
    reason.rule = fmt::format("deny pattern \"{}\" (rule {}, {} access)", verdict.pattern->text(),
                              index, kind);
    reason.hint = fmt::format("the deny pattern \"{}\" of {} matches \"{}\"",
                              verdict.pattern->text(), module, path);
    return reason;
  }
  reason.rule = fmt::format("no allow pattern matches (default deny, {} access)", kind);
  reason.hint = fmt::format("add \"{}\" to {}'s allow patterns (for {} access)", path, module,
                            kind);
  return reason;
}

bool FsRules::SubtreeMayBeDenied(const std::string& dir) const {
  if (dir.empty() || dir[0] != '/') {
    return false;
  }
  for (uint8_t kind = 1; kind <= kAccessAttr; kind = static_cast<uint8_t>(kind << 1)) {
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
