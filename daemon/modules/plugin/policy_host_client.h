// PolicyHostClient: hijackd's side of one hijack-policy-host process running one plugin.
//
//   auto host = PolicyHostClient::Start("/opt/p/libx.so", R"({"deny": ["ptrace"]})");
//   if (!host) ...                                   // "wrong ABI version 2 (...)", "create
//   failed: ..." Result<WireVerdict> v = (*host)->Decide(ev, "openat", args_json);   // any thread
//
// The helper is spawned with posix_spawn (a clean signal mask, the socket as its only extra
// descriptor) and loads the plugin before Start() returns, so a policy naming a broken plugin is
// refused before it is installed. When the helper dies or stops answering within the timeout,
// Decide() fails (the module applies on_failure) and the client restarts the helper on a later
// call, at most once per restart_backoff, reloading the same plugin and config.
//
// Thread-safety: every method may be called from any thread; requests are serialized.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/plugin_host/host_protocol.h"
#include "hijack/result.h"
#include "hijack/syscall_event.h"
#include "hijack/unique_fd.h"

namespace hijack::modules {

class PolicyHostClient {
 public:
  struct Options {
    std::chrono::milliseconds timeout{1000};         // one decide() round trip
    std::chrono::milliseconds restart_backoff{100};  // between restarts of a dead helper
  };
  struct Loaded {
    std::string name;      // the plugin's own name
    std::string describe;  // its describe() JSON
  };

  // Spawns the helper and loads the plugin. Errors name the reason (the caller adds the file).
  static Result<std::unique_ptr<PolicyHostClient>> Start(std::string path, std::string config,
                                                         Options options);
  ~PolicyHostClient();
  PolicyHostClient(const PolicyHostClient&) = delete;
  PolicyHostClient& operator=(const PolicyHostClient&) = delete;

  const Loaded& loaded() const { return loaded_; }

  // One decide() round trip. Errors: the helper is down (and not yet due for a restart), died
  // during the call, or did not answer within the timeout (it is then killed).
  Result<plugin_host::WireVerdict> Decide(const SyscallEvent& ev, std::string_view name,
                                          std::string_view args_json);
  // Sends the completed call to observe(), without waiting; dropped while the helper is down or
  // its socket is full.
  void Observe(const SyscallEvent& ev, std::string_view name, std::string_view args_json,
               const hijack_outcome_v1& outcome);
  // The plugin's stats() JSON text ("{}" when it has none or is down).
  std::string Stats();

  uint64_t restarts() const;
  uint64_t failures() const;
  bool up() const;

  // The helper executable: $HIJACK_POLICY_HOST, else the installed one relative to the running
  // program (<bindir>/../lib/hijack/hijack-policy-host, common/install_layout.h), else, for a
  // program inside the build tree, the one this build produced.
  static std::string HostExecutable();

 private:
  PolicyHostClient(std::string path, std::string config, Options options)
      : path_(std::move(path)), config_(std::move(config)), options_(options) {}

  // Spawns and loads; mu_ held.
  Result<Loaded> SpawnLocked();
  void KillLocked(const char* why);
  Result<std::string> RoundTripLocked(plugin_host::MessageType type, const std::string& body,
                                      plugin_host::MessageType answer, int32_t* status);

  const std::string path_;
  const std::string config_;
  const Options options_;
  Loaded loaded_;

  mutable std::mutex mu_;
  UniqueFd sock_;
  pid_t pid_ = -1;
  uint32_t seq_ = 0;
  std::chrono::steady_clock::time_point down_since_{};
  uint64_t restarts_ = 0;
  uint64_t failures_ = 0;
};

}  // namespace hijack::modules
