# The results suite (tests/integration/results_test.cc): the real result and errno of every call
# of a guest whose calls fail with known errnos, under every backend (notify through the kernel
# result observer), against strace -f; and the observer off says why once.
hijack_test_guest(results_guest)
hijack_test(hijack_results_tests SOURCES results_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd results_guest hijack_agent
  TIMEOUT 300)
