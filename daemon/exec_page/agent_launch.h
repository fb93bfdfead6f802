// Launching a guest with libhijack-agent.so: the page, the environment, the exempt set.
//
//   // a launcher asks for the agent in the LaunchSpec:
//   HIJACK_ASSIGN_OR_RETURN(spec.agent_library, PreloadableAgentLibrary());  // empty: none here
//   // the notify backend, before it compiles the filter:
//   if (auto agent = PrepareAgent(spec, intercept, handler.exec_page_client())) {
//     ... agent->page, agent->spec, agent->modes ...
//   }
//
// Only the notify backend honours LaunchSpec::agent_library; the others run the guest without
// the agent.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/exec_page/guest_exec_page.h"
#include "hijack/backend.h"
#include "hijack/event.h"
#include "hijack/result.h"

namespace hijack::exec_page {

// The environment variable that names the agent library to preload instead of the installed one.
inline constexpr const char* kAgentLibraryEnv = "HIJACK_AGENT_LIBRARY";
inline constexpr const char* kAgentLibraryName = "libhijack-agent.so";

// Where ResolveAgentLibrary looks when HIJACK_AGENT_LIBRARY is unset, in order: the installed
// library relative to the running program (<bindir>/../lib/hijack/libhijack-agent.so,
// install_layout.h), then, only for a program inside the build tree, the one built with it.
std::vector<std::string> AgentLibraryCandidates();

// The agent library to preload: $HIJACK_AGENT_LIBRARY when set and not empty (as an absolute
// path), else the first of AgentLibraryCandidates that exists. An empty string when none
// exists: every call then goes to the supervisor. An error (naming the variable, the path and
// the errno) when HIJACK_AGENT_LIBRARY names anything but a readable ELF file: the operator
// asked for that library, and running without it would be a silent surprise.
Result<std::string> ResolveAgentLibrary();

// ResolveAgentLibrary's library, or an empty string when there is none or the variable is wrong
// (for callers that only mention the path; the launchers use PreloadableAgentLibrary).
std::string FindAgentLibrary();

// ResolveAgentLibrary's library as a path LD_PRELOAD can carry, for LaunchSpec::agent_library: a
// path with a space or a colon is replaced by a link to it (PreloadablePath, agent_path.h).
// Empty when no agent library exists or no link could be made (logged as a warning): every call
// then goes to the supervisor. ResolveAgentLibrary's error when HIJACK_AGENT_LIBRARY is wrong.
Result<std::string> PreloadableAgentLibrary();

struct AgentLaunch {
  std::unique_ptr<GuestExecPage> page;
  LaunchSpec spec;   // the caller's, with LD_PRELOAD and the page variables in its environment
  AgentModes modes;  // modes.exempt: what the filter lets the trampoline run unsupervised
};

// Nullopt when `spec` has no agent library or there is no `client`. Otherwise creates the page
// and configures it with DeriveAgentModes over the wrapped calls that are intercepted and not
// reserved. Asks `client` queries only: the caller commits (ExecPageClient::CommitExempt) once
// the guest runs.
std::optional<Result<AgentLaunch>> PrepareAgent(const LaunchSpec& spec, const SyscallSet& intercept,
                                                const ExecPageClient* client);

// The Event observers see for one call the agent made: decided by nobody (Continue), result
// known, `ip` the trampoline's.
Event EventFromRing(const RingEntry& entry, uint64_t guest_id, pid_t pid, uint64_t ip);

}  // namespace hijack::exec_page
