// The executive page: memory that the daemon shares with one guest and its agent.
//
// The daemon creates one memfd per guest (daemon/exec_page/exec_page.h), lays this structure out
// in it, and leaves the fd open in the guest; libhijack-agent.so (agent/agent.cc) finds it through
// the environment and maps it MAP_SHARED. Both sides compile this header, so the layout holds no
// pointers, only fixed-size integers and lock-free atomics (address-free, so they work between
// processes), and every change to it bumps kExecPageAbiVersion: an agent that finds another
// version maps nothing and leaves every call to the supervisor.
//
//   // daemon                                            // agent, on each wrapped call
//   page->table[i].mode.store(kCount | kTime, relaxed);  if (mode & kCount) {
//   page->generation.fetch_add(1, release);                ... count, time, append event ...
//
// Writers and memory orders:
//   - header and `syscalls`: written by the daemon before the guest starts; read-only afterwards.
//   - `generation`: the daemon bumps it (release) after it changed table entries; an agent that
//     loads it (acquire) sees the entries written before. Each slot's `seen_generation` tells the
//     daemon which generation that thread's last call ran under.
//   - table entries (mode, rate, burst, bucket): daemon writes, relaxed, published by
//     `generation` (an agent loads `generation` before the entry it acts on). A thread acts on the
//     one `mode` word it loaded for the whole call, so a change of kTime between its load and its
//     counter updates never leaves half a timed call: the call is counted timed or untimed.
//     `tat_ns`: the token bucket (GCRA, see below), CAS by every guest thread and by the daemon
//     when a shaped call arrives through notify (acq_rel), so limits hold whichever way a call
//     came.
//   - a slot: claimed by one guest thread (CAS on `owner`, acquire), released at thread exit or by
//     a new image after exec (store 0, release), or by the daemon when its owner died. Its
//     counters and ring are written only under `writer` (exchange 1, acquire; store 0, release),
//     so they have one writer at a time even when several kernel threads reach the same slot (a
//     raw clone(CLONE_VM) shares its creator's TLS, a raw fork copies it): a thread that finds
//     the slot taken counts its call in `shared_counters` with atomic adds instead. Counters are
//     relaxed (exact once the writers have stopped); the ring is a single-consumer queue: the
//     agent stores `head` with release after writing the entry, the daemon loads it with acquire,
//     reads the entries and stores `tail` with release. Counters and ring positions are never
//     reset, so a slot passes from one thread to the next without losing anything.
//   - `supervised_calls`: the daemon's count of the same syscalls when they came through notify.
//
// The guest can write every byte of the page, so the daemon treats all of it as input from an
// adversary (daemon/exec_page/guest_exec_page.h): it keeps its own copy of what it wrote (modes,
// rates, the trampoline), reads at most a bounded number of ring entries per drain, accepts only
// entries of wrapped calls, clamps counters that go backwards, and never looks a page-supplied
// id up. A guest that scribbles on its page spoils only its own statistics and shaping.
#pragma once

#include <sys/syscall.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace hijack::exec_page {

inline constexpr uint32_t kExecPageMagic = 0x50454a48;  // "HJEP"
inline constexpr uint32_t kExecPageAbiVersion = 5;

// Environment variables through which the guest finds its page and trampoline.
inline constexpr char kPageFdEnv[] = "HIJACK_EXEC_PAGE_FD";      // decimal fd number
inline constexpr char kTrampolineEnv[] = "HIJACK_TRAMPOLINE";    // hex address, "0x..."
// The guest's own LD_PRELOAD, which the agent gives back to it (absent: the guest had none). The
// agent removes all three from the guest's environment at start (agent/agent.cc, "What the guest
// sees of the agent") and adds them again for the children it execs.
inline constexpr char kOrigPreloadEnv[] = "HIJACK_ORIG_LD_PRELOAD";
// Set (to anything) in the guest's own environment, the agent leaves its variables where they
// are and its exec wrappers pass environments on unchanged: for programs that call the
// trampoline themselves (tests, benchmarks) and for looking at what hijackd passes.
inline constexpr char kAgentVisibleEnv[] = "HIJACK_AGENT_VISIBLE";

