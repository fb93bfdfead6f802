#include "daemon/control/decision_kinds.h"

#include <fmt/format.h>

namespace hijack::control {
namespace {

constexpr Decision::Kind kKinds[] = {Decision::Kind::kContinue, Decision::Kind::kFail,
                                     Decision::Kind::kReturn, Decision::Kind::kInjectFd};

}  // namespace

v1::DecisionKind ToProto(Decision::Kind kind) {
  switch (kind) {
    case Decision::Kind::kContinue:
      return v1::DECISION_KIND_CONTINUE;
    case Decision::Kind::kFail:
      return v1::DECISION_KIND_FAIL;
    case Decision::Kind::kReturn:
      return v1::DECISION_KIND_RETURN;
    case Decision::Kind::kInjectFd:
      return v1::DECISION_KIND_INJECT_FD;
  }
  return v1::DECISION_KIND_UNSPECIFIED;  // not a Kind: a corrupted value, never sent as a real one
}

Result<Decision::Kind> FromProto(int kind) {
  for (Decision::Kind k : kKinds) {
    if (ToProto(k) == kind) {
      return k;
    }
  }
  if (kind == v1::DECISION_KIND_UNSPECIFIED) {
    return std::unexpected(Error{EINVAL, "DECISION_KIND_UNSPECIFIED is not a decision"});
  }
  return std::unexpected(Error{EINVAL, fmt::format("unknown decision kind {}", kind)});
}

DecisionKindSet DecisionKindSet::All() {
  DecisionKindSet set;
  for (Decision::Kind k : kKinds) {
    set.Add(k);
  }
  return set;
}

Result<DecisionKindSet> DecisionKindSet::FromProto(
    const google::protobuf::RepeatedField<int>& kinds) {
  if (kinds.empty()) {
    return All();
  }
  DecisionKindSet set;
  for (int i = 0; i < kinds.size(); ++i) {
    auto kind = control::FromProto(kinds[i]);
    if (!kind) {
      return std::unexpected(
          Error{kind.error().code, fmt::format("decisions[{}]: {}", i, kind.error().message)});
    }
    set.Add(*kind);
  }
  return set;
}

}  // namespace hijack::control
