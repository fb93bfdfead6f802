# hijackd strace: strace's options and output, compared line by line with the real strace(1) -f
# on the same commands (file calls of cat, the -c error counts of ls), each option's effect, and
# the options it refuses by name; real hijackd runs over every backend.
hijack_test_guest(strace_guest)
hijack_test(hijack_strace_tests SOURCES strace_test.cc
  LIBS hijack_test_support GTest::gtest_main GTest::gmock
  RUNS hijackd syscall_guest refusing_wrapper strace_guest
  TIMEOUT 300)
