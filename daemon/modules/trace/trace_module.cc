#include "daemon/modules/trace/trace_module.h"

#include <fmt/format.h>
#include <limits.h>
#include <linux/audit.h>
#include <seccomp.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

#include "common/bounded_file.h"
#include "common/exit_description.h"
#include "daemon/modules/trace/signal_text.h"
#include "daemon/syscalls/arg_decoder.h"
#include "daemon/syscalls/syscall_args.h"
#include "daemon/syscalls/syscall_table.h"

namespace hijack::modules {
namespace {

int64_t ClockNs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// A buffered trace file is flushed at least this often, so `tail -f` follows a live guest.
constexpr int64_t kFlushIntervalNs = 200'000'000;

// strace aligns " = result" at this column (its -a default).
constexpr size_t kResultColumn = 40;

// -ff: at most this many per-thread files stay open; the least recent is closed (and reopened
// for appending if its thread writes again), so a fork-heavy guest cannot use up descriptors.
constexpr size_t kMaxOpenFiles = 256;

// `text`, a quoted string as the decoder writes it ("\"abc\n\""... with C and octal escapes),
// cut to `limit` bytes of the original with strace's "..." after the closing quote.
std::string CutQuoted(const std::string& text, size_t limit) {
  if (text.size() < 2 || text[0] != '"') {
    return text;
  }
  size_t bytes = 0;
  size_t i = 1;
  while (i < text.size() && text[i] != '"') {
    if (bytes == limit) {
      return text.substr(0, i) + "\"...";
    }
    if (text[i] == '\\' && i + 1 < text.size()) {
      ++i;
      if (text[i] >= '0' && text[i] <= '7') {
        for (int d = 0; d < 3 && i < text.size() && text[i] >= '0' && text[i] <= '7'; ++d) {
          ++i;
        }
      } else {
        ++i;
      }
    } else {
      ++i;
    }
    ++bytes;
  }
  return text;
}

// `text`, a list of quoted strings as the decoder writes argv (["ls", "-la", 0x10, ...]), with
// each string cut to `limit` bytes as CutQuoted cuts one: strace cuts the strings of argv at -s,
// where it shows paths whole. A string the decoder cut already keeps one "...".
std::string CutEveryQuoted(const std::string& text, size_t limit) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '"') {
      out += text[i++];
      continue;
    }
    const size_t start = i;
    ++i;
    while (i < text.size() && text[i] != '"') {
      i += text[i] == '\\' && i + 1 < text.size() ? 2 : 1;
    }
    i = std::min(i + 1, text.size());  // past the closing quote
    const std::string cut = CutQuoted(text.substr(start, i - start), limit);
    out += cut;
    if (cut.ends_with("\"...") && text.compare(i, 3, "...") == 0) {
      i += 3;  // cut shorter than the decoder did: one "..."
    }
  }
  return out;
}

