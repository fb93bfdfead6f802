#include "daemon/observe/result_observer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "hijack/result.h"
#include "common/monotonic.h"
#include "daemon/observe/result_record.h"

#if HIJACK_HAVE_BPF_OBSERVER
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "process_observer.skel.h"
#include "result_observer.skel.h"
#endif

namespace hijack::observe {

static_assert(ObserverOptions{}.slots == HIJACK_OBSERVER_SLOTS);

#if HIJACK_HAVE_BPF_OBSERVER

namespace {

// The inode of the initial pid namespace (PROC_PID_INIT_INO in the kernel's proc_ns.h): the
// program reads thread ids as that namespace numbers them (bpf_get_current_pid_tgid), which
// equal the notifications' ids only for a supervisor that lives in it.
constexpr ino_t kInitPidNamespaceInode = 0xEFFFFFFCU;

std::string ErrnoText(int err) { return ErrnoName(err) + " (" + std::strerror(err) + ")"; }

// libbpf's own messages (verifier logs, missing maps) go to the debug log: the one reason the
// observer gives is what a user reads.
int LibbpfPrint(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG || !spdlog::should_log(spdlog::level::debug)) {
    return 0;
  }
  char line[512];
  const int n = std::vsnprintf(line, sizeof line, format, args);
  spdlog::debug("libbpf: {}", std::string_view(line, n > 0 ? std::min<size_t>(n, sizeof line - 1)
                                                           : 0));
  return n;
}

}  // namespace

// Both rings' records (result_record.h), on the loop thread inside ring_buffer__consume.
int OnRecord(void* ctx, void* data, size_t size);

struct ResultObserver::Kernel {
  result_observer_bpf* skel = nullptr;
  ring_buffer* ring = nullptr;
  std::unique_ptr<boost::asio::posix::stream_descriptor> ready;
  int pending_fd = -1;
  int dropped_fd = -1;
  // The supervisor's mapping of the marks array (result_record.h): slots, then the overflow
  // count. Shared with the program, so every access is an atomic_ref of one word.
  uint64_t* marks = nullptr;
  size_t marks_bytes = 0;
  uint32_t slot_mask = 0;  // the overflow count is word slot_mask + 1
  // The process observer (process_observer.bpf.c); null where it could not load.
  process_observer_bpf* processes = nullptr;
  int guest_procs_fd = -1;
  // Outstanding waits hold a weak reference: a handler that runs after the observer is gone
  // (the descriptor's cancellation) sees it expired and touches nothing.
  std::shared_ptr<int> alive = std::make_shared<int>(0);

  ~Kernel() {
    if (marks != nullptr) {
      munmap(marks, marks_bytes);
    }
    if (ready) {
      boost::system::error_code ignored;
      ready->close(ignored);
    }
    if (ring != nullptr) {
      ring_buffer__free(ring);
    }
    if (skel != nullptr) {
      result_observer_bpf::destroy(skel);
    }
    if (processes != nullptr) {
      process_observer_bpf::destroy(processes);
    }
  }
};

