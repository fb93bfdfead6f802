// The daemon's side of the executive page (daemon/exec_page/guest_exec_page.h): header, table,
// token bucket, ring draining and slot reclaiming, with the test playing the agent.
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/exec_page/guest_exec_page.h"

namespace hijack::exec_page {
namespace {

std::unique_ptr<GuestExecPage> NewPage() {
  auto page = GuestExecPage::Create(3, 0x123456000);
  EXPECT_TRUE(page) << page.error().message;
  return std::move(*page);
}

TEST(ExecPageTest, HeaderDescribesTheLayout) {
  auto page = NewPage();
  const ExecPage& p = page->page();
  EXPECT_EQ(p.magic, kExecPageMagic);
  EXPECT_EQ(p.abi_version, kExecPageAbiVersion);
  EXPECT_EQ(p.size, kExecPageSize);
  EXPECT_EQ(p.guest_id, 3u);
  EXPECT_EQ(page->trampoline_syscall_ip(), 0x123456000u + kTrampolineSyscallEnd);
  EXPECT_EQ(page->PageFdEnv(), "HIJACK_EXEC_PAGE_FD=" + std::to_string(page->fd()));
  EXPECT_EQ(page->TrampolineEnv(), "HIJACK_TRAMPOLINE=0x123456000");
  EXPECT_EQ(fcntl(page->fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST(ExecPageTest, ChosenTrampolinesArePageAlignedAndLow) {
  for (int i = 0; i < 100; ++i) {
    uint64_t t = GuestExecPage::ChooseTrampoline();
    EXPECT_EQ(t % 4096, 0u);
    EXPECT_GE(t, uint64_t{1} << 32);
    EXPECT_LT(t, uint64_t{1} << 46);
  }
}

TEST(ExecPageTest, ConfigureObservesOnlyExemptCallsAndRatesBumpTheGeneration) {
  auto page = NewPage();
  SyscallSet exempt;
  exempt.Add(SYS_write);
  page->Configure(exempt, exempt, SyscallSet());
  ExecPage& p = page->page();
  // Events carry start and end: an evented call is timed even when nobody asked for latency.
  EXPECT_EQ(p.table[AgentIndex(SYS_write)].mode.load(), kCount | kEvents | kTime);
  EXPECT_EQ(p.table[AgentIndex(SYS_read)].mode.load(), kDirect);
  const uint64_t gen = page->generation();
  auto g = page->SetRate(SYS_write, 1000, 4);
  ASSERT_TRUE(g);
  EXPECT_EQ(*g, gen + 1);
  EXPECT_EQ(p.table[AgentIndex(SYS_write)].mode.load(), kCount | kEvents | kTime | kShape);
  // A call that is not exempt is shaped by the supervisor only: its mode stays direct.
  ASSERT_TRUE(page->SetRate(SYS_read, 1000, 4));
  EXPECT_EQ(p.table[AgentIndex(SYS_read)].mode.load(), kDirect);
  ASSERT_TRUE(page->SetRate(SYS_write, 0, 0));
  EXPECT_EQ(p.table[AgentIndex(SYS_write)].mode.load(), kCount | kEvents | kTime);
  EXPECT_FALSE(page->SetRate(SYS_getuid, 10, 1));
}

TEST(ExecPageTest, TokenBucketAllowsTheBurstThenSpacesCalls) {
  TableEntry e{};
  e.rate.store(1000);  // one call per millisecond
  e.burst.store(2);
  const int64_t now = 5'000'000'000;
  EXPECT_EQ(TakeToken(e, now), 0);
  EXPECT_EQ(TakeToken(e, now), 0);
  EXPECT_EQ(TakeToken(e, now), 1'000'000);
  EXPECT_EQ(TakeToken(e, now), 2'000'000);
  // Time passing refills: 10 ms later the bucket is full again.
  EXPECT_EQ(TakeToken(e, now + 10'000'000), 0);
  EXPECT_EQ(e.shaped_wait_ns.load(), 3'000'000u);
}

TEST(ExecPageTest, SupervisedCallsAreCountedAndShapedByTheSameBucket) {
  auto page = NewPage();
  ASSERT_TRUE(page->SetRate(SYS_sendto, 1000, 1));
  const int64_t now = 1'000'000'000;
  EXPECT_EQ(page->DebitSupervised(SYS_sendto, now), 0);
  EXPECT_EQ(page->DebitSupervised(SYS_sendto, now), 1'000'000);
  // The agent's next call pays for the supervisor's two.
  EXPECT_EQ(TakeToken(page->page().table[AgentIndex(SYS_sendto)], now), 2'000'000);
  EXPECT_EQ(page->SupervisedCalls(SYS_sendto), 2u);
  EXPECT_EQ(page->DebitSupervised(SYS_getpid, now), 0);
}

TEST(ExecPageTest, EachEntryIsItsOwnBucketUntilTheDaemonNamesAnother) {
  auto page = NewPage();
  ExecPage& p = page->page();
  for (int i = 0; i < kTableSize; ++i) {
    EXPECT_EQ(p.table[i].bucket.load(), 0u);  // the zero-filled page
    EXPECT_EQ(&BucketOf(p, i), &p.table[i]);
  }
  const int sendto = AgentIndex(SYS_sendto);
  const int sendmsg = AgentIndex(SYS_sendmsg);
  p.table[sendmsg].bucket.store(BucketRef(sendto));
  EXPECT_EQ(&BucketOf(p, sendmsg), &p.table[sendto]);
  EXPECT_EQ(&BucketOf(p, sendto), &p.table[sendto]);
  // Naming itself is the same as 0.
  p.table[sendto].bucket.store(BucketRef(sendto));
  EXPECT_EQ(&BucketOf(p, sendto), &p.table[sendto]);
}

TEST(ExecPageTest, ABucketIsFollowedOneLevelAndNeverOutsideTheTable) {
  auto page = NewPage();
  ExecPage& p = page->page();
  const int read = AgentIndex(SYS_read), write = AgentIndex(SYS_write);
  const int close = AgentIndex(SYS_close);
  p.table[read].bucket.store(BucketRef(write));
  p.table[write].bucket.store(BucketRef(close));
  EXPECT_EQ(&BucketOf(p, read), &p.table[write]);  // not close's: no chains
  // The guest can write its page: whatever it holds, the daemon stays inside the table.
  for (uint32_t bad : {uint32_t{kTableSize} + 1, uint32_t{1000}, UINT32_MAX}) {
    p.table[read].bucket.store(bad);
    EXPECT_EQ(&BucketOf(p, read), &p.table[read]) << bad;
  }
  p.table[read].bucket.store(BucketRef(kTableSize - 1));  // the last entry is a valid bucket
  EXPECT_EQ(&BucketOf(p, read), &p.table[kTableSize - 1]);
}

TEST(ExecPageTest, CallsSharingABucketDrawOnOneBudget) {
  auto page = NewPage();
  ExecPage& p = page->page();
  const int sendto = AgentIndex(SYS_sendto), sendmsg = AgentIndex(SYS_sendmsg);
  p.table[sendto].rate.store(1000);  // one call per millisecond, bursts of 2, for both
  p.table[sendto].burst.store(2);
  p.table[sendmsg].bucket.store(BucketRef(sendto));
  p.table[sendmsg].rate.store(1);  // the member's own token state is not used
  const int64_t now = 7'000'000'000;
  EXPECT_EQ(TakeToken(BucketOf(p, sendto), now), 0);
  EXPECT_EQ(TakeToken(BucketOf(p, sendmsg), now), 0);
  EXPECT_EQ(TakeToken(BucketOf(p, sendmsg), now), 1'000'000);
  EXPECT_EQ(TakeToken(BucketOf(p, sendto), now), 2'000'000);
  EXPECT_EQ(p.table[sendto].shaped_wait_ns.load(), 3'000'000u);
  EXPECT_EQ(p.table[sendmsg].shaped_wait_ns.load(), 0u);
  EXPECT_EQ(p.table[sendmsg].tat_ns.load(), 0);
}

TEST(ExecPageTest, DrainDeliversEventsInOrderAndFreesTheRing) {
  auto page = NewPage();
  Slot& s = page->page().slots[5];
  for (int round = 0; round < 3; ++round) {
    // More than one ring's worth over the rounds, so positions wrap.
    const int n = kRingEntries / 2 + 7;
    uint64_t head = s.head.load();
    for (int i = 0; i < n; ++i) {
      RingEntry& e = s.ring[(head + i) & (kRingEntries - 1)];
      e.nr = SYS_write;
      e.tid = 42;
      e.result = round * 100000 + i;
    }
    s.head.store(head + n, std::memory_order_release);
    std::vector<int64_t> seen;
    EXPECT_EQ(page->Drain([&](const RingEntry& e) { seen.push_back(e.result); }, kRingEntries),
              static_cast<size_t>(n));
    ASSERT_EQ(seen.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(seen[i], round * 100000 + i);
    }
    EXPECT_EQ(s.tail.load(), s.head.load());
  }
  EXPECT_EQ(page->Drain([](const RingEntry&) {}), 0u);
}

// ---- The page is the guest's to write: what the daemon reads back is bounded. ----

TEST(ExecPageTest, ADrainReadsAtMostItsBudgetAndEverySlotGetsAShare) {
  auto page = NewPage();
  ExecPage& p = page->page();
  // Every ring claims to hold far more than it can.
  for (Slot& s : p.slots) {
    s.head.store(s.tail.load() + (uint64_t{1} << 62), std::memory_order_release);
    for (RingEntry& e : s.ring) {
      e.nr = SYS_write;
    }
  }
  std::map<int32_t, size_t> per_tid;
  for (int i = 0; i < kMaxSlots; ++i) {
    for (RingEntry& e : p.slots[i].ring) {
      e.tid = i;
    }
  }
  const size_t n = page->Drain([&](const RingEntry& e) { ++per_tid[e.tid]; }, 640);
  EXPECT_EQ(n, 640u);
  ASSERT_EQ(per_tid.size(), static_cast<size_t>(kMaxSlots));
  for (const auto& [tid, count] : per_tid) {
    EXPECT_EQ(count, 10u) << "slot " << tid;
  }
  // A ring never yields more than it holds, however far its head claims to be.
  size_t total = 0;
  for (int round = 0; round < 200 && page->Drain([](const RingEntry&) {}, kRingEntries) > 0;
       ++round) {
    ++total;
  }
  EXPECT_LE(total, static_cast<size_t>(kMaxSlots) + 1);
}

TEST(ExecPageTest, EntriesNoAgentWritesAreSkippedAndTimesMadeSane) {
  auto page = NewPage();
  Slot& s = page->page().slots[0];
  s.ring[0] = RingEntry{SYS_write, 1, 1, 0, 100, 50, 0, {}};  // ends before it starts
  s.ring[1] = RingEntry{9999, 1, 1, 0, 0, 0, 0, {}};          // no wrapped call has this number
  s.ring[2] = RingEntry{-1, 1, 1, 0, 0, 0, 0, {}};
  s.head.store(3, std::memory_order_release);
  std::vector<RingEntry> seen;
  EXPECT_EQ(page->Drain([&](const RingEntry& e) { seen.push_back(e); }), 3u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].end_ns, seen[0].start_ns);
  EXPECT_EQ(page->BogusEntries(), 2u);
}

TEST(ExecPageTest, CountersThatGoBackwardsAddNothing) {
  auto page = NewPage();
  auto& calls = page->page().slots[1].counters[AgentIndex(SYS_read)][kCalls];
  calls.store(100);
  uint64_t added = 0;
  auto collect = [&] {
    page->CollectCountDeltas([&](int nr, const GuestExecPage::Counts& d) {
      if (nr == SYS_read) {
        added += d.calls;
      }
    });
  };
  collect();
  EXPECT_EQ(added, 100u);
  calls.store(3);  // the guest rewrites its counter
  collect();
  EXPECT_EQ(added, 100u);
  calls.store(100);  // and back: nothing new either
  collect();
  EXPECT_EQ(added, 100u);
  calls.store(101);
  collect();
  EXPECT_EQ(added, 101u);
}

TEST(ExecPageTest, SupervisedCallsWaitByTheDaemonsRateWhateverThePageSays) {
  auto page = NewPage();
  SyscallSet exempt;
  exempt.Add(SYS_write);
  page->Configure(exempt, SyscallSet(), SyscallSet());
  ASSERT_TRUE(page->SetRate(SYS_write, 1000, 4));
  TableEntry& e = page->page().table[AgentIndex(SYS_write)];
  // The guest pushes the bucket a few centuries ahead and makes its rate one call a second.
  e.tat_ns.store(INT64_MAX - 10);
  e.rate.store(1);
  e.burst.store(0);
  e.bucket.store(77);
  const int64_t now = 1'000'000'000;
  const int64_t wait = page->DebitSupervised(SYS_write, now);
  EXPECT_GT(wait, 0);
  EXPECT_LE(wait, (GuestExecPage::kMaxShapeBacklog + 1) * 1'000'000);
  // An unshaped call is never held, whatever its entry says.
  TableEntry& r = page->page().table[AgentIndex(SYS_read)];
  r.rate.store(1);
  r.tat_ns.store(INT64_MAX);
  EXPECT_EQ(page->DebitSupervised(SYS_read, now), 0);
}

TEST(ExecPageTest, TheTrampolineAndModesAreTheDaemonsOwn) {
  auto page = NewPage();
  page->page().trampoline = 0xdead000;
  EXPECT_EQ(page->trampoline(), 0x123456000u);
  EXPECT_EQ(page->trampoline_syscall_ip(), 0x123456000u + kTrampolineSyscallEnd);
  EXPECT_EQ(page->TrampolineEnv(), "HIJACK_TRAMPOLINE=0x123456000");
}

TEST(ExecPageTest, SlotsOfDeadThreadsAreReclaimedAndLiveOnesKept) {
  auto page = NewPage();
  pid_t child = fork();
  if (child == 0) {
    _exit(0);
  }
  ASSERT_GT(child, 0);
  waitpid(child, nullptr, 0);
  ExecPage& p = page->page();
  p.slots[0].owner.store((uint64_t(getpid()) << 32) | uint64_t(gettid()));
  p.slots[1].owner.store((uint64_t(child) << 32) | uint64_t(child));
  EXPECT_EQ(page->ReclaimDeadSlots(), 1u);
  EXPECT_NE(p.slots[0].owner.load(), 0u);
  EXPECT_EQ(p.slots[1].owner.load(), 0u);
}

TEST(ExecPageTest, CountersSumOverSlots) {
  auto page = NewPage();
  ExecPage& p = page->page();
  const int i = AgentIndex(SYS_read);
  p.slots[0].counters[i][kEvented].store(2);
  p.slots[0].counters[i][kCalls].store(3);
  p.slots[9].counters[i][kCalls].store(4);
  p.slots[9].counters[i][kErrors].store(1);
  p.slots[9].counters[i][kTotalNs].store(700);
  auto c = page->AgentCounts(SYS_read);
  EXPECT_EQ(c.calls, 9u);
  EXPECT_EQ(c.evented, 2u);
  EXPECT_EQ(c.errors, 1u);
  EXPECT_EQ(c.total_ns, 700u);
  EXPECT_EQ(page->AgentCalls(), 9u);
}

TEST(ExecPageTest, CountDeltasReportOnlyWhatIsNewAndOnlyCallsWithoutEvents) {
  auto page = NewPage();
  ExecPage& p = page->page();
  const int i = AgentIndex(SYS_write);
  auto collect = [&] {
    std::map<int, GuestExecPage::Counts> out;
    page->CollectCountDeltas([&](int nr, const GuestExecPage::Counts& d) { out[nr] = d; });
    return out;
  };
  p.slots[1].counters[i][kCalls].store(10);
  p.slots[1].counters[i][kEvented].store(99);  // delivered as events: not in the deltas
  p.slots[1].counters[i][kTotalNs].store(5000);
  p.slots[1].counters[i][kHistogram + HistogramBucket(500)].store(10);
  auto d = collect();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[SYS_write].calls, 10u);
  EXPECT_EQ(d[SYS_write].total_ns, 5000u);
  EXPECT_EQ(d[SYS_write].histogram[8], 10u);  // 500 ns is in [256, 512)
  EXPECT_EQ(d[SYS_write].timed, 10u);
  EXPECT_TRUE(collect().empty());
  p.slots[2].counters[i][kCalls].store(1);
  p.slots[2].counters[i][kErrors].store(1);
  d = collect();
  EXPECT_EQ(d[SYS_write].calls, 1u);
  EXPECT_EQ(d[SYS_write].errors, 1u);
  EXPECT_EQ(d[SYS_write].total_ns, 0u);
  EXPECT_EQ(d[SYS_write].timed, 0u);  // counted untimed: no latency to report
}

TEST(ExecPageTest, RefreshNeverWidensTheExemptionAndBumpsTheGeneration) {
  auto page = NewPage();
  SyscallSet exempt;
  exempt.Add(SYS_write);
  exempt.Add(SYS_read);
  SyscallSet timed;
  timed.Add(SYS_write);
  page->Configure(exempt, SyscallSet(), timed);
  ExecPage& p = page->page();
  EXPECT_EQ(p.table[AgentIndex(SYS_read)].mode.load(), kCount);
  EXPECT_EQ(p.table[AgentIndex(SYS_write)].mode.load(), kCount | kTime);
  const uint64_t gen = page->generation();
  EXPECT_FALSE(page->Refresh(exempt, SyscallSet(), timed));
  // Nobody wants write's latency any more: a change of its own.
  EXPECT_TRUE(page->Refresh(exempt, SyscallSet(), SyscallSet()));
  EXPECT_EQ(page->generation(), gen + 1);
  EXPECT_EQ(p.table[AgentIndex(SYS_write)].mode.load(), kCount);
  // A policy now decides read and traces write; close is asked for but was never exempt.
  SyscallSet now, events;
  now.Add(SYS_write);
  now.Add(SYS_close);
  events.Add(SYS_write);
  EXPECT_TRUE(page->Refresh(now, events, SyscallSet()));
  EXPECT_EQ(page->generation(), gen + 2);
  EXPECT_EQ(p.table[AgentIndex(SYS_read)].mode.load(), kDirect);
  EXPECT_EQ(p.table[AgentIndex(SYS_write)].mode.load(), kCount | kEvents | kTime);
  EXPECT_EQ(p.table[AgentIndex(SYS_close)].mode.load(), kDirect);
}

}  // namespace
}  // namespace hijack::exec_page
