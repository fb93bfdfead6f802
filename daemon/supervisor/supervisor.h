// Supervisor: every guest of one hijackd, the Boost.Asio loop that serves them, the reaper, the
// event bus, and the backends. `hijackd run` uses it for its single guest, `hijackd serve` for
// many; the control service reaches guests only through it.
//
//   Supervisor sup({.sync_wakeup = true});
//   sup.StartLoop();                                   // the loop runs on its own thread
//   Result<GuestInfo> g = sup.OnLoop([&] { return sup.Launch(std::move(spec)); }, deadline);
//   ...
//   sup.TerminateGuests(std::chrono::seconds(5));      // SIGTERM, then SIGKILL
//   sup.StopLoop();
//
// Threads: Launch, Kill, Find, Info, List and AddExitListener run on the loop thread only (guest
// state belongs to it). Any other thread (gRPC handlers, main) reaches them through OnLoop(),
// which posts and waits with a deadline. SIGCHLD must be blocked in every thread before the
// Supervisor is built (ProcessReaper reads it from a signalfd).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "daemon/backend/backend_set.h"
#include "daemon/backend/backend_table.h"
#include "daemon/events/event_bus.h"
#include "daemon/launcher/reaper.h"
#include "daemon/observe/result_observer.h"
#include "daemon/policy/policy_set.h"
#include "daemon/supervisor/guest.h"
#include "hijack/backend.h"
#include "hijack/result.h"

namespace hijack::supervisor {

struct SupervisorOptions {
  bool sync_wakeup = true;    // notify: SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP where supported
  size_t max_guests = 256;    // running guests; Launch beyond it fails with EAGAIN
  size_t keep_exited = 64;    // exited guests kept so their exit status can be read
  // How each guest tree is bound to the supervisor's life (daemon/launcher/namespace_init.h):
  // "pidns" (a pid namespace whose init dies with hijackd; a launch fails where the kernel
  // refuses it), "none" (PR_SET_PDEATHSIG on the guest only), or "auto" (pidns where the kernel
  // allows it, else none, with a warning once).
  std::string contain = "auto";
  // Worker threads for decisions of modules that may block (decision_pool.h): this many such
  // calls are decided at once, across all guests; the loop decides every other call meanwhile.
  // 0: no pool, every decision on the loop, so one slow decision holds every guest (what the
  // benchmark bench/micro/pending_neighbour.cc compares against).
  size_t decision_workers = 4;
  // false (hijackd serve --no-landlock): no guest gets a Landlock floor, whatever it asks.
  bool landlock_floor = true;
  // The kernel result observer (daemon/observe/result_observer.h) for guests under notify,
  // loaded with the first of them: false (--no-kernel-observer) leaves those results unknown.
  bool kernel_observer = true;
};

struct GuestSpec {
  std::vector<std::string> argv;              // argv[0] resolved against PATH from `env`
  std::vector<std::string> env;               // complete environment, "NAME=value"
  std::string cwd;                            // empty: the daemon's
  std::shared_ptr<policy::PolicySet> policy;  // validated; required
  SyscallSet extra_intercept;                 // beyond what the policy needs
  backend::BackendChoice backend;  // auto unless set
  std::optional<GuestCredentials> credentials;  // empty: the daemon's own rights
  // The agent to preload (exec_page::PreloadableAgentLibrary); empty: none. Backends without an
  // executive page run the guest without it.
  std::string agent_library;
  GuardOptions guard;  // the supervisor's own protection (guest_guard.h)
  // The guest's standard input, output and error (LaunchSpec::stdio); -1: the supervisor's.
  // Borrowed until Launch returns.
  std::array<int, 3> stdio = {-1, -1, -1};
};

// A guest whose filter another program installed (Backend::Adopt): an OCI runtime's container.
struct AdoptedGuestSpec {
  std::vector<std::string> argv;  // what GuestInfo::argv shows for it
  pid_t pid = -1;                 // the main process, in the supervisor's pid namespace
  UniqueFd pidfd;                 // of `pid`
  UniqueFd listener;              // the installer's seccomp listener
  std::shared_ptr<policy::PolicySet> policy;  // validated; required
  // The calls the installer's filter sends to the listener, unconditionally: what the policy
  // may need, now and after a SetPolicy.
  SyscallSet intercept;
  bool installer_prelude = true;  // AdoptSpec::installer_prelude
};

// Processes that run already, to be watched under ptrace (hijackd strace -p): Supervisor::Attach.
struct AttachedGuestSpec {
  std::vector<pid_t> pids;  // thread-group leaders; the first is the guest's main process
  std::shared_ptr<policy::PolicySet> policy;  // validated; required; observes only
  bool follow_forks = false;  // their new children too (strace -f); new threads always
};

// A copy of what the supervisor knows about one guest, safe to hand to any thread.
struct GuestInfo {
  uint64_t id = 0;
  pid_t pid = -1;
  std::vector<std::string> argv;
  BackendKind backend = BackendKind::kNotify;  // the one it runs under (auto resolved)
  // "pidns" (a pid namespace of its own), "pidns+userns" (with a user namespace, for an
  // unprivileged hijackd) or "none": what ends the guest tree with the supervisor.
  std::string containment;
  bool running = false;
  // waitpid(2) status once exited; empty after the exit too when it could not be known
  // (kUnknownWaitStatus: an adopted guest reaped by its own parent on an older kernel).
  std::optional<int> wait_status{};
  SyscallSet intercept;
  SyscallSet agent_exempt{};  // calls the guest's agent runs without the supervisor
  int64_t started_unix_ms = 0;
  int64_t exited_unix_ms = 0;
  uint64_t policy_version = 0;
  uint64_t observer_drops = 0;
  ProtectionLayers protection;  // what keeps this guest away from the supervisor
};

class Supervisor {
 public:
  // `wait_status` is kUnknownWaitStatus when the guest's status could not be known.
  using ExitListener = std::function<void(uint64_t id, int wait_status)>;

