// ControlService: the gRPC service of proto/hijack/v1/control.proto, backed by a Supervisor.
//
//   supervisor::Supervisor sup;
//   ControlService service(sup);          // before sup.StartLoop(): it registers an exit listener
//   builder.RegisterService(&service);
//   ...
//   service.BeginShutdown();              // event streams end with UNAVAILABLE
//   server->Shutdown(deadline);
//
// Threads: handlers run on gRPC's threads and never touch guest state there. Whatever belongs
// to the loop (the guest registry, launching, signalling) is posted to it with
// Supervisor::OnLoop and awaited up to the call's deadline; policies are swapped through
// PolicyEngine::Replace, which is thread-safe, and read as immutable snapshots. Event streams
// read from their own EventBus subscription: a slow client fills its own bounded queue and loses
// events (counted, and reported in the next message), never slowing a guest.
//
// Every call first passes the Gatekeeper (gatekeeper.h): who is calling, and whether the rules
// let it do this to this guest. The service remembers who launched each guest and whose rights
// it runs with (Guest.launched_by, runs_as), and records every mutating call, allowed or not, in
// the AuditLog and in the streams that asked for audit records.
//
// The guests it launches write to pipes the GuestOutputCollector reads (guest_output.h), kept
// for GuestOutput. The files a client's policy names are resolved against the client's
// directory and opened with the client's rights (policy_files.h).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <set>

#include "daemon/control/audit_log.h"
#include "daemon/control/call_rate_limiter.h"
#include "daemon/control/gatekeeper.h"
#include "daemon/control/guest_output.h"
#include "daemon/control/server_options.h"
#include "daemon/policy/policy_set.h"
#include "daemon/supervisor/supervisor.h"
#include "hijack/v1/control.grpc.pb.h"

namespace hijack::control {

class ControlService final : public hijack::v1::Control::Service {
 public:
  // `gatekeeper` must outlive the service; `audit` may be null (records go to the daemon's log).
  ControlService(supervisor::Supervisor& supervisor, ControlLimits limits, Gatekeeper& gatekeeper,
                 std::unique_ptr<AuditLog> audit);
  ~ControlService() override;

  // Ends every WatchEvents stream (UNAVAILABLE) and refuses new calls. Any thread.
  void BeginShutdown();

  grpc::Status Launch(grpc::ServerContext* ctx, const v1::LaunchRequest* req,
                      v1::LaunchResponse* resp) override;
  grpc::Status ListGuests(grpc::ServerContext* ctx, const v1::ListGuestsRequest* req,
                          v1::ListGuestsResponse* resp) override;
  grpc::Status GetGuest(grpc::ServerContext* ctx, const v1::GetGuestRequest* req,
                        v1::Guest* resp) override;
  grpc::Status Kill(grpc::ServerContext* ctx, const v1::KillRequest* req,
                    v1::KillResponse* resp) override;
  grpc::Status GetPolicy(grpc::ServerContext* ctx, const v1::GetPolicyRequest* req,
                         v1::Policy* resp) override;
  grpc::Status SetPolicy(grpc::ServerContext* ctx, const v1::SetPolicyRequest* req,
                         v1::SetPolicyResponse* resp) override;
  grpc::Status ValidatePolicy(grpc::ServerContext* ctx, const v1::ValidatePolicyRequest* req,
                              v1::ValidatePolicyResponse* resp) override;
  grpc::Status ListModules(grpc::ServerContext* ctx, const v1::ListModulesRequest* req,
                           v1::ListModulesResponse* resp) override;
  grpc::Status GetStats(grpc::ServerContext* ctx, const v1::GetStatsRequest* req,
                        v1::GetStatsResponse* resp) override;
  grpc::Status WatchEvents(grpc::ServerContext* ctx, const v1::WatchEventsRequest* req,
                           grpc::ServerWriter<v1::WatchEventsResponse>* writer) override;
  grpc::Status GuestOutput(grpc::ServerContext* ctx, const v1::GuestOutputRequest* req,
                           grpc::ServerWriter<v1::GuestOutputResponse>* writer) override;
  grpc::Status Health(grpc::ServerContext* ctx, const v1::HealthRequest* req,
                      v1::HealthResponse* resp) override;