// The syscalls the agent wraps, each with its dense index into the page's tables. Only these can
// be exempted from the supervisor (and only when no enforcing module needs them).
inline constexpr int kAgentSyscalls[] = {
    SYS_read,    SYS_write,    SYS_readv,          SYS_writev,     SYS_pread64,
    SYS_pwrite64, SYS_sendto,  SYS_sendmsg,        SYS_recvfrom,   SYS_recvmsg,
    SYS_accept,  SYS_accept4,  SYS_connect,        SYS_openat,     SYS_open,
    SYS_close,   SYS_epoll_wait, SYS_poll,         SYS_nanosleep,  SYS_clock_nanosleep,
    SYS_newfstatat, SYS_epoll_ctl, SYS_shutdown,   SYS_getsockopt, SYS_setsockopt,
    SYS_sendfile, SYS_alarm,   SYS_getpid,
};
inline constexpr int kAgentSyscallCount = sizeof kAgentSyscalls / sizeof kAgentSyscalls[0];
inline constexpr int kTableSize = 32;  // room for more wrapped calls without a new layout

// The dense index of `nr`, or -1 when the agent does not wrap it.
constexpr int AgentIndex(int nr) {
  for (int i = 0; i < kAgentSyscallCount; ++i) {
    if (kAgentSyscalls[i] == nr) {
      return i;
    }
  }
  return -1;
}

inline constexpr int kMaxSlots = 64;          // guest threads with their own ring at one time
inline constexpr uint32_t kRingEntries = 4096;  // per slot; a power of two
inline constexpr int kHistogramBuckets = 24;    // bucket b: [2^b, 2^(b+1)) ns; the last is open

// What the agent does with a wrapped call: table entry `mode`, a set of these bits. 0 (direct):
// the call is not exempt, or nobody watches it; the agent makes it from its own syscall
// instruction and the supervisor sees it if it is intercepted.
//
// kCount alone counts calls and failed calls only, with no clock read: the cheapest observed
// call, for observers that want counts (a stats module with "latency": false). kTime adds the
// call's latency (kTotalNs and the histogram, two TSC reads). kEvents implies timing, since an
// event carries start and end: the agent times every evented call whether or not kTime is set,
// and the daemon sets kTime with kEvents anyway. The same call may move between timed and
// untimed when the policy changes, so a slot's kCalls can exceed the histogram's sum: the
// histogram's sum is the number of timed calls, and latency statistics are over those only.
enum FastPath : uint32_t {
  kDirect = 0,
  kCount = 1u << 0,   // count it (calls, failed calls) in the slot, call through the trampoline
  kEvents = 1u << 1,  // also append an event (observers other than counters want each call)
  kShape = 1u << 2,   // wait for the token bucket first
  kTime = 1u << 3,    // time the call: latency counters and histogram (v3)
};

// Token bucket as a generic cell rate algorithm: one atomic "theoretical arrival time". A call at
// `now` takes tat' = max(tat, now) + 1e9/rate and must wait until tat' - burst * 1e9/rate.
// rate 0 means unlimited.
//
// Shared buckets: `bucket` names the entry whose token state (rate, burst, tat_ns,
// shaped_wait_ns) shapes this entry's calls, so that one budget can cover several calls (sendto
// and sendmsg sharing one rate). 0, the zero-filled page's value, is the entry itself; i + 1 is
// table[i] (BucketRef). One level only: the named entry's own `bucket` is not followed, and an
// index outside the table means the entry itself (BucketOf). `mode` stays per entry: every
// entry that draws on a bucket needs kShape in its own mode for the agent to take tokens.
struct alignas(64) TableEntry {
  std::atomic<uint32_t> mode;
  std::atomic<uint32_t> burst;       // calls allowed back to back
  std::atomic<uint64_t> rate;        // calls per second; 0: unlimited
  std::atomic<int64_t> tat_ns;       // CLOCK_MONOTONIC
  std::atomic<uint64_t> shaped_wait_ns;  // total time calls waited for the bucket (both sides)
  std::atomic<uint32_t> bucket;      // 0: this entry's own token state; i + 1: table[i]'s
};

