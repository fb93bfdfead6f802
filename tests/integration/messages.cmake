# Messages that say what to do: launches ended by exec_guard or fs_guard, denied calls with their
# module, rule and decoded path, ENOENT-anyway counted apart, `hijackd check POLICY -- PROGRAM`
# warnings, NO_COLOR and terminal width; real hijackd runs over every backend.
hijack_test(hijack_messages_tests SOURCES messages_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd syscall_guest refusing_wrapper hijack_agent
  TIMEOUT 300)
