// FakeSyscallHandler: a SyscallHandler (and ExecPageClient) for tests that drive a backend
// directly, deciding calls with a function and recording what the backend reported.
//
//   FakeSyscallHandler h([](const SyscallEvent& ev, GuestMemory&) {
//     return ev.nr == SYS_mkdir ? Decision::Fail(EROFS) : Decision::Continue();
//   });
//   backend->Launch(spec, h);
//   while (!h.exit_status && loop.run_one() > 0) {}
//   EXPECT_EQ(h.Calls(SYS_mkdir).size(), 1u);
//
// Its executive-page side lets the agent run every call (Exemptible) and records what the
// backend committed and counted; `exempt_none`, `want_events` and `want_latency` change that.
// With `keep_completed` false it keeps no events (for guests that make very many calls), and
// `on_completed` sees each one either way. Calls for which `defer_if` says true are taken over
// (CallDeferral::Defer) and kept in `deferred`, with their record, for the test to answer later;
// `on_deferred` sees each as it arrives. Loop thread only, like the interfaces.
//
//   h.defer_if = [](const SyscallEvent& ev) { return ev.nr == SYS_getppid; };
//   ... h.deferred[0].answer->Answer(Decision::Fail(EPERM), std::move(h.deferred[0].record));
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "hijack/backend.h"
#include "hijack/exec_page_client.h"

namespace hijack::testing {

class FakeSyscallHandler final : public SyscallHandler, public ExecPageClient {
 public:
  using DecideFn = std::function<Decision(const SyscallEvent&, GuestMemory&)>;

  // Without `decide` every call continues.
  explicit FakeSyscallHandler(DecideFn decide = {}, bool wants_result = true)
      : decide_(std::move(decide)), wants_result_(wants_result) {}

  // ---- SyscallHandler ----
  std::optional<Decision> OnSyscall(const SyscallEvent& call, GuestMemory& mem, Event& record,
                                    CallDeferral& deferral) override {
    if (defer_if && defer_if(call)) {
      if (std::shared_ptr<DeferredAnswer> answer = deferral.Defer()) {
        deferred.push_back({std::move(answer), std::move(record)});
        if (on_deferred) {
          on_deferred(deferred.back());
        }
        return std::nullopt;
      }
    }
    record.decision = decide_ ? decide_(call, mem) : Decision::Continue();
    return record.decision;
  }
  bool WantsResult(int) const override { return wants_result_; }
  void OnCompleted(Event&& record) override {
    ++completed_count;
    if (on_completed) {
      on_completed(record);
    }
    if (keep_completed) {
      completed.push_back(std::move(record));
    }
  }
  void OnGuestExit(int status) override { exit_status = status; }
  ExecPageClient* exec_page_client() override { return this; }

  // ---- ExecPageClient ----
  bool Exemptible(int) const override { return !exempt_none; }
  bool WantsEvents(int) const override { return want_events; }
  bool WantsLatency(int) const override { return want_latency; }
  uint64_t PolicyVersion() const override { return policy_version; }
  void CommitExempt(const SyscallSet& exempt) override { committed_exempt.AddAll(exempt); }
  PageShaping CommitPageShaping() override {
    ++page_shaping_commits;
    return {policy_version, {}};
  }
  void OnAgentCounts(int nr, uint64_t calls, uint64_t, uint64_t,
                     std::span<const uint64_t> log2_histogram) override {
    counted[nr] += calls;
    for (uint64_t n : log2_histogram) {
      timed[nr] += n;
    }
  }

  // The completed calls of `nr` (keep_completed only), in order.
  std::vector<Event> Calls(int nr) const {
    std::vector<Event> out;
    for (const auto& e : completed) {
      if (e.call.nr == nr) {
        out.push_back(e);
      }
    }
    return out;
  }

  struct Deferred {
    std::shared_ptr<DeferredAnswer> answer;
    Event record;
  };

  // What the test sets.
  std::function<bool(const SyscallEvent&)> defer_if;
  std::function<void(Deferred&)> on_deferred;
  bool keep_completed = true;
  std::function<void(const Event&)> on_completed;
  bool exempt_none = false;
  bool want_events = true;
  bool want_latency = true;
  uint64_t policy_version = 0;

  // What the backend reported.
  std::vector<Deferred> deferred;  // taken over by defer_if, answered or not
  std::vector<Event> completed;
  uint64_t completed_count = 0;
  std::optional<int> exit_status;
  SyscallSet committed_exempt;
  uint64_t page_shaping_commits = 0;
  std::map<int, uint64_t> counted;  // calls the agent counted without events, per syscall
  std::map<int, uint64_t> timed;    // of those, the ones in the latency histogram

 private:
  DecideFn decide_;
  bool wants_result_;
};

}  // namespace hijack::testing
