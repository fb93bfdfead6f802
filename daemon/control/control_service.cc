#include "daemon/control/control_service.h"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include "common/bounded_json.h"
#include "common/exit_description.h"
#include "common/version.h"
#include "daemon/backend/backend_table.h"
#include "daemon/control/decision_kinds.h"
#include "daemon/control/host_features.h"
#include "daemon/control/policy_files.h"
#include "daemon/control/request_limits.h"
#include "daemon/control/status.h"
#include "daemon/exec_page/agent_launch.h"
#include "daemon/launcher/exit_status.h"
#include "daemon/modules/builtin.h"
#include "daemon/modules/stats/stats_module.h"
#include "daemon/policy/admission.h"
#include "daemon/policy/default_policy.h"
#include "daemon/policy/module_registry.h"
#include "daemon/policy/policy_set.h"
#include "daemon/syscalls/syscall_table.h"

extern char** environ;

namespace hijack::control {
namespace {

using supervisor::GuestInfo;

constexpr size_t kMaxExitedRemembered = 4096;
// A guest that ended with a status nobody could read (kUnknownWaitStatus).
constexpr const char* kUnknownExitDescription = "ended (exit status unknown)";

grpc::Status Unavailable() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "hijackd is shutting down");
}

std::vector<std::string> Names(const SyscallSet& set) {
  std::vector<std::string> out;
  for (int nr : set.Numbers()) {
    out.emplace_back(syscalls::SyscallName(nr));
  }
  return out;
}

// `with_intercept`: the intercept set by name too (ListGuestsRequest.with_intercept).
void FillGuest(const GuestInfo& info, v1::Guest* out, bool with_intercept = true) {
  out->set_guest_id(info.id);
  out->set_pid(info.pid);
  for (const auto& a : info.argv) {
    out->add_argv(a);
  }
  out->set_backend(std::string(BackendKindName(info.backend)));
  out->set_containment(info.containment);
  out->set_state(info.running ? v1::Guest::RUNNING : v1::Guest::EXITED);
  out->set_policy_version(info.policy_version);
  if (info.wait_status) {
    out->set_exit_code(launcher::ExitStatusOf(*info.wait_status));
    out->set_wait_status(*info.wait_status);
    out->set_exit_description(common::DescribeWaitStatus(*info.wait_status));
    if (WIFSIGNALED(*info.wait_status)) {
      out->set_term_signal(common::SignalName(WTERMSIG(*info.wait_status)));
      out->set_core_dumped(WCOREDUMP(*info.wait_status));
    }
  } else if (!info.running) {
    out->set_exit_status_unknown(true);
    out->set_exit_description(kUnknownExitDescription);
  }
  out->set_intercept_count(static_cast<uint32_t>(info.intercept.Numbers().size()));
  if (with_intercept) {
    for (const auto& name : Names(info.intercept)) {
      out->add_intercept(name);
    }
  }
  for (const auto& name : Names(info.agent_exempt)) {
    out->add_agent_syscalls(name);
  }
  out->set_started_unix_ms(info.started_unix_ms);
  out->set_exited_unix_ms(info.exited_unix_ms);
  out->set_events_dropped(info.observer_drops);
  for (const auto& layer : info.protection.Describe()) {
    v1::ProtectionLayer* l = out->add_protection();
    l->set_name(layer.name);
    l->set_active(layer.active);
    l->set_detail(layer.detail);
  }
}

// Parses and validates a policy document from a client. Errors carry the JSON path. Its file
// settings are resolved against `client_cwd` and opened with `rights` (policy_files.h): the
// caller's when hijackd takes them for its guests, else hijackd's own; when hijackd cannot
// take them (`rights` holds why), a policy that names a file is refused, and so is a plugin for
// a caller whose rights are not hijackd's (the policy host runs with hijackd's).
std::expected<std::shared_ptr<policy::PolicySet>, grpc::Status> ParseClientPolicy(
    const std::string& text, std::string_view client_cwd,
    const std::expected<std::optional<GuestCredentials>, grpc::Status>& rights,
    size_t max_bytes) {
  if (text.size() > max_bytes) {
    return std::unexpected(ToGrpcStatus(Error{E2BIG, "policy: " + std::to_string(text.size()) +
                                                         " bytes, more than the limit of " +
                                                         std::to_string(max_bytes)}));
  }
  auto doc = common::ParseBoundedJson(text);
  if (!doc || doc->is_discarded()) {
    return std::unexpected(ToGrpcStatus(
        MakeError("policy: " + (doc ? std::string("invalid JSON") : doc.error().message))
            .error()));
  }
  auto use = ResolvePolicyFiles(*doc, client_cwd);
  if (!use) {
    return std::unexpected(ToGrpcStatus(
        Error{use.error().code, "policy: " + use.error().message}));
  }
  if (!rights && use->names_files) {
    return std::unexpected(grpc::Status(
        rights.error().error_code(),
        "policy: names files, which hijackd opens with the caller's rights: " +
            rights.error().error_message()));
  }
  const std::optional<GuestCredentials> as = rights ? *rights : std::nullopt;
  if ((!rights || as) && !use->first_plugin.empty()) {
    return std::unexpected(grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        "policy: " + use->first_plugin + ": a plugin runs in a policy host with hijackd's "
        "rights (uid " + std::to_string(geteuid()) + "), which this caller does not have"));
  }
  auto taken = CallerFileRights::Take(as);
  if (!taken) {
    return std::unexpected(ToGrpcStatus(taken.error()));
  }
  auto set = policy::PolicySet::FromJson(*doc, modules::BuiltInModules());
  if (!set) {
    return std::unexpected(
        ToGrpcStatus(Error{set.error().code, "policy: " + set.error().message}));
  }
  return std::move(*set);
}

