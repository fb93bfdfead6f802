// Limits on what one control request may ask of the daemon, checked before anything is
// parsed further or posted to the supervisor's loop.
//
//   if (auto ok = ValidateLaunchRequest(*req, RequestLimits{}); !ok) {
//     return ToGrpcStatus(ok.error());   // RESOURCE_EXHAUSTED (E2BIG) or INVALID_ARGUMENT
//   }
//
// gRPC already refuses a message above ControlServerOptions::max_message_bytes while reading
// it. Inside one message the counts and sizes below bound the work a request can cause: the
// argv and environment go to execve(2), which has its own limits (MAX_ARG_STRLEN per string,
// a quarter of the stack rlimit in all: execve(2) "Limits on size of arguments and
// environment"), and would be copied, logged and stored per guest before the kernel refused
// them. A NUL byte inside a string would silently cut it at execve; it is refused with its
// index instead.
//
// Pure functions; any thread. Errors name the field and index ("argv[3]: ...").
#pragma once

#include <cstddef>

#include "daemon/policy/policy_set.h"
#include "hijack/result.h"
#include "hijack/v1/control.pb.h"

namespace hijack::control {

struct RequestLimits {
  size_t max_policy_bytes = policy::kMaxPolicyBytes;  // Launch.policy, SetPolicy.document
  size_t max_argv = 4096;                   // entries of Launch.argv
  size_t max_env = 4096;                    // entries of Launch.env
  size_t max_string_bytes = 128 << 10;      // one argv or env string: MAX_ARG_STRLEN
  size_t max_exec_bytes = 2 << 20;          // argv and env together
  size_t max_path_bytes = 4096;             // Launch.cwd: PATH_MAX
  size_t max_names = 1024;                  // intercept, WatchEvents syscalls and decisions
  size_t max_name_bytes = 256;              // one of those names, Launch.backend
};

[[nodiscard]] Result<void> ValidateLaunchRequest(const v1::LaunchRequest& req,
                                                 const RequestLimits& limits);
// The document of SetPolicy and ValidatePolicy: its size (the policy parser bounds the rest).
[[nodiscard]] Result<void> ValidatePolicyDocument(const std::string& document,
                                                  const RequestLimits& limits);
[[nodiscard]] Result<void> ValidateWatchEventsRequest(const v1::WatchEventsRequest& req,
                                                      const RequestLimits& limits);

}  // namespace hijack::control
