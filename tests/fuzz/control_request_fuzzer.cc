// Fuzz target: what the control service does with a request before it reaches the
// supervisor: a LaunchRequest, SetPolicyRequest or WatchEventsRequest parsed from bytes as
// gRPC parses them, the request limits (daemon/control/request_limits.h) and the policy
// parser, in the order ControlService applies them.
//
//   build/fuzz/tests/fuzz/control_request_fuzzer -max_total_time=600 \
//       build/fuzz/corpus/control_request tests/fuzz/corpus/control_request
//
// The first byte picks the message; the rest is its wire encoding.
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <cstdlib>

#include "daemon/control/request_limits.h"
#include "daemon/policy/policy_set.h"
#include "tests/fuzz/fuzz_registry.h"

namespace {

void LoadPolicy(const std::string& text) {
  auto set = hijack::policy::PolicySet::FromText(text, "policy", hijack::fuzz::FuzzRegistry());
  if (!set && set.error().message.empty()) {
    std::abort();
  }
}

void IgnoreLog(google::protobuf::LogLevel, const char*, int, const std::string&) {}

}  // namespace

// Protobuf logs every string field that is not UTF-8 (then refuses the message, as gRPC
// does); at thousands of inputs a second that log is all a run would print.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(&IgnoreLog);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const hijack::control::RequestLimits limits;
  const uint8_t which = data[0] % 3;
  const void* wire = data + 1;
  const int wire_size = static_cast<int>(size - 1);
  if (which == 0) {
    hijack::v1::LaunchRequest req;
    if (!req.ParseFromArray(wire, wire_size)) {
      return 0;
    }
    if (hijack::control::ValidateLaunchRequest(req, limits) && !req.policy().empty()) {
      LoadPolicy(req.policy());
    }
  } else if (which == 1) {
    hijack::v1::SetPolicyRequest req;
    if (!req.ParseFromArray(wire, wire_size)) {
      return 0;
    }
    if (hijack::control::ValidatePolicyDocument(req.document(), limits)) {
      LoadPolicy(req.document());
    }
  } else {
    hijack::v1::WatchEventsRequest req;
    if (!req.ParseFromArray(wire, wire_size)) {
      return 0;
    }
    (void)hijack::control::ValidateWatchEventsRequest(req, limits);
  }
  return 0;
}
