// libhijack-agent.so: the in-guest half of the executive page (DESIGN.md, "The executive page
// and the agent").
//
//   HIJACK_EXEC_PAGE_FD=5 HIJACK_TRAMPOLINE=0x3a2f1c000 LD_PRELOAD=libhijack-agent.so ./server
//
// hijackd sets those variables; the agent maps the page and a one-function trampoline at the
// daemon's address, then interposes the hot libc entry points (and glibc's _FORTIFY_SOURCE
// variants of them, which fortified programs call instead). For a call the page marks as
// observed it counts the call in its thread's slot (and its latency, when the page asks for it:
// kTime), appends an event to the slot's ring, waits for the token bucket when the call is
// shaped, and makes the real call from the trampoline, the only place the kernel filter lets
// these calls run without the supervisor.
// Everything else (calls the page does not mark, calls made while the agent is not set up, calls
// of a thread without a slot, calls made re-entrantly from a signal handler inside the agent's
// bookkeeping) is made from an ordinary syscall instruction, so the filter sends it to the
// supervisor where it is intercepted: nothing is lost, only slower.
//
// At start the agent also takes its variables out of the guest's environment again, and its exec
// wrappers put them back for the children ("What the guest sees of the agent"); around the
// system call of a cancellation point it lets pthread_cancel(3) act ("pthread cancellation").
//
// Rules of this file (rr's syscallbuf says the same in its first comment): no exceptions, no
// RTTI, no allocation, no locks, and no libc function that could make a system call or re-enter
// a wrapper; real calls are raw system calls. Every wrapper is async-signal-safe and preserves
// errno on success. The exceptions are pthread_cancel and pthread_exit, neither
// async-signal-safe, whose first call loads the unwinder (dlopen) to register the trampoline's
// frame, and pthread_setcanceltype around cancellation points, which glibc itself uses there. Built with -fvisibility=hidden: only the wrappers are exported.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/single_threaded.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "hijack/exec_page.h"

namespace {

namespace ep = hijack::exec_page;

// A system call from the agent's own instruction: never exempt, so intercepted calls reach the
// supervisor.
inline long DirectSyscall(long nr, long a0 = 0, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0,
                          long a5 = 0) {
  long ret;
  register long r10 __asm__("r10") = a3;
  register long r8 __asm__("r8") = a4;
  register long r9 __asm__("r9") = a5;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

// What a wrapped call reads besides the page and its thread's state: one cache line, written by
// Setup before `page` is set and read-only afterwards.
struct alignas(64) Agent {
  ep::ExecPage* page;       // null: inert, every call is direct
  uintptr_t syscall_entry;  // the trampoline's `syscall; ret` (ep::kTrampolineSyscallEntry)
  // The page's TSC calibration: ns = mono_ref_ns + ((tsc - tsc_ref) * tsc_mult) >> 32.
  // tsc_mult 0: no usable TSC, stamps are clock_gettime nanoseconds.
  uint64_t tsc_mult;
  uint64_t tsc_ref;
  int64_t mono_ref_ns;
};
Agent g_agent = {};

pthread_key_t g_slot_key;
bool g_key_ok = false;

// Per thread, initial-exec TLS: no allocation, no lock, safe in signal handlers.
enum SlotState : int32_t {
  kUnclaimed = 0,  // no slot yet: the next observed call tries to claim one
  kClaimed = 1,
  kNoSlot = 2,  // the thread is exiting: its calls go to the supervisor
};
struct ThreadState {
  ep::Slot* slot;  // the claimed slot, or null
  int32_t state;   // SlotState
  int32_t tid;
  int32_t pid;
  // Set while the thread updates its slot; a signal handler's wrapped call meanwhile goes to the
  // supervisor instead of re-entering the single-producer slot.
  bool busy;
};
__thread ThreadState t_thread
    __attribute__((tls_model("initial-exec"))) = {nullptr, kUnclaimed, 0, 0, false};

// vfork(2) children share their parent's memory, TLS included, until they exec or exit, while
// the parent waits: the child starts with a state of its own (and claims its own slot), and the
// parent gets its state back when it resumes. Nested vforks keep a few levels.
constexpr int kMaxVforkDepth = 4;
__thread ThreadState t_vfork_saved[kMaxVforkDepth] __attribute__((tls_model("initial-exec")));
__thread int t_vfork_depth __attribute__((tls_model("initial-exec"))) = 0;

// A timestamp: TSC ticks when the daemon calibrated the TSC (rdtsc costs about half of the vDSO's
// clock_gettime and needs no scaling until the call is over), else CLOCK_MONOTONIC nanoseconds.
inline uint64_t Stamp() {
  if (__builtin_expect(g_agent.tsc_mult != 0, 1)) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t{hi} << 32) | lo;
  }
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // vDSO; async-signal-safe, no system call
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

// Nanoseconds between two stamps: one multiplication, so counters and histograms stay in the
// daemon's unit (exec_page.h) at the price of one instruction per call.
inline uint64_t ElapsedNs(uint64_t from, uint64_t to) {
  const uint64_t d = to > from ? to - from : 0;
  if (g_agent.tsc_mult == 0) {
    return d;
  }
  return static_cast<uint64_t>((static_cast<unsigned __int128>(d) * g_agent.tsc_mult) >> 32);
}

// A stamp on the daemon's CLOCK_MONOTONIC time line, so events from both sides share it.
inline int64_t MonotonicNs(uint64_t stamp) {
  if (g_agent.tsc_mult == 0) {
    return static_cast<int64_t>(stamp);
  }
  const unsigned __int128 scaled =
      static_cast<unsigned __int128>(stamp - g_agent.tsc_ref) * g_agent.tsc_mult;
  return g_agent.mono_ref_ns + static_cast<int64_t>(scaled >> 32);
}

// The real call, from the trampoline's `syscall` instruction: the one place the filter exempts.
// The arguments go straight into the system call registers and the trampoline's short entry is
// called, so nothing is moved twice. The call pushes its return address below %rsp: the agent is
// built with -mno-red-zone, so the compiler keeps nothing there, and %rsp is the same at every
// instruction of this sequence as the function's unwind table says (a cancelled thread unwinds
// through it, see "pthread cancellation").
inline long TrampolineSyscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
  long ret;
  register long r10 __asm__("r10") = a3;
  register long r8 __asm__("r8") = a4;
  register long r9 __asm__("r9") = a5;
  __asm__ volatile(
      "call *%[entry]"
      : "=a"(ret)
      : [entry] "r"(g_agent.syscall_entry), "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8),
        "r"(r9)
      : "rcx", "r11", "memory");
  return ret;
}

// ---- pthread cancellation ----
// A thread blocked in read(2) must be cancellable (pthreads(7), "Cancellation points"), but the
// agent makes the call itself, and glibc's way of making a call cancellable
// (__pthread_enable_asynccancel around it) is not exported. glibc 2.36's pthread_cancel sends
// SIGCANCEL only to a thread whose cancel type is asynchronous; its handler then unwinds the
// thread wherever it is (a deferred target is only marked, and acts at its next cancellation
// point). So around the system call of each cancellation point the agent switches the thread to
// the asynchronous type, as glibc does around its own, with the exported
// pthread_setcanceltype(3), and back to the type it had; a cancel that was already pending acts
// in the first switch. Only the system call instruction and its argument moves are in that
// window, never the agent's bookkeeping (a slot's writer lock must not die with its thread).
//
// A thread can be cancelled while it is blocked only by another thread, so a single-threaded
// process pays nothing: __libc_single_threaded (sys/single_threaded.h) is one byte that glibc
// clears when a second thread is created, and also when a thread cancels itself (so that its
// next cancellation point acts). A process with threads pays the two switches per call (bench/
// micro/agent_cancel_cost.cc measures them).
//
// The unwinder must get through the frames between the signal and the thread's start: the
// agent's own have unwind tables (-fasynchronous-unwind-tables), and the trampoline, code the
// agent wrote at run time, gets a frame description registered with the unwinder that glibc's
// cancellation uses (libgcc_s, __register_frame) before the first pthread_cancel or pthread_exit
// of the process: without it the unwinder would stop at the trampoline, and the destructors and
// cleanup handlers above it would not run.
constexpr bool IsCancellationPoint(long nr) {
  switch (nr) {
    case SYS_read: case SYS_write: case SYS_readv: case SYS_writev: case SYS_pread64:
    case SYS_pwrite64: case SYS_sendto: case SYS_sendmsg: case SYS_recvfrom: case SYS_recvmsg:
    case SYS_accept: case SYS_accept4: case SYS_connect: case SYS_openat: case SYS_open:
    case SYS_close: case SYS_epoll_wait: case SYS_poll: case SYS_nanosleep:
    case SYS_clock_nanosleep:
      return true;
    default:
      return false;
  }
}

// The type to give back after the call, or -1 when nothing was switched.
inline int EnterAsyncCancel() {
  if (__builtin_expect(__libc_single_threaded != 0, 1)) {
    return -1;
  }
  int old = PTHREAD_CANCEL_DEFERRED;
  pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
  return old;
}
inline void LeaveAsyncCancel(int old) {
  if (old == PTHREAD_CANCEL_DEFERRED) {
    int ignored;
    pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &ignored);
  }
}