Result<SyscallSet> ResolveAll(const google::protobuf::RepeatedPtrField<std::string>& specs,
                              std::string_view what) {
  SyscallSet out;
  for (int i = 0; i < specs.size(); ++i) {
    auto set = syscalls::ResolveSyscallSpec(specs[i]);
    if (!set) {
      return std::unexpected(
          Error{EINVAL, std::string(what) + "[" + std::to_string(i) + "]: " + set.error().message});
    }
    out.AddAll(*set);
  }
  return out;
}

void FillEvent(const Event& e, v1::SyscallEventMessage* out) {
  out->set_guest_id(e.call.guest_id);
  out->set_pid(e.call.pid);
  out->set_tid(e.call.tid);
  out->set_syscall(std::string(syscalls::SyscallName(e.call.nr)));
  out->set_nr(e.call.nr);
  for (uint64_t a : e.call.args) {
    out->add_raw_args(a);
  }
  for (const auto& a : e.args) {
    out->add_args(a.text);
  }
  // The decoder's JSON values as protobuf Values: numbers, strings, arrays and objects as
  // themselves, not as text to parse again. All or none, so positions match `args`.
  for (const auto& a : e.args) {
    const std::string json =
        a.json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (!google::protobuf::util::JsonStringToMessage(json, out->add_arg_values()).ok()) {
      out->clear_arg_values();
      break;
    }
  }
  out->set_decision(ToProto(e.decision.kind()));
  if (e.decision.kind() == Decision::Kind::kFail) {
    out->set_errno_value(e.decision.error());
    out->set_errno_name(ErrnoName(e.decision.error()));
  } else if (e.decision.kind() == Decision::Kind::kReturn) {
    out->set_return_value(e.decision.value());
  }
  out->set_module(e.module);
  if (e.result) {
    out->set_result(*e.result);
  }
  out->set_start_ns(e.call.start_ns);
  out->set_latency_ns(std::max<int64_t>(0, e.end_ns - e.call.start_ns));
  out->set_policy_version(e.policy_version);
  if (const DenialReason* reason = e.decision.reason()) {
    out->set_rule(reason->rule);
    out->set_hint(reason->hint);
    out->set_denied_path(reason->path);
    if (reason->would_fail != 0) {
      out->set_would_fail(ErrnoName(reason->would_fail));
    }
  }
}

constexpr size_t kMaxRecords = 16384;       // launch records kept (oldest dropped first)
constexpr size_t kAuditQueue = 1024;        // per stream

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    default: return "ERROR";
  }
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void FillCredentials(const GuestCredentials& c, v1::Credentials* out) {
  out->set_uid(c.uid);
  out->set_gid(c.gid);
  for (gid_t g : c.groups) {
    out->add_groups(g);
  }
  passwd pw{};
  passwd* found = nullptr;
  char buf[4096];
  if (getpwuid_r(c.uid, &pw, buf, sizeof buf, &found) == 0 && found != nullptr) {
    out->set_user(found->pw_name);
  }
}

std::string Command(const google::protobuf::RepeatedPtrField<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    out += (out.empty() ? "" : " ") + a;
    if (out.size() > 512) {
      out.resize(512);
      out += "...";
      break;
    }
  }
  return out;
}

}  // namespace

struct ControlService::GuestHandle {
  GuestInfo info;
  std::shared_ptr<supervisor::Guest> guest;
};

ControlService::ControlService(supervisor::Supervisor& supervisor, ControlLimits limits,
                               Gatekeeper& gatekeeper, std::unique_ptr<AuditLog> audit)
    : supervisor_(supervisor),
      limits_(limits),
      gate_(gatekeeper),
      audit_(std::move(audit)),
      started_(std::chrono::steady_clock::now()),
      changes_(limits.changes_per_second, limits.change_burst) {
  if (auto collector = GuestOutputCollector::Create(); collector) {
    output_ = std::move(*collector);
  } else {
    // Observation fails open: guests still run, their output goes where the daemon's goes.
    spdlog::warn("guest output will not be kept: {}", collector.error().message);
  }
  own_rights_.uid = geteuid();
  own_rights_.gid = getegid();
  if (int n = getgroups(0, nullptr); n > 0) {
    own_rights_.groups.resize(static_cast<size_t>(n));
    own_rights_.groups.resize(static_cast<size_t>(getgroups(n, own_rights_.groups.data())));
  }
  supervisor_.AddExitListener([this](uint64_t id, int wait_status) {
    spdlog::info("guest {} {}", id,
                 wait_status == kUnknownWaitStatus ? std::string(kUnknownExitDescription)
                                                   : common::DescribeWaitStatus(wait_status));
    if (output_) {
      output_->GuestExited(id);
    }
    {
      std::lock_guard lock(mu_);
      exited_.insert(id);
      if (exited_.size() > kMaxExitedRemembered) {
        exited_.erase(exited_.begin());
      }
    }
    cv_.notify_all();
  });
}

