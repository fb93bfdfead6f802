#include "daemon/supervisor/supervisor.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include <chrono>
#include <spdlog/spdlog.h>

#include "daemon/backend/notify/notify_backend.h"
#include "daemon/backend/ptrace/ptrace_backend.h"
#include "daemon/launcher/launcher.h"
#include "daemon/policy/admission.h"

namespace hijack::supervisor {
namespace {

int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string PathOf(const std::vector<std::string>& env) {
  for (const auto& e : env) {
    if (e.starts_with("PATH=")) {
      return e.substr(5);
    }
  }
  return "/usr/local/bin:/usr/bin:/bin";
}

// What the kernel says of the guest's namespaces, compared with the supervisor's own.
std::string ContainmentOf(pid_t pid, Containment requested) {
  if (requested == Containment::kNone) {
    return "none";
  }
  // An unreadable link (a guest that made itself non-dumpable) says nothing: pidns.
  char mine[64] = {}, theirs[64] = {};
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/user";
  const bool other_user_ns = readlink("/proc/self/ns/user", mine, sizeof mine - 1) > 0 &&
                             readlink(path.c_str(), theirs, sizeof theirs - 1) > 0 &&
                             std::string_view(mine) != std::string_view(theirs);
  return other_user_ns ? "pidns+userns" : "pidns";
}

}  // namespace

Supervisor::Supervisor(SupervisorOptions options)
    : options_(options),
      work_(boost::asio::make_work_guard(loop_)),
      reaper_(loop_),
      backends_(loop_, reaper_, {.sync_wakeup = options_.sync_wakeup}),
      pool_(options_.decision_workers > 0
                ? std::make_unique<DecisionPool>(loop_, options_.decision_workers)
                : nullptr) {}

Supervisor::~Supervisor() {
  StopLoop();
  guests_.clear();
}

void Supervisor::StartLoop() {
  loop_thread_ = std::thread([this] { loop_.run(); });
}

void Supervisor::StopLoop() {
  loop_stopped_.store(true);
  work_.reset();
  loop_.stop();
  if (loop_thread_.joinable()) {
    loop_thread_.join();
  }
}

Result<GuestInfo> Supervisor::Launch(GuestSpec spec) {
  if (spec.argv.empty()) {
    return std::unexpected(Error{EINVAL, "launch: the command is empty"});
  }
  if (spec.policy == nullptr) {
    return std::unexpected(Error{EINVAL, "launch: no policy"});
  }
  if (RunningGuests() >= options_.max_guests) {
    return std::unexpected(Error{EAGAIN, "launch: " + std::to_string(options_.max_guests) +
                                             " guests run already (the limit)"});
  }
  auto exe = launcher::ResolveExecutable(spec.argv[0], PathOf(spec.env));
  if (!exe) {
    // ResolveExecutable reports shell statuses (127, 126); callers here want errnos.
    return std::unexpected(
        Error{exe.error().code == 127 ? ENOENT : EACCES, exe.error().message});
  }
  HIJACK_ASSIGN_OR_RETURN(backend::BackendSet::Selected selected, backends_.Select(spec.backend));
  Backend* backend = selected.backend;
  BackendKind kind = selected.kind;
  // A policy the backend cannot apply (fs_guard strict needs InjectFd) is refused at launch, by
  // the rules that SetPolicy and ValidatePolicy apply later.
  if (auto fits = policy::AdmitPolicy(*spec.policy, policy::CapabilitiesOf(*backend)); !fits) {
    return std::unexpected(Error{EINVAL, fits.error().message});
  }
  SyscallSet intercept = spec.policy->needed();
  intercept.AddAll(spec.extra_intercept);
  spec.guard.landlock_floor = spec.guard.landlock_floor && options_.landlock_floor;
  ProtectionLayers protection = ProbeProtection(spec.guard);
  intercept.AddAll(GuardSyscalls(protection));
  // The kernel floor (Landlock) of the policy's confining modules, fitted to this kernel. What
  // the guest needs to start stays reachable: execve(2) opens the program and its interpreter
  // itself, and the loader maps the agent, none of which a module sees as the guest's own call.
  const bool floor_lost = AddKernelFloors(protection, *spec.policy, *exe, spec.agent_library);
  if (floor_lost && spec.guard.landlock_floor && !warned_no_floor_) {
    warned_no_floor_ = true;
    spdlog::warn("no Landlock floor ({}): fs_guard, exec_guard and net_guard rules are enforced "
                 "by the modules alone (hijackctl show lists them; docs/SECURITY.md)",
                 protection.landlock_abi == 0
                     ? std::string("no Landlock on this kernel")
                     : "Landlock ABI " + std::to_string(protection.landlock_abi) +
                           " cannot hold some rules");
  }
  if (spec.guard.landlock_scope && !protection.landlock_scope && !warned_no_landlock_) {
    warned_no_landlock_ = true;
    spdlog::warn("no Landlock scoping ({}): the supervisor refuses guests' signals, traces and "
                 "memory access aimed outside their trees itself, and intercepts kill, tgkill, "
                 "fcntl, ioctl and the rest of that family to do so (docs/SECURITY.md)",
                 protection.Describe()[1].detail);
  }

  const uint64_t id = next_id_++;
  std::shared_ptr<policy::PolicySet> policy = std::move(spec.policy);
  // One Guest for every attempt below: a failed launch asked it queries only (the backend
  // commits what the guest's agent may run once the guest runs), so it is as it was.
  auto guest = std::make_shared<Guest>(id, policy, intercept, protection, bus_,
                                       [this, id](int status) { Exited(id, status); },
                                       pool_.get());
  // Live policy changes must fit the backend too (PolicyEngine::Replace checks).
  guest->engine().SetBackend(*backend);
  LaunchSpec launch;
  launch.guest_id = id;
  launch.path = *exe;
  launch.argv = spec.argv;
  launch.env = std::move(spec.env);
  launch.cwd = spec.cwd;
  launch.intercept = intercept;
  launch.reserved = spec.extra_intercept;
  launch.credentials = spec.credentials;
  launch.stdio = spec.stdio;
  if (!spec.agent_library.empty()) {
    // As fs_guard resolves the loader's open of it: a denial names the library by its real path.
    char real[PATH_MAX];
    guest->SetAgentLibrary(realpath(spec.agent_library.c_str(), real) != nullptr
                               ? std::string(real)
                               : spec.agent_library);
  }
  launch.agent_library = std::move(spec.agent_library);
  launch.landlock_scope = protection.landlock_scope;
  launch.landlock_abi = protection.landlock_abi;
  for (const KernelFloor& f : protection.floors) {
    if (!f.empty()) {
      launch.landlock_floor.push_back(f);
    }
  }
  guest->engine().SetKernelFloor(launch.landlock_floor);
  launch.contain = options_.contain == "none" || (options_.contain == "auto" && contain_refused_)
                       ? Containment::kNone
                       : Containment::kPidNamespace;
  guest->SetResultObserver(kind == BackendKind::kNotify ? &Observer() : nullptr);
  auto pid = backend->Launch(launch, *guest);
  if (!pid) {
    // A kind taken on its quick probe (no probe guest at start-up) is probed in full now: a
    // failure that is the kind's, not this launch's, decides as the probe would have at Select,
    // before anything below reads the launch error as the namespace's or the agent's.
    if (std::optional<Error> unusable = backends_.LaunchFailed(kind)) {
      if (!spec.backend.automatic()) {
        return std::unexpected(*unusable);
      }
      HIJACK_ASSIGN_OR_RETURN(selected, backends_.Select(spec.backend));
      if (auto fits = policy::AdmitPolicy(*policy, policy::CapabilitiesOf(*selected.backend));
          !fits) {
        return std::unexpected(Error{EINVAL, fits.error().message});
      }
      backend = selected.backend;
      kind = selected.kind;
      guest->engine().SetBackend(*backend);
      guest->SetResultObserver(kind == BackendKind::kNotify ? &Observer() : nullptr);
      pid = backend->Launch(launch, *guest);
    }
  }
  if (!pid && options_.contain == "auto" && launcher::IsContainmentError(pid.error())) {
    // The kernel or a sandbox (a container engine's seccomp profile, a procfs with masked
    // paths) refuses the namespace: run uncontained, and say what is lost.
    spdlog::warn("the guest tree cannot end with hijackd ({}); descendants that clear their death "
                 "signal can outlive a killed hijackd (--contain none: no namespace, no warning)",
                 pid.error().message);
    contain_refused_ = true;
    launch.contain = Containment::kNone;
    pid = backend->Launch(launch, *guest);
  }
  if (!pid && spec.backend.automatic()) {
    // The probe passed but this launch did not (the sandbox refuses something only a real
    // launch does, such as the agent's memfd): `auto` means "whatever works here", so the
    // backend table's fallback runs it, unless the policy needs what only the first can do.
    auto fallback =
        backends_.AutoFallback(kind, pid.error(), [&](const Backend& candidate) {
          return policy::AdmitPolicy(*policy, policy::CapabilitiesOf(candidate)).has_value();
        });
    if (fallback) {
      backend = fallback->backend;
      kind = fallback->kind;
      guest->engine().SetBackend(*backend);
      guest->SetResultObserver(kind == BackendKind::kNotify ? &Observer() : nullptr);
      pid = backend->Launch(launch, *guest);
    }
  }
  if (!pid) {
    return std::unexpected(
        Error{pid.error().code, "cannot start " + launch.path + ": " + pid.error().message});
  }
  guest->guard().SetRoot(*pid, launch.contain == Containment::kPidNamespace);
  // Under notify the exec watch attaches only for a launch policy that judges images
  // (NotifyBackend): a later policy that judges them would have no exec stops to judge at.
  guest->engine().SetExecImages(kind != BackendKind::kNotify || guest->WantsExecImages());
  GuestInfo info = Register(backend, std::move(guest), /*attach_modules=*/true,
                            {.id = id,
                             .pid = *pid,
                             .argv = std::move(spec.argv),
                             .backend = kind,
                             .containment = ContainmentOf(*pid, launch.contain),
                             .intercept = intercept,
                             .protection = protection});
  spdlog::debug("guest {} is pid {}; intercepting {} syscalls", id, *pid, intercept.size());
  return info;
}

Result<GuestInfo> Supervisor::Adopt(AdoptedGuestSpec spec) {
  if (spec.policy == nullptr) {
    return std::unexpected(Error{EINVAL, "adopt: no policy"});
  }
  if (RunningGuests() >= options_.max_guests) {
    return std::unexpected(Error{EAGAIN, "adopt: " + std::to_string(options_.max_guests) +
                                             " guests run already (the limit)"});
  }
  HIJACK_ASSIGN_OR_RETURN(Backend * generic, backends_.Get(BackendKind::kNotify));
  // Only seccomp notification takes a listener made elsewhere.
  auto* backend = dynamic_cast<backend::NotifyBackend*>(generic);
  if (backend == nullptr) {
    return std::unexpected(Error{ENOTSUP, "adopt: the notify backend is not NotifyBackend"});
  }
  policy::BackendCapabilities caps = policy::CapabilitiesOf(*backend);
  caps.intercept = spec.intercept;
  if (auto fits = policy::AdmitPolicy(*spec.policy, caps); !fits) {
    return std::unexpected(Error{EINVAL, fits.error().message});
  }
  ProtectionLayers protection;
  protection.supervisor_not_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0;
  const uint64_t id = next_id_++;
  std::shared_ptr<policy::PolicySet> policy = std::move(spec.policy);
  auto guest = std::make_shared<Guest>(id, policy, spec.intercept, protection, bus_,
                                       [this, id](int status) { Exited(id, status); },
                                       pool_.get());
  if (guest->WantsExecImages()) {
    return std::unexpected(Error{
        EINVAL, "the policy judges exec'd images (exec_guard \"image\": \"verify\"), which needs "
                "an exec watch that only a guest the supervisor starts can have"});
  }
  guest->engine().SetBackend(*backend);
  guest->SetResultObserver(&Observer());
  guest->FollowProcesses();  // the runtime reaps the container: this is how its ends are known
  guest->guard().SetRoot(spec.pid, false);
  backend::AdoptSpec adopt;
  adopt.guest_id = id;
  adopt.listener = std::move(spec.listener);
  adopt.pidfd = std::move(spec.pidfd);
  adopt.pid = spec.pid;
  adopt.installer_prelude = spec.installer_prelude;
  HIJACK_TRY(backend->Adopt(std::move(adopt), *guest));
  // Containment "none": the installer (the runtime) holds the tree; if hijackd dies, the
  // filters stay and every notified call fails with ENOSYS (seccomp_unotify(2)).
  GuestInfo info = Register(backend, std::move(guest), /*attach_modules=*/false,
                            {.id = id,
                             .pid = spec.pid,
                             .argv = std::move(spec.argv),
                             .backend = BackendKind::kNotify,
                             .containment = "none",
                             .intercept = spec.intercept,
                             .protection = protection});
  spdlog::debug("guest {} adopted: pid {}; its filter sends {} syscalls", id, spec.pid,
                spec.intercept.size());
  return info;
}

Result<GuestInfo> Supervisor::Attach(AttachedGuestSpec spec) {
  if (spec.policy == nullptr || spec.pids.empty()) {
    return std::unexpected(Error{EINVAL, "attach: no policy or no process"});
  }
  if (RunningGuests() >= options_.max_guests) {
    return std::unexpected(Error{EAGAIN, "attach: " + std::to_string(options_.max_guests) +
                                             " guests run already (the limit)"});
  }
  for (const auto& m : spec.policy->modules()) {
    if (m->Enforces() || m->JudgesImages()) {
      return std::unexpected(Error{
          EINVAL, "module \"" + std::string(m->Name()) +
                      "\" enforces, which a process attached to while it runs cannot be held "
                      "to: no filter was installed when it started, and its calls before the "
                      "attach went unseen (only observing modules, such as trace and stats, "
                      "work with -p)"});
    }
  }
  HIJACK_ASSIGN_OR_RETURN(Backend * generic, backends_.Get(BackendKind::kPtraceAll));
  auto* backend = dynamic_cast<backend::PtraceBackend*>(generic);
  if (backend == nullptr) {
    return std::unexpected(Error{ENOTSUP, "attach: the ptrace-all backend is not PtraceBackend"});
  }
  ProtectionLayers protection;  // none: hijackd watches, it does not confine
  protection.supervisor_not_dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0;
  const uint64_t id = next_id_++;
  std::shared_ptr<policy::PolicySet> policy = std::move(spec.policy);
  SyscallSet intercept = policy->needed();
  auto guest = std::make_shared<Guest>(id, policy, intercept, protection, bus_,
                                       [this, id](int status) { Exited(id, status); },
                                       pool_.get());
  guest->ObserveOnly();
  guest->engine().SetBackend(*backend);
  backend::AttachSpec attach;
  attach.guest_id = id;
  attach.pids = spec.pids;
  attach.intercept = intercept;
  attach.follow_forks = spec.follow_forks;
  HIJACK_ASSIGN_OR_RETURN(const pid_t main_pid, backend->AttachRunning(attach, *guest));
  guest->guard().SetRoot(main_pid, false);
  // Containment "none": not hijackd's tree, it runs on after hijackd.
  GuestInfo info = Register(backend, std::move(guest), /*attach_modules=*/true,
                            {.id = id,
                             .pid = main_pid,
                             .argv = {"(attached to pid " + std::to_string(main_pid) + ")"},
                             .backend = BackendKind::kPtraceAll,
                             .containment = "none",
                             .intercept = intercept,
                             .protection = protection});
  attached_.insert(id);
  spdlog::debug("guest {} attached: pid {} and {} more", id, main_pid, spec.pids.size() - 1);
  return info;
}

Result<void> Supervisor::Detach(uint64_t id) {
  auto it = guests_.find(id);
  if (it == guests_.end() || !it->second.info.running) {
    return std::unexpected(Error{ESRCH, "no running guest " + std::to_string(id)});
  }
  if (!attached_.contains(id)) {
    return std::unexpected(Error{EINVAL, "guest " + std::to_string(id) +
                                             " was started by hijackd, not attached to"});
  }
  static_cast<backend::PtraceBackend*>(it->second.backend)->Detach(id);
  return {};
}

Result<void> Supervisor::JoinListener(uint64_t id, UniqueFd listener, bool installer_prelude) {
  auto it = guests_.find(id);
  if (it == guests_.end() || !it->second.info.running) {
    return std::unexpected(Error{ESRCH, "no running guest " + std::to_string(id)});
  }
  auto* backend = dynamic_cast<backend::NotifyBackend*>(it->second.backend);
  if (backend == nullptr) {
    return std::unexpected(Error{ESRCH, "guest " + std::to_string(id) + " is not adopted"});
  }
  return backend->JoinListener(id, std::move(listener), installer_prelude);
}

observe::ResultObserver& Supervisor::Observer() {
  if (observer_ == nullptr) {
    observer_ = observe::ResultObserver::Open(loop_, {.enabled = options_.kernel_observer});
    if (!observer_->available()) {
      spdlog::debug("{}", observer_->unavailable_reason());
    }
  }
  return *observer_;
}

void Supervisor::Exited(uint64_t id, int wait_status) {
  auto it = guests_.find(id);
  if (it == guests_.end()) {
    return;
  }
  it->second.info.running = false;
  if (wait_status != kUnknownWaitStatus) {
    it->second.info.wait_status = wait_status;
  }
  it->second.info.exited_unix_ms = UnixMillis();
  AttachModules(it->second);
  if (wait_status == kUnknownWaitStatus) {
    spdlog::debug("guest {} (pid {}) ended; its exit status is unknown", id, it->second.info.pid);
  } else if (WIFSIGNALED(wait_status)) {
    spdlog::debug("guest {} (pid {}) was killed by SIG{}", id, it->second.info.pid,
                 sigabbrev_np(WTERMSIG(wait_status)));
  } else {
    spdlog::debug("guest {} (pid {}) exited with status {}", id, it->second.info.pid,
                 WEXITSTATUS(wait_status));
  }
  {
    std::lock_guard lock(running_mu_);
    --running_;
  }
  running_cv_.notify_all();
  // Not now: this runs inside the exiting guest's own callback, and pruning may destroy it.
  // Posted before the listeners run, so work they cause to be posted sees the pruned registry.
  boost::asio::post(loop_, [this] { PruneExited(); });
  for (const auto& listener : exit_listeners_) {
    listener(id, wait_status);
  }
}

void Supervisor::PruneExited() {
  size_t exited = 0;
  for (const auto& [id, record] : guests_) {
    exited += record.info.running ? 0 : 1;
  }
  // Oldest first: ids grow with launch order.
  for (auto it = guests_.begin(); it != guests_.end() && exited > options_.keep_exited;) {
    if (!it->second.info.running) {
      it = guests_.erase(it);
      --exited;
    } else {
      ++it;
    }
  }
}

GuestInfo Supervisor::Register(Backend* backend, std::shared_ptr<Guest> guest,
                               bool attach_modules, GuestInfo info) {
  info.running = true;
  info.started_unix_ms = UnixMillis();
  const uint64_t id = info.id;
  Record record;
  record.backend = backend;
  record.info = std::move(info);
  record.guest = std::move(guest);
  GuestInfo snapshot = Snapshot(record);
  Record& stored = guests_.emplace(id, std::move(record)).first->second;
  if (attach_modules) {
    AttachModules(stored);
  }
  {
    std::lock_guard lock(running_mu_);
    ++running_;
  }
  return snapshot;
}

GuestInfo Supervisor::Snapshot(const Record& record) const {
  GuestInfo info = record.info;
  info.policy_version = record.guest->engine().Current()->version();
  info.observer_drops = record.guest->observer_drops();
  info.agent_exempt = record.guest->engine().Exempt();
  return info;
}

Result<void> Supervisor::Kill(uint64_t id, int sig) {
  auto it = guests_.find(id);
  if (it == guests_.end()) {
    return std::unexpected(Error{ESRCH, "no guest " + std::to_string(id)});
  }
  if (!it->second.info.running) {
    return std::unexpected(Error{EALREADY, "guest " + std::to_string(id) + " has already exited"});
  }
  if (::kill(it->second.info.pid, sig) != 0) {
    return ErrnoError(errno, "kill guest " + std::to_string(id) + " (pid " +
                                 std::to_string(it->second.info.pid) + ")");
  }
  return {};
}

Result<void> Supervisor::PolicyInstalled(uint64_t id) {
  auto it = guests_.find(id);
  if (it == guests_.end()) {
    return std::unexpected(Error{ESRCH, "no guest " + std::to_string(id)});
  }
  if (it->second.info.running) {
    it->second.backend->PolicyChanged(id);
  }
  AttachModules(it->second);
  return {};
}

void Supervisor::AttachModules(Record& record) {
  std::shared_ptr<const policy::PolicySet> now =
      record.info.running ? record.guest->engine().Current() : nullptr;
  if (now == record.attached) {
    return;
  }
  if (record.attached != nullptr) {
    for (const auto& m : record.attached->modules()) {
      m->DetachGuest(record.info.id);
    }
  }
  record.attached = std::move(now);
  if (record.attached != nullptr) {
    for (const auto& m : record.attached->modules()) {
      m->AttachGuest(record.info.id, record.info.pid);
      if (m->WantsProcessEnds()) {
        record.guest->FollowProcesses();
      }
    }
  }
}

Result<GuestInfo> Supervisor::Info(uint64_t id) const {
  auto it = guests_.find(id);
  if (it == guests_.end()) {
    return std::unexpected(Error{ESRCH, "no guest " + std::to_string(id)});
  }
  return Snapshot(it->second);
}

std::vector<GuestInfo> Supervisor::List() const {
  std::vector<GuestInfo> out;
  out.reserve(guests_.size());
  for (const auto& [id, record] : guests_) {
    out.push_back(Snapshot(record));
  }
  return out;
}

Result<std::shared_ptr<Guest>> Supervisor::Find(uint64_t id) const {
  auto it = guests_.find(id);
  if (it == guests_.end()) {
    return std::unexpected(Error{ESRCH, "no guest " + std::to_string(id)});
  }
  return it->second.guest;
}

size_t Supervisor::RunningGuests() {
  std::lock_guard lock(running_mu_);
  return running_;
}

size_t Supervisor::TerminateGuests(std::chrono::milliseconds grace) {
  for (int sig : {SIGTERM, SIGKILL}) {
    if (RunningGuests() == 0) {
      return 0;
    }
    auto deadline = std::chrono::steady_clock::now() + grace;
    auto sent = OnLoop(
        [this, sig]() -> Result<size_t> {
          size_t n = 0;
          for (const auto& [id, record] : guests_) {
            if (record.info.running && ::kill(record.info.pid, sig) == 0) {
              ++n;
            }
          }
          return n;
        },
        deadline);
    if (sent) {
      spdlog::info("sent {} to {} guest(s)", sigabbrev_np(sig), *sent);
    }
    std::unique_lock lock(running_mu_);
    running_cv_.wait_until(lock, deadline, [this] { return running_ == 0; });
  }
  return RunningGuests();
}

}  // namespace hijack::supervisor