// The real call of a wrapper: from the trampoline or from the agent's own instruction, inside
// the cancellation window when the call is a cancellation point.
inline long RealSyscall(bool trampoline, long nr, long a0, long a1, long a2, long a3, long a4,
                        long a5) {
  if (!IsCancellationPoint(nr)) {
    return trampoline ? TrampolineSyscall(nr, a0, a1, a2, a3, a4, a5)
                      : DirectSyscall(nr, a0, a1, a2, a3, a4, a5);
  }
  const int old = EnterAsyncCancel();
  const long ret = trampoline ? TrampolineSyscall(nr, a0, a1, a2, a3, a4, a5)
                              : DirectSyscall(nr, a0, a1, a2, a3, a4, a5);
  LeaveAsyncCancel(old);
  return ret;
}

inline uint64_t OwnerWord(long pid, long tid) {
  return (static_cast<uint64_t>(pid) << 32) | static_cast<uint32_t>(tid);
}

// The thread's first observed call (and every call of a thread that found no free slot).
__attribute__((noinline)) ep::Slot* ClaimSlot(ep::ExecPage* page) {
  ThreadState& t = t_thread;
  if (t.state == kNoSlot) {
    return nullptr;
  }
  t.busy = true;
  const long pid = DirectSyscall(SYS_getpid);
  const long tid = DirectSyscall(SYS_gettid);
  const uint64_t owner = OwnerWord(pid, tid);
  ep::Slot* claimed = nullptr;
  for (int i = 0; i < ep::kMaxSlots; ++i) {
    ep::Slot& s = page->slots[i];
    uint64_t expected = 0;
    if (s.owner.load(std::memory_order_relaxed) == 0 &&
        s.owner.compare_exchange_strong(expected, owner, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
      t.slot = claimed = &s;
      t.state = kClaimed;
      t.tid = static_cast<int>(tid);
      t.pid = static_cast<int>(pid);
      if (g_key_ok) {
        pthread_setspecific(g_slot_key, reinterpret_cast<void*>(static_cast<intptr_t>(i + 1)));
      }
      break;
    }
  }
  if (claimed == nullptr) {
    page->slotless_calls.fetch_add(1, std::memory_order_relaxed);
  }
  t.busy = false;
  return claimed;
}

// pthread key destructor: the thread is exiting, give its slot to the next thread.
void ReleaseSlot(void*) {
  ThreadState& t = t_thread;
  if (t.slot != nullptr) {
    t.slot->owner.store(0, std::memory_order_release);
  }
  t.slot = nullptr;
  t.state = kNoSlot;
}

// The process is exiting (exit(3) runs ELF destructors; key destructors run only for threads that
// end by pthread_exit): the calling thread's slot goes back now rather than when the supervisor
// next finds its owner dead, so a server that forks a short-lived child per connection does not
// run out of slots between the supervisor's searches. The slot's counters stay (they only grow,
// exec_page.h); the process's remaining calls go to the supervisor. Not in a vfork child that
// exits through exit(3) (undefined, but done): the slot is its parent's, which goes on using it.
__attribute__((destructor)) void ReleaseSlotAtExit() {
  if (t_vfork_depth == 0) {
    ReleaseSlot(nullptr);
  }
}

void AfterForkInChild() {
  // The child is a new process with one thread: it claims its own slot on its next call.
  t_thread = ThreadState{nullptr, kUnclaimed, 0, 0, false};
  t_vfork_depth = 0;
}

// Waits for the call's token (GCRA, see exec_page.h) from the bucket the entry names. The wait
// is a direct clock_nanosleep, so the supervisor sees it like any other call the guest makes.
void Shape(ep::ExecPage& page, int index) {
  const int64_t wait = ep::TakeToken(ep::BucketOf(page, index), MonotonicNs(Stamp()));
  if (wait <= 0) {
    return;
  }
  timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
  DirectSyscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, reinterpret_cast<long>(&ts), 0);
}

inline void Bump(std::atomic<uint64_t>& c, uint64_t by) {
  // Single writer (the slot's owner): a plain load and store, no locked instruction.
  c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

// A slot's counters and ring are written by one thread at a time (exec_page.h): usually its
// owner alone, but a raw clone(CLONE_VM) shares its creator's TLS and so its slot, and a raw
// fork copies the slot pointer into a child. One exchange per counted call keeps every such
// writer exact; the one that finds the slot taken (another thread, or this one in a signal
// handler) counts in the page's shared counters with atomic adds instead.
inline bool LockSlot(ep::Slot& s) { return s.writer.exchange(1, std::memory_order_acquire) == 0; }
inline void UnlockSlot(ep::Slot& s) { s.writer.store(0, std::memory_order_release); }

void CountShared(ep::ExecPage& page, int index, long ret, bool timed, uint64_t ns) {
  auto& c = page.shared_counters[index];
  c[ep::kCalls].fetch_add(1, std::memory_order_relaxed);
  if (ret < 0 && ret >= -4095) {
    c[ep::kErrors].fetch_add(1, std::memory_order_relaxed);
  }
  if (timed) {
    c[ep::kTotalNs].fetch_add(ns, std::memory_order_relaxed);
    c[ep::kHistogram + ep::HistogramBucket(ns)].fetch_add(1, std::memory_order_relaxed);
  }
}

inline bool RingFull(const ep::Slot& s) {
  return s.head.load(std::memory_order_relaxed) - s.tail.load(std::memory_order_acquire) >=
         ep::kRingEntries;
}

// Counts a call without an event: calls and errors. Under t_thread.busy.
inline void CountCall(ep::Slot& s, int index, long ret) {
  auto& c = s.counters[index];
  Bump(c[ep::kCalls], 1);
  if (__builtin_expect(ret < 0 && ret >= -4095, 0)) {
    Bump(c[ep::kErrors], 1);
  }
}

// A timed call without an event: calls, errors, latency, histogram. Under t_thread.busy.
inline void Count(ep::Slot& s, int index, long ret, uint64_t ns) {
  CountCall(s, index, ret);
  auto& c = s.counters[index];
  Bump(c[ep::kTotalNs], ns);
  Bump(c[ep::kHistogram + ep::HistogramBucket(ns)], 1);
}

// Appends the call's event, or counts it when the ring filled while it ran. Under busy.
void Append(ep::Slot& s, int index, long nr, long ret, uint64_t start, uint64_t end, long a0,
            long a1, long a2, long a3) {
  if (RingFull(s)) {
    Bump(s.dropped, 1);  // counted instead: no call is lost
    Count(s, index, ret, ElapsedNs(start, end));
    return;
  }
  const uint64_t head = s.head.load(std::memory_order_relaxed);
  ep::RingEntry& e = s.ring[head & (ep::kRingEntries - 1)];
  e.nr = static_cast<int32_t>(nr);
  e.tid = t_thread.tid;
  e.pid = t_thread.pid;
  e.reserved = 0;
  e.start_ns = MonotonicNs(start);
  e.end_ns = e.start_ns + static_cast<int64_t>(ElapsedNs(start, end));
  e.result = ret;
  e.args[0] = static_cast<uint64_t>(a0);
  e.args[1] = static_cast<uint64_t>(a1);
  e.args[2] = static_cast<uint64_t>(a2);
  e.args[3] = static_cast<uint64_t>(a3);
  s.head.store(head + 1, std::memory_order_release);
  Bump(s.counters[index][ep::kEvented], 1);
}

// A call that an observer wants as an event, or that is shaped: out of line, so the counting
// path that most calls take stays short.
__attribute__((noinline)) long CallWatched(ep::ExecPage& page, ep::Slot& slot, int index,
                                           uint32_t mode, long nr, long a0, long a1, long a2,
                                           long a3, long a4, long a5) {
  ThreadState& t = t_thread;
  const bool event = (mode & ep::kEvents) != 0;
  if (event && RingFull(slot)) {
    // The daemon has not drained this ring yet: rather than lose the event, let the supervisor
    // see the call (back-pressure: the thread runs at notify speed until the ring drains).
    slot.overflowed.fetch_add(1, std::memory_order_relaxed);
    return RealSyscall(false, nr, a0, a1, a2, a3, a4, a5);
  }
  if ((mode & ep::kShape) != 0) {
    Shape(page, index);
  }
  if (!event && (mode & ep::kTime) == 0) {
    const long ret = RealSyscall(true, nr, a0, a1, a2, a3, a4, a5);
    t.busy = true;
    if (LockSlot(slot)) {
      CountCall(slot, index, ret);
      UnlockSlot(slot);
    } else {
      CountShared(page, index, ret, false, 0);
    }
    t.busy = false;
    return ret;
  }
  const uint64_t start = Stamp();
  const long ret = RealSyscall(true, nr, a0, a1, a2, a3, a4, a5);
  const uint64_t end = Stamp();
  t.busy = true;
  if (LockSlot(slot)) {
    if (event) {
      Append(slot, index, nr, ret, start, end, a0, a1, a2, a3);
    } else {
      Count(slot, index, ret, ElapsedNs(start, end));
    }
    UnlockSlot(slot);
  } else {
    if (event) {
      page.contended_calls.fetch_add(1, std::memory_order_relaxed);
    }
    CountShared(page, index, ret, true, ElapsedNs(start, end));
  }
  t.busy = false;
  return ret;
}

// One wrapped call: the raw return value (-errno on failure). The common cases (counted, no
// event, not shaped) are inline in each wrapper: a few loads of lines this thread keeps in its
// cache, then either two TSC reads around the trampoline and four counter updates (kCount |
// kTime), or the trampoline alone and one or two counter updates (kCount). The timed case is
// tested first, so it pays no more compares than before untimed counting existed.
template <int kNr>
inline long Call(long a0 = 0, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0) {
  constexpr int kIndex = ep::AgentIndex(kNr);
  static_assert(kIndex >= 0, "the agent wraps only calls listed in kAgentSyscalls");
  ep::ExecPage* page = g_agent.page;
  ThreadState& t = t_thread;
  if (page == nullptr || t.busy) {
    return RealSyscall(false, kNr, a0, a1, a2, a3, a4, a5);
  }
  // Generation first (acquire): the entry read next is at least as new as what it records.
  const uint64_t generation = page->generation.load(std::memory_order_acquire);
  const uint32_t mode = page->table[kIndex].mode.load(std::memory_order_relaxed);
  if (mode == ep::kDirect) {
    return RealSyscall(false, kNr, a0, a1, a2, a3, a4, a5);
  }
  ep::Slot* slot = t.slot;
  if (__builtin_expect(slot == nullptr, 0) && (slot = ClaimSlot(page)) == nullptr) {
    return RealSyscall(false, kNr, a0, a1, a2, a3, a4, a5);
  }
  // Written only when it changes: the daemon reads this line, so keep it clean between changes.
  if (__builtin_expect(slot->seen_generation.load(std::memory_order_relaxed) != generation, 0)) {
    slot->seen_generation.store(generation, std::memory_order_relaxed);
  }
  if (mode == (ep::kCount | ep::kTime)) {
    const uint64_t start = Stamp();
    const long ret = RealSyscall(true, kNr, a0, a1, a2, a3, a4, a5);
    const uint64_t end = Stamp();
    t.busy = true;
    if (__builtin_expect(LockSlot(*slot), 1)) {
      Count(*slot, kIndex, ret, ElapsedNs(start, end));
      UnlockSlot(*slot);
    } else {
      CountShared(*page, kIndex, ret, true, ElapsedNs(start, end));
    }
    t.busy = false;
    return ret;
  }
  if (mode != ep::kCount) {
    return CallWatched(*page, *slot, kIndex, mode, kNr, a0, a1, a2, a3, a4, a5);
  }
  // Counts only: no clock is read, kTotalNs and the histogram stay as they are.
  const long ret = RealSyscall(true, kNr, a0, a1, a2, a3, a4, a5);
  t.busy = true;
  if (__builtin_expect(LockSlot(*slot), 1)) {
    CountCall(*slot, kIndex, ret);
    UnlockSlot(*slot);
  } else {
    CountShared(*page, kIndex, ret, false, 0);
  }
  t.busy = false;
  return ret;
}

// libc convention: -1 and errno on failure; errno untouched on success.
inline long Ret(long raw) {
  if (raw < 0 && raw >= -4095) {
    errno = static_cast<int>(-raw);
    return -1;
  }
  return raw;
}

inline long L(const void* p) { return reinterpret_cast<long>(p); }

// ---- EINTR where the kernel never gives it ----
// A call the filter sends to the supervisor waits in the kernel for the answer, and that wait is
// interruptible until the supervisor has received the notification (seccomp_unotify(2); with
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV only a fatal signal interrupts it afterwards). A signal
// then ends the wait with -ERESTARTSYS: the kernel restarts the call itself when the handler has
// SA_RESTART (or there is no handler), and fails it with EINTR when the handler lacks SA_RESTART
// (signal(7), "Interruption of system calls and library functions by signal handlers"). So no
// interposition of sigaction(2) is needed to know the handler: an EINTR that reaches a wrapper
// always comes from a handler without SA_RESTART, where the kernel would have failed a call that
// sleeps interruptibly (a read of a pipe, poll, nanosleep, accept, connect) with EINTR too. Those
// keep the kernel's answer. The calls signal(7) leaves off that list, and reads and writes of
// disk files, which "are not interruptible", never fail with EINTR natively: there an EINTR can
// only come from the notification wait, the interrupted call never ran (seccomp_unotify(2): the
// supervisor's answer to a notification whose caller was interrupted fails with ENOENT, and
// nothing of the call is done), and making it again is what the program would have seen. The
// checks below cost a system call on the EINTR path only.