ControlService::~ControlService() = default;

void ControlService::BeginShutdown() {
  {
    std::lock_guard lock(mu_);
    shutting_down_.store(true);
  }
  cv_.notify_all();
}

std::expected<Caller, grpc::Status> ControlService::Admit(const grpc::ServerContext* ctx,
                                                          Action action, uint64_t guest_id,
                                                          std::optional<Caller>* identified) {
  std::optional<uid_t> owner;
  {
    std::lock_guard lock(mu_);
    if (auto it = records_.find(guest_id); guest_id != 0 && it != records_.end()) {
      owner = it->second.owner_uid;
    }
  }
  auto caller = gate_.Identify(*ctx, GuestUids());
  if (!caller) {
    return caller;
  }
  if (identified != nullptr) {
    *identified = *caller;
  }
  if (auto allowed = gate_.Allow(*caller, action, guest_id, owner); !allowed.ok()) {
    return std::unexpected(allowed);
  }
  return caller;
}

std::vector<uid_t> ControlService::GuestUids() {
  std::lock_guard lock(mu_);
  std::set<uid_t> uids;
  for (const auto& [id, record] : records_) {
    uids.insert(record.runs_as.uid);
  }
  return {uids.begin(), uids.end()};
}

void ControlService::FillRecord(uint64_t id, v1::Guest* out) {
  std::lock_guard lock(mu_);
  if (auto it = records_.find(id); it != records_.end()) {
    out->set_launched_by(it->second.launched_by);
    FillCredentials(it->second.runs_as, out->mutable_runs_as());
  } else {
    // Not launched over this API: the guest of `hijackd run` itself.
    out->set_launched_by("hijackd run");
    FillCredentials(own_rights_, out->mutable_runs_as());
  }
}

void ControlService::Audit(const grpc::ServerContext* ctx, const Caller* caller,
                           const std::string& rpc, uint64_t guest_id, const std::string& what,
                           const grpc::Status& result) {
  v1::AuditRecord record;
  record.set_unix_ms(NowUnixMs());
  record.set_caller(caller != nullptr ? caller->Describe() : "unidentified " + ctx->peer());
  record.set_rpc(rpc);
  record.set_guest_id(guest_id);
  record.set_what(what);
  record.set_result(result.ok() ? "OK"
                                : std::string(CodeName(result.error_code())) + ": " +
                                      result.error_message());
  if (audit_) {
    audit_->Append(record);
  } else {
    spdlog::info("audit: {}", AuditLog::Line(record));
  }
  {
    std::lock_guard lock(mu_);
    for (AuditQueue* q : audit_queues_) {
      if (q->guest_id != 0 && q->guest_id != guest_id) {
        continue;
      }
      if (q->records.size() >= kAuditQueue) {
        ++q->dropped;
        continue;
      }
      q->records.push_back(record);
    }
  }
  cv_.notify_all();
}

grpc::Status ControlService::AdmitChange() {
  if (shutting_down_) {
    return Unavailable();
  }
  if (!changes_.TryAcquire()) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "more than " +
                            std::to_string(static_cast<int>(limits_.changes_per_second)) +
                            " changes (launch, policy set, kill) per second; retry later");
  }
  return grpc::Status::OK;
}

std::chrono::steady_clock::time_point ControlService::Deadline(
    const grpc::ServerContext* ctx) const {
  auto now_steady = std::chrono::steady_clock::now();
  auto cap = now_steady + limits_.max_wait;
  auto deadline = ctx->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) {
    return cap;
  }
  auto left = deadline - std::chrono::system_clock::now();
  return std::min(cap, now_steady + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                        std::max(left, decltype(left)::zero())));
}

std::expected<ControlService::GuestHandle, grpc::Status> ControlService::FindGuest(
    uint64_t id, const grpc::ServerContext* ctx) {
  supervisor::Supervisor* sup = &supervisor_;
  auto found = supervisor_.OnLoop(
      [sup, id]() -> Result<GuestHandle> {
        auto info = sup->Info(id);
        if (!info) {
          return std::unexpected(info.error());
        }
        return GuestHandle{*info, *sup->Find(id)};
      },
      Deadline(ctx));
  if (!found) {
    return std::unexpected(ToGrpcStatus(found.error()));
  }
  return std::move(*found);
}

std::expected<ControlService::GuestHandle, grpc::Status> ControlService::WatchGuest(
    const grpc::ServerContext* ctx, uint64_t guest_id) {
  if (auto caller = Admit(ctx, Action::kWatch, guest_id); !caller) {
    return std::unexpected(caller.error());
  }
  return FindGuest(guest_id, ctx);
}

