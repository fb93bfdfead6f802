#include "daemon/exec_page/agent_launch.h"

#include <linux/audit.h>
#include <unistd.h>

#include <filesystem>
#include <spdlog/spdlog.h>

#include "daemon/exec_page/agent_path.h"

namespace hijack::exec_page {
namespace {

bool Exists(const std::string& path) { return !path.empty() && access(path.c_str(), R_OK) == 0; }

}  // namespace

std::string FindAgentLibrary() {
  if (const char* env = getenv("HIJACK_AGENT_LIBRARY"); env != nullptr) {
    return Exists(env) ? env : "";
  }
#ifdef HIJACK_AGENT_BUILD_PATH
  if (Exists(HIJACK_AGENT_BUILD_PATH)) {
    return HIJACK_AGENT_BUILD_PATH;
  }
#endif
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto installed = self.parent_path().parent_path() / "lib" / "libhijack-agent.so";
    if (Exists(installed.string())) {
      return installed.string();
    }
  }
  return "";
}

std::string PreloadableAgentLibrary() {
  std::string library = FindAgentLibrary();
  if (library.empty()) {
    return "";
  }
  // ld.so(8) splits LD_PRELOAD at spaces and colons and has no quoting: a path with one goes
  // through a link that LD_PRELOAD can carry (agent_path.h).
  auto preload = PreloadablePath(library);
  if (!preload) {
    spdlog::warn("the agent {} is not preloaded: {}; every call goes through the supervisor",
                 library, preload.error().message);
    return "";
  }
  return *preload;
}

std::optional<Result<AgentLaunch>> PrepareAgent(const LaunchSpec& spec, const SyscallSet& intercept,
                                                const ExecPageClient* client) {
  if (spec.agent_library.empty() || client == nullptr) {
    return std::nullopt;
  }
  HIJACK_ASSIGN_OR_RETURN(auto page,
                          GuestExecPage::Create(spec.guest_id, GuestExecPage::ChooseTrampoline()));
  SyscallSet candidates;
  for (int nr : kAgentSyscalls) {
    if (intercept.Contains(nr) && !spec.reserved.Contains(nr)) {
      candidates.Add(nr);
    }
  }
  AgentLaunch out;
  out.modes = DeriveAgentModes(*client, candidates);
  page->Configure(out.modes.exempt, out.modes.events, out.modes.timed);
  out.spec = spec;
  out.spec.env.clear();
  std::string preload = spec.agent_library;
  for (const auto& e : spec.env) {
    if (e.starts_with(std::string(kPageFdEnv) + "=") ||
        e.starts_with(std::string(kTrampolineEnv) + "=")) {
      continue;
    }
    if (e.starts_with("LD_PRELOAD=")) {
      if (e.size() > 11) {
        preload += ":" + e.substr(11);
      }
      continue;
    }
    out.spec.env.push_back(e);
  }
  out.spec.env.push_back("LD_PRELOAD=" + preload);
  out.spec.env.push_back(page->PageFdEnv());
  out.spec.env.push_back(page->TrampolineEnv());
  out.page = std::move(page);
  return out;
}

Event EventFromRing(const RingEntry& entry, uint64_t guest_id, pid_t pid, uint64_t ip) {
  Event ev;
  ev.call.guest_id = guest_id;
  ev.call.pid = pid;
  ev.call.tid = entry.tid;
  ev.call.nr = entry.nr;
  ev.call.arch = AUDIT_ARCH_X86_64;
  ev.call.ip = ip;
  for (size_t i = 0; i < 4; ++i) {
    ev.call.args[i] = entry.args[i];
  }
  ev.call.start_ns = entry.start_ns;
  ev.end_ns = entry.end_ns;
  ev.result = entry.result;
  ev.decision = Decision::Continue();
  return ev;
}

}  // namespace hijack::exec_page