// Retries a call that natively never fails with EINTR.
template <typename F>
inline long NoEintr(F call) {
  long ret;
  do {
    ret = call();
  } while (ret == -EINTR);
  return ret;
}

// The descriptor is a disk file or a directory (regular files and block devices are "not
// interruptible", signal(7)); a pipe, socket, terminal or other character device may sleep
// interruptibly and keeps the kernel's EINTR. A descriptor that cannot be examined is treated as
// slow: the caller's EINTR stands.
bool IsDiskFd(long fd) {
  struct stat st;
  const long ret = NoEintr(
      [&] { return DirectSyscall(SYS_newfstatat, fd, L(""), L(&st), AT_EMPTY_PATH); });
  return ret == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode));
}

// An open(2) may sleep interruptibly on a FIFO or a slow device (open(2), "EINTR"; a serial
// line waiting for carrier); the path is examined where the open would have ended. A path that
// does not exist or names a file, a directory, a block device, one of the memory devices
// (major 1: /dev/null, /dev/zero, /dev/urandom...), /dev/tty, /dev/console, /dev/ptmx or a
// pseudo-terminal opens without sleeping. O_NOFOLLOW and a dangling last link are followed the
// same way by the retried open, which then fails as natively.
bool OpenCannotSleep(long dirfd, const char* path) {
  struct stat st;
  const long ret =
      NoEintr([&] { return DirectSyscall(SYS_newfstatat, dirfd, L(path), L(&st), 0); });
  if (ret != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode)) {
    return true;
  }
  if (!S_ISCHR(st.st_mode)) {
    return false;  // a FIFO (or a socket, whose open fails by itself)
  }
  // devices.txt of the kernel: 1 memory devices, 5 alternate TTY devices, 136-143 Unix98 PTYs.
  const unsigned major = static_cast<unsigned>((st.st_rdev >> 8) & 0xfff);
  return major == 1 || major == 5 || (major >= 136 && major <= 143);
}

// A read or write of `fd` that failed with EINTR, made again when the descriptor is a disk file.
template <typename F>
inline long RetryOnDisk(long fd, F call) {
  long ret = call();
  while (ret == -EINTR && IsDiskFd(fd)) {
    ret = call();
  }
  return ret;
}

// close(2) natively frees the descriptor even when it fails with EINTR (a filesystem's flush was
// interrupted, "close(2), Dealing with error returns from close()"), and must then not be made
// again: another thread may already have the number. An interrupted notification left the
// descriptor open, and F_GETFD says which of the two happened.
inline long CloseNoEintr(long fd, long ret) {
  while (ret == -EINTR) {
    const long flags = NoEintr([&] { return DirectSyscall(SYS_fcntl, fd, F_GETFD); });
    if (flags < 0) {
      return -EINTR;  // closed: the kernel's own EINTR
    }
    ret = Call<SYS_close>(fd);
  }
  return ret;
}

long ParseDecimal(const char* s) {
  long v = 0;
  if (*s == 0) {
    return -1;
  }
  for (; *s; ++s) {
    if (*s < '0' || *s > '9') {
      return -1;
    }
    v = v * 10 + (*s - '0');
  }
  return v;
}

unsigned long ParseHex(const char* s) {
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s += 2;
  }
  unsigned long v = 0;
  for (; *s; ++s) {
    int d;
    if (*s >= '0' && *s <= '9') {
      d = *s - '0';
    } else if (*s >= 'a' && *s <= 'f') {
      d = *s - 'a' + 10;
    } else if (*s >= 'A' && *s <= 'F') {
      d = *s - 'A' + 10;
    } else {
      return 0;
    }
    v = v * 16 + static_cast<unsigned long>(d);
  }
  return v;
}

const char* FindEnv(char** envp, const char* name) {
  if (envp == nullptr) {
    return nullptr;
  }
  for (char** e = envp; *e != nullptr; ++e) {
    const char* a = *e;
    const char* b = name;
    while (*b != 0 && *a == *b) {
      ++a;
      ++b;
    }
    if (*b == 0 && *a == '=') {
      return a + 1;
    }
  }
  return nullptr;
}

