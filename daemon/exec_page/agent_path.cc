#include "daemon/exec_page/agent_path.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <mutex>

#include <spdlog/spdlog.h>

namespace hijack::exec_page {
namespace {

// The links this process made and the directory that holds them. Removed at exit (a static
// destructor), by the process that made them only: children forked by the launcher share this
// object's memory image and must not remove what the parent's guests still use.
class RuntimeDir {
 public:
  ~RuntimeDir() {
    if (dir_.empty() || getpid() != owner_) {
      return;
    }
    for (const auto& [target, link] : links_) {
      unlink(link.c_str());
    }
    rmdir(dir_.c_str());
  }

  Result<std::string> LinkTo(const std::string& library) {
    std::lock_guard lock(mu_);
    std::error_code ec;
    // The link resolves from its own directory, so its target must be absolute.
    const std::string target = std::filesystem::absolute(library, ec).lexically_normal().string();
    if (ec) {
      return ErrnoError(ec.value(), "resolving the agent library " + library);
    }
    if (auto it = links_.find(target); it != links_.end()) {
      return it->second;
    }
    if (dir_.empty()) {
      char tmpl[] = "/tmp/hijack-agent.XXXXXX";
      if (mkdtemp(tmpl) == nullptr) {
        return ErrnoError(errno, "mkdtemp /tmp/hijack-agent.XXXXXX");
      }
      // Search permission for every uid a guest may run as; nothing else for them.
      if (chmod(tmpl, 0711) != 0) {
        int err = errno;
        rmdir(tmpl);
        return ErrnoError(err, std::string("chmod 0711 ") + tmpl);
      }
      dir_ = tmpl;
      owner_ = getpid();
    }
    // Named by number: the library's own file name may hold a space or a colon too.
    std::string link = dir_ + "/libhijack-agent-" + std::to_string(links_.size()) + ".so";
    if (symlink(target.c_str(), link.c_str()) != 0) {
      return ErrnoError(errno, "symlink " + link + " -> " + target);
    }
    links_.emplace(target, link);
    spdlog::debug("the agent {} is preloaded through {}", target, link);
    return link;
  }

 private:
  std::mutex mu_;
  std::string dir_;
  pid_t owner_ = 0;
  std::map<std::string, std::string> links_;  // absolute target -> link
};

}  // namespace

bool SplitByPreloadList(const std::string& path) {
  return path.find_first_of(" :") != std::string::npos;
}

Result<std::string> PreloadablePath(const std::string& library) {
  if (!SplitByPreloadList(library)) {
    return library;
  }
  static RuntimeDir dir;
  return dir.LinkTo(library);
}

}  // namespace hijack::exec_page
