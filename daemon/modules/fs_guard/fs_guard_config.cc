// fs_guard's configuration: the policy's JSON object to an FsGuardModule::Config, with every
// error at its JSON path. The module's settings are documented in fs_guard_module.h.
#include <fmt/format.h>

#include <array>
#include <memory>
#include <string_view>

#include "daemon/modules/fs_guard/fs_guard_module.h"

namespace hijack::modules {
namespace {

// The names of the access kinds in a rule's "access" list.
constexpr std::array<std::pair<std::string_view, uint64_t>, 6> kAccessNames = {{
    {"read", kAccessRead},
    {"write", kAccessWrite},
    {"create", kAccessCreate},
    {"exec", kAccessExec},
    {"unlink", kAccessUnlink},
    {"attr", kAccessAttr},
}};

std::vector<std::string> AccessNames() {
  std::vector<std::string> out;
  for (const auto& [name, bit] : kAccessNames) {
    out.emplace_back(name);
  }
  return out;
}

}  // namespace

policy::ModuleInfo FsGuardModule::Info() {
  return {
      .name = "fs_guard",
      .summary = "allow or deny file-system calls by resolved path and kind of access",
      .settings =
          {policy::setting::ObjectList(
               "rules", "ordered rules; the first whose patterns and access match decides",
               {policy::setting::Strings("allow", "path patterns this rule allows (give this or "
                                                  "deny)"),
                policy::setting::Strings("deny", "path patterns this rule denies (give this or "
                                                 "allow)"),
                policy::setting::Flags("access", "the kinds of access the rule applies to; attr "
                                                 "is a change of a file's mode, owner, times "
                                                 "or extended attributes (default: every "
                                                 "kind)",
                                       AccessNames())}),
           policy::setting::Strings("deny", "path patterns denied for every access (after rules)"),
           policy::setting::Strings("allow",
                                    "path patterns allowed for every access (after rules and "
                                    "deny)"),
           policy::setting::Choice("default",
                                   "what a path no rule matches gets (default: deny if any allow "
                                   "rule exists, else allow)",
                                   {"allow", "deny"}),
           policy::setting::Choice("mode",
                                   "check: judge the path, the kernel makes the call; strict "
                                   "(notify backend only): the supervisor opens the file and "
                                   "injects the descriptor, and makes links, renames, unlinks, "
                                   "rmdir, mkdir, mknod, symlink, truncate and the metadata "
                                   "changes (chmod, chown, utimes, setxattr) itself",
                                   {"check", "strict"})
               .Default("check"),
           policy::setting::Text("beneath",
                                 "absolute guest directory every path must resolve beneath "
                                 "(RESOLVE_BENEATH)"),
           policy::setting::Choice("mounts",
                                   "refuse: mount, umount2, pivot_root, chroot, the new mount "
                                   "API, and unshare/clone/setns into a new mount or user "
                                   "namespace fail with EPERM (clone3 with ENOSYS); allow lets "
                                   "them run",
                                   {"refuse", "allow"})
               .Default("refuse"),
           policy::setting::Choice("handles",
                                   "refuse: open_by_handle_at and name_to_handle_at fail with "
                                   "EPERM; allow lets them run",
                                   {"refuse", "allow"})
               .Default("refuse"),
           policy::setting::Errno("errno of denied calls", "EACCES")},
      .factory = [](policy::ConfigReader& config) -> Result<std::unique_ptr<PolicyModule>> {
        FsGuardModule::Config c;
        bool any_allow = false;
        HIJACK_ASSIGN_OR_RETURN(std::vector<policy::ConfigReader> rules,
                                config.ObjectList("rules", "rule"));
        for (policy::ConfigReader& rule : rules) {
          HIJACK_ASSIGN_OR_RETURN(auto allow, rule.StringList("allow"));
          HIJACK_ASSIGN_OR_RETURN(auto deny, rule.StringList("deny"));
          HIJACK_ASSIGN_OR_RETURN(auto access, rule.FlagList("access", "access", kAccessNames));
          if (allow.has_value() == deny.has_value()) {
            return MakeError(rule.path() + ": a rule has exactly one of \"allow\" or \"deny\"");
          }
          FsRule out;
          out.allow = allow.has_value();
          HIJACK_ASSIGN_OR_RETURN(
              out.patterns,
              ParsePatterns(out.allow ? *allow : *deny, rule.PathOf(out.allow ? "allow" : "deny")));
          out.access = static_cast<uint8_t>(access.value_or(kAccessAll));
          HIJACK_TRY(rule.Finish());
          any_allow = any_allow || out.allow;
          c.rules.push_back(std::move(out));
        }
        for (const char* key : {"deny", "allow"}) {
          HIJACK_ASSIGN_OR_RETURN(auto list, config.StringList(key));
          if (list) {
            HIJACK_ASSIGN_OR_RETURN(auto patterns, ParsePatterns(*list, config.PathOf(key)));
            const bool allow = std::string_view(key) == "allow";
            c.rules.push_back(FsRule{allow, kAccessAll, std::move(patterns)});
            any_allow = any_allow || allow;
          }
        }
        HIJACK_ASSIGN_OR_RETURN(auto def,
                                config.Enum<bool>("default", {{"allow", true}, {"deny", false}}));
        c.default_allow = def.value_or(!any_allow);
        HIJACK_ASSIGN_OR_RETURN(auto mode, config.Enum<FsGuardModule::Mode>(
                                               "mode", {{"check", FsGuardModule::Mode::kCheck},
                                                        {"strict", FsGuardModule::Mode::kStrict}}));
        c.mode = mode.value_or(FsGuardModule::Mode::kCheck);
        HIJACK_ASSIGN_OR_RETURN(auto beneath, config.String("beneath"));
        if (beneath) {
          if (beneath->empty() || (*beneath)[0] != '/') {
            return MakeError(config.PathOf("beneath") + ": expected an absolute directory");
          }
          while (beneath->size() > 1 && beneath->back() == '/') {
            beneath->pop_back();
          }
          c.beneath = std::move(*beneath);
        }
        HIJACK_ASSIGN_OR_RETURN(auto mounts,
                                config.Enum<bool>("mounts", {{"refuse", true}, {"allow", false}}));
        c.refuse_mounts = mounts.value_or(true);
        HIJACK_ASSIGN_OR_RETURN(auto handles,
                                config.Enum<bool>("handles", {{"refuse", true}, {"allow", false}}));
        c.refuse_handles = handles.value_or(true);
        HIJACK_ASSIGN_OR_RETURN(c.err, config.Errno("errno", EACCES));
        if (c.rules.empty() && c.default_allow && !c.beneath) {
          return MakeError(config.path() +
                           ": fs_guard needs at least one of rules, deny, allow, default, beneath");
        }
        return std::make_unique<FsGuardModule>(std::move(c));
      },
  };
}

}  // namespace hijack::modules
