#include "daemon/backend/ptrace/ptrace_backend.h"

namespace hijack::backend {

PtraceBackend::PtraceBackend(boost::asio::io_context& loop, launcher::ProcessReaper& reaper,
                             TraceMode mode)
    : tracer_(Tracer::ForReaper(loop, reaper)), mode_(mode) {}

Result<pid_t> PtraceBackend::Launch(const LaunchSpec& spec, SyscallHandler& handler) {
  return tracer_->Launch(spec, handler, mode_);
}

Result<void> PtraceBackend::Probe(TraceMode mode) {
  if (mode == TraceMode::kSeccompStops) {
    if (auto seccomp = Tracer::ProbeSeccompTrace(); !seccomp) {
      return seccomp;
    }
  }
  return Tracer::ProbePtrace();
}

}  // namespace hijack::backend
