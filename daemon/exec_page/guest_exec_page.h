// GuestExecPage: the daemon's side of one guest's executive page (include/hijack/exec_page.h).
//
//   auto page = GuestExecPage::Create(guest_id, GuestExecPage::ChooseTrampoline());
//   (*page)->Configure(exempt, evented, timed);      // before the guest starts
//   env.push_back((*page)->PageFdEnv());             // the launcher keeps fd() open in the guest
//   ...
//   (*page)->Drain([&](const RingEntry& e) { ... });  // loop thread, from a timer and at exit
//   (*page)->SetRate(SYS_write, 1000, 8);             // live: the guest sees it on its next call
//
// Owns the memfd (close-on-exec in the daemon; the launcher clears that flag in the guest only)
// and a MAP_SHARED mapping of it. Threads: Create/Configure before launch; Drain, DebitSupervised
// and ReclaimDeadSlots on the guest's loop thread (the page's single consumer); SetRate and the
// readers of counters on any thread (they touch only atomics).
//
// The guest can write every byte of the page at any time, so nothing read back from it is
// trusted: the modes, rates, bursts, bucket links and trampoline address the daemon acts on are
// its own copies; a drain reads at most `max_entries` ring entries (spread over the slots, so
// none starves) and passes on only entries of wrapped calls, with end >= start; counters that go
// backwards add nothing; the token bucket's state is clamped to what the daemon's own rate allows
// (a guest pushing it into the future delays its own supervised calls by at most
// kMaxShapeBacklog intervals); no id read from the page is looked up. The work per drain and the
// memory of this object are therefore bounded whatever the page holds (tests/fuzz/
// exec_page_fuzz.cc), and a scribbling guest spoils only its own counts and shaping.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "hijack/exec_page.h"
#include "hijack/policy.h"
#include "hijack/result.h"
#include "hijack/syscall_set.h"
#include "hijack/unique_fd.h"

namespace hijack::exec_page {

class GuestExecPage {
 public:
  // Creates and maps the memfd and writes the header. Errors: memfd_create, ftruncate, mmap.
  static Result<std::unique_ptr<GuestExecPage>> Create(uint64_t guest_id, uint64_t trampoline);
  // A random page-aligned address in [4 GiB, 64 TiB), below where the kernel places PIE
  // executables, libraries and stacks, so MAP_FIXED_NOREPLACE rarely meets a mapping.
  static uint64_t ChooseTrampoline();

  ~GuestExecPage();
  GuestExecPage(const GuestExecPage&) = delete;
  GuestExecPage& operator=(const GuestExecPage&) = delete;

  // Ring entries a periodic drain reads at most, over all slots (about 400k events/s per guest
  // at the backend's 5 ms tick; beyond that rings fill and calls go to the supervisor).
  static constexpr size_t kDrainBudget = 2048;
  // Calls that may wait for one bucket at once before the daemon stops believing the bucket's
  // backlog (TableEntry::tat_ns) and clamps it.
  static constexpr int64_t kMaxShapeBacklog = 1024;

  int fd() const { return fd_.get(); }
  uint64_t trampoline() const { return trampoline_; }
  // What seccomp_data.instruction_pointer is for a call made from the trampoline.
  uint64_t trampoline_syscall_ip() const { return trampoline_ + kTrampolineSyscallEnd; }
  ExecPage& page() { return *page_; }
  const ExecPage& page() const { return *page_; }
  // "HIJACK_EXEC_PAGE_FD=5", "HIJACK_TRAMPOLINE=0x..."
  std::string PageFdEnv() const;
  std::string TrampolineEnv() const;

  // Marks the agent's calls: those in `exempt` are counted in the guest (the filter must exempt
  // exactly these), those of them in `timed` timed as well (kTime: latency counters and
  // histogram), and those in `events` appended to the rings as events (always timed); every
  // other wrapped call is made directly (the supervisor sees it if it is intercepted). Before the
  // guest starts.
  void Configure(const SyscallSet& exempt, const SyscallSet& events, const SyscallSet& timed);
  // After a policy change: calls no longer in `exempt` go back to the supervisor (the filter
  // cannot change, so the agent stops using the trampoline for them), `events` and `timed` are
  // replaced. Returns true and bumps the generation when a mode changed. Loop thread.
  bool Refresh(const SyscallSet& exempt, const SyscallSet& events, const SyscallSet& timed);
  const SyscallSet& exempt() const { return exempt_; }