// Maps the page and the trampoline. Any failure leaves the agent inert: every call then goes
// to the supervisor, which is correct, only slower.
void Setup(char** envp) {
  const char* fd_text = FindEnv(envp, ep::kPageFdEnv);
  const char* tramp_text = FindEnv(envp, ep::kTrampolineEnv);
  if (fd_text == nullptr || tramp_text == nullptr) {
    return;
  }
  const long fd = ParseDecimal(fd_text);
  const unsigned long tramp = ParseHex(tramp_text);
  if (fd < 0 || tramp == 0 || (tramp & 4095) != 0) {
    return;
  }
  // The guest may have closed the page's fd and reused the number: a mapping beyond the end of a
  // shorter file would fault (SIGBUS) when touched, so check the size first.
  struct stat st;
  if (DirectSyscall(SYS_fstat, fd, reinterpret_cast<long>(&st)) != 0 ||
      static_cast<uint64_t>(st.st_size) != ep::kExecPageSize) {
    return;
  }
  long mapped = DirectSyscall(SYS_mmap, 0, ep::kExecPageSize, PROT_READ | PROT_WRITE, MAP_SHARED,
                              fd, 0);
  if (mapped < 0 && mapped >= -4095) {
    return;
  }
  auto* page = reinterpret_cast<ep::ExecPage*>(mapped);
  if (page->magic != ep::kExecPageMagic || page->abi_version != ep::kExecPageAbiVersion ||
      page->size != ep::kExecPageSize || page->trampoline != tramp) {
    DirectSyscall(SYS_munmap, mapped, ep::kExecPageSize);
    return;
  }
  // Same address in every image of the guest (exec maps it again here); NOREPLACE so it never
  // clobbers a mapping of the guest. Kernels before 4.17 ignore the flag: check the address.
  long code = DirectSyscall(SYS_mmap, static_cast<long>(tramp), 4096, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (code != static_cast<long>(tramp)) {
    if (code > 0 || code < -4095) {
      DirectSyscall(SYS_munmap, code, 4096);
    }
    DirectSyscall(SYS_munmap, mapped, ep::kExecPageSize);
    return;
  }
  auto* dst = reinterpret_cast<volatile unsigned char*>(code);
  for (size_t i = 0; i < sizeof ep::kTrampolineCode; ++i) {
    dst[i] = ep::kTrampolineCode[i];
  }
  if (DirectSyscall(SYS_mprotect, code, 4096, PROT_READ | PROT_EXEC) != 0) {
    DirectSyscall(SYS_munmap, code, 4096);
    DirectSyscall(SYS_munmap, mapped, ep::kExecPageSize);
    return;
  }
  // A new image after exec: the threads of the old one are gone without releasing their slots.
  const uint64_t pid = static_cast<uint64_t>(DirectSyscall(SYS_getpid));
  for (int i = 0; i < ep::kMaxSlots; ++i) {
    uint64_t owner = page->slots[i].owner.load(std::memory_order_relaxed);
    if (owner != 0 && (owner >> 32) == pid) {
      page->slots[i].owner.compare_exchange_strong(owner, 0, std::memory_order_release,
                                                   std::memory_order_relaxed);
    }
  }
  g_key_ok = pthread_key_create(&g_slot_key, ReleaseSlot) == 0;
  pthread_atfork(nullptr, nullptr, AfterForkInChild);
  g_agent.tsc_mult = page->tsc_mult;
  g_agent.tsc_ref = page->tsc_ref;
  g_agent.mono_ref_ns = page->mono_ref_ns;
  g_agent.syscall_entry = static_cast<uintptr_t>(code) + ep::kTrampolineSyscallEntry;
  g_agent.page = page;
}

// glibc's own __open_2 family, for the one case the agent's versions do not handle: an invalid
// call, which glibc fails with a message of its own (__fortify_fail is not exported).
using Open2 = int (*)(const char*, int);
using OpenAt2 = int (*)(int, const char*, int);
Open2 g_glibc_open_2 = nullptr;
Open2 g_glibc_open64_2 = nullptr;
OpenAt2 g_glibc_openat_2 = nullptr;
OpenAt2 g_glibc_openat64_2 = nullptr;

// glibc's fork and execve: fork runs the pthread_atfork(3) handlers and resets glibc's state in
// the child, which a raw clone would skip, so the agent's versions call glibc's and only retry.
using ForkFn = pid_t (*)();
using ExecveFn = int (*)(const char*, char* const[], char* const[]);
ForkFn g_glibc_fork = nullptr;
ExecveFn g_glibc_execve = nullptr;

// glibc's exec family and posix_spawn, which the agent's versions call with the agent's
// variables added to the environment.
struct GlibcExec {
  int (*execvpe)(const char*, char* const[], char* const[]);
  int (*fexecve)(int, char* const[], char* const[]);
  int (*posix_spawn)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                     const posix_spawnattr_t*, char* const[], char* const[]);
  int (*posix_spawnp)(pid_t*, const char*, const posix_spawn_file_actions_t*,
                      const posix_spawnattr_t*, char* const[], char* const[]);
};
GlibcExec g_glibc = {};

using PthreadCancelFn = int (*)(pthread_t);
using PthreadExitFn = void (*)(void*);
PthreadCancelFn g_glibc_pthread_cancel = nullptr;
PthreadExitFn g_glibc_pthread_exit = nullptr;

void FindGlibcOpen2() {
  g_glibc_fork = reinterpret_cast<ForkFn>(dlsym(RTLD_NEXT, "fork"));
  g_glibc_execve = reinterpret_cast<ExecveFn>(dlsym(RTLD_NEXT, "execve"));
  g_glibc_pthread_cancel = reinterpret_cast<PthreadCancelFn>(dlsym(RTLD_NEXT, "pthread_cancel"));
  g_glibc.execvpe = reinterpret_cast<decltype(g_glibc.execvpe)>(dlsym(RTLD_NEXT, "execvpe"));
  g_glibc.fexecve = reinterpret_cast<decltype(g_glibc.fexecve)>(dlsym(RTLD_NEXT, "fexecve"));
  g_glibc.posix_spawn =
      reinterpret_cast<decltype(g_glibc.posix_spawn)>(dlsym(RTLD_NEXT, "posix_spawn"));
  g_glibc.posix_spawnp =
      reinterpret_cast<decltype(g_glibc.posix_spawnp)>(dlsym(RTLD_NEXT, "posix_spawnp"));
  g_glibc_pthread_exit = reinterpret_cast<PthreadExitFn>(dlsym(RTLD_NEXT, "pthread_exit"));
  g_glibc_open_2 = reinterpret_cast<Open2>(dlsym(RTLD_NEXT, "__open_2"));
  g_glibc_open64_2 = reinterpret_cast<Open2>(dlsym(RTLD_NEXT, "__open64_2"));
  g_glibc_openat_2 = reinterpret_cast<OpenAt2>(dlsym(RTLD_NEXT, "__openat_2"));
  g_glibc_openat64_2 = reinterpret_cast<OpenAt2>(dlsym(RTLD_NEXT, "__openat64_2"));
}

// The trampoline's frame description for the unwinder (see "pthread cancellation"): one CIE
// and one FDE in .eh_frame form (the System V x86-64 ABI, "DWARF Definition"; the LSB's
// .eh_frame section), then the zero terminator. The trampoline never moves %rsp, so at each of
// its instructions the caller's frame is where a call leaves it: CFA = %rsp + 8, return address
// at CFA - 8, the CIE's initial rules, and the FDE needs no instructions of its own.
alignas(8) unsigned char g_trampoline_eh_frame[64];
pthread_once_t g_trampoline_frame_once = PTHREAD_ONCE_INIT;

template <typename T>
void Put(unsigned char*& p, T v) {
  __builtin_memcpy(p, &v, sizeof v);
  p += sizeof v;
}

void RegisterTrampolineFrame() {
  if (g_agent.page == nullptr) {
    return;
  }
  // The unwinder glibc's cancellation loads (libgcc_s.so.1, the one it dlopens for
  // pthread_cancel): the same object, so the frame is visible to it.
  void* libgcc = dlopen("libgcc_s.so.1", RTLD_NOW);
  if (libgcc == nullptr) {
    return;  // glibc's pthread_cancel cannot work either, and says so
  }
  using RegisterFrame = void (*)(void*);
  auto register_frame = reinterpret_cast<RegisterFrame>(dlsym(libgcc, "__register_frame"));
  if (register_frame == nullptr) {
    return;
  }
  unsigned char* p = g_trampoline_eh_frame;
  // CIE: length, id 0, version 1, "zR", code alignment 1, data alignment -8, return address
  // register 16 (%rip), augmentation data: FDE addresses are absolute 8-byte values.
  Put<uint32_t>(p, 20);
  Put<uint32_t>(p, 0);
  static constexpr unsigned char kCie[] = {
      1, 'z', 'R', 0, 1, 0x78, 16, 1, 0,  // ..., augmentation data: DW_EH_PE_absptr
      0x0c, 7, 8,                         // DW_CFA_def_cfa %rsp, 8
      0x90, 1,                            // DW_CFA_offset %rip, CFA - 8
      0, 0};                              // DW_CFA_nop padding to 8 bytes
  for (unsigned char b : kCie) {
    *p++ = b;
  }
  // FDE: length, distance back to the CIE, the trampoline's address and size, no
  // augmentation data, padding.
  Put<uint32_t>(p, 28);
  Put<uint32_t>(p, 28);
  Put<uint64_t>(p, g_agent.syscall_entry - ep::kTrampolineSyscallEntry);
  Put<uint64_t>(p, sizeof ep::kTrampolineCode);
  for (int i = 0; i < 8; ++i) {
    *p++ = 0;  // augmentation data length 0, then DW_CFA_nop
  }
  Put<uint32_t>(p, 0);  // terminator
  register_frame(g_trampoline_eh_frame);
}


