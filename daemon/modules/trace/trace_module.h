// trace: one record per intercepted call, as JSON lines or strace-like text.
//
//   {"module": "trace", "syscalls": ["%file", "%net"], "output": "trace.jsonl", "format": "json"}
//
// JSON record: {"time": <epoch seconds>, "guest": 1, "pid": 10, "tid": 10, "syscall": "openat",
//   "args": [...], "decision": "continue", "ret": 3, "errno": "ENOENT", "duration_us": 4.1,
//   "policy_version": 1}, plus "module" when a module decided. "ret" is null when the result is
// not known (a call that ran under seccomp notify). Text: `[pid 10] openat(AT_FDCWD, "/etc/x",
// O_RDONLY) = -1 ENOENT (No such file or directory) <0.000004>`.
// Strace form (hijackd strace, OpenStrace): the lines of strace(1) -f, with its pid prefixes,
// timestamps (-t, -tt, -ttt, -r), -T durations, -s, -y, -z/-Z and -ff files, the
// `--- SIGNAL {si_...} ---` line of each signal delivery the backend saw (ptrace), and the
// `+++ exited with N +++` line of each process or thread seen calling exit_group(2) or exit(2),
// and of each process whose end the backend (ptrace) or the kernel process observer (notify)
// reported (ObserveProcessEvent); ProcessEnded adds the guest's main process.
// Writes on the event bus thread; never blocks the guest. `output` defaults to stderr; the file
// is opened (created or truncated) when the policy is loaded, so an unwritable path is a policy
// error.
#pragma once

#include <sys/types.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "daemon/policy/module_registry.h"

namespace hijack::modules {

class TraceModule final : public PolicyModule {
 public:
  enum class Format { kJson, kText, kStrace };

  // How the strace form writes its lines (hijackd strace's options, strace_options.h).
  struct StraceStyle {
    enum class Stamps { kNone, kSeconds, kMicros, kEpoch };  // -t, -tt, -ttt
    enum class Results { kAll, kSuccessful, kFailed };       // -z, -Z
    // kWhenSeveral: "[pid  N] " while more than one process or thread is alive (strace -f to
    // stderr); kAlways: "N     " (strace -f -o FILE); kNone: no prefix (-ff files).
    enum class Prefix { kWhenSeveral, kAlways, kNone };
    SyscallSet shown;  // the calls that get a line (-e trace=)
    Stamps stamps = Stamps::kNone;
    bool relative = false;      // -r: seconds since the previous line's call
    bool durations = false;     // -T: <seconds> of calls whose return hijackd saw
    size_t string_limit = 32;   // -s: bytes of data buffers and argv strings; not of paths
    bool fd_paths = false;      // -y
    Results results = Results::kAll;
    Prefix prefix = Prefix::kWhenSeveral;
    std::string per_pid_base;   // -ff: lines of thread T go to per_pid_base + "." + T
  };

  // Takes ownership of `out` unless it is stderr.
  TraceModule(SyscallSet syscalls, std::FILE* out, Format format);
  TraceModule(StraceStyle style, std::FILE* out);
  ~TraceModule() override;

  static policy::ModuleInfo Info();
  // Builds one from command-line settings (hijackd run --trace FILE --trace-format F).
  static Result<std::unique_ptr<TraceModule>> Open(SyscallSet syscalls, const std::string& output,
                                                   Format format);
  // The strace form, to `output` ("" or "-": stderr; with style.per_pid_base set, the files are
  // opened as threads first write and `output` is unused). The module observes exit_group and
  // exit besides style.shown, for the exit lines.
  static Result<std::unique_ptr<TraceModule>> OpenStrace(StraceStyle style,
                                                         const std::string& output);

  // Strace form: writes "+++ exited with N +++" or "+++ killed by SIGX +++" for process `pid`,
  // which ended with waitpid(2) status `wait_status`, unless its exit line was written already.
  // Call after the event bus delivered the process's events. Any thread.
  void ProcessEnded(pid_t pid, int wait_status);
  // Strace form: writes `text` (strace -C's table) where the lines go, after every line written
  // so far, and flushes; the -ff form has no one file, so `text` goes to stderr there. Any
  // thread.
  void WriteAfterLines(const std::string& text);
  // Strace form: lines written with "= ?" because the call ran where hijackd could not see its
  // result (not counting exit and exit_group, which never return).
  uint64_t unknown_results() const;
  // Strace form: lines of calls that succeeded whose out-parameters (struct stat, the bytes
  // read, ...) show as pointers because the backend did not stop at the call's return.
  uint64_t unread_out_arguments() const;
  // Signal-delivery lines written (only backends that stop at deliveries report them).
  uint64_t signals_shown() const;

  std::string_view Name() const override { return "trace"; }
  const SyscallSet& Syscalls() const override { return syscalls_; }
  bool Enforces() const override { return false; }
  bool WantsArguments(int) const override { return true; }
  // The strace form's -s: the decoder reads that much of each buffer (the lines cut it there).
  size_t ShownBytes() const override {
    return format_ == Format::kStrace ? style_.string_limit : 0;
  }
  void Observe(const Event& event) override;
  // "--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=0x10} ---" in the text and
  // strace forms, {"signal": "SIGSEGV", "si_code": ..., ...} in JSON.
  void ObserveProcessEvent(const Event& event) override;
  bool WantsProcessEnds() const override { return true; }
  nlohmann::json Stats() const override;

 private:
  std::string FormatJson(const Event& event) const;
  std::string FormatText(const Event& event) const;
  // Text and JSON forms: writes one record, counting a failed write as lost.
  void WriteRecord(const std::string& line);
  // The strace form; mu_ held.
  void ObserveStrace(const Event& event);
  std::string StraceLine(const Event& event);
  std::string LinePrefix(pid_t tid, int64_t start_ns);
  void WriteStrace(pid_t tid, const std::string& line);
  std::FILE* FileOf(pid_t tid);
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
  // Strace form only.
  StraceStyle style_;
  std::map<pid_t, pid_t> live_;  // thread -> process, from first call to exit line
  std::set<pid_t> ended_;        // processes and threads whose exit line was written
  std::map<pid_t, std::FILE*> files_;  // -ff
  int64_t last_start_ns_ = 0;    // -r
  uint64_t unknown_ = 0;
  uint64_t signals_ = 0;
  uint64_t unread_outs_ = 0;
};

}  // namespace hijack::modules
