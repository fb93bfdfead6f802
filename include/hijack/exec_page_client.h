// ExecPageClient: what a backend with an executive page (include/hijack/exec_page.h) asks of the
// supervisor side of one guest, and tells it. Optional: a SyscallHandler that has none
// (SyscallHandler::exec_page_client() returns null) gets a guest without the agent's fast path,
// every call through the supervisor.
//
//   if (ExecPageClient* client = handler.exec_page_client()) {
//     AgentModes modes = DeriveAgentModes(*client, candidates);  // pure queries
//     ... compile the filter with modes.exempt, start the guest ...
//     client->CommitExempt(modes.exempt);                        // once the guest runs
//     PageShaping shaping = client->CommitPageShaping();
//   }
//
// Queries have no side effects, so a launch that fails after asking them leaves the client as
// it was and the same client can serve a retry under another backend. What the backend made
// true is told through the explicit Commit* calls, after the guest started.
//
// Threads: every method runs on the supervisor's loop thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "hijack/policy.h"
#include "hijack/syscall_set.h"

namespace hijack {

// The buckets the page applies from now on, and the version of the policy they came from.
struct PageShaping {
  uint64_t policy_version = 0;
  std::vector<PageBucket> buckets;
};

class ExecPageClient {
 public:
  virtual ~ExecPageClient() = default;

  // ---- Queries: no side effects. ----

  // True when call `nr` may run without the supervisor when the in-guest agent makes it from its
  // trampoline (DESIGN.md, "The executive page and the agent"): only when nothing that must
  // decide the call, or read its arguments, needs it under the current policy.
  virtual bool Exemptible(int nr) const = 0;

  // True when observers want an Event for each exempt call `nr` the agent makes; false when
  // counts are enough (they then arrive through OnAgentCounts, at far lower cost).
  virtual bool WantsEvents(int nr) const = 0;

  // True when someone wants the latency of exempt calls `nr` the agent counts without an event;
  // false when calls and errors are enough, which spares the agent its clock reads. Calls with
  // events are timed either way.
  virtual bool WantsLatency(int nr) const = 0;

  // The version of the guest's current policy; the backend commits page shaping again when it
  // changes.
  virtual uint64_t PolicyVersion() const = 0;

  // ---- Commits: what the backend made true. ----

  // The guest's filter lets the trampoline run `exempt` without the supervisor, from now until
  // the guest ends (seccomp filters cannot be removed): no later policy may enforce these calls
  // or read their arguments. Every call in `exempt` was Exemptible when asked, and is still.
  virtual void CommitExempt(const SyscallSet& exempt) = 0;

  // The guest has an executive page: from now on its policy, and every later one, leaves the
  // calls of its page buckets (PolicyModule::PageBuckets) to the page, where the backend applies
  // them. Returns the buckets of the current policy and that policy's version; called again
  // after each policy change.
  virtual PageShaping CommitPageShaping() = 0;

  // ---- Reports. ----

  // Calls of `nr` the agent made without an event since the last report: how many, how many
  // failed, their total latency, and a histogram whose bucket b counts latencies in
  // [2^b, 2^(b+1)) ns (the last bucket is open). Only timed calls have a latency: the
  // histogram's sum is how many of `calls` were timed, and `total_ns` is theirs.
  virtual void OnAgentCounts(int nr, uint64_t calls, uint64_t errors, uint64_t total_ns,
                             std::span<const uint64_t> log2_histogram) = 0;
};

// The agent's mode for each call: run it unsupervised (exempt), and of those, send an event per
// call (events) and time the calls counted without one (timed).
struct AgentModes {
  SyscallSet exempt;
  SyscallSet events;
  SyscallSet timed;
};

// The modes of the calls of `candidates` that `client` finds Exemptible; the one place they are
// derived, at launch and after every policy change. Pure: asks queries only.
inline AgentModes DeriveAgentModes(const ExecPageClient& client, const SyscallSet& candidates) {
  AgentModes modes;
  for (int nr : candidates.Numbers()) {
    if (!client.Exemptible(nr)) {
      continue;
    }
    modes.exempt.Add(nr);
    if (client.WantsEvents(nr)) {
      modes.events.Add(nr);
    }
    if (client.WantsLatency(nr)) {
      modes.timed.Add(nr);
    }
  }
  return modes;
}

}  // namespace hijack
