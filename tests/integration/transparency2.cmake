# The second transparency suite (tests/integration/transparency2_test.cc): thread cancellation
# through the agent and the agent's traces in the guest's environment and descriptors, natively
# and under every backend.
hijack_test_guest(transparency2_guest)
hijack_test(hijack_transparency2_tests SOURCES transparency2_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd transparency2_guest hijack_agent
  TIMEOUT 300)
