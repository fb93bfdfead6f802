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
// The check of the call is not atomic with the exec: the kernel reads the path again after the
// supervisor answers, so a guest thread that rewrites the path buffer in between runs what it
// wrote (docs/SECURITY.md, "File-system confinement in the modules", has the window and the
// figures). Two layers close that window:
// - `"image": "verify"` (the default, for a guard that can deny): the image the kernel loaded is
//   judged too, at the process's PTRACE_EVENT_EXEC stop, before its first instruction, by
//   /proc/PID/exe walked back from the guest's root to the same inode, and a refused one is
//   killed (SIGKILL: the exec is past its point of no return and cannot fail). By then no guest
//   thread can change what was loaded: the race is gone. The ptrace backends stop there anyway;
//   under notify the supervisor also traces the guest's process tree for its exec, fork and
//   signal stops only (the exec watch, NotifyBackend). Costs: one open, readlink and walk per
//   exec; under notify a tracer stop per fork, clone, exec and signal delivered (a few µs each),
//   and the guest can no longer ptrace its own children (EPERM, as under the ptrace backends);
//   on every backend clone(CLONE_UNTRACED) fails with EPERM and clone3 with ENOSYS (glibc falls
//   back to clone), so pthread_create pays one more round trip. An image whose name cannot be
//   walked back (unlinked, a memfd) is refused. For a `#!` script the image is its interpreter,
//   which must then be allowed too (as under the Landlock floor); the script itself is data the
//   interpreter opens by name, as `sh script` would, and is judged at the call only.
//   `"off"`: only the call's path is judged, with the race.
// - Landlock's execute right (the floor of an allow list, Landlock ABI 2), on every backend.
//
// Logging observes (off the guest's path): one JSON line per exec with guest, pid, path, argv (as
// the decoder shows it: 32 entries, 256 characters each) and the decision, appended to `log` ("-"
// or absent: standard error; "none": no log). Stats() keeps the last 16.
#pragma once

#include <atomic>
#include <cstdio>
#include <deque>
#include <mutex>

#include <seccomp.h>

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
    bool verify_image = true;  // "image": "verify"
  };

  explicit ExecGuardModule(Config config);
  ~ExecGuardModule() override;
  static policy::ModuleInfo Info();

  std::string_view Name() const override { return "exec_guard"; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return true; }
  bool WantsArguments(int nr) const override {
    return config_.log != nullptr && (nr == SCMP_SYS(execve) || nr == SCMP_SYS(execveat));
  }
  std::optional<Decision> Decide(const SyscallEvent& ev, GuestMemory& mem) override;
  // The image a process runs after its exec, by /proc/PID/exe (policy.h), when the guard can
  // deny and `image` is "verify".
  bool JudgesImages() const override;
  std::optional<Decision> JudgeImage(const SyscallEvent& exec, GuestMemory& mem) override;
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
  std::atomic<uint64_t> images_killed_{0};
  mutable std::mutex mu_;
  std::deque<nlohmann::json> recent_;
};

}  // namespace hijack::modules