// ---- What the guest sees of the agent ----
// hijackd starts the guest with LD_PRELOAD naming the agent (in front of the guest's own list),
// HIJACK_EXEC_PAGE_FD, HIJACK_TRAMPOLINE and, when the guest had an LD_PRELOAD of its own,
// HIJACK_ORIG_LD_PRELOAD. At start the agent takes what it needs and gives the guest the
// environment it would have had: the three variables are removed and LD_PRELOAD is the guest's
// own again (or absent), in `environ` and in the initial environment block that
// /proc/self/environ reads (proc(5): the kernel reads the process's memory between env_start
// and env_end, which only a process with CAP_SYS_RESOURCE can move, prctl(2) PR_SET_MM). The
// block is rewritten in place, the strings packed from its start in their order, and the bytes
// left at its end are zeros (the only trace: a reader that splits the block at each NUL sees
// empty entries at the end). The page's descriptor moves to 1023 (MovePageFd) with
// close-on-exec set, so the program's own descriptors get the numbers they get natively.
//
// HIJACK_AGENT_VISIBLE in the guest's own environment turns all of this off (exec_page.h).
//
// Children get the agent again from the agent's exec wrappers (execve, execv, execvp, execvpe,
// execl, execlp, execle, fexecve, execveat, posix_spawn, posix_spawnp): the environment they
// pass is the caller's with the agent's variables added (the caller's LD_PRELOAD goes behind
// the agent's, as hijackd does it), and the page's descriptor is inherited for that exec only.
// A child started any other way (a raw execve, glibc's system(3) and popen(3), which call glibc's
// internal posix_spawn) runs without the agent: its calls all go to the supervisor, slower but
// under the same policy, since the filter is inherited and only the trampoline's address, which
// the new image does not map, is exempt.

constexpr size_t kMaxPreload = 4096;  // longer lists are left as they are, the agent visible

struct ChildEnv {
  bool active;  // hijackd started this image: the agent's variables were taken out
  int page_fd;
  size_t prefix_len;
  char preload_prefix[kMaxPreload];  // LD_PRELOAD without the guest's own list
  char trampoline[64];               // "HIJACK_TRAMPOLINE=0x..."
  char own_preload[kMaxPreload + 16];  // "LD_PRELOAD=" + the guest's own list
};
ChildEnv g_child = {};

inline bool StartsWith(const char* s, const char* prefix) {
  while (*prefix != 0) {
    if (*s++ != *prefix++) {
      return false;
    }
  }
  return true;
}
inline bool IsVariable(const char* entry, const char* name) {
  return StartsWith(entry, name) && entry[__builtin_strlen(name)] == '=';
}
inline bool IsAgentVariable(const char* entry) {
  return IsVariable(entry, ep::kPageFdEnv) || IsVariable(entry, ep::kTrampolineEnv) ||
         IsVariable(entry, ep::kOrigPreloadEnv);
}

// Decimal text of `v` at `out` (room for 21 bytes); returns the end.
char* PutDecimal(char* out, long v) {
  char digits[21];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0);
  while (n > 0) {
    *out++ = digits[--n];
  }
  *out = 0;
  return out;
}

// The page's descriptor at the top of the range select(2) can name (FD_SETSIZE - 1, 1023) or of
// the soft RLIMIT_NOFILE when that is lower, close-on-exec. Not higher: the kernel sizes a
// process's descriptor table by its highest descriptor. Returns its number.
long MovePageFd(long fd) {
  rlimit lim;
  if (DirectSyscall(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, L(&lim)) != 0 || lim.rlim_cur < 64) {
    DirectSyscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
    return fd;
  }
  const long top = static_cast<long>(lim.rlim_cur < 1024 ? lim.rlim_cur : 1024) - 1;
  if (fd == top) {
    DirectSyscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
    return fd;
  }
  const long moved = DirectSyscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, top);
  if (moved != top) {
    if (moved >= 0) {
      DirectSyscall(SYS_close, moved);
    }
    DirectSyscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
    return fd;  // the top is taken: the descriptor stays where hijackd put it
  }
  // close_range(2) rather than close(2): the supervisor counts the agent's start-up calls as the
  // guest's, and a count of close(2) should stay what the program itself closed (strace's
  // count for the same program). Kernels before 5.9 lack it.
  if (DirectSyscall(SYS_close_range, fd, fd, 0) != 0) {
    DirectSyscall(SYS_close, fd);
  }
  return moved;
}

// Removes the agent's variables from the NULL-terminated array `env` and gives LD_PRELOAD its
// own value (or removes it). When `block` is set, the strings are also packed in place from the
// start of the initial block, which ends at `block_end`.
void RewriteEnvironment(char** env, bool keep_preload, char* block, char* block_end) {
  char* w = block;
  size_t j = 0;
  for (size_t i = 0; env[i] != nullptr; ++i) {
    char* e = env[i];
    const char* text = e;
    if (IsAgentVariable(e)) {
      continue;
    }
    if (IsVariable(e, "LD_PRELOAD")) {
      if (!keep_preload) {
        continue;
      }
      text = g_child.own_preload;
    }
    if (block == nullptr) {
      env[j++] = const_cast<char*>(text);
      continue;
    }
    // Each string lands at or before where it was (earlier ones only shrank), so copying
    // forward never overwrites a string not yet copied.
    const size_t len = __builtin_strlen(text) + 1;
    __builtin_memmove(w, text, len);
    env[j++] = w;
    w += len;
  }
  for (size_t k = j; env[k] != nullptr; ++k) {
    env[k] = nullptr;
  }
  env[j] = nullptr;
  if (block != nullptr) {
    __builtin_memset(w, 0, static_cast<size_t>(block_end - w));
  }
}

void HideAgent(char** envp) {
  const char* fd_text = FindEnv(envp, ep::kPageFdEnv);
  const char* tramp_text = FindEnv(envp, ep::kTrampolineEnv);
  const char* list = FindEnv(envp, "LD_PRELOAD");
  const char* own = FindEnv(envp, ep::kOrigPreloadEnv);
  if (fd_text == nullptr || tramp_text == nullptr || list == nullptr) {
    return;  // not started by hijackd: nothing of it to hide
  }
  if (FindEnv(envp, ep::kAgentVisibleEnv) != nullptr) {
    return;  // asked to stay visible (exec_page.h)
  }
  const size_t list_len = __builtin_strlen(list);
  const size_t own_len = own == nullptr ? 0 : __builtin_strlen(own);
  size_t prefix_len = list_len;
  if (own_len > 0) {
    if (list_len <= own_len || list[list_len - own_len - 1] != ':' ||
        __builtin_memcmp(list + list_len - own_len, own, own_len) != 0) {
      return;  // not the list hijackd makes: leave everything as it is
    }
    prefix_len = list_len - own_len - 1;
  }
  const size_t tramp_len = __builtin_strlen(tramp_text);
  if (prefix_len >= kMaxPreload || own_len >= kMaxPreload ||
      tramp_len + sizeof ep::kTrampolineEnv + 1 > sizeof g_child.trampoline) {
    return;
  }
  const long fd = ParseDecimal(fd_text);
  if (fd < 0) {
    return;
  }
  __builtin_memcpy(g_child.preload_prefix, list, prefix_len);
  g_child.preload_prefix[prefix_len] = 0;
  g_child.prefix_len = prefix_len;
  char* t = g_child.trampoline;
  __builtin_memcpy(t, ep::kTrampolineEnv, sizeof ep::kTrampolineEnv - 1);
  t += sizeof ep::kTrampolineEnv - 1;
  *t++ = '=';
  __builtin_memcpy(t, tramp_text, tramp_len + 1);
  __builtin_memcpy(g_child.own_preload, "LD_PRELOAD=", 11);
  if (own != nullptr) {
    __builtin_memcpy(g_child.own_preload + 11, own, own_len + 1);
  }
  g_child.page_fd = static_cast<int>(MovePageFd(fd));
  g_child.active = true;

  // The kernel lays the strings out one after the other in envp's order; anything else (a
  // library before the agent changed the environment) is left alone and only the arrays change.
  char* block = envp[0];
  char* end = block;
  for (char** e = envp; *e != nullptr; ++e) {
    if (*e != end) {
      block = nullptr;
      break;
    }
    end += __builtin_strlen(*e) + 1;
  }
  if (environ != envp && environ != nullptr) {
    RewriteEnvironment(environ, own != nullptr, nullptr, nullptr);
    block = nullptr;
  }
  RewriteEnvironment(envp, own != nullptr, block, end);
}

// Runs `exec` with the environment `envp` plus the agent's variables, the page's descriptor
// inheritable for the time of the call. Async-signal-safe (a child of vfork(2) calls it): the
// new array and strings are on the stack.
template <typename F>
int ExecWithAgent(char* const* envp, F exec) {
  if (!g_child.active) {
    return exec(envp);
  }
  size_t n = 0;
  const char* theirs = nullptr;
  if (envp != nullptr) {
    for (; envp[n] != nullptr; ++n) {
      if (theirs == nullptr && IsVariable(envp[n], "LD_PRELOAD")) {
        theirs = envp[n] + 11;
      }
    }
  }
  const size_t theirs_len = theirs == nullptr ? 0 : __builtin_strlen(theirs);
  char preload[11 + g_child.prefix_len + 1 + theirs_len + 1];
  // LD_PRELOAD keeps its place (the new image gives it back there), the others go last.
  char* vec[n + 5];
  size_t j = 0;
  bool placed = false;
  for (size_t i = 0; i < n; ++i) {
    if (IsAgentVariable(envp[i])) {
      continue;
    }
    if (IsVariable(envp[i], "LD_PRELOAD")) {
      if (!placed) {
        vec[j++] = preload;
        placed = true;
      }
      continue;
    }
    vec[j++] = envp[i];
  }
  char* p = preload;
  __builtin_memcpy(p, "LD_PRELOAD=", 11);
  p += 11;
  __builtin_memcpy(p, g_child.preload_prefix, g_child.prefix_len);
  p += g_child.prefix_len;
  if (theirs_len > 0) {
    *p++ = ':';
    __builtin_memcpy(p, theirs, theirs_len);
    p += theirs_len;
  }
  *p = 0;
  char fd_entry[sizeof ep::kPageFdEnv + 24];
  __builtin_memcpy(fd_entry, ep::kPageFdEnv, sizeof ep::kPageFdEnv - 1);
  fd_entry[sizeof ep::kPageFdEnv - 1] = '=';
  PutDecimal(fd_entry + sizeof ep::kPageFdEnv, g_child.page_fd);
  char own_entry[sizeof ep::kOrigPreloadEnv + theirs_len + 1];
  if (!placed) {
    vec[j++] = preload;
  }
  vec[j++] = fd_entry;
  vec[j++] = g_child.trampoline;
  if (theirs != nullptr) {
    __builtin_memcpy(own_entry, ep::kOrigPreloadEnv, sizeof ep::kOrigPreloadEnv - 1);
    own_entry[sizeof ep::kOrigPreloadEnv - 1] = '=';
    __builtin_memcpy(own_entry + sizeof ep::kOrigPreloadEnv, theirs, theirs_len + 1);
    vec[j++] = own_entry;
  }
  vec[j] = nullptr;
  DirectSyscall(SYS_fcntl, g_child.page_fd, F_SETFD, 0);
  const int saved = errno;
  const int ret = exec(vec);
  const int err = errno;
  DirectSyscall(SYS_fcntl, g_child.page_fd, F_SETFD, FD_CLOEXEC);
  errno = ret == 0 ? saved : err;
  return ret;
}

