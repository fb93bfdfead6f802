# The command lines of hijackd and hijackctl as a user types them: --version, the run command
# without --, options after the command name, unknown commands, exit statuses, health.
hijack_test(hijack_cli_tests SOURCES cli_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd hijackctl syscall_guest TIMEOUT 300)