  explicit Supervisor(SupervisorOptions options = {});
  ~Supervisor();  // stops the loop; guests still running die with the daemon (PR_SET_PDEATHSIG)
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  boost::asio::io_context& loop() { return loop_; }
  events::EventBus& bus() { return bus_; }

  // Runs the loop on a new thread until StopLoop(). Call once.
  void StartLoop();
  // Stops the loop and joins its thread. Posted work that has not run is dropped. Not from the
  // loop thread.
  void StopLoop();

  // Runs `fn` on the loop thread and returns its result, or ETIMEDOUT when the loop did not run
  // it before `deadline`, or ESHUTDOWN when the loop is stopped. `fn` must return a Result and
  // own everything it captures (it may run after a timed-out caller has left).
  template <typename F>
  std::invoke_result_t<F> OnLoop(F fn, std::chrono::steady_clock::time_point deadline);

  // ---- Loop thread only. ----

  // Starts a guest. Errors: ENOENT/EACCES for a program that cannot be executed, EAGAIN when
  // max_guests run already, the backend's errors (no seccomp notify, filter refused).
  Result<GuestInfo> Launch(GuestSpec spec);
  // Serves a guest whose listener was handed over, under the notify backend. The guest guard
  // refuses nothing aimed outside the tree (the pids in an installer's guest are those of its own
  // namespaces, which the installer's namespaces keep apart; the supervisor did not place it),
  // and there is no Landlock floor or agent. Errors: EAGAIN at max_guests; EINVAL when the
  // policy needs calls outside `intercept` or judges exec'd images (no exec watch for a process
  // the supervisor did not start); the backend's.
  Result<GuestInfo> Adopt(AdoptedGuestSpec spec);
  // Watches processes that run already, under the ptrace-all mechanism (every call stops:
  // there is no seccomp filter in them), without changing anything they do: PTRACE_SEIZE
  // without PTRACE_O_EXITKILL, so they outlive hijackd (backend/ptrace/tracer.h,
  // AttachRunning). Errors: EINVAL for a policy with a module that enforces (nothing was in
  // place when the process started, and nothing can be promised now) or judges images; EAGAIN
  // at max_guests; the tracer's (ESRCH, EPERM: ptrace(2)).
  Result<GuestInfo> Attach(AttachedGuestSpec spec);
  // Lets go of attached guest `id` (Tracer::Detach): its processes go on untraced, and the
  // guest ends with kUnknownWaitStatus once every thread is let go. ESRCH for an unknown or
  // ended guest, EINVAL for one the supervisor started.
  Result<void> Detach(uint64_t id);
  // Another listener of running adopted guest `id` (Backend::JoinListener). ESRCH otherwise.
  Result<void> JoinListener(uint64_t id, UniqueFd listener, bool installer_prelude);
  // Sends `sig` to the guest's main process. ESRCH for an unknown id, EALREADY once it exited,
  // kill(2)'s errno otherwise.
  Result<void> Kill(uint64_t id, int sig);
  Result<GuestInfo> Info(uint64_t id) const;
  std::vector<GuestInfo> List() const;
  // The guest's SyscallHandler side, whose policy engine and module counters are thread-safe;
  // the shared_ptr keeps it alive for a caller that leaves the loop. ESRCH for an unknown id.
  Result<std::shared_ptr<Guest>> Find(uint64_t id) const;
  // After a policy swap of guest `id` (PolicyEngine::Replace): the guest's backend brings what
  // it derives from the policy up to date (Backend::PolicyChanged). ESRCH for an unknown id.
  Result<void> PolicyInstalled(uint64_t id);
  // Called on the loop thread after each guest's exit, once its record says so.
  void AddExitListener(ExitListener listener) { exit_listeners_.push_back(std::move(listener)); }

