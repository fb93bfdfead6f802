// Maps the daemon's errors to gRPC status codes: the one place that decides what a client sees.
//
//   Result<uint64_t> v = engine.Replace(next, expected);
//   if (!v) return ToGrpcStatus(v.error());   // ESTALE -> ABORTED, ENOSYS -> FAILED_PRECONDITION
//
// The table (errno in Error::code -> grpc::StatusCode), with the reason for each row, is in the
// .cc; proto/hijack/v1/control.proto states the same contract for clients. Thread-safe.
#pragma once

#include <grpcpp/support/status.h>

#include "hijack/result.h"

namespace hijack::control {

grpc::Status ToGrpcStatus(const Error& error);

}  // namespace hijack::control
