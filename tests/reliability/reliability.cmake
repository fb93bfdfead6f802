# Load and fault scenarios (tests/reliability/reliability_test.cc): real guests under hijackd run
# and hijackd serve, real gRPC clients. ctest runs the short form (label `reliability`);
# HIJACK_RELIABILITY_LONG=1 runs the long one, and scripts/reliability-report turns the result
# lines of either into docs/RELIABILITY.md.
hijack_test_guest(reliability_guest)
hijack_test(hijack_reliability_tests SOURCES reliability_test.cc
  LIBS hijack_test_support hijack_proto GTest::gtest_main GTest::gmock nlohmann_json::nlohmann_json
  RUNS hijackd reliability_guest NEEDS hijack_policy_host
  LABELS reliability TIMEOUT 300)
