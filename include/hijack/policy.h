// PolicyModule: the interface every policy module implements, built in or plugged in.
//
// A policy is an ordered list of module instances. For each intercepted call the engine asks the
// modules that need that syscall, in order, to Decide(); the first one that returns a Decision
// settles the call, and if none does the call continues. Every module then Observe()s the
// completed Event off the synchronous path.
//
//   class DenyModule final : public PolicyModule {
//     std::optional<Decision> Decide(const SyscallEvent& ev, GuestMemory&) override {
//       return Decision::Fail(errno_);
//     }
//     ...
//   };
//
// Threads: Decide() runs on the supervisor loop thread of the guest, except for calls the module
// says may block (MayBlock), which run on a worker of the supervisor's decision pool while the
// loop serves every other call; Observe() runs on the event bus thread; Stats() and Report() may
// run on any thread. Decide() has no side effects beyond the module's own counters (policy as a
// function of the call), so a policy can be swapped at any time without coordination: a call
// being decided keeps the policy it started with alive (a shared_ptr snapshot).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "hijack/decision.h"
#include "hijack/event.h"
#include "hijack/guest_memory.h"
#include "hijack/kernel_floor.h"
#include "hijack/syscall_event.h"
#include "hijack/syscall_set.h"

namespace hijack {

// A token bucket that a guest's agent can apply itself, inline, through the executive page
// (include/hijack/exec_page.h): the calls of `syscalls` share one budget of `rate` calls per
// second with bursts of `burst`, and over it they wait.
struct PageBucket {
  SyscallSet syscalls;
  uint64_t rate = 0;
  uint32_t burst = 1;
  bool operator==(const PageBucket&) const = default;
};

class PolicyModule {
 public:
  PolicyModule() = default;
  virtual ~PolicyModule() = default;
  PolicyModule(const PolicyModule&) = delete;
  PolicyModule& operator=(const PolicyModule&) = delete;

  // The module's registered name ("deny", "trace").
  virtual std::string_view Name() const = 0;

  // The calls the kernel filter must send to the supervisor for this module to work.
  virtual const SyscallSet& Syscalls() const = 0;

  // True when Decide() may change the outcome of a call. Calls needed by an enforcing module are
  // never exempted from the supervisor (see DESIGN.md, "The executive page and the agent").
  virtual bool Enforces() const = 0;

  // True when Decide() may answer with Decision::InjectFd, which only the notify backend can
  // apply; a policy with such a module is refused for other backends before it is installed.
  virtual bool NeedsFdInjection() const { return false; }

  // True when Observe() wants the arguments of call `nr` decoded (paths read from the guest,
  // flags made symbolic). Decoding reads guest memory on the synchronous path, so only ask for it
  // when the module uses it.
  virtual bool WantsArguments(int /*nr*/) const { return false; }
  // How many bytes of each data buffer (write(2)'s, read(2)'s) and string the decoded arguments
  // should show, when the module wants more than the decoder's default (256; strace's -s). The
  // policy decodes with the largest any module asks for, up to a cap (1 MiB); 0: the default.
  virtual size_t ShownBytes() const { return 0; }

  // Buckets that shape calls exactly as Decide() would, for calls Decide() has nothing else to
  // say about. When every enforcing module that needs a call can hand it over this way, a guest
  // with the agent may run that call without the supervisor and shape it in the page; the calls
  // that still reach the supervisor take their tokens from the same page bucket, so one limit
  // holds whichever way a call comes. Only agent-wrapped syscalls (exec_page::AgentIndex).
  virtual std::vector<PageBucket> PageBuckets() const { return {}; }
  // From now on the guest's page shapes `nrs` (whole buckets of PageBuckets()): Decide() must
  // leave those calls alone. Called before this module decides any call of a guest with a page.
  virtual void ShapeInPage(const SyscallSet& /*nrs*/) {}
  // True when Decide() of call `nr` may block for long (a round trip to another process, file
  // system work done for the guest). The supervisor then runs those decisions on its worker pool,
  // so the loop keeps deciding other guests' calls and the guest's other threads. Such a
  // Decide() may run on several workers at once, and at the same time as the loop runs the
  // module's other calls: it must be thread-safe, and any per-thread state it changes (fs uid,
  // setfsuid(2)) must be restored before it returns.
  virtual bool MayBlock(int /*nr*/) const { return false; }

  // Decides call `ev` or returns nullopt to leave it to the next module. A module that cannot
  // evaluate a deny rule (unreadable path) must deny: enforcement fails closed.
  virtual std::optional<Decision> Decide(const SyscallEvent& /*ev*/, GuestMemory& /*mem*/) {
    return std::nullopt;
  }
  // Decide() for a module that uses the call's decoded arguments: `args` are decoded once per
  // call for the whole policy (empty unless some module's WantsArguments(ev.nr)), and are the
  // same the trace, the stats and WatchEvents see in the Event. The engine calls this one; the
  // default ignores `args`.
  virtual std::optional<Decision> DecideDecoded(const SyscallEvent& ev, GuestMemory& mem,
                                                std::span<const DecodedArg> /*args*/) {
    return Decide(ev, mem);
  }