std::expected<Caller, grpc::Status> ControlService::AdmitGuestChange(
    const grpc::ServerContext* ctx, uint64_t guest_id, std::optional<Caller>& identified) {
  auto caller = Admit(ctx, Action::kChange, guest_id, &identified);
  if (!caller) {
    return caller;
  }
  if (auto admitted = AdmitChange(); !admitted.ok()) {
    return std::unexpected(admitted);
  }
  return caller;
}

grpc::Status ControlService::Launch(grpc::ServerContext* ctx, const v1::LaunchRequest* req,
                                    v1::LaunchResponse* resp) {
  std::optional<Caller> caller;
  grpc::Status status = DoLaunch(ctx, req, resp, caller);
  Audit(ctx, caller ? &*caller : nullptr, "Launch", status.ok() ? resp->guest_id() : 0,
        Command(req->argv()), status);
  return status;
}

grpc::Status ControlService::DoLaunch(grpc::ServerContext* ctx, const v1::LaunchRequest* req,
                                      v1::LaunchResponse* resp, std::optional<Caller>& caller) {
  auto admitted_caller = Admit(ctx, Action::kLaunch, 0, &caller);
  if (!admitted_caller) {
    return admitted_caller.error();
  }
  auto rights = gate_.LaunchCredentials(*caller);
  if (!rights) {
    return rights.error();
  }
  if (auto valid = ValidateLaunchRequest(*req, {.max_policy_bytes = limits_.max_policy_bytes});
      !valid) {
    return ToGrpcStatus(valid.error());
  }
  if (auto admitted = AdmitChange(); !admitted.ok()) {
    return admitted;
  }
  if (req->argv().empty() || req->argv(0).empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "argv: the command is empty");
  }
  std::shared_ptr<policy::PolicySet> policy;
  if (req->policy().empty()) {
    auto set = policy::PolicySet::FromText(policy::DefaultPolicyText(), "default policy",
                                           modules::BuiltInModules());
    if (!set) {
      return ToGrpcStatus(set.error());
    }
    policy = std::move(*set);
  } else {
    auto set = ParseClientPolicy(req->policy(), req->client_cwd(), rights,
                                 limits_.max_policy_bytes);
    if (!set) {
      return set.error();
    }
    policy = std::move(*set);
  }
  auto extra = ResolveAll(req->intercept(), "intercept");
  if (!extra) {
    return ToGrpcStatus(extra.error());
  }
  supervisor::GuestSpec spec;
  spec.argv.assign(req->argv().begin(), req->argv().end());
  if (req->env().empty()) {
    for (char** e = environ; *e != nullptr; ++e) {
      spec.env.emplace_back(*e);
    }
  } else {
    spec.env.assign(req->env().begin(), req->env().end());
  }
  if (!req->no_agent()) {
    auto found = exec_page::PreloadableAgentLibrary();
    if (!found) {
      // The daemon's environment is wrong, not the request: the client is told which variable.
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          found.error().message + " (the daemon's environment; or launch with "
                                                  "--no-agent)");
    }
    spec.agent_library = std::move(*found);
    if (spec.agent_library.empty()) {
      spdlog::debug("libhijack-agent.so not found: every call goes through the supervisor");
    }
  }
  spec.cwd = req->cwd();
  spec.policy = std::move(policy);
  spec.extra_intercept = *extra;
  if (!req->backend().empty()) {  // empty: auto
    auto choice = backend::ParseBackendChoice(req->backend());
    if (!choice) {
      return ToGrpcStatus(choice.error());
    }
    spec.backend = *choice;
  }
  spec.credentials = *rights;
  spec.guard.allow_io_uring = req->allow_io_uring();  // policy_fixed: SetPolicy may come
  spec.guard.landlock_floor = !req->no_landlock();
  // The guest's output is kept for GuestOutput, not mixed into the daemon's log.
  std::optional<GuestOutputCollector::Pipes> pipes;
  if (output_) {
    if (auto made = GuestOutputCollector::MakePipes(); made) {
      spec.stdio = {made->stdin_null.get(), made->stdout_write.get(), made->stderr_write.get()};
      pipes = std::move(*made);
    } else {
      spdlog::warn("guest output will not be kept: {}", made.error().message);
    }
  }

  supervisor::Supervisor* sup = &supervisor_;
  GuestOutputCollector* output = output_.get();
  auto launched = supervisor_.OnLoop(
      [sup, output, spec = std::move(spec), pipes = std::move(pipes)]() mutable {
        auto info = sup->Launch(std::move(spec));
        // On the loop, right after the fork: no other guest's child can inherit these ends
        // meanwhile (launches run here one at a time), so EOF comes when this guest's tree is
        // done with them.
        if (info && pipes) {
          output->Add(info->id, std::move(*pipes));
        }
        return info;
      },
      Deadline(ctx));
  if (!launched) {
    return ToGrpcStatus(launched.error());
  }
  spdlog::info("guest {} launched: pid {}, {} ({}), for {}", launched->id, launched->pid,
               launched->argv[0], BackendKindName(launched->backend), caller->Describe());
  {
    std::lock_guard lock(mu_);
    GuestRecord record{.launched_by = caller->Describe(),
                       .owner_uid = caller->unix_peer ? std::optional(caller->unix_peer->uid)
                                                      : std::nullopt,
                       .runs_as = rights->value_or(own_rights_)};
    records_[launched->id] = std::move(record);
    while (records_.size() > kMaxRecords) {
      records_.erase(records_.begin());
    }
  }
  resp->set_guest_id(launched->id);
  resp->set_pid(launched->pid);
  resp->set_backend(std::string(BackendKindName(launched->backend)));
  resp->set_policy_version(launched->policy_version);
  return grpc::Status::OK;
}

