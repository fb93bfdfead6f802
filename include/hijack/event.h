// Event: the record of one intercepted call after it was decided, as observers see it.
//
// The backend fills `call`, the engine fills `args`, `decision` and `module`, the backend adds
// the result when it can know it, and the event bus delivers the Event to PolicyModule::Observe()
// and to every other subscriber (trace files, statistics, WatchEvents streams) off the guest's
// synchronous path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hijack/decision.h"
#include "hijack/syscall_event.h"

namespace hijack {

// One argument, decoded for people (`text`, strace style) and for programs (`json`).
struct DecodedArg {
  std::string text;     // "\"/etc/hostname\"", "O_RDONLY|O_CLOEXEC", "{AF_INET, 127.0.0.1:80}"
  nlohmann::json json;  // "/etc/hostname", "O_RDONLY|O_CLOEXEC", {"family":"AF_INET",...}
};

struct Event {
  SyscallEvent call;
  std::vector<DecodedArg> args;  // empty unless a module of the policy asked for arguments
  Decision decision;
  std::string module;            // the module that decided; empty when no module objected
  // The call's return value (negative errno on failure) when the supervisor knows it: always for
  // calls it did not let run; for calls that ran, under ptrace, and under notify where the
  // kernel result observer runs (daemon/observe/result_observer.h; seccomp_unotify(2): after
  // SECCOMP_USER_NOTIF_FLAG_CONTINUE the kernel runs the call and tells the supervisor nothing).
  std::optional<int64_t> result;
  // Why `result` is empty for a call that ran or was meant to ("the kernel observer is off:
  // ..."); empty when the result is known or nobody tried to learn it.
  std::string result_note;
  int64_t end_ns = 0;            // CLOCK_MONOTONIC when the call completed or was answered
  // CLOCK_MONOTONIC when the kernel result observer read the return of a call notify let run
  // (end_ns stays the answer's time there); 0 otherwise.
  int64_t returned_ns = 0;
  uint64_t policy_version = 0;
};

}  // namespace hijack
