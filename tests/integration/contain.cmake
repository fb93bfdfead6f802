# The guest tree ends with the supervisor (daemon/launcher/namespace_init.h): hijackd run and
# serve SIGKILLed under a guest that leaves an orphan behind, on every backend; and where
# unshare(2) is refused (refusing_wrapper, as under container engines' seccomp profiles).
hijack_test(hijack_contain_tests SOURCES contain_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd hijackctl syscall_guest refusing_wrapper hijack_agent TIMEOUT 300)