// One observed call. Times are CLOCK_MONOTONIC nanoseconds. `pid` and `tid` are the calling
// thread's as the agent learned them when its thread claimed the slot (getpid, gettid: in the
// guest's PID namespace).
struct alignas(8) RingEntry {
  int32_t nr;
  int32_t tid;
  int32_t pid;
  int32_t reserved;
  int64_t start_ns;
  int64_t end_ns;
  int64_t result;  // the raw return value: -errno on failure
  uint64_t args[4];
};

// Indices into Slot::counters[table index][...]. A call is either delivered as an event (counted
// in kEvented only: the event carries its result and latency) or counted here (calls, failed
// calls and, when timed, total ns and histogram), never both, so the daemon can add the second
// kind to what observers saw through events without counting a call twice. An untimed call
// (kCount without kTime) adds to kCalls and kErrors only.
inline constexpr int kEvented = 0;
inline constexpr int kCalls = 1;
inline constexpr int kErrors = 2;
inline constexpr int kTotalNs = 3;
inline constexpr int kHistogram = 4;
inline constexpr int kCounterWords = kHistogram + kHistogramBuckets;

struct alignas(64) Slot {
  std::atomic<uint64_t> owner;  // (pid << 32) | tid of the owning thread; 0 when free
  std::atomic<uint32_t> writer;  // 1 while a thread writes counters or ring (v5)
  std::atomic<uint64_t> seen_generation;
  std::atomic<uint64_t> head;     // next entry the agent writes
  std::atomic<uint64_t> dropped;  // events not appended (the ring filled while the call ran);
                                  // those calls are in the counters instead
  std::atomic<uint64_t> overflowed;  // calls sent to the supervisor because the ring was full
  alignas(64) std::atomic<uint64_t> tail;  // next entry the daemon reads (own cache line)
  alignas(64) std::atomic<uint64_t> counters[kTableSize][kCounterWords];
  RingEntry ring[kRingEntries];
};

struct alignas(4096) ExecPage {
  uint32_t magic;
  uint32_t abi_version;
  uint64_t size;      // bytes of the whole mapping: sizeof(ExecPage)
  uint64_t guest_id;
  uint64_t trampoline;  // the address the agent maps its trampoline at
  // The agent times calls with rdtsc when the daemon found a constant, invariant TSC behind
  // CLOCK_MONOTONIC: ns = mono_ref_ns + ((tsc - tsc_ref) * tsc_mult) >> 32. 0: clock_gettime.
  uint64_t tsc_mult;
  uint64_t tsc_ref;
  int64_t mono_ref_ns;
  alignas(64) std::atomic<uint64_t> generation;
  std::atomic<uint64_t> slotless_calls;  // events lost because no slot was free (counted here)
  alignas(64) TableEntry table[kTableSize];
  alignas(64) std::atomic<uint64_t> supervised_calls[kTableSize];
  // Calls counted by a thread that found its slot's `writer` taken (v5): atomic adds, same words
  // as Slot::counters.
  alignas(64) std::atomic<uint64_t> shared_counters[kTableSize][kCounterWords];
  std::atomic<uint64_t> contended_calls;  // of those, the ones whose event was not appended
  Slot slots[kMaxSlots];
};

static_assert(std::atomic<uint64_t>::is_always_lock_free);
static_assert(std::atomic<int64_t>::is_always_lock_free);
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<uint64_t>) == 8);
static_assert(sizeof(RingEntry) == 72);
static_assert(kAgentSyscallCount <= kTableSize);
static_assert((kRingEntries & (kRingEntries - 1)) == 0);
inline constexpr size_t kExecPageSize = sizeof(ExecPage);

