// Decision kinds on the control API: the one mapping between Decision::Kind and the proto enum
// v1::DecisionKind, and DecisionKindSet, the set a WatchEvents filter keeps.
//
//   HIJACK_ASSIGN_OR_RETURN(DecisionKindSet filter, DecisionKindSet::FromProto(req.decisions()));
//   if (filter.Contains(event.decision.kind())) ...      // empty request: every kind
//   out->set_decision(ToProto(event.decision.kind()));
//
// The set holds one bit for every value Decision::Kind's underlying type can take, so a kind
// added to Decision (and an event carrying it) is never looked up outside the set: it is simply
// not contained until the filter can name it.
//
// Threads: values; a const DecisionKindSet may be read from any thread.
#pragma once

#include <bitset>
#include <limits>
#include <type_traits>

#include "hijack/decision.h"
#include "hijack/result.h"
#include "hijack/v1/control.pb.h"

namespace hijack::control {

// The proto value of `kind`; every Decision::Kind has one (the switch has no default, so a new
// kind without one fails to compile with -Werror=switch).
v1::DecisionKind ToProto(Decision::Kind kind);

// The Decision::Kind of a proto value. Errors (EINVAL): DECISION_KIND_UNSPECIFIED, or a number
// this daemon does not know (a newer client).
[[nodiscard]] Result<Decision::Kind> FromProto(int kind);

class DecisionKindSet {
 public:
  // Every kind.
  static DecisionKindSet All();
  // The kinds of a WatchEventsRequest.decisions list; an empty list is every kind. Errors name
  // the entry: "decisions[1]: unknown decision kind 99".
  [[nodiscard]] static Result<DecisionKindSet> FromProto(
      const google::protobuf::RepeatedField<int>& kinds);

  void Add(Decision::Kind kind) { bits_.set(Index(kind)); }
  bool Contains(Decision::Kind kind) const { return bits_.test(Index(kind)); }

 private:
  using Underlying = std::underlying_type_t<Decision::Kind>;
  static size_t Index(Decision::Kind kind) { return static_cast<Underlying>(kind); }

  std::bitset<size_t{std::numeric_limits<Underlying>::max()} + 1> bits_;
};

}  // namespace hijack::control
