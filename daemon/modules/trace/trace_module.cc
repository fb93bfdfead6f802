#include "daemon/modules/trace/trace_module.h"

#include <fmt/format.h>
#include <time.h>

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

#include "common/bounded_file.h"
#include "daemon/syscalls/arg_decoder.h"
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

}  // namespace

TraceModule::TraceModule(SyscallSet syscalls, std::FILE* out, Format format)
    : syscalls_(syscalls),
      out_(out),
      format_(format),
      realtime_offset_ns_(ClockNs(CLOCK_REALTIME) - ClockNs(CLOCK_MONOTONIC)) {}

TraceModule::~TraceModule() {
  {
    std::lock_guard lock(mu_);
    FlushLocked();
  }
  if (write_errors_ > 0) {
    spdlog::warn("trace {}: {} record(s) were not written", output_, write_errors_);
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
  std::string line = format_ == Format::kJson ? FormatJson(event) : FormatText(event);
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
