#include "daemon/control/status.h"

#include <cerrno>

namespace hijack::control {

grpc::Status ToGrpcStatus(const Error& error) {
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (error.code) {
    case 0:       // not an OS error: bad input (a policy with its JSON path, a bad argument)
    case EINVAL:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case ESRCH:   // no such guest
    case ENOENT:  // no such program
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case ENOSYS:    // PolicyEngine::Replace: syscalls outside the fixed intercept set
    case EALREADY:  // the guest has exited
      code = grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case ESTALE:  // PolicyEngine::Replace: expected_version is not current
      code = grpc::StatusCode::ABORTED;
      break;
    case EPERM:
    case EACCES:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    case EAGAIN:  // a limit of the daemon (guests, streams)
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case E2BIG:
      code = grpc::StatusCode::RESOURCE_EXHAUSTED;
      break;
    case ETIMEDOUT:
      code = grpc::StatusCode::DEADLINE_EXCEEDED;
      break;
    case ESHUTDOWN:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    case ECANCELED:
      code = grpc::StatusCode::CANCELLED;
      break;
    default:
      break;
  }
  return grpc::Status(code, error.message);
}

}  // namespace hijack::control
