// The name each backend gives a parameterized test, so that every backend-parameterized suite
// names its instances the same way ("notify", "ptrace", "ptraceall").
//
//   INSTANTIATE_TEST_SUITE_P(Backends, RunTest, ::testing::Values("notify", "ptrace"),
//                            BackendTestName{});
//
// gtest allows only letters, digits and '_' in a test name; a backend's '-' is dropped.
#pragma once

#include <algorithm>
#include <string>

namespace hijack::testing {

struct BackendTestName {
  template <typename ParamInfo>
  std::string operator()(const ParamInfo& info) const {
    std::string name = std::string(info.param);
    std::erase(name, '-');
    return name;
  }
};

}  // namespace hijack::testing