std::unique_ptr<ResultObserver> ResultObserver::Open(boost::asio::io_context& loop,
                                                     ObserverOptions options) {
  auto off = [&](std::string why) {
    return std::unique_ptr<ResultObserver>(
        new ResultObserver(loop, "the kernel observer is off: " + std::move(why)));
  };
  if (!options.enabled) {
    return off("--no-kernel-observer");
  }
  struct stat ns;
  if (stat("/proc/self/ns/pid", &ns) != 0) {
    return off("stat /proc/self/ns/pid: " + ErrnoText(errno));
  }
  if (ns.st_ino != kInitPidNamespaceInode) {
    return off("hijackd runs in a pid namespace of its own, whose thread ids the kernel's "
               "tracepoints do not use");
  }
  libbpf_set_print(LibbpfPrint);
  auto kernel = std::make_unique<Kernel>();
  kernel->skel = result_observer_bpf::open();
  if (kernel->skel == nullptr) {
    return off("opening the BPF object: " + ErrnoText(errno));
  }
  const uint32_t slots = options.slots;
  if (slots == 0 || (slots & (slots - 1)) != 0 || slots > HIJACK_OBSERVER_SLOTS) {
    return off("ObserverOptions::slots is " + std::to_string(slots) +
               ", not a power of two up to " + std::to_string(HIJACK_OBSERVER_SLOTS));
  }
  kernel->skel->rodata->slot_mask = slots - 1;
  if (int rc = bpf_map__set_max_entries(kernel->skel->maps.marks, slots + 1); rc != 0) {
    return off("sizing the marks array: " + ErrnoText(-rc));
  }
  if (int rc = result_observer_bpf::load(kernel->skel); rc != 0) {
    const int err = -rc;
    return off("bpf(BPF_PROG_LOAD) of the sys_exit program: " + ErrnoText(err) +
               (err == EPERM || err == EACCES
                    ? "; loading it needs CAP_BPF and CAP_PERFMON (or root)"
                    : ""));
  }
  if (int rc = result_observer_bpf::attach(kernel->skel); rc != 0) {
    return off("bpf(BPF_RAW_TRACEPOINT_OPEN) of sys_exit: " + ErrnoText(-rc));
  }
  kernel->pending_fd = bpf_map__fd(kernel->skel->maps.pending);
  kernel->dropped_fd = bpf_map__fd(kernel->skel->maps.dropped);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  kernel->marks_bytes = ((size_t{slots} + 1) * sizeof(uint64_t) + page - 1) / page * page;
  kernel->slot_mask = slots - 1;
  void* marks = mmap(nullptr, kernel->marks_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
                     bpf_map__fd(kernel->skel->maps.marks), 0);
  if (marks == MAP_FAILED) {
    return off("mmap of the marks array (BPF_F_MMAPABLE): " + ErrnoText(errno));
  }
  kernel->marks = static_cast<uint64_t*>(marks);
  std::unique_ptr<ResultObserver> self(new ResultObserver(loop, ""));
  kernel->ring =
      ring_buffer__new(bpf_map__fd(kernel->skel->maps.results), OnRecord, self.get(), nullptr);
  if (kernel->ring == nullptr) {
    return off("the ring buffer of results: " + ErrnoText(errno));
  }
  // The ring's epoll descriptor is libbpf's; the loop watches a duplicate of its own.
  const int watched = fcntl(ring_buffer__epoll_fd(kernel->ring), F_DUPFD_CLOEXEC, 0);
  if (watched < 0) {
    return off("F_DUPFD_CLOEXEC of the ring's descriptor: " + ErrnoText(errno));
  }
  kernel->ready = std::make_unique<boost::asio::posix::stream_descriptor>(loop, watched);
  self->kernel_ = std::move(kernel);
  self->Arm();
  spdlog::debug("the kernel observer reports the results of calls that run under notify");
  return self;
}

int OnRecord(void* ctx, void* data, size_t size) {
  if (size < sizeof(hijack_result)) {
    return 0;
  }
  hijack_result r;
  std::memcpy(&r, data, sizeof r);
  auto* self = static_cast<ResultObserver*>(ctx);
  if (r.nr == HIJACK_RESULT_PROCESS_ENDED) {
    self->OnProcessEnded(r.ticket, static_cast<pid_t>(r.tid), static_cast<int>(r.ret));
  } else {
    self->OnResult(static_cast<pid_t>(r.tid), r.nr, r.ret, r.ticket);
  }
  return 0;
}

std::string ResultObserver::OpenProcesses(Kernel& kernel, ResultObserver* self) {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    return "the process observer is off: /sys/kernel/btf/vmlinux: " + ErrnoText(errno) +
           " (it reads struct task_struct, whose layout it finds in the kernel's BTF)";
  }
  kernel.processes = process_observer_bpf::open();
  if (kernel.processes == nullptr) {
    return "the process observer is off: opening its BPF object: " + ErrnoText(errno);
  }
  if (int rc = process_observer_bpf::load(kernel.processes); rc != 0) {
    process_observer_bpf::destroy(kernel.processes);
    kernel.processes = nullptr;
    return "the process observer is off: bpf(BPF_PROG_LOAD) of the fork and exit programs: " +
           ErrnoText(-rc);
  }
  if (int rc = process_observer_bpf::attach(kernel.processes); rc != 0) {
    process_observer_bpf::destroy(kernel.processes);
    kernel.processes = nullptr;
    return "the process observer is off: bpf(BPF_RAW_TRACEPOINT_OPEN) of sched_process_fork "
           "and sched_process_exit: " + ErrnoText(-rc);
  }
  if (int rc = ring_buffer__add(kernel.ring, bpf_map__fd(kernel.processes->maps.ended), OnRecord,
                                self);
      rc != 0) {
    process_observer_bpf::destroy(kernel.processes);
    kernel.processes = nullptr;
    return "the process observer is off: its ring buffer: " + ErrnoText(-rc);
  }
  kernel.guest_procs_fd = bpf_map__fd(kernel.processes->maps.guest_procs);
  return "";
}