 private:
  struct GuestHandle;
  // The call's deadline, capped by limits_.max_wait, on the steady clock.
  std::chrono::steady_clock::time_point Deadline(const grpc::ServerContext* ctx) const;
  // Looks the guest up on the loop: its info and its thread-safe side. NOT_FOUND for an unknown
  // id, DEADLINE_EXCEEDED or UNAVAILABLE when the loop does not answer in time (ToGrpcStatus).
  std::expected<GuestHandle, grpc::Status> FindGuest(uint64_t id, const grpc::ServerContext* ctx);
  // A read-only call on one guest: the caller may watch `guest_id` (Admit), then FindGuest.
  std::expected<GuestHandle, grpc::Status> WatchGuest(const grpc::ServerContext* ctx,
                                                      uint64_t guest_id);
  // UNAVAILABLE while shutting down, RESOURCE_EXHAUSTED past the rate of changes, else OK.
  grpc::Status AdmitChange();
  // A change to one guest (Kill, SetPolicy): the caller may change `guest_id` (Admit, which
  // fills `identified`), then the rate of changes admits one more (AdmitChange).
  std::expected<Caller, grpc::Status> AdmitGuestChange(const grpc::ServerContext* ctx,
                                                       uint64_t guest_id,
                                                       std::optional<Caller>& identified);

  // Who launched a guest through this service, and with whose rights it runs.
  struct GuestRecord {
    std::string launched_by;
    std::optional<uid_t> owner_uid;  // a unix caller's uid
    GuestCredentials runs_as;
  };
  // Identifies the caller and checks `action` on `guest_id` against the rules.
  // `identified`, when given, gets the caller once known, even if the rules then refuse it
  // (the audit trail names who was refused).
  std::expected<Caller, grpc::Status> Admit(const grpc::ServerContext* ctx, Action action,
                                            uint64_t guest_id = 0,
                                            std::optional<Caller>* identified = nullptr);
  void FillRecord(uint64_t id, v1::Guest* out);
  std::vector<uid_t> GuestUids();  // the uids guests launched here run with
  // The audit trail of one mutating call: the log file (or the daemon's log) and the streams.
  void Audit(const grpc::ServerContext* ctx, const Caller* caller, const std::string& rpc,
             uint64_t guest_id, const std::string& what, const grpc::Status& result);
  grpc::Status DoLaunch(grpc::ServerContext* ctx, const v1::LaunchRequest* req,
                        v1::LaunchResponse* resp, std::optional<Caller>& caller);
  grpc::Status DoKill(grpc::ServerContext* ctx, const v1::KillRequest* req,
                      std::optional<Caller>& caller);
  grpc::Status DoSetPolicy(grpc::ServerContext* ctx, const v1::SetPolicyRequest* req,
                           v1::SetPolicyResponse* resp, std::optional<Caller>& caller);

  // A WatchEvents stream that asked for audit records: its own bounded queue.
  struct AuditQueue {
    uint64_t guest_id = 0;  // 0: every guest
    std::deque<v1::AuditRecord> records;
    uint64_t dropped = 0;
  };

  supervisor::Supervisor& supervisor_;
  const ControlLimits limits_;
  Gatekeeper& gate_;
  std::unique_ptr<AuditLog> audit_;
  GuestCredentials own_rights_;  // hijackd's uid, gid and groups
  const std::chrono::steady_clock::time_point started_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<size_t> streams_{0};
  CallRateLimiter changes_;
  // Standard output and error of the guests launched here; null when it could not start (the
  // guests' output then goes where the daemon's goes).
  std::unique_ptr<GuestOutputCollector> output_;

  std::mutex mu_;  // guards exited_, records_, audit_queues_; streams wait on cv_
  std::condition_variable cv_;
  std::set<uint64_t> exited_;
  std::map<uint64_t, GuestRecord> records_;
  std::list<AuditQueue*> audit_queues_;
};

}  // namespace hijack::control
