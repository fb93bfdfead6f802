#include "daemon/backend/ptrace/ptrace_backend.h"

namespace hijack::backend {

PtraceBackend::PtraceBackend(std::shared_ptr<Tracer> tracer, TraceMode mode)
    : tracer_(std::move(tracer)), mode_(mode) {}

Result<pid_t> PtraceBackend::Launch(const LaunchSpec& spec, SyscallHandler& handler) {
  return tracer_->Launch(spec, handler, mode_);
}

Result<pid_t> PtraceBackend::AttachRunning(const AttachSpec& spec, SyscallHandler& handler) {
  return tracer_->AttachRunning(spec, handler);
}

void PtraceBackend::Detach(uint64_t guest_id) { tracer_->Detach(guest_id); }

Result<void> PtraceBackend::Probe(TraceMode mode) {
  if (mode == TraceMode::kSeccompStops) {
    if (auto seccomp = Tracer::ProbeSeccompTrace(); !seccomp) {
      return seccomp;
    }
  }
  return Tracer::ProbePtrace();
}

}  // namespace hijack::backend