  // ---- Any thread but the loop's. ----

  // Sends SIGTERM to every running guest, waits up to `grace` for them to end, then SIGKILLs the
  // rest and waits up to `grace` again. Returns how many guests were still running at the end.
  size_t TerminateGuests(std::chrono::milliseconds grace);
  size_t RunningGuests();

 private:
  struct Record {
    GuestInfo info;
    std::shared_ptr<Guest> guest;
    Backend* backend = nullptr;  // owned by backends_
    // The policy whose modules AttachGuest'ed this guest (PolicyModule::AttachGuest); null once
    // it exited.
    std::shared_ptr<const policy::PolicySet> attached;
  };

  // Detaches the modules of the policy attached to `record` and attaches the current one's, if
  // they differ; detaches only, once the guest exited.
  void AttachModules(Record& record);

  GuestInfo Snapshot(const Record& record) const;
  // Records a guest that runs now (`info` as Launch, Adopt or Attach knows it; running and the
  // start time are set here), attaches its policy's modules when `attach_modules`, and counts
  // it among the running guests. Returns the record's snapshot.
  GuestInfo Register(Backend* backend, std::shared_ptr<Guest> guest, bool attach_modules,
                     GuestInfo info);
  void Exited(uint64_t id, int wait_status);
  void PruneExited();
  // The one observer of every notify guest, opened on first use (loading BPF costs a launch
  // that does not need it nothing).
  observe::ResultObserver& Observer();

  const SupervisorOptions options_;
  bool warned_no_landlock_ = false;  // the warning that Landlock scoping is missing, once
  bool warned_no_floor_ = false;     // the warning that a Landlock floor is missing, once
  bool contain_refused_ = false;  // a pid namespace was refused under contain "auto": no more tries
  boost::asio::io_context loop_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  launcher::ProcessReaper reaper_;
  events::EventBus bus_;
  // One instance per kind, and what "auto" means here. The backends live as long as the
  // supervisor: they register observers with the reaper.
  backend::BackendSet backends_;
  std::map<uint64_t, Record> guests_;
  std::set<uint64_t> attached_;  // guests made by Attach
  uint64_t next_id_ = 1;
  std::vector<ExitListener> exit_listeners_;
  std::thread loop_thread_;
  std::atomic<bool> loop_stopped_{false};

  std::mutex running_mu_;  // guards running_ for threads waiting in TerminateGuests
  std::condition_variable running_cv_;
  size_t running_ = 0;
  std::unique_ptr<observe::ResultObserver> observer_;  // before the loop and the bus go
  // Last: its workers are joined before anything they reach (the loop's queue) goes away.
  // Empty when options_.decision_workers is 0.
  std::unique_ptr<DecisionPool> pool_;
};

template <typename F>
std::invoke_result_t<F> Supervisor::OnLoop(F fn, std::chrono::steady_clock::time_point deadline) {
  using R = std::invoke_result_t<F>;
  if (loop_stopped_.load()) {
    return std::unexpected(Error{ESHUTDOWN, "the supervisor is shutting down"});
  }
  auto done = std::make_shared<std::promise<R>>();
  std::future<R> result = done->get_future();
  boost::asio::post(loop_, [fn = std::move(fn), done]() mutable { done->set_value(fn()); });
  if (result.wait_until(deadline) != std::future_status::ready) {
    return std::unexpected(Error{ETIMEDOUT, "the supervisor loop did not answer in time"});
  }
  return result.get();
}

}  // namespace hijack::supervisor
