# The results suite (tests/integration/results_test.cc): the real result and errno of every call
# of a guest whose calls fail with known errnos, under every backend (notify through the kernel
# result observer), against strace -f; the observer off says why once; and the observer's own
# marks (slot and overflow) on threads of the test.
hijack_test_guest(results_guest)
hijack_test(hijack_results_tests SOURCES results_test.cc
  LIBS hijack_test_support hijack_observe GTest::gtest_main GTest::gmock
  RUNS hijackd results_guest hijack_agent
  TIMEOUT 300)