ResultObserver::~ResultObserver() = default;

void ResultObserver::Arm() {
  std::weak_ptr<int> alive = kernel_->alive;
  kernel_->ready->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                             [this, alive](const boost::system::error_code& ec) {
                               if (ec || alive.expired()) {
                                 return;
                               }
                               Drain();
                               Arm();
                             });
}

void ResultObserver::Drain() {
  if (kernel_ != nullptr) {
    ring_buffer__consume(kernel_->ring);
  }
}

namespace {

std::atomic_ref<uint64_t> Word(uint64_t* marks, uint32_t index) {
  return std::atomic_ref<uint64_t>(marks[index]);
}

}  // namespace

bool ResultObserver::Expect(pid_t tid, int nr) {
  if (kernel_ == nullptr) {
    return false;
  }
  if (auto old = waiting_.find(tid); old != waiting_.end()) {
    // Only a call whose Event never came (an answer that failed before Await) leaves this.
    Unmark(tid, old->second.in_hash);
    waiting_.erase(old);
  }
  const uint32_t ticket = next_ticket_++;
  if (next_ticket_ == 0) {
    next_ticket_ = 1;  // 0 is a free slot's
  }
  const uint32_t key = static_cast<uint32_t>(tid);
  std::atomic_ref<uint64_t> slot = Word(kernel_->marks, static_cast<uint32_t>(tid) & kernel_->slot_mask);
  const uint64_t held = slot.load(std::memory_order_relaxed);
  bool in_hash = false;
  if (held == 0 || static_cast<uint32_t>(held >> 32) == key) {
    // The answer's system call orders this store before the thread's return (result_record.h).
    slot.store(HIJACK_MARK(key, ticket), std::memory_order_relaxed);
  } else {
    // Another pending thread holds the slot (thread ids equal modulo its size): this call's
    // mark goes to the hash, at the cost of one bpf(2) call.
    hijack_pending mark{};
    mark.nr = nr;
    mark.ticket = ticket;
    if (bpf_map_update_elem(kernel_->pending_fd, &key, &mark, BPF_ANY) != 0) {
      refusal_ = "the kernel observer could not mark the call: bpf(BPF_MAP_UPDATE_ELEM): " +
                 ErrnoText(errno);
      return false;
    }
    Word(kernel_->marks, kernel_->slot_mask + 1).fetch_add(1, std::memory_order_relaxed);
    in_hash = true;
    ++overflow_marks_;
  }
  Waiting& w = waiting_[tid];
  w.ticket = ticket;
  w.in_hash = in_hash;
  return true;
}

void ResultObserver::Unmark(pid_t tid, bool in_hash) {
  const uint32_t key = static_cast<uint32_t>(tid);
  if (!in_hash) {
    std::atomic_ref<uint64_t> slot = Word(kernel_->marks, static_cast<uint32_t>(tid) & kernel_->slot_mask);
    uint64_t held = slot.load(std::memory_order_relaxed);
    // The program may clear it meanwhile (the call returned): only our own mark is cleared.
    if (static_cast<uint32_t>(held >> 32) == key) {
      slot.compare_exchange_strong(held, 0, std::memory_order_relaxed);
    }
    return;
  }
  // ENOENT: the program took the mark already, and lowered the count itself.
  if (bpf_map_delete_elem(kernel_->pending_fd, &key) == 0) {
    Word(kernel_->marks, kernel_->slot_mask + 1).fetch_sub(1, std::memory_order_relaxed);
  }
}

