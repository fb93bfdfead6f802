// The messages between hijackd (PolicyHostClient) and hijack-policy-host, over one
// SOCK_SEQPACKET socket pair: one message per datagram, requests answered in order.
//
//   daemon -> host   kLoad     path \0 config_json \0          -> kLoaded (ok, describe JSON or
//   why) daemon -> host   kDecide   WireCall + name + args_json     -> kVerdict (rc,
//   hijack_verdict_v1) daemon -> host   kObserve  WireCall + name + args_json     (no answer)
//   daemon -> host   kStats                                    -> kStatsText (JSON)
//
// Both ends are built from this tree, so the layout is private to it (not part of the plugin
// ABI); the version in kLoad guards against a stale helper binary.
#pragma once

#include <cstdint>

#include "hijack/plugin.h"

namespace hijack::plugin_host {

inline constexpr uint32_t kProtocolVersion = 1;
// The largest message either side sends (arguments JSON is cut to fit).
inline constexpr size_t kMaxMessage = 64 * 1024;

enum class MessageType : uint32_t {
  kLoad = 1,
  kLoaded = 2,
  kDecide = 3,
  kVerdict = 4,
  kObserve = 5,
  kStats = 6,
  kStatsText = 7,
};

struct MessageHeader {
  MessageType type;
  uint32_t seq;  // echoed in the answer
  uint32_t protocol = kProtocolVersion;
  int32_t status = 0;  // answers: 0 ok, else failure
};

struct WireCall {
  uint64_t guest_id;
  int32_t pid;
  int32_t tid;
  int32_t nr;
  uint32_t arch;
  uint64_t args[6];
  hijack_outcome_v1 outcome;  // kObserve only
  uint32_t name_len;          // bytes of the syscall name that follow (with its NUL)
  uint32_t args_len;          // bytes of the arguments JSON after it (with its NUL; 0: none)
};

struct WireVerdict {
  int32_t rc;  // decide()'s return value
  int32_t pad = 0;
  hijack_verdict_v1 verdict;
};

}  // namespace hijack::plugin_host