  // Shapes call `nr` to `rate` calls per second with bursts of `burst` (rate 0: unlimited), for
  // calls the agent makes and calls that reach the supervisor alike. Takes effect at the guest's
  // next call, with no system call; returns the new generation. EINVAL for a call the agent does
  // not wrap.
  Result<uint64_t> SetRate(int nr, uint64_t rate, uint32_t burst);
  // Makes the page's token buckets those of a policy (PolicyModule::PageBuckets): each bucket's
  // first wrapped syscall holds its token state and the others draw on it (TableEntry::bucket);
  // every other wrapped call is unshaped. An entry whose rate or burst changes starts from an
  // empty backlog. Bumps the generation when anything changed. Loop thread.
  //
  // Shaping in the page is cooperative: a guest that writes its own page, or jumps into the
  // trampoline, can exceed the rate. Limits that must hold against a hostile guest need the
  // calls on the supervisor's path (--intercept NAME, or --no-agent).
  void ApplyBuckets(const std::vector<PageBucket>& buckets);
  uint64_t generation() const { return page_->generation.load(std::memory_order_acquire); }
  // The lowest generation a live slot's last call ran under (UINT64_MAX when no slot is live).
  uint64_t MinSeenGeneration() const;

  // A call of `nr` arrived through the supervisor: counts it and takes its token. Returns how
  // long the supervisor must hold it (0 when not shaped). Loop thread.
  int64_t DebitSupervised(int nr, int64_t now_ns);

  // Hands the events the agent appended since the last drain to `sink`, oldest first per slot,
  // at most `max_entries` of them (the rest stay for the next drain; a ring longer than
  // kRingEntries is cut to its last kRingEntries). Entries that cannot be a wrapped call's are
  // not passed on (BogusEntries). Returns how many entries were read. Loop thread (single
  // consumer).
  size_t Drain(const std::function<void(const RingEntry&)>& sink,
               size_t max_entries = kDrainBudget);

  // Frees slots whose owning thread no longer exists (a process that exited or exec'd without
  // its threads releasing them). Returns how many. Loop thread. The agent names threads by the
  // ids the guest sees: for a guest in a pid namespace of its own (launcher/namespace_init.h),
  // `guest_proc` is a descriptor of that namespace's /proc, where they are looked up; -1: the
  // guest shares the supervisor's pid namespace (tgkill(2) with signal 0).
  size_t ReclaimDeadSlots(int guest_proc = -1);

  struct Counts {
    uint64_t calls = 0;     // every call the agent made (with or without an event)
    uint64_t evented = 0;   // of those, the ones delivered as events
    uint64_t errors = 0;    // failed calls among those not delivered as events
    // Of those not delivered as events, the ones the agent timed (kTime): the histogram's sum.
    // Untimed calls have no latency; total_ns and the histogram describe the timed ones only.
    uint64_t timed = 0;
    uint64_t total_ns = 0;  // the timed calls' total latency
    uint64_t histogram[kHistogramBuckets] = {};  // theirs, power-of-two buckets
  };
  // The agent's counters for `nr`, summed over slots: exact once the guest has stopped.
  Counts AgentCounts(int nr) const;
  // What the agent counted without events since the previous call, per wrapped syscall that
  // changed: what observers must add to the events they saw. Loop thread.
  void CollectCountDeltas(const std::function<void(int nr, const Counts& delta)>& sink);
  uint64_t AgentCalls() const;          // all wrapped calls the agent observed
  uint64_t SupervisedCalls(int nr) const;
  uint64_t DroppedEvents() const;       // ring full, summed over slots
  uint64_t SlotlessCalls() const;       // calls sent to the supervisor for want of a slot
  uint64_t OverflowCalls() const;       // calls sent to the supervisor because a ring was full
  uint64_t ContendedCalls() const;      // calls counted in shared_counters without their event
  uint64_t BogusEntries() const { return bogus_; }  // ring entries no agent writes, skipped

 private:
  GuestExecPage(UniqueFd fd, ExecPage* page, uint64_t trampoline)
      : fd_(std::move(fd)), trampoline_(trampoline), page_(page) {}

  UniqueFd fd_;
  uint32_t ModeFor(int index) const;
  // The index whose token state shapes table[index], by the daemon's own links.
  int BucketHolder(int index) const;
  // What the daemon wrote into table[i] (the page's copy is the guest's to change).
  struct Shaping {
    uint32_t bucket = 0;  // TableEntry::bucket
    uint64_t rate = 0;
    uint32_t burst = 0;
  };

  uint64_t trampoline_;
  Shaping shaping_[kTableSize] = {};
  uint64_t bogus_ = 0;
  int drain_start_ = 0;  // the slot the next drain starts with

  ExecPage* page_;
  SyscallSet exempt_;
  SyscallSet events_;
  SyscallSet timed_;
  uint64_t collected_[kTableSize][kCounterWords] = {};  // totals at the last CollectCountDeltas
};

}  // namespace hijack::exec_page