grpc::Status ControlService::ListGuests(grpc::ServerContext* ctx, const v1::ListGuestsRequest* req,
                                        v1::ListGuestsResponse* resp) {
  auto caller = gate_.Identify(*ctx, GuestUids());
  if (!caller) {
    return caller.error();
  }
  // A launch-group member sees the guests it launched; the rest need the right to watch all.
  const bool own_only = !caller->admin && !caller->watch_all && caller->launch;
  if (!own_only) {
    if (auto allowed = gate_.Allow(*caller, Action::kWatch); !allowed.ok()) {
      return allowed;
    }
  }
  supervisor::Supervisor* sup = &supervisor_;
  auto list = supervisor_.OnLoop(
      [sup]() -> Result<std::vector<GuestInfo>> { return sup->List(); }, Deadline(ctx));
  if (!list) {
    return ToGrpcStatus(list.error());
  }
  for (const auto& info : *list) {
    if (own_only) {
      std::lock_guard lock(mu_);
      auto it = records_.find(info.id);
      if (it == records_.end() || it->second.owner_uid != caller->unix_peer->uid) {
        continue;
      }
    }
    auto* g = resp->add_guests();
    FillGuest(info, g, req->with_intercept());
    FillRecord(info.id, g);
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::GetGuest(grpc::ServerContext* ctx, const v1::GetGuestRequest* req,
                                      v1::Guest* resp) {
  auto guest = WatchGuest(ctx, req->guest_id());
  if (!guest) {
    return guest.error();
  }
  FillGuest(guest->info, resp);
  FillRecord(req->guest_id(), resp);
  return grpc::Status::OK;
}

grpc::Status ControlService::Kill(grpc::ServerContext* ctx, const v1::KillRequest* req,
                                  v1::KillResponse*) {
  std::optional<Caller> caller;
  grpc::Status status = DoKill(ctx, req, caller);
  Audit(ctx, caller ? &*caller : nullptr, "Kill", req->guest_id(),
        "signal " + std::to_string(req->signal() == 0 ? SIGTERM : req->signal()), status);
  return status;
}

grpc::Status ControlService::DoKill(grpc::ServerContext* ctx, const v1::KillRequest* req,
                                    std::optional<Caller>& caller) {
  if (auto admitted = AdmitGuestChange(ctx, req->guest_id(), caller); !admitted) {
    return admitted.error();
  }
  int sig = req->signal() == 0 ? SIGTERM : req->signal();
  if (sig < 1 || sig > SIGRTMAX) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "signal: " + std::to_string(sig) + " is not a signal number");
  }
  supervisor::Supervisor* sup = &supervisor_;
  uint64_t id = req->guest_id();
  auto killed = supervisor_.OnLoop([sup, id, sig] { return sup->Kill(id, sig); }, Deadline(ctx));
  if (!killed) {
    return ToGrpcStatus(killed.error());
  }
  spdlog::info("guest {}: sent signal {} on request", id, sig);
  return grpc::Status::OK;
}

grpc::Status ControlService::GetPolicy(grpc::ServerContext* ctx, const v1::GetPolicyRequest* req,
                                       v1::Policy* resp) {
  auto guest = WatchGuest(ctx, req->guest_id());
  if (!guest) {
    return guest.error();
  }
  auto snapshot = guest->guest->engine().Current();
  resp->set_guest_id(req->guest_id());
  resp->set_version(snapshot->version());
  resp->set_document(snapshot->document().dump(2));
  for (const auto& name : Names(snapshot->needed())) {
    resp->add_needs(name);
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::SetPolicy(grpc::ServerContext* ctx, const v1::SetPolicyRequest* req,
                                       v1::SetPolicyResponse* resp) {
  std::optional<Caller> caller;
  grpc::Status status = DoSetPolicy(ctx, req, resp, caller);
  Audit(ctx, caller ? &*caller : nullptr, "SetPolicy", req->guest_id(),
        status.ok() ? "policy version " + std::to_string(resp->version()) + ", " +
                          std::to_string(req->document().size()) + " bytes"
                    : std::to_string(req->document().size()) + " bytes",
        status);
  return status;
}

grpc::Status ControlService::DoSetPolicy(grpc::ServerContext* ctx,
                                         const v1::SetPolicyRequest* req,
                                         v1::SetPolicyResponse* resp,
                                         std::optional<Caller>& caller) {
  if (auto admitted = AdmitGuestChange(ctx, req->guest_id(), caller); !admitted) {
    return admitted.error();
  }
  auto next = ParseClientPolicy(req->document(), req->client_cwd(),
                                gate_.LaunchCredentials(*caller), limits_.max_policy_bytes);
  if (!next) {
    return next.error();
  }
  auto guest = FindGuest(req->guest_id(), ctx);
  if (!guest) {
    return guest.error();
  }
  if (!guest->info.running) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "guest " + std::to_string(req->guest_id()) + " has already exited");
  }
  std::optional<uint64_t> expected;
  if (req->has_expected_version()) {
    expected = req->expected_version();
  }
  // PolicyEngine::Replace is the thread-safe swap; the loop keeps deciding meanwhile.
  auto version = guest->guest->engine().Replace(std::move(*next), expected);
  if (!version) {
    return ToGrpcStatus(Error{version.error().code, "guest " + std::to_string(req->guest_id()) +
                                                        ": " + version.error().message});
  }
  // What the backend derives from the policy (the agent's page) follows before the reply, so a
  // client that saw OK knows the guest's next call meets the new policy.
  supervisor::Supervisor* sup = &supervisor_;
  const uint64_t id = req->guest_id();
  if (auto synced = supervisor_.OnLoop([sup, id] { return sup->PolicyInstalled(id); },
                                       Deadline(ctx));
      !synced && synced.error().code != ESRCH) {
    spdlog::warn("guest {}: policy version {}: {}", id, *version, synced.error().message);
  }
  spdlog::info("guest {}: policy version {} installed", req->guest_id(), *version);
  resp->set_version(*version);
  return grpc::Status::OK;
}

