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
constexpr std::array<std::pair<std::string_view, uint64_t>, 5> kAccessNames = {{
    {"read", kAccessRead},
    {"write", kAccessWrite},
    {"create", kAccessCreate},
    {"exec", kAccessExec},
    {"unlink", kAccessUnlink},
}};

}  // namespace

policy::ModuleInfo FsGuardModule::Info() {
  return {
      .name = "fs_guard",
      .summary = "allow or deny file-system calls by resolved path and kind of access",
      .settings =
          {{"rules",
            "ordered list of {\"allow\"|\"deny\": [patterns], \"access\": [read, write, create, "
            "exec, unlink]}; the first match decides"},
           {"deny", "patterns denied for every access (after rules)"},
           {"allow", "patterns allowed for every access (after rules and deny)"},
           {"default",
            "\"allow\" or \"deny\" when no rule matches (default: deny if any allow "
            "rule exists, else allow)"},
           {"mode",
            "\"check\" (default) or \"strict\" (notify backend only: the supervisor opens "
            "and injects the descriptor)"},
           {"beneath", "guest directory every path must resolve beneath (RESOLVE_BENEATH)"},
           {"mounts",
            "\"refuse\" (default): mount, umount2, pivot_root, chroot, the new mount API, and "
            "unshare/clone/setns into a new mount or user namespace fail with EPERM (clone3 with "
            "ENOSYS); \"allow\" lets them run"},
           {"handles",
            "\"refuse\" (default): open_by_handle_at and name_to_handle_at fail with EPERM; "
            "\"allow\" lets them run"},
           {"errno", "errno of denied calls (default EACCES)"}},
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