  // Judges the program image a guest process runs now: its execve(2) or execveat(2) (`exec`,
  // whose pid is the process and whose arguments are the call's) has replaced the image, and the
  // backend holds the process before the image's first instruction (ptrace(2),
  // PTRACE_EVENT_EXEC). What the kernel loaded is /proc/PID/exe, which no guest thread can change
  // any more (the old threads are gone), so this judgement has no race with the guest, unlike
  // Decide() of the call, which reads a path the kernel reads again. A Fail decision (with its
  // reason) has the backend kill the process with SIGKILL: the exec is past its point of no
  // return and cannot fail any more. Only backends that stop at exec ask (ptrace, ptrace-all).
  // Loop thread, for modules that return true from JudgesImages().
  virtual bool JudgesImages() const { return false; }
  virtual std::optional<Decision> JudgeImage(const SyscallEvent& /*exec*/, GuestMemory& /*mem*/) {
    return std::nullopt;
  }

  // For services that act on a guest's processes rather than on its calls (cpushare): guest
  // `guest_id`, whose first process is `pid` (a pid of hijackd's namespace), runs under this
  // module's policy from now on, after its launch or after SetPolicy installed the policy. The
  // module finds the rest of the tree itself (/proc/PID/task/TID/children, proc(5)). Loop thread;
  // must not block for long. Failures are the module's to report (its Stats() and the log).
  virtual void AttachGuest(uint64_t /*guest_id*/, pid_t /*pid*/) {}
  // The guest exited, or SetPolicy replaced this module's policy: undo what AttachGuest set up
  // (no process left stopped, no scheduling class or control group left behind). Called before
  // the next policy's modules attach. Loop thread.
  virtual void DetachGuest(uint64_t /*guest_id*/) {}

  // Sees every completed call of the syscalls it needs. Must not block for long: a slow
  // observer makes the bus drop events (counted), never the guest wait.
  virtual void Observe(const Event& /*event*/) {}
  // Sees the records that carry no call, in order with Observe, under the same rules: a signal
  // delivered to a guest thread (event.signal, on backends that see deliveries: ptrace), and the
  // end of a guest process other than the main one (event.exit_status), where the backend or
  // the kernel observer sees it.
  virtual void ObserveProcessEvent(const Event& /*event*/) {}
  // True when the module wants ObserveProcessEvent's ends of processes on notify, which costs the
  // supervisor the kernel's process observer (loaded once, tens of milliseconds: it parses the
  // kernel's BTF). Signals and the backends that see ends themselves need no such request.
  virtual bool WantsProcessEnds() const { return false; }

  // Capabilities of an observer, asked by the supervisor for calls a guest's agent makes from
  // its trampoline (DESIGN.md, "The executive page and the agent"):
  //
  // True when counts of a call (AddCounts) serve this module as well as an Event per call.
  // When every module that needs an exempt call accepts counts, the agent counts the call in the
  // guest and sends no event, at far lower cost.
  virtual bool AcceptsCounts() const { return false; }
  // True when the counts must carry latency; false when calls and errors are enough, which
  // spares the agent its clock reads. Asked only of modules that accept counts.
  virtual bool WantsLatency() const { return true; }
  // Calls of `nr` the agent made without an event since the last report: how many, how many
  // failed, their total latency, and a histogram whose bucket b counts latencies in
  // [2^b, 2^(b+1)) ns (the last bucket is open). Only timed calls have a latency: the
  // histogram's sum is how many of `calls` were timed, and `total_ns` is theirs. Only for
  // modules that accept counts; any thread.
  virtual void AddCounts(int /*nr*/, uint64_t /*calls*/, uint64_t /*errors*/,
                         uint64_t /*total_ns*/, std::span<const uint64_t> /*log2_histogram*/) {}

  // What of this module's rules the kernel can hold by itself (kernel_floor.h): the launcher
  // installs it as a Landlock ruleset before exec, and it must never be tighter than Decide().
  // Empty (the default): nothing, the module alone enforces. Asked once per policy, any thread.
  virtual KernelFloor Floor() const { return {}; }

  // Counters for GetStats and `hijackctl stats`, as a JSON object.
  virtual nlohmann::json Stats() const { return nlohmann::json::object(); }

  // Text printed when the guest ends (the `stats` table); empty for none.
  virtual std::string Report() const { return {}; }
};

}  // namespace hijack
