// exec_guard: which executables a guest may exec, by resolved path, and a log of every exec's argv.
//
//   {"module": "exec_guard", "allow": ["/usr/bin/**", "/bin/**"], "deny": ["/usr/bin/sudo"],
//    "log": "execs.jsonl"}
//
// execve/execveat paths are resolved as the kernel resolves them for the calling thread (cwd,
// dirfd, AT_EMPTY_PATH, symlinks in the guest's root), so "./tool", "../bin/tool" and a symlink
// to it are one executable. `deny` matches deny; else `allow` matches allow; else `default`
// ("deny" when there is an allow list, else "allow"). An exec whose path cannot be resolved fails
// with the kernel's ENOENT/ENOTDIR, or with `errno` (fail closed); so does the exec of a file
// that has no name any more (execveat(fd, "", AT_EMPTY_PATH) or fexecve(3) of an unlinked file
// or a memfd, whose name reads back with " (deleted)"), and of a name in a detached tree. A
// guard that can deny nothing (no deny list, default allow) only logs.
//
// The check is not atomic with the exec under any backend: the kernel reads the path again
// after the supervisor answers, so a guest thread that rewrites the path buffer in between
// runs what it wrote (docs/SECURITY.md, "File-system confinement in the modules", has the
// window and the figures). Landlock's execute right is the race-free floor. A script's interpreter is the
// kernel's business: allow it too, or the exec of the script is allowed and the interpreter runs.
//
// Logging observes (off the guest's path): one JSON line per exec with guest, pid, path, argv (as
// the decoder shows it: 32 entries, 256 characters each) and the decision, appended to `log` ("-"
// or absent: standard error; "none": no log). Stats() keeps the last 16.
#pragma once

#include <atomic>
#include <cstdio>
#include <deque>
#include <mutex>

#include "daemon/modules/fs_guard/path_pattern.h"
#include "daemon/policy/module_registry.h"

namespace hijack::modules {

class ExecGuardModule final : public PolicyModule {
 public:
  struct Config {
    std::vector<PathPattern> allow;
    std::vector<PathPattern> deny;
    bool default_allow = true;
    int err = EACCES;
    std::FILE* log = nullptr;  // owned unless stderr; nullptr: no log
  };

  explicit ExecGuardModule(Config config);
  ~ExecGuardModule() override;
  static policy::ModuleInfo Info();

  std::string_view Name() const override { return "exec_guard"; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return true; }
  bool WantsArguments(int /*nr*/) const override { return config_.log != nullptr; }
  std::optional<Decision> Decide(const SyscallEvent& ev, GuestMemory& mem) override;
  void Observe(const Event& event) override;
  nlohmann::json Stats() const override;
  // exec_guard_floor.cc: the executable trees of an allow list.
  KernelFloor Floor() const override;

  bool Allows(const std::string& path) const;
  // Why Allows(path) is false: the deny pattern that matched, or the allow list that did not.
  DenialReason Explain(const std::string& path) const;

 private:
  const Config config_;
  SyscallSet syscalls_;
  std::atomic<uint64_t> allowed_{0};
  std::atomic<uint64_t> denied_{0};
  std::atomic<uint64_t> unresolved_{0};
  mutable std::mutex mu_;
  std::deque<nlohmann::json> recent_;
};

}  // namespace hijack::modules
