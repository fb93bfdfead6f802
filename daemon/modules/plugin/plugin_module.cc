#include "daemon/modules/plugin/plugin_module.h"

#include <fmt/format.h>

#include "daemon/syscalls/arg_decoder.h"
#include "daemon/syscalls/syscall_table.h"

namespace hijack::modules {
namespace {

// The longest hold a plugin may ask for.
constexpr uint64_t kMaxDelayNs = 60'000'000'000;

nlohmann::json ArgsJson(std::span<const DecodedArg> args) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& a : args) {
    out.push_back(a.json);
  }
  return out;
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Result<std::unique_ptr<PluginModule>> PluginModule::Load(Config config) {
  HIJACK_ASSIGN_OR_RETURN(auto host,
                          PolicyHostClient::Start(config.path, config.config_json, config.host));
  std::unique_ptr<PluginModule> m(new PluginModule(std::move(config), std::move(host)));
  const auto& loaded = m->host_->loaded();
  m->name_ = "plugin:" + (loaded.name.empty() ? std::string("unnamed") : loaded.name);
  nlohmann::json d = nlohmann::json::parse(loaded.describe, nullptr, false);
  if (d.is_discarded() || !d.is_object()) {
    return MakeError("describe() did not return a JSON object: " + loaded.describe);
  }
  auto calls = d.find("syscalls");
  if (calls == d.end() || !calls->is_array()) {
    return MakeError("describe() has no \"syscalls\" list");
  }
  for (const auto& c : *calls) {
    if (!c.is_string()) {
      return MakeError("describe(): \"syscalls\" must list names");
    }
    auto set = syscalls::ResolveSyscallSpec(c.get<std::string>());
    if (!set) {
      return MakeError("describe(): " + set.error().message);
    }
    m->syscalls_.AddAll(*set);
  }
  if (auto w = d.find("wants_arguments"); w != d.end() && w->is_boolean()) {
    m->wants_arguments_ = w->get<bool>();
  }
  return m;
}

std::optional<Decision> PluginModule::OnFailure() {
  on_failure_.fetch_add(1, std::memory_order_relaxed);
  if (config_.deny_on_failure) {
    return Decision::Fail(config_.err);
  }
  return std::nullopt;
}

std::optional<Decision> PluginModule::DecideDecoded(const SyscallEvent& ev, GuestMemory& /*mem*/,
                                                    std::span<const DecodedArg> decoded) {
  // WantsArguments made the engine decode them once for the policy (the same the trace shows).
  std::string args;
  if (wants_arguments_) {
    args = Dump(ArgsJson(decoded));
  }
  auto v = host_->Decide(ev, syscalls::SyscallName(ev.nr), args);
  if (!v || v->rc < 0) {
    return OnFailure();
  }
  decided_.fetch_add(1, std::memory_order_relaxed);
  const hijack_verdict_v1& verdict = v->verdict;
  std::optional<Decision> d;
  switch (verdict.kind) {
    case HIJACK_VERDICT_NONE:
      return std::nullopt;
    case HIJACK_VERDICT_CONTINUE:
      d = Decision::Continue();
      break;
    case HIJACK_VERDICT_FAIL:
      if (verdict.error < 1 || verdict.error > 4095) {
        return OnFailure();
      }
      d = Decision::Fail(verdict.error);
      break;
    case HIJACK_VERDICT_RETURN:
      d = Decision::Return(verdict.value);
      break;
    default:
      return OnFailure();
  }
  if (verdict.delay_ns > 0) {
    d = d->After(std::chrono::nanoseconds(std::min(verdict.delay_ns, kMaxDelayNs)));
  }
  return d;
}

void PluginModule::Observe(const Event& event) {
  hijack_outcome_v1 outcome{};
  switch (event.decision.kind()) {
    case Decision::Kind::kFail:
      outcome.kind = HIJACK_VERDICT_FAIL;
      break;
    case Decision::Kind::kReturn:
    case Decision::Kind::kInjectFd:
      outcome.kind = HIJACK_VERDICT_RETURN;
      break;
    default:
      outcome.kind = HIJACK_VERDICT_CONTINUE;
  }
  outcome.has_result = event.result.has_value() ? 1 : 0;
  outcome.result = event.result.value_or(0);
  std::string args = wants_arguments_ ? Dump(ArgsJson(event.args)) : std::string();
  host_->Observe(event.call, syscalls::SyscallName(event.call.nr), args, outcome);
}

nlohmann::json PluginModule::Stats() const {
  nlohmann::json plugin = nlohmann::json::parse(host_->Stats(), nullptr, false);
  return {{"path", config_.path},
          {"up", host_->up()},
          {"decided", decided_.load(std::memory_order_relaxed)},
          {"on_failure", on_failure_.load(std::memory_order_relaxed)},
          {"host_restarts", host_->restarts()},
          {"plugin", plugin.is_discarded() ? nlohmann::json::object() : plugin}};
}

policy::ModuleInfo PluginModule::Info() {
  return {
      .name = "plugin",
      .summary = "a third-party module (hijack_plugin_v1 shared object) run in a policy host",
      .settings = {policy::setting::Text("path", "the plugin's shared object").Required(),
                   policy::setting::OpenObject("config",
                                               "JSON object given to the plugin's create()"),
                   policy::setting::Choice("on_failure",
                                           "what calls get while the plugin's host is down",
                                           {"deny", "allow"})
                       .Default("deny"),
                   policy::setting::Errno("errno of calls denied by on_failure", "EPERM"),
                   policy::setting::Integer("timeout_ms",
                                            "longest wait for one decision, in milliseconds")
                       .Range(1, 3'600'000)
                       .Default(1000)},
      .factory = [](policy::ConfigReader& config) -> Result<std::unique_ptr<PolicyModule>> {
        Config c;
        HIJACK_ASSIGN_OR_RETURN(auto path, config.String("path"));
        if (!path || path->empty()) {
          return MakeError(config.PathOf("path") + ": missing (the plugin's shared object)");
        }
        c.path = *path;
        if (const nlohmann::json* cfg = config.Raw("config")) {
          if (!cfg->is_object()) {
            return MakeError(config.PathOf("config") + ": expected an object, got " +
                             std::string(cfg->type_name()));
          }
          c.config_json = Dump(*cfg);
        }
        HIJACK_ASSIGN_OR_RETURN(
            auto deny_on_failure,
            config.Enum<bool>("on_failure", {{"deny", true}, {"allow", false}}));
        c.deny_on_failure = deny_on_failure.value_or(true);
        HIJACK_ASSIGN_OR_RETURN(auto err, config.Errno("errno", EPERM));
        c.err = err;
        // At most an hour: a deadline computed from it never overflows the clock.
        HIJACK_ASSIGN_OR_RETURN(auto timeout, config.Integer("timeout_ms", 1, 3'600'000));
        if (timeout) {
          c.host.timeout = std::chrono::milliseconds(*timeout);
        }
        auto module = Load(c);
        if (!module) {
          return MakeError(fmt::format("{}: plugin {}: {}", config.PathOf("path"), c.path,
                                       module.error().message));
        }
        return std::unique_ptr<PolicyModule>(std::move(*module));
      },
  };
}

}  // namespace hijack::modules
