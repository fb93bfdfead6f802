// libFuzzer target: the daemon's reader of the executive page (daemon/exec_page/guest_exec_page.h)
// against a page the guest has written at will.
//
//   build/fuzz/tests/fuzz/exec_page_fuzzer -max_total_time=30 tests/fuzz/corpus/exec_page
//
// The input is a list of writes, each `offset:u32 length:u8 bytes...`, applied to a fresh page
// (offsets wrap modulo the page's size, so every field is reachable: header, table, counters,
// ring positions, ring entries, owners, the writer words). Then the daemon does what its drain
// timer and the supervised path do: drain, collect counter deltas, debit supervised calls,
// reclaim slots, read the reports. The target checks the promises the header makes: a drain
// reads at most its budget and passes on only wrapped calls with end >= start; a supervised call
// is held at most kMaxShapeBacklog + 1 intervals of the daemon's own rate; nothing crashes,
// reads out of bounds, or grows.
#include <sys/syscall.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "daemon/exec_page/guest_exec_page.h"
#include "hijack/exec_page.h"

namespace {

using hijack::exec_page::ExecPage;
using hijack::exec_page::GuestExecPage;
using hijack::exec_page::kExecPageSize;
using hijack::exec_page::RingEntry;

constexpr uint64_t kRate = 1000;  // what the "policy" sets for write: 1 ms intervals
constexpr uint32_t kBurst = 8;

void Check(bool ok, const char* what) {
  if (!ok) {
    __builtin_printf("exec_page_fuzzer: violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto page = GuestExecPage::Create(1, GuestExecPage::ChooseTrampoline());
  if (!page) {
    return 0;
  }
  GuestExecPage& p = **page;
  const uint64_t trampoline = p.trampoline();
  hijack::SyscallSet exempt;
  for (int nr : hijack::exec_page::kAgentSyscalls) {
    exempt.Add(nr);
  }
  p.Configure(exempt, exempt, exempt);
  Check(p.SetRate(SYS_write, kRate, kBurst).has_value(), "SetRate");

  auto* bytes = reinterpret_cast<unsigned char*>(&p.page());
  for (size_t i = 0; i + 5 <= size;) {
    uint32_t offset;
    std::memcpy(&offset, data + i, 4);
    const size_t len = data[i + 4];
    i += 5;
    const size_t n = len < size - i ? len : size - i;
    const size_t at = offset % kExecPageSize;
    const size_t fit = n < kExecPageSize - at ? n : kExecPageSize - at;
    std::memcpy(bytes + at, data + i, fit);
    i += n;

    // What one drain tick does, after every write, so that states between writes are seen too.
    size_t passed = 0;
    const size_t read = p.Drain(
        [&](const RingEntry& e) {
          ++passed;
          Check(hijack::exec_page::AgentIndex(e.nr) >= 0, "a drained entry is a wrapped call");
          Check(e.end_ns >= e.start_ns, "a drained entry ends after it starts");
        },
        GuestExecPage::kDrainBudget);
    Check(read <= GuestExecPage::kDrainBudget, "a drain reads at most its budget");
    Check(passed <= read, "only entries read are passed on");
    p.CollectCountDeltas([](int nr, const GuestExecPage::Counts&) {
      Check(hijack::exec_page::AgentIndex(nr) >= 0, "deltas name wrapped calls");
    });
    const int64_t wait = p.DebitSupervised(SYS_write, 1'000'000'000);
    const int64_t interval = 1'000'000'000 / kRate;
    Check(wait >= 0 && wait <= (GuestExecPage::kMaxShapeBacklog + kBurst + 1) * interval,
          "a supervised call waits at most the bounded backlog");
    Check(p.DebitSupervised(SYS_getpid, 0) == 0, "an unwrapped call is never held");
    Check(p.trampoline() == trampoline, "the trampoline is the daemon's, not the page's");
  }
  p.ReclaimDeadSlots();
  (void)p.AgentCalls();
  (void)p.DroppedEvents();
  (void)p.OverflowCalls();
  (void)p.SlotlessCalls();
  (void)p.ContendedCalls();
  (void)p.MinSeenGeneration();
  return 0;
}
