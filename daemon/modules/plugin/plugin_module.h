// plugin: a third-party policy module (include/hijack/plugin.h) run in a policy-host process.
//
//   {"module": "plugin", "path": "/opt/hijack/libexample_plugin.so",
//    "config": {"deny": ["getppid"], "errno": "EPERM"}, "on_failure": "deny"}
//
// Loading starts a hijack-policy-host helper that dlopen()s `path` and creates the instance from
// `config`: a wrong ABI version, a missing symbol or entry point, or a failing create() refuses
// the policy ("/modules/0/path: plugin /opt/x.so: wrong ABI version 2 (this hijackd speaks 1)"),
// and the running policy stays as it was. The calls the plugin needs come from its describe().
//
// Each decision is one round trip to the helper, made on the supervisor's decision pool
// (MayBlock), so a slow plugin holds only the call it decides, never the loop or other guests.
// When the helper is down (crashed, hung past timeout_ms, or restarting), the call gets
// `on_failure`: "deny" fails it with `errno` (default EPERM), "allow" lets the rest of the policy
// decide. The helper is restarted on a later call.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "daemon/modules/plugin/policy_host_client.h"
#include "daemon/policy/module_registry.h"

namespace hijack::modules {

class PluginModule final : public PolicyModule {
 public:
  struct Config {
    std::string path;
    std::string config_json = "{}";
    bool deny_on_failure = true;
    int err = EPERM;
    PolicyHostClient::Options host;
  };

  // Starts the helper and loads the plugin. Errors say why, without the file name.
  static Result<std::unique_ptr<PluginModule>> Load(Config config);
  static policy::ModuleInfo Info();

  std::string_view Name() const override { return name_; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return true; }
  bool WantsArguments(int /*nr*/) const override { return wants_arguments_; }
  // Every call waits for the helper, up to timeout_ms; PolicyHostClient serializes them.
  bool MayBlock(int /*nr*/) const override { return true; }
  std::optional<Decision> DecideDecoded(const SyscallEvent& ev, GuestMemory& mem,
                                        std::span<const DecodedArg> args) override;
  void Observe(const Event& event) override;
  nlohmann::json Stats() const override;

 private:
  PluginModule(Config config, std::unique_ptr<PolicyHostClient> host)
      : config_(std::move(config)), host_(std::move(host)) {}
  std::optional<Decision> OnFailure();

  const Config config_;
  std::unique_ptr<PolicyHostClient> host_;
  std::string name_;
  SyscallSet syscalls_;
  bool wants_arguments_ = false;
  std::atomic<uint64_t> decided_{0};
  std::atomic<uint64_t> on_failure_{0};
};

}  // namespace hijack::modules