grpc::Status ControlService::ValidatePolicy(grpc::ServerContext* ctx,
                                            const v1::ValidatePolicyRequest* req,
                                            v1::ValidatePolicyResponse* resp) {
  auto caller =
      Admit(ctx, req->guest_id() == 0 ? Action::kHealth : Action::kWatch, req->guest_id());
  if (!caller) {
    return caller.error();
  }
  // A dry run still builds the modules, which open their files: as the caller.
  auto set = ParseClientPolicy(req->document(), req->client_cwd(),
                               gate_.LaunchCredentials(*caller), limits_.max_policy_bytes);
  if (!set) {
    return set.error();
  }
  if (req->guest_id() != 0) {
    auto guest = FindGuest(req->guest_id(), ctx);
    if (!guest) {
      return guest.error();
    }
    // The rules PolicyEngine::Replace applies (SetPolicy): what this check calls valid, a
    // replacement accepts unless the guest changed in between (its version, an exit).
    if (auto admitted = policy::AdmitPolicy(**set, guest->guest->engine().Capabilities());
        !admitted) {
      return ToGrpcStatus(Error{admitted.error().code, "guest " + std::to_string(req->guest_id()) +
                                                           ": " + admitted.error().message});
    }
  }
  for (const auto& m : (*set)->modules()) {
    resp->add_modules(std::string(m->Name()));
  }
  for (const auto& name : Names((*set)->needed())) {
    resp->add_needs(name);
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::ListModules(grpc::ServerContext* ctx, const v1::ListModulesRequest*,
                                         v1::ListModulesResponse* resp) {
  if (auto caller = Admit(ctx, Action::kHealth); !caller) {
    return caller.error();
  }
  for (const auto* info : modules::BuiltInModules().List()) {
    auto* m = resp->add_modules();
    m->set_name(info->name);
    m->set_summary(info->summary);
    for (const policy::Setting& s : info->settings) {
      (*m->mutable_settings())[s.name] = policy::DescribeSetting(s);
    }
    // What the module needs with its defaults: build one from {"module": name}. Modules whose
    // settings are required (deny's syscalls, a plugin's path) refuse, and say so.
    const nlohmann::json defaults = {{"module", info->name}};
    policy::ConfigReader config(defaults, "/modules/0");
    if (auto module = info->factory(config); module) {
      for (int nr : (*module)->Syscalls().Numbers()) {
        m->add_syscalls(std::string(syscalls::SyscallName(nr)));
      }
    } else {
      m->set_syscalls_from_settings(true);
    }
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::GetStats(grpc::ServerContext* ctx, const v1::GetStatsRequest* req,
                                      v1::GetStatsResponse* resp) {
  auto guest = WatchGuest(ctx, req->guest_id());
  if (!guest) {
    return guest.error();
  }
  auto snapshot = guest->guest->engine().Current();
  resp->set_guest_id(req->guest_id());
  resp->set_policy_version(snapshot->version());
  resp->set_events_dropped(guest->guest->observer_drops());
  const modules::StatsModule* first_stats = nullptr;
  int index = 0;
  for (const auto& module : snapshot->modules()) {
    auto* m = resp->add_modules();
    m->set_module(std::string(module->Name()));
    m->set_index(index++);
    // Module counters are open-ended JSON objects (PolicyModule::Stats); the wire carries them as
    // a Struct, not as text to parse again.
    if (auto converted = google::protobuf::util::JsonStringToMessage(module->Stats().dump(),
                                                                     m->mutable_counters());
        !converted.ok()) {
      spdlog::warn("guest {}: counters of /modules/{} ({}): {}", req->guest_id(), index - 1,
                   module->Name(), converted.ToString());
      m->clear_counters();
    }
    if (first_stats == nullptr) {
      first_stats = dynamic_cast<const modules::StatsModule*>(module.get());
    }
  }
  if (first_stats != nullptr) {
    resp->set_latency(first_stats->WantsLatency());
    for (const modules::StatsModule::SyscallRow& row : first_stats->Rows()) {
      auto* s = resp->add_syscalls();
      s->set_syscall(std::string(syscalls::SyscallName(row.nr)));
      s->set_calls(row.calls);
      s->set_errors(row.errors);
      s->set_not_run(row.not_run);
      s->set_unknown_results(row.unknown_results);
      s->set_total_ns(row.total_ns);
      s->set_p50_ns(row.p50_ns);
      s->set_p99_ns(row.p99_ns);
    }
  }
  return grpc::Status::OK;
}

grpc::Status ControlService::WatchEvents(grpc::ServerContext* ctx,
                                         const v1::WatchEventsRequest* req,
                                         grpc::ServerWriter<v1::WatchEventsResponse>* writer) {
  if (shutting_down_) {
    return Unavailable();
  }
  if (auto caller = Admit(ctx, Action::kWatch, req->guest_id()); !caller) {
    return caller.error();
  }
  if (auto valid = ValidateWatchEventsRequest(*req, {}); !valid) {
    return ToGrpcStatus(valid.error());
  }
  auto syscalls = ResolveAll(req->syscalls(), "syscalls");
  if (!syscalls) {
    return ToGrpcStatus(syscalls.error());
  }
  auto decisions = DecisionKindSet::FromProto(req->decisions());
  if (!decisions) {
    return ToGrpcStatus(decisions.error());
  }
  const bool all_syscalls = req->syscalls().empty();
  const uint64_t guest_id = req->guest_id();
  size_t queue = req->queue() == 0 ? limits_.default_queue : req->queue();
  if (queue > limits_.max_queue) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "queue: " + std::to_string(queue) + " is more than the limit of " +
                            std::to_string(limits_.max_queue));
  }
  if (streams_.fetch_add(1) >= limits_.max_streams) {
    streams_.fetch_sub(1);
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        std::to_string(limits_.max_streams) + " event streams are open (the limit)");
  }
  struct StreamCount {
    std::atomic<size_t>& n;
    events::EventBus& bus;
    ~StreamCount() {
      bus.StreamClosed();
      n.fetch_sub(1);
    }
  } count{streams_, supervisor_.bus()};
  supervisor_.bus().StreamOpened();

  // The sink runs on the subscription's own thread and is the only writer of the stream. A
  // blocked Write (client not reading) fills this stream's queue, and the bus drops for it.
  std::atomic<bool> broken{false};
  // The sink and this thread (audit records) both write: one at a time.
  std::mutex write_mu;
  auto subscription = supervisor_.bus().Subscribe(
      "WatchEvents " + ctx->peer(), queue,
      [&](const events::EventItem& item, uint64_t dropped_before) {
        if (broken.load(std::memory_order_relaxed)) {
          return;
        }
        v1::WatchEventsResponse msg;
        FillEvent(item.event, msg.mutable_event());
        msg.set_dropped_before(dropped_before);
        std::lock_guard write_lock(write_mu);
        if (!writer->Write(msg)) {
          broken.store(true);
          cv_.notify_all();
        }
      },
      [guest_id, syscalls = *syscalls, decisions = *decisions,
       all_syscalls](const events::EventItem& item) {
        const Event& e = item.event;
        return !e.signal && !e.exit_status && (guest_id == 0 || e.call.guest_id == guest_id) &&
               (all_syscalls || syscalls.Contains(e.call.nr)) &&
               decisions.Contains(e.decision.kind());
      });
  // The sink uses `writer` and `broken`, which end with this call: on every way out, deliver
  // what is queued and stop the sink first. Resetting the pointer is not enough, since a Publish
  // in flight on the loop thread may hold the last reference.
  struct CloseOnReturn {
    events::Subscription& s;
    ~CloseOnReturn() { s.Close(); }
  } close_on_return{*subscription};

  // Subscribed first, then checked: a guest that exits in between is still noticed.
  bool guest_gone = false;
  if (guest_id != 0) {
    auto guest = FindGuest(guest_id, ctx);
    if (!guest) {
      return guest.error();
    }
    guest_gone = !guest->info.running;
  }
  AuditQueue audit_queue;
  audit_queue.guest_id = guest_id;
  struct Unregister {
    ControlService& service;
    AuditQueue* queue;
    ~Unregister() {
      if (queue != nullptr) {
        std::lock_guard lock(service.mu_);
        service.audit_queues_.remove(queue);
      }
    }
  } unregister{*this, req->audit() ? &audit_queue : nullptr};
  if (req->audit()) {
    std::lock_guard lock(mu_);
    audit_queues_.push_back(&audit_queue);
  }
  grpc::Status status = grpc::Status::OK;
  {
    std::unique_lock lock(mu_);
    for (;;) {
      // Audit records are written from this thread, outside mu_ (a Write may block on a slow
      // client; only this stream waits).
      while (!audit_queue.records.empty() && !broken.load()) {
        v1::WatchEventsResponse msg;
        *msg.mutable_audit() = std::move(audit_queue.records.front());
        audit_queue.records.pop_front();
        msg.set_dropped_before(std::exchange(audit_queue.dropped, 0));
        lock.unlock();
        {
          std::lock_guard write_lock(write_mu);
          if (!writer->Write(msg)) {
            broken.store(true);
          }
        }
        lock.lock();
      }
      if (guest_gone || (guest_id != 0 && exited_.contains(guest_id)) || broken.load() ||
          ctx->IsCancelled()) {
        break;
      }
      if (shutting_down_) {
        status = Unavailable();
        break;
      }
      // gRPC's synchronous API has no cancellation callback, so cancellation is polled; exits,
      // shutdown and broken streams wake this at once.
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
  }
  return status;  // close_on_return stops the sink before `writer` goes away
}

grpc::Status ControlService::GuestOutput(grpc::ServerContext* ctx,
                                         const v1::GuestOutputRequest* req,
                                         grpc::ServerWriter<v1::GuestOutputResponse>* writer) {
  if (shutting_down_) {
    return Unavailable();
  }
  std::optional<OutputStream> only;
  switch (req->stream()) {
    case v1::GuestOutputResponse::STREAM_UNSPECIFIED:
      break;
    case v1::GuestOutputResponse::STDOUT:
      only = OutputStream::kStdout;
      break;
    case v1::GuestOutputResponse::STDERR:
      only = OutputStream::kStderr;
      break;
    default:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "stream: " + std::to_string(req->stream()) + " is not a stream");
  }
  auto guest = WatchGuest(ctx, req->guest_id());
  if (!guest) {
    return guest.error();
  }
  std::shared_ptr<GuestCapture> capture = output_ ? output_->Find(req->guest_id()) : nullptr;
  if (!capture) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "guest " + std::to_string(req->guest_id()) +
                            ": its output was not kept (only guests launched over this API "
                            "have theirs captured; the guest of `hijackd run` writes to "
                            "hijackd's own standard output and error)");
  }
  // A follower holds a server thread as an event stream does: the same limit.
  if (streams_.fetch_add(1) >= limits_.max_streams) {
    streams_.fetch_sub(1);
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        std::to_string(limits_.max_streams) + " streams are open (the limit)");
  }
  struct StreamCount {
    std::atomic<size_t>& n;
    ~StreamCount() { n.fetch_sub(1); }
  } count{streams_};
  GuestCapture::Cursor cursor;
  for (;;) {
    // Read before looking again: what came before the end is all read by the last round.
    const bool ended = capture->ended();
    for (GuestCapture::Piece& piece : capture->Read(cursor, only)) {
      v1::GuestOutputResponse msg;
      msg.set_stream(piece.chunk.stream == OutputStream::kStdout
                         ? v1::GuestOutputResponse::STDOUT
                         : v1::GuestOutputResponse::STDERR);
      msg.set_data(std::move(piece.chunk.data));
      msg.set_dropped_before(piece.dropped_before);
      if (!writer->Write(msg)) {
        return grpc::Status::OK;  // the client went away
      }
    }
    if (!req->follow() || ended || ctx->IsCancelled()) {
      return grpc::Status::OK;
    }
    if (shutting_down_) {
      return Unavailable();
    }
    // As in WatchEvents: cancellation is polled; new output and the guest's end wake this.
    capture->WaitBeyond(cursor, std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
  }
}