// glibc passes (argc, argv, envp) to ELF constructors; use envp, so nothing here depends on the
// order in which libc initializes `environ`.
__attribute__((constructor)) void AgentInit(int, char**, char** envp) {
  const int saved = errno;
  FindGlibcOpen2();  // even when the page is unusable: the wrappers run either way
  Setup(envp);
  HideAgent(envp);
  errno = saved;
}

// The wrapped calls that natively never fail with EINTR, or only on a slow descriptor or path
// (the comment above NoEintr says why the retry is right).
template <int kNr>
inline long DiskCall(long fd, long a1, long a2, long a3 = 0) {
  return RetryOnDisk(fd, [&] { return Call<kNr>(fd, a1, a2, a3); });
}
inline long StatCall(long dirfd, long path, long st, long flags) {
  return NoEintr([&] { return Call<SYS_newfstatat>(dirfd, path, st, flags); });
}
template <int kNr>
inline long NoEintrCall(long a0, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0) {
  return NoEintr([&] { return Call<kNr>(a0, a1, a2, a3, a4); });
}
inline long OpenCall(long dirfd, const char* path, long flags, long mode) {
  long ret = Call<SYS_openat>(dirfd, L(path), flags, mode);
  while (ret == -EINTR && OpenCannotSleep(dirfd, path)) {
    ret = Call<SYS_openat>(dirfd, L(path), flags, mode);
  }
  return ret;
}

}  // namespace

#define HIJACK_EXPORT extern "C" __attribute__((visibility("default")))

// ---- vfork ----
// The child of vfork(2) runs in its parent's memory, on its stack, with its TLS, until it execs
// or exits. Like glibc's, this vfork keeps its return address in a register across the call
// (the child's own calls overwrite the stack below the parent's frame); around it, the parent's
// thread state is set aside for the child and given back when the parent resumes.

extern "C" __attribute__((used, noinline, visibility("hidden"))) void hijack_vfork_prepare() {
  if (t_vfork_depth < kMaxVforkDepth) {
    t_vfork_saved[t_vfork_depth] = t_thread;
  }
  ++t_vfork_depth;
}

extern "C" __attribute__((used, noinline, visibility("hidden"))) long hijack_vfork_after(long raw) {
  if (raw == 0) {
    // The child: a thread of its own as far as the page is concerned; it claims its own slot
    // (with its own pid and tid) at its first observed call.
    t_thread = ThreadState{nullptr, kUnclaimed, 0, 0, false};
    return 0;
  }
  // The parent, resumed once the child exec'd or exited (or vfork failed).
  --t_vfork_depth;
  if (t_vfork_depth >= 0 && t_vfork_depth < kMaxVforkDepth) {
    t_thread = t_vfork_saved[t_vfork_depth];
  }
  if (t_vfork_depth < 0) {
    t_vfork_depth = 0;
  }
  if (raw < 0 && raw >= -4095) {
    errno = static_cast<int>(-raw);
    return -1;
  }
  return raw;
}

// The system call itself is the agent's own instruction: never exempt, so the supervisor sees it
// when it is intercepted, as it sees glibc's.
__asm__(R"(
  .text
  .globl vfork
  .type vfork, @function
vfork:
  .cfi_startproc
  subq $8, %rsp
  .cfi_adjust_cfa_offset 8
  call hijack_vfork_prepare
  addq $8, %rsp
  .cfi_adjust_cfa_offset -8
  popq %rdi
  .cfi_adjust_cfa_offset -8
  .cfi_register rip, rdi
  movl $58, %eax
  syscall
  pushq %rdi
  .cfi_adjust_cfa_offset 8
  .cfi_rel_offset rip, 0
  subq $8, %rsp
  .cfi_adjust_cfa_offset 8
  movq %rax, %rdi
  call hijack_vfork_after
  addq $8, %rsp
  .cfi_adjust_cfa_offset -8
  ret
  .cfi_endproc
  .size vfork, .-vfork
)");

HIJACK_EXPORT ssize_t read(int fd, void* buf, size_t n) {
  return Ret(DiskCall<SYS_read>(fd, L(buf), static_cast<long>(n)));
}
HIJACK_EXPORT ssize_t write(int fd, const void* buf, size_t n) {
  return Ret(DiskCall<SYS_write>(fd, L(buf), static_cast<long>(n)));
}
HIJACK_EXPORT ssize_t readv(int fd, const struct iovec* iov, int cnt) {
  return Ret(DiskCall<SYS_readv>(fd, L(iov), cnt));
}
HIJACK_EXPORT ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  return Ret(DiskCall<SYS_writev>(fd, L(iov), cnt));
}
HIJACK_EXPORT ssize_t pread64(int fd, void* buf, size_t n, off_t off) {
  return Ret(DiskCall<SYS_pread64>(fd, L(buf), static_cast<long>(n), off));
}
HIJACK_EXPORT ssize_t pread(int fd, void* buf, size_t n, off_t off) {
  return Ret(DiskCall<SYS_pread64>(fd, L(buf), static_cast<long>(n), off));
}
HIJACK_EXPORT ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  return Ret(DiskCall<SYS_pwrite64>(fd, L(buf), static_cast<long>(n), off));
}
HIJACK_EXPORT ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  return Ret(DiskCall<SYS_pwrite64>(fd, L(buf), static_cast<long>(n), off));
}
// x86_64 has no send/recv system calls: glibc issues sendto/recvfrom, and so does the agent, so
// counts match what strace shows for the same program without the agent.
HIJACK_EXPORT ssize_t send(int fd, const void* buf, size_t n, int flags) {
  return Ret(Call<SYS_sendto>(fd, L(buf), static_cast<long>(n), flags, 0, 0));
}
HIJACK_EXPORT ssize_t sendto(int fd, const void* buf, size_t n, int flags,
                             const struct sockaddr* to, socklen_t len) {
  return Ret(Call<SYS_sendto>(fd, L(buf), static_cast<long>(n), flags, L(to), len));
}
HIJACK_EXPORT ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  return Ret(Call<SYS_sendmsg>(fd, L(msg), flags));
}
HIJACK_EXPORT ssize_t recv(int fd, void* buf, size_t n, int flags) {
  return Ret(Call<SYS_recvfrom>(fd, L(buf), static_cast<long>(n), flags, 0, 0));
}
HIJACK_EXPORT ssize_t recvfrom(int fd, void* buf, size_t n, int flags, struct sockaddr* from,
                               socklen_t* len) {
  return Ret(Call<SYS_recvfrom>(fd, L(buf), static_cast<long>(n), flags, L(from), L(len)));
}
HIJACK_EXPORT ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  return Ret(Call<SYS_recvmsg>(fd, L(msg), flags));
}
HIJACK_EXPORT int accept(int fd, struct sockaddr* addr, socklen_t* len) {
  return static_cast<int>(Ret(Call<SYS_accept>(fd, L(addr), L(len))));
}
HIJACK_EXPORT int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  return static_cast<int>(Ret(Call<SYS_accept4>(fd, L(addr), L(len), flags)));
}
HIJACK_EXPORT int connect(int fd, const struct sockaddr* addr, socklen_t len) {
  return static_cast<int>(Ret(Call<SYS_connect>(fd, L(addr), len)));
}

namespace {
// open(2): the mode argument is read only when the call may create a file.
inline bool NeedsMode(int flags) {
  return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
}
inline long ModeArg(int flags, va_list ap) { return NeedsMode(flags) ? va_arg(ap, int) : 0; }
}  // namespace