void ResultObserver::SawProcess(uint64_t guest_id, pid_t pid) {
  if (kernel_ == nullptr || kernel_->processes == nullptr || members_.contains(pid) ||
      !watchers_.contains(guest_id)) {
    return;
  }
  const uint32_t key = static_cast<uint32_t>(pid);
  const uint64_t value = guest_id;
  // BPF_NOEXIST: the fork program may have added it already. A full map (E2BIG) only loses
  // this process's exit line.
  if (bpf_map_update_elem(kernel_->guest_procs_fd, &key, &value, BPF_NOEXIST) != 0 &&
      errno != EEXIST) {
    spdlog::debug("the process observer could not add process {}: bpf(BPF_MAP_UPDATE_ELEM): {}",
                  pid, ErrnoText(errno));
    return;
  }
  members_[pid] = guest_id;
}

void ResultObserver::ForgetMembers(uint64_t guest_id) {
  if (kernel_ == nullptr || kernel_->processes == nullptr) {
    return;
  }
  std::erase_if(members_, [&](const auto& member) {
    if (member.second != guest_id) {
      return false;
    }
    const uint32_t key = static_cast<uint32_t>(member.first);
    bpf_map_delete_elem(kernel_->guest_procs_fd, &key);  // ENOENT: its exit took it out
    return true;
  });
}

uint64_t ResultObserver::Dropped() const {
  if (kernel_ == nullptr) {
    return 0;
  }
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) {
    return 0;
  }
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus));
  const uint32_t key = 0;
  if (bpf_map_lookup_elem(kernel_->dropped_fd, &key, per_cpu.data()) != 0) {
    return 0;
  }
  uint64_t sum = 0;
  for (uint64_t n : per_cpu) {
    sum += n;
  }
  return sum;
}

void ResultObserver::Poll() {
  if (polling_ || kernel_ == nullptr) {
    return;
  }
  polling_ = true;
  poll_timer_.expires_after(poll_interval_);
  std::weak_ptr<int> alive = kernel_->alive;
  poll_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (ec || alive.expired()) {
      return;
    }
    polling_ = false;
    const size_t before = waiting_.size();
    Drain();
    if (waiting_.empty()) {
      poll_interval_ = kFirstPoll;
      return;
    }
    poll_interval_ = waiting_.size() < before ? kFirstPoll
                                              : std::min(poll_interval_ * 2, kLongestPoll);
    Poll();
  });
}

#else  // !HIJACK_HAVE_BPF_OBSERVER

struct ResultObserver::Kernel {};

std::unique_ptr<ResultObserver> ResultObserver::Open(boost::asio::io_context& loop,
                                                     ObserverOptions options) {
  return std::unique_ptr<ResultObserver>(new ResultObserver(
      loop, options.enabled ? "the kernel observer is off: this hijackd was built without it "
                              "(libbpf-dev, bpftool and clang were missing at build time)"
                            : "the kernel observer is off: --no-kernel-observer"));
}

ResultObserver::~ResultObserver() = default;
void ResultObserver::Arm() {}
void ResultObserver::Drain() {}
bool ResultObserver::Expect(pid_t, int) { return false; }
void ResultObserver::Unmark(pid_t, bool) {}
void ResultObserver::SawProcess(uint64_t, pid_t) {}
void ResultObserver::ForgetMembers(uint64_t) {}
void ResultObserver::Poll() {}
uint64_t ResultObserver::Dropped() const { return 0; }

#endif  // HIJACK_HAVE_BPF_OBSERVER

ResultObserver::ResultObserver(boost::asio::io_context& loop, std::string reason)
    : loop_(loop), reason_(std::move(reason)), poll_timer_(loop) {}

void ResultObserver::SayWhyOnce(const std::string& why) {
  if (said_why_) {
    return;
  }
  said_why_ = true;
  spdlog::warn("the results of calls that the notify backend lets run are unknown ({}); "
               "--backend ptrace shows them at ptrace's cost",
               why);
}

void ResultObserver::Await(Event record, Completion done) {
  auto it = waiting_.find(record.call.tid);
  if (it == waiting_.end() || !record.result_note.empty()) {
    if (it != waiting_.end()) {
      Unmark(record.call.tid, it->second.in_hash);  // the answer failed: the call may never run
      waiting_.erase(it);
    }
    done(std::move(record));
    return;
  }
  Waiting& w = it->second;
  w.has_event = true;
  w.event = std::move(record);
  w.done = std::move(done);
  if (w.has_result) {
    Waiting complete = std::move(w);
    waiting_.erase(it);
    Complete(complete);
    return;
  }
  // The call may have returned already; its record then sits in the ring.
  Drain();
  if (!waiting_.empty()) {
    Poll();
  }
}

