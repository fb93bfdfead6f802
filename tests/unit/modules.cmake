# Unit tests of the policy modules' pure parts (patterns, address rules, buckets, draws), the
# guest path resolver on the test's own process, and the policy-host client.
hijack_test(hijack_modules_unit_tests SOURCES modules_test.cc
  LIBS hijack_core GTest::gtest_main GTest::gmock
  RUNS hijack_example_plugin hijack_test_crashing_plugin NEEDS hijack_policy_host TIMEOUT 120)