HIJACK_EXPORT int openat(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  long mode = ModeArg(flags, ap);
  va_end(ap);
  return static_cast<int>(Ret(OpenCall(dirfd, path, flags, mode)));
}
HIJACK_EXPORT int openat64(int dirfd, const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  long mode = ModeArg(flags, ap);
  va_end(ap);
  return static_cast<int>(Ret(OpenCall(dirfd, path, flags, mode)));
}
// glibc's open() is openat(AT_FDCWD, ...) on x86_64; the agent issues the same call.
HIJACK_EXPORT int open(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  long mode = ModeArg(flags, ap);
  va_end(ap);
  return static_cast<int>(Ret(OpenCall(AT_FDCWD, path, flags, mode)));
}
HIJACK_EXPORT int open64(const char* path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  long mode = ModeArg(flags, ap);
  va_end(ap);
  return static_cast<int>(Ret(OpenCall(AT_FDCWD, path, flags, mode)));
}
HIJACK_EXPORT int close(int fd) {
  return static_cast<int>(Ret(CloseNoEintr(fd, Call<SYS_close>(fd))));
}
// alarm(2) and getpid(2) never fail, never sleep and are no cancellation points; a server that
// forks per connection makes several of each per child (mini_httpd: four alarms and a getpid),
// so counting them here saves as many round trips to the supervisor per connection. When one is
// not exempt its notification wait may end in EINTR, which natively never happens (NoEintr).
HIJACK_EXPORT unsigned int alarm(unsigned int seconds) {
  return static_cast<unsigned int>(NoEintr([&] { return Call<SYS_alarm>(seconds); }));
}
HIJACK_EXPORT pid_t getpid(void) {
  return static_cast<pid_t>(NoEintr([] { return Call<SYS_getpid>(); }));
}
// Calls the agent does not count (the supervisor sees them when they are intercepted) but that
// signal(7) leaves off the list of interruptible calls: natively none fails with EINTR, and none
// ran when it did here (see NoEintr).
HIJACK_EXPORT pid_t getppid(void) {
  return static_cast<pid_t>(NoEintr([] { return DirectSyscall(SYS_getppid); }));
}
HIJACK_EXPORT int setitimer(int which, const struct itimerval* value, struct itimerval* old) {
  return static_cast<int>(
      Ret(NoEintr([&] { return DirectSyscall(SYS_setitimer, which, L(value), L(old)); })));
}
HIJACK_EXPORT int getitimer(int which, struct itimerval* value) {
  return static_cast<int>(
      Ret(NoEintr([&] { return DirectSyscall(SYS_getitimer, which, L(value)); })));
}
// fork(2) restarts itself natively (ERESTARTNOINTR, "can be seen only during a trace"); glibc's
// fork ran its atfork handlers around the failed clone as it does around any failure, and runs
// them again for the retry. No child exists when the clone was interrupted.
HIJACK_EXPORT pid_t fork(void) {
  if (g_glibc_fork == nullptr) {
    return static_cast<pid_t>(Ret(-ENOSYS));
  }
  pid_t pid;
  do {
    pid = g_glibc_fork();
  } while (pid < 0 && errno == EINTR);
  return pid;
}
// execve(2) has no EINTR: an interrupted notification left the old image in place. The exec
// family passes the agent's variables on to the new image ("What the guest sees of the agent").
HIJACK_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
  return ExecWithAgent(envp, [&](char* const* env) {
    if (g_glibc_execve == nullptr) {
      return static_cast<int>(Ret(DirectSyscall(SYS_execve, L(path), L(argv), L(env))));
    }
    int ret;
    do {
      ret = g_glibc_execve(path, argv, env);
    } while (ret < 0 && errno == EINTR);
    return ret;
  });
}
HIJACK_EXPORT int execv(const char* path, char* const argv[]) {
  return execve(path, argv, environ);
}
HIJACK_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
  return ExecWithAgent(envp, [&](char* const* env) {
    return g_glibc.execvpe == nullptr ? static_cast<int>(Ret(-ENOSYS))
                                      : g_glibc.execvpe(file, argv, env);
  });
}
HIJACK_EXPORT int execvp(const char* file, char* const argv[]) {
  return execvpe(file, argv, environ);
}
HIJACK_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
  return ExecWithAgent(envp, [&](char* const* env) {
    return g_glibc.fexecve == nullptr ? static_cast<int>(Ret(-ENOSYS))
                                      : g_glibc.fexecve(fd, argv, env);
  });
}
HIJACK_EXPORT int execveat(int dirfd, const char* path, char* const argv[], char* const envp[],
                           int flags) {
  return ExecWithAgent(envp, [&](char* const* env) {
    return static_cast<int>(
        Ret(DirectSyscall(SYS_execveat, dirfd, L(path), L(argv), L(env), flags)));
  });
}
// execl(3) and friends: the arguments up to the terminating null pointer, on the stack.
#define HIJACK_COLLECT_ARGS(first, last_named)                     \
  size_t argc = 1;                                                 \
  {                                                                \
    va_list count;                                                 \
    va_start(count, last_named);                                   \
    while (va_arg(count, char*) != nullptr) {                      \
      ++argc;                                                      \
    }                                                              \
    va_end(count);                                                 \
  }                                                                \
  char* args[argc + 1];                                            \
  va_list ap;                                                      \
  va_start(ap, last_named);                                        \
  args[0] = const_cast<char*>(first);                              \
  for (size_t i = 1; i <= argc; ++i) {                             \
    args[i] = va_arg(ap, char*);                                   \
  }
HIJACK_EXPORT int execl(const char* path, const char* arg, ...) {
  HIJACK_COLLECT_ARGS(arg, arg)
  va_end(ap);
  return execve(path, args, environ);
}
HIJACK_EXPORT int execlp(const char* file, const char* arg, ...) {
  HIJACK_COLLECT_ARGS(arg, arg)
  va_end(ap);
  return execvpe(file, args, environ);
}
HIJACK_EXPORT int execle(const char* path, const char* arg, ...) {
  HIJACK_COLLECT_ARGS(arg, arg)
  char* const* envp = va_arg(ap, char* const*);
  va_end(ap);
  return execve(path, args, envp);
}
#undef HIJACK_COLLECT_ARGS
HIJACK_EXPORT int posix_spawn(pid_t* pid, const char* path,
                              const posix_spawn_file_actions_t* actions,
                              const posix_spawnattr_t* attr, char* const argv[],
                              char* const envp[]) {
  return ExecWithAgent(envp, [&](char* const* env) {
    return g_glibc.posix_spawn == nullptr ? ENOSYS
                                          : g_glibc.posix_spawn(pid, path, actions, attr, argv,
                                                                env);
  });
}
HIJACK_EXPORT int posix_spawnp(pid_t* pid, const char* file,
                               const posix_spawn_file_actions_t* actions,
                               const posix_spawnattr_t* attr, char* const argv[],
                               char* const envp[]) {
  return ExecWithAgent(envp, [&](char* const* env) {
    return g_glibc.posix_spawnp == nullptr ? ENOSYS
                                           : g_glibc.posix_spawnp(pid, file, actions, attr,
                                                                  argv, env);
  });
}
// A thread that unwinds may be inside the trampoline (cancelled there, or exiting from a
// signal handler that interrupted it): the unwinder learns the trampoline's frame first.
HIJACK_EXPORT int pthread_cancel(pthread_t thread) {
  if (g_glibc_pthread_cancel == nullptr) {
    return ENOSYS;
  }
  pthread_once(&g_trampoline_frame_once, RegisterTrampolineFrame);
  return g_glibc_pthread_cancel(thread);
}
HIJACK_EXPORT __attribute__((noreturn)) void pthread_exit(void* value) {
  pthread_once(&g_trampoline_frame_once, RegisterTrampolineFrame);
  if (g_glibc_pthread_exit != nullptr) {
    g_glibc_pthread_exit(value);
  }
  abort();
}
HIJACK_EXPORT int epoll_wait(int epfd, struct epoll_event* events, int max, int timeout) {
  return static_cast<int>(Ret(Call<SYS_epoll_wait>(epfd, L(events), max, timeout)));
}
HIJACK_EXPORT int poll(struct pollfd* fds, nfds_t n, int timeout) {
  return static_cast<int>(Ret(Call<SYS_poll>(L(fds), static_cast<long>(n), timeout)));
}
// glibc's nanosleep() is clock_nanosleep(CLOCK_REALTIME, 0, ...); the agent issues the same.
HIJACK_EXPORT int nanosleep(const struct timespec* req, struct timespec* rem) {
  return static_cast<int>(
      Ret(Call<SYS_clock_nanosleep>(CLOCK_REALTIME, 0, L(req), L(rem))));
}
// clock_nanosleep returns the error number instead of setting errno. glibc checks the clock
// before the kernel does and the agent keeps its answers (clock_nanosleep(3): "EINVAL ... the
// CPU-time clock of the calling thread"): the kernel would say EOPNOTSUPP for the thread's CPU
// clock, and glibc names the process's CPU clock by its clockid (MAKE_PROCESS_CPUCLOCK(0,
// CPUCLOCK_SCHED)) so that strace shows the same call with or without the agent.
HIJACK_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec* req,
                                  struct timespec* rem) {
  if (clock == CLOCK_THREAD_CPUTIME_ID) {
    return EINVAL;
  }
  if (clock == CLOCK_PROCESS_CPUTIME_ID) {
    constexpr clockid_t kProcessSchedClock = (~clockid_t{0} << 3) | 2;
    clock = kProcessSchedClock;
  }
  long raw = Call<SYS_clock_nanosleep>(clock, flags, L(req), L(rem));
  return raw < 0 ? static_cast<int>(-raw) : 0;
}