// The file behind descriptor `fd` of process `pid` now, or "" when it cannot be read (the
// process ended, or the descriptor was closed since).
std::string FdPath(pid_t pid, int64_t fd) {
  if (fd < 0 || fd > INT_MAX) {
    return {};
  }
  const std::string link = fmt::format("/proc/{}/fd/{}", pid, fd);
  char buf[PATH_MAX];
  const ssize_t n = readlink(link.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// Calls whose success value is a new descriptor (strace's RVAL_FD): -y shows its path.
bool ReturnsFd(int nr) {
  switch (nr) {
    case SCMP_SYS(open):
    case SCMP_SYS(openat):
    case SCMP_SYS(openat2):
    case SCMP_SYS(creat):
    case SCMP_SYS(dup):
    case SCMP_SYS(dup2):
    case SCMP_SYS(dup3):
    case SCMP_SYS(socket):
    case SCMP_SYS(accept):
    case SCMP_SYS(accept4):
    case SCMP_SYS(epoll_create):
    case SCMP_SYS(epoll_create1):
    case SCMP_SYS(eventfd):
    case SCMP_SYS(eventfd2):
    case SCMP_SYS(memfd_create):
    case SCMP_SYS(pidfd_open):
    case SCMP_SYS(timerfd_create):
    case SCMP_SYS(signalfd4):
    case SCMP_SYS(inotify_init1):
    case SCMP_SYS(open_tree):
    case SCMP_SYS(fsopen):
    case SCMP_SYS(fsmount):
    case SCMP_SYS(pidfd_getfd):
      return true;
    default:
      return false;
  }
}

// Threads whose exit line was written, remembered so that ProcessEnded does not write a second;
// bounded for guests that make many processes.
constexpr size_t kMaxEnded = 65536;

bool IsExit(int nr) { return nr == SCMP_SYS(exit) || nr == SCMP_SYS(exit_group); }

}  // namespace

TraceModule::TraceModule(SyscallSet syscalls, std::FILE* out, Format format)
    : syscalls_(syscalls),
      out_(out),
      format_(format),
      realtime_offset_ns_(ClockNs(CLOCK_REALTIME) - ClockNs(CLOCK_MONOTONIC)) {}

TraceModule::TraceModule(StraceStyle style, std::FILE* out)
    : syscalls_([&] {
        SyscallSet s = style.shown;
        s.Add(SCMP_SYS(exit));
        s.Add(SCMP_SYS(exit_group));
        return s;
      }()),
      out_(out),
      format_(Format::kStrace),
      realtime_offset_ns_(ClockNs(CLOCK_REALTIME) - ClockNs(CLOCK_MONOTONIC)),
      style_(std::move(style)) {}

TraceModule::~TraceModule() {
  {
    std::lock_guard lock(mu_);
    FlushLocked();
  }
  if (write_errors_ > 0) {
    spdlog::warn("trace {}: {} record(s) were not written", output_, write_errors_);
  }
  for (auto& [tid, file] : files_) {
    std::fclose(file);
  }
  if (out_ != stderr) {
    std::fclose(out_);
  }
}

void TraceModule::FlushLocked() {
  // A buffered stream reports a full disk when it writes the buffer, not when a record goes
  // into it: the records since the last flush that succeeded are the ones lost.
  if (std::fflush(out_) != 0) {
    const int err = errno;
    written_ -= unflushed_;
    write_errors_ += unflushed_;
    WriteFailedLocked(err);
  }
  unflushed_ = 0;
}

void TraceModule::WriteFailedLocked(int err) {
  if (!write_error_told_) {
    // Observation fails open: said once, then only counted (write_errors in the stats).
    write_error_told_ = true;
    spdlog::warn("trace {}: {}; the guest goes on, further records that fail are counted",
                 output_, std::strerror(err));
  }
}

Result<std::unique_ptr<TraceModule>> TraceModule::OpenStrace(StraceStyle style,
                                                             const std::string& output) {
  std::FILE* out = stderr;
  if (style.per_pid_base.empty() && !output.empty() && output != "-") {
    auto opened = common::OpenOutputFile(output, /*append=*/false);
    if (!opened) {
      return std::unexpected(Error{opened.error().code, "-o " + opened.error().message});
    }
    out = *opened;
  }
  return std::make_unique<TraceModule>(std::move(style), out);
}

std::FILE* TraceModule::FileOf(pid_t tid) {
  if (style_.per_pid_base.empty()) {
    return out_;
  }
  if (auto it = files_.find(tid); it != files_.end()) {
    return it->second;
  }
  if (files_.size() >= kMaxOpenFiles) {
    std::fclose(files_.begin()->second);
    files_.erase(files_.begin());
  }
  // Appending: a file closed above, or by its thread's exit line, is reopened where it ended.
  auto opened = common::OpenOutputFile(fmt::format("{}.{}", style_.per_pid_base, tid),
                                       /*append=*/true);
  if (!opened) {
    return nullptr;
  }
  files_[tid] = *opened;
  return *opened;
}

void TraceModule::WriteStrace(pid_t tid, const std::string& line) {
  std::FILE* out = FileOf(tid);
  if (out == nullptr || std::fwrite(line.data(), 1, line.size(), out) != line.size()) {
    ++write_errors_;  // observation fails open
    return;
  }
  ++written_;
  const int64_t now = ClockNs(CLOCK_MONOTONIC);
  if (out == stderr || now - last_flush_ns_ > kFlushIntervalNs) {
    std::fflush(out);
    for (auto& [t, file] : files_) {
      std::fflush(file);
    }
    last_flush_ns_ = now;
  }
}

std::string TraceModule::LinePrefix(pid_t tid, int64_t start_ns) {
  std::string out;
  switch (style_.prefix) {
    case StraceStyle::Prefix::kAlways:
      out = fmt::format("{:<5} ", tid);
      break;
    case StraceStyle::Prefix::kWhenSeveral:
      if (live_.size() > 1) {
        out = fmt::format("[pid {:>5}] ", tid);
      }
      break;
    case StraceStyle::Prefix::kNone:
      break;
  }
  if (start_ns == 0) {
    start_ns = ClockNs(CLOCK_MONOTONIC);  // an exit line: stamped when it is written, as strace
  }
  const int64_t wall_ns = start_ns + realtime_offset_ns_;
  const time_t secs = static_cast<time_t>(wall_ns / 1'000'000'000);
  const int64_t micros = (wall_ns % 1'000'000'000) / 1000;
  if (style_.stamps == StraceStyle::Stamps::kSeconds ||
      style_.stamps == StraceStyle::Stamps::kMicros) {
    struct tm local;
    localtime_r(&secs, &local);
    char hms[16];
    std::strftime(hms, sizeof hms, "%H:%M:%S", &local);
    out += style_.stamps == StraceStyle::Stamps::kSeconds ? fmt::format("{} ", hms)
                                                          : fmt::format("{}.{:06} ", hms, micros);
  } else if (style_.stamps == StraceStyle::Stamps::kEpoch) {
    out += fmt::format("{}.{:06} ", secs, micros);
  }
  if (style_.relative) {
    const int64_t delta = last_start_ns_ == 0 ? 0 : std::max<int64_t>(0, start_ns - last_start_ns_);
    // strace -r: "     0.000123 "; with -t as well: "12:00:00 (+     0.000123) ".
    const std::string seconds =
        fmt::format("{:>6}.{:06}", delta / 1'000'000'000, (delta % 1'000'000'000) / 1000);
    out += style_.stamps == StraceStyle::Stamps::kNone ? seconds + " " : "(+" + seconds + ") ";
    last_start_ns_ = start_ns;
  }
  return out;
}

std::string TraceModule::StraceLine(const Event& event) {
  const SyscallEvent& c = event.call;
  const syscalls::CallLayout* layout =
      c.arch == 0 || c.arch == AUDIT_ARCH_X86_64 ? syscalls::FindLayout(c.nr) : nullptr;
  std::string args;
  for (size_t i = 0; i < event.args.size(); ++i) {
    const syscalls::ArgKind kind = layout != nullptr && i < layout->args.size()
                                       ? layout->args[i]
                                       : syscalls::ArgKind::kHex;
    std::string text = event.args[i].text;
    if (kind == syscalls::ArgKind::kBuffer || kind == syscalls::ArgKind::kReadBuffer) {
      text = CutQuoted(text, style_.string_limit);
    } else if (kind == syscalls::ArgKind::kStringArray) {
      text = CutEveryQuoted(text, style_.string_limit);
    } else if (style_.fd_paths &&
               (kind == syscalls::ArgKind::kFd ||
                (kind == syscalls::ArgKind::kDirFd && text != "AT_FDCWD"))) {
      if (std::string path = FdPath(c.pid, static_cast<int32_t>(c.args[i])); !path.empty()) {
        text += "<" + path + ">";
      }
    }
    args += (i == 0 ? "" : ", ") + text;
  }
  std::string line = LinePrefix(c.tid, c.start_ns);
  line += fmt::format("{}({})", syscalls::SyscallName(c.nr), args);
  line.append(line.size() < kResultColumn ? kResultColumn - line.size() : 1, ' ');
  line += "= " + syscalls::FormatResult(c.nr, event.result);
  if (style_.fd_paths && event.result && *event.result >= 0 && ReturnsFd(c.nr)) {
    if (std::string path = FdPath(c.pid, *event.result); !path.empty()) {
      line += "<" + path + ">";
    }
  }
  if (event.module == "fault") {
    line += " (INJECTED)";  // strace's word for a tampered call
  } else if (const DenialReason* reason = event.decision.reason()) {
    line += fmt::format(" [{}: {}]", event.module, reason->rule);
  } else if (!event.module.empty()) {
    line += fmt::format(" [{}]", event.module);
  }
  if (style_.durations && event.result && !IsExit(c.nr)) {
    // One meaning on every backend: from the call's entry to its return, as hijackd saw them.
    // Under notify a call the supervisor let run returns after the answer (end_ns), when the
    // kernel result observer reports it (returned_ns).
    const int64_t end = event.returned_ns != 0 ? event.returned_ns : event.end_ns;
    line += fmt::format(" <{:.6f}>",
                        static_cast<double>(std::max<int64_t>(0, end - c.start_ns)) / 1e9);
  }
  return line + "\n";
}

void TraceModule::ObserveStrace(const Event& event) {
  const SyscallEvent& c = event.call;
  // A thread id seen again after its exit line was reused by a new thread.
  ended_.erase(c.tid);
  live_.emplace(c.tid, c.pid);
  bool shown = style_.shown.Contains(c.nr);
  if (shown && style_.results != StraceStyle::Results::kAll) {
    const bool failed = event.result && *event.result < 0 && *event.result >= -4095;
    shown = event.result.has_value() &&
            (style_.results == StraceStyle::Results::kFailed ? failed : !failed);
  }
  if (!event.result && !IsExit(c.nr) && style_.shown.Contains(c.nr)) {
    ++unknown_;
  }
  if (shown && event.result && !event.returned_args && !event.args.empty() &&
      !(*event.result < 0 && *event.result >= -4095) && syscalls::HasOutArguments(c.nr)) {
    ++unread_outs_;
  }
  if (shown) {
    WriteStrace(c.tid, StraceLine(event));
  }
  if (IsExit(c.nr)) {
    // exit(2) ends the thread, exit_group(2) every thread of the process: strace's line for
    // each thread that ends. The status is the low byte, as wait(2) reports it.
    const int status = static_cast<int>(c.args[0] & 0xff);
    std::vector<pid_t> gone;
    if (c.nr == SCMP_SYS(exit_group)) {
      for (const auto& [tid, pid] : live_) {
        if (pid == c.pid) {
          gone.push_back(tid);
        }
      }
    } else {
      gone.push_back(c.tid);
    }
    for (pid_t tid : gone) {
      // Prefixed while the thread still counts, as strace writes "[pid  N] +++ exited with 0
      // +++" for the first of two to end and the last one's line bare.
      const std::string prefix = LinePrefix(tid, 0);
      live_.erase(tid);
      WriteStrace(tid, prefix + fmt::format("+++ exited with {} +++\n", status));
      if (ended_.size() >= kMaxEnded) {
        ended_.clear();  // only keeps ProcessEnded from repeating an exit line
      }
      ended_.insert(tid);
      if (auto it = files_.find(tid); it != files_.end()) {
        std::fclose(it->second);
        files_.erase(it);
      }
    }
  }
}

void TraceModule::ProcessEnded(pid_t pid, int wait_status) {
  std::lock_guard lock(mu_);
  if (format_ != Format::kStrace || ended_.contains(pid)) {
    return;
  }
  std::string what;
  if (WIFEXITED(wait_status)) {
    what = fmt::format("exited with {}", WEXITSTATUS(wait_status));
  } else if (WIFSIGNALED(wait_status)) {
    what = fmt::format("killed by {}{}", common::SignalName(WTERMSIG(wait_status)),
                       WCOREDUMP(wait_status) ? " (core dumped)" : "");
  } else {
    return;
  }
  // A process that ends this way (a signal, or the notify filter's unasked exit_group) takes
  // all its threads with it.
  const std::string prefix = LinePrefix(pid, 0);  // while it counts (ObserveStrace)
  std::erase_if(live_, [pid](const auto& entry) { return entry.second == pid; });
  WriteStrace(pid, prefix + fmt::format("+++ {} +++\n", what));
  ended_.insert(pid);
  for (auto& [t, file] : files_) {
    std::fflush(file);
  }
  std::fflush(out_);
}

void TraceModule::WriteAfterLines(const std::string& text) {
  std::lock_guard lock(mu_);
  std::FILE* out = style_.per_pid_base.empty() ? out_ : stderr;
  if (std::fwrite(text.data(), 1, text.size(), out) != text.size()) {
    ++write_errors_;
  }
  if (out == out_) {
    FlushLocked();
  } else {
    std::fflush(out);
  }
}

uint64_t TraceModule::unknown_results() const {
  std::lock_guard lock(mu_);
  return unknown_;
}

uint64_t TraceModule::unread_out_arguments() const {
  std::lock_guard lock(mu_);
  return unread_outs_;
}

uint64_t TraceModule::signals_shown() const {
  std::lock_guard lock(mu_);
  return signals_;
}

Result<std::unique_ptr<TraceModule>> TraceModule::Open(SyscallSet syscalls,
                                                       const std::string& output, Format format) {
  std::FILE* out = stderr;
  if (!output.empty() && output != "-") {
    auto opened = common::OpenOutputFile(output, /*append=*/false);  // a FIFO must not hang
    if (!opened) {
      return std::unexpected(Error{opened.error().code, "trace output " + opened.error().message});
    }
    out = *opened;
  }
  auto module = std::make_unique<TraceModule>(syscalls, out, format);
  if (out != stderr) {
    module->output_ = output;
  }
  return module;
}

std::string TraceModule::FormatJson(const Event& event) const {
  const SyscallEvent& c = event.call;
  nlohmann::json args = nlohmann::json::array();
  for (const auto& a : event.args) {
    args.push_back(a.json);
  }
  nlohmann::json rec = {
      {"time", static_cast<double>(c.start_ns + realtime_offset_ns_) / 1e9},
      {"guest", c.guest_id},
      {"pid", c.pid},
      {"tid", c.tid},
      {"syscall", syscalls::SyscallName(c.nr)},
      {"args", std::move(args)},
      {"decision", KindName(event.decision.kind())},
  };
  if (!event.module.empty()) {
    rec["module"] = event.module;
  }
  if (const DenialReason* reason = event.decision.reason()) {
    rec["rule"] = reason->rule;
    if (!reason->hint.empty()) {
      rec["hint"] = reason->hint;
    }
    if (!reason->path.empty()) {
      rec["path"] = reason->path;
    }
    if (reason->would_fail != 0) {
      rec["would_fail"] = ErrnoName(reason->would_fail);
    }
  }
  rec.update(syscalls::ResultJson(event.result));
  rec["duration_us"] = static_cast<double>(event.end_ns - c.start_ns) / 1e3;
  rec["policy_version"] = event.policy_version;
  return rec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string TraceModule::FormatText(const Event& event) const {
  const SyscallEvent& c = event.call;
  std::string args;
  for (const auto& a : event.args) {
    args += (args.empty() ? "" : ", ") + a.text;
  }
  std::string decided = event.module.empty() ? "" : fmt::format(" [{}]", event.module);
  if (const DenialReason* reason = event.decision.reason()) {
    decided = fmt::format(" [{}: {}{}]", event.module, reason->rule,
                          reason->would_fail != 0
                              ? ", would fail with " + ErrnoName(reason->would_fail) + " anyway"
                              : "");
  }
  return fmt::format("[pid {:>6}] {}({}) = {}{} <{:.6f}>\n", c.tid, syscalls::SyscallName(c.nr),
                     args, syscalls::FormatResult(c.nr, event.result), decided,
                     static_cast<double>(event.end_ns - c.start_ns) / 1e9);
}

void TraceModule::Observe(const Event& event) {
  if (format_ == Format::kStrace) {
    std::lock_guard lock(mu_);
    ObserveStrace(event);
    return;
  }
  WriteRecord(format_ == Format::kJson ? FormatJson(event) : FormatText(event));
}

void TraceModule::ObserveProcessEvent(const Event& event) {
  if (event.exit_status) {
    ProcessEnded(event.call.pid, *event.exit_status);
    return;
  }
  if (!event.signal) {
    return;
  }
  const SyscallEvent& c = event.call;
  const std::string what = fmt::format("--- {} {} ---\n", StraceSignalName(event.signal->signo),
                                       SiginfoText(*event.signal));
  if (format_ == Format::kStrace) {
    std::lock_guard lock(mu_);
    ended_.erase(c.tid);
    live_.emplace(c.tid, c.pid);
    ++signals_;
    WriteStrace(c.tid, LinePrefix(c.tid, c.start_ns) + what);
    return;
  }
  if (format_ == Format::kText) {
    WriteRecord(fmt::format("[pid {:>6}] {}", c.tid, what));
    return;
  }
  nlohmann::json rec = {
      {"time", static_cast<double>(c.start_ns + realtime_offset_ns_) / 1e9},
      {"guest", c.guest_id},
      {"pid", c.pid},
      {"tid", c.tid},
  };
  rec.update(SiginfoJson(*event.signal));
  WriteRecord(rec.dump() + "\n");
}

void TraceModule::WriteRecord(const std::string& line) {
  std::lock_guard lock(mu_);
  if (std::fwrite(line.data(), 1, line.size(), out_) != line.size()) {
    // Observation fails open: a full disk loses trace lines (counted), never blocks the guest.
    ++write_errors_;
    WriteFailedLocked(errno);
    return;
  }
  ++written_;
  ++unflushed_;
  const int64_t now = ClockNs(CLOCK_MONOTONIC);
  if (out_ == stderr || now - last_flush_ns_ > kFlushIntervalNs) {
    FlushLocked();
    last_flush_ns_ = now;
  }
}

nlohmann::json TraceModule::Stats() const {
  std::lock_guard lock(mu_);
  return {{"written", written_}, {"write_errors", write_errors_}};
}

policy::ModuleInfo TraceModule::Info() {
  return {
      .name = "trace",
      .summary = "write one record per call (JSON lines or strace-like text)",
      .settings = {policy::setting::Syscalls("syscalls",
                                             "syscall names or %classes traced (default: every "
                                             "syscall)"),
                   policy::setting::Text("output", "file to write (default: standard error)"),
                   policy::setting::Choice("format",
                                           "JSON lines (one object per call) or strace-like text",
                                           {"json", "text"})
                       .Default("json")},
      .factory = [](policy::ConfigReader& config) -> Result<std::unique_ptr<PolicyModule>> {
        HIJACK_ASSIGN_OR_RETURN(auto syscalls, config.Syscalls("syscalls"));
        HIJACK_ASSIGN_OR_RETURN(
            auto format,
            config.Enum<Format>("format", {{"json", Format::kJson}, {"text", Format::kText}}));
        const Format f = format.value_or(Format::kJson);
        HIJACK_ASSIGN_OR_RETURN(auto output, config.String("output"));
        auto module = Open(syscalls ? *syscalls : syscalls::AllSyscalls(), output.value_or(""), f);
        if (!module) {
          return MakeError(config.PathOf("output") + ": " + module.error().message);
        }
        return std::unique_ptr<PolicyModule>(std::move(*module));
      },
  };
}

}  // namespace hijack::modules
