#include "daemon/policy/default_policy.h"

#include "daemon/policy/default_policy_json.h"  // generated from policies/default.json

namespace hijack::policy {

std::string_view DefaultPolicyText() { return kDefaultPolicyJson; }

}  // namespace hijack::policy