// stat() and friends are newfstatat on x86_64 since glibc 2.33; the agent issues the same calls
// glibc would, so counts match strace's for the program without the agent.
HIJACK_EXPORT int fstatat(int dirfd, const char* path, struct stat* st, int flags) {
  return static_cast<int>(Ret(StatCall(dirfd, L(path), L(st), flags)));
}
HIJACK_EXPORT int fstatat64(int dirfd, const char* path, struct stat64* st, int flags) {
  return static_cast<int>(Ret(StatCall(dirfd, L(path), L(st), flags)));
}
HIJACK_EXPORT int stat(const char* path, struct stat* st) {
  return static_cast<int>(Ret(StatCall(AT_FDCWD, L(path), L(st), 0)));
}
HIJACK_EXPORT int stat64(const char* path, struct stat64* st) {
  return static_cast<int>(Ret(StatCall(AT_FDCWD, L(path), L(st), 0)));
}
HIJACK_EXPORT int lstat(const char* path, struct stat* st) {
  return static_cast<int>(
      Ret(StatCall(AT_FDCWD, L(path), L(st), AT_SYMLINK_NOFOLLOW)));
}
HIJACK_EXPORT int lstat64(const char* path, struct stat64* st) {
  return static_cast<int>(
      Ret(StatCall(AT_FDCWD, L(path), L(st), AT_SYMLINK_NOFOLLOW)));
}
namespace {
// glibc's fstat() answers a negative descriptor itself, without a system call.
inline long FstatCall(int fd, void* st) {
  if (fd < 0) {
    return -EBADF;
  }
  return StatCall(fd, L(""), L(st), AT_EMPTY_PATH);
}
// The stat entry points of programs built against glibc before 2.33 (__xstat and friends):
// version 0 or 1 (_STAT_VER_KERNEL, _STAT_VER_LINUX) is the kernel's struct stat on x86_64.
inline bool StatVersionOk(int ver) { return ver == 0 || ver == 1; }
}  // namespace
HIJACK_EXPORT int fstat(int fd, struct stat* st) {
  return static_cast<int>(Ret(FstatCall(fd, st)));
}
HIJACK_EXPORT int fstat64(int fd, struct stat64* st) {
  return static_cast<int>(Ret(FstatCall(fd, st)));
}
HIJACK_EXPORT int __xstat(int ver, const char* path, struct stat* st) {
  return static_cast<int>(Ret(StatVersionOk(ver) ? StatCall(AT_FDCWD, L(path), L(st), 0)
                                                 : -EINVAL));
}
HIJACK_EXPORT int __xstat64(int ver, const char* path, struct stat64* st) {
  return static_cast<int>(Ret(StatVersionOk(ver) ? StatCall(AT_FDCWD, L(path), L(st), 0)
                                                 : -EINVAL));
}
HIJACK_EXPORT int __lxstat(int ver, const char* path, struct stat* st) {
  return static_cast<int>(Ret(StatVersionOk(ver) ? StatCall(AT_FDCWD, L(path), L(st),
                                                                        AT_SYMLINK_NOFOLLOW)
                                                 : -EINVAL));
}
HIJACK_EXPORT int __lxstat64(int ver, const char* path, struct stat64* st) {
  return static_cast<int>(Ret(StatVersionOk(ver) ? StatCall(AT_FDCWD, L(path), L(st),
                                                                        AT_SYMLINK_NOFOLLOW)
                                                 : -EINVAL));
}
HIJACK_EXPORT int __fxstat(int ver, int fd, struct stat* st) {
  return static_cast<int>(Ret(StatVersionOk(ver) ? FstatCall(fd, st) : -EINVAL));
}
HIJACK_EXPORT int __fxstat64(int ver, int fd, struct stat64* st) {
  return static_cast<int>(Ret(StatVersionOk(ver) ? FstatCall(fd, st) : -EINVAL));
}
HIJACK_EXPORT int __fxstatat(int ver, int dirfd, const char* path, struct stat* st, int flags) {
  return static_cast<int>(
      Ret(StatVersionOk(ver) ? StatCall(dirfd, L(path), L(st), flags) : -EINVAL));
}
HIJACK_EXPORT int __fxstatat64(int ver, int dirfd, const char* path, struct stat64* st,
                               int flags) {
  return static_cast<int>(
      Ret(StatVersionOk(ver) ? StatCall(dirfd, L(path), L(st), flags) : -EINVAL));
}
HIJACK_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event* ev) {
  return static_cast<int>(Ret(NoEintrCall<SYS_epoll_ctl>(epfd, op, fd, L(ev))));
}
HIJACK_EXPORT int shutdown(int fd, int how) {
  return static_cast<int>(Ret(NoEintrCall<SYS_shutdown>(fd, how)));
}
HIJACK_EXPORT int getsockopt(int fd, int level, int name, void* value, socklen_t* len) {
  return static_cast<int>(Ret(NoEintrCall<SYS_getsockopt>(fd, level, name, L(value), L(len))));
}
HIJACK_EXPORT int setsockopt(int fd, int level, int name, const void* value, socklen_t len) {
  return static_cast<int>(Ret(NoEintrCall<SYS_setsockopt>(fd, level, name, L(value), len)));
}
HIJACK_EXPORT ssize_t sendfile(int out, int in, off_t* offset, size_t count) {
  return Ret(DiskCall<SYS_sendfile>(out, in, L(offset), static_cast<long>(count)));
}
HIJACK_EXPORT ssize_t sendfile64(int out, int in, off64_t* offset, size_t count) {
  return Ret(DiskCall<SYS_sendfile>(out, in, L(offset), static_cast<long>(count)));
}

// ---- glibc's _FORTIFY_SOURCE entry points ----
// A program built with -D_FORTIFY_SOURCE (as Debian builds its packages) calls these instead of
// read(), pread(), recv(), recvfrom() and poll() when the compiler knows the buffer's size but not
// that the request fits, and __open_2 and friends for open() with flags it cannot see and no
// mode. Without them such calls would run in libc and reach the supervisor. Each makes glibc's
// check first (glibc's debug/*_chk.c, io/open_2.c) and fails the same way: __chk_fail(), exported
// by glibc, prints "*** buffer overflow detected ***: terminated" and aborts.

extern "C" [[noreturn]] void __chk_fail(void);

HIJACK_EXPORT ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  if (n > buflen) {
    __chk_fail();
  }
  return Ret(DiskCall<SYS_read>(fd, L(buf), static_cast<long>(n)));
}
HIJACK_EXPORT ssize_t __pread_chk(int fd, void* buf, size_t n, off_t off, size_t buflen) {
  if (n > buflen) {
    __chk_fail();
  }
  return Ret(DiskCall<SYS_pread64>(fd, L(buf), static_cast<long>(n), off));
}
HIJACK_EXPORT ssize_t __pread64_chk(int fd, void* buf, size_t n, off_t off, size_t buflen) {
  if (n > buflen) {
    __chk_fail();
  }
  return Ret(DiskCall<SYS_pread64>(fd, L(buf), static_cast<long>(n), off));
}
HIJACK_EXPORT ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags) {
  if (n > buflen) {
    __chk_fail();
  }
  return Ret(Call<SYS_recvfrom>(fd, L(buf), static_cast<long>(n), flags, 0, 0));
}
HIJACK_EXPORT ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags,
                                     struct sockaddr* from, socklen_t* len) {
  if (n > buflen) {
    __chk_fail();
  }
  return Ret(Call<SYS_recvfrom>(fd, L(buf), static_cast<long>(n), flags, L(from), L(len)));
}
HIJACK_EXPORT int __poll_chk(struct pollfd* fds, nfds_t n, int timeout, size_t fdslen) {
  if (fdslen / sizeof(*fds) < n) {
    __chk_fail();
  }
  return static_cast<int>(Ret(Call<SYS_poll>(L(fds), static_cast<long>(n), timeout)));
}

namespace {
// An invalid fortified open(): glibc's own entry point fails it with glibc's message ("invalid
// open call: O_CREAT or O_TMPFILE without mode") and aborts.
[[noreturn]] void FailOpen(Open2 glibc, const char* path, int flags) {
  if (glibc != nullptr) {
    glibc(path, flags);
  }
  abort();
}
[[noreturn]] void FailOpenAt(OpenAt2 glibc, int dirfd, const char* path, int flags) {
  if (glibc != nullptr) {
    glibc(dirfd, path, flags);
  }
  abort();
}
}  // namespace

HIJACK_EXPORT int __open_2(const char* path, int flags) {
  if (NeedsMode(flags)) {
    FailOpen(g_glibc_open_2, path, flags);
  }
  return static_cast<int>(Ret(OpenCall(AT_FDCWD, path, flags, 0)));
}
HIJACK_EXPORT int __open64_2(const char* path, int flags) {
  if (NeedsMode(flags)) {
    FailOpen(g_glibc_open64_2, path, flags);
  }
  return static_cast<int>(Ret(OpenCall(AT_FDCWD, path, flags, 0)));
}
HIJACK_EXPORT int __openat_2(int dirfd, const char* path, int flags) {
  if (NeedsMode(flags)) {
    FailOpenAt(g_glibc_openat_2, dirfd, path, flags);
  }
  return static_cast<int>(Ret(OpenCall(dirfd, path, flags, 0)));
}
HIJACK_EXPORT int __openat64_2(int dirfd, const char* path, int flags) {
  if (NeedsMode(flags)) {
    FailOpenAt(g_glibc_openat64_2, dirfd, path, flags);
  }
  return static_cast<int>(Ret(OpenCall(dirfd, path, flags, 0)));
}
