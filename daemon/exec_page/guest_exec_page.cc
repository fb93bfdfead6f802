#include "daemon/exec_page/guest_exec_page.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "common/monotonic.h"

namespace hijack::exec_page {

namespace {

uint64_t Rdtsc() {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t{hi} << 32) | lo;
}

struct ClockSample {
  int64_t mono_ns;
  uint64_t tsc;
};

ClockSample SampleClocks() {
  const int64_t mono = common::MonotonicNs();
  return {mono, Rdtsc()};
}

// The start of the calibration window, taken when the program starts (static initialization):
// by the time the first executive page is made (after the policy, the filter and the launch's
// set-up) the window has usually passed, so a short-lived hijackd does not spin for it.
const ClockSample g_calibration_start = SampleClocks();

// The window the calibration spans: long enough that a few hundred nanoseconds of jitter in
// either sample stay below 1e-4 of it.
constexpr int64_t kCalibrationWindowNs = 2'000'000;

// Nanoseconds per TSC tick in 32.32 fixed point, or 0 when CLOCK_MONOTONIC is not driven by an
// invariant TSC here (then the agent uses clock_gettime). Measured once per daemon, over at
// least kCalibrationWindowNs since the program started; only what is left of it is waited for.
uint64_t TscMultiplier() {
  static const uint64_t mult = [] {
    std::ifstream source("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    std::string name;
    if (!(source >> name) || name != "tsc") {
      return uint64_t{0};
    }
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string text((std::istreambuf_iterator<char>(cpuinfo)), std::istreambuf_iterator<char>());
    if (text.find(" constant_tsc") == std::string::npos ||
        text.find(" nonstop_tsc") == std::string::npos) {
      return uint64_t{0};
    }
    const ClockSample start = g_calibration_start;
    ClockSample end;
    do {
      end = SampleClocks();
    } while (end.mono_ns - start.mono_ns < kCalibrationWindowNs);
    if (end.tsc <= start.tsc) {
      return uint64_t{0};
    }
    return static_cast<uint64_t>(
        (static_cast<unsigned __int128>(end.mono_ns - start.mono_ns) << 32) /
        (end.tsc - start.tsc));
  }();
  return mult;
}

}  // namespace

Result<std::unique_ptr<GuestExecPage>> GuestExecPage::Create(uint64_t guest_id,
                                                             uint64_t trampoline) {
  UniqueFd fd(memfd_create(fmt::format("hijack-exec-page-{}", guest_id).c_str(), MFD_CLOEXEC));
  if (!fd.valid()) {
    return ErrnoError(errno, "memfd_create for the executive page of guest " +
                                 std::to_string(guest_id));
  }
  if (ftruncate(fd.get(), static_cast<off_t>(kExecPageSize)) != 0) {
    return ErrnoError(errno, "ftruncate of the executive page");
  }
  void* mem = mmap(nullptr, kExecPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (mem == MAP_FAILED) {
    return ErrnoError(errno, "mmap of the executive page");
  }
  // The memfd is zero-filled, which is every field's initial value (lock-free atomics of zero
  // included), and the agent maps it the same way. Constructing the objects would write every
  // byte and make the kernel allocate all of the page's memory instead of the slots in use.
  auto* page = static_cast<ExecPage*>(mem);
  page->magic = kExecPageMagic;
  page->abi_version = kExecPageAbiVersion;
  page->size = kExecPageSize;
  page->guest_id = guest_id;
  page->trampoline = trampoline;
  page->tsc_mult = TscMultiplier();
  if (page->tsc_mult != 0) {
    page->mono_ref_ns = common::MonotonicNs();
    page->tsc_ref = Rdtsc();
  }
  page->generation.store(1, std::memory_order_release);
  return std::unique_ptr<GuestExecPage>(new GuestExecPage(std::move(fd), page, trampoline));
}

uint64_t GuestExecPage::ChooseTrampoline() {
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
    r = static_cast<uint64_t>(getpid()) * 0x9e3779b97f4a7c15ULL;
  }
  constexpr uint64_t kLow = uint64_t{1} << 32;
  constexpr uint64_t kHigh = uint64_t{1} << 46;
  return (kLow + r % (kHigh - kLow)) & ~uint64_t{4095};
}

GuestExecPage::~GuestExecPage() { munmap(page_, kExecPageSize); }

std::string GuestExecPage::PageFdEnv() const {
  return fmt::format("{}={}", kPageFdEnv, fd_.get());
}

std::string GuestExecPage::TrampolineEnv() const {
  return fmt::format("{}={:#x}", kTrampolineEnv, trampoline_);
}

uint32_t GuestExecPage::ModeFor(int index) const {
  const int nr = kAgentSyscalls[index];
  if (!exempt_.Contains(nr)) {
    return kDirect;
  }
  uint32_t mode = kCount;
  if (events_.Contains(nr)) {
    mode |= kEvents | kTime;  // an event carries the call's start and end
  } else if (timed_.Contains(nr)) {
    mode |= kTime;
  }
  if (shaping_[BucketHolder(index)].rate != 0) {
    mode |= kShape;
  }
  return mode;
}

int GuestExecPage::BucketHolder(int index) const {
  const uint32_t ref = shaping_[index].bucket;
  return ref != 0 && ref <= static_cast<uint32_t>(kTableSize) ? static_cast<int>(ref - 1) : index;
}

void GuestExecPage::Configure(const SyscallSet& exempt, const SyscallSet& events,
                              const SyscallSet& timed) {
  exempt_ = SyscallSet();
  events_ = SyscallSet();
  timed_ = SyscallSet();
  for (int nr : kAgentSyscalls) {
    if (exempt.Contains(nr)) {
      exempt_.Add(nr);
    }
    if (events.Contains(nr)) {
      events_.Add(nr);
    }
    if (timed.Contains(nr)) {
      timed_.Add(nr);
    }
  }
  for (int i = 0; i < kAgentSyscallCount; ++i) {
    page_->table[i].mode.store(ModeFor(i), std::memory_order_relaxed);
  }
  page_->generation.fetch_add(1, std::memory_order_release);
}

bool GuestExecPage::Refresh(const SyscallSet& exempt, const SyscallSet& events,
                            const SyscallSet& timed) {
  SyscallSet still_exempt, new_events, new_timed;
  for (int nr : kAgentSyscalls) {
    if (exempt_.Contains(nr) && exempt.Contains(nr)) {
      still_exempt.Add(nr);  // never widened: the filter was fixed at launch
    }
    if (events.Contains(nr)) {
      new_events.Add(nr);
    }
    if (timed.Contains(nr)) {
      new_timed.Add(nr);
    }
  }
  if (still_exempt == exempt_ && new_events == events_ && new_timed == timed_) {
    return false;
  }
  exempt_ = still_exempt;
  events_ = new_events;
  timed_ = new_timed;
  for (int i = 0; i < kAgentSyscallCount; ++i) {
    page_->table[i].mode.store(ModeFor(i), std::memory_order_relaxed);
  }
  page_->generation.fetch_add(1, std::memory_order_release);
  return true;
}

Result<uint64_t> GuestExecPage::SetRate(int nr, uint64_t rate, uint32_t burst) {
  const int i = AgentIndex(nr);
  if (i < 0) {
    return std::unexpected(Error{EINVAL, fmt::format("syscall {} is not shaped through the "
                                                     "executive page",
                                                     nr)});
  }
  TableEntry& e = page_->table[i];
  shaping_[i].rate = rate;
  shaping_[i].burst = burst;
  e.burst.store(burst, std::memory_order_relaxed);
  e.rate.store(rate, std::memory_order_relaxed);
  // A slower rate left a backlog in the bucket; the new rate starts from now.
  e.tat_ns.store(0, std::memory_order_relaxed);
  e.mode.store(ModeFor(i), std::memory_order_relaxed);
  return page_->generation.fetch_add(1, std::memory_order_release) + 1;
}

void GuestExecPage::ApplyBuckets(const std::vector<PageBucket>& buckets) {
  struct Wanted {
    uint32_t bucket = 0;  // TableEntry::bucket
    uint64_t rate = 0;
    uint32_t burst = 0;
  };
  Wanted wanted[kTableSize] = {};
  for (const auto& b : buckets) {
    int holder = -1;
    for (int nr : b.syscalls.Numbers()) {
      const int i = AgentIndex(nr);
      if (i < 0) {
        continue;  // PolicyModule::PageBuckets names wrapped calls only
      }
      if (holder < 0) {
        holder = i;
        wanted[i] = {0, b.rate, b.burst};
      } else {
        wanted[i] = {BucketRef(holder), 0, 0};
      }
    }
  }
  // Compared with the daemon's own copy: the page's may have been rewritten by the guest.
  bool changed = false;
  for (int i = 0; i < kAgentSyscallCount; ++i) {
    TableEntry& e = page_->table[i];
    Shaping& own = shaping_[i];
    if (own.bucket != wanted[i].bucket) {
      own.bucket = wanted[i].bucket;
      e.bucket.store(wanted[i].bucket, std::memory_order_relaxed);
      changed = true;
    }
    if (own.rate != wanted[i].rate || own.burst != wanted[i].burst) {
      own.rate = wanted[i].rate;
      own.burst = wanted[i].burst;
      e.burst.store(wanted[i].burst, std::memory_order_relaxed);
      e.rate.store(wanted[i].rate, std::memory_order_relaxed);
      e.tat_ns.store(0, std::memory_order_relaxed);
      changed = true;
    }
  }
  if (!changed) {
    return;
  }
  for (int i = 0; i < kAgentSyscallCount; ++i) {
    page_->table[i].mode.store(ModeFor(i), std::memory_order_relaxed);
  }
  page_->generation.fetch_add(1, std::memory_order_release);
}

uint64_t GuestExecPage::MinSeenGeneration() const {
  uint64_t min = UINT64_MAX;
  for (const Slot& s : page_->slots) {
    if (s.owner.load(std::memory_order_acquire) != 0) {
      min = std::min(min, s.seen_generation.load(std::memory_order_relaxed));
    }
  }
  return min;
}

int64_t GuestExecPage::DebitSupervised(int nr, int64_t now_ns) {
  const int i = AgentIndex(nr);
  if (i < 0) {
    return 0;
  }
  page_->supervised_calls[i].fetch_add(1, std::memory_order_relaxed);
  // The daemon's own rate and burst, the page's token state clamped to what they allow: the
  // guest shares the bucket (so one limit holds on both paths) but cannot make the supervisor
  // hold a call for longer than kMaxShapeBacklog intervals.
  const int holder = BucketHolder(i);
  const Shaping& own = shaping_[holder];
  if (own.rate == 0) {
    return 0;
  }
  const int64_t interval = static_cast<int64_t>(1'000'000'000 / own.rate);
  const int64_t burst = own.burst == 0 ? 1 : static_cast<int64_t>(own.burst);
  // interval <= 1e9 and burst < 2^32, so these products fit; an hour bounds them further.
  constexpr int64_t kHourNs = int64_t{3600} * 1'000'000'000;
  const int64_t backlog = std::min(kHourNs, (kMaxShapeBacklog + burst) * interval);
  TableEntry& e = page_->table[holder];
  int64_t tat = e.tat_ns.load(std::memory_order_relaxed);
  int64_t next;
  do {
    const int64_t base = tat <= now_ns ? now_ns : tat - now_ns > backlog ? now_ns + backlog : tat;
    next = base + interval;
  } while (!e.tat_ns.compare_exchange_weak(tat, next, std::memory_order_acq_rel,
                                           std::memory_order_relaxed));
  const int64_t wait = next - now_ns - std::min(burst * interval, kHourNs);
  if (wait <= 0) {
    return 0;
  }
  e.shaped_wait_ns.fetch_add(static_cast<uint64_t>(wait), std::memory_order_relaxed);
  return std::min(wait, backlog + interval);
}

size_t GuestExecPage::Drain(const std::function<void(const RingEntry&)>& sink, size_t max_entries) {
  // Slots in turn, starting where the last drain stopped, each getting an equal share of the
  // budget first and the unused rest afterwards, so that one busy (or forged) ring neither takes
  // the whole budget nor is left behind for ever.
  size_t n = 0;
  const size_t share = std::max<size_t>(1, max_entries / kMaxSlots);
  for (int pass = 0; pass < 2 && n < max_entries; ++pass) {
    for (int k = 0; k < kMaxSlots && n < max_entries; ++k) {
      Slot& s = page_->slots[(drain_start_ + k) % kMaxSlots];
      const uint64_t head = s.head.load(std::memory_order_acquire);
      uint64_t tail = s.tail.load(std::memory_order_relaxed);
      if (head - tail > kRingEntries) {
        // Only a misbehaving guest writes this; never read past what the ring holds.
        tail = head - kRingEntries;
      }
      const size_t limit = pass == 0 ? std::min(share, max_entries - n) : max_entries - n;
      for (size_t taken = 0; tail != head && taken < limit; ++tail, ++taken) {
        // Copy before handing the slot back: the producer may reuse it after the tail store.
        RingEntry e = s.ring[tail & (kRingEntries - 1)];
        ++n;
        if (AgentIndex(e.nr) < 0) {
          ++bogus_;
          continue;
        }
        if (e.end_ns < e.start_ns) {
          e.end_ns = e.start_ns;
        }
        sink(e);
      }
      s.tail.store(tail, std::memory_order_release);
    }
  }
  drain_start_ = (drain_start_ + 1) % kMaxSlots;
  return n;
}

size_t GuestExecPage::ReclaimDeadSlots(int guest_proc) {
  size_t n = 0;
  for (Slot& s : page_->slots) {
    uint64_t owner = s.owner.load(std::memory_order_acquire);
    if (owner == 0) {
      continue;
    }
    const auto pid = static_cast<pid_t>(owner >> 32);
    const auto tid = static_cast<pid_t>(owner & 0xffffffff);
    // Ids <= 0 are a word no agent writes: the slot is freed as a dead owner's is. Otherwise
    // the probe is bounded (one per slot per reclaim tick), has no effect on any process (signal
    // 0, or an access(2) check), and for a guest in a pid namespace of its own it looks only in
    // that namespace's /proc, so an invented id can name nothing outside this guest.
    bool dead = false;
    if (pid <= 0 || tid <= 0) {
      dead = true;
    } else if (guest_proc >= 0) {
      char path[48];
      std::snprintf(path, sizeof path, "%d/task/%d", pid, tid);
      dead = faccessat(guest_proc, path, F_OK, 0) != 0 && errno == ENOENT;
    } else {
      dead = syscall(SYS_tgkill, pid, tid, 0) != 0 && errno == ESRCH;
    }
    if (dead && s.owner.compare_exchange_strong(owner, 0, std::memory_order_acq_rel)) {
      ++n;
    }
  }
  return n;
}

GuestExecPage::Counts GuestExecPage::AgentCounts(int nr) const {
  Counts c;
  const int i = AgentIndex(nr);
  if (i < 0) {
    return c;
  }
  auto add = [&](const std::atomic<uint64_t>* words) {
    const uint64_t evented = words[kEvented].load(std::memory_order_relaxed);
    c.evented += evented;
    c.calls += evented + words[kCalls].load(std::memory_order_relaxed);
    c.errors += words[kErrors].load(std::memory_order_relaxed);
    c.total_ns += words[kTotalNs].load(std::memory_order_relaxed);
    for (int b = 0; b < kHistogramBuckets; ++b) {
      const uint64_t n = words[kHistogram + b].load(std::memory_order_relaxed);
      c.histogram[b] += n;
      c.timed += n;
    }
  };
  for (const Slot& s : page_->slots) {
    add(s.counters[i]);
  }
  add(page_->shared_counters[i]);
  return c;
}

void GuestExecPage::CollectCountDeltas(
    const std::function<void(int nr, const Counts& delta)>& sink) {
  for (int i = 0; i < kAgentSyscallCount; ++i) {
    uint64_t now[kCounterWords] = {};
    for (const Slot& s : page_->slots) {
      for (int w = kCalls; w < kCounterWords; ++w) {
        now[w] += s.counters[i][w].load(std::memory_order_relaxed);
      }
    }
    for (int w = kCalls; w < kCounterWords; ++w) {
      now[w] += page_->shared_counters[i][w].load(std::memory_order_relaxed);
    }
    // Counters only grow; a total below the last one is the guest's writing, which adds nothing
    // (and the old total stays the mark, so rewriting a counter back up adds nothing either).
    bool changed = false;
    for (int w = kCalls; w < kCounterWords; ++w) {
      now[w] = std::max(now[w], collected_[i][w]);
      changed = changed || now[w] != collected_[i][w];
    }
    if (!changed) {
      continue;
    }
    // Each word only grows; words of one call may be seen in different collections (calls now,
    // its latency next time), which evens out.
    Counts d;
    d.calls = now[kCalls] - collected_[i][kCalls];
    d.errors = now[kErrors] - collected_[i][kErrors];
    d.total_ns = now[kTotalNs] - collected_[i][kTotalNs];
    for (int b = 0; b < kHistogramBuckets; ++b) {
      d.histogram[b] = now[kHistogram + b] - collected_[i][kHistogram + b];
      d.timed += d.histogram[b];
    }
    for (int w = kCalls; w < kCounterWords; ++w) {
      collected_[i][w] = now[w];
    }
    sink(kAgentSyscalls[i], d);
  }
}

uint64_t GuestExecPage::AgentCalls() const {
  uint64_t total = 0;
  for (int i = 0; i < kAgentSyscallCount; ++i) {
    total += AgentCounts(kAgentSyscalls[i]).calls;
  }
  return total;
}

uint64_t GuestExecPage::SupervisedCalls(int nr) const {
  const int i = AgentIndex(nr);
  return i < 0 ? 0 : page_->supervised_calls[i].load(std::memory_order_relaxed);
}

uint64_t GuestExecPage::DroppedEvents() const {
  uint64_t total = 0;
  for (const Slot& s : page_->slots) {
    total += s.dropped.load(std::memory_order_relaxed);
  }
  return total;
}

uint64_t GuestExecPage::OverflowCalls() const {
  uint64_t total = 0;
  for (const Slot& s : page_->slots) {
    total += s.overflowed.load(std::memory_order_relaxed);
  }
  return total;
}

uint64_t GuestExecPage::ContendedCalls() const {
  return page_->contended_calls.load(std::memory_order_relaxed);
}

uint64_t GuestExecPage::SlotlessCalls() const {
  return page_->slotless_calls.load(std::memory_order_relaxed);
}

}  // namespace hijack::exec_page
