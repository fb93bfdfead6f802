#include "daemon/exec_page/agent_launch.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <filesystem>
#include <optional>
#include <spdlog/spdlog.h>

#include "common/install_layout.h"
#include "hijack/unique_fd.h"
#include "daemon/exec_page/agent_path.h"
#include "daemon/exec_page/elf_needed.h"

namespace hijack::exec_page {
namespace {

bool Exists(const std::string& path) { return !path.empty() && access(path.c_str(), R_OK) == 0; }

// The first entry of a colon- or space-separated LD_PRELOAD list (ld.so(8)).
std::string FirstPreload(const std::string& list) {
  const size_t start = list.find_first_not_of(": ");
  if (start == std::string::npos) {
    return "";
  }
  return list.substr(start, list.find_first_of(": ", start) - start);
}

// The agent comes first in LD_PRELOAD, so its wrappers are the guest's calls, unless a sanitizer
// runtime must: AddressSanitizer's dynamic runtime aborts a program in which it is not the
// first library ("ASan runtime does not come first in initial library list"). Such a runtime,
// named by the program (DT_NEEDED) or first in the caller's own LD_PRELOAD, stays first and the
// agent follows it; the runtime's interceptors then call the agent's wrappers as the next
// definition (dlsym(3), RTLD_NEXT), so the calls are still the agent's.
std::string PreloadList(const LaunchSpec& spec, const std::string& theirs) {
  std::string sanitizer;
  if (auto needed = NeededLibraries(spec.path); !needed) {
    spdlog::debug("guest {}: {}; the agent comes first in LD_PRELOAD", spec.guest_id,
                  needed.error().message);
  } else {
    sanitizer = FirstComingSanitizer(*needed);
  }
  const std::string first_theirs = FirstPreload(theirs);
  if (sanitizer.empty() && !FirstComingSanitizer({first_theirs.substr(first_theirs.rfind('/') + 1)})
                                .empty()) {
    sanitizer = first_theirs;
  }
  std::string list = spec.agent_library;
  if (!sanitizer.empty()) {
    spdlog::debug("guest {}: {} needs to be the first preloaded library; the agent follows it",
                 spec.guest_id, sanitizer);
    list = sanitizer + ":" + list;
  }
  if (!theirs.empty()) {
    list += ":" + theirs;
  }
  return list;
}

}  // namespace

std::vector<std::string> AgentLibraryCandidates() {
  std::vector<std::string> out;
  if (auto installed = install_layout::BesideInstalledBinary(kAgentLibraryName)) {
    out.push_back(installed->string());
  }
#ifdef HIJACK_AGENT_BUILD_PATH
  if (install_layout::RunningFromBuildTree()) {
    out.push_back(HIJACK_AGENT_BUILD_PATH);
  }
#endif
  return out;
}

Result<std::string> ResolveAgentLibrary() {
  if (const char* env = getenv(kAgentLibraryEnv); env != nullptr && env[0] != '\0') {
    // The operator named a library: anything but a readable ELF file there is their mistake,
    // told as such, never a silent run without the agent.
    std::error_code ec;
    std::string path = std::filesystem::absolute(env, ec).lexically_normal().string();
    if (ec) {
      path = env;
    }
    const std::string named = path + " named by " + kAgentLibraryEnv;
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      return ErrnoError(errno, "open " + named);
    }
    struct stat st {};
    if (fstat(fd.get(), &st) != 0) {
      return ErrnoError(errno, "fstat " + named);
    }
    if (!S_ISREG(st.st_mode)) {
      return MakeError(named + " is not a regular file");
    }
    char magic[4] = {};
    if (pread(fd.get(), magic, sizeof magic, 0) != static_cast<ssize_t>(sizeof magic) ||
        std::memcmp(magic, "\x7f" "ELF", sizeof magic) != 0) {
      return MakeError(named + " is not an ELF shared library");
    }
    return path;
  }
  for (const std::string& candidate : AgentLibraryCandidates()) {
    if (Exists(candidate)) {
      return candidate;
    }
  }
  return std::string();
}

std::string FindAgentLibrary() {
  auto library = ResolveAgentLibrary();
  return library ? *library : std::string();
}

Result<std::string> PreloadableAgentLibrary() {
  HIJACK_ASSIGN_OR_RETURN(std::string library, ResolveAgentLibrary());
  if (library.empty()) {
    return library;
  }
  // ld.so(8) splits LD_PRELOAD at spaces and colons and has no quoting: a path with one goes
  // through a link that LD_PRELOAD can carry (agent_path.h).
  auto preload = PreloadablePath(library);
  if (!preload) {
    spdlog::warn("the agent {} is not preloaded: {}; every call goes through the supervisor",
                 library, preload.error().message);
    return std::string();
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
  // LD_PRELOAD keeps the place the guest's own had (the agent gives that one back there at
  // start, agent.cc "What the guest sees of the agent"), or comes last; the agent's variables
  // come last, and the guest's own LD_PRELOAD among them when it had one.
  std::optional<std::string> theirs;
  std::optional<size_t> preload_at;
  for (const auto& e : spec.env) {
    if (e.starts_with(std::string(kPageFdEnv) + "=") ||
        e.starts_with(std::string(kTrampolineEnv) + "=") ||
        e.starts_with(std::string(kOrigPreloadEnv) + "=")) {
      continue;
    }
    if (e.starts_with("LD_PRELOAD=")) {
      if (!theirs) {
        theirs = e.substr(11);  // getenv(3) finds the first
        preload_at = out.spec.env.size();
        out.spec.env.emplace_back();
      }
      continue;
    }
    out.spec.env.push_back(e);
  }
  std::string preload = "LD_PRELOAD=" + PreloadList(spec, theirs.value_or(""));
  if (preload_at) {
    out.spec.env[*preload_at] = std::move(preload);
  } else {
    out.spec.env.push_back(std::move(preload));
  }
  out.spec.env.push_back(page->PageFdEnv());
  out.spec.env.push_back(page->TrampolineEnv());
  if (theirs) {
    out.spec.env.push_back(std::string(kOrigPreloadEnv) + "=" + *theirs);
  }
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
