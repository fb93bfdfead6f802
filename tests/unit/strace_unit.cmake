# Unit tests of hijackd strace's parts: the option parser (daemon/run/strace_options.h), strace -c's
# table (common/stats_table.h) and the percentiles of long calls the agent timed.
hijack_test(hijack_strace_unit_tests SOURCES strace_unit_test.cc
  LIBS hijack_core hijack_run GTest::gtest_main GTest::gmock)
