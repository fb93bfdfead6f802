// trace: one record per intercepted call, as JSON lines or strace-like text.
//
//   {"module": "trace", "syscalls": ["%file", "%net"], "output": "trace.jsonl", "format": "json"}
//
// JSON record: {"time": <epoch seconds>, "guest": 1, "pid": 10, "tid": 10, "syscall": "openat",
//   "args": [...], "decision": "continue", "ret": 3, "errno": "ENOENT", "duration_us": 4.1,
//   "policy_version": 1}, plus "module" when a module decided. "ret" is null when the result is
// not known (a call that ran under seccomp notify). Text: `[pid 10] openat(AT_FDCWD, "/etc/x",
// O_RDONLY) = -1 ENOENT (No such file or directory) <0.000004>`.
// Writes on the event bus thread; never blocks the guest. `output` defaults to stderr; the file
// is opened (created or truncated) when the policy is loaded, so an unwritable path is a policy
// error.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

#include "daemon/policy/module_registry.h"

namespace hijack::modules {

class TraceModule final : public PolicyModule {
 public:
  enum class Format { kJson, kText };

  // Takes ownership of `out` unless it is stderr.
  TraceModule(SyscallSet syscalls, std::FILE* out, Format format);
  ~TraceModule() override;

  static policy::ModuleInfo Info();
  // Builds one from command-line settings (hijackd run --trace FILE --trace-format F).
  static Result<std::unique_ptr<TraceModule>> Open(SyscallSet syscalls, const std::string& output,
                                                   Format format);

  std::string_view Name() const override { return "trace"; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return false; }
  bool WantsArguments(int) const override { return true; }
  void Observe(const Event& event) override;
  nlohmann::json Stats() const override;

 private:
  std::string FormatJson(const Event& event) const;
  std::string FormatText(const Event& event) const;
  // Under mu_: flushes, counting the records of a failed flush as lost; says the first error.
  void FlushLocked();
  void WriteFailedLocked(int err);

  const SyscallSet syscalls_;
  std::FILE* out_;
  const Format format_;
  const int64_t realtime_offset_ns_;  // CLOCK_REALTIME - CLOCK_MONOTONIC at creation
  mutable std::mutex mu_;
  uint64_t written_ = 0;
  uint64_t write_errors_ = 0;
  uint64_t unflushed_ = 0;  // records written into the stream's buffer since its last flush
  bool write_error_told_ = false;
  std::string output_ = "(standard error)";  // the file's name, for messages
  int64_t last_flush_ns_ = 0;
};

}  // namespace hijack::modules