grpc::Status ControlService::Health(grpc::ServerContext* ctx, const v1::HealthRequest*,
                                    v1::HealthResponse* resp) {
  auto caller = Admit(ctx, Action::kHealth);
  if (!caller) {
    return caller.error();
  }
  resp->set_caller(caller->Describe());
  resp->set_role(caller->rule);
  resp->set_status(shutting_down_ ? v1::HealthResponse::SHUTTING_DOWN
                                  : v1::HealthResponse::SERVING);
  resp->set_version(std::string(common::Version()));
  resp->set_git_revision(std::string(common::GitRevision()));
  // Probed once: each probe starts a short-lived child, and readiness checks call Health often.
  static const std::vector<HostFeature> features = ProbeHostFeatures();
  for (const auto& f : features) {
    auto* out = resp->add_features();
    out->set_name(f.name);
    out->set_present(f.present);
    out->set_detail(f.detail);
  }
  resp->set_uptime_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started_)
                          .count());
  resp->set_guests_running(static_cast<uint32_t>(supervisor_.RunningGuests()));
  supervisor::Supervisor* sup = &supervisor_;
  auto total = supervisor_.OnLoop([sup]() -> Result<size_t> { return sup->List().size(); },
                                  Deadline(ctx));
  if (total) {
    resp->set_guests_total(static_cast<uint32_t>(*total));
  }
  for (const backend::BackendEntry& entry : backend::BackendTable()) {
    resp->add_backends(std::string(entry.name()));
  }
  resp->set_pid(getpid());
  return grpc::Status::OK;
}

}  // namespace hijack::control
