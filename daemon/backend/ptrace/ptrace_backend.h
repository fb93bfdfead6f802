// PtraceBackend: guests under ptrace(2), for kernels and sandboxes without seccomp user
// notification, and the baseline the benchmarks compare against.
//
//   PtraceBackend backend(Tracer::Create(loop, reaper), TraceMode::kSeccompStops);  // ptrace
//   Result<pid_t> pid = backend.Launch(spec, handler);
//   loop.run();
//
// `ptrace` installs a seccomp filter whose intercepted calls return SECCOMP_RET_TRACE, so only
// they stop the guest (one stop per call, two when the handler wants the call's result), as
// `strace --seccomp-bpf` does; every other call runs at full speed. `ptrace-all` installs no
// filter and stops at entry and exit of every call (PTRACE_SYSCALL), for hosts where even
// seccomp filters are refused. Both front ends share the one Tracer of the reaper, which
// their owner (BackendSet) hands to each (see tracer.h for what each kind of stop does and the
// limits).
//
// Threads: run the loop on one thread; it becomes the tracer (ptrace(2) binds a tracee to the
// thread that attached it). Launch from a handler on that loop reports attach errors directly;
// Launch from another thread before the loop runs defers the attach to the loop.
#pragma once

#include <memory>

#include "daemon/backend/ptrace/tracer.h"
#include "hijack/backend.h"
#include "hijack/backend_kind.h"

namespace hijack::backend {

class PtraceBackend final : public Backend {
 public:
  PtraceBackend(std::shared_ptr<Tracer> tracer, TraceMode mode);

  std::string_view Name() const override {
    return BackendKindName(mode_ == TraceMode::kSeccompStops ? BackendKind::kPtrace
                                                             : BackendKind::kPtraceAll);
  }
  // ptrace(2) cannot place a descriptor in the tracee; InjectFd decisions fail with ENOTSUP.
  bool CanInjectFd() const override { return false; }
  Result<pid_t> Launch(const LaunchSpec& spec, SyscallHandler& handler) override;
  // hijackd strace -p: running processes, traced at every call (Tracer::AttachRunning, which
  // says what is attached and the errors), and let go again (Tracer::Detach). Loop thread.
  Result<pid_t> AttachRunning(const AttachSpec& spec, SyscallHandler& handler);
  void Detach(uint64_t guest_id);

  // Whether `mode` works here: ptrace permission (both), and SECCOMP_RET_TRACE (kSeccompStops).
  // Forks a short-lived child; call on the thread that runs the reaper's loop. The error names
  // what was refused.
  static Result<void> Probe(TraceMode mode);

 private:
  std::shared_ptr<Tracer> tracer_;
  TraceMode mode_;
};

}  // namespace hijack::backend