// The value of TableEntry::bucket that names table[index] as the bucket.
constexpr uint32_t BucketRef(int index) { return static_cast<uint32_t>(index) + 1; }

// The entry whose token state shapes calls of table[index] (TableEntry::bucket). Both sides may
// call it at any time; the guest can write its page, so the daemon gets an index inside the
// table whatever the page holds. `index` must be one (AgentIndex).
inline TableEntry& BucketOf(ExecPage& page, int index) {
  const uint32_t ref = page.table[index].bucket.load(std::memory_order_relaxed);
  return ref != 0 && ref <= static_cast<uint32_t>(kTableSize) ? page.table[ref - 1]
                                                               : page.table[index];
}

// Takes one token of `e` for a call at `now_ns`; returns how long the call must wait first (0
// when it may run now). Lock-free; any guest thread and the daemon may call it at once. `e` is
// the bucket: callers shaping a call of table[i] pass BucketOf(page, i).
inline int64_t TakeToken(TableEntry& e, int64_t now_ns) {
  const uint64_t rate = e.rate.load(std::memory_order_relaxed);
  if (rate == 0) {
    return 0;
  }
  const int64_t interval = static_cast<int64_t>(1'000'000'000 / rate);
  const uint32_t b = e.burst.load(std::memory_order_relaxed);
  const int64_t burst = b == 0 ? 1 : static_cast<int64_t>(b);
  int64_t tat = e.tat_ns.load(std::memory_order_relaxed);
  int64_t next;
  do {
    next = (tat > now_ns ? tat : now_ns) + interval;
  } while (!e.tat_ns.compare_exchange_weak(tat, next, std::memory_order_acq_rel,
                                           std::memory_order_relaxed));
  const int64_t wait = next - now_ns - burst * interval;
  if (wait <= 0) {
    return 0;
  }
  e.shaped_wait_ns.fetch_add(static_cast<uint64_t>(wait), std::memory_order_relaxed);
  return wait;
}

inline constexpr int HistogramBucket(uint64_t ns) {
  int b = ns == 0 ? 0 : 63 - __builtin_clzll(ns);
  return b < kHistogramBuckets ? b : kHistogramBuckets - 1;
}

// The trampoline: `long trampoline(long nr, long a0, ..., a5)` in the SysV calling convention.
// The agent copies these bytes to the daemon-chosen address; the kernel filter allows exempt
// syscalls only when seccomp_data.instruction_pointer is kTrampolineSyscallEnd past it (the
// instruction after `syscall`).
inline constexpr unsigned char kTrampolineCode[] = {
    0x48, 0x89, 0xf8,              // mov %rdi,%rax
    0x48, 0x89, 0xf7,              // mov %rsi,%rdi
    0x48, 0x89, 0xd6,              // mov %rdx,%rsi
    0x48, 0x89, 0xca,              // mov %rcx,%rdx
    0x4d, 0x89, 0xc2,              // mov %r8,%r10
    0x4d, 0x89, 0xc8,              // mov %r9,%r8
    0x4c, 0x8b, 0x4c, 0x24, 0x08,  // mov 0x8(%rsp),%r9
    0x0f, 0x05,                    // syscall
    0xc3,                          // ret
};
inline constexpr uint64_t kTrampolineSyscallEnd = 25;  // offset just past `syscall`
// A second entry, `syscall; ret`: for callers that load the system call registers themselves
// (rax = nr, rdi, rsi, rdx, r10, r8, r9) and `call` it, which skips the moves above. The
// instruction the kernel sees is the same, so the filter's exemption applies alike.
inline constexpr uint64_t kTrampolineSyscallEntry = kTrampolineSyscallEnd - 2;
static_assert(kTrampolineCode[kTrampolineSyscallEntry] == 0x0f &&
              kTrampolineCode[kTrampolineSyscallEntry + 1] == 0x05 &&
              kTrampolineCode[kTrampolineSyscallEntry + 2] == 0xc3);

}  // namespace hijack::exec_page