void ResultObserver::OnResult(pid_t tid, int nr, int64_t ret, uint64_t ticket) {
  auto it = waiting_.find(tid);
  if (it == waiting_.end() || it->second.ticket != ticket) {
    return;  // a call given up on already (NextCall, GuestEnded)
  }
  Waiting& w = it->second;
  if (nr == HIJACK_RESULT_THREAD_ENDED) {
    if (!w.has_event) {
      waiting_.erase(it);  // the answer was sent, the Event is yet to come: it goes without
      return;
    }
    Waiting ended = std::move(w);
    waiting_.erase(it);
    Finish(ended, "the thread ended inside the call");
    return;
  }
  w.has_result = true;
  w.result_nr = nr;
  w.result = ret;
  w.returned_ns = common::MonotonicNs();
  if (!w.has_event) {
    return;  // Await() takes it
  }
  Waiting done = std::move(w);
  waiting_.erase(it);
  Complete(done);
}

void ResultObserver::Complete(Waiting& w) {
  Event e = std::move(w.event);
  if (w.result_nr != e.call.nr) {
    e.result_note = "the thread returned from syscall " + std::to_string(w.result_nr) +
                    " instead (the call was changed after the supervisor let it run)";
  } else {
    e.result = w.result;
    e.returned_ns = w.returned_ns;
  }
  w.done(std::move(e));
}

void ResultObserver::Finish(Waiting& w, std::string note) {
  Event e = std::move(w.event);
  Completion done = std::move(w.done);
  e.result_note = std::move(note);
  done(std::move(e));
}

void ResultObserver::NextCall(pid_t tid) {
  if (waiting_.empty()) {
    return;
  }
  // Every intercepted call reads what the ring holds (no system call when it is empty): the
  // program does not wake the loop for each result.
  Drain();
  auto it = waiting_.find(tid);
  if (it == waiting_.end()) {
    return;
  }
  Waiting w = std::move(it->second);
  waiting_.erase(it);
  Unmark(tid, w.in_hash);
  if (w.has_event) {
    const uint64_t dropped = Dropped();
    Finish(w, dropped > 0 ? "the kernel observer lost its return (its ring was full: " +
                                std::to_string(dropped) + " results dropped so far)"
                          : std::string("the kernel observer saw no return before the thread's "
                                        "next call"));
  }
}

void ResultObserver::WatchProcesses(uint64_t guest_id, ProcessEnded ended) {
  if (kernel_ != nullptr && kernel_->processes == nullptr && !processes_tried_) {
    // Loaded at the first watch, not at Open: libbpf reads and parses the kernel's BTF for it
    // (/sys/kernel/btf/vmlinux, some MiB), which costs every run tens of milliseconds, and most
    // policies never ask how a process ended.
    processes_tried_ = true;
    process_reason_ = OpenProcesses(*kernel_, this);
    if (!process_reason_.empty()) {
      spdlog::debug("{}", process_reason_);
    }
  }
  watchers_[guest_id] = std::move(ended);
}

void ResultObserver::OnProcessEnded(uint64_t guest_id, pid_t pid, int wait_status) {
  members_.erase(pid);
  if (auto it = watchers_.find(guest_id); it != watchers_.end()) {
    it->second(pid, wait_status);
  }
}

void ResultObserver::StopWatching(uint64_t guest_id) {
  ForgetMembers(guest_id);
  watchers_.erase(guest_id);
}

void ResultObserver::GuestEnded(uint64_t guest_id) {
  // What the kernel sent before the guest's end was seen belongs to it: read it first.
  Drain();
  StopWatching(guest_id);
  if (waiting_.empty()) {
    return;
  }
  std::vector<pid_t> ended;
  for (auto& [tid, w] : waiting_) {
    if (w.has_event && w.event.call.guest_id == guest_id) {
      ended.push_back(tid);
    }
  }
  for (pid_t tid : ended) {
    auto it = waiting_.find(tid);
    Waiting w = std::move(it->second);
    waiting_.erase(it);
    Unmark(tid, w.in_hash);
    Finish(w, "the thread ended inside the call");
  }
}

}  // namespace hijack::observe
