// The backends a parameterized test runs over, and the name each gives a test instance, so that
// every backend-parameterized suite iterates the same list (the backend table's kinds,
// include/hijack/backend_kind.h) and names its instances the same way ("notify", "ptrace",
// "ptraceall").
//
//   INSTANTIATE_TEST_SUITE_P(Backends, RunTest, ::testing::ValuesIn(BackendNames()),
//                            BackendTestName{});
//
// gtest allows only letters, digits and '_' in a test name; a backend's '-' is dropped.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "hijack/backend_kind.h"

namespace hijack::testing {

// Every backend of this build, in the table's order.
inline std::vector<std::string> BackendNames() {
  std::vector<std::string> names;
  for (const auto& [kind, name] : kBackendKindNames) {
    names.emplace_back(name);
  }
  return names;
}

// The kind a test parameter names. Every parameter comes from BackendNames().
inline BackendKind KindOf(const std::string& name) { return BackendKindNamed(name).value(); }

struct BackendTestName {
  template <typename ParamInfo>
  std::string operator()(const ParamInfo& info) const {
    std::string name = std::string(info.param);
    std::erase(name, '-');
    return name;
  }
};

}  // namespace hijack::testing
