# Caller identity under thread-id reuse (tests/integration/identity_test.cc), on every backend.
hijack_test_guest(identity_guest)

hijack_test(hijack_identity_integration_tests SOURCES identity_test.cc
  LIBS hijack_test_backend hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd identity_guest NEEDS hijack_agent TIMEOUT 600)
