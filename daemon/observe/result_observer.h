// ResultObserver: the results of the calls the notify backend lets run, seen from the kernel.
//
// Under seccomp user notification a call answered with SECCOMP_USER_NOTIF_FLAG_CONTINUE runs in
// the kernel and nothing reports its return to the supervisor (seccomp_unotify(2)). Where the
// supervisor may load BPF programs (CAP_BPF and CAP_PERFMON, or root; a build with libbpf) this
// observer attaches one to the raw_syscalls:sys_exit tracepoint (result_observer.bpf.c) and
// joins each such call with its thread's return:
//
//   auto observer = ResultObserver::Open(loop, {});         // once per supervisor
//   // right before the answer that lets tid 42 run openat:
//   if (!observer->Expect(42, SYS_openat)) { note observer->unavailable_reason(); }
//   // once the answer went out, hand the call's Event over; `done` gets it with its result:
//   observer->Await(std::move(record), [](Event&& e) { publish(e); });
//
// The supervisor marks the thread before it answers, with a plain store into its mapping of a
// BPF array (no system call per answer; result_record.h says who writes which word); the thread
// cannot return before the answer, so its next sys_exit is that call's, and the program sends (tid, nr, ret,
// ticket) through a BPF ring buffer that the loop reads (at the thread's next intercepted call,
// or on a short timer: the program does not wake the loop for each record). An Event waits as long as its call runs
// (a blocking read is reported when it returns, as strace reports it), and no longer than the
// thread's next intercepted call or the end of its guest: a result that never came (the ring was
// full, the thread ended inside the call, an exec in another thread replaced it) completes the
// Event without a result and with Event::result_note saying why.
//
// Observation fails open: when the program cannot be loaded (no privilege, BPF refused by the
// kernel or a sandbox, a build without libbpf) the observer says why in unavailable_reason()
// and Expect() returns false; guests run as before.
//
// Threads: the loop thread only (Open included); `done` runs on it.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "hijack/event.h"

namespace hijack::observe {

struct ObserverOptions {
  // false: never load the program (hijackd run --no-kernel-observer); the reason says so.
  bool enabled = true;
  // Slots of the marks array (a power of two; result_record.h): thread ids equal modulo this
  // while both are pending share one, and the second goes to the hash map. Tests make it small.
  uint32_t slots = 65536;
};

class ResultObserver {
 public:
  using Completion = std::function<void(Event&&)>;

  // Loads and attaches the BPF program, or keeps the reason it could not. Never fails: an
  // observer that is unavailable only says why.
  static std::unique_ptr<ResultObserver> Open(boost::asio::io_context& loop,
                                              ObserverOptions options);
  ~ResultObserver();  // detaches the program; Events still waiting are dropped
  ResultObserver(const ResultObserver&) = delete;
  ResultObserver& operator=(const ResultObserver&) = delete;

  bool available() const { return kernel_ != nullptr; }
  // Why results are unknown when !available(): "the kernel observer is off: bpf(BPF_PROG_LOAD):
  // EPERM (it needs CAP_BPF and CAP_PERFMON)".
  const std::string& unavailable_reason() const { return reason_; }

  // Thread `tid` (in the supervisor's pid namespace) is about to run call `nr`: marks it so that
  // its return is reported. Call right before the answer is sent. False when the result will not
  // be observed (unavailable, or the kernel refused an overflow mark: ENOMEM, E2BIG); the
  // reason of the last refusal is in unavailable_reason() or last_refusal().
  bool Expect(pid_t tid, int nr);
  const std::string& last_refusal() const { return refusal_; }

  // The Event of a call Expect() marked, once its answer is out: `done` gets it with `result`
  // and `returned_ns` set when the call returns (maybe during this call; `end_ns` stays the
  // answer's time). An Event whose thread was
  // not marked, or whose answer failed (its result_note is set), goes to `done` at once.
  void Await(Event record, Completion done);

  // Thread `tid` makes a new intercepted call: its previous call has returned, so a result not
  // read by now is lost; that Event completes with a note. Cheap when nothing waits for `tid`.
  void NextCall(pid_t tid);

