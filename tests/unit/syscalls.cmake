# Unit tests of daemon/syscalls (hijack_syscalls).
hijack_test(hijack_syscalls_test SOURCES syscalls_test.cc
  LIBS GTest::gtest_main GTest::gmock hijack_syscalls)
