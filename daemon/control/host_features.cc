#include "daemon/control/host_features.h"

#include <sys/utsname.h>

#include "daemon/backend/backend_table.h"
#include "daemon/exec_page/agent_launch.h"
#include "daemon/launcher/landlock_scope.h"
#include "daemon/launcher/launcher.h"

namespace hijack::control {

std::vector<HostFeature> ProbeHostFeatures() {
  std::vector<HostFeature> features;
  utsname uts{};
  if (uname(&uts) == 0) {
    features.push_back({"kernel", true, std::string(uts.release)});
  }
  for (const backend::BackendEntry& entry : backend::BackendTable()) {
    auto works = entry.probe();
    features.push_back({"backend " + std::string(entry.name()), works.has_value(),
                        works ? "available (" + std::string(entry.description) + ")"
                              : "unavailable: " + works.error().message});
  }
  const bool killable = launcher::KernelHasWaitKillableRecv();
  features.push_back(
      {"wait-killable-recv", killable,
       killable ? "yes (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: a received call is not "
                  "interrupted by signals)"
                : "no (Linux 5.19+): a call held by the supervisor can fail with EINTR"});
  const int abi = launcher::LandlockAbi();
  if (abi > 0) {
    features.push_back({"landlock", true,
                        "ABI " + std::to_string(abi) +
                            (abi >= launcher::kLandlockScopeAbi
                                 ? " (scoping of signals and abstract sockets: yes)"
                                 : " (scoping needs ABI " +
                                       std::to_string(launcher::kLandlockScopeAbi) + ")")});
  } else {
    features.push_back({"landlock", false, "not offered by this kernel (or disabled at boot)"});
  }
  auto agent = exec_page::ResolveAgentLibrary();
  if (!agent) {
    features.push_back({"agent", false, agent.error().message});
  } else if (agent->empty()) {
    std::string looked;
    for (const std::string& candidate : exec_page::AgentLibraryCandidates()) {
      looked += (looked.empty() ? "" : ", ") + candidate;
    }
    features.push_back({"agent", false,
                        "libhijack-agent.so not found (looked for " +
                            (looked.empty() ? std::string("nothing: no /proc/self/exe") : looked) +
                            "): every call goes through the supervisor (set " +
                            exec_page::kAgentLibraryEnv + ")"});
  } else {
    features.push_back({"agent", true, *agent});
  }
  return features;
}

}  // namespace hijack::control