  // Guest `guest_id` has ended: every Event of it still waiting completes with a note (the
  // thread ended inside the call, as a killed blocking read does), and its process watch ends.
  void GuestEnded(uint64_t guest_id);

  // The process observer, beside the result observer where the kernel has BTF: how each process
  // of a guest ended, which the notify backend cannot see (its filter lets exit_group(2) run
  // unasked, and the guest's children are not hijackd's to wait for). After WatchProcesses,
  // `ended(pid, wait_status)` runs (loop thread) for every process of the guest that SawProcess
  // named or that such a process forked, until GuestEnded. Where the program is off, nothing
  // is reported and process_unavailable_reason() says why. The program is loaded at the first
  // WatchProcesses (it costs tens of milliseconds), so only guests that asked are followed.
  using ProcessEnded = std::function<void(pid_t pid, int wait_status)>;
  void WatchProcesses(uint64_t guest_id, ProcessEnded ended);
  // Process `pid` of a watched guest made an intercepted call: a member from now on. One hash
  // lookup when it is one already.
  void SawProcess(uint64_t guest_id, pid_t pid);
  // Ends the watch of guest `guest_id` without reading what the kernel sent (its Guest goes).
  void StopWatching(uint64_t guest_id);
  bool processes_available() const { return available() && process_reason_.empty(); }
  const std::string& process_unavailable_reason() const {
    return available() ? process_reason_ : reason_;
  }

  // Says on the log, once per observer, why results are unknown (`why`, an Event::result_note):
  // every trace line then lacks a result for that one reason.
  void SayWhyOnce(const std::string& why);

  // Records the kernel side could not deliver (its ring was full), since Open.
  uint64_t Dropped() const;
  // Marks that went to the hash map (their thread's slot was held by another pending thread),
  // each at the cost of a bpf(2) call, since Open.
  uint64_t overflow_marks() const { return overflow_marks_; }

 private:
  struct Kernel;  // the loaded program and its maps; only in builds with libbpf
  struct Waiting {
    uint32_t ticket = 0;
    bool in_hash = false;  // marked in the pending hash map, not in the thread's slot
    bool has_event = false;
    Event event;
    Completion done;
    bool has_result = false;  // the return came (maybe before the Event was handed over)
    int result_nr = -1;
    int64_t result = 0;
    int64_t returned_ns = 0;
  };

  ResultObserver(boost::asio::io_context& loop, std::string reason);
  friend int OnRecord(void* ctx, void* data, size_t size);
  // Loads the process observer beside the result observer's ring; its reason when it cannot.
  static std::string OpenProcesses(Kernel& kernel, ResultObserver* self);
  void OnProcessEnded(uint64_t guest_id, pid_t pid, int wait_status);
  void ForgetMembers(uint64_t guest_id);
  void Arm();
  void Drain();
  void OnResult(pid_t tid, int nr, int64_t ret, uint64_t ticket);
  void Complete(Waiting& w);  // with its result
  void Finish(Waiting& w, std::string note);  // without one, saying why
  void Unmark(pid_t tid, bool in_hash);
  // The program submits without waking the loop; while Events wait, the loop reads the ring on
  // this timer, from every 2 ms up to every 128 ms while nothing comes (a long blocking call).
  void Poll();

  static constexpr std::chrono::milliseconds kFirstPoll{2};
  static constexpr std::chrono::milliseconds kLongestPoll{128};

  boost::asio::io_context& loop_;
  std::string reason_;
  std::string refusal_;
  std::unique_ptr<Kernel> kernel_;
  uint32_t next_ticket_ = 1;
  uint64_t overflow_marks_ = 0;
  bool said_why_ = false;
  boost::asio::steady_timer poll_timer_;
  bool polling_ = false;
  std::chrono::milliseconds poll_interval_ = kFirstPoll;
  std::unordered_map<pid_t, Waiting> waiting_;
  std::string process_reason_ = "the process observer is off: no guest asked for it yet";
  bool processes_tried_ = false;
  std::unordered_map<uint64_t, ProcessEnded> watchers_;  // guest id -> its callback
  std::unordered_map<pid_t, uint64_t> members_;          // process -> guest, as added

};

}  // namespace hijack::observe
