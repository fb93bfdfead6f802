// Launching a guest with libhijack-agent.so: the page, the environment, the exempt set.
//
//   // a launcher asks for the agent through the guest's environment:
//   spec.env.push_back(std::string(kAgentRequestEnv) + "=" + FindAgentLibrary());
//   // the notify backend, before it compiles the filter:
//   if (auto agent = PrepareAgent(spec, intercept, handler)) { ... agent->page, agent->spec ... }
//
// The request travels in the environment so that every way of starting a guest (hijackd run,
// the Launch RPC) can ask for the agent without new plumbing; the backend removes it before the
// guest sees its environment. Only the notify backend honours it; others leave it in place, and
// the agent ignores it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/exec_page/guest_exec_page.h"
#include "hijack/backend.h"
#include "hijack/event.h"

namespace hijack::exec_page {

inline constexpr char kAgentRequestEnv[] = "HIJACK_AGENT_REQUEST";

// The agent library this daemon ships: $HIJACK_AGENT_LIBRARY if set, else the one built with
// it, else lib/libhijack-agent.so next to the installed binary. Empty when none exists.
std::string FindAgentLibrary();

struct AgentLaunch {
  std::unique_ptr<GuestExecPage> page;
  LaunchSpec spec;   // the caller's, with LD_PRELOAD and the page variables in its environment
  SyscallSet exempt;  // what the filter lets the trampoline run without the supervisor
};

// Asks for the agent in `env` (or, with want=false, makes sure nothing in `env` asks for it: a
// request the caller's own environment carried is dropped either way). Returns false when the
// agent was wanted but no agent library exists, or its path has a space or a colon (which
// LD_PRELOAD cannot carry) and no link to it could be made (PreloadablePath, agent_path.h;
// logged as a warning); every call then goes to the supervisor.
bool RequestAgent(std::vector<std::string>& env, bool want);

// `spec` without the agent request, for a backend that does not run the agent: the guest's
// environment stays exactly what the caller gave.
LaunchSpec WithoutAgentRequest(const LaunchSpec& spec);

// Nullopt when `spec` does not ask for the agent. Otherwise creates the page and chooses the
// exempt set: the wrapped calls that are intercepted, not reserved, and that `handler` lets go
// unsupervised
// (SyscallHandler::Exemptible: no enforcing module and no argument decoding needs them).
std::optional<Result<AgentLaunch>> PrepareAgent(const LaunchSpec& spec, const SyscallSet& intercept,
                                                const SyscallHandler& handler);

// The Event observers see for one call the agent made: decided by nobody (Continue), result
// known, `ip` the trampoline's.
Event EventFromRing(const RingEntry& entry, uint64_t guest_id, pid_t pid, uint64_t ip);

}  // namespace hijack::exec_page
