// DefaultPolicyText: the built-in default policy (policies/default.json, compiled in), used when
// `hijackd run` gets no --policy and when a control API Launch names no policy.
//
//   auto set = PolicySet::FromText(DefaultPolicyText(), "default policy", registry);
//
// Thread-safe: a constant.
#pragma once

#include <string_view>

namespace hijack::policy {

std::string_view DefaultPolicyText();

}  // namespace hijack::policy
